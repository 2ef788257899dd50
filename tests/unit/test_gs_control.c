/* GameStream control stream (gamestream/gs_control.h, gs_input.h,
 * gs_control_server.h): AES-GCM against published vectors; packets built
 * by hand the way Moonlight frames them (moonlight-common-c
 * src/ControlStream.c) opened by the host, and the host's packets taken
 * apart by hand; tampering, replays and the replay window; every input
 * message kind (src/InputStream.c's layouts) decoded and mapped to the
 * pvstream event it should be, which input/input.h must accept; truncated
 * messages refused; and the ENet host on 127.0.0.1 with an ENet client in
 * Moonlight's place (connect data, channels, input in, rumble out). */
#include <stdio.h>
#include <string.h>

#include <enet/enet.h>
#include <mbedtls/gcm.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "gamestream/gs_control.h"
#include "gamestream/gs_control_server.h"
#include "gamestream/gs_gcm.h"
#include "gamestream/gs_input.h"
#include "input/input.h"
#include "tests/unit/test.h"

static const uint8_t KEY[16] = {0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xa5};

static void le64(uint8_t *p, uint64_t v)
{
    pvs_put_le32(p, (uint32_t)v);
    pvs_put_le32(p + 4, (uint32_t)(v >> 32));
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        unsigned v;
        sscanf(s, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* ---- AES-GCM ------------------------------------------------------------------- */

/* The GCM specification's test cases 2 and 3 (McGrew and Viega). */
static void test_gcm_vectors(void)
{
    uint8_t key[16] = {0}, iv[12] = {0}, p[64] = {0}, c[64], tag[16], want[64], wtag[16];
    CHECK_INT(pvs_gs_gcm_seal(key, iv, 12, p, 16, c, tag), ==, 0);
    unhex("0388dace60b6a392f328c2b971b2fe78", want);
    unhex("ab6e47d42cec13bdf53a67b21257bddf", wtag);
    CHECK(memcmp(c, want, 16) == 0 && memcmp(tag, wtag, 16) == 0);

    unhex("feffe9928665731c6d6a8f9467308308", key);
    unhex("cafebabefacedbaddecaf888", iv);
    size_t n = unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", p);
    unhex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
          "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985", want);
    unhex("4d5c2af327cd64a62cf35abd2ba6fab4", wtag);
    CHECK_INT(pvs_gs_gcm_seal(key, iv, 12, p, n, c, tag), ==, 0);
    CHECK(memcmp(c, want, n) == 0 && memcmp(tag, wtag, 16) == 0);
    uint8_t back[64];
    CHECK_INT(pvs_gs_gcm_open(key, iv, 12, c, n, back, tag), ==, 0);
    CHECK(memcmp(back, p, n) == 0);
    tag[15] ^= 1;
    CHECK_INT(pvs_gs_gcm_open(key, iv, 12, c, n, back, tag), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_gcm_seal(key, iv, 8, p, n, c, tag), ==, PVS_EINVAL);

    uint8_t iv12[12];
    pvs_gs_gcm_iv12(iv12, 0x01020304, 'C', 'C');
    const uint8_t expect_iv[12] = {4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 'C', 'C'};
    CHECK(memcmp(iv12, expect_iv, 12) == 0);
}

/* ---- framing ------------------------------------------------------------------- */

/* A client packet built the way ControlStream.c's sendMessageEnet and
 * encryptControlMessage do it, with Mbed TLS directly. */
static size_t client_packet(bool v2, uint32_t seq, uint16_t type, const uint8_t *payload,
                            size_t len, uint8_t *out)
{
    uint8_t plain[256];
    pvs_put_le16(plain, type);
    pvs_put_le16(plain + 2, (uint16_t)len);
    memcpy(plain + 4, payload, len);
    uint8_t iv[16] = {0};
    size_t iv_len = 16;
    if (v2) {
        iv[0] = (uint8_t)seq, iv[1] = (uint8_t)(seq >> 8), iv[2] = (uint8_t)(seq >> 16);
        iv[3] = (uint8_t)(seq >> 24), iv[10] = 'C', iv[11] = 'C';
        iv_len = 12;
    } else {
        iv[0] = (uint8_t)seq;
    }
    pvs_put_le16(out, 0x0001);
    pvs_put_le16(out + 2, (uint16_t)(4 + 16 + 4 + len));
    pvs_put_le32(out + 4, seq);
    mbedtls_gcm_context g;
    mbedtls_gcm_init(&g);
    mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, KEY, 128);
    mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, 4 + len, iv, iv_len, NULL, 0, plain,
                              out + 24, 16, out + 8);
    mbedtls_gcm_free(&g);
    return 24 + 4 + len;
}

