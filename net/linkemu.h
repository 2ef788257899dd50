/* The link emulator's core: one direction of a network path with a
 * bottleneck, for `pvstream-bench link` (and the ABR bench on top of it).
 * A packet offered to the link goes through, in order:
 *   loss (random, or in bursts: the Gilbert-Elliott model of lossmodel.h),
 *   a drop-tail queue (a limit in bytes, or in time at the current rate),
 *   the bottleneck (serialisation at the rate: a fluid token bucket with no
 *     burst allowance, so the link never sends faster than its rate),
 *   propagation: a base delay plus jitter, uniform 0..J, that never lets a
 *     packet overtake the one before it (a single path does not reorder).
 * Loss is applied on entry, as netem does, so a lost packet uses no capacity.
 * Every parameter may change on a schedule ("50M@0,10M@10s,50M@20s").
 *
 * The core holds no packets and reads no clock: the caller passes the time
 * (microseconds, any origin, never going backwards), asks when each packet
 * leaves (or why it is dropped), and holds the packet until then. Packets
 * leave in the order they were offered. So tests drive it on a fake clock,
 * and the same seed, sizes and times always give the same answers.
 *
 * Not thread-safe: one link belongs to one caller.
 *
 * There is no fuzz target for the schedule parser on purpose: it reads our
 * own command lines and test strings, never anything from the network. */
#ifndef PVS_LINKEMU_H
#define PVS_LINKEMU_H

#include <stddef.h>
#include <stdint.h>

/* ---- schedules ------------------------------------------------------------ */

/* A value that changes at given times: step i holds from at_us (since the
 * link opened) until the next step. Steps are in increasing time order and
 * the first is at 0; n == 0 means "not set" (the parameter's default). */
#define PVS_LINK_MAX_STEPS 512
struct pvs_link_step {
    int64_t at_us;
    double value;
};
struct pvs_link_sched {
    int n;
    struct pvs_link_step step[PVS_LINK_MAX_STEPS];
};

/* What a schedule's values are, which decides how they are written. */
enum pvs_link_kind {
    PVS_LINK_RATE,    /* bits per second: "50M", "800k", "1.5G" (x1000), or
                         "unlimited" (stored as 0) */
    PVS_LINK_TIME,    /* microseconds, written "5ms", "500us", "1s"; a bare
                         number is milliseconds */
    PVS_LINK_PERCENT, /* 0..100: "2", "0.5%" */
};

/* Parses "V" (constant) or "V@T,V@T,..." where each T is "10s", "500ms" or
 * a bare number of seconds, the first T is 0 and times increase. A rate may
 * also be "wifi:HIGH:LOW": HIGH with drops to LOW lasting 1-3 s, 4-12 s
 * apart, at random times drawn from `seed` (pvs_link_sched_wifi over the
 * longest time the steps allow, about 40 minutes). `what` names the option
 * in messages ("--rate"). Returns 0 or PVS_ECONFIG; the log says what is
 * wrong and how to write it. */
int pvs_link_sched_parse(const char *s, enum pvs_link_kind kind, uint64_t seed,
                         const char *what, struct pvs_link_sched *out);

/* A constant schedule. */
void pvs_link_sched_const(struct pvs_link_sched *out, double value);

/* The Wi-Fi-like rate schedule described above, for length_us (at least
 * until the steps run out). Deterministic for a seed. */
void pvs_link_sched_wifi(struct pvs_link_sched *out, double high_bps, double low_bps,
                         int64_t length_us, uint64_t seed);

/* The value at t_us since the start; `dflt` when the schedule is not set. */
double pvs_link_sched_at(const struct pvs_link_sched *s, int64_t t_us, double dflt);

/* Parses a queue limit: a time ("100ms", "1s", "500us") into *us, or a size
 * in bytes ("64K", "1M", "30000"; K = 1024) into *bytes; the other is set
 * to 0. Returns 0 or PVS_ECONFIG (logged, naming `what`). */
