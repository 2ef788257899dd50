/* duplication: the Desktop Duplication state machine (see duplication.h).
 *
 * Choices, and why:
 *
 * - Each acquired frame is released within the same pvs_dup_next() call,
 *   after its picture and pointer shape are copied: nothing is held between
 *   calls, so a caller that is slow to come back never stalls the desktop
 *   and the state is simple. (Microsoft suggests holding the frame until
 *   just before the next AcquireNextFrame to save the OS copying updates;
 *   that matters to a GPU path that uses the texture in place, not to this
 *   one, which copies it out at once.)
 *
 * - Pictures: `desk` is the last desktop image, without the pointer. A frame
 *   handed out is one of two output buffers showing desk with the pointer
 *   drawn. Each buffer remembers which desktop image and which pointer
 *   position it shows, so a repeat costs nothing and a pointer move only
 *   restores the old pointer's rectangle from desk and draws the new one; a
 *   new desktop image costs one copy. desk is written only by copy_desktop(),
 *   which must fail before writing: desk is always a whole, good picture.
 *
 * - Pacing: frames that carry a change go out at most fps a second, by a
 *   generic cell-rate check (a frame may go out when now >= tat - T/2; each
 *   one moves tat to max(tat, now) + T): jitter of half an interval passes,
 *   the long-run rate never exceeds fps. A change that comes too early is
 *   kept (its frame released) and goes out when allowed, with any later
 *   change merged in. acquire() waits at most one frame interval, so a frame
 *   request from another thread is seen within one.
 *
 * - Recovery: the first re-creation is tried at once, the next ones after
 *   10, 20, 50, 100, 250, 500 ms and then every second. The backoff resets
 *   only when a desktop image arrives again, so a duplication that is lost
 *   again right after each re-creation (the secure desktop flapping) does
 *   not spin. Recovery time is measured from the loss to that image; the
 *   same image is the keyframe.
 *
 * - Logs: every failure says what failed, the backend's error text, and what
 *   happens next. Each kind is limited to 3 lines a minute (a lock screen
 *   left up for an hour must not fill the log); the next line that goes out
 *   says how many were left out. */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/duplication.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define NBUF              2
#define MAX_SIDE          16384
#define MAX_FPS           240
#define DEFAULT_FPS       60
#define DEFAULT_REPEAT_MS 1000
#define MAX_REPEAT_MS     3600000
#define MAX_SHAPE_BYTES   ((size_t)8 << 20)
#define MS                1000000LL
#define LOG_WINDOW_NS     (60000 * MS)
#define LOG_BURST         3u

static const int backoff_ms[] = { 0, 10, 20, 50, 100, 250, 500, 1000 };
#define N_BACKOFF ((int)(sizeof(backoff_ms) / sizeof(backoff_ms[0])))

struct ratelimit {
    bool started;
    int64_t window_start;
    unsigned lines, left_out;
};

struct outbuf {
    uint8_t *pixels;
    bool held;                   /* handed out, not released yet... */
    uint64_t number;             /* ...as this frame */
    bool valid;                  /* shows desk_serial with draw_serial */
    uint64_t desk_serial, draw_serial;
    bool drawn;                  /* the pointer is drawn here, over... */
    struct pvs_pointer_rect rect;/* ...this rectangle */
};

struct pvs_dup {
    const struct pvs_dup_ops *ops;
    void *opaque;
    struct pvs_dup_settings set;
    int width, height;        /* the output */
    int out_w, out_h;         /* the frames: rounded down to even */
    int stride;
    int64_t interval_ns, repeat_ns;
    int interval_ms;          /* acquire()'s longest wait */

    uint8_t *desk;            /* the last desktop image, no pointer */
    bool have_picture;
    uint64_t desk_serial;     /* +1 per desktop image */
    struct outbuf out[NBUF];

