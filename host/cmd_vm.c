/* `pvstream-host vm create | delete | status` (vm.h). This file reads the
 * command line and the password, runs the steps in order through the
 * runner, and undoes what a failed step left; what each step does is
 * decided in vm.c and written in vm_ps.c and unattend.c. */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef _WIN32
#include <conio.h>
#include <io.h>
#else
#include <termios.h>
#include <unistd.h>
#endif

#include "common/config.h"
#include "common/error.h"
#include "host/backend.h"
#include "host/check.h"
#include "host/cmds.h"
#include "host/drivers.h"
#include "host/hyperv_probe.h"
#include "host/run.h"
#include "host/text.h"
#include "host/unattend.h"
#include "host/vm.h"

#define PROG "pvstream-host vm"
#define PASSWORD_BUF 512

struct create_cli {
    char iso[PVS_OPT_STRING_MAX];
    char edition[PVS_OPT_STRING_MAX];
    char gpu[PVS_OPT_STRING_MAX];
    int share;
    char memory[PVS_OPT_STRING_MAX];
    int cpus;
    char disk[PVS_OPT_STRING_MAX];
    char vhd_dir[PVS_OPT_STRING_MAX];
    char user[PVS_OPT_STRING_MAX];
    char password_file[PVS_OPT_STRING_MAX];
    int size[2];
    int fps;
    char switch_name[PVS_OPT_STRING_MAX];
    char pvstream[PVS_OPT_STRING_MAX];
    bool dry_run;
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "vm", k, k, t, offsetof(struct create_cli, field), lo, hi, NULL, mv, h }
static const struct pvs_option create_options[] = {
    OPT("iso", PVS_OPT_STRING, iso, 0, 0, "FILE", "the Windows installation ISO (x64)"),
    OPT("edition", PVS_OPT_STRING, edition, 0, 0, "NAME",
        "the edition to install, by name or number; unset: the \"... Pro\" one, or the only one"),
    OPT("gpu", PVS_OPT_STRING, gpu, 0, 0, "ID", "the GPU's instance path, or auto: the only one"),
    OPT("share", PVS_OPT_INT, share, 0, 100, "PCT",
        "this VM's percent of the GPU; 0: an equal split with the VMs already on it"),
    OPT("memory", PVS_OPT_STRING, memory, 0, 0, "SIZE", "memory, static (8G, 16384M)"),
    OPT("cpus", PVS_OPT_INT, cpus, 0, 1024, "N", "virtual processors; 0: 4, at most the host's"),
    OPT("disk", PVS_OPT_STRING, disk, 0, 0, "SIZE", "the system disk's size (a dynamic VHDX)"),
    OPT("vhd-dir", PVS_OPT_STRING, vhd_dir, 0, 0, "DIR",
        "where the VHDX goes; unset: Hyper-V's virtual hard disk folder"),
    OPT("user", PVS_OPT_STRING, user, 0, 0, "NAME",
        "the guest's local administrator, signed in automatically"),
    OPT("password-file", PVS_OPT_STRING, password_file, 0, 0, "FILE",
        "its password: the first line of FILE; unset: asked here, not shown"),
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, "WxH",
        "the stream's size, in the guest's pvstream settings; unset: the client's"),
    OPT("fps", PVS_OPT_INT, fps, 0, 240, "N", "frames per second; 0: the client's"),
    OPT("switch", PVS_OPT_STRING, switch_name, 0, 0, "NAME",
        "the virtual switch; unset: the only external one, else Default Switch"),
    OPT("pvstream", PVS_OPT_STRING, pvstream, 0, 0, "DIR",
        "the unzipped pvstream folder to install; unset: this program's folder"),
    OPT("dry-run", PVS_OPT_BOOL, dry_run, 0, 0, NULL,
        "check, then print every script and file the VM is made with; make nothing"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};
#undef OPT

struct delete_cli {
    bool delete_disk;
    bool force;
    bool dry_run;
};

