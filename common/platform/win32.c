/* The platform layer (platform.h) for Windows: time from
 * QueryPerformanceCounter, threads from the CRT, SRW locks and condition
 * variables, and Winsock 2. It mirrors posix.c; the two must behave the same,
 * so a change here usually needs one there. */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h> /* before windows.h, which would pull in winsock 1 */
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <mmsystem.h>
#include <avrt.h>
#include <process.h>

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/platform/sockaddr.h"

#define NS_PER_S INT64_C(1000000000)

/* Older mingw headers lack these; the values are the Windows SDK's. */
#ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION
#define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x00000002
#endif
#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif
#ifndef WSA_FLAG_NO_HANDLE_INHERIT
#define WSA_FLAG_NO_HANDLE_INHERIT 0x80
#endif

/* platform.h hides the Windows types behind pointer-sized members. */
static_assert(sizeof(SRWLOCK) <= sizeof(((pvs_mutex *)0)->opaque),
              "pvs_mutex cannot hold an SRWLOCK");
static_assert(sizeof(CONDITION_VARIABLE) <= sizeof(((pvs_cond *)0)->opaque),
              "pvs_cond cannot hold a CONDITION_VARIABLE");
static_assert(sizeof(SOCKET) == sizeof(pvs_socket), "pvs_socket is not a SOCKET");
static_assert(sizeof(struct sockaddr_in6) <= sizeof(((struct pvs_addr *)0)->u.bytes),
              "struct pvs_addr is too small for a sockaddr_in6");
static_assert(_Alignof(struct sockaddr_in6) <= _Alignof(struct pvs_addr),
              "struct pvs_addr is not aligned enough for a sockaddr_in6");

/* The text Windows gives for an error code, without its trailing newline. */
static const char *sys_text(DWORD err, char *buf, size_t len)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                             NULL, err, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT),
                             buf, (DWORD)len, NULL);
    if (n == 0) {
        snprintf(buf, len, "error %lu", (unsigned long)err);
        return buf;
    }
    while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == '.'))
        buf[--n] = '\0';
    return buf;
}

#define SYS_TEXT(err) sys_text((DWORD)(err), (char[256]){0}, 256)

const char *pvs_win32_error_text(unsigned long err, char *buf, size_t len)
{
    return sys_text((DWORD)err, buf, len);
}

/* ---- time ---------------------------------------------------------------- */

static int64_t qpc_frequency(void)
{
    /* Fixed at boot, so reading it once is enough; racing first callers
     * store the same value. */
    static _Atomic int64_t freq;
    int64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
    if (f == 0) {
        LARGE_INTEGER li;
        QueryPerformanceFrequency(&li);
        f = li.QuadPart;
        atomic_store_explicit(&freq, f, memory_order_relaxed);
    }
    return f;
}

int64_t pvs_time_ns(void)
{
    LARGE_INTEGER li;
    QueryPerformanceCounter(&li);
    int64_t f = qpc_frequency();
    /* Split so that counter * 1e9 cannot overflow after a long uptime. */
    return li.QuadPart / f * NS_PER_S + li.QuadPart % f * NS_PER_S / f;
}

void pvs_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    pvs_sleep_until_ns(pvs_time_ns() + ns);
}

/* One high-resolution waitable timer per thread, made on first use and
 * closed when a thread started by pvs_thread_create ends. The flag only
 * exists since Windows 10 1803; older systems use Sleep, with the timer
 * resolution raised to 1 ms (for the whole process: Windows has no finer
 * scope before 10 2004) and a spin for the last part. */
static _Thread_local HANDLE sleep_timer;
static atomic_bool no_hires_timer;
static atomic_flag period_raised = ATOMIC_FLAG_INIT;

/* What a wait may overshoot by, so it is ended early and the rest spun. */
#define HIRES_MARGIN_NS (300 * INT64_C(1000))
#define SLEEP_MARGIN_NS (2 * INT64_C(1000000))

static HANDLE thread_sleep_timer(void)
{
    if (sleep_timer || atomic_load(&no_hires_timer))
        return sleep_timer;
    sleep_timer = CreateWaitableTimerExW(NULL, NULL, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION,
                                         TIMER_ALL_ACCESS);
    if (!sleep_timer) {
        atomic_store(&no_hires_timer, true);
        if (!atomic_flag_test_and_set(&period_raised))
            timeBeginPeriod(1);
    }
    return sleep_timer;
}

