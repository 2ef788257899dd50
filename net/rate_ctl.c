/* Adaptive bitrate: delay-based estimate and decisions (net/rate_ctl.h,
 * docs/abr.md). Rates here are wire bits per second unless named
 * otherwise; times are microseconds. */
#include "net/rate_ctl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

#define SENT_RING 512             /* frames remembered: 8 s at 60 fps */
#define RECENT 32                 /* newest records kept for the filters */
#define MIN_BUCKETS 10            /* the empty-queue delay: min over 10 x 1 s */
#define MIN_BUCKET_US 1000000
#define QUEUE_WINDOW_US 60000     /* queue = min over this much of arrivals: jitter out */
#define DELIVERY_WINDOW_US 100000 /* delivered rate over this much of arrivals */
/* ... and no less: after the link shrank the window starts at the shrink,
 * and one frame's arrivals over 12 ms, bunched by 0-20 ms of jitter, read
 * 40 Mbit/s on a 30 Mbit/s link (a capacity the restore then overshot). */
#define DELIVERY_MIN_SPAN_US 30000
#define T_DRAIN_US 100000         /* a queue q is drained in about this long */
#define DRAIN_MIN_FACTOR 0.2      /* never below a fifth of the delivered rate */
#define FAST_GAIN 2.0             /* x per second, below the capacity estimate */
#define START_GAIN 16.0           /* x per second from the start until a queue or
                                     the ceiling: a quarter to the ceiling in 0.5 s */
#define START_LEAD 1.25           /* the start's ramp: at most this x the delivered rate */
#define PROBE_GAIN 1.3            /* x per second, above it */
#define RESTORE_FACTOR 0.9        /* after a drain: this share of the capacity */
#define KEYFRAME_HOLD_FRAMES 2    /* a keyframe waits this long after a shrink's cut */
#define PACE_CAP_SHARE 0.9        /* while a shrink drains: pace at most this x delivered */
#define SHRINK_SHARE 0.7          /* a shrink to under this x the rate sent is repaired */
#define KNOWN_FACTOR 0.95         /* fast increase up to this share of it */
#define FORGET_FACTOR 1.1         /* this far past it with no queue: it grew */
#define APP_LIMITED_SHARE 0.5     /* sending under this share of the target: no increase */
#define APP_WINDOW_US 500000
#define SILENCE_US 300000         /* frames unreported this long: cut */
#define LOSS_CONGESTION 0.2       /* loss this high without a queue: a policer */
#define LOSS_CUT_FACTOR 0.85
#define LOSS_CUT_GAP_US 200000
#define CHANGE_SHARE 0.02         /* a bitrate change under 2 % is not applied */
#define MAX_STEP_US 100000        /* one update's increase covers at most this */
#define JITTER_GAIN (1.0 / 16)    /* the jitter estimate's smoothing, per frame */
#define JITTER_STEP_US 30000      /* a fall larger than this is a queue draining */
#define JITTER_ALLOW_US 10000     /* thresholds rise by at most this for jitter */
#define START_DIVISOR 4           /* the first target: a quarter of the ceiling */
#define RUN_MAX 6                 /* loss runs longer than this: not FEC's job */
#define RUN_FORGET_US 4000000     /* the longest run is forgotten, one a time, after this */
#define REBASE_US (REBASE_S * 1000000LL)

struct sent {
    uint32_t frame;
    bool valid;
    int64_t first_us, sent_us;   /* first and last packet out */
    uint32_t wire;
};

struct recent {
    int64_t arrival_us;
    int64_t queue_us;      /* of the first packet */
    int64_t tail_us;       /* of the last packet, less half a frame interval; -1: a big frame */
    uint32_t bytes;        /* on the wire: what was sent when nothing was lost (the
                              client settles a frame once its data is whole, before
                              the rest of its parity arrives, so it reports about
                              1 / (1 + FEC) of it: rates read 20 % low) */
};

struct min_window {
    struct { int64_t bucket; int64_t min; bool used; } b[MIN_BUCKETS];
};

enum state { ST_START, ST_INCREASE, ST_PROBE, ST_HOLD, ST_DRAIN, ST_LOSS, ST_SILENCE };

static const char *const state_names[] = {"start", "increase", "probe", "hold",
                                           "drain", "loss", "silence"};

