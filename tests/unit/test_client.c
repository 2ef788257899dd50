/* The client's pure parts: letterbox and pointer mapping, the statistics
 * (stages, unavailable figures, the JSON's shape), option parsing and its
 * errors, the overlay font. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/font.h"
#include "client/options.h"
#include "client/stats.h"
#include "client/view.h"
#include "common/error.h"
#include "test.h"

static void test_letterbox(void)
{
    struct pvs_view_rect r;
    /* same aspect: the whole area */
    pvs_view_letterbox(1280, 720, 1920, 1080, &r);
    CHECK(r.x == 0 && r.y == 0 && r.w == 1280 && r.h == 720);
    /* wider window: bars left and right */
    pvs_view_letterbox(1000, 500, 1920, 1080, &r);
    CHECK_INT(r.h, ==, 500);
    CHECK_INT(r.w, ==, 889);
    CHECK_INT(r.x, ==, 55);
    CHECK_INT(r.y, ==, 0);
    /* taller window: bars above and below */
    pvs_view_letterbox(800, 800, 1600, 900, &r);
    CHECK_INT(r.w, ==, 800);
    CHECK_INT(r.h, ==, 450);
    CHECK_INT(r.y, ==, 175);
    CHECK_INT(r.x, ==, 0);
    /* degenerate sizes */
    pvs_view_letterbox(640, 480, 0, 0, &r);
    CHECK(r.x == 0 && r.y == 0 && r.w == 640 && r.h == 480);
    pvs_view_letterbox(0, -5, 1920, 1080, &r);
    CHECK(r.w == 0 && r.h == 0);
    /* an extreme aspect still gives at least one pixel */
    pvs_view_letterbox(100, 100, 60000, 1, &r);
    CHECK(r.w == 100 && r.h >= 1);
}

static void test_to_frame(void)
{
    struct pvs_view_rect r;
    int fx, fy;
    pvs_view_letterbox(1000, 500, 1920, 1080, &r); /* x 55..943 */
    CHECK(pvs_view_to_frame(&r, 1920, 1080, 55.0, 0.0, &fx, &fy));
    CHECK(fx == 0 && fy == 0);
    CHECK(pvs_view_to_frame(&r, 1920, 1080, 55 + 888.99, 499.99, &fx, &fy));
    CHECK(fx == 1919 && fy == 1079);
    CHECK(pvs_view_to_frame(&r, 1920, 1080, 55 + 444.5, 250, &fx, &fy));
    CHECK_NEAR(fx, 960, 2);
    CHECK_NEAR(fy, 540, 2);
    /* on the bars: clamped, and said so */
    CHECK(!pvs_view_to_frame(&r, 1920, 1080, 10, 250, &fx, &fy));
    CHECK(fx == 0);
    CHECK(!pvs_view_to_frame(&r, 1920, 1080, 990, -3, &fx, &fy));
    CHECK(fx == 1919 && fy == 0);
    /* 1:1 */
    pvs_view_letterbox(640, 480, 640, 480, &r);
    CHECK(pvs_view_to_frame(&r, 640, 480, 10.5, 20.5, &fx, &fy));
    CHECK(fx == 10 && fy == 20);
    /* nothing to map */
    struct pvs_view_rect empty = {0, 0, 0, 0};
    CHECK(!pvs_view_to_frame(&empty, 640, 480, 1, 1, &fx, &fy));
    CHECK(!pvs_view_to_frame(&r, 640, 480, NAN, 1, &fx, &fy));
    CHECK(fx == 0 && fy == 0);
}

/* Reads a whole FILE* written by the JSON writer. */
static char *json_of(const struct pvs_client_stats *s)
{
    FILE *f = tmpfile();
    if (f)
        CHECK_INT(pvs_client_stats_write_json(s, f), ==, 0);
    return test_read_back(f);
}

