/* The random generator and loss model shared by losssim and linkemu
 * (lossmodel.h). */
#include "net/lossmodel.h"

#include "common/error.h"
#include "common/log.h"

uint64_t pvs_rng_next(struct pvs_rng *r)
{
    uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

double pvs_rng_uniform(struct pvs_rng *r)
{
    return (double)(pvs_rng_next(r) >> 11) * 0x1.0p-53;
}

int64_t pvs_rng_upto(struct pvs_rng *r, int64_t n)
{
    uint64_t v = pvs_rng_next(r);
    return n <= 0 ? 0 : (int64_t)(v % (uint64_t)(n + 1));
}

int pvs_loss_model_check(const char *who, const char *loss_key, const char *burst_key,
                         double percent, double burst)
{
    if (!(percent >= 0.0 && percent <= 100.0)) { /* also rejects NaN */
        PVS_LOG_E("%s: %s=%g is out of range: give a percentage from 0 to 100", who,
                  loss_key, percent);
        return PVS_ECONFIG;
    }
    if (!(burst >= 0.0 && burst <= 1e6)) {
        PVS_LOG_E("%s: %s=%g is out of range: give a mean burst length from 1 to 1000000 "
                  "packets (0 or 1: independent losses)", who, burst_key, burst);
        return PVS_ECONFIG;
    }
    /* The good state must be left often enough: p_gb = L / (B (1 - L)) <= 1,
     * so L <= B / (B + 1). */
    if (burst > 1.0 && percent < 100.0 && percent / 100.0 > burst / (burst + 1.0)) {
        PVS_LOG_E("%s: %s=%g%% cannot come in bursts of %g on average: with %s=%g the "
                  "loss can be at most %.4g%%", who, loss_key, percent, burst, burst_key,
                  burst, 100.0 * burst / (burst + 1.0));
        return PVS_ECONFIG;
    }
    return 0;
}

void pvs_loss_model_set(struct pvs_loss_model *m, double percent, double burst)
{
    m->loss_p = percent / 100.0;
    m->bursty = burst > 1.0 && m->loss_p > 0.0 && m->loss_p < 1.0;
    if (!m->bursty) {
        m->bad = false;
        return;
    }
    /* Runs in the bad state last 1 / p_bg packets on average; the
     * stationary share of the bad state, p_gb / (p_gb + p_bg), is the loss
     * rate. */
    m->p_bg = 1.0 / burst;
    m->p_gb = m->loss_p * m->p_bg / (1.0 - m->loss_p);
}

bool pvs_loss_model_next(struct pvs_loss_model *m, struct pvs_rng *r)
{
    if (!m->bursty)
        return m->loss_p > 0.0 && pvs_rng_uniform(r) < m->loss_p;
    /* Move first, then the state decides this packet. */
    double u = pvs_rng_uniform(r);
    if (m->bad)
        m->bad = !(u < m->p_bg);
    else
        m->bad = u < m->p_gb;
    return m->bad;
}
