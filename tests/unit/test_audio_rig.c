/* The audio test rig (tests/audio_rig.h) that pvstream-bench audio and the
 * audio integration test stand on:
 *  - the analysis, on a made-up output with known delay, gap and a cut
 *    burst: bursts found, frequency, SNR, gaps, onset to output exact;
 *  - the timeline: interpolation between anchors;
 *  - the tap: a writer that comes, goes and comes back through stdio (as
 *    SDL's disk driver writes) is read whole, in order, with times;
 *  - the player on a private PulseAudio server: its bursts come back from
 *    the null sink's monitor (the server's capture path) at 1 kHz, and
 *    the onset times it reports agree with the capture times of the pulse
 *    source within a few ms.
 * Needs the pulseaudio package for the last part (CI installs it). */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio/source.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "tests/audio_rig.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

#define RATE PVS_RIG_RATE
#define NS_PER_SAMPLE (1000000000.0 / RATE)

static char dir[] = "/tmp/pvs-rig-XXXXXX";

/* ---- the analysis on a made-up output ------------------------------------ */

static void test_analyze_synthetic(void)
{
    struct pvs_rig_signal sig = { 0 };
    pvs_rig_signal_resolve(&sig);
    CHECK_NEAR(sig.hz, 1000, 0);
    CHECK_INT(sig.on_ms, ==, 200);
    CHECK_INT(sig.off_ms, ==, 300);
    /* 6 s of output: the signal from 37 ms in (starting 120 ms into a
     * burst, so the first burst is cut), a 3 ms gap in the middle of the
     * fourth burst, the sixth burst cut short by 30 ms (its end). */
    const size_t n = 6 * RATE, delay = 37 * 48, skip = 120 * 48;
    int16_t *pcm = calloc(n * 2, sizeof(int16_t));
    CHECK(pcm != NULL);
    if (!pcm)
        return;
    for (size_t i = delay; i < n; i++)
        pcm[2 * i] = pcm[2 * i + 1] = pvs_rig_signal_sample(&sig, i - delay + skip);
    /* Burst k (k >= 1) starts at output sample delay + k*period - skip. */
    const size_t period = 500 * 48;
    size_t b4 = delay + 4 * period - skip, b6 = delay + 6 * period - skip;
    memset(pcm + 2 * (b4 + 100 * 48), 0, 2 * 3 * 48 * sizeof(int16_t));
    memset(pcm + 2 * (b6 + 170 * 48), 0, 2 * 30 * 48 * sizeof(int16_t));

    /* Written at 48 kHz from t0, anchors every 1024 samples; burst k was
     * played 42 ms before it was written. */
    const int64_t t0 = 1000000000000LL;
    size_t na = n / 1024;
    uint64_t *as = malloc(na * sizeof(uint64_t));
    int64_t *an = malloc(na * sizeof(int64_t));
    for (size_t k = 0; k < na; k++) {
        as[k] = (k + 1) * 1024;
        an[k] = t0 + (int64_t)((double)as[k] * NS_PER_SAMPLE);
    }
    struct pvs_rig_timeline tl = { as, an, na };
    int64_t onsets[16];
    for (int k = 0; k < 16; k++)
        onsets[k] = t0 + (int64_t)(((double)delay + (double)k * (double)period - (double)skip) *
                                   NS_PER_SAMPLE) - 42000000;

    struct pvs_rig_analysis a;
    CHECK_INT(pvs_rig_analyze(pcm, n, &sig, &tl, 0, onsets, 16, &a), ==, 0);
    printf("synthetic: %d bursts (%d short, %d long), %.3f Hz, SNR median %.1f dB min %.1f dB, "
           "gap %.2f ms, onset p50 %.2f ms (%d matched)\n", a.bursts, a.short_bursts,
           a.long_bursts, a.freq_hz, a.snr_db, a.snr_min_db, a.longest_gap_ms,
           (double)pvs_stats_quantile(&a.onset, 0.5) / 1e6, a.onsets_matched);
    /* Burst k starts at k * 500 - 83 ms: bursts 1..11 start and end in
     * the 6 s (the 12th starts at 5.917 s and does not end); the 6th is
     * 30 ms short. */
    CHECK_INT(a.bursts, ==, 11);
    CHECK_INT(a.short_bursts, ==, 1);
    CHECK_INT(a.long_bursts, ==, 0);
    CHECK_NEAR(a.freq_hz, 1000, 0.01);
    CHECK(a.freq_error_hz < 0.01);
    CHECK(a.freq_worst_error_hz > 1); /* the burst with a gap */
    CHECK(a.snr_db > 80);
    CHECK(a.snr_min_db < 30); /* the burst with a gap */
    CHECK_NEAR(a.longest_gap_ms, 3, 0.05);
    CHECK_INT(a.onsets_matched, ==, 11);
    CHECK_NEAR((double)pvs_stats_quantile(&a.onset, 0.5) / 1e6, 42, 1);
    CHECK_NEAR(a.onset_mean_ms, 42, 0.1);

    /* From a time on: the bursts written before are left out. */
    CHECK_INT(pvs_rig_analyze(pcm, n, &sig, &tl, t0 + 3000000000LL, onsets, 16, &a), ==, 0);
    CHECK_INT(a.bursts, ==, 5);
    CHECK_NEAR(a.longest_gap_ms, 0.02, 0.03); /* only zero crossings */

    /* A silence longer than 50 ms breaks a burst in two short ones (and
     * without a timeline nothing is matched). */
    memset(pcm + 2 * (b6 + 50 * 48), 0, 2 * 80 * 48 * sizeof(int16_t));
    CHECK_INT(pvs_rig_analyze(pcm, n, &sig, NULL, 0, NULL, 0, &a), ==, 0);
    CHECK_INT(a.bursts, ==, 12);
    CHECK_INT(a.short_bursts, ==, 2);
    CHECK_INT(a.onsets_matched, ==, 0);

    /* Nothing: no bursts, no crash. */
    memset(pcm, 0, n * 2 * sizeof(int16_t));
    CHECK_INT(pvs_rig_analyze(pcm, n, &sig, &tl, 0, onsets, 16, &a), ==, 0);
    CHECK_INT(a.bursts, ==, 0);
    CHECK_INT(pvs_rig_analyze(pcm, 0, &sig, NULL, 0, NULL, 0, &a), ==, 0);
    CHECK_INT(a.bursts, ==, 0);
    free(as);
    free(an);
    free(pcm);
}

