/* pvstream-host's list backends (mdev, sriov) against a fake sysfs tree
 * that this test writes in a temporary directory, the bounded sysfs reads,
 * the pci.ids lookup, and the listing's JSON. */
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "host/backend.h"
#include "host/sysfs.h"
#include "test.h"
#include "host_test.h"

static char root[256];
static int warnings;

static void mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

/* Writes ROOT/REL with `len` bytes of `data` (len < 0: strlen). */
static void put_n(const char *rel, const char *data, long len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdirs(path);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(data, 1, len < 0 ? strlen(data) : (size_t)len, f);
    fclose(f);
}

static void put(const char *rel, const char *data)
{
    put_n(rel, data, -1);
}

static void pci(const char *bdf, const char *vendor, const char *device, const char *klass)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/vendor", bdf);
    put(rel, vendor);
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/device", bdf);
    put(rel, device);
    snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/class", bdf);
    put(rel, klass);
}

#define MT "sys/class/mdev_bus/0000:01:00.0/mdev_supported_types/"
#define PF "sys/bus/pci/devices/"

static void build_tree(void)
{
    /* An NVIDIA vGPU parent (3D controller) with four types. */
    pci("0000:01:00.0", "0x10de\n", "0x1eb8\n", "0x030200\n");
    put(MT "nvidia-222/name", "GRID T4-1B\n");
    put(MT "nvidia-222/description", "num_heads=4, frl_config=45, framebuffer=1024M\n");
    put(MT "nvidia-222/device_api", "vfio-pci\n");
    put(MT "nvidia-222/available_instances", "16\n");
    put(MT "nvidia-223/name", "GRID T4-2B\n");
    put(MT "nvidia-223/description", "low_gm_size: 128MB\nhigh_gm_size: 512MB\n");
    put(MT "nvidia-223/device_api", "vfio-pci\n");
    put(MT "nvidia-223/available_instances", "0\n");
    /* No name file: listed with an empty name. */
    put(MT "nvidia-224/device_api", "vfio-pci\n");
    put(MT "nvidia-224/available_instances", "4");
    /* Garbage: skipped with a warning. */
    put(MT "nvidia-225/name", "GRID T4-4B\n");
    put(MT "nvidia-225/available_instances", "lots\n");
    put(MT "nvidia-226/name", "GRID T4-8B\n");
    put_n(MT "nvidia-226/available_instances", "1\0" "2\n", 4);
    put(MT "nvidia-227/available_instances", "-1\n");
    put(MT "nvidia-228/available_instances", "99999999999999999999\n");
    /* An mdev parent that is not a PCI address (vfio-ap's "matrix"). */
    char path[512];
    snprintf(path, sizeof(path), "%s/sys/class/mdev_bus/matrix/mdev_supported_types", root);
    mkdirs(path);
    /* A NIC as mdev parent: not a display controller. */
    pci("0000:02:00.0", "0x15b3\n", "0x101d\n", "0x020000\n");
    put("sys/class/mdev_bus/0000:02:00.0/mdev_supported_types/mlx5_core-local/"
        "available_instances", "8\n");

    /* An AMD SR-IOV PF, a NIC with SR-IOV (ignored), a GPU whose
     * sriov_totalvfs is garbage (skipped), a GPU without SR-IOV, a GPU with
     * totalvfs 0. */
    pci("0000:03:00.0", "0x1002\n", "0x7362\n", "0x030000\n");
    put(PF "0000:03:00.0/sriov_totalvfs", "7\n");
    put(PF "0000:03:00.0/sriov_numvfs", "0\n");
    pci("0000:05:00.0", "0x8086\n", "0x1572\n", "0x020000\n");
    put(PF "0000:05:00.0/sriov_totalvfs", "64\n");
    put(PF "0000:05:00.0/sriov_numvfs", "0\n");
    pci("0000:06:00.0", "0x1002\n", "0x7362\n", "0x030000\n");
    put(PF "0000:06:00.0/sriov_totalvfs", "x7\n");
    put(PF "0000:06:00.0/sriov_numvfs", "0\n");
    pci("0000:07:00.0", "0x10de\n", "0x2704\n", "0x030000\n");
    pci("0000:08:00.0", "0x8086\n", "0x56c0\n", "0x038000\n");
    put(PF "0000:08:00.0/sriov_totalvfs", "0\n");
    put(PF "0000:08:00.0/sriov_numvfs", "0\n");
    /* The NVIDIA parent also has vendor files but no SR-IOV: not a PF. */

    /* pci.ids: the first line's tail, cut by the reader's 511-byte buffer,
     * looks like a vendor line and must not be taken for one. */
    char ids[2048];
    char pad[506];
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    snprintf(ids, sizeof(ids),
             "# pci.ids for the test\n"
             "abcd  %s10de  Fake vendor\n"
             "10de  NVIDIA Corporation\n"
             "\t1eb7  TU104\n"
             "\t\t10de 1eb8  not a device line\n"
             "\t1eb8  TU104GL [Tesla T4]\n"
             "1002  Advanced Micro Devices, Inc. [AMD/ATI]\n"
             "\t7360  Navi 12\n"
             "C 03  Display controller\n", pad);
    put("usr/share/hwdata/pci.ids", ids);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void test_sysfs_reads(void)
{
    char path[PVS_SYSFS_PATH_MAX], buf[16];
    unsigned v = 0;
    CHECK_INT(pvs_sysfs_path(path, sizeof(path), "/", "sys/%s", "x"), ==, 0);
    CHECK(!strcmp(path, "/sys/x"));
    CHECK_INT(pvs_sysfs_path(path, sizeof(path), "/tmp/t//", "sys"), ==, 0);
    CHECK(!strcmp(path, "/tmp/t/sys"));
    CHECK_INT(pvs_sysfs_path(path, 8, "/tmp/t", "sys/long"), ==, PVS_ERANGE);

    put("r/ok", "16\n");
    put("r/hex", "0x10DE\n");
    put("r/empty", "");
    put("r/long", "0123456789abcdefXYZ\n");
    put("r/text", "a\tb\nc\n\n");
    snprintf(path, sizeof(path), "%s/r/ok", root);
    CHECK_INT(pvs_sysfs_read_uint(path, 100, &v), ==, 0);
    CHECK_INT(v, ==, 16);
    CHECK_INT(pvs_sysfs_read_uint(path, 15, &v), ==, PVS_EBADDATA);
    CHECK_INT(pvs_sysfs_read_hex(path, 0xffff, &v), ==, PVS_EBADDATA); /* no 0x */
    snprintf(path, sizeof(path), "%s/r/hex", root);
    CHECK_INT(pvs_sysfs_read_hex(path, 0xffff, &v), ==, 0);
    CHECK_INT(v, ==, 0x10de);
    CHECK_INT(pvs_sysfs_read_uint(path, 100, &v), ==, PVS_EBADDATA);
    snprintf(path, sizeof(path), "%s/r/empty", root);
    CHECK_INT(pvs_sysfs_read_uint(path, 100, &v), ==, PVS_EBADDATA);
    snprintf(path, sizeof(path), "%s/r/long", root);
    CHECK_INT(pvs_sysfs_read(path, buf, sizeof(buf)), ==, PVS_EBADDATA);
    CHECK(buf[0] == '\0');
    snprintf(path, sizeof(path), "%s/r/missing", root);
    CHECK_INT(pvs_sysfs_read(path, buf, sizeof(buf)), ==, PVS_ENOENT);
    snprintf(path, sizeof(path), "%s/r/text", root);
    CHECK_INT(pvs_sysfs_read_text(path, buf, sizeof(buf)), ==, 0);
    CHECK(!strcmp(buf, "a?b; c"));

    CHECK(pvs_sysfs_is_pci_bdf("0000:01:00.0"));
    CHECK(pvs_sysfs_is_pci_bdf("0001:ff:1f.7"));
    CHECK(!pvs_sysfs_is_pci_bdf("0000:01:00.8"));
    CHECK(!pvs_sysfs_is_pci_bdf("0000:01:00.0x"));
    CHECK(!pvs_sysfs_is_pci_bdf(".."));
    CHECK(!pvs_sysfs_is_pci_bdf("0000:0G:00.0"));
}

static void test_pci_ids(void)
{
    char name[PVS_HOST_NAME_MAX];
    CHECK_INT(pvs_pci_ids_name(root, 0x10de, 0x1eb8, name, sizeof(name)), ==, 0);
    CHECK(!strcmp(name, "NVIDIA Corporation TU104GL [Tesla T4]"));
    CHECK_INT(pvs_pci_ids_name(root, 0x1002, 0x7362, name, sizeof(name)), ==, 0);
    CHECK(!strcmp(name, "Advanced Micro Devices, Inc. [AMD/ATI]"));
    CHECK_INT(pvs_pci_ids_name(root, 0x8086, 0x1572, name, sizeof(name)), ==, PVS_ENOENT);
    CHECK(name[0] == '\0');
    char small[8];
    CHECK_INT(pvs_pci_ids_name(root, 0x10de, 0x1eb8, small, sizeof(small)), ==, 0);
    CHECK(!strcmp(small, "NVIDIA "));
    CHECK_INT(pvs_pci_ids_name("/nonexistent-root", 0x10de, 0x1eb8, name, sizeof(name)), ==,
              PVS_ENOENT);
}

static void test_mdev(void)
{
    struct pvs_host_gpu *g = NULL;
    int n = -1;
    char why[256] = "";
    warnings = 0;
    CHECK_INT(pvs_host_backend_mdev.list(root, &g, &n, why, sizeof(why)), ==, 0);
    CHECK_INT(n, ==, 1);
    /* nvidia-225..228 hold garbage; the NIC and "matrix" are skipped
     * silently (they are not GPUs). */
    CHECK_INT(warnings, ==, 4);
    if (n != 1 || !g)
        return;
    CHECK(!strcmp(g->backend, "mdev"));
    CHECK(!strcmp(g->id, "0000:01:00.0"));
    CHECK_INT(g->vendor_id, ==, 0x10de);
    CHECK_INT(g->device_id, ==, 0x1eb8);
    CHECK(!strcmp(g->name, "NVIDIA Corporation TU104GL [Tesla T4]"));
    CHECK_INT(g->type_count, ==, 3);
    if (g->type_count == 3) {
        const struct pvs_host_mdev_type *t = g->types;
        CHECK(!strcmp(t[0].id, "nvidia-222"));
        CHECK(!strcmp(t[0].name, "GRID T4-1B"));
        CHECK(!strcmp(t[0].description, "num_heads=4, frl_config=45, framebuffer=1024M"));
        CHECK(!strcmp(t[0].device_api, "vfio-pci"));
        CHECK_INT(t[0].available_instances, ==, 16);
        CHECK(!strcmp(t[1].id, "nvidia-223"));
        CHECK(!strcmp(t[1].description, "low_gm_size: 128MB; high_gm_size: 512MB"));
        CHECK_INT(t[1].available_instances, ==, 0);
        CHECK(!strcmp(t[2].id, "nvidia-224"));
        CHECK(!strcmp(t[2].name, ""));
        CHECK(!strcmp(t[2].description, ""));
        CHECK_INT(t[2].available_instances, ==, 4);
    }
    pvs_host_gpus_free(&g, n);
    CHECK(g == NULL);
}

static void test_sriov(void)
{
    struct pvs_host_gpu *g = NULL;
    int n = -1;
    char why[256] = "";
    warnings = 0;
    CHECK_INT(pvs_host_backend_sriov.list(root, &g, &n, why, sizeof(why)), ==, 0);
    CHECK_INT(n, ==, 1);
    CHECK_INT(warnings, >=, 1); /* 0000:06:00.0's "x7" */
    if (n == 1 && g) {
        CHECK(!strcmp(g->backend, "sriov"));
        CHECK(!strcmp(g->id, "0000:03:00.0"));
        CHECK_INT(g->vendor_id, ==, 0x1002);
        CHECK_INT(g->device_id, ==, 0x7362);
        CHECK(!strcmp(g->name, "Advanced Micro Devices, Inc. [AMD/ATI]"));
        CHECK_INT(g->total_vfs, ==, 7);
        CHECK_INT(g->num_vfs, ==, 0);
        CHECK_INT(g->type_count, ==, 0);
        CHECK(g->types == NULL);
    }
    pvs_host_gpus_free(&g, n);
}

static void test_registry_and_json(void)
{
    CHECK(pvs_host_backend_find("mdev") == &pvs_host_backend_mdev);
    CHECK(pvs_host_backend_find("sriov") == &pvs_host_backend_sriov);
    CHECK(pvs_host_backend_find("hyperv") == &pvs_host_backend_hyperv);
    CHECK(pvs_host_backend_find("vmware") == NULL);
    struct pvs_host_gpu *g = NULL;
    int n = -1;
    char why[256] = "";
#ifndef _WIN32
    CHECK_INT(pvs_host_backend_hyperv.list(root, &g, &n, why, sizeof(why)), ==, PVS_ENOTSUP);
    CHECK(strstr(why, "Windows only") != NULL);
    CHECK_INT(n, ==, 0);
#endif
    CHECK_INT(pvs_host_list_all(root, &g, &n, why, sizeof(why)), ==, 0);
    CHECK_INT(n, ==, 2);
    char *json = NULL;
    CHECK_INT(pvs_host_format_list_json(g, n, &json), ==, 0);
    static const char want[] =
        "{\"gpus\": [\n"
        "  {\"backend\": \"mdev\", \"id\": \"0000:01:00.0\", \"vendor_id\": \"10de\", "
        "\"device_id\": \"1eb8\", \"name\": \"NVIDIA Corporation TU104GL [Tesla T4]\",\n"
        "   \"types\": [\n"
        "    {\"id\": \"nvidia-222\", \"name\": \"GRID T4-1B\", \"description\": "
        "\"num_heads=4, frl_config=45, framebuffer=1024M\", \"device_api\": \"vfio-pci\", "
        "\"available_instances\": 16},\n"
        "    {\"id\": \"nvidia-223\", \"name\": \"GRID T4-2B\", \"description\": "
        "\"low_gm_size: 128MB; high_gm_size: 512MB\", \"device_api\": \"vfio-pci\", "
        "\"available_instances\": 0},\n"
        "    {\"id\": \"nvidia-224\", \"name\": \"\", \"description\": \"\", "
        "\"device_api\": \"vfio-pci\", \"available_instances\": 4}]},\n"
        "  {\"backend\": \"sriov\", \"id\": \"0000:03:00.0\", \"vendor_id\": \"1002\", "
        "\"device_id\": \"7362\", \"name\": \"Advanced Micro Devices, Inc. [AMD/ATI]\", "
        "\"total_vfs\": 7, \"num_vfs\": 0}\n"
        "]}\n";
    CHECK(json && !strcmp(json, want));
    if (json && strcmp(json, want))
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", json, want);
    free(json);
    char *table = NULL;
    CHECK_INT(pvs_host_format_list_table(g, n, &table), ==, 0);
    CHECK(table && strstr(table, "mdev    0000:01:00.0  10de:1eb8  NVIDIA"));
    CHECK(table && strstr(table, "type nvidia-223: 0 available, GRID T4-2B (vfio-pci)"));
    CHECK(table && strstr(table, "virtual functions: 0 of 7 enabled"));
    free(table);
    pvs_host_gpus_free(&g, n);

    CHECK_INT(pvs_host_format_list_json(NULL, 0, &json), ==, 0);
    CHECK(json && !strcmp(json, "{\"gpus\": []}\n"));
    free(json);
}

static void test_empty_tree(void)
{
    char empty[300];
    snprintf(empty, sizeof(empty), "%s/empty", root);
    mkdirs(empty);
    struct pvs_host_gpu *g = (struct pvs_host_gpu *)1;
    int n = -1;
    char why[256];
    CHECK_INT(pvs_host_list_all(empty, &g, &n, why, sizeof(why)), ==, 0);
    CHECK_INT(n, ==, 0);
    CHECK(g == NULL);
    /* sys/ present but empty directories. */
    char sub[400];
    snprintf(sub, sizeof(sub), "%s/sys/class/mdev_bus", empty);
    mkdirs(sub);
    snprintf(sub, sizeof(sub), "%s/sys/bus/pci/devices", empty);
    mkdirs(sub);
    CHECK_INT(pvs_host_list_all(empty, &g, &n, why, sizeof(why)), ==, 0);
    CHECK_INT(n, ==, 0);
    pvs_host_gpus_free(&g, n); /* NULL is fine */
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, sizeof(root), "%s/pvs-host-list-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root))
        TEST_SKIP("cannot create a temporary directory");
    pvs_log_set_sink(host_count_warnings, &warnings);
    build_tree();
    RUN(test_sysfs_reads);
    RUN(test_pci_ids);
    RUN(test_mdev);
    RUN(test_sriov);
    RUN(test_registry_and_json);
    RUN(test_empty_tree);
    pvs_log_set_sink(NULL, NULL);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    TEST_EXIT();
}
