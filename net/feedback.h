/* The client's FEEDBACK messages (docs/protocol.md): frame arrival records
 * from the reassembly, gathered until the next message and cut into
 * messages of at most PVS_CTL_FEEDBACK_MAX records. No I/O, no lock: the
 * owner serializes the receive thread's adds and the sender's takes. */
#ifndef PVS_FEEDBACK_H
#define PVS_FEEDBACK_H

#include <stdbool.h>
#include <stdint.h>

#include "net/control_msg.h"
#include "net/reassembly.h"

#define PVS_FEEDBACK_QUEUE 64    /* records held; the oldest go when more come */

struct pvs_feedback_queue {
    struct pvs_frame_arrival q[PVS_FEEDBACK_QUEUE];
    int head, count;
    uint32_t packets_received, packets_lost;  /* the latest counts */
    uint64_t overwritten;                     /* records lost to a full queue */
    bool have_progress;                       /* the newest frame still arriving */
    struct pvs_frame_arrival progress;
    bool progress_known;                      /* progress_since_us is for progress.frame */
    int64_t progress_since_us;                /* when that frame was first in progress */
};

/* Adds n records (oldest first) and the receiver's counts since the
 * session began. */
void pvs_feedback_add(struct pvs_feedback_queue *fq, const struct pvs_frame_arrival *rec, int n,
                      uint64_t packets_received, uint64_t packets_lost);

/* The newest frame still arriving (pvs_reassembly_progress), or NULL when
 * none is: sent with the next message, once. now_us (the caller's clock)
 * dates a frame seen in progress for the first time. */
void pvs_feedback_set_progress(struct pvs_feedback_queue *fq, const struct pvs_frame_arrival *p,
                               int64_t now_us);

/* Fills *out with the oldest records (at most PVS_CTL_FEEDBACK_MAX, one
 * less with a progress) and removes them, with the progress when one is
 * set. Returns false when there is neither. */
bool pvs_feedback_take(struct pvs_feedback_queue *fq, struct pvs_ctl_feedback *out);

/* Between the regular messages: a message of the progress alone (no
 * records) when the frame still arriving has been in progress for late_us
 * or more at now_us, which a frame held at a bottleneck that just shrank
 * is; the regular message would tell it up to its interval later. Removes
 * the progress like pvs_feedback_take. Returns false when none is due. */
bool pvs_feedback_take_late_progress(struct pvs_feedback_queue *fq, int64_t now_us,
                                     int64_t late_us, struct pvs_ctl_feedback *out);

#endif
