/* x11: captures an X11 screen through xcb (Linux and other X11 systems; not
 * built on Windows).
 *
 * Choices, and why:
 *
 * - Pixels come with MIT-SHM (xcb_shm_get_image) into two shared-memory
 *   segments made at open and reused, alternating, so the frame handed out
 *   stays valid until release() while the next one is grabbed into the
 *   other. Without SHM (a remote display, a container with its own IPC
 *   namespace, or PVS_X11_NOSHM=1 in the environment for tests) it falls back
 *   to plain GetImage, which copies the frame through the socket and costs
 *   several times more; a log line says so. Measured on Xvfb (2-core VM),
 *   from the request to the frame in hand, p50: 0.87 ms at 1920x1080 and
 *   3.2 ms at 3840x2160 with SHM; 1.9 and 8.0 ms with GetImage.
 *
 * - Only TrueColor screens of depth 24 or 32 with 32 bits per pixel,
 *   little-endian pixels and the usual masks are taken: their ZPixmap rows are
 *   BGRX in memory, which is our BGRA. The fourth byte is left as the server
 *   wrote it (undefined at depth 24): nothing downstream reads alpha
 *   (libyuv's ARGBTo* conversions ignore it, the stamp reads B, G and R), and
 *   setting it would cost a pass over every pixel. Other depths are refused
 *   with PVS_ENOTSUP.
 *
 * - The cursor is composited into the frame here, on the server side of the
 *   stream: the protocol carries one video stream and no cursor channel yet,
 *   and X's GetImage never includes the cursor. Each frame asks XFixes for the
 *   cursor image (pipelined with the grab: no extra round trip) and blends
 *   its rectangle, clipped to the frame, over the grabbed pixels. XFixes
 *   cursor pixels are ARGB with premultiplied alpha, so the blend is
 *   dst = src + dst * (255 - a) / 255. It touches only the cursor's
 *   rectangle: 0.25 us for Xvfb's 16x16 cursor, and the grab takes no
 *   measurably longer with the cursor request than without (0.87 vs 0.82 ms
 *   at 1080p, p50, Xvfb on a 2-core VM).
 *
 * - Damage tells whether anything changed since the last frame: one Damage
 *   object on the root window at report level NonEmpty, which sends one event
 *   when the damaged region goes from empty to non-empty. Each grab is
 *   preceded by a DamageSubtract that empties the region. An event whose
 *   sequence number is at or after the previous subtract means something was
 *   drawn since then, so the frame is marked changed; a change drawn just
 *   before the previous grab may mark this frame changed too, which is
 *   harmless, but no change is ever missed. The cursor moving or changing
 *   shape also counts as a change: a new shape is an XFixes CursorNotify; a
 *   move makes no event without XInput 2, so while nothing else makes
 *   frames the pointer's position is asked for (QueryPointer, one round
 *   trip) once a frame interval. Damage on the root sees drawing in child
 *   windows too (checked with `pvstream-bench paint`, which draws into a
 *   window).
 *
 * - RandR: a ScreenChangeNotify (or a ConfigureNotify on the root) with a new
 *   size makes next() return PVS_EREINIT; the caller closes and opens again
 *   at the new size. Width and height 0 in the options capture the whole
 *   screen (an odd side is rounded down to even, as encoders need); a smaller
 *   size captures the top-left corner.
 *
 * - Pacing: frames on change, the rule of Desktop Duplication
 *   (capture/duplication.c), so that both desktops behave alike. next()
 *   sleeps in ppoll() on the connection's socket; a DamageNotify (or a
 *   cursor change) wakes it, and it grabs at once unless the rate forbids:
 *   a cell-rate check, a frame may go out when now >= tat - 7T/8 and each
 *   one moves tat to max(tat, now) + T. So N intervals never hold more than
 *   N + 1 frames, the long-run rate never exceeds fps, two frames are at
 *   least T/8 apart, and a frame comes at once when the last one is an
 *   interval old. duplication.c lets a frame come only T/2 early; here that
 *   held a source drawing at exactly the capture's rate (the e2e painter, a
 *   compositor at the same refresh) delayed for good by whatever phase the
 *   first grab or one late frame left: painted -> captured p50 9.5 ms
 *   against a 3.1 ms put in one run, 1.9 to 3.7 ms with 7T/8. With nothing
 *   changed a frame (changed = false) comes only as the stream needs it:
 *   after request_frame() (a client joined or lost a frame; any thread,
 *   seen within one interval) and every repeat_ms (default 1000; 1 makes a
 *   frame every interval, paced as testsrc). Before, grabs ran on their own
 *   clock and a painted frame waited 0 to one interval for the next one, as
 *   the two clocks lined up: painted -> captured p50 0.8 to 14 ms from run
 *   to run at 1080p60 with nothing else in the loop, 1.9 to 3.7 ms now,
 *   which is the X server drawing the painted frame (docs/latency.md,
 *   "Capture on change"). Without Damage every interval is a frame, marked
 *   changed. fps 0 takes the screen's refresh rate from RandR, else 60.
 *   Frames are numbered 0, 1, 2... with no gaps (`late` stays 0); due_ns is
 *   when the frame's reason was seen (or the rate allowed it, if later),
 *   capture_ns when the grab was asked for.
 *
 * - No stamp is painted: the frame is what is on screen. A stamp drawn by
 *   `pvstream-bench paint` on the display carries the time it was put on
 *   screen, which measures the whole path from screen to decoder.
 *
 * - next() with both buffers still held by the caller returns PVS_EAGAIN. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#include <xcb/damage.h>
#include <xcb/randr.h>
#include <xcb/shm.h>
#include <xcb/xcb.h>
#include <xcb/xfixes.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define MAX_FPS 240
#define NBUF    2
#define DEFAULT_FPS 60
#define DEFAULT_REPEAT_MS 1000
#define MAX_REPEAT_MS 3600000
#define MS 1000000LL

extern const struct pvs_capture_ops pvs_capture_x11;

struct buffer {
    uint8_t *pixels;               /* shm: the attached segment; else the reply's data */
    xcb_shm_seg_t seg;             /* shm only; 0 when not attached */
    xcb_get_image_reply_t *reply;  /* no shm: owns `pixels` while in use */
    bool in_use;
};

