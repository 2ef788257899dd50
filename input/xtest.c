/* Keyboard and pointer injection on X11 through the XTest extension (xcb).
 *
 * Keys: HID usage -> Linux evdev code -> X keycode (evdev + 8), which is
 * what Xorg with the evdev or libinput driver, Xvfb and Xwayland use. The
 * keymap is checked once at open; an X server with another keycode scheme
 * gets a warning, as its keys would land wrong.
 *
 * Pointer: absolute positions are scaled from the client's frame to the
 * root window's current size, which follows RandR changes through the
 * root's ConfigureNotify. The wheel accumulates 1/120 notches and clicks
 * buttons 4/5 (up/down) and 6/7 (left/right) once per whole notch. Every
 * request is flushed at once: input must not wait for a buffer to fill. */
#include "input/injector.h"

#include <stdlib.h>

#include <xcb/xcb.h>
#include <xcb/xtest.h>

#include "common/error.h"
#include "common/log.h"

/* ---- the backend ------------------------------------------------------- */

#define EVDEV_OFFSET 8     /* X keycode = evdev code + 8 */
#define KEYSYM_a 0x61

struct xtest_state {
    xcb_connection_t *conn;
    xcb_window_t root;
    uint16_t root_w, root_h;
    uint8_t min_keycode, max_keycode;
    int wheel_acc[2];      /* [0] x, [1] y: 1/120 notches not yet clicked */
    bool dead_logged;
};

/* Keeps the root's size current and the event queue empty: reads what the
 * server has sent without waiting for anything. */
static void drain(struct xtest_state *s)
{
    xcb_generic_event_t *e;
    while ((e = xcb_poll_for_event(s->conn))) {
        uint8_t t = e->response_type & 0x7f;
        if (t == XCB_CONFIGURE_NOTIFY) {
            const xcb_configure_notify_event_t *c = (void *)e;
            if (c->window == s->root && c->width > 0 && c->height > 0) {
                s->root_w = c->width;
                s->root_h = c->height;
            }
        } else if (t == 0) {
            const xcb_generic_error_t *err = (void *)e;
            PVS_LOG_D("xtest: X error %u (request %u.%u)", err->error_code,
                      err->major_code, err->minor_code);
        }
        free(e);
    }
}

/* Flushes; returns PVS_EIO (logged once) when the connection is gone. */
static int flush(struct xtest_state *s)
{
    if (xcb_flush(s->conn) > 0 && !xcb_connection_has_error(s->conn))
        return 0;
    if (!s->dead_logged) {
        PVS_LOG_E("xtest: the connection to the X server is lost: input is "
                  "dropped until the session restarts");
        s->dead_logged = true;
    }
    return PVS_EIO;
}

static void fake(struct xtest_state *s, uint8_t type, uint8_t detail,
                 xcb_window_t root, int16_t x, int16_t y)
{
    xcb_test_fake_input(s->conn, type, detail, XCB_CURRENT_TIME, root, x, y,
                        XCB_NONE);
}

/* Whether keycode 38 is 'a', as on every evdev-keycode server. */
static bool keymap_is_evdev(struct xtest_state *s)
{
    const uint8_t kc = 30 + EVDEV_OFFSET;
    if (kc < s->min_keycode || kc > s->max_keycode)
        return false;
    xcb_get_keyboard_mapping_reply_t *r = xcb_get_keyboard_mapping_reply(
        s->conn, xcb_get_keyboard_mapping(s->conn, kc, 1), NULL);
    if (!r)
        return false;
    bool ok = r->keysyms_per_keycode > 0 &&
              xcb_get_keyboard_mapping_keysyms_length(r) > 0 &&
              xcb_get_keyboard_mapping_keysyms(r)[0] == KEYSYM_a;
    free(r);
    return ok;
}

static void xtest_close(void *state)
{
    struct xtest_state *s = state;
    if (!s)
        return;
    if (s->conn && !xcb_connection_has_error(s->conn)) {
        /* A round trip before leaving: the server has then taken every
         * release sent just before, rather than dropping the tail of a
         * connection that is closing. */
        free(xcb_get_input_focus_reply(s->conn, xcb_get_input_focus(s->conn), NULL));
    }
    if (s->conn)
        xcb_disconnect(s->conn);
    free(s);
}

