/* capture/adapters.h: which output is captured and where it is encoded, in
 * the layouts a Windows guest shows: a GPU with a monitor, a GPU-PV guest
 * whose desktop is on the Hyper-V video adapter while the GPU has no
 * display, a software-only VM, two monitors; and the listing itself where
 * this system has one. */
#include <stdio.h>
#include <string.h>

#include "capture/adapters.h"
#include "common/error.h"
#include "tests/unit/test.h"

static struct pvs_gpu_adapter adapter(const char *name, uint32_t vendor, bool software)
{
    struct pvs_gpu_adapter a;
    memset(&a, 0, sizeof(a));
    snprintf(a.name, sizeof(a.name), "%s", name);
    a.vendor_id = vendor;
    a.software = software;
    return a;
}

static void add_output(struct pvs_gpu_adapter *a, int x, int y, int w, int h, bool attached)
{
    struct pvs_gpu_output *o = &a->outputs[a->output_count++];
    snprintf(o->name, sizeof(o->name), "\\\\.\\DISPLAY%d", a->output_count);
    o->x = x;
    o->y = y;
    o->width = w;
    o->height = h;
    o->attached = attached;
}

static void test_gpu_with_monitor(void)
{
    struct pvs_gpu_adapter l[2] = {
        adapter("NVIDIA GeForce RTX 4070", 0x10de, false),
        adapter("Microsoft Basic Render Driver", 0x1414, true),
    };
    add_output(&l[0], 0, 0, 2560, 1440, true);
    struct pvs_gpu_choice c;
    CHECK_INT(pvs_gpu_choose(l, 2, -1, &c), ==, 0);
    CHECK_INT(c.adapter, ==, 0);
    CHECK_INT(c.output, ==, 0);
    CHECK_INT(c.encode_adapter, ==, 0);
    CHECK(c.zero_copy);
    CHECK(!strcmp(c.note, ""));
    CHECK(!strcmp(pvs_gpu_encoder_family(&l[0]), "nvenc"));
    CHECK(pvs_gpu_encoder_family(&l[1]) == NULL);
}

/* GPU-PV: the partition has no display; the desktop is on Hyper-V video. */
static void test_gpu_pv_without_display(void)
{
    struct pvs_gpu_adapter l[3] = {
        adapter("Microsoft Hyper-V Video", 0x1414, false),
        adapter("AMD Radeon RX 7800 XT", 0x1002, false),
        adapter("Microsoft Basic Render Driver", 0x1414, true),
    };
    add_output(&l[0], 0, 0, 1024, 768, true);
    struct pvs_gpu_choice c;
    CHECK_INT(pvs_gpu_choose(l, 3, -1, &c), ==, 0);
    CHECK_INT(c.adapter, ==, 0);
    CHECK_INT(c.encode_adapter, ==, 1);
    CHECK(!c.zero_copy);
    CHECK(strstr(c.note, "Hyper-V Video") && strstr(c.note, "AMD Radeon") &&
          strstr(c.note, "virtual display"));
}

/* With a virtual display on the GPU, its output is preferred even when the
 * Hyper-V adapter's output is listed first. */
static void test_gpu_pv_with_virtual_display(void)
{
    struct pvs_gpu_adapter l[2] = {
        adapter("Microsoft Hyper-V Video", 0x1414, false),
        adapter("Intel Arc A770", 0x8086, false),
    };
    add_output(&l[0], 0, 0, 1024, 768, true);
    add_output(&l[1], 0, 0, 1920, 1080, true); /* mirrored at 0,0 */
    struct pvs_gpu_choice c;
    CHECK_INT(pvs_gpu_choose(l, 2, -1, &c), ==, 0);
    CHECK_INT(c.adapter, ==, 1);
    CHECK_INT(c.encode_adapter, ==, 1);
    CHECK(c.zero_copy);
    CHECK(!strcmp(pvs_gpu_encoder_family(&l[1]), "qsv"));
}

static void test_software_only(void)
{
    struct pvs_gpu_adapter l[1] = { adapter("Microsoft Basic Display Adapter", 0x1414, false) };
    add_output(&l[0], 0, 0, 1280, 800, true);
    struct pvs_gpu_choice c;
    CHECK_INT(pvs_gpu_choose(l, 1, -1, &c), ==, 0);
    CHECK_INT(c.adapter, ==, 0);
    CHECK_INT(c.encode_adapter, ==, -1);
    CHECK(!c.zero_copy);
    CHECK(strstr(c.note, "software") != NULL);
}

