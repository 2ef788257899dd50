/* testsrc: pacing (never early, missed slots counted), stamps, content
 * modes, limits, and the capture registry. */
#include <string.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stamp.h"
#include "tests/unit/test.h"

static int open_src(struct pvs_capture **c, int w, int h, int fps, enum pvs_content content)
{
    struct pvs_capture_opts o = { .width = w, .height = h, .fps = fps, .content = content };
    return pvs_capture_open(c, "testsrc", &o);
}

/* Share of pixels (outside the stamp) that differ between two BGRA frames. */
static double changed_share(const struct pvs_image *a, const uint8_t *b_copy, int stamp_h)
{
    uint64_t diff = 0, total = 0;
    for (int y = stamp_h; y < a->height; y++) {
        const uint32_t *p = (const uint32_t *)(const void *)(a->data[0] + (size_t)y * (size_t)a->stride[0]);
        const uint32_t *q = (const uint32_t *)(const void *)(b_copy + (size_t)y * (size_t)a->width * 4);
        for (int x = 0; x < a->width; x++)
            diff += p[x] != q[x];
        total += (uint64_t)a->width;
    }
    return (double)diff / (double)total;
}

static void copy_frame(uint8_t *dst, const struct pvs_image *img)
{
    for (int y = 0; y < img->height; y++)
        memcpy(dst + (size_t)y * (size_t)img->width * 4, img->data[0] + (size_t)y * (size_t)img->stride[0],
               (size_t)img->width * 4);
}

static void test_pacing_never_early(void)
{
    struct pvs_capture *c;
    CHECK_INT(open_src(&c, 320, 240, 50, PVS_CONTENT_DESKTOP), ==, 0);
    uint64_t prev = 0, gaps = 0;
    int64_t prev_due = 0;
    for (int i = 0; i < 40; i++) {
        struct pvs_frame f;
        CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
        CHECK(f.capture_ns >= f.due_ns); /* never before it is due */
        CHECK(pvs_time_ns() >= f.due_ns);
        if (i) {
            CHECK(f.number > prev);
            gaps += f.number - prev - 1;
            /* slots are 20 ms apart */
            CHECK_NEAR((double)(f.due_ns - prev_due) / (double)(f.number - prev), 20e6, 1e3);
        }
        prev = f.number;
        prev_due = f.due_ns;
        pvs_capture_release(c, &f);
    }
    /* Every number skipped is a late frame, and nothing else is. */
    CHECK_INT(c->stats.late, ==, gaps);
    CHECK_INT(c->stats.frames, ==, 40);
    pvs_capture_close(&c);
    CHECK(c == NULL);
}

static void test_late_frames_counted(void)
{
    struct pvs_capture *c;
    CHECK_INT(open_src(&c, 320, 240, 100, PVS_CONTENT_STATIC), ==, 0);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    uint64_t first = f.number;
    uint64_t late0 = c->stats.late;
    pvs_capture_release(c, &f);
    pvs_sleep_ns(55 * 1000000); /* 5.5 slots of 10 ms */
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    /* the newest slot is made, not the oldest: no backlog */
    CHECK(f.number >= first + 5);
    CHECK_INT(c->stats.late - late0, ==, f.number - first - 1);
    CHECK(f.capture_ns >= f.due_ns);
    pvs_capture_release(c, &f);
    pvs_capture_close(&c);
}

static void test_timeout(void)
{
    struct pvs_capture *c;
    CHECK_INT(open_src(&c, 320, 240, 1, PVS_CONTENT_STATIC), ==, 0);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    pvs_capture_release(c, &f);
    int64_t t = pvs_time_ns();
    CHECK_INT(pvs_capture_next(c, &f, 20), ==, PVS_ETIMEDOUT);
    CHECK(pvs_time_ns() - t >= 20 * 1000000);
    CHECK(pvs_time_ns() - t < 900 * 1000000);
    pvs_capture_close(&c);
}

static void test_stamps(enum pvs_content content, int w, int h)
{
    struct pvs_capture *c;
    CHECK_INT(open_src(&c, w, h, 240, content), ==, 0);
    for (int i = 0; i < 20; i++) {
        struct pvs_frame f;
        CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
        struct pvs_stamp s;
        CHECK_INT(pvs_stamp_read(&f.img, &s), ==, 0);
        CHECK_INT(s.frame, ==, (uint32_t)f.number);
        CHECK_INT(s.time_us, ==, f.capture_ns / 1000);
        CHECK_INT(f.img.fmt, ==, PVS_PIX_BGRA);
        CHECK_INT(f.img.width, ==, w);
        CHECK_INT(f.img.height, ==, h);
        pvs_capture_release(c, &f);
    }
    pvs_capture_close(&c);
}

