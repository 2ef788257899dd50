/* The injector against a real X server: starts its own Xvfb (1920x1080) on
 * a free display :80..:89, injects keys, pointer motion, buttons and wheel
 * through XTest, and reads the server's state back on a second connection
 * (query_keymap, query_pointer, button events on a window of its own).
 * Also: release_all and close let go of everything held, gamepads are off
 * with one log line where /dev/uinput cannot be used. Exits 77 when Xvfb is
 * not installed. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xcb/xcb.h>

#include "common/error.h"
#include "common/log.h"
#include "input/injector.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

#define SCREEN_W 1920
#define SCREEN_H 1080

static pid_t xvfb_pid;
static char display[16];
static xcb_connection_t *conn;
static xcb_window_t root;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void stop_xvfb(void)
{
    if (xvfb_pid > 0) {
        kill(xvfb_pid, SIGTERM);
        waitpid(xvfb_pid, NULL, 0);
        xvfb_pid = 0;
    }
}

/* Starts Xvfb on the first display of :80..:89 that is free and waits for
 * its socket. Returns false when none came up. */
static bool start_xvfb(void)
{
    for (int d = 80; d <= 89; d++) {
        char sock[64], lock[64], num[8];
        snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", d);
        snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", d);
        if (access(sock, F_OK) == 0 || access(lock, F_OK) == 0)
            continue;
        snprintf(num, sizeof(num), ":%d", d);
        pid_t pid = fork();
        if (pid < 0)
            return false;
        if (pid == 0) {
            /* Dies with the test, however the test ends. */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            int null = open("/dev/null", O_WRONLY);
            if (null >= 0) {
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
            }
            execlp("Xvfb", "Xvfb", num, "-nolisten", "tcp", "-noreset",
                   "-screen", "0", "1920x1080x24", (char *)NULL);
            _exit(127);
        }
        /* Up to 20 s for the socket: a loaded machine starts slowly. */
        bool up = false, died = false;
        for (int i = 0; i < 2000 && !up && !died; i++) {
            up = access(sock, F_OK) == 0;
            died = waitpid(pid, NULL, WNOHANG) == pid;
            if (!up && !died)
                sleep_ms(10);
        }
        if (up && !died) {
            xvfb_pid = pid;
            snprintf(display, sizeof(display), "%s", num);
            return true;
        }
        if (!died) {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
        /* Someone else took this display meanwhile: try the next. */
    }
    return false;
}

/* ---- reading the server's state ---------------------------------------- */

static bool key_down(uint8_t keycode)
{
    xcb_query_keymap_reply_t *r =
        xcb_query_keymap_reply(conn, xcb_query_keymap(conn), NULL);
    bool down = r && (r->keys[keycode / 8] >> (keycode % 8)) & 1;
    free(r);
    return down;
}

static bool no_key_down(void)
{
    xcb_query_keymap_reply_t *r =
        xcb_query_keymap_reply(conn, xcb_query_keymap(conn), NULL);
    bool none = r != NULL;
    for (int i = 0; r && i < 32; i++)
        none = none && r->keys[i] == 0;
    free(r);
    return none;
}

struct pointer { int x, y; uint16_t mask; };

static struct pointer pointer(void)
{
    struct pointer p = {-1, -1, 0};
    xcb_query_pointer_reply_t *r =
        xcb_query_pointer_reply(conn, xcb_query_pointer(conn, root), NULL);
    if (r) {
        p = (struct pointer){r->root_x, r->root_y, r->mask};
        free(r);
    }
    return p;
}

/* The injector's requests travel on its own connection, so the server may
 * not have run them when this connection asks: poll, with a generous
 * bound. */
#define EVENTUALLY(cond)                                                      \
    do {                                                                      \
        for (int try_ = 0; try_ < 400 && !(cond); try_++)                     \
            sleep_ms(5);                                                      \
        CHECK(cond);                                                          \
    } while (0)

#define KC_A (30 + 8)       /* X keycode of evdev KEY_A */
#define KC_B (48 + 8)
#define KC_LSHIFT (42 + 8)

static int inject(struct pvs_injector *inj, struct pvs_input_event ev)
{
    return pvs_injector_inject(inj, &ev);
}

static struct pvs_input_event key(uint16_t usage, bool down)
{
    return (struct pvs_input_event){.type = PVS_INPUT_KEY,
                                    .u.key = {.usage = usage, .down = down}};
}

static struct pvs_input_event button(uint8_t b, bool down)
{
    return (struct pvs_input_event){.type = PVS_INPUT_BUTTON,
                                    .u.button = {.button = b, .down = down}};
}

static struct pvs_input_event abs_at(uint16_t x, uint16_t y, uint16_t w,
                                     uint16_t h)
{
    return (struct pvs_input_event){.type = PVS_INPUT_POINTER_ABS,
                                    .u.abs = {x, y, w, h}};
}

/* ---- log capture ------------------------------------------------------- */

static int gamepads_off_lines;

static void sink(void *opaque, enum pvs_log_level level, const char *file,
                 int line, const char *msg)
{
    (void)opaque;
    if (strstr(msg, "gamepads off:"))
        gamepads_off_lines++;
    fprintf(stderr, "[log %d] %s:%d: %s\n", (int)level, file, line, msg);
}

/* ---- tests ------------------------------------------------------------- */

static void test_keys(struct pvs_injector *inj)
{
    CHECK_INT(inject(inj, key(0x04, true)), ==, 0);
    EVENTUALLY(key_down(KC_A));
    CHECK_INT(inject(inj, key(0x04, false)), ==, 0);
    EVENTUALLY(!key_down(KC_A));

    /* No key for the usage; out of range. Both dropped and counted. */
    struct pvs_injector_stats st0, st;
    pvs_injector_get_stats(inj, &st0);
    CHECK_INT(inject(inj, key(0x01, true)), ==, PVS_ENOTSUP);
    CHECK_INT(inject(inj, key(0, true)), ==, PVS_EINVAL);
    CHECK_INT(inject(inj, key(0xE8, true)), ==, PVS_EINVAL);
    pvs_injector_get_stats(inj, &st);
    CHECK_INT(st.dropped_key - st0.dropped_key, ==, 3);
    CHECK_INT(st.injected, ==, st0.injected);
}

static void test_pointer(struct pvs_injector *inj)
{
    /* (100, 50) of 1000x500 on 1920x1080: (192, 108). */
    CHECK_INT(inject(inj, abs_at(100, 50, 1000, 500)), ==, 0);
    EVENTUALLY(pointer().x == 192 && pointer().y == 108);

    /* The far corner stays on the screen. */
    CHECK_INT(inject(inj, abs_at(999, 499, 1000, 500)), ==, 0);
    EVENTUALLY(pointer().x == 1918 && pointer().y == 1077);
    CHECK_INT(inject(inj, abs_at(0, 0, 1, 1)), ==, 0);
    EVENTUALLY(pointer().x == 0 && pointer().y == 0);
    CHECK_INT(inject(inj, abs_at(1000, 0, 1000, 500)), ==, PVS_EINVAL);

    CHECK_INT(inject(inj, abs_at(100, 50, 1000, 500)), ==, 0);
    EVENTUALLY(pointer().x == 192 && pointer().y == 108);
    struct pvs_input_event rel = {.type = PVS_INPUT_POINTER_REL,
                                  .u.rel = {.dx = 30, .dy = -8}};
    CHECK_INT(pvs_injector_inject(inj, &rel), ==, 0);
    EVENTUALLY(pointer().x == 222 && pointer().y == 100);
    rel.u.rel.dx = -22;
    rel.u.rel.dy = 20;
    CHECK_INT(pvs_injector_inject(inj, &rel), ==, 0);
    EVENTUALLY(pointer().x == 200 && pointer().y == 120);
}

static void test_buttons(struct pvs_injector *inj)
{
    CHECK_INT(inject(inj, button(PVS_BUTTON_LEFT, true)), ==, 0);
    EVENTUALLY(pointer().mask & XCB_BUTTON_MASK_1);
    CHECK_INT(inject(inj, button(PVS_BUTTON_LEFT, false)), ==, 0);
    EVENTUALLY(!(pointer().mask & XCB_BUTTON_MASK_1));
    CHECK_INT(inject(inj, button(PVS_BUTTON_RIGHT, true)), ==, 0);
    EVENTUALLY(pointer().mask & XCB_BUTTON_MASK_3);
    CHECK_INT(inject(inj, button(PVS_BUTTON_RIGHT, false)), ==, 0);
    EVENTUALLY(!(pointer().mask & XCB_BUTTON_MASK_3));
    CHECK_INT(inject(inj, button(PVS_BUTTON_MIDDLE, true)), ==, 0);
    EVENTUALLY(pointer().mask & XCB_BUTTON_MASK_2);
    CHECK_INT(inject(inj, button(PVS_BUTTON_MIDDLE, false)), ==, 0);
    EVENTUALLY(!(pointer().mask & XCB_BUTTON_MASK_2));
    CHECK_INT(inject(inj, button(PVS_BUTTON_BACK, true)), ==, 0);
    CHECK_INT(inject(inj, button(PVS_BUTTON_BACK, false)), ==, 0);
    CHECK_INT(inject(inj, button(0, true)), ==, PVS_EINVAL);
    CHECK_INT(inject(inj, button(6, true)), ==, PVS_EINVAL);
}

/* Button presses seen by a window covering the screen, in order: waits
 * for `want` of them (a generous bound), or with want 0 takes what has
 * come without waiting. */
static int collect_presses(xcb_window_t win, uint8_t *out, int want)
{
    int n = 0;
    for (int tries = 0; tries < 400 && (tries == 0 || n < want); tries++) {
        xcb_generic_event_t *e;
        while ((e = xcb_poll_for_event(conn))) {
            if ((e->response_type & 0x7f) == XCB_BUTTON_PRESS) {
                const xcb_button_press_event_t *b = (void *)e;
                if (b->event == win && n < 16)
                    out[n++] = b->detail;
            }
            free(e);
        }
        if (n < want)
            sleep_ms(5);
    }
    return n;
}

static void test_wheel(struct pvs_injector *inj)
{
    xcb_window_t win = xcb_generate_id(conn);
    uint32_t values[] = {1, XCB_EVENT_MASK_BUTTON_PRESS | XCB_EVENT_MASK_BUTTON_RELEASE};
    xcb_create_window(conn, XCB_COPY_FROM_PARENT, win, root, 0, 0, SCREEN_W,
                      SCREEN_H, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT,
                      XCB_COPY_FROM_PARENT,
                      XCB_CW_OVERRIDE_REDIRECT | XCB_CW_EVENT_MASK, values);
    xcb_map_window(conn, win);
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
    CHECK_INT(inject(inj, abs_at(500, 250, 1000, 500)), ==, 0);
    EVENTUALLY(pointer().x == 960);
    /* The injector's earlier buttons (8 and 9 among them) are behind that
     * motion on its connection: whatever they sent here is in by now. */
    uint8_t got[16];
    collect_presses(win, got, 0);

    struct pvs_input_event w = {.type = PVS_INPUT_WHEEL};
    /* Half a notch twice: one click up. A turn down of two notches: two
     * clicks down. Right, then left: the remainder does not carry over. */
    w.u.wheel.dy = 60;
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);
    w.u.wheel.dy = -240;
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);
    w.u.wheel.dy = 0;
    w.u.wheel.dx = 130;
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);
    w.u.wheel.dx = -125;
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);
    w.u.wheel.dx = -5;   /* -5 left from -125, now -10: none */
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);
    w.u.wheel.dx = -120;
    CHECK_INT(pvs_injector_inject(inj, &w), ==, 0);

    int n = collect_presses(win, got, 6);
    static const uint8_t want[] = {4, 5, 5, 7, 6, 6};
    CHECK_INT(n, ==, 6);
    for (int i = 0; i < n && i < 6; i++)
        CHECK_INT(got[i], ==, want[i]);
    /* Nothing more comes. */
    sleep_ms(50);
    CHECK_INT(collect_presses(win, got, 0), ==, 0);

    /* Its presses reach the same window: buttons go where the pointer is. */
    CHECK_INT(inject(inj, button(PVS_BUTTON_LEFT, true)), ==, 0);
    CHECK_INT(inject(inj, button(PVS_BUTTON_LEFT, false)), ==, 0);
    CHECK_INT(collect_presses(win, got, 1), ==, 1);
    CHECK_INT(got[0], ==, 1);

    xcb_destroy_window(conn, win);
    xcb_flush(conn);
}