void pvs_sleep_until_ns(int64_t deadline_ns)
{
    for (;;) {
        int64_t left = deadline_ns - pvs_time_ns();
        if (left <= 0)
            return;
        HANDLE timer = left > HIRES_MARGIN_NS + 100 ? thread_sleep_timer() : NULL;
        if (timer) {
            /* Negative: relative, in 100 ns units. */
            LARGE_INTEGER due;
            due.QuadPart = -((left - HIRES_MARGIN_NS) / 100);
            if (SetWaitableTimer(timer, &due, 0, NULL, NULL, FALSE)) {
                WaitForSingleObject(timer, INFINITE);
                continue;
            }
        }
        if (left > SLEEP_MARGIN_NS) {
            Sleep((DWORD)((left - SLEEP_MARGIN_NS) / 1000000));
            continue;
        }
        /* The last fraction of a millisecond: no Windows wait is that
         * precise, so spin. */
        YieldProcessor();
    }
}

int64_t pvs_wall_time_us(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    int64_t t = (int64_t)(((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
    /* 100 ns units since 1601 to microseconds since 1970. */
    return (t - INT64_C(116444736000000000)) / 10;
}

int64_t pvs_cpu_time_ns(void)
{
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user))
        return 0;
    uint64_t k = ((uint64_t)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
    uint64_t u = ((uint64_t)user.dwHighDateTime << 32) | user.dwLowDateTime;
    return (int64_t)(k + u) * 100; /* 100 ns units */
}

int64_t pvs_thread_cpu_time_ns(void)
{
    FILETIME created, exited, kernel, user;
    if (!GetThreadTimes(GetCurrentThread(), &created, &exited, &kernel, &user))
        return 0;
    uint64_t k = ((uint64_t)kernel.dwHighDateTime << 32) | kernel.dwLowDateTime;
    uint64_t u = ((uint64_t)user.dwHighDateTime << 32) | user.dwLowDateTime;
    return (int64_t)(k + u) * 100; /* 100 ns units */
}

/* ---- libraries ----------------------------------------------------------- */

int pvs_thread_boost(const char *task)
{
    wchar_t wtask[64];
    if (!task || MultiByteToWideChar(CP_UTF8, 0, task, -1, wtask, 64) <= 0)
        return PVS_EINVAL;
    DWORD index = 0;
    /* The handle is released with the thread: MMCSS drops a thread that
     * ends. */
    if (!AvSetMmThreadCharacteristicsW(wtask, &index)) {
        char why[160];
        PVS_LOG_D("MMCSS refused task \"%s\": %s", task,
                  sys_text(GetLastError(), why, sizeof(why)));
        return PVS_ENOTSUP;
    }
    return 0;
}

int pvs_host_name(char *buf, size_t len)
{
    if (!buf || len == 0)
        return PVS_EINVAL;
    buf[0] = '\0';
    /* Not gethostname: that needs WSAStartup and gives the ANSI code page. */
    wchar_t w[256];
    DWORD n = 256;
    if (!GetComputerNameExW(ComputerNameDnsHostname, w, &n))
        return PVS_EIO;
    int m = WideCharToMultiByte(CP_UTF8, 0, w, (int)n, buf, (int)len - 1, NULL, NULL);
    if (m <= 0)
        return PVS_ERANGE;
    buf[m] = '\0';
    return 0;
}

static void (*volatile stop_fn)(void);

static BOOL WINAPI on_console_event(DWORD event)
{
    void (*fn)(void) = stop_fn;
    if (fn)
        fn();
    if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT ||
        event == CTRL_SHUTDOWN_EVENT)
        Sleep(4000); /* the process ends when this returns: let main finish first */
    return TRUE;
}

void pvs_on_stop_request(void (*fn)(void))
{
    stop_fn = fn;
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

/* ---- desktops -------------------------------------------------------------- */

/* The desktop this thread opened last, closed when it moves on (a handle
 * from GetThreadDesktop must not be closed, one from OpenInputDesktop must). */
static _Thread_local HDESK followed_desktop;

static void desktop_name(HDESK d, wchar_t *buf, DWORD len)
{
    DWORD need = 0;
    if (!GetUserObjectInformationW(d, UOI_NAME, buf, len * sizeof(wchar_t), &need))
        buf[0] = L'\0';
}

int pvs_desktop_follow_input(char *name, size_t name_len)
{
    if (name && name_len)
        name[0] = '\0';
    /* GENERIC_ALL: capture reads it, injection writes to it (the rights
     * SetThreadDesktop and SendInput need). */
    HDESK input = OpenInputDesktop(0, FALSE, GENERIC_ALL);
    if (!input)
        return GetLastError() == ERROR_ACCESS_DENIED ? -EACCES : PVS_EIO;
    wchar_t want[64], have[64];
    desktop_name(input, want, 64);
    desktop_name(GetThreadDesktop(GetCurrentThreadId()), have, 64);
    if (name && name_len &&
        WideCharToMultiByte(CP_UTF8, 0, want, -1, name, (int)name_len, NULL, NULL) <= 0)
        name[0] = '\0';
    if (want[0] && _wcsicmp(want, have) == 0) {
        CloseDesktop(input);
        return 0;
    }
    if (!SetThreadDesktop(input)) {
        DWORD err = GetLastError();
        CloseDesktop(input);
        return err == ERROR_ACCESS_DENIED ? -EACCES : PVS_EIO;
    }
    if (followed_desktop)
        CloseDesktop(followed_desktop);
    followed_desktop = input;
    return 1;
}

bool pvs_library_available(const char *name)
{
    wchar_t wname[MAX_PATH];
    if (!name || !*name || MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, MAX_PATH) <= 0)
        return false;
    /* No "cannot find the DLL" dialog box for a library that is missing,
     * and no search of the current directory, where a planted DLL of the
     * same name would otherwise be run. */
    DWORD old_mode = 0;
    SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &old_mode);
    HMODULE h = LoadLibraryExW(wname, NULL, LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    SetThreadErrorMode(old_mode, NULL);
    if (!h)
        return false;
    FreeLibrary(h);
    return true;
}

/* ---- threads ------------------------------------------------------------- */

struct pvs_thread {
    HANDLE handle;
    pvs_thread_fn fn;
    void *arg;
    int ret;
    char name[64];
};

typedef HRESULT(WINAPI *set_thread_description_fn)(HANDLE, PCWSTR);

/* SetThreadDescription exists since Windows 10 1607 and is missing from
 * older mingw headers, so it is looked up at run time. */
static void set_thread_name(const char *name)
{
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    FARPROC proc = k32 ? GetProcAddress(k32, "SetThreadDescription") : NULL;
    if (!proc)
        return;
    /* Through void (*)(void), the one cast GCC accepts between unrelated
     * function types without -Wcast-function-type. */
    set_thread_description_fn set = (set_thread_description_fn)(void (*)(void))proc;
    wchar_t wname[64];
    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 64) > 0)
        set(GetCurrentThread(), wname);
}

