/* A plan as a table or JSON (see report.h). */
#include <inttypes.h>
#include <stdio.h>

#include "common/error.h"
#include "host/report.h"
#include "host/text.h"

const char *pvs_plan_warning_id(unsigned warning)
{
    switch (warning) {
    case PVS_PLAN_WARN_ADVISORY: return "advisory";
    case PVS_PLAN_WARN_ENCODE_SESSIONS: return "encode-sessions";
    case PVS_PLAN_WARN_IDENTICAL_GPUS: return "identical-gpus";
    default: return NULL;
    }
}

static void put_name(struct pvs_text *t, const char *const *names, int i, int json)
{
    if (names && names[i]) {
        if (json)
            pvs_text_json_string(t, names[i]);
        else
            pvs_text_puts(t, names[i]);
    } else {
        pvs_text_printf(t, json ? "\"vm%d\"" : "vm%d", i + 1);
    }
}

int pvs_plan_format_json(const struct pvs_plan *plan, const char *backend,
                         const char *const *names, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "{\"backend\": ");
    pvs_text_json_string(&t, backend ? backend : "");
    pvs_text_puts(&t, ",\n \"totals\": {");
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
        pvs_text_printf(&t, "%s\"%s\": %" PRIu64, r ? ", " : "",
                        pvs_gpu_resource_name((enum pvs_gpu_resource)r), plan->total[r]);
    pvs_text_puts(&t, "},\n \"vms\": [");
    for (int i = 0; i < plan->vms; i++) {
        const struct pvs_plan_vm *v = &plan->vm[i];
        pvs_text_puts(&t, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        put_name(&t, names, i, 1);
        pvs_text_printf(&t, ", \"weight\": %u", (unsigned)v->weight);
        for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
            pvs_text_printf(&t, ",\n   \"%s\": {\"min\": %" PRIu64 ", \"optimal\": %" PRIu64
                            ", \"max\": %" PRIu64 "}",
                            pvs_gpu_resource_name((enum pvs_gpu_resource)r),
                            v->res[r].min, v->res[r].optimal, v->res[r].max);
        pvs_text_puts(&t, "}");
    }
    pvs_text_puts(&t, "],\n \"warnings\": [");
    int n = 0;
    for (unsigned bit = 1; bit <= PVS_PLAN_WARN_ALL; bit <<= 1) {
        if (!(plan->warnings & bit))
            continue;
        pvs_text_printf(&t, "%s{\"id\": \"%s\", \"message\": ", n++ ? ",\n  " : "\n  ",
                        pvs_plan_warning_id(bit));
        pvs_text_json_string(&t, pvs_plan_warning_text(bit));
        pvs_text_puts(&t, "}");
    }
    pvs_text_puts(&t, "]}\n");
    return pvs_text_take(&t, out);
}

int pvs_plan_format_table(const struct pvs_plan *plan, const char *backend,
                          const char *const *names, char **out)
{
    *out = NULL;
    for (int i = 0; names && i < plan->vms; i++)
        for (const unsigned char *p = (const unsigned char *)(names[i] ? names[i] : ""); *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return PVS_EINVAL;
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_printf(&t, "GPU partition plan: %d VM%s, backend %s\n", plan->vms,
                    plan->vms == 1 ? "" : "s", backend ? backend : "?");
    pvs_text_puts(&t, "totals:");
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
        pvs_text_printf(&t, " %s %" PRIu64, pvs_gpu_resource_name((enum pvs_gpu_resource)r),
                        plan->total[r]);
    pvs_text_puts(&t, "\n");
    for (int i = 0; i < plan->vms; i++) {
        const struct pvs_plan_vm *v = &plan->vm[i];
        pvs_text_puts(&t, "\n");
        put_name(&t, names, i, 0);
        pvs_text_printf(&t, " (weight %u)\n  %-8s %20s %20s %20s\n", (unsigned)v->weight,
                        "", "min", "optimal", "max");
        for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
            pvs_text_printf(&t, "  %-8s %20" PRIu64 " %20" PRIu64 " %20" PRIu64 "\n",
                            pvs_gpu_resource_name((enum pvs_gpu_resource)r),
                            v->res[r].min, v->res[r].optimal, v->res[r].max);
    }
    for (unsigned bit = 1; bit <= PVS_PLAN_WARN_ALL; bit <<= 1)
        if (plan->warnings & bit)
            pvs_text_printf(&t, "\nwarning: %s", pvs_plan_warning_text(bit));
    if (plan->warnings)
        pvs_text_puts(&t, "\n");
    return pvs_text_take(&t, out);
}
