/* The client's video decoder: libavcodec, hardware first where compiled.
 *
 * Frame threading would hold frames back (one per thread), so software
 * decoding uses slice threads only, with AV_CODEC_FLAG_LOW_DELAY: a packet in
 * gives its frame out at once. Hardware frames are copied to system memory
 * (the presenter of a later issue can take them as they are). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>

#include "av/avlog.h"
#include "client/decoder.h"
#include "common/error.h"
#include "common/log.h"
#include "pvs_config.h"

#define META_RING 64

struct pvs_decoder {
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame;
    AVFrame *sw_frame;
    AVBufferRef *hw_device;
    enum AVPixelFormat hw_pix_fmt;
    uint8_t *buf;        /* the packet, copied with the padding libavcodec reads */
    size_t buf_cap;
    int64_t next_pts;
    struct { uint64_t frame; int64_t capture_ns; bool key; } meta[META_RING];
    char desc[96];
};

/* Hardware device types to try, best first, for this platform. */
static const enum AVHWDeviceType hw_order[] = {
#if defined(_WIN32)
    AV_HWDEVICE_TYPE_D3D11VA, AV_HWDEVICE_TYPE_DXVA2, AV_HWDEVICE_TYPE_CUDA,
#elif defined(__APPLE__)
    AV_HWDEVICE_TYPE_VIDEOTOOLBOX,
#else
    AV_HWDEVICE_TYPE_VAAPI, AV_HWDEVICE_TYPE_VDPAU, AV_HWDEVICE_TYPE_CUDA,
#endif
};

static enum AVCodecID codec_id(enum pvs_codec c)
{
    switch (c) {
    case PVS_CODEC_H264: return AV_CODEC_ID_H264;
    case PVS_CODEC_HEVC: return AV_CODEC_ID_HEVC;
    case PVS_CODEC_AV1:  return AV_CODEC_ID_AV1;
    default:             return AV_CODEC_ID_NONE;
    }
}

static enum AVPixelFormat get_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    struct pvs_decoder *d = ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == d->hw_pix_fmt)
            return *p;
    /* The hardware cannot take this stream: decode it in software. */
    if (d->hw_pix_fmt != AV_PIX_FMT_NONE) {
        PVS_LOG_W("hardware decoder refused the stream; decoding in software");
        /* On the decoding thread, which is the one that describes it. */
        snprintf(d->desc, sizeof(d->desc), "%s (software: %s refused the stream)",
                 ctx->codec->name, av_get_pix_fmt_name(d->hw_pix_fmt));
    }
    d->hw_pix_fmt = AV_PIX_FMT_NONE;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++) {
        const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(*p);
        if (desc && !(desc->flags & AV_PIX_FMT_FLAG_HWACCEL))
            return *p;
    }
    return AV_PIX_FMT_NONE;
}

