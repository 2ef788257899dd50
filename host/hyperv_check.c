/* `pvstream-host check` on Windows: one PowerShell probe (hyperv_probe.h)
 * reports the edition, the build, Hyper-V's state, the partitionable GPUs
 * and, with --vm, that VM; a pure parser turns what it printed into check
 * results, each failure with its fix (check.h, hyperv.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/check.h"
#include "host/hyperv.h"
#include "host/hyperv_probe.h"
#include "host/ps.h"
#include "host/text.h"

#define GIB (1024ull * 1024 * 1024)

/* The host part of the check probe. Feature state: Get-WindowsFeature on
 * Server (Hyper-V's InstallState), Get-WindowsOptionalFeature on client
 * Windows (Microsoft-Hyper-V-All's State); both need an elevated prompt. */
static const char check_host_probe[] =
    "    $os = Get-CimInstance -ClassName 'Win32_OperatingSystem'\n"
    "    Put ('os_caption=' + [string]$os.Caption)\n"
    "    Put ('os_build=' + [string]$os.BuildNumber)\n"
    "    Put ('os_sku=' + [string]$os.OperatingSystemSKU)\n"
    "    Put ('os_product_type=' + [string]$os.ProductType)\n"
    "    try {\n"
    "        if ($os.ProductType -ne 1 -and (Get-Command Get-WindowsFeature -ErrorAction SilentlyContinue)) {\n"
    "            Put ('hyperv_feature=server:' + [string](Get-WindowsFeature -Name 'Hyper-V').InstallState)\n"
    "        } else {\n"
    "            $f = Get-WindowsOptionalFeature -Online -FeatureName 'Microsoft-Hyper-V-All'\n"
    "            Put ('hyperv_feature=client:' + $(if ($f) { [string]$f.State } else { 'Absent' }))\n"
    "        }\n"
    "    } catch {\n"
    "        Put ('hyperv_feature_error=' + $_.Exception.Message)\n"
    "    }\n"
    "    Put ('hypervisor_present=' + [string](Get-CimInstance -ClassName 'Win32_ComputerSystem').HypervisorPresent)\n"
    "    $svc = Get-Service -Name 'vmms' -ErrorAction SilentlyContinue\n"
    "    Put ('vmms=' + $(if ($svc) { [string]$svc.Status } else { 'absent' }))\n"
    "    $gpuPaths = @()\n"
    "    try {\n"
    "        $gpuPaths = @(Get-CimInstance -Namespace 'root\\virtualization\\v2' -ClassName 'Msvm_PartitionableGpu' |\n"
    "            ForEach-Object { [string]$_.Name })\n"
    "        Put ('gpus=' + $gpuPaths.Count)\n"
    "        foreach ($p in $gpuPaths) { Put ('gpu=' + $p) }\n"
    "    } catch {\n"
    "        Put ('gpus_error=' + $_.Exception.Message)\n"
    "    }\n"
    "    $gpuPath = if ($gpuPaths.Count -gt 0) { $gpuPaths[0] } else { '' }\n";

/* The VM part: found by exact name; its disks are read (read-only) for the
 * driver manifest `drivers sync` writes, only while it is off. */
