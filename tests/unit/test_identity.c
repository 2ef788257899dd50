/* Identity keys and paired peers (net/identity.h), all under a temporary
 * directory named by PVS_CONFIG_DIR: the directory is found and created
 * private (0700; on Windows a protected owner-only DACL); a key file is
 * created private (0600; owner-only DACL) and loads back as the same pair;
 * files open to others, owned by another user, not regular, or malformed
 * are refused and the log says how to fix it (or which line is wrong); a
 * missing file is PVS_ENOENT and an exclusive write never replaces; peers
 * add, replace (by name and by key), remove and find round trip; the
 * fingerprint has its documented form and value.
 *
 * On Windows under Wine, whose file security descriptors are made from Unix
 * mode bits (SYSTEM always listed, nothing protected or inherited), the
 * checks Wine cannot pass say so and are skipped; the rest run. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#endif

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"
#include "net/identity.h"
#include "tests/unit/test.h"

static char g_dir[512];
static char g_last[1024];  /* the last error logged */
static int g_errors;

static void sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                 const char *msg)
{
    if (level == PVS_LOG_ERROR) {
        g_errors++;
        snprintf(g_last, sizeof(g_last), "%s", msg);
    }
}

static void log_reset(void)
{
    g_last[0] = '\0';
    g_errors = 0;
}

static bool said(const char *what)
{
    bool yes = strstr(g_last, what) != NULL;
    if (!yes)
        fprintf(stderr, "  log was \"%s\", wanted \"%s\" in it\n", g_last, what);
    return yes;
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", g_dir, name);
}

/* Environment changes pvstream sees: on Windows it reads the process's
 * Unicode environment, not the CRT's copy; values are UTF-8. */
static void env_set(const char *name, const char *value)
{
#ifdef _WIN32
    wchar_t wn[64], wv[600];
    MultiByteToWideChar(CP_UTF8, 0, name, -1, wn, 64);
    if (value)
        MultiByteToWideChar(CP_UTF8, 0, value, -1, wv, 600);
    CHECK(SetEnvironmentVariableW(wn, value ? wv : NULL) || !value);
#else
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
#endif
}

/* Whether a name with ".tmp-" in it is left in `dir`. */
static bool has_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d)))
        found |= strstr(e->d_name, ".tmp-") != NULL;
    closedir(d);
    return found;
}

#ifdef _WIN32
/* Files are written the way pvstream writes them: a file made by fopen
 * inherits the directory's DACL on Windows but gets Unix mode 0644 under
 * Wine, which it reports as readable by Everyone. `mode` is POSIX's. */
static void write_file(const char *path, const char *text, int mode)
{
    (void)mode;
    unlink(path);
    CHECK_INT(pvs_keyfile_write(path, "test file", text, strlen(text), false), ==, 0);
}
#else
static void write_file(const char *path, const char *text, mode_t mode)
{
    unlink(path);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
    CHECK_INT(chmod(path, mode), ==, 0);
}
#endif

#ifdef _WIN32
/* ---- Windows: reading security descriptors back ------------------------ */

/* Wine's version, or NULL on Windows. Wine keeps no security descriptor a
 * program sets on a file: it turns the DACL into Unix mode bits and makes a
 * descriptor from those when asked (owner, SYSTEM and, for the mode's
 * group and other bits, Everyone; never protected, never inherited). */
static const char *wine_version(void)
{
    typedef const char *(*fn)(void);
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    fn f = ntdll ? (fn)(void (*)(void))GetProcAddress(ntdll, "wine_get_version") : NULL;
    return f ? f() : NULL;
}

static void skip_note(const char *what, const char *why)
{
    printf("skipped: %s: %s\n", what, why);
}

static union {
    TOKEN_USER tu;
    BYTE bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
} g_user;

static PSID my_sid(void)
{
    return g_user.tu.User.Sid;
}

static bool running_as_system(void)
{
    return IsWellKnownSid(my_sid(), WinLocalSystemSid);
}

static HANDLE open_for_security(const char *path, DWORD access)
{
    wchar_t w[700];
    MultiByteToWideChar(CP_UTF8, 0, path, -1, w, 700);
    /* BACKUP_SEMANTICS opens directories too. */
    return CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                       NULL, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
}

/* Checks that `path` (file or directory) is owned by us, with a DACL that
 * grants full control to us and nothing to anyone else, protected against
 * inheritance; `inherit`: our ACE is passed on to what a directory holds.
 * Under Wine: only that the owner is us and nobody but us and SYSTEM is
 * granted anything (the mode bits Wine keeps say no more). */
