/* `pvstream-host check`'s results (check.h) and the Linux host checks:
 * the IOMMU on, the vfio modules loaded, a partitionable GPU with room for
 * more VMs. Everything is read under ctx->sysfs_root (SYSFS_ROOT/sys/...,
 * SYSFS_ROOT/proc/cmdline), so the tests run it against a fake tree. Every
 * result other than OK says how to fix it. The Windows checks are in
 * hyperv_check.c. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/backend.h"
#include "host/check.h"
#include "host/sysfs.h"
#include "host/text.h"

static void copy_text(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int pvs_checks_add(struct pvs_checks *c, const char *id, enum pvs_check_verdict v,
                   const char *found, const char *fix)
{
    if (c->count == c->cap) {
        int ncap = c->cap ? c->cap * 2 : 8;
        struct pvs_check *p = realloc(c->items, (size_t)ncap * sizeof(*p));
        if (!p)
            return PVS_ENOMEM;
        c->items = p;
        c->cap = ncap;
    }
    struct pvs_check *k = &c->items[c->count++];
    copy_text(k->id, sizeof(k->id), id);
    k->verdict = v;
    copy_text(k->found, sizeof(k->found), found);
    copy_text(k->fix, sizeof(k->fix), v == PVS_CHECK_OK ? "" : fix);
    return 0;
}

void pvs_checks_addf(struct pvs_checks_builder *b, const char *id, enum pvs_check_verdict v,
                     const char *fix, const char *fmt, ...)
{
    char found[PVS_CHECK_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(found, sizeof(found), fmt, ap);
    va_end(ap);
    if (b->rc == 0)
        b->rc = pvs_checks_add(b->c, id, v, found, v == PVS_CHECK_OK ? "" : fix);
}

void pvs_checks_free(struct pvs_checks *c)
{
    if (!c)
        return;
    free(c->items);
    c->items = NULL;
    c->count = c->cap = 0;
}

const char *pvs_check_verdict_name(enum pvs_check_verdict v)
{
    switch (v) {
    case PVS_CHECK_OK: return "ok";
    case PVS_CHECK_WARN: return "warn";
    case PVS_CHECK_FAIL: return "FAIL";
    case PVS_CHECK_SKIP: return "skip";
    default: return "?";
    }
}

/* Text from PowerShell or sysfs goes through pvs_text_plain: control
 * characters become '?'. */
int pvs_checks_format_table(const struct pvs_checks *c, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    int failed = 0, warned = 0;
    for (int i = 0; i < c->count; i++) {
        const struct pvs_check *k = &c->items[i];
        failed += k->verdict == PVS_CHECK_FAIL;
        warned += k->verdict == PVS_CHECK_WARN;
        pvs_text_printf(&t, "%-4s  ", pvs_check_verdict_name(k->verdict));
        pvs_text_plain(&t, k->id);
        for (size_t pad = strlen(k->id); pad < 16; pad++)
            pvs_text_puts(&t, " ");
        pvs_text_puts(&t, " ");
        pvs_text_plain(&t, k->found);
        pvs_text_puts(&t, "\n");
        if (*k->fix) {
            pvs_text_puts(&t, "      fix: ");
            pvs_text_plain(&t, k->fix);
            pvs_text_puts(&t, "\n");
        }
    }
    if (failed)
        pvs_text_printf(&t, "\n%d check%s failed: GPU partitions will not work until %s fixed\n",
                        failed, failed == 1 ? "" : "s", failed == 1 ? "it is" : "they are");
    else
        pvs_text_printf(&t, "\nno check failed%s\n", warned ? " (see the warnings)" : "");
    return pvs_text_take(&t, out);
}

