/* The query parameters of one GameStream HTTP(S) request, as the HTTP layer
 * hands them to the modules that answer (gs_pairing.h): name/value pairs,
 * already URL-decoded and NUL-terminated. The strings belong to the caller
 * and must live until the call that takes the query returns. */
#ifndef PVS_GS_QUERY_H
#define PVS_GS_QUERY_H

/* More parameters than this make the request malformed; Moonlight sends
 * fewer than 20. */
#define PVS_GS_QUERY_MAX 32

struct pvs_gs_param {
    const char *name;
    const char *value;
};

struct pvs_gs_query {
    int count;  /* 0..PVS_GS_QUERY_MAX */
    struct pvs_gs_param params[PVS_GS_QUERY_MAX];
};

/* The value of parameter `name` (compared exactly, case-sensitive), or
 * NULL when it is absent, or given more than once: a request that says two
 * things at once is not believed. A NULL or malformed query (count out of
 * range, a NULL name) has no parameters. */
const char *pvs_gs_query_get(const struct pvs_gs_query *q, const char *name);

#endif