static const struct pvs_option delete_options[] = {
    { "vm", "delete-disk", "delete-disk", PVS_OPT_BOOL, offsetof(struct delete_cli, delete_disk),
      0, 0, NULL, NULL, "remove its virtual disk files too" },
    { "vm", "force", "force", PVS_OPT_BOOL, offsetof(struct delete_cli, force), 0, 0, NULL, NULL,
      "remove a VM that vm create did not make" },
    { "vm", "dry-run", "dry-run", PVS_OPT_BOOL, offsetof(struct delete_cli, dry_run), 0, 0, NULL,
      NULL, "print the script; remove nothing" },
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static void create_defaults(struct create_cli *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->gpu, "auto");
    strcpy(c->memory, "8G");
    strcpy(c->disk, "128G");
    strcpy(c->user, PVS_VM_DEFAULT_USER);
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: " PROG " create NAME --iso FILE [options]\n"
        "       " PROG " delete NAME [--delete-disk] [--force] [--dry-run]\n"
        "       " PROG " status NAME\n\n"
        "create makes a Hyper-V VM that streams: Windows from the ISO onto a new disk,\n"
        "without setup questions, a GPU partition, the host's GPU driver, and\n"
        "pvstream-server installed as a service at the first sign-in. It checks the\n"
        "host first and changes nothing unless the checks pass; a failed step removes\n"
        "what it made. docs/host.md explains every step.\n\n"
        "create's options:\n");
    struct create_cli c;
    create_defaults(&c);
    pvs_config_print_help(create_options, &c, out);
    fprintf(out, "\ndelete's options:\n");
    struct delete_cli d = { false, false, false };
    pvs_config_print_help(delete_options, &d, out);
}

/* ---- the password ------------------------------------------------------ */

static void wipe(char *buf, size_t len)
{
    sodium_memzero(buf, len);
}

/* The first line of FILE (a UTF-8 byte order mark and the line end
 * dropped). */
static int password_from_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, PROG " create: --password-file '%s' cannot be read\n", path);
        return PVS_ENOENT;
    }
