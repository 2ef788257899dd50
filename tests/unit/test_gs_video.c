/* Moonlight's video packets (gamestream/gs_video.h) against a reference
 * receiver written here from what the client's receive path does
 * (moonlight-common-c src/VideoStream.c, src/RtpVideoQueue.c,
 * src/VideoDepacketizer.c, reedsolomon/rs.c), sharing no code with the
 * module: it decrypts, parses the headers, byte-swaps the RTP fields in
 * place as the client does, groups packets into FEC blocks, repairs lost
 * data packets by Gauss-Jordan elimination on the client's generator rows
 * (identity over 1 / ((m + i) XOR j) in GF(2^8) mod x^8+x^4+x^3+x^2+1,
 * multiplied here bit by bit), rebuilds the fields the client rebuilds,
 * applies its sanity checks, and reassembles the access unit.
 *
 * Checked: byte-exact frames with every erasure pattern of a small block
 * and random ones of 4-block frames; parity equal to the client's matrix;
 * sequence number, stream packet index and frame index wraps; packet sizes
 * from ANNOUNCE; the largest frame with and without full parity; the
 * minimum parity count; encryption, a tampered packet or tag or a wrong
 * key refused, and nonces never repeated. */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/gcm.h>

#include "common/error.h"
#include "gamestream/gs_video.h"
#include "common/wire.h"
#include "tests/unit/gf_ref.h"
#include "tests/unit/test.h"

