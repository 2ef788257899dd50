/* pointer: each DXGI shape type against pixels worked out by hand, hostile
 * sizes and pitches refused (the previous shape kept), and clipping at every
 * edge of a frame surrounded by canary bytes. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "capture/pointer.h"
#include "common/error.h"
#include "tests/unit/test.h"

#define BORDER 3
#define CANARY 0x5a

/* A BGRA frame inside a larger buffer whose border must never be written. */
struct canvas {
    uint8_t buf[(64 + 2 * BORDER) * (48 + 2 * BORDER) * 4];
    int full_w, full_h;
    struct pvs_image img;
};

static void canvas_init(struct canvas *c, int w, int h, const uint8_t bg[4])
{
    c->full_w = w + 2 * BORDER;
    c->full_h = h + 2 * BORDER;
    memset(c->buf, CANARY, sizeof(c->buf));
    int stride = c->full_w * 4;
    c->img = (struct pvs_image){ .fmt = PVS_PIX_BGRA, .width = w, .height = h };
    c->img.data[0] = c->buf + (size_t)BORDER * (size_t)stride + BORDER * 4;
    c->img.stride[0] = stride;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(c->img.data[0] + (size_t)y * (size_t)stride + (size_t)x * 4, bg, 4);
}

static const uint8_t *px(const struct canvas *c, int x, int y)
{
    return c->img.data[0] + (size_t)y * (size_t)c->img.stride[0] + (size_t)x * 4;
}

/* Every byte outside the frame is still the canary. */
static bool border_intact(const struct canvas *c)
{
    for (int y = 0; y < c->full_h; y++)
        for (int x = 0; x < c->full_w; x++) {
            bool inside = x >= BORDER && x < BORDER + c->img.width &&
                          y >= BORDER && y < BORDER + c->img.height;
            const uint8_t *p = c->buf + ((size_t)y * (size_t)c->full_w + (size_t)x) * 4;
            if (!inside && (p[0] != CANARY || p[1] != CANARY || p[2] != CANARY || p[3] != CANARY))
                return false;
        }
    return true;
}

static bool px_is(const struct canvas *c, int x, int y, int b, int g, int r, int a)
{
    const uint8_t *p = px(c, x, y);
    if (p[0] == b && p[1] == g && p[2] == r && p[3] == a)
        return true;
    fprintf(stderr, "  pixel (%d,%d) is %d,%d,%d,%d, want %d,%d,%d,%d\n", x, y, p[0], p[1], p[2],
            p[3], b, g, r, a);
    return false;
}

/* AND/XOR bits 00, 01, 10, 11 in one row of four; bits past the width and
 * the pitch's padding set, to be ignored. */
static void test_monochrome(void)
{
    const uint8_t shape[] = {
        0x3f, 0xaa, 0xaa, /* AND: 0 0 1 1 | 1111 */
        0x5f, 0xaa, 0xaa, /* XOR: 0 1 0 1 | 1111 */
    };
    struct pvs_pointer_shape_info info = { .type = PVS_POINTER_MONOCHROME, .width = 4,
                                           .height = 2, .pitch = 3, .hot_x = 1, .hot_y = 0 };
    struct pvs_pointer p = { 0 };
    CHECK_INT(pvs_pointer_convert(&p, &info, shape, sizeof(shape)), ==, 0);
    CHECK_INT(p.width, ==, 4);
    CHECK_INT(p.height, ==, 1);
    CHECK_INT(p.hot_x, ==, 1);
    CHECK_INT(p.serial, ==, 1);
    CHECK(p.has_xor);

    struct canvas c;
    canvas_init(&c, 8, 4, (const uint8_t[]){ 0x80, 0x40, 0x20, 0x33 });
    pvs_pointer_composite(&p, 2, 1, &c.img);
    CHECK(px_is(&c, 1, 1, 0x80, 0x40, 0x20, 0x33)); /* left of it */
    CHECK(px_is(&c, 2, 1, 0, 0, 0, 0xff));          /* AND 0 XOR 0: black */
    CHECK(px_is(&c, 3, 1, 0xff, 0xff, 0xff, 0xff)); /* AND 0 XOR 1: white */
    CHECK(px_is(&c, 4, 1, 0x80, 0x40, 0x20, 0x33)); /* AND 1 XOR 0: the screen */
    CHECK(px_is(&c, 5, 1, 0x7f, 0xbf, 0xdf, 0x33)); /* AND 1 XOR 1: inverted */
    CHECK(px_is(&c, 6, 1, 0x80, 0x40, 0x20, 0x33)); /* right of it */
    CHECK(px_is(&c, 3, 0, 0x80, 0x40, 0x20, 0x33));
    CHECK(px_is(&c, 3, 2, 0x80, 0x40, 0x20, 0x33));
    CHECK(border_intact(&c));
    pvs_pointer_free(&p);
    CHECK(p.bgra == NULL && p.width == 0);
}

