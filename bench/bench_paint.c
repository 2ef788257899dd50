/* pvstream-bench paint: an X11 client that puts the test desktop on a real
 * display, with the frame stamp in every frame, so that any capture and
 * streaming pipeline (ours through the x11 backend, or another) can be
 * measured from screen to decoder by reading the stamp back.
 *
 * The frames come from testsrc at the screen's size (same content, same
 * pacing). Each one is copied into a shared-memory image, stamped with its
 * number and the time right before it is put on screen (pvs_time_ns, which
 * is CLOCK_MONOTONIC and so comparable between processes on one machine),
 * and put into an override-redirect window that covers the screen (a window
 * rather than the root, so that a window manager or compositor neither
 * frames it nor hides it). Each put waits for the server to finish before
 * the next frame reuses the image. A RandR size change reopens the test
 * desktop at the new size and resizes the window.
 *
 * Without MIT-SHM the frames go through the socket in strips (slower; said
 * once). Linux/X11 only. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>

#include <xcb/randr.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>

#include "bench/bench.h"
#include "capture/capture.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "common/stamp.h"

struct settings {
    char display[PVS_OPT_STRING_MAX];
    int fps;
    int seconds;
    int content;
};

#define OPT(k, t, field, lo, hi, ch, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, ch, mv, h }
static const struct pvs_option options[] = {
    OPT("display", PVS_OPT_STRING, display, 0, 0, NULL, "NAME", "X display, e.g. :1 (default: $DISPLAY)"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, NULL, "N", "frames per second"),
    OPT("seconds", PVS_OPT_INT, seconds, 0, 86400, NULL, "S", "how long to paint; 0 = until killed"),
    OPT("content", PVS_OPT_CHOICE, content, 0, 0, pvs_content_names, "KIND", "static, desktop or game"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct painter {
    xcb_connection_t *conn;
    xcb_window_t root, win;
    xcb_gcontext_t gc;
    uint8_t depth;
    uint8_t randr_event;
    bool randr;
    int screen_w, screen_h;
    int w, h;                   /* the painted size: the screen's, rounded down to even */
    bool shm;
    xcb_shm_seg_t seg;
    uint8_t *pixels;            /* w * h * 4: the shared image, or a plain buffer */
    struct pvs_capture *src;
};

static void free_image(struct painter *p)
{
    if (p->seg) {
        xcb_shm_detach(p->conn, p->seg);
        p->seg = 0;
    }
    if (p->pixels) {
        if (p->shm)
            shmdt(p->pixels);
        else
            free(p->pixels);
        p->pixels = NULL;
    }
}

/* Makes the image and the test desktop for the current screen size. */
static int setup_size(struct painter *p, const struct settings *s)
{
    free_image(p);
    pvs_capture_close(&p->src);
    p->w = p->screen_w & ~1;
    p->h = p->screen_h & ~1;
    if (p->w > PVS_TESTSRC_MAX_WIDTH)
        p->w = PVS_TESTSRC_MAX_WIDTH;
    if (p->h > PVS_TESTSRC_MAX_HEIGHT)
        p->h = PVS_TESTSRC_MAX_HEIGHT;
    struct pvs_capture_opts co = { .width = p->w, .height = p->h, .fps = s->fps,
                                   .content = (enum pvs_content)s->content };
    int err = pvs_capture_open(&p->src, "testsrc", &co);
    if (err < 0)
        return err;
    size_t size = (size_t)p->w * (size_t)p->h * 4;
    if (p->shm) {
        int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
        void *addr = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
        xcb_generic_error_t *e = NULL;
        if (addr != (void *)-1) {
            p->pixels = addr;
            p->seg = xcb_generate_id(p->conn);
            e = xcb_request_check(p->conn, xcb_shm_attach_checked(p->conn, p->seg, (uint32_t)id, 1));
        }
        if (id >= 0)
            shmctl(id, IPC_RMID, NULL);
        if (addr != (void *)-1 && !e)
            return 0;
        free(e);
        p->seg = 0;
        free_image(p);
        p->shm = false;
        fprintf(stderr, "paint: the X server cannot attach shared memory: "
                        "sending frames through the socket (slower)\n");
    }
    p->pixels = malloc(size);
    return p->pixels ? 0 : PVS_ENOMEM;
}

