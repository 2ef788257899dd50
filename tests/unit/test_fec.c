/* Reed-Solomon FEC: parity against a plain GF(2^8) reference of the Cauchy
 * code, every erasure pattern of small blocks, random patterns up to
 * k + m = 255, more than m erasures refused without touching a buffer, bad
 * shapes, and the parity count. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/fec.h"
#include "tests/unit/test.h"

#define SENTINEL 0xA5

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), ISA-L's,
 * written out bit by bit so it shares nothing with the code under test. */
static uint8_t ref_mul(uint8_t a, uint8_t b)
{
    uint8_t p = 0;
    while (b) {
        if (b & 1)
            p ^= a;
        b >>= 1;
        a = (uint8_t)((a << 1) ^ (a & 0x80 ? 0x1d : 0));
    }
    return p;
}

static uint8_t ref_inv(uint8_t a)
{
    for (int b = 1; b < 256; b++)
        if (ref_mul(a, (uint8_t)b) == 1)
            return (uint8_t)b;
    return 0;
}

/* A block: the originals and a working copy whose erased shards get lost. */
struct block {
    int k, m;
    size_t size;
    uint8_t *orig;   /* (k + m) * size */
    uint8_t *work;   /* (k + m) * size */
    uint8_t *ptr[PVS_FEC_MAX_SHARDS];
    bool present[PVS_FEC_MAX_SHARDS];
};

static int block_make(struct pvs_fec *fec, struct block *b, int k, int m, size_t size)
{
    *b = (struct block){ .k = k, .m = m, .size = size };
    b->orig = malloc((size_t)(k + m) * size);
    b->work = malloc((size_t)(k + m) * size);
    if (!b->orig || !b->work)
        return PVS_ENOMEM;
    for (size_t i = 0; i < (size_t)k * size; i++)
        b->orig[i] = (uint8_t)rnd();
    const uint8_t *data[PVS_FEC_MAX_SHARDS];
    uint8_t *parity[PVS_FEC_MAX_SHARDS];
    for (int i = 0; i < k; i++)
        data[i] = b->orig + (size_t)i * size;
    for (int i = 0; i < m; i++)
        parity[i] = b->orig + (size_t)(k + i) * size;
    return pvs_fec_encode(fec, k, m, size, data, parity);
}

static void block_free(struct block *b)
{
    free(b->orig);
    free(b->work);
}

/* Copies the originals, then fills the shards marked in `erased` with the
 * sentinel and marks them absent. */
static void block_lose(struct block *b, const bool *erased)
{
    memcpy(b->work, b->orig, (size_t)(b->k + b->m) * b->size);
    for (int i = 0; i < b->k + b->m; i++) {
        b->ptr[i] = b->work + (size_t)i * b->size;
        b->present[i] = !erased[i];
        if (erased[i])
            memset(b->ptr[i], SENTINEL, b->size);
    }
}

static bool data_intact(const struct block *b)
{
    return memcmp(b->work, b->orig, (size_t)b->k * b->size) == 0;
}

/* The erased shards still hold only the sentinel, and the others their
 * original bytes: a refused decode wrote nothing. */
static bool untouched(const struct block *b, const bool *erased)
{
    for (int i = 0; i < b->k + b->m; i++) {
        const uint8_t *p = b->work + (size_t)i * b->size;
        if (erased[i]) {
            for (size_t j = 0; j < b->size; j++)
                if (p[j] != SENTINEL)
                    return false;
        } else if (memcmp(p, b->orig + (size_t)i * b->size, b->size) != 0) {
            return false;
        }
    }
    return true;
}

/* Parity row i (of k..k+m-1) is sum_j D_j / (i + j). */
static bool parity_matches_reference(const struct block *b)
{
    for (int p = 0; p < b->m; p++) {
        const uint8_t *par = b->orig + (size_t)(b->k + p) * b->size;
        uint8_t coef[PVS_FEC_MAX_SHARDS];
        for (int j = 0; j < b->k; j++)
            coef[j] = ref_inv((uint8_t)((b->k + p) ^ j));
        for (size_t x = 0; x < b->size; x++) {
            uint8_t acc = 0;
            for (int j = 0; j < b->k; j++)
                acc ^= ref_mul(coef[j], b->orig[(size_t)j * b->size + x]);
            if (acc != par[x])
                return false;
        }
    }
    return true;
}

