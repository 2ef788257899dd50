/* Media packets: the shard layout, the packetizer's headers and order, and
 * the reassembly's round trip through every kind of trouble the network
 * brings: reordering, duplicates, erasures FEC can fix and ones it cannot,
 * whole frames lost, frame numbers jumping, and malformed headers. Time is
 * driven with now_us values; nothing sleeps. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/fec.h"
#include "net/media.h"
#include "net/packetizer.h"
#include "net/reassembly.h"
#include "tests/unit/test.h"

#define FPS 60
#define INTERVAL_US (1000000 / FPS)
#define MB (1024 * 1024)

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static uint8_t *random_bytes(size_t n)
{
    uint8_t *p = malloc(n);
    if (!p)
        abort();
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
    return p;
}

/* One frame's packets, copied out of the batch so they outlive it. */
struct frame_pkts {
    uint8_t *buf;
    size_t stride, len;
    int count, data_packets;
};

static uint8_t *pkt_at(const struct frame_pkts *f, int i)
{
    return f->buf + (size_t)i * f->stride;
}

static int64_t capture_ns_of(uint32_t frame)
{
    return 1000000000ll + (int64_t)frame * 1000000000ll / FPS;
}

static int packetize(struct pvs_packetizer *pz, const uint8_t *data, size_t size, uint32_t frame,
                     bool key, struct frame_pkts *out)
{
    struct pvs_packet in = {
        .data = data, .size = size, .keyframe = key, .frame = frame,
        .capture_ns = capture_ns_of(frame),
    };
    struct pvs_packet_batch b;
    int rc = pvs_packetizer_frame(pz, &in, 1000 + frame, &b);
    if (rc < 0)
        return rc;
    out->stride = b.stride;
    out->len = b.len;
    out->count = b.count;
    out->data_packets = b.data_packets;
    out->buf = malloc((size_t)b.count * b.stride);
    if (!out->buf)
        abort();
    memcpy(out->buf, b.data, (size_t)b.count * b.stride);
    return 0;
}

static struct pvs_packetizer *make_pz(int datagram, int percent, int min_parity, uint16_t seq)
{
    struct pvs_packetizer_config c = {
        .datagram_size = datagram, .fec_percent = percent, .fec_min_parity = min_parity,
        .ssrc = 0x12345678, .first_seq = seq,
    };
    struct pvs_packetizer *pz = NULL;
    CHECK_INT(pvs_packetizer_open(&pz, &c), ==, 0);
    return pz;
}

static struct pvs_reassembly *make_ra(size_t max_frame)
{
    struct pvs_reassembly_config c = { .fps = FPS, .max_frame = max_frame, .ssrc = 0x12345678 };
    struct pvs_reassembly *ra = NULL;
    CHECK_INT(pvs_reassembly_open(&ra, &c), ==, 0);
    return ra;
}

/* Checks a delivered frame against what was sent. */
static void check_frame(const struct pvs_rframe *got, const uint8_t *data, size_t size,
                        uint32_t frame, bool key)
{
    CHECK_INT(got->frame, ==, frame);
    CHECK_INT(got->size, ==, size);
    CHECK(got->size == size && memcmp(got->data, data, size) == 0);
    CHECK_INT(got->keyframe, ==, key);
    CHECK_INT(got->host_us, ==, 1000 + frame);
    CHECK_INT(got->capture_us, ==, capture_ns_of(frame) / 1000);
    CHECK(got->complete_us >= got->first_us);
}