/* The client's generator row for parity j of a block with m parity rows. */
static uint8_t client_coef(int m, int j, int i)
{
    return gf_ref_inv[(m + i) ^ j];
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- the reference receiver ----------------------------------------------- */

#define MAX_PACKETS (4 * 1023 + 4 * 255)

struct pkt {
    uint8_t *p;          /* plain datagram, plain_len bytes */
    bool present;
    uint16_t seq;
    uint32_t ts, ssrc, frame;
    uint8_t first_byte;
    int block, last_block, shard, k, percent;
};

struct rx {
    int packet_size;
    bool encrypt;
    mbedtls_gcm_context gcm;
    size_t plain_len;
    uint8_t *plain;      /* MAX_PACKETS * plain_len */
    struct pkt *pkts;    /* MAX_PACKETS */
    bool have_spi;
    uint32_t last_spi;   /* stream packet index of the last data packet */
    bool have_frame;
    uint32_t last_frame;
    int rejected;        /* datagrams refused (decryption, headers) */
    int recovered;       /* data packets rebuilt by FEC */
    /* the reassembled frame */
    uint8_t *frame;
    size_t frame_len, frame_cap;
    bool padding_zero;
    uint8_t frame_type;
    uint16_t latency;
    uint32_t ts, frame_index;
};

static void rx_init(struct rx *r, int packet_size, bool encrypt, const uint8_t *key)
{
    memset(r, 0, sizeof(*r));
    r->packet_size = packet_size;
    r->encrypt = encrypt;
    r->plain_len = (size_t)packet_size + 16;
    r->plain = malloc(MAX_PACKETS * r->plain_len);
    r->pkts = calloc(MAX_PACKETS, sizeof(*r->pkts));
    r->frame_cap = MAX_PACKETS * (size_t)packet_size;
    r->frame = malloc(r->frame_cap);
    mbedtls_gcm_init(&r->gcm);
    if (encrypt)
        mbedtls_gcm_setkey(&r->gcm, MBEDTLS_CIPHER_ID_AES, key, 128);
}

static void rx_free(struct rx *r)
{
    mbedtls_gcm_free(&r->gcm);
    free(r->plain);
    free(r->pkts);
    free(r->frame);
}

/* VideoStream.c: [IV 12][frame LE32][tag 16][ciphertext], no additional
 * data. Returns 0 or -1. */
static int rx_decrypt(struct rx *r, const uint8_t *d, size_t len, uint8_t *out)
{
    if (len != r->plain_len + 32)
        return -1;
    uint8_t tmp[70000];
    if (mbedtls_gcm_auth_decrypt(&r->gcm, r->plain_len, d, 12, NULL, 0, d + 16, 16, d + 32, tmp))
        return -1;
    memcpy(out, tmp, r->plain_len);
    return 0;
}

/* Parses one datagram into slot i. Returns 0 or -1 (refused). */
static int rx_parse(struct rx *r, int i, const uint8_t *d, size_t len)
{
    struct pkt *k = &r->pkts[i];
    k->p = r->plain + (size_t)i * r->plain_len;
    if (r->encrypt) {
        if (rx_decrypt(r, d, len, k->p))
            return -1;
    } else {
        if (len != r->plain_len)
            return -1;
        memcpy(k->p, d, len);
    }
    uint8_t *p = k->p;
    if (!(p[0] & 0x10))  /* FLAG_EXTENSION: the client then skips 16 bytes */
        return -1;
    k->first_byte = p[0];
    k->seq = pvs_get_be16(p + 2);
    k->ts = pvs_get_be32(p + 4);
    k->ssrc = pvs_get_be32(p + 8);
    /* The client converts these in place before the FEC queue sees the
     * packet: on a little-endian machine their bytes end up swapped. */
    p[2] = (uint8_t)k->seq;
    p[3] = (uint8_t)(k->seq >> 8);
    memcpy(p + 4, &k->ts, 4);
    memcpy(p + 8, &k->ssrc, 4);
    const uint8_t *nv = p + 16;
    k->frame = le32(nv + 4);
    if (r->encrypt)
        CHECK(le32(d + 12) == k->frame);  /* the clear frame number */
    k->block = (nv[11] >> 4) & 3;
    k->last_block = (nv[11] >> 6) & 3;
    uint32_t fec = le32(nv + 12);
    k->shard = (int)((fec >> 12) & 0x3FF);
    k->k = (int)(fec >> 22);
    k->percent = (int)((fec >> 4) & 0xFF);
    k->present = true;
    return 0;
}

/* Repairs one block: slots first..first+k+m-1. Returns 0, or -1 when
 * fewer than k packets arrived. */
static int rx_repair(struct rx *r, int first, int k, int m, const struct pkt *head)
{
    int have = 0, missing = 0;
    for (int i = 0; i < k + m; i++)
        have += r->pkts[first + i].present;
    for (int i = 0; i < k; i++)
        missing += !r->pkts[first + i].present;
    if (have < k)
        return -1;
    if (!missing)
        return 0;
    /* k received rows: the data rows that arrived, then parity rows */
    int rows[255], n = 0;
    for (int i = 0; i < k + m && n < k; i++)
        if (r->pkts[first + i].present)
            rows[n++] = i;
    uint8_t *a = calloc((size_t)k * (size_t)k, 1);
    for (int x = 0; x < k; x++) {
        for (int c = 0; c < k; c++) {
            int row = rows[x];
            a[x * k + c] = row < k ? (uint8_t)(row == c) : client_coef(m, row - k, c);
        }
    }
    int rc = gf_ref_invert(a, k);
    CHECK(rc == 0);
    for (int i = 0; i < k && rc == 0; i++) {
        struct pkt *d = &r->pkts[first + i];
        if (d->present)
            continue;
        d->p = r->plain + (size_t)(first + i) * r->plain_len;
        memset(d->p, 0, r->plain_len);
        for (int x = 0; x < k; x++) {
            uint8_t f = a[i * k + x];
            const uint8_t *src = r->pkts[first + rows[x]].p;
            for (size_t b = 0; b < r->plain_len; b++)
                d->p[b] ^= gf_ref_mul[f][src[b]];
        }
        /* what the client rebuilds (RtpVideoQueue.c, reconstructFrame) */
        d->seq = (uint16_t)(head->seq - head->shard + i);
        d->first_byte = head->first_byte;
        d->ts = head->ts;
        d->ssrc = head->ssrc;
        d->frame = head->frame;
        d->block = head->block;
        d->last_block = head->last_block;
        d->shard = i;
        d->k = k;
        d->percent = head->percent;
        d->present = true;
        uint8_t flags = d->p[16 + 8];
        if (i == 0)
            CHECK(flags & 0x4);
        if (i == k - 1)
            CHECK(flags & 0x2);
        if (i > 0 && i < k - 1)
            CHECK(flags & 0x1);
        CHECK((flags & ~0x7) == 0);
        r->recovered++;
    }
    free(a);
    return rc;
}

/* Appends the payload of one data packet; first says it opens the frame. */
static int rx_depacketize(struct rx *r, const struct pkt *k, bool first, bool last)
{
    const uint8_t *nv = k->p + 16;
    uint32_t spi = (le32(nv) >> 8) & 0xFFFFFF;
    uint8_t flags = nv[8];
    /* VideoDepacketizer.c: consecutive indices inside a frame, never
     * backwards at a frame's start (24-bit arithmetic) */
    if (r->have_spi) {
        uint32_t expect = (r->last_spi + 1) & 0xFFFFFF;
        if (!(flags & 0x4) && spi != expect)
            return -1;
        if (((spi - expect) & 0xFFFFFF) > 0x7FFFFF)
            return -1;
    }
    r->have_spi = true;
    r->last_spi = spi;
    const uint8_t *payload = nv + 16;
    size_t n = (size_t)r->packet_size - 16;
    if (first) {
        CHECK((flags & 0x5) == 0x5);  /* SOF, picture data */
        CHECK(payload[0] == 0x01);    /* the 8-byte frame header */
        r->latency = le16(payload + 1);
        r->frame_type = payload[3];
        r->frame_len = 0;
        memcpy(r->frame, payload, n);
        r->frame_len = n;
    } else {
        memcpy(r->frame + r->frame_len, payload, n);
        r->frame_len += n;
    }
    if (last) {
        /* the frame stream's bytes in the last packet, header included */
        uint16_t tail = le16(r->frame + 4);
        CHECK(tail >= 1 && tail <= n);
        size_t cut = r->frame_len - n + tail;
        r->padding_zero = true;
        for (size_t b = cut; b < r->frame_len; b++)
            r->padding_zero &= r->frame[b] == 0;
        memmove(r->frame, r->frame + 8, cut - 8);
        r->frame_len = cut - 8;
    }
    return 0;
}

/* Receives one batch with datagrams drop[i] lost. Returns 0 with the frame
 * in r->frame, or -1 when it cannot be rebuilt. */
static int rx_frame(struct rx *r, const struct pvs_gs_video_batch *b, const bool *drop)
{
    size_t dgram = r->plain_len + (r->encrypt ? 32 : 0);
    CHECK(b->len == dgram);
    CHECK(b->stride == dgram);
    CHECK(b->count > 0 && b->count <= MAX_PACKETS);
    if (b->count <= 0 || b->count > MAX_PACKETS)
        return -1;
    for (int i = 0; i < b->count; i++) {
        r->pkts[i].present = false;
        if (drop && drop[i])
            continue;
        if (rx_parse(r, i, b->data + (size_t)i * b->stride, b->len)) {
            r->rejected++;
            r->pkts[i].present = false;
        }
    }
    /* a packet that arrived, for the fields every packet of a frame shares */
    const struct pkt *any = NULL;
    for (int i = 0; i < b->count && !any; i++)
        if (r->pkts[i].present)
            any = &r->pkts[i];
    if (!any)
        return -1;
    if (r->have_frame)
        CHECK(any->frame == r->last_frame + 1);
    r->have_frame = true;
    r->last_frame = any->frame;
    r->frame_index = any->frame;
    r->ts = any->ts;
    int nblocks = any->last_block + 1;
    CHECK(nblocks == b->blocks);

    /* blocks in order: k data, m = ceil(k * percent / 100) parity */
    int first = 0, data_seen = 0;
    bool done = false;
    for (int blk = 0; blk < nblocks; blk++) {
        const struct pkt *head = NULL;
        for (int i = first; i < b->count && !head; i++)
            if (r->pkts[i].present && r->pkts[i].block == blk)
                head = &r->pkts[i];
        if (!head)
            return -1;
        int k = head->k, m = (head->k * head->percent + 99) / 100;
        if (m > 0)
            CHECK(k + m <= 255);
        CHECK(k <= 1023);
        CHECK(first + k + m <= b->count);
        if (first + k + m > b->count)
            return -1;
        for (int i = first; i < first + k + m; i++) {
            const struct pkt *p = &r->pkts[i];
            if (!p->present)
                continue;
            CHECK(p->block == blk && p->shard == i - first && p->k == k &&
                  p->percent == head->percent && p->frame == head->frame &&
                  p->last_block == nblocks - 1 && p->ts == head->ts);
            CHECK(p->seq == (uint16_t)(head->seq - head->shard + (i - first)));
        }
        if (rx_repair(r, first, k, m, head))
            return -1;
        for (int i = 0; i < k; i++) {
            /* the client ends a frame at EOF in its last block, and checks
             * SOF and EOF at each block's ends when it repairs one */
            bool eof = r->pkts[first + i].p[16 + 8] & 0x2;
            CHECK(eof == (i == k - 1));
            bool is_first = blk == 0 && i == 0;
            bool is_last = blk == nblocks - 1 && eof;
            if (rx_depacketize(r, &r->pkts[first + i], is_first, is_last))
                return -1;
            done |= is_last;
        }
        data_seen += k;
        first += k + m;
    }
    CHECK(first == b->count);
    CHECK(data_seen == b->data_packets);
    return done ? 0 : -1;
}

/* ---- helpers ---------------------------------------------------------------- */

static const uint8_t key[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
                                 1, 2, 3, 4, 5, 6, 7, 8 };

static struct pvs_gs_video *open_video(int packet_size, int percent, int min_parity,
                                       bool encrypt, enum pvs_codec codec)
{
    struct pvs_gs_video_config c = {
        .codec = codec, .packet_size = packet_size, .fec_percent = percent,
        .fec_min_parity = min_parity, .encrypt = encrypt, .ssrc = 0x11223344,
    };
    memcpy(c.key, key, sizeof(key));
    struct pvs_gs_video *v = NULL;
    CHECK(pvs_gs_video_open(&v, &c) == 0);
    return v;
}

static uint8_t *random_au(size_t n)
{
    uint8_t *d = malloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)rnd();
    if (n >= 4) /* an Annex B start, as an encoder would write */
        memcpy(d, "\0\0\0\1", 4);
    return d;
}

