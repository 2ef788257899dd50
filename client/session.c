/* The client's session: control events in, a receive/decode thread per
 * configured stream, a one-picture mailbox out (see session.h). */
#include "client/session.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/audio.h"
#include "client/decoder.h"
#include "common/error.h"
#include "common/log.h"
#include "common/stamp.h"
#include "common/platform/platform.h"
#include "net/control.h"
#include "net/feedback.h"
#include "net/receiver.h"

#define KEYFRAME_MIN_INTERVAL_US 100000
#define STATS_INTERVAL_US 1000000
/* FEEDBACK this often: the server's rate control reacts within a couple of
 * frame intervals of a change (docs/abr.md). Every 10 ms was tried: each
 * frame is then judged alone rather than with its batch, and 40 ms of
 * jitter held the rate at 55 % of what it keeps with 25 ms (the jitter
 * case of tests/unit/test_rate_ctl.c). */
#define FEEDBACK_INTERVAL_US 25000
/* Between them, the frame still arriving alone, at most this often, once
 * it has been arriving for a frame interval (a frame held at a bottleneck
 * that just shrank): the server cuts its rate up to 25 ms sooner, before
 * the bottleneck's queue overflows (docs/abr.md). */
#define LATE_PROGRESS_GAP_US 5000
#define SNAPSHOT_INTERVAL_US 100000
#define AUDIO_COLLECT_US 100000
#define META_RING 32

/* The counters of closed receivers and the open one, for STATS and the
 * loss figures. */
struct rx_counts {
    uint64_t datagrams, recovered, lost_packets;
    uint64_t complete, dropped;
};

struct pvs_session {
    struct pvs_session_config cfg;
    char host[256];
    char decoder_name[64];
    char losssim[256];
    char server_name[280];

    struct pvs_control_client *ctl;
    pvs_socket sock;
    FILE *record;
    bool record_failed;

    /* the stream, owned by the main thread while no receive thread runs */
    uint8_t srtp_key[PVS_SRTP_KEY_BYTES];
    bool keyed;
    struct pvs_ctl_stream stream;
    bool have_stream;
    enum pvs_codec codec;
    struct pvs_receiver *rx;
    struct pvs_decoder *dec;
    struct pvs_thread *thread;
    atomic_bool stop;

    /* audio, main thread (the receive thread calls into `audio` through the
     * receiver's hook while it runs) */
    struct pvs_client_audio *audio;
    struct pvs_ctl_stream audio_params; /* the STREAM audio was last set up for */
    bool audio_tried;
    uint32_t audio_epoch;            /* +1 per audio opened or closed */
    uint32_t rx_audio_epoch;         /* the audio the receiver's hook feeds */
    int64_t last_audio_collect_us;
    uint64_t av_seen;                /* the stats' av_seconds last acted on */

    /* receive thread -> main thread */
    atomic_int want_keyframe;        /* 0, or enum pvs_ctl_keyframe_reason */
    atomic_uint last_frame;
    /* main thread -> receive thread */
    atomic_bool have_offset;
    atomic_llong offset_us;

    /* receive thread only */
    struct {
        uint32_t frame;
        uint32_t host_us;
        uint64_t capture_us;
        int64_t complete_us;
        size_t bytes;
    } meta[META_RING];
    int64_t last_snapshot_us;
    int64_t last_decode_log_us;

    /* under stats_lock */
    pvs_mutex stats_lock;
    struct pvs_client_stats *stats;
    struct pvs_stats decode_1s;      /* for STATS' decode median */
    struct rx_counts closed;         /* receivers closed so far */
    struct rx_counts open_rx;        /* the open one, last snapshot */
    uint32_t jitter_us;
    struct pvs_feedback_queue feedback; /* arrivals for the next FEEDBACK */

    /* the mailbox */
    pvs_mutex box_lock;
    struct pvs_picture pics[3];
    int back, mid, front;
    bool fresh;

    /* main thread */
    struct pvs_pad_rumble rumble[PVS_INPUT_MAX_PADS]; /* newest per pad wins */
    uint8_t rumble_due;              /* bit per pad with a rumble not yet taken */
    struct pvs_session_status status;
    char last_refusal[sizeof(((struct pvs_session_status *)0)->message)];
    struct rx_counts session_base;   /* counts when this session was keyed */
    int64_t since_us;                /* connecting since */
    int64_t last_keyframe_us;
    int64_t last_stats_us;
    int64_t last_feedback_us;
    int64_t last_progress_us;        /* the last FEEDBACK of the progress alone */
};

static struct rx_counts counts_of(const struct pvs_receiver_stats *st)
{
    return (struct rx_counts){
        .datagrams = st->datagrams,
        .recovered = st->frames.recovered,
        .lost_packets = st->frames.lost,
        .complete = st->frames.frames_complete,
        .dropped = (uint64_t)st->frames.frames_dropped + st->frames.frames_skipped,
    };
}

static struct rx_counts counts_add(struct rx_counts a, struct rx_counts b)
{
    a.datagrams += b.datagrams;
    a.recovered += b.recovered;
    a.lost_packets += b.lost_packets;
    a.complete += b.complete;
    a.dropped += b.dropped;
    return a;
}

static uint64_t sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* Copies the receiver's counters to the shared statistics (stats_lock
 * held by the caller). */