static void test_pick_and_bounds(void)
{
    struct pvs_gpu_adapter l[2] = {
        adapter("NVIDIA RTX A4000", 0x10de, false),
        adapter("Intel UHD 770", 0x8086, false),
    };
    add_output(&l[0], 1920, 0, 1920, 1080, true); /* second monitor */
    add_output(&l[0], 0, 0, 0, 0, false);         /* not attached: not counted */
    add_output(&l[1], 0, 0, 1920, 1080, true);    /* primary */
    struct pvs_gpu_choice c;
    CHECK_INT(pvs_gpu_choose(l, 2, -1, &c), ==, 0); /* the primary, on the Intel */
    CHECK_INT(c.adapter, ==, 1);
    CHECK_INT(pvs_gpu_choose(l, 2, 0, &c), ==, 0);  /* --output 0: the first attached */
    CHECK_INT(c.adapter, ==, 0);
    CHECK_INT(c.output, ==, 0);
    CHECK_INT(pvs_gpu_choose(l, 2, 1, &c), ==, 0);
    CHECK_INT(c.adapter, ==, 1);
    CHECK_INT(c.output, ==, 0);
    CHECK_INT(pvs_gpu_choose(l, 2, 2, &c), ==, PVS_ENOENT);
    CHECK(strstr(c.note, "no output 3") && strstr(c.note, "--output 1 to 2"));
    CHECK_INT(c.adapter, ==, -1);

    struct pvs_gpu_adapter none = adapter("NVIDIA T4", 0x10de, false);
    CHECK_INT(pvs_gpu_choose(&none, 1, -1, &c), ==, PVS_ENODEV);
    CHECK(strstr(c.note, "virtual display") != NULL);
    CHECK_INT(pvs_gpu_choose(NULL, 0, -1, &c), ==, PVS_ENODEV);
}

static void test_vendor_names(void)
{
    char buf[32];
    CHECK(!strcmp(pvs_gpu_vendor_name(0x10de, buf, sizeof(buf)), "NVIDIA"));
    CHECK(!strcmp(pvs_gpu_vendor_name(0x1414, buf, sizeof(buf)), "Microsoft"));
    CHECK(!strcmp(pvs_gpu_vendor_name(0xabcd, buf, sizeof(buf)), "vendor 0xabcd"));
    struct pvs_gpu_adapter warp = adapter("Microsoft Basic Render Driver", 0x10de, true);
    CHECK(pvs_gpu_encoder_family(&warp) == NULL); /* software, whatever its id */
}

static void test_listing(void)
{
    struct pvs_gpu_adapter l[PVS_GPU_MAX_ADAPTERS];
    char why[256] = "";
    int n = pvs_gpu_list(l, PVS_GPU_MAX_ADAPTERS, why, sizeof(why));
#ifdef _WIN32
    /* Wine lists its own adapter, and only when it has an X display. */
    if (n < 0) {
        fprintf(stderr, "  no adapter listing here: %s\n", why);
        CHECK(why[0] != '\0');
        return;
    }
    for (int i = 0; i < n; i++) {
        char vb[32];
        fprintf(stderr, "  adapter %d: %s (%s, %llu MiB)%s, %d output%s\n", i, l[i].name,
                pvs_gpu_vendor_name(l[i].vendor_id, vb, sizeof(vb)),
                (unsigned long long)(l[i].dedicated_video_memory >> 20),
                l[i].software ? ", software" : "", l[i].output_count,
                l[i].output_count == 1 ? "" : "s");
        CHECK(l[i].name[0] != '\0');
        CHECK_INT(l[i].output_count, <=, PVS_GPU_MAX_OUTPUTS);
    }
#else
    CHECK_INT(n, ==, PVS_ENOTSUP);
    CHECK(strstr(why, "Windows") != NULL);
#endif
}

int main(void)
{
    test_gpu_with_monitor();
    test_gpu_pv_without_display();
    test_gpu_pv_with_virtual_display();
    test_software_only();
    test_pick_and_bounds();
    test_vendor_names();
    test_listing();
    TEST_EXIT();
}
