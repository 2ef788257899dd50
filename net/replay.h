/* Replays encoded frames through the whole media path over loopback, both
 * ends in this process: a sender thread paces frames at the frame rate
 * through packetizer -> FEC -> SRTP -> UDP, a receiver thread takes them
 * through UDP -> (loss simulator) -> SRTP -> reassembly and checks every
 * frame that comes out against what was sent, byte for byte. The keys come
 * from a real handshake. For pvstream-bench net and the transport's tests:
 * real sockets, real crypto, real FEC, no encoder in the loop. */
#ifndef PVS_REPLAY_H
#define PVS_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/stats.h"
#include "net/receiver.h"
#include "net/sender.h"

struct pvs_replay_config {
    const struct pvs_packet *frames; /* the clip; frames[0] must be a keyframe */
    int frame_count;
    int fps;                         /* 1..1000 */
    uint64_t total_frames;           /* sent in all, looping over the clip */
    struct pvs_sender_config sender; /* SSRC and sequence start are picked here */
    struct pvs_receiver_config receiver;
    /* A keyframe request makes the next frame sent the clip's frame 0 (the
     * keyframe), as a server would force an IDR. */
    bool honour_keyframe_requests;
    bool progress;                   /* on stderr, when it is a terminal */
};

struct pvs_replay_result {
    uint64_t frames_sent;
    uint64_t frames_intact;          /* came out, equal to what was sent */
    uint64_t frames_recovered;       /* of those, FEC rebuilt part of them */
    uint64_t frames_lost;            /* sent but never came out intact */
    uint64_t frames_mismatched;      /* came out different: must be 0 */
    uint64_t keyframe_requests;
    uint64_t late_sends;             /* frames the sender started after their slot */
    uint64_t packets_sent;
    uint64_t packets_lost;           /* sent but never given to SRTP */
    struct pvs_stats latency;        /* first datagram sent -> frame complete */
    double seconds;                  /* wall time of the sending */
    double sender_cpu_pct;           /* of one core */
    double receiver_cpu_pct;
    bool gso;
    struct pvs_sender_stats tx;
    struct pvs_receiver_stats rx;
};

/* Runs the replay to the end. Returns 0 (the figures say how it went), or a
 * negative code when it could not run at all (sockets, threads, a bad
 * configuration). */
int pvs_replay_run(const struct pvs_replay_config *cfg, struct pvs_replay_result *out);

#endif