static void publish_counts(struct pvs_session *s, const struct pvs_receiver_stats *st)
{
    s->open_rx = counts_of(st);
    s->jitter_us = st->frames.jitter_us;
    struct rx_counts all = counts_add(s->closed, s->open_rx);
    s->stats->frames_lost = all.dropped;
    s->stats->packets = all.datagrams;
    s->stats->packets_recovered = all.recovered;
}

static void snapshot(struct pvs_session *s)
{
    struct pvs_receiver_stats st;
    pvs_receiver_get_stats(s->rx, &st);
    pvs_mutex_lock(&s->stats_lock);
    publish_counts(s, &st);
    pvs_mutex_unlock(&s->stats_lock);
}

static void ask_keyframe(struct pvs_session *s, int reason)
{
    int none = 0;
    atomic_compare_exchange_strong(&s->want_keyframe, &none, reason);
}

/* A picture that will never reach the window: its trace line now. */
static void unshown(struct pvs_session *s, const struct pvs_client_row *row)
{
    pvs_mutex_lock(&s->stats_lock);
    pvs_client_stats_unshown(s->stats, row);
    pvs_mutex_unlock(&s->stats_lock);
}

/* Copies a decoded picture into the back buffer and posts it. */
static void post_picture(struct pvs_session *s, const struct pvs_decoded *d, int64_t decoded_us,
                         const struct pvs_client_row *row)
{
    struct pvs_picture *p = &s->pics[s->back];
    const struct pvs_image *in = &d->img;
    uint64_t need = pvs_image_packed_size(in->fmt, in->width, in->height);
    if (!need) {
        unshown(s, row);
        return;
    }
    if (need > p->cap_) {
        uint8_t *mem = realloc(p->mem_, need);
        if (!mem) {
            PVS_LOG_E("out of memory for a %dx%d picture", in->width, in->height);
            unshown(s, row);
            return;
        }
        p->mem_ = mem;
        p->cap_ = need;
    }
    if (pvs_image_wrap_packed(&p->img, in->fmt, in->width, in->height, p->mem_) < 0) {
        unshown(s, row);
        return;
    }
    int planes = in->fmt == PVS_PIX_NV12 ? 2 : 3;
    for (int i = 0; i < planes; i++) {
        int rows = i == 0 ? in->height : (in->height + 1) / 2;
        size_t row_bytes = (size_t)(p->img.stride[i] < in->stride[i] ? p->img.stride[i]
                                                                     : in->stride[i]);
        for (int y = 0; y < rows; y++)
            memcpy(p->img.data[i] + (size_t)y * (size_t)p->img.stride[i],
                   in->data[i] + (size_t)y * (size_t)in->stride[i], row_bytes);
    }
    p->frame = d->frame;
    p->decoded_us = decoded_us;
    p->generation = s->stream.generation;
    p->row = *row;

    pvs_mutex_lock(&s->box_lock);
    int t = s->mid;
    s->mid = s->back;
    s->back = t;
    bool replaced = s->fresh;
    s->fresh = true;
    pvs_mutex_unlock(&s->box_lock);
    if (replaced) {
        /* The picture replaced unseen is in the back buffer now. */
        pvs_mutex_lock(&s->stats_lock);
        s->stats->replaced++;
        pvs_client_stats_unshown(s->stats, &s->pics[s->back].row);
        pvs_mutex_unlock(&s->stats_lock);
    }
}

static void handle_frame(struct pvs_session *s, const struct pvs_rframe *f)
{
    atomic_store(&s->last_frame, f->frame);
    if (s->record && !s->record_failed && fwrite(f->data, 1, f->size, s->record) != f->size) {
        PVS_LOG_E("writing the recording failed (%s): recording stopped", strerror(errno));
        s->record_failed = true;
    }
    int slot = (int)(f->frame % META_RING);
    s->meta[slot].frame = f->frame;
    s->meta[slot].host_us = f->host_us;
    s->meta[slot].capture_us = f->capture_us;
    s->meta[slot].complete_us = f->complete_us;
    s->meta[slot].bytes = f->size;

    struct pvs_packet pkt = {
        .data = f->data,
        .size = f->size,
        .keyframe = f->keyframe,
        .frame = f->frame,
        .capture_ns = f->capture_us <= (uint64_t)INT64_MAX / 1000 ? (int64_t)f->capture_us * 1000 : 0,
    };
    struct pvs_decoded d;
    int64_t t0 = pvs_time_us();
    int rc = pvs_decoder_decode(s->dec, &pkt, &d);
    int64_t t1 = pvs_time_us();
    if (rc == PVS_EAGAIN)
        return;
    if (rc < 0) {
        pvs_mutex_lock(&s->stats_lock);
        s->stats->decode_errors++;
        pvs_mutex_unlock(&s->stats_lock);
        if (t1 - s->last_decode_log_us > 1000000) {
            PVS_LOG_W("frame %u did not decode (%s): asking for a keyframe", f->frame,
                      pvs_strerror(rc));
            s->last_decode_log_us = t1;
        }
        ask_keyframe(s, PVS_CTL_KEYFRAME_DECODER);
        return;
    }
    /* The decoder runs with low delay, so its picture is this packet's;
     * the ring finds the right one should it ever lag. */
    int ds = (int)(d.frame % META_RING);
    bool match = s->meta[ds].frame == (uint32_t)d.frame;
    /* Frames that carry a stamp (a painted test desktop) are measured from
     * when they were painted; reading one costs about 6 us. */
    struct pvs_stamp stamp = { 0 };
    struct pvs_client_frame cf = {
        .capture_us = match ? s->meta[ds].capture_us : f->capture_us,
        .host_us = match ? s->meta[ds].host_us : f->host_us,
        .complete_us = match ? s->meta[ds].complete_us : f->complete_us,
        .decoded_us = t1,
        .decode_us = t1 - t0,
        .have_stamp = pvs_stamp_read(&d.img, &stamp) == 0,
        .stamp_us = stamp.time_us,
        .have_offset = atomic_load(&s->have_offset),
        .offset_us = atomic_load(&s->offset_us),
        .bytes = f->size,
    };
    struct pvs_client_row row;
    pvs_mutex_lock(&s->stats_lock);
    pvs_client_stats_frame(s->stats, &cf, &row);
    pvs_stats_add(&s->decode_1s, (t1 - t0) * 1000);
    pvs_mutex_unlock(&s->stats_lock);
    if (s->cfg.want_pictures)
        post_picture(s, &d, t1, &row);
}

