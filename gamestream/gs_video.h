/* Moonlight's video packets: one encoded frame (an H.264, HEVC or AV1 access
 * unit) becomes the UDP datagrams a Moonlight client reassembles on port
 * 47998, with its Reed-Solomon parity and, when the client asked for it,
 * AES-GCM around every datagram (docs/gamestream.md, "Video and audio
 * packets", has the byte layout and where each fact comes from).
 *
 * What the client checks, and so what this module guarantees:
 * - packets of a frame form 1 to 4 FEC blocks; a block is k data packets
 *   then m parity packets with consecutive RTP sequence numbers, and
 *   m = ceil(k * percent / 100) from the percentage each packet carries
 *   (a minimum parity count is met by raising that block's percentage);
 *   with parity k + m <= 255, without it k <= 1023;
 * - every datagram is the same length (packet_size + 16, plus 32 when
 *   encrypted), so a frame can leave in one GSO send;
 * - frame indices go up by one per frame sent, from 1: the client takes
 *   any gap for a lost frame and asks for a reference-frame invalidation,
 *   so a frame the caller drops must never reach this module;
 * - the stream packet index counts data packets across frames (24 bits).
 *
 * Parity is Reed-Solomon over GF(2^8) with the polynomial x^8 + x^4 + x^3 +
 * x^2 + 1 (ISA-L's field) and the client's generator: the identity over
 * the rows 1 / ((m + i) XOR j) for parity row j and data column i. ISA-L's
 * kernels take any coefficient matrix, so ISA-L computes it.
 *
 * Threading: one thread per struct pvs_gs_video. */
#ifndef PVS_GS_VIDEO_H
#define PVS_GS_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"

#define PVS_GS_VIDEO_RTP_BYTES 16      /* RTP header with its 4-byte extension */
#define PVS_GS_VIDEO_NV_BYTES 16       /* the NV video header after it */
#define PVS_GS_VIDEO_FRAME_HEADER_BYTES 8  /* before the access unit */
#define PVS_GS_VIDEO_ENC_BYTES 32      /* IV 12, frame index 4, GCM tag 16 */
#define PVS_GS_VIDEO_KEY_BYTES 16      /* AES-128: the launch's rikey */
#define PVS_GS_VIDEO_MAX_BLOCKS 4      /* 2 bits of the header */
#define PVS_GS_VIDEO_MAX_SHARDS 255    /* k + m of a block with parity */
#define PVS_GS_VIDEO_MAX_BLOCK_DATA 1023 /* k of a block without parity: 10 bits */
#define PVS_GS_VIDEO_MAX_PERCENT 255   /* 8 bits of the header */
/* packet_size bounds: the NV header and at least one 16-byte FEC unit;
 * the top keeps a datagram under 65,507 bytes. */
#define PVS_GS_VIDEO_MIN_PACKET_SIZE 32
#define PVS_GS_VIDEO_MAX_PACKET_SIZE 65440

/* The frame type byte of the frame header, which the client reads:
 * an IDR ends its wait for a keyframe (for AV1 it trusts this byte; for
 * H.264 and HEVC it also finds the parameter sets itself), and after a
 * reference-frame invalidation it waits for an IDR, an intra-refresh frame
 * or a P-frame marked as predicted only from valid references. */
enum pvs_gs_frame_type {
    PVS_GS_FRAME_AUTO = 0,             /* IDR when the packet is a keyframe, else P */
    PVS_GS_FRAME_P = 1,
    PVS_GS_FRAME_IDR = 2,
    PVS_GS_FRAME_INTRA_REFRESH = 4,
    PVS_GS_FRAME_REF_INVALIDATED = 5,  /* P-frame after invalidated references */
};