/* Packetizes `size` random bytes, drops what `dropper` says, and checks the
 * frame comes back byte-exact. Returns the receiver's result. */
static int round_trip(struct pvs_gs_video *v, struct rx *r, size_t size, bool keyframe,
                      void (*dropper)(struct rx *, const struct pvs_gs_video_batch *, bool *))
{
    uint8_t *au = random_au(size);
    struct pvs_packet pkt = { .data = au, .size = size, .keyframe = keyframe,
                              .capture_ns = 1000000000 };
    struct pvs_gs_video_batch b;
    int rc = pvs_gs_video_packetize(v, &pkt, NULL, &b);
    CHECK_INT(rc, ==, 0);
    if (rc) {
        free(au);
        return rc;
    }
    bool *drop = calloc((size_t)b.count, 1);
    if (dropper)
        dropper(r, &b, drop);
    rc = rx_frame(r, &b, drop);
    if (rc == 0) {
        CHECK_INT(r->frame_len, ==, size);
        CHECK(r->frame_len == size && memcmp(r->frame, au, size) == 0);
        CHECK(r->padding_zero);
        CHECK_INT(r->frame_type, ==, keyframe ? 2 : 1);
        CHECK_INT(r->ts, ==, 90000);
        CHECK_INT(r->frame_index, ==, b.frame_index);
    }
    free(drop);
    free(au);
    return rc;
}

