/* The virtual display and mode decisions (capture/vdisplay.h). */
#include "capture/vdisplay.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

const char *const pvs_vdisplay_policy_names[] = { "auto", "keep", "off", NULL };

#ifndef _WIN32
const struct pvs_display_ops *pvs_display_system_ops(void)
{
    return NULL;
}
#endif

struct pvs_vdisplay {
    const struct pvs_display_ops *ops;
    void *ctx;
    enum pvs_vdisplay_policy policy;
    int output;                      /* --output */
    bool driver_open;
    bool driver_missing;             /* said once: not again each session */
    bool added;                      /* a monitor of ours exists */
    char added_name[32];             /* its output, once it showed */
    bool mode_set;                   /* a mode of ours is set on mode_name */
    char mode_name[32];
    int64_t pinged_ms;
    struct pvs_gpu_adapter list[PVS_GPU_MAX_ADAPTERS];
    int n;
};

int pvs_vdisplay_open(struct pvs_vdisplay **out, const struct pvs_display_ops *ops, void *ctx,
                      enum pvs_vdisplay_policy policy, int output)
{
    if (!out || !ops || !ops->list || !ops->modes || !ops->set_mode || !ops->now_ms ||
        !ops->sleep_ms)
        return PVS_EINVAL;
    struct pvs_vdisplay *d = calloc(1, sizeof(*d));
    if (!d)
        return PVS_ENOMEM;
    d->ops = ops;
    d->ctx = ctx;
    d->policy = policy;
    d->output = output;
    *out = d;
    return 0;
}

static void note(struct pvs_vdisplay_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct pvs_vdisplay_result *r, const char *fmt, ...)
{
    size_t used = strlen(r->note);
    if (used + 3 >= sizeof(r->note))
        return;
    if (used)
        strcat(r->note, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->note + strlen(r->note), sizeof(r->note) - strlen(r->note), fmt, ap);
    va_end(ap);
}

static int relist(struct pvs_vdisplay *d, char *why, size_t why_len)
{
    int n = d->ops->list(d->ctx, d->list, PVS_GPU_MAX_ADAPTERS, why, why_len);
    d->n = n > 0 ? n : 0;
    return n;
}

/* The --output number (from 1) of the attached output called `name`, or 0. */
static int number_of(const struct pvs_vdisplay *d, const char *name)
{
    int number = 0;
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < d->list[i].output_count && k < PVS_GPU_MAX_OUTPUTS; k++) {
            const struct pvs_gpu_output *o = &d->list[i].outputs[k];
            if (!o->attached)
                continue;
            number++;
            if (!strcmp(o->name, name))
                return number;
        }
    return 0;
}

/* ---- the mode on an existing output ---------------------------------------- */

/* Sets the mode closest to `want` on `name`. Returns true when the output
 * shows it (set now, or already). */
static bool set_closest(struct pvs_vdisplay *d, const char *name,
                        const struct pvs_display_mode *want, struct pvs_vdisplay_result *r)
{
    struct pvs_display_mode modes[PVS_VDISPLAY_MAX_MODES];
    struct pvs_display_mode now = { 0, 0, 0 };
    char why[200] = "", a[48], b[48];
    int n = d->ops->modes(d->ctx, name, modes, PVS_VDISPLAY_MAX_MODES, &now, why, sizeof(why));
    r->mode = now;
    if (n <= 0) {
        note(r, "cannot list the modes of %s (%s): streaming it as it is", name,
             n < 0 && why[0] ? why : "none");
        return false;
    }
    const struct pvs_display_mode *pick = &modes[pvs_display_mode_choose(modes, n, want, &now)];
    if (pvs_display_mode_equal(pick, &now)) {
        note(r, "%s already shows %s", name, pvs_display_mode_format(&now, a, sizeof(a)));
        return true;
    }
    int err = d->ops->set_mode(d->ctx, name, pick, why, sizeof(why));
    if (err) {
        note(r, "cannot set %s on %s (%s): streaming it at %s",
             pvs_display_mode_format(pick, a, sizeof(a)), name, why[0] ? why : pvs_strerror(err),
             pvs_display_mode_format(&now, b, sizeof(b)));
        return false;
    }
    if (!d->mode_set || strcmp(d->mode_name, name)) {
        d->mode_set = true;
        snprintf(d->mode_name, sizeof(d->mode_name), "%s", name);
    }
    r->mode = *pick;
    r->mode_set = true;
    note(r, "%s set to %s (asked: %s)", name, pvs_display_mode_format(pick, a, sizeof(a)),
         pvs_display_mode_format(want, b, sizeof(b)));
    return true;
}

