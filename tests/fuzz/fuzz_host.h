/* What the pvstream-host fuzz targets assert on the text they read back:
 * every string bounded and free of control characters, every failed check
 * with a fix to give. Include after host/check.h. */
#ifndef PVS_FUZZ_HOST_H
#define PVS_FUZZ_HOST_H

#include <stdlib.h>
#include <string.h>

#include "host/check.h"

/* Aborts unless s is NUL-terminated within cap and has no control
 * character. */
static inline void fuzz_no_control(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            abort();
}

/* Aborts unless every check failed or warned about says how to fix it and
 * says what it found in bounded, printable text. */
static inline void fuzz_checks_sane(const struct pvs_checks *c)
{
    for (int i = 0; i < c->count; i++) {
        if (c->items[i].verdict != PVS_CHECK_OK && !c->items[i].fix[0])
            abort();
        fuzz_no_control(c->items[i].found, sizeof(c->items[i].found));
    }
}

#endif
