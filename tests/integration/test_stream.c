/* pvstream-server and pvstream-client end to end, the real programs, on
 * private Xvfb displays:
 *  - a painted display streamed to a headless client: every decoded frame
 *    matches the source (luma PSNR >= 35 dB against the test desktop it
 *    shows, from the tenth frame on: the first keyframe is starved by the
 *    one-frame VBV and refined over 6 frames), stamps only increase, no
 *    frame lost, none held in a queue; glass to glass ends at decode and
 *    the stages of each frame (its --trace) add up to it;
 *  - the screen changes size mid-stream (xrandr): the stream goes on at the
 *    new size;
 *  - the client is killed: the server takes the next client;
 *  - the server restarts: the client reconnects by itself;
 *  - an unreachable server: a clear error and a nonzero exit, in seconds;
 *  - the SDL client in a real window on a second display: a screenshot shows
 *    the stream, keys and pointer sent through that window reach the
 *    server's display, the window follows a change of the stream's size,
 *    and a key still held when the client goes is released; its
 *    --stats-json has the present stage, glass to glass ends at
 *    presentation, and each frame's stages, present included, add up.
 * Arguments: the paths of pvstream-server, pvstream-client, pvstream-bench.
 * Skips (77) when Xvfb is not installed. */
#include <libavcodec/avcodec.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "capture/capture.h"
#include "client/decoder.h"
#include "common/error.h"
#include "common/image.h"
#include "common/platform/platform.h"
#include "common/process.h"
#include "common/stamp.h"
#include "encode/convert.h"
#include "net/pairing.h"
#include "tests/programs.h"
#include "tests/unit/test.h"
#include "tests/xvfb.h"

#define W 1280
#define H 720
#define FPS 30

static const char *server_bin, *client_bin, *bench_bin;
static struct pvs_test_xvfb screen;      /* the server's desktop */
static char port[16], target[32];
static char dir[] = "/tmp/pvs-stream-XXXXXX";
static uint8_t *ref_y;                   /* the test desktop's luma, W x H */

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* The server's and the client's configuration directories (their keys and
 * each other as paired peers). */
static char server_cfg[64], client_cfg[64];
/* A client paired with a server at 127.0.0.1:9, where nothing answers. */
static char lonely_cfg[64];

static pid_t start_as(const char *cfg, char *const argv[], const char *log)
{
    setenv("PVS_CONFIG_DIR", cfg, 1);
    return pvs_process_start(argv, log);
}

static pid_t start_client(char *const argv[], const char *log)
{
    return start_as(client_cfg, argv, log);
}

static pid_t start_server(const char *log)
{
    char lp[256];
    path(lp, sizeof(lp), log);
    char *argv[] = { (char *)server_bin, "--capture", "x11", "--display", screen.name, "--port", port,
                     "--encoder", "libx264", "--bitrate", "6M", "--fps", "30",
                     "--stats-interval", "0",
                     "--gamestream", "off", /* its start takes CPU: tests/integration/test_gamestream.sh covers it */ NULL };
    pid_t pid = start_as(server_cfg, argv, lp);
    pvs_sleep_ns(300000000); /* its sockets */
    return pid;
}

/* Runs a headless client for `seconds` (with its --trace in trace.csv);
 * returns its exit status. */
static int run_client(const char *seconds, const char *json, const char *record, const char *log)
{
    char jp[256], rp[256], lp[256], tp[256];
    path(jp, sizeof(jp), json);
    path(rp, sizeof(rp), record ? record : "none.h264");
    path(lp, sizeof(lp), log);
    path(tp, sizeof(tp), "trace.csv");
    char *argv[] = { (char *)client_bin, target, "--headless", "--seconds", (char *)seconds,
                     "--stats-json", jp, "--trace", tp, record ? "--record" : NULL, rp, NULL };
    pid_t pid = start_client(argv, lp);
    if (pid < 0)
        return -1;
    int status = pvs_process_wait(pid, (atoi(seconds) + 30) * 1000);
    if (status < 0)
        pvs_process_stop(&pid);
    return status;
}

