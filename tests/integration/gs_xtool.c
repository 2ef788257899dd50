/* A helper for tests/integration/test_gamestream.sh: what a shell cannot do
 * on an X display without tools Debian leaves out by default.
 *
 *   gs_xtool stamps DISPLAY SECONDS
 *       Captures DISPLAY (the x11 backend, on every change) for SECONDS and
 *       reads the frame stamp (common/stamp.h) of each capture: prints
 *       "stamps: C captures, R read, D distinct, latency p50 X p95 Y max Z ms"
 *       where latency is now minus the stamp's time (the painter,
 *       `pvstream-bench paint`, runs on this machine: same clock). Exits 0
 *       when at least one stamp was read.
 *   gs_xtool key FROM TO KEYCODE
 *       Presses KEYCODE on display FROM (XTest), waits up to 3 s for it to be
 *       down on display TO, releases it, waits for it to be up there: prints
 *       "key: down after X ms, up after Y ms" and exits 0, or says what did
 *       not happen and exits 1.
 *   gs_xtool move FROM TO DX DY
 *       Moves FROM's pointer by DX,DY (relative, as a mouse does) and waits
 *       up to 3 s for TO's pointer to move: prints "pointer: X,Y -> X2,Y2
 *       after N ms" and exits 0, or 1 when it did not move. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "common/stamp.h"
#include "common/stats.h"

#define WAIT_NS 3000000000LL
#define POLL_NS 2000000LL

static int stamps(const char *display, int seconds)
{
    struct pvs_capture *cap = NULL;
    struct pvs_capture_opts o = { .display = display, .fps = 120, .repeat_ms = 3600000 };
    int err = pvs_capture_open(&cap, "x11", &o);
    if (err) {
        fprintf(stderr, "gs_xtool: cannot capture %s: %s\n", display, pvs_strerror(err));
        return 2;
    }
    struct pvs_stats lat;
    pvs_stats_reset(&lat);
    uint64_t captures = 0, read = 0, distinct = 0;
    uint32_t last = 0;
    int64_t end = pvs_time_ns() + (int64_t)seconds * 1000000000LL;
    while (pvs_time_ns() < end) {
        struct pvs_frame f;
        err = pvs_capture_next(cap, &f, 100);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err)
            break;
        int64_t now_us = pvs_time_us();
        captures++;
        struct pvs_stamp st;
        if (pvs_stamp_read(&f.img, &st) == 0) {
            read++;
            if (distinct == 0 || st.frame != last) {
                distinct++;
                last = st.frame;
                pvs_stats_add(&lat, (now_us - (int64_t)st.time_us) * 1000);
            }
        }
        pvs_capture_release(cap, &f);
    }
    pvs_capture_close(&cap);
    struct pvs_stats_summary sum;
    pvs_stats_summarize(&lat, &sum);
    printf("stamps: %llu captures, %llu read, %llu distinct, latency p50 %.1f p95 %.1f max %.1f ms\n",
           (unsigned long long)captures, (unsigned long long)read, (unsigned long long)distinct,
           sum.p50_ms, sum.p95_ms, sum.max_ms);
    return read ? 0 : 1;
}

struct display {
    xcb_connection_t *c;
    xcb_window_t root;
};

static int connect_to(struct display *d, const char *name)
{
    d->c = xcb_connect(name, NULL);
    if (xcb_connection_has_error(d->c)) {
        fprintf(stderr, "gs_xtool: cannot connect to %s\n", name);
        xcb_disconnect(d->c);
        return -1;
    }
    d->root = xcb_setup_roots_iterator(xcb_get_setup(d->c)).data->root;
    return 0;
}

static bool key_down(struct display *d, uint8_t code)
{
    xcb_query_keymap_reply_t *k = xcb_query_keymap_reply(d->c, xcb_query_keymap(d->c), NULL);
    bool down = k && (k->keys[code / 8] >> (code % 8)) & 1;
    free(k);
    return down;
}

/* Milliseconds until the key reaches `want` on d, or -1 after WAIT_NS. */
static double wait_key(struct display *d, uint8_t code, bool want, int64_t since)
{
    while (pvs_time_ns() - since < WAIT_NS) {
        if (key_down(d, code) == want)
            return (double)(pvs_time_ns() - since) / 1e6;
        pvs_sleep_ns(POLL_NS);
    }
    return -1;
}

static int key(const char *from, const char *to, int code)
{
    struct display a, b;
    if (connect_to(&a, from) || connect_to(&b, to))
        return 2;
    int64_t t0 = pvs_time_ns();
    xcb_test_fake_input(a.c, XCB_KEY_PRESS, (uint8_t)code, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
    xcb_flush(a.c);
    double down = wait_key(&b, (uint8_t)code, true, t0);
    int64_t t1 = pvs_time_ns();
    xcb_test_fake_input(a.c, XCB_KEY_RELEASE, (uint8_t)code, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
    xcb_flush(a.c);
    double up = wait_key(&b, (uint8_t)code, false, t1);
    xcb_disconnect(a.c);
    xcb_disconnect(b.c);
    if (down < 0 || up < 0) {
        printf("key: %d never went %s on %s\n", code, down < 0 ? "down" : "up", to);
        return 1;
    }
    printf("key: down after %.1f ms, up after %.1f ms\n", down, up);
    return 0;
}

static bool pointer(struct display *d, int *x, int *y)
{
    xcb_query_pointer_reply_t *p = xcb_query_pointer_reply(d->c, xcb_query_pointer(d->c, d->root),
                                                           NULL);
    if (p) {
        *x = p->root_x;
        *y = p->root_y;
    }
    free(p);
    return p != NULL;
}

static int move(const char *from, const char *to, int dx, int dy)
{
    struct display a, b;
    if (connect_to(&a, from) || connect_to(&b, to))
        return 2;
    int x0 = 0, y0 = 0, x = 0, y = 0;
    pointer(&b, &x0, &y0);
    int64_t t0 = pvs_time_ns();
    /* detail 1: relative motion. */
    xcb_test_fake_input(a.c, XCB_MOTION_NOTIFY, 1, XCB_CURRENT_TIME, XCB_NONE, (int16_t)dx,
                        (int16_t)dy, 0);
    xcb_flush(a.c);
    double ms = -1;
    while (pvs_time_ns() - t0 < WAIT_NS) {
        if (pointer(&b, &x, &y) && (x != x0 || y != y0)) {
            ms = (double)(pvs_time_ns() - t0) / 1e6;
            break;
        }
        pvs_sleep_ns(POLL_NS);
    }
    xcb_disconnect(a.c);
    xcb_disconnect(b.c);
    if (ms < 0) {
        printf("pointer: stayed at %d,%d on %s\n", x0, y0, to);
        return 1;
    }
    pvs_sleep_ns(200000000); /* the rest of the motion */
    if (connect_to(&b, to) == 0) {
        pointer(&b, &x, &y);
        xcb_disconnect(b.c);
    }
    printf("pointer: %d,%d -> %d,%d after %.1f ms\n", x0, y0, x, y, ms);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "stamps"))
        return stamps(argv[2], atoi(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "key"))
        return key(argv[2], argv[3], atoi(argv[4]));
    if (argc == 6 && !strcmp(argv[1], "move"))
        return move(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: gs_xtool stamps DISPLAY SECONDS | key FROM TO KEYCODE | "
            "move FROM TO DX DY\n");
    return 2;
}
