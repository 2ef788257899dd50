/* The client's statistics (see stats.h). */
#include "client/stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

static const char *const stage_names[PVS_CSTAGE_COUNT] = {
    "capture", "host", "network", "wait", "decode", "present", "glass_to_glass"};
/* A stamp more than this older than the capture is not this frame's (a
 * picture of an old stamp on the desktop, say). */
#define STAMP_MAX_AGE_US 10000000

struct pvs_client_stats *pvs_client_stats_new(int64_t now_us)
{
    struct pvs_client_stats *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    for (int i = 0; i < PVS_CSTAGE_COUNT; i++) {
        pvs_stats_reset(&s->total[i]);
        pvs_stats_reset(&s->window[i]);
    }
    pvs_stats_reset(&s->audio_total);
    pvs_stats_reset(&s->audio_window);
    pvs_stats_reset(&s->av_late);
    pvs_stats_reset(&s->av_early);
    pvs_stats_reset(&s->av_abs);
    s->av_audio_ms = s->av_video_ms = NAN;
    s->win_start_us = now_us;
    s->start_us = now_us;
    s->abr.queue_delay_ms = NAN;
    return s;
}

void pvs_client_stats_free(struct pvs_client_stats **s)
{
    if (!s || !*s)
        return;
    if ((*s)->trace)
        fclose((*s)->trace);
    free((*s)->abr_series);
    free(*s);
    *s = NULL;
}

static void add(struct pvs_client_stats *s, enum pvs_cstage st, int64_t us)
{
    pvs_stats_add(&s->total[st], us * 1000);
    pvs_stats_add(&s->window[st], us * 1000);
}

void pvs_client_stats_set_window(struct pvs_client_stats *s, bool vsync)
{
    s->windowed = true;
    s->vsync = vsync;
}

void pvs_client_stats_set_trace(struct pvs_client_stats *s, FILE *trace)
{
    if (s->trace)
        fclose(s->trace);
    s->trace = trace;
    if (trace)
        fprintf(trace, "frame,capture_ms,host_ms,network_ms,wait_ms,decode_ms,present_ms,"
                       "glass_to_glass_ms,t_ms\n");
}

static void trace_ms(FILE *f, bool have, int64_t us)
{
    if (have)
        fprintf(f, ",%.3f", (double)us / 1000.0);
    else
        fputc(',', f);
}

/* One frame's line; present_us < 0: not shown (headless, or never). */
static void trace_row(struct pvs_client_stats *s, const struct pvs_client_row *r,
                      bool shown, int64_t present_us, bool have_g2g, int64_t g2g_us)
{
    if (!s->trace)
        return;
    fprintf(s->trace, "%llu", (unsigned long long)r->index);
    trace_ms(s->trace, r->stamped, r->capture_us);
    trace_ms(s->trace, true, r->host_us);
    trace_ms(s->trace, r->timed, r->network_us);
    trace_ms(s->trace, true, r->wait_us);
    trace_ms(s->trace, true, r->decode_us);
    trace_ms(s->trace, shown, present_us);
    trace_ms(s->trace, have_g2g, g2g_us);
    /* when it was decoded, from the session's start: gaps are freezes */
    trace_ms(s->trace, true, r->decoded_us - s->start_us);
    fputc('\n', s->trace);
}

void pvs_client_stats_frame(struct pvs_client_stats *s, const struct pvs_client_frame *f,
                            struct pvs_client_row *row)
{
    s->frames_decoded++;
    s->win_frames++;
    s->bytes += f->bytes;
    s->win_bytes += f->bytes;
    struct pvs_client_row r = {
        .index = s->frames_decoded,
        .host_us = f->host_us,
        /* both on our clock: no offset needed */
        .wait_us = f->decoded_us - f->decode_us - f->complete_us,
        .decode_us = f->decode_us,
        .decoded_us = f->decoded_us,
    };
    add(s, PVS_CSTAGE_HOST, r.host_us);
    add(s, PVS_CSTAGE_WAIT, r.wait_us);
    add(s, PVS_CSTAGE_DECODE, r.decode_us);
    /* A capture time past INT64_MAX cannot be a monotonic clock's: skip. */
    if (f->have_offset && f->capture_us <= (uint64_t)INT64_MAX / 2) {
        int64_t capture_here = (int64_t)f->capture_us - f->offset_us;
        r.timed = true;
        r.network_us = f->complete_us - (capture_here + (int64_t)f->host_us);
        add(s, PVS_CSTAGE_NETWORK, r.network_us);
        r.origin_us = capture_here;
        r.stamped = f->have_stamp && f->stamp_us <= f->capture_us &&
                    f->capture_us - f->stamp_us < STAMP_MAX_AGE_US;
        if (r.stamped) {
            r.capture_us = (int64_t)(f->capture_us - f->stamp_us);
            add(s, PVS_CSTAGE_CAPTURE, r.capture_us);
            r.origin_us = (int64_t)f->stamp_us - f->offset_us;
            s->frames_stamped++;
        }
    }
    if (row)
        *row = r;
    if (s->windowed)
        return; /* glass to glass and the trace line when it is shown */
    if (r.timed)
        add(s, PVS_CSTAGE_G2G, r.decoded_us - r.origin_us);
    trace_row(s, &r, false, 0, r.timed, r.decoded_us - r.origin_us);
}

