/* Moonlight's audio packets (gamestream/gs_audio.h). Facts from
 * moonlight-common-c src/AudioStream.c, src/RtpAudioQueue.{c,h} and
 * src/RtspConnection.c; docs/gamestream.md has the layout.
 *
 * Audio datagram: RTP header (0x80, 97, sequence, timestamp in ms, SSRC,
 * big endian) and the Opus packet, or its AES-128-CBC ciphertext with
 * PKCS#7 padding under the IV "big-endian (rikeyid + sequence number),
 * then 12 zero bytes".
 *
 * FEC datagram: RTP header (0x80, 127, its own sequence, the block's
 * timestamp, SSRC), then the FEC header (shard index 0 or 1, payload type
 * 97, the block's first sequence number, its timestamp, SSRC; big
 * endian), then a parity shard over the block's four payloads as sent
 * (ciphertext when encrypted: the client repairs before it decrypts).
 *
 * The parity rows are fixed, not derived from the video code's Cauchy
 * formula: the client replaces its computed matrix by these eight bytes
 * for audio (a matrix taken from OpenFEC, it says), so we use them as they
 * are. Same field as video (x^8 + x^4 + x^3 + x^2 + 1), so ISA-L computes
 * the parity. */
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>
#include <mbedtls/aes.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "gamestream/gs_audio.h"

#define RTP_FIRST_BYTE 0x80   /* version 2, no extension: the client reads 12 bytes */
#define AES_BLOCK 16

static const uint8_t parity_rows[PVS_GS_AUDIO_FEC_SHARDS][PVS_GS_AUDIO_DATA_SHARDS] = {
    { 0x77, 0x40, 0x38, 0x0e },
    { 0xc7, 0xa7, 0x0d, 0x6c },
};

struct pvs_gs_audio {
    struct pvs_gs_audio_config cfg;
    mbedtls_aes_context aes;
    uint8_t tables[32 * PVS_GS_AUDIO_DATA_SHARDS * PVS_GS_AUDIO_FEC_SHARDS];
    uint16_t seq;
    uint16_t fec_seq;
    uint32_t timestamp;
    /* the current block: its first packet's sequence number and timestamp,
     * its payloads so far, and whether their lengths agreed */
    uint16_t block_seq;
    uint32_t block_ts;
    size_t block_len;
    bool block_ragged;
    uint8_t shards[PVS_GS_AUDIO_DATA_SHARDS][PVS_GS_AUDIO_MAX_PAYLOAD];
    uint8_t packet[PVS_GS_AUDIO_MAX_DATAGRAM];
    uint8_t fec[PVS_GS_AUDIO_FEC_SHARDS][PVS_GS_AUDIO_MAX_DATAGRAM];
    struct pvs_gs_audio_stats stats;
};

static void put_rtp(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    p[0] = RTP_FIRST_BYTE;
    p[1] = pt;
    pvs_put_be16(p + 2, seq);
    pvs_put_be32(p + 4, ts);
    pvs_put_be32(p + 8, ssrc);
}

int pvs_gs_audio_open(struct pvs_gs_audio **out, const struct pvs_gs_audio_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg)
        return PVS_EINVAL;
    if (cfg->packet_ms != 5 && cfg->packet_ms != 10) {
        PVS_LOG_E("gamestream audio: packet duration %d ms is not 5 or 10", cfg->packet_ms);
        return PVS_EINVAL;
    }
    struct pvs_gs_audio *a = calloc(1, sizeof(*a));
    if (!a)
        return PVS_ENOMEM;
    a->cfg = *cfg;
    a->seq = (uint16_t)(cfg->first_seq & ~(PVS_GS_AUDIO_DATA_SHARDS - 1));
    a->fec_seq = a->seq;
    a->timestamp = cfg->first_timestamp;
    mbedtls_aes_init(&a->aes);
    if (cfg->encrypt && mbedtls_aes_setkey_enc(&a->aes, cfg->key, PVS_GS_AUDIO_KEY_BYTES * 8)) {
        PVS_LOG_E("gamestream audio: AES key setup failed");
        pvs_gs_audio_close(&a);
        return PVS_EEXTERNAL;
    }
    ec_init_tables(PVS_GS_AUDIO_DATA_SHARDS, PVS_GS_AUDIO_FEC_SHARDS,
                   (unsigned char *)parity_rows, a->tables);
    *out = a;
    return 0;
}

