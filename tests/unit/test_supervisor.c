/* supervisor: the Windows service's decisions driven by a scripted fake on
 * a fake clock: the worker in the console's session, waiting for one,
 * restarts with backoff (and the reset after a long run), failed starts,
 * the log line that says why a worker died, session changes (move, log-off,
 * disconnect, and the events that change nothing), the stop with its grace
 * period and TerminateProcess, and the exit-code texts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "server/supervisor.h"
#include "tests/unit/test.h"

#define MS 1000000LL

/* ---- the fake service ------------------------------------------------------ */

struct fake {
    int64_t now;
    uint32_t active;        /* what active_session() answers */
    int fail_starts;        /* this many start_worker() calls fail first */
    int starts, failed_starts, stop_requests, kills;
    uint32_t last_session;  /* of the last successful start */
    bool running;           /* a worker process exists */
    int misuse;             /* a start while running, a stop or kill with none */
    char log[8192];         /* what was logged, one message a line */
};

static struct fake *g_fake;

static int64_t f_now(void *o)
{
    return ((struct fake *)o)->now;
}

static uint32_t f_active(void *o)
{
    return ((struct fake *)o)->active;
}

static int f_start(void *o, uint32_t session)
{
    struct fake *f = o;
    if (f->running)
        f->misuse++;
    if (f->fail_starts > 0) {
        f->fail_starts--;
        f->failed_starts++;
        return PVS_EEXTERNAL;
    }
    f->starts++;
    f->last_session = session;
    f->running = true;
    return 0;
}

static void f_request_stop(void *o)
{
    struct fake *f = o;
    f->misuse += !f->running;
    f->stop_requests++;
}

static void f_kill(void *o)
{
    struct fake *f = o;
    f->misuse += !f->running;
    f->kills++;
}

static const struct pvs_sup_ops fake_ops = {
    .now_ns = f_now,
    .active_session = f_active,
    .start_worker = f_start,
    .request_stop = f_request_stop,
    .kill_worker = f_kill,
};

static void sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                 const char *msg)
{
    (void)opaque, (void)level, (void)file, (void)line;
    size_t n = strlen(g_fake->log);
    snprintf(g_fake->log + n, sizeof(g_fake->log) - n, "%s\n", msg);
}

static struct pvs_sup *setup(struct fake *f, uint32_t active)
{
    memset(f, 0, sizeof(*f));
    f->now = 1000 * MS;
    f->active = active;
    g_fake = f;
    pvs_log_set_sink(sink, NULL);
    struct pvs_sup *s = NULL;
    CHECK_INT(pvs_sup_open(&s, &fake_ops, f), ==, 0);
    return s;
}

static void teardown(struct pvs_sup **s, struct fake *f)
{
    CHECK_INT(f->misuse, ==, 0);
    pvs_sup_close(s);
    CHECK(*s == NULL);
    pvs_log_set_sink(NULL, NULL);
}

