/* BGRA -> NV12 on the GPU (encode/d3d11_convert.c) against libyuv on the
 * CPU (encode/convert.c): test-desktop frames at 1280x720 and 1366x768,
 * desktop and game content, on every output path the device offers; PSNR
 * of Y, U and V each must reach 45 dB (the arithmetic is libyuv's, so they
 * are normally identical). Also: an input without a shader binding (copied
 * first, as Desktop Duplication's may need), an odd size, BT.709 against
 * libyuv's H709 formula, the slice rotation, bad input. The per-frame GPU
 * time is printed, not asserted. The pointer drawn during conversion
 * (colour with translucent edges, monochrome with inverting pixels, masked
 * colour) must equal pvs_pointer_composite() then libyuv, bit for bit, at
 * the frame's edges too. Where the driver renders into NV12, the zero-copy
 * entry (pvs_d3d11_convert_into, as an encoder's texture gets it) must give
 * the same planes; elsewhere it must refuse the texture cleanly. FFmpeg's
 * D3D11VA context is made around this device, as the encoder's zero-copy
 * input does: its pool of NV12 render targets must exist exactly where the
 * driver offers NV12 render targets, and be drawn into. Windows only; skipped (77) when no D3D11
 * device can be made (Wine without a display). */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <d3d11.h>
#include <dxgi.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/pointer.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "encode/convert.h"
#include "encode/d3d11_convert.h"
#include "encode/hw_d3d11.h"

#include <libavutil/hwcontext.h>
#include "tests/unit/test.h"

#define PSNR_MIN 45.0

static ID3D11Device *dev;
static ID3D11DeviceContext *ctx;
static char dev_name[200];
static bool nv12_offered;

static bool make_device(char *why, size_t len)
{
    static const D3D_FEATURE_LEVEL levels[] = {
        D3D_FEATURE_LEVEL_11_0, D3D_FEATURE_LEVEL_10_1, D3D_FEATURE_LEVEL_10_0,
    };
    static const struct { D3D_DRIVER_TYPE type; const char *name; } kinds[] = {
        { D3D_DRIVER_TYPE_HARDWARE, "hardware" },
        { D3D_DRIVER_TYPE_WARP, "WARP" },
    };
    int n = 0;
    why[0] = '\0';
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        D3D_FEATURE_LEVEL got;
        HRESULT hr = D3D11CreateDevice(NULL, kinds[i].type, NULL, 0, levels,
                                       sizeof(levels) / sizeof(levels[0]), D3D11_SDK_VERSION,
                                       &dev, &got, &ctx);
        if (FAILED(hr)) {
            n += snprintf(why + n, len - (size_t)n, "%s%s: 0x%08lx%s", n ? "; " : "",
                          kinds[i].name, (unsigned long)hr,
                          hr == DXGI_ERROR_UNSUPPORTED ? " DXGI_ERROR_UNSUPPORTED" : "");
            if (n >= (int)len)
                n = (int)len - 1;
            continue;
        }
        char adapter[128] = "?";
        IDXGIDevice *dxgi = NULL;
        IDXGIAdapter *a = NULL;
        DXGI_ADAPTER_DESC ad;
        if (SUCCEEDED(ID3D11Device_QueryInterface(dev, &IID_IDXGIDevice, (void **)&dxgi))) {
            if (SUCCEEDED(IDXGIDevice_GetAdapter(dxgi, &a))) {
                if (SUCCEEDED(IDXGIAdapter_GetDesc(a, &ad)))
                    WideCharToMultiByte(CP_UTF8, 0, ad.Description, -1, adapter,
                                        (int)sizeof(adapter), NULL, NULL);
                IDXGIAdapter_Release(a);
            }
            IDXGIDevice_Release(dxgi);
        }
        snprintf(dev_name, sizeof(dev_name), "%s device, feature level %u_%u, adapter \"%s\"",
                 kinds[i].name, (unsigned)got >> 12, ((unsigned)got >> 8) & 0xf, adapter);
        return true;
    }
    return false;
}