int pvs_link_queue_parse(const char *s, const char *what, int64_t *bytes, int64_t *us);

/* ---- the link ------------------------------------------------------------- */

/* One interval of the time series: t_us is its end, since the start. */
struct pvs_link_sample {
    int64_t t_us;
    double capacity_bps;   /* the rate at the interval's start; 0: unlimited */
    double offered_bps;    /* what was offered (before loss) */
    double delivered_bps;  /* what left the bottleneck */
    double queue_bytes;    /* at the end */
    int64_t queue_delay_us;/* at the end */
    uint64_t drops;        /* packets dropped in the interval, any cause */
};

/* Zeroed is valid: an unlimited, lossless link with no delay. */
struct pvs_link_config {
    struct pvs_link_sched rate;   /* bits/s; not set or 0: unlimited */
    struct pvs_link_sched delay;  /* base (propagation) delay, µs */
    struct pvs_link_sched jitter; /* extra delay, uniform 0..value µs */
    struct pvs_link_sched loss;   /* percent of packets lost on entry */
    double burst;                 /* mean length of a run of losses (>= 1;
                                     0 or 1: independent losses) */
    int64_t queue_bytes;          /* drop-tail limit in bytes, or */
    int64_t queue_us;             /* in time at the current rate; both 0:
                                     PVS_LINK_DEFAULT_QUEUE_US */
    uint64_t seed;
    int64_t sample_us;            /* time series interval; 0: 100 ms */
    /* Called for each interval that ends, from offer and advance, with the
     * direction's figures over it (may be NULL). */
    void (*on_sample)(void *ctx, const struct pvs_link_sample *s);
    void *sample_ctx;
};
#define PVS_LINK_DEFAULT_QUEUE_US 100000

/* Why a packet is dropped, or not. */
enum pvs_link_verdict {
    PVS_LINK_PASS = 0,
    PVS_LINK_DROP_QUEUE,  /* the queue was full (drop-tail) */
    PVS_LINK_DROP_RANDOM, /* independent random loss */
    PVS_LINK_DROP_BURST,  /* loss in a burst (the bad state) */
};

struct pvs_link_stats {
    uint64_t in_packets, in_bytes;   /* offered */
    uint64_t out_packets, out_bytes; /* accepted: will leave */
    uint64_t drop_queue, drop_random, drop_burst; /* packets, by cause */
    double capacity_bps;     /* the rate now; 0: unlimited */
    double queue_bytes;      /* waiting for the bottleneck now */
    int64_t queue_delay_us;  /* how long a packet offered now would wait */
};

struct pvs_link;

/* Opens a link whose schedules start at start_us. Returns 0, PVS_EINVAL
 * (NULL), PVS_ECONFIG (a value out of range; the log says which) or
 * PVS_ENOMEM. */
int pvs_link_open(struct pvs_link **out, const struct pvs_link_config *cfg, int64_t start_us);
/* Accepts NULL; clears *l. */
void pvs_link_close(struct pvs_link **l);

/* Offers a packet of `bytes` at now_us. Returns PVS_LINK_PASS with the time
 * it arrives at the far end in *arrive_us (never before an earlier packet's),
 * or the cause of its drop. */
enum pvs_link_verdict pvs_link_offer(struct pvs_link *l, size_t bytes, int64_t now_us,
                                     int64_t *arrive_us);

/* Moves the link's clock to now_us (draining the queue and ending time
 * series intervals) without offering anything. */
void pvs_link_advance(struct pvs_link *l, int64_t now_us);

/* When the next time series interval ends (absolute, as now_us). */
int64_t pvs_link_next_sample(const struct pvs_link *l);

/* The counts so far and the state at the link's clock (the last offer or
 * advance). */
void pvs_link_get_stats(const struct pvs_link *l, struct pvs_link_stats *out);

/* "queue full", "random loss", "burst loss" or "passed". */
const char *pvs_link_verdict_name(enum pvs_link_verdict v);

#endif
