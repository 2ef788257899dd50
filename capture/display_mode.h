/* Display modes, and which of an output's modes to set for a client.
 *
 * A client asks for the size and refresh of its own display (or what
 * --size and --fps say); the captured output offers a list of modes. The
 * choice is plain C so that it is tested everywhere; the Windows calls that
 * list and set modes are in capture/vdisplay_win32.c.
 *
 * The rule (docs/windows.md, "Display mode"), in order, each step only
 * breaking the ties the one before it leaves:
 *   1. the size asked for, exactly;
 *   2. the same aspect ratio as asked (no black bars, no stretching);
 *   3. not larger than asked (the client would scale it down: text shrinks
 *      and bandwidth is spent on pixels nobody sees);
 *   4. the closest in area: the largest of those not larger, else the
 *      one whose area is nearest the asked one;
 *   5. refresh: the one asked for; else the lowest above it (no frame the
 *      client could show is lost); else the highest below it;
 *   6. the first in the list. */
#ifndef PVS_CAPTURE_DISPLAY_MODE_H
#define PVS_CAPTURE_DISPLAY_MODE_H

#include <stdbool.h>
#include <stddef.h>

struct pvs_display_mode {
    int width, height;   /* pixels; 0 and 0 in a request: keep the current size */
    int hz;              /* refresh, Hz; 0 in a request: keep the current refresh */
};

/* The mode to ask for: the server's --size and --fps (0: not given) win
 * over what the client said (0: nothing). */
struct pvs_display_mode pvs_display_mode_request(int client_width, int client_height,
                                                 int client_hz, int size_width,
                                                 int size_height, int fps);

/* True when a request says nothing (no size, no refresh). */
bool pvs_display_mode_is_empty(const struct pvs_display_mode *m);

/* The index in modes[0..n) of the mode to set for `want` (see the rule
 * above); `current` fills what `want` leaves at 0 (NULL: a refresh of 60,
 * and any size). -1 when n <= 0. */
int pvs_display_mode_choose(const struct pvs_display_mode *modes, int n,
                            const struct pvs_display_mode *want,
                            const struct pvs_display_mode *current);

bool pvs_display_mode_equal(const struct pvs_display_mode *a, const struct pvs_display_mode *b);

/* "2560x1440 at 120 Hz" ("any size", "the current refresh" for zeros),
 * in buf. */
const char *pvs_display_mode_format(const struct pvs_display_mode *m, char *buf, size_t len);

#endif
