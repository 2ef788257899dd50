/* `pvstream-host vm create | delete | status` (host/vm.h) without Hyper-V:
 *
 * - names, user names, paths and sizes refused or taken as they should be;
 * - the answer file's hidden password against Microsoft's own example, and
 *   the whole file read by a real XML parser (libxml2): well-formed, every
 *   element one the unattend schema has where we use it, the values read
 *   back exactly (hostile ones included);
 * - the probe's output read into facts, the create checks and the plan
 *   (edition, TPM, switch, the GPU's share through the planfile split);
 * - every generated script and guest file against a golden file
 *   (tests/data/host/vm/, PVS_UPDATE_GOLDEN=1 rewrites them), with a
 *   hostile VM name quoted;
 * - the real pvstream-host run against the PowerShell stand-in
 *   (tests/fake_powershell.c), which answers each step from a folder and
 *   keeps a journal of every script: a whole create (drivers copied into a
 *   folder standing in for the guest's volume), --dry-run writing nothing,
 *   and the failure paths (an ISO without the edition, a full disk, the
 *   partition refused, a step that dies, drivers refused, the start
 *   refused), each checked for what the cleanup script was told to remove.
 *
 * The command-line part needs POSIX (the test builds folder trees and
 * starts the program); on Windows only the pure parts run. */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef PVS_HAVE_LIBXML2
#include <libxml/parser.h>
#include <libxml/tree.h>
#endif

#include "common/error.h"
#include "common/log.h"
#include "host/backend.h"
#include "host/check.h"
#include "host/hyperv.h"
#include "host/run.h"
#include "host/unattend.h"
#include "host/vm.h"
#include "test.h"
#include "host_test.h"

#ifndef _WIN32
#include <dirent.h>
#include <unistd.h>
#include "host_tree.h"
#endif

static int warnings;

/* A name that passes pvs_vm_check_name and must be quoted everywhere: a
 * quote, a typographic quote, $(...), ';' and '&'. */
static const char HOSTILE[] = "it's $(Stop-Computer); \xe2\x80\x98x\xe2\x80\x99 & co";
static const char GPU[] = "\\\\?\\PCI#VEN_10DE&DEV_2704&SUBSYS_00000000&REV_A1#4&2b1b3d5c&0&0008"
                          "#{064092b3-625e-43bf-9eb5-dc845897dd59}\\GPUPARAV";
static const char VM_ID[] = "5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c";

static void test_names(void)
{
    char why[512];
    static const char *const good[] = { "gaming", "Gaming VM 2", HOSTILE, "a.b", "con1",
                                        "CONSOLE", "x" };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK_INT(pvs_vm_check_name(good[i], why, sizeof(why)), ==, 0);
    static const char *const bad[] = { "", "a/b", "a\\b", "c:", "a*", "a?", "a\"b", "<a>",
                                       "a|b", "x[1]", "a`b", " lead", "trail ", "dot.", "CON",
                                       "nul.txt", "Com1", "lpt9", "a\nb", "tab\there" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        CHECK_INT(pvs_vm_check_name(bad[i], why, sizeof(why)), ==, PVS_EINVAL);
        CHECK(why[0] != '\0');
    }
    char longname[PVS_VM_NAME_MAX + 2];
    memset(longname, 'a', sizeof(longname));
    longname[PVS_VM_NAME_MAX] = '\0';
    CHECK_INT(pvs_vm_check_name(longname, why, sizeof(why)), ==, 0);
    longname[PVS_VM_NAME_MAX] = 'a';
    longname[PVS_VM_NAME_MAX + 1] = '\0';
    CHECK_INT(pvs_vm_check_name(longname, why, sizeof(why)), ==, PVS_EINVAL);

    CHECK_INT(pvs_vm_check_path("--iso", "D:\\ISO\\Win 11 (x64).iso", why, sizeof(why)), ==, 0);
    CHECK_INT(pvs_vm_check_path("--iso", "D:\\ISO\\[new].iso", why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "--iso") && strstr(why, "wildcard"));
    CHECK_INT(pvs_vm_check_path("--vhd-dir", "D:\\a\rb", why, sizeof(why)), ==, PVS_EINVAL);
    CHECK_INT(pvs_vm_check_path("--vhd-dir", "", why, sizeof(why)), ==, PVS_EINVAL);

    /* Local account names: Windows' rules. */
    static const char *const users[] = { "pvstream", "O'Brien & Co", "J\xc3\xbcrgen", "a.b" };
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
        CHECK_INT(pvs_unattend_check_user(users[i], why, sizeof(why)), ==, 0);
    static const char *const bad_users[] = { "", "a/b", "a@b", "50%", "a,b", "a=b", "a+b",
                                             "a;b", "<x>", "end.", " x", "...", "administrator",
                                             "Guest", "none", "twenty-one-characters",
                                             "a\tb" };
    for (size_t i = 0; i < sizeof(bad_users) / sizeof(bad_users[0]); i++)
        CHECK_INT(pvs_unattend_check_user(bad_users[i], why, sizeof(why)), ==, PVS_EINVAL);
    /* 20 characters, counted in characters, not bytes. */
    CHECK_INT(pvs_unattend_check_user("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                                      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
                                      why, sizeof(why)), ==, 0);

    char cn[16];
    pvs_unattend_computer_name("Gaming VM", cn);
    CHECK(!strcmp(cn, "Gaming-VM"));
    pvs_unattend_computer_name(HOSTILE, cn);
    CHECK(!strcmp(cn, "it-s-Stop-Compu"));
    pvs_unattend_computer_name("--a--b--", cn);
    CHECK(!strcmp(cn, "a-b"));
    pvs_unattend_computer_name("12345", cn);
    CHECK(!strcmp(cn, "*"));
    pvs_unattend_computer_name("\xe2\x80\x98", cn);
    CHECK(!strcmp(cn, "*"));
}

static void test_sizes(void)
{
    uint64_t v = 0;
    CHECK_INT(pvs_vm_parse_bytes("8G", &v), ==, 0);
    CHECK(v == 8ull << 30);
    CHECK_INT(pvs_vm_parse_bytes("8GB", &v), ==, 0);
    CHECK(v == 8ull << 30);
    CHECK_INT(pvs_vm_parse_bytes("16384MiB", &v), ==, 0);
    CHECK(v == 16ull << 30);
    CHECK_INT(pvs_vm_parse_bytes("2t", &v), ==, 0);
    CHECK(v == 2ull << 40);
    CHECK_INT(pvs_vm_parse_bytes("512k", &v), ==, 0);
    CHECK(v == 512ull << 10);
    static const char *const bad[] = { "", "8", "G", "8X", "8GBB", "-8G", "8 G", "8.5G", "8Gi" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(pvs_vm_parse_bytes(bad[i], &v), ==, PVS_EINVAL);
    CHECK_INT(pvs_vm_parse_bytes("99999999999999999999G", &v), ==, PVS_ERANGE);
    CHECK_INT(pvs_vm_parse_bytes("16777216T", &v), ==, PVS_ERANGE);
    /* High MMIO: VRAM + 1 GiB rounded up to a power of two, 32 GiB at least. */
    CHECK(pvs_hyperv_high_mmio_gib(0) == 32);
    CHECK(pvs_hyperv_high_mmio_gib(24ull << 30) == 32);
    CHECK(pvs_hyperv_high_mmio_gib(32ull << 30) == 64);
    CHECK(pvs_hyperv_high_mmio_gib(48ull << 30) == 64);
}

/* The bytes Windows wants hidden: UTF-16LE of password + element. */
static void check_hidden(const char *b64, const unsigned char *want, size_t want_len)
{
    unsigned char bin[1024];
    size_t n = 0;
    CHECK_INT(sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &n, NULL,
                                sodium_base64_VARIANT_ORIGINAL), ==, 0);
    CHECK(n == want_len && !memcmp(bin, want, n));
}