/* The reassembly's arrival records, queued for the next FEEDBACK. */
static void collect_arrivals(struct pvs_session *s)
{
    struct pvs_frame_arrival arr[16];
    int n;
    while ((n = pvs_receiver_take_arrivals(s->rx, arr, 16)) > 0) {
        struct pvs_receiver_stats st;
        pvs_receiver_get_stats(s->rx, &st);
        pvs_mutex_lock(&s->stats_lock);
        pvs_feedback_add(&s->feedback, arr, n, st.frames.packets, st.frames.seq_gaps);
        pvs_mutex_unlock(&s->stats_lock);
    }
    /* The frame still arriving goes with the next FEEDBACK: a frame held
     * at a bottleneck that just shrank shows it before it settles. */
    struct pvs_frame_arrival prog;
    bool have = pvs_receiver_progress(s->rx, &prog);
    pvs_mutex_lock(&s->stats_lock);
    pvs_feedback_set_progress(&s->feedback, have ? &prog : NULL, pvs_time_us());
    pvs_mutex_unlock(&s->stats_lock);
}

static int receive_thread(void *arg)
{
    struct pvs_session *s = arg;
    int64_t last_err_log = 0;
    pvs_thread_boost("Games"); /* MMCSS on Windows; best effort */
    while (!atomic_load(&s->stop)) {
        struct pvs_rframe f;
        int rc = pvs_receiver_next(s->rx, 3, &f); /* progress for FEEDBACK stays fresh */
        int64_t now = pvs_time_us();
        if (pvs_receiver_want_keyframe(s->rx))
            ask_keyframe(s, PVS_CTL_KEYFRAME_LOST);
        collect_arrivals(s);
        if (now - s->last_snapshot_us >= SNAPSHOT_INTERVAL_US) {
            snapshot(s);
            s->last_snapshot_us = now;
        }
        if (rc < 0) {
            if (now - last_err_log > 1000000) {
                PVS_LOG_E("receiving media failed: %s", pvs_strerror(rc));
                last_err_log = now;
            }
            pvs_sleep_ns(10 * 1000000ll);
            continue;
        }
        if (rc == 1)
            handle_frame(s, &f);
    }
    snapshot(s);
    return 0;
}

/* ---- stream set-up (main thread) ------------------------------------------ */

static void stop_thread(struct pvs_session *s)
{
    if (!s->thread)
        return;
    atomic_store(&s->stop, true);
    pvs_thread_join(&s->thread, NULL);
    atomic_store(&s->stop, false);
}

static void close_receiver(struct pvs_session *s)
{
    if (!s->rx)
        return;
    struct pvs_receiver_stats st;
    pvs_receiver_get_stats(s->rx, &st);
    pvs_mutex_lock(&s->stats_lock);
    publish_counts(s, &st);
    s->closed = counts_add(s->closed, s->open_rx);
    memset(&s->open_rx, 0, sizeof(s->open_rx));
    pvs_mutex_unlock(&s->stats_lock);
    pvs_receiver_close(&s->rx);
}

/* ---- audio (main thread) --------------------------------------------------- */

static bool same_audio(const struct pvs_ctl_stream *a, const struct pvs_ctl_stream *b)
{
    return a->audio_ssrc == b->audio_ssrc && a->audio_frame == b->audio_frame &&
           a->audio_channels == b->audio_channels &&
           a->audio_redundancy == b->audio_redundancy && a->audio_bitrate == b->audio_bitrate;
}

static void collect_audio(struct pvs_session *s)
{
    if (!s->audio)
        return;
    pvs_mutex_lock(&s->stats_lock);
    pvs_client_audio_collect(s->audio, s->stats);
    pvs_mutex_unlock(&s->stats_lock);
}

/* The receive thread must not be running (it may be feeding the audio). */
static void close_audio(struct pvs_session *s)
{
    if (!s->audio)
        return;
    collect_audio(s);
    pvs_mutex_lock(&s->stats_lock);
    s->stats->audio_on = false;
    pvs_mutex_unlock(&s->stats_lock);
    pvs_client_audio_close(&s->audio);
    s->audio_epoch++;
}

/* Opens the sound the STREAM describes, if any; without it the session
 * goes on with video alone (said in one line). */
