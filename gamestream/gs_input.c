/* Moonlight's input messages: decoding and mapping onto pvstream's events
 * (gamestream/gs_input.h). */
#include <string.h>

#include "common/error.h"
#include "common/wire.h"
#include "gamestream/gs_input.h"

/* Little-endian IEEE 754 (the other fields use common/wire.h). */
static float lef(const uint8_t *p)
{
    uint32_t u = pvs_get_le32(p);
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* ---- decoding ----------------------------------------------------------------- */

/* Body bytes each magic needs (src/Input.h's structs less the 8-byte
 * header). */
static size_t body_size(uint32_t magic)
{
    switch (magic) {
    case PVS_GS_IN_KEY_DOWN:
    case PVS_GS_IN_KEY_UP: return 6;          /* flags, code LE16, modifiers, 2 zero */
    case PVS_GS_IN_MOUSE_ABS: return 10;      /* x, y, unused, width, height: BE16 */
    case PVS_GS_IN_MOUSE_REL: return 4;       /* dx, dy: BE16 */
    case PVS_GS_IN_BUTTON_DOWN:
    case PVS_GS_IN_BUTTON_UP: return 1;
    case PVS_GS_IN_SCROLL: return 6;          /* amount BE16 twice, zero */
    case PVS_GS_IN_HSCROLL: return 2;         /* amount BE16 */
    case PVS_GS_IN_GAMEPAD: return 26;
    case PVS_GS_IN_HAPTICS: return 2;
    case PVS_GS_IN_UTF8: return 1;
    case PVS_GS_IN_TOUCH: return 28;
    case PVS_GS_IN_PEN: return 28;
    case PVS_GS_IN_PAD_ARRIVAL: return 8;
    case PVS_GS_IN_PAD_TOUCH: return 20;
    case PVS_GS_IN_PAD_MOTION: return 16;
    case PVS_GS_IN_PAD_BATTERY: return 4;
    }
    return 0;
}

/* Well-formed UTF-8: no stray continuation bytes, no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static bool utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + extra >= n)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

static int parse_gamepad(const uint8_t *b, struct pvs_gs_input *out)
{
    /* headerB LE16 0x1A, controller LE16, active mask LE16, midB LE16 0x14,
     * buttons LE16, LT, RT, LX LY RX RY LE16, tailA LE16 0x9C, buttons
     * (high 16) LE16, tailB LE16 0x55. The constant fields are not checked:
     * nothing depends on them. */
    uint16_t pad = pvs_get_le16(b + 2);
    if (pad >= PVS_GS_MAX_PADS)
        return PVS_EBADDATA;
    out->kind = PVS_GS_INPUT_GAMEPAD;
    out->u.gamepad.pad = (uint8_t)pad;
    out->u.gamepad.active = pvs_get_le16(b + 4);
    out->u.gamepad.buttons = pvs_get_le16(b + 8) | (uint32_t)pvs_get_le16(b + 22) << 16;
    out->u.gamepad.lt = b[10];
    out->u.gamepad.rt = b[11];
    out->u.gamepad.lx = (int16_t)pvs_get_le16(b + 12);
    out->u.gamepad.ly = (int16_t)pvs_get_le16(b + 14);
    out->u.gamepad.rx = (int16_t)pvs_get_le16(b + 16);
    out->u.gamepad.ry = (int16_t)pvs_get_le16(b + 18);
    return 0;
}

static void parse_touch(const uint8_t *b, struct pvs_gs_input *out)
{
    out->kind = PVS_GS_INPUT_TOUCH;
    out->u.touch.event = b[0];
    out->u.touch.rotation = pvs_get_le16(b + 2);
    out->u.touch.pointer = pvs_get_le32(b + 4);
    out->u.touch.x = lef(b + 8);
    out->u.touch.y = lef(b + 12);
    out->u.touch.pressure = lef(b + 16);
    out->u.touch.major = lef(b + 20);
    out->u.touch.minor = lef(b + 24);
}

static void parse_pen(const uint8_t *b, struct pvs_gs_input *out)
{
    out->kind = PVS_GS_INPUT_PEN;
    out->u.pen.event = b[0];
    out->u.pen.tool = b[1];
    out->u.pen.buttons = b[2];
    out->u.pen.x = lef(b + 4);
    out->u.pen.y = lef(b + 8);
    out->u.pen.pressure = lef(b + 12);
    out->u.pen.rotation = pvs_get_le16(b + 16);
    out->u.pen.tilt = b[18];
    out->u.pen.major = lef(b + 20);
    out->u.pen.minor = lef(b + 24);
}

