/* Reporting for pvstream-bench: option parsing, tables, progress, JSON and
 * SVG. Figures are always percentiles of a stage's per-frame latency. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(_WIN32)
#include <io.h>
#define isatty _isatty
#define fileno _fileno
#else
#include <unistd.h>
#endif

#include "bench/bench.h"
#include "common/error.h"

int pvs_bench_parse(const char *cmd, const char *synopsis, const struct pvs_option *table,
                    void *settings, int argc, char **argv)
{
    char err[512];
    int npos = 0;
    int ret = pvs_config_parse_args(table, settings, argc, argv, 1, &npos, err, sizeof(err));
    if (ret == PVS_EAGAIN) {
        printf("usage: pvstream-bench %s [options]\n%s\n\noptions:\n", cmd, synopsis);
        pvs_config_print_help(table, settings, stdout);
        return 0;
    }
    if (ret < 0) {
        fprintf(stderr, "pvstream-bench %s: %s (see --help)\n", cmd, err);
        return 2;
    }
    if (npos > 0) {
        fprintf(stderr, "pvstream-bench %s: unexpected argument '%s' (see --help)\n", cmd, argv[1]);
        return 2;
    }
    return -1;
}

int pvs_bench_check_size(const char *cmd, const int size[2], int max_height)
{
    if (!((size[0] | size[1]) & 1) && size[1] <= max_height)
        return -1;
    fprintf(stderr, "pvstream-bench %s: --size '%dx%d': width and height must be even, "
            "height at most %d (see --help)\n", cmd, size[0], size[1], max_height);
    return 2;
}

void pvs_bench_print_table(FILE *out, const struct pvs_bench_stage *stages, int n)
{
    fprintf(out, "%-10s %9s %9s %9s %9s\n", "stage", "p50 ms", "p95 ms", "p99 ms", "max ms");
    for (int i = 0; i < n; i++) {
        struct pvs_stats_summary s;
        pvs_stats_summarize(&stages[i].stats, &s);
        fprintf(out, "%-10s %9.2f %9.2f %9.2f %9.2f\n", stages[i].name,
                s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms);
    }
}

void pvs_bench_progress(const char *what, uint64_t done, uint64_t total)
{
    if (!isatty(fileno(stderr)))
        return;
    fprintf(stderr, "\r%s: %llu/%llu", what, (unsigned long long)done, (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* ---- JSON -------------------------------------------------------------- */

int pvs_json_open(struct pvs_json *j, const char *path)
{
    memset(j, 0, sizeof(*j));
    j->path = path;
    j->f = fopen(path, "w");
    if (!j->f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return PVS_EIO;
    }
    return 0;
}

int pvs_json_close(struct pvs_json *j)
{
    if (!j->f)
        return 0;
    fputc('\n', j->f);
    int bad = ferror(j->f);
    bad |= fclose(j->f);
    j->f = NULL;
    if (bad)
        fprintf(stderr, "writing %s failed\n", j->path);
    return bad ? PVS_EIO : 0;
}