static void test_layout(void)
{
    /* Defaults: kmax 212 (212 + 43 = 255). */
    CHECK_INT(pvs_media_block_count(1, 20, 2, 0), ==, 1);
    CHECK_INT(pvs_media_block_count(212, 20, 2, 0), ==, 1);
    CHECK_INT(pvs_media_block_count(213, 20, 2, 0), ==, 2);
    CHECK_INT(pvs_media_block_count(424, 20, 2, 0), ==, 2);
    CHECK_INT(pvs_media_block_count(425, 20, 2, 0), ==, 3);
    CHECK_INT(pvs_media_block_count(127, 100, 0, 0), ==, 1);
    CHECK_INT(pvs_media_block_count(128, 100, 0, 0), ==, 2);
    CHECK_INT(pvs_media_block_count(255, 0, 0, 0), ==, 1);
    CHECK_INT(pvs_media_block_count(100, 20, 2, 10), ==, 10);
    CHECK_INT(pvs_media_block_count(101, 20, 2, 10), ==, 11);
    CHECK_INT(pvs_media_block_count(0, 20, 2, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_media_block_count(10, -1, 2, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_media_block_count(10, 20, 255, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_media_block_count(20000000, 0, 0, 1), ==, PVS_EINVAL); /* B > 65535 */

    /* Even spread: sizes differ by at most one, contiguous, cover N. */
    const uint32_t ns[] = { 1, 7, 212, 213, 1000, 3131, 12521 };
    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        uint32_t n = ns[t];
        int nb = pvs_media_block_count(n, 20, 2, 0);
        CHECK(nb >= 1);
        uint32_t at = 0;
        int kmin = 1000, kmax = 0;
        for (int b = 0; b < nb; b++) {
            int k = pvs_media_block_k(n, (uint16_t)nb, (uint16_t)b);
            CHECK_INT(pvs_media_block_first(n, (uint16_t)nb, (uint16_t)b), ==, at);
            CHECK(k + pvs_fec_parity_count(k, 20, 2) <= 255);
            at += (uint32_t)k;
            kmin = k < kmin ? k : kmin;
            kmax = k > kmax ? k : kmax;
        }
        CHECK_INT(at, ==, n);
        CHECK(kmax - kmin <= 1);
    }
    CHECK_INT(pvs_media_block_k(10, 2, 2), ==, PVS_EINVAL);
}

static void test_bad_config(void)
{
    struct pvs_packetizer *pz = (struct pvs_packetizer *)&pz;
    struct pvs_packetizer_config good = { .fec_percent = 20, .fec_min_parity = 2 };
    struct pvs_packetizer_config c;
    CHECK_INT(pvs_packetizer_open(&pz, NULL), ==, PVS_EINVAL);
    CHECK(pz == NULL);
#define BAD(field, value)                                                     \
    do {                                                                      \
        c = good;                                                             \
        c.field = value;                                                      \
        CHECK_INT(pvs_packetizer_open(&pz, &c), ==, PVS_EINVAL);              \
        CHECK(pz == NULL);                                                    \
    } while (0)
    BAD(datagram_size, 575);
    BAD(datagram_size, 9001);
    BAD(datagram_size, -1);
    BAD(fec_percent, -1);
    BAD(fec_percent, 101);
    BAD(fec_min_parity, -1);
    BAD(fec_min_parity, 17);
    BAD(max_block_data, -1);
    BAD(max_block_data, 256);
    BAD(payload_type, 128);
#undef BAD
    CHECK_INT(pvs_packetizer_open(&pz, &good), ==, 0);
    uint8_t byte = 1;
    struct pvs_packet f = { .data = &byte, .size = 0 };
    struct pvs_packet_batch b;
    CHECK_INT(pvs_packetizer_frame(pz, &f, 0, &b), ==, PVS_EINVAL);
    f.size = (size_t)PVS_MEDIA_MAX_FRAME + 1;
    CHECK_INT(pvs_packetizer_frame(pz, &f, 0, &b), ==, PVS_EINVAL);
    pvs_packetizer_close(&pz);
    CHECK(pz == NULL);
    pvs_packetizer_close(&pz);
    pvs_packetizer_close(NULL);

    struct pvs_reassembly *ra = (struct pvs_reassembly *)&ra;
    struct pvs_reassembly_config rc = { .fps = 0 };
    CHECK_INT(pvs_reassembly_open(&ra, &rc), ==, PVS_EINVAL);
    CHECK(ra == NULL);
    rc = (struct pvs_reassembly_config){ .fps = 60, .max_frame = PVS_MEDIA_MAX_FRAME + 1 };
    CHECK_INT(pvs_reassembly_open(&ra, &rc), ==, PVS_EINVAL);
    pvs_reassembly_close(&ra);
    pvs_reassembly_close(NULL);
}

/* Every header of a batch: RTP fields, the order (block by block, data then
 * parity), the layout and the parity counts. */
static void check_batch(const struct frame_pkts *f, size_t size, uint32_t frame, bool key,
                        int datagram, int percent, int min_parity, uint16_t *seq)
{
    size_t S = (size_t)datagram - PVS_MEDIA_OVERHEAD;
    uint32_t n = (uint32_t)((size - 1) / S + 1);
    int nb = pvs_media_block_count(n, percent, min_parity, 0);
    CHECK_INT(f->stride, ==, datagram);
    CHECK_INT(f->len, ==, datagram - PVS_SRTP_TAG_BYTES);
    CHECK_INT(f->data_packets, ==, n);
    int at = 0, bad = 0;
    for (int b = 0; b < nb; b++) {
        int k = pvs_media_block_k(n, (uint16_t)nb, (uint16_t)b);
        int m = pvs_fec_parity_count(k, percent, min_parity);
        for (int i = 0; i < k + m; i++, at++) {
            struct pvs_rtp_header r;
            struct pvs_media_header h;
            if (at >= f->count ||
                pvs_media_parse(pkt_at(f, at), f->len, &r, &h) != 0) {
                bad++;
                continue;
            }
            bad += r.seq != *seq || r.marker != (at == f->count - 1) ||
                   r.payload_type != PVS_RTP_PT_VIDEO || r.ssrc != 0x12345678 ||
                   r.timestamp != (uint32_t)(capture_ns_of(frame) * 9 / 100000) ||
                   h.frame != frame || h.frame_len != size || h.shard_size != S ||
                   h.blocks != nb || h.block != b || h.shard != i || h.k != k || h.m != m ||
                   !!(h.flags & PVS_MEDIA_FLAG_KEYFRAME) != key ||
                   h.capture_us != (uint64_t)capture_ns_of(frame) / 1000 ||
                   h.host_us != 1000 + frame;
            (*seq)++;
        }
    }
    CHECK_INT(bad, ==, 0);
    CHECK_INT(at, ==, f->count);
    /* The last shard is zero past the frame. */
    size_t tail = (size_t)n * S - size;
    const uint8_t *last = NULL;
    for (int i = 0, d = 0; i < f->count; i++) {
        const uint8_t *p = pkt_at(f, i);
        if (!(p[13] & PVS_MEDIA_FLAG_PARITY) && ++d == (int)n)
            last = p + 44;
    }
    int nonzero = 0;
    for (size_t i = S - tail; last && i < S; i++)
        nonzero += last[i] != 0;
    CHECK(last != NULL);
    CHECK_INT(nonzero, ==, 0);
}

/* Pops every frame ready at now_us into got[] (up to max); returns how many. */
static int pop_all(struct pvs_reassembly *ra, int64_t now_us, struct pvs_rframe *got, int max,
                   uint8_t **copies)
{
    int n = 0;
    struct pvs_rframe f;
    while (pvs_reassembly_pop(ra, now_us, &f) == 1) {
        if (n < max) {
            got[n] = f;
            /* data is valid only until the next call: keep a copy */
            copies[n] = malloc(f.size);
            if (!copies[n])
                abort();
            memcpy(copies[n], f.data, f.size);
            got[n].data = copies[n];
        }
        n++;
    }
    return n;
}

static void test_round_trip(void)
{
    const int datagrams[] = { 576, 1400, 9000 };
    for (size_t d = 0; d < 3; d++) {
        int dg = datagrams[d];
        size_t S = (size_t)dg - PVS_MEDIA_OVERHEAD;
        size_t sizes[40];
        int ns = 0;
        const size_t fixed[] = { 1, 2, S - 1, S, S + 1, 2 * S - 1, 2 * S + 1, 212 * S,
                                 212 * S + 1, 250000, 4 * MB };
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
            sizes[ns++] = fixed[i];
        for (int i = 0; i < 8; i++)
            sizes[ns++] = 1 + rnd() % 300000;
        uint16_t seq = 65500; /* wraps during the run */
        struct pvs_packetizer *pz = make_pz(dg, 20, 2, seq);
        struct pvs_reassembly *ra = make_ra(0);
        uint64_t sent = 0;
        for (int i = 0; i < ns; i++) {
            uint32_t frame = 0xfffffff0u + (uint32_t)i; /* frame numbers wrap too */
            bool key = i % 5 == 0;
            uint8_t *data = random_bytes(sizes[i]);
            struct frame_pkts f;
            CHECK_INT(packetize(pz, data, sizes[i], frame, key, &f), ==, 0);
            check_batch(&f, sizes[i], frame, key, dg, 20, 2, &seq);
            if (sizes[i] == 4 * MB)
                CHECK(pkt_at(&f, f.count - 1)[12 + 15] > 1); /* more than one block */
            int64_t now = capture_ns_of(frame) / 1000 + 2000;
            for (int p = 0; p < f.count; p++)
                CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now), ==, 0);
            sent += (uint64_t)f.count;
            struct pvs_rframe got[2];
            uint8_t *copies[2] = { 0 };
            int n = pop_all(ra, now, got, 2, copies);
            CHECK_INT(n, ==, 1);
            if (n == 1) {
                check_frame(&got[0], data, sizes[i], frame, key);
                CHECK(!got[0].recovered);
            }
            free(copies[0]);
            free(copies[1]);
            free(f.buf);
            free(data);
        }
        struct pvs_reassembly_stats st;
        pvs_reassembly_get_stats(ra, &st);
        CHECK_INT(st.packets, ==, sent);
        CHECK_INT(st.frames_complete, ==, ns);
        CHECK_INT(st.malformed + st.duplicates + st.late + st.recovered + st.lost, ==, 0);
        CHECK_INT(st.frames_dropped + st.frames_skipped, ==, 0);
        CHECK_INT(st.seq_gaps, ==, 0);
        CHECK_INT(pvs_reassembly_poll(ra, 0), ==, INT64_MAX);
        pvs_packetizer_close(&pz);
        pvs_reassembly_close(&ra);
    }
}

