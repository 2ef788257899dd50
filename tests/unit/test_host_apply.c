/* `apply` for the Linux backends against a fake sysfs tree: mediated
 * devices created (UUIDs written to `create`), left alone when they exist,
 * removed; sriov_numvfs set, through 0 when it changes between two non-zero
 * counts. The tree's attributes are regular files opened with O_APPEND, so
 * each holds every value written, in order; a plan that does not fit must
 * leave every file as it was.
 *
 * On Windows only the refusal is tested: mediated devices and SR-IOV are
 * made through Linux sysfs, and both backends say so there without
 * touching anything (the fake trees need symlinks and ':' in names too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/backend.h"
#include "host/planfile.h"
#include "host/sysfs.h"
#ifndef _WIN32
#include "host_tree.h"
#endif
#include "test.h"

#define U1 "0b5e6a3c-1f2d-4e5f-8a9b-0c1d2e3f4a5b"
#define U2 "9c1d2e3f-4a5b-4c6d-8e7f-a0b1c2d3e4f5"
#define TYPES "sys/class/mdev_bus/0000:01:00.0/mdev_supported_types/"
#define T222 TYPES "nvidia-222/"
#define DEVS "sys/bus/mdev/devices/"
#define PF "sys/bus/pci/devices/0000:03:00.0/"

#ifndef _WIN32
static char *out_text;
static size_t out_len;

/* Runs a backend's apply with output to memory; returns its result. */
static int apply(const struct pvs_host_backend_ops *b, const struct pvs_planfile *pf,
                 bool dry_run, bool remove, char *why)
{
    free(out_text);
    out_text = NULL;
    FILE *out = open_memstream(&out_text, &out_len);
    struct pvs_host_ctx ctx = { tree_root, dry_run, remove, out };
    why[0] = '\0';
    int rc = b->apply(&ctx, pf, why, 1024);
    fclose(out);
    return rc;
}

static void mdev_plan(struct pvs_planfile *pf, const char *type)
{
    memset(pf, 0, sizeof(*pf));
    strcpy(pf->backend, "mdev");
    strcpy(pf->gpu, "0000:01:00.0");
    strcpy(pf->mdev_type, type);
    pf->plan.vms = 2;
    strcpy(pf->vm[0].name, "gaming");
    strcpy(pf->vm[1].name, "it's");
    strcpy(pf->vm[0].uuid, U1);
    strcpy(pf->vm[1].uuid, U2);
}

static void mdev_tree(const char *available)
{
    CHECK_INT(tree_new(), ==, 0);
    tree_put(T222 "available_instances", available);
    tree_put(T222 "create", "");
    tree_put(TYPES "nvidia-223/available_instances", "4\n");
    tree_put(TYPES "nvidia-223/create", "");
    tree_dir(DEVS);
}

static void test_mdev_create(void)
{
    struct pvs_planfile pf;
    char why[1024];
    mdev_plan(&pf, "nvidia-222");
    mdev_tree("16\n");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, 0);
    CHECK(!strcmp(tree_get(T222 "create"), U1 "\n" U2 "\n"));
    CHECK(!strcmp(tree_get(TYPES "nvidia-223/create"), ""));
    CHECK(strstr(out_text, "<address uuid='" U1 "'/>"));
    CHECK(strstr(out_text, "# VM 2 'it's': save the <hostdev> below as it_s-hostdev.xml, then "
                           "run: virsh attach-device 'it'\\''s' it_s-hostdev.xml --config\n"
                           "<hostdev mode='subsystem' type='mdev'"));

    /* VM 1's device exists: only VM 2's is created, both get their XML. */
    mdev_tree("1\n");
    tree_dir(DEVS U1);
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, 0);
    CHECK(!strcmp(tree_get(T222 "create"), U2 "\n"));
    CHECK(strstr(out_text, "mediated device " U1 " exists already, left alone"));
    CHECK(strstr(out_text, "<address uuid='" U1 "'/>"));
    CHECK(strstr(out_text, "<address uuid='" U2 "'/>"));
}

static void test_mdev_dry_run(void)
{
    struct pvs_planfile pf;
    char why[1024], want[2048];
    mdev_plan(&pf, "nvidia-222");
    mdev_tree("16\n");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, true, false, why), ==, 0);
    CHECK(!strcmp(tree_get(T222 "create"), ""));
    snprintf(want, sizeof(want), "write '" U1 "' to %s/" T222 "create\nwrite '" U2 "' to %s/"
             T222 "create\n", tree_root, tree_root);
    CHECK(!strncmp(out_text, want, strlen(want)));
    CHECK(strstr(out_text, "<address uuid='" U2 "'/>"));
    /* --remove --dry-run: nothing removed. */
    tree_put(DEVS U1 "/remove", "");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, true, true, why), ==, 0);
    snprintf(want, sizeof(want), "write '1' to %s/" DEVS U1 "/remove\n", tree_root);
    CHECK(!strcmp(out_text, want));
    CHECK(!strcmp(tree_get(DEVS U1 "/remove"), ""));
}