static void framing(bool v2)
{
    struct pvs_gs_ctl_crypto host = {0};
    pvs_gs_ctl_crypto_init(&host, KEY, v2, true);
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET], payload[PVS_GS_CTL_MAX_PAYLOAD];
    uint16_t type = 0;

    const uint8_t idr[2] = {0, 0};
    size_t n = client_packet(v2, 0, PVS_GS_CTL_IDR_REQUEST, idr, 2, pkt);
    CHECK_INT(pvs_gs_ctl_open(&host, pkt, n, &type, payload, sizeof(payload)), ==, 2);
    CHECK_INT(type, ==, PVS_GS_CTL_IDR_REQUEST);
    const uint8_t ping[8] = {4, 0, 0, 0, 0, 0, 0, 0};
    n = client_packet(v2, 1, PVS_GS_CTL_PERIODIC_PING, ping, 8, pkt);
    CHECK_INT(pvs_gs_ctl_open(&host, pkt, n, &type, payload, sizeof(payload)), ==, 8);
    CHECK(type == PVS_GS_CTL_PERIODIC_PING && memcmp(payload, ping, 8) == 0);

    /* The host's packet, taken apart by hand as decryptControlMessageToV1
     * does: header, tag after it, ciphertext after the tag, 'H' in the IV. */
    uint8_t rumble[PVS_GS_CTL_RUMBLE_BYTES];
    pvs_gs_ctl_rumble(1, 0x1234, 0xfedc, rumble);
    int hn = pvs_gs_ctl_seal(&host, PVS_GS_CTL_RUMBLE, rumble, sizeof(rumble), pkt, sizeof(pkt));
    CHECK_INT(hn, ==, 24 + 4 + 10);
    CHECK(pkt[0] == 1 && pkt[1] == 0 && pkt[2] == hn - 4 && pkt[3] == 0);
    CHECK_INT(pkt[4] | pkt[5] << 8, ==, 0); /* the host's first sequence number */
    uint8_t iv[16] = {0}, plain[64];
    size_t iv_len = v2 ? 12 : 16;
    if (v2)
        iv[10] = 'H', iv[11] = 'C';
    CHECK_INT(pvs_gs_gcm_open(KEY, iv, iv_len, pkt + 24, (size_t)hn - 24, plain, pkt + 8), ==, 0);
    CHECK(plain[0] == 0x0b && plain[1] == 0x01 && plain[2] == 10 && plain[3] == 0);
    /* Rumble: 4 skipped bytes, then controller, low, high (LE16). */
    CHECK(plain[8] == 1 && plain[9] == 0 && plain[10] == 0x34 && plain[11] == 0x12 &&
          plain[12] == 0xdc && plain[13] == 0xfe);
    hn = pvs_gs_ctl_seal(&host, PVS_GS_CTL_RUMBLE, rumble, sizeof(rumble), pkt, sizeof(pkt));
    CHECK_INT(pkt[4], ==, 1);
    CHECK_INT(host.stats.opened, ==, 2);
}

static void test_framing_v2(void) { framing(true); }
static void test_framing_gfe(void) { framing(false); }

static int open_pkt(struct pvs_gs_ctl_crypto *c, const uint8_t *pkt, int n)
{
    uint8_t payload[PVS_GS_CTL_MAX_PAYLOAD];
    uint16_t type;
    return pvs_gs_ctl_open(c, pkt, (size_t)n, &type, payload, sizeof(payload));
}

/* Round trip between the two roles, and everything a receiver must drop. */
static void test_tamper_and_replay(void)
{
    struct pvs_gs_ctl_crypto cli = {0}, host = {0};
    pvs_gs_ctl_crypto_init(&cli, KEY, true, false);
    pvs_gs_ctl_crypto_init(&host, KEY, true, true);
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET], payload[PVS_GS_CTL_MAX_PAYLOAD];
    uint16_t type;
    const uint8_t msg[5] = {1, 2, 3, 4, 5};

    int n = pvs_gs_ctl_seal(&cli, 0x1234, msg, sizeof(msg), pkt, sizeof(pkt));
    CHECK_INT(pvs_gs_ctl_open(&host, pkt, (size_t)n, &type, payload, sizeof(payload)), ==, 5);
    CHECK(type == 0x1234 && memcmp(payload, msg, 5) == 0);
    /* Replayed. */
    CHECK_INT(open_pkt(&host, pkt, n), ==, PVS_EBADDATA);
    CHECK_INT(host.stats.replayed, ==, 1);
    /* Tampered tag, ciphertext, sequence number: the tag does not verify. */
    n = pvs_gs_ctl_seal(&cli, 0x1234, msg, sizeof(msg), pkt, sizeof(pkt));
    for (int at = 4; at < n; at += 7) {
        pkt[at] ^= 0x10;
        CHECK_INT(open_pkt(&host, pkt, n), ==, PVS_EBADDATA);
        pkt[at] ^= 0x10;
    }
    CHECK(host.stats.bad_tag >= 4);
    /* Lengths that disagree, another outer type, runts. */
    pkt[2]++;
    CHECK_INT(open_pkt(&host, pkt, n), ==, PVS_EBADDATA);
    pkt[2]--;
    pkt[0] = 2;
    CHECK_INT(open_pkt(&host, pkt, n), ==, PVS_EBADDATA);
    pkt[0] = 1;
    CHECK_INT(pvs_gs_ctl_open(&host, pkt, 27, &type, payload, sizeof(payload)), ==, PVS_EBADDATA);
    CHECK_INT(host.stats.malformed, ==, 3);
    /* Intact, it still opens. */
    CHECK_INT(open_pkt(&host, pkt, n), ==, 5);
    /* Its own packets do not open as the peer's: the IV names the sender. */
    struct pvs_gs_ctl_crypto host2 = {0};
    pvs_gs_ctl_crypto_init(&host2, KEY, true, true);
    n = pvs_gs_ctl_seal(&host2, 0x1234, msg, sizeof(msg), pkt, sizeof(pkt));
    CHECK_INT(open_pkt(&host, pkt, n), ==, PVS_EBADDATA);
    /* Another key. */
    uint8_t other[16] = {1};
    struct pvs_gs_ctl_crypto stranger = {0};
    pvs_gs_ctl_crypto_init(&stranger, other, true, false);
    stranger.tx_seq = 100;
    n = pvs_gs_ctl_seal(&stranger, 0x1234, msg, sizeof(msg), pkt, sizeof(pkt));
    CHECK_INT(open_pkt(&host, pkt, n), ==, PVS_EBADDATA);
}

