/* The link emulator's core (linkemu.h).
 *
 * The bottleneck is a fluid queue: `backlog` bytes drain at the scheduled
 * rate, so a packet's departure is when the backlog that includes it has
 * drained, found by walking the rate schedule from the link's clock. That is
 * exact for a FIFO served at a rate that changes at given times, needs no
 * per-packet state, and makes the queue's bytes and delay at any instant a
 * calculation rather than an estimate. Times inside are microseconds since
 * the start, as doubles: the fluid model needs fractions of a microsecond
 * (a 1,400-byte packet at 1 Gbit/s takes 11.2 µs). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/linkemu.h"
#include "net/lossmodel.h"

#define DEFAULT_SAMPLE_US 100000
#define MAX_TIME_US (INT64_C(60) * 1000000)
#define MIN_RATE 1000.0
#define MAX_RATE 1e11

struct pvs_link {
    struct pvs_link_config cfg;
    int64_t start_us;
    struct pvs_rng rng;
    struct pvs_loss_model loss;

    double clock;       /* µs since start: how far the queue has drained */
    double backlog;     /* bytes waiting for the bottleneck */
    double last_arrive; /* µs since start: no packet arrives before this */

    double next_sample; /* µs since start */
    double offered, delivered; /* bytes in the current interval */
    uint64_t drops;            /* packets in the current interval */

    struct pvs_link_stats stats;
};

/* ---- schedules ------------------------------------------------------------ */

