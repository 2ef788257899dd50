/* The POSIX calls the unit tests use that mingw-w64 lacks, for the Windows
 * build (test.h includes this there). Tests only: the programs use the
 * platform layer. Under Wine, "/tmp/..." names Z:\tmp, the Unix /tmp. */
#ifndef PVS_TEST_COMPAT_WIN32_H
#define PVS_TEST_COMPAT_WIN32_H

#include <direct.h>
#include <io.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline int pvs_test_setenv(const char *name, const char *value, int overwrite)
{
    if (!overwrite && getenv(name))
        return 0;
    return _putenv_s(name, value) == 0 ? 0 : -1;
}

/* An empty value removes the variable from the CRT's environment. */
static inline int pvs_test_unsetenv(const char *name)
{
    return _putenv_s(name, "") == 0 ? 0 : -1;
}

static inline char *pvs_test_mkdtemp(char *tmpl)
{
    if (_mktemp_s(tmpl, strlen(tmpl) + 1) != 0)
        return NULL;
    return _mkdir(tmpl) == 0 ? tmpl : NULL;
}

/* Windows has no mode bits: the directory gets its parent's ACL. */
static inline int pvs_test_mkdir(const char *path, int mode)
{
    (void)mode;
    return _mkdir(path);
}

/* Windows has no symbolic links the tests make, so lstat is stat. */
static inline int pvs_test_lstat(const char *path, struct stat *st)
{
    return stat(path, st);
}

/* nftw for what the tests do with it: remove a tree, so only the
 * depth-first walk (FTW_DEPTH: a folder after its contents) is offered,
 * and `fn` gets no stat data (NULL). Returns fn's first non-zero result,
 * or -1 when `dir` cannot be read. */
#define FTW_F 0
#define FTW_D 1
#define FTW_DP 5
#define FTW_PHYS 1
#define FTW_DEPTH 8
struct FTW {
    int base, level;
};

static inline int pvs_test_nftw_at(const char *path, int (*fn)(const char *, const struct stat *,
                                                                int, struct FTW *),
                                   int level)
{
    struct _finddata_t fd;
    char pattern[1024], child[1024];
    snprintf(pattern, sizeof(pattern), "%s/*", path);
    intptr_t h = _findfirst(pattern, &fd);
    if (h == -1)
        return -1;
    int rc = 0;
    do {
        if (!strcmp(fd.name, ".") || !strcmp(fd.name, ".."))
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, fd.name);
        if (fd.attrib & _A_SUBDIR) {
            rc = pvs_test_nftw_at(child, fn, level + 1);
        } else {
            struct FTW ftw = { (int)strlen(path) + 1, level + 1 };
            rc = fn(child, NULL, FTW_F, &ftw);
        }
    } while (rc == 0 && _findnext(h, &fd) == 0);
    _findclose(h);
    if (rc == 0) {
        const char *slash = strrchr(path, '/');
        struct FTW ftw = { slash ? (int)(slash - path) + 1 : 0, level };
        rc = fn(path, NULL, FTW_DP, &ftw);
    }
    return rc;
}

static inline int pvs_test_nftw(const char *dir, int (*fn)(const char *, const struct stat *,
                                                           int, struct FTW *),
                                int fds, int flags)
{
    (void)fds, (void)flags;
    return pvs_test_nftw_at(dir, fn, 0);
}

#define setenv pvs_test_setenv
#define unsetenv pvs_test_unsetenv
#define mkdtemp pvs_test_mkdtemp
#define mkdir pvs_test_mkdir
#define lstat pvs_test_lstat
#define nftw pvs_test_nftw

#endif