struct x11cap {
    struct pvs_capture base;
    xcb_connection_t *conn;
    xcb_window_t root;
    int screen_w, screen_h;   /* the root window's size at open */
    int width, height, fps;
    int stride;
    bool shm;
    struct buffer buf[NBUF];
    int next_buf;

    bool xfixes;
    uint8_t xfixes_event;     /* first event code of the extension */
    bool damage;
    xcb_damage_damage_t damage_id;
    uint8_t damage_event;     /* first event code of the extension */
    bool randr;
    uint8_t randr_event;
    bool reinit;              /* the screen changed size */
    int new_w, new_h;

    bool damage_seen;         /* a DamageNotify arrived... */
    uint32_t damage_seq;      /* ...with this sequence number (the latest) */
    uint32_t subtract_seq;    /* the DamageSubtract before the previous grab */
    bool grabbed;             /* a frame was grabbed before */
    int cursor_x, cursor_y;   /* the pointer as the last frame shows it */
    uint32_t cursor_serial;
    bool cursor_known;
    bool cursor_dirty;        /* it moved or changed shape since the last grab */
    int64_t next_pointer_ns;  /* when to ask again where the pointer is */

    /* Pacing: frames on change, at most fps a second (see the head comment). */
    int64_t interval_ns, repeat_ns;
    int64_t tolerance_ns;     /* how early a frame may come: 7/8 of an interval */
    int64_t tat;              /* theoretical arrival time of the next frame */
    int64_t last_emit;        /* the last frame's capture time */
    int64_t due_since;        /* when the next frame's reason was first seen; 0: none */
    uint64_t number;
    atomic_bool want;         /* request_frame() */
};

