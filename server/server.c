#include "server/server.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/vdisplay.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stats.h"
#include "encode/encoder.h"
#include "encode/feed.h"
#include "input/injector.h"
#include "input/input.h"
#include "net/control.h"
#include "net/fec.h"
#include "net/media.h"
#include "net/sender.h"
#include "server/abr.h"
#include "server/gamestream.h"
#include "server/audio.h"
#include "audio/source.h"
#include "gamestream/gs_audio.h"

/* Nothing changed on screen: still send a frame this often, so a client
 * that joined (or lost one) sees the picture without waiting for a change.
 * Measured between capture times: a source that repeats its picture every
 * second (x11, dxgi) then has each repeat sent, not every other one. */
#define UNCHANGED_REFRESH_NS 1000000000LL
/* How long the video thread waits for the control thread to have sent
 * STREAM before it sends media of a new size. */
#define STREAM_WAIT_NS 1000000000LL

/* ---- the video thread --------------------------------------------------- */

struct video {
    const struct pvs_server_settings *cfg;
    pvs_socket sock;                 /* the server's media socket (borrowed) */
    struct pvs_addr to;
    uint8_t key[PVS_SRTP_KEY_BYTES];
    uint32_t ssrc;
    int datagram;
    uint32_t client_codecs;          /* PVS_CTL_CODEC_BIT_* */
    struct pvs_ctl_stream audio;     /* the audio fields of every STREAM (audio_ssrc 0: none) */
    struct pvs_display_mode want;    /* the client's mode, with --size and --fps over it */
    /* A Moonlight session's frames go here instead of pvs_sender (NULL: the
     * native stream, described to its client by STREAM). Returns 0 when
     * sent, PVS_EAGAIN when not taken (the client has not pinged yet: it
     * asks for a keyframe when it has); anything else lost the frame, so a
     * keyframe follows. */
    int (*sink)(void *arg, const struct pvs_packet *pkt, int64_t host_ns);
    void *sink_arg;
    struct pvs_vdisplay *vd;         /* the server's, this thread's while it runs; or NULL */
    int output;                      /* the output captured (--output, or the virtual one) */
    int fps;                         /* the session's frame rate */
    int capture_fps;                 /* what capture is asked for (0: its own default) */
    struct pvs_thread *thread;

    atomic_bool stop;
    atomic_bool want_idr;

    /* The stream description, made by the video thread and sent by the
     * control thread; `sent` catches up with `made`. */
    pvs_mutex mu;
    pvs_cond cv;
    struct pvs_ctl_stream desc;
    uint32_t made, sent;
    /* Adaptive bitrate: made by the video thread with its first encoder
     * (NULL with --abr off), read by the control thread (under mu), freed
     * after the thread ends. */
    struct pvs_server_abr *abr;

    /* Figures, read by the control thread (under mu). */
    uint64_t frames, unchanged, keyframes, bytes;
    struct pvs_stats host;           /* the packet's own frame: captured -> sent */
    struct pvs_stats encode;         /* ...submitted to the encoder -> its packet out
                                        (with the frames an encoder holds back, the
                                        wait for the later frames that push it out) */
    int err;
};

static uint8_t ctl_codec(enum pvs_codec c)
{
    return c == PVS_CODEC_HEVC ? PVS_CTL_CODEC_HEVC
         : c == PVS_CODEC_AV1  ? PVS_CTL_CODEC_AV1 : PVS_CTL_CODEC_H264;
}

static uint32_t codec_bit(enum pvs_codec c)
{
    return c == PVS_CODEC_HEVC ? PVS_CTL_CODEC_BIT_HEVC
         : c == PVS_CODEC_AV1  ? PVS_CTL_CODEC_BIT_AV1 : PVS_CTL_CODEC_BIT_H264;
}

/* The encoder for this session: the configured one, or the first codec the
 * client decodes (H.264, HEVC, AV1 in that order) with "auto". */
static int open_encoder(struct video *v, int width, int height, struct ID3D11Device *dev,
                        struct pvs_encoder **out)
{
    const struct pvs_server_settings *cfg = v->cfg;
    struct pvs_encoder_opts eo = { .width = width, .height = height,
                                   .fps = v->fps, .bitrate = cfg->bitrate,
                                   .d3d11_device = dev, .filler = cfg->filler };
    if (cfg->codec != PVS_CODEC_COUNT) {
        eo.codec = (enum pvs_codec)cfg->codec;
        return pvs_encoder_open(out, cfg->encoder, &eo);
    }
    int err = PVS_ENOTSUP;
    for (int c = 0; c < PVS_CODEC_COUNT && err; c++) {
        if (!(v->client_codecs & codec_bit((enum pvs_codec)c)))
            continue;
        eo.codec = (enum pvs_codec)c;
        err = pvs_encoder_open(out, cfg->encoder, &eo);
    }
    return err;
}

/* --bitrate, or 0.15 bit per pixel of this size and rate. */
static int64_t session_bitrate(const struct video *v, int width, int height)
{
    return v->cfg->bitrate ? v->cfg->bitrate : (int64_t)((double)width * height * v->fps * 0.15);
}

/* With --abr on, the rate control for this session: its ceiling is the
 * first encoder's bitrate. Without it (out of memory, the trace file) the
 * stream goes on at a fixed bitrate. */
