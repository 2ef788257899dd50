/* What the GameStream tests share: reading a header out of an RTSP reply
 * the way the client does. */
#ifndef PVS_TEST_GS_TEST_UTIL_H
#define PVS_TEST_GS_TEST_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The value of header `name` (exact name, as the client's getOptionContent
 * matches it) in a reply's text, up to the line's end, into out; false
 * when absent or when it does not fit in cap. */
static inline bool rtsp_header(const char *head, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *p = strstr(head, key);
    if (!p)
        return false;
    p += strlen(key);
    size_t n = strcspn(p, "\r\n");
    if (n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

#endif
