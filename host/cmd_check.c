/* `pvstream-host check [--vm NAME] [--sysfs-root DIR] [--json]`: is this
 * host ready for GPU partitions? On Linux the IOMMU, vfio and capacity
 * checks (check.c); on Windows, or wherever PVS_POWERSHELL names a
 * PowerShell (the tests' fake), the Hyper-V host and VM checks (hyperv_check.c).
 * Exit 0 when nothing FAILed, 1 otherwise, 2 for bad options. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "host/check.h"
#include "host/cmds.h"
#include "host/sysfs.h"
#include "host/vm.h"

#define PROG "pvstream-host check"

struct check_cli {
    char vm[PVS_OPT_STRING_MAX];
    char sysfs_root[PVS_OPT_STRING_MAX];
    bool json;
    char iso[PVS_OPT_STRING_MAX];
    char edition[PVS_OPT_STRING_MAX];
    char vhd_dir[PVS_OPT_STRING_MAX];
    char disk[PVS_OPT_STRING_MAX];
};

static const struct pvs_option check_options[] = {
    { "check", "vm", "vm", PVS_OPT_STRING, offsetof(struct check_cli, vm), 0, 0, NULL, "NAME",
      "Hyper-V: also check this VM (generation, state, MMIO, drivers, display)" },
    { "check", "sysfs-root", "sysfs-root", PVS_OPT_STRING,
      offsetof(struct check_cli, sysfs_root), 0, 0, NULL, "DIR",
      "Linux: read DIR/sys/... and DIR/proc/cmdline instead of / (tests)" },
    { "check", "json", "json", PVS_OPT_BOOL, offsetof(struct check_cli, json), 0, 0, NULL,
      NULL, "print the results as JSON (docs/host.md)" },
    { "check", "iso", "iso", PVS_OPT_STRING, offsetof(struct check_cli, iso), 0, 0, NULL, "FILE",
      "Hyper-V: also check what vm create needs for this Windows ISO" },
    { "check", "edition", "edition", PVS_OPT_STRING, offsetof(struct check_cli, edition), 0, 0,
      NULL, "NAME", "with --iso: the edition vm create would install" },
    { "check", "vhd-dir", "vhd-dir", PVS_OPT_STRING, offsetof(struct check_cli, vhd_dir), 0, 0,
      NULL, "DIR", "with --iso: where the VM's disk would go" },
    { "check", "disk", "disk", PVS_OPT_STRING, offsetof(struct check_cli, disk), 0, 0, NULL,
      "SIZE", "with --iso: the size vm create would give the disk; unset: 128G" },
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static bool hyperv_host(void)
{
#ifdef _WIN32
    return true;
#else
    const char *ps = getenv("PVS_POWERSHELL");
    return ps && *ps;
#endif
}

/* --iso: the host (and VM) checks, then what vm create needs (vm.h). */
static int check_create(const struct check_cli *c, const char *vm, struct pvs_checks *checks,
                        char *err, size_t err_len)
{
    struct pvs_vm_request req = { .iso = c->iso, .edition = c->edition,
                                  .vhd_dir = *c->vhd_dir ? c->vhd_dir : NULL };
    if (pvs_vm_check_path("--iso", c->iso, err, err_len) < 0 ||
        (req.vhd_dir && pvs_vm_check_path("--vhd-dir", c->vhd_dir, err, err_len) < 0))
        return PVS_EINVAL;
    if (*c->disk && pvs_vm_parse_bytes(c->disk, &req.disk) < 0) {
        snprintf(err, err_len, "--disk '%s': give a size with its unit (128G)", c->disk);
        return PVS_EINVAL;
    }
    req.check_vm = vm;
    struct pvs_vm_facts *facts = malloc(sizeof(*facts));
    if (!facts) {
        snprintf(err, err_len, "out of memory");
        return PVS_ENOMEM;
    }
    int rc = pvs_vm_preflight(&req, checks, facts, err, err_len);
    free(facts);
    return rc;
}

int pvs_host_cmd_check(int argc, char **argv)
{
    struct check_cli c;
    memset(&c, 0, sizeof(c));
    strcpy(c.sysfs_root, "/");
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(check_options, &c, argc, argv, 2, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        printf("usage: pvstream-host check [--vm NAME] [--iso FILE [--edition NAME] "
               "[--vhd-dir DIR] [--disk SIZE]]\n"
               "                          [--sysfs-root DIR] [--json]\n\n"
               "Checks that this host (and a Hyper-V VM) is ready for GPU partitions; every\n"
               "failed check says how to fix it. Exit status 0: nothing failed.\n\n"
               "options:\n");
        pvs_config_print_help(check_options, &c, stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, PROG ": %s (see check --help)\n", err);
        return 2;
    }
    if (npos > 0) {
        fprintf(stderr, PROG ": unexpected argument '%s' (a VM is named with --vm NAME)\n",
                argv[2]);
        return 2;
    }
    struct pvs_host_ctx ctx = { .sysfs_root = c.sysfs_root, .out = stdout };
    struct pvs_checks checks = { NULL, 0, 0 };
    bool create = *c.iso || *c.edition || *c.vhd_dir || *c.disk;
    if (create && !*c.iso) {
        fprintf(stderr, PROG ": --edition, --vhd-dir and --disk go with --iso FILE\n");
        return 2;
    }
    if (create && !hyperv_host()) {
        fprintf(stderr, PROG ": --iso: the vm create checks are for Hyper-V on Windows\n");
        return 2;
    }
    if (create) {
        rc = check_create(&c, *c.vm ? c.vm : NULL, &checks, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG ": %s\n", err);
            pvs_checks_free(&checks);
            return rc == PVS_EINVAL ? 2 : 1;
        }
    } else if (hyperv_host()) {
        err[0] = '\0';
        rc = pvs_host_check_hyperv(&ctx, *c.vm ? c.vm : NULL, &checks, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG ": %s\n", *err ? err : pvs_strerror(rc));
            pvs_checks_free(&checks);
            return 1;
        }
    } else {
        if (*c.vm) {
            fprintf(stderr, PROG ": --vm %s: the VM checks are for Hyper-V on Windows; on "
                    "Linux, check the host and see the VM's XML with virsh dumpxml\n", c.vm);
            return 2;
        }
        if (!pvs_sysfs_is_dir(c.sysfs_root)) {
            fprintf(stderr, PROG ": --sysfs-root '%s' is not a directory\n", c.sysfs_root);
            return 2;
        }
        rc = pvs_host_check_linux(&ctx, &checks);
        if (rc < 0) {
            fprintf(stderr, PROG ": %s\n", pvs_strerror(rc));
            pvs_checks_free(&checks);
            return 1;
        }
    }
    char *text = NULL;
    rc = c.json ? pvs_checks_format_json(&checks, &text)
                : pvs_checks_format_table(&checks, &text);
    int failed = 0;
    for (int i = 0; i < checks.count; i++)
        failed += checks.items[i].verdict == PVS_CHECK_FAIL;
    pvs_checks_free(&checks);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", pvs_strerror(rc));
        return 1;
    }
    fputs(text, stdout);
    free(text);
    return failed ? 1 : 0;
}