/* A DEFAULT texture holding `img` (BGRA), with `bind` flags. */
static ID3D11Texture2D *upload(const struct pvs_image *img, UINT bind, DXGI_FORMAT fmt)
{
    D3D11_TEXTURE2D_DESC td = {
        .Width = (UINT)img->width,
        .Height = (UINT)img->height,
        .MipLevels = 1,
        .ArraySize = 1,
        .Format = fmt,
        .SampleDesc = { .Count = 1 },
        .Usage = D3D11_USAGE_DEFAULT,
        .BindFlags = bind,
    };
    D3D11_SUBRESOURCE_DATA init = { .pSysMem = img->data[0], .SysMemPitch = (UINT)img->stride[0] };
    ID3D11Texture2D *t = NULL;
    HRESULT hr = ID3D11Device_CreateTexture2D(dev, &td, &init, &t);
    if (FAILED(hr)) {
        fprintf(stderr, "CreateTexture2D (%dx%d, bind 0x%x) failed: 0x%08lx\n", img->width,
                img->height, (unsigned)bind, (unsigned long)hr);
        return NULL;
    }
    return t;
}

struct nv12 {
    struct pvs_image img;
    uint8_t *buf;
};

static void nv12_make(struct nv12 *n, int w, int h)
{
    n->buf = calloc(1, pvs_image_packed_size(PVS_PIX_NV12, w, h));
    pvs_image_wrap_packed(&n->img, PVS_PIX_NV12, w, h, n->buf);
}

/* PSNR of plane `which` (0 Y, 1 U, 2 V); INFINITY when identical. */
static double psnr(const struct pvs_image *a, const struct pvs_image *b, int which, int *maxdiff)
{
    int w = a->width, h = a->height, step = 1, off = 0;
    const uint8_t *pa = a->data[0], *pb = b->data[0];
    int sa = a->stride[0], sb = b->stride[0];
    if (which > 0) {
        w = (w + 1) / 2;
        h = (h + 1) / 2;
        step = 2;
        off = which - 1;
        pa = a->data[1];
        pb = b->data[1];
        sa = a->stride[1];
        sb = b->stride[1];
    }
    double sum = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int d = pa[(size_t)y * sa + (size_t)x * step + off] - pb[(size_t)y * sb + (size_t)x * step + off];
            sum += (double)d * d;
            if (abs(d) > *maxdiff)
                *maxdiff = abs(d);
        }
    double mse = sum / ((double)w * h);
    return mse == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / mse);
}

/* Converts `tex` (holding `src`) on the GPU and checks it against libyuv. */
static void compare(const char *label, struct pvs_d3d11_convert *c, ID3D11Texture2D *tex,
                    const struct pvs_image *src)
{
    struct nv12 gpu, cpu;
    nv12_make(&gpu, src->width, src->height);
    nv12_make(&cpu, src->width, src->height);
    CHECK_INT(pvs_convert(src, &cpu.img), ==, 0);
    CHECK_INT(pvs_d3d11_convert(c, tex, NULL), ==, 0);
    CHECK_INT(pvs_d3d11_convert_read(c, &gpu.img), ==, 0);
    int maxdiff = 0;
    double p[3];
    for (int i = 0; i < 3; i++) {
        p[i] = psnr(&gpu.img, &cpu.img, i, &maxdiff);
        CHECK(p[i] >= PSNR_MIN);
    }
    printf("psnr %s %dx%d %s: Y %.2f U %.2f V %.2f dB (largest difference %d)\n", label,
           src->width, src->height, pvs_d3d11_convert_path_name(pvs_d3d11_convert_path(c)),
           p[0], p[1], p[2], maxdiff);
    free(gpu.buf);
    free(cpu.buf);
}

/* Waits for the GPU to finish what was queued. */
static void gpu_wait(void)
{
    D3D11_QUERY_DESC qd = { D3D11_QUERY_EVENT, 0 };
    ID3D11Query *q = NULL;
    if (FAILED(ID3D11Device_CreateQuery(dev, &qd, &q)))
        return;
    ID3D11DeviceContext_End(ctx, (ID3D11Asynchronous *)q);
    while (ID3D11DeviceContext_GetData(ctx, (ID3D11Asynchronous *)q, NULL, 0, 0) == S_FALSE)
        Sleep(0);
    ID3D11Query_Release(q);
}

