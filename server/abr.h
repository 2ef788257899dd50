/* The server's side of adaptive bitrate (docs/abr.md): net/rate_ctl.h's
 * controller between the two threads that feed it, and what its decisions
 * do to the encoder and the sender.
 *
 * Threads: the video thread calls pvs_server_abr_before_frame and
 * pvs_server_abr_sent around each frame; the control thread hands over
 * FEEDBACK and reads the state for RATE. A lock inside serializes them;
 * nothing here blocks on I/O except the trace file's writes, on the video
 * thread, a line per decision. */
#ifndef PVS_SERVER_ABR_H
#define PVS_SERVER_ABR_H

#include <stdbool.h>
#include <stdint.h>

#include "net/control_msg.h"

struct pvs_sender_live;

struct pvs_encoder;
struct pvs_sender;
struct pvs_server_abr;

struct pvs_server_abr_config {
    int64_t ceiling_bps;       /* --bitrate (or its default for the size) */
    int64_t floor_bps;         /* --min-bitrate; 0: the controller's default */
    int fps;
    int fec_percent;           /* --fec-percent: the least parity */
    int fec_min_parity;        /* --fec-min: the least parity shards per block */
    int datagram_bytes;        /* --datagram */
    int64_t pace_max_bps;      /* --pace; 0: no limit */
    const char *trace;         /* NULL or "": no trace; else a CSV file (replaced) */
};

/* Returns 0, PVS_EINVAL, PVS_ENOMEM, or PVS_EIO when the trace file cannot
 * be created (logged). */
int pvs_server_abr_open(struct pvs_server_abr **out, const struct pvs_server_abr_config *cfg);
void pvs_server_abr_close(struct pvs_server_abr **a);

/* Video thread, before frame `frame` is encoded: takes the controller's
 * decision and applies what changed (pvs_encoder_set_bitrate, the sender's
 * pacing and FEC). An encoder that cannot change its bitrate in place
 * (PVS_ENOTSUP) stays at the ceiling, said once; pacing and FEC still
 * follow. `reopened`: enc is new, so its bitrate is applied again. */
void pvs_server_abr_before_frame(struct pvs_server_abr *a, struct pvs_encoder *enc,
                                 struct pvs_sender *tx, bool reopened);

/* Video thread, after pvs_server_abr_before_frame: true while a keyframe
 * is better held back (the latest decision's hold_keyframe, docs/abr.md). */
bool pvs_server_abr_hold_keyframe(struct pvs_server_abr *a);

/* The sender's pvs_sender_live_fn (arg: the pvs_server_abr, or NULL): the
 * rate control's cap on pacing and its count of shrinks, as of the latest
 * decision or FEEDBACK (net/rate_ctl.h, pvs_rate_ctl_pace_cap). Any
 * thread. */
void pvs_server_abr_live(void *arg, struct pvs_sender_live *out);

/* Video thread, after pvs_server_abr_before_frame: the shrinks its
 * decision counted. A new count means: tell the sender
 * (pvs_sender_set_epoch) and make this frame, at the decision's bitrate, a
 * keyframe. The sender drops frames posted under an older count as soon as
 * a FEEDBACK shows the shrink, before any decision does. */
uint32_t pvs_server_abr_shrinks(struct pvs_server_abr *a);

/* The sender's pvs_sender_sent_fn (arg: the pvs_server_abr, or NULL when
 * rate control is off): a frame's last datagram left (net/sender.h). */
void pvs_server_abr_sent(void *arg, uint32_t frame, uint32_t encoded, uint64_t wire_bytes,
                         int64_t first_ns, int64_t last_ns);

/* Control thread: a FEEDBACK message came. */
void pvs_server_abr_feedback(struct pvs_server_abr *a, const struct pvs_ctl_feedback *fb);

/* Control thread: the state, for RATE. */
void pvs_server_abr_get_rate(struct pvs_server_abr *a, struct pvs_ctl_rate *out);

#endif