static void check_private(const char *path, bool inherit)
{
    HANDLE h = open_for_security(path, READ_CONTROL);
    CHECK(h != INVALID_HANDLE_VALUE);
    if (h == INVALID_HANDLE_VALUE)
        return;
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD e = GetSecurityInfo(h, SE_FILE_OBJECT,
                              OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                              &owner, NULL, &dacl, NULL, &sd);
    CloseHandle(h);
    CHECK_INT(e, ==, ERROR_SUCCESS);
    if (e != ERROR_SUCCESS)
        return;
    bool wine = wine_version() != NULL;
    CHECK(owner && EqualSid(owner, my_sid()));
    CHECK(dacl != NULL);
    SECURITY_DESCRIPTOR_CONTROL ctl = 0;
    DWORD rev;
    CHECK(GetSecurityDescriptorControl(sd, &ctl, &rev));
    if (!wine)
        CHECK(ctl & SE_DACL_PROTECTED);
    int mine = 0, others = 0, inherited = 0, system = 0;
    for (DWORD i = 0; dacl && i < dacl->AceCount; i++) {
        ACE_HEADER *hd;
        CHECK(GetAce(dacl, i, (void **)&hd));
        if (hd->AceType != ACCESS_ALLOWED_ACE_TYPE) {
            others++;  /* we write allow ACEs only */
            continue;
        }
        ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)hd;
        PSID sid = (PSID)&a->SidStart;
        inherited += (hd->AceFlags & INHERITED_ACE) != 0;
        if (EqualSid(sid, my_sid())) {
            mine++;
            CHECK_INT(a->Mask & FILE_ALL_ACCESS, ==, FILE_ALL_ACCESS);
            if (inherit && !wine)
                CHECK_INT(hd->AceFlags & (OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE), ==,
                          OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE);
        } else if (wine && IsWellKnownSid(sid, WinLocalSystemSid)) {
            system++;
        } else {
            others++;
        }
    }
    CHECK_INT(mine, ==, 1);
    CHECK_INT(others, ==, 0);
    CHECK_INT(inherited, ==, 0);
    if (wine && (system || !(ctl & SE_DACL_PROTECTED))) {
        static bool told;
        char why[400];
        snprintf(why, sizeof(why), "Wine %s reports the DACL from Unix mode bits (SYSTEM "
                 "listed: %s, protected flag: %s), so that exactly our owner-only, "
                 "protected%s DACL was kept cannot be seen; checked only that the "
                 "owner is us and nobody but us and SYSTEM is granted anything (the "
                 "Unix mode Wine gives the file is not checked)",
                 wine_version(), system ? "yes" : "no",
                 ctl & SE_DACL_PROTECTED ? "kept" : "lost", inherit ? ", inheritable" : "");
        skip_note(path, told ? "as above, Wine" : why);
        told = true;
    }
    LocalFree(sd);
}

/* Adds an allow ACE for Everyone (`mask`) to the file's DACL, or replaces
 * the DACL with none at all (`null_dacl`). Returns what the file's DACL
 * then says: 1 when the change is visible in it, 0 when not. */
static int loosen(const char *path, ACCESS_MASK mask, bool null_dacl)
{
    HANDLE h = open_for_security(path, READ_CONTROL | WRITE_DAC);
    CHECK(h != INVALID_HANDLE_VALUE);
    if (h == INVALID_HANDLE_VALUE)
        return 0;
    union {
        SID sid;
        BYTE bytes[SECURITY_MAX_SID_SIZE];
    } world;
    DWORD wl = sizeof(world);
    CHECK(CreateWellKnownSid(WinWorldSid, NULL, &world, &wl));
    PACL old = NULL, next = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    CHECK_INT(GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                              &old, NULL, &sd), ==, ERROR_SUCCESS);
    if (!null_dacl) {
        EXPLICIT_ACCESSW ea;
        memset(&ea, 0, sizeof(ea));
        ea.grfAccessPermissions = mask;
        ea.grfAccessMode = GRANT_ACCESS;
        ea.grfInheritance = NO_INHERITANCE;
        ea.Trustee.TrusteeForm = TRUSTEE_IS_SID;
        ea.Trustee.TrusteeType = TRUSTEE_IS_WELL_KNOWN_GROUP;
        ea.Trustee.ptstrName = (LPWSTR)&world;
        CHECK_INT(SetEntriesInAclW(1, &ea, old, &next), ==, ERROR_SUCCESS);
    }
    CHECK_INT(SetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                              next, NULL), ==, ERROR_SUCCESS);
    LocalFree(sd);
    LocalFree(next);
    sd = NULL;
    PACL now = NULL;
    int visible = 0;
    if (GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &now,
                        NULL, &sd) == ERROR_SUCCESS) {
        if (null_dacl) {
            visible = now == NULL;
        } else {
            for (DWORD i = 0; now && i < now->AceCount; i++) {
                ACE_HEADER *hd;
                if (GetAce(now, i, (void **)&hd) && hd->AceType == ACCESS_ALLOWED_ACE_TYPE &&
                    EqualSid((PSID)&((ACCESS_ALLOWED_ACE *)hd)->SidStart, &world) &&
                    (((ACCESS_ALLOWED_ACE *)hd)->Mask & mask))
                    visible = 1;
            }
        }
        LocalFree(sd);
    }
    CloseHandle(h);
    return visible;
}
#endif

