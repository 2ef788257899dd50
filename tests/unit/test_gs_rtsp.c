/* GameStream RTSP (gamestream/gs_rtsp.h, gs_sdp.h, gs_rtsp_server.h): the
 * whole OPTIONS..PLAY handshake built byte for byte as Moonlight writes it
 * (moonlight-common-c src/RtspConnection.c, RtspParser.c, SdpGenerator.c),
 * with the replies read the way Moonlight reads them (exact header names,
 * the DESCRIBE markers, the first ';' of Session); the same over encrypted
 * RTSP; malformed requests and the limits; the state machine's refusals;
 * and the handshake over real TCP on 127.0.0.1, one connection a request,
 * with a stranger's connection closed unanswered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/wire.h"
#include "gamestream/gs_gcm.h"
#include "gamestream/gs_rtsp.h"
#include "gamestream/gs_rtsp_server.h"
#include "tests/unit/gs_test_util.h"
#include "tests/unit/test.h"

static const uint8_t KEY[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f};

static struct pvs_gs_rtsp_config host_config(uint32_t codecs)
{
    struct pvs_gs_rtsp_config c;
    memset(&c, 0, sizeof(c));
    c.sdp.codecs = codecs;
    c.sdp.encryption_supported = PVS_GS_ENC_CONTROL_V2;
    c.audio_port = PVS_GS_AUDIO_PORT;
    c.video_port = PVS_GS_VIDEO_PORT;
    c.control_port = PVS_GS_CONTROL_PORT;
    return c;
}

static struct pvs_gs_rtsp_launch make_launch(bool encrypted)
{
    uint8_t rnd[PVS_GS_RTSP_LAUNCH_RANDOM];
    for (int i = 0; i < PVS_GS_RTSP_LAUNCH_RANDOM; i++)
        rnd[i] = (uint8_t)(0xA0 + i);
    struct pvs_gs_rtsp_launch l;
    pvs_gs_rtsp_launch_init(&l, KEY, 0x11223344, encrypted, rnd);
    return l;
}

/* ---- the client's side, as moonlight-common-c writes and reads ------------------ */

struct client {
    int cseq;
    char session[64];            /* "" until the audio SETUP */
    uint32_t enc_seq;            /* encrypted RTSP: the last request's number */
    bool encrypted;
};

/* A request as the client serializes it: "CMD target RTSP/1.0", then
 * CSeq, X-GS-ClientVersion, Host (TCP) and the extras, "Name: value" each,
 * an empty line, the payload. */
