/* gdi: captures the Windows desktop with GDI (Windows only): the fallback
 * where Desktop Duplication is unavailable (a remote desktop session, some
 * virtual display adapters, Wine).
 *
 * Choices, and why:
 *
 * - Each frame is a BitBlt from the screen DC into a top-down 32-bit DIB
 *   section: the DIB's memory is ours, rows are BGRX with a positive stride,
 *   which is the interface's BGRA, and no GetDIBits copy follows. Two DIB
 *   sections alternate, so the frame handed out stays valid until release()
 *   while the next one is grabbed into the other; next() with both held
 *   returns PVS_EAGAIN. The fourth byte is whatever the blit left there:
 *   nothing downstream reads alpha (see x11.c).
 *
 * - No CAPTUREBLT: since Windows 8 the screen DC reads the composed desktop,
 *   layered windows included, and with CAPTUREBLT Windows hides the cursor
 *   for each blit, so the user's own cursor would flicker at the capture
 *   rate.
 *
 * - The primary monitor: it is always at (0,0) of the virtual screen, which
 *   is where the screen DC starts. Width and height 0 in the options take it
 *   whole (an odd side rounded down to even, as encoders need); less takes
 *   its top-left corner, as x11 does. The process is made DPI aware at open:
 *   otherwise, on a scaled display (150 % is common in VMs), Windows reports
 *   a virtualised, smaller screen and the blit takes only part of it.
 *
 * - The cursor is composited into the frame here (the protocol has no cursor
 *   channel, and BitBlt never includes it) with GetCursorInfo and DrawIconEx
 *   on the memory DC, not with a blend of our own: DrawIconEx applies a
 *   cursor by the system's own rules, which a blend would have to redo for
 *   each kind there is: monochrome AND/XOR masks (the text I-beam inverts
 *   what is under it), colour cursors with a mask, 32-bit alpha cursors, and
 *   the cursor size the user chose. The hot spot comes from GetIconInfo,
 *   asked once per cursor handle (it makes two bitmaps each call). Drawing
 *   it costs 0.4 ms (p50, Wine). Where the handle cannot be read (Wine: see
 *   draw_cursor) the arrow is drawn at the pointer's position instead.
 *
 * - `changed` compares the composited frame with the previous one (one
 *   memcmp, which stops at the first difference), so a moved cursor counts
 *   as a change. GDI has no damage information. Measured under Wine at
 *   1920x1080 on a 2-core VM: 1.3 ms (p50) when nothing changed, the whole
 *   frame compared, against the blit's 16-17 ms; a changed frame stops
 *   sooner. Cheap enough to keep: an unchanged frame saves the server a
 *   conversion and an encode. Frames are produced at the paced rate when
 *   nothing changed, with changed = false, as x11 does.
 *
 * - Under Wine the screen DC is Wine's desktop: Wine's own windows are seen
 *   live, but what other X clients drew is seen as it was when the process
 *   started. A 1080p blit there costs 16-17 ms (p50, Xvfb), most of it page
 *   faults: Wine's buffer for each blit goes back to the kernel when freed
 *   and is faulted in again; with MALLOC_TOP_PAD_=67108864 in Wine's
 *   environment it costs 6 ms and 60 fps holds.
 *
 * - A new size of the primary monitor (GetSystemMetrics, checked every
 *   frame: it reads shared memory, no round trip) makes next() return
 *   PVS_EREINIT. A blit that fails at the same size (the secure desktop of a
 *   UAC prompt or the lock screen is not readable from the user's session)
 *   repeats the last frame, unchanged, until blits work again, with one log
 *   line when that starts and one when it ends: the stream stays up.
 *
 * - Pacing as testsrc and x11: frame i is due at start + i / fps, never
 *   early; a caller that comes back late gets the newest due frame and the
 *   slots it missed count as late. fps 0 takes the display's refresh rate
 *   (GetDeviceCaps VREFRESH) when it says, else 60. capture_ns is when the
 *   blit was asked for. No stamp is painted: the frame is what is on screen.
 *
 * - open() returns PVS_ENODEV, with one log line, where there is no desktop
 *   to read: a non-interactive window station (a service in session 0), no
 *   screen DC, or a screen DC that cannot be read: Wine without an X display
 *   has a 1024x768 screen DC whose blits fail (error 1400), so open() tries
 *   one small blit. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stats.h"

#define MAX_FPS     240
#define DEFAULT_FPS 60
#define NBUF        2

extern const struct pvs_capture_ops pvs_capture_gdi;

struct buffer {
    HBITMAP bmp;
    uint8_t *pixels;  /* the DIB section's memory */
    bool in_use;
};