#ifndef _WIN32
static void test_dir(void)
{
    char buf[600], want[600];
    snprintf(want, sizeof(want), "%s/a/b", g_dir);
    setenv("PVS_CONFIG_DIR", want, 1);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    CHECK(strcmp(buf, want) == 0);
    struct stat st;
    CHECK_INT(stat(want, &st), ==, 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 0777, ==, 0700);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);  /* exists: fine */
    char tiny[4];
    log_reset();
    CHECK_INT(pvs_identity_dir(tiny, sizeof(tiny)), ==, PVS_ERANGE);
    CHECK_INT(g_errors, ==, 1);

    /* Without PVS_CONFIG_DIR: XDG_CONFIG_HOME, then HOME. */
    unsetenv("PVS_CONFIG_DIR");
    char *old_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("XDG_CONFIG_HOME", g_dir, 1);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    snprintf(want, sizeof(want), "%s/pvstream", g_dir);
    CHECK(strcmp(buf, want) == 0);
    setenv("XDG_CONFIG_HOME", "relative/ignored", 1);
    setenv("HOME", g_dir, 1);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    snprintf(want, sizeof(want), "%s/.config/pvstream", g_dir);
    CHECK(strcmp(buf, want) == 0);
    CHECK_INT(stat(want, &st), ==, 0);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    log_reset();
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, PVS_ECONFIG);
    CHECK(said("PVS_CONFIG_DIR"));
    if (old_xdg)
        setenv("XDG_CONFIG_HOME", old_xdg, 1);
    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_xdg);
    free(old_home);

    /* A file where the directory should be. */
    snprintf(want, sizeof(want), "%s/plainfile", g_dir);
    write_file(want, "x", 0600);
    setenv("PVS_CONFIG_DIR", want, 1);
    log_reset();
    CHECK(pvs_identity_dir(buf, sizeof(buf)) < 0);
    CHECK_INT(g_errors, >=, 1);
    unlink(want);
    setenv("PVS_CONFIG_DIR", g_dir, 1);
}
#else
static void test_dir(void)
{
    char buf[600], want[600];
    /* Either separator, and a name that is not ASCII (UTF-8 both ways). */
    snprintf(want, sizeof(want), "%s/a\\b-\xc3\xa9", g_dir);
    env_set("PVS_CONFIG_DIR", want);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
    CHECK(strcmp(buf, want) == 0);
    wchar_t w[600];
    MultiByteToWideChar(CP_UTF8, 0, want, -1, w, 600);
    DWORD attrs = GetFileAttributesW(w);
    CHECK(attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY));
    check_private(want, true);
    CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);  /* exists: fine */
    char tiny[4];
    log_reset();
    CHECK_INT(pvs_identity_dir(tiny, sizeof(tiny)), ==, PVS_ERANGE);
    CHECK_INT(g_errors, ==, 1);

    /* Without PVS_CONFIG_DIR: %APPDATA%\pvstream (pointed at our directory,
     * not the real profile). */
    env_set("PVS_CONFIG_DIR", NULL);
    wchar_t old_appdata[600];
    DWORD ol = GetEnvironmentVariableW(L"APPDATA", old_appdata, 600);
    snprintf(want, sizeof(want), "%s\\roaming", g_dir);
    env_set("APPDATA", want);
    if (running_as_system()) {
        skip_note("the default directory", "running as LocalSystem, which uses "
                  "%ProgramData%\\pvstream");
    } else {
        CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, 0);
        snprintf(want, sizeof(want), "%s\\roaming\\pvstream", g_dir);
        CHECK(strcmp(buf, want) == 0);
        MultiByteToWideChar(CP_UTF8, 0, want, -1, w, 600);
        attrs = GetFileAttributesW(w);
        CHECK(attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY));
        check_private(want, true);
        env_set("APPDATA", NULL);
        log_reset();
        CHECK_INT(pvs_identity_dir(buf, sizeof(buf)), ==, PVS_ECONFIG);
        CHECK(said("PVS_CONFIG_DIR"));
    }
    SetEnvironmentVariableW(L"APPDATA", ol > 0 && ol < 600 ? old_appdata : NULL);

    /* A file where the directory should be. */
    snprintf(want, sizeof(want), "%s/plainfile", g_dir);
    write_file(want, "x", 0600);
    env_set("PVS_CONFIG_DIR", want);
    log_reset();
    CHECK(pvs_identity_dir(buf, sizeof(buf)) < 0);
    CHECK_INT(g_errors, >=, 1);
    unlink(want);
    env_set("PVS_CONFIG_DIR", g_dir);
}
#endif

