/* Tests for the loss simulator (net/losssim.h): pass-through, loss rates
 * (independent and in bursts), duplication and reordering rates and limits,
 * delay and jitter bounds, determinism, bounded memory and the config
 * parser. Time is simulated (the caller passes now_us), so nothing here
 * depends on the machine's speed. Rates are checked over enough packets that
 * the tolerances are several standard deviations wide; the seeds are fixed,
 * so a run is reproducible anyway. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/losssim.h"
#include "tests/unit/test.h"

#define MAXLEN 1600

static uint8_t pkt[MAXLEN];
static uint8_t out[MAXLEN];

/* Packet `seq`: its number in the first 4 bytes, then a pattern; the length
 * varies with seq. */
static size_t make_packet(uint32_t seq)
{
    size_t len = 8 + seq % 1400;
    memcpy(pkt, &seq, 4);
    for (size_t j = 4; j < len; j++)
        pkt[j] = (uint8_t)(seq * 7 + j);
    return len;
}

/* Checks that a popped packet is intact and returns its number. */
static uint32_t check_packet(int n, bool *intact)
{
    uint32_t seq;
    memcpy(&seq, out, 4);
    *intact = n >= 8 && (size_t)n == 8 + seq % 1400;
    for (int j = 4; *intact && j < n; j++)
        *intact = out[j] == (uint8_t)(seq * 7 + (uint32_t)j);
    return seq;
}

static struct pvs_losssim *open_sim(const char *spec)
{
    struct pvs_losssim_config cfg;
    struct pvs_losssim *sim = NULL;
    CHECK_INT(pvs_losssim_parse(spec, &cfg), ==, 0);
    CHECK_INT(pvs_losssim_open(&sim, &cfg), ==, 0);
    return sim;
}

/* Pushes one packet and returns how many copies of it will be delivered
 * (0 lost or overflow, 1, 2 duplicated), as the stats show. */
static int push(struct pvs_losssim *sim, uint32_t seq, int64_t now_us)
{
    struct pvs_losssim_stats a, b;
    pvs_losssim_get_stats(sim, &a);
    int err = pvs_losssim_push(sim, pkt, make_packet(seq), now_us);
    pvs_losssim_get_stats(sim, &b);
    if (err != 0 || b.received != a.received + 1) { /* checked only on failure: */
        CHECK_INT(err, ==, 0);                       /* millions of passes say */
        CHECK_INT(b.received, ==, a.received + 1);   /* nothing */
    }
    return (int)(1 + (b.duplicated - a.duplicated) - (b.dropped - a.dropped) -
                 (b.overflow - a.overflow));
}

static void test_passthrough(void)
{
    struct pvs_losssim *sim = open_sim("");
    if (!sim)
        return;
    CHECK_INT(pvs_losssim_next_due(sim), ==, INT64_MAX);
    int bad = 0;
    /* One at a time, and in runs of 50 before popping. */
    for (uint32_t seq = 0; seq < 5000; seq++) {
        CHECK_INT(push(sim, seq, seq), ==, 1);
        if (seq % 50 != 49 && seq < 2500)
            continue;
        uint32_t first = seq < 2500 ? seq - 49 : seq;
        for (uint32_t want = first; want <= seq; want++) {
            int n = pvs_losssim_pop(sim, seq, out, sizeof(out));
            bool intact;
            if (n <= 0 || check_packet(n, &intact) != want || !intact)
                bad++;
        }
        CHECK_INT(pvs_losssim_pop(sim, seq, out, sizeof(out)), ==, 0);
    }
    CHECK_INT(bad, ==, 0);
    struct pvs_losssim_stats st;
    pvs_losssim_get_stats(sim, &st);
    CHECK_INT(st.received, ==, 5000);
    CHECK_INT(st.delivered, ==, 5000);
    CHECK_INT(st.dropped + st.overflow + st.duplicated + st.reordered, ==, 0);
    CHECK_INT(pvs_losssim_next_due(sim), ==, INT64_MAX);
    pvs_losssim_close(&sim);
    CHECK(sim == NULL);
    pvs_losssim_close(&sim);
    pvs_losssim_close(NULL);
}

