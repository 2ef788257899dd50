/* One Moonlight session's transport: RTSP, control, video and audio sockets
 * (gamestream/gs_session.h). */
#include "gamestream/gs_session.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_audio.h"
#include "gamestream/gs_control_server.h"
#include "gamestream/gs_crypto.h"
#include "gamestream/gs_rtsp_server.h"
#include "gamestream/gs_video.h"

#define NS_PER_MS 1000000LL
#define EVENT_RING 1024              /* input bursts drained every millisecond or so */
#define CONTROL_WAIT_MS 5            /* ENet service slice: pings wait at most this */
#define RTSP_WAIT_MS 100
#define TERMINATION_FLUSH_MS 100     /* time for the termination to be acknowledged */
#define RUMBLE_PADS 4
/* A frame of more datagrams than this leaves in bursts of PACE_BURST spread
 * over half a frame interval: the client's socket takes about 2,048
 * datagrams (moonlight-common-c src/VideoStream.c sizes its buffer for a
 * few frames), and a burst of a large keyframe on a real link overflows the
 * queues in between. */
#define PACE_ABOVE 64
#define PACE_BURST 32
#define SEND_RETRY_NS (2 * NS_PER_MS) /* a full socket buffer: how long to retry */
#define VIDEO_SNDBUF (4 << 20)

enum state { IDLE, ARMED, PLAYING };

struct pvs_gs_session {
    struct pvs_gs_session_config cfg;
    struct pvs_gs_rtsp_server *rtsp;
    struct pvs_gs_control *ctl;
    pvs_socket video_sock, audio_sock;
    uint16_t video_port, audio_port;
    struct pvs_thread *rtsp_thread, *ctl_thread;
    atomic_bool stop;

    pvs_mutex mu;                    /* everything down to the ring */
    uint32_t gen;
    enum state state;
    struct pvs_gs_rtsp_launch launch;
    struct pvs_gs_session_launch l;
    int64_t armed_ns;
    bool connected;                  /* the control stream of this gen */
    bool end_asked, end_graceful;
    char end_why[96];
    struct pvs_gs_stream_config config;
    struct pvs_addr video_to, audio_to; /* len 0 until the client pinged */
    struct { bool dirty; uint16_t low, high; } rumble[RUMBLE_PADS];
    struct pvs_gs_session_event ring[EVENT_RING];
    unsigned head, count;
    struct pvs_gs_session_stats stats;

    /* The packetizers, each used by its own sending thread; made on PLAY
     * and closed at the end under their lock. Never held with mu. */
    pvs_mutex video_mu;
    struct pvs_gs_video *video;
    uint32_t video_gen;
    int64_t frame_ns;                /* the client's frame interval */
    pvs_mutex audio_mu;
    struct pvs_gs_audio *audio;
    uint32_t audio_gen;
};

/* ---- events (called with mu held) ----------------------------------------- */

static struct pvs_gs_session_event *push(struct pvs_gs_session *s,
                                         enum pvs_gs_session_event_type type)
{
    if (s->count == EVENT_RING) {
        s->stats.events_dropped++;
        return NULL;
    }
    struct pvs_gs_session_event *ev = &s->ring[(s->head + s->count++) % EVENT_RING];
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->gen = s->gen;
    return ev;
}

static void push_keyframe(struct pvs_gs_session *s, const char *why)
{
    struct pvs_gs_session_event *ev = push(s, PVS_GS_SESSION_EV_KEYFRAME);
    if (ev)
        snprintf(ev->why, sizeof(ev->why), "%s", why);
}

int pvs_gs_session_next_event(struct pvs_gs_session *s, struct pvs_gs_session_event *ev)
{
    if (!s || !ev)
        return 0;
    pvs_mutex_lock(&s->mu);
    int got = s->count > 0;
    if (got) {
        *ev = s->ring[s->head];
        s->head = (s->head + 1) % EVENT_RING;
        s->count--;
    }
    pvs_mutex_unlock(&s->mu);
    return got;
}

