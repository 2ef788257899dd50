/* A bounded text writer (gamestream/gs_text.h). */
#include <stdarg.h>
#include <stdio.h>

#include "gamestream/gs_text.h"

void pvs_gs_text_init(struct pvs_gs_text *t, char *buf, size_t cap)
{
    t->p = buf;
    t->cap = cap;
    t->n = 0;
    t->full = cap == 0;
    if (cap)
        buf[0] = '\0';
}

void pvs_gs_textf(struct pvs_gs_text *t, const char *fmt, ...)
{
    if (t->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= t->cap - t->n) {
        t->full = true;
        t->p[t->n] = '\0';
    } else {
        t->n += (size_t)k;
    }
}
