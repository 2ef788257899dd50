/* Key files on Windows (keyfile.h): what keyfile_posix.c does with owners
 * and mode bits, done with owners and DACLs.
 *
 * "Ours" means owned by the user the process runs as; for LocalSystem (a
 * service) SYSTEM or BUILTIN\Administrators, the two that own what services
 * and installers make. A file is private when no allow ACE gives anyone but
 * the owner, SYSTEM and Administrators its data or a right to change it:
 * Administrators can take any file anyway, and a file in a fresh %APPDATA%
 * inherits exactly those three, so hand-made files pass. What pvstream
 * writes is stricter: owner set explicitly, a protected DACL (nothing
 * inherited) with full control for the user alone (for LocalSystem: SYSTEM
 * and Administrators).
 *
 * Files are checked on the handle that is then read (opened with
 * FILE_FLAG_OPEN_REPARSE_POINT, so a link is seen, not followed), so what was
 * checked is what is read. Buffers that held file text are wiped before they
 * are freed: it may be a secret key.
 *
 * Only Windows APIs (advapi32, which mingw-w64 links by default), no
 * libsodium: the platform layer stays free of the crypto library. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <aclapi.h>
#include <ntsecapi.h> /* RtlGenRandom */
#include <sddl.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"

/* Rights that reveal a file's data (FILE_EXECUTE too: mapping a file for
 * execution reads it) and rights that change it, its attributes, its name
 * or who may do so. */
#define READ_RIGHTS (FILE_READ_DATA | FILE_EXECUTE | GENERIC_READ | GENERIC_EXECUTE | \
                     GENERIC_ALL | MAXIMUM_ALLOWED)
#define WRITE_RIGHTS (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA |            \
                      FILE_WRITE_ATTRIBUTES | DELETE | WRITE_DAC | WRITE_OWNER |      \
                      GENERIC_WRITE | GENERIC_ALL | MAXIMUM_ALLOWED)

/* The fix the messages give for a user; for LocalSystem the two SIDs. */
#define GRANT_USER "\"%USERNAME%:F\""
#define GRANT_SYSTEM "\"*S-1-5-18:F\" \"*S-1-5-32-544:F\""
#define OWNER_USER "\"%USERNAME%\""
#define OWNER_SYSTEM "\"*S-1-5-18\""

/* log.h checks formats as the Microsoft CRT's printf, which has no %zu:
 * sizes are printed as unsigned long long. */

/* ---- text ----------------------------------------------------------------- */

/* Windows' text for an error code, as UTF-8 (FormatMessageA would give the
 * ANSI code page), without its trailing newline and full stop. */
static const char *win_text(DWORD err, char *buf, size_t len)
{
    wchar_t w[256];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                             NULL, err, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), w,
                             (DWORD)(sizeof(w) / sizeof(w[0])), NULL);
    while (n > 0 && (w[n - 1] == L'\r' || w[n - 1] == L'\n' || w[n - 1] == L'.' ||
                     w[n - 1] == L' '))
        n--;
    int m = n ? WideCharToMultiByte(CP_UTF8, 0, w, (int)n, buf, (int)len - 1, NULL, NULL)
              : 0;
    if (m <= 0)
        snprintf(buf, len, "error %lu", (unsigned long)err);
    else
        buf[m] = '\0';
    return buf;
}

#define WIN_TEXT(err) win_text((DWORD)(err), (char[256]){0}, 256)

/* A Windows error as a negated errno where one fits. */
static int win_err(DWORD err)
{
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return PVS_ENOENT;
    case ERROR_ACCESS_DENIED:
        return -EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return -EEXIST;
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
        return -EBUSY;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return PVS_ENOMEM;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return -ENOSPC;
    case ERROR_WRITE_PROTECT:
        return -EROFS;
    case ERROR_FILENAME_EXCED_RANGE:
        return -ENAMETOOLONG;
    case ERROR_INVALID_NAME:
    case ERROR_BAD_PATHNAME:
    case ERROR_DIRECTORY:
        return PVS_EINVAL;
    default:
        return PVS_EIO;
    }
}

/* UTF-8 to a malloc'd UTF-16 string with '/' turned into '\' (the "\\?\"
 * form takes no '/', and no Windows file name holds one). NULL when the text
 * is not valid UTF-8 or memory runs out: *rc says which. */
