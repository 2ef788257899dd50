/* The network impairment simulator (losssim.h).
 *
 * Packets that will be delivered sit in a FIFO ring whose due times never
 * decrease, so pop only looks at the head: jitter delays a packet without
 * letting it overtake the one before, as on a single network path.
 * Reordering is explicit: a packet chosen for it waits in a side list until
 * a given number of later packets have entered the FIFO (or its wait runs
 * out) and then joins the FIFO behind them. Packet bytes live in slots whose
 * buffers are kept and reused; the FIFO and the side list hold slot
 * numbers. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/losssim.h"
#include "net/lossmodel.h"

#define DEFAULT_MAX_HELD 4096
#define DEFAULT_REORDER_MAX 3
#define DEFAULT_REORDER_WAIT_US 10000
#define MAX_TIME_US (INT64_C(60) * 1000000)
#define MAX_PACKET 65535

struct slot {
    uint8_t *data;
    size_t cap;
};

struct entry {
    int slot;
    uint32_t len;
    int64_t due;
};

struct held {
    struct entry e;
    int64_t deadline; /* delivered at the latest from then on */
    int after;        /* ...or once this many more packets have been queued */
};

struct pvs_losssim {
    struct pvs_losssim_config cfg;
    struct pvs_rng rng;
    struct pvs_loss_model loss;
    double reorder_p, dup_p;

    struct slot *slots;
    int *free_slots;
    int nfree;

    struct entry *fifo; /* ring of max_held */
    int head, count;
    int64_t last_due;   /* due time of the last entry queued */

    struct held *held;
    int nheld;

    struct pvs_losssim_stats stats;
};

/* ---- configuration ------------------------------------------------------- */

static int check_percent(const char *key, double v)
{
    if (!(v >= 0.0 && v <= 100.0)) { /* also rejects NaN */
        PVS_LOG_E("loss simulator: %s=%g is out of range: give a percentage from 0 to 100",
                  key, v);
        return PVS_ECONFIG;
    }
    return 0;
}

static int check_range(const char *key, int64_t v, int64_t lo, int64_t hi)
{
    if (v < lo || v > hi) {
        PVS_LOG_E("loss simulator: %s=%lld is out of range %lld..%lld", key, (long long)v,
                  (long long)lo, (long long)hi);
        return PVS_ECONFIG;
    }
    return 0;
}

static int validate(const struct pvs_losssim_config *c)
{
    int err = pvs_loss_model_check("loss simulator", "loss", "burst", c->loss_percent, c->burst);
    if (!err) err = check_percent("reorder", c->reorder_percent);
    if (!err) err = check_percent("dup", c->dup_percent);
    if (!err) err = check_range("reorder_max", c->reorder_max, 0, 1000);
    if (!err) err = check_range("reorder_wait", c->reorder_wait_us, 0, MAX_TIME_US);
    if (!err) err = check_range("delay", c->delay_us, 0, MAX_TIME_US);
    if (!err) err = check_range("jitter", c->jitter_us, 0, MAX_TIME_US);
    if (!err) err = check_range("held", c->max_held, 0, 1000000);
    return err;
}

static int parse_double(const char *key, const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d)) {
        PVS_LOG_E("loss simulator: %s='%s' is not a number", key, v);
        return PVS_ECONFIG;
    }
    *out = d;
    return 0;
}

static int parse_int(const char *key, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || errno) {
        PVS_LOG_E("loss simulator: %s='%s' is not a whole number", key, v);
        return PVS_ECONFIG;
    }
    if (check_range(key, n, lo, hi))
        return PVS_ECONFIG;
    *out = n;
    return 0;
}

