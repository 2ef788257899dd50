/* `vm create`'s decisions (vm.h): names and sizes refused early, the
 * create part of the check probe and what it printed, the create checks,
 * and the plan the steps' scripts are made from. The scripts are in
 * vm_ps.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/hyperv.h"
#include "host/hyperv_probe.h"
#include "host/planfile.h"
#include "host/ps.h"
#include "host/text.h"
#include "host/unattend.h"
#include "host/vm.h"

#define GIB (1ull << 30)
/* Room the guest needs beyond the applied image before its first sign-in:
 * page file, the driver copy, the first updates. */
#define SPARE_BYTES (8 * GIB)

/* ---- refusals --------------------------------------------------------- */

static bool has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Whether `s` is `word` (ASCII, case ignored), alone or before a '.'. */
static bool is_device(const char *s, const char *word)
{
    size_t n = strlen(word);
    return pvs_probe_ieq_prefix(s, word) && (s[n] == '\0' || s[n] == '.');
}

int pvs_vm_check_name(const char *name, char *why, size_t why_len)
{
    if (!name || !*name) {
        pvs_text_error(why, why_len, "which VM? give its name");
        return PVS_EINVAL;
    }
    size_t n = strlen(name);
    if (n > PVS_VM_NAME_MAX || has_control(name)) {
        pvs_text_error(why, why_len, "a VM name is 1..%d characters without control characters",
                       PVS_VM_NAME_MAX);
        return PVS_EINVAL;
    }
    const char *bad = strpbrk(name, "\\/:*?\"<>|[]`");
    if (bad) {
        pvs_text_error(why, why_len, "VM name '%s': '%c' is not allowed (the name becomes the "
                       "disk's file name, and [ ] ` are wildcards to Hyper-V's cmdlets): pick "
                       "another", name, *bad);
        return PVS_EINVAL;
    }
    if (name[0] == ' ' || name[n - 1] == ' ' || name[n - 1] == '.') {
        pvs_text_error(why, why_len, "VM name '%s': no space at either end and no period at "
                       "the end (Windows drops them from file names)", name);
        return PVS_EINVAL;
    }
    static const char *const devices[] = { "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3",
        "COM4", "COM5", "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5",
        "LPT6", "LPT7", "LPT8", "LPT9" };
    for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++) {
        if (is_device(name, devices[i])) {
            pvs_text_error(why, why_len, "VM name '%s': Windows reserves %s for a device, so "
                           "no file can have that name: pick another", name, devices[i]);
            return PVS_EINVAL;
        }
    }
    return 0;
}

int pvs_vm_check_path(const char *what, const char *path, char *why, size_t why_len)
{
    if (!path || !*path) {
        pvs_text_error(why, why_len, "%s: the path is empty", what);
        return PVS_EINVAL;
    }
    if (has_control(path)) {
        pvs_text_error(why, why_len, "%s: the path holds a control character", what);
        return PVS_EINVAL;
    }
    const char *bad = strpbrk(path, "[]`*?");
    if (bad) {
        pvs_text_error(why, why_len, "%s '%s': '%c' is a wildcard to Hyper-V's and the storage "
                       "cmdlets: rename or move it", what, path, *bad);
        return PVS_EINVAL;
    }
    if (strlen(path) >= PVS_VM_TEXT_MAX - 64) {
        pvs_text_error(why, why_len, "%s: the path is longer than %d bytes", what,
                       PVS_VM_TEXT_MAX - 64);
        return PVS_EINVAL;
    }
    return 0;
}

int pvs_vm_parse_bytes(const char *text, uint64_t *out)
{
    if (!text)
        return PVS_EINVAL;
    const char *p = text;
    uint64_t v = 0;
    if (*p < '0' || *p > '9')
        return PVS_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return PVS_ERANGE;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    static const char units[] = "KMGT";
    const char *u = *p ? strchr(units, *p >= 'a' ? *p - 32 : *p) : NULL;
    if (!*p || !u)
        return PVS_EINVAL; /* a bare number: which unit? */
    p++;
    if (*p == 'i' && p[1] == 'B')
        p += 2;
    else if (*p == 'B' || *p == 'b')
        p++;
    if (*p)
        return PVS_EINVAL;
    int shift = 10 * (int)(u - units + 1);
    if (v > (UINT64_MAX >> shift))
        return PVS_ERANGE;
    *out = v << shift;
    return 0;
}

/* ---- the probe -------------------------------------------------------- */

/* Runs inside the check probe's try block (hyperv_check.c). Each part has
 * its own try, so a host without Hyper-V's module still reads the ISO, and
 * an unreadable ISO still leaves the rest. */
