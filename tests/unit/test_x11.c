/* x11 capture against a private Xvfb: painted pixels come back exactly (with
 * and without MIT-SHM), the frame stamp survives, the cursor is blended as
 * XFixes describes it, Damage drives `changed`, a RandR resize ends the
 * capture with PVS_EREINIT, frames stay valid until released, and a missing
 * display is a clear PVS_ENODEV. Capture on change: drawing makes frames but
 * never more than the rate allows (N + 1 in N intervals), a still screen
 * makes none unless one is requested (then one per request) or the repeat
 * is due, a new cursor shape makes one. Counts only: no test asserts how
 * long anything took. Skips (77) when Xvfb is not installed. */
#include <stdlib.h>
#include <string.h>

#include <xcb/randr.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stamp.h"
#include "tests/unit/test.h"
#include "tests/xvfb.h"

#define W 640
#define H 480

static struct pvs_test_xvfb xvfb;
static xcb_connection_t *conn; /* the test's own client, which draws */
static xcb_window_t root;
static xcb_gcontext_t gc;

static int open_x11(struct pvs_capture **c)
{
    struct pvs_capture_opts o = { .fps = 200, .display = xvfb.name };
    return pvs_capture_open(c, "x11", &o);
}

/* At `fps`, the last picture again every `repeat_ms` when nothing changes. */
static int open_x11_at(struct pvs_capture **c, int fps, int repeat_ms)
{
    struct pvs_capture_opts o = { .fps = fps, .repeat_ms = repeat_ms, .display = xvfb.name };
    return pvs_capture_open(c, "x11", &o);
}

/* Puts a BGRA image on the root window at (x, y), in strips that fit the
 * server's request size limit, and waits until the server has drawn it. */
static void put_image(const struct pvs_image *img, int x, int y)
{
    uint32_t max_bytes = xcb_get_maximum_request_length(conn) * 4u;
    int rows = (int)((max_bytes - 64) / ((uint32_t)img->width * 4u));
    if (rows > img->height)
        rows = img->height;
    uint8_t *strip = malloc((size_t)img->width * 4 * (size_t)rows);
    for (int y0 = 0; y0 < img->height; y0 += rows) {
        int n = img->height - y0 < rows ? img->height - y0 : rows;
        for (int j = 0; j < n; j++)
            memcpy(strip + (size_t)j * (size_t)img->width * 4,
                   img->data[0] + (size_t)(y0 + j) * (size_t)img->stride[0], (size_t)img->width * 4);
        xcb_put_image(conn, XCB_IMAGE_FORMAT_Z_PIXMAP, root, gc, (uint16_t)img->width, (uint16_t)n,
                      (int16_t)x, (int16_t)(y + y0), 0, 24, (uint32_t)img->width * 4u * (uint32_t)n, strip);
    }
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL)); /* a round trip */
    free(strip);
}

static uint32_t pattern(int x, int y, uint32_t seed)
{
    uint32_t v = (uint32_t)x * 2654435761u ^ (uint32_t)y * 40503u ^ seed * 97u;
    v ^= v >> 13;
    return v & 0x00ffffffu;
}

/* Paints the whole screen with pattern(seed). */
static void paint_pattern(uint32_t seed)
{
    static uint32_t px[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            px[y * W + x] = pattern(x, y, seed) | 0xff000000u;
    struct pvs_image img = { .fmt = PVS_PIX_BGRA, .width = W, .height = H,
                             .data = { (uint8_t *)px }, .stride = { W * 4 } };
    put_image(&img, 0, 0);
}

static void fill(int x, int y, int w, int h, uint32_t color)
{
    xcb_change_gc(conn, gc, XCB_GC_FOREGROUND, &color);
    xcb_rectangle_t r = { (int16_t)x, (int16_t)y, (uint16_t)w, (uint16_t)h };
    xcb_poly_fill_rectangle(conn, root, gc, 1, &r);
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
}

static void warp(int x, int y)
{
    xcb_warp_pointer(conn, XCB_NONE, root, 0, 0, 0, 0, (int16_t)x, (int16_t)y);
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
}

static uint32_t pixel(const struct pvs_frame *f, int x, int y)
{
    const uint8_t *p = f->img.data[0] + (size_t)y * (size_t)f->img.stride[0] + (size_t)x * 4;
    return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16) & 0x00ffffffu;
}