/* The GPU's time per frame, and libyuv's on this CPU for scale. */
static void time_it(struct pvs_d3d11_convert *c, ID3D11Texture2D *tex, const struct pvs_image *src)
{
    enum { WARMUP = 10, FRAMES = 100 };
    for (int i = 0; i < WARMUP; i++)
        pvs_d3d11_convert(c, tex, NULL);
    gpu_wait();
    int64_t t0 = pvs_time_ns();
    for (int i = 0; i < FRAMES; i++)
        pvs_d3d11_convert(c, tex, NULL);
    gpu_wait();
    double ms = (double)(pvs_time_ns() - t0) / 1e6 / FRAMES;

    struct nv12 cpu;
    nv12_make(&cpu, src->width, src->height);
    pvs_convert(src, &cpu.img);
    t0 = pvs_time_ns();
    for (int i = 0; i < FRAMES; i++)
        pvs_convert(src, &cpu.img);
    double cpu_ms = (double)(pvs_time_ns() - t0) / 1e6 / FRAMES;
    free(cpu.buf);
    printf("gpu convert %dx%d %s: %.3f ms/frame (%d frames after %d warm-up, queued back to "
           "back and waited for once; libyuv on this CPU %.3f ms)\n", src->width, src->height,
           pvs_d3d11_convert_path_name(pvs_d3d11_convert_path(c)), ms, FRAMES, WARMUP, cpu_ms);
}

static struct pvs_d3d11_convert *open_conv(int w, int h, bool planes_only,
                                           enum pvs_yuv_matrix m, int surfaces)
{
    struct pvs_d3d11_convert_settings s;
    pvs_d3d11_convert_default_settings(&s);
    s.width = w;
    s.height = h;
    s.planes_only = planes_only;
    s.matrix = m;
    s.surfaces = surfaces;
    struct pvs_d3d11_convert *c = NULL;
    CHECK_INT(pvs_d3d11_convert_open(&c, dev, &s), ==, 0);
    return c;
}

static void test_testsrc_frames(void)
{
    static const struct { int w, h; } sizes[] = { { 1280, 720 }, { 1366, 768 } };
    static const enum pvs_content contents[] = { PVS_CONTENT_DESKTOP, PVS_CONTENT_GAME };
    for (size_t si = 0; si < 2; si++) {
        int w = sizes[si].w, h = sizes[si].h;
        for (size_t ci = 0; ci < 2; ci++) {
            struct pvs_capture_opts o = { .width = w, .height = h, .fps = 60,
                                          .content = contents[ci] };
            struct pvs_capture *cap = NULL;
            CHECK_INT(pvs_capture_open(&cap, "testsrc", &o), ==, 0);
            if (!cap)
                continue;
            struct pvs_frame f;
            /* a few frames in, so that things have moved */
            for (int i = 0; i < 4; i++) {
                CHECK_INT(pvs_capture_next(cap, &f, 1000), ==, 0);
                if (i < 3)
                    pvs_capture_release(cap, &f);
            }
            /* SRV + RTV bindings, as a texture the capture renders into */
            ID3D11Texture2D *tex = upload(&f.img, D3D11_BIND_SHADER_RESOURCE |
                                                  D3D11_BIND_RENDER_TARGET,
                                          DXGI_FORMAT_B8G8R8A8_UNORM);
            CHECK(tex != NULL);
            for (int nv = 0; tex && nv < (nv12_offered ? 2 : 1); nv++) {
                struct pvs_d3d11_convert *c = open_conv(w, h, nv == 0, PVS_YUV_BT601, 1);
                if (!c)
                    continue;
                compare(pvs_content_names[contents[ci]], c, tex, &f.img);
                if (contents[ci] == PVS_CONTENT_DESKTOP)
                    time_it(c, tex, &f.img);
                pvs_d3d11_convert_close(&c);
                CHECK(c == NULL);
            }
            if (tex)
                ID3D11Texture2D_Release(tex);
            pvs_capture_release(cap, &f);
            pvs_capture_close(&cap);
        }
    }
}

static uint32_t rng = 2024;
static uint8_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

