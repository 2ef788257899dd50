/* The injector (input/injector.h): checks each event, hands it to its
 * backend, and keeps a bitmap of what is held down so that release_all
 * can let go of exactly that. */
#include "input/injector.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

/* Keyboard-and-pointer backends in order of preference: the first that
 * opens is used. */
static const struct pvs_inject_ops *const inject_backends[] = {
#ifdef _WIN32
    &pvs_sendinput_ops,
#else
    &pvs_xtest_ops,
#endif
};

#define KEY_WORDS ((PVS_INPUT_HID_MAX + 64) / 64)

struct pvs_injector {
    const struct pvs_inject_ops *ops;
    void *state;
    const struct pvs_pad_ops *pad_ops; /* NULL: gamepads off */
    void *pad_state;
    uint64_t keys_down[KEY_WORDS];     /* bit per HID usage */
    uint8_t buttons_down;              /* bit per enum pvs_mouse_button */
    struct pvs_gamepad pads[PVS_INPUT_MAX_PADS]; /* last state sent */
    struct pvs_injector_stats stats;
};

/* The gamepad backend of this system; NULL where there is none. */
#ifdef __linux__
static const struct pvs_pad_ops *const pad_backend = &pvs_uinput_ops;
#elif defined(_WIN32)
static const struct pvs_pad_ops *const pad_backend = &pvs_vigem_ops;
#else
static const struct pvs_pad_ops *const pad_backend = NULL;
#endif

static void open_pads(struct pvs_injector *inj)
{
    char why[300] = "no gamepad backend on this system";
    if (pad_backend && pad_backend->open(&inj->pad_state, why, sizeof(why)) == 0) {
        inj->pad_ops = pad_backend;
        PVS_LOG_I("gamepads on: %s (up to %d virtual pads)", inj->pad_ops->name,
                  PVS_INPUT_MAX_PADS);
        return;
    }
    PVS_LOG_W("gamepads off: %s; gamepad input is dropped", why);
}

int pvs_injector_open(struct pvs_injector **out, const char *display)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_injector *inj = calloc(1, sizeof(*inj));
    if (!inj)
        return PVS_ENOMEM;
    for (size_t i = 0; i < sizeof(inject_backends) / sizeof(inject_backends[0]); i++) {
        if (inject_backends[i]->open(&inj->state, display) == 0) {
            inj->ops = inject_backends[i];
            break;
        }
    }
    if (!inj->ops) {
        PVS_LOG_E("input injection: no keyboard and pointer backend could "
                  "open (the lines above say why)");
        free(inj);
        return PVS_ENODEV;
    }
    PVS_LOG_I("input injection: keyboard and pointer through %s", inj->ops->name);
    open_pads(inj);
    *out = inj;
    return 0;
}

static bool key_is_down(const struct pvs_injector *inj, uint16_t usage)
{
    return (inj->keys_down[usage / 64] >> (usage % 64)) & 1;
}

static void set_key(struct pvs_injector *inj, uint16_t usage, bool down)
{
    uint64_t bit = (uint64_t)1 << (usage % 64);
    if (down)
        inj->keys_down[usage / 64] |= bit;
    else
        inj->keys_down[usage / 64] &= ~bit;
}

static int inject_key(struct pvs_injector *inj, uint16_t usage, bool down)
{
    if (usage < 1 || usage > PVS_INPUT_HID_MAX)
        return PVS_EINVAL;
    int rc = inj->ops->key(inj->state, usage, down);
    /* A release that failed is forgotten all the same: there is nothing
     * more to try, and release_all would only fail again. */
    if (rc == 0 || !down)
        set_key(inj, usage, down && rc == 0);
    return rc;
}

static int inject_button(struct pvs_injector *inj, uint8_t button, bool down)
{
    if (button < PVS_BUTTON_LEFT || button > PVS_BUTTON_FORWARD)
        return PVS_EINVAL;
    int rc = inj->ops->button(inj->state, button, down);
    uint8_t bit = (uint8_t)(1u << button);
    if (rc == 0 && down)
        inj->buttons_down |= bit;
    else if (!down)
        inj->buttons_down &= (uint8_t)~bit;
    return rc;
}

static int inject_pad(struct pvs_injector *inj, const struct pvs_gamepad *pad)
{
    if (pad->pad >= PVS_INPUT_MAX_PADS)
        return PVS_EINVAL;
    if (!inj->pad_ops)
        return PVS_ENOTSUP;
    int rc = inj->pad_ops->update(inj->pad_state, pad);
    if (rc == 0)
        inj->pads[pad->pad] = *pad;
    return rc;
}

