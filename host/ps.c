/* PowerShell generation for Hyper-V GPU partitioning (see ps.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "host/text.h"
#include "host/ps.h"

#define LOW_MMIO_MAX_MIB 3072u     /* below 4 GiB: RAM and firmware need the rest */
#define HIGH_MMIO_MAX_MIB 1048576u /* 1 TiB: more is a units mistake */


void pvs_ps_defaults(struct pvs_ps_settings *s)
{
    memset(s, 0, sizeof(*s));
    s->low_mmio_mib = PVS_PS_DEFAULT_LOW_MMIO_MIB;
    s->high_mmio_mib = PVS_PS_DEFAULT_HIGH_MMIO_MIB;
}

/* U+2018..U+201B in UTF-8: E2 80 98..9B. PowerShell ends a single-quoted
 * string at any of them, like at '. */
static size_t smart_quote_len(const unsigned char *p)
{
    return p[0] == 0xe2 && p[1] == 0x80 && p[2] >= 0x98 && p[2] <= 0x9b ? 3 : 0;
}

int pvs_ps_quote(struct pvs_text *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return PVS_EINVAL;
    pvs_text_append(out, "'", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t q = *p == '\'' ? 1 : smart_quote_len(p);
        if (q) {
            /* Doubled: the pair stands for one quote character. */
            pvs_text_append(out, (const char *)p, q);
            pvs_text_append(out, (const char *)p, q);
            p += q;
            continue;
        }
        const unsigned char *run = p;
        while (*p && *p != '\'' && !smart_quote_len(p))
            p++;
        pvs_text_append(out, (const char *)run, (size_t)(p - run));
    }
    pvs_text_append(out, "'", 1);
    return 0;
}

/* A UInt64 parameter value. Literals above Int64's range do not parse as
 * integers in every PowerShell version (5.1 makes them a double, which
 * loses digits), so those go through a string cast, which is exact. */
static void put_u64(struct pvs_text *t, uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        pvs_text_printf(t, "%" PRIu64, v);
    else
        pvs_text_printf(t, "([uint64]'%" PRIu64 "')", v);
}

static void put_mib(struct pvs_text *t, uint64_t mib)
{
    if (mib % 1024 == 0)
        pvs_text_printf(t, "%" PRIu64 "GB", mib / 1024);
    else
        pvs_text_printf(t, "%" PRIu64 "MB", mib);
}

/* Hyper-V's parameter names for each resource, in the order of the
 * plan's resources. */
static const char *const ps_resource[PVS_GPU_RESOURCE_COUNT] = {
    [PVS_GPU_VRAM] = "VRAM",
    [PVS_GPU_ENCODE] = "Encode",
    [PVS_GPU_DECODE] = "Decode",
    [PVS_GPU_COMPUTE] = "Compute",
};

void pvs_ps_append_partition(struct pvs_text *t, const struct pvs_plan_vm *v,
                             const struct pvs_ps_settings *s)
{
    pvs_text_puts(t, "Add-VMGpuPartitionAdapter -VM $vm -InstancePath $InstancePath\n");
    pvs_text_puts(t, "Set-VMGpuPartitionAdapter -VM $vm");
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++) {
        const struct pvs_plan_amount *a = &v->res[r];
        pvs_text_printf(t, " `\n    -MinPartition%s ", ps_resource[r]);
        put_u64(t, a->min);
        pvs_text_printf(t, " -MaxPartition%s ", ps_resource[r]);
        put_u64(t, a->max);
        pvs_text_printf(t, " -OptimalPartition%s ", ps_resource[r]);
        put_u64(t, a->optimal);
    }
    pvs_text_puts(t, "\nSet-VM -VM $vm -GuestControlledCacheTypes $true -LowMemoryMappedIoSpace ");
    put_mib(t, s->low_mmio_mib);
    pvs_text_puts(t, " -HighMemoryMappedIoSpace ");
    put_mib(t, s->high_mmio_mib);
    /* A VM with a GPU partition cannot be saved: the default stop
     * action (Save) would fail when the host shuts down. */
    pvs_text_puts(t, " -AutomaticStopAction ShutDown\n");
}

static const char script_checks[] =
    "# The GPU, by its exact instance path (never a device-ID match, which\n"
    "# cannot tell two identical GPUs apart).\n"
    "$gpuList = if (Get-Command Get-VMHostPartitionableGpu -ErrorAction SilentlyContinue) {\n"
    "    @(Get-VMHostPartitionableGpu)\n"
    "} else {\n"
    "    @(Get-VMPartitionableGpu)\n"
    "}\n"
    "if (@($gpuList | Where-Object { $_.Name -eq $InstancePath }).Count -ne 1) {\n"
    "    throw ('pvstream-host: no partitionable GPU has the instance path {0}: pvstream-host list shows the paths of this host''s GPUs' -f $InstancePath)\n"
    "}\n"
    "\n"
    "# A VM by its exact name (no wildcards), found once, generation 2, off,\n"
    "# and without a GPU partition yet.\n"
    "function Get-PvsVM([string]$Name) {\n"
    "    $found = @(Get-VM | Where-Object { $_.Name -eq $Name })\n"
    "    if ($found.Count -eq 0) {\n"
    "        throw ('pvstream-host: no VM is named {0}: Get-VM lists them' -f $Name)\n"
    "    }\n"
    "    if ($found.Count -gt 1) {\n"
    "        throw ('pvstream-host: {0} VMs are named {1}: rename all but one' -f $found.Count, $Name)\n"
    "    }\n"
    "    $vm = $found[0]\n"
    "    if ($vm.Generation -ne 2) {\n"
    "        throw ('pvstream-host: VM {0} is generation {1}: GPU partitioning needs a generation 2 VM' -f $Name, $vm.Generation)\n"
    "    }\n"
    "    if ($vm.State -ne 'Off') {\n"
    "        throw ('pvstream-host: VM {0} is {1}, not off: shut it down (Stop-VM) and run this again' -f $Name, $vm.State)\n"
    "    }\n"
    "    if (@(Get-VMGpuPartitionAdapter -VM $vm).Count -ne 0) {\n"
    "        throw ('pvstream-host: VM {0} already has a GPU partition: remove it with Remove-VMGpuPartitionAdapter first' -f $Name)\n"
    "    }\n"
    "    return $vm\n"
    "}\n"
    "\n";