struct gdicap {
    struct pvs_capture base;
    HDC screen;       /* the screen DC (GetDC(NULL)) */
    HDC mem;          /* a memory DC the buffers are selected into in turn */
    HGDIOBJ mem_default_bmp;
    int screen_w, screen_h;  /* the primary monitor at open */
    int width, height, fps, stride;
    struct buffer buf[NBUF];
    int last;         /* the buffer of the previous frame, -1 before the first */

    HCURSOR cursor;   /* the cursor last seen... */
    HCURSOR draw;     /* ...what is drawn for it (itself, or the arrow) */
    int hot_x, hot_y; /* draw's hot spot */
    bool said_arrow;
    bool blit_failing;

    bool started;
    int64_t t0;
    uint64_t next_index;

    struct pvs_stats blit, cursor_cost, compare;  /* for the debug line at close */
};

/* ---- setup ------------------------------------------------------------------ */

/* Physical pixels for the screen DC and the metrics. Process-wide, as
 * Windows scopes it; a second call (or a manifest that said it first)
 * changes nothing. SetProcessDpiAwarenessContext is Windows 10 1703 and
 * later; SetProcessDPIAware (system-aware) is Vista's. */
static void make_dpi_aware(void)
{
    typedef BOOL(WINAPI * set_ctx_fn)(HANDLE);
    HMODULE user32 = GetModuleHandleW(L"user32.dll");
    FARPROC p = user32 ? GetProcAddress(user32, "SetProcessDpiAwarenessContext") : NULL;
    set_ctx_fn set_ctx;
    memcpy(&set_ctx, &p, sizeof(set_ctx)); /* FARPROC to a typed pointer */
    /* DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 is ((HANDLE)-4). */
    if (!set_ctx || !set_ctx((HANDLE)(intptr_t)-4))
        SetProcessDPIAware();
}

/* False in a non-interactive window station (a service in session 0). */
static bool interactive_station(void)
{
    USEROBJECTFLAGS fl;
    HWINSTA ws = GetProcessWindowStation();
    if (!ws || !GetUserObjectInformationW(ws, UOI_FLAGS, &fl, sizeof(fl), NULL))
        return true; /* cannot tell: let GetDC decide */
    return (fl.dwFlags & WSF_VISIBLE) != 0;
}

static void free_buffers(struct gdicap *g)
{
    if (g->mem && g->mem_default_bmp)
        SelectObject(g->mem, g->mem_default_bmp);
    for (int i = 0; i < NBUF; i++) {
        if (g->buf[i].bmp)
            DeleteObject(g->buf[i].bmp);
        g->buf[i] = (struct buffer){ 0 };
    }
}

static int make_buffers(struct gdicap *g)
{
    BITMAPINFO bi = { 0 };
    bi.bmiHeader.biSize = sizeof(bi.bmiHeader);
    bi.bmiHeader.biWidth = g->width;
    bi.bmiHeader.biHeight = -g->height; /* negative: top-down rows */
    bi.bmiHeader.biPlanes = 1;
    bi.bmiHeader.biBitCount = 32;
    bi.bmiHeader.biCompression = BI_RGB;
    for (int i = 0; i < NBUF; i++) {
        void *bits = NULL;
        g->buf[i].bmp = CreateDIBSection(g->mem, &bi, DIB_RGB_COLORS, &bits, NULL, 0);
        if (!g->buf[i].bmp || !bits) {
            PVS_LOG_E("gdi: cannot make a %dx%d bitmap (CreateDIBSection: error %lu)",
                      g->width, g->height, (unsigned long)GetLastError());
            return PVS_ENOMEM;
        }
        g->buf[i].pixels = bits;
    }
    g->mem_default_bmp = SelectObject(g->mem, g->buf[0].bmp);
    return 0;
}