void pvs_client_stats_presented(struct pvs_client_stats *s, const struct pvs_client_row *row,
                                int64_t presented_us)
{
    s->presented++;
    int64_t present = presented_us - row->decoded_us;
    add(s, PVS_CSTAGE_PRESENT, present);
    if (row->timed)
        add(s, PVS_CSTAGE_G2G, presented_us - row->origin_us);
    trace_row(s, row, true, present, row->timed, presented_us - row->origin_us);
}

void pvs_client_stats_unshown(struct pvs_client_stats *s, const struct pvs_client_row *row)
{
    trace_row(s, row, false, 0, false, 0);
}

bool pvs_client_audio_latency(uint64_t capture_us, int64_t offset_us, int64_t callback_us,
                              int64_t ahead_us, int64_t *latency_us)
{
    /* As for video: a capture time past INT64_MAX / 2 cannot be a
     * monotonic clock's, and 0 means no packet gave one. */
    if (capture_us == 0 || capture_us > (uint64_t)INT64_MAX / 2 ||
        offset_us > INT64_MAX / 4 || offset_us < -(INT64_MAX / 4))
        return false;
    int64_t capture_here = (int64_t)capture_us - offset_us;
    *latency_us = callback_us + ahead_us - capture_here;
    return true;
}

void pvs_client_stats_audio(struct pvs_client_stats *s, const struct pvs_stats *latency,
                            uint64_t frames, uint64_t underruns, uint64_t concealed)
{
    if (latency && latency->count) {
        pvs_stats_merge(&s->audio_total, latency);
        pvs_stats_merge(&s->audio_window, latency);
    }
    s->audio_frames += frames;
    s->audio_underruns += underruns;
    s->audio_concealed += concealed;
}

static double median_ms(const struct pvs_stats *st)
{
    return st->count ? (double)pvs_stats_quantile(st, 0.5) / 1e6 : NAN;
}

double pvs_client_av_sync(double audio_ms, double video_ms, double video_frame_ms,
                          double audio_frame_ms, double extra_ms, double max_extra_ms)
{
    if (isnan(audio_ms) || isnan(video_ms) || !(video_frame_ms > 0) || !(audio_frame_ms > 0))
        return extra_ms;
    double off = audio_ms - video_ms, step = audio_frame_ms;
    if (off < -video_frame_ms / 2)
        extra_ms += -off < step ? -off : step;
    else if (off > 0 && extra_ms > 0)
        extra_ms -= off < step ? off : step;
    if (extra_ms > max_extra_ms)
        extra_ms = max_extra_ms;
    return extra_ms > 0 ? extra_ms : 0;
}

double pvs_client_stats_av_quantile(const struct pvs_client_stats *s, double q)
{
    uint64_t ne = s->av_early.count, nl = s->av_late.count;
    if (!ne && !nl)
        return NAN;
    /* Ordered from the earliest: the early ones by falling magnitude,
     * then the late ones. */
    double r = q * (double)(ne + nl);
    if (ne && (r < (double)ne || !nl))
        return -(double)pvs_stats_quantile(&s->av_early, 1.0 - r / (double)ne) / 1e6;
    return (double)pvs_stats_quantile(&s->av_late, (r - (double)ne) / (double)nl) / 1e6;
}

void pvs_client_stats_abr(struct pvs_client_stats *s, const struct pvs_client_abr *abr)
{
    s->abr_on = true;
    s->abr = *abr;
}