static uint8_t *random_bgra(struct pvs_image *img, int w, int h)
{
    uint8_t *b = malloc((size_t)w * h * 4);
    for (size_t i = 0; i < (size_t)w * h * 4; i++)
        b[i] = rnd();
    *img = (struct pvs_image){ PVS_PIX_BGRA, w, h, { b }, { w * 4 } };
    return b;
}

/* No shader binding (copied inside first), and an odd size. */
static void test_copy_and_odd(void)
{
    static const struct { int w, h; UINT bind; const char *label; } cases[] = {
        { 640, 360, 0, "copied-input" },
        { 333, 199, D3D11_BIND_SHADER_RESOURCE, "odd-size" },
    };
    for (size_t i = 0; i < 2; i++) {
        struct pvs_image img;
        uint8_t *b = random_bgra(&img, cases[i].w, cases[i].h);
        ID3D11Texture2D *tex = upload(&img, cases[i].bind, DXGI_FORMAT_B8G8R8A8_UNORM);
        CHECK(tex != NULL);
        for (int nv = 0; tex && nv < (nv12_offered ? 2 : 1); nv++) {
            struct pvs_d3d11_convert *c = open_conv(img.width, img.height, nv == 0,
                                                    PVS_YUV_BT601, 1);
            if (c)
                compare(cases[i].label, c, tex, &img);
            pvs_d3d11_convert_close(&c);
        }
        if (tex)
            ID3D11Texture2D_Release(tex);
        free(b);
    }
}

/* BT.709 against libyuv's H709 arithmetic, written out. */
static void test_bt709(void)
{
    const int w = 64, h = 48;
    struct pvs_image img;
    uint8_t *b = random_bgra(&img, w, h);
    ID3D11Texture2D *tex = upload(&img, D3D11_BIND_SHADER_RESOURCE, DXGI_FORMAT_B8G8R8A8_UNORM);
    struct pvs_d3d11_convert *c = tex ? open_conv(w, h, false, PVS_YUV_BT709, 1) : NULL;
    struct nv12 gpu;
    nv12_make(&gpu, w, h);
    if (c) {
        CHECK_INT(pvs_d3d11_convert(c, tex, NULL), ==, 0);
        CHECK_INT(pvs_d3d11_convert_read(c, &gpu.img), ==, 0);
    }
    int worst = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = b + ((size_t)y * w + x) * 4;
            int ry = (47 * p[2] + 157 * p[1] + 16 * p[0] + 0x1080) >> 8;
            int d = abs(gpu.img.data[0][y * gpu.img.stride[0] + x] - ry);
            if (d > worst)
                worst = d;
            if ((x | y) & 1)
                continue;
            int s[3] = { 0, 0, 0 };
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    for (int k = 0; k < 3; k++)
                        s[k] += b[((size_t)(y + dy) * w + x + dx) * 4 + k];
            int bb = (s[0] + 2) >> 2, gg = (s[1] + 2) >> 2, rr = (s[2] + 2) >> 2;
            int u = (112 * bb - 86 * gg - 26 * rr + 0x8000) >> 8;
            int v = (112 * rr - 102 * gg - 10 * bb + 0x8000) >> 8;
            const uint8_t *uv = gpu.img.data[1] + (y / 2) * gpu.img.stride[1] + x;
            if (abs(uv[0] - u) > worst)
                worst = abs(uv[0] - u);
            if (abs(uv[1] - v) > worst)
                worst = abs(uv[1] - v);
        }
    CHECK_INT(worst, <=, 1);
    printf("bt709 %dx%d %s: largest difference from libyuv's H709 formula %d\n", w, h,
           c ? pvs_d3d11_convert_path_name(pvs_d3d11_convert_path(c)) : "-", worst);
    pvs_d3d11_convert_close(&c);
    if (tex)
        ID3D11Texture2D_Release(tex);
    free(gpu.buf);
    free(b);
}

