/* Desktop Duplication capture (Windows): the COM calls only. Which frame goes
 * out, repeats, the pointer and recovery after a lost duplication are
 * decided in capture/duplication.c; which output and adapter in
 * capture/adapters.c. This file opens a D3D11 device on the adapter that
 * owns the chosen output, duplicates the output (IDXGIOutput5::
 * DuplicateOutput1 for BGRA where Windows has it, IDXGIOutput1::
 * DuplicateOutput otherwise) and answers struct pvs_dup_ops.
 *
 * Two ways out. With gpu_frames (what the server asks for) the desktop is
 * copied on the GPU into a texture of ours (the duplication's frame is
 * released at once) and frames hand that texture out with the pointer to
 * draw: encode/feed.c converts it on the GPU, into the encoder's own
 * texture where the encoder takes D3D11 frames (zero-copy). Without it,
 * frames leave video memory here through a staging texture (CopyResource,
 * Map) as BGRA in system memory. Wine has no Desktop Duplication
 * (DuplicateOutput returns E_NOTIMPL): open() then says so and "auto"
 * takes GDI. */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <d3d11.h>
#include <dxgi1_5.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/adapters.h"
#include "capture/capture.h"
#include "capture/duplication.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

extern const struct pvs_capture_ops pvs_capture_dxgi;

/* mingw-w64's import libraries lack this IID (dxgi1_5.h declares it). */
static const GUID iid_output5 = {
    0x80a07424, 0xab52, 0x42eb, { 0x83, 0x3c, 0x0c, 0x42, 0xfd, 0x28, 0x2d, 0x98 } };

struct dxgi_capture {
    struct pvs_capture base;
    ID3D11Device *dev;
    ID3D11DeviceContext *ctx;
    IDXGIOutput1 *output;
    IDXGIOutputDuplication *dup;
    IDXGIResource *held;          /* the acquired frame, until release_frame */
    ID3D11Texture2D *staging;     /* CPU frames: a CPU-readable copy, made at the first frame */
    int staging_w, staging_h;
    int desk_w_expected, desk_h_expected; /* the duplication's size */
    bool gpu;                     /* GPU frames: the desktop stays in desk_tex */
    ID3D11Texture2D *desk_tex;
    int desk_w, desk_h;
    struct pvs_dup *sm;
    HRESULT last_hr;
    const char *last_call;
};

static const char *hr_name(HRESULT hr)
{
    switch (hr) {
    case DXGI_ERROR_ACCESS_LOST: return "DXGI_ERROR_ACCESS_LOST";
    case DXGI_ERROR_INVALID_CALL: return "DXGI_ERROR_INVALID_CALL";
    case DXGI_ERROR_WAIT_TIMEOUT: return "DXGI_ERROR_WAIT_TIMEOUT";
    case DXGI_ERROR_DEVICE_REMOVED: return "DXGI_ERROR_DEVICE_REMOVED";
    case DXGI_ERROR_DEVICE_RESET: return "DXGI_ERROR_DEVICE_RESET";
    case DXGI_ERROR_DEVICE_HUNG: return "DXGI_ERROR_DEVICE_HUNG";
    case DXGI_ERROR_UNSUPPORTED: return "DXGI_ERROR_UNSUPPORTED";
    case DXGI_ERROR_NOT_CURRENTLY_AVAILABLE: return "DXGI_ERROR_NOT_CURRENTLY_AVAILABLE";
    case DXGI_ERROR_SESSION_DISCONNECTED: return "DXGI_ERROR_SESSION_DISCONNECTED";
    case DXGI_ERROR_MORE_DATA: return "DXGI_ERROR_MORE_DATA";
    case E_ACCESSDENIED: return "E_ACCESSDENIED";
    case E_NOTIMPL: return "E_NOTIMPL";
    case E_INVALIDARG: return "E_INVALIDARG";
    default: return "HRESULT";
    }
}