/* Pushes n packets one per 100 µs and pops whatever is due after each;
 * returns the loss runs' mean length in *mean_run. */
static void run_loss(const char *spec, int n, double *rate, double *mean_run)
{
    struct pvs_losssim *sim = open_sim(spec);
    if (!sim)
        return;
    int runs = 0, lost = 0, run = 0;
    for (int i = 0; i < n; i++) {
        int r = push(sim, (uint32_t)i, (int64_t)i * 100);
        if (r == 0) {
            lost++;
            run++;
        } else {
            if (run)
                runs++;
            run = 0;
        }
        while (pvs_losssim_pop(sim, (int64_t)i * 100, out, sizeof(out)) > 0) {
        }
    }
    if (run)
        runs++;
    struct pvs_losssim_stats st;
    pvs_losssim_get_stats(sim, &st);
    CHECK_INT(st.dropped, ==, lost);
    CHECK_INT(st.delivered, ==, n - lost);
    *rate = (double)lost / n;
    *mean_run = runs ? (double)lost / runs : 0;
    fprintf(stderr, "  %s: %.4f lost, runs of %.3f on average\n", spec, *rate, *mean_run);
    pvs_losssim_close(&sim);
}

static void test_loss(void)
{
    double rate = 0, run = 0;
    run_loss("loss=5,seed=1", 100000, &rate, &run);
    CHECK_NEAR(rate, 0.05, 0.005);
    /* Independent losses: runs average 1 / (1 - p). */
    CHECK_NEAR(run, 1.0 / 0.95, 0.05);
    run_loss("loss=5,seed=2", 100000, &rate, &run);
    CHECK_NEAR(rate, 0.05, 0.005);
    run_loss("loss=100", 1000, &rate, &run);
    CHECK_NEAR(rate, 1.0, 0);
}

static void test_burst(void)
{
    double rate = 0, run = 0;
    run_loss("loss=5,burst=4,seed=3", 400000, &rate, &run);
    CHECK_NEAR(rate, 0.05, 0.005);
    CHECK_NEAR(run, 4.0, 0.3);
    run_loss("loss=20,burst=10,seed=4", 400000, &rate, &run);
    CHECK_NEAR(rate, 0.20, 0.02);
    CHECK_NEAR(run, 10.0, 0.8);
    /* burst=1 is the independent model. */
    run_loss("loss=10,burst=1,seed=5", 100000, &rate, &run);
    CHECK_NEAR(rate, 0.10, 0.005);
    CHECK_NEAR(run, 1.0 / 0.9, 0.05);
}

/* Duplicates and reordering, seen from the delivered sequence. */
static void test_dup_reorder(void)
{
    struct pvs_losssim *sim = open_sim("dup=2,reorder=3,reorder_max=4,loss=1,seed=9");
    if (!sim)
        return;
    enum { N = 100000 };
    static uint8_t seen[N];
    memset(seen, 0, sizeof(seen));
    int dups = 0, late = 0, bad = 0, max_shift = 0, min_shift = N;
    int64_t highest = -1, pushed = 0;
    int64_t t = 0;
    for (uint32_t i = 0; i < N; i++, t += 100) {
        pvs_losssim_push(sim, pkt, make_packet(i), t);
        pushed = i;
        int n;
        while ((n = pvs_losssim_pop(sim, t, out, sizeof(out))) > 0) {
            bool intact;
            uint32_t seq = check_packet(n, &intact);
            if (!intact || seq >= N) {
                bad++;
                continue;
            }
            if (seen[seq]++) {
                dups++;
                continue;
            }
            if ((int64_t)seq < highest) {
                /* Held back: it came after `shift` later packets had been
                 * pushed (lost ones included, so this is an upper bound
                 * on how many were delivered first). */
                int shift = (int)(pushed - seq);
                late++;
                if (shift > max_shift)
                    max_shift = shift;
                if (shift < min_shift)
                    min_shift = shift;
            } else {
                highest = seq;
            }
        }
    }
    struct pvs_losssim_stats st;
    pvs_losssim_get_stats(sim, &st);
    double kept = (double)(st.received - st.dropped);
    fprintf(stderr, "  %.4f duplicated, %.4f reordered, %d came late, %d..%d later packets "
            "pushed before them\n", (double)st.duplicated / kept, (double)st.reordered / kept,
            late, min_shift, max_shift);
    CHECK_INT(bad, ==, 0);
    CHECK_NEAR((double)st.duplicated / kept, 0.02, 0.003);
    CHECK_NEAR((double)st.reordered / kept, 0.03, 0.003);
    CHECK_INT(dups, ==, st.duplicated);
    /* Every held packet came late except one whose followers were all lost
     * or that waited out its time; with 1 % loss that is rare. */
    CHECK_INT(late, <=, st.reordered);
    CHECK_INT(late, >=, st.reordered * 9 / 10);
    CHECK_INT(min_shift, >=, 1);
    /* reorder_max=4 later packets, and a few lost ones among them. */
    CHECK_INT(max_shift, <=, 10);
    /* After the last push, everything still held comes out by its wait. */
    while (pvs_losssim_pop(sim, t + 1000000, out, sizeof(out)) > 0) {
    }
    pvs_losssim_get_stats(sim, &st);
    CHECK_INT(st.delivered, ==, st.received - st.dropped - st.overflow + st.duplicated);
    CHECK_INT(pvs_losssim_next_due(sim), ==, INT64_MAX);
    pvs_losssim_close(&sim);
}