static const char probe_hyperv[] =
    "    try {\n"
    "        $vmhost = Get-VMHost\n"
    "        Put ('default_vhd_dir=' + [string]$vmhost.VirtualHardDiskPath)\n"
    "        foreach ($s in @(Get-VMSwitch)) { Put ('switch=' + [string]$s.SwitchType + '|' + [string]$s.Name) }\n"
    "        foreach ($v in @(Get-VM)) {\n"
    "            foreach ($a in @(Get-VMGpuPartitionAdapter -VM $v)) {\n"
    "                Put ('gpu_vm=' + [string]$a.InstancePath + '|' + [string]$v.Name)\n"
    "            }\n"
    "        }\n"
    "        if ($NewVMName) { Put ('new_vm_count=' + @(Get-VM | Where-Object { $_.Name -eq $NewVMName }).Count) }\n"
    "        $dir = if ($VhdDir) { $VhdDir } else { [string]$vmhost.VirtualHardDiskPath }\n"
    "        $dir = [System.IO.Path]::GetFullPath($dir)\n"
    "        Put ('vhd_dir=' + $dir)\n"
    "        $drive = New-Object System.IO.DriveInfo ([System.IO.Path]::GetPathRoot($dir))\n"
    "        Put ('vhd_free=' + [string]$drive.AvailableFreeSpace)\n"
    "        if ($NewVMName) { Put ('vhd_exists=' + [string](Test-Path -LiteralPath (Join-Path $dir ($NewVMName + '.vhdx')))) }\n"
    "    } catch {\n"
    "        Put ('vhd_dir_error=' + $_.Exception.Message)\n"
    "    }\n"
    "    if ($WantGpu) { $gpuPath = $WantGpu }\n";

static const char probe_host[] =
    "    try {\n"
    "        $cs = Get-CimInstance -ClassName 'Win32_ComputerSystem'\n"
    "        Put ('host_cpus=' + [string]$cs.NumberOfLogicalProcessors)\n"
    "        Put ('host_memory=' + [string]$cs.TotalPhysicalMemory)\n"
    "    } catch { }\n"
    "    try { Put ('time_zone=' + [string](Get-TimeZone).Id) } catch { }\n"
    "    try { Put ('system_locale=' + [string](Get-WinSystemLocale).Name) } catch { }\n"
    "    try { Put ('user_locale=' + [string](Get-Culture).Name) } catch { }\n"
    "    try {\n"
    "        $tips = @(@(Get-WinUserLanguageList)[0].InputMethodTips)\n"
    "        if ($tips.Count -gt 0) { Put ('input_locale=' + [string]$tips[0]) }\n"
    "    } catch { }\n"
    "    if ($PvstreamDir) {\n"
    "        try {\n"
    "            $full = [System.IO.Path]::GetFullPath($PvstreamDir)\n"
    "            Put ('pvstream_dir=' + $full)\n"
    "            Put ('pvstream_server=' + [string](Test-Path -LiteralPath (Join-Path $full 'pvstream-server.exe') -PathType Leaf))\n"
    "        } catch { Put 'pvstream_server=False' }\n"
    "    }\n";

/* The ISO is mounted read-only for as long as it takes to list its images,
 * unless it was mounted already (then it stays as it was). */
static const char probe_iso[] =
    "    $isoHere = $false\n"
    "    try {\n"
    "        $iso = [System.IO.Path]::GetFullPath($IsoPath)\n"
    "        Put ('iso=' + $iso)\n"
    "        if (-not (Test-Path -LiteralPath $iso -PathType Leaf)) { throw 'there is no such file' }\n"
    "        $img = Get-DiskImage -ImagePath $iso\n"
    "        if (-not $img.Attached) {\n"
    "            $img = Mount-DiskImage -ImagePath $iso -Access ReadOnly -StorageType ISO -PassThru\n"
    "            $isoHere = $true\n"
    "        }\n"
    "        $letter = [string]($img | Get-Volume).DriveLetter\n"
    "        if (-not $letter) { throw 'it was mounted without a drive letter: free one' }\n"
    "        $wim = $null\n"
    "        foreach ($n in 'sources\\install.wim', 'sources\\install.esd') {\n"
    "            if (Test-Path -LiteralPath ($letter + ':\\' + $n) -PathType Leaf) { $wim = $n; break }\n"
    "        }\n"
    "        if (-not $wim) { throw 'it has no sources\\install.wim nor sources\\install.esd: is it a Windows installation ISO?' }\n"
    "        Put ('iso_wim=' + $wim)\n"
    "        $file = $letter + ':\\' + $wim\n"
    "        foreach ($i in @(Get-WindowsImage -ImagePath $file)) {\n"
    "            $d = Get-WindowsImage -ImagePath $file -Index $i.ImageIndex\n"
    "            $lang = ''\n"
    "            try { $lang = [string]@($d.Languages)[[int]$d.DefaultLanguageIndex] } catch { }\n"
    "            Put ('image=' + [string]$i.ImageIndex + '|' + [string]$d.Architecture + '|' + [string]$d.Version + '|' +\n"
    "                [string]$d.ImageSize + '|' + [string]$d.InstallationType + '|' + $lang + '|' + [string]$i.ImageName)\n"
    "        }\n"
    "    } catch {\n"
    "        Put ('iso_error=' + $_.Exception.Message)\n"
    "    } finally {\n"
    "        if ($isoHere) { Dismount-DiskImage -ImagePath $iso | Out-Null }\n"
    "    }\n";

