/* Fuzz target for what drivers sync reads back from a guest and from
 * PowerShell: the drivers manifest (host/manifest.h) and the Windows
 * step's key=value output (host/drivers.h). Byte 0 picks (even: manifest,
 * odd: PowerShell output); the rest is the text.
 *
 * A manifest that parses must hold only paths pvs_manifest_path_ok takes
 * (so a doctored manifest cannot make sync delete outside Windows/) and
 * must survive a format and parse round trip unchanged. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/drivers.h"
#include "host/manifest.h"
#include "tests/fuzz/fuzz.h"

static void manifest(const char *text, size_t len)
{
    struct pvs_manifest m, back;
    char why[256];
    int rc = pvs_manifest_parse(text, len, &m, why, sizeof(why));
    if (rc < 0) {
        if (m.count || (rc != PVS_EBADDATA && rc != PVS_ENOMEM))
            abort();
        return;
    }
    for (int i = 0; i < m.count; i++)
        if (!pvs_manifest_path_ok(m.files[i].path) || strlen(m.files[i].sha256) != 64)
            abort();
    if (*m.package && !pvs_manifest_name_ok(m.package))
        abort();
    char *out = NULL;
    if (pvs_manifest_format(&m, &out) == 0) {
        /* Values with " = " or a newline cannot come back the same; the
         * parser only takes single lines, so they cannot be in m. */
        if (pvs_manifest_parse(out, strlen(out), &back, why, sizeof(why)) != 0 ||
            back.count != m.count || strcmp(back.package, m.package) ||
            strcmp(back.driver_version, m.driver_version))
            abort();
        for (int i = 0; i < m.count; i++)
            if (strcmp(back.files[i].path, m.files[i].path) || back.files[i].size != m.files[i].size)
                abort();
        pvs_manifest_free(&back);
    }
    free(out);
    pvs_manifest_free(&m);
}

static void probe(const char *text, size_t len)
{
    struct pvs_drivers_probe *p = malloc(sizeof(*p));
    if (!p)
        return;
    pvs_drivers_probe_parse(text, len, p);
    if (p->disk_count > PVS_DRIVERS_MAX_DISKS || p->windows_count > PVS_DRIVERS_MAX_DISKS ||
        p->mounted_count > PVS_DRIVERS_MAX_DISKS)
        abort();
    const char *root = NULL;
    char pkg[PVS_DRIVERS_VALUE_MAX], why[1024];
    int rc = pvs_drivers_probe_pick(p, "vm", &root, pkg, sizeof(pkg), why, sizeof(why));
    if (rc == 0 && (!root || !*pkg))
        abort();
    char *script = NULL;
    if (pvs_drivers_dismount_script(p, &script) == 0)
        free(script);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pvs_log_set_level(PVS_LOG_QUIET);
    if (size < 1)
        return 0;
    /* A private NUL-terminated copy: the parsers take lengths, but the
     * copy catches reads past the end under ASan. */
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    if (data[0] & 1)
        probe(text, size - 1);
    else
        manifest(text, size - 1);
    free(text);
    return 0;
}
