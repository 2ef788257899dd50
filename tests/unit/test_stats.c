/* Tests for common/stats: histogram quantiles against exact quantiles of the
 * same samples, sorted, for several distributions; the exact fields; merge;
 * the edges (empty, negative, huge). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "tests/unit/test.h"

/* 1/64 is the header's promise; the midpoint actually does 1/128. */
#define REL_TOL (1.0 / 64)

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static double uniform01(void)
{
    return (double)(rng() >> 11) / 9007199254740992.0; /* [0, 1) */
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The sample at quantile q of sorted v[0..n-1], by the same rank rule as the
 * histogram: the smallest sample with at least q of all at or below it. */
static int64_t exact_quantile(const int64_t *v, size_t n, double q)
{
    if (q <= 0)
        return v[0];
    if (q >= 1)
        return v[n - 1];
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* Adds the samples, then checks many quantiles and the exact fields. */
static void check_against_exact(int64_t *v, size_t n)
{
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        pvs_stats_add(&s, v[i]);
        sum += (double)v[i];
    }
    qsort(v, n, sizeof(*v), cmp_i64);
    CHECK_INT(s.count, ==, n);
    CHECK_INT(s.min_ns, ==, v[0]);
    CHECK_INT(s.max_ns, ==, v[n - 1]);
    CHECK_NEAR(s.sum_ns, sum, fabs(sum) * 1e-12);

    static const double qs[] = { 0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9,
                                 0.95, 0.99, 0.999, 1.0 };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        int64_t want = exact_quantile(v, n, qs[i]);
        int64_t got = pvs_stats_quantile(&s, qs[i]);
        CHECK_NEAR(got, want, (double)want * REL_TOL);
        CHECK(got >= s.min_ns && got <= s.max_ns);
    }
}

static void test_empty(void)
{
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    CHECK_INT(s.count, ==, 0);
    CHECK_INT(pvs_stats_quantile(&s, 0.5), ==, 0);
    CHECK_INT(pvs_stats_quantile(&s, 0), ==, 0);
    CHECK_INT(pvs_stats_quantile(&s, 1), ==, 0);
    struct pvs_stats_summary sum;
    memset(&sum, 0xff, sizeof(sum));
    pvs_stats_summarize(&s, &sum);
    CHECK_INT(sum.count, ==, 0);
    CHECK(sum.p50_ms == 0 && sum.p95_ms == 0 && sum.p99_ms == 0);
    CHECK(sum.min_ms == 0 && sum.max_ms == 0 && sum.mean_ms == 0);
    /* The bound on memory is part of the contract. */
    CHECK(sizeof(struct pvs_stats) <= 16 * 1024);
}

static void test_small_values_exact(void)
{
    /* Octave 0 holds 0..63 one value per bucket, and 64..127 has width 1:
     * every quantile of small values is exact. */
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    for (int v = 0; v < 128; v++)
        pvs_stats_add(&s, v);
    for (int k = 1; k <= 128; k++)
        CHECK_INT(pvs_stats_quantile(&s, (double)k / 128), ==, k - 1);
}

static void test_uniform(void)
{
    /* 1..100000 µs, as frame latencies might be. */
    size_t n = 200000;
    int64_t *v = malloc(n * sizeof(*v));
    CHECK(v != NULL);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(1 + rng() % 100000) * 1000;
    check_against_exact(v, n);

    static struct pvs_stats s;
    pvs_stats_reset(&s);
    for (size_t i = 0; i < n; i++)
        pvs_stats_add(&s, v[i]);
    struct pvs_stats_summary sum;
    pvs_stats_summarize(&s, &sum);
    CHECK_INT(sum.count, ==, n);
    /* v is sorted now; the ms summary against the exact values. */
    CHECK_NEAR(sum.p50_ms, exact_quantile(v, n, 0.50) / 1e6, 50.0 * 0.016);
    CHECK_NEAR(sum.p95_ms, exact_quantile(v, n, 0.95) / 1e6, 95.0 * 0.016);
    CHECK_NEAR(sum.p99_ms, exact_quantile(v, n, 0.99) / 1e6, 99.0 * 0.016);
    /* and against the distribution itself */
    CHECK_NEAR(sum.p50_ms, 50.0, 50.0 * 0.016 + 0.5);
    CHECK_NEAR(sum.p95_ms, 95.0, 95.0 * 0.016 + 0.5);
    CHECK_NEAR(sum.p99_ms, 99.0, 99.0 * 0.016 + 0.5);
    CHECK_NEAR(sum.mean_ms, 50.0, 0.5);
    CHECK_NEAR(sum.min_ms, v[0] / 1e6, 1e-9);
    CHECK_NEAR(sum.max_ms, v[n - 1] / 1e6, 1e-9);
    free(v);
}

