/* The audio media packet: an RTP header, a small audio header and Opus
 * frames, inside SRTP like video (docs/audio.md, "Packets", has the bytes;
 * this file reads and writes them and knows nothing of sockets or keys).
 *
 *     0   12  RTP: PT 97, M set on the first packet after a silence,
 *             sequence +1 per packet, timestamp = the primary frame's first
 *             sample at 48 kHz, the audio SSRC
 *     12  1   version: 1
 *     13  1   flags: bit 0 the primary frame is digital silence (when no
 *             packet follows, the sender's silence gate has closed)
 *     14  2   samples per channel in a frame: 120, 240, 480 or 960
 *     16  8   capture time of the primary frame's first sample, µs, on the
 *             server's monotonic clock
 *     24  1   r: earlier frames carried again, 0..PVS_AUDIO_MAX_REDUNDANCY
 *     25  1   reserved
 *     26  2r  their lengths, oldest first (1..1275 each)
 *     ..      those frames (timestamps T - r F .. T - F), then the primary
 *             frame: the rest of the packet (1..1275 bytes)
 *
 * Carrying the previous frame again in each packet ("redundancy") is how
 * audio survives loss: a lost frame comes back, bit-exact, from the next
 * packet, one frame later. docs/audio.md compares it with Opus's in-band
 * FEC and with Reed-Solomon parity across packets. */
#ifndef PVS_AUDIO_PACKET_H
#define PVS_AUDIO_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audio/opus.h"

#define PVS_AUDIO_VERSION 1
#define PVS_AUDIO_RTP_BYTES 12
#define PVS_AUDIO_HEADER_BYTES 14 /* after RTP, before the lengths */
#define PVS_AUDIO_MAX_REDUNDANCY 2
#define PVS_AUDIO_FLAG_SILENT 0x01
/* The largest packet (before SRTP's tag) the packer writes. */
#define PVS_AUDIO_MAX_PACKET \
    (PVS_AUDIO_RTP_BYTES + PVS_AUDIO_HEADER_BYTES + \
     (PVS_AUDIO_MAX_REDUNDANCY + 1) * (2 + PVS_OPUS_MAX_PACKET))

/* One Opus frame inside a packet: points into the packet's bytes. */
struct pvs_audio_chunk {
    const uint8_t *data;
    uint16_t len;
};

struct pvs_audio_packet {
    bool marker;           /* the first packet after a silence */
    uint16_t seq;
    uint32_t timestamp;    /* of the primary frame */
    uint32_t ssrc;
    uint8_t flags;         /* PVS_AUDIO_FLAG_* */
    uint16_t frame_samples;
    uint64_t capture_us;
    uint8_t redundant;     /* r */
    struct pvs_audio_chunk earlier[PVS_AUDIO_MAX_REDUNDANCY]; /* oldest first */
    struct pvs_audio_chunk primary;
};

/* Reads an (already decrypted) packet of len bytes. Checks everything one
 * packet can: RTP version 2 without padding, CSRCs or extension, payload
 * type 97, audio version 1, a frame size Opus has, r within the limit,
 * every length within 1..1275 and all of them adding up to the packet.
 * Returns 0 or PVS_EBADDATA. The chunks point into pkt. */
int pvs_audio_packet_parse(const uint8_t *pkt, size_t len, struct pvs_audio_packet *out);

/* The sender's side: numbers packets and keeps the last frames it sent to
 * carry them again. A plain struct (no allocation): set it up with
 * pvs_audio_packer_init. */
struct pvs_audio_packer {
    uint32_t ssrc;
    uint16_t seq;
    int frame_samples;
    int redundancy;        /* earlier frames per packet, 0..2 */
    int kept;              /* earlier frames held, newest last */
    uint32_t kept_ts[PVS_AUDIO_MAX_REDUNDANCY];
    uint16_t kept_len[PVS_AUDIO_MAX_REDUNDANCY];
    uint8_t kept_data[PVS_AUDIO_MAX_REDUNDANCY][PVS_OPUS_MAX_PACKET];
};

/* Returns 0, or PVS_EINVAL for a frame size Opus lacks or redundancy out of
 * 0..PVS_AUDIO_MAX_REDUNDANCY. `first_seq` is where numbering starts
 * (random, as RTP asks). */
int pvs_audio_packer_init(struct pvs_audio_packer *p, uint32_t ssrc, uint16_t first_seq,
                          int frame_samples, int redundancy);

/* Writes the packet for one Opus frame (opus[len], 1..1275 bytes) whose
 * first sample has `timestamp`, into out[cap]. Earlier frames are carried
 * only when their timestamps run on without a gap to this one, and only as
 * many as fit in cap. `marker`: the first packet after a silence. Returns
 * the packet's length, or PVS_EINVAL (bad length, cap too small for even
 * the primary frame). */
int pvs_audio_pack(struct pvs_audio_packer *p, const uint8_t *opus, size_t len,
                   uint32_t timestamp, uint64_t capture_us, uint8_t flags, bool marker,
                   uint8_t *out, size_t cap);

#endif
