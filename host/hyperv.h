/* The Hyper-V backend's pure parts, public so the tests and the fuzzer
 * reach them without Windows: the GPU instance path, the PowerShell probes
 * `list` and `check` run and the parsers of what they print, and the
 * script that takes the GPU partitions away again (apply --remove).
 *
 * The probes print one `key=value` per line (UTF-8, "\n", control
 * characters replaced by '?'), between a first line
 * "pvstream-probe list 1" (or "check 1") and a last line "end"; a probe
 * that fails prints "error=MESSAGE". Everything else about the output is
 * untrusted: a value that is not what it should be skips that GPU (list)
 * or gives a SKIP result (check), with a warning, never a crash. */
#ifndef PVS_HOST_HYPERV_H
#define PVS_HOST_HYPERV_H

#include <stddef.h>
#include <stdint.h>

#include "host/backend.h"
#include "host/check.h"

/* Parses a GPU's instance path, as Msvm_PartitionableGpu.Name and
 * Get-VMHostPartitionableGpu give it:
 *   \\?\PCI#VEN_10DE&DEV_2704&SUBSYS_...&REV_A1#4&2b1b3d5c&0&0008#{GUID}[\...]
 * (letters in any case). The vendor and device IDs must be exactly four
 * hex digits, the device instance ("4&2b1b3d5c&0&0008", what tells two
 * identical GPUs apart) non-empty, the interface GUID complete; no
 * control characters; shorter than PVS_HOST_ID_MAX. Returns 0 with the
 * IDs (either pointer may be NULL), or PVS_EBADDATA. */
int pvs_hyperv_parse_instance_path(const char *path, uint16_t *vendor, uint16_t *device);

/* The probe `list` runs (Msvm_PartitionableGpu in root\virtualization\v2).
 * Its output, per GPU: "gpu", then Name=, DeviceName= (Windows' name of the
 * adapter, may be empty), ValidPartitionCounts=1,2,..., and Total*,
 * Available*, MinPartition*, MaxPartition*, OptimalPartition* for VRAM,
 * Encode, Decode and Compute. "unavailable=MESSAGE" instead when Hyper-V's
 * WMI namespace does not exist. *script is the caller's. Returns 0 or
 * PVS_ENOMEM. */
int pvs_hyperv_list_script(char **script);

/* Parses the list probe's output into *out (backend "hyperv", id = the
 * instance path, vendor and device IDs from it, name = DeviceName; at most
 * PVS_HOST_MAX_GPUS), in the probe's order. A GPU with a bad instance path,
 * a missing or duplicate key, a number that is not a plain decimal in range
 * (uint64; partition counts 1..65535, at most PVS_HOST_MAX_PARTITION_COUNTS)
 * or a repeated instance path is skipped with a warning. Returns 0 (also
 * when Hyper-V is unavailable: then *count is 0 and `why` says so),
 * PVS_EBADDATA (not the probe's output, or cut short), PVS_EIO (the probe
 * reported an error: its message in why), PVS_ENOMEM. *out is freed with
 * pvs_host_gpus_free. */
int pvs_hyperv_parse_list(const char *text, size_t len, struct pvs_host_gpu **out, int *count,
                          char *why, size_t why_len);

/* The script that removes the GPU partition adapters on `instance_path`
 * from each of the n VMs: each VM found by exact name, once, and off
 * before anything changes (the same checks as the apply script), then
 * Remove-VMGpuPartitionAdapter for that GPU's adapters (a VM without one
 * is reported and left alone). MMIO and cache settings stay: they are
 * harmless without a GPU. Returns 0, PVS_EINVAL (no VMs, an empty name or
 * path, a control character; reason in err) or PVS_ENOMEM. */
int pvs_hyperv_remove_script(const char *instance_path, const char *const *names, int n,
                             char **script, char *err, size_t err_len);

/* The probe `check` runs; with vm != NULL it also looks at that VM. */
int pvs_hyperv_check_script(const char *vm, char **script, char *err, size_t err_len);
/* The same with `extra` (NULL: none), PowerShell that prints more
 * key=value lines with Put, run inside the probe's try block after the
 * host (and VM) part and before the GPU's driver and VRAM are read, so it
 * may set $gpuPath to the GPU it is about (vm.h's create checks do). */
int pvs_hyperv_check_script_ex(const char *vm, const char *extra, char **script, char *err,
                               size_t err_len);

/* Turns the check probe's output into results appended to *out (ids:
 * windows-edition, windows-build, hyperv-enabled, hypervisor, vmms,
 * partitionable-gpu; with vm: vm, vm-generation, vm-state, vm-cache-types,
 * vm-low-mmio, vm-high-mmio, vm-gpu-adapter, driver-version,
 * display-capture). `vm` (NULL: host only) is used in the fixes. Returns 0,
 * PVS_EBADDATA (not the probe's output), PVS_EIO (the probe failed; why),
 * PVS_ENOMEM. */
int pvs_hyperv_parse_check(const char *text, size_t len, const char *vm, struct pvs_checks *out,
                           char *why, size_t why_len);

/* High MMIO space for a GPU with `vram_bytes` of VRAM (0: unknown): the
 * next power of two GiB at or above VRAM + 1 GiB, at least 32 GiB (apply's
 * default), room for the VRAM aperture and the other BARs. */
uint64_t pvs_hyperv_high_mmio_gib(uint64_t vram_bytes);

#endif