static const char check_vm_probe[] =
    "    try {\n"
    "        $found = @(Get-VM | Where-Object { $_.Name -eq $VMName })\n"
    "        Put ('vm_count=' + $found.Count)\n"
    "        if ($found.Count -eq 1) {\n"
    "            $vm = $found[0]\n"
    "            Put ('vm_generation=' + [string]$vm.Generation)\n"
    "            Put ('vm_state=' + [string]$vm.State)\n"
    "            Put ('vm_guest_cache=' + [string]$vm.GuestControlledCacheTypes)\n"
    "            Put ('vm_low_mmio=' + [string]$vm.LowMemoryMappedIoSpace)\n"
    "            Put ('vm_high_mmio=' + [string]$vm.HighMemoryMappedIoSpace)\n"
    "            $adapters = @(Get-VMGpuPartitionAdapter -VM $vm)\n"
    "            Put ('vm_adapters=' + $adapters.Count)\n"
    "            if ($adapters.Count -gt 0) {\n"
    "                $gpuPath = [string]$adapters[0].InstancePath\n"
    "                Put ('vm_adapter_path=' + $gpuPath)\n"
    "            }\n"
    "            if ([string]$vm.State -ne 'Off') {\n"
    "                Put ('guest_driver_skip=the VM is ' + [string]$vm.State + ': its disks are read only while it is off')\n"
    "            } else {\n"
    "                $ver = $null\n"
    "                $why = 'no disk of the VM holds Windows\\System32\\HostDriverStore\\pvstream-drivers.manifest'\n"
    "                foreach ($d in @(Get-VMHardDiskDrive -VM $vm)) {\n"
    "                    if ($ver -ne $null -or -not $d.Path) { continue }\n"
    "                    $mounted = $false\n"
    "                    try {\n"
    "                        $img = Mount-VHD -Path $d.Path -ReadOnly -NoDriveLetter -Passthru\n"
    "                        $mounted = $true\n"
    "                        foreach ($part in @(Get-Partition -DiskNumber $img.DiskNumber -ErrorAction SilentlyContinue)) {\n"
    "                            foreach ($ap in @($part.AccessPaths)) {\n"
    "                                if (-not $ap -or -not $ap.StartsWith('\\\\?\\Volume')) { continue }\n"
    "                                $m = $ap.TrimEnd('\\') + '\\Windows\\System32\\HostDriverStore\\pvstream-drivers.manifest'\n"
    "                                if (-not [System.IO.File]::Exists($m)) { continue }\n"
    "                                $ver = ''\n"
    "                                foreach ($l in [System.IO.File]::ReadAllLines($m)) {\n"
    "                                    if ($l -match '^\\s*driver_version\\s*=\\s*(.*?)\\s*$') { $ver = $Matches[1] }\n"
    "                                }\n"
    "                            }\n"
    "                        }\n"
    "                    } catch {\n"
    "                        $why = 'cannot read the disk ' + $d.Path + ': ' + $_.Exception.Message\n"
    "                    } finally {\n"
    "                        if ($mounted) { Dismount-VHD -Path $d.Path -ErrorAction SilentlyContinue }\n"
    "                    }\n"
    "                }\n"
    "                if ($ver) { Put ('guest_driver_version=' + $ver) }\n"
    "                elseif ($ver -ne $null) { Put 'guest_driver_missing=the manifest has no driver_version line' }\n"
    "                else { Put ('guest_driver_missing=' + $why) }\n"
    "            }\n"
    "        }\n"
    "    } catch {\n"
    "        Put ('vm_error=' + $_.Exception.Message)\n"
    "    }\n";

/* The host's driver version and VRAM size for the GPU the VM uses (or the
 * first one): DriverVersion from Win32_VideoController, and the driver's
 * HardwareInformation.qwMemorySize (bytes) from its class key. */
static const char check_gpu_probe[] =
    "    if ($gpuPath) {\n"
    "        $pnp = Get-PvsPnpId $gpuPath\n"
    "        try {\n"
    "            $vc = @(Get-CimInstance -ClassName 'Win32_VideoController' | Where-Object { $_.PNPDeviceID -eq $pnp })\n"
    "            if ($vc.Count -gt 0) { Put ('host_driver_version=' + [string]$vc[0].DriverVersion) }\n"
    "        } catch { }\n"
    "        try {\n"
    "            $key = [string](Get-PnpDeviceProperty -InstanceId $pnp -KeyName 'DEVPKEY_Device_Driver').Data\n"
    "            $p = Get-ItemProperty -LiteralPath ('HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Class\\' + $key) -Name 'HardwareInformation.qwMemorySize'\n"
    "            Put ('host_vram_bytes=' + [string]$p.'HardwareInformation.qwMemorySize')\n"
    "        } catch { }\n"
    "    }\n";

int pvs_hyperv_check_script(const char *vm, char **script, char *err, size_t err_len)
{
    return pvs_hyperv_check_script_ex(vm, NULL, script, err, err_len);
}

