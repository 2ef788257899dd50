/* pvstream-bench convert: BGRA -> NV12 and I420 per frame on one thread,
 * through libyuv (what pvstream uses) and, as a point of comparison in the
 * same run, libswscale when it was built in. */
#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>

#include "pvs_config.h"
#if PVS_HAVE_SWSCALE
#include <libswscale/swscale.h>
#endif

#include "bench/bench.h"
#include "capture/capture.h"
#include "common/error.h"
#include "common/image.h"
#include "common/platform/platform.h"
#include "encode/convert.h"

struct settings {
    int size[2];
    int frames;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
static const struct pvs_option options[] = {
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, "WxH", "frame size: even, at most 7680x4320"),
    OPT("frames", PVS_OPT_INT, frames, 1, 100000, "N", "conversions to time per method"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE", "also write the results as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static int alloc_image(struct pvs_image *img, enum pvs_pix_fmt fmt, int w, int h)
{
    uint8_t *buf = av_malloc(pvs_image_packed_size(fmt, w, h));
    if (!buf)
        return PVS_ENOMEM;
    return pvs_image_wrap_packed(img, fmt, w, h, buf);
}

static void time_libyuv(const struct pvs_image *src, struct pvs_image *dst, int frames,
                        struct pvs_stats *st)
{
    pvs_convert(src, dst); /* warm the caches and libyuv's CPU detection */
    for (int i = 0; i < frames; i++) {
        int64_t t = pvs_time_ns();
        pvs_convert(src, dst);
        pvs_stats_add(st, pvs_time_ns() - t);
    }
}

#if PVS_HAVE_SWSCALE
static int time_swscale(const struct pvs_image *src, struct pvs_image *dst, int frames,
                        struct pvs_stats *st)
{
    struct SwsContext *sws = sws_getContext(src->width, src->height, AV_PIX_FMT_BGRA,
                                            dst->width, dst->height, AV_PIX_FMT_NV12,
                                            SWS_BILINEAR, NULL, NULL, NULL);
    if (!sws)
        return PVS_EEXTERNAL;
    const uint8_t *const sp[1] = { src->data[0] };
    const int ss[1] = { src->stride[0] };
    for (int i = -1; i < frames; i++) {
        int64_t t = pvs_time_ns();
        sws_scale(sws, sp, ss, 0, src->height, dst->data, dst->stride);
        if (i >= 0)
            pvs_stats_add(st, pvs_time_ns() - t);
    }
    sws_freeContext(sws);
    return 0;
}
#endif

int pvs_bench_convert(int argc, char **argv)
{
    struct settings s = { .size = { 3840, 2160 }, .frames = 50 };
    int rc = pvs_bench_parse("convert", "Times BGRA -> NV12 and I420 per frame on one thread.",
                             options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("convert", s.size, PVS_TESTSRC_MAX_HEIGHT);
    if (rc >= 0)
        return rc;

    struct pvs_capture *cap = NULL;
    struct pvs_image nv12 = { 0 }, i420 = { 0 };
    struct pvs_capture_opts co = { .width = s.size[0], .height = s.size[1], .fps = 60,
                                   .content = PVS_CONTENT_DESKTOP };
    rc = 1;
    struct pvs_frame f;
    if (pvs_capture_open(&cap, "testsrc", &co) < 0 || pvs_capture_next(cap, &f, 1000) < 0)
        goto out;
    if (alloc_image(&nv12, PVS_PIX_NV12, s.size[0], s.size[1]) < 0 ||
        alloc_image(&i420, PVS_PIX_I420, s.size[0], s.size[1]) < 0)
        goto out;

    enum { YUV_NV12, YUV_I420, SWS_NV12, N };
    struct pvs_bench_stage st[N] = { { .name = "nv12" }, { .name = "i420" }, { .name = "sws-nv12" } };
    for (int i = 0; i < N; i++)
        pvs_stats_reset(&st[i].stats);
    time_libyuv(&f.img, &nv12, s.frames, &st[YUV_NV12].stats);
    time_libyuv(&f.img, &i420, s.frames, &st[YUV_I420].stats);
    int n = 2;
#if PVS_HAVE_SWSCALE
    if (time_swscale(&f.img, &nv12, s.frames, &st[SWS_NV12].stats) == 0)
        n = 3;
#endif
    pvs_capture_release(cap, &f);

    printf("pvstream-bench convert: BGRA %dx%d, %d frames each, one thread "
           "(nv12, i420: libyuv; sws-nv12: libswscale bilinear, for comparison)\n",
           s.size[0], s.size[1], s.frames);
    pvs_bench_print_table(stdout, st, n);
    struct pvs_stats_summary a, b;
    pvs_stats_summarize(&st[YUV_NV12].stats, &a);
    if (n == 3) {
        pvs_stats_summarize(&st[SWS_NV12].stats, &b);
        printf("libyuv NV12 is %.1fx faster than libswscale (median %.2f ms vs %.2f ms)\n",
               b.p50_ms / a.p50_ms, a.p50_ms, b.p50_ms);
    }

    if (s.json[0]) {
        struct pvs_json j;
        char size[32];
        snprintf(size, sizeof(size), "%dx%d", s.size[0], s.size[1]);
        if (pvs_json_open(&j, s.json) < 0)
            goto out;
        pvs_json_begin(&j, NULL);
        pvs_json_str(&j, "size", size);
        pvs_json_int(&j, "frames", s.frames);
        pvs_json_num(&j, "nv12_ms", a.p50_ms);
        pvs_json_begin(&j, "stages");
        for (int i = 0; i < n; i++)
            pvs_json_stats(&j, st[i].name, &st[i].stats);
        pvs_json_end(&j);
        pvs_json_end(&j);
        if (pvs_json_close(&j) < 0)
            goto out;
    }
    rc = 0;
out:
    av_free(nv12.data[0]);
    av_free(i420.data[0]);
    pvs_capture_close(&cap);
    return rc;
}
