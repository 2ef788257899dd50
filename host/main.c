/* pvstream-host: provisions GPU partitions for VMs. This file parses the
 * command line and wires the modules: plan.c does the arithmetic, ps.c and
 * xml.c generate what the backends run, report.c prints.
 *
 * plan and list live here (list walks the backend table in backend.h);
 * apply, check, drivers and vm have a file each (cmds.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "host/backend.h"
#include "host/cmds.h"
#include "host/plan.h"
#include "host/planfile.h"
#include "host/ps.h"
#include "host/report.h"
#include "host/sysfs.h"
#include "pvs_config.h"

#define PROG "pvstream-host"

struct plan_cli {
    char gpu[PVS_OPT_STRING_MAX];
    char backend[PVS_OPT_STRING_MAX];
    char type[PVS_OPT_STRING_MAX];
    char sysfs_root[PVS_OPT_STRING_MAX];
    int vms;
    char weights[PVS_OPT_STRING_MAX];
    char total[PVS_GPU_RESOURCE_COUNT][PVS_OPT_STRING_MAX];
    int min_percent;
    int encode_sessions;
    bool json;
    char emit_ps[PVS_OPT_STRING_MAX];
    char save[PVS_OPT_STRING_MAX];
    char vm_names[PVS_OPT_STRING_MAX];
    char instance_path[PVS_OPT_STRING_MAX];
    int low_mmio;
    int high_mmio;
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "plan", k, k, t, offsetof(struct plan_cli, field), lo, hi, NULL, mv, h }
static const struct pvs_option plan_options[] = {
    OPT("backend", PVS_OPT_STRING, backend, 0, 0, "NAME",
        "hyperv: plan with Hyper-V's standard totals, no GPU needed; with --gpu: the "
        "backend (mdev, sriov, hyperv) when `list` shows the GPU under two"),
    OPT("gpu", PVS_OPT_STRING, gpu, 0, 0, "ID",
        "plan for the GPU that `list` shows with exactly this id"),
    OPT("type", PVS_OPT_STRING, type, 0, 0, "TYPE",
        "mdev: the mediated-device type (needed when the GPU offers several)"),
    OPT("sysfs-root", PVS_OPT_STRING, sysfs_root, 0, 0, "DIR",
        "with --gpu: list the GPUs under DIR/sys/... instead of /sys (tests)"),
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
    OPT("save", PVS_OPT_STRING, save, 0, 0, "FILE",
        "write the plan to FILE for `pvstream-host apply FILE` (- for stdout)"),
    OPT("vm-names", PVS_OPT_STRING, vm_names, 0, 0, "a,b,...",
        "the VMs' names, one per VM (needed by --emit-ps and, without --gpu, --save)"),
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
            "       " PROG " apply PLAN [--dry-run] [--remove]\n"
            "       " PROG " drivers sync --vm NAME [--dry-run]\n"
            "       " PROG " check [--vm NAME] [--iso FILE [--edition NAME]] [--json]\n"
            "       " PROG " vm create NAME --iso FILE [options] | delete NAME | status NAME\n\n"
            "Provisions GPU partitions for virtual machines: Hyper-V GPU partitioning\n"
            "(GPU-PV) on Windows, mediated devices and SR-IOV on Linux KVM.\n"
            "  list     the GPUs this host can partition\n"
            "  plan     the exact split of a GPU between VMs; --save FILE keeps it\n"
            "  apply    makes the host match a saved plan (--dry-run prints what it would do)\n"
            "  drivers  copies the host's GPU driver into a Hyper-V VM\n"
            "  check    is the host (and a VM) ready? every failure says how to fix it\n"
            "  vm       makes a streaming Hyper-V VM from a Windows ISO (create), removes one\n"
            "           (delete), shows its address and pvstream's state (status)\n"
            "`" PROG " COMMAND --help` lists a command's options. docs/host.md explains.\n"
            "Exit status: 0 done, 1 failed, 2 bad input (nothing changed).\n");
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

/* `plan --gpu ID`: the GPUs this host lists, and a plan for the one whose id
 * is exactly ID. */
