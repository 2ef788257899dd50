/* The Windows side of `pvstream-host drivers sync` (see drivers.h): the
 * PowerShell that finds the VM's GPU driver and mounts its disks, the
 * parser of what it prints, the decision taken from it, and the script
 * that dismounts. Pure text in and out, so it is tested on any system. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/drivers.h"
#include "host/ps.h"
#include "host/text.h"

/* Values too long for their field are dropped, never cut. */
static void set(char *dst, size_t len, const char *v)
{
    size_t n = strlen(v);
    if (n < len)
        memcpy(dst, v, n + 1);
    else
        PVS_LOG_W("drivers: PowerShell printed a value too long to use: '%.40s...'", v);
}

void pvs_drivers_probe_parse(const char *text, size_t len, struct pvs_drivers_probe *p)
{
    memset(p, 0, sizeof(*p));
    p->vm_count = -1;
    char line[PVS_DRIVERS_VALUE_MAX + 64];
    size_t pos = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        const char *raw = text + pos;
        pos = end + 1;
        while (n > 0 && (raw[n - 1] == '\r' || raw[n - 1] == ' '))
            n--;
        if (n == 0)
            continue;
        if (n >= sizeof(line)) {
            PVS_LOG_W("drivers: PowerShell printed a line too long to use: skipped");
            continue;
        }
        memcpy(line, raw, n);
        line[n] = '\0';
        bool bad = false;
        for (size_t i = 0; i < n; i++)
            bad |= (unsigned char)line[i] < 0x20 && line[i] != '\t';
        char *eq = strchr(line, '=');
        if (bad || !eq)
            continue; /* not ours: PowerShell's own messages */
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        if (strlen(v) >= PVS_DRIVERS_VALUE_MAX)
            continue;
        if (!strcmp(k, "vm_count")) {
            char *e;
            long c = strtol(v, &e, 10);
            p->vm_count = *v && !*e && c >= 0 && c < 1000000 ? (int)c : -1;
        } else if (!strcmp(k, "vm_state")) {
            set(p->vm_state, sizeof(p->vm_state), v);
        } else if (!strcmp(k, "gpu")) {
            set(p->gpu, sizeof(p->gpu), v);
        } else if (!strcmp(k, "gpu_name")) {
            set(p->gpu_name, sizeof(p->gpu_name), v);
        } else if (!strcmp(k, "driver_version")) {
            set(p->driver_version, sizeof(p->driver_version), v);
        } else if (!strcmp(k, "inf_path")) {
            set(p->inf_path, sizeof(p->inf_path), v);
        } else if (!strcmp(k, "package_inf")) {
            set(p->package_inf, sizeof(p->package_inf), v);
        } else if (!strcmp(k, "host_windows")) {
            set(p->host_windows, sizeof(p->host_windows), v);
        } else if (!strcmp(k, "error")) {
            set(p->error, sizeof(p->error), v);
        } else if (!strcmp(k, "disk") || !strcmp(k, "mounted")) {
            bool disk = k[0] == 'd';
            int *count = disk ? &p->disk_count : &p->mounted_count;
            if (*count >= PVS_DRIVERS_MAX_DISKS) {
                p->too_many = true;
                PVS_LOG_W("drivers: more than %d disks: '%s' is not used%s",
                          PVS_DRIVERS_MAX_DISKS, v, disk ? "" : " (dismount it by hand)");
                continue;
            }
            set(disk ? p->disks[*count] : p->mounted[*count], PVS_DRIVERS_VALUE_MAX, v);
            (*count)++;
        } else if (!strcmp(k, "windows")) {
            const char *bar = strrchr(v, '|');
            if (!bar || bar == v || !bar[1])
                continue;
            if (p->windows_count >= PVS_DRIVERS_MAX_DISKS) {
                p->too_many = true;
                continue;
            }
            struct pvs_drivers_volume *w = &p->windows[p->windows_count++];
            snprintf(w->disk, sizeof(w->disk), "%.*s", (int)(bar - v), v);
            set(w->root, sizeof(w->root), bar + 1);
        }
    }
}

/* "a.vhdx, b.vhdx" for messages. */
static void disk_list(const struct pvs_drivers_probe *p, char *buf, size_t len)
{
    struct pvs_text t = PVS_TEXT_INIT;
    for (int i = 0; i < p->disk_count; i++)
        pvs_text_printf(&t, "%s%s", i ? ", " : "", p->disks[i]);
    snprintf(buf, len, "%s", t.buf && !t.err ? t.buf : "");
    pvs_text_free(&t);
}