/* ---- the end of a launch ---------------------------------------------------- */

/* Ends the current launch now (any thread): the listeners forget it, the
 * packetizers close, END is queued. The control server drops its client
 * on its next service. Takes mu itself. */
static void finish(struct pvs_gs_session *s, const char *why)
{
    pvs_mutex_lock(&s->mu);
    if (s->state == IDLE) {
        pvs_mutex_unlock(&s->mu);
        return;
    }
    s->state = IDLE;
    s->connected = false;
    s->end_asked = false;
    pvs_gs_rtsp_server_disarm(s->rtsp);
    pvs_gs_control_disarm(s->ctl);
    pvs_gs_wipe(&s->launch, sizeof(s->launch));
    pvs_gs_wipe(s->l.key, sizeof(s->l.key));
    memset(&s->video_to, 0, sizeof(s->video_to));
    memset(&s->audio_to, 0, sizeof(s->audio_to));
    struct pvs_gs_session_event *ev = push(s, PVS_GS_SESSION_EV_END);
    if (ev)
        snprintf(ev->why, sizeof(ev->why), "%s", why);
    PVS_LOG_I("gamestream: the session with %s ended: %s", s->l.name, why);
    pvs_mutex_unlock(&s->mu);

    pvs_mutex_lock(&s->video_mu);
    pvs_gs_video_close(&s->video);
    pvs_mutex_unlock(&s->video_mu);
    pvs_mutex_lock(&s->audio_mu);
    pvs_gs_audio_close(&s->audio);
    pvs_mutex_unlock(&s->audio_mu);
}

void pvs_gs_session_end(struct pvs_gs_session *s, const char *why, bool graceful)
{
    if (!s)
        return;
    pvs_mutex_lock(&s->mu);
    if (s->state != IDLE) {
        s->end_asked = true;
        s->end_graceful = graceful;
        snprintf(s->end_why, sizeof(s->end_why), "%s", why ? why : "ended by the host");
    }
    pvs_mutex_unlock(&s->mu);
}

/* On the control thread: a requested end, the client told first. */
static void end_requested(struct pvs_gs_session *s)
{
    pvs_mutex_lock(&s->mu);
    bool asked = s->end_asked, graceful = s->end_graceful, connected = s->connected;
    char why[sizeof(s->end_why)];
    memcpy(why, s->end_why, sizeof(why));
    pvs_mutex_unlock(&s->mu);
    if (!asked)
        return;
    if (connected && pvs_gs_control_connected(s->ctl)) {
        pvs_gs_control_send_termination(s->ctl, graceful ? PVS_GS_TERMINATE_GRACEFUL
                                                         : PVS_GS_TERMINATE_CONVERT);
        /* Service a moment so the reliable message is acknowledged before
         * the disconnect; whatever the client sends meanwhile is moot. */
        int64_t until = pvs_time_ns() + TERMINATION_FLUSH_MS * NS_PER_MS;
        struct pvs_gs_control_event ev;
        while (pvs_time_ns() < until && pvs_gs_control_service(s->ctl, 10, &ev) >= 0 &&
               ev.type != PVS_GS_CONTROL_EV_DISCONNECTED) {
        }
    }
    finish(s, why);
}

static void check_timeouts(struct pvs_gs_session *s)
{
    pvs_mutex_lock(&s->mu);
    bool late = s->state != IDLE && (s->state != PLAYING || !s->connected) &&
                pvs_time_ns() - s->armed_ns > (int64_t)s->cfg.start_timeout_ms * NS_PER_MS;
    pvs_mutex_unlock(&s->mu);
    if (late) {
        char why[96];
        snprintf(why, sizeof(why), "the client did not start streaming within %d s",
                 s->cfg.start_timeout_ms / 1000);
        finish(s, why);
    }
}

/* ---- RTSP --------------------------------------------------------------------- */

