/* pvstream-host drivers sync (host/drivers.h, host/manifest.h) on a fake
 * host and guest under a temporary folder: the first sync copies the
 * package and the files outside the store and writes the manifest; the
 * second copies nothing; a changed file is copied again; a newer package
 * replaces the older folders of the same INF and leaves other drivers'
 * alone; a dry run changes nothing; bad roots give clear errors. Then the
 * manifest format, and the parser of the Windows step's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef _WIN32
#include <ftw.h> /* compat_win32.h has the part the tests use */
#endif

#include "common/error.h"
#include "common/log.h"
#include "host/drivers.h"
#include "host/manifest.h"
#include "test.h"

static char root[256];
static char *inf_text;
static size_t inf_len;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    return flag == FTW_DP ? rmdir(path) : remove(path); /* Windows' remove() takes files only */
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
    if (root[0]) {
        char guest[300];
        snprintf(guest, sizeof(guest), "%s/guest", root);
        chmod(guest, 0755);
        rm_tree(root);
    }
}

static void mkdirs(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
    mkdir(path, 0755);
}

static void put(const char *rel, const char *text, size_t len)
{
    char path[1024], dir[1024];
    snprintf(dir, sizeof(dir), "%s", rel);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdirs(dir);
    }
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fwrite(text, 1, len, f);
    fclose(f);
}

static void puts_file(const char *rel, const char *text)
{
    put(rel, text, strlen(text));
}

