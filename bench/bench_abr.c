/* pvstream-bench abr: adaptive bitrate, proven on an emulated link.
 *
 * For each scenario, with the server's rate control on and then off (a
 * fixed bitrate, what users had before), runs the real programs:
 *
 *   pvstream-server (testsrc "game" content, x264, --bitrate = the ceiling)
 *     <- pvstream-bench link (the emulated link, net/linkemu.h) ->
 *   pvstream-client --headless (its --stats-json and --trace)
 *
 * The test desktop's game content moves everywhere every frame, and the
 * server pads x264's output with filler data up to its bitrate (--filler:
 * nal-hrd=cbr), so the rate on the wire is what the controller asks for,
 * not what the content happens to need (about 16 Mbit/s at 1080p60 here).
 *
 * Scenarios (issue 15):
 *   step    50 -> 10 -> 50 Mbit/s, 10 s each, 5 ms delay, 100 ms queue
 *   wifi    30 Mbit/s dropping to 8 for 1-3 s at random times, jitter
 *           0-20 ms, 0.5 % bursty loss (runs of 3), 100 ms queue
 *   lossy   100 Mbit/s, 2 % random loss, no congestion
 *   open    no limit at all: the reference for wifi's latency
 * (--queue replaces the scenario's drop-tail queue: a time, or bytes.)
 *
 * What is reported per run, from the relay's time series (capacity, rate
 * offered to the link, queue delay: every 20 ms) and the client's files:
 * frames shown (of fps x seconds: on this 2-core machine x264 at 1080p60
 * beside the client often makes fewer, which is the CPU and not the link),
 * frames intact (decoded of those the client saw or knew lost: the link's
 * and the rate control's share), the encoder's mean bitrate (from the
 * server's RATE reports), freezes (gaps between shown frames over
 * 100 ms, from the trace's decode times), glass-to-glass percentiles, mean
 * capacity and sent rate, utilization = sent / min(capacity, ceiling),
 * the time to adapt after each capacity drop (until the queue delay is back
 * under one frame interval) and after each rise (until 80 % of the new
 * capacity, or of the ceiling, is used), the worst of each; null when there
 * was no such change or it never adapted.
 *
 * Logs and each run's files go to out/abr/. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/error.h"
#include "common/process.h"
#include "common/platform/platform.h"
#include "net/linkemu.h"
#include "net/pairing.h"

#define MAX_SAMPLES 20000
#define SAMPLE_MS   20
#define FREEZE_MS   100.0

struct settings {
    char scenario[PVS_OPT_STRING_MAX];
    int size[2];
    int fps;
    int64_t bitrate;
    int seconds;
    char queue[PVS_OPT_STRING_MAX];
    char json[PVS_OPT_STRING_MAX];
    char svg[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
static const struct pvs_option options[] = {
    OPT("scenario", PVS_OPT_STRING, scenario, 0, 0, "step|wifi|lossy|open|all", "what to run"),
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, "WxH", "the test desktop's size (even)"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, "N", "frames per second"),
    OPT("bitrate", PVS_OPT_INT64, bitrate, 100000, 2000000000, "BITS",
        "the server's --bitrate: the ceiling with ABR, the fixed rate without"),
    OPT("seconds", PVS_OPT_INT, seconds, 0, 3600, "S",
        "length of each run; 0: the scenario's own (30 s, lossy and open 20 s)"),
    OPT("queue", PVS_OPT_STRING, queue, 0, 0, "100ms|64K",
        "the link's drop-tail queue (a time at the current rate, or bytes) instead of the "
        "scenario's"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE", "also write the results as JSON"),
    OPT("svg", PVS_OPT_STRING, svg, 0, 0, "FILE",
        "also plot capacity, sent rate and queue delay over time (the first scenario's runs)"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

struct scenario {
    const char *name;
    const char *rate, *queue, *delay, *jitter, *loss, *burst; /* pvstream-bench link's options */
    int seconds;
};

