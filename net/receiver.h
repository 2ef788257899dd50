/* The client's media path: datagrams from the socket (in batches), through
 * SRTP and the reassembly, out as complete frames in order, on the calling
 * thread (the client's receive/decode thread).
 *
 * An optional loss simulator (net/losssim.h) sits between the socket and
 * SRTP, for tests and benchmarks only. */
#ifndef PVS_RECEIVER_H
#define PVS_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/platform/platform.h"
#include "net/losssim.h"
#include "net/reassembly.h"
#include "net/srtp.h"

#define PVS_RECEIVER_DEFAULT_RCVBUF (8 * 1024 * 1024)

struct pvs_receiver_config {
    struct pvs_reassembly_config reassembly;
    int datagram_size;    /* the largest datagram to expect; 0: 1400 */
    int rcvbuf;           /* socket receive buffer to ask for; 0: the default, -1: leave */
    const char *losssim;  /* loss simulator settings ("loss=5,seed=1"); NULL or "": off */
};

struct pvs_receiver_stats {
    uint64_t datagrams;       /* from the socket */
    uint64_t bytes;
    struct pvs_losssim_stats sim; /* the loss simulator's, all zero when off */
    struct pvs_srtp_stats srtp;
    struct pvs_reassembly_stats frames;
    struct pvs_srtp_stats audio_srtp; /* all zero without audio */
};

/* Called on the receiving thread with each audio packet that passed SRTP:
 * pkt[len] is the decrypted RTP packet (valid during the call only),
 * arrival_ns when it came off the socket (pvs_time_ns()). */
typedef void (*pvs_receiver_audio_fn)(void *ctx, const uint8_t *pkt, size_t len,
                                      int64_t arrival_ns);

struct pvs_receiver;

/* Receives on `sock` (borrowed). Returns 0, PVS_ECONFIG for bad loss
 * simulator settings, PVS_EINVAL, or another negative code. */
int pvs_receiver_open(struct pvs_receiver **out, pvs_socket sock,
                      const uint8_t key[PVS_SRTP_KEY_BYTES], uint32_t ssrc,
                      const struct pvs_receiver_config *cfg);
void pvs_receiver_close(struct pvs_receiver **r);

/* Sends the packets of a second SSRC, the session's audio (STREAM's audio
 * SSRC, docs/protocol.md), through their own SRTP context to `fn` instead
 * of the video reassembly. Call before the first pvs_receiver_next; once.
 * Returns 0, PVS_EINVAL (ssrc 0 or the video's, a second call) or an
 * SRTP error. */
int pvs_receiver_set_audio(struct pvs_receiver *r, const uint8_t key[PVS_SRTP_KEY_BYTES],
                           uint32_t ssrc, pvs_receiver_audio_fn fn, void *ctx);

/* Waits up to timeout_ms (0: do not wait) for the next complete frame.
 * Returns 1 with *out filled (valid until the next call), 0 when none came
 * in time, or a negative code when the socket failed. */
int pvs_receiver_next(struct pvs_receiver *r, int timeout_ms, struct pvs_rframe *out);

/* True once after a frame was lost: send KEYFRAME_REQUEST now. */
bool pvs_receiver_want_keyframe(struct pvs_receiver *r);

/* Moves up to max frame arrival records (net/reassembly.h) into out;
 * returns how many. The receive thread calls it after pvs_receiver_next. */
int pvs_receiver_take_arrivals(struct pvs_receiver *r, struct pvs_frame_arrival *out, int max);
/* pvs_reassembly_progress of the receiver's reassembly. */
bool pvs_receiver_progress(const struct pvs_receiver *r, struct pvs_frame_arrival *out);

void pvs_receiver_get_stats(const struct pvs_receiver *r, struct pvs_receiver_stats *out);

#endif
