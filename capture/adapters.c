/* The portable half of capture/adapters.h: vendor names, which encoder an
 * adapter has, and which output to capture. */
#include <stdio.h>
#include <string.h>

#include "capture/adapters.h"
#include "common/error.h"

#ifndef _WIN32
int pvs_gpu_list(struct pvs_gpu_adapter *out, int cap, char *why, size_t why_len)
{
    (void)out;
    (void)cap;
    if (why && why_len)
        snprintf(why, why_len, "adapters are listed through DXGI, on Windows only");
    return PVS_ENOTSUP;
}
#endif

static const struct {
    uint32_t id;
    const char *name;
    const char *family; /* hardware encoder, or NULL */
} vendors[] = {
    { 0x10de, "NVIDIA", "nvenc" },
    { 0x1002, "AMD", "amf" },
    { 0x1022, "AMD", "amf" },
    { 0x8086, "Intel", "qsv" },
    /* Basic Render Driver, Basic Display Adapter, Hyper-V video */
    { 0x1414, "Microsoft", NULL },
    { 0x15ad, "VMware", NULL },
    { 0x1af4, "Red Hat (virtio)", NULL },
    { 0x1234, "QEMU", NULL },
};

const char *pvs_gpu_vendor_name(uint32_t vendor_id, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
        if (vendors[i].id == vendor_id)
            return vendors[i].name;
    snprintf(buf, len, "vendor 0x%04x", (unsigned)vendor_id);
    return buf;
}

const char *pvs_gpu_encoder_family(const struct pvs_gpu_adapter *a)
{
    if (!a || a->software)
        return NULL;
    for (size_t i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
        if (vendors[i].id == a->vendor_id)
            return vendors[i].family;
    return NULL;
}

static bool is_primary(const struct pvs_gpu_output *o)
{
    return o->attached && o->x == 0 && o->y == 0;
}

/* The first adapter that can encode and has no attached output: the
 * partitioned GPU of a GPU-PV guest without a virtual display. */
static int headless_encoder(const struct pvs_gpu_adapter *list, int n)
{
    for (int i = 0; i < n; i++) {
        bool shows = false;
        for (int k = 0; k < list[i].output_count; k++)
            shows |= list[i].outputs[k].attached;
        if (!shows && pvs_gpu_encoder_family(&list[i]))
            return i;
    }
    return -1;
}

int pvs_gpu_choose(const struct pvs_gpu_adapter *list, int n, int want,
                   struct pvs_gpu_choice *c)
{
    memset(c, 0, sizeof(*c));
    c->adapter = c->output = c->encode_adapter = -1;
    if (!list || n < 0)
        n = 0;

    int attached = 0, pick_a = -1, pick_o = -1, primary_a = -1, primary_o = -1;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < list[i].output_count && k < PVS_GPU_MAX_OUTPUTS; k++) {
            const struct pvs_gpu_output *o = &list[i].outputs[k];
            if (!o->attached)
                continue;
            if (want >= 0 && attached == want) {
                pick_a = i;
                pick_o = k;
            }
            attached++;
            if (want < 0 && is_primary(o)) {
                if (primary_a < 0) {
                    primary_a = i;
                    primary_o = k;
                }
                if (pick_a < 0 && pvs_gpu_encoder_family(&list[i])) {
                    pick_a = i;
                    pick_o = k;
                }
            }
        }
    }
    if (attached == 0) {
        snprintf(c->note, sizeof(c->note),
                 "no adapter has a display attached: connect a monitor or a dummy plug, "
                 "or install a virtual display driver");
        return PVS_ENODEV;
    }
    if (want >= attached) {
        /* Counted from 1 in what people read, as --output takes them. */
        snprintf(c->note, sizeof(c->note), "there is no output %d: this machine has %d "
                 "(--output 1 to %d)", want + 1, attached, attached);
        return PVS_ENOENT;
    }
    if (pick_a < 0) {
        pick_a = primary_a;
        pick_o = primary_o;
    }
    if (pick_a < 0) { /* attached outputs, none at 0,0: take the first */
        for (int i = 0; i < n && pick_a < 0; i++)
            for (int k = 0; k < list[i].output_count; k++)
                if (list[i].outputs[k].attached) {
                    pick_a = i;
                    pick_o = k;
                    break;
                }
    }
    c->adapter = pick_a;
    c->output = pick_o;

    const struct pvs_gpu_adapter *a = &list[pick_a];
    if (pvs_gpu_encoder_family(a)) {
        c->encode_adapter = pick_a;
        c->zero_copy = true;
        return 0;
    }
    int gpu = headless_encoder(list, n);
    if (gpu >= 0) {
        c->encode_adapter = gpu;
        snprintf(c->note, sizeof(c->note),
                 "the desktop is on %.60s, which has no hardware encoder; the GPU (%.60s) "
                 "shows no display, so frames go to it through system memory: a virtual "
                 "display on the GPU makes the path zero-copy",
                 a->name, list[gpu].name);
    } else {
        snprintf(c->note, sizeof(c->note),
                 "the desktop is on %.60s, which has no hardware encoder, and no other "
                 "adapter has one: encoding in software",
                 a->name);
    }
    return 0;
}

