/* pvstream as a Windows service (service.h): the service manager calls of
 * `service install|uninstall|start|stop|status`, the service process
 * (`service run`: session notifications, the worker process, logs and the
 * event log) and the worker's side (`service worker`). The decisions of the
 * service process are in supervisor.c; this file is the Win32 calls around
 * them. */
#include "server/service.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"

#ifndef _WIN32

int pvs_service_command(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pvstream-server service: Windows services exist only on Windows; "
                    "here run pvstream-server by hand or from a systemd unit\n");
    return 1;
}

int pvs_service_worker_begin(int *argc, char **argv, void (*on_stop)(void))
{
    (void)argc;
    (void)argv;
    (void)on_stop;
    fprintf(stderr, "pvstream-server service worker: Windows only\n");
    return PVS_ENOTSUP;
}

bool pvs_service_installed(void)
{
    return false;
}

#else /* _WIN32 */

#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/config.h"
#include "common/log.h"
#include "common/logfile.h"
#include "common/platform/platform.h"
#include "net/identity.h"
#include "pvs_config.h"
#include "server/server.h"
#include "server/supervisor.h"

#define SERVICE_NAME L"pvstream"
#define SERVICE_DISPLAY L"pvstream streaming server"
#define SERVICE_DESCRIPTION L"Streams this machine's desktops (sign-in, lock and UAC " \
                            L"screens included) to paired pvstream clients."
#define LOG_MAX_BYTES (4L << 20)
#define LOG_FILES 5
#define WAIT_STATE_MS 30000  /* for start, stop and uninstall to take effect */

#define ERR_TEXT(e) pvs_win32_error_text((e), (char[256]){0}, 256)

/* ---- text ------------------------------------------------------------------- */

/* UTF-8 to UTF-16 into `out` (cut to fit). False when it does not convert. */
static bool widen(const char *s, wchar_t *out, int cap)
{
    return MultiByteToWideChar(CP_UTF8, 0, s, -1, out, cap) > 0;
}

static void say_error(const char *cmd, const char *what, DWORD err)
{
    if (err == ERROR_ACCESS_DENIED)
        fprintf(stderr, "pvstream-server service %s: Windows refused it (access denied): "
                        "this needs an elevated prompt; open a Command Prompt with \"Run as "
                        "administrator\" and run it again\n", cmd);
    else
        fprintf(stderr, "pvstream-server service %s: %s failed: %s\n", cmd, what,
                ERR_TEXT(err));
}

/* ---- the service manager ---------------------------------------------------- */

static SC_HANDLE open_manager(const char *cmd, DWORD access)
{
    SC_HANDLE m = OpenSCManagerW(NULL, NULL, access);
    if (!m)
        say_error(cmd, "opening the service manager", GetLastError());
    return m;
}

/* The installed service, or NULL after saying why. *missing: not installed. */
static SC_HANDLE open_service(SC_HANDLE m, const char *cmd, DWORD access, bool *missing)
{
    SC_HANDLE s = OpenServiceW(m, SERVICE_NAME, access);
    DWORD err = s ? 0 : GetLastError();
    *missing = err == ERROR_SERVICE_DOES_NOT_EXIST;
    if (*missing)
        fprintf(stderr, "pvstream-server service %s: the pvstream service is not installed "
                        "(`pvstream-server service install` installs it)\n", cmd);
    else if (!s)
        say_error(cmd, "opening the pvstream service", err);
    return s;
}

bool pvs_service_installed(void)
{
    SC_HANDLE m = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    if (!m)
        return false;
    SC_HANDLE s = OpenServiceW(m, SERVICE_NAME, SERVICE_QUERY_STATUS);
    if (s)
        CloseServiceHandle(s);
    CloseServiceHandle(m);
    return s != NULL;
}

/* The manager and the service, for the commands that act on it. */
struct handles {
    SC_HANDLE m, s;
    bool missing; /* not installed */
};

static bool open_handles(struct handles *h, const char *cmd, DWORD access)
{
    h->s = NULL;
    h->missing = false;
    h->m = open_manager(cmd, SC_MANAGER_CONNECT);
    if (h->m)
        h->s = open_service(h->m, cmd, access, &h->missing);
    return h->s != NULL;
}

