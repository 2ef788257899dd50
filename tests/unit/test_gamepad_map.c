/* Virtual gamepads through ViGEmBus, without the driver (input/gamepad_map.h):
 * the XUSB and DualShock 4 reports for every button, the sticks' and
 * triggers' extremes and the d-pad; every request buffer and IOCTL code
 * byte for byte against ViGEmBus's public headers; reading its rumble
 * notifications; and the hot-plug decisions, driven through a scripted fake
 * bus. On Windows (Wine, where ViGEmBus is never installed) also the real
 * backend's "not installed" line. */
#include <stdbool.h>
#include <string.h>

#include "common/error.h"
#include "input/gamepad_map.h"
#include "input/injector.h"
#include "tests/unit/test.h"

static struct pvs_gamepad pad_with(int button)
{
    return (struct pvs_gamepad){.connected = true, .buttons = (uint16_t)(1u << button)};
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* ---- XUSB ------------------------------------------------------------------- */

static void test_xusb_buttons(void)
{
    /* XInput's XINPUT_GAMEPAD_* bits, in enum pvs_pad_button order. */
    static const uint16_t want[PVS_PAD_BUTTON_COUNT] = {
        0x1000, 0x2000, 0x4000, 0x8000, 0x0100, 0x0200, 0x0020, 0x0010,
        0x0400, 0x0040, 0x0080, 0x0001, 0x0002, 0x0004, 0x0008,
    };
    uint8_t r[PVS_XUSB_REPORT_SIZE];
    for (int b = 0; b < PVS_PAD_BUTTON_COUNT; b++) {
        struct pvs_gamepad p = pad_with(b);
        pvs_xusb_report(&p, r);
        CHECK_INT(le16(r), ==, want[b]);
        static const uint8_t rest[10] = {0};
        CHECK(memcmp(r + 2, rest, sizeof(rest)) == 0);
    }
    struct pvs_gamepad all = {.buttons = (1u << PVS_PAD_BUTTON_COUNT) - 1};
    pvs_xusb_report(&all, r);
    CHECK_INT(le16(r), ==, 0xf7ff); /* every bit but XInput's unused 0x0800 */
}

static void test_xusb_axes(void)
{
    struct pvs_gamepad p = {
        .connected = true, .lx = -32768, .ly = 32767, .rx = 32767, .ry = -32768,
        .lt = 255, .rt = 1,
    };
    uint8_t r[PVS_XUSB_REPORT_SIZE];
    pvs_xusb_report(&p, r);
    static const uint8_t want[] = {0x00, 0x00, 0xff, 0x01, 0x00, 0x80, 0xff, 0x7f,
                                   0xff, 0x7f, 0x00, 0x80};
    CHECK(memcmp(r, want, sizeof(want)) == 0);

    /* At rest: all zero; y up stays up (XInput and the protocol agree). */
    p = (struct pvs_gamepad){.connected = true, .ly = 1000, .ry = -1};
    pvs_xusb_report(&p, r);
    CHECK_INT((int16_t)le16(r + 6), ==, 1000);
    CHECK_INT((int16_t)le16(r + 10), ==, -1);
    CHECK_INT(r[2] + r[3], ==, 0);
}

/* ---- DualShock 4 ---------------------------------------------------------------- */

static void test_ds4_buttons(void)
{
    /* Face and shoulder buttons (bits of the u16; the hat is then 8). */
    static const struct { int button; uint16_t bit; } face[] = {
        {PVS_PAD_A, 1 << 5}, {PVS_PAD_B, 1 << 6}, {PVS_PAD_X, 1 << 4},
        {PVS_PAD_Y, 1 << 7}, {PVS_PAD_LB, 1 << 8}, {PVS_PAD_RB, 1 << 9},
        {PVS_PAD_BACK, 1 << 12}, {PVS_PAD_START, 1 << 13},
        {PVS_PAD_LSTICK, 1 << 14}, {PVS_PAD_RSTICK, 1 << 15},
    };
    uint8_t r[PVS_DS4_REPORT_SIZE];
    for (size_t i = 0; i < sizeof(face) / sizeof(face[0]); i++) {
        struct pvs_gamepad p = pad_with(face[i].button);
        pvs_ds4_report(&p, r);
        CHECK_INT(le16(r + 4), ==, face[i].bit | 8);
        CHECK_INT(r[6], ==, 0);
    }
    /* Guide: the PS button, in the special byte. */
    struct pvs_gamepad g = pad_with(PVS_PAD_GUIDE);
    pvs_ds4_report(&g, r);
    CHECK_INT(le16(r + 4), ==, 8);
    CHECK_INT(r[6], ==, 1);
}

static void test_ds4_dpad(void)
{
    static const struct { uint16_t buttons; int hat; } dirs[] = {
        {0, 8},
        {1u << PVS_PAD_UP, 0},
        {1u << PVS_PAD_UP | 1u << PVS_PAD_RIGHT, 1},
        {1u << PVS_PAD_RIGHT, 2},
        {1u << PVS_PAD_DOWN | 1u << PVS_PAD_RIGHT, 3},
        {1u << PVS_PAD_DOWN, 4},
        {1u << PVS_PAD_DOWN | 1u << PVS_PAD_LEFT, 5},
        {1u << PVS_PAD_LEFT, 6},
        {1u << PVS_PAD_UP | 1u << PVS_PAD_LEFT, 7},
        /* Opposites cancel. */
        {1u << PVS_PAD_UP | 1u << PVS_PAD_DOWN, 8},
        {1u << PVS_PAD_UP | 1u << PVS_PAD_DOWN | 1u << PVS_PAD_LEFT, 6},
        {1u << PVS_PAD_LEFT | 1u << PVS_PAD_RIGHT | 1u << PVS_PAD_DOWN, 4},
    };
    uint8_t r[PVS_DS4_REPORT_SIZE];
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        struct pvs_gamepad p = {.connected = true, .buttons = dirs[i].buttons};
        pvs_ds4_report(&p, r);
        CHECK_INT(le16(r + 4), ==, dirs[i].hat);
    }
}

