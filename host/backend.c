/* The backend registry and the listing's table
 * and JSON (see backend.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "host/backend.h"
#include "host/text.h"

const struct pvs_host_backend_ops *const pvs_host_backends[] = {
    &pvs_host_backend_mdev,
    &pvs_host_backend_sriov,
    &pvs_host_backend_hyperv,
    NULL,
};

const struct pvs_host_backend_ops *pvs_host_backend_find(const char *name)
{
    for (int i = 0; name && pvs_host_backends[i]; i++)
        if (!strcmp(pvs_host_backends[i]->name, name))
            return pvs_host_backends[i];
    return NULL;
}

void pvs_host_gpus_free(struct pvs_host_gpu **gpus, int count)
{
    if (!gpus || !*gpus)
        return;
    for (int i = 0; i < count; i++)
        free((*gpus)[i].types);
    free(*gpus);
    *gpus = NULL;
}

int pvs_host_list_all(const char *sysfs_root, struct pvs_host_gpu **out, int *count,
                      char *why, size_t why_len)
{
    *out = NULL;
    *count = 0;
    struct pvs_host_gpu *all = NULL;
    int n = 0;
    for (int b = 0; pvs_host_backends[b]; b++) {
        struct pvs_host_gpu *part = NULL;
        int k = 0;
        int rc = pvs_host_backends[b]->list(sysfs_root, &part, &k, why, why_len);
        if (rc == PVS_ENOTSUP)
            continue;
        if (rc < 0) {
            pvs_host_gpus_free(&all, n);
            return rc;
        }
        if (k == 0)
            continue;
        struct pvs_host_gpu *p = realloc(all, (size_t)(n + k) * sizeof(*p));
        if (!p) {
            pvs_host_gpus_free(&part, k);
            pvs_host_gpus_free(&all, n);
            pvs_text_error(why, why_len, "out of memory");
            return PVS_ENOMEM;
        }
        all = p;
        memcpy(all + n, part, (size_t)k * sizeof(*part));
        free(part); /* the entries (and their types) moved into all */
        n += k;
    }
    if (why && why_len)
        why[0] = '\0';
    *out = all;
    *count = n;
    return 0;
}

int pvs_host_format_list_json(const struct pvs_host_gpu *gpus, int count, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "{\"gpus\": [");
    for (int i = 0; i < count; i++) {
        const struct pvs_host_gpu *g = &gpus[i];
        pvs_text_puts(&t, i ? ",\n  {\"backend\": " : "\n  {\"backend\": ");
        pvs_text_json_string(&t, g->backend ? g->backend : "");
        pvs_text_puts(&t, ", \"id\": ");
        pvs_text_json_string(&t, g->id);
        pvs_text_printf(&t, ", \"vendor_id\": \"%04x\", \"device_id\": \"%04x\", \"name\": ",
                        (unsigned)g->vendor_id, (unsigned)g->device_id);
        pvs_text_json_string(&t, g->name);
        if (g->backend && !strcmp(g->backend, "sriov")) {
            pvs_text_printf(&t, ", \"total_vfs\": %d, \"num_vfs\": %d", g->total_vfs,
                            g->num_vfs);
        } else if (g->backend && !strcmp(g->backend, "mdev")) {
            pvs_text_puts(&t, ",\n   \"types\": [");
            for (int j = 0; j < g->type_count; j++) {
                const struct pvs_host_mdev_type *ty = &g->types[j];
                pvs_text_puts(&t, j ? ",\n    {\"id\": " : "\n    {\"id\": ");
                pvs_text_json_string(&t, ty->id);
                pvs_text_puts(&t, ", \"name\": ");
                pvs_text_json_string(&t, ty->name);
                pvs_text_puts(&t, ", \"description\": ");
                pvs_text_json_string(&t, ty->description);
                pvs_text_puts(&t, ", \"device_api\": ");
                pvs_text_json_string(&t, ty->device_api);
                pvs_text_printf(&t, ", \"available_instances\": %d}", ty->available_instances);
            }
            pvs_text_puts(&t, "]");
        } else if (g->backend && !strcmp(g->backend, "hyperv")) {
            pvs_text_puts(&t, ",\n   \"partition_counts\": [");
            for (int j = 0; j < g->partition_count_n; j++)
                pvs_text_printf(&t, j ? ", %u" : "%u", (unsigned)g->partition_counts[j]);
            pvs_text_puts(&t, "]");
            for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
                pvs_text_printf(&t, ",\n   \"%s\": {\"total\": %" PRIu64 ", \"available\": %"
                                PRIu64 ", \"min\": %" PRIu64 ", \"max\": %" PRIu64
                                ", \"optimal\": %" PRIu64 "}",
                                pvs_gpu_resource_name((enum pvs_gpu_resource)r),
                                g->res[r].total, g->res[r].available, g->res[r].min,
                                g->res[r].max, g->res[r].optimal);
        }
        pvs_text_puts(&t, "}");
    }
    pvs_text_puts(&t, count ? "\n]}\n" : "]}\n");
    return pvs_text_take(&t, out);
}