/* Pixels (outside a `skip` box around the cursor) that differ from the
 * pattern. The pointer is parked in the bottom-right corner. */
static long pattern_mismatches(const struct pvs_frame *f, uint32_t seed)
{
    long bad = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (!(x >= W - 64 && y >= H - 64) && pixel(f, x, y) != pattern(x, y, seed))
                bad++;
    return bad;
}

static void test_bad_display(void)
{
    struct pvs_capture *c = (struct pvs_capture *)1;
    struct pvs_capture_opts o = { .display = ":9999" };
    CHECK_INT(pvs_capture_open(&c, "x11", &o), ==, PVS_ENODEV);
    CHECK(c == NULL);
    /* auto falls back to the test desktop, as before x11 existed */
    CHECK_INT(pvs_capture_open(&c, "auto", &o), ==, 0);
    CHECK(c && !strcmp(c->ops->name, "testsrc"));
    pvs_capture_close(&c);
    /* and takes x11 when the display opens */
    o.display = xvfb.name;
    CHECK_INT(pvs_capture_open(&c, "auto", &o), ==, 0);
    CHECK(c && !strcmp(c->ops->name, "x11"));
    pvs_capture_close(&c);
    CHECK(c == NULL);
    pvs_capture_close(NULL);
    pvs_capture_request_frame(NULL); /* a no-op, like close */
    o.repeat_ms = -1;
    CHECK_INT(pvs_capture_open(&c, "x11", &o), ==, PVS_EINVAL);
    o.repeat_ms = 3600001;
    CHECK_INT(pvs_capture_open(&c, "x11", &o), ==, PVS_EINVAL);
    CHECK(c == NULL);
}

static void capture_pattern(bool shm)
{
    if (!shm)
        setenv("PVS_X11_NOSHM", "1", 1);
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11(&c), ==, 0);
    unsetenv("PVS_X11_NOSHM");
    if (!c)
        return;
    warp(W - 1, H - 1);
    paint_pattern(shm ? 1 : 2);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK_INT(f.img.fmt, ==, PVS_PIX_BGRA);
    CHECK_INT(f.img.width, ==, W);
    CHECK_INT(f.img.height, ==, H);
    CHECK(f.changed);
    CHECK(f.capture_ns >= f.due_ns);
    CHECK_INT(pattern_mismatches(&f, shm ? 1 : 2), ==, 0);
    pvs_capture_release(c, &f);

    /* New content shows in the next frame. */
    paint_pattern(3);
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK(f.changed);
    CHECK_INT(pattern_mismatches(&f, 3), ==, 0);
    pvs_capture_release(c, &f);
    CHECK_INT(c->stats.frames, ==, 2);
    pvs_capture_close(&c);
}

static void test_pixels_shm(void) { capture_pattern(true); }
static void test_pixels_noshm(void) { capture_pattern(false); }