static void test_release_all(struct pvs_injector *inj)
{
    struct pvs_injector_stats st0, st;
    pvs_injector_get_stats(inj, &st0);
    CHECK_INT(inject(inj, key(0x04, true)), ==, 0);
    CHECK_INT(inject(inj, key(0xE1, true)), ==, 0);
    CHECK_INT(inject(inj, button(PVS_BUTTON_LEFT, true)), ==, 0);
    EVENTUALLY(key_down(KC_A) && key_down(KC_LSHIFT) &&
               (pointer().mask & XCB_BUTTON_MASK_1));
    pvs_injector_release_all(inj);
    EVENTUALLY(no_key_down() && !(pointer().mask & XCB_BUTTON_MASK_1));
    pvs_injector_get_stats(inj, &st);
    CHECK_INT(st.releases - st0.releases, ==, 3);
    /* Nothing is held now: a second call releases nothing. */
    pvs_injector_release_all(inj);
    pvs_injector_get_stats(inj, &st0);
    CHECK_INT(st0.releases, ==, st.releases);

    /* The RELEASE_ALL event does the same. */
    CHECK_INT(inject(inj, key(0x05, true)), ==, 0);
    EVENTUALLY(key_down(KC_B));
    struct pvs_input_event ra = {.type = PVS_INPUT_RELEASE_ALL};
    CHECK_INT(pvs_injector_inject(inj, &ra), ==, 0);
    EVENTUALLY(no_key_down());
}

