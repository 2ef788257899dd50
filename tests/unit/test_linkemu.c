/* Tests for the link emulator's core (net/linkemu.h), on a fake clock: the
 * bottleneck's rate, the queue's delay and drop-tail limit, random and
 * bursty loss, schedules taking effect at their times, jitter without
 * reordering, the time series, determinism and the parsers' errors. The
 * measured figures are printed so a run shows how close they are. Seeds are
 * fixed, and the loss tolerances are several standard deviations wide. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/linkemu.h"
#include "tests/unit/test.h"

#define PKT 1200

static struct pvs_link_config cfg; /* large (schedules): not on the stack */

static void reset_cfg(void)
{
    memset(&cfg, 0, sizeof(cfg));
    cfg.seed = 1;
}

static struct pvs_link *open_link(void)
{
    struct pvs_link *l = NULL;
    CHECK_INT(pvs_link_open(&l, &cfg, 1000), ==, 0); /* any origin */
    return l;
}

static void set(struct pvs_link_sched *s, const char *spec, enum pvs_link_kind kind)
{
    CHECK_INT(pvs_link_sched_parse(spec, kind, 1, "test", s), ==, 0);
}

/* What came out of a flow: bytes arriving in a window, delays. */
struct flow {
    int64_t from_us, to_us;  /* the window, since the start */
    double bytes;            /* arrived in the window */
    double max_delay_us, last_delay_us;
    int64_t last_arrive;
    bool reordered;
    uint64_t passed;
};

/* Offers PKT-byte packets at `bps` for `seconds` from the start (1000). */
static void run_flow(struct pvs_link *l, double bps, double seconds, struct flow *f)
{
    double gap_us = PKT * 8 / bps * 1e6;
    f->last_arrive = 0;
    for (double t = 0; t < seconds * 1e6; t += gap_us) {
        int64_t now = 1000 + (int64_t)t, arrive;
        if (pvs_link_offer(l, PKT, now, &arrive) != PVS_LINK_PASS)
            continue;
        f->passed++;
        f->reordered |= arrive < f->last_arrive;
        f->last_arrive = arrive;
        f->last_delay_us = (double)(arrive - now);
        f->max_delay_us = fmax(f->max_delay_us, f->last_delay_us);
        if (arrive - 1000 >= f->from_us && arrive - 1000 < f->to_us)
            f->bytes += PKT;
    }
}

static double window_bps(const struct flow *f)
{
    return f->bytes * 8 / ((double)(f->to_us - f->from_us) / 1e6);
}

static void test_rate(void)
{
    reset_cfg();
    set(&cfg.rate, "20M", PVS_LINK_RATE);
    struct pvs_link *l = open_link();
    struct flow f = { .from_us = 1000000, .to_us = 9000000 };
    run_flow(l, 30e6, 10, &f); /* 1.5x the capacity */
    double bps = window_bps(&f);
    fprintf(stderr, "  20 Mbit/s bottleneck, 30 Mbit/s offered: %.3f Mbit/s delivered (%+.3f %%)\n",
            bps / 1e6, (bps / 20e6 - 1) * 100);
    CHECK_NEAR(bps, 20e6, 20e6 * 0.02);
    struct pvs_link_stats st;
    pvs_link_get_stats(l, &st);
    CHECK(st.drop_queue > 0);
    CHECK_INT(st.drop_random + st.drop_burst, ==, 0);
    CHECK_INT(st.in_packets, ==, st.out_packets + st.drop_queue);
    CHECK_NEAR(st.capacity_bps, 20e6, 1);
    pvs_link_close(&l);
    CHECK(l == NULL);

    /* Below the capacity nothing is dropped and nothing waits. */
    l = open_link();
    struct flow g = { .from_us = 1000000, .to_us = 9000000 };
    run_flow(l, 15e6, 10, &g);
    pvs_link_get_stats(l, &st);
    CHECK_INT(st.drop_queue, ==, 0);
    CHECK_NEAR(window_bps(&g), 15e6, 15e6 * 0.01);
    CHECK(g.max_delay_us <= PKT * 8 / 20e6 * 1e6 + 1); /* one packet's serialisation */
    pvs_link_close(&l);
}

