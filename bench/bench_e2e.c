/* pvstream-bench e2e: the whole system on one machine. Starts an X server
 * (Xvfb, unless --display names one), the painter (`pvstream-bench paint`,
 * which puts desktop-like content and the frame stamp on screen every
 * frame), pvstream-server capturing that display, and pvstream-client on
 * loopback: headless, or with --window in an SDL window on a second Xvfb.
 * When the client is done, reports what it measured: painted -> decoded
 * (headless) or painted -> presented (window) latency, the stamp read from
 * each decoded frame against this machine's clock, split into stages that
 * end where the next begins: capture, host (capture to encoded), network
 * (encoded to frame complete), wait (complete to the decoder), decode, and
 * in a window present (decoded to SDL_RenderPresent returned).
 *
 * The table is per frame, from the client's --trace, over the frames
 * measured in every stage, so the stages' means add up to glass to glass's
 * mean; the "sum of stages" row is each frame's sum. The run fails (exit
 * 1) when the sum is more than 5 % away from glass to glass: a time no
 * stage counts (docs/latency.md says what each stage leaves out).
 *
 * The programs are the real ones, found next to this one in the build tree
 * (build/server/pvstream-server, build/client/pvstream-client), or named by
 * PVS_SERVER and PVS_CLIENT. Their logs go to out/e2e-*.log. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/error.h"
#include "common/process.h"
#include "net/pairing.h"
#include "common/platform/platform.h"

struct settings {
    int size[2];
    int fps;
    int seconds;
    char encoder[PVS_OPT_STRING_MAX];
    int64_t bitrate;
    char display[PVS_OPT_STRING_MAX];
    char json[PVS_OPT_STRING_MAX];
    char svg[PVS_OPT_STRING_MAX];
    bool window;
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
static const struct pvs_option options[] = {
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, "WxH", "screen size of the Xvfb started (even)"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, "N", "frames per second painted, captured and encoded"),
    OPT("seconds", PVS_OPT_INT, seconds, 1, 3600, "S", "how long the client measures"),
    OPT("encoder", PVS_OPT_STRING, encoder, 0, 0, "auto|NAME", "the server's encoder"),
    OPT("bitrate", PVS_OPT_INT64, bitrate, 0, 2000000000, "BITS", "the server's bitrate; 0 = its default"),
    OPT("display", PVS_OPT_STRING, display, 0, 0, ":N",
        "use this X display instead of starting Xvfb (its size wins over --size)"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE",
        "also write the client's statistics plus size, fps and encoder as JSON"),
    OPT("svg", PVS_OPT_STRING, svg, 0, 0, "FILE",
        "also draw each frame's stage times (from the client's --trace) as SVG"),
    OPT("window", PVS_OPT_BOOL, window, 0, 0, NULL,
        "run the client in an SDL window on a second Xvfb (glass to glass ends at "
        "presentation, with a present stage) instead of headless (ends at decode)"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

/* A display number with no X server on it. */
static int free_display(void)
{
    for (int n = 40; n < 100; n++) {
        char p[64], q[64];
        snprintf(p, sizeof(p), "/tmp/.X11-unix/X%d", n);
        snprintf(q, sizeof(q), "/tmp/.X%d-lock", n);
        if (access(p, F_OK) != 0 && access(q, F_OK) != 0)
            return n;
    }
    return -1;
}

static bool wait_socket(int n, int timeout_ms)
{
    char p[64];
    snprintf(p, sizeof(p), "/tmp/.X11-unix/X%d", n);
    int64_t end = pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    while (access(p, F_OK) != 0) {
        if (pvs_time_ns() >= end)
            return false;
        pvs_sleep_ns(20000000);
    }
    return true;
}

/* The client's trace (client/stats.h), by column name: each stage, the
 * sum of the stages, glass to glass; per frame, over the frames measured
 * in every stage (a stamp, a clock offset, and in a window shown). */
enum { T_CAPTURE, T_HOST, T_NETWORK, T_WAIT, T_DECODE, T_PRESENT, T_G2G, T_COLS };
#define T_SUM T_COLS
static const char *const trace_cols[T_COLS] = { "capture_ms", "host_ms", "network_ms", "wait_ms",
                                                "decode_ms", "present_ms", "glass_to_glass_ms" };
