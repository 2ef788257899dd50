/* capture/display_mode.h: the mode chosen for a client's request, step by
 * step through the rule, and how --size/--fps override the client. */
#include <string.h>

#include "capture/display_mode.h"
#include "tests/unit/test.h"

#define M(w, h, hz) ((struct pvs_display_mode){ w, h, hz })
#define N(a) ((int)(sizeof(a) / sizeof(a[0])))

static const struct pvs_display_mode monitor[] = {
    M(3840, 2160, 60), M(2560, 1440, 60), M(2560, 1440, 120), M(2560, 1440, 144),
    M(1920, 1200, 60), M(1920, 1080, 60), M(1920, 1080, 120), M(1280, 1024, 75),
    M(1280, 720, 60), M(1024, 768, 60),
};

static int pick(struct pvs_display_mode want, const struct pvs_display_mode *cur)
{
    return pvs_display_mode_choose(monitor, N(monitor), &want, cur);
}

/* The case: asked for a mode the display offers, that mode. */
static void test_exact(void)
{
    CHECK_INT(pick(M(2560, 1440, 120), NULL), ==, 2);
    CHECK_INT(pick(M(1920, 1080, 60), NULL), ==, 5);
    CHECK_INT(pick(M(1024, 768, 60), NULL), ==, 9);
}

/* Refresh at the asked size: the lowest above, else the highest below. */
static void test_refresh(void)
{
    CHECK_INT(pick(M(2560, 1440, 100), NULL), ==, 2);  /* 120, not 144 or 60 */
    CHECK_INT(pick(M(2560, 1440, 165), NULL), ==, 3);  /* 144: nothing above */
    CHECK_INT(pick(M(2560, 1440, 30), NULL), ==, 1);   /* 60 */
    CHECK_INT(pick(M(1920, 1080, 90), NULL), ==, 6);   /* 120 */
}

/* No such size: the same aspect, not larger, the closest. */
static void test_size(void)
{
    /* 3440x1440 (21:9): nothing of that aspect; the largest not larger is
     * 2560x1440, at the refresh asked. */
    CHECK_INT(pick(M(3440, 1440, 120), NULL), ==, 2);
    /* 1600x900 (16:9): 1280x720 keeps the aspect, though 1280x1024 is larger
     * in area. */
    CHECK_INT(pick(M(1600, 900, 60), NULL), ==, 8);
    /* 5120x2880 (16:9): everything fits; the largest of that aspect. */
    CHECK_INT(pick(M(5120, 2880, 60), NULL), ==, 0);
    /* 800x600 (4:3): 1024x768 keeps the aspect though it is larger. */
    CHECK_INT(pick(M(800, 600, 60), NULL), ==, 9);
    /* 1920x1200 (16:10) exists: exact beats a 16:9 at a better refresh. */
    CHECK_INT(pick(M(1920, 1200, 120), NULL), ==, 4);
    /* 640x400 (16:10): the only 16:10 is larger; it still wins on aspect. */
    CHECK_INT(pick(M(640, 400, 60), NULL), ==, 4);
    /* 1000x1000 (1:1): none of that aspect and none fits: the nearest in
     * area (1280x720: 921,600 pixels against 1,000,000). */
    CHECK_INT(pick(M(1000, 1000, 60), NULL), ==, 8);
}

/* What the request leaves out comes from the current mode. */
static void test_current(void)
{
    struct pvs_display_mode cur = M(1920, 1080, 120);
    CHECK_INT(pick(M(0, 0, 0), &cur), ==, 6);          /* keep it all */
    CHECK_INT(pick(M(0, 0, 60), &cur), ==, 5);         /* only the refresh */
    CHECK_INT(pick(M(2560, 1440, 0), &cur), ==, 2);    /* its refresh, 120 */
    /* No current mode and nothing asked: any size, refresh 60: the first 60. */
    CHECK_INT(pick(M(0, 0, 0), NULL), ==, 0);
    CHECK_INT(pvs_display_mode_choose(monitor, 0, &cur, &cur), ==, -1);
    CHECK_INT(pvs_display_mode_choose(NULL, 3, &cur, &cur), ==, -1);
    /* Ties go to the first listed. */
    struct pvs_display_mode twice[] = { M(1280, 720, 60), M(1280, 720, 60) };
    CHECK_INT(pvs_display_mode_choose(twice, 2, &cur, NULL), ==, 0);
}

/* Hyper-V video offers little: the client's 2560x1440 becomes its largest
 * 16:9 mode that fits. */
static void test_hyperv(void)
{
    struct pvs_display_mode hv[] = { M(1024, 768, 60), M(1152, 864, 60), M(1280, 720, 60),
                                     M(1600, 900, 60), M(1920, 1080, 60) };
    struct pvs_display_mode want = M(2560, 1440, 120);
    CHECK_INT(pvs_display_mode_choose(hv, N(hv), &want, &hv[0]), ==, 4);
}

static void test_request(void)
{
    struct pvs_display_mode r = pvs_display_mode_request(2560, 1440, 120, 0, 0, 0);
    CHECK(pvs_display_mode_equal(&r, &(struct pvs_display_mode){ 2560, 1440, 120 }));
    r = pvs_display_mode_request(2560, 1440, 120, 1920, 1080, 0);  /* server --size */
    CHECK(pvs_display_mode_equal(&r, &(struct pvs_display_mode){ 1920, 1080, 120 }));
    r = pvs_display_mode_request(2560, 1440, 120, 0, 0, 60);       /* server --fps */
    CHECK(pvs_display_mode_equal(&r, &(struct pvs_display_mode){ 2560, 1440, 60 }));
    r = pvs_display_mode_request(2560, 0, -5, 0, 0, 0);            /* half a size: none */
    CHECK(pvs_display_mode_is_empty(&r));
    r = pvs_display_mode_request(0, 0, 0, 0, 0, 0);
    CHECK(pvs_display_mode_is_empty(&r));
    char buf[64];
    CHECK(!strcmp(pvs_display_mode_format(&(struct pvs_display_mode){ 2560, 1440, 120 }, buf,
                                          sizeof(buf)), "2560x1440 at 120 Hz"));
    CHECK(!strcmp(pvs_display_mode_format(&(struct pvs_display_mode){ 0, 0, 60 }, buf,
                                          sizeof(buf)), "the current size at 60 Hz"));
}

int main(void)
{
    RUN(test_exact);
    RUN(test_refresh);
    RUN(test_size);
    RUN(test_current);
    RUN(test_hyperv);
    RUN(test_request);
    TEST_EXIT();
}
