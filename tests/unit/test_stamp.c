/* Tests for the frame stamp: round trips in every format and at every
 * common size, through a reference BT.601 conversion, through noise and
 * blur; images without a stamp, or with a damaged one, must never read as a
 * stamp; bad images are refused; and the stamp touches nothing outside its
 * area. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/stamp.h"
#include "tests/unit/test.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* An image with its own buffer, one block per plane so ASan sees a read
 * past any plane's end. `pad` extra bytes per row make strides wider than
 * the rows. */
struct timg {
    struct pvs_image img;
    uint8_t *buf[3];
    size_t size[3];
};

static int plane_count(enum pvs_pix_fmt fmt)
{
    switch (fmt) {
    case PVS_PIX_NV12: return 2;
    case PVS_PIX_I420: return 3;
    default:           return 1;
    }
}

static void timg_alloc(struct timg *t, enum pvs_pix_fmt fmt, int w, int h,
                       int pad)
{
    memset(t, 0, sizeof(*t));
    t->img.fmt = fmt;
    t->img.width = w;
    t->img.height = h;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int row[3] = {fmt == PVS_PIX_BGRA ? w * 4 : w,
                  fmt == PVS_PIX_NV12 ? cw * 2 : cw, cw};
    int rows[3] = {h, ch, ch};
    for (int i = 0; i < plane_count(fmt); i++) {
        t->img.stride[i] = row[i] + pad;
        /* The last row needs no padding: allocate exactly what a reader
         * may touch. */
        t->size[i] = (size_t)t->img.stride[i] * (size_t)(rows[i] - 1) +
                     (size_t)row[i];
        t->buf[i] = malloc(t->size[i]);
        if (!t->buf[i])
            abort();
        t->img.data[i] = t->buf[i];
    }
}

static void timg_free(struct timg *t)
{
    for (int i = 0; i < 3; i++)
        free(t->buf[i]);
    memset(t, 0, sizeof(*t));
}

static void timg_fill_random(struct timg *t)
{
    for (int i = 0; i < 3; i++) {
        for (size_t k = 0; k < t->size[i]; k += 8) {
            uint64_t r = rng();
            size_t n = t->size[i] - k < 8 ? t->size[i] - k : 8;
            memcpy(t->buf[i] + k, &r, n);
        }
    }
}

static void timg_fill(struct timg *t, uint8_t v)
{
    for (int i = 0; i < 3; i++)
        if (t->buf[i])
            memset(t->buf[i], v, t->size[i]);
}

static struct pvs_stamp random_stamp(void)
{
    struct pvs_stamp s = {(uint32_t)rng(), rng()};
    return s;
}

static bool same_stamp(const struct pvs_stamp *a, const struct pvs_stamp *b)
{
    return a->frame == b->frame && a->time_us == b->time_us;
}

/* Round trip, checking also that nothing outside the stamp area (luma or
 * chroma, padding included) changed. */
static void round_trip(enum pvs_pix_fmt fmt, int w, int h, int pad,
                       struct pvs_stamp s)
{
    struct timg t, before;
    timg_alloc(&t, fmt, w, h, pad);
    timg_alloc(&before, fmt, w, h, pad);
    timg_fill_random(&t);
    for (int i = 0; i < 3; i++)
        if (t.buf[i])
            memcpy(before.buf[i], t.buf[i], t.size[i]);

    CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, 0);
    struct pvs_stamp got = {0, 0};
    CHECK_INT(pvs_stamp_read(&t.img, &got), ==, 0);
    CHECK(same_stamp(&got, &s));

    int aw, ah;
    CHECK_INT(pvs_stamp_area(w, h, &aw, &ah), ==, 0);
    int bpp = fmt == PVS_PIX_BGRA ? 4 : 1;
    size_t outside_changed = 0;
    for (int i = 0; i < plane_count(fmt); i++) {
        int sub = i ? 2 : 1;
        /* Width in bytes of the area in this plane: NV12's UV pairs take
         * as many bytes as the luma area is wide. */
        size_t area_bytes = (size_t)(i == 0 ? aw * bpp
                                     : fmt == PVS_PIX_NV12 ? aw : aw / 2);
        size_t stride = (size_t)t.img.stride[i];
        for (size_t row = 0; row * stride < t.size[i]; row++) {
            size_t start = row * stride;
            size_t len = t.size[i] - start < stride ? t.size[i] - start : stride;
            const uint8_t *a = t.buf[i] + start, *b = before.buf[i] + start;
            if (row >= (size_t)(ah / sub)) {
                outside_changed += memcmp(a, b, len) != 0;
                continue;
            }
            outside_changed += memcmp(a + area_bytes, b + area_bytes,
                                      len - area_bytes) != 0;
            /* Chroma in the area must be neutral. */
            for (size_t x = 0; i > 0 && x < area_bytes; x++)
                outside_changed += a[x] != 128;
        }
    }
    CHECK_INT(outside_changed, ==, 0);
    timg_free(&t);
    timg_free(&before);
}

static void test_crc32(void)
{
    CHECK_INT(pvs_crc32("123456789", 9), ==, 0xcbf43926u);
    CHECK_INT(pvs_crc32("", 0), ==, 0);
    CHECK_INT(pvs_crc32(NULL, 0), ==, 0);
    CHECK_INT(pvs_crc32("a", 1), ==, 0xe8b7be43u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    CHECK_INT(pvs_crc32(fox, (unsigned long)strlen(fox)), ==, 0x414fa339u);
}

static void test_block_size(void)
{
    CHECK_INT(pvs_stamp_block_size(1920), ==, 16);
    CHECK_INT(pvs_stamp_block_size(3840), ==, 32);
    CHECK_INT(pvs_stamp_block_size(2560), ==, 20);
    CHECK_INT(pvs_stamp_block_size(1366), ==, 10);
    CHECK_INT(pvs_stamp_block_size(1280), ==, 10);
    CHECK_INT(pvs_stamp_block_size(640), ==, 4);
    CHECK_INT(pvs_stamp_block_size(320), ==, 4);
    CHECK_INT(pvs_stamp_block_size(7680), ==, 64);
    CHECK_INT(pvs_stamp_block_size(1 << 30), ==, 64);
    CHECK_INT(pvs_stamp_block_size(0), ==, 4);
    CHECK_INT(pvs_stamp_block_size(-5), ==, 4);
    int bad = 0;
    for (int w = -10; w < 20000; w++) {
        int bs = pvs_stamp_block_size(w);
        if (bs < 4 || bs > 64 || bs % 2)
            bad++;
    }
    CHECK_INT(bad, ==, 0);
}

static void test_area(void)
{
    int aw = -1, ah = -1;
    CHECK_INT(pvs_stamp_area(1920, 1080, &aw, &ah), ==, 0);
    CHECK_INT(aw, ==, 18 * 16);
    CHECK_INT(ah, ==, 10 * 16);
    CHECK_INT(pvs_stamp_area(320, 240, &aw, &ah), ==, 0);
    CHECK_INT(aw, ==, 72);
    CHECK_INT(ah, ==, 40);
    CHECK_INT(pvs_stamp_area(72, 40, &aw, &ah), ==, 0);
    CHECK_INT(pvs_stamp_area(72, 40, NULL, NULL), ==, 0);
    CHECK_INT(pvs_stamp_area(71, 40, &aw, &ah), ==, PVS_EINVAL);
    CHECK_INT(pvs_stamp_area(72, 39, &aw, &ah), ==, PVS_EINVAL);
    CHECK_INT(pvs_stamp_area(3840, 319, &aw, &ah), ==, PVS_EINVAL);
    CHECK_INT(pvs_stamp_area(0, 240, &aw, &ah), ==, PVS_EINVAL);
    CHECK_INT(pvs_stamp_area(320, -1, &aw, &ah), ==, PVS_EINVAL);
}

static const enum pvs_pix_fmt all_fmts[] = {
    PVS_PIX_BGRA, PVS_PIX_NV12, PVS_PIX_I420, PVS_PIX_GRAY,
};
#define N_FMTS (sizeof(all_fmts) / sizeof(all_fmts[0]))

static void test_round_trips(void)
{
    static const int sizes[][2] = {
        {72, 40},     /* the smallest that fits */
        {320, 240},   {321, 241}, {640, 480},  {1280, 720}, {1366, 768},
        {1920, 1080}, {2560, 1440}, {3840, 2160}, {7680, 640},
    };
    static const int pads[] = {0, 1, 64};
    struct pvs_stamp fixed[] = {
        {0, 0},
        {UINT32_MAX, UINT64_MAX},
        {0, UINT64_MAX},
        {UINT32_MAX, 0},
        {1, 1},
        {0x12345678u, 0x0123456789abcdefull},
    };
    for (size_t f = 0; f < N_FMTS; f++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            int pad = pads[(f + i) % 3];
            for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
                round_trip(all_fmts[f], sizes[i][0], sizes[i][1], pad,
                           fixed[k]);
            for (int k = 0; k < 4; k++)
                round_trip(all_fmts[f], sizes[i][0], sizes[i][1], pad,
                           random_stamp());
        }
    }
}