/* A run of frames whose packets are shuffled across pairs of frames, with
 * duplicates: every frame comes out exact and in order. */
static void test_shuffle_duplicates(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 7);
    struct pvs_reassembly *ra = make_ra(0);
    enum { FRAMES = 12 };
    uint8_t *data[FRAMES];
    size_t size[FRAMES];
    struct frame_pkts f[FRAMES];
    for (int i = 0; i < FRAMES; i++) {
        size[i] = i == 0 ? 400000 : 1 + rnd() % 60000;
        data[i] = random_bytes(size[i]);
        CHECK_INT(packetize(pz, data[i], size[i], (uint32_t)(100 + i), i == 0, &f[i]), ==, 0);
    }
    int delivered = 0, dups = 0, pushes = 0;
    for (int i = 0; i < FRAMES; i += 2) {
        /* Both frames' packets, each twice for one in four, shuffled. */
        int n = f[i].count + f[i + 1].count;
        const uint8_t **list = malloc(sizeof(*list) * (size_t)n * 2);
        int m = 0;
        for (int j = 0; j < 2; j++)
            for (int p = 0; p < f[i + j].count; p++) {
                list[m++] = pkt_at(&f[i + j], p);
                if (rnd() % 4 == 0) {
                    list[m++] = pkt_at(&f[i + j], p);
                    dups++;
                }
            }
        for (int p = m - 1; p > 0; p--) {
            int q = (int)(rnd() % (uint32_t)(p + 1));
            const uint8_t *t = list[p];
            list[p] = list[q];
            list[q] = t;
        }
        int64_t now = capture_ns_of(100 + (uint32_t)i) / 1000 + 3000;
        struct pvs_rframe got[4];
        uint8_t *copies[4] = { 0 };
        int n_got = 0;
        for (int p = 0; p < m; p++) {
            /* a shard of a frame already handed on is late */
            int rc = pvs_reassembly_push(ra, list[p], f[i].len, now);
            CHECK(rc == 0 || rc == PVS_EBADDATA);
            pushes++;
            n_got += pop_all(ra, now, got + n_got, 4 - n_got, copies + n_got);
        }
        CHECK_INT(n_got, ==, 2);
        for (int j = 0; j < n_got && j < 2; j++) {
            check_frame(&got[j], data[i + j], size[i + j], (uint32_t)(100 + i + j), i + j == 0);
            free(copies[j]);
        }
        delivered += n_got;
        free(list);
    }
    CHECK_INT(delivered, ==, FRAMES);
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(ra, &st);
    CHECK(dups > 0 && st.duplicates > 0 && st.duplicates <= (uint64_t)dups);
    CHECK_INT(st.packets + st.duplicates + st.late, ==, pushes);
    CHECK_INT(st.frames_complete, ==, FRAMES);
    CHECK_INT(st.malformed + st.frames_dropped + st.frames_skipped, ==, 0);
    for (int i = 0; i < FRAMES; i++) {
        free(data[i]);
        free(f[i].buf);
    }
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

