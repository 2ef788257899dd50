/* The audio jitter buffer, fed real Opus packets on a simulated clock:
 * in order, reordered, duplicated, 5 % loss with and without the carried
 * frame, bursts of loss, a jittery network (the target follows it up and
 * back down), the sender's silence gate, timestamps that wrap, and
 * malformed or misplaced packets (dropped and counted, never played). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/analyze.h"
#include "audio/jitter.h"
#include "audio/opus.h"
#include "audio/packet.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/stats.h"
#include "tests/unit/test.h"

#define F 240
#define RATE PVS_AUDIO_RATE
#define FRAME_NS 5000000LL
#define MS 1000000LL
#define MAXF 1600 /* 8 s */
#define T0 1000000000LL

static uint32_t rng_state = 1;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A stream: packets[i] carries frame i; frames for which `quiet` says so
 * are digital silence (the gate then sends nothing). */
static uint8_t pkts[MAXF][PVS_AUDIO_MAX_PACKET];
static int lens[MAXF];         /* 0: the gate sent nothing */
static int64_t arrival[MAXF];  /* < 0: lost */
static bool twice[MAXF];       /* delivered a second time, 1 ms later */
static int16_t out[MAXF * 2 * F * 2];
static enum pvs_jitter_kind kinds[MAXF * 2];

static const uint32_t TS0 = 0xffff0000u; /* wraps after 1.37 s */
static double tone_hz = 1000; /* what make_stream() plays */

static void make_stream(int frames, int redundancy, bool (*quiet)(int))
{
    struct pvs_opus_enc *e;
    CHECK_INT(pvs_opus_enc_open(&e, NULL), ==, 0);
    struct pvs_audio_packer pk;
    CHECK_INT(pvs_audio_packer_init(&pk, 0x1234, 65000, F, redundancy), ==, 0);
    int16_t pcm[F * 2];
    for (int i = 0; i < frames; i++) {
        bool q = quiet && quiet(i);
        for (int s = 0; s < F; s++) {
            double v = q ? 0 : 0.5 * 32767 * sin(2 * M_PI * tone_hz * (double)(i * F + s) / RATE);
            pcm[2 * s] = pcm[2 * s + 1] = (int16_t)lrint(v);
        }
        uint8_t opus[PVS_OPUS_MAX_PACKET];
        struct pvs_opus_frame_info info;
        int n = pvs_opus_encode(e, pcm, opus, sizeof(opus), &info);
        CHECK(n >= 0);
        lens[i] = 0;
        if (n > 0)
            lens[i] = pvs_audio_pack(&pk, opus, (size_t)n, TS0 + (uint32_t)(i * F),
                                     (uint64_t)(T0 + i * FRAME_NS) / 1000,
                                     info.silent ? PVS_AUDIO_FLAG_SILENT : 0, info.resumed,
                                     pkts[i], sizeof(pkts[i]));
        CHECK(lens[i] >= 0);
        /* Sent when complete, on a quiet network 0.2 ms later. */
        arrival[i] = T0 + (i + 1) * FRAME_NS + 200000;
        twice[i] = false;
    }
    pvs_opus_enc_close(&e);
}

struct result {
    struct pvs_jitter_stats st;
    int pulls;
    struct pvs_stats latency; /* pull time less capture time */
};

static struct result res;

/* Pulls every 5 ms from the first frame's arrival + 1 ms, inserting every
 * packet that has arrived before each pull. */
static void run(struct pvs_jitter *j, int frames, int pulls)
{
    static int order[MAXF * 2];
    static int64_t when[MAXF * 2];
    int n = 0;
    for (int i = 0; i < frames; i++) {
        if (arrival[i] < 0 || !lens[i])
            continue;
        order[n] = i;
        when[n++] = arrival[i];
        if (twice[i]) {
            order[n] = i;
            when[n++] = arrival[i] + MS;
        }
    }
    for (int a = 1; a < n; a++) /* insertion sort by arrival */
        for (int b = a; b > 0 && when[b] < when[b - 1]; b--) {
            int64_t t = when[b]; when[b] = when[b - 1]; when[b - 1] = t;
            int o = order[b]; order[b] = order[b - 1]; order[b - 1] = o;
        }
    memset(&res, 0, sizeof(res));
    pvs_stats_reset(&res.latency);
    int next = 0;
    for (int k = 0; k < pulls; k++) {
        int64_t now = T0 + FRAME_NS + 200000 + MS + k * FRAME_NS;
        while (next < n && when[next] <= now) {
            int rc = pvs_jitter_insert(j, pkts[order[next]], (size_t)lens[order[next]], when[next]);
            CHECK(rc == 0 || rc == 1);
            next++;
        }
        struct pvs_jitter_frame info;
        CHECK_INT(pvs_jitter_pull(j, now, out + (size_t)k * F * 2, &info), ==, 0);
        kinds[k] = info.kind;
        if (info.capture_us)
            pvs_stats_add(&res.latency, now - (int64_t)info.capture_us * 1000);
    }
    res.pulls = pulls;
    pvs_jitter_get_stats(j, &res.st);
}

