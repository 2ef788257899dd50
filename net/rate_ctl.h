/* Adaptive bitrate: the server's estimate of what the path to its client
 * carries now, and what to do about it (docs/abr.md). Plain C, no I/O, no
 * clock of its own: the video thread tells it each frame it sent, the
 * control thread each FEEDBACK record the client sent back, and either asks
 * for the decision at a time it gives.
 *
 * Signals. For every frame the client reports, the one-way delay of its
 * first packet is
 *     d = arrival of its first packet (client clock) - send time of its
 *         first packet (server clock)
 * which holds an unknown clock offset. The smallest d of a sliding 10 s
 * window is the empty-queue delay, so q = d - min is the queue delay at the
 * bottleneck, offset-free. The first packet, not the last: the last one
 * also waits behind its own frame at the bottleneck, which is no standing
 * queue and grows with the frame (a 10 Mbit/s link holds a 20 KB frame for
 * 16 ms); the first waits only for what earlier frames left. The arrival
 * spacing of the frames' last packets gives the delivered rate (what the
 * bottleneck let through); the client's packet counts give the loss rate,
 * counted as random loss only while there is no queue (a drop-tail queue's
 * losses are congestion, already seen as delay).
 *
 * Decisions, in wire bits per second (what the link sees: encoded bytes plus
 * parity and headers; the encoder's share follows from the measured ratio):
 *   - queue above Q_HIGH: the link is full. Drain: go below the delivered
 *     rate C by as much as the queue needs, rate = C * (1 - q / T_DRAIN)
 *     (at least C / 5; T_DRAIN 100 ms), so a queue is gone in about T_DRAIN; the
 *     highest C of the drain is remembered as the capacity estimate, counted
 *     afresh from a frame in progress that shows the link shrinking (only
 *     arrivals after it). No increase until q < Q_HOLD; then the rate goes
 *     back to 90 % of it at once (the drain is over). For the first two
 *     frame intervals of such a shrink's drain a keyframe the client
 *     asked for waits (hold_keyframe): it would meet the full queue and be
 *     lost. A shrink to under 0.7 x the rate sent is repaired at once:
 *     what the sender has not sent is dropped, the next frame is a
 *     keyframe, and pacing is capped at 0.9 x the delivered rate until the
 *     drain ends (pvs_rate_ctl_shrinks, pvs_rate_ctl_pace_cap below).
 *   - queue between Q_HOLD and Q_HIGH: hold.
 *   - a queue over Q_HOLD that neither halves nor goes for REBASE_S while
 *     the rate holds or is cut is the path's own delay (a new route, or a
 *     sender that stamps its frames late, short of CPU): the least delays
 *     start again from the newest.
 *   - queue under Q_HOLD: increase. Below 95 % of the capacity estimate,
 *     fast (x2 per second): that rate was carried a moment ago. Above it,
 *     probe gently (+30 % per second), and once 10 % past the estimate
 *     without a queue, the link has grown: forget it and go fast again.
 *     No increase while the encoder sends well under its target (a still
 *     desktop) once a capacity is known, so a sudden burst of motion does
 *     not find a rate nobody tested.
 *   - loss without queue is random loss (Wi-Fi, a bad cable), not
 *     congestion: it raises the FEC ratio, never lowers the rate. Only loss
 *     over 20 % (a policer with no queue to show) lowers the rate. Loss
 *     comes in runs on Wi-Fi: the most packets one frame lost without a
 *     queue (over the last 4 s) plus one is the least parity per block, so
 *     that a small frame (a block of 8 data packets has 2 parity at 20 %)
 *     survives a run of 3; but at most fec_max_percent of the data packets
 *     of a frame at the current bitrate: after a drop to 8 Mbit/s, a run
 *     of 6 seen made 7 parity for frames of 2-5 data packets, and the wire
 *     carried 3.5 times what the encoder had.
 *   - no feedback for 300 ms while frames go out: the path may be dead or
 *     the queue enormous; halve the rate (once per 300 ms). When reports
 *     come back showing no queue and no loss, it was the reports that
 *     stalled (a client short of CPU): back to 90 % of the rate before,
 *     within the capacity estimate, at once.
 *   - the start: a quarter of the ceiling, then x16 per second until a
 *     queue shows, at most 1.25 x the delivered rate while the encoder
 *     fills its target.
 * Bounded by [floor, ceiling] of the encoder's bitrate (--min-bitrate,
 * --bitrate). Pacing: four times the rate (at least 2.5 x the capacity
 * estimate), so a frame leaves in a quarter of an interval: bursts stay
 * short for the bottleneck's queue, and a frame is not held back much by
 * pacing.
 *
 * Threading: none; the server holds a lock around every call. */
#ifndef PVS_RATE_CTL_H
#define PVS_RATE_CTL_H

#define REBASE_S 2 /* a standing queue this many seconds is the path's delay */

#include <stdbool.h>
#include <stdint.h>

struct pvs_rate_ctl_config {
    int64_t ceiling_bps;        /* the encoder's bitrate, at most (--bitrate) */
    int64_t floor_bps;          /* at least (--min-bitrate); 0: ceiling / 50 */
    int64_t start_bps;          /* the first target; 0: a quarter of the
                                   ceiling, reached x2 a second: starting at
                                   60 Mbit/s on a 30 Mbit/s link filled its
                                   100 ms queue before the first feedback
                                   (a 555 ms freeze at every start) */
    int fps;                    /* the stream's frame rate: thresholds scale with it */
    int fec_percent;            /* the parity percent with no loss (--fec-percent) */
    int fec_max_percent;        /* the most loss may raise it to; 0: 50 */
    int fec_min_parity;         /* parity shards per block at least, with no
                                   loss runs seen (--fec-min) */
    int datagram_bytes;         /* a media datagram's size; 0: 1400 */
    int64_t pace_max_bps;       /* pacing at most this; 0: no limit */
};