static void close_handles(struct handles *h)
{
    if (h->s)
        CloseServiceHandle(h->s);
    if (h->m)
        CloseServiceHandle(h->m);
}

static const char *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED: return "stopped";
    case SERVICE_START_PENDING: return "starting";
    case SERVICE_STOP_PENDING: return "stopping";
    case SERVICE_RUNNING: return "running";
    case SERVICE_CONTINUE_PENDING: return "continuing";
    case SERVICE_PAUSE_PENDING: return "pausing";
    case SERVICE_PAUSED: return "paused";
    default: return "in an unknown state";
    }
}

/* Waits up to WAIT_STATE_MS for the service to reach `want`. */
static bool wait_state(SC_HANDLE s, DWORD want, SERVICE_STATUS_PROCESS *st)
{
    DWORD n;
    for (int waited = 0;; waited += 250) {
        if (!QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (BYTE *)st, sizeof(*st), &n))
            return false;
        if (st->dwCurrentState == want || waited >= WAIT_STATE_MS)
            return st->dwCurrentState == want;
        if (want == SERVICE_RUNNING && st->dwCurrentState == SERVICE_STOPPED)
            return false; /* it gave up starting */
        Sleep(250);
    }
}

static void say_stopped_code(const SERVICE_STATUS_PROCESS *st)
{
    if (st->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
        fprintf(stderr, "  it ended with code %lu\n", (unsigned long)st->dwServiceSpecificExitCode);
    else if (st->dwWin32ExitCode)
        fprintf(stderr, "  it ended with: %s\n", ERR_TEXT(st->dwWin32ExitCode));
    fprintf(stderr, "  its log: %%ProgramData%%\\pvstream\\logs\\service.log, and the "
                    "Windows event log (Application, source pvstream)\n");
}

/* ---- install ------------------------------------------------------------------ */

/* The command line the service manager runs: this program, `service run`,
 * and the configuration file as an absolute path (the service's working
 * directory is System32). */
static int service_command_line(const char *config, wchar_t *out, size_t cap)
{
    wchar_t exe[MAX_PATH], wconfig[MAX_PATH], full[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, exe, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return PVS_ERANGE;
    if (!config) {
        _snwprintf(out, cap, L"\"%ls\" service run", exe);
    } else {
        if (!widen(config, wconfig, MAX_PATH))
            return PVS_EINVAL;
        n = GetFullPathNameW(wconfig, MAX_PATH, full, NULL);
        if (n == 0 || n >= MAX_PATH)
            return PVS_ERANGE;
        _snwprintf(out, cap, L"\"%ls\" service run --config \"%ls\"", exe, full);
    }
    out[cap - 1] = L'\0';
    return 0;
}

/* The configuration is read now, so a typo is said here rather than in a
 * log after the next boot. */
static int check_config(const char *config)
{
    struct pvs_server_settings s;
    char err[512];
    pvs_server_defaults(&s);
    int rc = pvs_config_load_file(pvs_server_options, &s, config, err, sizeof(err));
    if (rc == PVS_ENOENT)
        fprintf(stderr, "pvstream-server service install: cannot read the configuration "
                        "file '%s'\n", config);
    else if (rc < 0)
        fprintf(stderr, "pvstream-server service install: %s\n", err);
    return rc;
}

/* Restarted 5 s, 10 s, then 30 s after each failure (a crash, or a stop
 * with an error code), the count forgotten after a day without one. */
static void set_recovery(SC_HANDLE s)
{
    SC_ACTION acts[3] = {
        { SC_ACTION_RESTART, 5000 }, { SC_ACTION_RESTART, 10000 }, { SC_ACTION_RESTART, 30000 },
    };
    SERVICE_FAILURE_ACTIONSW fa = { .dwResetPeriod = 86400, .cActions = 3, .lpsaActions = acts };
    SERVICE_FAILURE_ACTIONS_FLAG flag = { .fFailureActionsOnNonCrashFailures = TRUE };
    if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
        fprintf(stderr, "pvstream-server service install: warning: cannot set the restart "
                        "on failure (%s): the service will not come back after a crash\n",
                ERR_TEXT(GetLastError()));
    else if (!ChangeServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag))
        fprintf(stderr, "pvstream-server service install: warning: restarts only after a "
                        "crash, not after an error stop (%s)\n", ERR_TEXT(GetLastError()));
}

static int cmd_install(const char *config)
{
    wchar_t cmdline[3 * MAX_PATH];
    if (config && check_config(config) < 0)
        return 1;
    if (service_command_line(config, cmdline, sizeof(cmdline) / sizeof(cmdline[0])) < 0) {
        fprintf(stderr, "pvstream-server service install: the program's or the "
                        "configuration's path is too long or not valid UTF-8\n");
        return 1;
    }
    SC_HANDLE m = open_manager("install", SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
    if (!m)
        return 1;
    SC_HANDLE s = CreateServiceW(m, SERVICE_NAME, SERVICE_DISPLAY,
                                 SERVICE_CHANGE_CONFIG | SERVICE_START | SERVICE_QUERY_STATUS,
                                 SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                 SERVICE_ERROR_NORMAL, cmdline, NULL, NULL, NULL,
                                 NULL /* LocalSystem */, NULL);
    if (!s) {
        DWORD err = GetLastError();
        if (err == ERROR_SERVICE_EXISTS)
            fprintf(stderr, "pvstream-server service install: the pvstream service is "
                            "installed already (`pvstream-server service uninstall` first "
                            "to install it again, with another --config for example)\n");
        else
            say_error("install", "creating the service", err);
        CloseServiceHandle(m);
        return 1;
    }
    SERVICE_DESCRIPTIONW d = { .lpDescription = SERVICE_DESCRIPTION };
    ChangeServiceConfig2W(s, SERVICE_CONFIG_DESCRIPTION, &d);
    set_recovery(s);
    CloseServiceHandle(s);
    CloseServiceHandle(m);
    printf("installed the pvstream service: runs as LocalSystem, starts with Windows, "
           "restarted on failure; `pvstream-server service start` starts it now\n"
           "  command: %ls\n", cmdline);
    return 0;
}

/* ---- uninstall, start, stop ------------------------------------------------------- */

/* Asks a running service to stop and waits for it. */
static bool stop_and_wait(SC_HANDLE s, const char *cmd)
{
    SERVICE_STATUS ss;
    SERVICE_STATUS_PROCESS st;
    if (!ControlService(s, SERVICE_CONTROL_STOP, &ss)) {
        DWORD err = GetLastError();
        if (err == ERROR_SERVICE_NOT_ACTIVE)
            return true;
        say_error(cmd, "stopping the service", err);
        return false;
    }
    if (!wait_state(s, SERVICE_STOPPED, &st)) {
        fprintf(stderr, "pvstream-server service %s: the service is still %s after %d s\n",
                cmd, state_name(st.dwCurrentState), WAIT_STATE_MS / 1000);
        return false;
    }
    return true;
}

static int cmd_uninstall(void)
{
    struct handles h;
    int rc = 1;
    if (open_handles(&h, "uninstall", SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE) &&
        stop_and_wait(h.s, "uninstall")) {
        if (DeleteService(h.s) || GetLastError() == ERROR_SERVICE_MARKED_FOR_DELETE) {
            printf("removed the pvstream service (its keys, paired clients and logs stay in "
                   "%%ProgramData%%\\pvstream: delete the folder to remove them too)\n");
            rc = 0;
        } else {
            say_error("uninstall", "deleting the service", GetLastError());
        }
    } else if (h.missing) {
        rc = 0; /* nothing to remove: what was asked for is so */
    }
    close_handles(&h);
    return rc;
}

static int cmd_start(void)
{
    struct handles h;
    SERVICE_STATUS_PROCESS st;
    int rc = 1;
    if (!open_handles(&h, "start", SERVICE_START | SERVICE_QUERY_STATUS)) {
        /* said why */
    } else if (!StartServiceW(h.s, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING) {
        say_error("start", "starting the service", GetLastError());
    } else if (!wait_state(h.s, SERVICE_RUNNING, &st)) {
        fprintf(stderr, "pvstream-server service start: the service is %s, not running\n",
                state_name(st.dwCurrentState));
        say_stopped_code(&st);
    } else {
        printf("the pvstream service is running (pid %lu)\n", (unsigned long)st.dwProcessId);
        rc = 0;
    }
    close_handles(&h);
    return rc;
}

static int cmd_stop(void)
{
    struct handles h;
    int rc = open_handles(&h, "stop", SERVICE_STOP | SERVICE_QUERY_STATUS) &&
             stop_and_wait(h.s, "stop") ? 0 : 1;
    if (!rc)
        printf("the pvstream service is stopped\n");
    close_handles(&h);
    return rc;
}

/* ---- status --------------------------------------------------------------------- */

static void print_config(SC_HANDLE s)
{
    union {
        QUERY_SERVICE_CONFIGW c;
        BYTE b[8192];
    } cfg;
    union {
        SERVICE_FAILURE_ACTIONSW fa;
        BYTE b[1024];
    } fail;
    DWORD n;
    if (QueryServiceConfigW(s, &cfg.c, sizeof(cfg), &n)) {
        const wchar_t *who = cfg.c.lpServiceStartName ? cfg.c.lpServiceStartName : L"?";
        printf("  starts:     %s, as %ls\n",
               cfg.c.dwStartType == SERVICE_AUTO_START ? "with Windows"
               : cfg.c.dwStartType == SERVICE_DEMAND_START ? "when asked" : "never (disabled)",
               who);
        printf("  command:    %ls\n", cfg.c.lpBinaryPathName ? cfg.c.lpBinaryPathName : L"?");
    }
    if (QueryServiceConfig2W(s, SERVICE_CONFIG_FAILURE_ACTIONS, fail.b, sizeof(fail), &n) &&
        fail.fa.cActions > 0 && fail.fa.lpsaActions) {
        printf("  on failure: restart after");
        for (DWORD i = 0; i < fail.fa.cActions && i < 8; i++)
            printf("%s %lu s", i ? "," : "", (unsigned long)fail.fa.lpsaActions[i].Delay / 1000);
        printf(" (count reset after %lu s)\n", (unsigned long)fail.fa.dwResetPeriod);
    } else {
        printf("  on failure: no restart set\n");
    }
    printf("  logs:       %%ProgramData%%\\pvstream\\logs (service.log, worker.log)\n");
}

static int cmd_status(void)
{
    bool missing;
    SERVICE_STATUS_PROCESS st;
    DWORD n;
    SC_HANDLE m = open_manager("status", SC_MANAGER_CONNECT);
    if (!m)
        return 1;
    SC_HANDLE s = OpenServiceW(m, SERVICE_NAME, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG);
    missing = !s && GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST;
    int rc = 4;
    if (missing) {
        printf("the pvstream service is not installed\n");
    } else if (!s) {
        say_error("status", "opening the pvstream service", GetLastError());
        rc = 1;
    } else if (!QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (BYTE *)&st, sizeof(st), &n)) {
        say_error("status", "asking the service's state", GetLastError());
        rc = 1;
    } else {
        printf("the pvstream service is %s", state_name(st.dwCurrentState));
        if (st.dwProcessId)
            printf(" (pid %lu)", (unsigned long)st.dwProcessId);
        printf("\n");
        print_config(s);
        rc = st.dwCurrentState == SERVICE_RUNNING ? 0 : 3;
    }
    if (s)
        CloseServiceHandle(s);
    CloseServiceHandle(m);
    return rc;
}

/* ---- logs ----------------------------------------------------------------------- */

/* The log directory: logs\ in pvstream's configuration directory, which
 * for LocalSystem is %ProgramData%\pvstream, made readable by SYSTEM and
 * Administrators only (common/platform/keyfile.h); logs\ inherits that. */
static int log_dir(char *dir, size_t len)
{
    int rc = pvs_identity_dir(dir, len - 6);
    if (rc)
        return rc;
    strcat(dir, "\\logs");
    wchar_t w[MAX_PATH];
    if (!widen(dir, w, MAX_PATH))
        return PVS_EINVAL;
    if (!CreateDirectoryW(w, NULL) && GetLastError() != ERROR_ALREADY_EXISTS) {
        PVS_LOG_E("service: cannot create the log directory %s: %s", dir,
                  ERR_TEXT(GetLastError()));
        return PVS_EIO;
    }
    return 0;
}

static struct pvs_logfile *open_log(const char *name, char *dir, size_t dir_len)
{
    struct pvs_logfile *f = NULL;
    if (log_dir(dir, dir_len) == 0 && pvs_logfile_open(&f, dir, name, LOG_MAX_BYTES, LOG_FILES) < 0)
        PVS_LOG_E("service: cannot open the log file %s\\%s.log", dir, name);
    return f;
}

/* ---- the worker's side ----------------------------------------------------------- */

static void (*worker_on_stop)(void);

static void CALLBACK on_stop_event(void *ctx, BOOLEAN timed_out)
{
    (void)ctx;
    (void)timed_out;
    worker_on_stop();
}

/* --stop-event NAME, taken out of argv. */
static const char *take_stop_event(int *argc, char **argv)
{
    const char *name = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--stop-event") && i + 1 < *argc)
            name = argv[++i];
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    return name;
}

int pvs_service_worker_begin(int *argc, char **argv, void (*on_stop)(void))
{
    const char *event = take_stop_event(argc, argv);
    char dir[512];
    wchar_t path[MAX_PATH], wevent[128];
    struct pvs_logfile *log = open_log("worker", dir, sizeof(dir));
    if (log) {
        /* The worker has no console (CREATE_NO_WINDOW): what main() prints
         * (a refused option, for one) goes to a file beside the log. */
        _snwprintf(path, MAX_PATH, L"%hs\\worker-console.log", dir);
        path[MAX_PATH - 1] = L'\0';
        _wfreopen(path, L"w", stderr);
        pvs_log_set_sink(pvs_logfile_sink, log); /* open for the process's life */
    }
    PVS_LOG_I("worker: pvstream-server %s, pid %lu, session %lu", PVS_VERSION,
              (unsigned long)GetCurrentProcessId(), (unsigned long)WTSGetActiveConsoleSessionId());
    if (!event || !widen(event, wevent, 128)) {
        PVS_LOG_E("worker: no --stop-event NAME: `service worker` is started by the service");
        return PVS_EINVAL;
    }
    HANDLE ev = OpenEventW(SYNCHRONIZE, FALSE, wevent), wait;
    worker_on_stop = on_stop;
    if (!ev || !RegisterWaitForSingleObject(&wait, ev, on_stop_event, NULL, INFINITE,
                                            WT_EXECUTEONLYONCE)) {
        PVS_LOG_E("worker: cannot wait on the service's stop event %s: %s", event,
                  ERR_TEXT(GetLastError()));
        return PVS_EEXTERNAL;
    }
    return 0;
}

/* ---- the service process -------------------------------------------------------- */

#define MAX_QUEUED 64

struct service {
    SERVICE_STATUS_HANDLE handle;
    DWORD checkpoint;
    HANDLE wake;          /* set by the control handler */
    CRITICAL_SECTION lock;
    struct {
        DWORD type, session;
    } queue[MAX_QUEUED];  /* session changes not yet handled */
    int queued;
    bool stop_asked, stop_handled;
    HANDLE event_source;  /* the Windows event log */
    struct pvs_logfile *log;
    const char *config;
    HANDLE process;       /* the worker */
    HANDLE stop_event;    /* the worker's */
    unsigned workers;     /* started so far, for the stop event's name */
};

static struct service svc;

static void set_status(DWORD state, DWORD exit_code, DWORD wait_hint)
{
    SERVICE_STATUS st = {
        .dwServiceType = SERVICE_WIN32_OWN_PROCESS,
        .dwCurrentState = state,
        .dwWin32ExitCode = exit_code,
        .dwWaitHint = wait_hint,
    };
    if (state == SERVICE_RUNNING)
        st.dwControlsAccepted = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                SERVICE_ACCEPT_SESSIONCHANGE;
    if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING)
        st.dwCheckPoint = ++svc.checkpoint;
    SetServiceStatus(svc.handle, &st);
}

/* Errors and warnings of the service process (failures to start or stop a
 * worker, a worker that died) also go to the event log, where an
 * administrator looks first. No message file is registered: Event Viewer
 * shows the text under "the following information was included". */
static void service_sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                         const char *msg)
{
    struct service *v = opaque;
    if (v->log)
        pvs_logfile_sink(v->log, level, file, line, msg);
    wchar_t w[1024];
    if (level <= PVS_LOG_WARN && v->event_source && widen(msg, w, 1024)) {
        const wchar_t *strings[1] = { w };
        ReportEventW(v->event_source, level == PVS_LOG_ERROR ? EVENTLOG_ERROR_TYPE
                                                             : EVENTLOG_WARNING_TYPE,
                     0, level == PVS_LOG_ERROR ? 1 : 2, NULL, 1, 0, strings, NULL);
    }
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, void *data, void *ctx)
{
    (void)ctx;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        EnterCriticalSection(&svc.lock);
        svc.stop_asked = true;
        LeaveCriticalSection(&svc.lock);
        SetEvent(svc.wake);
        return NO_ERROR;
    case SERVICE_CONTROL_SESSIONCHANGE:
        EnterCriticalSection(&svc.lock);
        if (svc.queued < MAX_QUEUED && data) {
            svc.queue[svc.queued].type = type;
            svc.queue[svc.queued].session = ((WTSSESSION_NOTIFICATION *)data)->dwSessionId;
            svc.queued++;
        }
        LeaveCriticalSection(&svc.lock);
        SetEvent(svc.wake);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* -- the supervisor's calls -- */

static int64_t sup_now(void *opaque)
{
    (void)opaque;
    return pvs_time_ns();
}

static uint32_t sup_active_session(void *opaque)
{
    (void)opaque;
    return WTSGetActiveConsoleSessionId();
}

/* SYSTEM's own token, moved to `session`: a process started with it runs
 * as SYSTEM on that session's desktops, the sign-in and UAC ones included. */
static HANDLE session_token(uint32_t session, const char **step)
{
    HANDLE self = NULL, token = NULL;
    DWORD id = session;
    *step = "OpenProcessToken";
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_DUPLICATE | TOKEN_QUERY, &self)) {
        *step = "DuplicateTokenEx";
        if (DuplicateTokenEx(self, MAXIMUM_ALLOWED, NULL, SecurityIdentification, TokenPrimary,
                             &token)) {
            *step = "SetTokenInformation(TokenSessionId)";
            if (!SetTokenInformation(token, TokenSessionId, &id, sizeof(id))) {
                CloseHandle(token);
                token = NULL;
            }
        }
    }
    DWORD err = GetLastError();
    if (self)
        CloseHandle(self);
    SetLastError(err);
    return token;
}