/* Parses packet p's block, shard index, k and m. */
static void shard_of(const struct frame_pkts *f, int p, int *b, int *i, int *k, int *m)
{
    struct pvs_rtp_header r;
    struct pvs_media_header h;
    if (pvs_media_parse(pkt_at(f, p), f->len, &r, &h) != 0)
        abort();
    *b = h.block;
    *i = h.shard;
    *k = h.k;
    *m = h.m;
}

/* Random erasures, at most m per block: every frame exact, and the stats
 * count exactly the data shards rebuilt. */
static void test_erasures(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(0);
    uint64_t rebuilt = 0, pushed = 0;
    int frames_rec = 0;
    for (uint32_t fr = 0; fr < 30; fr++) {
        size_t size = fr % 10 == 0 ? 700000 : 1 + rnd() % 200000;
        uint8_t *data = random_bytes(size);
        struct frame_pkts f;
        CHECK_INT(packetize(pz, data, size, fr, fr == 0, &f), ==, 0);
        bool *drop = calloc((size_t)f.count, sizeof(bool));
        uint64_t frame_rebuilt = 0;
        for (int p = 0; p < f.count;) {
            int b, i, k, m;
            shard_of(&f, p, &b, &i, &k, &m);
            /* This block is packets p..p+k+m-1: erase e <= m of them. */
            int e = (int)(rnd() % (uint32_t)(m + 1));
            for (int x = 0; x < e; x++) {
                int q;
                do
                    q = (int)(rnd() % (uint32_t)(k + m));
                while (drop[p + q]);
                drop[p + q] = true;
                frame_rebuilt += q < k;
            }
            p += k + m;
        }
        int64_t now = capture_ns_of(fr) / 1000 + 2000;
        for (int p = 0; p < f.count; p++)
            if (!drop[p]) {
                CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now), ==, 0);
                pushed++;
            }
        struct pvs_rframe got[1];
        uint8_t *copies[1] = { 0 };
        CHECK_INT(pop_all(ra, now, got, 1, copies), ==, 1);
        if (copies[0]) {
            check_frame(&got[0], data, size, fr, fr == 0);
            CHECK_INT(got[0].recovered, ==, frame_rebuilt > 0);
        }
        rebuilt += frame_rebuilt;
        frames_rec += frame_rebuilt > 0;
        free(copies[0]);
        free(drop);
        free(f.buf);
        free(data);
    }
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(ra, &st);
    CHECK(rebuilt > 0);
    CHECK_INT(st.recovered, ==, rebuilt);
    CHECK_INT(st.frames_recovered, ==, frames_rec);
    CHECK_INT(st.frames_complete, ==, 30);
    CHECK_INT(st.packets, ==, pushed);
    CHECK_INT(st.lost + st.frames_dropped, ==, 0);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

