/* Control messages: exact bytes against docs/protocol.md, round trips,
 * length and range checks, and sealing (tamper, replay, channel, key). */
#include <string.h>

#include "common/error.h"
#include "net/control_msg.h"
#include "tests/unit/test.h"

static int encode(const struct pvs_ctl_msg *m, uint8_t *buf)
{
    return pvs_ctl_encode(m, buf, PVS_CTL_MAX_MESSAGE);
}

static struct pvs_ctl_msg hello_msg(void)
{
    struct pvs_ctl_msg m = {.type = PVS_CTL_HELLO};
    m.u.hello = (struct pvs_ctl_hello){
        .version_min = 1, .version_max = 0x0203,
        .codecs = PVS_CTL_CODEC_BIT_H264 | PVS_CTL_CODEC_BIT_AV1,
        .max_width = 3840, .max_height = 2160, .max_fps = 144,
        .max_datagram = 1400, .media_port = 47102,
    };
    for (int i = 0; i < PVS_HANDSHAKE_PUBLIC_BYTES; i++) {
        m.u.hello.public_key[i] = (uint8_t)(0xa0 + i);
        m.u.hello.static_key[i] = (uint8_t)(0x10 + i);
    }
    for (int i = 0; i < PVS_HANDSHAKE_TAG_BYTES; i++)
        m.u.hello.tag[i] = (uint8_t)(0xe0 + i);
    return m;
}

static struct pvs_ctl_msg stream_msg(void)
{
    struct pvs_ctl_msg m = {.type = PVS_CTL_STREAM};
    m.u.stream = (struct pvs_ctl_stream){
        .codec = PVS_CTL_CODEC_HEVC, .width = 1920, .height = 1080,
        .fps = 60, .bitrate = 20000000, .datagram_size = 1400,
        .fec_percent = 20, .fec_min_parity = 2, .media_port = 47101,
        .ssrc = 0xdeadbeef, .generation = 7,
        .audio_ssrc = 0x0a0b0c0d, .audio_frame = 240, .audio_channels = 2,
        .audio_redundancy = 1, .audio_bitrate = 96000,
    };
    return m;
}

static void test_hello_bytes(void)
{
    struct pvs_ctl_msg m = hello_msg();
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    CHECK_INT(encode(&m, b), ==, 105);
    static const uint8_t want[25] = {
        0x01,                    /* type */
        'P', 'V', 'S', '1',      /* 0 magic */
        0x00, 0x01,              /* 4 lowest version */
        0x02, 0x03,              /* 6 highest version */
        0x00, 0x00, 0x00, 0x05,  /* 8 codecs: H.264 | AV1 */
        0x0f, 0x00,              /* 12 width 3840 */
        0x08, 0x70,              /* 14 height 2160 */
        0x00, 0x90,              /* 16 fps 144 */
        0x05, 0x78,              /* 18 datagram 1400 */
        0xb7, 0xfe,              /* 20 media port 47102 */
        0x00, 0x00,              /* 22 reserved */
    };
    CHECK(memcmp(b, want, sizeof(want)) == 0);
    CHECK_INT(b[1 + 24], ==, 0xa0);
    CHECK_INT(b[1 + 55], ==, 0xa0 + 31);
    /* version 2: the static key at 56, the tag at 88 */
    CHECK_INT(b[1 + 56], ==, 0x10);
    CHECK_INT(b[1 + 87], ==, 0x10 + 31);
    CHECK_INT(b[1 + 88], ==, 0xe0);
    CHECK_INT(b[1 + 103], ==, 0xe0 + 15);

    struct pvs_ctl_msg got;
    CHECK_INT(pvs_ctl_parse_clear(b, 105, &got), ==, 0);
    CHECK_INT(got.type, ==, PVS_CTL_HELLO);
    CHECK(memcmp(&got.u.hello, &m.u.hello, sizeof(m.u.hello)) == 0);
    /* Shorter: every truncation dropped. Longer: accepted. */
    for (size_t n = 0; n < 105; n++)
        CHECK_INT(pvs_ctl_parse_clear(b, n, &got), ==, PVS_EBADDATA);
    memset(b + 105, 0x55, 20);
    CHECK_INT(pvs_ctl_parse_clear(b, 125, &got), ==, 0);
    /* Reserved bytes are ignored. */
    b[1 + 22] = 0xff;
    CHECK_INT(pvs_ctl_parse_clear(b, 105, &got), ==, 0);
    /* A version-1 HELLO is 56 bytes, without static key and tag. */
    struct pvs_ctl_msg v1 = hello_msg();
    v1.u.hello.version_max = 1;
    CHECK_INT(encode(&v1, b), ==, 57);
    CHECK_INT(pvs_ctl_parse_clear(b, 57, &got), ==, 0);
    memset(v1.u.hello.static_key, 0, sizeof(v1.u.hello.static_key));
    memset(v1.u.hello.tag, 0, sizeof(v1.u.hello.tag));
    CHECK(memcmp(&got.u.hello, &v1.u.hello, sizeof(v1.u.hello)) == 0);
    /* one that speaks 2 must carry them */
    b[1 + 7] = 2;
    CHECK_INT(pvs_ctl_parse_clear(b, 57, &got), ==, PVS_EBADDATA);
    CHECK(encode(&m, b) == 105);
    /* Inner parser refuses a clear type. */
    CHECK_INT(pvs_ctl_parse_inner(b, 105, &got), ==, PVS_EBADDATA);
}