static void test_gamepads(struct pvs_injector *inj)
{
    struct pvs_injector_stats st0, st;
    pvs_injector_get_stats(inj, &st0);
    struct pvs_input_event pad = {.type = PVS_INPUT_GAMEPAD};
    pad.u.pad = (struct pvs_gamepad){.pad = 1, .connected = true,
                                     .buttons = 1u << PVS_PAD_A};
    int rc = pvs_injector_inject(inj, &pad);
    if (pvs_injector_has_gamepads(inj)) {
        /* A machine with a writable /dev/uinput: the pad comes and goes. */
        CHECK_INT(rc, ==, 0);
        pad.u.pad.connected = false;
        CHECK_INT(pvs_injector_inject(inj, &pad), ==, 0);
    } else {
        CHECK_INT(rc, ==, PVS_ENOTSUP);
        pvs_injector_get_stats(inj, &st);
        CHECK_INT(st.dropped_gamepad - st0.dropped_gamepad, ==, 1);
        CHECK_INT(gamepads_off_lines, ==, 1);
    }
    pad.u.pad.pad = 4;
    CHECK_INT(pvs_injector_inject(inj, &pad), ==, PVS_EINVAL);
}

static void test_close_releases(void)
{
    struct pvs_injector *inj = NULL;
    CHECK_INT(pvs_injector_open(&inj, display), ==, 0);
    if (!inj)
        return;
    CHECK_INT(inject(inj, key(0x05, true)), ==, 0);
    CHECK_INT(inject(inj, button(PVS_BUTTON_RIGHT, true)), ==, 0);
    EVENTUALLY(key_down(KC_B) && (pointer().mask & XCB_BUTTON_MASK_3));
    pvs_injector_close(&inj);
    CHECK(inj == NULL);
    EVENTUALLY(no_key_down());
    EVENTUALLY(!(pointer().mask & XCB_BUTTON_MASK_3));
    pvs_injector_close(&inj);
    pvs_injector_close(NULL);
}