/* A file of the scratch directory, whole. */
static char *slurp(const char *name)
{
    char p[256];
    path(p, sizeof(p), name);
    return pvs_test_slurp(p);
}

/* A client's --trace, frame by frame: the frames measured in every stage
 * (present too in a window) and how their stages add up to their glass to
 * glass. Each stage ends where the next begins (docs/latency.md), so they
 * must add up to it, to the trace's rounding (a microsecond a figure):
 * `off` counts the frames that do not. */
struct adds_up {
    int frames, full, off;
    double stages_ms, g2g_ms, worst_gap_ms;
};

static void trace_adds_up(const char *name, bool window, struct adds_up *a)
{
    memset(a, 0, sizeof(*a));
    char *text = slurp(name);
    CHECK(text != NULL);
    if (!text)
        return;
    enum { NCOL = 7, PRESENT = 5, G2G = 6 };
    static const char *const cols[NCOL] = { "capture_ms", "host_ms", "network_ms", "wait_ms",
                                            "decode_ms", "present_ms", "glass_to_glass_ms" };
    int at[NCOL];
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (int c = 0; c < NCOL; c++) {
        at[c] = -1;
        int i = 0;
        for (const char *p = line; p; p = strchr(p, ','), p = p ? p + 1 : NULL, i++)
            if (!strncmp(p, cols[c], strlen(cols[c])))
                at[c] = i;
        CHECK(at[c] >= 0);
    }
    while ((line = strtok_r(NULL, "\n", &save))) {
        double v[16];
        bool have[16] = { false };
        int i = 0;
        for (const char *p = line; p && i < 16; p = strchr(p, ','), p = p ? p + 1 : NULL, i++) {
            have[i] = *p && *p != ',';
            v[i] = have[i] ? strtod(p, NULL) : 0;
        }
        a->frames++;
        bool full = true;
        double stages = 0;
        for (int c = 0; c < NCOL; c++) {
            if (at[c] < 0 || (c == PRESENT && !window))
                continue;
            full &= have[at[c]];
            if (c != G2G)
                stages += v[at[c]];
        }
        if (!full)
            continue;
        double g2g = v[at[G2G]];
        a->full++;
        a->stages_ms += stages;
        a->g2g_ms += g2g;
        a->off += fabs(g2g - stages) > 0.005;
        if (fabs(g2g - stages) > a->worst_gap_ms)
            a->worst_gap_ms = fabs(g2g - stages);
    }
    free(text);
    fprintf(stderr, "%s: %d frames, %d measured in every stage; their stages add up to %.3f ms "
            "a frame, glass to glass %.3f ms (worst frame off by %.3f ms); %d do not add up\n",
            name, a->frames, a->full, a->full ? a->stages_ms / a->full : 0,
            a->full ? a->g2g_ms / a->full : 0, a->worst_gap_ms, a->off);
}

/* The test desktop the painter shows (static content), as luma. */
static int make_reference(void)
{
    struct pvs_capture *c = NULL;
    struct pvs_capture_opts o = { .width = W, .height = H, .fps = 60, .content = PVS_CONTENT_STATIC };
    struct pvs_frame f;
    int err = pvs_capture_open(&c, "testsrc", &o);
    if (!err)
        err = pvs_capture_next(c, &f, 1000);
    if (err)
        return err;
    ref_y = malloc((size_t)W * H);
    uint8_t *u = malloc((size_t)W * H / 4), *v = malloc((size_t)W * H / 4);
    struct pvs_image i420 = { .fmt = PVS_PIX_I420, .width = W, .height = H,
                              .data = { ref_y, u, v }, .stride = { W, W / 2, W / 2 } };
    err = pvs_convert(&f.img, &i420);
    pvs_capture_release(c, &f);
    pvs_capture_close(&c);
    free(u);
    free(v);
    return err;
}

