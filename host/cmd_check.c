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

#define PROG "pvstream-host check"

struct check_cli {
    char vm[PVS_OPT_STRING_MAX];
    char sysfs_root[PVS_OPT_STRING_MAX];
    bool json;
};

static const struct pvs_option check_options[] = {
    { "check", "vm", "vm", PVS_OPT_STRING, offsetof(struct check_cli, vm), 0, 0, NULL, "NAME",
      "Hyper-V: also check this VM (generation, state, MMIO, drivers, display)" },
    { "check", "sysfs-root", "sysfs-root", PVS_OPT_STRING,
      offsetof(struct check_cli, sysfs_root), 0, 0, NULL, "DIR",
      "Linux: read DIR/sys/... and DIR/proc/cmdline instead of / (tests)" },
    { "check", "json", "json", PVS_OPT_BOOL, offsetof(struct check_cli, json), 0, 0, NULL,
      NULL, "print the results as JSON (docs/host.md)" },
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

int pvs_host_cmd_check(int argc, char **argv)
{
    struct check_cli c;
    memset(&c, 0, sizeof(c));
    strcpy(c.sysfs_root, "/");
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(check_options, &c, argc, argv, 2, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        printf("usage: pvstream-host check [--vm NAME] [--sysfs-root DIR] [--json]\n\n"
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
    if (hyperv_host()) {
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
