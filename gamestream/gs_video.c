/* Moonlight's video packets (gamestream/gs_video.h). The layout and every
 * rule below come from the client's receive path, moonlight-common-c
 * src/Video.h, src/RtpVideoQueue.c, src/VideoDepacketizer.c and
 * src/VideoStream.c; docs/gamestream.md says it field by field.
 *
 * A datagram, before encryption (all integers of the NV header little
 * endian, of the RTP header big endian):
 *
 *    0  RTP: 0x90 (version 2, extension), payload type, sequence number,
 *       timestamp (90 kHz), SSRC, 4 bytes of extension (zero)
 *   16  NV: stream packet index << 8, frame index, flags, reserved,
 *       multi-FEC flags (0x10), multi-FEC blocks (last << 6 | this << 4),
 *       FEC info (k << 22 | shard << 12 | percent << 4)
 *   32  payload: packet_size - 16 bytes of the frame stream
 *
 * The frame stream is the 8-byte frame header then the access unit, cut
 * into payloads; the last one is padded with zeros.
 *
 * Parity covers whole datagrams from byte 0, because the client's decoder
 * runs over whole received packets. Reed-Solomon works byte column by
 * byte column, so the header bytes the client reads from a parity packet
 * (RTP header, frame index, multi-FEC bytes, FEC info) are overwritten
 * with real values after encoding: the client rebuilds exactly those
 * fields of a recovered packet from the block's other packets, and the
 * columns it keeps (stream packet index, flags, reserved, payload) stay
 * true parity. */
#include <stdlib.h>
#include <string.h>

#include <isa-l/erasure_code.h>
#include <mbedtls/gcm.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "gamestream/gs_video.h"

#define HEADERS (PVS_GS_VIDEO_RTP_BYTES + PVS_GS_VIDEO_NV_BYTES)
#define TABLE_BYTES 32        /* ISA-L: one coefficient's multiply tables */
#define COLUMNS 255           /* column labels m + i stay below 255 */

/* NV header flags (src/Video.h) */
#define FLAG_CONTAINS_PIC_DATA 0x1
#define FLAG_EOF 0x2
#define FLAG_SOF 0x4
#define MULTI_FEC_FLAGS 0x10  /* what the client fills in for old hosts */
#define RTP_FIRST_BYTE 0x90   /* version 2 with FLAG_EXTENSION (0x10) */
#define FRAME_HEADER_SHORT 0x01 /* first byte: "8-byte header" */

/* GCM nonces under the session key: the control stream and encrypted RTSP
 * put their sequence number in bytes 0-3 and 'C' or 'H' then 'C' or 'R'
 * in bytes 10-11 (src/ControlStream.c, src/RtspConnection.c), so video
 * puts 'H','V' there and a 64-bit packet counter in bytes 0-7: no nonce is
 * ever used twice. */
#define IV_BYTES 12

struct block {
    int k, m, percent;
};

struct pvs_gs_video {
    struct pvs_gs_video_config cfg;
    size_t payload;               /* frame stream bytes per data packet */
    size_t plain_len;             /* packet_size + RTP header */
    size_t dgram_len;             /* plain_len (+ encryption header) */
    uint16_t seq;
    uint32_t frame_index;
    uint32_t stream_packet;       /* 24 bits */
    uint64_t iv_counter;
    mbedtls_gcm_context gcm;
    /* ISA-L tables of the client's coefficients, one row per parity index
     * j, all 255 column labels a: 1 / (a XOR j). Built on first use; a
     * block (k, m) reads row j's columns m .. m + k - 1. */
    uint8_t *rows[PVS_GS_VIDEO_MAX_SHARDS];
    uint8_t *tables;              /* m x k tables of the current block */
    size_t tables_cap;
    uint8_t *buf;
    size_t cap;
    struct pvs_gs_video_stats stats;
};

/* ---- the block plan ---------------------------------------------------- */

/* The client's parity count (src/RtpVideoQueue.c): ceil(k * percent / 100). */
static int parity_of(int k, int percent)
{
    return (k * percent + 99) / 100;
}

/* The percentage to write for a block of k data packets: the requested
 * one, raised to the least that gives min_parity packets, then lowered
 * until the block fits in 255 shards (0 when nothing fits). */