static void start_abr(struct video *v, int width, int height)
{
    const struct pvs_server_settings *cfg = v->cfg;
    if (!cfg->abr || v->abr)
        return;
    struct pvs_server_abr_config ac = {
        .ceiling_bps = session_bitrate(v, width, height), .floor_bps = cfg->min_bitrate,
        .fps = v->fps, .fec_percent = cfg->fec_percent, .fec_min_parity = cfg->fec_min,
        .pace_max_bps = cfg->pace, .datagram_bytes = v->datagram,
        .trace = cfg->trace,
    };
    struct pvs_server_abr *a = NULL;
    int err = pvs_server_abr_open(&a, &ac);
    if (err) {
        PVS_LOG_W("server: adaptive bitrate off: %s", pvs_strerror(err));
        return;
    }
    pvs_mutex_lock(&v->mu);
    v->abr = a;
    pvs_mutex_unlock(&v->mu);
}

/* The session's rate control, or NULL (none yet, or --abr off). */
static struct pvs_server_abr *video_abr(struct video *v)
{
    if (!v)
        return NULL;
    pvs_mutex_lock(&v->mu);
    struct pvs_server_abr *a = v->abr;
    pvs_mutex_unlock(&v->mu);
    return a;
}

/* The pacing thread sent a frame: to the rate control, which starts with
 * the first frame's size (after the sender opened). */
static void frame_sent(void *arg, uint32_t frame, uint32_t encoded, uint64_t wire_bytes,
                       int64_t first_ns, int64_t last_ns)
{
    pvs_server_abr_sent(video_abr(arg), frame, encoded, wire_bytes, first_ns, last_ns);
}

/* The pacing thread asks what the rate control wants of the frames posted. */
static void frame_live(void *arg, struct pvs_sender_live *out)
{
    pvs_server_abr_live(video_abr(arg), out);
}

/* Publishes the stream's description and waits until the control thread
 * has sent it, so the client knows the size before the first packet. */
static void publish(struct video *v, const struct pvs_encoder *enc, int width, int height)
{
    const struct pvs_server_settings *cfg = v->cfg;
    int64_t bitrate = session_bitrate(v, width, height);
    pvs_mutex_lock(&v->mu);
    v->desc = (struct pvs_ctl_stream){
        .codec = ctl_codec(pvs_encoder_get_info(enc)->codec),
        .width = (uint16_t)width, .height = (uint16_t)height,
        .fps = (uint16_t)v->fps,
        .bitrate = (uint32_t)(bitrate > UINT32_MAX ? UINT32_MAX : bitrate),
        .datagram_size = (uint16_t)v->datagram,
        .fec_percent = (uint8_t)cfg->fec_percent, .fec_min_parity = (uint8_t)cfg->fec_min,
        .media_port = (uint16_t)(cfg->port + 1), .ssrc = v->ssrc,
        .generation = v->made + 1,
        .audio_ssrc = v->audio.audio_ssrc, .audio_frame = v->audio.audio_frame,
        .audio_channels = v->audio.audio_channels,
        .audio_redundancy = v->audio.audio_redundancy, .audio_bitrate = v->audio.audio_bitrate,
    };
    v->made++;
    int64_t until = pvs_time_ns() + STREAM_WAIT_NS;
    while (v->sent != v->made && !atomic_load(&v->stop))
        if (pvs_cond_wait_until(&v->cv, &v->mu, until) == PVS_ETIMEDOUT)
            break;
    pvs_mutex_unlock(&v->mu);
}

/* Opens the configured source. A desktop (the X display, the Windows
 * screen) is captured whole, at the mode vdisplay set; the test desktop is
 * drawn at the size asked (--size, else the client's, else 1920x1080).
 * "auto" is the registry's choice, which logs why it passed over each better
 * backend: the first desktop that opens, else the test desktop, which is
 * then opened again at that size (drawing it once more costs a few
 * milliseconds, once). */
static int open_capture(const struct video *v, bool gpu_frames, struct pvs_capture **cap)
{
    const struct pvs_server_settings *cfg = v->cfg;
    struct pvs_capture_opts co = { .fps = v->capture_fps, .content = (enum pvs_content)cfg->content,
                                   .display = cfg->display[0] ? cfg->display : NULL,
                                   .output = v->output, .gpu_frames = gpu_frames };
    if (strcmp(cfg->capture, "testsrc")) {
        int err = pvs_capture_open(cap, cfg->capture, &co);
        if (err || strcmp((*cap)->ops->name, "testsrc"))
            return err;
        pvs_capture_close(cap);
    }
    co.width = v->want.width & ~1; /* testsrc draws even sizes */
    co.height = v->want.height & ~1;
    if (co.width < 128 || co.height < 96 || co.width > PVS_TESTSRC_MAX_WIDTH ||
        co.height > PVS_TESTSRC_MAX_HEIGHT)
        co.width = co.height = 0; /* its default */
    return pvs_capture_open(cap, "testsrc", &co);
}

/* Before capture opens: the virtual monitor or the mode for this client
 * (Windows), and the session's frame rate: --fps, else the refresh of the
 * mode the client now gets, else 60. */
static void prepare_display(struct video *v)
{
    const struct pvs_server_settings *cfg = v->cfg;
    v->output = cfg->output;
    v->fps = cfg->fps ? cfg->fps : 60;
    v->capture_fps = cfg->fps;
    if (!v->vd)
        return;
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(v->vd, &v->want, &r);
    if (r.note[0])
        PVS_LOG_I("display: %s", r.note);
    v->output = r.output;
    if (!cfg->fps && (r.mode_set || r.virtual_display) && r.mode.hz > 0)
        v->fps = v->capture_fps = r.mode.hz > 240 ? 240 : r.mode.hz;
}