int pvs_ps_apply_script(const struct pvs_plan *plan, const char *const *names,
                        const struct pvs_ps_settings *s, char **script,
                        char *err, size_t err_len)
{
    *script = NULL;
    pvs_text_error(err, err_len, "no error");
    if (!plan || plan->vms < 1 || plan->vms > PVS_PLAN_MAX_VMS) {
        pvs_text_error(err, err_len, "the plan has no VMs");
        return PVS_EINVAL;
    }
    if (!s || !s->instance_path || !*s->instance_path) {
        pvs_text_error(err, err_len, "no GPU instance path: give the one pvstream-host list shows");
        return PVS_EINVAL;
    }
    if (s->low_mmio_mib < 1 || s->low_mmio_mib > LOW_MMIO_MAX_MIB) {
        pvs_text_error(err, err_len, "low MMIO %" PRIu64 " MiB: must be 1..%u MiB", s->low_mmio_mib,
            LOW_MMIO_MAX_MIB);
        return PVS_EINVAL;
    }
    if (s->high_mmio_mib < 1 || s->high_mmio_mib > HIGH_MMIO_MAX_MIB) {
        pvs_text_error(err, err_len, "high MMIO %" PRIu64 " MiB: must be 1..%u MiB", s->high_mmio_mib,
            HIGH_MMIO_MAX_MIB);
        return PVS_EINVAL;
    }
    if (!names) {
        pvs_text_error(err, err_len, "no VM names");
        return PVS_EINVAL;
    }
    for (int i = 0; i < plan->vms; i++) {
        if (!names[i] || !*names[i]) {
            pvs_text_error(err, err_len, "VM %d has no name", i + 1);
            return PVS_EINVAL;
        }
    }

    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "\xef\xbb\xbf");
    pvs_text_printf(&t,
        "# Generated by %s: a partition of one GPU for each of %d VM%s.\n"
        "# Run it in an elevated PowerShell on the Hyper-V host. It checks the GPU\n"
        "# and every VM first and changes nothing unless all checks pass.\n"
        "#Requires -RunAsAdministrator\n"
        "#Requires -Modules Hyper-V\n"
        "Set-StrictMode -Version 3.0\n"
        "$ErrorActionPreference = 'Stop'\n\n",
        s->generator ? s->generator : "pvstream-host", plan->vms, plan->vms == 1 ? "" : "s");
    pvs_text_puts(&t, "$InstancePath = ");
    if (pvs_ps_quote(&t, s->instance_path) < 0) {
        pvs_text_error(err, err_len, "the instance path holds a control character");
        pvs_text_free(&t);
        return PVS_EINVAL;
    }
    pvs_text_puts(&t, "\n\n");
    pvs_text_puts(&t, script_checks);

    pvs_text_puts(&t, "# Every VM is checked before any is changed.\n$vms = @(\n");
    for (int i = 0; i < plan->vms; i++) {
        pvs_text_puts(&t, "    (Get-PvsVM -Name ");
        if (pvs_ps_quote(&t, names[i]) < 0) {
            pvs_text_error(err, err_len, "VM %d: the name holds a control character (a newline, a tab...); "
                "rename the VM", i + 1);
            pvs_text_free(&t);
            return PVS_EINVAL;
        }
        pvs_text_puts(&t, ")\n");
    }
    pvs_text_puts(&t, ")\n\n");

    pvs_text_puts(&t,
        "# MMIO space for the GPU's BARs: low (below 4 GiB) for 32-bit BARs,\n"
        "# high at least the GPU's VRAM plus room for its other BARs. Too little\n"
        "# and the guest driver does not start (Code 43 or 12).\n");
    for (int i = 0; i < plan->vms; i++) {
        const struct pvs_plan_vm *v = &plan->vm[i];
        pvs_text_printf(&t, "\n# VM %d of %d, weight %u\n", i + 1, plan->vms, (unsigned)v->weight);
        pvs_text_printf(&t, "$vm = $vms[%d]\n", i);
        pvs_ps_append_partition(&t, v, s);
    }
    pvs_text_printf(&t,
        "\nWrite-Host 'pvstream-host: %d VM%s now have a GPU partition. Copy the host''s GPU '\n"
        "Write-Host 'driver into each guest before starting it: pvstream-host drivers sync --vm NAME '\n"
        "Write-Host '(a guest whose driver does not match the host''s shows Code 43).'\n",
        plan->vms, plan->vms == 1 ? "" : "s");

    int rc = pvs_text_take(&t, script);
    if (rc < 0)
        pvs_text_error(err, err_len, "out of memory");
    return rc;
}