static void test_queue_delay(void)
{
    reset_cfg();
    set(&cfg.rate, "10M", PVS_LINK_RATE);
    CHECK_INT(pvs_link_queue_parse("100ms", "test", &cfg.queue_bytes, &cfg.queue_us), ==, 0);
    struct pvs_link *l = open_link();
    struct flow f = { 0 };
    run_flow(l, 15e6, 5, &f);
    struct pvs_link_stats st;
    pvs_link_get_stats(l, &st);
    fprintf(stderr, "  100 ms queue at 10 Mbit/s, saturated: last packet waited %.2f ms, "
            "queue %.2f ms, %.0f bytes\n", f.last_delay_us / 1000, st.queue_delay_us / 1000.0,
            st.queue_bytes);
    /* Full to within one packet: 125,000 bytes at 10 Mbit/s. */
    CHECK_NEAR(f.last_delay_us, 100000, 1000);
    CHECK_NEAR(st.queue_delay_us, 100000, 1000);
    CHECK_NEAR(st.queue_bytes, 125000, PKT);
    CHECK(f.max_delay_us <= 100000 + 1000);
    CHECK(st.drop_queue > 0);
    pvs_link_close(&l);

    /* A limit in bytes: 64 KiB at 10 Mbit/s is 52.4 ms. */
    CHECK_INT(pvs_link_queue_parse("64K", "test", &cfg.queue_bytes, &cfg.queue_us), ==, 0);
    CHECK_INT(cfg.queue_bytes, ==, 65536);
    l = open_link();
    struct flow g = { 0 };
    run_flow(l, 15e6, 3, &g);
    fprintf(stderr, "  64 KiB queue at 10 Mbit/s: %.2f ms (52.43 expected)\n",
            g.last_delay_us / 1000);
    CHECK_NEAR(g.last_delay_us, 52429, 1000);
    pvs_link_close(&l);

    /* Base delay adds to the queue's. */
    cfg.queue_bytes = 0;
    cfg.queue_us = 20000;
    set(&cfg.delay, "5ms", PVS_LINK_TIME);
    l = open_link();
    struct flow h = { 0 };
    run_flow(l, 15e6, 2, &h);
    CHECK_NEAR(h.last_delay_us, 25000, 1000);
    pvs_link_close(&l);
}

/* Offers n packets; returns the loss rate and the mean run of losses. */
static void run_loss(struct pvs_link *l, int n, double *rate, double *mean_run,
                     struct pvs_link_stats *st)
{
    int lost = 0, runs = 0;
    bool in_run = false;
    for (int i = 0; i < n; i++) {
        int64_t arrive;
        bool drop = pvs_link_offer(l, PKT, 1000 + (int64_t)i * 100, &arrive) != PVS_LINK_PASS;
        lost += drop;
        runs += drop && !in_run;
        in_run = drop;
    }
    *rate = 100.0 * lost / n;
    *mean_run = runs ? (double)lost / runs : 0;
    pvs_link_get_stats(l, st);
}

static void test_loss(void)
{
    reset_cfg();
    set(&cfg.loss, "2", PVS_LINK_PERCENT);
    struct pvs_link *l = open_link();
    double rate, run;
    struct pvs_link_stats st;
    run_loss(l, 400000, &rate, &run, &st);
    fprintf(stderr, "  random loss 2 %%: %.3f %%, mean run %.3f\n", rate, run);
    CHECK_NEAR(rate, 2.0, 0.1);
    CHECK_NEAR(run, 1.0 / 0.98, 0.02);
    CHECK_INT(st.drop_random, ==, (uint64_t)llround(rate * 4000));
    CHECK_INT(st.drop_burst + st.drop_queue, ==, 0);
    pvs_link_close(&l);

    cfg.burst = 3;
    set(&cfg.loss, "0.5%", PVS_LINK_PERCENT);
    l = open_link();
    run_loss(l, 2000000, &rate, &run, &st);
    fprintf(stderr, "  bursty loss 0.5 %% in runs of 3: %.3f %%, mean run %.3f\n", rate, run);
    CHECK_NEAR(rate, 0.5, 0.05);
    CHECK_NEAR(run, 3.0, 0.15);
    CHECK(st.drop_burst > 0);
    CHECK_INT(st.drop_random, ==, 0);
    pvs_link_close(&l);
}

/* Samples kept by the time series hook. */
static struct pvs_link_sample samples[1000];
static int nsamples;
static void keep_sample(void *ctx, const struct pvs_link_sample *s)
{
    (void)ctx;
    if (nsamples < 1000)
        samples[nsamples++] = *s;
}

