/* The client's window: an SDL2 window and renderer that show each decoded
 * picture as soon as it is handed over (NV12 or IYUV texture, scaled with
 * the aspect ratio kept), a status line while there is nothing to show,
 * and the statistics overlay drawn with the built-in font (client/font.h).
 *
 * Threading: main thread only (SDL's video functions). */
#ifndef PVS_CLIENT_PRESENT_H
#define PVS_CLIENT_PRESENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/image.h"

struct SDL_Window; /* SDL's, kept out of this header */

struct pvs_present_config {
    const char *title;
    bool fullscreen;
    bool vsync;         /* pace SDL_RenderPresent to the display */
    int width, height;  /* the window's first size */
};

struct pvs_present;

/* Opens the window (SDL_INIT_VIDEO must have succeeded) and a renderer:
 * accelerated first, software if that fails. Returns 0 or PVS_EEXTERNAL
 * (the log says what SDL said). */
int pvs_present_open(struct pvs_present **out, const struct pvs_present_config *cfg);
/* Accepts NULL; clears *p. */
void pvs_present_close(struct pvs_present **p);

/* "opengl", "software"... */
const char *pvs_present_renderer_name(const struct pvs_present *p);
/* Whether the renderer waits for the display's refresh in
 * SDL_RenderPresent: asked with cfg->vsync, and SDL says it granted it. */
bool pvs_present_vsync(const struct pvs_present *p);
struct SDL_Window *pvs_present_window(struct pvs_present *p);

/* Puts a picture (NV12 or I420) in the texture, re-creating the texture
 * when the format or size changed. Returns 0, PVS_ENOTSUP for another
 * format, or PVS_EEXTERNAL. */
int pvs_present_upload(struct pvs_present *p, const struct pvs_image *img);

/* Draws the last picture letterboxed (or black without one), `status`
 * centred when not NULL or "", the `n` overlay lines top left, and
 * presents. Returns the time SDL_RenderPresent returned (pvs_time_us():
 * where glass to glass ends in a window; with vsync, after the wait for
 * the refresh, where the driver waits there). */
int64_t pvs_present_draw(struct pvs_present *p, const char *status, const char *const *lines,
                         int n);

/* Resizes the window to a new stream size (kept within the display's
 * usable area, aspect kept); nothing in full screen. */
void pvs_present_follow_size(struct pvs_present *p, int width, int height);

void pvs_present_toggle_fullscreen(struct pvs_present *p);

/* The pixel of the picture under window position (wx, wy), clamped to the
 * picture, and the picture's size. Returns false when there is no picture
 * yet (nothing written). */
bool pvs_present_to_frame(const struct pvs_present *p, int wx, int wy, int *fx, int *fy,
                          int *fw, int *fh);

#endif
