/* Letterbox arithmetic (see view.h). */
#include "client/view.h"

#include <math.h>
#include <stdint.h>

void pvs_view_letterbox(int area_w, int area_h, int frame_w, int frame_h,
                        struct pvs_view_rect *out)
{
    *out = (struct pvs_view_rect){0, 0, area_w > 0 ? area_w : 0, area_h > 0 ? area_h : 0};
    if (area_w <= 0 || area_h <= 0 || frame_w <= 0 || frame_h <= 0)
        return;
    /* Compare aspect ratios exactly in integers: area_w/area_h vs frame_w/frame_h. */
    int64_t a = (int64_t)area_w * frame_h, f = (int64_t)area_h * frame_w;
    if (a > f) {
        /* the area is wider: bars left and right */
        int w = (int)((f + frame_h / 2) / frame_h);
        out->w = w > 0 ? w : 1;
        out->x = (area_w - out->w) / 2;
    } else if (a < f) {
        int h = (int)((a + frame_w / 2) / frame_w);
        out->h = h > 0 ? h : 1;
        out->y = (area_h - out->h) / 2;
    }
}

bool pvs_view_to_frame(const struct pvs_view_rect *r, int frame_w, int frame_h,
                       double px, double py, int *fx, int *fy)
{
    *fx = 0;
    *fy = 0;
    if (r->w <= 0 || r->h <= 0 || frame_w <= 0 || frame_h <= 0 || !isfinite(px) || !isfinite(py))
        return false;
    double x = floor((px - r->x) * frame_w / r->w);
    double y = floor((py - r->y) * frame_h / r->h);
    bool inside = x >= 0 && y >= 0 && x < frame_w && y < frame_h;
    *fx = x < 0 ? 0 : x >= frame_w ? frame_w - 1 : (int)x;
    *fy = y < 0 ? 0 : y >= frame_h ? frame_h - 1 : (int)y;
    return inside;
}