static void test_schedule(void)
{
    reset_cfg();
    set(&cfg.rate, "50M@0,10M@10s,50M@20s", PVS_LINK_RATE);
    cfg.on_sample = keep_sample;
    nsamples = 0;
    struct pvs_link *l = open_link();
    struct flow a = { .from_us = 1000000, .to_us = 9500000 };
    struct flow b = { .from_us = 11000000, .to_us = 19500000 };
    struct flow c = { .from_us = 21000000, .to_us = 29500000 };
    /* The same offers measured through three windows: run once, count thrice. */
    double gap_us = PKT * 8 / 60e6 * 1e6;
    for (double t = 0; t < 30e6; t += gap_us) {
        int64_t now = 1000 + (int64_t)t, arrive;
        if (pvs_link_offer(l, PKT, now, &arrive) != PVS_LINK_PASS)
            continue;
        struct flow *w[] = { &a, &b, &c };
        for (int i = 0; i < 3; i++)
            if (arrive - 1000 >= w[i]->from_us && arrive - 1000 < w[i]->to_us)
                w[i]->bytes += PKT;
    }
    fprintf(stderr, "  50 -> 10 -> 50 Mbit/s: %.2f, %.2f, %.2f Mbit/s\n", window_bps(&a) / 1e6,
            window_bps(&b) / 1e6, window_bps(&c) / 1e6);
    CHECK_NEAR(window_bps(&a), 50e6, 50e6 * 0.02);
    CHECK_NEAR(window_bps(&b), 10e6, 10e6 * 0.02);
    CHECK_NEAR(window_bps(&c), 50e6, 50e6 * 0.02);
    /* The series: 100 ms intervals, the capacity changing at 10 s exactly,
     * the queue full (100 ms) while the link is saturated. */
    CHECK_INT(nsamples, >=, 299);
    if (nsamples >= 299) {
        CHECK_INT(samples[0].t_us, ==, 100000);
        CHECK_NEAR(samples[99].capacity_bps, 50e6, 1);   /* 9.9..10.0 s */
        CHECK_NEAR(samples[100].capacity_bps, 10e6, 1);  /* 10.0..10.1 s */
        CHECK_NEAR(samples[199].capacity_bps, 10e6, 1);
        CHECK_NEAR(samples[200].capacity_bps, 50e6, 1);
        CHECK_NEAR(samples[150].delivered_bps, 10e6, 10e6 * 0.02);
        CHECK_NEAR(samples[150].offered_bps, 60e6, 60e6 * 0.02);
        CHECK_NEAR(samples[150].queue_delay_us, 100000, 2000);
        CHECK(samples[150].drops > 0);
    }
    pvs_link_close(&l);

    /* Delay and loss change at their times too. */
    reset_cfg();
    set(&cfg.delay, "5ms@0,50ms@1s", PVS_LINK_TIME);
    set(&cfg.loss, "0@0,100@2s,0@2500ms", PVS_LINK_PERCENT);
    l = open_link();
    int64_t arrive;
    CHECK_INT(pvs_link_offer(l, PKT, 1000 + 999000, &arrive), ==, PVS_LINK_PASS);
    CHECK_INT(arrive - (1000 + 999000), ==, 5000);
    CHECK_INT(pvs_link_offer(l, PKT, 1000 + 1000000, &arrive), ==, PVS_LINK_PASS);
    CHECK_INT(arrive - (1000 + 1000000), ==, 50000);
    CHECK_INT(pvs_link_offer(l, PKT, 1000 + 1999999, &arrive), ==, PVS_LINK_PASS);
    CHECK_INT(pvs_link_offer(l, PKT, 1000 + 2000000, &arrive), ==, PVS_LINK_DROP_RANDOM);
    CHECK_INT(pvs_link_offer(l, PKT, 1000 + 2499999, &arrive), ==, PVS_LINK_DROP_RANDOM);
    CHECK_INT(pvs_link_offer(l, PKT, 1000 + 2500000, &arrive), ==, PVS_LINK_PASS);
    pvs_link_close(&l);
}

/* Offers packets `gap_us` apart for 5 s through 10 ms + jitter 0..20 ms. */
static void run_jitter(double gap_us, double *min_delay, double *max_delay, bool *reordered)
{
    reset_cfg();
    set(&cfg.delay, "10ms", PVS_LINK_TIME);
    set(&cfg.jitter, "20ms", PVS_LINK_TIME);
    set(&cfg.rate, "100M", PVS_LINK_RATE);
    struct pvs_link *l = open_link();
    int64_t last = 0;
    *min_delay = 1e9;
    *max_delay = 0;
    *reordered = false;
    for (double t = 0; t < 5e6; t += gap_us) {
        int64_t now = 1000 + (int64_t)t, arrive;
        CHECK_INT(pvs_link_offer(l, PKT, now, &arrive), ==, PVS_LINK_PASS);
        *reordered |= arrive < last;
        last = arrive;
        *min_delay = fmin(*min_delay, (double)(arrive - now));
        *max_delay = fmax(*max_delay, (double)(arrive - now));
    }
    pvs_link_close(&l);
}

