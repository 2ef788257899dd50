/* Input events: the exact protocol bytes of every type both ways, length
 * and range checks, the key tables (HID -> evdev, HID -> scan code set 1)
 * and the gamepad state -> evdev mapping, all without a display or a
 * device. */
#include <stdbool.h>
#include <string.h>

#include "common/error.h"
#include "input/injector.h"
#include "input/input.h"
#include "tests/unit/test.h"

/* Encodes `ev`, compares with `want`, parses back and compares fields by
 * encoding the parsed event again. */
static void round_trip(const struct pvs_input_event *ev, const uint8_t *want,
                       size_t want_len)
{
    uint8_t buf[PVS_INPUT_MAX_MESSAGE];
    int n = pvs_input_encode(ev, buf, sizeof(buf));
    CHECK_INT(n, ==, want_len);
    if (n != (int)want_len)
        return;
    CHECK(memcmp(buf, want, want_len) == 0);

    struct pvs_input_event back;
    CHECK_INT(pvs_input_parse(want, want_len, &back), ==, 0);
    CHECK_INT(back.type, ==, ev->type);
    uint8_t again[PVS_INPUT_MAX_MESSAGE];
    CHECK_INT(pvs_input_encode(&back, again, sizeof(again)), ==, want_len);
    CHECK(memcmp(again, want, want_len) == 0);

    /* Shorter by one byte: refused; longer (a later version's fields):
     * accepted as the same event. */
    CHECK_INT(pvs_input_parse(want, want_len - 1, &back), ==, PVS_EBADDATA);
    uint8_t longer[PVS_INPUT_MAX_MESSAGE + 8];
    memcpy(longer, want, want_len);
    memset(longer + want_len, 0xAB, 8);
    struct pvs_input_event ext;
    CHECK_INT(pvs_input_parse(longer, want_len + 8, &ext), ==, 0);
    CHECK_INT(pvs_input_encode(&ext, again, sizeof(again)), ==, want_len);
    CHECK(memcmp(again, want, want_len) == 0);

    /* A buffer one byte short is refused, not overrun. */
    CHECK_INT(pvs_input_encode(ev, buf, want_len - 1), ==, PVS_EINVAL);
}

static void test_key(void)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_KEY,
                                 .u.key = {.usage = 0x04, .down = true}};
    static const uint8_t want[] = {0x20, 0x00, 0x04, 0x01};
    round_trip(&ev, want, sizeof(want));
    struct pvs_input_event p;
    CHECK_INT(pvs_input_parse(want, sizeof(want), &p), ==, 0);
    CHECK_INT(p.u.key.usage, ==, 4);
    CHECK(p.u.key.down);

    ev.u.key.usage = 0xE7;
    ev.u.key.down = false;
    static const uint8_t up[] = {0x20, 0x00, 0xE7, 0x00};
    round_trip(&ev, up, sizeof(up));
    CHECK_INT(pvs_input_channel(PVS_INPUT_KEY), ==, 1);
}

static void test_pointer(void)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_POINTER_ABS,
                                 .u.abs = {100, 50, 1000, 500}};
    static const uint8_t abs_bytes[] = {0x21, 0x00, 0x64, 0x00, 0x32,
                                        0x03, 0xE8, 0x01, 0xF4};
    round_trip(&ev, abs_bytes, sizeof(abs_bytes));
    struct pvs_input_event p;
    CHECK_INT(pvs_input_parse(abs_bytes, sizeof(abs_bytes), &p), ==, 0);
    CHECK_INT(p.u.abs.x, ==, 100);
    CHECK_INT(p.u.abs.y, ==, 50);
    CHECK_INT(p.u.abs.width, ==, 1000);
    CHECK_INT(p.u.abs.height, ==, 500);

    ev = (struct pvs_input_event){.type = PVS_INPUT_POINTER_REL,
                                  .u.rel = {-1, 300}};
    static const uint8_t rel_bytes[] = {0x22, 0xFF, 0xFF, 0x01, 0x2C};
    round_trip(&ev, rel_bytes, sizeof(rel_bytes));
    CHECK_INT(pvs_input_parse(rel_bytes, sizeof(rel_bytes), &p), ==, 0);
    CHECK_INT(p.u.rel.dx, ==, -1);
    CHECK_INT(p.u.rel.dy, ==, 300);

    CHECK_INT(pvs_input_channel(PVS_INPUT_POINTER_ABS), ==, 2);
    CHECK_INT(pvs_input_channel(PVS_INPUT_POINTER_REL), ==, 2);
}