/* Slices are used in turn; read-back takes the last one written. */
static void test_surfaces(void)
{
    const int w = 128, h = 96;
    struct pvs_image img;
    uint8_t *b = random_bgra(&img, w, h);
    ID3D11Texture2D *tex = upload(&img, D3D11_BIND_SHADER_RESOURCE, DXGI_FORMAT_B8G8R8A8_UNORM);
    struct pvs_d3d11_convert *c = tex ? open_conv(w, h, false, PVS_YUV_BT601, 3) : NULL;
    if (c) {
        struct pvs_d3d11_output o;
        int want[4] = { 0, 1, 2, 0 };
        for (int i = 0; i < 4; i++) {
            CHECK_INT(pvs_d3d11_convert(c, tex, &o), ==, 0);
            CHECK_INT(o.slice, ==, want[i]);
            CHECK_INT(o.width, ==, w);
            CHECK(o.path == PVS_D3D11_PATH_NV12 ? o.nv12 && !o.luma : !o.nv12 && o.luma && o.chroma);
        }
        compare("slices", c, tex, &img); /* slice 1 this time */
    }
    pvs_d3d11_convert_close(&c);
    if (tex)
        ID3D11Texture2D_Release(tex);
    free(b);
}

static void test_bad_input(void)
{
    struct pvs_d3d11_convert_settings s;
    pvs_d3d11_convert_default_settings(&s);
    struct pvs_d3d11_convert *c = (void *)1;
    CHECK_INT(pvs_d3d11_convert_open(&c, dev, &s), ==, PVS_EINVAL); /* no size */
    CHECK(c == NULL);
    s.width = 64;
    s.height = 64;
    s.surfaces = 17;
    CHECK_INT(pvs_d3d11_convert_open(&c, dev, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_d3d11_convert_open(&c, NULL, &s), ==, PVS_EINVAL);
    s.surfaces = 1;
    CHECK_INT(pvs_d3d11_convert_open(&c, dev, &s), ==, 0);

    struct nv12 out;
    nv12_make(&out, 64, 64);
    CHECK_INT(pvs_d3d11_convert_read(c, &out.img), ==, PVS_EINVAL); /* nothing converted yet */

    struct pvs_image img;
    uint8_t *b = random_bgra(&img, 96, 64);
    ID3D11Texture2D *wrong_size = upload(&img, D3D11_BIND_SHADER_RESOURCE,
                                         DXGI_FORMAT_B8G8R8A8_UNORM);
    if (wrong_size) {
        CHECK_INT(pvs_d3d11_convert(c, wrong_size, NULL), ==, PVS_EREINIT);
        ID3D11Texture2D_Release(wrong_size);
    }
    /* 16-bit float (HDR desktops): not taken */
    D3D11_TEXTURE2D_DESC td = {
        .Width = 64, .Height = 64, .MipLevels = 1, .ArraySize = 1,
        .Format = DXGI_FORMAT_R16G16B16A16_FLOAT, .SampleDesc = { .Count = 1 },
        .Usage = D3D11_USAGE_DEFAULT, .BindFlags = D3D11_BIND_SHADER_RESOURCE,
    };
    ID3D11Texture2D *hdr = NULL;
    if (SUCCEEDED(ID3D11Device_CreateTexture2D(dev, &td, NULL, &hdr))) {
        CHECK_INT(pvs_d3d11_convert(c, hdr, NULL), ==, PVS_ENOTSUP);
        ID3D11Texture2D_Release(hdr);
    }
    CHECK_INT(pvs_d3d11_convert(c, NULL, NULL), ==, PVS_EINVAL);
    pvs_d3d11_convert_close(&c);
    CHECK(c == NULL);
    pvs_d3d11_convert_close(&c); /* NULL again: nothing */
    pvs_d3d11_convert_close(NULL);
    free(out.buf);
    free(b);
}

/* ---- the pointer -------------------------------------------------------- */

/* A DXGI pointer shape of each type, 40x40 (monochrome: 32x32), made up of
 * every case the compositor has: transparent, opaque, translucent, XOR. */
static void make_shape(struct pvs_pointer *p, uint32_t type)
{
    static uint8_t buf[40 * 40 * 4 * 2];
    struct pvs_pointer_shape_info info = { .type = type, .hot_x = 3, .hot_y = 2 };
    memset(buf, 0, sizeof(buf));
    if (type == PVS_POINTER_MONOCHROME) {
        info.width = 32;
        info.height = 64; /* AND rows, then XOR rows */
        info.pitch = 4;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                int bit = 7 - (x & 7);
                bool and_bit = (x + y) % 3 != 0;  /* keep the screen */
                bool xor_bit = (x * y) % 5 == 1;  /* ...and invert it, or draw white */
                buf[y * 4 + x / 8] |= (uint8_t)(and_bit << bit);
                buf[(32 + y) * 4 + x / 8] |= (uint8_t)(xor_bit << bit);
            }
    } else {
        info.width = info.height = 40;
        info.pitch = 160;
        for (int y = 0; y < 40; y++)
            for (int x = 0; x < 40; x++) {
                uint8_t *q = buf + y * 160 + x * 4;
                q[0] = (uint8_t)(x * 6);
                q[1] = (uint8_t)(y * 6);
                q[2] = (uint8_t)(x * y);
                /* colour: straight alpha 0, 255 and in between;
                 * masked: 0 replaces, 0xFF XORs */
                q[3] = type == PVS_POINTER_COLOR ? (uint8_t)((x + y) * 3 % 256)
                                                 : ((x ^ y) & 4 ? 0xff : 0);
            }
    }
    CHECK_INT(pvs_pointer_convert(p, &info, buf, (size_t)info.pitch * info.height), ==, 0);
}