static const struct scenario scenarios[] = {
    { "step", "50M@0,10M@10s,50M@20s", "100ms", "5ms", "", "", "", 30 },
    { "wifi", "wifi:30M:8M", "100ms", "5ms", "20ms", "0.5", "3", 30 },
    { "lossy", "100M", "100ms", "5ms", "", "2", "", 20 },
    { "open", "", "100ms", "", "", "", "", 20 },
};
#define N_SCENARIOS (int)(sizeof(scenarios) / sizeof(scenarios[0]))

/* One sample of the relay's server -> client direction. */
struct sample {
    double t_ms, capacity_bps, sent_bps, queue_ms;
    double estimate_bps;   /* the server's estimate then (its --trace); 0: none */
};

struct result {
    bool ok;
    double frames_shown_pct;
    double intact_pct;  /* frames decoded of those that reached the client
                           or were lost on the way (not the CPU's misses) */
    int freezes;
    double freeze_ms;
    double g2g_p50, g2g_p95, g2g_p99;
    double capacity_bps, ceiling_bps, sent_bps, utilization;
    double bitrate_bps;        /* the encoder's mean target, from RATE reports */
    double steady_utilization; /* the same, 3 s or more after a capacity change */
    double adapt_down_ms, adapt_up_ms; /* NAN: no such change, or never adapted */
    int downs, ups;
};

/* ---- reading what the programs wrote --------------------------------------- */

/* The down direction's series from the relay's JSON: its objects are
 * written with their keys in a fixed order (bench_link.c). */
static int read_series(const char *path, struct sample *out, int cap)
{
    char *text = pvs_bench_read_all(path);
    if (!text)
        return -1;
    const char *down = strstr(text, "\"down\"");
    const char *up = strstr(text, "\"up\"");
    int n = 0;
    for (const char *p = down; p && n < cap; n++) {
        p = strstr(p, "\"t_ms\":");
        if (!p || (up && up > down && p > up))
            break;
        struct sample *s = &out[n];
        s->t_ms = strtod(p + 7, NULL);
        s->capacity_bps = pvs_bench_json_number(p, NULL, "capacity_bps");
        s->sent_bps = pvs_bench_json_number(p, NULL, "sent_bps");
        s->queue_ms = pvs_bench_json_number(p, NULL, "queue_ms");
        p += 7;
    }
    free(text);
    return n;
}

/* The mean of the encoder bitrate the server reported (the client's
 * "abr" series, one point a second), leaving out the first second; NAN
 * without a series (the server did not report). */
static double mean_bitrate(const char *stats)
{
    const char *p = strstr(stats, "\"series\"");
    double sum = 0;
    int n = 0;
    while (p && (p = strstr(p, "\"t_s\":")) != NULL) {
        double t = strtod(p + 6, NULL);
        const char *b = strstr(p, "\"bitrate_bps\":");
        if (!b)
            break;
        if (t >= 1.5) {
            sum += strtod(b + 14, NULL);
            n++;
        }
        p = b;
    }
    return n ? sum / n : NAN;
}

/* Decode times (ms since the session began) from the client's trace: its
 * last column. */
static int read_shown(const char *path, double *out, int cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    int n = 0;
    if (!fgets(line, sizeof(line), f) || !strstr(line, "t_ms")) {
        fclose(f);
        return -1; /* a client without the column */
    }
    while (n < cap && fgets(line, sizeof(line), f)) {
        char *last = strrchr(line, ',');
        if (last && last[1] != '\n' && last[1] != '\0')
            out[n++] = strtod(last + 1, NULL);
    }
    fclose(f);
    return n;
}

/* ---- figures ------------------------------------------------------------ */

/* Gaps over FREEZE_MS between shown frames. A run that showed at most one
 * frame is one freeze as long as the run. (The run's end is not in the
 * trace: a stall at the very end is not counted.) */
