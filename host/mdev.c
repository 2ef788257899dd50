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
 * leaves that field empty (the type is still usable).
 *
 * apply creates one mediated device per VM of a saved plan: it writes the
 * VM's UUID to .../mdev_supported_types/<type>/create, leaves alone a UUID
 * that exists already under SYSFS_ROOT/sys/bus/mdev/devices, and checks
 * the type and available_instances first so that a plan that does not fit
 * creates nothing. --remove writes 1 to .../devices/<uuid>/remove. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/error.h"
#include "common/log.h"
#include "host/backend.h"
#include "host/planfile.h"
#include "host/sysfs.h"
#include "host/text.h"
#include "host/xml.h"

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

/* ---- apply -------------------------------------------------------------- */

static bool exists(const char *path, bool dir)
{
    struct stat st;
    return stat(path, &st) == 0 && (!dir || S_ISDIR(st.st_mode));
}

/* The names in dir, ", "-separated, sorted by readdir's whim: for messages. */
static void dir_names(const char *dir, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", e->d_name);
        if (w < 0 || (size_t)w >= len - o)
            break;
        o += (size_t)w;
    }
    closedir(d);
}

static int mdev_apply(const struct pvs_host_ctx *ctx, const struct pvs_planfile *pf, char *why,
                      size_t why_len)
{
#ifdef _WIN32
    (void)ctx, (void)pf;
    pvs_text_error(why, why_len, "mediated devices are made on a Linux KVM host");
    return PVS_ENOTSUP;
#endif
    const char *root = ctx->sysfs_root;
    int vms = pf->plan.vms;
    char parent[PVS_SYSFS_PATH_MAX], types[PVS_SYSFS_PATH_MAX], tdir[PVS_SYSFS_PATH_MAX];
    char path[PVS_SYSFS_PATH_MAX], msg[512];
    if (strcmp(pf->backend, "mdev") || !pvs_sysfs_is_pci_bdf(pf->gpu) || vms < 1 ||
        vms > PVS_PLAN_MAX_VMS) {
        pvs_text_error(why, why_len, "not an mdev plan");
        return PVS_EINVAL;
    }
    if (pvs_sysfs_path(parent, sizeof(parent), root, "sys/class/mdev_bus/%s", pf->gpu) < 0 ||
        pvs_sysfs_path(types, sizeof(types), parent, "mdev_supported_types") < 0 ||
        pvs_sysfs_path(tdir, sizeof(tdir), types, "%s", pf->mdev_type) < 0) {
        pvs_text_error(why, why_len, "sysfs root too long");
        return PVS_EINVAL;
    }
    if (!exists(types, true)) {
        pvs_text_error(why, why_len, "GPU %s is not a mediated-device parent here (no %s): "
                       "load its vGPU/mdev driver (pvstream-host check, pvstream-host list)",
                       pf->gpu, types);
        return PVS_EINVAL;
    }
    if (!exists(tdir, true)) {
        dir_names(types, msg, sizeof(msg));
        pvs_text_error(why, why_len, "GPU %s has no mdev type '%s' (no %s); its types: %s. "
                       "Make a new plan (pvstream-host plan --gpu %s --type TYPE --save FILE)",
                       pf->gpu, pf->mdev_type, tdir, *msg ? msg : "none", pf->gpu);
        return PVS_EINVAL;
    }
    bool there[PVS_PLAN_MAX_VMS];
    int present = 0;
    for (int i = 0; i < vms; i++) {
        if (pvs_sysfs_path(path, sizeof(path), root, "sys/bus/mdev/devices/%s",
                           pf->vm[i].uuid) < 0) {
            pvs_text_error(why, why_len, "sysfs root too long");
            return PVS_EINVAL;
        }
        there[i] = exists(path, false);
        present += there[i];
    }

    if (ctx->remove) {
        if (!present)
            fprintf(ctx->out, "# none of the plan's %d mediated devices exists: nothing to "
                    "remove\n", vms);
        for (int i = 0, done = 0; i < vms; i++) {
            if (!there[i])
                continue;
            pvs_sysfs_path(path, sizeof(path), root, "sys/bus/mdev/devices/%s/remove",
                           pf->vm[i].uuid);
            int rc = pvs_host_apply_write(ctx, path, "1", msg, sizeof(msg));
            if (rc < 0) {
                pvs_text_error(why, why_len, "%s (VM '%s'; %d of %d removed)", msg,
                               pf->vm[i].name, done, present);
                return PVS_EIO;
            }
            done++;
        }
        return 0;
    }

    int need = vms - present;
    if (need > 0) {
        unsigned avail = 0;
        pvs_sysfs_path(path, sizeof(path), tdir, "available_instances");
        int rc = pvs_sysfs_read_uint(path, 1000000, &avail);
        if (rc < 0) {
            pvs_text_error(why, why_len, "cannot read %s: %s", path,
                           rc == PVS_EBADDATA ? "not a number" : pvs_strerror(rc));
            return PVS_EIO;
        }
        if (avail < (unsigned)need) {
            pvs_text_error(why, why_len, "type %s on GPU %s has %u instances available, the "
                           "plan needs %d more%s: remove mediated devices that are not needed "
                           "(ls /sys/bus/mdev/devices), or plan fewer VMs. Nothing was "
                           "created", pf->mdev_type, pf->gpu, avail, need,
                           avail ? "" : " (NVIDIA vGPU runs one type per GPU at a time: "
                                        "another type in use leaves none of this one)");
            return PVS_EINVAL;
        }
        pvs_sysfs_path(path, sizeof(path), tdir, "create");
        if (!exists(path, false)) {
            pvs_text_error(why, why_len, "%s does not exist: the driver does not create "
                           "mediated devices of this type", path);
            return PVS_EIO;
        }
    }
    for (int i = 0, done = 0; i < vms; i++) {
        if (there[i]) {
            fprintf(ctx->out, "# VM %d '%s': mediated device %s exists already, left alone\n",
                    i + 1, pf->vm[i].name, pf->vm[i].uuid);
            continue;
        }
        int rc = pvs_host_apply_write(ctx, path, pf->vm[i].uuid, msg, sizeof(msg));
        if (rc < 0) {
            pvs_text_error(why, why_len, "%s (VM '%s'; %d of %d created: run apply again once "
                           "fixed, or apply --remove to undo)", msg, pf->vm[i].name, done,
                           need);
            return PVS_EIO;
        }
        done++;
    }
    for (int i = 0; i < vms; i++) {
        char *xml = NULL;
        if (pvs_xml_hostdev_mdev(pf->vm[i].uuid, &xml) < 0) {
            pvs_text_error(why, why_len, "out of memory");
            return PVS_ENOMEM;
        }
        pvs_host_apply_print_hostdev(ctx, i + 1, pf->vm[i].name, xml);
        free(xml);
    }
    return 0;
}

const struct pvs_host_backend_ops pvs_host_backend_mdev = {
    .name = "mdev",
    .platform = "Linux",
    .list = mdev_list,
    .apply = mdev_apply,
};
