/* Moonlight's input messages (the payload of control message 0x0206,
 * gamestream/gs_control.h): their decoding into a plain struct, and the
 * mapping onto pvstream's own input events (input/input.h), which the
 * injectors take.
 *
 * Layout (fact from moonlight-common-c src/Input.h and src/InputStream.c):
 * a u32 big-endian size (the bytes after it), a u32 little-endian magic,
 * then the body. Endianness differs by field and is said at each: mouse
 * motion, buttons and scroll big-endian; keyboard, gamepad and Sunshine's
 * extensions little-endian; floats little-endian IEEE 754.
 *
 * Keys arrive as Windows virtual-key codes (the client sends 0x80 in the
 * high byte; only the low byte is a key), interpreted on a US layout;
 * pvstream's events take USB HID usages (pvs_gs_vk_to_hid).
 *
 * No I/O, no allocation. A map state is used by one thread at a time. */
#ifndef PVS_GS_INPUT_H
#define PVS_GS_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input/input.h"

/* Magic numbers (src/Input.h; the Gen 5+ ones a current client sends). */
enum pvs_gs_input_magic {
    PVS_GS_IN_KEY_DOWN = 0x00000003,
    PVS_GS_IN_KEY_UP = 0x00000004,
    PVS_GS_IN_MOUSE_ABS = 0x00000005,
    PVS_GS_IN_MOUSE_REL = 0x00000007,
    PVS_GS_IN_BUTTON_DOWN = 0x00000008,
    PVS_GS_IN_BUTTON_UP = 0x00000009,
    PVS_GS_IN_SCROLL = 0x0000000A,
    PVS_GS_IN_GAMEPAD = 0x0000000C,
    PVS_GS_IN_HAPTICS = 0x0000000D,
    PVS_GS_IN_UTF8 = 0x00000017,
    PVS_GS_IN_HSCROLL = 0x55000001,
    PVS_GS_IN_TOUCH = 0x55000002,
    PVS_GS_IN_PEN = 0x55000003,
    PVS_GS_IN_PAD_ARRIVAL = 0x55000004,
    PVS_GS_IN_PAD_TOUCH = 0x55000005,
    PVS_GS_IN_PAD_MOTION = 0x55000006,
    PVS_GS_IN_PAD_BATTERY = 0x55000007,
};

enum pvs_gs_input_kind {
    PVS_GS_INPUT_KEY = 1,
    PVS_GS_INPUT_MOUSE_REL,
    PVS_GS_INPUT_MOUSE_ABS,
    PVS_GS_INPUT_BUTTON,
    PVS_GS_INPUT_SCROLL,         /* vertical */
    PVS_GS_INPUT_HSCROLL,
    PVS_GS_INPUT_GAMEPAD,
    PVS_GS_INPUT_PAD_ARRIVAL,
    PVS_GS_INPUT_TEXT,
    PVS_GS_INPUT_TOUCH,
    PVS_GS_INPUT_PEN,
    PVS_GS_INPUT_PAD_TOUCH,
    PVS_GS_INPUT_PAD_MOTION,
    PVS_GS_INPUT_PAD_BATTERY,
    PVS_GS_INPUT_HAPTICS,
};

/* Keyboard modifier bits (src/Limelight.h). */
#define PVS_GS_MOD_SHIFT 0x01
#define PVS_GS_MOD_CTRL 0x02
#define PVS_GS_MOD_ALT 0x04
#define PVS_GS_MOD_META 0x08

/* Gamepad button bits (src/Limelight.h): the low 16 are Xbox 360's, the
 * high ones Sunshine's extension. */
#define PVS_GS_PAD_UP 0x0001u
#define PVS_GS_PAD_DOWN 0x0002u
#define PVS_GS_PAD_LEFT 0x0004u
#define PVS_GS_PAD_RIGHT 0x0008u
#define PVS_GS_PAD_START 0x0010u
#define PVS_GS_PAD_BACK 0x0020u
#define PVS_GS_PAD_LSTICK 0x0040u
#define PVS_GS_PAD_RSTICK 0x0080u
#define PVS_GS_PAD_LB 0x0100u
#define PVS_GS_PAD_RB 0x0200u
#define PVS_GS_PAD_GUIDE 0x0400u
#define PVS_GS_PAD_A 0x1000u
#define PVS_GS_PAD_B 0x2000u
#define PVS_GS_PAD_X 0x4000u
#define PVS_GS_PAD_Y 0x8000u
#define PVS_GS_PAD_PADDLE1 0x010000u
#define PVS_GS_PAD_PADDLE2 0x020000u
#define PVS_GS_PAD_PADDLE3 0x040000u
#define PVS_GS_PAD_PADDLE4 0x080000u
#define PVS_GS_PAD_TOUCHPAD 0x100000u
#define PVS_GS_PAD_MISC 0x200000u