static void test_button_wheel(void)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_BUTTON,
                                 .u.button = {PVS_BUTTON_RIGHT, true}};
    static const uint8_t btn[] = {0x23, 0x03, 0x01};
    round_trip(&ev, btn, sizeof(btn));
    ev.u.button.button = PVS_BUTTON_FORWARD;
    ev.u.button.down = false;
    static const uint8_t fwd[] = {0x23, 0x05, 0x00};
    round_trip(&ev, fwd, sizeof(fwd));

    ev = (struct pvs_input_event){.type = PVS_INPUT_WHEEL,
                                  .u.wheel = {-120, 240}};
    static const uint8_t wheel[] = {0x24, 0xFF, 0x88, 0x00, 0xF0};
    round_trip(&ev, wheel, sizeof(wheel));
    struct pvs_input_event p;
    CHECK_INT(pvs_input_parse(wheel, sizeof(wheel), &p), ==, 0);
    CHECK_INT(p.u.wheel.dx, ==, -120);
    CHECK_INT(p.u.wheel.dy, ==, 240);

    CHECK_INT(pvs_input_channel(PVS_INPUT_BUTTON), ==, 1);
    CHECK_INT(pvs_input_channel(PVS_INPUT_WHEEL), ==, 2);
}

static void test_gamepad_release_all(void)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_GAMEPAD};
    ev.u.pad = (struct pvs_gamepad){
        .pad = 2, .connected = true,
        .buttons = 1u << PVS_PAD_A | 1u << PVS_PAD_START,
        .lx = -32768, .ly = 32767, .rx = 1, .ry = -2, .lt = 255, .rt = 7,
    };
    static const uint8_t pad[] = {0x25, 0x02, 0x01, 0x00, 0x81, 0x80, 0x00,
                                  0x7F, 0xFF, 0x00, 0x01, 0xFF, 0xFE, 0xFF,
                                  0x07};
    round_trip(&ev, pad, sizeof(pad));
    struct pvs_input_event p;
    CHECK_INT(pvs_input_parse(pad, sizeof(pad), &p), ==, 0);
    CHECK_INT(p.u.pad.pad, ==, 2);
    CHECK(p.u.pad.connected);
    CHECK_INT(p.u.pad.buttons, ==, 0x81);
    CHECK_INT(p.u.pad.lx, ==, -32768);
    CHECK_INT(p.u.pad.ly, ==, 32767);
    CHECK_INT(p.u.pad.ry, ==, -2);
    CHECK_INT(p.u.pad.lt, ==, 255);
    CHECK_INT(p.u.pad.rt, ==, 7);

    ev = (struct pvs_input_event){.type = PVS_INPUT_RELEASE_ALL};
    uint8_t buf[PVS_INPUT_MAX_MESSAGE];
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, 1);
    CHECK_INT(buf[0], ==, 0x26);
    const uint8_t ra[] = {0x26, 0x01, 0x02};
    CHECK_INT(pvs_input_parse(ra, 1, &p), ==, 0);
    CHECK_INT(p.type, ==, PVS_INPUT_RELEASE_ALL);
    CHECK_INT(pvs_input_parse(ra, 3, &p), ==, 0);

    CHECK_INT(pvs_input_channel(PVS_INPUT_GAMEPAD), ==, 1);
    CHECK_INT(pvs_input_channel(PVS_INPUT_RELEASE_ALL), ==, 1);
    CHECK_INT(pvs_input_channel((enum pvs_input_type)0x27), ==, PVS_EINVAL);
}

/* GAMEPAD's optional kind byte: written for a DualShock 4 only, so an
 * Xbox pad's message is what servers from before kinds read; read when it
 * is there; an unknown kind is an Xbox pad. */