/* The I-beam: AND 1 everywhere, XOR 1 on the beam. Over white the beam is
 * black, over black it is white; around it the screen shows. */
static void test_ibeam(void)
{
    /* 8 x 5: a bar at the top and bottom, a stem in columns 3 and 4 */
    uint8_t shape[10];
    memset(shape, 0xff, 5); /* AND */
    const uint8_t beam[5] = { 0x7e, 0x18, 0x18, 0x18, 0x7e };
    memcpy(shape + 5, beam, 5);
    struct pvs_pointer_shape_info info = { .type = PVS_POINTER_MONOCHROME, .width = 8,
                                           .height = 10, .pitch = 1 };
    struct pvs_pointer p = { 0 };
    CHECK_INT(pvs_pointer_convert(&p, &info, shape, sizeof(shape)), ==, 0);
    for (int bg = 0; bg < 2; bg++) {
        uint8_t v = bg ? 0xff : 0x00;
        struct canvas c;
        canvas_init(&c, 10, 7, (const uint8_t[]){ v, v, v, 0xff });
        pvs_pointer_composite(&p, 1, 1, &c.img);
        int wrong = 0;
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 8; x++) {
                bool on = beam[y] & (0x80 >> x);
                uint8_t want = on ? (uint8_t)~v : v;
                const uint8_t *q = px(&c, x + 1, y + 1);
                wrong += q[0] != want || q[1] != want || q[2] != want || q[3] != 0xff;
            }
        CHECK_INT(wrong, ==, 0);
        CHECK(px_is(&c, 4, 1, (uint8_t)~v, (uint8_t)~v, (uint8_t)~v, 0xff)); /* on the top bar */
        CHECK(px_is(&c, 1, 1, v, v, v, 0xff));                               /* beside it */
        CHECK(border_intact(&c));
    }
    pvs_pointer_free(&p);
}