static struct pvs_jitter *open_jb(void)
{
    struct pvs_jitter *j = NULL;
    CHECK_INT(pvs_jitter_open(&j, NULL), ==, 0);
    return j;
}

/* The longest run of pulls of one kind, from pull `from`. */
static int longest_run(int from, int to, enum pvs_jitter_kind kind)
{
    int best = 0, cur = 0;
    for (int k = from; k < to; k++) {
        cur = kinds[k] == kind ? cur + 1 : 0;
        best = cur > best ? cur : best;
    }
    return best;
}

static void check_tone(int from, int to)
{
    size_t n = (size_t)(to - from) * F;
    double hz = pvs_audio_tone_freq(out + (size_t)from * F * 2, n, 2, 0, RATE);
    CHECK_NEAR(hz, 1000, 1);
}

static void test_in_order(void)
{
    int frames = 400;
    make_stream(frames, 1, NULL);
    struct pvs_jitter *j = open_jb();
    run(j, frames, frames);
    CHECK_INT(res.st.packets, ==, frames);
    CHECK_INT(res.st.concealed, ==, 0);
    CHECK_INT(res.st.underruns, ==, 0);
    CHECK_INT(res.st.late, ==, 0);
    CHECK_INT(res.st.recovered, ==, 0);
    CHECK_INT(res.st.malformed + res.st.duplicates + res.st.out_of_range, ==, 0);
    /* Playback starts 10 ms after the first packet: two frames of silence. */
    CHECK_INT(res.st.silent, ==, 2);
    CHECK_INT(res.st.played, ==, frames - 2);
    CHECK_INT(kinds[0], ==, PVS_JITTER_SILENCE);
    CHECK_INT(kinds[2], ==, PVS_JITTER_PACKET);
    /* On a quiet network the target is its floor plus a frame; the delay
     * stays where it started, within a frame of the target. */
    CHECK(res.st.target_ms >= 5 && res.st.target_ms <= 10);
    CHECK(res.st.delay_ms >= 5 && res.st.delay_ms <= res.st.target_ms + 5);
    struct pvs_stats_summary sum;
    pvs_stats_summarize(&res.latency, &sum);
    printf("in order: capture to pull p50 %.2f ms (frame 5 + network 0.2 + buffer), target %.2f ms\n",
           sum.p50_ms, res.st.target_ms);
    CHECK(sum.p50_ms >= 15 && sum.p50_ms <= 22);
    check_tone(10, frames);
    pvs_jitter_close(&j);
    CHECK(j == NULL);
    pvs_jitter_close(&j);
}

/* The client sets up (decoder, audio device) while the first 100 ms of
 * packets wait in its socket; they arrive as one burst. Playback starts
 * from the newest of them, not a burst's age late. */
static void test_start_burst(void)
{
    int frames = 400, burst = 20;
    make_stream(frames, 1, NULL);
    for (int i = 0; i < burst; i++)
        arrival[i] = arrival[burst - 1];
    struct pvs_jitter *j = open_jb();
    run(j, frames, frames);
    CHECK_INT(res.st.concealed, ==, 0);
    CHECK_INT(res.st.underruns, ==, 0);
    struct pvs_stats_summary sum;
    pvs_stats_summarize(&res.latency, &sum);
    printf("start burst: capture to pull p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", sum.p50_ms,
           sum.p99_ms, sum.max_ms);
    /* Without the restart on the newest packet the first frames played
     * 100 ms late and the buffer took seconds to work that off. */
    CHECK(sum.max_ms <= 25);
    CHECK(sum.p50_ms >= 15 && sum.p50_ms <= 22);
    pvs_jitter_close(&j);
}