#ifndef _WIN32
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, PROG " create: warning: %s can be read by others (chmod 600 it)\n", path);
#endif
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (n >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
        memmove(buf, buf + 3, n - 2);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

#ifdef _WIN32
/* Reads a line from the console without echo (_getwch: the C runtime's
 * console input), as UTF-8. */
static int read_hidden(char *buf, size_t len)
{
    if (!_isatty(_fileno(stdin)))
        return PVS_ENOTSUP;
    wchar_t w[PASSWORD_BUF];
    size_t n = 0;
    for (;;) {
        wint_t c = _getwch();
        if (c == L'\r' || c == L'\n' || c == WEOF)
            break;
        if (c == 3) { /* Ctrl+C */
            sodium_memzero(w, sizeof(w));
            return PVS_EIO;
        }
        if (c == L'\b') {
            if (n)
                n--;
            continue;
        }
        if (n + 1 < PASSWORD_BUF)
            w[n++] = (wchar_t)c;
    }
    w[n] = L'\0';
    char *u = pvs_text_utf8(w);
    sodium_memzero(w, sizeof(w));
    if (!u)
        return PVS_EINVAL;
    snprintf(buf, len, "%s", u);
    sodium_memzero(u, strlen(u));
    free(u);
    return 0;
}
#else
/* Reads a line from the terminal with echo off (read(), so no stdio buffer
 * keeps a copy). */
static int read_hidden(char *buf, size_t len)
{
    if (!isatty(STDIN_FILENO))
        return PVS_ENOTSUP;
    struct termios old, quiet;
    if (tcgetattr(STDIN_FILENO, &old) != 0)
        return PVS_EIO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    size_t n = 0;
    char c;
    while (read(STDIN_FILENO, &c, 1) == 1 && c != '\n') {
        if (n + 1 < len)
            buf[n++] = c;
    }
    buf[n] = '\0';
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    buf[strcspn(buf, "\r")] = '\0';
    return 0;
}
#endif

static int password_from_prompt(const char *user, char *buf, size_t len)
{
    char again[PASSWORD_BUF];
    for (int tries = 0; tries < 3; tries++) {
        fprintf(stderr, "Password for the VM's user '%s': ", user);
        fflush(stderr);
        int rc = read_hidden(buf, len);
        fputs("\n", stderr);
        if (rc == PVS_ENOTSUP) {
            fprintf(stderr, PROG " create: no terminal to ask for the password on: give "
                    "--password-file FILE\n");
            return rc;
        }
        if (rc < 0)
            return rc;
        fprintf(stderr, "Again: ");
        fflush(stderr);
        rc = read_hidden(again, sizeof(again));
        fputs("\n", stderr);
        bool same = rc == 0 && !strcmp(buf, again);
        wipe(again, sizeof(again));
        if (same)
            return 0;
        fprintf(stderr, "The two differ; once more.\n");
    }
    return PVS_EINVAL;
}

/* ---- running the steps ------------------------------------------------- */

/* Runs a step's script and merges what it made into *made. Returns 0, or
 * <0 with why. */
static int run_step(const char *script, struct pvs_vm_made *made, char **out_text, char *why,
                    size_t why_len)
{
    char *out = NULL, *err = NULL, msg[512];
    int status = 0;
    int rc = pvs_host_powershell_capture(script, &out, &err, &status, msg, sizeof(msg));
    if (rc < 0) {
        pvs_text_error(why, why_len, "PowerShell could not be run: %s", msg);
        return rc;
    }
    rc = pvs_vm_made_parse(out, strlen(out), made, msg, sizeof(msg));
    if (rc == PVS_EIO) {
        pvs_text_error(why, why_len, "%s", msg);
    } else if (rc < 0 || status != 0) {
        char line[256];
        pvs_probe_first_line(err ? err : "", line, sizeof(line));
        pvs_text_error(why, why_len, "PowerShell exit status %d%s%s", status,
                       *line ? ": " : "", *line ? line : "");
        rc = PVS_EIO;
    }
    if (out_text)
        *out_text = out;
    else
        free(out);
    free(err);
    return rc;
}

/* Prints the removed=, kept= and left= lines of a cleanup or delete;
 * returns how many things were left in place by a failure. */
static int report_removals(const char *text)
{
    struct pvs_probe_lines it = { text, text + strlen(text) };
    const char *s, *k, *v;
    size_t sn, kn, vn;
    int left = 0;
    while (pvs_probe_next_line(&it, &s, &sn)) {
        if (!pvs_probe_split(s, sn, &k, &kn, &v, &vn))
            continue;
        char val[PVS_VM_TEXT_MAX + 256];
        pvs_probe_copy_display(val, sizeof(val), v, vn);
        char *bar = strchr(val, '|');
        if (!bar)
            continue;
        *bar = '\0';
        const char *what = !strcmp(val, "vm") ? "VM" : !strcmp(val, "vhd") ? "disk" : val;
        if (pvs_probe_line_is(k, kn, "removed")) {
            printf("removed the %s %s\n", what, bar + 1);
        } else if (pvs_probe_line_is(k, kn, "kept")) {
            printf("kept the %s %s (remove it by hand, or use --delete-disk)\n", what, bar + 1);
        } else if (pvs_probe_line_is(k, kn, "left")) {
            char *reason = strchr(bar + 1, '|');
            if (reason)
                *reason++ = '\0';
            fprintf(stderr, PROG " create: could not remove the %s %s%s%s: remove it by hand "
                    "(%s)\n", what, bar + 1, reason ? ": " : "", reason ? reason : "",
                    !strcmp(val, "vm") ? "Remove-VM -Id ID -Force" :
                    !strcmp(val, "vhd") ? "Remove-Item -LiteralPath PATH" : "Dismount-DiskImage");
            left++;
        }
    }
    return left;
}

static void cleanup(const struct pvs_vm_made *made)
{
    if (!*made->vm_id && !*made->vhd && !made->iso_mounted) {
        fprintf(stderr, PROG " create: nothing had been made yet\n");
        return;
    }
    char *script = NULL, *out = NULL, why[512];
    struct pvs_vm_made ignore;
    memset(&ignore, 0, sizeof(ignore));
    fprintf(stderr, PROG " create: removing what was made\n");
    if (pvs_vm_script_cleanup(made, &script) < 0) {
        fprintf(stderr, PROG " create: cannot write the cleanup script\n");
        return;
    }
    int rc = run_step(script, &ignore, &out, why, sizeof(why));
    free(script);
    int left = report_removals(out ? out : "");
    if (rc < 0 && !left)
        fprintf(stderr, PROG " create: the cleanup failed (%s): remove the VM '%s' (Remove-VM) "
                "and the disk %s by hand\n", why, *made->vm_id ? made->vm_id : "-",
                *made->vhd ? made->vhd : "-");
    free(out);
}

/* ---- create ------------------------------------------------------------ */

/* The guest's files, as text, and (for a real run) as temporary files. */
struct guest_files {
    char *unattend, *setup, *state, *config;
    char paths[4][1024];
};

static void guest_files_free(struct guest_files *g)
{
    for (int i = 0; i < 4; i++)
        pvs_host_remove_file(g->paths[i]);
    if (g->unattend) {
        sodium_memzero(g->unattend, strlen(g->unattend));
        free(g->unattend);
    }
    free(g->setup);
    free(g->state);
    free(g->config);
    memset(g, 0, sizeof(*g));
}

static int guest_files_make(const struct pvs_vm_plan *p, const char *user, const char *password,
                            int width, int height, int fps, struct guest_files *g, char *why,
                            size_t why_len)
{
    memset(g, 0, sizeof(*g));
    struct pvs_unattend u = {
        .user = user, .password = password, .computer_name = p->computer_name,
        .time_zone = p->time_zone, .ui_language = p->ui_language,
        .system_locale = p->system_locale, .user_locale = p->user_locale,
        .input_locale = p->input_locale, .vm_name = p->name,
    };
    int rc = pvs_unattend_xml(&u, &g->unattend, why, why_len);
    if (rc == 0 && (pvs_unattend_setup_script(&g->setup) < 0 ||
                    pvs_unattend_state_script(&g->state) < 0 ||
                    pvs_unattend_server_ini(width, height, fps, &g->config) < 0)) {
        pvs_text_error(why, why_len, "out of memory");
        rc = PVS_ENOMEM;
    }
    return rc;
}

static int guest_files_write(struct guest_files *g, struct pvs_vm_files *files, char *why,
                             size_t why_len)
{
    const char *text[4] = { g->unattend, g->setup, g->state, g->config };
    static const char *const suffix[4] = { "-unattend.xml", "-setup.ps1", "-state.ps1", "-vm.ini" };
    for (int i = 0; i < 4; i++) {
        int rc = pvs_host_temp_file(suffix[i], text[i], strlen(text[i]), g->paths[i],
                                    sizeof(g->paths[i]));
        if (rc < 0) {
            g->paths[i][0] = '\0';
            pvs_text_error(why, why_len, "cannot write a temporary file: %s", pvs_strerror(rc));
            return rc;
        }
    }
    files->unattend = g->paths[0];
    files->setup = g->paths[1];
    files->state = g->paths[2];
    files->config = g->paths[3];
    return 0;
}

static void print_plan(const struct pvs_vm_plan *p, const char *user)
{
    printf("\nVM '%s': generation 2, %d processors, %.1f GiB of memory, Secure Boot%s\n",
           p->name, p->cpus, (double)p->memory / (1ull << 30), p->tpm ? ", TPM" : "");
    printf("  Windows: %s (number %d, %s, version %s)\n", p->image.name, p->image.index,
           p->image.language, p->image.version);
    printf("  disk: %s, dynamic, up to %.0f GiB\n", p->vhd_path, (double)p->disk / (1ull << 30));
    printf("  network: virtual switch '%s'\n", p->switch_name);
    printf("  GPU: %s\n", p->gpu);
    if (p->share)
        printf("       %d %% of it\n", p->share);
    else
        printf("       an equal share with the %d VM%s already on it: 1/%d (those keep theirs: "
               "plan and apply again to even them)\n", p->sharing, p->sharing == 1 ? "" : "s",
               p->sharing + 1);
    printf("       VRAM %llu, encode %llu, decode %llu, compute %llu; MMIO %llu MiB low, "
           "%llu MiB high\n",
           (unsigned long long)p->part.res[PVS_GPU_VRAM].optimal,
           (unsigned long long)p->part.res[PVS_GPU_ENCODE].optimal,
           (unsigned long long)p->part.res[PVS_GPU_DECODE].optimal,
           (unsigned long long)p->part.res[PVS_GPU_COMPUTE].optimal,
           (unsigned long long)p->low_mmio_mib, (unsigned long long)p->high_mmio_mib);
    printf("  guest: computer %s, user '%s' signed in automatically, time zone %s, "
           "locale %s (keyboard %s)\n\n", p->computer_name, user, p->time_zone, p->user_locale,
           p->input_locale);
}

static void print_file(const char *title, const char *text)
{
    /* The scripts' byte order mark is for PowerShell, not for a listing. */
    if (!strncmp(text, "\xef\xbb\xbf", 3))
        text += 3;
    printf("==== %s ====\n%s", title, text);
    if (*text && text[strlen(text) - 1] != '\n')
        printf("\n");
}

/* --dry-run: every script and file, with stand-ins for what only making
 * the VM gives (its id, the temporary files' paths). */
static int dry_run(const struct pvs_vm_plan *p, struct guest_files *g)
{
    struct pvs_vm_made made;
    memset(&made, 0, sizeof(made));
    snprintf(made.vm_id, sizeof(made.vm_id), "00000000-0000-0000-0000-000000000000");
    snprintf(made.vhd, sizeof(made.vhd), "%s", p->vhd_path);
    struct pvs_vm_files files = { "TEMP\\pvstream-unattend.xml", "TEMP\\pvstream-setup.ps1",
                                  "TEMP\\pvstream-state.ps1", "TEMP\\pvstream-vm.ini" };
    char *scripts[5] = { NULL, NULL, NULL, NULL, NULL };
    int rc = pvs_vm_script_vm(p, &scripts[0]);
    rc = rc < 0 ? rc : pvs_vm_script_disk(p, &made, &files, &scripts[1]);
    rc = rc < 0 ? rc : pvs_drivers_mount_script(p->name, false, &scripts[2]);
    rc = rc < 0 ? rc : pvs_vm_script_start(&made, &scripts[3]);
    rc = rc < 0 ? rc : pvs_vm_script_cleanup(&made, &scripts[4]);
    if (rc == 0) {
        printf("Dry run: nothing is made. The steps, in order (the VM's id is a stand-in):\n\n");
        print_file("step 1: vm", scripts[0]);
        print_file("step 2: disk", scripts[1]);
        print_file("step 3: drivers (pvstream-host drivers sync --vm, then its dismount step)",
                   scripts[2]);
        print_file("step 4: start", scripts[3]);
        print_file("after a failed step: cleanup (removes only what the steps said they made)",
                   scripts[4]);
        print_file("Windows\\Panther\\unattend.xml (the password is not shown)", g->unattend);
        print_file(PVS_GUEST_SETUP_DIR "\\" PVS_GUEST_SETUP_SCRIPT, g->setup);
        print_file(PVS_GUEST_SETUP_DIR "\\" PVS_GUEST_STATE_SCRIPT, g->state);
        print_file(PVS_GUEST_DIR "\\" PVS_GUEST_CONFIG, g->config);
    } else {
        fprintf(stderr, PROG " create: cannot write the scripts: %s\n", pvs_strerror(rc));
    }
    for (int i = 0; i < 5; i++)
        free(scripts[i]);
    return rc < 0 ? 1 : 0;
}

/* The steps for real. Returns the exit status. */
static int make_vm(const struct pvs_vm_plan *p, struct guest_files *g)
{
    struct pvs_vm_made made;
    memset(&made, 0, sizeof(made));
    struct pvs_vm_files files;
    char why[1024], *script = NULL;
    const char *step = "vm";
    printf("1/4 making the VM and its GPU partition\n");
    fflush(stdout);
    int rc = pvs_vm_script_vm(p, &script);
    rc = rc < 0 ? rc : run_step(script, &made, NULL, why, sizeof(why));
    free(script);
    script = NULL;
    if (rc == 0) {
        step = "disk";
        printf("2/4 making its disk: Windows from the ISO (some minutes), the answer file, "
               "pvstream\n");
        fflush(stdout);
        rc = guest_files_write(g, &files, why, sizeof(why));
        rc = rc < 0 ? rc : pvs_vm_script_disk(p, &made, &files, &script);
        rc = rc < 0 ? rc : run_step(script, &made, NULL, why, sizeof(why));
        free(script);
        script = NULL;
        guest_files_free(g); /* the answer file's copy on the host goes at once */
    }
    if (rc == 0) {
        step = "drivers";
        printf("3/4 copying the host's GPU driver into it\n");
        fflush(stdout);
        if (pvs_host_drivers_sync_vm(p->name, false) != 0) {
            snprintf(why, sizeof(why), "drivers sync failed (above)");
            rc = PVS_EIO;
        }
    }
    if (rc < 0) {
        fprintf(stderr, PROG " create: step %s failed: %s\n", step, why);
        cleanup(&made);
        fprintf(stderr, PROG " create: nothing of VM '%s' should be left; fix the cause and run "
                "vm create again\n", p->name);
        return 1;
    }
    printf("4/4 starting it\n");
    fflush(stdout);
    rc = pvs_vm_script_start(&made, &script);
    rc = rc < 0 ? rc : run_step(script, &made, NULL, why, sizeof(why));
    free(script);
    if (rc < 0) {
        /* Complete but not running: left for the user to start or remove. */
        fprintf(stderr, PROG " create: VM '%s' is made but did not start: %s. Fix that and run "
                "Start-VM -Name '%s', or remove it: pvstream-host vm delete '%s' --delete-disk\n",
                p->name, why, p->name, p->name);
        return 1;
    }
    printf("\nVM '%s' is running. Windows Setup takes a few minutes and restarts once; then\n"
           "the user signs in by itself and pvstream-server is installed as a service.\n"
           "  pvstream-host vm status '%s'   shows its address and whether pvstream runs,\n"
           "                                 and how to pair once it does.\n", p->name, p->name);
    return 0;
}

static int check_sizes(const struct create_cli *c, struct pvs_vm_request *req)
{
    static const struct {
        const char *opt;
        size_t off;
        uint64_t min, max;
        const char *why;
    } sizes[] = {
        { "--memory", offsetof(struct create_cli, memory), 2ull << 30, 1ull << 40,
          "from 2G (Windows 11 wants 4G) to 1T" },
        { "--disk", offsetof(struct create_cli, disk), 32ull << 30, 64ull << 40,
          "from 32G (Windows 11 wants 64G) to 64T, a VHDX's limit" },
    };
    uint64_t *dst[2] = { &req->memory, &req->disk };
    for (int i = 0; i < 2; i++) {
        const char *text = (const char *)c + sizes[i].off;
        uint64_t v = 0;
        int rc = pvs_vm_parse_bytes(text, &v);
        if (rc < 0 || v < sizes[i].min || v > sizes[i].max) {
            fprintf(stderr, PROG " create: %s '%s': give a size with its unit (8G, 512M), %s\n",
                    sizes[i].opt, text, sizes[i].why);
            return PVS_EINVAL;
        }
        *dst[i] = v;
    }
    if (req->memory % (2u << 20)) {
        fprintf(stderr, PROG " create: --memory '%s': Hyper-V takes whole 2 MiB steps\n",
                c->memory);
        return PVS_EINVAL;
    }
    return 0;
}

/* The folder this program is in, from argv[0] ("." when it has none: run
 * from PATH, or from the folder itself). */
static void own_folder(const char *argv0, char *out, size_t len)
{
    const char *slash = strrchr(argv0, '/');
#ifdef _WIN32
    const char *bs = strrchr(argv0, '\\');
    if (!slash || (bs && bs > slash))
        slash = bs;
#endif
    if (!slash)
        snprintf(out, len, ".");
    else
        snprintf(out, len, "%.*s", (int)(slash - argv0), argv0);
}

static int cmd_create(int argc, char **argv)
{
    struct create_cli c;
    create_defaults(&c);
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(create_options, &c, argc, argv, 3, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        usage(stdout);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, PROG " create: %s (see vm --help)\n", err);
        return 2;
    }
    if (npos != 1) {
        fprintf(stderr, PROG " create: %s (usage: " PROG " create NAME --iso FILE ...)\n",
                npos ? "give one VM name" : "which VM? give its name");
        return 2;
    }
    const char *name = argv[3];
    if (!*c.pvstream)
        own_folder(argv[0], c.pvstream, sizeof(c.pvstream));
    struct pvs_vm_request req = {
        .name = name, .iso = c.iso, .edition = c.edition, .gpu = c.gpu, .share = c.share,
        .cpus = c.cpus, .vhd_dir = *c.vhd_dir ? c.vhd_dir : NULL,
        .switch_name = *c.switch_name ? c.switch_name : NULL, .pvstream_dir = c.pvstream,
    };
    if (!*c.iso) {
        fprintf(stderr, PROG " create: --iso FILE is required: the Windows installation ISO\n");
        return 2;
    }
    if (pvs_vm_check_name(name, err, sizeof(err)) < 0 ||
        pvs_vm_check_path("--iso", c.iso, err, sizeof(err)) < 0 ||
        (req.vhd_dir && pvs_vm_check_path("--vhd-dir", c.vhd_dir, err, sizeof(err)) < 0) ||
        pvs_vm_check_path("--pvstream", c.pvstream, err, sizeof(err)) < 0 ||
        (strcmp(c.gpu, "auto") && pvs_vm_check_path("--gpu", c.gpu, err, sizeof(err)) < 0) ||
        pvs_unattend_check_user(c.user, err, sizeof(err)) < 0) {
        fprintf(stderr, PROG " create: %s\n", err);
        return 2;
    }
    if (check_sizes(&c, &req) < 0)
        return 2;
    if (!pvs_probe_powershell_usable()) {
        fprintf(stderr, PROG " create: Hyper-V VMs are made on Windows (on Linux KVM, make the VM "
                "with virt-install and give it a device with pvstream-host apply)\n");
        return 2;
    }

    /* The password: read (and checked) before anything runs, never shown. */
    char password[PASSWORD_BUF] = "";
    bool have_password = false;
    if (*c.password_file || !c.dry_run) {
        rc = *c.password_file ? password_from_file(c.password_file, password, sizeof(password))
                              : password_from_prompt(c.user, password, sizeof(password));
        if (rc < 0) {
            wipe(password, sizeof(password));
            return 2;
        }
        if (pvs_unattend_check_password(password, err, sizeof(err)) < 0) {
            wipe(password, sizeof(password));
            fprintf(stderr, PROG " create: %s\n", err);
            return 2;
        }
        have_password = true;
    }

    int status = 2;
    struct pvs_checks checks = { NULL, 0, 0 };
    struct pvs_vm_facts *facts = malloc(sizeof(*facts));
    struct pvs_vm_plan *plan = malloc(sizeof(*plan));
    struct pvs_host_gpu *gpus = NULL;
    int ngpus = 0;
    struct guest_files g;
    memset(&g, 0, sizeof(g));
    char why[1024], *table = NULL;
    if (!facts || !plan) {
        fprintf(stderr, PROG " create: out of memory\n");
        status = 1;
        goto done;
    }
    printf("Checking the host, the ISO and the name (the ISO is mounted read-only for a "
           "moment)\n");
    fflush(stdout);
    rc = pvs_vm_preflight(&req, &checks, facts, why, sizeof(why));
    if (rc < 0) {
        fprintf(stderr, PROG " create: %s\n", why);
        status = 1;
        goto done;
    }
    int failed = 0;
    for (int i = 0; i < checks.count; i++)
        failed += checks.items[i].verdict == PVS_CHECK_FAIL;
    if (pvs_checks_format_table(&checks, &table) == 0)
        fputs(table, stdout);
    if (failed) {
        fprintf(stderr, PROG " create: %d check%s failed (above, each with its fix): nothing "
                "was made\n", failed, failed == 1 ? "" : "s");
        goto done;
    }
    rc = pvs_host_backend_hyperv.list("/", &gpus, &ngpus, why, sizeof(why));
    if (rc < 0) {
        fprintf(stderr, PROG " create: %s\n", why);
        status = 1;
        goto done;
    }
    if (pvs_vm_decide(&req, facts, gpus, ngpus, plan, why, sizeof(why)) < 0) {
        fprintf(stderr, PROG " create: %s: nothing was made\n", why);
        goto done;
    }
    print_plan(plan, c.user);
    if (guest_files_make(plan, c.user, c.dry_run || !have_password ? NULL : password,
                         c.size[0], c.size[1], c.fps, &g, why, sizeof(why)) < 0) {
        fprintf(stderr, PROG " create: %s: nothing was made\n", why);
        goto done;
    }
    wipe(password, sizeof(password));
    fflush(stdout);
    status = c.dry_run ? dry_run(plan, &g) : make_vm(plan, &g);
done:
    wipe(password, sizeof(password));
    guest_files_free(&g);
    pvs_host_gpus_free(&gpus, ngpus);
    pvs_checks_free(&checks);
    free(table);
    free(facts);
    free(plan);
    return status;
}