static void test_pointer(void)
{
    enum { W = 320, H = 180 };
    static const uint32_t types[] = { PVS_POINTER_COLOR, PVS_POINTER_MONOCHROME,
                                      PVS_POINTER_MASKED_COLOR };
    /* inside, across the top-left corner, across the bottom-right corner */
    static const struct { int x, y; } places[] = { { 101, 57 }, { -9, -13 }, { W - 17, H - 11 } };
    struct pvs_image img;
    uint8_t *b = random_bgra(&img, W, H);
    ID3D11Texture2D *tex = upload(&img, D3D11_BIND_SHADER_RESOURCE, DXGI_FORMAT_B8G8R8A8_UNORM);
    CHECK(tex != NULL);
    struct pvs_d3d11_convert *c = tex ? open_conv(W, H, true, PVS_YUV_BT601, 1) : NULL;
    struct pvs_pointer ptr = { 0 };
    uint8_t *drawn = malloc((size_t)img.stride[0] * H);
    for (size_t t = 0; c && t < sizeof(types) / sizeof(types[0]); t++) {
        make_shape(&ptr, types[t]);
        for (size_t k = 0; k < sizeof(places) / sizeof(places[0]); k++) {
            /* the CPU: composite, then libyuv */
            memcpy(drawn, b, (size_t)img.stride[0] * H);
            struct pvs_image cpu_in = img;
            cpu_in.data[0] = drawn;
            pvs_pointer_composite(&ptr, places[k].x, places[k].y, &cpu_in);
            struct nv12 gpu, cpu;
            nv12_make(&gpu, W, H);
            nv12_make(&cpu, W, H);
            CHECK_INT(pvs_convert(&cpu_in, &cpu.img), ==, 0);
            /* the GPU: the undrawn frame, the pointer drawn while converting */
            CHECK_INT(pvs_d3d11_convert_set_pointer(c, &ptr, places[k].x, places[k].y), ==, 0);
            CHECK_INT(pvs_d3d11_convert(c, tex, NULL), ==, 0);
            CHECK_INT(pvs_d3d11_convert_read(c, &gpu.img), ==, 0);
            int maxdiff = 0;
            for (int i = 0; i < 3; i++)
                psnr(&gpu.img, &cpu.img, i, &maxdiff);
            CHECK_INT(maxdiff, ==, 0);
            printf("pointer type %u at (%d,%d): largest difference from the CPU compositor %d\n",
                   types[t], places[k].x, places[k].y, maxdiff);
            free(gpu.buf);
            free(cpu.buf);
        }
    }
    /* No pointer again: the plain frame. */
    if (c) {
        CHECK_INT(pvs_d3d11_convert_set_pointer(c, NULL, 0, 0), ==, 0);
        compare("pointer-removed", c, tex, &img);
    }
    pvs_pointer_free(&ptr);
    pvs_d3d11_convert_close(&c);
    if (tex)
        ID3D11Texture2D_Release(tex);
    free(drawn);
    free(b);
}