static void test_create_and_load(void)
{
    char dir[600], path[700];
    CHECK_INT(pvs_identity_dir(dir, sizeof(dir)), ==, 0);
    CHECK(strcmp(dir, g_dir) == 0);
    snprintf(path, sizeof(path), "%s/%s", dir, PVS_IDENTITY_FILE);

    struct pvs_identity a, b;
    CHECK_INT(pvs_identity_load_or_create(path, &a), ==, 0);
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK(S_ISREG(st.st_mode));
#ifdef _WIN32
    check_private(path, false);
#else
    CHECK_INT(st.st_mode & 0777, ==, 0600);
#endif
    /* The pair is a real X25519 pair. */
    uint8_t pub[32];
    CHECK_INT(crypto_scalarmult_base(pub, a.secret_key), ==, 0);
    CHECK(memcmp(pub, a.public_key, 32) == 0);

    CHECK_INT(pvs_identity_load_or_create(path, &b), ==, 0);
    CHECK(memcmp(a.public_key, b.public_key, 32) == 0);
    CHECK(memcmp(a.secret_key, b.secret_key, 32) == 0);

    /* No temporary files are left beside it. */
    CHECK(!has_tmp_files(dir));

    /* Another file makes another key. */
    struct pvs_identity c;
    path_of(path, sizeof(path), "other.key");
    CHECK_INT(pvs_identity_load_or_create(path, &c), ==, 0);
    CHECK(memcmp(a.public_key, c.public_key, 32) != 0);

    pvs_identity_wipe(&b);
    static const struct pvs_identity zero;
    CHECK(memcmp(&b, &zero, sizeof(b)) == 0);
    pvs_identity_wipe(NULL);
    pvs_identity_wipe(&a);
    pvs_identity_wipe(&c);
    unlink(path);
}

#ifndef _WIN32
static void test_refused(void)
{
    char path[700];
    struct pvs_identity id;
    path_of(path, sizeof(path), "key");
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    pvs_identity_wipe(&id);

    /* Readable by others: refused, and the message gives the command. */
    CHECK_INT(chmod(path, 0644), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    char fix[800];
    snprintf(fix, sizeof(fix), "chmod 600 %s", path);
    CHECK(said(fix));
    static const struct pvs_identity zero;
    CHECK(memcmp(&id, &zero, sizeof(id)) == 0);
    CHECK_INT(chmod(path, 0620), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK(said(fix));
    CHECK_INT(chmod(path, 0600), ==, 0);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);

    /* Owned by someone else: only root can arrange that. */
    if (geteuid() == 0) {
        CHECK_INT(chown(path, 65534, 65534), ==, 0);
        log_reset();
        CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
        CHECK(said("it belongs to another user"));
        CHECK_INT(chown(path, 0, 0), ==, 0);
    }

    /* Not a regular file, or a symbolic link to a good one. */
    char other[700];
    path_of(other, sizeof(other), "dirkey");
    CHECK_INT(mkdir(other, 0700), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(other, &id), ==, PVS_ECONFIG);
    CHECK(said("not a regular file"));
    rmdir(other);
    path_of(other, sizeof(other), "linkkey");
    CHECK_INT(symlink(path, other), ==, 0);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(other, &id), ==, PVS_ECONFIG);
    CHECK(said("symbolic link"));
    unlink(other);
    unlink(path);
}
#else
static void test_refused(void)
{
    char path[700], fix[800];
    struct pvs_identity id;
    static const struct pvs_identity zero;
    path_of(path, sizeof(path), "key");
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    pvs_identity_wipe(&id);
    check_private(path, false);
    snprintf(fix, sizeof(fix), "icacls \"%s\" /inheritance:r /grant:r \"%%USERNAME%%:F\" "
             "/remove \"*S-1-1-0\"", path);

    /* Readable by Everyone: refused, and the message gives the command
     * (with /remove: the ACE is explicit, /inheritance:r would not drop it)
     * and the advice for a key others may have read. */
    if (loosen(path, FILE_GENERIC_READ, false)) {
        log_reset();
        CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
        CHECK(said(fix));
        CHECK(said("S-1-1-0"));
        CHECK(said("read it"));
        CHECK(said("delete the file to make a new key"));
        CHECK(memcmp(&id, &zero, sizeof(id)) == 0);
    } else {
        skip_note("key file readable by Everyone", "the Everyone ACE set with "
                  "SetSecurityInfo does not show in the DACL read back");
    }
    /* Writable by Everyone: "change". */
    unlink(path);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    pvs_identity_wipe(&id);
    if (loosen(path, FILE_GENERIC_WRITE, false)) {
        log_reset();
        CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
        CHECK(said("change it"));
    } else {
        skip_note("key file writable by Everyone", "the Everyone ACE set with "
                  "SetSecurityInfo does not show in the DACL read back");
    }
    /* No DACL at all: everyone may do anything. */
    unlink(path);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    pvs_identity_wipe(&id);
    int null_kept = loosen(path, 0, true);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    if (null_kept) {
        CHECK(said("NULL DACL") || said("keeps no permissions"));
    } else if (wine_version()) {
        /* Wine turned it into mode bits: refused all the same, as Everyone's. */
        CHECK(said("S-1-1-0"));
        skip_note("NULL DACL", "Wine keeps no NULL DACL (it becomes Unix mode bits, "
                  "read back as an Everyone ACE); checked that refusal instead");
    } else {
        CHECK(null_kept);  /* Windows keeps a NULL DACL on NTFS */
    }
    unlink(path);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    pvs_identity_wipe(&id);

    /* Not a regular file. */
    char other[700];
    path_of(other, sizeof(other), "dirkey");
    CHECK(CreateDirectoryA(other, NULL));
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(other, &id), ==, PVS_ECONFIG);
    CHECK(said("not a regular file"));
    RemoveDirectoryA(other);

    /* A symbolic link to a good file is refused, not followed. Creating one
     * takes a privilege or Developer Mode on Windows. */
    path_of(other, sizeof(other), "linkkey");
    wchar_t wl[700], wt[700];
    MultiByteToWideChar(CP_UTF8, 0, other, -1, wl, 700);
    MultiByteToWideChar(CP_UTF8, 0, path, -1, wt, 700);
    for (wchar_t *c = wt; *c; c++)
        if (*c == L'/')
            *c = L'\\';
    DWORD la;
    if (!CreateSymbolicLinkW(wl, wt, 0x2 /* ALLOW_UNPRIVILEGED_CREATE */)) {
        char why[200];
        snprintf(why, sizeof(why), "CreateSymbolicLinkW failed (error %lu): no privilege "
                 "to make links here", (unsigned long)GetLastError());
        skip_note("symbolic link", why);
    } else if ((la = GetFileAttributesW(wl)) == INVALID_FILE_ATTRIBUTES ||
               !(la & FILE_ATTRIBUTE_REPARSE_POINT)) {
        /* Wine 8's CreateSymbolicLinkW is a stub that makes nothing. */
        skip_note("symbolic link", la == INVALID_FILE_ATTRIBUTES
                  ? "CreateSymbolicLinkW said it made the link, but there is nothing "
                    "there (Wine's is a stub)"
                  : "the link made is not shown as a reparse point");
        DeleteFileW(wl);
    } else {
        log_reset();
        CHECK_INT(pvs_identity_load_or_create(other, &id), ==, PVS_ECONFIG);
        CHECK(said("symbolic link"));
        DeleteFileW(wl);
    }
    unlink(path);
}
#endif