static int xtest_open(void **state, const char *display)
{
    struct xtest_state *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    int screen_num = 0;
    s->conn = xcb_connect(display, &screen_num);
    if (xcb_connection_has_error(s->conn)) {
        PVS_LOG_E("xtest: cannot connect to X display %s: is an X server "
                  "running there, and may this user connect (DISPLAY, "
                  "XAUTHORITY)?", display ? display : "$DISPLAY");
        goto fail;
    }
    const xcb_setup_t *setup = xcb_get_setup(s->conn);
    xcb_screen_iterator_t it = xcb_setup_roots_iterator(setup);
    for (int i = 0; i < screen_num && it.rem; i++)
        xcb_screen_next(&it);
    if (!it.rem) {
        PVS_LOG_E("xtest: X display has no screen %d", screen_num);
        goto fail;
    }
    s->root = it.data->root;
    s->root_w = it.data->width_in_pixels;
    s->root_h = it.data->height_in_pixels;
    s->min_keycode = setup->min_keycode;
    s->max_keycode = setup->max_keycode;

    const xcb_query_extension_reply_t *ext = xcb_get_extension_data(s->conn, &xcb_test_id);
    xcb_test_get_version_reply_t *ver = NULL;
    if (ext && ext->present)
        ver = xcb_test_get_version_reply(s->conn,
                                         xcb_test_get_version(s->conn, 2, 2), NULL);
    if (!ver) {
        PVS_LOG_E("xtest: the X server has no XTest extension, so input cannot "
                  "be injected: enable it (Xorg: Option \"XTEST\" in the "
                  "Extensions section; Xvfb: do not pass -extension XTEST)");
        goto fail;
    }
    PVS_LOG_D("xtest: XTest %u.%u, root %ux%u", ver->major_version,
              ver->minor_version, s->root_w, s->root_h);
    free(ver);

    /* Injected input still works while another client grabs the server. */
    xcb_test_grab_control(s->conn, 1);
    /* ConfigureNotify on the root tells of size changes (RandR). */
    uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
    xcb_change_window_attributes(s->conn, s->root, XCB_CW_EVENT_MASK, &mask);

    if (!keymap_is_evdev(s))
        PVS_LOG_W("xtest: the X keymap does not look like evdev keycodes "
                  "(keycode 38 is not 'a'): keys will land on the wrong keys; "
                  "use the evdev or libinput input driver");
    if (flush(s) != 0)
        goto fail;
    *state = s;
    return 0;

fail:
    xtest_close(s);
    return PVS_ENODEV;
}

static int xtest_key(void *state, uint16_t usage, bool down)
{
    struct xtest_state *s = state;
    uint16_t code = pvs_hid_to_evdev(usage);
    if (!code)
        return PVS_ENOTSUP;
    unsigned kc = code + EVDEV_OFFSET;
    if (kc < s->min_keycode || kc > s->max_keycode)
        return PVS_ENOTSUP;
    drain(s);
    fake(s, down ? XCB_KEY_PRESS : XCB_KEY_RELEASE, (uint8_t)kc, XCB_NONE, 0, 0);
    return flush(s);
}

/* x in a frame `from` wide to a pixel of a screen `to` wide: the screen
 * pixel under the left edge of the frame's pixel, within the screen. */
static int16_t scale(uint16_t x, uint16_t from, uint16_t to)
{
    uint32_t v = (uint32_t)x * to / from;
    if (v >= to)
        v = to ? to - 1u : 0;
    return (int16_t)(v > INT16_MAX ? INT16_MAX : v);
}

static int xtest_motion_abs(void *state, uint16_t x, uint16_t y,
                            uint16_t width, uint16_t height)
{
    struct xtest_state *s = state;
    if (!width || !height)
        return PVS_EINVAL;
    drain(s);
    fake(s, XCB_MOTION_NOTIFY, 0, s->root, scale(x, width, s->root_w),
         scale(y, height, s->root_h));
    return flush(s);
}

static int xtest_motion_rel(void *state, int16_t dx, int16_t dy)
{
    struct xtest_state *s = state;
    drain(s);
    /* detail 1: rootX and rootY are offsets from where the pointer is;
     * root None: the screen the pointer is on. */
    fake(s, XCB_MOTION_NOTIFY, 1, XCB_NONE, dx, dy);
    return flush(s);
}

static uint8_t x_button(uint8_t button)
{
    switch (button) {
    case PVS_BUTTON_LEFT: return 1;
    case PVS_BUTTON_MIDDLE: return 2;
    case PVS_BUTTON_RIGHT: return 3;
    case PVS_BUTTON_BACK: return 8;
    case PVS_BUTTON_FORWARD: return 9;
    }
    return 0;
}

static int xtest_button(void *state, uint8_t button, bool down)
{
    struct xtest_state *s = state;
    uint8_t b = x_button(button);
    if (!b)
        return PVS_EINVAL;
    drain(s);
    fake(s, down ? XCB_BUTTON_PRESS : XCB_BUTTON_RELEASE, b, XCB_NONE, 0, 0);
    return flush(s);
}

/* Adds d to the axis' remainder and clicks `pos` or `neg` once per whole
 * notch. A turn the other way drops what was left of the old direction,
 * so a reversal is felt at once. */
static void wheel_axis(struct xtest_state *s, int *acc, int d, uint8_t pos,
                       uint8_t neg)
{
    if ((d > 0 && *acc < 0) || (d < 0 && *acc > 0))
        *acc = 0;
    *acc += d;
    while (*acc >= PVS_INPUT_WHEEL_NOTCH || *acc <= -PVS_INPUT_WHEEL_NOTCH) {
        uint8_t b = *acc > 0 ? pos : neg;
        *acc += *acc > 0 ? -PVS_INPUT_WHEEL_NOTCH : PVS_INPUT_WHEEL_NOTCH;
        fake(s, XCB_BUTTON_PRESS, b, XCB_NONE, 0, 0);
        fake(s, XCB_BUTTON_RELEASE, b, XCB_NONE, 0, 0);
    }
}

static int xtest_wheel(void *state, int16_t dx, int16_t dy)
{
    struct xtest_state *s = state;
    drain(s);
    wheel_axis(s, &s->wheel_acc[0], dx, 7, 6);  /* right 7, left 6 */
    wheel_axis(s, &s->wheel_acc[1], dy, 4, 5);  /* up 4, down 5 */
    return flush(s);
}

const struct pvs_inject_ops pvs_xtest_ops = {
    .name = "xtest",
    .open = xtest_open,
    .close = xtest_close,
    .key = xtest_key,
    .motion_abs = xtest_motion_abs,
    .motion_rel = xtest_motion_rel,
    .button = xtest_button,
    .wheel = xtest_wheel,
};
