/* The mdev backend: GPUs that offer mediated devices (NVIDIA vGPU on its
 * host driver, Intel GVT-g, ...), from
 *   SYSFS_ROOT/sys/class/mdev_bus/<BDF>/mdev_supported_types/<type>/
 *       name, description, device_api, available_instances
 * with the parent's PCI IDs from SYSFS_ROOT/sys/bus/pci/devices/<BDF>/.
 *
 * A parent whose name is not a PCI address, or a PCI device that is not a
 * display controller (class 0x03xxxx; a NIC can be an mdev parent too), is
 * not a GPU and is skipped. A type with an unreadable available_instances
 * is skipped with a warning; a missing name, description or device_api
 * leaves that field empty (the type is still usable). */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/backend.h"
#include "host/sysfs.h"
#include "host/text.h"

static int cmp_type(const void *a, const void *b)
{
    return strcmp(((const struct pvs_host_mdev_type *)a)->id,
                  ((const struct pvs_host_mdev_type *)b)->id);
}

/* Reads one type directory into *t. Returns 0, or <0 to skip it. */
static int read_type(const char *dir, const char *id, struct pvs_host_mdev_type *t)
{
    char path[PVS_SYSFS_PATH_MAX];
    memset(t, 0, sizeof(*t));
    if (strlen(id) >= sizeof(t->id)) {
        PVS_LOG_W("mdev: %s: type name too long, skipped", dir);
        return PVS_EBADDATA;
    }
    strcpy(t->id, id);
    unsigned avail = 0;
    int rc = pvs_sysfs_path(path, sizeof(path), dir, "%s/available_instances", id);
    if (rc == 0)
        rc = pvs_sysfs_read_uint(path, 1000000, &avail);
    if (rc < 0) {
        PVS_LOG_W("mdev: %s/%s/available_instances: %s, type skipped", dir, id,
                  rc == PVS_EBADDATA ? "not a number" : pvs_strerror(rc));
        return rc;
    }
    t->available_instances = (int)avail;
    struct {
        const char *file;
        char *buf;
        size_t len;
    } fields[] = {
        { "name", t->name, sizeof(t->name) },
        { "description", t->description, sizeof(t->description) },
        { "device_api", t->device_api, sizeof(t->device_api) },
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        rc = pvs_sysfs_path(path, sizeof(path), dir, "%s/%s", id, fields[i].file);
        if (rc == 0)
            rc = pvs_sysfs_read_text(path, fields[i].buf, fields[i].len);
        if (rc == PVS_EBADDATA)
            PVS_LOG_W("mdev: %s/%s/%s: too long or binary, left empty", dir, id, fields[i].file);
        if (rc < 0)
            fields[i].buf[0] = '\0';
    }
    return 0;
}

/* Fills g's types from PARENT/mdev_supported_types. */
static int read_types(const char *parent, struct pvs_host_gpu *g)
{
    char dir[PVS_SYSFS_PATH_MAX];
    if (pvs_sysfs_path(dir, sizeof(dir), parent, "mdev_supported_types") < 0)
        return PVS_ERANGE;
    DIR *d = opendir(dir);
    if (!d) {
        PVS_LOG_W("mdev: %s: cannot open, no types listed", dir);
        return 0;
    }
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (g->type_count >= PVS_HOST_MAX_MDEV_TYPES) {
            PVS_LOG_W("mdev: %s: more than %d types, the rest skipped", dir,
                      PVS_HOST_MAX_MDEV_TYPES);
            break;
        }
        if (g->type_count == cap) {
            int ncap = cap ? cap * 2 : 8;
            struct pvs_host_mdev_type *p = realloc(g->types, (size_t)ncap * sizeof(*p));
            if (!p) {
                closedir(d);
                return PVS_ENOMEM;
            }
            g->types = p;
            cap = ncap;
        }
        if (read_type(dir, e->d_name, &g->types[g->type_count]) == 0)
            g->type_count++;
    }
    closedir(d);
    if (g->type_count == 0) {
        free(g->types);
        g->types = NULL;
    } else {
        qsort(g->types, (size_t)g->type_count, sizeof(g->types[0]), cmp_type);
    }
    return 0;
}

/* The PCI IDs and class of ROOT/sys/bus/pci/devices/<bdf>. Returns 0 or <0
 * (missing or garbage). */
static int read_pci_ids(const char *root, const char *bdf, unsigned *vendor, unsigned *device,
                        unsigned *klass)
{
    char path[PVS_SYSFS_PATH_MAX];
    int rc = pvs_sysfs_path(path, sizeof(path), root, "sys/bus/pci/devices/%s/vendor", bdf);
    if (rc == 0)
        rc = pvs_sysfs_read_hex(path, 0xffff, vendor);
    if (rc == 0)
        rc = pvs_sysfs_path(path, sizeof(path), root, "sys/bus/pci/devices/%s/device", bdf);
    if (rc == 0)
        rc = pvs_sysfs_read_hex(path, 0xffff, device);
    if (rc == 0)
        rc = pvs_sysfs_path(path, sizeof(path), root, "sys/bus/pci/devices/%s/class", bdf);
    if (rc == 0)
        rc = pvs_sysfs_read_hex(path, 0xffffff, klass);
    return rc;
}

static int mdev_list(const char *root, struct pvs_host_gpu **out, int *count, char *why,
                     size_t why_len)
{
    *out = NULL;
    *count = 0;
    char bus[PVS_SYSFS_PATH_MAX];
    if (pvs_sysfs_path(bus, sizeof(bus), root, "sys/class/mdev_bus") < 0) {
        pvs_text_error(why, why_len, "sysfs root too long");
        return PVS_ERANGE;
    }
    DIR *d = opendir(bus);
    if (!d)
        return 0; /* no mdev parent at all (no vfio-mdev driver loaded) */
    struct pvs_host_gpu *gpus = NULL;
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *bdf = e->d_name;
        if (bdf[0] == '.')
            continue;
        if (!pvs_sysfs_is_pci_bdf(bdf)) {
            PVS_LOG_D("mdev: %s/%s is not a PCI device, skipped", bus, bdf);
            continue;
        }
        unsigned vendor, device, klass;
        int r = read_pci_ids(root, bdf, &vendor, &device, &klass);
        if (r < 0) {
            PVS_LOG_W("mdev: %s: PCI vendor, device or class unreadable (%s), skipped", bdf,
                      r == PVS_EBADDATA ? "not a 0x number" : pvs_strerror(r));
            continue;
        }
        if ((klass >> 16) != 0x03) {
            PVS_LOG_D("mdev: %s: class 0x%06x is not a display controller, skipped", bdf, klass);
            continue;
        }
        if (n >= PVS_HOST_MAX_GPUS) {
            PVS_LOG_W("mdev: more than %d parents, the rest skipped", PVS_HOST_MAX_GPUS);
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
        g->backend = pvs_host_backend_mdev.name;
        strcpy(g->id, bdf);
        g->vendor_id = (uint16_t)vendor;
        g->device_id = (uint16_t)device;
        pvs_pci_ids_name(root, vendor, device, g->name, sizeof(g->name));
        char parent[PVS_SYSFS_PATH_MAX];
        rc = pvs_sysfs_path(parent, sizeof(parent), bus, "%s", bdf);
        if (rc == 0)
            rc = read_types(parent, g);
        if (rc < 0)
            break;
    }
    closedir(d);
    return pvs_host_list_done(gpus, n, rc, "mdev", why, why_len, out, count);
}

const struct pvs_host_backend_ops pvs_host_backend_mdev = {
    .name = "mdev",
    .platform = "Linux",
    .list = mdev_list,
};