static wchar_t *widen(const char *s, int *rc)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) {
        *rc = PVS_EINVAL;
        return NULL;
    }
    wchar_t *w = malloc(sizeof(*w) * (size_t)n);
    if (!w) {
        *rc = PVS_ENOMEM;
        return NULL;
    }
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
    for (wchar_t *p = w; *p; p++)
        if (*p == L'/')
            *p = L'\\';
    *rc = 0;
    return w;
}

static wchar_t *widen_logged(const char *path, const char *what, int *rc)
{
    wchar_t *w = widen(path, rc);
    if (!w && *rc == PVS_EINVAL)
        PVS_LOG_E("the %s path %s is not valid UTF-8: pvstream takes UTF-8 paths; "
                  "give the path as UTF-8 text", what, path);
    return w;
}

/* An environment variable as malloc'd UTF-8 (getenv would give the ANSI
 * code page, and a copy the CRT took at start-up). NULL when unset or
 * empty, or when memory runs out. */
static char *env_utf8(const wchar_t *name)
{
    DWORD n = GetEnvironmentVariableW(name, NULL, 0);
    if (n <= 1)
        return NULL;
    wchar_t *w = malloc(sizeof(*w) * n);
    char *s = NULL;
    if (w && GetEnvironmentVariableW(name, w, n) == n - 1) {
        int m = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
        s = m > 1 ? malloc((size_t)m) : NULL;
        if (s)
            WideCharToMultiByte(CP_UTF8, 0, w, -1, s, m, NULL, NULL);
    }
    free(w);
    return s;
}

static bool is_sep(char c)
{
    return c == '/' || c == '\\';
}

/* ---- who we are ----------------------------------------------------------- */

union sid_buf {
    SID sid;
    BYTE bytes[SECURITY_MAX_SID_SIZE];
};

struct who {
    union {
        TOKEN_USER tu;
        BYTE bytes[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
    } user;
    union sid_buf system, admins, owner_rights;
    bool is_system;  /* running as LocalSystem */
    bool for_service;/* an administrator working in the service's store */
};

/* pvs_keyfile_use_service_store() was called. */
static bool service_store;

/* The service's rules apply: LocalSystem itself, or an administrator
 * working in its store. */
static bool service_rules(const struct who *w)
{
    return w->is_system || w->for_service;
}

static PSID who_user(struct who *w)
{
    return w->user.tu.User.Sid;
}

static int who_am_i(struct who *w)
{
    HANDLE token;
    DWORD n = 0;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        DWORD e = GetLastError();
        PVS_LOG_E("cannot tell which user pvstream runs as (OpenProcessToken): %s",
                  WIN_TEXT(e));
        return PVS_EEXTERNAL;
    }
    BOOL ok = GetTokenInformation(token, TokenUser, &w->user, sizeof(w->user), &n);
    DWORD e = GetLastError();
    CloseHandle(token);
    if (!ok) {
        PVS_LOG_E("cannot tell which user pvstream runs as (GetTokenInformation): %s",
                  WIN_TEXT(e));
        return PVS_EEXTERNAL;
    }
    DWORD a = sizeof(w->system), b = sizeof(w->admins), c = sizeof(w->owner_rights);
    if (!CreateWellKnownSid(WinLocalSystemSid, NULL, &w->system, &a) ||
        !CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, &w->admins, &b) ||
        !CreateWellKnownSid(WinCreatorOwnerRightsSid, NULL, &w->owner_rights, &c)) {
        e = GetLastError();
        PVS_LOG_E("cannot make the well-known SIDs (CreateWellKnownSid): %s", WIN_TEXT(e));
        return PVS_EEXTERNAL;
    }
    w->is_system = EqualSid(who_user(w), &w->system) != 0;
    w->for_service = service_store && !w->is_system;
    return 0;
}

/* Whether this process runs elevated (an administrator's full token). */
static bool elevated(void)
{
    HANDLE token;
    TOKEN_ELEVATION te = { 0 };
    DWORD n = 0;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return false;
    BOOL ok = GetTokenInformation(token, TokenElevation, &te, sizeof(te), &n);
    CloseHandle(token);
    return ok && te.TokenIsElevated;
}

int pvs_keyfile_use_service_store(void)
{
    if (!elevated()) {
        PVS_LOG_E("the pvstream service keeps its keys and paired clients where only "
                  "administrators may write: run this from an elevated Command Prompt "
                  "(\"Run as administrator\")");
        return PVS_ECONFIG;
    }
    service_store = true;
    return 0;
}

