/* The GPU partition plan: exact integer split by weight (see plan.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "host/text.h"
#include "host/plan.h"

#if defined(__SIZEOF_INT128__)
#define HAVE_INT128 1
#else
#define HAVE_INT128 0
#endif

static const char *const resource_names[PVS_GPU_RESOURCE_COUNT] = {
    [PVS_GPU_VRAM] = "vram",
    [PVS_GPU_ENCODE] = "encode",
    [PVS_GPU_DECODE] = "decode",
    [PVS_GPU_COMPUTE] = "compute",
};

const char *pvs_gpu_resource_name(enum pvs_gpu_resource r)
{
    return (unsigned)r < PVS_GPU_RESOURCE_COUNT ? resource_names[r] : NULL;
}

const char *pvs_plan_warning_text(unsigned warning)
{
    switch (warning) {
    case PVS_PLAN_WARN_ADVISORY:
        return "the split is advisory: GPU-PV on consumer GPUs does not enforce "
               "partition sizes, so one VM can still take more than its share";
    case PVS_PLAN_WARN_ENCODE_SESSIONS:
        return "more VMs than the GPU's concurrent encode sessions: the VMs past "
               "the limit cannot start a hardware encoder while the others stream";
    case PVS_PLAN_WARN_IDENTICAL_GPUS:
        return "the host has several identical GPUs: name the one to use by its "
               "full instance path (pvstream-host list), not by device ID";
    default:
        return NULL;
    }
}


void pvs_plan_request_hyperv(struct pvs_plan_request *req, int vms)
{
    memset(req, 0, sizeof(*req));
    req->vms = vms;
    req->total[PVS_GPU_VRAM] = PVS_PLAN_HYPERV_TOTAL;
    req->total[PVS_GPU_ENCODE] = PVS_PLAN_HYPERV_TOTAL_ENCODE;
    req->total[PVS_GPU_DECODE] = PVS_PLAN_HYPERV_TOTAL;
    req->total[PVS_GPU_COMPUTE] = PVS_PLAN_HYPERV_TOTAL;
    req->min_percent = 100;
    req->advisory = true;
}

void pvs_plan_muldiv_portable(uint64_t a, uint32_t b, uint64_t d,
                              uint64_t *quot, uint64_t *rem)
{
    /* a = q1 d + r1, so a b = q1 b d + r1 b: q1 b <= a since b <= d, and
     * r1 b < d b < 2^26 * 2^20 fits easily. */
    uint64_t q1 = a / d, r1 = a % d;
    uint64_t t = r1 * b;
    *quot = q1 * b + t / d;
    *rem = t % d;
}

static void muldiv(uint64_t a, uint32_t b, uint64_t d, uint64_t *quot, uint64_t *rem)
{
#if HAVE_INT128
    unsigned __int128 p = (unsigned __int128)a * b;
    *quot = (uint64_t)(p / d); /* <= a because b <= d */
    *rem = (uint64_t)(p % d);
#else
    pvs_plan_muldiv_portable(a, b, d, quot, rem);
#endif
}