/* The kinds that name a controller: its number must be under 16. */
static int parse_pad_extension(uint32_t magic, const uint8_t *b, struct pvs_gs_input *out)
{
    if (b[0] >= PVS_GS_MAX_PADS)
        return PVS_EBADDATA;
    switch (magic) {
    case PVS_GS_IN_PAD_ARRIVAL:
        out->kind = PVS_GS_INPUT_PAD_ARRIVAL;
        out->u.arrival.pad = b[0];
        out->u.arrival.type = b[1];
        out->u.arrival.capabilities = pvs_get_le16(b + 2);
        out->u.arrival.buttons = pvs_get_le32(b + 4);
        return 0;
    case PVS_GS_IN_PAD_TOUCH:
        out->kind = PVS_GS_INPUT_PAD_TOUCH;
        out->u.pad_touch.pad = b[0];
        out->u.pad_touch.event = b[1];
        out->u.pad_touch.pointer = pvs_get_le32(b + 4);
        out->u.pad_touch.x = lef(b + 8);
        out->u.pad_touch.y = lef(b + 12);
        out->u.pad_touch.pressure = lef(b + 16);
        return 0;
    case PVS_GS_IN_PAD_MOTION:
        out->kind = PVS_GS_INPUT_PAD_MOTION;
        out->u.motion.pad = b[0];
        out->u.motion.type = b[1];
        out->u.motion.x = lef(b + 4);
        out->u.motion.y = lef(b + 8);
        out->u.motion.z = lef(b + 12);
        return 0;
    default: /* PVS_GS_IN_PAD_BATTERY */
        out->kind = PVS_GS_INPUT_PAD_BATTERY;
        out->u.battery.pad = b[0];
        out->u.battery.state = b[1];
        out->u.battery.percent = b[2];
        return 0;
    }
}

static int parse_body(uint32_t magic, const uint8_t *b, size_t n, struct pvs_gs_input *out)
{
    switch (magic) {
    case PVS_GS_IN_KEY_DOWN:
    case PVS_GS_IN_KEY_UP:
        out->kind = PVS_GS_INPUT_KEY;
        out->u.key.down = magic == PVS_GS_IN_KEY_DOWN;
        out->u.key.flags = b[0];
        out->u.key.vk = (uint8_t)pvs_get_le16(b + 1); /* the high byte is 0x80 */
        out->u.key.modifiers = b[3];
        return 0;
    case PVS_GS_IN_MOUSE_ABS:
        out->kind = PVS_GS_INPUT_MOUSE_ABS;
        out->u.abs.x = (int16_t)pvs_get_be16(b);
        out->u.abs.y = (int16_t)pvs_get_be16(b + 2);
        out->u.abs.width = (int16_t)pvs_get_be16(b + 6);
        out->u.abs.height = (int16_t)pvs_get_be16(b + 8);
        return 0;
    case PVS_GS_IN_MOUSE_REL:
        out->kind = PVS_GS_INPUT_MOUSE_REL;
        out->u.rel.dx = (int16_t)pvs_get_be16(b);
        out->u.rel.dy = (int16_t)pvs_get_be16(b + 2);
        return 0;
    case PVS_GS_IN_BUTTON_DOWN:
    case PVS_GS_IN_BUTTON_UP:
        if (b[0] < 1 || b[0] > 5)
            return PVS_EBADDATA;
        out->kind = PVS_GS_INPUT_BUTTON;
        out->u.button.button = b[0];
        out->u.button.down = magic == PVS_GS_IN_BUTTON_DOWN;
        return 0;
    case PVS_GS_IN_SCROLL:
    case PVS_GS_IN_HSCROLL:
        out->kind = magic == PVS_GS_IN_SCROLL ? PVS_GS_INPUT_SCROLL : PVS_GS_INPUT_HSCROLL;
        out->u.scroll.amount = (int16_t)pvs_get_be16(b);
        return 0;
    case PVS_GS_IN_GAMEPAD:
        return parse_gamepad(b, out);
    case PVS_GS_IN_HAPTICS:
        out->kind = PVS_GS_INPUT_HAPTICS;
        out->u.haptics.enable = pvs_get_le16(b) != 0;
        return 0;
    case PVS_GS_IN_UTF8:
        if (n > PVS_GS_TEXT_MAX || !utf8_ok(b, n))
            return PVS_EBADDATA;
        out->kind = PVS_GS_INPUT_TEXT;
        out->u.text.len = (uint8_t)n;
        memcpy(out->u.text.text, b, n);
        out->u.text.text[n] = '\0';
        return 0;
    case PVS_GS_IN_TOUCH:
        parse_touch(b, out);
        return 0;
    case PVS_GS_IN_PEN:
        parse_pen(b, out);
        return 0;
    default:
        return parse_pad_extension(magic, b, out);
    }
}