/* $Name = 'value' (or ''), on its own line. */
static int put_var(struct pvs_text *t, const char *var, const char *value)
{
    pvs_text_printf(t, "    $%s = ", var);
    int rc = pvs_ps_quote(t, value ? value : "");
    pvs_text_puts(t, "\n");
    return rc;
}

int pvs_vm_probe_part(const struct pvs_vm_request *req, char **extra)
{
    *extra = NULL;
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "    # vm create: what making the VM needs (pvstream-host vm.h).\n");
    const char *gpu = req->gpu && strcmp(req->gpu, "auto") ? req->gpu : "";
    int rc = put_var(&t, "IsoPath", req->iso);
    rc = rc < 0 ? rc : put_var(&t, "VhdDir", req->vhd_dir);
    rc = rc < 0 ? rc : put_var(&t, "NewVMName", req->name);
    rc = rc < 0 ? rc : put_var(&t, "PvstreamDir", req->pvstream_dir);
    rc = rc < 0 ? rc : put_var(&t, "WantGpu", gpu);
    if (rc < 0) {
        pvs_text_free(&t);
        return rc;
    }
    pvs_text_puts(&t, probe_hyperv);
    pvs_text_puts(&t, probe_host);
    pvs_text_puts(&t, probe_iso);
    return pvs_text_take(&t, extra);
}

/* ---- reading it ------------------------------------------------------- */

static void copy_value(char *dst, size_t len, const char *v, size_t n)
{
    if (!pvs_probe_copy_exact(dst, len, v, n))
        PVS_LOG_W("vm: the probe printed a value too long or with control characters: "
                  "skipped");
}

static int parse_int(const char *v, size_t n, uint64_t max)
{
    uint64_t x;
    return pvs_probe_parse_dec(v, n, max, &x) ? (int)x : -1;
}

static int parse_bool(const char *v, size_t n)
{
    return pvs_probe_line_is(v, n, "True") ? 1 : pvs_probe_line_is(v, n, "False") ? 0 : -1;
}

/* The n-th '|'-separated field of (v, vn) (the last takes the rest). */
static bool field(const char *v, size_t vn, int idx, bool rest, const char **s, size_t *n)
{
    const char *p = v, *end = v + vn;
    for (int i = 0; i < idx; i++) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        if (!bar)
            return false;
        p = bar + 1;
    }
    const char *bar = rest ? NULL : memchr(p, '|', (size_t)(end - p));
    *s = p;
    *n = (size_t)((bar ? bar : end) - p);
    return true;
}

static uint64_t build_of(const char *version)
{
    /* "10.0.22631.2428": the third number. */
    const char *p = version;
    for (int dots = 0; dots < 2; dots++) {
        p = strchr(p, '.');
        if (!p)
            return 0;
        p++;
    }
    uint64_t b = 0;
    for (; *p >= '0' && *p <= '9' && b < 1000000; p++)
        b = b * 10 + (uint64_t)(*p - '0');
    return b;
}

/* Field idx of (v, vn) copied exactly into dst. */
static bool text_field(const char *v, size_t vn, int idx, bool rest, char *dst, size_t len)
{
    const char *s;
    size_t n;
    return field(v, vn, idx, rest, &s, &n) && pvs_probe_copy_exact(dst, len, s, n);
}

/* Field idx of (v, vn) as a decimal 0..max. */
static bool num_field(const char *v, size_t vn, int idx, uint64_t max, uint64_t *out)
{
    const char *s;
    size_t n;
    return field(v, vn, idx, false, &s, &n) && pvs_probe_parse_dec(s, n, max, out);
}

/* image=INDEX|ARCH|VERSION|SIZE|TYPE|LANGUAGE|NAME (the name last: it may
 * hold '|'). */
static void parse_image(struct pvs_vm_facts *f, const char *v, size_t vn)
{
    if (f->image_count >= PVS_VM_MAX_IMAGES) {
        f->too_many_images = true;
        return;
    }
    struct pvs_vm_image im;
    memset(&im, 0, sizeof(im));
    uint64_t index = 0;
    bool ok = num_field(v, vn, 0, 100000, &index) && index > 0 &&
              text_field(v, vn, 1, false, im.arch, sizeof(im.arch)) &&
              text_field(v, vn, 2, false, im.version, sizeof(im.version)) &&
              num_field(v, vn, 3, UINT64_MAX, &im.size) &&
              text_field(v, vn, 4, false, im.type, sizeof(im.type)) &&
              text_field(v, vn, 5, false, im.language, sizeof(im.language)) &&
              text_field(v, vn, 6, true, im.name, sizeof(im.name)) && im.name[0];
    im.index = (int)index;
    for (int i = 0; ok && i < f->image_count; i++)
        ok = f->images[i].index != im.index;
    if (!ok) {
        PVS_LOG_W("vm: an image line of the probe does not parse: skipped");
        return;
    }
    im.build = build_of(im.version);
    f->images[f->image_count++] = im;
}