/* True when sequence number a is at or after b (32-bit, wrap-safe). */
static bool seq_ge(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

/* ---- events ------------------------------------------------------------- */

static void note_size(struct x11cap *x, int w, int h)
{
    if (w != x->screen_w || h != x->screen_h) {
        if (!x->reinit)
            PVS_LOG_I("x11: screen changed from %dx%d to %dx%d", x->screen_w, x->screen_h, w, h);
        x->reinit = true;
        x->new_w = w;
        x->new_h = h;
    }
}

/* Handles every event already received (without blocking). */
static void drain_events(struct x11cap *x)
{
    xcb_generic_event_t *ev;
    while ((ev = xcb_poll_for_event(x->conn))) {
        uint8_t type = ev->response_type & 0x7f;
        if (x->damage && type == x->damage_event + XCB_DAMAGE_NOTIFY) {
            x->damage_seen = true;
            x->damage_seq = ev->full_sequence;
        } else if (x->randr && type == x->randr_event + XCB_RANDR_SCREEN_CHANGE_NOTIFY) {
            const xcb_randr_screen_change_notify_event_t *e = (const void *)ev;
            int w = e->width, h = e->height;
            if (e->rotation & (XCB_RANDR_ROTATION_ROTATE_90 | XCB_RANDR_ROTATION_ROTATE_270)) {
                w = e->height; /* the event gives the size before rotation */
                h = e->width;
            }
            if (e->root == x->root)
                note_size(x, w, h);
        } else if (x->xfixes && type == x->xfixes_event + XCB_XFIXES_CURSOR_NOTIFY) {
            const xcb_xfixes_cursor_notify_event_t *e = (const void *)ev;
            if (!x->cursor_known || e->cursor_serial != x->cursor_serial)
                x->cursor_dirty = true;
        } else if (type == XCB_CONFIGURE_NOTIFY) {
            const xcb_configure_notify_event_t *e = (const void *)ev;
            if (e->window == x->root)
                note_size(x, e->width, e->height);
        }
        free(ev);
    }
}

/* ---- the cursor ----------------------------------------------------------- */

/* Blends the XFixes cursor image (premultiplied ARGB) over a BGRA frame,
 * clipped to the frame. */
static void composite_cursor(uint8_t *pix, int stride, int w, int h,
                             const xcb_xfixes_get_cursor_image_reply_t *r)
{
    int cw = r->width, ch = r->height;
    if ((int64_t)xcb_xfixes_get_cursor_image_cursor_image_length(r) < (int64_t)cw * ch)
        return;
    const uint32_t *src = xcb_xfixes_get_cursor_image_cursor_image(r);
    int x0 = r->x - r->xhot, y0 = r->y - r->yhot;
    int sx = x0 < 0 ? -x0 : 0, sy = y0 < 0 ? -y0 : 0;
    int ex = w - x0 < cw ? w - x0 : cw, ey = h - y0 < ch ? h - y0 : ch;
    for (int j = sy; j < ey; j++) {
        uint32_t *d = (uint32_t *)(void *)(pix + (size_t)(y0 + j) * (size_t)stride) + x0;
        const uint32_t *s = src + (size_t)j * (size_t)cw;
        for (int i = sx; i < ex; i++) {
            uint32_t p = s[i], a = p >> 24;
            if (a == 0)
                continue;
            if (a == 255) {
                d[i] = p;
                continue;
            }
            uint32_t q = d[i], inv = 255 - a, out = 0xff000000u;
            for (int sh = 0; sh < 24; sh += 8) {
                uint32_t c = (p >> sh & 0xff) + ((q >> sh & 0xff) * inv + 127) / 255;
                out |= (c > 255 ? 255 : c) << sh;
            }
            d[i] = out;
        }
    }
}

/* ---- buffers -------------------------------------------------------------- */

static void free_buffers(struct x11cap *x)
{
    for (int i = 0; i < NBUF; i++) {
        struct buffer *b = &x->buf[i];
        if (b->seg) {
            xcb_shm_detach(x->conn, b->seg);
            b->seg = 0;
        }
        if (x->shm && b->pixels)
            shmdt(b->pixels);
        free(b->reply);
        b->reply = NULL;
        b->pixels = NULL;
        b->in_use = false;
    }
}

/* Makes the shared segments. Returns 0, or a negative code when SHM cannot
 * be used here (the caller falls back to GetImage). */
static int make_shm_buffers(struct x11cap *x, const char **why)
{
    size_t size = (size_t)x->stride * (size_t)x->height;
    x->shm = true;
    for (int i = 0; i < NBUF; i++) {
        struct buffer *b = &x->buf[i];
        int id = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
        if (id < 0) {
            *why = "shmget failed";
            return PVS_EIO;
        }
        void *addr = shmat(id, NULL, 0);
        if (addr == (void *)-1) {
            shmctl(id, IPC_RMID, NULL);
            *why = "shmat failed";
            return PVS_EIO;
        }
        b->pixels = addr;
        b->seg = xcb_generate_id(x->conn);
        xcb_generic_error_t *err = xcb_request_check(x->conn,
            xcb_shm_attach_checked(x->conn, b->seg, (uint32_t)id, 0));
        /* Once attached (or refused) the segment can be marked for removal:
         * it lives until both sides detach, and never leaks after a crash. */
        shmctl(id, IPC_RMID, NULL);
        if (err) {
            free(err);
            b->seg = 0;
            *why = "the X server cannot attach our segment (a remote display, or another IPC namespace)";
            return PVS_EIO;
        }
    }
    return 0;
}

/* ---- open and close ------------------------------------------------------- */

static void x11_close(struct pvs_capture **c)
{
    struct x11cap *x = (struct x11cap *)*c;
    if (!x)
        return;
    if (x->conn) {
        if (!xcb_connection_has_error(x->conn)) {
            free_buffers(x);
            if (x->damage)
                xcb_damage_destroy(x->conn, x->damage_id);
            xcb_flush(x->conn);
        } else {
            x->buf[0].seg = x->buf[1].seg = 0;
            free_buffers(x);
        }
        xcb_disconnect(x->conn);
    }
    free(x);
    *c = NULL;
}

/* Checks that the root window's pixels are BGRX in memory. */
static int check_format(struct x11cap *x, const xcb_setup_t *setup, const xcb_screen_t *scr)
{
    int depth = scr->root_depth, bpp = 0;
    for (xcb_format_iterator_t it = xcb_setup_pixmap_formats_iterator(setup); it.rem;
         xcb_format_next(&it))
        if (it.data->depth == depth)
            bpp = it.data->bits_per_pixel;
    const xcb_visualtype_t *vis = NULL;
    for (xcb_depth_iterator_t d = xcb_screen_allowed_depths_iterator(scr); d.rem && !vis;
         xcb_depth_next(&d))
        for (xcb_visualtype_iterator_t v = xcb_depth_visuals_iterator(d.data); v.rem;
             xcb_visualtype_next(&v))
            if (v.data->visual_id == scr->root_visual) {
                vis = v.data;
                break;
            }
    bool ok = (depth == 24 || depth == 32) && bpp == 32 && vis &&
              vis->_class == XCB_VISUAL_CLASS_TRUE_COLOR && vis->red_mask == 0xff0000 &&
              vis->green_mask == 0xff00 && vis->blue_mask == 0xff &&
              setup->image_byte_order == XCB_IMAGE_ORDER_LSB_FIRST;
    if (!ok) {
        PVS_LOG_E("x11: the screen's format is not supported (depth %d, %d bits per pixel, "
                  "%s byte order): run the X server at depth 24 (e.g. Xvfb -screen 0 1920x1080x24)",
                  depth, bpp, setup->image_byte_order == XCB_IMAGE_ORDER_LSB_FIRST ? "LSB" : "MSB");
        return PVS_ENOTSUP;
    }
    (void)x;
    return 0;
}

static void init_extensions(struct x11cap *x)
{
    xcb_connection_t *conn = x->conn;
    const xcb_query_extension_reply_t *e;

    e = xcb_get_extension_data(conn, &xcb_xfixes_id);
    if (e && e->present) {
        x->xfixes_event = e->first_event;
        xcb_xfixes_query_version_reply_t *r = xcb_xfixes_query_version_reply(conn,
            xcb_xfixes_query_version(conn, XCB_XFIXES_MAJOR_VERSION, XCB_XFIXES_MINOR_VERSION), NULL);
        x->xfixes = r && r->major_version >= 2; /* GetCursorImage needs XFixes 2 */
        free(r);
    }
    /* A new cursor shape is an event; a move is not (see poll_pointer()). */
    if (x->xfixes)
        xcb_xfixes_select_cursor_input(conn, x->root, XCB_XFIXES_CURSOR_NOTIFY_MASK_DISPLAY_CURSOR);
    if (!x->xfixes)
        PVS_LOG_W("x11: no XFixes 2 on this display: frames will have no cursor");

    e = xcb_get_extension_data(conn, &xcb_damage_id);
    if (e && e->present) {
        xcb_damage_query_version_reply_t *r = xcb_damage_query_version_reply(conn,
            xcb_damage_query_version(conn, XCB_DAMAGE_MAJOR_VERSION, XCB_DAMAGE_MINOR_VERSION), NULL);
        if (r) {
            x->damage = true;
            x->damage_event = e->first_event;
            x->damage_id = xcb_generate_id(conn);
            xcb_damage_create(conn, x->damage_id, x->root, XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY);
        }
        free(r);
    }
    if (!x->damage)
        PVS_LOG_W("x11: no Damage extension on this display: every frame counts as changed");

    e = xcb_get_extension_data(conn, &xcb_randr_id);
    if (e && e->present) {
        xcb_randr_query_version_reply_t *r = xcb_randr_query_version_reply(conn,
            xcb_randr_query_version(conn, 1, 2), NULL);
        if (r) {
            x->randr = true;
            x->randr_event = e->first_event;
            xcb_randr_select_input(conn, x->root, XCB_RANDR_NOTIFY_MASK_SCREEN_CHANGE);
        }
        free(r);
    }
    /* Without RandR the root's ConfigureNotify still says when it resizes. */
    uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
    xcb_change_window_attributes(conn, x->root, XCB_CW_EVENT_MASK, &mask);
}

/* The screen's refresh rate from RandR, or 0 when unknown. */
static int refresh_rate(struct x11cap *x)
{
    if (!x->randr)
        return 0;
    xcb_randr_get_screen_info_reply_t *r = xcb_randr_get_screen_info_reply(x->conn,
        xcb_randr_get_screen_info(x->conn, x->root), NULL);
    int rate = r ? r->rate : 0;
    free(r);
    return rate >= 1 && rate <= MAX_FPS ? rate : 0;
}

static int x11_open(struct pvs_capture **out, const struct pvs_capture_opts *o)
{
    *out = NULL;
    const char *name = o->display ? o->display : getenv("DISPLAY");
    if (!name || !*name) {
        PVS_LOG_W("x11: no X display: $DISPLAY is not set; set --display (e.g. :0)");
        return PVS_ENODEV;
    }
    if (o->fps < 0 || o->fps > MAX_FPS || o->width < 0 || o->height < 0 || o->repeat_ms < 0 ||
        o->repeat_ms > MAX_REPEAT_MS) {
        PVS_LOG_E("x11: %d fps, size %dx%d, repeat %d ms: fps must be 0..%d, sizes 0 or more, "
                  "repeat 0..%d", o->fps, o->width, o->height, o->repeat_ms, MAX_FPS, MAX_REPEAT_MS);
        return PVS_EINVAL;
    }
    struct x11cap *x = calloc(1, sizeof(*x));
    if (!x)
        return PVS_ENOMEM;
    x->base.ops = &pvs_capture_x11;
    struct pvs_capture *c = &x->base;
    int err;

    int screen_num = 0;
    x->conn = xcb_connect(name, &screen_num);
    if (xcb_connection_has_error(x->conn)) {
        PVS_LOG_W("x11: cannot open X display '%s': is an X server running? set --display", name);
        err = PVS_ENODEV;
        goto fail;
    }
    const xcb_setup_t *setup = xcb_get_setup(x->conn);
    xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
    for (int i = 0; i < screen_num && it.rem; i++)
        xcb_screen_next(&it);
    if (!it.rem) {
        PVS_LOG_E("x11: display '%s' has no screen %d", name, screen_num);
        err = PVS_ENODEV;
        goto fail;
    }
    const xcb_screen_t *scr = it.data;
    x->root = scr->root;
    x->screen_w = scr->width_in_pixels;
    x->screen_h = scr->height_in_pixels;
    if ((err = check_format(x, setup, scr)) < 0)
        goto fail;

    x->width = o->width ? o->width : x->screen_w & ~1;
    x->height = o->height ? o->height : x->screen_h & ~1;
    if (x->width < 2 || x->height < 2 || x->width > x->screen_w || x->height > x->screen_h) {
        PVS_LOG_E("x11: capture size %dx%d does not fit the %dx%d screen of '%s'",
                  x->width, x->height, x->screen_w, x->screen_h, name);
        err = PVS_EINVAL;
        goto fail;
    }
    x->stride = x->width * 4;

    init_extensions(x);
    x->fps = o->fps ? o->fps : refresh_rate(x);
    if (!x->fps)
        x->fps = DEFAULT_FPS;
    x->interval_ns = 1000000000LL / x->fps;
    x->tolerance_ns = x->interval_ns - x->interval_ns / 8;
    x->repeat_ns = (int64_t)(o->repeat_ms ? o->repeat_ms : DEFAULT_REPEAT_MS) * MS;
    atomic_init(&x->want, false);

    const xcb_query_extension_reply_t *shm_ext = xcb_get_extension_data(x->conn, &xcb_shm_id);
    const char *why = NULL;
    if (getenv("PVS_X11_NOSHM"))
        why = "PVS_X11_NOSHM is set";
    else if (!shm_ext || !shm_ext->present)
        why = "the display has no MIT-SHM extension";
    else if (make_shm_buffers(x, &why) < 0)
        free_buffers(x);
    if (why) {
        x->shm = false;
        PVS_LOG_W("x11: not using shared memory (%s): capture copies every frame through "
                  "the X socket, several times slower", why);
    }
    if (xcb_connection_has_error(x->conn)) {
        PVS_LOG_E("x11: the connection to '%s' failed while setting up", name);
        err = PVS_EIO;
        goto fail;
    }
    PVS_LOG_I("x11: display '%s', %dx%d of %dx%d, %s at most %d fps, %s%s%s", name, x->width,
              x->height, x->screen_w, x->screen_h,
              x->damage ? "frames on change" : "every frame (no Damage)", x->fps,
              x->shm ? "MIT-SHM" : "GetImage", x->damage ? ", Damage" : "",
              x->xfixes ? ", cursor" : "");
    *out = c;
    return 0;
fail:
    x11_close(&c);
    return err;
}

/* ---- frames --------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Something was drawn that the last grab may not show: a DamageNotify at or
 * after the DamageSubtract that preceded it. */
static bool damage_pending(const struct x11cap *x)
{
    return x->damage_seen && seq_ge(x->damage_seq, x->subtract_seq);
}

/* Has the pointer moved since the last frame? One round trip; asked once a
 * frame interval while nothing else makes frames (a grab reads it anyway). */
static void poll_pointer(struct x11cap *x)
{
    xcb_query_pointer_reply_t *r = xcb_query_pointer_reply(x->conn,
        xcb_query_pointer(x->conn, x->root), NULL);
    if (r && r->same_screen &&
        (!x->cursor_known || r->root_x != x->cursor_x || r->root_y != x->cursor_y))
        x->cursor_dirty = true;
    free(r);
}

/* Waits until the X connection has something to read or `ns` have passed
 * (whichever first; a signal may end it early). */
static void wait_events(struct x11cap *x, int64_t ns)
{
    xcb_flush(x->conn);
    if (ns <= 0)
        return;
    struct pollfd p = { .fd = xcb_get_file_descriptor(x->conn), .events = POLLIN };
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000LL),
                           .tv_nsec = (long)(ns % 1000000000LL) };
    if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
        pvs_sleep_ns(ns); /* cannot poll: wait the time out */
}