static void test_reordered_and_duplicated(void)
{
    int frames = 400;
    make_stream(frames, 0, NULL);
    for (int i = 10; i + 1 < frames; i += 2) { /* swap pairs: 2 ms reorder */
        arrival[i] += 3 * MS;
        arrival[i + 1] += MS;
    }
    for (int i = 0; i < frames; i++)
        twice[i] = i % 3 == 0;
    struct pvs_jitter *j = open_jb();
    run(j, frames, frames + 10);
    CHECK_INT(res.st.packets, ==, frames);
    CHECK_INT(res.st.duplicates, ==, (frames + 2) / 3);
    CHECK_INT(longest_run(0, frames, PVS_JITTER_CONCEALED), ==, 0); /* after: the stream ended */
    CHECK_INT(res.st.late, ==, 0);
    CHECK_INT(res.st.played + res.st.silent + res.st.inserted - res.st.dropped, >=, frames - 2);
    check_tone(20, frames - 10);
    pvs_jitter_close(&j);
}

static void loss_run(int redundancy, int *lost_out)
{
    int frames = 1200;
    make_stream(frames, redundancy, NULL);
    rng_state = 99;
    int lost = 0;
    for (int i = 5; i < frames - 5; i++)
        if (rng() % 100 < 5) {
            arrival[i] = -1;
            lost++;
        }
    struct pvs_jitter *j = open_jb();
    run(j, frames, frames);
    *lost_out = lost;
    /* Continuous output: never a silent frame once playing, and sound in
     * every frame (concealment shifts the tone's phase, so its frequency is
     * checked only where frames were recovered). */
    CHECK_INT(longest_run(5, frames - 10, PVS_JITTER_SILENCE), ==, 0);
    int quiet = 0;
    for (int k = 5; k < frames - 10; k++) {
        double e = 0;
        for (int s = 0; s < F; s++)
            e += (double)out[((size_t)k * F + (size_t)s) * 2] * out[((size_t)k * F + (size_t)s) * 2];
        quiet += sqrt(e / F) < 0.5 * 32767 / sqrt(2) / 4;
    }
    /* Concealment fades over a run of losses; a recovered frame does not. */
    CHECK_INT(quiet, <=, redundancy ? 0 : lost / 4);
    if (redundancy)
        check_tone(10, frames - 10);
    pvs_jitter_close(&j);
}

static void test_loss(void)
{
    int lost;
    loss_run(0, &lost);
    printf("5 %% loss, nothing carried: %d lost, %" PRIu64 " concealed, %" PRIu64
           " underruns\n", lost, res.st.concealed, res.st.underruns);
    CHECK(lost > 30);
    CHECK_INT(res.st.recovered, ==, 0);
    CHECK_INT(res.st.concealed, >=, lost);
    CHECK_INT(res.st.concealed, <=, lost + res.st.underruns);
    CHECK_INT(res.st.packets, ==, 1200 - lost);

    loss_run(1, &lost);
    printf("5 %% loss, previous frame carried: %d lost, %" PRIu64 " recovered, %" PRIu64
           " concealed, %" PRIu64 " underruns\n", lost, res.st.recovered, res.st.concealed,
           res.st.underruns);
    /* Every loss whose next packet came is recovered. */
    CHECK_INT(res.st.recovered, >=, lost * 9 / 10);
    CHECK_INT(res.st.concealed, <=, lost / 10 + 1);

    loss_run(2, &lost);
    CHECK_INT(res.st.recovered, >=, lost - 1);
}

static void test_burst(void)
{
    int frames = 600;
    make_stream(frames, 1, NULL);
    for (int i = 200; i < 220; i++) /* 100 ms gone */
        arrival[i] = -1;
    struct pvs_jitter *j = open_jb();
    run(j, frames, frames);
    CHECK_INT(res.st.underruns, >=, 1);
    CHECK_INT(res.st.concealed, >=, 19);
    CHECK_INT(res.st.recovered, ==, 1); /* frame 219, from frame 220's packet */
    /* Afterwards it plays its packets again and settles back near target. */
    CHECK_INT(kinds[frames - 1], ==, PVS_JITTER_PACKET);
    CHECK(res.st.delay_ms <= res.st.target_ms + 5);
    CHECK_INT(longest_run(260, frames, PVS_JITTER_CONCEALED), ==, 0);
    pvs_jitter_close(&j);
}

