/* BGRA -> NV12 on the GPU (d3d11_convert.h): the D3D11 calls, the shaders,
 * and the read-back for tests and the CPU fallback.
 *
 * The shaders reproduce libyuv's integer arithmetic in float: every
 * intermediate is an integer below 2^24, and the divisions are by powers of
 * two, so float holds them exactly and floor() is libyuv's shift. Luma is
 * (RY*r + GY*g + BY*b + 0x1080) >> 8, chroma the rounded mean of the 2x2
 * block ((sum + 2) >> 2), then (RU*r + GU*g + BU*b + 0x8000) >> 8. The
 * coefficients are libyuv's I601 and H709 tables. Texel coordinates are
 * clamped to the frame, which makes an odd last column or row average with
 * itself, as libyuv does.
 *
 * Shader model 4.0: nothing here needs 5.0, 4.0 runs on every feature
 * level from 10_0, and Wine's D3DCompile takes both. D3DCompile comes from
 * d3dcompiler_47.dll, part of Windows since 8.1 (and built into Wine), so
 * the import library is linked rather than the DLL loaded at run time.
 *
 * State: the passes set every piece of pipeline state they rely on (the
 * capture's context may have been used for anything before), and unbind
 * their render targets and source view afterwards so that an encoder can
 * take the output texture without a read/write hazard. */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <d3d11.h>
#include <d3dcompiler.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "capture/pointer.h"
#include "encode/d3d11_convert.h"

#define MAX_SURFACES 16
#define MAX_TARGETS  32 /* views kept of encoder textures (texture, slice) */
#define SHADER_VS "vs_4_0"
#define SHADER_PS "ps_4_0"

static const char shader_src[] =
    "Texture2D<float4> src : register(t0);\n"
    "/* the pointer: premultiplied B, G, R, A rows, then as many rows of the\n"
    "   B, G, R values XORed after the blend (capture/pointer.h) */\n"
    "Texture2D<uint4> ptr : register(t1);\n"
    "cbuffer params : register(b0) {\n"
    "    float4 ky;   /* r, g, b coefficients and the addend, in 1/256 code values */\n"
    "    float4 ku;\n"
    "    float4 kv;\n"
    "    float4 last; /* the frame's last column and row */\n"
    "};\n"
    "cbuffer pointer : register(b1) {\n"
    "    int4 pbox;   /* the pointer's top-left corner and size; size 0: none */\n"
    "};\n"
    "float4 vs(uint id : SV_VertexID) : SV_Position {\n"
    "    /* one triangle that covers the viewport: (-1,1) (3,1) (-1,-3) */\n"
    "    float2 t = float2((id << 1) & 2, id & 2);\n"
    "    return float4(t.x * 2.0 - 1.0, 1.0 - t.y * 2.0, 0.0, 1.0);\n"
    "}\n"
    /* Macros: Wine's compiler (vkd3d-shader) cannot call user functions
     * (nor the "u" suffix of unsigned literals).
     * PIXEL sets `c` to pixel p (clamped to the frame) as 8-bit code values,
     * with the pointer drawn over it as pvs_pointer_composite() draws it:
     * opaque replaces, translucent blends with rounding, then XOR. */
    "#define PIXEL(c, p) {\\\n"
    "    int2 q = int2(min(p, last.xy));\\\n"
    "    c = floor(src.Load(int3(q, 0)).rgb * 255.0 + 0.5);\\\n"
    "    int2 o = q - pbox.xy;\\\n"
    "    if (o.x >= 0 && o.y >= 0 && o.x < pbox.z && o.y < pbox.w) {\\\n"
    "        uint4 s = ptr.Load(int3(o, 0));\\\n"
    "        uint4 x = ptr.Load(int3(o.x, o.y + pbox.w, 0));\\\n"
    "        uint3 d = uint3(c);\\\n"
    "        if (s.w == 255) d = s.zyx;\\\n"
    "        else if (s.w != 0) d = min(s.zyx + (d * (255 - s.w) + 127) / 255, uint3(255, 255, 255));\\\n"
    "        c = float3(d ^ x.zyx);\\\n"
    "    }\\\n"
    "}\n"
    "float ps_y(float4 pos : SV_Position) : SV_Target {\n"
    "    float3 c;\n"
    "    PIXEL(c, floor(pos.xy));\n"
    "    return floor((dot(c, ky.xyz) + ky.w) / 256.0) / 255.0;\n"
    "}\n"
    "float2 ps_uv(float4 pos : SV_Position) : SV_Target {\n"
    "    float2 p = floor(pos.xy) * 2.0;\n"
    "    float3 c0, c1, c2, c3;\n"
    "    PIXEL(c0, p);\n"
    "    PIXEL(c1, p + float2(1.0, 0.0));\n"
    "    PIXEL(c2, p + float2(0.0, 1.0));\n"
    "    PIXEL(c3, p + float2(1.0, 1.0));\n"
    "    float3 c = floor((c0 + c1 + c2 + c3 + 2.0) / 4.0);\n"
    "    return float2(floor((dot(c, ku.xyz) + ku.w) / 256.0),\n"
    "                  floor((dot(c, kv.xyz) + kv.w) / 256.0)) / 255.0;\n"
    "}\n";

/* libyuv's MAKEARGBCONSTANTS(I601 / H709, ...) (source/row_common.cc). */
static const float matrix_601[3][4] = {
    { 66, 129, 25, 0x1080 }, { -38, -74, 112, 0x8000 }, { 112, -94, -18, 0x8000 },
};
static const float matrix_709[3][4] = {
    { 47, 157, 16, 0x1080 }, { -26, -86, 112, 0x8000 }, { 112, -102, -10, 0x8000 },
};

