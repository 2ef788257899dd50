/* The server's audio thread end to end on loopback: the tone source,
 * Opus, the packer and SRTP on the server's side; a UDP socket, SRTP, the
 * packet parser and the jitter buffer on the other. The tone comes out at
 * its frequency, every packet is the size and shape STREAM announced, and
 * a source that cannot open says why, without its own "audio off". Also
 * the timestamp arithmetic over gaps in the source and the frame choices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/analyze.h"
#include "audio/jitter.h"
#include "audio/packet.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "net/srtp.h"
#include "server/audio.h"
#include "test.h"

static void test_next_ts(void)
{
    /* Contiguous: one frame on. */
    CHECK_INT(pvs_server_audio_next_ts(1000, 0, 240, 240), ==, 1240);
    /* Wraps like RTP. */
    CHECK_INT(pvs_server_audio_next_ts(0xffffff00u, 480, 720, 240), ==, 0xffffff00u + 240u);
    /* A gap of 1.4 frames: one frame more; of 0.4: none; of 3 frames: 3. */
    CHECK_INT(pvs_server_audio_next_ts(0, 0, 240 + 336, 240), ==, 480);
    CHECK_INT(pvs_server_audio_next_ts(0, 0, 240 + 96, 240), ==, 240);
    CHECK_INT(pvs_server_audio_next_ts(0, 0, 240 + 720, 240), ==, 960);
    /* Never backwards, even if the source's position were. */
    CHECK_INT(pvs_server_audio_next_ts(5000, 10000, 100, 120), ==, 5120);
}

static void test_frame_choices(void)
{
    CHECK(strcmp(pvs_server_audio_frame_choices[PVS_SERVER_AUDIO_DEFAULT_FRAME_CHOICE], "5") == 0);
    CHECK_INT(pvs_server_audio_frame_samples(0), ==, 120);
    CHECK_INT(pvs_server_audio_frame_samples(1), ==, 240);
    CHECK_INT(pvs_server_audio_frame_samples(2), ==, 480);
    CHECK_INT(pvs_server_audio_frame_samples(3), ==, 960);
    CHECK_INT(pvs_server_audio_frame_samples(4), ==, 240);
    CHECK_INT(pvs_server_audio_frame_samples(-1), ==, 240);
    CHECK(pvs_server_audio_frame_choices[4] == NULL);
}

#define WANT_PACKETS 120 /* 0.6 s of 5 ms frames */

static int16_t played[WANT_PACKETS * PVS_AUDIO_MAX_FRAME * 2];

