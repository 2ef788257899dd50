/* Virtual gamepads through the ViGEmBus driver (Windows), the part that
 * needs no Win32: a pad's state as the reports ViGEmBus takes (Xbox 360's
 * XUSB report, DualShock 4's input report), every request buffer the bus's
 * IOCTLs take, byte for byte, the notifications it answers with (rumble),
 * and which virtual pad each client pad has (hot-plug). input/vigem.c
 * only hands these buffers to DeviceIoControl, so all of this is tested on
 * Linux.
 *
 * The layouts are ViGEmBus's public interface (its BusShared.h and
 * Common.h, bus interface version 1): little-endian, the structs' natural
 * alignment on x86 and x64. docs/windows.md, "Virtual gamepads", says
 * where each number comes from.
 *
 * Threading: none of its own; a pvs_pad_slots is used by one thread. */
#ifndef PVS_GAMEPAD_MAP_H
#define PVS_GAMEPAD_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input/input.h"

/* ---- reports -------------------------------------------------------------- */

/* XUSB_REPORT (XInput's XINPUT_GAMEPAD): u16 buttons, u8 left trigger, u8
 * right trigger, i16 left x, left y, right x, right y (y positive up, as
 * the protocol has it). */
#define PVS_XUSB_REPORT_SIZE 12
void pvs_xusb_report(const struct pvs_gamepad *p, uint8_t out[PVS_XUSB_REPORT_SIZE]);

/* DS4_REPORT: u8 left x, left y, right x, right y (0..255, 128 centred, y
 * positive down), u16 buttons (low nibble the d-pad as a hat, 8 centred),
 * u8 special buttons (PS), u8 left trigger, u8 right trigger. The Xbox
 * buttons land where a DualShock 4 has them (A cross, B circle, X square,
 * Y triangle, back share, start options, guide PS); L2 and R2 also press
 * their button bits while their trigger is off rest. The touchpad click has
 * no bit in the protocol and is never pressed. */
#define PVS_DS4_REPORT_SIZE 9
void pvs_ds4_report(const struct pvs_gamepad *p, uint8_t out[PVS_DS4_REPORT_SIZE]);

/* ---- the bus's requests ----------------------------------------------------- */

/* The bus interface version this code speaks (VIGEM_COMMON_VERSION). */
#define PVS_VIGEM_VERSION 1

/* ViGEmBus's IOCTL codes: CTL_CODE(FILE_DEVICE_BUS_EXTENDER (0x2a),
 * function, METHOD_BUFFERED, access), access 1 read, 2 write, 3 both. */
#define PVS_VIGEM_CTL(function, access) \
    ((0x2au << 16) | ((uint32_t)(access) << 14) | ((uint32_t)(function) << 2))
#define PVS_VIGEM_IOCTL_PLUGIN PVS_VIGEM_CTL(0x801, 2)
#define PVS_VIGEM_IOCTL_UNPLUG PVS_VIGEM_CTL(0x802, 2)
#define PVS_VIGEM_IOCTL_CHECK_VERSION PVS_VIGEM_CTL(0x803, 2)
#define PVS_VIGEM_IOCTL_WAIT_READY PVS_VIGEM_CTL(0x804, 2)
#define PVS_VIGEM_IOCTL_XUSB_NOTIFICATION PVS_VIGEM_CTL(0xa01, 3)
#define PVS_VIGEM_IOCTL_XUSB_SUBMIT PVS_VIGEM_CTL(0xa02, 2)
#define PVS_VIGEM_IOCTL_DS4_SUBMIT PVS_VIGEM_CTL(0xa03, 2)
#define PVS_VIGEM_IOCTL_DS4_NOTIFICATION PVS_VIGEM_CTL(0xa04, 2)

/* ViGEmBus's target types (VIGEM_TARGET_TYPE). */
#define PVS_VIGEM_TARGET_XBOX360 0
#define PVS_VIGEM_TARGET_DS4 2

