/* The libavcodec encoder: families as data, probing, and the encode call.
 *
 * Each family's table holds the options that take its encoders to their
 * lowest latency (DESIGN.md, "Encoders"); options common to all (no
 * B-frames, one-frame VBV, slice threads only, infinite GOP with IDR on
 * demand) are set on the codec context. An option an encoder does not know
 * is logged, never silently dropped, so a wrong table shows up at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/opt.h>

#include "av/avlog.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "encode/encoder.h"
#ifdef _WIN32
#include "encode/hw_d3d11.h"
#endif

/* ---- families --------------------------------------------------------- */

/* How a family takes pictures that are D3D11 textures (the zero-copy path). */
enum gpu_input {
    GPU_NONE = 0, /* it does not: system memory only */
    GPU_D3D11,    /* AV_PIX_FMT_D3D11 frames on the capture's device */
    GPU_QSV,      /* AV_PIX_FMT_QSV frames mapped from those, on a QSV device
                     derived from the capture's */
};

struct family {
    const char *name;
    const char *const *options;     /* key, value pairs, NULL-terminated */
    const char *driver_libs[3];     /* one must load, or the reason says so */
    const char *no_driver;          /* the reason when none loads */
    enum AVHWDeviceType upload_to;  /* frames go to this device first, or NONE */
    bool dynamic_bitrate;           /* libavcodec reconfigures it per frame */
    bool own_vbv;                   /* sizes its own VBV: set no max rate or buffer */
    enum gpu_input gpu_input;
};

static const char *const nvenc_opts[] = {
    "preset", "p1", "tune", "ull", "zerolatency", "1", "delay", "0",
    "rc", "cbr", "forced-idr", "1", NULL,
};
static const char *const amf_opts[] = {
    "usage", "ultralowlatency", "rc", "cbr", "quality", "speed", NULL,
};
static const char *const qsv_opts[] = {
    "async_depth", "1", "low_power", "1", "look_ahead", "0", "forced_idr", "1",
    "preset", "veryfast", NULL,
};
/* Media Foundation's hardware encoder (any vendor's MFT): the last
 * hardware choice on Windows, for a GPU whose own SDK pvstream lacks.
 * FFmpeg 6.1's MF wrapper takes system memory only: never zero-copy. */
static const char *const mf_opts[] = {
    "hw_encoding", "1", "rate_control", "cbr", "scenario", "display_remoting", NULL,
};
static const char *const vaapi_opts[] = {
    "async_depth", "1", "rc_mode", "CBR", NULL,
};
static const char *const x264_opts[] = {
    "preset", "ultrafast", "tune", "zerolatency", "forced-idr", "1",
    "x264-params", "keyint=infinite:scenecut=0:sync-lookahead=0:rc-lookahead=0", NULL,
};
/* repeat-headers: VPS, SPS and PPS in every keyframe, as x264 and the GPU
 * encoders do; without it only the first has them, and a decoder that
 * joins later (Moonlight's waits for a keyframe starting with a VPS) never
 * starts. info=0: no 2.4 KB version SEI in front of each keyframe's slice
 * (Moonlight looks for the slice in a keyframe's first packet: fact from
 * moonlight-common-c src/VideoDepacketizer.c, processAvcHevcRtpPayloadSlow). */
static const char *const x265_opts[] = {
    "preset", "ultrafast", "tune", "zerolatency", "forced-idr", "1",
    "x265-params", "keyint=-1:frame-threads=1:rc-lookahead=0:bframes=0:repeat-headers=1:info=0:"
                   "log-level=error", NULL,
};
static const char *const svtav1_opts[] = {
    "preset", "12",
    "svtav1-params", "pred-struct=1:rc=2:keyint=-1:lookahead=0", NULL,
};

#ifdef _WIN32
#define LIB(linux_name, win_name) win_name
#else
#define LIB(linux_name, win_name) linux_name
#endif

static const struct family fam_nvenc = {
    "nvenc", nvenc_opts, { LIB("libnvidia-encode.so.1", "nvEncodeAPI64.dll") },
    "no NVIDIA driver (" LIB("libnvidia-encode", "nvEncodeAPI64.dll") " not found)",
    AV_HWDEVICE_TYPE_NONE, true, false, GPU_D3D11,
};
static const struct family fam_amf = {
    "amf", amf_opts, { LIB("libamfrt64.so.1", "amfrt64.dll") },
    "no AMD driver (the AMF runtime " LIB("libamfrt64", "amfrt64.dll") " not found)",
    AV_HWDEVICE_TYPE_NONE, false, false, GPU_D3D11,
};
static const struct family fam_qsv = {
    "qsv", qsv_opts, { LIB("libmfx.so.1", "libmfx64-gen.dll"), LIB("libvpl.so.2", "libmfxhw64.dll") },
    "no Intel media runtime (" LIB("libmfx / libvpl", "libmfx64-gen.dll / libmfxhw64.dll") " not found)",
    AV_HWDEVICE_TYPE_NONE, false, false, GPU_QSV,
};
static const struct family fam_mf = {
    "mf", mf_opts, { "mfplat.dll" }, "no Media Foundation (mfplat.dll not found)",
    AV_HWDEVICE_TYPE_NONE, false, false, GPU_NONE,
};
static const struct family fam_vaapi = {
    "vaapi", vaapi_opts, { NULL }, NULL, AV_HWDEVICE_TYPE_VAAPI, false, false, GPU_NONE,
};
static const struct family fam_x264 = { "software", x264_opts, { NULL }, NULL, AV_HWDEVICE_TYPE_NONE, true, false, GPU_NONE };
static const struct family fam_x265 = { "software", x265_opts, { NULL }, NULL, AV_HWDEVICE_TYPE_NONE, false, false, GPU_NONE };
/* SVT-AV1's CBR refuses a maximum rate equal to the target: it keeps its own VBV. */
static const struct family fam_svtav1 = { "software", svtav1_opts, { NULL }, NULL, AV_HWDEVICE_TYPE_NONE, false, true, GPU_NONE };