static uint64_t *drop_counter(struct pvs_injector *inj, enum pvs_input_type t)
{
    switch (t) {
    case PVS_INPUT_KEY: return &inj->stats.dropped_key;
    case PVS_INPUT_POINTER_ABS:
    case PVS_INPUT_POINTER_REL: return &inj->stats.dropped_pointer;
    case PVS_INPUT_BUTTON: return &inj->stats.dropped_button;
    case PVS_INPUT_WHEEL: return &inj->stats.dropped_wheel;
    case PVS_INPUT_GAMEPAD: return &inj->stats.dropped_gamepad;
    case PVS_INPUT_RELEASE_ALL: break;
    }
    return NULL;
}

int pvs_injector_inject(struct pvs_injector *inj, const struct pvs_input_event *ev)
{
    if (!inj || !ev)
        return PVS_EINVAL;
    int rc = PVS_EINVAL;
    switch (ev->type) {
    case PVS_INPUT_KEY:
        rc = inject_key(inj, ev->u.key.usage, ev->u.key.down);
        break;
    case PVS_INPUT_POINTER_ABS:
        if (ev->u.abs.x < ev->u.abs.width && ev->u.abs.y < ev->u.abs.height)
            rc = inj->ops->motion_abs(inj->state, ev->u.abs.x, ev->u.abs.y,
                                      ev->u.abs.width, ev->u.abs.height);
        break;
    case PVS_INPUT_POINTER_REL:
        rc = inj->ops->motion_rel(inj->state, ev->u.rel.dx, ev->u.rel.dy);
        break;
    case PVS_INPUT_BUTTON:
        rc = inject_button(inj, ev->u.button.button, ev->u.button.down);
        break;
    case PVS_INPUT_WHEEL:
        rc = inj->ops->wheel(inj->state, ev->u.wheel.dx, ev->u.wheel.dy);
        break;
    case PVS_INPUT_GAMEPAD:
        rc = inject_pad(inj, &ev->u.pad);
        break;
    case PVS_INPUT_RELEASE_ALL:
        pvs_injector_release_all(inj);
        rc = 0;
        break;
    }
    if (rc == 0) {
        inj->stats.injected++;
    } else {
        uint64_t *c = drop_counter(inj, ev->type);
        if (c)
            (*c)++;
    }
    return rc;
}

void pvs_injector_release_all(struct pvs_injector *inj)
{
    if (!inj)
        return;
    for (uint16_t u = 1; u <= PVS_INPUT_HID_MAX; u++) {
        if (key_is_down(inj, u)) {
            inj->ops->key(inj->state, u, false);
            set_key(inj, u, false);
            inj->stats.releases++;
        }
    }
    for (uint8_t b = PVS_BUTTON_LEFT; b <= PVS_BUTTON_FORWARD; b++) {
        if (inj->buttons_down & (1u << b)) {
            inj->ops->button(inj->state, b, false);
            inj->stats.releases++;
        }
    }
    inj->buttons_down = 0;
    for (int i = 0; inj->pad_ops && i < PVS_INPUT_MAX_PADS; i++) {
        if (!inj->pads[i].connected)
            continue;
        const struct pvs_gamepad *p = &inj->pads[i];
        if (!p->buttons && !p->lx && !p->ly && !p->rx && !p->ry && !p->lt && !p->rt)
            continue;
        struct pvs_gamepad rest = {.pad = (uint8_t)i, .connected = true, .kind = p->kind};
        if (inj->pad_ops->update(inj->pad_state, &rest) == 0)
            inj->pads[i] = rest;
    }
}

bool pvs_injector_has_gamepads(const struct pvs_injector *inj)
{
    return inj && inj->pad_ops;
}

int pvs_injector_poll_rumble(struct pvs_injector *inj, struct pvs_pad_rumble *out)
{
    if (!inj || !out || !inj->pad_ops || !inj->pad_ops->rumble)
        return 0;
    return inj->pad_ops->rumble(inj->pad_state, out) > 0 ? 1 : 0;
}

void pvs_injector_get_stats(const struct pvs_injector *inj,
                            struct pvs_injector_stats *out)
{
    if (!out)
        return;
    if (!inj) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = inj->stats;
}

void pvs_injector_close(struct pvs_injector **p)
{
    if (!p || !*p)
        return;
    struct pvs_injector *inj = *p;
    pvs_injector_release_all(inj);
    if (inj->pad_ops)
        inj->pad_ops->close(inj->pad_state);
    inj->ops->close(inj->state);
    free(inj);
    *p = NULL;
}