struct pvs_d3d11_convert {
    struct pvs_d3d11_convert_settings s;
    int tw, th; /* target size: the input's rounded up to even */
    enum pvs_d3d11_convert_path path;
    ID3D11Device *dev;
    ID3D11DeviceContext *ctx;
    ID3D11VertexShader *vs;
    ID3D11PixelShader *ps_y, *ps_uv;
    ID3D11Buffer *params;
    /* outputs: the NV12 array, or the R8 and R8G8 arrays */
    ID3D11Texture2D *nv12, *luma, *chroma;
    ID3D11RenderTargetView *rtv_y[MAX_SURFACES], *rtv_uv[MAX_SURFACES];
    /* the last input read in place, and its view */
    ID3D11Texture2D *in_tex;
    ID3D11ShaderResourceView *in_srv;
    /* where inputs without a shader binding are copied */
    ID3D11Texture2D *copy_tex;
    ID3D11ShaderResourceView *copy_srv;
    DXGI_FORMAT copy_fmt;
    /* read-back, made on first use */
    ID3D11Texture2D *stage_nv12, *stage_y, *stage_uv;
    int next, last; /* slice to write next, slice written last (-1: none) */
    /* the pointer drawn over the input: its shape as a texture (made when
     * the shape changes) and its box in a constant buffer */
    ID3D11Buffer *pointer_cb;
    ID3D11Texture2D *ptr_tex;
    ID3D11ShaderResourceView *ptr_srv;
    int ptr_w, ptr_h;
    const struct pvs_pointer *ptr_shape; /* which shape ptr_tex holds... */
    uint64_t ptr_serial;                 /* ...and which of its versions */
    int32_t ptr_box[4];                  /* what pointer_cb holds */
    /* views of encoders' textures, drawn into by pvs_d3d11_convert_into() */
    struct target_view {
        ID3D11Texture2D *tex; /* a reference, so the address stays this texture's */
        int slice;
        ID3D11RenderTargetView *y, *uv;
    } targets[MAX_TARGETS];
    int n_targets;
};

static bool device_lost(HRESULT hr)
{
    return hr == DXGI_ERROR_DEVICE_REMOVED || hr == DXGI_ERROR_DEVICE_RESET ||
           hr == DXGI_ERROR_DEVICE_HUNG || hr == DXGI_ERROR_DRIVER_INTERNAL_ERROR;
}

/* Windows' text for `hr`, or its name where Windows has none (Wine knows
 * no DXGI codes). */
static const char *hr_text(HRESULT hr, char *buf, size_t len)
{
    pvs_win32_error_text((unsigned long)hr, buf, len);
    if (strncmp(buf, "error ", 6) != 0)
        return buf;
    switch (hr) {
    case DXGI_ERROR_UNSUPPORTED: return "DXGI_ERROR_UNSUPPORTED";
    case DXGI_ERROR_INVALID_CALL: return "DXGI_ERROR_INVALID_CALL";
    case DXGI_ERROR_DEVICE_REMOVED: return "DXGI_ERROR_DEVICE_REMOVED";
    case DXGI_ERROR_DEVICE_RESET: return "DXGI_ERROR_DEVICE_RESET";
    case DXGI_ERROR_DEVICE_HUNG: return "DXGI_ERROR_DEVICE_HUNG";
    case DXGI_ERROR_DRIVER_INTERNAL_ERROR: return "DXGI_ERROR_DRIVER_INTERNAL_ERROR";
    case DXGI_ERROR_WAS_STILL_DRAWING: return "DXGI_ERROR_WAS_STILL_DRAWING";
    default: return "no text for this code";
    }
}

/* Logs "WHAT failed: 0xHRESULT (text)" at the caller's line. Returns
 * PVS_EREINIT when the device is gone (the caller makes a new one and opens
 * again), else PVS_EEXTERNAL. */
#define HR_FAIL(hr, ...) hr_fail(__LINE__, PVS_LOG_ERROR, (hr), __VA_ARGS__)
#define HR_WARN(hr, ...) hr_fail(__LINE__, PVS_LOG_WARN, (hr), __VA_ARGS__)

PVS_PRINTF(4, 5)
static int hr_fail(int line, enum pvs_log_level level, HRESULT hr, const char *fmt, ...)
{
    char what[200], text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    pvs_log(level, __FILE__, line, "%s failed: 0x%08lx (%s)%s", what, (unsigned long)hr,
            hr_text(hr, text, sizeof(text)),
            device_lost(hr) ? ": the GPU device was lost; make a new one" : "");
    return device_lost(hr) ? PVS_EREINIT : PVS_EEXTERNAL;
}

#define RELEASE(p, type)              \
    do {                              \
        if (p) {                      \
            type##_Release(p);        \
            (p) = NULL;               \
        }                             \
    } while (0)

const char *pvs_d3d11_convert_path_name(enum pvs_d3d11_convert_path p)
{
    return p == PVS_D3D11_PATH_NV12 ? "nv12" : "planes";
}

enum pvs_d3d11_convert_path pvs_d3d11_convert_path(const struct pvs_d3d11_convert *c)
{
    return c->path;
}

void pvs_d3d11_convert_default_settings(struct pvs_d3d11_convert_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->matrix = PVS_YUV_BT601;
    s->surfaces = 1;
}

/* ---- open ------------------------------------------------------------------ */