/* Packets that overtake each other open once each; older than the window
 * they do not. */
static void test_replay_window(void)
{
    struct pvs_gs_ctl_crypto cli = {0}, host = {0};
    pvs_gs_ctl_crypto_init(&cli, KEY, true, false);
    pvs_gs_ctl_crypto_init(&host, KEY, true, true);
    static uint8_t pkts[1500][PVS_GS_CTL_OVERHEAD + 1];
    int len = 0;
    for (int i = 0; i < 1500; i++) {
        uint8_t b = (uint8_t)i;
        len = pvs_gs_ctl_seal(&cli, 0x0200, &b, 1, pkts[i], sizeof(pkts[i]));
    }
    uint8_t payload[8];
    uint16_t type;
    int ok = 0;
    /* 0..9 in reverse, then 100, then 10..99 late, then 1200: 150 is too old. */
    for (int i = 9; i >= 0; i--)
        ok += pvs_gs_ctl_open(&host, pkts[i], (size_t)len, &type, payload, 8) == 1;
    ok += pvs_gs_ctl_open(&host, pkts[100], (size_t)len, &type, payload, 8) == 1;
    for (int i = 10; i < 100; i++)
        ok += pvs_gs_ctl_open(&host, pkts[i], (size_t)len, &type, payload, 8) == 1;
    CHECK_INT(ok, ==, 101);
    CHECK_INT(pvs_gs_ctl_open(&host, pkts[50], (size_t)len, &type, payload, 8), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_ctl_open(&host, pkts[1200], (size_t)len, &type, payload, 8), ==, 1);
    CHECK_INT(pvs_gs_ctl_open(&host, pkts[150], (size_t)len, &type, payload, 8), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_ctl_open(&host, pkts[300], (size_t)len, &type, payload, 8), ==, 1);
    CHECK_INT(pvs_gs_ctl_open(&host, pkts[300], (size_t)len, &type, payload, 8), ==, PVS_EBADDATA);
    CHECK_INT(host.stats.replayed, ==, 3);
}

/* ---- messages -------------------------------------------------------------------- */

static void test_messages(void)
{
    struct pvs_gs_ctl_msg m;
    uint8_t p[32] = {0};
    le64(p, 100);
    le64(p + 8, 104);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_INVALIDATE_REFS, p, 24, &m), ==, 0);
    CHECK(m.u.invalidate.first == 100 && m.u.invalidate.last == 104);
    le64(p, 105);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_INVALIDATE_REFS, p, 24, &m), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_INVALIDATE_REFS, p, 15, &m), ==, PVS_EBADDATA);

    /* Sunshine's FEC status, big-endian. */
    uint8_t f[21];
    pvs_put_be32(f, 0x01020304);
    for (int i = 0; i < 7; i++)
        pvs_put_be16(f + 4 + 2 * i, (uint16_t)(0x100 * (i + 1) + i));
    f[18] = 20, f[19] = 1, f[20] = 3;
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_FEC_STATUS, f, 21, &m), ==, 0);
    CHECK(m.u.fec.frame == 0x01020304 && m.u.fec.highest_seq == 0x100 &&
          m.u.fec.parity_received == 0x706 && m.u.fec.fec_percent == 20 &&
          m.u.fec.block_index == 1 && m.u.fec.block_count == 3);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_FEC_STATUS, f, 20, &m), ==, PVS_EBADDATA);

    memset(p, 0, sizeof(p));
    pvs_put_le32(p + 4, 50);
    pvs_put_le32(p + 8, 1000);
    le64(p + 12, 777);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_LOSS_STATS, p, 32, &m), ==, 0);
    CHECK_INT(m.u.loss.last_good_frame, ==, 777);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_IDR_REQUEST, p, 2, &m), ==, 0);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_START_B, p, 1, &m), ==, 0);
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_PERIODIC_PING, p, 8, &m), ==, 0);
    CHECK_INT(pvs_gs_ctl_parse(0x7777, p, 8, &m), ==, PVS_ENOTSUP);
    CHECK_INT(m.type, ==, 0x7777);

    uint8_t t[4], h[PVS_GS_CTL_HDR_BYTES];
    pvs_gs_ctl_termination(PVS_GS_TERMINATE_GRACEFUL, t);
    CHECK(t[0] == 0x80 && t[1] == 0x03 && t[2] == 0x00 && t[3] == 0x23);
    const uint16_t md[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xabcd};
    pvs_gs_ctl_hdr_mode(true, md, h);
    CHECK(h[0] == 1 && h[1] == 1 && h[2] == 0 && h[21] == 0xcd && h[22] == 0xab);
    uint8_t rt[6];
    pvs_gs_ctl_rumble_triggers(2, 0x100, 0x200, rt);
    CHECK(rt[0] == 2 && rt[3] == 1 && rt[5] == 2);
}

