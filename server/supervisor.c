/* The service's decisions (supervisor.h): which session the worker runs in,
 * when it starts, restarts and stops. No Win32 here: server/service.c
 * provides the calls and the tests a scripted fake. */
#include "server/supervisor.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"

#define MS INT64_C(1000000)

enum sup_state {
    SUP_IDLE,     /* no worker, none wanted now */
    SUP_WAITING,  /* no worker; try to start one at due_ns */
    SUP_RUNNING,  /* a worker runs in `session` */
    SUP_STOPPING, /* the worker was asked to stop; ended at due_ns */
};

struct pvs_sup {
    const struct pvs_sup_ops *ops;
    void *opaque;
    enum sup_state state;
    bool wanted;       /* the service runs: a worker should */
    bool service_stop; /* pvs_sup_stop() was called */
    bool restart_now;  /* STOPPING to move sessions: start again at once */
    bool killed;       /* STOPPING: TerminateProcess was called */
    bool said_no_session;
    uint32_t session;  /* the worker's, while RUNNING or STOPPING */
    int64_t started_ns;
    int64_t due_ns;
    int failures;      /* ends and failed starts in a row */
};

static int64_t now(const struct pvs_sup *s)
{
    return s->ops->now_ns(s->opaque);
}

int pvs_sup_backoff_ms(int failures)
{
    int ms = 1000;
    for (int i = 1; i < failures && ms < PVS_SUP_MAX_BACKOFF_MS; i++)
        ms *= 2;
    return ms < PVS_SUP_MAX_BACKOFF_MS ? ms : PVS_SUP_MAX_BACKOFF_MS;
}

/* Codes a worker may end with: its own (server/main.c) and the NTSTATUS
 * values Windows gives a process that crashed or could not start. */
static const struct {
    uint32_t code;
    const char *text;
} exit_codes[] = {
    { 0, "exited normally" },
    { 1, "stopped on an error (the worker's log says which)" },
    { 2, "refused its command line or configuration (check the file with "
         "`pvstream-server --config FILE doctor`)" },
    { 0xC0000005u, "crashed (access violation)" },
    { 0xC00000FDu, "crashed (stack overflow)" },
    { 0xC0000374u, "crashed (heap corruption)" },
    { 0xC0000409u, "crashed (stack buffer overrun)" },
    { 0xC0000017u, "ran out of memory" },
    { 0xC000009Au, "ran out of system resources" },
    { 0xC0000135u, "could not start: a DLL it needs is missing" },
    { 0xC0000142u, "could not start in that session (DLL initialisation failed: "
                   "its window station or desktop was not reachable)" },
    { 0xC000013Au, "was ended by Ctrl+C or its console closing" },
};

const char *pvs_sup_exit_text(uint32_t code, char *buf, size_t len)
{
    const char *text = NULL;
    for (size_t i = 0; i < sizeof(exit_codes) / sizeof(exit_codes[0]); i++)
        if (exit_codes[i].code == code)
            text = exit_codes[i].text;
    /* NTSTATUS values read as hexadecimal, the way Windows documents them. */
    if (code >= 0xC0000000u)
        snprintf(buf, len, "exit code 0x%08lX: %s", (unsigned long)code,
                 text ? text : "crashed (an unhandled exception)");
    else
        snprintf(buf, len, "exit code %lu: %s", (unsigned long)code,
                 text ? text : "ended on its own");
    return buf;
}

int pvs_sup_open(struct pvs_sup **out, const struct pvs_sup_ops *ops, void *opaque)
{
    struct pvs_sup *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->ops = ops;
    s->opaque = opaque;
    s->state = SUP_IDLE;
    s->session = PVS_SUP_NO_SESSION;
    s->due_ns = -1;
    *out = s;
    return 0;
}

void pvs_sup_close(struct pvs_sup **s)
{
    if (!s)
        return;
    free(*s);
    *s = NULL;
}

static void go_idle(struct pvs_sup *s)
{
    s->state = SUP_IDLE;
    s->session = PVS_SUP_NO_SESSION;
    s->due_ns = -1;
}

static void wait_until(struct pvs_sup *s, int64_t due_ns)
{
    go_idle(s);
    s->state = SUP_WAITING;
    s->due_ns = due_ns;
}

/* Starts a worker in the console's session now, or decides when to try
 * again: soon when there is no session yet, after the backoff when the
 * start failed. */
static void try_start(struct pvs_sup *s)
{
    int64_t t = now(s);
    uint32_t session = s->ops->active_session(s->opaque);
    if (session == PVS_SUP_NO_SESSION) {
        if (!s->said_no_session)
            PVS_LOG_I("service: no session is attached to the console yet; the worker "
                      "starts when one is");
        s->said_no_session = true;
        wait_until(s, t + PVS_SUP_POLL_MS * MS);
        return;
    }
    s->said_no_session = false;
    int rc = s->ops->start_worker(s->opaque, session);
    if (rc < 0) {
        int delay = pvs_sup_backoff_ms(++s->failures);
        PVS_LOG_E("service: cannot start the worker in session %lu (%s); trying again "
                  "in %d s", (unsigned long)session, pvs_strerror(rc), delay / 1000);
        wait_until(s, t + delay * MS);
        return;
    }
    PVS_LOG_I("service: the worker runs in session %lu", (unsigned long)session);
    s->state = SUP_RUNNING;
    s->session = session;
    s->started_ns = t;
    s->due_ns = -1;
}

