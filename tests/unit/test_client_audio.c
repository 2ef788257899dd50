/* The client's audio figures without SDL: the latency mapping (server
 * capture time -> when it is heard, on our clock), the statistics' audio
 * part (JSON, the per-second line, the summary), and --no-audio. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/options.h"
#include "client/stats.h"
#include "common/error.h"
#include "test.h"

static void test_latency_mapping(void)
{
    int64_t lat = -1;
    /* Same clock: captured at 1.000 s, callback at 1.010 s with 5 ms
     * queued ahead: heard 15 ms after capture. */
    CHECK(pvs_client_audio_latency(1000000, 0, 1010000, 5000, &lat));
    CHECK_INT(lat, ==, 15000);
    /* The server's clock 10 s ahead of ours: its 11.000 s is our 1.000 s. */
    CHECK(pvs_client_audio_latency(11000000, 10000000, 1010000, 5000, &lat));
    CHECK_INT(lat, ==, 15000);
    /* ...and 3 s behind. */
    CHECK(pvs_client_audio_latency(1000000, -3000000, 4020000, 2500, &lat));
    CHECK_INT(lat, ==, 22500);
    /* No capture time (silence, concealment), or one no clock has. */
    lat = 7;
    CHECK(!pvs_client_audio_latency(0, 0, 1000, 0, &lat));
    CHECK(!pvs_client_audio_latency(UINT64_MAX, 0, 1000, 0, &lat));
    CHECK(!pvs_client_audio_latency(1000, INT64_MAX, 1000, 0, &lat));
    CHECK_INT(lat, ==, 7);
}

static char *json_of(const struct pvs_client_stats *s)
{
    FILE *f = tmpfile();
    if (f)
        CHECK_INT(pvs_client_stats_write_json(s, f), ==, 0);
    return test_read_back(f);
}

static char *summary_of(const struct pvs_client_stats *s)
{
    FILE *f = tmpfile();
    if (f)
        pvs_client_stats_print_summary(s, f);
    return test_read_back(f);
}

static void test_stats_audio(void)
{
    struct pvs_client_stats *s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;

    /* Audio off: "audio": null, the line and the overlay say "audio off". */
    char *j = json_of(s);
    CHECK(j && strstr(j, ",\"audio\":null,\"abr\":null}\n") != NULL);
    free(j);
    struct pvs_client_second sec;
    char line[512], a[32];
    pvs_client_stats_roll(s, 1000000, &sec);
    CHECK(!sec.audio_on);
    pvs_client_stats_format_second(&sec, line, sizeof(line));
    CHECK(strstr(line, "| audio off") != NULL);
    pvs_client_stats_format_audio(&sec, a, sizeof(a));
    CHECK(strcmp(a, "audio off") == 0);

    /* Playing, but nothing heard yet in the window. */
    s->audio_on = true;
    pvs_client_stats_roll(s, 2000000, &sec);
    CHECK(sec.audio_on);
    CHECK(isnan(sec.audio_ms));
    pvs_client_stats_format_audio(&sec, a, sizeof(a));
    CHECK(strcmp(a, "audio n/a | A/V n/a") == 0);
    CHECK(isnan(sec.av_offset_ms));

    /* 100 frames heard 20..29 ms after capture, 2 underruns, 3 concealed,
     * handed over in two parts. */
    struct pvs_stats lat;
    pvs_stats_reset(&lat);
    for (int i = 0; i < 50; i++)
        pvs_stats_add(&lat, (20 + i % 10) * 1000000LL);
    pvs_client_stats_audio(s, &lat, 50, 2, 0);
    pvs_client_stats_audio(s, &lat, 50, 0, 3);
    pvs_client_stats_audio(s, NULL, 0, 0, 0);
    CHECK_INT(s->audio_frames, ==, 100);
    CHECK_INT(s->audio_total.count, ==, 100);
    pvs_client_stats_roll(s, 3000000, &sec);
    CHECK_NEAR(sec.audio_ms, 24.5, 1.0);
    pvs_client_stats_format_second(&sec, line, sizeof(line));
    CHECK(strstr(line, "| audio 2") != NULL && strstr(line, " ms") != NULL);
    /* The window starts again; the totals stay. */
    pvs_client_stats_roll(s, 4000000, &sec);
    CHECK(isnan(sec.audio_ms));
    CHECK_INT(s->audio_total.count, ==, 100);

    j = json_of(s);
    CHECK(j != NULL);
    if (j) {
        const char *au = strstr(j, "\"audio\":{\"latency_ms\":{\"p50\":");
        CHECK(au != NULL);
        double p50 = au ? atof(au + strlen("\"audio\":{\"latency_ms\":{\"p50\":")) : 0;
        const char *p99s = au ? strstr(au, "\"p99\":") : NULL;
        double p99 = p99s ? atof(p99s + 6) : 0;
        CHECK_NEAR(p50, 24.5, 1.0);
        CHECK_NEAR(p99, 29, 0.6);
        CHECK(au && strstr(au, "},\"underruns\":2,\"concealed\":3},\"abr\":null}\n") != NULL);
    }
    free(j);
    char *sum = summary_of(s);
    CHECK(sum && strstr(sum, "audio: 100 frames played, 2 underruns, 3 concealed") != NULL);
    free(sum);
    pvs_client_stats_free(&s);

    /* Frames played before any clock offset: the figures are there, the
     * latency is null, never a guess. */
    s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;
    pvs_client_stats_audio(s, NULL, 10, 0, 1);
    j = json_of(s);
    CHECK(j && strstr(j, ",\"audio\":{\"latency_ms\":{\"p50\":null,\"p99\":null},"
                         "\"av_offset_ms\":{\"p50\":null,\"p99\":null},"
                         "\"underruns\":0,\"concealed\":1},\"abr\":null}\n") != NULL);
    free(j);
    pvs_client_stats_free(&s);
}