static void test_adapts(void)
{
    int frames = MAXF;
    make_stream(frames, 1, NULL);
    /* Jitter of 0..20 ms for the first 4 s, then a quiet network. */
    rng_state = 5;
    for (int i = 0; i < 800; i++)
        arrival[i] += (int64_t)(rng() % 20000) * 1000;
    struct pvs_jitter *j = open_jb();
    run(j, 800, 800);
    printf("jittery (0..20 ms): jitter %.1f ms, target %.1f ms, delay %.1f ms, %" PRIu64
           " concealed, %" PRIu64 " late, %" PRIu64 " inserted\n", res.st.jitter_ms,
           res.st.target_ms, res.st.delay_ms, res.st.concealed, res.st.late, res.st.inserted);
    CHECK(res.st.jitter_ms >= 17 && res.st.jitter_ms <= 21);
    CHECK(res.st.target_ms >= 22 && res.st.target_ms <= 28);
    CHECK(res.st.delay_ms >= res.st.target_ms - 5);
    uint64_t late_early = res.st.late + res.st.concealed;
    pvs_jitter_close(&j);

    /* The same, then 4 s of quiet: the target comes back down. */
    j = open_jb();
    run(j, frames, frames);
    printf("then quiet: jitter %.1f ms, target %.1f ms, delay %.1f ms, %" PRIu64 " dropped\n",
           res.st.jitter_ms, res.st.target_ms, res.st.delay_ms, res.st.dropped);
    CHECK(res.st.target_ms <= 10);
    CHECK(res.st.delay_ms <= res.st.target_ms + 5);
    CHECK(res.st.dropped >= 2);
    /* Most of the jittery part played from packets. */
    CHECK(late_early < 800 / 10);
    pvs_jitter_close(&j);
}

static bool quiet_middle(int i)
{
    return i >= 100 && i < 300;
}

static bool quiet_middle_short(int i)
{
    return i >= 15 && i < 40;
}

static void test_silence_gate(void)
{
    int frames = 400;
    make_stream(frames, 1, quiet_middle);
    int sent = 0;
    for (int i = 0; i < frames; i++)
        sent += lens[i] > 0;
    CHECK_INT(sent, ==, frames - 200 + 4); /* the gate sends 20 ms of silence */
    struct pvs_jitter *j = open_jb();
    run(j, frames, frames);
    CHECK_INT(res.st.underruns, ==, 0);
    CHECK_INT(res.st.concealed, ==, 0);
    CHECK_INT(res.st.silent, >=, 190);
    check_tone(320, frames);
    /* The zeros of the gap are zeros. */
    for (int k = 150; k < 250; k++)
        CHECK_INT(out[(size_t)k * F * 2 + 17], ==, 0);
    pvs_jitter_close(&j);
}

/* Moves a packet a million frames along its timeline. */
static void far_away(uint8_t *pkt)
{
    uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];
    ts += (uint32_t)F * 1000000u;
    pkt[4] = (uint8_t)(ts >> 24);
    pkt[5] = (uint8_t)(ts >> 16);
    pkt[6] = (uint8_t)(ts >> 8);
    pkt[7] = (uint8_t)ts;
}