int pvs_plan_split(uint64_t total, const uint32_t *weights, int n, uint64_t *shares)
{
    if (n < 1 || n > PVS_PLAN_MAX_VMS || !shares)
        return PVS_EINVAL;
    uint64_t w_sum = 0;
    for (int i = 0; i < n; i++) {
        uint32_t w = weights ? weights[i] : 1;
        if (w < 1 || w > PVS_PLAN_MAX_WEIGHT)
            return PVS_EINVAL;
        w_sum += w;
    }
    uint64_t frac[PVS_PLAN_MAX_VMS];
    int order[PVS_PLAN_MAX_VMS];
    uint64_t given = 0;
    for (int i = 0; i < n; i++) {
        muldiv(total, weights ? weights[i] : 1, w_sum, &shares[i], &frac[i]);
        given += shares[i]; /* sum of floors <= total: no wrap */
        /* Insertion sort by remainder, largest first; stable, so equal
         * remainders keep index order (lower index first). */
        int j = i;
        while (j > 0 && frac[order[j - 1]] < frac[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    /* The remainder is sum(frac) / W < n: at most one unit per VM. */
    uint64_t left = total - given;
    for (uint64_t k = 0; k < left && k < (uint64_t)n; k++)
        shares[order[k]]++;
    return 0;
}

int pvs_plan_compute(const struct pvs_plan_request *req, struct pvs_plan *out,
                     char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    pvs_text_error(err, err_len, "no error");
    if (req->vms < 1) {
        pvs_text_error(err, err_len, "%d VMs: a plan needs at least one VM (--vms N)", req->vms);
        return PVS_EINVAL;
    }
    if (req->vms > PVS_PLAN_MAX_VMS) {
        pvs_text_error(err, err_len, "%d VMs: at most %d VMs can share one GPU here",
            req->vms, PVS_PLAN_MAX_VMS);
        return PVS_EINVAL;
    }
    int min_percent = req->min_percent ? req->min_percent : 100;
    if (min_percent < 1 || min_percent > 100) {
        pvs_text_error(err, err_len, "minimum %d %%: must be 1..100 %% of the share", min_percent);
        return PVS_EINVAL;
    }
    for (int i = 0; req->weights && i < req->vms; i++) {
        if (req->weights[i] < 1 || req->weights[i] > PVS_PLAN_MAX_WEIGHT) {
            pvs_text_error(err, err_len, "weight %d is %u: weights must be 1..%u", i + 1,
                (unsigned)req->weights[i], PVS_PLAN_MAX_WEIGHT);
            return PVS_EINVAL;
        }
    }
    out->vms = req->vms;
    for (int i = 0; i < req->vms; i++)
        out->vm[i].weight = req->weights ? req->weights[i] : 1;
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++) {
        uint64_t shares[PVS_PLAN_MAX_VMS];
        int rc = pvs_plan_split(req->total[r], req->weights, req->vms, shares);
        if (rc < 0) {
            pvs_text_error(err, err_len, "cannot split %s", resource_names[r]);
            memset(out, 0, sizeof(*out));
            return rc;
        }
        out->total[r] = req->total[r];
        for (int i = 0; i < req->vms; i++) {
            struct pvs_plan_amount *a = &out->vm[i].res[r];
            a->optimal = a->max = shares[i];
            uint64_t q, rem;
            /* share * p / 100 with p <= 100: the portable form is exact. */
            pvs_plan_muldiv_portable(shares[i], (uint32_t)min_percent, 100, &q, &rem);
            a->min = q;
        }
    }
    if (req->advisory)
        out->warnings |= PVS_PLAN_WARN_ADVISORY;
    if (req->encode_sessions > 0 && req->vms > req->encode_sessions)
        out->warnings |= PVS_PLAN_WARN_ENCODE_SESSIONS;
    if (req->identical_gpus > 1)
        out->warnings |= PVS_PLAN_WARN_IDENTICAL_GPUS;
    return 0;
}

static const char *skip_space(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s;
}

int pvs_plan_parse_weights(const char *text, int vms, uint32_t *weights,
                           char *err, size_t err_len)
{
    pvs_text_error(err, err_len, "no error");
    if (!text) {
        pvs_text_error(err, err_len, "no weights given");
        return PVS_EINVAL;
    }
    int count = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        const char *s = skip_space(p, end), *e = end;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        int item = count + 1;
        if (s == e) {
            pvs_text_error(err, err_len, "weights '%s': item %d is empty (write them as 1,2,1)", text, item);
            return PVS_EINVAL;
        }
        uint64_t v = 0;
        for (const char *c = s; c < e; c++) {
            if (*c < '0' || *c > '9') {
                pvs_text_error(err, err_len, "weights '%s': item %d '%.*s' is not a whole number",
                    text, item, (int)(e - s), s);
                return PVS_EINVAL;
            }
            if (v <= PVS_PLAN_MAX_WEIGHT)
                v = v * 10 + (uint64_t)(*c - '0');
        }
        if (v == 0) {
            pvs_text_error(err, err_len, "weights '%s': item %d is 0: every VM needs a weight of at least 1",
                text, item);
            return PVS_EINVAL;
        }
        if (v > PVS_PLAN_MAX_WEIGHT) {
            pvs_text_error(err, err_len, "weights '%s': item %d is larger than %u", text, item,
                PVS_PLAN_MAX_WEIGHT);
            return PVS_EINVAL;
        }
        if (count < vms && count < PVS_PLAN_MAX_VMS && weights)
            weights[count] = (uint32_t)v;
        count++;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (count != vms) {
        pvs_text_error(err, err_len, "weights '%s': %d weight%s for %d VM%s: give one per VM", text,
            count, count == 1 ? "" : "s", vms, vms == 1 ? "" : "s");
        return PVS_EINVAL;
    }
    return 0;
}

int pvs_plan_parse_u64(const char *text, uint64_t *out)
{
    if (!text || !*text)
        return PVS_EINVAL;
    if (!strcmp(text, "max")) {
        *out = UINT64_MAX;
        return 0;
    }
    uint64_t v = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return PVS_EINVAL;
        unsigned d = (unsigned)(*c - '0');
        if (v > (UINT64_MAX - d) / 10)
            return PVS_ERANGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}