int pvs_hyperv_check_script_ex(const char *vm, const char *extra, char **script, char *err,
                               size_t err_len)
{
    *script = NULL;
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "# Generated by pvstream-host: what `pvstream-host check` needs to know.\n"
                      "# Reads only (a VM's disks are attached read-only).\n"
                      "# pvstream-probe check\n");
    pvs_text_puts(&t, pvs_probe_prelude);
    if (vm) {
        pvs_text_puts(&t, "$VMName = ");
        if (!*vm || pvs_ps_quote(&t, vm) < 0) {
            pvs_text_free(&t);
            pvs_text_error(err, err_len, "--vm: an empty name, or one with a control character");
            return PVS_EINVAL;
        }
        pvs_text_puts(&t, "\n");
    }
    pvs_text_puts(&t, "Put 'pvstream-probe check 1'\ntry {\n");
    pvs_text_puts(&t, check_host_probe);
    if (vm)
        pvs_text_puts(&t, check_vm_probe);
    if (extra)
        pvs_text_puts(&t, extra);
    pvs_text_puts(&t, check_gpu_probe);
    pvs_text_puts(&t, "    Put 'end'\n"
                      "} catch {\n"
                      "    Put ('error=' + $_.Exception.Message)\n"
                      "}\n"
                      "Send\n");
    int rc = pvs_text_take(&t, script);
    if (rc < 0)
        pvs_text_error(err, err_len, "out of memory");
    return rc;
}

enum probe_key {
    P_OS_CAPTION, P_OS_BUILD, P_OS_SKU, P_OS_PRODUCT_TYPE, P_FEATURE, P_FEATURE_ERROR,
    P_HYPERVISOR, P_VMMS, P_GPUS, P_GPUS_ERROR, P_VM_ERROR, P_VM_COUNT, P_VM_GENERATION,
    P_VM_STATE, P_VM_CACHE, P_VM_LOW_MMIO, P_VM_HIGH_MMIO, P_VM_ADAPTERS, P_VM_ADAPTER_PATH,
    P_GUEST_VERSION, P_GUEST_MISSING, P_GUEST_SKIP, P_HOST_VERSION, P_HOST_VRAM,
    P_COUNT,
};

static const char *const probe_keys[P_COUNT] = {
    "os_caption", "os_build", "os_sku", "os_product_type", "hyperv_feature",
    "hyperv_feature_error", "hypervisor_present", "vmms", "gpus", "gpus_error", "vm_error",
    "vm_count", "vm_generation", "vm_state", "vm_guest_cache", "vm_low_mmio", "vm_high_mmio",
    "vm_adapters", "vm_adapter_path", "guest_driver_version", "guest_driver_missing",
    "guest_driver_skip", "host_driver_version", "host_vram_bytes",
};

#define PROBE_GPUS_MAX 16

struct probe {
    char v[P_COUNT][PVS_PROBE_VALUE_MAX / 2];
    bool has[P_COUNT];
    char gpu[PROBE_GPUS_MAX][PVS_HOST_ID_MAX];  /* the gpu= lines */
    int gpu_n;
};

static const char *pv(const struct probe *p, enum probe_key k)
{
    return p->has[k] ? p->v[k] : NULL;
}

/* A decimal value of the probe, or false. */
static bool pnum(const struct probe *p, enum probe_key k, uint64_t *out)
{
    return p->has[k] && pvs_probe_parse_dec(p->v[k], strlen(p->v[k]), UINT64_MAX, out);
}

/* The checks append through check.h's builder. */
#define add pvs_checks_addf

/* Windows' product types (OperatingSystemSKU) that are Home editions:
 * PRODUCT_CORE and its N, country-specific, single-language and ARM
 * variants, and the older Home Basic/Premium. */
static bool is_home_sku(uint64_t sku)
{
    static const unsigned home[] = { 2, 3, 5, 26, 97, 98, 99, 100, 101 };
    for (size_t i = 0; i < sizeof(home) / sizeof(home[0]); i++)
        if (sku == home[i])
            return true;
    return false;
}