static const char *const row_names[T_COLS + 1] = { "capture", "host", "network", "wait", "decode",
                                                   "present", "glass_to_glass", "sum of stages" };

struct trace {
    struct pvs_bench_stage st[T_COLS + 1];
    size_t lines, full, cap;
    double stages_ms, g2g_ms;    /* sums over the full frames */
    double worst_ms;             /* the largest |glass to glass - sum| of one frame */
};

static void trace_free(struct trace *t)
{
    for (int i = 0; i <= T_COLS; i++)
        free(t->st[i].per_frame_ms);
}

static int trace_grow(struct trace *t)
{
    size_t cap = t->cap ? t->cap * 2 : 4096;
    for (int i = 0; i <= T_COLS; i++) {
        float *p = realloc(t->st[i].per_frame_ms, cap * sizeof(float));
        if (!p)
            return PVS_ENOMEM;
        t->st[i].per_frame_ms = p;
    }
    t->cap = cap;
    return 0;
}

/* Reads the trace; without `window`, present is not a stage. */
static int read_trace(const char *csv, bool window, struct trace *t)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i <= T_COLS; i++) {
        t->st[i].name = row_names[i];
        pvs_stats_reset(&t->st[i].stats);
    }
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, "pvstream-bench e2e: the client wrote no %s\n", csv);
        return PVS_EIO;
    }
    char line[512];
    int at[T_COLS];
    bool ok = fgets(line, sizeof(line), f) != NULL;
    for (int c = 0; ok && c < T_COLS; c++) {
        at[c] = -1;
        int i = 0;
        for (const char *p = line; p; p = strchr(p, ','), p = p ? p + 1 : NULL, i++)
            if (!strncmp(p, trace_cols[c], strlen(trace_cols[c])) &&
                (p[strlen(trace_cols[c])] == ',' || p[strlen(trace_cols[c])] == '\n'))
                at[c] = i;
        ok = at[c] >= 0;
    }
    if (!ok) {
        fprintf(stderr, "pvstream-bench e2e: %s is not a trace of this client's (header: %s)\n",
                csv, line);
        fclose(f);
        return PVS_EBADDATA;
    }
    int err = 0;
    while (!err && fgets(line, sizeof(line), f)) {
        double v[32];
        bool have[32] = { false };
        int n = 0;
        for (const char *p = line; p && n < 32; p = strchr(p, ','), p = p ? p + 1 : NULL, n++) {
            have[n] = *p && *p != ',' && *p != '\n';
            v[n] = have[n] ? strtod(p, NULL) : 0;
        }
        t->lines++;
        bool full = true;
        double sum = 0;
        for (int c = 0; c < T_COLS; c++) {
            if (c == T_PRESENT && !window)
                continue;
            full &= at[c] < n && have[at[c]];
            if (full && c != T_G2G)
                sum += v[at[c]];
        }
        if (!full)
            continue;
        if (t->full == t->cap && (err = trace_grow(t)) < 0)
            break;
        for (int c = 0; c <= T_COLS; c++) {
            double ms = c == T_SUM ? sum : (c == T_PRESENT && !window) ? 0 : v[at[c]];
            t->st[c].per_frame_ms[t->full] = (float)ms;
            pvs_stats_add(&t->st[c].stats, (int64_t)(ms * 1e6));
        }
        double g2g = v[at[T_G2G]];
        t->stages_ms += sum;
        t->g2g_ms += g2g;
        if (fabs(g2g - sum) > t->worst_ms)
            t->worst_ms = fabs(g2g - sum);
        t->full++;
    }
    fclose(f);
    return err;
}

/* The table: each stage, then the sum beside glass to glass. */
static void print_trace(const struct trace *t, bool window)
{
    printf("%-16s %9s %9s %9s %9s %9s\n", "stage", "p50 ms", "p95 ms", "p99 ms", "max ms",
           "mean ms");
    static const int order[] = { T_CAPTURE, T_HOST, T_NETWORK, T_WAIT, T_DECODE, T_PRESENT,
                                 T_SUM, T_G2G };
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
        int i = order[k];
        if (i == T_PRESENT && !window)
            continue;
        struct pvs_stats_summary s;
        pvs_stats_summarize(&t->st[i].stats, &s);
        printf("%-16s %9.2f %9.2f %9.2f %9.2f %9.2f\n", row_names[i], s.p50_ms, s.p95_ms,
               s.p99_ms, s.max_ms, s.mean_ms);
    }
}