static void stop_worker(struct pvs_sup *s, bool restart_now)
{
    s->ops->request_stop(s->opaque);
    s->state = SUP_STOPPING;
    s->restart_now = restart_now;
    s->killed = false;
    s->due_ns = now(s) + PVS_SUP_STOP_GRACE_MS * MS;
}

void pvs_sup_start(struct pvs_sup *s)
{
    if (s->service_stop)
        return;
    s->wanted = true;
    if (s->state == SUP_IDLE)
        try_start(s);
}

void pvs_sup_stop(struct pvs_sup *s)
{
    s->wanted = false;
    s->service_stop = true;
    if (s->state == SUP_RUNNING)
        stop_worker(s, false);
    else if (s->state == SUP_WAITING)
        go_idle(s);
    else if (s->state == SUP_STOPPING)
        s->restart_now = false;
}

static const char *const event_names[] = {
    [PVS_SUP_CONSOLE_CONNECT] = "the console connected to",
    [PVS_SUP_CONSOLE_DISCONNECT] = "the console disconnected from",
    [PVS_SUP_REMOTE_CONNECT] = "a remote client connected to",
    [PVS_SUP_REMOTE_DISCONNECT] = "a remote client disconnected from",
    [PVS_SUP_LOGON] = "a user signed in to",
    [PVS_SUP_LOGOFF] = "a user signed out of",
    [PVS_SUP_LOCK] = "the screen was locked in",
    [PVS_SUP_UNLOCK] = "the screen was unlocked in",
};

void pvs_sup_session(struct pvs_sup *s, enum pvs_sup_session_event ev, uint32_t session)
{
    if (ev < PVS_SUP_CONSOLE_CONNECT || ev > PVS_SUP_UNLOCK)
        return; /* a code Windows added later: none of ours */
    bool mine = s->state == SUP_RUNNING && s->session == session;
    PVS_LOG_I("service: %s session %lu", event_names[ev], (unsigned long)session);
    switch (ev) {
    case PVS_SUP_CONSOLE_CONNECT:
        if (s->state == SUP_RUNNING && !mine) {
            PVS_LOG_I("service: moving the worker from session %lu to session %lu",
                      (unsigned long)s->session, (unsigned long)session);
            stop_worker(s, true);
        } else if (s->state == SUP_STOPPING && s->wanted) {
            s->restart_now = true;
        } else if (s->state == SUP_WAITING) {
            s->failures = 0; /* a new session: the old failures say nothing of it */
            try_start(s);
        }
        break;
    case PVS_SUP_CONSOLE_DISCONNECT:
    case PVS_SUP_LOGOFF:
        /* The session leaves the console (or ends): the worker would
         * capture nothing there. The console's next session gets one. */
        if (mine) {
            PVS_LOG_I("service: stopping the worker in session %lu until the console "
                      "shows a session again", (unsigned long)session);
            stop_worker(s, false);
        }
        break;
    default:
        /* Log-on, lock and unlock switch desktops within the session, which
         * the worker follows; remote sessions are not the console's. */
        break;
    }
}

void pvs_sup_worker_exited(struct pvs_sup *s, uint32_t code)
{
    char why[256];
    pvs_sup_exit_text(code, why, sizeof(why));
    int64_t t = now(s);
    if (s->state == SUP_STOPPING) {
        PVS_LOG_I("service: the worker in session %lu stopped (%s)",
                  (unsigned long)s->session, s->killed ? "ended by the service" : why);
        go_idle(s);
        if (!s->wanted)
            return;
        if (s->restart_now)
            try_start(s);
        else
            wait_until(s, t + PVS_SUP_POLL_MS * MS);
        return;
    }
    if (s->state != SUP_RUNNING)
        return; /* no worker of ours: nothing to do */
    int64_t ran_ms = (t - s->started_ns) / MS;
    if (ran_ms >= PVS_SUP_STABLE_MS)
        s->failures = 0;
    int delay = pvs_sup_backoff_ms(++s->failures);
    PVS_LOG_W("service: the worker in session %lu ended after %lld.%03lld s (%s); "
              "starting it again in %d s", (unsigned long)s->session,
              (long long)(ran_ms / 1000), (long long)(ran_ms % 1000), why, delay / 1000);
    wait_until(s, t + delay * MS);
}

void pvs_sup_tick(struct pvs_sup *s)
{
    if (s->due_ns < 0 || now(s) < s->due_ns)
        return;
    if (s->state == SUP_WAITING) {
        try_start(s);
    } else if (s->state == SUP_STOPPING && !s->killed) {
        PVS_LOG_W("service: the worker in session %lu did not stop within %d s; ending it",
                  (unsigned long)s->session, PVS_SUP_STOP_GRACE_MS / 1000);
        s->killed = true;
        s->due_ns = -1;
        s->ops->kill_worker(s->opaque);
    }
}

int64_t pvs_sup_deadline(const struct pvs_sup *s)
{
    return s->due_ns;
}

bool pvs_sup_worker_running(const struct pvs_sup *s)
{
    return s->state == SUP_RUNNING || s->state == SUP_STOPPING;
}

uint32_t pvs_sup_worker_session(const struct pvs_sup *s)
{
    return pvs_sup_worker_running(s) ? s->session : PVS_SUP_NO_SESSION;
}

bool pvs_sup_done(const struct pvs_sup *s)
{
    return s->service_stop && s->state == SUP_IDLE;
}