static void put_escaped(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void key(struct pvs_json *j, const char *k)
{
    if (j->need_comma[j->depth])
        fputc(',', j->f);
    j->need_comma[j->depth] = true;
    if (k) {
        put_escaped(j->f, k);
        fputc(':', j->f);
    }
}

/* Objects and arrays nest the same way. */
static void open_nest(struct pvs_json *j, const char *k, char c)
{
    key(j, k);
    fputc(c, j->f);
    if (j->depth < 15)
        j->need_comma[++j->depth] = false;
}

static void close_nest(struct pvs_json *j, char c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
}

void pvs_json_begin(struct pvs_json *j, const char *k)
{
    open_nest(j, k, '{');
}

void pvs_json_end(struct pvs_json *j)
{
    close_nest(j, '}');
}

void pvs_json_array(struct pvs_json *j, const char *k)
{
    open_nest(j, k, '[');
}

void pvs_json_array_end(struct pvs_json *j)
{
    close_nest(j, ']');
}

void pvs_json_str(struct pvs_json *j, const char *k, const char *v)
{
    key(j, k);
    put_escaped(j->f, v);
}

void pvs_json_num(struct pvs_json *j, const char *k, double v)
{
    key(j, k);
    if (isfinite(v))
        fprintf(j->f, "%.4f", v);
    else
        fputs("null", j->f);
}

void pvs_json_int(struct pvs_json *j, const char *k, int64_t v)
{
    key(j, k);
    fprintf(j->f, "%lld", (long long)v);
}

void pvs_json_stats(struct pvs_json *j, const char *k, const struct pvs_stats *st)
{
    struct pvs_stats_summary s;
    pvs_stats_summarize(st, &s);
    pvs_json_begin(j, k);
    pvs_json_num(j, "p50_ms", s.p50_ms);
    pvs_json_num(j, "p95_ms", s.p95_ms);
    pvs_json_num(j, "p99_ms", s.p99_ms);
    pvs_json_num(j, "max_ms", s.max_ms);
    pvs_json_end(j);
}

/* ---- SVG --------------------------------------------------------------- */

static const char *const palette[] = {
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
};

/* A round axis maximum above v: 1, 2 or 5 times a power of ten. */
static double nice_max(double v)
{
    if (v <= 0)
        return 1;
    double p = pow(10, floor(log10(v)));
    for (int m = 1; m <= 10; m *= 2) {
        if (m == 4)
            m = 5;
        if (p * m >= v)
            return p * m;
    }
    return p * 10;
}

/* Ends an SVG document and closes it: 0, or PVS_EIO (said on stderr). */
static int svg_finish(FILE *f, const char *path)
{
    fprintf(f, "</svg>\n");
    int bad = ferror(f);
    bad |= fclose(f);
    if (bad)
        fprintf(stderr, "writing %s failed\n", path);
    return bad ? PVS_EIO : 0;
}

int pvs_bench_svg(const char *path, const char *title,
                  const struct pvs_bench_stage *stages, int n, uint64_t frames)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return PVS_EIO;
    }
    const int W = 1200, H = 520, L = 60, T = 50, PW = 640, PH = 400, BX = L + PW + 90, BW = 360;
    double ymax = 0;
    for (int i = 0; i < n; i++) {
        struct pvs_stats_summary s;
        pvs_stats_summarize(&stages[i].stats, &s);
        if (s.max_ms > ymax)
            ymax = s.max_ms;
    }
    ymax = nice_max(ymax);

    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "font-family='sans-serif' font-size='12'>\n", W, H);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(f, "<text x='%d' y='24' font-size='16'>", L);
    for (const char *c = title; *c; c++)
        fputs(*c == '<' ? "&lt;" : *c == '&' ? "&amp;" : (char[2]){ *c, 0 }, f);
    fprintf(f, "</text>\n");

    /* axes and grid, shared by both panels */
    for (int g = 0; g <= 5; g++) {
        double v = ymax * g / 5;
        int y = T + PH - (int)(PH * g / 5);
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/>\n", L, y, L + PW, y);
        fprintf(f, "<text x='%d' y='%d' text-anchor='end'>%.3g</text>\n", L - 6, y + 4, v);
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/>\n", BX, y, BX + BW, y);
    }
    fprintf(f, "<text x='%d' y='%d' transform='rotate(-90 %d %d)' text-anchor='middle'>ms</text>\n",
            18, T + PH / 2, 18, T + PH / 2);
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>frame (%llu)</text>\n", L + PW / 2,
            T + PH + 30, (unsigned long long)frames);
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>p50 / p95 / p99 / max per stage</text>\n",
            BX + BW / 2, T + PH + 30);

    /* left: latency of every frame, one polyline per stage (at most ~PW
     * points each: frames are binned and each bin shows its maximum) */
    for (int i = 0; i < n; i++) {
        if (!stages[i].per_frame_ms || !frames)
            continue;
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1' points='", palette[i % 7]);
        uint64_t bins = frames < (uint64_t)PW ? frames : (uint64_t)PW;
        for (uint64_t b = 0; b < bins; b++) {
            uint64_t a = b * frames / bins, z = (b + 1) * frames / bins;
            float m = 0;
            for (uint64_t k = a; k < z; k++)
                if (stages[i].per_frame_ms[k] > m)
                    m = stages[i].per_frame_ms[k];
            double x = L + (bins > 1 ? (double)PW * (double)b / (double)(bins - 1) : 0);
            double y = T + PH - PH * (m > ymax ? ymax : m) / ymax;
            fprintf(f, "%.1f,%.1f ", x, y);
        }
        fprintf(f, "'/>\n");
        fprintf(f, "<rect x='%d' y='%d' width='10' height='10' fill='%s'/>"
                   "<text x='%d' y='%d'>%s</text>\n",
                L + 10 + i * 90, T - 16, palette[i % 7], L + 24 + i * 90, T - 7, stages[i].name);
    }

    /* right: a bar per stage to p99 with ticks at p50, p95 and max */
    int slot = BW / (n ? n : 1);
    for (int i = 0; i < n; i++) {
        struct pvs_stats_summary s;
        pvs_stats_summarize(&stages[i].stats, &s);
        int x = BX + i * slot + slot / 4, w = slot / 2;
#define YOF(v) (T + PH - (int)(PH * ((v) > ymax ? ymax : (v)) / ymax))
        fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s' opacity='0.35'/>\n",
                x, YOF(s.p99_ms), w, T + PH - YOF(s.p99_ms), palette[i % 7]);
        fprintf(f, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='%s' stroke-width='3'/>\n",
                x, x + w, YOF(s.p50_ms), YOF(s.p50_ms), palette[i % 7]);
        fprintf(f, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='%s'/>\n",
                x, x + w, YOF(s.p95_ms), YOF(s.p95_ms), palette[i % 7]);
        fprintf(f, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='black' stroke-dasharray='3'/>\n",
                x, x + w, YOF(s.max_ms), YOF(s.max_ms));
        fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%s</text>\n",
                x + w / 2, T + PH + 14, stages[i].name);
        fprintf(f, "<text x='%d' y='%d' text-anchor='middle' font-size='10'>%.2f</text>\n",
                x + w / 2, YOF(s.p50_ms) - 3, s.p50_ms);