static int compile(const char *entry, const char *target, ID3DBlob **out)
{
    ID3DBlob *errors = NULL;
    HRESULT hr = D3DCompile(shader_src, sizeof(shader_src) - 1, "d3d11_convert.hlsl", NULL, NULL,
                            entry, target, D3DCOMPILE_OPTIMIZATION_LEVEL3, 0, out, &errors);
    if (FAILED(hr)) {
        /* the message is not NUL-terminated and ends in a newline */
        const char *msg = errors ? ID3D10Blob_GetBufferPointer(errors) : "no message";
        int len = errors ? (int)ID3D10Blob_GetBufferSize(errors) : (int)strlen(msg);
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r' || msg[len - 1] == '\0'))
            len--;
        HR_FAIL(hr, "D3DCompile of %s (%s): %.*s;", entry, target, len, msg);
        if (errors)
            ID3D10Blob_Release(errors);
        return PVS_EEXTERNAL;
    }
    if (errors) /* warnings */
        ID3D10Blob_Release(errors);
    return 0;
}

static int make_shaders(struct pvs_d3d11_convert *c)
{
    ID3DBlob *b = NULL;
    int err = compile("vs", SHADER_VS, &b);
    if (err)
        return err;
    HRESULT hr = ID3D11Device_CreateVertexShader(c->dev, ID3D10Blob_GetBufferPointer(b),
                                                 ID3D10Blob_GetBufferSize(b), NULL, &c->vs);
    ID3D10Blob_Release(b);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateVertexShader");

    const char *entries[2] = { "ps_y", "ps_uv" };
    ID3D11PixelShader **ps[2] = { &c->ps_y, &c->ps_uv };
    for (int i = 0; i < 2; i++) {
        if ((err = compile(entries[i], SHADER_PS, &b)))
            return err;
        hr = ID3D11Device_CreatePixelShader(c->dev, ID3D10Blob_GetBufferPointer(b),
                                            ID3D10Blob_GetBufferSize(b), NULL, ps[i]);
        ID3D10Blob_Release(b);
        if (FAILED(hr))
            return HR_FAIL(hr, "CreatePixelShader (%s)", entries[i]);
    }

    const float (*m)[4] = c->s.matrix == PVS_YUV_BT709 ? matrix_709 : matrix_601;
    float params[16];
    memcpy(params, m, sizeof(float) * 12);
    params[12] = (float)(c->s.width - 1);
    params[13] = (float)(c->s.height - 1);
    params[14] = params[15] = 0;
    D3D11_BUFFER_DESC bd = {
        .ByteWidth = sizeof(params),
        .Usage = D3D11_USAGE_IMMUTABLE,
        .BindFlags = D3D11_BIND_CONSTANT_BUFFER,
    };
    D3D11_SUBRESOURCE_DATA init = { .pSysMem = params };
    hr = ID3D11Device_CreateBuffer(c->dev, &bd, &init, &c->params);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateBuffer (constants)");

    int32_t none[4] = { 0, 0, 0, 0 }; /* no pointer */
    D3D11_BUFFER_DESC pd = {
        .ByteWidth = sizeof(none),
        .Usage = D3D11_USAGE_DEFAULT,
        .BindFlags = D3D11_BIND_CONSTANT_BUFFER,
    };
    D3D11_SUBRESOURCE_DATA pinit = { .pSysMem = none };
    hr = ID3D11Device_CreateBuffer(c->dev, &pd, &pinit, &c->pointer_cb);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateBuffer (pointer constants)");
    return 0;
}

static int make_rtvs(struct pvs_d3d11_convert *c, ID3D11Texture2D *y_tex, ID3D11Texture2D *uv_tex,
                     enum pvs_log_level level)
{
    for (int i = 0; i < c->s.surfaces; i++) {
        D3D11_RENDER_TARGET_VIEW_DESC rd = {
            .Format = DXGI_FORMAT_R8_UNORM,
            .ViewDimension = D3D11_RTV_DIMENSION_TEXTURE2DARRAY,
            .Texture2DArray = { .MipSlice = 0, .FirstArraySlice = (UINT)i, .ArraySize = 1 },
        };
        HRESULT hr = ID3D11Device_CreateRenderTargetView(c->dev, (ID3D11Resource *)y_tex, &rd,
                                                         &c->rtv_y[i]);
        if (FAILED(hr))
            return hr_fail(__LINE__, level, hr, "CreateRenderTargetView (R8, slice %d)", i);
        rd.Format = DXGI_FORMAT_R8G8_UNORM;
        hr = ID3D11Device_CreateRenderTargetView(c->dev, (ID3D11Resource *)uv_tex, &rd,
                                                 &c->rtv_uv[i]);
        if (FAILED(hr))
            return hr_fail(__LINE__, level, hr, "CreateRenderTargetView (R8G8, slice %d)", i);
    }
    return 0;
}

static void drop_rtvs(struct pvs_d3d11_convert *c)
{
    for (int i = 0; i < MAX_SURFACES; i++) {
        RELEASE(c->rtv_y[i], ID3D11RenderTargetView);
        RELEASE(c->rtv_uv[i], ID3D11RenderTargetView);
    }
}

static void drop_targets(struct pvs_d3d11_convert *c)
{
    for (int i = 0; i < c->n_targets; i++) {
        struct target_view *t = &c->targets[i];
        RELEASE(t->y, ID3D11RenderTargetView);
        RELEASE(t->uv, ID3D11RenderTargetView);
        RELEASE(t->tex, ID3D11Texture2D);
    }
    c->n_targets = 0;
}