/* The worker's stop event: a new name each time, SYSTEM and Administrators
 * only, so nobody else can stop the worker. */
static HANDLE make_stop_event(char *name, size_t len)
{
    snprintf(name, len, "Global\\pvstream-worker-stop-%lu-%u",
             (unsigned long)GetCurrentProcessId(), ++svc.workers);
    wchar_t wname[128];
    SECURITY_ATTRIBUTES sa = { .nLength = sizeof(sa) };
    if (!widen(name, wname, 128) ||
        !ConvertStringSecurityDescriptorToSecurityDescriptorW(
            L"D:P(A;;GA;;;SY)(A;;GA;;;BA)", SDDL_REVISION_1, &sa.lpSecurityDescriptor, NULL))
        return NULL;
    HANDLE ev = CreateEventW(&sa, TRUE, FALSE, wname);
    DWORD err = GetLastError();
    LocalFree(sa.lpSecurityDescriptor);
    SetLastError(err);
    return ev;
}

static int sup_start_worker(void *opaque, uint32_t session)
{
    struct service *v = opaque;
    const char *step;
    char event[96];
    wchar_t exe[MAX_PATH], cmd[4 * MAX_PATH], wconfig[MAX_PATH], desktop[] = L"winsta0\\default";
    HANDLE token = session_token(session, &step);
    if (token) {
        step = "CreateEvent";
        v->stop_event = make_stop_event(event, sizeof(event));
    }
    if (token && v->stop_event) {
        step = "CreateProcessAsUser";
        GetModuleFileNameW(NULL, exe, MAX_PATH);
        int n = _snwprintf(cmd, 4 * MAX_PATH, L"\"%ls\" service worker --stop-event %hs", exe,
                           event);
        if (v->config && widen(v->config, wconfig, MAX_PATH))
            _snwprintf(cmd + n, 4 * MAX_PATH - n, L" --config \"%ls\"", wconfig);
        cmd[4 * MAX_PATH - 1] = L'\0';
        /* No console window on the user's desktop; the worker logs to a file. */
        STARTUPINFOW si = { .cb = sizeof(si), .lpDesktop = desktop };
        PROCESS_INFORMATION pi;
        if (CreateProcessAsUserW(token, exe, cmd, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL,
                                 NULL, &si, &pi)) {
            CloseHandle(pi.hThread);
            CloseHandle(token);
            v->process = pi.hProcess;
            PVS_LOG_I("service: started the worker, pid %lu", (unsigned long)pi.dwProcessId);
            return 0;
        }
    }
    DWORD err = GetLastError();
    PVS_LOG_E("service: starting the worker in session %lu: %s failed: %s",
              (unsigned long)session, step, ERR_TEXT(err));
    if (token)
        CloseHandle(token);
    if (v->stop_event)
        CloseHandle(v->stop_event);
    v->stop_event = NULL;
    return PVS_EEXTERNAL;
}

