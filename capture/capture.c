/* The capture registry: backends in order of preference, and "auto". */
#include <stdio.h>
#include <string.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"

extern const struct pvs_capture_ops pvs_capture_testsrc;
#if PVS_HAVE_X11
extern const struct pvs_capture_ops pvs_capture_x11;
#endif
#if PVS_HAVE_WINDOWS_CAPTURE
extern const struct pvs_capture_ops pvs_capture_dxgi;
extern const struct pvs_capture_ops pvs_capture_gdi;
#endif

/* Real desktops first: "auto" takes x11 when a display opens; on Windows
 * Desktop Duplication, then GDI where duplication cannot run. The synthetic
 * source last, so that "auto" on a machine without a desktop still streams
 * something. */
const struct pvs_capture_ops *const pvs_capture_backends[] = {
#if PVS_HAVE_X11
    &pvs_capture_x11,
#endif
#if PVS_HAVE_WINDOWS_CAPTURE
    &pvs_capture_dxgi,
    &pvs_capture_gdi,
#endif
    &pvs_capture_testsrc,
    NULL,
};

const char *const pvs_content_names[] = { "static", "desktop", "game", NULL };

const struct pvs_capture_ops *pvs_capture_find(const char *name)
{
    for (int i = 0; pvs_capture_backends[i]; i++)
        if (!strcmp(pvs_capture_backends[i]->name, name))
            return pvs_capture_backends[i];
    return NULL;
}

/* Appends "a: b" (or just "a"), after "; " when not the first, to buf;
 * cut short when it is full. */
static void note(char *buf, size_t size, const char *a, const char *b)
{
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, "%s%s%s%s", n ? "; " : "", a, b ? ": " : "", b ? b : "");
}

int pvs_capture_open(struct pvs_capture **out, const char *name,
                     const struct pvs_capture_opts *o)
{
    *out = NULL;
    if (name && strcmp(name, "auto")) {
        const struct pvs_capture_ops *ops = pvs_capture_find(name);
        if (!ops) {
            PVS_LOG_E("unknown capture backend '%s'", name);
            return PVS_EINVAL;
        }
        int err = ops->open(out, o);
        if (err < 0)
            PVS_LOG_E("capture %s: %s", name, pvs_strerror(err));
        return err;
    }
    int err = PVS_ENODEV;
    char passed[256] = ""; /* what was passed over, and why */
    for (int i = 0; pvs_capture_backends[i]; i++) {
        const struct pvs_capture_ops *ops = pvs_capture_backends[i];
        err = ops->open(out, o);
        if (err == 0) {
            if (passed[0])
                PVS_LOG_I("capture: %s (%s), falling back: %s", ops->name, ops->description,
                          passed);
            else
                PVS_LOG_I("capture: %s (%s)", ops->name, ops->description);
            return 0;
        }
        PVS_LOG_I("capture %s skipped: %s", ops->name, pvs_strerror(err));
        note(passed, sizeof(passed), ops->name, pvs_strerror(err));
        if (err != PVS_ENODEV && err != PVS_ENOTSUP)
            return err; /* a real failure, not "not here": say so */
    }
    return err;
}

struct pvs_capture *pvs_capture_open_gpu(int output)
{
    struct pvs_capture_opts co = { .output = output, .gpu_frames = true };
    for (int i = 0; pvs_capture_backends[i]; i++) {
        const struct pvs_capture_ops *ops = pvs_capture_backends[i];
        struct pvs_capture *c = NULL;
        if (!ops->d3d11_device || ops->open(&c, &co) != 0)
            continue;
        if (pvs_capture_d3d11_device(c))
            return c;
        pvs_capture_close(&c);
    }
    return NULL;
}

void pvs_capture_close(struct pvs_capture **c)
{
    if (c && *c)
        (*c)->ops->close(c);
}