struct pvs_rate_ctl {
    struct pvs_rate_ctl_config cfg;
    int64_t q_hold_us, q_high_us;
    /* Jitter: the delay's falls from frame to frame, smoothed. A queue that
     * builds only rises; noise falls as often as it rises. Both thresholds
     * are raised by twice this (at most JITTER_ALLOW_US), so that a link
     * whose delay moves without a queue (Wi-Fi) is not drained. */
    double jitter_us;
    int64_t prev_delay_us;
    bool have_prev_delay;
    struct sent sent[SENT_RING];
    int64_t last_sent_us;
    double wire_ratio;            /* wire bytes per encoded byte, smoothed */

    int64_t interval_us;
    double avg_wire;              /* bytes per frame, smoothed */
    struct min_window first_min, last_min;
    struct recent recent[RECENT];
    int nrecent, recent_head;     /* ring: newest at head - 1 */
    bool have_newest;
    uint32_t newest_frame;        /* the newest frame reported */
    bool fresh;                   /* records since the last update */

    bool have_counts;
    uint32_t rx_packets, lost_packets;
    double loss;
    int loss_run;                 /* the most packets a frame lost without a queue */
    int64_t loss_run_us;          /* when it was last seen (server clock) */

    enum state state;
    double wire;                  /* the target, wire bits per second */
    double capacity;              /* estimate from the last drain; 0: unknown */
    bool started;                 /* the start's ramp is over (a drain, or the ceiling) */
    int64_t queue_us;             /* -1: no sample */
    int64_t delivered;
    int64_t busy_rate;            /* delivered while the bottleneck was busy; 0: unknown */
    int64_t last_update_us, last_silence_us, last_loss_cut_us;
    double before_silence;        /* the wire rate when reports stopped */
    int64_t standing_since_us;    /* q over Q_HOLD, not halving, since then; 0: not */
    int64_t standing_q_us;        /* q then */
    /* A frame in progress showed the link shrink: arrivals before its first
     * packet (client clock) no longer say what the link carries, and the
     * next drain is a new episode. */
    bool shrunk;
    int64_t shrunk_since_us;
    bool shrink_episode;          /* the present drain began with a shrink */
    int64_t shrink_cut_us;        /* ... then (server clock) */
    int64_t applied_bitrate;
    int applied_fec, applied_min_parity;
    int64_t applied_pace;
    uint32_t changes;
    uint32_t rebases;
    uint32_t shrinks;             /* frames in progress that showed the link shrink */
};

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int pvs_rate_ctl_open(struct pvs_rate_ctl **out, const struct pvs_rate_ctl_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg || cfg->ceiling_bps <= 0 || cfg->fps < 1 || cfg->fps > 1000 ||
        cfg->floor_bps < 0 || cfg->floor_bps > cfg->ceiling_bps || cfg->fec_percent < 0 ||
        cfg->fec_percent > 100 || cfg->fec_max_percent < 0 || cfg->fec_max_percent > 100 ||
        cfg->start_bps < 0 || cfg->pace_max_bps < 0 || cfg->fec_min_parity < 0 ||
        cfg->fec_min_parity > 16 || cfg->datagram_bytes < 0 || cfg->datagram_bytes > 65507)
        return PVS_EINVAL;
    struct pvs_rate_ctl *c = calloc(1, sizeof(*c));
    if (!c)
        return PVS_ENOMEM;
    c->cfg = *cfg;
    if (!c->cfg.floor_bps)
        c->cfg.floor_bps = cfg->ceiling_bps / 50;
    if (!c->cfg.fec_max_percent)
        c->cfg.fec_max_percent = 50;
    if (c->cfg.fec_max_percent < c->cfg.fec_percent)
        c->cfg.fec_max_percent = c->cfg.fec_percent;
    if (!c->cfg.datagram_bytes)
        c->cfg.datagram_bytes = 1400;
    int64_t start = cfg->start_bps ? cfg->start_bps : cfg->ceiling_bps / START_DIVISOR;
    start = clamp64(start, c->cfg.floor_bps, cfg->ceiling_bps);
    /* Thresholds against jitter and a frame's own spread: a quarter and a
     * half of a frame interval, but never under 4 and 10 ms. */
    int64_t interval = 1000000 / cfg->fps;
    c->interval_us = interval;
    c->q_hold_us = interval / 4 > 4000 ? interval / 4 : 4000;
    c->q_high_us = interval / 2 > 10000 ? interval / 2 : 10000;
    /* Parity and the 60 bytes of headers per 1,400-byte datagram, until
     * frames measure it. */
    c->wire_ratio = (1.0 + cfg->fec_percent / 100.0) * 1400.0 / 1340.0;
    c->wire = (double)start * c->wire_ratio;
    c->queue_us = -1;
    c->applied_fec = cfg->fec_percent;
    c->applied_min_parity = cfg->fec_min_parity;
    c->state = ST_START;
    *out = c;
    return 0;
}

