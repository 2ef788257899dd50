/* `pvstream-host vm create | delete | status` (cmd_vm.c runs them): a
 * Hyper-V VM that streams, made from a Windows ISO in one command.
 *
 * Everything Windows does is generated PowerShell run through the runner
 * (run.h), in steps, each a script of its own; what to generate is decided
 * here, in plain C, from what read-only probes printed:
 *
 *   check     the host checks of `check` plus the create checks below
 *             (one probe: hyperv_check.c with vm.c's part): the ISO's
 *             editions (mounted read-only), the disk's free space, the
 *             name, the virtual switches, the host's time zone and locale
 *   list      the partitionable GPUs (the hyperv backend's list)
 *   vm        New-VM (generation 2, no disk yet), processors, static
 *             memory, Secure Boot, TPM for Windows 11, checkpoints off,
 *             stop action ShutDown, the network adapter on a switch, then
 *             the GPU partition with ps.h's commands (Add- and
 *             Set-VMGpuPartitionAdapter, cache types, MMIO)
 *   disk      New-VHD (dynamic VHDX), GPT with an EFI system partition,
 *             MSR and a Windows partition; the edition's image from the
 *             ISO's install.wim/.esd (Expand-WindowsImage), bcdboot; the
 *             answer file, the pvstream folder and the setup files copied
 *             in; the disk attached to the VM as its first boot device
 *   drivers   `drivers sync --vm NAME` (drivers.h) on the VM's disk
 *   start     Start-VM
 *
 * Each step prints what it made (`made=vm|ID`, `made=vhd|PATH`) and what
 * it has mounted and not yet dismounted; when a step fails, cleanup
 * removes exactly that (the VM by its id, the VHDX by its path), in
 * reverse. A VM that is complete but does not start is left, with the
 * line saying what to do.
 *
 * Probe and step output is untrusted text (bounded, control characters
 * refused), as for the other probes (hyperv.h). */
#ifndef PVS_HOST_VM_H
#define PVS_HOST_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/backend.h"
#include "host/check.h"
#include "host/plan.h"

#define PVS_VM_NAME_MAX 100      /* Hyper-V's limit for a VM's name */
#define PVS_VM_TEXT_MAX 512      /* a value from a probe */
#define PVS_VM_MAX_IMAGES 32
#define PVS_VM_MAX_SWITCHES 16
#define PVS_VM_MAX_GPU_VMS 128
#define PVS_VM_DEFAULT_USER "pvstream"
#define PVS_VM_DEFAULT_MEMORY (8ull << 30)
#define PVS_VM_DEFAULT_DISK (128ull << 30)
#define PVS_VM_DEFAULT_CPUS 4

/* What `vm create` (and `check --iso`) is asked. Strings may be NULL. */
struct pvs_vm_request {
    const char *name;          /* the new VM; NULL for `check` */
    const char *iso;           /* the Windows ISO */
    const char *edition;       /* an image's name or index; NULL: "... Pro", or the only one */
    const char *gpu;           /* an instance path, or NULL / "auto": the only GPU */
    int share;                 /* percent of the GPU, 1..100; 0: equal with its VMs */
    uint64_t memory;           /* bytes; 0: PVS_VM_DEFAULT_MEMORY */
    int cpus;                  /* 0: PVS_VM_DEFAULT_CPUS (at most the host's) */
    uint64_t disk;             /* the VHDX's size; 0: PVS_VM_DEFAULT_DISK */
    const char *vhd_dir;       /* NULL: Hyper-V's default virtual hard disk folder */
    const char *switch_name;   /* NULL: the only external switch, else Default Switch */
    const char *pvstream_dir;  /* the unzipped pvstream folder (pvstream-server.exe) */
    const char *check_vm;      /* `check --vm X --iso F`: an existing VM checked too */
};

/* Refusals of names and paths before anything runs (PVS_EINVAL, why says
 * what to do). A VM's name becomes its disk's file name and goes to cmdlets
 * whose -Path takes wildcards: 1..100 characters, no control character,
 * none of \ / : * ? " < > | (Windows file names) nor [ ] ` (wildcards),
 * no leading or trailing space or trailing period, not a DOS device name
 * (CON, NUL, COM1...). A path (`what` names the option) may not hold a
 * control character nor [ ] ` * ?. */
int pvs_vm_check_name(const char *name, char *why, size_t why_len);
int pvs_vm_check_path(const char *what, const char *path, char *why, size_t why_len);

/* "8G", "8GB", "8GiB", "512M", "1T": binary units (1G = 2^30 bytes, as
 * Hyper-V's GB). A bare number is refused (which unit?). Returns 0,
 * PVS_EINVAL or PVS_ERANGE. */
int pvs_vm_parse_bytes(const char *text, uint64_t *out);

