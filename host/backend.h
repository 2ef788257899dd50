/* pvstream-host's backends: one table of operations per way a host splits
 * a GPU between VMs (Hyper-V GPU-PV, Linux mediated devices, Linux SR-IOV),
 * walked in order by `pvstream-host list`.
 *
 * A backend is data plus callbacks, and keeps no state of its own: every
 * call gets the root of the file system to read (sysfs_root: "/" on a real
 * host, a fake tree in the tests) and returns what it found in memory the
 * caller owns. The Linux backends read SYSFS_ROOT/sys/... and the PCI names
 * from SYSFS_ROOT/usr/share/misc/pci.ids (or .../hwdata/pci.ids), so a
 * test tree can hold its own pci.ids. `apply` makes the host match a
 * saved plan: mediated devices created, sriov_numvfs set, or Hyper-V's
 * PowerShell run. */
#ifndef PVS_HOST_BACKEND_H
#define PVS_HOST_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "host/plan.h"

#define PVS_HOST_ID_MAX 256         /* a PCI address, or a Windows instance path */
#define PVS_HOST_NAME_MAX 256       /* "Vendor Device" from pci.ids */
#define PVS_HOST_TYPE_ID_MAX 128    /* an mdev type directory's name */
#define PVS_HOST_TYPE_NAME_MAX 128
#define PVS_HOST_TYPE_DESC_MAX 512
#define PVS_HOST_DEVICE_API_MAX 32
/* What one list reports at most; more are dropped with a warning. */
#define PVS_HOST_MAX_GPUS 256
#define PVS_HOST_MAX_MDEV_TYPES 128
#define PVS_HOST_MAX_PARTITION_COUNTS 16 /* Hyper-V's ValidPartitionCounts */

/* One mediated-device type a parent GPU offers
 * (sys/class/mdev_bus/<BDF>/mdev_supported_types/<id>/). Text read from
 * sysfs has its trailing newline removed, interior newlines turned into
 * "; " and other control characters into '?'. A missing name, description
 * or device_api file leaves that field empty. */
struct pvs_host_mdev_type {
    char id[PVS_HOST_TYPE_ID_MAX];             /* "nvidia-222", "i915-GVTg_V5_4" */
    char name[PVS_HOST_TYPE_NAME_MAX];         /* "GRID T4-1B"; may be empty */
    char description[PVS_HOST_TYPE_DESC_MAX];
    char device_api[PVS_HOST_DEVICE_API_MAX];  /* "vfio-pci" */
    int available_instances;                   /* how many more can be created */
};

struct pvs_host_gpu {
    const char *backend;      /* the backend's name (static): "mdev", "sriov", "hyperv" */
    /* Linux: the PCI address "0000:01:00.0"; Windows: the instance path. */
    char id[PVS_HOST_ID_MAX];
    uint16_t vendor_id;       /* PCI IDs, 0 when unknown */
    uint16_t device_id;
    /* "Vendor Device" from pci.ids; only the vendor when the device is not
     * listed; empty when neither is (or there is no pci.ids). */
    char name[PVS_HOST_NAME_MAX];

    /* mdev: the supported types, sorted by id. Owned by this entry
     * (pvs_host_gpus_free frees it); NULL when type_count is 0. */
    struct pvs_host_mdev_type *types;
    int type_count;

    /* sriov: virtual functions the PF supports, and how many are enabled. */
    int total_vfs;
    int num_vfs;

    /* hyperv: Msvm_PartitionableGpu's values. ValidPartitionCounts, and per
     * resource (VRAM, Encode, Decode, Compute, indexed by enum
     * pvs_gpu_resource) its Total/Available/Min/Max/Optimal units. */
    uint32_t partition_counts[PVS_HOST_MAX_PARTITION_COUNTS];
    int partition_count_n;
    struct {
        uint64_t total, available, min, max, optimal;
    } res[PVS_GPU_RESOURCE_COUNT];
};

struct pvs_planfile;