/* The arrival records FEEDBACK carries: one per settled frame, with its
 * first and last packet's times, the bytes in, and the packets lost and
 * rebuilt. */
static void test_arrivals(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(0);
    size_t size = 20000;
    uint8_t *data = random_bytes(size);
    struct frame_pkts f;
    CHECK_INT(packetize(pz, data, size, 7, true, &f), ==, 0);
    int64_t t0 = capture_ns_of(7) / 1000 + 1000;
    for (int p = 1; p < f.count; p++) /* data shard 0 lost */
        CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, p), f.len, t0 + p), ==, 0);
    struct pvs_rframe got;
    CHECK_INT(pvs_reassembly_pop(ra, t0 + f.count, &got), ==, 1);
    struct pvs_frame_arrival a[4];
    CHECK_INT(pvs_reassembly_take_arrivals(ra, a, 4), ==, 1);
    CHECK_INT(a[0].frame, ==, 7);
    CHECK_INT(a[0].first_us, ==, t0 + 1);
    CHECK_INT(a[0].last_us, ==, t0 + f.count - 1);
    CHECK_INT(a[0].bytes, ==, (f.count - 1) * 1400);
    CHECK_INT(a[0].lost, ==, 1);
    CHECK_INT(a[0].repaired, ==, 1);
    CHECK_INT(pvs_reassembly_take_arrivals(ra, a, 4), ==, 0);
    free(f.buf);

    /* A frame dropped at its deadline is recorded too, with every packet
     * it never got. */
    CHECK_INT(packetize(pz, data, size, 8, false, &f), ==, 0);
    int64_t t1 = capture_ns_of(8) / 1000 + 1000;
    CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, 0), f.len, t1), ==, 0);
    CHECK_INT(pvs_reassembly_pop(ra, t1 + 1000000, &got), ==, 0);
    CHECK_INT(pvs_reassembly_take_arrivals(ra, a, 4), ==, 1);
    CHECK_INT(a[0].frame, ==, 8);
    CHECK_INT(a[0].lost, ==, f.count - 1);
    CHECK_INT(a[0].bytes, ==, 1400);
    free(f.buf);
    free(data);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

/* Frames kinds[i] ('K' keyframe, 'P'), each pushed at its time; frame
 * `broken` loses its first `lose` data shards (all its packets when lose
 * < 0). Pops as it goes and then past every deadline; returns the frame
 * numbers delivered in got[] and how many times want_keyframe was true. */
static int run_stream(const char *kinds, int broken, int lose, uint32_t *got, int *wants,
                      struct pvs_reassembly_stats *st)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(0);
    int n = 0;
    *wants = 0;
    int64_t now = 0;
    for (int fr = 0; kinds[fr]; fr++) {
        size_t size = 30000 + (size_t)fr * 1000;
        uint8_t *data = random_bytes(size);
        struct frame_pkts f;
        CHECK_INT(packetize(pz, data, size, (uint32_t)fr, kinds[fr] == 'K', &f), ==, 0);
        now = capture_ns_of((uint32_t)fr) / 1000 + 4000;
        for (int p = 0; p < f.count; p++) {
            bool skip = fr == broken && (lose < 0 || p < lose);
            if (!skip)
                pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now);
            struct pvs_rframe r;
            while (pvs_reassembly_pop(ra, now, &r) == 1) {
                if (r.size == size && r.frame == (uint32_t)fr)
                    CHECK(memcmp(r.data, data, size) == 0);
                got[n++] = r.frame;
            }
            *wants += pvs_reassembly_want_keyframe(ra);
        }
        free(f.buf);
        free(data);
    }
    /* The last deadline: poll says when, and it is sane. */
    int64_t due = pvs_reassembly_poll(ra, now);
    CHECK(due == INT64_MAX || (due >= now && due <= now + 500000));
    now += 600000;
    struct pvs_rframe r;
    while (pvs_reassembly_pop(ra, now, &r) == 1)
        got[n++] = r.frame;
    *wants += pvs_reassembly_want_keyframe(ra);
    CHECK_INT(pvs_reassembly_poll(ra, now), ==, INT64_MAX);
    pvs_reassembly_get_stats(ra, st);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
    return n;
}