static unsigned __stdcall thread_main(void *opaque)
{
    struct pvs_thread *t = opaque;
    set_thread_name(t->name);
    t->ret = t->fn(t->arg);
    if (sleep_timer) {
        CloseHandle(sleep_timer);
        sleep_timer = NULL;
    }
    return 0;
}

int pvs_thread_create(struct pvs_thread **out, pvs_thread_fn fn, void *arg,
                      const char *name)
{
    if (!out || !fn)
        return PVS_EINVAL;
    *out = NULL;

    struct pvs_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return PVS_ENOMEM;
    t->fn = fn;
    t->arg = arg;
    snprintf(t->name, sizeof(t->name), "%s", name ? name : "pvs");

    /* _beginthreadex, not CreateThread, so the CRT sets up its per-thread
     * state for the new thread. */
    uintptr_t h = _beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    if (h == 0) {
        int err = errno;
        PVS_LOG_E("cannot start thread '%s': %s", t->name, strerror(err));
        free(t);
        return err > 0 ? -err : PVS_EIO;
    }
    t->handle = (HANDLE)h;
    *out = t;
    return 0;
}

void pvs_thread_join(struct pvs_thread **t, int *ret)
{
    if (!t || !*t)
        return;
    if (WaitForSingleObject((*t)->handle, INFINITE) != WAIT_OBJECT_0)
        PVS_LOG_E("cannot join thread '%s': %s", (*t)->name, SYS_TEXT(GetLastError()));
    CloseHandle((*t)->handle);
    if (ret)
        *ret = (*t)->ret;
    free(*t);
    *t = NULL;
}

static SRWLOCK *srw(pvs_mutex *m)
{
    return (SRWLOCK *)(void *)&m->opaque;
}

static CONDITION_VARIABLE *cv(pvs_cond *c)
{
    return (CONDITION_VARIABLE *)(void *)&c->opaque;
}

int pvs_mutex_init(pvs_mutex *m)
{
    InitializeSRWLock(srw(m));
    return 0;
}

void pvs_mutex_destroy(pvs_mutex *m)
{
    (void)m; /* an SRW lock holds no resources */
}

void pvs_mutex_lock(pvs_mutex *m)
{
    AcquireSRWLockExclusive(srw(m));
}