static size_t request(struct client *c, const char *cmd, const char *target,
                      const char *extra, const char *payload, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s %s RTSP/1.0\r\nCSeq: %d\r\nX-GS-ClientVersion: 14\r\n"
                     "Host: 127.0.0.1\r\n%s%s%s%s\r\n%s", cmd, target, c->cseq++,
                     c->session[0] ? "Session: " : "", c->session, c->session[0] ? "\r\n" : "",
                     extra ? extra : "", payload ? payload : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Moonlight's reply reading: status, headers by exact name, body. */
struct reply {
    int status;
    char head[2048];
    const char *body;
};

static bool read_reply(const uint8_t *buf, size_t n, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    static char copy[PVS_GS_RTSP_MAX_REPLY + 1];
    if (n > PVS_GS_RTSP_MAX_REPLY)
        return false;
    memcpy(copy, buf, n);
    copy[n] = '\0';
    char *end = strstr(copy, "\r\n\r\n");
    if (!end || sscanf(copy, "RTSP/1.0 %d", &r->status) != 1)
        return false;
    size_t hn = (size_t)(end - copy) + 2;
    if (hn >= sizeof(r->head))
        return false;
    memcpy(r->head, copy, hn);
    r->body = end + 4;
    return true;
}

/* The number after "name:" where name first occurs (parseSdpAttributeToUInt). */
static long sdp_number(const char *body, const char *name)
{
    const char *p = strstr(body, name);
    if (!p || !(p = strchr(p, ':')))
        return -1;
    return strtol(p + 1, NULL, 0);
}

/* An ANNOUNCE body as SdpGenerator.c writes it for a Sunshine-style host:
 * 1920x1080 at 60, 20 Mbit/s (16 for the encoder), 1392-byte packets. */
static void announce_body(char *out, size_t cap, int bitstream, int hdr, int csc, int packet)
{
    snprintf(out, cap,
        "v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n"
        "a=x-ml-general.featureFlags:3 \r\n"
        "a=x-ss-general.encryptionEnabled:1 \r\n"
        "a=x-ss-video[0].chromaSamplingType:0 \r\n"
        "a=x-nv-video[0].clientViewportWd:1920 \r\n"
        "a=x-nv-video[0].clientViewportHt:1080 \r\n"
        "a=x-nv-video[0].maxFPS:60 \r\n"
        "a=x-nv-video[0].packetSize:%d \r\n"
        "a=x-nv-video[0].rateControlMode:4 \r\n"
        "a=x-nv-video[0].timeoutLengthMs:7000 \r\n"
        "a=x-nv-video[0].framesWithInvalidRefThreshold:0 \r\n"
        "a=x-nv-video[0].initialBitrateKbps:16000 \r\n"
        "a=x-nv-video[0].initialPeakBitrateKbps:16000 \r\n"
        "a=x-nv-vqos[0].bw.minimumBitrateKbps:16000 \r\n"
        "a=x-nv-vqos[0].bw.maximumBitrateKbps:16000 \r\n"
        "a=x-ml-video.configuredBitrateKbps:20000 \r\n"
        "a=x-nv-vqos[0].fec.enable:1 \r\n"
        "a=x-nv-vqos[0].videoQualityScoreUpdateTime:5000 \r\n"
        "a=x-nv-vqos[0].qosTrafficType:5 \r\n"
        "a=x-nv-aqos.qosTrafficType:4 \r\n"
        "a=x-nv-general.featureFlags:135 \r\n"
        "a=x-nv-general.useReliableUdp:13 \r\n"
        "a=x-nv-vqos[0].fec.minRequiredFecPackets:2 \r\n"
        "a=x-nv-vqos[0].bllFec.enable:0 \r\n"
        "a=x-nv-vqos[0].drc.enable:0 \r\n"
        "a=x-nv-general.enableRecoveryMode:0 \r\n"
        "a=x-nv-video[0].videoEncoderSlicesPerFrame:1 \r\n"
        "a=x-nv-clientSupportHevc:%d \r\n"
        "a=x-nv-vqos[0].bitStreamFormat:%d \r\n"
        "a=x-nv-video[0].dynamicRangeMode:%d \r\n"
        "a=x-nv-video[0].maxNumReferenceFrames:1 \r\n"
        "a=x-nv-video[0].clientRefreshRateX100:5994 \r\n"
        "a=x-nv-audio.surround.numChannels:2 \r\n"
        "a=x-nv-audio.surround.channelMask:3 \r\n"
        "a=x-nv-audio.surround.enable:0 \r\n"
        "a=x-nv-audio.surround.AudioQuality:0 \r\n"
        "a=x-nv-aqos.packetDuration:5 \r\n"
        "a=x-nv-video[0].encoderCscMode:%d \r\n"
        "t=0 0\r\nm=video 47998  \r\n",
        packet, bitstream == 1, bitstream, hdr, csc);
}

static size_t announce(struct client *c, const char *body, char *out, size_t cap)
{
    char extra[128];
    snprintf(extra, sizeof(extra), "Content-type: application/sdp\r\nContent-length: %zu\r\n",
             strlen(body));
    return request(c, "ANNOUNCE", "streamid=control/13/0", extra, body, out, cap);
}

/* Seals a client request as RtspConnection.c's sealRtspMessage does. */
static size_t seal_request(struct client *c, const char *plain, size_t n, uint8_t *out)
{
    uint32_t seq = ++c->enc_seq;
    uint8_t iv[12];
    pvs_gs_gcm_iv12(iv, seq, 'C', 'R');
    pvs_put_be32(out, 0x80000000u | (uint32_t)n);
    pvs_put_be32(out + 4, seq);
    pvs_gs_gcm_seal(KEY, iv, 12, (const uint8_t *)plain, n, out + 24, out + 8);
    return 24 + n;
}

/* Opens a host reply as unsealRtspMessage does: exact length, 'H','R' IV. */
static size_t open_reply(const uint8_t *in, size_t n, uint8_t *plain)
{
    if (n <= 24)
        return 0;
    uint32_t tl = pvs_get_be32(in);
    if (!(tl & 0x80000000u) || (tl & 0x7fffffffu) + 24 != n)
        return 0;
    uint8_t iv[12];
    pvs_gs_gcm_iv12(iv, pvs_get_be32(in + 4), 'H', 'R');
    return pvs_gs_gcm_open(KEY, iv, 12, in + 24, n - 24, plain, in + 8) == 0 ? n - 24 : 0;
}

/* Sends one request through the session, plain or sealed, and reads the
 * reply as the client would. */
static bool transact(struct pvs_gs_rtsp *s, struct client *c, const char *req, size_t n,
                     struct reply *r, struct pvs_gs_rtsp_event *ev)
{
    static uint8_t wire[PVS_GS_RTSP_MAX_MESSAGE], out[PVS_GS_RTSP_MAX_REPLY],
        plain[PVS_GS_RTSP_MAX_REPLY];
    const uint8_t *msg = (const uint8_t *)req;
    if (c->encrypted) {
        n = seal_request(c, req, n, wire);
        msg = wire;
    }
    if (pvs_gs_rtsp_frame(msg, n, c->encrypted) != (int)n)
        return false;
    int rn = pvs_gs_rtsp_handle(s, msg, n, out, sizeof(out), ev);
    if (rn <= 0)
        return false;
    if (c->encrypted) {
        size_t pn = open_reply(out, (size_t)rn, plain);
        return pn && read_reply(plain, pn, r);
    }
    return read_reply(out, (size_t)rn, r);
}

/* ---- tests ------------------------------------------------------------------------- */

/* The whole handshake; `encrypted` runs it over encrypted RTSP. */
static void handshake(bool encrypted)
{
    struct pvs_gs_rtsp_config cfg = host_config(PVS_GS_CODEC_H264 | PVS_GS_CODEC_HEVC);
    struct pvs_gs_rtsp s;
    pvs_gs_rtsp_init(&s, &cfg);
    struct pvs_gs_rtsp_launch l = make_launch(encrypted);
    pvs_gs_rtsp_arm(&s, &l);
    struct client c = {.cseq = 1, .encrypted = encrypted};
    char req[8192], val[128];
    struct reply r;
    struct pvs_gs_rtsp_event ev;

    size_t n = request(&c, "OPTIONS", "rtsp://127.0.0.1:48010", NULL, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK(rtsp_header(r.head, "CSeq", val, sizeof(val)) && strcmp(val, "1") == 0);
    CHECK_INT(ev.type, ==, PVS_GS_RTSP_EV_NONE);

    n = request(&c, "DESCRIBE", "rtsp://127.0.0.1:48010",
                "Accept: application/sdp\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
                NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    /* What the client concludes from the body. */
    CHECK(strstr(r.body, "sprop-parameter-sets=AAAAAU") != NULL);  /* HEVC offered */
    CHECK(strstr(r.body, "AV1/90000") == NULL);                     /* AV1 not */
    CHECK(strstr(r.body, "x-nv-video[0].refPicInvalidation") == NULL);
    CHECK_INT(sdp_number(r.body, "x-ss-general.featureFlags"), ==, 0);
    CHECK_INT(sdp_number(r.body, "x-ss-general.encryptionSupported"), ==, PVS_GS_ENC_CONTROL_V2);
    CHECK_INT(sdp_number(r.body, "x-ss-general.encryptionRequested"), ==, 0);
    CHECK(rtsp_header(r.head, "Content-Length", val, sizeof(val)) &&
          atoi(val) == (int)strlen(r.body));

    const char *transport = "Transport: unicast;X-GS-ClientPort=50000-50001\r\n"
                            "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
    n = request(&c, "SETUP", "streamid=audio/0/0", transport, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK(rtsp_header(r.head, "Transport", val, sizeof(val)) && strstr(val, "server_port=48000"));
    CHECK(rtsp_header(r.head, "X-SS-Ping-Payload", val, sizeof(val)) && strlen(val) == 16 &&
          strcmp(val, l.audio_ping) == 0);
    CHECK(rtsp_header(r.head, "Session", val, sizeof(val)));
    /* The client keeps what comes before the first ';'. */
    val[strcspn(val, ";")] = '\0';
    CHECK_INT(strtoul(val, NULL, 16), ==, l.session_id);
    snprintf(c.session, sizeof(c.session), "%s", val);
    CHECK_INT(ev.type, ==, PVS_GS_RTSP_EV_SETUP);
    CHECK_INT(ev.stream, ==, PVS_GS_STREAM_AUDIO);

    n = request(&c, "SETUP", "streamid=video/0/0", transport, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK(rtsp_header(r.head, "Transport", val, sizeof(val)) && strstr(val, "server_port=47998"));
    CHECK(rtsp_header(r.head, "X-SS-Ping-Payload", val, sizeof(val)) &&
          strcmp(val, l.video_ping) == 0);
    CHECK(strcmp(l.audio_ping, l.video_ping) != 0);

    n = request(&c, "SETUP", "streamid=control/13/0", transport, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK(rtsp_header(r.head, "Transport", val, sizeof(val)) && strstr(val, "server_port=47999"));
    CHECK(rtsp_header(r.head, "X-SS-Connect-Data", val, sizeof(val)) &&
          strtoul(val, NULL, 0) == l.connect_data);
    CHECK_INT(ev.stream, ==, PVS_GS_STREAM_CONTROL);

    /* PLAY too early. */
    n = request(&c, "PLAY", "/", NULL, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 455);
    CHECK_INT(ev.type, ==, PVS_GS_RTSP_EV_NONE);

    char body[4096];
    announce_body(body, sizeof(body), 1, 0, 3, 1392);
    n = announce(&c, body, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK_INT(ev.type, ==, PVS_GS_RTSP_EV_ANNOUNCE);
    const struct pvs_gs_stream_config *sc = &ev.config;
    CHECK_INT(sc->width, ==, 1920);
    CHECK_INT(sc->height, ==, 1080);
    CHECK_INT(sc->fps, ==, 60);
    CHECK_INT(sc->refresh_x100, ==, 5994);
    CHECK_INT(sc->packet_size, ==, 1392);
    CHECK_INT(sc->bitrate_kbps, ==, 16000);
    CHECK_INT(sc->configured_kbps, ==, 20000);
    CHECK_INT(sc->codec, ==, PVS_GS_CODEC_HEVC);
    CHECK(!sc->hdr && !sc->yuv444);
    CHECK_INT(sc->color_space, ==, 1); /* encoderCscMode 3: Rec. 709, full range */
    CHECK(sc->full_range);
    CHECK_INT(sc->encryption, ==, PVS_GS_ENC_CONTROL_V2);
    CHECK_INT(sc->ml_features, ==, 3);
    CHECK_INT(sc->fec_percent, ==, -1);
    CHECK_INT(sc->fec_min_packets, ==, 2);
    CHECK_INT(sc->audio_channels, ==, 2);
    CHECK_INT(sc->audio_packet_ms, ==, 5);
    CHECK_INT(sc->max_ref_frames, ==, 1);
    CHECK_INT(sc->video_qos, ==, 5);

    n = request(&c, "PLAY", "/", NULL, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK_INT(ev.type, ==, PVS_GS_RTSP_EV_PLAY);
    CHECK_INT(ev.config.width, ==, 1920);
    /* A second PLAY is answered but starts nothing. */
    n = request(&c, "PLAY", "/", NULL, NULL, req, sizeof(req));
    CHECK(transact(&s, &c, req, n, &r, &ev));
    CHECK_INT(r.status, ==, 200);
    CHECK_INT(ev.type, ==, PVS_GS_RTSP_EV_NONE);
    CHECK_INT(s.stats.replies_ok, ==, 8);
    CHECK_INT(s.stats.replies_error, ==, 1);
    CHECK_INT(s.stats.dropped, ==, 0);
}

static void test_handshake_plain(void) { handshake(false); }
static void test_handshake_encrypted(void) { handshake(true); }

/* Encrypted RTSP refuses what a stranger could send: plain text, a
 * replayed request, a forged tag, another key. None gets a reply. */
static void test_encrypted_drops(void)
{
    struct pvs_gs_rtsp_config cfg = host_config(PVS_GS_CODEC_H264);
    struct pvs_gs_rtsp s;
    pvs_gs_rtsp_init(&s, &cfg);
    struct pvs_gs_rtsp_launch l = make_launch(true);
    pvs_gs_rtsp_arm(&s, &l);
    struct client c = {.cseq = 1, .encrypted = true};
    char req[512];
    uint8_t wire[1024], out[PVS_GS_RTSP_MAX_REPLY];
    struct pvs_gs_rtsp_event ev;

    size_t n = request(&c, "OPTIONS", "rtsp://x", NULL, NULL, req, sizeof(req));
    CHECK_INT(pvs_gs_rtsp_handle(&s, (const uint8_t *)req, n, out, sizeof(out), &ev), ==, 0);

    size_t wn = seal_request(&c, req, n, wire);
    CHECK(pvs_gs_rtsp_handle(&s, wire, wn, out, sizeof(out), &ev) > 0);
    CHECK_INT(pvs_gs_rtsp_handle(&s, wire, wn, out, sizeof(out), &ev), ==, 0); /* replayed */

    wn = seal_request(&c, req, n, wire);
    wire[8] ^= 1; /* the tag */
    CHECK_INT(pvs_gs_rtsp_handle(&s, wire, wn, out, sizeof(out), &ev), ==, 0);
    wire[8] ^= 1;
    wire[30] ^= 0x40; /* the ciphertext */
    CHECK_INT(pvs_gs_rtsp_handle(&s, wire, wn, out, sizeof(out), &ev), ==, 0);
    wire[30] ^= 0x40;
    /* Extra bytes after the message: Moonlight's framing forbids them. */
    wire[wn] = 0;
    CHECK_INT(pvs_gs_rtsp_handle(&s, wire, wn + 1, out, sizeof(out), &ev), ==, 0);
    CHECK(pvs_gs_rtsp_handle(&s, wire, wn, out, sizeof(out), &ev) > 0); /* intact: fine */
    CHECK_INT(s.stats.dropped, ==, 5);
    CHECK_INT(s.stats.replies_ok, ==, 2);
}

/* Returns the status a session answers `req` with (0: no reply). */
static int status_of(struct pvs_gs_rtsp *s, const char *req, size_t n)
{
    static uint8_t out[PVS_GS_RTSP_MAX_REPLY];
    struct pvs_gs_rtsp_event ev;
    int rn = pvs_gs_rtsp_handle(s, (const uint8_t *)req, n, out, sizeof(out), &ev);
    struct reply r;
    return rn > 0 && read_reply(out, (size_t)rn, &r) ? r.status : 0;
}

static int status_str(struct pvs_gs_rtsp *s, const char *req)
{
    return status_of(s, req, strlen(req));
}

static void test_malformed(void)
{
    struct pvs_gs_rtsp_config cfg = host_config(PVS_GS_CODEC_H264);
    struct pvs_gs_rtsp s;
    pvs_gs_rtsp_init(&s, &cfg);
    struct pvs_gs_rtsp_launch l = make_launch(false);
    pvs_gs_rtsp_arm(&s, &l);

    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n"), ==, 200);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/2.0\r\nCSeq: 7\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * HTTP/1.1\r\nCSeq: 7\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS RTSP/1.0\r\nCSeq: 7\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "options * RTSP/1.0\r\nCSeq: 7\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq 7\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: x7\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 7\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nBad Name: 1\r\n\r\n"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 7\r\nX: a\x01" "b\r\n\r\n"), ==, 400);
    /* Content-Length must match the body exactly. */
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nContent-Length: 3\r\n\r\nab"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nContent-Length: 1\r\n\r\nab"), ==, 400);
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n"), ==, 400);
    /* A NUL in the head. */
    CHECK_INT(status_of(&s, "OPTIONS * RTSP/1.0\r\nX: \0\r\n\r\n", 26), ==, 400);
    /* The error reply still echoes CSeq. */
    static uint8_t out[PVS_GS_RTSP_MAX_REPLY];
    struct pvs_gs_rtsp_event ev;
    const char *bad = "BOGUS * RTSP/1.0\r\nCSeq: 42\r\n\r\n";
    int rn = pvs_gs_rtsp_handle(&s, (const uint8_t *)bad, strlen(bad), out, sizeof(out), &ev);
    struct reply r;
    char val[32];
    CHECK(rn > 0 && read_reply(out, (size_t)rn, &r));
    CHECK_INT(r.status, ==, 501);
    CHECK(rtsp_header(r.head, "CSeq", val, sizeof(val)) && strcmp(val, "42") == 0);

    /* Too many headers. */
    char many[4096];
    size_t at = (size_t)snprintf(many, sizeof(many), "OPTIONS * RTSP/1.0\r\n");
    for (int i = 0; i <= PVS_GS_RTSP_MAX_HEADERS; i++)
        at += (size_t)snprintf(many + at, sizeof(many) - at, "X-%d: %d\r\n", i, i);
    snprintf(many + at, sizeof(many) - at, "\r\n");
    CHECK_INT(status_str(&s, many), ==, 400);
    CHECK_INT(s.stats.malformed, ==, 14);
}

static void test_limits(void)
{
    /* Framing: incomplete, complete, beyond the limits. */
    const char *partial = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n";
    CHECK_INT(pvs_gs_rtsp_frame((const uint8_t *)partial, strlen(partial), false), ==, 0);
    const char *with_body = "ANNOUNCE x RTSP/1.0\r\nContent-length: 5\r\n\r\nabcdeNEXT";
    int expect = (int)strlen(with_body) - 4;
    CHECK_INT(pvs_gs_rtsp_frame((const uint8_t *)with_body, strlen(with_body), false), ==, expect);
    CHECK_INT(pvs_gs_rtsp_frame((const uint8_t *)with_body, (size_t)expect - 1, false), ==, 0);
    char big[128];
    snprintf(big, sizeof(big), "ANNOUNCE x RTSP/1.0\r\nContent-Length: %d\r\n\r\n",
             PVS_GS_RTSP_MAX_BODY + 1);
    CHECK_INT(pvs_gs_rtsp_frame((const uint8_t *)big, strlen(big), false), ==, PVS_EBADDATA);
    static uint8_t head[PVS_GS_RTSP_MAX_HEAD + 10];
    memset(head, 'a', sizeof(head));
    CHECK_INT(pvs_gs_rtsp_frame(head, sizeof(head), false), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_rtsp_frame(head, 100, false), ==, 0);
    /* Encrypted framing: the length bit, the limit. */
    uint8_t enc[8] = {0};
    pvs_put_be32(enc, 0x80000000u | 100);
    CHECK_INT(pvs_gs_rtsp_frame(enc, 8, true), ==, 0);
    pvs_put_be32(enc, 100);
    CHECK_INT(pvs_gs_rtsp_frame(enc, 8, true), ==, PVS_EBADDATA);
    pvs_put_be32(enc, 0x80000000u | (PVS_GS_RTSP_MAX_HEAD + PVS_GS_RTSP_MAX_BODY + 1));
    CHECK_INT(pvs_gs_rtsp_frame(enc, 8, true), ==, PVS_EBADDATA);
}

/* The state machine's refusals, and a new launch starting over. */
static void test_states(void)
{
    struct pvs_gs_rtsp_config cfg = host_config(PVS_GS_CODEC_H264);
    struct pvs_gs_rtsp s;
    pvs_gs_rtsp_init(&s, &cfg);
    char req[8192], body[4096];
    struct client c = {.cseq = 1};

    /* No launch: OPTIONS only. */
    CHECK_INT(status_str(&s, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"), ==, 200);
    CHECK_INT(status_str(&s, "DESCRIBE * RTSP/1.0\r\nCSeq: 2\r\n\r\n"), ==, 503);
    CHECK_INT(status_str(&s, "SETUP streamid=audio/0/0 RTSP/1.0\r\nCSeq: 3\r\n\r\n"), ==, 503);

    struct pvs_gs_rtsp_launch l = make_launch(false);
    pvs_gs_rtsp_arm(&s, &l);
    CHECK_INT(status_str(&s, "SETUP streamid=bogus RTSP/1.0\r\nCSeq: 3\r\n\r\n"), ==, 404);
    CHECK_INT(status_str(&s, "SETUP streamid=video/0/0 RTSP/1.0\r\nCSeq: 3\r\nSession: 1\r\n\r\n"),
              ==, 454);
    announce_body(body, sizeof(body), 0, 0, 0, 1024);
    size_t n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 454); /* no Session */
    snprintf(c.session, sizeof(c.session), "%08X", (unsigned)l.session_id);
    n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 455); /* nothing set up */

    n = request(&c, "SETUP", "streamid=video/0/0", NULL, NULL, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 200);
    n = request(&c, "SETUP", "streamid=control/13/0", NULL, NULL, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 200);
    /* HEVC, 10-bit, and a missing width are refused; H.264 is taken. */
    announce_body(body, sizeof(body), 1, 0, 0, 1024);
    n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 415);
    announce_body(body, sizeof(body), 0, 1, 0, 1024);
    n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 415);
    announce_body(body, sizeof(body), 0, 0, 0, 1024);
    char *wd = strstr(body, "a=x-nv-video[0].clientViewportWd");
    wd[2] = 'y'; /* an unknown name now: the width is missing */
    n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 400);
    announce_body(body, sizeof(body), 0, 0, 7, 1024); /* colour space 3 */
    n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 400);
    announce_body(body, sizeof(body), 0, 0, 0, 1024);
    n = announce(&c, body, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 200);
    /* No SETUP after ANNOUNCE. */
    n = request(&c, "SETUP", "streamid=audio/0/0", NULL, NULL, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 455);

    /* A new launch starts over: the old session id is unknown. */
    uint8_t rnd[PVS_GS_RTSP_LAUNCH_RANDOM] = {1, 2, 3};
    struct pvs_gs_rtsp_launch l2;
    pvs_gs_rtsp_launch_init(&l2, KEY, 2, false, rnd);
    pvs_gs_rtsp_arm(&s, &l2);
    n = request(&c, "PLAY", "/", NULL, NULL, req, sizeof(req));
    CHECK_INT(status_of(&s, req, n), ==, 454);
    pvs_gs_rtsp_disarm(&s);
    CHECK_INT(status_str(&s, "DESCRIBE * RTSP/1.0\r\nCSeq: 2\r\n\r\n"), ==, 503);
}