static void test_jitter(void)
{
    /* Sparse packets (25 ms apart) see the whole range... */
    double lo, hi;
    bool reordered;
    run_jitter(25000, &lo, &hi, &reordered);
    fprintf(stderr, "  10 ms + jitter 0..20 ms, a packet every 25 ms: %.2f..%.2f ms, "
            "reordered: %s\n", lo / 1000, hi / 1000, reordered ? "yes" : "no");
    CHECK(!reordered);
    CHECK(lo >= 10000 && lo < 11000);
    CHECK(hi > 29000 && hi <= 30000 + PKT * 8 / 100e6 * 1e6 + 1); /* + serialisation */
    /* ...a dense flow (20 Mbit/s) is never reordered either, so a packet
     * waits behind the late ones before it: the delay stays within the
     * range but crowds towards its top (as netem's does without reordering). */
    run_jitter(PKT * 8 / 20e6 * 1e6, &lo, &hi, &reordered);
    fprintf(stderr, "  the same at 20 Mbit/s: %.2f..%.2f ms, reordered: %s\n", lo / 1000,
            hi / 1000, reordered ? "yes" : "no");
    CHECK(!reordered);
    CHECK(lo >= 10000);
    CHECK(hi <= 30000 + PKT * 8 / 100e6 * 1e6 + 1);
}

/* The same seed and offers give the same answers; another seed does not. */
static uint64_t fingerprint(uint64_t seed)
{
    reset_cfg();
    cfg.seed = seed;
    set(&cfg.loss, "5", PVS_LINK_PERCENT);
    cfg.burst = 2;
    set(&cfg.jitter, "3ms", PVS_LINK_TIME);
    struct pvs_link *l = open_link();
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 20000; i++) {
        int64_t arrive = 0;
        int v = pvs_link_offer(l, PKT, 1000 + i * 50, &arrive);
        h = (h ^ (uint64_t)(v * 1000003 + arrive)) * 1099511628211ull;
    }
    pvs_link_close(&l);
    return h;
}

static void test_deterministic(void)
{
    CHECK(fingerprint(7) == fingerprint(7));
    CHECK(fingerprint(7) != fingerprint(8));
}

static int errors_logged;
static void count_errors(void *opaque, enum pvs_log_level level, const char *file, int line,
                         const char *msg)
{
    (void)opaque, (void)file, (void)line, (void)msg;
    if (level == PVS_LOG_ERROR)
        errors_logged++;
}