static void open_audio(struct pvs_session *s, const struct pvs_ctl_stream *st)
{
    if (!st->audio_ssrc || s->cfg.no_audio)
        return; /* said once: at open (--no-audio), or by the server */
    if (st->audio_channels != 2) {
        PVS_LOG_W("audio off: the server sends %u channels; this client plays 2",
                  (unsigned)st->audio_channels);
        return;
    }
    char why[256] = "";
    int rc = pvs_client_audio_open(&s->audio, st->audio_frame, why, sizeof(why));
    if (rc < 0) {
        PVS_LOG_W("audio off: %s", why[0] ? why : pvs_strerror(rc));
        return;
    }
    s->audio_epoch++;
    if (atomic_load(&s->have_offset))
        pvs_client_audio_set_offset(s->audio, atomic_load(&s->offset_us));
    pvs_mutex_lock(&s->stats_lock);
    s->stats->audio_on = true;
    pvs_mutex_unlock(&s->stats_lock);
    s->last_audio_collect_us = pvs_time_us();
    PVS_LOG_I("audio: Opus %.1f ms frames at %u kbit/s, %u earlier frame%s carried again",
              st->audio_frame * 1000.0 / 48000, st->audio_bitrate / 1000,
              (unsigned)st->audio_redundancy, st->audio_redundancy == 1 ? "" : "s");
}

static void stop_stream(struct pvs_session *s)
{
    stop_thread(s);
    close_receiver(s);
    close_audio(s);
    s->audio_tried = false;
    pvs_decoder_close(&s->dec);
    s->have_stream = false;
}

static struct rx_counts all_counts(struct pvs_session *s)
{
    pvs_mutex_lock(&s->stats_lock);
    struct rx_counts all = counts_add(s->closed, s->open_rx);
    pvs_mutex_unlock(&s->stats_lock);
    return all;
}

static void set_message(struct pvs_session *s, const char *fmt, ...) PVS_PRINTF(2, 3);
static void set_message(struct pvs_session *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status.message, sizeof(s->status.message), fmt, ap);
    va_end(ap);
}

static void configure(struct pvs_session *s, const struct pvs_ctl_stream *st)
{
    enum pvs_codec codec;
    switch (st->codec) {
    case PVS_CTL_CODEC_H264: codec = PVS_CODEC_H264; break;
    case PVS_CTL_CODEC_HEVC: codec = PVS_CODEC_HEVC; break;
    case PVS_CTL_CODEC_AV1: codec = PVS_CODEC_AV1; break;
    default:
        PVS_LOG_E("the server described a stream with codec %u, which this client does not know",
                  (unsigned)st->codec);
        return;
    }
    if (s->have_stream && st->generation == s->stream.generation)
        return;
    stop_thread(s);

    /* Audio first: a new audio (or none) needs a new receiver, whose hook
     * feeds it. */
    if (!s->audio_tried || !same_audio(&s->audio_params, st)) {
        close_audio(s);
        s->audio_params = *st;
        s->audio_tried = true;
        open_audio(s, st);
    }

    bool new_decoder = !s->dec || codec != s->codec || st->width != s->stream.width ||
                       st->height != s->stream.height;
    if (new_decoder) {
        pvs_decoder_close(&s->dec);
        struct pvs_decoder_opts o = {.codec = codec, .hw = s->decoder_name, .threads = 0};
        int rc = pvs_decoder_open(&s->dec, &o);
        if (rc < 0) {
            PVS_LOG_E("cannot open a %s decoder (%s): try --decoder software, or a build of "
                      "libavcodec with %s", pvs_codec_name(codec), pvs_strerror(rc),
                      pvs_codec_name(codec));
            snprintf(s->status.message, sizeof(s->status.message), "cannot decode %s: %s",
                     pvs_codec_name(codec), pvs_strerror(rc));
            close_receiver(s);
            s->have_stream = false;
            return;
        }
        snprintf(s->status.decoder, sizeof(s->status.decoder), "%s", pvs_decoder_describe(s->dec));
        PVS_LOG_I("decoding with %s", s->status.decoder);
    }
    bool new_receiver = !s->rx || st->ssrc != s->stream.ssrc || st->fps != s->stream.fps ||
                        st->datagram_size != s->stream.datagram_size ||
                        s->rx_audio_epoch != s->audio_epoch;
    if (new_receiver) {
        close_receiver(s);
        struct pvs_receiver_config rc_cfg = {
            .reassembly = {.fps = st->fps, .max_frame = 0, .ssrc = st->ssrc},
            .datagram_size = st->datagram_size,
            .rcvbuf = 0,
            .losssim = s->losssim[0] ? s->losssim : NULL,
        };
        int rc = pvs_receiver_open(&s->rx, s->sock, s->srtp_key, st->ssrc, &rc_cfg);
        if (rc < 0) {
            PVS_LOG_E("cannot set up media reception: %s", pvs_strerror(rc));
            snprintf(s->status.message, sizeof(s->status.message), "cannot receive media: %s",
                     pvs_strerror(rc));
            pvs_decoder_close(&s->dec);
            s->have_stream = false;
            return;
        }
        if (s->audio) {
            rc = pvs_receiver_set_audio(s->rx, s->srtp_key, st->audio_ssrc,
                                        pvs_client_audio_packet, s->audio);
            if (rc < 0) {
                PVS_LOG_W("audio off: cannot receive it (%s)", pvs_strerror(rc));
                close_audio(s);
            }
        }
        s->rx_audio_epoch = s->audio_epoch;
    }
    s->codec = codec;
    s->stream = *st;
    s->have_stream = true;
    s->status.generation = st->generation;
    s->status.width = st->width;
    s->status.height = st->height;
    s->status.codec = pvs_codec_name(codec);
    s->status.state = PVS_SESSION_STREAMING;
    s->status.message[0] = '\0';
    s->last_snapshot_us = 0;
    int rc = pvs_thread_create(&s->thread, receive_thread, s, "pvs-receive");
    if (rc < 0) {
        PVS_LOG_E("cannot start the receive thread: %s", pvs_strerror(rc));
        stop_stream(s);
        return;
    }
    PVS_LOG_I("stream %u: %s %ux%u at %u fps, %.1f Mbit/s, FEC %u %%", st->generation,
              pvs_codec_name(codec), st->width, st->height, st->fps, st->bitrate / 1e6,
              st->fec_percent);
}