static void check_windows(const struct probe *p, struct pvs_checks_builder *r)
{
    const char *caption = pv(p, P_OS_CAPTION);
    uint64_t sku = 0, build = 0, type = 0;
    bool has_sku = pnum(p, P_OS_SKU, &sku);
    if (!caption && !has_sku) {
        add(r, "windows-edition", PVS_CHECK_SKIP,
            "check that WMI answers: Get-CimInstance Win32_OperatingSystem",
            "the edition could not be read");
    } else if ((has_sku && is_home_sku(sku)) || (caption && strstr(caption, " Home"))) {
        add(r, "windows-edition", PVS_CHECK_FAIL,
            "Home editions have no Hyper-V: upgrade to Pro, Enterprise or Education "
            "(Settings > System > Activation), or use Windows Server",
            "%s (SKU %" PRIu64 "): no Hyper-V", caption ? caption : "Windows", sku);
    } else {
        add(r, "windows-edition", PVS_CHECK_OK, "", "%s", caption ? caption : "not a Home edition");
    }
    bool server = (pnum(p, P_OS_PRODUCT_TYPE, &type) && (type == 2 || type == 3)) ||
                  (caption && strstr(caption, "Server"));
    if (!pnum(p, P_OS_BUILD, &build)) {
        add(r, "windows-build", PVS_CHECK_SKIP, "check that WMI answers: Get-CimInstance "
            "Win32_OperatingSystem", "the build number could not be read");
    } else if (server && build < 20348) {
        add(r, "windows-build", PVS_CHECK_FAIL,
            "GPU partitioning needs Windows Server 2022 (build 20348) or later: upgrade",
            "Windows Server build %" PRIu64, build);
    } else if (!server && build < 19041) {
        add(r, "windows-build", PVS_CHECK_FAIL,
            "GPU partitioning needs Windows 10 version 2004 (build 19041) or later, or "
            "Windows 11: install the feature update (Windows Update)",
            "Windows build %" PRIu64, build);
    } else {
        add(r, "windows-build", PVS_CHECK_OK, "", "build %" PRIu64 "%s", build,
            server ? " (Server)" : build >= 22000 ? " (Windows 11)" : " (Windows 10)");
    }
}

static void check_hyperv(const struct probe *p, struct pvs_checks_builder *r)
{
    const char *f = pv(p, P_FEATURE);
    static const char enable_client[] =
        "enable it from an elevated PowerShell: Enable-WindowsOptionalFeature -Online "
        "-FeatureName Microsoft-Hyper-V-All, then restart";
    static const char enable_server[] =
        "enable it from an elevated PowerShell: Install-WindowsFeature -Name Hyper-V "
        "-IncludeManagementTools -Restart";
    if (!f) {
        add(r, "hyperv-enabled", PVS_CHECK_SKIP,
            "run pvstream-host check from an elevated prompt (the feature query needs "
            "administrator rights)", "could not be determined: %s",
            pv(p, P_FEATURE_ERROR) ? pv(p, P_FEATURE_ERROR) : "the probe said nothing");
    } else if (!strcmp(f, "client:Enabled") || !strcmp(f, "server:Installed")) {
        add(r, "hyperv-enabled", PVS_CHECK_OK, "", "Hyper-V is enabled");
    } else if (!strcmp(f, "client:EnablePending") || !strcmp(f, "server:InstallPending")) {
        add(r, "hyperv-enabled", PVS_CHECK_FAIL, "restart Windows to finish enabling Hyper-V",
            "Hyper-V is enabled but waits for a restart");
    } else if (!strncmp(f, "client:Disabled", 15) || !strcmp(f, "client:DisablePending")) {
        add(r, "hyperv-enabled", PVS_CHECK_FAIL, enable_client,
            "Hyper-V is present but not enabled (%s)", f + 7);
    } else if (!strcmp(f, "server:Available")) {
        add(r, "hyperv-enabled", PVS_CHECK_FAIL, enable_server,
            "the Hyper-V role is available but not installed");
    } else {
        add(r, "hyperv-enabled", PVS_CHECK_FAIL,
            "Hyper-V needs Windows Pro, Enterprise, Education or Server with the feature's "
            "files present; on Server, Install-WindowsFeature -Name Hyper-V -Source <media>",
            "Hyper-V is not available (%s)", f);
    }
    const char *hv = pv(p, P_HYPERVISOR);
    if (!hv)
        add(r, "hypervisor", PVS_CHECK_SKIP, "check that WMI answers: Get-CimInstance "
            "Win32_ComputerSystem", "could not be determined");
    else if (!strcmp(hv, "True"))
        add(r, "hypervisor", PVS_CHECK_OK, "", "the hypervisor is running");
    else
        add(r, "hypervisor", PVS_CHECK_FAIL,
            "turn on virtualization (Intel VT-x or AMD-V) in the firmware setup, run "
            "`bcdedit /set hypervisorlaunchtype auto` in an elevated prompt, and restart",
            "the hypervisor is not running");
    const char *svc = pv(p, P_VMMS);
    if (!svc)
        add(r, "vmms", PVS_CHECK_SKIP, "Get-Service vmms shows it", "could not be determined");
    else if (!strcmp(svc, "Running"))
        add(r, "vmms", PVS_CHECK_OK, "", "Hyper-V Virtual Machine Management is running");
    else if (!strcmp(svc, "absent"))
        add(r, "vmms", PVS_CHECK_FAIL, "enable Hyper-V (see hyperv-enabled)",
            "the Hyper-V Virtual Machine Management service (vmms) is not installed");
    else
        add(r, "vmms", PVS_CHECK_FAIL,
            "Start-Service vmms; Set-Service vmms -StartupType Automatic",
            "the vmms service is %s", svc);
    uint64_t n = 0;
    if (pnum(p, P_GPUS, &n) && n > 0)
        add(r, "partitionable-gpu", PVS_CHECK_OK, "", "%" PRIu64 " partitionable GPU%s: %s", n,
            n == 1 ? "" : "s", p->gpu_n ? p->gpu[0] : "?");
    else if (pnum(p, P_GPUS, &n))
        add(r, "partitionable-gpu", PVS_CHECK_FAIL,
            "install the GPU vendor's current driver (GPU partitioning needs a WDDM 2.5 or "
            "later driver that offers it); a GPU assigned to a VM whole (DDA) cannot be "
            "partitioned", "no GPU offers partitioning");
    else
        add(r, "partitionable-gpu", PVS_CHECK_SKIP,
            "enable Hyper-V first, and run as administrator (or a member of Hyper-V "
            "Administrators)", "Msvm_PartitionableGpu could not be read: %s",
            pv(p, P_GPUS_ERROR) ? pv(p, P_GPUS_ERROR) : "the probe said nothing");
}