static void test_hello_ranges(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m = hello_msg(), got;
    CHECK_INT(encode(&m, b), ==, 105);

    uint8_t bad[128];
    memcpy(bad, b, 105);
    bad[1] = 'X'; /* magic */
    CHECK_INT(pvs_ctl_parse_clear(bad, 105, &got), ==, PVS_EBADDATA);

    /* datagram size 575 and 9001 out, 576 and 9000 in */
    static const uint16_t sizes[4] = {575, 9001, 576, 9000};
    for (int i = 0; i < 4; i++) {
        memcpy(bad, b, 105);
        bad[1 + 18] = (uint8_t)(sizes[i] >> 8);
        bad[1 + 19] = (uint8_t)sizes[i];
        CHECK_INT(pvs_ctl_parse_clear(bad, 105, &got), ==, i < 2 ? PVS_EBADDATA : 0);
    }
    /* lowest version above highest; version 0 */
    memcpy(bad, b, 105);
    bad[1 + 4] = 0x03;
    bad[1 + 5] = 0x00;
    CHECK_INT(pvs_ctl_parse_clear(bad, 105, &got), ==, PVS_EBADDATA);
    memcpy(bad, b, 105);
    bad[1 + 5] = 0;
    CHECK_INT(pvs_ctl_parse_clear(bad, 105, &got), ==, PVS_EBADDATA);
    /* media port 0 */
    memcpy(bad, b, 105);
    bad[1 + 20] = bad[1 + 21] = 0;
    CHECK_INT(pvs_ctl_parse_clear(bad, 105, &got), ==, PVS_EBADDATA);

    /* The encoder refuses what the parser would drop. */
    m.u.hello.max_datagram = 9001;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    m = hello_msg();
    m.u.hello.version_min = 3;
    m.u.hello.version_max = 2;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    m = hello_msg();
    CHECK_INT(pvs_ctl_encode(&m, b, 56), ==, PVS_EINVAL); /* no room */
}

/* The display fields: appended at 104 when the client says a mode, absent
 * (and read as zeros) otherwise; a server from before them reads the first
 * 104 bytes and skips the rest, as it skips any longer body. */
static void test_hello_display(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m = hello_msg(), got;
    m.u.hello.version_max = 2;
    m.u.hello.display_width = 2560;
    m.u.hello.display_height = 1440;
    m.u.hello.display_hz = 120;
    m.u.hello.display_flags = PVS_CTL_DISPLAY_USER;
    CHECK_INT(encode(&m, b), ==, 1 + PVS_CTL_HELLO_DISPLAY_BODY);
    static const uint8_t want[8] = {
        0x0a, 0x00, /* 104 width 2560 */
        0x05, 0xa0, /* 106 height 1440 */
        0x00, 0x78, /* 108 refresh 120 */
        0x02,       /* 110 flags: the user's */
        0x00,       /* 111 reserved */
    };
    CHECK(memcmp(b + 1 + 104, want, sizeof(want)) == 0);
    CHECK_INT(b[1 + 88], ==, 0xe0); /* the tag stays where it was */
    CHECK_INT(pvs_ctl_parse_clear(b, 113, &got), ==, 0);
    CHECK(memcmp(&got.u.hello, &m.u.hello, sizeof(m.u.hello)) == 0);

    /* What an older server reads: the 104-byte HELLO, the mode ignored. */
    CHECK_INT(pvs_ctl_parse_clear(b, 105, &got), ==, 0);
    CHECK_INT(got.u.hello.display_width, ==, 0);
    CHECK_INT(got.u.hello.display_hz, ==, 0);
    /* 105..111 body bytes: the display fields are not read in part. */
    for (size_t n = 106; n < 113; n++) {
        CHECK_INT(pvs_ctl_parse_clear(b, n, &got), ==, 0);
        CHECK_INT(got.u.hello.display_width, ==, 0);
    }

    /* Refresh alone (a headless client with --fps) is sent; nothing said
     * keeps the 104-byte body. */
    m.u.hello.display_width = m.u.hello.display_height = 0;
    m.u.hello.display_flags = 0;
    m.u.hello.display_hz = 60;
    CHECK_INT(encode(&m, b), ==, 113);
    m.u.hello.display_hz = 0;
    CHECK_INT(encode(&m, b), ==, 105);

    /* A width without a height (or the reverse) is dropped and never sent. */
    m.u.hello.display_width = 1920;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    m.u.hello.display_height = 1080;
    CHECK_INT(encode(&m, b), ==, 113);
    b[1 + 106] = b[1 + 107] = 0;
    CHECK_INT(pvs_ctl_parse_clear(b, 113, &got), ==, PVS_EBADDATA);
    /* Unknown flag bits are kept (a later client may say more). */
    CHECK_INT(encode(&m, b), ==, 113);
    b[1 + 110] = 0xff;
    CHECK_INT(pvs_ctl_parse_clear(b, 113, &got), ==, 0);
    CHECK_INT(got.u.hello.display_flags, ==, 0xff);
    /* A version-1 HELLO has no room for them: they are not written. */
    m.u.hello.version_max = 1;
    CHECK_INT(encode(&m, b), ==, 57);
}

