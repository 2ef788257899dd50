/* Pixel format names and packed image layout. */
#include <string.h>

#include "common/error.h"
#include "common/image.h"

const char *pvs_pix_fmt_name(enum pvs_pix_fmt fmt)
{
    switch (fmt) {
    case PVS_PIX_BGRA: return "bgra";
    case PVS_PIX_NV12: return "nv12";
    case PVS_PIX_I420: return "i420";
    case PVS_PIX_GRAY: return "gray";
    default:           return NULL;
    }
}

enum pvs_pix_fmt pvs_pix_fmt_from_name(const char *name)
{
    if (!name)
        return PVS_PIX_NONE;
    if (!strcmp(name, "bgra")) return PVS_PIX_BGRA;
    if (!strcmp(name, "nv12")) return PVS_PIX_NV12;
    if (!strcmp(name, "i420") || !strcmp(name, "yuv420p")) return PVS_PIX_I420;
    if (!strcmp(name, "gray")) return PVS_PIX_GRAY;
    return PVS_PIX_NONE;
}

uint64_t pvs_image_packed_size(enum pvs_pix_fmt fmt, int width, int height)
{
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384)
        return 0;
    uint64_t px = (uint64_t)width * (uint64_t)height;
    uint64_t cw = (uint64_t)(width + 1) / 2, ch = (uint64_t)(height + 1) / 2;
    switch (fmt) {
    case PVS_PIX_BGRA: return px * 4;
    case PVS_PIX_GRAY: return px;
    case PVS_PIX_NV12: return px + cw * ch * 2;
    case PVS_PIX_I420: return px + cw * ch * 2;
    default:           return 0;
    }
}

int pvs_image_wrap_packed(struct pvs_image *img, enum pvs_pix_fmt fmt,
                          int width, int height, uint8_t *buf)
{
    if (!img || !buf || !pvs_image_packed_size(fmt, width, height))
        return PVS_EINVAL;
    memset(img, 0, sizeof(*img));
    img->fmt = fmt;
    img->width = width;
    img->height = height;
    int cw = (width + 1) / 2, ch = (height + 1) / 2;
    size_t ysize = (size_t)width * (size_t)height;
    switch (fmt) {
    case PVS_PIX_BGRA:
        img->data[0] = buf;
        img->stride[0] = width * 4;
        break;
    case PVS_PIX_GRAY:
        img->data[0] = buf;
        img->stride[0] = width;
        break;
    case PVS_PIX_NV12:
        img->data[0] = buf;
        img->stride[0] = width;
        img->data[1] = buf + ysize;
        img->stride[1] = cw * 2;
        break;
    case PVS_PIX_I420:
        img->data[0] = buf;
        img->stride[0] = width;
        img->data[1] = buf + ysize;
        img->stride[1] = cw;
        img->data[2] = buf + ysize + (size_t)cw * (size_t)ch;
        img->stride[2] = cw;
        break;
    default:
        return PVS_EINVAL;
    }
    return 0;
}
