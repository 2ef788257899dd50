/* Fuzz target for GameStream's RTSP (gamestream/gs_rtsp.h, gs_sdp.h):
 * whatever a client sends, the session answers with a well-formed reply or
 * none, never writes past its buffer, and hands out only stream settings
 * within their documented ranges, and PLAY only after ANNOUNCE.
 *
 * Input: byte 0 picks the mode, the rest is a stream of requests, cut by
 * pvs_gs_rtsp_frame and handled in order by one session (so a corpus file
 * can walk the whole handshake and reach ANNOUNCE's SDP parser).
 *   0x00  plain RTSP, session armed
 *   0x01  plain RTSP, no launch armed
 *   0x02  encrypted RTSP: each request is sealed with KEY first (the
 *         client's numbering, from 1), so mutations reach the parser
 *         behind the decryption; each reply must open with KEY
 *   0x03  encrypted RTSP, the rest taken as already sealed bytes
 * The rest is also given whole to the request parser and the ANNOUNCE
 * parser. The corpus (tests/fuzz/corpus/gs_rtsp/): "handshake_*" are the
 * requests Moonlight sends (OPTIONS..PLAY), "announce_*" ANNOUNCE bodies
 * of its SdpGenerator, "bad_*" malformed requests. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "gamestream/gs_gcm.h"
#include "gamestream/gs_rtsp.h"
#include "tests/fuzz/fuzz.h"

static const uint8_t KEY[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87,
                                0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed, 0xfe, 0x0f};

static void check_config(const struct pvs_gs_stream_config *c)
{
    if (c->width < 1 || c->width > 16384 || c->height < 1 || c->height > 16384 ||
        c->fps < 1 || c->fps > 1000 || c->packet_size < 64 || c->bitrate_kbps < 1 ||
        c->color_space > 2 || c->audio_channels < 1 || c->audio_channels > 8 ||
        (c->codec != PVS_GS_CODEC_H264 && c->codec != PVS_GS_CODEC_HEVC &&
         c->codec != PVS_GS_CODEC_AV1))
        abort();
}

/* A plain reply: status line, headers, CSeq among them, the empty line. */
static void check_plain_reply(const uint8_t *r, size_t n)
{
    if (n < 20 || memcmp(r, "RTSP/1.0 ", 9) != 0)
        abort();
    char copy[PVS_GS_RTSP_MAX_REPLY + 1];
    memcpy(copy, r, n);
    copy[n] = '\0';
    if (!strstr(copy, "\r\nCSeq: ") || !strstr(copy, "\r\n\r\n"))
        abort();
}

static void check_reply(const uint8_t *r, size_t n, bool encrypted)
{
    if (n > PVS_GS_RTSP_MAX_REPLY)
        abort();
    if (!encrypted) {
        check_plain_reply(r, n);
        return;
    }
    uint32_t tl = pvs_get_be32(r);
    if (n <= PVS_GS_RTSP_ENC_HEADER || !(tl & 0x80000000u) ||
        (tl & 0x7fffffffu) + PVS_GS_RTSP_ENC_HEADER != n)
        abort();
    uint8_t iv[12], plain[PVS_GS_RTSP_MAX_REPLY];
    pvs_gs_gcm_iv12(iv, pvs_get_be32(r + 4), 'H', 'R');
    if (pvs_gs_gcm_open(KEY, iv, 12, r + 24, n - 24, plain, r + 8) != 0)
        abort();
    check_plain_reply(plain, n - 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) {
        pvs_log_set_level(PVS_LOG_ERROR);
        quiet = true;
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0] & 3;
    const uint8_t *p = data + 1;
    size_t n = size - 1;

    struct pvs_gs_rtsp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.sdp.codecs = PVS_GS_CODEC_H264 | PVS_GS_CODEC_HEVC;
    cfg.sdp.encryption_supported = PVS_GS_ENC_CONTROL_V2 | PVS_GS_ENC_VIDEO;
    cfg.audio_port = PVS_GS_AUDIO_PORT;
    cfg.video_port = PVS_GS_VIDEO_PORT;
    cfg.control_port = PVS_GS_CONTROL_PORT;
    static struct pvs_gs_rtsp s;
    pvs_gs_rtsp_init(&s, &cfg);
    bool encrypted = mode >= 2;
    if (mode != 1) {
        /* The session id is 0xA0A1A2A3's neighbour: bytes 20..23. */
        uint8_t rnd[PVS_GS_RTSP_LAUNCH_RANDOM];
        for (int i = 0; i < PVS_GS_RTSP_LAUNCH_RANDOM; i++)
            rnd[i] = (uint8_t)(0xA0 + i);
        struct pvs_gs_rtsp_launch l;
        pvs_gs_rtsp_launch_init(&l, KEY, 1, encrypted, rnd);
        pvs_gs_rtsp_arm(&s, &l);
    }

    static struct pvs_gs_rtsp_request req;
    int rc = pvs_gs_rtsp_parse(p, n, &req);
    if (rc != 0 && rc != PVS_EBADDATA)
        abort();
    struct pvs_gs_stream_config sc;
    rc = pvs_gs_sdp_parse_announce((const char *)p, n, &sc);
    if (rc == 0)
        check_config(&sc);
    else if (rc != PVS_EBADDATA)
        abort();

    static uint8_t sealed[PVS_GS_RTSP_MAX_MESSAGE], reply[PVS_GS_RTSP_MAX_REPLY];
    uint32_t seq = 0;
    bool announced = false;
    while (n > 0) {
        int len = pvs_gs_rtsp_frame(p, n, mode == 3);
        if (len <= 0)
            break;
        const uint8_t *msg = p;
        size_t mlen = (size_t)len;
        if (mode == 2) {
            uint8_t iv[12];
            pvs_gs_gcm_iv12(iv, ++seq, 'C', 'R');
            pvs_put_be32(sealed, 0x80000000u | (uint32_t)mlen);
            pvs_put_be32(sealed + 4, seq);
            if (mlen > sizeof(sealed) - 24 ||
                pvs_gs_gcm_seal(KEY, iv, 12, p, mlen, sealed + 24, sealed + 8) != 0)
                abort();
            msg = sealed;
            mlen += 24;
        }
        struct pvs_gs_rtsp_event ev;
        int rn = pvs_gs_rtsp_handle(&s, msg, mlen, reply, sizeof(reply), &ev);
        if (rn < 0)
            abort();
        if (rn > 0)
            check_reply(reply, (size_t)rn, encrypted);
        else if (ev.type != PVS_GS_RTSP_EV_NONE)
            abort();
        if (mode == 2 && rn == 0)
            abort(); /* sealed with the right key: always answered */
        if (ev.type == PVS_GS_RTSP_EV_ANNOUNCE) {
            check_config(&ev.config);
            announced = true;
        } else if (ev.type == PVS_GS_RTSP_EV_PLAY) {
            check_config(&ev.config);
            if (!announced)
                abort();
        }
        p += len;
        n -= (size_t)len;
    }
    return 0;
}