struct pvs_gs_video_config {
    enum pvs_codec codec;
    /* x-nv-video[0].packetSize from the client's ANNOUNCE: the bytes after
     * the RTP header (NV header and payload). A multiple of 16,
     * PVS_GS_VIDEO_MIN_PACKET_SIZE..MAX. With encryption the client has
     * already taken the 32 bytes of the encryption header off it. */
    int packet_size;
    /* x-nv-vqos[0].fec.repairPercent (0..255) and
     * x-nv-vqos[0].fec.minRequiredFecPackets (0..255). */
    int fec_percent;
    int fec_min_parity;
    bool encrypt;                      /* the client enabled SS_ENC_VIDEO (0x02) */
    uint8_t key[PVS_GS_VIDEO_KEY_BYTES];  /* the launch's rikey */
    uint32_t ssrc;
    /* Where the counters start (tests use them to cross a wrap); a new
     * session leaves them 0. The client expects frame index 1 first. */
    uint16_t first_seq;
    uint32_t first_frame_index;        /* 0: 1 */
    uint32_t first_stream_packet;      /* low 24 bits used */
};

/* Per-frame facts beyond the access unit. */
struct pvs_gs_video_frame {
    enum pvs_gs_frame_type type;
    uint16_t host_latency;             /* capture to send on the host, 1/10 ms */
};

/* One frame's datagrams: datagram i starts at data + i * stride and is len
 * bytes (all the same; stride == len). Order: block by block, its data
 * packets then its parity packets, in RTP sequence order. Valid until the
 * next call. */
struct pvs_gs_video_batch {
    uint8_t *data;
    size_t stride;
    size_t len;
    int count;
    int data_packets;
    int blocks;
    uint32_t frame_index;              /* what the client will call this frame */
};

/* Counts since open. */
struct pvs_gs_video_stats {
    uint64_t frames;
    uint64_t data_packets;
    uint64_t parity_packets;
    uint64_t fec_reduced;   /* frames too large for the requested parity in 4 blocks */
    uint64_t fec_off;       /* frames sent without parity for the same reason */
    uint64_t too_large;     /* frames refused: over pvs_gs_video_max_frame */
};

struct pvs_gs_video;

/* Returns 0, PVS_EINVAL for a bad configuration (logged), PVS_ENOMEM or
 * PVS_EEXTERNAL (the cipher could not be set up). */
int pvs_gs_video_open(struct pvs_gs_video **out, const struct pvs_gs_video_config *cfg);

/* Frees the packetizer (and wipes its key); accepts NULL and *v == NULL,
 * and clears *v. */
void pvs_gs_video_close(struct pvs_gs_video **v);

/* Changes the parity percent and minimum from the next frame on.
 * Returns 0 or PVS_EINVAL (out of 0..255). */
int pvs_gs_video_set_fec(struct pvs_gs_video *v, int percent, int min_parity);

/* Packetizes one access unit (au->data, au->size; au->keyframe and
 * au->capture_ns are read: the RTP timestamp is the capture time in 90 kHz
 * units). meta may be NULL (PVS_GS_FRAME_AUTO, no host latency).
 * Blocks are as few as the requested parity allows; when even 4 blocks
 * cannot hold it, the parity shrinks to what fits (counted in
 * fec_reduced, or fec_off when none fits).
 * Returns 0; PVS_EINVAL for an empty frame or NULL pointers; PVS_ERANGE
 * for a frame over pvs_gs_video_max_frame (nothing is sent and the frame
 * index is not used: ask the encoder for a keyframe at a lower rate);
 * PVS_ENOMEM; PVS_EEXTERNAL when encryption fails. */
int pvs_gs_video_packetize(struct pvs_gs_video *v, const struct pvs_packet *au,
                           const struct pvs_gs_video_frame *meta,
                           struct pvs_gs_video_batch *out);

/* The largest access unit a packet size can carry: 4 blocks of 1023 data
 * packets without parity, less the frame header. 0 for a bad size. */
size_t pvs_gs_video_max_frame(int packet_size);

/* The largest access unit that still gets the full parity `percent` with
 * at least `min_parity` parity packets per block. 0 for bad arguments. */
size_t pvs_gs_video_max_fec_frame(int packet_size, int percent, int min_parity);

void pvs_gs_video_get_stats(const struct pvs_gs_video *v, struct pvs_gs_video_stats *out);

#endif