static const char *why_text(const struct pvs_control_event *ev)
{
    switch (ev->u.gone.why) {
    case PVS_CONTROL_WHY_BYE:
        return ev->u.gone.bye_reason == PVS_CTL_BYE_SHUTDOWN ? "the server shut down"
               : ev->u.gone.bye_reason == PVS_CTL_BYE_ERROR  ? "the server stopped on an error"
                                                             : "the server ended the session";
    case PVS_CONTROL_WHY_TIMEOUT: return "the server stopped answering";
    case PVS_CONTROL_WHY_DISCONNECT: return "the server disconnected";
    case PVS_CONTROL_WHY_PROTOCOL: return "the server broke the protocol";
    default: return "the session ended";
    }
}

_Static_assert(PVS_CTL_RUMBLE_PADS == PVS_INPUT_MAX_PADS, "RUMBLE names the GAMEPAD pads");

/* Keeps the newest rumble of each pad for the main loop to play. */
static void set_rumble(struct pvs_session *s, uint8_t pad, uint16_t low, uint16_t high,
                       uint16_t duration_ms)
{
    if (pad >= PVS_INPUT_MAX_PADS)
        return;
    s->rumble[pad] = (struct pvs_pad_rumble){pad, low, high, duration_ms};
    s->rumble_due |= (uint8_t)(1u << pad);
}

/* The session is over: no pad should go on shaking for a server that is
 * gone. Only pads that were told to rumble are stopped. */
static void stop_rumble(struct pvs_session *s)
{
    for (uint8_t i = 0; i < PVS_INPUT_MAX_PADS; i++)
        if (s->rumble[i].low_freq || s->rumble[i].high_freq)
            set_rumble(s, i, 0, 0, 0);
}

static void take_rate(struct pvs_session *s, const struct pvs_ctl_rate *r)
{
    struct pvs_client_abr a = {
        .estimate_bps = r->estimate_bps, .bitrate_bps = r->bitrate_bps, .pace_bps = r->pace_bps,
        .queue_delay_ms = r->queue_delay_us == PVS_CTL_RATE_NO_QUEUE ? NAN
                                                                     : r->queue_delay_us / 1e3,
        .fec_percent = r->fec_percent, .changes = r->changes,
    };
    pvs_mutex_lock(&s->stats_lock);
    pvs_client_stats_abr(s->stats, &a);
    pvs_mutex_unlock(&s->stats_lock);
}

static void handle_event(struct pvs_session *s, struct pvs_control_event *ev, int64_t now)
{
    switch (ev->type) {
    case PVS_CONTROL_EV_CONNECTED:
        memcpy(s->srtp_key, ev->u.connected.keys.srtp_rx, sizeof(s->srtp_key));
        pvs_session_keys_wipe(&ev->u.connected.keys);
        s->keyed = true;
        s->status.state = PVS_SESSION_WAITING;
        s->status.message[0] = '\0';
        s->status.unreachable = false;
        s->status.ever_connected = true;
        s->status.sessions++;
        s->last_refusal[0] = '\0';
        s->session_base = all_counts(s);
        pvs_mutex_lock(&s->stats_lock);
        pvs_stats_reset(&s->decode_1s);
        pvs_mutex_unlock(&s->stats_lock);
        s->last_stats_us = now;
        break;
    case PVS_CONTROL_EV_STREAM:
        if (s->keyed)
            configure(s, &ev->u.stream);
        break;
    case PVS_CONTROL_EV_RATE:
        take_rate(s, &ev->u.rate);
        break;
    case PVS_CONTROL_EV_RUMBLE: {
        const struct pvs_ctl_rumble *r = &ev->u.rumble;
        set_rumble(s, r->pad, r->low_freq, r->high_freq, r->duration_ms);
        break;
    }
    case PVS_CONTROL_EV_REFUSED: {
        const struct pvs_ctl_refuse *r = &ev->u.refused.refuse;
        switch (r->reason) {
        case PVS_CTL_REFUSE_BUSY:
            set_message(s, "%s is busy: %s; trying again every second", s->server_name, r->text);
            break;
        case PVS_CTL_REFUSE_VERSION:
            set_message(s, "%s speaks another protocol version (%s): update pvstream on one side", s->server_name, r->text);
            break;
        case PVS_CTL_REFUSE_CODEC:
            set_message(s, "%s has no codec this client decodes (%s)", s->server_name, r->text);
            break;
        case PVS_CTL_REFUSE_SHUTDOWN:
            set_message(s, "%s is shutting down (%s); trying again", s->server_name, r->text);
            break;
        default:
            set_message(s, "%s refused the connection: %s", s->server_name, r->text);
            break;
        }
        if (!ev->u.refused.will_retry) {
            s->status.state = PVS_SESSION_FAILED;
            PVS_LOG_E("%s", s->status.message);
        } else if (strcmp(s->status.message, s->last_refusal) != 0) {
            PVS_LOG_W("%s", s->status.message); /* once, not at every retry */
            snprintf(s->last_refusal, sizeof(s->last_refusal), "%s", s->status.message);
        }
        s->since_us = now;
        break;
    }
    case PVS_CONTROL_EV_DISCONNECTED:
        stop_stream(s);
        stop_rumble(s);
        s->keyed = false;
        memset(s->srtp_key, 0, sizeof(s->srtp_key));
        atomic_store(&s->have_offset, false);
        s->status.state = PVS_SESSION_RECONNECTING;
        set_message(s, "%s: %s; reconnecting...", s->server_name, why_text(ev));
        PVS_LOG_W("%s", s->status.message);
        s->since_us = now;
        break;
    default:
        break;
    }
}

