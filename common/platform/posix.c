/* The platform layer (platform.h) for Linux and other POSIX systems: time from
 * CLOCK_MONOTONIC, pthreads, and BSD sockets. Windows has its own in win32.c;
 * the two must behave the same, so a change here usually needs one there. */
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/platform/sockaddr.h"

#define NS_PER_S INT64_C(1000000000)

/* struct pvs_addr keeps the sockaddr in its own bytes so that platform.h
 * needs no system headers; these make sure it fits and is aligned. */
static_assert(sizeof(struct sockaddr_in6) <= sizeof(((struct pvs_addr *)0)->u.bytes),
              "struct pvs_addr is too small for a sockaddr_in6");
static_assert(sizeof(struct sockaddr_in) <= sizeof(((struct pvs_addr *)0)->u.bytes),
              "struct pvs_addr is too small for a sockaddr_in");
static_assert(_Alignof(struct sockaddr_in6) <= _Alignof(struct pvs_addr),
              "struct pvs_addr is not aligned enough for a sockaddr_in6");

/* ---- time ---------------------------------------------------------------- */

static int64_t ts_to_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * NS_PER_S + ts->tv_nsec;
}

static struct timespec ns_to_ts(int64_t ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(ns / NS_PER_S);
    ts.tv_nsec = (long)(ns % NS_PER_S);
    return ts;
}

int64_t pvs_time_ns(void)
{
    struct timespec ts;
    /* Cannot fail for CLOCK_MONOTONIC with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts_to_ns(&ts);
}

void pvs_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    pvs_sleep_until_ns(pvs_time_ns() + ns);
}

void pvs_sleep_until_ns(int64_t deadline_ns)
{
    /* An absolute deadline on the same clock as pvs_time_ns() cannot drift
     * when a signal interrupts the sleep, so EINTR just sleeps again. The
     * outer check also covers a kernel that wakes a hair early. */
    while (pvs_time_ns() < deadline_ns) {
        struct timespec ts = ns_to_ts(deadline_ns);
        int err;
        do {
            err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        } while (err == EINTR);
        if (err != 0) {
            /* Only EINVAL is possible (a bad timespec): never spin on it. */
            PVS_LOG_E("clock_nanosleep failed: %s", strerror(err));
            return;
        }
    }
}

int64_t pvs_wall_time_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pvs_cpu_time_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return ts_to_ns(&ts);
}

/* ---- libraries ----------------------------------------------------------- */

bool pvs_library_available(const char *name)
{
    if (!name || !*name)
        return false;
    /* RTLD_LAZY: only whether it loads is asked, so symbols need not be
     * bound; RTLD_LOCAL keeps its symbols from leaking into later loads. */
    void *h = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
    if (!h)
        return false;
    dlclose(h);
    return true;
}

/* ---- threads ------------------------------------------------------------- */

struct pvs_thread {
    pthread_t handle;
    pvs_thread_fn fn;
    void *arg;
    int ret;
    char name[16]; /* Linux allows 15 characters and the terminator */
};

static void *thread_main(void *opaque)
{
    struct pvs_thread *t = opaque;
    /* Named from inside so the name is in place before fn runs; a name is
     * for debuggers only, so failing to set it is not an error. */
#if defined(__APPLE__)
    pthread_setname_np(t->name);
#elif defined(__linux__) || defined(__GLIBC__)
    pthread_setname_np(pthread_self(), t->name);
#endif
    t->ret = t->fn(t->arg);
    return NULL;
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
    /* Cut rather than fail: pthread_setname_np rejects names over 15. */
    snprintf(t->name, sizeof(t->name), "%s", name ? name : "pvs");

    int err = pthread_create(&t->handle, NULL, thread_main, t);
    if (err != 0) {
        PVS_LOG_E("cannot start thread '%s': %s", t->name, strerror(err));
        free(t);
        return -err;
    }
    *out = t;
    return 0;
}

void pvs_thread_join(struct pvs_thread **t, int *ret)
{
    if (!t || !*t)
        return;
    int err = pthread_join((*t)->handle, NULL);
    if (err != 0)
        PVS_LOG_E("cannot join thread '%s': %s", (*t)->name, strerror(err));
    if (ret)
        *ret = (*t)->ret;
    free(*t);
    *t = NULL;
}

/* Lock and unlock cannot fail on a valid, initialised default mutex; an error
 * means memory corruption or a bug in the caller, and carrying on would break
 * whatever the mutex protects, so stop where it happened. */
static void check_pthread(int err, const char *what)
{
    if (err != 0) {
        PVS_LOG_E("%s failed: %s", what, strerror(err));
        abort();
    }
}