/* Luma PSNR of an image against the reference, below the stamp. */
static double psnr_y(const uint8_t *y, int stride, int w, int h)
{
    int aw = 0, ah = 0;
    pvs_stamp_area(w, h, &aw, &ah);
    uint64_t sse = 0, n = 0;
    for (int r = ah; r < h; r++)
        for (int x = 0; x < w; x++) {
            int d = y[(size_t)r * (size_t)stride + (size_t)x] - ref_y[(size_t)r * W + (size_t)x];
            sse += (uint64_t)(d * d);
            n++;
        }
    return sse ? 10 * log10(255.0 * 255.0 * (double)n / (double)sse) : 99;
}

struct decoded {
    int frames, bad_psnr, not_increasing, unstamped, last_w, last_h, sizes_seen;
    double min_psnr;
    int nsteady;
    double steady[1024]; /* PSNR-Y of full-size frames after the 10th */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorts them); 0 when there are none. */
static double median_of(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Decodes a recorded H.264 stream frame by frame: PSNR of each full-size
 * frame against the reference, stamps in order, sizes. */
static void decode_record(const char *name, struct decoded *d)
{
    memset(d, 0, sizeof(*d));
    d->min_psnr = 99;
    char p[256];
    path(p, sizeof(p), name);
    FILE *f = fopen(p, "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecParserContext *parser = av_parser_init(AV_CODEC_ID_H264);
    AVCodecContext *pctx = avcodec_alloc_context3(codec);
    struct pvs_decoder *dec = NULL;
    struct pvs_decoder_opts o = { .codec = PVS_CODEC_H264, .hw = "software", .threads = 1 };
    CHECK_INT(pvs_decoder_open(&dec, &o), ==, 0);
    uint8_t buf[65536 + AV_INPUT_BUFFER_PADDING_SIZE];
    uint32_t last_stamp = 0;
    bool have_stamp = false;
    size_t n;
    bool eof = false;
    while (dec && !eof) {
        n = fread(buf, 1, 65536, f);
        eof = n == 0;
        memset(buf + n, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        uint8_t *data = buf;
        while (n > 0 || eof) {
            uint8_t *out = NULL;
            int out_size = 0;
            int used = av_parser_parse2(parser, pctx, &out, &out_size, data, (int)n,
                                        AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
            data += used;
            n -= (size_t)used;
            if (out_size > 0) {
                struct pvs_packet pkt = { .data = out, .size = (size_t)out_size };
                struct pvs_decoded img;
                if (pvs_decoder_decode(dec, &pkt, &img) == 0) {
                    d->frames++;
                    if (img.img.width != d->last_w || img.img.height != d->last_h)
                        d->sizes_seen++;
                    d->last_w = img.img.width;
                    d->last_h = img.img.height;
                    if (img.img.width == W && img.img.height == H) {
                        /* Adaptive bitrate starts at a quarter of the
                         * ceiling and ramps up (docs/abr.md): about 27 dB
                         * on the first frame, 35 dB by the tenth here. It
                         * lowers the rate again when a loaded machine
                         * delays the client, so a single frame may dip:
                         * from the tenth on every frame must be the source
                         * (30 dB; a wrong or broken frame is far below)
                         * and their median must match it (35 dB, checked
                         * by the caller); before, recognizable. */
                        double q = psnr_y(img.img.data[0], img.img.stride[0], W, H);
                        if (d->frames > 10 && q < d->min_psnr)
                            d->min_psnr = q;
                        if (d->frames > 10 && d->nsteady < (int)(sizeof(d->steady) / sizeof(d->steady[0])))
                            d->steady[d->nsteady++] = q;
                        d->bad_psnr += d->frames > 10 ? q < 30 : q < 20;
                        if (getenv("PVS_TEST_VERBOSE"))
                            fprintf(stderr, "frame %d: PSNR-Y %.1f dB\n", d->frames, q);
                    }
                    struct pvs_stamp st;
                    if (pvs_stamp_read(&img.img, &st) == 0) {
                        d->not_increasing += have_stamp && st.frame <= last_stamp;
                        last_stamp = st.frame;
                        have_stamp = true;
                    } else {
                        d->unstamped++;
                    }
                }
            }
            if (eof)
                break;
        }
    }
    pvs_decoder_close(&dec);
    av_parser_close(parser);
    avcodec_free_context(&pctx);
    fclose(f);
}

static void test_stream(void)
{
    pid_t srv = start_server("server-a.log");
    int rc = run_client("4", "a.json", "a.h264", "client-a.log");
    CHECK_INT(rc, ==, 0);
    char *json = slurp("a.json");
    CHECK(json != NULL);
    if (json) {
        double decoded = pvs_test_json_num(json, NULL, "frames_decoded");
        fprintf(stderr, "stream: %.0f frames decoded, %.0f lost, glass to glass p50 %.2f ms "
                "p99 %.2f ms\n", decoded, pvs_test_json_num(json, NULL, "frames_lost"),
                pvs_test_json_num(json, "glass_to_glass", "p50_ms"),
                pvs_test_json_num(json, "glass_to_glass", "p99_ms"));
        CHECK(decoded >= 3 * FPS);
        CHECK(pvs_test_json_num(json, NULL, "frames_lost") == 0);
        /* No queue: no frame waits for frames behind it. */
        CHECK(pvs_test_json_num(json, "glass_to_glass", "p99_ms") < 250);
        CHECK(pvs_test_json_num(json, "glass_to_glass", "max_ms") < 1000);
        /* Adaptive bitrate is on by default: its state reached the client,
         * within the ceiling (the server's --bitrate 6M). */
        double abr = pvs_test_json_num(json, "abr", "bitrate_bps");
        fprintf(stderr, "abr: bitrate %.2f Mbit/s, estimate %.2f Mbit/s, FEC %.0f %%\n",
                abr / 1e6, pvs_test_json_num(json, "abr", "estimate_bps") / 1e6,
                pvs_test_json_num(json, "abr", "fec_percent"));
        CHECK(abr > 0 && abr <= 6e6);
        /* It ran: loopback has room, so it rose from its start at a quarter
         * of the ceiling. */
        CHECK(abr >= 3e6);
        /* Headless: glass to glass ends at decode, and there is no present
         * stage. */
        CHECK(strstr(json, "\"glass_to_glass_ends\":\"decode\"") != NULL);
        CHECK(strstr(json, "\"present\":{\"p50_ms\":null,") != NULL);
        CHECK(pvs_test_json_num(json, "present", "frames") == 0);
        CHECK(pvs_test_json_num(json, NULL, "frames_presented") == 0);
        CHECK(pvs_test_json_num(json, "glass_to_glass", "frames") > 0);
    }
    free(json);
    /* Each frame's stages add up to its glass to glass. */
    struct adds_up a;
    trace_adds_up("trace.csv", false, &a);
    CHECK(a.full >= 3 * FPS);
    CHECK_INT(a.off, ==, 0);
    CHECK(fabs(a.g2g_ms - a.stages_ms) <= 0.05 * a.g2g_ms);
    struct decoded d;
    decode_record("a.h264", &d);
    double median = median_of(d.steady, d.nsteady);
    fprintf(stderr, "record: %d frames, PSNR-Y after the 10th: median %.1f dB, lowest %.1f dB; "
            "%d without a stamp\n", d.frames, median, d.min_psnr, d.unstamped);
    CHECK(d.frames >= 3 * FPS);
    CHECK_INT(d.bad_psnr, ==, 0);
    CHECK(median >= 35);
    CHECK_INT(d.not_increasing, ==, 0);
    CHECK(d.unstamped <= 2); /* the first keyframe may be starved */
    pvs_process_stop(&srv);
}

static void test_resize(void)
{
    pid_t srv = start_server("server-resize.log");
    char jp[256], rp[256], lp[256];
    path(jp, sizeof(jp), "resize.json");
    path(rp, sizeof(rp), "resize.h264");
    path(lp, sizeof(lp), "client-resize.log");
    char *argv[] = { (char *)client_bin, target, "--headless", "--seconds", "5", "--stats-json", jp,
                     "--record", rp, NULL };
    pid_t cli = start_client(argv, lp);
    pvs_sleep_ns(2000000000);
    char *xr[] = { "/usr/bin/xrandr", "-display", screen.name, "--output", "screen", "--off",
                   "--fb", "960x540", NULL };
    pid_t x = pvs_process_start(xr, NULL);
    CHECK_INT(pvs_process_wait(x, 10000), ==, 0);
    CHECK_INT(pvs_process_wait(cli, 30000), ==, 0);
    struct decoded d;
    decode_record("resize.h264", &d);
    fprintf(stderr, "resize: %d frames, %d sizes, last %dx%d\n", d.frames, d.sizes_seen, d.last_w,
            d.last_h);
    CHECK_INT(d.sizes_seen, ==, 2);
    CHECK(d.last_w == 960 && d.last_h == 540);
    CHECK(d.frames >= 3 * FPS);
    /* Back to the full size for the tests after this one. */
    char *back[] = { "/usr/bin/xrandr", "-display", screen.name, "--fb", "1280x720", "--output",
                     "screen", "--auto", NULL };
    x = pvs_process_start(back, NULL);
    pvs_process_wait(x, 10000);
    pvs_process_stop(&srv);
}

static void test_client_killed_and_server_restart(void)
{
    pid_t srv = start_server("server-b.log");
    char lp[256];
    path(lp, sizeof(lp), "client-killed.log");
    char *argv[] = { (char *)client_bin, target, "--headless", "--seconds", "60", NULL };
    pid_t cli = start_client(argv, lp);
    pvs_sleep_ns(1500000000);
    kill(cli, SIGKILL);
    pvs_process_wait(cli, 5000);
    /* The next client gets in once the server has given up on the dead one
     * (its 4 s timeout, which ENet stretches to 6 s and more on a loaded
     * machine); until then it is told "busy" and retries, for up to 15 s. */
    char bj[256], bl[256];
    path(bj, sizeof(bj), "b.json");
    path(bl, sizeof(bl), "client-b.log");
    char *argv_b[] = { (char *)client_bin, target, "--headless", "--seconds", "3",
                       "--connect-timeout", "15", "--stats-json", bj, NULL };
    pid_t cli_b = start_client(argv_b, bl);
    int status_b = cli_b < 0 ? -1 : pvs_process_wait(cli_b, 50000);
    if (status_b < 0)
        pvs_process_stop(&cli_b);
    CHECK_INT(status_b, ==, 0);
    char *json = slurp("b.json");
    CHECK(json && pvs_test_json_num(json, NULL, "frames_decoded") > FPS);
    free(json);

    /* The server restarts under a running client: it reconnects. */
    path(lp, sizeof(lp), "client-c.log");
    char jp[256];
    path(jp, sizeof(jp), "c.json");
    char *argv2[] = { (char *)client_bin, target, "--headless", "--seconds", "12", "--stats-json", jp, NULL };
    cli = start_client(argv2, lp);
    pvs_sleep_ns(2000000000);
    pvs_process_stop(&srv);
    pvs_sleep_ns(500000000);
    srv = start_server("server-c.log");
    CHECK_INT(pvs_process_wait(cli, 40000), ==, 0);
    char *log = slurp("server-c.log");
    CHECK(log && strstr(log, "streaming to 127.0.0.1"));
    free(log);
    pvs_process_stop(&srv);
}

static void test_unreachable(void)
{
    char lp[256];
    path(lp, sizeof(lp), "client-unreachable.log");
    char *argv[] = { (char *)client_bin, "127.0.0.1:9", "--headless", "--seconds", "2",
                     "--connect-timeout", "3", NULL };
    char nobody[80];
    snprintf(nobody, sizeof(nobody), "%s/nobody-config", dir);
    CHECK(mkdir(nobody, 0700) == 0 && mkdir(lonely_cfg, 0700) == 0);
    CHECK_INT(pvs_pair_local(nobody, lonely_cfg, "tester", "127.0.0.1:9"), ==, 0);
    int64_t t0 = pvs_time_ns();
    pid_t cli = start_as(lonely_cfg, argv, lp);
    int status = pvs_process_wait(cli, 20000);
    double secs = (double)(pvs_time_ns() - t0) / 1e9;
    char *log = slurp("client-unreachable.log");
    fprintf(stderr, "unreachable: exit %d after %.1f s\n", status, secs);
    CHECK(status > 0 && status < 128);
    CHECK(log && strstr(log, "127.0.0.1:9"));
    free(log);
}

/* ---- the SDL client in a window, with input ----------------------------- */

static bool find_window(xcb_connection_t *c, xcb_window_t root, xcb_window_t *win, int *x, int *y,
                        int *w, int *h)
{
    xcb_query_tree_reply_t *t = xcb_query_tree_reply(c, xcb_query_tree(c, root), NULL);
    bool found = false;
    int best = 0;
    for (int i = 0; t && i < xcb_query_tree_children_length(t); i++) {
        xcb_window_t k = xcb_query_tree_children(t)[i];
        xcb_get_window_attributes_reply_t *a =
            xcb_get_window_attributes_reply(c, xcb_get_window_attributes(c, k), NULL);
        xcb_get_geometry_reply_t *g = xcb_get_geometry_reply(c, xcb_get_geometry(c, k), NULL);
        if (a && g && a->map_state == XCB_MAP_STATE_VIEWABLE && g->width * g->height > best) {
            best = g->width * g->height;
            *win = k;
            *x = g->x;
            *y = g->y;
            *w = g->width;
            *h = g->height;
            found = true;
        }
        free(a);
        free(g);
    }
    free(t);
    return found;
}

static bool key_is_down(xcb_connection_t *c, uint8_t keycode)
{
    xcb_query_keymap_reply_t *k = xcb_query_keymap_reply(c, xcb_query_keymap(c), NULL);
    bool down = k && (k->keys[keycode / 8] >> (keycode % 8)) & 1;
    free(k);
    return down;
}

static void test_window_and_input(void)
{
    struct pvs_test_xvfb view = { 0 };
    if (pvs_test_xvfb_start(&view, 1600, 900) != 0) {
        CHECK(!"a second Xvfb did not start");
        return;
    }
    pid_t srv = start_server("server-w.log");
    setenv("DISPLAY", view.name, 1);
    char lp[256], jp[256], tp[256];
    path(lp, sizeof(lp), "client-window.log");
    path(jp, sizeof(jp), "window.json");
    path(tp, sizeof(tp), "window-trace.csv");
    char *argv[] = { (char *)client_bin, target, "--seconds", "10", "--stats-json", jp,
                     "--trace", tp, NULL };
    pid_t cli = start_client(argv, lp);
    xcb_connection_t *vc = xcb_connect(view.name, NULL);
    xcb_connection_t *sc = xcb_connect(screen.name, NULL);
    xcb_window_t vroot = xcb_setup_roots_iterator(xcb_get_setup(vc)).data->root;
    xcb_window_t sroot = xcb_setup_roots_iterator(xcb_get_setup(sc)).data->root;
    xcb_window_t win = 0;
    int x = 0, y = 0, w = 0, h = 0;
    /* The window, once it has shown a few frames. */
    int64_t until = pvs_time_ns() + 8000000000LL;
    while (!find_window(vc, vroot, &win, &x, &y, &w, &h) && pvs_time_ns() < until)
        pvs_sleep_ns(100000000);
    pvs_sleep_ns(1500000000);
    fprintf(stderr, "window: %dx%d at %d,%d\n", w, h, x, y);
    CHECK(win != 0);
    CHECK(w == W && h == H);
    if (win && w == W && h == H) {
        /* The screenshot: its luma against the test desktop. */
        xcb_get_image_reply_t *img = xcb_get_image_reply(vc, xcb_get_image(vc,
            XCB_IMAGE_FORMAT_Z_PIXMAP, win, 0, 0, (uint16_t)w, (uint16_t)h, ~0u), NULL);
        CHECK(img != NULL);
        if (img) {
            const uint8_t *px = xcb_get_image_data(img);
            uint8_t *luma = malloc((size_t)W * H);
            for (int i = 0; i < W * H; i++) /* BT.601 limited range, as the encoder's */
                luma[i] = (uint8_t)((66 * px[4 * i + 2] + 129 * px[4 * i + 1] + 25 * px[4 * i] + 128) / 256 + 16);
            double q = psnr_y(luma, W, W, H);
            fprintf(stderr, "screenshot of the client's window: PSNR-Y %.1f dB\n", q);
            CHECK(q >= 25);
            free(luma);
            free(img);
        }

        /* Pointer and key through the window, seen on the server's screen. */
        xcb_test_fake_input(vc, XCB_MOTION_NOTIFY, 0, XCB_CURRENT_TIME, vroot,
                            (int16_t)(x + 200), (int16_t)(y + 100), 0);
        xcb_flush(vc);
        pvs_sleep_ns(500000000);
        xcb_test_fake_input(vc, XCB_KEY_PRESS, 38, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
        xcb_flush(vc);
        bool down = false;
        until = pvs_time_ns() + 3000000000LL;
        while (!(down = key_is_down(sc, 38)) && pvs_time_ns() < until)
            pvs_sleep_ns(20000000);
        CHECK(down);
        xcb_query_pointer_reply_t *p = xcb_query_pointer_reply(sc, xcb_query_pointer(sc, sroot), NULL);
        fprintf(stderr, "input: key A %s on the server's screen, pointer at %d,%d\n",
                down ? "down" : "NOT down", p ? p->root_x : -1, p ? p->root_y : -1);
        CHECK(p && abs(p->root_x - 200) <= 2 && abs(p->root_y - 100) <= 2);
        free(p);
        xcb_test_fake_input(vc, XCB_KEY_RELEASE, 38, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
        xcb_flush(vc);
        until = pvs_time_ns() + 3000000000LL;
        while (key_is_down(sc, 38) && pvs_time_ns() < until)
            pvs_sleep_ns(20000000);
        CHECK(!key_is_down(sc, 38));
        /* The server's screen changes size: the window follows the stream. */
        char *xr[] = { "/usr/bin/xrandr", "-display", screen.name, "--output", "screen", "--off",
                       "--fb", "960x540", NULL };
        pid_t xp = pvs_process_start(xr, NULL);
        CHECK_INT(pvs_process_wait(xp, 10000), ==, 0);
        until = pvs_time_ns() + 5000000000LL;
        int nw = 0, nh = 0, nx, ny;
        xcb_window_t nwin;
        while (pvs_time_ns() < until && !(nw == 960 && nh == 540)) {
            pvs_sleep_ns(50000000);
            find_window(vc, vroot, &nwin, &nx, &ny, &nw, &nh);
        }
        fprintf(stderr, "after the resize the window is %dx%d\n", nw, nh);
        CHECK(nw == 960 && nh == 540);
        char *back[] = { "/usr/bin/xrandr", "-display", screen.name, "--fb", "1280x720", "--output",
                         "screen", "--auto", NULL };
        xp = pvs_process_start(back, NULL);
        pvs_process_wait(xp, 10000);

        /* Pressed and never released when the client goes: released. */
        xcb_test_fake_input(vc, XCB_KEY_PRESS, 38, XCB_CURRENT_TIME, XCB_NONE, 0, 0, 0);
        xcb_flush(vc);
        pvs_sleep_ns(500000000);
    }
    pvs_process_stop(&cli);
    int64_t t = pvs_time_ns() + 6000000000LL;
    while (key_is_down(sc, 38) && pvs_time_ns() < t)
        pvs_sleep_ns(50000000);
    CHECK(!key_is_down(sc, 38));

    /* In a window, glass to glass ends when the picture is presented: the
     * present stage has a figure for every frame shown, and each frame's
     * stages, present included, add up to its glass to glass. */
    char *json = slurp("window.json");
    CHECK(json != NULL);
    if (json) {
        double shown = pvs_test_json_num(json, NULL, "frames_presented");
        fprintf(stderr, "window: %.0f frames decoded, %.0f shown, present p50 %.2f ms, glass to "
                "glass p50 %.2f ms\n", pvs_test_json_num(json, NULL, "frames_decoded"), shown,
                pvs_test_json_num(json, "present", "p50_ms"),
                pvs_test_json_num(json, "glass_to_glass", "p50_ms"));
        CHECK(strstr(json, "\"glass_to_glass_ends\":\"present\"") != NULL);
        CHECK(strstr(json, "\"present_vsync\":false") != NULL);
        CHECK(shown >= 5); /* llvmpipe on a busy machine may show few */
        CHECK(pvs_test_json_num(json, "present", "frames") == shown);
        CHECK(pvs_test_json_num(json, "present", "p50_ms") >= 0);
        CHECK(!strstr(json, "\"present\":{\"p50_ms\":null"));
        CHECK(pvs_test_json_num(json, "glass_to_glass", "frames") <= shown);
    }
    free(json);
    struct adds_up a;
    trace_adds_up("window-trace.csv", true, &a);
    CHECK(a.full >= 5);
    CHECK_INT(a.off, ==, 0);
    CHECK(fabs(a.g2g_ms - a.stages_ms) <= 0.05 * a.g2g_ms);
    xcb_disconnect(vc);
    xcb_disconnect(sc);
    pvs_process_stop(&srv);
    pvs_test_xvfb_stop(&view);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_stream SERVER CLIENT BENCH\n");
        return 2;
    }
    server_bin = argv[1];
    client_bin = argv[2];
    bench_bin = argv[3];
    if (!mkdtemp(dir))
        return 1;
    int err = pvs_test_xvfb_start(&screen, W, H);
    if (err == PVS_ENOENT) {
        fprintf(stderr, "skipped: Xvfb is not installed (apt-get install xvfb)\n");
        return 77;
    }
    if (err || make_reference() != 0 || pvs_net_init() != 0) {
        fprintf(stderr, "cannot set up: Xvfb or the reference frame\n");
        pvs_test_xvfb_stop(&screen);
        return 1;
    }
    snprintf(port, sizeof(port), "%d", 41000 + (int)(getpid() % 5000) * 2);
    snprintf(target, sizeof(target), "127.0.0.1:%s", port);
    snprintf(server_cfg, sizeof(server_cfg), "%s/server-config", dir);
    snprintf(client_cfg, sizeof(client_cfg), "%s/client-config", dir);
    snprintf(lonely_cfg, sizeof(lonely_cfg), "%s/lonely-config", dir);
    if (mkdir(server_cfg, 0700) != 0 || mkdir(client_cfg, 0700) != 0 ||
        pvs_pair_local(server_cfg, client_cfg, "tester", target) != 0) {
        fprintf(stderr, "cannot pair the server and the client in %s\n", dir);
        return 1;
    }
    char pl[256];
    path(pl, sizeof(pl), "paint.log");
    char *pargv[] = { (char *)bench_bin, "paint", "--display", screen.name, "--fps", "60",
                      "--content", "static", NULL };
    pid_t painter = pvs_process_start(pargv, pl);
    pvs_sleep_ns(500000000);

    RUN(test_stream);
    RUN(test_resize);
    RUN(test_client_killed_and_server_restart);
    RUN(test_unreachable);
    RUN(test_window_and_input);

    pvs_process_stop(&painter);
    pvs_test_xvfb_stop(&screen);
    free(ref_y);
    pvs_test_scratch_done(dir, test_checks_failed != 0);
    pvs_net_deinit();
    TEST_EXIT();
}
