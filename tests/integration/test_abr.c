/* Rate control through the link emulator, with generous bounds: the real
 * server and a headless client through `pvstream-bench abr --scenario step`
 * (50 -> 10 -> 50 Mbit/s, 100 ms queue) at a small size, with ABR on and
 * off. After the drop, the rate control must send less than the link
 * carries (the queue delay comes back under one frame interval, which it
 * cannot while the sender stays above capacity), and it must show more
 * frames and freeze for less time than the fixed bitrate does. Nothing is
 * timed tightly: the bench's own figures are the measurement, this only
 * says the controller works at all. Argument: the path of pvstream-bench. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/platform/platform.h"
#include "common/process.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_abr PVSTREAM-BENCH\n");
        return 2;
    }
    char bench[4096];
    CHECK(realpath(argv[1], bench) != NULL); /* before leaving the build directory */
    char dir[] = "/tmp/pvs-abr-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_INT(chdir(dir), ==, 0);
    char *args[] = { bench, "abr", "--scenario", "step", "--seconds", "20", "--size", "640x360",
                     "--bitrate", "20000000", "--json", "abr.json", NULL };
    pid_t p = pvs_process_start(args, "bench.log");
    CHECK(p > 0);
    int status = p > 0 ? pvs_process_wait(p, 150000) : -1;
    CHECK_INT(status, ==, 0);
    char *text = pvs_test_slurp("abr.json");
    CHECK(text != NULL);
    if (text) {
        /* "abr" comes first in the step scenario, "fixed" after it */
        double down = pvs_test_json_num(text, "abr", "adapt_down_ms");
        double shown_abr = pvs_test_json_num(text, "abr", "frames_shown_pct");
        double shown_fixed = pvs_test_json_num(text, "fixed", "frames_shown_pct");
        double frz_abr = pvs_test_json_num(text, "abr", "freeze_ms");
        double frz_fixed = pvs_test_json_num(text, "fixed", "freeze_ms");
        printf("abr: queue back under a frame %.0f ms after the drop; frames shown %.1f %% "
               "(fixed %.1f %%), frozen %.0f ms (fixed %.0f ms)\n", down, shown_abr, shown_fixed,
               frz_abr, frz_fixed);
        CHECK(down > 0 && down < 3000); /* null (never) reads as 0 */
        CHECK(shown_abr > shown_fixed);
        CHECK(frz_abr < frz_fixed);
    }
    free(text);
    pvs_test_scratch_done(dir, test_checks_failed > 0);
    TEST_EXIT();
}