/* The output pvs_gpu_choose would capture, by name. */
static const char *captured_name(const struct pvs_vdisplay *d)
{
    struct pvs_gpu_choice c;
    if (pvs_gpu_choose(d->list, d->n, d->output > 0 ? d->output - 1 : -1, &c) != 0)
        return NULL;
    return d->list[c.adapter].outputs[c.output].name;
}

static void on_existing(struct pvs_vdisplay *d, const struct pvs_display_mode *want,
                        struct pvs_vdisplay_result *r)
{
    const char *name = captured_name(d);
    if (!name) {
        note(r, "no output to set the client's mode on");
        return;
    }
    if (!pvs_display_mode_is_empty(want))
        set_closest(d, name, want, r);
}

/* ---- the virtual monitor ------------------------------------------------------ */

static bool driver_ready(struct pvs_vdisplay *d, struct pvs_vdisplay_result *r)
{
    if (d->driver_open)
        return true;
    if (!d->ops->vdd_open) {
        note(r, "no virtual display driver on this system");
        return false;
    }
    char why[200] = "";
    int err = d->ops->vdd_open(d->ctx, why, sizeof(why));
    if (err == PVS_ENODEV) {
        if (!d->driver_missing)
            note(r, "no virtual display driver: %s", PVS_GPU_INSTALL_VDD);
        d->driver_missing = true;
        return false;
    }
    if (err) {
        note(r, "the virtual display driver does not answer: %s", why[0] ? why : pvs_strerror(err));
        return false;
    }
    d->driver_open = true;
    d->driver_missing = false;
    d->pinged_ms = d->ops->now_ms(d->ctx);
    return true;
}

/* An attached output that `before` (names, one per slot) does not have. */
static const char *new_output(const struct pvs_vdisplay *d, char before[][32], int count)
{
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < d->list[i].output_count && k < PVS_GPU_MAX_OUTPUTS; k++) {
            const struct pvs_gpu_output *o = &d->list[i].outputs[k];
            bool seen = false;
            for (int j = 0; j < count && !seen; j++)
                seen = !strcmp(before[j], o->name);
            if (o->attached && !seen)
                return o->name;
        }
    return NULL;
}

static int names_of(const struct pvs_vdisplay *d, char names[][32], int cap)
{
    int count = 0;
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < d->list[i].output_count && k < PVS_GPU_MAX_OUTPUTS; k++)
            if (d->list[i].outputs[k].attached && count < cap)
                snprintf(names[count++], 32, "%s", d->list[i].outputs[k].name);
    return count;
}

/* Adds a monitor at `mode` on the GPU and waits for it to show. */
static bool add_monitor(struct pvs_vdisplay *d, const struct pvs_display_mode *mode,
                        uint64_t luid, struct pvs_vdisplay_result *r)
{
    char before[PVS_GPU_MAX_ADAPTERS * PVS_GPU_MAX_OUTPUTS][32];
    int count = names_of(d, before, PVS_GPU_MAX_ADAPTERS * PVS_GPU_MAX_OUTPUTS);
    char why[200] = "", a[48];
    int err = d->ops->vdd_add(d->ctx, mode, luid, why, sizeof(why));
    if (err) {
        note(r, "the virtual display driver could not add a monitor at %s: %s",
             pvs_display_mode_format(mode, a, sizeof(a)), why[0] ? why : pvs_strerror(err));
        return false;
    }
    d->added = true;
    d->added_name[0] = '\0';
    int64_t until = d->ops->now_ms(d->ctx) + PVS_VDISPLAY_WAIT_MS;
    for (;;) {
        const char *name = relist(d, why, sizeof(why)) > 0 ? new_output(d, before, count) : NULL;
        if (name) {
            snprintf(d->added_name, sizeof(d->added_name), "%s", name);
            return true;
        }
        if (d->ops->now_ms(d->ctx) >= until)
            break;
        d->ops->sleep_ms(d->ctx, PVS_VDISPLAY_POLL_MS);
        pvs_vdisplay_tick(d);
    }
    note(r, "the virtual monitor did not show among the outputs within %d s; removed",
         PVS_VDISPLAY_WAIT_MS / 1000);
    d->ops->vdd_remove(d->ctx);
    d->added = false;
    relist(d, why, sizeof(why));
    return false;
}

/* The mode a new monitor starts at: what was asked, the rest from the
 * output captured now, else 1920x1080 at 60 Hz. */
static struct pvs_display_mode start_mode(const struct pvs_vdisplay *d,
                                          const struct pvs_display_mode *want)
{
    struct pvs_display_mode m = *want;
    struct pvs_gpu_choice c;
    if ((m.width <= 0 || m.height <= 0) &&
        pvs_gpu_choose(d->list, d->n, -1, &c) == 0) {
        m.width = d->list[c.adapter].outputs[c.output].width;
        m.height = d->list[c.adapter].outputs[c.output].height;
    }
    if (m.width <= 0 || m.height <= 0) {
        m.width = 1920;
        m.height = 1080;
    }
    if (m.hz <= 0)
        m.hz = 60;
    return m;
}