void pvs_rate_ctl_close(struct pvs_rate_ctl **c)
{
    if (!c || !*c)
        return;
    free(*c);
    *c = NULL;
}

void pvs_rate_ctl_on_sent(struct pvs_rate_ctl *c, uint32_t frame, uint32_t encoded,
                          uint32_t wire, int64_t first_us, int64_t last_us)
{
    if (!c)
        return;
    c->sent[frame % SENT_RING] = (struct sent){frame, true, first_us, last_us, wire};
    c->last_sent_us = last_us;
    c->avg_wire = c->avg_wire > 0 ? c->avg_wire + (wire - c->avg_wire) * 0.1 : wire;
    if (encoded > 0 && wire >= encoded)
        c->wire_ratio += ((double)wire / encoded - c->wire_ratio) * 0.05;
}

static const struct sent *find_sent(const struct pvs_rate_ctl *c, uint32_t frame)
{
    const struct sent *s = &c->sent[frame % SENT_RING];
    return s->valid && s->frame == frame ? s : NULL;
}

/* The empty-queue delay as it stands, without adding a sample; -1: none. */
static int64_t peek_min(const struct min_window *w, int64_t sent_us)
{
    int64_t bucket = sent_us / MIN_BUCKET_US, m = -1;
    for (int j = 0; j < MIN_BUCKETS; j++)
        if (w->b[j].used && bucket - w->b[j].bucket < MIN_BUCKETS && (m < 0 || w->b[j].min < m))
            m = w->b[j].min;
    return m;
}

/* The empty-queue delay: the smallest delay of the last MIN_BUCKETS
 * seconds (by send time), after adding d. */
static int64_t min_delay(struct min_window *w, int64_t sent_us, int64_t d)
{
    int64_t bucket = sent_us / MIN_BUCKET_US;
    int i = (int)(((bucket % MIN_BUCKETS) + MIN_BUCKETS) % MIN_BUCKETS);
    if (!w->b[i].used || w->b[i].bucket != bucket) {
        w->b[i].bucket = bucket;
        w->b[i].min = d;
        w->b[i].used = true;
    } else if (d < w->b[i].min) {
        w->b[i].min = d;
    }
    return peek_min(w, sent_us); /* d is in it now */
}

/* The thresholds with the jitter allowance. */
static int64_t jitter_allowance(const struct pvs_rate_ctl *c)
{
    double a = 2 * c->jitter_us;
    return (int64_t)(a > JITTER_ALLOW_US ? JITTER_ALLOW_US : a);
}

static int64_t q_hold(const struct pvs_rate_ctl *c)
{
    return c->q_hold_us + jitter_allowance(c);
}

static int64_t q_high(const struct pvs_rate_ctl *c)
{
    return c->q_high_us + jitter_allowance(c);
}

static void track_jitter(struct pvs_rate_ctl *c, int64_t d)
{
    if (c->have_prev_delay) {
        int64_t fall = c->prev_delay_us - d;
        if (fall < 0)
            fall = 0;
        if (fall <= JITTER_STEP_US)
            c->jitter_us += ((double)fall - c->jitter_us) * JITTER_GAIN;
    }
    c->prev_delay_us = d;
    c->have_prev_delay = true;
}

static const struct recent *recent_at(const struct pvs_rate_ctl *c, int back)
{
    return &c->recent[(c->recent_head - 1 - back + RECENT) % RECENT];
}

/* The bottleneck's own rate: a frame whose first packet found a queue
 * kept the link busy from the previous frame's last packet to its own, so
 * its bytes over that span are what the link carries. Over the queued
 * frames of the last DELIVERY_WINDOW_US; 0 with fewer than two. The
 * delivered rate over the whole window reads low when the queue has just
 * formed (part of the window the link still idled between frames): on a
 * 50 Mbit/s step it said 40-42, and the rate settled 20 % under the link. */
