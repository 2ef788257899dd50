/* SDL events to pvstream input events (see sdl_input.h). */
#include "client/sdl_input.h"

#include <math.h>
#include <string.h>

#include <SDL.h>

#include "common/log.h"

static void send(struct pvs_sdl_input *in, const struct pvs_input_event *ev)
{
    if (in->send(in->ctx, ev) == 0)
        in->sent++;
    else
        in->send_errors++;
}

void pvs_sdl_input_init(struct pvs_sdl_input *in, pvs_input_send_fn fn, void *ctx)
{
    memset(in, 0, sizeof(*in));
    in->send = fn;
    in->ctx = ctx;
    in->last_x = in->last_y = -1;
}

void pvs_sdl_input_release_all(struct pvs_sdl_input *in)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_RELEASE_ALL};
    send(in, &ev);
    memset(in->keys_down, 0, sizeof(in->keys_down));
    in->buttons_down = 0;
}

void pvs_sdl_input_set_grab(struct pvs_sdl_input *in, struct pvs_present *p, bool on)
{
    in->grabbed = on;
    SDL_SetWindowKeyboardGrab(pvs_present_window(p), on ? SDL_TRUE : SDL_FALSE);
    if (SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE) != 0)
        PVS_LOG_W("relative mouse mode: %s", SDL_GetError());
    in->last_x = in->last_y = -1;
}

static enum pvs_hotkey hotkey(const SDL_KeyboardEvent *k)
{
    if (k->keysym.scancode == SDL_SCANCODE_F11 && !(k->keysym.mod & (KMOD_CTRL | KMOD_ALT)))
        return PVS_HOTKEY_FULLSCREEN;
    if (!(k->keysym.mod & KMOD_CTRL) || !(k->keysym.mod & KMOD_ALT))
        return PVS_HOTKEY_NONE;
    switch (k->keysym.scancode) {
    case SDL_SCANCODE_RETURN:
    case SDL_SCANCODE_KP_ENTER: return PVS_HOTKEY_FULLSCREEN;
    case SDL_SCANCODE_G: return PVS_HOTKEY_GRAB;
    case SDL_SCANCODE_S: return PVS_HOTKEY_OVERLAY;
    case SDL_SCANCODE_Q: return PVS_HOTKEY_QUIT;
    default: return PVS_HOTKEY_NONE;
    }
}

static enum pvs_hotkey key_event(struct pvs_sdl_input *in, const SDL_KeyboardEvent *k)
{
    int usage = (int)k->keysym.scancode;
    bool down = k->type == SDL_KEYDOWN;
    if (down) {
        enum pvs_hotkey h = hotkey(k);
        if (h != PVS_HOTKEY_NONE)
            return k->repeat ? PVS_HOTKEY_NONE : h;
        if (k->repeat)
            return PVS_HOTKEY_NONE;
    }
    if (usage < 1 || usage > PVS_INPUT_HID_MAX)
        return PVS_HOTKEY_NONE;
    uint8_t bit = (uint8_t)(1u << (usage & 7));
    bool was_down = in->keys_down[usage >> 3] & bit;
    /* Only releases of keys that were sent down: a hotkey's own key is
     * never sent. */
    if (down == was_down)
        return PVS_HOTKEY_NONE;
    if (down)
        in->keys_down[usage >> 3] |= bit;
    else
        in->keys_down[usage >> 3] &= (uint8_t)~bit;
    struct pvs_input_event ev = {.type = PVS_INPUT_KEY};
    ev.u.key.usage = (uint16_t)usage;
    ev.u.key.down = down;
    send(in, &ev);
    return PVS_HOTKEY_NONE;
}

static int16_t clamp16(double v)
{
    return v > 32767 ? 32767 : v < -32768 ? -32768 : (int16_t)v;
}

