/* Input events: what the client sends and the server injects
 * (docs/protocol.md, "Input events"). Key codes are USB HID usage IDs of the
 * keyboard page (SDL's scancodes are the same numbers), so neither side needs
 * the other's keyboard layout. This file is the event model and its wire
 * form; input/injector.h puts events into the system. */
#ifndef PVS_INPUT_H
#define PVS_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pvs_input_type {
    PVS_INPUT_KEY = 0x20,
    PVS_INPUT_POINTER_ABS = 0x21,
    PVS_INPUT_POINTER_REL = 0x22,
    PVS_INPUT_BUTTON = 0x23,
    PVS_INPUT_WHEEL = 0x24,
    PVS_INPUT_GAMEPAD = 0x25,
    PVS_INPUT_RELEASE_ALL = 0x26,
};

#define PVS_INPUT_HID_MAX 0xE7       /* the last keyboard usage: right GUI */
#define PVS_INPUT_MAX_PADS 4
#define PVS_INPUT_WHEEL_NOTCH 120    /* wheel units per notch */
#define PVS_INPUT_MAX_MESSAGE 32     /* the largest encoded event */

enum pvs_mouse_button {
    PVS_BUTTON_LEFT = 1,
    PVS_BUTTON_MIDDLE = 2,
    PVS_BUTTON_RIGHT = 3,
    PVS_BUTTON_BACK = 4,
    PVS_BUTTON_FORWARD = 5,
};

/* Gamepad buttons, bit numbers of pvs_gamepad.buttons (XInput's set). */
enum pvs_pad_button {
    PVS_PAD_A, PVS_PAD_B, PVS_PAD_X, PVS_PAD_Y, PVS_PAD_LB, PVS_PAD_RB,
    PVS_PAD_BACK, PVS_PAD_START, PVS_PAD_GUIDE, PVS_PAD_LSTICK, PVS_PAD_RSTICK,
    PVS_PAD_UP, PVS_PAD_DOWN, PVS_PAD_LEFT, PVS_PAD_RIGHT,
    PVS_PAD_BUTTON_COUNT
};

/* What kind of pad the client holds, so the server can add the same kind
 * where it can (Windows: ViGEmBus emulates both). Anything else the client
 * has is sent as an Xbox 360 pad. */
enum pvs_pad_kind {
    PVS_PAD_KIND_XBOX360 = 0,
    PVS_PAD_KIND_DS4 = 1,        /* a DualShock 4 (or a DualSense, its nearest) */
};

struct pvs_gamepad {
    uint8_t pad;                 /* 0..PVS_INPUT_MAX_PADS-1 */
    bool connected;
    uint8_t kind;                /* enum pvs_pad_kind */
    uint16_t buttons;            /* 1 << enum pvs_pad_button */
    int16_t lx, ly, rx, ry;      /* sticks; y positive is up */
    uint8_t lt, rt;              /* triggers */
};

/* Rumble a virtual pad was asked for by a game: motor speeds, 0 off to
 * 65535 full. The low-frequency motor is the big one (left on an Xbox
 * pad), the high-frequency one the small one. duration_ms 0: until the
 * next rumble for this pad. Server to client (docs/protocol.md, RUMBLE). */
struct pvs_pad_rumble {
    uint8_t pad;                 /* 0..PVS_INPUT_MAX_PADS-1 */
    uint16_t low_freq;
    uint16_t high_freq;
    uint16_t duration_ms;
};

struct pvs_input_event {
    enum pvs_input_type type;
    union {
        struct { uint16_t usage; bool down; } key;
        struct { uint16_t x, y, width, height; } abs;
        struct { int16_t dx, dy; } rel;
        struct { uint8_t button; bool down; } button; /* enum pvs_mouse_button */
        struct { int16_t dx, dy; } wheel;             /* 1/120 notch; up and right positive */
        struct pvs_gamepad pad;
    } u;
};

/* Writes the event as a control message's inner type and body into out
 * (at least PVS_INPUT_MAX_MESSAGE bytes). Returns the length, or PVS_EINVAL
 * for an event the server would refuse (a usage out of range, x >= width,
 * a button or pad number unknown). */
int pvs_input_encode(const struct pvs_input_event *ev, uint8_t *out, size_t cap);

/* Reads an inner message (type byte first) of `len` bytes. Longer bodies are
 * accepted (later versions append), shorter ones and out-of-range values
 * refused. Returns 0 or PVS_EBADDATA. */
int pvs_input_parse(const uint8_t *msg, size_t len, struct pvs_input_event *ev);

/* The ENet channel an event type travels on: 1 reliable, 2 unreliable
 * sequenced. */
int pvs_input_channel(enum pvs_input_type type);

#endif
