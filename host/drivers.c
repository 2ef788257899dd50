/* `pvstream-host drivers sync` on directories (see drivers.h): the host's
 * package folder and outside-the-store files, the guest's volume, and the
 * manifest between them. The few file-system calls it needs are at the
 * top, once for POSIX and once for Windows (wide-character APIs, so paths
 * are UTF-8 throughout). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "common/error.h"
#include "common/log.h"
#include "host/drivers.h"
#include "host/inf.h"
#include "host/manifest.h"
#include "host/text.h"

#define TMP_SUFFIX ".pvstream-tmp"
#define MAX_DEPTH 12            /* folders inside a package folder */
#define COPY_CHUNK (1u << 20)

/* ---- file system ------------------------------------------------------ */

enum kind { KIND_FILE, KIND_DIR, KIND_OTHER };

struct dirent_item {
    char *name;
    enum kind kind;
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}


#ifdef _WIN32
static int win_error(void)
{
    switch (GetLastError()) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return PVS_ENOENT;
    case ERROR_ACCESS_DENIED:
        return -EACCES;
    case ERROR_WRITE_PROTECT:
        return -EROFS;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
        return -EEXIST;
    case ERROR_NOT_ENOUGH_MEMORY:
        return PVS_ENOMEM;
    default:
        return PVS_EIO;
    }
}

/* UTF-8 to a wide path with backslashes; NULL when out of memory or not
 * UTF-8. */
static wchar_t *wide(const char *path)
{
    wchar_t *w = pvs_text_wide(path);
    for (wchar_t *p = w; p && *p; p++)
        if (*p == L'/')
            *p = L'\\';
    return w;
}

static int fs_stat(const char *path, enum kind *k, uint64_t *size)
{
    wchar_t *w = wide(path);
    if (!w)
        return PVS_EINVAL;
    WIN32_FILE_ATTRIBUTE_DATA a;
    BOOL ok = GetFileAttributesExW(w, GetFileExInfoStandard, &a);
    free(w);
    if (!ok)
        return win_error();
    if (a.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
        *k = KIND_OTHER;
    else
        *k = a.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY ? KIND_DIR : KIND_FILE;
    if (size)
        *size = (uint64_t)a.nFileSizeHigh << 32 | a.nFileSizeLow;
    return 0;
}

static FILE *fs_open(const char *path, bool write)
{
    wchar_t *w = wide(path);
    if (!w)
        return NULL;
    FILE *f = _wfopen(w, write ? L"wb" : L"rb");
    free(w);
    return f;
}

static int fs_mkdir(const char *path)
{
    wchar_t *w = wide(path);
    if (!w)
        return PVS_EINVAL;
    BOOL ok = CreateDirectoryW(w, NULL);
    free(w);
    return ok ? 0 : win_error();
}

static int fs_remove(const char *path)
{
    wchar_t *w = wide(path);
    if (!w)
        return PVS_EINVAL;
    SetFileAttributesW(w, FILE_ATTRIBUTE_NORMAL); /* driver files may be read-only */
    BOOL ok = DeleteFileW(w);
    free(w);
    return ok ? 0 : win_error();
}

static int fs_rmdir(const char *path)
{
    wchar_t *w = wide(path);
    if (!w)
        return PVS_EINVAL;
    BOOL ok = RemoveDirectoryW(w);
    free(w);
    return ok ? 0 : win_error();
}

static int fs_rename(const char *from, const char *to)
{
    wchar_t *a = wide(from), *b = wide(to);
    int rc = PVS_EINVAL;
    if (a && b) {
        SetFileAttributesW(b, FILE_ATTRIBUTE_NORMAL);
        rc = MoveFileExW(a, b, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) ? 0
                                                                                  : win_error();
    }
    free(a);
    free(b);
    return rc;
}

/* Calls add for each entry but . and .. */
static int fs_list_raw(const char *dir, int (*add)(void *, const char *, enum kind), void *ctx)
{
    char pattern[PVS_MANIFEST_PATH_MAX * 2];
    snprintf(pattern, sizeof(pattern), "%s/*", dir);
    wchar_t *w = wide(pattern);
    if (!w)
        return PVS_EINVAL;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(w, &fd);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return win_error();
    int rc = 0;
    do {
        if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
            continue;
        char *name = pvs_text_utf8(fd.cFileName);
        if (!name) {
            rc = PVS_ENOMEM;
            break;
        }
        enum kind k = fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT ? KIND_OTHER
                      : fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY   ? KIND_DIR
                                                                         : KIND_FILE;
        rc = add(ctx, name, k);
        free(name);
    } while (rc == 0 && FindNextFileW(h, &fd));
    FindClose(h);
    return rc;
}
#else
static int errno_rc(void)
{
    return errno == ENOENT || errno == ENOTDIR ? PVS_ENOENT : -errno;
}

static int fs_stat(const char *path, enum kind *k, uint64_t *size)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno_rc();
    *k = S_ISREG(st.st_mode) ? KIND_FILE : S_ISDIR(st.st_mode) ? KIND_DIR : KIND_OTHER;
    if (size)
        *size = (uint64_t)st.st_size;
    return 0;
}