static void test_password(void)
{
    char *h = NULL;
    /* Microsoft's unattend reference, LocalAccount | Password: these two
     * values are its examples (the first without its Base64 padding). */
    CHECK_INT(pvs_unattend_hide_password("password", "Password", &h), ==, 0);
    CHECK(h && !strcmp(h, "cABhAHMAcwB3AG8AcgBkAFAAYQBzAHMAdwBvAHIAZAA="));
    free(h);
    CHECK_INT(pvs_unattend_hide_password("pw", "Password", &h), ==, 0);
    CHECK(h && !strcmp(h, "cAB3AFAAYQBzAHMAdwBvAHIAZAA="));
    free(h);
    /* Beyond ASCII: e-acute, the euro sign, and U+1F600 (a surrogate pair). */
    static const unsigned char want[] = {
        0xe9, 0x00, 0xac, 0x20, 0x3d, 0xd8, 0x00, 0xde,
        'P', 0, 'a', 0, 's', 0, 's', 0, 'w', 0, 'o', 0, 'r', 0, 'd', 0,
    };
    CHECK_INT(pvs_unattend_hide_password("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "Password", &h),
              ==, 0);
    if (h)
        check_hidden(h, want, sizeof(want));
    free(h);
    /* Refused: empty, control characters, bad UTF-8 (overlong, surrogate,
     * cut), too long. */
    static const char *const bad[] = { "", "a\nb", "a\x7f", "\xc0\xaf", "\xed\xa0\x80",
                                       "\xe2\x82", "\xff" };
    char why[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(pvs_unattend_hide_password(bad[i], "Password", &h), ==, PVS_EINVAL);
        CHECK(h == NULL);
        CHECK_INT(pvs_unattend_check_password(bad[i], why, sizeof(why)), ==, PVS_EINVAL);
    }
    char longpw[PVS_UNATTEND_PASSWORD_MAX + 2];
    memset(longpw, 'x', sizeof(longpw));
    longpw[PVS_UNATTEND_PASSWORD_MAX] = '\0';
    CHECK_INT(pvs_unattend_check_password(longpw, why, sizeof(why)), ==, 0);
    longpw[PVS_UNATTEND_PASSWORD_MAX] = 'x';
    longpw[PVS_UNATTEND_PASSWORD_MAX + 1] = '\0';
    CHECK_INT(pvs_unattend_check_password(longpw, why, sizeof(why)), ==, PVS_EINVAL);
}

/* ---- facts, checks, plan ----------------------------------------------- */

static struct pvs_vm_facts *load_facts(const char *fixture)
{
    struct pvs_vm_facts *f = calloc(1, sizeof(*f));
    size_t len = 0;
    char *text = host_load(host_data(fixture), &len);
    CHECK(text != NULL);
    if (f && text)
        pvs_vm_facts_parse(text, len, f);
    free(text);
    return f;
}

static struct pvs_vm_request base_request(const char *name)
{
    struct pvs_vm_request r = { .name = name, .iso = "D:\\ISO\\Win11_23H2_English_x64.iso",
                                .gpu = "auto", .pvstream_dir = "." };
    return r;
}

static void test_facts(void)
{
    warnings = 0;
    struct pvs_vm_facts *f = load_facts("vm/check-create.txt");
    if (!f)
        return;
    CHECK_INT(f->image_count, ==, 6);
    CHECK_INT(warnings, ==, 0);
    CHECK(f->images[3].index == 5 && !strcmp(f->images[3].name, "Windows 11 Pro"));
    CHECK(f->images[3].build == 22631 && f->images[3].size == 19302474858ull);
    CHECK(!strcmp(f->images[3].language, "en-US") && !strcmp(f->images[3].type, "Client"));
    /* The name is the rest of the line, '|' and all. */
    CHECK(!strcmp(f->images[5].name, "Windows 11 Pro | Workstations"));
    CHECK(!strcmp(f->iso_wim, "sources\\install.wim"));
    CHECK(!strcmp(f->vhd_dir, "D:\\Hyper-V\\Disks") && f->has_vhd_free);
    CHECK(f->vhd_free == 429496729600ull && f->vhd_exists == 0 && f->new_vm_count == 0);
    CHECK(f->host_cpus == 16 && f->host_memory == 64ull << 30 && f->host_build == 22631);
    CHECK(f->host_vram == 25757220864ull);
    CHECK(!strcmp(f->time_zone, "W. Europe Standard Time"));
    CHECK(!strcmp(f->input_locale, "0407:00000407"));
    CHECK_INT(f->switch_count, ==, 2);
    CHECK(!strcmp(f->switches[1].name, "LAN") && !strcmp(f->switches[1].type, "External"));
    CHECK_INT(f->gpu_vm_count, ==, 3);
    CHECK(!strcmp(f->gpu_vms[1].vm, "it's \"mine\""));
    CHECK(f->pvstream_server == 1);

    /* Hostile lines: bad numbers, missing fields, a duplicate index, a
     * control character, NUL bytes, CRLF; none of them a crash, each bad
     * image skipped with a warning. */
    static const char junk[] =
        "image=0|x64|10.0.1.1|5|Client|en-US|zero index\r\n"
        "image=1|x64|10.0.1.1|-5|Client|en-US|negative size\r\n"
        "image=2|x64|10.0.1.1|5|Client|en-US|\r\n"
        "image=3|x64|10.0.1.1|5\r\n"
        "image=4|x64|10.0.22000.1|5|Client|en-US|ok\r\n"
        "image=4|x64|10.0.22000.1|5|Client|en-US|again\r\n"
        "image=5|x\x01|10|5|Client|en-US|control\r\n"
        "vhd_free=12x\r\n"
        "host_cpus=99999999999\r\n"
        "switch=|\r\n"
        "gpu_vm=no bar\r\n"
        "vhd_exists=maybe\r\n"
        "image=6|x64|1.2|7|Server|en-GB|tail\0ignored\r\n";
    warnings = 0;
    pvs_vm_facts_parse(junk, sizeof(junk) - 1, f);
    CHECK_INT(f->image_count, ==, 1);
    CHECK(f->images[0].index == 4 && f->images[0].build == 22000);
    CHECK(!f->has_vhd_free && f->host_cpus == -1 && f->vhd_exists == -1);
    CHECK_INT(f->switch_count, ==, 0);
    CHECK_INT(f->gpu_vm_count, ==, 0);
    CHECK_INT(warnings, >=, 9);
    pvs_vm_facts_parse(NULL, 0, f);
    CHECK_INT(f->image_count, ==, 0);
    free(f);
}

static int run_checks(const struct pvs_vm_request *req, const struct pvs_vm_facts *f,
                      struct pvs_checks *c)
{
    memset(c, 0, sizeof(*c));
    int rc = pvs_vm_check_items(req, f, c);
    for (int i = 0; i < c->count; i++)
        host_check_verdict(c, c->items[i].id);
    return rc;
}

static void test_checks(void)
{
    struct pvs_vm_facts *f = load_facts("vm/check-create.txt");
    if (!f)
        return;
    struct pvs_vm_request req = base_request("gaming");
    struct pvs_checks c;
    CHECK_INT(run_checks(&req, f, &c), ==, 0);
    static const char *const ids[] = { "iso", "iso-edition", "guest-version", "vm-name", "vhd",
                                       "disk-space", "memory", "vm-switch", "pvstream-files" };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        CHECK_INT(host_check_verdict(&c, ids[i]), ==, PVS_CHECK_OK);
    CHECK_INT(c.count, ==, (int)(sizeof(ids) / sizeof(ids[0])));
    CHECK(strstr(host_check_find(&c, "iso-edition")->found, "Windows 11 Pro (number 5"));
    CHECK(strstr(host_check_find(&c, "vm-switch")->found, "'LAN'"));
    pvs_checks_free(&c);

    /* An edition the ISO does not have: the ones it has are listed. */
    req.edition = "Windows 11 Enterprise";
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "iso-edition"), ==, PVS_CHECK_FAIL);
    CHECK(strstr(host_check_find(&c, "iso-edition")->found, "5: Windows 11 Pro, 6: Windows 11 Pro N"));
    pvs_checks_free(&c);
    /* By number, and by name without regard to case. */
    req.edition = "6";
    run_checks(&req, f, &c);
    CHECK(strstr(host_check_find(&c, "iso-edition")->found, "Windows 11 Pro N (number 6"));
    pvs_checks_free(&c);
    req.edition = "windows 11 EDUCATION";
    run_checks(&req, f, &c);
    CHECK(strstr(host_check_find(&c, "iso-edition")->found, "Windows 11 Education (number 3"));
    pvs_checks_free(&c);
    req.edition = NULL;

    /* The disk: full, short of the VHDX's size, the file there already. */
    f->vhd_free = 20ull << 30;
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "disk-space"), ==, PVS_CHECK_FAIL);
    CHECK(strstr(host_check_find(&c, "disk-space")->found, "20.0 GiB free"));
    pvs_checks_free(&c);
    f->vhd_free = 100ull << 30;
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "disk-space"), ==, PVS_CHECK_WARN);
    pvs_checks_free(&c);
    f->vhd_free = 400ull << 30;
    f->vhd_exists = 1;
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vhd"), ==, PVS_CHECK_FAIL);
    CHECK_INT(host_check_verdict(&c, "disk-space"), ==, -1);
    pvs_checks_free(&c);
    f->vhd_exists = 0;

    /* The name taken; too much memory or too many processors. */
    f->new_vm_count = 1;
    req.memory = 64ull << 30;
    req.cpus = 32;
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-name"), ==, PVS_CHECK_FAIL);
    CHECK(strstr(host_check_find(&c, "vm-name")->fix, "vm delete 'gaming'"));
    CHECK_INT(host_check_verdict(&c, "memory"), ==, PVS_CHECK_FAIL);
    CHECK_INT(host_check_verdict(&c, "cpus"), ==, PVS_CHECK_FAIL);
    pvs_checks_free(&c);
    f->new_vm_count = 0;
    req.memory = 0;
    req.cpus = 0;

    /* Switches: none external (Default Switch: a warning), two external,
     * none at all, one asked for that is not there. */
    strcpy(f->switches[1].type, "Internal");
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-switch"), ==, PVS_CHECK_WARN);
    CHECK(strstr(host_check_find(&c, "vm-switch")->fix, "New-VMSwitch"));
    pvs_checks_free(&c);
    strcpy(f->switches[0].type, "External");
    strcpy(f->switches[1].type, "External");
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-switch"), ==, PVS_CHECK_FAIL);
    pvs_checks_free(&c);
    req.switch_name = "LAN";
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-switch"), ==, PVS_CHECK_OK);
    pvs_checks_free(&c);
    req.switch_name = "WAN";
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-switch"), ==, PVS_CHECK_FAIL);
    pvs_checks_free(&c);
    req.switch_name = NULL;
    f->switch_count = 0;
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-switch"), ==, PVS_CHECK_FAIL);
    pvs_checks_free(&c);

    /* A guest newer than the host; not x64; no pvstream-server.exe; an
     * unreadable ISO. */
    f->host_build = 19045;
    f->pvstream_server = 0;
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "guest-version"), ==, PVS_CHECK_WARN);
    CHECK_INT(host_check_verdict(&c, "pvstream-files"), ==, PVS_CHECK_FAIL);
    pvs_checks_free(&c);
    strcpy(f->images[3].arch, "arm64");
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "iso-edition"), ==, PVS_CHECK_FAIL);
    pvs_checks_free(&c);
    strcpy(f->iso_error, "there is no such file");
    run_checks(&req, f, &c);
    CHECK_INT(host_check_verdict(&c, "iso"), ==, PVS_CHECK_FAIL);
    CHECK_INT(host_check_verdict(&c, "iso-edition"), ==, -1);
    pvs_checks_free(&c);

    /* `check --iso` asks no name and no pvstream folder: those checks go. */
    struct pvs_vm_request chk = { .iso = "x.iso" };
    run_checks(&chk, f, &c);
    CHECK_INT(host_check_verdict(&c, "vm-name"), ==, -1);
    CHECK_INT(host_check_verdict(&c, "pvstream-files"), ==, -1);
    pvs_checks_free(&c);
    free(f);
}

