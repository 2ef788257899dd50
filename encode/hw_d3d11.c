/* FFmpeg's D3D11VA context around the capture's device (hw_d3d11.h). */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <d3d11.h>

#include <stdio.h>

#include <libavutil/hwcontext.h>
#include <libavutil/hwcontext_d3d11va.h>

#include "av/avlog.h"
#include "common/error.h"
#include "encode/hw_d3d11.h"

static const char *av_reason(int ret, char *buf, size_t len)
{
    return *pvs_avlog_last_error() ? pvs_avlog_last_error() : pvs_av_strerror(ret, buf, len);
}

int pvs_hw_d3d11_device(AVBufferRef **out, struct ID3D11Device *dev, char *why, size_t why_len)
{
    char buf[128];
    *out = NULL;
    AVBufferRef *ref = av_hwdevice_ctx_alloc(AV_HWDEVICE_TYPE_D3D11VA);
    if (!ref)
        return PVS_ENOMEM;
    AVHWDeviceContext *hc = (AVHWDeviceContext *)(void *)ref->data;
    AVD3D11VADeviceContext *d = hc->hwctx;
    /* FFmpeg releases it with the context; its lock (a mutex of its own)
     * guards the immediate context, which only the video thread uses. */
    d->device = (ID3D11Device *)dev;
    ID3D11Device_AddRef(d->device);
    pvs_avlog_clear();
    int ret = av_hwdevice_ctx_init(ref);
    if (ret < 0) {
        snprintf(why, why_len, "FFmpeg cannot use the capture's D3D11 device (%s; it needs "
                 "a device with video support)", av_reason(ret, buf, sizeof(buf)));
        av_buffer_unref(&ref);
        return PVS_ENODEV;
    }
    *out = ref;
    return 0;
}

int pvs_hw_d3d11_frames(AVBufferRef **out, AVBufferRef *device, int w, int h, int pool,
                        char *why, size_t why_len)
{
    char buf[128];
    *out = NULL;
    AVBufferRef *ref = av_hwframe_ctx_alloc(device);
    if (!ref)
        return PVS_ENOMEM;
    AVHWFramesContext *fc = (AVHWFramesContext *)(void *)ref->data;
    fc->format = AV_PIX_FMT_D3D11;
    fc->sw_format = AV_PIX_FMT_NV12;
    fc->width = w;
    fc->height = h;
    fc->initial_pool_size = pool; /* fixed: one texture array of `pool` slices */
    AVD3D11VAFramesContext *f = fc->hwctx;
    /* drawn into by the converter, read by the encoder */
    f->BindFlags = D3D11_BIND_RENDER_TARGET;
    pvs_avlog_clear();
    int ret = av_hwframe_ctx_init(ref);
    if (ret < 0) {
        snprintf(why, why_len, "no pool of NV12 render-target textures on the capture's device "
                 "(%s)", av_reason(ret, buf, sizeof(buf)));
        av_buffer_unref(&ref);
        return PVS_ENODEV;
    }
    *out = ref;
    return 0;
}
