/* duplication: the Desktop Duplication state machine driven by a scripted
 * fake on a fake clock: frames out when the desktop presents, repeats and
 * frame requests, pacing, pointer-only updates with and without compositing,
 * recovery with its backoff (never a black frame, a keyframe after), EREINIT
 * on a new size and on device removal, hostile pointer shapes, held frames,
 * rate-limited logs and the stats; and the same decisions with the
 * pictures kept by the backend (GPU mode: no pixels, the pointer handed
 * out with each frame). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "capture/duplication.h"
#include "common/error.h"
#include "common/log.h"
#include "tests/unit/test.h"

#define MS 1000000LL
#define W  64
#define H  48

/* ---- the fake backend ------------------------------------------------------- */

/* One scripted result of acquire(), at a time in ms. A frame (st OK) may
 * carry a desktop image painted in one colour, a pointer position and a new
 * shape; the calls made while it is held return copy_st, shape_st and
 * release_st. */
struct ev {
    int64_t at_ms;
    enum pvs_dup_status st;
    bool desk;
    uint32_t color; /* 0xAARRGGBB */
    bool pos;
    int x, y;
    bool visible;
    bool shape;
    enum pvs_dup_status copy_st, shape_st, release_st;
};

struct fake {
    int64_t now;
    const struct ev *ev;
    int n, pos;
    struct ev cur;            /* the held frame's (merged) event */
    bool held;
    int misuse;               /* calls out of order */
    int acquires, max_timeout_ms, copies;
    int out_w, out_h;         /* the output's size */
    /* the pointer shape get_pointer_shape gives */
    struct pvs_pointer_shape_info shape_info;
    uint8_t shape_bytes[64 * 64 * 4];
    size_t shape_len;
    int64_t shape_hint;       /* >= 0: the size hint acquire() reports instead */
    int64_t more_data_size;   /* > 0: get_pointer_shape always asks for this much */
    /* recreate() */
    enum pvs_dup_status rec[64];
    int nrec, rec_pos;
    int64_t rec_at[128];
    int recreates;
    int new_w, new_h;
    /* GPU mode: copy_desktop gets no destination; the backend's picture */
    bool gpu;
    uint32_t gpu_color;
    /* a frame request made "from another thread" once the clock passes this */
    int64_t request_at;
    struct pvs_dup *dup;
    char last_err[64];
};

static struct fake F;

static void set_err(enum pvs_dup_status s)
{
    snprintf(F.last_err, sizeof(F.last_err), "FAKE_ERROR_%d", (int)s);
}

/* Like DXGI, frames that came while nobody was asking are merged into one:
 * the newest picture, the newest pointer position, any new shape. Errors are
 * not merged. */
static enum pvs_dup_status f_acquire(void *o, int timeout_ms, struct pvs_dup_frame_info *fi)
{
    (void)o;
    F.acquires++;
    if (timeout_ms > F.max_timeout_ms)
        F.max_timeout_ms = timeout_ms;
    if (timeout_ms < 0)
        F.misuse++;
    if (F.held) {
        F.misuse++;
        return PVS_DUP_INVALID_CALL;
    }
    if (F.request_at && F.now + timeout_ms * MS >= F.request_at) {
        /* the request comes during this wait: DXGI does not return early */
        F.request_at = 0;
        pvs_dup_request_frame(F.dup);
    }
    if (F.pos >= F.n || F.ev[F.pos].at_ms * MS > F.now + timeout_ms * MS) {
        F.now += timeout_ms * MS;
        return PVS_DUP_TIMEOUT;
    }
    const struct ev *e = &F.ev[F.pos++];
    if (e->at_ms * MS > F.now)
        F.now = e->at_ms * MS;
    if (e->st != PVS_DUP_OK) {
        set_err(e->st);
        return e->st;
    }
    F.cur = *e;
    while (F.pos < F.n && F.ev[F.pos].at_ms * MS <= F.now && F.ev[F.pos].st == PVS_DUP_OK) {
        const struct ev *m = &F.ev[F.pos++];
        if (m->desk) {
            F.cur.desk = true;
            F.cur.color = m->color;
            F.cur.copy_st = m->copy_st;
        }
        if (m->pos) {
            F.cur.pos = true;
            F.cur.x = m->x;
            F.cur.y = m->y;
            F.cur.visible = m->visible;
        }
        F.cur.shape |= m->shape;
        if (m->release_st)
            F.cur.release_st = m->release_st;
    }
    F.held = true;
    memset(fi, 0, sizeof(*fi));
    fi->desktop_updated = F.cur.desk;
    fi->pointer_position_updated = F.cur.pos;
    fi->pointer_x = F.cur.x;
    fi->pointer_y = F.cur.y;
    fi->pointer_visible = F.cur.visible;
    fi->pointer_shape_updated = F.cur.shape;
    fi->pointer_shape_size = F.cur.shape ? (uint32_t)(F.shape_hint >= 0 ? F.shape_hint :
                                                      (int64_t)F.shape_len) : 0;
    return PVS_DUP_OK;
}