int pvs_gs_input_parse(const uint8_t *msg, size_t len, struct pvs_gs_input *out)
{
    if (!msg || !out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len < 8 || pvs_get_be32(msg) != len - 4)
        return PVS_EBADDATA;
    uint32_t magic = pvs_get_le32(msg + 4);
    size_t need = body_size(magic);
    if (need == 0)
        return PVS_ENOTSUP;
    if (len - 8 < need)
        return PVS_EBADDATA;
    int err = parse_body(magic, msg + 8, len - 8, out);
    if (err)
        memset(out, 0, sizeof(*out));
    return err;
}

/* ---- virtual-key codes ---------------------------------------------------------- */

/* Windows virtual-key code -> HID keyboard usage, on a US layout. The VK
 * numbers are Windows' published ones; Moonlight clients send them
 * (moonlight-embedded src/input/keyboard.h and sdl.c). */
static const uint8_t vk_hid[256] = {
    [0x08] = 0x2A, [0x09] = 0x2B, [0x0C] = 0x9C, [0x0D] = 0x28, /* backspace tab clear enter */
    [0x10] = 0xE1, [0x11] = 0xE0, [0x12] = 0xE2,                /* shift ctrl alt (the left ones) */
    [0x13] = 0x48, [0x14] = 0x39, [0x15] = 0x90, [0x19] = 0x91, /* pause caps kana kanji */
    [0x1B] = 0x29, [0x1C] = 0x8A, [0x1D] = 0x8B,                /* escape convert nonconvert */
    [0x20] = 0x2C, [0x21] = 0x4B, [0x22] = 0x4E, [0x23] = 0x4D, /* space pgup pgdn end */
    [0x24] = 0x4A, [0x25] = 0x50, [0x26] = 0x52, [0x27] = 0x4F, /* home left up right */
    [0x28] = 0x51, [0x29] = 0x77, [0x2B] = 0x74, [0x2C] = 0x46, /* down select execute prtsc */
    [0x2D] = 0x49, [0x2E] = 0x4C, [0x2F] = 0x75,                /* insert delete help */
    [0x30] = 0x27, [0x31] = 0x1E, [0x32] = 0x1F, [0x33] = 0x20, [0x34] = 0x21, /* 0..4 */
    [0x35] = 0x22, [0x36] = 0x23, [0x37] = 0x24, [0x38] = 0x25, [0x39] = 0x26, /* 5..9 */
    [0x41] = 0x04, [0x42] = 0x05, [0x43] = 0x06, [0x44] = 0x07, [0x45] = 0x08, /* A..E */
    [0x46] = 0x09, [0x47] = 0x0A, [0x48] = 0x0B, [0x49] = 0x0C, [0x4A] = 0x0D, /* F..J */
    [0x4B] = 0x0E, [0x4C] = 0x0F, [0x4D] = 0x10, [0x4E] = 0x11, [0x4F] = 0x12, /* K..O */
    [0x50] = 0x13, [0x51] = 0x14, [0x52] = 0x15, [0x53] = 0x16, [0x54] = 0x17, /* P..T */
    [0x55] = 0x18, [0x56] = 0x19, [0x57] = 0x1A, [0x58] = 0x1B, [0x59] = 0x1C, /* U..Y */
    [0x5A] = 0x1D,                                                             /* Z */
    [0x5B] = 0xE3, [0x5C] = 0xE7, [0x5D] = 0x65, [0x5F] = 0x66, /* lwin rwin apps sleep(power) */
    [0x60] = 0x62, [0x61] = 0x59, [0x62] = 0x5A, [0x63] = 0x5B, [0x64] = 0x5C, /* keypad 0..4 */
    [0x65] = 0x5D, [0x66] = 0x5E, [0x67] = 0x5F, [0x68] = 0x60, [0x69] = 0x61, /* keypad 5..9 */
    [0x6A] = 0x55, [0x6B] = 0x57, [0x6C] = 0x85, [0x6D] = 0x56, /* keypad * + separator - */
    [0x6E] = 0x63, [0x6F] = 0x54,                               /* keypad . / */
    [0x70] = 0x3A, [0x71] = 0x3B, [0x72] = 0x3C, [0x73] = 0x3D, [0x74] = 0x3E, /* F1..F5 */
    [0x75] = 0x3F, [0x76] = 0x40, [0x77] = 0x41, [0x78] = 0x42, [0x79] = 0x43, /* F6..F10 */
    [0x7A] = 0x44, [0x7B] = 0x45,                                              /* F11 F12 */
    [0x7C] = 0x68, [0x7D] = 0x69, [0x7E] = 0x6A, [0x7F] = 0x6B, [0x80] = 0x6C, /* F13..F17 */
    [0x81] = 0x6D, [0x82] = 0x6E, [0x83] = 0x6F, [0x84] = 0x70, [0x85] = 0x71, /* F18..F22 */
    [0x86] = 0x72, [0x87] = 0x73,                                              /* F23 F24 */
    [0x90] = 0x53, [0x91] = 0x47,                               /* num lock, scroll lock */
    [0xA0] = 0xE1, [0xA1] = 0xE5, [0xA2] = 0xE0, [0xA3] = 0xE4, /* lshift rshift lctrl rctrl */
    [0xA4] = 0xE2, [0xA5] = 0xE6,                               /* lalt ralt */
    [0xAD] = 0x7F, [0xAE] = 0x81, [0xAF] = 0x80,                /* mute, volume down, up */
    [0xBA] = 0x33, [0xBB] = 0x2E, [0xBC] = 0x36, [0xBD] = 0x2D, /* ; = , - */
    [0xBE] = 0x37, [0xBF] = 0x38, [0xC0] = 0x35,                /* . / ` */
    [0xDB] = 0x2F, [0xDC] = 0x31, [0xDD] = 0x30, [0xDE] = 0x34, /* [ \ ] ' */
    [0xE2] = 0x64,                                              /* the 102nd key (< > on ISO) */
    [0xF1] = 0x92, [0xF2] = 0x93,                               /* katakana, hiragana */
};