static const char *enc_text(uint32_t enc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s%s", enc & PVS_GS_ENC_CONTROL_V2 ? " control" : "",
             enc & PVS_GS_ENC_VIDEO ? " video" : "", enc & PVS_GS_ENC_AUDIO ? " audio" : "",
             enc ? "" : " none");
    return buf + 1;
}

static enum pvs_codec codec_of(uint32_t gs_codec)
{
    return gs_codec == PVS_GS_CODEC_HEVC ? PVS_CODEC_HEVC
         : gs_codec == PVS_GS_CODEC_AV1  ? PVS_CODEC_AV1 : PVS_CODEC_H264;
}

static bool audio_encrypted(const struct pvs_gs_stream_config *c)
{
    /* GFE's way (x-nv-general.featureFlags 0x20) or Sunshine's. */
    return (c->nv_features & 0x20) || (c->encryption & PVS_GS_ENC_AUDIO);
}

/* The packetizers for a PLAY. Returns 0 or a code (logged). */
static int open_streams(struct pvs_gs_session *s, uint32_t gen,
                        const struct pvs_gs_stream_config *c, const uint8_t key[16],
                        uint32_t key_id)
{
    struct pvs_gs_video_config vc = {
        .codec = codec_of(c->codec), .packet_size = c->packet_size,
        .fec_percent = c->fec_percent >= 0 ? c->fec_percent : 20,
        .fec_min_parity = c->fec_min_packets,
        .encrypt = (c->encryption & PVS_GS_ENC_VIDEO) != 0,
    };
    memcpy(vc.key, key, sizeof(vc.key));
    pvs_gs_random(&vc.ssrc, sizeof(vc.ssrc));
    struct pvs_gs_video *v = NULL;
    int err = pvs_gs_video_open(&v, &vc);
    pvs_gs_wipe(vc.key, sizeof(vc.key));
    if (err) {
        PVS_LOG_E("gamestream: cannot packetize video for this client: %s", pvs_strerror(err));
        return err;
    }
    pvs_mutex_lock(&s->video_mu);
    pvs_gs_video_close(&s->video);
    s->video = v;
    s->video_gen = gen;
    s->frame_ns = 1000000000LL / (c->fps ? c->fps : 60);
    pvs_mutex_unlock(&s->video_mu);

    struct pvs_gs_audio_config ac = {
        .packet_ms = c->audio_packet_ms, .encrypt = audio_encrypted(c), .rikeyid = key_id,
    };
    memcpy(ac.key, key, sizeof(ac.key));
    pvs_gs_random(&ac.ssrc, sizeof(ac.ssrc));
    struct pvs_gs_audio *a = NULL;
    err = pvs_gs_audio_open(&a, &ac);
    pvs_gs_wipe(ac.key, sizeof(ac.key));
    if (err) /* the stream goes on without sound */
        PVS_LOG_W("gamestream: no audio for this client (%d ms packets): %s", c->audio_packet_ms,
                  pvs_strerror(err));
    pvs_mutex_lock(&s->audio_mu);
    pvs_gs_audio_close(&s->audio);
    s->audio = a;
    s->audio_gen = gen;
    pvs_mutex_unlock(&s->audio_mu);
    return 0;
}

static void on_announce(struct pvs_gs_session *s, const struct pvs_gs_stream_config *c)
{
    pvs_mutex_lock(&s->mu);
    if (s->state == IDLE) {
        pvs_mutex_unlock(&s->mu);
        return;
    }
    s->config = *c;
    pvs_gs_control_arm(s->ctl, s->launch.key, (c->encryption & PVS_GS_ENC_CONTROL_V2) != 0,
                       s->launch.connect_data, &s->l.client);
    char enc[48];
    PVS_LOG_I("gamestream: %s asks for %ux%u at %u fps, %s, %u kbit/s, %u-byte packets, FEC %d %% "
              "(at least %u), encryption: %s; audio %u channels, %u ms packets", s->l.name,
              c->width, c->height, c->fps, pvs_gs_codec_name(c->codec), c->bitrate_kbps,
              c->packet_size, c->fec_percent >= 0 ? c->fec_percent : 20, c->fec_min_packets,
              enc_text(c->encryption | (audio_encrypted(c) ? PVS_GS_ENC_AUDIO : 0), enc, sizeof(enc)),
              c->audio_channels, c->audio_packet_ms);
    pvs_mutex_unlock(&s->mu);
}