uint64_t pvs_hyperv_high_mmio_gib(uint64_t bytes)
{
    uint64_t gib = 32;
    while (gib < 1048576 && gib * GIB < bytes + GIB)
        gib *= 2;
    return gib;
}

static void check_mmio(const struct probe *p, const char *vm, struct pvs_checks_builder *r)
{
    uint64_t low, high, vram = 0;
    char fix[PVS_CHECK_TEXT_MAX];
    snprintf(fix, sizeof(fix), "with the VM off: Set-VM -Name '%s' -LowMemoryMappedIoSpace 1GB "
             "(pvstream-host apply sets it)", vm);
    if (!pnum(p, P_VM_LOW_MMIO, &low))
        add(r, "vm-low-mmio", PVS_CHECK_SKIP, "Get-VM shows LowMemoryMappedIoSpace",
            "could not be read");
    else if (low < GIB)
        add(r, "vm-low-mmio", PVS_CHECK_WARN, fix,
            "low MMIO space is %" PRIu64 " MiB; 1 GiB is the usual size for a GPU partition",
            low >> 20);
    else
        add(r, "vm-low-mmio", PVS_CHECK_OK, "", "low MMIO space %" PRIu64 " MiB", low >> 20);
    bool has_vram = pnum(p, P_HOST_VRAM, &vram) && vram > 0 && vram < (1ull << 50);
    snprintf(fix, sizeof(fix),
             "with the VM off: Set-VM -Name '%s' -HighMemoryMappedIoSpace %" PRIu64 "GB "
             "(or high_mmio_mib in the plan); too little gives Code 43 or 12 in the guest",
             vm, pvs_hyperv_high_mmio_gib(vram));
    if (!pnum(p, P_VM_HIGH_MMIO, &high))
        add(r, "vm-high-mmio", PVS_CHECK_SKIP, "Get-VM shows HighMemoryMappedIoSpace",
            "could not be read");
    else if (has_vram && high < vram + GIB)
        add(r, "vm-high-mmio", PVS_CHECK_WARN, fix,
            "high MMIO space %" PRIu64 " MiB, below the GPU's VRAM (%" PRIu64 " MiB) plus "
            "room for its other BARs", high >> 20, vram >> 20);
    else if (!has_vram && high < 32 * GIB)
        add(r, "vm-high-mmio", PVS_CHECK_WARN, fix,
            "high MMIO space %" PRIu64 " MiB; the GPU's VRAM size could not be read, and "
            "32 GiB covers GPUs up to 24 GiB", high >> 20);
    else
        add(r, "vm-high-mmio", PVS_CHECK_OK, "", "high MMIO space %" PRIu64 " MiB", high >> 20);
}