int pvs_drivers_probe_pick(const struct pvs_drivers_probe *p, const char *vm,
                           const char **guest_root, char *package_dir, size_t package_len,
                           char *why, size_t why_len)
{
    *guest_root = NULL;
    if (package_len)
        package_dir[0] = '\0';
    if (*p->error) {
        pvs_text_error(why, why_len, "the PowerShell step failed: %s", p->error);
        return PVS_EIO;
    }
    if (p->vm_count < 0) {
        pvs_text_error(why, why_len, "the PowerShell step said nothing about VM '%s': is "
                       "Hyper-V's PowerShell module installed, and this an elevated prompt?",
                       vm);
        return PVS_EIO;
    }
    if (p->vm_count == 0) {
        pvs_text_error(why, why_len, "no VM is named '%s': Get-VM lists them", vm);
        return PVS_EINVAL;
    }
    if (p->vm_count > 1) {
        pvs_text_error(why, why_len, "%d VMs are named '%s': rename all but one", p->vm_count,
                       vm);
        return PVS_EINVAL;
    }
    if (strcmp(p->vm_state, "Off")) {
        pvs_text_error(why, why_len, "VM '%s' is %s, not off: shut it down (Stop-VM) and run "
                       "drivers sync again", vm, *p->vm_state ? p->vm_state : "in an unknown state");
        return PVS_EINVAL;
    }
    if (!*p->gpu) {
        pvs_text_error(why, why_len, "VM '%s' has no GPU partition, and the host has no single "
                       "partitionable GPU to assume: give it one first (pvstream-host apply)",
                       vm);
        return PVS_EINVAL;
    }
    if (!*p->package_inf) {
        pvs_text_error(why, why_len, "the driver package of the GPU %s (%s, INF %s) was not "
                       "found in the driver store: is its driver installed on the host? "
                       "Get-WindowsDriver -Online shows the packages", p->gpu,
                       *p->gpu_name ? p->gpu_name : "no video controller matched",
                       *p->inf_path ? p->inf_path : "unknown");
        return PVS_EINVAL;
    }
    if (!*p->host_windows) {
        pvs_text_error(why, why_len, "the PowerShell step did not say where the host's Windows "
                       "folder is");
        return PVS_EIO;
    }
    char disks[2048];
    disk_list(p, disks, sizeof(disks));
    if (p->disk_count == 0) {
        pvs_text_error(why, why_len, "VM '%s' has no virtual hard disk to copy the driver to "
                       "(pass-through disks cannot be mounted here)", vm);
        return PVS_EINVAL;
    }
    if (p->windows_count == 0) {
        pvs_text_error(why, why_len, "none of VM '%s''s disks (%s) holds \\Windows\\System32: "
                       "install Windows in the VM first", vm, disks);
        return PVS_EINVAL;
    }
    if (p->windows_count > 1 || p->too_many) {
        struct pvs_text t = PVS_TEXT_INIT;
        for (int i = 0; i < p->windows_count; i++)
            pvs_text_printf(&t, "%s%s on %s", i ? ", " : "", p->windows[i].root,
                            p->windows[i].disk);
        pvs_text_error(why, why_len, "%d of VM '%s''s volumes hold \\Windows\\System32 (%s): "
                       "cannot tell which one the VM boots. Mount the system disk yourself "
                       "and run drivers sync --package ... --host-windows ... --guest-root "
                       "with its volume", p->windows_count, vm,
                       t.buf && !t.err ? t.buf : disks);
        pvs_text_free(&t);
        return PVS_EINVAL;
    }
    *guest_root = p->windows[0].root;
    /* The package folder: package_inf without its file name. */
    size_t n = strlen(p->package_inf);
    while (n > 0 && p->package_inf[n - 1] != '\\' && p->package_inf[n - 1] != '/')
        n--;
    if (n <= 1 || n > package_len) {
        pvs_text_error(why, why_len, "the driver package INF '%s' is not a full path",
                       p->package_inf);
        return PVS_EIO;
    }
    snprintf(package_dir, package_len, "%.*s", (int)(n - 1), p->package_inf);
    return 0;
}