static void on_play(struct pvs_gs_session *s)
{
    pvs_mutex_lock(&s->mu);
    if (s->state != ARMED) {
        pvs_mutex_unlock(&s->mu);
        return;
    }
    uint32_t gen = s->gen;
    struct pvs_gs_stream_config c = s->config;
    uint8_t key[16];
    memcpy(key, s->launch.key, sizeof(key));
    uint32_t key_id = s->launch.key_id;
    pvs_mutex_unlock(&s->mu);

    int err = open_streams(s, gen, &c, key, key_id);
    pvs_gs_wipe(key, sizeof(key));
    if (err) {
        pvs_gs_session_end(s, "the host cannot send this stream", false);
        return;
    }
    pvs_mutex_lock(&s->mu);
    if (s->gen == gen && s->state == ARMED) {
        s->state = PLAYING;
        struct pvs_gs_session_event *ev = push(s, PVS_GS_SESSION_EV_START);
        if (ev) {
            ev->config = c;
            ev->app_id = s->l.app_id;
            snprintf(ev->name, sizeof(ev->name), "%s", s->l.name);
        }
    }
    pvs_mutex_unlock(&s->mu);
}

static int rtsp_thread(void *arg)
{
    struct pvs_gs_session *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pvs_gs_rtsp_event ev;
        int r = pvs_gs_rtsp_server_service(s->rtsp, RTSP_WAIT_MS, &ev);
        if (r < 0) {
            pvs_sleep_ns(RTSP_WAIT_MS * NS_PER_MS);
            continue;
        }
        if (r == 0)
            continue;
        if (ev.type == PVS_GS_RTSP_EV_ANNOUNCE)
            on_announce(s, &ev.config);
        else if (ev.type == PVS_GS_RTSP_EV_PLAY)
            on_play(s);
        else if (ev.type == PVS_GS_RTSP_EV_SETUP)
            PVS_LOG_D("gamestream: RTSP SETUP of stream %d", (int)ev.stream);
    }
    return 0;
}

/* ---- control and pings ------------------------------------------------------- */

static void on_message(struct pvs_gs_session *s, const struct pvs_gs_control_event *ce)
{
    char why[96];
    pvs_mutex_lock(&s->mu);
    switch (ce->msg.type) {
    case PVS_GS_CTL_IDR_REQUEST:
        s->stats.keyframe_requests++;
        push_keyframe(s, "the client asked for a keyframe");
        break;
    case PVS_GS_CTL_INVALIDATE_REFS:
        /* No reference invalidation offered: a keyframe repairs it. */
        s->stats.keyframe_requests++;
        snprintf(why, sizeof(why), "the client lost frames %llu to %llu",
                 (unsigned long long)ce->msg.u.invalidate.first,
                 (unsigned long long)ce->msg.u.invalidate.last);
        push_keyframe(s, why);
        break;
    case PVS_GS_CTL_INPUT:
        if (ce->input_count > 0) {
            struct pvs_gs_session_event *ev = push(s, PVS_GS_SESSION_EV_INPUT);
            if (ev) {
                ev->input = ce->input;
                s->stats.input_events++;
            }
        }
        break;
    default: /* pings, loss and FEC statistics: the control server keeps the peer alive */
        break;
    }
    pvs_mutex_unlock(&s->mu);
}