static enum pvs_dup_status status_of(struct dxgi_capture *c, const char *call, HRESULT hr)
{
    c->last_hr = hr;
    c->last_call = call;
    switch (hr) {
    case S_OK: return PVS_DUP_OK;
    case DXGI_ERROR_WAIT_TIMEOUT: return PVS_DUP_TIMEOUT;
    case DXGI_ERROR_ACCESS_LOST: return PVS_DUP_ACCESS_LOST;
    case DXGI_ERROR_INVALID_CALL: return PVS_DUP_INVALID_CALL;
    case DXGI_ERROR_MORE_DATA: return PVS_DUP_MORE_DATA;
    case E_ACCESSDENIED:
    case DXGI_ERROR_NOT_CURRENTLY_AVAILABLE:
    case DXGI_ERROR_SESSION_DISCONNECTED: return PVS_DUP_UNAVAILABLE;
    case DXGI_ERROR_DEVICE_REMOVED:
    case DXGI_ERROR_DEVICE_RESET:
    case DXGI_ERROR_DEVICE_HUNG: return PVS_DUP_DEVICE_REMOVED;
    default: return PVS_DUP_ERROR;
    }
}

/* ---- struct pvs_dup_ops ------------------------------------------------------ */

static enum pvs_dup_status op_acquire(void *opaque, int timeout_ms, struct pvs_dup_frame_info *info)
{
    struct dxgi_capture *c = opaque;
    DXGI_OUTDUPL_FRAME_INFO fi;
    IDXGIResource *res = NULL;
    HRESULT hr = IDXGIOutputDuplication_AcquireNextFrame(c->dup, (UINT)timeout_ms, &fi, &res);
    if (FAILED(hr) || hr == DXGI_ERROR_WAIT_TIMEOUT)
        return status_of(c, "AcquireNextFrame", hr);
    c->held = res;
    memset(info, 0, sizeof(*info));
    info->desktop_updated = fi.LastPresentTime.QuadPart != 0;
    info->pointer_position_updated = fi.LastMouseUpdateTime.QuadPart != 0;
    info->pointer_visible = fi.PointerPosition.Visible != FALSE;
    info->pointer_x = (int)fi.PointerPosition.Position.x;
    info->pointer_y = (int)fi.PointerPosition.Position.y;
    info->pointer_shape_updated = fi.PointerShapeBufferSize != 0;
    info->pointer_shape_size = fi.PointerShapeBufferSize;
    return PVS_DUP_OK;
}

static HRESULT make_staging(struct dxgi_capture *c, const D3D11_TEXTURE2D_DESC *src)
{
    if (c->staging && c->staging_w == (int)src->Width && c->staging_h == (int)src->Height)
        return S_OK;
    if (c->staging)
        ID3D11Texture2D_Release(c->staging);
    c->staging = NULL;
    D3D11_TEXTURE2D_DESC d = *src;
    d.MipLevels = 1;
    d.ArraySize = 1;
    d.SampleDesc.Count = 1;
    d.SampleDesc.Quality = 0;
    d.Usage = D3D11_USAGE_STAGING;
    d.BindFlags = 0;
    d.CPUAccessFlags = D3D11_CPU_ACCESS_READ;
    d.MiscFlags = 0;
    HRESULT hr = ID3D11Device_CreateTexture2D(c->dev, &d, NULL, &c->staging);
    if (SUCCEEDED(hr)) {
        c->staging_w = (int)src->Width;
        c->staging_h = (int)src->Height;
    }
    return hr;
}

/* The desktop texture of the held frame, checked against what the
 * duplication said (`w` x `h`, 8-bit BGRA). */
static enum pvs_dup_status held_texture(struct dxgi_capture *c, int w, int h,
                                        ID3D11Texture2D **tex, D3D11_TEXTURE2D_DESC *desc)
{
    HRESULT hr = IDXGIResource_QueryInterface(c->held, &IID_ID3D11Texture2D, (void **)tex);
    if (FAILED(hr))
        return status_of(c, "QueryInterface(ID3D11Texture2D)", hr);
    ID3D11Texture2D_GetDesc(*tex, desc);
    if ((int)desc->Width < w || (int)desc->Height < h ||
        (desc->Format != DXGI_FORMAT_B8G8R8A8_UNORM &&
         desc->Format != DXGI_FORMAT_B8G8R8A8_UNORM_SRGB)) {
        ID3D11Texture2D_Release(*tex);
        *tex = NULL;
        /* Another size or format than the duplication said: re-create. */
        return status_of(c, "the desktop texture (size or format changed)", DXGI_ERROR_ACCESS_LOST);
    }
    return PVS_DUP_OK;
}

