/* Looking up GameStream query parameters (gamestream/gs_query.h). */
#include <stddef.h>
#include <string.h>

#include "gamestream/gs_query.h"

const char *pvs_gs_query_get(const struct pvs_gs_query *q, const char *name)
{
    if (!q || !name || q->count < 0 || q->count > PVS_GS_QUERY_MAX)
        return NULL;
    const char *found = NULL;
    for (int i = 0; i < q->count; i++) {
        if (!q->params[i].name)
            return NULL;
        if (strcmp(q->params[i].name, name) != 0)
            continue;
        if (found)
            return NULL;
        found = q->params[i].value ? q->params[i].value : "";
    }
    return found;
}