static void freezes(const double *t, int n, double run_ms, struct result *r)
{
    if (n < 2) {
        r->freezes = 1;
        r->freeze_ms = run_ms;
        return;
    }
    for (int i = 1; i < n; i++) {
        double gap = t[i] - t[i - 1];
        if (gap > FREEZE_MS) {
            r->freezes++;
            r->freeze_ms += gap;
        }
    }
}

/* Capacity changes of more than 20 % between samples are the events. For a
 * drop: from the change until the queue delay is under one frame interval
 * again (and the link did not drop again first). For a rise: until the sent
 * rate reaches 80 % of min(new capacity, ceiling). */
static void adapt_times(const struct sample *s, int n, double frame_ms, double ceiling,
                        struct result *r)
{
    double worst_down = -1, worst_up = -1;
    bool down_never = false, up_never = false;
    for (int i = 1; i < n; i++) {
        double before = s[i - 1].capacity_bps, now = s[i].capacity_bps;
        if (!(before > 0) || !(now > 0) || fabs(now - before) < 0.2 * before)
            continue;
        bool drop = now < before;
        double target = 0.8 * fmin(now, ceiling);
        int j = i;
        for (; j < n && fabs(s[j].capacity_bps - now) < 0.2 * now; j++) {
            if (drop ? s[j].queue_ms < frame_ms && j > i : s[j].sent_bps >= target)
                break;
        }
        bool adapted = j < n && fabs(s[j].capacity_bps - now) < 0.2 * now;
        double ms = s[j < n ? j : n - 1].t_ms - s[i].t_ms;
        if (drop) {
            r->downs++;
            down_never |= !adapted;
            if (adapted && ms > worst_down)
                worst_down = ms;
        } else {
            r->ups++;
            up_never |= !adapted;
            if (adapted && ms > worst_up)
                worst_up = ms;
        }
    }
    r->adapt_down_ms = r->downs && !down_never ? worst_down : NAN;
    r->adapt_up_ms = r->ups && !up_never ? worst_up : NAN;
}

static void rates(const struct sample *s, int n, double from_ms, double to_ms, double ceiling,
                  struct result *r)
{
    double cap = 0, sent = 0, usable = 0, steady_sent = 0, steady_usable = 0, changed = -1e9;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (i && s[i].capacity_bps != s[i - 1].capacity_bps)
            changed = s[i].t_ms;
        if (s[i].t_ms < from_ms || s[i].t_ms > to_ms)
            continue;
        double c = s[i].capacity_bps > 0 ? s[i].capacity_bps : ceiling; /* 0: unlimited */
        cap += c;
        sent += s[i].sent_bps;
        usable += fmin(c, ceiling);
        if (s[i].t_ms - changed >= 3000 && s[i].t_ms - from_ms >= 2000) {
            steady_sent += s[i].sent_bps;
            steady_usable += fmin(c, ceiling);
        }
        k++;
    }
    r->steady_utilization = steady_usable > 0 ? steady_sent / steady_usable : NAN;
    r->capacity_bps = k ? cap / k : NAN;
    r->sent_bps = k ? sent / k : NAN;
    r->ceiling_bps = ceiling;
    r->utilization = usable > 0 ? sent / usable : NAN;
}

/* ---- one run ------------------------------------------------------------ */

struct paths {
    char dir[256], server_log[320], link_log[320], client_log[320], link_json[320],
        stats[320], trace[320], decisions[320];
};

static void make_paths(struct paths *p, const char *scenario, bool abr)
{
    snprintf(p->dir, sizeof(p->dir), "out/abr/%s-%s", scenario, abr ? "abr" : "fixed");
    mkdir(p->dir, 0755);
    snprintf(p->server_log, sizeof(p->server_log), "%s/server.log", p->dir);
    snprintf(p->link_log, sizeof(p->link_log), "%s/link.log", p->dir);
    snprintf(p->client_log, sizeof(p->client_log), "%s/client.log", p->dir);
    snprintf(p->link_json, sizeof(p->link_json), "%s/link.json", p->dir);
    snprintf(p->stats, sizeof(p->stats), "%s/client.json", p->dir);
    snprintf(p->trace, sizeof(p->trace), "%s/trace.csv", p->dir);
    snprintf(p->decisions, sizeof(p->decisions), "%s/server-abr.csv", p->dir);
}