/* Tries one device type; 0 when the decoder will use it. */
static int try_hw(struct pvs_decoder *d, const AVCodec *codec, enum AVHWDeviceType type)
{
    const char *tname = av_hwdevice_get_type_name(type);
    enum AVPixelFormat fmt = AV_PIX_FMT_NONE;
    for (int i = 0;; i++) {
        const AVCodecHWConfig *cfg = avcodec_get_hw_config(codec, i);
        if (!cfg)
            break;
        if (cfg->device_type == type && (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX)) {
            fmt = cfg->pix_fmt;
            break;
        }
    }
    if (fmt == AV_PIX_FMT_NONE) {
        PVS_LOG_D("%s decoding: not in this libavcodec build for %s", tname, codec->name);
        return PVS_ENOTSUP;
    }
    pvs_avlog_clear();
    int ret = av_hwdevice_ctx_create(&d->hw_device, type, NULL, NULL, 0);
    if (ret < 0) {
        char buf[128];
        PVS_LOG_I("%s decoding unavailable: %s", tname,
                  *pvs_avlog_last_error() ? pvs_avlog_last_error() : pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_ENODEV;
    }
    d->hw_pix_fmt = fmt;
    d->ctx->hw_device_ctx = av_buffer_ref(d->hw_device);
    return d->ctx->hw_device_ctx ? 0 : PVS_ENOMEM;
}

void pvs_decoder_close(struct pvs_decoder **pd)
{
    struct pvs_decoder *d = pd ? *pd : NULL;
    if (!d)
        return;
    avcodec_free_context(&d->ctx);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    av_frame_free(&d->sw_frame);
    av_buffer_unref(&d->hw_device);
    av_free(d->buf);
    free(d);
    *pd = NULL;
}

int pvs_decoder_open(struct pvs_decoder **out, const struct pvs_decoder_opts *o)
{
    *out = NULL;
    pvs_avlog_init();
    const AVCodec *codec = avcodec_find_decoder(codec_id(o->codec));
    if (!codec) {
        PVS_LOG_E("this libavcodec has no %s decoder", pvs_codec_name(o->codec));
        return PVS_ENOTSUP;
    }
    const char *hw = o->hw ? o->hw : "auto";

    struct pvs_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return PVS_ENOMEM;
    int err = PVS_ENOMEM;
    d->hw_pix_fmt = AV_PIX_FMT_NONE;
    d->ctx = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    d->sw_frame = av_frame_alloc();
    if (!d->ctx || !d->pkt || !d->frame || !d->sw_frame)
        goto fail;
    d->ctx->opaque = d;
    d->ctx->get_format = get_format;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    d->ctx->thread_type = FF_THREAD_SLICE;
    d->ctx->thread_count = o->threads;

    if (!strcmp(hw, "auto")) {
#if PVS_HAVE_HWDECODE
        for (size_t i = 0; i < sizeof(hw_order) / sizeof(hw_order[0]); i++)
            if (try_hw(d, codec, hw_order[i]) == 0)
                break;
#endif
    } else if (strcmp(hw, "software")) {
        enum AVHWDeviceType type = av_hwdevice_find_type_by_name(hw);
        if (type == AV_HWDEVICE_TYPE_NONE) {
            PVS_LOG_E("unknown hardware decoder '%s' (auto, software, vaapi, vdpau, cuda, "
                      "d3d11va, dxva2, videotoolbox)", hw);
            err = PVS_EINVAL;
            goto fail;
        }
        if ((err = try_hw(d, codec, type)) < 0) {
            PVS_LOG_E("%s decoding is not available here", hw);
            goto fail;
        }
    }

    int ret = avcodec_open2(d->ctx, codec, NULL);
    if (ret < 0) {
        char buf[128];
        PVS_LOG_E("cannot open the %s decoder: %s", codec->name, pvs_av_strerror(ret, buf, sizeof(buf)));
        err = PVS_EEXTERNAL;
        goto fail;
    }
    if (d->hw_pix_fmt != AV_PIX_FMT_NONE)
        snprintf(d->desc, sizeof(d->desc), "%s (%s)", codec->name,
                 av_hwdevice_get_type_name(((AVHWDeviceContext *)(void *)d->hw_device->data)->type));
    else
        snprintf(d->desc, sizeof(d->desc), "%s (software, %d slice threads)", codec->name,
                 d->ctx->thread_count);
    *out = d;
    return 0;

fail:
    pvs_decoder_close(&d);
    return err;
}

const char *pvs_decoder_describe(const struct pvs_decoder *d)
{
    return d->desc;
}

static int fill_image(struct pvs_image *img, const AVFrame *f)
{
    switch (f->format) {
    case AV_PIX_FMT_NV12:
        img->fmt = PVS_PIX_NV12;
        break;
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P:
        img->fmt = PVS_PIX_I420;
        break;
    default:
        PVS_LOG_E("decoded frames are %s; only 8-bit 4:2:0 is handled",
                  av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "unknown");
        return PVS_ENOTSUP;
    }
    img->width = f->width;
    img->height = f->height;
    for (int i = 0; i < 3; i++) {
        img->data[i] = f->data[i];
        img->stride[i] = f->linesize[i];
    }
    return 0;
}

int pvs_decoder_decode(struct pvs_decoder *d, const struct pvs_packet *pkt,
                       struct pvs_decoded *out)
{
    char buf[128];
    memset(out, 0, sizeof(*out));
    if (!pkt || !pkt->data || !pkt->size || pkt->size > (size_t)INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return PVS_EINVAL;
    /* libavcodec may read AV_INPUT_BUFFER_PADDING_SIZE bytes past the end. */
    size_t need = pkt->size + AV_INPUT_BUFFER_PADDING_SIZE;
    if (need > d->buf_cap) {
        av_free(d->buf);
        d->buf_cap = need + need / 2;
        d->buf = av_malloc(d->buf_cap);
        if (!d->buf) {
            d->buf_cap = 0;
            return PVS_ENOMEM;
        }
    }
    memcpy(d->buf, pkt->data, pkt->size);
    memset(d->buf + pkt->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);

    int64_t pts = d->next_pts++;
    d->meta[pts % META_RING].frame = pkt->frame;
    d->meta[pts % META_RING].capture_ns = pkt->capture_ns;
    d->meta[pts % META_RING].key = pkt->keyframe;
    av_packet_unref(d->pkt);
    d->pkt->data = d->buf;
    d->pkt->size = (int)pkt->size;
    d->pkt->pts = pts;
    d->pkt->dts = pts;

    int ret = avcodec_send_packet(d->ctx, d->pkt);
    if (ret == AVERROR_INVALIDDATA)
        return PVS_EBADDATA;
    if (ret < 0) {
        PVS_LOG_E("decode: %s", pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_EEXTERNAL;
    }
    av_frame_unref(d->frame);
    ret = avcodec_receive_frame(d->ctx, d->frame);
    if (ret == AVERROR(EAGAIN))
        return PVS_EAGAIN;
    if (ret == AVERROR_INVALIDDATA)
        return PVS_EBADDATA;
    if (ret < 0) {
        PVS_LOG_E("decode: %s", pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_EEXTERNAL;
    }

    const AVFrame *f = d->frame;
    if (d->hw_pix_fmt != AV_PIX_FMT_NONE && f->format == d->hw_pix_fmt) {
        av_frame_unref(d->sw_frame);
        ret = av_hwframe_transfer_data(d->sw_frame, d->frame, 0);
        if (ret < 0) {
            PVS_LOG_E("copying a decoded frame from the GPU: %s", pvs_av_strerror(ret, buf, sizeof(buf)));
            return PVS_EEXTERNAL;
        }
        f = d->sw_frame;
    }
    int err = fill_image(&out->img, f);
    if (err < 0)
        return err;
    int64_t fpts = d->frame->pts >= 0 ? d->frame->pts : pts;
    out->frame = d->meta[fpts % META_RING].frame;
    out->capture_ns = d->meta[fpts % META_RING].capture_ns;
#ifdef AV_FRAME_FLAG_KEY /* FFmpeg 6.1: key_frame is deprecated */
    out->keyframe = (d->frame->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    out->keyframe = d->frame->key_frame;
#endif
    return 0;
}
