/* A growing text buffer for the generators (PowerShell, XML, JSON, tables).
 *
 * Errors are sticky: after a failed allocation every later append does
 * nothing and pvs_text_take() reports the failure once, so a generator
 * appends freely and checks at the end. */
#ifndef PVS_HOST_TEXT_H
#define PVS_HOST_TEXT_H

#include <stddef.h>

#include "common/log.h"
#define PVS_TEXT_PRINTF(f, a) PVS_PRINTF(f, a)

struct pvs_text {
    char *buf;    /* NUL-terminated once anything was appended; owned */
    size_t len;
    size_t cap;
    int err;      /* 0, or the first error (PVS_ENOMEM, or one a generator set) */
};

#define PVS_TEXT_INIT { NULL, 0, 0, 0 }

void pvs_text_append(struct pvs_text *t, const char *s, size_t n);
void pvs_text_puts(struct pvs_text *t, const char *s);
void pvs_text_printf(struct pvs_text *t, const char *fmt, ...) PVS_TEXT_PRINTF(2, 3);
/* Records an error (the first one wins). */
void pvs_text_fail(struct pvs_text *t, int err);

/* On success hands the string to the caller (free() it; "" when nothing
 * was appended) and returns 0; on error frees the buffer, sets *out = NULL
 * and returns the error. Either way `t` is empty afterwards. */
int pvs_text_take(struct pvs_text *t, char **out);

/* Frees the buffer; `t` may be reused. */
void pvs_text_free(struct pvs_text *t);

/* Appends s as a JSON string: quoted, with '"' and '\\' escaped and control
 * characters as \\u00XX. */
void pvs_text_json_string(struct pvs_text *t, const char *s);

/* Appends s for a plain-text table: control characters (a sysfs value or
 * a name can hold any) become '?'. */
void pvs_text_plain(struct pvs_text *t, const char *s);

/* Writes a message into a caller's buffer of len bytes (an error's "why");
 * does nothing when buf is NULL or len 0. */
void pvs_text_error(char *buf, size_t len, const char *fmt, ...) PVS_TEXT_PRINTF(3, 4);

#ifdef _WIN32
#include <wchar.h>
/* UTF-8 to UTF-16 and back, for the Windows API's W functions. Each
 * returns a new string (the caller frees it), or NULL when out of memory
 * or (pvs_text_wide) s is not valid UTF-8. */
wchar_t *pvs_text_wide(const char *s);
char *pvs_text_utf8(const wchar_t *w);
#endif

#endif
