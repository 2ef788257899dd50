/* The server's media path for one client: an encoded frame goes through the
 * packetizer (shards and parity), SRTP, and the socket, paced, on the
 * calling thread (the video thread: no hand-off, no queue).
 *
 * Pacing. A frame's packets leave in bursts of at most `burst` datagrams
 * (one UDP GSO call each); burst j is not sent before
 *     start + (bytes before it) * 8 / pace_bps,
 * so a 4K keyframe of a megabyte reaches a 1 Gbit/s switch port as a stream
 * it can forward, not as one 20 Gbit/s spike that overflows its buffer.
 * Pacing restarts with each frame: a frame never waits for the one before. */
#ifndef PVS_SENDER_H
#define PVS_SENDER_H

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

struct pvs_sender_config {
    struct pvs_packetizer_config packetizer;
    int64_t pace_bps;     /* datagram bits per second within a frame; 0: no pacing */
    int burst;            /* datagrams per burst, 1..64; 0: the default */
    int sndbuf;           /* socket send buffer to ask for; 0: the default, -1: leave */
    int dscp;             /* 0..63 marks packets (46: Expedited Forwarding); -1: leave */
};

struct pvs_sender_stats {
    uint64_t frames;
    uint64_t packets;         /* datagrams sent */
    uint64_t parity_packets;  /* of which parity */
    uint64_t bytes;           /* UDP payload bytes sent */
    uint64_t dropped;         /* datagrams not sent: the socket buffer stayed full */
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
 * the frame's first datagram left. Returns 0, or a negative code when the
 * frame could not be packetized or the socket failed (datagrams that found
 * the socket buffer full for a whole frame interval are dropped and counted,
 * not an error). */
int pvs_sender_send(struct pvs_sender *s, const struct pvs_packet *frame, uint32_t host_us,
                    int64_t *first_sent_ns);

/* The rate control's settings, from the next frame on: the pacing rate
 * (bits per second; 0: no pacing), the parity percent (0..100) and the
 * least parity shards per block (0..16). Return 0 or PVS_EINVAL. */
int pvs_sender_set_pace(struct pvs_sender *s, int64_t pace_bps);
int pvs_sender_set_fec(struct pvs_sender *s, int fec_percent, int min_parity);

void pvs_sender_get_stats(const struct pvs_sender *s, struct pvs_sender_stats *out);

#endif
