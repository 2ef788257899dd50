/* pvstream-host: provisions GPU partitions for VMs. This file parses the
 * command line and wires the modules: plan.c does the arithmetic, ps.c and
 * xml.c generate what the backends run, report.c prints.
 *
 * `plan` and `list` exist so far (list walks the backend table in
 * backend.h); apply, drivers and check are named in --help and answer
 * "not implemented yet" (exit 2). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/error.h"
#include "host/backend.h"
#include "host/cmds.h"
#include "host/plan.h"
#include "host/ps.h"
#include "host/report.h"
#include "pvs_config.h"

#define PROG "pvstream-host"

struct plan_cli {
    char gpu[PVS_OPT_STRING_MAX];
    char backend[PVS_OPT_STRING_MAX];
    int vms;
    char weights[PVS_OPT_STRING_MAX];
    char total[PVS_GPU_RESOURCE_COUNT][PVS_OPT_STRING_MAX];
    int min_percent;
    int encode_sessions;
    bool json;
    char emit_ps[PVS_OPT_STRING_MAX];
    char vm_names[PVS_OPT_STRING_MAX];
    char instance_path[PVS_OPT_STRING_MAX];
    int low_mmio;
    int high_mmio;
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "plan", k, k, t, offsetof(struct plan_cli, field), lo, hi, NULL, mv, h }
static const struct pvs_option plan_options[] = {
    OPT("backend", PVS_OPT_STRING, backend, 0, 0, "hyperv",
        "plan for Hyper-V GPU-PV with its standard totals; needs no GPU"),
    OPT("gpu", PVS_OPT_STRING, gpu, 0, 0, "ID",
        "plan for a GPU that `list` shows (comes with the apply backends)"),
    OPT("vms", PVS_OPT_INT, vms, -1, 100000, "N", "how many VMs share the GPU (1..64)"),
    OPT("weights", PVS_OPT_STRING, weights, 0, 0, "a,b,...",
        "one weight per VM, whole numbers >= 1 (default: all equal)"),
    OPT("vram", PVS_OPT_STRING, total[PVS_GPU_VRAM], 0, 0, "TOTAL",
        "VRAM units to split (hyperv: 1000000000)"),
    OPT("encode", PVS_OPT_STRING, total[PVS_GPU_ENCODE], 0, 0, "TOTAL",
        "encode units to split, or max (hyperv: 2^64-1)"),
    OPT("decode", PVS_OPT_STRING, total[PVS_GPU_DECODE], 0, 0, "TOTAL",
        "decode units to split (hyperv: 1000000000)"),
    OPT("compute", PVS_OPT_STRING, total[PVS_GPU_COMPUTE], 0, 0, "TOTAL",
        "compute units to split (hyperv: 1000000000)"),
    OPT("min-percent", PVS_OPT_INT, min_percent, 1, 100, "PCT",
        "each VM's Min as a share of its Optimal"),
    OPT("encode-sessions", PVS_OPT_INT, encode_sessions, 0, 1000, "N",
        "encode sessions the GPU runs at once, to warn about; 0 = unknown"),
    OPT("json", PVS_OPT_BOOL, json, 0, 0, NULL, "print the plan as JSON (docs/host.md)"),
    OPT("emit-ps", PVS_OPT_STRING, emit_ps, 0, 0, "FILE",
        "write the PowerShell that apply would run to FILE (- for stdout)"),
    OPT("vm-names", PVS_OPT_STRING, vm_names, 0, 0, "a,b,...",
        "the VMs' names, one per VM (needed by --emit-ps)"),
    OPT("instance-path", PVS_OPT_STRING, instance_path, 0, 0, "PATH",
        "the GPU's instance path (needed by --emit-ps)"),
    OPT("low-mmio", PVS_OPT_INT, low_mmio, 1, 3072, "MIB",
        "low MMIO space per VM, for 32-bit BARs"),
    OPT("high-mmio", PVS_OPT_INT, high_mmio, 1, 1048576, "MIB",
        "high MMIO space per VM: at least the GPU's VRAM plus room"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " plan (--backend hyperv | --gpu ID) --vms N [options]\n"
            "       " PROG " list [--sysfs-root DIR] [--json]\n"
            "       " PROG " apply | drivers | check   (not implemented yet)\n\n"
            "Provisions GPU partitions for virtual machines. Implemented so far: `plan`,\n"
            "the exact integer split of a GPU's VRAM, encode, decode and compute between\n"
            "VMs, and --emit-ps, the PowerShell that applies it on Hyper-V; `list`, the\n"
            "GPUs a Linux host can partition (mediated devices, SR-IOV). `apply`,\n"
            "`drivers` and `check` are not written yet: they exit with status 2.\n"
            "`" PROG " plan --help` lists plan's options. docs/host.md explains.\n");
}

static void plan_usage(FILE *out, const struct plan_cli *c)
{
    fprintf(out, "usage: " PROG " plan (--backend hyperv | --gpu ID) --vms N [options]\n\n"
                 "options:\n");
    pvs_config_print_help(plan_options, c, out);
}

/* Splits a copy of "a,b,c" in place into names[]; returns the count, or -1
 * for an empty item. */
