/* capture/vdisplay.h, driven by a scripted fake of the Windows calls: a
 * GPU-PV guest with and without the virtual display driver, a GPU with a
 * monitor, a mode that cannot be set, a monitor that never shows, keep,
 * off, --output, and the keep-alive pings. */
#include <string.h>

#include "capture/vdisplay.h"
#include "common/error.h"
#include "tests/unit/test.h"

struct fake {
    struct pvs_gpu_adapter list[3];
    int n;
    int64_t now;
    bool installed, add_fails, set_fails, never_shows;
    int gpu;                           /* the adapter a monitor is added to */
    int64_t shows_at;                  /* when the added monitor appears; -1: none added */
    struct pvs_display_mode added_mode, current, saved; /* saved: the registry's */
    uint64_t added_luid;
    int opens, adds, removes, pings, sets, restores;
    struct pvs_display_mode set;
};

static struct fake F;

static int f_list(void *ctx, struct pvs_gpu_adapter *out, int cap, char *why, size_t len)
{
    (void)ctx, (void)why, (void)len;
    struct pvs_gpu_adapter *gpu = &F.list[F.gpu];
    bool shown = gpu->output_count > 0 && !strcmp(gpu->outputs[gpu->output_count - 1].name,
                                                  "\\\\.\\DISPLAY9");
    if (F.shows_at >= 0 && F.now >= F.shows_at && !F.never_shows && !shown) {
        struct pvs_gpu_output *o = &gpu->outputs[gpu->output_count++];
        memset(o, 0, sizeof(*o));
        snprintf(o->name, sizeof(o->name), "\\\\.\\DISPLAY9");
        o->width = F.added_mode.width;
        o->height = F.added_mode.height;
        o->attached = true;
    }
    int n = F.n < cap ? F.n : cap;
    memcpy(out, F.list, sizeof(out[0]) * (size_t)n);
    return n;
}

static const struct pvs_display_mode offered[] = {
    {2560, 1440, 60}, {2560, 1440, 120}, {1920, 1080, 60}, {1280, 720, 60}, {1024, 768, 60},
};

static int f_modes(void *ctx, const char *name, struct pvs_display_mode *out, int cap,
                   struct pvs_display_mode *current, char *why, size_t len)
{
    (void)ctx, (void)name, (void)why, (void)len;
    int n = (int)(sizeof(offered) / sizeof(offered[0]));
    memcpy(out, offered, sizeof(offered[0]) * (size_t)(n < cap ? n : cap));
    *current = F.current;
    return n;
}

static int f_set_mode(void *ctx, const char *name, const struct pvs_display_mode *m, char *why,
                      size_t len)
{
    (void)ctx, (void)name;
    if (!m) {
        F.restores++;
        F.current = F.saved;
        return 0;
    }
    F.sets++;
    if (F.set_fails) {
        snprintf(why, len, "DISP_CHANGE_BADMODE");
        return PVS_EIO;
    }
    F.set = *m;
    F.current = *m;
    return 0;
}

static int f_vdd_open(void *ctx, char *why, size_t len)
{
    (void)ctx, (void)why, (void)len;
    F.opens++;
    return F.installed ? 0 : PVS_ENODEV;
}

static int f_vdd_add(void *ctx, const struct pvs_display_mode *m, uint64_t luid, char *why,
                     size_t len)
{
    (void)ctx;
    F.adds++;
    if (F.add_fails) {
        snprintf(why, len, "STATUS_TOO_MANY_NODES");
        return PVS_EIO;
    }
    F.added_mode = *m;
    F.current = *m;
    F.added_luid = luid;
    F.shows_at = F.now + 700; /* Windows takes a moment to attach it */
    return 0;
}

static void f_vdd_remove(void *ctx)
{
    (void)ctx;
    F.removes++;
    F.shows_at = -1;
    struct pvs_gpu_adapter *gpu = &F.list[F.gpu];
    if (gpu->output_count && !strcmp(gpu->outputs[gpu->output_count - 1].name, "\\\\.\\DISPLAY9"))
        gpu->output_count--;
}