/* A point of the series; out of memory or past a day, the series stops. */
static void add_abr_point(struct pvs_client_stats *s, int64_t now_us, double received_bps)
{
    if (s->abr_points == s->abr_cap) {
        size_t cap = s->abr_cap ? s->abr_cap * 2 : 64;
        if (cap > PVS_CLIENT_ABR_SERIES_MAX)
            cap = PVS_CLIENT_ABR_SERIES_MAX;
        void *p = cap > s->abr_cap ? realloc(s->abr_series, cap * sizeof(*s->abr_series)) : NULL;
        if (!p)
            return;
        s->abr_series = p;
        s->abr_cap = cap;
    }
    s->abr_series[s->abr_points++] = (struct pvs_client_abr_point){
        .t_s = (double)(now_us - s->start_us) / 1e6, .received_bps = received_bps, .abr = s->abr};
}

void pvs_client_stats_roll(struct pvs_client_stats *s, int64_t now_us,
                           struct pvs_client_second *out)
{
    memset(out, 0, sizeof(*out));
    double secs = (double)(now_us - s->win_start_us) / 1e6;
    out->seconds = secs;
    if (secs > 0) {
        out->fps = (double)s->win_frames / secs;
        out->presented_fps = (double)(s->presented - s->win_presented_base) / secs;
        out->mbps = (double)s->win_bytes * 8 / secs / 1e6;
    }
    out->host_ms = median_ms(&s->window[PVS_CSTAGE_HOST]);
    out->network_ms = median_ms(&s->window[PVS_CSTAGE_NETWORK]);
    out->wait_ms = median_ms(&s->window[PVS_CSTAGE_WAIT]);
    out->decode_ms = median_ms(&s->window[PVS_CSTAGE_DECODE]);
    out->present_ms = median_ms(&s->window[PVS_CSTAGE_PRESENT]);
    out->windowed = s->windowed;
    out->g2g_ms = median_ms(&s->window[PVS_CSTAGE_G2G]);
    out->lost = s->frames_lost >= s->win_lost_base ? s->frames_lost - s->win_lost_base : 0;
    out->replaced = s->replaced - s->win_replaced_base;
    out->recovered = s->packets_recovered >= s->win_recovered_base
                         ? s->packets_recovered - s->win_recovered_base : 0;
    uint64_t all = s->win_frames + out->lost;
    out->loss_pct = all ? 100.0 * (double)out->lost / (double)all : 0;
    out->audio_on = s->audio_on;
    out->audio_ms = median_ms(&s->audio_window);
    out->av_offset_ms = out->audio_ms - out->g2g_ms; /* NAN when either is */
    if (!isnan(out->av_offset_ms)) {
        int64_t ns = (int64_t)(out->av_offset_ms * 1e6);
        pvs_stats_add(ns < 0 ? &s->av_early : &s->av_late, ns < 0 ? -ns : ns);
        pvs_stats_add(&s->av_abs, ns < 0 ? -ns : ns);
        s->av_audio_ms = out->audio_ms;
        s->av_video_ms = out->g2g_ms;
        s->av_seconds++;
    }

    out->abr_on = s->abr_on;
    out->abr = s->abr;
    if (s->abr_on)
        add_abr_point(s, now_us, out->mbps * 1e6);

    for (int i = 0; i < PVS_CSTAGE_COUNT; i++)
        pvs_stats_reset(&s->window[i]);
    pvs_stats_reset(&s->audio_window);
    s->win_start_us = now_us;
    s->win_frames = s->win_bytes = 0;
    s->win_lost_base = s->frames_lost;
    s->win_replaced_base = s->replaced;
    s->win_presented_base = s->presented;
    s->win_recovered_base = s->packets_recovered;
}

static const char *ms(double v, char *buf, size_t len)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f", v);
    return buf;
}

int pvs_client_stats_format_audio(const struct pvs_client_second *sec, char *buf, size_t len)
{
    if (!sec->audio_on)
        return snprintf(buf, len, "audio off");
    char av[32];
    if (isnan(sec->av_offset_ms))
        snprintf(av, sizeof(av), "A/V n/a");
    else
        snprintf(av, sizeof(av), "A/V %+.0f ms", sec->av_offset_ms);
    if (isnan(sec->audio_ms)) /* silence (nothing sent), or no clock offset yet */
        return snprintf(buf, len, "audio n/a | %s", av);
    return snprintf(buf, len, "audio %.0f ms | %s", sec->audio_ms, av);
}

int pvs_client_stats_format_abr(const struct pvs_client_second *sec, char *buf, size_t len)
{
    if (!sec->abr_on)
        return snprintf(buf, len, "abr off");
    char q[16];
    return snprintf(buf, len, "abr %.1f Mbit/s (est %.1f) q %s ms fec %d %%",
                    sec->abr.bitrate_bps / 1e6, sec->abr.estimate_bps / 1e6,
                    ms(sec->abr.queue_delay_ms, q, sizeof(q)), sec->abr.fec_percent);
}

