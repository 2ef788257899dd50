/* Virtual gamepads through Linux uinput: one Xbox-360-like device per pad,
 * created when the client's pad connects and removed when it goes. The
 * device says it is a wired Xbox 360 pad (USB 045e:028e) and reports what
 * the kernel's xpad driver reports for one, so games and SDL treat it as
 * such without any mapping.
 *
 * pvs_uinput_map (the state-to-events part) is pure and built everywhere,
 * so it is tested without a device; the rest is Linux only. */
#include "input/injector.h"

#include <string.h>

#include "common/error.h"

/* evdev numbers (linux/input-event-codes.h), spelled out so the mapping
 * builds on every system; checked against the kernel's header below. */
enum {
    EVT_SYN = 0x00, EVT_KEY = 0x01, EVT_ABS = 0x03,
    SYN_REPORT_ = 0,
    BTN_SOUTH_ = 0x130, BTN_EAST_ = 0x131, BTN_X_ = 0x133, BTN_Y_ = 0x134,
    BTN_TL_ = 0x136, BTN_TR_ = 0x137, BTN_SELECT_ = 0x13a, BTN_START_ = 0x13b,
    BTN_MODE_ = 0x13c, BTN_THUMBL_ = 0x13d, BTN_THUMBR_ = 0x13e,
    ABS_X_ = 0x00, ABS_Y_ = 0x01, ABS_Z_ = 0x02, ABS_RX_ = 0x03,
    ABS_RY_ = 0x04, ABS_RZ_ = 0x05, ABS_HAT0X_ = 0x10, ABS_HAT0Y_ = 0x11,
};

/* Button bit (enum pvs_pad_button) to key code; the d-pad bits are the hat
 * instead. X and Y are BTN_X and BTN_Y (BTN_NORTH and BTN_WEST), as xpad
 * reports them. */
static const uint16_t pad_keys[] = {
    [PVS_PAD_A] = BTN_SOUTH_, [PVS_PAD_B] = BTN_EAST_,
    [PVS_PAD_X] = BTN_X_, [PVS_PAD_Y] = BTN_Y_,
    [PVS_PAD_LB] = BTN_TL_, [PVS_PAD_RB] = BTN_TR_,
    [PVS_PAD_BACK] = BTN_SELECT_, [PVS_PAD_START] = BTN_START_,
    [PVS_PAD_GUIDE] = BTN_MODE_,
    [PVS_PAD_LSTICK] = BTN_THUMBL_, [PVS_PAD_RSTICK] = BTN_THUMBR_,
};
#define PAD_KEY_COUNT (sizeof(pad_keys) / sizeof(pad_keys[0]))

enum { AX_LX, AX_LY, AX_RX, AX_RY, AX_LT, AX_RT, AX_HX, AX_HY, AX_COUNT };
static const uint16_t axis_codes[AX_COUNT] = {
    ABS_X_, ABS_Y_, ABS_RX_, ABS_RY_, ABS_Z_, ABS_RZ_, ABS_HAT0X_, ABS_HAT0Y_,
};

_Static_assert(PAD_KEY_COUNT + AX_COUNT + 1 <= PVS_UINPUT_MAX_EVENTS,
               "every change fits");

static int hat(uint16_t buttons, int neg, int pos)
{
    return ((buttons >> pos) & 1) - ((buttons >> neg) & 1);
}

/* The axis values evdev sees. Sticks' y is flipped (evdev is positive
 * down) with ~v, which maps -32768..32767 onto itself exactly. */
static void axes(const struct pvs_gamepad *p, int32_t v[AX_COUNT])
{
    v[AX_LX] = p->lx;
    v[AX_LY] = ~(int32_t)p->ly;
    v[AX_RX] = p->rx;
    v[AX_RY] = ~(int32_t)p->ry;
    v[AX_LT] = p->lt;
    v[AX_RT] = p->rt;
    v[AX_HX] = hat(p->buttons, PVS_PAD_LEFT, PVS_PAD_RIGHT);
    v[AX_HY] = hat(p->buttons, PVS_PAD_UP, PVS_PAD_DOWN);
}