static FILE *fs_open(const char *path, bool write)
{
    return fopen(path, write ? "wb" : "rb");
}

static int fs_mkdir(const char *path)
{
    return mkdir(path, 0755) == 0 ? 0 : errno == EEXIST ? -EEXIST : errno_rc();
}

static int fs_remove(const char *path)
{
    return unlink(path) == 0 ? 0 : errno_rc();
}

static int fs_rmdir(const char *path)
{
    return rmdir(path) == 0 ? 0 : errno_rc();
}

static int fs_rename(const char *from, const char *to)
{
    return rename(from, to) == 0 ? 0 : errno_rc();
}

static int fs_list_raw(const char *dir, int (*add)(void *, const char *, enum kind), void *ctx)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno_rc();
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[PVS_MANIFEST_PATH_MAX * 2];
        int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        enum kind k = KIND_OTHER;
        if (n > 0 && (size_t)n < sizeof(path) && fs_stat(path, &k, NULL) < 0)
            k = KIND_OTHER;
        rc = add(ctx, e->d_name, k);
    }
    closedir(d);
    return rc;
}
#endif

struct listing {
    struct dirent_item *items;
    int n, cap;
};

static int listing_add(void *ctx, const char *name, enum kind k)
{
    struct listing *l = ctx;
    if (l->n >= PVS_MANIFEST_MAX_FILES)
        return PVS_ERANGE;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 32;
        struct dirent_item *p = realloc(l->items, (size_t)cap * sizeof(*p));
        if (!p)
            return PVS_ENOMEM;
        l->items = p;
        l->cap = cap;
    }
    char *copy = dup_str(name);
    if (!copy)
        return PVS_ENOMEM;
    l->items[l->n].name = copy;
    l->items[l->n].kind = k;
    l->n++;
    return 0;
}

static void listing_free(struct listing *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i].name);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dirent_item *)a)->name, ((const struct dirent_item *)b)->name);
}

/* A folder's entries, sorted by name (so runs are repeatable). */
static int fs_list(const char *dir, struct listing *l)
{
    memset(l, 0, sizeof(*l));
    int rc = fs_list_raw(dir, listing_add, l);
    if (rc < 0) {
        listing_free(l);
        return rc;
    }
    if (l->n > 1)
        qsort(l->items, (size_t)l->n, sizeof(*l->items), item_cmp);
    return 0;
}

/* ---- paths ------------------------------------------------------------ */

/* base + "/" + rel into buf. */
static int join(char *buf, size_t len, const char *base, const char *rel)
{
    size_t bl = strlen(base);
    while (bl > 1 && (base[bl - 1] == '/' || base[bl - 1] == '\\'))
        bl--;
    int n = snprintf(buf, len, "%.*s/%s", (int)bl, base, rel);
    return n < 0 || (size_t)n >= len ? PVS_ERANGE : 0;
}

/* The last part of a path ("C:\...\FileRepository\nv_dispi.inf_amd64_x\"
 * gives "nv_dispi.inf_amd64_x"). */
static void base_name(const char *path, char *out, size_t len)
{
    size_t n = strlen(path);
    while (n > 0 && (path[n - 1] == '/' || path[n - 1] == '\\'))
        n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/' && path[s - 1] != '\\')
        s--;
    snprintf(out, len, "%.*s", (int)(n - s), path + s);
}

/* Creates every missing folder of guest path `rel` (a folder) under root. */
static int mkdirs(const char *root, const char *rel)
{
    char path[PVS_MANIFEST_PATH_MAX * 2];
    int rc = join(path, sizeof(path), root, rel);
    if (rc < 0)
        return rc;
    size_t start = strlen(path) - strlen(rel);
    for (size_t i = start;; i++) {
        if (path[i] == '/' || !path[i]) {
            char c = path[i];
            path[i] = '\0';
            enum kind k = KIND_OTHER;
            rc = fs_stat(path, &k, NULL);
            if (rc == PVS_ENOENT)
                rc = fs_mkdir(path);
            else if (rc == 0 && k != KIND_DIR)
                rc = -ENOTDIR;
            path[i] = c;
            if (rc < 0 && rc != -EEXIST)
                return rc;
            if (!c)
                return 0;
        }
    }
}