/* GPU frames: a GPU copy into desk_tex, which the converter reads (the
 * duplication's own texture goes back with ReleaseFrame). TYPELESS so that
 * the sRGB and plain forms both copy into it and the converter reads it as
 * UNORM. */
static enum pvs_dup_status copy_on_gpu(struct dxgi_capture *c, ID3D11Texture2D *tex,
                                       const D3D11_TEXTURE2D_DESC *desc)
{
    if (!c->desk_tex || c->desk_w != (int)desc->Width || c->desk_h != (int)desc->Height) {
        if (c->desk_tex)
            ID3D11Texture2D_Release(c->desk_tex);
        c->desk_tex = NULL;
        D3D11_TEXTURE2D_DESC d = {
            .Width = desc->Width,
            .Height = desc->Height,
            .MipLevels = 1,
            .ArraySize = 1,
            .Format = DXGI_FORMAT_B8G8R8A8_TYPELESS,
            .SampleDesc = { .Count = 1 },
            .Usage = D3D11_USAGE_DEFAULT,
            .BindFlags = D3D11_BIND_SHADER_RESOURCE,
        };
        HRESULT hr = ID3D11Device_CreateTexture2D(c->dev, &d, NULL, &c->desk_tex);
        if (FAILED(hr))
            return status_of(c, "CreateTexture2D(desktop copy)", hr);
        c->desk_w = (int)desc->Width;
        c->desk_h = (int)desc->Height;
    }
    ID3D11DeviceContext_CopyResource(c->ctx, (ID3D11Resource *)c->desk_tex, (ID3D11Resource *)tex);
    return PVS_DUP_OK;
}

static enum pvs_dup_status op_copy_desktop(void *opaque, const struct pvs_image *dst)
{
    struct dxgi_capture *c = opaque;
    ID3D11Texture2D *tex = NULL;
    D3D11_TEXTURE2D_DESC desc;
    enum pvs_dup_status st = held_texture(c, dst ? dst->width : c->desk_w_expected,
                                          dst ? dst->height : c->desk_h_expected, &tex, &desc);
    if (st != PVS_DUP_OK)
        return st;
    if (!dst) {
        st = copy_on_gpu(c, tex, &desc);
        ID3D11Texture2D_Release(tex);
        return st;
    }
    HRESULT hr = make_staging(c, &desc);
    if (FAILED(hr)) {
        ID3D11Texture2D_Release(tex);
        return status_of(c, "CreateTexture2D(staging)", hr);
    }
    ID3D11DeviceContext_CopyResource(c->ctx, (ID3D11Resource *)c->staging, (ID3D11Resource *)tex);
    ID3D11Texture2D_Release(tex);
    D3D11_MAPPED_SUBRESOURCE m;
    hr = ID3D11DeviceContext_Map(c->ctx, (ID3D11Resource *)c->staging, 0, D3D11_MAP_READ, 0, &m);
    if (FAILED(hr))
        return status_of(c, "Map(staging)", hr); /* nothing written yet */
    const uint8_t *src = m.pData;
    size_t row = (size_t)dst->width * 4;
    for (int y = 0; y < dst->height; y++)
        memcpy(dst->data[0] + (size_t)y * (size_t)dst->stride[0], src + (size_t)y * m.RowPitch, row);
    ID3D11DeviceContext_Unmap(c->ctx, (ID3D11Resource *)c->staging, 0);
    return PVS_DUP_OK;
}