static void busy_rate(struct pvs_rate_ctl *c)
{
    const struct recent *newest = recent_at(c, 0);
    int64_t bytes = 0, span = 0;
    int frames = 0;
    for (int i = 0; i + 1 < c->nrecent; i++) {
        const struct recent *r = recent_at(c, i), *prev = recent_at(c, i + 1);
        if (newest->arrival_us - r->arrival_us > DELIVERY_WINDOW_US ||
            prev->arrival_us < c->shrunk_since_us)
            break;
        int64_t gap = r->arrival_us - prev->arrival_us;
        if (r->queue_us <= q_hold(c) || gap <= 0)
            continue;
        bytes += r->bytes;
        span += gap;
        frames++;
    }
    c->busy_rate = frames >= 2 && span >= 2000 ? bytes * 8 * 1000000 / span : 0;
}

/* Queue delay: the smallest of the records that arrived within
 * QUEUE_WINDOW_US of the newest, so that one late frame (jitter, a big
 * keyframe) does not count as a standing queue. Delivered rate: the bytes
 * after the first record of DELIVERY_WINDOW_US over their arrival span. */
static void filter_recent(struct pvs_rate_ctl *c)
{
    const struct recent *newest = recent_at(c, 0);
    int64_t q = newest->queue_us, bytes = 0, first = newest->arrival_us;
    for (int i = 1; i < c->nrecent; i++) {
        const struct recent *r = recent_at(c, i);
        int64_t age = newest->arrival_us - r->arrival_us;
        if (age <= QUEUE_WINDOW_US && r->queue_us < q)
            q = r->queue_us;
        if (age > DELIVERY_WINDOW_US || age < 0 || r->arrival_us < c->shrunk_since_us)
            break;
        bytes += recent_at(c, i - 1)->bytes;
        first = r->arrival_us;
    }
    /* The newest frames' tails are the earliest sign of a queue (they wait
     * behind their own frame at the new rate). One frame alone counts only
     * when it is far over Q_HIGH (a capacity drop); below that, the smaller
     * of the last two, so one late frame (a scheduling hiccup at the
     * client) is not a queue. A frame much bigger than the others (a
     * keyframe) waits behind itself and says nothing (-1). */
    int64_t tail = newest->tail_us;
    if (tail < 2 * c->q_high_us && c->nrecent > 1 && recent_at(c, 1)->tail_us < tail)
        tail = recent_at(c, 1)->tail_us;
    if (tail > q)
        q = tail;
    c->queue_us = q;
    if (newest->arrival_us - first >= DELIVERY_MIN_SPAN_US)
        c->delivered = bytes * 8 * 1000000 / (newest->arrival_us - first);
    busy_rate(c);
}

/* A frame that lost packets while neither its first nor its last packet
 * queued lost them to the link, not to a full queue: remember the longest
 * such run for the parity (RUN_MAX at most: a longer run is a dropped frame,
 * which no sensible parity covers). */
static void note_run(struct pvs_rate_ctl *c, const struct pvs_rate_arrival *a, int64_t q,
                     int64_t tail, int64_t now_us)
{
    if (a->lost == 0 || q > q_hold(c) || tail > q_high(c) || a->lost > RUN_MAX)
        return;
    if (a->lost >= c->loss_run) {
        c->loss_run = a->lost;
        c->loss_run_us = now_us;
    }
}

static void add_record(struct pvs_rate_ctl *c, const struct pvs_rate_arrival *a, int64_t now_us)
{
    const struct sent *s = find_sent(c, a->frame);
    if (!s)
        return;
    int64_t d = a->first_us - s->first_us, dl = a->arrival_us - s->sent_us;
    int64_t q = d - min_delay(&c->first_min, s->first_us, d);
    int64_t tail = dl - min_delay(&c->last_min, s->first_us, dl) - c->interval_us / 2;
    if (s->wire > 2 * c->avg_wire || tail < 0)
        tail = -1;
    note_run(c, a, q, tail, now_us);
    /* Records come in frame order; an older one (a reordered message)
     * only updates the minimum. */
    if (c->have_newest && (int32_t)(a->frame - c->newest_frame) <= 0)
        return;
    c->have_newest = true;
    c->newest_frame = a->frame;
    track_jitter(c, d);
    uint32_t bytes = a->lost == 0 && s->wire > a->bytes ? s->wire : a->bytes;
    c->recent[c->recent_head] = (struct recent){a->arrival_us, q, tail, bytes};
    c->recent_head = (c->recent_head + 1) % RECENT;
    if (c->nrecent < RECENT)
        c->nrecent++;
    c->fresh = true;
}

