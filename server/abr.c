/* Adaptive bitrate on the server (server/abr.h). */
#include "server/abr.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "encode/encoder.h"
#include "net/rate_ctl.h"
#include "net/sender.h"

struct pvs_server_abr {
    pvs_mutex mu;
    struct pvs_rate_ctl *ctl;         /* under mu */
    struct pvs_rate_decision dec;     /* the latest, under mu */
    bool have_dec;
    /* video thread only */
    int64_t applied_bitrate;          /* 0: apply the next decision's */
    atomic_bool fixed;                /* the encoder cannot change in place */
    _Atomic int64_t pace_cap;         /* pvs_rate_ctl_pace_cap, as of the latest call */
    atomic_uint shrinks;              /* pvs_rate_ctl_shrinks, the same */
    int64_t ceiling;
    FILE *trace;
};

int pvs_server_abr_open(struct pvs_server_abr **out, const struct pvs_server_abr_config *cfg)
{
    if (!out || !cfg)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_rate_ctl_config rc = {
        .ceiling_bps = cfg->ceiling_bps, .floor_bps = cfg->floor_bps, .fps = cfg->fps,
        .fec_percent = cfg->fec_percent, .fec_min_parity = cfg->fec_min_parity,
        .pace_max_bps = cfg->pace_max_bps, .datagram_bytes = cfg->datagram_bytes,
    };
    if (rc.floor_bps > rc.ceiling_bps) {
        PVS_LOG_W("abr: --min-bitrate is above --bitrate: using --bitrate for both");
        rc.floor_bps = rc.ceiling_bps;
    }
    struct pvs_server_abr *a = calloc(1, sizeof(*a));
    if (!a)
        return PVS_ENOMEM;
    a->ceiling = cfg->ceiling_bps;
    int err = pvs_rate_ctl_open(&a->ctl, &rc);
    if (err) {
        free(a);
        return err;
    }
    if (cfg->trace && cfg->trace[0]) {
        a->trace = fopen(cfg->trace, "w");
        if (!a->trace) {
            PVS_LOG_E("abr: cannot create the trace file %s", cfg->trace);
            pvs_rate_ctl_close(&a->ctl);
            free(a);
            return PVS_EIO;
        }
        fprintf(a->trace, "time_ms,state,bitrate_bps,wire_bps,estimate_bps,delivered_bps,"
                          "queue_delay_ms,loss_pct,fec_percent,pace_bps,fec_min_parity\n");
    }
    pvs_mutex_init(&a->mu);
    *out = a;
    return 0;
}

void pvs_server_abr_close(struct pvs_server_abr **pa)
{
    if (!pa || !*pa)
        return;
    struct pvs_server_abr *a = *pa;
    if (a->trace)
        fclose(a->trace);
    pvs_rate_ctl_close(&a->ctl);
    pvs_mutex_destroy(&a->mu);
    free(a);
    *pa = NULL;
}

/* Under mu: what the pacing thread reads without it. */
static void publish_live(struct pvs_server_abr *a)
{
    atomic_store(&a->pace_cap, pvs_rate_ctl_pace_cap(a->ctl));
    atomic_store(&a->shrinks, pvs_rate_ctl_shrinks(a->ctl));
}

static void trace_decision(struct pvs_server_abr *a, const struct pvs_rate_decision *d)
{
    PVS_LOG_D("abr: %s: bitrate %.2f Mbit/s (wire %.2f), estimate %.2f, queue %.1f ms, "
              "loss %.2f %%, FEC %d %%, pace %.1f Mbit/s", d->state, d->bitrate_bps / 1e6,
              d->wire_bps / 1e6, d->estimate_bps / 1e6, d->queue_delay_us / 1e3,
              d->loss * 100, d->fec_percent, d->pace_bps / 1e6);
    if (!a->trace)
        return;
    fprintf(a->trace, "%lld,%s,%lld,%lld,%lld,%lld,%.2f,%.3f,%d,%lld,%d\n",
            (long long)(pvs_time_us() / 1000), d->state, (long long)d->bitrate_bps,
            (long long)d->wire_bps, (long long)d->estimate_bps, (long long)d->delivered_bps,
            d->queue_delay_us / 1e3, d->loss * 100, d->fec_percent, (long long)d->pace_bps,
            d->fec_min_parity);
    fflush(a->trace);
}

static void apply_bitrate(struct pvs_server_abr *a, struct pvs_encoder *enc, int64_t bitrate)
{
    if (a->fixed || bitrate == a->applied_bitrate)
        return;
    int err = pvs_encoder_set_bitrate(enc, bitrate);
    if (err == PVS_ENOTSUP) {
        /* Re-opening means a keyframe, a burst the link can carry least
         * when it has just shrunk: pacing and FEC adapt, the bitrate not. */
        PVS_LOG_W("abr: %s cannot change its bitrate without re-opening: it stays at "
                  "%.1f Mbit/s (pacing and FEC still adapt)", pvs_encoder_name(enc),
                  a->ceiling / 1e6);
        a->fixed = true;
        return;
    }
    if (err)
        PVS_LOG_W("abr: cannot set the bitrate to %lld: %s", (long long)bitrate,
                  pvs_strerror(err));
    else
        a->applied_bitrate = bitrate;
}