/* The NV12 path: an NV12 texture array whose planes are drawn through R8 and
 * R8G8 views. Returns false (having said why) when the driver cannot. */
static bool try_nv12(struct pvs_d3d11_convert *c, char *why, size_t why_len)
{
    UINT fs = 0;
    HRESULT hr = ID3D11Device_CheckFormatSupport(c->dev, DXGI_FORMAT_NV12, &fs);
    if (FAILED(hr) || !(fs & D3D11_FORMAT_SUPPORT_TEXTURE2D) ||
        !(fs & D3D11_FORMAT_SUPPORT_RENDER_TARGET)) {
        snprintf(why, why_len, "the driver offers no NV12 render targets (CheckFormatSupport: "
                 "0x%08lx, support 0x%x)", (unsigned long)hr, (unsigned)fs);
        return false;
    }
    D3D11_TEXTURE2D_DESC td = {
        .Width = (UINT)c->tw,
        .Height = (UINT)c->th,
        .MipLevels = 1,
        .ArraySize = (UINT)c->s.surfaces,
        .Format = DXGI_FORMAT_NV12,
        .SampleDesc = { .Count = 1 },
        .Usage = D3D11_USAGE_DEFAULT,
        /* shader resource too: encoders and scalers may sample it */
        .BindFlags = D3D11_BIND_RENDER_TARGET | D3D11_BIND_SHADER_RESOURCE,
    };
    hr = ID3D11Device_CreateTexture2D(c->dev, &td, NULL, &c->nv12);
    if (FAILED(hr)) {
        td.BindFlags = D3D11_BIND_RENDER_TARGET;
        hr = ID3D11Device_CreateTexture2D(c->dev, &td, NULL, &c->nv12);
    }
    if (FAILED(hr)) {
        HR_WARN(hr, "CreateTexture2D (NV12 %dx%d x%d)", c->tw, c->th, c->s.surfaces);
        snprintf(why, why_len, "an NV12 render-target texture could not be made (0x%08lx)",
                 (unsigned long)hr);
        return false;
    }
    if (make_rtvs(c, c->nv12, c->nv12, PVS_LOG_WARN)) {
        drop_rtvs(c);
        RELEASE(c->nv12, ID3D11Texture2D);
        snprintf(why, why_len, "the driver refused R8/R8G8 views of an NV12 texture");
        return false;
    }
    return true;
}

static int make_planes(struct pvs_d3d11_convert *c)
{
    D3D11_TEXTURE2D_DESC td = {
        .Width = (UINT)c->tw,
        .Height = (UINT)c->th,
        .MipLevels = 1,
        .ArraySize = (UINT)c->s.surfaces,
        .Format = DXGI_FORMAT_R8_UNORM,
        .SampleDesc = { .Count = 1 },
        .Usage = D3D11_USAGE_DEFAULT,
        .BindFlags = D3D11_BIND_RENDER_TARGET | D3D11_BIND_SHADER_RESOURCE,
    };
    HRESULT hr = ID3D11Device_CreateTexture2D(c->dev, &td, NULL, &c->luma);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateTexture2D (R8 %dx%d x%d)", c->tw, c->th, c->s.surfaces);
    td.Width /= 2;
    td.Height /= 2;
    td.Format = DXGI_FORMAT_R8G8_UNORM;
    hr = ID3D11Device_CreateTexture2D(c->dev, &td, NULL, &c->chroma);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateTexture2D (R8G8 %dx%d x%d)", c->tw / 2, c->th / 2,
                       c->s.surfaces);
    return make_rtvs(c, c->luma, c->chroma, PVS_LOG_ERROR);
}

int pvs_d3d11_convert_open(struct pvs_d3d11_convert **out, struct ID3D11Device *dev,
                           const struct pvs_d3d11_convert_settings *s)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!dev || !s || s->width <= 0 || s->height <= 0 ||
        s->width > D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION ||
        s->height > D3D11_REQ_TEXTURE2D_U_OR_V_DIMENSION ||
        s->surfaces < 1 || s->surfaces > MAX_SURFACES ||
        (s->matrix != PVS_YUV_BT601 && s->matrix != PVS_YUV_BT709)) {
        PVS_LOG_E("GPU colour conversion: bad settings (%dx%d, %d surfaces, matrix %d)",
                  s ? s->width : 0, s ? s->height : 0, s ? s->surfaces : 0, s ? (int)s->matrix : -1);
        return PVS_EINVAL;
    }
    D3D_FEATURE_LEVEL fl = ID3D11Device_GetFeatureLevel(dev);
    if (fl < D3D_FEATURE_LEVEL_10_0) {
        PVS_LOG_E("GPU colour conversion needs Direct3D feature level 10_0; this device has "
                  "0x%x: convert on the CPU", (unsigned)fl);
        return PVS_ENOTSUP;
    }

    struct pvs_d3d11_convert *c = calloc(1, sizeof(*c));
    if (!c)
        return PVS_ENOMEM;
    c->s = *s;
    c->tw = (s->width + 1) & ~1;
    c->th = (s->height + 1) & ~1;
    c->last = -1;
    c->dev = dev;
    ID3D11Device_AddRef(dev);
    ID3D11Device_GetImmediateContext(dev, &c->ctx);

    int err = make_shaders(c);
    if (err)
        goto fail;
    char why[160] = "not tried (planes_only)";
    if (!s->planes_only && try_nv12(c, why, sizeof(why))) {
        c->path = PVS_D3D11_PATH_NV12;
        PVS_LOG_I("GPU colour conversion %dx%d (%s): into an NV12 texture through R8/R8G8 "
                  "render-target views", s->width, s->height,
                  s->matrix == PVS_YUV_BT709 ? "BT.709" : "BT.601");
    } else {
        c->path = PVS_D3D11_PATH_PLANES;
        if ((err = make_planes(c)))
            goto fail;
        PVS_LOG_I("GPU colour conversion %dx%d (%s): into separate R8 and R8G8 textures, "
                  "read back only (NV12 path: %s)", s->width, s->height,
                  s->matrix == PVS_YUV_BT709 ? "BT.709" : "BT.601", why);
    }
    *out = c;
    return 0;

