/* CPU colour conversion from captured BGRA to what encoders take, through
 * libyuv's SIMD kernels (BT.601 limited range, as libavcodec encoders
 * signal by default). Writes straight into the destination planes: no
 * intermediate copy. */
#ifndef PVS_CONVERT_H
#define PVS_CONVERT_H

#include "common/image.h"

/* Converts `src` (BGRA) into `dst` (NV12 or I420) of the same size. Rows
 * [y0, y1) only when 0 <= y0 < y1 <= height (both even), the whole frame when
 * y1 == 0: capture backends that know what changed convert only that. Returns
 * 0 or PVS_EINVAL. */
int pvs_convert_rows(const struct pvs_image *src, struct pvs_image *dst,
                     int y0, int y1);

static inline int pvs_convert(const struct pvs_image *src, struct pvs_image *dst)
{
    return pvs_convert_rows(src, dst, 0, 0);
}

#endif
