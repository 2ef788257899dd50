/* What pvstream-host's tests share: their data files under
 * PVS_TEST_DATA/host/ (meson sets it), whole files read back, golden files
 * compared byte for byte (with PVS_UPDATE_GOLDEN=1 written instead: review
 * the diff after an intended change), check results looked up, and
 * warnings counted. Include after test.h. */
#ifndef PVS_TEST_HOST_TEST_H
#define PVS_TEST_HOST_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "host/check.h"

/* A log sink that counts the warnings logged in *(int *)opaque:
 * pvs_log_set_sink(host_count_warnings, &warnings). */
static inline void host_count_warnings(void *opaque, enum pvs_log_level level, const char *file,
                                       int line, const char *msg)
{
    (void)file, (void)line, (void)msg;
    if (level == PVS_LOG_WARN)
        ++*(int *)opaque;
}

/* PVS_TEST_DATA/host/NAME (four live at a time). */
static inline const char *host_data(const char *name)
{
    static char path[4][1024];
    static int next;
    const char *dir = getenv("PVS_TEST_DATA");
    char *p = path[next++ % 4];
    snprintf(p, sizeof(path[0]), "%s/host/%s", dir ? dir : "tests/data", name);
    return p;
}

/* A whole file, NUL-terminated (NULL when it cannot be read); *len its
 * size when len is not NULL. */
static inline char *host_load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Checks `text` against the golden file host/NAME (or writes it there with
 * PVS_UPDATE_GOLDEN=1). */
static inline void host_golden(const char *name, const char *text)
{
    const char *path = host_data(name);
    const char *update = getenv("PVS_UPDATE_GOLDEN");
    if (update && !strcmp(update, "1")) {
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(text, 1, strlen(text), f) == strlen(text) && fclose(f) == 0);
        return;
    }
    size_t len = 0;
    char *want = host_load(path, &len);
    CHECK(want != NULL);
    if (!want)
        return;
    bool same = len == strlen(text) && !memcmp(want, text, len);
    if (!same) {
        size_t i = 0;
        while (i < len && text[i] == want[i])
            i++;
        fprintf(stderr, "%s differs from the generated text at byte %zu\n", path, i);
    }
    CHECK(same);
    free(want);
}

/* The result with this id, or NULL. */
static inline const struct pvs_check *host_check_find(const struct pvs_checks *c, const char *id)
{
    for (int i = 0; i < c->count; i++)
        if (!strcmp(c->items[i].id, id))
            return &c->items[i];
    return NULL;
}

/* The verdict of check `id`, or -1 when absent; every non-OK one must say
 * how to fix it. */
static inline int host_check_verdict(const struct pvs_checks *c, const char *id)
{
    const struct pvs_check *k = host_check_find(c, id);
    if (k && k->verdict != PVS_CHECK_OK && !k->fix[0]) {
        fprintf(stderr, "check %s: %s without a fix\n", id, pvs_check_verdict_name(k->verdict));
        CHECK(0);
    }
    return k ? (int)k->verdict : -1;
}

#endif
