/* `check`'s results list, its table and JSON, and the Linux host checks on
 * fake trees: IOMMU on and off, the vfio modules there or not, mdev types
 * with and without instances left, an SR-IOV PF, no GPU at all. The
 * Linux checks are not run on Windows: they read Linux sysfs and procfs,
 * which a Windows host has not (and the trees' PCI addresses hold ':',
 * which a Windows file name cannot). The Hyper-V checks are in
 * test_host_hyperv.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/check.h"
#ifndef _WIN32
#include "host_tree.h"
#endif
#include "test.h"

#ifndef _WIN32
#define MT "sys/class/mdev_bus/0000:01:00.0/mdev_supported_types/"

static const struct pvs_check *find(const struct pvs_checks *c, const char *id)
{
    for (int i = 0; i < c->count; i++)
        if (!strcmp(c->items[i].id, id))
            return &c->items[i];
    return NULL;
}

static void run_checks(struct pvs_checks *c)
{
    struct pvs_host_ctx ctx = { .sysfs_root = tree_root, .out = stdout };
    pvs_checks_free(c);
    CHECK_INT(pvs_host_check_linux(&ctx, c), ==, 0);
}

static void pci(const char *bdf, const char *klass)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/vendor", bdf);
    tree_put(rel, "0x10de\n");
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/device", bdf);
    tree_put(rel, "0x1eb8\n");
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/class", bdf);
    tree_put(rel, klass);
}
#endif

static void test_results(void)
{
    struct pvs_checks c = { NULL, 0, 0 };
    char long_text[2000];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    for (int i = 0; i < 20; i++)
        CHECK_INT(pvs_checks_add(&c, "many", PVS_CHECK_WARN, "w", "do this"), ==, 0);
    CHECK_INT(pvs_checks_add(&c, "ok-one", PVS_CHECK_OK, "fine", "ignored"), ==, 0);
    CHECK_INT(pvs_checks_add(&c, "bad\"one", PVS_CHECK_FAIL, long_text, "fix\nit"), ==, 0);
    CHECK_INT(c.count, ==, 22);
    CHECK(!strcmp(c.items[20].fix, "")); /* an OK result has no fix */
    CHECK_INT(strlen(c.items[21].found), ==, PVS_CHECK_TEXT_MAX - 1);
    CHECK(!strcmp(pvs_check_verdict_name(PVS_CHECK_FAIL), "FAIL"));
    CHECK(!strcmp(pvs_check_verdict_name(PVS_CHECK_SKIP), "skip"));
    char *text = NULL;
    CHECK_INT(pvs_checks_format_table(&c, &text), ==, 0);
    CHECK(text && strstr(text, "ok    ok-one           fine\n"));
    CHECK(text && strstr(text, "      fix: fix?it\n"));
    CHECK(text && strstr(text, "1 check failed"));
    free(text);
    CHECK_INT(pvs_checks_format_json(&c, &text), ==, 0);
    CHECK(text && strstr(text, "{\"id\": \"bad\\\"one\", \"verdict\": \"fail\", \"found\": \"xxx"));
    CHECK(text && strstr(text, "\"fix\": \"fix\\u000ait\"}"));
    CHECK(text && strstr(text, "\"failed\": 1}\n"));
    free(text);
    pvs_checks_free(&c);
    CHECK(c.items == NULL && c.count == 0);
    CHECK_INT(pvs_checks_format_json(&c, &text), ==, 0);
    CHECK(text && !strcmp(text, "{\"checks\": [],\n \"failed\": 0}\n"));
    free(text);
}

