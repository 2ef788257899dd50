/* A network impairment simulator for tests and benchmarks: loss (random or
 * in bursts), reordering, duplication, delay and jitter, applied on the
 * receive side between the socket and SRTP. The receive loop pushes every
 * datagram it reads into the simulator and pops the ones that "arrive"; with
 * the simulator off (the default, and in any real session) it is not in the
 * path at all. Deterministic: the same seed, packets and times give the same
 * output.
 *
 * Not thread-safe: one simulator belongs to one receive loop. Memory is
 * bounded by max_held packets; a packet's buffer is allocated the first time
 * a slot holds one that large, so after warm-up nothing is allocated.
 *
 * There is no fuzz target for pvs_losssim_parse on purpose: the simulator is
 * a test tool and its parser only reads our own command lines and test
 * strings, never anything from the network. */
#ifndef PVS_LOSSSIM_H
#define PVS_LOSSSIM_H

#include <stddef.h>
#include <stdint.h>

/* All-zero is valid and passes every packet through unchanged. Percentages
 * of reordered and duplicated packets are of the packets that were not
 * lost. */
struct pvs_losssim_config {
    uint64_t seed;
    double loss_percent;    /* 0..100: long-run share of packets lost */
    double burst;           /* mean length of a run of losses, >= 1; 0 or 1:
                               independent losses. Above 1 a two-state
                               (Gilbert-Elliott) model: all packets are lost
                               in the bad state, none in the good, so runs of
                               losses have this mean length and the long-run
                               rate stays loss_percent (which must then be at
                               most burst / (burst + 1) * 100) */
    double reorder_percent; /* 0..100: packets held back and delivered after
                               the next 1..reorder_max packets, or after
                               reorder_wait_us if those do not come first */
    int reorder_max;        /* 1..1000; 0: 3 */
    int64_t reorder_wait_us;/* 0..60 s; 0: 10 ms */
    double dup_percent;     /* 0..100: packets delivered twice in a row */
    int64_t delay_us;       /* 0..60 s: fixed extra delay */
    int64_t jitter_us;      /* 0..60 s: plus uniform 0..jitter_us; jitter
                               delays but does not reorder (a packet is
                               never due before the one pushed before it) */
    int max_held;           /* 1..1,000,000 packets held at once; 0: 4096.
                               Past it packets are dropped (stats.overflow) */
};

struct pvs_losssim_stats {
    uint64_t received;   /* packets pushed */
    uint64_t dropped;    /* lost by the loss model */
    uint64_t overflow;   /* dropped because max_held packets were held */
    uint64_t duplicated; /* extra copies made */
    uint64_t reordered;  /* packets held back to come later */
    uint64_t delivered;  /* packets popped, copies included */
};

struct pvs_losssim;

/* Parses "loss=5,burst=3,reorder=1,dup=0.5,delay=2000,jitter=500,seed=7"
 * into *out, which is zeroed first (so omitted keys mean "none"). Keys:
 * seed, loss, burst, reorder, reorder_max, reorder_wait (µs), dup,
 * delay (µs), jitter (µs), held (max_held). An empty string is valid.
 * Returns 0 or PVS_ECONFIG (the log says which key or value is wrong). */
int pvs_losssim_parse(const char *s, struct pvs_losssim_config *out);

/* Returns 0, PVS_EINVAL (NULL pointer), PVS_ECONFIG (a value out of range;
 * the log says which) or PVS_ENOMEM. */
int pvs_losssim_open(struct pvs_losssim **out, const struct pvs_losssim_config *cfg);
/* Frees the simulator and every packet it holds; accepts NULL, clears *sim. */
void pvs_losssim_close(struct pvs_losssim **sim);

/* Hands one received datagram (1..65,535 bytes, copied) to the simulator at
 * time now_us (pvs_time_us(); must not go backwards). Whether it is lost,
 * held or duplicated shows in the stats. Returns 0, PVS_EINVAL for a bad
 * argument, or PVS_ENOMEM when a buffer could not be grown (the packet is
 * then dropped and counted as overflow). */
int pvs_losssim_push(struct pvs_losssim *sim, const uint8_t *pkt, size_t len, int64_t now_us);

/* Takes the next packet due at now_us into buf (cap >= 1). Returns its
 * length (cut to cap when longer, as a socket cuts a datagram), 0 when none
 * is due, or PVS_EINVAL. */
int pvs_losssim_pop(struct pvs_losssim *sim, int64_t now_us, uint8_t *buf, size_t cap);

/* When pop should next be tried: the due time of the next packet, or
 * INT64_MAX when nothing is held (so min(deadline, next_due) works as is).
 * It may be early (pop then returns 0 and a later time is due), never
 * late. */
int64_t pvs_losssim_next_due(const struct pvs_losssim *sim);

void pvs_losssim_get_stats(const struct pvs_losssim *sim, struct pvs_losssim_stats *out);

#endif