static void motion(struct pvs_sdl_input *in, const SDL_MouseMotionEvent *m, struct pvs_present *p)
{
    if (m->which == SDL_TOUCH_MOUSEID)
        return;
    struct pvs_input_event ev;
    if (in->grabbed) {
        if (!m->xrel && !m->yrel)
            return;
        ev.type = PVS_INPUT_POINTER_REL;
        ev.u.rel.dx = clamp16(m->xrel);
        ev.u.rel.dy = clamp16(m->yrel);
        send(in, &ev);
        return;
    }
    int fx, fy, fw, fh;
    if (!pvs_present_to_frame(p, m->x, m->y, &fx, &fy, &fw, &fh) || fw > 65535 || fh > 65535)
        return;
    if (fx == in->last_x && fy == in->last_y)
        return;
    in->last_x = fx;
    in->last_y = fy;
    ev.type = PVS_INPUT_POINTER_ABS;
    ev.u.abs.x = (uint16_t)fx;
    ev.u.abs.y = (uint16_t)fy;
    ev.u.abs.width = (uint16_t)fw;
    ev.u.abs.height = (uint16_t)fh;
    send(in, &ev);
}

static void button(struct pvs_sdl_input *in, const SDL_MouseButtonEvent *b)
{
    if (b->which == SDL_TOUCH_MOUSEID || b->button < 1 || b->button > 5)
        return;
    bool down = b->type == SDL_MOUSEBUTTONDOWN;
    uint8_t bit = (uint8_t)(1u << b->button);
    if (down == !!(in->buttons_down & bit))
        return;
    in->buttons_down = down ? (uint8_t)(in->buttons_down | bit) : (uint8_t)(in->buttons_down & ~bit);
    /* SDL numbers left, middle, right, X1, X2 as 1..5, which are the
     * protocol's left, middle, right, back, forward. */
    struct pvs_input_event ev = {.type = PVS_INPUT_BUTTON};
    ev.u.button.button = b->button;
    ev.u.button.down = down;
    send(in, &ev);
}

static void wheel(struct pvs_sdl_input *in, const SDL_MouseWheelEvent *w)
{
    if (w->which == SDL_TOUCH_MOUSEID)
        return;
    double sign = w->direction == SDL_MOUSEWHEEL_FLIPPED ? -1 : 1;
    /* SDL: y positive away from the user (up), x positive right, as the
     * protocol has it; precise values carry the fractions of smooth
     * scrolling. */
    in->wheel_x += sign * w->preciseX * PVS_INPUT_WHEEL_NOTCH;
    in->wheel_y += sign * w->preciseY * PVS_INPUT_WHEEL_NOTCH;
    double dx = trunc(in->wheel_x), dy = trunc(in->wheel_y);
    if (dx == 0 && dy == 0)
        return;
    in->wheel_x -= dx;
    in->wheel_y -= dy;
    struct pvs_input_event ev = {.type = PVS_INPUT_WHEEL};
    ev.u.wheel.dx = clamp16(dx);
    ev.u.wheel.dy = clamp16(dy);
    send(in, &ev);
}

static struct pvs_sdl_pad *pad_of(struct pvs_sdl_input *in, SDL_JoystickID id)
{
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        if (in->pads[i].gc && in->pads[i].id == id)
            return &in->pads[i];
    return NULL;
}

static void pad_send(struct pvs_sdl_input *in, struct pvs_sdl_pad *pad)
{
    struct pvs_input_event ev = {.type = PVS_INPUT_GAMEPAD};
    ev.u.pad = pad->state;
    send(in, &ev);
}

/* A PlayStation pad is passed on as a DualShock 4, so games show its
 * button names; a DualSense too (the server has no closer kind). Every
 * other pad is an Xbox 360 pad to the server. */
static uint8_t pad_kind(SDL_GameController *gc)
{
    switch (SDL_GameControllerGetType(gc)) {
    case SDL_CONTROLLER_TYPE_PS4:
    case SDL_CONTROLLER_TYPE_PS5:
        return PVS_PAD_KIND_DS4;
    default:
        return PVS_PAD_KIND_XBOX360;
    }
}