static void test_welcome_refuse(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m = {.type = PVS_CTL_WELCOME}, got;
    m.u.welcome.version = 1;
    memset(m.u.welcome.public_key, 0x42, 32);
    CHECK_INT(encode(&m, b), ==, 41);
    static const uint8_t want[9] = {0x02, 'P', 'V', 'S', '1', 0, 1, 0, 0};
    CHECK(memcmp(b, want, 9) == 0);
    CHECK_INT(b[9], ==, 0x42);
    CHECK_INT(b[40], ==, 0x42);
    CHECK_INT(pvs_ctl_parse_clear(b, 41, &got), ==, 0);
    CHECK(memcmp(&got.u.welcome, &m.u.welcome, sizeof(m.u.welcome)) == 0);
    CHECK_INT(pvs_ctl_parse_clear(b, 40, &got), ==, PVS_EBADDATA);
    b[6] = 0; /* version 0 */
    CHECK_INT(pvs_ctl_parse_clear(b, 41, &got), ==, PVS_EBADDATA);

    /* Version 2: 56 bytes of body, the tag at 40. */
    m.u.welcome.version = 2;
    memset(m.u.welcome.tag, 0x77, sizeof(m.u.welcome.tag));
    m.u.welcome.tag[15] = 0x78;
    CHECK_INT(encode(&m, b), ==, 57);
    static const uint8_t want2[9] = {0x02, 'P', 'V', 'S', '1', 0, 2, 0, 0};
    CHECK(memcmp(b, want2, 9) == 0);
    CHECK_INT(b[1 + 39], ==, 0x42);
    CHECK_INT(b[1 + 40], ==, 0x77);
    CHECK_INT(b[1 + 55], ==, 0x78);
    CHECK_INT(pvs_ctl_parse_clear(b, 57, &got), ==, 0);
    CHECK(memcmp(&got.u.welcome, &m.u.welcome, sizeof(m.u.welcome)) == 0);
    CHECK_INT(pvs_ctl_parse_clear(b, 56, &got), ==, PVS_EBADDATA);
    CHECK_INT(pvs_ctl_parse_clear(b, 41, &got), ==, PVS_EBADDATA);

    /* The new refusals: 6 not paired, 7 authentication failed. */
    for (uint8_t reason = PVS_CTL_REFUSE_NOT_PAIRED; reason <= PVS_CTL_REFUSE_AUTH; reason++) {
        m = (struct pvs_ctl_msg){.type = PVS_CTL_REFUSE};
        m.u.refuse.reason = reason;
        m.u.refuse.text_len = 2;
        memcpy(m.u.refuse.text, "no", 2);
        CHECK_INT(encode(&m, b), ==, 5);
        static const uint8_t w6[5] = {0x03, 6, 2, 'n', 'o'};
        CHECK_INT(b[1], ==, reason);
        CHECK(memcmp(b + 2, w6 + 2, 3) == 0);
        CHECK_INT(pvs_ctl_parse_clear(b, 5, &got), ==, 0);
        CHECK_INT(got.u.refuse.reason, ==, reason);
    }
    CHECK_INT(PVS_CTL_REFUSE_NOT_PAIRED, ==, 6);
    CHECK_INT(PVS_CTL_REFUSE_AUTH, ==, 7);
    CHECK_INT(PVS_CTL_VERSION, ==, 2);

    m = (struct pvs_ctl_msg){.type = PVS_CTL_REFUSE};
    m.u.refuse.reason = PVS_CTL_REFUSE_BUSY;
    const char *text = "another client (10.0.0.5) is streaming";
    m.u.refuse.text_len = (uint8_t)strlen(text);
    memcpy(m.u.refuse.text, text, strlen(text));
    int n = encode(&m, b);
    CHECK_INT(n, ==, 3 + (int)strlen(text));
    CHECK_INT(b[0], ==, 0x03);
    CHECK_INT(b[1], ==, 1);
    CHECK_INT(b[2], ==, strlen(text));
    CHECK(memcmp(b + 3, text, strlen(text)) == 0);
    CHECK_INT(pvs_ctl_parse_clear(b, (size_t)n, &got), ==, 0);
    CHECK_INT(got.u.refuse.reason, ==, 1);
    CHECK(strcmp(got.u.refuse.text, text) == 0);
    /* The text longer than the body: dropped. */
    CHECK_INT(pvs_ctl_parse_clear(b, (size_t)n - 1, &got), ==, PVS_EBADDATA);
    /* Text length over 200, even with the bytes there. */
    uint8_t big[260] = {0x03, 2, 201};
    memset(big + 3, 'a', 201);
    CHECK_INT(pvs_ctl_parse_clear(big, 204, &got), ==, PVS_EBADDATA);
    big[2] = 200;
    CHECK_INT(pvs_ctl_parse_clear(big, 204, &got), ==, 0);
    CHECK_INT(strlen(got.u.refuse.text), ==, 200);
    /* Control characters are defused; reason 0 is dropped. */
    uint8_t ctl[6] = {0x03, 5, 3, 'a', '\n', 0};
    CHECK_INT(pvs_ctl_parse_clear(ctl, 6, &got), ==, 0);
    CHECK(strcmp(got.u.refuse.text, "a??") == 0);
    ctl[1] = 0;
    CHECK_INT(pvs_ctl_parse_clear(ctl, 6, &got), ==, PVS_EBADDATA);
    /* An empty REFUSE is two bytes of body. */
    uint8_t empty[3] = {0x03, 3, 0};
    CHECK_INT(pvs_ctl_parse_clear(empty, 3, &got), ==, 0);
    CHECK_INT(pvs_ctl_parse_clear(empty, 2, &got), ==, PVS_EBADDATA);
    /* The encoder refuses a text over 200. */
    m.u.refuse.text_len = 201;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);

    /* Other types in the clear. */
    uint8_t other[64] = {0x10};
    CHECK_INT(pvs_ctl_parse_clear(other, 64, &got), ==, PVS_EBADDATA);
    other[0] = 0x80;
    CHECK_INT(pvs_ctl_parse_clear(other, 64, &got), ==, PVS_EBADDATA);
    CHECK_INT(pvs_ctl_parse_clear(other, 0, &got), ==, PVS_EBADDATA);
}

