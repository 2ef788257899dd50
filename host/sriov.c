/* The sriov backend: GPUs that split into PCI virtual functions (SR-IOV
 * physical functions: AMD MxGPU, Intel's Flex and Xe parts, NVIDIA's
 * data-centre GPUs), from SYSFS_ROOT/sys/bus/pci/devices/<BDF>/
 * sriov_totalvfs (> 0) and sriov_numvfs, display controllers (class
 * 0x03xxxx) only: network cards and NVMe drives are SR-IOV devices too.
 * A device whose files hold garbage is skipped with a warning. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/backend.h"
#include "host/sysfs.h"
#include "host/text.h"

#define MAX_VFS 65535u /* the SR-IOV capability's TotalVFs is 16 bits */

/* Reads DEV/<file> as a number; logs and returns <0 on garbage. */
static int read_field(const char *dev, const char *file, bool hex, unsigned max, unsigned *v)
{
    char path[PVS_SYSFS_PATH_MAX];
    int rc = pvs_sysfs_path(path, sizeof(path), dev, "%s", file);
    if (rc == 0)
        rc = hex ? pvs_sysfs_read_hex(path, max, v) : pvs_sysfs_read_uint(path, max, v);
    if (rc == PVS_EBADDATA)
        PVS_LOG_W("sriov: %s: not a valid number, device skipped", path);
    return rc;
}

static int sriov_list(const char *root, struct pvs_host_gpu **out, int *count, char *why,
                      size_t why_len)
{
    *out = NULL;
    *count = 0;
    char bus[PVS_SYSFS_PATH_MAX];
    if (pvs_sysfs_path(bus, sizeof(bus), root, "sys/bus/pci/devices") < 0) {
        pvs_text_error(why, why_len, "sysfs root too long");
        return PVS_ERANGE;
    }
    DIR *d = opendir(bus);
    if (!d)
        return 0; /* no PCI bus here */
    struct pvs_host_gpu *gpus = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *bdf = e->d_name;
        if (!pvs_sysfs_is_pci_bdf(bdf))
            continue;
        char dev[PVS_SYSFS_PATH_MAX];
        if (pvs_sysfs_path(dev, sizeof(dev), bus, "%s", bdf) < 0)
            continue;
        unsigned total, num, vendor, device, klass;
        int r = read_field(dev, "sriov_totalvfs", false, MAX_VFS, &total);
        if (r == PVS_ENOENT)
            continue; /* not an SR-IOV physical function */
        if (r < 0 || total == 0)
            continue;
        if (read_field(dev, "class", true, 0xffffff, &klass) < 0)
            continue;
        if ((klass >> 16) != 0x03)
            continue; /* not a display controller */
        if ((r = read_field(dev, "sriov_numvfs", false, MAX_VFS, &num)) < 0 ||
            (r = read_field(dev, "vendor", true, 0xffff, &vendor)) < 0 ||
            (r = read_field(dev, "device", true, 0xffff, &device)) < 0) {
            if (r != PVS_EBADDATA) /* garbage was reported by read_field */
                PVS_LOG_W("sriov: %s: sriov_numvfs, vendor or device unreadable (%s), skipped",
                          bdf, pvs_strerror(r));
            continue;
        }
        if (n >= PVS_HOST_MAX_GPUS) {
            PVS_LOG_W("sriov: more than %d physical functions, the rest skipped",
                      PVS_HOST_MAX_GPUS);
            break;
        }
        struct pvs_host_gpu *p = realloc(gpus, (size_t)(n + 1) * sizeof(*p));
        if (!p) {
            rc = PVS_ENOMEM;
            break;
        }
        gpus = p;
        struct pvs_host_gpu *g = &gpus[n++];
        memset(g, 0, sizeof(*g));
        g->backend = pvs_host_backend_sriov.name;
        strcpy(g->id, bdf);
        g->vendor_id = (uint16_t)vendor;
        g->device_id = (uint16_t)device;
        g->total_vfs = (int)total;
        g->num_vfs = (int)num;
        pvs_pci_ids_name(root, vendor, device, g->name, sizeof(g->name));
    }
    closedir(d);
    return pvs_host_list_done(gpus, n, rc, "sriov", why, why_len, out, count);
}

const struct pvs_host_backend_ops pvs_host_backend_sriov = {
    .name = "sriov",
    .platform = "Linux",
    .list = sriov_list,
};
