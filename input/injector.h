/* Input injection: puts client events (input/input.h) into the server's
 * system. One injector holds a keyboard-and-pointer backend (XTest on
 * Linux, SendInput on Windows) and a gamepad backend (uinput on Linux, the
 * ViGEmBus driver on Windows). It remembers every key and button it pressed, so a
 * session that ends, however it ends, leaves nothing held down.
 *
 * Threading: an injector is used by one thread at a time (the server's
 * control thread); nothing here blocks on the network. */
#ifndef PVS_INJECTOR_H
#define PVS_INJECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input/input.h"

struct pvs_injector;

struct pvs_injector_stats {
    uint64_t injected;         /* events put into the system */
    /* Dropped, by kind: out of range (not from pvs_input_parse), no
     * mapping (a HID usage without a key), the backend is off, or its call
     * failed. */
    uint64_t dropped_key;
    uint64_t dropped_pointer;  /* absolute and relative motion */
    uint64_t dropped_button;
    uint64_t dropped_wheel;
    uint64_t dropped_gamepad;  /* mostly: gamepads are off */
    uint64_t releases;         /* keys and buttons let go by release_all */
};

/* Opens the backends. `display` is the X display name (NULL: $DISPLAY);
 * Windows ignores it. The keyboard-and-pointer backend must open, or this
 * fails (PVS_ENODEV with a log line saying why). Gamepads are optional:
 * where their backend cannot open, one log line says why, and gamepad
 * events are dropped and counted. Returns 0 or a PVS_E* code; *inj is NULL
 * on failure. */
int pvs_injector_open(struct pvs_injector **inj, const char *display);

/* Injects one event. RELEASE_ALL calls pvs_injector_release_all. Returns 0,
 * PVS_EINVAL (out of range), PVS_ENOTSUP (no mapping for the key, or
 * gamepads off) or PVS_EIO (the backend failed, e.g. the X server went
 * away); every non-zero return is counted as a drop. */
int pvs_injector_inject(struct pvs_injector *inj, const struct pvs_input_event *ev);

/* Releases every key and mouse button this injector pressed and has not
 * released, and puts connected gamepads back to rest (they stay
 * connected). The server calls it when a session ends. */
void pvs_injector_release_all(struct pvs_injector *inj);

/* Whether gamepad events go anywhere. */
bool pvs_injector_has_gamepads(const struct pvs_injector *inj);

/* Rumble a game asked of a virtual pad since the last call, for the
 * server to send to its client (net/control.h's send_rumble). Returns 1
 * with *out filled (call again: there may be more), 0 when there is none or
 * the gamepad backend reports none. Never blocks; the server calls it each
 * time round its control loop. */
int pvs_injector_poll_rumble(struct pvs_injector *inj, struct pvs_pad_rumble *out);

void pvs_injector_get_stats(const struct pvs_injector *inj,
                            struct pvs_injector_stats *out);

/* Releases everything (as pvs_injector_release_all), removes virtual
 * gamepads, closes the backends. Accepts NULL; clears *inj. */
void pvs_injector_close(struct pvs_injector **inj);

/* ---- backends (the files of input/; the server uses only the above) ----- */

/* Keyboard and pointer. Each call returns 0 or a PVS_E* code; a backend
 * that keeps failing is still called (the injector counts the drops). */
struct pvs_inject_ops {
    const char *name;
    int (*open)(void **state, const char *display);
    void (*close)(void *state);
    /* PVS_ENOTSUP: the usage has no key on this system. */
    int (*key)(void *state, uint16_t usage, bool down);
    /* (x, y) in a frame of width x height (checked: x < width, y < height),
     * scaled by the backend to its screen. */
    int (*motion_abs)(void *state, uint16_t x, uint16_t y, uint16_t width,
                      uint16_t height);
    int (*motion_rel)(void *state, int16_t dx, int16_t dy);
    int (*button)(void *state, uint8_t button, bool down);
    /* 1/120 notch; positive right and up. */
    int (*wheel)(void *state, int16_t dx, int16_t dy);
};

/* Gamepads. open fails with a reason (a sentence for a person, written into
 * `why`) where the system has no way to add a pad. */
struct pvs_pad_ops {
    const char *name;
    int (*open)(void **state, char *why, size_t why_size);
    void (*close)(void *state);
    /* The pad's whole state; connected false removes it. */
    int (*update)(void *state, const struct pvs_gamepad *pad);
    /* Optional (NULL: this backend reports no rumble). A change of rumble
     * since the last call: 1 with *out filled, 0 none. Never blocks. */
    int (*rumble)(void *state, struct pvs_pad_rumble *out);
};

extern const struct pvs_inject_ops pvs_xtest_ops;
extern const struct pvs_inject_ops pvs_sendinput_ops;
extern const struct pvs_pad_ops pvs_uinput_ops;
extern const struct pvs_pad_ops pvs_vigem_ops;

/* ---- mappings (pure; exposed for tests) ---------------------------------- */

/* Linux evdev key code (KEY_*) of a keyboard-page HID usage; 0 where none.
 * The X keycode of an evdev X server is this + 8. */
uint16_t pvs_hid_to_evdev(uint16_t usage);

/* PS/2 scan code set 1 of a HID usage, as Windows takes it: low byte the
 * code, PVS_SCAN_EXTENDED set for the keys sent with an 0xE0 prefix; 0
 * where none. Pause, which has no plain set-1 code, is
 * PVS_SCAN_PAUSE. */
#define PVS_SCAN_EXTENDED 0x100
#define PVS_SCAN_PAUSE 0x1000
uint16_t pvs_hid_to_set1(uint16_t usage);

/* One evdev event for a virtual gamepad (struct input_event's type, code,
 * value, without the time). */
struct pvs_evdev_event {
    uint16_t type;
    uint16_t code;
    int32_t value;
};

/* The largest number of events pvs_uinput_map writes. */
#define PVS_UINPUT_MAX_EVENTS 24

/* The evdev events that take an Xbox-360-like pad from state `prev` (NULL:
 * a pad just created, all at rest) to `next`: a key event per changed
 * button, an absolute event per changed axis (sticks -32768..32767 with y
 * positive down, triggers 0..255, d-pad as hat -1..1), then a SYN_REPORT;
 * nothing at all when nothing changed. Writes at most `cap` events (cap >=
 * PVS_UINPUT_MAX_EVENTS always suffices). Returns the count. */
size_t pvs_uinput_map(const struct pvs_gamepad *prev,
                      const struct pvs_gamepad *next,
                      struct pvs_evdev_event *out, size_t cap);

#endif