static void test_ds4_axes(void)
{
    uint8_t r[PVS_DS4_REPORT_SIZE];
    struct pvs_gamepad p = {.connected = true};
    pvs_ds4_report(&p, r);
    /* At rest: what a real pad (and ViGEm's own init) reports. */
    static const uint8_t rest[] = {0x80, 0x80, 0x80, 0x80, 0x08, 0x00, 0x00, 0x00, 0x00};
    CHECK(memcmp(r, rest, sizeof(rest)) == 0);

    /* x: left 0, right 255; y: up (protocol positive) 0, down 255. */
    p = (struct pvs_gamepad){.connected = true, .lx = -32768, .ly = 32767,
                             .rx = 32767, .ry = -32768, .lt = 200, .rt = 0};
    pvs_ds4_report(&p, r);
    CHECK_INT(r[0], ==, 0);
    CHECK_INT(r[1], ==, 0);
    CHECK_INT(r[2], ==, 255);
    CHECK_INT(r[3], ==, 255);
    CHECK_INT(r[7], ==, 200);
    CHECK_INT(r[8], ==, 0);
    CHECK_INT(le16(r + 4), ==, (1 << 10) | 8); /* L2 pressed with its trigger */

    p = (struct pvs_gamepad){.connected = true, .lx = 255, .ly = -32767, .rx = -256, .rt = 1};
    pvs_ds4_report(&p, r);
    CHECK_INT(r[0], ==, 128);
    CHECK_INT(r[1], ==, 255);
    CHECK_INT(r[2], ==, 127);
    CHECK_INT(r[8], ==, 1);
    CHECK_INT(le16(r + 4), ==, (1 << 11) | 8); /* R2 */
}

/* ---- requests ------------------------------------------------------------------- */

static void test_ioctl_codes(void)
{
    /* CTL_CODE(0x2a, 0x801 + n, METHOD_BUFFERED, access), worked out by
     * hand from ViGEmBus's BusShared.h. */
    CHECK_INT(PVS_VIGEM_IOCTL_PLUGIN, ==, 0x2aa004);
    CHECK_INT(PVS_VIGEM_IOCTL_UNPLUG, ==, 0x2aa008);
    CHECK_INT(PVS_VIGEM_IOCTL_CHECK_VERSION, ==, 0x2aa00c);
    CHECK_INT(PVS_VIGEM_IOCTL_WAIT_READY, ==, 0x2aa010);
    CHECK_INT(PVS_VIGEM_IOCTL_XUSB_NOTIFICATION, ==, 0x2ae804);
    CHECK_INT(PVS_VIGEM_IOCTL_XUSB_SUBMIT, ==, 0x2aa808);
    CHECK_INT(PVS_VIGEM_IOCTL_DS4_SUBMIT, ==, 0x2aa80c);
    CHECK_INT(PVS_VIGEM_IOCTL_DS4_NOTIFICATION, ==, 0x2aa810);
}