#ifndef _WIN32
static void test_linux_ready(void)
{
    struct pvs_checks c = { NULL, 0, 0 };
    CHECK_INT(tree_new(), ==, 0);
    tree_dir("sys/kernel/iommu_groups/0");
    tree_dir("sys/kernel/iommu_groups/1");
    tree_put("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro intel_iommu=on iommu=pt "
                             "quiet\n");
    tree_dir("sys/module/vfio_pci");
    tree_dir("sys/module/vfio_iommu_type1");
    tree_dir("sys/module/mdev");
    pci("0000:01:00.0", "0x030200\n");
    tree_put(MT "nvidia-222/available_instances", "16\n");
    tree_put(MT "nvidia-223/available_instances", "0\n");
    pci("0000:03:00.0", "0x030000\n");
    tree_put("sys/bus/pci/devices/0000:03:00.0/sriov_totalvfs", "7\n");
    tree_put("sys/bus/pci/devices/0000:03:00.0/sriov_numvfs", "2\n");
    run_checks(&c);
    const struct pvs_check *k = find(&c, "iommu");
    CHECK(k && k->verdict == PVS_CHECK_OK);
    CHECK(k && strstr(k->found, "2 IOMMU groups; kernel command line: intel_iommu=on iommu=pt"));
    k = find(&c, "vfio-modules");
    CHECK(k && k->verdict == PVS_CHECK_OK);
    k = find(&c, "mdev-module");
    CHECK(k && k->verdict == PVS_CHECK_OK);
    k = find(&c, "mdev-instances");
    CHECK(k && k->verdict == PVS_CHECK_OK);
    CHECK(k && strstr(k->found, "0000:01:00.0: nvidia-222 16 available, nvidia-223 0 available"));
    k = find(&c, "sriov-vfs");
    CHECK(k && k->verdict == PVS_CHECK_OK && strstr(k->found, "2 of 7 virtual functions"));
    CHECK(find(&c, "gpu") == NULL);
    for (int i = 0; i < c.count; i++)
        CHECK(c.items[i].verdict == PVS_CHECK_OK && !*c.items[i].fix);

    /* Every type used up: a warning with a fix. */
    tree_put(MT "nvidia-222/available_instances", "0\n");
    run_checks(&c);
    k = find(&c, "mdev-instances");
    CHECK(k && k->verdict == PVS_CHECK_WARN && strstr(k->fix, "/remove"));
    pvs_checks_free(&c);
}

static void test_linux_not_ready(void)
{
    struct pvs_checks c = { NULL, 0, 0 };
    /* Nothing at all: IOMMU off, no modules, no GPU, each with a fix. */
    CHECK_INT(tree_new(), ==, 0);
    tree_put("proc/cmdline", "root=/dev/sda1 intel_iommu=off\n");
    run_checks(&c);
    const struct pvs_check *k = find(&c, "iommu");
    CHECK(k && k->verdict == PVS_CHECK_FAIL);
    CHECK(k && strstr(k->found, "IOMMU off") && strstr(k->found, "intel_iommu=off"));
    CHECK(k && strstr(k->fix, "add intel_iommu=on") && strstr(k->fix, "GRUB_CMDLINE_LINUX") &&
          strstr(k->fix, "update-grub"));
    k = find(&c, "vfio-modules");
    CHECK(k && k->verdict == PVS_CHECK_FAIL);
    CHECK(k && strstr(k->found, "vfio_pci, vfio_iommu_type1"));
    CHECK(k && strstr(k->fix, "modprobe vfio-pci") &&
          strstr(k->fix, "/etc/modules-load.d/vfio.conf"));
    k = find(&c, "gpu");
    CHECK(k && k->verdict == PVS_CHECK_FAIL && *k->fix);
    CHECK(find(&c, "mdev-module") == NULL); /* no mdev GPU: not asked */

    /* An empty iommu_groups, one module of two, an mdev GPU without the
     * mdev module, no cmdline. */
    CHECK_INT(tree_new(), ==, 0);
    tree_dir("sys/kernel/iommu_groups");
    tree_dir("sys/module/vfio_pci");
    pci("0000:01:00.0", "0x030200\n");
    tree_put(MT "nvidia-222/available_instances", "16\n");
    run_checks(&c);
    k = find(&c, "iommu");
    CHECK(k && k->verdict == PVS_CHECK_FAIL && strstr(k->found, "no intel_iommu="));
    k = find(&c, "vfio-modules");
    CHECK(k && k->verdict == PVS_CHECK_FAIL && !strcmp(k->found, "not loaded: vfio_iommu_type1"));
    k = find(&c, "mdev-module");
    CHECK(k && k->verdict == PVS_CHECK_FAIL && strstr(k->fix, "modprobe mdev"));
    CHECK(find(&c, "gpu") == NULL);
    for (int i = 0; i < c.count; i++)
        CHECK(c.items[i].verdict == PVS_CHECK_OK || *c.items[i].fix);
    pvs_checks_free(&c);
}
#endif

int main(void)
{
    RUN(test_results);
#ifndef _WIN32
    RUN(test_linux_ready);
    RUN(test_linux_not_ready);
    tree_free();
#endif
    TEST_EXIT();
}
