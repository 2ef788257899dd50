/* The RTP header and the pvstream media header, byte by byte, and a frame's
 * shard layout (docs/protocol.md, "Media packets" and "How a frame becomes
 * shards"). Everything is big-endian on the wire. */
#include <string.h>

#include "common/error.h"
#include "net/fec.h"
#include "net/media.h"

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void pvs_rtp_write(uint8_t *out, const struct pvs_rtp_header *h)
{
    out[0] = 0x80; /* V=2, P=0, X=0, CC=0 */
    out[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->payload_type & 0x7f));
    put16(out + 2, h->seq);
    put32(out + 4, h->timestamp);
    put32(out + 8, h->ssrc);
}

void pvs_media_write(uint8_t *out, const struct pvs_media_header *h)
{
    out[0] = h->version;
    out[1] = h->flags;
    put16(out + 2, h->shard_size);
    put32(out + 4, h->frame);
    put32(out + 8, h->frame_len);
    put16(out + 12, h->block);
    put16(out + 14, h->blocks);
    out[16] = h->shard;
    out[17] = h->k;
    out[18] = h->m;
    out[19] = 0;
    put32(out + 20, h->host_us);
    put32(out + 24, (uint32_t)(h->capture_us >> 32));
    put32(out + 28, (uint32_t)h->capture_us);
}

int pvs_media_parse(const uint8_t *pkt, size_t len, struct pvs_rtp_header *rtp,
                    struct pvs_media_header *h)
{
    if (!pkt || !rtp || !h || len <= PVS_RTP_HEADER_BYTES + PVS_MEDIA_HEADER_BYTES)
        return PVS_EBADDATA;
    /* Version 2 and nothing optional: no padding, extension or CSRC list,
     * so the media header is always at offset 12. */
    if (pkt[0] != 0x80)
        return PVS_EBADDATA;
    rtp->marker = pkt[1] & 0x80;
    rtp->payload_type = pkt[1] & 0x7f;
    rtp->seq = get16(pkt + 2);
    rtp->timestamp = get32(pkt + 4);
    rtp->ssrc = get32(pkt + 8);

    const uint8_t *m = pkt + PVS_RTP_HEADER_BYTES;
    h->version = m[0];
    h->flags = m[1];
    h->shard_size = get16(m + 2);
    h->frame = get32(m + 4);
    h->frame_len = get32(m + 8);
    h->block = get16(m + 12);
    h->blocks = get16(m + 14);
    h->shard = m[16];
    h->k = m[17];
    h->m = m[18];
    h->host_us = get32(m + 20);
    h->capture_us = (uint64_t)get32(m + 24) << 32 | get32(m + 28);

    size_t shard = len - PVS_RTP_HEADER_BYTES - PVS_MEDIA_HEADER_BYTES;
    unsigned total = (unsigned)h->k + h->m;
    bool parity = h->shard >= h->k;
    if (h->version != PVS_MEDIA_VERSION || h->k < 1 || total > PVS_FEC_MAX_SHARDS ||
        h->shard >= total || parity != !!(h->flags & PVS_MEDIA_FLAG_PARITY) ||
        h->shard_size < 1 || h->shard_size != shard || h->frame_len < 1 ||
        h->frame_len > PVS_MEDIA_MAX_FRAME || h->block >= h->blocks)
        return PVS_EBADDATA;
    uint32_t n = (h->frame_len - 1) / h->shard_size + 1;
    if (h->blocks > n)
        return PVS_EBADDATA;
    return 0;
}

int pvs_media_block_k(uint32_t shards, uint16_t blocks, uint16_t b)
{
    if (blocks == 0 || b >= blocks)
        return PVS_EINVAL;
    return (int)(shards / blocks + (b < shards % blocks ? 1 : 0));
}

uint32_t pvs_media_block_first(uint32_t shards, uint16_t blocks, uint16_t b)
{
    if (blocks == 0)
        return 0;
    uint32_t rem = shards % blocks;
    return (uint32_t)b * (shards / blocks) + (b < rem ? b : rem);
}

int pvs_media_block_count(uint32_t shards, int percent, int min_parity, int max_k)
{
    if (shards < 1 || percent < 0 || min_parity < 0 || max_k < 0)
        return PVS_EINVAL;
    /* kmax: the largest k whose uncapped parity still fits with it in 255
     * shards. k + m(k) grows with k, so the first one from the top wins. */
    int kmax = max_k > 0 && max_k < PVS_FEC_MAX_SHARDS ? max_k : PVS_FEC_MAX_SHARDS;
    for (; kmax >= 1; kmax--) {
        int64_t m = ((int64_t)kmax * percent + 99) / 100;
        if (m < min_parity)
            m = min_parity;
        if (kmax + m <= PVS_FEC_MAX_SHARDS)
            break;
    }
    if (kmax < 1)
        return PVS_EINVAL;
    /* Spread evenly, the largest block holds ceil(N / B) <= kmax. */
    uint32_t b = (shards - 1) / (uint32_t)kmax + 1;
    if (b > UINT16_MAX)
        return PVS_EINVAL;
    return (int)b;
}