/* The server's estimate at each sample, from its decision trace (--trace:
 * "time_ms,state,bitrate_bps,wire_bps,estimate_bps,..." on the monotonic
 * clock, which the relay's series starts from at link_start_ms): the
 * latest decision at or before the sample. */
static void add_estimates(const char *path, double link_start_ms, struct sample *s, int n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    int i = 0;
    double est = 0;
    if (!fgets(line, sizeof(line), f)) { /* the header */
        fclose(f);
        return;
    }
    while (i < n && fgets(line, sizeof(line), f)) {
        double t = strtod(line, NULL) - link_start_ms, e = 0;
        const char *p = line;
        for (int col = 0; col < 4 && p; col++) {
            p = strchr(p, ',');
            p = p ? p + 1 : NULL;
        }
        if (p)
            e = strtod(p, NULL);
        for (; i < n && s[i].t_ms < t; i++)
            s[i].estimate_bps = est;
        est = e;
    }
    for (; i < n; i++)
        s[i].estimate_bps = est;
    fclose(f);
}

struct programs {
    char self[1024], server[1024], client[1024];
};

/* The server and the client run at a lower priority than the relay: the
 * relay stands for the network, which on a real link does not wait for
 * x264. At the same priority on 2 cores it forwarded only 41 of its 50
 * Mbit/s while x264 filled both cores (so the step scenario's use read
 * 78 % of a link that was never there). `nice` from coreutils, when
 * present; else everything runs as it is. */
#define NICE_BIN "/usr/bin/nice"

static pid_t start_niced(char *const argv[], const char *log)
{
    char *nargv[48];
    int n = 0;
    if (access(NICE_BIN, X_OK) == 0) {
        nargv[n++] = (char *)NICE_BIN;
        nargv[n++] = (char *)"-n";
        nargv[n++] = (char *)"10";
    }
    for (int i = 0; argv[i] && n < 47; i++)
        nargv[n++] = argv[i];
    nargv[n] = NULL;
    return pvs_process_start(nargv, log);
}

/* Appends "--opt value" to argv when value is not empty. */
static int add_opt(char **argv, int n, const char *opt, const char *value)
{
    if (!value || !*value)
        return n;
    argv[n++] = (char *)opt;
    argv[n++] = (char *)value;
    return n;
}