/* The PowerShell: facts as key=value lines; C decides (pvs_drivers_probe_pick). */
static const char mount_body[] =
    "$mounted = @()\n"
    "try {\n"
    "    $found = @(Get-VM | Where-Object { $_.Name -eq $VMName })\n"
    "    'vm_count=' + $found.Count\n"
    "    if ($found.Count -ne 1) { exit 0 }\n"
    "    $vm = $found[0]\n"
    "    'vm_state=' + $vm.State\n"
    "    'host_windows=' + $env:SystemRoot\n"
    "    # The GPU: the VM's partition adapter's instance path, else the host's\n"
    "    # only partitionable GPU.\n"
    "    $path = ''\n"
    "    $adapters = @(Get-VMGpuPartitionAdapter -VM $vm)\n"
    "    if ($adapters.Count -gt 0) { $path = [string]$adapters[0].InstancePath }\n"
    "    if (-not $path) {\n"
    "        $gpus = if (Get-Command Get-VMHostPartitionableGpu -ErrorAction SilentlyContinue) {\n"
    "            @(Get-VMHostPartitionableGpu) } else { @(Get-VMPartitionableGpu) }\n"
    "        if ($gpus.Count -eq 1) { $path = [string]$gpus[0].Name }\n"
    "    }\n"
    "    'gpu=' + $path\n"
    "    if ($path) {\n"
    "        # \\\\?\\PCI#VEN_...#...#{class} names the device PCI\\VEN_...\\...\n"
    "        $pnp = ($path -replace '^\\\\\\\\\\?\\\\', '' -replace '#\\{[^}]*\\}$', '') -replace '#', '\\'\n"
    "        $vc = @(Get-CimInstance Win32_VideoController | Where-Object { $_.PNPDeviceID -eq $pnp })\n"
    "        if ($vc.Count -eq 1) {\n"
    "            'gpu_name=' + $vc[0].Name\n"
    "            'driver_version=' + $vc[0].DriverVersion\n"
    "            'inf_path=' + $vc[0].InfPath\n"
    "            # oemN.inf is a copy; the package is the driver store folder\n"
    "            # of its original INF.\n"
    "            $drv = @(Get-WindowsDriver -Online -Driver $vc[0].InfPath)\n"
    "            if ($drv.Count -gt 0 -and (Test-Path -LiteralPath $drv[0].OriginalFileName)) {\n"
    "                'package_inf=' + $drv[0].OriginalFileName\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "    if ($vm.State -ne 'Off') { exit 0 }\n"
    "    foreach ($d in @(Get-VMHardDiskDrive -VM $vm)) {\n"
    "        if (-not $d.Path) { continue }  # a pass-through disk\n"
    "        'disk=' + $d.Path\n"
    "        $vhd = Mount-VHD -Path $d.Path -Passthru @MountArgs\n"
    "        $mounted += $d.Path\n"
    "        'mounted=' + $d.Path\n"
    "        foreach ($p in @($vhd | Get-Disk | Get-Partition)) {\n"
    "            $root = $null\n"
    "            if ([string]$p.DriveLetter -match '^[A-Za-z]$') { $root = [string]$p.DriveLetter + ':\\' }\n"
    "            elseif ($p.AccessPaths) { $root = @($p.AccessPaths | Where-Object { $_ -like '\\\\?\\Volume*' })[0] }\n"
    "            if ($root -and (Test-Path -LiteralPath (Join-Path $root 'Windows\\System32') -PathType Container)) {\n"
    "                'windows=' + $d.Path + '|' + $root\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "} catch {\n"
    "    'error=' + ($_.Exception.Message -replace '[\\r\\n]+', ' ')\n"
    "    exit 1\n"
    "}\n";

/* `step` names the script on a line of its own ("# pvstream-step NAME"), as
 * vm.h's scripts do, so a log of scripts reads plainly. */
static void script_head(struct pvs_text *t, const char *what, const char *step)
{
    pvs_text_puts(t, "\xef\xbb\xbf");
    pvs_text_printf(t,
        "# Generated by pvstream-host drivers sync: %s.\n"
        "# pvstream-step %s\n"
        "#Requires -RunAsAdministrator\n"
        "#Requires -Modules Hyper-V\n"
        "Set-StrictMode -Version 3.0\n"
        "$ErrorActionPreference = 'Stop'\n"
        "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false\n", what, step);
}

int pvs_drivers_mount_script(const char *vm, bool read_only, char **script)
{
    *script = NULL;
    struct pvs_text t = PVS_TEXT_INIT;
    script_head(&t, "find the VM's GPU driver and mount its disks", "drivers-mount");
    pvs_text_puts(&t, "$VMName = ");
    if (pvs_ps_quote(&t, vm) < 0) {
        pvs_text_free(&t);
        return PVS_EINVAL;
    }
    pvs_text_printf(&t, "\n$MountArgs = @{%s}\n", read_only ? " ReadOnly = $true " : "");
    pvs_text_puts(&t, mount_body);
    return pvs_text_take(&t, script);
}

int pvs_drivers_dismount_script(const struct pvs_drivers_probe *p, char **script)
{
    *script = NULL;
    struct pvs_text t = PVS_TEXT_INIT;
    script_head(&t, "dismount the disks it mounted", "drivers-dismount");
    pvs_text_puts(&t, "$failed = 0\nforeach ($path in @(");
    for (int i = 0; i < p->mounted_count; i++) {
        if (i)
            pvs_text_puts(&t, ", ");
        if (pvs_ps_quote(&t, p->mounted[i]) < 0) {
            pvs_text_free(&t);
            return PVS_EINVAL;
        }
    }
    pvs_text_puts(&t,
        ")) {\n"
        "    try { Dismount-VHD -Path $path }\n"
        "    catch {\n"
        "        [Console]::Error.WriteLine(('pvstream-host: could not dismount {0}: {1}; '\n"
        "            + 'dismount it (Dismount-VHD) before starting the VM') -f $path, $_.Exception.Message)\n"
        "        $failed++\n"
        "    }\n"
        "}\n"
        "if ($failed) { exit 1 }\n");
    return pvs_text_take(&t, script);
}