static void check_request(const struct pvs_vigem_request *r, uint32_t ioctl,
                          const uint8_t *want, size_t len)
{
    CHECK_INT(r->ioctl, ==, ioctl);
    CHECK_INT(r->len, ==, len);
    CHECK(r->len == len && memcmp(r->buf, want, len) == 0);
}

static void test_requests(void)
{
    struct pvs_vigem_request r;
    pvs_vigem_check_version(&r);
    static const uint8_t version[] = {8, 0, 0, 0, 1, 0, 0, 0};
    check_request(&r, PVS_VIGEM_IOCTL_CHECK_VERSION, version, sizeof(version));

    pvs_vigem_plugin(&r, 3, PVS_PAD_KIND_XBOX360);
    static const uint8_t x360[] = {16, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
                                   0x5e, 0x04, 0x8e, 0x02};
    check_request(&r, PVS_VIGEM_IOCTL_PLUGIN, x360, sizeof(x360));
    pvs_vigem_plugin(&r, 0x01020304, PVS_PAD_KIND_DS4);
    static const uint8_t ds4[] = {16, 0, 0, 0, 4, 3, 2, 1, 2, 0, 0, 0,
                                  0x4c, 0x05, 0xc4, 0x05};
    check_request(&r, PVS_VIGEM_IOCTL_PLUGIN, ds4, sizeof(ds4));

    pvs_vigem_unplug(&r, 2);
    static const uint8_t unplug[] = {8, 0, 0, 0, 2, 0, 0, 0};
    check_request(&r, PVS_VIGEM_IOCTL_UNPLUG, unplug, sizeof(unplug));
    pvs_vigem_wait_ready(&r, 2);
    check_request(&r, PVS_VIGEM_IOCTL_WAIT_READY, unplug, sizeof(unplug));

    struct pvs_gamepad p = {.connected = true, .buttons = 1u << PVS_PAD_A, .lt = 9,
                            .lx = -2};
    pvs_vigem_submit(&r, 1, &p);
    static const uint8_t xsub[] = {20, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x10, 9, 0,
                                   0xfe, 0xff, 0, 0, 0, 0, 0, 0};
    check_request(&r, PVS_VIGEM_IOCTL_XUSB_SUBMIT, xsub, sizeof(xsub));
    p.kind = PVS_PAD_KIND_DS4;
    pvs_vigem_submit(&r, 1, &p);
    static const uint8_t dsub[] = {20, 0, 0, 0, 1, 0, 0, 0, 0x7f, 0x80, 0x80, 0x80,
                                   0x28, 0x04, 0, 9, 0, 0, 0, 0};
    check_request(&r, PVS_VIGEM_IOCTL_DS4_SUBMIT, dsub, sizeof(dsub));

    pvs_vigem_notification(&r, 5, PVS_PAD_KIND_XBOX360);
    static const uint8_t xnote[] = {12, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
    check_request(&r, PVS_VIGEM_IOCTL_XUSB_NOTIFICATION, xnote, sizeof(xnote));
    pvs_vigem_notification(&r, 5, PVS_PAD_KIND_DS4);
    static const uint8_t dnote[] = {16, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    check_request(&r, PVS_VIGEM_IOCTL_DS4_NOTIFICATION, dnote, sizeof(dnote));
}

static void test_notifications(void)
{
    uint8_t large = 0, small = 0;
    /* XUSB: large, small, LED after the header. */
    const uint8_t x[] = {12, 0, 0, 0, 5, 0, 0, 0, 200, 30, 1, 0};
    CHECK_INT(pvs_vigem_parse_notification(x, sizeof(x), 5, PVS_PAD_KIND_XBOX360,
                                           &large, &small), ==, 0);
    CHECK_INT(large, ==, 200);
    CHECK_INT(small, ==, 30);
    /* DS4: small first, then large, then the light bar. */
    const uint8_t d[] = {16, 0, 0, 0, 7, 0, 0, 0, 30, 200, 0xff, 0, 0, 0, 0, 0};
    CHECK_INT(pvs_vigem_parse_notification(d, sizeof(d), 7, PVS_PAD_KIND_DS4,
                                           &large, &small), ==, 0);
    CHECK_INT(large, ==, 200);
    CHECK_INT(small, ==, 30);
    /* Another pad's, or cut short: refused, nothing written. */
    large = small = 1;
    CHECK_INT(pvs_vigem_parse_notification(x, sizeof(x), 6, PVS_PAD_KIND_XBOX360,
                                           &large, &small), ==, PVS_EBADDATA);
    CHECK_INT(pvs_vigem_parse_notification(x, 9, 5, PVS_PAD_KIND_XBOX360,
                                           &large, &small), ==, PVS_EBADDATA);
    CHECK_INT(pvs_vigem_parse_notification(NULL, 12, 5, PVS_PAD_KIND_XBOX360,
                                           &large, &small), ==, PVS_EBADDATA);
    CHECK(large == 1 && small == 1);
}

/* ---- hot-plug through a scripted fake bus ----------------------------------------- */

struct fake_bus {
    char log[512];              /* "plug 0 1 x;submit 0 1;..." */
    uint32_t refuse_below;      /* plug of a serial below this fails */
    bool fail_submit;
    bool fail_unplug;
};

/* Appends "what index serial[ kind];" to the bus's log; kind < 0: none. */
static void note(struct fake_bus *b, const char *what, int index, uint32_t serial, int kind)
{
    size_t n = strlen(b->log);
    snprintf(b->log + n, sizeof(b->log) - n, "%s %d %u%s;", what, index, (unsigned)serial,
             kind < 0 ? "" : kind == PVS_PAD_KIND_DS4 ? " ds4" : " x360");
}

static int fake_plug(void *bus, int index, uint32_t serial, uint8_t kind)
{
    struct fake_bus *b = bus;
    if (serial < b->refuse_below)
        return PVS_EIO;
    note(b, "plug", index, serial, kind);
    return 0;
}

static int fake_unplug(void *bus, int index, uint32_t serial)
{
    struct fake_bus *b = bus;
    note(b, "unplug", index, serial, -1);
    return b->fail_unplug ? PVS_EIO : 0;
}

static int fake_submit(void *bus, int index, uint32_t serial, const struct pvs_gamepad *p)
{
    struct fake_bus *b = bus;
    if (b->fail_submit)
        return PVS_EIO;
    note(b, "submit", index, serial, p->kind);
    return 0;
}

static const struct pvs_pad_bus_ops fake_ops = {fake_plug, fake_unplug, fake_submit};

/* Runs one update and checks what the bus was told. */
static void step(struct pvs_pad_slots *s, struct fake_bus *b, struct pvs_gamepad p,
                 int want_rc, const char *want_log)
{
    b->log[0] = '\0';
    CHECK_INT(pvs_pad_slots_update(s, &fake_ops, b, &p), ==, want_rc);
    if (strcmp(b->log, want_log) != 0) {
        fprintf(stderr, "  bus log \"%s\", wanted \"%s\"\n", b->log, want_log);
        CHECK(strcmp(b->log, want_log) == 0);
    }
}

static void test_hotplug(void)
{
    struct pvs_pad_slots s = {0};
    struct fake_bus b = {0};
    struct pvs_gamepad p0 = {.pad = 0, .connected = true};
    struct pvs_gamepad p1 = {.pad = 1, .connected = true};

    step(&s, &b, p0, 0, "plug 0 1 x360;submit 0 1 x360;");  /* new: plugged, reported */
    step(&s, &b, p0, 0, "");                                  /* nothing changed */
    p0.lt = 10;
    step(&s, &b, p0, 0, "submit 0 1 x360;");
    step(&s, &b, p1, 0, "plug 1 2 x360;submit 1 2 x360;");  /* the next free serial */
    p0.connected = false;
    step(&s, &b, p0, 0, "unplug 0 1;");
    step(&s, &b, p0, 0, "");                                  /* gone twice: nothing */
    struct pvs_gamepad p2 = {.pad = 2, .connected = true};
    step(&s, &b, p2, 0, "plug 2 1 x360;submit 2 1 x360;");  /* serial 1 is free again */
    CHECK_INT(s.slot[2].serial, ==, 1);
    CHECK_INT(s.slot[1].serial, ==, 2);
    CHECK_INT(s.slot[0].serial, ==, 0);

    /* The client's pad turns out to be a DualShock 4: plugged in again as one. */
    p1.kind = PVS_PAD_KIND_DS4;
    step(&s, &b, p1, 0, "unplug 1 2;plug 1 2 ds4;submit 1 2 ds4;");

    /* Other programs hold serials 1..4: the first the bus takes is 5 (3
     * and 4 are tried, 1 and 2 are ours). */
    b.refuse_below = 5;
    p0 = (struct pvs_gamepad){.pad = 0, .connected = true};
    step(&s, &b, p0, 0, "plug 0 5 x360;submit 0 5 x360;");
    p0.connected = false;
    step(&s, &b, p0, 0, "unplug 0 5;");

    /* A bus that takes no serial at all: the pad stays off, and the next
     * event tries again. */
    b.refuse_below = 1000;
    p0.connected = true;
    step(&s, &b, p0, PVS_EIO, "");
    CHECK_INT(s.slot[0].serial, ==, 0);
    b.refuse_below = 0;
    step(&s, &b, p0, 0, "plug 0 3 x360;submit 0 3 x360;");

    /* A report the bus refused is sent again with the next event. */
    b.fail_submit = true;
    p0.buttons = 1;
    step(&s, &b, p0, PVS_EIO, "");
    b.fail_submit = false;
    step(&s, &b, p0, 0, "submit 0 3 x360;");

    /* An unplug the bus refuses is forgotten all the same. */
    b.fail_unplug = true;
    p0.connected = false;
    step(&s, &b, p0, PVS_EIO, "unplug 0 3;");
    CHECK_INT(s.slot[0].serial, ==, 0);
    b.fail_unplug = false;

    struct pvs_gamepad bad = {.pad = PVS_INPUT_MAX_PADS, .connected = true};
    step(&s, &b, bad, PVS_EINVAL, "");
    CHECK_INT(pvs_pad_slots_update(NULL, &fake_ops, &b, &p0), ==, PVS_EINVAL);

    /* Closing unplugs what is left, each once. */
    b.log[0] = '\0';
    pvs_pad_slots_unplug_all(&s, &fake_ops, &b);
    CHECK(strcmp(b.log, "unplug 1 2;unplug 2 1;") == 0);
    b.log[0] = '\0';
    pvs_pad_slots_unplug_all(&s, &fake_ops, &b);
    CHECK(b.log[0] == '\0');
}

static void test_rumble(void)
{
    struct pvs_pad_slots s = {0};
    struct fake_bus b = {0};
    struct pvs_pad_rumble r = {0};
    CHECK(!pvs_pad_slots_rumble(&s, 0, 10, 10, &r)); /* no pad plugged */
    step(&s, &b, (struct pvs_gamepad){.pad = 3, .connected = true}, 0,
         "plug 3 1 x360;submit 3 1 x360;");
    CHECK(pvs_pad_slots_rumble(&s, 3, 255, 1, &r));
    CHECK_INT(r.pad, ==, 3);
    CHECK_INT(r.low_freq, ==, 65535);
    CHECK_INT(r.high_freq, ==, 257);
    CHECK_INT(r.duration_ms, ==, 0);
    /* The same again (an LED change): nothing to send. */
    CHECK(!pvs_pad_slots_rumble(&s, 3, 255, 1, &r));
    CHECK(pvs_pad_slots_rumble(&s, 3, 0, 0, &r));
    CHECK(r.low_freq == 0 && r.high_freq == 0);
    CHECK(!pvs_pad_slots_rumble(&s, 4, 1, 1, &r));
    CHECK(!pvs_pad_slots_rumble(&s, -1, 1, 1, &r));
    /* A pad plugged in again starts from rest. */
    pvs_pad_slots_rumble(&s, 3, 9, 9, &r);
    step(&s, &b, (struct pvs_gamepad){.pad = 3}, 0, "unplug 3 1;");
    step(&s, &b, (struct pvs_gamepad){.pad = 3, .connected = true}, 0,
         "plug 3 1 x360;submit 3 1 x360;");
    CHECK(pvs_pad_slots_rumble(&s, 3, 9, 9, &r));
    CHECK_INT(pvs_injector_poll_rumble(NULL, &r), ==, 0);
}

#ifdef _WIN32
/* Wine has no ViGEmBus: the backend says what to install, and nothing
 * else breaks. */
static void test_not_installed(void)
{
    char why[300] = "";
    void *state = NULL;
    CHECK_INT(pvs_vigem_ops.open(&state, why, sizeof(why)), ==, PVS_ENODEV);
    CHECK(state == NULL);
    CHECK(strstr(why, "ViGEmBus") != NULL);
    CHECK(strstr(why, "https://github.com/nefarius/ViGEmBus/releases") != NULL);
    fprintf(stderr, "  %s\n", why);
}
#endif

int main(void)
{
    RUN(test_xusb_buttons);
    RUN(test_xusb_axes);
    RUN(test_ds4_buttons);
    RUN(test_ds4_dpad);
    RUN(test_ds4_axes);
    RUN(test_ioctl_codes);
    RUN(test_requests);
    RUN(test_notifications);
    RUN(test_hotplug);
    RUN(test_rumble);
#ifdef _WIN32
    RUN(test_not_installed);
#endif
    TEST_EXIT();
}