/* Draws the trace's frames (those measured in every stage) as SVG. */
static int draw_trace(const struct trace *t, bool window, const char *svg, const char *title)
{
    struct pvs_bench_stage st[T_COLS];
    int n = 0;
    for (int c = 0; c < T_COLS; c++)
        if (c != T_PRESENT || window)
            st[n++] = t->st[c];
    return pvs_bench_svg(svg, title, st, n, t->full);
}

/* An Xvfb at the stream's size on :n (the painted desktop, or the
 * client's window's); `hint` ends the message when Xvfb is missing. */
static pid_t start_xvfb(int n, const int size[2], const char *log, const char *hint)
{
    char display[16], screen[32];
    snprintf(display, sizeof(display), ":%d", n);
    snprintf(screen, sizeof(screen), "%dx%dx24", size[0], size[1]);
    char *xargv[] = { "/usr/bin/Xvfb", display, "-screen", "0", screen, "-nolisten", "tcp",
                      "-noreset", NULL };
    if (access(xargv[0], X_OK) != 0) {
        fprintf(stderr, "pvstream-bench e2e: Xvfb is not installed (apt-get install xvfb)%s\n",
                hint);
        return -1;
    }
    pid_t pid = pvs_process_start(xargv, log);
    if (pid < 0 || !wait_socket(n, 5000)) {
        fprintf(stderr, "pvstream-bench e2e: Xvfb did not start (%s)\n", log);
        pvs_process_stop(&pid);
        return -1;
    }
    return pid;
}

