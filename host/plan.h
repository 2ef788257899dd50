/* The GPU partition plan: an exact integer split of a GPU's resources
 * (VRAM, encode, decode, compute) between N virtual machines by weight.
 *
 * Why integers: Hyper-V reports each resource as an abstract total (1e9
 * for VRAM, decode and compute, 2^64 - 1 for encode) and takes the per-VM
 * Min/Optimal/Max values as UInt64. A split through floating point loses
 * digits (a double holds 53 bits, the encode total needs 64) and rounds
 * in ways that shift from one VM to another: a known script turned "33 %"
 * into 330033003. Here every share is floor(T * w_i / W), computed
 * exactly, and the few units left over (fewer than N) go one each to the
 * VMs with the largest remainders (T * w_i mod W), ties to the lower
 * index. The shares of a resource always add up to its total exactly, the
 * order is the same on every machine, and a VM never gets more than its
 * exact share rounded up.
 *
 * Min, Optimal and Max: Optimal = Max = the share. Max = the share because
 * the shares already add up to the whole GPU: a larger Max would promise
 * one VM what another was given. Min defaults to the share too (min_percent
 * = 100), the guarantee the weights ask for; since Max cannot exceed the
 * share, a lower Min only lets the host give a VM less and never lends the
 * difference to anyone. A caller may still ask for a lower Min
 * (floor(share * min_percent / 100)); Hyper-V requires
 * Min <= Optimal <= Max, which holds for any min_percent in 1..100.
 *
 * The core is generic: the same split serves a Linux mdev/SR-IOV plan
 * (totals = instances) as well as Hyper-V's abstract units. Nothing here
 * allocates, prints or touches the system. */
#ifndef PVS_HOST_PLAN_H
#define PVS_HOST_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_PLAN_MAX_VMS 64
#define PVS_PLAN_MAX_WEIGHT 1000000u
/* The totals Hyper-V reports for a partitionable GPU. */
#define PVS_PLAN_HYPERV_TOTAL 1000000000ull    /* VRAM, decode, compute */
#define PVS_PLAN_HYPERV_TOTAL_ENCODE UINT64_MAX /* encode: 2^64 - 1 */

enum pvs_gpu_resource {
    PVS_GPU_VRAM,
    PVS_GPU_ENCODE,
    PVS_GPU_DECODE,
    PVS_GPU_COMPUTE,
    PVS_GPU_RESOURCE_COUNT,
};

/* "vram", "encode", "decode", "compute"; NULL for an unknown value. */
const char *pvs_gpu_resource_name(enum pvs_gpu_resource r);

/* Warnings are data: a bit set in pvs_plan.warnings; the caller decides
 * how to show them (pvs_plan_warning_text). */
enum pvs_plan_warning {
    /* GPU-PV on a consumer GPU does not enforce the split: it is a hint. */
    PVS_PLAN_WARN_ADVISORY = 1u << 0,
    /* More VMs than the GPU can run encode sessions at once. */
    PVS_PLAN_WARN_ENCODE_SESSIONS = 1u << 1,
    /* Several GPUs with the same vendor and device ID: pick one by its
     * full instance path, never by a (truncated) device ID. */
    PVS_PLAN_WARN_IDENTICAL_GPUS = 1u << 2,
};
#define PVS_PLAN_WARN_ALL 0x7u

/* A sentence for one warning bit (static string), NULL for anything else. */
const char *pvs_plan_warning_text(unsigned warning);

struct pvs_plan_request {
    int vms;                                /* 1..PVS_PLAN_MAX_VMS */
    /* Weights of VM 0..vms-1, each 1..PVS_PLAN_MAX_WEIGHT. NULL: all 1. */
    const uint32_t *weights;
    uint64_t total[PVS_GPU_RESOURCE_COUNT]; /* what is split, per resource */
    int min_percent;        /* Min = floor(share * min_percent / 100), 1..100; 0 = 100 */
    bool advisory;          /* GPU-PV (Hyper-V): the split is not enforced */
    /* Concurrent encode sessions the GPU allows; 0 = unknown (no check).
     * NVIDIA's consumer GPUs, for one, cap concurrent NVENC sessions. */
    int encode_sessions;
    /* GPUs on the host with the same vendor and device ID as the chosen one
     * (0 or 1: it is unique). */
    int identical_gpus;
};

/* Fills a request with `vms` equal VMs and Hyper-V's totals. */
void pvs_plan_request_hyperv(struct pvs_plan_request *req, int vms);

struct pvs_plan_amount {
    uint64_t min, optimal, max;
};

struct pvs_plan_vm {
    uint32_t weight;
    struct pvs_plan_amount res[PVS_GPU_RESOURCE_COUNT];
};

struct pvs_plan {
    int vms;
    uint64_t total[PVS_GPU_RESOURCE_COUNT];
    struct pvs_plan_vm vm[PVS_PLAN_MAX_VMS];
    unsigned warnings;      /* PVS_PLAN_WARN_* bits */
};

/* Computes the plan. Returns 0, or PVS_EINVAL with the reason in `err`
 * ("0 VMs: ...", "weight 3 is 0: ..."); on error *out is zeroed. */
int pvs_plan_compute(const struct pvs_plan_request *req, struct pvs_plan *out,
                     char *err, size_t err_len);

/* Splits `total` by `weights[0..n-1]` (each 1..PVS_PLAN_MAX_WEIGHT,
 * 1 <= n <= PVS_PLAN_MAX_VMS) into shares[], as described at the top.
 * Returns 0 or PVS_EINVAL. */
int pvs_plan_split(uint64_t total, const uint32_t *weights, int n, uint64_t *shares);

/* Parses "a,b,c" into weights[0..vms-1]. Each item is a decimal integer
 * 1..PVS_PLAN_MAX_WEIGHT, surrounding spaces allowed. Errors (PVS_EINVAL,
 * reason in `err`): an empty item ("item 2 is empty"), not a number, zero,
 * too large, and a count other than `vms`. */
int pvs_plan_parse_weights(const char *text, int vms, uint32_t *weights,
                           char *err, size_t err_len);

/* Parses a total: a decimal integer 0..2^64-1, or "max" for 2^64-1.
 * Returns 0, or PVS_EINVAL (not a number) or PVS_ERANGE (over 2^64-1). */
int pvs_plan_parse_u64(const char *text, uint64_t *out);

/* floor(a * b / d) and (a * b) mod d without a 128-bit type, for
 * b <= d <= PVS_PLAN_MAX_VMS * PVS_PLAN_MAX_WEIGHT
 * (the only range the split needs). Compilers without unsigned __int128 use
 * it; it is public so tests can check it against the 128-bit path. */
void pvs_plan_muldiv_portable(uint64_t a, uint32_t b, uint64_t d,
                              uint64_t *quot, uint64_t *rem);

#endif