void pvs_mutex_unlock(pvs_mutex *m)
{
    ReleaseSRWLockExclusive(srw(m));
}

int pvs_cond_init(pvs_cond *c)
{
    InitializeConditionVariable(cv(c));
    return 0;
}

void pvs_cond_destroy(pvs_cond *c)
{
    (void)c; /* a condition variable holds no resources */
}

void pvs_cond_signal(pvs_cond *c)
{
    WakeConditionVariable(cv(c));
}

void pvs_cond_broadcast(pvs_cond *c)
{
    WakeAllConditionVariable(cv(c));
}

int pvs_cond_wait_until(pvs_cond *c, pvs_mutex *m, int64_t deadline_ns)
{
    if (deadline_ns < 0) {
        SleepConditionVariableSRW(cv(c), srw(m), INFINITE, 0);
        return 0;
    }
    for (;;) {
        int64_t left = deadline_ns - pvs_time_ns();
        if (left <= 0)
            return PVS_ETIMEDOUT;
        /* Round up, and wait again if the timer tick still ends the wait
         * early: the contract is "never time out before the deadline". */
        int64_t ms = (left + 999999) / 1000000;
        DWORD wait = ms >= INFINITE ? INFINITE - 1 : (DWORD)ms;
        if (SleepConditionVariableSRW(cv(c), srw(m), wait, 0))
            return 0;
        if (GetLastError() != ERROR_TIMEOUT) {
            PVS_LOG_E("SleepConditionVariableSRW failed: %s", SYS_TEXT(GetLastError()));
            return PVS_EIO;
        }
    }
}

/* ---- sockets ------------------------------------------------------------- */

/* Winsock errors as the closest PVS_E* code or negated errno. The CRT's
 * errno.h has POSIX names for most of them; the rest become PVS_EIO, with
 * Windows' own text in the log. */
static int wsa_to_pvs(int err)
{
    switch (err) {
    case WSAEWOULDBLOCK:     return PVS_EAGAIN;
    case WSAETIMEDOUT:       return PVS_ETIMEDOUT;
    case WSAEINVAL:
    case WSAEFAULT:          return PVS_EINVAL;
    case WSAENOBUFS:
    case WSA_NOT_ENOUGH_MEMORY: return PVS_ENOMEM;
    case WSAEACCES:          return -EACCES;
    case WSAEADDRINUSE:      return -EADDRINUSE;
    case WSAEADDRNOTAVAIL:   return -EADDRNOTAVAIL;
    case WSAEAFNOSUPPORT:    return -EAFNOSUPPORT;
    case WSAEMSGSIZE:        return -EMSGSIZE;
    case WSAENETDOWN:        return -ENETDOWN;
    case WSAENETUNREACH:     return -ENETUNREACH;
    case WSAEHOSTUNREACH:    return -EHOSTUNREACH;
    case WSAECONNRESET:      return -ECONNRESET;
    case WSAENOTSOCK:        return -ENOTSOCK;
    }
    return PVS_EIO;
}

/* WSAStartup counts its calls and wants one WSACleanup for each that
 * succeeded; this count keeps a deinit without a successful init harmless. */
static atomic_int wsa_users;

int pvs_net_init(void)
{
    WSADATA data;
    int err = WSAStartup(MAKEWORD(2, 2), &data);
    if (err != 0) {
        PVS_LOG_E("cannot start Winsock 2.2: %s", SYS_TEXT(err));
        return wsa_to_pvs(err);
    }
    atomic_fetch_add(&wsa_users, 1);
    return 0;
}

void pvs_net_deinit(void)
{
    int users = atomic_load(&wsa_users);
    while (users > 0 && !atomic_compare_exchange_weak(&wsa_users, &users, users - 1))
        ;
    if (users > 0)
        WSACleanup();
}

/* Socket errors on the data path are reported once a second at most: one
 * per packet would flood the log while the network is down. */
static bool data_path_log_ok(void)
{
    static _Atomic int64_t last;
    int64_t now = pvs_time_ns();
    int64_t prev = atomic_load_explicit(&last, memory_order_relaxed);
    if (prev != 0 && now - prev < NS_PER_S)
        return false;
    return atomic_compare_exchange_strong(&last, &prev, now);
}

static void uso_probe(SOCKET s);  /* batched UDP, below */
static void uso_forget(SOCKET s);