static void test_parity_reference(void)
{
    struct pvs_fec *fec = NULL;
    CHECK_INT(pvs_fec_open(&fec), ==, 0);
    static const int shapes[][2] = { { 1, 1 }, { 3, 2 }, { 10, 4 }, { 100, 20 }, { 1, 254 },
                                     { 200, 55 }, { 254, 1 } };
    static const size_t sizes[] = { 1, 15, 64, 333 };
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
        for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            struct block b;
            CHECK_INT(block_make(fec, &b, shapes[s][0], shapes[s][1], sizes[z]), ==, 0);
            CHECK(parity_matches_reference(&b));
            block_free(&b);
        }
    pvs_fec_close(&fec);
    CHECK(fec == NULL);
}

/* Every subset of lost shards for k = 1..6, m = 0..4: up to m lost must
 * come back bit-exact, more than m must be refused with nothing written. */
static void test_every_pattern_small(void)
{
    struct pvs_fec *fec = NULL;
    CHECK_INT(pvs_fec_open(&fec), ==, 0);
    static const size_t sizes[] = { 1, 31, 100 };
    int recovered = 0, refused = 0, bad_ok = 0, bad_refused = 0;
    for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++)
        for (int k = 1; k <= 6; k++)
            for (int m = 0; m <= 4; m++) {
                struct block b;
                CHECK_INT(block_make(fec, &b, k, m, sizes[z]), ==, 0);
                int n = k + m;
                for (unsigned mask = 0; mask < 1u << n; mask++) {
                    bool erased[PVS_FEC_MAX_SHARDS];
                    int lost = 0;
                    for (int i = 0; i < n; i++) {
                        erased[i] = (mask >> i) & 1;
                        lost += erased[i];
                    }
                    block_lose(&b, erased);
                    int rc = pvs_fec_decode(fec, k, m, b.size, b.ptr, b.present);
                    if (lost <= m) {
                        if (rc == 0 && data_intact(&b))
                            recovered++;
                        else
                            bad_ok++;
                    } else {
                        if (rc == PVS_EBADDATA && untouched(&b, erased))
                            refused++;
                        else
                            bad_refused++;
                    }
                }
                block_free(&b);
            }
    /* One check per pattern would print thousands of lines on a failure. */
    CHECK_INT(bad_ok, ==, 0);
    CHECK_INT(bad_refused, ==, 0);
    CHECK_INT(recovered, >, 0);
    CHECK_INT(refused, >, 0);
    test_checks_passed += recovered + refused;
    pvs_fec_close(&fec);
}

/* Picks `lost` distinct shards of the k + m at random. */
static void random_pattern(bool *erased, int n, int lost)
{
    memset(erased, 0, (size_t)n * sizeof(bool));
    for (int done = 0; done < lost;) {
        int i = (int)(rnd() % (unsigned)n);
        if (!erased[i]) {
            erased[i] = true;
            done++;
        }
    }
}

static void test_random_patterns_large(void)
{
    struct pvs_fec *fec = NULL;
    CHECK_INT(pvs_fec_open(&fec), ==, 0);
    static const struct { int k, m; size_t size; } cases[] = {
        { 200, 55, 1400 }, { 100, 20, 1400 }, { 1, 254, 1400 }, { 127, 128, 257 },
        { 254, 1, 1400 }, { 255, 0, 64 }, { 100, 20, 1 }, { 100, 20, 17 }, { 50, 50, 1001 },
        { 100, 20, PVS_FEC_MAX_SHARD_SIZE },
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        int k = cases[c].k, m = cases[c].m, n = k + m;
        struct block b;
        CHECK_INT(block_make(fec, &b, k, m, cases[c].size), ==, 0);
        bool erased[PVS_FEC_MAX_SHARDS];
        int trials = cases[c].size > 10000 ? 3 : 40;
        int ok = 0, refused = 0;
        for (int t = 0; t < trials; t++) {
            /* exactly m lost, then anything from 0 to m */
            random_pattern(erased, n, t & 1 ? (int)(rnd() % (unsigned)(m + 1)) : m);
            block_lose(&b, erased);
            if (pvs_fec_decode(fec, k, m, b.size, b.ptr, b.present) == 0 && data_intact(&b))
                ok++;
            /* one more than m: refused, nothing written */
            if (n > m + 1) {
                random_pattern(erased, n, m + 1 + (int)(rnd() % 3u));
                block_lose(&b, erased);
                if (pvs_fec_decode(fec, k, m, b.size, b.ptr, b.present) == PVS_EBADDATA &&
                    untouched(&b, erased))
                    refused++;
            } else {
                refused++;
            }
        }
        CHECK_INT(ok, ==, trials);
        CHECK_INT(refused, ==, trials);

        /* The worst case: the first min(k, m) data shards lost, then parity
         * from the front for the rest of m. */
        memset(erased, 0, sizeof(erased));
        for (int i = 0; i < m; i++)
            erased[i] = true;
        block_lose(&b, erased);
        CHECK_INT(pvs_fec_decode(fec, k, m, b.size, b.ptr, b.present), ==, 0);
        CHECK(data_intact(&b));
        /* The last data shards and the first parity ones. */
        memset(erased, 0, sizeof(erased));
        for (int i = 0; i < m; i++)
            erased[i < k ? k - 1 - i : i] = true;
        block_lose(&b, erased);
        CHECK_INT(pvs_fec_decode(fec, k, m, b.size, b.ptr, b.present), ==, 0);
        CHECK(data_intact(&b));
        block_free(&b);
    }
    pvs_fec_close(&fec);
}

