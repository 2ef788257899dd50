/* PowerShell for Hyper-V: the script that `pvstream-host apply` runs (and
 * `plan --emit-ps` writes) to give each VM its GPU partition.
 *
 * The script first checks every VM (exists under exactly that name, once;
 * generation 2; off; no GPU partition adapter yet) and the GPU (the
 * instance path is a partitionable GPU), and stops with a message saying
 * what to do before anything is changed. Then, per VM:
 * Add-VMGpuPartitionAdapter with the exact instance path,
 * Set-VMGpuPartitionAdapter with the plan's Min/Max/Optimal of VRAM,
 * Encode, Decode and Compute, and Set-VM -GuestControlledCacheTypes $true
 * with the MMIO space below and -AutomaticStopAction ShutDown (a VM with a
 * GPU partition cannot be saved, Hyper-V's default when the host shuts
 * down).
 *
 * VMs are addressed by the object Get-VM returned for an exact name match
 * (-VM $vm), not by -VMName: Hyper-V allows two VMs with the same name, and
 * a name-based parameter would change both.
 *
 * MMIO sizing: the guest maps the GPU's BARs into MMIO space the VM
 * reserves. Low MMIO (below 4 GiB) holds 32-bit BARs, which are small;
 * 1 GiB is ample. High MMIO (above 4 GiB) holds the 64-bit BARs, of which
 * the VRAM aperture is the big one: it must be at least the GPU's VRAM
 * plus room for the other BARs, rounded up, or the guest driver fails to
 * start (Device Manager: Code 43 or Code 12). 32 GiB covers GPUs up to
 * 24 GiB; give more for larger ones.
 *
 * Quoting: every string is a single-quoted literal, in which PowerShell
 * expands nothing; a quote inside is doubled. PowerShell also takes the
 * typographic quotes U+2018..U+201B as single quotes, so those are doubled
 * too. Names with control characters are refused (PVS_EINVAL). The script
 * starts with a UTF-8 byte order mark: Windows PowerShell 5.1 reads a
 * script without one in the ANSI code page, which would garble non-ASCII
 * names. */
#ifndef PVS_HOST_PS_H
#define PVS_HOST_PS_H

#include <stddef.h>
#include <stdint.h>

#include "host/plan.h"
#include "host/text.h"

#define PVS_PS_DEFAULT_LOW_MMIO_MIB 1024u    /* 1 GiB */
#define PVS_PS_DEFAULT_HIGH_MMIO_MIB 32768u  /* 32 GiB */

struct pvs_ps_settings {
    const char *instance_path;  /* the GPU, as Msvm_PartitionableGpu names it; required */
    uint64_t low_mmio_mib;      /* -LowMemoryMappedIoSpace, MiB, 1..3072 */
    uint64_t high_mmio_mib;     /* -HighMemoryMappedIoSpace, MiB, >= 1 */
    const char *generator;      /* shown in the first comment; NULL: "pvstream-host" */
};

void pvs_ps_defaults(struct pvs_ps_settings *s);

/* Appends `s` to `out` as a PowerShell single-quoted literal. Returns 0, or
 * PVS_EINVAL (nothing appended) when `s` holds a control character. */
int pvs_ps_quote(struct pvs_text *out, const char *s);

/* Writes the apply script for `plan`, VM i being names[i]. On success
 * *script is a NUL-terminated string the caller frees, and 0 is returned.
 * Errors: PVS_EINVAL with the reason in `err` (a missing or empty name or
 * instance path, a control character, MMIO sizes out of range),
 * PVS_ENOMEM. */
int pvs_ps_apply_script(const struct pvs_plan *plan, const char *const *names,
                        const struct pvs_ps_settings *s, char **script,
                        char *err, size_t err_len);

/* Appends the commands that give the VM in $vm its partition of the GPU in
 * $InstancePath (both set by the caller's script): Add-VMGpuPartitionAdapter,
 * Set-VMGpuPartitionAdapter with v's amounts, and Set-VM with the cache
 * and MMIO settings of `s` and -AutomaticStopAction ShutDown. The apply
 * script and `vm create` (vm.h) share it. `s` must be in range (see
 * pvs_ps_apply_script). */
void pvs_ps_append_partition(struct pvs_text *t, const struct pvs_plan_vm *v,
                             const struct pvs_ps_settings *s);

#endif