static void test_unrecoverable(void)
{
    uint32_t got[16];
    int wants;
    struct pvs_reassembly_stats st;
    /* 30 KB frames: one block of 23 data and 5 parity shards; losing 6
     * data shards is one too many. */
    int n = run_stream("KPPPKPP", 1, 6, got, &wants, &st);
    CHECK_INT(n, ==, 4);
    if (n == 4)
        CHECK(got[0] == 0 && got[1] == 4 && got[2] == 5 && got[3] == 6);
    CHECK_INT(wants, ==, 1);
    CHECK_INT(st.frames_dropped, ==, 1);
    CHECK_INT(st.frames_skipped, ==, 2);
    CHECK_INT(st.frames_complete, ==, 4);
    CHECK_INT(st.lost, ==, 6);
    CHECK_INT(st.seq_gaps, ==, 6);

    /* Five lost: recovered, nothing dropped. */
    n = run_stream("KPPPKPP", 1, 5, got, &wants, &st);
    CHECK_INT(n, ==, 7);
    CHECK_INT(wants, ==, 0);
    CHECK_INT(st.frames_recovered, ==, 1);
    CHECK_INT(st.recovered, ==, 5);

    /* A whole frame missing: given up a reordering grace after its
     * successor's first packet. */
    n = run_stream("KPPPPPK", 2, -1, got, &wants, &st);
    CHECK_INT(n, ==, 3);
    if (n == 3)
        CHECK(got[0] == 0 && got[1] == 1 && got[2] == 6);
    CHECK_INT(wants, ==, 1);
    CHECK_INT(st.frames_dropped, ==, 1);
    CHECK_INT(st.frames_skipped, ==, 3);

    /* The same with a keyframe two frames behind the gap: the gap is given
     * up a reordering grace after frame 3's first packet, before anything
     * says a keyframe is coming, so a request goes out; the keyframe is
     * handed on as soon as it is in. */
    n = run_stream("KPPPKPP", 2, -1, got, &wants, &st);
    CHECK_INT(n, ==, 5);
    if (n == 5)
        CHECK(got[0] == 0 && got[1] == 1 && got[2] == 4 && got[3] == 5 && got[4] == 6);
    CHECK_INT(wants, ==, 1);
    CHECK_INT(st.frames_dropped, ==, 1);
    CHECK_INT(st.frames_skipped, ==, 1);
    CHECK(st.seq_gaps > 20);

    /* A lost keyframe: every P frame after it skipped until the next one. */
    n = run_stream("KPKPPPK", 2, -1, got, &wants, &st);
    CHECK_INT(n, ==, 3);
    CHECK_INT(st.frames_skipped, ==, 3);

    /* The start asks for nothing (the server begins with a keyframe)... */
    struct pvs_reassembly *ra = make_ra(0);
    CHECK(!pvs_reassembly_want_keyframe(ra));
    pvs_reassembly_close(&ra);
    /* ...but until the first keyframe nothing is handed on, and a P frame
     * skipped for want of one asks. */
    n = run_stream("PPKP", -1, 0, got, &wants, &st);
    CHECK_INT(n, ==, 2);
    CHECK_INT(st.frames_skipped, ==, 2);
    CHECK_INT(wants, >=, 1);
}

/* A server that saw its link shrink drops the frames it had not sent and
 * sends a keyframe at once (docs/abr.md): the gap is given up while that
 * keyframe is still arriving, and asks for nothing; a keyframe that does
 * not come whole does ask. */
static void test_keyframe_behind_gap(void)
{
    for (int whole = 1; whole >= 0; whole--) {
        struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
        struct pvs_reassembly *ra = make_ra(0);
        uint8_t *data = random_bytes(40000);
        struct pvs_rframe r;
        int64_t now = 0;
        int wants = 0, got = 0;
        for (uint32_t fr = 0; fr < 4; fr++) {
            struct frame_pkts f;
            CHECK_INT(packetize(pz, data, fr == 3 ? 40000 : 3000, fr, fr == 0 || fr == 3, &f),
                      ==, 0);
            now = capture_ns_of(fr) / 1000 + 2000;
            for (int p = 0; p < f.count && fr != 2; p++) { /* frame 2 never sent */
                /* the keyframe: half its packets, then the rest 10 ms
                 * later (or never: the link lost its tail) */
                if (fr == 3 && p == f.count / 2) {
                    now += 10000;
                    while (pvs_reassembly_pop(ra, now, &r) == 1)
                        got++;
                    wants += pvs_reassembly_want_keyframe(ra);
                    if (!whole)
                        break;
                }
                pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now);
                while (pvs_reassembly_pop(ra, now, &r) == 1)
                    got++;
                wants += pvs_reassembly_want_keyframe(ra);
            }
            free(f.buf);
        }
        now += 600000;
        while (pvs_reassembly_pop(ra, now, &r) == 1)
            got++;
        wants += pvs_reassembly_want_keyframe(ra);
        CHECK_INT(got, ==, whole ? 3 : 2);
        CHECK_INT(wants, ==, whole ? 0 : 1);
        free(data);
        pvs_packetizer_close(&pz);
        pvs_reassembly_close(&ra);
    }
}

/* Frame numbers that jump: a burst of lost frames is counted, a restart
 * (a jump by billions, or back) neither loops nor counts billions. */