/* ---- input ------------------------------------------------------------------------ */

/* An input message: BE32 size, LE32 magic, body. */
static size_t input(uint32_t magic, const uint8_t *body, size_t n, uint8_t *out)
{
    pvs_put_be32(out, (uint32_t)(4 + n));
    pvs_put_le32(out + 4, magic);
    memcpy(out + 8, body, n);
    return 8 + n;
}

/* Parses and maps; returns the number of events (-1: did not parse). */
static int decode(struct pvs_gs_input_map *m, const uint8_t *msg, size_t n,
                  struct pvs_gs_input *in, struct pvs_input_event *ev)
{
    struct pvs_gs_ctl_msg cm;
    if (pvs_gs_ctl_parse(PVS_GS_CTL_INPUT, msg, n, &cm) != 0)
        return -1;
    *in = cm.u.input;
    int k = pvs_gs_input_map(m, in, ev, 1);
    if (k == 1) {
        /* What an injector takes: the event survives pvstream's own checks. */
        uint8_t wire[PVS_INPUT_MAX_MESSAGE];
        struct pvs_input_event back;
        int wn = pvs_input_encode(ev, wire, sizeof(wire));
        CHECK(wn > 0);
        CHECK(wn > 0 && pvs_input_parse(wire, (size_t)wn, &back) == 0);
    }
    return k;
}