static void parse_pair(const char *v, size_t vn, char *a, size_t alen, char *b, size_t blen,
                       int *count, int max)
{
    const char *s, *t;
    size_t n, m;
    if (*count >= max || !field(v, vn, 0, false, &s, &n) || !field(v, vn, 1, true, &t, &m) ||
        !pvs_probe_copy_exact(a, alen, s, n) || !pvs_probe_copy_exact(b, blen, t, m) || !m) {
        PVS_LOG_W("vm: a line of the probe does not parse (or there are too many): skipped");
        return;
    }
    (*count)++;
}

void pvs_vm_facts_parse(const char *text, size_t len, struct pvs_vm_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->vhd_exists = f->new_vm_count = f->pvstream_server = f->host_cpus = -1;
    struct pvs_probe_lines it = { text, text + len };
    const char *s, *k, *v;
    size_t sn, kn, vn;
    uint64_t x;
    while (text && pvs_probe_next_line(&it, &s, &sn)) {
        if (!pvs_probe_split(s, sn, &k, &kn, &v, &vn))
            continue;
#define KEY(name) pvs_probe_line_is(k, kn, name)
        if (KEY("iso"))
            copy_value(f->iso, sizeof(f->iso), v, vn);
        else if (KEY("iso_error"))
            pvs_probe_copy_display(f->iso_error, sizeof(f->iso_error), v, vn);
        else if (KEY("iso_wim"))
            copy_value(f->iso_wim, sizeof(f->iso_wim), v, vn);
        else if (KEY("image"))
            parse_image(f, v, vn);
        else if (KEY("vhd_dir"))
            copy_value(f->vhd_dir, sizeof(f->vhd_dir), v, vn);
        else if (KEY("vhd_dir_error"))
            pvs_probe_copy_display(f->vhd_dir_error, sizeof(f->vhd_dir_error), v, vn);
        else if (KEY("vhd_free"))
            f->has_vhd_free = pvs_probe_parse_dec(v, vn, UINT64_MAX, &f->vhd_free);
        else if (KEY("vhd_exists"))
            f->vhd_exists = parse_bool(v, vn);
        else if (KEY("new_vm_count"))
            f->new_vm_count = parse_int(v, vn, 100000);
        else if (KEY("pvstream_server"))
            f->pvstream_server = parse_bool(v, vn);
        else if (KEY("pvstream_dir"))
            copy_value(f->pvstream_dir, sizeof(f->pvstream_dir), v, vn);
        else if (KEY("host_cpus"))
            f->host_cpus = parse_int(v, vn, 100000);
        else if (KEY("host_memory"))
            f->host_memory = pvs_probe_parse_dec(v, vn, UINT64_MAX, &x) ? x : 0;
        else if (KEY("os_build"))
            f->host_build = pvs_probe_parse_dec(v, vn, 10000000, &x) ? x : 0;
        else if (KEY("host_vram_bytes"))
            f->host_vram = pvs_probe_parse_dec(v, vn, UINT64_MAX, &x) ? x : 0;
        else if (KEY("time_zone"))
            copy_value(f->time_zone, sizeof(f->time_zone), v, vn);
        else if (KEY("system_locale"))
            copy_value(f->system_locale, sizeof(f->system_locale), v, vn);
        else if (KEY("user_locale"))
            copy_value(f->user_locale, sizeof(f->user_locale), v, vn);
        else if (KEY("input_locale"))
            copy_value(f->input_locale, sizeof(f->input_locale), v, vn);
        else if (KEY("switch")) {
            struct pvs_vm_switch *w = &f->switches[f->switch_count < PVS_VM_MAX_SWITCHES
                                                      ? f->switch_count : 0];
            parse_pair(v, vn, w->type, sizeof(w->type), w->name, sizeof(w->name),
                       &f->switch_count, PVS_VM_MAX_SWITCHES);
        } else if (KEY("gpu_vm")) {
            struct pvs_vm_gpu_vm *g = &f->gpu_vms[f->gpu_vm_count < PVS_VM_MAX_GPU_VMS
                                                      ? f->gpu_vm_count : 0];
            parse_pair(v, vn, g->gpu, sizeof(g->gpu), g->vm, sizeof(g->vm), &f->gpu_vm_count,
                       PVS_VM_MAX_GPU_VMS);
        }
#undef KEY
    }
}

/* ---- the create checks ------------------------------------------------ */


static bool ends_with_ci(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && pvs_probe_ieq_prefix(s + n - m, tail);
}

static bool is_x64(const struct pvs_vm_image *im)
{
    return pvs_probe_ieq(im->arch, "x64") || pvs_probe_ieq(im->arch, "amd64") ||
           !strcmp(im->arch, "9");
}

