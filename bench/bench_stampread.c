/* pvstream-bench stampread: measures any pipeline that ends in raw frames.
 * Reads tightly packed frames of one size and pixel format on stdin (what
 * `ffmpeg ... -f rawvideo pipe:` writes), reads the frame stamp of each, and
 * reports now minus the stamp's time: how old each frame is when it comes
 * out. The stamp's time is this machine's monotonic clock, so the painter
 * (`pvstream-bench paint`) and this reader must run on the same machine.
 *
 * Frames whose stamp does not read (the encoder smeared it, or the frame is
 * a repeat of an older one) are counted; a repeated stamp (a frame the
 * pipeline sent twice) is counted and not measured again. */
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "common/error.h"
#include "common/image.h"
#include "common/platform/platform.h"
#include "common/stamp.h"

static const char *const fmt_choices[] = { "gray", "yuv420p", "nv12", "bgra", NULL };
static const enum pvs_pix_fmt fmt_values[] = { PVS_PIX_GRAY, PVS_PIX_I420, PVS_PIX_NV12, PVS_PIX_BGRA };

struct settings {
    int size[2];
    int fmt;
    int frames;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, ch, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, ch, mv, h }
static const struct pvs_option options[] = {
    OPT("size", PVS_OPT_SIZE, size, 16, 16384, NULL, "WxH", "size of the frames on stdin"),
    OPT("pix-fmt", PVS_OPT_CHOICE, fmt, 0, 0, fmt_choices, "FMT",
        "their pixel format (ffmpeg's names; only luma is read)"),
    OPT("frames", PVS_OPT_INT, frames, 0, 100000000, NULL, "N", "stop after N frames; 0 = at end of input"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, NULL, "FILE", "also write the results as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

/* Reads exactly len bytes. Returns false at the end of input. */
static bool read_frame(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t n = fread(buf + got, 1, len - got, stdin);
        if (n == 0)
            return false;
        got += n;
    }
    return true;
}

int pvs_bench_stampread(int argc, char **argv)
{
    struct settings s = { .size = { 1920, 1080 }, .fmt = 0 };
    int rc = pvs_bench_parse("stampread", "Reads raw frames on stdin and reports how old each "
                             "one is (now minus its frame stamp).", options, &s, argc, argv);
    if (rc >= 0)
        return rc;
    enum pvs_pix_fmt fmt = fmt_values[s.fmt];
    if (fmt != PVS_PIX_GRAY && fmt != PVS_PIX_BGRA && ((s.size[0] | s.size[1]) & 1)) {
        fprintf(stderr, "pvstream-bench stampread: --size %dx%d: %s needs an even size\n",
                s.size[0], s.size[1], fmt_choices[s.fmt]);
        return 2;
    }
    size_t len = (size_t)pvs_image_packed_size(fmt, s.size[0], s.size[1]);
    uint8_t *buf = malloc(len);
    if (!buf) {
        fprintf(stderr, "pvstream-bench stampread: out of memory\n");
        return 1;
    }
    struct pvs_bench_stage st = { .name = "latency" };
    pvs_stats_reset(&st.stats);
    uint64_t frames = 0, unread = 0, repeats = 0;
    uint32_t last = 0;
    bool have_last = false;
    fprintf(stderr, "reading %dx%d %s frames on stdin\n", s.size[0], s.size[1], fmt_choices[s.fmt]);
    while ((!s.frames || frames < (uint64_t)s.frames) && read_frame(buf, len)) {
        int64_t now_us = pvs_time_us();
        frames++;
        struct pvs_image img;
        struct pvs_stamp stamp;
        pvs_image_wrap_packed(&img, fmt, s.size[0], s.size[1], buf);
        if (pvs_stamp_read(&img, &stamp) != 0) {
            unread++;
            continue;
        }
        if (have_last && stamp.frame == last) {
            repeats++;
            continue;
        }
        last = stamp.frame;
        have_last = true;
        pvs_stats_add(&st.stats, (now_us - (int64_t)stamp.time_us) * 1000);
        if (frames % 60 == 0)
            pvs_bench_progress("frames", frames, s.frames ? (uint64_t)s.frames : frames + 1);
    }
    free(buf);
    if (frames && s.frames)
        pvs_bench_progress("frames", frames, frames);

    printf("pvstream-bench stampread: %llu frames, %llu measured, %llu without a readable stamp, "
           "%llu repeats\n", (unsigned long long)frames,
           (unsigned long long)st.stats.count, (unsigned long long)unread,
           (unsigned long long)repeats);
    pvs_bench_print_table(stdout, &st, 1);
    if (s.json[0]) {
        struct pvs_json j;
        if (pvs_json_open(&j, s.json) < 0)
            return 1;
        pvs_json_begin(&j, NULL);
        pvs_json_int(&j, "frames", (int64_t)frames);
        pvs_json_int(&j, "measured", (int64_t)st.stats.count);
        pvs_json_int(&j, "unreadable", (int64_t)unread);
        pvs_json_int(&j, "repeats", (int64_t)repeats);
        pvs_json_stats(&j, "latency", &st.stats);
        pvs_json_end(&j);
        if (pvs_json_close(&j) < 0)
            return 1;
    }
    return st.stats.count ? 0 : 1;
}
