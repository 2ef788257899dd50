/* The sriov backend: GPUs that split into PCI virtual functions (SR-IOV
 * physical functions: AMD MxGPU, Intel's Flex and Xe parts, NVIDIA's
 * data-centre GPUs), from SYSFS_ROOT/sys/bus/pci/devices/<BDF>/
 * sriov_totalvfs (> 0) and sriov_numvfs, display controllers (class
 * 0x03xxxx) only: network cards and NVMe drives are SR-IOV devices too.
 * A device whose files hold garbage is skipped with a warning.
 *
 * apply sets the PF's sriov_numvfs to the plan's VM count (0 first when it
 * holds another non-zero count: the kernel refuses a change between two),
 * then prints each VM's <hostdev> from the virtfn<i> links. --remove sets
 * it to 0. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/backend.h"
#include "host/planfile.h"
#include "host/sysfs.h"
#include "host/text.h"
#include "host/xml.h"

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

/* ---- apply -------------------------------------------------------------- */

/* Prints VM i's <hostdev> from the PF's virtfn<i> link. Returns 0, 1 when
 * the link is not there (yet), <0 on error. */
static int print_vf(const struct pvs_host_ctx *ctx, const char *dev, int i, const char *name,
                    char *why, size_t why_len)
{
    char path[PVS_SYSFS_PATH_MAX], vf[64];
    struct pvs_pci_addr addr;
    if (pvs_sysfs_path(path, sizeof(path), dev, "virtfn%d", i) < 0)
        return PVS_ERANGE;
    int rc = pvs_sysfs_link_name(path, vf, sizeof(vf));
    if (rc == PVS_ENOENT)
        return 1;
    if (rc < 0 || !pvs_sysfs_is_pci_bdf(vf) || pvs_pci_addr_parse(vf, &addr) < 0) {
        pvs_text_error(why, why_len, "%s: not a link to a PCI function", path);
        return PVS_EIO;
    }
    char *xml = NULL;
    if (pvs_xml_hostdev_pci(&addr, &xml) < 0) {
        pvs_text_error(why, why_len, "out of memory");
        return PVS_ENOMEM;
    }
    fprintf(ctx->out, "# VM %d '%s' gets virtual function %d, %s\n", i + 1, name, i, vf);
    pvs_host_apply_print_hostdev(ctx, i + 1, name, xml);
    free(xml);
    return 0;
}

static int sriov_apply(const struct pvs_host_ctx *ctx, const struct pvs_planfile *pf, char *why,
                       size_t why_len)
{
#ifdef _WIN32
    (void)ctx, (void)pf;
    pvs_text_error(why, why_len, "SR-IOV virtual functions are set up on a Linux KVM host");
    return PVS_ENOTSUP;
#endif
    char dev[PVS_SYSFS_PATH_MAX], path[PVS_SYSFS_PATH_MAX], msg[512];
    int want = pf->plan.vms;
    if (strcmp(pf->backend, "sriov") || !pvs_sysfs_is_pci_bdf(pf->gpu) || want < 1 ||
        want > PVS_PLAN_MAX_VMS) {
        pvs_text_error(why, why_len, "not an sriov plan");
        return PVS_EINVAL;
    }
    if (pvs_sysfs_path(dev, sizeof(dev), ctx->sysfs_root, "sys/bus/pci/devices/%s",
                       pf->gpu) < 0) {
        pvs_text_error(why, why_len, "sysfs root too long");
        return PVS_EINVAL;
    }
    unsigned total, num;
    int rc = read_field(dev, "sriov_totalvfs", false, MAX_VFS, &total);
    if (rc == 0)
        rc = read_field(dev, "sriov_numvfs", false, MAX_VFS, &num);
    if (rc == PVS_ENOENT) {
        pvs_text_error(why, why_len, "GPU %s is not an SR-IOV physical function here (no %s/"
                       "sriov_totalvfs or sriov_numvfs): check the address with pvstream-host "
                       "list", pf->gpu, dev);
        return PVS_EINVAL;
    }
    if (rc < 0) {
        pvs_text_error(why, why_len, "%s: sriov_totalvfs or sriov_numvfs unreadable (%s)", dev,
                       pvs_strerror(rc));
        return PVS_EIO;
    }
    if ((unsigned)want > total) {
        pvs_text_error(why, why_len, "the plan has %d VMs, GPU %s has %u virtual functions "
                       "(sriov_totalvfs): make a plan for at most %u", want, pf->gpu, total,
                       total);
        return PVS_EINVAL;
    }
    if (pvs_sysfs_path(path, sizeof(path), dev, "sriov_numvfs") < 0) {
        pvs_text_error(why, why_len, "sysfs root too long");
        return PVS_EINVAL;
    }
    if (ctx->remove) {
        if (num == 0) {
            fprintf(ctx->out, "# sriov_numvfs is 0 already: nothing to remove\n");
            return 0;
        }
        rc = pvs_host_apply_write(ctx, path, "0", why, why_len);
        return rc < 0 ? PVS_EIO : 0;
    }
    if (num == (unsigned)want) {
        fprintf(ctx->out, "# sriov_numvfs is %d already: nothing to write\n", want);
    } else {
        if (num != 0) {
            /* The kernel refuses to change between two non-zero counts. */
            fprintf(ctx->out, "# sriov_numvfs is %u: set to 0 first (the %u VFs go away; VMs "
                    "using them must be off), then to %d\n", num, num, want);
            if (pvs_host_apply_write(ctx, path, "0", why, why_len) < 0)
                return PVS_EIO;
        }
        char value[16];
        snprintf(value, sizeof(value), "%d", want);
        if (pvs_host_apply_write(ctx, path, value, msg, sizeof(msg)) < 0) {
            pvs_text_error(why, why_len, "%s%s", msg, num ? " (sriov_numvfs is 0 now)" : "");
            return PVS_EIO;
        }
    }
    for (int i = 0; i < want; i++) {
        rc = print_vf(ctx, dev, i, pf->vm[i].name, why, why_len);
        if (rc == 1 && ctx->dry_run) {
            fprintf(ctx->out, "# VM %d '%s' gets virtual function %d (virtfn%d): its "
                    "address is known once the VFs exist\n", i + 1, pf->vm[i].name, i, i);
            continue;
        }
        if (rc == 1) {
            pvs_text_error(why, why_len, "%s/virtfn%d is missing with sriov_numvfs = %d: the "
                           "driver did not create the virtual functions", dev, i, want);
            return PVS_EIO;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

const struct pvs_host_backend_ops pvs_host_backend_sriov = {
    .name = "sriov",
    .platform = "Linux",
    .list = sriov_list,
    .apply = sriov_apply,
};
