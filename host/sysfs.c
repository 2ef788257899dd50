/* Bounded sysfs reads and pci.ids names (see sysfs.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#ifndef _WIN32
#include <fcntl.h>
#include <unistd.h>
#endif

#include "common/error.h"
#include "host/sysfs.h"

int pvs_sysfs_path(char *buf, size_t len, const char *root, const char *fmt, ...)
{
    if (!root)
        root = "";
    size_t rl = strlen(root);
    while (rl > 0 && root[rl - 1] == '/')
        rl--;
    if (rl + 2 > len)
        return PVS_ERANGE;
    memcpy(buf, root, rl);
    buf[rl] = '/';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + rl + 1, len - rl - 1, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - rl - 1)
        return PVS_ERANGE;
    return 0;
}

int pvs_sysfs_read(const char *path, char *buf, size_t len)
{
    if (!len)
        return PVS_EINVAL;
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT || errno == ENOTDIR ? PVS_ENOENT : PVS_EIO;
    size_t n = fread(buf, 1, len - 1, f);
    int rc = 0;
    if (ferror(f)) {
        rc = PVS_EIO;
    } else if (n == len - 1) {
        char extra;
        if (fread(&extra, 1, 1, f) == 1)
            rc = PVS_EBADDATA; /* larger than any value we expect */
    }
    fclose(f);
    if (rc < 0) {
        buf[0] = '\0';
        return rc;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        buf[0] = '\0';
        return PVS_EBADDATA;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
        buf[--n] = '\0';
    return 0;
}

int pvs_sysfs_read_text(const char *path, char *buf, size_t len)
{
    int rc = pvs_sysfs_read(path, buf, len);
    if (rc < 0)
        return rc;
    /* Rewrite in place; "; " is one byte longer than "\n", so the text is
     * cut where it no longer fits. */
    char tmp[1024];
    size_t o = 0;
    size_t cap = len < sizeof(tmp) ? len : sizeof(tmp);
    for (const unsigned char *p = (const unsigned char *)buf; *p && o + 1 < cap; p++) {
        if (*p == '\n') {
            if (o + 2 >= cap)
                break;
            tmp[o++] = ';';
            tmp[o++] = ' ';
        } else if (*p < 0x20 || *p == 0x7f) {
            tmp[o++] = '?';
        } else {
            tmp[o++] = (char)*p;
        }
    }
    tmp[o] = '\0';
    memcpy(buf, tmp, o + 1);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_uint(const char *s, unsigned base, unsigned max, unsigned *out)
{
    if (!*s)
        return PVS_EBADDATA;
    unsigned long long v = 0;
    for (; *s; s++) {
        int d = hexval(*s);
        if (d < 0 || (unsigned)d >= base)
            return PVS_EBADDATA;
        v = v * base + (unsigned)d;
        if (v > max)
            return PVS_EBADDATA;
    }
    *out = (unsigned)v;
    return 0;
}

int pvs_sysfs_read_uint(const char *path, unsigned max, unsigned *out)
{
    char buf[32];
    int rc = pvs_sysfs_read(path, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    return parse_uint(buf, 10, max, out);
}

int pvs_sysfs_read_hex(const char *path, unsigned max, unsigned *out)
{
    char buf[32];
    int rc = pvs_sysfs_read(path, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    if (buf[0] != '0' || (buf[1] != 'x' && buf[1] != 'X'))
        return PVS_EBADDATA;
    return parse_uint(buf + 2, 16, max, out);
}

static bool hex_run(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool pvs_sysfs_is_pci_bdf(const char *s)
{
    /* DDDD:BB:SS.F */
    return strlen(s) == 12 && hex_run(s, 4) && s[4] == ':' && hex_run(s + 5, 2) &&
           s[7] == ':' && hex_run(s + 8, 2) && s[10] == '.' && s[11] >= '0' && s[11] <= '7';
}

/* "1234  Name\n" at s: the id and where the name starts. */
static bool id_line(const char *s, unsigned *id, const char **name)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hexval(s[i]);
        if (d < 0)
            return false;
        v = v * 16 + (unsigned)d;
    }
    if (s[4] != ' ')
        return false;
    const char *p = s + 4;
    while (*p == ' ')
        p++;
    *id = v;
    *name = p;
    return true;
}

static void copy_name(char *dst, size_t len, const char *src)
{
    size_t n = strcspn(src, "\r\n");
    while (n > 0 && src[n - 1] == ' ')
        n--;
    if (n >= len)
        n = len - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    dst[n] = '\0';
}

int pvs_pci_ids_name(const char *root, unsigned vendor, unsigned device,
                     char *name, size_t len)
{
    static const char *const files[] = { "usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids" };
    if (!len)
        return PVS_EINVAL;
    name[0] = '\0';
    FILE *f = NULL;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !f; i++) {
        char path[PVS_SYSFS_PATH_MAX];
        if (pvs_sysfs_path(path, sizeof(path), root, "%s", files[i]) == 0)
            f = fopen(path, "rb");
    }
    if (!f)
        return PVS_ENOENT;
    char vname[PVS_SYSFS_PATH_MAX / 4] = "", dname[PVS_SYSFS_PATH_MAX / 4] = "";
    char line[512];
    bool in_vendor = false, continued = false;
    while (fgets(line, sizeof(line), f)) {
        size_t n = strlen(line);
        bool was_continued = continued;
        continued = n > 0 && line[n - 1] != '\n';
        if (was_continued || line[0] == '#' || line[0] == '\n')
            continue; /* the tail of a line longer than the buffer, a comment */
        unsigned id;
        const char *text;
        if (line[0] != '\t') {
            if (in_vendor)
                break; /* the next vendor (or the class list): no such device */
            if (id_line(line, &id, &text) && id == vendor) {
                copy_name(vname, sizeof(vname), text);
                in_vendor = true;
            }
        } else if (in_vendor && line[1] != '\t' && id_line(line + 1, &id, &text) &&
                   id == device) {
            copy_name(dname, sizeof(dname), text);
            break;
        }
    }
    fclose(f);
    if (!in_vendor)
        return PVS_ENOENT;
    if (*dname)
        snprintf(name, len, "%s %s", vname, dname);
    else
        snprintf(name, len, "%s", vname);
    return 0;
}

int pvs_sysfs_write(const char *path, const char *value)
{
#ifdef _WIN32
    (void)path, (void)value;
    return PVS_ENOTSUP;
#else
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? PVS_ENOENT : -errno;
    size_t n = strlen(value);
    ssize_t w = write(fd, value, n);
    int rc = w < 0 ? -errno : (size_t)w != n ? PVS_EIO : 0;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
#endif
}

int pvs_sysfs_link_name(const char *path, char *buf, size_t len)
{
#ifdef _WIN32
    (void)path;
    if (len)
        buf[0] = '\0';
    return PVS_ENOTSUP;
#else
    char target[PVS_SYSFS_PATH_MAX];
    if (len)
        buf[0] = '\0';
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    if (n < 0)
        return errno == ENOENT || errno == ENOTDIR ? PVS_ENOENT : PVS_EBADDATA;
    target[n] = '\0';
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (strlen(base) >= len)
        return PVS_EBADDATA;
    strcpy(buf, base);
    return 0;
#endif
}

bool pvs_sysfs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
