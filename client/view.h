/* Where the stream's picture sits in the window: scaled to fit with its
 * aspect ratio kept (black bars, "letterbox"), and the way back from a
 * window position to a position in the stream's frame, for the pointer.
 * Pure arithmetic, no SDL. */
#ifndef PVS_CLIENT_VIEW_H
#define PVS_CLIENT_VIEW_H

#include <stdbool.h>

struct pvs_view_rect {
    int x, y, w, h;
};

/* The largest rectangle with the frame's aspect ratio that fits an area of
 * area_w x area_h, centred. A zero or negative size on either side gives
 * the whole area (or an empty rectangle when the area is empty). */
void pvs_view_letterbox(int area_w, int area_h, int frame_w, int frame_h,
                        struct pvs_view_rect *out);

/* Maps a point of the area (px, py: window coordinates, fractions allowed)
 * to the frame's pixel (*fx, *fy), clamped to 0..frame_w-1 and
 * 0..frame_h-1. Returns true when the point was on the picture, false on a
 * bar or outside (the clamped position is still written), and false with
 * 0, 0 for an empty rectangle or frame. */
bool pvs_view_to_frame(const struct pvs_view_rect *r, int frame_w, int frame_h,
                       double px, double py, int *fx, int *fy);

#endif
