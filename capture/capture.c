/* The capture registry: backends in order of preference, and "auto". */
#include <string.h>

#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"

extern const struct pvs_capture_ops pvs_capture_testsrc;
#if PVS_HAVE_X11
extern const struct pvs_capture_ops pvs_capture_x11;
#endif

/* Real desktops first (x11 now, dxgi later): "auto" takes x11 when a display
 * opens. The synthetic source last, so that "auto" on a machine without a
 * desktop still streams something. */
const struct pvs_capture_ops *const pvs_capture_backends[] = {
#if PVS_HAVE_X11
    &pvs_capture_x11,
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
    for (int i = 0; pvs_capture_backends[i]; i++) {
        const struct pvs_capture_ops *ops = pvs_capture_backends[i];
        err = ops->open(out, o);
        if (err == 0) {
            PVS_LOG_I("capture: %s (%s)", ops->name, ops->description);
            return 0;
        }
        PVS_LOG_I("capture %s skipped: %s", ops->name, pvs_strerror(err));
        if (err != PVS_ENODEV && err != PVS_ENOTSUP)
            return err; /* a real failure, not "not here": say so */
    }
    return err;
}

void pvs_capture_close(struct pvs_capture **c)
{
    if (c && *c)
        (*c)->ops->close(c);
}
