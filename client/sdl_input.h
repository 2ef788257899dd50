/* SDL events to pvstream input events (input/input.h): keys as HID usages
 * (SDL's scancodes), down and up only (repeats are not sent); the pointer
 * as a position in the stream's frame, or as motion while input is
 * grabbed; buttons; the wheel in 1/120 notches; game controllers, their
 * whole state on every change; RELEASE_ALL when the window loses focus.
 * Also spots the client's hotkeys, which are not sent.
 *
 * Threading: main thread only. */
#ifndef PVS_CLIENT_SDL_INPUT_H
#define PVS_CLIENT_SDL_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "client/present.h"
#include "input/input.h"

/* Sends one event; returns 0 or a negative code (not keyed: dropped). */
typedef int (*pvs_input_send_fn)(void *ctx, const struct pvs_input_event *ev);

enum pvs_hotkey {
    PVS_HOTKEY_NONE = 0,
    PVS_HOTKEY_FULLSCREEN,   /* F11, Ctrl+Alt+Enter */
    PVS_HOTKEY_GRAB,         /* Ctrl+Alt+G */
    PVS_HOTKEY_OVERLAY,      /* Ctrl+Alt+S */
    PVS_HOTKEY_QUIT,         /* Ctrl+Alt+Q */
};

union SDL_Event; /* SDL's, kept out of this header */

struct pvs_sdl_pad {
    void *gc;                   /* SDL_GameController, NULL: slot free */
    int32_t id;                 /* its SDL_JoystickID */
    struct pvs_gamepad state;
};

struct pvs_sdl_input {
    pvs_input_send_fn send;
    void *ctx;
    uint8_t keys_down[32];      /* HID usages sent down and not yet up */
    uint8_t buttons_down;       /* bit per mouse button sent down */
    bool grabbed;
    int last_x, last_y;         /* the last absolute position sent */
    double wheel_x, wheel_y;    /* fractions of 1/120 not yet sent */
    struct pvs_sdl_pad pads[PVS_INPUT_MAX_PADS];
    bool rumble_failed_logged;  /* a pad without motors said so once */
    uint64_t sent, send_errors;
};

void pvs_sdl_input_init(struct pvs_sdl_input *in, pvs_input_send_fn send, void *ctx);

/* Handles one event. Returns the hotkey it was, or PVS_HOTKEY_NONE. */
enum pvs_hotkey pvs_sdl_input_handle(struct pvs_sdl_input *in, const union SDL_Event *e,
                                     struct pvs_present *p);

/* Sends RELEASE_ALL and forgets what was held down. */
void pvs_sdl_input_release_all(struct pvs_sdl_input *in);

/* Grabs or releases the keyboard and switches relative mouse mode. */
void pvs_sdl_input_set_grab(struct pvs_sdl_input *in, struct pvs_present *p, bool on);

/* A new session: the server released everything the last one held, so
 * forget what was sent down and announce the connected pads again. */
void pvs_sdl_input_new_session(struct pvs_sdl_input *in);

/* Plays the server's rumble on the pad it names (the GAMEPAD number this
 * client gave it); a pad that is gone, or has no motors, is skipped. */
void pvs_sdl_input_rumble(struct pvs_sdl_input *in, const struct pvs_pad_rumble *r);

/* Closes the game controllers. */
void pvs_sdl_input_close(struct pvs_sdl_input *in);

#endif