size_t pvs_uinput_map(const struct pvs_gamepad *prev,
                      const struct pvs_gamepad *next,
                      struct pvs_evdev_event *out, size_t cap)
{
    /* At rest: sticks centred (-1 after the flip for y's 0), nothing
     * pressed; that is what a freshly created device reports. */
    static const struct pvs_gamepad rest = {0};
    struct pvs_evdev_event ev[PVS_UINPUT_MAX_EVENTS];
    size_t n = 0;
    if (!prev)
        prev = &rest;

    for (size_t i = 0; i < PAD_KEY_COUNT; i++) {
        int was = (prev->buttons >> i) & 1, is = (next->buttons >> i) & 1;
        if (was != is)
            ev[n++] = (struct pvs_evdev_event){EVT_KEY, pad_keys[i], is};
    }
    int32_t a[AX_COUNT], b[AX_COUNT];
    axes(prev, a);
    axes(next, b);
    /* A new device's axes start at 0 in the kernel, not at ~0 for y. */
    if (prev == &rest)
        a[AX_LY] = a[AX_RY] = 0;
    for (int i = 0; i < AX_COUNT; i++) {
        if (a[i] != b[i])
            ev[n++] = (struct pvs_evdev_event){EVT_ABS, axis_codes[i], b[i]};
    }
    if (n == 0)
        return 0;
    ev[n++] = (struct pvs_evdev_event){EVT_SYN, SYN_REPORT_, 0};
    if (n > cap)
        n = cap;
    memcpy(out, ev, n * sizeof(ev[0]));
    return n;
}

#ifdef __linux__

#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/log.h"

_Static_assert(EVT_KEY == EV_KEY && EVT_ABS == EV_ABS && EVT_SYN == EV_SYN &&
               BTN_SOUTH_ == BTN_SOUTH && BTN_X_ == BTN_X && BTN_Y_ == BTN_Y &&
               BTN_MODE_ == BTN_MODE && BTN_THUMBR_ == BTN_THUMBR &&
               ABS_RZ_ == ABS_RZ && ABS_HAT0Y_ == ABS_HAT0Y,
               "evdev numbers match the kernel's");

#define UINPUT_PATH "/dev/uinput"

struct pad_dev {
    int fd; /* -1: not created */
    struct pvs_gamepad state;
};

struct uinput_state {
    struct pad_dev pads[PVS_INPUT_MAX_PADS];
};

static int open_uinput(void)
{
    return open(UINPUT_PATH, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
}

static int uinput_open(void **state, char *why, size_t why_size)
{
    int fd = open_uinput();
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENODEV || e == ENXIO)
            snprintf(why, why_size, "%s does not exist (load the uinput module: "
                     "modprobe uinput)", UINPUT_PATH);
        else if (e == EACCES || e == EPERM)
            snprintf(why, why_size, "%s not writable (add the user to the input "
                     "group, or a udev rule giving it access, and load the uinput "
                     "module)", UINPUT_PATH);
        else
            snprintf(why, why_size, "cannot open %s: %s", UINPUT_PATH, strerror(e));
        return e == ENOENT ? PVS_ENOENT : PVS_ENODEV;
    }
    close(fd);
    struct uinput_state *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(why, why_size, "out of memory");
        return PVS_ENOMEM;
    }
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        s->pads[i].fd = -1;
    *state = s;
    return 0;
}

static int abs_setup(int fd, uint16_t code, int32_t min, int32_t max,
                     int32_t fuzz, int32_t flat)
{
    struct uinput_abs_setup a = {
        .code = code,
        .absinfo = {.minimum = min, .maximum = max, .fuzz = fuzz, .flat = flat},
    };
    return ioctl(fd, UI_ABS_SETUP, &a);
}