static struct buffer *free_buffer(struct x11cap *x)
{
    for (int k = 0; k < NBUF; k++) {
        struct buffer *cand = &x->buf[(x->next_buf + k) % NBUF];
        if (!cand->in_use)
            return cand;
    }
    return NULL;
}

/* After a failed grab: did the screen shrink under us? */
static int grab_failed(struct x11cap *x, xcb_generic_error_t *e)
{
    drain_events(x);
    if (!x->reinit && !xcb_connection_has_error(x->conn)) {
        xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(x->conn,
            xcb_get_geometry(x->conn, x->root), NULL);
        if (g)
            note_size(x, g->width, g->height);
        free(g);
    }
    if (x->reinit)
        return PVS_EREINIT;
    if (xcb_connection_has_error(x->conn)) {
        PVS_LOG_E("x11: the connection to the X server was lost");
        return PVS_EIO;
    }
    PVS_LOG_E("x11: grabbing the screen failed (X error %d)", e ? e->error_code : -1);
    return PVS_EIO;
}

static int x11_next(struct pvs_capture *c, struct pvs_frame *f, int timeout_ms)
{
    struct x11cap *x = (struct x11cap *)c;
    if (xcb_connection_has_error(x->conn)) {
        PVS_LOG_E("x11: the connection to the X server was lost");
        return PVS_EIO;
    }
    int64_t now = pvs_time_ns();
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now + (int64_t)timeout_ms * MS;
    struct buffer *b = free_buffer(x);
    if (!b) {
        drain_events(x);
        if (x->reinit)
            return PVS_EREINIT;
        PVS_LOG_D("x11: next() while both frames are held: release one first");
        return PVS_EAGAIN;
    }

    /* Wait for a reason to grab (something drawn, the pointer moved or
     * changed shape, a request, the repeat; the first frame at once), then
     * for the instant the rate allows. */
    int64_t due;
    for (;;) {
        drain_events(x);
        if (x->reinit)
            return PVS_EREINIT;
        if (xcb_connection_has_error(x->conn)) {
            PVS_LOG_E("x11: the connection to the X server was lost");
            return PVS_EIO;
        }
        now = pvs_time_ns();
        bool reason = !x->grabbed || !x->damage || damage_pending(x) || x->cursor_dirty ||
                      atomic_load(&x->want) || now - x->last_emit >= x->repeat_ns;
        if (!reason && x->xfixes && now >= x->next_pointer_ns) {
            /* Only when nothing else makes a frame: a grab reads it anyway. */
            poll_pointer(x);
            x->next_pointer_ns = now + x->interval_ns;
            continue; /* events may have come in with the reply */
        }
        int64_t wake;
        if (reason) {
            if (!x->due_since)
                x->due_since = now;
            /* The cell-rate rule (see the head comment). */
            int64_t allowed = x->grabbed ? x->tat - x->tolerance_ns : now;
            if (now >= allowed) {
                due = x->due_since > allowed ? x->due_since : allowed;
                break;
            }
            wake = allowed;
        } else {
            /* Nothing yet: sleep on the connection until an event, the
             * repeat, the pointer's next look, and at most one interval (a
             * request from another thread). */
            wake = min64(x->last_emit + x->repeat_ns, now + x->interval_ns);
            if (x->xfixes)
                wake = min64(wake, x->next_pointer_ns);
        }
        if (now >= deadline)
            return PVS_ETIMEDOUT;
        wait_events(x, min64(wake, deadline) - now);
    }

    /* What made this frame is taken now: a request, a pointer move or a
     * drawing that comes during the grab makes the next one. */
    atomic_store(&x->want, false);
    x->cursor_dirty = false;
    int64_t captured = pvs_time_ns();
    uint32_t prev_subtract = x->subtract_seq;
    if (x->damage)
        x->subtract_seq = xcb_damage_subtract(x->conn, x->damage_id, XCB_NONE, XCB_NONE).sequence;
    xcb_shm_get_image_cookie_t shm_ck = { 0 };
    xcb_get_image_cookie_t img_ck = { 0 };
    if (x->shm)
        shm_ck = xcb_shm_get_image(x->conn, x->root, 0, 0, (uint16_t)x->width, (uint16_t)x->height,
                                   ~0u, XCB_IMAGE_FORMAT_Z_PIXMAP, b->seg, 0);
    else
        img_ck = xcb_get_image(x->conn, XCB_IMAGE_FORMAT_Z_PIXMAP, x->root, 0, 0,
                               (uint16_t)x->width, (uint16_t)x->height, ~0u);
    xcb_xfixes_get_cursor_image_cookie_t cur_ck = { 0 };
    if (x->xfixes)
        cur_ck = xcb_xfixes_get_cursor_image(x->conn);

    xcb_generic_error_t *e = NULL;
    if (x->shm) {
        xcb_shm_get_image_reply_t *r = xcb_shm_get_image_reply(x->conn, shm_ck, &e);
        bool ok = r != NULL;
        free(r);
        if (!ok)
            goto failed;
    } else {
        xcb_get_image_reply_t *r = xcb_get_image_reply(x->conn, img_ck, &e);
        if (!r)
            goto failed;
        if ((size_t)xcb_get_image_data_length(r) < (size_t)x->stride * (size_t)x->height) {
            free(r);
            goto failed;
        }
        b->reply = r;
        b->pixels = xcb_get_image_data(r);
    }

    bool changed = !x->grabbed || !x->damage;
    if (x->xfixes) {
        xcb_xfixes_get_cursor_image_reply_t *r = xcb_xfixes_get_cursor_image_reply(x->conn, cur_ck, NULL);
        if (r) {
            composite_cursor(b->pixels, x->stride, x->width, x->height, r);
            if (!x->cursor_known || r->x != x->cursor_x || r->y != x->cursor_y ||
                r->cursor_serial != x->cursor_serial)
                changed = true;
            x->cursor_known = true;
            x->cursor_x = r->x;
            x->cursor_y = r->y;
            x->cursor_serial = r->cursor_serial;
            free(r);
        }
    }
    drain_events(x);
    if (x->damage && x->damage_seen && x->grabbed && seq_ge(x->damage_seq, prev_subtract))
        changed = true;
    if (x->damage_seen && !seq_ge(x->damage_seq, x->subtract_seq))
        x->damage_seen = false; /* drawn before this grab's subtract: in this frame */
    x->grabbed = true;
    x->tat = (x->tat > captured ? x->tat : captured) + x->interval_ns;
    x->last_emit = captured;
    x->due_since = 0;
    x->next_pointer_ns = captured + x->interval_ns;

    memset(f, 0, sizeof(*f));
    f->img.fmt = PVS_PIX_BGRA;
    f->img.width = x->width;
    f->img.height = x->height;
    f->img.data[0] = b->pixels;
    f->img.stride[0] = x->stride;
    f->number = x->number++;
    f->due_ns = due;
    f->capture_ns = captured;
    f->changed = changed;
    b->in_use = true;
    x->next_buf = (int)(b - x->buf + 1) % NBUF;
    c->stats.frames++;
    return 0;

failed:
    {
        int err = grab_failed(x, e);
        free(e);
        if (x->xfixes)
            xcb_discard_reply(x->conn, cur_ck.sequence);
        return err;
    }
}

static void x11_release(struct pvs_capture *c, struct pvs_frame *f)
{
    struct x11cap *x = (struct x11cap *)c;
    for (int k = 0; k < NBUF; k++) {
        struct buffer *b = &x->buf[k];
        if (b->in_use && b->pixels == f->img.data[0]) {
            b->in_use = false;
            if (!x->shm) {
                free(b->reply);
                b->reply = NULL;
                b->pixels = NULL;
            }
        }
    }
    memset(f, 0, sizeof(*f));
}

static void x11_request_frame(struct pvs_capture *c)
{
    atomic_store(&((struct x11cap *)c)->want, true);
}

const struct pvs_capture_ops pvs_capture_x11 = {
    .name = "x11",
    .description = "X11 screen through xcb (MIT-SHM, XFixes cursor, Damage, RandR)",
    .open = x11_open,
    .next = x11_next,
    .release = x11_release,
    .close = x11_close,
    .request_frame = x11_request_frame,
};