/* Loss from the client's counters, smoothed over about a thousand packets;
 * only while there is no queue: a full drop-tail queue drops too, and that
 * is congestion (seen as delay), not loss for FEC to cover. */
static void add_counts(struct pvs_rate_ctl *c, uint32_t rx, uint32_t lost)
{
    if (c->have_counts && c->queue_us >= 0 && c->queue_us <= q_hold(c)) {
        double drx = (uint32_t)(rx - c->rx_packets), dlost = (uint32_t)(lost - c->lost_packets);
        double total = drx + dlost;
        if (total > 0 && total < 1e7)
            c->loss += (dlost / total - c->loss) * (total / (total + 1000.0));
    }
    c->have_counts = true;
    c->rx_packets = rx;
    c->lost_packets = lost;
}

void pvs_rate_ctl_on_feedback(struct pvs_rate_ctl *c, int64_t now_us, uint32_t packets_received,
                              uint32_t packets_lost, const struct pvs_rate_arrival *rec, int n)
{
    if (!c || n < 0 || (n > 0 && !rec))
        return;
    for (int i = 0; i < n; i++)
        add_record(c, &rec[i], now_us);
    if (c->fresh)
        filter_recent(c);
    add_counts(c, packets_received, packets_lost);
}


/* A frame in progress showed the link shrink and no decision has denied it,
 * or the drain it began goes on. */
static bool shrink_draining(const struct pvs_rate_ctl *c)
{
    return c->shrunk || (c->state == ST_DRAIN && c->shrink_episode);
}

void pvs_rate_ctl_on_progress(struct pvs_rate_ctl *c, int64_t now_us,
                              const struct pvs_rate_progress *p)
{
    (void)now_us;
    if (!c || !p || p->latest_us < p->first_us || !c->have_newest ||
        (int32_t)(p->frame - c->newest_frame) <= 0)
        return;
    const struct sent *s = find_sent(c, p->frame);
    int64_t base = s ? peek_min(&c->first_min, s->first_us) : -1;
    if (!s || base < 0 || s->wire == 0)
        return;
    /* When the latest byte in was sent: the sender paces a frame evenly
     * over [first, sent]. */
    double share = p->bytes >= s->wire ? 1.0 : (double)p->bytes / s->wire;
    int64_t sent_at = s->first_us + (int64_t)((double)(s->sent_us - s->first_us) * share);
    int64_t q = p->latest_us - sent_at - base - c->interval_us / 2;
    int64_t q_first = p->first_us - s->first_us - base;
    if (q_first > q)
        q = q_first;
    if (q <= 2 * q_high(c))
        return;
    if (q > c->queue_us)
        c->queue_us = q;
    int64_t span = p->latest_us - p->first_us, rate = -1;
    if (span >= 2000) {
        rate = (int64_t)p->bytes * 8 * 1000000 / span;
        if (c->delivered <= 0 || rate < c->delivered)
            c->delivered = rate;
        c->busy_rate = 0; /* what came before the drop says nothing now */
    }
    /* A shrink to well under what is sent overflows the queue before the
     * cut reaches it: repair at once (pvs_rate_ctl_shrinks). A frame that
     * waited while the link carried more than was sent (the start's ramp
     * reached 21.4 Mbit/s and its frame arrived at 23.9) is no such thing. */
    if (rate >= 0 && (double)rate < SHRINK_SHARE * c->wire && !shrink_draining(c))
        c->shrinks++;
    c->shrunk = true;
    c->shrunk_since_us = p->first_us;
    c->fresh = true;
}

int64_t pvs_rate_ctl_pace_cap(const struct pvs_rate_ctl *c)
{
    if (!c || !shrink_draining(c))
        return 0;
    int64_t rate = c->busy_rate > c->delivered ? c->busy_rate : c->delivered;
    if (rate <= 0)
        return 0;
    rate = (int64_t)((double)rate * PACE_CAP_SHARE);
    int64_t floor = (int64_t)((double)c->cfg.floor_bps * c->wire_ratio);
    return rate > floor ? rate : floor;
}