static int block_percent(int k, int percent, int min_parity)
{
    int p = percent;
    if (min_parity > 0 && parity_of(k, p) < min_parity)
        p = 100 * (min_parity - 1) / k + 1;
    if (p > PVS_GS_VIDEO_MAX_PERCENT)
        p = PVS_GS_VIDEO_MAX_PERCENT;
    while (p > 0 && k + parity_of(k, p) > PVS_GS_VIDEO_MAX_SHARDS)
        p--;
    return p;
}

static bool fits_full(int k, int percent, int min_parity)
{
    if (k > PVS_GS_VIDEO_MAX_BLOCK_DATA)
        return false;
    int p = block_percent(k, percent, min_parity);
    int want = percent > 0 ? parity_of(k, percent) : 0;
    if (want < min_parity)
        want = min_parity;
    return parity_of(k, p) >= want;
}

/* Splits n data packets into blocks. Returns the block count, 0 when n is
 * over 4 x 1023. *reduced is set when the requested parity did not fit. */
static int plan_blocks(int n, int percent, int min_parity, struct block *b, bool *reduced)
{
    *reduced = false;
    int most = n < PVS_GS_VIDEO_MAX_BLOCKS ? n : PVS_GS_VIDEO_MAX_BLOCKS;
    int count = 0;
    for (int c = 1; c <= most && !count; c++)
        if (fits_full((n + c - 1) / c, percent, min_parity))
            count = c;
    if (!count) {
        /* Spread as thin as allowed: the most parity each block can get. */
        count = most;
        if ((n + count - 1) / count > PVS_GS_VIDEO_MAX_BLOCK_DATA)
            return 0;
        *reduced = true;
    }
    for (int i = 0; i < count; i++) {
        b[i].k = n / count + (i < n % count ? 1 : 0);
        b[i].percent = block_percent(b[i].k, percent, min_parity);
        b[i].m = parity_of(b[i].k, b[i].percent);
    }
    return count;
}

size_t pvs_gs_video_max_frame(int packet_size)
{
    if (packet_size < PVS_GS_VIDEO_MIN_PACKET_SIZE || packet_size > PVS_GS_VIDEO_MAX_PACKET_SIZE ||
        packet_size % 16)
        return 0;
    size_t payload = (size_t)packet_size - PVS_GS_VIDEO_NV_BYTES;
    return (size_t)PVS_GS_VIDEO_MAX_BLOCKS * PVS_GS_VIDEO_MAX_BLOCK_DATA * payload -
           PVS_GS_VIDEO_FRAME_HEADER_BYTES;
}

size_t pvs_gs_video_max_fec_frame(int packet_size, int percent, int min_parity)
{
    if (!pvs_gs_video_max_frame(packet_size) || percent < 0 ||
        percent > PVS_GS_VIDEO_MAX_PERCENT || min_parity < 0 ||
        min_parity > PVS_GS_VIDEO_MAX_SHARDS)
        return 0;
    int k = PVS_GS_VIDEO_MAX_BLOCK_DATA;
    while (k > 0 && !fits_full(k, percent, min_parity))
        k--;
    size_t payload = (size_t)packet_size - PVS_GS_VIDEO_NV_BYTES;
    size_t n = (size_t)k * PVS_GS_VIDEO_MAX_BLOCKS * payload;
    return n > PVS_GS_VIDEO_FRAME_HEADER_BYTES ? n - PVS_GS_VIDEO_FRAME_HEADER_BYTES : 0;
}

/* ---- open, close ------------------------------------------------------- */

static bool fec_ok(int percent, int min_parity)
{
    return percent >= 0 && percent <= PVS_GS_VIDEO_MAX_PERCENT && min_parity >= 0 &&
           min_parity <= PVS_GS_VIDEO_MAX_SHARDS;
}