static void check_driver(const struct probe *p, const char *vm, struct pvs_checks_builder *r)
{
    char fix[PVS_CHECK_TEXT_MAX];
    snprintf(fix, sizeof(fix), "with the VM off: pvstream-host drivers sync --vm '%s'", vm);
    const char *host = pv(p, P_HOST_VERSION), *guest = pv(p, P_GUEST_VERSION);
    if (!host || !*host)
        add(r, "driver-version", PVS_CHECK_SKIP,
            "check the GPU and its driver in Device Manager",
            "the host's GPU driver version could not be read");
    else if (guest)
        add(r, "driver-version", strcmp(host, guest) ? PVS_CHECK_FAIL : PVS_CHECK_OK, fix,
            "host driver %s, guest copy %s", host, guest);
    else if (pv(p, P_GUEST_MISSING))
        add(r, "driver-version", PVS_CHECK_FAIL, fix,
            "host driver %s; the guest has no copy from pvstream-host: %s", host,
            pv(p, P_GUEST_MISSING));
    else
        add(r, "driver-version", PVS_CHECK_SKIP,
            "shut the VM down (Stop-VM) and run pvstream-host check --vm again",
            "host driver %s; the guest's copy was not read: %s", host,
            pv(p, P_GUEST_SKIP) ? pv(p, P_GUEST_SKIP) : "the probe said nothing");
}

static void check_vm(const struct probe *p, const char *vm, struct pvs_checks_builder *r)
{
    uint64_t n = 0, gen = 0;
    if (pv(p, P_VM_ERROR) || !pnum(p, P_VM_COUNT, &n)) {
        add(r, "vm", PVS_CHECK_SKIP, "check that the Hyper-V PowerShell module is installed "
            "and run as administrator", "the VM could not be looked up: %s",
            pv(p, P_VM_ERROR) ? pv(p, P_VM_ERROR) : "the probe said nothing");
        return;
    }
    if (n != 1) {
        char fix[PVS_CHECK_TEXT_MAX];
        snprintf(fix, sizeof(fix), n ? "rename all but one (Rename-VM): every command finds "
                 "a VM by its exact name" : "Get-VM lists the VMs; the name must match whole");
        add(r, "vm", PVS_CHECK_FAIL, fix, "%" PRIu64 " VMs are named '%s'", n, vm);
        return;
    }
    add(r, "vm", PVS_CHECK_OK, "", "VM '%s' found", vm);
    if (pnum(p, P_VM_GENERATION, &gen) && gen == 2)
        add(r, "vm-generation", PVS_CHECK_OK, "", "generation 2");
    else
        add(r, "vm-generation", PVS_CHECK_FAIL,
            "GPU partitioning needs a generation 2 VM, and a VM's generation cannot be "
            "changed: create a new one (New-VM -Generation 2) and install the guest there",
            "generation %s", pv(p, P_VM_GENERATION) ? pv(p, P_VM_GENERATION) : "unknown");
    const char *state = pv(p, P_VM_STATE);
    char fix[PVS_CHECK_TEXT_MAX];
    snprintf(fix, sizeof(fix), "apply, apply --remove and drivers sync need it off: "
             "Stop-VM -Name '%s'", vm);
    add(r, "vm-state", state && !strcmp(state, "Off") ? PVS_CHECK_OK : PVS_CHECK_WARN, fix,
        "%s", state ? state : "unknown");
    const char *cache = pv(p, P_VM_CACHE);
    snprintf(fix, sizeof(fix), "with the VM off: Set-VM -Name '%s' -GuestControlledCacheTypes "
             "$true (pvstream-host apply sets it)", vm);
    add(r, "vm-cache-types", cache && !strcmp(cache, "True") ? PVS_CHECK_OK : PVS_CHECK_FAIL,
        fix, "GuestControlledCacheTypes is %s", cache ? cache : "unknown");
    check_mmio(p, vm, r);
    uint64_t adapters = 0;
    const char *path = pv(p, P_VM_ADAPTER_PATH);
    bool known = false;
    for (int i = 0; path && i < p->gpu_n; i++)
        known = known ||
                (strlen(path) == strlen(p->gpu[i]) && pvs_probe_ieq_prefix(path, p->gpu[i]));
    if (!pnum(p, P_VM_ADAPTERS, &adapters) || adapters == 0)
        add(r, "vm-gpu-adapter", PVS_CHECK_FAIL,
            "pvstream-host apply PLAN gives the VM its GPU partition",
            "the VM has no GPU partition adapter");
    else if (!known)
        add(r, "vm-gpu-adapter", PVS_CHECK_WARN,
            "remove it (pvstream-host apply --remove PLAN) and apply a plan for a GPU "
            "pvstream-host list shows", "the VM's GPU partition is on %s, which is not a "
            "partitionable GPU of this host", path ? path : "an unknown GPU");
    else
        add(r, "vm-gpu-adapter", PVS_CHECK_OK, "", "GPU partition on %s", path);
    check_driver(p, vm, r);
    add(r, "display-capture", PVS_CHECK_SKIP,
        "run pvstream-server doctor in the guest; without a display, install a virtual "
        "display driver there", "checked inside the guest by pvstream-server doctor");
}