static void test_describe(void)
{
    struct pvs_gs_sdp_host h;
    memset(&h, 0, sizeof(h));
    h.codecs = PVS_GS_CODEC_H264 | PVS_GS_CODEC_AV1;
    h.rfi = true;
    h.feature_flags = PVS_GS_FF_PEN_TOUCH;
    h.encryption_supported = 7;
    h.encryption_requested = PVS_GS_ENC_VIDEO;
    h.surround_count = 2;
    h.surround[0] = (struct pvs_gs_opus_layout){6, 4, 2, {0, 4, 1, 5, 2, 3}};
    h.surround[1] = (struct pvs_gs_opus_layout){6, 6, 0, {0, 1, 2, 3, 4, 5}};
    char body[PVS_GS_SDP_DESCRIBE_MAX];
    int n = pvs_gs_sdp_describe(&h, body, sizeof(body));
    CHECK(n > 0 && (size_t)n == strlen(body));
    CHECK(strstr(body, "AV1/90000") != NULL);
    CHECK(strstr(body, "sprop-parameter-sets=AAAAAU") == NULL);
    CHECK(strstr(body, "x-nv-video[0].refPicInvalidation") != NULL);
    CHECK_INT(sdp_number(body, "x-ss-general.featureFlags"), ==, 1);
    CHECK_INT(sdp_number(body, "x-ss-general.encryptionSupported"), ==, 7);
    CHECK_INT(sdp_number(body, "x-ss-general.encryptionRequested"), ==, 2);
    /* First line normal quality, second high quality, as the client reads. */
    const char *p = strstr(body, "a=fmtp:97 surround-params=6");
    CHECK(p && strncmp(p + 27, "42041523", 8) == 0);
    CHECK(p && (p = strstr(p + 1, "a=fmtp:97 surround-params=6")) &&
          strncmp(p + 27, "60012345", 8) == 0);
    CHECK_INT(pvs_gs_sdp_describe(&h, body, 40), ==, PVS_ERANGE);
    h.surround[1].mapping[2] = 10;
    CHECK_INT(pvs_gs_sdp_describe(&h, body, sizeof(body)), ==, PVS_EINVAL);
}