static void test_jumps(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(0);
    const uint32_t frames[] = { 10, 11, 111, 112, 3000000000u, 3000000001u, 5, 6 };
    const bool keys[] = { true, false, true, false, true, false, true, false };
    int64_t now = 0;
    int delivered = 0;
    uint8_t *data = random_bytes(5000);
    for (int i = 0; i < 8; i++) {
        struct frame_pkts f;
        CHECK_INT(packetize(pz, data, 5000, frames[i], keys[i], &f), ==, 0);
        now += INTERVAL_US;
        for (int p = 0; p < f.count; p++)
            pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now);
        struct pvs_rframe r;
        /* past the gaps' deadline */
        for (int t = 0; t < 2; t++, now += 100000)
            while (pvs_reassembly_pop(ra, now, &r) == 1) {
                CHECK_INT(r.frame, ==, frames[delivered]);
                delivered++;
            }
        free(f.buf);
    }
    CHECK_INT(delivered, ==, 8);
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.frames_dropped, ==, 99); /* 12..110 */
    CHECK_INT(st.frames_complete, ==, 8);
    CHECK_INT(st.late, ==, 0);

    /* Late: a frame already handed on. */
    struct frame_pkts f;
    CHECK_INT(packetize(pz, data, 5000, 5, true, &f), ==, 0);
    CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, 0), f.len, now), ==, PVS_EBADDATA);
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.late, ==, 1);
    free(f.buf);
    free(data);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

/* Packets far beyond the ring while frames wait: the head is settled at
 * once instead of waiting for its deadline. */
static void test_far_ahead(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(0);
    uint8_t *data = random_bytes(3000);
    int delivered = 0;
    for (uint32_t fr = 0; fr < 40; fr++) {
        struct frame_pkts f;
        CHECK_INT(packetize(pz, data, 3000, fr, fr % 20 == 0, &f), ==, 0);
        /* frame 1 (3 data and 2 parity shards) loses its data; all arrive
         * at the same instant, so no deadline passes */
        for (int p = fr == 1 ? 3 : 0; p < f.count; p++)
            pvs_reassembly_push(ra, pkt_at(&f, p), f.len, 1000);
        struct pvs_rframe r;
        while (pvs_reassembly_pop(ra, 1000, &r) == 1)
            delivered++;
        free(f.buf);
    }
    /* 0, then 20..39: frame 17 pushed frame 1 out, 2..19 skipped */
    CHECK_INT(delivered, ==, 21);
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.frames_dropped, ==, 1);
    CHECK_INT(st.frames_skipped, ==, 18);
    CHECK_INT(st.frames_complete, ==, 21);
    CHECK_INT(st.lost, ==, 3);
    free(data);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Each header field corrupted in turn: dropped, counted, and the frame
 * still comes out exact from the genuine packets. */
static void test_malformed(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(200000);
    size_t size = 100000; /* 75 data shards, one block, 15 parity */
    uint8_t *data = random_bytes(size);
    struct frame_pkts f;
    CHECK_INT(packetize(pz, data, size, 0, true, &f), ==, 0);
    enum { CASES = 17 };
    uint8_t *bad = malloc(f.stride);
    int malformed = 0;
    int64_t now = 5000;
    CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, 0), f.len, now), ==, 0);
    for (int c = 0; c < CASES; c++) {
        const uint8_t *src = pkt_at(&f, 1 + c);
        memcpy(bad, src, f.len);
        uint8_t *m = bad + 12;
        size_t len = f.len;
        switch (c) {
        case 0: bad[0] = 0x40; break;                 /* RTP version 1 */
        case 1: bad[0] = 0x90; break;                 /* RTP extension */
        case 2: m[0] = 2; break;                      /* media version */
        case 3: m[17] = 200; m[18] = 100; break;      /* k + m > 255 */
        case 4: m[16] = (uint8_t)(m[17] + m[18]); break; /* i >= k + m */
        case 5: put32(m + 8, 0); break;               /* L = 0 */
        case 6: put32(m + 8, 300000); break;          /* L over max_frame */
        case 7: m[2] = 0; m[3] = 100; break;          /* S != len - 44 */
        case 8: len -= 1; break;                      /* the same, by length */
        case 9: m[14] = 0; m[15] = 76; break;         /* B > N */
        case 10: put32(m + 8, (uint32_t)size - 1); break; /* L disagrees */
        case 11: put32(bad + 8, 0x87654321); break;   /* SSRC */
        case 12: m[17] = 74; break;                   /* k against the layout */
        case 13: m[18] = 14; break;                   /* m disagrees in block */
        case 14: m[1] ^= PVS_MEDIA_FLAG_PARITY; break; /* parity flag */
        case 15: m[1] ^= PVS_MEDIA_FLAG_KEYFRAME; break; /* keyframe flag */
        case 16: m[14] = 0; m[15] = 2; m[12] = 0; m[13] = 1; m[17] = 37; break; /* B */
        }
        CHECK_INT(pvs_reassembly_push(ra, bad, len, now), ==, PVS_EBADDATA);
        malformed++;
        struct pvs_reassembly_stats st;
        pvs_reassembly_get_stats(ra, &st);
        if (st.malformed != (uint64_t)malformed)
            fprintf(stderr, "case %d not counted as malformed\n", c);
        CHECK_INT(st.malformed, ==, malformed);
    }
    /* Short packets of every length. */
    for (size_t len = 0; len <= 45; len++) {
        CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, 1), len, now), ==, PVS_EBADDATA);
        malformed++;
    }
    CHECK_INT(pvs_reassembly_push(ra, NULL, 100, now), ==, PVS_EBADDATA);
    malformed++;
    for (int p = 1; p < f.count; p++)
        CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now), ==, 0);
    struct pvs_rframe r;
    CHECK_INT(pvs_reassembly_pop(ra, now, &r), ==, 1);
    check_frame(&r, data, size, 0, true);
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.malformed, ==, malformed);
    CHECK_INT(st.packets, ==, f.count);

    /* A first packet that lies about L: the genuine ones disagree with it
     * and are dropped; the frame never completes and goes at its deadline
     * instead of being handed on wrong. */
    free(f.buf);
    CHECK_INT(packetize(pz, data, size, 1, true, &f), ==, 0);
    memcpy(bad, pkt_at(&f, 0), f.len);
    put32(bad + 12 + 8, (uint32_t)size + 1);
    CHECK_INT(pvs_reassembly_push(ra, bad, f.len, now), ==, 0);
    for (int p = 1; p < f.count; p++)
        CHECK_INT(pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now), ==, PVS_EBADDATA);
    CHECK_INT(pvs_reassembly_pop(ra, now + 600000, &r), ==, 0);
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.frames_dropped, ==, 1);
    free(f.buf);
    free(bad);
    free(data);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