/* ---- into an encoder's texture ------------------------------------------ */

/* An NV12 texture array as FFmpeg's D3D11 frame pool makes it for an
 * encoder (render-target binding, one slice per frame). */
static ID3D11Texture2D *encoder_pool(int w, int h, int slices, HRESULT *hr)
{
    D3D11_TEXTURE2D_DESC td = {
        .Width = (UINT)w,
        .Height = (UINT)h,
        .MipLevels = 1,
        .ArraySize = (UINT)slices,
        .Format = DXGI_FORMAT_NV12,
        .SampleDesc = { .Count = 1 },
        .Usage = D3D11_USAGE_DEFAULT,
        .BindFlags = D3D11_BIND_RENDER_TARGET,
    };
    ID3D11Texture2D *t = NULL;
    *hr = ID3D11Device_CreateTexture2D(dev, &td, NULL, &t);
    return SUCCEEDED(*hr) ? t : NULL;
}

static void test_into(void)
{
    enum { W = 640, H = 360 };
    struct pvs_image img;
    uint8_t *b = random_bgra(&img, W, H);
    ID3D11Texture2D *tex = upload(&img, D3D11_BIND_SHADER_RESOURCE, DXGI_FORMAT_B8G8R8A8_UNORM);
    struct pvs_d3d11_convert *c = tex ? open_conv(W, H, false, PVS_YUV_BT601, 1) : NULL;
    HRESULT hr;
    ID3D11Texture2D *pool = encoder_pool(W, H, 4, &hr);
    if (c && !pool) {
        /* Wine: no NV12 textures with a render-target binding */
        CHECK(!nv12_offered);
        printf("into: no NV12 render-target texture here (0x%08lx): the zero-copy path cannot "
               "be drawn, as expected without NV12 render targets\n", (unsigned long)hr);
    }
    /* A texture of another format is refused, not drawn into. */
    if (c) {
        ID3D11Texture2D *wrong = upload(&img, D3D11_BIND_RENDER_TARGET, DXGI_FORMAT_B8G8R8A8_UNORM);
        CHECK(wrong != NULL);
        if (wrong) {
            CHECK_INT(pvs_d3d11_convert_into(c, tex, wrong, 0), ==, PVS_ENOTSUP);
            ID3D11Texture2D_Release(wrong);
        }
    }
    for (int slice = 0; c && pool && slice < 4; slice += 3) {
        /* The same planes as the converter's own output: read both back
         * through a staging copy of the slice. */
        CHECK_INT(pvs_d3d11_convert_into(c, tex, pool, slice), ==, 0);
        CHECK_INT(pvs_d3d11_convert_into(c, tex, pool, 4), ==, PVS_ENOTSUP);
        struct nv12 mine, cpu;
        nv12_make(&mine, W, H);
        nv12_make(&cpu, W, H);
        CHECK_INT(pvs_convert(&img, &cpu.img), ==, 0);
        D3D11_TEXTURE2D_DESC sd;
        ID3D11Texture2D_GetDesc(pool, &sd);
        sd.ArraySize = 1;
        sd.Usage = D3D11_USAGE_STAGING;
        sd.BindFlags = 0;
        sd.CPUAccessFlags = D3D11_CPU_ACCESS_READ;
        ID3D11Texture2D *st = NULL;
        CHECK(SUCCEEDED(ID3D11Device_CreateTexture2D(dev, &sd, NULL, &st)));
        if (st) {
            ID3D11DeviceContext_CopySubresourceRegion(ctx, (ID3D11Resource *)st, 0, 0, 0, 0,
                                                      (ID3D11Resource *)pool, (UINT)slice, NULL);
            D3D11_MAPPED_SUBRESOURCE m;
            CHECK(SUCCEEDED(ID3D11DeviceContext_Map(ctx, (ID3D11Resource *)st, 0, D3D11_MAP_READ,
                                                    0, &m)));
            for (int y = 0; y < H; y++)
                memcpy(mine.img.data[0] + (size_t)y * mine.img.stride[0],
                       (const uint8_t *)m.pData + (size_t)y * m.RowPitch, W);
            for (int y = 0; y < H / 2; y++)
                memcpy(mine.img.data[1] + (size_t)y * mine.img.stride[1],
                       (const uint8_t *)m.pData + (size_t)(H + y) * m.RowPitch, W);
            ID3D11DeviceContext_Unmap(ctx, (ID3D11Resource *)st, 0);
            ID3D11Texture2D_Release(st);
            int maxdiff = 0;
            for (int i = 0; i < 3; i++)
                psnr(&mine.img, &cpu.img, i, &maxdiff);
            CHECK_INT(maxdiff, ==, 0);
            printf("into slice %d of an encoder-style NV12 array: largest difference from "
                   "libyuv %d\n", slice, maxdiff);
        }
        free(mine.buf);
        free(cpu.buf);
    }
    if (pool)
        ID3D11Texture2D_Release(pool);
    pvs_d3d11_convert_close(&c);
    if (tex)
        ID3D11Texture2D_Release(tex);
    free(b);
}