/* "Windows 11 Home, Windows 11 Pro (6)" */
static void image_names(const struct pvs_vm_facts *f, char *buf, size_t len)
{
    struct pvs_text t = PVS_TEXT_INIT;
    for (int i = 0; i < f->image_count; i++)
        pvs_text_printf(&t, "%s%d: %s", i ? ", " : "", f->images[i].index, f->images[i].name);
    snprintf(buf, len, "%s", t.buf && !t.err ? t.buf : "");
    pvs_text_free(&t);
}

const struct pvs_vm_image *pvs_vm_pick_image(const struct pvs_vm_facts *f, const char *edition,
                                             char *why, size_t why_len)
{
    char names[1024];
    image_names(f, names, sizeof(names));
    if (f->image_count == 0) {
        pvs_text_error(why, why_len, "the ISO lists no Windows image");
        return NULL;
    }
    if (edition && *edition) {
        uint64_t idx = 0;
        bool number = pvs_probe_parse_dec(edition, strlen(edition), 100000, &idx);
        for (int i = 0; i < f->image_count; i++)
            if ((number && f->images[i].index == (int)idx) ||
                pvs_probe_ieq(f->images[i].name, edition))
                return &f->images[i];
        pvs_text_error(why, why_len, "the ISO has no edition '%s'; it has %s", edition, names);
        return NULL;
    }
    const struct pvs_vm_image *pro = NULL;
    int pros = 0;
    for (int i = 0; i < f->image_count; i++) {
        if (ends_with_ci(f->images[i].name, " Pro")) {
            pro = &f->images[i];
            pros++;
        }
    }
    if (pros == 1)
        return pro;
    if (f->image_count == 1)
        return &f->images[0];
    pvs_text_error(why, why_len, "the ISO has %d editions (%s): say which with --edition NAME "
                   "or its number", f->image_count, names);
    return NULL;
}

/* The checks append through check.h's builder. */
#define add pvs_checks_addf

static double gib(uint64_t bytes)
{
    return (double)bytes / (double)GIB;
}

/* The switch the VM's network adapter goes on: --switch's, else the only
 * external one, else Default Switch (NAT: only the host reaches the VM).
 * NULL when none fits; *verdict and found/fix say why either way. */
static const char *pick_switch(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                               enum pvs_check_verdict *verdict, char *found, char *fix,
                               size_t len)
{
    *verdict = PVS_CHECK_OK;
    fix[0] = '\0';
    if (req->switch_name && *req->switch_name) {
        for (int i = 0; i < f->switch_count; i++) {
            if (!strcmp(f->switches[i].name, req->switch_name)) {
                snprintf(found, len, "virtual switch '%s' (%s)", f->switches[i].name,
                         f->switches[i].type);
                return f->switches[i].name;
            }
        }
        *verdict = PVS_CHECK_FAIL;
        snprintf(found, len, "no virtual switch is named '%s'", req->switch_name);
        snprintf(fix, len, "Get-VMSwitch lists them; New-VMSwitch -Name LAN -NetAdapterName "
                 "ETHERNET makes an external one");
        return NULL;
    }
    const char *external = NULL, *dflt = NULL;
    int externals = 0;
    for (int i = 0; i < f->switch_count; i++) {
        if (pvs_probe_ieq(f->switches[i].type, "External")) {
            external = f->switches[i].name;
            externals++;
        }
        if (!strcmp(f->switches[i].name, "Default Switch"))
            dflt = f->switches[i].name;
    }
    if (externals == 1) {
        snprintf(found, len, "external virtual switch '%s'", external);
        return external;
    }
    if (externals > 1) {
        *verdict = PVS_CHECK_FAIL;
        snprintf(found, len, "%d external virtual switches", externals);
        snprintf(fix, len, "say which one the VM goes on with --switch NAME (Get-VMSwitch "
                 "lists them)");
        return NULL;
    }
    if (dflt) {
        *verdict = PVS_CHECK_WARN;
        snprintf(found, len, "no external virtual switch: the VM goes on 'Default Switch', "
                 "behind NAT, where only this host reaches it");
        snprintf(fix, len, "to stream to other machines, make an external switch "
                 "(New-VMSwitch -Name LAN -NetAdapterName ETHERNET) and give --switch LAN");
        return dflt;
    }
    *verdict = PVS_CHECK_FAIL;
    snprintf(found, len, "this host has no virtual switch: the VM would have no network");
    snprintf(fix, len, "make one: New-VMSwitch -Name LAN -NetAdapterName ETHERNET (Get-NetAdapter "
             "names the adapters), then give --switch LAN");
    return NULL;
}

