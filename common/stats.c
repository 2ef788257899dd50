/* Latency statistics: a log-linear histogram (HdrHistogram's idea, cut down
 * to what pvstream reports).
 *
 * Octave 0 holds 0..63 ns one value per bucket. Octave o >= 1 holds
 * [64 << (o-1), 128 << (o-1)) in 64 buckets of width 1 << (o-1), so a
 * bucket's width is at most 1/64 of its lower bound and its midpoint is
 * within 1/128 of any sample in it. Bucket counts saturate instead of
 * wrapping, so a very long run degrades gracefully rather than reporting
 * nonsense. */
#include <math.h>
#include <string.h>

#include "common/stats.h"

static unsigned msb64(uint64_t v)
{
    /* v > 0 here */
#if defined(__GNUC__)
    return 63u - (unsigned)__builtin_clzll(v);
#else
    unsigned n = 0;
    while (v >>= 1)
        n++;
    return n;
#endif
}

static void bucket_of(int64_t v, unsigned *oct, unsigned *sub)
{
    uint64_t u = (uint64_t)v;
    if (u < PVS_STATS_SUB) {
        *oct = 0;
        *sub = (unsigned)u;
        return;
    }
    unsigned msb = msb64(u); /* >= PVS_STATS_SUB_BITS */
    unsigned shift = msb - PVS_STATS_SUB_BITS;
    *oct = shift + 1;
    *sub = (unsigned)((u >> shift) & (PVS_STATS_SUB - 1));
}

/* Midpoint of a bucket: the value that is never more than half a bucket
 * width from a sample in it. */
static int64_t bucket_mid(unsigned oct, unsigned sub)
{
    if (oct == 0)
        return (int64_t)sub;
    unsigned shift = oct - 1;
    uint64_t lower = (uint64_t)(PVS_STATS_SUB + sub) << shift;
    uint64_t width = (uint64_t)1 << shift;
    return (int64_t)(lower + (width - 1) / 2);
}

static uint32_t sat_add32(uint32_t a, uint64_t b)
{
    uint64_t r = (uint64_t)a + b;
    return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

void pvs_stats_reset(struct pvs_stats *s)
{
    if (s)
        memset(s, 0, sizeof(*s));
}

void pvs_stats_add(struct pvs_stats *s, int64_t ns)
{
    if (!s)
        return;
    if (ns < 0)
        ns = 0;
    if (s->count == 0 || ns < s->min_ns)
        s->min_ns = ns;
    if (s->count == 0 || ns > s->max_ns)
        s->max_ns = ns;
    s->count++;
    s->sum_ns += (double)ns;
    unsigned oct, sub;
    bucket_of(ns, &oct, &sub);
    s->bucket[oct][sub] = sat_add32(s->bucket[oct][sub], 1);
}

int64_t pvs_stats_quantile(const struct pvs_stats *s, double q)
{
    if (!s || s->count == 0)
        return 0;
    if (!(q > 0)) /* also NaN */
        return s->min_ns;
    if (q >= 1)
        return s->max_ns;

    /* The buckets, not s->count, are the population we walk: they differ
     * once a bucket has saturated. */
    uint64_t total = 0;
    for (unsigned o = 0; o <= PVS_STATS_OCTAVES; o++)
        for (unsigned i = 0; i < PVS_STATS_SUB; i++)
            total += s->bucket[o][i];
    if (total == 0)
        return s->min_ns;

    /* Rank of the sample at quantile q, 1-based: the smallest sample with at
     * least q of all samples at or below it. */
    double r = ceil(q * (double)total);
    uint64_t rank = r < 1 ? 1 : r >= (double)total ? total : (uint64_t)r;

    uint64_t seen = 0;
    for (unsigned o = 0; o <= PVS_STATS_OCTAVES; o++) {
        for (unsigned i = 0; i < PVS_STATS_SUB; i++) {
            seen += s->bucket[o][i];
            if (seen >= rank) {
                int64_t v = bucket_mid(o, i);
                if (v < s->min_ns)
                    v = s->min_ns;
                if (v > s->max_ns)
                    v = s->max_ns;
                return v;
            }
        }
    }
    return s->max_ns;
}

void pvs_stats_summarize(const struct pvs_stats *s, struct pvs_stats_summary *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!s || s->count == 0)
        return;
    out->count = s->count;
    out->p50_ms = (double)pvs_stats_quantile(s, 0.50) / 1e6;
    out->p95_ms = (double)pvs_stats_quantile(s, 0.95) / 1e6;
    out->p99_ms = (double)pvs_stats_quantile(s, 0.99) / 1e6;
    out->min_ms = (double)s->min_ns / 1e6;
    out->max_ms = (double)s->max_ns / 1e6;
    out->mean_ms = s->sum_ns / (double)s->count / 1e6;
}

void pvs_stats_merge(struct pvs_stats *dst, const struct pvs_stats *src)
{
    if (!dst || !src || src->count == 0)
        return;
    if (dst->count == 0 || src->min_ns < dst->min_ns)
        dst->min_ns = src->min_ns;
    if (dst->count == 0 || src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    for (unsigned o = 0; o <= PVS_STATS_OCTAVES; o++)
        for (unsigned i = 0; i < PVS_STATS_SUB; i++)
            dst->bucket[o][i] = sat_add32(dst->bucket[o][i], src->bucket[o][i]);
}
