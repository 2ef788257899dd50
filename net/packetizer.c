/* Encoded frame to media packets (net/packetizer.h). The batch holds the
 * packets block by block, each block's data packets (shard 0..k-1) then its
 * parity packets (k..k+m-1); the last packet of the batch carries the RTP
 * marker. Parity is encoded straight from the data packets' shard areas
 * into the parity packets' shard areas, so a data byte is copied once. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/fec.h"
#include "net/media.h"
#include "net/packetizer.h"

#define HEADERS (PVS_RTP_HEADER_BYTES + PVS_MEDIA_HEADER_BYTES)

struct pvs_packetizer {
    struct pvs_packetizer_config cfg;
    size_t shard;          /* S */
    uint16_t seq;          /* next RTP sequence number */
    struct pvs_fec *fec;
    uint8_t *buf;
    size_t cap;
};

int pvs_packetizer_open(struct pvs_packetizer **out, const struct pvs_packetizer_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg)
        return PVS_EINVAL;
    struct pvs_packetizer_config c = *cfg;
    if (c.datagram_size == 0)
        c.datagram_size = PVS_MEDIA_DEFAULT_DATAGRAM;
    if (c.payload_type == 0)
        c.payload_type = PVS_RTP_PT_VIDEO;
    if (c.datagram_size < PVS_MEDIA_MIN_DATAGRAM || c.datagram_size > PVS_MEDIA_MAX_DATAGRAM) {
        PVS_LOG_E("packetizer: datagram size %d is not %d..%d bytes", c.datagram_size,
                  PVS_MEDIA_MIN_DATAGRAM, PVS_MEDIA_MAX_DATAGRAM);
        return PVS_EINVAL;
    }
    if (c.fec_percent < 0 || c.fec_percent > 100) {
        PVS_LOG_E("packetizer: FEC parity %d %% is not 0..100", c.fec_percent);
        return PVS_EINVAL;
    }
    if (c.fec_min_parity < 0 || c.fec_min_parity > 16) {
        PVS_LOG_E("packetizer: FEC minimum parity %d is not 0..16", c.fec_min_parity);
        return PVS_EINVAL;
    }
    if (c.max_block_data < 0 || c.max_block_data > PVS_FEC_MAX_SHARDS) {
        PVS_LOG_E("packetizer: at most %d data shards per block is not 0..%d",
                  c.max_block_data, PVS_FEC_MAX_SHARDS);
        return PVS_EINVAL;
    }
    if (c.payload_type > 127) {
        PVS_LOG_E("packetizer: RTP payload type %d is not 0..127", c.payload_type);
        return PVS_EINVAL;
    }
    if (pvs_media_block_count(1, c.fec_percent, c.fec_min_parity, c.max_block_data) < 1) {
        PVS_LOG_E("packetizer: no block fits FEC %d %% with at least %d parity shards",
                  c.fec_percent, c.fec_min_parity);
        return PVS_EINVAL;
    }

    struct pvs_packetizer *p = calloc(1, sizeof(*p));
    if (!p)
        return PVS_ENOMEM;
    p->cfg = c;
    p->shard = (size_t)c.datagram_size - PVS_MEDIA_OVERHEAD;
    p->seq = c.first_seq;
    int rc = pvs_fec_open(&p->fec);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void pvs_packetizer_close(struct pvs_packetizer **p)
{
    if (!p || !*p)
        return;
    pvs_fec_close(&(*p)->fec);
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

int pvs_packetizer_set_fec(struct pvs_packetizer *p, int fec_percent, int min_parity)
{
    if (!p || fec_percent < 0 || fec_percent > 100 || min_parity < 0 || min_parity > 16 ||
        pvs_media_block_count(1, fec_percent, min_parity, p->cfg.max_block_data) < 1)
        return PVS_EINVAL;
    p->cfg.fec_percent = fec_percent;
    p->cfg.fec_min_parity = min_parity;
    return 0;
}

/* capture_ns on the 90 kHz clock, without overflowing for any input. */
static uint32_t rtp_90khz(int64_t capture_ns)
{
    uint64_t ns = (uint64_t)capture_ns;
    return (uint32_t)((ns / 100000) * 9 + (ns % 100000) * 9 / 100000);
}

int pvs_packetizer_frame(struct pvs_packetizer *p, const struct pvs_packet *frame,
                         uint32_t host_us, struct pvs_packet_batch *out)
{
    if (!p || !frame || !out || !frame->data || frame->size < 1 ||
        frame->size > PVS_MEDIA_MAX_FRAME)
        return PVS_EINVAL;
    const struct pvs_packetizer_config *c = &p->cfg;
    const size_t S = p->shard, stride = (size_t)c->datagram_size, len = stride -
                                                                        PVS_SRTP_TAG_BYTES;
    const uint32_t L = (uint32_t)frame->size;
    const uint32_t N = (uint32_t)((L - 1) / S + 1);
    int nb = pvs_media_block_count(N, c->fec_percent, c->fec_min_parity, c->max_block_data);
    if (nb < 1)
        return PVS_EINVAL; /* cannot happen after open's checks */
    const uint16_t B = (uint16_t)nb;

    size_t count = N;
    for (uint16_t b = 0; b < B; b++)
        count += (size_t)pvs_fec_parity_count(pvs_media_block_k(N, B, b), c->fec_percent,
                                              c->fec_min_parity);
    if (count * stride > p->cap) {
        uint8_t *nbuf = malloc(count * stride);
        if (!nbuf)
            return PVS_ENOMEM;
        free(p->buf);
        p->buf = nbuf;
        p->cap = count * stride;
    }

    struct pvs_rtp_header rtp = {
        .payload_type = c->payload_type,
        .timestamp = rtp_90khz(frame->capture_ns),
        .ssrc = c->ssrc,
    };
    struct pvs_media_header mh = {
        .version = PVS_MEDIA_VERSION,
        .shard_size = (uint16_t)S,
        .frame = (uint32_t)frame->frame,
        .frame_len = L,
        .blocks = B,
        .host_us = host_us,
        .capture_us = (uint64_t)(frame->capture_ns / 1000),
    };
    const uint8_t key = frame->keyframe ? PVS_MEDIA_FLAG_KEYFRAME : 0;

    uint8_t *pkt = p->buf;
    size_t done = 0;
    for (uint16_t b = 0; b < B; b++) {
        int k = pvs_media_block_k(N, B, b);
        int m = pvs_fec_parity_count(k, c->fec_percent, c->fec_min_parity);
        uint32_t first = pvs_media_block_first(N, B, b);
        const uint8_t *data[PVS_FEC_MAX_SHARDS];
        uint8_t *parity[PVS_FEC_MAX_SHARDS];
        mh.block = b;
        mh.k = (uint8_t)k;
        mh.m = (uint8_t)m;
        for (int i = 0; i < k + m; i++, pkt += stride) {
            rtp.seq = p->seq++;
            rtp.marker = ++done == count;
            mh.shard = (uint8_t)i;
            mh.flags = (uint8_t)(key | (i >= k ? PVS_MEDIA_FLAG_PARITY : 0));
            pvs_rtp_write(pkt, &rtp);
            pvs_media_write(pkt + PVS_RTP_HEADER_BYTES, &mh);
            uint8_t *shard = pkt + HEADERS;
            if (i < k) {
                size_t at = (size_t)(first + (uint32_t)i) * S;
                size_t n = L - at < S ? L - at : S;
                memcpy(shard, frame->data + at, n);
                memset(shard + n, 0, S - n);
                data[i] = shard;
            } else {
                parity[i - k] = shard;
            }
        }
        int rc = pvs_fec_encode(p->fec, k, m, S, data, parity);
        if (rc < 0)
            return rc;
    }

    *out = (struct pvs_packet_batch){
        .data = p->buf,
        .stride = stride,
        .len = len,
        .count = (int)count,
        .data_packets = (int)N,
    };
    return 0;
}
