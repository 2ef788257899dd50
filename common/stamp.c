/* The frame stamp (see stamp.h): painting it, reading it back, and the
 * CRC-32 that tells a real stamp from noise or a damaged one.
 *
 * Layout. The 16 payload bytes are frame (4, little-endian), time_us (8,
 * little-endian) and the CRC-32 of those 12 (4, little-endian). Block
 * (row r, column c) of the 16x8 grid carries bit 7 - c % 8 of byte
 * 2 * r + c / 8: each grid row holds two bytes, most significant bit on the
 * left, so the pattern can be read by eye. The grid sits inside a one-block
 * border of grey, and the whole area starts at pixel (0,0).
 *
 * Both ends derive the block size from the frame width alone, so a reader
 * needs nothing but the decoded image. Reading averages the central half of
 * each block, which the encoder's ringing at block edges does not reach, and
 * sets its threshold between the darkest and brightest block of this very
 * frame, so limited or full range and level drift do not matter.
 *
 * Only the stamp area is touched, in both directions: this runs on every
 * frame at 4K. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/error.h"
#include "common/stamp.h"

#define GRID_BITS (PVS_STAMP_COLS * PVS_STAMP_ROWS)
#define GRID_BYTES (GRID_BITS / 8)
#define AREA_COLS (PVS_STAMP_COLS + 2)
#define AREA_ROWS (PVS_STAMP_ROWS + 2)

/* Luma of a 1 and a 0 bit and of the border in the YUV and grey formats:
 * BT.601 limited range, what an encoder's input normally holds. */
#define LUMA_ONE 235
#define LUMA_ZERO 16
#define LUMA_GREY 128

/* BGRA gets full-range greys, which a BT.601 limited-range conversion turns
 * into the luma levels above (0 -> 16, 255 -> 235, 128 -> about 126). */
#define RGB_ONE 255
#define RGB_ZERO 0
#define RGB_GREY 128

#define CHROMA_NEUTRAL 128

/* Below this difference between the brightest and darkest block the area is
 * flat or noise of low amplitude: no stamp, whatever the checksum says. A
 * painted stamp has about 219 levels and always has both 0 and 1 bits (the
 * CRC of 12 zero bytes is not 0, nor is that of 12 0xff bytes 0xffffffff). */
#define MIN_CONTRAST 40

#define BLOCK_MIN 4
#define BLOCK_MAX 64

int pvs_stamp_block_size(int width)
{
    /* One block per 120 columns: 16 at 1080p and 32 at 4K, which survive
     * x264 at a few Mbit/s; the area then takes 15% of the width. Even, so
     * that a block is a whole number of pixels in the chroma planes of NV12
     * and I420. At least 4 so the central half still has 2x2 pixels to
     * average; at most 64 because larger blocks buy nothing. */
    int bs = width / 120;
    if (bs < BLOCK_MIN)
        bs = BLOCK_MIN;
    if (bs > BLOCK_MAX)
        bs = BLOCK_MAX;
    return bs & ~1;
}

int pvs_stamp_area(int width, int height, int *area_w, int *area_h)
{
    if (width <= 0 || height <= 0)
        return PVS_EINVAL;
    int bs = pvs_stamp_block_size(width);
    int w = AREA_COLS * bs, h = AREA_ROWS * bs;
    if (w > width || h > height)
        return PVS_EINVAL;
    /* The outputs are optional: a caller may only want to know whether the
     * stamp fits. */
    if (area_w)
        *area_w = w;
    if (area_h)
        *area_h = h;
    return 0;
}

uint32_t pvs_crc32(const void *data, unsigned long len)
{
    /* Bitwise: the stamp checks 12 bytes per frame, far too few to pay for
     * a table and the question of who builds it first on which thread. */
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;
    if (!p)
        len = 0;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

static int bytes_per_pixel(enum pvs_pix_fmt fmt)
{
    return fmt == PVS_PIX_BGRA ? 4 : 1;
}

/* Checks what both directions rely on: a known format, a positive size,
 * every plane present and its stride wide enough for a row. Chroma planes
 * are checked for reading too, although only luma is read, so that one
 * image is either good or bad for both. */
static int check_image(const struct pvs_image *img)
{
    if (!img || img->width <= 0 || img->height <= 0)
        return PVS_EINVAL;
    int64_t cw = ((int64_t)img->width + 1) / 2;
    int planes;
    int64_t min_stride[3] = {0, 0, 0};
    switch (img->fmt) {
    case PVS_PIX_BGRA:
    case PVS_PIX_GRAY:
        planes = 1;
        break;
    case PVS_PIX_NV12:
        planes = 2;
        min_stride[1] = cw * 2;
        break;
    case PVS_PIX_I420:
        planes = 3;
        min_stride[1] = cw;
        min_stride[2] = cw;
        break;
    default:
        return PVS_EINVAL;
    }
    min_stride[0] = (int64_t)img->width * bytes_per_pixel(img->fmt);
    for (int i = 0; i < planes; i++) {
        if (!img->data[i] || img->stride[i] < min_stride[i])
            return PVS_EINVAL;
    }
    return 0;
}

static void pack_payload(const struct pvs_stamp *s, uint8_t out[GRID_BYTES])
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(s->frame >> (8 * i));
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(s->time_us >> (8 * i));
    uint32_t crc = pvs_crc32(out, 12);
    for (int i = 0; i < 4; i++)
        out[12 + i] = (uint8_t)(crc >> (8 * i));
}