int pvs_udp_open(pvs_socket *out, const struct pvs_addr *local)
{
    int family = addr_open_family(out, local);
    if (family < 0)
        return family;

    char name[64];
    pvs_addr_format(local, name, sizeof(name));

    /* Not inherited by child processes (the SOCK_CLOEXEC of Windows);
     * systems before 7 SP1 refuse the flag, so fall back without it. */
    SOCKET s = WSASocketW(family, SOCK_DGRAM, IPPROTO_UDP, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET)
        s = socket(family, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) {
        int err = WSAGetLastError();
        PVS_LOG_E("cannot create a UDP socket for %s: %s", name, SYS_TEXT(err));
        return wsa_to_pvs(err);
    }

    u_long nonblocking = 1;
    if (ioctlsocket(s, FIONBIO, &nonblocking) != 0) {
        int err = WSAGetLastError();
        PVS_LOG_E("cannot make the UDP socket for %s non-blocking: %s", name,
                  SYS_TEXT(err));
        closesocket(s);
        return wsa_to_pvs(err);
    }

    /* Otherwise an ICMP "port unreachable" for an earlier send (a client
     * that went away) makes the next recvfrom fail with WSAECONNRESET. */
    BOOL report = FALSE;
    DWORD bytes = 0;
    if (WSAIoctl(s, SIO_UDP_CONNRESET, &report, sizeof(report), NULL, 0, &bytes,
                 NULL, NULL) != 0)
        PVS_LOG_W("cannot turn off UDP connection-reset reports on %s: %s", name,
                  SYS_TEXT(WSAGetLastError()));

    if (family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)local->u.bytes;
        if (memcmp(&sin6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0) {
            /* Windows sockets are v6-only by default; a wildcard socket
             * should take IPv4 peers as well. */
            DWORD off = 0;
            if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&off,
                           sizeof(off)) != 0)
                PVS_LOG_W("cannot make %s dual-stack, IPv4 peers cannot reach it: %s",
                          name, SYS_TEXT(WSAGetLastError()));
        }
    }

    if (bind(s, addr_sa(local), (int)local->len) != 0) {
        int err = WSAGetLastError();
        if (err == WSAEADDRINUSE)
            PVS_LOG_E("cannot bind UDP %s: the port is in use by another program; "
                      "stop it or choose another port", name);
        else
            PVS_LOG_E("cannot bind UDP %s: %s", name, SYS_TEXT(err));
        closesocket(s);
        return wsa_to_pvs(err);
    }
    uso_probe(s);
    *out = (pvs_socket)s;
    return 0;
}

int pvs_udp_local_addr(pvs_socket s, struct pvs_addr *out)
{
    if (!out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (getsockname((SOCKET)s, (struct sockaddr *)&ss, &len) != 0) {
        int err = WSAGetLastError();
        PVS_LOG_E("getsockname failed: %s", SYS_TEXT(err));
        return wsa_to_pvs(err);
    }
    return addr_set(out, &ss, (size_t)len);
}

/* Windows grants what it is asked for and reports it as is (no doubling as
 * on Linux), and has no system-wide cap to lift. */
static int set_one_buffer(SOCKET s, int opt, const char *what, int want, int *got)
{
    if (want > 0 &&
        setsockopt(s, SOL_SOCKET, opt, (const char *)&want, sizeof(want)) != 0) {
        int err = WSAGetLastError();
        PVS_LOG_W("cannot set the UDP %s buffer to %d bytes: %s", what, want,
                  SYS_TEXT(err));
        return wsa_to_pvs(err);
    }
    int granted = 0;
    int len = sizeof(granted);
    if (getsockopt(s, SOL_SOCKET, opt, (char *)&granted, &len) != 0) {
        int err = WSAGetLastError();
        PVS_LOG_W("cannot read the UDP %s buffer size: %s", what, SYS_TEXT(err));
        return wsa_to_pvs(err);
    }
    if (want > 0 && granted < want)
        PVS_LOG_W("the UDP %s buffer is %d bytes, asked for %d", what, granted, want);
    if (got)
        *got = granted;
    return 0;
}

int pvs_udp_set_buffers(pvs_socket s, int sndbuf, int rcvbuf,
                        int *got_snd, int *got_rcv)
{
    if (sndbuf < 0 || rcvbuf < 0)
        return PVS_EINVAL;
    int err = set_one_buffer((SOCKET)s, SO_SNDBUF, "send", sndbuf, got_snd);
    if (err)
        return err;
    return set_one_buffer((SOCKET)s, SO_RCVBUF, "receive", rcvbuf, got_rcv);
}

/* ::ffff:a.b.c.d for an IPv4 address: a dual-stack socket on Windows only
 * sends to IPv4 peers written this way. */
static void map_v4(const struct pvs_addr *v4, struct pvs_addr *v6)
{
    const struct sockaddr_in *sin = (const void *)v4->u.bytes;
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = sin->sin_port;
    sin6.sin6_addr.s6_addr[10] = 0xff;
    sin6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&sin6.sin6_addr.s6_addr[12], &sin->sin_addr, 4);
    addr_set(v6, &sin6, sizeof(sin6));
}

