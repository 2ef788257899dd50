/* Fuzz target for what `pvstream-host vm` reads back from PowerShell
 * (host/vm.h): the check probe's create part (the facts, then the create
 * checks and the edition chosen from them), what a step printed (what it
 * made), and the status probe (and its report). Whatever PowerShell prints
 * must give bounded facts without control characters, a VM id that is a
 * GUID or none, or a clean refusal: never a crash.
 *
 * Input: byte 0 picks the reader (mod 3: facts, step, status); the rest is
 * the text. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/check.h"
#include "host/vm.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_host.h"

static void fuzz_facts(const char *text, size_t len)
{
    static struct pvs_vm_facts f;
    pvs_vm_facts_parse(text, len, &f);
    if (f.image_count < 0 || f.image_count > PVS_VM_MAX_IMAGES ||
        f.switch_count < 0 || f.switch_count > PVS_VM_MAX_SWITCHES ||
        f.gpu_vm_count < 0 || f.gpu_vm_count > PVS_VM_MAX_GPU_VMS)
        abort();
    for (int i = 0; i < f.image_count; i++) {
        if (f.images[i].index < 1 || !f.images[i].name[0])
            abort();
        fuzz_no_control(f.images[i].name, sizeof(f.images[i].name));
        fuzz_no_control(f.images[i].language, sizeof(f.images[i].language));
    }
    fuzz_no_control(f.iso, sizeof(f.iso));
    fuzz_no_control(f.vhd_dir, sizeof(f.vhd_dir));
    fuzz_no_control(f.time_zone, sizeof(f.time_zone));
    for (int i = 0; i < f.switch_count; i++)
        fuzz_no_control(f.switches[i].name, sizeof(f.switches[i].name));
    struct pvs_vm_request req = { .name = "vm", .iso = "x.iso", .pvstream_dir = "." };
    struct pvs_checks c = { NULL, 0, 0 };
    if (pvs_vm_check_items(&req, &f, &c) == 0)
        fuzz_checks_sane(&c);
    pvs_checks_free(&c);
    const struct pvs_vm_image *im = pvs_vm_pick_image(&f, "2", NULL, 0);
    if (im && im->index != 2)
        abort();
}

static void fuzz_step(const char *text, size_t len)
{
    struct pvs_vm_made m;
    memset(&m, 0, sizeof(m));
    char why[256];
    int rc = pvs_vm_made_parse(text, len, &m, why, sizeof(why));
    if (rc != 0 && rc != PVS_EIO && rc != PVS_EBADDATA)
        abort();
    if (m.vm_id[0] && strlen(m.vm_id) != 36)
        abort();
    fuzz_no_control(m.vhd, sizeof(m.vhd));
    fuzz_no_control(m.iso, sizeof(m.iso));
    fuzz_no_control(why, sizeof(why));
    /* Whatever was read, the cleanup script can be written from it. */
    char *script = NULL;
    if (pvs_vm_script_cleanup(&m, &script) != 0)
        abort();
    free(script);
}

static void fuzz_status(const char *text, size_t len)
{
    static struct pvs_vm_status st;
    int rc = pvs_vm_status_parse(text, len, &st);
    if (rc != 0 && rc != PVS_EIO && rc != PVS_EBADDATA)
        abort();
    if (st.address_count < 0 || st.address_count > PVS_VM_MAX_ADDRESSES)
        abort();
    for (int i = 0; i < st.address_count; i++)
        fuzz_no_control(st.addresses[i], sizeof(st.addresses[i]));
    fuzz_no_control(st.setup, sizeof(st.setup));
    fuzz_no_control(st.service, sizeof(st.service));
    char *out = NULL;
    if (rc == 0 && pvs_vm_status_format("vm", &st, &out) == 0)
        free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pvs_log_set_level(PVS_LOG_QUIET);
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        fuzz_facts(text, len);
        break;
    case 1:
        fuzz_step(text, len);
        break;
    default:
        fuzz_status(text, len);
        break;
    }
    return 0;
}