static int video_thread(void *arg)
{
    struct video *v = arg;
    const struct pvs_server_settings *cfg = v->cfg;
    struct pvs_capture *cap = NULL;
    struct pvs_encoder *enc = NULL;
    struct pvs_feed *feed = NULL;
    struct ID3D11Device *enc_dev = NULL; /* the capture device the encoder was opened on */
    bool gpu_frames = true;              /* off once the GPU could not convert them */
    struct pvs_sender *tx = NULL;
    pvs_thread_boost("Games"); /* MMCSS on Windows; best effort */
    struct pvs_sender_config sc = {
        .packetizer = { .datagram_size = v->datagram, .fec_percent = cfg->fec_percent,
                        .fec_min_parity = cfg->fec_min, .ssrc = v->ssrc },
        .pace_bps = cfg->pace, .dscp = cfg->dscp,
        .own_thread = true, .on_sent = frame_sent, .live = frame_live,
        .on_sent_arg = v,
    };
    int err = v->sink ? 0 : pvs_sender_open(&tx, v->sock, &v->to, v->key, &sc);
    sodium_memzero(v->key, sizeof(v->key));
    uint32_t frame_no = 0;            /* +1 per frame sent: what the client counts */
    int width = 0, height = 0;
    int64_t last_sent = 0;            /* the capture time of the last frame sent */
    bool reopened = false;             /* a new encoder: ABR applies its bitrate again */
    uint32_t epoch = 0;               /* the rate control's shrinks as of the last frame */
    prepare_display(v);

    while (!err && !atomic_load(&v->stop)) {
        pvs_vdisplay_tick(v->vd);
        if (!cap) {
            err = open_capture(v, gpu_frames, &cap);
            if (err)
                break;
        }
        /* A keyframe needs a frame: sources that make frames on change
         * (x11, dxgi) make one now even if nothing changed. The wait is one
         * frame interval, so a request is passed on that soon. */
        if (atomic_load(&v->want_idr))
            pvs_capture_request_frame(cap);
        struct pvs_frame f;
        err = pvs_capture_next(cap, &f, (1000 + v->fps - 1) / v->fps);
        if (err == PVS_ETIMEDOUT) {
            err = 0;
            continue;
        }
        if (err == PVS_EREINIT) {
            PVS_LOG_I("server: the screen changed size or the GPU was reset; capturing again");
            pvs_feed_close(&feed);
            pvs_capture_close(&cap);
            err = 0;
            continue;
        }
        if (err)
            break;

        /* The encoder works on the capture's device: a new device (capture
         * opened again after a GPU reset) means a new encoder too. */
        struct ID3D11Device *dev = pvs_capture_d3d11_device(cap);
        if (!enc || f.img.width != width || f.img.height != height || dev != enc_dev) {
            pvs_feed_close(&feed);
            pvs_encoder_close(&enc);
            width = f.img.width;
            height = f.img.height;
            enc_dev = dev;
            err = open_encoder(v, width, height, dev, &enc);
            if (!err)
                err = pvs_feed_open(&feed, cap, enc, width, height);
            if (err == PVS_ENOTSUP && dev) {
                PVS_LOG_W("server: the GPU cannot convert the captured frames (see above); "
                          "capturing into system memory instead");
                pvs_capture_release(cap, &f);
                pvs_capture_close(&cap);
                pvs_encoder_close(&enc);
                gpu_frames = false;
                err = 0;
                continue;
            }
            if (err) {
                pvs_capture_release(cap, &f);
                break;
            }
            PVS_LOG_I("server: encoding %dx%d with %s (%s)", width, height, pvs_encoder_name(enc),
                      pvs_feed_path_name(pvs_feed_path(feed)));
            if (!v->sink) {
                publish(v, enc, width, height);
                start_abr(v, width, height);
            }
            reopened = true;
            atomic_store(&v->want_idr, true);
        }

        /* A source that was re-created (Desktop Duplication after access
         * lost) asks for a keyframe too. */
        bool idr = atomic_exchange(&v->want_idr, false) || f.keyframe;
        if (!f.changed && !idr && f.capture_ns - last_sent < UNCHANGED_REFRESH_NS) {
            pvs_capture_release(cap, &f);
            pvs_mutex_lock(&v->mu);
            v->unchanged++;
            pvs_mutex_unlock(&v->mu);
            continue;
        }
        pvs_server_abr_before_frame(v->abr, enc, tx, reopened);
        /* The link shrank: the sender drops what it has not sent (and any
         * frame posted under the old count, as one encoded meanwhile), and
         * this frame, at the cut's rate, is a keyframe (net/rate_ctl.h,
         * pvs_rate_ctl_shrinks). */
        uint32_t e = pvs_server_abr_shrinks(v->abr);
        bool repair = e != epoch;
        if (repair) {
            epoch = e;
            pvs_sender_set_epoch(tx, e);
            idr = true;
        }
        /* A keyframe the client asked for (most likely after a loss) while
         * the link has just shrunk would meet the full queue of the frames
         * sent before the cut and be lost with them: it waits the cut's
         * first frame intervals, and so do the frames that could not be
         * decoded without it anyway. */
        if (idr && !repair && !f.keyframe && !reopened &&
            pvs_server_abr_hold_keyframe(v->abr)) {
            atomic_store(&v->want_idr, true);
            pvs_capture_release(cap, &f);
            continue;
        }
        reopened = false;
        err = pvs_feed_frame(feed, &f);
        struct pvs_packet pkt;
        int64_t captured = f.capture_ns;
        if (!err)
            err = pvs_encoder_encode(enc, frame_no, captured, idr, &pkt);
        pvs_capture_release(cap, &f);
        if (err == PVS_EAGAIN) {
            err = 0;
            continue;
        }
        if (err == PVS_EREINIT) { /* the GPU device was lost: all of it again */
            PVS_LOG_W("server: the GPU device was lost; opening capture and encoder again");
            pvs_feed_close(&feed);
            pvs_encoder_close(&enc);
            pvs_capture_close(&cap);
            err = 0;
            continue;
        }
        if (err)
            break;
        /* The packet may be an earlier frame's (an encoder that holds frames
         * back): its own times, or the wait would count in no stage (and the
         * client would put it in the network's). */
        int64_t out_ns = pvs_time_ns();
        int64_t encode_ns = out_ns - pkt.submitted_ns, host_ns = out_ns - pkt.capture_ns;
        last_sent = captured;
        if (v->sink) {
            int r = v->sink(v->sink_arg, &pkt, host_ns);
            if (r && r != PVS_EAGAIN)
                atomic_store(&v->want_idr, true);
            if (r)
                continue;
            host_ns = pvs_time_ns() - pkt.capture_ns; /* its datagrams are out */
        } else {
            pkt.frame = frame_no++;
            err = pvs_sender_send(tx, &pkt, (uint32_t)(host_ns / 1000), NULL);
        }
        pvs_mutex_lock(&v->mu);
        v->frames++;
        v->keyframes += pkt.keyframe;
        v->bytes += pkt.size;
        pvs_stats_add(&v->host, host_ns);
        pvs_stats_add(&v->encode, encode_ns);
        pvs_mutex_unlock(&v->mu);
    }
    if (err)
        PVS_LOG_E("server: the video stream stopped: %s", pvs_strerror(err));
    pvs_sender_close(&tx);
    pvs_feed_close(&feed);
    pvs_encoder_close(&enc);
    pvs_capture_close(&cap);
    pvs_vdisplay_end(v->vd);
    v->err = err;
    return err;
}