/* Straight alpha in, premultiplied inside, blended as the X11 cursor is. */
static void test_color(void)
{
    const uint8_t shape[] = {
        200, 100, 50, 128,  10, 20, 30, 0,      0xee, 0xee, 0xee, 0xee, /* row 0, padding */
        1, 2, 3, 255,       255, 255, 255, 255, 0xee, 0xee, 0xee, 0xee, /* row 1, padding */
    };
    struct pvs_pointer_shape_info info = { .type = PVS_POINTER_COLOR, .width = 2, .height = 2,
                                           .pitch = 12, .hot_x = 5, .hot_y = -1 };
    struct pvs_pointer p = { 0 };
    /* The last row's padding is not needed. */
    CHECK_INT(pvs_pointer_convert(&p, &info, shape, sizeof(shape) - 4), ==, 0);
    CHECK_INT(p.hot_x, ==, 1); /* clamped into the shape */
    CHECK_INT(p.hot_y, ==, 0);
    CHECK(!p.has_xor);
    /* (200 * 128 + 127) / 255 = 100, (100 * 128 + 127) / 255 = 50, (50 * 128 + 127) / 255 = 25 */
    CHECK(p.bgra[0] == 100 && p.bgra[1] == 50 && p.bgra[2] == 25 && p.bgra[3] == 128);
    CHECK(p.bgra[4] == 0 && p.bgra[5] == 0 && p.bgra[6] == 0 && p.bgra[7] == 0);

    struct canvas c;
    canvas_init(&c, 4, 4, (const uint8_t[]){ 60, 60, 60, 0 });
    pvs_pointer_composite(&p, 1, 1, &c.img);
    /* 100 + (60 * 127 + 127) / 255 = 100 + 30 */
    CHECK(px_is(&c, 1, 1, 130, 80, 55, 0xff));
    CHECK(px_is(&c, 2, 1, 60, 60, 60, 0)); /* alpha 0: the screen, colour or not */
    CHECK(px_is(&c, 1, 2, 1, 2, 3, 0xff));
    CHECK(px_is(&c, 2, 2, 255, 255, 255, 0xff));
    CHECK(px_is(&c, 0, 0, 60, 60, 60, 0));
    CHECK(px_is(&c, 3, 3, 60, 60, 60, 0));
    CHECK(border_intact(&c));
    pvs_pointer_free(&p);
}

/* Alpha 0 puts the colour; any other alpha XORs it. */
static void test_masked_color(void)
{
    const uint8_t shape[] = {
        10, 20, 30, 0,  0xff, 0x0f, 0x00, 0xff,  0, 0, 0, 0xff,  0x01, 0x02, 0x04, 0x7f,
    };
    struct pvs_pointer_shape_info info = { .type = PVS_POINTER_MASKED_COLOR, .width = 4,
                                           .height = 1, .pitch = 16 };
    struct pvs_pointer p = { 0 };
    CHECK_INT(pvs_pointer_convert(&p, &info, shape, sizeof(shape)), ==, 0);
    CHECK(p.has_xor);
    struct canvas c;
    canvas_init(&c, 6, 3, (const uint8_t[]){ 0x80, 0x40, 0x20, 0x11 });
    pvs_pointer_composite(&p, 1, 1, &c.img);
    CHECK(px_is(&c, 1, 1, 10, 20, 30, 0xff));
    CHECK(px_is(&c, 2, 1, 0x7f, 0x4f, 0x20, 0x11));
    CHECK(px_is(&c, 3, 1, 0x80, 0x40, 0x20, 0x11)); /* XOR with 0: the screen */
    CHECK(px_is(&c, 4, 1, 0x81, 0x42, 0x24, 0x11));
    CHECK(px_is(&c, 5, 1, 0x80, 0x40, 0x20, 0x11));
    CHECK(border_intact(&c));

    /* A masked pointer that never XORs anything says so. */
    const uint8_t plain[] = { 1, 2, 3, 0, 0, 0, 0, 0xff };
    info.width = 2;
    info.pitch = 8;
    CHECK_INT(pvs_pointer_convert(&p, &info, plain, sizeof(plain)), ==, 0);
    CHECK(!p.has_xor);
    pvs_pointer_free(&p);
}

/* Sizes and pitches from the driver that do not add up are refused, and
 * the previous shape stays as it was. */