static enum pvs_dup_status f_copy(void *o, const struct pvs_image *dst)
{
    (void)o;
    if (!F.held || !F.cur.desk)
        F.misuse++;
    if (F.gpu) {
        if (dst)
            F.misuse++;
        if (F.cur.copy_st != PVS_DUP_OK) {
            set_err(F.cur.copy_st);
            return F.cur.copy_st;
        }
        F.copies++;
        F.gpu_color = F.cur.color;
        return PVS_DUP_OK;
    }
    if (!dst || dst->fmt != PVS_PIX_BGRA || dst->width != F.out_w || dst->height != F.out_h ||
        dst->stride[0] < dst->width * 4)
        F.misuse++;
    if (F.cur.copy_st != PVS_DUP_OK) {
        set_err(F.cur.copy_st);
        return F.cur.copy_st; /* before writing anything, as the contract says */
    }
    F.copies++;
    uint32_t c = F.cur.color;
    for (int y = 0; y < dst->height; y++) {
        uint8_t *p = dst->data[0] + (size_t)y * (size_t)dst->stride[0];
        for (int x = 0; x < dst->width; x++, p += 4) {
            p[0] = (uint8_t)c;
            p[1] = (uint8_t)(c >> 8);
            p[2] = (uint8_t)(c >> 16);
            p[3] = (uint8_t)(c >> 24);
        }
    }
    return PVS_DUP_OK;
}

static enum pvs_dup_status f_shape(void *o, void *buf, size_t cap, size_t *size,
                                   struct pvs_pointer_shape_info *info)
{
    (void)o;
    if (!F.held || !F.cur.shape)
        F.misuse++;
    if (F.cur.shape_st != PVS_DUP_OK) {
        set_err(F.cur.shape_st);
        return F.cur.shape_st;
    }
    if (F.more_data_size > 0) {
        *size = (size_t)F.more_data_size;
        return PVS_DUP_MORE_DATA;
    }
    if (cap < F.shape_len) {
        *size = F.shape_len;
        return PVS_DUP_MORE_DATA;
    }
    memcpy(buf, F.shape_bytes, F.shape_len);
    *size = F.shape_len;
    *info = F.shape_info;
    return PVS_DUP_OK;
}

static enum pvs_dup_status f_release(void *o)
{
    (void)o;
    if (!F.held)
        F.misuse++;
    F.held = false;
    if (F.cur.release_st != PVS_DUP_OK)
        set_err(F.cur.release_st);
    return F.cur.release_st;
}

static enum pvs_dup_status f_recreate(void *o, int *w, int *h)
{
    (void)o;
    if (F.held)
        F.misuse++;
    if (F.recreates < (int)(sizeof(F.rec_at) / sizeof(F.rec_at[0])))
        F.rec_at[F.recreates] = F.now;
    F.recreates++;
    enum pvs_dup_status s = F.rec_pos < F.nrec ? F.rec[F.rec_pos++] : PVS_DUP_OK;
    *w = F.new_w;
    *h = F.new_h;
    if (s != PVS_DUP_OK)
        set_err(s);
    return s;
}

static void f_last_error(void *o, char *buf, size_t n)
{
    (void)o;
    snprintf(buf, n, "%s", F.last_err);
}

static const struct pvs_dup_ops fake_ops = {
    .acquire = f_acquire,
    .copy_desktop = f_copy,
    .get_pointer_shape = f_shape,
    .release_frame = f_release,
    .recreate = f_recreate,
    .last_error = f_last_error,
};

static int64_t f_now(void *o)
{
    (void)o;
    return F.now;
}

static void f_sleep_until(void *o, int64_t t)
{
    (void)o;
    if (t > F.now)
        F.now = t;
}

/* ---- the log ------------------------------------------------------------------ */

static struct {
    int lines[4];
    char text[16384];
} L;

static void sink(void *o, enum pvs_log_level level, const char *file, int line, const char *msg)
{
    (void)o;
    (void)file;
    (void)line;
    if (level >= 0 && level < 4)
        L.lines[level]++;
    size_t used = strlen(L.text);
    if (used + strlen(msg) + 2 < sizeof(L.text))
        snprintf(L.text + used, sizeof(L.text) - used, "%s\n", msg);
}

static int count_in_log(const char *needle)
{
    int n = 0;
    for (const char *p = L.text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- helpers ------------------------------------------------------------------ */

static void settings(struct pvs_dup_settings *s)
{
    pvs_dup_default_settings(s);
    s->now_ns = f_now;
    s->sleep_until_ns = f_sleep_until;
}

/* Resets the fake to `script` and opens a duplication on it. */
static struct pvs_dup *start(const struct ev *script, int n, const struct pvs_dup_settings *s)
{
    memset(&F, 0, sizeof(F));
    memset(&L, 0, sizeof(L));
    F.ev = script;
    F.n = n;
    F.out_w = F.new_w = W;
    F.out_h = F.new_h = H;
    F.shape_hint = -1;
    struct pvs_dup *d = NULL;
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W, H, s), ==, 0);
    F.dup = d;
    return d;
}

static void set_shape(uint32_t color)
{
    /* 2x2 opaque, COLOR */
    F.shape_info = (struct pvs_pointer_shape_info){ .type = PVS_POINTER_COLOR, .width = 2,
                                                    .height = 2, .pitch = 8 };
    for (int k = 0; k < 4; k++) {
        F.shape_bytes[k * 4 + 0] = (uint8_t)color;
        F.shape_bytes[k * 4 + 1] = (uint8_t)(color >> 8);
        F.shape_bytes[k * 4 + 2] = (uint8_t)(color >> 16);
        F.shape_bytes[k * 4 + 3] = 0xff;
    }
    F.shape_len = 16;
}