static void test_garbage(void)
{
    int frames = 50;
    make_stream(frames, 1, NULL);
    struct pvs_jitter *j = open_jb();
    int64_t now = T0;
    CHECK_INT(pvs_jitter_insert(j, pkts[0], (size_t)lens[0], now), ==, 0);
    uint8_t b[PVS_AUDIO_MAX_PACKET];
    int expect = 0;
    /* Truncated at every length up to the audio header. */
    for (int l = 0; l <= PVS_AUDIO_RTP_BYTES + PVS_AUDIO_HEADER_BYTES; l++, expect++)
        CHECK_INT(pvs_jitter_insert(j, pkts[1], (size_t)l, now), ==, PVS_EBADDATA);
    struct { int at; uint8_t value; } bad[] = {
        {0, 0x90},                          /* RTP extension */
        {1, 96},                            /* the video payload type */
        {12, 2},                            /* audio version */
        {14, 0x10},                         /* frame of 0x10f0 samples */
        {15, 100},                          /* frame of 100 samples */
        {24, 3},                            /* too many carried frames */
        {26, 0xff},                         /* a carried length past the end */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(b, pkts[1], (size_t)lens[1]);
        b[bad[i].at] = bad[i].value;
        CHECK_INT(pvs_jitter_insert(j, b, (size_t)lens[1], now), ==, PVS_EBADDATA);
        expect++;
    }
    /* Another valid frame size than the buffer's. */
    memcpy(b, pkts[2], (size_t)lens[2]);
    b[14] = 0x01; b[15] = 0xe0; /* 480 */
    CHECK_INT(pvs_jitter_insert(j, b, (size_t)lens[2], now), ==, PVS_EBADDATA);
    expect++;
    /* A timestamp that is not a whole number of frames away. */
    memcpy(b, pkts[2], (size_t)lens[2]);
    b[7] ^= 1;
    CHECK_INT(pvs_jitter_insert(j, b, (size_t)lens[2], now), ==, PVS_EBADDATA);
    expect++;
    /* Random bytes. */
    rng_state = 3;
    for (int i = 0; i < 200; i++) {
        size_t l = rng() % 200;
        for (size_t k = 0; k < l; k++)
            b[k] = (uint8_t)rng();
        if (pvs_jitter_insert(j, b, l, now) == PVS_EBADDATA)
            expect++;
    }
    struct pvs_jitter_stats st;
    pvs_jitter_get_stats(j, &st);
    CHECK_INT(st.malformed, ==, expect);
    CHECK_INT(st.packets, ==, 1);

    /* One packet from far away: counted, ignored. */
    memcpy(b, pkts[3], (size_t)lens[3]);
    far_away(b);
    CHECK_INT(pvs_jitter_insert(j, b, (size_t)lens[3], now), ==, 1);
    pvs_jitter_get_stats(j, &st);
    CHECK_INT(st.out_of_range, ==, 1);
    CHECK_INT(st.resyncs, ==, 0);
    CHECK_INT(pvs_jitter_insert(j, pkts[3], (size_t)lens[3], now), ==, 0);
    CHECK_INT(pvs_jitter_insert(j, pkts[3], (size_t)lens[3], now), ==, 1);
    pvs_jitter_get_stats(j, &st);
    CHECK_INT(st.duplicates, ==, 1);

    /* A sender that restarted on another timeline: after a few packets in
     * a row, playback follows it. */
    for (int i = 4; i < 4 + PVS_JITTER_RESYNC; i++) {
        memcpy(b, pkts[i], (size_t)lens[i]);
        far_away(b);
        pvs_jitter_insert(j, b, (size_t)lens[i], now);
    }
    pvs_jitter_get_stats(j, &st);
    CHECK_INT(st.resyncs, ==, 1);
    int16_t pcm[F * 2];
    struct pvs_jitter_frame info;
    int played = 0;
    for (int k = 0; k < 4; k++) {
        pvs_jitter_pull(j, now + 10 * MS + k * FRAME_NS, pcm, &info);
        played += info.kind == PVS_JITTER_PACKET;
    }
    CHECK_INT(played, ==, 1);
    pvs_jitter_close(&j);

    struct pvs_jitter_config c = {.frame_samples = 100};
    CHECK_INT(pvs_jitter_open(&j, &c), ==, PVS_EINVAL);
    c = (struct pvs_jitter_config){.min_delay_ms = 50, .max_delay_ms = 20};
    CHECK_INT(pvs_jitter_open(&j, &c), ==, PVS_EINVAL);
    /* Pulling before anything came: silence. */
    j = open_jb();
    memset(pcm, 1, sizeof(pcm));
    pvs_jitter_pull(j, now, pcm, &info);
    CHECK_INT(info.kind, ==, PVS_JITTER_SILENCE);
    CHECK_INT(pcm[F], ==, 0);
    pvs_jitter_close(&j);
}

/* pvs_jitter_set_min_delay_us (A/V sync): raising the floor makes the
 * delay grow to it, a frame at most every PVS_JITTER_SHRINK_MS during
 * sound; lowering it brings the delay back; bad values are refused or
 * capped. In-order stream, 5 ms pulls, as run() does. */
/* Pull k's time (every 5 ms from the first frame's arrival + 1 ms), after
 * inserting every packet of the stream that has arrived by then (*next:
 * the first not yet inserted). */