/* Removes a folder and all it holds (links are removed, not followed). */
static int remove_tree(const char *path, int depth)
{
    if (depth > MAX_DEPTH + 4)
        return PVS_ERANGE;
    struct listing l;
    int rc = fs_list(path, &l);
    if (rc < 0)
        return rc;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char sub[PVS_MANIFEST_PATH_MAX * 2];
        rc = join(sub, sizeof(sub), path, l.items[i].name);
        if (rc == 0)
            rc = l.items[i].kind == KIND_DIR ? remove_tree(sub, depth + 1) : fs_remove(sub);
    }
    listing_free(&l);
    return rc < 0 ? rc : fs_rmdir(path);
}

/* ---- hashing and copying ---------------------------------------------- */

static int hash_file(const char *path, char hex[PVS_SHA256_HEX], uint64_t *size)
{
    FILE *f = fs_open(path, false);
    if (!f)
        return errno == ENOENT ? PVS_ENOENT : PVS_EIO;
    unsigned char *buf = malloc(COPY_CHUNK);
    struct pvs_sha256 *h = NULL;
    int rc = buf ? pvs_sha256_new(&h) : PVS_ENOMEM;
    uint64_t total = 0;
    while (rc == 0) {
        size_t n = fread(buf, 1, COPY_CHUNK, f);
        if (n)
            pvs_sha256_update(h, buf, n);
        total += n;
        if (n < COPY_CHUNK) {
            if (ferror(f))
                rc = PVS_EIO;
            break;
        }
    }
    fclose(f);
    free(buf);
    if (rc < 0) {
        pvs_sha256_free(&h);
        return rc;
    }
    pvs_sha256_finish(&h, hex);
    if (size)
        *size = total;
    return 0;
}

/* Copies src to dst through dst + TMP_SUFFIX, hashing what it copies. */
static int copy_file(const char *src, const char *dst, char hex[PVS_SHA256_HEX], uint64_t *size,
                     char *why, size_t why_len)
{
    char tmp[PVS_MANIFEST_PATH_MAX * 2 + 16];
    if (snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX, dst) >= (int)sizeof(tmp))
        return PVS_ERANGE;
    FILE *in = fs_open(src, false);
    if (!in) {
        pvs_text_error(why, why_len, "cannot read %s: %s", src, strerror(errno));
        return PVS_EIO;
    }
    FILE *out = fs_open(tmp, true);
    if (!out) {
        pvs_text_error(why, why_len, "cannot write %s: %s", tmp, strerror(errno));
        fclose(in);
        return PVS_EIO;
    }
    unsigned char *buf = malloc(COPY_CHUNK);
    struct pvs_sha256 *h = NULL;
    int rc = buf ? pvs_sha256_new(&h) : PVS_ENOMEM;
    uint64_t total = 0;
    while (rc == 0) {
        size_t n = fread(buf, 1, COPY_CHUNK, in);
        if (n && fwrite(buf, 1, n, out) != n) {
            pvs_text_error(why, why_len, "writing %s: %s", tmp, strerror(errno));
            rc = PVS_EIO;
            break;
        }
        if (n)
            pvs_sha256_update(h, buf, n);
        total += n;
        if (n < COPY_CHUNK) {
            if (ferror(in)) {
                pvs_text_error(why, why_len, "reading %s failed", src);
                rc = PVS_EIO;
            }
            break;
        }
    }
    free(buf);
    fclose(in);
    if (fclose(out) != 0 && rc == 0) {
        pvs_text_error(why, why_len, "writing %s: %s", tmp, strerror(errno));
        rc = PVS_EIO;
    }
    if (rc == 0) {
        rc = fs_rename(tmp, dst);
        if (rc < 0)
            pvs_text_error(why, why_len, "renaming %s to its real name: %s", tmp,
                           pvs_strerror(rc));
    }
    if (rc < 0) {
        pvs_sha256_free(&h);
        fs_remove(tmp);
        return rc == PVS_ENOMEM ? rc : PVS_EIO;
    }
    pvs_sha256_finish(&h, hex);
    *size = total;
    return 0;
}