static char *get(const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool exists(const char *rel)
{
    char path[1024];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return lstat(path, &st) == 0;
}

/* Does the guest file hold this text? */
static bool holds(const char *rel, const char *text)
{
    char *s = get(rel);
    bool ok = s && !strcmp(s, text);
    free(s);
    return ok;
}

#define REPO "Windows/System32/HostDriverStore/FileRepository/"
#define HOST_REPO "host/Windows/System32/DriverStore/FileRepository/"
#define PKG_A "pvsdisp.inf_amd64_aaaa"
#define PKG_B "pvsdisp.inf_amd64_bbbb"

static void make_host(void)
{
    put(HOST_REPO PKG_A "/pvsdisp.inf", inf_text, inf_len);
    puts_file(HOST_REPO PKG_A "/pvskmd.sys", "kernel driver A");
    puts_file(HOST_REPO PKG_A "/pvsumd64.dll", "user-mode driver 64 A");
    puts_file(HOST_REPO PKG_A "/pvsumd32.dll", "user-mode driver 32 A");
    puts_file(HOST_REPO PKG_A "/sub/extra.bin", "extra A");
    puts_file("host/Windows/System32/pvsapi64.dll", "api64 A");
    puts_file("host/Windows/System32/pvscoinst.dll", "coinstaller A");
    puts_file("host/Windows/System32/pvscuda64.dll", "cuda A");
    puts_file("host/Windows/System32/pvsoverlay.dll", "overlay A");
    puts_file("host/Windows/System32/NV/pvsprofile.dat", "profile A");
    puts_file("host/Windows/System32/drivers/pvshelper.sys", "helper A");
    puts_file("host/Windows/SysWOW64/pvsapi.dll", "api32 A");
    puts_file("host/Windows/System32/unrelated.dll", "not the driver's");
    mkdirs("guest/Windows/System32");
    puts_file("guest/Windows/System32/user.dll", "the guest's own");
}

static int sync_with(const char *package, const char *guest, bool dry, struct pvs_drivers_stats *st,
                     char *why, size_t why_len)
{
    char pkg[512], win[512], g[512];
    snprintf(pkg, sizeof(pkg), "%s/" HOST_REPO "%s", root, package);
    snprintf(win, sizeof(win), "%s/host/Windows", root);
    snprintf(g, sizeof(g), "%s/%s", root, guest);
#ifdef _WIN32
    FILE *out = fopen("NUL", "w");
#else
    FILE *out = fopen("/dev/null", "w");
#endif
    struct pvs_drivers_sync_settings s = { pkg, win, g, dry, out };
    int rc = pvs_drivers_sync(&s, st, why, why_len);
    if (out)
        fclose(out);
    if (rc < 0)
        fprintf(stderr, "sync: %s\n", why);
    return rc;
}

static void test_first_and_second(void)
{
    struct pvs_drivers_stats st;
    char why[1024];
    CHECK_INT(sync_with(PKG_A, "guest", false, &st, why, sizeof(why)), ==, 0);
    /* 5 package files + 6 outside the store (not the kernel helper, DIRID 12). */
    CHECK_INT(st.copied, ==, 11);
    CHECK_INT(st.skipped, ==, 0);
    CHECK_INT(st.removed_files + st.removed_dirs, ==, 0);
    CHECK_INT(st.missing, ==, 0);
    CHECK(holds("guest/" REPO PKG_A "/pvsumd64.dll", "user-mode driver 64 A"));
    CHECK(holds("guest/" REPO PKG_A "/sub/extra.bin", "extra A"));
    CHECK(exists("guest/" REPO PKG_A "/pvsdisp.inf"));
    CHECK(holds("guest/Windows/System32/pvsapi64.dll", "api64 A"));
    CHECK(holds("guest/Windows/System32/pvscuda64.dll", "cuda A"));
    CHECK(holds("guest/Windows/System32/NV/pvsprofile.dat", "profile A"));
    CHECK(holds("guest/Windows/SysWOW64/pvsapi.dll", "api32 A"));
    CHECK(!exists("guest/Windows/System32/drivers/pvshelper.sys"));
    CHECK(!exists("guest/Windows/System32/unrelated.dll"));
    CHECK(!exists("guest/Windows/System32/pvsapi64.dll.pvstream-tmp"));
    CHECK(!exists("guest/Windows/System32/HostDriverStore/pvstream-write-test.pvstream-tmp"));
    char *m = get("guest/" PVS_MANIFEST_PATH);
    CHECK(m && strstr(m, "\ndriver_version = 31.0.15.5222\n"));
    CHECK(m && strstr(m, "\npackage = " PKG_A "\n"));
    CHECK(m && strstr(m, "\ninf = pvsdisp.inf\n"));
    CHECK(m && strstr(m, " 7 Windows/System32/pvsapi64.dll\n")); /* size 7 */
    free(m);

    CHECK_INT(sync_with(PKG_A, "guest", false, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.copied, ==, 0);
    CHECK_INT(st.skipped, ==, 11);
    CHECK_INT(st.bytes_copied, ==, 0);
}

static void test_changed(void)
{
    struct pvs_drivers_stats st;
    char why[1024];
    /* Same size, other bytes: the hash tells. And a changed size. */
    puts_file("host/Windows/System32/pvsapi64.dll", "api64 B");
    puts_file(HOST_REPO PKG_A "/pvsumd32.dll", "user-mode driver 32, rebuilt");
    CHECK_INT(sync_with(PKG_A, "guest", false, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.copied, ==, 2);
    CHECK_INT(st.skipped, ==, 9);
    CHECK(holds("guest/Windows/System32/pvsapi64.dll", "api64 B"));
    CHECK(holds("guest/" REPO PKG_A "/pvsumd32.dll", "user-mode driver 32, rebuilt"));

    /* A file changed in the guest behind the manifest's back (other size). */
    puts_file("guest/Windows/System32/pvscuda64.dll", "tampered with");
    CHECK_INT(sync_with(PKG_A, "guest", false, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.copied, ==, 1);
    CHECK(holds("guest/Windows/System32/pvscuda64.dll", "cuda A"));

    /* No manifest (lost, or a sync cut short before writing it): files
     * that are already right are recognized by their hash, not copied. */
    char path[512];
    snprintf(path, sizeof(path), "%s/guest/" PVS_MANIFEST_PATH, root);
    CHECK_INT(remove(path), ==, 0);
    CHECK_INT(sync_with(PKG_A, "guest", false, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.copied, ==, 0);
    CHECK_INT(st.skipped, ==, 11);
    CHECK(exists("guest/" PVS_MANIFEST_PATH));
}

static void test_newer_package(void)
{
    /* The new INF: a newer DriverVer, and no @pvsoverlay.dll any more. */
    char *text = malloc(inf_len + 1);
    memcpy(text, inf_text, inf_len);
    text[inf_len] = '\0';
    char *ver = strstr(text, "31.0.15.5222");
    char *ov = strstr(text, "@pvsoverlay.dll, ");
    CHECK(ver && ov);
    if (!ver || !ov) {
        free(text);
        return;
    }
    memcpy(ver, "32.0.15.6000", 12);
    memmove(ov, ov + 17, strlen(ov + 17) + 1);
    put(HOST_REPO PKG_B "/pvsdisp.inf", text, strlen(text));
    free(text);
    puts_file(HOST_REPO PKG_B "/pvskmd.sys", "kernel driver B");
    puts_file(HOST_REPO PKG_B "/pvsumd64.dll", "user-mode driver 64 B");

    /* An older package left by an earlier tool, and another driver's. */
    puts_file("guest/" REPO "pvsdisp.inf_amd64_0000/old.dll", "ancient");
    puts_file("guest/" REPO "other.inf_amd64_cccc/other.dll", "another driver");
    puts_file("guest/" REPO "PVSDISP.INF_x/keep-me-not.dll", "same INF, any case");

    struct pvs_drivers_stats st;
    char why[1024];
    /* The dry run lists it all and changes nothing. */
    CHECK_INT(sync_with(PKG_B, "guest", true, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.removed_dirs, ==, 3);
    CHECK_INT(st.removed_files, ==, 1);
    CHECK(exists("guest/" REPO PKG_A "/pvsumd64.dll"));
    CHECK(exists("guest/Windows/System32/pvsoverlay.dll"));
    CHECK(!exists("guest/" REPO PKG_B));

    CHECK_INT(sync_with(PKG_B, "guest", false, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.copied, ==, 3);   /* the package's three files */
    CHECK_INT(st.skipped, ==, 5);  /* the outside files, unchanged */
    CHECK_INT(st.removed_dirs, ==, 3);
    CHECK_INT(st.removed_files, ==, 1);
    CHECK(!exists("guest/" REPO PKG_A));
    CHECK(!exists("guest/" REPO "pvsdisp.inf_amd64_0000"));
    CHECK(!exists("guest/" REPO "PVSDISP.INF_x"));
    CHECK(holds("guest/" REPO "other.inf_amd64_cccc/other.dll", "another driver"));
    CHECK(holds("guest/" REPO PKG_B "/pvsumd64.dll", "user-mode driver 64 B"));
    CHECK(!exists("guest/Windows/System32/pvsoverlay.dll"));
    CHECK(holds("guest/Windows/System32/user.dll", "the guest's own"));
    char *m = get("guest/" PVS_MANIFEST_PATH);
    CHECK(m && strstr(m, "\ndriver_version = 32.0.15.6000\n"));
    CHECK(m && strstr(m, "\npackage = " PKG_B "\n"));
    CHECK(m && !strstr(m, PKG_A));
    free(m);
}

static void test_dry_run_fresh(void)
{
    mkdirs("guest2/Windows/System32");
    struct pvs_drivers_stats st;
    char why[1024];
    CHECK_INT(sync_with(PKG_A, "guest2", true, &st, why, sizeof(why)), ==, 0);
    CHECK_INT(st.copied, ==, 11); /* 5 package files + 6 outside */
    CHECK(!exists("guest2/Windows/System32/HostDriverStore"));
    CHECK(!exists("guest2/Windows/System32/pvsapi64.dll"));
    CHECK(!exists("guest2/Windows/SysWOW64"));
}

static void test_bad_roots(void)
{
    struct pvs_drivers_stats st;
    char why[1024];
    enum pvs_log_level old = pvs_log_get_level();
    pvs_log_set_level(PVS_LOG_QUIET);
    CHECK_INT(sync_with(PKG_A, "nowhere", false, &st, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "does not exist") != NULL);
    mkdirs("empty");
    CHECK_INT(sync_with(PKG_A, "empty", false, &st, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "not the guest's Windows volume") != NULL);
    CHECK_INT(sync_with("not-a-package", "guest", false, &st, why, sizeof(why)), ==, PVS_EINVAL);
    mkdirs(HOST_REPO "plain");
    CHECK_INT(sync_with("plain", "guest", false, &st, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "<name>.inf_<arch>_<hash>") != NULL);
    mkdirs(HOST_REPO "noinf.inf_amd64_1");
    CHECK_INT(sync_with("noinf.inf_amd64_1", "guest", false, &st, why, sizeof(why)), ==,
              PVS_EINVAL);
    CHECK(strstr(why, "noinf.inf") != NULL);

    /* A guest volume that cannot be written: nothing changes. As root,
     * permissions do not stop writes, so a file stands where the folder
     * must go; as anyone else, a read-only System32 too. */
    mkdirs("guest3/Windows/System32");
    puts_file("guest3/Windows/System32/HostDriverStore", "a file in the way");
    CHECK_INT(sync_with(PKG_A, "guest3", false, &st, why, sizeof(why)), ==, PVS_EIO);
    CHECK(strstr(why, "cannot write to the guest volume") != NULL);
    CHECK(!exists("guest3/Windows/System32/pvsapi64.dll"));
#ifndef _WIN32
    /* Not on Windows: a folder's read-only attribute does not stop writes
     * in it, so there is no read-only System32 to make this way. */
    if (geteuid() != 0) {
        mkdirs("guest4/Windows/System32");
        char p[512];
        snprintf(p, sizeof(p), "%s/guest4/Windows/System32", root);
        chmod(p, 0555);
        CHECK_INT(sync_with(PKG_A, "guest4", false, &st, why, sizeof(why)), ==, PVS_EIO);
        CHECK(strstr(why, "read-only") != NULL);
        chmod(p, 0755);
    }
#endif
    pvs_log_set_level(old);
}

static void test_manifest_format(void)
{
    struct pvs_manifest m;
    pvs_manifest_init(&m);
    static const char h[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    snprintf(m.driver_version, sizeof(m.driver_version), "1.2.3.4");
    snprintf(m.package, sizeof(m.package), "x.inf_amd64_1");
    CHECK_INT(pvs_manifest_add(&m, "Windows/System32/a b.dll", 12, h), ==, 0);
    CHECK_INT(pvs_manifest_add(&m, "Windows/../etc/passwd", 1, h), ==, PVS_EINVAL);
    CHECK_INT(pvs_manifest_add(&m, "/Windows/x", 1, h), ==, PVS_EINVAL);
    CHECK_INT(pvs_manifest_add(&m, "Users/x", 1, h), ==, PVS_EINVAL);
    CHECK_INT(pvs_manifest_add(&m, "Windows/a\\b", 1, h), ==, PVS_EINVAL);
    CHECK_INT(pvs_manifest_add(&m, "Windows/c:d", 1, h), ==, PVS_EINVAL);
    CHECK_INT(pvs_manifest_add(&m, "Windows/x", 1, "ABC"), ==, PVS_EINVAL);
    char *text = NULL;
    CHECK_INT(pvs_manifest_format(&m, &text), ==, 0);
    struct pvs_manifest back;
    CHECK_INT(pvs_manifest_parse(text, strlen(text), &back, NULL, 0), ==, 0);
    CHECK(!strcmp(back.driver_version, "1.2.3.4"));
    CHECK(!strcmp(back.package, "x.inf_amd64_1"));
    CHECK_INT(back.count, ==, 1);
    CHECK(back.count == 1 && back.files[0].size == 12 &&
          !strcmp(back.files[0].path, "Windows/System32/a b.dll"));
    CHECK(pvs_manifest_find(&back, "windows/SYSTEM32/A B.DLL") != NULL);
    pvs_manifest_free(&back);
    free(text);
    pvs_manifest_free(&m);

    /* Damaged lines are skipped; a file without the format line is not a
     * manifest. */
    enum pvs_log_level old = pvs_log_get_level();
    pvs_log_set_level(PVS_LOG_QUIET);
    const char *bad = "format = 1\r\npackage = ../up\nfile = xyz 1 Windows/a\n"
                      "file = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "
                      "99999999999999999999 Windows/b\nwhat\n";
    CHECK_INT(pvs_manifest_parse(bad, strlen(bad), &back, NULL, 0), ==, 0);
    CHECK_INT(back.count, ==, 0);
    CHECK(!strcmp(back.package, ""));
    pvs_manifest_free(&back);
    char why[256];
    CHECK_INT(pvs_manifest_parse("driver_version = 1\n", 19, &back, why, sizeof(why)), ==,
              PVS_EBADDATA);
    CHECK_INT(pvs_manifest_parse("format = 2\n", 11, &back, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(strstr(why, "update pvstream-host") != NULL);
    pvs_log_set_level(old);
}

static void test_probe(void)
{
    static const char two_disks[] =
        "WARNING: something PowerShell says\r\n"
        "vm_count=1\r\n"
        "vm_state=Off\r\n"
        "host_windows=C:\\Windows\r\n"
        "gpu=\\\\?\\PCI#VEN_10DE&DEV_2204#4&1&0&0008#{064092b3-625e-43bf-9eb5-dc845897dd59}\r\n"
        "gpu_name=NVIDIA GeForce RTX 3090\r\n"
        "driver_version=31.0.15.5222\r\n"
        "inf_path=oem12.inf\r\n"
        "package_inf=C:\\Windows\\System32\\DriverStore\\FileRepository\\nv_dispi.inf_amd64_"
        "abc\\nv_dispi.inf\r\n"
        "disk=D:\\VMs\\game.vhdx\r\n"
        "mounted=D:\\VMs\\game.vhdx\r\n"
        "windows=D:\\VMs\\game.vhdx|E:\\\r\n"
        "disk=D:\\VMs\\data.vhdx\r\n"
        "mounted=D:\\VMs\\data.vhdx\r\n";
    struct pvs_drivers_probe *p = malloc(sizeof(*p));
    pvs_drivers_probe_parse(two_disks, strlen(two_disks), p);
    CHECK_INT(p->vm_count, ==, 1);
    CHECK_INT(p->disk_count, ==, 2);
    CHECK_INT(p->mounted_count, ==, 2);
    CHECK_INT(p->windows_count, ==, 1);
    const char *groot = NULL;
    char pkg[1024], why[1024];
    CHECK_INT(pvs_drivers_probe_pick(p, "game", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              0);
    CHECK(groot && !strcmp(groot, "E:\\"));
    CHECK(!strcmp(pkg, "C:\\Windows\\System32\\DriverStore\\FileRepository\\nv_dispi.inf_amd64_abc"));
    CHECK(!strcmp(p->host_windows, "C:\\Windows"));

    /* The dismount script names both disks, quoted. */
    char *script = NULL;
    CHECK_INT(pvs_drivers_dismount_script(p, &script), ==, 0);
    CHECK(script && strstr(script, "@('D:\\VMs\\game.vhdx', 'D:\\VMs\\data.vhdx')"));
    free(script);

    /* No Windows volume: the error names the disks. */
    static const char none[] = "vm_count=1\nvm_state=Off\nhost_windows=C:\\Windows\ngpu=G\n"
                               "package_inf=C:\\x\\p.inf_amd64_1\\p.inf\n"
                               "disk=a.vhdx\nmounted=a.vhdx\ndisk=b.vhdx\nmounted=b.vhdx\n";
    pvs_drivers_probe_parse(none, strlen(none), p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EINVAL);
    CHECK(strstr(why, "a.vhdx, b.vhdx") != NULL);
    CHECK(groot == NULL);

    /* Two Windows volumes: which one boots is not guessed. */
    static const char two[] = "vm_count=1\nvm_state=Off\nhost_windows=C:\\Windows\ngpu=G\n"
                              "package_inf=C:\\x\\p.inf_amd64_1\\p.inf\n"
                              "disk=a.vhdx\nwindows=a.vhdx|E:\\\ndisk=b.vhdx\nwindows=b.vhdx|F:\\\n";
    pvs_drivers_probe_parse(two, strlen(two), p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EINVAL);
    CHECK(strstr(why, "E:\\ on a.vhdx, F:\\ on b.vhdx") != NULL);

    static const char running[] = "vm_count=1\nvm_state=Running\n";
    pvs_drivers_probe_parse(running, strlen(running), p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EINVAL);
    CHECK(strstr(why, "Running, not off") != NULL);
    pvs_drivers_probe_parse("vm_count=0\n", 11, p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EINVAL);
    CHECK(strstr(why, "no VM is named 'vm'") != NULL);
    pvs_drivers_probe_parse("vm_count=2\n", 11, p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EINVAL);
    static const char failed[] = "vm_count=1\nmounted=a.vhdx\nerror=Mount-VHD: in use\n";
    pvs_drivers_probe_parse(failed, strlen(failed), p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EIO);
    CHECK(strstr(why, "Mount-VHD: in use") != NULL);
    CHECK_INT(p->mounted_count, ==, 1);
    pvs_drivers_probe_parse("", 0, p);
    CHECK_INT(pvs_drivers_probe_pick(p, "vm", &groot, pkg, sizeof(pkg), why, sizeof(why)), ==,
              PVS_EIO);
    free(p);

    /* The mount script: the name quoted, read-only for a dry run. */
    CHECK_INT(pvs_drivers_mount_script("it's", true, &script), ==, 0);
    CHECK(script && strstr(script, "$VMName = 'it''s'\n"));
    CHECK(script && strstr(script, "ReadOnly = $true"));
    free(script);
    CHECK_INT(pvs_drivers_mount_script("x", false, &script), ==, 0);
    CHECK(script && !strstr(script, "ReadOnly = $true"));
    free(script);
    CHECK_INT(pvs_drivers_mount_script("a\nb", false, &script), ==, PVS_EINVAL);
}

int main(void)
{
    const char *dir = getenv("PVS_TEST_DATA");
    if (!dir)
        TEST_SKIP("PVS_TEST_DATA is not set: run through meson test");
    char path[1024];
    snprintf(path, sizeof(path), "%s/host/inf/pvsdisp.inf", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    inf_text = malloc(1 << 20);
    inf_len = fread(inf_text, 1, 1 << 20, f);
    fclose(f);
    snprintf(root, sizeof(root), "/tmp/pvs-drivers-XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    make_host();
    RUN(test_first_and_second);
    RUN(test_changed);
    RUN(test_newer_package);
    RUN(test_dry_run_fresh);
    RUN(test_bad_roots);
    RUN(test_manifest_format);
    RUN(test_probe);
    free(inf_text);
    TEST_EXIT();
}
