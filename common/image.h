/* Raw images in system memory: the pixel formats pvstream moves between
 * capture, conversion, the frame stamp and the decoder. An image never owns
 * its planes; whoever made it frees them. */
#ifndef PVS_IMAGE_H
#define PVS_IMAGE_H

#include <stdint.h>

enum pvs_pix_fmt {
    PVS_PIX_NONE = 0,
    PVS_PIX_BGRA,  /* 1 plane, 4 bytes per pixel B,G,R,A in memory */
    PVS_PIX_NV12,  /* Y plane, then interleaved U,V at half size */
    PVS_PIX_I420,  /* Y, U, V planes; U and V at half width and height */
    PVS_PIX_GRAY,  /* 1 plane, 1 byte per pixel (luma only) */
};

struct pvs_image {
    enum pvs_pix_fmt fmt;
    int width, height;
    uint8_t *data[3];
    int stride[3]; /* bytes per row of each plane */
};

/* "bgra", "nv12", "i420" (also "yuv420p"), "gray"; NULL for an unknown one. */
const char *pvs_pix_fmt_name(enum pvs_pix_fmt fmt);
enum pvs_pix_fmt pvs_pix_fmt_from_name(const char *name);

/* Bytes an image of this format and size takes with tightly packed rows
 * (what `-f rawvideo` pipes carry); 0 for an unknown format or bad size. */
uint64_t pvs_image_packed_size(enum pvs_pix_fmt fmt, int width, int height);

/* Points `img` at a tightly packed buffer of pvs_image_packed_size() bytes.
 * Returns 0 or PVS_EINVAL. */
int pvs_image_wrap_packed(struct pvs_image *img, enum pvs_pix_fmt fmt,
                          int width, int height, uint8_t *buf);

#endif
