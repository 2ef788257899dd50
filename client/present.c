/* The client's SDL2 window (see present.h). */
#include "client/present.h"

#include <stdlib.h>
#include <string.h>

#include <SDL.h>

#include "client/font.h"
#include "client/view.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define RECT_BATCH 1024

struct pvs_present {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    enum pvs_pix_fmt tex_fmt;
    int tex_w, tex_h;
    bool fullscreen;
    char renderer_name[32];
    bool vsync;                   /* the renderer SDL made waits for the refresh */
    SDL_Rect rects[RECT_BATCH];   /* glyph pixels, drawn in batches */
    int nrects;
};

int pvs_present_open(struct pvs_present **out, const struct pvs_present_config *cfg)
{
    *out = NULL;
    struct pvs_present *p = calloc(1, sizeof(*p));
    if (!p)
        return PVS_ENOMEM;
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
    Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI;
    if (cfg->fullscreen)
        flags |= SDL_WINDOW_FULLSCREEN_DESKTOP;
    p->fullscreen = cfg->fullscreen;
    p->win = SDL_CreateWindow(cfg->title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
                              cfg->width > 0 ? cfg->width : 1280,
                              cfg->height > 0 ? cfg->height : 720, flags);
    if (!p->win) {
        PVS_LOG_E("cannot open a window: %s (no display? use --headless)", SDL_GetError());
        free(p);
        return PVS_EEXTERNAL;
    }
    Uint32 vs = cfg->vsync ? SDL_RENDERER_PRESENTVSYNC : 0;
    p->ren = SDL_CreateRenderer(p->win, -1, SDL_RENDERER_ACCELERATED | vs);
    if (!p->ren) {
        PVS_LOG_W("no accelerated renderer (%s): drawing in software", SDL_GetError());
        p->ren = SDL_CreateRenderer(p->win, -1, SDL_RENDERER_SOFTWARE | vs);
    }
    if (!p->ren) {
        PVS_LOG_E("cannot draw in the window: %s", SDL_GetError());
        SDL_DestroyWindow(p->win);
        free(p);
        return PVS_EEXTERNAL;
    }
    SDL_RendererInfo info;
    if (SDL_GetRendererInfo(p->ren, &info) == 0) {
        snprintf(p->renderer_name, sizeof(p->renderer_name), "%s", info.name);
        /* Asked for and granted: SDL 2.26's software renderer reports
         * PRESENTVSYNC unasked too, yet presents at once (320x180 under
         * Xvfb: 7.6 ms a present unasked, 17.9 ms asked). */
        p->vsync = cfg->vsync && (info.flags & SDL_RENDERER_PRESENTVSYNC) != 0;
    }
    SDL_SetRenderDrawBlendMode(p->ren, SDL_BLENDMODE_BLEND);
    *out = p;
    return 0;
}

void pvs_present_close(struct pvs_present **pp)
{
    if (!pp || !*pp)
        return;
    struct pvs_present *p = *pp;
    if (p->tex)
        SDL_DestroyTexture(p->tex);
    SDL_DestroyRenderer(p->ren);
    SDL_DestroyWindow(p->win);
    free(p);
    *pp = NULL;
}

const char *pvs_present_renderer_name(const struct pvs_present *p)
{
    return p->renderer_name;
}

bool pvs_present_vsync(const struct pvs_present *p)
{
    return p->vsync;
}

SDL_Window *pvs_present_window(struct pvs_present *p)
{
    return p->win;
}

int pvs_present_upload(struct pvs_present *p, const struct pvs_image *img)
{
    if (img->fmt != PVS_PIX_NV12 && img->fmt != PVS_PIX_I420)
        return PVS_ENOTSUP;
    if (!p->tex || p->tex_fmt != img->fmt || p->tex_w != img->width || p->tex_h != img->height) {
        if (p->tex)
            SDL_DestroyTexture(p->tex);
        Uint32 fmt = img->fmt == PVS_PIX_NV12 ? SDL_PIXELFORMAT_NV12 : SDL_PIXELFORMAT_IYUV;
        p->tex = SDL_CreateTexture(p->ren, fmt, SDL_TEXTUREACCESS_STREAMING, img->width,
                                   img->height);
        if (!p->tex) {
            PVS_LOG_E("cannot make a %dx%d %s texture: %s", img->width, img->height,
                      pvs_pix_fmt_name(img->fmt), SDL_GetError());
            p->tex_w = p->tex_h = 0;
            return PVS_EEXTERNAL;
        }
        p->tex_fmt = img->fmt;
        p->tex_w = img->width;
        p->tex_h = img->height;
    }
    int rc;
    if (img->fmt == PVS_PIX_NV12)
        rc = SDL_UpdateNVTexture(p->tex, NULL, img->data[0], img->stride[0], img->data[1],
                                 img->stride[1]);
    else
        rc = SDL_UpdateYUVTexture(p->tex, NULL, img->data[0], img->stride[0], img->data[1],
                                  img->stride[1], img->data[2], img->stride[2]);
    if (rc != 0) {
        PVS_LOG_E("cannot update the texture: %s", SDL_GetError());
        return PVS_EEXTERNAL;
    }
    return 0;
}

