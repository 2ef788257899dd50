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

#endif
