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
};

/* Adds n records (oldest first) and the receiver's counts since the
 * session began. */
void pvs_feedback_add(struct pvs_feedback_queue *fq, const struct pvs_frame_arrival *rec, int n,
                      uint64_t packets_received, uint64_t packets_lost);

/* The newest frame still arriving (pvs_reassembly_progress), or NULL when
 * none is: sent with the next message, once. */
void pvs_feedback_set_progress(struct pvs_feedback_queue *fq, const struct pvs_frame_arrival *p);

/* Fills *out with the oldest records (at most PVS_CTL_FEEDBACK_MAX, one
 * less with a progress) and removes them, with the progress when one is
 * set. Returns false when there is neither. */
bool pvs_feedback_take(struct pvs_feedback_queue *fq, struct pvs_ctl_feedback *out);

#endif