static void on_control(struct pvs_gs_session *s, const struct pvs_gs_control_event *ce)
{
    bool gone = false;
    pvs_mutex_lock(&s->mu);
    switch (ce->type) {
    case PVS_GS_CONTROL_EV_CONNECTED:
        if (s->state != IDLE && !s->connected) {
            s->connected = true;
            PVS_LOG_I("gamestream: %s connected its control stream", s->l.name);
        }
        break;
    case PVS_GS_CONTROL_EV_DISCONNECTED:
        /* Only this launch's: arming drops an earlier client too. */
        gone = s->state != IDLE && s->connected;
        break;
    default:
        break;
    }
    pvs_mutex_unlock(&s->mu);
    if (ce->type == PVS_GS_CONTROL_EV_MESSAGE)
        on_message(s, ce);
    if (gone)
        finish(s, "the client disconnected");
}

/* Reads what waits on one media socket: the client's pings tell where it
 * wants the stream. */
static void read_pings(struct pvs_gs_session *s, pvs_socket sock, bool video)
{
    uint8_t buf[64];
    for (int i = 0; i < 32; i++) {
        struct pvs_addr from;
        int n = pvs_udp_recv(sock, buf, sizeof(buf), &from, 0);
        if (n < 0)
            return;
        pvs_mutex_lock(&s->mu);
        const char *want = video ? s->launch.video_ping : s->launch.audio_ping;
        struct pvs_addr *to = video ? &s->video_to : &s->audio_to;
        if (s->state != IDLE && n >= PVS_GS_PING_PAYLOAD &&
            memcmp(buf, want, PVS_GS_PING_PAYLOAD) == 0) {
            s->stats.pings++;
            if (!pvs_addr_equal(to, &from)) {
                char a[64];
                pvs_addr_format(&from, a, sizeof(a));
                PVS_LOG_I("gamestream: %s takes its %s at %s", s->l.name,
                          video ? "video" : "audio", a);
                *to = from;
                if (video)
                    push_keyframe(s, "the client's video address is known");
            }
        }
        pvs_mutex_unlock(&s->mu);
    }
}

static void send_rumble(struct pvs_gs_session *s)
{
    for (uint16_t pad = 0; pad < RUMBLE_PADS; pad++) {
        pvs_mutex_lock(&s->mu);
        bool dirty = s->rumble[pad].dirty && s->connected;
        uint16_t low = s->rumble[pad].low, high = s->rumble[pad].high;
        s->rumble[pad].dirty = false;
        pvs_mutex_unlock(&s->mu);
        if (dirty)
            pvs_gs_control_send_rumble(s->ctl, pad, low, high);
    }
}

static int control_thread(void *arg)
{
    struct pvs_gs_session *s = arg;
    while (!atomic_load(&s->stop)) {
        end_requested(s);
        check_timeouts(s);
        send_rumble(s);
        struct pvs_gs_control_event ev;
        int r = pvs_gs_control_service(s->ctl, CONTROL_WAIT_MS, &ev);
        if (r == 1)
            on_control(s, &ev);
        else if (r < 0)
            pvs_sleep_ns(CONTROL_WAIT_MS * NS_PER_MS);
        read_pings(s, s->video_sock, true);
        read_pings(s, s->audio_sock, false);
    }
    return 0;
}

void pvs_gs_session_rumble(struct pvs_gs_session *s, uint16_t pad, uint16_t low_freq,
                           uint16_t high_freq)
{
    if (!s || pad >= RUMBLE_PADS)
        return;
    pvs_mutex_lock(&s->mu);
    s->rumble[pad].dirty = true;
    s->rumble[pad].low = low_freq;
    s->rumble[pad].high = high_freq;
    pvs_mutex_unlock(&s->mu);
}

/* ---- arming -------------------------------------------------------------------- */