static void pad_added(struct pvs_sdl_input *in, int device_index)
{
    int slot = -1;
    for (int i = 0; i < PVS_INPUT_MAX_PADS && slot < 0; i++)
        if (!in->pads[i].gc)
            slot = i;
    if (slot < 0) {
        PVS_LOG_W("a fifth game controller is not passed on (the protocol has %d)",
                  PVS_INPUT_MAX_PADS);
        return;
    }
    SDL_GameController *gc = SDL_GameControllerOpen(device_index);
    if (!gc) {
        PVS_LOG_W("cannot open game controller %d: %s", device_index, SDL_GetError());
        return;
    }
    SDL_JoystickID id = SDL_JoystickInstanceID(SDL_GameControllerGetJoystick(gc));
    if (pad_of(in, id)) {     /* already open (SDL reports pads at start twice) */
        SDL_GameControllerClose(gc);
        return;
    }
    struct pvs_sdl_pad *pad = &in->pads[slot];
    memset(pad, 0, sizeof(*pad));
    pad->gc = gc;
    pad->id = id;
    pad->state.pad = (uint8_t)slot;
    pad->state.connected = true;
    pad->state.kind = pad_kind(gc);
    PVS_LOG_I("game controller %d: %s%s", slot, SDL_GameControllerName(gc),
              pad->state.kind == PVS_PAD_KIND_DS4 ? " (passed on as a DualShock 4)" : "");
    pad_send(in, pad);
}

static void pad_removed(struct pvs_sdl_input *in, SDL_JoystickID id)
{
    struct pvs_sdl_pad *pad = pad_of(in, id);
    if (!pad)
        return;
    SDL_GameControllerClose(pad->gc);
    pad->gc = NULL;
    uint8_t slot = pad->state.pad, kind = pad->state.kind;
    memset(&pad->state, 0, sizeof(pad->state));
    pad->state.pad = slot;
    pad->state.kind = kind;
    pad_send(in, pad);
}

static int pad_button_bit(Uint8 b)
{
    switch (b) {
    case SDL_CONTROLLER_BUTTON_A: return PVS_PAD_A;
    case SDL_CONTROLLER_BUTTON_B: return PVS_PAD_B;
    case SDL_CONTROLLER_BUTTON_X: return PVS_PAD_X;
    case SDL_CONTROLLER_BUTTON_Y: return PVS_PAD_Y;
    case SDL_CONTROLLER_BUTTON_LEFTSHOULDER: return PVS_PAD_LB;
    case SDL_CONTROLLER_BUTTON_RIGHTSHOULDER: return PVS_PAD_RB;
    case SDL_CONTROLLER_BUTTON_BACK: return PVS_PAD_BACK;
    case SDL_CONTROLLER_BUTTON_START: return PVS_PAD_START;
    case SDL_CONTROLLER_BUTTON_GUIDE: return PVS_PAD_GUIDE;
    case SDL_CONTROLLER_BUTTON_LEFTSTICK: return PVS_PAD_LSTICK;
    case SDL_CONTROLLER_BUTTON_RIGHTSTICK: return PVS_PAD_RSTICK;
    case SDL_CONTROLLER_BUTTON_DPAD_UP: return PVS_PAD_UP;
    case SDL_CONTROLLER_BUTTON_DPAD_DOWN: return PVS_PAD_DOWN;
    case SDL_CONTROLLER_BUTTON_DPAD_LEFT: return PVS_PAD_LEFT;
    case SDL_CONTROLLER_BUTTON_DPAD_RIGHT: return PVS_PAD_RIGHT;
    default: return -1;
    }
}

static int16_t flip(Sint16 v)
{
    return v == -32768 ? 32767 : (int16_t)-v;
}