/* A stamp painted twice reads as the second: nothing of the first stays. */
static void test_repaint(void)
{
    for (size_t f = 0; f < N_FMTS; f++) {
        struct timg t;
        timg_alloc(&t, all_fmts[f], 640, 360, 16);
        timg_fill_random(&t);
        struct pvs_stamp got = {0, 0};
        for (int k = 0; k < 50; k++) {
            struct pvs_stamp s = random_stamp();
            CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, 0);
            CHECK_INT(pvs_stamp_read(&t.img, &got), ==, 0);
            CHECK(same_stamp(&got, &s));
        }
        timg_free(&t);
    }
}

/* The levels the header promises: luma 16 and 235 and a grey border, and
 * in BGRA full-range greys with opaque alpha. */
static void test_levels(void)
{
    struct pvs_stamp s = {0xdeadbeefu, 42};
    struct timg g, b;
    timg_alloc(&g, PVS_PIX_GRAY, 1920, 1080, 0);
    timg_alloc(&b, PVS_PIX_BGRA, 1920, 1080, 0);
    timg_fill(&g, 77);
    timg_fill(&b, 77);
    CHECK_INT(pvs_stamp_paint(&g.img, &s), ==, 0);
    CHECK_INT(pvs_stamp_paint(&b.img, &s), ==, 0);
    int bad = 0;
    for (int y = 0; y < 160; y++) {
        for (int x = 0; x < 288; x++) {
            uint8_t v = g.buf[0][(size_t)y * 1920 + (size_t)x];
            const uint8_t *p = b.buf[0] + ((size_t)y * 1920 + (size_t)x) * 4;
            bool border = x < 16 || y < 16 || x >= 272 || y >= 144;
            if (border ? v != 128 : v != 16 && v != 235)
                bad++;
            if (p[0] != p[1] || p[1] != p[2] || p[3] != 255)
                bad++;
            if (border ? p[0] != 128 : p[0] != 0 && p[0] != 255)
                bad++;
            if ((v == 235) != (p[0] == 255))
                bad++;
        }
    }
    CHECK_INT(bad, ==, 0);
    /* Bit 0 of the grid is the top bit of frame's low byte (0xef): 1. */
    CHECK_INT(g.buf[0][24 * 1920 + 24], ==, 235);
    /* Bit 3 is its fourth bit from the top: 0. */
    CHECK_INT(g.buf[0][24 * 1920 + 16 * 4 + 8], ==, 16);
    timg_free(&g);
    timg_free(&b);
}