int pvs_gs_video_open(struct pvs_gs_video **out, const struct pvs_gs_video_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg)
        return PVS_EINVAL;
    if (cfg->codec < 0 || cfg->codec >= PVS_CODEC_COUNT) {
        PVS_LOG_E("gamestream video: unknown codec %d", (int)cfg->codec);
        return PVS_EINVAL;
    }
    if (!pvs_gs_video_max_frame(cfg->packet_size)) {
        PVS_LOG_E("gamestream video: packet size %d from the client is not a multiple of 16 "
                  "in %d..%d", cfg->packet_size, PVS_GS_VIDEO_MIN_PACKET_SIZE,
                  PVS_GS_VIDEO_MAX_PACKET_SIZE);
        return PVS_EINVAL;
    }
    if (!fec_ok(cfg->fec_percent, cfg->fec_min_parity)) {
        PVS_LOG_E("gamestream video: FEC %d %% with at least %d parity packets is out of range",
                  cfg->fec_percent, cfg->fec_min_parity);
        return PVS_EINVAL;
    }
    struct pvs_gs_video *v = calloc(1, sizeof(*v));
    if (!v)
        return PVS_ENOMEM;
    v->cfg = *cfg;
    v->payload = (size_t)cfg->packet_size - PVS_GS_VIDEO_NV_BYTES;
    v->plain_len = (size_t)cfg->packet_size + PVS_GS_VIDEO_RTP_BYTES;
    v->dgram_len = v->plain_len + (cfg->encrypt ? PVS_GS_VIDEO_ENC_BYTES : 0);
    v->seq = cfg->first_seq;
    v->frame_index = cfg->first_frame_index ? cfg->first_frame_index : 1;
    v->stream_packet = cfg->first_stream_packet & 0xFFFFFF;
    mbedtls_gcm_init(&v->gcm);
    if (cfg->encrypt &&
        mbedtls_gcm_setkey(&v->gcm, MBEDTLS_CIPHER_ID_AES, cfg->key, PVS_GS_VIDEO_KEY_BYTES * 8)) {
        PVS_LOG_E("gamestream video: AES-GCM key setup failed");
        pvs_gs_video_close(&v);
        return PVS_EEXTERNAL;
    }
    *out = v;
    return 0;
}

void pvs_gs_video_close(struct pvs_gs_video **pv)
{
    if (!pv || !*pv)
        return;
    struct pvs_gs_video *v = *pv;
    mbedtls_gcm_free(&v->gcm);
    for (int j = 0; j < PVS_GS_VIDEO_MAX_SHARDS; j++)
        free(v->rows[j]);
    free(v->tables);
    free(v->buf);
    /* the key, in the copy of the configuration */
    volatile uint8_t *key = v->cfg.key;
    for (size_t i = 0; i < sizeof(v->cfg.key); i++)
        key[i] = 0;
    free(v);
    *pv = NULL;
}

int pvs_gs_video_set_fec(struct pvs_gs_video *v, int percent, int min_parity)
{
    if (!v || !fec_ok(percent, min_parity))
        return PVS_EINVAL;
    v->cfg.fec_percent = percent;
    v->cfg.fec_min_parity = min_parity;
    return 0;
}

void pvs_gs_video_get_stats(const struct pvs_gs_video *v, struct pvs_gs_video_stats *out)
{
    if (v && out)
        *out = v->stats;
}

/* ---- Reed-Solomon ------------------------------------------------------ */

/* Grows *buf to `need` bytes (its content is not kept). */
static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    uint8_t *b = malloc(need);
    if (!b)
        return PVS_ENOMEM;
    free(*buf);
    *buf = b;
    *cap = need;
    return 0;
}

static const uint8_t *coeff_row(struct pvs_gs_video *v, int j)
{
    if (v->rows[j])
        return v->rows[j];
    uint8_t coeff[COLUMNS];
    for (int a = 0; a < COLUMNS; a++)
        coeff[a] = a == j ? 0 : gf_inv((unsigned char)(a ^ j)); /* a == j: never read */
    uint8_t *row = malloc((size_t)COLUMNS * TABLE_BYTES);
    if (!row)
        return NULL;
    ec_init_tables(COLUMNS, 1, coeff, row);
    v->rows[j] = row;
    return row;
}

/* Parity of one block: k data datagrams at data[0..k-1], m parity
 * datagrams written at parity[0..m-1], each plain_len bytes. */
static int encode_block(struct pvs_gs_video *v, int k, int m, uint8_t **data, uint8_t **parity)
{
    int rc = grow(&v->tables, &v->tables_cap, (size_t)TABLE_BYTES * (size_t)k * (size_t)m);
    if (rc < 0)
        return rc;
    for (int j = 0; j < m; j++) {
        const uint8_t *row = coeff_row(v, j);
        if (!row)
            return PVS_ENOMEM;
        memcpy(v->tables + (size_t)j * (size_t)k * TABLE_BYTES, row + (size_t)m * TABLE_BYTES,
               (size_t)k * TABLE_BYTES);
    }
    ec_encode_data((int)v->plain_len, k, m, v->tables, data, parity);
    return 0;
}

/* ---- headers ----------------------------------------------------------- */