/* One image of the ISO's install.wim/.esd. */
struct pvs_vm_image {
    int index;                  /* ImageIndex, from 1 */
    char name[256];             /* "Windows 11 Pro" */
    char arch[16];              /* "x64" (or Get-WindowsImage's number, 9) */
    char version[32];           /* "10.0.22631.2428" */
    uint64_t build;             /* 22631, from version; 0 when unknown */
    uint64_t size;              /* bytes once applied */
    char type[32];              /* InstallationType: "Client", "Server" */
    char language[32];          /* its default UI language: "en-US" */
};

struct pvs_vm_switch {
    char type[16];              /* "External", "Internal", "Private" */
    char name[128];
};

struct pvs_vm_gpu_vm {
    char gpu[PVS_HOST_ID_MAX];  /* an adapter's instance path */
    char vm[128];
};

/* What the create part of the check probe printed (pvs_vm_facts_parse).
 * Numbers are -1 (or has_* false) when not said. */
struct pvs_vm_facts {
    char iso[PVS_VM_TEXT_MAX];            /* the ISO's full path */
    char iso_error[PVS_VM_TEXT_MAX];      /* why it could not be read */
    char iso_wim[64];                     /* "sources\install.wim" */
    struct pvs_vm_image images[PVS_VM_MAX_IMAGES];
    int image_count;
    bool too_many_images;
    char vhd_dir[PVS_VM_TEXT_MAX];        /* the folder the VHDX goes to (full) */
    char vhd_dir_error[PVS_VM_TEXT_MAX];
    bool has_vhd_free;
    uint64_t vhd_free;                    /* bytes free on its volume */
    int vhd_exists;                       /* NAME.vhdx is there already */
    int new_vm_count;                     /* VMs already named NAME */
    int pvstream_server;                  /* pvstream-server.exe is in pvstream_dir */
    char pvstream_dir[PVS_VM_TEXT_MAX];   /* full path */
    int host_cpus;
    uint64_t host_memory;                 /* bytes */
    uint64_t host_build;                  /* from the host part: os_build */
    uint64_t host_vram;                   /* bytes, the GPU's (host_vram_bytes); 0 unknown */
    char time_zone[128];
    char system_locale[32], user_locale[32], input_locale[64];
    struct pvs_vm_switch switches[PVS_VM_MAX_SWITCHES];
    int switch_count;
    struct pvs_vm_gpu_vm gpu_vms[PVS_VM_MAX_GPU_VMS];
    int gpu_vm_count;
};

/* The PowerShell the check probe runs for the create checks (appended to
 * hyperv_check.c's probe: pvs_hyperv_check_script_ex). Returns 0,
 * PVS_EINVAL (a control character) or PVS_ENOMEM; *extra is the caller's. */
int pvs_vm_probe_part(const struct pvs_vm_request *req, char **extra);

/* Reads the probe's output (the host part's keys are skipped, but for
 * os_build and host_vram_bytes). Never fails: bad lines are skipped. */
void pvs_vm_facts_parse(const char *text, size_t len, struct pvs_vm_facts *f);

/* The create checks as results (ids: iso, iso-edition, guest-version,
 * vm-name, vhd, disk-space, memory, cpus, vm-switch, pvstream-files; those
 * that do not apply to the request are left out), each failure with its
 * fix. Returns 0 or PVS_ENOMEM. */
int pvs_vm_check_items(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                       struct pvs_checks *out);

/* Runs the check probe with the create part: the host checks of
 * `pvstream-host check`, then the create checks, into *checks; the facts
 * for pvs_vm_decide into *facts. Returns 0 (whatever the verdicts), or
 * what pvs_host_check_hyperv returns when the probe could not run. */
int pvs_vm_preflight(const struct pvs_vm_request *req, struct pvs_checks *checks,
                     struct pvs_vm_facts *facts, char *why, size_t why_len);

/* The image `edition` names (its exact name, ignoring case, or its index);
 * without one, the image named "... Pro" (case ignored) when exactly one
 * is, else the only image. NULL, with why listing the names, when none
 * fits. */
const struct pvs_vm_image *pvs_vm_pick_image(const struct pvs_vm_facts *f, const char *edition,
                                             char *why, size_t why_len);

/* Everything the steps are made of. */
struct pvs_vm_plan {
    char name[PVS_VM_NAME_MAX + 1];
    char iso[PVS_VM_TEXT_MAX];
    char pvstream_dir[PVS_VM_TEXT_MAX];
    struct pvs_vm_image image;
    bool tpm;                   /* Windows 11 (client, build 22000 on) needs one */
    char vhd_path[PVS_VM_TEXT_MAX + PVS_VM_NAME_MAX + 8];
    uint64_t disk, memory;
    int cpus;
    char switch_name[128];      /* "" : no network adapter (no switch) */
    char gpu[PVS_HOST_ID_MAX];
    struct pvs_plan_vm part;    /* this VM's amounts */
    int sharing;                /* VMs that had a partition of the GPU already */
    int share;                  /* the percent asked, 0: equal */
    uint64_t low_mmio_mib, high_mmio_mib;
    char computer_name[16];
    char time_zone[128];
    char ui_language[32], system_locale[32], user_locale[32], input_locale[64];
};