/* Adds one second: n audio frames heard audio_ms after capture, n video
 * frames decoded video_ms after capture, then rolls. */
static void one_second(struct pvs_client_stats *s, int64_t *now, double audio_ms, double video_ms,
                       struct pvs_client_second *sec)
{
    struct pvs_stats lat;
    pvs_stats_reset(&lat);
    for (int i = 0; i < 50; i++)
        pvs_stats_add(&lat, (int64_t)(audio_ms * 1e6));
    pvs_client_stats_audio(s, &lat, 50, 0, 0);
    for (int i = 0; i < 30; i++) {
        struct pvs_client_frame f = { .capture_us = 5000000, .host_us = 1000,
                                      .complete_us = 5002000,
                                      .decoded_us = 5000000 + (int64_t)(video_ms * 1000),
                                      .decode_us = 500, .have_offset = true, .offset_us = 0 };
        pvs_client_stats_frame(s, &f, NULL);
    }
    *now += 1000000;
    pvs_client_stats_roll(s, *now, sec);
}

/* The A/V offset: per second, audio's median less video's; in the line,
 * the overlay's text, the summary and JSON (p50 signed, p99 of |offset|). */
static void test_av_offset(void)
{
    struct pvs_client_stats *s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;
    s->audio_on = true;
    int64_t now = 0;
    struct pvs_client_second sec;
    char line[512], a[64];
    one_second(s, &now, 26, 20, &sec);
    CHECK_NEAR(sec.av_offset_ms, 6, 0.5);
    CHECK_INT(s->av_seconds, ==, 1);
    pvs_client_stats_format_audio(&sec, a, sizeof(a));
    CHECK(strcmp(a, "audio 26 ms | A/V +6 ms") == 0);
    pvs_client_stats_format_second(&sec, line, sizeof(line));
    CHECK(strstr(line, "| audio 26 ms | A/V +6 ms") != NULL);
    /* Sound before its picture: negative. */
    one_second(s, &now, 10, 30, &sec);
    CHECK_NEAR(sec.av_offset_ms, -20, 0.8);
    pvs_client_stats_format_audio(&sec, a, sizeof(a));
    CHECK(strcmp(a, "audio 10 ms | A/V -20 ms") == 0);
    /* A second without pictures has no offset and changes nothing. */
    struct pvs_stats lat;
    pvs_stats_reset(&lat);
    pvs_stats_add(&lat, 30000000);
    pvs_client_stats_audio(s, &lat, 1, 0, 0);
    now += 1000000;
    pvs_client_stats_roll(s, now, &sec);
    CHECK(isnan(sec.av_offset_ms));
    CHECK_INT(s->av_seconds, ==, 2);
    /* Three more: offsets +6, -20, +4, +5, +8: median +5, |max| 20. */
    one_second(s, &now, 24, 20, &sec);
    one_second(s, &now, 25, 20, &sec);
    one_second(s, &now, 28, 20, &sec);
    CHECK_INT(s->av_seconds, ==, 5);
    CHECK_NEAR(pvs_client_stats_av_quantile(s, 0.5), 5, 0.5);
    CHECK_NEAR(pvs_client_stats_av_quantile(s, 0.0), -20, 0.5);
    CHECK_NEAR(s->av_audio_ms, 28, 0.5);
    CHECK_NEAR(s->av_video_ms, 20, 0.5);
    char *j = json_of(s);
    const char *av = j ? strstr(j, "\"av_offset_ms\":{\"p50\":") : NULL;
    CHECK(av != NULL);
    if (av) {
        CHECK_NEAR(atof(av + strlen("\"av_offset_ms\":{\"p50\":")), 5, 0.5);
        const char *p99 = strstr(av, "\"p99\":");
        CHECK(p99 && fabs(atof(p99 + 6) - 20) < 0.5);
    }
    free(j);
    char *sum = summary_of(s);
    CHECK(sum && strstr(sum, "A/V offset (audio - video, per second): p50 +5") != NULL);
    free(sum);
    pvs_client_stats_free(&s);
}