static uint8_t clamp8(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)(v + 0.5);
}

/* What a capture-to-encoder converter does: BGRA to BT.601 limited-range
 * YUV (or luma alone for GRAY), 4:2:0 chroma averaged over 2x2. */
static void reference_convert(const struct timg *src, struct timg *dst)
{
    int w = src->img.width, h = src->img.height;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            const uint8_t *p = src->img.data[0] +
                               (size_t)y * (size_t)src->img.stride[0] +
                               (size_t)x * 4;
            double yy = 16 + (65.481 * p[2] + 128.553 * p[1] +
                              24.966 * p[0]) / 255.0;
            dst->img.data[0][(size_t)y * (size_t)dst->img.stride[0] +
                             (size_t)x] = clamp8(yy);
        }
    }
    if (dst->img.fmt == PVS_PIX_GRAY)
        return;
    for (int cy = 0; cy < (h + 1) / 2; cy++) {
        for (int cx = 0; cx < (w + 1) / 2; cx++) {
            double cb = 0, cr = 0;
            int n = 0;
            for (int dy = 0; dy < 2; dy++) {
                for (int dx = 0; dx < 2; dx++) {
                    int x = 2 * cx + dx, y = 2 * cy + dy;
                    if (x >= w || y >= h)
                        continue;
                    const uint8_t *p = src->img.data[0] +
                        (size_t)y * (size_t)src->img.stride[0] + (size_t)x * 4;
                    cb += 128 + (-37.797 * p[2] - 74.203 * p[1] +
                                 112.0 * p[0]) / 255.0;
                    cr += 128 + (112.0 * p[2] - 93.786 * p[1] -
                                 18.214 * p[0]) / 255.0;
                    n++;
                }
            }
            cb /= n;
            cr /= n;
            if (dst->img.fmt == PVS_PIX_NV12) {
                uint8_t *q = dst->img.data[1] +
                             (size_t)cy * (size_t)dst->img.stride[1] +
                             (size_t)cx * 2;
                q[0] = clamp8(cb);
                q[1] = clamp8(cr);
            } else {
                dst->img.data[1][(size_t)cy * (size_t)dst->img.stride[1] +
                                 (size_t)cx] = clamp8(cb);
                dst->img.data[2][(size_t)cy * (size_t)dst->img.stride[2] +
                                 (size_t)cx] = clamp8(cr);
            }
        }
    }
}

static void test_converted(void)
{
    static const int sizes[][2] = {{320, 240}, {1366, 768}, {1920, 1080}};
    static const enum pvs_pix_fmt dst_fmts[] = {
        PVS_PIX_GRAY, PVS_PIX_NV12, PVS_PIX_I420,
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int w = sizes[i][0], h = sizes[i][1];
        struct timg src;
        timg_alloc(&src, PVS_PIX_BGRA, w, h, 12);
        timg_fill_random(&src);
        struct pvs_stamp s = random_stamp();
        CHECK_INT(pvs_stamp_paint(&src.img, &s), ==, 0);
        for (size_t f = 0; f < 3; f++) {
            struct timg dst;
            timg_alloc(&dst, dst_fmts[f], w, h, 3);
            reference_convert(&src, &dst);
            struct pvs_stamp got = {0, 0};
            CHECK_INT(pvs_stamp_read(&dst.img, &got), ==, 0);
            CHECK(same_stamp(&got, &s));
            timg_free(&dst);
        }
        timg_free(&src);
    }
}