static void test_stats(void)
{
    struct pvs_client_stats *s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;

    /* Nothing yet: every figure unavailable, keys all there. */
    char *j = json_of(s);
#define NONE "{\"p50_ms\":null,\"p95_ms\":null,\"p99_ms\":null,\"max_ms\":null,\"mean_ms\":null,\"frames\":0}"
    CHECK(j && strcmp(j, "{\"frames_decoded\":0,\"frames_lost\":0,\"keyframe_requests\":0,"
                         "\"frames_stamped\":0,\"frames_presented\":0,"
                         "\"glass_to_glass\":" NONE ",\"stages\":{\"capture\":" NONE
                         ",\"host\":" NONE ",\"network\":" NONE ",\"wait\":" NONE ",\"decode\":" NONE
                         ",\"present\":" NONE "},\"glass_to_glass_ends\":\"decode\","
                         "\"present_vsync\":null,\"audio\":null,\"abr\":null}\n") == 0);
#undef NONE
    free(j);

    /* A frame before any clock offset: host and decode only. */
    struct pvs_client_frame f = {
        .capture_us = 1000000, .host_us = 3000, .complete_us = 1003500, .decoded_us = 1005500,
        .decode_us = 2000, .have_offset = false, .bytes = 1000,
    };
    pvs_client_stats_frame(s, &f, NULL);
    CHECK_INT(s->total[PVS_CSTAGE_HOST].count, ==, 1);
    CHECK_INT(s->total[PVS_CSTAGE_DECODE].count, ==, 1);
    CHECK_INT(s->total[PVS_CSTAGE_NETWORK].count, ==, 0);
    CHECK_INT(s->total[PVS_CSTAGE_G2G].count, ==, 0);

    /* With the offset: the server's clock runs 10 s ahead of ours, so its
     * capture at 11,000,000 is our 1,000,000. */
    f.capture_us = 11000000;
    f.have_offset = true;
    f.offset_us = 10000000;
    pvs_client_stats_frame(s, &f, NULL);
    CHECK_INT(s->total[PVS_CSTAGE_NETWORK].count, ==, 1);
    CHECK_NEAR(pvs_stats_quantile(&s->total[PVS_CSTAGE_NETWORK], 0.5), 500000, 10000);
    CHECK_NEAR(pvs_stats_quantile(&s->total[PVS_CSTAGE_G2G], 0.5), 5500000, 100000);
    /* A capture time that cannot be a clock's is left out. */
    f.capture_us = UINT64_MAX;
    pvs_client_stats_frame(s, &f, NULL);
    CHECK_INT(s->total[PVS_CSTAGE_G2G].count, ==, 1);
    CHECK_INT(s->frames_decoded, ==, 3);
    CHECK_INT(s->total[PVS_CSTAGE_CAPTURE].count, ==, 0);

    s->frames_lost = 1;
    s->keyframe_requests = 2;
    struct pvs_client_second sec;
    pvs_client_stats_roll(s, 2000000, &sec);
    CHECK_NEAR(sec.fps, 1.5, 1e-9);
    CHECK_NEAR(sec.mbps, 3000.0 * 8 / 2 / 1e6, 1e-9);
    CHECK_NEAR(sec.decode_ms, 2.0, 0.05);
    CHECK_NEAR(sec.g2g_ms, 5.5, 0.1);
    CHECK_INT(sec.lost, ==, 1);
    CHECK_NEAR(sec.loss_pct, 25.0, 1e-9);
    char line[256];
    pvs_client_stats_format_second(&sec, line, sizeof(line));
    /* Headless: glass to glass ends at decode, and the line says so. */
    CHECK(strstr(line, "decode 2.0 g2g 5.5 ms (to decode)") != NULL);
    CHECK(!sec.windowed && isnan(sec.present_ms));

    /* The next window is empty: medians unavailable, shown as n/a. */
    pvs_client_stats_roll(s, 3000000, &sec);
    CHECK(isnan(sec.g2g_ms) && isnan(sec.host_ms));
    CHECK_INT(sec.lost, ==, 0);
    pvs_client_stats_format_second(&sec, line, sizeof(line));
    CHECK(strstr(line, "host n/a") != NULL);

    j = json_of(s);
    CHECK(j && strncmp(j, "{\"frames_decoded\":3,\"frames_lost\":1,\"keyframe_requests\":2,"
                          "\"frames_stamped\":0,\"frames_presented\":0,"
                          "\"glass_to_glass\":{\"p50_ms\":5.", 127) == 0);
    CHECK(j && strstr(j, "\"max_ms\":5.5000,\"mean_ms\":5.5000,\"frames\":1}") != NULL);
    CHECK(j && strstr(j, "\"present\":{\"p50_ms\":null,") != NULL);
    CHECK(j && strstr(j, "\"host\":{\"p50_ms\":3.") != NULL);
    CHECK(j && strstr(j, "\"decode\":{\"p50_ms\":2.") != NULL);
    free(j);

    /* A stamped frame is measured from when it was painted: 4 ms before
     * its capture (server's clock), so 4 ms more glass to glass, and the
     * capture stage has it. A stamp from long before is not this frame's. */
    f.capture_us = 11000000;
    f.have_stamp = true;
    f.stamp_us = 10996000;
    pvs_client_stats_frame(s, &f, NULL);
    CHECK_INT(s->frames_stamped, ==, 1);
    CHECK_INT(s->total[PVS_CSTAGE_CAPTURE].count, ==, 1);
    CHECK_NEAR(pvs_stats_quantile(&s->total[PVS_CSTAGE_CAPTURE], 0.5), 4000000, 100000);
    CHECK_NEAR(pvs_stats_quantile(&s->total[PVS_CSTAGE_G2G], 1.0), 9500000, 200000);
    f.stamp_us = 100;
    pvs_client_stats_frame(s, &f, NULL);
    CHECK_INT(s->frames_stamped, ==, 1);

    /* Saving to a file that cannot be made fails with PVS_EIO. */
    CHECK_INT(pvs_client_stats_save_json(s, "/nonexistent-dir/x/stats.json"), ==, PVS_EIO);
    pvs_client_stats_free(&s);
    CHECK(s == NULL);
    pvs_client_stats_free(&s);
}