static uint32_t pix(const struct pvs_frame *f, int x, int y)
{
    const uint8_t *p = f->img.data[0] + (size_t)y * (size_t)f->img.stride[0] + (size_t)x * 4;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The frame is `color` everywhere but the 2x2 pointer at (px, py) (none
 * when px < -100), which is `pc`. */
static bool frame_is(const struct pvs_frame *f, uint32_t color, int px, int py, uint32_t pc)
{
    if (!f->img.data[0] || f->img.fmt != PVS_PIX_BGRA)
        return false;
    int wrong = 0;
    for (int y = 0; y < f->img.height; y++)
        for (int x = 0; x < f->img.width; x++) {
            bool ptr = px > -100 && x >= px && x < px + 2 && y >= py && y < py + 2;
            wrong += pix(f, x, y) != (ptr ? pc : color);
        }
    if (wrong)
        fprintf(stderr, "  %d pixels differ (0,0 is %08x)\n", wrong, (unsigned)pix(f, 0, 0));
    return wrong == 0;
}

#define NOPTR -1000

/* ---- the tests ------------------------------------------------------------------ */

static void test_frames_and_repeats(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff102030 },
        { .at_ms = 40, .desk = true, .color = 0xff405060 },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 2, &s);
    struct pvs_frame f;

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(f.changed && !f.keyframe);
    CHECK_INT(f.number, ==, 0);
    CHECK_INT(f.capture_ns, ==, 0);
    CHECK(f.img.width == W && f.img.height == H);
    CHECK(frame_is(&f, 0xff102030, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    CHECK(f.img.data[0] == NULL);

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(f.changed);
    CHECK_INT(f.number, ==, 1);
    CHECK_INT(F.now, ==, 40 * MS);
    CHECK_INT(f.capture_ns, ==, 40 * MS);
    CHECK(frame_is(&f, 0xff405060, NOPTR, 0, 0));
    pvs_dup_release(d, &f);

    /* Nothing changes: the last picture again each second, not before. */
    for (int k = 1; k <= 2; k++) {
        CHECK_INT(pvs_dup_next(d, &f, 5000), ==, 0);
        CHECK(!f.changed && !f.keyframe);
        CHECK_INT(F.now, >=, (40 + 1000 * k) * MS);
        CHECK_INT(F.now, <=, (41 + 1000 * k) * MS);
        CHECK_INT(f.capture_ns, ==, F.now);
        CHECK(frame_is(&f, 0xff405060, NOPTR, 0, 0));
        pvs_dup_release(d, &f);
    }
    /* A timeout shorter than that: PVS_ETIMEDOUT once it has passed. */
    int64_t t0 = F.now;
    CHECK_INT(pvs_dup_next(d, &f, 100), ==, PVS_ETIMEDOUT);
    CHECK_INT(F.now, >=, t0 + 100 * MS);
    CHECK_INT(F.now, <=, t0 + 101 * MS);
    /* timeout 0 polls once */
    int acq = F.acquires;
    CHECK_INT(pvs_dup_next(d, &f, 0), ==, PVS_ETIMEDOUT);
    CHECK_INT(F.acquires, ==, acq + 1);

    /* acquire() never waited longer than one 60 fps interval */
    CHECK_INT(F.max_timeout_ms, <=, 17);
    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.frames, ==, 4);
    CHECK_INT(st.repeats, ==, 2);
    CHECK_INT(st.desktop_images, ==, 2);
    CHECK_INT(st.losses, ==, 0);
    CHECK_INT(F.misuse, ==, 0);
    CHECK(!F.held);
    pvs_dup_close(&d);
    CHECK(d == NULL);
}

static void test_repeat_setting_and_fps(void)
{
    static const struct ev script[] = { { .at_ms = 0, .desk = true, .color = 0xff0000ff } };
    struct pvs_dup_settings s;
    settings(&s);
    s.repeat_ms = 250;
    s.fps = 10;
    struct pvs_dup *d = start(script, 1, &s);
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    pvs_dup_release(d, &f);
    for (int k = 1; k <= 3; k++) {
        CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
        CHECK(!f.changed);
        CHECK_INT(F.now, ==, 250 * k * MS);
        pvs_dup_release(d, &f);
    }
    CHECK_INT(F.max_timeout_ms, <=, 100); /* one 10 fps interval */
    CHECK_INT(F.max_timeout_ms, >=, 90);
    pvs_dup_close(&d);
}

static void test_request_frame(void)
{
    static const struct ev script[] = {
        { .at_ms = 300, .desk = true, .color = 0xff00ff00 },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 1, &s);
    struct pvs_frame f;

    /* Asked for before there is any picture: still nothing to show, and
     * never a black frame. */
    pvs_dup_request_frame(d);
    CHECK_INT(pvs_dup_next(d, &f, 100), ==, PVS_ETIMEDOUT);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 300 * MS);
    CHECK(f.changed);
    pvs_dup_release(d, &f);

    /* After a picture: at once, a repeat. */
    CHECK_INT(pvs_dup_next(d, &f, 50), ==, PVS_ETIMEDOUT);
    int64_t t0 = F.now;
    pvs_dup_request_frame(d);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, t0);
    CHECK(!f.changed);
    CHECK(frame_is(&f, 0xff00ff00, NOPTR, 0, 0));
    pvs_dup_release(d, &f);

    /* Asked for by another thread while next() waits: served within one
     * frame interval. */
    F.request_at = F.now + 200 * MS;
    CHECK_INT(pvs_dup_next(d, &f, 5000), ==, 0);
    CHECK(!f.changed);
    CHECK_INT(F.now, >=, t0 + 200 * MS);
    CHECK_INT(F.now, <=, t0 + 200 * MS + 17 * MS);
    pvs_dup_release(d, &f);

    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.frames, ==, 3);
    CHECK_INT(st.repeats, ==, 2);
    pvs_dup_close(&d);
}

/* A desktop presenting every 5 ms streamed at 30 fps: never more than the
 * rate, always the newest picture, never an older one after a newer. */