uint32_t pvs_rate_ctl_shrinks(const struct pvs_rate_ctl *c)
{
    return c ? c->shrinks : 0;
}

/* Wire bits per second sent over the last APP_WINDOW_US; -1 while the
 * history is shorter. */
static double sent_rate(const struct pvs_rate_ctl *c, int64_t now_us)
{
    int64_t bytes = 0, oldest = now_us;
    for (int i = 0; i < SENT_RING; i++) {
        const struct sent *s = &c->sent[i];
        if (!s->valid || now_us - s->sent_us > APP_WINDOW_US)
            continue;
        bytes += s->wire;
        if (s->sent_us < oldest)
            oldest = s->sent_us;
    }
    if (now_us - oldest < APP_WINDOW_US * 8 / 10)
        return -1;
    return (double)bytes * 8e6 / APP_WINDOW_US;
}

/* Frames sent SILENCE_US ago and still not reported: nothing comes back. */
static bool silent(const struct pvs_rate_ctl *c, int64_t now_us)
{
    if (!c->have_newest)
        return false;
    const struct sent *next = find_sent(c, c->newest_frame + 1);
    return next && now_us - next->sent_us > SILENCE_US;
}

/* The queue is over Q_HIGH: below the delivered rate by what drains it. */
static void drain(struct pvs_rate_ctl *c, int64_t now_us)
{
    if (c->state != ST_DRAIN)
        c->shrink_episode = false;
    if (c->shrunk && !c->shrink_episode) {
        c->shrink_episode = true;
        c->shrink_cut_us = now_us;
    }
    double delivered = c->delivered > 0 ? (double)c->delivered : c->wire;
    if ((double)c->busy_rate > delivered)
        delivered = (double)c->busy_rate;
    double f = 1.0 - (double)c->queue_us / T_DRAIN_US;
    if (f < DRAIN_MIN_FACTOR)
        f = DRAIN_MIN_FACTOR;
    if (delivered * f < c->wire)
        c->wire = delivered * f;
    /* While the queue drains the bottleneck is busy, so what arrives is its
     * rate: keep the highest of the episode (a stall's first frames arrive
     * far apart and would say too little). The link shrinking starts a new
     * episode, its rates from later arrivals only: a drain under way at 50
     * Mbit/s (a standing queue of 12 ms) kept 50.8 for the 10 Mbit/s after
     * a drop, and a window still holding arrivals from before the drop read
     * 31.8; either way the restore at the end of the drain sent the link a
     * second queue of 96 ms and lost a second frame (the emulator's step). */
    if (c->state != ST_DRAIN || c->shrunk || delivered > c->capacity)
        c->capacity = delivered;
    c->shrunk = false;
    c->state = ST_DRAIN;
    c->started = true;
}

static void increase(struct pvs_rate_ctl *c, int64_t now_us, double dt)
{
    /* The encoder does not fill what it has (a still desktop): hold, once
     * the link has shown a limit. Before that (the start's ramp from a
     * quarter of the ceiling) keep going: a still desktop at the start
     * held the stream at a quarter of its ceiling for good. */
    double sending = sent_rate(c, now_us);
    if (c->capacity > 0 && sending >= 0 && sending < c->wire * APP_LIMITED_SHARE) {
        c->state = ST_HOLD;
        return;
    }
    if (c->capacity > 0 && c->wire < c->capacity * KNOWN_FACTOR) {
        c->wire *= pow(FAST_GAIN, dt);
        if (c->wire > c->capacity * KNOWN_FACTOR)
            c->wire = c->capacity * KNOWN_FACTOR;
        c->state = ST_INCREASE;
    } else if (c->capacity > 0) {
        c->wire *= pow(PROBE_GAIN, dt);
        if (c->wire > c->capacity * FORGET_FACTOR)
            c->capacity = 0;
        c->state = ST_PROBE;
    } else if (!c->started && sending >= c->wire * APP_LIMITED_SHARE && c->delivered > 0 &&
               c->wire >= START_LEAD * (double)c->delivered) {
        /* The start's ramp runs at most START_LEAD ahead of what arrives:
         * a queue shows 100 ms and more after it forms, and at x16 a
         * second the ramp went on to 76 Mbit/s on a 50 Mbit/s link, filled
         * its 100 ms queue and lost a frame (a 177 ms freeze at the
         * start, 2 runs in 11). */
        c->state = ST_HOLD;
    } else {
        c->wire *= pow(c->started ? FAST_GAIN : START_GAIN, dt);
        c->state = ST_INCREASE;
    }
}