/* The lines of a trace file, whole. */
static char *slurp_trace(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    return test_read_back(f);
}

/* Adds a line's stage columns (capture..present) and compares them with
 * its glass to glass: equal, to the trace's rounding. */
static void check_adds_up(const char *line)
{
    double v[9] = { 0 };
    int n = 0;
    for (const char *p = line; p && n < 9; n++) {
        v[n] = strtod(p, NULL); /* an empty figure (no present headless) is 0 */
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    CHECK_INT(n, ==, 9);
    CHECK(v[7] > 0);
    CHECK_NEAR(v[1] + v[2] + v[3] + v[4] + v[5] + v[6], v[7], 0.002);
}

/* Headless, glass to glass ends at decode; in a window at presentation:
 * the present stage is decoded -> presented, a picture replaced before it
 * was shown has neither, and every frame's stages add up to its glass to
 * glass. The JSON and the line say which. */
static void test_stats_window(void)
{
    const char *path = "test_client_trace.csv";
    /* painted at 10.996 s and captured at 11 s on the server's clock, 10 s
     * ahead of ours; 3 ms host, 0.5 ms network, 0.5 ms waiting for the
     * decoder, 2 ms decode */
    struct pvs_client_frame f = {
        .capture_us = 11000000, .host_us = 3000, .complete_us = 1003500, .decoded_us = 1006000,
        .decode_us = 2000, .have_stamp = true, .stamp_us = 10996000, .have_offset = true,
        .offset_us = 10000000, .bytes = 1000,
    };
    struct pvs_client_stats *s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;
    /* binary: the lines as written, on Windows too */
    pvs_client_stats_set_trace(s, fopen(path, "wb"));
    CHECK(s->trace != NULL);
    struct pvs_client_row row;
    pvs_client_stats_frame(s, &f, &row);
    CHECK_INT(row.index, ==, 1);
    CHECK(row.timed && row.stamped);
    CHECK_INT(row.capture_us, ==, 4000);
    CHECK_INT(row.network_us, ==, 500);
    CHECK_INT(row.wait_us, ==, 500);
    CHECK_INT(row.origin_us, ==, 996000);
    CHECK_INT(s->total[PVS_CSTAGE_G2G].count, ==, 1);
    CHECK_INT(s->total[PVS_CSTAGE_PRESENT].count, ==, 0);
    pvs_client_stats_free(&s);
    char *text = slurp_trace(path);
    CHECK(text && strcmp(text, "frame,capture_ms,host_ms,network_ms,wait_ms,decode_ms,present_ms,"
                               "glass_to_glass_ms,t_ms\n"
                               "1,4.000,3.000,0.500,0.500,2.000,,10.000,1006.000\n") == 0);
    if (text)
        check_adds_up(strchr(text, '\n') + 1);
    free(text);

    /* A window, with vsync. */
    s = pvs_client_stats_new(0);
    CHECK(s != NULL);
    if (!s)
        return;
    pvs_client_stats_set_trace(s, fopen(path, "wb"));
    pvs_client_stats_set_window(s, true);
    struct pvs_client_row a, b, c;
    pvs_client_stats_frame(s, &f, &a);
    /* Nothing ends at decode in a window. */
    CHECK_INT(s->total[PVS_CSTAGE_G2G].count, ==, 0);
    CHECK_INT(s->total[PVS_CSTAGE_DECODE].count, ==, 1);
    pvs_client_stats_presented(s, &a, 1007500);       /* 1.5 ms after decode */
    f.decoded_us += 16667;
    f.complete_us += 16667;
    pvs_client_stats_frame(s, &f, &b);
    pvs_client_stats_unshown(s, &b);                  /* replaced before shown */
    f.decoded_us += 16667;
    f.complete_us += 16667;
    pvs_client_stats_frame(s, &f, &c);
    pvs_client_stats_presented(s, &c, f.decoded_us + 1500);
    CHECK_INT(s->frames_decoded, ==, 3);
    CHECK_INT(s->presented, ==, 2);
    CHECK_INT(s->total[PVS_CSTAGE_PRESENT].count, ==, 2);
    CHECK_INT(s->total[PVS_CSTAGE_G2G].count, ==, 2);
    CHECK_NEAR(pvs_stats_quantile(&s->total[PVS_CSTAGE_PRESENT], 0.5), 1500000, 30000);
    /* the first: 11.5 ms; the third is 2 frames later from the same stamp */
    CHECK_NEAR(pvs_stats_quantile(&s->total[PVS_CSTAGE_G2G], 0.0), 11500000, 200000);

    char *j = json_of(s);
    CHECK(j && strstr(j, "\"frames_presented\":2,") != NULL);
    CHECK(j && strstr(j, "}},\"glass_to_glass_ends\":\"present\",\"present_vsync\":true,"));
    CHECK(j && strstr(j, "\"present\":{\"p50_ms\":1.") != NULL);
    CHECK(j && strstr(j, "\"mean_ms\":1.5000,\"frames\":2}}") != NULL);
    free(j);

    struct pvs_client_second sec;
    pvs_client_stats_roll(s, 2000000, &sec);
    CHECK(sec.windowed);
    CHECK_NEAR(sec.present_ms, 1.5, 0.05);
    CHECK_NEAR(sec.presented_fps, 1.0, 1e-9);
    char line[256];
    pvs_client_stats_format_second(&sec, line, sizeof(line));
    CHECK(strstr(line, "decode 2.0 present 1.5 g2g ") != NULL);
    CHECK(strstr(line, "ms (to shown)") != NULL);
    pvs_client_stats_free(&s);

    text = slurp_trace(path);
    CHECK(text != NULL);
    if (text) {
        char *l1 = strchr(text, '\n');
        CHECK(l1 && strncmp(l1, "\n1,4.000,3.000,0.500,0.500,2.000,1.500,11.500,1006.000\n",
                            55) == 0);
        /* the replaced one: no present, no glass to glass */
        CHECK(strstr(text, "\n2,4.000,3.000,17.167,0.500,2.000,,,1022.667\n") != NULL);
        char *l3 = strstr(text, "\n3,");
        CHECK(l3 && strstr(l3, ",1.500,44.834,1039.334\n") != NULL);
        if (l1)
            check_adds_up(l1 + 1);
        if (l3)
            check_adds_up(l3 + 1);
    }
    if (text && test_checks_failed)
        fprintf(stderr, "%s", text);
    free(text);
    remove(path);
}

static int parse(struct pvs_client_opts *o, char *err, size_t len, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = "pvstream-client";
    for (int i = 1; i < argc; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    pvs_client_opts_default(o);
    FILE *out = tmpfile();
    int rc = pvs_client_opts_parse(o, argc, argv, out, err, len);
    if (out)
        fclose(out);
    return rc;
}

static void test_options(void)
{
    struct pvs_client_opts o;
    char err[256];
    CHECK_INT(parse(&o, err, sizeof(err), 2, "example.net"), ==, 0);
    CHECK(!strcmp(o.host, "example.net") && o.port == 47100);
    CHECK(!strcmp(o.decoder, "auto") && o.connect_timeout == 5 && !o.headless);

    CHECK_INT(parse(&o, err, sizeof(err), 6, "10.0.0.2:5000", "--headless", "--seconds", "7",
                    "--decoder=software"), ==, 0);
    CHECK(!strcmp(o.host, "10.0.0.2") && o.port == 5000 && o.headless && o.seconds == 7);
    CHECK(!strcmp(o.decoder, "software"));
    CHECK_INT(parse(&o, err, sizeof(err), 2, "[::1]:6000"), ==, 0);
    CHECK(!strcmp(o.host, "::1") && o.port == 6000);

    /* help and version end the program with 0 */
    CHECK_INT(parse(&o, err, sizeof(err), 2, "--help"), ==, 1);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "--version"), ==, 1);

    /* errors name what is wrong */
    CHECK_INT(parse(&o, err, sizeof(err), 1), ==, PVS_ECONFIG);
    CHECK(strstr(err, "no server") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "host:0"), ==, PVS_ECONFIG);
    CHECK(strstr(err, "bad port '0'") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "host:65536"), ==, PVS_ECONFIG);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "host:12ab"), ==, PVS_ECONFIG);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "host:"), ==, PVS_ECONFIG);
    CHECK_INT(parse(&o, err, sizeof(err), 2, ":47100"), ==, PVS_ECONFIG);
    CHECK(strstr(err, "no host name") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "fe80::1"), ==, PVS_ECONFIG);
    CHECK(strstr(err, "brackets") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 2, "[::1"), ==, PVS_ECONFIG);
    CHECK_INT(parse(&o, err, sizeof(err), 3, "a", "b"), ==, PVS_ECONFIG);
    CHECK(strstr(err, "unexpected argument 'b'") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 4, "h", "--seconds", "-1"), ==, PVS_ECONFIG);
    CHECK(strstr(err, "--seconds") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 4, "h", "--media-port", "70000"), ==, PVS_ECONFIG);
    CHECK_INT(parse(&o, err, sizeof(err), 3, "h", "--bogus"), ==, PVS_ECONFIG);
    CHECK(strstr(err, "--bogus") != NULL);
    CHECK_INT(parse(&o, err, sizeof(err), 4, "h", "--headless", "--fullscreen"), ==, PVS_ECONFIG);
    CHECK_INT(parse(&o, err, sizeof(err), 6, "h", "--record", "x", "--stats-json", "x"), ==,
              PVS_ECONFIG);

    /* --help lists every option of the table */
    FILE *f = tmpfile();
    if (f) {
        pvs_client_opts_default(&o);
        char *argv[] = {"pvstream-client", "--help"};
        char text[8192] = "";
        CHECK_INT(pvs_client_opts_parse(&o, 2, argv, f, err, sizeof(err)), ==, 1);
        rewind(f);
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        for (const struct pvs_option *op = pvs_client_options; op->key; op++) {
            char flag[64];
            snprintf(flag, sizeof(flag), "--%s", op->flag);
            CHECK(strstr(text, flag) != NULL);
        }
        CHECK(strstr(text, "Ctrl+Alt+G") != NULL);
    }
}