/* The fake worker ends with `code`. */
static void worker_exits(struct pvs_sup *s, struct fake *f, uint32_t code)
{
    f->running = false;
    pvs_sup_worker_exited(s, code);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* Moves the clock to `t` ns, ticking at every deadline on the way, as the
 * service's loop does. */
static void run_until(struct pvs_sup *s, struct fake *f, int64_t t)
{
    for (;;) {
        int64_t due = pvs_sup_deadline(s);
        if (due < 0 || due > t)
            break;
        f->now = due > f->now ? due : f->now;
        pvs_sup_tick(s);
    }
    f->now = t;
    pvs_sup_tick(s);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_starts_in_console_session(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    CHECK(!pvs_sup_done(s)); /* not started, not stopped */
    pvs_sup_start(s);
    CHECK_INT(f.starts, ==, 1);
    CHECK_INT(f.last_session, ==, 1);
    CHECK(pvs_sup_worker_running(s));
    CHECK_INT(pvs_sup_worker_session(s), ==, 1);
    CHECK_INT(pvs_sup_deadline(s), ==, -1); /* nothing to do until an event */
    pvs_sup_start(s);                       /* a second start changes nothing */
    CHECK_INT(f.starts, ==, 1);
    teardown(&s, &f);
}

static void test_waits_for_a_console_session(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, PVS_SUP_NO_SESSION);
    pvs_sup_start(s);
    CHECK_INT(f.starts, ==, 0);
    CHECK_INT(pvs_sup_deadline(s), ==, f.now + PVS_SUP_POLL_MS * MS);
    run_until(s, &f, f.now + 3500 * MS); /* three polls, still none */
    CHECK_INT(f.starts, ==, 0);
    CHECK_INT(count(f.log, "no session is attached"), ==, 1); /* said once, not per poll */
    /* The console connects: started at once, in that session. */
    f.active = 2;
    pvs_sup_session(s, PVS_SUP_CONSOLE_CONNECT, 2);
    CHECK_INT(f.starts, ==, 1);
    CHECK_INT(f.last_session, ==, 2);
    teardown(&s, &f);

    /* Without the event, the next poll finds the session. */
    s = setup(&f, PVS_SUP_NO_SESSION);
    pvs_sup_start(s);
    f.active = 3;
    run_until(s, &f, f.now + 999 * MS);
    CHECK_INT(f.starts, ==, 0);
    run_until(s, &f, f.now + 1 * MS);
    CHECK_INT(f.starts, ==, 1);
    CHECK_INT(f.last_session, ==, 3);
    teardown(&s, &f);
}

static void test_restart_with_backoff_says_why(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    f.now += 2500 * MS;
    worker_exits(s, &f, 0xC0000005u);
    CHECK(strstr(f.log, "ended after 2.500 s") != NULL);
    CHECK(strstr(f.log, "0xC0000005") != NULL);
    CHECK(strstr(f.log, "access violation") != NULL);
    CHECK(strstr(f.log, "starting it again in 1 s") != NULL);
    CHECK(!pvs_sup_worker_running(s));
    /* Each quick death doubles the wait, up to 30 s. */
    const int want_ms[] = { 1000, 2000, 4000, 8000, 16000, 30000, 30000 };
    for (int i = 0; i < 7; i++) {
        int64_t died = f.now;
        CHECK_INT(pvs_sup_deadline(s), ==, died + want_ms[i] * MS);
        run_until(s, &f, died + want_ms[i] * MS - 1);
        CHECK_INT(f.starts, ==, 1 + i); /* not yet */
        run_until(s, &f, died + want_ms[i] * MS);
        CHECK_INT(f.starts, ==, 2 + i);
        f.now += 100 * MS;
        worker_exits(s, &f, 1);
    }
    CHECK(strstr(f.log, "exit code 1: stopped on an error") != NULL);
    CHECK(strstr(f.log, "starting it again in 30 s") != NULL);
    CHECK_INT(f.stop_requests, ==, 0);
    teardown(&s, &f);
}

static void test_long_run_resets_backoff(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    for (int i = 0; i < 3; i++) { /* waits of 1, 2, 4 s */
        worker_exits(s, &f, 1);
        run_until(s, &f, f.now + 4000 * MS);
    }
    CHECK_INT(f.starts, ==, 4);
    f.now += (PVS_SUP_STABLE_MS - 1) * MS; /* just short of stable: 8 s next */
    worker_exits(s, &f, 1);
    CHECK_INT(pvs_sup_deadline(s), ==, f.now + 8000 * MS);
    run_until(s, &f, f.now + 8000 * MS);
    f.now += PVS_SUP_STABLE_MS * MS; /* a stable run: back to 1 s */
    worker_exits(s, &f, 0);
    CHECK(strstr(f.log, "exit code 0: exited normally") != NULL);
    CHECK_INT(pvs_sup_deadline(s), ==, f.now + 1000 * MS);
    teardown(&s, &f);
}

static void test_failed_start_retries(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 4);
    f.fail_starts = 2;
    pvs_sup_start(s);
    CHECK_INT(f.failed_starts, ==, 1);
    CHECK(strstr(f.log, "cannot start the worker in session 4") != NULL);
    CHECK_INT(pvs_sup_deadline(s), ==, f.now + 1000 * MS);
    run_until(s, &f, f.now + 1000 * MS);
    CHECK_INT(f.failed_starts, ==, 2);
    CHECK_INT(pvs_sup_deadline(s), ==, f.now + 2000 * MS);
    run_until(s, &f, f.now + 2000 * MS);
    CHECK_INT(f.starts, ==, 1);
    CHECK(pvs_sup_worker_running(s));
    teardown(&s, &f);
}