int pvs_udp_send(pvs_socket s, const void *buf, size_t len,
                 const struct pvs_addr *to)
{
    if (!to || !to->len || (!buf && len) || len > 65535)
        return PVS_EINVAL;
    int n = sendto((SOCKET)s, buf, (int)len, 0, addr_sa(to), (int)to->len);
    if (n >= 0)
        return n;
    int err = WSAGetLastError();
    if (addr_family(to) == AF_INET &&
        (err == WSAEAFNOSUPPORT || err == WSAEFAULT || err == WSAEINVAL)) {
        /* An IPv4 peer from a dual-stack socket. The caller can avoid this
         * second call by binding an IPv4 socket to talk to IPv4 peers. */
        struct pvs_addr mapped;
        map_v4(to, &mapped);
        n = sendto((SOCKET)s, buf, (int)len, 0, addr_sa(&mapped), (int)mapped.len);
        if (n >= 0)
            return n;
        err = WSAGetLastError();
    }
    if (err == WSAEWOULDBLOCK)
        return PVS_EAGAIN;
    if (data_path_log_ok()) {
        char name[64];
        pvs_addr_format(to, name, sizeof(name));
        PVS_LOG_W("UDP send to %s failed: %s", name, SYS_TEXT(err));
    }
    return wsa_to_pvs(err);
}

static int recv_once(SOCKET s, void *buf, size_t cap, struct pvs_addr *from)
{
    for (;;) {
        struct sockaddr_storage ss;
        int slen = sizeof(ss);
        int n = recvfrom(s, buf, (int)cap, 0, (struct sockaddr *)&ss, &slen);
        int err = n >= 0 ? 0 : WSAGetLastError();
        /* A datagram longer than cap fills the buffer and is reported as
         * WSAEMSGSIZE; the platform contract calls that a received
         * datagram cut to cap, as on Linux. */
        if (err == WSAEMSGSIZE)
            n = (int)cap;
        if (n >= 0) {
            if (from && addr_set(from, &ss, (size_t)slen) != 0)
                memset(from, 0, sizeof(*from));
            return n;
        }
        if (err == WSAEWOULDBLOCK)
            return PVS_EAGAIN;
        /* Reports of ICMP errors for earlier sends, should one get through
         * despite SIO_UDP_CONNRESET: not a failure of this receive. */
        if (err == WSAECONNRESET || err == WSAENETRESET)
            continue;
        if (data_path_log_ok())
            PVS_LOG_W("UDP receive failed: %s", SYS_TEXT(err));
        return wsa_to_pvs(err);
    }
}

int pvs_udp_recv(pvs_socket s, void *buf, size_t cap, struct pvs_addr *from,
                 int timeout_ms)
{
    if ((!buf && cap) || cap > INT32_MAX)
        return PVS_EINVAL;
    if (from)
        memset(from, 0, sizeof(*from));

    int64_t deadline = timeout_ms > 0 ? pvs_time_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        int n = recv_once((SOCKET)s, buf, cap, from);
        if (n != PVS_EAGAIN)
            return n;
        if (timeout_ms == 0)
            return PVS_ETIMEDOUT;

        int wait_ms = -1;
        if (timeout_ms > 0) {
            int64_t left = deadline - pvs_time_ns();
            if (left <= 0)
                return PVS_ETIMEDOUT;
            wait_ms = (int)((left + 999999) / 1000000);
        }
        WSAPOLLFD pfd;
        memset(&pfd, 0, sizeof(pfd));
        pfd.fd = (SOCKET)s;
        pfd.events = POLLRDNORM;
        if (WSAPoll(&pfd, 1, wait_ms) == SOCKET_ERROR) {
            int err = WSAGetLastError();
            PVS_LOG_W("WSAPoll on a UDP socket failed: %s", SYS_TEXT(err));
            return wsa_to_pvs(err);
        }
        /* Readable or timed out: try again; the deadline check above
         * decides when to give up (WSAPoll may end a tick early). */
    }
}