int pvs_bench_e2e(int argc, char **argv)
{
    struct settings s = { .size = { 1920, 1080 }, .fps = 60, .seconds = 10, .encoder = "auto" };
    int rc = pvs_bench_parse("e2e", "Xvfb + painter + pvstream-server + pvstream-client (headless, "
                             "or --window) on loopback: painted -> decoded (or presented) latency "
                             "by stage, and the stages' sum beside it.", options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("e2e", s.size, 4320);
    if (rc >= 0)
        return rc;

    char self[1024], server[1024], client[1024];
    pvs_bench_find_program(self, sizeof(self), "PVS_BENCH", "bench/pvstream-bench");
    pvs_bench_find_program(server, sizeof(server), "PVS_SERVER", "server/pvstream-server");
    pvs_bench_find_program(client, sizeof(client), "PVS_CLIENT", "client/pvstream-client");
    if (access(server, X_OK) != 0 || access(client, X_OK) != 0) {
        fprintf(stderr, "pvstream-bench e2e: cannot find %s or %s (build them, or set PVS_SERVER "
                "and PVS_CLIENT)\n", server, client);
        return 1;
    }
    if (pvs_net_init() != 0)
        return 1;
    mkdir("out", 0755);

    pid_t xvfb = -1, view = -1, painter = -1, srv = -1, cli = -1;
    char display[PVS_OPT_STRING_MAX], view_display[16] = "", fps[16], seconds[16], port_s[16],
        target[64], stats[] = "out/e2e-client.json";
    char bitrate[32];
    struct trace tr = { 0 };
    rc = 1;
    if (s.display[0]) {
        snprintf(display, sizeof(display), "%s", s.display);
    } else {
        int n = free_display();
        if (n < 0) {
            fprintf(stderr, "pvstream-bench e2e: no free X display number in :40..:99\n");
            goto out;
        }
        snprintf(display, sizeof(display), ":%d", n);
        if ((xvfb = start_xvfb(n, s.size, "out/e2e-xvfb.log", ", or give --display")) < 0)
            goto out;
    }
    if (s.window) {
        /* The window on a display of its own: on the painted one the
         * server would capture it, over what it measures. */
        int n = free_display();
        if (n < 0) {
            fprintf(stderr, "pvstream-bench e2e: no free X display number in :40..:99\n");
            goto out;
        }
        snprintf(view_display, sizeof(view_display), ":%d", n);
        if ((view = start_xvfb(n, s.size, "out/e2e-view-xvfb.log", "")) < 0)
            goto out;
    }
    int port = pvs_bench_free_port();
    if (port < 0) {
        fprintf(stderr, "pvstream-bench e2e: no free UDP port pair\n");
        goto out;
    }
    snprintf(fps, sizeof(fps), "%d", s.fps);
    snprintf(seconds, sizeof(seconds), "%d", s.seconds);
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    snprintf(bitrate, sizeof(bitrate), "%lld", (long long)s.bitrate);

    char *pargv[] = { self, "paint", "--display", display, "--fps", fps, NULL };
    /* Server and client each get their own configuration directory, paired
     * with each other the way `pair` would leave them. */
    char server_cfg[] = "out/e2e-config/server", client_cfg[] = "out/e2e-config/client";
    char entry[64];
    snprintf(entry, sizeof(entry), "127.0.0.1:%d", port);
    mkdir("out/e2e-config", 0700);
    mkdir(server_cfg, 0700);
    mkdir(client_cfg, 0700);
    if (pvs_pair_local(server_cfg, client_cfg, "e2e-client", entry) != 0) {
        fprintf(stderr, "pvstream-bench e2e: cannot write the pairing in out/e2e-config\n");
        goto out;
    }
    painter = pvs_process_start(pargv, "out/e2e-paint.log");
    setenv("PVS_CONFIG_DIR", server_cfg, 1);
    char *sargv[] = { server, "--capture", "x11", "--display", display, "--fps", fps, "--port", port_s,
                      "--encoder", s.encoder, "--bitrate", bitrate, "--no-input", "--gamestream", "off", NULL };
    srv = pvs_process_start(sargv, "out/e2e-server.log");
    if (painter < 0 || srv < 0)
        goto out;
    pvs_sleep_ns(500000000); /* the painter's first frames, the server's sockets */
    fprintf(stderr, "e2e: %s %dx%d at %d fps painted, captured by pvstream-server (%s), "
            "client on %s for %d s, %s%s\n", display, s.size[0], s.size[1], s.fps, s.encoder,
            target, s.seconds, s.window ? "in a window on " : "headless", view_display);
    char trace[] = "out/e2e-trace.csv";
    char *cargv[] = { client, target, "--seconds", seconds, "--stats-json", stats, "--trace", trace,
                      s.window ? NULL : "--headless", NULL };
    remove(stats);
    setenv("PVS_CONFIG_DIR", client_cfg, 1);
    if (s.window)
        setenv("DISPLAY", view_display, 1);
    cli = pvs_process_start(cargv, "out/e2e-client.log");
    if (cli < 0)
        goto out;
    int status = pvs_process_wait(cli, (s.seconds + 30) * 1000);
    if (status < 0) {
        fprintf(stderr, "pvstream-bench e2e: the client did not finish; stopping it\n");
        pvs_process_stop(&cli);
        goto out;
    }
    cli = -1;
    if (status != 0) {
        fprintf(stderr, "pvstream-bench e2e: the client exited with %d (out/e2e-client.log; "
                "out/e2e-server.log has the server's side)\n", status);
        goto out;
    }
    /* The encoder the server chose, from its log ("encoding WxH with NAME"). */
    char encoder[64];
    snprintf(encoder, sizeof(encoder), "%.63s", s.encoder);
    char *slog = pvs_bench_read_all("out/e2e-server.log");
    const char *with = slog ? strstr(slog, "encoding ") : NULL;
    with = with ? strstr(with, " with ") : NULL;
    if (with && sscanf(with + 6, "%63[^ \n]", encoder) != 1)
        snprintf(encoder, sizeof(encoder), "%.63s", s.encoder);
    free(slog);
    char *text = pvs_bench_read_all(stats);
    if (!text) {
        fprintf(stderr, "pvstream-bench e2e: the client wrote no %s\n", stats);
        goto out;
    }
    if (read_trace(trace, s.window, &tr) < 0) {
        free(text);
        goto out;
    }
    const char *end = s.window ? "presented" : "decoded";
    bool vsync = strstr(text, "\"present_vsync\":true") != NULL;
    printf("pvstream-bench e2e: %dx%d at %d fps, encoder %s, %d s, client %s (glass to glass "
           "ends when the picture is %s)\n", s.size[0], s.size[1], s.fps, encoder, s.seconds,
           s.window ? (vsync ? "in a window, vsync on" : "in a window, vsync off") : "headless",
           end);
    printf("frames decoded %.0f (%.0f measured from their stamp), lost %.0f, keyframe requests %.0f",
           pvs_bench_json_number(text, NULL, "frames_decoded"), pvs_bench_json_number(text, NULL, "frames_stamped"),
           pvs_bench_json_number(text, NULL, "frames_lost"), pvs_bench_json_number(text, NULL, "keyframe_requests"));
    if (s.window)
        printf(", shown %.0f", pvs_bench_json_number(text, NULL, "frames_presented"));
    printf("\nstages: capture = painted -> captured, host = captured -> encoded (convert, "
           "encode), network = encoded -> frame complete (packetize, FEC, SRTP, pacing, UDP), "
           "wait = complete -> decoder starts, decode%s, glass_to_glass = painted -> %s\n",
           s.window ? ", present = decoded -> SDL_RenderPresent returned" : "", end);
    printf("per frame, over the %zu of %zu frames measured in every stage (a stamp, a clock "
           "offset%s):\n", tr.full, tr.lines, s.window ? ", shown" : "");
    print_trace(&tr, s.window);
    /* The stages end where the next begins: the sum differs from glass to
     * glass only by the trace's rounding, unless a stage leaves a gap. */
    double off_pct = tr.g2g_ms > 0 ? 100.0 * (tr.g2g_ms - tr.stages_ms) / tr.g2g_ms : 0;
    if (fabs(off_pct) < 0.005)
        off_pct = 0; /* not "-0.00" */
    bool adds_up = tr.full > 0 && fabs(off_pct) <= 5.0;
    if (adds_up)
        printf("the stages add up: %.3f ms a frame against glass to glass %.3f ms (%.2f %% apart; "
               "the worst frame %.3f ms: the trace's rounding)\n",
               tr.stages_ms / (double)tr.full, tr.g2g_ms / (double)tr.full, off_pct, tr.worst_ms);
    else if (tr.full)
        printf("the stages do NOT add up: %.3f ms a frame against glass to glass %.3f ms (%.2f %% "
               "apart, the worst frame %.3f ms): a time no stage counts, a bug in the client's "
               "stage bounds (client/stats.c)\n", tr.stages_ms / (double)tr.full,
               tr.g2g_ms / (double)tr.full, off_pct, tr.worst_ms);
    else
        printf("no frame was measured in every stage\n");
    if (s.svg[0]) {
        char title[160];
        snprintf(title, sizeof(title), "pvstream e2e: %dx%d at %d fps, %s, painted -> %s",
                 s.size[0], s.size[1], s.fps, encoder, end);
        if (draw_trace(&tr, s.window, s.svg, title) < 0) {
            free(text);
            goto out;
        }
    }
    rc = adds_up ? 0 : 1;
    if (s.json[0]) {
        FILE *f = fopen(s.json, "w");
        char *brace = strrchr(text, '}');
        if (!f || !brace) {
            fprintf(stderr, "pvstream-bench e2e: cannot write %s\n", s.json);
            rc = 1;
        } else {
            *brace = '\0';
            fprintf(f, "%s,\"size\":\"%dx%d\",\"fps\":%d,\"encoder\":\"%s\",\"window\":%s,"
                    "\"adds_up\":{\"frames\":%zu,\"stages_mean_ms\":%.4f,"
                    "\"glass_to_glass_mean_ms\":%.4f,\"worst_frame_ms\":%.4f}}\n", text,
                    s.size[0], s.size[1], s.fps, encoder, s.window ? "true" : "false", tr.full,
                    tr.full ? tr.stages_ms / (double)tr.full : 0,
                    tr.full ? tr.g2g_ms / (double)tr.full : 0, tr.worst_ms);
            if (fclose(f) != 0)
                rc = 1;
            f = NULL;
        }
        if (f)
            fclose(f);
    }
    free(text);
out:
    trace_free(&tr);
    pvs_process_stop(&cli);
    pvs_process_stop(&srv);
    pvs_process_stop(&painter);
    pvs_process_stop(&view);
    pvs_process_stop(&xvfb);
    pvs_net_deinit();
    return rc;
}