static int split_names(char *list, const char **names, int max)
{
    int n = 0;
    char *p = list;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p)
            return -1;
        if (n < max)
            names[n] = p;
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

static int write_file(const char *path, const char *text)
{
    if (!strcmp(path, "-"))
        return fputs(text, stdout) < 0 ? -1 : 0;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int bad = fwrite(text, 1, n, f) != n;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

static int cmd_plan(int argc, char **argv)
{
    struct plan_cli c;
    memset(&c, 0, sizeof(c));
    c.vms = -1;
    c.min_percent = 100;
    c.low_mmio = (int)PVS_PS_DEFAULT_LOW_MMIO_MIB;
    c.high_mmio = (int)PVS_PS_DEFAULT_HIGH_MMIO_MIB;
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(plan_options, &c, argc, argv, 2, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        plan_usage(stdout, &c);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, PROG " plan: %s (see plan --help)\n", err);
        return 2;
    }
    if (npos > 0) {
        fprintf(stderr, PROG " plan: unexpected argument '%s' (see plan --help)\n", argv[2]);
        return 2;
    }
    if (*c.gpu && *c.backend) {
        fprintf(stderr, PROG " plan: give --backend or --gpu, not both\n");
        return 2;
    }
    if (*c.gpu) {
        fprintf(stderr, PROG " plan: --gpu %s: planning for a GPU that `list` shows is not "
                "wired yet (it comes with the apply backends); use --backend hyperv, which "
                "needs no GPU\n", c.gpu);
        return 2;
    }
    if (!*c.backend) {
        fprintf(stderr, PROG " plan: say which GPU: --backend hyperv (see plan --help)\n");
        return 2;
    }
    if (strcmp(c.backend, "hyperv")) {
        fprintf(stderr, PROG " plan: --backend '%s': only hyperv so far (mdev and sriov plans "
                "come with their apply backends)\n", c.backend);
        return 2;
    }
    if (c.vms < 0) {
        fprintf(stderr, PROG " plan: --vms N is required: how many VMs share the GPU\n");
        return 2;
    }

    struct pvs_plan_request req;
    pvs_plan_request_hyperv(&req, c.vms);
    req.min_percent = c.min_percent;
    req.encode_sessions = c.encode_sessions;
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++) {
        if (!*c.total[r])
            continue;
        rc = pvs_plan_parse_u64(c.total[r], &req.total[r]);
        if (rc < 0) {
            fprintf(stderr, PROG " plan: --%s '%s': %s\n",
                    pvs_gpu_resource_name((enum pvs_gpu_resource)r), c.total[r],
                    rc == PVS_ERANGE ? "larger than 2^64-1 (18446744073709551615)"
                                     : "not a whole number (or max)");
            return 2;
        }
    }
    uint32_t weights[PVS_PLAN_MAX_VMS];
    if (*c.weights && c.vms >= 1 && c.vms <= PVS_PLAN_MAX_VMS) {
        if (pvs_plan_parse_weights(c.weights, c.vms, weights, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG " plan: --%s\n", err);
            return 2;
        }
        req.weights = weights;
    }
    struct pvs_plan *plan = malloc(sizeof(*plan));
    if (!plan) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int status = 2;
    char *text = NULL;
    rc = pvs_plan_compute(&req, plan, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, PROG " plan: %s\n", err);
        goto done;
    }

    const char *names[PVS_PLAN_MAX_VMS] = { NULL };
    if (*c.vm_names) {
        int n = split_names(c.vm_names, names, PVS_PLAN_MAX_VMS);
        if (n < 0) {
            fprintf(stderr, PROG " plan: --vm-names: an empty name (write them as a,b,c)\n");
            goto done;
        }
        if (n != c.vms) {
            fprintf(stderr, PROG " plan: --vm-names: %d names for %d VMs: give one per VM\n",
                    n, c.vms);
            goto done;
        }
    }
    if (*c.emit_ps) {
        if (!*c.vm_names || !*c.instance_path) {
            fprintf(stderr, PROG " plan: --emit-ps needs --vm-names a,b,... and --instance-path "
                    "PATH (the GPU's, as Get-VMHostPartitionableGpu shows it)\n");
            goto done;
        }
        struct pvs_ps_settings ps;
        pvs_ps_defaults(&ps);
        ps.instance_path = c.instance_path;
        ps.low_mmio_mib = (uint64_t)c.low_mmio;
        ps.high_mmio_mib = (uint64_t)c.high_mmio;
        ps.generator = PROG " " PVS_VERSION;
        rc = pvs_ps_apply_script(plan, names, &ps, &text, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG " plan: --emit-ps: %s\n", err);
            goto done;
        }
        if (write_file(c.emit_ps, text) < 0) {
            fprintf(stderr, PROG " plan: cannot write '%s'\n", c.emit_ps);
            status = 1;
            goto done;
        }
        free(text);
        text = NULL;
        if (!strcmp(c.emit_ps, "-")) {
            status = 0;
            goto done;
        }
    }
    rc = c.json ? pvs_plan_format_json(plan, c.backend, *c.vm_names ? names : NULL, &text)
                : pvs_plan_format_table(plan, c.backend, *c.vm_names ? names : NULL, &text);
    if (rc < 0) {
        fprintf(stderr, PROG " plan: %s\n",
                rc == PVS_EINVAL ? "a VM name holds a control character" : pvs_strerror(rc));
        status = rc == PVS_EINVAL ? 2 : 1;
        goto done;
    }
    fputs(text, stdout);
    status = 0;