static void test_stamp(void)
{
    /* A test-desktop frame with its stamp, put on screen and captured. */
    struct pvs_capture *src = NULL, *c = NULL;
    struct pvs_capture_opts so = { .width = W, .height = H, .fps = 200, .content = PVS_CONTENT_DESKTOP };
    CHECK_INT(pvs_capture_open(&src, "testsrc", &so), ==, 0);
    CHECK_INT(open_x11(&c), ==, 0);
    if (!src || !c)
        goto out;
    warp(W - 1, H - 1);
    struct pvs_frame sf, f;
    CHECK_INT(pvs_capture_next(src, &sf, 1000), ==, 0);
    CHECK_INT(pvs_capture_next(src, &sf, 1000), ==, 0);
    struct pvs_stamp want = { 4242, (uint64_t)pvs_time_us() };
    CHECK_INT(pvs_stamp_paint(&sf.img, &want), ==, 0);
    put_image(&sf.img, 0, 0);
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    struct pvs_stamp got = { 0, 0 };
    CHECK_INT(pvs_stamp_read(&f.img, &got), ==, 0);
    CHECK_INT(got.frame, ==, 4242);
    CHECK(got.time_us == want.time_us);
    /* the rest of the desktop too, outside the cursor's corner */
    long bad = 0;
    for (int y = 0; y < H - 64; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *p = sf.img.data[0] + (size_t)y * (size_t)sf.img.stride[0] + (size_t)x * 4;
            bad += pixel(&f, x, y) != ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16);
        }
    CHECK_INT(bad, ==, 0);
    pvs_capture_release(c, &f);
    pvs_capture_release(src, &sf);
out:
    pvs_capture_close(&c);
    pvs_capture_close(&src);
}

static void test_cursor(void)
{
    /* Xvfb shows the server's default cursor (the core "X" glyph) over the
     * root window; XFixes hands it out like any other. */
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11(&c), ==, 0);
    if (!c)
        return;
    fill(0, 0, W, H, 0x406080);
    warp(100, 120);
    xcb_xfixes_query_version_reply_t *v = xcb_xfixes_query_version_reply(conn,
        xcb_xfixes_query_version(conn, 4, 0), NULL);
    free(v);
    xcb_xfixes_get_cursor_image_reply_t *ci = xcb_xfixes_get_cursor_image_reply(conn,
        xcb_xfixes_get_cursor_image(conn), NULL);
    CHECK(ci != NULL);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    if (ci) {
        CHECK_INT(ci->x, ==, 100);
        CHECK_INT(ci->y, ==, 120);
        CHECK(ci->width > 0 && ci->height > 0);
        const uint32_t *img = xcb_xfixes_get_cursor_image_cursor_image(ci);
        int x0 = ci->x - ci->xhot, y0 = ci->y - ci->yhot;
        long bad = 0, visible = 0;
        for (int j = 0; j < ci->height; j++)
            for (int i = 0; i < ci->width; i++) {
                uint32_t s = img[j * ci->width + i], a = s >> 24, want = 0;
                for (int sh = 0; sh < 24; sh += 8) {
                    uint32_t ch = (s >> sh & 0xff) + ((0x406080u >> sh & 0xff) * (255 - a) + 127) / 255;
                    want |= (ch > 255 ? 255 : ch) << sh;
                }
                visible += a != 0;
                bad += pixel(&f, x0 + i, y0 + j) != want;
            }
        CHECK(visible > 0);
        CHECK_INT(bad, ==, 0);
        /* nothing outside the cursor's rectangle was touched */
        CHECK_INT(pixel(&f, x0 - 1, y0 - 1), ==, 0x406080);
        CHECK_INT(pixel(&f, x0 + ci->width, y0 + ci->height), ==, 0x406080);
        free(ci);
    }
    pvs_capture_release(c, &f);

    /* Half off the screen: clipped, not a crash. */
    warp(0, 0);
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK(f.changed); /* the cursor moved */
    pvs_capture_release(c, &f);
    pvs_capture_close(&c);
}

static void test_damage(void)
{
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11(&c), ==, 0);
    if (!c)
        return;
    warp(W - 1, H - 1);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK(f.changed); /* the first frame always is */
    pvs_capture_release(c, &f);
    for (int round = 0; round < 3; round++) {
        pvs_capture_request_frame(c); /* nothing drawn: no frame unless asked */
        CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
        CHECK(!f.changed); /* nothing drawn */
        pvs_capture_release(c, &f);
        fill(10 + round * 20, 10, 8, 8, 0xff0000);
        CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
        CHECK(f.changed); /* drawn since the last frame */
        CHECK_INT(pixel(&f, 12 + round * 20, 12), ==, 0xff0000);
        pvs_capture_release(c, &f);
    }
    pvs_capture_request_frame(c);
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK(!f.changed);
    pvs_capture_release(c, &f);
    warp(W / 2, H / 2); /* the cursor moving is a change: it makes a frame */
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK(f.changed);
    pvs_capture_release(c, &f);
    pvs_capture_close(&c);
}