/* Controller types of an arrival (LI_CTYPE_*). */
#define PVS_GS_PAD_TYPE_UNKNOWN 0
#define PVS_GS_PAD_TYPE_XBOX 1
#define PVS_GS_PAD_TYPE_PS 2
#define PVS_GS_PAD_TYPE_NINTENDO 3

#define PVS_GS_MAX_PADS 16           /* bits of the active-gamepad mask */
#define PVS_GS_TEXT_MAX 32

struct pvs_gs_input {
    enum pvs_gs_input_kind kind;
    union {
        struct { uint8_t vk; bool down; uint8_t modifiers; uint8_t flags; } key;
        struct { int16_t dx, dy; } rel;                  /* y down */
        /* As sent: width and height are the reference size minus one. */
        struct { int16_t x, y, width, height; } abs;
        struct { uint8_t button; bool down; } button;    /* 1 left .. 5 X2 */
        struct { int16_t amount; } scroll;               /* 120 a notch; up, right positive */
        struct {
            uint8_t pad;                                 /* 0..15 */
            uint16_t active;                             /* pads present, bit per pad */
            uint32_t buttons;                            /* PVS_GS_PAD_* */
            uint8_t lt, rt;
            int16_t lx, ly, rx, ry;                      /* y up */
        } gamepad;
        struct { uint8_t pad, type; uint16_t capabilities; uint32_t buttons; } arrival;
        struct { uint8_t len; char text[PVS_GS_TEXT_MAX + 1]; } text; /* one UTF-8 string */
        struct {
            uint8_t event; uint16_t rotation; uint32_t pointer;
            float x, y, pressure, major, minor;
        } touch;
        struct {
            uint8_t event, tool, buttons; float x, y, pressure;
            uint16_t rotation; uint8_t tilt; float major, minor;
        } pen;
        struct { uint8_t pad, event; uint32_t pointer; float x, y, pressure; } pad_touch;
        struct { uint8_t pad, type; float x, y, z; } motion;
        struct { uint8_t pad, state, percent; } battery;
        struct { bool enable; } haptics;
    } u;
};

/* Decodes one input message of len bytes. The size field must say len - 4;
 * the body may be longer than its kind needs (ignored), not shorter; a
 * controller number must be under 16, a mouse button 1..5, text well-formed
 * UTF-8 of 1..32 bytes. Returns 0, PVS_ENOTSUP for an unknown magic, or
 * PVS_EBADDATA. */
int pvs_gs_input_parse(const uint8_t *msg, size_t len, struct pvs_gs_input *out);

/* ---- mapping onto pvstream's events ------------------------------------------- */

/* What the mapping keeps between messages: which pads the client has, and
 * what kind each is (from its arrival). Zero it to start. */
struct pvs_gs_input_map {
    uint8_t pad_type[PVS_GS_MAX_PADS];
    uint16_t pads;               /* the last active mask */
    uint64_t mapped;             /* messages that made events */
    uint64_t unmapped;           /* parsed but with no pvstream event (text, touch, pen,
                                    sensors, a key without a usage, pads past 4) */
};

/* The events for one message, into out (cap >= 1; one message makes at most
 * one event). Returns how many (0 when it has none, counted). Keys become
 * HID usages; absolute motion is scaled to the reference size the client
 * meant (the width it sends plus one); a gamepad whose bit is clear in the
 * active mask is removed (connected false); pads 4..15 have no pvstream
 * pad. */
int pvs_gs_input_map(struct pvs_gs_input_map *m, const struct pvs_gs_input *in,
                     struct pvs_input_event *out, size_t cap);

/* The HID keyboard usage of a Windows virtual-key code on a US layout; 0
 * where there is none. */
uint16_t pvs_gs_vk_to_hid(uint8_t vk);

#endif