/* More than 16 shapes in turn, and m growing for one k, through one
 * context: the cached tables must always be those of the shape asked for. */
static void test_cache(void)
{
    struct pvs_fec *fec = NULL;
    CHECK_INT(pvs_fec_open(&fec), ==, 0);
    int good = 0, runs = 0;
    for (int round = 0; round < 3; round++)
        for (int k = 1; k <= 40; k += 1 + round) {
            int m = 1 + (k + round) % 6;
            struct block b;
            bool erased[PVS_FEC_MAX_SHARDS];
            CHECK_INT(block_make(fec, &b, k, m, 48), ==, 0);
            random_pattern(erased, k + m, m);
            block_lose(&b, erased);
            runs++;
            if (parity_matches_reference(&b) &&
                pvs_fec_decode(fec, k, m, b.size, b.ptr, b.present) == 0 && data_intact(&b))
                good++;
            block_free(&b);
        }
    CHECK_INT(good, ==, runs);
    pvs_fec_close(&fec);
    pvs_fec_close(&fec); /* NULL again: a no-op */
    pvs_fec_close(NULL);
}

static void test_present_and_null_parity(void)
{
    struct pvs_fec *fec = NULL;
    CHECK_INT(pvs_fec_open(&fec), ==, 0);
    struct block b;
    CHECK_INT(block_make(fec, &b, 8, 4, 100), ==, 0);
    bool erased[PVS_FEC_MAX_SHARDS] = { false };

    /* Nothing lost: 0 at once, data as it was. */
    block_lose(&b, erased);
    CHECK_INT(pvs_fec_decode(fec, 8, 4, b.size, b.ptr, b.present), ==, 0);
    CHECK(data_intact(&b));

    /* Only parity lost, its pointers NULL: nothing to do. */
    erased[8] = erased[11] = true;
    block_lose(&b, erased);
    b.ptr[8] = b.ptr[11] = NULL;
    CHECK_INT(pvs_fec_decode(fec, 8, 4, b.size, b.ptr, b.present), ==, 0);
    CHECK(data_intact(&b));

    /* Two data and two parity lost, the lost parity pointers NULL. */
    erased[2] = erased[5] = true;
    block_lose(&b, erased);
    b.ptr[8] = b.ptr[11] = NULL;
    CHECK_INT(pvs_fec_decode(fec, 8, 4, b.size, b.ptr, b.present), ==, 0);
    CHECK(data_intact(&b));
    CHECK(b.present[2] == false); /* `present` is the caller's */

    /* A lost data shard needs a buffer to be written into. */
    block_lose(&b, erased);
    b.ptr[5] = NULL;
    CHECK_INT(pvs_fec_decode(fec, 8, 4, b.size, b.ptr, b.present), ==, PVS_EINVAL);
    /* So does a parity shard said to be present. */
    memset(erased, 0, sizeof(erased));
    erased[0] = true;
    block_lose(&b, erased);
    b.ptr[9] = NULL;
    CHECK_INT(pvs_fec_decode(fec, 8, 4, b.size, b.ptr, b.present), ==, PVS_EINVAL);

    block_free(&b);
    pvs_fec_close(&fec);
}