static void test_pacing(void)
{
    static struct ev script[200];
    for (int k = 0; k < 200; k++)
        script[k] = (struct ev){ .at_ms = 5 * k, .desk = true, .color = 0xff000000u | (uint32_t)(k + 1) };
    struct pvs_dup_settings s;
    settings(&s);
    s.fps = 30;
    struct pvs_dup *d = start(script, 200, &s);
    struct pvs_frame f;
    int frames = 0, bad_gap = 0, stale = 0, order = 0, late = 0;
    int64_t prev_t = -1;
    uint32_t prev_color = 0;
    while (F.now < 995 * MS) {
        CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
        frames++;
        uint32_t c = pix(&f, 0, 0) & 0xffffff;
        int64_t newest = F.now / (5 * MS) + 1; /* the colour of the newest event so far */
        if (newest > 200)
            newest = 200;
        stale += (int64_t)c != newest;
        order += c <= prev_color;
        if (prev_t >= 0 && F.now - prev_t < 33333333 / 2)
            bad_gap++;
        late += F.now - f.due_ns > 34 * MS;
        CHECK(f.changed);
        prev_t = F.now;
        prev_color = c;
        pvs_dup_release(d, &f);
    }
    /* Never above the rate: n frames span at least n - 1 intervals, less the
     * half interval of jitter allowed. */
    CHECK_INT(frames, >=, 29);
    CHECK_INT((int64_t)(frames - 1) * 33333333, <=, prev_t + 33333333 / 2);
    CHECK_INT(bad_gap, ==, 0);
    CHECK_INT(stale, ==, 0);
    CHECK_INT(order, ==, 0);
    CHECK_INT(late, ==, 0);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

static void test_pointer_composited(void)
{
    const uint32_t A = 0xff202020, B = 0xff404040, RED = 0xffff0000, GREEN = 0xff00ff00;
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff202020, .pos = true, .x = 10, .y = 10,
          .visible = true, .shape = true },
        { .at_ms = 100, .pos = true, .x = 20, .y = 12, .visible = true },
        { .at_ms = 200, .pos = true, .x = 20, .y = 12, .visible = true }, /* no change */
        { .at_ms = 300, .shape = true },
        { .at_ms = 400, .pos = true, .x = 20, .y = 12, .visible = false },
        { .at_ms = 500, .pos = true, .x = 30, .y = 30, .visible = false }, /* hidden: no frame */
        { .at_ms = 600, .desk = true, .color = 0xff404040 },
        { .at_ms = 700, .pos = true, .x = -1, .y = H - 1, .visible = true }, /* clipped */
        { .at_ms = 800, .pos = true, .x = W + 5, .y = 0, .visible = true },  /* off the frame */
        { .at_ms = 900, .pos = true, .x = W + 9, .y = 0, .visible = true },  /* still off */
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 10, &s);
    set_shape(RED);
    struct pvs_frame f, g;

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(frame_is(&f, A, 10, 10, RED));
    /* held while the pointer moves: the next frame is drawn in the other buffer */
    CHECK_INT(pvs_dup_next(d, &g, 1000), ==, 0);
    CHECK_INT(F.now, ==, 100 * MS);
    CHECK(g.changed);
    CHECK(frame_is(&g, A, 20, 12, RED));
    CHECK(frame_is(&f, A, 10, 10, RED)); /* the held one untouched */
    pvs_dup_release(d, &f);
    pvs_dup_release(d, &g);

    /* the same position again makes no frame */
    CHECK_INT(pvs_dup_next(d, &f, 150), ==, PVS_ETIMEDOUT);
    set_shape(GREEN);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 300 * MS);
    CHECK(frame_is(&f, A, 20, 12, GREEN)); /* the old pointer's pixels restored */
    pvs_dup_release(d, &f);

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 400 * MS);
    CHECK(frame_is(&f, A, NOPTR, 0, 0)); /* hidden */
    pvs_dup_release(d, &f);

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0); /* the hidden move made none */
    CHECK_INT(F.now, ==, 600 * MS);
    CHECK(frame_is(&f, B, NOPTR, 0, 0));
    pvs_dup_release(d, &f);

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 700 * MS);
    /* only the top-right pixel of the 2x2 shape is inside */
    CHECK_INT(pix(&f, 0, H - 1), ==, GREEN);
    CHECK_INT(pix(&f, 1, H - 1), ==, B);
    CHECK_INT(pix(&f, 0, H - 2), ==, B);
    pvs_dup_release(d, &f);

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0); /* moved off: the pixel goes */
    CHECK_INT(F.now, ==, 800 * MS);
    CHECK(frame_is(&f, B, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    CHECK_INT(pvs_dup_next(d, &f, 500), ==, PVS_ETIMEDOUT); /* off to off: nothing to show */

    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.frames, ==, 7);
    CHECK_INT(st.pointer_frames, ==, 5);
    CHECK_INT(st.desktop_images, ==, 2);
    CHECK_INT(st.shapes, ==, 2);
    CHECK_INT(st.repeats, ==, 0);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

static void test_pointer_not_composited(void)
{
    const uint32_t A = 0xff202020;
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff202020, .pos = true, .x = 10, .y = 10,
          .visible = true, .shape = true },
        { .at_ms = 100, .pos = true, .x = 20, .y = 21, .visible = true },
        { .at_ms = 200, .shape = true },
    };
    struct pvs_dup_settings s;
    settings(&s);
    s.composite_pointer = false;
    struct pvs_dup *d = start(script, 3, &s);
    set_shape(0xffff0000);
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(frame_is(&f, A, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    struct pvs_dup_pointer p;
    pvs_dup_get_pointer(d, &p);
    CHECK(p.shape && p.shape->serial == 1 && p.visible && p.x == 10 && p.y == 10);
    CHECK_INT(pvs_dup_next(d, &f, 150), ==, PVS_ETIMEDOUT);
    set_shape(0xff00ff00);
    CHECK_INT(pvs_dup_next(d, &f, 500), ==, PVS_ETIMEDOUT);
    CHECK_INT(F.pos, ==, 3); /* all three were taken */

    /* The shape and position are kept for a client-drawn pointer. */
    pvs_dup_get_pointer(d, &p);
    CHECK_INT(p.shape->serial, ==, 2);
    CHECK(p.shape->width == 2 && p.shape->height == 2);
    CHECK_INT(p.shape->bgra[1], ==, 0xff); /* green */
    CHECK(p.visible && p.x == 20 && p.y == 21);
    /* The next frame is the repeat, still without the pointer. */
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 1000 * MS);
    CHECK(!f.changed);
    CHECK(frame_is(&f, A, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.pointer_frames, ==, 0);
    CHECK_INT(st.shapes, ==, 2);
    CHECK_INT(st.frames, ==, 2);
    pvs_dup_close(&d);
}

/* ACCESS_LOST for three seconds (the secure desktop, say): re-created on the
 * backoff schedule, the last picture repeated each second meanwhile, the
 * first new picture a keyframe; then a quick INVALID_CALL recovery. */
static void test_recovery(void)
{
    const uint32_t A = 0xff111111, C = 0xff333333, D = 0xff444444;
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff111111 },
        { .at_ms = 100, .st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 3100, .desk = true, .color = 0xff333333 },
        { .at_ms = 3200, .st = PVS_DUP_INVALID_CALL },
        { .at_ms = 3205, .desk = true, .color = 0xff444444 },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 5, &s);
    for (int k = 0; k < 8; k++)
        F.rec[k] = PVS_DUP_UNAVAILABLE;
    F.nrec = 8;
    struct pvs_frame f;

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(frame_is(&f, A, NOPTR, 0, 0));
    pvs_dup_release(d, &f);

    /* repeats of A at 1000, 2000 and 3000 ms: never black */
    for (int k = 1; k <= 3; k++) {
        CHECK_INT(pvs_dup_next(d, &f, 10000), ==, 0);
        CHECK_INT(F.now, ==, 1000 * k * MS);
        CHECK(!f.changed && !f.keyframe);
        CHECK(frame_is(&f, A, NOPTR, 0, 0));
        pvs_dup_release(d, &f);
    }
    CHECK_INT(pvs_dup_next(d, &f, 10000), ==, 0);
    CHECK_INT(F.now, ==, 3100 * MS);
    CHECK(f.changed && f.keyframe);
    CHECK(frame_is(&f, C, NOPTR, 0, 0));
    pvs_dup_release(d, &f);

    static const int64_t want_at[] = { 100, 110, 130, 180, 280, 530, 1030, 2030, 3030 };
    CHECK_INT(F.recreates, ==, 9);
    for (int k = 0; k < 9 && k < F.recreates; k++)
        CHECK_INT(F.rec_at[k], ==, want_at[k] * MS);

    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.losses, ==, 1);
    CHECK_INT(st.recreate_failures, ==, 8);
    CHECK_INT(st.recoveries, ==, 1);
    CHECK_INT(st.last_recovery_ns, ==, 3000 * MS);
    CHECK_INT(st.worst_recovery_ns, ==, 3000 * MS);
    CHECK_INT(st.keyframes, ==, 1);
    CHECK_INT(st.repeats, ==, 3);

    /* The backoff starts over: re-created at once, back 5 ms later. */
    CHECK_INT(pvs_dup_next(d, &f, 10000), ==, 0);
    CHECK_INT(F.now, ==, 3205 * MS);
    CHECK(f.changed && f.keyframe);
    CHECK(frame_is(&f, D, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    CHECK_INT(F.recreates, ==, 10);
    CHECK_INT(F.rec_at[9], ==, 3200 * MS);
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.losses, ==, 2);
    CHECK_INT(st.recoveries, ==, 2);
    CHECK_INT(st.last_recovery_ns, ==, 5 * MS);
    CHECK_INT(st.worst_recovery_ns, ==, 3000 * MS);
    CHECK_INT(st.keyframes, ==, 2);

    /* What the log said: the loss, why, and what happens next. */
    CHECK_INT(count_in_log("lost access"), ==, 1);
    CHECK_INT(count_in_log("FAKE_ERROR_2"), ==, 1); /* the backend's own text */
    CHECK_INT(count_in_log("refused the call"), ==, 1);
    CHECK(strstr(L.text, "repeated meanwhile") != NULL);
    CHECK_INT(count_in_log("re-creating the desktop duplication failed"), ==, 3); /* limited */
    CHECK(strstr(L.text, "capturing again, 3000 ms after") != NULL);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

/* Lost again right after each re-creation: the backoff keeps growing until a
 * picture comes. */
static void test_lost_again(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff010101 },
        { .at_ms = 100, .st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 100, .st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 120, .st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 150, .desk = true, .color = 0xff020202 },
        { .at_ms = 300, .st = PVS_DUP_ERROR },
        { .at_ms = 301, .desk = true, .color = 0xff030303 },
        { .at_ms = 61000, .st = PVS_DUP_ERROR },
        { .at_ms = 61001, .desk = true, .color = 0xff040404 },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 9, &s);
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    pvs_dup_release(d, &f);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 150 * MS);
    CHECK(f.keyframe && frame_is(&f, 0xff020202, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    CHECK_INT(F.recreates, ==, 3);
    CHECK_INT(F.rec_at[0], ==, 100 * MS);
    CHECK_INT(F.rec_at[1], ==, 110 * MS); /* lost again at 100: +10 */
    CHECK_INT(F.rec_at[2], ==, 140 * MS); /* lost again at 120: +20 */
    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.losses, ==, 3);
    CHECK_INT(st.recoveries, ==, 1);
    CHECK_INT(st.last_recovery_ns, ==, 50 * MS);

    /* An unknown error is recovered from the same way, from 0 ms again. */
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 301 * MS);
    CHECK(f.keyframe && frame_is(&f, 0xff030303, NOPTR, 0, 0));
    pvs_dup_release(d, &f);
    CHECK_INT(F.rec_at[3], ==, 300 * MS);
    /* That was the fourth loss line in a minute: left out of the log. */
    CHECK_INT(count_in_log("lost access"), ==, 3);
    CHECK(strstr(L.text, "an unexpected error") == NULL);
    /* The next one, a minute later, is logged, and says one was left out. */
    int repeats = 0;
    for (;;) {
        CHECK_INT(pvs_dup_next(d, &f, 70000), ==, 0);
        bool changed = f.changed;
        repeats += !changed;
        CHECK(frame_is(&f, changed ? 0xff040404 : 0xff030303, NOPTR, 0, 0));
        pvs_dup_release(d, &f);
        if (changed || F.now > 70000 * MS)
            break;
    }
    CHECK_INT(F.now, ==, 61001 * MS);
    CHECK_INT(repeats, ==, 60);
    CHECK(strstr(L.text, "an unexpected error [FAKE_ERROR_7]: re-creating the duplication; "
                         "the last picture is repeated meanwhile (1 more like this not logged)") != NULL);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

