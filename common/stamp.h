/* The frame stamp: a frame number and a capture time painted into the top
 * left corner of a frame as a grid of black and white blocks, so that any
 * pipeline (ours or another) can be measured by reading the stamp back from
 * what it decoded.
 *
 * The payload is 128 bits: 32-bit frame number, 64-bit capture time in
 * microseconds of the sender's monotonic clock, and a CRC-32 over both. Each
 * bit is one square block of luma 16 (0) or 235 (1), laid out 16 blocks wide
 * and 8 high inside a one-block border of mid grey that keeps the encoder's
 * ringing away from the bits. The block size grows with the frame width
 * (pvs_stamp_block_size), so the pattern survives lossy coding at low
 * bitrates; the CRC makes a damaged or absent stamp read as PVS_ENOSTAMP,
 * never as a wrong number. */
#ifndef PVS_STAMP_H
#define PVS_STAMP_H

#include <stdint.h>

#include "common/image.h"

struct pvs_stamp {
    uint32_t frame;   /* frame number */
    uint64_t time_us; /* capture time, monotonic microseconds */
};

#define PVS_STAMP_COLS 16
#define PVS_STAMP_ROWS 8

/* Side of one block in pixels for a frame of this width (at least 4). */
int pvs_stamp_block_size(int width);

/* Size in pixels of the painted area, border included, for a frame of this
 * size. Returns 0, or PVS_EINVAL when the frame is too small to hold it. */
int pvs_stamp_area(int width, int height, int *area_w, int *area_h);

/* Paints `s` into the top-left corner of `img`. BGRA gets grey levels in all
 * three colours; NV12 and I420 get luma blocks and neutral chroma; GRAY gets
 * luma. Returns 0, or PVS_EINVAL for a bad image or one too small. */
int pvs_stamp_paint(struct pvs_image *img, const struct pvs_stamp *s);

/* Reads the stamp back from `img` (any format above; only luma is used).
 * Returns 0 and fills `out`, PVS_ENOSTAMP when no valid stamp is there
 * (checksum mismatch), or PVS_EINVAL for a bad image. Never reads outside
 * the image, whatever its contents. */
int pvs_stamp_read(const struct pvs_image *img, struct pvs_stamp *out);

/* CRC-32 (IEEE 802.3, reflected, as zlib's) of `len` bytes. */
uint32_t pvs_crc32(const void *data, unsigned long len);

#endif