static void check_iso(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                      struct pvs_checks_builder *r)
{
    static const char iso_fix[] =
        "give --iso a Windows 10 or 11 (or Server) installation ISO for x64, as Microsoft's "
        "download page gives it: its sources folder holds install.wim or install.esd";
    const char *iso = *f->iso ? f->iso : req->iso ? req->iso : "?";
    if (*f->iso_error) {
        add(r, "iso", PVS_CHECK_FAIL, iso_fix, "%s cannot be read: %s", iso, f->iso_error);
        return;
    }
    if (f->image_count == 0) {
        add(r, "iso", PVS_CHECK_FAIL, iso_fix, "%s: no Windows image was listed", iso);
        return;
    }
    add(r, "iso", PVS_CHECK_OK, "", "%s: %d edition%s in %s", iso, f->image_count,
        f->image_count == 1 ? "" : "s", f->iso_wim);
    char why[PVS_CHECK_TEXT_MAX];
    const struct pvs_vm_image *im = pvs_vm_pick_image(f, req->edition, why, sizeof(why));
    if (!im) {
        add(r, "iso-edition", PVS_CHECK_FAIL, "give --edition one of the names listed (or its "
            "number)", "%s", why);
        return;
    }
    if (!is_x64(im)) {
        add(r, "iso-edition", PVS_CHECK_FAIL, "use an x64 Windows ISO: Hyper-V on this host runs "
            "x64 guests", "%s is for %s, not x64", im->name, im->arch);
        return;
    }
    add(r, "iso-edition", PVS_CHECK_OK, "", "%s (number %d, %s, version %s)", im->name,
        im->index, im->arch, im->version);
    if (im->build && f->host_build && im->build > f->host_build)
        add(r, "guest-version", PVS_CHECK_WARN,
            "use an ISO of the host's Windows version (or older), or update the host: the "
            "guest runs the host's GPU driver, which a newer Windows may not load",
            "the guest (build %" PRIu64 ") is newer than the host (build %" PRIu64 ")",
            im->build, f->host_build);
    else if (im->build && f->host_build)
        add(r, "guest-version", PVS_CHECK_OK, "", "guest build %" PRIu64 ", host build %" PRIu64,
            im->build, f->host_build);
}

static void check_disk(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                       struct pvs_checks_builder *r)
{
    if (*f->vhd_dir_error || !*f->vhd_dir) {
        add(r, "vhd", PVS_CHECK_FAIL, "give --vhd-dir a folder on a local disk of this host",
            "the folder for the VM's disk cannot be used: %s",
            *f->vhd_dir_error ? f->vhd_dir_error : "the probe did not say which it is");
        return;
    }
    if (req->name && f->vhd_exists == 1) {
        add(r, "vhd", PVS_CHECK_FAIL, "remove that file if it is not needed, or give --vhd-dir "
            "another folder", "%s\\%s.vhdx exists already", f->vhd_dir, req->name);
        return;
    }
    add(r, "vhd", PVS_CHECK_OK, "", "the disk goes to %s\\%s.vhdx", f->vhd_dir,
        req->name ? req->name : "NAME");
    if (!f->has_vhd_free) {
        add(r, "disk-space", PVS_CHECK_SKIP, "check the free space of the disk by hand",
            "the free space of %s could not be read", f->vhd_dir);
        return;
    }
    const struct pvs_vm_image *im = pvs_vm_pick_image(f, req->edition, NULL, 0);
    uint64_t need = (im && im->size ? im->size : 16 * GIB) + SPARE_BYTES;
    uint64_t disk = req->disk ? req->disk : PVS_VM_DEFAULT_DISK;
    if (f->vhd_free < need)
        add(r, "disk-space", PVS_CHECK_FAIL, "free space on that disk, or give --vhd-dir a "
            "folder on another", "%.1f GiB free where the disk goes; Windows needs about "
            "%.1f GiB to install", gib(f->vhd_free), gib(need));
    else if (f->vhd_free < disk)
        add(r, "disk-space", PVS_CHECK_WARN, "free space, or give a smaller --disk: the VM "
            "pauses when the host's disk is full", "%.1f GiB free; the VM's disk may grow to "
            "%.1f GiB", gib(f->vhd_free), gib(disk));
    else
        add(r, "disk-space", PVS_CHECK_OK, "", "%.1f GiB free, the disk may grow to %.1f GiB",
            gib(f->vhd_free), gib(disk));
}