int pvs_client_stats_format_second(const struct pvs_client_second *sec, char *buf, size_t len)
{
    char h[16], n[16], d[16], p[32] = "", pm[16], g[16], a[64], r[80];
    pvs_client_stats_format_audio(sec, a, sizeof(a));
    pvs_client_stats_format_abr(sec, r, sizeof(r));
    /* Say where glass to glass ends: headless it stops short of a display. */
    if (sec->windowed)
        snprintf(p, sizeof(p), " present %s", ms(sec->present_ms, pm, sizeof(pm)));
    return snprintf(buf, len,
                    "fps %.1f | %.2f Mbit/s | host %s net %s decode %s%s g2g %s ms (to %s) | "
                    "lost %llu (%.1f %%) | fec %llu | replaced %llu | %s | %s",
                    sec->fps, sec->mbps, ms(sec->host_ms, h, sizeof(h)),
                    ms(sec->network_ms, n, sizeof(n)), ms(sec->decode_ms, d, sizeof(d)), p,
                    ms(sec->g2g_ms, g, sizeof(g)), sec->windowed ? "shown" : "decode",
                    (unsigned long long)sec->lost, sec->loss_pct,
                    (unsigned long long)sec->recovered, (unsigned long long)sec->replaced, a, r);
}

void pvs_client_stats_print_summary(const struct pvs_client_stats *s, FILE *out)
{
    fprintf(out, "frames decoded %llu, lost %llu, decode errors %llu, keyframe requests %llu, "
                 "replaced before shown %llu, %.1f MB received\n",
            (unsigned long long)s->frames_decoded, (unsigned long long)s->frames_lost,
            (unsigned long long)s->decode_errors, (unsigned long long)s->keyframe_requests,
            (unsigned long long)s->replaced, (double)s->bytes / 1e6);
    if (s->windowed)
        fprintf(out, "frames shown %llu (vsync %s); glass to glass ends when the picture is "
                     "presented\n", (unsigned long long)s->presented, s->vsync ? "on" : "off");
    else
        fprintf(out, "headless: glass to glass ends when the picture is decoded (no present "
                     "stage)\n");
    if (s->audio_frames) {
        struct pvs_stats_summary a;
        pvs_stats_summarize(&s->audio_total, &a);
        fprintf(out, "audio: %llu frames played, %llu underruns, %llu concealed; ",
                (unsigned long long)s->audio_frames, (unsigned long long)s->audio_underruns,
                (unsigned long long)s->audio_concealed);
        if (a.count)
            fprintf(out, "capture -> heard p50 %.1f ms, p99 %.1f ms\n", a.p50_ms, a.p99_ms);
        else
            fprintf(out, "latency unavailable (no clock offset from the server)\n");
        if (s->av_abs.count)
            fprintf(out, "A/V offset (audio - video, per second): p50 %+.1f ms, p99 of |offset| "
                    "%.1f ms over %llu s\n", pvs_client_stats_av_quantile(s, 0.5),
                    (double)pvs_stats_quantile(&s->av_abs, 0.99) / 1e6,
                    (unsigned long long)s->av_abs.count);
    } else {
        fprintf(out, "audio: none played\n");
    }
    fprintf(out, "%-15s %8s %8s %8s %8s %8s\n", "stage", "frames", "p50 ms", "p95 ms", "p99 ms",
            "max ms");
    for (int i = 0; i < PVS_CSTAGE_COUNT; i++) {
        struct pvs_stats_summary sum;
        pvs_stats_summarize(&s->total[i], &sum);
        if (!sum.count) {
            const char *why = "";
            if (i == PVS_CSTAGE_PRESENT && !s->windowed)
                why = " (headless: nothing is presented)";
            else if (s->frames_decoded && (i == PVS_CSTAGE_NETWORK || i == PVS_CSTAGE_G2G))
                why = " (no clock offset from the server yet)";
            fprintf(out, "%-15s %8s  unavailable%s\n", stage_names[i], "0", why);
            continue;
        }
        fprintf(out, "%-15s %8llu %8.2f %8.2f %8.2f %8.2f\n", stage_names[i],
                (unsigned long long)sum.count, sum.p50_ms, sum.p95_ms, sum.p99_ms, sum.max_ms);
    }
}

