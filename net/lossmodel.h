/* What the loss simulator (losssim.h) and the link emulator (linkemu.h)
 * share: a small seeded random generator and the packet loss model, either
 * independent losses or bursts (Gilbert-Elliott). Both tools must lose
 * packets the same way for the same settings, so the model lives here once.
 *
 * Not thread-safe: a generator and a model belong to one caller. */
#ifndef PVS_LOSSMODEL_H
#define PVS_LOSSMODEL_H

#include <stdbool.h>
#include <stdint.h>

/* SplitMix64: its state is one counter, so any seed (0 included) works. */
struct pvs_rng {
    uint64_t state;
};

uint64_t pvs_rng_next(struct pvs_rng *r);
/* Uniform in [0, 1). */
double pvs_rng_uniform(struct pvs_rng *r);
/* Uniform in [0, n] for 0 <= n < 2^62 (modulo bias below 2^-30 for the
 * bounded values used). Draws even for n <= 0 (and returns 0), so the
 * sequence does not depend on the configuration. */
int64_t pvs_rng_upto(struct pvs_rng *r, int64_t n);

/* Long-run loss rate `percent` (0..100). burst: the mean length of a run of
 * losses, >= 1; 0 or 1 means independent losses. Above 1 a two-state model:
 * every packet is lost in the bad state, none in the good, the bad state
 * lasts `burst` packets on average and its stationary share is the loss
 * rate, which can then be at most burst / (burst + 1) * 100. */
struct pvs_loss_model {
    double loss_p, p_gb, p_bg; /* loss probability; good->bad, bad->good */
    bool bursty, bad;
};

/* Whether percent and burst are in range (see above). When not, logs why,
 * naming the caller's `who` ("loss simulator") and keys (`loss_key`,
 * `burst_key`: "loss", "burst"), and returns PVS_ECONFIG; else 0. */
int pvs_loss_model_check(const char *who, const char *loss_key, const char *burst_key,
                         double percent, double burst);

/* (Re)sets the rates; a bursty model keeps its state, so a rate that
 * changes on a schedule does not end a burst in progress. */
void pvs_loss_model_set(struct pvs_loss_model *m, double percent, double burst);

/* Whether the next packet is lost. Draws one random number, none in the
 * independent model at rate 0. */
bool pvs_loss_model_next(struct pvs_loss_model *m, struct pvs_rng *r);

#endif