static void test_console_moves_worker(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    /* Fast user switching: the console shows session 2 now. */
    f.active = 2;
    pvs_sup_session(s, PVS_SUP_CONSOLE_DISCONNECT, 1);
    CHECK_INT(f.stop_requests, ==, 1);
    pvs_sup_session(s, PVS_SUP_CONSOLE_CONNECT, 2);
    CHECK_INT(f.starts, ==, 1); /* not while the old one runs */
    f.now += 300 * MS;
    worker_exits(s, &f, 0);
    CHECK_INT(f.starts, ==, 2); /* at once, no backoff */
    CHECK_INT(f.last_session, ==, 2);
    CHECK_INT(f.kills, ==, 0);
    /* A connect alone (no disconnect first) moves it too. */
    f.active = 5;
    pvs_sup_session(s, PVS_SUP_CONSOLE_CONNECT, 5);
    CHECK_INT(f.stop_requests, ==, 2);
    worker_exits(s, &f, 0);
    CHECK_INT(f.starts, ==, 3);
    CHECK_INT(f.last_session, ==, 5);
    CHECK(strstr(f.log, "moving the worker from session 2 to session 5") != NULL);
    /* Its own session connecting again changes nothing. */
    pvs_sup_session(s, PVS_SUP_CONSOLE_CONNECT, 5);
    CHECK_INT(f.stop_requests, ==, 2);
    teardown(&s, &f);
}

static void test_logoff_waits_for_next_session(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    pvs_sup_session(s, PVS_SUP_LOGOFF, 3); /* another session: nothing */
    pvs_sup_session(s, PVS_SUP_CONSOLE_DISCONNECT, 3);
    CHECK_INT(f.stop_requests, ==, 0);
    f.active = PVS_SUP_NO_SESSION;
    pvs_sup_session(s, PVS_SUP_LOGOFF, 1);
    CHECK_INT(f.stop_requests, ==, 1);
    worker_exits(s, &f, 0xC000013Au);
    CHECK(strstr(f.log, "stopped (exit code 0xC000013A") != NULL);
    run_until(s, &f, f.now + 5000 * MS); /* no session yet: polls, no start */
    CHECK_INT(f.starts, ==, 1);
    /* Windows makes a new session for the sign-in screen. */
    f.active = 2;
    run_until(s, &f, f.now + PVS_SUP_POLL_MS * MS);
    CHECK_INT(f.starts, ==, 2);
    CHECK_INT(f.last_session, ==, 2);
    teardown(&s, &f);
}

static void test_desktop_events_change_nothing(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    const enum pvs_sup_session_event evs[] = {
        PVS_SUP_LOCK, PVS_SUP_UNLOCK, PVS_SUP_LOGON, PVS_SUP_REMOTE_CONNECT,
        PVS_SUP_REMOTE_DISCONNECT,
    };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        pvs_sup_session(s, evs[i], 1);
    pvs_sup_session(s, (enum pvs_sup_session_event)9, 1); /* WTS_SESSION_REMOTE_CONTROL */
    pvs_sup_session(s, (enum pvs_sup_session_event)0, 1);
    CHECK_INT(f.stop_requests, ==, 0);
    CHECK_INT(f.starts, ==, 1);
    CHECK_INT(pvs_sup_worker_session(s), ==, 1);
    CHECK_INT(pvs_sup_deadline(s), ==, -1);
    CHECK(strstr(f.log, "the screen was locked in session 1") != NULL);
    CHECK(strstr(f.log, "a user signed in to session 1") != NULL);
    teardown(&s, &f);
}

static void test_stop_kills_after_grace(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    pvs_sup_stop(s);
    CHECK_INT(f.stop_requests, ==, 1);
    CHECK(!pvs_sup_done(s)); /* the worker still runs */
    int64_t asked = f.now;
    run_until(s, &f, asked + PVS_SUP_STOP_GRACE_MS * MS - 1);
    CHECK_INT(f.kills, ==, 0);
    run_until(s, &f, asked + PVS_SUP_STOP_GRACE_MS * MS);
    CHECK_INT(f.kills, ==, 1);
    CHECK(strstr(f.log, "did not stop within 5 s") != NULL);
    run_until(s, &f, f.now + 10000 * MS); /* killed once only */
    CHECK_INT(f.kills, ==, 1);
    worker_exits(s, &f, 1);
    CHECK(pvs_sup_done(s));
    CHECK(strstr(f.log, "stopped (ended by the service)") != NULL);
    CHECK_INT(pvs_sup_deadline(s), ==, -1);
    run_until(s, &f, f.now + 60000 * MS);
    CHECK_INT(f.starts, ==, 1); /* never again */
    teardown(&s, &f);
}