static void test_stream_bytes(void)
{
    struct pvs_ctl_msg m = stream_msg(), got;
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    CHECK_INT(encode(&m, b), ==, 41);
    static const uint8_t want[41] = {
        0x10,                    /* inner type */
        0x02,                    /* 0 codec HEVC */
        0x00,                    /* 1 reserved */
        0x07, 0x80,              /* 2 width 1920 */
        0x04, 0x38,              /* 4 height 1080 */
        0x00, 0x3c,              /* 6 fps 60 */
        0x01, 0x31, 0x2d, 0x00,  /* 8 bitrate 20,000,000 */
        0x05, 0x78,              /* 12 datagram 1400 */
        0x14,                    /* 14 FEC 20 % */
        0x02,                    /* 15 min parity 2 */
        0xb7, 0xfd,              /* 16 media port 47101 */
        0x00, 0x00,              /* 18 reserved */
        0xde, 0xad, 0xbe, 0xef,  /* 20 SSRC */
        0x00, 0x00, 0x00, 0x07,  /* 24 generation */
        0x0a, 0x0b, 0x0c, 0x0d,  /* 28 audio SSRC */
        0x00, 0xf0,              /* 32 audio frame 240 */
        0x02,                    /* 34 channels */
        0x01,                    /* 35 redundancy */
        0x00, 0x01, 0x77, 0x00,  /* 36 audio bitrate 96,000 */
    };
    CHECK(memcmp(b, want, sizeof(want)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 41, &got), ==, 0);
    CHECK_INT(got.type, ==, PVS_CTL_STREAM);
    CHECK(memcmp(&got.u.stream, &m.u.stream, sizeof(m.u.stream)) == 0);
    for (size_t n = 0; n < 29; n++)
        CHECK_INT(pvs_ctl_parse_inner(b, n, &got), ==, PVS_EBADDATA);
    CHECK_INT(pvs_ctl_parse_inner(b, 100, &got), ==, 0); /* longer */
    CHECK_INT(pvs_ctl_parse_clear(b, 41, &got), ==, PVS_EBADDATA);
    /* A 28-byte STREAM (no audio part) and one cut inside the audio part
     * both parse, without audio. */
    for (size_t n = 29; n < 41; n++) {
        CHECK_INT(pvs_ctl_parse_inner(b, n, &got), ==, 0);
        CHECK_INT(got.u.stream.audio_ssrc, ==, 0);
        CHECK_INT(got.u.stream.generation, ==, 7);
    }

    uint8_t bad[41];
    static const uint8_t codecs[5] = {0, 4, 1, 2, 3};
    for (int i = 0; i < 5; i++) {
        memcpy(bad, b, 41);
        bad[1] = codecs[i];
        CHECK_INT(pvs_ctl_parse_inner(bad, 41, &got), ==, i < 2 ? PVS_EBADDATA : 0);
    }
    memcpy(bad, b, 41);
    bad[13] = 0x02; /* datagram 0x0278 = 632: fine */
    CHECK_INT(pvs_ctl_parse_inner(bad, 41, &got), ==, 0);
    bad[13] = 0x01; /* 0x0178 = 376: too small */
    CHECK_INT(pvs_ctl_parse_inner(bad, 41, &got), ==, PVS_EBADDATA);
    memcpy(bad, b, 41);
    memset(bad + 25, 0, 4); /* generation 0 */
    CHECK_INT(pvs_ctl_parse_inner(bad, 41, &got), ==, PVS_EBADDATA);
    /* Audio fields out of range: a frame Opus lacks, mono, redundancy 3,
     * bitrate 0, the video's SSRC. */
    static const struct { int at; uint8_t v; } audio_bad[] = {
        {34, 0xef}, {35, 1}, {36, 3}, {40, 0}, {29, 0xde},
    };
    for (size_t i = 0; i < sizeof(audio_bad) / sizeof(audio_bad[0]); i++) {
        memcpy(bad, b, 41);
        bad[audio_bad[i].at] = audio_bad[i].v;
        if (audio_bad[i].at == 40)
            memset(bad + 37, 0, 4);
        if (audio_bad[i].at == 29)
            memcpy(bad + 29, b + 21, 4);
        CHECK_INT(pvs_ctl_parse_inner(bad, 41, &got), ==, PVS_EBADDATA);
    }
    memcpy(bad, b, 41);
    memset(bad + 29, 0, 12); /* no audio: the rest is not checked */
    CHECK_INT(pvs_ctl_parse_inner(bad, 41, &got), ==, 0);

    m.u.stream.audio_frame = 100;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    m.u.stream.audio_frame = 240;
    m.u.stream.codec = 4;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
}