/* A held packet whose followers do not come is released by its wait. */
static void test_reorder_wait(void)
{
    struct pvs_losssim *sim = open_sim("reorder=100,reorder_wait=5000,seed=1");
    if (!sim)
        return;
    CHECK_INT(push(sim, 1, 1000), ==, 1);
    CHECK_INT(pvs_losssim_next_due(sim), ==, 6000);
    CHECK_INT(pvs_losssim_pop(sim, 5999, out, sizeof(out)), ==, 0);
    int n = pvs_losssim_pop(sim, 6000, out, sizeof(out));
    bool intact;
    CHECK_INT(n, ==, (int)make_packet(1));
    CHECK_INT(check_packet(n, &intact), ==, 1);
    CHECK(intact);
    pvs_losssim_close(&sim);
}

static void test_delay(void)
{
    struct pvs_losssim *sim = open_sim("delay=2000,jitter=500,seed=11");
    if (!sim)
        return;
    CHECK_INT(pvs_losssim_next_due(sim), ==, INT64_MAX);
    enum { N = 20000 };
    static int64_t pushed_at[N];
    int early = 0, overdue = 0, out_of_order = 0, got = 0, early_next = 0;
    uint32_t next_push = 0, next_seq = 0;
    /* Packets every 100 µs; time advances in 37 µs steps, so a packet is
     * pushed at the first step at or after its arrival. */
    for (int64_t t = 0; t < N * 100 + 5000; t += 37) {
        while (next_push < N && (int64_t)next_push * 100 <= t) {
            pushed_at[next_push] = t;
            CHECK_INT(push(sim, next_push, t), ==, 1);
            next_push++;
        }
        int n;
        while ((n = pvs_losssim_pop(sim, t, out, sizeof(out))) > 0) {
            bool intact;
            uint32_t seq = check_packet(n, &intact);
            if (!intact || seq >= N || seq != next_seq) {
                out_of_order++;
                continue;
            }
            if (t < pushed_at[seq] + 2000)
                early++;
            /* Due at most 2,500 µs after its push; popped at the next step. */
            if (t > pushed_at[seq] + 2500 + 37)
                overdue++;
            next_seq = seq + 1;
            got++;
        }
        /* What is left is due later. */
        int64_t next = pvs_losssim_next_due(sim);
        if (next <= t)
            early_next++;
    }
    CHECK_INT(early_next, ==, 0);
    CHECK_INT(got, ==, N);
    CHECK_INT(early, ==, 0);
    CHECK_INT(overdue, ==, 0);
    CHECK_INT(out_of_order, ==, 0);
    CHECK_INT(pvs_losssim_next_due(sim), ==, INT64_MAX);

    /* next_due is the head's due time: nothing before it, the packet at it. */
    CHECK_INT(push(sim, 3, 10000000), ==, 1);
    int64_t due = pvs_losssim_next_due(sim);
    CHECK_INT(due, >=, 10002000);
    CHECK_INT(due, <=, 10002500);
    CHECK_INT(pvs_losssim_pop(sim, due - 1, out, sizeof(out)), ==, 0);
    CHECK_INT(pvs_losssim_pop(sim, due, out, sizeof(out)), ==, (int)make_packet(3));
    pvs_losssim_close(&sim);
}