static int plan_for_gpu(const struct plan_cli *c, struct pvs_planfile_request *req,
                        struct pvs_planfile *pf, char *err, size_t err_len)
{
    if (!pvs_sysfs_is_dir(c->sysfs_root)) {
        snprintf(err, err_len, "--sysfs-root '%s' is not a directory", c->sysfs_root);
        return PVS_EINVAL;
    }
    struct pvs_host_gpu *gpus = NULL;
    int count = 0;
    int rc = pvs_host_list_all(c->sysfs_root, &gpus, &count, err, err_len);
    if (rc < 0)
        return rc == PVS_EINVAL ? PVS_EIO : rc;
    req->gpu = c->gpu;
    req->backend = c->backend;
    req->mdev_type = c->type;
    rc = pvs_planfile_for_gpu(gpus, count, req, pf, err, err_len);
    pvs_host_gpus_free(&gpus, count);
    return rc;
}

static int cmd_plan(int argc, char **argv)
{
    struct plan_cli c;
    memset(&c, 0, sizeof(c));
    c.vms = -1;
    c.min_percent = 100;
    c.low_mmio = (int)PVS_PS_DEFAULT_LOW_MMIO_MIB;
    c.high_mmio = (int)PVS_PS_DEFAULT_HIGH_MMIO_MIB;
    strcpy(c.sysfs_root, "/");
    char err[2048];
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
    if (!*c.gpu && !*c.backend) {
        fprintf(stderr, PROG " plan: say which GPU: --gpu ID (as pvstream-host list shows it) "
                "or --backend hyperv (see plan --help)\n");
        return 2;
    }
    if (*c.backend && !pvs_host_backend_find(c.backend)) {
        fprintf(stderr, PROG " plan: --backend '%s': expected hyperv, mdev or sriov\n",
                c.backend);
        return 2;
    }
    if (!*c.gpu && strcmp(c.backend, "hyperv")) {
        fprintf(stderr, PROG " plan: --backend %s plans for a GPU of this host: give --gpu "
                "ID (its PCI address, as pvstream-host list shows it)\n", c.backend);
        return 2;
    }
    if (*c.gpu && *c.instance_path) {
        fprintf(stderr, PROG " plan: with --gpu the instance path is the GPU's id: leave out "
                "--instance-path\n");
        return 2;
    }
    if (*c.type && !*c.gpu) {
        fprintf(stderr, PROG " plan: --type picks an mdev type of a GPU: give --gpu ID too\n");
        return 2;
    }
    if (c.vms < 0) {
        fprintf(stderr, PROG " plan: --vms N is required: how many VMs share the GPU\n");
        return 2;
    }

    struct pvs_planfile_request req;
    memset(&req, 0, sizeof(req));
    req.vms = c.vms;
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
        req.total_set |= 1u << r;
    }
    uint32_t weights[PVS_PLAN_MAX_VMS];
    if (*c.weights && c.vms >= 1 && c.vms <= PVS_PLAN_MAX_VMS) {
        if (pvs_plan_parse_weights(c.weights, c.vms, weights, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG " plan: --%s\n", err);
            return 2;
        }
        req.weights = weights;
    }
    const char *names[PVS_PLAN_MAX_VMS] = { NULL };
    if (*c.vm_names) {
        int n = split_names(c.vm_names, names, PVS_PLAN_MAX_VMS);
        if (n < 0) {
            fprintf(stderr, PROG " plan: --vm-names: an empty name (write them as a,b,c)\n");
            return 2;
        }
        if (n != c.vms) {
            fprintf(stderr, PROG " plan: --vm-names: %d names for %d VMs: give one per VM\n",
                    n, c.vms);
            return 2;
        }
        req.names = names;
    }
    req.min_percent = c.min_percent;
    req.encode_sessions = c.encode_sessions;
    req.low_mmio_mib = (uint64_t)c.low_mmio;
    req.high_mmio_mib = (uint64_t)c.high_mmio;
    struct pvs_planfile *pf = calloc(1, sizeof(*pf));
    if (!pf) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    int status = 2;
    char *text = NULL;
    if (*c.gpu) {
        rc = plan_for_gpu(&c, &req, pf, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG " plan: %s\n", err);
            status = rc == PVS_ENOENT || rc == PVS_EINVAL ? 2 : 1;
            goto done;
        }
    } else {
        struct pvs_plan_request pr;
        pvs_plan_request_hyperv(&pr, c.vms);
        for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
            if (req.total_set & (1u << r))
                pr.total[r] = req.total[r];
        pr.weights = req.weights;
        pr.min_percent = c.min_percent;
        pr.encode_sessions = c.encode_sessions;
        rc = pvs_plan_compute(&pr, &pf->plan, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG " plan: %s\n", err);
            goto done;
        }
        strcpy(pf->backend, "hyperv");
        pf->low_mmio_mib = req.low_mmio_mib;
        pf->high_mmio_mib = req.high_mmio_mib;
        if ((*c.emit_ps || *c.save) && (!*c.vm_names || !*c.instance_path)) {
            fprintf(stderr, PROG " plan: --%s needs --vm-names a,b,... and --instance-path "
                    "PATH (the GPU's, as Get-VMHostPartitionableGpu shows it)\n",
                    *c.emit_ps ? "emit-ps" : "save");
            goto done;
        }
        if (strlen(c.instance_path) >= sizeof(pf->gpu)) {
            fprintf(stderr, PROG " plan: --instance-path: longer than %d bytes\n",
                    PVS_HOST_ID_MAX - 1);
            goto done;
        }
        strcpy(pf->gpu, c.instance_path);
    }
    bool hyperv = !strcmp(pf->backend, "hyperv");
    if (*c.emit_ps && !hyperv) {
        fprintf(stderr, PROG " plan: --emit-ps writes Hyper-V's PowerShell; GPU %s is an %s "
                "GPU: use --save FILE and pvstream-host apply FILE\n", pf->gpu, pf->backend);
        goto done;
    }
    /* Everything is checked: now write. */
    char *save_text = NULL;
    if (*c.save) {
        if (!*c.gpu && pvs_planfile_set_names(pf, names, err, sizeof(err)) < 0) {
            fprintf(stderr, PROG " plan: --vm-names: %s\n", err);
            goto done;
        }
        rc = pvs_planfile_format(pf, PROG " " PVS_VERSION, &save_text, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG " plan: --save: %s\n", err);
            status = rc == PVS_EINVAL ? 2 : 1;
            goto done;
        }
    }
    if (*c.emit_ps) {
        struct pvs_ps_settings ps;
        pvs_ps_defaults(&ps);
        ps.instance_path = pf->gpu;
        ps.low_mmio_mib = pf->low_mmio_mib;
        ps.high_mmio_mib = pf->high_mmio_mib;
        ps.generator = PROG " " PVS_VERSION;
        const char *ps_names[PVS_PLAN_MAX_VMS];
        for (int i = 0; i < pf->plan.vms; i++)
            ps_names[i] = *c.gpu ? pf->vm[i].name : names[i];
        rc = pvs_ps_apply_script(&pf->plan, ps_names, &ps, &text, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, PROG " plan: --emit-ps: %s\n", err);
            free(save_text);
            goto done;
        }
        if (write_file(c.emit_ps, text) < 0) {
            fprintf(stderr, PROG " plan: cannot write '%s'\n", c.emit_ps);
            free(save_text);
            status = 1;
            goto done;
        }
        free(text);
        text = NULL;
    }
    if (save_text) {
        rc = write_file(c.save, save_text);
        free(save_text);
        if (rc < 0) {
            fprintf(stderr, PROG " plan: cannot write '%s'\n", c.save);
            status = 1;
            goto done;
        }
    }
    if (!strcmp(c.emit_ps, "-") || !strcmp(c.save, "-")) {
        status = 0; /* stdout holds the script or the plan file */
        goto done;
    }
    if (*c.gpu)
        rc = pvs_planfile_format_summary(pf, c.json, &text);
    else
        rc = c.json ? pvs_plan_format_json(&pf->plan, "hyperv", *c.vm_names ? names : NULL, &text)
                    : pvs_plan_format_table(&pf->plan, "hyperv", *c.vm_names ? names : NULL,
                                            &text);
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
    free(pf);
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
    if (!pvs_sysfs_is_dir(c.sysfs_root)) {
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
    if (!strcmp(argv[1], "vm"))
        return pvs_host_cmd_vm(argc, argv);
    fprintf(stderr, PROG ": unknown command '%s' (see --help)\n", argv[1]);
    return 2;
}
