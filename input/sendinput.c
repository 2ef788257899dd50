/* Keyboard and pointer injection on Windows through SendInput.
 *
 * Keys go as scan codes (KEYEVENTF_SCANCODE), so the server's keyboard
 * layout turns them into characters exactly as it would a local key: HID
 * usage -> PS/2 scan code set 1, with KEYEVENTF_EXTENDEDKEY for the keys
 * that have an 0xE0 prefix. The pointer moves in absolute coordinates over
 * the virtual desktop (0..65535 each way) or relatively; the wheel takes
 * 1/120 notches as they are (WHEEL_DELTA is 120).
 *
 * The scan code table is built everywhere so it is tested on Linux; the
 * backend itself only on Windows. */
#include "input/injector.h"

#include "common/error.h"

/* ---- HID usage -> scan code set 1 ------------------------------------------
 * Keyboard page (0x07) usages from the USB HID Usage Tables, with the
 * set-1 make code of the same key (E = sent with the 0xE0 prefix). Num
 * Lock is 0x45 extended and Pause the 0xE1 sequence, as Windows has them. */
#define E PVS_SCAN_EXTENDED
static const uint16_t hid_set1[PVS_INPUT_HID_MAX + 1] = {
    /* letters a..z */
    [0x04] = 0x1e, [0x05] = 0x30, [0x06] = 0x2e, [0x07] = 0x20, [0x08] = 0x12,
    [0x09] = 0x21, [0x0a] = 0x22, [0x0b] = 0x23, [0x0c] = 0x17, [0x0d] = 0x24,
    [0x0e] = 0x25, [0x0f] = 0x26, [0x10] = 0x32, [0x11] = 0x31, [0x12] = 0x18,
    [0x13] = 0x19, [0x14] = 0x10, [0x15] = 0x13, [0x16] = 0x1f, [0x17] = 0x14,
    [0x18] = 0x16, [0x19] = 0x2f, [0x1a] = 0x11, [0x1b] = 0x2d, [0x1c] = 0x15,
    [0x1d] = 0x2c,
    /* 1..9, 0 */
    [0x1e] = 0x02, [0x1f] = 0x03, [0x20] = 0x04, [0x21] = 0x05, [0x22] = 0x06,
    [0x23] = 0x07, [0x24] = 0x08, [0x25] = 0x09, [0x26] = 0x0a, [0x27] = 0x0b,
    /* Enter, Escape, Backspace, Tab, Space, - = [ ] \ non-US-# ; ' ` , . /
     * Caps Lock */
    [0x28] = 0x1c, [0x29] = 0x01, [0x2a] = 0x0e, [0x2b] = 0x0f, [0x2c] = 0x39,
    [0x2d] = 0x0c, [0x2e] = 0x0d, [0x2f] = 0x1a, [0x30] = 0x1b, [0x31] = 0x2b,
    [0x32] = 0x2b, [0x33] = 0x27, [0x34] = 0x28, [0x35] = 0x29, [0x36] = 0x33,
    [0x37] = 0x34, [0x38] = 0x35, [0x39] = 0x3a,
    /* F1..F12 */
    [0x3a] = 0x3b, [0x3b] = 0x3c, [0x3c] = 0x3d, [0x3d] = 0x3e, [0x3e] = 0x3f,
    [0x3f] = 0x40, [0x40] = 0x41, [0x41] = 0x42, [0x42] = 0x43, [0x43] = 0x44,
    [0x44] = 0x57, [0x45] = 0x58,
    /* Print Screen, Scroll Lock, Pause, Insert, Home, Page Up, Delete, End,
     * Page Down, Right, Left, Down, Up */
    [0x46] = E | 0x37, [0x47] = 0x46, [0x48] = PVS_SCAN_PAUSE,
    [0x49] = E | 0x52, [0x4a] = E | 0x47, [0x4b] = E | 0x49,
    [0x4c] = E | 0x53, [0x4d] = E | 0x4f, [0x4e] = E | 0x51,
    [0x4f] = E | 0x4d, [0x50] = E | 0x4b, [0x51] = E | 0x50, [0x52] = E | 0x48,
    /* Num Lock, keypad / * - + Enter 1..9 0 . */
    [0x53] = E | 0x45, [0x54] = E | 0x35, [0x55] = 0x37, [0x56] = 0x4a,
    [0x57] = 0x4e, [0x58] = E | 0x1c, [0x59] = 0x4f, [0x5a] = 0x50,
    [0x5b] = 0x51, [0x5c] = 0x4b, [0x5d] = 0x4c, [0x5e] = 0x4d, [0x5f] = 0x47,
    [0x60] = 0x48, [0x61] = 0x49, [0x62] = 0x52, [0x63] = 0x53,
    /* non-US \, Application, Power, keypad = */
    [0x64] = 0x56, [0x65] = E | 0x5d, [0x66] = E | 0x5e, [0x67] = 0x59,
    /* F13..F24 */
    [0x68] = 0x64, [0x69] = 0x65, [0x6a] = 0x66, [0x6b] = 0x67, [0x6c] = 0x68,
    [0x6d] = 0x69, [0x6e] = 0x6a, [0x6f] = 0x6b, [0x70] = 0x6c, [0x71] = 0x6d,
    [0x72] = 0x6e, [0x73] = 0x76,
    /* Mute, Volume Up, Volume Down */
    [0x7f] = E | 0x20, [0x80] = E | 0x30, [0x81] = E | 0x2e,
    /* keypad comma; International 1..6: Ro, Katakana/Hiragana, Yen,
     * Henkan, Muhenkan, keypad JP comma */
    [0x85] = 0x7e, [0x87] = 0x73, [0x88] = 0x70, [0x89] = 0x7d, [0x8a] = 0x79,
    [0x8b] = 0x7b, [0x8c] = 0x5c,
    /* Left Ctrl, Shift, Alt, GUI; Right Ctrl, Shift, Alt, GUI */
    [0xe0] = 0x1d, [0xe1] = 0x2a, [0xe2] = 0x38, [0xe3] = E | 0x5b,
    [0xe4] = E | 0x1d, [0xe5] = 0x36, [0xe6] = E | 0x38, [0xe7] = E | 0x5c,
};
#undef E

