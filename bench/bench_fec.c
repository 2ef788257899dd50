/* pvstream-bench fec: the cost of Reed-Solomon FEC per block on one thread:
 * encoding k data shards into m parity shards, and decoding with m shards
 * lost, the first data shards first (the most work: every lost shard is
 * data). Each is timed block by block for about half a second; the figures
 * are the median, with GB/s counted in data bytes (k * shard). */
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "net/fec.h"

#define RUN_NS 500000000ll  /* per measurement */
#define MAX_SAMPLES (1 << 20)

struct settings {
    int k, m, shard;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
static const struct pvs_option options[] = {
    OPT("k", PVS_OPT_INT, k, 1, PVS_FEC_MAX_SHARDS, "K", "data shards per block"),
    OPT("m", PVS_OPT_INT, m, 0, PVS_FEC_MAX_SHARDS - 1, "M", "parity shards per block (k + m <= 255)"),
    OPT("shard", PVS_OPT_INT, shard, 1, PVS_FEC_MAX_SHARD_SIZE, "BYTES", "bytes per shard"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE", "also write the results as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

struct timing {
    double p50_us, p99_us;
    int64_t blocks;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void summarize(int64_t *ns, int64_t n, struct timing *t)
{
    qsort(ns, (size_t)n, sizeof(*ns), cmp_i64);
    t->blocks = n;
    t->p50_us = (double)ns[n / 2] / 1e3;
    t->p99_us = (double)ns[(n * 99) / 100] / 1e3;
}

int pvs_bench_fec(int argc, char **argv)
{
    struct settings s = { .k = 100, .m = 20, .shard = 1400 };
    int rc = pvs_bench_parse("fec", "Times Reed-Solomon FEC encode and decode (with m shards "
                             "lost) per block on one thread.", options, &s, argc, argv);
    if (rc >= 0)
        return rc;
    if (s.k + s.m > PVS_FEC_MAX_SHARDS) {
        fprintf(stderr, "pvstream-bench fec: --k %d --m %d: k + m must be at most %d\n",
                s.k, s.m, PVS_FEC_MAX_SHARDS);
        return 2;
    }

    const int k = s.k, m = s.m, n = s.k + s.m;
    const size_t size = (size_t)s.shard;
    struct pvs_fec *fec = NULL;
    uint8_t *orig = malloc((size_t)n * size), *work = malloc((size_t)n * size);
    int64_t *ns = malloc(sizeof(*ns) * MAX_SAMPLES);
    rc = 1;
    if (!orig || !work || !ns || pvs_fec_open(&fec) < 0) {
        fprintf(stderr, "pvstream-bench fec: out of memory\n");
        goto out;
    }

    uint32_t x = 12345;
    for (size_t i = 0; i < (size_t)n * size; i++) {
        x = x * 1103515245u + 12345u;
        orig[i] = (uint8_t)(x >> 16);
    }
    const uint8_t *data[PVS_FEC_MAX_SHARDS];
    uint8_t *parity[PVS_FEC_MAX_SHARDS], *shards[PVS_FEC_MAX_SHARDS];
    bool present[PVS_FEC_MAX_SHARDS];
    for (int i = 0; i < n; i++) {
        data[i] = orig + (size_t)i * size;
        parity[i] = orig + (size_t)i * size;
        shards[i] = work + (size_t)i * size;
    }

    /* Encode; the first call builds the tables and is not timed. */
    struct timing enc, dec;
    int64_t cnt = 0;
    int err = pvs_fec_encode(fec, k, m, size, data, parity + k);
    for (int64_t end = pvs_time_ns() + RUN_NS; err == 0 && cnt < MAX_SAMPLES && pvs_time_ns() < end;) {
        int64_t t = pvs_time_ns();
        err = pvs_fec_encode(fec, k, m, size, data, parity + k);
        ns[cnt++] = pvs_time_ns() - t;
    }
    if (err < 0) {
        fprintf(stderr, "pvstream-bench fec: encode failed: %s\n", pvs_strerror(err));
        goto out;
    }
    summarize(ns, cnt, &enc);

    /* Decode with m lost: min(k, m) data shards from the front, then parity
     * from the front for the rest. The lost shards are rewritten in place
     * each time; what is lost stays the same. */
    memcpy(work, orig, (size_t)n * size);
    for (int i = 0; i < n; i++)
        present[i] = true;
    for (int i = 0; i < m; i++) { /* shard order: data 0..k-1, then parity */
        present[i] = false;
        memset(shards[i], 0, size);
    }
    cnt = 0;
    err = pvs_fec_decode(fec, k, m, size, shards, present);
    for (int64_t end = pvs_time_ns() + RUN_NS; err == 0 && cnt < MAX_SAMPLES && pvs_time_ns() < end;) {
        int64_t t = pvs_time_ns();
        err = pvs_fec_decode(fec, k, m, size, shards, present);
        ns[cnt++] = pvs_time_ns() - t;
    }
    if (err < 0) {
        fprintf(stderr, "pvstream-bench fec: decode failed: %s\n", pvs_strerror(err));
        goto out;
    }
    if (memcmp(work, orig, (size_t)k * size) != 0) {
        fprintf(stderr, "pvstream-bench fec: decode gave wrong data: this is a bug\n");
        goto out;
    }
    summarize(ns, cnt, &dec);

    const double bytes = (double)k * (double)size;
    double enc_gbps = bytes / (enc.p50_us * 1e3), dec_gbps = bytes / (dec.p50_us * 1e3);
    int lost_data = m < k ? m : k;
    printf("pvstream-bench fec: k=%d m=%d, %zu-byte shards (%.0f data bytes per block), one thread\n",
           k, m, size, bytes);
    printf("%-8s %10s %10s %8s %10s\n", "", "p50 us", "p99 us", "GB/s", "blocks");
    printf("%-8s %10.2f %10.2f %8.2f %10lld\n", "encode", enc.p50_us, enc.p99_us, enc_gbps,
           (long long)enc.blocks);
    printf("%-8s %10.2f %10.2f %8.2f %10lld   (%d data + %d parity shards lost)\n", "decode",
           dec.p50_us, dec.p99_us, dec_gbps, (long long)dec.blocks, lost_data, m - lost_data);

    if (s.json[0]) {
        struct pvs_json j;
        if (pvs_json_open(&j, s.json) < 0)
            goto out;
        pvs_json_begin(&j, NULL);
        pvs_json_int(&j, "k", k);
        pvs_json_int(&j, "m", m);
        pvs_json_int(&j, "shard", s.shard);
        pvs_json_num(&j, "encode_us", enc.p50_us);
        pvs_json_num(&j, "decode_us", dec.p50_us);
        pvs_json_num(&j, "encode_gbps", enc_gbps);
        pvs_json_num(&j, "decode_gbps", dec_gbps);
        pvs_json_end(&j);
        if (pvs_json_close(&j) < 0)
            goto out;
    }
    rc = 0;
out:
    pvs_fec_close(&fec);
    free(orig);
    free(work);
    free(ns);
    return rc;
}