static void f_vdd_ping(void *ctx) { (void)ctx; F.pings++; }
static void f_vdd_close(void *ctx) { (void)ctx; }
static int64_t f_now(void *ctx) { (void)ctx; return F.now; }
static void f_sleep(void *ctx, int ms) { (void)ctx; F.now += ms; }

static const struct pvs_display_ops ops = {
    f_list, f_modes, f_set_mode, f_vdd_open, f_vdd_add, f_vdd_remove, f_vdd_ping, f_vdd_close,
    f_now, f_sleep,
};

static struct pvs_gpu_adapter adapter(const char *name, uint32_t vendor, uint64_t luid)
{
    struct pvs_gpu_adapter a;
    memset(&a, 0, sizeof(a));
    snprintf(a.name, sizeof(a.name), "%s", name);
    a.vendor_id = vendor;
    a.luid = luid;
    return a;
}

static void add_output(struct pvs_gpu_adapter *a, const char *name, int w, int h)
{
    struct pvs_gpu_output *o = &a->outputs[a->output_count++];
    snprintf(o->name, sizeof(o->name), "%s", name);
    o->width = w;
    o->height = h;
    o->attached = true;
}

/* Hyper-V video shows 1024x768; the partitioned GPU shows nothing. */
static void gpu_pv(bool installed)
{
    memset(&F, 0, sizeof(F));
    F.list[0] = adapter("Microsoft Hyper-V Video", 0x1414, 0x11);
    F.list[1] = adapter("NVIDIA GeForce RTX 4090", 0x10de, 0x2222);
    F.n = 2;
    F.gpu = 1;
    add_output(&F.list[0], "\\\\.\\DISPLAY1", 1024, 768);
    F.current = F.saved = (struct pvs_display_mode){1024, 768, 60};
    F.installed = installed;
    F.shows_at = -1;
    F.now = 1000;
}

static const struct pvs_display_mode want = {2560, 1440, 120};

static void test_gpu_pv_adds_monitor(void)
{
    gpu_pv(true);
    struct pvs_vdisplay *d = NULL;
    CHECK_INT(pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_AUTO, 0), ==, 0);
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(d, &want, &r);
    CHECK_INT(F.adds, ==, 1);
    CHECK(pvs_display_mode_equal(&F.added_mode, &want));
    CHECK_INT(F.added_luid, ==, 0x2222);     /* on the GPU, so capture and encode stay there */
    CHECK(r.virtual_display);
    CHECK_INT(r.output, ==, 2);              /* after Hyper-V's DISPLAY1 */
    CHECK(pvs_display_mode_equal(&r.mode, &want));
    CHECK_INT(F.sets, ==, 0);                /* it came up at the asked mode */
    CHECK(strstr(r.note, "GPU-PV") != NULL);
    CHECK(strstr(r.note, "DISPLAY9 added at 2560x1440 at 120 Hz") != NULL);
    pvs_vdisplay_end(d);
    CHECK_INT(F.removes, ==, 1);
    CHECK_INT(F.restores, ==, 0);
    pvs_vdisplay_close(&d);
    CHECK(d == NULL);
    CHECK_INT(F.removes, ==, 1);
}

/* Without the driver: one line saying what to install, then the closest
 * mode on the output there is, restored when the client leaves. */
static void test_gpu_pv_without_driver(void)
{
    gpu_pv(false);
    struct pvs_vdisplay *d = NULL;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_AUTO, 0);
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(d, &want, &r);
    CHECK(strstr(r.note, "SudoVDA") != NULL);
    CHECK(!r.virtual_display);
    CHECK_INT(r.output, ==, 0);
    CHECK(r.mode_set);
    CHECK(pvs_display_mode_equal(&F.set, &want)); /* the fake's list has it */
    pvs_vdisplay_end(d);
    CHECK_INT(F.restores, ==, 1);
    /* Said once, not at every client. */
    pvs_vdisplay_begin(d, &want, &r);
    CHECK(strstr(r.note, "SudoVDA") == NULL);
    CHECK_INT(F.opens, ==, 2);   /* asked again: it may have been installed since */
    pvs_vdisplay_close(&d);
    CHECK_INT(F.restores, ==, 2);
    CHECK_INT(F.adds, ==, 0);
}