static int bit_at(const uint8_t bytes[GRID_BYTES], int row, int col)
{
    return (bytes[2 * row + col / 8] >> (7 - col % 8)) & 1;
}

/* Fills `row` (area_w pixels of `bpp` bytes) with the pixels of one band
 * of blocks: grid row `grid_row`, or the border when it is -1. */
static void build_band(uint8_t *row, int bs, int bpp,
                       const uint8_t bytes[GRID_BYTES], int grid_row)
{
    for (int c = 0; c < AREA_COLS; c++) {
        int v = bpp == 4 ? RGB_GREY : LUMA_GREY;
        if (grid_row >= 0 && c >= 1 && c <= PVS_STAMP_COLS) {
            int one = bit_at(bytes, grid_row, c - 1);
            if (bpp == 4)
                v = one ? RGB_ONE : RGB_ZERO;
            else
                v = one ? LUMA_ONE : LUMA_ZERO;
        }
        uint8_t *p = row + (size_t)c * bs * bpp;
        if (bpp == 1) {
            memset(p, v, (size_t)bs);
        } else {
            for (int x = 0; x < bs; x++, p += 4) {
                p[0] = p[1] = p[2] = (uint8_t)v;
                p[3] = 255;
            }
        }
    }
}

static void fill_rect(uint8_t *plane, int stride, int w, int h, uint8_t v)
{
    for (int y = 0; y < h; y++)
        memset(plane + (size_t)y * (size_t)stride, v, (size_t)w);
}

int pvs_stamp_paint(struct pvs_image *img, const struct pvs_stamp *s)
{
    int area_w, area_h;
    if (!s || check_image(img) != 0 ||
        pvs_stamp_area(img->width, img->height, &area_w, &area_h) != 0)
        return PVS_EINVAL;
    int bs = pvs_stamp_block_size(img->width);
    int bpp = bytes_per_pixel(img->fmt);
    uint8_t bytes[GRID_BYTES];
    pack_payload(s, bytes);

    /* One band of pixels per row of blocks, copied into its bs rows: the
     * widest band is 18 * 64 BGRA pixels, small enough for the stack. */
    uint8_t band[AREA_COLS * BLOCK_MAX * 4];
    size_t band_bytes = (size_t)area_w * (size_t)bpp;
    for (int r = 0; r < AREA_ROWS; r++) {
        int grid_row = r >= 1 && r <= PVS_STAMP_ROWS ? r - 1 : -1;
        build_band(band, bs, bpp, bytes, grid_row);
        for (int y = r * bs; y < (r + 1) * bs; y++)
            memcpy(img->data[0] + (size_t)y * (size_t)img->stride[0], band,
                   band_bytes);
    }

    /* area_w and area_h are even (bs is), so the chroma area is exact. */
    if (img->fmt == PVS_PIX_NV12) {
        fill_rect(img->data[1], img->stride[1], area_w, area_h / 2,
                  CHROMA_NEUTRAL);
    } else if (img->fmt == PVS_PIX_I420) {
        fill_rect(img->data[1], img->stride[1], area_w / 2, area_h / 2,
                  CHROMA_NEUTRAL);
        fill_rect(img->data[2], img->stride[2], area_w / 2, area_h / 2,
                  CHROMA_NEUTRAL);
    }
    return 0;
}

/* The reader adds bytes eight at a time in the four 16-bit lanes of a
 * uint64_t: plain C, as fast as the compiler's vectors would be at -O2
 * (which does not vectorise these short loops), and the same on every
 * target. A run is at most 32 pixels, so no lane can overflow. */
