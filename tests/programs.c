#include "tests/programs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *pvs_test_slurp(const char *path)
{
    return pvs_test_slurp_len(path, NULL);
}

char *pvs_test_slurp_len(const char *path, size_t *len)
{
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

bool pvs_test_on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[512];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog);
        if (access(buf, X_OK) == 0)
            return true;
        path = end ? end + 1 : NULL;
    }
    return false;
}

double pvs_test_json_num(const char *text, const char *section, const char *key)
{
    const char *p = text;
    char k[64];
    if (!p)
        return -1;
    if (section) {
        snprintf(k, sizeof(k), "\"%s\"", section);
        if (!(p = strstr(p, k)))
            return -1;
    }
    snprintf(k, sizeof(k), "\"%s\":", key);
    p = strstr(p, k);
    return p ? strtod(p + strlen(k), NULL) : -1;
}

void pvs_test_scratch_done(const char *dir, bool failed)
{
    if (failed || getenv("PVS_KEEP_SCRATCH")) {
        fprintf(stderr, "logs kept in %s\n", dir);
        return;
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}
