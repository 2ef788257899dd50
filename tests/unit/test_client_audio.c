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
    if (!f)
        return NULL;
    CHECK_INT(pvs_client_stats_write_json(s, f), ==, 0);
    long n = ftell(f);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(f);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

static char *summary_of(const struct pvs_client_stats *s)
{
    FILE *f = tmpfile();
    if (!f)
        return NULL;
    pvs_client_stats_print_summary(s, f);
    long n = ftell(f);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(f);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n)
        buf[0] = '\0';
    fclose(f);
    return buf;
}

static void test_stats_audio(void)
{
    struct pvs_client_stats *s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;

    /* Audio off: "audio": null, the line and the overlay say "audio off". */
    char *j = json_of(s);
    CHECK(j && strstr(j, ",\"audio\":null}\n") != NULL);
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
    CHECK(strcmp(a, "audio n/a") == 0);

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
        CHECK(au && strstr(au, "},\"underruns\":2,\"concealed\":3}}\n") != NULL);
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
                         "\"underruns\":0,\"concealed\":1}}\n") != NULL);
    free(j);
    pvs_client_stats_free(&s);
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
    RUN(test_options);
    TEST_EXIT();
}