static enum pvs_dup_status op_get_pointer_shape(void *opaque, void *buf, size_t cap, size_t *size,
                                                struct pvs_pointer_shape_info *info)
{
    struct dxgi_capture *c = opaque;
    DXGI_OUTDUPL_POINTER_SHAPE_INFO si;
    UINT required = 0;
    UINT len = cap > UINT32_MAX ? UINT32_MAX : (UINT)cap;
    HRESULT hr = IDXGIOutputDuplication_GetFramePointerShape(c->dup, len, buf, &required, &si);
    if (hr == DXGI_ERROR_MORE_DATA) {
        *size = required;
        return PVS_DUP_MORE_DATA;
    }
    if (FAILED(hr))
        return status_of(c, "GetFramePointerShape", hr);
    *size = required;
    info->type = si.Type;
    info->width = si.Width;
    info->height = si.Height;
    info->pitch = si.Pitch;
    info->hot_x = si.HotSpot.x;
    info->hot_y = si.HotSpot.y;
    return PVS_DUP_OK;
}

static enum pvs_dup_status op_release_frame(void *opaque)
{
    struct dxgi_capture *c = opaque;
    if (c->held) {
        IDXGIResource_Release(c->held);
        c->held = NULL;
    }
    return status_of(c, "ReleaseFrame", IDXGIOutputDuplication_ReleaseFrame(c->dup));
}

/* DuplicateOutput1 (BGRA) where the system has it, DuplicateOutput else. */
static HRESULT duplicate(struct dxgi_capture *c)
{
    IDXGIOutput5 *o5 = NULL;
    HRESULT hr = IDXGIOutput1_QueryInterface(c->output, &iid_output5, (void **)&o5);
    if (SUCCEEDED(hr)) {
        DXGI_FORMAT formats[] = { DXGI_FORMAT_B8G8R8A8_UNORM };
        hr = IDXGIOutput5_DuplicateOutput1(o5, (IUnknown *)c->dev, 0, 1, formats, &c->dup);
        IDXGIOutput5_Release(o5);
        if (SUCCEEDED(hr) || hr == E_ACCESSDENIED || hr == DXGI_ERROR_DEVICE_REMOVED)
            return hr;
    }
    return IDXGIOutput1_DuplicateOutput(c->output, (IUnknown *)c->dev, &c->dup);
}

static void duplication_size(struct dxgi_capture *c, int *w, int *h)
{
    DXGI_OUTDUPL_DESC d;
    IDXGIOutputDuplication_GetDesc(c->dup, &d);
    *w = (int)d.ModeDesc.Width;
    *h = (int)d.ModeDesc.Height;
}

static enum pvs_dup_status op_recreate(void *opaque, int *width, int *height)
{
    struct dxgi_capture *c = opaque;
    if (c->dup) {
        IDXGIOutputDuplication_Release(c->dup);
        c->dup = NULL;
    }
    /* Access is lost when the secure desktop (UAC, the lock screen) takes
     * input: a worker started by the service follows it there; a program in
     * the user's session cannot (the next try is after the backoff). */
    char desk[64];
    if (pvs_desktop_follow_input(desk, sizeof(desk)) == 1)
        PVS_LOG_I("dxgi: now on the \"%s\" desktop, which has input", desk);
    HRESULT hr = duplicate(c);
    if (FAILED(hr)) {
        HRESULT removed = ID3D11Device_GetDeviceRemovedReason(c->dev);
        return status_of(c, "DuplicateOutput", FAILED(removed) ? removed : hr);
    }
    duplication_size(c, width, height);
    c->desk_w_expected = *width;
    c->desk_h_expected = *height;
    return PVS_DUP_OK;
}

static void op_last_error(void *opaque, char *buf, size_t size)
{
    struct dxgi_capture *c = opaque;
    char text[160];
    snprintf(buf, size, "%s: %s (0x%08lx: %s)", c->last_call ? c->last_call : "DXGI",
             hr_name(c->last_hr), (unsigned long)c->last_hr,
             pvs_win32_error_text((unsigned long)c->last_hr, text, sizeof(text)));
}

static const struct pvs_dup_ops dxgi_dup_ops = {
    .acquire = op_acquire,
    .copy_desktop = op_copy_desktop,
    .get_pointer_shape = op_get_pointer_shape,
    .release_frame = op_release_frame,
    .recreate = op_recreate,
    .last_error = op_last_error,
};

/* ---- struct pvs_capture_ops ---------------------------------------------------- */

