/* The platform layer (platform.h) for Linux and other POSIX systems: time from
 * CLOCK_MONOTONIC, pthreads, and BSD sockets. Windows has its own in win32.c;
 * the two must behave the same, so a change here usually needs one there. */
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
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

int64_t pvs_thread_cpu_time_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return ts_to_ns(&ts);
}

/* ---- libraries ----------------------------------------------------------- */

int pvs_thread_boost(const char *task)
{
    /* Real-time classes need privileges a streaming user does not have, and
     * the CFS scheduler serves a mostly idle video thread well. */
    (void)task;
    return PVS_ENOTSUP;
}

int pvs_host_name(char *buf, size_t len)
{
    if (!buf || len == 0)
        return PVS_EINVAL;
    if (gethostname(buf, len) != 0) {
        buf[0] = '\0';
        return -errno;
    }
    buf[len - 1] = '\0'; /* POSIX leaves a cut name unterminated */
    return 0;
}

static void (*stop_fn)(void);

static void on_stop_signal(int sig)
{
    (void)sig;
    if (stop_fn)
        stop_fn();
}

void pvs_on_stop_request(void (*fn)(void))
{
    stop_fn = fn;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int pvs_desktop_follow_input(char *name, size_t name_len)
{
    /* X11 and Wayland have no per-thread desktops: what the display shows
     * is what a capture or an injector on it reaches. */
    if (name && name_len)
        name[0] = '\0';
    return PVS_ENOTSUP;
}

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

/* ---- UDP GSO state --------------------------------------------------------
 * Why GSO: a 1 MB key frame is ~750 datagrams; one sendto each costs a
 * syscall and a full trip down the stack per datagram. With UDP_SEGMENT
 * (Linux 4.18+) the kernel takes up to 64 equal-sized datagrams in one
 * sendmsg and splits them as late as possible (in the NIC when it offloads
 * it): on loopback, receive included, a 300-datagram burst of 1,400 bytes
 * cost about 0.9 µs per datagram with GSO, 3.2 µs with sendmmsg and 3.6 µs
 * with one sendto each.
 * Limits: the kernel refuses more than 64 segments (UDP_MAX_SEGMENTS; newer
 * kernels allow 128, older ones do not, so 64 is what is used) and one send
 * is one UDP "super-datagram", so the total must stay under 65,507 bytes:
 * 46 datagrams of 1,400 bytes per call.
 * Why the fallback: a kernel may know UDP_SEGMENT yet refuse it for the
 * route (EIO when the device cannot offload checksums, e.g. some tunnels and
 * IPsec; EINVAL when a segment does not fit the path MTU). The first refusal
 * turns GSO off for that socket for good and the batch goes out through
 * sendmmsg, so a refusal costs one wasted syscall per socket, not per frame.
 * The state lives in a table indexed by descriptor (pvs_socket is a bare fd);
 * sockets past the table, or not opened by pvs_udp_open, use sendmmsg.
 * PVS_UDP_NO_GSO=1 in the environment, read when a socket is opened, forces
 * the fallback (for tests and for comparing the two). */

#define UDP_MAX_PAYLOAD 65507 /* 65,535 - 20 (IPv4 header) - 8 (UDP header) */

#ifdef __linux__
#define GSO_TABLE_SIZE 4096
#define GSO_MAX_SEGMENTS 64

static atomic_bool gso_on[GSO_TABLE_SIZE];

static void gso_probe(int s)
{
    if (s < 0 || s >= GSO_TABLE_SIZE)
        return;
    const char *env = getenv("PVS_UDP_NO_GSO");
    bool on = false;
    if (!env || !*env || strcmp(env, "0") == 0) {
        /* getsockopt succeeds exactly when the kernel knows the option;
         * whether the route takes it is only learnt by sending. */
        int val = 0;
        socklen_t len = sizeof(val);
        on = getsockopt(s, SOL_UDP, UDP_SEGMENT, &val, &len) == 0;
    }
    atomic_store_explicit(&gso_on[s], on, memory_order_relaxed);
}

static void gso_forget(int s)
{
    if (s >= 0 && s < GSO_TABLE_SIZE)
        atomic_store_explicit(&gso_on[s], false, memory_order_relaxed);
}

static bool gso_enabled(int s)
{
    return s >= 0 && s < GSO_TABLE_SIZE &&
           atomic_load_explicit(&gso_on[s], memory_order_relaxed);
}
#else
static void gso_probe(int s) { (void)s; }
static void gso_forget(int s) { (void)s; }
static bool gso_enabled(int s) { (void)s; return false; }
#endif

int pvs_udp_open(pvs_socket *out, const struct pvs_addr *local)
{
    int family = addr_open_family(out, local);
    if (family < 0)
        return family;

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

    /* Never fragment: a datagram over the path MTU is refused (EMSGSIZE)
     * rather than split, since losing one fragment loses the datagram and
     * FEC counts datagrams. Best effort: a system without it still works. */
    int pmtu = IP_PMTUDISC_DO;
    setsockopt(s, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
    if (family == AF_INET6) {
        int v6pmtu = IPV6_PMTUDISC_DO;
        setsockopt(s, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6pmtu, sizeof(v6pmtu));
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
    gso_probe(s);
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

/* Waits until s is readable, a signal comes, or the deadline (when
 * timeout_ms > 0; forever when negative) passes. Returns 0 to try again,
 * PVS_ETIMEDOUT (also at once for timeout_ms 0), or a negative errno. */
static int wait_readable(pvs_socket s, int timeout_ms, int64_t deadline)
{
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
    if (poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
        int err = errno;
        PVS_LOG_W("poll on a UDP socket failed: %s", strerror(err));
        return -err;
    }
    /* Readable, interrupted, or timed out: the caller tries again, and the
     * deadline check above decides when to give up. */
    return 0;
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
        int err = wait_readable(s, timeout_ms, deadline);
        if (err)
            return err;
    }
}

int pvs_udp_poll(const pvs_socket *socks, int n, int64_t timeout_us, bool *ready)
{
    if (!socks || !ready || n < 1 || n > 16)
        return PVS_EINVAL;
    struct pollfd pfd[16];
    for (int i = 0; i < n; i++)
        pfd[i] = (struct pollfd){ .fd = socks[i], .events = POLLIN };
    struct timespec ts = { (time_t)(timeout_us / 1000000), (long)(timeout_us % 1000000) * 1000 };
    int got = ppoll(pfd, (nfds_t)n, timeout_us < 0 ? NULL : &ts, NULL);
    if (got < 0 && errno != EINTR) {
        int err = errno;
        PVS_LOG_W("poll on UDP sockets failed: %s", strerror(err));
        return -err;
    }
    for (int i = 0; i < n; i++)
        ready[i] = got > 0 && (pfd[i].revents & (POLLIN | POLLERR)) != 0;
    return got > 0 ? got : 0;
}

/* ---- batched UDP --------------------------------------------------------- */

/* Errors with which a kernel that knows UDP_SEGMENT still refuses it for a
 * socket or route (see "UDP GSO state" above). */
static bool gso_refused(int err)
{
    return err == EIO || err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP ||
           err == ENOPROTOOPT || err == ENODEV;
}

static void log_send_error(const struct pvs_addr *to, int err)
{
    if (data_path_log_ok()) {
        char name[64];
        pvs_addr_format(to, name, sizeof(name));
        PVS_LOG_W("UDP send to %s failed: %s", name, strerror(err));
    }
}

#ifdef __linux__
#define MMSG_MAX 64

/* One GSO send of n datagrams (2 <= n <= GSO_MAX_SEGMENTS). Returns 0 or a
 * negated errno. */
static int send_gso(int s, const uint8_t *p, size_t stride, size_t len, int n,
                    const struct pvs_addr *to)
{
    struct iovec iov[GSO_MAX_SEGMENTS];
    int niov;
    if (stride == len) {
        iov[0].iov_base = (void *)p;
        iov[0].iov_len = len * (size_t)n;
        niov = 1;
    } else {
        /* Gaps between the datagrams: the kernel cuts the concatenation of
         * the iovecs every gso_size bytes, so one iovec per datagram keeps
         * the boundaries. */
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = (void *)(p + (size_t)i * stride);
            iov[i].iov_len = len;
        }
        niov = n;
    }
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {
        .msg_name = (void *)addr_sa(to),
        .msg_namelen = to->len,
        .msg_iov = iov,
        .msg_iovlen = (size_t)niov,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t seg = (uint16_t)len;
    memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
    for (;;) {
        /* All or nothing: the kernel queues the whole send or none of it. */
        if (sendmsg(s, &msg, 0) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

/* Up to MMSG_MAX datagrams with one sendmmsg. Returns how many went (>= 1)
 * or a negated errno. */
static int send_mmsg(int s, const uint8_t *p, size_t stride, size_t len, int n,
                     const struct pvs_addr *to)
{
    struct mmsghdr msgs[MMSG_MAX];
    struct iovec iov[MMSG_MAX];
    if (n > MMSG_MAX)
        n = MMSG_MAX;
    memset(msgs, 0, sizeof(msgs[0]) * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = (void *)(p + (size_t)i * stride);
        iov[i].iov_len = len;
        msgs[i].msg_hdr.msg_name = (void *)addr_sa(to);
        msgs[i].msg_hdr.msg_namelen = to->len;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        int r = sendmmsg(s, msgs, (unsigned)n, 0);
        if (r > 0)
            return r;
        if (r == 0) /* not expected for n >= 1; do not spin on it */
            return -EAGAIN;
        if (errno != EINTR)
            return -errno;
    }
}
#endif

int pvs_udp_send_batch(pvs_socket s, const void *buf, size_t stride, size_t len,
                       int count, const struct pvs_addr *to)
{
    if (!to || !to->len || !buf || count < 0 || len == 0 || len > UDP_MAX_PAYLOAD ||
        stride < len)
        return PVS_EINVAL;
    const uint8_t *p = buf;
    int sent = 0;
    int err = 0;
    while (sent < count) {
        const uint8_t *at = p + (size_t)sent * stride;
        int left = count - sent;
#ifdef __linux__
        if (left >= 2 && gso_enabled(s)) {
            int n = left < GSO_MAX_SEGMENTS ? left : GSO_MAX_SEGMENTS;
            if ((size_t)n * len > UDP_MAX_PAYLOAD)
                n = (int)(UDP_MAX_PAYLOAD / len);
            if (n >= 2) {
                err = send_gso(s, at, stride, len, n, to);
                if (err == 0) {
                    sent += n;
                    continue;
                }
                if (!gso_refused(-err))
                    break;
                gso_forget(s);
                char name[64];
                pvs_addr_format(to, name, sizeof(name));
                PVS_LOG_I("the kernel refuses UDP GSO for %s (%s): sending with "
                          "sendmmsg on this socket from now on", name, strerror(-err));
                /* Then the same datagrams through sendmmsg, below. */
            }
        }
        int r = send_mmsg(s, at, stride, len, left, to);
#else
        int r = pvs_udp_send(s, at, len, to);
        if (r >= 0)
            r = 1;
#endif
        if (r < 0) {
            err = r;
            break;
        }
        sent += r;
    }
    if (sent > 0)
        return sent; /* an error for the rest shows again on the next call */
    if (err == -EAGAIN || err == -EWOULDBLOCK)
        return PVS_EAGAIN;
    if (err < 0)
        log_send_error(to, -err);
    return err;
}

#ifdef __linux__
/* Each message's SO_TIMESTAMPNS stamp (CLOCK_REALTIME) on pvs_time_us's
 * monotonic clock: the two clocks' difference is read once per batch (a
 * clock step between the stamp and now shifts it; such a stamp is later
 * than now or far in the past and is replaced by now). Without a stamp:
 * now. */
static void arrival_times(struct mmsghdr *msgs, int n, int64_t *out)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t now = pvs_time_us();
    int64_t offset = now - ((int64_t)rt.tv_sec * 1000000 + rt.tv_nsec / 1000);
    for (int i = 0; i < n; i++) {
        out[i] = now;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c;
             c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
                c->cmsg_len < CMSG_LEN(sizeof(struct timespec)))
                continue;
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            int64_t t = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + offset;
            if (t <= now && now - t < 10000000)
                out[i] = t;
        }
    }
}
#endif

/* Takes what is queued, without waiting. Returns the number received (>= 1),
 * PVS_EAGAIN when nothing is, or another negative code. */
static int recv_queued(pvs_socket s, uint8_t *buf, size_t stride, int count,
                       size_t *lens, struct pvs_addr *from, int64_t *arrived_us)
{
#ifdef __linux__
    struct mmsghdr msgs[MMSG_MAX];
    struct iovec iov[MMSG_MAX];
    struct sockaddr_storage names[MMSG_MAX];
    union { char buf[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } ctl[MMSG_MAX];
    int got = 0;
    while (got < count) {
        int n = count - got < MMSG_MAX ? count - got : MMSG_MAX;
        memset(msgs, 0, sizeof(msgs[0]) * (size_t)n);
        for (int i = 0; i < n; i++) {
            iov[i].iov_base = buf + (size_t)(got + i) * stride;
            iov[i].iov_len = stride;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            if (from) {
                msgs[i].msg_hdr.msg_name = &names[i];
                msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
            }
            if (arrived_us) {
                msgs[i].msg_hdr.msg_control = ctl[i].buf;
                msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
            }
        }
        /* MSG_WAITFORONE: return as soon as the queue is empty, with what
         * was there (the socket is non-blocking as well). */
        int r = recvmmsg(s, msgs, (unsigned)n, MSG_WAITFORONE, NULL);
        if (r < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            if (got > 0)
                break; /* report it on the next call */
            if (err == EAGAIN || err == EWOULDBLOCK)
                return PVS_EAGAIN;
            if (data_path_log_ok())
                PVS_LOG_W("UDP receive failed: %s", strerror(err));
            return -err;
        }
        if (arrived_us)
            arrival_times(msgs, r, arrived_us + got);
        for (int i = 0; i < r; i++) {
            /* Without MSG_TRUNC in the flags msg_len counts the bytes
             * stored, so a datagram longer than stride reads as stride. */
            lens[got + i] = msgs[i].msg_len;
            if (from && addr_set(&from[got + i], &names[i], msgs[i].msg_hdr.msg_namelen) != 0)
                memset(&from[got + i], 0, sizeof(from[0]));
        }
        got += r;
        if (r < n)
            break; /* the queue is empty */
    }
    return got;
#else
    int got = 0;
    while (got < count) {
        int r = recv_once(s, buf + (size_t)got * stride, stride, from ? &from[got] : NULL);
        if (r < 0) {
            if (got > 0)
                break;
            return r;
        }
        if (arrived_us)
            arrived_us[got] = pvs_time_us();
        lens[got++] = (size_t)r;
    }
    return got;
#endif
}

int pvs_udp_recv_batch(pvs_socket s, void *buf, size_t stride, int count,
                       size_t *lens, struct pvs_addr *from, int timeout_ms)
{
    return pvs_udp_recv_batch_at(s, buf, stride, count, lens, from, NULL, timeout_ms);
}

int pvs_udp_enable_arrival_stamps(pvs_socket s)
{
#ifdef SO_TIMESTAMPNS
    int on = 1;
    if (setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) == 0)
        return 0;
    PVS_LOG_D("no arrival stamps on this socket: %s", strerror(errno));
#else
    (void)s;
#endif
    return PVS_ENOTSUP;
}

int pvs_udp_recv_batch_at(pvs_socket s, void *buf, size_t stride, int count, size_t *lens,
                          struct pvs_addr *from, int64_t *arrived_us, int timeout_ms)
{
    if (!buf || !lens || stride == 0 || stride > INT32_MAX || count <= 0)
        return PVS_EINVAL;

    int64_t deadline = timeout_ms > 0 ? pvs_time_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        int n = recv_queued(s, buf, stride, count, lens, from, arrived_us);
        if (n != PVS_EAGAIN)
            return n;
        int err = wait_readable(s, timeout_ms, deadline);
        if (err)
            return err;
    }
}

int pvs_udp_set_dscp(pvs_socket s, int dscp)
{
    if (dscp < 0 || dscp > 63)
        return PVS_EINVAL;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &slen) != 0) {
        int err = errno;
        PVS_LOG_W("cannot mark UDP packets with DSCP %d: getsockname failed: %s", dscp,
                  strerror(err));
        return -err;
    }
    /* DSCP is the upper six bits of the byte; the lower two are ECN, left 0
     * (not ECN-capable). */
    int tos = dscp << 2;
    int r;
    if (ss.ss_family == AF_INET) {
        r = setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    } else if (ss.ss_family == AF_INET6) {
        r = setsockopt(s, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
        /* A dual-stack socket sends to IPv4 peers with the IPv4 TOS, which is
         * a separate option; a v6-only socket may refuse it, which is fine. */
        if (r == 0)
            (void)setsockopt(s, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    } else {
        return PVS_EINVAL;
    }
    if (r != 0) {
        int err = errno;
        PVS_LOG_W("cannot mark UDP packets with DSCP %d: %s", dscp, strerror(err));
        return err == ENOPROTOOPT || err == EOPNOTSUPP || err == EPERM ? PVS_ENOTSUP : -err;
    }
    return 0;
}

bool pvs_udp_gso_active(pvs_socket s)
{
    return gso_enabled(s);
}

void pvs_socket_close(pvs_socket *s)
{
    if (!s || *s == PVS_INVALID_SOCKET)
        return;
    gso_forget(*s);
    close(*s);
    *s = PVS_INVALID_SOCKET;
}