static void add_noise(struct timg *t, int amp)
{
    /* Luma only: that is all the reader looks at. */
    int w = t->img.fmt == PVS_PIX_BGRA ? t->img.width * 4 : t->img.width;
    for (int y = 0; y < t->img.height; y++) {
        uint8_t *row = t->img.data[0] + (size_t)y * (size_t)t->img.stride[0];
        for (int x = 0; x < w; x++) {
            int v = row[x] + (int)(rng() % (uint64_t)(2 * amp + 1)) - amp;
            row[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

/* 3x3 box blur of a one-byte-per-pixel plane, edges clamped. */
static void box_blur(struct timg *t)
{
    int w = t->img.width, h = t->img.height, st = t->img.stride[0];
    uint8_t *src = malloc((size_t)w * (size_t)h);
    if (!src)
        abort();
    for (int y = 0; y < h; y++)
        memcpy(src + (size_t)y * (size_t)w,
               t->img.data[0] + (size_t)y * (size_t)st, (size_t)w);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            int sum = 0;
            for (int dy = -1; dy <= 1; dy++) {
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
                    int xx = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
                    sum += src[(size_t)yy * (size_t)w + (size_t)xx];
                }
            }
            t->img.data[0][(size_t)y * (size_t)st + (size_t)x] =
                (uint8_t)((sum + 4) / 9);
        }
    }
    free(src);
}

/* Maps luma linearly from [0, 255] into [lo, hi]: an encoder or a range
 * conversion that squeezes or shifts the levels. */
static void squeeze_levels(struct timg *t, int lo, int hi)
{
    for (int y = 0; y < t->img.height; y++) {
        uint8_t *row = t->img.data[0] + (size_t)y * (size_t)t->img.stride[0];
        for (int x = 0; x < t->img.width; x++)
            row[x] = (uint8_t)(lo + row[x] * (hi - lo) / 255);
    }
}

static void test_robust(void)
{
    static const int sizes[][2] = {
        {320, 240}, {1280, 720}, {1366, 768}, {1920, 1080}, {3840, 2160},
    };
    static const enum pvs_pix_fmt fmts[] = {PVS_PIX_GRAY, PVS_PIX_NV12};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (size_t f = 0; f < 2; f++) {
            for (int k = 0; k < 4; k++) {
                struct timg t;
                timg_alloc(&t, fmts[f], sizes[i][0], sizes[i][1], 8);
                timg_fill_random(&t);
                struct pvs_stamp s = random_stamp(), got = {0, 0};
                CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, 0);
                if (k & 1)
                    add_noise(&t, 30);
                if (k & 2)
                    box_blur(&t);
                if (k == 0) {
                    squeeze_levels(&t, 90, 170);
                    add_noise(&t, 10);
                }
                CHECK_INT(pvs_stamp_read(&t.img, &got), ==, 0);
                CHECK(same_stamp(&got, &s));
                timg_free(&t);
            }
        }
    }
    /* BGRA too, with noise in every colour. */
    struct timg t;
    timg_alloc(&t, PVS_PIX_BGRA, 1920, 1080, 0);
    timg_fill_random(&t);
    struct pvs_stamp s = random_stamp(), got = {0, 0};
    CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, 0);
    add_noise(&t, 30);
    CHECK_INT(pvs_stamp_read(&t.img, &got), ==, 0);
    CHECK(same_stamp(&got, &s));
    timg_free(&t);
}