/* Decides the plan from the request, the probe's facts and the GPUs
 * listed: the image, TPM, the disk's path, the switch, the GPU (the one
 * whose instance path is exactly req->gpu, ignoring case; "auto": the
 * only one) and its amounts through planfile.h's split (--share P: a
 * split of P and 100 - P, this VM's the first; else an equal split with
 * the VMs on that GPU, this VM's the last), MMIO from the GPU's VRAM,
 * locale and time zone. Returns 0 or PVS_EINVAL with why. */
int pvs_vm_decide(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                  const struct pvs_host_gpu *gpus, int ngpus, struct pvs_vm_plan *out,
                  char *why, size_t why_len);

/* The files the disk step copies in, by their paths on the host
 * (temporary files: the password never appears in a script). */
struct pvs_vm_files {
    const char *unattend;       /* -> Windows\Panther\unattend.xml */
    const char *setup;          /* -> Program Files\pvstream\setup\firstlogon.ps1 */
    const char *state;          /* -> ...\setup\report-state.ps1 */
    const char *config;         /* -> Program Files\pvstream\vm.ini */
};

/* What the steps made, gathered from their output (pvs_vm_made_parse),
 * for cleanup and for the next steps. */
struct pvs_vm_made {
    char vm_id[64];             /* the VM's GUID */
    char vhd[PVS_VM_TEXT_MAX + PVS_VM_NAME_MAX + 8];   /* the VHDX file */
    bool vhd_mounted;
    char iso[PVS_VM_TEXT_MAX];  /* an ISO the steps mounted and did not dismount */
    bool iso_mounted;
    bool attached;              /* the VHDX is the VM's disk */
};

/* The steps' scripts (see the top). Each starts with "# pvstream-step
 * STEP". Return 0, PVS_EINVAL (a control character, a VM id that is not a
 * GUID) or PVS_ENOMEM; *script is the caller's. */
int pvs_vm_script_vm(const struct pvs_vm_plan *p, char **script);
int pvs_vm_script_disk(const struct pvs_vm_plan *p, const struct pvs_vm_made *made,
                       const struct pvs_vm_files *files, char **script);
int pvs_vm_script_start(const struct pvs_vm_made *made, char **script);
/* Removes what `made` says, in reverse: dismounts, the VM (by id, turned
 * off first), the VHDX (by path). Prints removed=... or left=...|why. */
int pvs_vm_script_cleanup(const struct pvs_vm_made *made, char **script);

/* Merges a step's output into *made and says how the step ended: 0 when
 * it printed "end", PVS_EIO with its error= line in why, PVS_EBADDATA
 * when it printed neither (it died). */
int pvs_vm_made_parse(const char *text, size_t len, struct pvs_vm_made *made, char *why,
                      size_t why_len);

/* `vm delete NAME [--delete-disk] [--force]`: the VM by exact name, once,
 * off, and (unless force) one that vm create made (its Notes say so); its
 * disk files removed too with delete_disk, unless it has checkpoints. */
int pvs_vm_script_delete(const char *name, bool delete_disk, bool force, char **script);

/* `vm status NAME`: a read-only probe. */
int pvs_vm_script_status(const char *name, char **script);

#define PVS_VM_MAX_ADDRESSES 8

struct pvs_vm_status {
    int vm_count;               /* VMs with that name; -1: not said */
    char state[32];             /* "Running", "Off"... */
    char uptime[32];            /* "01:02:03" */
    char heartbeat[64];         /* "OK", "No Contact"... */
    char addresses[PVS_VM_MAX_ADDRESSES][64];
    int address_count;
    char gpu[PVS_HOST_ID_MAX];  /* its GPU partition's GPU, "" none */
    char setup[PVS_VM_TEXT_MAX];    /* PvstreamSetup: "done", "failed: ..." */
    char service[PVS_VM_TEXT_MAX];  /* PvstreamService: "Running 2024-...Z" */
    char error[PVS_VM_TEXT_MAX];
};

/* Reads the status probe's output. Returns 0, PVS_EBADDATA (not the
 * probe's), PVS_EIO (the probe reported an error). */
int pvs_vm_status_parse(const char *text, size_t len, struct pvs_vm_status *st);

/* The status for people: state, address, GPU, the guest's setup and
 * service, and the pairing command once there is an address. */
int pvs_vm_status_format(const char *name, const struct pvs_vm_status *st, char **out);

#endif