int pvs_udp_poll(const pvs_socket *socks, int n, int64_t timeout_us, bool *ready)
{
    if (!socks || !ready || n < 1 || n > 16)
        return PVS_EINVAL;
    WSAPOLLFD pfd[16];
    memset(pfd, 0, sizeof(pfd));
    for (int i = 0; i < n; i++) {
        pfd[i].fd = (SOCKET)socks[i];
        pfd[i].events = POLLRDNORM;
    }
    int wait_ms = timeout_us < 0 ? -1 : (int)((timeout_us + 999) / 1000);
    int got = WSAPoll(pfd, (ULONG)n, wait_ms);
    if (got == SOCKET_ERROR) {
        int err = WSAGetLastError();
        PVS_LOG_W("WSAPoll on UDP sockets failed: %s", SYS_TEXT(err));
        return wsa_to_pvs(err);
    }
    for (int i = 0; i < n; i++)
        ready[i] = got > 0 && (pfd[i].revents & (POLLRDNORM | POLLERR)) != 0;
    return got;
}

/* ---- batched UDP --------------------------------------------------------- */

/* Windows has no sendmmsg/recvmmsg. Its GSO is USO (UDP segmentation
 * offload, Windows 10 1703 and later): one WSASendMsg with a
 * UDP_SEND_MSG_SIZE control message carries up to 64 KiB that the stack (or
 * the NIC) cuts into equal datagrams. As on Linux, a socket opened by
 * pvs_udp_open is probed once (getsockopt knows the option or not), the
 * first refusal turns USO off for that socket for good, and
 * PVS_UDP_NO_GSO=1 turns it off from the start. SOCKETs are handles, not
 * small integers, so the sockets with USO on sit in a small table. */
#define UDP_MAX_PAYLOAD 65507 /* 65,535 - 20 (IPv4 header) - 8 (UDP header) */
#define USO_MAX_SEGMENTS 64
#define USO_TABLE_SIZE 64
#ifndef UDP_SEND_MSG_SIZE
#define UDP_SEND_MSG_SIZE 2 /* ws2ipdef.h */
#endif

static _Atomic uintptr_t uso_sockets[USO_TABLE_SIZE];

static bool uso_enabled(SOCKET s)
{
    for (int i = 0; i < USO_TABLE_SIZE; i++)
        if (atomic_load_explicit(&uso_sockets[i], memory_order_relaxed) == (uintptr_t)s)
            return true;
    return false;
}

static void uso_forget(SOCKET s)
{
    for (int i = 0; i < USO_TABLE_SIZE; i++) {
        uintptr_t want = (uintptr_t)s;
        atomic_compare_exchange_strong(&uso_sockets[i], &want, 0);
    }
}

static void uso_probe(SOCKET s)
{
    const char *env = getenv("PVS_UDP_NO_GSO");
    if (env && *env && strcmp(env, "0") != 0)
        return;
    DWORD v = 0;
    int len = sizeof(v);
    if (getsockopt(s, IPPROTO_UDP, UDP_SEND_MSG_SIZE, (char *)&v, &len) != 0)
        return;
    for (int i = 0; i < USO_TABLE_SIZE; i++) {
        uintptr_t empty = 0;
        if (atomic_compare_exchange_strong(&uso_sockets[i], &empty, (uintptr_t)s))
            return;
    }
    /* More USO sockets than the table holds: this one sends one by one. */
}

/* One USO send of n datagrams (2 <= n <= USO_MAX_SEGMENTS). Returns 0 or a
 * WSA error code. */
static int send_uso(SOCKET s, const uint8_t *p, size_t stride, size_t len, int n,
                    const struct pvs_addr *to)
{
    /* One buffer per datagram keeps the boundaries when they have gaps. */
    WSABUF bufs[USO_MAX_SEGMENTS];
    int nbufs;
    if (stride == len) {
        bufs[0].buf = (char *)p;
        bufs[0].len = (ULONG)(len * (size_t)n);
        nbufs = 1;
    } else {
        for (int i = 0; i < n; i++) {
            bufs[i].buf = (char *)(p + (size_t)i * stride);
            bufs[i].len = (ULONG)len;
        }
        nbufs = n;
    }
    union {
        char buf[WSA_CMSG_SPACE(sizeof(DWORD))];
        WSACMSGHDR align;
    } control;
    memset(&control, 0, sizeof(control));
    WSAMSG msg;
    memset(&msg, 0, sizeof(msg));
    msg.name = (LPSOCKADDR)addr_sa(to);
    msg.namelen = (INT)to->len;
    msg.lpBuffers = bufs;
    msg.dwBufferCount = (DWORD)nbufs;
    msg.Control.buf = control.buf;
    msg.Control.len = sizeof(control.buf);
    WSACMSGHDR *cm = WSA_CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = IPPROTO_UDP;
    cm->cmsg_type = UDP_SEND_MSG_SIZE;
    cm->cmsg_len = WSA_CMSG_LEN(sizeof(DWORD));
    DWORD seg = (DWORD)len;
    memcpy(WSA_CMSG_DATA(cm), &seg, sizeof(seg));
    DWORD sent = 0;
    return WSASendMsg(s, &msg, 0, &sent, NULL, NULL) == 0 ? 0 : WSAGetLastError();
}