/* "DOMAIN\name (S-1-...)" or just the SID, for messages. */
static void sid_text(PSID sid, char *buf, size_t len)
{
    wchar_t name[128], domain[128];
    DWORD nn = 128, dn = 128;
    SID_NAME_USE use;
    char *str = NULL;
    wchar_t *wstr = NULL;
    char n8[400] = "";
    if (ConvertSidToStringSidW(sid, &wstr)) {
        int m = WideCharToMultiByte(CP_UTF8, 0, wstr, -1, NULL, 0, NULL, NULL);
        str = m > 0 ? malloc((size_t)m) : NULL;
        if (str)
            WideCharToMultiByte(CP_UTF8, 0, wstr, -1, str, m, NULL, NULL);
        LocalFree(wstr);
    }
    if (LookupAccountSidW(NULL, sid, name, &nn, domain, &dn, &use)) {
        wchar_t full[260];
        if (domain[0])
            _snwprintf(full, 260, L"%ls\\%ls", domain, name);
        else
            _snwprintf(full, 260, L"%ls", name);
        full[259] = L'\0';
        if (WideCharToMultiByte(CP_UTF8, 0, full, -1, n8, (int)sizeof(n8), NULL, NULL) <= 0)
            n8[0] = '\0';
    }
    if (n8[0] && str)
        snprintf(buf, len, "%s (%s)", n8, str);
    else
        snprintf(buf, len, "%s", n8[0] ? n8 : str ? str : "an unknown SID");
    free(str);
}

/* ---- private security descriptors ----------------------------------------- */

struct private_sd {
    SECURITY_DESCRIPTOR sd;
    union {
        ACL acl;
        BYTE bytes[sizeof(ACL) + 2 * (sizeof(ACCESS_ALLOWED_ACE) + SECURITY_MAX_SID_SIZE)];
    } dacl;
    SECURITY_ATTRIBUTES sa;
};

/* Owned by the user, full control for the user alone (the service's
 * store: SYSTEM and Administrators), nothing inherited from the parent; a
 * directory's ACEs are inherited by what is made in it. The owner is set,
 * not left to the token's default, which for an elevated administrator is
 * the Administrators group; in the service's store an administrator makes
 * files owned by that group (only SYSTEM itself may own by SYSTEM). */
static int private_sd_init(struct private_sd *p, struct who *w, bool dir)
{
    DWORD flags = dir ? OBJECT_INHERIT_ACE | CONTAINER_INHERIT_ACE : 0;
    PSID owner = w->is_system ? (PSID)&w->system : w->for_service ? (PSID)&w->admins : who_user(w);
    PSID first = service_rules(w) ? (PSID)&w->system : who_user(w);
    bool ok = InitializeAcl(&p->dacl.acl, sizeof(p->dacl), ACL_REVISION) &&
              AddAccessAllowedAceEx(&p->dacl.acl, ACL_REVISION, flags, FILE_ALL_ACCESS,
                                    first) &&
              (!service_rules(w) || AddAccessAllowedAceEx(&p->dacl.acl, ACL_REVISION, flags,
                                                          FILE_ALL_ACCESS, &w->admins)) &&
              InitializeSecurityDescriptor(&p->sd, SECURITY_DESCRIPTOR_REVISION) &&
              SetSecurityDescriptorOwner(&p->sd, owner, FALSE) &&
              SetSecurityDescriptorDacl(&p->sd, TRUE, &p->dacl.acl, FALSE) &&
              SetSecurityDescriptorControl(&p->sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED);
    if (!ok) {
        DWORD e = GetLastError();
        PVS_LOG_E("cannot build a private security descriptor: %s", WIN_TEXT(e));
        return PVS_EEXTERNAL;
    }
    p->sa.nLength = sizeof(p->sa);
    p->sa.lpSecurityDescriptor = &p->sd;
    p->sa.bInheritHandle = FALSE;
    return 0;
}

/* ---- directories ---------------------------------------------------------- */

/* Where the first component that can be made starts: after "C:\", "\",
 * "\\server\share\", "\\?\C:\" or "\\?\UNC\server\share\". */