static void video_stop(struct video **pv)
{
    struct video *v = *pv;
    if (!v)
        return;
    atomic_store(&v->stop, true);
    pvs_mutex_lock(&v->mu);
    pvs_cond_broadcast(&v->cv);
    pvs_mutex_unlock(&v->mu);
    pvs_thread_join(&v->thread, NULL);
    pvs_server_abr_close(&v->abr);
    pvs_cond_destroy(&v->cv);
    pvs_mutex_destroy(&v->mu);
    sodium_memzero(v->key, sizeof(v->key));
    free(v);
    *pv = NULL;
}

/* A session's video, before its thread starts (video_run). */
static struct video *video_new(const struct pvs_server_settings *cfg,
                               const struct pvs_display_mode *want, struct pvs_vdisplay *vd)
{
    struct video *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    v->cfg = cfg;
    v->want = *want;
    v->vd = vd;
    pvs_stats_reset(&v->host);
    pvs_stats_reset(&v->encode);
    if (pvs_mutex_init(&v->mu) != 0) {
        free(v);
        return NULL;
    }
    if (pvs_cond_init(&v->cv) != 0) {
        pvs_mutex_destroy(&v->mu);
        free(v);
        return NULL;
    }
    return v;
}

/* Starts v's thread; on failure frees v. */
static int video_run(struct video **out, struct video *v)
{
    int err = pvs_thread_create(&v->thread, video_thread, v, "pvs-video");
    if (err) {
        pvs_cond_destroy(&v->cv);
        pvs_mutex_destroy(&v->mu);
        sodium_memzero(v->key, sizeof(v->key));
        free(v);
        return err;
    }
    *out = v;
    return 0;
}

static int video_start(struct video **out, const struct pvs_server_settings *cfg, pvs_socket sock,
                       const struct pvs_control_event *ready, const struct pvs_ctl_stream *audio,
                       const struct pvs_display_mode *want, struct pvs_vdisplay *vd)
{
    struct video *v = video_new(cfg, want, vd);
    if (!v)
        return PVS_ENOMEM;
    v->sock = sock;
    v->to = ready->u.ready.media_addr;
    memcpy(v->key, ready->u.ready.keys.srtp_tx, sizeof(v->key));
    v->audio = *audio;
    do
        randombytes_buf(&v->ssrc, sizeof(v->ssrc));
    while (v->ssrc == audio->audio_ssrc);
    v->datagram = cfg->datagram < ready->u.ready.hello.max_datagram
                      ? cfg->datagram : ready->u.ready.hello.max_datagram;
    v->client_codecs = ready->u.ready.codecs;
    return video_run(out, v);
}

/* ---- the control thread ------------------------------------------------- */

struct server {
    const struct pvs_server_settings *cfg;
    struct pvs_control_server *ctl;
    pvs_socket media;
    struct video *video;
    struct pvs_server_audio *audio;
    struct pvs_injector *inj;
    bool inj_tried;
    struct pvs_vdisplay *vd;         /* Windows: modes and the virtual display; else NULL */
    char client[64];
    struct pvs_ctl_stats client_stats;
    bool have_client_stats;
    int64_t next_report_ns;
    uint64_t reported_frames, reported_bytes;
    uint64_t reported_audio_packets, reported_audio_bytes;
    int64_t reported_ns;
    int64_t next_rate_ns;            /* RATE to the client */
    /* Moonlight (server/gamestream.h): video and audio above belong to
     * launch ml.gen while it is nonzero, with their own settings. */
    struct pvs_server_gs *gs;
    struct moonlight {
        struct pvs_gs_session *sess;
        uint32_t gen;
        bool active;                 /* a launch armed or streaming: natives are refused */
        struct pvs_server_settings cfg;
        struct pvs_gs_session_stats at_start;
    } ml;
};