uint16_t pvs_hid_to_set1(uint16_t usage)
{
    return usage <= PVS_INPUT_HID_MAX ? hid_set1[usage] : 0;
}

#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <stdlib.h>
#include <windows.h>

#include "common/log.h"
#include "common/platform/platform.h"

struct sendinput_state {
    bool blocked_logged;
};

static int send_input(struct sendinput_state *s, INPUT *in, UINT n)
{
    if (SendInput(n, in, sizeof(INPUT)) == n)
        return 0;
    DWORD err = GetLastError();
    /* Refused as a whole: another desktop has the input (UAC's secure
     * desktop, the lock screen) or a higher-integrity window has focus.
     * Move to the input desktop when it changed (the service's worker runs
     * as SYSTEM and may) and try once more. */
    char desk[64];
    if (pvs_desktop_follow_input(desk, sizeof(desk)) == 1) {
        PVS_LOG_I("sendinput: injecting into the desktop '%s' now", desk);
        s->blocked_logged = false;
        if (SendInput(n, in, sizeof(INPUT)) == n)
            return 0;
        err = GetLastError();
    }
    if (!s->blocked_logged) {
        PVS_LOG_W("sendinput: Windows refused injected input (error %lu): the "
                  "secure desktop or an elevated window has focus; run the "
                  "server elevated or as a service to reach it",
                  (unsigned long)err);
        s->blocked_logged = true;
    }
    return PVS_EIO;
}

static int sendinput_open(void **state, const char *display)
{
    (void)display;
    struct sendinput_state *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    *state = s;
    return 0;
}

static void sendinput_close(void *state)
{
    free(state);
}