static void test_hostile(void)
{
    static uint8_t buf[256 * 1024];
    memset(buf, 0xff, sizeof(buf));
    struct pvs_pointer p = { 0 };
    struct pvs_pointer_shape_info good = { .type = PVS_POINTER_COLOR, .width = 4, .height = 4,
                                           .pitch = 16 };
    CHECK_INT(pvs_pointer_convert(&p, &good, buf, sizeof(buf)), ==, 0);
    uint64_t serial = p.serial;

    struct pvs_pointer_shape_info i;
    i = good; i.pitch = 15;                       /* shorter than a row */
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good;                                     /* one byte short */
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, 16 * 3 + 16 - 1), ==, PVS_EBADDATA);
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, 16 * 3 + 16), ==, 0);  /* exactly enough */
    serial = p.serial;
    i = good; i.pitch = UINT32_MAX;               /* the product must not wrap */
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.height = UINT32_MAX; i.pitch = 16;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.width = PVS_POINTER_MAX_SIDE + 1; i.pitch = (PVS_POINTER_MAX_SIDE + 1) * 4;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.width = UINT32_MAX / 4 + 1;       /* width * 4 wraps in 32 bits */
    i.pitch = 0;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.height = PVS_POINTER_MAX_SIDE + 1;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.type = PVS_POINTER_MONOCHROME; i.height = 5; i.pitch = 1; /* odd: masks differ */
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.type = PVS_POINTER_MONOCHROME; i.width = 9; i.pitch = 1;  /* needs 2 bytes */
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.type = PVS_POINTER_MONOCHROME; i.height = 2 * PVS_POINTER_MAX_SIDE + 2;
    i.pitch = 1;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.type = PVS_POINTER_MASKED_COLOR;
    CHECK_INT(pvs_pointer_convert(&p, &i, NULL, 0), ==, PVS_EBADDATA);
    CHECK_INT(pvs_pointer_convert(&p, &i, NULL, sizeof(buf)), ==, PVS_EBADDATA);
    i = good; i.type = 3;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_ENOTSUP);
    i = good; i.type = 0;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, PVS_ENOTSUP);
    CHECK_INT(pvs_pointer_convert(NULL, &good, buf, sizeof(buf)), ==, PVS_EINVAL);
    CHECK_INT(pvs_pointer_convert(&p, NULL, buf, sizeof(buf)), ==, PVS_EINVAL);
    /* Nothing above touched the shape. */
    CHECK_INT(p.serial, ==, serial);
    CHECK_INT(p.width, ==, 4);
    CHECK_INT(p.height, ==, 4);
    CHECK_INT(p.type, ==, PVS_POINTER_COLOR);
    CHECK(p.bgra[0] == 0xff && p.bgra[3] == 0xff);

    /* The largest shape taken, at the largest size. */
    i = good; i.type = PVS_POINTER_MONOCHROME; i.width = PVS_POINTER_MAX_SIDE;
    i.height = 2 * PVS_POINTER_MAX_SIDE; i.pitch = PVS_POINTER_MAX_SIDE / 8;
    CHECK_INT(pvs_pointer_convert(&p, &i, buf, sizeof(buf)), ==, 0);
    CHECK_INT(p.height, ==, PVS_POINTER_MAX_SIDE);

    /* An empty shape is taken and draws nothing, whatever the pitch. */
    i = good; i.width = 0; i.pitch = UINT32_MAX;
    CHECK_INT(pvs_pointer_convert(&p, &i, NULL, 0), ==, 0);
    CHECK(p.width == 0 && p.height == 0);
    struct canvas c;
    canvas_init(&c, 4, 4, (const uint8_t[]){ 1, 2, 3, 4 });
    pvs_pointer_composite(&p, 0, 0, &c.img);
    CHECK(px_is(&c, 0, 0, 1, 2, 3, 4));
    struct pvs_pointer_rect r;
    CHECK(!pvs_pointer_clip(&p, 0, 0, 4, 4, &r));
    pvs_pointer_free(&p);
    pvs_pointer_free(NULL);
}

/* A 4x4 opaque pointer at positions over every edge and corner, fully
 * outside, and at the ends of the int range: exactly the covered pixels
 * change, and nothing outside the frame. */