static int run_one(const struct programs *pg, const struct settings *s, const struct scenario *sc,
                   bool abr, int seconds, struct result *r, struct sample *series, int *n_series,
                   double *shown)
{
    memset(r, 0, sizeof(*r));
    struct paths p;
    make_paths(&p, sc->name, abr);
    int port = pvs_bench_free_port(), listen = pvs_bench_free_port();
    int media = pvs_bench_free_port(), mine = pvs_bench_free_port();
    if (port < 0 || listen < 0 || media < 0 || mine < 0 || listen == port) {
        fprintf(stderr, "pvstream-bench abr: no free UDP ports\n");
        return 1;
    }
    char port_s[16], listen_s[16], media_s[16], mine_s[16], server_at[64], target[64];
    char fps[16], size[32], bitrate[32], cli_secs[16], link_secs[16], sample[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(listen_s, sizeof(listen_s), "%d", listen);
    snprintf(media_s, sizeof(media_s), "%d", media);
    snprintf(mine_s, sizeof(mine_s), "%d", mine);
    snprintf(server_at, sizeof(server_at), "127.0.0.1:%d", port);
    snprintf(target, sizeof(target), "127.0.0.1:%d", listen);
    snprintf(fps, sizeof(fps), "%d", s->fps);
    snprintf(size, sizeof(size), "%dx%d", s->size[0], s->size[1]);
    snprintf(bitrate, sizeof(bitrate), "%lld", (long long)s->bitrate);
    snprintf(cli_secs, sizeof(cli_secs), "%d", seconds);
    snprintf(link_secs, sizeof(link_secs), "%d", seconds + 4);
    snprintf(sample, sizeof(sample), "%d", SAMPLE_MS);

    /* The client pairs with the relay's address: that is where it connects. */
    char server_cfg[300], client_cfg[300];
    snprintf(server_cfg, sizeof(server_cfg), "%s/server-config", p.dir);
    snprintf(client_cfg, sizeof(client_cfg), "%s/client-config", p.dir);
    mkdir(server_cfg, 0700);
    mkdir(client_cfg, 0700);
    if (pvs_pair_local(server_cfg, client_cfg, "abr-client", target) != 0) {
        fprintf(stderr, "pvstream-bench abr: cannot write the pairing in %s\n", p.dir);
        return 1;
    }
    pid_t srv = -1, link = -1, cli = -1;
    int rc = 1;
    setenv("PVS_CONFIG_DIR", server_cfg, 1);
    char *sargv[] = { (char *)pg->server, "--capture", "testsrc", "--content", "game",
                      "--size", size, "--fps", fps, "--port", port_s, "--encoder", "libx264",
                      "--bitrate", bitrate, "--abr", abr ? "on" : "off", "--filler", "--no-input",
                      "--no-audio", "--gamestream", "off", abr ? "--trace" : NULL, p.decisions, NULL };
    remove(p.decisions);
    srv = start_niced(sargv, p.server_log);

    char *largv[40] = { (char *)pg->self, "link", "--listen", listen_s, "--server", server_at,
                        "--media-port", media_s, "--client-media-port", mine_s,
                        "--queue", s->queue[0] ? (char *)s->queue : (char *)sc->queue, "--seconds", link_secs,
                        "--sample-ms", sample, "--json", p.link_json };
    int n = 18;
    n = add_opt(largv, n, "--rate", sc->rate);
    n = add_opt(largv, n, "--delay", sc->delay);
    n = add_opt(largv, n, "--jitter", sc->jitter);
    n = add_opt(largv, n, "--loss", sc->loss);
    n = add_opt(largv, n, "--burst", sc->burst);
    largv[n] = NULL;
    remove(p.link_json);
    double link_start_ms = (double)pvs_time_us() / 1000;
    link = pvs_process_start(largv, p.link_log);
    if (srv < 0 || link < 0)
        goto out;
    pvs_sleep_ns(700000000); /* sockets open, the server's test desktop drawn */

    setenv("PVS_CONFIG_DIR", client_cfg, 1);
    char *cargv[] = { (char *)pg->client, target, "--headless", "--seconds", cli_secs,
                      "--media-port", mine_s, "--media-announce", media_s, "--no-audio",
                      "--stats-json", p.stats, "--trace", p.trace, NULL };
    remove(p.stats);
    cli = start_niced(cargv, p.client_log);
    int status = cli < 0 ? -1 : pvs_process_wait(cli, (seconds + 30) * 1000);
    /* A client that ran its time but decoded nothing exits 1 with its
     * figures written: a result (a fixed rate far over the link), not a
     * failure of the bench. */
    if (status != 0 && (status < 0 || access(p.stats, R_OK) != 0)) {
        fprintf(stderr, "pvstream-bench abr: %s %s: the client %s (see %s)\n", sc->name,
                abr ? "abr" : "fixed", status < 0 ? "did not finish" : "failed", p.client_log);
        goto out;
    }
    if (status != 0)
        fprintf(stderr, "pvstream-bench abr: %s %s: the client decoded nothing (see %s)\n",
                sc->name, abr ? "abr" : "fixed", p.client_log);
    cli = -1;
    status = pvs_process_wait(link, 15000);
    link = -1;
    if (status != 0) {
        fprintf(stderr, "pvstream-bench abr: the relay failed (see %s)\n", p.link_log);
        goto out;
    }

    char *text = pvs_bench_read_all(p.stats);
    *n_series = read_series(p.link_json, series, MAX_SAMPLES);
    if (abr && *n_series > 0)
        add_estimates(p.decisions, link_start_ms, series, *n_series);
    int shown_n = read_shown(p.trace, shown, MAX_SAMPLES * 4);
    if (!text || *n_series <= 0 || shown_n < 0) {
        fprintf(stderr, "pvstream-bench abr: %s %s: missing results (%s, %s, %s)\n", sc->name,
                abr ? "abr" : "fixed", p.stats, p.link_json, p.trace);
        free(text);
        goto out;
    }
    double frame_ms = 1000.0 / s->fps;
    double decoded = pvs_bench_json_number(text, NULL, "frames_decoded");
    double lost = pvs_bench_json_number(text, NULL, "frames_lost");
    r->frames_shown_pct = 100.0 * decoded / (s->fps * seconds);
    r->intact_pct = decoded + lost > 0 ? 100.0 * decoded / (decoded + lost) : 0;
    r->bitrate_bps = abr ? mean_bitrate(text) : (double)s->bitrate;
    r->g2g_p50 = pvs_bench_json_number(text, "glass_to_glass", "p50_ms");
    r->g2g_p95 = pvs_bench_json_number(text, "glass_to_glass", "p95_ms");
    r->g2g_p99 = pvs_bench_json_number(text, "glass_to_glass", "p99_ms");
    free(text);
    freezes(shown, shown_n, seconds * 1000.0, r);
    double t0 = series[0].t_ms, start = t0 + 1000, end = start + seconds * 1000.0 - 1000;
    rates(series, *n_series, start, end, (double)s->bitrate, r);
    adapt_times(series, *n_series, frame_ms, (double)s->bitrate, r);
    r->ok = true;
    rc = 0;
out:
    pvs_process_stop(&cli);
    pvs_process_stop(&link);
    pvs_process_stop(&srv);
    return rc;
}

/* ---- output --------------------------------------------------------------- */

static void fmt_ms(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.0f", v);
}

static void print_result(const char *scenario, const char *mode, const struct result *r)
{
    char down[16], up[16];
    fmt_ms(down, sizeof(down), r->adapt_down_ms);
    fmt_ms(up, sizeof(up), r->adapt_up_ms);
    printf("%-6s %-5s %6.1f %7.2f %4d %7.0f %6.1f %6.1f %6.1f %8.1f %7.1f %8.1f %6.1f %6.1f "
           "%7s %7s\n",
           scenario, mode, r->frames_shown_pct, r->intact_pct, r->freezes, r->freeze_ms, r->g2g_p50,
           r->g2g_p95, r->g2g_p99, r->capacity_bps / 1e6, r->bitrate_bps / 1e6, r->sent_bps / 1e6,
           100 * r->utilization,
           100 * r->steady_utilization, down, up);
}

static void json_result(struct pvs_json *j, const char *key, const struct result *r)
{
    pvs_json_begin(j, key);
    pvs_json_num(j, "frames_shown_pct", r->frames_shown_pct);
    pvs_json_num(j, "frames_intact_pct", r->intact_pct);
    pvs_json_int(j, "freezes", r->freezes);
    pvs_json_num(j, "freeze_ms", r->freeze_ms);
    pvs_json_begin(j, "g2g_ms");
    pvs_json_num(j, "p50", r->g2g_p50);
    pvs_json_num(j, "p95", r->g2g_p95);
    pvs_json_num(j, "p99", r->g2g_p99);
    pvs_json_end(j);
    pvs_json_num(j, "capacity_bps", r->capacity_bps);
    pvs_json_num(j, "ceiling_bps", r->ceiling_bps);
    pvs_json_num(j, "sent_bps", r->sent_bps);
    pvs_json_num(j, "bitrate_bps", r->bitrate_bps);
    pvs_json_num(j, "utilization", r->utilization);
    pvs_json_num(j, "steady_utilization", r->steady_utilization);
    pvs_json_num(j, "adapt_down_ms", r->adapt_down_ms);
    pvs_json_num(j, "adapt_up_ms", r->adapt_up_ms);
    pvs_json_end(j);
}

/* Capacity, sent rate (Mbit/s) and queue delay (ms) of both runs. */
static int plot(const char *path, const char *scenario, const struct sample *a, int na,
                const struct sample *f, int nf)
{
    int n = na > nf ? na : nf;
    enum { NS = 6 };
    struct pvs_bench_stage st[NS] = {
        { .name = "capacity_Mbps" }, { .name = "abr_estimate_Mbps" }, { .name = "abr_sent_Mbps" },
        { .name = "abr_queue_ms" }, { .name = "fixed_sent_Mbps" }, { .name = "fixed_queue_ms" },
    };
    int err = 0;
    for (int i = 0; i < NS; i++) {
        pvs_stats_reset(&st[i].stats);
        st[i].per_frame_ms = calloc((size_t)(n ? n : 1), sizeof(float));
        err |= !st[i].per_frame_ms;
    }
    for (int i = 0; !err && i < n; i++) {
        const struct sample *x = i < na ? &a[i] : NULL, *y = i < nf ? &f[i] : NULL;
        st[0].per_frame_ms[i] = (float)((x ? x->capacity_bps : y->capacity_bps) / 1e6);
        st[1].per_frame_ms[i] = x ? (float)(x->estimate_bps / 1e6) : 0;
        st[2].per_frame_ms[i] = x ? (float)(x->sent_bps / 1e6) : 0;
        st[3].per_frame_ms[i] = x ? (float)x->queue_ms : 0;
        st[4].per_frame_ms[i] = y ? (float)(y->sent_bps / 1e6) : 0;
        st[5].per_frame_ms[i] = y ? (float)y->queue_ms : 0;
    }
    char title[200];
    snprintf(title, sizeof(title), "pvstream abr, %s: capacity, estimate and sent rate "
             "(Mbit/s, on the wire), queue delay (ms), every %d ms", scenario, SAMPLE_MS);
    if (!err)
        err = pvs_bench_svg(path, title, st, NS, (uint64_t)n);
    for (int i = 0; i < NS; i++)
        free(st[i].per_frame_ms);
    return err;
}

int pvs_bench_abr(int argc, char **argv)
{
    struct settings s = { .scenario = "all", .size = { 1920, 1080 }, .fps = 60, .bitrate = 60000000 };
    int rc = pvs_bench_parse("abr", "pvstream-server -> emulated link -> headless client, rate "
                             "control on and off, per scenario.", options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("abr", s.size, 4320);
    if (rc >= 0)
        return rc;
    bool all = !strcmp(s.scenario, "all");
    int chosen = -1;
    for (int i = 0; i < N_SCENARIOS; i++)
        if (!strcmp(s.scenario, scenarios[i].name))
            chosen = i;
    if (!all && chosen < 0) {
        fprintf(stderr, "pvstream-bench abr: --scenario '%s': step, wifi, lossy, open or all\n",
                s.scenario);
        return 2;
    }
    int64_t qb, qus;
    if (s.queue[0] && pvs_link_queue_parse(s.queue, "pvstream-bench abr: --queue", &qb, &qus))
        return 2;
    struct programs pg;
    pvs_bench_find_program(pg.self, sizeof(pg.self), "PVS_BENCH", "bench/pvstream-bench");
    pvs_bench_find_program(pg.server, sizeof(pg.server), "PVS_SERVER", "server/pvstream-server");
    pvs_bench_find_program(pg.client, sizeof(pg.client), "PVS_CLIENT", "client/pvstream-client");
    if (access(pg.server, X_OK) != 0 || access(pg.client, X_OK) != 0) {
        fprintf(stderr, "pvstream-bench abr: cannot find %s or %s (build them, or set PVS_SERVER "
                "and PVS_CLIENT)\n", pg.server, pg.client);
        return 1;
    }
    if (pvs_net_init() != 0)
        return 1;
    mkdir("out", 0755);
    mkdir("out/abr", 0755);

    struct sample *sa = calloc(MAX_SAMPLES, sizeof(*sa)), *sf = calloc(MAX_SAMPLES, sizeof(*sf));
    double *shown = calloc(MAX_SAMPLES * 4, sizeof(double));
    struct result res[N_SCENARIOS][2];
    bool ran[N_SCENARIOS] = { false };
    rc = sa && sf && shown ? 0 : 1;
    bool plotted = false;
    for (int i = 0; i < N_SCENARIOS && !rc; i++) {
        if (!all && i != chosen)
            continue;
        const struct scenario *sc = &scenarios[i];
        int seconds = s.seconds ? s.seconds : sc->seconds;
        int na = 0, nf = 0;
        fprintf(stderr, "abr: %s, %d s with rate control, then %d s at a fixed %.0f Mbit/s\n",
                sc->name, seconds, seconds, (double)s.bitrate / 1e6);
        rc = run_one(&pg, &s, sc, true, seconds, &res[i][0], sa, &na, shown);
        if (!rc)
            rc = run_one(&pg, &s, sc, false, seconds, &res[i][1], sf, &nf, shown);
        ran[i] = !rc;
        if (!rc && s.svg[0] && !plotted) {
            rc = plot(s.svg, sc->name, sa, na, sf, nf) ? 1 : 0;
            plotted = true;
        }
    }
    if (!rc) {
        printf("pvstream-bench abr: %dx%d at %d fps, x264 game content, ceiling %.0f Mbit/s; "
               "freezes are gaps over %.0f ms\n", s.size[0], s.size[1], s.fps,
               (double)s.bitrate / 1e6, FREEZE_MS);
        printf("%-6s %-5s %6s %7s %4s %7s %6s %6s %6s %8s %7s %8s %6s %6s %7s %7s\n", "scen.",
               "mode", "shown%", "intact%", "frz", "frz ms", "g2g50", "g2g95", "g2g99",
               "cap Mb/s", "enc Mb/s", "sent Mb/s", "util%", "steady", "down ms", "up ms");
        for (int i = 0; i < N_SCENARIOS; i++) {
            if (!ran[i])
                continue;
            print_result(scenarios[i].name, "abr", &res[i][0]);
            print_result(scenarios[i].name, "fixed", &res[i][1]);
        }
    }
    if (!rc && s.json[0]) {
        struct pvs_json j;
        if (pvs_json_open(&j, s.json) < 0) {
            rc = 1;
        } else {
            pvs_json_begin(&j, NULL);
            char size[32];
            snprintf(size, sizeof(size), "%dx%d", s.size[0], s.size[1]);
            pvs_json_str(&j, "size", size);
            pvs_json_int(&j, "fps", s.fps);
            pvs_json_num(&j, "ceiling_bps", (double)s.bitrate);
            pvs_json_begin(&j, "scenarios");
            for (int i = 0; i < N_SCENARIOS; i++) {
                if (!ran[i])
                    continue;
                pvs_json_begin(&j, scenarios[i].name);
                json_result(&j, "abr", &res[i][0]);
                json_result(&j, "fixed", &res[i][1]);
                pvs_json_end(&j);
            }
            pvs_json_end(&j);
            pvs_json_end(&j);
            rc = pvs_json_close(&j) < 0 ? 1 : 0;
        }
    }
    free(sa);
    free(sf);
    free(shown);
    pvs_net_deinit();
    return rc;
}