static void test_parse(void)
{
    static struct pvs_link_sched s;
    CHECK_INT(pvs_link_sched_parse("50M@0,10M@10s,50M@20500ms", PVS_LINK_RATE, 0, "t", &s), ==, 0);
    CHECK_INT(s.n, ==, 3);
    CHECK_NEAR(s.step[1].value, 10e6, 0);
    CHECK_INT(s.step[1].at_us, ==, 10000000);
    CHECK_INT(s.step[2].at_us, ==, 20500000);
    CHECK_NEAR(pvs_link_sched_at(&s, 9999999, 0), 50e6, 0);
    CHECK_NEAR(pvs_link_sched_at(&s, 10000000, 0), 10e6, 0);
    CHECK_INT(pvs_link_sched_parse("800k", PVS_LINK_RATE, 0, "t", &s), ==, 0);
    CHECK_NEAR(s.step[0].value, 800e3, 0);
    CHECK_INT(pvs_link_sched_parse("unlimited@0,1.5G@2", PVS_LINK_RATE, 0, "t", &s), ==, 0);
    CHECK_NEAR(s.step[0].value, 0, 0);
    CHECK_NEAR(s.step[1].value, 1.5e9, 0);
    CHECK_INT(s.step[1].at_us, ==, 2000000);
    CHECK_INT(pvs_link_sched_parse("5", PVS_LINK_TIME, 0, "t", &s), ==, 0);
    CHECK_NEAR(s.step[0].value, 5000, 0);
    CHECK_INT(pvs_link_sched_parse("500us@0,1s@1", PVS_LINK_TIME, 0, "t", &s), ==, 0);
    CHECK_NEAR(s.step[0].value, 500, 0);
    CHECK_NEAR(s.step[1].value, 1e6, 0);
    CHECK_INT(pvs_link_sched_parse("0.5%", PVS_LINK_PERCENT, 0, "t", &s), ==, 0);
    CHECK_NEAR(s.step[0].value, 0.5, 0);

    /* wifi: the high rate with 1-3 s drops to the low one. */
    CHECK_INT(pvs_link_sched_parse("wifi:30M:8M", PVS_LINK_RATE, 5, "t", &s), ==, 0);
    CHECK_INT(s.n, >=, 100);
    CHECK_NEAR(s.step[0].value, 30e6, 0);
    bool shape_ok = s.n % 2 == 1;
    for (int i = 1; i + 1 < s.n; i += 2) {
        int64_t drop = s.step[i + 1].at_us - s.step[i].at_us;
        int64_t gap = s.step[i].at_us - s.step[i - 1].at_us;
        shape_ok &= s.step[i].value == 8e6 && s.step[i + 1].value == 30e6 &&
                    drop >= 1000000 && drop <= 3000000 && gap >= 1000000 && gap <= 12000000;
    }
    CHECK(shape_ok);

    int64_t qb, qu;
    CHECK_INT(pvs_link_queue_parse("100ms", "t", &qb, &qu), ==, 0);
    CHECK_INT(qu, ==, 100000);
    CHECK_INT(qb, ==, 0);
    CHECK_INT(pvs_link_queue_parse("1M", "t", &qb, &qu), ==, 0);
    CHECK_INT(qb, ==, 1048576);
    CHECK_INT(qu, ==, 0);

    static const char *const bad_rates[] = {
        "", "10Q", "10M@", "10M@x", "10M@5s", "10M@0,20M", "10M@0,20M@5s,30M@5s",
        "10M@0,20M@3s,30M@2s", "10M@0,,20M@1", "10M@0,", "-5M", "0", "500", "200G", "nan",
        "10M@-1", "wifi:30M", "wifi:30M:x", "10 M",
    };
    pvs_log_set_sink(count_errors, NULL);
    for (size_t i = 0; i < sizeof(bad_rates) / sizeof(bad_rates[0]); i++) {
        errors_logged = 0;
        int err = pvs_link_sched_parse(bad_rates[i], PVS_LINK_RATE, 0, "--rate", &s);
        if (err != PVS_ECONFIG || errors_logged != 1)
            fprintf(stderr, "  '%s' gave %d with %d errors logged\n", bad_rates[i], err,
                    errors_logged);
        CHECK_INT(err, ==, PVS_ECONFIG);
        CHECK_INT(errors_logged, ==, 1);
    }
    CHECK_INT(pvs_link_sched_parse("61s", PVS_LINK_TIME, 0, "--delay", &s), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_sched_parse("-1ms", PVS_LINK_TIME, 0, "--delay", &s), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_sched_parse("5 ms", PVS_LINK_TIME, 0, "--delay", &s), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_sched_parse("101", PVS_LINK_PERCENT, 0, "--loss", &s), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_sched_parse("5%%", PVS_LINK_PERCENT, 0, "--loss", &s), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_sched_parse(NULL, PVS_LINK_PERCENT, 0, "--loss", &s), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_queue_parse("100 ms", "--queue", &qb, &qu), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_queue_parse("0", "--queue", &qb, &qu), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_queue_parse("2G", "--queue", &qb, &qu), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_queue_parse(NULL, "--queue", &qb, &qu), ==, PVS_ECONFIG);

    /* open checks a config filled in by hand: loss too high for its bursts. */
    reset_cfg();
    pvs_link_sched_const(&cfg.loss, 60);
    cfg.burst = 1.2;
    struct pvs_link *l = NULL;
    CHECK_INT(pvs_link_open(&l, &cfg, 0), ==, PVS_ECONFIG);
    CHECK(l == NULL);
    reset_cfg();
    cfg.rate.n = 2;
    cfg.rate.step[1] = (struct pvs_link_step){ 0, 1e6 }; /* not increasing */
    CHECK_INT(pvs_link_open(&l, &cfg, 0), ==, PVS_ECONFIG);
    CHECK_INT(pvs_link_open(NULL, &cfg, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_link_open(&l, NULL, 0), ==, PVS_EINVAL);
    pvs_log_set_sink(NULL, NULL);
    pvs_link_close(NULL);
}

int main(void)
{
    RUN(test_rate);
    RUN(test_queue_delay);
    RUN(test_loss);
    RUN(test_schedule);
    RUN(test_jitter);
    RUN(test_deterministic);
    RUN(test_parse);
    TEST_EXIT();
}