static void run_loopback(int frame, int bitrate, int redundancy, int datagram)
{
    pvs_socket rx = PVS_INVALID_SOCKET, tx = PVS_INVALID_SOCKET;
    struct pvs_addr local, to;
    CHECK_INT(pvs_addr_resolve(&local, "127.0.0.1", 0), ==, 0);
    CHECK_INT(pvs_udp_open(&rx, &local), ==, 0);
    CHECK_INT(pvs_udp_open(&tx, &local), ==, 0);
    CHECK_INT(pvs_udp_local_addr(rx, &to), ==, 0);
    uint8_t key[PVS_SRTP_KEY_BYTES];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    struct pvs_server_audio_config cfg = {
        .source = "tone", .frame_samples = frame, .redundancy = redundancy,
        .sock = tx, .to = to, .datagram = datagram, .avoid_ssrc = 1234,
        .bitrate = bitrate,
    };
    struct pvs_server_audio *a = NULL;
    char why[256] = "";
    int rc = pvs_server_audio_start(&a, &cfg, key, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    if (rc) {
        fprintf(stderr, "start: %s\n", why);
        pvs_socket_close(&rx);
        pvs_socket_close(&tx);
        return;
    }
    uint32_t ssrc = pvs_server_audio_ssrc(a);
    CHECK(ssrc != 0 && ssrc != 1234);

    struct pvs_srtp *srtp = NULL;
    CHECK_INT(pvs_srtp_open_recv(&srtp, key, ssrc), ==, 0);
    struct pvs_jitter *jb = NULL;
    /* Start near the delay the buffer aims for (a frame and a bit), so it
     * has no reason to drop or insert a frame in this short run. */
    int frame_ms = frame * 1000 / PVS_AUDIO_RATE;
    struct pvs_jitter_config jc = { .frame_samples = frame,
                                    .start_delay_ms = frame_ms + 2 < 5 ? 5 : frame_ms + 2 };
    CHECK_INT(pvs_jitter_open(&jb, &jc), ==, 0);

    int packets = 0, bad = 0, too_big = 0, wrong_shape = 0, carried = 0, timeouts = 0;
    int64_t first_arrival = 0;
    int64_t step = (int64_t)frame * 1000000000LL / PVS_AUDIO_RATE;
    uint16_t last_seq = 0;
    uint64_t last_capture = 0;
    while (packets < WANT_PACKETS && timeouts < 20 && srtp && jb) {
        uint8_t buf[2048];
        int n = pvs_udp_recv(rx, buf, sizeof(buf), NULL, 100);
        if (n == PVS_ETIMEDOUT) {
            timeouts++;
            continue;
        }
        if (n <= 0)
            break;
        int64_t now = pvs_time_ns();
        too_big += n > datagram;
        size_t len = (size_t)n;
        if (pvs_srtp_unprotect(srtp, buf, &len) != 0) {
            bad++;
            continue;
        }
        struct pvs_audio_packet p;
        if (pvs_audio_packet_parse(buf, len, &p) != 0) {
            bad++;
            continue;
        }
        wrong_shape += p.ssrc != ssrc || p.frame_samples != frame || p.redundant > redundancy;
        if (packets > 0)
            wrong_shape += (uint16_t)(last_seq + 1) != p.seq || p.capture_us < last_capture;
        carried += p.redundant;
        last_seq = p.seq;
        last_capture = p.capture_us;
        if (!first_arrival)
            first_arrival = now;
        /* The playback below runs on an ideal clock (one frame per step
         * from the first arrival), so the packets go in on that clock too:
         * what this test checks is the sender's packets, and a loaded
         * machine's late wake-ups must not read as network jitter. */
        int64_t ideal = first_arrival + (int64_t)packets * step;
        CHECK_INT(pvs_jitter_insert(jb, buf, len, ideal), >=, 0);
        if (!packets) {
            /* Playback starts with the first packet (as a device would pull
             * every period); until its first pull the buffer would follow
             * the newest packet, as for a backlog. */
            int16_t pcm[PVS_AUDIO_MAX_FRAME * 2];
            pvs_jitter_pull(jb, ideal, pcm, NULL);
        }
        packets++;
    }
    CHECK_INT(packets, ==, WANT_PACKETS);
    CHECK_INT(bad, ==, 0);
    CHECK_INT(too_big, ==, 0);
    CHECK_INT(wrong_shape, ==, 0);
    /* Every packet after the first carries `redundancy` earlier frames
     * (they fit: a frame is well under 200 bytes at 96 kbit/s). */
    CHECK_INT(carried, ==, redundancy * (packets - 1) - (redundancy == 2 ? 1 : 0));

    struct pvs_server_audio_stats st;
    pvs_server_audio_get_stats(a, &st);
    /* The thread counts a packet just after it sent it: at most one
     * received here is not counted yet. */
    CHECK(st.packets + 1 >= (uint64_t)packets);
    CHECK(st.bytes > 0);
    CHECK_INT(st.send_failed, ==, 0);
    pvs_server_audio_stop(&a);
    CHECK(a == NULL);
    pvs_server_audio_stop(&a); /* NULL is fine */

    /* Play it back on a simulated clock, one pull per frame from the first
     * arrival on: once playback starts, every frame comes from its own
     * packet. */
    int frames = 0, from_packets = 0;
    int64_t t = first_arrival + step;
    int total = packets;
    for (int i = 0; i < total + 16 && frames < total && jb; i++, t += step) {
        struct pvs_jitter_frame info;
        int16_t pcm[PVS_AUDIO_MAX_FRAME * 2];
        pvs_jitter_pull(jb, t, pcm, &info);
        if (info.kind == PVS_JITTER_SILENCE && !frames)
            continue;
        from_packets += info.kind == PVS_JITTER_PACKET;
        memcpy(played + (size_t)frames * (size_t)frame * 2, pcm,
               sizeof(int16_t) * (size_t)frame * 2);
        frames++;
    }
    CHECK(from_packets >= total - 4);
    /* Skip Opus's start; the rest is the source's 1 kHz tone. */
    size_t skip = 960, n = (size_t)frames * (size_t)frame - skip - (size_t)frame * 4;
    double hz = pvs_audio_tone_freq(played + skip * 2, n, 2, 0, PVS_AUDIO_RATE);
    double snr = pvs_audio_tone_snr(played + skip * 2, n, 2, 0, PVS_AUDIO_RATE, hz);
    printf("frame %d, %d bit/s, redundancy %d: %d packets, %.3f Hz, SNR %.1f dB, %llu bytes\n",
           frame, bitrate, redundancy, packets, hz, snr, (unsigned long long)st.bytes);
    CHECK_NEAR(hz, 1000, 1);
    /* Opus's own quality: about 40 dB at 5 ms and 96 kbit/s, 35 at 10 ms;
     * the 2.5 ms case runs at 256 kbit/s (at 96 kbit/s it gives ~19 dB). */
    CHECK(snr > 25);

    pvs_jitter_close(&jb);
    pvs_srtp_close(&srtp);
    pvs_socket_close(&rx);
    pvs_socket_close(&tx);
}

static void test_loopback_5ms(void)
{
    run_loopback(240, 96000, 1, 1400);
}

static void test_loopback_10ms_r2(void)
{
    run_loopback(480, 96000, 2, 1400);
}

static void test_loopback_2_5ms_r0(void)
{
    run_loopback(120, 256000, 0, 300);
}

static void test_no_source(void)
{
    /* No sound server: pulse (when built) says it is not running; either
     * way the reason comes without "audio off", which the server adds. */
    setenv("PULSE_SERVER", "unix:/nonexistent/pvs-test/native", 1);
    pvs_socket tx = PVS_INVALID_SOCKET;
    struct pvs_addr local;
    CHECK_INT(pvs_addr_resolve(&local, "127.0.0.1", 0), ==, 0);
    CHECK_INT(pvs_udp_open(&tx, &local), ==, 0);
    uint8_t key[PVS_SRTP_KEY_BYTES] = { 1 };
    struct pvs_server_audio_config cfg = {
        .source = "pulse", .frame_samples = 240, .bitrate = 96000, .redundancy = 1,
        .sock = tx, .to = local, .datagram = 1400,
    };
    struct pvs_server_audio *a = (void *)1;
    char why[256] = "";
    int rc = pvs_server_audio_start(&a, &cfg, key, why, sizeof(why));
    CHECK(rc < 0);
    CHECK(a == NULL);
    CHECK(why[0] != '\0');
    CHECK(strstr(why, "audio off") == NULL);
    printf("no source: rc %d, \"%s\"\n", rc, why);
    /* "auto" never falls back to the tone. */
    cfg.source = "auto";
    rc = pvs_server_audio_start(&a, &cfg, key, why, sizeof(why));
    CHECK(rc < 0);
    CHECK(a == NULL);
    /* Bad settings are refused before anything opens. */
    cfg.source = "tone";
    cfg.redundancy = 3;
    CHECK_INT(pvs_server_audio_start(&a, &cfg, key, why, sizeof(why)), ==, PVS_EINVAL);
    pvs_socket_close(&tx);
}

int main(void)
{
    if (pvs_net_init() != 0)
        return 1;
    RUN(test_next_ts);
    RUN(test_frame_choices);
    RUN(test_loopback_5ms);
    RUN(test_loopback_10ms_r2);
    RUN(test_loopback_2_5ms_r0);
    RUN(test_no_source);
    pvs_net_deinit();
    TEST_EXIT();
}
