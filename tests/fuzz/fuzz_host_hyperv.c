/* Fuzz target for the Hyper-V backend's parsers of what PowerShell prints
 * (host/hyperv.h): the list probe's output, the check probe's output, and
 * GPU instance paths. Whatever the probe prints must give GPUs with
 * well-formed ids, check results with bounded text, or a clean refusal.
 *
 * Input: byte 0 picks the parser (mod 4: list, check for the host, check
 * with a VM, instance path); the rest is the text. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/check.h"
#include "host/hyperv.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_host.h"

static void fuzz_list(const char *text, size_t len)
{
    struct pvs_host_gpu *g = NULL;
    int n = 0;
    char why[256];
    int rc = pvs_hyperv_parse_list(text, len, &g, &n, why, sizeof(why));
    if (rc != 0 && rc != PVS_EBADDATA && rc != PVS_EIO && rc != PVS_ENOMEM)
        abort();
    if (rc != 0 && (g || n))
        abort();
    for (int i = 0; i < n; i++) {
        /* Every id listed is an instance path that parses back. */
        if (strnlen(g[i].id, sizeof(g[i].id)) == sizeof(g[i].id) ||
            pvs_hyperv_parse_instance_path(g[i].id, NULL, NULL) != 0)
            abort();
        if (g[i].partition_count_n < 0 || g[i].partition_count_n > PVS_HOST_MAX_PARTITION_COUNTS)
            abort();
        for (const char *p = g[i].name; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
    }
    pvs_host_gpus_free(&g, n);
}

static void fuzz_check(const char *text, size_t len, const char *vm)
{
    struct pvs_checks c = { 0 };
    char why[256];
    int rc = pvs_hyperv_parse_check(text, len, vm, &c, why, sizeof(why));
    if (rc != 0 && rc != PVS_EBADDATA && rc != PVS_EIO && rc != PVS_ENOMEM)
        abort();
    fuzz_checks_sane(&c);
    pvs_checks_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pvs_log_set_level(PVS_LOG_QUIET);
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_list(text, len);
        break;
    case 1:
        fuzz_check(text, len, NULL);
        break;
    case 2:
        fuzz_check(text, len, "vm");
        break;
    default: {
        char path[512];
        size_t n = len < sizeof(path) - 1 ? len : sizeof(path) - 1;
        memcpy(path, text, n);
        path[n] = '\0';
        uint16_t v, d;
        (void)pvs_hyperv_parse_instance_path(path, &v, &d);
        break;
    }
    }
    return 0;
}
