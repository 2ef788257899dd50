/* supervisor: the decisions of the Windows service, in plain C. The service
 * (server/service.c) does no capture itself: it runs the streaming worker
 * (pvstream-server in its normal mode) in the session the console shows,
 * as SYSTEM, so that the worker can reach the sign-in and UAC desktops.
 * service.c makes the Win32 calls (WTSGetActiveConsoleSessionId,
 * CreateProcessAsUser, the stop event, TerminateProcess) behind struct
 * pvs_sup_ops; this module decides which session, when to start, restart
 * and stop, and how long to wait. The unit tests drive it with a scripted
 * fake on a fake clock.
 *
 * What it does:
 * - pvs_sup_start(): the worker is wanted. It starts in the active console
 *   session; while there is none (the console is between sessions), the
 *   session is asked for again every PVS_SUP_POLL_MS and on a console
 *   connect.
 * - A worker that ends while wanted, or fails to start, is started again
 *   after a backoff: 1, 2, 4, 8, 16, then every 30 s. A worker that ran for
 *   PVS_SUP_STABLE_MS or more starts again after the first step. Each end is
 *   logged with its exit code and what the code means.
 * - Session events (SERVICE_CONTROL_SESSIONCHANGE): a console connect to
 *   another session moves the worker there (stopped, then started at once,
 *   no backoff); a console disconnect or a log-off of the worker's session
 *   stops it and waits for the console's next session; a log-on in the
 *   worker's session, lock and unlock change nothing (the worker follows
 *   the input desktop itself: pvs_desktop_follow_input()). Remote (RDP)
 *   connects and disconnects are not the console's and change nothing.
 * - Stopping a worker: it is asked (stop event), and ended
 *   (TerminateProcess) when it has not exited PVS_SUP_STOP_GRACE_MS later.
 * - pvs_sup_stop(): the service stops; the worker is stopped as above and
 *   pvs_sup_done() turns true once it has exited.
 *
 * Threading: one thread (the service's loop) makes every call, and every
 * callback is made from inside one of them. */
#ifndef PVS_SUPERVISOR_H
#define PVS_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_SUP_NO_SESSION 0xFFFFFFFFu /* WTSGetActiveConsoleSessionId: none */
#define PVS_SUP_POLL_MS 1000           /* asking again for a console session */
#define PVS_SUP_STOP_GRACE_MS 5000     /* from the stop request to TerminateProcess */
#define PVS_SUP_STABLE_MS 60000        /* a run this long resets the backoff */
#define PVS_SUP_MAX_BACKOFF_MS 30000

/* The session changes Windows reports (the WTS_* codes of
 * SERVICE_CONTROL_SESSIONCHANGE, in the same order and values). */
enum pvs_sup_session_event {
    PVS_SUP_CONSOLE_CONNECT = 1,
    PVS_SUP_CONSOLE_DISCONNECT = 2,
    PVS_SUP_REMOTE_CONNECT = 3,
    PVS_SUP_REMOTE_DISCONNECT = 4,
    PVS_SUP_LOGON = 5,
    PVS_SUP_LOGOFF = 6,
    PVS_SUP_LOCK = 7,
    PVS_SUP_UNLOCK = 8,
};

/* What the service provides. Every callback gets the `opaque` given to
 * pvs_sup_open(). */
struct pvs_sup_ops {
    /* The monotonic clock, in nanoseconds (pvs_time_ns). */
    int64_t (*now_ns)(void *opaque);
    /* The session attached to the physical console, or PVS_SUP_NO_SESSION. */
    uint32_t (*active_session)(void *opaque);
    /* Starts the worker in `session`. 0, or a negative PVS_E* code after
     * logging why. Never called while a worker runs. */
    int (*start_worker)(void *opaque, uint32_t session);
    /* Asks the running worker to stop (it exits on its own). */
    void (*request_stop)(void *opaque);
    /* Ends the running worker now (it still reports its exit). */
    void (*kill_worker)(void *opaque);
};

struct pvs_sup;

/* Makes a supervisor that wants no worker yet. Returns 0 or PVS_ENOMEM. */
int pvs_sup_open(struct pvs_sup **out, const struct pvs_sup_ops *ops, void *opaque);
/* Frees it (a running worker is not touched) and clears *s. Accepts NULL. */
void pvs_sup_close(struct pvs_sup **s);

/* The service runs: have a worker in the console session. */
void pvs_sup_start(struct pvs_sup *s);
/* The service stops: stop the worker, start none again. */
void pvs_sup_stop(struct pvs_sup *s);
/* A session change in `session`. */
void pvs_sup_session(struct pvs_sup *s, enum pvs_sup_session_event ev, uint32_t session);
/* The worker ended with this exit code (GetExitCodeProcess). */
void pvs_sup_worker_exited(struct pvs_sup *s, uint32_t code);
/* Time passed: does what is due (a restart, a session poll, TerminateProcess). */
void pvs_sup_tick(struct pvs_sup *s);

/* When pvs_sup_tick() is next due, on the ops' clock; -1: only an event
 * changes anything. */
int64_t pvs_sup_deadline(const struct pvs_sup *s);
/* True when a worker process exists (started and not yet reported ended). */
bool pvs_sup_worker_running(const struct pvs_sup *s);
/* The running worker's session, or PVS_SUP_NO_SESSION. */
uint32_t pvs_sup_worker_session(const struct pvs_sup *s);
/* True after pvs_sup_stop() once no worker is left. */
bool pvs_sup_done(const struct pvs_sup *s);

/* What an exit code means, for the log: "exited normally", "crashed (access
 * violation, 0xC0000005)"... Writes into buf and returns it. */
const char *pvs_sup_exit_text(uint32_t code, char *buf, size_t len);
/* The wait before restart number `failures` (1 for the first): 1 s, 2 s,
 * 4 s... at most PVS_SUP_MAX_BACKOFF_MS. In milliseconds. */
int pvs_sup_backoff_ms(int failures);

#endif