static void test_gamepad_kind(void)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_GAMEPAD};
    ev.u.pad = (struct pvs_gamepad){.pad = 1, .connected = true, .kind = PVS_PAD_KIND_DS4,
                                    .buttons = 1u << PVS_PAD_B, .rt = 3};
    static const uint8_t ds4[] = {0x25, 0x01, 0x01, 0x00, 0x02, 0, 0, 0, 0, 0, 0,
                                  0, 0, 0x00, 0x03, 0x01};
    uint8_t buf[PVS_INPUT_MAX_MESSAGE];
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, sizeof(ds4));
    CHECK(memcmp(buf, ds4, sizeof(ds4)) == 0);
    struct pvs_input_event p;
    CHECK_INT(pvs_input_parse(ds4, sizeof(ds4), &p), ==, 0);
    CHECK_INT(p.u.pad.kind, ==, PVS_PAD_KIND_DS4);
    CHECK_INT(p.u.pad.rt, ==, 3);

    /* The same pad from an older client (no byte 14): an Xbox 360 pad. */
    CHECK_INT(pvs_input_parse(ds4, sizeof(ds4) - 1, &p), ==, 0);
    CHECK_INT(p.u.pad.kind, ==, PVS_PAD_KIND_XBOX360);
    CHECK_INT(p.u.pad.buttons, ==, 1u << PVS_PAD_B);

    /* A kind from a later client: an Xbox 360 pad, the event kept. */
    uint8_t later[sizeof(ds4) + 2];
    memcpy(later, ds4, sizeof(ds4));
    later[15] = 0x07;
    later[16] = later[17] = 0xee;
    CHECK_INT(pvs_input_parse(later, sizeof(later), &p), ==, 0);
    CHECK_INT(p.u.pad.kind, ==, PVS_PAD_KIND_XBOX360);

    /* Xbox pads, and kinds this version does not know, encode as before. */
    ev.u.pad.kind = PVS_PAD_KIND_XBOX360;
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, 15);
    ev.u.pad.kind = 9;
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, 15);
    ev.u.pad.kind = PVS_PAD_KIND_DS4;
    CHECK_INT(pvs_input_encode(&ev, buf, 15), ==, PVS_EINVAL);
}

static void refused(const uint8_t *msg, size_t len)
{
    struct pvs_input_event p = {.type = PVS_INPUT_KEY, .u.key = {7, true}};
    CHECK_INT(pvs_input_parse(msg, len, &p), ==, PVS_EBADDATA);
    /* Nothing is written on failure. */
    CHECK_INT(p.type, ==, PVS_INPUT_KEY);
    CHECK_INT(p.u.key.usage, ==, 7);
}

static void test_ranges(void)
{
    /* Parse side. */
    refused((const uint8_t[]){0x20, 0x00, 0x00, 0x01}, 4);       /* usage 0 */
    refused((const uint8_t[]){0x20, 0x00, 0xE8, 0x01}, 4);       /* > 0xE7 */
    refused((const uint8_t[]){0x20, 0x01, 0x04, 0x01}, 4);       /* 0x104 */
    refused((const uint8_t[]){0x20, 0x00, 0x04, 0x02}, 4);       /* down 2 */
    refused((const uint8_t[]){0x21, 0x03, 0xE8, 0x00, 0x00, 0x03, 0xE8, 0x01, 0xF4}, 9); /* x == width */
    refused((const uint8_t[]){0x21, 0x00, 0x00, 0x01, 0xF4, 0x03, 0xE8, 0x01, 0xF4}, 9); /* y == height */
    refused((const uint8_t[]){0x21, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xF4}, 9); /* width 0 */
    refused((const uint8_t[]){0x23, 0x00, 0x01}, 3);             /* button 0 */
    refused((const uint8_t[]){0x23, 0x06, 0x01}, 3);             /* button 6 */
    refused((const uint8_t[]){0x23, 0x01, 0x03}, 3);             /* down 3 */
    uint8_t pad[15] = {0x25, 0x04, 0x01};                        /* pad 4 */
    refused(pad, sizeof(pad));
    pad[1] = 0;
    pad[3] = 0x80;                                               /* bit 15 */
    refused(pad, sizeof(pad));
    pad[3] = 0;
    pad[2] = 2;                                                  /* connected 2 */
    refused(pad, sizeof(pad));
    pad[2] = 0;
    struct pvs_input_event p;
    CHECK_INT(pvs_input_parse(pad, sizeof(pad), &p), ==, 0);     /* a pad gone */
    CHECK(!p.u.pad.connected);
    refused((const uint8_t[]){0x27}, 1);                         /* unknown types */
    refused((const uint8_t[]){0x1F, 0, 0, 0}, 4);
    refused((const uint8_t[]){0x2F, 0, 0, 0}, 4);
    refused((const uint8_t[]){0x20}, 0);                         /* empty */
    CHECK_INT(pvs_input_parse(NULL, 4, &p), ==, PVS_EBADDATA);

    /* Every type's body one byte short. */
    static const size_t full[] = {4, 9, 5, 3, 5, 15};
    for (int t = 0; t < 6; t++) {
        uint8_t m[16] = {(uint8_t)(0x20 + t)};
        for (size_t len = 1; len < full[t]; len++)
            refused(m, len);
    }

    /* Encode side: what the server would refuse is never written. */
    uint8_t buf[PVS_INPUT_MAX_MESSAGE];
    struct pvs_input_event ev = {.type = PVS_INPUT_KEY, .u.key = {0, true}};
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev.u.key.usage = 0xE8;
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev = (struct pvs_input_event){.type = PVS_INPUT_POINTER_ABS,
                                  .u.abs = {1000, 0, 1000, 500}};
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev.u.abs.x = ev.u.abs.width = 0;
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev = (struct pvs_input_event){.type = PVS_INPUT_BUTTON, .u.button = {6, true}};
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev.u.button.button = 0;
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev = (struct pvs_input_event){.type = PVS_INPUT_GAMEPAD, .u.pad = {.pad = 4}};
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev.u.pad = (struct pvs_gamepad){.pad = 0, .buttons = 0x8000};
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    ev = (struct pvs_input_event){.type = (enum pvs_input_type)0x27};
    CHECK_INT(pvs_input_encode(&ev, buf, sizeof(buf)), ==, PVS_EINVAL);
    CHECK_INT(pvs_input_encode(NULL, buf, sizeof(buf)), ==, PVS_EINVAL);
}