/* FFmpeg's context around our device, and its frame pool, as an encoder's
 * zero-copy input makes them (encode/hw_d3d11.h). */
static void test_ffmpeg_pool(void)
{
    AVBufferRef *hd = NULL, *fr = NULL;
    char why[256] = "";
    int err = pvs_hw_d3d11_device(&hd, (struct ID3D11Device *)dev, why, sizeof(why));
    CHECK(err == 0 || (err == PVS_ENODEV && why[0]));
    printf("FFmpeg D3D11VA around this device: %s\n", err ? why : "made");
    if (err)
        return;
    err = pvs_hw_d3d11_frames(&fr, hd, 640, 360, 8, why, sizeof(why));
    CHECK(err == 0 || (err == PVS_ENODEV && why[0]));
    CHECK_INT(err == 0, ==, nv12_offered);
    printf("FFmpeg pool of 8 NV12 render targets: %s\n", err ? why : "made");
    if (!err) {
        struct pvs_image img;
        uint8_t *b = random_bgra(&img, 640, 360);
        ID3D11Texture2D *tex = upload(&img, D3D11_BIND_SHADER_RESOURCE, DXGI_FORMAT_B8G8R8A8_UNORM);
        struct pvs_d3d11_convert *c = tex ? open_conv(640, 360, false, PVS_YUV_BT601, 1) : NULL;
        AVFrame *f = av_frame_alloc();
        CHECK_INT(av_hwframe_get_buffer(fr, f, 0), ==, 0);
        struct ID3D11Texture2D *target = NULL;
        int slice = -1;
        pvs_hw_d3d11_surface(f, &target, &slice);
        CHECK(target != NULL && slice >= 0 && slice < 8);
        if (c && target)
            CHECK_INT(pvs_d3d11_convert_into(c, tex, target, slice), ==, 0);
        av_frame_free(&f);
        pvs_d3d11_convert_close(&c);
        if (tex)
            ID3D11Texture2D_Release(tex);
        free(b);
    }
    av_buffer_unref(&fr);
    av_buffer_unref(&hd);
}

int main(void)
{
    char why[512];
    if (!make_device(why, sizeof(why))) {
        char msg[600];
        snprintf(msg, sizeof(msg), "no D3D11 device (%s); under Wine this needs an X display",
                 why);
        TEST_SKIP(msg);
    }
    UINT fs = 0;
    nv12_offered = SUCCEEDED(ID3D11Device_CheckFormatSupport(dev, DXGI_FORMAT_NV12, &fs)) &&
                   (fs & D3D11_FORMAT_SUPPORT_RENDER_TARGET);
    printf("device: %s; NV12 render targets %s\n", dev_name,
           nv12_offered ? "offered: both paths tested" : "not offered: planes path only");
    fflush(stdout);
    RUN(test_testsrc_frames);
    RUN(test_copy_and_odd);
    RUN(test_bt709);
    RUN(test_surfaces);
    RUN(test_bad_input);
    RUN(test_pointer);
    RUN(test_into);
    RUN(test_ffmpeg_pool);
    ID3D11DeviceContext_Release(ctx);
    ID3D11Device_Release(dev);
    TEST_EXIT();
}
