/* gamestream/gs_session.h over loopback, with a client written here from
 * the protocol as moonlight-common-c speaks it: the RTSP handshake on its
 * TCP port (one request per connection), the pings that tell the host
 * where video and audio go, the encrypted control stream on ENet. Checks
 * the events the caller gets (start with the ANNOUNCE's settings, keyframe
 * requests, input, end), what arrives on the client's sockets (video and
 * audio datagrams only after its ping, sized as the client expects), the
 * host's rumble and termination, a launch that never starts, and a new
 * launch replacing the old one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enet/enet.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/wire.h"
#include "gamestream/gs_audio.h"
#include "gamestream/gs_control.h"
#include "gamestream/gs_session.h"
#include "gamestream/gs_video.h"
#include "tests/unit/gs_test_util.h"
#include "tests/unit/test.h"

static const uint8_t KEY[16] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x58, 0x97, 0x93,
                                0x23, 0x84, 0x62, 0x64, 0x33, 0x83, 0x27, 0x95};

/* ---- RTSP, as the client sends it ----------------------------------------------- */

struct rtsp {
    uint16_t port;
    int cseq;
    char session[128];
    char reply[4096];
};

/* One request on its own connection; the reply (NUL-terminated) read until
 * the host closes. Returns the status, or 0 for no reply. */
static int rtsp(struct rtsp *r, const char *cmd, const char *target, const char *body)
{
    char req[4096], extra[160] = "";
    if (body)
        snprintf(extra, sizeof(extra), "Content-type: application/sdp\r\nContent-length: %zu\r\n",
                 strlen(body));
    int n = snprintf(req, sizeof(req), "%s %s RTSP/1.0\r\nCSeq: %d\r\nX-GS-ClientVersion: 14\r\n"
                     "%s%s%s%s\r\n%s", cmd, target, ++r->cseq, r->session[0] ? "Session: " : "",
                     r->session, r->session[0] ? "\r\n" : "", extra, body ? body : "");
    struct pvs_addr to;
    pvs_socket s;
    r->reply[0] = '\0';
    if (pvs_addr_resolve(&to, "127.0.0.1", r->port) || pvs_tcp_connect(&s, &to, 2000))
        return 0;
    pvs_tcp_send(s, req, (size_t)n, 2000);
    size_t have = 0;
    for (int k; have + 1 < sizeof(r->reply) &&
                (k = pvs_tcp_recv(s, r->reply + have, sizeof(r->reply) - 1 - have, 3000)) > 0;)
        have += (size_t)k;
    r->reply[have] = '\0';
    pvs_socket_close(&s);
    int status = 0;
    sscanf(r->reply, "RTSP/1.0 %d", &status);
    return status;
}

static const char ANNOUNCE[] =
    "v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n"
    "a=x-ml-general.featureFlags:3 \r\n"
    "a=x-ss-general.encryptionEnabled:7 \r\n"
    "a=x-nv-video[0].clientViewportWd:1280 \r\n"
    "a=x-nv-video[0].clientViewportHt:720 \r\n"
    "a=x-nv-video[0].maxFPS:30 \r\n"
    "a=x-nv-video[0].packetSize:992 \r\n"
    "a=x-nv-video[0].initialBitrateKbps:4000 \r\n"
    "a=x-nv-general.featureFlags:167 \r\n"
    "a=x-nv-vqos[0].fec.minRequiredFecPackets:2 \r\n"
    "a=x-nv-vqos[0].bitStreamFormat:0 \r\n"
    "a=x-nv-audio.surround.numChannels:2 \r\n"
    "a=x-nv-audio.surround.channelMask:3 \r\n"
    "a=x-nv-aqos.packetDuration:5 \r\n"
    "t=0 0\r\nm=video 47998  \r\n";

/* The whole handshake; fills the ports and payloads the client learns. */
struct learned {
    uint16_t video_port, audio_port, control_port;
    char video_ping[17], audio_ping[17];
    uint32_t connect_data;
};