static void send_stats(struct pvs_session *s)
{
    struct rx_counts all = all_counts(s);
    struct pvs_ctl_stats st = {
        .packets_received = sub(all.datagrams, s->session_base.datagrams),
        .packets_recovered = sub(all.recovered, s->session_base.recovered),
        .packets_lost = sub(all.lost_packets, s->session_base.lost_packets),
        .frames_complete = (uint32_t)sub(all.complete, s->session_base.complete),
        .frames_dropped = (uint32_t)sub(all.dropped, s->session_base.dropped),
    };
    pvs_mutex_lock(&s->stats_lock);
    st.jitter_us = s->jitter_us;
    st.decode_us = s->decode_1s.count ? (uint32_t)(pvs_stats_quantile(&s->decode_1s, 0.5) / 1000) : 0;
    pvs_stats_reset(&s->decode_1s);
    pvs_mutex_unlock(&s->stats_lock);
    int rc = pvs_control_client_send_stats(s->ctl, &st);
    if (rc < 0 && rc != PVS_ENOENT)
        PVS_LOG_D("sending STATS: %s", pvs_strerror(rc));
}

/* Everything queued since the last FEEDBACK, in as many messages as it
 * takes (usually one). */
static void send_feedback(struct pvs_session *s)
{
    for (;;) {
        struct pvs_ctl_feedback fb;
        pvs_mutex_lock(&s->stats_lock);
        bool have = pvs_feedback_take(&s->feedback, &fb);
        pvs_mutex_unlock(&s->stats_lock);
        if (!have)
            return;
        int rc = pvs_control_client_send_feedback(s->ctl, &fb);
        if (rc < 0) {
            if (rc != PVS_ENOENT)
                PVS_LOG_D("sending FEEDBACK: %s", pvs_strerror(rc));
            return;
        }
    }
}

static void send_late_progress(struct pvs_session *s, int64_t now)
{
    int64_t interval = s->stream.fps > 0 ? 1000000 / s->stream.fps : 16667;
    struct pvs_ctl_feedback fb;
    pvs_mutex_lock(&s->stats_lock);
    bool have = pvs_feedback_take_late_progress(&s->feedback, now, interval, &fb);
    pvs_mutex_unlock(&s->stats_lock);
    if (!have)
        return;
    s->last_progress_us = now;
    int rc = pvs_control_client_send_feedback(s->ctl, &fb);
    if (rc < 0 && rc != PVS_ENOENT)
        PVS_LOG_D("sending FEEDBACK: %s", pvs_strerror(rc));
}

int pvs_session_service(struct pvs_session *s, int timeout_ms)
{
    struct pvs_control_event ev;
    int rc = pvs_control_client_service(s->ctl, timeout_ms, &ev);
    for (int i = 0; rc == 1 && i < 32; i++) {
        handle_event(s, &ev, pvs_time_us());
        rc = pvs_control_client_service(s->ctl, 0, &ev);
    }
    if (rc == 1)
        handle_event(s, &ev, pvs_time_us());
    if (rc < 0) {
        PVS_LOG_E("the control channel failed: %s", pvs_strerror(rc));
        return rc;
    }
    int64_t now = pvs_time_us();

    struct pvs_control_clock clk;
    if (s->keyed && pvs_control_client_get_clock(s->ctl, &clk) == 0 && clk.samples > 0) {
        atomic_store(&s->offset_us, clk.offset_us);
        atomic_store(&s->have_offset, true);
        if (s->audio)
            pvs_client_audio_set_offset(s->audio, clk.offset_us);
    }
    if (s->audio && now - s->last_audio_collect_us >= AUDIO_COLLECT_US) {
        collect_audio(s);
        s->last_audio_collect_us = now;
    }
    /* A/V sync: once per second that measured an offset (the statistics'
     * roll takes it). */
    pvs_mutex_lock(&s->stats_lock);
    bool av_new = s->stats->av_seconds != s->av_seen;
    double av_audio = s->stats->av_audio_ms, av_video = s->stats->av_video_ms;
    s->av_seen = s->stats->av_seconds;
    pvs_mutex_unlock(&s->stats_lock);
    if (av_new && s->audio && s->have_stream && s->stream.fps > 0)
        pvs_client_audio_sync(s->audio, av_audio, av_video, 1000.0 / s->stream.fps);

    if (s->keyed && s->have_stream) {
        int reason = atomic_exchange(&s->want_keyframe, 0);
        if (reason && now - s->last_keyframe_us < KEYFRAME_MIN_INTERVAL_US) {
            ask_keyframe(s, reason); /* later */
        } else if (reason) {
            rc = pvs_control_client_send_keyframe_request(s->ctl, atomic_load(&s->last_frame),
                                                          (uint8_t)reason);
            if (rc == 0) {
                s->last_keyframe_us = now;
                pvs_mutex_lock(&s->stats_lock);
                s->stats->keyframe_requests++;
                pvs_mutex_unlock(&s->stats_lock);
            }
        }
        if (now - s->last_stats_us >= STATS_INTERVAL_US) {
            send_stats(s);
            s->last_stats_us = now;
        }
        if (now - s->last_feedback_us >= FEEDBACK_INTERVAL_US) {
            send_feedback(s);
            s->last_feedback_us = now;
        } else if (now - s->last_progress_us >= LATE_PROGRESS_GAP_US) {
            send_late_progress(s, now);
        }
    }

    if (!s->keyed && s->status.state != PVS_SESSION_FAILED && !s->status.unreachable &&
        now - s->since_us >= (int64_t)s->cfg.connect_timeout_ms * 1000) {
        s->status.unreachable = true;
        snprintf(s->status.message, sizeof(s->status.message),
                 "no answer from %s within %d s: is pvstream-server running there, and is UDP "
                 "port %u open?", s->server_name, (s->cfg.connect_timeout_ms + 999) / 1000,
                 (unsigned)s->cfg.port);
        PVS_LOG_E("%s", s->status.message);
    }
    return 0;
}