static void end_moonlight(struct server *s, const char *why);

static void end_session(struct server *s, const char *why)
{
    if (s->ml.gen) {
        end_moonlight(s, why);
        return;
    }
    pvs_server_audio_stop(&s->audio);
    if (s->video) {
        video_stop(&s->video);
        PVS_LOG_I("server: client %s %s; waiting for the next", s->client, why);
    }
    if (s->inj)
        pvs_injector_release_all(s->inj);
    s->have_client_stats = false;
    pvs_server_gs_set_native(s->gs, NULL);
}

/* One input event to the injector (opened the first time). */
static void inject(struct server *s, const struct pvs_input_event *ie)
{
    if (!s->cfg->input)
        return;
    if (!s->inj && !s->inj_tried) {
        s->inj_tried = true;
        const char *display = s->cfg->display[0] ? s->cfg->display : NULL;
        if (pvs_injector_open(&s->inj, display) != 0)
            PVS_LOG_W("server: the client's input is ignored: no way to inject it here "
                      "(the line above says why)");
    }
    if (s->inj)
        pvs_injector_inject(s->inj, ie);
}

static void handle_input(struct server *s, const struct pvs_control_event *ev)
{
    struct pvs_input_event ie;
    if (pvs_input_parse(ev->u.input.msg, ev->u.input.len, &ie) == 0)
        inject(s, &ie);
}

/* Rumble the game asked for on a virtual pad goes back to the client's pad.
 * Polled each time round the control loop (at most 5 ms late). */
static void forward_rumble(struct server *s)
{
    struct pvs_pad_rumble r;
    while (s->inj && pvs_injector_poll_rumble(s->inj, &r) > 0) {
        if (s->ml.gen) { /* Moonlight's pads take speeds only, until the next */
            pvs_gs_session_rumble(s->ml.sess, r.pad, r.low_freq, r.high_freq);
            continue;
        }
        struct pvs_ctl_rumble m = { .pad = r.pad, .low_freq = r.low_freq,
                                    .high_freq = r.high_freq, .duration_ms = r.duration_ms };
        if (pvs_control_server_send_rumble(s->ctl, &m) < 0)
            break; /* no client: the pads are put at rest when it goes */
    }
}

static void report(struct server *s, int64_t now)
{
    if (!s->video || !s->cfg->stats_interval || now < s->next_report_ns)
        return;
    struct video *v = s->video;
    pvs_mutex_lock(&v->mu);
    uint64_t frames = v->frames, bytes = v->bytes, unchanged = v->unchanged;
    struct pvs_stats_summary host, enc;
    pvs_stats_summarize(&v->host, &host);
    pvs_stats_summarize(&v->encode, &enc);
    pvs_mutex_unlock(&v->mu);
    struct pvs_server_audio_stats au;
    pvs_server_audio_get_stats(s->audio, &au);
    double secs = (double)(now - s->reported_ns) / 1e9;
    if (s->reported_ns && secs > 0) {
        char audio[96] = "; audio off";
        if (s->audio)
            snprintf(audio, sizeof(audio), "; audio %.0f packets/s, %.0f kbit/s",
                     (double)(au.packets - s->reported_audio_packets) / secs,
                     (double)(au.bytes - s->reported_audio_bytes) * 8 / secs / 1e3);
        char client[160] = "";
        if (s->have_client_stats)
            snprintf(client, sizeof(client), "; client: %u frames, %u dropped, %llu packets lost, "
                     "%llu rebuilt", s->client_stats.frames_complete,
                     s->client_stats.frames_dropped,
                     (unsigned long long)s->client_stats.packets_lost,
                     (unsigned long long)s->client_stats.packets_recovered);
        fprintf(stderr, "streaming to %s: %.1f fps, %.1f Mbit/s, capture->sent p50 %.2f ms p99 "
                "%.2f ms (encode p50 %.2f ms p99 %.2f ms), %llu unchanged frames skipped%s%s\n",
                s->client, (double)(frames - s->reported_frames) / secs,
                (double)(bytes - s->reported_bytes) * 8 / secs / 1e6, host.p50_ms, host.p99_ms,
                enc.p50_ms, enc.p99_ms, (unsigned long long)unchanged, audio, client);
    }
    s->reported_audio_packets = au.packets;
    s->reported_audio_bytes = au.bytes;
    s->reported_frames = frames;
    s->reported_bytes = bytes;
    s->reported_ns = now;
    s->next_report_ns = now + (int64_t)s->cfg->stats_interval * 1000000000LL;
}

/* Opens the session's audio, before the stream is first described, and
 * fills the audio fields of STREAM (left zero: no audio). Without a source
 * the session goes on without sound, said in one line. */
static void start_audio(struct server *s, const struct pvs_control_event *ev,
                        struct pvs_ctl_stream *desc)
{
    const struct pvs_server_settings *cfg = s->cfg;
    if (!cfg->audio)
        return;
    int datagram = cfg->datagram < ev->u.ready.hello.max_datagram ? cfg->datagram
                                                                  : ev->u.ready.hello.max_datagram;
    struct pvs_server_audio_config ac = {
        .source = cfg->audio_source,
        .device = cfg->audio_device,
        .frame_samples = pvs_server_audio_frame_samples(cfg->audio_frame),
        .bitrate = (int)cfg->audio_bitrate,
        .redundancy = cfg->audio_redundancy,
        .sock = s->media,
        .to = ev->u.ready.media_addr,
        .datagram = datagram,
    };
    char why[400] = "";
    int err = pvs_server_audio_start(&s->audio, &ac, ev->u.ready.keys.srtp_tx, why, sizeof(why));
    if (err) {
        PVS_LOG_W("audio off: %s", why[0] ? why : pvs_strerror(err));
        return;
    }
    desc->audio_ssrc = pvs_server_audio_ssrc(s->audio);
    desc->audio_frame = (uint16_t)ac.frame_samples;
    desc->audio_channels = 2;
    desc->audio_redundancy = (uint8_t)ac.redundancy;
    desc->audio_bitrate = (uint32_t)ac.bitrate;
    PVS_LOG_I("server: audio %s ms frames, %d kbit/s, %d earlier frame%s carried again",
              pvs_server_audio_frame_choices[cfg->audio_frame], ac.bitrate / 1000, ac.redundancy,
              ac.redundancy == 1 ? "" : "s");
}

