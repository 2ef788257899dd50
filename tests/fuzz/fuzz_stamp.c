/* Fuzz target for the frame stamp reader: arbitrary pixels in any format,
 * size and stride must never make pvs_stamp_read touch memory outside the
 * image, and whatever it accepts must be a self-consistent stamp.
 *
 * Input: a 19-byte header, then pixel bytes.
 *   0      format (mod 4: BGRA, NV12, I420, GRAY)
 *   1..2   width - 1, little-endian, mod 1024
 *   3..4   height - 1, little-endian, mod 1024
 *   5      extra bytes per row beyond the row (mod 64)
 *   6      bit 0: paint a stamp (bytes 7..18: frame, time_us little-endian)
 *          over the pixels before reading; bit 1: then add the pixel bytes
 *          again as noise of at most +/-32 levels
 *   7..18  the stamp for bit 0
 * The pixel bytes fill the planes in order, repeated as often as needed
 * (zeros when there are none). Each plane is its own malloc block of
 * exactly the size the image needs, so ASan catches a read past it. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/stamp.h"
#include "tests/fuzz/fuzz.h"

#define HEADER 19

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void fill(uint8_t *dst, size_t len, const uint8_t *src, size_t n,
                 size_t *pos)
{
    if (n == 0) {
        memset(dst, 0, len);
        return;
    }
    for (size_t k = 0; k < len; k++) {
        dst[k] = src[*pos];
        *pos = *pos + 1 == n ? 0 : *pos + 1;
    }
}

/* Noise of -32..31 from the input bytes, only on the first plane: that is
 * the one the reader looks at, and a painted stamp must survive it. */
static void add_noise(uint8_t *plane, size_t len, const uint8_t *src,
                      size_t n)
{
    for (size_t k = 0; n && k < len; k++) {
        int v = plane[k] + ((int)src[k % n] >> 2) - 32;
        plane[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum pvs_pix_fmt fmts[] = {
        PVS_PIX_BGRA, PVS_PIX_NV12, PVS_PIX_I420, PVS_PIX_GRAY,
    };
    if (size < HEADER)
        return 0;
    enum pvs_pix_fmt fmt = fmts[data[0] % 4];
    int w = (int)(le(data + 1, 2) % 1024) + 1;
    int h = (int)(le(data + 3, 2) % 1024) + 1;
    int pad = data[5] % 64;
    bool paint = data[6] & 1, noise = data[6] & 2;
    struct pvs_stamp want = {(uint32_t)le(data + 7, 4), le(data + 11, 8)};
    const uint8_t *px = data + HEADER;
    size_t npx = size - HEADER;

    struct pvs_image img = {.fmt = fmt, .width = w, .height = h};
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int row[3] = {fmt == PVS_PIX_BGRA ? w * 4 : w,
                  fmt == PVS_PIX_NV12 ? cw * 2 : cw, cw};
    int rows[3] = {h, ch, ch};
    int planes = fmt == PVS_PIX_I420 ? 3 : fmt == PVS_PIX_NV12 ? 2 : 1;
    size_t plane_size[3] = {0, 0, 0};
    size_t pos = 0;
    for (int i = 0; i < planes; i++) {
        img.stride[i] = row[i] + pad;
        /* The last row ends at the row, not at the stride. */
        plane_size[i] = (size_t)img.stride[i] * (size_t)(rows[i] - 1) +
                        (size_t)row[i];
        img.data[i] = malloc(plane_size[i]);
        if (!img.data[i])
            abort();
        fill(img.data[i], plane_size[i], px, npx, &pos);
    }

    bool fits = pvs_stamp_area(w, h, NULL, NULL) == 0;
    if (paint) {
        int rc = pvs_stamp_paint(&img, &want);
        if (rc != (fits ? 0 : PVS_EINVAL))
            abort();
        if (noise)
            add_noise(img.data[0], plane_size[0], px, npx);
    }

    struct pvs_stamp got;
    int rc = pvs_stamp_read(&img, &got);
    if (!fits && rc != PVS_EINVAL)
        abort();
    if (fits && rc != 0 && rc != PVS_ENOSTAMP)
        abort();
    /* A painted stamp reads back even through the noise: 16 + 31 and
     * 235 - 32 stay on either side of any midpoint the reader can pick. */
    if (fits && paint &&
        (rc != 0 || got.frame != want.frame || got.time_us != want.time_us))
        abort();

    if (rc == 0) {
        /* Whatever was read, painted again, reads the same: the reader and
         * the painter agree on layout and checksum. */
        struct pvs_stamp again;
        if (pvs_stamp_paint(&img, &got) != 0 ||
            pvs_stamp_read(&img, &again) != 0 ||
            again.frame != got.frame || again.time_us != got.time_us)
            abort();
    }

    for (int i = 0; i < planes; i++)
        free(img.data[i]);
    return 0;
}