int pvs_hyperv_parse_check(const char *text, size_t len, const char *vm, struct pvs_checks *out,
                           char *why, size_t why_len)
{
    struct pvs_probe_lines it = { text, text + len };
    if (!text || !pvs_probe_header(&it, "check")) {
        pvs_text_error(why, why_len, "the output is not the check probe's");
        return PVS_EBADDATA;
    }
    struct probe *p = calloc(1, sizeof(*p));
    if (!p) {
        pvs_text_error(why, why_len, "out of memory");
        return PVS_ENOMEM;
    }
    bool ended = false;
    int rc = 0;
    const char *k, *v;
    size_t kn, vn;
    while (pvs_probe_next_pair(&it, &ended, &k, &kn, &v, &vn)) {
        if (pvs_probe_line_is(k, kn, "error")) {
            char msg[PVS_PROBE_VALUE_MAX];
            pvs_probe_copy_display(msg, sizeof(msg), v, vn);
            pvs_text_error(why, why_len, "the check probe failed: %s", msg);
            rc = PVS_EIO;
            break;
        }
        if (pvs_probe_line_is(k, kn, "gpu")) {
            if (p->gpu_n < PROBE_GPUS_MAX)
                pvs_probe_copy_display(p->gpu[p->gpu_n++], PVS_HOST_ID_MAX, v, vn);
            continue;
        }
        for (int i = 0; i < P_COUNT; i++) {
            if (pvs_probe_line_is(k, kn, probe_keys[i])) {
                pvs_probe_copy_display(p->v[i], sizeof(p->v[i]), v, vn);
                p->has[i] = true;
            }
        }
    }
    if (rc == 0 && !ended) {
        pvs_text_error(why, why_len, "the check probe's output was cut short");
        rc = PVS_EBADDATA;
    }
    if (rc == 0) {
        struct pvs_checks_builder r = { out, 0 };
        check_windows(p, &r);
        check_hyperv(p, &r);
        if (vm)
            check_vm(p, vm, &r);
        rc = r.rc;
        if (rc < 0)
            pvs_text_error(why, why_len, "out of memory");
    }
    free(p);
    return rc;
}

int pvs_host_check_hyperv(const struct pvs_host_ctx *ctx, const char *vm,
                          struct pvs_checks *out, char *why, size_t why_len)
{
    return pvs_host_check_hyperv_ex(ctx, vm, NULL, out, NULL, why, why_len);
}

int pvs_host_check_hyperv_ex(const struct pvs_host_ctx *ctx, const char *vm, const char *extra,
                             struct pvs_checks *out, char **raw, char *why, size_t why_len)
{
    (void)ctx;
    if (raw)
        *raw = NULL;
    if (!pvs_probe_powershell_usable()) {
        pvs_text_error(why, why_len, "hyperv: Windows only");
        return PVS_ENOTSUP;
    }
    char *script = NULL, *text = NULL, err[256];
    int rc = pvs_hyperv_check_script_ex(vm, extra, &script, err, sizeof(err));
    if (rc < 0) {
        pvs_text_error(why, why_len, "hyperv: %s", err);
        return rc;
    }
    rc = pvs_probe_run(script, "the check probe", &text, why, why_len);
    free(script);
    if (rc < 0)
        return rc;
    char msg[PVS_PROBE_VALUE_MAX];
    rc = pvs_hyperv_parse_check(text, strlen(text), vm, out, msg, sizeof(msg));
    if (raw && rc == 0)
        *raw = text;
    else
        free(text);
    if (rc < 0) {
        pvs_text_error(why, why_len, "hyperv: %s", msg);
        return rc == PVS_ENOMEM ? rc : PVS_EIO;
    }
    return 0;
}