/* The mode this client gets asked for: its HELLO's, with --size and --fps
 * over it. Without a way to set modes (Linux), only the test desktop
 * follows it. */
static struct pvs_display_mode client_mode(const struct server *s, const struct pvs_ctl_hello *h)
{
    const struct pvs_server_settings *cfg = s->cfg;
    struct pvs_display_mode said = { h->display_width, h->display_height, h->display_hz };
    struct pvs_display_mode want = pvs_display_mode_request(
        said.width, said.height, said.hz, cfg->size[0], cfg->size[1], cfg->fps);
    char a[48], b[48];
    if (!pvs_display_mode_is_empty(&said))
        PVS_LOG_I("server: %s shows %s%s; asking for %s%s", s->client,
                  pvs_display_mode_format(&said, a, sizeof(a)),
                  h->display_flags & PVS_CTL_DISPLAY_USER ? " (its --size/--fps)" : "",
                  pvs_display_mode_format(&want, b, sizeof(b)),
                  s->vd ? "" : " (this system cannot set modes: only the test desktop follows it)");
    return want;
}

/* The rate control's state to the client, four times a second (its
 * overlay and --stats-json show it). */
#define RATE_INTERVAL_NS 250000000LL
static void send_rate(struct server *s, int64_t now)
{
    struct pvs_server_abr *a = video_abr(s->video);
    if (!a || now < s->next_rate_ns)
        return;
    struct pvs_ctl_rate r;
    pvs_server_abr_get_rate(a, &r);
    pvs_control_server_send_rate(s->ctl, &r);
    s->next_rate_ns = now + RATE_INTERVAL_NS;
}

static void handle(struct server *s, struct pvs_control_event *ev)
{
    switch (ev->type) {
    case PVS_CONTROL_EV_CLIENT_READY: {
        if (s->ml.gen || s->ml.active) { /* it connected before the launch made us busy */
            PVS_LOG_I("server: a pvstream client is turned away: a Moonlight client is streaming");
            pvs_control_server_disconnect(s->ctl, PVS_CTL_BYE_ERROR);
            pvs_session_keys_wipe(&ev->u.ready.keys);
            return;
        }
        end_session(s, "replaced");
        pvs_addr_format(&ev->u.ready.control_addr, s->client, sizeof(s->client));
        const struct pvs_ctl_hello *h = &ev->u.ready.hello;
        if (s->cfg->datagram > h->max_datagram)
            PVS_LOG_I("server: %s takes datagrams of at most %u bytes", s->client, h->max_datagram);
        struct pvs_ctl_stream audio = { 0 };
        start_audio(s, ev, &audio);
        struct pvs_display_mode want = client_mode(s, h);
        int err = video_start(&s->video, s->cfg, s->media, ev, &audio, &want, s->vd);
        pvs_session_keys_wipe(&ev->u.ready.keys);
        if (err) {
            PVS_LOG_E("server: cannot start streaming: %s", pvs_strerror(err));
            pvs_server_audio_stop(&s->audio);
            pvs_control_server_disconnect(s->ctl, PVS_CTL_BYE_ERROR);
            return;
        }
        s->reported_ns = 0;
        s->reported_frames = s->reported_bytes = 0;
        s->reported_audio_packets = s->reported_audio_bytes = 0;
        s->next_report_ns = 0;
        PVS_LOG_I("server: streaming to %s", s->client);
        pvs_server_gs_set_native(s->gs, s->client);
        return;
    }
    case PVS_CONTROL_EV_KEYFRAME_REQUEST:
        if (s->video && !s->ml.gen)
            atomic_store(&s->video->want_idr, true);
        return;
    case PVS_CONTROL_EV_STATS:
        s->client_stats = ev->u.stats;
        s->have_client_stats = true;
        return;
    case PVS_CONTROL_EV_FEEDBACK:
        pvs_server_abr_feedback(video_abr(s->video), &ev->u.feedback);
        return;
    case PVS_CONTROL_EV_INPUT:
        if (!s->ml.gen)
            handle_input(s, ev);
        return;
    case PVS_CONTROL_EV_CLIENT_GONE:
        if (s->ml.gen)
            return; /* a refused client: the stream is Moonlight's */
        end_session(s, ev->u.gone.why == PVS_CONTROL_WHY_BYE ? "said goodbye"
                                                              : pvs_control_why_name(ev->u.gone.why));
        return;
    default:
        return;
    }
}

/* The video thread's side of the description hand-over, and its failure. */
static void check_video(struct server *s)
{
    struct video *v = s->video;
    if (!v)
        return;
    pvs_mutex_lock(&v->mu);
    if (v->sent != v->made) {
        int err = pvs_control_server_send_stream(s->ctl, &v->desc);
        if (err)
            PVS_LOG_W("server: cannot describe the stream to the client: %s", pvs_strerror(err));
        v->sent = v->made;
        pvs_cond_broadcast(&v->cv);
    }
    pvs_mutex_unlock(&v->mu);
    if (v->err) {
        PVS_LOG_E("server: ending the session with %s", s->client);
        if (s->ml.gen)
            pvs_gs_session_end(s->ml.sess, "the host's video failed", false);
        else
            pvs_control_server_disconnect(s->ctl, PVS_CTL_BYE_ERROR);
        end_session(s, "dropped after an error");
    }
}