    struct pvs_pointer shape; /* the latest shape */
    uint8_t *shape_buf;
    size_t shape_cap;
    int ptr_x, ptr_y;         /* as last reported */
    bool ptr_visible;
    bool drawn;               /* the pointer as frames show it: drawn or not, */
    int drawn_x, drawn_y;     /* where, */
    uint64_t drawn_shape;     /* which shape; */
    uint64_t draw_serial;     /* +1 each time that changes */

    /* What the next frame carries. */
    bool dirty;               /* something changed since the last frame */
    bool dirty_desktop;       /* ...the desktop, not only the pointer */
    bool key;                 /* ...the first desktop image after re-creation */
    int64_t dirty_since, dirty_latest;
    atomic_bool want;         /* pvs_dup_request_frame() */

    int64_t tat;              /* pacing: theoretical arrival time */
    bool emitted;
    int64_t last_emit;
    uint64_t number;

    bool recovering;          /* no duplication: re-create it at retry_at */
    int attempt;              /* into backoff_ms; 0 again once images come */
    int64_t retry_at;
    bool lost;                /* a loss not recovered from yet (until an image) */
    int64_t lost_at;
    bool keyframe_pending;    /* re-created: the next image is a keyframe */
    int reinit;               /* PVS_EREINIT once the caller must re-open */

    struct pvs_dup_stats stats;
    struct ratelimit rl_loss, rl_retry, rl_shape, rl_back;
};

/* ---- small helpers -------------------------------------------------------- */

static int64_t now(const struct pvs_dup *d)
{
    return d->set.now_ns ? d->set.now_ns(d->set.clock_opaque) : pvs_time_ns();
}