/* A GPU with its own monitor: no virtual display, the mode set on it. */
static void test_monitor_on_gpu(void)
{
    gpu_pv(true);
    add_output(&F.list[1], "\\\\.\\DISPLAY2", 1920, 1080);
    F.list[0].output_count = 0;
    struct pvs_vdisplay *d = NULL;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_AUTO, 0);
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(d, &want, &r);
    CHECK_INT(F.opens, ==, 0);
    CHECK(!r.virtual_display);
    CHECK(r.mode_set);
    CHECK(pvs_display_mode_equal(&F.set, &want));
    CHECK(strstr(r.note, "DISPLAY2 set to 2560x1440 at 120 Hz") != NULL);
    /* The same client again: already there, nothing set. */
    pvs_vdisplay_begin(d, &want, &r);
    CHECK_INT(F.sets, ==, 1);
    CHECK(strstr(r.note, "already shows") != NULL);
    /* Nothing asked: nothing touched. */
    struct pvs_display_mode none = {0, 0, 0};
    pvs_vdisplay_begin(d, &none, &r);
    CHECK_INT(F.sets, ==, 1);
    pvs_vdisplay_close(&d);
    CHECK_INT(F.restores, ==, 1);
}

/* A mode Windows refuses is reported, and the stream goes on at the
 * output's mode: never a black stream. */
static void test_mode_refused(void)
{
    gpu_pv(false);
    F.set_fails = true;
    struct pvs_vdisplay *d = NULL;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_OFF, 0);
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(d, &want, &r);
    CHECK(!r.mode_set);
    CHECK(strstr(r.note, "cannot set 2560x1440 at 120 Hz on \\\\.\\DISPLAY1 "
                         "(DISP_CHANGE_BADMODE): streaming it at 1024x768 at 60 Hz") != NULL);
    CHECK(pvs_display_mode_equal(&r.mode, &F.current));
    CHECK_INT(F.opens, ==, 0);           /* off: the driver is not even asked */
    pvs_vdisplay_end(d);
    CHECK_INT(F.restores, ==, 0);
    pvs_vdisplay_close(&d);
}

/* The monitor never shows: given up after 5 s (pinging all along, so the
 * driver's watchdog does not take it first), removed, existing output. */
static void test_never_shows(void)
{
    gpu_pv(true);
    F.never_shows = true;
    struct pvs_vdisplay *d = NULL;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_AUTO, 0);
    struct pvs_vdisplay_result r;
    int64_t start = F.now;
    pvs_vdisplay_begin(d, &want, &r);
    CHECK_INT(F.now - start, >=, PVS_VDISPLAY_WAIT_MS);
    CHECK_INT(F.now - start, <, PVS_VDISPLAY_WAIT_MS + 2 * PVS_VDISPLAY_POLL_MS);
    CHECK_INT(F.pings, >=, 4);
    CHECK_INT(F.removes, ==, 1);
    CHECK(!r.virtual_display);
    CHECK_INT(r.output, ==, 0);
    CHECK(strstr(r.note, "did not show") != NULL);
    CHECK(strstr(r.note, "existing output") != NULL);
    pvs_vdisplay_close(&d);
    CHECK_INT(F.removes, ==, 1);

    gpu_pv(true);
    F.add_fails = true;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_AUTO, 0);
    pvs_vdisplay_begin(d, &want, &r);
    CHECK(strstr(r.note, "STATUS_TOO_MANY_NODES") != NULL);
    CHECK(r.mode_set); /* the fallback still sets the mode */
    pvs_vdisplay_close(&d);
}

/* keep: the monitor stays for the next client, resized for it, and goes
 * with the server. */
