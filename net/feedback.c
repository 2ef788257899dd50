/* FEEDBACK messages from arrival records (net/feedback.h). */
#include "net/feedback.h"

#include <string.h>

void pvs_feedback_add(struct pvs_feedback_queue *fq, const struct pvs_frame_arrival *rec, int n,
                      uint64_t packets_received, uint64_t packets_lost)
{
    if (!fq)
        return;
    for (int i = 0; rec && i < n; i++) {
        int at = (fq->head + fq->count) % PVS_FEEDBACK_QUEUE;
        if (fq->count == PVS_FEEDBACK_QUEUE) {
            fq->head = (fq->head + 1) % PVS_FEEDBACK_QUEUE;
            fq->overwritten++;
        } else {
            fq->count++;
        }
        fq->q[at] = rec[i];
    }
    /* The wire carries the low 32 bits; the server takes differences. */
    fq->packets_received = (uint32_t)packets_received;
    fq->packets_lost = (uint32_t)packets_lost;
}

/* t after base, in the 32 bits a record has (a message spans far less). */
static uint32_t offset(int64_t t, int64_t base)
{
    int64_t d = t - base;
    return d < 0 ? 0 : d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

void pvs_feedback_set_progress(struct pvs_feedback_queue *fq, const struct pvs_frame_arrival *p,
                               int64_t now_us)
{
    if (!fq)
        return;
    fq->have_progress = p != NULL;
    if (!p)
        return;
    if (!fq->progress_known || fq->progress.frame != p->frame) {
        fq->progress_known = true;
        fq->progress_since_us = now_us;
    }
    fq->progress = *p;
}

bool pvs_feedback_take_late_progress(struct pvs_feedback_queue *fq, int64_t now_us,
                                     int64_t late_us, struct pvs_ctl_feedback *out)
{
    if (!fq || !out || !fq->have_progress || now_us - fq->progress_since_us < late_us)
        return false;
    int count = fq->count;
    fq->count = 0; /* the records wait for the regular message */
    bool took = pvs_feedback_take(fq, out);
    fq->count = count;
    return took;
}

bool pvs_feedback_take(struct pvs_feedback_queue *fq, struct pvs_ctl_feedback *out)
{
    if (!fq || !out || (fq->count == 0 && !fq->have_progress))
        return false;
    memset(out, 0, sizeof(*out));
    int most = fq->have_progress ? PVS_CTL_FEEDBACK_MAX - 1 : PVS_CTL_FEEDBACK_MAX;
    int n = fq->count < most ? fq->count : most;
    int64_t base = n > 0 ? fq->q[fq->head].first_us : fq->progress.first_us;
    if (fq->have_progress && fq->progress.first_us < base)
        base = fq->progress.first_us;
    for (int i = 1; i < n; i++) {
        int64_t t = fq->q[(fq->head + i) % PVS_FEEDBACK_QUEUE].first_us;
        if (t < base)
            base = t;
    }
    out->base_us = (uint64_t)base;
    out->packets_received = fq->packets_received;
    out->packets_lost = fq->packets_lost;
    out->count = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        const struct pvs_frame_arrival *a = &fq->q[fq->head];
        uint32_t first = offset(a->first_us, base), last = offset(a->last_us, base);
        out->rec[i] = (struct pvs_ctl_feedback_record){
            .frame = a->frame, .first_us = first, .last_us = last < first ? first : last,
            .bytes = a->bytes, .lost = a->lost, .repaired = a->repaired,
        };
        fq->head = (fq->head + 1) % PVS_FEEDBACK_QUEUE;
        fq->count--;
    }
    if (fq->have_progress) {
        const struct pvs_frame_arrival *p = &fq->progress;
        uint32_t first = offset(p->first_us, base), latest = offset(p->last_us, base);
        out->flags = PVS_CTL_FEEDBACK_PROGRESS;
        out->progress = (struct pvs_ctl_feedback_progress){
            .frame = p->frame, .first_us = first, .latest_us = latest < first ? first : latest,
            .bytes = p->bytes,
        };
        fq->have_progress = false;
    }
    return true;
}