/* The GPUs of host/hyperv/list-two.txt (two identical ones) or
 * list-one.txt (the one the fixture's VMs use). */
static int load_gpus(const char *fixture, struct pvs_host_gpu **g, int *n)
{
    size_t len = 0;
    char *text = host_load(host_data(fixture), &len), why[256];
    int rc = text ? pvs_hyperv_parse_list(text, len, g, n, why, sizeof(why)) : -1;
    free(text);
    CHECK_INT(rc, ==, 0);
    return rc;
}

static struct pvs_vm_plan *decide(const struct pvs_vm_request *req, const char *gpus_fixture,
                                  int *rc, char *why, size_t why_len)
{
    struct pvs_vm_facts *f = load_facts("vm/check-create.txt");
    struct pvs_vm_plan *p = calloc(1, sizeof(*p));
    struct pvs_host_gpu *g = NULL;
    int n = 0;
    *rc = -1;
    if (f && p && load_gpus(gpus_fixture, &g, &n) == 0)
        *rc = pvs_vm_decide(req, f, g, n, p, why, why_len);
    pvs_host_gpus_free(&g, n);
    free(f);
    return p;
}

static void test_decide(void)
{
    char why[1024];
    int rc;
    struct pvs_vm_request req = base_request(HOSTILE);
    struct pvs_vm_plan *p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    if (rc == 0) {
        CHECK(!strcmp(p->image.name, "Windows 11 Pro") && p->image.index == 5);
        CHECK(p->tpm);
        CHECK(!strcmp(p->vhd_path, "D:\\Hyper-V\\Disks\\it's $(Stop-Computer); "
                                   "\xe2\x80\x98x\xe2\x80\x99 & co.vhdx"));
        CHECK(p->memory == 8ull << 30 && p->disk == 128ull << 30 && p->cpus == 4);
        CHECK(!strcmp(p->switch_name, "LAN"));
        CHECK(!strcmp(p->gpu, GPU));
        /* Two VMs have this GPU (one names it in lower case): an equal
         * split of three, this VM's the last. */
        CHECK_INT(p->sharing, ==, 2);
        CHECK(p->part.res[PVS_GPU_VRAM].optimal == 333333333u);
        CHECK(p->part.res[PVS_GPU_VRAM].min == 333333333u);
        CHECK(p->part.res[PVS_GPU_ENCODE].max == 6148914691236517205ull);
        CHECK(p->low_mmio_mib == 1024 && p->high_mmio_mib == 32768);
        CHECK(!strcmp(p->time_zone, "W. Europe Standard Time"));
        CHECK(!strcmp(p->ui_language, "en-US") && !strcmp(p->user_locale, "de-DE"));
        CHECK(!strcmp(p->input_locale, "0407:00000407"));
        CHECK(!strcmp(p->computer_name, "it-s-Stop-Compu"));
    }
    free(p);

    /* --share 25: a split of 25 and 75, this VM's the first. */
    req.share = 25;
    req.gpu = "\\\\?\\pci#ven_10de&dev_2704&subsys_00000000&rev_a1#4&2b1b3d5c&0&0008"
              "#{064092b3-625e-43bf-9eb5-dc845897dd59}\\gpuparav";
    p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    CHECK(p->part.res[PVS_GPU_VRAM].optimal == 250000000u);
    CHECK(p->part.res[PVS_GPU_ENCODE].optimal == 4611686018427387904ull);
    free(p);
    req.share = 100;
    p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK(rc == 0 && p->part.res[PVS_GPU_DECODE].max == 1000000000u);
    free(p);

    /* Two GPUs and no --gpu: which? A GPU that is not there. */
    req = base_request("gaming");
    p = decide(&req, "hyperv/list-two.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, PVS_EINVAL);
    CHECK(strstr(why, "2 partitionable GPUs") && strstr(why, "--gpu"));
    free(p);
    req.gpu = "\\\\?\\PCI#VEN_10DE&DEV_2704";
    p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, PVS_EINVAL);
    CHECK(strstr(why, "no partitionable GPU has the instance path"));
    free(p);

    /* No edition fits; a bad name. */
    req = base_request("gaming");
    req.edition = "Windows 10 Pro";
    p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, PVS_EINVAL);
    CHECK(strstr(why, "no edition 'Windows 10 Pro'"));
    free(p);
    req = base_request("a/b");
    p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, PVS_EINVAL);
    free(p);
}

/* ---- scripts and files ------------------------------------------------- */