static void flush_rects(struct pvs_present *p)
{
    if (p->nrects)
        SDL_RenderFillRects(p->ren, p->rects, p->nrects);
    p->nrects = 0;
}

static void draw_text(struct pvs_present *p, int x, int y, int scale, const char *text)
{
    for (int cx = x; *text; text++, cx += PVS_FONT_CELL_W * scale) {
        const uint8_t *g = pvs_font_glyph(*text);
        for (int r = 0; r < PVS_FONT_H; r++) {
            for (int c = 0; c < PVS_FONT_W; c++) {
                if (!(g[r] & (0x10 >> c)))
                    continue;
                if (p->nrects == RECT_BATCH)
                    flush_rects(p);
                p->rects[p->nrects++] = (SDL_Rect){cx + c * scale, y + r * scale, scale, scale};
            }
        }
    }
    flush_rects(p);
}

/* A block of text on a translucent black panel. */
static void draw_panel(struct pvs_present *p, int x, int y, int scale, const char *const *lines,
                       int n)
{
    int wmax = 0;
    for (int i = 0; i < n; i++) {
        int w = (int)strlen(lines[i]);
        if (w > wmax)
            wmax = w;
    }
    int pad = 2 * scale;
    SDL_Rect bg = {x, y, wmax * PVS_FONT_CELL_W * scale + 2 * pad,
                   n * PVS_FONT_CELL_H * scale + 2 * pad};
    SDL_SetRenderDrawColor(p->ren, 0, 0, 0, 170);
    SDL_RenderFillRect(p->ren, &bg);
    SDL_SetRenderDrawColor(p->ren, 255, 255, 255, 255);
    for (int i = 0; i < n; i++)
        draw_text(p, x + pad, y + pad + i * PVS_FONT_CELL_H * scale, scale, lines[i]);
}

int64_t pvs_present_draw(struct pvs_present *p, const char *status, const char *const *lines,
                         int n)
{
    int ow = 0, oh = 0;
    SDL_GetRendererOutputSize(p->ren, &ow, &oh);
    SDL_SetRenderDrawColor(p->ren, 0, 0, 0, 255);
    SDL_RenderClear(p->ren);
    if (p->tex) {
        struct pvs_view_rect r;
        pvs_view_letterbox(ow, oh, p->tex_w, p->tex_h, &r);
        SDL_Rect dst = {r.x, r.y, r.w, r.h};
        SDL_RenderCopy(p->ren, p->tex, NULL, &dst);
    }
    int scale = oh >= 1440 ? 3 : oh >= 540 ? 2 : 1;
    if (status && status[0]) {
        /* Long messages are cut to what fits; the log has them whole. */
        char line[256];
        int fit = ow / (PVS_FONT_CELL_W * scale) - 2;
        snprintf(line, sizeof(line), "%s", status);
        if (fit > 3 && (int)strlen(line) > fit)
            line[fit] = '\0';
        const char *one[1] = {line};
        int tw = (int)strlen(line) * PVS_FONT_CELL_W * scale;
        draw_panel(p, (ow - tw) / 2 - 2 * scale, oh / 2 - PVS_FONT_CELL_H * scale, scale, one, 1);
    }
    if (n > 0)
        draw_panel(p, 8, 8, scale, lines, n);
    SDL_RenderPresent(p->ren);
    return pvs_time_us();
}

void pvs_present_follow_size(struct pvs_present *p, int width, int height)
{
    if (p->fullscreen || width <= 0 || height <= 0)
        return;
    SDL_Rect usable;
    int disp = SDL_GetWindowDisplayIndex(p->win);
    if (disp < 0 || SDL_GetDisplayUsableBounds(disp, &usable) != 0)
        usable = (SDL_Rect){0, 0, width, height};
    struct pvs_view_rect r = {0, 0, width, height};
    if (width > usable.w || height > usable.h)
        pvs_view_letterbox(usable.w, usable.h, width, height, &r);
    SDL_SetWindowSize(p->win, r.w, r.h);
}

void pvs_present_toggle_fullscreen(struct pvs_present *p)
{
    p->fullscreen = !p->fullscreen;
    if (SDL_SetWindowFullscreen(p->win, p->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0) != 0) {
        PVS_LOG_W("cannot switch full screen: %s", SDL_GetError());
        p->fullscreen = !p->fullscreen;
    }
}

bool pvs_present_to_frame(const struct pvs_present *p, int wx, int wy, int *fx, int *fy,
                          int *fw, int *fh)
{
    if (!p->tex)
        return false;
    /* Events are in window coordinates, which differ from the renderer's
     * pixels on high-density displays: letterbox in window units. */
    int ww = 0, wh = 0;
    SDL_GetWindowSize(p->win, &ww, &wh);
    struct pvs_view_rect r;
    pvs_view_letterbox(ww, wh, p->tex_w, p->tex_h, &r);
    pvs_view_to_frame(&r, p->tex_w, p->tex_h, wx + 0.5, wy + 0.5, fx, fy);
    *fw = p->tex_w;
    *fh = p->tex_h;
    return true;
}