static int port_of(const struct rtsp *r)
{
    char t[128];
    const char *p =
        rtsp_header(r->reply, "Transport", t, sizeof(t)) ? strstr(t, "server_port=") : NULL;
    return p ? atoi(p + 12) : 0;
}

static bool handshake(struct rtsp *r, struct learned *l)
{
    char v[128];
    CHECK_INT(rtsp(r, "OPTIONS", "rtsp://127.0.0.1", NULL), ==, 200);
    CHECK_INT(rtsp(r, "DESCRIBE", "rtsp://127.0.0.1", NULL), ==, 200);
    /* What the server side offers: all three encryptions, and 5.1 / 7.1. */
    CHECK(strstr(r->reply, "x-ss-general.encryptionSupported:7") != NULL);
    CHECK(strstr(r->reply, "a=fmtp:97 surround-params=642") != NULL);
    CHECK_INT(rtsp(r, "SETUP", "streamid=audio/0/0", NULL), ==, 200);
    CHECK(rtsp_header(r->reply, "Session", v, sizeof(v)));
    v[strcspn(v, ";")] = '\0';
    snprintf(r->session, sizeof(r->session), "%s", v);
    l->audio_port = (uint16_t)port_of(r);
    CHECK(rtsp_header(r->reply, "X-SS-Ping-Payload", l->audio_ping, sizeof(l->audio_ping)));
    CHECK_INT(rtsp(r, "SETUP", "streamid=video/0/0", NULL), ==, 200);
    l->video_port = (uint16_t)port_of(r);
    CHECK(rtsp_header(r->reply, "X-SS-Ping-Payload", l->video_ping, sizeof(l->video_ping)));
    CHECK_INT(rtsp(r, "SETUP", "streamid=control/13/0", NULL), ==, 200);
    l->control_port = (uint16_t)port_of(r);
    CHECK(rtsp_header(r->reply, "X-SS-Connect-Data", v, sizeof(v)));
    l->connect_data = (uint32_t)strtoul(v, NULL, 10);
    CHECK_INT(rtsp(r, "ANNOUNCE", "streamid=control/13/0", ANNOUNCE), ==, 200);
    return rtsp(r, "PLAY", "/", NULL) == 200;
}

/* ---- events ---------------------------------------------------------------------- */

/* Waits up to 3 s for an event of `type` (others are skipped). */
static bool wait_event(struct pvs_gs_session *s, enum pvs_gs_session_event_type type,
                       struct pvs_gs_session_event *ev)
{
    int64_t until = pvs_time_ns() + 3000000000LL;
    while (pvs_time_ns() < until) {
        if (pvs_gs_session_next_event(s, ev) && ev->type == type)
            return true;
        pvs_sleep_ns(1000000);
    }
    return false;
}

/* ---- control, as the client ------------------------------------------------------ */

struct control {
    ENetHost *host;
    ENetPeer *peer;
    struct pvs_gs_ctl_crypto crypto;
};

static bool control_connect(struct control *c, uint16_t port, uint32_t data)
{
    memset(c, 0, sizeof(*c));
    c->host = enet_host_create(NULL, 1, PVS_GS_CTL_CHANNELS, 0, 0);
    ENetAddress a = {.port = port};
    enet_address_set_host(&a, "127.0.0.1");
    c->peer = c->host ? enet_host_connect(c->host, &a, PVS_GS_CTL_CHANNELS, data) : NULL;
    pvs_gs_ctl_crypto_init(&c->crypto, KEY, true, false);
    ENetEvent e;
    return c->peer && enet_host_service(c->host, &e, 3000) > 0 && e.type == ENET_EVENT_TYPE_CONNECT;
}

static void control_send(struct control *c, uint16_t type, const uint8_t *p, size_t n)
{
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET];
    int len = pvs_gs_ctl_seal(&c->crypto, type, p, n, pkt, sizeof(pkt));
    enet_peer_send(c->peer, 0, enet_packet_create(pkt, (size_t)len, ENET_PACKET_FLAG_RELIABLE));
    enet_host_flush(c->host);
}

