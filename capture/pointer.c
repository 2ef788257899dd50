/* pointer: Desktop Duplication pointer shapes to a blend plane and an XOR
 * plane, and the CPU compositor (see pointer.h).
 *
 * Per type, with the screen pixel S:
 * - MONOCHROME: S' = (S AND and_bit) XOR xor_bit, per bit over all 24 bits.
 *   AND 0 gives an opaque black (XOR 0) or white (XOR 1) pixel; AND 1 keeps
 *   the screen (XOR 0) or inverts it (XOR 1). Bits are taken most
 *   significant first, as in any 1 bpp DIB.
 * - COLOR: straight alpha (Windows' own sample and other duplication
 *   clients blend it with SRC_ALPHA / INV_SRC_ALPHA), premultiplied here.
 * - MASKED_COLOR: alpha 0 puts the colour, alpha 0xFF XORs it with the
 *   screen. Other alpha values are undefined; like Microsoft's sample, any
 *   non-zero alpha counts as XOR. */
#include <stdlib.h>
#include <string.h>

#include "capture/pointer.h"
#include "common/error.h"

static int grow(struct pvs_pointer *p, size_t pixels)
{
    if (pixels <= p->capacity)
        return 0;
    /* realloc keeps the old contents when it fails, so `p` stays valid. */
    uint8_t *a = realloc(p->bgra, pixels * 4);
    if (!a)
        return PVS_ENOMEM;
    p->bgra = a;
    uint8_t *x = realloc(p->xor_bgr, pixels * 4);
    if (!x)
        return PVS_ENOMEM;
    p->xor_bgr = x;
    p->capacity = pixels;
    return 0;
}

static int clamp_hot(int32_t v, int side)
{
    if (v < 0 || side <= 0)
        return 0;
    return v >= side ? side - 1 : (int)v;
}

static void convert_mono(struct pvs_pointer *p, const uint8_t *buf, uint32_t pitch)
{
    int w = p->width, h = p->height;
    for (int j = 0; j < h; j++) {
        const uint8_t *and_row = buf + (size_t)j * pitch;
        const uint8_t *xor_row = buf + (size_t)(j + h) * pitch;
        uint8_t *c = p->bgra + (size_t)j * (size_t)w * 4;
        uint8_t *x = p->xor_bgr + (size_t)j * (size_t)w * 4;
        for (int i = 0; i < w; i++, c += 4, x += 4) {
            uint8_t bit = (uint8_t)(0x80u >> (i & 7));
            bool and_set = and_row[i >> 3] & bit, xor_set = xor_row[i >> 3] & bit;
            uint8_t v = xor_set ? 0xff : 0;
            if (!and_set) {
                c[0] = c[1] = c[2] = v;
                c[3] = 0xff;
                x[0] = x[1] = x[2] = x[3] = 0;
            } else {
                c[0] = c[1] = c[2] = c[3] = 0;
                x[0] = x[1] = x[2] = v;
                x[3] = 0;
                p->has_xor |= xor_set;
            }
        }
    }
}

static void convert_color(struct pvs_pointer *p, const uint8_t *buf, uint32_t pitch)
{
    int w = p->width, h = p->height;
    for (int j = 0; j < h; j++) {
        const uint8_t *s = buf + (size_t)j * pitch;
        uint8_t *c = p->bgra + (size_t)j * (size_t)w * 4;
        uint8_t *x = p->xor_bgr + (size_t)j * (size_t)w * 4;
        for (int i = 0; i < w; i++, s += 4, c += 4, x += 4) {
            unsigned a = s[3];
            for (int k = 0; k < 3; k++)
                c[k] = (uint8_t)((s[k] * a + 127) / 255);
            c[3] = (uint8_t)a;
            x[0] = x[1] = x[2] = x[3] = 0;
        }
    }
}

static void convert_masked(struct pvs_pointer *p, const uint8_t *buf, uint32_t pitch)
{
    int w = p->width, h = p->height;
    for (int j = 0; j < h; j++) {
        const uint8_t *s = buf + (size_t)j * pitch;
        uint8_t *c = p->bgra + (size_t)j * (size_t)w * 4;
        uint8_t *x = p->xor_bgr + (size_t)j * (size_t)w * 4;
        for (int i = 0; i < w; i++, s += 4, c += 4, x += 4) {
            if (s[3]) {
                c[0] = c[1] = c[2] = c[3] = 0;
                x[0] = s[0];
                x[1] = s[1];
                x[2] = s[2];
                x[3] = 0;
                p->has_xor |= (s[0] | s[1] | s[2]) != 0;
            } else {
                c[0] = s[0];
                c[1] = s[1];
                c[2] = s[2];
                c[3] = 0xff;
                x[0] = x[1] = x[2] = x[3] = 0;
            }
        }
    }
}