/* seq_gaps: forward gaps counted across the wrap, late arrivals taken back,
 * a huge jump ignored. */
static void test_seq_gaps(void)
{
    struct pvs_packetizer *pz = make_pz(576, 0, 0, 65530);
    struct pvs_reassembly *ra = make_ra(0);
    uint8_t *data = random_bytes(516 * 20);
    struct frame_pkts f;
    CHECK_INT(packetize(pz, data, 516 * 20, 0, true, &f), ==, 0);
    CHECK_INT(f.count, ==, 20);
    /* seq 65530 + i: 4 and 7 lost, 6 late (counted, then taken back) */
    const int order[] = { 0, 1, 2, 3, 5, 8, 9, 10, 11, 12, 13, 14, 15, 6, 16, 17, 18, 19 };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        pvs_reassembly_push(ra, pkt_at(&f, order[i]), f.len, 1000);
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.seq_gaps, ==, 2);
    /* no parity: the frame cannot complete */
    struct pvs_rframe r;
    CHECK_INT(pvs_reassembly_pop(ra, 1000 + 600000, &r), ==, 0);
    pvs_reassembly_get_stats(ra, &st);
    CHECK_INT(st.lost, ==, 2);
    free(f.buf);
    free(data);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

/* Jitter from frames' arrival times, and the deadline it gives. */
static void test_jitter(void)
{
    struct pvs_packetizer *pz = make_pz(1400, 20, 2, 0);
    struct pvs_reassembly *ra = make_ra(0);
    uint8_t *data = random_bytes(2000);
    for (uint32_t fr = 0; fr < 200; fr++) {
        struct frame_pkts f;
        CHECK_INT(packetize(pz, data, 2000, fr, fr == 0, &f), ==, 0);
        int64_t now = capture_ns_of(fr) / 1000 + 5000 + (fr % 2 ? 8000 : 0);
        /* the last frame loses everything but one packet */
        for (int p = 0; p < (fr == 199 ? 1 : f.count); p++)
            pvs_reassembly_push(ra, pkt_at(&f, p), f.len, now);
        struct pvs_rframe r;
        while (pvs_reassembly_pop(ra, now, &r) == 1)
            ;
        if (fr == 199) {
            struct pvs_reassembly_stats st;
            pvs_reassembly_get_stats(ra, &st);
            /* |D| alternates at 8 ms: J tends to 8 ms */
            CHECK_NEAR(st.jitter_us, 8000, 400);
            int64_t due = pvs_reassembly_poll(ra, now);
            CHECK_NEAR(due - now, 2 * INTERVAL_US + 4 * (int64_t)st.jitter_us, 4);
        }
        free(f.buf);
    }
    free(data);
    pvs_packetizer_close(&pz);
    pvs_reassembly_close(&ra);
}

int main(void)
{
    RUN(test_arrivals);
    RUN(test_layout);
    RUN(test_bad_config);
    RUN(test_round_trip);
    RUN(test_shuffle_duplicates);
    RUN(test_erasures);
    RUN(test_unrecoverable);
    RUN(test_keyframe_behind_gap);
    RUN(test_jumps);
    RUN(test_far_ahead);
    RUN(test_malformed);
    RUN(test_seq_gaps);
    RUN(test_jitter);
    TEST_EXIT();
}