static void test_stamps_all(void)
{
    test_stamps(PVS_CONTENT_STATIC, 640, 360);
    test_stamps(PVS_CONTENT_DESKTOP, 1920, 1080);
    test_stamps(PVS_CONTENT_GAME, 1280, 720);
    test_stamps(PVS_CONTENT_GAME, 128, 96);
}

/* How much changes from one frame to the next, per content mode. */
static void measure_change(enum pvs_content content, double *min_share, double *max_share,
                           bool *all_changed_flags)
{
    const int w = 640, h = 360, frames = 30;
    struct pvs_capture *c;
    CHECK_INT(open_src(&c, w, h, 240, content), ==, 0);
    uint8_t *prev = malloc((size_t)w * h * 4);
    int sw, sh;
    pvs_stamp_area(w, h, &sw, &sh);
    *min_share = 1;
    *max_share = 0;
    *all_changed_flags = true;
    for (int i = 0; i < frames; i++) {
        struct pvs_frame f;
        CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
        if (i) {
            double s = changed_share(&f.img, prev, sh);
            if (s < *min_share) *min_share = s;
            if (s > *max_share) *max_share = s;
            *all_changed_flags &= f.changed;
        }
        copy_frame(prev, &f.img);
        pvs_capture_release(c, &f);
    }
    free(prev);
    pvs_capture_close(&c);
}

static void test_content_modes(void)
{
    double lo, hi;
    bool flags;
    measure_change(PVS_CONTENT_STATIC, &lo, &hi, &flags);
    CHECK(hi == 0.0);        /* nothing but the stamp ever changes */
    CHECK(!flags);
    measure_change(PVS_CONTENT_DESKTOP, &lo, &hi, &flags);
    CHECK(hi > 0.0);         /* something moves... */
    CHECK(hi < 0.40);        /* ...but most of the screen stays */
    CHECK(flags);
    measure_change(PVS_CONTENT_GAME, &lo, &hi, &flags);
    CHECK(lo > 0.60);        /* nearly every pixel moves, every frame */
}

static void test_bad_options(void)
{
    struct pvs_capture *c = (struct pvs_capture *)1;
    pvs_log_set_level(PVS_LOG_QUIET);
    CHECK_INT(open_src(&c, 7682, 4320, 60, PVS_CONTENT_DESKTOP), ==, PVS_EINVAL);
    CHECK(c == NULL);
    CHECK_INT(open_src(&c, 641, 360, 60, PVS_CONTENT_DESKTOP), ==, PVS_EINVAL);
    CHECK_INT(open_src(&c, 64, 64, 60, PVS_CONTENT_DESKTOP), ==, PVS_EINVAL);
    CHECK_INT(open_src(&c, 640, 360, 241, PVS_CONTENT_DESKTOP), ==, PVS_EINVAL);
    CHECK_INT(open_src(&c, 640, 360, -1, PVS_CONTENT_DESKTOP), ==, PVS_EINVAL);
    CHECK_INT(pvs_capture_open(&c, "nonesuch", &(struct pvs_capture_opts){ 0 }), ==, PVS_EINVAL);
    pvs_log_set_level(PVS_LOG_INFO);
}

static void test_largest(void)
{
    struct pvs_capture *c;
    CHECK_INT(open_src(&c, 7680, 4320, 240, PVS_CONTENT_GAME), ==, 0);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(c, &f, 1000), ==, 0);
    struct pvs_stamp s;
    CHECK_INT(pvs_stamp_read(&f.img, &s), ==, 0);
    pvs_capture_release(c, &f);
    pvs_capture_close(&c);
}

static void test_registry_auto(void)
{
    struct pvs_capture *c;
    struct pvs_capture_opts o = { .width = 320, .height = 240 };
    CHECK_INT(pvs_capture_open(&c, "auto", &o), ==, 0);
    CHECK(c && !strcmp(c->ops->name, "testsrc"));
    pvs_capture_close(&c);
    pvs_capture_close(&c); /* NULL is fine */
    CHECK(pvs_capture_find("testsrc") != NULL);
}

int main(void)
{
    RUN(test_pacing_never_early);
    RUN(test_late_frames_counted);
    RUN(test_timeout);
    RUN(test_stamps_all);
    RUN(test_content_modes);
    RUN(test_bad_options);
    RUN(test_largest);
    RUN(test_registry_auto);
    TEST_EXIT();
}
