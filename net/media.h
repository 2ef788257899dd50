/* The media packet: RTP header, pvstream media header, shard (docs/protocol.md,
 * "Media packets", is the byte-by-byte description). This file reads and
 * writes the two headers and computes a frame's shard layout; it knows nothing
 * of sockets or keys. */
#ifndef PVS_MEDIA_H
#define PVS_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_MEDIA_VERSION 1
#define PVS_RTP_HEADER_BYTES 12
#define PVS_MEDIA_HEADER_BYTES 32
#define PVS_SRTP_TAG_BYTES 16
/* RTP + media header + SRTP tag: a shard is the datagram less this. */
#define PVS_MEDIA_OVERHEAD (PVS_RTP_HEADER_BYTES + PVS_MEDIA_HEADER_BYTES + PVS_SRTP_TAG_BYTES)
#define PVS_MEDIA_DEFAULT_DATAGRAM 1400
#define PVS_MEDIA_MIN_DATAGRAM 576
#define PVS_MEDIA_MAX_DATAGRAM 9000
#define PVS_MEDIA_MAX_FRAME (16 * 1024 * 1024)
#define PVS_RTP_PT_VIDEO 96
#define PVS_RTP_PT_AUDIO 97

#define PVS_MEDIA_FLAG_KEYFRAME 0x01
#define PVS_MEDIA_FLAG_PARITY 0x02

struct pvs_rtp_header {
    bool marker;          /* last packet of the frame */
    uint8_t payload_type; /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;   /* 90 kHz for video */
    uint32_t ssrc;
};

struct pvs_media_header {
    uint8_t version;
    uint8_t flags;        /* PVS_MEDIA_FLAG_* */
    uint16_t shard_size;  /* S */
    uint32_t frame;
    uint32_t frame_len;   /* L */
    uint16_t block;       /* b */
    uint16_t blocks;      /* B */
    uint8_t shard;        /* i, 0..k+m-1 */
    uint8_t k;
    uint8_t m;
    uint32_t host_us;
    uint64_t capture_us;
};

/* Writes the 12-byte RTP header / 32-byte media header at `out`. */
void pvs_rtp_write(uint8_t *out, const struct pvs_rtp_header *h);
void pvs_media_write(uint8_t *out, const struct pvs_media_header *h);

/* Reads the headers of an (already decrypted) packet of `len` bytes: RTP,
 * media header, and checks what one packet alone can check (version 2 RTP
 * without CSRCs or extension, media version 1, k >= 1, k + m <= 255,
 * i < k + m, parity flag == (i >= k), S >= 1, S == len - 44 (the shard fills
 * the rest, tag already removed), 1 <= L <= PVS_MEDIA_MAX_FRAME, b < B,
 * B <= ceil(L / S)). Returns 0 or PVS_EBADDATA. */
int pvs_media_parse(const uint8_t *pkt, size_t len, struct pvs_rtp_header *rtp,
                    struct pvs_media_header *h);

/* The shard layout of a frame (docs/protocol.md, "How a frame becomes
 * shards"). */
struct pvs_media_layout {
    uint32_t shards;      /* N = ceil(L / S) data shards in all */
    uint16_t blocks;      /* B */
};
/* Data shards in block b, and the index of its first data shard in the frame. */
int pvs_media_block_k(uint32_t shards, uint16_t blocks, uint16_t b);
uint32_t pvs_media_block_first(uint32_t shards, uint16_t blocks, uint16_t b);
/* The fewest blocks for N data shards when each block gets parity by
 * pvs_fec_parity_count(k, percent, min_parity): the smallest B such that
 * every block's k + m fits in 255 (and k_b <= max_k when max_k > 0). */
int pvs_media_block_count(uint32_t shards, int percent, int min_parity, int max_k);

#endif
