/* `pvstream-host apply PLAN [--dry-run] [--remove] [--sysfs-root DIR]`:
 * loads a saved plan (planfile.h), finds its backend and runs the backend's
 * apply. Everything that can be checked is checked before the first change:
 * a plan that does not parse or does not fit the host exits 2 with nothing
 * changed; a change the system refuses exits 1.
 *
 * Also here: what the Linux backends' apply share (backend.h), the sysfs
 * write that a dry run only prints, and the libvirt hint per VM. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "host/backend.h"
#include "host/cmds.h"
#include "host/planfile.h"
#include "host/sysfs.h"
#include "host/text.h"

#define PROG "pvstream-host apply"

int pvs_host_apply_write(const struct pvs_host_ctx *ctx, const char *path, const char *value,
                         char *why, size_t why_len)
{
    if (ctx->dry_run) {
        fprintf(ctx->out, "write '%s' to %s\n", value, path);
        return 0;
    }
    char line[128];
    snprintf(line, sizeof(line), "%s\n", value);
    int rc = pvs_sysfs_write(path, line);
    if (rc == 0) {
        fprintf(ctx->out, "wrote '%s' to %s\n", value, path);
        return 0;
    }
    const char *hint = "";
    if (rc == PVS_ENOENT)
        hint = ": the attribute does not exist (is the driver loaded?)";
    else if (rc == -EACCES || rc == -EPERM)
        hint = ": run as root";
    else if (rc == -EBUSY)
        hint = ": the device is in use (shut down the VM that has it)";
    pvs_text_error(why, why_len, "cannot write '%s' to %s: %s%s", value, path, pvs_strerror(rc),
                   hint);
    return rc;
}

/* A file name for VM `name`: its letters, digits and "._-", the rest '_'. */
static void file_name(const char *name, int vm, char *buf, size_t len)
{
    size_t o = 0;
    for (const char *p = name; *p && o + 13 < len; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c == '.' && o > 0);
        buf[o++] = ok ? c : '_';
    }
    if (o == 0 || buf[0] == '-')
        o = (size_t)snprintf(buf, len, "vm%d", vm);
    snprintf(buf + o, len - o, "-hostdev.xml");
}

void pvs_host_apply_print_hostdev(const struct pvs_host_ctx *ctx, int vm, const char *name,
                                  const char *xml)
{
    char file[96];
    file_name(name, vm, file, sizeof(file));
    /* The domain name, quoted for a POSIX shell: '...' with ' as '\''. */
    fprintf(ctx->out, "# VM %d '%s': save the <hostdev> below as %s, then run: "
            "virsh attach-device '", vm, name, file);
    for (const char *p = name; *p; p++) {
        if (*p == '\'')
            fputs("'\\''", ctx->out);
        else
            fputc(*p, ctx->out);
    }
    fprintf(ctx->out, "' %s --config\n%s", file, xml);
}

struct apply_cli {
    char sysfs_root[PVS_OPT_STRING_MAX];
    bool dry_run;
    bool remove;
};

static const struct pvs_option apply_options[] = {
    { "apply", "dry-run", "dry-run", PVS_OPT_BOOL, offsetof(struct apply_cli, dry_run), 0, 0,
      NULL, NULL, "print exactly what would be written or run, and change nothing" },
    { "apply", "remove", "remove", PVS_OPT_BOOL, offsetof(struct apply_cli, remove), 0, 0, NULL,
      NULL, "undo the plan: remove its mediated devices, set sriov_numvfs to 0, or remove the VMs' GPU partition adapters" },
    { "apply", "sysfs-root", "sysfs-root", PVS_OPT_STRING,
      offsetof(struct apply_cli, sysfs_root), 0, 0, NULL, "DIR",
      "Linux: write under DIR/sys/... instead of /sys (tests)" },
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

int pvs_host_cmd_apply(int argc, char **argv)
{
    struct apply_cli c;
    memset(&c, 0, sizeof(c));
    strcpy(c.sysfs_root, "/");
    char err[1024];
    int npos = 0;
    int rc = pvs_config_parse_args(apply_options, &c, argc, argv, 2, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        printf("usage: pvstream-host apply PLAN [--dry-run] [--remove] [--sysfs-root DIR]\n\n"
               "Makes the host match PLAN, a file from `pvstream-host plan --save`.\n\n"
               "options:\n");
        pvs_config_print_help(apply_options, &c, stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, PROG ": %s (see apply --help)\n", err);
        return 2;
    }
    if (npos != 1) {
        fprintf(stderr, PROG ": %s (usage: pvstream-host apply PLAN [--dry-run] [--remove]); "
                "write a plan with pvstream-host plan ... --save PLAN\n",
                npos ? "give one plan file" : "which plan? give the file");
        return 2;
    }
    if (!pvs_sysfs_is_dir(c.sysfs_root)) {
        fprintf(stderr, PROG ": --sysfs-root '%s' is not a directory\n", c.sysfs_root);
        return 2;
    }
    struct pvs_planfile *plan = malloc(sizeof(*plan));
    if (!plan) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int status = 2;
    rc = pvs_planfile_load(argv[2], plan, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, PROG ": %s\n", err);
        status = rc == PVS_ENOMEM || rc == PVS_EIO ? 1 : 2;
        goto done;
    }
    const struct pvs_host_backend_ops *b = pvs_host_backend_find(plan->backend);
    if (!b || !b->apply) {
        fprintf(stderr, PROG ": %s: the %s backend cannot apply plans in this build\n", argv[2],
                plan->backend);
        goto done;
    }
    struct pvs_host_ctx ctx = {
        .sysfs_root = c.sysfs_root,
        .dry_run = c.dry_run,
        .remove = c.remove,
        .out = stdout,
    };
    err[0] = '\0';
    rc = b->apply(&ctx, plan, err, sizeof(err));
    fflush(stdout);
    if (rc < 0) {
        fprintf(stderr, PROG ": %s: %s\n", argv[2], *err ? err : pvs_strerror(rc));
        /* A plan that does not fit (or a backend not on this platform)
         * changed nothing; anything else may have been half done. */
        status = rc == PVS_EINVAL || rc == PVS_ENOTSUP ? 2 : 1;
        goto done;
    }
    status = 0;
done:
    free(plan);
    return status;
}