static void test_tables(void)
{
    /* HID -> evdev (linux/input-event-codes.h numbers). */
    CHECK_INT(pvs_hid_to_evdev(0x04), ==, 30);  /* A: KEY_A */
    CHECK_INT(pvs_hid_to_evdev(0x1d), ==, 44);  /* Z */
    CHECK_INT(pvs_hid_to_evdev(0x27), ==, 11);  /* 0 */
    CHECK_INT(pvs_hid_to_evdev(0x28), ==, 28);  /* Enter */
    CHECK_INT(pvs_hid_to_evdev(0xe1), ==, 42);  /* Left Shift */
    CHECK_INT(pvs_hid_to_evdev(0xe6), ==, 100); /* Right Alt */
    CHECK_INT(pvs_hid_to_evdev(0x45), ==, 88);  /* F12 */
    CHECK_INT(pvs_hid_to_evdev(0x4f), ==, 106); /* Right */
    CHECK_INT(pvs_hid_to_evdev(0x50), ==, 105); /* Left */
    CHECK_INT(pvs_hid_to_evdev(0x51), ==, 108); /* Down */
    CHECK_INT(pvs_hid_to_evdev(0x52), ==, 103); /* Up */
    CHECK_INT(pvs_hid_to_evdev(0x59), ==, 79);  /* keypad 1 */
    CHECK_INT(pvs_hid_to_evdev(0x62), ==, 82);  /* keypad 0 */
    CHECK_INT(pvs_hid_to_evdev(0x58), ==, 96);  /* keypad Enter */
    CHECK_INT(pvs_hid_to_evdev(0x54), ==, 98);  /* keypad / */
    CHECK_INT(pvs_hid_to_evdev(0x73), ==, 194); /* F24 */
    CHECK_INT(pvs_hid_to_evdev(0x01), ==, 0);   /* ErrorRollOver: no key */
    CHECK_INT(pvs_hid_to_evdev(0xe8), ==, 0);
    CHECK_INT(pvs_hid_to_evdev(0xffff), ==, 0);

    /* HID -> set 1. */
    const uint16_t E = PVS_SCAN_EXTENDED;
    CHECK_INT(pvs_hid_to_set1(0x04), ==, 0x1e);     /* A */
    CHECK_INT(pvs_hid_to_set1(0x28), ==, 0x1c);     /* Enter */
    CHECK_INT(pvs_hid_to_set1(0xe1), ==, 0x2a);     /* Left Shift */
    CHECK_INT(pvs_hid_to_set1(0xe4), ==, E | 0x1d); /* Right Ctrl */
    CHECK_INT(pvs_hid_to_set1(0x45), ==, 0x58);     /* F12 */
    CHECK_INT(pvs_hid_to_set1(0x4f), ==, E | 0x4d); /* Right */
    CHECK_INT(pvs_hid_to_set1(0x50), ==, E | 0x4b); /* Left */
    CHECK_INT(pvs_hid_to_set1(0x51), ==, E | 0x50); /* Down */
    CHECK_INT(pvs_hid_to_set1(0x52), ==, E | 0x48); /* Up */
    CHECK_INT(pvs_hid_to_set1(0x59), ==, 0x4f);     /* keypad 1: not extended */
    CHECK_INT(pvs_hid_to_set1(0x58), ==, E | 0x1c); /* keypad Enter */
    CHECK_INT(pvs_hid_to_set1(0x54), ==, E | 0x35); /* keypad / */
    CHECK_INT(pvs_hid_to_set1(0x53), ==, E | 0x45); /* Num Lock */
    CHECK_INT(pvs_hid_to_set1(0x48), ==, PVS_SCAN_PAUSE);
    CHECK_INT(pvs_hid_to_set1(0xe3), ==, E | 0x5b); /* Left GUI */
    CHECK_INT(pvs_hid_to_set1(0x01), ==, 0);
    CHECK_INT(pvs_hid_to_set1(0xe8), ==, 0);

    /* The two tables agree where they must: evdev codes below 0x59 are
     * the set-1 codes of the keys without a prefix. A typo in either table
     * shows here. */
    int agree = 0;
    for (uint16_t u = 1; u <= PVS_INPUT_HID_MAX; u++) {
        uint16_t s = pvs_hid_to_set1(u);
        if (s == 0 || (s & (PVS_SCAN_EXTENDED | PVS_SCAN_PAUSE)) || s >= 0x59)
            continue;
        if (pvs_hid_to_evdev(u) != s)
            fprintf(stderr, "usage 0x%02x: evdev %u, set 1 0x%02x\n", u,
                    pvs_hid_to_evdev(u), s);
        CHECK_INT(pvs_hid_to_evdev(u), ==, s);
        agree++;
    }
    CHECK_INT(agree, >=, 80);

    /* No two usages share a key, except non-US # which is \'s position. */
    uint8_t seen_ev[256] = {0};
    uint8_t seen_s1[0x200] = {0};
    for (uint16_t u = 1; u <= PVS_INPUT_HID_MAX; u++) {
        if (u == 0x32)
            continue;
        uint16_t e = pvs_hid_to_evdev(u), s = pvs_hid_to_set1(u);
        if (e) {
            CHECK_INT(seen_ev[e], ==, 0);
            seen_ev[e] = 1;
        }
        if (s && s != PVS_SCAN_PAUSE) {
            CHECK_INT(s, <, 0x200);
            CHECK_INT(seen_s1[s & 0x1ff], ==, 0);
            seen_s1[s & 0x1ff] = 1;
        }
    }
    CHECK_INT(pvs_hid_to_evdev(0x32), ==, pvs_hid_to_evdev(0x31));
    /* Every letter, digit and modifier has both. */
    for (uint16_t u = 0x04; u <= 0x27; u++)
        CHECK(pvs_hid_to_evdev(u) && pvs_hid_to_set1(u));
    for (uint16_t u = 0xe0; u <= 0xe7; u++)
        CHECK(pvs_hid_to_evdev(u) && pvs_hid_to_set1(u));
}