/* The plain headers of datagram i (decrypting a copy when needed). */
static const uint8_t *plain_header(struct rx *r, const struct pvs_gs_video_batch *b, int i,
                                   uint8_t *tmp)
{
    const uint8_t *d = b->data + (size_t)i * b->stride;
    if (!r->encrypt)
        return d;
    CHECK(rx_decrypt(r, d, b->len, tmp) == 0);
    return tmp;
}

/* Drops exactly m random packets of every block (the most it can lose). */
static void drop_m_per_block(struct rx *r, const struct pvs_gs_video_batch *b, bool *drop)
{
    static uint8_t tmp[70000];
    int first = 0;
    while (first < b->count) {
        uint32_t fec = le32(plain_header(r, b, first, tmp) + 28);
        int k = (int)(fec >> 22), pct = (int)((fec >> 4) & 0xFF);
        int m = (k * pct + 99) / 100;
        if (k < 1 || first + k + m > b->count)
            break;
        for (int n = 0; n < m;) {
            int i = first + (int)(rnd() % (uint32_t)(k + m));
            if (!drop[i]) {
                drop[i] = true;
                n++;
            }
        }
        first += k + m;
    }
}

/* ---- tests ---------------------------------------------------------------- */

/* The parity bytes the client's decoder relies on (stream packet index,
 * flags, reserved, payload) are the client's matrix times the data. */