static size_t root_len(const char *p)
{
    size_t i = 0;
    if (is_sep(p[0]) && is_sep(p[1]) && (p[2] == '?' || p[2] == '.') && is_sep(p[3])) {
        i = 4;
        if (strncmp(p + i, "UNC", 3) == 0 && is_sep(p[i + 3])) {
            i += 4;
            goto server_share;
        }
    } else if (is_sep(p[0]) && is_sep(p[1])) {
        i = 2;
        goto server_share;
    }
    if (p[i] && p[i + 1] == ':')
        i += 2;
    while (is_sep(p[i]))
        i++;
    return i;
server_share:
    for (int parts = 0; parts < 2 && p[i]; parts++) {
        while (p[i] && !is_sep(p[i]))
            i++;
        while (is_sep(p[i]))
            i++;
    }
    return i;
}

static bool is_dir(const char *path)
{
    int rc;
    wchar_t *w = widen(path, &rc);
    if (!w)
        return false;
    DWORD a = GetFileAttributesW(w);
    free(w);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

/* mkdir -p, each directory it makes private (private_sd_init). */
static int make_dirs(const char *path, struct who *w)
{
    struct private_sd psd;
    int rc = private_sd_init(&psd, w, true);
    if (rc)
        return rc;
    char *p = strdup(path);
    if (!p)
        return PVS_ENOMEM;
    for (char *s = p + root_len(p);; s++) {
        bool last = *s == '\0';
        if (!is_sep(*s) && !last)
            continue;
        char c = *s;
        *s = '\0';
        /* Existing parents (C:\Users) are left alone: asking to create one
         * can fail with "access denied" rather than "already exists". */
        if (s > p && !is_sep(s[-1]) && !is_dir(p)) {
            wchar_t *wp = widen(p, &rc);
            if (!wp)
                break;
            if (!CreateDirectoryW(wp, &psd.sa) && GetLastError() != ERROR_ALREADY_EXISTS) {
                DWORD e = GetLastError();
                rc = win_err(e);
                PVS_LOG_E("cannot create the configuration directory %s (making %s): "
                          "%s; create it yourself or set PVS_CONFIG_DIR to another "
                          "directory", path, p, WIN_TEXT(e));
            }
            free(wp);
            if (rc)
                break;
        }
        *s = c;
        if (last)
            break;
    }
    free(p);
    if (rc)
        return rc;
    if (!is_dir(path)) {
        PVS_LOG_E("the configuration directory %s is not a directory: move the file "
                  "away or set PVS_CONFIG_DIR to another directory", path);
        return PVS_ECONFIG;
    }
    return 0;
}

int pvs_keyfile_dir(char *buf, size_t len)
{
    if (!buf || len == 0)
        return PVS_EINVAL;
    buf[0] = '\0';
    struct who w;
    int rc = who_am_i(&w);
    if (rc)
        return rc;
    char *v;
    int n;
    if ((v = env_utf8(L"PVS_CONFIG_DIR"))) {
        n = snprintf(buf, len, "%s", v);
    } else if (service_rules(&w) && (v = env_utf8(L"ProgramData"))) {
        /* A service's %APPDATA% is under C:\Windows\System32: not a place
         * for data of ours. */
        n = snprintf(buf, len, "%s\\pvstream", v);
    } else if (!service_rules(&w) && (v = env_utf8(L"APPDATA"))) {
        n = snprintf(buf, len, "%s\\pvstream", v);
    } else {
        PVS_LOG_E("cannot find a configuration directory: %s is not set; set "
                  "PVS_CONFIG_DIR to the directory pvstream should keep its keys in",
                  service_rules(&w) ? "ProgramData" : "APPDATA");
        return PVS_ECONFIG;
    }
    free(v);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        PVS_LOG_E("the configuration directory's path is too long (%d bytes, room "
                  "for %llu)", n, (unsigned long long)(len - 1));
        return PVS_ERANGE;
    }
    size_t root = root_len(buf);
    while ((size_t)n > root && n > 1 && is_sep(buf[n - 1]))
        buf[--n] = '\0';
    return make_dirs(buf, &w);
}

/* ---- reading a trusted file ----------------------------------------------- */

/* Whether `sid` may own or hold rights on one of our files. */
static bool trusted_owner(struct who *w, PSID sid)
{
    if (service_rules(w))
        return EqualSid(sid, &w->system) || EqualSid(sid, &w->admins);
    return EqualSid(sid, who_user(w));
}

/* The SID and mask of an allow ACE, or false for ACEs that grant nothing
 * (deny, audit, labels). Object ACEs, which files do not use, are treated
 * as granting their mask to someone unknown. */