/* Puts the image into the window and waits until the server has drawn it. */
static void put_frame(struct painter *p)
{
    if (p->shm) {
        xcb_shm_put_image(p->conn, p->win, p->gc, (uint16_t)p->w, (uint16_t)p->h, 0, 0,
                          (uint16_t)p->w, (uint16_t)p->h, 0, 0, p->depth,
                          XCB_IMAGE_FORMAT_Z_PIXMAP, 0, p->seg, 0);
    } else {
        uint32_t max_bytes = xcb_get_maximum_request_length(p->conn) * 4u;
        int rows = (int)((max_bytes - 64) / ((uint32_t)p->w * 4u));
        for (int y = 0; y < p->h; y += rows) {
            int n = p->h - y < rows ? p->h - y : rows;
            xcb_put_image(p->conn, XCB_IMAGE_FORMAT_Z_PIXMAP, p->win, p->gc, (uint16_t)p->w,
                          (uint16_t)n, 0, (int16_t)y, 0, p->depth,
                          (uint32_t)p->w * 4u * (uint32_t)n, p->pixels + (size_t)y * (size_t)p->w * 4);
        }
    }
    free(xcb_get_input_focus_reply(p->conn, xcb_get_input_focus(p->conn), NULL)); /* a round trip */
}

/* Handles pending events. Returns true when the screen changed size. */
static bool poll_events(struct painter *p)
{
    bool resized = false;
    xcb_generic_event_t *ev;
    while ((ev = xcb_poll_for_event(p->conn))) {
        uint8_t type = ev->response_type & 0x7f;
        int w = 0, h = 0;
        if (p->randr && type == p->randr_event + XCB_RANDR_SCREEN_CHANGE_NOTIFY) {
            const xcb_randr_screen_change_notify_event_t *e = (const void *)ev;
            bool rot = e->rotation & (XCB_RANDR_ROTATION_ROTATE_90 | XCB_RANDR_ROTATION_ROTATE_270);
            w = rot ? e->height : e->width;
            h = rot ? e->width : e->height;
        } else if (type == XCB_CONFIGURE_NOTIFY) {
            const xcb_configure_notify_event_t *e = (const void *)ev;
            if (e->window == p->root) {
                w = e->width;
                h = e->height;
            }
        }
        if (w && h && (w != p->screen_w || h != p->screen_h)) {
            p->screen_w = w;
            p->screen_h = h;
            resized = true;
        }
        free(ev);
    }
    return resized;
}

static void close_painter(struct painter *p)
{
    pvs_capture_close(&p->src);
    if (p->conn) {
        if (!xcb_connection_has_error(p->conn))
            free_image(p);
        else if (p->pixels && p->shm)
            shmdt(p->pixels);
        else
            free(p->pixels);
        xcb_disconnect(p->conn);
    }
}

static int open_painter(struct painter *p, const char *name)
{
    p->conn = xcb_connect(name, NULL);
    if (xcb_connection_has_error(p->conn)) {
        fprintf(stderr, "paint: cannot open X display '%s': is an X server running? set --display\n",
                name);
        return PVS_ENODEV;
    }
    const xcb_screen_t *scr = xcb_setup_roots_iterator(xcb_get_setup(p->conn)).data;
    p->root = scr->root;
    p->depth = scr->root_depth;
    p->screen_w = scr->width_in_pixels;
    p->screen_h = scr->height_in_pixels;
    if (p->depth != 24 && p->depth != 32) {
        fprintf(stderr, "paint: display '%s' has depth %d; only 24 and 32 are supported\n",
                name, p->depth);
        return PVS_ENOTSUP;
    }
    if (p->screen_w < 128 || p->screen_h < 96) {
        fprintf(stderr, "paint: the screen is %dx%d; at least 128x96 is needed\n",
                p->screen_w, p->screen_h);
        return PVS_ENOTSUP;
    }
    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(p->conn, &xcb_shm_id);
    p->shm = ext && ext->present;
    ext = xcb_get_extension_data(p->conn, &xcb_randr_id);
    if (ext && ext->present) {
        free(xcb_randr_query_version_reply(p->conn, xcb_randr_query_version(p->conn, 1, 2), NULL));
        p->randr = true;
        p->randr_event = ext->first_event;
        xcb_randr_select_input(p->conn, p->root, XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE);
    }
    uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
    xcb_change_window_attributes(p->conn, p->root, XCB_CW_EVENT_MASK, &mask);

    p->win = xcb_generate_id(p->conn);
    uint32_t values[] = { 1 /* override-redirect */ };
    xcb_create_window(p->conn, p->depth, p->win, p->root, 0, 0, (uint16_t)p->screen_w,
                      (uint16_t)p->screen_h, 0, XCB_WINDOW_CLASS_INPUT_OUTPUT, scr->root_visual,
                      XCB_CW_OVERRIDE_REDIRECT, values);
    static const char title[] = "pvstream-bench paint";
    xcb_change_property(p->conn, XCB_PROP_MODE_REPLACE, p->win, XCB_ATOM_WM_NAME, XCB_ATOM_STRING,
                        8, sizeof(title) - 1, title);
    xcb_map_window(p->conn, p->win);
    p->gc = xcb_generate_id(p->conn);
    xcb_create_gc(p->conn, p->gc, p->win, 0, NULL);
    xcb_flush(p->conn);
    return 0;
}