static void test_parity_is_client_matrix(void)
{
    struct pvs_gs_video *v = open_video(1024, 20, 2, false, PVS_CODEC_H264);
    size_t size = 300 * 1008;  /* two blocks */
    uint8_t *au = random_au(size);
    struct pvs_packet pkt = { .data = au, .size = size };
    struct pvs_gs_video_batch b;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.blocks, ==, 2);
    int first = 0, checked = 0;
    while (first < b.count) {
        const uint8_t *base = b.data + (size_t)first * b.stride;
        uint32_t fec = le32(base + 28);
        int k = (int)(fec >> 22), m = (k * (int)((fec >> 4) & 0xFF) + 99) / 100;
        for (int j = 0; j < m; j++) {
            const uint8_t *par = b.data + (size_t)(first + k + j) * b.stride;
            bool same = true;
            for (size_t col = 16; col < b.len; col++) {
                if ((col >= 20 && col < 24) || (col >= 26 && col < 32))
                    continue;  /* overwritten with the parity packet's own header */
                uint8_t x = 0;
                for (int i = 0; i < k; i++)
                    x ^= gf_ref_mul[client_coef(m, j, i)][b.data[(size_t)(first + i) * b.stride + col]];
                same &= x == par[col];
            }
            CHECK(same);
            checked++;
        }
        first += k + m;
    }
    CHECK(checked > 0);
    free(au);
    pvs_gs_video_close(&v);
    CHECK(v == NULL);
}

static void test_round_trip_sizes(void)
{
    static const enum pvs_codec codecs[] = { PVS_CODEC_H264, PVS_CODEC_HEVC, PVS_CODEC_AV1 };
    for (int c = 0; c < 3; c++) {
        struct pvs_gs_video *v = open_video(1392, 20, 2, false, codecs[c]);
        struct rx r;
        rx_init(&r, 1392, false, NULL);
        /* one byte; the first packet exactly full; one byte into a second;
         * a typical P-frame; a keyframe of several blocks */
        static const size_t sizes[] = { 1, 1376 - 8, 1376 - 7, 30000, 600000 };
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
            CHECK(round_trip(v, &r, sizes[i], i == 4, NULL) == 0);
        CHECK_INT(r.recovered, ==, 0);
        rx_free(&r);
        pvs_gs_video_close(&v);
    }
}

/* Every pattern of up to m losses in a block of k = 3, m = 2. */
static void test_every_erasure_small_block(void)
{
    struct pvs_gs_video *v = open_video(64, 20, 2, false, PVS_CODEC_H264);
    struct rx r;
    rx_init(&r, 64, false, NULL);
    size_t size = 3 * 48 - 8 - 5;  /* three data packets */
    uint8_t *au = random_au(size);
    int patterns = 0;
    for (int mask = 0; mask < 32; mask++) {
        int lost = __builtin_popcount((unsigned)mask);
        if (lost > 2)
            continue;
        struct pvs_packet pkt = { .data = au, .size = size, .capture_ns = 1000000000 };
        struct pvs_gs_video_batch b;
        CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
        CHECK_INT(b.count, ==, 5);
        bool drop[5];
        for (int i = 0; i < 5; i++)
            drop[i] = mask & (1 << i);
        CHECK(rx_frame(&r, &b, drop) == 0);
        CHECK(r.frame_len == size && memcmp(r.frame, au, size) == 0);
        patterns++;
    }
    CHECK_INT(patterns, ==, 16);
    CHECK_INT(r.recovered, ==, 15); /* each data packet is lost in 1 + 4 patterns */
    free(au);
    rx_free(&r);
    pvs_gs_video_close(&v);
}