/* ---- the rest of the API --------------------------------------------------- */

int pvs_session_open(struct pvs_session **out, const struct pvs_session_config *cfg)
{
    if (!out || !cfg || !cfg->host || !cfg->host[0] || cfg->connect_timeout_ms <= 0)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_session *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->cfg = *cfg;
    snprintf(s->host, sizeof(s->host), "%s", cfg->host);
    snprintf(s->decoder_name, sizeof(s->decoder_name), "%s", cfg->decoder ? cfg->decoder : "auto");
    snprintf(s->losssim, sizeof(s->losssim), "%s", cfg->losssim ? cfg->losssim : "");
    snprintf(s->server_name, sizeof(s->server_name), "%s:%u", s->host, (unsigned)cfg->port);
    s->cfg.host = s->host;
    s->cfg.decoder = s->decoder_name;
    s->cfg.losssim = s->losssim;
    s->cfg.record = NULL;
    s->sock = PVS_INVALID_SOCKET;
    s->back = 0;
    s->mid = 1;
    s->front = 2;
    s->status.codec = "";
    s->since_us = pvs_time_us();
    pvs_stats_reset(&s->decode_1s);
    int rc = pvs_mutex_init(&s->stats_lock);
    if (rc < 0) {
        free(s);
        return rc;
    }
    rc = pvs_mutex_init(&s->box_lock);
    if (rc < 0) {
        pvs_mutex_destroy(&s->stats_lock);
        free(s);
        return rc;
    }
    s->stats = pvs_client_stats_new(pvs_time_us());
    if (!s->stats) {
        rc = PVS_ENOMEM;
        goto fail;
    }
    /* A window's pictures are measured to when they are shown; the
     * window tells about vsync once its renderer is made. */
    if (cfg->want_pictures)
        pvs_client_stats_set_window(s->stats, false);
    if (s->losssim[0]) {
        struct pvs_losssim_config lc;
        rc = pvs_losssim_parse(s->losssim, &lc);
        if (rc < 0) {
            PVS_LOG_E("--losssim '%s': not valid loss simulator settings (e.g. loss=5,burst=3,seed=1)",
                      s->losssim);
            rc = PVS_ECONFIG;
            goto fail;
        }
    }
    if (cfg->trace && cfg->trace[0]) {
        FILE *t = fopen(cfg->trace, "w");
        if (!t) {
            PVS_LOG_E("cannot create the trace %s: %s", cfg->trace, strerror(errno));
            rc = PVS_EIO;
            goto fail;
        }
        pvs_client_stats_set_trace(s->stats, t);
    }
    if (cfg->record && cfg->record[0]) {
        s->record = fopen(cfg->record, "wb");
        if (!s->record) {
            PVS_LOG_E("cannot create the recording %s: %s", cfg->record, strerror(errno));
            rc = PVS_EIO;
            goto fail;
        }
    }

    /* The media socket is bound before HELLO, which carries its port. */
    struct pvs_addr local;
    rc = pvs_net_init();
    if (rc < 0)
        goto fail;
    rc = pvs_addr_resolve(&local, NULL, cfg->media_port);
    if (rc == 0)
        rc = pvs_udp_open(&s->sock, &local);
    if (rc < 0) {
        PVS_LOG_E("cannot open the media port %u: %s%s", (unsigned)cfg->media_port,
                  pvs_strerror(rc), cfg->media_port ? " (in use? pick another --media-port, or 0)" : "");
        pvs_net_deinit();
        goto fail;
    }
    struct pvs_addr bound;
    rc = pvs_udp_local_addr(s->sock, &bound);
    if (rc < 0)
        goto fail_net;
    /* Sized now, not only when the receiver opens: the server sends the
     * first keyframe as soon as the session is keyed, and it waits here
     * while the audio device and the decoder open (100 ms and more on a
     * loaded machine, far more under Wine), which overflowed the default
     * buffer (208 KiB on Linux) and lost it. The receiver asks again and
     * warns when it gets less. */
    (void)pvs_udp_set_buffers(s->sock, 0, PVS_RECEIVER_DEFAULT_RCVBUF, NULL, NULL);

    struct pvs_control_client_config cc;
    pvs_control_client_default_config(&cc);
    cc.host = s->host;
    cc.port = cfg->port;
    /* A relay on the same machine cannot take our port: it takes another,
     * which we announce, and passes the media on to ours. */
    cc.hello.media_port = cfg->media_announce ? cfg->media_announce : pvs_addr_port(&bound);
    cc.hello.display_width = cfg->display_width;
    cc.hello.display_height = cfg->display_width ? cfg->display_height : 0;
    cc.hello.display_hz = cfg->display_hz;
    cc.hello.display_flags = cfg->display_flags;
    if (!cfg->identity || !cfg->server_key) {
        rc = PVS_EINVAL;
        goto fail_net;
    }
    cc.identity = *cfg->identity;
    memcpy(cc.server_key, cfg->server_key, sizeof(cc.server_key));
    rc = pvs_control_client_open(&s->ctl, &cc);
    pvs_static_keys_wipe(&cc.identity);
    if (rc < 0)
        goto fail_net; /* the control client said why */
    PVS_LOG_I("connecting to %s (media on UDP port %u)", s->server_name, (unsigned)cc.hello.media_port);
    if (cfg->no_audio)
        PVS_LOG_I("audio off (--no-audio)");
    *out = s;
    return 0;

fail_net:
    pvs_socket_close(&s->sock);
    pvs_net_deinit();
fail:
    if (s->record)
        fclose(s->record);
    pvs_client_stats_free(&s->stats);
    pvs_mutex_destroy(&s->box_lock);
    pvs_mutex_destroy(&s->stats_lock);
    free(s);
    return rc;
}