static void json_summary(FILE *f, const char *key, const struct pvs_stats *st)
{
    struct pvs_stats_summary s;
    pvs_stats_summarize(st, &s);
    fprintf(f, "\"%s\":{", key);
    if (!s.count)
        fprintf(f, "\"p50_ms\":null,\"p95_ms\":null,\"p99_ms\":null,\"max_ms\":null,"
                   "\"mean_ms\":null,\"frames\":0}");
    else
        fprintf(f, "\"p50_ms\":%.4f,\"p95_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f,"
                   "\"mean_ms\":%.4f,\"frames\":%llu}", s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms,
                s.mean_ms, (unsigned long long)s.count);
}

/* A figure, or null when not measured. */
static void json_number(FILE *f, const char *key, double v)
{
    if (isnan(v))
        fprintf(f, "\"%s\":null", key);
    else
        fprintf(f, "\"%s\":%.3f", key, v);
}

static void json_abr_fields(FILE *f, const struct pvs_client_abr *a)
{
    fprintf(f, "\"estimate_bps\":%.0f,\"bitrate_bps\":%.0f,", a->estimate_bps, a->bitrate_bps);
    json_number(f, "queue_delay_ms", a->queue_delay_ms);
    fprintf(f, ",\"fec_percent\":%d", a->fec_percent);
}

static void json_abr(FILE *f, const struct pvs_client_stats *s)
{
    fprintf(f, ",\"abr\":");
    if (!s->abr_on) {
        fprintf(f, "null");
        return;
    }
    fputc('{', f);
    json_abr_fields(f, &s->abr);
    fprintf(f, ",\"changes\":%u,\"series\":[", s->abr.changes);
    for (size_t i = 0; i < s->abr_points; i++) {
        const struct pvs_client_abr_point *p = &s->abr_series[i];
        fprintf(f, "%s{\"t_s\":%.3f,\"received_bps\":%.0f,", i ? "," : "", p->t_s,
                p->received_bps);
        json_abr_fields(f, &p->abr);
        fputc('}', f);
    }
    fprintf(f, "]}");
}

int pvs_client_stats_write_json(const struct pvs_client_stats *s, FILE *f)
{
    fprintf(f, "{\"frames_decoded\":%llu,\"frames_lost\":%llu,\"keyframe_requests\":%llu,"
            "\"frames_stamped\":%llu,\"frames_presented\":%llu,",
            (unsigned long long)s->frames_decoded, (unsigned long long)s->frames_lost,
            (unsigned long long)s->keyframe_requests, (unsigned long long)s->frames_stamped,
            (unsigned long long)s->presented);
    json_summary(f, "glass_to_glass", &s->total[PVS_CSTAGE_G2G]);
    fprintf(f, ",\"stages\":{");
    for (int i = 0; i < PVS_CSTAGE_G2G; i++) {
        if (i)
            fputc(',', f);
        json_summary(f, stage_names[i], &s->total[i]);
    }
    /* After the stages: its values are stage names, which the benches'
     * and tests' lookups of the first "name" would take for the stage. */
    fprintf(f, "},\"glass_to_glass_ends\":\"%s\",\"present_vsync\":%s,\"audio\":",
            s->windowed ? "present" : "decode", !s->windowed ? "null" : s->vsync ? "true" : "false");
    if (!s->audio_frames) {
        fprintf(f, "null");
    } else {
        struct pvs_stats_summary a;
        pvs_stats_summarize(&s->audio_total, &a);
        if (a.count)
            fprintf(f, "{\"latency_ms\":{\"p50\":%.4f,\"p99\":%.4f}", a.p50_ms, a.p99_ms);
        else
            fprintf(f, "{\"latency_ms\":{\"p50\":null,\"p99\":null}");
        if (s->av_abs.count)
            fprintf(f, ",\"av_offset_ms\":{\"p50\":%.4f,\"p99\":%.4f}",
                    pvs_client_stats_av_quantile(s, 0.5),
                    (double)pvs_stats_quantile(&s->av_abs, 0.99) / 1e6);
        else
            fprintf(f, ",\"av_offset_ms\":{\"p50\":null,\"p99\":null}");
        fprintf(f, ",\"underruns\":%llu,\"concealed\":%llu}",
                (unsigned long long)s->audio_underruns, (unsigned long long)s->audio_concealed);
    }
    json_abr(f, s);
    fprintf(f, "}\n");
    return ferror(f) ? PVS_EIO : 0;
}

int pvs_client_stats_save_json(const struct pvs_client_stats *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        PVS_LOG_E("cannot write the statistics to %s: %s", path, strerror(errno));
        return PVS_EIO;
    }
    int rc = pvs_client_stats_write_json(s, f);
    if (fclose(f) != 0)
        rc = PVS_EIO;
    if (rc < 0)
        PVS_LOG_E("writing the statistics to %s failed", path);
    return rc;
}