/* The file layer directly: a missing file is PVS_ENOENT, unlogged; an
 * exclusive write never replaces and says so with -EEXIST, unlogged; a
 * plain write replaces, privately. */
static void test_keyfile(void)
{
    char path[700];
    path_of(path, sizeof(path), "kf");
    unlink(path);
    char *text = (char *)1;
    size_t len = 1;
    log_reset();
    CHECK_INT(pvs_keyfile_read(path, "test file", false, 100, &text, &len), ==, PVS_ENOENT);
    CHECK(text == NULL && len == 0);
    char nodir[700];
    path_of(nodir, sizeof(nodir), "no-such-dir/kf");
    CHECK_INT(pvs_keyfile_read(nodir, "test file", false, 100, &text, &len), ==, PVS_ENOENT);
    CHECK_INT(g_errors, ==, 0);

    CHECK_INT(pvs_keyfile_write(path, "test file", "one\n", 4, true), ==, 0);
    log_reset();
    CHECK_INT(pvs_keyfile_write(path, "test file", "two\n", 4, true), ==, -EEXIST);
    CHECK_INT(g_errors, ==, 0);
    CHECK(!has_tmp_files(g_dir));
    CHECK_INT(pvs_keyfile_read(path, "test file", false, 100, &text, &len), ==, 0);
    CHECK(text && len == 4 && strcmp(text, "one\n") == 0);
    pvs_keyfile_free(text, len);
    pvs_keyfile_free(NULL, 0);

    CHECK_INT(pvs_keyfile_write(path, "test file", "three\n", 6, false), ==, 0);
    CHECK_INT(pvs_keyfile_read(path, "test file", false, 100, &text, &len), ==, 0);
    CHECK(text && len == 6 && strcmp(text, "three\n") == 0);
    pvs_keyfile_free(text, len);
#ifdef _WIN32
    check_private(path, false);
#else
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
#endif
    /* Larger than allowed. */
    log_reset();
    CHECK_INT(pvs_keyfile_read(path, "test file", false, 5, &text, &len), ==, PVS_ECONFIG);
    CHECK(said("more than the 5"));
    unlink(path);
}

static void test_malformed_key(void)
{
    char path[700];
    path_of(path, sizeof(path), "bad.key");
    struct pvs_identity good, id;
    char pub[65], sec[65], text[512];
    crypto_kx_keypair(good.public_key, good.secret_key);
    sodium_bin2hex(pub, sizeof(pub), good.public_key, 32);
    sodium_bin2hex(sec, sizeof(sec), good.secret_key, 32);

    /* Comments, blank lines, CRLF, any order, upper case: fine. */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(pub[i] >= 'a' && pub[i] <= 'f' ? pub[i] - 32 : pub[i]);
    snprintf(text, sizeof(text), "# mine\r\n\r\nsecret %s\r\n  public\t%s\n", sec, upper);
    write_file(path, text, 0600);
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, 0);
    CHECK(memcmp(id.public_key, good.public_key, 32) == 0);
    CHECK(memcmp(id.secret_key, good.secret_key, 32) == 0);

    /* Each malformed file is refused, naming the line (or what is missing). */