static void dxgi_close(struct pvs_capture **pc)
{
    struct dxgi_capture *c = (struct dxgi_capture *)*pc;
    if (!c)
        return;
    pvs_dup_close(&c->sm);
    if (c->held) {
        IDXGIResource_Release(c->held);
        IDXGIOutputDuplication_ReleaseFrame(c->dup);
    }
    if (c->staging)
        ID3D11Texture2D_Release(c->staging);
    if (c->desk_tex)
        ID3D11Texture2D_Release(c->desk_tex);
    if (c->dup)
        IDXGIOutputDuplication_Release(c->dup);
    if (c->output)
        IDXGIOutput1_Release(c->output);
    if (c->ctx)
        ID3D11DeviceContext_Release(c->ctx);
    if (c->dev)
        ID3D11Device_Release(c->dev);
    free(c);
    *pc = NULL;
}

/* The adapter and output pvs_gpu_choose() picked, as COM objects. */
static HRESULT find_output(const struct pvs_gpu_choice *ch, IDXGIAdapter1 **adapter,
                           IDXGIOutput **output)
{
    IDXGIFactory1 *f = NULL;
    HRESULT hr = CreateDXGIFactory1(&IID_IDXGIFactory1, (void **)&f);
    if (FAILED(hr))
        return hr;
    hr = IDXGIFactory1_EnumAdapters1(f, (UINT)ch->adapter, adapter);
    IDXGIFactory1_Release(f);
    if (FAILED(hr))
        return hr;
    hr = IDXGIAdapter1_EnumOutputs(*adapter, (UINT)ch->output, output);
    if (FAILED(hr)) {
        IDXGIAdapter1_Release(*adapter);
        *adapter = NULL;
    }
    return hr;
}

static int fail(struct dxgi_capture *c, const char *what, HRESULT hr, int code)
{
    char text[160];
    PVS_LOG_I("dxgi: %s failed: %s (0x%08lx: %s)%s", what, hr_name(hr), (unsigned long)hr,
              pvs_win32_error_text((unsigned long)hr, text, sizeof(text)),
              hr == E_NOTIMPL ? "; Desktop Duplication is not implemented here (Wine)"
              : hr == E_ACCESSDENIED ? "; no access to the desktop (the secure desktop, or a "
                                       "service without the user's session)"
              : hr == DXGI_ERROR_UNSUPPORTED ? "; this adapter or session cannot duplicate "
                                               "(a remote session, some virtual adapters)"
              : hr == DXGI_ERROR_NOT_CURRENTLY_AVAILABLE ? "; too many programs duplicate "
                                                           "this output already"
              : "");
    struct pvs_capture *pc = &c->base;
    dxgi_close(&pc);
    return code;
}