int pvs_bench_paint(int argc, char **argv)
{
    struct settings s = { .fps = 60, .seconds = 0, .content = PVS_CONTENT_DESKTOP };
    int rc = pvs_bench_parse("paint", "Paints the test desktop with the frame stamp on an X display.",
                             options, &s, argc, argv);
    if (rc >= 0)
        return rc;
    const char *name = s.display[0] ? s.display : getenv("DISPLAY");
    if (!name || !*name) {
        fprintf(stderr, "pvstream-bench paint: no X display: set --display (e.g. :1) or $DISPLAY\n");
        return 2;
    }

    struct painter p = { 0 };
    rc = 1;
    if (open_painter(&p, name) < 0 || setup_size(&p, &s) < 0)
        goto out;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("pvstream-bench paint: display %s, %dx%d, %d fps, %s content, %s\n", name, p.w, p.h,
           s.fps, pvs_content_names[s.content], p.shm ? "MIT-SHM" : "PutImage");
    fflush(stdout);

    uint64_t painted = 0, late = 0, resizes = 0;
    int64_t t0 = pvs_time_ns(), put_ns = 0;
    int64_t end = s.seconds ? t0 + (int64_t)s.seconds * 1000000000 : 0;
    while (!stop_requested && (!end || pvs_time_ns() < end)) {
        if (poll_events(&p)) {
            late += p.src->stats.late;
            resizes++;
            if (setup_size(&p, &s) < 0)
                goto out;
            uint32_t wh[] = { (uint32_t)p.screen_w, (uint32_t)p.screen_h };
            xcb_configure_window(p.conn, p.win, XCB_CONFIG_WINDOW_WIDTH | XCB_CONFIG_WINDOW_HEIGHT, wh);
            printf("paint: the screen is now %dx%d\n", p.screen_w, p.screen_h);
            fflush(stdout);
        }
        struct pvs_frame f;
        int err = pvs_capture_next(p.src, &f, 100);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err < 0) {
            fprintf(stderr, "paint: test desktop: %s\n", pvs_strerror(err));
            goto out;
        }
        for (int y = 0; y < p.h; y++)
            memcpy(p.pixels + (size_t)y * (size_t)p.w * 4,
                   f.img.data[0] + (size_t)y * (size_t)f.img.stride[0], (size_t)p.w * 4);
        uint32_t number = (uint32_t)f.number;
        pvs_capture_release(p.src, &f);
        struct pvs_image img = { .fmt = PVS_PIX_BGRA, .width = p.w, .height = p.h,
                                 .data = { p.pixels }, .stride = { p.w * 4 } };
        int64_t now = pvs_time_ns();
        struct pvs_stamp st = { number, (uint64_t)(now / 1000) };
        pvs_stamp_paint(&img, &st);
        put_frame(&p);
        put_ns += pvs_time_ns() - now;
        if (xcb_connection_has_error(p.conn)) {
            fprintf(stderr, "paint: the connection to the X server was lost\n");
            goto out;
        }
        painted++;
    }
    late += p.src->stats.late;
    double secs = (double)(pvs_time_ns() - t0) / 1e9;
    printf("painted %llu frames in %.1f s (%.1f fps), late %llu, put %.2f ms per frame on average, "
           "%llu size changes\n", (unsigned long long)painted, secs, secs > 0 ? (double)painted / secs : 0,
           (unsigned long long)late, painted ? (double)put_ns / 1e6 / (double)painted : 0,
           (unsigned long long)resizes);
    rc = 0;
out:
    close_painter(&p);
    return rc;
}