static void test_hold_two_frames(void)
{
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11(&c), ==, 0);
    if (!c)
        return;
    warp(W - 1, H - 1);
    paint_pattern(5);
    struct pvs_frame a, b, d;
    CHECK_INT(pvs_capture_next(c, &a, 1000), ==, 0);
    paint_pattern(6);
    CHECK_INT(pvs_capture_next(c, &b, 1000), ==, 0);
    CHECK(a.img.data[0] != b.img.data[0]);
    CHECK_INT(pattern_mismatches(&a, 5), ==, 0); /* untouched by the next grab */
    CHECK_INT(pattern_mismatches(&b, 6), ==, 0);
    CHECK(b.number > a.number);
    CHECK_INT(pvs_capture_next(c, &d, 1000), ==, PVS_EAGAIN); /* both held */
    pvs_capture_release(c, &a);
    pvs_capture_request_frame(c);
    CHECK_INT(pvs_capture_next(c, &d, 1000), ==, 0);
    pvs_capture_release(c, &b);
    pvs_capture_release(c, &d);
    pvs_capture_close(&c);
}

/* Frame intervals (of `fps`) begun from t0 to t1, counting the one t1 is in. */
static int64_t intervals(int64_t t0, int64_t t1, int fps)
{
    int64_t t = 1000000000LL / fps;
    return (t1 - t0 + t - 1) / t;
}

/* Drawing all the time (a small rectangle, a new color each round, as fast
 * as the test can) for 40 intervals: a frame for the changes, but never
 * more than N + 1 in N intervals. The repeat is a minute, so every frame
 * after the first is Damage's doing. */
static void test_change_rate_capped(void)
{
    enum { FPS = 100, N = 40 };
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11_at(&c, FPS, 60000), ==, 0);
    if (!c)
        return;
    warp(W - 1, H - 1);
    int64_t t0 = pvs_time_ns(), t1 = t0;
    long frames = 0, unchanged = 0;
    uint32_t color = 1;
    while (intervals(t0, t1, FPS) < N) {
        fill(100, 100, 16, 16, color++ * 0x10305u & 0xffffffu);
        struct pvs_frame f;
        int err = pvs_capture_next(c, &f, 1);
        if (err == 0) {
            frames++;
            unchanged += !f.changed;
            pvs_capture_release(c, &f);
        } else {
            CHECK_INT(err, ==, PVS_ETIMEDOUT);
        }
        t1 = pvs_time_ns();
    }
    int64_t n = intervals(t0, t1, FPS);
    fprintf(stderr, "drawing for %lld intervals at %d fps: %ld frames\n", (long long)n, FPS, frames);
    CHECK_INT(frames, <=, n + 1);
    CHECK_INT(frames, >=, 3); /* changes make frames (the repeat would make 1) */
    CHECK_INT(unchanged, ==, 0);
    CHECK_INT(c->stats.frames, ==, frames);
    pvs_capture_close(&c);
}

/* A still screen: no frames while nothing asks (each call waits two
 * intervals and gives up); then one frame per request, unchanged. */