static int64_t tick(struct pvs_jitter *j, int k, int frames, int *next)
{
    int64_t now = T0 + FRAME_NS + 200000 + MS + k * FRAME_NS;
    while (*next < frames && arrival[*next] <= now) {
        pvs_jitter_insert(j, pkts[*next], (size_t)lens[*next], arrival[*next]);
        (*next)++;
    }
    return now;
}

static void test_min_delay(void)
{
    int frames = 1200; /* 6 s */
    make_stream(frames, 1, NULL);
    struct pvs_jitter *j = open_jb();
    CHECK_INT(pvs_jitter_set_min_delay_us(j, -1), ==, PVS_EINVAL);
    struct pvs_stats lat_before, lat_high, lat_after;
    pvs_stats_reset(&lat_before);
    pvs_stats_reset(&lat_high);
    pvs_stats_reset(&lat_after);
    struct pvs_jitter_stats st;
    int next = 0, last_insert = -1000, min_gap = 1000, inserted_high = 0;
    double delay_high = 0, target_high = 0, floor_high = 0;
    for (int k = 0; k < frames; k++) {
        int64_t now = tick(j, k, frames, &next);
        if (k == 200)
            CHECK_INT(pvs_jitter_set_min_delay_us(j, 30000), ==, 0);
        if (k == 700)
            CHECK_INT(pvs_jitter_set_min_delay_us(j, 0), ==, 0);
        struct pvs_jitter_frame info;
        pvs_jitter_pull(j, now, out + (size_t)k * F * 2, &info);
        kinds[k] = info.kind;
        if (info.kind == PVS_JITTER_INSERTED && k > 200 && k < 700) {
            inserted_high++;
            if (k - last_insert < min_gap)
                min_gap = k - last_insert;
            last_insert = k;
        }
        int64_t l = now - (int64_t)info.capture_us * 1000;
        if (info.capture_us && k >= 100 && k < 200)
            pvs_stats_add(&lat_before, l);
        if (info.capture_us && k >= 600 && k < 700)
            pvs_stats_add(&lat_high, l);
        if (info.capture_us && k >= 1100)
            pvs_stats_add(&lat_after, l);
        if (k == 699) {
            pvs_jitter_get_stats(j, &st);
            delay_high = st.delay_ms;
            target_high = st.target_ms;
            floor_high = st.min_delay_ms;
        }
    }
    pvs_jitter_get_stats(j, &st);
    double before = (double)pvs_stats_quantile(&lat_before, 0.5) / 1e6;
    double high = (double)pvs_stats_quantile(&lat_high, 0.5) / 1e6;
    double after = (double)pvs_stats_quantile(&lat_after, 0.5) / 1e6;
    printf("min delay 30 ms: delay %.1f ms (target %.1f, floor %.1f), %d frames inserted, at least "
           "%d pulls apart; capture to pull p50 %.1f -> %.1f -> %.1f ms (floor back to 5); "
           "%llu dropped, %llu concealed\n", delay_high, target_high, floor_high, inserted_high,
           min_gap, before, high, after, (unsigned long long)st.dropped,
           (unsigned long long)st.concealed);
    CHECK_NEAR(floor_high, 30, 0.01);
    CHECK_NEAR(target_high, 30, 0.01);
    CHECK(delay_high >= 27.5 && delay_high <= 35);
    /* From about 11 ms to 30: four frames, each 250 ms apart at least. */
    CHECK(inserted_high >= 3 && inserted_high <= 5);
    CHECK_INT(min_gap, >=, PVS_JITTER_SHRINK_MS / 5);
    /* The delay went from about 11 ms (the target) to the floor: the
     * latency rose by as much. */
    CHECK(high - before >= 15 && high - before <= 25);
    /* Back down: the configured floor again, the latency as before. */
    CHECK_NEAR(st.min_delay_ms, 5, 0.01);
    CHECK(st.target_ms < 10);
    CHECK_NEAR(after, before, 5.1);
    CHECK_INT(st.concealed, ==, 0);
    CHECK_INT(st.underruns, ==, 0);
    check_tone(1100, frames);
    /* Past what the slots hold: capped (63 frames of 5 ms). */
    CHECK_INT(pvs_jitter_set_min_delay_us(j, 10000000), ==, 0);
    pvs_jitter_get_stats(j, &st);
    CHECK_NEAR(st.min_delay_ms, (PVS_JITTER_SLOTS / 2 - 1) * 5.0, 0.01);
    CHECK_NEAR(st.target_ms, st.min_delay_ms, 0.01);
    pvs_jitter_close(&j);
}