/* A queue that neither drains nor grows for REBASE_US, while the rate
 * holds or is cut, is no queue: the path's own delay grew (a new route),
 * or the sender stamps its frames later (a server short of CPU: under
 * Wine on a loaded machine, 8-12 ms over the least for 7 s held the rate
 * at its floor on an idle loopback). The least delays start again from
 * the newest, so q is measured from here on. */
static void rebase_standing(struct pvs_rate_ctl *c, int64_t now_us)
{
    if (c->queue_us < q_hold(c)) {
        c->standing_since_us = 0;
        return;
    }
    if (!c->standing_since_us || c->queue_us < c->standing_q_us / 2) {
        c->standing_since_us = now_us; /* (again): a queue that halves is draining */
        c->standing_q_us = c->queue_us;
        return;
    }
    if (now_us - c->standing_since_us < REBASE_US)
        return;
    memset(&c->first_min, 0, sizeof(c->first_min));
    memset(&c->last_min, 0, sizeof(c->last_min));
    c->queue_us = 0;
    c->standing_since_us = 0;
    c->rebases++;
}

/* The control law on the newest figures (rate_ctl.h, "Decisions"). */
static void decide(struct pvs_rate_ctl *c, int64_t now_us, double dt)
{
    if (silent(c, now_us)) {
        c->shrunk = false; /* whatever a frame in progress said is stale */
        if (c->state != ST_SILENCE)
            c->before_silence = c->wire;
        if (now_us - c->last_silence_us >= SILENCE_US) {
            c->wire *= 0.5;
            c->last_silence_us = now_us;
        }
        c->state = ST_SILENCE;
        return;
    }
    if (c->queue_us < 0)
        return; /* nothing measured yet: stay at the start */
    rebase_standing(c, now_us);
    if (c->queue_us <= q_high(c))
        c->shrunk = false; /* a frame in progress said so; the records since say no */
    if (c->queue_us > q_high(c)) {
        if (c->fresh)
            drain(c, now_us);
    } else if (c->state == ST_SILENCE) {
        /* Reports again, and the frames sent meanwhile met no queue and no
         * loss: the reports stalled (a client short of CPU), not the link.
         * Back to where the rate was, within the capacity known. */
        if (c->queue_us < q_hold(c) && c->loss <= LOSS_CONGESTION) {
            double restore = c->before_silence * RESTORE_FACTOR;
            if (c->capacity > 0 && restore > c->capacity * RESTORE_FACTOR)
                restore = c->capacity * RESTORE_FACTOR;
            if (c->wire < restore)
                c->wire = restore;
            c->state = ST_INCREASE;
        } else {
            c->state = ST_HOLD;
        }
    } else if (c->state == ST_DRAIN) {
        if (c->queue_us < q_hold(c)) {
            double restore = c->capacity * RESTORE_FACTOR;
            if (c->wire < restore)
                c->wire = restore;
            c->state = ST_INCREASE;
        }
    } else if (c->loss > LOSS_CONGESTION) {
        if (now_us - c->last_loss_cut_us >= LOSS_CUT_GAP_US) {
            c->wire *= LOSS_CUT_FACTOR;
            c->last_loss_cut_us = now_us;
        }
        c->state = ST_LOSS;
    } else if (c->queue_us > q_hold(c)) {
        c->state = ST_HOLD;
    } else {
        increase(c, now_us, dt);
    }
}

/* Parity for the measured loss: three times it plus 5 points, in steps of
 * 5, from the configured percent up to the bound. */
static int fec_for(const struct pvs_rate_ctl *c)
{
    double pct = c->loss * 100.0;
    int want = pct < 0.5 ? 0 : (int)ceil((pct * 3.0 + 5.0) / 5.0) * 5;
    if (want < c->cfg.fec_percent)
        want = c->cfg.fec_percent;
    return want > c->cfg.fec_max_percent ? c->cfg.fec_max_percent : want;
}

/* One more than the longest recent loss run, but at most fec_max_percent
 * of the data packets of a frame at `bitrate`; at least the configured
 * minimum. A run not seen again for RUN_FORGET_US counts one less. */
