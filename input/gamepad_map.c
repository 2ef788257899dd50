/* ViGEmBus reports, requests and hot-plug decisions (input/gamepad_map.h).
 * Everything is written byte by byte, little-endian, so no struct padding
 * or compiler decides a layout the driver checks to the byte. */
#include "input/gamepad_map.h"

#include <string.h>

#include "common/error.h"
#include "common/wire.h"

static bool pressed(const struct pvs_gamepad *p, int button)
{
    return (p->buttons >> button) & 1;
}

/* ---- reports -------------------------------------------------------------- */

/* Protocol button bit -> XUSB button bit (XInput's XINPUT_GAMEPAD_*). */
static const uint16_t xusb_buttons[PVS_PAD_BUTTON_COUNT] = {
    [PVS_PAD_A] = 0x1000, [PVS_PAD_B] = 0x2000, [PVS_PAD_X] = 0x4000,
    [PVS_PAD_Y] = 0x8000, [PVS_PAD_LB] = 0x0100, [PVS_PAD_RB] = 0x0200,
    [PVS_PAD_BACK] = 0x0020, [PVS_PAD_START] = 0x0010, [PVS_PAD_GUIDE] = 0x0400,
    [PVS_PAD_LSTICK] = 0x0040, [PVS_PAD_RSTICK] = 0x0080,
    [PVS_PAD_UP] = 0x0001, [PVS_PAD_DOWN] = 0x0002, [PVS_PAD_LEFT] = 0x0004,
    [PVS_PAD_RIGHT] = 0x0008,
};

void pvs_xusb_report(const struct pvs_gamepad *p, uint8_t out[PVS_XUSB_REPORT_SIZE])
{
    uint16_t buttons = 0;
    for (int i = 0; i < PVS_PAD_BUTTON_COUNT; i++)
        if (pressed(p, i))
            buttons |= xusb_buttons[i];
    pvs_put_le16(out, buttons);
    out[2] = p->lt;
    out[3] = p->rt;
    /* XInput's sticks are the protocol's: same range, y up. */
    pvs_put_le16(out + 4, (uint16_t)p->lx);
    pvs_put_le16(out + 6, (uint16_t)p->ly);
    pvs_put_le16(out + 8, (uint16_t)p->rx);
    pvs_put_le16(out + 10, (uint16_t)p->ry);
}

/* DualShock 4 button bits (of the report's u16); the d-pad is the hat in
 * bits 0-3, the PS button a bit of the "special" byte. */
enum {
    DS4_SQUARE = 1 << 4, DS4_CROSS = 1 << 5, DS4_CIRCLE = 1 << 6,
    DS4_TRIANGLE = 1 << 7, DS4_L1 = 1 << 8, DS4_R1 = 1 << 9, DS4_L2 = 1 << 10,
    DS4_R2 = 1 << 11, DS4_SHARE = 1 << 12, DS4_OPTIONS = 1 << 13,
    DS4_L3 = 1 << 14, DS4_R3 = 1 << 15,
    DS4_SPECIAL_PS = 1 << 0,
    DS4_HAT_CENTRED = 8,
};

static const uint16_t ds4_buttons[PVS_PAD_BUTTON_COUNT] = {
    [PVS_PAD_A] = DS4_CROSS, [PVS_PAD_B] = DS4_CIRCLE, [PVS_PAD_X] = DS4_SQUARE,
    [PVS_PAD_Y] = DS4_TRIANGLE, [PVS_PAD_LB] = DS4_L1, [PVS_PAD_RB] = DS4_R1,
    [PVS_PAD_BACK] = DS4_SHARE, [PVS_PAD_START] = DS4_OPTIONS,
    [PVS_PAD_LSTICK] = DS4_L3, [PVS_PAD_RSTICK] = DS4_R3,
    /* guide: the special byte; the d-pad: the hat */
};

/* The hat: 0 north, then clockwise in eighths to 7 north-west; 8 centred.
 * Opposite directions held together cancel, as on a real pad's rocker. */
static uint16_t ds4_hat(const struct pvs_gamepad *p)
{
    static const uint8_t hat[3][3] = {
        /* x: left, none, right */
        {7, 0, 1},                /* up */
        {6, DS4_HAT_CENTRED, 2},  /* neither */
        {5, 4, 3},                /* down */
    };
    int x = pressed(p, PVS_PAD_RIGHT) - pressed(p, PVS_PAD_LEFT);
    int y = pressed(p, PVS_PAD_DOWN) - pressed(p, PVS_PAD_UP);
    return hat[y + 1][x + 1];
}

/* -32768..32767 to 0..255 with 0 at 128: the high byte, offset. */
static uint8_t ds4_axis(int32_t v)
{
    return (uint8_t)((uint32_t)(v + 32768) >> 8);
}