/* Frames of up to 4 blocks with as many losses as each block has parity. */
static void test_random_losses(void)
{
    struct pvs_gs_video *v = open_video(1024, 20, 2, false, PVS_CODEC_HEVC);
    struct rx r;
    rx_init(&r, 1024, false, NULL);
    static const size_t sizes[] = { 700, 5000, 60000, 250000, 700000, 850000 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        CHECK(round_trip(v, &r, sizes[i], false, drop_m_per_block) == 0);
    CHECK(r.recovered > 100);
    struct pvs_gs_video_stats s;
    pvs_gs_video_get_stats(v, &s);
    CHECK_INT(s.frames, ==, 6);
    CHECK_INT(s.fec_reduced, ==, 0);
    rx_free(&r);
    pvs_gs_video_close(&v);
}

/* One loss more than a block's parity cannot be repaired. */
static void drop_m_plus_one(struct rx *r, const struct pvs_gs_video_batch *b, bool *drop)
{
    drop_m_per_block(r, b, drop);
    for (int i = 0; i < b->count; i++) {
        if (!drop[i]) {
            drop[i] = true;
            break;
        }
    }
}

static void test_too_many_losses(void)
{
    struct pvs_gs_video *v = open_video(1024, 20, 2, false, PVS_CODEC_H264);
    struct rx r;
    rx_init(&r, 1024, false, NULL);
    uint8_t *au = random_au(20000);
    struct pvs_packet pkt = { .data = au, .size = 20000 };
    struct pvs_gs_video_batch b;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    bool *drop = calloc((size_t)b.count, 1);
    drop_m_plus_one(&r, &b, drop);
    CHECK(rx_frame(&r, &b, drop) == -1);
    free(drop);
    free(au);
    rx_free(&r);
    pvs_gs_video_close(&v);
}

/* RTP sequence numbers (16 bits), stream packet indices (24 bits) and
 * frame indices (16 bits, which the client's FEC queue compares, and 32)
 * cross their wraps. */
static void test_wraparound(void)
{
    struct pvs_gs_video_config c = {
        .codec = PVS_CODEC_H264, .packet_size = 512, .fec_percent = 20, .fec_min_parity = 2,
        .first_seq = 65500, .first_frame_index = 0xFFFFFFFE, .first_stream_packet = 0xFFFFC0,
    };
    struct pvs_gs_video *v = NULL;
    CHECK(pvs_gs_video_open(&v, &c) == 0);
    struct rx r;
    rx_init(&r, 512, false, NULL);
    uint16_t expect_seq = 65500;
    for (int f = 0; f < 4; f++) {
        uint8_t *au = random_au(20000);
        struct pvs_packet pkt = { .data = au, .size = 20000, .capture_ns = 1000000000 };
        struct pvs_gs_video_batch b;
        CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
        CHECK_INT(b.frame_index, ==, (uint32_t)(0xFFFFFFFEu + (uint32_t)f));
        for (int i = 0; i < b.count; i++)
            CHECK(pvs_get_be16(b.data + (size_t)i * b.stride + 2) == (uint16_t)(expect_seq + i));
        expect_seq = (uint16_t)(expect_seq + b.count);
        bool *drop = calloc((size_t)b.count, 1);
        drop_m_per_block(&r, &b, drop);
        CHECK(rx_frame(&r, &b, drop) == 0);
        CHECK(r.frame_len == 20000 && memcmp(r.frame, au, 20000) == 0);
        free(drop);
        free(au);
    }
    CHECK(r.last_spi < 0x100);  /* went past 0xFFFFFF */
    rx_free(&r);
    pvs_gs_video_close(&v);

    /* 16-bit frame index wrap */
    c.first_frame_index = 0xFFFF;
    CHECK(pvs_gs_video_open(&v, &c) == 0);
    rx_init(&r, 512, false, NULL);
    for (int f = 0; f < 2; f++)
        CHECK(round_trip(v, &r, 3000, false, drop_m_per_block) == 0);
    CHECK_INT(r.last_frame, ==, 0x10000);
    rx_free(&r);
    pvs_gs_video_close(&v);
}

/* The packet size is the client's: every datagram is it plus the RTP
 * header (plus the encryption header). */
static void test_packet_sizes(void)
{
    static const int ok[] = { 32, 64, 1024, 1184, 1360, 1392, 8944 };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        for (int enc = 0; enc < 2; enc++) {
            struct pvs_gs_video *v = open_video(ok[i], 20, 2, enc, PVS_CODEC_AV1);
            struct rx r;
            rx_init(&r, ok[i], enc, key);
            CHECK(round_trip(v, &r, 10000, true, drop_m_per_block) == 0);
            CHECK_INT(r.rejected, ==, 0);
            rx_free(&r);
            pvs_gs_video_close(&v);
        }
    }
    static const int bad[] = { 0, 16, 31, 1000, 1400 + 1, 65456 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct pvs_gs_video_config c = { .codec = PVS_CODEC_H264, .packet_size = bad[i] };
        struct pvs_gs_video *v = (struct pvs_gs_video *)&c;
        CHECK(pvs_gs_video_open(&v, &c) == PVS_EINVAL);
        CHECK(v == NULL);
    }
    struct pvs_gs_video_config c = { .codec = PVS_CODEC_H264, .packet_size = 1024,
                                     .fec_percent = 256 };
    struct pvs_gs_video *v = NULL;
    CHECK(pvs_gs_video_open(&v, &c) == PVS_EINVAL);
    c.fec_percent = 20;
    c.codec = PVS_CODEC_COUNT;
    CHECK(pvs_gs_video_open(&v, &c) == PVS_EINVAL);
}

