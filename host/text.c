/* A growing text buffer with a sticky error (see text.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#endif

#include "common/error.h"
#include "host/text.h"

static int reserve(struct pvs_text *t, size_t extra)
{
    if (t->err)
        return t->err;
    if (extra > (size_t)-1 / 2 - t->len) {
        t->err = PVS_ENOMEM;
        return t->err;
    }
    size_t need = t->len + extra + 1;
    if (need <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(t->buf, cap);
    if (!p) {
        t->err = PVS_ENOMEM;
        return t->err;
    }
    t->buf = p;
    t->cap = cap;
    return 0;
}

void pvs_text_append(struct pvs_text *t, const char *s, size_t n)
{
    if (reserve(t, n) < 0)
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

void pvs_text_puts(struct pvs_text *t, const char *s)
{
    pvs_text_append(t, s, strlen(s));
}

void pvs_text_printf(struct pvs_text *t, const char *fmt, ...)
{
    if (t->err)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->err = PVS_EINVAL;
        return;
    }
    if (reserve(t, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(t->buf + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void pvs_text_fail(struct pvs_text *t, int err)
{
    if (!t->err)
        t->err = err;
}

void pvs_text_free(struct pvs_text *t)
{
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
    t->err = 0;
}

int pvs_text_take(struct pvs_text *t, char **out)
{
    *out = NULL;
    if (!t->err && !t->buf)
        reserve(t, 0);
    int err = t->err;
    if (err) {
        pvs_text_free(t);
        return err;
    }
    t->buf[t->len] = '\0';
    *out = t->buf;
    t->buf = NULL;
    t->len = t->cap = 0;
    return 0;
}

void pvs_text_error(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

void pvs_text_json_string(struct pvs_text *t, const char *s)
{
    pvs_text_puts(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            pvs_text_printf(t, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            pvs_text_printf(t, "\\u%04x", *p);
        else
            pvs_text_append(t, (const char *)p, 1);
    }
    pvs_text_puts(t, "\"");
}

void pvs_text_plain(struct pvs_text *t, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        pvs_text_append(t, *p < 0x20 || *p == 0x7f ? "?" : (const char *)p, 1);
}

#ifdef _WIN32
wchar_t *pvs_text_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = malloc((size_t)n * sizeof(*w));
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

char *pvs_text_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return NULL;
    char *s = malloc((size_t)n);
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}
#endif
