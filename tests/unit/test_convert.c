/* BGRA -> NV12 / I420 through libyuv against a reference BT.601
 * limited-range conversion, partial rows, and bad arguments. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "encode/convert.h"
#include "tests/unit/test.h"

static uint32_t rng_state = 12345;
static uint8_t rnd(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (uint8_t)(rng_state >> 16);
}

static int ref_y(int r, int g, int b)
{
    return (int)(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0 + 0.5);
}
static int ref_u(int r, int g, int b)
{
    return (int)(128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0 + 0.5);
}
static int ref_v(int r, int g, int b)
{
    return (int)(128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0 + 0.5);
}

struct bufs {
    struct pvs_image src, nv12, i420;
    uint8_t *b0, *b1, *b2;
};

static void make(struct bufs *b, int w, int h)
{
    b->b0 = malloc((size_t)w * h * 4 + 64);
    b->b1 = malloc(pvs_image_packed_size(PVS_PIX_NV12, w, h));
    b->b2 = malloc(pvs_image_packed_size(PVS_PIX_I420, w, h));
    b->src = (struct pvs_image){ PVS_PIX_BGRA, w, h, { b->b0 }, { w * 4 } };
    pvs_image_wrap_packed(&b->nv12, PVS_PIX_NV12, w, h, b->b1);
    pvs_image_wrap_packed(&b->i420, PVS_PIX_I420, w, h, b->b2);
}

static void unmake(struct bufs *b)
{
    free(b->b0);
    free(b->b1);
    free(b->b2);
}

static void test_against_reference(void)
{
    const int w = 64, h = 48;
    struct bufs b;
    make(&b, w, h);
    /* 2x2 blocks of one colour, so chroma subsampling does not blur */
    for (int y = 0; y < h; y += 2)
        for (int x = 0; x < w; x += 2) {
            uint8_t r = rnd(), g = rnd(), bl = rnd();
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) {
                    uint8_t *p = b.b0 + (size_t)(y + dy) * w * 4 + (size_t)(x + dx) * 4;
                    p[0] = bl; p[1] = g; p[2] = r; p[3] = 255;
                }
        }
    CHECK_INT(pvs_convert(&b.src, &b.nv12), ==, 0);
    CHECK_INT(pvs_convert(&b.src, &b.i420), ==, 0);
    int worst_y = 0, worst_c = 0, nv_vs_i420 = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = b.b0 + (size_t)y * w * 4 + (size_t)x * 4;
            int d = abs(b.nv12.data[0][y * b.nv12.stride[0] + x] - ref_y(p[2], p[1], p[0]));
            if (d > worst_y) worst_y = d;
            if (b.nv12.data[0][y * b.nv12.stride[0] + x] != b.i420.data[0][y * b.i420.stride[0] + x])
                nv_vs_i420++;
            if ((x | y) & 1)
                continue;
            int u = b.i420.data[1][(y / 2) * b.i420.stride[1] + x / 2];
            int v = b.i420.data[2][(y / 2) * b.i420.stride[2] + x / 2];
            int du = abs(u - ref_u(p[2], p[1], p[0])), dv = abs(v - ref_v(p[2], p[1], p[0]));
            if (du > worst_c) worst_c = du;
            if (dv > worst_c) worst_c = dv;
            /* NV12 interleaves the same U and V */
            const uint8_t *uv = b.nv12.data[1] + (y / 2) * b.nv12.stride[1] + x;
            nv_vs_i420 += abs(uv[0] - u) > 1 || abs(uv[1] - v) > 1;
        }
    CHECK_INT(worst_y, <=, 2);
    CHECK_INT(worst_c, <=, 3);
    CHECK_INT(nv_vs_i420, ==, 0);
    unmake(&b);
}

static void test_rows_only(void)
{
    const int w = 64, h = 32;
    struct bufs b;
    make(&b, w, h);
    memset(b.b0, 255, (size_t)w * h * 4); /* white: Y 235 */
    memset(b.b1, 0, pvs_image_packed_size(PVS_PIX_NV12, w, h));
    CHECK_INT(pvs_convert_rows(&b.src, &b.nv12, 8, 16), ==, 0);
    for (int y = 0; y < h; y++) {
        int want = y >= 8 && y < 16 ? 235 : 0;
        CHECK_INT(b.nv12.data[0][y * w + 3], ==, want);
    }
    CHECK_INT(b.nv12.data[1][3 * b.nv12.stride[1]], ==, 0);   /* chroma row 3 = luma rows 6,7 */
    CHECK_INT(b.nv12.data[1][4 * b.nv12.stride[1]], ==, 128); /* chroma row 4 = luma rows 8,9 */
    unmake(&b);
}

static void test_bad_arguments(void)
{
    struct bufs b;
    make(&b, 64, 32);
    CHECK_INT(pvs_convert_rows(&b.src, &b.nv12, 3, 9), ==, PVS_EINVAL);   /* odd start */
    CHECK_INT(pvs_convert_rows(&b.src, &b.nv12, 8, 40), ==, PVS_EINVAL);  /* past the end */
    CHECK_INT(pvs_convert_rows(&b.src, &b.nv12, 10, 8), ==, PVS_EINVAL);  /* backwards */
    CHECK_INT(pvs_convert(&b.src, &b.src), ==, PVS_EINVAL);               /* BGRA out */
    CHECK_INT(pvs_convert(&b.nv12, &b.i420), ==, PVS_EINVAL);             /* NV12 in */
    struct pvs_image small = b.nv12;
    small.width = 32;
    CHECK_INT(pvs_convert(&b.src, &small), ==, PVS_EINVAL);               /* size mismatch */
    CHECK_INT(pvs_convert(NULL, &b.nv12), ==, PVS_EINVAL);
    unmake(&b);
}

int main(void)
{
    RUN(test_against_reference);
    RUN(test_rows_only);
    RUN(test_bad_arguments);
    TEST_EXIT();
}