#define LANES_LOW 0x00ff00ff00ff00ffull

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static bool little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* Sum of n bytes (n <= 32). */
static uint32_t sum_bytes(const uint8_t *p, int n)
{
    uint64_t acc = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = load64(p + i);
        acc += (v & LANES_LOW) + ((v >> 8) & LANES_LOW);
    }
    /* The total is below 65536, so one multiply adds the lanes. */
    uint32_t sum = (uint32_t)((acc * 0x0001000100010001ull) >> 48);
    for (; i < n; i++)
        sum += p[i];
    return sum;
}

/* Sums of B, G and R over n BGRA pixels (n <= 32). */
static void sum_bgr(const uint8_t *p, int n, uint32_t bgr[3])
{
    /* Lane j of `even` holds byte 2j of each 8 bytes (B or R), of `odd`
     * byte 2j + 1 (G or A); which half of v those are depends on the byte
     * order. */
    uint64_t even = 0, odd = 0;
    int i = 0;
    for (; i + 2 <= n; i += 2, p += 8) {
        uint64_t v = load64(p);
        even += v & LANES_LOW;
        odd += (v >> 8) & LANES_LOW;
    }
    if (!little_endian()) {
        uint64_t t = even;
        even = odd;
        odd = t;
    }
    uint16_t e[4], o[4];
    memcpy(e, &even, sizeof(e));
    memcpy(o, &odd, sizeof(o));
    bgr[0] += (uint32_t)e[0] + e[2];
    bgr[1] += (uint32_t)o[0] + o[2];
    bgr[2] += (uint32_t)e[1] + e[3];
    if (i < n) {
        bgr[0] += p[0];
        bgr[1] += p[1];
        bgr[2] += p[2];
    }
}

int pvs_stamp_read(const struct pvs_image *img, struct pvs_stamp *out)
{
    if (!out || check_image(img) != 0 ||
        pvs_stamp_area(img->width, img->height, NULL, NULL) != 0)
        return PVS_EINVAL;
    int bs = pvs_stamp_block_size(img->width);
    int half = bs / 2, inset = bs / 4;

    /* Sums, not means: every block has the same number of samples, so
     * comparing sums is comparing means without a division per block.
     * Whole rows of the area are walked in turn rather than one block at a
     * time, so the reads stay sequential for a frame not yet in cache. */
    uint32_t sums[GRID_BITS] = {0};
    uint32_t bgr[PVS_STAMP_COLS][3];
    for (int r = 0; r < PVS_STAMP_ROWS; r++) {
        uint32_t *rs = sums + r * PVS_STAMP_COLS;
        memset(bgr, 0, sizeof(bgr));
        for (int j = 0; j < half; j++) {
            int y = (1 + r) * bs + inset + j;
            const uint8_t *row =
                img->data[0] + (size_t)y * (size_t)img->stride[0];
            for (int c = 0; c < PVS_STAMP_COLS; c++) {
                size_t x = (size_t)(1 + c) * (size_t)bs + (size_t)inset;
                if (img->fmt == PVS_PIX_BGRA)
                    sum_bgr(row + x * 4, half, bgr[c]);
                else
                    rs[c] += sum_bytes(row + x, half);
            }
        }
        /* BT.601's weights scaled to 256, applied once per block. Any
         * monotonic grey would do, since the threshold comes from the
         * frame itself. These sums are luma times 256. */
        if (img->fmt == PVS_PIX_BGRA) {
            for (int c = 0; c < PVS_STAMP_COLS; c++)
                rs[c] = bgr[c][2] * 77 + bgr[c][1] * 150 + bgr[c][0] * 29;
        }
    }
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < GRID_BITS; i++) {
        if (sums[i] < lo)
            lo = sums[i];
        if (sums[i] > hi)
            hi = sums[i];
    }
    uint32_t samples = (uint32_t)half * (uint32_t)half;
    if (img->fmt == PVS_PIX_BGRA)
        samples *= 256;
    if (hi - lo < (uint32_t)MIN_CONTRAST * samples)
        return PVS_ENOSTAMP;

    /* Midpoint of the extremes, doubled to stay in integers. */
    uint32_t mid2 = lo + hi;
    uint8_t bytes[GRID_BYTES] = {0};
    for (int i = 0; i < GRID_BITS; i++) {
        if (2 * sums[i] > mid2)
            bytes[i / 8] |= (uint8_t)(0x80u >> (i % 8));
    }

    uint32_t crc = (uint32_t)bytes[12] | (uint32_t)bytes[13] << 8 |
                   (uint32_t)bytes[14] << 16 | (uint32_t)bytes[15] << 24;
    if (crc != pvs_crc32(bytes, 12))
        return PVS_ENOSTAMP;

    out->frame = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 |
                 (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
    out->time_us = 0;
    for (int i = 7; i >= 0; i--)
        out->time_us = out->time_us << 8 | bytes[4 + i];
    return 0;
}