void pvs_server_abr_before_frame(struct pvs_server_abr *a, struct pvs_encoder *enc,
                                 struct pvs_sender *tx, bool reopened)
{
    if (!a)
        return;
    struct pvs_rate_decision d;
    pvs_mutex_lock(&a->mu);
    uint32_t rebases = a->dec.rebases, shrinks = a->dec.shrinks;
    int64_t wire = a->dec.wire_bps;
    bool changed = pvs_rate_ctl_update(a->ctl, pvs_time_us(), &d);
    publish_live(a);
    a->dec = d;
    a->have_dec = true;
    pvs_mutex_unlock(&a->mu);
    if (d.rebases != rebases)
        PVS_LOG_I("abr: the delay stood over its least for %d s without draining: taken as "
                  "the path's own from now on", REBASE_S);
    if (d.shrinks != shrinks)
        PVS_LOG_I("abr: the link shrank to %.1f Mbit/s (sending %.1f, queue %.0f ms): the "
                  "frames not sent yet are dropped, a keyframe follows", d.delivered_bps / 1e6,
                  wire / 1e6, d.queue_delay_us / 1e3);
    if (reopened) {
        a->applied_bitrate = 0;
        a->fixed = false;
        changed = true;
    }
    if (!changed)
        return;
    apply_bitrate(a, enc, d.bitrate_bps);
    pvs_sender_set_pace(tx, d.pace_bps);
    pvs_sender_set_fec(tx, d.fec_percent, d.fec_min_parity);
    trace_decision(a, &d);
}

bool pvs_server_abr_hold_keyframe(struct pvs_server_abr *a)
{
    if (!a)
        return false;
    pvs_mutex_lock(&a->mu);
    bool hold = a->have_dec && a->dec.hold_keyframe;
    pvs_mutex_unlock(&a->mu);
    return hold;
}

void pvs_server_abr_sent(void *arg, uint32_t frame, uint32_t encoded, uint64_t wire_bytes,
                         int64_t first_ns, int64_t last_ns)
{
    struct pvs_server_abr *a = arg;
    if (!a)
        return;
    uint32_t wire = (uint32_t)(wire_bytes > UINT32_MAX ? UINT32_MAX : wire_bytes);
    pvs_mutex_lock(&a->mu);
    pvs_rate_ctl_on_sent(a->ctl, frame, encoded, wire, first_ns / 1000, last_ns / 1000);
    pvs_mutex_unlock(&a->mu);
}

void pvs_server_abr_feedback(struct pvs_server_abr *a, const struct pvs_ctl_feedback *fb)
{
    if (!a || !fb)
        return;
    struct pvs_rate_arrival rec[PVS_CTL_FEEDBACK_MAX];
    int n = fb->count < PVS_CTL_FEEDBACK_MAX ? fb->count : PVS_CTL_FEEDBACK_MAX;
    for (int i = 0; i < n; i++) {
        const struct pvs_ctl_feedback_record *r = &fb->rec[i];
        rec[i] = (struct pvs_rate_arrival){
            .frame = r->frame, .first_us = (int64_t)(fb->base_us + r->first_us),
            .arrival_us = (int64_t)(fb->base_us + r->last_us), .bytes = r->bytes,
            .lost = r->lost, .repaired = r->repaired,
        };
    }
    struct pvs_rate_progress prog = {
        .frame = fb->progress.frame, .first_us = (int64_t)(fb->base_us + fb->progress.first_us),
        .latest_us = (int64_t)(fb->base_us + fb->progress.latest_us), .bytes = fb->progress.bytes,
    };
    int64_t now = pvs_time_us();
    pvs_mutex_lock(&a->mu);
    pvs_rate_ctl_on_feedback(a->ctl, now, fb->packets_received, fb->packets_lost, rec, n);
    if (fb->flags & PVS_CTL_FEEDBACK_PROGRESS)
        pvs_rate_ctl_on_progress(a->ctl, now, &prog);
    publish_live(a);
    pvs_mutex_unlock(&a->mu);
}

void pvs_server_abr_live(void *arg, struct pvs_sender_live *out)
{
    struct pvs_server_abr *a = arg;
    if (!a || !out)
        return;
    out->pace_cap_bps = atomic_load(&a->pace_cap);
    out->epoch = atomic_load(&a->shrinks);
}

uint32_t pvs_server_abr_shrinks(struct pvs_server_abr *a)
{
    if (!a)
        return 0;
    pvs_mutex_lock(&a->mu);
    uint32_t n = a->dec.shrinks;
    pvs_mutex_unlock(&a->mu);
    return n;
}

static uint32_t u32(int64_t v)
{
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void pvs_server_abr_get_rate(struct pvs_server_abr *a, struct pvs_ctl_rate *out)
{
    if (!a || !out)
        return;
    pvs_mutex_lock(&a->mu);
    struct pvs_rate_decision d = a->dec;
    bool have = a->have_dec;
    pvs_mutex_unlock(&a->mu);
    *out = (struct pvs_ctl_rate){
        .estimate_bps = u32(d.estimate_bps),
        .bitrate_bps = u32(a->fixed ? a->ceiling : d.bitrate_bps),
        .pace_bps = u32(d.pace_bps),
        .queue_delay_us = have && d.queue_delay_us >= 0 ? (uint32_t)d.queue_delay_us
                                                        : PVS_CTL_RATE_NO_QUEUE,
        .fec_percent = (uint8_t)d.fec_percent,
        .flags = PVS_CTL_RATE_ABR,
        .changes = d.changes,
    };
}