fail:
    pvs_d3d11_convert_close(&c);
    return err;
}

void pvs_d3d11_convert_close(struct pvs_d3d11_convert **pc)
{
    if (!pc || !*pc)
        return;
    struct pvs_d3d11_convert *c = *pc;
    drop_rtvs(c);
    drop_targets(c);
    RELEASE(c->ptr_srv, ID3D11ShaderResourceView);
    RELEASE(c->ptr_tex, ID3D11Texture2D);
    RELEASE(c->pointer_cb, ID3D11Buffer);
    RELEASE(c->stage_nv12, ID3D11Texture2D);
    RELEASE(c->stage_y, ID3D11Texture2D);
    RELEASE(c->stage_uv, ID3D11Texture2D);
    RELEASE(c->copy_srv, ID3D11ShaderResourceView);
    RELEASE(c->copy_tex, ID3D11Texture2D);
    RELEASE(c->in_srv, ID3D11ShaderResourceView);
    RELEASE(c->in_tex, ID3D11Texture2D);
    RELEASE(c->nv12, ID3D11Texture2D);
    RELEASE(c->luma, ID3D11Texture2D);
    RELEASE(c->chroma, ID3D11Texture2D);
    RELEASE(c->params, ID3D11Buffer);
    RELEASE(c->ps_uv, ID3D11PixelShader);
    RELEASE(c->ps_y, ID3D11PixelShader);
    RELEASE(c->vs, ID3D11VertexShader);
    RELEASE(c->ctx, ID3D11DeviceContext);
    RELEASE(c->dev, ID3D11Device);
    free(c);
    *pc = NULL;
}

/* ---- convert --------------------------------------------------------------- */

/* The UNORM format a shader reads `f` as; UNKNOWN for what we cannot take. */
static DXGI_FORMAT view_format(DXGI_FORMAT f)
{
    switch (f) {
    case DXGI_FORMAT_B8G8R8A8_UNORM:
    case DXGI_FORMAT_B8G8R8A8_TYPELESS:
        return DXGI_FORMAT_B8G8R8A8_UNORM;
    case DXGI_FORMAT_R8G8B8A8_UNORM:
    case DXGI_FORMAT_R8G8B8A8_TYPELESS:
        return DXGI_FORMAT_R8G8B8A8_UNORM;
    default:
        return DXGI_FORMAT_UNKNOWN;
    }
}

static int make_srv(struct pvs_d3d11_convert *c, ID3D11Texture2D *tex, DXGI_FORMAT fmt,
                    ID3D11ShaderResourceView **srv)
{
    D3D11_SHADER_RESOURCE_VIEW_DESC sd = {
        .Format = fmt,
        .ViewDimension = D3D11_SRV_DIMENSION_TEXTURE2D,
        .Texture2D = { .MostDetailedMip = 0, .MipLevels = 1 },
    };
    HRESULT hr = ID3D11Device_CreateShaderResourceView(c->dev, (ID3D11Resource *)tex, &sd, srv);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateShaderResourceView (input, format %u)", (unsigned)fmt);
    return 0;
}

/* A view the pixel shaders can read `tex` through: of `tex` itself, or of a
 * copy of it. */
static int input_view(struct pvs_d3d11_convert *c, ID3D11Texture2D *tex,
                      ID3D11ShaderResourceView **srv)
{
    D3D11_TEXTURE2D_DESC d;
    ID3D11Texture2D_GetDesc(tex, &d);
    bool fits = c->s.crop ? (int)d.Width >= c->s.width && (int)d.Height >= c->s.height
                          : (int)d.Width == c->s.width && (int)d.Height == c->s.height;
    if (!fits) {
        PVS_LOG_W("GPU colour conversion: input is %ux%u, opened for %dx%d", d.Width, d.Height,
                  c->s.width, c->s.height);
        return PVS_EREINIT;
    }
    DXGI_FORMAT vf = view_format(d.Format);
    if (vf == DXGI_FORMAT_UNKNOWN || d.SampleDesc.Count != 1) {
        PVS_LOG_E("GPU colour conversion takes 8-bit BGRA or RGBA without multisampling, not "
                  "DXGI format %u (%u samples)", (unsigned)d.Format, d.SampleDesc.Count);
        return PVS_ENOTSUP;
    }
    if ((d.BindFlags & D3D11_BIND_SHADER_RESOURCE) && d.ArraySize == 1) {
        if (tex != c->in_tex) {
            RELEASE(c->in_srv, ID3D11ShaderResourceView);
            RELEASE(c->in_tex, ID3D11Texture2D);
            int err = make_srv(c, tex, vf, &c->in_srv);
            if (err)
                return err;
            c->in_tex = tex;
            ID3D11Texture2D_AddRef(tex);
        }
        *srv = c->in_srv;
        return 0;
    }
    if (!c->copy_tex || c->copy_fmt != d.Format) {
        RELEASE(c->copy_srv, ID3D11ShaderResourceView);
        RELEASE(c->copy_tex, ID3D11Texture2D);
        D3D11_TEXTURE2D_DESC cd = {
            .Width = d.Width,
            .Height = d.Height,
            .MipLevels = 1,
            .ArraySize = 1,
            .Format = d.Format,
            .SampleDesc = { .Count = 1 },
            .Usage = D3D11_USAGE_DEFAULT,
            .BindFlags = D3D11_BIND_SHADER_RESOURCE,
        };
        HRESULT hr = ID3D11Device_CreateTexture2D(c->dev, &cd, NULL, &c->copy_tex);
        if (FAILED(hr))
            return HR_FAIL(hr, "CreateTexture2D (input copy %ux%u)", d.Width, d.Height);
        int err = make_srv(c, c->copy_tex, vf, &c->copy_srv);
        if (err) {
            RELEASE(c->copy_tex, ID3D11Texture2D);
            return err;
        }
        c->copy_fmt = d.Format;
    }
    ID3D11DeviceContext_CopySubresourceRegion(c->ctx, (ID3D11Resource *)c->copy_tex, 0, 0, 0, 0,
                                              (ID3D11Resource *)tex, 0, NULL);
    *srv = c->copy_srv;
    return 0;
}