static void test_bad_shapes(void)
{
    struct pvs_fec *fec = NULL;
    CHECK_INT(pvs_fec_open(&fec), ==, 0);
    CHECK_INT(pvs_fec_open(NULL), ==, PVS_EINVAL);
    static uint8_t buf[PVS_FEC_MAX_SHARDS][64];
    const uint8_t *data[PVS_FEC_MAX_SHARDS];
    uint8_t *ptr[PVS_FEC_MAX_SHARDS];
    bool present[PVS_FEC_MAX_SHARDS];
    for (int i = 0; i < PVS_FEC_MAX_SHARDS; i++) {
        data[i] = buf[i];
        ptr[i] = buf[i];
        present[i] = true;
    }
    static const struct { int k, m; size_t size; } bad[] = {
        { 0, 2, 64 }, { -1, 2, 64 }, { 2, -1, 64 }, { 200, 56, 64 }, { 256, 0, 64 },
        { 1, 255, 64 }, { INT_MAX, 1, 64 }, { 1, INT_MAX, 64 }, { 4, 2, 0 },
        { 4, 2, PVS_FEC_MAX_SHARD_SIZE + 1 }, { 4, 2, (size_t)-1 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(pvs_fec_encode(fec, bad[i].k, bad[i].m, bad[i].size, data, ptr), ==, PVS_EINVAL);
        CHECK_INT(pvs_fec_decode(fec, bad[i].k, bad[i].m, bad[i].size, ptr, present), ==, PVS_EINVAL);
    }
    CHECK_INT(pvs_fec_encode(NULL, 4, 2, 64, data, ptr + 4), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_encode(fec, 4, 2, 64, NULL, ptr + 4), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_encode(fec, 4, 2, 64, data, NULL), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_encode(fec, 4, 0, 64, data, NULL), ==, 0);
    data[3] = NULL;
    CHECK_INT(pvs_fec_encode(fec, 4, 2, 64, data, ptr + 4), ==, PVS_EINVAL);
    data[3] = buf[3];
    ptr[5] = NULL;
    CHECK_INT(pvs_fec_encode(fec, 4, 2, 64, data, ptr + 4), ==, PVS_EINVAL);
    ptr[5] = buf[5];
    CHECK_INT(pvs_fec_encode(fec, 4, 2, 64, data, ptr + 4), ==, 0);
    CHECK_INT(pvs_fec_decode(NULL, 4, 2, 64, ptr, present), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_decode(fec, 4, 2, 64, NULL, present), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_decode(fec, 4, 2, 64, ptr, NULL), ==, PVS_EINVAL);
    /* m == 0 and a lost data shard: nothing can bring it back. */
    present[1] = false;
    CHECK_INT(pvs_fec_decode(fec, 4, 0, 64, ptr, present), ==, PVS_EBADDATA);
    pvs_fec_close(&fec);
}

static void test_parity_count(void)
{
    const int pct = PVS_FEC_DEFAULT_PERCENT, minp = PVS_FEC_DEFAULT_MIN_PARITY;
    CHECK_INT(pvs_fec_parity_count(100, pct, minp), ==, 20);
    CHECK_INT(pvs_fec_parity_count(1, pct, minp), ==, 2);
    CHECK_INT(pvs_fec_parity_count(10, pct, minp), ==, 2);
    CHECK_INT(pvs_fec_parity_count(11, pct, minp), ==, 3);   /* 2.2 rounds up */
    CHECK_INT(pvs_fec_parity_count(15, pct, minp), ==, 3);
    CHECK_INT(pvs_fec_parity_count(200, pct, minp), ==, 40);
    CHECK_INT(pvs_fec_parity_count(250, pct, minp), ==, 5);  /* 50 would not fit */
    CHECK_INT(pvs_fec_parity_count(254, pct, minp), ==, 1);
    CHECK_INT(pvs_fec_parity_count(255, pct, minp), ==, 0);
    CHECK_INT(pvs_fec_parity_count(10, 0, 0), ==, 0);
    CHECK_INT(pvs_fec_parity_count(10, 0, 3), ==, 3);
    CHECK_INT(pvs_fec_parity_count(1, 100000, 0), ==, 254);
    CHECK_INT(pvs_fec_parity_count(200, INT_MAX, 0), ==, 55);
    CHECK_INT(pvs_fec_parity_count(5, 20, INT_MAX), ==, 250);
    CHECK_INT(pvs_fec_parity_count(0, pct, minp), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_parity_count(256, pct, minp), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_parity_count(10, -1, minp), ==, PVS_EINVAL);
    CHECK_INT(pvs_fec_parity_count(10, pct, -1), ==, PVS_EINVAL);
    for (int k = 1; k <= 255; k++) {
        int m = pvs_fec_parity_count(k, pct, minp);
        if (m < 0 || k + m > 255 || (k + minp <= 255 && m < minp) ||
            (k + m < 255 && m * 100 < k * pct) || (m > minp && (m - 1) * 100 >= k * pct))
            CHECK_INT(k, ==, -1); /* names the k that broke it */
    }
}

int main(void)
{
    RUN(test_parity_reference);
    RUN(test_every_pattern_small);
    RUN(test_random_patterns_large);
    RUN(test_cache);
    RUN(test_present_and_null_parity);
    RUN(test_bad_shapes);
    RUN(test_parity_count);
    TEST_EXIT();
}