static void test_keep(void)
{
    gpu_pv(true);
    struct pvs_vdisplay *d = NULL;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_KEEP, 0);
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(d, &want, &r);
    pvs_vdisplay_end(d);
    CHECK_INT(F.removes, ==, 0);
    /* Between clients the server ticks: pings once a second. */
    for (int i = 0; i < 30; i++) {
        F.now += 100;
        pvs_vdisplay_tick(d);
    }
    CHECK_INT(F.pings, ==, 3);
    struct pvs_display_mode small = {1920, 1080, 60};
    pvs_vdisplay_begin(d, &small, &r);
    CHECK_INT(F.adds, ==, 1);
    CHECK(r.virtual_display);
    CHECK_INT(r.output, ==, 2);
    CHECK(strstr(r.note, "reused") != NULL);
    CHECK(pvs_display_mode_equal(&F.set, &small));
    pvs_vdisplay_end(d);
    CHECK_INT(F.restores, ==, 1);
    pvs_vdisplay_close(&d);
    CHECK_INT(F.removes, ==, 1);
}

/* off, or an output named with --output: no monitor is added. */
static void test_off_and_output(void)
{
    gpu_pv(true);
    struct pvs_vdisplay *d = NULL;
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_OFF, 0);
    struct pvs_vdisplay_result r;
    pvs_vdisplay_begin(d, &want, &r);
    CHECK_INT(F.adds, ==, 0);
    pvs_vdisplay_close(&d);

    gpu_pv(true);
    pvs_vdisplay_open(&d, &ops, NULL, PVS_VDISPLAY_AUTO, 1);
    pvs_vdisplay_begin(d, &want, &r);
    CHECK_INT(F.adds, ==, 0);
    CHECK_INT(r.output, ==, 1);
    pvs_vdisplay_close(&d);

    /* A NULL handle (Linux: no system ops) does nothing. */
    pvs_vdisplay_begin(NULL, &want, &r);
    CHECK_INT(r.output, ==, 0);
    pvs_vdisplay_end(NULL);
    pvs_vdisplay_tick(NULL);
    pvs_vdisplay_close(NULL);
    CHECK_INT(pvs_vdisplay_open(&d, NULL, NULL, PVS_VDISPLAY_AUTO, 0), ==, PVS_EINVAL);
}

/* The diagnosis doctor prints. */
static void test_diagnose(void)
{
    gpu_pv(false);
    struct pvs_gpu_diagnosis g;
    pvs_gpu_diagnose(F.list, F.n, false, &g);
    CHECK_INT(g.state, ==, PVS_GPU_DISPLAY_PV);
    CHECK_INT(g.gpu, ==, 1);
    CHECK(strstr(g.found, "Hyper-V Video (1024x768)") != NULL);
    CHECK(strstr(g.todo, "SudoVDA") != NULL);
    pvs_gpu_diagnose(F.list, F.n, true, &g);
    CHECK(strstr(g.todo, "adds a virtual display") != NULL);
    F.list[0].output_count = 0;      /* nothing shown at all */
    pvs_gpu_diagnose(F.list, F.n, false, &g);
    CHECK_INT(g.state, ==, PVS_GPU_DISPLAY_PV);
    CHECK(strstr(g.found, "no other adapter") != NULL);
    add_output(&F.list[1], "\\\\.\\DISPLAY2", 1920, 1080);
    pvs_gpu_diagnose(F.list, F.n, false, &g);
    CHECK_INT(g.state, ==, PVS_GPU_DISPLAY_OK);
    CHECK(g.todo[0] == '\0');
    pvs_gpu_diagnose(F.list, 1, false, &g);  /* Hyper-V alone, showing nothing */
    CHECK_INT(g.state, ==, PVS_GPU_DISPLAY_NONE);
    add_output(&F.list[0], "\\\\.\\DISPLAY1", 1024, 768);
    pvs_gpu_diagnose(F.list, 1, false, &g);
    CHECK_INT(g.state, ==, PVS_GPU_DISPLAY_SOFTWARE);
}

int main(void)
{
    RUN(test_gpu_pv_adds_monitor);
    RUN(test_gpu_pv_without_driver);
    RUN(test_monitor_on_gpu);
    RUN(test_mode_refused);
    RUN(test_never_shows);
    RUN(test_keep);
    RUN(test_off_and_output);
    RUN(test_diagnose);
    TEST_EXIT();
}