static void draw(struct pvs_d3d11_convert *c, ID3D11RenderTargetView *rtv, ID3D11PixelShader *ps,
                 int w, int h)
{
    D3D11_VIEWPORT vp = { 0, 0, (FLOAT)w, (FLOAT)h, 0, 1 };
    ID3D11DeviceContext_OMSetRenderTargets(c->ctx, 1, &rtv, NULL);
    ID3D11DeviceContext_RSSetViewports(c->ctx, 1, &vp);
    ID3D11DeviceContext_PSSetShader(c->ctx, ps, NULL, 0);
    ID3D11DeviceContext_Draw(c->ctx, 3, 0);
}

/* Both passes from `srv` into the two views. */
static void passes(struct pvs_d3d11_convert *c, ID3D11ShaderResourceView *srv,
                   ID3D11RenderTargetView *rtv_y, ID3D11RenderTargetView *rtv_uv)
{
    ID3D11DeviceContext *x = c->ctx;
    ID3D11DeviceContext_IASetInputLayout(x, NULL);
    ID3D11DeviceContext_IASetPrimitiveTopology(x, D3D11_PRIMITIVE_TOPOLOGY_TRIANGLELIST);
    ID3D11DeviceContext_VSSetShader(x, c->vs, NULL, 0);
    ID3D11DeviceContext_GSSetShader(x, NULL, NULL, 0);
    ID3D11DeviceContext_HSSetShader(x, NULL, NULL, 0);
    ID3D11DeviceContext_DSSetShader(x, NULL, NULL, 0);
    ID3D11DeviceContext_RSSetState(x, NULL); /* solid, cull back, no scissor */
    ID3D11DeviceContext_OMSetBlendState(x, NULL, NULL, 0xffffffff);
    ID3D11DeviceContext_OMSetDepthStencilState(x, NULL, 0);
    ID3D11Buffer *cbs[2] = { c->params, c->pointer_cb };
    ID3D11DeviceContext_PSSetConstantBuffers(x, 0, 2, cbs);
    ID3D11ShaderResourceView *srvs[2] = { srv, c->ptr_srv };
    ID3D11DeviceContext_PSSetShaderResources(x, 0, 2, srvs);

    draw(c, rtv_y, c->ps_y, c->tw, c->th);
    draw(c, rtv_uv, c->ps_uv, c->tw / 2, c->th / 2);

    ID3D11ShaderResourceView *none[2] = { NULL, NULL };
    ID3D11DeviceContext_PSSetShaderResources(x, 0, 2, none);
    ID3D11DeviceContext_OMSetRenderTargets(x, 0, NULL, NULL);
}

int pvs_d3d11_convert(struct pvs_d3d11_convert *c, struct ID3D11Texture2D *bgra,
                      struct pvs_d3d11_output *out)
{
    if (!c || !bgra)
        return PVS_EINVAL;
    ID3D11ShaderResourceView *srv = NULL;
    int err = input_view(c, bgra, &srv);
    if (err)
        return err;

    int slice = c->next;
    passes(c, srv, c->rtv_y[slice], c->rtv_uv[slice]);
    c->last = slice;
    c->next = (slice + 1) % c->s.surfaces;
    if (out) {
        *out = (struct pvs_d3d11_output){
            .path = c->path,
            .nv12 = c->nv12,
            .luma = c->luma,
            .chroma = c->chroma,
            .slice = slice,
            .width = c->tw,
            .height = c->th,
        };
    }
    return 0;
}

/* ---- into an encoder's texture ----------------------------------------- */

/* The R8 and R8G8 views of slice `slice` of `tex`: kept from an earlier
 * call, or made now. Encoders draw from a fixed pool (one texture array), so
 * the same few pairs come back every frame. */