#undef YOF
    }
    return svg_finish(f, path);
}

static void svg_text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputs(*s == '<' ? "&lt;" : *s == '&' ? "&amp;" : (char[2]){ *s, 0 }, f);
}

int pvs_bench_svg_bars(const char *path, const char *title, const char *const *series,
                       int nseries, const struct pvs_bench_bar_row *rows, int n)
{
    if (nseries < 1 || nseries > 4 || n < 0)
        return PVS_EINVAL;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        return PVS_EIO;
    }
    const int L = 300, PW = 480, NX = L + PW + 70, T = 80, BH = 10, RH = 14 * nseries + 12;
    const int W = NX + 300, H = T + RH * (n ? n : 1) + 40;
    double xmax = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nseries; k++)
            if (rows[i].series[k].p99_ms > xmax)
                xmax = rows[i].series[k].p99_ms;
    xmax = nice_max(xmax);
#define XOF(v) (L + (int)(PW * ((v) > xmax ? xmax : (v)) / xmax))

    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
               "font-family='sans-serif' font-size='12'>\n", W, H);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(f, "<text x='20' y='24' font-size='16'>");
    svg_text(f, title);
    fprintf(f, "</text>\n");
    for (int k = 0; k < nseries; k++) {
        fprintf(f, "<rect x='%d' y='38' width='10' height='10' fill='%s'/><text x='%d' y='47'>",
                L + k * 260, palette[k], L + k * 260 + 14);
        svg_text(f, series[k]);
        fprintf(f, "</text>\n");
    }
    /* the ms axis: grid and labels above and below the rows */
    for (int g = 0; g <= 5; g++) {
        int x = L + PW * g / 5;
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/>\n", x, T - 6, x, H - 34);
        fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%.3g</text>\n", x, T - 10, xmax * g / 5);
        fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>%.3g</text>\n", x, H - 20, xmax * g / 5);
    }
    fprintf(f, "<text x='%d' y='%d' text-anchor='middle'>ms: bar to p99, thick line at p50</text>\n",
            L + PW / 2, H - 6);

    for (int i = 0; i < n; i++) {
        int y0 = T + i * RH;
        if (i % 2)
            fprintf(f, "<rect x='0' y='%d' width='%d' height='%d' fill='#f4f4f4'/>\n", y0, W, RH);
        fprintf(f, "<text x='%d' y='%d' text-anchor='end'>", L - 8, y0 + RH / 2 + 4);
        svg_text(f, rows[i].label ? rows[i].label : "");
        fprintf(f, "</text>\n<text x='%d' y='%d'>", NX, y0 + RH / 2 + 4);
        svg_text(f, rows[i].note ? rows[i].note : "");
        fprintf(f, "</text>\n");
        for (int k = 0; k < nseries; k++) {
            const struct pvs_stats_summary *s = &rows[i].series[k];
            int y = y0 + 6 + k * 14;
            fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='%s' opacity='0.35'/>\n",
                    L, y, XOF(s->p99_ms) - L, BH, palette[k]);
            fprintf(f, "<line x1='%d' x2='%d' y1='%d' y2='%d' stroke='%s' stroke-width='3'/>\n",
                    XOF(s->p50_ms), XOF(s->p50_ms), y - 1, y + BH + 1, palette[k]);
            fprintf(f, "<text x='%d' y='%d' font-size='10'>%.2f / %.2f</text>\n",
                    XOF(s->p99_ms) + 4, y + BH - 1, s->p50_ms, s->p99_ms);
        }
    }
#undef XOF
    return svg_finish(f, path);
}
