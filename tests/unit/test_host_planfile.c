/* The saved plan file (host/planfile.h): round trips for each backend,
 * names that must be refused, every parse error with its line number, and
 * `plan --gpu`'s choice of GPU, type and VMs from a listing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "host/planfile.h"
#include "test.h"

static const char *const hostile[3] = {
    "it's \"$x\" `y`",
    "<vm&1> \xe2\x80\x98q\xe2\x80\x99 c:\\d x=y",
    "[vm.9] k:v = w",
};

static void hyperv_plan(struct pvs_planfile *pf)
{
    static const uint32_t weights[3] = { 3, 1, 1 };
    memset(pf, 0, sizeof(*pf));
    struct pvs_plan_request req;
    pvs_plan_request_hyperv(&req, 3);
    req.weights = weights;
    char err[256];
    CHECK_INT(pvs_plan_compute(&req, &pf->plan, err, sizeof(err)), ==, 0);
    strcpy(pf->backend, "hyperv");
    strcpy(pf->gpu, "\\\\?\\PCI#VEN_10DE&DEV_2704&SUBSYS_00000000&REV_A1#4&2c0e1d1c&0&0008#"
                    "{064092b3-625e-43bf-9eb5-dc845897dd59}");
    pf->low_mmio_mib = 1024;
    pf->high_mmio_mib = 32768;
    CHECK_INT(pvs_planfile_set_names(pf, hostile, err, sizeof(err)), ==, 0);
}

/* Formats pf, parses it back, and checks every field came back. */
static void round_trip(const struct pvs_planfile *pf)
{
    char *text = NULL, err[512];
    CHECK_INT(pvs_planfile_format(pf, "test 1.0", &text, err, sizeof(err)), ==, 0);
    CHECK(text != NULL);
    if (!text)
        return;
    struct pvs_planfile *back = malloc(sizeof(*back));
    CHECK_INT(pvs_planfile_parse(text, strlen(text), "rt.ini", back, err, sizeof(err)), ==, 0);
    if (*err)
        fprintf(stderr, "%s\n%s", err, text);
    CHECK(!strcmp(back->backend, pf->backend));
    CHECK(!strcmp(back->gpu, pf->gpu));
    CHECK(!strcmp(back->mdev_type, pf->mdev_type));
    CHECK(back->low_mmio_mib == pf->low_mmio_mib);
    CHECK(back->high_mmio_mib == pf->high_mmio_mib);
    CHECK_INT(back->plan.vms, ==, pf->plan.vms);
    CHECK(!memcmp(back->plan.total, pf->plan.total, sizeof(pf->plan.total)));
    for (int i = 0; i < pf->plan.vms; i++) {
        CHECK(!strcmp(back->vm[i].name, pf->vm[i].name));
        CHECK(!strcmp(back->vm[i].uuid, pf->vm[i].uuid));
        CHECK(back->plan.vm[i].weight == pf->plan.vm[i].weight);
        CHECK(!memcmp(back->plan.vm[i].res, pf->plan.vm[i].res, sizeof(pf->plan.vm[i].res)));
    }
    free(back);
    free(text);
}

static void test_round_trip_hyperv(void)
{
    struct pvs_planfile pf;
    hyperv_plan(&pf);
    CHECK(pf.plan.total[PVS_GPU_ENCODE] == UINT64_MAX);
    round_trip(&pf);
    char *text = NULL, err[256];
    CHECK_INT(pvs_planfile_format(&pf, NULL, &text, err, sizeof(err)), ==, 0);
    CHECK(text && strstr(text, "\nencode = 18446744073709551615\n"));
    /* 2^64-1 = 5 * 3689348814741910323, so 3:1:1 splits it with nothing left over. */
    CHECK(text && strstr(text, "\nencode = 11068046444225730969,11068046444225730969,"
                               "11068046444225730969\n"));
    CHECK(text && strstr(text, "name = it's \"$x\" `y`\n"));
    free(text);
}