static void test_input_keyboard_mouse(void)
{
    struct pvs_gs_input_map m = {0};
    struct pvs_gs_input in;
    struct pvs_input_event ev;
    uint8_t msg[64], b[32];

    /* Key: flags, code LE16 (0x80 high byte), modifiers, 2 zero. */
    uint8_t key[6] = {0, 0x41, 0x80, PVS_GS_MOD_SHIFT, 0, 0};
    size_t n = input(PVS_GS_IN_KEY_DOWN, key, 6, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(in.u.key.vk == 0x41 && in.u.key.down && in.u.key.modifiers == PVS_GS_MOD_SHIFT);
    CHECK(ev.type == PVS_INPUT_KEY && ev.u.key.usage == 0x04 && ev.u.key.down);
    key[1] = 0xA5; /* right alt */
    n = input(PVS_GS_IN_KEY_UP, key, 6, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.u.key.usage == 0xE6 && !ev.u.key.down);
    key[1] = 0xFF; /* no key */
    n = input(PVS_GS_IN_KEY_DOWN, key, 6, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK_INT(pvs_gs_vk_to_hid(0x0D), ==, 0x28);
    CHECK_INT(pvs_gs_vk_to_hid(0x70), ==, 0x3A);
    CHECK_INT(pvs_gs_vk_to_hid(0x60), ==, 0x62);
    CHECK_INT(pvs_gs_vk_to_hid(0xDE), ==, 0x34);
    for (int vk = 0; vk < 256; vk++)
        CHECK(pvs_gs_vk_to_hid((uint8_t)vk) <= PVS_INPUT_HID_MAX);

    /* Relative motion, big-endian. */
    pvs_put_be16(b, (uint16_t)-5);
    pvs_put_be16(b + 2, 300);
    n = input(PVS_GS_IN_MOUSE_REL, b, 4, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.type == PVS_INPUT_POINTER_REL && ev.u.rel.dx == -5 && ev.u.rel.dy == 300);

    /* Absolute: the client sends the reference size minus one. */
    memset(b, 0, sizeof(b));
    pvs_put_be16(b, 1919);
    pvs_put_be16(b + 2, 540);
    pvs_put_be16(b + 6, 1919);
    pvs_put_be16(b + 8, 1079);
    n = input(PVS_GS_IN_MOUSE_ABS, b, 10, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.type == PVS_INPUT_POINTER_ABS && ev.u.abs.x == 1919 && ev.u.abs.y == 540 &&
          ev.u.abs.width == 1920 && ev.u.abs.height == 1080);
    pvs_put_be16(b, 2500); /* past the edge: clamped */
    n = input(PVS_GS_IN_MOUSE_ABS, b, 10, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK_INT(ev.u.abs.x, ==, 1919);
    pvs_put_be16(b + 6, (uint16_t)-1);
    n = input(PVS_GS_IN_MOUSE_ABS, b, 10, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);

    /* Buttons 1..5 (left .. X2); 0 and 6 are malformed. */
    for (uint8_t btn = 1; btn <= 5; btn++) {
        n = input(PVS_GS_IN_BUTTON_DOWN, &btn, 1, msg);
        CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
        CHECK(ev.type == PVS_INPUT_BUTTON && ev.u.button.button == btn && ev.u.button.down);
    }
    uint8_t x2 = 5;
    n = input(PVS_GS_IN_BUTTON_UP, &x2, 1, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.u.button.button == PVS_BUTTON_FORWARD && !ev.u.button.down);
    uint8_t six = 6;
    n = input(PVS_GS_IN_BUTTON_DOWN, &six, 1, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, -1);

    /* Scroll (BE16 twice) and Sunshine's horizontal scroll. */
    memset(b, 0, sizeof(b));
    pvs_put_be16(b, 120);
    pvs_put_be16(b + 2, 120);
    n = input(PVS_GS_IN_SCROLL, b, 6, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.type == PVS_INPUT_WHEEL && ev.u.wheel.dy == 120 && ev.u.wheel.dx == 0);
    pvs_put_be16(b, (uint16_t)-30); /* high resolution: a quarter notch */
    n = input(PVS_GS_IN_HSCROLL, b, 2, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.u.wheel.dx == -30 && ev.u.wheel.dy == 0);

    /* Text: parsed, not injected; malformed UTF-8 refused. */
    const char *e = "\xc3\xa9";
    n = input(PVS_GS_IN_UTF8, (const uint8_t *)e, 2, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_TEXT && in.u.text.len == 2 && strcmp(in.u.text.text, e) == 0);
    const uint8_t bad[][3] = {{0xc3, 0x28, 0}, {0xc0, 0x80, 0}, {0xed, 0xa0, 0x80}};
    const size_t bad_len[] = {2, 2, 3};
    for (int i = 0; i < 3; i++) {
        n = input(PVS_GS_IN_UTF8, bad[i], bad_len[i], msg);
        CHECK_INT(decode(&m, msg, n, &in, &ev), ==, -1);
    }
    CHECK(m.mapped >= 12 && m.unmapped >= 3);
}

static size_t pad_state(uint16_t pad, uint16_t active, uint32_t buttons, uint8_t lt,
                        int16_t lx, int16_t ly, uint8_t *msg)
{
    uint8_t b[26] = {0};
    pvs_put_le16(b, 0x1a);
    pvs_put_le16(b + 2, pad);
    pvs_put_le16(b + 4, active);
    pvs_put_le16(b + 6, 0x14);
    pvs_put_le16(b + 8, (uint16_t)buttons);
    b[10] = lt;
    b[11] = 0;
    pvs_put_le16(b + 12, (uint16_t)lx);
    pvs_put_le16(b + 14, (uint16_t)ly);
    pvs_put_le16(b + 20, 0x9c);
    pvs_put_le16(b + 22, (uint16_t)(buttons >> 16));
    pvs_put_le16(b + 24, 0x55);
    return input(PVS_GS_IN_GAMEPAD, b, 26, msg);
}

static void test_input_gamepad(void)
{
    struct pvs_gs_input_map m = {0};
    struct pvs_gs_input in;
    struct pvs_input_event ev;
    uint8_t msg[64];

    size_t n = pad_state(0, 0x1, PVS_GS_PAD_A | PVS_GS_PAD_UP | PVS_GS_PAD_GUIDE |
                         PVS_GS_PAD_START | PVS_GS_PAD_PADDLE1, 200, -32768, 32767, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(in.u.gamepad.buttons & PVS_GS_PAD_PADDLE1);
    CHECK(ev.type == PVS_INPUT_GAMEPAD && ev.u.pad.pad == 0 && ev.u.pad.connected &&
          ev.u.pad.kind == PVS_PAD_KIND_XBOX360);
    CHECK_INT(ev.u.pad.buttons, ==, (1u << PVS_PAD_A) | (1u << PVS_PAD_UP) |
              (1u << PVS_PAD_GUIDE) | (1u << PVS_PAD_START));
    CHECK(ev.u.pad.lt == 200 && ev.u.pad.lx == -32768 && ev.u.pad.ly == 32767);

    /* Arrival of a PlayStation pad as pad 1, then its state: a DS4. */
    uint8_t arr[8] = {1, PVS_GS_PAD_TYPE_PS, 0x3f, 0, 0xff, 0xff, 0x3f, 0};
    n = input(PVS_GS_IN_PAD_ARRIVAL, arr, 8, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.u.arrival.pad == 1 && in.u.arrival.capabilities == 0x3f &&
          in.u.arrival.buttons == 0x3fffff);
    n = pad_state(1, 0x3, PVS_GS_PAD_B, 0, 0, 0, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.u.pad.pad == 1 && ev.u.pad.kind == PVS_PAD_KIND_DS4 &&
          ev.u.pad.buttons == 1u << PVS_PAD_B);
    /* Pad 1 leaves: its bit is clear in the mask. */
    n = pad_state(1, 0x1, 0, 0, 0, 0, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 1);
    CHECK(ev.u.pad.pad == 1 && !ev.u.pad.connected);
    CHECK_INT(m.pads, ==, 1);
    /* Pad 5 has no pvstream pad; pad 16 is malformed. */
    n = pad_state(5, 0x21, PVS_GS_PAD_A, 0, 0, 0, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    n = pad_state(16, 0x1, 0, 0, 0, 0, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, -1);
}

static void put_float(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    pvs_put_le32(p, u);
}

/* Touch, pen and the pads' extras: parsed with their values, no event. */
static void test_input_unmapped(void)
{
    struct pvs_gs_input_map m = {0};
    struct pvs_gs_input in;
    struct pvs_input_event ev;
    uint8_t msg[64], b[28] = {0};

    b[0] = 1; /* down */
    pvs_put_le16(b + 2, 90);
    pvs_put_le32(b + 4, 7);
    put_float(b + 8, 0.25f);
    put_float(b + 12, 0.75f);
    put_float(b + 16, 0.5f);
    size_t n = input(PVS_GS_IN_TOUCH, b, 28, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_TOUCH && in.u.touch.event == 1 && in.u.touch.rotation == 90 &&
          in.u.touch.pointer == 7 && in.u.touch.x == 0.25f && in.u.touch.y == 0.75f &&
          in.u.touch.pressure == 0.5f);

    memset(b, 0, sizeof(b));
    b[0] = 3, b[1] = 1, b[2] = 2;
    put_float(b + 4, 0.125f);
    pvs_put_le16(b + 16, 45);
    b[18] = 30;
    n = input(PVS_GS_IN_PEN, b, 28, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_PEN && in.u.pen.tool == 1 && in.u.pen.buttons == 2 &&
          in.u.pen.x == 0.125f && in.u.pen.rotation == 45 && in.u.pen.tilt == 30);

    memset(b, 0, sizeof(b));
    b[0] = 2, b[1] = 1;
    pvs_put_le32(b + 4, 9);
    put_float(b + 16, 1.0f);
    n = input(PVS_GS_IN_PAD_TOUCH, b, 20, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_PAD_TOUCH && in.u.pad_touch.pad == 2 &&
          in.u.pad_touch.pointer == 9 && in.u.pad_touch.pressure == 1.0f);

    memset(b, 0, sizeof(b));
    b[0] = 3, b[1] = 2;
    put_float(b + 12, -9.81f);
    n = input(PVS_GS_IN_PAD_MOTION, b, 16, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_PAD_MOTION && in.u.motion.type == 2 && in.u.motion.z == -9.81f);

    uint8_t bat[4] = {0, 2, 80, 0};
    n = input(PVS_GS_IN_PAD_BATTERY, bat, 4, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_PAD_BATTERY && in.u.battery.state == 2 &&
          in.u.battery.percent == 80);

    uint8_t hap[2] = {1, 0};
    n = input(PVS_GS_IN_HAPTICS, hap, 2, msg);
    CHECK_INT(decode(&m, msg, n, &in, &ev), ==, 0);
    CHECK(in.kind == PVS_GS_INPUT_HAPTICS && in.u.haptics.enable);
    CHECK_INT(m.unmapped, ==, 6);
    CHECK_INT(m.mapped, ==, 0);
}

/* Every kind, one byte short (size field kept consistent), is refused; so
 * is a size field that disagrees, and an unknown magic. */
static void test_input_truncated(void)
{
    const struct { uint32_t magic; size_t body; } kinds[] = {
        {PVS_GS_IN_KEY_DOWN, 6}, {PVS_GS_IN_MOUSE_ABS, 10}, {PVS_GS_IN_MOUSE_REL, 4},
        {PVS_GS_IN_BUTTON_DOWN, 1}, {PVS_GS_IN_SCROLL, 6}, {PVS_GS_IN_HSCROLL, 2},
        {PVS_GS_IN_GAMEPAD, 26}, {PVS_GS_IN_HAPTICS, 2}, {PVS_GS_IN_UTF8, 1},
        {PVS_GS_IN_TOUCH, 28}, {PVS_GS_IN_PEN, 28}, {PVS_GS_IN_PAD_ARRIVAL, 8},
        {PVS_GS_IN_PAD_TOUCH, 20}, {PVS_GS_IN_PAD_MOTION, 16}, {PVS_GS_IN_PAD_BATTERY, 4},
    };
    uint8_t body[32], msg[64];
    memset(body, 0, sizeof(body));
    body[0] = 1; /* a valid button; pad 1 */
    struct pvs_gs_input in;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = input(kinds[i].magic, body, kinds[i].body, msg);
        CHECK_INT(pvs_gs_input_parse(msg, n, &in), ==, 0);
        n = input(kinds[i].magic, body, kinds[i].body - 1, msg);
        CHECK_INT(pvs_gs_input_parse(msg, n, &in), ==, PVS_EBADDATA);
        /* Longer is fine: a later client may append. */
        n = input(kinds[i].magic, body, kinds[i].body + 1, msg);
        CHECK_INT(pvs_gs_input_parse(msg, n, &in), ==, 0);
    }
    size_t n = input(PVS_GS_IN_MOUSE_REL, body, 4, msg);
    pvs_put_be32(msg, 9);
    CHECK_INT(pvs_gs_input_parse(msg, n, &in), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_input_parse(msg, 7, &in), ==, PVS_EBADDATA);
    n = input(0x12345678, body, 4, msg);
    CHECK_INT(pvs_gs_input_parse(msg, n, &in), ==, PVS_ENOTSUP);
    struct pvs_gs_ctl_msg cm;
    CHECK_INT(pvs_gs_ctl_parse(PVS_GS_CTL_INPUT, msg, n, &cm), ==, PVS_EBADDATA);
}

/* ---- over ENet -------------------------------------------------------------------- */

struct client {
    ENetHost *host;
    ENetPeer *peer;
    struct pvs_gs_ctl_crypto crypto;
};

/* Services both ends until the server gives an event (or 3 s pass). */
static int next_event(struct pvs_gs_control *srv, struct client *c, struct pvs_gs_control_event *ev)
{
    int64_t deadline = pvs_time_ns() + 3000000000ll;
    while (pvs_time_ns() < deadline) {
        ENetEvent e;
        while (c->host && enet_host_service(c->host, &e, 0) > 0)
            if (e.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(e.packet);
        int r = pvs_gs_control_service(srv, 5, ev);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Services both ends until the server has refused `want` connections in
 * all (or 3 s pass). */
static void wait_refused(struct pvs_gs_control *srv, struct client *c, uint64_t want)
{
    int64_t deadline = pvs_time_ns() + 3000000000ll;
    struct pvs_gs_control_stats st = {0};
    while (st.refused < want && pvs_time_ns() < deadline) {
        struct pvs_gs_control_event ev;
        ENetEvent e;
        while (enet_host_service(c->host, &e, 0) > 0)
            if (e.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(e.packet);
        CHECK_INT(pvs_gs_control_service(srv, 5, &ev), ==, 0);
        pvs_gs_control_get_stats(srv, &st);
    }
    CHECK_INT(st.refused, ==, want);
}

static bool client_connect(struct client *c, uint16_t port, uint32_t data)
{
    memset(c, 0, sizeof(*c));
    c->host = enet_host_create(NULL, 1, PVS_GS_CTL_CHANNELS, 0, 0);
    ENetAddress a;
    enet_address_set_host(&a, "127.0.0.1");
    a.port = port;
    c->peer = c->host ? enet_host_connect(c->host, &a, PVS_GS_CTL_CHANNELS, data) : NULL;
    pvs_gs_ctl_crypto_init(&c->crypto, KEY, true, false);
    return c->peer != NULL;
}

static void client_send(struct client *c, uint8_t channel, uint16_t type, const uint8_t *p,
                        size_t n)
{
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET];
    int len = pvs_gs_ctl_seal(&c->crypto, type, p, n, pkt, sizeof(pkt));
    ENetPacket *ep = enet_packet_create(pkt, (size_t)len, ENET_PACKET_FLAG_RELIABLE);
    enet_peer_send(c->peer, channel, ep);
    enet_host_flush(c->host);
}

/* Waits for one packet at the client and opens it. Returns its payload
 * length or -1. */
static int client_receive(struct pvs_gs_control *srv, struct client *c, uint16_t *type,
                          uint8_t *payload, size_t cap)
{
    int64_t deadline = pvs_time_ns() + 3000000000ll;
    while (pvs_time_ns() < deadline) {
        struct pvs_gs_control_event ev;
        pvs_gs_control_service(srv, 2, &ev);
        ENetEvent e;
        if (enet_host_service(c->host, &e, 2) > 0 && e.type == ENET_EVENT_TYPE_RECEIVE) {
            int n = pvs_gs_ctl_open(&c->crypto, e.packet->data, e.packet->dataLength, type,
                                    payload, cap);
            enet_packet_destroy(e.packet);
            return n;
        }
    }
    return -1;
}

static void client_close(struct client *c)
{
    if (c->host)
        enet_host_destroy(c->host);
    c->host = NULL;
}

static void test_enet(void)
{
    struct pvs_gs_control_config cfg = {.bind_host = "127.0.0.1", .port = 0,
                                        .peer_timeout_ms = 3000};
    struct pvs_gs_control *srv = NULL;
    CHECK_INT(pvs_gs_control_open(&srv, &cfg), ==, 0);
    if (!srv)
        return;
    uint16_t port = pvs_gs_control_port(srv);
    struct pvs_gs_control_event ev;
    struct client c;

    /* Not armed: refused. */
    CHECK(client_connect(&c, port, 1234));
    wait_refused(srv, &c, 1);
    client_close(&c);

    struct pvs_addr me;
    pvs_addr_resolve(&me, "127.0.0.1", 0);
    pvs_gs_control_arm(srv, KEY, true, 0xC0FFEE, &me);
    /* Wrong connect data: refused. */
    CHECK(client_connect(&c, port, 0xC0FFEF));
    wait_refused(srv, &c, 2);
    client_close(&c);
    CHECK(!pvs_gs_control_connected(srv));

    CHECK(client_connect(&c, port, 0xC0FFEE));
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK_INT(ev.type, ==, PVS_GS_CONTROL_EV_CONNECTED);
    CHECK(pvs_gs_control_connected(srv));

    /* Start A (an IDR request) and start B, then a key on the keyboard
     * channel and a mouse move on the mouse channel. */
    const uint8_t zero[2] = {0, 0};
    client_send(&c, PVS_GS_CTL_CHANNEL_URGENT, PVS_GS_CTL_IDR_REQUEST, zero, 2);
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK(ev.type == PVS_GS_CONTROL_EV_MESSAGE && ev.msg.type == PVS_GS_CTL_IDR_REQUEST);
    client_send(&c, PVS_GS_CTL_CHANNEL_GENERIC, PVS_GS_CTL_START_B, zero, 1);
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK_INT(ev.msg.type, ==, PVS_GS_CTL_START_B);
    uint8_t msg[64];
    uint8_t key[6] = {0, 0x5A, 0x80, 0, 0, 0};
    size_t n = input(PVS_GS_IN_KEY_DOWN, key, 6, msg);
    client_send(&c, PVS_GS_CTL_CHANNEL_KEYBOARD, PVS_GS_CTL_INPUT, msg, n);
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK(ev.msg.type == PVS_GS_CTL_INPUT && ev.input_count == 1 &&
          ev.input.type == PVS_INPUT_KEY && ev.input.u.key.usage == 0x1D);
    uint8_t rel[4];
    pvs_put_be16(rel, 3);
    pvs_put_be16(rel + 2, 4);
    n = input(PVS_GS_IN_MOUSE_REL, rel, 4, msg);
    client_send(&c, PVS_GS_CTL_CHANNEL_MOUSE, PVS_GS_CTL_INPUT, msg, n);
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK(ev.input_count == 1 && ev.input.type == PVS_INPUT_POINTER_REL && ev.input.u.rel.dy == 4);

    /* A forged packet is dropped without an event. */
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET];
    int len = pvs_gs_ctl_seal(&c.crypto, PVS_GS_CTL_IDR_REQUEST, zero, 2, pkt, sizeof(pkt));
    pkt[len - 1] ^= 1;
    enet_peer_send(c.peer, 0, enet_packet_create(pkt, (size_t)len, ENET_PACKET_FLAG_RELIABLE));
    enet_host_flush(c.host);
    client_send(&c, PVS_GS_CTL_CHANNEL_GENERIC, PVS_GS_CTL_PERIODIC_PING, zero, 2);
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK_INT(ev.msg.type, ==, PVS_GS_CTL_PERIODIC_PING);

    /* Rumble and termination to the client. */
    CHECK_INT(pvs_gs_control_send_rumble(srv, 0, 0x8000, 0x4000), ==, 0);
    uint16_t type = 0;
    uint8_t payload[64];
    CHECK_INT(client_receive(srv, &c, &type, payload, sizeof(payload)), ==,
              PVS_GS_CTL_RUMBLE_BYTES);
    CHECK(type == PVS_GS_CTL_RUMBLE && payload[4] == 0 && payload[7] == 0x80 && payload[9] == 0x40);
    CHECK_INT(pvs_gs_control_send_termination(srv, PVS_GS_TERMINATE_GRACEFUL), ==, 0);
    CHECK_INT(client_receive(srv, &c, &type, payload, sizeof(payload)), ==, 4);
    CHECK_INT(type, ==, PVS_GS_CTL_TERMINATION);

    /* Disarming drops the client. */
    pvs_gs_control_disarm(srv);
    CHECK_INT(next_event(srv, &c, &ev), ==, 1);
    CHECK_INT(ev.type, ==, PVS_GS_CONTROL_EV_DISCONNECTED);
    CHECK(!pvs_gs_control_connected(srv));
    CHECK_INT(pvs_gs_control_send_rumble(srv, 0, 1, 1), ==, PVS_EAGAIN);
    client_close(&c);

    struct pvs_gs_control_stats st;
    pvs_gs_control_get_stats(srv, &st);
    CHECK_INT(st.refused, ==, 2);
    CHECK_INT(st.connects, ==, 1);
    CHECK_INT(st.messages, ==, 5);
    CHECK_INT(st.crypto.bad_tag, ==, 1);
    CHECK_INT(st.sent, ==, 2);
    pvs_gs_control_close(&srv);
    CHECK(srv == NULL);
}

int main(void)
{
    pvs_log_set_level(PVS_LOG_ERROR);
    RUN(test_gcm_vectors);
    RUN(test_framing_v2);
    RUN(test_framing_gfe);
    RUN(test_tamper_and_replay);
    RUN(test_replay_window);
    RUN(test_messages);
    RUN(test_input_keyboard_mouse);
    RUN(test_input_gamepad);
    RUN(test_input_unmapped);
    RUN(test_input_truncated);
    RUN(test_enet);
    TEST_EXIT();
}