static void test_small_messages(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m, got;

    m = (struct pvs_ctl_msg){.type = PVS_CTL_KEYFRAME_REQUEST};
    m.u.keyframe_request = (struct pvs_ctl_keyframe_request){0x01020304, 2};
    CHECK_INT(encode(&m, b), ==, 6);
    static const uint8_t kf[6] = {0x11, 1, 2, 3, 4, 2};
    CHECK(memcmp(b, kf, 6) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 6, &got), ==, 0);
    CHECK_INT(got.u.keyframe_request.last_frame, ==, 0x01020304);
    CHECK_INT(got.u.keyframe_request.reason, ==, 2);
    CHECK_INT(pvs_ctl_parse_inner(b, 5, &got), ==, PVS_EBADDATA);
    b[5] = 4;
    CHECK_INT(pvs_ctl_parse_inner(b, 6, &got), ==, PVS_EBADDATA);

    m = (struct pvs_ctl_msg){.type = PVS_CTL_STATS};
    m.u.stats = (struct pvs_ctl_stats){
        .packets_received = 0x0102030405060708ull, .packets_recovered = 9,
        .packets_lost = 10, .frames_complete = 11, .frames_dropped = 12,
        .jitter_us = 13, .decode_us = 0xa0b0c0d0,
    };
    CHECK_INT(encode(&m, b), ==, 41);
    CHECK_INT(b[0], ==, 0x12);
    CHECK_INT(b[1], ==, 1);
    CHECK_INT(b[8], ==, 8);
    CHECK_INT(b[16], ==, 9);
    CHECK_INT(b[24], ==, 10);
    CHECK_INT(b[28], ==, 11);
    CHECK_INT(b[32], ==, 12);
    CHECK_INT(b[36], ==, 13);
    CHECK_INT(b[37], ==, 0xa0);
    CHECK_INT(b[40], ==, 0xd0);
    CHECK_INT(pvs_ctl_parse_inner(b, 41, &got), ==, 0);
    CHECK(memcmp(&got.u.stats, &m.u.stats, sizeof(m.u.stats)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 40, &got), ==, PVS_EBADDATA);

    m = (struct pvs_ctl_msg){.type = PVS_CTL_PING};
    m.u.ping = (struct pvs_ctl_ping){7, 0x1122334455667788ull};
    CHECK_INT(encode(&m, b), ==, 13);
    static const uint8_t ping[13] = {0x13, 0, 0, 0, 7, 0x11, 0x22, 0x33, 0x44,
                                     0x55, 0x66, 0x77, 0x88};
    CHECK(memcmp(b, ping, 13) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 13, &got), ==, 0);
    CHECK(got.u.ping.clock_us == m.u.ping.clock_us && got.u.ping.id == 7);
    CHECK_INT(pvs_ctl_parse_inner(b, 12, &got), ==, PVS_EBADDATA);

    m = (struct pvs_ctl_msg){.type = PVS_CTL_PONG};
    m.u.pong = (struct pvs_ctl_pong){8, 0x1122334455667788ull, 0x99};
    CHECK_INT(encode(&m, b), ==, 21);
    CHECK_INT(b[0], ==, 0x14);
    CHECK_INT(b[4], ==, 8);
    CHECK_INT(b[5], ==, 0x11);
    CHECK_INT(b[20], ==, 0x99);
    CHECK_INT(pvs_ctl_parse_inner(b, 21, &got), ==, 0);
    CHECK(memcmp(&got.u.pong, &m.u.pong, sizeof(m.u.pong)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 20, &got), ==, PVS_EBADDATA);

    m = (struct pvs_ctl_msg){.type = PVS_CTL_BYE};
    m.u.bye.reason = PVS_CTL_BYE_SHUTDOWN;
    CHECK_INT(encode(&m, b), ==, 2);
    CHECK(b[0] == 0x15 && b[1] == 2);
    CHECK_INT(pvs_ctl_parse_inner(b, 2, &got), ==, 0);
    CHECK_INT(got.u.bye.reason, ==, 2);
    CHECK_INT(pvs_ctl_parse_inner(b, 1, &got), ==, PVS_EBADDATA);
    b[1] = 0;
    CHECK_INT(pvs_ctl_parse_inner(b, 2, &got), ==, PVS_EBADDATA);

    /* Input types: understood as reserved, not malformed. Others: no. */
    uint8_t in[4] = {0x20, 1, 2, 3};
    CHECK_INT(pvs_ctl_parse_inner(in, 4, &got), ==, PVS_ENOTSUP);
    CHECK_INT(got.type, ==, 0x20);
    in[0] = 0x32; /* the first still reserved, after RUMBLE and RATE */
    CHECK_INT(pvs_ctl_parse_inner(in, 4, &got), ==, PVS_ENOTSUP);
    CHECK_INT(got.type, ==, 0x32);
    in[0] = 0x3f;
    CHECK_INT(pvs_ctl_parse_inner(in, 1, &got), ==, PVS_ENOTSUP);
    in[0] = 0x40;
    CHECK_INT(pvs_ctl_parse_inner(in, 4, &got), ==, PVS_EBADDATA);
    in[0] = 0x16; /* FEEDBACK, too short */
    CHECK_INT(pvs_ctl_parse_inner(in, 4, &got), ==, PVS_EBADDATA);
    m = (struct pvs_ctl_msg){.type = (enum pvs_ctl_type)0x20};
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
}