/* Frames dropped while a tone plays (the floor lowered) are decoded all the
 * same and cross-faded into the next: at 440 Hz a frame is not whole
 * periods, and a frame cut out is a phase jump, a click, unless faded; the
 * decoder, left without the frame, would overlap its next one with audio
 * it never saw. */
static void test_drop_fades(void)
{
    int frames = 800;
    tone_hz = 440;
    make_stream(frames, 1, NULL);
    tone_hz = 1000;
    struct pvs_jitter *j = open_jb();
    int next = 0;
    for (int k = 0; k < frames; k++) {
        int64_t now = tick(j, k, frames, &next);
        if (k == 0)
            CHECK_INT(pvs_jitter_set_min_delay_us(j, 40000), ==, 0);
        if (k == 300)
            CHECK_INT(pvs_jitter_set_min_delay_us(j, 0), ==, 0);
        pvs_jitter_pull(j, now, out + (size_t)k * F * 2, NULL);
    }
    struct pvs_jitter_stats st;
    pvs_jitter_get_stats(j, &st);
    int step = 0;
    for (size_t i = (size_t)300 * F * 2; i + 2 < (size_t)frames * F * 2; i += 2) {
        int d = abs(out[i + 2] - out[i]);
        step = d > step ? d : step;
    }
    double tone_step = 0.5 * 32767 * 2 * M_PI * 440 / RATE;
    printf("440 Hz, floor 40 -> 5 ms: %llu frames dropped, the largest step between samples %d "
           "(the tone's own %.0f)\n", (unsigned long long)st.dropped, step, tone_step);
    CHECK(st.dropped >= 4);
    CHECK_INT(st.decode_errors, ==, 0);
    CHECK(step < 1.3 * tone_step);
    pvs_jitter_close(&j);
}

static void test_packet_layout(void)
{
    struct pvs_audio_packer pk;
    CHECK_INT(pvs_audio_packer_init(&pk, 7, 65535, F, 2), ==, 0);
    CHECK_INT(pvs_audio_packer_init(&pk, 7, 0, 100, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_audio_packer_init(&pk, 7, 0, F, 3), ==, PVS_EINVAL);
    CHECK_INT(pvs_audio_packer_init(&pk, 7, 65535, F, 2), ==, 0);
    uint8_t a[10], b2[20], c[30], buf[PVS_AUDIO_MAX_PACKET];
    memset(a, 0xa, sizeof(a)); memset(b2, 0xb, sizeof(b2)); memset(c, 0xc, sizeof(c));
    struct pvs_audio_packet p;
    int n = pvs_audio_pack(&pk, a, sizeof(a), 1000, 42, PVS_AUDIO_FLAG_SILENT, true, buf, sizeof(buf));
    CHECK_INT(n, ==, 12 + 14 + 10);
    CHECK_INT(pvs_audio_packet_parse(buf, (size_t)n, &p), ==, 0);
    CHECK(p.marker && p.seq == 65535 && p.timestamp == 1000 && p.ssrc == 7);
    CHECK(p.flags == PVS_AUDIO_FLAG_SILENT && p.capture_us == 42 && p.redundant == 0);
    CHECK(p.primary.len == 10 && p.primary.data[0] == 0xa);
    n = pvs_audio_pack(&pk, b2, sizeof(b2), 1240, 43, 0, false, buf, sizeof(buf));
    n = pvs_audio_pack(&pk, c, sizeof(c), 1480, 44, 0, false, buf, sizeof(buf));
    CHECK_INT(n, ==, 12 + 14 + 4 + 10 + 20 + 30);
    CHECK_INT(pvs_audio_packet_parse(buf, (size_t)n, &p), ==, 0);
    CHECK(p.seq == 1 && !p.marker && p.redundant == 2);
    CHECK(p.earlier[0].len == 10 && p.earlier[0].data[0] == 0xa);
    CHECK(p.earlier[1].len == 20 && p.earlier[1].data[0] == 0xb);
    CHECK(p.primary.len == 30 && p.primary.data[29] == 0xc);
    /* A gap in timestamps: nothing earlier is carried. */
    n = pvs_audio_pack(&pk, a, sizeof(a), 2400, 45, 0, true, buf, sizeof(buf));
    CHECK_INT(pvs_audio_packet_parse(buf, (size_t)n, &p), ==, 0);
    CHECK_INT(p.redundant, ==, 0);
    /* Only what fits: the oldest goes first. */
    n = pvs_audio_pack(&pk, b2, sizeof(b2), 2640, 46, 0, false, buf, 12 + 14 + 20 + 5);
    CHECK_INT(n, ==, 12 + 14 + 20);
    CHECK_INT(pvs_audio_pack(&pk, c, sizeof(c), 2880, 47, 0, false, buf, 12 + 14 + 29), ==, PVS_EINVAL);
    CHECK_INT(pvs_audio_pack(&pk, c, 0, 2880, 47, 0, false, buf, sizeof(buf)), ==, PVS_EINVAL);
}

/* ---- seeds for fuzz_audio_jitter (PVS_WRITE_CORPUS=DIR) ----------------- */

static uint8_t seed[64 * 1024];
static size_t seed_len;

static void seed_insert(int frame, int dt_quarter_ms)
{
    if (seed_len + 3 + (size_t)lens[frame] > sizeof(seed))
        return;
    seed[seed_len++] = (uint8_t)(dt_quarter_ms << 1);
    seed[seed_len++] = (uint8_t)(lens[frame] >> 8);
    seed[seed_len++] = (uint8_t)lens[frame];
    memcpy(seed + seed_len, pkts[frame], (size_t)lens[frame]);
    seed_len += (size_t)lens[frame];
}

static void seed_pull(int dt_quarter_ms)
{
    if (seed_len < sizeof(seed))
        seed[seed_len++] = (uint8_t)(dt_quarter_ms << 1 | 1);
}

static void seed_write(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(seed, 1, seed_len, f) != seed_len)
        fprintf(stderr, "cannot write %s\n", path);
    if (f)
        fclose(f);
}

