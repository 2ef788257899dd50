/* A saved plan: what `pvstream-host plan --save FILE` writes and
 * `pvstream-host apply FILE` reads. An INI file a person can read and
 * review before applying it:
 *
 *   # written by pvstream-host ...; apply with: pvstream-host apply FILE
 *   [plan]
 *   backend = hyperv          ; hyperv | mdev | sriov
 *   gpu = \\?\PCI#VEN_10DE&DEV_2704&...   ; instance path, or a PCI address
 *   vms = 2
 *   low_mmio_mib = 1024       ; hyperv
 *   high_mmio_mib = 32768     ; hyperv
 *   mdev_type = nvidia-222    ; mdev
 *   vram = 1000000000         ; the totals that were split
 *   encode = 18446744073709551615
 *   decode = 1000000000
 *   compute = 1000000000
 *
 *   [vm.1]                    ; one section per VM, numbered from 1
 *   name = gaming
 *   weight = 1
 *   vram = MIN,OPTIMAL,MAX    ; hyperv: the VM's share of each resource
 *   encode = MIN,OPTIMAL,MAX
 *   decode = MIN,OPTIMAL,MAX
 *   compute = MIN,OPTIMAL,MAX
 *   uuid = 8-4-4-4-12         ; mdev: the mediated device the VM gets
 *
 * (sriov: VM i gets virtual function i-1; no per-VM keys beyond name.)
 *
 * The parser checks everything a hand edit can break: unknown sections or
 * keys, a missing key, a number out of range, Min <= Optimal <= Max,
 * shares that add up to more than the total, VM sections that are not
 * 1..vms, two VMs with one name or one UUID. Every error names the line. */
#ifndef PVS_HOST_PLANFILE_H
#define PVS_HOST_PLANFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/backend.h"
#include "host/plan.h"

#define PVS_PLANFILE_BACKEND_MAX 16
#define PVS_PLANFILE_NAME_MAX 128
#define PVS_PLANFILE_UUID_LEN 36   /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

struct pvs_planfile_vm {
    char name[PVS_PLANFILE_NAME_MAX];
    char uuid[PVS_PLANFILE_UUID_LEN + 1];  /* mdev; "" otherwise */
};

struct pvs_planfile {
    char backend[PVS_PLANFILE_BACKEND_MAX];  /* "hyperv", "mdev", "sriov" */
    char gpu[PVS_HOST_ID_MAX];               /* instance path or PCI address */
    char mdev_type[PVS_HOST_TYPE_ID_MAX];    /* mdev */
    uint64_t low_mmio_mib, high_mmio_mib;    /* hyperv */
    struct pvs_plan plan;   /* vms, totals, weights, per-VM amounts; warnings unused */
    struct pvs_planfile_vm vm[PVS_PLAN_MAX_VMS];
};

/* Writes the file's text. *out is the caller's to free. Returns 0,
 * PVS_EINVAL (a name that would not read back the same: control
 * characters, leading or trailing spaces, a ';' or '#'; the reason in
 * err) or PVS_ENOMEM. */
int pvs_planfile_format(const struct pvs_planfile *pf, const char *generator, char **out,
                        char *err, size_t err_len);

/* Parses a plan file held in memory (`name` is used in messages: "plan.ini:7: ...").
 * Returns 0, or PVS_ECONFIG with the first error in err; *out is zeroed
 * on error. */
int pvs_planfile_parse(const char *text, size_t len, const char *name,
                       struct pvs_planfile *out, char *err, size_t err_len);

/* Reads and parses a file (at most 1 MiB). PVS_ENOENT when it cannot be
 * opened. */
int pvs_planfile_load(const char *path, struct pvs_planfile *out, char *err, size_t err_len);

/* Sets pf->vm[0..pf->plan.vms-1].name from names[] (NULL, or a NULL entry:
 * "vm1".."vmN"). Returns 0, or PVS_EINVAL for a name that would not read
 * back the same (see pvs_planfile_format), a name too long, or two VMs with
 * one name; the reason in err. */
int pvs_planfile_set_names(struct pvs_planfile *pf, const char *const *names, char *err,
                           size_t err_len);

/* What `plan --gpu ID` asks for. */
struct pvs_planfile_request {
    const char *gpu;          /* the id as `list` shows it, matched whole (never a prefix) */
    const char *backend;      /* NULL or "": whichever backend lists that id */
    const char *mdev_type;    /* mdev: NULL or "": the GPU's only type */
    int vms;
    const uint32_t *weights;  /* hyperv only; NULL: all equal */
    const char *const *names; /* NULL: vm1..vmN */
    /* hyperv: totals to split where bit (1 << r) of total_set is set; the
     * others come from the GPU (Hyper-V's standard totals where it says 0). */
    uint64_t total[PVS_GPU_RESOURCE_COUNT];
    unsigned total_set;
    int min_percent;          /* hyperv; 0: 100 */
    int encode_sessions;      /* 0: unknown */
    uint64_t low_mmio_mib, high_mmio_mib;  /* hyperv; 0: ps.h's defaults */
};

/* Plans for the GPU of a listing (pvs_host_list_all) whose id is exactly
 * req->gpu. mdev: one new mediated device of the type per VM, each with a
 * fresh random UUID (RFC 4122 version 4), at most the type's available
 * instances; sriov: VM i gets virtual function i-1, at most sriov_totalvfs;
 * hyperv: the exact split of the GPU's totals, with the identical-GPUs
 * warning when the listing holds other GPUs with its vendor and device
 * IDs. Warnings go to out->plan.warnings. Returns 0; PVS_ENOENT when no
 * GPU has that id (err lists those that exist); PVS_EINVAL for the rest
 * (several types and no --type, weights for a fixed-size partition, too
 * many VMs...; err says what to do); PVS_EEXTERNAL without random numbers. */
int pvs_planfile_for_gpu(const struct pvs_host_gpu *gpus, int count,
                         const struct pvs_planfile_request *req, struct pvs_planfile *out,
                         char *err, size_t err_len);

/* The plan as `pvstream-host plan` shows it, naming the backend and the GPU:
 * a table, or JSON (hyperv: report.h's shape plus "gpu"; mdev and sriov:
 * {"backend", "gpu", "mdev_type" (mdev), "vms": [{"name", "uuid" | "vf"}],
 * "warnings"}). *out is the caller's. Returns 0, PVS_EINVAL or PVS_ENOMEM. */
int pvs_planfile_format_summary(const struct pvs_planfile *pf, bool json, char **out);

#endif
