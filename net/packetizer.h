/* Sender side: an encoded frame becomes RTP packets with the media header,
 * data shards and Reed-Solomon parity shards, ready for SRTP and the socket
 * (docs/protocol.md, "How a frame becomes shards").
 *
 * The packets of a frame are laid out back to back in one buffer, each in a
 * slot of `datagram_size` bytes; each packet is datagram_size - 16 bytes
 * long before SRTP appends its tag, so after SRTP every packet is exactly
 * datagram_size bytes and the whole frame can go to the socket as one UDP
 * GSO send. Data shards are copied once, from the frame into their packets;
 * parity is computed straight into the parity packets. The buffer is reused
 * frame after frame: no allocation once it has grown to the largest frame. */
#ifndef PVS_PACKETIZER_H
#define PVS_PACKETIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"

struct pvs_packetizer_config {
    int datagram_size;    /* UDP payload bytes; PVS_MEDIA_MIN..MAX_DATAGRAM; 0: 1400 */
    int fec_percent;      /* parity per block as % of its data shards, 0..100 */
    int fec_min_parity;   /* at least this many parity shards per block, 0..16 */
    int max_block_data;   /* most data shards per block; 0: as many as fit */
    uint32_t ssrc;
    uint8_t payload_type; /* 0: PVS_RTP_PT_VIDEO */
    uint16_t first_seq;   /* RTP sequence number of the first packet */
};

/* One frame's packets: packet i starts at data + i * stride and is `len`
 * bytes long (all the same); stride == datagram_size. Valid until the next
 * call. Order: block by block, each block's k data packets (shard 0..k-1)
 * then its m parity packets; RTP sequence numbers follow that order and the
 * last packet carries the marker. */
struct pvs_packet_batch {
    uint8_t *data;
    size_t stride;
    size_t len;
    int count;
    int data_packets;     /* N; the rest are parity */
};

struct pvs_packetizer;

/* Returns 0, PVS_EINVAL for a bad configuration (the log says which value),
 * or PVS_ENOMEM. */
int pvs_packetizer_open(struct pvs_packetizer **out, const struct pvs_packetizer_config *cfg);
void pvs_packetizer_close(struct pvs_packetizer **p);

/* Changes the parity percent (0..100) and the least parity shards per
 * block (0..16) from the next frame on (the rate control's FEC). Returns 0
 * or PVS_EINVAL (out of range, or no block would fit them). */
int pvs_packetizer_set_fec(struct pvs_packetizer *p, int fec_percent, int min_parity);

/* Packetizes one encoded frame. frame->frame is the frame number on the wire
 * (its low 32 bits), frame->capture_ns the capture time; host_us goes in
 * the header as is. Returns 0, PVS_EINVAL (empty frame, or over
 * PVS_MEDIA_MAX_FRAME), or PVS_ENOMEM. */
int pvs_packetizer_frame(struct pvs_packetizer *p, const struct pvs_packet *frame,
                         uint32_t host_us, struct pvs_packet_batch *out);

#endif