static void pad_axis(struct pvs_sdl_input *in, const SDL_ControllerAxisEvent *a)
{
    struct pvs_sdl_pad *pad = pad_of(in, a->which);
    if (!pad)
        return;
    struct pvs_gamepad before = pad->state;
    /* SDL's stick y grows downwards; the protocol's upwards. Triggers:
     * 0..32767 to 0..255. */
    uint8_t trig = a->value > 0 ? (uint8_t)(a->value >> 7) : 0;
    switch (a->axis) {
    case SDL_CONTROLLER_AXIS_LEFTX: pad->state.lx = a->value; break;
    case SDL_CONTROLLER_AXIS_LEFTY: pad->state.ly = flip(a->value); break;
    case SDL_CONTROLLER_AXIS_RIGHTX: pad->state.rx = a->value; break;
    case SDL_CONTROLLER_AXIS_RIGHTY: pad->state.ry = flip(a->value); break;
    case SDL_CONTROLLER_AXIS_TRIGGERLEFT: pad->state.lt = trig; break;
    case SDL_CONTROLLER_AXIS_TRIGGERRIGHT: pad->state.rt = trig; break;
    default: return;
    }
    if (memcmp(&before, &pad->state, sizeof(before)) != 0)
        pad_send(in, pad);
}

static void pad_button(struct pvs_sdl_input *in, const SDL_ControllerButtonEvent *b)
{
    struct pvs_sdl_pad *pad = pad_of(in, b->which);
    int bit = pad_button_bit(b->button);
    if (!pad || bit < 0)
        return;
    uint16_t before = pad->state.buttons;
    if (b->state == SDL_PRESSED)
        pad->state.buttons = (uint16_t)(pad->state.buttons | (1u << bit));
    else
        pad->state.buttons = (uint16_t)(pad->state.buttons & ~(1u << bit));
    if (before != pad->state.buttons)
        pad_send(in, pad);
}

enum pvs_hotkey pvs_sdl_input_handle(struct pvs_sdl_input *in, const SDL_Event *e,
                                     struct pvs_present *p)
{
    switch (e->type) {
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        return key_event(in, &e->key);
    case SDL_MOUSEMOTION:
        motion(in, &e->motion, p);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        button(in, &e->button);
        break;
    case SDL_MOUSEWHEEL:
        wheel(in, &e->wheel);
        break;
    case SDL_CONTROLLERDEVICEADDED:
        pad_added(in, e->cdevice.which);
        break;
    case SDL_CONTROLLERDEVICEREMOVED:
        pad_removed(in, e->cdevice.which);
        break;
    case SDL_CONTROLLERAXISMOTION:
        pad_axis(in, &e->caxis);
        break;
    case SDL_CONTROLLERBUTTONDOWN:
    case SDL_CONTROLLERBUTTONUP:
        pad_button(in, &e->cbutton);
        break;
    case SDL_WINDOWEVENT:
        if (e->window.event == SDL_WINDOWEVENT_FOCUS_LOST)
            pvs_sdl_input_release_all(in);
        break;
    default:
        break;
    }
    return PVS_HOTKEY_NONE;
}

void pvs_sdl_input_new_session(struct pvs_sdl_input *in)
{
    memset(in->keys_down, 0, sizeof(in->keys_down));
    in->buttons_down = 0;
    in->last_x = in->last_y = -1;
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        if (in->pads[i].gc)
            pad_send(in, &in->pads[i]);
}

void pvs_sdl_input_rumble(struct pvs_sdl_input *in, const struct pvs_pad_rumble *r)
{
    if (r->pad >= PVS_INPUT_MAX_PADS || !in->pads[r->pad].gc)
        return;
    /* "Until the next one" is SDL's longest rumble (it caps durations at
     * 65535 ms); the server sends a stop, and the session one of its own
     * when the server goes. */
    Uint32 ms = r->duration_ms ? r->duration_ms : 0xffff;
    if (SDL_GameControllerRumble(in->pads[r->pad].gc, r->low_freq, r->high_freq, ms) != 0 &&
        !in->rumble_failed_logged) {
        in->rumble_failed_logged = true;
        PVS_LOG_I("game controller %d cannot rumble: %s", r->pad, SDL_GetError());
    }
}

void pvs_sdl_input_close(struct pvs_sdl_input *in)
{
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++) {
        if (in->pads[i].gc)
            SDL_GameControllerClose(in->pads[i].gc);
        in->pads[i].gc = NULL;
    }
}