/* What a packet's headers say. */
struct hdr {
    uint16_t seq;
    uint32_t timestamp;
    uint32_t stream_packet;
    uint8_t flags;
    int block, last_block;
    int k, shard, percent;
};

/* The fields the client reads from every packet, parity included. */
static void write_block_fields(const struct pvs_gs_video *v, uint8_t *p, const struct hdr *h)
{
    p[0] = RTP_FIRST_BYTE;
    p[1] = 0;                                   /* payload type: not read */
    pvs_put_be16(p + 2, h->seq);
    pvs_put_be32(p + 4, h->timestamp);
    pvs_put_be32(p + 8, v->cfg.ssrc);
    memset(p + 12, 0, 4);                       /* extension: not read */
    uint8_t *nv = p + PVS_GS_VIDEO_RTP_BYTES;
    pvs_put_le32(nv + 4, v->frame_index);
    nv[10] = MULTI_FEC_FLAGS;
    nv[11] = (uint8_t)((h->last_block << 6) | (h->block << 4));
    pvs_put_le32(nv + 12, ((uint32_t)h->k << 22) | ((uint32_t)h->shard << 12) |
                          ((uint32_t)h->percent << 4));
}

/* The fields that parity protects: only data packets get them written. */
static void write_data_fields(uint8_t *p, const struct hdr *h)
{
    uint8_t *nv = p + PVS_GS_VIDEO_RTP_BYTES;
    pvs_put_le32(nv, (h->stream_packet & 0xFFFFFF) << 8);
    nv[8] = h->flags;
    nv[9] = 0;                                  /* reserved */
}

static uint8_t frame_type(const struct pvs_packet *au, const struct pvs_gs_video_frame *meta)
{
    if (meta && meta->type != PVS_GS_FRAME_AUTO)
        return (uint8_t)meta->type;
    return au->keyframe ? PVS_GS_FRAME_IDR : PVS_GS_FRAME_P;
}

/* The 90 kHz RTP clock of a capture time (wraps with 32 bits). */
static uint32_t rtp_time(int64_t ns)
{
    uint64_t t = (uint64_t)ns;
    return (uint32_t)(t / 100000 * 9 + t % 100000 * 9 / 100000);
}

/* ---- encryption -------------------------------------------------------- */

static int encrypt_datagram(struct pvs_gs_video *v, uint8_t *d)
{
    uint8_t *iv = d;
    uint64_t n = v->iv_counter++;
    for (int i = 0; i < 8; i++)
        iv[i] = (uint8_t)(n >> (8 * i));
    iv[8] = 0;
    iv[9] = 0;
    iv[10] = 'H';
    iv[11] = 'V';
    pvs_put_le32(d + IV_BYTES, v->frame_index);
    uint8_t *tag = d + IV_BYTES + 4;
    uint8_t *body = d + PVS_GS_VIDEO_ENC_BYTES;
    if (mbedtls_gcm_crypt_and_tag(&v->gcm, MBEDTLS_GCM_ENCRYPT, v->plain_len, iv, IV_BYTES,
                                  NULL, 0, body, body, 16, tag))
        return PVS_EEXTERNAL;
    return 0;
}

/* ---- the frame --------------------------------------------------------- */

/* Copies bytes [off, off + payload) of the frame stream (header, then the
 * access unit) into dst, zero-filling past its end. */
static void copy_stream(uint8_t *dst, size_t payload, size_t off, const uint8_t *fh,
                        const uint8_t *au, size_t au_size)
{
    size_t done = 0;
    if (off < PVS_GS_VIDEO_FRAME_HEADER_BYTES) {
        size_t n = PVS_GS_VIDEO_FRAME_HEADER_BYTES - off;
        if (n > payload)
            n = payload;
        memcpy(dst, fh + off, n);
        done = n;
        off += n;
    }
    size_t at = off - PVS_GS_VIDEO_FRAME_HEADER_BYTES;
    size_t n = at < au_size ? au_size - at : 0;
    if (n > payload - done)
        n = payload - done;
    if (n)
        memcpy(dst + done, au + at, n);
    memset(dst + done + n, 0, payload - done - n);
}