static void test_constant(void)
{
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    const int64_t c = 16666667; /* one 60 Hz frame */
    for (int i = 0; i < 1000; i++)
        pvs_stats_add(&s, c);
    /* min == max == c, and the bucket midpoint is clamped to them. */
    CHECK_INT(pvs_stats_quantile(&s, 0.5), ==, c);
    CHECK_INT(pvs_stats_quantile(&s, 0.99), ==, c);
    CHECK_INT(pvs_stats_quantile(&s, 0.0), ==, c);
    CHECK_INT(pvs_stats_quantile(&s, 1.0), ==, c);
    struct pvs_stats_summary sum;
    pvs_stats_summarize(&s, &sum);
    CHECK_NEAR(sum.mean_ms, 16.666667, 1e-9);
    CHECK_NEAR(sum.p50_ms, 16.666667, 1e-9);
}

static void test_bimodal(void)
{
    /* 90 % around 5 ms, 10 % around 80 ms (a stall every few frames):
     * p50 must sit in the low mode, p95 and p99 in the high one. */
    size_t n = 100000;
    int64_t *v = malloc(n * sizeof(*v));
    CHECK(v != NULL);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        if (rng() % 10 == 0)
            v[i] = 80000000 + (int64_t)(rng() % 2000000);
        else
            v[i] = 5000000 + (int64_t)(rng() % 500000);
    }
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    for (size_t i = 0; i < n; i++)
        pvs_stats_add(&s, v[i]);
    CHECK_INT(pvs_stats_quantile(&s, 0.5), <, 6000000);
    CHECK_INT(pvs_stats_quantile(&s, 0.95), >, 79000000);
    check_against_exact(v, n);
    free(v);
}

static void test_exponential(void)
{
    size_t n = 100000;
    int64_t *v = malloc(n * sizeof(*v));
    CHECK(v != NULL);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)(-log(1.0 - uniform01()) * 2e6); /* mean 2 ms */
    check_against_exact(v, n);
    free(v);
}

static void test_wide_range(void)
{
    /* Log-uniform over 1 ns .. 1000 s: every octave gets used. */
    size_t n = 50000;
    int64_t *v = malloc(n * sizeof(*v));
    CHECK(v != NULL);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = (int64_t)exp(uniform01() * log(1e12));
    check_against_exact(v, n);
    free(v);
}