static struct pvs_vm_plan *hostile_plan(void)
{
    char why[512];
    int rc;
    struct pvs_vm_request req = base_request(HOSTILE);
    struct pvs_vm_plan *p = decide(&req, "hyperv/list-one.txt", &rc, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    return p;
}

/* Every script names the VM as one single-quoted literal. */
static void check_quoted(const char *script)
{
    CHECK(strstr(script, "'it''s $(Stop-Computer); \xe2\x80\x98\xe2\x80\x98x\xe2\x80\x99\xe2\x80"
                         "\x99 & co") != NULL);
}

static void test_scripts(void)
{
    struct pvs_vm_plan *p = hostile_plan();
    if (!p)
        return;
    struct pvs_vm_made made;
    memset(&made, 0, sizeof(made));
    strcpy(made.vm_id, VM_ID);
    snprintf(made.vhd, sizeof(made.vhd), "%s", p->vhd_path);
    struct pvs_vm_files files = { "C:\\Users\\me\\AppData\\Local\\Temp\\pvstream-a-unattend.xml",
                                  "C:\\Users\\me\\AppData\\Local\\Temp\\pvstream-b-setup.ps1",
                                  "C:\\Users\\me\\AppData\\Local\\Temp\\pvstream-c-state.ps1",
                                  "C:\\Users\\me\\AppData\\Local\\Temp\\pvstream-d-vm.ini" };
    char *s = NULL;
    CHECK_INT(pvs_vm_script_vm(p, &s), ==, 0);
    if (s) {
        host_golden("vm/vm.ps1", s);
        check_quoted(s);
        CHECK(strstr(s, "Enable-VMTPM -VM $vm"));
        CHECK(strstr(s, "    Add-VMGpuPartitionAdapter -VM $vm -InstancePath $InstancePath\n"));
        CHECK(strstr(s, "-MaxPartitionVRAM 333333333 -OptimalPartitionVRAM 333333333"));
    }
    free(s);
    /* Windows 10: no TPM. */
    p->tpm = false;
    CHECK_INT(pvs_vm_script_vm(p, &s), ==, 0);
    CHECK(s && !strstr(s, "TPM"));
    free(s);
    CHECK_INT(pvs_vm_script_disk(p, &made, &files, &s), ==, 0);
    if (s) {
        host_golden("vm/disk.ps1", s);
        CHECK(strstr(s, "$VhdPath = 'D:\\Hyper-V\\Disks\\it''s $(Stop-Computer); "));
        CHECK(strstr(s, "$ImageIndex = 5\n"));
    }
    free(s);
    CHECK_INT(pvs_vm_script_start(&made, &s), ==, 0);
    if (s)
        host_golden("vm/start.ps1", s);
    free(s);
    made.iso_mounted = true;
    strcpy(made.iso, "D:\\ISO\\Win11_23H2_English_x64.iso");
    CHECK_INT(pvs_vm_script_cleanup(&made, &s), ==, 0);
    if (s)
        host_golden("vm/cleanup.ps1", s);
    free(s);
    CHECK_INT(pvs_vm_script_delete(HOSTILE, true, false, &s), ==, 0);
    if (s) {
        host_golden("vm/delete.ps1", s);
        check_quoted(s);
        CHECK(strstr(s, "$DeleteDisk = $true\n$Force = $false\n"));
    }
    free(s);
    CHECK_INT(pvs_vm_script_status(HOSTILE, &s), ==, 0);
    if (s) {
        host_golden("vm/status.ps1", s);
        check_quoted(s);
    }
    free(s);

    /* Refused: a VM id that is not a GUID (it goes into Get-VM -Id), a
     * control character. */
    strcpy(made.vm_id, "5a1e3c2b'; Stop-Computer; '");
    CHECK_INT(pvs_vm_script_disk(p, &made, &files, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_vm_script_start(&made, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_vm_script_cleanup(&made, &s), ==, PVS_EINVAL);
    CHECK(s == NULL);
    CHECK_INT(pvs_vm_script_delete("a\nb", false, false, &s), ==, PVS_EINVAL);
    CHECK_INT(pvs_vm_script_status("a\rb", &s), ==, PVS_EINVAL);
    strcpy(p->name, "a\nb");
    CHECK_INT(pvs_vm_script_vm(p, &s), ==, PVS_EINVAL);

    /* The guest's files. */
    CHECK_INT(pvs_unattend_setup_script(&s), ==, 0);
    if (s) {
        host_golden("vm/firstlogon.ps1", s);
        CHECK(strstr(s, "service install --config"));
        CHECK(strstr(s, "Panther\\unattend.xml"));
    }
    free(s);
    CHECK_INT(pvs_unattend_state_script(&s), ==, 0);
    if (s)
        host_golden("vm/report-state.ps1", s);
    free(s);
    CHECK_INT(pvs_unattend_server_ini(2560, 1440, 120, &s), ==, 0);
    if (s)
        host_golden("vm/vm.ini", s);
    free(s);
    CHECK_INT(pvs_unattend_server_ini(0, 0, 0, &s), ==, 0);
    CHECK(s && !strstr(s, "[capture]") && !strstr(s, "[encode]"));
    free(s);
    free(p);
}

static void test_made(void)
{
    struct pvs_vm_made m;
    memset(&m, 0, sizeof(m));
    char why[512];
    static const char vm_ok[] = "made=vm|5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c\r\nend\r\n";
    CHECK_INT(pvs_vm_made_parse(vm_ok, strlen(vm_ok), &m, why, sizeof(why)), ==, 0);
    CHECK(!strcmp(m.vm_id, VM_ID));
    static const char disk[] =
        "made=vhd|D:\\VMs\\g.vhdx\nmounted=vhd|D:\\VMs\\g.vhdx\nmounted=iso|D:\\w.iso\n"
        "error=There is not enough space on the disk.\ndismounted=iso|D:\\w.iso\n";
    CHECK_INT(pvs_vm_made_parse(disk, strlen(disk), &m, why, sizeof(why)), ==, PVS_EIO);
    CHECK(!strcmp(why, "There is not enough space on the disk."));
    CHECK(!strcmp(m.vhd, "D:\\VMs\\g.vhdx") && m.vhd_mounted && !m.iso_mounted);
    CHECK(!strcmp(m.vm_id, VM_ID)); /* kept from the step before */
    /* A step that died: no end, no error. */
    static const char died[] = "dismounted=vhd|D:\\VMs\\g.vhdx\nmounted=iso|D:\\w.iso\n";
    CHECK_INT(pvs_vm_made_parse(died, strlen(died), &m, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(!m.vhd_mounted && m.iso_mounted && !strcmp(m.iso, "D:\\w.iso"));
    /* Not a GUID, a control character: ignored, never taken. */
    memset(&m, 0, sizeof(m));
    warnings = 0;
    static const char bad[] = "made=vm|x'; Remove-VM *\nmade=vhd|a\x01b\nmade=attached\nend\n";
    CHECK_INT(pvs_vm_made_parse(bad, strlen(bad), &m, why, sizeof(why)), ==, 0);
    CHECK(!*m.vm_id && !*m.vhd && m.attached);
    CHECK_INT(warnings, ==, 2);
    CHECK_INT(pvs_vm_made_parse(NULL, 0, &m, why, sizeof(why)), ==, PVS_EBADDATA);
}

static void test_status(void)
{
    struct pvs_vm_status st;
    size_t len = 0;
    char *text = host_load(host_data("vm/status-running.txt"), &len), *out = NULL;
    CHECK_INT(pvs_vm_status_parse(text, len, &st), ==, 0);
    free(text);
    CHECK(st.vm_count == 1 && !strcmp(st.state, "Running") && !strcmp(st.uptime, "1:15:23"));
    CHECK_INT(st.address_count, ==, 2);
    CHECK(!strcmp(st.setup, "done") && !strcmp(st.service, "Running 2024-05-01T10:21:07Z"));
    CHECK_INT(pvs_vm_status_format("gaming", &st, &out), ==, 0);
    if (out) {
        host_golden("vm/status-running.out", out);
        /* The IPv4 address, not the link-local IPv6 one. */
        CHECK(strstr(out, "pvstream-client pair 192.168.1.57\n"));
    }
    free(out);
    text = host_load(host_data("vm/status-booting.txt"), &len);
    CHECK_INT(pvs_vm_status_parse(text, len, &st), ==, 0);
    free(text);
    CHECK_INT(pvs_vm_status_format("gaming", &st, &out), ==, 0);
    CHECK(out && strstr(out, "nothing reported yet") && !strstr(out, "pair"));
    free(out);
    static const char err[] = "pvstream-probe vm-status 1\nerror=Access denied\n";
    CHECK_INT(pvs_vm_status_parse(err, strlen(err), &st), ==, PVS_EIO);
    CHECK(!strcmp(st.error, "Access denied"));
    static const char cut[] = "pvstream-probe vm-status 1\nvm_count=1\n";
    CHECK_INT(pvs_vm_status_parse(cut, strlen(cut), &st), ==, PVS_EBADDATA);
    static const char other[] = "pvstream-probe check 1\nend\n";
    CHECK_INT(pvs_vm_status_parse(other, strlen(other), &st), ==, PVS_EBADDATA);
    /* An address that is not one is not offered for pairing. */
    static const char hostile[] = "pvstream-probe vm-status 1\nvm_count=1\nstate=Running\n"
                                  "address=1.2.3.4; rm -rf /\nkvp=PvstreamService|Running\nend\n";
    CHECK_INT(pvs_vm_status_parse(hostile, strlen(hostile), &st), ==, 0);
    CHECK_INT(st.address_count, ==, 0);
}

/* ---- the answer file, through a real XML parser ------------------------ */

static const char PASSWORD[] = "S3cret p\xc3\xa4ss & <w\xc3\xb6rd>";

static char *answer_file(const char *user, const char *password)
{
    struct pvs_vm_plan *p = hostile_plan();
    if (!p)
        return NULL;
    struct pvs_unattend u = {
        .user = user, .password = password, .computer_name = p->computer_name,
        .time_zone = p->time_zone, .ui_language = p->ui_language,
        .system_locale = p->system_locale, .user_locale = p->user_locale,
        .input_locale = p->input_locale, .vm_name = "a--b-- -",
    };
    char *xml = NULL, why[256];
    CHECK_INT(pvs_unattend_xml(&u, &xml, why, sizeof(why)), ==, 0);
    free(p);
    return xml;
}

#ifdef PVS_HAVE_LIBXML2
#define NS "urn:schemas-microsoft-com:unattend"
#define WCM "http://schemas.microsoft.com/WMIConfig/2002/State"
#define SHELL_OOBE "oobeSystem/Microsoft-Windows-Shell-Setup/"

/* Every element we write, at the place the unattend schema has it (pass /
 * component / path): Microsoft's unattend reference, components
 * Microsoft-Windows-Shell-Setup and Microsoft-Windows-International-Core. */
static const char *const schema_paths[] = {
    "specialize/Microsoft-Windows-Shell-Setup/ComputerName",
    "oobeSystem/Microsoft-Windows-International-Core/InputLocale",
    "oobeSystem/Microsoft-Windows-International-Core/SystemLocale",
    "oobeSystem/Microsoft-Windows-International-Core/UILanguage",
    "oobeSystem/Microsoft-Windows-International-Core/UserLocale",
    SHELL_OOBE "OOBE",
    SHELL_OOBE "OOBE/HideEULAPage",
    SHELL_OOBE "OOBE/HideLocalAccountScreen",
    SHELL_OOBE "OOBE/HideOEMRegistrationScreen",
    SHELL_OOBE "OOBE/HideOnlineAccountScreens",
    SHELL_OOBE "OOBE/HideWirelessSetupInOOBE",
    SHELL_OOBE "OOBE/ProtectYourPC",
    SHELL_OOBE "UserAccounts",
    SHELL_OOBE "UserAccounts/LocalAccounts",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Password",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Password/Value",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Password/PlainText",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Group",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Name",
    SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/DisplayName",
    SHELL_OOBE "AutoLogon",
    SHELL_OOBE "AutoLogon/Password",
    SHELL_OOBE "AutoLogon/Password/Value",
    SHELL_OOBE "AutoLogon/Password/PlainText",
    SHELL_OOBE "AutoLogon/Enabled",
    SHELL_OOBE "AutoLogon/LogonCount",
    SHELL_OOBE "AutoLogon/Username",
    SHELL_OOBE "TimeZone",
    SHELL_OOBE "FirstLogonCommands",
    SHELL_OOBE "FirstLogonCommands/SynchronousCommand",
    SHELL_OOBE "FirstLogonCommands/SynchronousCommand/Order",
    SHELL_OOBE "FirstLogonCommands/SynchronousCommand/CommandLine",
    SHELL_OOBE "FirstLogonCommands/SynchronousCommand/Description",
    SHELL_OOBE "FirstLogonCommands/SynchronousCommand/RequiresUserInput",
};

struct walk {
    int elements;
    int unknown;
    int seen[sizeof(schema_paths) / sizeof(schema_paths[0])];
    char values[sizeof(schema_paths) / sizeof(schema_paths[0])][512];
};

static bool prop_is(xmlNode *n, const char *name, const char *want)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    bool ok = v && !strcmp((const char *)v, want);
    xmlFree(v);
    return ok;
}

static void walk(xmlNode *n, const char *path, int depth, struct walk *w)
{
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        w->elements++;
        CHECK(c->ns && !strcmp((const char *)c->ns->href, NS));
        char here[512];
        if (depth == 0) {
            /* <settings pass="...">: the pass is the path's first part. */
            CHECK(!strcmp((const char *)c->name, "settings"));
            xmlChar *pass = xmlGetProp(c, (const xmlChar *)"pass");
            snprintf(here, sizeof(here), "%s", pass ? (const char *)pass : "?");
            xmlFree(pass);
        } else if (depth == 1) {
            /* <component name="..." ...> for the amd64 image. */
            CHECK(!strcmp((const char *)c->name, "component"));
            CHECK(prop_is(c, "processorArchitecture", "amd64"));
            CHECK(prop_is(c, "publicKeyToken", "31bf3856ad364e35"));
            CHECK(prop_is(c, "language", "neutral"));
            CHECK(prop_is(c, "versionScope", "nonSxS"));
            xmlChar *name = xmlGetProp(c, (const xmlChar *)"name");
            snprintf(here, sizeof(here), "%s/%s", path, name ? (const char *)name : "?");
            xmlFree(name);
        } else {
            snprintf(here, sizeof(here), "%s/%s", path, (const char *)c->name);
            size_t i = 0;
            while (i < sizeof(schema_paths) / sizeof(schema_paths[0]) &&
                   strcmp(schema_paths[i], here))
                i++;
            if (i == sizeof(schema_paths) / sizeof(schema_paths[0])) {
                fprintf(stderr, "not an element of the schema where it is: %s\n", here);
                w->unknown++;
            } else {
                w->seen[i]++;
                xmlChar *text = xmlNodeGetContent(c);
                snprintf(w->values[i], sizeof(w->values[i]), "%s", text ? (const char *)text : "");
                xmlFree(text);
                bool listed = !strcmp((const char *)c->name, "LocalAccount") ||
                              !strcmp((const char *)c->name, "SynchronousCommand");
                if (listed) {
                    xmlChar *a = xmlGetNsProp(c, (const xmlChar *)"action", (const xmlChar *)WCM);
                    CHECK(a && !strcmp((const char *)a, "add"));
                    xmlFree(a);
                }
            }
        }
        walk(c, here, depth + 1, w);
    }
}

static const char *value_of(const struct walk *w, const char *path)
{
    for (size_t i = 0; i < sizeof(schema_paths) / sizeof(schema_paths[0]); i++)
        if (!strcmp(schema_paths[i], path))
            return w->values[i];
    return "";
}

/* The UTF-16LE bytes of a UTF-8 string of BMP characters (the test's). */
static size_t utf16le(const char *s, unsigned char *out)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = *p < 0x80 ? *p++ : ((p[0] & 0x1fu) << 6 | (p[1] & 0x3fu));
        if (c >= 0x80)
            p += 2;
        out[n++] = (unsigned char)(c & 0xff);
        out[n++] = (unsigned char)(c >> 8);
    }
    return n;
}

static void parse_answer_file(const char *xml, const char *user, const char *password)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "unattend.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    CHECK(doc != NULL);
    if (!doc)
        return;
    xmlNode *root = xmlDocGetRootElement(doc);
    CHECK(root && !strcmp((const char *)root->name, "unattend"));
    CHECK(root && root->ns && !strcmp((const char *)root->ns->href, NS));
    struct walk *w = calloc(1, sizeof(*w));
    if (root && w)
        walk(root, "", 0, w);
    if (w) {
        CHECK_INT(w->unknown, ==, 0);
        /* Every element of the table, once (Password, Value and PlainText
         * under each of their parents). */
        for (size_t i = 0; i < sizeof(schema_paths) / sizeof(schema_paths[0]); i++) {
            if (w->seen[i] != 1)
                fprintf(stderr, "%s appears %d times\n", schema_paths[i], w->seen[i]);
            CHECK_INT(w->seen[i], ==, 1);
        }
        CHECK(!strcmp(value_of(w, SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Name"), user));
        CHECK(!strcmp(value_of(w, SHELL_OOBE "AutoLogon/Username"), user));
        CHECK(!strcmp(value_of(w, SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/Group"),
                      "Administrators"));
        CHECK(!strcmp(value_of(w, SHELL_OOBE "AutoLogon/Enabled"), "true"));
        CHECK(!strcmp(value_of(w, SHELL_OOBE "TimeZone"), "W. Europe Standard Time"));
        CHECK(!strcmp(value_of(w, "oobeSystem/Microsoft-Windows-International-Core/UILanguage"),
                      "en-US"));
        CHECK(!strcmp(value_of(w, "oobeSystem/Microsoft-Windows-International-Core/InputLocale"),
                      "0407:00000407"));
        CHECK(!strcmp(value_of(w, "specialize/Microsoft-Windows-Shell-Setup/ComputerName"),
                      "it-s-Stop-Compu"));
        CHECK(!strcmp(value_of(w, SHELL_OOBE "FirstLogonCommands/SynchronousCommand/CommandLine"),
                      pvs_unattend_first_logon_command));
        CHECK(!strcmp(value_of(w, SHELL_OOBE "AutoLogon/Password/PlainText"), "false"));
        /* The password, as Windows reads it back: Base64 of UTF-16LE
         * password + "Password", in both places. */
        unsigned char want[512];
        size_t n = 0;
        if (password) {
            char both[256];
            snprintf(both, sizeof(both), "%sPassword", password);
            n = utf16le(both, want);
            check_hidden(value_of(w, SHELL_OOBE "AutoLogon/Password/Value"), want, n);
            check_hidden(value_of(w, SHELL_OOBE "UserAccounts/LocalAccounts/LocalAccount/"
                                     "Password/Value"), want, n);
        } else {
            CHECK(strstr(value_of(w, SHELL_OOBE "AutoLogon/Password/Value"), "not shown"));
        }
    }
    free(w);
    xmlFreeDoc(doc);
}
#endif

static void test_answer_file(void)
{
    char *xml = answer_file("O'Brien & Co", PASSWORD);
    CHECK(xml != NULL);
    if (!xml)
        return;
    /* The password is never there as itself. */
    CHECK(!strstr(xml, "S3cret"));
    CHECK(strstr(xml, "<Name>O&apos;Brien &amp; Co</Name>"));
    /* "--" may not appear in a comment: the VM's name is spelt out. */
    const char *c = strstr(xml, "<!--");
    const char *end = c ? strstr(c + 4, "-->") : NULL;
    CHECK(c && end);
    for (const char *p = c + 4; c && end && p < end - 1; p++)
        CHECK(!(p[0] == '-' && p[1] == '-'));
#ifdef PVS_HAVE_LIBXML2
    parse_answer_file(xml, "O'Brien & Co", PASSWORD);
#else
    fprintf(stderr, "(built without libxml2: the answer file was not parsed)\n");
#endif
    free(xml);
    /* The golden file has the dry run's stand-in for the password. */
    xml = answer_file(PVS_VM_DEFAULT_USER, NULL);
    if (xml) {
        host_golden("vm/unattend.xml", xml);
#ifdef PVS_HAVE_LIBXML2
        parse_answer_file(xml, PVS_VM_DEFAULT_USER, NULL);
#endif
    }
    free(xml);
    /* Refused: a bad user, a missing time zone, a bad password. */
    struct pvs_unattend u = { .user = "a/b", .computer_name = "x", .time_zone = "UTC",
                              .ui_language = "en-US" };
    char why[256];
    CHECK_INT(pvs_unattend_xml(&u, &xml, why, sizeof(why)), ==, PVS_EINVAL);
    u.user = "ok";
    u.time_zone = "";
    CHECK_INT(pvs_unattend_xml(&u, &xml, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "time zone"));
    u.time_zone = "UTC";
    u.password = "a\nb";
    CHECK_INT(pvs_unattend_xml(&u, &xml, why, sizeof(why)), ==, PVS_EINVAL);
    u.password = "ok";
    u.ui_language = "en\x01US";
    CHECK_INT(pvs_unattend_xml(&u, &xml, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(xml == NULL);
}

#ifndef _WIN32
/* ---- the program, against the PowerShell stand-in ---------------------- */

static const char *host_exe;
static char steps[300], journal[300], tmpdir[300], pwfile[300];

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static void step_answer(const char *step, const char *out, int status)
{
    char path[512], st[16];
    snprintf(path, sizeof(path), "%s/%s.out", steps, step);
    put_file(path, out);
    snprintf(path, sizeof(path), "%s/%s.status", steps, step);
    snprintf(st, sizeof(st), "%d\n", status);
    put_file(path, st);
}

/* A fresh answer folder: the check probe's good output, the GPU list, and
 * every step succeeding (drivers sync copies the fake package of the tree
 * into its guest folder). */
static void fresh_answers(void)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", steps, steps);
    CHECK(system(cmd) == 0);
    remove(journal);
    char *check = host_load(host_data("vm/check-create.txt"), NULL);
    step_answer("check", check ? check : "", 0);
    free(check);
    step_answer("vm", "made=vm|5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c\nend\n", 0);
    step_answer("disk", "made=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "mounted=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "mounted=iso|D:\\ISO\\Win11_23H2_English_x64.iso\n"
                        "dismounted=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "dismounted=iso|D:\\ISO\\Win11_23H2_English_x64.iso\n"
                        "made=attached\nend\n", 0);
    char drv[4096];
    snprintf(drv, sizeof(drv),
             "vm_count=1\r\nvm_state=Off\r\nhost_windows=%s/host/Windows\r\ngpu=%s\r\n"
             "gpu_name=Fake GPU\r\ndriver_version=31.0.15.5222\r\n"
             "package_inf=%s/host/Windows/System32/DriverStore/FileRepository/"
             "pvsdisp.inf_amd64_aaaa/pvsdisp.inf\r\n"
             "disk=D:\\Hyper-V\\Disks\\gaming.vhdx\r\nmounted=D:\\Hyper-V\\Disks\\gaming.vhdx\r\n"
             "windows=D:\\Hyper-V\\Disks\\gaming.vhdx|%s/guest\r\n",
             tree_root, GPU, tree_root, tree_root);
    step_answer("drivers-mount", drv, 0);
    step_answer("drivers-dismount", "", 0);
    step_answer("start", "end\n", 0);
    step_answer("cleanup", "removed=vm|5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c\n"
                           "removed=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\nend\n", 0);
}

/* The host's driver package and a guest volume, as test_host_cli makes
 * them. */
static void driver_tree(void)
{
    CHECK_INT(tree_new(), ==, 0);
#define PKG "host/Windows/System32/DriverStore/FileRepository/pvsdisp.inf_amd64_aaaa/"
    char *inf = host_load(host_data("inf/pvsdisp.inf"), NULL);
    tree_put(PKG "pvsdisp.inf", inf ? inf : "");
    free(inf);
    tree_put(PKG "pvsumd64.dll", "umd");
#undef PKG
    tree_put("host/Windows/System32/pvsapi64.dll", "api64");
    tree_put("host/Windows/System32/pvscoinst.dll", "coinst");
    tree_put("host/Windows/System32/pvscuda64.dll", "cuda");
    tree_put("host/Windows/System32/pvsoverlay.dll", "overlay");
    tree_put("host/Windows/System32/NV/pvsprofile.dat", "profile");
    tree_put("host/Windows/SysWOW64/pvsapi.dll", "api32");
    tree_dir("guest/Windows/System32");
}

struct run_result {
    int status;
    char *out, *err, *journal;
};

static void result_free(struct run_result *r)
{
    free(r->out);
    free(r->err);
    free(r->journal);
    memset(r, 0, sizeof(*r));
}

/* Runs pvstream-host with args (NULL-terminated), answered from `steps`. */
static void run_host(struct run_result *r, const char *const *args)
{
    char *argv[40];
    int n = 0;
    argv[n++] = (char *)host_exe;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char why[256];
    memset(r, 0, sizeof(*r));
    int rc = pvs_host_run_capture(argv, NULL, &r->out, &r->err, &r->status, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    if (!r->out)
        r->out = calloc(1, 1);
    if (!r->err)
        r->err = calloc(1, 1);
    r->journal = host_load(journal, NULL);
    if (!r->journal)
        r->journal = calloc(1, 1);
}

/* The steps that ran, from the journal: "check vm disk ...". */
static void step_list(const char *j, char *out, size_t len)
{
    out[0] = '\0';
    for (const char *p = j; (p = strstr(p, "\n# pvstream-")) != NULL; p++) {
        const char *w = strchr(p + 12, ' ');
        if (!w)
            break;
        w++;
        size_t n = strcspn(w, " \r\n");
        size_t o = strlen(out);
        snprintf(out + o, len - o, "%s%.*s", o ? " " : "", (int)n, w);
    }
}

/* The last script the journal holds whose marker is `step`. */
static const char *script_of(const char *j, const char *step)
{
    char mark[64];
    snprintf(mark, sizeof(mark), "# pvstream-step %s\n", step);
    const char *found = NULL;
    for (const char *p = j; (p = strstr(p, mark)) != NULL; p++)
        found = p;
    return found;
}

static bool tmpdir_empty(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return false;
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n == 0;
}

#define CREATE(...) { "vm", "create", "gaming", "--iso", "D:\\ISO\\Win11_23H2_English_x64.iso", \
                      "--password-file", pwfile, __VA_ARGS__, NULL }

static void test_cli_create(void)
{
    struct run_result r;
    char list[256];
    driver_tree();
    fresh_answers();
    const char *const args[] = CREATE("--size", "2560x1440", "--fps", "120");
    run_host(&r, args);
    CHECK_INT(r.status, ==, 0);
    if (r.status)
        fprintf(stderr, "%s%s", r.out, r.err);
    step_list(r.journal, list, sizeof(list));
    CHECK(!strcmp(list, "check vm disk drivers-mount drivers-dismount start"));
    if (strcmp(list, "check vm disk drivers-mount drivers-dismount start"))
        fprintf(stderr, "steps: %s\n", list);
    CHECK(strstr(r.out, "VM 'gaming' is running"));
    CHECK(strstr(r.out, "an equal share with the 2 VMs already on it: 1/3"));
    /* The driver went into the folder standing for the guest's volume. */
    char copied[1024];
    snprintf(copied, sizeof(copied), "%s/guest/Windows/System32/HostDriverStore/FileRepository/"
             "pvsdisp.inf_amd64_aaaa/pvsumd64.dll", tree_root);
    CHECK(access(copied, F_OK) == 0);
    snprintf(copied, sizeof(copied), "%s/guest/Windows/System32/pvsapi64.dll", tree_root);
    CHECK(access(copied, F_OK) == 0);
    /* The password appears nowhere: not in a script, not in the output,
     * hidden or not; the answer file went through a temporary file that is
     * gone, like every other. */
    char *hidden = NULL;
    CHECK_INT(pvs_unattend_hide_password("hunter2 \xc3\xa9t\xc3\xa9", "Password", &hidden), ==, 0);
    CHECK(!strstr(r.journal, "hunter2") && !strstr(r.out, "hunter2") && !strstr(r.err, "hunter2"));
    CHECK(hidden && !strstr(r.journal, hidden) && !strstr(r.out, hidden));
    free(hidden);
    const char *disk = script_of(r.journal, "disk");
    const char *uf = disk ? strstr(disk, "$UnattendFile = '") : NULL;
    CHECK(uf != NULL);
    if (uf) {
        char path[512];
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(uf + 17, "'"), uf + 17);
        CHECK(strncmp(path, tmpdir, strlen(tmpdir)) == 0);
        CHECK(access(path, F_OK) != 0);
    }
    CHECK(tmpdir_empty());
    /* vm create's steps are given exactly what was decided. */
    const char *vm = script_of(r.journal, "vm");
    CHECK(vm && strstr(vm, "$VMName = 'gaming'") && strstr(vm, "-SwitchName $SwitchName"));
    CHECK(vm && strstr(vm, "$SwitchName = 'LAN'"));
    CHECK(disk && strstr(disk, "$VMId = '5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c'"));
    CHECK(disk && strstr(disk, "$VhdPath = 'D:\\Hyper-V\\Disks\\gaming.vhdx'"));
    result_free(&r);
}

static void test_cli_dry_run(void)
{
    struct run_result r;
    char list[256];
    fresh_answers();
    const char *const args[] = CREATE("--dry-run");
    run_host(&r, args);
    CHECK_INT(r.status, ==, 0);
    step_list(r.journal, list, sizeof(list));
    CHECK(!strcmp(list, "check"));
    CHECK(strstr(r.out, "==== step 1: vm ====") && strstr(r.out, "==== step 2: disk ===="));
    CHECK(strstr(r.out, "Expand-WindowsImage") && strstr(r.out, "<UserAccounts>"));
    CHECK(strstr(r.out, "(the password, hidden as Windows expects: not shown)"));
    CHECK(!strstr(r.out, "hunter2"));
    CHECK(tmpdir_empty());
    result_free(&r);
    /* Without --password-file a dry run asks for nothing. */
    const char *const noprompt[] = { "vm", "create", "gaming", "--iso", "x.iso", "--dry-run",
                                     NULL };
    run_host(&r, noprompt);
    CHECK_INT(r.status, ==, 0);
    result_free(&r);
}

/* The check probe's good output with one line changed. */
static void check_answer_with(const char *from, const char *to)
{
    char *check = host_load(host_data("vm/check-create.txt"), NULL);
    char *at = check ? strstr(check, from) : NULL;
    CHECK(at != NULL);
    if (at) {
        char buf[8192];
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - check), check, to, at + strlen(from));
        step_answer("check", buf, 0);
    }
    free(check);
}

static void test_cli_refused_early(void)
{
    struct run_result r;
    char list[256];
    /* An ISO without the edition asked for: refused by the checks. */
    fresh_answers();
    const char *const ent[] = CREATE("--edition", "Windows 11 Enterprise");
    run_host(&r, ent);
    CHECK_INT(r.status, ==, 2);
    CHECK(strstr(r.out, "FAIL  iso-edition") && strstr(r.out, "has no edition"));
    CHECK(strstr(r.err, "nothing was made"));
    step_list(r.journal, list, sizeof(list));
    CHECK(!strcmp(list, "check"));
    result_free(&r);
    /* A full disk. */
    fresh_answers();
    check_answer_with("vhd_free=429496729600", "vhd_free=10737418240");
    const char *const plain[] = CREATE("--cpus", "2");
    run_host(&r, plain);
    CHECK_INT(r.status, ==, 2);
    CHECK(strstr(r.out, "FAIL  disk-space"));
    step_list(r.journal, list, sizeof(list));
    CHECK(!strcmp(list, "check"));
    result_free(&r);
    /* Hyper-V off: the host check fails, with its fix, before anything. */
    fresh_answers();
    check_answer_with("hyperv_feature=client:Enabled", "hyperv_feature=client:Disabled");
    run_host(&r, plain);
    CHECK_INT(r.status, ==, 2);
    CHECK(strstr(r.out, "FAIL  hyperv-enabled") && strstr(r.out, "Enable-WindowsOptionalFeature"));
    result_free(&r);
    /* Hostile names and bad options: refused before PowerShell runs. */
    fresh_answers();
    static const char *const names[] = { "a/b", "CON", "x[1]", "a`b", "a\nb", "" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *const a[] = { "vm", "create", names[i], "--iso", "x.iso", "--password-file",
                                  pwfile, NULL };
        run_host(&r, a);
        CHECK_INT(r.status, ==, 2);
        CHECK(*r.err);
        CHECK(!*r.journal);
        result_free(&r);
    }
    static const char *const bad[][3] = {
        { "--user", "Administrator", "Windows has that account" },
        { "--user", "a@b", "'@'" },
        { "--memory", "8", "give a size with its unit" },
        { "--memory", "1G", "from 2G" },
        { "--disk", "16G", "from 32G" },
        { "--vhd-dir", "D:\\[x]", "wildcard" },
        { "--share", "101", "--share" },
        { "--size", "1920", "--size" },
        { "--password-file", "/nonexistent/pw", "cannot be read" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *const a[] = CREATE(bad[i][0], bad[i][1]);
        run_host(&r, a);
        CHECK_INT(r.status, ==, 2);
        if (!strstr(r.err, bad[i][2]))
            fprintf(stderr, "%s %s: %s", bad[i][0], bad[i][1], r.err);
        CHECK(strstr(r.err, bad[i][2]));
        CHECK(!*r.journal);
        result_free(&r);
    }
    const char *const noiso[] = { "vm", "create", "gaming", NULL };
    run_host(&r, noiso);
    CHECK(r.status == 2 && strstr(r.err, "--iso FILE is required"));
    result_free(&r);
    /* An empty password file. */
    char empty[320];
    snprintf(empty, sizeof(empty), "%s.empty", pwfile);
    put_file(empty, "\n");
    const char *const nopw[] = { "vm", "create", "gaming", "--iso", "x.iso", "--password-file",
                                 empty, NULL };
    run_host(&r, nopw);
    CHECK(r.status == 2 && strstr(r.err, "password is empty"));
    result_free(&r);
    remove(empty);
}

/* A step fails: what it said it made is removed, and only that. */
static void expect_cleanup(const char *what, const char *steps_want, const char *vm_id,
                           const char *vhd, const char *iso)
{
    struct run_result r;
    char list[256], want[700];
    const char *const args[] = CREATE("--cpus", "2");
    run_host(&r, args);
    CHECK_INT(r.status, ==, 1);
    step_list(r.journal, list, sizeof(list));
    if (strcmp(list, steps_want))
        fprintf(stderr, "%s: steps %s, not %s\n%s", what, list, steps_want, r.err);
    CHECK(!strcmp(list, steps_want));
    const char *cl = script_of(r.journal, "cleanup");
    CHECK(cl != NULL);
    if (cl) {
        snprintf(want, sizeof(want), "$VMId = '%s'\n$VhdPath = '%s'\n$IsoPath = '%s'\n", vm_id,
                 vhd, iso);
        if (!strstr(cl, want))
            fprintf(stderr, "%s: the cleanup was not told: %s", what, want);
        CHECK(strstr(cl, want));
    }
    CHECK(strstr(r.err, "removing what was made"));
    CHECK(tmpdir_empty());
    result_free(&r);
}

static void test_cli_failures(void)
{
    /* The partition refused: the VM goes, there is no disk yet. */
    fresh_answers();
    step_answer("vm", "made=vm|5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c\n"
                      "error=Add-VMGpuPartitionAdapter : The operation failed.\n", 0);
    expect_cleanup("partition refused", "check vm cleanup", VM_ID, "", "");

    /* The ISO lacks the edition after all (Expand-WindowsImage refuses the
     * index): the step dismounted what it mounted; the VM and the VHDX go. */
    fresh_answers();
    step_answer("disk", "made=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "mounted=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "mounted=iso|D:\\ISO\\w.iso\n"
                        "error=Expand-WindowsImage : The specified image does not exist in the WIM.\n"
                        "dismounted=iso|D:\\ISO\\w.iso\n"
                        "dismounted=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n", 0);
    expect_cleanup("edition missing", "check vm disk cleanup", VM_ID,
                   "D:\\Hyper-V\\Disks\\gaming.vhdx", "");

    /* The disk fills up and the step dies half-way (no end, nothing
     * dismounted): the cleanup dismounts the ISO too. */
    fresh_answers();
    step_answer("disk", "made=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "mounted=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\n"
                        "mounted=iso|D:\\ISO\\w.iso\n", 1);
    char err_path[512];
    snprintf(err_path, sizeof(err_path), "%s/disk.err", steps);
    put_file(err_path, "Expand-WindowsImage : There is not enough space on the disk.\n");
    expect_cleanup("disk full", "check vm disk cleanup", VM_ID,
                   "D:\\Hyper-V\\Disks\\gaming.vhdx", "D:\\ISO\\w.iso");

    /* drivers sync refuses (the VM is not off): VM and disk go. */
    fresh_answers();
    step_answer("drivers-mount", "vm_count=1\nvm_state=Running\n", 0);
    expect_cleanup("drivers", "check vm disk drivers-mount cleanup", VM_ID,
                   "D:\\Hyper-V\\Disks\\gaming.vhdx", "");

    /* The cleanup cannot remove the disk: it says so, with what to do. */
    fresh_answers();
    step_answer("start", "error=never\n", 0);
    step_answer("disk", "made=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\nerror=Access denied\n", 0);
    step_answer("cleanup", "removed=vm|5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c\n"
                           "left=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx|The file is in use.\n"
                           "end\n", 0);
    struct run_result r;
    const char *const args[] = CREATE("--cpus", "2");
    run_host(&r, args);
    CHECK_INT(r.status, ==, 1);
    CHECK(strstr(r.out, "removed the VM 5a1e3c2b-7d4f-4e6a-9b8c-0d1e2f3a4b5c"));
    CHECK(strstr(r.err, "could not remove the disk D:\\Hyper-V\\Disks\\gaming.vhdx: The file is "
                        "in use.: remove it by hand (Remove-Item -LiteralPath PATH)"));
    result_free(&r);

    /* The start refused: the VM is complete, so it stays, with the line
     * saying what to do; nothing is removed. */
    fresh_answers();
    step_answer("start", "error=Not enough memory in the system to start the virtual machine.\n",
                0);
    char list[256];
    run_host(&r, args);
    CHECK_INT(r.status, ==, 1);
    step_list(r.journal, list, sizeof(list));
    CHECK(!strcmp(list, "check vm disk drivers-mount drivers-dismount start"));
    CHECK(strstr(r.err, "is made but did not start: Not enough memory"));
    CHECK(strstr(r.err, "vm delete 'gaming' --delete-disk"));
    result_free(&r);
}

static void test_cli_delete_status_check(void)
{
    struct run_result r;
    fresh_answers();
    /* delete: the script quotes the name; its removals are reported. */
    const char *const dry[] = { "vm", "delete", HOSTILE, "--delete-disk", "--dry-run", NULL };
    run_host(&r, dry);
    CHECK_INT(r.status, ==, 0);
    check_quoted(r.out);
    CHECK(!*r.journal);
    result_free(&r);
    step_answer("delete", "removed=vm|gaming\nremoved=vhd|D:\\Hyper-V\\Disks\\gaming.vhdx\nend\n",
                0);
    const char *const del[] = { "vm", "delete", "gaming", "--delete-disk", NULL };
    run_host(&r, del);
    CHECK_INT(r.status, ==, 0);
    CHECK(strstr(r.out, "removed the VM gaming\nremoved the disk D:\\Hyper-V\\Disks\\gaming.vhdx\n"));
    CHECK(strstr(r.journal, "$DeleteDisk = $true"));
    result_free(&r);
    step_answer("delete", "error=VM work was not made by pvstream-host vm create: give --force "
                          "to remove it anyway\n", 0);
    const char *const other[] = { "vm", "delete", "work", NULL };
    run_host(&r, other);
    CHECK_INT(r.status, ==, 2);
    CHECK(strstr(r.err, "give --force"));
    result_free(&r);

    /* status */
    char *st = host_load(host_data("vm/status-running.txt"), NULL);
    step_answer("vm-status", st ? st : "", 0);
    free(st);
    const char *const status[] = { "vm", "status", "gaming", NULL };
    run_host(&r, status);
    CHECK_INT(r.status, ==, 0);
    CHECK(strstr(r.out, "address: fe80::8d1c:2a1b:33f0:91d2, 192.168.1.57"));
    CHECK(strstr(r.out, "pvstream-client pair 192.168.1.57"));
    result_free(&r);
    step_answer("vm-status", "pvstream-probe vm-status 1\nvm_count=0\nend\n", 0);
    run_host(&r, status);
    CHECK_INT(r.status, ==, 2);
    result_free(&r);

    /* check --iso: the host checks and the create checks, one probe. */
    const char *const chk[] = { "check", "--iso", "D:\\ISO\\w.iso", "--edition", "6", NULL };
    run_host(&r, chk);
    CHECK_INT(r.status, ==, 0);
    CHECK(strstr(r.out, "ok    hyperv-enabled") && strstr(r.out, "ok    iso-edition"));
    CHECK(strstr(r.out, "Windows 11 Pro N (number 6"));
    CHECK(!strstr(r.out, "vm-name"));
    result_free(&r);
    const char *const chk_bad[] = { "check", "--edition", "6", NULL };
    run_host(&r, chk_bad);
    CHECK_INT(r.status, ==, 2);
    result_free(&r);
}

/* The guest's vm.ini is read by the real pvstream-server: each one the
 * options can give must load (`--config FILE --help` loads, then prints
 * the help). */
static void test_cli_server_reads_ini(const char *server)
{
    static const int cases[][3] = { { 2560, 1440, 120 }, { 0, 0, 0 }, { 7680, 4320, 1 },
                                    { 128, 128, 240 }, { 0, 0, 60 }, { 1920, 1080, 0 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *ini = NULL, path[400], why[256], *out = NULL, *err = NULL;
        CHECK_INT(pvs_unattend_server_ini(cases[i][0], cases[i][1], cases[i][2], &ini), ==, 0);
        snprintf(path, sizeof(path), "%s/vm.ini", tmpdir);
        put_file(path, ini ? ini : "");
        char *argv[] = { (char *)server, "--config", path, "--help", NULL };
        int status = -1;
        CHECK_INT(pvs_host_run_capture(argv, NULL, &out, &err, &status, why, sizeof(why)), ==, 0);
        if (status != 0)
            fprintf(stderr, "pvstream-server refused:\n%s%s", ini, err ? err : "");
        CHECK_INT(status, ==, 0);
        remove(path);
        free(ini);
        free(out);
        free(err);
    }
}

static int setup_cli(const char *exe)
{
    host_exe = exe;
    snprintf(steps, sizeof(steps), "/tmp/pvs-vm-steps-%d", (int)getpid());
    snprintf(journal, sizeof(journal), "/tmp/pvs-vm-journal-%d.txt", (int)getpid());
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/pvs-vm-tmp-XXXXXX");
    snprintf(pwfile, sizeof(pwfile), "/tmp/pvs-vm-pw-%d", (int)getpid());
    if (!mkdtemp(tmpdir))
        return -1;
    FILE *f = fopen(pwfile, "wb");
    if (!f || fputs("\xef\xbb\xbfhunter2 \xc3\xa9t\xc3\xa9\r\nsecond line ignored\n", f) < 0 ||
        fclose(f) != 0)
        return -1;
    chmod(pwfile, 0600);
    const char *fake = getenv("PVS_FAKE_POWERSHELL");
    if (!fake)
        return -1;
    setenv("PVS_POWERSHELL", fake, 1);
    setenv("FAKE_PS_STEPS", steps, 1);
    setenv("FAKE_PS_JOURNAL", journal, 1);
    setenv("FAKE_PS_LIST", host_data("hyperv/list-one.txt"), 1);
    setenv("TMPDIR", tmpdir, 1);
    unsetenv("FAKE_PS_OUTPUT");
    unsetenv("FAKE_PS_STATUS");
    unsetenv("FAKE_PS_LOG");
    return 0;
}

static void teardown_cli(void)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s' '%s' '%s'", steps, journal, tmpdir, pwfile);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove the test's files\n");
    tree_free();
}
#endif

int main(int argc, char **argv)
{
    pvs_log_set_sink(host_count_warnings, &warnings);
    if (sodium_init() < 0)
        return 1;
    RUN(test_names);
    RUN(test_sizes);
    RUN(test_password);
    RUN(test_facts);
    RUN(test_checks);
    RUN(test_decide);
    RUN(test_scripts);
    RUN(test_made);
    RUN(test_status);
    RUN(test_answer_file);
#ifndef _WIN32
    if (argc > 1 && setup_cli(argv[1]) == 0) {
        RUN(test_cli_create);
        RUN(test_cli_dry_run);
        RUN(test_cli_refused_early);
        RUN(test_cli_failures);
        RUN(test_cli_delete_status_check);
        if (argc > 2)
            test_cli_server_reads_ini(argv[2]);
        else
            fprintf(stderr, "(no pvstream-server given: vm.ini was not loaded by it)\n");
        teardown_cli();
    } else {
        fprintf(stderr, "the pvstream-host runs were not tested (give its path; "
                        "PVS_FAKE_POWERSHELL must be set)\n");
        CHECK(0);
    }
#else
    (void)argc;
    (void)argv;
#endif
    TEST_EXIT();
}