/* ---- Moonlight sessions (server/gamestream.h) -------------------------- */

/* The video and audio threads' outputs: the session's packets for launch
 * ml.gen (fixed while the threads run). */
static int ml_video(void *arg, const struct pvs_packet *pkt, int64_t host_ns)
{
    const struct moonlight *m = arg;
    return pvs_gs_session_send_video(m->sess, m->gen, pkt, host_ns);
}

static int ml_audio(void *arg, const uint8_t *opus, size_t len)
{
    const struct moonlight *m = arg;
    return pvs_gs_session_send_audio(m->sess, m->gen, opus, len);
}

/* Moonlight's audio: Opus as the client asked (stereo, 5.1 or 7.1; 5 or
 * 10 ms packets), hard CBR. Without a source the stream goes on silent. */
static void ml_start_audio(struct server *s, const struct pvs_gs_stream_config *c)
{
    const struct pvs_server_settings *cfg = s->cfg;
    if (!cfg->audio)
        return;
    struct pvs_gs_opus_config oc;
    int channels = c->audio_channels == 6 || c->audio_channels == 8 ? c->audio_channels : 2;
    if (pvs_gs_audio_opus_config(channels, c->audio_high_quality, &oc) != 0)
        return;
    struct pvs_server_audio_config ac = {
        .source = cfg->audio_source, .device = cfg->audio_device,
        .frame_samples = PVS_AUDIO_RATE / 1000 * c->audio_packet_ms,
        .bitrate = oc.bitrate, .sock = PVS_INVALID_SOCKET,
        .output = ml_audio, .output_arg = &s->ml,
        .channels = oc.channels, .streams = oc.streams, .coupled = oc.coupled,
    };
    memcpy(ac.mapping, oc.mapping, sizeof(ac.mapping));
    char why[400] = "";
    int err = pvs_server_audio_start(&s->audio, &ac, NULL, why, sizeof(why));
    if (err)
        PVS_LOG_W("audio off: %s", why[0] ? why : pvs_strerror(err));
    else
        PVS_LOG_I("server: Moonlight audio %d channels, %d ms packets, %d kbit/s", oc.channels,
                  c->audio_packet_ms, oc.bitrate / 1000);
}

/* PLAY: the pipeline for what the client's ANNOUNCE asked for. Rate
 * control is off (the client sets the bitrate); its codec, size and rate. */
static void ml_start(struct server *s, const struct pvs_gs_session_event *ev)
{
    const struct pvs_gs_stream_config *c = &ev->config;
    if (s->video) { /* a pvstream client got in first */
        pvs_gs_session_end(s->ml.sess, "a pvstream client is streaming from this host", false);
        return;
    }
    s->ml.cfg = *s->cfg;
    s->ml.cfg.codec = c->codec == PVS_GS_CODEC_HEVC ? PVS_CODEC_HEVC
                    : c->codec == PVS_GS_CODEC_AV1  ? PVS_CODEC_AV1 : PVS_CODEC_H264;
    s->ml.cfg.bitrate = (int64_t)c->bitrate_kbps * 1000;
    s->ml.cfg.abr = 0;
    s->ml.cfg.fps = c->fps;
    s->ml.gen = ev->gen;
    snprintf(s->client, sizeof(s->client), "%s", ev->name);
    pvs_gs_session_get_stats(s->ml.sess, &s->ml.at_start);
    ml_start_audio(s, c);
    struct pvs_display_mode want = { c->width, c->height, c->fps };
    struct video *v = video_new(&s->ml.cfg, &want, s->vd);
    int err = PVS_ENOMEM;
    if (v) {
        v->sink = ml_video;
        v->sink_arg = &s->ml;
        err = video_run(&s->video, v);
    }
    if (err) {
        PVS_LOG_E("server: cannot stream to %s: %s", s->client, pvs_strerror(err));
        pvs_gs_session_end(s->ml.sess, "the host cannot start its video", false);
        return;
    }
    s->reported_ns = 0;
    s->reported_frames = s->reported_bytes = 0;
    s->reported_audio_packets = s->reported_audio_bytes = 0;
    s->next_report_ns = 0;
    pvs_server_gs_set_streaming(s->gs, ev->app_id);
    PVS_LOG_I("server: streaming to the Moonlight client %s", s->client);
}

static void end_moonlight(struct server *s, const char *why)
{
    pvs_server_audio_stop(&s->audio);
    video_stop(&s->video);
    if (s->inj)
        pvs_injector_release_all(s->inj);
    struct pvs_gs_session_stats a = s->ml.at_start, b;
    pvs_gs_session_get_stats(s->ml.sess, &b);
    /* One line a test or a person can read the session from. */
    fprintf(stderr, "gamestream: session with %s ended (%s): %llu video frames (%llu packets, "
            "%.1f MB), %llu audio packets, %llu keyframe requests, %llu input events, %llu "
            "frames unsent, %llu datagrams refused, capture to last datagram max %.1f ms\n",
            s->client, why, (unsigned long long)(b.video_frames - a.video_frames),
            (unsigned long long)(b.video_packets - a.video_packets),
            (double)(b.video_bytes - a.video_bytes) / 1e6,
            (unsigned long long)(b.audio_packets - a.audio_packets),
            (unsigned long long)(b.keyframe_requests - a.keyframe_requests),
            (unsigned long long)(b.input_events - a.input_events),
            (unsigned long long)(b.video_unsent - a.video_unsent),
            (unsigned long long)(b.video_send_failed - a.video_send_failed +
                                 b.audio_send_failed - a.audio_send_failed),
            (double)b.host_latency_max_ns / 1e6);
    s->ml.gen = 0;
    pvs_server_gs_set_streaming(s->gs, 0);
}