static void test_round_trip_linux(void)
{
    struct pvs_planfile pf;
    memset(&pf, 0, sizeof(pf));
    strcpy(pf.backend, "mdev");
    strcpy(pf.gpu, "0000:01:00.0");
    strcpy(pf.mdev_type, "i915-GVTg_V5_4");
    pf.plan.vms = 2;
    char err[256];
    CHECK_INT(pvs_planfile_set_names(&pf, NULL, err, sizeof(err)), ==, 0);
    CHECK(!strcmp(pf.vm[1].name, "vm2"));
    strcpy(pf.vm[0].uuid, "0b5e6a3c-1f2d-4e5f-8a9b-0c1d2e3f4a5b");
    strcpy(pf.vm[1].uuid, "ffffffff-0000-4000-8000-000000000001");
    pf.plan.vm[0].weight = pf.plan.vm[1].weight = 1;
    round_trip(&pf);

    memset(&pf, 0, sizeof(pf));
    strcpy(pf.backend, "sriov");
    strcpy(pf.gpu, "0000:03:00.0");
    pf.plan.vms = 4;
    CHECK_INT(pvs_planfile_set_names(&pf, NULL, err, sizeof(err)), ==, 0);
    for (int i = 0; i < 4; i++)
        pf.plan.vm[i].weight = 1;
    round_trip(&pf);

    /* A bad UUID is caught before a file is written. */
    memset(&pf, 0, sizeof(pf));
    strcpy(pf.backend, "mdev");
    strcpy(pf.gpu, "0000:01:00.0");
    strcpy(pf.mdev_type, "nvidia-222");
    pf.plan.vms = 1;
    strcpy(pf.vm[0].name, "a");
    strcpy(pf.vm[0].uuid, "not-a-uuid");
    char *text = NULL;
    CHECK_INT(pvs_planfile_format(&pf, NULL, &text, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(text == NULL && strstr(err, "uuid"));
}

static void test_names_refused(void)
{
    static const char *const bad[] = { "a;b", "#x", "x#", " lead", "trail ", "new\nline",
                                       "tab\there", "" };
    struct pvs_planfile pf;
    char err[256], *text = NULL;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hyperv_plan(&pf);
        const char *names[3] = { "ok", bad[i], "fine" };
        CHECK_INT(pvs_planfile_set_names(&pf, names, err, sizeof(err)), ==, PVS_EINVAL);
        CHECK(strstr(err, "VM name 2"));
        /* Set directly, the writer refuses it too. */
        snprintf(pf.vm[1].name, sizeof(pf.vm[1].name), "%s", bad[i]);
        CHECK_INT(pvs_planfile_format(&pf, NULL, &text, err, sizeof(err)), ==, PVS_EINVAL);
        CHECK(text == NULL);
    }
    hyperv_plan(&pf);
    char longname[200];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    const char *names[3] = { "a", "b", longname };
    CHECK_INT(pvs_planfile_set_names(&pf, names, err, sizeof(err)), ==, PVS_EINVAL);
    const char *dup[3] = { "Gaming", "work", "gaming" };
    CHECK_INT(pvs_planfile_set_names(&pf, dup, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(strstr(err, "another VM has that name"));
    /* A ';' in the GPU's path would start a comment. */
    hyperv_plan(&pf);
    strcpy(pf.gpu, "PCI#VEN_10DE ;x");
    CHECK_INT(pvs_planfile_format(&pf, NULL, &text, err, sizeof(err)), ==, PVS_EINVAL);
}

#define HV_PLAN "[plan]\nbackend = hyperv\ngpu = PCI#X\nvms = 2\nlow_mmio_mib = 1024\n" \
                "high_mmio_mib = 32768\nvram = 100\nencode = 100\ndecode = 100\ncompute = 100\n"
#define HV_VM(n, name) "[vm." #n "]\nname = " name "\nweight = 1\nvram = 50,50,50\n" \
                       "encode = 50,50,50\ndecode = 50,50,50\ncompute = 50,50,50\n"
#define MD_PLAN "[plan]\nbackend = mdev\ngpu = 0000:01:00.0\nvms = 2\nmdev_type = nvidia-222\n"
#define MD_PLAN1 "[plan]\nbackend = mdev\ngpu = 0000:01:00.0\nvms = 1\nmdev_type = nvidia-222\n"
#define U1 "0b5e6a3c-1f2d-4e5f-8a9b-0c1d2e3f4a5b"
#define U2 "1b5e6a3c-1f2d-4e5f-8a9b-0c1d2e3f4a5b"

static void test_parse_good(void)
{
    struct pvs_planfile pf;
    char err[512];
    const char *text = HV_PLAN HV_VM(1, "a") HV_VM(2, "b");
    CHECK_INT(pvs_planfile_parse(text, strlen(text), "t.ini", &pf, err, sizeof(err)), ==, 0);
    CHECK_INT(pf.plan.vms, ==, 2);
    CHECK(pf.plan.vm[1].res[PVS_GPU_COMPUTE].max == 50);
    /* inih's habits: a byte order mark, CRLF, indentation, "key: value",
     * inline and whole-line comments, sections in any order. */
    const char *crlf = "\xEF\xBB\xBF# a comment\r\n; another\r\n[vm.2]\r\n  name: b ; inline\r\n"
                       "uuid = " U2 "\r\n[plan]\r\nbackend = mdev\r\ngpu = 0000:01:00.0\r\n"
                       "vms = 2\r\nmdev_type = nvidia-222\r\n[vm.1]\r\nname = a-1\r\n"
                       "uuid = 0B5E6A3C-1F2D-4E5F-8A9B-0C1D2E3F4A5B\r\n";
    CHECK_INT(pvs_planfile_parse(crlf, strlen(crlf), "t.ini", &pf, err, sizeof(err)), ==, 0);
    if (*err)
        fprintf(stderr, "%s\n", err);
    CHECK(!strcmp(pf.vm[1].name, "b"));
    CHECK(!strcmp(pf.vm[0].name, "a-1"));
    CHECK(!strcmp(pf.vm[0].uuid, U1)); /* lower-cased */
    CHECK_INT(pf.plan.vm[0].weight, ==, 1);
}

struct bad_case {
    const char *text;
    const char *want; /* in the message, with the line */
};

static void test_parse_errors(void)
{
    static const struct bad_case cases[] = {
        { "", "t.ini:1: no [plan] section" },
        { "backend = mdev\n", "t.ini:1: 'backend' comes before any section" },
        { "[plan]\nbackend = mdev\njunk\n", "t.ini:3: expected 'key = value'" },
        { "[plan]\n[vms.1]\n", "t.ini:2: unknown section [vms.1]" },
        { "[plan]\n[vm.0]\n", "t.ini:2: unknown section [vm.0]" },
        { "[plan]\n[vm.01]\n", "t.ini:2: unknown section [vm.01]" },
        { "[plan]\n[vm.65]\n", "t.ini:2: [vm.65]: a plan has at most 64 VMs" },
        { "[plan]\n[plan]\n", "t.ini:2: [plan] again (first on line 1)" },
        { "[plan\n", "t.ini:1: a section header is '[name]'" },
        { "[plan] x\n", "t.ini:1: a section header is '[name]'" },
        { "[plan]\nbackend = vmware\n", "t.ini:2: backend 'vmware'" },
        { "[plan]\ngpu = x\n", "t.ini:1: [plan] has no 'backend'" },
        { MD_PLAN "colour = red\n", "t.ini:6: unknown key 'colour' in [plan]" },
        { MD_PLAN "vms = 3\n", "t.ini:6: 'vms' again in [plan] (first on line 4)" },
        { MD_PLAN "low_mmio_mib = 1\n", "t.ini:6: 'low_mmio_mib' is not used by mdev plans" },
        { "[plan]\nbackend = mdev\ngpu = 0000:01:00.0\nvms = 1\n", "t.ini:1: [plan] has no "
          "'mdev_type'" },
        { "[plan]\nbackend = mdev\ngpu = 0000:01:00\nvms = 1\nmdev_type = a\n",
          "t.ini:3: gpu = '0000:01:00': a mdev plan names the GPU by its PCI address" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 0\n", "t.ini:4: vms = '0'" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 65\n", "t.ini:4: vms = '65'" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = two\n", "t.ini:4: vms = 'two'" },
        { "[plan]\nbackend = mdev\ngpu = 0000:01:00.0\nvms = 1\nmdev_type = ../x\n",
          "t.ini:5: mdev_type = '../x'" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 1\n[vm.1]\nname = a\n[vm.2]\n"
          "name = b\n", "t.ini:7: [vm.2], but [plan] says vms = 1" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 2\n[vm.1]\nname = a\n",
          "t.ini:4: vms = 2, but there is no [vm.2] section" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 1\n[vm.1]\n",
          "t.ini:5: [vm.1] has no 'name'" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 1\n[vm.1]\nname = a\nweight = 1\n",
          "t.ini:7: 'weight' is not used by sriov plans" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 1\n[vm.1]\nname = a;b\n",
          "t.ini:6: name = 'a;b': it holds a ';'" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 1\n[vm.1]\nname = ;b\n",
          "t.ini:6: name = '': it is empty" },
        { "[plan]\nbackend = sriov\ngpu = 0000:03:00.0\nvms = 2\n[vm.1]\nname = a\n[vm.2]\n"
          "name = a\n", "t.ini:8: name = 'a': [vm.1] has that name too" },
        { MD_PLAN "[vm.1]\nname = a\nuuid = " U1 "\n[vm.2]\nname = b\nuuid = " U1 "\n",
          "t.ini:11: uuid " U1 ": [vm.1] has that UUID too" },
        { MD_PLAN1 "[vm.1]\nname = a\nuuid = " U1 "x\n", "t.ini:8: uuid = '" U1 "x'" },
        { MD_PLAN1 "[vm.1]\nname = a\nuuid = 0b5e6a3c_1f2d-4e5f-8a9b-0c1d2e3f4a5b\n",
          "t.ini:8: uuid = '0b5e6a3c_" },
        { MD_PLAN1 "[vm.1]\nname = a\n", "t.ini:6: [vm.1] has no 'uuid'" },
        { HV_PLAN HV_VM(1, "a") HV_VM(2, "A"), "t.ini:19: name = 'A': [vm.1] has that name "
          "too (Hyper-V names ignore case)" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 0\n", "t.ini:20: weight = '0'" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 50,40,60\n",
          "t.ini:21: vram = 50,40,60: Hyper-V needs Min <= Optimal <= Max" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 50,60,55\n",
          "t.ini:21: vram = 50,60,55: Hyper-V needs Min <= Optimal <= Max" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 1,2\n",
          "t.ini:21: vram = '1,2': expected MIN,OPTIMAL,MAX" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 1,2,3,4\n",
          "t.ini:21: vram = '1,2,3,4'" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 1,2,18446744073709551616\n",
          "t.ini:21: vram = '1,2,18446744073709551616'" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 1,-2,3\n",
          "t.ini:21: vram = '1,-2,3'" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 50,50,51\n"
          "encode = 1,1,1\ndecode = 1,1,1\ncompute = 1,1,1\n",
          "t.ini:21: vram: the VMs' Max add up to more than the total 100" },
        { HV_PLAN HV_VM(1, "a") "[vm.2]\nname = b\nweight = 1\nvram = 1,1,1\n"
          "encode = 1,1,1\ndecode = 1,1,1\n", "t.ini:18: [vm.2] has no 'compute'" },
        { HV_PLAN HV_VM(1, "a") HV_VM(2, "b") "uuid = " U1 "\n",
          "t.ini:25: 'uuid' is not used by hyperv plans" },
        { "[plan]\nbackend = hyperv\ngpu = PCI#X\nvms = 1\nlow_mmio_mib = 4096\nhigh_mmio_mib = 1\n"
          "vram = 1\nencode = 1\ndecode = 1\ncompute = 1\n", "t.ini:5: low_mmio_mib = '4096'" },
        { "[plan]\nbackend = hyperv\ngpu = PCI#X\nvms = 1\nlow_mmio_mib = 1\nhigh_mmio_mib = 1\n"
          "vram = 1\nencode = max\ndecode = 1\ncompute = 1\n", "t.ini:8: encode = 'max'" },
    };
    struct pvs_planfile pf;
    char err[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&pf, 0x5a, sizeof(pf));
        int rc = pvs_planfile_parse(cases[i].text, strlen(cases[i].text), "t.ini", &pf, err,
                                    sizeof(err));
        CHECK_INT(rc, ==, PVS_ECONFIG);
        if (!strstr(err, cases[i].want)) {
            fprintf(stderr, "case %zu: want '%s', got '%s'\n", i, cases[i].want, err);
            CHECK(0);
        }
        CHECK(pf.plan.vms == 0 && pf.backend[0] == '\0'); /* zeroed on error */
    }
    /* A NUL byte. */
    static const char nul[] = "[plan]\nback\0end = x\n";
    CHECK_INT(pvs_planfile_parse(nul, sizeof(nul) - 1, "t.ini", &pf, err, sizeof(err)), ==,
              PVS_ECONFIG);
    CHECK(strstr(err, "t.ini:2: NUL byte"));
}

static void test_load(void)
{
    struct pvs_planfile pf;
    char err[512];
    CHECK_INT(pvs_planfile_load("/nonexistent/plan.ini", &pf, err, sizeof(err)), ==,
              PVS_ENOENT);
    CHECK(strstr(err, "cannot open /nonexistent/plan.ini"));
    char path[] = "/tmp/pvs-planfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "wb");
    const char *text = HV_PLAN HV_VM(1, "a") HV_VM(2, "b");
    fputs(text, f);
    fclose(f);
    CHECK_INT(pvs_planfile_load(path, &pf, err, sizeof(err)), ==, 0);
    CHECK(!strcmp(pf.vm[1].name, "b"));
    /* Over 1 MiB: refused, not read. */
    f = fopen(path, "wb");
    for (int i = 0; i < (1 << 20) / 8 + 1; i++)
        fputs("# ......", f);
    fclose(f);
    CHECK_INT(pvs_planfile_load(path, &pf, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(strstr(err, "larger than 1 MiB"));
    unlink(path);
}

/* ---- plan --gpu --------------------------------------------------------- */

static struct pvs_host_mdev_type types[2] = {
    { .id = "nvidia-222", .name = "GRID T4-1B", .available_instances = 16 },
    { .id = "nvidia-223", .name = "GRID T4-2B", .available_instances = 0 },
};

static void listing(struct pvs_host_gpu *g)
{
    memset(g, 0, 5 * sizeof(*g));
    g[0].backend = "mdev";
    strcpy(g[0].id, "0000:01:00.0");
    g[0].types = types;
    g[0].type_count = 2;
    g[1].backend = "sriov";
    strcpy(g[1].id, "0000:03:00.0");
    g[1].total_vfs = 4;
    g[2].backend = "hyperv";
    strcpy(g[2].id, "\\\\?\\PCI#VEN_10DE&DEV_2704#4&1#{X}");
    g[2].vendor_id = 0x10de;
    g[2].device_id = 0x2704;
    g[3] = g[2];
    strcpy(g[3].id, "\\\\?\\PCI#VEN_10DE&DEV_2704#4&2#{X}");
    g[3].res[PVS_GPU_VRAM].total = 2000;
    g[4] = g[1]; /* the SR-IOV GPU is an mdev parent too */
    g[4].backend = "mdev";
    g[4].types = types;
    g[4].type_count = 1;
}

static int plan_for(const struct pvs_host_gpu *g, int n, const char *id, const char *type,
                    int vms, struct pvs_planfile *pf, char *err)
{
    struct pvs_planfile_request req;
    memset(&req, 0, sizeof(req));
    req.gpu = id;
    req.mdev_type = type;
    req.vms = vms;
    return pvs_planfile_for_gpu(g, n, &req, pf, err, 1024);
}

static bool uuid_v4(const char *u)
{
    if (strlen(u) != 36 || u[8] != '-' || u[13] != '-' || u[18] != '-' || u[23] != '-')
        return false;
    for (int i = 0; i < 36; i++)
        if (i != 8 && i != 13 && i != 18 && i != 23 && !strchr("0123456789abcdef", u[i]))
            return false;
    return u[14] == '4' && strchr("89ab", u[19]);
}

static void test_for_gpu(void)
{
    struct pvs_host_gpu g[5];
    listing(g);
    struct pvs_planfile pf;
    char err[1024];
    /* Exact ids only: a prefix, a longer string, another case of a PCI
     * address do not match. */
    static const char *const near[] = { "0000:01:00", "0000:01:00.00", "01:00.0", "0000:01",
                                        "", "\\\\?\\PCI#VEN_10DE&DEV_2704" };
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        CHECK_INT(plan_for(g, 4, near[i], "nvidia-222", 2, &pf, err), ==, PVS_ENOENT);
        CHECK(strstr(err, "this host has 0000:01:00.0 (mdev), 0000:03:00.0 (sriov)"));
    }
    CHECK_INT(plan_for(g, 0, "0000:01:00.0", NULL, 2, &pf, err), ==, PVS_ENOENT);
    CHECK(strstr(err, "no partitionable GPU"));

    /* mdev: the type. */
    CHECK_INT(plan_for(g, 4, "0000:01:00.0", NULL, 2, &pf, err), ==, PVS_EINVAL);
    CHECK(strstr(err, "several mdev types: pick one with --type (nvidia-222 (16 available), "
                      "nvidia-223 (0 available))"));
    CHECK_INT(plan_for(g, 4, "0000:01:00.0", "nvidia-999", 2, &pf, err), ==, PVS_EINVAL);
    CHECK(strstr(err, "no mdev type 'nvidia-999'") && strstr(err, "nvidia-222"));
    CHECK_INT(plan_for(g, 4, "0000:01:00.0", "nvidia-223", 1, &pf, err), ==, PVS_EINVAL);
    CHECK(strstr(err, "no instances are available"));
    CHECK_INT(plan_for(g, 4, "0000:01:00.0", "nvidia-222", 17, &pf, err), ==, PVS_EINVAL);
    CHECK(strstr(err, "16 instances available, fewer than 17 VMs"));
    CHECK_INT(plan_for(g, 4, "0000:01:00.0", "nvidia-222", 3, &pf, err), ==, 0);
    CHECK(!strcmp(pf.backend, "mdev") && !strcmp(pf.mdev_type, "nvidia-222"));
    CHECK(!strcmp(pf.vm[2].name, "vm3"));
    for (int i = 0; i < 3; i++)
        CHECK(uuid_v4(pf.vm[i].uuid));
    CHECK(strcmp(pf.vm[0].uuid, pf.vm[1].uuid) && strcmp(pf.vm[1].uuid, pf.vm[2].uuid));
    round_trip(&pf);
    char *text = NULL;
    CHECK_INT(pvs_planfile_format_summary(&pf, true, &text), ==, 0);
    CHECK(text && strstr(text, "{\"backend\": \"mdev\", \"gpu\": \"0000:01:00.0\", "
                               "\"mdev_type\": \"nvidia-222\""));
    free(text);
    CHECK_INT(pvs_planfile_format_summary(&pf, false, &text), ==, 0);
    CHECK(text && strstr(text, "backend mdev\nGPU: 0000:01:00.0\n"));
    free(text);
    /* Weights make no sense for a fixed-size partition. */
    struct pvs_planfile_request req;
    memset(&req, 0, sizeof(req));
    static const uint32_t w[2] = { 1, 2 };
    req.gpu = "0000:01:00.0";
    req.mdev_type = "nvidia-222";
    req.vms = 2;
    req.weights = w;
    CHECK_INT(pvs_planfile_for_gpu(g, 4, &req, &pf, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK(strstr(err, "--weights does not apply to mdev"));

    /* sriov. */
    CHECK_INT(plan_for(g, 4, "0000:03:00.0", NULL, 5, &pf, err), ==, PVS_EINVAL);
    CHECK(strstr(err, "4 virtual functions (sriov_totalvfs), fewer than 5 VMs"));
    CHECK_INT(plan_for(g, 4, "0000:03:00.0", NULL, 4, &pf, err), ==, 0);
    CHECK(!strcmp(pf.backend, "sriov") && pf.plan.vms == 4);
    CHECK_INT(pvs_planfile_format_summary(&pf, true, &text), ==, 0);
    CHECK(text && strstr(text, "{\"name\": \"vm4\", \"vf\": 3}"));
    free(text);
    /* Listed under two backends: say which. */
    CHECK_INT(plan_for(g, 5, "0000:03:00.0", NULL, 1, &pf, err), ==, PVS_EINVAL);
    CHECK(strstr(err, "--backend sriov or --backend mdev"));
    req.weights = NULL;
    req.gpu = "0000:03:00.0";
    req.mdev_type = NULL;
    req.backend = "mdev";
    req.vms = 1;
    CHECK_INT(pvs_planfile_for_gpu(g, 5, &req, &pf, err, sizeof(err)), ==, 0);
    CHECK(!strcmp(pf.backend, "mdev"));

    /* hyperv: the totals (0 = Hyper-V's standard), identical GPUs, the
     * instance path in any case but whole. */
    CHECK_INT(plan_for(g, 4, "\\\\?\\pci#ven_10de&dev_2704#4&2#{x}", NULL, 2, &pf, err), ==, 0);
    CHECK(!strcmp(pf.gpu, g[3].id));
    CHECK(pf.plan.total[PVS_GPU_VRAM] == 2000);
    CHECK(pf.plan.total[PVS_GPU_ENCODE] == UINT64_MAX);
    CHECK(pf.plan.total[PVS_GPU_DECODE] == PVS_PLAN_HYPERV_TOTAL);
    CHECK(pf.plan.vm[1].res[PVS_GPU_VRAM].max == 1000);
    CHECK(pf.plan.warnings & PVS_PLAN_WARN_IDENTICAL_GPUS);
    CHECK(pf.plan.warnings & PVS_PLAN_WARN_ADVISORY);
    CHECK(pf.low_mmio_mib == 1024 && pf.high_mmio_mib == 32768);
    round_trip(&pf);
    CHECK_INT(pvs_planfile_format_summary(&pf, true, &text), ==, 0);
    CHECK(text && !strncmp(text, "{\"gpu\": \"\\\\\\\\?\\\\PCI#VEN_10DE&DEV_2704#4&2#{X}\", "
                                 "\"backend\": \"hyperv\",", 60));
    free(text);
    CHECK_INT(plan_for(g, 3, g[2].id, NULL, 2, &pf, err), ==, 0);
    CHECK(!(pf.plan.warnings & PVS_PLAN_WARN_IDENTICAL_GPUS)); /* only one listed */
    CHECK_INT(plan_for(g, 4, g[2].id, NULL, 0, &pf, err), ==, PVS_EINVAL);
}

int main(void)
{
    RUN(test_round_trip_hyperv);
    RUN(test_round_trip_linux);
    RUN(test_names_refused);
    RUN(test_parse_good);
    RUN(test_parse_errors);
    RUN(test_load);
    RUN(test_for_gpu);
    TEST_EXIT();
}