static int min_parity_for(struct pvs_rate_ctl *c, int64_t now_us, int64_t bitrate)
{
    if (c->loss_run > 0 && now_us - c->loss_run_us > RUN_FORGET_US) {
        c->loss_run--;
        c->loss_run_us = now_us;
    }
    int want = c->loss_run > 0 ? c->loss_run + 1 : 0;
    double k = ceil((double)bitrate / 8 / c->cfg.fps / c->cfg.datagram_bytes);
    int most = (int)ceil(k * c->cfg.fec_max_percent / 100.0);
    if (want > most)
        want = most;
    return want > c->cfg.fec_min_parity ? want : c->cfg.fec_min_parity;
}

static bool apply(struct pvs_rate_ctl *c, int64_t bitrate, int fec, int min_parity, int64_t pace)
{
    bool changed = false;
    if (min_parity != c->applied_min_parity) {
        c->applied_min_parity = min_parity;
        changed = true;
    }
    int64_t a = c->applied_bitrate;
    if (!a || llabs(bitrate - a) >= (int64_t)((double)a * CHANGE_SHARE) ||
        (bitrate != a && (bitrate == c->cfg.ceiling_bps || bitrate == c->cfg.floor_bps))) {
        if (a)
            c->changes++;
        c->applied_bitrate = bitrate;
        changed = true;
    }
    if (fec != c->applied_fec) {
        c->applied_fec = fec;
        changed = true;
    }
    if (!c->applied_pace ||
        llabs(pace - c->applied_pace) >= (int64_t)((double)c->applied_pace * 0.1)) {
        c->applied_pace = pace;
        changed = true;
    }
    return changed;
}

bool pvs_rate_ctl_update(struct pvs_rate_ctl *c, int64_t now_us, struct pvs_rate_decision *out)
{
    if (!c || !out)
        return false;
    double dt = c->last_update_us ? (double)(now_us - c->last_update_us) : 0;
    dt = dt < 0 ? 0 : dt > MAX_STEP_US ? MAX_STEP_US : dt;
    c->last_update_us = now_us;
    decide(c, now_us, dt / 1e6);
    c->fresh = false;

    double lo = (double)c->cfg.floor_bps * c->wire_ratio;
    double hi = (double)c->cfg.ceiling_bps * c->wire_ratio;
    c->wire = c->wire < lo ? lo : c->wire > hi ? hi : c->wire;
    if (c->wire >= hi)
        c->started = true;
    int64_t bitrate = clamp64((int64_t)(c->wire / c->wire_ratio), c->cfg.floor_bps,
                              c->cfg.ceiling_bps);
    /* A frame leaves in about a quarter of an interval: at twice the rate
     * it took half of one, which with the encode on the same thread left
     * too little of the interval (measured: 48 of 60 fps at 1080p60). */
    double pace = c->wire * 4 > c->capacity * 2.5 ? c->wire * 4 : c->capacity * 2.5;
    if (c->cfg.pace_max_bps && pace > (double)c->cfg.pace_max_bps)
        pace = (double)c->cfg.pace_max_bps;
    int64_t cap = pvs_rate_ctl_pace_cap(c);
    if (cap > 0 && pace > (double)cap)
        pace = (double)cap;
    bool changed = apply(c, bitrate, fec_for(c), min_parity_for(c, now_us, bitrate), (int64_t)pace);

    *out = (struct pvs_rate_decision){
        .bitrate_bps = c->applied_bitrate,
        .wire_bps = (int64_t)c->wire,
        .pace_bps = c->applied_pace,
        .fec_percent = c->applied_fec,
        .fec_min_parity = c->applied_min_parity,
        .estimate_bps = c->capacity > 0 ? (int64_t)c->capacity : (int64_t)c->wire,
        .delivered_bps = c->delivered,
        .queue_delay_us = (int32_t)(c->queue_us > INT32_MAX ? INT32_MAX : c->queue_us),
        .loss = c->loss,
        .changes = c->changes,
        .rebases = c->rebases,
        .shrinks = c->shrinks,
        .hold_keyframe = c->state == ST_DRAIN && c->shrink_episode &&
                         now_us - c->shrink_cut_us < KEYFRAME_HOLD_FRAMES * c->interval_us,
        .state = state_names[c->state],
    };
    return changed;
}
