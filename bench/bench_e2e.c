/* pvstream-bench e2e: the whole system on one machine. Starts an X server
 * (Xvfb, unless --display names one), the painter (`pvstream-bench paint`,
 * which puts desktop-like content and the frame stamp on screen every
 * frame), pvstream-server capturing that display, and a headless
 * pvstream-client on loopback; when the client is done, reports what it
 * measured: painted -> decoded latency (the stamp read from each decoded
 * frame against this machine's clock), split into host (capture to sent),
 * network (sent to frame complete) and decode.
 *
 * The programs are the real ones, found next to this one in the build tree
 * (build/server/pvstream-server, build/client/pvstream-client), or named by
 * PVS_SERVER and PVS_CLIENT. Their logs go to out/e2e-*.log. */
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

/* Draws the client's per-frame trace (CSV: frame, then capture, host,
 * network, decode, glass to glass in ms; empty when unavailable). */
static int draw_trace(const char *csv, const char *svg, const char *title)
{
    static const char *const names[5] = { "capture", "host", "network", "decode", "glass_to_glass" };
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, "pvstream-bench e2e: the client wrote no %s\n", csv);
        return PVS_EIO;
    }
    struct pvs_bench_stage st[5];
    size_t cap = 4096, n = 0;
    int err = 0;
    for (int i = 0; i < 5; i++) {
        st[i] = (struct pvs_bench_stage){ .name = names[i], .per_frame_ms = calloc(cap, sizeof(float)) };
        pvs_stats_reset(&st[i].stats);
        err |= !st[i].per_frame_ms;
    }
    char line[256];
    if (!fgets(line, sizeof(line), f)) /* the header */
        err = 1;
    while (!err && fgets(line, sizeof(line), f)) {
        if (n == cap) {
            cap *= 2;
            for (int i = 0; i < 5 && !err; i++) {
                float *p = realloc(st[i].per_frame_ms, cap * sizeof(float));
                err = !p;
                if (p)
                    st[i].per_frame_ms = p;
            }
            if (err)
                break;
        }
        char *p = strchr(line, ',');
        for (int i = 0; i < 5; i++) {
            float v = 0;
            if (p && p[1] != ',' && p[1] != '\n' && p[1] != '\0') {
                v = strtof(p + 1, NULL);
                pvs_stats_add(&st[i].stats, (int64_t)(v * 1e6f));
            }
            st[i].per_frame_ms[n] = v;
            p = p ? strchr(p + 1, ',') : NULL;
        }
        n++;
    }
    fclose(f);
    if (!err)
        err = pvs_bench_svg(svg, title, st, 5, n);
    for (int i = 0; i < 5; i++)
        free(st[i].per_frame_ms);
    return err ? (err < 0 ? err : PVS_ENOMEM) : 0;
}