const struct pvs_encoder_info pvs_encoder_infos[] = {
    { "h264_nvenc", PVS_CODEC_H264, "nvenc", true },
    { "h264_amf",   PVS_CODEC_H264, "amf",   true },
    { "h264_qsv",   PVS_CODEC_H264, "qsv",   true },
    { "h264_mf",    PVS_CODEC_H264, "mf",    true },
    { "h264_vaapi", PVS_CODEC_H264, "vaapi", true },
    { "hevc_nvenc", PVS_CODEC_HEVC, "nvenc", true },
    { "hevc_amf",   PVS_CODEC_HEVC, "amf",   true },
    { "hevc_qsv",   PVS_CODEC_HEVC, "qsv",   true },
    { "hevc_mf",    PVS_CODEC_HEVC, "mf",    true },
    { "hevc_vaapi", PVS_CODEC_HEVC, "vaapi", true },
    { "av1_nvenc",  PVS_CODEC_AV1,  "nvenc", true },
    { "av1_amf",    PVS_CODEC_AV1,  "amf",   true },
    { "av1_qsv",    PVS_CODEC_AV1,  "qsv",   true },
    { "av1_vaapi",  PVS_CODEC_AV1,  "vaapi", true },
    { "libx264",    PVS_CODEC_H264, "software", false },
    { "libx265",    PVS_CODEC_HEVC, "software", false },
    { "libsvtav1",  PVS_CODEC_AV1,  "software", false },
    { NULL, 0, NULL, false },
};

static const struct family *family_of(const struct pvs_encoder_info *info)
{
    if (!strcmp(info->family, "nvenc")) return &fam_nvenc;
    if (!strcmp(info->family, "amf"))   return &fam_amf;
    if (!strcmp(info->family, "qsv"))   return &fam_qsv;
    if (!strcmp(info->family, "vaapi")) return &fam_vaapi;
    if (!strcmp(info->family, "mf"))    return &fam_mf;
    if (!strcmp(info->name, "libx265")) return &fam_x265;
    if (!strcmp(info->name, "libsvtav1")) return &fam_svtav1;
    return &fam_x264;
}

const struct pvs_encoder_info *pvs_encoder_info_find(const char *name)
{
    for (const struct pvs_encoder_info *i = pvs_encoder_infos; i->name; i++)
        if (!strcmp(i->name, name))
            return i;
    return NULL;
}

/* ---- the encoder ------------------------------------------------------ */

#define META_RING 64 /* frames in flight we can map a packet back to */
/* D3D11 frames in the encoder's pool: one being drawn, one or two the
 * encoder still reads (NVENC keeps a reference until the packet is out),
 * and room so that capture never waits for a free one. */
#define GPU_POOL  8

struct pvs_encoder {
    const struct pvs_encoder_info *info;
    const struct family *fam;
    AVCodecContext *ctx;
    AVFrame *frame;          /* system-memory input, converted into in place */
    AVFrame *hw_frame;       /* device copy for families that need an upload */
    AVBufferRef *hw_device;
    /* The zero-copy path: the capture's D3D11 device, the NV12 pool the
     * converter draws into, and (QSV) the device derived from it. */
    AVBufferRef *gpu_device, *gpu_frames, *qsv_device;
    AVFrame *gpu_frame;      /* the pool frame that carries the next picture */
    bool gpu_ready;          /* ...drawn by the caller (pvs_encoder_gpu_input) */
    bool zero_copy;
    char path[200];          /* how pictures reach the encoder, in words */
    bool filler;             /* pad packets up to the bitrate (pad_packet) */
    int64_t pad_prev_ns;     /* the previous padded packet's capture time */
    uint8_t *pad;            /* ...into this buffer */
    size_t pad_cap;
    AVPacket *pkt;
    struct pvs_image input;
    int64_t last_pts;
    struct { uint64_t frame; int64_t capture_ns, submitted_ns; } meta[META_RING];
    struct pvs_encoder_stats stats;
};

static int64_t default_bitrate(const struct pvs_encoder_opts *o)
{
    /* 0.15 bit per pixel: 19 Mbit/s at 1080p60, 150 Mbit/s at 4K120 */
    return (int64_t)((double)o->width * o->height * o->fps * 0.15);
}