/* The last step at or before t (0 when t is before every step). */
static int sched_index(const struct pvs_link_sched *s, double t)
{
    int lo = 0, hi = s->n - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if ((double)s->step[mid].at_us <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

double pvs_link_sched_at(const struct pvs_link_sched *s, int64_t t_us, double dflt)
{
    if (!s || s->n <= 0)
        return dflt;
    return s->step[sched_index(s, (double)t_us)].value;
}

static double value_at(const struct pvs_link_sched *s, double t)
{
    return s->n <= 0 ? 0.0 : s->step[sched_index(s, t)].value;
}

/* The first change strictly after t, or INFINITY. */
static double next_change(const struct pvs_link_sched *s, double t)
{
    if (s->n <= 0)
        return INFINITY;
    int i = sched_index(s, t) + 1;
    while (i < s->n && (double)s->step[i].at_us <= t)
        i++;
    return i < s->n ? (double)s->step[i].at_us : INFINITY;
}

void pvs_link_sched_const(struct pvs_link_sched *out, double value)
{
    out->n = 1;
    out->step[0] = (struct pvs_link_step){ 0, value };
}

static void add_step(struct pvs_link_sched *s, int64_t at_us, double value)
{
    if (s->n < PVS_LINK_MAX_STEPS)
        s->step[s->n++] = (struct pvs_link_step){ at_us, value };
}

void pvs_link_sched_wifi(struct pvs_link_sched *out, double high_bps, double low_bps,
                         int64_t length_us, uint64_t seed)
{
    struct pvs_rng rng = { seed };
    pvs_link_sched_const(out, high_bps);
    int64_t t = 0;
    /* Each drop takes two steps (down, back up). */
    while (out->n + 2 <= PVS_LINK_MAX_STEPS) {
        t += 4000000 + pvs_rng_upto(&rng, 8000000); /* 4-12 s of good signal */
        if (t >= length_us)
            break;
        add_step(out, t, low_bps);
        t += 1000000 + pvs_rng_upto(&rng, 2000000); /* a 1-3 s drop */
        add_step(out, t, high_bps);
    }
}

/* A number followed by one of `units` (NULL-terminated names, each with
 * its multiplier in `mult`); an empty unit must be listed to be allowed.
 * Returns false when the text is not that. */
static bool parse_with_unit(const char *v, const char *const *units, const double *mult,
                            double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || errno || !isfinite(d))
        return false;
    for (int i = 0; units[i]; i++)
        if (strcmp(end, units[i]) == 0) {
            *out = d * mult[i];
            return true;
        }
    return false;
}

static const char *const rate_units[] = { "", "k", "K", "M", "G", NULL };
static const double rate_mult[] = { 1, 1e3, 1e3, 1e6, 1e9 };
/* Values of TIME kind: a bare number is milliseconds... */
static const char *const value_time_units[] = { "", "us", "ms", "s", NULL };
static const double value_time_mult[] = { 1000, 1, 1000, 1e6 };
/* ...but a time after '@' is seconds when bare. */
static const char *const at_units[] = { "", "us", "ms", "s", NULL };
static const double at_mult[] = { 1e6, 1, 1000, 1e6 };
static const char *const percent_units[] = { "", "%", NULL };
static const double percent_mult[] = { 1, 1 };

static int bad_value(const char *what, const char *v, enum pvs_link_kind kind)
{
    static const char *const how[] = {
        [PVS_LINK_RATE] = "a rate in bits per second from 1k to 100G, with an optional k, "
                          "M or G (50M), or 'unlimited'",
        [PVS_LINK_TIME] = "a time from 0 to 60 s: 5ms, 500us, 1s (a bare number is ms)",
        [PVS_LINK_PERCENT] = "a percentage from 0 to 100 (0.5 or 0.5%)",
    };
    PVS_LOG_E("%s: '%s' is not %s", what, v, how[kind]);
    return PVS_ECONFIG;
}

static int parse_value(const char *v, enum pvs_link_kind kind, const char *what, double *out)
{
    bool ok;
    switch (kind) {
    case PVS_LINK_RATE:
        if (strcmp(v, "unlimited") == 0) {
            *out = 0;
            return 0;
        }
        ok = parse_with_unit(v, rate_units, rate_mult, out) && *out >= MIN_RATE &&
             *out <= MAX_RATE;
        break;
    case PVS_LINK_TIME:
        ok = parse_with_unit(v, value_time_units, value_time_mult, out) && *out >= 0 &&
             *out <= (double)MAX_TIME_US;
        *out = round(*out);
        break;
    default:
        ok = parse_with_unit(v, percent_units, percent_mult, out) && *out >= 0 && *out <= 100;
        break;
    }
    return ok ? 0 : bad_value(what, v, kind);
}

static int parse_wifi(const char *s, uint64_t seed, const char *what, struct pvs_link_sched *out)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s + strlen("wifi:"));
    char *colon = strchr(buf, ':');
    double high, low;
    if (!colon) {
        PVS_LOG_E("%s '%s': write wifi:HIGH:LOW, e.g. wifi:30M:8M", what, s);
        return PVS_ECONFIG;
    }
    *colon = '\0';
    if (parse_value(buf, PVS_LINK_RATE, what, &high) ||
        parse_value(colon + 1, PVS_LINK_RATE, what, &low))
        return PVS_ECONFIG;
    pvs_link_sched_wifi(out, high, low, INT64_MAX, seed);
    return 0;
}

/* One "V@T" item; `sole` when it is the only one (then "@T" may go). */
static int parse_item(char *item, enum pvs_link_kind kind, const char *what, bool sole,
                      struct pvs_link_sched *out)
{
    char *at = strchr(item, '@');
    double v, t = 0;
    if (at)
        *at = '\0';
    if (parse_value(item, kind, what, &v))
        return PVS_ECONFIG;
    if (!at && !sole) {
        PVS_LOG_E("%s: '%s' has no time: write VALUE@TIME for each step (50M@0,10M@10s)",
                  what, item);
        return PVS_ECONFIG;
    }
    if (at && (!parse_with_unit(at + 1, at_units, at_mult, &t) || t < 0 || t > 1e12)) {
        PVS_LOG_E("%s: '%s' is not a time: write 10s, 500ms or a bare number of seconds",
                  what, at + 1);
        return PVS_ECONFIG;
    }
    int64_t at_us = (int64_t)llround(t);
    if (out->n == 0 && at_us != 0) {
        PVS_LOG_E("%s: the first step must be at 0 (%s@0,...), not at %s", what, item, at + 1);
        return PVS_ECONFIG;
    }
    if (out->n > 0 && at_us <= out->step[out->n - 1].at_us) {
        PVS_LOG_E("%s: the steps' times must increase: %s comes after a later or equal time",
                  what, at + 1);
        return PVS_ECONFIG;
    }
    if (out->n == PVS_LINK_MAX_STEPS) {
        PVS_LOG_E("%s: more than %d steps", what, PVS_LINK_MAX_STEPS);
        return PVS_ECONFIG;
    }
    add_step(out, at_us, v);
    return 0;
}