/* One frame as the client saw it (a FEEDBACK record, docs/protocol.md). */
struct pvs_rate_arrival {
    uint32_t frame;
    int64_t first_us;           /* its first packet in, client clock */
    int64_t arrival_us;         /* its last packet in, client clock */
    uint32_t bytes;             /* datagram bytes received */
    uint16_t lost;              /* packets lost */
    uint16_t repaired;          /* data packets rebuilt by FEC */
};

/* What to do now, and why. */
struct pvs_rate_decision {
    int64_t bitrate_bps;        /* the encoder's target */
    int64_t wire_bps;           /* the same on the wire (parity, headers) */
    int64_t pace_bps;
    int fec_percent;
    int fec_min_parity;         /* parity shards per block at least: one more
                                   than the longest loss run lately, at most
                                   fec_max_percent of a frame's data packets */
    int64_t estimate_bps;       /* available rate on the wire: the capacity
                                   estimate, or what is carried without a
                                   queue when none is known */
    int64_t delivered_bps;      /* the latest delivered rate; 0: unknown */
    int32_t queue_delay_us;     /* latest queue delay; -1: no sample yet */
    double loss;                /* smoothed packet loss, 0..1 */
    uint32_t changes;           /* bitrate changes so far */
    uint32_t rebases;           /* standing delays taken as the path's own
                                   (after REBASE_S, "Decisions" above) */
    uint32_t shrinks;           /* pvs_rate_ctl_shrinks */
    bool hold_keyframe;         /* the link has just shrunk and the cut is
                                   only starting: a keyframe sent now meets
                                   the full queue of the frames sent before
                                   it and is lost with them; wait */
    const char *state;          /* "start", "increase", "probe", "hold",
                                   "drain", "loss", "silence" */
};

struct pvs_rate_ctl;

/* Returns 0, PVS_EINVAL (no ceiling, fps not 1..1000, a floor above the
 * ceiling, FEC out of 0..100) or PVS_ENOMEM. */
int pvs_rate_ctl_open(struct pvs_rate_ctl **out, const struct pvs_rate_ctl_config *cfg);
void pvs_rate_ctl_close(struct pvs_rate_ctl **c);

/* Frame `frame` went out: `encoded` bytes from the encoder, `wire` bytes
 * on the wire, its first packet at first_us and its last at last_us (server
 * clock). */
void pvs_rate_ctl_on_sent(struct pvs_rate_ctl *c, uint32_t frame, uint32_t encoded,
                          uint32_t wire, int64_t first_us, int64_t last_us);

/* A FEEDBACK message arrived at now_us (server clock): the client's packet
 * counts since its session began (they wrap) and its records. Records of
 * frames not sent (or forgotten: more than 512 frames ago) are ignored. */
void pvs_rate_ctl_on_feedback(struct pvs_rate_ctl *c, int64_t now_us, uint32_t packets_received,
                              uint32_t packets_lost, const struct pvs_rate_arrival *rec, int n);

/* The newest frame still arriving at the client (a FEEDBACK's progress):
 * its first and latest packet in (client clock) and bytes so far. */
struct pvs_rate_progress {
    uint32_t frame;
    int64_t first_us, latest_us;
    uint32_t bytes;
};

/* A frame in progress whose latest packet waited more than 2 x Q_HIGH
 * beyond its own spread is a bottleneck that just shrank, seen before the
 * frame settles (a 50 -> 10 Mbit/s step: 170 ms after the drop with
 * records alone): it counts as a queue sample, and the frame's arrival
 * rate so far as the delivered rate. Ignored for a frame already reported
 * or not sent. */
void pvs_rate_ctl_on_progress(struct pvs_rate_ctl *c, int64_t now_us,
                              const struct pvs_rate_progress *p);

/* While a link that just shrank drains (from the frame in progress that
 * showed it until its queue is under Q_HOLD), the frames already encoded
 * and posted are as large as before the cut: sent, they overflow the
 * link's queue before the cut reaches it (the wifi scenario's 100 ms
 * drop-tail queue overflowed 35-50 ms after a drop to 8 Mbit/s), and the
 * keyframe that repairs the loss then waits behind them. So:
 *   - pvs_rate_ctl_shrinks counts the shrinks seen. When it changes the
 *     sender drops what it has not sent (net/sender.h, the epoch), the
 *     server drops a frame encoded before it, and the next frame is a
 *     keyframe at the cut's rate: it arrives behind the queue as it was,
 *     not behind the frames that could not be decoded anyway.
 *   - pvs_rate_ctl_pace_cap is the most the sender may pace at meanwhile,
 *     0.9 x the delivered rate (0: no cap), so that the queue drains
 *     under the keyframe instead of losing it. The decision's pace_bps
 *     includes it. */
int64_t pvs_rate_ctl_pace_cap(const struct pvs_rate_ctl *c);
uint32_t pvs_rate_ctl_shrinks(const struct pvs_rate_ctl *c);

/* The decision at now_us (server clock). Returns true when the bitrate,
 * pacing or FEC changed since the last call that returned true. */
bool pvs_rate_ctl_update(struct pvs_rate_ctl *c, int64_t now_us, struct pvs_rate_decision *out);

#endif
