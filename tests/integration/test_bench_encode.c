/* pvstream-bench encode, run as a user would, checked on what it writes:
 *  - with an encoder that holds frames back (SVT-AV1 returns a frame's
 *    packet only after later frames went in), the encode stage runs from
 *    the frame submitted to its own packet out, so the stages add up to
 *    the total (within 5 %; before, the wait was in no stage and they
 *    covered 15 % of it), and the held frames are counted;
 *  - --encoder all over two contents writes a JSON list with one object
 *    per (encoder, mode) for every encoder that `pvstream-bench encoders`
 *    says works here, each with its status.
 * Values only, no timing: the bench's figures are the measurement.
 * Argument: the path of pvstream-bench. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/process.h"
#include "encode/encoder.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

static int run(char **args, const char *log)
{
    pid_t p = pvs_process_start(args, log);
    CHECK(p > 0);
    return p > 0 ? pvs_process_wait(p, 200000) : -1;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* Whether `pvstream-bench encoders` says `name` works (its JSON). */
static bool works(const char *encoders_json, const char *name)
{
    return pvs_test_json_num(encoders_json, name, "works") == 1;
}

static void check_held_frames(char *bench, const char *encoders_json)
{
    if (!works(encoders_json, "libsvtav1")) {
        printf("libsvtav1 does not work here: the held-frame check is not run\n");
        return;
    }
    char *args[] = { bench, "encode", "--encoder", "libsvtav1", "--size", "320x240",
                     "--content", "game", "--frames", "60", "--json", "svt.json", NULL };
    CHECK_INT(run(args, "svt.log"), ==, 0);
    char *text = pvs_test_slurp("svt.json");
    CHECK(text != NULL);
    if (!text)
        return;
    double frames = pvs_test_json_num(text, NULL, "frames");
    double held = pvs_test_json_num(text, NULL, "held_frames");
    double gap = pvs_test_json_num(text, NULL, "stage_gap_pct");
    double enc = pvs_test_json_num(text, "encode", "p50_ms");
    double total = pvs_test_json_num(text, "total", "p50_ms");
    printf("libsvtav1: %.0f frames, %.0f held; encode p50 %.2f ms of total p50 %.2f ms; "
           "stages add up within %.3f %%\n", frames, held, enc, total, gap);
    CHECK(frames == 60);
    CHECK(held > 0 && held <= frames);
    CHECK(gap >= 0 && gap < 5.0);
    CHECK(enc > 0 && enc <= total);
    free(text);
}

static void check_all(char *bench, const char *encoders_json)
{
    char *args[] = { bench, "encode", "--encoder", "all", "--size", "320x240", "--fps", "30",
                     "--content", "desktop,game", "--seconds", "1", "--json", "all.json",
                     "--svg", "all.svg", NULL };
    CHECK_INT(run(args, "all.log"), ==, 0);
    char *text = pvs_test_slurp("all.json");
    char *svg = pvs_test_slurp("all.svg");
    CHECK(text != NULL && svg != NULL);
    if (text && svg) {
        CHECK(text[0] == '['); /* a list of the single runs' objects */
        int working = 0;
        for (const struct pvs_encoder_info *i = pvs_encoder_infos; i->name; i++) {
            char needle[64];
            snprintf(needle, sizeof(needle), "{\"encoder\":\"%s\"", i->name);
            int want = works(encoders_json, i->name) ? 2 : 0, got = count(text, needle);
            if (got != want)
                fprintf(stderr, "%s: %d objects, %d expected\n", i->name, got, want);
            CHECK_INT(got, ==, want);
            working += want > 0;
            /* a row in the picture for each of its runs */
            snprintf(needle, sizeof(needle), ">%s 320x240@30 ", i->name);
            CHECK_INT(count(svg, needle), ==, want);
        }
        printf("--encoder all: %d encoders work here, %d objects\n", working,
               count(text, "{\"encoder\":"));
        CHECK(working >= 1); /* libx264 at least */
        CHECK_INT(count(text, "{\"encoder\":"), ==, 2 * working);
        CHECK_INT(count(text, "\"status\":"), ==, 2 * working);
        CHECK_INT(count(text, "\"content\":\"desktop\""), ==, working);
        CHECK_INT(count(text, "\"content\":\"game\""), ==, working);
    }
    free(text);
    free(svg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_bench_encode PVSTREAM-BENCH\n");
        return 2;
    }
    char bench[4096];
    CHECK(realpath(argv[1], bench) != NULL); /* before leaving the build directory */
    char dir[] = "/tmp/pvs-bench-encode-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(chdir(dir), ==, 0);
    char *args[] = { bench, "encoders", "--size", "320x240", "--fps", "30", "--json", "encoders.json",
                     NULL };
    CHECK_INT(run(args, "encoders.log"), ==, 0);
    char *encoders = pvs_test_slurp("encoders.json");
    CHECK(encoders != NULL);
    if (encoders) {
        check_held_frames(bench, encoders);
        check_all(bench, encoders);
    }
    free(encoders);
    pvs_test_scratch_done(dir, test_checks_failed > 0);
    TEST_EXIT();
}