static void test_font(void)
{
    const uint8_t *zero = pvs_font_glyph('0'), *a = pvs_font_glyph('a'), *A = pvs_font_glyph('A');
    CHECK(zero && a == A);
    CHECK(pvs_font_glyph('~') == pvs_font_glyph('?'));
    CHECK(pvs_font_glyph((char)0xC3) == pvs_font_glyph('?'));
    const uint8_t *sp = pvs_font_glyph(' ');
    int lit = 0;
    for (int r = 0; r < PVS_FONT_H; r++)
        lit += sp[r] != 0;
    CHECK_INT(lit, ==, 0);
    /* Every printable character the overlay uses has 5-pixel-wide rows. */
    const char *used = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ .:/%-()=,_";
    for (const char *c = used; *c; c++) {
        const uint8_t *g = pvs_font_glyph(*c);
        int any = 0;
        for (int r = 0; r < PVS_FONT_H; r++) {
            CHECK(g[r] < 0x20);
            any |= g[r];
        }
        CHECK(any || *c == ' ');
        CHECK(*c == '?' || *c == ' ' || g != pvs_font_glyph('?'));
    }
}

int main(void)
{
    RUN(test_letterbox);
    RUN(test_to_frame);
    RUN(test_stats);
    RUN(test_stats_window);
    RUN(test_options);
    RUN(test_font);
    TEST_EXIT();
}
