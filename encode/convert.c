/* BGRA -> NV12 / I420 through libyuv. libyuv calls BGRA-in-memory "ARGB"
 * (it names formats by the little-endian 32-bit word), and its ARGBTo*
 * functions produce BT.601 limited-range YUV, which is what libavcodec
 * encoders signal when no colour description is set. libyuv picks SSSE3 /
 * AVX2 kernels at run time; libswscale, the alternative already in our
 * dependencies, takes about four times as long here (pvstream-bench convert
 * prints both). */
#include <libyuv.h>

#include "common/error.h"
#include "encode/convert.h"

int pvs_convert_rows(const struct pvs_image *src, struct pvs_image *dst,
                     int y0, int y1)
{
    if (!src || !dst || src->fmt != PVS_PIX_BGRA || !src->data[0] ||
        src->width != dst->width || src->height != dst->height ||
        src->width <= 0 || src->height <= 0)
        return PVS_EINVAL;
    if (y1 == 0) {
        y0 = 0;
        y1 = src->height;
    }
    if (y0 < 0 || y1 > src->height || y0 >= y1 || (y0 & 1) || ((y1 & 1) && y1 != src->height))
        return PVS_EINVAL;

    const uint8_t *s = src->data[0] + (size_t)y0 * (size_t)src->stride[0];
    uint8_t *py = dst->data[0] + (size_t)y0 * (size_t)dst->stride[0];
    int h = y1 - y0, cy = y0 / 2;
    switch (dst->fmt) {
    case PVS_PIX_NV12:
        return ARGBToNV12(s, src->stride[0], py, dst->stride[0],
                          dst->data[1] + (size_t)cy * (size_t)dst->stride[1],
                          dst->stride[1], src->width, h) ? PVS_EINVAL : 0;
    case PVS_PIX_I420:
        return ARGBToI420(s, src->stride[0], py, dst->stride[0],
                          dst->data[1] + (size_t)cy * (size_t)dst->stride[1], dst->stride[1],
                          dst->data[2] + (size_t)cy * (size_t)dst->stride[2], dst->stride[2],
                          src->width, h) ? PVS_EINVAL : 0;
    default:
        return PVS_EINVAL;
    }
}