static void test_no_stamp(void)
{
    struct pvs_stamp got = {0, 0};
    int decoded = 0, other = 0;
    /* Random noise: the contrast test passes for most of these, so the CRC
     * alone has to turn them away. */
    for (int k = 0; k < 1000; k++) {
        enum pvs_pix_fmt fmt = all_fmts[k % N_FMTS];
        struct timg t;
        timg_alloc(&t, fmt, k % 2 ? 320 : 72, k % 2 ? 240 : 40, k % 3);
        timg_fill_random(&t);
        int rc = pvs_stamp_read(&t.img, &got);
        if (rc == 0)
            decoded++;
        else if (rc != PVS_ENOSTAMP)
            other++;
        timg_free(&t);
    }
    CHECK_INT(decoded, ==, 0);
    CHECK_INT(other, ==, 0);

    /* Flat, black, white, grey: too little contrast. */
    static const uint8_t flat[] = {0, 16, 128, 235, 255};
    for (size_t f = 0; f < N_FMTS; f++) {
        for (size_t i = 0; i < sizeof(flat); i++) {
            struct timg t;
            timg_alloc(&t, all_fmts[f], 1920, 1080, 0);
            timg_fill(&t, flat[i]);
            CHECK_INT(pvs_stamp_read(&t.img, &got), ==, PVS_ENOSTAMP);
            timg_free(&t);
        }
    }

    /* Gradients, horizontal and vertical, and a checkerboard of the
     * stamp's own levels and block size: contrast enough, no valid CRC. */
    for (size_t f = 0; f < N_FMTS; f++) {
        int bpp = all_fmts[f] == PVS_PIX_BGRA ? 4 : 1;
        for (int kind = 0; kind < 3; kind++) {
            struct timg t;
            timg_alloc(&t, all_fmts[f], 1920, 1080, 0);
            timg_fill(&t, 128);
            for (int y = 0; y < 1080; y++) {
                uint8_t *row = t.img.data[0] + (size_t)y * (size_t)t.img.stride[0];
                for (int x = 0; x < 1920; x++) {
                    uint8_t v = kind == 0   ? (uint8_t)(x * 255 / 1919)
                                : kind == 1 ? (uint8_t)(y * 255 / 1079)
                                : ((x / 16 + y / 16) & 1) ? 235 : 16;
                    for (int b = 0; b < bpp; b++)
                        row[x * bpp + b] = v;
                }
            }
            CHECK_INT(pvs_stamp_read(&t.img, &got), ==, PVS_ENOSTAMP);
            timg_free(&t);
        }
    }
}

/* Every single-block error is caught: CRC-32 detects all single-bit errors
 * in the payload, and a flipped CRC bit no longer matches. */
static void test_flipped_block(void)
{
    for (size_t f = 0; f < N_FMTS; f++) {
        struct timg t, orig;
        int w = 640, h = 360;
        timg_alloc(&t, all_fmts[f], w, h, 4);
        timg_alloc(&orig, all_fmts[f], w, h, 4);
        timg_fill_random(&orig);
        struct pvs_stamp s = random_stamp(), got = {0, 0};
        CHECK_INT(pvs_stamp_paint(&orig.img, &s), ==, 0);
        int bs = pvs_stamp_block_size(w);
        int bpp = all_fmts[f] == PVS_PIX_BGRA ? 4 : 1;
        int failures = 0;
        for (int bit = 0; bit < PVS_STAMP_COLS * PVS_STAMP_ROWS; bit++) {
            for (int i = 0; i < 3; i++)
                if (t.buf[i])
                    memcpy(t.buf[i], orig.buf[i], t.size[i]);
            int x0 = (1 + bit % PVS_STAMP_COLS) * bs;
            int y0 = (1 + bit / PVS_STAMP_COLS) * bs;
            for (int y = y0; y < y0 + bs; y++) {
                uint8_t *row = t.img.data[0] + (size_t)y * (size_t)t.img.stride[0];
                for (int x = x0 * bpp; x < (x0 + bs) * bpp; x++)
                    if (bpp == 1 || x % 4 != 3)
                        /* 16 <-> 235 in luma, 0 <-> 255 in BGRA */
                        row[x] = (uint8_t)((bpp == 1 ? 251 : 255) - row[x]);
            }
            if (pvs_stamp_read(&t.img, &got) != PVS_ENOSTAMP)
                failures++;
        }
        CHECK_INT(failures, ==, 0);
        /* And the untouched copy still reads. */
        CHECK_INT(pvs_stamp_read(&orig.img, &got), ==, 0);
        CHECK(same_stamp(&got, &s));
        timg_free(&t);
        timg_free(&orig);
    }
}