uint16_t pvs_gs_vk_to_hid(uint8_t vk)
{
    return vk_hid[vk];
}

/* ---- mapping ------------------------------------------------------------------------ */

/* Moonlight's gamepad bits -> pvstream's (XInput's set). Paddles, touchpad
 * and misc buttons have no pvstream button. */
static uint16_t map_buttons(uint32_t b)
{
    static const struct { uint32_t gs; uint8_t pvs; } table[] = {
        {PVS_GS_PAD_A, PVS_PAD_A}, {PVS_GS_PAD_B, PVS_PAD_B}, {PVS_GS_PAD_X, PVS_PAD_X},
        {PVS_GS_PAD_Y, PVS_PAD_Y}, {PVS_GS_PAD_LB, PVS_PAD_LB}, {PVS_GS_PAD_RB, PVS_PAD_RB},
        {PVS_GS_PAD_BACK, PVS_PAD_BACK}, {PVS_GS_PAD_START, PVS_PAD_START},
        {PVS_GS_PAD_GUIDE, PVS_PAD_GUIDE}, {PVS_GS_PAD_LSTICK, PVS_PAD_LSTICK},
        {PVS_GS_PAD_RSTICK, PVS_PAD_RSTICK}, {PVS_GS_PAD_UP, PVS_PAD_UP},
        {PVS_GS_PAD_DOWN, PVS_PAD_DOWN}, {PVS_GS_PAD_LEFT, PVS_PAD_LEFT},
        {PVS_GS_PAD_RIGHT, PVS_PAD_RIGHT},
    };
    uint16_t out = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (b & table[i].gs)
            out |= (uint16_t)(1u << table[i].pvs);
    return out;
}