int pvs_vm_check_items(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                       struct pvs_checks *out)
{
    struct pvs_checks_builder r = { out, 0 };
    check_iso(req, f, &r);
    if (req->name) {
        char fix[PVS_CHECK_TEXT_MAX];
        snprintf(fix, sizeof(fix), "pick another name, or remove that VM: pvstream-host vm "
                 "delete '%s'", req->name);
        if (f->new_vm_count < 0)
            add(&r, "vm-name", PVS_CHECK_SKIP, "enable Hyper-V and run as administrator",
                "the VMs could not be listed");
        else if (f->new_vm_count > 0)
            add(&r, "vm-name", PVS_CHECK_FAIL, fix, "a VM named '%s' exists already", req->name);
        else
            add(&r, "vm-name", PVS_CHECK_OK, "", "no VM is named '%s' yet", req->name);
    }
    check_disk(req, f, &r);
    uint64_t memory = req->memory ? req->memory : PVS_VM_DEFAULT_MEMORY;
    if (f->host_memory && memory >= f->host_memory)
        add(&r, "memory", PVS_CHECK_FAIL, "give --memory less than the host has",
            "%.1f GiB asked, the host has %.1f GiB", gib(memory), gib(f->host_memory));
    else if (f->host_memory)
        add(&r, "memory", PVS_CHECK_OK, "", "%.1f GiB of the host's %.1f GiB", gib(memory),
            gib(f->host_memory));
    if (req->cpus > 0 && f->host_cpus > 0 && req->cpus > f->host_cpus)
        add(&r, "cpus", PVS_CHECK_FAIL, "give --cpus at most the host's logical processors",
            "%d processors asked, the host has %d", req->cpus, f->host_cpus);
    char found[PVS_CHECK_TEXT_MAX], fix[PVS_CHECK_TEXT_MAX];
    enum pvs_check_verdict v;
    pick_switch(req, f, &v, found, fix, sizeof(found));
    add(&r, "vm-switch", v, fix, "%s", found);
    if (req->pvstream_dir) {
        static const char pv_fix[] =
            "run pvstream-host from the unzipped pvstream-VERSION-windows-x64.zip folder, or "
            "give --pvstream DIR (that folder)";
        const char *dir = *f->pvstream_dir ? f->pvstream_dir : req->pvstream_dir;
        if (f->pvstream_server == 1)
            add(&r, "pvstream-files", PVS_CHECK_OK, "", "%s\\pvstream-server.exe goes into the "
                "guest", dir);
        else if (f->pvstream_server == 0)
            add(&r, "pvstream-files", PVS_CHECK_FAIL, pv_fix, "%s holds no pvstream-server.exe",
                dir);
        else
            add(&r, "pvstream-files", PVS_CHECK_SKIP, pv_fix, "%s could not be looked at", dir);
    }
    return r.rc;
}

/* ---- the plan --------------------------------------------------------- */

/* A locale or language tag ("en-US", "0409:00000409", "{...}{...}"). */
static bool tag_ok(const char *s)
{
    if (!*s || strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == ':' || c == '{' || c == '}' || c == '_'))
            return false;
    }
    return true;
}

/* A Windows time zone id: "W. Europe Standard Time", "UTC+12". */
static bool zone_ok(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(" .-+()_", c)))
            return false;
    }
    return true;
}

static int fail(char *why, size_t why_len, const char *fmt, ...) PVS_TEXT_PRINTF(3, 4);
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && why_len)
        vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
    return PVS_EINVAL;
}

static const struct pvs_host_gpu *pick_gpu(const char *want, const struct pvs_host_gpu *gpus,
                                           int n, char *why, size_t why_len)
{
    struct pvs_text found = PVS_TEXT_INIT;
    for (int i = 0; i < n; i++)
        pvs_text_printf(&found, "%s%s", i ? ", " : "", gpus[i].id);
    const char *list = found.buf && !found.err ? found.buf : "";
    const struct pvs_host_gpu *g = NULL;
    if (n == 0) {
        fail(why, why_len, "this host has no partitionable GPU (pvstream-host check says why)");
    } else if (!want || !*want || !strcmp(want, "auto")) {
        if (n == 1)
            g = &gpus[0];
        else
            fail(why, why_len, "this host has %d partitionable GPUs (%s): say which with --gpu "
                 "PATH", n, list);
    } else {
        for (int i = 0; i < n && !g; i++)
            if (pvs_probe_ieq(gpus[i].id, want))
                g = &gpus[i];
        if (!g)
            fail(why, why_len, "no partitionable GPU has the instance path %s (this host has: "
                 "%s)", want, list);
    }
    pvs_text_free(&found);
    return g;
}

/* This VM's share of the GPU through planfile.h's split. */
static int plan_share(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                      const struct pvs_host_gpu *gpus, int ngpus, struct pvs_vm_plan *out,
                      char *why, size_t why_len)
{
    out->sharing = 0;
    for (int i = 0; i < f->gpu_vm_count; i++)
        out->sharing += pvs_probe_ieq(f->gpu_vms[i].gpu, out->gpu);
    struct pvs_planfile_request pr;
    memset(&pr, 0, sizeof(pr));
    pr.gpu = out->gpu;
    pr.backend = "hyperv";
    uint32_t weights[PVS_PLAN_MAX_VMS];
    int mine;
    if (req->share > 0 && req->share < 100) {
        weights[0] = (uint32_t)req->share;
        weights[1] = (uint32_t)(100 - req->share);
        pr.vms = 2;
        pr.weights = weights;
        mine = 0;
    } else if (req->share == 100) {
        pr.vms = 1;
        mine = 0;
    } else {
        if (out->sharing + 1 > PVS_PLAN_MAX_VMS)
            return fail(why, why_len, "%d VMs have a partition of this GPU already: give "
                        "--share PCT", out->sharing);
        pr.vms = out->sharing + 1;
        mine = out->sharing;
    }
    struct pvs_planfile *pf = malloc(sizeof(*pf));
    if (!pf)
        return fail(why, why_len, "out of memory");
    int rc = pvs_planfile_for_gpu(gpus, ngpus, &pr, pf, why, why_len);
    if (rc == 0)
        out->part = pf->plan.vm[mine];
    free(pf);
    return rc < 0 ? PVS_EINVAL : 0;
}