static void sup_request_stop(void *opaque)
{
    struct service *v = opaque;
    if (v->stop_event)
        SetEvent(v->stop_event);
}

static void sup_kill_worker(void *opaque)
{
    struct service *v = opaque;
    if (v->process)
        TerminateProcess(v->process, 1);
}

static const struct pvs_sup_ops win_sup_ops = {
    .now_ns = sup_now,
    .active_session = sup_active_session,
    .start_worker = sup_start_worker,
    .request_stop = sup_request_stop,
    .kill_worker = sup_kill_worker,
};

/* -- the loop -- */

/* Hands what the control handler queued to the supervisor. */
static void take_controls(struct pvs_sup *sup)
{
    struct { DWORD type, session; } q[MAX_QUEUED];
    EnterCriticalSection(&svc.lock);
    int n = svc.queued;
    memcpy(q, svc.queue, sizeof(q[0]) * (size_t)n);
    svc.queued = 0;
    bool stop = svc.stop_asked && !svc.stop_handled;
    svc.stop_handled |= stop;
    LeaveCriticalSection(&svc.lock);
    for (int i = 0; i < n; i++)
        pvs_sup_session(sup, (enum pvs_sup_session_event)q[i].type, q[i].session);
    if (stop) {
        PVS_LOG_I("service: asked to stop");
        set_status(SERVICE_STOP_PENDING, 0, PVS_SUP_STOP_GRACE_MS + 5000);
        pvs_sup_stop(sup);
    }
}

