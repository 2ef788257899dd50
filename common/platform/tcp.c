/* TCP sockets (common/platform/platform.h, "TCP"), the same on POSIX and
 * Windows: both speak BSD sockets and poll; the few lines that differ are
 * marked. Sockets are non-blocking and every wait goes through poll with a
 * deadline, so no call here blocks longer than its timeout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/platform/sockaddr.h"
#ifdef _WIN32
typedef int sock_len;
#define POLL WSAPoll
typedef WSAPOLLFD poll_fd;
#else
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
typedef socklen_t sock_len;
#define POLL poll
typedef struct pollfd poll_fd;
#endif

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

/* The last socket error as a PVS_E* code (a negated errno). */
static int last_error(void)
{
#ifdef _WIN32
    switch (WSAGetLastError()) {
    case WSAEWOULDBLOCK:
    case WSAEINPROGRESS:   return PVS_EAGAIN;
    case WSAEINTR:         return -EINTR;
    case WSAETIMEDOUT:     return PVS_ETIMEDOUT;
    case WSAECONNREFUSED:  return -ECONNREFUSED;
    case WSAECONNRESET:    return -ECONNRESET;
    case WSAECONNABORTED:  return -ECONNABORTED;
    case WSAEADDRINUSE:    return -EADDRINUSE;
    case WSAEADDRNOTAVAIL: return -EADDRNOTAVAIL;
    case WSAEACCES:        return -EACCES;
    case WSAENETUNREACH:   return -ENETUNREACH;
    case WSAEHOSTUNREACH:  return -EHOSTUNREACH;
    case WSAEINVAL:        return PVS_EINVAL;
    }
    return PVS_EIO;
#else
    int err = errno;
    return err == EWOULDBLOCK ? PVS_EAGAIN : -err;
#endif
}

/* Waits up to timeout_ms for `events` on s. Returns 0 when ready,
 * PVS_ETIMEDOUT, or an error; an interrupted wait counts as ready (the
 * caller's call then says PVS_EAGAIN and it waits again with what is left). */
static int wait_for(pvs_socket s, short events, int timeout_ms)
{
#ifdef _WIN32
    poll_fd pfd = { .fd = (SOCKET)s, .events = events };
#else
    poll_fd pfd = { .fd = s, .events = events };
#endif
    int got = POLL(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
    if (got < 0) {
        int err = last_error();
        return err == -EINTR ? 0 : err;
    }
    return got == 0 ? PVS_ETIMEDOUT : 0;
}

static int ms_left(int timeout_ms, int64_t deadline)
{
    if (timeout_ms <= 0)
        return timeout_ms;
    int64_t left = deadline - pvs_time_ns();
    return left <= 0 ? 0 : (int)((left + 999999) / 1000000);
}

static int set_nonblocking(pvs_socket s)
{
#ifdef _WIN32
    u_long nb = 1;
    return ioctlsocket((SOCKET)s, FIONBIO, &nb) == 0 ? 0 : last_error();
#else
    int fl = fcntl(s, F_GETFL, 0);
    return fl >= 0 && fcntl(s, F_SETFL, fl | O_NONBLOCK) == 0 ? 0 : last_error();
#endif
}

static pvs_socket new_socket(int family)
{
#ifdef _WIN32
    SOCKET s = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    pvs_socket out = s == INVALID_SOCKET ? PVS_INVALID_SOCKET : (pvs_socket)s;
#else
    pvs_socket out = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (out < 0)
        out = PVS_INVALID_SOCKET;
#endif
    if (out != PVS_INVALID_SOCKET && set_nonblocking(out) != 0)
        pvs_socket_close(&out);
    return out;
}

/* Requests and answers are small and wanted at once: no Nagle delay. */
static void set_nodelay(pvs_socket s)
{
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof(one));
}

int pvs_tcp_listen(pvs_socket *out, const struct pvs_addr *local, int backlog)
{
    int family = addr_open_family(out, local);
    if (family < 0)
        return family;
    char name[64];
    pvs_addr_format(local, name, sizeof(name));

    pvs_socket s = new_socket(family);
    if (s == PVS_INVALID_SOCKET) {
        int err = last_error();
        PVS_LOG_E("cannot create a TCP socket for %s: %s", name, pvs_strerror(err));
        return err;
    }
    int zero = 0;
#ifndef _WIN32
    /* A restarted server rebinds at once. (Windows' SO_REUSEADDR would let
     * another program take the port too, so it is not set there.) */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&one, sizeof(one));
#endif
    if (family == AF_INET6) /* dual stack: IPv4 clients too */
        setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&zero, sizeof(zero));
    if (bind(s, addr_sa(local), (sock_len)local->len) != 0 ||
        listen(s, backlog > 0 ? backlog : 8) != 0) {
        int err = last_error();
        PVS_LOG_E("cannot listen on TCP %s: %s%s", name, pvs_strerror(err),
                  err == -EADDRINUSE ? " (another program holds the port)" : "");
        pvs_socket_close(&s);
        return err;
    }
    *out = s;
    return 0;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is. */