static void log_costs(const struct gdicap *g)
{
    struct pvs_stats_summary b, c, k;
    pvs_stats_summarize(&g->blit, &b);
    pvs_stats_summarize(&g->cursor_cost, &c);
    pvs_stats_summarize(&g->compare, &k);
    if (b.count)
        PVS_LOG_D("gdi: %llu frames; p50/p99 ms: BitBlt %.3f/%.3f, cursor %.3f/%.3f, "
                  "compare %.3f/%.3f", (unsigned long long)b.count, b.p50_ms, b.p99_ms,
                  c.p50_ms, c.p99_ms, k.p50_ms, k.p99_ms);
}

static void gdi_close(struct pvs_capture **c)
{
    struct gdicap *g = (struct gdicap *)*c;
    if (!g)
        return;
    log_costs(g);
    free_buffers(g);
    if (g->mem)
        DeleteDC(g->mem);
    if (g->screen)
        ReleaseDC(NULL, g->screen);
    free(g);
    *c = NULL;
}

static int gdi_open(struct pvs_capture **out, const struct pvs_capture_opts *o)
{
    *out = NULL;
    if (o->fps < 0 || o->fps > MAX_FPS || o->width < 0 || o->height < 0) {
        PVS_LOG_E("gdi: %d fps, size %dx%d: fps must be 0..%d, sizes 0 or more",
                  o->fps, o->width, o->height, MAX_FPS);
        return PVS_EINVAL;
    }
    if (!interactive_station()) {
        PVS_LOG_W("gdi: this process has no desktop (a service's non-interactive window "
                  "station): run pvstream-server in the signed-in user's session");
        return PVS_ENODEV;
    }
    make_dpi_aware();

    struct gdicap *g = calloc(1, sizeof(*g));
    if (!g)
        return PVS_ENOMEM;
    g->base.ops = &pvs_capture_gdi;
    g->last = -1;
    pvs_stats_reset(&g->blit);
    pvs_stats_reset(&g->cursor_cost);
    pvs_stats_reset(&g->compare);
    struct pvs_capture *c = &g->base;
    int err;

    g->screen = GetDC(NULL);
    if (!g->screen) {
        PVS_LOG_W("gdi: no screen device context (GetDC: error %lu): this session has no "
                  "desktop to read", (unsigned long)GetLastError());
        err = PVS_ENODEV;
        goto fail;
    }
    g->screen_w = GetSystemMetrics(SM_CXSCREEN);
    g->screen_h = GetSystemMetrics(SM_CYSCREEN);
    g->width = o->width ? o->width : g->screen_w & ~1;
    g->height = o->height ? o->height : g->screen_h & ~1;
    if (g->width < 2 || g->height < 2 || g->width > g->screen_w || g->height > g->screen_h) {
        PVS_LOG_E("gdi: capture size %dx%d does not fit the %dx%d primary monitor",
                  g->width, g->height, g->screen_w, g->screen_h);
        err = PVS_EINVAL;
        goto fail;
    }
    g->stride = g->width * 4;
    int rate = GetDeviceCaps(g->screen, VREFRESH); /* 0 or 1: the hardware default */
    g->fps = o->fps ? o->fps : rate > 1 && rate <= MAX_FPS ? rate : DEFAULT_FPS;

    g->mem = CreateCompatibleDC(g->screen);
    if (!g->mem) {
        PVS_LOG_E("gdi: CreateCompatibleDC failed (error %lu)", (unsigned long)GetLastError());
        err = PVS_EIO;
        goto fail;
    }
    if ((err = make_buffers(g)) < 0)
        goto fail;
    /* A screen DC can exist with nothing to read behind it (Wine without an
     * X display has one, 1024x768): one small blit tells. */
    if (!BitBlt(g->mem, 0, 0, 2, 2, g->screen, 0, 0, SRCCOPY)) {
        PVS_LOG_W("gdi: the screen cannot be read (BitBlt fails): no display in this session "
                  "(under Wine: no X display; set DISPLAY)");
        err = PVS_ENODEV;
        goto fail;
    }
    PVS_LOG_I("gdi: primary monitor, %dx%d of %dx%d at %d fps, BitBlt, cursor",
              g->width, g->height, g->screen_w, g->screen_h, g->fps);
    *out = c;
    return 0;
fail:
    gdi_close(&c);
    return err;
}