void pvs_session_bye(struct pvs_session *s)
{
    if (!s)
        return;
    stop_stream(s);
    if (s->keyed && pvs_control_client_bye(s->ctl, PVS_CTL_BYE_QUIT) == 0) {
        /* Let ENet deliver it: the client stops by itself once it is. */
        struct pvs_control_event ev;
        int64_t end = pvs_time_us() + 250000;
        while (pvs_time_us() < end && pvs_control_client_service(s->ctl, 10, &ev) >= 0)
            ;
    }
    s->keyed = false;
}

void pvs_session_close(struct pvs_session **ps)
{
    if (!ps || !*ps)
        return;
    struct pvs_session *s = *ps;
    stop_stream(s);
    pvs_control_client_close(&s->ctl);
    pvs_socket_close(&s->sock);
    pvs_net_deinit();
    if (s->fresh) /* decoded, never taken: its trace line */
        pvs_client_stats_unshown(s->stats, &s->pics[s->mid].row);
    if (s->record && fclose(s->record) != 0)
        PVS_LOG_E("closing the recording failed: %s", strerror(errno));
    for (int i = 0; i < 3; i++)
        free(s->pics[i].mem_);
    memset(s->srtp_key, 0, sizeof(s->srtp_key));
    pvs_client_stats_free(&s->stats);
    pvs_mutex_destroy(&s->box_lock);
    pvs_mutex_destroy(&s->stats_lock);
    free(s);
    *ps = NULL;
}

void pvs_session_get_status(const struct pvs_session *s, struct pvs_session_status *out)
{
    *out = s->status;
}

bool pvs_session_take_picture(struct pvs_session *s, const struct pvs_picture **pic)
{
    pvs_mutex_lock(&s->box_lock);
    bool fresh = s->fresh;
    if (fresh) {
        int t = s->front;
        s->front = s->mid;
        s->mid = t;
        s->fresh = false;
    }
    pvs_mutex_unlock(&s->box_lock);
    /* front belongs to this thread alone from here on */
    *pic = s->pics[s->front].img.width > 0 ? &s->pics[s->front] : NULL;
    return fresh;
}

void pvs_session_picture_presented(struct pvs_session *s, const struct pvs_picture *pic,
                                   int64_t presented_us)
{
    pvs_mutex_lock(&s->stats_lock);
    pvs_client_stats_presented(s->stats, &pic->row, presented_us);
    pvs_mutex_unlock(&s->stats_lock);
}

void pvs_session_picture_unshown(struct pvs_session *s, const struct pvs_picture *pic)
{
    unshown(s, &pic->row);
}

bool pvs_session_take_rumble(struct pvs_session *s, struct pvs_pad_rumble *out)
{
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++) {
        if (s->rumble_due & (1u << i)) {
            s->rumble_due &= (uint8_t)~(1u << i);
            *out = s->rumble[i];
            return true;
        }
    }
    return false;
}

int pvs_session_send_input(struct pvs_session *s, const struct pvs_input_event *ev)
{
    if (!s->keyed)
        return PVS_ENOENT;
    uint8_t msg[PVS_INPUT_MAX_MESSAGE];
    int n = pvs_input_encode(ev, msg, sizeof(msg));
    if (n < 0)
        return n;
    return pvs_control_client_send_input(s->ctl, pvs_input_channel(ev->type), msg, (size_t)n);
}

struct pvs_client_stats *pvs_session_stats_lock(struct pvs_session *s)
{
    pvs_mutex_lock(&s->stats_lock);
    return s->stats;
}

void pvs_session_stats_unlock(struct pvs_session *s)
{
    pvs_mutex_unlock(&s->stats_lock);
}