static void test_timeline(void)
{
    uint64_t s[3] = { 100, 200, 400 };
    int64_t t[3] = { 1000, 2000, 3000 };
    struct pvs_rig_timeline tl = { s, t, 3 };
    CHECK_INT(pvs_rig_time_at(&tl, 100), ==, 1000);
    CHECK_INT(pvs_rig_time_at(&tl, 150), ==, 1500);
    CHECK_INT(pvs_rig_time_at(&tl, 300), ==, 2500);
    CHECK_INT(pvs_rig_time_at(&tl, 400), ==, 3000);
    CHECK_INT(pvs_rig_time_at(&tl, 99), ==, 1000 - 20833);
    CHECK_INT(pvs_rig_time_at(&tl, 401), ==, 3000 + 20833);
    struct pvs_rig_timeline none = { NULL, NULL, 0 };
    CHECK_INT(pvs_rig_time_at(&none, 5), ==, 0);
    CHECK_INT(pvs_rig_time_at(NULL, 5), ==, 0);
}

/* ---- the tap -------------------------------------------------------------- */

struct writer {
    const char *path;
    int periods;
    int64_t done_ns;
    int err;
};

/* Like SDL's disk driver: fopen "wb", a period of 240 stereo samples every
 * 5 ms through stdio, fclose; twice (the client reopening audio). */
static int write_periods(void *arg)
{
    struct writer *w = arg;
    int16_t buf[240 * 2];
    int k = 0;
    for (int round = 0; round < 2; round++) {
        FILE *f = fopen(w->path, "wb");
        if (!f) {
            w->err = 1;
            return 0;
        }
        for (int p = 0; p < w->periods; p++, k++) {
            for (int i = 0; i < 240; i++)
                buf[2 * i] = buf[2 * i + 1] = (int16_t)(k * 240 + i);
            if (fwrite(buf, sizeof(buf), 1, f) != 1)
                w->err = 1;
            pvs_sleep_ns(5000000);
        }
        fclose(f);
        w->done_ns = pvs_time_ns();
        pvs_sleep_ns(20000000);
    }
    return 0;
}

static void test_tap(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/tap.raw", dir);
    struct pvs_rig_tap *tap = NULL;
    CHECK_INT(pvs_rig_tap_open(&tap, path, 10), ==, 0);
    if (!tap)
        return;
    struct writer w = { .path = path, .periods = 60 };
    struct pvs_thread *t;
    int64_t t0 = pvs_time_ns();
    CHECK_INT(pvs_thread_create(&t, write_periods, &w, "writer"), ==, 0);
    pvs_thread_join(&t, NULL);
    pvs_sleep_ns(20000000);
    pvs_rig_tap_stop(tap);
    CHECK_INT(w.err, ==, 0);
    const int16_t *pcm;
    size_t n = pvs_rig_tap_pcm(tap, &pcm);
    CHECK_INT(n, ==, 2 * 60 * 240);
    int wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong += pcm[2 * i] != (int16_t)i || pcm[2 * i + 1] != (int16_t)i;
    CHECK_INT(wrong, ==, 0);
    struct pvs_rig_timeline tl;
    pvs_rig_tap_timeline(tap, &tl);
    CHECK(tl.n >= 2);
    int backwards = 0;
    for (size_t i = 1; i < tl.n; i++)
        backwards += tl.sample[i] <= tl.sample[i - 1] || tl.ns[i] < tl.ns[i - 1];
    CHECK_INT(backwards, ==, 0);
    /* Every sample was written after the start and read before the end. */
    CHECK(pvs_rig_time_at(&tl, 0) >= t0 - 50000000);
    CHECK(tl.n && tl.ns[tl.n - 1] <= w.done_ns + 100000000);
    printf("tap: %zu samples in %zu reads\n", n, tl.n);
    pvs_rig_tap_close(&tap);
    CHECK(tap == NULL);
    CHECK(access(path, F_OK) != 0);
    pvs_rig_tap_close(&tap); /* NULL is fine */
}