/* The delivered sequence (packet numbers, in order) for a spec. */
static int sequence(const char *spec, uint32_t *seqs, int cap)
{
    struct pvs_losssim *sim = open_sim(spec);
    if (!sim)
        return 0;
    int n = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        pvs_losssim_push(sim, pkt, make_packet(i), (int64_t)i * 50);
        int r;
        while ((r = pvs_losssim_pop(sim, (int64_t)i * 50, out, sizeof(out))) > 0)
            if (n < cap)
                memcpy(&seqs[n++], out, 4);
    }
    pvs_losssim_close(&sim);
    return n;
}

static void test_deterministic(void)
{
    static uint32_t a[40000], b[40000], c[40000];
    const char *spec = "loss=3,burst=2,reorder=2,dup=1,delay=300,jitter=400,seed=77";
    int na = sequence(spec, a, 40000);
    int nb = sequence(spec, b, 40000);
    int nc = sequence("loss=3,burst=2,reorder=2,dup=1,delay=300,jitter=400,seed=78", c, 40000);
    CHECK_INT(na, >, 15000);
    CHECK_INT(na, ==, nb);
    CHECK(memcmp(a, b, sizeof(a[0]) * (size_t)na) == 0);
    CHECK(na != nc || memcmp(a, c, sizeof(a[0]) * (size_t)na) != 0);
}