static void test_still_and_requests(void)
{
    enum { FPS = 100, IDLE_CALLS = 30, REQUESTS = 10 };
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11_at(&c, FPS, 60000), ==, 0);
    if (!c)
        return;
    warp(W - 1, H - 1);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0); /* the first: always */
    CHECK(f.changed);
    pvs_capture_release(c, &f);
    int idle_frames = 0;
    for (int i = 0; i < IDLE_CALLS; i++) {
        int err = pvs_capture_next(c, &f, 2 * 1000 / FPS);
        if (err == 0) {
            idle_frames++;
            pvs_capture_release(c, &f);
        } else {
            CHECK_INT(err, ==, PVS_ETIMEDOUT);
        }
    }
    fprintf(stderr, "still screen: %d frames in %d calls of two intervals\n", idle_frames, IDLE_CALLS);
    CHECK_INT(idle_frames, <=, 1);
    int got = 0, unchanged = 0;
    for (int i = 0; i < REQUESTS; i++) {
        pvs_capture_request_frame(c);
        if (pvs_capture_next(c, &f, 1000) == 0) {
            got++;
            unchanged += !f.changed;
            pvs_capture_release(c, &f);
        }
    }
    CHECK_INT(got, ==, REQUESTS);
    CHECK_INT(unchanged, ==, REQUESTS);
    /* A request is one frame, not a stream of them. */
    CHECK_INT(pvs_capture_next(c, &f, 5 * 1000 / FPS), ==, PVS_ETIMEDOUT);
    pvs_capture_close(&c);
}

/* The repeat: with nothing changed the last picture comes again every
 * repeat_ms; 1 ms makes it a frame every interval, still within the rate. */
static void test_repeat(void)
{
    enum { FPS = 100, N = 20 };
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11_at(&c, FPS, 30), ==, 0);
    if (!c)
        return;
    warp(W - 1, H - 1);
    struct pvs_frame f;
    int repeats = 0;
    for (int i = 0; i < 4; i++) {
        CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
        repeats += i > 0 && !f.changed;
        pvs_capture_release(c, &f);
    }
    CHECK_INT(repeats, ==, 3);
    pvs_capture_close(&c);

    CHECK_INT(open_x11_at(&c, FPS, 1), ==, 0);
    if (!c)
        return;
    int64_t t0 = pvs_time_ns(), t1 = t0;
    long frames = 0;
    while (intervals(t0, t1, FPS) < N) {
        if (pvs_capture_next(c, &f, 1000) == 0) {
            frames++;
            pvs_capture_release(c, &f);
        }
        t1 = pvs_time_ns();
    }
    int64_t n = intervals(t0, t1, FPS);
    fprintf(stderr, "paced (repeat 1 ms) for %lld intervals at %d fps: %ld frames\n", (long long)n,
            FPS, frames);
    CHECK_INT(frames, <=, n + 1);
    CHECK_INT(frames, >=, 3);
    pvs_capture_close(&c);
}

/* A new cursor shape on the root window is an XFixes event: it makes a
 * frame, changed, with nothing drawn and nothing requested. */
static void test_cursor_shape(void)
{
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11_at(&c, 100, 60000), ==, 0);
    if (!c)
        return;
    warp(W / 2, H / 2);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    pvs_capture_release(c, &f);
    CHECK_INT(pvs_capture_next(c, &f, 50), ==, PVS_ETIMEDOUT); /* still */
    xcb_font_t font = xcb_generate_id(conn);
    xcb_open_font(conn, font, 6, "cursor");
    xcb_cursor_t cur = xcb_generate_id(conn);
    xcb_create_glyph_cursor(conn, cur, font, font, 68, 69, 0, 0, 0, 0xffff, 0xffff, 0xffff);
    uint32_t value = cur;
    xcb_change_window_attributes(conn, root, XCB_CW_CURSOR, &value);
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK(f.changed);
    pvs_capture_release(c, &f);
    value = XCB_NONE;
    xcb_change_window_attributes(conn, root, XCB_CW_CURSOR, &value);
    xcb_free_cursor(conn, cur);
    xcb_close_font(conn, font);
    free(xcb_get_input_focus_reply(conn, xcb_get_input_focus(conn), NULL));
    pvs_capture_close(&c);
}

/* Xvfb cannot grow past its starting size, and refuses a smaller screen
 * while its one CRTC still shows the old mode: turn the CRTC off first. */
