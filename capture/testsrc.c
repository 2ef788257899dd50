/* testsrc: a synthetic desktop, for machines without one and for measuring.
 *
 * Any size up to 7680x4320 and any rate up to 240 Hz, paced to the wall
 * clock: frame i is due at start + i / fps. A caller that comes back after
 * frame i+1 was due has missed frame i's slot: the slots it missed are counted
 * as late and the newest frame is made instead (never a backlog).
 *
 * Content modes:
 *   static  - a desktop that never changes (only the stamp does);
 *   desktop - windows over a gradient, a terminal that scrolls ten lines a
 *             second, a progress bar and a moving cursor: most of the screen
 *             stays the same from frame to frame, as on a real desktop;
 *   game    - the whole screen pans across a larger picture every frame.
 *
 * Cost is what keeps 4K at 120 Hz cheap: the scene is drawn once at open and
 * each frame changes only what moves. "game" does not copy at all: the frame
 * is a window into a texture PAN pixels larger in each direction, and the
 * window moves. The stamp and the cursor are drawn with their background
 * saved and put back before the next frame. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stamp.h"

#define MAX_WIDTH  PVS_TESTSRC_MAX_WIDTH
#define MAX_HEIGHT PVS_TESTSRC_MAX_HEIGHT
#define MIN_WIDTH  128
#define MIN_HEIGHT 96
#define MAX_FPS    240
#define PAN        256 /* game: the view pans over this many extra pixels */
#define SCROLL_HZ  10  /* desktop: terminal lines per second */

/* A rectangle whose pixels were saved before drawing over them. */
struct save_under {
    int x, y, w, h;
    uint8_t *pixels;  /* w * h * 4 bytes */
    bool saved;
};

struct rect {
    int x, y, w, h;
};

extern const struct pvs_capture_ops pvs_capture_testsrc;

struct testsrc {
    struct pvs_capture base;
    int width, height, fps;
    enum pvs_content content;

    uint8_t *buf;       /* the scene; for game, PAN larger in each direction */
    int buf_w, buf_h;
    int stride;

    bool started;
    int64_t t0;
    uint64_t next_index;
    uint64_t frames_made;

    int view_x, view_y;          /* game: top-left of the visible window */
    int stamp_w, stamp_h;
    struct save_under stamp_under;  /* game: the texture under the stamp */
    struct save_under cursor_under; /* desktop: the scene under the cursor */

    /* desktop */
    int scale;
    int line_h, glyph_w;
    struct rect term;            /* the terminal's text area */
    struct rect progress;        /* the progress bar's track */
    uint64_t scroll_steps;       /* lines scrolled so far */
};

/* ---- drawing ------------------------------------------------------------ */

static inline uint32_t rgb(int r, int g, int b)
{
    return 0xff000000u | (uint32_t)r << 16 | (uint32_t)g << 8 | (uint32_t)b;
}

static inline uint32_t *row32(const struct testsrc *t, int y)
{
    return (uint32_t *)(void *)(t->buf + (size_t)y * (size_t)t->stride);
}

static void fill_rect(struct testsrc *t, int x, int y, int w, int h, uint32_t color)
{
    if (x < 0) { w += x; x = 0; }
    if (y < 0) { h += y; y = 0; }
    if (x + w > t->buf_w) w = t->buf_w - x;
    if (y + h > t->buf_h) h = t->buf_h - y;
    for (int j = 0; j < h; j++) {
        uint32_t *p = row32(t, y + j) + x;
        for (int i = 0; i < w; i++)
            p[i] = color;
    }
}