/* Text from sysfs is already free of control characters (sysfs.h); ids
 * come from directory names, so they are checked again here. */
int pvs_host_format_list_table(const struct pvs_host_gpu *gpus, int count, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_printf(&t, "%-7s %-13s %-10s %s\n", "backend", "id", "vendor:dev", "name");
    for (int i = 0; i < count; i++) {
        const struct pvs_host_gpu *g = &gpus[i];
        pvs_text_printf(&t, "%-7s ", g->backend ? g->backend : "?");
        pvs_text_plain(&t, g->id);
        for (size_t pad = strlen(g->id); pad < 13; pad++)
            pvs_text_puts(&t, " ");
        pvs_text_printf(&t, " %04x:%04x  ", (unsigned)g->vendor_id, (unsigned)g->device_id);
        pvs_text_plain(&t, *g->name ? g->name : "(unknown: no pci.ids entry)");
        pvs_text_puts(&t, "\n");
        if (g->backend && !strcmp(g->backend, "sriov")) {
            pvs_text_printf(&t, "        virtual functions: %d of %d enabled\n", g->num_vfs,
                            g->total_vfs);
        } else if (g->backend && !strcmp(g->backend, "mdev")) {
            if (!g->type_count)
                pvs_text_puts(&t, "        no readable mdev types\n");
            for (int j = 0; j < g->type_count; j++) {
                const struct pvs_host_mdev_type *ty = &g->types[j];
                pvs_text_puts(&t, "        type ");
                pvs_text_plain(&t, ty->id);
                pvs_text_printf(&t, ": %d available", ty->available_instances);
                if (*ty->name) {
                    pvs_text_puts(&t, ", ");
                    pvs_text_plain(&t, ty->name);
                }
                if (*ty->device_api) {
                    pvs_text_puts(&t, " (");
                    pvs_text_plain(&t, ty->device_api);
                    pvs_text_puts(&t, ")");
                }
                pvs_text_puts(&t, "\n");
            }
        } else if (g->backend && !strcmp(g->backend, "hyperv")) {
            pvs_text_puts(&t, "        partitions:");
            for (int j = 0; j < g->partition_count_n; j++)
                pvs_text_printf(&t, j ? ", %u" : " %u", (unsigned)g->partition_counts[j]);
            pvs_text_puts(&t, g->partition_count_n ? "\n" : " none listed\n");
            for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
                pvs_text_printf(&t, "        %-7s total %" PRIu64 ", available %" PRIu64
                                "; per partition min %" PRIu64 ", max %" PRIu64
                                ", optimal %" PRIu64 "\n",
                                pvs_gpu_resource_name((enum pvs_gpu_resource)r),
                                g->res[r].total, g->res[r].available, g->res[r].min,
                                g->res[r].max, g->res[r].optimal);
        }
    }
    return pvs_text_take(&t, out);
}

static int cmp_gpu(const void *a, const void *b)
{
    return strcmp(((const struct pvs_host_gpu *)a)->id, ((const struct pvs_host_gpu *)b)->id);
}

int pvs_host_list_done(struct pvs_host_gpu *gpus, int n, int rc, const char *backend, char *why,
                       size_t why_len, struct pvs_host_gpu **out, int *count)
{
    if (rc < 0) {
        pvs_host_gpus_free(&gpus, n);
        pvs_text_error(why, why_len, "%s: %s", backend, pvs_strerror(rc));
        return rc;
    }
    if (n > 1)
        qsort(gpus, (size_t)n, sizeof(gpus[0]), cmp_gpu);
    *out = gpus;
    *count = n;
    return 0;
}