int pvs_mutex_init(pvs_mutex *m)
{
    int err = pthread_mutex_init(&m->m, NULL);
    return err ? -err : 0;
}

void pvs_mutex_destroy(pvs_mutex *m)
{
    pthread_mutex_destroy(&m->m);
}

void pvs_mutex_lock(pvs_mutex *m)
{
    check_pthread(pthread_mutex_lock(&m->m), "pthread_mutex_lock");
}

void pvs_mutex_unlock(pvs_mutex *m)
{
    check_pthread(pthread_mutex_unlock(&m->m), "pthread_mutex_unlock");
}

int pvs_cond_init(pvs_cond *c)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err)
        return -err;
    /* Deadlines come from pvs_time_ns(); the default CLOCK_REALTIME would
     * make waits jump when someone sets the wall clock. */
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!err)
        err = pthread_cond_init(&c->c, &attr);
    pthread_condattr_destroy(&attr);
    return err ? -err : 0;
}

void pvs_cond_destroy(pvs_cond *c)
{
    pthread_cond_destroy(&c->c);
}

void pvs_cond_signal(pvs_cond *c)
{
    pthread_cond_signal(&c->c);
}

void pvs_cond_broadcast(pvs_cond *c)
{
    pthread_cond_broadcast(&c->c);
}

int pvs_cond_wait_until(pvs_cond *c, pvs_mutex *m, int64_t deadline_ns)
{
    if (deadline_ns < 0) {
        check_pthread(pthread_cond_wait(&c->c, &m->m), "pthread_cond_wait");
        return 0;
    }
    struct timespec ts = ns_to_ts(deadline_ns);
    int err = pthread_cond_timedwait(&c->c, &m->m, &ts);
    if (err == ETIMEDOUT) {
        /* The contract is "never time out early"; should the kernel round
         * the other way, report a spurious wake-up, which callers handle. */
        return pvs_time_ns() >= deadline_ns ? PVS_ETIMEDOUT : 0;
    }
    check_pthread(err, "pthread_cond_timedwait");
    return 0;
}

/* ---- sockets ------------------------------------------------------------- */

int pvs_net_init(void)
{
    return 0;
}

void pvs_net_deinit(void)
{
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

int pvs_udp_open(pvs_socket *out, const struct pvs_addr *local)
{
    if (!out)
        return PVS_EINVAL;
    *out = PVS_INVALID_SOCKET;
    int family = local ? addr_family(local) : AF_UNSPEC;
    if (family != AF_INET && family != AF_INET6)
        return PVS_EINVAL;

    char name[64];
    pvs_addr_format(local, name, sizeof(name));

    int s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_UDP);
    if (s < 0) {
        int err = errno;
        PVS_LOG_E("cannot create a UDP socket for %s: %s", name, strerror(err));
        return -err;
    }

    if (family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)local->u.bytes;
        if (memcmp(&sin6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0) {
            /* Some systems default to v6-only (net.ipv6.bindv6only=1, the
             * BSDs); a wildcard socket should take IPv4 peers as well. */
            int off = 0;
            if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0)
                PVS_LOG_W("cannot make %s dual-stack, IPv4 peers cannot reach it: %s",
                          name, strerror(errno));
        }
    }

    if (bind(s, addr_sa(local), local->len) != 0) {
        int err = errno;
        if (err == EADDRINUSE)
            PVS_LOG_E("cannot bind UDP %s: the port is in use by another program; "
                      "stop it or choose another port", name);
        else
            PVS_LOG_E("cannot bind UDP %s: %s", name, strerror(err));
        close(s);
        return -err;
    }
    *out = s;
    return 0;
}

int pvs_udp_local_addr(pvs_socket s, struct pvs_addr *out)
{
    if (!out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0) {
        int err = errno;
        PVS_LOG_E("getsockname failed: %s", strerror(err));
        return -err;
    }
    return addr_set(out, &ss, len);
}

/* Linux reports twice the size asked for (see set_one_buffer); the FORCE
 * options are Linux-only too. */
#ifdef __linux__
#define BUF_REPORT_FACTOR 2
#else
#define BUF_REPORT_FACTOR 1
#endif
#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE (-1)
#define SO_RCVBUFFORCE (-1)
#endif

/* Sets one buffer size and reads back what the kernel granted. Linux doubles
 * the value asked for (the extra half pays for its bookkeeping) and
 * getsockopt reports the doubled figure; that figure is what is returned,
 * as the kernel reports it, so asking for 4 MiB reads back 8 MiB. */