/* ---- delete and status ------------------------------------------------- */

static int cmd_delete(int argc, char **argv)
{
    struct delete_cli d = { false, false, false };
    char err[512];
    int npos = 0;
    int rc = pvs_config_parse_args(delete_options, &d, argc, argv, 3, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        usage(stdout);
        return 0;
    }
    if (rc < 0 || npos != 1) {
        fprintf(stderr, PROG " delete: %s (usage: " PROG " delete NAME [--delete-disk])\n",
                rc < 0 ? err : npos ? "give one VM name" : "which VM? give its name");
        return 2;
    }
    const char *name = argv[3];
    if (!*name || strlen(name) > PVS_VM_NAME_MAX) {
        fprintf(stderr, PROG " delete: a VM name is 1..%d characters\n", PVS_VM_NAME_MAX);
        return 2;
    }
    char *script = NULL;
    if (pvs_vm_script_delete(name, d.delete_disk, d.force, &script) < 0) {
        fprintf(stderr, PROG " delete: the name holds a control character\n");
        return 2;
    }
    if (d.dry_run) {
        fputs(script, stdout);
        free(script);
        return 0;
    }
    if (!pvs_probe_powershell_usable()) {
        free(script);
        fprintf(stderr, PROG " delete: Hyper-V VMs live on Windows\n");
        return 2;
    }
    struct pvs_vm_made ignore;
    memset(&ignore, 0, sizeof(ignore));
    char *out = NULL, why[1024];
    rc = run_step(script, &ignore, &out, why, sizeof(why));
    free(script);
    report_removals(out ? out : "");
    bool removed = out && strstr(out, "removed=vm|");
    free(out);
    if (rc < 0) {
        fprintf(stderr, PROG " delete: %s\n", why);
        return removed ? 1 : 2;
    }
    return 0;
}