static void test_mdev_remove(void)
{
    struct pvs_planfile pf;
    char why[1024];
    mdev_plan(&pf, "nvidia-222");
    mdev_tree("14\n");
    tree_put(DEVS U1 "/remove", "");
    tree_put(DEVS U2 "/remove", "");
    tree_put(DEVS "ffffffff-0000-4000-8000-000000000000/remove", "");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, true, why), ==, 0);
    CHECK(!strcmp(tree_get(DEVS U1 "/remove"), "1\n"));
    CHECK(!strcmp(tree_get(DEVS U2 "/remove"), "1\n"));
    CHECK(!strcmp(tree_get(DEVS "ffffffff-0000-4000-8000-000000000000/remove"), ""));
    CHECK(!strcmp(tree_get(T222 "create"), ""));
    CHECK(!strstr(out_text, "<hostdev"));
    /* None left: nothing to do, still a success. */
    mdev_tree("16\n");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, true, why), ==, 0);
    CHECK(strstr(out_text, "nothing to remove"));
}

static void test_mdev_refused(void)
{
    struct pvs_planfile pf;
    char why[1024];
    mdev_plan(&pf, "nvidia-222");
    /* No instance left: a clear reason, nothing created. */
    mdev_tree("0\n");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, PVS_EINVAL);
    CHECK(strstr(why, "has 0 instances available, the plan needs 2 more"));
    CHECK(strstr(why, "Nothing was created"));
    CHECK(!strcmp(tree_get(T222 "create"), ""));
    /* One left for two VMs: the same. */
    mdev_tree("1\n");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, PVS_EINVAL);
    CHECK(!strcmp(tree_get(T222 "create"), ""));
    CHECK(out_text && !*out_text);
    /* A type the GPU does not have: the ones it has are named. */
    mdev_plan(&pf, "nvidia-999");
    mdev_tree("16\n");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, PVS_EINVAL);
    CHECK(strstr(why, "no mdev type 'nvidia-999'"));
    CHECK(strstr(why, "nvidia-222") && strstr(why, "nvidia-223"));
    CHECK(!strcmp(tree_get(T222 "create"), "") &&
          !strcmp(tree_get(TYPES "nvidia-223/create"), ""));
    CHECK(!tree_exists(TYPES "nvidia-999"));
    /* Not an mdev parent at all. */
    mdev_plan(&pf, "nvidia-222");
    strcpy(pf.gpu, "0000:02:00.0");
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, PVS_EINVAL);
    CHECK(strstr(why, "not a mediated-device parent"));
    /* No create attribute: an error, and no file made. */
    mdev_plan(&pf, "nvidia-222");
    mdev_tree("16\n");
    char path[1024];
    tree_path(path, sizeof(path), T222 "create");
    remove(path);
    CHECK_INT(apply(&pvs_host_backend_mdev, &pf, false, false, why), ==, PVS_EIO);
    CHECK(!tree_exists(T222 "create"));
    CHECK_INT(pvs_sysfs_write(path, U1 "\n"), ==, PVS_ENOENT);
    CHECK(!tree_exists(T222 "create"));
}

static void sriov_plan(struct pvs_planfile *pf, int vms)
{
    memset(pf, 0, sizeof(*pf));
    strcpy(pf->backend, "sriov");
    strcpy(pf->gpu, "0000:03:00.0");
    pf->plan.vms = vms;
    for (int i = 0; i < vms; i++)
        snprintf(pf->vm[i].name, sizeof(pf->vm[i].name), "vm%d", i + 1);
}

static void sriov_tree(const char *numvfs, int links)
{
    CHECK_INT(tree_new(), ==, 0);
    tree_put(PF "sriov_totalvfs", "7\n");
    tree_put(PF "sriov_numvfs", numvfs);
    for (int i = 0; i < links; i++) {
        char rel[128], target[64];
        snprintf(rel, sizeof(rel), PF "virtfn%d", i);
        snprintf(target, sizeof(target), "../0000:03:00.%d", i + 1);
        CHECK_INT(tree_link(rel, target), ==, 0);
    }
}