/* A stream of `frames` packets, one every 5 ms, each followed by a pull;
 * `skip` says which packets are lost, `swap` swaps neighbours, `dup` sends
 * some twice. */
static void seed_stream(int frames, bool (*skip)(int), bool swap, bool dup)
{
    seed_len = 0;
    seed[seed_len++] = 0x01; /* 240-sample frames */
    for (int i = 0; i < frames; i++) {
        int k = swap && i % 2 == 0 && i + 1 < frames ? i + 1 : swap && i % 2 ? i - 1 : i;
        if (lens[k] && !(skip && skip(k))) {
            seed_insert(k, 18);
            if (dup && k % 4 == 0)
                seed_insert(k, 0);
        }
        seed_pull(2);
    }
    for (int i = 0; i < 6; i++)
        seed_pull(20);
}

static bool skip_some(int i)
{
    return i % 7 == 3 || (i >= 20 && i < 24);
}

static void write_corpus(const char *dir)
{
    make_stream(40, 1, NULL);
    seed_stream(40, NULL, false, false);
    seed_write(dir, "in_order");
    seed_stream(40, NULL, true, true);
    seed_write(dir, "reordered_duplicated");
    seed_stream(40, skip_some, false, false);
    seed_write(dir, "loss_carried");
    make_stream(60, 0, quiet_middle_short);
    seed_stream(60, NULL, false, false);
    seed_write(dir, "silence_gate");
    make_stream(12, 2, NULL);
    seed_stream(12, NULL, false, false);
    /* and the same packets moved far away, then truncated */
    for (int i = 0; i < 6; i++) {
        far_away(pkts[i]);
        seed_insert(i, 4);
    }
    lens[7] /= 2;
    seed_insert(7, 4);
    seed_pull(20);
    seed_write(dir, "resync_garbage");
}

int main(void)
{
    const char *corpus = getenv("PVS_WRITE_CORPUS");
    if (corpus) {
        write_corpus(corpus);
        return 0;
    }
    RUN(test_packet_layout);
    RUN(test_in_order);
    RUN(test_start_burst);
    RUN(test_reordered_and_duplicated);
    RUN(test_loss);
    RUN(test_burst);
    RUN(test_adapts);
    RUN(test_silence_gate);
    RUN(test_garbage);
    RUN(test_min_delay);
    RUN(test_drop_fades);
    TEST_EXIT();
}