/* Creates the device for pad `index`; returns the fd or -1 (logged). */
static int create_pad(int index)
{
    int fd = open_uinput();
    if (fd < 0) {
        PVS_LOG_W("gamepad %d: cannot open %s: %s", index, UINPUT_PATH,
                  strerror(errno));
        return -1;
    }
    int rc = ioctl(fd, UI_SET_EVBIT, EV_KEY);
    rc |= ioctl(fd, UI_SET_EVBIT, EV_ABS);
    for (size_t i = 0; i < PAD_KEY_COUNT; i++)
        rc |= ioctl(fd, UI_SET_KEYBIT, pad_keys[i]);
    for (int i = 0; i < AX_COUNT; i++)
        rc |= ioctl(fd, UI_SET_ABSBIT, axis_codes[i]);
    /* The ranges, fuzz and flat an Xbox 360 pad reports. */
    rc |= abs_setup(fd, ABS_X, -32768, 32767, 16, 128);
    rc |= abs_setup(fd, ABS_Y, -32768, 32767, 16, 128);
    rc |= abs_setup(fd, ABS_RX, -32768, 32767, 16, 128);
    rc |= abs_setup(fd, ABS_RY, -32768, 32767, 16, 128);
    rc |= abs_setup(fd, ABS_Z, 0, 255, 0, 0);
    rc |= abs_setup(fd, ABS_RZ, 0, 255, 0, 0);
    rc |= abs_setup(fd, ABS_HAT0X, -1, 1, 0, 0);
    rc |= abs_setup(fd, ABS_HAT0Y, -1, 1, 0, 0);

    struct uinput_setup setup = {
        .id = {.bustype = BUS_USB, .vendor = 0x045e, .product = 0x028e,
               .version = 0x0110},
    };
    snprintf(setup.name, sizeof(setup.name), "pvstream gamepad %d", index + 1);
    if (rc == 0)
        rc = ioctl(fd, UI_DEV_SETUP, &setup);
    if (rc == 0)
        rc = ioctl(fd, UI_DEV_CREATE);
    if (rc != 0) {
        PVS_LOG_W("gamepad %d: creating the uinput device failed: %s "
                  "(a kernel older than 4.5?)", index, strerror(errno));
        close(fd);
        return -1;
    }
    PVS_LOG_I("gamepad %d connected (virtual Xbox 360 pad \"%s\")", index,
              setup.name);
    return fd;
}

static void destroy_pad(struct pad_dev *d, int index)
{
    if (d->fd < 0)
        return;
    ioctl(d->fd, UI_DEV_DESTROY);
    close(d->fd);
    d->fd = -1;
    PVS_LOG_I("gamepad %d disconnected", index);
}

static int write_events(int fd, const struct pvs_evdev_event *ev, size_t n)
{
    struct input_event buf[PVS_UINPUT_MAX_EVENTS];
    memset(buf, 0, sizeof(buf));
    for (size_t i = 0; i < n; i++) {
        buf[i].type = ev[i].type;
        buf[i].code = ev[i].code;
        buf[i].value = ev[i].value;
    }
    size_t bytes = n * sizeof(buf[0]);
    ssize_t w = write(fd, buf, bytes);
    return w == (ssize_t)bytes ? 0 : PVS_EIO;
}

static int uinput_update(void *state, const struct pvs_gamepad *pad)
{
    struct uinput_state *s = state;
    if (pad->pad >= PVS_INPUT_MAX_PADS)
        return PVS_EINVAL;
    struct pad_dev *d = &s->pads[pad->pad];
    if (!pad->connected) {
        destroy_pad(d, pad->pad);
        return 0;
    }
    const struct pvs_gamepad *prev = &d->state;
    if (d->fd < 0) {
        d->fd = create_pad(pad->pad);
        if (d->fd < 0)
            return PVS_EIO;
        prev = NULL;
    }
    struct pvs_evdev_event ev[PVS_UINPUT_MAX_EVENTS];
    size_t n = pvs_uinput_map(prev, pad, ev, PVS_UINPUT_MAX_EVENTS);
    int rc = n ? write_events(d->fd, ev, n) : 0;
    if (rc == 0)
        d->state = *pad;
    return rc;
}

static void uinput_close(void *state)
{
    struct uinput_state *s = state;
    if (!s)
        return;
    for (int i = 0; i < PVS_INPUT_MAX_PADS; i++)
        destroy_pad(&s->pads[i], i);
    free(s);
}

const struct pvs_pad_ops pvs_uinput_ops = {
    .name = "uinput",
    .open = uinput_open,
    .close = uinput_close,
    .update = uinput_update,
};

#endif /* __linux__ */