static void test_merge(void)
{
    static struct pvs_stats a, b, all;
    pvs_stats_reset(&a);
    pvs_stats_reset(&b);
    pvs_stats_reset(&all);
    for (int i = 0; i < 10000; i++) {
        int64_t x = (int64_t)(rng() % 50000000);
        pvs_stats_add(i % 3 ? &a : &b, x);
        pvs_stats_add(&all, x);
    }
    pvs_stats_merge(&a, &b);
    CHECK_INT(a.count, ==, all.count);
    CHECK_INT(a.min_ns, ==, all.min_ns);
    CHECK_INT(a.max_ns, ==, all.max_ns);
    CHECK_NEAR(a.sum_ns, all.sum_ns, all.sum_ns * 1e-12);
    CHECK(memcmp(a.bucket, all.bucket, sizeof(a.bucket)) == 0);
    CHECK_INT(pvs_stats_quantile(&a, 0.99), ==, pvs_stats_quantile(&all, 0.99));

    /* into an empty one: takes min and max from the source */
    static struct pvs_stats e;
    pvs_stats_reset(&e);
    pvs_stats_merge(&e, &b);
    CHECK_INT(e.count, ==, b.count);
    CHECK_INT(e.min_ns, ==, b.min_ns);
    CHECK_INT(e.max_ns, ==, b.max_ns);

    /* from an empty one: nothing changes (an empty min of 0 must not leak) */
    static struct pvs_stats before;
    pvs_stats_reset(&e);
    pvs_stats_add(&e, 1000);
    before = e;
    pvs_stats_reset(&b);
    pvs_stats_merge(&e, &b);
    CHECK(memcmp(&e, &before, sizeof(e)) == 0);
    CHECK_INT(e.min_ns, ==, 1000);

    /* with itself: every sample twice */
    pvs_stats_merge(&e, &e);
    CHECK_INT(e.count, ==, 2);
    CHECK_INT(pvs_stats_quantile(&e, 0.5), ==, 1000);
}

static void test_negative_clamped(void)
{
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    pvs_stats_add(&s, -5);
    pvs_stats_add(&s, INT64_MIN);
    pvs_stats_add(&s, 10);
    CHECK_INT(s.count, ==, 3);
    CHECK_INT(s.min_ns, ==, 0);
    CHECK_INT(s.max_ns, ==, 10);
    CHECK_INT(pvs_stats_quantile(&s, 0.5), ==, 0);
    CHECK_INT(pvs_stats_quantile(&s, 0.0), ==, 0);
    CHECK(s.sum_ns == 10);
}

static void test_huge(void)
{
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    const int64_t big = INT64_MAX / 2;
    pvs_stats_add(&s, big);
    pvs_stats_add(&s, big + 12345);
    pvs_stats_add(&s, INT64_MAX);
    CHECK_INT(s.max_ns, ==, INT64_MAX);
    CHECK_INT(s.min_ns, ==, big);
    int64_t p50 = pvs_stats_quantile(&s, 0.5);
    CHECK_NEAR((double)p50, (double)big, (double)big * REL_TOL);
    int64_t p99 = pvs_stats_quantile(&s, 0.99);
    CHECK_NEAR((double)p99, (double)INT64_MAX, (double)INT64_MAX * REL_TOL);
    CHECK(p99 > 0 && p99 <= INT64_MAX);
    CHECK_INT(pvs_stats_quantile(&s, 1.0), ==, INT64_MAX);
    struct pvs_stats_summary sum;
    pvs_stats_summarize(&s, &sum);
    CHECK(sum.max_ms > 9.2e12 && isfinite(sum.mean_ms));
}

static void test_quantile_edges(void)
{
    static struct pvs_stats s;
    pvs_stats_reset(&s);
    for (int i = 1; i <= 1000; i++)
        pvs_stats_add(&s, (int64_t)i * 1000003);
    CHECK_INT(pvs_stats_quantile(&s, -1), ==, 1000003);
    CHECK_INT(pvs_stats_quantile(&s, 0), ==, 1000003);
    CHECK_INT(pvs_stats_quantile(&s, 1), ==, 1000003000);
    CHECK_INT(pvs_stats_quantile(&s, 7), ==, 1000003000);
    CHECK_INT(pvs_stats_quantile(&s, NAN), ==, 1000003);
    /* monotonic in q */
    int64_t prev = 0;
    int mono = 1;
    for (int k = 0; k <= 1000; k++) {
        int64_t v = pvs_stats_quantile(&s, k / 1000.0);
        if (v < prev)
            mono = 0;
        prev = v;
    }
    CHECK(mono);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_small_values_exact);
    RUN(test_uniform);
    RUN(test_constant);
    RUN(test_bimodal);
    RUN(test_exponential);
    RUN(test_wide_range);
    RUN(test_merge);
    RUN(test_negative_clamped);
    RUN(test_huge);
    RUN(test_quantile_edges);
    TEST_EXIT();
}