static void test_largest_frames(void)
{
    const int ps = 1024;
    size_t max = pvs_gs_video_max_frame(ps);
    CHECK_INT(max, ==, 4 * 1023 * 1008 - 8);
    size_t max_fec = pvs_gs_video_max_fec_frame(ps, 20, 2);
    CHECK_INT(max_fec, ==, 4 * 212 * 1008 - 8);  /* 212 + ceil(212 / 5) = 255 */
    CHECK_INT(pvs_gs_video_max_frame(1000), ==, 0);

    struct pvs_gs_video *v = open_video(ps, 20, 2, false, PVS_CODEC_H264);
    struct rx r;
    rx_init(&r, ps, false, NULL);
    struct pvs_gs_video_stats s;

    /* full parity up to max_fec, in 4 blocks */
    CHECK(round_trip(v, &r, max_fec, true, drop_m_per_block) == 0);
    pvs_gs_video_get_stats(v, &s);
    CHECK_INT(s.fec_reduced + s.fec_off, ==, 0);
    /* a packet more: less parity, still repairable with what there is */
    CHECK(round_trip(v, &r, max_fec + 1008, true, drop_m_per_block) == 0);
    pvs_gs_video_get_stats(v, &s);
    CHECK_INT(s.fec_reduced, ==, 1);
    /* the largest frame goes without parity */
    CHECK(round_trip(v, &r, max, true, NULL) == 0);
    pvs_gs_video_get_stats(v, &s);
    CHECK_INT(s.fec_off, ==, 1);

    /* one byte more is refused and uses no frame index */
    uint32_t next = r.last_frame + 1;
    uint8_t *au = random_au(max + 1);
    struct pvs_packet pkt = { .data = au, .size = max + 1 };
    struct pvs_gs_video_batch b;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == PVS_ERANGE);
    CHECK(b.count == 0);
    pkt.size = 100;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.frame_index, ==, next);
    pvs_gs_video_get_stats(v, &s);
    CHECK_INT(s.too_large, ==, 1);
    free(au);
    rx_free(&r);
    pvs_gs_video_close(&v);
}

/* Small frames get the minimum parity by a raised percentage; 0 % and no
 * minimum sends no parity at all. */
static void test_min_parity(void)
{
    struct pvs_gs_video *v = open_video(1024, 20, 2, false, PVS_CODEC_H264);
    uint8_t au[100] = { 0, 0, 0, 1 };
    struct pvs_packet pkt = { .data = au, .size = sizeof(au) };
    struct pvs_gs_video_batch b;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.count, ==, 3);
    CHECK_INT(b.data_packets, ==, 1);
    uint32_t fec = le32(b.data + 28);
    int pct = (int)((fec >> 4) & 0xFF);
    CHECK_INT((1 * pct + 99) / 100, ==, 2);
    CHECK(pvs_gs_video_set_fec(v, 0, 0) == 0);
    CHECK(pvs_gs_video_set_fec(v, -1, 0) == PVS_EINVAL);
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.count, ==, 1);
    CHECK_INT((le32(b.data + 28) >> 4) & 0xFF, ==, 0);
    /* min parity 4 on 10 data packets at 20 %: 4 parity */
    CHECK(pvs_gs_video_set_fec(v, 20, 4) == 0);
    uint8_t *big = random_au(10 * 1008 - 8);
    pkt.data = big;
    pkt.size = 10 * 1008 - 8;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.count, ==, 14);
    free(big);
    /* a minimum no 255 % can reach: the most parity there is, no empty
     * block (1 data packet: 3 parity) */
    CHECK(pvs_gs_video_set_fec(v, 20, 10) == 0);
    pkt.data = au;
    pkt.size = sizeof(au);
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.blocks, ==, 1);
    CHECK_INT(b.count, ==, 4);
    pvs_gs_video_close(&v);
    /* without parity a block holds 1023 packets */
    CHECK_INT(pvs_gs_video_max_fec_frame(1024, 0, 0), ==, pvs_gs_video_max_frame(1024));
}

/* Header fields: frame type, host latency, flags per block, multi-FEC
 * bytes, the 90 kHz timestamp. */
