/* Input events on the wire (input/input.h, docs/protocol.md "Input
 * events"). One table says how long each body is, so the encoder and the
 * parser cannot disagree; the range checks are shared the same way. */
#include "input/input.h"

#include "common/error.h"
#include "common/wire.h"

/* Body bytes after the type byte, per type (index type - PVS_INPUT_KEY). */
static const uint8_t body_len[] = {
    [PVS_INPUT_KEY - PVS_INPUT_KEY] = 3,
    [PVS_INPUT_POINTER_ABS - PVS_INPUT_KEY] = 8,
    [PVS_INPUT_POINTER_REL - PVS_INPUT_KEY] = 4,
    [PVS_INPUT_BUTTON - PVS_INPUT_KEY] = 2,
    [PVS_INPUT_WHEEL - PVS_INPUT_KEY] = 4,
    [PVS_INPUT_GAMEPAD - PVS_INPUT_KEY] = 14,
    [PVS_INPUT_RELEASE_ALL - PVS_INPUT_KEY] = 0,
};

#define TYPE_COUNT (sizeof(body_len) / sizeof(body_len[0]))
#define PAD_BUTTON_MASK ((1u << PVS_PAD_BUTTON_COUNT) - 1)

/* GAMEPAD's optional byte 14: the pad's kind. It is written only when it
 * is not an Xbox 360 pad, so such a pad's message is byte for byte what a
 * server from before kinds reads, and one of those skips the byte. */
#define PAD_KIND_AT 14

_Static_assert(1 + PAD_KIND_AT + 1 <= PVS_INPUT_MAX_MESSAGE, "GAMEPAD fits the limit");

/* A kind this version does not know (a later client's) is taken as an
 * Xbox 360 pad, which every game understands, rather than dropped. */
static uint8_t known_kind(uint8_t kind)
{
    return kind == PVS_PAD_KIND_DS4 ? kind : PVS_PAD_KIND_XBOX360;
}

static bool known_type(int type)
{
    return type >= PVS_INPUT_KEY && type < PVS_INPUT_KEY + (int)TYPE_COUNT;
}

/* The checks both directions make: what the server would refuse. */
static bool in_range(const struct pvs_input_event *ev)
{
    switch (ev->type) {
    case PVS_INPUT_KEY:
        return ev->u.key.usage >= 1 && ev->u.key.usage <= PVS_INPUT_HID_MAX;
    case PVS_INPUT_POINTER_ABS:
        return ev->u.abs.width > 0 && ev->u.abs.height > 0 &&
               ev->u.abs.x < ev->u.abs.width && ev->u.abs.y < ev->u.abs.height;
    case PVS_INPUT_BUTTON:
        return ev->u.button.button >= PVS_BUTTON_LEFT &&
               ev->u.button.button <= PVS_BUTTON_FORWARD;
    case PVS_INPUT_GAMEPAD:
        return ev->u.pad.pad < PVS_INPUT_MAX_PADS &&
               (ev->u.pad.buttons & ~PAD_BUTTON_MASK) == 0;
    case PVS_INPUT_POINTER_REL:
    case PVS_INPUT_WHEEL:
    case PVS_INPUT_RELEASE_ALL:
        return true;
    }
    return false;
}