static int cmd_status(int argc, char **argv)
{
    if (argc != 4 || !*argv[3] || !strcmp(argv[3], "--help")) {
        fprintf(stderr, "usage: " PROG " status NAME\n");
        return argc == 4 && !strcmp(argv[3], "--help") ? 0 : 2;
    }
    const char *name = argv[3];
    char *script = NULL, *out = NULL, why[1024];
    if (pvs_vm_script_status(name, &script) < 0) {
        fprintf(stderr, PROG " status: the name holds a control character\n");
        return 2;
    }
    if (!pvs_probe_powershell_usable()) {
        free(script);
        fprintf(stderr, PROG " status: Hyper-V VMs live on Windows\n");
        return 2;
    }
    int rc = pvs_probe_run(script, "the status probe", &out, why, sizeof(why));
    free(script);
    if (rc < 0) {
        fprintf(stderr, PROG " status: %s\n", why);
        return 1;
    }
    struct pvs_vm_status *st = malloc(sizeof(*st));
    if (!st) {
        free(out);
        return 1;
    }
    rc = pvs_vm_status_parse(out, strlen(out), st);
    free(out);
    int status = 0;
    if (rc < 0) {
        fprintf(stderr, PROG " status: %s\n", rc == PVS_EIO ? st->error
                : "the status probe printed something else than expected");
        status = 1;
    } else if (st->vm_count != 1) {
        fprintf(stderr, PROG " status: %d VMs are named '%s'%s\n", st->vm_count < 0 ? 0
                : st->vm_count, name, st->vm_count > 1 ? ": rename all but one"
                : " (Get-VM lists them)");
        status = 2;
    } else {
        char *text = NULL;
        if (pvs_vm_status_format(name, st, &text) == 0)
            fputs(text, stdout);
        free(text);
    }
    free(st);
    return status;
}

int pvs_host_cmd_vm(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) {
        usage(argc < 3 ? stderr : stdout);
        return argc < 3 ? 2 : 0;
    }
    if (!strcmp(argv[2], "create"))
        return cmd_create(argc, argv);
    if (!strcmp(argv[2], "delete"))
        return cmd_delete(argc, argv);
    if (!strcmp(argv[2], "status"))
        return cmd_status(argc, argv);
    fprintf(stderr, PROG ": unknown subcommand '%s': create, delete or status (see vm --help)\n",
            argv[2]);
    return 2;
}
