/* The server's media path for one client: an encoded frame goes through the
 * packetizer (shards and parity), SRTP, and the socket, paced, on the
 * calling thread (the video thread: no hand-off, no queue).
 *
 * Pacing. A frame's packets leave in bursts of at most `burst` datagrams
 * (one UDP GSO call each); burst j is not sent before
 *     start + (bytes before it) * 8 / pace_bps,
 * so a 4K keyframe of a megabyte reaches a 1 Gbit/s switch port as a stream
 * it can forward, not as one 20 Gbit/s spike that overflows its buffer.
 * Pacing restarts with each frame: a frame never waits for the one before.
 * What the rate control asks while frames leave (`live`) applies from the
 * next burst on, to the frame leaving too: a cap on the pace (the bursts
 * after it are due at the capped pace from then), and the epoch. A frame
 * posted under an older epoch (pvs_sender_set_epoch) is dropped, the rest
 * of the one leaving with it: the link shrank after it was encoded, and
 * what is not sent cannot overflow the link's queue (the caller sends a
 * keyframe next).
 *
 * Its own thread (`own_thread`). Pacing sleeps: at a pace of 4 x 60 Mbit/s
 * a 1080p frame takes 4 ms to leave, which on the video thread came out of
 * the encoder's interval (rate control on an open link showed 69 % of the
 * frames against 94 % unpaced on 2 cores). With its own thread the caller
 * packetizes and protects the frame, copies it into one of two buffers and
 * returns; the pacing thread sends the frames in order. A caller two frames
 * ahead waits for a buffer (the pacing is slower than the frames: the same
 * wait as on one thread, never a growing queue). */
#ifndef PVS_SENDER_H
#define PVS_SENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/platform/platform.h"
#include "net/packetizer.h"
#include "net/srtp.h"

/* 1 Gbit/s, the most common LAN link: pacing at the link's rate costs no
 * latency the link would not impose anyway, and keeps a keyframe's burst
 * from overflowing the switch port that feeds it. */
#define PVS_SENDER_DEFAULT_PACE_BPS 1000000000LL
#define PVS_SENDER_DEFAULT_BURST 16
#define PVS_SENDER_DEFAULT_SNDBUF (4 * 1024 * 1024)

/* Called when a frame's last datagram has left (on the pacing thread when
 * the sender has one): its number and encoded size as given to
 * pvs_sender_send, its datagram bytes, and when its first and last
 * datagrams left (pvs_time_ns). */
typedef void (*pvs_sender_sent_fn)(void *arg, uint32_t frame, uint32_t encoded, uint64_t wire_bytes,
                                   int64_t first_ns, int64_t last_ns);

/* What the rate control wants of the frames already posted, asked before
 * each burst (rate_ctl.h: pvs_rate_ctl_pace_cap, pvs_rate_ctl_shrinks). */
struct pvs_sender_live {
    int64_t pace_cap_bps;  /* pace at most this, the frame leaving too; 0: no cap */
    uint32_t epoch;        /* frames posted under another epoch are dropped */
};
typedef void (*pvs_sender_live_fn)(void *arg, struct pvs_sender_live *out);

struct pvs_sender_config {
    struct pvs_packetizer_config packetizer;
    int64_t pace_bps;     /* datagram bits per second within a frame; 0: no pacing */
    int burst;            /* datagrams per burst, 1..64; 0: the default */
    int sndbuf;           /* socket send buffer to ask for; 0: the default, -1: leave */
    int dscp;             /* 0..63 marks packets (46: Expedited Forwarding); -1: leave */
    bool own_thread;      /* pace on a thread of its own (above) */
    pvs_sender_sent_fn on_sent; /* may be NULL */
    pvs_sender_live_fn live;    /* may be NULL */
    void *on_sent_arg;    /* the argument of both */
};

struct pvs_sender_stats {
    uint64_t frames;
    uint64_t packets;         /* datagrams sent */
    uint64_t parity_packets;  /* of which parity */
    uint64_t bytes;           /* UDP payload bytes sent */
    uint64_t dropped;         /* datagrams not sent: the socket buffer stayed full */
    uint64_t flushed_frames;  /* frames dropped for a new epoch, whole or in part */
    uint64_t flushed_packets; /* ... their datagrams not sent */
    int64_t last_frame_ns;    /* first to last datagram of the last frame */
    uint64_t last_frame_bytes;/* datagram bytes of the last frame */
};

struct pvs_sender;

/* Sends to `to` through `sock` (borrowed: the caller opened it and closes it
 * after the sender). `key` is this direction's SRTP key from the handshake.
 * Returns 0, PVS_EINVAL for a bad configuration, or another negative code. */
int pvs_sender_open(struct pvs_sender **out, pvs_socket sock, const struct pvs_addr *to,
                    const uint8_t key[PVS_SRTP_KEY_BYTES], const struct pvs_sender_config *cfg);
void pvs_sender_close(struct pvs_sender **s);

/* Packetizes, protects, paces and sends one frame. `host_us` (capture to
 * now) goes in the media header. *first_sent_ns, when not NULL, gets the time
 * the frame's first datagram left (0 with its own thread, where it has not
 * left yet: on_sent says). Returns 0, or a negative code when the frame
 * could not be packetized or the socket failed (with its own thread: a
 * failure of an earlier frame's sending). Datagrams that found the socket
 * buffer full for a whole frame interval are dropped and counted, not an
 * error. */
int pvs_sender_send(struct pvs_sender *s, const struct pvs_packet *frame, uint32_t host_us,
                    int64_t *first_sent_ns);

/* The rate control's settings, from the next frame on: the pacing rate
 * (bits per second; 0: no pacing), the parity percent (0..100) and the
 * least parity shards per block (0..16). Return 0 or PVS_EINVAL. */
int pvs_sender_set_pace(struct pvs_sender *s, int64_t pace_bps);
int pvs_sender_set_fec(struct pvs_sender *s, int fec_percent, int min_parity);

/* The epoch of the frames posted from now on (the caller's thread). */
int pvs_sender_set_epoch(struct pvs_sender *s, uint32_t epoch);

/* Safe from any thread. */
void pvs_sender_get_stats(struct pvs_sender *s, struct pvs_sender_stats *out);

#endif