static int set_one_buffer(pvs_socket s, int force_opt, int opt, const char *what,
                          int want, int *got)
{
    if (want > 0) {
        /* The FORCE variant passes net.core.[rw]mem_max and needs
         * CAP_NET_ADMIN, which root has (and which a container's root may
         * lack), so trying it and falling back is the test, not the uid.
         * Without it the plain option is silently capped at the sysctl. */
        if ((force_opt < 0 ||
             setsockopt(s, SOL_SOCKET, force_opt, &want, sizeof(want)) != 0) &&
            setsockopt(s, SOL_SOCKET, opt, &want, sizeof(want)) != 0) {
            int err = errno;
            PVS_LOG_W("cannot set the UDP %s buffer to %d bytes: %s", what, want,
                      strerror(err));
            return -err;
        }
    }
    int granted = 0;
    socklen_t len = sizeof(granted);
    if (getsockopt(s, SOL_SOCKET, opt, &granted, &len) != 0) {
        int err = errno;
        PVS_LOG_W("cannot read the UDP %s buffer size: %s", what, strerror(err));
        return -err;
    }
    if (want > 0 && granted / BUF_REPORT_FACTOR < want)
        PVS_LOG_W("the UDP %s buffer is %d bytes, asked for %d: run as root or "
                  "raise it with sysctl -w net.core.%s=%d",
                  what, granted / BUF_REPORT_FACTOR, want,
                  opt == SO_RCVBUF ? "rmem_max" : "wmem_max", want);
    if (got)
        *got = granted;
    return 0;
}

int pvs_udp_set_buffers(pvs_socket s, int sndbuf, int rcvbuf,
                        int *got_snd, int *got_rcv)
{
    if (sndbuf < 0 || rcvbuf < 0)
        return PVS_EINVAL;
    int err = set_one_buffer(s, SO_SNDBUFFORCE, SO_SNDBUF, "send", sndbuf, got_snd);
    if (err)
        return err;
    return set_one_buffer(s, SO_RCVBUFFORCE, SO_RCVBUF, "receive", rcvbuf, got_rcv);
}

int pvs_udp_send(pvs_socket s, const void *buf, size_t len,
                 const struct pvs_addr *to)
{
    if (!to || !to->len || (!buf && len) || len > 65535)
        return PVS_EINVAL;
    for (;;) {
        ssize_t n = sendto(s, buf, len, 0, addr_sa(to), to->len);
        if (n >= 0)
            return (int)n;
        int err = errno;
        if (err == EINTR)
            continue;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return PVS_EAGAIN;
        if (data_path_log_ok()) {
            char name[64];
            pvs_addr_format(to, name, sizeof(name));
            PVS_LOG_W("UDP send to %s failed: %s", name, strerror(err));
        }
        return -err;
    }
}

static int recv_once(pvs_socket s, void *buf, size_t cap, struct pvs_addr *from)
{
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    for (;;) {
        /* Without MSG_TRUNC Linux returns the bytes stored, so a datagram
         * longer than cap comes back as cap and the rest is dropped. */
        ssize_t n = recvfrom(s, buf, cap, 0, (struct sockaddr *)&ss, &slen);
        if (n >= 0) {
            if (from && addr_set(from, &ss, slen) != 0)
                memset(from, 0, sizeof(*from));
            return (int)n;
        }
        int err = errno;
        if (err == EINTR)
            continue;
        if (err == EAGAIN || err == EWOULDBLOCK)
            return PVS_EAGAIN;
        if (data_path_log_ok())
            PVS_LOG_W("UDP receive failed: %s", strerror(err));
        return -err;
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
        int n = recv_once(s, buf, cap, from);
        if (n != PVS_EAGAIN)
            return n;
        if (timeout_ms == 0)
            return PVS_ETIMEDOUT;

        int wait_ms = -1;
        if (timeout_ms > 0) {
            int64_t left = deadline - pvs_time_ns();
            if (left <= 0)
                return PVS_ETIMEDOUT;
            /* Round up: poll's milliseconds must not end the wait early. */
            wait_ms = (int)((left + 999999) / 1000000);
        }
        struct pollfd pfd = { .fd = s, .events = POLLIN };
        int r = poll(&pfd, 1, wait_ms);
        if (r < 0 && errno != EINTR) {
            int err = errno;
            PVS_LOG_W("poll on a UDP socket failed: %s", strerror(err));
            return -err;
        }
        /* Readable, interrupted, or timed out: try again; the deadline
         * check above decides when to give up. */
    }
}

void pvs_socket_close(pvs_socket *s)
{
    if (!s || *s == PVS_INVALID_SOCKET)
        return;
    close(*s);
    *s = PVS_INVALID_SOCKET;
}