/* RUMBLE: exact bytes, the round trip, and what a receiver refuses. */
static void test_rumble(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m = {.type = PVS_CTL_RUMBLE}, got;
    m.u.rumble = (struct pvs_ctl_rumble){.pad = 3, .low_freq = 0xffff,
                                         .high_freq = 0x0102, .duration_ms = 250};
    CHECK_INT(encode(&m, b), ==, 9);
    static const uint8_t want[9] = {0x30, 3, 0, 0xff, 0xff, 0x01, 0x02, 0x00, 0xfa};
    CHECK(memcmp(b, want, sizeof(want)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 9, &got), ==, 0);
    CHECK_INT(got.type, ==, PVS_CTL_RUMBLE);
    CHECK(memcmp(&got.u.rumble, &m.u.rumble, sizeof(m.u.rumble)) == 0);

    /* A later version may append: still read. The reserved byte is
     * ignored. */
    uint8_t longer[12] = {0x30, 0, 0x55, 0, 1, 0, 2, 0, 0, 0xaa, 0xbb, 0xcc};
    CHECK_INT(pvs_ctl_parse_inner(longer, sizeof(longer), &got), ==, 0);
    CHECK(got.u.rumble.pad == 0 && got.u.rumble.low_freq == 1 &&
          got.u.rumble.high_freq == 2 && got.u.rumble.duration_ms == 0);

    /* Every shorter body, a pad out of range, and a clear RUMBLE: refused. */
    for (size_t len = 1; len < 9; len++)
        CHECK_INT(pvs_ctl_parse_inner(want, len, &got), ==, PVS_EBADDATA);
    uint8_t bad[9];
    memcpy(bad, want, sizeof(bad));
    bad[1] = PVS_CTL_RUMBLE_PADS;
    CHECK_INT(pvs_ctl_parse_inner(bad, 9, &got), ==, PVS_EBADDATA);
    bad[1] = 0xff;
    CHECK_INT(pvs_ctl_parse_inner(bad, 9, &got), ==, PVS_EBADDATA);
    CHECK_INT(pvs_ctl_parse_clear(want, 9, &got), ==, PVS_EBADDATA);
    CHECK(!pvs_ctl_type_is_clear(PVS_CTL_RUMBLE));

    /* The encoder writes nothing a receiver would drop. */
    m.u.rumble.pad = PVS_CTL_RUMBLE_PADS;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    m.u.rumble.pad = 0;
    CHECK_INT(pvs_ctl_encode(&m, b, 8), ==, PVS_EINVAL);
    CHECK_INT(pvs_ctl_encode(&m, b, 9), ==, 9);
}

static void test_feedback(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m = {.type = PVS_CTL_FEEDBACK}, got;
    struct pvs_ctl_feedback *f = &m.u.feedback;
    f->base_us = 0x0102030405060708ull;
    f->packets_received = 1000;
    f->packets_lost = 7;
    f->count = 2;
    f->rec[0] = (struct pvs_ctl_feedback_record){.frame = 41, .first_us = 0, .last_us = 900,
                                                 .bytes = 28000, .lost = 1, .repaired = 1};
    f->rec[1] = (struct pvs_ctl_feedback_record){.frame = 42, .first_us = 16000,
                                                 .last_us = 0x01020304, .bytes = 1400};
    CHECK_INT(encode(&m, b), ==, 1 + 20 + 2 * 20);
    static const uint8_t head[21] = {0x16, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x03, 0xe8,
                                     0, 0, 0, 7, 2, 0, 0, 0};
    static const uint8_t rec1[20] = {0, 0, 0, 42, 0, 0, 0x3e, 0x80, 1, 2, 3, 4,
                                     0, 0, 0x05, 0x78, 0, 0, 0, 0};
    CHECK(memcmp(b, head, sizeof(head)) == 0);
    CHECK(memcmp(b + 41, rec1, sizeof(rec1)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 61, &got), ==, 0);
    CHECK_INT(got.type, ==, PVS_CTL_FEEDBACK);
    CHECK(memcmp(&got.u.feedback, f, sizeof(*f)) == 0);

    /* Appended bytes are a later version's: ignored. Every shorter body is
     * refused, as are a count over the most and a last arrival before the
     * first. */
    CHECK_INT(pvs_ctl_parse_inner(b, 70, &got), ==, 0);
    for (size_t len = 1; len < 61; len++)
        CHECK_INT(pvs_ctl_parse_inner(b, len, &got), ==, PVS_EBADDATA);
    uint8_t bad[PVS_CTL_MAX_MESSAGE];
    memcpy(bad, b, 61);
    bad[17] = PVS_CTL_FEEDBACK_MAX + 1;
    CHECK_INT(pvs_ctl_parse_inner(bad, sizeof(bad), &got), ==, PVS_EBADDATA);
    memcpy(bad, b, 61);
    bad[21 + 4] = 0x7f; /* record 0's first arrival, now after its last */
    CHECK_INT(pvs_ctl_parse_inner(bad, 61, &got), ==, PVS_EBADDATA);
    CHECK(!pvs_ctl_type_is_clear(PVS_CTL_FEEDBACK));
    CHECK_INT(pvs_ctl_parse_clear(b, 61, &got), ==, PVS_EBADDATA);

    /* The most records fit a message; the encoder refuses more, and a
     * record the parser would refuse. */
    f->count = PVS_CTL_FEEDBACK_MAX;
    CHECK_INT(encode(&m, b), ==, 1 + 20 + PVS_CTL_FEEDBACK_MAX * 20);
    CHECK(1 + 20 + PVS_CTL_FEEDBACK_MAX * 20 <= PVS_CTL_MAX_MESSAGE);
    f->count = PVS_CTL_FEEDBACK_MAX + 1;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    f->count = 1;
    f->rec[0].first_us = 1000;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    f->count = 0;
    CHECK_INT(encode(&m, b), ==, 21);
    CHECK_INT(pvs_ctl_parse_inner(b, 21, &got), ==, 0);
    CHECK_INT(got.u.feedback.count, ==, 0);

    /* The frame in progress follows the records when flagged (byte 17);
     * a body without it is refused, a later flag is ignored, and a latest
     * arrival before the first is refused both ways. */
    f->count = 1;
    memset(f->rec, 0, sizeof(f->rec));
    f->rec[0] = (struct pvs_ctl_feedback_record){.frame = 41, .first_us = 0, .last_us = 900};
    f->flags = PVS_CTL_FEEDBACK_PROGRESS;
    f->progress = (struct pvs_ctl_feedback_progress){.frame = 42, .first_us = 16000,
                                                     .latest_us = 0x00030201, .bytes = 7000};
    CHECK_INT(encode(&m, b), ==, 1 + 20 + 20 + 16);
    static const uint8_t prog[16] = {0, 0, 0, 42, 0, 0, 0x3e, 0x80, 0, 3, 2, 1, 0, 0, 0x1b, 0x58};
    CHECK_INT(b[18], ==, PVS_CTL_FEEDBACK_PROGRESS);
    CHECK(memcmp(b + 41, prog, sizeof(prog)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 57, &got), ==, 0);
    CHECK(memcmp(&got.u.feedback, f, sizeof(*f)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 56, &got), ==, PVS_EBADDATA);
    memcpy(bad, b, 57);
    bad[18] |= 0x80;
    CHECK_INT(pvs_ctl_parse_inner(bad, 57, &got), ==, 0);
    CHECK_INT(got.u.feedback.flags, ==, PVS_CTL_FEEDBACK_PROGRESS);
    bad[41 + 4] = 0x7f;
    CHECK_INT(pvs_ctl_parse_inner(bad, 57, &got), ==, PVS_EBADDATA);
    f->progress.first_us = 0x7f000000;
    CHECK_INT(encode(&m, b), ==, PVS_EINVAL);
    /* With the progress, one record less fits (the client sends at most
     * PVS_CTL_FEEDBACK_MAX - 1 then). */
    CHECK(1 + 20 + (PVS_CTL_FEEDBACK_MAX - 1) * 20 + 16 <= PVS_CTL_MAX_MESSAGE);
}

