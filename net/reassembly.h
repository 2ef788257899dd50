/* Receiver side: packets (already through SRTP) back into frames, with FEC
 * recovery, reordering and duplicates tolerated, a deadline per frame, and
 * no frame handed on whose reference was lost (docs/protocol.md, "Receiver
 * rules").
 *
 * Single-threaded: one receive thread pushes packets, pops frames and polls
 * deadlines. Memory: a small ring of frames in flight, each buffer grown to
 * the largest frame seen and reused; a packet claiming a frame larger than
 * max_frame is dropped. */
#ifndef PVS_REASSEMBLY_H
#define PVS_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pvs_reassembly_config {
    int fps;              /* the stream's frame rate, for the deadline; 1..1000 */
    size_t max_frame;     /* largest frame accepted; 0: PVS_MEDIA_MAX_FRAME */
    uint32_t ssrc;        /* accept only this SSRC; 0: any */
};

/* A complete frame, in frame order. `data` stays valid until the next call
 * to pvs_reassembly_push/pop/poll. */
struct pvs_rframe {
    const uint8_t *data;
    size_t size;
    uint32_t frame;
    bool keyframe;
    bool recovered;       /* FEC rebuilt at least one data shard */
    uint32_t host_us;
    uint64_t capture_us;  /* server's clock */
    int64_t first_us;     /* receiver's clock: first packet of the frame in */
    int64_t complete_us;  /* receiver's clock: the frame became complete */
};

/* How one frame arrived, for the server's rate control (the FEEDBACK
 * message): recorded when the frame settles, handed on, skipped or
 * dropped. Gaps (frames of which nothing came) have none. */
struct pvs_frame_arrival {
    uint32_t frame;
    int64_t first_us;     /* receiver's clock: its first packet in */
    int64_t last_us;      /* its last packet in, before it settled */
    uint32_t bytes;       /* datagram bytes of it received */
    uint16_t lost;        /* packets missing below the highest index seen per
                             block (all missing ones of a dropped frame) */
    uint16_t repaired;    /* data shards rebuilt by FEC */
};

#define PVS_REASSEMBLY_ARRIVALS 64 /* kept until taken; older ones are overwritten */

struct pvs_reassembly_stats {
    uint64_t packets;         /* accepted into a frame */
    uint64_t duplicates;
    uint64_t malformed;       /* bad header, or disagreeing with its frame */
    uint64_t late;            /* for a frame already handed on or dropped */
    uint64_t recovered;       /* data shards rebuilt by FEC */
    uint64_t lost;            /* data shards never in nor rebuilt, of dropped frames */
    uint64_t seq_gaps;        /* RTP sequence numbers never seen (loss estimate) */
    uint32_t frames_complete;
    uint32_t frames_recovered;/* complete thanks to FEC */
    uint32_t frames_dropped;  /* incomplete at the deadline */
    uint32_t frames_skipped;  /* complete but after a dropped one, before a keyframe */
    uint32_t keyframe_requests;
    uint32_t jitter_us;       /* RFC 3550 interarrival jitter of frames */
};

struct pvs_reassembly;

int pvs_reassembly_open(struct pvs_reassembly **out, const struct pvs_reassembly_config *cfg);
void pvs_reassembly_close(struct pvs_reassembly **r);

/* Feeds one decrypted packet received at now_us (pvs_time_us()). Returns 0
 * when it was used or was a harmless duplicate, PVS_EBADDATA when it was
 * dropped (counted in the stats). */
int pvs_reassembly_push(struct pvs_reassembly *r, const uint8_t *pkt, size_t len,
                        int64_t now_us);

/* Hands on the next frame in order when it is complete: returns 1 and fills
 * *out, or 0 when none is ready. Applies deadlines first. */
int pvs_reassembly_pop(struct pvs_reassembly *r, int64_t now_us, struct pvs_rframe *out);

/* Applies deadlines at now_us and returns when the next one falls due (for
 * the receive loop's wait), or INT64_MAX when no frame is in flight. */
int64_t pvs_reassembly_poll(struct pvs_reassembly *r, int64_t now_us);

/* True once after a frame was dropped (ask the server for a keyframe now);
 * reading clears it. Also set when a frame is skipped before any keyframe
 * came (the stream's first keyframe was lost, or this client joined late). */
bool pvs_reassembly_want_keyframe(struct pvs_reassembly *r);

/* Moves up to max arrival records, oldest first, into out. Returns how
 * many. */
int pvs_reassembly_take_arrivals(struct pvs_reassembly *r, struct pvs_frame_arrival *out, int max);

/* The newest frame still arriving (not settled, not complete): its number,
 * first and latest packet in (last_us) and bytes so far, lost and repaired
 * 0. Returns true with *out filled, false when none is. */
bool pvs_reassembly_progress(const struct pvs_reassembly *r, struct pvs_frame_arrival *out);

void pvs_reassembly_get_stats(const struct pvs_reassembly *r, struct pvs_reassembly_stats *out);

#endif
