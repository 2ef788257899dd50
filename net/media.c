/* The RTP header and the pvstream media header, byte by byte, and a frame's
 * shard layout (docs/protocol.md, "Media packets" and "How a frame becomes
 * shards"). Everything is big-endian on the wire. */
#include <string.h>

#include "common/error.h"
#include "common/wire.h"
#include "net/fec.h"
#include "net/media.h"

void pvs_rtp_write(uint8_t *out, const struct pvs_rtp_header *h)
{
    out[0] = 0x80; /* V=2, P=0, X=0, CC=0 */
    out[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->payload_type & 0x7f));
    pvs_put_be16(out + 2, h->seq);
    pvs_put_be32(out + 4, h->timestamp);
    pvs_put_be32(out + 8, h->ssrc);
}

void pvs_media_write(uint8_t *out, const struct pvs_media_header *h)
{
    out[0] = h->version;
    out[1] = h->flags;
    pvs_put_be16(out + 2, h->shard_size);
    pvs_put_be32(out + 4, h->frame);
    pvs_put_be32(out + 8, h->frame_len);
    pvs_put_be16(out + 12, h->block);
    pvs_put_be16(out + 14, h->blocks);
    out[16] = h->shard;
    out[17] = h->k;
    out[18] = h->m;
    out[19] = 0;
    pvs_put_be32(out + 20, h->host_us);
    pvs_put_be64(out + 24, h->capture_us);
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
    rtp->seq = pvs_get_be16(pkt + 2);
    rtp->timestamp = pvs_get_be32(pkt + 4);
    rtp->ssrc = pvs_get_be32(pkt + 8);

    const uint8_t *m = pkt + PVS_RTP_HEADER_BYTES;
    h->version = m[0];
    h->flags = m[1];
    h->shard_size = pvs_get_be16(m + 2);
    h->frame = pvs_get_be32(m + 4);
    h->frame_len = pvs_get_be32(m + 8);
    h->block = pvs_get_be16(m + 12);
    h->blocks = pvs_get_be16(m + 14);
    h->shard = m[16];
    h->k = m[17];
    h->m = m[18];
    h->host_us = pvs_get_be32(m + 20);
    h->capture_us = pvs_get_be64(m + 24);

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
