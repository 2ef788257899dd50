/* The POSIX calls the unit tests use that mingw-w64 lacks, for the Windows
 * build (test.h includes this there). Tests only: the programs use the
 * platform layer. Under Wine, "/tmp/..." names Z:\tmp, the Unix /tmp. */
#ifndef PVS_TEST_COMPAT_WIN32_H
#define PVS_TEST_COMPAT_WIN32_H

#include <direct.h>
#include <io.h>
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

#define setenv pvs_test_setenv
#define unsetenv pvs_test_unsetenv
#define mkdtemp pvs_test_mkdtemp
#define mkdir pvs_test_mkdir

#endif