/* The next message from the host, opened: its type (0: none in 3 s). */
static uint16_t control_receive(struct control *c, uint8_t *payload, size_t cap, int *len)
{
    int64_t until = pvs_time_ns() + 3000000000LL;
    ENetEvent e;
    while (pvs_time_ns() < until) {
        if (enet_host_service(c->host, &e, 10) > 0 && e.type == ENET_EVENT_TYPE_RECEIVE) {
            uint16_t type = 0;
            *len = pvs_gs_ctl_open(&c->crypto, e.packet->data, e.packet->dataLength, &type,
                                   payload, cap);
            enet_packet_destroy(e.packet);
            return *len >= 0 ? type : 0;
        }
    }
    return 0;
}

/* ---- media ------------------------------------------------------------------------ */

static pvs_socket udp_client(void)
{
    struct pvs_addr any;
    pvs_socket s = PVS_INVALID_SOCKET;
    pvs_addr_resolve(&any, "127.0.0.1", 0);
    pvs_udp_open(&s, &any);
    return s;
}

static void ping(pvs_socket s, uint16_t port, const char *payload, uint32_t count)
{
    uint8_t p[20];
    memcpy(p, payload, 16);
    pvs_put_be32(p + 16, count);
    struct pvs_addr to;
    pvs_addr_resolve(&to, "127.0.0.1", port);
    pvs_udp_send(s, p, sizeof(p), &to);
}

/* Datagrams waiting on s within 500 ms; every length into lens[]. */
static int drain(pvs_socket s, size_t *lens, int cap)
{
    uint8_t buf[2048];
    int n = 0;
    while (n < cap) {
        int k = pvs_udp_recv(s, buf, sizeof(buf), NULL, 500);
        if (k < 0)
            break;
        lens[n++] = (size_t)k;
    }
    return n;
}

static struct pvs_gs_session *open_session(int start_timeout_ms)
{
    struct pvs_gs_session_config cfg = {
        .bind_host = "127.0.0.1", .start_timeout_ms = start_timeout_ms,
        .control_timeout_ms = 3000,
        .sdp = { .codecs = PVS_GS_CODEC_H264,
                 .encryption_supported = PVS_GS_ENC_CONTROL_V2 | PVS_GS_ENC_VIDEO |
                                         PVS_GS_ENC_AUDIO },
    };
    struct pvs_gs_opus_config oc;
    pvs_gs_audio_opus_config(6, false, &oc);
    struct pvs_gs_opus_layout *lay = &cfg.sdp.surround[cfg.sdp.surround_count++];
    lay->channels = (uint8_t)oc.channels;
    lay->streams = (uint8_t)oc.streams;
    lay->coupled = (uint8_t)oc.coupled;
    pvs_gs_audio_sdp_mapping(&oc, false, lay->mapping);
    struct pvs_gs_session *s = NULL;
    CHECK_INT(pvs_gs_session_open(&s, &cfg), ==, 0);
    return s;
}

static int arm(struct pvs_gs_session *s)
{
    struct pvs_gs_session_launch l = { .key_id = 0x1234, .app_id = 1, .name = "tester" };
    memcpy(l.key, KEY, sizeof(KEY));
    pvs_addr_resolve(&l.client, "127.0.0.1", 50000);
    return pvs_gs_session_arm(s, &l);
}