int pvs_gs_video_packetize(struct pvs_gs_video *v, const struct pvs_packet *au,
                           const struct pvs_gs_video_frame *meta,
                           struct pvs_gs_video_batch *out)
{
    if (!v || !au || !out || !au->data || au->size == 0)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (au->size > pvs_gs_video_max_frame(v->cfg.packet_size)) {
        v->stats.too_large++;
        return PVS_ERANGE;
    }
    size_t stream_len = au->size + PVS_GS_VIDEO_FRAME_HEADER_BYTES;
    int n = (int)((stream_len + v->payload - 1) / v->payload);
    struct block blocks[PVS_GS_VIDEO_MAX_BLOCKS];
    bool reduced;
    int nblocks = plan_blocks(n, v->cfg.fec_percent, v->cfg.fec_min_parity, blocks, &reduced);
    int total = 0, parity_total = 0;
    for (int b = 0; b < nblocks; b++) {
        total += blocks[b].k + blocks[b].m;
        parity_total += blocks[b].m;
    }
    int rc = grow(&v->buf, &v->cap, (size_t)total * v->dgram_len);
    if (rc < 0)
        return rc;

    /* The frame header (src/VideoDepacketizer.c): 0x01 = this 8-byte form;
     * host latency; frame type; the bytes of the frame stream in the last
     * packet, which lets codecs other than H.264 and HEVC drop the zero
     * padding. */
    uint8_t fh[PVS_GS_VIDEO_FRAME_HEADER_BYTES] = { FRAME_HEADER_SHORT };
    pvs_put_le16(fh + 1, meta ? meta->host_latency : 0);
    fh[3] = frame_type(au, meta);
    pvs_put_le16(fh + 4, (uint16_t)(stream_len - (size_t)(n - 1) * v->payload));

    size_t plain_off = v->cfg.encrypt ? PVS_GS_VIDEO_ENC_BYTES : 0;
    uint32_t ts = rtp_time(au->capture_ns);
    uint8_t *data_ptr[PVS_GS_VIDEO_MAX_BLOCK_DATA];
    uint8_t *parity_ptr[PVS_GS_VIDEO_MAX_SHARDS];
    int slot = 0, packet = 0;
    for (int b = 0; b < nblocks; b++) {
        const struct block *bl = &blocks[b];
        struct hdr h = { .timestamp = ts, .block = b, .last_block = nblocks - 1, .k = bl->k,
                         .percent = bl->percent };
        for (int i = 0; i < bl->k + bl->m; i++, slot++) {
            uint8_t *p = v->buf + (size_t)slot * v->dgram_len + plain_off;
            h.seq = (uint16_t)(v->seq + i);
            h.shard = i;
            if (i < bl->k) {
                h.stream_packet = v->stream_packet + (uint32_t)packet;
                h.flags = FLAG_CONTAINS_PIC_DATA | (i == 0 ? FLAG_SOF : 0) |
                          (i == bl->k - 1 ? FLAG_EOF : 0);
                write_data_fields(p, &h);
                write_block_fields(v, p, &h);
                copy_stream(p + HEADERS, v->payload, (size_t)packet * v->payload, fh, au->data,
                            au->size);
                data_ptr[i] = p;
                packet++;
            } else {
                parity_ptr[i - bl->k] = p;
            }
        }
        if (bl->m > 0) {
            rc = encode_block(v, bl->k, bl->m, data_ptr, parity_ptr);
            if (rc < 0)
                return rc;
            for (int j = 0; j < bl->m; j++) {
                h.seq = (uint16_t)(v->seq + bl->k + j);
                h.shard = bl->k + j;
                write_block_fields(v, parity_ptr[j], &h);
            }
        }
        v->seq = (uint16_t)(v->seq + bl->k + bl->m);
    }
    if (v->cfg.encrypt) {
        for (int i = 0; i < total; i++) {
            rc = encrypt_datagram(v, v->buf + (size_t)i * v->dgram_len);
            if (rc < 0) {
                PVS_LOG_E("gamestream video: AES-GCM encryption failed");
                return rc;
            }
        }
    }

    *out = (struct pvs_gs_video_batch){
        .data = v->buf, .stride = v->dgram_len, .len = v->dgram_len, .count = total,
        .data_packets = n, .blocks = nblocks, .frame_index = v->frame_index,
    };
    v->frame_index++;
    v->stream_packet = (v->stream_packet + (uint32_t)n) & 0xFFFFFF;
    v->stats.frames++;
    v->stats.data_packets += (uint64_t)n;
    v->stats.parity_packets += (uint64_t)parity_total;
    if (reduced) {
        if (parity_total)
            v->stats.fec_reduced++;
        else
            v->stats.fec_off++;
    }
    return 0;
}
