/* Latency statistics in bounded memory.
 *
 * Samples (nanoseconds, >= 0) go into a log-linear histogram: 64 buckets per
 * power of two, so any percentile is within 1/64 (1.6 %) of the true sample
 * value, whatever the number of samples, in a fixed 16 KiB. Count, minimum,
 * maximum and mean are exact. Not thread-safe: one writer, or a lock. */
#ifndef PVS_STATS_H
#define PVS_STATS_H

#include <stdint.h>

#define PVS_STATS_SUB_BITS 6                       /* 64 buckets per octave */
#define PVS_STATS_SUB      (1 << PVS_STATS_SUB_BITS)
#define PVS_STATS_OCTAVES  (63 - PVS_STATS_SUB_BITS) /* covers all of int64 */

struct pvs_stats {
    uint64_t count;
    int64_t min_ns, max_ns;
    double sum_ns;
    uint32_t bucket[PVS_STATS_OCTAVES + 1][PVS_STATS_SUB];
};

/* The usual summary, in milliseconds. All zero when there are no samples. */
struct pvs_stats_summary {
    uint64_t count;
    double p50_ms, p95_ms, p99_ms, max_ms, min_ms, mean_ms;
};

void pvs_stats_reset(struct pvs_stats *s);
/* Negative samples are clamped to 0. */
void pvs_stats_add(struct pvs_stats *s, int64_t ns);
/* Value at quantile q (0..1) in nanoseconds; q <= 0 gives the minimum and
 * q >= 1 the maximum exactly. 0 when empty. */
int64_t pvs_stats_quantile(const struct pvs_stats *s, double q);
void pvs_stats_summarize(const struct pvs_stats *s, struct pvs_stats_summary *out);
/* Adds every sample of `src` into `dst`. */
void pvs_stats_merge(struct pvs_stats *dst, const struct pvs_stats *src);

#endif