static bool allow_ace(const ACE_HEADER *h, PSID *sid, ACCESS_MASK *mask)
{
    switch (h->AceType) {
    case ACCESS_ALLOWED_ACE_TYPE:
    case ACCESS_ALLOWED_CALLBACK_ACE_TYPE: {
        const ACCESS_ALLOWED_ACE *a = (const ACCESS_ALLOWED_ACE *)h;
        *sid = (PSID)&a->SidStart;
        *mask = a->Mask;
        return true;
    }
    case ACCESS_ALLOWED_OBJECT_ACE_TYPE:
    case ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE:
        *sid = NULL;
        *mask = ((const ACCESS_ALLOWED_OBJECT_ACE *)h)->Mask;
        return true;
    default:
        return false;
    }
}

/* Refuses (PVS_ECONFIG, logged) a file not owned by us or whose DACL lets
 * anyone else read or change it. */
static int check_security(HANDLE h, struct who *w, const char *path, const char *what,
                          bool secret)
{
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD e = GetSecurityInfo(h, SE_FILE_OBJECT,
                              OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                              &owner, NULL, &dacl, NULL, &sd);
    if (e != ERROR_SUCCESS) {
        PVS_LOG_E("cannot read the permissions of the %s %s: %s", what, path, WIN_TEXT(e));
        return win_err(e);
    }
    const char *grant = service_rules(w) ? GRANT_SYSTEM : GRANT_USER;
    const char *secret_advice = secret ? " (if others could read it, the key may be "
                                         "known: delete the file to make a new key, "
                                         "then pair again)" : "";
    int rc = 0;
    char who_text[512], me_text[512];
    if (!owner || !trusted_owner(w, owner)) {
        if (owner)
            sid_text(owner, who_text, sizeof(who_text));
        else
            snprintf(who_text, sizeof(who_text), "nobody");
        sid_text(who_user(w), me_text, sizeof(me_text));
        PVS_LOG_E("the %s %s is refused: it belongs to another user (%s, you are %s); "
                  "run pvstream as its owner, or make it yours (as an administrator): "
                  "icacls \"%s\" /setowner %s", what, path, who_text, me_text, path,
                  service_rules(w) ? OWNER_SYSTEM : OWNER_USER);
        rc = PVS_ECONFIG;
        goto done;
    }
    if (!dacl) {
        /* No DACL: everyone has every right. FAT and exFAT drives keep no
         * permissions at all, which is the usual way to get here. */
        DWORD fs_flags = 0;
        bool no_acls = GetVolumeInformationByHandleW(h, NULL, 0, NULL, NULL, &fs_flags,
                                                     NULL, 0) &&
                       !(fs_flags & FILE_PERSISTENT_ACLS);
        if (no_acls)
            PVS_LOG_E("the %s %s is refused: its drive keeps no permissions (FAT or "
                      "exFAT), so anyone can read and change it; set PVS_CONFIG_DIR to "
                      "a directory on an NTFS drive%s", what, path, secret_advice);
        else
            PVS_LOG_E("the %s %s is refused: it has no access list (a NULL DACL), "
                      "which lets everyone read and change it; fix it with: icacls "
                      "\"%s\" /inheritance:r /grant:r %s%s", what, path, path, grant,
                      secret_advice);
        rc = PVS_ECONFIG;
        goto done;
    }
    /* Every allow ACE for anyone else that gives data or change rights; the
     * explicit ones must be removed by name, the inherited ones go with
     * /inheritance:r. Deny ACEs are not credited: a file that needs one to
     * be private is one edit away from not being. */
    char remove[512] = "";
    size_t rlen = 0;
    PSID first = NULL;  /* NULL with `found`: an object ACE's trustee */
    bool found = false, changes = false;
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        void *ace;
        PSID sid;
        ACCESS_MASK mask;
        if (!GetAce(dacl, i, &ace) || !allow_ace(ace, &sid, &mask))
            continue;
        const ACE_HEADER *hd = ace;
        if (hd->AceFlags & INHERIT_ONLY_ACE)
            continue;  /* applies to what a directory holds, not to it */
        if (sid && (EqualSid(sid, owner) || EqualSid(sid, &w->system) ||
                    EqualSid(sid, &w->admins) || EqualSid(sid, &w->owner_rights)))
            continue;
        if (!(mask & (READ_RIGHTS | WRITE_RIGHTS)))
            continue;
        if (!found) {
            found = true;
            first = sid;
        }
        changes |= (mask & WRITE_RIGHTS) != 0;
        if (sid && !(hd->AceFlags & INHERITED_ACE)) {
            wchar_t *ws = NULL;
            if (ConvertSidToStringSidW(sid, &ws)) {
                int k = snprintf(remove + rlen, sizeof(remove) - rlen, "%s\"*%ls\"",
                                 rlen ? " " : " /remove ", ws);
                if (k > 0 && (size_t)k < sizeof(remove) - rlen)
                    rlen += (size_t)k;
                remove[rlen] = '\0';
                LocalFree(ws);
            }
        }
    }
    if (found) {
        if (first)
            sid_text(first, who_text, sizeof(who_text));
        else
            snprintf(who_text, sizeof(who_text), "an object ACE's trustee");
        PVS_LOG_E("the %s %s is refused: its permissions let %s %s it; fix them "
                  "with: icacls \"%s\" /inheritance:r /grant:r %s%s%s", what, path,
                  who_text, changes ? "change" : "read", path, grant, remove,
                  secret_advice);
        rc = PVS_ECONFIG;
    }