static void test_sriov(void)
{
    struct pvs_planfile pf;
    char why[1024], want[1024];
    /* 0 -> 4: one write. */
    sriov_plan(&pf, 4);
    sriov_tree("0\n", 4);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, false, why), ==, 0);
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "0\n4\n"));
    CHECK(strstr(out_text, "# VM 4 'vm4' gets virtual function 3, 0000:03:00.4\n"));
    CHECK(strstr(out_text, "<address domain='0x0000' bus='0x03' slot='0x00' function='0x4'/>"));
    CHECK(strstr(out_text, "virsh attach-device 'vm1' vm1-hostdev.xml --config"));

    /* 2 -> 4: 0 first (the kernel refuses 2 -> 4), then 4. */
    sriov_tree("2\n", 4);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, false, why), ==, 0);
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "2\n0\n4\n"));

    /* Already 4: nothing written. */
    sriov_tree("4\n", 4);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, false, why), ==, 0);
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "4\n"));
    CHECK(strstr(out_text, "nothing to write"));
    CHECK(strstr(out_text, "function='0x1'"));

    /* Dry run of 2 -> 4: the two writes, in order, and nothing written;
     * VFs that do not exist yet are named without an address. */
    sriov_tree("2\n", 2);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, true, false, why), ==, 0);
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "2\n"));
    snprintf(want, sizeof(want), "write '0' to %s/" PF "sriov_numvfs\nwrite '4' to %s/" PF
             "sriov_numvfs\n", tree_root, tree_root);
    CHECK(strstr(out_text, want));
    CHECK(strstr(out_text, "function='0x2'"));
    CHECK(strstr(out_text, "gets virtual function 3 (virtfn3): its address is known once"));

    /* More VMs than VFs: refused, nothing written. */
    sriov_plan(&pf, 8);
    sriov_tree("2\n", 2);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, false, why), ==, PVS_EINVAL);
    CHECK(strstr(why, "the plan has 8 VMs, GPU 0000:03:00.0 has 7 virtual functions"));
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "2\n"));

    /* --remove: 0. */
    sriov_plan(&pf, 2);
    sriov_tree("2\n", 2);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, true, why), ==, 0);
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "2\n0\n"));
    sriov_tree("0\n", 0);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, true, why), ==, 0);
    CHECK(!strcmp(tree_get(PF "sriov_numvfs"), "0\n"));

    /* The driver made no virtfn links: an error after the write. */
    sriov_tree("0\n", 0);
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, false, why), ==, PVS_EIO);
    CHECK(strstr(why, "virtfn0 is missing"));

    /* Not a PF: refused. */
    strcpy(pf.gpu, "0000:04:00.0");
    CHECK_INT(apply(&pvs_host_backend_sriov, &pf, false, false, why), ==, PVS_EINVAL);
    CHECK(strstr(why, "not an SR-IOV physical function"));
}
#else
/* Windows: both Linux backends refuse, with the reason, before they look
 * at the plan or write anything. */
static void test_windows_refuses(void)
{
    struct pvs_planfile pf;
    char why[1024];
    memset(&pf, 0, sizeof(pf));
    strcpy(pf.backend, "mdev");
    strcpy(pf.gpu, "0000:01:00.0");
    strcpy(pf.mdev_type, "nvidia-222");
    pf.plan.vms = 1;
    strcpy(pf.vm[0].name, "gaming");
    strcpy(pf.vm[0].uuid, U1);
    FILE *out = tmpfile();
    CHECK(out != NULL);
    struct pvs_host_ctx ctx = { "/nonexistent", false, false, out };
    CHECK_INT(pvs_host_backend_mdev.apply(&ctx, &pf, why, sizeof(why)), ==, PVS_ENOTSUP);
    CHECK(strstr(why, "Linux KVM host") != NULL);
    strcpy(pf.backend, "sriov");
    CHECK_INT(pvs_host_backend_sriov.apply(&ctx, &pf, why, sizeof(why)), ==, PVS_ENOTSUP);
    CHECK(strstr(why, "Linux KVM host") != NULL);
    ctx.dry_run = true;
    CHECK_INT(pvs_host_backend_sriov.apply(&ctx, &pf, why, sizeof(why)), ==, PVS_ENOTSUP);
    char *printed = test_read_back(out);
    CHECK(printed && !*printed);
    free(printed);
}
#endif

int main(void)
{
#ifndef _WIN32
    RUN(test_mdev_create);
    RUN(test_mdev_dry_run);
    RUN(test_mdev_remove);
    RUN(test_mdev_refused);
    RUN(test_sriov);
    free(out_text);
    tree_free();
#else
    RUN(test_windows_refuses);
#endif
    TEST_EXIT();
}