void pvs_gs_audio_close(struct pvs_gs_audio **pa)
{
    if (!pa || !*pa)
        return;
    struct pvs_gs_audio *a = *pa;
    mbedtls_aes_free(&a->aes);
    volatile uint8_t *key = a->cfg.key;
    for (size_t i = 0; i < sizeof(a->cfg.key); i++)
        key[i] = 0;
    free(a);
    *pa = NULL;
}

void pvs_gs_audio_get_stats(const struct pvs_gs_audio *a, struct pvs_gs_audio_stats *out)
{
    if (a && out)
        *out = a->stats;
}

/* AES-128-CBC with PKCS#7 padding into dst; returns the ciphertext length
 * or a negative code. */
static int encrypt_payload(struct pvs_gs_audio *a, uint16_t seq, const uint8_t *in, size_t len,
                           uint8_t *dst)
{
    size_t padded = (len / AES_BLOCK + 1) * AES_BLOCK;
    if (padded > PVS_GS_AUDIO_MAX_PAYLOAD)
        return PVS_ERANGE;
    uint8_t iv[AES_BLOCK] = { 0 };
    pvs_put_be32(iv, a->cfg.rikeyid + seq);
    memcpy(dst, in, len);
    memset(dst + len, (int)(padded - len), padded - len);
    if (mbedtls_aes_crypt_cbc(&a->aes, MBEDTLS_AES_ENCRYPT, padded, iv, dst, dst))
        return PVS_EEXTERNAL;
    return (int)padded;
}

/* Writes the block's two FEC datagrams into out. */
static void emit_fec(struct pvs_gs_audio *a, struct pvs_gs_audio_out *out)
{
    uint8_t *data[PVS_GS_AUDIO_DATA_SHARDS];
    uint8_t *parity[PVS_GS_AUDIO_FEC_SHARDS];
    const size_t head = PVS_GS_AUDIO_RTP_BYTES + PVS_GS_AUDIO_FEC_HEADER_BYTES;
    for (int i = 0; i < PVS_GS_AUDIO_DATA_SHARDS; i++)
        data[i] = a->shards[i];
    for (int j = 0; j < PVS_GS_AUDIO_FEC_SHARDS; j++)
        parity[j] = a->fec[j] + head;
    ec_encode_data((int)a->block_len, PVS_GS_AUDIO_DATA_SHARDS, PVS_GS_AUDIO_FEC_SHARDS,
                   a->tables, data, parity);
    for (int j = 0; j < PVS_GS_AUDIO_FEC_SHARDS; j++) {
        uint8_t *p = a->fec[j];
        put_rtp(p, PVS_GS_AUDIO_FEC_PT, a->fec_seq++, a->block_ts, a->cfg.ssrc);
        uint8_t *f = p + PVS_GS_AUDIO_RTP_BYTES;
        f[0] = (uint8_t)j;
        f[1] = PVS_GS_AUDIO_PT;
        pvs_put_be16(f + 2, a->block_seq);
        pvs_put_be32(f + 4, a->block_ts);
        pvs_put_be32(f + 8, a->cfg.ssrc);
        out->data[out->count] = p;
        out->len[out->count] = head + a->block_len;
        out->count++;
    }
    a->stats.fec_packets += PVS_GS_AUDIO_FEC_SHARDS;
}