static int check_opts(const struct pvs_encoder_opts *o, char *why, size_t why_len)
{
    if ((unsigned)o->codec >= PVS_CODEC_COUNT)
        snprintf(why, why_len, "unknown codec %d", (int)o->codec);
    else if (o->width < 64 || o->height < 64 || o->width > 8192 || o->height > 8192 ||
             (o->width | o->height) & 1)
        snprintf(why, why_len, "size %dx%d: must be even, 64x64 to 8192x8192", o->width, o->height);
    else if (o->fps < 1 || o->fps > 240)
        snprintf(why, why_len, "%d fps: must be 1..240", o->fps);
    else if (o->bitrate < 0 || o->bitrate > 2000000000)
        snprintf(why, why_len, "bitrate %lld: must be 0 (automatic) to 2 Gbit/s", (long long)o->bitrate);
    else if (o->threads < 0 || o->threads > 64)
        snprintf(why, why_len, "%d threads: must be 0 (automatic) to 64", o->threads);
    else
        return 0;
    return PVS_EINVAL;
}

/* The first keyframe of a new encoder (a client joining) may take this
 * many frames' bits: with a VBV of one frame it was a blur (PSNR-Y 19.8 dB
 * at 720p 6 Mbit/s, 10.1 dB at 1080p 2 Mbit/s, clean only 8 frames later).
 * The sender paces at 4 x the rate (docs/abr.md), so it leaves within 2
 * frame intervals where the link has the room, and the rate control sees
 * it as one big frame (never as a queue). */
#define FIRST_KEY_FRAMES 8

static void apply_bitrate(AVCodecContext *ctx, const struct family *fam, int64_t bitrate, int fps)
{
    ctx->bit_rate = bitrate;
    if (fam->own_vbv)
        return;
    /* CBR with a VBV of one frame: no frame may take longer than its
     * interval to send at the target rate. */
    ctx->rc_max_rate = bitrate;
    ctx->rc_buffer_size = (int)(bitrate / fps);
}

/* At open: a VBV of FIRST_KEY_FRAMES frames, full, for the first frame;
 * apply_bitrate() after its packet shrinks it back to one frame. */
static void big_first_keyframe(AVCodecContext *ctx, const struct family *fam)
{
    if (fam->own_vbv)
        return;
    ctx->rc_buffer_size *= FIRST_KEY_FRAMES;
    ctx->rc_initial_buffer_occupancy = ctx->rc_buffer_size;
}

static enum AVPixelFormat pick_sw_format(const AVCodec *codec)
{
    /* NV12 first: it is what hardware and x264 use inside, so nothing
     * converts it again. */
    if (!codec->pix_fmts)
        return AV_PIX_FMT_NV12;
    for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_NV12)
            return AV_PIX_FMT_NV12;
    for (const enum AVPixelFormat *p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_YUV420P)
            return AV_PIX_FMT_YUV420P;
    return AV_PIX_FMT_NONE;
}