/* ---- over TCP ------------------------------------------------------------------ */

struct server_thread {
    struct pvs_gs_rtsp_server *srv;
    volatile int stop;
    struct pvs_gs_rtsp_event events[16];
    volatile int n;
};

static int serve(void *arg)
{
    struct server_thread *t = arg;
    while (!t->stop) {
        struct pvs_gs_rtsp_event ev;
        if (pvs_gs_rtsp_server_service(t->srv, 50, &ev) == 1 && t->n < 16)
            t->events[t->n++] = ev;
    }
    return 0;
}

/* One request on its own connection; reads the reply until the host
 * closes, as the client does. Returns the reply's length (0: none). */
static size_t tcp_transact(uint16_t port, const char *req, size_t n, uint8_t *out, size_t cap)
{
    struct pvs_addr to;
    pvs_socket s;
    if (pvs_addr_resolve(&to, "127.0.0.1", port) != 0 || pvs_tcp_connect(&s, &to, 2000) != 0)
        return 0;
    size_t sent = 0;
    while (sent < n) {
        int k = pvs_tcp_send(s, req + sent, n - sent, 2000);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    size_t have = 0;
    for (;;) {
        int k = pvs_tcp_recv(s, out + have, cap - have, 5000);
        if (k <= 0)
            break;
        have += (size_t)k;
    }
    pvs_socket_close(&s);
    return have;
}

static void test_tcp(void)
{
    CHECK_INT(pvs_net_init(), ==, 0);
    struct pvs_gs_rtsp_server_config cfg = {.bind_host = "127.0.0.1", .port = 0,
                                            .request_timeout_ms = 1000,
                                            .rtsp = host_config(PVS_GS_CODEC_H264)};
    struct server_thread t = {0};
    CHECK_INT(pvs_gs_rtsp_server_open(&t.srv, &cfg), ==, 0);
    if (!t.srv)
        return;
    uint16_t port = pvs_gs_rtsp_server_port(t.srv);
    CHECK(port != 0);
    struct pvs_gs_rtsp_launch l = make_launch(false);
    struct pvs_addr me;
    pvs_addr_resolve(&me, "127.0.0.1", 0);
    pvs_gs_rtsp_server_arm(t.srv, &l, &me);
    struct pvs_thread *th = NULL;
    CHECK_INT(pvs_thread_create(&th, serve, &t, "rtsp"), ==, 0);

    struct client c = {.cseq = 1};
    char req[8192], body[4096];
    static uint8_t out[PVS_GS_RTSP_MAX_REPLY];
    struct reply r;
    char val[64];
    const char *steps[][2] = {{"OPTIONS", "rtsp://127.0.0.1"}, {"DESCRIBE", "rtsp://127.0.0.1"},
                              {"SETUP", "streamid=audio/0/0"}, {"SETUP", "streamid=video/0/0"},
                              {"SETUP", "streamid=control/13/0"}};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        size_t n = request(&c, steps[i][0], steps[i][1], NULL, NULL, req, sizeof(req));
        size_t rn = tcp_transact(port, req, n, out, sizeof(out));
        CHECK(rn > 0 && read_reply(out, rn, &r) && r.status == 200);
        if (i == 2 && rtsp_header(r.head, "Session", val, sizeof(val))) {
            val[strcspn(val, ";")] = '\0';
            snprintf(c.session, sizeof(c.session), "%s", val);
        }
    }
    announce_body(body, sizeof(body), 0, 0, 0, 1392);
    size_t n = announce(&c, body, req, sizeof(req));
    /* The request arrives in pieces: the server waits for all of it. */
    size_t rn = tcp_transact(port, req, n, out, sizeof(out));
    CHECK(rn > 0 && read_reply(out, rn, &r) && r.status == 200);
    n = request(&c, "PLAY", "/", NULL, NULL, req, sizeof(req));
    rn = tcp_transact(port, req, n, out, sizeof(out));
    CHECK(rn > 0 && read_reply(out, rn, &r) && r.status == 200);

    /* A launch for another host: this one's connections get nothing. */
    struct pvs_addr other;
    pvs_addr_resolve(&other, "10.1.2.3", 0);
    pvs_gs_rtsp_server_arm(t.srv, &l, &other);
    n = request(&c, "OPTIONS", "rtsp://127.0.0.1", NULL, NULL, req, sizeof(req));
    CHECK_INT(tcp_transact(port, req, n, out, sizeof(out)), ==, 0);

    /* A connection that never sends a whole request is timed out. */
    pvs_gs_rtsp_server_arm(t.srv, &l, NULL);
    CHECK_INT(tcp_transact(port, "OPTIONS * RTSP/1.0\r\n", 20, out, sizeof(out)), ==, 0);

    t.stop = 1;
    pvs_thread_join(&th, NULL);
    struct pvs_gs_rtsp_server_stats st;
    pvs_gs_rtsp_server_get_stats(t.srv, &st);
    CHECK_INT(st.connections, ==, 9);
    CHECK_INT(st.foreign, ==, 1);
    CHECK_INT(st.timeouts, ==, 1);
    CHECK_INT(st.rtsp.replies_ok, ==, 7);
    CHECK_INT(t.n, ==, 5); /* three SETUPs, ANNOUNCE, PLAY */
    CHECK(t.n == 5 && t.events[4].type == PVS_GS_RTSP_EV_PLAY && t.events[4].config.fps == 60);
    pvs_gs_rtsp_server_close(&t.srv);
    CHECK(t.srv == NULL);
    pvs_net_deinit();
}

int main(void)
{
    pvs_log_set_level(PVS_LOG_ERROR);
    RUN(test_handshake_plain);
    RUN(test_handshake_encrypted);
    RUN(test_encrypted_drops);
    RUN(test_malformed);
    RUN(test_limits);
    RUN(test_states);
    RUN(test_describe);
    RUN(test_tcp);
    TEST_EXIT();
}