/* Losses in the middle of a frame: the frame is still released, a picture
 * that was not copied never shows, one that was copied does. */
static void test_loss_mid_frame(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff0a0a0a },
        { .at_ms = 100, .desk = true, .color = 0xff0b0b0b, .copy_st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 200, .desk = true, .color = 0xff0c0c0c, .release_st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 300, .desk = true, .color = 0xff0d0d0d },
        { .at_ms = 400, .desk = true, .color = 0xff0e0e0e, .shape = true,
          .shape_st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 500, .desk = true, .color = 0xff0f0f0f },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 6, &s);
    set_shape(0xffff0000);
    struct pvs_frame f;
    static const struct { int64_t at; uint32_t color; bool key; } want[] = {
        { 0, 0xff0a0a0a, false },
        { 200, 0xff0c0c0c, true },  /* B never shows; C copied before its release failed */
        { 300, 0xff0d0d0d, true },  /* first image after the re-creation that C's loss caused */
        { 500, 0xff0f0f0f, true },  /* E never shows */
    };
    for (int k = 0; k < 4; k++) {
        CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
        CHECK_INT(F.now, ==, want[k].at * MS);
        CHECK_INT(f.keyframe, ==, want[k].key);
        CHECK(f.changed);
        CHECK(frame_is(&f, want[k].color, NOPTR, 0, 0));
        pvs_dup_release(d, &f);
    }
    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.losses, ==, 3);
    CHECK_INT(st.recoveries, ==, 3);
    CHECK(strstr(L.text, "copying the desktop image failed") != NULL);
    CHECK(strstr(L.text, "releasing the frame failed") != NULL);
    CHECK(strstr(L.text, "reading the pointer shape failed") != NULL);
    CHECK_INT(F.misuse, ==, 0);
    CHECK(!F.held);
    pvs_dup_close(&d);
}