static void reap_worker(struct pvs_sup *sup)
{
    DWORD code = 0;
    if (!svc.process || WaitForSingleObject(svc.process, 0) != WAIT_OBJECT_0)
        return;
    GetExitCodeProcess(svc.process, &code);
    CloseHandle(svc.process);
    svc.process = NULL;
    if (svc.stop_event)
        CloseHandle(svc.stop_event);
    svc.stop_event = NULL;
    pvs_sup_worker_exited(sup, code);
}

static void run_loop(struct pvs_sup *sup)
{
    pvs_sup_start(sup);
    while (!pvs_sup_done(sup)) {
        HANDLE h[2] = { svc.wake, svc.process };
        int64_t due = pvs_sup_deadline(sup);
        DWORD timeout = INFINITE;
        if (due >= 0) {
            int64_t ms = (due - pvs_time_ns() + 999999) / 1000000;
            timeout = ms <= 0 ? 0 : (DWORD)ms;
        }
        WaitForMultipleObjects(svc.process ? 2 : 1, h, FALSE, timeout);
        take_controls(sup);
        reap_worker(sup);
        pvs_sup_tick(sup);
    }
}

static void WINAPI service_main(DWORD argc, wchar_t **argv)
{
    (void)argc;
    (void)argv;
    svc.handle = RegisterServiceCtrlHandlerExW(SERVICE_NAME, control_handler, NULL);
    if (!svc.handle)
        return;
    set_status(SERVICE_START_PENDING, 0, 5000);
    char dir[512];
    svc.log = open_log("service", dir, sizeof(dir));
    PVS_LOG_I("service: pvstream-server %s started, pid %lu%s%s", PVS_VERSION,
              (unsigned long)GetCurrentProcessId(), svc.config ? ", configuration " : "",
              svc.config ? svc.config : "");
    struct pvs_sup *sup = NULL;
    if (pvs_sup_open(&sup, &win_sup_ops, &svc) < 0) {
        PVS_LOG_E("service: out of memory at start");
        set_status(SERVICE_STOPPED, ERROR_NOT_ENOUGH_MEMORY, 0);
        return;
    }
    set_status(SERVICE_RUNNING, 0, 0);
    run_loop(sup);
    pvs_sup_close(&sup);
    PVS_LOG_I("service: stopped");
    pvs_log_set_sink(NULL, NULL);
    pvs_logfile_close(&svc.log);
    set_status(SERVICE_STOPPED, 0, 0);
}