int pvs_gs_session_arm(struct pvs_gs_session *s, const struct pvs_gs_session_launch *l)
{
    if (!s || !l)
        return PVS_EINVAL;
    uint8_t rnd[PVS_GS_RTSP_LAUNCH_RANDOM];
    int err = pvs_gs_random(rnd, sizeof(rnd));
    if (err)
        return err;
    finish(s, "replaced by a new launch");
    pvs_mutex_lock(&s->mu);
    /* 1.. INT32_MAX: 0 means none, and arm returns it as an int. */
    s->gen = s->gen >= INT32_MAX ? 1 : s->gen + 1;
    s->l = *l;
    pvs_gs_rtsp_launch_init(&s->launch, l->key, l->key_id, false, rnd);
    pvs_gs_wipe(rnd, sizeof(rnd));
    s->state = ARMED;
    s->connected = false;
    s->end_asked = false;
    s->armed_ns = pvs_time_ns();
    memset(&s->config, 0, sizeof(s->config));
    memset(s->rumble, 0, sizeof(s->rumble));
    /* The control stream is armed by the ANNOUNCE (it says which IVs);
     * until then an earlier client's connection is dropped. */
    pvs_gs_control_disarm(s->ctl);
    pvs_gs_rtsp_server_arm(s->rtsp, &s->launch, &l->client);
    int gen = (int)s->gen;
    pvs_mutex_unlock(&s->mu);
    return gen;
}

bool pvs_gs_session_active(struct pvs_gs_session *s)
{
    if (!s)
        return false;
    pvs_mutex_lock(&s->mu);
    bool on = s->state != IDLE;
    pvs_mutex_unlock(&s->mu);
    return on;
}

/* ---- sending -------------------------------------------------------------------- */

/* Where gen's stream goes, or false when gen is not streaming or the
 * client has not pinged that port yet. */
static bool destination(struct pvs_gs_session *s, uint32_t gen, bool video, struct pvs_addr *to)
{
    pvs_mutex_lock(&s->mu);
    bool ok = s->gen == gen && s->state == PLAYING;
    *to = video ? s->video_to : s->audio_to;
    ok = ok && to->len > 0;
    if (!ok) {
        if (video)
            s->stats.video_unsent++;
        else
            s->stats.audio_unsent++;
    }
    pvs_mutex_unlock(&s->mu);
    return ok;
}

/* Sends `count` datagrams, retrying briefly when the socket buffer is full.
 * Returns how many did not go. */
static int send_all(pvs_socket sock, const uint8_t *data, size_t stride, size_t len, int count,
                    const struct pvs_addr *to)
{
    int64_t give_up = 0;
    while (count > 0) {
        int n = pvs_udp_send_batch(sock, data, stride, len, count, to);
        if (n > 0) {
            data += (size_t)n * stride;
            count -= n;
            give_up = 0;
            continue;
        }
        if (n != PVS_EAGAIN)
            return count;
        int64_t now = pvs_time_ns();
        if (!give_up)
            give_up = now + SEND_RETRY_NS;
        else if (now > give_up)
            return count;
        pvs_sleep_ns(100000);
    }
    return 0;
}

int pvs_gs_session_send_video(struct pvs_gs_session *s, uint32_t gen, const struct pvs_packet *au,
                              int64_t host_ns)
{
    if (!s || !au)
        return PVS_EINVAL;
    struct pvs_addr to;
    if (!destination(s, gen, true, &to))
        return PVS_EAGAIN;
    pvs_mutex_lock(&s->video_mu);
    if (!s->video || s->video_gen != gen) {
        pvs_mutex_unlock(&s->video_mu);
        return PVS_EAGAIN;
    }
    int64_t tenths = host_ns / 100000;
    struct pvs_gs_video_frame meta = {
        .type = PVS_GS_FRAME_AUTO,
        .host_latency = (uint16_t)(tenths < 0 ? 0 : tenths > 0xffff ? 0xffff : tenths),
    };
    struct pvs_gs_video_batch b;
    int err = pvs_gs_video_packetize(s->video, au, &meta, &b);
    int unsent = 0;
    int64_t start = pvs_time_ns();
    if (!err) {
        int bursts = b.count > PACE_ABOVE ? (b.count + PACE_BURST - 1) / PACE_BURST : 1;
        int per = bursts > 1 ? PACE_BURST : b.count;
        for (int i = 0; i < bursts; i++) {
            int first = i * per, n = b.count - first < per ? b.count - first : per;
            if (i > 0)
                pvs_sleep_until_ns(start + s->frame_ns / 2 * i / bursts);
            unsent += send_all(s->video_sock, b.data + (size_t)first * b.stride, b.stride, b.len,
                               n, &to);
        }
    }
    pvs_mutex_unlock(&s->video_mu);

    pvs_mutex_lock(&s->mu);
    if (err) {
        s->stats.video_unsent++;
    } else {
        s->stats.video_frames++;
        s->stats.video_packets += (uint64_t)(b.count - unsent);
        s->stats.video_bytes += (uint64_t)(b.count - unsent) * b.len;
        s->stats.video_send_failed += (uint64_t)unsent;
        int64_t total = host_ns + (pvs_time_ns() - start);
        if (total > s->stats.host_latency_max_ns)
            s->stats.host_latency_max_ns = total;
    }
    pvs_mutex_unlock(&s->mu);
    if (err == PVS_ERANGE)
        PVS_LOG_W("gamestream: a %zu-byte frame is too large for %d-byte packets: dropped",
                  au->size, (int)b.len);
    return err;
}