done:
    free(text);
    free(plan);
    return status;
}

struct list_cli {
    char sysfs_root[PVS_OPT_STRING_MAX];
    bool json;
};

static const struct pvs_option list_options[] = {
    { "list", "sysfs-root", "sysfs-root", PVS_OPT_STRING, offsetof(struct list_cli, sysfs_root),
      0, 0, NULL, "DIR", "read DIR/sys/... and DIR/usr/share/*/pci.ids instead of /" },
    { "list", "json", "json", PVS_OPT_BOOL, offsetof(struct list_cli, json), 0, 0, NULL, NULL,
      "print the GPUs as JSON (docs/host.md)" },
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static const char list_hints[] =
    "no partitionable GPU found. For mediated devices: turn the IOMMU on (intel_iommu=on or\n"
    "amd_iommu=on on the kernel command line, VT-d/AMD-Vi in the firmware) and load the GPU\n"
    "driver's vGPU/mdev support (NVIDIA's vGPU host driver, i915 with enable_gvt=1 and\n"
    "kvmgt). For SR-IOV: a GPU and driver that expose sriov_totalvfs in\n"
    "/sys/bus/pci/devices/*/. Hyper-V GPU-PV is listed on Windows only.\n";

static int cmd_list(int argc, char **argv)
{
    struct list_cli c;
    memset(&c, 0, sizeof(c));
    strcpy(c.sysfs_root, "/");
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(list_options, &c, argc, argv, 2, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        printf("usage: " PROG " list [--sysfs-root DIR] [--json]\n\noptions:\n");
        pvs_config_print_help(list_options, &c, stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, PROG " list: %s (see list --help)\n", err);
        return 2;
    }
    if (npos > 0) {
        fprintf(stderr, PROG " list: unexpected argument '%s' (see list --help)\n", argv[2]);
        return 2;
    }
    struct stat st;
    if (stat(c.sysfs_root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, PROG " list: --sysfs-root '%s' is not a directory\n", c.sysfs_root);
        return 2;
    }
    struct pvs_host_gpu *gpus = NULL;
    int count = 0;
    rc = pvs_host_list_all(c.sysfs_root, &gpus, &count, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, PROG " list: %s\n", *err ? err : pvs_strerror(rc));
        return 1;
    }
    char *text = NULL;
    rc = c.json ? pvs_host_format_list_json(gpus, count, &text)
                : pvs_host_format_list_table(gpus, count, &text);
    pvs_host_gpus_free(&gpus, count);
    if (rc < 0) {
        fprintf(stderr, PROG " list: %s\n", pvs_strerror(rc));
        return 1;
    }
    /* Finding nothing is an answer, not a failure: exit 0, and the hints
     * go to stderr with --json so stdout stays JSON. */
    if (count == 0)
        fputs(list_hints, c.json ? stderr : stdout);
    if (count > 0 || c.json)
        fputs(text, stdout);
    free(text);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf(PROG " %s\n", PVS_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "plan"))
        return cmd_plan(argc, argv);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc, argv);
    if (!strcmp(argv[1], "apply"))
        return pvs_host_cmd_apply(argc, argv);
    if (!strcmp(argv[1], "check"))
        return pvs_host_cmd_check(argc, argv);
    if (!strcmp(argv[1], "drivers"))
        return pvs_host_cmd_drivers(argc, argv);
    fprintf(stderr, PROG ": unknown command '%s' (see --help)\n", argv[1]);
    return 2;
}
