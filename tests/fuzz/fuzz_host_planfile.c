/* Fuzz target for the saved plan file's reader (host/planfile.h): any text
 * gives a plan or a clean refusal with a "name:line:" message, never a read
 * past a buffer. A plan it accepts must hold what the reader promises
 * (1..64 VMs, Min <= Optimal <= Max, shares within the totals), and must
 * write out and read back to the same plan. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/planfile.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct pvs_planfile pf, back;
    char err[512];
    int rc = pvs_planfile_parse((const char *)data, size, "f.ini", &pf, err, sizeof(err));
    if (rc < 0) {
        if (rc != PVS_ECONFIG || strncmp(err, "f.ini", 5))
            abort();
        return 0;
    }
    if (pf.plan.vms < 1 || pf.plan.vms > PVS_PLAN_MAX_VMS)
        abort();
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++) {
        uint64_t sum = 0;
        for (int i = 0; i < pf.plan.vms; i++) {
            const struct pvs_plan_amount *a = &pf.plan.vm[i].res[r];
            if (a->min > a->optimal || a->optimal > a->max || a->max > pf.plan.total[r] - sum)
                abort();
            sum += a->max;
        }
    }
    char *text = NULL;
    if (pvs_planfile_format(&pf, "fuzz", &text, err, sizeof(err)) < 0)
        abort(); /* what was read must write */
    rc = pvs_planfile_parse(text, strlen(text), "again.ini", &back, err, sizeof(err));
    free(text);
    if (rc < 0 || memcmp(&pf.plan, &back.plan, sizeof(pf.plan)) || strcmp(pf.gpu, back.gpu))
        abort();
    for (int i = 0; i < pf.plan.vms; i++)
        if (strcmp(pf.vm[i].name, back.vm[i].name) || strcmp(pf.vm[i].uuid, back.vm[i].uuid))
            abort();
    return 0;
}