#define BAD_KEY(fmt, what)                                                    \
    do {                                                                      \
        snprintf(text, sizeof(text), fmt, pub, sec);                          \
        write_file(path, text, 0600);                                         \
        log_reset();                                                          \
        CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);   \
        CHECK(said(what));                                                    \
    } while (0)
    BAD_KEY("public %s\nsecret %s\ngarbage\n", "line 3");
    BAD_KEY("public %s\nsecret %.63s\n", "line 2");
    BAD_KEY("public %s\nsecret %sff\n", "line 2");
    BAD_KEY("public %s extra\nsecret %s\n", "line 1");
    BAD_KEY("pub %s\nsecret %s\n", "line 1");
    BAD_KEY("public %s\n%s\n", "line 2");
    BAD_KEY("public %s\npublic %s\n", "line 2");
    BAD_KEY("public %s\n# secret %s\n", "no \"secret\" line");
    BAD_KEY("# %s %s\n", "no \"public\" line");
#undef BAD_KEY
    /* A non-hex digit, and a public key that is not the secret's. */
    snprintf(text, sizeof(text), "public %s\nsecret %s\n", pub, sec);
    text[7] = 'g';
    write_file(path, text, 0600);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK(said("line 1"));
    snprintf(text, sizeof(text), "public %s\nsecret %s\n", pub, sec);
    text[7] = text[7] == '0' ? '1' : '0';
    write_file(path, text, 0600);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK(said("not the one its secret key gives"));
    /* Far too large. */
    char *big = malloc(10000);
    memset(big, '#', 9999);
    big[9999] = '\0';
    write_file(path, big, 0600);
    free(big);
    log_reset();
    CHECK_INT(pvs_identity_load_or_create(path, &id), ==, PVS_ECONFIG);
    CHECK_INT(g_errors, ==, 1);
    unlink(path);
    pvs_identity_wipe(&good);
}

static struct pvs_peer make_peer(const char *name, uint8_t fill, int64_t t)
{
    struct pvs_peer p;
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", name);
    memset(p.public_key, fill, sizeof(p.public_key));
    p.paired_at = t;
    return p;
}

static void test_peers(void)
{
    char path[700];
    path_of(path, sizeof(path), PVS_PEERS_FILE);
    struct pvs_peer *list = (struct pvs_peer *)1;
    int n = -1;

    /* Missing: an empty list. */
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK(list == NULL);
    CHECK_INT(n, ==, 0);
    CHECK_INT(pvs_peers_remove(path, "nobody"), ==, PVS_ENOENT);

    struct pvs_peer a = make_peer("laptop", 0xa1, 1700000000);
    struct pvs_peer b = make_peer("desk-pc.home", 0xb2, 1700000001);
    struct pvs_peer c = make_peer("~odd!name", 0xc3, 0);
    CHECK_INT(pvs_peers_add(path, &a), ==, 0);
    CHECK_INT(pvs_peers_add(path, &b), ==, 0);
    CHECK_INT(pvs_peers_add(path, &c), ==, 0);
#ifdef _WIN32
    check_private(path, false);
#else
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
#endif

    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 3);
    const struct pvs_peer *f = pvs_peers_find_key(list, n, b.public_key);
    CHECK(f != NULL);
    if (f) {
        CHECK(strcmp(f->name, "desk-pc.home") == 0);
        CHECK_INT(f->paired_at, ==, 1700000001);
    }
    f = pvs_peers_find_key(list, n, c.public_key);
    CHECK(f && strcmp(f->name, "~odd!name") == 0 && f->paired_at == 0);
    uint8_t unknown[32];
    memset(unknown, 0xa1, sizeof(unknown));
    unknown[31] = 0;
    CHECK(pvs_peers_find_key(list, n, unknown) == NULL);
    CHECK(pvs_peers_find_key(NULL, 0, unknown) == NULL);
    pvs_peers_free(&list);
    CHECK(list == NULL);
    pvs_peers_free(&list);
    pvs_peers_free(NULL);

    /* Same name, new key: replaced. Same key, new name: replaced. */
    struct pvs_peer a2 = make_peer("laptop", 0xd4, 1800000000);
    struct pvs_peer b2 = make_peer("study", 0xb2, 1800000001);
    CHECK_INT(pvs_peers_add(path, &a2), ==, 0);
    CHECK_INT(pvs_peers_add(path, &b2), ==, 0);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 3);
    CHECK(pvs_peers_find_key(list, n, a.public_key) == NULL);
    f = pvs_peers_find_key(list, n, a2.public_key);
    CHECK(f && strcmp(f->name, "laptop") == 0 && f->paired_at == 1800000000);
    f = pvs_peers_find_key(list, n, b.public_key);
    CHECK(f && strcmp(f->name, "study") == 0);
    for (int i = 0; i < n; i++)
        CHECK(strcmp(list[i].name, "desk-pc.home") != 0);
    pvs_peers_free(&list);

    /* Remove. */
    CHECK_INT(pvs_peers_remove(path, "study"), ==, 0);
    CHECK_INT(pvs_peers_remove(path, "study"), ==, PVS_ENOENT);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 2);
    CHECK(pvs_peers_find_key(list, n, b.public_key) == NULL);
    CHECK(pvs_peers_find_key(list, n, c.public_key) != NULL);
    pvs_peers_free(&list);
    CHECK_INT(pvs_peers_remove(path, "laptop"), ==, 0);
    CHECK_INT(pvs_peers_remove(path, "~odd!name"), ==, 0);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 0);
    pvs_peers_free(&list);

    /* Bad names and times are refused before anything is written. */
    const char *bad_names[] = { "", "has space", "#hash", "tab\there", "\x7f",
        "caf\xc3\xa9", "1234567890123456789012345678901234567890123456789012345678901234" };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        struct pvs_peer p = make_peer("x", 1, 1);
        memset(p.name, 0, sizeof(p.name));
        memcpy(p.name, bad_names[i], strlen(bad_names[i]) < 63 ? strlen(bad_names[i]) : 63);
        if (strlen(bad_names[i]) >= 64)
            memset(p.name, 'n', sizeof(p.name));  /* no NUL at all */
        log_reset();
        CHECK_INT(pvs_peers_add(path, &p), ==, PVS_EINVAL);
    }
    struct pvs_peer neg = make_peer("neg", 5, -1);
    CHECK_INT(pvs_peers_add(path, &neg), ==, PVS_EINVAL);
    struct pvs_peer longest = make_peer(
        "123456789012345678901234567890123456789012345678901234567890123", 6, INT64_MAX);
    CHECK_INT(pvs_peers_add(path, &longest), ==, 0);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK(n == 1 && strlen(list[0].name) == 63 && list[0].paired_at == INT64_MAX);
    pvs_peers_free(&list);

    /* The file decides who may connect: the same rules as the key file. */