static int map_gamepad(struct pvs_gs_input_map *m, const struct pvs_gs_input *in,
                       struct pvs_input_event *ev)
{
    uint8_t pad = in->u.gamepad.pad;
    m->pads = in->u.gamepad.active;
    if (pad >= PVS_INPUT_MAX_PADS)
        return 0;
    ev->type = PVS_INPUT_GAMEPAD;
    struct pvs_gamepad *p = &ev->u.pad;
    p->pad = pad;
    p->connected = (in->u.gamepad.active >> pad) & 1;
    p->kind = m->pad_type[pad] == PVS_GS_PAD_TYPE_PS ? PVS_PAD_KIND_DS4 : PVS_PAD_KIND_XBOX360;
    if (!p->connected)
        return 1; /* removed: the rest of the state is moot */
    p->buttons = map_buttons(in->u.gamepad.buttons);
    p->lx = in->u.gamepad.lx;
    p->ly = in->u.gamepad.ly;
    p->rx = in->u.gamepad.rx;
    p->ry = in->u.gamepad.ry;
    p->lt = in->u.gamepad.lt;
    p->rt = in->u.gamepad.rt;
    return 1;
}

/* The client sends the reference size minus one (a workaround for GFE's
 * scaling) and positions within 0..that: the frame is one larger. */
static int map_abs(const struct pvs_gs_input *in, struct pvs_input_event *ev)
{
    int w = in->u.abs.width, h = in->u.abs.height;
    if (w < 0 || h < 0)
        return 0;
    int x = in->u.abs.x < 0 ? 0 : in->u.abs.x > w ? w : in->u.abs.x;
    int y = in->u.abs.y < 0 ? 0 : in->u.abs.y > h ? h : in->u.abs.y;
    ev->type = PVS_INPUT_POINTER_ABS;
    ev->u.abs.x = (uint16_t)x;
    ev->u.abs.y = (uint16_t)y;
    ev->u.abs.width = (uint16_t)(w + 1);
    ev->u.abs.height = (uint16_t)(h + 1);
    return 1;
}

static int map_one(struct pvs_gs_input_map *m, const struct pvs_gs_input *in,
                   struct pvs_input_event *ev)
{
    switch (in->kind) {
    case PVS_GS_INPUT_KEY: {
        uint16_t usage = pvs_gs_vk_to_hid(in->u.key.vk);
        if (!usage)
            return 0;
        ev->type = PVS_INPUT_KEY;
        ev->u.key.usage = usage;
        ev->u.key.down = in->u.key.down;
        return 1;
    }
    case PVS_GS_INPUT_MOUSE_REL:
        ev->type = PVS_INPUT_POINTER_REL;
        ev->u.rel.dx = in->u.rel.dx;
        ev->u.rel.dy = in->u.rel.dy;
        return 1;
    case PVS_GS_INPUT_MOUSE_ABS:
        return map_abs(in, ev);
    case PVS_GS_INPUT_BUTTON:
        /* The same numbers: left, middle, right, X1 (back), X2 (forward). */
        ev->type = PVS_INPUT_BUTTON;
        ev->u.button.button = in->u.button.button;
        ev->u.button.down = in->u.button.down;
        return 1;
    case PVS_GS_INPUT_SCROLL:
    case PVS_GS_INPUT_HSCROLL:
        /* Both count 120 a notch, up and right positive. */
        ev->type = PVS_INPUT_WHEEL;
        ev->u.wheel.dx = in->kind == PVS_GS_INPUT_HSCROLL ? in->u.scroll.amount : 0;
        ev->u.wheel.dy = in->kind == PVS_GS_INPUT_SCROLL ? in->u.scroll.amount : 0;
        return 1;
    case PVS_GS_INPUT_GAMEPAD:
        return map_gamepad(m, in, ev);
    case PVS_GS_INPUT_PAD_ARRIVAL:
        /* Remembered for the pad's next state, which the client sends at
         * once: that creates the pad, of this kind. */
        m->pad_type[in->u.arrival.pad % PVS_GS_MAX_PADS] = in->u.arrival.type;
        return 0;
    default:
        /* Text, touch, pen, pad touchpads and sensors, battery, haptics:
         * pvstream's injectors have nothing to put them into yet. */
        return 0;
    }
}

int pvs_gs_input_map(struct pvs_gs_input_map *m, const struct pvs_gs_input *in,
                     struct pvs_input_event *out, size_t cap)
{
    if (!m || !in || !out || cap < 1)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    int n = map_one(m, in, out);
    if (n)
        m->mapped++;
    else
        m->unmapped++;
    return n;
}