int pvs_checks_format_json(const struct pvs_checks *c, char **out)
{
    static const char *const lower[] = { "ok", "warn", "fail", "skip" };
    struct pvs_text t = PVS_TEXT_INIT;
    int failed = 0;
    pvs_text_puts(&t, "{\"checks\": [");
    for (int i = 0; i < c->count; i++) {
        const struct pvs_check *k = &c->items[i];
        unsigned v = (unsigned)k->verdict < 4 ? (unsigned)k->verdict : PVS_CHECK_SKIP;
        failed += k->verdict == PVS_CHECK_FAIL;
        pvs_text_puts(&t, i ? ",\n  {\"id\": " : "\n  {\"id\": ");
        pvs_text_json_string(&t, k->id);
        pvs_text_printf(&t, ", \"verdict\": \"%s\", \"found\": ", lower[v]);
        pvs_text_json_string(&t, k->found);
        pvs_text_puts(&t, ", \"fix\": ");
        pvs_text_json_string(&t, k->fix);
        pvs_text_puts(&t, "}");
    }
    pvs_text_printf(&t, "%s],\n \"failed\": %d}\n", c->count ? "\n" : "", failed);
    return pvs_text_take(&t, out);
}

/* ---- Linux -------------------------------------------------------------- */

static const char fix_iommu[] =
    "turn on VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup; add intel_iommu=on "
    "(Intel; AMD's is on by default, else amd_iommu=on) to GRUB_CMDLINE_LINUX in "
    "/etc/default/grub, run update-grub, reboot";

/* Entries in dir other than . and ..; -1 when it cannot be opened. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* The IOMMU words of the kernel command line ("intel_iommu=on iommu=pt"),
 * or "" (none, or no cmdline). */
static void iommu_words(const char *root, char *buf, size_t len)
{
    char path[PVS_SYSFS_PATH_MAX], line[4096];
    buf[0] = '\0';
    if (pvs_sysfs_path(path, sizeof(path), root, "proc/cmdline") < 0 ||
        pvs_sysfs_read_text(path, line, sizeof(line)) < 0)
        return;
    size_t o = 0;
    for (char *w = strtok(line, " \t"); w; w = strtok(NULL, " \t")) {
        if (strncmp(w, "intel_iommu=", 12) && strncmp(w, "amd_iommu=", 10) &&
            strncmp(w, "iommu=", 6) && strncmp(w, "iommu.", 6))
            continue;
        int n = snprintf(buf + o, len - o, "%s%.64s", o ? " " : "", w);
        if (n < 0 || (size_t)n >= len - o)
            break;
        o += (size_t)n;
    }
}

static int check_iommu(const char *root, struct pvs_checks *out)
{
    char path[PVS_SYSFS_PATH_MAX], words[256], found[PVS_CHECK_TEXT_MAX];
    if (pvs_sysfs_path(path, sizeof(path), root, "sys/kernel/iommu_groups") < 0)
        return PVS_ERANGE;
    int groups = count_entries(path);
    iommu_words(root, words, sizeof(words));
    const char *cmdline = *words ? words : "no intel_iommu=, amd_iommu= or iommu= option";
    if (groups > 0) {
        snprintf(found, sizeof(found), "IOMMU on: %d IOMMU groups; kernel command line: %s",
                 groups, cmdline);
        return pvs_checks_add(out, "iommu", PVS_CHECK_OK, found, NULL);
    }
    snprintf(found, sizeof(found), "IOMMU off: no IOMMU groups in /sys/kernel/iommu_groups; "
             "kernel command line: %s", cmdline);
    return pvs_checks_add(out, "iommu", PVS_CHECK_FAIL, found, fix_iommu);
}

/* Loaded modules (or built in with parameters) have /sys/module/<name>. */
static int check_modules(const char *root, bool mdev, struct pvs_checks *out)
{
    static const char *const vfio[] = { "vfio_pci", "vfio_iommu_type1" };
    char path[PVS_SYSFS_PATH_MAX], missing[128] = "", found[PVS_CHECK_TEXT_MAX];
    for (size_t i = 0; i < sizeof(vfio) / sizeof(vfio[0]); i++) {
        if (pvs_sysfs_path(path, sizeof(path), root, "sys/module/%s", vfio[i]) < 0)
            return PVS_ERANGE;
        if (!pvs_sysfs_is_dir(path))
            snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
                     *missing ? ", " : "", vfio[i]);
    }
    int rc;
    if (!*missing) {
        rc = pvs_checks_add(out, "vfio-modules", PVS_CHECK_OK,
                            "vfio_pci and vfio_iommu_type1 are loaded", NULL);
    } else {
        snprintf(found, sizeof(found), "not loaded: %s", missing);
        rc = pvs_checks_add(out, "vfio-modules", PVS_CHECK_FAIL, found,
                            "modprobe vfio-pci; modprobe vfio_iommu_type1; to load them at "
                            "boot: printf 'vfio-pci\\nvfio_iommu_type1\\n' > "
                            "/etc/modules-load.d/vfio.conf");
    }
    if (rc < 0 || !mdev)
        return rc;
    if (pvs_sysfs_path(path, sizeof(path), root, "sys/module/mdev") < 0)
        return PVS_ERANGE;
    if (pvs_sysfs_is_dir(path))
        return pvs_checks_add(out, "mdev-module", PVS_CHECK_OK, "mdev is loaded", NULL);
    return pvs_checks_add(out, "mdev-module", PVS_CHECK_FAIL,
                          "mdev GPUs are listed, but the mdev module is not loaded",
                          "modprobe mdev (and, on kernels before 5.16, vfio_mdev); to load it "
                          "at boot: echo mdev > /etc/modules-load.d/mdev.conf");
}