static void test_new_size(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff555555 },
        { .at_ms = 100, .st = PVS_DUP_ACCESS_LOST },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 2, &s);
    F.new_w = 80;
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    pvs_dup_release(d, &f);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EREINIT);
    CHECK_INT(F.now, ==, 100 * MS);
    CHECK(strstr(L.text, "now 80x48 (was 64x48)") != NULL);
    int calls = F.acquires + F.recreates;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EREINIT); /* from then on */
    CHECK_INT(F.acquires + F.recreates, ==, calls);
    pvs_dup_close(&d);
}

static void test_device_removed(void)
{
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_frame f;
    /* from acquire */
    static const struct ev s1[] = {
        { .at_ms = 0, .desk = true, .color = 0xff555555 },
        { .at_ms = 100, .st = PVS_DUP_DEVICE_REMOVED },
    };
    struct pvs_dup *d = start(s1, 2, &s);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    pvs_dup_release(d, &f);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EREINIT);
    CHECK_INT(L.lines[PVS_LOG_ERROR], ==, 1);
    CHECK(strstr(L.text, "removed or reset [FAKE_ERROR_6]") != NULL);
    CHECK(strstr(L.text, "opened again") != NULL);
    int calls = F.acquires;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EREINIT);
    CHECK_INT(F.acquires, ==, calls);
    CHECK_INT(L.lines[PVS_LOG_ERROR], ==, 1);
    pvs_dup_close(&d);

    /* from recreate */
    static const struct ev s2[] = {
        { .at_ms = 0, .desk = true, .color = 0xff555555 },
        { .at_ms = 100, .st = PVS_DUP_ACCESS_LOST },
    };
    d = start(s2, 2, &s);
    F.rec[0] = PVS_DUP_UNAVAILABLE;
    F.rec[1] = PVS_DUP_DEVICE_REMOVED;
    F.nrec = 2;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    pvs_dup_release(d, &f);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EREINIT);
    CHECK_INT(F.now, ==, 110 * MS);
    CHECK(strstr(L.text, "re-creating the desktop duplication failed: the GPU device") != NULL);
    pvs_dup_close(&d);

    /* from copying the picture: the frame is released all the same */
    static const struct ev s3[] = {
        { .at_ms = 0, .desk = true, .color = 0xff555555, .copy_st = PVS_DUP_DEVICE_REMOVED },
    };
    d = start(s3, 1, &s);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EREINIT);
    CHECK(!F.held);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

