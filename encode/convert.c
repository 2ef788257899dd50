/* BGRA -> NV12 / I420 through libyuv. libyuv calls BGRA-in-memory "ARGB"
 * (it names formats by the little-endian 32-bit word), and its ARGBTo*
 * functions produce BT.601 limited-range YUV, which is what libavcodec
 * encoders signal when no colour description is set. libyuv picks SSSE3 /
 * AVX2 kernels at run time; libswscale, the alternative already in our
 * dependencies, takes four times as long here (pvstream-bench convert prints
 * both).
 *
 * NV12 is made in bands: each band of rows goes to I420 with its chroma in a
 * small buffer on the stack, which MergeUVPlane then interleaves while it is
 * still in L1. libyuv's own ARGBToNV12 takes a third longer at 4K (5.3
 * against 3.9 ms here). */
#include <libyuv.h>

#include "common/error.h"
#include "encode/convert.h"

#define BAND_ROWS 8        /* luma rows per band */
#define BAND_MAX_CW 4096   /* chroma width of an 8192-pixel row */

static int to_nv12_banded(const uint8_t *s, int ss, uint8_t *y, int ys, uint8_t *uv, int uvs,
                          int w, int h)
{
    int cw = (w + 1) / 2;
    if (cw > BAND_MAX_CW)
        return ARGBToNV12(s, ss, y, ys, uv, uvs, w, h) ? PVS_EINVAL : 0;
    uint8_t u[BAND_ROWS / 2 * BAND_MAX_CW], v[BAND_ROWS / 2 * BAND_MAX_CW];
    for (int row = 0; row < h; row += BAND_ROWS) {
        int n = h - row < BAND_ROWS ? h - row : BAND_ROWS;
        int cn = (n + 1) / 2;
        if (ARGBToI420(s + (size_t)row * (size_t)ss, ss, y + (size_t)row * (size_t)ys, ys,
                       u, cw, v, cw, w, n))
            return PVS_EINVAL;
        MergeUVPlane(u, cw, v, cw, uv + (size_t)(row / 2) * (size_t)uvs, uvs, cw, cn);
    }
    return 0;
}

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
        return to_nv12_banded(s, src->stride[0], py, dst->stride[0],
                              dst->data[1] + (size_t)cy * (size_t)dst->stride[1],
                              dst->stride[1], src->width, h);
    case PVS_PIX_I420:
        return ARGBToI420(s, src->stride[0], py, dst->stride[0],
                          dst->data[1] + (size_t)cy * (size_t)dst->stride[1], dst->stride[1],
                          dst->data[2] + (size_t)cy * (size_t)dst->stride[2], dst->stride[2],
                          src->width, h) ? PVS_EINVAL : 0;
    default:
        return PVS_EINVAL;
    }
}