/* DS4's y grows downwards: negate (32768 does not fit, so clamp), then
 * rest stays exactly 128 as a real pad reports it. */
static uint8_t ds4_axis_flipped(int16_t v)
{
    int32_t f = -(int32_t)v;
    return ds4_axis(f > 32767 ? 32767 : f);
}

void pvs_ds4_report(const struct pvs_gamepad *p, uint8_t out[PVS_DS4_REPORT_SIZE])
{
    uint16_t buttons = ds4_hat(p);
    for (int i = 0; i < PVS_PAD_BUTTON_COUNT; i++)
        if (pressed(p, i))
            buttons |= ds4_buttons[i];
    if (p->lt)
        buttons |= DS4_L2;
    if (p->rt)
        buttons |= DS4_R2;
    out[0] = ds4_axis(p->lx);
    out[1] = ds4_axis_flipped(p->ly);
    out[2] = ds4_axis(p->rx);
    out[3] = ds4_axis_flipped(p->ry);
    pvs_put_le16(out + 4, buttons);
    out[6] = pressed(p, PVS_PAD_GUIDE) ? DS4_SPECIAL_PS : 0;
    out[7] = p->lt;
    out[8] = p->rt;
}

/* ---- the bus's requests ----------------------------------------------------- */

/* Every request starts with its own size and, but for CHECK_VERSION, the
 * pad's serial number; the driver refuses a size other than its struct's. */
enum {
    CHECK_VERSION_SIZE = 8,
    PLUGIN_SIZE = 16,         /* + u32 target type, u16 vendor, u16 product */
    UNPLUG_SIZE = 8,
    WAIT_READY_SIZE = 8,
    XUSB_SUBMIT_SIZE = 8 + PVS_XUSB_REPORT_SIZE,
    DS4_SUBMIT_SIZE = 20,     /* 8 + the 9-byte report, padded to 4 */
    XUSB_NOTIFICATION_SIZE = 12, /* + u8 large, small, LED; padded */
    DS4_NOTIFICATION_SIZE = 16,  /* + u8 small, large, red, green, blue; padded */
};

_Static_assert(XUSB_SUBMIT_SIZE <= PVS_VIGEM_REQUEST_MAX &&
               DS4_SUBMIT_SIZE <= PVS_VIGEM_REQUEST_MAX, "requests fit");

static void header(struct pvs_vigem_request *r, uint32_t ioctl, uint32_t size,
                   uint32_t second)
{
    memset(r, 0, sizeof(*r));
    r->ioctl = ioctl;
    r->len = size;
    pvs_put_le32(r->buf, size);
    pvs_put_le32(r->buf + 4, second);
}

void pvs_vigem_check_version(struct pvs_vigem_request *r)
{
    header(r, PVS_VIGEM_IOCTL_CHECK_VERSION, CHECK_VERSION_SIZE, PVS_VIGEM_VERSION);
}

void pvs_vigem_plugin(struct pvs_vigem_request *r, uint32_t serial, uint8_t kind)
{
    bool ds4 = kind == PVS_PAD_KIND_DS4;
    header(r, PVS_VIGEM_IOCTL_PLUGIN, PLUGIN_SIZE, serial);
    pvs_put_le32(r->buf + 8, ds4 ? PVS_VIGEM_TARGET_DS4 : PVS_VIGEM_TARGET_XBOX360);
    /* The USB ids the pad reports: a wired Xbox 360 pad, a DualShock 4
     * (first model), as games look them up. */
    pvs_put_le16(r->buf + 12, ds4 ? 0x054c : 0x045e);
    pvs_put_le16(r->buf + 14, ds4 ? 0x05c4 : 0x028e);
}

void pvs_vigem_unplug(struct pvs_vigem_request *r, uint32_t serial)
{
    header(r, PVS_VIGEM_IOCTL_UNPLUG, UNPLUG_SIZE, serial);
}

void pvs_vigem_wait_ready(struct pvs_vigem_request *r, uint32_t serial)
{
    header(r, PVS_VIGEM_IOCTL_WAIT_READY, WAIT_READY_SIZE, serial);
}

void pvs_vigem_submit(struct pvs_vigem_request *r, uint32_t serial,
                      const struct pvs_gamepad *p)
{
    if (p->kind == PVS_PAD_KIND_DS4) {
        header(r, PVS_VIGEM_IOCTL_DS4_SUBMIT, DS4_SUBMIT_SIZE, serial);
        pvs_ds4_report(p, r->buf + 8);
    } else {
        header(r, PVS_VIGEM_IOCTL_XUSB_SUBMIT, XUSB_SUBMIT_SIZE, serial);
        pvs_xusb_report(p, r->buf + 8);
    }
}