static int target_views(struct pvs_d3d11_convert *c, ID3D11Texture2D *tex, int slice,
                        struct target_view **out)
{
    for (int i = 0; i < c->n_targets; i++) {
        if (c->targets[i].tex == tex && c->targets[i].slice == slice) {
            *out = &c->targets[i];
            return 0;
        }
    }
    D3D11_TEXTURE2D_DESC d;
    ID3D11Texture2D_GetDesc(tex, &d);
    if (d.Format != DXGI_FORMAT_NV12 || !(d.BindFlags & D3D11_BIND_RENDER_TARGET) ||
        slice < 0 || (UINT)slice >= d.ArraySize || (int)d.Width < c->tw || (int)d.Height < c->th) {
        PVS_LOG_E("GPU colour conversion: the encoder's texture cannot be drawn into (DXGI format "
                  "%u, bind flags 0x%x, %ux%u, slice %d of %u; needs NV12 with a render-target "
                  "binding, at least %dx%d)", (unsigned)d.Format, (unsigned)d.BindFlags, d.Width,
                  d.Height, slice, d.ArraySize, c->tw, c->th);
        return PVS_ENOTSUP;
    }
    if (c->n_targets == MAX_TARGETS)
        drop_targets(c); /* another pool each time: start over rather than grow */
    struct target_view *t = &c->targets[c->n_targets];
    D3D11_RENDER_TARGET_VIEW_DESC rd = {
        .Format = DXGI_FORMAT_R8_UNORM,
        .ViewDimension = D3D11_RTV_DIMENSION_TEXTURE2DARRAY,
        .Texture2DArray = { .MipSlice = 0, .FirstArraySlice = (UINT)slice, .ArraySize = 1 },
    };
    HRESULT hr = ID3D11Device_CreateRenderTargetView(c->dev, (ID3D11Resource *)tex, &rd, &t->y);
    if (SUCCEEDED(hr)) {
        rd.Format = DXGI_FORMAT_R8G8_UNORM;
        hr = ID3D11Device_CreateRenderTargetView(c->dev, (ID3D11Resource *)tex, &rd, &t->uv);
    }
    if (FAILED(hr)) {
        RELEASE(t->y, ID3D11RenderTargetView);
        int err = HR_FAIL(hr, "CreateRenderTargetView (R8/R8G8 of the encoder's NV12 texture, "
                          "slice %d)", slice);
        return err == PVS_EREINIT ? err : PVS_ENOTSUP;
    }
    t->tex = tex;
    t->slice = slice;
    ID3D11Texture2D_AddRef(tex);
    c->n_targets++;
    *out = t;
    return 0;
}

int pvs_d3d11_convert_into(struct pvs_d3d11_convert *c, struct ID3D11Texture2D *bgra,
                           struct ID3D11Texture2D *target, int slice)
{
    if (!c || !bgra || !target)
        return PVS_EINVAL;
    ID3D11ShaderResourceView *srv = NULL;
    struct target_view *t = NULL;
    int err = input_view(c, bgra, &srv);
    if (!err)
        err = target_views(c, target, slice, &t);
    if (err)
        return err;
    passes(c, srv, t->y, t->uv);
    return 0;
}

/* ---- the pointer ------------------------------------------------------- */

/* Puts the shape into a texture: its blend rows, then its XOR rows, as
 * R8G8B8A8_UINT so the shader reads the bytes as they are. */
static int upload_shape(struct pvs_d3d11_convert *c, const struct pvs_pointer *p)
{
    if (!c->ptr_tex || c->ptr_w != p->width || c->ptr_h != p->height) {
        RELEASE(c->ptr_srv, ID3D11ShaderResourceView);
        RELEASE(c->ptr_tex, ID3D11Texture2D);
        D3D11_TEXTURE2D_DESC td = {
            .Width = (UINT)p->width,
            .Height = (UINT)p->height * 2,
            .MipLevels = 1,
            .ArraySize = 1,
            .Format = DXGI_FORMAT_R8G8B8A8_UINT,
            .SampleDesc = { .Count = 1 },
            .Usage = D3D11_USAGE_DEFAULT,
            .BindFlags = D3D11_BIND_SHADER_RESOURCE,
        };
        HRESULT hr = ID3D11Device_CreateTexture2D(c->dev, &td, NULL, &c->ptr_tex);
        if (SUCCEEDED(hr))
            hr = ID3D11Device_CreateShaderResourceView(c->dev, (ID3D11Resource *)c->ptr_tex, NULL,
                                                       &c->ptr_srv);
        if (FAILED(hr)) {
            RELEASE(c->ptr_tex, ID3D11Texture2D);
            return HR_FAIL(hr, "CreateTexture2D (pointer %dx%d)", p->width, p->height);
        }
        c->ptr_w = p->width;
        c->ptr_h = p->height;
    }
    UINT pitch = (UINT)p->width * 4;
    D3D11_BOX top = { 0, 0, 0, (UINT)p->width, (UINT)p->height, 1 };
    D3D11_BOX bottom = { 0, (UINT)p->height, 0, (UINT)p->width, (UINT)p->height * 2, 1 };
    ID3D11DeviceContext_UpdateSubresource(c->ctx, (ID3D11Resource *)c->ptr_tex, 0, &top, p->bgra,
                                          pitch, 0);
    ID3D11DeviceContext_UpdateSubresource(c->ctx, (ID3D11Resource *)c->ptr_tex, 0, &bottom,
                                          p->xor_bgr, pitch, 0);
    return 0;
}

int pvs_d3d11_convert_set_pointer(struct pvs_d3d11_convert *c, const struct pvs_pointer *p,
                                  int x, int y)
{
    if (!c)
        return PVS_EINVAL;
    int32_t box[4] = { 0, 0, 0, 0 };
    if (p && p->width > 0 && p->height > 0 && p->bgra && p->xor_bgr) {
        if (p != c->ptr_shape || p->serial != c->ptr_serial || !c->ptr_tex) {
            int err = upload_shape(c, p);
            if (err)
                return err;
            c->ptr_shape = p;
            c->ptr_serial = p->serial;
        }
        box[0] = x;
        box[1] = y;
        box[2] = p->width;
        box[3] = p->height;
    }
    if (memcmp(box, c->ptr_box, sizeof(box))) {
        ID3D11DeviceContext_UpdateSubresource(c->ctx, (ID3D11Resource *)c->pointer_cb, 0, NULL,
                                              box, 0, 0);
        memcpy(c->ptr_box, box, sizeof(box));
    }
    return 0;
}