static int parse_pair(const char *key, const char *v, struct pvs_losssim_config *c)
{
    int64_t n = 0;
    int err;
    if (strcmp(key, "seed") == 0) {
        char *end;
        errno = 0;
        /* strtoull takes "-1" as a huge number; a seed has no sign. */
        unsigned long long u = v[0] == '-' ? 0 : strtoull(v, &end, 0);
        if (v[0] == '-' || end == v || *end || errno) {
            PVS_LOG_E("loss simulator: seed='%s' is not a whole number from 0 to 2^64-1", v);
            return PVS_ECONFIG;
        }
        c->seed = u;
        return 0;
    }
    if (strcmp(key, "loss") == 0)
        return parse_double(key, v, &c->loss_percent);
    if (strcmp(key, "burst") == 0)
        return parse_double(key, v, &c->burst);
    if (strcmp(key, "reorder") == 0)
        return parse_double(key, v, &c->reorder_percent);
    if (strcmp(key, "dup") == 0)
        return parse_double(key, v, &c->dup_percent);
    if (strcmp(key, "reorder_max") == 0) {
        err = parse_int(key, v, 0, 1000, &n);
        c->reorder_max = (int)n;
        return err;
    }
    if (strcmp(key, "held") == 0) {
        err = parse_int(key, v, 0, 1000000, &n);
        c->max_held = (int)n;
        return err;
    }
    int64_t *t = strcmp(key, "reorder_wait") == 0 ? &c->reorder_wait_us
               : strcmp(key, "delay") == 0        ? &c->delay_us
               : strcmp(key, "jitter") == 0       ? &c->jitter_us
                                                  : NULL;
    if (t)
        return parse_int(key, v, 0, MAX_TIME_US, t);
    PVS_LOG_E("loss simulator: unknown key '%s': the keys are seed, loss, burst, reorder, "
              "reorder_max, reorder_wait, dup, delay, jitter and held", key);
    return PVS_ECONFIG;
}

int pvs_losssim_parse(const char *s, struct pvs_losssim_config *out)
{
    if (!out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!s)
        return PVS_ECONFIG;
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[128];
        if (n == 0 || n >= sizeof(item)) {
            PVS_LOG_E("loss simulator: %s item in '%s': write key=value pairs separated "
                      "by commas", n ? "an overlong" : "an empty", s);
            return PVS_ECONFIG;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char *eq = strchr(item, '=');
        if (!eq || eq == item) {
            PVS_LOG_E("loss simulator: '%s' in '%s' is not key=value", item, s);
            return PVS_ECONFIG;
        }
        *eq = '\0';
        int err = parse_pair(item, eq + 1, out);
        if (err)
            return err;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p) {
            PVS_LOG_E("loss simulator: '%s' ends with a comma", s);
            return PVS_ECONFIG;
        }
    }
    return validate(out);
}

/* ---- the simulator ------------------------------------------------------- */

int pvs_losssim_open(struct pvs_losssim **out, const struct pvs_losssim_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg)
        return PVS_EINVAL;
    int err = validate(cfg);
    if (err)
        return err;

    struct pvs_losssim *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->cfg = *cfg;
    if (s->cfg.reorder_max == 0)
        s->cfg.reorder_max = DEFAULT_REORDER_MAX;
    if (s->cfg.reorder_wait_us == 0)
        s->cfg.reorder_wait_us = DEFAULT_REORDER_WAIT_US;
    if (s->cfg.max_held == 0)
        s->cfg.max_held = DEFAULT_MAX_HELD;
    s->rng.state = cfg->seed;
    pvs_loss_model_set(&s->loss, cfg->loss_percent, cfg->burst);
    s->reorder_p = cfg->reorder_percent / 100.0;
    s->dup_p = cfg->dup_percent / 100.0;

    size_t n = (size_t)s->cfg.max_held;
    s->slots = calloc(n, sizeof(*s->slots));
    s->free_slots = calloc(n, sizeof(*s->free_slots));
    s->fifo = calloc(n, sizeof(*s->fifo));
    s->held = calloc(n, sizeof(*s->held));
    if (!s->slots || !s->free_slots || !s->fifo || !s->held) {
        pvs_losssim_close(&s);
        return PVS_ENOMEM;
    }
    /* Lowest slot first, so a light load keeps reusing the same few. */
    for (int i = 0; i < s->cfg.max_held; i++)
        s->free_slots[i] = s->cfg.max_held - 1 - i;
    s->nfree = s->cfg.max_held;
    *out = s;
    return 0;
}

void pvs_losssim_close(struct pvs_losssim **sim)
{
    if (!sim || !*sim)
        return;
    struct pvs_losssim *s = *sim;
    if (s->slots)
        for (int i = 0; i < s->cfg.max_held; i++)
            free(s->slots[i].data);
    free(s->slots);
    free(s->free_slots);
    free(s->fifo);
    free(s->held);
    free(s);
    *sim = NULL;
}

/* Copies the packet into a free slot. Returns the slot, or -1 when none is
 * free or its buffer cannot grow. */