static int resize_screen(int w, int h)
{
    xcb_randr_query_version_reply_t *v = xcb_randr_query_version_reply(conn,
        xcb_randr_query_version(conn, 1, 2), NULL);
    free(v);
    xcb_randr_get_screen_resources_current_reply_t *r = xcb_randr_get_screen_resources_current_reply(
        conn, xcb_randr_get_screen_resources_current(conn, root), NULL);
    if (!r)
        return -1;
    xcb_randr_crtc_t *crtcs = xcb_randr_get_screen_resources_current_crtcs(r);
    for (int i = 0; i < r->num_crtcs; i++)
        free(xcb_randr_set_crtc_config_reply(conn, xcb_randr_set_crtc_config(conn, crtcs[i],
            XCB_CURRENT_TIME, r->config_timestamp, 0, 0, XCB_NONE, XCB_RANDR_ROTATION_ROTATE_0,
            0, NULL), NULL));
    free(r);
    xcb_generic_error_t *e = xcb_request_check(conn, xcb_randr_set_screen_size_checked(conn, root,
        (uint16_t)w, (uint16_t)h, (uint32_t)w / 4, (uint32_t)h / 4));
    int rc = e ? -1 : 0;
    free(e);
    return rc;
}

static void test_resize(void)
{
    struct pvs_capture *c = NULL;
    CHECK_INT(open_x11(&c), ==, 0);
    if (!c)
        return;
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    pvs_capture_release(c, &f);
    CHECK_INT(resize_screen(320, 240), ==, 0);
    int err = 0;
    for (int i = 0; i < 50; i++) { /* the event may take a frame to arrive */
        err = pvs_capture_next(c, &f, 1000);
        if (err < 0)
            break;
        pvs_capture_release(c, &f);
        pvs_sleep_ns(2000000);
    }
    CHECK_INT(err, ==, PVS_EREINIT);
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, PVS_EREINIT); /* stays so */
    pvs_capture_close(&c);
    CHECK_INT(open_x11(&c), ==, 0);
    if (!c)
        return;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    CHECK_INT(f.img.width, ==, 320);
    CHECK_INT(f.img.height, ==, 240);
    pvs_capture_release(c, &f);
    pvs_capture_close(&c);
    /* a size larger than the screen is refused */
    struct pvs_capture_opts o = { .width = 640, .height = 480, .display = xvfb.name };
    CHECK_INT(pvs_capture_open(&c, "x11", &o), ==, PVS_EINVAL);
}

int main(void)
{
    int err = pvs_test_xvfb_start(&xvfb, W, H);
    if (err == PVS_ENOENT)
        TEST_SKIP("Xvfb is not installed (apt-get install xvfb)");
    if (err < 0) {
        fprintf(stderr, "could not start Xvfb on any display from :90: %s\n", pvs_strerror(err));
        return 1;
    }
    conn = xcb_connect(xvfb.name, NULL);
    if (xcb_connection_has_error(conn)) {
        fprintf(stderr, "cannot connect to the Xvfb on %s\n", xvfb.name);
        pvs_test_xvfb_stop(&xvfb);
        return 1;
    }
    root = xcb_setup_roots_iterator(xcb_get_setup(conn)).data->root;
    gc = xcb_generate_id(conn);
    xcb_create_gc(conn, gc, root, 0, NULL);

    RUN(test_bad_display);
    RUN(test_pixels_shm);
    RUN(test_pixels_noshm);
    RUN(test_stamp);
    RUN(test_cursor);
    RUN(test_damage);
    RUN(test_hold_two_frames);
    RUN(test_change_rate_capped);
    RUN(test_still_and_requests);
    RUN(test_repeat);
    RUN(test_cursor_shape);
    RUN(test_resize); /* last: it shrinks the screen */

    xcb_disconnect(conn);
    pvs_test_xvfb_stop(&xvfb);
    TEST_EXIT();
}