static void test_rate(void)
{
    uint8_t b[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg m = {.type = PVS_CTL_RATE}, got;
    m.u.rate = (struct pvs_ctl_rate){.estimate_bps = 50000000, .bitrate_bps = 40000000,
                                     .pace_bps = 100000000, .queue_delay_us = 3500,
                                     .fec_percent = 25, .flags = PVS_CTL_RATE_ABR,
                                     .changes = 9};
    CHECK_INT(encode(&m, b), ==, 25);
    static const uint8_t want[25] = {0x31, 0x02, 0xfa, 0xf0, 0x80, 0x02, 0x62, 0x5a, 0x00,
                                     0x05, 0xf5, 0xe1, 0x00, 0, 0, 0x0d, 0xac, 25, 1, 0, 0,
                                     0, 0, 0, 9};
    CHECK(memcmp(b, want, sizeof(want)) == 0);
    CHECK_INT(pvs_ctl_parse_inner(b, 25, &got), ==, 0);
    CHECK_INT(got.type, ==, PVS_CTL_RATE);
    CHECK(memcmp(&got.u.rate, &m.u.rate, sizeof(m.u.rate)) == 0);
    for (size_t len = 1; len < 25; len++)
        CHECK_INT(pvs_ctl_parse_inner(want, len, &got), ==, PVS_EBADDATA);
    uint8_t bad[25];
    memcpy(bad, want, sizeof(bad));
    bad[17] = 101;
    CHECK_INT(pvs_ctl_parse_inner(bad, 25, &got), ==, PVS_EBADDATA);
    /* 0x32..0x3f stay reserved: an older or newer peer's, dropped as such. */
    bad[0] = 0x32;
    CHECK_INT(pvs_ctl_parse_inner(bad, 25, &got), ==, PVS_ENOTSUP);
}

static void make_keys(struct pvs_session_keys *a, struct pvs_session_keys *b)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < PVS_CONTROL_KEY_BYTES; i++) {
        a->control_tx[i] = (uint8_t)(i * 7 + 1);
        a->control_rx[i] = (uint8_t)(i * 13 + 5);
    }
    memset(b, 0, sizeof(*b));
    memcpy(b->control_tx, a->control_rx, PVS_CONTROL_KEY_BYTES);
    memcpy(b->control_rx, a->control_tx, PVS_CONTROL_KEY_BYTES);
}