/* What apply (and check) run against. */
struct pvs_host_ctx {
    const char *sysfs_root;   /* "/" on a real host; a fake tree in tests */
    bool dry_run;             /* print what would be done; change nothing */
    bool remove;              /* apply: undo what the plan made (remove the
                               * mediated devices, sriov_numvfs to 0) */
    FILE *out;                /* dry-run listing, libvirt XML, progress */
};

struct pvs_host_backend_ops {
    const char *name;         /* "mdev", "sriov", "hyperv" */
    const char *platform;     /* where it works: "Linux", "Windows only" */
    /* Lists the GPUs this backend can partition, sorted by id. On success
     * returns 0 with *out an array of *count entries (NULL when 0), freed
     * with pvs_host_gpus_free. Nothing to partition is not an error: 0 with
     * *count = 0. Entries that cannot be read are skipped with a warning in
     * the log. Errors: PVS_ENOTSUP (the backend does not exist on this
     * platform), PVS_ENOMEM; the reason goes to why (may be NULL). */
    int (*list)(const char *sysfs_root, struct pvs_host_gpu **out, int *count,
                char *why, size_t why_len);
    /* Makes the host match a saved plan (planfile.h) whose backend is this
     * one; with ctx->dry_run, only prints to ctx->out what it would do.
     * Checks everything it can before the first change, so bad input
     * changes nothing. Returns 0, or <0 with the reason (and the fix) in
     * why: PVS_ENOTSUP (not on this platform), PVS_EINVAL (the plan does
     * not fit the host: unknown GPU, too few instances...), PVS_EIO. */
    int (*apply)(const struct pvs_host_ctx *ctx, const struct pvs_planfile *plan,
                 char *why, size_t why_len);
};

/* What the Linux backends' apply share (in cmd_apply.c). Writes
 * "VALUE\n" to the sysfs attribute at path (sysfs.h) and says so on
 * ctx->out ("wrote 'VALUE' to PATH"); with ctx->dry_run only prints
 * "write 'VALUE' to PATH". Returns 0, or <0 with the reason and a fix in
 * why. */
int pvs_host_apply_write(const struct pvs_host_ctx *ctx, const char *path, const char *value,
                         char *why, size_t why_len);
/* Prints, for VM number vm (from 1) called name, a comment line with the
 * virsh command that adds the device, then its <hostdev> XML. */
void pvs_host_apply_print_hostdev(const struct pvs_host_ctx *ctx, int vm, const char *name,
                                  const char *xml);

/* The backends, in the order `list` shows them; ends with NULL. */
extern const struct pvs_host_backend_ops *const pvs_host_backends[];

extern const struct pvs_host_backend_ops pvs_host_backend_mdev;
extern const struct pvs_host_backend_ops pvs_host_backend_sriov;
extern const struct pvs_host_backend_ops pvs_host_backend_hyperv;

/* The backend with this name, or NULL. */
const struct pvs_host_backend_ops *pvs_host_backend_find(const char *name);

/* Frees an array from list (and each entry's types); NULL is fine.
 * Clears *gpus. */
void pvs_host_gpus_free(struct pvs_host_gpu **gpus, int count);

/* How a backend's list ends: on rc < 0 frees the n gpus, says why
 * ("BACKEND: reason") and returns rc; else sorts them by id and hands them
 * out, returning 0. */
int pvs_host_list_done(struct pvs_host_gpu *gpus, int n, int rc, const char *backend, char *why,
                       size_t why_len, struct pvs_host_gpu **out, int *count);

/* Runs every backend's list and concatenates the results (ENOTSUP
 * backends are skipped). Returns 0 or the first other error. */
int pvs_host_list_all(const char *sysfs_root, struct pvs_host_gpu **out, int *count,
                      char *why, size_t why_len);

/* The listing as a table, or as JSON (shape in docs/host.md). *out is the
 * caller's to free. Returns 0 or PVS_ENOMEM. */
int pvs_host_format_list_table(const struct pvs_host_gpu *gpus, int count, char **out);
int pvs_host_format_list_json(const struct pvs_host_gpu *gpus, int count, char **out);

#endif