static void test_clean_stop_and_after(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, 1);
    pvs_sup_start(s);
    pvs_sup_stop(s);
    f.now += 200 * MS;
    worker_exits(s, &f, 0);
    CHECK(pvs_sup_done(s));
    CHECK_INT(f.kills, ==, 0);
    /* Nothing starts a worker after the service stopped. */
    f.active = 2;
    pvs_sup_session(s, PVS_SUP_CONSOLE_CONNECT, 2);
    pvs_sup_start(s);
    run_until(s, &f, f.now + 60000 * MS);
    CHECK_INT(f.starts, ==, 1);
    CHECK(pvs_sup_done(s));
    teardown(&s, &f);

    /* Stopped while waiting to restart: done at once. */
    s = setup(&f, 1);
    pvs_sup_start(s);
    worker_exits(s, &f, 1);
    CHECK(pvs_sup_deadline(s) > 0);
    pvs_sup_stop(s);
    CHECK(pvs_sup_done(s));
    CHECK_INT(pvs_sup_deadline(s), ==, -1);
    CHECK_INT(f.stop_requests, ==, 0);
    teardown(&s, &f);

    /* Stopped while moving sessions: no start after the exit. */
    s = setup(&f, 1);
    pvs_sup_start(s);
    f.active = 2;
    pvs_sup_session(s, PVS_SUP_CONSOLE_CONNECT, 2);
    pvs_sup_stop(s);
    worker_exits(s, &f, 0);
    CHECK(pvs_sup_done(s));
    CHECK_INT(f.starts, ==, 1);
    teardown(&s, &f);

    /* Stopped before it started. */
    s = setup(&f, 1);
    pvs_sup_stop(s);
    CHECK(pvs_sup_done(s));
    pvs_sup_start(s);
    CHECK_INT(f.starts, ==, 0);
    teardown(&s, &f);
}

static void test_stray_exit_ignored(void)
{
    struct fake f;
    struct pvs_sup *s = setup(&f, PVS_SUP_NO_SESSION);
    pvs_sup_worker_exited(s, 1); /* before any worker */
    pvs_sup_start(s);
    pvs_sup_worker_exited(s, 1); /* while waiting for a session */
    CHECK_INT(pvs_sup_deadline(s), ==, f.now + PVS_SUP_POLL_MS * MS);
    CHECK(strstr(f.log, "ended after") == NULL);
    teardown(&s, &f);
}

static void test_exit_texts(void)
{
    char buf[256];
    CHECK(!strcmp(pvs_sup_exit_text(0, buf, sizeof(buf)), "exit code 0: exited normally"));
    CHECK(strstr(pvs_sup_exit_text(2, buf, sizeof(buf)), "exit code 2: refused its command "
                                                         "line or configuration") == buf);
    CHECK(strstr(pvs_sup_exit_text(0xC0000142u, buf, sizeof(buf)),
                 "exit code 0xC0000142: could not start in that session") == buf);
    CHECK(!strcmp(pvs_sup_exit_text(0xC0001234u, buf, sizeof(buf)),
                  "exit code 0xC0001234: crashed (an unhandled exception)"));
    CHECK(!strcmp(pvs_sup_exit_text(7, buf, sizeof(buf)), "exit code 7: ended on its own"));
    char small[12];
    pvs_sup_exit_text(0xC0000005u, small, sizeof(small)); /* cut, terminated */
    CHECK_INT(strlen(small), ==, sizeof(small) - 1);
    CHECK_INT(pvs_sup_backoff_ms(1), ==, 1000);
    CHECK_INT(pvs_sup_backoff_ms(5), ==, 16000);
    CHECK_INT(pvs_sup_backoff_ms(6), ==, PVS_SUP_MAX_BACKOFF_MS);
    CHECK_INT(pvs_sup_backoff_ms(1000), ==, PVS_SUP_MAX_BACKOFF_MS);
    pvs_sup_close(NULL); /* accepted */
}

int main(void)
{
    RUN(test_starts_in_console_session);
    RUN(test_waits_for_a_console_session);
    RUN(test_restart_with_backoff_says_why);
    RUN(test_long_run_resets_backoff);
    RUN(test_failed_start_retries);
    RUN(test_console_moves_worker);
    RUN(test_logoff_waits_for_next_session);
    RUN(test_desktop_events_change_nothing);
    RUN(test_stop_kills_after_grace);
    RUN(test_clean_stop_and_after);
    RUN(test_stray_exit_ignored);
    RUN(test_exit_texts);
    TEST_EXIT();
}