/* A monitor of ours, kept from the last client and still there. */
static bool reuse_kept(struct pvs_vdisplay *d, const struct pvs_display_mode *want,
                       struct pvs_vdisplay_result *r)
{
    if (!d->added || !d->added_name[0] || !number_of(d, d->added_name))
        return false;
    note(r, "the kept virtual monitor %s is reused", d->added_name);
    if (!pvs_display_mode_is_empty(want))
        set_closest(d, d->added_name, want, r);
    return true;
}

static bool on_virtual(struct pvs_vdisplay *d, const struct pvs_display_mode *want,
                       const struct pvs_gpu_diagnosis *diag, struct pvs_vdisplay_result *r)
{
    if (!reuse_kept(d, want, r)) {
        if (d->added) { /* gone, or never showed: start over */
            d->ops->vdd_remove(d->ctx);
            d->added = false;
        }
        if (!driver_ready(d, r))
            return false;
        struct pvs_display_mode m = start_mode(d, want);
        uint64_t luid = diag->gpu >= 0 ? d->list[diag->gpu].luid : 0;
        if (!add_monitor(d, &m, luid, r))
            return false;
        char a[48];
        note(r, "virtual monitor %s added at %s", d->added_name,
             pvs_display_mode_format(&m, a, sizeof(a)));
        r->mode = m;
        /* The driver makes the asked mode the preferred one; a refresh it
         * could not take is set like on any output. */
        set_closest(d, d->added_name, &m, r);
    }
    r->virtual_display = true;
    r->output = number_of(d, d->added_name);
    return r->output > 0;
}

/* ---- the session ------------------------------------------------------------ */

void pvs_vdisplay_begin(struct pvs_vdisplay *d, const struct pvs_display_mode *want,
                        struct pvs_vdisplay_result *r)
{
    memset(r, 0, sizeof(*r));
    if (!d)
        return;
    r->output = d->output;
    struct pvs_display_mode w = want ? *want : (struct pvs_display_mode){ 0, 0, 0 };
    char why[200] = "";
    if (relist(d, why, sizeof(why)) <= 0) {
        note(r, "cannot list the displays (%s): capturing as configured", why);
        return;
    }
    struct pvs_gpu_diagnosis diag;
    pvs_gpu_diagnose(d->list, d->n, d->driver_open || (d->ops->vdd_open && !d->driver_missing),
                     &diag);
    bool virtual = d->policy != PVS_VDISPLAY_OFF && d->output == 0 &&
                   (diag.state == PVS_GPU_DISPLAY_PV || d->added);
    if (diag.state != PVS_GPU_DISPLAY_OK) /* what to do, unless a monitor is added for it */
        note(r, "%s%s%s", diag.found, virtual ? "" : ": ", virtual ? "" : diag.todo);
    if (virtual && on_virtual(d, &w, &diag, r))
        return;
    if (virtual)
        note(r, "capturing the existing output instead");
    r->output = d->output;
    on_existing(d, &w, r);
}

void pvs_vdisplay_end(struct pvs_vdisplay *d)
{
    if (!d)
        return;
    if (d->mode_set) {
        char why[200] = "";
        int err = d->ops->set_mode(d->ctx, d->mode_name, NULL, why, sizeof(why));
        if (err)
            PVS_LOG_W("display: cannot restore the mode of %s: %s", d->mode_name,
                      why[0] ? why : pvs_strerror(err));
        else
            PVS_LOG_I("display: %s is back at its saved mode", d->mode_name);
        d->mode_set = false;
    }
    if (d->added && d->policy != PVS_VDISPLAY_KEEP) {
        d->ops->vdd_remove(d->ctx);
        d->added = false;
        PVS_LOG_I("display: the virtual monitor %s is removed", d->added_name);
    }
}

void pvs_vdisplay_tick(struct pvs_vdisplay *d)
{
    if (!d || !d->driver_open || !d->ops->vdd_ping)
        return;
    int64_t now = d->ops->now_ms(d->ctx);
    if (now - d->pinged_ms < PVS_VDISPLAY_PING_MS)
        return;
    d->ops->vdd_ping(d->ctx);
    d->pinged_ms = now;
}

void pvs_vdisplay_close(struct pvs_vdisplay **pd)
{
    struct pvs_vdisplay *d = pd ? *pd : NULL;
    if (!d)
        return;
    d->policy = PVS_VDISPLAY_AUTO; /* a kept monitor goes with the server */
    pvs_vdisplay_end(d);
    if (d->driver_open && d->ops->vdd_close)
        d->ops->vdd_close(d->ctx);
    free(d);
    *pd = NULL;
}
