/* pvstream-bench capture: runs the test desktop alone at a size and rate and
 * reports whether it keeps up (achieved rate, late frames) and what it costs
 * (time to make each frame, CPU as a share of one core). */
#include <string.h>

#include "bench/bench.h"
#include "capture/capture.h"
#include "common/error.h"
#include "common/platform/platform.h"

struct settings {
    int size[2];
    int fps;
    int content;
    int seconds;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, ch, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, ch, mv, h }
static const struct pvs_option options[] = {
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, NULL, "WxH", "frame size: even, at most 7680x4320"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, NULL, "N", "frames per second"),
    OPT("content", PVS_OPT_CHOICE, content, 0, 0, pvs_content_names, "KIND", "static, desktop or game"),
    OPT("seconds", PVS_OPT_INT, seconds, 1, 3600, NULL, "S", "how long to run"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, NULL, "FILE", "also write the results as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

int pvs_bench_capture(int argc, char **argv)
{
    struct settings s = { .size = { 3840, 2160 }, .fps = 120, .content = PVS_CONTENT_DESKTOP, .seconds = 5 };
    int rc = pvs_bench_parse("capture", "Runs the test desktop alone and reports pacing and cost.",
                             options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("capture", s.size, PVS_TESTSRC_MAX_HEIGHT);
    if (rc >= 0)
        return rc;
    struct pvs_capture *cap = NULL;
    struct pvs_capture_opts co = { .width = s.size[0], .height = s.size[1], .fps = s.fps,
                                   .content = (enum pvs_content)s.content };
    if (pvs_capture_open(&cap, "testsrc", &co) < 0)
        return 1;

    struct pvs_bench_stage st = { .name = "capture" };
    pvs_stats_reset(&st.stats);
    uint64_t want = (uint64_t)s.fps * (uint64_t)s.seconds, early = 0;
    int64_t cpu0 = pvs_cpu_time_ns(), t0 = pvs_time_ns(), first = 0, last = 0;
    rc = 1;
    for (uint64_t n = 0; n < want;) {
        struct pvs_frame f;
        int err = pvs_capture_next(cap, &f, 1000);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err < 0) {
            fprintf(stderr, "capture failed: %s\n", pvs_strerror(err));
            goto out;
        }
        pvs_stats_add(&st.stats, pvs_time_ns() - f.capture_ns);
        early += f.capture_ns < f.due_ns;
        if (!n)
            first = f.capture_ns;
        last = f.capture_ns;
        pvs_capture_release(cap, &f);
        if (++n % (uint64_t)s.fps == 0)
            pvs_bench_progress("frames", n, want);
    }
    double wall = (double)(pvs_time_ns() - t0), cpu = (double)(pvs_cpu_time_ns() - cpu0);
    double fps = last > first ? (double)(cap->stats.frames - 1) * 1e9 / (double)(last - first) : 0;
    printf("pvstream-bench capture: testsrc %s %dx%d at %d fps for %d s\n",
           pvs_content_names[s.content], s.size[0], s.size[1], s.fps, s.seconds);
    pvs_bench_print_table(stdout, &st, 1);
    printf("frames %llu, achieved %.2f fps, late %llu, early %llu, CPU %.1f%% of one core\n",
           (unsigned long long)cap->stats.frames, fps, (unsigned long long)cap->stats.late,
           (unsigned long long)early, 100.0 * cpu / wall);
    if (s.json[0]) {
        struct pvs_json j;
        char size[32];
        snprintf(size, sizeof(size), "%dx%d", s.size[0], s.size[1]);
        if (pvs_json_open(&j, s.json) < 0)
            goto out;
        pvs_json_begin(&j, NULL);
        pvs_json_str(&j, "size", size);
        pvs_json_str(&j, "content", pvs_content_names[s.content]);
        pvs_json_num(&j, "fps", fps);
        pvs_json_int(&j, "frames", (int64_t)cap->stats.frames);
        pvs_json_int(&j, "late_frames", (int64_t)cap->stats.late);
        pvs_json_num(&j, "cpu_pct", 100.0 * cpu / wall);
        pvs_json_begin(&j, "stages");
        pvs_json_stats(&j, "capture", &st.stats);
        pvs_json_end(&j);
        pvs_json_end(&j);
        if (pvs_json_close(&j) < 0)
            goto out;
    }
    rc = early ? 1 : 0;
    if (early)
        fprintf(stderr, "%llu frames were made before they were due: the pacing is wrong\n",
                (unsigned long long)early);
out:
    pvs_capture_close(&cap);
    return rc;
}