static void test_seal(void)
{
    struct pvs_session_keys ka, kb;
    make_keys(&ka, &kb);
    struct pvs_ctl_crypto a = {0}, b = {0};
    CHECK_INT(pvs_ctl_crypto_init(&a, &ka), ==, 0);
    CHECK_INT(pvs_ctl_crypto_init(&b, &kb), ==, 0);

    struct pvs_ctl_msg m = stream_msg(), got;
    uint8_t plain[PVS_CTL_MAX_MESSAGE], sealed[PVS_CTL_MAX_MESSAGE],
        out[PVS_CTL_MAX_MESSAGE];
    int pn = encode(&m, plain);
    int sn = pvs_ctl_seal(&a, 0, plain, (size_t)pn, sealed, sizeof(sealed));
    CHECK_INT(sn, ==, pn + PVS_CTL_SEAL_OVERHEAD);
    static const uint8_t head[9] = {0x80, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(memcmp(sealed, head, 9) == 0); /* counter 1 */
    CHECK(memcmp(sealed + 9, plain, (size_t)pn) != 0); /* encrypted */

    /* Every single tampered byte is refused, and the counter stays, so
     * the genuine message still opens afterwards. */
    uint8_t t[PVS_CTL_MAX_MESSAGE];
    int refused = 0;
    for (int i = 0; i < sn; i++) {
        memcpy(t, sealed, (size_t)sn);
        t[i] ^= 0x01;
        refused += pvs_ctl_open(&b, 0, t, (size_t)sn, out, sizeof(out)) == PVS_EBADDATA;
    }
    CHECK_INT(refused, ==, sn);
    CHECK_INT(b.stats.bad_tag + b.stats.malformed + b.stats.replayed, ==, sn);
    /* A message sealed for channel 0 does not open as channel 1. */
    CHECK_INT(pvs_ctl_open(&b, 1, sealed, (size_t)sn, out, sizeof(out)), ==, PVS_EBADDATA);

    int on = pvs_ctl_open(&b, 0, sealed, (size_t)sn, out, sizeof(out));
    CHECK_INT(on, ==, pn);
    CHECK(memcmp(out, plain, (size_t)pn) == 0);
    CHECK_INT(pvs_ctl_parse_inner(out, (size_t)on, &got), ==, 0);
    CHECK(memcmp(&got.u.stream, &m.u.stream, sizeof(m.u.stream)) == 0);

    /* Replay: refused and counted. */
    uint64_t replayed = b.stats.replayed;
    CHECK_INT(pvs_ctl_open(&b, 0, sealed, (size_t)sn, out, sizeof(out)), ==, PVS_EBADDATA);
    CHECK_INT(b.stats.replayed, ==, replayed + 1);

    /* Counters are per channel; a later message opens, an older one not. */
    uint8_t s2[PVS_CTL_MAX_MESSAGE], s3[PVS_CTL_MAX_MESSAGE];
    int n2 = pvs_ctl_seal(&a, 1, plain, (size_t)pn, s2, sizeof(s2));
    int n3 = pvs_ctl_seal(&a, 1, plain, (size_t)pn, s3, sizeof(s3));
    CHECK_INT(s2[8], ==, 1);
    CHECK_INT(s3[8], ==, 2);
    CHECK_INT(pvs_ctl_open(&b, 1, s3, (size_t)n3, out, sizeof(out)), ==, pn);
    CHECK_INT(pvs_ctl_open(&b, 1, s2, (size_t)n2, out, sizeof(out)), ==, PVS_EBADDATA);

    /* The wrong key: b's own tx key is not a's. */
    struct pvs_ctl_crypto c = {0};
    struct pvs_session_keys wrong = ka;
    wrong.control_rx[0] ^= 1;
    CHECK_INT(pvs_ctl_crypto_init(&c, &wrong), ==, 0);
    sn = pvs_ctl_seal(&a, 2, plain, (size_t)pn, sealed, sizeof(sealed));
    CHECK_INT(pvs_ctl_open(&c, 2, sealed, (size_t)sn, out, sizeof(out)), ==, PVS_EBADDATA);
    CHECK_INT(c.stats.bad_tag, ==, 1);
    CHECK_INT(pvs_ctl_open(&b, 2, sealed, (size_t)sn, out, sizeof(out)), ==, pn);

    /* Bad arguments and malformed envelopes. */
    CHECK_INT(pvs_ctl_seal(&a, 3, plain, (size_t)pn, sealed, sizeof(sealed)), ==, PVS_EINVAL);
    CHECK_INT(pvs_ctl_seal(&a, 0, plain, 0, sealed, sizeof(sealed)), ==, PVS_EINVAL);
    CHECK_INT(pvs_ctl_seal(&a, 0, plain, (size_t)pn, sealed, (size_t)pn + 24), ==, PVS_EINVAL);
    CHECK_INT(pvs_ctl_open(&b, 3, sealed, (size_t)sn, out, sizeof(out)), ==, PVS_EBADDATA);
    CHECK_INT(pvs_ctl_open(&b, 0, sealed, PVS_CTL_SEAL_OVERHEAD, out, sizeof(out)), ==, PVS_EBADDATA);
    sn = pvs_ctl_seal(&a, 0, plain, (size_t)pn, sealed, sizeof(sealed));
    CHECK_INT(pvs_ctl_open(&b, 0, sealed, (size_t)sn, out, (size_t)pn - 1), ==, PVS_EINVAL);
    CHECK_INT(pvs_ctl_open(&b, 0, sealed, (size_t)sn, out, (size_t)pn), ==, pn);

    pvs_ctl_crypto_wipe(&a);
    uint8_t zero[PVS_CONTROL_KEY_BYTES] = {0};
    CHECK(memcmp(a.tx_key, zero, sizeof(zero)) == 0);
    CHECK_INT(a.tx_counter[0], ==, 0);
}

int main(void)
{
    RUN(test_hello_bytes);
    RUN(test_hello_ranges);
    RUN(test_hello_display);
    RUN(test_welcome_refuse);
    RUN(test_stream_bytes);
    RUN(test_small_messages);
    RUN(test_rumble);
    RUN(test_feedback);
    RUN(test_rate);
    RUN(test_seal);
    TEST_EXIT();
}
