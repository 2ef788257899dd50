/* pointer: mouse pointer shapes as Desktop Duplication gives them
 * (IDXGIOutputDuplication::GetFramePointerShape), turned into an image that
 * can be drawn onto a frame, and the CPU compositor that draws it.
 *
 * A pointer pixel is drawn in two steps: blend a premultiplied BGRA colour
 * (dst = src + dst * (255 - a) / 255, rounded, the formula the X11 backend
 * uses for its cursor), then XOR an RGB value into the result. Monochrome and
 * masked-colour pointers invert the screen where their masks say so (the
 * I-beam over a white page is black, over a black one white), which no alpha
 * value can express: hence the second plane. A converted pixel uses one step
 * or the other, never both. The GPU compositor must give the same pixels;
 * tests/unit/test_pointer.c holds the reference cases.
 *
 * The shape info and bytes come from the display driver: every size and
 * pitch is checked against the buffer before a byte is read.
 *
 * No Windows header is needed: the type values are DXGI's, defined here. */
#ifndef PVS_POINTER_H
#define PVS_POINTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/image.h"

/* DXGI_OUTDUPL_POINTER_SHAPE_TYPE values. */
#define PVS_POINTER_MONOCHROME   1u /* 1 bpp AND mask, then 1 bpp XOR mask */
#define PVS_POINTER_COLOR        2u /* 32 bpp BGRA, straight (not premultiplied) alpha */
#define PVS_POINTER_MASKED_COLOR 4u /* 32 bpp BGR; alpha 0: replace, 0xFF: XOR */

/* Largest pointer side taken, in pixels (Windows draws 32 to 256; larger
 * with accessibility sizes on high-DPI screens). */
#define PVS_POINTER_MAX_SIDE 1024

/* DXGI_OUTDUPL_POINTER_SHAPE_INFO, field for field. Untrusted. */
struct pvs_pointer_shape_info {
    uint32_t type;        /* PVS_POINTER_* */
    uint32_t width;       /* pixels */
    uint32_t height;      /* rows in the buffer: twice the pointer's height
                             for MONOCHROME (the AND mask, then the XOR mask) */
    uint32_t pitch;       /* bytes from the start of a row to the next */
    int32_t hot_x, hot_y; /* the hotspot, from the shape's top-left corner */
};

/* A converted shape. Zero-initialised it is a valid empty pointer;
 * pvs_pointer_free() releases it. */
struct pvs_pointer {
    int width, height;   /* the pointer's size; 0 for an empty shape */
    int hot_x, hot_y;    /* the hotspot, clamped into the shape */
    uint32_t type;       /* PVS_POINTER_* it was made from; 0 before the first */
    uint64_t serial;     /* +1 for each shape converted into this struct */
    bool has_xor;        /* some pixel changes the screen through xor_bgr */
    uint8_t *bgra;       /* width x height, 4 bytes a pixel, rows packed:
                            premultiplied B, G, R, A, blended first */
    uint8_t *xor_bgr;    /* the same layout: B, G, R XORed after the blend
                            (the fourth byte is 0) */
    size_t capacity;     /* pixels allocated in each plane */
};

/* The part of a frame a pointer covers, clipped to the frame. */
struct pvs_pointer_rect {
    int x, y, w, h;
};

/* Converts a shape of `len` bytes at `buf`. Returns 0; PVS_EBADDATA for a
 * size, pitch or buffer length that does not add up (the shape is refused);
 * PVS_ENOTSUP for an unknown type; PVS_ENOMEM. On error `p` still holds the
 * previous shape, unchanged. */
int pvs_pointer_convert(struct pvs_pointer *p, const struct pvs_pointer_shape_info *info,
                        const void *buf, size_t len);

/* The frame rectangle a pointer whose top-left corner is at (x, y) covers in
 * a frame_w x frame_h frame. Returns false (and an empty rectangle) when it
 * covers nothing. */
bool pvs_pointer_clip(const struct pvs_pointer *p, int x, int y, int frame_w, int frame_h,
                      struct pvs_pointer_rect *r);

/* Draws the pointer with its top-left corner at (x, y) (Desktop Duplication's
 * pointer position: the hotspot is already subtracted) onto a BGRA frame,
 * clipped at every edge. Pixels the blend touches get alpha 0xFF; XOR leaves
 * alpha as it was. Anything but a BGRA frame is left alone. */
void pvs_pointer_composite(const struct pvs_pointer *p, int x, int y, const struct pvs_image *frame);

/* Frees the planes and zeroes `p`. Accepts NULL. */
void pvs_pointer_free(struct pvs_pointer *p);

#endif