/* ---- frames ------------------------------------------------------------------ */

static int64_t due_ns(const struct gdicap *g, uint64_t i)
{
    return g->t0 + (int64_t)(i * 1000000000ull / (uint64_t)g->fps);
}

/* Draws the cursor into the memory DC (the buffer selected in it). */
static void draw_cursor(struct gdicap *g)
{
    CURSORINFO ci = { .cbSize = sizeof(ci) };
    if (!GetCursorInfo(&ci) || !(ci.flags & CURSOR_SHOWING))
        return;
    if (ci.hCursor != g->cursor || !g->draw) {
        ICONINFO ii;
        HCURSOR draw = ci.hCursor;
        if (!draw || !GetIconInfo(draw, &ii)) {
            /* Wine hands out the cursor handle of the process that set it,
             * which no other process can use (error 1402), and none at all
             * while no Wine window set one; Windows shares cursor handles
             * between processes. The arrow in its place keeps the pointer's
             * position on the stream. */
            draw = LoadCursorW(NULL, MAKEINTRESOURCEW(32512)); /* IDC_ARROW */
            if (!draw || !GetIconInfo(draw, &ii))
                return;
            if (!g->said_arrow)
                PVS_LOG_I("gdi: the cursor's image cannot be read from this process (Wine): "
                          "drawing the arrow in its place");
            g->said_arrow = true;
        }
        if (ii.hbmMask)
            DeleteObject(ii.hbmMask);
        if (ii.hbmColor)
            DeleteObject(ii.hbmColor);
        g->cursor = ci.hCursor;
        g->draw = draw;
        g->hot_x = (int)ii.xHotspot;
        g->hot_y = (int)ii.yHotspot;
    }
    /* The DC clips what falls outside the frame. */
    DrawIconEx(g->mem, ci.ptScreenPos.x - g->hot_x, ci.ptScreenPos.y - g->hot_y, g->draw,
               0, 0, 0, NULL, DI_NORMAL);
}

static bool same_pixels(const struct gdicap *g, const uint8_t *a, const uint8_t *b)
{
    /* The rows are contiguous (stride = width * 4): one memcmp, which stops
     * at the first difference. */
    return memcmp(a, b, (size_t)g->stride * (size_t)g->height) == 0;
}

static bool size_changed(struct gdicap *g)
{
    int w = GetSystemMetrics(SM_CXSCREEN), h = GetSystemMetrics(SM_CYSCREEN);
    if (w == g->screen_w && h == g->screen_h)
        return false;
    PVS_LOG_I("gdi: the primary monitor changed from %dx%d to %dx%d",
              g->screen_w, g->screen_h, w, h);
    return true;
}