static void test_session(void)
{
    struct pvs_gs_session *s = open_session(0);
    if (!s)
        return;
    struct rtsp r = {0};
    pvs_gs_session_ports(s, &r.port, NULL, NULL, NULL);
    CHECK(!pvs_gs_session_active(s));
    /* No launch: the handshake stops at DESCRIBE. */
    CHECK_INT(rtsp(&r, "DESCRIBE", "rtsp://127.0.0.1", NULL), ==, 503);

    int gen = arm(s);
    CHECK_INT(gen, >, 0);
    CHECK(pvs_gs_session_active(s));
    struct learned l = {0};
    CHECK(handshake(&r, &l));
    struct pvs_gs_session_event ev;
    CHECK(wait_event(s, PVS_GS_SESSION_EV_START, &ev));
    CHECK_INT(ev.gen, ==, (uint32_t)gen);
    CHECK_INT(ev.config.width, ==, 1280);
    CHECK_INT(ev.config.fps, ==, 30);
    CHECK_INT(ev.config.bitrate_kbps, ==, 4000);
    CHECK_INT(ev.config.encryption, ==, 7);
    CHECK(strcmp(ev.name, "tester") == 0);

    /* Before the client's ping nothing is sent, and no frame index used. */
    static uint8_t frame[20000];
    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i * 7);
    frame[0] = frame[1] = frame[2] = 0;
    frame[3] = 1;
    struct pvs_packet au = { .data = frame, .size = sizeof(frame), .keyframe = true,
                             .capture_ns = pvs_time_ns() };
    CHECK_INT(pvs_gs_session_send_video(s, (uint32_t)gen, &au, 1000000), ==, PVS_EAGAIN);
    uint8_t opus[60] = {0x78};
    CHECK_INT(pvs_gs_session_send_audio(s, (uint32_t)gen, opus, sizeof(opus)), ==, PVS_EAGAIN);

    /* A ping with a wrong payload teaches nothing; the right one does,
     * and asks for a keyframe. */
    pvs_socket vs = udp_client(), as = udp_client();
    ping(vs, l.video_port, "0123456789abcdef", 1);
    pvs_sleep_ns(50000000);
    CHECK_INT(pvs_gs_session_send_video(s, (uint32_t)gen, &au, 1000000), ==, PVS_EAGAIN);
    ping(vs, l.video_port, l.video_ping, 2);
    CHECK(wait_event(s, PVS_GS_SESSION_EV_KEYFRAME, &ev));
    CHECK_INT(pvs_gs_session_send_video(s, (uint32_t)gen, &au, 1000000), ==, 0);
    CHECK_INT(pvs_gs_session_send_video(s, (uint32_t)gen + 1, &au, 1000000), ==, PVS_EAGAIN);
    size_t lens[256];
    int n = drain(vs, lens, 256);
    /* 20 kB in 992-byte payloads: 21 data packets, 20 % parity (5), each
     * datagram RTP 16 + payload, encrypted 32 more. */
    CHECK_INT(n, ==, 26);
    CHECK_INT(lens[0], ==, 16 + 992 + 32);
    CHECK_INT(lens[n - 1], ==, lens[0]);

    ping(as, l.audio_port, l.audio_ping, 1);
    int64_t until = pvs_time_ns() + 2000000000LL;
    int rc;
    while ((rc = pvs_gs_session_send_audio(s, (uint32_t)gen, opus, sizeof(opus))) == PVS_EAGAIN &&
           pvs_time_ns() < until)
        pvs_sleep_ns(5000000);
    CHECK_INT(rc, ==, 0);
    for (int i = 0; i < 3; i++)
        CHECK_INT(pvs_gs_session_send_audio(s, (uint32_t)gen, opus, sizeof(opus)), ==, 0);
    /* Four audio packets close an FEC block: two parity packets follow.
     * Encrypted, 60 bytes pad to 64. */
    n = drain(as, lens, 256);
    CHECK_INT(n, ==, 6);
    CHECK_INT(lens[0], ==, 12 + 64);

    /* Control: keyframe request and input become events. */
    struct control c;
    CHECK(control_connect(&c, l.control_port, l.connect_data));
    control_send(&c, PVS_GS_CTL_IDR_REQUEST, NULL, 0);
    CHECK(wait_event(s, PVS_GS_SESSION_EV_KEYFRAME, &ev));
    uint8_t key[14];
    pvs_put_be32(key, 10);
    pvs_put_le32(key + 4, PVS_GS_IN_KEY_DOWN);
    key[8] = 0;
    pvs_put_le16(key + 9, 0x8041); /* 'A' */
    key[11] = 0;
    key[12] = key[13] = 0;
    control_send(&c, PVS_GS_CTL_INPUT, key, sizeof(key));
    CHECK(wait_event(s, PVS_GS_SESSION_EV_INPUT, &ev));
    CHECK_INT(ev.input.type, ==, PVS_INPUT_KEY);
    CHECK_INT(ev.input.u.key.usage, ==, 0x04); /* HID 'a' */
    CHECK(ev.input.u.key.down);

    /* The host's rumble reaches the client. */
    pvs_gs_session_rumble(s, 1, 0x4000, 0x8000);
    uint8_t payload[64];
    int len = 0;
    uint16_t type = control_receive(&c, payload, sizeof(payload), &len);
    CHECK_INT(type, ==, PVS_GS_CTL_RUMBLE);
    CHECK_INT(len, ==, PVS_GS_CTL_RUMBLE_BYTES);

    struct pvs_gs_session_stats st;
    pvs_gs_session_get_stats(s, &st);
    CHECK(st.playing && st.connected);
    CHECK_INT(st.video_frames, ==, 1);
    CHECK_INT(st.video_packets, ==, 26);
    CHECK_INT(st.audio_packets, ==, 6);
    CHECK_INT(st.input_events, ==, 1);
    CHECK_INT(st.keyframe_requests, ==, 1);

    /* /cancel: the client is told (graceful), the caller gets END. */
    pvs_gs_session_end(s, "the client quit", true);
    type = control_receive(&c, payload, sizeof(payload), &len);
    CHECK_INT(type, ==, PVS_GS_CTL_TERMINATION);
    CHECK(len == 4 && pvs_get_be32(payload) == PVS_GS_TERMINATE_GRACEFUL);
    CHECK(wait_event(s, PVS_GS_SESSION_EV_END, &ev));
    CHECK(strcmp(ev.why, "the client quit") == 0);
    CHECK(!pvs_gs_session_active(s));
    CHECK_INT(pvs_gs_session_send_video(s, (uint32_t)gen, &au, 0), ==, PVS_EAGAIN);
    enet_host_destroy(c.host);

    /* A second launch after it streams again from a fresh handshake. */
    int gen2 = arm(s);
    CHECK_INT(gen2, >, gen);
    struct rtsp r2 = {.port = r.port};
    struct learned l2 = {0};
    CHECK(handshake(&r2, &l2));
    CHECK(strcmp(l2.video_ping, l.video_ping) != 0); /* made up per launch */
    CHECK(wait_event(s, PVS_GS_SESSION_EV_START, &ev));
    CHECK_INT(ev.gen, ==, (uint32_t)gen2);
    /* The old payload no longer teaches an address. */
    ping(vs, l2.video_port, l.video_ping, 3);
    pvs_sleep_ns(50000000);
    CHECK_INT(pvs_gs_session_send_video(s, (uint32_t)gen2, &au, 0), ==, PVS_EAGAIN);
    /* A third launch replaces it: END for the second. */
    int gen3 = arm(s);
    CHECK(wait_event(s, PVS_GS_SESSION_EV_END, &ev));
    CHECK_INT(ev.gen, ==, (uint32_t)gen2);
    CHECK(gen3 > gen2);

    pvs_socket_close(&vs);
    pvs_socket_close(&as);
    pvs_gs_session_close(&s);
    CHECK(s == NULL);
}

/* A launch that never starts streaming ends by itself. */
static void test_start_timeout(void)
{
    struct pvs_gs_session *s = open_session(300);
    if (!s)
        return;
    int gen = arm(s);
    struct pvs_gs_session_event ev;
    CHECK(wait_event(s, PVS_GS_SESSION_EV_END, &ev));
    CHECK_INT(ev.gen, ==, (uint32_t)gen);
    CHECK(strstr(ev.why, "did not start") != NULL);
    CHECK(!pvs_gs_session_active(s));
    pvs_gs_session_close(&s);
}

int main(void)
{
    pvs_log_set_level(PVS_LOG_ERROR);
    CHECK_INT(pvs_net_init(), ==, 0);
    RUN(test_session);
    RUN(test_start_timeout);
    pvs_net_deinit();
    TEST_EXIT();
}
