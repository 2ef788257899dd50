/* The display a client is streamed from: a virtual monitor added through
 * an Indirect Display (IddCx) virtual display driver while a client is
 * connected, or the client's mode set on the existing output, and both
 * undone when it leaves (docs/windows.md, "Virtual display").
 *
 * The decisions are here, in plain C, behind a small table of calls
 * (struct pvs_display_ops) that a scripted fake drives in the unit tests;
 * the Windows calls (SudoVDA's IOCTLs, EnumDisplaySettingsW,
 * ChangeDisplaySettingsExW) are in capture/vdisplay_win32.c.
 *
 * Threading: one thread at a time. The server's video thread uses it
 * during a session (begin, tick, end), the control thread between sessions
 * (tick, to keep a kept display alive); the thread hand-over orders them. */
#ifndef PVS_CAPTURE_VDISPLAY_H
#define PVS_CAPTURE_VDISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/adapters.h"
#include "capture/display_mode.h"

#define PVS_VDISPLAY_MAX_MODES 256
#define PVS_VDISPLAY_WAIT_MS 5000   /* for a new monitor to show among the outputs */
#define PVS_VDISPLAY_POLL_MS 100
#define PVS_VDISPLAY_PING_MS 1000   /* SudoVDA's watchdog drops its monitors after 3 s */

/* --virtual-display. */
enum pvs_vdisplay_policy {
    PVS_VDISPLAY_AUTO = 0, /* a virtual monitor when no GPU that encodes shows the
                              desktop (GPU-PV); removed when the client leaves */
    PVS_VDISPLAY_KEEP,     /* the same, but the monitor stays for the next client
                              (until the server stops) */
    PVS_VDISPLAY_OFF,      /* never; the client's mode is set on the existing output */
};
extern const char *const pvs_vdisplay_policy_names[]; /* "auto", "keep", "off", NULL */

/* The platform's calls. ctx is the table's own. Each returns 0 or a
 * negative PVS_E* code with the reason in `why`. */
struct pvs_display_ops {
    /* The adapters and outputs (pvs_gpu_list). Returns how many. */
    int (*list)(void *ctx, struct pvs_gpu_adapter *out, int cap, char *why, size_t why_len);
    /* The modes output `name` offers, into out[0..cap); *current: its mode
     * now. Returns how many. */
    int (*modes)(void *ctx, const char *name, struct pvs_display_mode *out, int cap,
                 struct pvs_display_mode *current, char *why, size_t why_len);
    /* Sets mode m on output `name` for now (not saved); m NULL: back to the
     * mode saved for it. */
    int (*set_mode)(void *ctx, const char *name, const struct pvs_display_mode *m,
                    char *why, size_t why_len);
    /* The virtual display driver: opens it (PVS_ENODEV: not installed),
     * adds a monitor at m rendered by the adapter of `luid` (0: the driver's
     * choice), removes it, keeps it alive. Optional: NULL where there is none. */
    int (*vdd_open)(void *ctx, char *why, size_t why_len);
    int (*vdd_add)(void *ctx, const struct pvs_display_mode *m, uint64_t luid,
                   char *why, size_t why_len);
    void (*vdd_remove)(void *ctx);
    void (*vdd_ping)(void *ctx);
    void (*vdd_close)(void *ctx);
    /* The clock and the wait (tests script them). */
    int64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, int ms);
};

/* The system's table (Windows), or NULL where modes cannot be changed. */
const struct pvs_display_ops *pvs_display_system_ops(void);

/* What begin did, for the server and the tests. */
struct pvs_vdisplay_result {
    int output;                   /* the output to capture, counted from 1 as --output;
                                     0: the default */
    struct pvs_display_mode mode; /* the mode it shows now; zeros: not known */
    bool virtual_display;         /* on a monitor the driver added */
    bool mode_set;                /* a mode was set for this client (restored at end) */
    char note[384];               /* what was done or could not be, for the log */
};

struct pvs_vdisplay;

/* `output`: --output (0: the default, which lets auto add a monitor; a
 * number names an output, so none is added). ctx is passed to every op. */
int pvs_vdisplay_open(struct pvs_vdisplay **out, const struct pvs_display_ops *ops, void *ctx,
                      enum pvs_vdisplay_policy policy, int output);
/* Removes what is still added or set. Accepts NULL; clears the pointer. */
void pvs_vdisplay_close(struct pvs_vdisplay **d);

/* A client arrives wanting `want` (zeros: nothing said): prepares the
 * display before capture opens. Never fails: what could not be done is in
 * r->note, and capture goes on with the output as it is. */
void pvs_vdisplay_begin(struct pvs_vdisplay *d, const struct pvs_display_mode *want,
                        struct pvs_vdisplay_result *r);
/* The client left: restores the mode, removes the monitor (not with keep). */
void pvs_vdisplay_end(struct pvs_vdisplay *d);
/* Keeps the driver's monitors alive; call often (it pings once a second). */
void pvs_vdisplay_tick(struct pvs_vdisplay *d);

#endif
