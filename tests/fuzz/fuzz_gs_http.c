/* Fuzz target for the GameStream HTTP request parser (gamestream/gs_http.h):
 * whatever a client sends, the head scanner returns a documented code and a
 * length within the input; the parser, given the head it found (or the
 * whole input when it found none), returns a documented code, and what it
 * accepts is a path beginning with '/' and at most PVS_GS_QUERY_MAX
 * parameters with non-empty names, every string inside the buffer. The
 * query parser alone, on the input as a string, does the same.
 *
 * The corpus (tests/fuzz/corpus/gs_http/) is requests as Moonlight
 * (libcurl) sends them: serverinfo, each pairing step with real-sized hex,
 * applist, launch, appasset, cancel; one with LF line ends, one POST, and a
 * few malformed ones. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gamestream/gs_http.h"
#include "tests/fuzz/fuzz.h"

static bool inside(const char *s, const char *buf, size_t len)
{
    return s && s >= buf && s < buf + len && memchr(s, '\0', (size_t)(buf + len - s));
}

static void check_query(const struct pvs_gs_query *q, const char *buf, size_t len)
{
    if (q->count < 0 || q->count > PVS_GS_QUERY_MAX)
        abort();
    for (int i = 0; i < q->count; i++)
        if (!inside(q->params[i].name, buf, len) || !q->params[i].name[0] ||
            !inside(q->params[i].value, buf, len))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One byte over the head's limit is all a connection ever buffers. */
    if (size > PVS_GS_HTTP_HEAD_MAX + 1)
        size = PVS_GS_HTTP_HEAD_MAX + 1;
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';

    bool line_too_long = false;
    int n = pvs_gs_http_head_length(buf, size, &line_too_long);
    if (n != 0 && n != PVS_ERANGE && n != PVS_EBADDATA && (n < 0 || (size_t)n > size))
        abort();
    if (line_too_long && n != PVS_ERANGE)
        abort();

    size_t len = n > 0 ? (size_t)n : size;
    struct pvs_gs_http_parsed p;
    int rc = pvs_gs_http_parse(buf, len, &p);
    if (rc == 0 || rc == PVS_ENOTSUP) {
        if (!inside(p.path, buf, len) || p.path[0] != '/')
            abort();
        if (p.headers < 0 || p.headers > PVS_GS_HTTP_HEADERS_MAX)
            abort();
        check_query(&p.query, buf, len);
    } else if (rc != PVS_EBADDATA) {
        abort();
    }

    memcpy(buf, data, size);
    buf[size] = '\0';
    struct pvs_gs_query q;
    rc = pvs_gs_query_parse(buf, &q);
    if (rc == 0)
        check_query(&q, buf, size + 1);
    else if (rc != PVS_EBADDATA)
        abort();
    free(buf);
    return 0;
}