int pvs_vm_decide(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                  const struct pvs_host_gpu *gpus, int ngpus, struct pvs_vm_plan *out,
                  char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    if (pvs_vm_check_name(req->name, why, why_len) < 0)
        return PVS_EINVAL;
    snprintf(out->name, sizeof(out->name), "%s", req->name);
    if (!*f->iso || !*f->pvstream_dir || !*f->vhd_dir)
        return fail(why, why_len, "the check probe did not say where the %s is",
                    !*f->iso ? "ISO" : !*f->pvstream_dir ? "pvstream folder" : "disk folder");
    snprintf(out->iso, sizeof(out->iso), "%s", f->iso);
    snprintf(out->pvstream_dir, sizeof(out->pvstream_dir), "%s", f->pvstream_dir);
    const struct pvs_vm_image *im = pvs_vm_pick_image(f, req->edition, why, why_len);
    if (!im)
        return PVS_EINVAL;
    if (!is_x64(im))
        return fail(why, why_len, "%s is for %s, not x64", im->name, im->arch);
    if (!tag_ok(im->language))
        return fail(why, why_len, "the image's language could not be read from the ISO");
    out->image = *im;
    /* Windows 11 will not install or update without a TPM 2.0; Windows 10
     * and Server do not need one. */
    out->tpm = im->build >= 22000 && !pvs_probe_ieq(im->type, "Server");
    size_t dl = strlen(f->vhd_dir);
    bool sep = dl && (f->vhd_dir[dl - 1] == '\\' || f->vhd_dir[dl - 1] == '/');
    snprintf(out->vhd_path, sizeof(out->vhd_path), "%s%s%s.vhdx", f->vhd_dir, sep ? "" : "\\",
             req->name);
    out->disk = req->disk ? req->disk : PVS_VM_DEFAULT_DISK;
    out->memory = req->memory ? req->memory : PVS_VM_DEFAULT_MEMORY;
    out->cpus = req->cpus > 0 ? req->cpus : PVS_VM_DEFAULT_CPUS;
    if (req->cpus <= 0 && f->host_cpus > 0 && out->cpus > f->host_cpus)
        out->cpus = f->host_cpus;
    char found[PVS_CHECK_TEXT_MAX], fix[PVS_CHECK_TEXT_MAX];
    enum pvs_check_verdict v;
    const char *sw = pick_switch(req, f, &v, found, fix, sizeof(found));
    if (!sw)
        return fail(why, why_len, "%s: %s", found, fix);
    snprintf(out->switch_name, sizeof(out->switch_name), "%s", sw);
    const struct pvs_host_gpu *g = pick_gpu(req->gpu, gpus, ngpus, why, why_len);
    if (!g)
        return PVS_EINVAL;
    snprintf(out->gpu, sizeof(out->gpu), "%s", g->id);
    out->share = req->share;
    if (plan_share(req, f, gpus, ngpus, out, why, why_len) < 0)
        return PVS_EINVAL;
    out->low_mmio_mib = PVS_PS_DEFAULT_LOW_MMIO_MIB;
    out->high_mmio_mib = pvs_hyperv_high_mmio_gib(f->host_vram) * 1024;
    pvs_unattend_computer_name(req->name, out->computer_name);
    snprintf(out->time_zone, sizeof(out->time_zone), "%s",
             zone_ok(f->time_zone) ? f->time_zone : "UTC");
    snprintf(out->ui_language, sizeof(out->ui_language), "%s", im->language);
    /* The host's formats and keyboard, where it said them plainly. */
    snprintf(out->system_locale, sizeof(out->system_locale), "%s",
             tag_ok(f->system_locale) ? f->system_locale : im->language);
    snprintf(out->user_locale, sizeof(out->user_locale), "%s",
             tag_ok(f->user_locale) ? f->user_locale : im->language);
    snprintf(out->input_locale, sizeof(out->input_locale), "%s",
             tag_ok(f->input_locale) ? f->input_locale : im->language);
    return 0;
}

int pvs_vm_preflight(const struct pvs_vm_request *req, struct pvs_checks *checks,
                     struct pvs_vm_facts *facts, char *why, size_t why_len)
{
    memset(facts, 0, sizeof(*facts));
    char *extra = NULL, *raw = NULL;
    int rc = pvs_vm_probe_part(req, &extra);
    if (rc < 0)
        return fail(why, why_len, "a name or path holds a control character");
    struct pvs_host_ctx ctx = { .sysfs_root = "/" };
    rc = pvs_host_check_hyperv_ex(&ctx, req->check_vm, extra, checks, &raw, why, why_len);
    free(extra);
    if (rc < 0)
        return rc;
    pvs_vm_facts_parse(raw, strlen(raw), facts);
    free(raw);
    rc = pvs_vm_check_items(req, facts, checks);
    if (rc < 0)
        pvs_text_error(why, why_len, "out of memory");
    return rc;
}