/* Looks for one event in a list. */
static bool has(const struct pvs_evdev_event *ev, size_t n, uint16_t type,
                uint16_t code, int32_t value)
{
    for (size_t i = 0; i < n; i++)
        if (ev[i].type == type && ev[i].code == code && ev[i].value == value)
            return true;
    return false;
}

static void test_uinput_map(void)
{
    enum { SYN = 0, KEY = 1, ABS = 3 };
    struct pvs_evdev_event ev[PVS_UINPUT_MAX_EVENTS];

    /* A new pad with A pressed and the left stick up-right. */
    struct pvs_gamepad a = {.pad = 0, .connected = true,
                            .buttons = 1u << PVS_PAD_A, .lx = 1000, .ly = 1000};
    size_t n = pvs_uinput_map(NULL, &a, ev, PVS_UINPUT_MAX_EVENTS);
    CHECK_INT(n, ==, 5);
    CHECK(has(ev, n, KEY, 0x130, 1));     /* BTN_SOUTH */
    CHECK(has(ev, n, ABS, 0x00, 1000));   /* ABS_X */
    CHECK(has(ev, n, ABS, 0x01, -1001));  /* ABS_Y: up is negative */
    CHECK(has(ev, n, ABS, 0x04, -1));     /* ABS_RY: y 0 is -1 after the flip */
    CHECK(n && ev[n - 1].type == SYN && ev[n - 1].code == 0);

    /* Nothing changed: nothing at all, not even a SYN. */
    CHECK_INT(pvs_uinput_map(&a, &a, ev, PVS_UINPUT_MAX_EVENTS), ==, 0);

    /* Release A, press X, Y, guide; d-pad up-left; triggers; extreme y. */
    struct pvs_gamepad b = a;
    b.buttons = 1u << PVS_PAD_X | 1u << PVS_PAD_Y | 1u << PVS_PAD_GUIDE |
                1u << PVS_PAD_UP | 1u << PVS_PAD_LEFT;
    b.lt = 255;
    b.rt = 10;
    b.ly = -32768;
    b.ry = 32767;
    n = pvs_uinput_map(&a, &b, ev, PVS_UINPUT_MAX_EVENTS);
    CHECK(has(ev, n, KEY, 0x130, 0));
    CHECK(has(ev, n, KEY, 0x133, 1));     /* BTN_X (NORTH, as xpad) */
    CHECK(has(ev, n, KEY, 0x134, 1));     /* BTN_Y */
    CHECK(has(ev, n, KEY, 0x13c, 1));     /* BTN_MODE */
    CHECK(has(ev, n, ABS, 0x10, -1));     /* HAT0X left */
    CHECK(has(ev, n, ABS, 0x11, -1));     /* HAT0Y up */
    CHECK(has(ev, n, ABS, 0x02, 255));    /* ABS_Z: left trigger */
    CHECK(has(ev, n, ABS, 0x05, 10));     /* ABS_RZ */
    CHECK(has(ev, n, ABS, 0x01, 32767));  /* full down */
    CHECK(has(ev, n, ABS, 0x04, -32768)); /* full up */
    CHECK(!has(ev, n, ABS, 0x00, 1000));  /* unchanged: not sent */
    CHECK_INT(n, ==, 11);

    /* Opposite d-pad directions cancel. */
    struct pvs_gamepad c = b;
    c.buttons = 1u << PVS_PAD_UP | 1u << PVS_PAD_DOWN | 1u << PVS_PAD_RIGHT;
    n = pvs_uinput_map(&b, &c, ev, PVS_UINPUT_MAX_EVENTS);
    CHECK(has(ev, n, ABS, 0x11, 0));
    CHECK(has(ev, n, ABS, 0x10, 1));

    /* Everything at once fits, SYN last; a short buffer is cut, not
     * overrun. */
    struct pvs_gamepad full = {.connected = true, .buttons = 0x7fff,
                               .lx = 5, .ly = 5, .rx = 5, .ry = 5, .lt = 5, .rt = 5};
    struct pvs_gamepad rest = {.connected = true};
    n = pvs_uinput_map(&rest, &full, ev, PVS_UINPUT_MAX_EVENTS);
    CHECK_INT(n, <=, PVS_UINPUT_MAX_EVENTS);
    CHECK_INT(n, ==, 11 + 6 + 1);  /* hats cancel out */
    CHECK(ev[n - 1].type == SYN);
    struct pvs_evdev_event small[3];
    CHECK_INT(pvs_uinput_map(&rest, &full, small, 3), ==, 3);
}

int main(void)
{
    RUN(test_key);
    RUN(test_pointer);
    RUN(test_button_wheel);
    RUN(test_gamepad_release_all);
    RUN(test_gamepad_kind);
    RUN(test_ranges);
    RUN(test_tables);
    RUN(test_uinput_map);
    TEST_EXIT();
}
