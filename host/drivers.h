/* `pvstream-host drivers sync`: copies the host's GPU driver into a Hyper-V
 * GPU-PV guest, the way the guest expects it:
 *
 * - the driver store package folder (on the host
 *   C:\Windows\System32\DriverStore\FileRepository\<inf>_amd64_<hash>) to
 *   the guest's Windows\System32\HostDriverStore\FileRepository\ under the
 *   same name;
 * - the files the driver's INF installs outside the store (DIRID 11:
 *   System32, 16425: SysWOW64, 10: Windows, and their subdirectories), from
 *   the host's Windows directory to the same place in the guest's. Kernel
 *   drivers (DIRID 12) are left out: a GPU-PV guest runs no kernel-mode
 *   GPU driver of its own;
 * - a manifest (manifest.h), written last, so an unchanged driver is not
 *   copied again and a newer one replaces the older package folder.
 *
 * It works on directories, so it runs on Linux (the tests) as on Windows
 * (against a guest disk mounted on the host). Files are written under a
 * temporary name and renamed, so an interrupted sync never leaves a half
 * file under the real name; the next sync redoes what was left.
 *
 * The Windows side (which GPU driver, which of the VM's disks holds
 * Windows) comes from a PowerShell step whose key=value output
 * pvs_drivers_probe_parse reads; cmd_drivers.c runs it. */
#ifndef PVS_HOST_DRIVERS_H
#define PVS_HOST_DRIVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct pvs_drivers_sync_settings {
    const char *package_dir;   /* host: the driver store folder, <inf>_<arch>_<hash> */
    const char *host_windows;  /* host: the Windows directory (C:\Windows) */
    const char *guest_root;    /* guest: the root of its Windows volume */
    bool dry_run;              /* list what would change; change nothing */
    FILE *out;                 /* the listing and the totals; NULL: none */
};

struct pvs_drivers_stats {
    int copied, skipped;        /* files */
    int removed_files, removed_dirs;
    int missing;                /* INF files the host does not have: not copied */
    uint64_t bytes_copied, bytes_skipped;
};

/* Syncs (see above). Returns 0, or <0 with the reason and the fix in why:
 * PVS_EINVAL: bad input, nothing changed (the package folder or its INF
 * missing or unreadable, a guest root that does not exist or holds no
 * Windows\System32); PVS_EIO: a copy or removal failed, or the guest
 * volume cannot be written (checked before the first change); PVS_ENOMEM. */
int pvs_drivers_sync(const struct pvs_drivers_sync_settings *s, struct pvs_drivers_stats *st,
                     char *why, size_t why_len);

/* ---- the Windows step ------------------------------------------------- */

#define PVS_DRIVERS_MAX_DISKS 16
#define PVS_DRIVERS_VALUE_MAX 1024

struct pvs_drivers_volume {
    char disk[PVS_DRIVERS_VALUE_MAX];   /* the virtual disk file */
    char root[PVS_DRIVERS_VALUE_MAX];   /* "E:\" or "\\?\Volume{...}\" */
};

/* What the mount script printed, one key=value a line:
 *   vm_count=N             VMs with exactly that name
 *   vm_state=Off           Get-VM's State
 *   gpu=PATH               the GPU partition's instance path
 *   gpu_name=NAME, driver_version=V, inf_path=oemN.inf   Win32_VideoController
 *   package_inf=PATH       the INF in the driver store (Get-WindowsDriver)
 *   host_windows=DIR       $env:SystemRoot
 *   disk=PATH              each of the VM's virtual disks
 *   mounted=PATH           each one this step mounted (to dismount after)
 *   windows=DISK|ROOT      each volume holding \Windows\System32
 *   error=TEXT             what failed in the script
 * Later values of a single key replace earlier ones; other lines are
 * ignored. */
struct pvs_drivers_probe {
    int vm_count;                       /* -1 when not said */
    char vm_state[64];
    char gpu[PVS_DRIVERS_VALUE_MAX];
    char gpu_name[PVS_DRIVERS_VALUE_MAX];
    char driver_version[64];
    char inf_path[PVS_DRIVERS_VALUE_MAX];
    char package_inf[PVS_DRIVERS_VALUE_MAX];
    char host_windows[PVS_DRIVERS_VALUE_MAX];
    char error[PVS_DRIVERS_VALUE_MAX];
    char disks[PVS_DRIVERS_MAX_DISKS][PVS_DRIVERS_VALUE_MAX];
    int disk_count;
    char mounted[PVS_DRIVERS_MAX_DISKS][PVS_DRIVERS_VALUE_MAX];
    int mounted_count;
    struct pvs_drivers_volume windows[PVS_DRIVERS_MAX_DISKS];
    int windows_count;
    bool too_many;                      /* more disks or volumes than fit */
};

/* Reads the script's output into *p (which it clears first). Never fails:
 * lines too long, with a control character, or beyond the limits are
 * skipped with a warning (too_many is set for the last). */
void pvs_drivers_probe_parse(const char *text, size_t len, struct pvs_drivers_probe *p);

/* Decides from a probe: the VM exists once and is off, the driver package
 * was found, exactly one of its disks holds Windows. On success returns 0
 * and points *guest_root at that volume's root and writes the package
 * folder (package_inf's directory) into package_dir. Errors, each saying
 * what to do, in why: PVS_EIO (the script reported an error), PVS_EINVAL
 * (no such VM, several, running, no GPU partition or driver package, no
 * disk, no Windows volume, several). */
int pvs_drivers_probe_pick(const struct pvs_drivers_probe *p, const char *vm,
                           const char **guest_root, char *package_dir, size_t package_len,
                           char *why, size_t why_len);

/* The PowerShell that finds the VM's GPU driver and mounts its disks
 * (read-only for a dry run), printing the lines above; and the one that
 * dismounts what it mounted. *script is the caller's to free. Returns 0,
 * PVS_EINVAL (a control character in a name), PVS_ENOMEM. */
int pvs_drivers_mount_script(const char *vm, bool read_only, char **script);
int pvs_drivers_dismount_script(const struct pvs_drivers_probe *p, char **script);

#endif
