/* The client's window (client/present.c) in a real SDL window on a private
 * Xvfb, measured the way pvstream-client measures it: a decoded picture
 * uploaded, drawn and presented, its present stage (decoded -> presented)
 * and glass to glass ending at presentation, with and without vsync, and
 * the --stats-json keys that say so. The figures are checked against the
 * times the test took itself, not against a time budget.
 * Skips (77) when Xvfb is not installed or SDL cannot open its display. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>

#include "client/present.h"
#include "client/stats.h"
#include "common/error.h"
#include "common/image.h"
#include "common/platform/platform.h"
#include "tests/xvfb.h"
#include "test.h"

#define W 320
#define H 180

static char *json_of(const struct pvs_client_stats *s)
{
    FILE *f = tmpfile();
    if (f)
        CHECK_INT(pvs_client_stats_write_json(s, f), ==, 0);
    return test_read_back(f);
}

/* A mid-grey NV12 picture. */
static void make_picture(struct pvs_image *img, uint8_t *mem)
{
    CHECK_INT(pvs_image_wrap_packed(img, PVS_PIX_NV12, W, H, mem), ==, 0);
    memset(mem, 128, (size_t)pvs_image_packed_size(PVS_PIX_NV12, W, H));
}

/* Three pictures shown in a window made with or without vsync. */
static void present_three(bool vsync)
{
    struct pvs_present *p = NULL;
    struct pvs_present_config cfg = { .title = "test", .vsync = vsync, .width = W, .height = H };
    CHECK_INT(pvs_present_open(&p, &cfg), ==, 0);
    if (!p)
        return;
    bool granted = pvs_present_vsync(p);
    fprintf(stderr, "renderer %s, vsync asked %s, %s\n", pvs_present_renderer_name(p),
            vsync ? "on" : "off", granted ? "on" : "off");
    if (!vsync)
        CHECK(!granted);
    struct pvs_client_stats *s = pvs_client_stats_new(pvs_time_us());
    CHECK(s != NULL);
    if (!s) {
        pvs_present_close(&p);
        return;
    }
    pvs_client_stats_set_window(s, granted);
    uint8_t *mem = malloc((size_t)pvs_image_packed_size(PVS_PIX_NV12, W, H));
    struct pvs_image img;
    make_picture(&img, mem);
    int64_t sum_present = 0, sum_g2g = 0;
    for (int i = 0; i < 3; i++) {
        /* Painted 5 ms ago on a server clock 1 s ahead, captured 2 ms
         * later, 1 ms of host, complete 1 ms after that; decoded now. */
        int64_t now = pvs_time_us();
        struct pvs_client_frame f = {
            .stamp_us = (uint64_t)(now - 5000 + 1000000), .have_stamp = true,
            .capture_us = (uint64_t)(now - 3000 + 1000000), .host_us = 1000,
            .complete_us = now - 1000, .decode_us = 1000, .decoded_us = now,
            .have_offset = true, .offset_us = 1000000, .bytes = 100,
        };
        struct pvs_client_row row;
        pvs_client_stats_frame(s, &f, &row);
        CHECK_INT(pvs_present_upload(p, &img), ==, 0);
        int64_t presented = pvs_present_draw(p, NULL, NULL, 0);
        int64_t after = pvs_time_us();
        /* after SDL_RenderPresent, on the same clock */
        CHECK(presented >= now && presented <= after);
        pvs_client_stats_presented(s, &row, presented);
        sum_present += presented - now;
        sum_g2g += presented - (now - 5000);
    }
    CHECK_INT(s->presented, ==, 3);
    CHECK_INT(s->total[PVS_CSTAGE_PRESENT].count, ==, 3);
    CHECK_INT(s->total[PVS_CSTAGE_G2G].count, ==, 3);
    /* The means are exact: present is decoded -> presented, glass to glass
     * painted -> presented, and the stages add up to it. */
    struct pvs_stats_summary pr, g2g, st[PVS_CSTAGE_COUNT];
    pvs_stats_summarize(&s->total[PVS_CSTAGE_PRESENT], &pr);
    pvs_stats_summarize(&s->total[PVS_CSTAGE_G2G], &g2g);
    CHECK_NEAR(pr.mean_ms, (double)sum_present / 3 / 1000, 0.001);
    CHECK_NEAR(g2g.mean_ms, (double)sum_g2g / 3 / 1000, 0.001);
    double stages = 0;
    for (int i = 0; i < PVS_CSTAGE_G2G; i++) {
        pvs_stats_summarize(&s->total[i], &st[i]);
        stages += st[i].mean_ms;
    }
    CHECK_NEAR(stages, g2g.mean_ms, 0.001);
    fprintf(stderr, "present mean %.3f ms, glass to glass %.3f ms, stages %.3f ms\n", pr.mean_ms,
            g2g.mean_ms, stages);

    char *j = json_of(s);
    CHECK(j && strstr(j, "\"frames_presented\":3,") != NULL);
    CHECK(j && strstr(j, "\"glass_to_glass_ends\":\"present\"") != NULL);
    CHECK(j && strstr(j, granted ? "\"present_vsync\":true" : "\"present_vsync\":false") != NULL);
    const char *present = j ? strstr(j, "\"present\":{") : NULL;
    CHECK(present && strstr(present, "\"frames\":3}") != NULL);
    CHECK(present && strncmp(present, "\"present\":{\"p50_ms\":null", 25) != 0);
    free(j);
    free(mem);
    pvs_client_stats_free(&s);
    pvs_present_close(&p);
}

static void test_window_no_vsync(void)
{
    present_three(false);
}

static void test_window_vsync(void)
{
    present_three(true);
}

int main(void)
{
    struct pvs_test_xvfb x;
    int err = pvs_test_xvfb_start(&x, 640, 360);
    if (err == PVS_ENOENT)
        TEST_SKIP("Xvfb is not installed (apt-get install xvfb)");
    if (err) {
        fprintf(stderr, "Xvfb did not start\n");
        return 1;
    }
    setenv("DISPLAY", x.name, 1);
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "SDL cannot open %s: %s\n", x.name, SDL_GetError());
        pvs_test_xvfb_stop(&x);
        TEST_SKIP("SDL has no X11 video here");
    }
    RUN(test_window_no_vsync);
    RUN(test_window_vsync);
    /* No SDL_Quit: it unloads Mesa's and D-Bus's libraries with a few
     * hundred bytes of theirs unfreed, which LeakSanitizer would report
     * (from modules it can no longer name, so lsan.supp cannot skip them). */
    pvs_test_xvfb_stop(&x);
    TEST_EXIT();
}