static void ml_event(struct server *s, const struct pvs_gs_session_event *ev)
{
    switch (ev->type) {
    case PVS_GS_SESSION_EV_START:
        if (s->ml.gen)
            end_moonlight(s, "replaced by a new launch");
        ml_start(s, ev);
        return;
    case PVS_GS_SESSION_EV_KEYFRAME:
        if (ev->gen == s->ml.gen && s->video)
            atomic_store(&s->video->want_idr, true);
        return;
    case PVS_GS_SESSION_EV_INPUT:
        if (ev->gen == s->ml.gen)
            inject(s, &ev->input);
        return;
    case PVS_GS_SESSION_EV_END:
        if (ev->gen == s->ml.gen)
            end_moonlight(s, ev->why);
        return;
    default:
        return;
    }
}

/* Once round the main loop: the Moonlight session's events, and each
 * protocol kept off while the other streams. */
static void service_moonlight(struct server *s)
{
    if (!s->ml.sess && !(s->ml.sess = pvs_server_gs_session(s->gs)))
        return;
    bool active = pvs_gs_session_active(s->ml.sess);
    if (active != s->ml.active) {
        s->ml.active = active;
        pvs_control_server_set_busy(s->ctl, active ? "a Moonlight client is streaming from this "
                                                     "server" : NULL);
    }
    struct pvs_gs_session_event ev;
    for (int i = 0; i < 256 && pvs_gs_session_next_event(s->ml.sess, &ev); i++)
        ml_event(s, &ev);
}

int pvs_server_run(const struct pvs_server_settings *cfg, const volatile sig_atomic_t *stop)
{
    struct server s = { .cfg = cfg, .media = PVS_INVALID_SOCKET };
    int err = pvs_net_init();
    if (err)
        return err;
    if (sodium_init() < 0) {
        pvs_net_deinit();
        return PVS_EEXTERNAL;
    }

    struct pvs_control_server_config cc;
    pvs_control_server_default_config(&cc);
    if (!cfg->identity || !cfg->is_paired) {
        PVS_LOG_E("server: no identity key or paired-clients lookup");
        err = PVS_EINVAL;
        goto out;
    }
    cc.identity = *cfg->identity;
    cc.is_paired = cfg->is_paired;
    cc.is_paired_ctx = cfg->is_paired_ctx;
    cc.bind_host = cfg->bind[0] ? cfg->bind : NULL;
    cc.port = (uint16_t)cfg->port;
    cc.codecs = cfg->codec == PVS_CODEC_COUNT
                    ? PVS_CTL_CODEC_BIT_H264 | PVS_CTL_CODEC_BIT_HEVC | PVS_CTL_CODEC_BIT_AV1
                    : codec_bit((enum pvs_codec)cfg->codec);
    struct pvs_addr media_addr;
    err = pvs_control_server_open(&s.ctl, &cc);
    pvs_static_keys_wipe(&cc.identity);
    if (!err)
        err = pvs_addr_resolve(&media_addr, cfg->bind[0] ? cfg->bind : "0.0.0.0",
                               (uint16_t)(cfg->port + 1));
    if (!err)
        err = pvs_udp_open(&s.media, &media_addr);
    if (err)
        goto out;
    const struct pvs_display_ops *display = pvs_display_system_ops();
    if (display && pvs_vdisplay_open(&s.vd, display, NULL, (enum pvs_vdisplay_policy)cfg->vdisplay,
                                     cfg->output) != 0)
        PVS_LOG_W("server: display modes stay as they are (out of memory)");
    fprintf(stderr, "pvstream-server: waiting for a client on port %d (control) and %d (media), "
            "capture %s, encoder %s\n", cfg->port, cfg->port + 1, cfg->capture, cfg->encoder);

    if (pvs_server_gs_start(&s.gs, cfg) < 0)
        PVS_LOG_W("server: Moonlight clients are not served (out of memory)");

    int64_t end = cfg->exit_after ? pvs_time_ns() + (int64_t)cfg->exit_after * 1000000000LL : 0;
    while (!*stop && (!end || pvs_time_ns() < end)) {
        struct pvs_control_event ev;
        /* Moonlight's input waits in its session's queue for this loop:
         * round it more often while one streams. */
        int r = pvs_control_server_service(s.ctl, s.ml.gen ? 1 : 5, &ev);
        if (r < 0) {
            err = r;
            break;
        }
        if (r == 1)
            handle(&s, &ev);
        service_moonlight(&s);
        forward_rumble(&s);
        check_video(&s);
        if (!s.video) /* between sessions: a kept virtual monitor stays alive */
            pvs_vdisplay_tick(s.vd);
        send_rate(&s, pvs_time_ns());
        report(&s, pvs_time_ns());
    }
    end_session(&s, "disconnected: the server is stopping");
    pvs_server_gs_stop(&s.gs);
out:
    pvs_control_server_close(&s.ctl);
    pvs_vdisplay_close(&s.vd);
    pvs_injector_close(&s.inj);
    pvs_socket_close(&s.media);
    pvs_net_deinit();
    return err;
}
