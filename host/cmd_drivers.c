/* `pvstream-host drivers sync`: copies the host's GPU driver into a VM
 * (drivers.h). Two forms:
 *
 *   drivers sync --vm NAME [--dry-run]
 *       Hyper-V: a PowerShell step finds the driver package and mounts
 *       the VM's disks (read-only for --dry-run); the sync runs on the
 *       Windows volume; a second step always dismounts them.
 *   drivers sync --package DIR --host-windows DIR --guest-root DIR [--dry-run]
 *       the same on folders given by hand (a disk mounted by hand, another
 *       host's files, the tests). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "host/cmds.h"
#include "host/drivers.h"
#include "host/run.h"

#define PROG "pvstream-host drivers"

struct drivers_cli {
    char vm[PVS_OPT_STRING_MAX];
    char package[PVS_OPT_STRING_MAX];
    char host_windows[PVS_OPT_STRING_MAX];
    char guest_root[PVS_OPT_STRING_MAX];
    bool dry_run;
};

#define OPT(k, t, field, mv, h) \
    { "drivers", k, k, t, offsetof(struct drivers_cli, field), 0, 0, NULL, mv, h }
static const struct pvs_option drivers_options[] = {
    OPT("vm", PVS_OPT_STRING, vm, "NAME",
        "Hyper-V: the VM to copy the host's GPU driver into (it must be off)"),
    OPT("dry-run", PVS_OPT_BOOL, dry_run, NULL,
        "list what would be copied and removed; change nothing"),
    OPT("package", PVS_OPT_STRING, package, "DIR",
        "instead of --vm: the driver store folder, ...\\FileRepository\\<inf>_amd64_<hash>"),
    OPT("host-windows", PVS_OPT_STRING, host_windows, "DIR",
        "with --package: the host's Windows folder (C:\\Windows), for System32 and SysWOW64"),
    OPT("guest-root", PVS_OPT_STRING, guest_root, "DIR",
        "with --package: the root of the guest's Windows volume (mounted)"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static void usage(FILE *out, const struct drivers_cli *c)
{
    fprintf(out,
            "usage: " PROG " sync --vm NAME [--dry-run]\n"
            "       " PROG " sync --package DIR --host-windows DIR --guest-root DIR "
            "[--dry-run]\n\n"
            "Copies the host's GPU driver package into the guest's\n"
            "Windows\\System32\\HostDriverStore\\FileRepository, and the files the driver\n"
            "installs in System32 and SysWOW64, with a manifest so an unchanged driver is\n"
            "not copied again and an older package folder is removed. docs/host.md explains.\n\n"
            "options:\n");
    pvs_config_print_help(drivers_options, c, out);
}

static int exit_status(int rc)
{
    return rc == PVS_EINVAL ? 2 : 1;
}

static int run_sync(const char *package, const char *host_windows, const char *guest_root,
                    bool dry_run)
{
    struct pvs_drivers_sync_settings s = { package, host_windows, guest_root, dry_run, stdout };
    struct pvs_drivers_stats st;
    char why[1024];
    int rc = pvs_drivers_sync(&s, &st, why, sizeof(why));
    if (rc < 0) {
        fprintf(stderr, PROG " sync: %s\n", why);
        return exit_status(rc);
    }
    return 0;
}

static int dismount(const struct pvs_drivers_probe *p)
{
    if (p->mounted_count == 0)
        return 0;
    char *script = NULL, *out = NULL, why[512];
    int status = 0;
    int rc = pvs_drivers_dismount_script(p, &script);
    if (rc == 0)
        rc = pvs_host_powershell(script, &out, &status, why, sizeof(why));
    else
        snprintf(why, sizeof(why), "%s", pvs_strerror(rc));
    free(script);
    free(out);
    if (rc < 0 || status != 0) {
        fprintf(stderr, PROG " sync: the VM's disks may still be mounted (%s): dismount them "
                "with Dismount-VHD before starting the VM\n",
                rc < 0 ? why : "the dismount step failed");
        return -1;
    }
    return 0;
}

int pvs_host_drivers_sync_vm(const char *vm, bool dry_run)
{
    char *script = NULL, *out = NULL, why[1024];
    int status = 0;
    if (pvs_drivers_mount_script(vm, dry_run, &script) < 0) {
        fprintf(stderr, PROG " sync: --vm: the name holds a control character\n");
        return 2;
    }
    int rc = pvs_host_powershell(script, &out, &status, why, sizeof(why));
    free(script);
    if (rc < 0) {
        fprintf(stderr, PROG " sync: cannot run PowerShell: %s (--vm works on a Hyper-V host; "
                "elsewhere use --package, --host-windows and --guest-root)\n", why);
        free(out);
        return rc == PVS_ENOENT ? 2 : 1;
    }
    struct pvs_drivers_probe *p = malloc(sizeof(*p));
    if (!p) {
        free(out);
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    pvs_drivers_probe_parse(out ? out : "", out ? strlen(out) : 0, p);
    free(out);
    const char *root = NULL;
    char package[PVS_DRIVERS_VALUE_MAX];
    rc = pvs_drivers_probe_pick(p, vm, &root, package, sizeof(package), why, sizeof(why));
    int result;
    if (rc < 0) {
        fprintf(stderr, PROG " sync: %s\n", why);
        result = exit_status(rc);
    } else {
        if (*p->driver_version)
            printf("GPU %s, driver %s; guest volume %s\n",
                   *p->gpu_name ? p->gpu_name : p->gpu, p->driver_version, root);
        result = run_sync(package, p->host_windows, root, dry_run);
    }
    if (dismount(p) < 0 && result == 0)
        result = 1;
    free(p);
    return result;
}

int pvs_host_cmd_drivers(int argc, char **argv)
{
    struct drivers_cli c;
    memset(&c, 0, sizeof(c));
    if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
        usage(argc < 3 ? stderr : stdout, &c);
        return argc < 3 ? 2 : 0;
    }
    if (strcmp(argv[2], "sync")) {
        fprintf(stderr, PROG ": unknown subcommand '%s': the one there is is sync (see "
                "drivers --help)\n", argv[2]);
        return 2;
    }
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(drivers_options, &c, argc, argv, 3, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        usage(stdout, &c);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, PROG " sync: %s (see drivers --help)\n", err);
        return 2;
    }
    if (npos > 0) {
        fprintf(stderr, PROG " sync: unexpected argument '%s' (see drivers --help)\n", argv[3]);
        return 2;
    }
    bool by_hand = *c.package || *c.host_windows || *c.guest_root;
    if (*c.vm && by_hand) {
        fprintf(stderr, PROG " sync: give --vm, or --package with --host-windows and "
                "--guest-root, not both\n");
        return 2;
    }
    if (*c.vm)
        return pvs_host_drivers_sync_vm(c.vm, c.dry_run);
    if (!by_hand) {
        fprintf(stderr, PROG " sync: say where to copy: --vm NAME, or --package, --host-windows "
                "and --guest-root (see drivers --help)\n");
        return 2;
    }
    if (!*c.package || !*c.host_windows || !*c.guest_root) {
        fprintf(stderr, PROG " sync: --package, --host-windows and --guest-root go together: "
                "missing %s\n", !*c.package ? "--package" : !*c.host_windows ? "--host-windows"
                                                                           : "--guest-root");
        return 2;
    }
    return run_sync(c.package, c.host_windows, c.guest_root, c.dry_run);
}