static int open_upload(struct pvs_encoder *e, const struct pvs_encoder_opts *o,
                       char *why, size_t why_len)
{
    char buf[128];
    int ret = av_hwdevice_ctx_create(&e->hw_device, e->fam->upload_to, NULL, NULL, 0);
    if (ret < 0) {
        snprintf(why, why_len, "no %s device (%s)", av_hwdevice_get_type_name(e->fam->upload_to),
                 *pvs_avlog_last_error() ? pvs_avlog_last_error() : pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_ENODEV;
    }
    AVBufferRef *frames = av_hwframe_ctx_alloc(e->hw_device);
    if (!frames)
        return PVS_ENOMEM;
    AVHWFramesContext *fc = (AVHWFramesContext *)(void *)frames->data;
    fc->format = e->ctx->pix_fmt; /* the codec's hardware format */
    fc->sw_format = AV_PIX_FMT_NV12;
    fc->width = o->width;
    fc->height = o->height;
    fc->initial_pool_size = 4;
    ret = av_hwframe_ctx_init(frames);
    if (ret >= 0)
        e->ctx->hw_frames_ctx = av_buffer_ref(frames);
    av_buffer_unref(&frames);
    if (ret < 0 || !e->ctx->hw_frames_ctx) {
        snprintf(why, why_len, "cannot make device frames (%s)", pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_ENODEV;
    }
    e->hw_frame = av_frame_alloc();
    return e->hw_frame ? 0 : PVS_ENOMEM;
}

static int bind_input(struct pvs_encoder *e)
{
    int ret = av_frame_make_writable(e->frame);
    if (ret < 0)
        return PVS_ENOMEM;
    struct pvs_image *in = &e->input;
    in->fmt = e->frame->format == AV_PIX_FMT_NV12 ? PVS_PIX_NV12 : PVS_PIX_I420;
    in->width = e->frame->width;
    in->height = e->frame->height;
    for (int i = 0; i < 3; i++) {
        in->data[i] = e->frame->data[i];
        in->stride[i] = e->frame->linesize[i];
    }
    return 0;
}

void pvs_encoder_close(struct pvs_encoder **pe)
{
    struct pvs_encoder *e = pe ? *pe : NULL;
    if (!e)
        return;
    if (e->ctx && avcodec_is_open(e->ctx) && e->pkt) {
        /* End the stream: encoders that hold frames (SVT-AV1) complain when
         * closed without it. Nothing is left for zero-delay ones. */
        if (avcodec_send_frame(e->ctx, NULL) >= 0)
            while (avcodec_receive_packet(e->ctx, e->pkt) >= 0)
                av_packet_unref(e->pkt);
    }
    avcodec_free_context(&e->ctx);
    av_frame_free(&e->frame);
    av_frame_free(&e->hw_frame);
    av_frame_free(&e->gpu_frame);
    av_buffer_unref(&e->hw_device);
    av_buffer_unref(&e->gpu_frames);
    av_buffer_unref(&e->qsv_device);
    av_buffer_unref(&e->gpu_device);
    av_packet_free(&e->pkt);
    free(e->pad);
    free(e);
    *pe = NULL;
}

/* The zero-copy input: a pool of NV12 textures on the capture's device that
 * the colour conversion draws into and the encoder reads in place. Returns
 * 0, or an error with `why` said (the caller then feeds system memory). */
static int open_gpu(struct pvs_encoder *e, const struct pvs_encoder_opts *o,
                    char *why, size_t why_len)
{
#ifdef _WIN32
    char buf[128];
    int err = pvs_hw_d3d11_device(&e->gpu_device, o->d3d11_device, why, why_len);
    if (!err)
        err = pvs_hw_d3d11_frames(&e->gpu_frames, e->gpu_device, o->width, o->height, GPU_POOL,
                                  why, why_len);
    if (err)
        return err;
    AVBufferRef *frames = NULL;
    if (e->fam->gpu_input == GPU_QSV) {
        /* QSV reads the same textures through surfaces mapped from them. */
        int ret = av_hwdevice_ctx_create_derived(&e->qsv_device, AV_HWDEVICE_TYPE_QSV,
                                                 e->gpu_device, 0);
        if (ret >= 0)
            ret = av_hwframe_ctx_create_derived(&frames, AV_PIX_FMT_QSV, e->qsv_device,
                                                e->gpu_frames, AV_HWFRAME_MAP_DIRECT);
        if (ret < 0) {
            snprintf(why, why_len, "no QSV device or frames derived from the capture's D3D11 "
                     "device (%s)", *pvs_avlog_last_error() ? pvs_avlog_last_error()
                                                            : pvs_av_strerror(ret, buf, sizeof(buf)));
            return PVS_ENODEV;
        }
        e->hw_frame = av_frame_alloc(); /* the mapped frame */
    } else {
        frames = av_buffer_ref(e->gpu_frames);
    }
    e->gpu_frame = av_frame_alloc();
    if (!frames || !e->gpu_frame || (e->fam->gpu_input == GPU_QSV && !e->hw_frame)) {
        av_buffer_unref(&frames);
        return PVS_ENOMEM;
    }
    e->ctx->hw_frames_ctx = frames;
    e->ctx->pix_fmt = e->fam->gpu_input == GPU_QSV ? AV_PIX_FMT_QSV : AV_PIX_FMT_D3D11;
    return 0;
#else
    (void)e;
    (void)o;
    snprintf(why, why_len, "D3D11 textures exist only on Windows");
    return PVS_ENOTSUP;
#endif
}

/* Undoes a failed open_gpu(): the encoder takes system memory instead. */
static void drop_gpu(struct pvs_encoder *e, enum AVPixelFormat sw)
{
    av_buffer_unref(&e->ctx->hw_frames_ctx);
    av_frame_free(&e->hw_frame);
    av_frame_free(&e->gpu_frame);
    av_buffer_unref(&e->gpu_frames);
    av_buffer_unref(&e->qsv_device);
    av_buffer_unref(&e->gpu_device);
    e->ctx->pix_fmt = sw;
}

/* Libraries that print on their own. SVT-AV1 writes its configuration and
 * warnings straight to stderr (about 20 lines per encoder opened: in
 * `pvstream-server doctor` and every bench run) at the level it reads from
 * $SVT_LOG each time an encoder opens: 0 fatal, 1 error, 2 warn, 3 info
 * (its default), 4 debug. Unless the user set SVT_LOG, it gets errors only
 * at our usual levels, nothing when we are quiet, and its default when our
 * level is debug, so its warnings stay reachable (PVS_LOG=debug). x264,
 * dav1d and libva speak through av_log (av/avlog.c), x265 is told
 * log-level=error in its parameters. The environment is changed only when
 * the value changes, from the thread that opens encoders (setenv is not
 * safe against a getenv running in another thread). */
static void quiet_library_logs(void)
{
    static int user_set = -1;
    static const char *ours;
    if (user_set < 0)
        user_set = getenv("SVT_LOG") != NULL;
    enum pvs_log_level level = pvs_log_get_level();
    const char *want = level >= PVS_LOG_DEBUG ? "SVT_LOG=3" : level == PVS_LOG_QUIET ? "SVT_LOG=0"
                                                                                    : "SVT_LOG=1";
    if (user_set || want == ours)
        return;
#ifdef _WIN32
    _putenv(want);
#else
    setenv("SVT_LOG", want + 8, 1);
#endif
    ours = want;
}

/* Opens one named encoder; on failure `why` says why in words. */
static int open_named(struct pvs_encoder **out, const struct pvs_encoder_info *info,
                      const struct pvs_encoder_opts *o, char *why, size_t why_len)
{
    char buf[128];
    *out = NULL;
    pvs_avlog_init();
    pvs_avlog_clear();
    quiet_library_logs();

    const AVCodec *codec = avcodec_find_encoder_by_name(info->name);
    if (!codec) {
        snprintf(why, why_len, "not in this libavcodec build");
        return PVS_ENOTSUP;
    }
    const struct family *fam = family_of(info);
    if (fam->driver_libs[0]) {
        bool found = false;
        for (int i = 0; i < 3 && fam->driver_libs[i] && !found; i++)
            found = pvs_library_available(fam->driver_libs[i]);
        if (!found) {
            snprintf(why, why_len, "%s", fam->no_driver);
            return PVS_ENODEV;
        }
    }

    struct pvs_encoder *e = calloc(1, sizeof(*e));
    if (!e)
        return PVS_ENOMEM;
    e->info = info;
    e->fam = fam;
    e->filler = o->filler && (info->codec == PVS_CODEC_H264 || info->codec == PVS_CODEC_HEVC);
    if (o->filler && !e->filler)
        PVS_LOG_W("%s: --filler pads H.264 and HEVC only: %s is sent as it comes", info->name,
                  pvs_codec_name(info->codec));
    e->last_pts = -1;
    int err = PVS_ENOMEM;
    e->ctx = avcodec_alloc_context3(codec);
    e->frame = av_frame_alloc();
    e->pkt = av_packet_alloc();
    if (!e->ctx || !e->frame || !e->pkt)
        goto fail;

    AVCodecContext *ctx = e->ctx;
    enum AVPixelFormat sw = fam->upload_to != AV_HWDEVICE_TYPE_NONE ? AV_PIX_FMT_NV12 : pick_sw_format(codec);
    if (sw == AV_PIX_FMT_NONE) {
        snprintf(why, why_len, "takes neither NV12 nor YUV420P input");
        err = PVS_ENOTSUP;
        goto fail;
    }
    ctx->width = o->width;
    ctx->height = o->height;
    ctx->time_base = (AVRational){ 1, o->fps };
    ctx->framerate = (AVRational){ o->fps, 1 };
    ctx->pix_fmt = fam->upload_to != AV_HWDEVICE_TYPE_NONE && codec->pix_fmts ? codec->pix_fmts[0] : sw;
    ctx->max_b_frames = 0;
    ctx->gop_size = fam == &fam_nvenc ? -1 : 0x7fffffff; /* NVENC: -1 is infinite */
    ctx->thread_count = o->threads;
    ctx->thread_type = o->frame_threads ? FF_THREAD_FRAME : FF_THREAD_SLICE;
    ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    ctx->color_range = AVCOL_RANGE_MPEG;
    ctx->colorspace = AVCOL_SPC_BT470BG; /* BT.601, what encode/convert.c makes */
    ctx->color_primaries = AVCOL_PRI_BT709;
    ctx->color_trc = AVCOL_TRC_BT709;
    apply_bitrate(ctx, fam, o->bitrate ? o->bitrate : default_bitrate(o), o->fps);
    big_first_keyframe(ctx, fam);

    if (fam->upload_to != AV_HWDEVICE_TYPE_NONE && (err = open_upload(e, o, why, why_len)) < 0)
        goto fail;
    snprintf(e->path, sizeof(e->path), "%s", fam->upload_to != AV_HWDEVICE_TYPE_NONE ?
             "system memory, uploaded to the device" : "system memory");
    if (o->d3d11_device && fam->gpu_input == GPU_NONE) {
        snprintf(e->path, sizeof(e->path), "system memory (%s takes no D3D11 textures)",
                 info->name);
    } else if (o->d3d11_device) {
        char gwhy[160] = "";
        e->zero_copy = open_gpu(e, o, gwhy, sizeof(gwhy)) == 0;
        if (e->zero_copy) {
            snprintf(e->path, sizeof(e->path), "D3D11 textures on the capture's device%s "
                     "(zero-copy)", fam->gpu_input == GPU_QSV ? ", mapped to QSV" : "");
        } else {
            drop_gpu(e, sw);
            snprintf(e->path, sizeof(e->path), "system memory (not zero-copy: %s)", gwhy);
            PVS_LOG_W("%s: pictures go through system memory: %s", info->name, gwhy);
        }
    }

    AVDictionary *dict = NULL;
    for (const char *const *kv = fam->options; kv[0]; kv += 2)
        av_dict_set(&dict, kv[0], kv[1], 0);
    int ret = avcodec_open2(ctx, codec, &dict);
    if (ret >= 0) {
        const AVDictionaryEntry *t = NULL;
        while ((t = av_dict_get(dict, "", t, AV_DICT_IGNORE_SUFFIX)))
            PVS_LOG_W("%s does not know option %s=%s (ignored)", info->name, t->key, t->value);
    }
    av_dict_free(&dict);
    if (ret < 0) {
        snprintf(why, why_len, "%s", *pvs_avlog_last_error() ? pvs_avlog_last_error()
                                                              : pvs_av_strerror(ret, buf, sizeof(buf)));
        err = ret == AVERROR(ENOSYS) || ret == AVERROR(ENODEV) ? PVS_ENODEV : PVS_EEXTERNAL;
        goto fail;
    }

    e->frame->format = sw;
    e->frame->width = o->width;
    e->frame->height = o->height;
    if (av_frame_get_buffer(e->frame, 64) < 0 || bind_input(e) < 0) {
        err = PVS_ENOMEM;
        goto fail;
    }
    *out = e;
    return 0;

fail:
    pvs_encoder_close(&e);
    return err;
}

/* Encodes one mid-grey frame: an encoder that opens but cannot encode (no
 * session left on the GPU, a driver too old) fails here, not mid-stream. */
static int probe_frame(struct pvs_encoder *e, char *why, size_t why_len)
{
    struct pvs_image *in = pvs_encoder_input(e);
    for (int p = 0; p < (in->fmt == PVS_PIX_NV12 ? 2 : 3); p++) {
        int h = p ? in->height / 2 : in->height;
        memset(in->data[p], 128, (size_t)in->stride[p] * (size_t)h);
    }
    struct pvs_packet pkt;
    int err = pvs_encoder_encode(e, 0, 0, true, &pkt);
    if (err == PVS_EAGAIN)
        return 0; /* it works; it just holds frames back (stats say so later) */
    if (err < 0) {
        snprintf(why, why_len, "encoding a probe frame failed: %s",
                 *pvs_avlog_last_error() ? pvs_avlog_last_error() : pvs_strerror(err));
        return err;
    }
    if (!pkt.size) {
        snprintf(why, why_len, "encoded a probe frame to nothing");
        return PVS_EEXTERNAL;
    }
    return 0;
}

int pvs_encoder_probe(const char *name, const struct pvs_encoder_opts *o,
                      char *why, size_t why_len)
{
    const struct pvs_encoder_info *info = pvs_encoder_info_find(name);
    if (!info) {
        snprintf(why, why_len, "unknown encoder (pvstream-bench encoders lists them)");
        return PVS_EINVAL;
    }
    int err = check_opts(o, why, why_len);
    if (err < 0)
        return err;
    if (info->codec != o->codec) {
        snprintf(why, why_len, "encodes %s, not %s", pvs_codec_name(info->codec), pvs_codec_name(o->codec));
        return PVS_EINVAL;
    }
    struct pvs_encoder *e;
    err = open_named(&e, info, o, why, why_len);
    if (err < 0)
        return err;
    err = probe_frame(e, why, why_len);
    if (!err)
        snprintf(why, why_len, "%s", e->path);
    pvs_encoder_close(&e);
    return err;
}

int pvs_encoder_open(struct pvs_encoder **out, const char *name,
                     const struct pvs_encoder_opts *o)
{
    char why[256] = "";
    *out = NULL;
    int err = check_opts(o, why, sizeof(why));
    if (err < 0) {
        PVS_LOG_E("encoder: %s", why);
        return err;
    }
    if (name && strcmp(name, "auto")) {
        const struct pvs_encoder_info *info = pvs_encoder_info_find(name);
        if (!info) {
            PVS_LOG_E("unknown encoder '%s' (pvstream-bench encoders lists them)", name);
            return PVS_EINVAL;
        }
        if (info->codec != o->codec) {
            PVS_LOG_E("%s encodes %s, not %s", name, pvs_codec_name(info->codec), pvs_codec_name(o->codec));
            return PVS_EINVAL;
        }
        err = open_named(out, info, o, why, sizeof(why));
        if (err < 0)
            PVS_LOG_E("%s: %s", name, why);
        return err;
    }

    /* auto: hardware families in order, software last; each must encode a
     * probe frame, and is then opened afresh so no probe state leaks in. */
    for (const struct pvs_encoder_info *info = pvs_encoder_infos; info->name; info++) {
        if (info->codec != o->codec)
            continue;
        err = pvs_encoder_probe(info->name, o, why, sizeof(why));
        if (err == 0)
            err = open_named(out, info, o, why, sizeof(why));
        if (err == 0) {
            PVS_LOG_I("encoder: %s (%s)", info->name, info->hardware ? "hardware" : "software");
            return 0;
        }
        PVS_LOG_I("%s skipped: %s", info->name, why);
    }
    PVS_LOG_E("no %s encoder works here", pvs_codec_name(o->codec));
    return err < 0 ? err : PVS_ENODEV;
}

const char *pvs_encoder_name(const struct pvs_encoder *e)
{
    return e->info->name;
}

const struct pvs_encoder_info *pvs_encoder_get_info(const struct pvs_encoder *e)
{
    return e->info;
}

struct pvs_image *pvs_encoder_input(struct pvs_encoder *e)
{
    /* The encoder may still hold a reference to the last buffer; then a new
     * one is allocated (never the case for x264, which copies its input). */
    if (bind_input(e) < 0)
        return NULL;
    return &e->input;
}

/* The frame to send on the zero-copy path: the pool frame the caller drew
 * into, or (a picture in system memory: the probe, GDI capture) one
 * uploaded now; QSV gets it mapped. */
static int gpu_send_frame(struct pvs_encoder *e, AVFrame *in, AVFrame **send)
{
    char buf[128];
    int ret = 0;
    if (!e->gpu_ready) {
        av_frame_unref(e->gpu_frame);
        ret = av_hwframe_get_buffer(e->gpu_frames, e->gpu_frame, 0);
        if (ret >= 0)
            ret = av_hwframe_transfer_data(e->gpu_frame, in, 0);
        if (ret < 0) {
            PVS_LOG_E("%s: upload failed: %s", e->info->name, pvs_av_strerror(ret, buf, sizeof(buf)));
            return PVS_EEXTERNAL;
        }
    }
    e->gpu_ready = false;
    av_frame_copy_props(e->gpu_frame, in);
    *send = e->gpu_frame;
    if (e->fam->gpu_input == GPU_QSV) {
        av_frame_unref(e->hw_frame);
        e->hw_frame->format = AV_PIX_FMT_QSV;
        e->hw_frame->hw_frames_ctx = av_buffer_ref(e->ctx->hw_frames_ctx);
        ret = e->hw_frame->hw_frames_ctx ? av_hwframe_map(e->hw_frame, e->gpu_frame,
                                                          AV_HWFRAME_MAP_DIRECT) : AVERROR(ENOMEM);
        if (ret < 0) {
            PVS_LOG_E("%s: mapping the texture to QSV failed: %s", e->info->name,
                      pvs_av_strerror(ret, buf, sizeof(buf)));
            return PVS_EEXTERNAL;
        }
        av_frame_copy_props(e->hw_frame, in);
        *send = e->hw_frame;
    }
    return 0;
}

int pvs_encoder_gpu_input(struct pvs_encoder *e, struct ID3D11Texture2D **tex, int *slice)
{
    if (!e->zero_copy)
        return PVS_ENOTSUP;
#ifdef _WIN32
    char buf[128];
    av_frame_unref(e->gpu_frame);
    int ret = av_hwframe_get_buffer(e->gpu_frames, e->gpu_frame, 0);
    if (ret < 0) {
        PVS_LOG_E("%s: no free texture in its pool of %d: %s", e->info->name, GPU_POOL,
                  pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_EEXTERNAL;
    }
    pvs_hw_d3d11_surface(e->gpu_frame, tex, slice);
    e->gpu_ready = true;
    return 0;
#else
    (void)tex;
    (void)slice;
    return PVS_ENOTSUP;
#endif
}

bool pvs_encoder_zero_copy(const struct pvs_encoder *e)
{
    return e->zero_copy;
}

const char *pvs_encoder_input_path(const struct pvs_encoder *e)
{
    return e->path;
}

/* Appends a filler-data NAL unit (H.264 type 12, HEVC type 38) so that
 * the packet is as large as one frame at the current bitrate: decoders
 * skip it, and the stream fills what the rate control asks for whatever
 * the content needs (benches). Its payload is 0xFF bytes, which never form
 * a start code, then the RBSP stop bit. x264's own filler (nal-hrd=cbr)
 * would do the same but freezes its VBV: the bitrate could not change. */
static void pad_packet(struct pvs_encoder *e, struct pvs_packet *out)
{
    /* One frame interval of the bitrate, or the time since the previous
     * frame's capture when frames were missed (over 1.5 intervals; up to
     * 3): a server that cannot keep the frame rate (x264 at 1080p60 on 2
     * cores) still sends at the bitrate, so a bench measures the rate
     * control and not the CPU. */
    int fps = e->ctx->framerate.num > 0 && e->ctx->framerate.den > 0
                  ? e->ctx->framerate.num / e->ctx->framerate.den : 60;
    int64_t interval_ns = 1000000000 / (fps > 0 ? fps : 60), span = interval_ns;
    if (e->pad_prev_ns && out->capture_ns > e->pad_prev_ns)
        span = out->capture_ns - e->pad_prev_ns;
    span = span < interval_ns * 3 / 2 ? interval_ns : span > 3 * interval_ns ? 3 * interval_ns : span;
    e->pad_prev_ns = out->capture_ns;
    size_t want = span == interval_ns ? (size_t)(e->ctx->bit_rate / 8 / fps)
                                      : (size_t)((double)e->ctx->bit_rate / 8 * (double)span / 1e9);
    bool hevc = e->info->codec == PVS_CODEC_HEVC;
    size_t head = hevc ? 6 : 5, min_nal = head + 2; /* start code, header, payload, stop */
    if (out->size + min_nal > want)
        return;
    if (want > e->pad_cap) {
        uint8_t *p = realloc(e->pad, want);
        if (!p)
            return; /* sent as it is */
        e->pad = p;
        e->pad_cap = want;
    }
    memcpy(e->pad, out->data, out->size);
    uint8_t *n = e->pad + out->size;
    size_t nal = want - out->size;
    n[0] = n[1] = n[2] = 0;
    n[3] = 1;
    if (hevc) {
        n[4] = 38 << 1; /* FD_NUT, layer 0 */
        n[5] = 1;       /* temporal id 0 */
    } else {
        n[4] = 12;      /* filler data, nal_ref_idc 0 */
    }
    memset(n + head, 0xff, nal - head - 1);
    n[nal - 1] = 0x80;
    out->data = e->pad;
    out->size = want;
}

int pvs_encoder_encode(struct pvs_encoder *e, uint64_t frame, int64_t capture_ns,
                       bool force_idr, struct pvs_packet *out)
{
    char buf[128];
    memset(out, 0, sizeof(*out));
    AVFrame *in = e->frame;
    in->pts = (int64_t)frame > e->last_pts ? (int64_t)frame : e->last_pts + 1;
    e->last_pts = in->pts;
    in->pict_type = force_idr ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
#ifdef AV_FRAME_FLAG_KEY /* FFmpeg 6.1: key_frame is deprecated */
    if (force_idr)
        in->flags |= AV_FRAME_FLAG_KEY;
    else
        in->flags &= ~AV_FRAME_FLAG_KEY;
#else
    in->key_frame = force_idr;
#endif
    e->meta[in->pts % META_RING].frame = frame;
    e->meta[in->pts % META_RING].capture_ns = capture_ns;
    e->meta[in->pts % META_RING].submitted_ns = pvs_time_ns();

    AVFrame *send = in;
    if (e->gpu_frames) {
        int err = gpu_send_frame(e, in, &send);
        if (err)
            return err;
    } else if (e->hw_frame) {
        av_frame_unref(e->hw_frame);
        int ret = av_hwframe_get_buffer(e->ctx->hw_frames_ctx, e->hw_frame, 0);
        if (ret >= 0)
            ret = av_hwframe_transfer_data(e->hw_frame, in, 0);
        if (ret < 0) {
            PVS_LOG_E("%s: upload failed: %s", e->info->name, pvs_av_strerror(ret, buf, sizeof(buf)));
            return PVS_EEXTERNAL;
        }
        av_frame_copy_props(e->hw_frame, in);
        send = e->hw_frame;
    }

    int ret = avcodec_send_frame(e->ctx, send);
    if (e->gpu_frames) {
        /* the encoder holds its own references for as long as it reads */
        av_frame_unref(e->gpu_frame);
        if (e->hw_frame)
            av_frame_unref(e->hw_frame);
    }
    if (ret < 0) {
        PVS_LOG_E("%s: cannot encode: %s", e->info->name, pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_EEXTERNAL;
    }
    e->stats.frames++;

    av_packet_unref(e->pkt);
    ret = avcodec_receive_packet(e->ctx, e->pkt);
    if (ret == AVERROR(EAGAIN)) {
        e->stats.delayed++;
        return PVS_EAGAIN;
    }
    if (ret < 0) {
        PVS_LOG_E("%s: no packet: %s", e->info->name, pvs_av_strerror(ret, buf, sizeof(buf)));
        return PVS_EEXTERNAL;
    }
    if (e->pkt->pts != in->pts)
        e->stats.delayed++; /* a packet, but of an earlier frame */
    int64_t pts = e->pkt->pts >= 0 ? e->pkt->pts : in->pts;
    out->data = e->pkt->data;
    out->size = (size_t)e->pkt->size;
    out->keyframe = e->pkt->flags & AV_PKT_FLAG_KEY;
    out->frame = e->meta[pts % META_RING].frame;
    out->capture_ns = e->meta[pts % META_RING].capture_ns;
    out->submitted_ns = e->meta[pts % META_RING].submitted_ns;
    if (e->filler)
        pad_packet(e, out);
    if (e->stats.packets == 0) /* the first keyframe's budget: back to one frame */
        apply_bitrate(e->ctx, e->fam, e->ctx->bit_rate, e->ctx->framerate.num);
    e->stats.packets++;
    e->stats.bytes += out->size;
    e->stats.keyframes += out->keyframe;
    return 0;
}

int pvs_encoder_set_bitrate(struct pvs_encoder *e, int64_t bitrate)
{
    if (bitrate <= 0 || bitrate > 2000000000)
        return PVS_EINVAL;
    if (!e->fam->dynamic_bitrate)
        return PVS_ENOTSUP;
    /* libx264 and NVENC compare these with their settings at every frame and
     * reconfigure in place. Before the first frame (the rate control's
     * start) the first keyframe keeps its budget. */
    apply_bitrate(e->ctx, e->fam, bitrate, e->ctx->framerate.num);
    if (e->stats.packets == 0)
        big_first_keyframe(e->ctx, e->fam);
    return 0;
}

void pvs_encoder_get_stats(const struct pvs_encoder *e, struct pvs_encoder_stats *out)
{
    *out = e->stats;
}