#define PVS_VIGEM_REQUEST_MAX 20

/* One IOCTL: its code and input buffer. The notifications (the only ones
 * that answer with data) take the same buffer back as output. */
struct pvs_vigem_request {
    uint32_t ioctl;
    uint32_t len;
    uint8_t buf[PVS_VIGEM_REQUEST_MAX];
};

/* Each fills *r. A serial number names a virtual pad on the bus (1 and up,
 * unique among every program's pads); kind is enum pvs_pad_kind. */
void pvs_vigem_check_version(struct pvs_vigem_request *r);
void pvs_vigem_plugin(struct pvs_vigem_request *r, uint32_t serial, uint8_t kind);
void pvs_vigem_unplug(struct pvs_vigem_request *r, uint32_t serial);
void pvs_vigem_wait_ready(struct pvs_vigem_request *r, uint32_t serial);
/* The report of p->kind for pad `serial`. */
void pvs_vigem_submit(struct pvs_vigem_request *r, uint32_t serial,
                      const struct pvs_gamepad *p);
/* Asks for the next rumble (and LED) change of pad `serial`; the bus holds
 * it pending until the game changes something. */
void pvs_vigem_notification(struct pvs_vigem_request *r, uint32_t serial, uint8_t kind);

/* Reads a completed notification (`len` bytes came back in buf). Returns 0
 * with the motors' speeds (0..255; large is the low-frequency motor), or
 * PVS_EBADDATA when it is short or for another pad. */
int pvs_vigem_parse_notification(const uint8_t *buf, size_t len, uint32_t serial,
                                 uint8_t kind, uint8_t *large, uint8_t *small);

/* ---- which virtual pad each client pad has ------------------------------------ */

/* What the bus does, for pvs_pad_slots_update: ViGEmBus in input/vigem.c,
 * a scripted fake in the tests. Each returns 0 or a PVS_E* code. */
struct pvs_pad_bus_ops {
    int (*plug)(void *bus, int index, uint32_t serial, uint8_t kind);
    int (*unplug)(void *bus, int index, uint32_t serial);
    int (*submit)(void *bus, int index, uint32_t serial, const struct pvs_gamepad *p);
};

/* Serial numbers tried for one pad before giving up: other programs
 * (DS4Windows, Steam) may hold some of the low ones. */
#define PVS_VIGEM_SERIAL_TRIES 16

struct pvs_pad_slot {
    uint32_t serial;           /* 0: no virtual pad for this client pad */
    uint8_t kind;              /* what was plugged */
    struct pvs_gamepad last;   /* the state the bus has */
    uint8_t large, small;      /* the rumble last reported */
};

/* Plain data: zero it to start. */
struct pvs_pad_slots {
    struct pvs_pad_slot slot[PVS_INPUT_MAX_PADS];
};

/* Takes one client pad's state to the bus: a pad that connects is plugged
 * in (the lowest serial number no slot holds, the next one when the bus
 * refuses it, at most PVS_VIGEM_SERIAL_TRIES), one that goes is unplugged,
 * one whose kind changed is plugged in again as the new kind, and a
 * changed state is submitted (a new pad's at once). Returns 0 or the bus's
 * code (PVS_EINVAL for a pad number out of range). */
int pvs_pad_slots_update(struct pvs_pad_slots *s, const struct pvs_pad_bus_ops *ops,
                         void *bus, const struct pvs_gamepad *p);

/* Unplugs every virtual pad (the server is closing). */
void pvs_pad_slots_unplug_all(struct pvs_pad_slots *s, const struct pvs_pad_bus_ops *ops,
                              void *bus);

/* A rumble notification for client pad `index` (large, small: 0..255).
 * Returns true with *out to send when it differs from the last one
 * reported for that pad (a notification also comes for LED changes). */
bool pvs_pad_slots_rumble(struct pvs_pad_slots *s, int index, uint8_t large,
                          uint8_t small, struct pvs_pad_rumble *out);

#endif
