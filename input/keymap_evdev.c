/* The HID usage -> Linux evdev key code table that XTest (evdev + 8 is the
 * X keycode) and uinput use. Plain data, built on every system so that the
 * unit tests check it everywhere, Windows builds included. */
#include "input/injector.h"

/* ---- HID usage -> evdev ----------------------------------------------------
 * Keyboard page (0x07) usages from the USB HID Usage Tables, with the Linux
 * key code (linux/input-event-codes.h) of the same key. Usages without a
 * Linux key (error codes, locking keys, most keypad extras) are 0. */
static const uint8_t hid_evdev[PVS_INPUT_HID_MAX + 1] = {
    /* letters a..z */
    [0x04] = 30, [0x05] = 48, [0x06] = 46, [0x07] = 32, [0x08] = 18,
    [0x09] = 33, [0x0a] = 34, [0x0b] = 35, [0x0c] = 23, [0x0d] = 36,
    [0x0e] = 37, [0x0f] = 38, [0x10] = 50, [0x11] = 49, [0x12] = 24,
    [0x13] = 25, [0x14] = 16, [0x15] = 19, [0x16] = 31, [0x17] = 20,
    [0x18] = 22, [0x19] = 47, [0x1a] = 17, [0x1b] = 45, [0x1c] = 21,
    [0x1d] = 44,
    /* 1..9, 0 */
    [0x1e] = 2, [0x1f] = 3, [0x20] = 4, [0x21] = 5, [0x22] = 6, [0x23] = 7,
    [0x24] = 8, [0x25] = 9, [0x26] = 10, [0x27] = 11,
    /* Enter, Escape, Backspace, Tab, Space, - = [ ] \ (non-US # is the
     * same key position as \), ; ' ` , . / Caps Lock */
    [0x28] = 28, [0x29] = 1, [0x2a] = 14, [0x2b] = 15, [0x2c] = 57,
    [0x2d] = 12, [0x2e] = 13, [0x2f] = 26, [0x30] = 27, [0x31] = 43,
    [0x32] = 43, [0x33] = 39, [0x34] = 40, [0x35] = 41, [0x36] = 51,
    [0x37] = 52, [0x38] = 53, [0x39] = 58,
    /* F1..F12 */
    [0x3a] = 59, [0x3b] = 60, [0x3c] = 61, [0x3d] = 62, [0x3e] = 63,
    [0x3f] = 64, [0x40] = 65, [0x41] = 66, [0x42] = 67, [0x43] = 68,
    [0x44] = 87, [0x45] = 88,
    /* Print Screen (SysRq), Scroll Lock, Pause, Insert, Home, Page Up,
     * Delete, End, Page Down, Right, Left, Down, Up */
    [0x46] = 99, [0x47] = 70, [0x48] = 119, [0x49] = 110, [0x4a] = 102,
    [0x4b] = 104, [0x4c] = 111, [0x4d] = 107, [0x4e] = 109, [0x4f] = 106,
    [0x50] = 105, [0x51] = 108, [0x52] = 103,
    /* Num Lock, keypad / * - + Enter 1..9 0 . */
    [0x53] = 69, [0x54] = 98, [0x55] = 55, [0x56] = 74, [0x57] = 78,
    [0x58] = 96, [0x59] = 79, [0x5a] = 80, [0x5b] = 81, [0x5c] = 75,
    [0x5d] = 76, [0x5e] = 77, [0x5f] = 71, [0x60] = 72, [0x61] = 73,
    [0x62] = 82, [0x63] = 83,
    /* non-US \ (102nd key), Application (Compose), Power, keypad = */
    [0x64] = 86, [0x65] = 127, [0x66] = 116, [0x67] = 117,
    /* F13..F24 */
    [0x68] = 183, [0x69] = 184, [0x6a] = 185, [0x6b] = 186, [0x6c] = 187,
    [0x6d] = 188, [0x6e] = 189, [0x6f] = 190, [0x70] = 191, [0x71] = 192,
    [0x72] = 193, [0x73] = 194,
    /* Execute (Open), Help, Menu (Props), Select (Front), Stop, Again,
     * Undo, Cut, Copy, Paste, Find, Mute, Volume Up, Volume Down */
    [0x74] = 134, [0x75] = 138, [0x76] = 130, [0x77] = 132, [0x78] = 128,
    [0x79] = 129, [0x7a] = 131, [0x7b] = 137, [0x7c] = 133, [0x7d] = 135,
    [0x7e] = 136, [0x7f] = 113, [0x80] = 115, [0x81] = 114,
    /* keypad comma; International 1..6: Ro, Katakana/Hiragana, Yen,
     * Henkan, Muhenkan, keypad JP comma; LANG 1..5: Hangeul, Hanja,
     * Katakana, Hiragana, Zenkaku/Hankaku */
    [0x85] = 121, [0x87] = 89, [0x88] = 93, [0x89] = 124, [0x8a] = 92,
    [0x8b] = 94, [0x8c] = 95, [0x90] = 122, [0x91] = 123, [0x92] = 90,
    [0x93] = 91, [0x94] = 85,
    /* keypad ( ) */
    [0xb6] = 179, [0xb7] = 180,
    /* Left Ctrl, Shift, Alt, GUI; Right Ctrl, Shift, Alt, GUI */
    [0xe0] = 29, [0xe1] = 42, [0xe2] = 56, [0xe3] = 125,
    [0xe4] = 97, [0xe5] = 54, [0xe6] = 100, [0xe7] = 126,
};

uint16_t pvs_hid_to_evdev(uint16_t usage)
{
    return usage <= PVS_INPUT_HID_MAX ? hid_evdev[usage] : 0;
}