/* Shapes: a buffer grown on MORE_DATA, hostile shapes refused with the
 * previous one kept, and the picture still taken. */
static void test_shapes(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff202020, .pos = true, .x = 4, .y = 4,
          .visible = true, .shape = true },
        { .at_ms = 100, .desk = true, .color = 0xff303030, .shape = true },
        { .at_ms = 200, .desk = true, .color = 0xff404040, .shape = true },
        { .at_ms = 300, .desk = true, .color = 0xff505050, .shape = true },
    };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 4, &s);
    /* 32x32 colour: 4096 bytes, with a hint of 16 */
    F.shape_info = (struct pvs_pointer_shape_info){ .type = PVS_POINTER_COLOR, .width = 32,
                                                    .height = 32, .pitch = 128 };
    memset(F.shape_bytes, 0xff, 4096);
    F.shape_len = 4096;
    F.shape_hint = 16;
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    struct pvs_dup_pointer p;
    pvs_dup_get_pointer(d, &p);
    CHECK(p.shape->serial == 1 && p.shape->width == 32);
    CHECK_INT(pix(&f, 4, 4), ==, 0xffffffff);
    CHECK_INT(pix(&f, 3, 3), ==, 0xff202020);
    pvs_dup_release(d, &f);

    /* a pitch shorter than a row */
    F.shape_info.pitch = 64;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(pix(&f, 4, 4), ==, 0xffffffff); /* the previous pointer */
    CHECK_INT(pix(&f, 3, 3), ==, 0xff303030); /* over the new picture */
    pvs_dup_release(d, &f);
    /* more than we take */
    F.more_data_size = (int64_t)64 << 20;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(pix(&f, 3, 3), ==, 0xff404040);
    pvs_dup_release(d, &f);
    /* MORE_DATA that asks for no more than it got */
    F.more_data_size = 16;
    F.shape_hint = 4096;
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(pix(&f, 3, 3), ==, 0xff505050);
    pvs_dup_release(d, &f);

    pvs_dup_get_pointer(d, &p);
    CHECK_INT(p.shape->serial, ==, 1);
    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.shapes, ==, 1);
    CHECK_INT(st.bad_shapes, ==, 3);
    CHECK_INT(st.losses, ==, 0);
    CHECK_INT(count_in_log("pointer shape from the driver was refused"), ==, 3);
    CHECK(strstr(L.text, "type 2, 32x32, pitch 64, 4096 bytes") != NULL);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

/* Both frames held: EAGAIN, and held pixels never change. An odd-sized
 * output gives even frames. */
static void test_held_frames(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff0000a0 },
        { .at_ms = 50, .desk = true, .color = 0xff0000b0 },
        { .at_ms = 100, .desk = true, .color = 0xff0000c0 },
    };
    struct pvs_dup_settings s;
    settings(&s);
    memset(&F, 0, sizeof(F));
    memset(&L, 0, sizeof(L));
    F.ev = script;
    F.n = 3;
    F.out_w = F.new_w = W + 1;
    F.out_h = F.new_h = H + 1;
    F.shape_hint = -1;
    struct pvs_dup *d = NULL;
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W + 1, H + 1, &s), ==, 0);
    F.dup = d;
    struct pvs_frame a, b, c;
    CHECK_INT(pvs_dup_next(d, &a, 1000), ==, 0);
    CHECK(a.img.width == W && a.img.height == H);
    CHECK_INT(pvs_dup_next(d, &b, 1000), ==, 0);
    CHECK(a.img.data[0] != b.img.data[0]);
    CHECK_INT(pvs_dup_next(d, &c, 1000), ==, PVS_EAGAIN);
    CHECK_INT(F.now, ==, 50 * MS);
    CHECK(frame_is(&a, 0xff0000a0, NOPTR, 0, 0));
    CHECK(frame_is(&b, 0xff0000b0, NOPTR, 0, 0));
    pvs_dup_release(d, &a);
    CHECK_INT(pvs_dup_next(d, &c, 1000), ==, 0);
    CHECK(frame_is(&c, 0xff0000c0, NOPTR, 0, 0));
    CHECK(frame_is(&b, 0xff0000b0, NOPTR, 0, 0));
    pvs_dup_release(d, &b);
    pvs_dup_release(d, &c);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

/* GPU pictures: the same decisions, no pixels here, the pointer handed out
 * with each frame for the GPU to draw. */