int pvs_bench_e2e(int argc, char **argv)
{
    struct settings s = { .size = { 1920, 1080 }, .fps = 60, .seconds = 10, .encoder = "auto" };
    int rc = pvs_bench_parse("e2e", "Xvfb + painter + pvstream-server + headless pvstream-client on "
                             "loopback: painted -> decoded latency by stage.", options, &s, argc, argv);
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

    pid_t xvfb = -1, painter = -1, srv = -1, cli = -1;
    char display[PVS_OPT_STRING_MAX], fps[16], seconds[16], port_s[16], target[64], stats[] = "out/e2e-client.json";
    char bitrate[32], screen[32];
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
        snprintf(screen, sizeof(screen), "%dx%dx24", s.size[0], s.size[1]);
        char *xargv[] = { "/usr/bin/Xvfb", display, "-screen", "0", screen, "-nolisten", "tcp",
                          "-noreset", NULL };
        if (access(xargv[0], X_OK) != 0) {
            fprintf(stderr, "pvstream-bench e2e: Xvfb is not installed (apt-get install xvfb), "
                    "or give --display\n");
            goto out;
        }
        xvfb = pvs_process_start(xargv, "out/e2e-xvfb.log");
        if (xvfb < 0 || !wait_socket(n, 5000)) {
            fprintf(stderr, "pvstream-bench e2e: Xvfb did not start (out/e2e-xvfb.log)\n");
            goto out;
        }
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
                      "--encoder", s.encoder, "--bitrate", bitrate, "--no-input", NULL };
    srv = pvs_process_start(sargv, "out/e2e-server.log");
    if (painter < 0 || srv < 0)
        goto out;
    pvs_sleep_ns(500000000); /* the painter's first frames, the server's sockets */
    fprintf(stderr, "e2e: %s %dx%d at %d fps painted, captured by pvstream-server (%s), "
            "client on %s for %d s\n", display, s.size[0], s.size[1], s.fps, s.encoder, target,
            s.seconds);
    char trace[] = "out/e2e-trace.csv";
    char *cargv[] = { client, target, "--headless", "--seconds", seconds, "--stats-json", stats,
                      "--trace", trace, NULL };
    remove(stats);
    setenv("PVS_CONFIG_DIR", client_cfg, 1);
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
        fprintf(stderr, "pvstream-bench e2e: the client exited with %d (out/e2e-server.log has "
                "the server's side)\n", status);
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
    printf("pvstream-bench e2e: %dx%d at %d fps, encoder %s, %d s\n", s.size[0], s.size[1], s.fps,
           encoder, s.seconds);
    printf("frames decoded %.0f (%.0f measured from their stamp), lost %.0f, keyframe requests %.0f\n",
           pvs_bench_json_number(text, NULL, "frames_decoded"), pvs_bench_json_number(text, NULL, "frames_stamped"),
           pvs_bench_json_number(text, NULL, "frames_lost"), pvs_bench_json_number(text, NULL, "keyframe_requests"));
    printf("stages: capture = painted -> captured, host = captured -> sent (convert, encode, "
           "FEC, SRTP), network = sent -> frame complete, glass_to_glass = painted -> decoded\n");
    printf("%-16s %9s %9s %9s %9s\n", "stage", "p50 ms", "p95 ms", "p99 ms", "max ms");
    static const char *const stages[] = { "capture", "host", "network", "decode", "glass_to_glass" };
    for (int i = 0; i < 5; i++)
        printf("%-16s %9.2f %9.2f %9.2f %9.2f\n", stages[i], pvs_bench_json_number(text, stages[i], "p50_ms"),
               pvs_bench_json_number(text, stages[i], "p95_ms"), pvs_bench_json_number(text, stages[i], "p99_ms"),
               pvs_bench_json_number(text, stages[i], "max_ms"));
    if (s.svg[0]) {
        char title[160];
        snprintf(title, sizeof(title), "pvstream e2e: %dx%d at %d fps, %s, painted -> decoded",
                 s.size[0], s.size[1], s.fps, encoder);
        if (draw_trace(trace, s.svg, title) < 0) {
            free(text);
            goto out;
        }
    }
    if (s.json[0]) {
        FILE *f = fopen(s.json, "w");
        char *end = strrchr(text, '}');
        if (!f || !end) {
            fprintf(stderr, "pvstream-bench e2e: cannot write %s\n", s.json);
        } else {
            *end = '\0';
            fprintf(f, "%s,\"size\":\"%dx%d\",\"fps\":%d,\"encoder\":\"%s\"}\n", text, s.size[0],
                    s.size[1], s.fps, encoder);
            rc = fclose(f) == 0 ? 0 : 1;
            f = NULL;
        }
        if (f)
            fclose(f);
    } else {
        rc = 0;
    }
    free(text);
out:
    pvs_process_stop(&cli);
    pvs_process_stop(&srv);
    pvs_process_stop(&painter);
    pvs_process_stop(&xvfb);
    pvs_net_deinit();
    return rc;
}