/* ---- the player, through a private PulseAudio server ------------------- */

static void test_player(void)
{
    struct pvs_rig_pulse pulse;
    int rc = pvs_rig_pulse_start(&pulse, dir);
    if (rc == PVS_ENOENT) {
        fprintf(stderr, "pulseaudio is not installed (apt-get install pulseaudio): the player "
                        "test cannot run\n");
        CHECK(false);
        return;
    }
    CHECK_INT(rc, ==, 0);
    if (rc)
        return;
    struct pvs_rig_signal sig = { 0 };
    struct pvs_rig_player *pl = NULL;
    CHECK_INT(pvs_rig_player_start(&pl, &sig), ==, 0);
    pvs_rig_signal_resolve(&sig);
    /* A null sink that sat idle renders ahead for a while (docs/audio.md):
     * let it settle under the player's low latency first. */
    pvs_sleep_ns(1500000000LL);

    struct pvs_audio_source *src = NULL;
    char why[256] = "";
    rc = pvs_audio_open(&src, "pulse", NULL, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    if (rc)
        fprintf(stderr, "pulse source: %s\n", why);
    /* 2.5 s of capture; the frames' capture times are the timeline. */
    enum { FRAMES = 500 };
    int16_t *pcm = calloc((size_t)FRAMES * 240 * 2, sizeof(int16_t));
    uint64_t *as = calloc(FRAMES, sizeof(uint64_t));
    int64_t *an = calloc(FRAMES, sizeof(int64_t));
    size_t got = 0;
    uint64_t first_pos = 0;
    while (src && pcm && got < FRAMES) {
        struct pvs_audio_frame f;
        if (pvs_audio_read(src, &f, 3000) != 0)
            break;
        if (!got)
            first_pos = f.position;
        if (f.position - first_pos != got * 240)
            break; /* dropped audio: keep what is contiguous */
        memcpy(pcm + got * 480, f.pcm, 480 * sizeof(int16_t));
        as[got] = got * 240; /* the frame's first sample ... */
        an[got] = f.capture_ns; /* ... was captured then */
        got++;
    }
    CHECK_INT(got, ==, FRAMES);
    pvs_audio_close(&src);
    size_t n_on = 0;
    int64_t onsets[64];
    if (pl)
        n_on = pvs_rig_player_onsets(pl, onsets, 64);
    CHECK_INT(pvs_rig_player_stop(&pl), ==, 0);
    CHECK(pl == NULL);
    pvs_rig_pulse_stop(&pulse);
    /* 4 s, less up to 2 s before an idle null sink takes the first data. */
    CHECK(n_on >= 4 && n_on <= 64);

    struct pvs_rig_timeline tl = { as, an, got };
    struct pvs_rig_analysis a;
    CHECK_INT(pvs_rig_analyze(pcm, got * 240, &sig, &tl, 0, onsets, n_on < 64 ? n_on : 64, &a),
              ==, 0);
    printf("player -> monitor: %d bursts, %.3f Hz, SNR %.1f dB, gap %.2f ms, played -> captured "
           "mean %.2f ms p50 %.2f ms (%d matched)\n", a.bursts, a.freq_hz, a.snr_db,
           a.longest_gap_ms, a.onset_mean_ms, (double)pvs_stats_quantile(&a.onset, 0.5) / 1e6,
           a.onsets_matched);
    CHECK(a.bursts >= 3);
    CHECK_INT(a.short_bursts, ==, 0);
    CHECK_INT(a.long_bursts, ==, 0);
    CHECK(a.freq_worst_error_hz < 0.1);
    CHECK(a.snr_db > 60);
    CHECK(a.longest_gap_ms < 0.1);
    /* The player's onset times and the source's capture times are both
     * estimates from pulse's latency figures; they agree within 20 ms. */
    CHECK_INT(a.onsets_matched, ==, a.bursts);
    CHECK(fabs(a.onset_mean_ms) < 20);
    free(pcm);
    free(as);
    free(an);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_analyze_synthetic);
    RUN(test_timeline);
    RUN(test_tap);
    RUN(test_player);
    pvs_test_scratch_done(dir, test_checks_failed != 0);
    TEST_EXIT();
}