done:
    LocalFree(sd);
    return rc;
}

int pvs_keyfile_read(const char *path, const char *what, bool secret, size_t max,
                     char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    struct who w;
    int rc = who_am_i(&w);
    if (rc)
        return rc;
    wchar_t *wpath = widen_logged(path, what, &rc);
    if (!wpath)
        return rc;
    /* No FILE_SHARE_WRITE: nobody writes while we read. FILE_SHARE_DELETE:
     * a writer may still replace the name (we keep reading the old file). */
    HANDLE h = CreateFileW(wpath, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING,
                           FILE_FLAG_OPEN_REPARSE_POINT | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        DWORD attrs = GetFileAttributesW(wpath);
        free(wpath);
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
            return PVS_ENOENT;
        /* Opening a directory as a file is "access denied". */
        if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY)) {
            PVS_LOG_E("the %s %s is refused: it is not a regular file; move it away "
                      "and put a regular file there (readable only by you)", what, path);
            return PVS_ECONFIG;
        }
        PVS_LOG_E("cannot open the %s %s: %s", what, path, WIN_TEXT(e));
        return win_err(e);
    }
    free(wpath);
    char *buf = NULL;
    size_t n = 0;
    BY_HANDLE_FILE_INFORMATION fi;
    if (!GetFileInformationByHandle(h, &fi)) {
        DWORD e = GetLastError();
        rc = win_err(e);
        PVS_LOG_E("cannot read the attributes of the %s %s: %s", what, path, WIN_TEXT(e));
        goto done;
    }
    if (fi.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
        PVS_LOG_E("the %s %s is refused: it is a symbolic link (or another reparse "
                  "point); put the file itself there (owned by you, readable only by "
                  "you)", what, path);
        rc = PVS_ECONFIG;
        goto done;
    }
    if (GetFileType(h) != FILE_TYPE_DISK || (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        PVS_LOG_E("the %s %s is refused: it is not a regular file; move it away "
                  "and put a regular file there (readable only by you)", what, path);
        rc = PVS_ECONFIG;
        goto done;
    }
    rc = check_security(h, &w, path, what, secret);
    if (rc)
        goto done;
    uint64_t size = (uint64_t)fi.nFileSizeHigh << 32 | fi.nFileSizeLow;
    if (size > max) {
        PVS_LOG_E("the %s %s is refused: it is %llu bytes, more than the %llu a "
                  "valid one can have", what, path, (unsigned long long)size,
                  (unsigned long long)max);
        rc = PVS_ECONFIG;
        goto done;
    }
    /* Read to the end, not just `size` bytes: the size may change under us.
     * One byte more than `max` tells a file that grew too large. */
    buf = malloc(max + 2);
    if (!buf) {
        rc = PVS_ENOMEM;
        goto done;
    }
    while (n <= max) {
        DWORD want = (DWORD)(max + 1 - n > 65536 ? 65536 : max + 1 - n), got = 0;
        if (!ReadFile(h, buf + n, want, &got, NULL)) {
            DWORD e = GetLastError();
            rc = win_err(e);
            PVS_LOG_E("cannot read the %s %s: %s", what, path, WIN_TEXT(e));
            goto done;
        }
        if (got == 0)
            break;
        n += got;
    }
    if (n > max) {
        PVS_LOG_E("the %s %s is refused: it is more than the %llu bytes a valid one "
                  "can have", what, path, (unsigned long long)max);
        rc = PVS_ECONFIG;
        goto done;
    }
    buf[n] = '\0';
done:
    CloseHandle(h);
    if (rc) {
        if (buf)
            SecureZeroMemory(buf, max + 2);
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

void pvs_keyfile_free(char *buf, size_t len)
{
    if (buf)
        SecureZeroMemory(buf, len);
    free(buf);
}

/* ---- writing atomically --------------------------------------------------- */

static bool write_all(HANDLE h, const char *data, size_t len, DWORD *err)
{
    while (len) {
        DWORD chunk = len > 1u << 30 ? 1u << 30 : (DWORD)len, w = 0;
        if (!WriteFile(h, data, chunk, &w, NULL)) {
            *err = GetLastError();
            return false;
        }
        data += w;
        len -= w;
    }
    return true;
}

/* MoveFileExW, tried again for a moment when the target is busy: a reader
 * without FILE_SHARE_DELETE, or a virus scanner looking at the new file,
 * holds it only briefly. */
static bool move_file(const wchar_t *from, const wchar_t *to, DWORD flags, DWORD *err)
{
    for (int i = 0;; i++) {
        if (MoveFileExW(from, to, flags))
            return true;
        *err = GetLastError();
        if (i == 5 || (*err != ERROR_SHARING_VIOLATION && *err != ERROR_ACCESS_DENIED))
            return false;
        Sleep(10u << i);
    }
}

/* A random temporary name suffix, so that names are not guessed ahead of
 * us (CREATE_NEW already makes a clash harmless). */
static uint32_t random_u32(void)
{
    uint32_t v;
    if (!RtlGenRandom(&v, sizeof(v)))
        v = (uint32_t)GetTickCount64() * 2654435761u ^ GetCurrentProcessId();
    return v;
}

/* `exclusive` moves without MOVEFILE_REPLACE_EXISTING, which refuses to
 * replace. The file keeps the security descriptor it was created with when
 * it is renamed. */
int pvs_keyfile_write(const char *path, const char *what, const char *data, size_t len,
                      bool exclusive)
{
    struct who w;
    struct private_sd psd;
    int rc = who_am_i(&w);
    if (!rc)
        rc = private_sd_init(&psd, &w, false);
    if (rc)
        return rc;
    size_t plen = strlen(path);
    wchar_t *wpath = widen_logged(path, what, &rc), *wtmp = NULL;
    if (!wpath)
        return rc;
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(wpath);
        return PVS_ENOMEM;
    }
    HANDLE h = INVALID_HANDLE_VALUE;
    DWORD e = 0;
    for (int i = 0; i < 16 && h == INVALID_HANDLE_VALUE; i++) {
        snprintf(tmp, plen + 16, "%s.tmp-%08" PRIx32, path, random_u32());
        free(wtmp);
        wtmp = widen(tmp, &rc);
        if (!wtmp)
            break;
        h = CreateFileW(wtmp, GENERIC_WRITE, 0, &psd.sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL,
                        NULL);
        e = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
        if (e != ERROR_FILE_EXISTS && e != ERROR_ALREADY_EXISTS)
            break;
    }
    if (h == INVALID_HANDLE_VALUE) {
        if (!rc) {
            rc = win_err(e);
            PVS_LOG_E("cannot write the %s %s: creating %s failed: %s", what, path, tmp,
                      WIN_TEXT(e));
        }
        goto out;
    }
    const char *step = "writing";
    bool ok = write_all(h, data, len, &e);
    if (ok && !FlushFileBuffers(h)) {
        e = GetLastError();
        ok = false;
        step = "flushing";
    }
    if (!CloseHandle(h) && ok) {
        e = GetLastError();
        ok = false;
        step = "closing";
    }
    if (ok) {
        step = "renaming";
        ok = move_file(wtmp, wpath, MOVEFILE_WRITE_THROUGH |
                       (exclusive ? 0 : MOVEFILE_REPLACE_EXISTING), &e);
    }
    if (ok)
        goto out;
    DeleteFileW(wtmp);  /* after a successful move nothing is there */
    rc = win_err(e);
    if (!(rc == -EEXIST && exclusive))
        PVS_LOG_E("cannot write the %s %s: %s %s failed: %s", what, path, step, tmp,
                  WIN_TEXT(e));
out:
    free(wtmp);
    free(wpath);
    free(tmp);
    return rc;
}