int pvs_udp_send_batch(pvs_socket s, const void *buf, size_t stride, size_t len,
                       int count, const struct pvs_addr *to)
{
    if (!to || !to->len || !buf || count < 0 || len == 0 || len > UDP_MAX_PAYLOAD ||
        stride < len)
        return PVS_EINVAL;
    const uint8_t *p = buf;
    int sent = 0;
    while (sent < count) {
        const uint8_t *at = p + (size_t)sent * stride;
        int left = count - sent;
        if (left >= 2 && uso_enabled((SOCKET)s)) {
            int n = left < USO_MAX_SEGMENTS ? left : USO_MAX_SEGMENTS;
            if ((size_t)n * len > UDP_MAX_PAYLOAD)
                n = (int)(UDP_MAX_PAYLOAD / len);
            if (n >= 2) {
                int err = send_uso((SOCKET)s, at, stride, len, n, to);
                if (err == 0) {
                    sent += n;
                    continue;
                }
                if (err == WSAEWOULDBLOCK || err == WSAENOBUFS)
                    return sent > 0 ? sent : PVS_EAGAIN;
                if (err != WSAEINVAL && err != WSAEOPNOTSUPP && err != WSAENOPROTOOPT &&
                    err != WSAEMSGSIZE)
                    return sent > 0 ? sent : wsa_to_pvs(err);
                uso_forget((SOCKET)s);
                char name[64];
                pvs_addr_format(to, name, sizeof(name));
                PVS_LOG_I("Windows refuses UDP segmentation offload for %s (%s): "
                          "sending datagram by datagram on this socket from now on",
                          name, SYS_TEXT(err));
                /* Then the same datagrams one by one, below. */
            }
        }
        int r = pvs_udp_send(s, at, len, to);
        if (r < 0)
            return sent > 0 ? sent : r; /* an error for the rest shows again next call */
        sent++;
    }
    return count;
}

int pvs_udp_recv_batch(pvs_socket s, void *buf, size_t stride, int count,
                       size_t *lens, struct pvs_addr *from, int timeout_ms)
{
    if (!buf || !lens || stride == 0 || stride > INT32_MAX || count <= 0)
        return PVS_EINVAL;
    uint8_t *p = buf;
    int r = pvs_udp_recv(s, p, stride, from, timeout_ms);
    if (r < 0)
        return r;
    lens[0] = (size_t)r;
    int got = 1;
    while (got < count) {
        r = recv_once((SOCKET)s, p + (size_t)got * stride, stride, from ? &from[got] : NULL);
        if (r < 0)
            break; /* empty, or an error that the next call reports */
        lens[got++] = (size_t)r;
    }
    return got;
}

/* Windows 10 has SO_TIMESTAMP only from 20H1 and through WSARecvMsg, which
 * this path does not use: arrival is the time the batch was taken. */
int pvs_udp_enable_arrival_stamps(pvs_socket s)
{
    (void)s;
    return PVS_ENOTSUP;
}

int pvs_udp_recv_batch_at(pvs_socket s, void *buf, size_t stride, int count, size_t *lens,
                          struct pvs_addr *from, int64_t *arrived_us, int timeout_ms)
{
    int n = pvs_udp_recv_batch(s, buf, stride, count, lens, from, timeout_ms);
    if (n > 0 && arrived_us) {
        int64_t now = pvs_time_us();
        for (int i = 0; i < n; i++)
            arrived_us[i] = now;
    }
    return n;
}

/* Windows ignores IP_TOS from applications; DSCP marking needs the qWAVE API
 * or a Group Policy, neither of which is wired up yet. */
int pvs_udp_set_dscp(pvs_socket s, int dscp)
{
    (void)s;
    if (dscp < 0 || dscp > 63)
        return PVS_EINVAL;
    return PVS_ENOTSUP;
}

bool pvs_udp_gso_active(pvs_socket s)
{
    return uso_enabled((SOCKET)s);
}

void pvs_socket_close(pvs_socket *s)
{
    if (!s || *s == PVS_INVALID_SOCKET)
        return;
    uso_forget((SOCKET)*s);
    closesocket((SOCKET)*s);
    *s = PVS_INVALID_SOCKET;
}