static void sleep_until(const struct pvs_dup *d, int64_t t)
{
    if (d->set.sleep_until_ns)
        d->set.sleep_until_ns(d->set.clock_opaque, t);
    else
        pvs_sleep_until_ns(t);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t backoff_ns(int attempt)
{
    return (int64_t)backoff_ms[attempt < N_BACKOFF ? attempt : N_BACKOFF - 1] * MS;
}

/* True when a line of this kind may be logged now; `note` then says how many
 * were left out before it (or is empty). */
static bool rl_ok(struct ratelimit *r, int64_t t, char *note, size_t n)
{
    if (!r->started || t - r->window_start >= LOG_WINDOW_NS) {
        r->started = true;
        r->window_start = t;
        r->lines = 0;
    }
    if (r->lines >= LOG_BURST) {
        r->left_out++;
        return false;
    }
    r->lines++;
    note[0] = '\0';
    if (r->left_out)
        snprintf(note, n, " (%u more like this not logged)", r->left_out);
    r->left_out = 0;
    return true;
}

static const char *status_text(enum pvs_dup_status s)
{
    switch (s) {
    case PVS_DUP_OK:             return "no error";
    case PVS_DUP_TIMEOUT:        return "timed out";
    case PVS_DUP_ACCESS_LOST:    return "access lost";
    case PVS_DUP_INVALID_CALL:   return "invalid call";
    case PVS_DUP_UNAVAILABLE:    return "not available now";
    case PVS_DUP_MORE_DATA:      return "buffer too small";
    case PVS_DUP_DEVICE_REMOVED: return "device removed";
    case PVS_DUP_ERROR:          break;
    }
    return "error";
}

/* The backend's text for the call that just failed with `s`. */
static const char *why(const struct pvs_dup *d, enum pvs_dup_status s, char *buf, size_t n)
{
    buf[0] = '\0';
    if (d->ops->last_error) {
        d->ops->last_error(d->opaque, buf, n);
        buf[n - 1] = '\0';
    }
    if (!buf[0])
        snprintf(buf, n, "%s", status_text(s));
    return buf;
}

/* ---- losing and re-creating the duplication ------------------------------- */

static const char *meanwhile(const struct pvs_dup *d)
{
    return d->have_picture ? "the last picture is repeated meanwhile" :
                             "there is no picture to show until then";
}

static int device_removed(struct pvs_dup *d, const char *what, const char *err)
{
    PVS_LOG_E("dxgi: %s failed: the GPU device was removed or reset [%s] (a driver update or "
              "crash, a GPU timeout, or the GPU partition was taken from the VM): capture and "
              "the encoder are opened again", what, err);
    d->reinit = PVS_EREINIT;
    return PVS_EREINIT;
}

static void lose(struct pvs_dup *d, enum pvs_dup_status s, const char *what, const char *err,
                 int64_t t)
{
    d->stats.losses++;
    char note[64];
    if (rl_ok(&d->rl_loss, t, note, sizeof(note))) {
        const char *cause =
            s == PVS_DUP_ACCESS_LOST ?
                "desktop duplication lost access (a display mode change, the secure desktop "
                "such as UAC or the lock screen, or a full-screen game)" :
            s == PVS_DUP_INVALID_CALL ? "desktop duplication refused the call" :
                                        "an unexpected error";
        PVS_LOG_W("dxgi: %s failed: %s [%s]: re-creating the duplication; %s%s", what, cause,
                  err, meanwhile(d), note);
    }
    if (!d->lost) {
        d->lost = true;
        d->lost_at = t;
    }
    d->recovering = true;
    d->retry_at = t + backoff_ns(d->attempt);
}

/* Returns 0 (re-created, or to be tried again at retry_at) or PVS_EREINIT. */
static int try_recreate(struct pvs_dup *d)
{
    int w = 0, h = 0;
    enum pvs_dup_status s = d->ops->recreate(d->opaque, &w, &h);
    int64_t t = now(d);
    char err[160], note[64];
    if (s == PVS_DUP_OK) {
        if (w != d->width || h != d->height) {
            PVS_LOG_I("dxgi: the output is now %dx%d (was %dx%d): capture opens again at the "
                      "new size", w, h, d->width, d->height);
            d->reinit = PVS_EREINIT;
            return PVS_EREINIT;
        }
        d->recovering = false;
        d->keyframe_pending = true;
        /* Lost again before an image comes: wait longer next time. */
        if (d->attempt < N_BACKOFF - 1)
            d->attempt++;
        return 0;
    }
    why(d, s, err, sizeof(err));
    if (s == PVS_DUP_DEVICE_REMOVED)
        return device_removed(d, "re-creating the desktop duplication", err);
    d->stats.recreate_failures++;
    if (d->attempt < N_BACKOFF - 1)
        d->attempt++;
    d->retry_at = t + backoff_ns(d->attempt);
    if (rl_ok(&d->rl_retry, t, note, sizeof(note)))
        PVS_LOG_W("dxgi: re-creating the desktop duplication failed [%s]%s: trying again in "
                  "%lld ms; %s%s", err,
                  s == PVS_DUP_UNAVAILABLE ? " (the secure desktop or the lock screen is up, "
                                             "or no display is attached)" : "",
                  (long long)(backoff_ns(d->attempt) / MS), meanwhile(d), note);
    return 0;
}

/* ---- what a frame brings -------------------------------------------------- */

static void mark_dirty(struct pvs_dup *d, int64_t t, bool desktop)
{
    if (!d->dirty) {
        d->dirty = true;
        d->dirty_since = t;
    }
    d->dirty_latest = t;
    d->dirty_desktop |= desktop;
}

static void bad_shape(struct pvs_dup *d, const struct pvs_pointer_shape_info *info, size_t size,
                      const char *why_text)
{
    d->stats.bad_shapes++;
    char note[64];
    if (rl_ok(&d->rl_shape, now(d), note, sizeof(note)))
        PVS_LOG_W("dxgi: a pointer shape from the driver was refused (type %u, %ux%u, pitch %u, "
                  "%zu bytes: %s): the previous pointer is drawn instead%s", info->type,
                  info->width, info->height, info->pitch, size, why_text, note);
}

static bool grow_shape_buf(struct pvs_dup *d, size_t want)
{
    if (want <= d->shape_cap)
        return true;
    uint8_t *b = realloc(d->shape_buf, want);
    if (!b)
        return false;
    d->shape_buf = b;
    d->shape_cap = want;
    return true;
}

/* Reads and converts the pointer shape of the held frame. A shape that
 * cannot be taken is logged and skipped (the previous one stays); only a
 * failed call is returned. */
static enum pvs_dup_status fetch_shape(struct pvs_dup *d, uint32_t hint, char *err, size_t n)
{
    struct pvs_pointer_shape_info info = { 0 };
    size_t want = hint ? hint : 4096, size = 0;
    for (int tries = 0; tries < 3; tries++) {
        if (want > MAX_SHAPE_BYTES) {
            bad_shape(d, &info, want, "too large");
            return PVS_DUP_OK;
        }
        if (!grow_shape_buf(d, want)) {
            bad_shape(d, &info, want, "out of memory");
            return PVS_DUP_OK;
        }
        size = 0;
        memset(&info, 0, sizeof(info));
        enum pvs_dup_status s = d->ops->get_pointer_shape(d->opaque, d->shape_buf, d->shape_cap,
                                                          &size, &info);
        if (s == PVS_DUP_MORE_DATA) {
            if (size <= d->shape_cap) {
                bad_shape(d, &info, size, "the driver asked for a buffer no larger");
                return PVS_DUP_OK;
            }
            want = size;
            continue;
        }
        if (s != PVS_DUP_OK) {
            why(d, s, err, n);
            return s;
        }
        if (size > d->shape_cap)
            size = d->shape_cap; /* never read past what we own */
        int r = pvs_pointer_convert(&d->shape, &info, d->shape_buf, size);
        if (r) {
            bad_shape(d, &info, size, pvs_strerror(r));
            return PVS_DUP_OK;
        }
        d->stats.shapes++;
        return PVS_DUP_OK;
    }
    bad_shape(d, &info, size, "the size it needs kept changing");
    return PVS_DUP_OK;
}

/* Notes a change in the pointer as frames show it. */
static void update_drawn_pointer(struct pvs_dup *d, int64_t t)
{
    struct pvs_pointer_rect r;
    bool draw = d->set.composite_pointer && d->ptr_visible &&
                pvs_pointer_clip(&d->shape, d->ptr_x, d->ptr_y, d->out_w, d->out_h, &r);
    if (draw == d->drawn && (!draw || (d->drawn_x == d->ptr_x && d->drawn_y == d->ptr_y &&
                                       d->drawn_shape == d->shape.serial)))
        return;
    d->drawn = draw;
    d->drawn_x = d->ptr_x;
    d->drawn_y = d->ptr_y;
    d->drawn_shape = d->shape.serial;
    d->draw_serial++;
    mark_dirty(d, t, false);
}

static struct pvs_image desk_image(const struct pvs_dup *d)
{
    struct pvs_image img = { .fmt = PVS_PIX_BGRA, .width = d->width, .height = d->height };
    img.data[0] = d->desk;
    img.stride[0] = d->stride;
    return img;
}

/* Handles an acquired frame: shape, picture, release, pointer position.
 * Returns 0 or PVS_EREINIT. */
static int take_frame(struct pvs_dup *d, const struct pvs_dup_frame_info *fi)
{
    enum pvs_dup_status s = PVS_DUP_OK;
    const char *what = "";
    char err[160] = "";
    bool got_desktop = false;
    if (fi->pointer_shape_updated) {
        what = "reading the pointer shape";
        s = fetch_shape(d, fi->pointer_shape_size, err, sizeof(err));
    }
    if (s == PVS_DUP_OK && fi->desktop_updated) {
        struct pvs_image dst = desk_image(d);
        what = "copying the desktop image";
        s = d->ops->copy_desktop(d->opaque, d->set.gpu_pictures ? NULL : &dst);
        if (s != PVS_DUP_OK)
            why(d, s, err, sizeof(err));
        got_desktop = s == PVS_DUP_OK;
    }
    enum pvs_dup_status rs = d->ops->release_frame(d->opaque);
    if (s == PVS_DUP_OK && rs != PVS_DUP_OK) {
        s = rs;
        what = "releasing the frame";
        why(d, s, err, sizeof(err));
    }
    int64_t t = now(d);

    if (fi->pointer_position_updated) {
        /* DXGI's position means something only while the pointer is visible. */
        if (fi->pointer_visible) {
            d->ptr_x = fi->pointer_x;
            d->ptr_y = fi->pointer_y;
        }
        d->ptr_visible = fi->pointer_visible;
    }
    if (got_desktop) {
        d->desk_serial++;
        d->have_picture = true;
        d->stats.desktop_images++;
        mark_dirty(d, t, true);
        if (d->keyframe_pending) {
            d->key = true;
            d->keyframe_pending = false;
        }
        if (d->lost) {
            int64_t took = t - d->lost_at;
            d->lost = false;
            d->attempt = 0;
            d->stats.recoveries++;
            d->stats.last_recovery_ns = took;
            if (took > d->stats.worst_recovery_ns)
                d->stats.worst_recovery_ns = took;
            char note[64];
            if (rl_ok(&d->rl_back, t, note, sizeof(note)))
                PVS_LOG_I("dxgi: capturing again, %lld ms after the duplication was lost%s",
                          (long long)(took / MS), note);
        }
    }
    update_drawn_pointer(d, t);

    if (s == PVS_DUP_DEVICE_REMOVED)
        return device_removed(d, what, err);
    if (s != PVS_DUP_OK)
        lose(d, s, what, err, t);
    return 0;
}

/* ---- handing frames out --------------------------------------------------- */

static struct outbuf *free_buffer(struct pvs_dup *d)
{
    struct outbuf *best = NULL;
    int best_score = -1;
    for (int i = 0; i < NBUF; i++) {
        struct outbuf *b = &d->out[i];
        if (b->held)
            continue;
        /* 2: shows this already; 1: only the pointer differs; 0: copy it all */
        int score = !b->valid || b->desk_serial != d->desk_serial ? 0 :
                    b->draw_serial != d->draw_serial ? 1 : 2;
        if (score > best_score) {
            best = b;
            best_score = score;
        }
    }
    return best;
}

static struct pvs_image buffer_image(const struct pvs_dup *d, const struct outbuf *b)
{
    struct pvs_image img = { .fmt = PVS_PIX_BGRA, .width = d->out_w, .height = d->out_h };
    img.data[0] = b->pixels;
    img.stride[0] = d->stride;
    return img;
}

/* Makes `b` show the last desktop image with the pointer as it is now. */
static void prepare(struct pvs_dup *d, struct outbuf *b)
{
    size_t stride = (size_t)d->stride;
    if (b->valid && b->desk_serial == d->desk_serial) {
        if (b->draw_serial == d->draw_serial)
            return;
        if (b->drawn) {
            const struct pvs_pointer_rect *r = &b->rect;
            for (int j = r->y; j < r->y + r->h; j++)
                memcpy(b->pixels + (size_t)j * stride + (size_t)r->x * 4,
                       d->desk + (size_t)j * stride + (size_t)r->x * 4, (size_t)r->w * 4);
        }
    } else {
        memcpy(b->pixels, d->desk, stride * (size_t)d->out_h);
    }
    b->drawn = false;
    if (d->drawn) {
        struct pvs_image img = buffer_image(d, b);
        pvs_pointer_composite(&d->shape, d->drawn_x, d->drawn_y, &img);
        b->drawn = pvs_pointer_clip(&d->shape, d->drawn_x, d->drawn_y, d->out_w, d->out_h,
                                    &b->rect);
    }
    b->valid = true;
    b->desk_serial = d->desk_serial;
    b->draw_serial = d->draw_serial;
}

static bool may_emit(struct pvs_dup *d, int64_t t)
{
    if (!d->have_picture)
        return false;
    if (atomic_load(&d->want))
        return true;
    if (d->dirty && t >= d->tat - d->interval_ns / 2)
        return true;
    return !d->emitted || t - d->last_emit >= d->repeat_ns;
}

/* When something may next be handed out, not later than one frame interval
 * from now (a request from another thread is looked at that often). */
static int64_t next_wake(const struct pvs_dup *d, int64_t t, int64_t deadline)
{
    int64_t wake = min64(deadline, t + d->interval_ns);
    if (d->recovering)
        wake = min64(wake, d->retry_at);
    if (d->have_picture) {
        if (d->dirty)
            wake = min64(wake, d->tat - d->interval_ns / 2);
        if (d->emitted)
            wake = min64(wake, d->last_emit + d->repeat_ns);
    }
    return wake;
}

static void emit(struct pvs_dup *d, struct outbuf *b, struct pvs_frame *f, int64_t t)
{
    memset(f, 0, sizeof(*f));
    if (d->set.gpu_pictures) {
        /* The picture stays with the backend; the pointer goes with it. */
        f->img = buffer_image(d, b);
        if (d->drawn) {
            f->pointer = &d->shape;
            f->pointer_x = d->drawn_x;
            f->pointer_y = d->drawn_y;
        }
    } else {
        prepare(d, b);
        f->img = buffer_image(d, b);
    }
    f->number = d->number++;
    b->number = f->number;
    f->changed = d->dirty;
    f->keyframe = d->key;
    f->due_ns = d->dirty ? d->dirty_since : t;
    f->capture_ns = d->dirty ? d->dirty_latest : t;
    b->held = true;

    d->stats.frames++;
    if (!d->dirty)
        d->stats.repeats++;
    else if (!d->dirty_desktop)
        d->stats.pointer_frames++;
    if (d->key)
        d->stats.keyframes++;
    d->dirty = d->dirty_desktop = d->key = false;
    atomic_store(&d->want, false);
    d->tat = (d->tat > t ? d->tat : t) + d->interval_ns;
    d->emitted = true;
    d->last_emit = t;
}

/* ---- the interface -------------------------------------------------------- */

void pvs_dup_default_settings(struct pvs_dup_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->fps = DEFAULT_FPS;
    s->repeat_ms = DEFAULT_REPEAT_MS;
    s->composite_pointer = true;
}

int pvs_dup_open(struct pvs_dup **out, const struct pvs_dup_ops *ops, void *opaque,
                 int width, int height, const struct pvs_dup_settings *s)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!ops || !ops->acquire || !ops->copy_desktop || !ops->get_pointer_shape ||
        !ops->release_frame || !ops->recreate || !s)
        return PVS_EINVAL;
    if (width < 2 || height < 2 || width > MAX_SIDE || height > MAX_SIDE)
        return PVS_EINVAL;
    if (s->fps < 0 || s->fps > MAX_FPS || s->repeat_ms < 0 || s->repeat_ms > MAX_REPEAT_MS)
        return PVS_EINVAL;
    if (!s->now_ns != !s->sleep_until_ns)
        return PVS_EINVAL; /* one clock: both or neither */

    struct pvs_dup *d = calloc(1, sizeof(*d));
    if (!d)
        return PVS_ENOMEM;
    d->ops = ops;
    d->opaque = opaque;
    d->set = *s;
    d->width = width;
    d->height = height;
    d->out_w = width & ~1;
    d->out_h = height & ~1;
    d->stride = (width * 4 + 63) & ~63;
    int fps = s->fps ? s->fps : DEFAULT_FPS;
    d->interval_ns = 1000000000LL / fps;
    d->interval_ms = (int)((d->interval_ns + MS - 1) / MS);
    d->repeat_ns = (int64_t)(s->repeat_ms ? s->repeat_ms : DEFAULT_REPEAT_MS) * MS;
    atomic_init(&d->want, false);

    /* Output buffers are still tracked with GPU pictures (a frame handed
     * out is held until released); they just own no pixels. */
    size_t size = (size_t)d->stride * (size_t)height;
    bool ok = true;
    if (!s->gpu_pictures) {
        d->desk = calloc(1, size);
        ok = d->desk != NULL;
        for (int i = 0; i < NBUF && ok; i++)
            ok = (d->out[i].pixels = calloc(1, size)) != NULL;
    }
    if (!ok) {
        pvs_dup_close(&d);
        return PVS_ENOMEM;
    }
    *out = d;
    return 0;
}