void pvs_vigem_notification(struct pvs_vigem_request *r, uint32_t serial, uint8_t kind)
{
    if (kind == PVS_PAD_KIND_DS4)
        header(r, PVS_VIGEM_IOCTL_DS4_NOTIFICATION, DS4_NOTIFICATION_SIZE, serial);
    else
        header(r, PVS_VIGEM_IOCTL_XUSB_NOTIFICATION, XUSB_NOTIFICATION_SIZE, serial);
}

int pvs_vigem_parse_notification(const uint8_t *buf, size_t len, uint32_t serial,
                                 uint8_t kind, uint8_t *large, uint8_t *small)
{
    bool ds4 = kind == PVS_PAD_KIND_DS4;
    /* The motors are the first bytes after the header either way; a DS4
     * names the small one first. */
    if (!buf || len < 10 || pvs_get_le32(buf + 4) != serial)
        return PVS_EBADDATA;
    *large = buf[ds4 ? 9 : 8];
    *small = buf[ds4 ? 8 : 9];
    return 0;
}

/* ---- which virtual pad each client pad has ------------------------------------ */

static bool serial_held(const struct pvs_pad_slots *s, uint32_t serial)
{
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        if (s->slot[i].serial == serial)
            return true;
    return false;
}

static void unplug_slot(struct pvs_pad_slots *s, const struct pvs_pad_bus_ops *ops,
                        void *bus, int index, int *rc)
{
    struct pvs_pad_slot *sl = &s->slot[index];
    if (!sl->serial)
        return;
    /* Forgotten even when the bus refuses: it has no such pad then, or
     * it has gone wrong and a retry would not help. */
    int r = ops->unplug(bus, index, sl->serial);
    if (rc && r)
        *rc = r;
    memset(sl, 0, sizeof(*sl));
}

/* Plugs in a virtual pad for client pad `index`: the lowest serial
 * numbers no slot holds, in turn, until the bus takes one. */
static int plug_slot(struct pvs_pad_slots *s, const struct pvs_pad_bus_ops *ops,
                     void *bus, int index, uint8_t kind)
{
    int rc = PVS_EIO;
    uint32_t serial = 0;
    for (int tries = 0; tries < PVS_VIGEM_SERIAL_TRIES; tries++) {
        do
            serial++;
        while (serial_held(s, serial));
        rc = ops->plug(bus, index, serial, kind);
        if (rc == 0) {
            struct pvs_pad_slot *sl = &s->slot[index];
            memset(sl, 0, sizeof(*sl));
            sl->serial = serial;
            sl->kind = kind;
            return 0;
        }
    }
    return rc;
}

static bool same_state(const struct pvs_gamepad *a, const struct pvs_gamepad *b)
{
    return a->buttons == b->buttons && a->lx == b->lx && a->ly == b->ly &&
           a->rx == b->rx && a->ry == b->ry && a->lt == b->lt && a->rt == b->rt;
}

int pvs_pad_slots_update(struct pvs_pad_slots *s, const struct pvs_pad_bus_ops *ops,
                         void *bus, const struct pvs_gamepad *p)
{
    if (!s || !ops || !p || p->pad >= PVS_INPUT_MAX_PADS)
        return PVS_EINVAL;
    int index = p->pad, rc = 0;
    struct pvs_pad_slot *sl = &s->slot[index];
    if (!p->connected || (sl->serial && sl->kind != p->kind))
        unplug_slot(s, ops, bus, index, &rc);
    if (!p->connected)
        return rc;
    bool fresh = !sl->serial;
    if (fresh) {
        rc = plug_slot(s, ops, bus, index, p->kind);
        if (rc)
            return rc;
    }
    if (!fresh && same_state(&sl->last, p))
        return 0;
    rc = ops->submit(bus, index, sl->serial, p);
    if (rc == 0)
        sl->last = *p;
    return rc;
}

void pvs_pad_slots_unplug_all(struct pvs_pad_slots *s, const struct pvs_pad_bus_ops *ops,
                              void *bus)
{
    if (!s || !ops)
        return;
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        unplug_slot(s, ops, bus, i, NULL);
}

bool pvs_pad_slots_rumble(struct pvs_pad_slots *s, int index, uint8_t large,
                          uint8_t small, struct pvs_pad_rumble *out)
{
    if (!s || !out || index < 0 || index >= PVS_INPUT_MAX_PADS || !s->slot[index].serial)
        return false;
    struct pvs_pad_slot *sl = &s->slot[index];
    if (sl->large == large && sl->small == small)
        return false;
    sl->large = large;
    sl->small = small;
    /* 0..255 to 0..65535 exactly: 255 * 257 = 65535. */
    *out = (struct pvs_pad_rumble){
        .pad = (uint8_t)index,
        .low_freq = (uint16_t)(large * 257u),
        .high_freq = (uint16_t)(small * 257u),
        .duration_ms = 0,
    };
    return true;
}