int pvs_input_encode(const struct pvs_input_event *ev, uint8_t *out, size_t cap)
{
    if (!ev || !out || !known_type((int)ev->type) || !in_range(ev))
        return PVS_EINVAL;
    size_t len = 1 + body_len[ev->type - PVS_INPUT_KEY];
    bool kind = ev->type == PVS_INPUT_GAMEPAD && known_kind(ev->u.pad.kind);
    if (kind)
        len++;
    if (cap < len)
        return PVS_EINVAL;

    uint8_t *b = out + 1;
    out[0] = (uint8_t)ev->type;
    switch (ev->type) {
    case PVS_INPUT_KEY:
        pvs_put_be16(b, ev->u.key.usage);
        b[2] = ev->u.key.down ? 1 : 0;
        break;
    case PVS_INPUT_POINTER_ABS:
        pvs_put_be16(b, ev->u.abs.x);
        pvs_put_be16(b + 2, ev->u.abs.y);
        pvs_put_be16(b + 4, ev->u.abs.width);
        pvs_put_be16(b + 6, ev->u.abs.height);
        break;
    case PVS_INPUT_POINTER_REL:
        pvs_put_be16(b, (uint16_t)ev->u.rel.dx);
        pvs_put_be16(b + 2, (uint16_t)ev->u.rel.dy);
        break;
    case PVS_INPUT_BUTTON:
        b[0] = ev->u.button.button;
        b[1] = ev->u.button.down ? 1 : 0;
        break;
    case PVS_INPUT_WHEEL:
        pvs_put_be16(b, (uint16_t)ev->u.wheel.dx);
        pvs_put_be16(b + 2, (uint16_t)ev->u.wheel.dy);
        break;
    case PVS_INPUT_GAMEPAD:
        b[0] = ev->u.pad.pad;
        b[1] = ev->u.pad.connected ? 1 : 0;
        pvs_put_be16(b + 2, ev->u.pad.buttons);
        pvs_put_be16(b + 4, (uint16_t)ev->u.pad.lx);
        pvs_put_be16(b + 6, (uint16_t)ev->u.pad.ly);
        pvs_put_be16(b + 8, (uint16_t)ev->u.pad.rx);
        pvs_put_be16(b + 10, (uint16_t)ev->u.pad.ry);
        b[12] = ev->u.pad.lt;
        b[13] = ev->u.pad.rt;
        if (kind)
            b[PAD_KIND_AT] = ev->u.pad.kind;
        break;
    case PVS_INPUT_RELEASE_ALL:
        break;
    }
    return (int)len;
}

/* A flag byte is 0 or 1; anything else is malformed (and would not
 * re-encode to the same bytes). */
static bool flag(uint8_t v, bool *out)
{
    *out = v == 1;
    return v <= 1;
}

int pvs_input_parse(const uint8_t *msg, size_t len, struct pvs_input_event *ev)
{
    if (!msg || !ev || len < 1 || !known_type(msg[0]))
        return PVS_EBADDATA;
    int type = msg[0];
    if (len < 1 + (size_t)body_len[type - PVS_INPUT_KEY])
        return PVS_EBADDATA;

    struct pvs_input_event e = {.type = (enum pvs_input_type)type};
    const uint8_t *b = msg + 1;
    bool ok = true;
    switch (e.type) {
    case PVS_INPUT_KEY:
        e.u.key.usage = pvs_get_be16(b);
        ok = flag(b[2], &e.u.key.down);
        break;
    case PVS_INPUT_POINTER_ABS:
        e.u.abs.x = pvs_get_be16(b);
        e.u.abs.y = pvs_get_be16(b + 2);
        e.u.abs.width = pvs_get_be16(b + 4);
        e.u.abs.height = pvs_get_be16(b + 6);
        break;
    case PVS_INPUT_POINTER_REL:
        e.u.rel.dx = (int16_t)pvs_get_be16(b);
        e.u.rel.dy = (int16_t)pvs_get_be16(b + 2);
        break;
    case PVS_INPUT_BUTTON:
        e.u.button.button = b[0];
        ok = flag(b[1], &e.u.button.down);
        break;
    case PVS_INPUT_WHEEL:
        e.u.wheel.dx = (int16_t)pvs_get_be16(b);
        e.u.wheel.dy = (int16_t)pvs_get_be16(b + 2);
        break;
    case PVS_INPUT_GAMEPAD:
        e.u.pad.pad = b[0];
        ok = flag(b[1], &e.u.pad.connected);
        e.u.pad.buttons = pvs_get_be16(b + 2);
        e.u.pad.lx = (int16_t)pvs_get_be16(b + 4);
        e.u.pad.ly = (int16_t)pvs_get_be16(b + 6);
        e.u.pad.rx = (int16_t)pvs_get_be16(b + 8);
        e.u.pad.ry = (int16_t)pvs_get_be16(b + 10);
        e.u.pad.lt = b[12];
        e.u.pad.rt = b[13];
        if (len > 1 + PAD_KIND_AT)
            e.u.pad.kind = known_kind(b[PAD_KIND_AT]);
        break;
    case PVS_INPUT_RELEASE_ALL:
        break;
    }
    if (!ok || !in_range(&e))
        return PVS_EBADDATA;
    *ev = e;
    return 0;
}

int pvs_input_channel(enum pvs_input_type type)
{
    switch (type) {
    case PVS_INPUT_KEY:
    case PVS_INPUT_BUTTON:
    case PVS_INPUT_GAMEPAD:
    case PVS_INPUT_RELEASE_ALL:
        return 1;
    case PVS_INPUT_POINTER_ABS:
    case PVS_INPUT_POINTER_REL:
    case PVS_INPUT_WHEEL:
        return 2;
    }
    return PVS_EINVAL;
}
