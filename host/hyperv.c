/* The Hyper-V GPU-PV backend (Windows): list, apply and check through
 * PowerShell (run.h). */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "host/backend.h"
#include "host/check.h"
#include "host/text.h"

/* Hyper-V GPU-PV. On Windows this will query WMI (namespace
 * root\virtualization\v2, class Msvm_PartitionableGpu: Name is the
 * instance path; ValidPartitionCounts; Total/Available/Min/Max/Optimal of
 * VRAM, Encode, Decode, Compute), in a hyperv.c of its own that replaces
 * this function. Until then, and always on other systems, it says so. */
static int hyperv_list(const char *sysfs_root, struct pvs_host_gpu **out, int *count,
                       char *why, size_t why_len)
{
    (void)sysfs_root;
    *out = NULL;
    *count = 0;
#ifdef _WIN32
    pvs_text_error(why, why_len, "hyperv: listing through WMI is not written yet");
#else
    pvs_text_error(why, why_len, "hyperv: Windows only");
#endif
    return PVS_ENOTSUP;
}

const struct pvs_host_backend_ops pvs_host_backend_hyperv = {
    .name = "hyperv",
    .platform = "Windows only",
    .list = hyperv_list,
    .apply = NULL,
};


int pvs_host_check_hyperv(const struct pvs_host_ctx *ctx, const char *vm,
                          struct pvs_checks *out, char *why, size_t why_len)
{
    (void)ctx;
    (void)vm;
    (void)out;
    pvs_text_error(why, why_len, "hyperv: Windows only");
    return PVS_ENOTSUP;
}