static int gdi_next(struct pvs_capture *c, struct pvs_frame *f, int timeout_ms)
{
    struct gdicap *g = (struct gdicap *)c;
    int64_t now = pvs_time_ns();
    if (!g->started) {
        g->started = true;
        g->t0 = now;
    }
    uint64_t i = g->next_index;
    if (now >= due_ns(g, i + 1)) {
        /* Frame i's slot is over: take the slot we are in, count the rest. */
        uint64_t slot = (uint64_t)(now - g->t0) * (uint64_t)g->fps / 1000000000ull;
        while (due_ns(g, slot + 1) <= now)
            slot++;
        while (slot > i && due_ns(g, slot) > now)
            slot--;
        c->stats.late += slot - i;
        i = slot;
    }
    int64_t due = due_ns(g, i);
    if (due > now) {
        if (timeout_ms >= 0 && due - now > (int64_t)timeout_ms * 1000000) {
            pvs_sleep_ns((int64_t)timeout_ms * 1000000);
            return size_changed(g) ? PVS_EREINIT : PVS_ETIMEDOUT;
        }
        pvs_sleep_until_ns(due);
    }
    if (size_changed(g))
        return PVS_EREINIT;

    /* Always the buffer that did not hold the previous frame: the previous
     * one is what this frame is compared with. */
    int k = g->last < 0 ? 0 : (g->last + 1) % NBUF;
    struct buffer *b = &g->buf[k];
    if (b->in_use) {
        PVS_LOG_D("gdi: next() while both frames are held: release one first");
        return PVS_EAGAIN;
    }
    const struct buffer *prev = g->last < 0 ? NULL : &g->buf[g->last];

    int64_t captured = pvs_time_ns();
    SelectObject(g->mem, b->bmp);
    bool ok = BitBlt(g->mem, 0, 0, g->width, g->height, g->screen, 0, 0, SRCCOPY);
    int64_t t_blit = pvs_time_ns();
    bool changed;
    if (ok) {
        if (g->blit_failing)
            PVS_LOG_I("gdi: the desktop can be read again");
        g->blit_failing = false;
        draw_cursor(g);
        GdiFlush(); /* the DIB's memory is read directly next */
        int64_t t_cursor = pvs_time_ns();
        changed = !prev || !same_pixels(g, b->pixels, prev->pixels);
        pvs_stats_add(&g->blit, t_blit - captured);
        pvs_stats_add(&g->cursor_cost, t_cursor - t_blit);
        pvs_stats_add(&g->compare, pvs_time_ns() - t_cursor);
    } else {
        DWORD e = GetLastError();
        if (size_changed(g))
            return PVS_EREINIT;
        if (!prev) {
            PVS_LOG_E("gdi: cannot read the screen (BitBlt: error %lu)", (unsigned long)e);
            return PVS_EIO;
        }
        if (!g->blit_failing)
            PVS_LOG_W("gdi: cannot read the screen (BitBlt: error %lu; the secure desktop of a "
                      "UAC prompt or the lock screen?): repeating the last frame until it can",
                      (unsigned long)e);
        g->blit_failing = true;
        memcpy(b->pixels, prev->pixels, (size_t)g->stride * (size_t)g->height);
        changed = false;
    }

    memset(f, 0, sizeof(*f));
    f->img.fmt = PVS_PIX_BGRA;
    f->img.width = g->width;
    f->img.height = g->height;
    f->img.data[0] = b->pixels;
    f->img.stride[0] = g->stride;
    f->number = i;
    f->due_ns = due;
    f->capture_ns = captured;
    f->changed = changed;
    b->in_use = true;
    g->last = k;
    g->next_index = i + 1;
    c->stats.frames++;
    return 0;
}

static void gdi_release(struct pvs_capture *c, struct pvs_frame *f)
{
    struct gdicap *g = (struct gdicap *)c;
    for (int k = 0; k < NBUF; k++)
        if (g->buf[k].in_use && g->buf[k].pixels == f->img.data[0])
            g->buf[k].in_use = false;
    memset(f, 0, sizeof(*f));
}

const struct pvs_capture_ops pvs_capture_gdi = {
    .name = "gdi",
    .description = "Windows desktop through GDI BitBlt",
    .open = gdi_open,
    .next = gdi_next,
    .release = gdi_release,
    .close = gdi_close,
};