int main(void)
{
    pvs_log_set_sink(sink, NULL);

    /* No X server there: refused, with nothing half-open. */
    struct pvs_injector *inj = (struct pvs_injector *)&inj;
    CHECK_INT(pvs_injector_open(&inj, ":4711"), ==, PVS_ENODEV);
    CHECK(inj == NULL);
    CHECK_INT(gamepads_off_lines, ==, 0);

    if (!pvs_test_on_path("Xvfb"))
        TEST_SKIP("Xvfb is not installed (apt-get install xvfb)");
    if (!start_xvfb()) {
        fprintf(stderr, "cannot start Xvfb on any display of :80..:89\n");
        return 1;
    }
    atexit(stop_xvfb);

    conn = xcb_connect(display, NULL);
    CHECK(!xcb_connection_has_error(conn));
    if (xcb_connection_has_error(conn))
        TEST_EXIT();
    root = xcb_setup_roots_iterator(xcb_get_setup(conn)).data->root;

    CHECK_INT(pvs_injector_open(&inj, display), ==, 0);
    if (!inj)
        TEST_EXIT();
    test_keys(inj);
    test_pointer(inj);
    test_buttons(inj);
    test_wheel(inj);
    test_release_all(inj);
    test_gamepads(inj);
    pvs_injector_close(&inj);
    test_close_releases();

    xcb_disconnect(conn);
    stop_xvfb();
    pvs_log_set_sink(NULL, NULL);
    TEST_EXIT();
}