static int dxgi_open(struct pvs_capture **out, const struct pvs_capture_opts *o)
{
    *out = NULL;
    struct pvs_gpu_adapter list[PVS_GPU_MAX_ADAPTERS];
    char why[256] = "";
    int n = pvs_gpu_list(list, PVS_GPU_MAX_ADAPTERS, why, sizeof(why));
    if (n < 0) {
        PVS_LOG_I("dxgi: %s", why);
        return PVS_ENOTSUP;
    }
    struct pvs_gpu_choice ch;
    int err = pvs_gpu_choose(list, n, o && o->output > 0 ? o->output - 1 : -1, &ch);
    if (err == PVS_ENOENT) {
        PVS_LOG_E("dxgi: --output: %s", ch.note);
        return PVS_EINVAL; /* the user's mistake: auto must not hide it */
    }
    if (err < 0) {
        PVS_LOG_I("dxgi: %s", ch.note);
        return PVS_ENODEV;
    }
    if (ch.note[0])
        PVS_LOG_W("dxgi: %s", ch.note);

    struct dxgi_capture *c = calloc(1, sizeof(*c));
    if (!c)
        return PVS_ENOMEM;
    c->base.ops = &pvs_capture_dxgi;
    IDXGIAdapter1 *adapter = NULL;
    IDXGIOutput *output = NULL;
    HRESULT hr = find_output(&ch, &adapter, &output);
    if (FAILED(hr))
        return fail(c, "finding the output", hr, PVS_ENODEV);
    hr = IDXGIOutput_QueryInterface(output, &IID_IDXGIOutput1, (void **)&c->output);
    IDXGIOutput_Release(output);
    if (FAILED(hr)) {
        IDXGIAdapter1_Release(adapter);
        return fail(c, "IDXGIOutput1 (Windows 8 or later)", hr, PVS_ENOTSUP);
    }
    static const D3D_FEATURE_LEVEL levels[] = {
        D3D_FEATURE_LEVEL_11_1, D3D_FEATURE_LEVEL_11_0, D3D_FEATURE_LEVEL_10_1, D3D_FEATURE_LEVEL_10_0,
    };
    hr = D3D11CreateDevice((IDXGIAdapter *)adapter, D3D_DRIVER_TYPE_UNKNOWN, NULL,
                           D3D11_CREATE_DEVICE_BGRA_SUPPORT | D3D11_CREATE_DEVICE_VIDEO_SUPPORT,
                           levels, 4, D3D11_SDK_VERSION, &c->dev, NULL, &c->ctx);
    if (FAILED(hr)) /* no video support (Basic Render Driver, Wine): without it */
        hr = D3D11CreateDevice((IDXGIAdapter *)adapter, D3D_DRIVER_TYPE_UNKNOWN, NULL,
                               D3D11_CREATE_DEVICE_BGRA_SUPPORT, levels, 4, D3D11_SDK_VERSION,
                               &c->dev, NULL, &c->ctx);
    IDXGIAdapter1_Release(adapter);
    if (FAILED(hr))
        return fail(c, "D3D11CreateDevice", hr, PVS_ENOTSUP);
    hr = duplicate(c);
    if (FAILED(hr))
        return fail(c, "DuplicateOutput", hr, PVS_ENOTSUP);

    int w, h;
    duplication_size(c, &w, &h);
    c->desk_w_expected = w;
    c->desk_h_expected = h;
    /* GPU frames need what the converter needs: feature level 10_0. */
    c->gpu = o && o->gpu_frames && ID3D11Device_GetFeatureLevel(c->dev) >= D3D_FEATURE_LEVEL_10_0;
    struct pvs_dup_settings s;
    pvs_dup_default_settings(&s);
    s.fps = o && o->fps > 0 ? o->fps : 60;
    s.gpu_pictures = c->gpu;
    err = pvs_dup_open(&c->sm, &dxgi_dup_ops, c, w, h, &s);
    if (err < 0) {
        struct pvs_capture *pc = &c->base;
        dxgi_close(&pc);
        return err;
    }
    const struct pvs_gpu_adapter *a = &list[ch.adapter];
    PVS_LOG_I("dxgi: %s on %s, %dx%d at up to %d fps, %s%s", a->outputs[ch.output].name, a->name,
              w, h, s.fps, c->gpu ? "frames stay on the GPU" : "frames copied to system memory",
              ch.zero_copy ? "" : " (encoding elsewhere: see above)");
    *out = &c->base;
    return 0;
}

static int dxgi_next(struct pvs_capture *pc, struct pvs_frame *f, int timeout_ms)
{
    struct dxgi_capture *c = (struct dxgi_capture *)pc;
    int err = pvs_dup_next(c->sm, f, timeout_ms);
    if (!err) {
        pc->stats.frames++;
        if (c->gpu)
            f->texture = c->desk_tex;
    }
    return err;
}

static struct ID3D11Device *dxgi_device(struct pvs_capture *pc)
{
    struct dxgi_capture *c = (struct dxgi_capture *)pc;
    return c->gpu ? c->dev : NULL;
}

static void dxgi_release(struct pvs_capture *pc, struct pvs_frame *f)
{
    pvs_dup_release(((struct dxgi_capture *)pc)->sm, f);
}

static void dxgi_request_frame(struct pvs_capture *pc)
{
    pvs_dup_request_frame(((struct dxgi_capture *)pc)->sm);
}

const struct pvs_capture_ops pvs_capture_dxgi = {
    .name = "dxgi",
    .description = "Desktop Duplication",
    .open = dxgi_open,
    .next = dxgi_next,
    .release = dxgi_release,
    .close = dxgi_close,
    .d3d11_device = dxgi_device,
    .request_frame = dxgi_request_frame,
};