static void test_clipping(void)
{
    uint8_t shape[4 * 4 * 4];
    for (int k = 0; k < 16; k++) {
        shape[k * 4 + 0] = 0;
        shape[k * 4 + 1] = (uint8_t)k; /* green says which shape pixel landed */
        shape[k * 4 + 2] = 0xff;
        shape[k * 4 + 3] = 0xff;
    }
    struct pvs_pointer_shape_info info = { .type = PVS_POINTER_COLOR, .width = 4, .height = 4,
                                           .pitch = 16 };
    struct pvs_pointer p = { 0 };
    CHECK_INT(pvs_pointer_convert(&p, &info, shape, sizeof(shape)), ==, 0);
    const int W = 16, H = 12;
    const struct { int x, y; } pos[] = {
        { -2, -2 }, { W - 2, -2 }, { -2, H - 2 }, { W - 2, H - 2 }, /* corners */
        { -3, 5 }, { W - 1, 5 }, { 6, -3 }, { 6, H - 1 },           /* edges */
        { 6, 5 }, { 0, 0 }, { W - 4, H - 4 },                       /* inside */
        { -4, 5 }, { W, 5 }, { 6, -4 }, { 6, H },                   /* just outside */
        { INT_MAX, INT_MAX }, { INT_MIN, INT_MIN }, { INT_MAX - 2, 0 }, { 0, INT_MIN + 1 },
        { INT_MIN, 5 },
    };
    for (size_t k = 0; k < sizeof(pos) / sizeof(pos[0]); k++) {
        int x = pos[k].x, y = pos[k].y;
        struct canvas c;
        canvas_init(&c, W, H, (const uint8_t[]){ 9, 9, 9, 9 });
        pvs_pointer_composite(&p, x, y, &c.img);
        int wrong = 0, covered = 0;
        for (int fy = 0; fy < H; fy++)
            for (int fx = 0; fx < W; fx++) {
                int64_t sx = (int64_t)fx - x, sy = (int64_t)fy - y;
                bool in = sx >= 0 && sx < 4 && sy >= 0 && sy < 4;
                const uint8_t *q = px(&c, fx, fy);
                if (in) {
                    covered++;
                    wrong += !(q[0] == 0 && q[1] == sy * 4 + sx && q[2] == 0xff && q[3] == 0xff);
                } else {
                    wrong += !(q[0] == 9 && q[1] == 9 && q[2] == 9 && q[3] == 9);
                }
            }
        if (wrong)
            fprintf(stderr, "  at (%d,%d): %d wrong pixels\n", x, y, wrong);
        CHECK_INT(wrong, ==, 0);
        CHECK(border_intact(&c));
        struct pvs_pointer_rect r;
        bool any = pvs_pointer_clip(&p, x, y, W, H, &r);
        CHECK_INT(any, ==, covered > 0);
        CHECK_INT(r.w * r.h, ==, covered);
    }
    /* Corner case by hand: at (-2, -2) only the shape's bottom-right 2x2. */
    struct pvs_pointer_rect r;
    CHECK(pvs_pointer_clip(&p, -2, -2, W, H, &r));
    CHECK(r.x == 0 && r.y == 0 && r.w == 2 && r.h == 2);
    CHECK(pvs_pointer_clip(&p, W - 1, H - 3, W, H, &r));
    CHECK(r.x == W - 1 && r.y == H - 3 && r.w == 1 && r.h == 3);

    /* Not a BGRA frame: left alone. */
    struct canvas c;
    canvas_init(&c, W, H, (const uint8_t[]){ 9, 9, 9, 9 });
    c.img.fmt = PVS_PIX_NV12;
    pvs_pointer_composite(&p, 0, 0, &c.img);
    CHECK(px_is(&c, 0, 0, 9, 9, 9, 9));
    pvs_pointer_free(&p);
}

int main(void)
{
    RUN(test_monochrome);
    RUN(test_ibeam);
    RUN(test_color);
    RUN(test_masked_color);
    RUN(test_hostile);
    RUN(test_clipping);
    TEST_EXIT();
}