int pvs_gs_audio_packetize(struct pvs_gs_audio *a, const uint8_t *opus, size_t len,
                           struct pvs_gs_audio_out *out)
{
    if (!a || !opus || !out || len == 0)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len > PVS_GS_AUDIO_MAX_PAYLOAD)
        return PVS_ERANGE;
    int index = a->seq % PVS_GS_AUDIO_DATA_SHARDS;
    uint8_t *payload = a->packet + PVS_GS_AUDIO_RTP_BYTES;
    size_t plen = len;
    if (a->cfg.encrypt) {
        int n = encrypt_payload(a, a->seq, opus, len, payload);
        if (n < 0) {
            if (n == PVS_EEXTERNAL)
                PVS_LOG_E("gamestream audio: AES-CBC encryption failed");
            return n;
        }
        plen = (size_t)n;
    } else {
        memcpy(payload, opus, len);
    }
    put_rtp(a->packet, PVS_GS_AUDIO_PT, a->seq, a->timestamp, a->cfg.ssrc);

    if (index == 0) {
        a->block_seq = a->seq;
        a->block_ts = a->timestamp;
        a->block_len = plen;
        a->block_ragged = false;
    } else if (plen != a->block_len) {
        a->block_ragged = true;
    }
    if (!a->block_ragged)
        memcpy(a->shards[index], payload, plen);

    out->data[0] = a->packet;
    out->len[0] = PVS_GS_AUDIO_RTP_BYTES + plen;
    out->count = 1;
    if (index == PVS_GS_AUDIO_DATA_SHARDS - 1) {
        if (!a->block_ragged) {
            emit_fec(a, out);
        } else {
            if (!a->stats.fec_skipped)
                PVS_LOG_W("gamestream audio: Opus packet sizes vary within an FEC block; "
                          "the client turns its audio FEC off (use hard CBR without DTX)");
            a->stats.fec_skipped++;
        }
    }
    a->seq++;
    a->timestamp += (uint32_t)a->cfg.packet_ms;
    a->stats.packets++;
    return 0;
}

/* ---- channel layouts ---------------------------------------------------- */

/* Normal quality couples the pairs (FL FR, RL RR, SL SR) and codes C and
 * LFE alone; high quality codes each channel alone at 256 kb/s. The rates
 * are this host's choice (the client decodes any); 2,048 kb/s in 5 ms
 * packets is 1,280 bytes, inside PVS_GS_AUDIO_MAX_PAYLOAD even encrypted. */
static const struct pvs_gs_opus_config normal[] = {
    { 2, 1, 1, { 0, 1 }, 96000, 0x3 },
    { 6, 4, 2, { 0, 1, 4, 5, 2, 3 }, 256000, 0x3F },
    { 8, 5, 3, { 0, 1, 6, 7, 2, 3, 4, 5 }, 450000, 0x63F },
};
static const struct pvs_gs_opus_config high[] = {
    { 6, 6, 0, { 0, 1, 2, 3, 4, 5 }, 1536000, 0x3F },
    { 8, 8, 0, { 0, 1, 2, 3, 4, 5, 6, 7 }, 2048000, 0x63F },
};

int pvs_gs_audio_channels(uint32_t surround_audio_info)
{
    int ch = (int)(surround_audio_info & 0xFFFF);
    uint32_t mask = surround_audio_info >> 16;
    for (size_t i = 0; i < sizeof(normal) / sizeof(normal[0]); i++)
        if (normal[i].channels == ch && normal[i].channel_mask == mask)
            return ch;
    return PVS_EINVAL;
}

int pvs_gs_audio_opus_config(int channels, bool high_quality, struct pvs_gs_opus_config *out)
{
    if (!out)
        return PVS_EINVAL;
    const struct pvs_gs_opus_config *table = normal;
    size_t n = sizeof(normal) / sizeof(normal[0]);
    if (high_quality && channels > 2) {
        table = high;
        n = sizeof(high) / sizeof(high[0]);
    }
    for (size_t i = 0; i < n; i++) {
        if (table[i].channels == channels) {
            *out = table[i];
            return 0;
        }
    }
    return PVS_EINVAL;
}

void pvs_gs_audio_sdp_mapping(const struct pvs_gs_opus_config *c, bool high_quality,
                              uint8_t out[PVS_GS_AUDIO_MAX_CHANNELS])
{
    memcpy(out, c->mapping, PVS_GS_AUDIO_MAX_CHANNELS);
    if (high_quality || (c->channels != 6 && c->channels != 8))
        return;
    for (int i = 3; i < c->channels - 1; i++)
        out[i] = c->mapping[i + 1];
    out[c->channels - 1] = c->mapping[3];
}