static int sendinput_key(void *state, uint16_t usage, bool down)
{
    uint16_t sc = pvs_hid_to_set1(usage);
    if (!sc)
        return PVS_ENOTSUP;
    INPUT in = {.type = INPUT_KEYBOARD};
    if (sc == PVS_SCAN_PAUSE) {
        /* Pause has no single scan code (E1 1D 45); its virtual key does. */
        in.ki.wVk = VK_PAUSE;
        in.ki.dwFlags = down ? 0 : KEYEVENTF_KEYUP;
    } else {
        in.ki.wScan = (WORD)(sc & 0xff);
        in.ki.dwFlags = KEYEVENTF_SCANCODE |
                        (sc & PVS_SCAN_EXTENDED ? KEYEVENTF_EXTENDEDKEY : 0) |
                        (down ? 0 : KEYEVENTF_KEYUP);
    }
    return send_input(state, &in, 1);
}

/* x of a frame `from` wide to 0..65535 across the virtual desktop: the
 * centre of the pixel, as the normalised coordinates round down. */
static LONG normalise(uint16_t x, uint16_t from)
{
    uint32_t v = ((uint32_t)x * 2 + 1) * 65536u / (2u * from);
    return (LONG)(v > 65535 ? 65535 : v);
}

static int sendinput_motion_abs(void *state, uint16_t x, uint16_t y,
                                uint16_t width, uint16_t height)
{
    if (!width || !height)
        return PVS_EINVAL;
    INPUT in = {.type = INPUT_MOUSE};
    in.mi.dx = normalise(x, width);
    in.mi.dy = normalise(y, height);
    in.mi.dwFlags = MOUSEEVENTF_MOVE | MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_VIRTUALDESK;
    return send_input(state, &in, 1);
}

static int sendinput_motion_rel(void *state, int16_t dx, int16_t dy)
{
    /* Relative moves go through the user's pointer speed and
     * acceleration settings, as a local mouse's do. */
    INPUT in = {.type = INPUT_MOUSE};
    in.mi.dx = dx;
    in.mi.dy = dy;
    in.mi.dwFlags = MOUSEEVENTF_MOVE;
    return send_input(state, &in, 1);
}

static int sendinput_button(void *state, uint8_t button, bool down)
{
    INPUT in = {.type = INPUT_MOUSE};
    switch (button) {
    case PVS_BUTTON_LEFT:
        in.mi.dwFlags = down ? MOUSEEVENTF_LEFTDOWN : MOUSEEVENTF_LEFTUP;
        break;
    case PVS_BUTTON_MIDDLE:
        in.mi.dwFlags = down ? MOUSEEVENTF_MIDDLEDOWN : MOUSEEVENTF_MIDDLEUP;
        break;
    case PVS_BUTTON_RIGHT:
        in.mi.dwFlags = down ? MOUSEEVENTF_RIGHTDOWN : MOUSEEVENTF_RIGHTUP;
        break;
    case PVS_BUTTON_BACK:
    case PVS_BUTTON_FORWARD:
        in.mi.dwFlags = down ? MOUSEEVENTF_XDOWN : MOUSEEVENTF_XUP;
        in.mi.mouseData = button == PVS_BUTTON_BACK ? XBUTTON1 : XBUTTON2;
        break;
    default:
        return PVS_EINVAL;
    }
    return send_input(state, &in, 1);
}

static int sendinput_wheel(void *state, int16_t dx, int16_t dy)
{
    /* Both take WHEEL_DELTA (120) per notch, positive away from the user
     * (up) and to the right: the protocol's units and signs. */
    INPUT in[2] = {{.type = INPUT_MOUSE}, {.type = INPUT_MOUSE}};
    UINT n = 0;
    if (dy) {
        in[n].mi.dwFlags = MOUSEEVENTF_WHEEL;
        in[n].mi.mouseData = (DWORD)(LONG)dy;
        n++;
    }
    if (dx) {
        in[n].mi.dwFlags = MOUSEEVENTF_HWHEEL;
        in[n].mi.mouseData = (DWORD)(LONG)dx;
        n++;
    }
    return n ? send_input(state, in, n) : 0;
}

const struct pvs_inject_ops pvs_sendinput_ops = {
    .name = "sendinput",
    .open = sendinput_open,
    .close = sendinput_close,
    .key = sendinput_key,
    .motion_abs = sendinput_motion_abs,
    .motion_rel = sendinput_motion_rel,
    .button = sendinput_button,
    .wheel = sendinput_wheel,
};

#endif /* _WIN32 */