static void test_invalid(void)
{
    struct pvs_stamp s = {1, 2}, got = {0, 0};
    struct timg t;

    /* One pixel short in either direction. */
    timg_alloc(&t, PVS_PIX_GRAY, 71, 240, 0);
    CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_stamp_read(&t.img, &got), ==, PVS_EINVAL);
    timg_free(&t);
    timg_alloc(&t, PVS_PIX_BGRA, 1920, 159, 0);
    CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_stamp_read(&t.img, &got), ==, PVS_EINVAL);
    timg_free(&t);

    /* Exactly the area, tight strides: fits, and ASan checks the edges. */
    for (size_t f = 0; f < N_FMTS; f++) {
        timg_alloc(&t, all_fmts[f], 72, 40, 0);
        timg_fill(&t, 0);
        CHECK_INT(pvs_stamp_paint(&t.img, &s), ==, 0);
        CHECK_INT(pvs_stamp_read(&t.img, &got), ==, 0);
        CHECK(same_stamp(&got, &s));
        timg_free(&t);
    }

    got.frame = 7;
    got.time_us = 8;
    for (size_t f = 0; f < N_FMTS; f++) {
        timg_alloc(&t, all_fmts[f], 320, 240, 0);
        timg_fill(&t, 0);
        struct pvs_image img = t.img;

        CHECK_INT(pvs_stamp_paint(NULL, &s), ==, PVS_EINVAL);
        CHECK_INT(pvs_stamp_read(NULL, &got), ==, PVS_EINVAL);
        CHECK_INT(pvs_stamp_paint(&img, NULL), ==, PVS_EINVAL);
        CHECK_INT(pvs_stamp_read(&img, NULL), ==, PVS_EINVAL);

        for (int i = 0; i < plane_count(all_fmts[f]); i++) {
            img = t.img;
            img.data[i] = NULL;
            CHECK_INT(pvs_stamp_paint(&img, &s), ==, PVS_EINVAL);
            CHECK_INT(pvs_stamp_read(&img, &got), ==, PVS_EINVAL);
            img = t.img;
            img.stride[i]--;
            CHECK_INT(pvs_stamp_paint(&img, &s), ==, PVS_EINVAL);
            CHECK_INT(pvs_stamp_read(&img, &got), ==, PVS_EINVAL);
            img = t.img;
            img.stride[i] = -img.stride[i];
            CHECK_INT(pvs_stamp_read(&img, &got), ==, PVS_EINVAL);
        }
        img = t.img;
        img.width = 0;
        CHECK_INT(pvs_stamp_read(&img, &got), ==, PVS_EINVAL);
        img = t.img;
        img.height = -240;
        CHECK_INT(pvs_stamp_paint(&img, &s), ==, PVS_EINVAL);
        img = t.img;
        img.fmt = PVS_PIX_NONE;
        CHECK_INT(pvs_stamp_read(&img, &got), ==, PVS_EINVAL);
        img.fmt = (enum pvs_pix_fmt)99;
        CHECK_INT(pvs_stamp_paint(&img, &s), ==, PVS_EINVAL);
        /* A width whose row size overflows int must not pass the stride
         * check. */
        img = t.img;
        img.width = 0x40000000;
        img.stride[0] = 0x7fffffff;
        CHECK_INT(pvs_stamp_read(&img, &got), ==, PVS_EINVAL);
        timg_free(&t);
    }
    /* A failed read leaves `out` alone. */
    CHECK_INT(got.frame, ==, 7);
    CHECK_INT(got.time_us, ==, 8);
}

int main(void)
{
    RUN(test_crc32);
    RUN(test_block_size);
    RUN(test_area);
    RUN(test_round_trips);
    RUN(test_repaint);
    RUN(test_levels);
    RUN(test_converted);
    RUN(test_robust);
    RUN(test_no_stamp);
    RUN(test_flipped_block);
    RUN(test_invalid);
    TEST_EXIT();
}