int pvs_gs_session_send_audio(struct pvs_gs_session *s, uint32_t gen, const uint8_t *opus,
                              size_t len)
{
    if (!s || !opus)
        return PVS_EINVAL;
    struct pvs_addr to;
    if (!destination(s, gen, false, &to))
        return PVS_EAGAIN;
    pvs_mutex_lock(&s->audio_mu);
    if (!s->audio || s->audio_gen != gen) {
        pvs_mutex_unlock(&s->audio_mu);
        return PVS_EAGAIN;
    }
    struct pvs_gs_audio_out out;
    int err = pvs_gs_audio_packetize(s->audio, opus, len, &out);
    uint64_t sent = 0, bytes = 0, failed = 0;
    for (int i = 0; !err && i < out.count; i++) {
        if (pvs_udp_send(s->audio_sock, out.data[i], out.len[i], &to) > 0) {
            sent++;
            bytes += out.len[i];
        } else {
            failed++;
        }
    }
    pvs_mutex_unlock(&s->audio_mu);
    pvs_mutex_lock(&s->mu);
    s->stats.audio_packets += sent;
    s->stats.audio_bytes += bytes;
    s->stats.audio_send_failed += failed;
    s->stats.audio_unsent += err != 0;
    pvs_mutex_unlock(&s->mu);
    return err;
}

void pvs_gs_session_get_stats(struct pvs_gs_session *s, struct pvs_gs_session_stats *out)
{
    if (!s || !out)
        return;
    pvs_mutex_lock(&s->mu);
    *out = s->stats;
    out->gen = s->gen;
    out->armed = s->state != IDLE;
    out->playing = s->state == PLAYING;
    out->connected = s->connected;
    pvs_mutex_unlock(&s->mu);
}

/* ---- opening and closing ---------------------------------------------------------- */

static int open_udp(pvs_socket *sock, const char *bind_host, uint16_t port, uint16_t *bound,
                    const char *what)
{
    struct pvs_addr a;
    int err = pvs_addr_resolve(&a, bind_host && *bind_host ? bind_host : "0.0.0.0", port);
    if (!err)
        err = pvs_udp_open(sock, &a);
    if (err) {
        PVS_LOG_E("gamestream: cannot listen for %s on UDP port %u: %s (Sunshine or another "
                  "GameStream host may hold it)", what, (unsigned)port, pvs_strerror(err));
        return err;
    }
    struct pvs_addr local;
    *bound = pvs_udp_local_addr(*sock, &local) == 0 ? pvs_addr_port(&local) : port;
    return 0;
}