static uint32_t hash32(uint32_t v)
{
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

/* A text-like glyph: 5x7 cells whose pattern comes from a hash of the
 * character, so lines of it look and compress like text. */
static void draw_glyph(struct testsrc *t, int x, int y, uint32_t ch, uint32_t fg)
{
    uint32_t bits = hash32(ch * 2654435761u + 1) | 0x00400001u; /* never empty */
    int s = t->scale;
    for (int gy = 0; gy < 7; gy++)
        for (int gx = 0; gx < 5; gx++)
            if (bits >> ((gy * 5 + gx) % 32) & 1)
                fill_rect(t, x + gx * s, y + gy * s, s, s, fg);
}

/* One line of words: lengths and letters follow from `seed`. */
static void draw_text_line(struct testsrc *t, int x, int y, int max_w,
                           uint32_t seed, uint32_t fg)
{
    int cols = max_w / t->glyph_w;
    int used = (int)(hash32(seed) % (uint32_t)(cols + 1)); /* ragged right edge */
    for (int c = 0; c < used; c++) {
        uint32_t h = hash32(seed * 131u + (uint32_t)c);
        if (h % 6 == 0)
            continue; /* a space between words */
        draw_glyph(t, x + c * t->glyph_w, y, 'a' + h % 26, fg);
    }
}

static void draw_window(struct testsrc *t, struct rect r, uint32_t body,
                        uint32_t title, struct rect *text_area)
{
    int bar = 12 * t->scale;
    fill_rect(t, r.x - 1, r.y - 1, r.w + 2, r.h + 2, rgb(60, 60, 60)); /* frame */
    fill_rect(t, r.x, r.y, r.w, bar, title);
    fill_rect(t, r.x, r.y + bar, r.w, r.h - bar, body);
    *text_area = (struct rect){ r.x + 4 * t->scale, r.y + bar + 4 * t->scale,
                                r.w - 8 * t->scale, r.h - bar - 8 * t->scale };
}

static void save(struct testsrc *t, struct save_under *s, int x, int y, int w, int h)
{
    s->x = x < 0 ? 0 : x;
    s->y = y < 0 ? 0 : y;
    s->w = (x + w > t->buf_w ? t->buf_w : x + w) - s->x;
    s->h = (y + h > t->buf_h ? t->buf_h : y + h) - s->y;
    for (int j = 0; j < s->h; j++)
        memcpy(s->pixels + (size_t)j * (size_t)s->w * 4,
               (uint8_t *)(row32(t, s->y + j) + s->x), (size_t)s->w * 4);
    s->saved = true;
}

static void restore(struct testsrc *t, struct save_under *s)
{
    if (!s->saved)
        return;
    for (int j = 0; j < s->h; j++)
        memcpy((uint8_t *)(row32(t, s->y + j) + s->x),
               s->pixels + (size_t)j * (size_t)s->w * 4, (size_t)s->w * 4);
    s->saved = false;
}

/* A triangle wave: 0, 1, ... range, range - 1, ... 0, 1, ... */
static int bounce(uint64_t step, int range)
{
    uint64_t p = step % (uint64_t)(2 * range);
    return p < (uint64_t)range ? (int)p : (int)(2 * (uint64_t)range - p);
}

/* ---- scenes ------------------------------------------------------------- */

static void draw_desktop(struct testsrc *t)
{
    int W = t->width, H = t->height, s = t->scale;
    for (int y = 0; y < H; y++) {
        int k = y * 255 / H;
        uint32_t c = rgb(30 + k / 8, 60 + k / 6, 110 - k / 3);
        uint32_t *p = row32(t, y);
        for (int x = 0; x < W; x++)
            p[x] = c;
    }
    struct rect text;
    /* an editor with static text */
    draw_window(t, (struct rect){ W * 4 / 100, H * 14 / 100, W * 50 / 100, H * 70 / 100 },
                rgb(246, 246, 242), rgb(200, 205, 215), &text);
    for (int y = 0, n = 0; y + t->line_h <= text.h; y += t->line_h, n++)
        draw_text_line(t, text.x, text.y + y, text.w, 1000u + (uint32_t)n, rgb(40, 40, 60));
    /* a terminal whose text area scrolls */
    draw_window(t, (struct rect){ W * 58 / 100, H * 22 / 100, W * 38 / 100, H * 55 / 100 },
                rgb(18, 20, 24), rgb(70, 75, 90), &t->term);
    t->term.h -= t->term.h % t->line_h;
    for (int y = 0, n = 0; y + t->line_h <= t->term.h; y += t->line_h, n++)
        draw_text_line(t, t->term.x, t->term.y + y, t->term.w, (uint32_t)n, rgb(120, 220, 130));
    /* a taskbar with icons and a progress bar */
    int bar = 20 * s;
    fill_rect(t, 0, H - bar, W, bar, rgb(32, 34, 40));
    for (int i = 0; i < 8; i++)
        fill_rect(t, 8 * s + i * 22 * s, H - bar + 3 * s, 14 * s, 14 * s,
                  rgb(60 + i * 20, 120, 200 - i * 15));
    t->progress = (struct rect){ W - 120 * s, H - bar + 7 * s, 100 * s, 6 * s };
    fill_rect(t, t->progress.x, t->progress.y, t->progress.w, t->progress.h, rgb(70, 70, 70));
}

static void draw_game_texture(struct testsrc *t)
{
    /* Smooth colour waves plus a grid of discs: detail everywhere, so every
     * pixel of the view changes when it moves. */
    static uint8_t wave[256];
    for (int i = 0; i < 256; i++) {
        int v = i < 128 ? i * 2 : (255 - i) * 2; /* a triangle stands in for sin */
        wave[i] = (uint8_t)(v > 255 ? 255 : v);
    }
    for (int y = 0; y < t->buf_h; y++) {
        uint32_t *p = row32(t, y);
        for (int x = 0; x < t->buf_w; x++) {
            int r = wave[(x / 3 + y / 5) & 255];
            int g = wave[(x / 7 - y / 2) & 255];
            int b = wave[((x ^ y) / 4) & 255];
            int cx = x % 96 - 48, cy = y % 96 - 48;
            if (cx * cx + cy * cy < 30 * 30) {
                r = 255 - r;
                g = (g + 128) & 255;
            }
            p[x] = rgb(r, g, b);
        }
    }
}

/* Changes the desktop from its state at the last frame made to frame i. */
static void update_desktop(struct testsrc *t, uint64_t i)
{
    restore(t, &t->cursor_under);

    uint64_t every = (uint64_t)(t->fps >= SCROLL_HZ ? t->fps / SCROLL_HZ : 1);
    uint64_t steps = i / every;
    uint64_t lines = (uint64_t)(t->term.h / t->line_h);
    uint64_t todo = steps - t->scroll_steps;
    if (todo > lines)
        todo = lines;
    if (todo) {
        int dy = (int)todo * t->line_h;
        size_t bytes = (size_t)t->term.w * 4;
        for (int y = t->term.y; y + dy < t->term.y + t->term.h; y++)
            memcpy(row32(t, y) + t->term.x, row32(t, y + dy) + t->term.x, bytes);
        fill_rect(t, t->term.x, t->term.y + t->term.h - dy, t->term.w, dy, rgb(18, 20, 24));
        for (uint64_t k = 0; k < todo; k++) {
            uint64_t n = lines + steps - todo + k; /* the line's number in the log */
            int y = t->term.y + t->term.h - dy + (int)k * t->line_h;
            draw_text_line(t, t->term.x, y, t->term.w, (uint32_t)n, rgb(120, 220, 130));
        }
        t->scroll_steps = steps;
    }

    /* progress: one pixel column per frame, round and round */
    int done = (int)(i % (uint64_t)t->progress.w);
    if (done == 0)
        fill_rect(t, t->progress.x, t->progress.y, t->progress.w, t->progress.h, rgb(70, 70, 70));
    fill_rect(t, t->progress.x, t->progress.y, done + 1, t->progress.h, rgb(80, 200, 120));

    /* the cursor wanders over the screen */
    int s = t->scale, cw = 12 * s, ch = 18 * s;
    int cx = bounce(i * 3u * (uint64_t)s, t->width - cw - 1);
    int cy = bounce(i * 2u * (uint64_t)s, t->height - ch - 1);
    save(t, &t->cursor_under, cx, cy, cw, ch);
    for (int y = 0; y < ch; y++) {
        int w = y * cw / ch + 1; /* a wedge, like an arrow */
        fill_rect(t, cx, cy + y, w, 1, y == ch - 1 || w <= 2 ? rgb(0, 0, 0) : rgb(255, 255, 255));
        fill_rect(t, cx + w - 1, cy + y, 1, 1, rgb(0, 0, 0));
    }
}

/* ---- the backend -------------------------------------------------------- */

static void testsrc_close(struct pvs_capture **c)
{
    struct testsrc *t = (struct testsrc *)*c;
    if (!t)
        return;
    free(t->buf);
    free(t->stamp_under.pixels);
    free(t->cursor_under.pixels);
    free(t);
    *c = NULL;
}

static int testsrc_open(struct pvs_capture **out, const struct pvs_capture_opts *o)
{
    *out = NULL;
    int w = o->width ? o->width : 1920, h = o->height ? o->height : 1080;
    int fps = o->fps ? o->fps : 60;
    if (w < MIN_WIDTH || h < MIN_HEIGHT || w > MAX_WIDTH || h > MAX_HEIGHT || (w | h) & 1) {
        PVS_LOG_E("testsrc: size %dx%d: must be even, from %dx%d to %dx%d",
                  w, h, MIN_WIDTH, MIN_HEIGHT, MAX_WIDTH, MAX_HEIGHT);
        return PVS_EINVAL;
    }
    if (fps < 1 || fps > MAX_FPS) {
        PVS_LOG_E("testsrc: %d fps: must be 1..%d", fps, MAX_FPS);
        return PVS_EINVAL;
    }
    if ((unsigned)o->content > PVS_CONTENT_GAME)
        return PVS_EINVAL;

    struct testsrc *t = calloc(1, sizeof(*t));
    if (!t)
        return PVS_ENOMEM;
    t->base.ops = &pvs_capture_testsrc;
    t->width = w;
    t->height = h;
    t->fps = fps;
    t->content = o->content;
    bool game = o->content == PVS_CONTENT_GAME;
    t->buf_w = w + (game ? PAN : 0);
    t->buf_h = h + (game ? PAN : 0);
    t->stride = (t->buf_w * 4 + 63) & ~63; /* rows start on a cache line */
    t->scale = h >= 2160 ? 4 : h >= 1440 ? 3 : h >= 720 ? 2 : 1;
    t->glyph_w = 6 * t->scale;
    t->line_h = 10 * t->scale;
    pvs_stamp_area(w, h, &t->stamp_w, &t->stamp_h);

    t->buf = malloc((size_t)t->stride * (size_t)t->buf_h);
    t->stamp_under.pixels = malloc((size_t)t->stamp_w * (size_t)t->stamp_h * 4);
    t->cursor_under.pixels = malloc((size_t)12 * 18 * 4 * (size_t)(t->scale * t->scale));
    if (!t->buf || !t->stamp_under.pixels || !t->cursor_under.pixels) {
        struct pvs_capture *c = &t->base;
        testsrc_close(&c);
        return PVS_ENOMEM;
    }
    if (game)
        draw_game_texture(t);
    else
        draw_desktop(t);
    *out = &t->base;
    return 0;
}

static int64_t due_ns(const struct testsrc *t, uint64_t i)
{
    return t->t0 + (int64_t)(i * 1000000000ull / (uint64_t)t->fps);
}

static int testsrc_next(struct pvs_capture *c, struct pvs_frame *f, int timeout_ms)
{
    struct testsrc *t = (struct testsrc *)c;
    int64_t now = pvs_time_ns();
    if (!t->started) {
        t->started = true;
        t->t0 = now;
    }
    uint64_t i = t->next_index;
    if (now >= due_ns(t, i + 1)) {
        /* Frame i's slot is over: skip to the slot we are in, count the rest. */
        uint64_t slot = (uint64_t)(now - t->t0) * (uint64_t)t->fps / 1000000000ull;
        while (due_ns(t, slot + 1) <= now) /* integer rounding of due_ns */
            slot++;
        while (slot > i && due_ns(t, slot) > now)
            slot--;
        c->stats.late += slot - i;
        i = slot;
    }
    int64_t due = due_ns(t, i);
    if (due > now) {
        if (timeout_ms >= 0 && due - now > (int64_t)timeout_ms * 1000000) {
            pvs_sleep_ns((int64_t)timeout_ms * 1000000);
            return PVS_ETIMEDOUT;
        }
        pvs_sleep_until_ns(due);
    }
    int64_t captured = pvs_time_ns();

    bool changed = true;
    switch (t->content) {
    case PVS_CONTENT_STATIC:
        changed = t->frames_made == 0;
        break;
    case PVS_CONTENT_DESKTOP:
        update_desktop(t, i); /* the cursor moves every frame */
        break;
    case PVS_CONTENT_GAME:
        restore(t, &t->stamp_under);
        t->view_x = bounce(i * 6, PAN);
        t->view_y = bounce(i * 4, PAN);
        save(t, &t->stamp_under, t->view_x, t->view_y, t->stamp_w, t->stamp_h);
        break;
    }

    memset(f, 0, sizeof(*f));
    f->img.fmt = PVS_PIX_BGRA;
    f->img.width = t->width;
    f->img.height = t->height;
    f->img.data[0] = t->buf + (size_t)t->view_y * (size_t)t->stride + (size_t)t->view_x * 4;
    f->img.stride[0] = t->stride;
    struct pvs_stamp st = { (uint32_t)i, (uint64_t)(captured / 1000) };
    pvs_stamp_paint(&f->img, &st);
    f->number = i;
    f->due_ns = due;
    f->capture_ns = captured;
    f->changed = changed;

    t->next_index = i + 1;
    t->frames_made++;
    c->stats.frames++;
    return 0;
}

static void testsrc_release(struct pvs_capture *c, struct pvs_frame *f)
{
    /* Nothing to give back: the next frame restores what this one drew over. */
    (void)c;
    memset(f, 0, sizeof(*f));
}

const struct pvs_capture_ops pvs_capture_testsrc = {
    .name = "testsrc",
    .description = "synthetic test desktop",
    .open = testsrc_open,
    .next = testsrc_next,
    .release = testsrc_release,
    .close = testsrc_close,
};
