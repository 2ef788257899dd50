/* Fuzz target for pvstream-host's INF reader (host/inf.h): any bytes, as
 * UTF-8 or UTF-16, must parse or be refused cleanly, and what the reader
 * returns must hold: the installed files never name DIRID 13, and their
 * names and subdirectories are plain (no "..", no colon, no '/'), so a
 * hostile INF cannot make drivers sync write outside the guest's folders. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/inf.h"
#include "tests/fuzz/fuzz.h"

static void check_name(const char *s, bool subdir)
{
    size_t n = strnlen(s, PVS_INF_NAME_MAX);
    if (n == PVS_INF_NAME_MAX || (!subdir && n == 0))
        abort();
    if (strchr(s, '/') || strchr(s, ':') || (!subdir && strchr(s, '\\')))
        abort();
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20)
            abort();
    /* No part is "." or "..". */
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, "\\");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            abort();
        p += len;
        if (*p)
            p++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pvs_log_set_level(PVS_LOG_QUIET);
    struct pvs_inf *inf = NULL;
    char why[256];
    int rc = pvs_inf_parse(data, size, &inf, why, sizeof(why));
    if (rc < 0) {
        if (inf || (rc != PVS_EBADDATA && rc != PVS_ENOMEM))
            abort();
        return 0;
    }
    (void)pvs_inf_class(inf);
    (void)pvs_inf_get(inf, "Version", "Provider");
    struct pvs_inf_driver_ver v;
    rc = pvs_inf_driver_ver(inf, &v, why, sizeof(why));
    if (rc == 0 && (v.month < 1 || v.month > 12 || v.day < 1 || v.day > 31 ||
                    strnlen(v.date, sizeof(v.date)) != 10))
        abort();
    struct pvs_inf_file *files = NULL;
    int n = 0;
    rc = pvs_inf_installed_files(inf, &files, &n, why, sizeof(why));
    for (int i = 0; rc == 0 && i < n; i++) {
        if (files[i].dirid == PVS_INF_DIRID_DRIVER_STORE)
            abort();
        check_name(files[i].name, false);
        check_name(files[i].source, false);
        check_name(files[i].subdir, true);
    }
    free(files);
    pvs_inf_free(&inf);
    return 0;
}