int pvs_gs_session_open(struct pvs_gs_session **out, const struct pvs_gs_session_config *cfg)
{
    if (!out || !cfg)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_gs_session *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->cfg = *cfg;
    if (s->cfg.start_timeout_ms <= 0)
        s->cfg.start_timeout_ms = 20000;
    s->video_sock = s->audio_sock = PVS_INVALID_SOCKET;
    int err = pvs_mutex_init(&s->mu);
    if (err) {
        free(s);
        return err;
    }
    if ((err = pvs_mutex_init(&s->video_mu)) != 0) {
        pvs_mutex_destroy(&s->mu);
        free(s);
        return err;
    }
    if ((err = pvs_mutex_init(&s->audio_mu)) != 0) {
        pvs_mutex_destroy(&s->video_mu);
        pvs_mutex_destroy(&s->mu);
        free(s);
        return err;
    }
    err = open_udp(&s->video_sock, cfg->bind_host, cfg->video_port, &s->video_port, "video");
    if (!err)
        err = open_udp(&s->audio_sock, cfg->bind_host, cfg->audio_port, &s->audio_port, "audio");
    if (err)
        goto fail;
    pvs_udp_set_buffers(s->video_sock, VIDEO_SNDBUF, 0, NULL, NULL);
    struct pvs_gs_control_config cc = { .bind_host = cfg->bind_host, .port = cfg->control_port,
                                        .peer_timeout_ms = cfg->control_timeout_ms };
    err = pvs_gs_control_open(&s->ctl, &cc);
    if (err)
        goto fail;
    struct pvs_gs_rtsp_server_config rc = {
        .bind_host = cfg->bind_host, .port = cfg->rtsp_port,
        .rtsp = { .sdp = cfg->sdp, .audio_port = s->audio_port, .video_port = s->video_port,
                  .control_port = pvs_gs_control_port(s->ctl) },
    };
    rc.rtsp.sdp.video_port = s->video_port;
    rc.rtsp.sdp.audio_port = s->audio_port;
    err = pvs_gs_rtsp_server_open(&s->rtsp, &rc);
    if (err)
        goto fail;
    err = pvs_thread_create(&s->rtsp_thread, rtsp_thread, s, "pvs-gs-rtsp");
    if (err)
        goto fail;
    err = pvs_thread_create(&s->ctl_thread, control_thread, s, "pvs-gs-control");
    if (err)
        goto fail;
    *out = s;
    return 0;

fail:
    pvs_gs_session_close(&s);
    return err;
}

void pvs_gs_session_ports(const struct pvs_gs_session *s, uint16_t *rtsp, uint16_t *video,
                          uint16_t *audio, uint16_t *control)
{
    if (rtsp)
        *rtsp = s ? pvs_gs_rtsp_server_port(s->rtsp) : 0;
    if (video)
        *video = s ? s->video_port : 0;
    if (audio)
        *audio = s ? s->audio_port : 0;
    if (control)
        *control = s ? pvs_gs_control_port(s->ctl) : 0;
}

void pvs_gs_session_close(struct pvs_gs_session **ps)
{
    if (!ps || !*ps)
        return;
    struct pvs_gs_session *s = *ps;
    atomic_store(&s->stop, true);
    pvs_thread_join(&s->rtsp_thread, NULL);
    pvs_thread_join(&s->ctl_thread, NULL);
    /* The threads are gone: this one may use the control host. */
    if (s->ctl) {
        pvs_gs_session_end(s, "the host is stopping", true);
        end_requested(s);
    }
    finish(s, "the host is stopping");
    pvs_gs_rtsp_server_close(&s->rtsp);
    pvs_gs_control_close(&s->ctl);
    pvs_socket_close(&s->video_sock);
    pvs_socket_close(&s->audio_sock);
    pvs_gs_video_close(&s->video);
    pvs_gs_audio_close(&s->audio);
    pvs_mutex_destroy(&s->audio_mu);
    pvs_mutex_destroy(&s->video_mu);
    pvs_mutex_destroy(&s->mu);
    pvs_gs_wipe(s, sizeof(*s));
    free(s);
    *ps = NULL;
}