#ifdef _WIN32
    if (!loosen(path, FILE_GENERIC_READ, false)) {
        skip_note("peers file readable by Everyone", "the Everyone ACE set with "
                  "SetSecurityInfo does not show in the DACL read back");
        unlink(path);
        return;
    }
    char fix[800];
    snprintf(fix, sizeof(fix), "icacls \"%s\" /inheritance:r /grant:r \"%%USERNAME%%:F\"",
             path);
#else
    CHECK_INT(chmod(path, 0604), ==, 0);
    char fix[800];
    snprintf(fix, sizeof(fix), "chmod 600 %s", path);
#endif
    log_reset();
    list = (struct pvs_peer *)1;
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, PVS_ECONFIG);
    CHECK(list == NULL && n == 0);
    CHECK(said(fix));
    CHECK_INT(pvs_peers_add(path, &a), ==, PVS_ECONFIG);
#ifndef _WIN32
    CHECK_INT(chmod(path, 0600), ==, 0);
#endif
    unlink(path);
}

static void test_peers_malformed(void)
{
    char path[700];
    path_of(path, sizeof(path), "peers.bad");
    const char *k1 = "0101010101010101010101010101010101010101010101010101010101010101";
    const char *k2 = "0202020202020202020202020202020202020202020202020202020202020202";
    char text[1024];

    /* Comments, blank lines, tabs and CRLF are fine. */
    snprintf(text, sizeof(text), "# hand-edited\n\nalpha %s 5\r\n\tbeta\t%s  7\n", k1, k2);
    write_file(path, text, 0600);
    struct pvs_peer *list;
    int n;
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    CHECK_INT(n, ==, 2);
    if (n == 2) {
        CHECK(strcmp(list[1].name, "beta") == 0 && list[1].paired_at == 7);
        CHECK(list[1].public_key[0] == 2 && list[1].public_key[31] == 2);
    }
    pvs_peers_free(&list);

#define BAD_PEERS(fmt, what)                                                  \
    do {                                                                      \
        snprintf(text, sizeof(text), fmt, k1, k2);                            \
        write_file(path, text, 0600);                                         \
        log_reset();                                                          \
        list = (struct pvs_peer *)1;                                          \
        CHECK_INT(pvs_peers_load(path, &list, &n), ==, PVS_ECONFIG);          \
        CHECK(list == NULL && n == 0);                                        \
        CHECK(said(what));                                                    \
    } while (0)
    BAD_PEERS("alpha %s 5\nbeta %s\n", "line 2");
    BAD_PEERS("alpha %s 5\nbeta %s 7 extra\n", "line 2");
    BAD_PEERS("alpha %.62s 5\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s -5\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s 5x\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s 99999999999999999999\nbeta %s 7\n", "line 1");
    BAD_PEERS("\n\nalpha %s 5\nalpha %s 7\n", "line 4");
    BAD_PEERS("alpha %s 5\nbeta %s 7\ngamma 0202020202020202020202020202020202020202"
              "020202020202020202020202 1\n", "line 3");
    BAD_PEERS("al\x01pha %s 5\nbeta %s 7\n", "line 1");
    BAD_PEERS("alpha %s 5\nbeta %s 7\nhttps://x\n", "line 3");
#undef BAD_PEERS
    unlink(path);
}

