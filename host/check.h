/* `pvstream-host check`: is this host (and a VM) ready for GPU partitions?
 * Each check is a result with a verdict, what was found, and how to fix a
 * failure; the Linux checks read sysfs/procfs under a root (tests use a
 * fake tree), the Windows checks come from a PowerShell probe (hyperv_check.c). */
#ifndef PVS_HOST_CHECK_H
#define PVS_HOST_CHECK_H

#include <stddef.h>

#include "host/backend.h"
#include "host/text.h"

enum pvs_check_verdict {
    PVS_CHECK_OK,
    PVS_CHECK_WARN,   /* works, but worth knowing */
    PVS_CHECK_FAIL,   /* GPU partitions will not work until fixed */
    PVS_CHECK_SKIP,   /* not applicable or could not be determined */
};

#define PVS_CHECK_TEXT_MAX 512

struct pvs_check {
    char id[48];                      /* "iommu", "vfio-modules", "hyperv-enabled" */
    enum pvs_check_verdict verdict;
    char found[PVS_CHECK_TEXT_MAX];   /* what was found */
    char fix[PVS_CHECK_TEXT_MAX];     /* how to fix it; "" when OK */
};

struct pvs_checks {
    struct pvs_check *items;  /* owned */
    int count, cap;
};

/* Appends a result (grows the array). Returns 0 or PVS_ENOMEM. */
int pvs_checks_add(struct pvs_checks *c, const char *id, enum pvs_check_verdict v,
                   const char *found, const char *fix);

/* Results being gathered: each appended with its "found" text formatted;
 * the first error (PVS_ENOMEM) sticks in rc, so the checks append freely
 * and the caller looks once. The fix is dropped for an OK result. */
struct pvs_checks_builder {
    struct pvs_checks *c;
    int rc;
};
void pvs_checks_addf(struct pvs_checks_builder *b, const char *id, enum pvs_check_verdict v,
                     const char *fix, const char *fmt, ...) PVS_TEXT_PRINTF(5, 6);
void pvs_checks_free(struct pvs_checks *c);

/* "ok", "warn", "FAIL", "skip". */
const char *pvs_check_verdict_name(enum pvs_check_verdict v);

/* The results as a table or JSON; *out is the caller's. */
int pvs_checks_format_table(const struct pvs_checks *c, char **out);
int pvs_checks_format_json(const struct pvs_checks *c, char **out);

/* The Linux host checks (IOMMU on, vfio modules, mdev/SR-IOV capacity). */
int pvs_host_check_linux(const struct pvs_host_ctx *ctx, struct pvs_checks *out);

/* The Windows host checks (edition and build, Hyper-V enabled, a
 * partitionable GPU) and, with vm != NULL, that VM's (generation, state,
 * MMIO, GPU adapter, host vs guest driver version, a display for capture).
 * PVS_ENOTSUP where PowerShell cannot be run. In hyperv_check.c. */
int pvs_host_check_hyperv(const struct pvs_host_ctx *ctx, const char *vm,
                          struct pvs_checks *out, char *why, size_t why_len);
/* The same, with `extra` probe text (pvs_hyperv_check_script_ex); when raw
 * is not NULL and the probe ran, *raw is its output for the caller's own
 * parser (the caller frees it). */
int pvs_host_check_hyperv_ex(const struct pvs_host_ctx *ctx, const char *vm, const char *extra,
                             struct pvs_checks *out, char **raw, char *why, size_t why_len);

#endif