static void test_bounded(void)
{
    struct pvs_losssim *sim = open_sim("delay=1000,held=16");
    if (!sim)
        return;
    int kept = 0;
    for (uint32_t i = 0; i < 100; i++)
        kept += push(sim, i, 0);
    CHECK_INT(kept, ==, 16);
    struct pvs_losssim_stats st;
    pvs_losssim_get_stats(sim, &st);
    CHECK_INT(st.overflow, ==, 84);
    CHECK_INT(st.received, ==, 100);
    CHECK_INT(pvs_losssim_pop(sim, 999, out, sizeof(out)), ==, 0);
    int got = 0;
    while (pvs_losssim_pop(sim, 1000, out, sizeof(out)) > 0)
        got++;
    CHECK_INT(got, ==, 16);
    /* Slots are reused: the next 16 fit again. */
    kept = 0;
    for (uint32_t i = 0; i < 16; i++)
        kept += push(sim, i, 2000);
    CHECK_INT(kept, ==, 16);

    /* A short buffer cuts the packet, as a socket does. */
    CHECK_INT(pvs_losssim_pop(sim, 3000, out, 5), ==, 5);
    CHECK_INT(pvs_losssim_push(sim, pkt, 0, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_losssim_push(sim, NULL, 10, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_losssim_push(sim, pkt, 65536, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_losssim_push(NULL, pkt, 10, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_losssim_pop(sim, 0, NULL, 10), ==, PVS_EINVAL);
    CHECK_INT(pvs_losssim_pop(sim, 0, out, 0), ==, PVS_EINVAL);
    pvs_losssim_close(&sim);
}

static int errors_logged;
static void count_errors(void *opaque, enum pvs_log_level level, const char *file, int line,
                         const char *msg)
{
    if (level == PVS_LOG_ERROR)
        errors_logged++;
}

static void test_parse(void)
{
    struct pvs_losssim_config c;
    CHECK_INT(pvs_losssim_parse("loss=5,burst=3,reorder=1,dup=0.5,delay=2000,jitter=500,seed=7",
                                &c), ==, 0);
    CHECK_NEAR(c.loss_percent, 5, 0);
    CHECK_NEAR(c.burst, 3, 0);
    CHECK_NEAR(c.reorder_percent, 1, 0);
    CHECK_NEAR(c.dup_percent, 0.5, 0);
    CHECK_INT(c.delay_us, ==, 2000);
    CHECK_INT(c.jitter_us, ==, 500);
    CHECK_INT(c.seed, ==, 7);
    CHECK_INT(c.reorder_max, ==, 0);
    CHECK_INT(pvs_losssim_parse("reorder_max=8,reorder_wait=30000,held=100,seed=0x10", &c),
              ==, 0);
    CHECK_INT(c.reorder_max, ==, 8);
    CHECK_INT(c.reorder_wait_us, ==, 30000);
    CHECK_INT(c.max_held, ==, 100);
    CHECK_INT(c.seed, ==, 16);
    CHECK_NEAR(c.loss_percent, 0, 0); /* zeroed first */
    CHECK_INT(pvs_losssim_parse("", &c), ==, 0);
    CHECK_INT(pvs_losssim_parse("loss=50,burst=1", &c), ==, 0);
    CHECK_INT(pvs_losssim_parse("loss=100,burst=5", &c), ==, 0);
    CHECK_INT(pvs_losssim_parse("seed=18446744073709551615", &c), ==, 0);
    CHECK(c.seed == UINT64_MAX);

    static const char *const bad[] = {
        "loss", "loss=", "=5", "foo=1", "loss=abc", "loss=5x", "loss=101", "loss=-1",
        "loss=nan", "loss=inf", "loss=5,", ",loss=5", "loss=5,,dup=1", "delay=-1",
        "jitter=1.5", "delay=60000001", "seed=-1", "seed=18446744073709551616",
        "seed=", "loss=60,burst=1.2", "burst=-2", "reorder_max=1001", "held=-1",
        "dup=100.5", "reorder=200", "loss = 5", NULL, /* an overlong item, made below */
    };
    char overlong[300];
    memset(overlong, 'a', sizeof(overlong));
    memcpy(overlong, "loss=5,", 7);
    memcpy(overlong + sizeof(overlong) - 3, "=1", 3);
    pvs_log_set_sink(count_errors, NULL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errors_logged = 0;
        const char *spec = bad[i] ? bad[i] : overlong;
        int err = pvs_losssim_parse(spec, &c);
        if (err != PVS_ECONFIG || errors_logged != 1)
            fprintf(stderr, "  '%s' gave %d with %d errors logged\n", spec, err,
                    errors_logged);
        CHECK_INT(err, ==, PVS_ECONFIG);
        CHECK_INT(errors_logged, ==, 1);
    }
    CHECK_INT(pvs_losssim_parse(NULL, &c), ==, PVS_ECONFIG);
    CHECK_INT(pvs_losssim_parse("loss=1", NULL), ==, PVS_EINVAL);

    /* open checks a config filled in by hand the same way. */
    static char not_a_sim;
    struct pvs_losssim *sim = (struct pvs_losssim *)(void *)&not_a_sim; /* must be cleared */
    memset(&c, 0, sizeof(c));
    c.loss_percent = 150;
    CHECK_INT(pvs_losssim_open(&sim, &c), ==, PVS_ECONFIG);
    CHECK(sim == NULL);
    memset(&c, 0, sizeof(c));
    c.max_held = -3;
    CHECK_INT(pvs_losssim_open(&sim, &c), ==, PVS_ECONFIG);
    CHECK_INT(pvs_losssim_open(&sim, NULL), ==, PVS_EINVAL);
    CHECK_INT(pvs_losssim_open(NULL, &c), ==, PVS_EINVAL);
    pvs_log_set_sink(NULL, NULL);
}

int main(void)
{
    RUN(test_passthrough);
    RUN(test_loss);
    RUN(test_burst);
    RUN(test_dup_reorder);
    RUN(test_reorder_wait);
    RUN(test_delay);
    RUN(test_deterministic);
    RUN(test_bounded);
    RUN(test_parse);
    TEST_EXIT();
}