static void unmap_ipv4(struct pvs_addr *a)
{
    if (addr_family(a) != AF_INET6)
        return;
    struct sockaddr_in6 sin6;
    memcpy(&sin6, a->u.bytes, sizeof(sin6));
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const uint8_t *b = (const uint8_t *)&sin6.sin6_addr;
    if (memcmp(b, prefix, sizeof(prefix)) != 0)
        return;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = sin6.sin6_port;
    memcpy(&sin.sin_addr, b + 12, 4);
    addr_set(a, &sin, sizeof(sin));
}

int pvs_tcp_accept(pvs_socket listener, pvs_socket *out, struct pvs_addr *peer)
{
    if (!out)
        return PVS_EINVAL;
    *out = PVS_INVALID_SOCKET;
    if (peer)
        memset(peer, 0, sizeof(*peer));
    for (;;) {
        struct sockaddr_storage ss;
        sock_len len = sizeof(ss);
#ifdef _WIN32
        SOCKET c = accept((SOCKET)listener, (struct sockaddr *)&ss, &len);
        pvs_socket s = c == INVALID_SOCKET ? PVS_INVALID_SOCKET : (pvs_socket)c;
#else
        pvs_socket s = accept4(listener, (struct sockaddr *)&ss, &len,
                               SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (s < 0)
            s = PVS_INVALID_SOCKET;
#endif
        if (s == PVS_INVALID_SOCKET) {
            int err = last_error();
            if (err == -EINTR)
                continue;
            /* Gone before it was taken: as if none were waiting. */
            return err == -ECONNABORTED ? PVS_EAGAIN : err;
        }
#ifdef _WIN32
        set_nonblocking(s);
#endif
        set_nodelay(s);
        if (peer) {
            if (addr_set(peer, &ss, (size_t)len) != 0)
                memset(peer, 0, sizeof(*peer));
            unmap_ipv4(peer);
        }
        *out = s;
        return 0;
    }
}

int pvs_tcp_connect(pvs_socket *out, const struct pvs_addr *to, int timeout_ms)
{
    int family = addr_open_family(out, to);
    if (family < 0)
        return family;
    pvs_socket s = new_socket(family);
    if (s == PVS_INVALID_SOCKET)
        return last_error();
    int err = 0;
    if (connect(s, addr_sa(to), (sock_len)to->len) != 0) {
        err = last_error();
        if (err == PVS_EAGAIN || err == -EINPROGRESS) {
            err = wait_for(s, POLLOUT, timeout_ms);
            if (!err) {
                int so = 0;
                sock_len len = sizeof(so);
                getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&so, &len);
#ifdef _WIN32
                err = so == WSAECONNREFUSED ? -ECONNREFUSED : so ? PVS_EIO : 0;
#else
                err = -so;
#endif
            }
        }
    }
    if (err) {
        pvs_socket_close(&s);
        return err;
    }
    set_nodelay(s);
    *out = s;
    return 0;
}

/* After a recv or send that did not move data (err): 0 to try again once
 * the socket is ready for `events`, or the error to return. */
static int again(pvs_socket s, int err, short events, int timeout_ms, int64_t deadline)
{
    if (err == -EINTR)
        return 0;
    if (err != PVS_EAGAIN)
        return err;
    int left = ms_left(timeout_ms, deadline);
    return left == 0 ? PVS_ETIMEDOUT : wait_for(s, events, left);
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms > 0 ? pvs_time_ns() + (int64_t)timeout_ms * 1000000 : 0;
}

int pvs_tcp_recv(pvs_socket s, void *buf, size_t cap, int timeout_ms)
{
    if (!buf || cap == 0 || cap > INT32_MAX)
        return PVS_EINVAL;
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
        int n = (int)recv(s, buf, (int)cap, 0);
        if (n >= 0)
            return n;
        int err = again(s, last_error(), POLLIN, timeout_ms, deadline);
        if (err)
            return err;
    }
}

int pvs_tcp_send(pvs_socket s, const void *buf, size_t len, int timeout_ms)
{
    if (!buf || len == 0)
        return PVS_EINVAL;
    int chunk = len > (1u << 30) ? 1 << 30 : (int)len;
    int64_t deadline = deadline_of(timeout_ms);
    for (;;) {
#ifdef _WIN32
        int n = send((SOCKET)s, buf, chunk, 0);
#else
        int n = (int)send(s, buf, (size_t)chunk, MSG_NOSIGNAL);
#endif
        if (n > 0)
            return n;
        int err = again(s, n == 0 ? PVS_EAGAIN : last_error(), POLLOUT, timeout_ms, deadline);
        if (err)
            return err;
    }
}

int pvs_tcp_shutdown(pvs_socket s)
{
#ifdef _WIN32
    return shutdown((SOCKET)s, SD_SEND) == 0 ? 0 : last_error();
#else
    return shutdown(s, SHUT_WR) == 0 ? 0 : last_error();
#endif
}