static void test_fingerprint(void)
{
    uint8_t k1[32], k2[32];
    memset(k1, 0, sizeof(k1));
    memcpy(k2, k1, sizeof(k2));
    k2[31] = 1;
    char f1[PVS_FINGERPRINT_CHARS], f1b[PVS_FINGERPRINT_CHARS], f2[PVS_FINGERPRINT_CHARS];
    pvs_fingerprint(k1, f1);
    pvs_fingerprint(k1, f1b);
    pvs_fingerprint(k2, f2);
    CHECK(strcmp(f1, f1b) == 0);
    CHECK(strcmp(f1, f2) != 0);
    CHECK_INT(strlen(f1), ==, PVS_FINGERPRINT_CHARS - 1);
    for (int i = 0; i < PVS_FINGERPRINT_CHARS - 1; i++) {
        if (i % 5 == 4)
            CHECK(f1[i] == ':');
        else
            CHECK((f1[i] >= '0' && f1[i] <= '9') || (f1[i] >= 'a' && f1[i] <= 'f'));
    }
    /* Exactly the documented derivation, recomputed. */
    uint8_t msg[18 + 32], h[32];
    memcpy(msg, "PVS-fingerprint-v1", 18);
    memcpy(msg + 18, k2, 32);
    crypto_generichash(h, sizeof(h), msg, sizeof(msg), NULL, 0);
    char want[PVS_FINGERPRINT_CHARS], *o = want;
    for (int i = 0; i < 20; i++)
        o += sprintf(o, "%s%02x", i && i % 2 == 0 ? ":" : "", h[i]);
    CHECK(strcmp(f2, want) == 0);
}

#ifdef _WIN32
/* Deletes a directory tree (no links are left in ours). */
static void rm_rf_dir(const char *dir)
{
    wchar_t w[700];
    MultiByteToWideChar(CP_UTF8, 0, dir, -1, w, 690);
    wchar_t pattern[720];
    _snwprintf(pattern, 720, L"%ls\\*", w);
    pattern[719] = L'\0';
    WIN32_FIND_DATAW fd;
    HANDLE f = FindFirstFileW(pattern, &fd);
    if (f != INVALID_HANDLE_VALUE) {
        do {
            if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
                continue;
            char name[700], sub[1400];
            WideCharToMultiByte(CP_UTF8, 0, fd.cFileName, -1, name, sizeof(name), NULL, NULL);
            snprintf(sub, sizeof(sub), "%s\\%s", dir, name);
            wchar_t ws[1400];
            MultiByteToWideChar(CP_UTF8, 0, sub, -1, ws, 1400);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                rm_rf_dir(sub);
            else
                DeleteFileW(ws);
        } while (FindNextFileW(f, &fd));
        FindClose(f);
    }
    RemoveDirectoryW(w);
}

/* A new private directory under %TEMP%, made by pvstream itself. */
static bool make_test_dir(void)
{
    char tmp[MAX_PATH + 1];
    DWORD n = GetTempPathA(sizeof(tmp), tmp);
    if (n == 0 || n > MAX_PATH)
        return false;
    snprintf(g_dir, sizeof(g_dir), "%spvs-identity-%08lx%08lx", tmp,
             (unsigned long)GetCurrentProcessId(), (unsigned long)randombytes_random());
    env_set("PVS_CONFIG_DIR", g_dir);
    char buf[600];
    return pvs_identity_dir(buf, sizeof(buf)) == 0;
}
#else
static int rm_rf_dir(const char *dir)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static bool make_test_dir(void)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof(g_dir), "%s/pvs-identity-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return false;
    }
    env_set("PVS_CONFIG_DIR", g_dir);
    return true;
}
#endif

int main(void)
{
    if (sodium_init() < 0)
        TEST_SKIP("libsodium cannot initialize");
#ifdef _WIN32
    HANDLE token;
    DWORD ul;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token) ||
        !GetTokenInformation(token, TokenUser, &g_user, sizeof(g_user), &ul)) {
        fprintf(stderr, "cannot read the process token: error %lu\n",
                (unsigned long)GetLastError());
        return 1;
    }
    CloseHandle(token);
    if (wine_version())
        printf("running under Wine %s\n", wine_version());
#endif
    if (!make_test_dir()) {
        fprintf(stderr, "cannot make a temporary directory\n");
        return 1;
    }
    pvs_log_set_sink(sink, NULL);
    RUN(test_dir);
    RUN(test_create_and_load);
    RUN(test_refused);
    RUN(test_keyfile);
    RUN(test_malformed_key);
    RUN(test_peers);
    RUN(test_peers_malformed);
    RUN(test_fingerprint);
    pvs_log_set_sink(NULL, NULL);
    rm_rf_dir(g_dir);
    TEST_EXIT();
}