/* ---- read-back ------------------------------------------------------------- */

static int staging(struct pvs_d3d11_convert *c, ID3D11Texture2D **t, DXGI_FORMAT fmt, int w, int h)
{
    if (*t)
        return 0;
    D3D11_TEXTURE2D_DESC td = {
        .Width = (UINT)w,
        .Height = (UINT)h,
        .MipLevels = 1,
        .ArraySize = 1,
        .Format = fmt,
        .SampleDesc = { .Count = 1 },
        .Usage = D3D11_USAGE_STAGING,
        .CPUAccessFlags = D3D11_CPU_ACCESS_READ,
    };
    HRESULT hr = ID3D11Device_CreateTexture2D(c->dev, &td, NULL, t);
    if (FAILED(hr))
        return HR_FAIL(hr, "CreateTexture2D (staging, format %u, %dx%d)", (unsigned)fmt, w, h);
    return 0;
}

/* Rows of `w` bytes (luma) or `w` U,V pairs (chroma) into dst's planes. */
static void copy_luma(const uint8_t *s, size_t pitch, struct pvs_image *dst)
{
    for (int y = 0; y < dst->height; y++)
        memcpy(dst->data[0] + (size_t)y * (size_t)dst->stride[0], s + (size_t)y * pitch,
               (size_t)dst->width);
}

static void copy_chroma(const uint8_t *s, size_t pitch, struct pvs_image *dst)
{
    int cw = (dst->width + 1) / 2, ch = (dst->height + 1) / 2;
    for (int y = 0; y < ch; y++) {
        const uint8_t *row = s + (size_t)y * pitch;
        if (dst->fmt == PVS_PIX_NV12) {
            memcpy(dst->data[1] + (size_t)y * (size_t)dst->stride[1], row, (size_t)cw * 2);
            continue;
        }
        uint8_t *u = dst->data[1] + (size_t)y * (size_t)dst->stride[1];
        uint8_t *v = dst->data[2] + (size_t)y * (size_t)dst->stride[2];
        for (int x = 0; x < cw; x++) {
            u[x] = row[2 * x];
            v[x] = row[2 * x + 1];
        }
    }
}

static int map_read(struct pvs_d3d11_convert *c, ID3D11Texture2D *t, D3D11_MAPPED_SUBRESOURCE *m)
{
    HRESULT hr = ID3D11DeviceContext_Map(c->ctx, (ID3D11Resource *)t, 0, D3D11_MAP_READ, 0, m);
    if (FAILED(hr))
        return HR_FAIL(hr, "Map (staging texture)");
    return 0;
}

int pvs_d3d11_convert_read(struct pvs_d3d11_convert *c, struct pvs_image *dst)
{
    if (!c || !dst || c->last < 0 || (dst->fmt != PVS_PIX_NV12 && dst->fmt != PVS_PIX_I420) ||
        dst->width != c->s.width || dst->height != c->s.height)
        return PVS_EINVAL;
    D3D11_MAPPED_SUBRESOURCE m;
    int err;
    if (c->path == PVS_D3D11_PATH_NV12) {
        if ((err = staging(c, &c->stage_nv12, DXGI_FORMAT_NV12, c->tw, c->th)))
            return err;
        ID3D11DeviceContext_CopySubresourceRegion(c->ctx, (ID3D11Resource *)c->stage_nv12, 0, 0,
                                                  0, 0, (ID3D11Resource *)c->nv12,
                                                  (UINT)c->last, NULL);
        if ((err = map_read(c, c->stage_nv12, &m)))
            return err;
        /* A mapped NV12 texture: the luma rows, then the chroma rows at the
         * same pitch. */
        copy_luma(m.pData, m.RowPitch, dst);
        copy_chroma((const uint8_t *)m.pData + (size_t)m.RowPitch * (size_t)c->th, m.RowPitch,
                    dst);
        ID3D11DeviceContext_Unmap(c->ctx, (ID3D11Resource *)c->stage_nv12, 0);
        return 0;
    }
    if ((err = staging(c, &c->stage_y, DXGI_FORMAT_R8_UNORM, c->tw, c->th)) ||
        (err = staging(c, &c->stage_uv, DXGI_FORMAT_R8G8_UNORM, c->tw / 2, c->th / 2)))
        return err;
    ID3D11DeviceContext_CopySubresourceRegion(c->ctx, (ID3D11Resource *)c->stage_y, 0, 0, 0, 0,
                                              (ID3D11Resource *)c->luma, (UINT)c->last, NULL);
    ID3D11DeviceContext_CopySubresourceRegion(c->ctx, (ID3D11Resource *)c->stage_uv, 0, 0, 0, 0,
                                              (ID3D11Resource *)c->chroma, (UINT)c->last, NULL);
    if ((err = map_read(c, c->stage_y, &m)))
        return err;
    copy_luma(m.pData, m.RowPitch, dst);
    ID3D11DeviceContext_Unmap(c->ctx, (ID3D11Resource *)c->stage_y, 0);
    if ((err = map_read(c, c->stage_uv, &m)))
        return err;
    copy_chroma(m.pData, m.RowPitch, dst);
    ID3D11DeviceContext_Unmap(c->ctx, (ID3D11Resource *)c->stage_uv, 0);
    return 0;
}