static void test_header_fields(void)
{
    struct pvs_gs_video *v = open_video(256, 10, 1, false, PVS_CODEC_H264);
    uint8_t *au = random_au(240 * 500);
    struct pvs_packet pkt = { .data = au, .size = 240 * 500, .capture_ns = 2500000000ll };
    struct pvs_gs_video_frame meta = { .type = PVS_GS_FRAME_REF_INVALIDATED, .host_latency = 123 };
    struct pvs_gs_video_batch b;
    CHECK(pvs_gs_video_packetize(v, &pkt, &meta, &b) == 0);
    CHECK(b.blocks >= 2);
    const uint8_t *p0 = b.data;
    CHECK_INT(p0[0], ==, 0x90);
    CHECK_INT(pvs_get_be32(p0 + 4), ==, 225000);
    CHECK_INT(pvs_get_be32(p0 + 8), ==, 0x11223344);
    CHECK_INT(p0[32], ==, 0x01);
    CHECK_INT(le16(p0 + 33), ==, 123);
    CHECK_INT(p0[35], ==, 5);
    int first = 0;
    for (int blk = 0; blk < b.blocks; blk++) {
        const uint8_t *nv = b.data + (size_t)first * b.stride + 16;
        uint32_t fec = le32(nv + 12);
        int k = (int)(fec >> 22), m = (k * (int)((fec >> 4) & 0xFF) + 99) / 100;
        for (int i = 0; i < k + m; i++) {
            const uint8_t *q = b.data + (size_t)(first + i) * b.stride + 16;
            CHECK_INT(q[11], ==, (b.blocks - 1) << 6 | blk << 4);
            CHECK_INT(q[10], ==, 0x10);
            if (i < k)
                CHECK_INT(q[8], ==, 1 | (i == 0 ? 4 : 0) | (i == k - 1 ? 2 : 0));
        }
        first += k + m;
    }
    pkt.keyframe = true;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    CHECK_INT(b.data[35], ==, 2);
    CHECK(pvs_gs_video_packetize(v, NULL, NULL, &b) == PVS_EINVAL);
    pkt.size = 0;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == PVS_EINVAL);
    free(au);
    pvs_gs_video_close(&v);
    pvs_gs_video_close(&v);
    pvs_gs_video_close(NULL);
}

static void tamper_first(struct rx *r, const struct pvs_gs_video_batch *b, bool *drop)
{
    (void)r;
    (void)drop;
    b->data[40] ^= 0x01;  /* a ciphertext byte of the first datagram */
}

static void test_encryption(void)
{
    const int ps = 1392 - 32;  /* what the client announces with encryption */
    struct pvs_gs_video *v = open_video(ps, 20, 2, true, PVS_CODEC_H264);
    struct rx r;
    rx_init(&r, ps, true, key);
    for (int f = 0; f < 3; f++) {
        CHECK(round_trip(v, &r, 50000, f == 0, NULL) == 0);
        CHECK(round_trip(v, &r, 50000, false, drop_m_per_block) == 0);
    }
    CHECK_INT(r.rejected, ==, 0);
    /* a tampered packet is refused; FEC then repairs its loss */
    CHECK(round_trip(v, &r, 50000, false, tamper_first) == 0);
    CHECK_INT(r.rejected, ==, 1);

    /* nonces: 'H' 'V' in bytes 10-11, never the same twice */
    uint8_t *au = random_au(30000);
    struct pvs_packet pkt = { .data = au, .size = 30000 };
    struct pvs_gs_video_batch b;
    CHECK(pvs_gs_video_packetize(v, &pkt, NULL, &b) == 0);
    uint64_t prev = 0;
    bool distinct = true;
    for (int i = 0; i < b.count; i++) {
        const uint8_t *d = b.data + (size_t)i * b.stride;
        uint64_t n = 0;
        for (int x = 7; x >= 0; x--)
            n = n << 8 | d[x];
        distinct &= i == 0 || n == prev + 1;
        prev = n;
        CHECK(d[10] == 'H' && d[11] == 'V');
    }
    CHECK(distinct);
    /* a flipped tag bit, a wrong key */
    uint8_t copy[2000];
    memcpy(copy, b.data, b.len);
    copy[20] ^= 0x80;
    uint8_t out[2000];
    CHECK(rx_decrypt(&r, copy, b.len, out) == -1);
    CHECK(rx_decrypt(&r, b.data, b.len, out) == 0);
    struct rx wrong;
    uint8_t other[16];
    memcpy(other, key, 16);
    other[0] ^= 1;
    rx_init(&wrong, ps, true, other);
    CHECK(rx_decrypt(&wrong, b.data, b.len, out) == -1);
    rx_free(&wrong);
    free(au);
    rx_free(&r);
    pvs_gs_video_close(&v);
}

int main(void)
{
    gf_ref_init();
    RUN(test_parity_is_client_matrix);
    RUN(test_round_trip_sizes);
    RUN(test_every_erasure_small_block);
    RUN(test_random_losses);
    RUN(test_too_many_losses);
    RUN(test_wraparound);
    RUN(test_packet_sizes);
    RUN(test_largest_frames);
    RUN(test_min_parity);
    RUN(test_header_fields);
    RUN(test_encryption);
    TEST_EXIT();
}