static int take_slot(struct pvs_losssim *s, const uint8_t *pkt, size_t len)
{
    if (s->nfree == 0)
        return -1;
    int i = s->free_slots[s->nfree - 1];
    struct slot *sl = &s->slots[i];
    if (sl->cap < len) {
        /* Warm-up only: a slot keeps the largest buffer it has needed. */
        uint8_t *d = realloc(sl->data, len);
        if (!d)
            return -1;
        sl->data = d;
        sl->cap = len;
    }
    memcpy(sl->data, pkt, len);
    s->nfree--;
    return i;
}

static void give_slot(struct pvs_losssim *s, int i)
{
    s->free_slots[s->nfree++] = i;
}

static void enqueue(struct pvs_losssim *s, struct entry e)
{
    if (e.due < s->last_due)
        e.due = s->last_due;
    s->last_due = e.due;
    /* Cannot overflow: every entry holds one of max_held slots. */
    s->fifo[(s->head + s->count) % s->cfg.max_held] = e;
    s->count++;
}

/* Queues the held packets whose wait is over at now_us, keeping their order;
 * with count_one, one more packet has just been queued, which counts towards
 * every held packet's `after` first. */
static void release_held(struct pvs_losssim *s, int64_t now_us, bool count_one)
{
    int kept = 0;
    for (int i = 0; i < s->nheld; i++) {
        struct held *h = &s->held[i];
        if (count_one)
            h->after--;
        if (h->after <= 0 || now_us >= h->deadline)
            enqueue(s, h->e);
        else
            s->held[kept++] = *h;
    }
    s->nheld = kept;
}

int pvs_losssim_push(struct pvs_losssim *s, const uint8_t *pkt, size_t len, int64_t now_us)
{
    if (!s || !pkt || len == 0 || len > MAX_PACKET)
        return PVS_EINVAL;
    s->stats.received++;
    /* Held packets whose wait is over go first: they came before this one. */
    release_held(s, now_us, false);

    if (pvs_loss_model_next(&s->loss, &s->rng)) {
        s->stats.dropped++;
        return 0;
    }
    /* Every decision draws every time, so a change to one rate does not
     * shift the random sequence of the others. */
    bool dup = pvs_rng_uniform(&s->rng) < s->dup_p;
    bool reorder = pvs_rng_uniform(&s->rng) < s->reorder_p;
    int64_t after = 1 + pvs_rng_upto(&s->rng, s->cfg.reorder_max - 1);
    int64_t due = now_us + s->cfg.delay_us + pvs_rng_upto(&s->rng, s->cfg.jitter_us);

    int slot = take_slot(s, pkt, len);
    if (slot < 0) {
        s->stats.overflow++;
        return s->nfree == 0 ? 0 : PVS_ENOMEM;
    }
    struct entry e = { .slot = slot, .len = (uint32_t)len, .due = due };
    if (reorder) {
        s->held[s->nheld++] = (struct held){
            .e = e, .deadline = now_us + s->cfg.reorder_wait_us, .after = (int)after };
        s->stats.reordered++;
    } else {
        enqueue(s, e);
        release_held(s, now_us, true);
    }
    if (dup) {
        int copy = take_slot(s, pkt, len);
        if (copy >= 0) {
            enqueue(s, (struct entry){ .slot = copy, .len = (uint32_t)len, .due = due });
            s->stats.duplicated++;
        } else {
            s->stats.overflow++;
        }
    }
    return 0;
}

int pvs_losssim_pop(struct pvs_losssim *s, int64_t now_us, uint8_t *buf, size_t cap)
{
    if (!s || !buf || cap == 0)
        return PVS_EINVAL;
    release_held(s, now_us, false);
    if (s->count == 0 || s->fifo[s->head].due > now_us)
        return 0;
    struct entry e = s->fifo[s->head];
    s->head = (s->head + 1) % s->cfg.max_held;
    s->count--;
    size_t n = e.len < cap ? e.len : cap;
    memcpy(buf, s->slots[e.slot].data, n);
    give_slot(s, e.slot);
    s->stats.delivered++;
    return (int)n;
}

int64_t pvs_losssim_next_due(const struct pvs_losssim *s)
{
    if (!s)
        return INT64_MAX;
    int64_t next = s->count ? s->fifo[s->head].due : INT64_MAX;
    for (int i = 0; i < s->nheld; i++)
        if (s->held[i].deadline < next)
            next = s->held[i].deadline;
    return next;
}

void pvs_losssim_get_stats(const struct pvs_losssim *s, struct pvs_losssim_stats *out)
{
    if (!out)
        return;
    if (!s) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = s->stats;
}