static int check_gpu(const struct pvs_host_gpu *g, struct pvs_checks *out)
{
    char found[PVS_CHECK_TEXT_MAX];
    if (!strcmp(g->backend, "sriov")) {
        snprintf(found, sizeof(found), "%s: %d of %d virtual functions enabled", g->id,
                 g->num_vfs, g->total_vfs);
        return pvs_checks_add(out, "sriov-vfs", PVS_CHECK_OK, found, NULL);
    }
    int o = snprintf(found, sizeof(found), "%s:", g->id);
    int total = 0;
    for (int j = 0; j < g->type_count && o > 0 && (size_t)o < sizeof(found); j++) {
        total += g->types[j].available_instances;
        o += snprintf(found + o, sizeof(found) - (size_t)o, "%s %s %d available",
                      j ? "," : "", g->types[j].id, g->types[j].available_instances);
    }
    if (g->type_count == 0)
        snprintf(found + o, sizeof(found) - (size_t)o, " no readable mdev type");
    if (total > 0)
        return pvs_checks_add(out, "mdev-instances", PVS_CHECK_OK, found, NULL);
    return pvs_checks_add(out, "mdev-instances", PVS_CHECK_WARN, found,
                          "no instance left of any type: remove mediated devices that are not "
                          "needed (pvstream-host apply PLAN --remove, or echo 1 > "
                          "/sys/bus/mdev/devices/UUID/remove); NVIDIA vGPU runs one type per "
                          "GPU at a time");
}

int pvs_host_check_linux(const struct pvs_host_ctx *ctx, struct pvs_checks *out)
{
    const char *root = ctx && ctx->sysfs_root ? ctx->sysfs_root : "/";
    char why[256];
    struct pvs_host_gpu *gpus = NULL;
    int count = 0;
    int rc = pvs_host_list_all(root, &gpus, &count, why, sizeof(why));
    if (rc < 0)
        return rc;
    /* Only what Linux partitions (were Hyper-V's list to answer here). */
    int n = 0;
    for (int i = 0; i < count; i++) {
        if (!strcmp(gpus[i].backend, "mdev") || !strcmp(gpus[i].backend, "sriov")) {
            struct pvs_host_gpu keep = gpus[i];
            gpus[i] = gpus[n];
            gpus[n++] = keep;
        }
    }
    bool mdev = false;
    for (int i = 0; i < n; i++)
        mdev |= !strcmp(gpus[i].backend, "mdev");
    rc = check_iommu(root, out);
    if (rc == 0)
        rc = check_modules(root, mdev, out);
    if (rc == 0 && n == 0)
        rc = pvs_checks_add(out, "gpu", PVS_CHECK_FAIL,
                            "no partitionable GPU: no mediated-device parent in "
                            "/sys/class/mdev_bus and no SR-IOV display controller",
                            "load the GPU driver's vGPU/mdev support (NVIDIA's vGPU host "
                            "driver; i915 with enable_gvt=1 and kvmgt) or use a GPU and "
                            "driver with SR-IOV (sriov_totalvfs in /sys/bus/pci/devices/*/); "
                            "pvstream-host list shows what is found");
    for (int i = 0; rc == 0 && i < n; i++)
        rc = check_gpu(&gpus[i], out);
    pvs_host_gpus_free(&gpus, count);
    return rc;
}