static void test_gpu_pictures(void)
{
    static const struct ev script[] = {
        { .at_ms = 0, .desk = true, .color = 0xff101010, .pos = true, .x = 10, .y = 10,
          .visible = true, .shape = true },
        { .at_ms = 100, .pos = true, .x = 20, .y = 12, .visible = true },
        { .at_ms = 200, .pos = true, .x = 20, .y = 12, .visible = false },
        { .at_ms = 300, .desk = true, .color = 0xff202020, .copy_st = PVS_DUP_ACCESS_LOST },
        { .at_ms = 400, .desk = true, .color = 0xff303030 },
        { .at_ms = 500, .desk = true, .color = 0xff404040 },
    };
    struct pvs_dup_settings s;
    settings(&s);
    s.gpu_pictures = true;
    memset(&F, 0, sizeof(F));
    F.gpu = true; /* before start(), which keeps it */
    struct pvs_dup *d = start(script, 6, &s);
    F.gpu = true;
    set_shape(0xffff0000);
    struct pvs_frame f, g, h;

    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(f.img.data[0] == NULL);
    CHECK(f.img.width == W && f.img.height == H && f.img.fmt == PVS_PIX_BGRA);
    CHECK_INT(F.gpu_color, ==, 0xff101010);
    CHECK(f.pointer != NULL && f.pointer_x == 10 && f.pointer_y == 10);
    CHECK(f.pointer && f.pointer->width == 2 && f.pointer->height == 2);
    /* held: the pointer move is the second frame, numbered apart */
    CHECK_INT(pvs_dup_next(d, &g, 1000), ==, 0);
    CHECK(g.changed && g.pointer && g.pointer_x == 20 && g.pointer_y == 12);
    CHECK_INT(pvs_dup_next(d, &h, 1000), ==, PVS_EAGAIN); /* both held */
    pvs_dup_release(d, &f);                                /* only f is freed */
    CHECK_INT(pvs_dup_next(d, &h, 1000), ==, 0);
    CHECK_INT(F.now, ==, 200 * MS);
    CHECK(h.pointer == NULL); /* hidden: nothing to draw */
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, PVS_EAGAIN); /* g and h still held */
    pvs_dup_release(d, &g);
    pvs_dup_release(d, &h);

    /* The copy at 300 ms fails: re-created at once, and the next image
     * (400 ms) is a keyframe; the one after is not. */
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK_INT(F.now, ==, 400 * MS);
    CHECK(f.changed && f.keyframe);
    CHECK_INT(F.recreates, ==, 1);
    CHECK_INT(F.gpu_color, ==, 0xff303030);
    pvs_dup_release(d, &f);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(f.changed && !f.keyframe);
    CHECK_INT(F.gpu_color, ==, 0xff404040);
    pvs_dup_release(d, &f);
    pvs_dup_close(&d);

    /* Without compositing no pointer is handed out. */
    settings(&s);
    s.gpu_pictures = true;
    s.composite_pointer = false;
    d = start(script, 1, &s);
    F.gpu = true;
    set_shape(0xffff0000);
    CHECK_INT(pvs_dup_next(d, &f, 1000), ==, 0);
    CHECK(f.pointer == NULL && f.img.data[0] == NULL);
    pvs_dup_release(d, &f);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

/* A loss every second for a minute, before any picture: three lines a
 * minute, and the first of the next minute says what was left out. */
static void test_log_rate_limit(void)
{
    static struct ev script[63];
    for (int k = 0; k < 62; k++)
        script[k] = (struct ev){ .at_ms = 1000 * k, .st = PVS_DUP_ACCESS_LOST };
    script[62] = (struct ev){ .at_ms = 63000, .desk = true, .color = 0xff777777 };
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = start(script, 63, &s);
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(d, &f, 70000), ==, 0);
    CHECK_INT(F.now, ==, 63000 * MS);
    CHECK(f.keyframe);
    pvs_dup_release(d, &f);
    struct pvs_dup_stats st;
    pvs_dup_get_stats(d, &st);
    CHECK_INT(st.losses, ==, 62);
    CHECK_INT(count_in_log("lost access"), ==, 5);
    CHECK_INT(count_in_log("there is no picture to show until then"), ==, 5);
    CHECK_INT(count_in_log("(57 more like this not logged)"), ==, 1);
    CHECK_INT(F.misuse, ==, 0);
    pvs_dup_close(&d);
}

static void test_open_args(void)
{
    struct pvs_dup_settings s;
    settings(&s);
    struct pvs_dup *d = (struct pvs_dup *)&s;
    CHECK_INT(pvs_dup_open(&d, NULL, NULL, W, H, &s), ==, PVS_EINVAL);
    CHECK(d == NULL);
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, 1, H, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W, 0, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, 16385, H, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W, H, NULL), ==, PVS_EINVAL);
    struct pvs_dup_ops ops = fake_ops;
    ops.recreate = NULL;
    CHECK_INT(pvs_dup_open(&d, &ops, NULL, W, H, &s), ==, PVS_EINVAL);
    ops = fake_ops;
    ops.last_error = NULL; /* optional */
    CHECK_INT(pvs_dup_open(&d, &ops, NULL, W, H, &s), ==, 0);
    pvs_dup_close(&d);
    struct pvs_dup_settings bad = s;
    bad.fps = 1000;
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W, H, &bad), ==, PVS_EINVAL);
    bad = s;
    bad.repeat_ms = -1;
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W, H, &bad), ==, PVS_EINVAL);
    bad = s;
    bad.sleep_until_ns = NULL; /* half a clock */
    CHECK_INT(pvs_dup_open(&d, &fake_ops, NULL, W, H, &bad), ==, PVS_EINVAL);
    pvs_dup_default_settings(&bad);
    CHECK(bad.fps == 60 && bad.repeat_ms == 1000 && bad.composite_pointer && !bad.now_ns);
    struct pvs_frame f;
    CHECK_INT(pvs_dup_next(NULL, &f, 0), ==, PVS_EINVAL);
    pvs_dup_release(NULL, &f);
    pvs_dup_request_frame(NULL);
    pvs_dup_close(NULL);
    d = NULL;
    pvs_dup_close(&d);
}

int main(void)
{
    pvs_log_set_level(PVS_LOG_INFO);
    pvs_log_set_sink(sink, NULL);
    RUN(test_frames_and_repeats);
    RUN(test_repeat_setting_and_fps);
    RUN(test_request_frame);
    RUN(test_pacing);
    RUN(test_pointer_composited);
    RUN(test_pointer_not_composited);
    RUN(test_recovery);
    RUN(test_lost_again);
    RUN(test_loss_mid_frame);
    RUN(test_new_size);
    RUN(test_device_removed);
    RUN(test_shapes);
    RUN(test_held_frames);
    RUN(test_gpu_pictures);
    RUN(test_log_rate_limit);
    RUN(test_open_args);
    pvs_log_set_sink(NULL, NULL);
    TEST_EXIT();
}