int pvs_dup_next(struct pvs_dup *d, struct pvs_frame *f, int timeout_ms)
{
    if (!d || !f)
        return PVS_EINVAL;
    if (d->reinit)
        return d->reinit;
    struct outbuf *b = free_buffer(d);
    if (!b) {
        PVS_LOG_D("dxgi: next() while both frames are held: release one first");
        return PVS_EAGAIN;
    }
    int64_t t = now(d);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : t + (int64_t)timeout_ms * MS;
    bool waited = false;
    for (;;) {
        t = now(d);
        if (d->recovering && t >= d->retry_at) {
            int err = try_recreate(d);
            if (err)
                return err;
            continue;
        }
        if (may_emit(d, t)) {
            emit(d, free_buffer(d), f, t);
            return 0;
        }
        if (t >= deadline && (waited || d->recovering))
            return PVS_ETIMEDOUT;
        int64_t wake = next_wake(d, t, deadline);
        if (d->recovering) {
            sleep_until(d, wake);
            waited = true;
            continue;
        }
        int64_t left = wake - t;
        int ms = left <= 0 ? 0 : left >= (int64_t)d->interval_ms * MS ? d->interval_ms :
                                                                       (int)((left + MS - 1) / MS);
        struct pvs_dup_frame_info fi = { 0 };
        enum pvs_dup_status s = d->ops->acquire(d->opaque, ms, &fi);
        waited = true;
        if (s == PVS_DUP_OK) {
            int err = take_frame(d, &fi);
            if (err)
                return err;
        } else if (s != PVS_DUP_TIMEOUT) {
            char err[160];
            why(d, s, err, sizeof(err));
            if (s == PVS_DUP_DEVICE_REMOVED)
                return device_removed(d, "capturing the desktop", err);
            lose(d, s, "capturing the desktop", err, now(d));
        }
    }
}

void pvs_dup_release(struct pvs_dup *d, struct pvs_frame *f)
{
    if (!d || !f)
        return;
    for (int i = 0; i < NBUF; i++) {
        if (d->out[i].held && d->out[i].number == f->number)
            d->out[i].held = false;
    }
    memset(f, 0, sizeof(*f));
}

void pvs_dup_request_frame(struct pvs_dup *d)
{
    if (d)
        atomic_store(&d->want, true);
}

void pvs_dup_get_stats(const struct pvs_dup *d, struct pvs_dup_stats *st)
{
    *st = d->stats;
}

void pvs_dup_get_pointer(const struct pvs_dup *d, struct pvs_dup_pointer *p)
{
    p->shape = &d->shape;
    p->x = d->ptr_x;
    p->y = d->ptr_y;
    p->visible = d->ptr_visible;
}

void pvs_dup_close(struct pvs_dup **pd)
{
    if (!pd || !*pd)
        return;
    struct pvs_dup *d = *pd;
    free(d->desk);
    for (int i = 0; i < NBUF; i++)
        free(d->out[i].pixels);
    free(d->shape_buf);
    pvs_pointer_free(&d->shape);
    free(d);
    *pd = NULL;
}