int pvs_pointer_convert(struct pvs_pointer *p, const struct pvs_pointer_shape_info *info,
                        const void *buf, size_t len)
{
    if (!p || !info)
        return PVS_EINVAL;
    uint32_t type = info->type;
    if (type != PVS_POINTER_MONOCHROME && type != PVS_POINTER_COLOR &&
        type != PVS_POINTER_MASKED_COLOR)
        return PVS_ENOTSUP;
    bool mono = type == PVS_POINTER_MONOCHROME;
    uint32_t w = info->width, rows = info->height;
    if (w > PVS_POINTER_MAX_SIDE || rows > (mono ? 2u : 1u) * PVS_POINTER_MAX_SIDE)
        return PVS_EBADDATA;
    if (mono && rows % 2)
        return PVS_EBADDATA; /* the two masks must have the same height */
    uint32_t h = mono ? rows / 2 : rows;
    if (w && h) {
        uint64_t row_bytes = mono ? ((uint64_t)w + 7) / 8 : (uint64_t)w * 4;
        if (info->pitch < row_bytes)
            return PVS_EBADDATA;
        uint64_t need = (uint64_t)info->pitch * (rows - 1) + row_bytes;
        if (!buf || need > len)
            return PVS_EBADDATA;
    } else {
        w = h = 0; /* an empty shape: nothing is read */
    }
    int err = grow(p, (size_t)w * h);
    if (err)
        return err;

    p->width = (int)w;
    p->height = (int)h;
    p->hot_x = clamp_hot(info->hot_x, (int)w);
    p->hot_y = clamp_hot(info->hot_y, (int)h);
    p->type = type;
    p->has_xor = false;
    p->serial++;
    if (!w)
        return 0;
    if (mono)
        convert_mono(p, buf, info->pitch);
    else if (type == PVS_POINTER_COLOR)
        convert_color(p, buf, info->pitch);
    else
        convert_masked(p, buf, info->pitch);
    return 0;
}

bool pvs_pointer_clip(const struct pvs_pointer *p, int x, int y, int frame_w, int frame_h,
                      struct pvs_pointer_rect *r)
{
    /* 64-bit: a position near INT_MAX plus the width must not wrap. */
    int64_t x0 = x, y0 = y, x1 = x0 + p->width, y1 = y0 + p->height;
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > frame_w)
        x1 = frame_w;
    if (y1 > frame_h)
        y1 = frame_h;
    if (x0 >= x1 || y0 >= y1) {
        *r = (struct pvs_pointer_rect){ 0, 0, 0, 0 };
        return false;
    }
    *r = (struct pvs_pointer_rect){ (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0) };
    return true;
}

void pvs_pointer_composite(const struct pvs_pointer *p, int x, int y, const struct pvs_image *frame)
{
    struct pvs_pointer_rect r;
    if (!p || !frame || frame->fmt != PVS_PIX_BGRA || !frame->data[0] ||
        !pvs_pointer_clip(p, x, y, frame->width, frame->height, &r))
        return;
    /* The shape's first visible pixel: r starts inside the shape. */
    int sx = (int)((int64_t)r.x - x), sy = (int)((int64_t)r.y - y);
    for (int j = 0; j < r.h; j++) {
        uint8_t *d = frame->data[0] + (size_t)(r.y + j) * (size_t)frame->stride[0] + (size_t)r.x * 4;
        size_t off = ((size_t)(sy + j) * (size_t)p->width + (size_t)sx) * 4;
        const uint8_t *s = p->bgra + off, *xr = p->xor_bgr + off;
        for (int i = 0; i < r.w; i++, d += 4, s += 4, xr += 4) {
            unsigned a = s[3];
            if (a == 255) {
                d[0] = s[0];
                d[1] = s[1];
                d[2] = s[2];
                d[3] = 0xff;
            } else if (a) {
                unsigned inv = 255 - a;
                for (int k = 0; k < 3; k++) {
                    unsigned v = s[k] + (d[k] * inv + 127) / 255;
                    d[k] = (uint8_t)(v > 255 ? 255 : v);
                }
                d[3] = 0xff;
            }
            if (p->has_xor) {
                d[0] ^= xr[0];
                d[1] ^= xr[1];
                d[2] ^= xr[2];
            }
        }
    }
}

void pvs_pointer_free(struct pvs_pointer *p)
{
    if (!p)
        return;
    free(p->bgra);
    free(p->xor_bgr);
    memset(p, 0, sizeof(*p));
}