/* The sync rule, one second at a time (30 fps: 33.3 ms frames, 5 ms audio
 * frames). */
static void test_av_sync(void)
{
    const double vf = 1000.0 / 30, af = 5, max = 200;
    /* No figure this second: nothing moves. */
    CHECK_NEAR(pvs_client_av_sync(NAN, 20, vf, af, 7, max), 7, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(20, NAN, vf, af, 7, max), 7, 1e-9);
    /* In sync, or early by less than half a frame (16.7 ms): nothing. */
    CHECK_NEAR(pvs_client_av_sync(20, 20, vf, af, 0, max), 0, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(20, 36, vf, af, 0, max), 0, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(20, 36, vf, af, 10, max), 10, 1e-9);
    /* Early by 40 ms: one audio frame more per second, never more. */
    CHECK_NEAR(pvs_client_av_sync(10, 50, vf, af, 0, max), 5, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(10, 50, vf, af, 5, max), 10, 1e-9);
    /* Only as far as the difference (a small frame interval: 240 Hz). */
    CHECK_NEAR(pvs_client_av_sync(10, 13, 1000.0 / 240, af, 0, max), 3, 1e-9);
    /* Up to the most allowed. */
    CHECK_NEAR(pvs_client_av_sync(10, 500, vf, af, 198, max), 200, 1e-9);
    /* Late: the extra comes back down a frame a second, to 0 and no
     * further; without extra delay, late sound is left alone (video is
     * never held back for it). */
    CHECK_NEAR(pvs_client_av_sync(60, 20, vf, af, 12, max), 7, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(60, 20, vf, af, 3, max), 0, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(22, 20, vf, af, 12, max), 10, 1e-9);
    CHECK_NEAR(pvs_client_av_sync(60, 20, vf, af, 0, max), 0, 1e-9);
    /* Closing in: 40 ms early with 5 ms steps settles within half a frame
     * early and stays (each second the delay moves the offset with it). */
    double extra = 0, audio = 10, video = 50;
    for (int i = 0; i < 20; i++)
        extra = pvs_client_av_sync(audio + extra, video, vf, af, extra, max);
    double off = audio + extra - video;
    CHECK(off >= -vf / 2 && off <= 0);
    CHECK_NEAR(extra, 25, 1e-9);
    /* Then the picture speeds up: the extra goes away again. */
    video = 20;
    for (int i = 0; i < 20; i++)
        extra = pvs_client_av_sync(audio + extra, video, vf, af, extra, max);
    CHECK_NEAR(extra, 10, 1e-9);
    CHECK_NEAR(audio + extra - video, 0, 1e-9);
}

static int parse(struct pvs_client_opts *o, const char *a1, const char *a2)
{
    char *argv[] = { "pvstream-client", (char *)a1, (char *)a2, NULL };
    char err[256];
    pvs_client_opts_default(o);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = pvs_client_opts_parse(o, a2 ? 3 : 2, argv, devnull ? devnull : stdout, err,
                                   sizeof(err));
    if (devnull)
        fclose(devnull);
    return rc;
}

static void test_options(void)
{
    struct pvs_client_opts o;
    CHECK_INT(parse(&o, "host", NULL), ==, 0);
    CHECK(o.audio);
    CHECK_INT(parse(&o, "host", "--no-audio"), ==, 0);
    CHECK(!o.audio);
    CHECK_INT(parse(&o, "--audio", "host"), ==, 0);
    CHECK(o.audio);
    CHECK_INT(parse(&o, "host", "--audio=maybe"), ==, PVS_ECONFIG);
}

int main(void)
{
    RUN(test_latency_mapping);
    RUN(test_stats_audio);
    RUN(test_av_offset);
    RUN(test_av_sync);
    RUN(test_options);
    TEST_EXIT();
}