static int cmd_run(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            svc.config = argv[++i];
        } else {
            fprintf(stderr, "pvstream-server service run: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    svc.wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    InitializeCriticalSection(&svc.lock);
    svc.event_source = RegisterEventSourceW(NULL, SERVICE_NAME);
    pvs_log_set_sink(service_sink, &svc);
    SERVICE_TABLE_ENTRYW table[] = { { (wchar_t *)SERVICE_NAME, service_main }, { NULL, NULL } };
    if (!StartServiceCtrlDispatcherW(table)) {
        DWORD err = GetLastError();
        pvs_log_set_sink(NULL, NULL);
        if (err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
            fprintf(stderr, "pvstream-server service run: this is what the Windows service "
                            "manager starts; use `pvstream-server service start` (after "
                            "`service install`), or run pvstream-server without `service` "
                            "to stream from this prompt\n");
        else
            say_error("run", "StartServiceCtrlDispatcher", err);
        return 1;
    }
    if (svc.event_source)
        DeregisterEventSource(svc.event_source);
    return 0;
}

/* ---- the command ------------------------------------------------------------------ */

int pvs_service_command(int argc, char **argv)
{
    const char *cmd = argc > 0 ? argv[0] : "";
    if (!strcmp(cmd, "run"))
        return cmd_run(argc, argv);
    if (!strcmp(cmd, "install")) {
        if (argc == 1)
            return cmd_install(NULL);
        if (argc == 3 && !strcmp(argv[1], "--config"))
            return cmd_install(argv[2]);
        if (argc == 2 && !strncmp(argv[1], "--config=", 9))
            return cmd_install(argv[1] + 9);
    } else if (argc == 1) {
        if (!strcmp(cmd, "uninstall"))
            return cmd_uninstall();
        if (!strcmp(cmd, "start"))
            return cmd_start();
        if (!strcmp(cmd, "stop"))
            return cmd_stop();
        if (!strcmp(cmd, "status"))
            return cmd_status();
    }
    fprintf(stderr, "usage: pvstream-server service install [--config FILE] | uninstall | "
                    "start | stop | status   (see --help)\n");
    return 2;
}

#endif /* _WIN32 */