int pvs_link_sched_parse(const char *s, enum pvs_link_kind kind, uint64_t seed,
                         const char *what, struct pvs_link_sched *out)
{
    if (!out)
        return PVS_EINVAL;
    out->n = 0;
    if (!s || !*s) {
        PVS_LOG_E("%s: empty: give a value, or VALUE@TIME steps (50M@0,10M@10s)", what);
        return PVS_ECONFIG;
    }
    if (kind == PVS_LINK_RATE && strncmp(s, "wifi:", 5) == 0)
        return parse_wifi(s, seed, what, out);
    bool sole = !strchr(s, ',');
    for (const char *p = s;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (n == 0 || n >= sizeof(item)) {
            PVS_LOG_E("%s: %s step in '%s': write VALUE@TIME steps separated by commas",
                      what, n ? "an overlong" : "an empty", s);
            return PVS_ECONFIG;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (parse_item(item, kind, what, sole, out))
            return PVS_ECONFIG;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

int pvs_link_queue_parse(const char *s, const char *what, int64_t *bytes, int64_t *us)
{
    static const char *const time_units[] = { "us", "ms", "s", NULL };
    static const double time_mult[] = { 1, 1000, 1e6 };
    static const char *const size_units[] = { "", "K", "k", "M", NULL };
    static const double size_mult[] = { 1, 1024, 1024, 1048576 };
    double v;
    *bytes = *us = 0;
    if (s && parse_with_unit(s, time_units, time_mult, &v) && v >= 1 && v <= MAX_TIME_US) {
        *us = (int64_t)llround(v);
        return 0;
    }
    if (s && parse_with_unit(s, size_units, size_mult, &v) && v >= 1 && v <= 1e9) {
        *bytes = (int64_t)llround(v);
        return 0;
    }
    PVS_LOG_E("%s '%s': give a time (100ms, 1s, 500us: up to 60 s) or a size in bytes "
              "(64K, 1M, 30000: up to 1 GB)", what, s ? s : "");
    return PVS_ECONFIG;
}

/* ---- the bottleneck ------------------------------------------------------- */

/* Bytes per µs at t; 0 for an unlimited link. */
static double rate_at(const struct pvs_link *l, double t)
{
    return value_at(&l->cfg.rate, t) / 8e6;
}

/* When `bytes` queued at t have drained, walking the rate schedule. */
static double drained_at(const struct pvs_link *l, double t, double bytes)
{
    while (bytes > 0) {
        double r = rate_at(l, t);
        if (r <= 0)
            return t;
        double next = next_change(&l->cfg.rate, t);
        if (t + bytes / r <= next)
            return t + bytes / r;
        bytes -= (next - t) * r;
        t = next;
    }
    return t;
}

/* Drains the queue up to t (>= the clock). */
static void drain_to(struct pvs_link *l, double t)
{
    double before = l->backlog;
    while (l->backlog > 0 && l->clock < t) {
        double r = rate_at(l, l->clock);
        double end = fmin(t, next_change(&l->cfg.rate, l->clock));
        if (r <= 0 || (end - l->clock) * r >= l->backlog) {
            l->backlog = 0;
            break;
        }
        l->backlog -= (end - l->clock) * r;
        l->clock = end;
    }
    l->delivered += before - l->backlog;
    if (t > l->clock)
        l->clock = t;
}

static void emit_sample(struct pvs_link *l)
{
    double len_s = (double)l->cfg.sample_us / 1e6;
    struct pvs_link_sample s = {
        .t_us = (int64_t)l->next_sample,
        .capacity_bps = value_at(&l->cfg.rate, l->next_sample - (double)l->cfg.sample_us),
        .offered_bps = l->offered * 8 / len_s,
        .delivered_bps = l->delivered * 8 / len_s,
        .queue_bytes = l->backlog,
        .queue_delay_us = (int64_t)(drained_at(l, l->clock, l->backlog) - l->clock),
        .drops = l->drops,
    };
    if (l->cfg.on_sample)
        l->cfg.on_sample(l->cfg.sample_ctx, &s);
    l->offered = l->delivered = 0;
    l->drops = 0;
    l->next_sample += (double)l->cfg.sample_us;
}

static void advance(struct pvs_link *l, double t)
{
    if (t < l->clock)
        t = l->clock; /* the caller's clock went back: hold still */
    while (l->next_sample <= t) {
        drain_to(l, l->next_sample);
        emit_sample(l);
    }
    drain_to(l, t);
}

void pvs_link_advance(struct pvs_link *l, int64_t now_us)
{
    if (l)
        advance(l, (double)(now_us - l->start_us));
}

int64_t pvs_link_next_sample(const struct pvs_link *l)
{
    return l ? l->start_us + (int64_t)l->next_sample : INT64_MAX;
}

/* The drop-tail limit at t, in bytes (infinite for an unlimited link). */
static double queue_limit(const struct pvs_link *l, double t)
{
    double r = rate_at(l, t);
    if (r <= 0)
        return INFINITY;
    if (l->cfg.queue_bytes)
        return (double)l->cfg.queue_bytes;
    return (double)l->cfg.queue_us * r;
}

static enum pvs_link_verdict admit(struct pvs_link *l, size_t bytes, double t)
{
    pvs_loss_model_set(&l->loss, value_at(&l->cfg.loss, t), l->cfg.burst);
    if (pvs_loss_model_next(&l->loss, &l->rng))
        return l->loss.bursty ? PVS_LINK_DROP_BURST : PVS_LINK_DROP_RANDOM;
    /* An empty queue always takes a packet, so a limit below one packet
     * still lets the link carry traffic. */
    if (l->backlog > 0 && l->backlog + (double)bytes > queue_limit(l, t))
        return PVS_LINK_DROP_QUEUE;
    return PVS_LINK_PASS;
}

static void count_drop(struct pvs_link *l, enum pvs_link_verdict v)
{
    l->drops++;
    if (v == PVS_LINK_DROP_QUEUE)
        l->stats.drop_queue++;
    else if (v == PVS_LINK_DROP_BURST)
        l->stats.drop_burst++;
    else
        l->stats.drop_random++;
}

enum pvs_link_verdict pvs_link_offer(struct pvs_link *l, size_t bytes, int64_t now_us,
                                     int64_t *arrive_us)
{
    if (!l || !arrive_us)
        return PVS_LINK_DROP_QUEUE;
    double t = (double)(now_us - l->start_us);
    advance(l, t);
    t = l->clock;
    l->stats.in_packets++;
    l->stats.in_bytes += bytes;
    l->offered += (double)bytes;
    /* Jitter is drawn for every packet, so the losses do not shift it. */
    double jitter_draw = pvs_rng_uniform(&l->rng);
    enum pvs_link_verdict v = admit(l, bytes, t);
    if (v != PVS_LINK_PASS) {
        count_drop(l, v);
        return v;
    }
    l->backlog += (double)bytes;
    double depart = drained_at(l, t, l->backlog);
    if (rate_at(l, t) <= 0) { /* unlimited: through at once */
        l->backlog = 0;
        l->delivered += (double)bytes;
    }
    double arrive = depart + value_at(&l->cfg.delay, depart) +
                    floor(jitter_draw * (value_at(&l->cfg.jitter, depart) + 1));
    if (arrive < l->last_arrive)
        arrive = l->last_arrive;
    l->last_arrive = arrive;
    l->stats.out_packets++;
    l->stats.out_bytes += bytes;
    *arrive_us = l->start_us + (int64_t)ceil(arrive);
    return PVS_LINK_PASS;
}

void pvs_link_get_stats(const struct pvs_link *l, struct pvs_link_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!l)
        return;
    *out = l->stats;
    out->capacity_bps = value_at(&l->cfg.rate, l->clock);
    out->queue_bytes = l->backlog;
    out->queue_delay_us = (int64_t)ceil(drained_at(l, l->clock, l->backlog) - l->clock);
}

const char *pvs_link_verdict_name(enum pvs_link_verdict v)
{
    switch (v) {
    case PVS_LINK_PASS: return "passed";
    case PVS_LINK_DROP_QUEUE: return "queue full";
    case PVS_LINK_DROP_RANDOM: return "random loss";
    case PVS_LINK_DROP_BURST: return "burst loss";
    }
    return "?";
}

/* ---- opening -------------------------------------------------------------- */

static int check_sched(const struct pvs_link_sched *s, const char *name, double lo, double hi)
{
    if (s->n < 0 || s->n > PVS_LINK_MAX_STEPS) {
        PVS_LOG_E("link emulator: the %s schedule has %d steps (0..%d)", name, s->n,
                  PVS_LINK_MAX_STEPS);
        return PVS_ECONFIG;
    }
    for (int i = 0; i < s->n; i++) {
        double v = s->step[i].value;
        bool time_ok = i == 0 ? s->step[i].at_us == 0 : s->step[i].at_us > s->step[i - 1].at_us;
        if (!(v >= lo && v <= hi) || !time_ok) {
            PVS_LOG_E("link emulator: %s step %d (%g at %lld µs) is out of range or order",
                      name, i, v, (long long)s->step[i].at_us);
            return PVS_ECONFIG;
        }
    }
    return 0;
}

static int validate(const struct pvs_link_config *c)
{
    int err = check_sched(&c->rate, "rate", 0, MAX_RATE);
    if (!err) err = check_sched(&c->delay, "delay", 0, (double)MAX_TIME_US);
    if (!err) err = check_sched(&c->jitter, "jitter", 0, (double)MAX_TIME_US);
    if (!err) err = check_sched(&c->loss, "loss", 0, 100);
    for (int i = 0; !err && i < c->loss.n; i++)
        err = pvs_loss_model_check("link emulator", "loss", "burst", c->loss.step[i].value,
                                   c->burst);
    if (!err && (c->queue_bytes < 0 || c->queue_us < 0 || c->queue_us > MAX_TIME_US ||
                 c->sample_us < 0)) {
        PVS_LOG_E("link emulator: the queue limit (%lld bytes, %lld µs) or the sample "
                  "interval (%lld µs) is out of range", (long long)c->queue_bytes,
                  (long long)c->queue_us, (long long)c->sample_us);
        err = PVS_ECONFIG;
    }
    return err;
}

int pvs_link_open(struct pvs_link **out, const struct pvs_link_config *cfg, int64_t start_us)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg)
        return PVS_EINVAL;
    int err = validate(cfg);
    if (err)
        return err;
    struct pvs_link *l = calloc(1, sizeof(*l));
    if (!l)
        return PVS_ENOMEM;
    l->cfg = *cfg;
    if (!l->cfg.queue_bytes && !l->cfg.queue_us)
        l->cfg.queue_us = PVS_LINK_DEFAULT_QUEUE_US;
    if (!l->cfg.sample_us)
        l->cfg.sample_us = DEFAULT_SAMPLE_US;
    l->start_us = start_us;
    l->rng.state = cfg->seed;
    l->next_sample = (double)l->cfg.sample_us;
    *out = l;
    return 0;
}

void pvs_link_close(struct pvs_link **l)
{
    if (!l || !*l)
        return;
    free(*l);
    *l = NULL;
}