static int read_small(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    enum kind k;
    uint64_t size;
    int rc = fs_stat(path, &k, &size);
    if (rc < 0)
        return rc;
    if (k != KIND_FILE)
        return PVS_EINVAL;
    if (size > max)
        return PVS_ERANGE;
    FILE *f = fs_open(path, false);
    if (!f)
        return PVS_EIO;
    char *buf = malloc((size_t)size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)size, f) : 0;
    int bad = buf && ferror(f);
    fclose(f);
    if (!buf)
        return PVS_ENOMEM;
    if (bad) {
        free(buf);
        return PVS_EIO;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* ---- the wanted set --------------------------------------------------- */

struct wanted {
    struct pvs_manifest m;
    char **source;         /* host path of m.files[i] */
    int cap;
};

static void wanted_free(struct wanted *w)
{
    for (int i = 0; i < w->m.count; i++)
        free(w->source[i]);
    free(w->source);
    pvs_manifest_free(&w->m);
}

static int wanted_add(struct wanted *w, const char *host, const char *guest, char *why,
                      size_t why_len)
{
    if (pvs_manifest_find(&w->m, guest))
        return 0;
    if (!pvs_manifest_path_ok(guest)) {
        PVS_LOG_W("drivers: %s: not a usable guest path: skipped", guest);
        return 0;
    }
    char hex[PVS_SHA256_HEX];
    uint64_t size;
    int rc = hash_file(host, hex, &size);
    if (rc < 0) {
        pvs_text_error(why, why_len, "cannot read %s: %s", host, pvs_strerror(rc));
        return rc == PVS_ENOMEM ? rc : PVS_EIO;
    }
    if (w->m.count == w->cap) {
        int cap = w->cap ? w->cap * 2 : 64;
        char **p = realloc(w->source, (size_t)cap * sizeof(*p));
        if (!p)
            return PVS_ENOMEM;
        w->source = p;
        w->cap = cap;
    }
    char *src = dup_str(host);
    if (!src)
        return PVS_ENOMEM;
    rc = pvs_manifest_add(&w->m, guest, size, hex);
    if (rc < 0) {
        free(src);
        if (rc == PVS_ERANGE)
            pvs_text_error(why, why_len, "more than %d files", PVS_MANIFEST_MAX_FILES);
        return rc == PVS_EINVAL ? 0 : rc;
    }
    w->source[w->m.count - 1] = src;
    return 0;
}

/* Every file of the package folder, as guest paths under the repository. */
static int add_package(struct wanted *w, const char *host_dir, const char *guest_dir, int depth,
                       char *why, size_t why_len)
{
    if (depth > MAX_DEPTH) {
        PVS_LOG_W("drivers: %s: folders nested too deep: skipped", host_dir);
        return 0;
    }
    struct listing l;
    int rc = fs_list(host_dir, &l);
    if (rc < 0) {
        pvs_text_error(why, why_len, "cannot list %s: %s", host_dir, pvs_strerror(rc));
        return rc == PVS_ENOMEM ? rc : PVS_EIO;
    }
    for (int i = 0; i < l.n && rc == 0; i++) {
        const struct dirent_item *it = &l.items[i];
        char host[PVS_MANIFEST_PATH_MAX * 2], guest[PVS_MANIFEST_PATH_MAX];
        if (!pvs_manifest_name_ok(it->name) || join(host, sizeof(host), host_dir, it->name) ||
            join(guest, sizeof(guest), guest_dir, it->name)) {
            PVS_LOG_W("drivers: %s/%s: an unusable name: skipped", host_dir, it->name);
            continue;
        }
        if (it->kind == KIND_DIR)
            rc = add_package(w, host, guest, depth + 1, why, why_len);
        else if (it->kind == KIND_FILE)
            rc = wanted_add(w, host, guest, why, why_len);
        else
            PVS_LOG_W("drivers: %s: not a plain file or folder (a link?): skipped", host);
    }
    listing_free(&l);
    return rc;
}

/* Where a DIRID is under the Windows directory; NULL for those not copied. */
static const char *dirid_folder(unsigned dirid)
{
    switch (dirid) {
    case PVS_INF_DIRID_WINDOWS:
        return "";
    case PVS_INF_DIRID_SYSTEM32:
        return "System32";
    case PVS_INF_DIRID_SYSWOW64:
        return "SysWOW64";
    default:
        return NULL;
    }
}

static int add_outside(struct wanted *w, const struct pvs_inf_file *f, const char *host_windows,
                       struct pvs_drivers_stats *st, char *why, size_t why_len)
{
    const char *folder = dirid_folder(f->dirid);
    if (!folder) {
        if (f->dirid == PVS_INF_DIRID_DRIVERS)
            PVS_LOG_D("drivers: %s: a kernel driver (DIRID 12), not used by a GPU-PV guest",
                      f->name);
        else
            PVS_LOG_W("drivers: %s goes to DIRID %u, which sync does not copy to", f->name,
                      f->dirid);
        return 0;
    }
    char rel[PVS_MANIFEST_PATH_MAX];
    int n = snprintf(rel, sizeof(rel), "%s%s%s%s%s", folder, *folder ? "/" : "", f->subdir,
                     *f->subdir ? "/" : "", f->name);
    if (n < 0 || (size_t)n >= sizeof(rel))
        return 0;
    for (char *p = rel; *p; p++)
        if (*p == '\\')
            *p = '/';
    char host[PVS_MANIFEST_PATH_MAX * 2], guest[PVS_MANIFEST_PATH_MAX + 16];
    if (join(host, sizeof(host), host_windows, rel) < 0)
        return 0;
    snprintf(guest, sizeof(guest), "Windows/%s", rel);
    enum kind k;
    if (fs_stat(host, &k, NULL) < 0 || k != KIND_FILE) {
        PVS_LOG_W("drivers: %s is not on the host: not copied (the INF installs it for "
                  "another device or Windows version, or the driver is damaged)", host);
        st->missing++;
        return 0;
    }
    return wanted_add(w, host, guest, why, why_len);
}

/* ---- the guest view for the diff -------------------------------------- */

static int guest_size(void *opaque, const char *path, uint64_t *size)
{
    char full[PVS_MANIFEST_PATH_MAX * 2];
    int rc = join(full, sizeof(full), opaque, path);
    if (rc < 0)
        return rc;
    enum kind k;
    rc = fs_stat(full, &k, size);
    if (rc == 0 && k != KIND_FILE)
        return PVS_ENOENT; /* a folder in the way: copying will say so */
    return rc;
}

static int guest_hash(void *opaque, const char *path, char hex[PVS_SHA256_HEX])
{
    char full[PVS_MANIFEST_PATH_MAX * 2];
    int rc = join(full, sizeof(full), opaque, path);
    return rc < 0 ? rc : hash_file(full, hex, NULL);
}

static int guest_packages(void *opaque, char ***names, int *count)
{
    *names = NULL;
    *count = 0;
    char full[PVS_MANIFEST_PATH_MAX * 2];
    int rc = join(full, sizeof(full), opaque, PVS_MANIFEST_REPOSITORY);
    struct listing l;
    if (rc == 0)
        rc = fs_list(full, &l);
    if (rc == PVS_ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    char **out = calloc((size_t)l.n + 1, sizeof(*out));
    if (!out) {
        listing_free(&l);
        return PVS_ENOMEM;
    }
    int n = 0;
    for (int i = 0; i < l.n; i++)
        if (l.items[i].kind == KIND_DIR) {
            out[n++] = l.items[i].name;
            l.items[i].name = NULL;
        }
    listing_free(&l);
    *names = out;
    *count = n;
    return 0;
}

/* ---- sync ------------------------------------------------------------- */

static void say(FILE *out, const char *fmt, ...) PVS_TEXT_PRINTF(2, 3);
static void say(FILE *out, const char *fmt, ...)
{
    if (!out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
}

static int check_dir(const char *path, const char *what, char *why, size_t why_len)
{
    enum kind k;
    int rc = fs_stat(path, &k, NULL);
    if (rc == 0 && k == KIND_DIR)
        return 0;
    pvs_text_error(why, why_len, "%s '%s' %s", what, path,
                   rc == PVS_ENOENT ? "does not exist" : rc < 0 ? pvs_strerror(rc)
                                                                : "is not a folder");
    return PVS_EINVAL;
}

/* The INF's name from the package folder's: "nv_dispi.inf_amd64_x" gives
 * "nv_dispi.inf". */
static bool inf_from_package(const char *package, char *inf, size_t len)
{
    for (const char *p = package; *p; p++) {
        if (!pvs_inf_casecmp_n(p, ".inf_", 5)) {
            size_t n = (size_t)(p - package) + 4;
            if (n >= len || p == package)
                return false;
            memcpy(inf, package, n);
            inf[n] = '\0';
            return true;
        }
    }
    return false;
}

/* Reads the package's INF and builds the wanted set. */
static int build_wanted(const struct pvs_drivers_sync_settings *s, struct wanted *w,
                        struct pvs_drivers_stats *st, char *why, size_t why_len)
{
    char package[PVS_MANIFEST_VALUE_MAX], inf_name[PVS_MANIFEST_VALUE_MAX];
    base_name(s->package_dir, package, sizeof(package));
    if (!pvs_manifest_name_ok(package) || !inf_from_package(package, inf_name, sizeof(inf_name))) {
        pvs_text_error(why, why_len, "'%s' is not a driver store package folder: its name "
                       "should be <name>.inf_<arch>_<hash>, as in "
                       "C:\\Windows\\System32\\DriverStore\\FileRepository", s->package_dir);
        return PVS_EINVAL;
    }
    char inf_path[PVS_MANIFEST_PATH_MAX * 2];
    char *text = NULL;
    size_t len = 0;
    int rc = join(inf_path, sizeof(inf_path), s->package_dir, inf_name);
    if (rc == 0)
        rc = read_small(inf_path, PVS_INF_MAX_SIZE, &text, &len);
    if (rc < 0) {
        pvs_text_error(why, why_len, "cannot read the package's INF %s: %s", inf_path,
                       rc == PVS_ERANGE ? "too large" : pvs_strerror(rc));
        return rc == PVS_ENOMEM ? rc : PVS_EINVAL;
    }
    struct pvs_inf *inf = NULL;
    char err[256];
    rc = pvs_inf_parse(text, len, &inf, err, sizeof(err));
    free(text);
    if (rc < 0) {
        pvs_text_error(why, why_len, "%s: %s", inf_path, err);
        return rc == PVS_ENOMEM ? rc : PVS_EINVAL;
    }
    struct pvs_inf_driver_ver ver;
    if (pvs_inf_driver_ver(inf, &ver, err, sizeof(err)) == 0) {
        snprintf(w->m.driver_version, sizeof(w->m.driver_version), "%s", ver.version);
        snprintf(w->m.driver_date, sizeof(w->m.driver_date), "%s", ver.date);
    } else {
        PVS_LOG_W("drivers: %s: %s; the manifest records no driver version", inf_path, err);
    }
    const char *cls = pvs_inf_class(inf);
    if (!cls || pvs_inf_casecmp_n(cls, "Display", 8))
        PVS_LOG_W("drivers: %s is of class '%s', not Display: is it the GPU's driver?",
                  inf_name, cls ? cls : "");
    snprintf(w->m.inf, sizeof(w->m.inf), "%s", inf_name);
    snprintf(w->m.package, sizeof(w->m.package), "%s", package);

    struct pvs_inf_file *files = NULL;
    int nfiles = 0;
    rc = pvs_inf_installed_files(inf, &files, &nfiles, err, sizeof(err));
    pvs_inf_free(&inf);
    if (rc < 0) {
        pvs_text_error(why, why_len, "%s: %s", inf_path, err);
        return rc == PVS_ENOMEM ? rc : PVS_EINVAL;
    }
    char guest_dir[PVS_MANIFEST_PATH_MAX];
    snprintf(guest_dir, sizeof(guest_dir), "%s/%s", PVS_MANIFEST_REPOSITORY, package);
    rc = add_package(w, s->package_dir, guest_dir, 0, why, why_len);
    for (int i = 0; i < nfiles && rc == 0; i++)
        rc = add_outside(w, &files[i], s->host_windows, st, why, why_len);
    free(files);
    return rc;
}

/* Can the guest volume be written? Creates the repository folder and a
 * probe file, before anything else is changed. */
static int check_writable(const char *root, char *why, size_t why_len)
{
    int rc = mkdirs(root, PVS_MANIFEST_REPOSITORY);
    char probe[PVS_MANIFEST_PATH_MAX * 2];
    if (rc == 0)
        rc = join(probe, sizeof(probe), root, "Windows/System32/HostDriverStore/"
                                              "pvstream-write-test" TMP_SUFFIX);
    if (rc == 0) {
        FILE *f = fs_open(probe, true);
        if (!f)
            rc = errno ? -errno : PVS_EIO;
        else if (fclose(f) != 0)
            rc = PVS_EIO;
        if (f)
            fs_remove(probe);
    }
    if (rc < 0) {
        pvs_text_error(why, why_len, "cannot write to the guest volume '%s' (%s): is it "
                       "mounted read-only, or not yours to write? Nothing was changed",
                       root, pvs_strerror(rc));
        return PVS_EIO;
    }
    return 0;
}

static int write_manifest(const char *root, const struct pvs_manifest *m, char *why,
                          size_t why_len)
{
    char *text = NULL;
    int rc = pvs_manifest_format(m, &text);
    if (rc < 0)
        return rc;
    char path[PVS_MANIFEST_PATH_MAX * 2], tmp[PVS_MANIFEST_PATH_MAX * 2 + 16];
    join(path, sizeof(path), root, PVS_MANIFEST_PATH);
    snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX, path);
    FILE *f = fs_open(tmp, true);
    size_t n = strlen(text);
    bool ok = f && fwrite(text, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    rc = ok ? fs_rename(tmp, path) : PVS_EIO;
    if (rc < 0) {
        fs_remove(tmp);
        pvs_text_error(why, why_len, "cannot write the manifest %s: %s", path, pvs_strerror(rc));
        return PVS_EIO;
    }
    return 0;
}

static int apply(const struct pvs_drivers_sync_settings *s, struct wanted *w,
                 const struct pvs_diff *d, struct pvs_drivers_stats *st, char *why,
                 size_t why_len)
{
    int rc = check_writable(s->guest_root, why, why_len);
    for (int i = 0; i < d->count && rc == 0; i++) {
        const struct pvs_diff_item *it = &d->items[i];
        char full[PVS_MANIFEST_PATH_MAX * 2];
        rc = join(full, sizeof(full), s->guest_root, it->path);
        if (rc < 0)
            break;
        if (it->action == PVS_DIFF_COPY) {
            struct pvs_manifest_file *f = &w->m.files[it->want];
            char parent[PVS_MANIFEST_PATH_MAX];
            snprintf(parent, sizeof(parent), "%s", it->path);
            char *slash = strrchr(parent, '/');
            if (slash)
                *slash = '\0';
            rc = mkdirs(s->guest_root, parent);
            if (rc < 0) {
                pvs_text_error(why, why_len, "cannot create the folder %s in the guest: %s",
                               parent, pvs_strerror(rc));
                rc = PVS_EIO;
                break;
            }
            char hex[PVS_SHA256_HEX];
            uint64_t size;
            rc = copy_file(w->source[it->want], full, hex, &size, why, why_len);
            if (rc < 0)
                break;
            if (strcmp(hex, f->sha256) || size != f->size) {
                PVS_LOG_W("drivers: %s changed while it was copied; the copy is recorded",
                          w->source[it->want]);
                memcpy(f->sha256, hex, sizeof(hex));
                f->size = size;
            }
            st->copied++;
            st->bytes_copied += size;
        } else if (it->action == PVS_DIFF_REMOVE_FILE) {
            rc = fs_remove(full);
            if (rc == PVS_ENOENT)
                rc = 0;
            if (rc < 0) {
                pvs_text_error(why, why_len, "cannot remove %s: %s", full, pvs_strerror(rc));
                rc = PVS_EIO;
                break;
            }
            st->removed_files++;
        } else if (it->action == PVS_DIFF_REMOVE_DIR) {
            rc = remove_tree(full, 0);
            if (rc == PVS_ENOENT)
                rc = 0;
            if (rc < 0) {
                pvs_text_error(why, why_len, "cannot remove the folder %s: %s", full,
                               pvs_strerror(rc));
                rc = PVS_EIO;
                break;
            }
            st->removed_dirs++;
        }
    }
    if (rc == 0)
        rc = write_manifest(s->guest_root, &w->m, why, why_len);
    return rc;
}

static void list_plan(FILE *out, const struct wanted *w, const struct pvs_diff *d, bool dry)
{
    for (int i = 0; i < d->count; i++) {
        const struct pvs_diff_item *it = &d->items[i];
        switch (it->action) {
        case PVS_DIFF_COPY:
            say(out, "%s %s (%s, %" PRIu64 " bytes)\n", dry ? "would copy" : "copy",
                it->path, it->reason, w->m.files[it->want].size);
            break;
        case PVS_DIFF_REMOVE_FILE:
            say(out, "%s %s (%s)\n", dry ? "would remove" : "remove", it->path, it->reason);
            break;
        case PVS_DIFF_REMOVE_DIR:
            say(out, "%s %s/ (%s)\n", dry ? "would remove folder" : "remove folder", it->path,
                it->reason);
            break;
        case PVS_DIFF_SKIP:
            break;
        }
    }
}

int pvs_drivers_sync(const struct pvs_drivers_sync_settings *s, struct pvs_drivers_stats *st,
                     char *why, size_t why_len)
{
    memset(st, 0, sizeof(*st));
    pvs_text_error(why, why_len, "no error");
    int rc = check_dir(s->package_dir, "the driver package folder", why, why_len);
    if (rc == 0)
        rc = check_dir(s->host_windows, "the host's Windows folder", why, why_len);
    if (rc == 0)
        rc = check_dir(s->guest_root, "the guest volume", why, why_len);
    char sys32[PVS_MANIFEST_PATH_MAX * 2];
    if (rc == 0 && join(sys32, sizeof(sys32), s->guest_root, "Windows/System32") == 0 &&
        check_dir(sys32, "the guest's System32 folder", why, why_len) < 0) {
        pvs_text_error(why, why_len, "'%s' holds no Windows/System32: it is not the guest's "
                       "Windows volume", s->guest_root);
        rc = PVS_EINVAL;
    }
    if (rc < 0)
        return rc;

    struct wanted w;
    memset(&w, 0, sizeof(w));
    rc = build_wanted(s, &w, st, why, why_len);

    struct pvs_manifest have;
    pvs_manifest_init(&have);
    bool have_ok = false;
    char mpath[PVS_MANIFEST_PATH_MAX * 2];
    if (rc == 0 && join(mpath, sizeof(mpath), s->guest_root, PVS_MANIFEST_PATH) == 0) {
        char *text = NULL, err[256];
        size_t len = 0;
        int r = read_small(mpath, PVS_MANIFEST_MAX_SIZE, &text, &len);
        if (r == 0) {
            have_ok = pvs_manifest_parse(text, len, &have, err, sizeof(err)) == 0;
            if (!have_ok)
                PVS_LOG_W("drivers: the guest's manifest %s: %s; it is rewritten", mpath, err);
        } else if (r != PVS_ENOENT) {
            PVS_LOG_W("drivers: cannot read the guest's manifest %s: %s; it is rewritten",
                      mpath, pvs_strerror(r));
        }
        free(text);
    }

    struct pvs_diff d;
    memset(&d, 0, sizeof(d));
    if (rc == 0) {
        struct pvs_guest_view g = { (void *)s->guest_root, guest_size, guest_hash,
                                    guest_packages };
        rc = pvs_manifest_diff(&w.m, have_ok ? &have : NULL, &g, &d, why, why_len);
        if (rc < 0 && rc != PVS_ENOMEM)
            rc = PVS_EIO;
    }
    if (rc == 0) {
        say(s->out, "driver %s (%s), package %s: %d files\n",
            *w.m.driver_version ? w.m.driver_version : "of unknown version",
            *w.m.driver_date ? w.m.driver_date : "no date", w.m.package, w.m.count);
        if (have_ok && *have.driver_version && strcmp(have.driver_version, w.m.driver_version))
            say(s->out, "the guest has driver %s: it is replaced\n", have.driver_version);
        list_plan(s->out, &w, &d, s->dry_run);
        for (int i = 0; i < d.count; i++)
            if (d.items[i].action == PVS_DIFF_SKIP) {
                st->skipped++;
                st->bytes_skipped += w.m.files[d.items[i].want].size;
            }
        if (s->dry_run) {
            st->copied = d.copies;
            st->bytes_copied = d.copy_bytes;
            for (int i = 0; i < d.count; i++) {
                st->removed_files += d.items[i].action == PVS_DIFF_REMOVE_FILE;
                st->removed_dirs += d.items[i].action == PVS_DIFF_REMOVE_DIR;
            }
        } else {
            rc = apply(s, &w, &d, st, why, why_len);
        }
    }
    const char *verb = s->dry_run ? " would be" : "";
    if (rc == 0)
        say(s->out,
            "%s: %d files%s copied (%" PRIu64 " bytes), %d unchanged skipped (%" PRIu64
            " bytes), %d files and %d folders%s removed%s\n",
            s->dry_run ? "dry run, nothing changed" : "done", st->copied, verb, st->bytes_copied,
            st->skipped, st->bytes_skipped, st->removed_files, st->removed_dirs, verb,
            st->missing ? "; some INF files are not on the host (see the warnings)" : "");
    pvs_diff_free(&d);
    pvs_manifest_free(&have);
    wanted_free(&w);
    return rc;
}