/* The first attached output's adapter, or -1. */
static int desktop_adapter(const struct pvs_gpu_adapter *list, int n)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < list[i].output_count && k < PVS_GPU_MAX_OUTPUTS; k++)
            if (list[i].outputs[k].attached)
                return i;
    return -1;
}

static bool encoder_shows(const struct pvs_gpu_adapter *list, int n)
{
    for (int i = 0; i < n; i++) {
        if (!pvs_gpu_encoder_family(&list[i]))
            continue;
        for (int k = 0; k < list[i].output_count && k < PVS_GPU_MAX_OUTPUTS; k++)
            if (list[i].outputs[k].attached)
                return true;
    }
    return false;
}

void pvs_gpu_diagnose(const struct pvs_gpu_adapter *list, int n, bool have_virtual_display,
                      struct pvs_gpu_diagnosis *d)
{
    memset(d, 0, sizeof(*d));
    if (!list || n < 0)
        n = 0;
    d->gpu = -1;
    int desk = desktop_adapter(list, n);
    if (encoder_shows(list, n)) {
        d->state = PVS_GPU_DISPLAY_OK;
        snprintf(d->found, sizeof(d->found), "a GPU that encodes shows the desktop");
        return;
    }
    d->gpu = headless_encoder(list, n);
    if (d->gpu < 0) {
        if (desk < 0) {
            d->state = PVS_GPU_DISPLAY_NONE;
            snprintf(d->found, sizeof(d->found), "no display and no GPU that encodes");
            snprintf(d->todo, sizeof(d->todo), "connect a monitor or a dummy plug");
        } else {
            d->state = PVS_GPU_DISPLAY_SOFTWARE;
            snprintf(d->found, sizeof(d->found), "the desktop is on %.60s, and no adapter "
                     "has a hardware encoder", list[desk].name);
            snprintf(d->todo, sizeof(d->todo), "encoding in software; give the VM a GPU "
                     "partition for hardware encoding");
        }
        return;
    }
    d->state = PVS_GPU_DISPLAY_PV;
    const struct pvs_gpu_output *o = NULL;
    for (int k = 0; desk >= 0 && k < list[desk].output_count && !o; k++)
        if (list[desk].outputs[k].attached)
            o = &list[desk].outputs[k];
    if (o)
        snprintf(d->found, sizeof(d->found), "GPU-PV: the GPU (%.60s) shows no display; the "
                 "desktop is on %.60s (%dx%d), which cannot encode",
                 list[d->gpu].name, list[desk].name, o->width, o->height);
    else
        snprintf(d->found, sizeof(d->found), "GPU-PV: the GPU (%.60s) shows no display, and "
                 "no other adapter does", list[d->gpu].name);
    snprintf(d->todo, sizeof(d->todo), "%s", have_virtual_display
             ? "pvstream adds a virtual display on the GPU, at the client's size, while a "
               "client is connected"
             : PVS_GPU_INSTALL_VDD);
}
