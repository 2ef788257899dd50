/* pvstream-bench capture: runs one capture backend alone (the test desktop
 * by default, or a real desktop: x11, gdi, auto) at a size and rate and
 * reports whether it keeps up (achieved rate, late frames) and what it costs
 * (time to make or grab each frame, CPU as a share of one core). --dump
 * writes the last frame as a PPM, to check what a real backend saw. x11
 * makes frames on change; here it is asked for one every interval
 * (repeat_ms 1), so a still screen measures the grab at the rate too. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "capture/capture.h"
#include "common/error.h"
#include "common/platform/platform.h"

struct settings {
    char backend[PVS_OPT_STRING_MAX];
    int size[2];
    int fps;
    int content;
    int seconds;
    char json[PVS_OPT_STRING_MAX];
    char dump[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, ch, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, ch, mv, h }
static const struct pvs_option options[] = {
    OPT("backend", PVS_OPT_STRING, backend, 0, 0, NULL, "NAME",
        "capture backend: testsrc, auto, or a desktop built here (x11, gdi)"),
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, NULL, "WxH",
        "frame size: even, at most 7680x4320; 0x0 = testsrc 3840x2160, a desktop whole "
        "(less: its top-left corner)"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, NULL, "N", "frames per second"),
    OPT("content", PVS_OPT_CHOICE, content, 0, 0, pvs_content_names, "KIND", "static, desktop or game"),
    OPT("seconds", PVS_OPT_INT, seconds, 1, 3600, NULL, "S", "how long to run"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, NULL, "FILE", "also write the results as JSON"),
    OPT("dump", PVS_OPT_STRING, dump, 0, 0, NULL, "FILE", "write the last frame as a PPM (P6) image"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

/* Writes a BGRA image as a binary PPM (RGB). Returns 0 or PVS_EIO (said). */
static int dump_ppm(const char *path, const struct pvs_image *img)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return PVS_EIO;
    }
    uint8_t *row = malloc((size_t)img->width * 3);
    bool ok = row && fprintf(fp, "P6\n%d %d\n255\n", img->width, img->height) > 0;
    for (int y = 0; ok && y < img->height; y++) {
        const uint8_t *p = img->data[0] + (size_t)y * (size_t)img->stride[0];
        for (int x = 0; x < img->width; x++) {
            row[3 * x] = p[4 * x + 2];
            row[3 * x + 1] = p[4 * x + 1];
            row[3 * x + 2] = p[4 * x];
        }
        ok = fwrite(row, 3, (size_t)img->width, fp) == (size_t)img->width;
    }
    free(row);
    if (fclose(fp) != 0 || !ok) {
        fprintf(stderr, "cannot write %s\n", path);
        return PVS_EIO;
    }
    return 0;
}

/* "auto" or a backend built here; else says which there are. */
static bool known_backend(const char *name)
{
    if (!strcmp(name, "auto") || pvs_capture_find(name))
        return true;
    fprintf(stderr, "pvstream-bench capture: --backend '%s': one of auto", name);
    for (int i = 0; pvs_capture_backends[i]; i++)
        fprintf(stderr, ", %s", pvs_capture_backends[i]->name);
    fprintf(stderr, " (the backends built here)\n");
    return false;
}

int pvs_bench_capture(int argc, char **argv)
{
    struct settings s = { .backend = "testsrc", .fps = 120, .content = PVS_CONTENT_DESKTOP,
                          .seconds = 5 };
    int rc = pvs_bench_parse("capture",
                             "Runs one capture backend alone (the test desktop unless --backend) "
                             "and reports pacing and cost.",
                             options, &s, argc, argv);
    if (rc < 0 && !known_backend(s.backend))
        rc = 2;
    if (rc < 0)
        rc = pvs_bench_check_size("capture", s.size, PVS_TESTSRC_MAX_HEIGHT);
    if (rc >= 0)
        return rc;
    bool synthetic = !strcmp(s.backend, "testsrc");
    if (synthetic && !s.size[0]) {
        s.size[0] = 3840;
        s.size[1] = 2160;
    }
    struct pvs_capture *cap = NULL;
    struct pvs_capture_opts co = { .width = s.size[0], .height = s.size[1], .fps = s.fps,
                                   .content = (enum pvs_content)s.content, .repeat_ms = 1 };
    if (pvs_capture_open(&cap, s.backend, &co) < 0)
        return 1;
    synthetic = !strcmp(cap->ops->name, "testsrc"); /* what "auto" took */

    struct pvs_bench_stage st = { .name = "capture" };
    pvs_stats_reset(&st.stats);
    uint64_t want = (uint64_t)s.fps * (uint64_t)s.seconds, early = 0, changed = 0;
    int width = 0, height = 0;
    int64_t cpu0 = pvs_cpu_time_ns(), t0 = pvs_time_ns(), first = 0, last = 0;
    rc = 1;
    for (uint64_t n = 0; n < want;) {
        struct pvs_frame f;
        int err = pvs_capture_next(cap, &f, 1000);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err < 0) {
            fprintf(stderr, "capture failed: %s%s\n", pvs_strerror(err),
                    err == PVS_EREINIT ? " (the screen changed size during the run)" : "");
            goto out;
        }
        pvs_stats_add(&st.stats, pvs_time_ns() - f.capture_ns);
        early += f.capture_ns < f.due_ns;
        changed += f.changed;
        width = f.img.width;
        height = f.img.height;
        if (!n)
            first = f.capture_ns;
        last = f.capture_ns;
        if (n + 1 == want && s.dump[0] && dump_ppm(s.dump, &f.img) < 0) {
            pvs_capture_release(cap, &f);
            goto out;
        }
        pvs_capture_release(cap, &f);
        if (++n % (uint64_t)s.fps == 0)
            pvs_bench_progress("frames", n, want);
    }
    double wall = (double)(pvs_time_ns() - t0), cpu = (double)(pvs_cpu_time_ns() - cpu0);
    double fps = last > first ? (double)(cap->stats.frames - 1) * 1e9 / (double)(last - first) : 0;
    if (synthetic)
        printf("pvstream-bench capture: testsrc %s %dx%d at %d fps for %d s\n",
               pvs_content_names[s.content], width, height, s.fps, s.seconds);
    else
        printf("pvstream-bench capture: %s %dx%d at %d fps for %d s\n",
               cap->ops->name, width, height, s.fps, s.seconds);
    pvs_bench_print_table(stdout, &st, 1);
    printf("frames %llu, achieved %.2f fps, late %llu, early %llu, CPU %.1f%% of one core\n",
           (unsigned long long)cap->stats.frames, fps, (unsigned long long)cap->stats.late,
           (unsigned long long)early, 100.0 * cpu / wall);
    if (!synthetic)
        printf("changed %llu of %llu frames (the rest repeated the screen unchanged)\n",
               (unsigned long long)changed, (unsigned long long)cap->stats.frames);
    if (s.json[0]) {
        struct pvs_json j;
        char size[32];
        snprintf(size, sizeof(size), "%dx%d", width, height);
        if (pvs_json_open(&j, s.json) < 0)
            goto out;
        pvs_json_begin(&j, NULL);
        if (!synthetic)
            pvs_json_str(&j, "backend", cap->ops->name);
        pvs_json_str(&j, "size", size);
        if (synthetic)
            pvs_json_str(&j, "content", pvs_content_names[s.content]);
        else
            pvs_json_int(&j, "changed_frames", (int64_t)changed);
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
