/* Addresses: resolving, formatting and comparing, the same on POSIX and
 * Windows (both speak getaddrinfo and sockaddr); the few lines that differ
 * are marked. posix.c and win32.c keep only the sockets themselves. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/sockaddr.h"

static bool have_ipv6(void)
{
#ifdef _WIN32
    SOCKET s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET)
        return false;
    closesocket(s);
#else
    int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
    if (s < 0)
        return false;
    close(s);
#endif
    return true;
}

/* A wildcard is dual-stack "::" where IPv6 exists, so one server socket
 * answers both IPv4 and IPv6 clients, and a client socket can reach either
 * (Linux sends to an IPv4 sockaddr from a dual-stack socket as is; win32.c
 * retries such a send with the IPv4-mapped address). */
static void resolve_wildcard(struct pvs_addr *out, uint16_t port)
{
    memset(out, 0, sizeof(*out));
    if (have_ipv6()) {
        struct sockaddr_in6 sin6;
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        sin6.sin6_addr = in6addr_any;
        addr_set(out, &sin6, sizeof(sin6));
    } else {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
        addr_set(out, &sin, sizeof(sin));
    }
}

/* True for text that can only be meant as a numeric address, so a failed
 * numeric parse is a typo, not a name to send to DNS ("999.1.1.1", "::g"). */
static bool looks_numeric(const char *s)
{
    if (strchr(s, ':'))
        return true; /* host names never contain ':' */
    for (; *s; s++)
        if ((*s < '0' || *s > '9') && *s != '.')
            return false;
    return true;
}

static bool valid_hostname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (; *s; s++) {
        char ch = *s;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

static int gai_to_pvs(int err)
{
#ifdef _WIN32
    return err == WSA_NOT_ENOUGH_MEMORY ? PVS_ENOMEM : PVS_ENOENT;
#else
    switch (err) {
    case EAI_MEMORY: return PVS_ENOMEM;
    case EAI_SYSTEM: return errno ? -errno : PVS_EIO;
    default:         return PVS_ENOENT;
    }
#endif
}

int pvs_addr_resolve(struct pvs_addr *out, const char *host, uint16_t port)
{
    if (!out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!host || !*host) {
        resolve_wildcard(out, port);
        return 0;
    }

    /* Strip the brackets of "[::1]"; what is inside must be an address. */
    char buf[256];
    size_t n = strlen(host);
    bool bracketed = host[0] == '[';
    if (bracketed) {
        if (n < 3 || host[n - 1] != ']' || n - 2 >= sizeof(buf))
            return PVS_EINVAL;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
    } else {
        if (n >= sizeof(buf))
            return PVS_EINVAL;
        memcpy(buf, host, n + 1);
    }

    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);

    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;

    struct addrinfo *res = NULL;
    int err = getaddrinfo(buf, service, &hints, &res);
    if (err != 0) {
        if (bracketed || looks_numeric(buf) || !valid_hostname(buf))
            return PVS_EINVAL;
        /* No AI_ADDRCONFIG: it hides "localhost" on a machine whose only
         * interface is loopback. glibc orders the answers so that families
         * without a route come last, so the first one is the one to use. */
        hints.ai_flags = AI_NUMERICSERV;
        err = getaddrinfo(buf, service, &hints, &res);
        if (err != 0) {
            int ret = gai_to_pvs(err);
            PVS_LOG_W("cannot resolve '%s': %s", buf, gai_strerror(err));
            return ret;
        }
    }

    int ret = PVS_ENOENT;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (addr_set(out, ai->ai_addr, ai->ai_addrlen) == 0) {
            ret = 0;
            break;
        }
    }
    freeaddrinfo(res);
    return ret;
}

void pvs_addr_format(const struct pvs_addr *a, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    char host[NI_MAXHOST];
    int family = a ? addr_family(a) : AF_UNSPEC;
    if ((family != AF_INET && family != AF_INET6) ||
        getnameinfo(addr_sa(a), (socklen_t)a->len, host, sizeof(host), NULL, 0,
                    NI_NUMERICHOST) != 0) {
        snprintf(buf, len, "(no address)");
        return;
    }
    if (family == AF_INET6)
        snprintf(buf, len, "[%s]:%u", host, (unsigned)pvs_addr_port(a));
    else
        snprintf(buf, len, "%s:%u", host, (unsigned)pvs_addr_port(a));
}

uint16_t pvs_addr_port(const struct pvs_addr *a)
{
    if (!a)
        return 0;
    switch (addr_family(a)) {
    case AF_INET:
        return ntohs(((const struct sockaddr_in *)(const void *)a->u.bytes)->sin_port);
    case AF_INET6:
        return ntohs(((const struct sockaddr_in6 *)(const void *)a->u.bytes)->sin6_port);
    }
    return 0;
}

/* Reduces an address to family, 16 address bytes and port, mapping IPv4 to
 * ::ffff:a.b.c.d, so that a peer seen through a dual-stack socket compares
 * equal to the same peer written as IPv4. */
static bool addr_canon(const struct pvs_addr *a, uint8_t ip[16], uint16_t *port,
                       uint32_t *scope)
{
    *scope = 0;
    if (addr_family(a) == AF_INET) {
        const struct sockaddr_in *sin = (const void *)a->u.bytes;
        memset(ip, 0, 10);
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &sin->sin_addr, 4);
        *port = sin->sin_port;
        return true;
    }
    if (addr_family(a) == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *)a->u.bytes;
        memcpy(ip, &sin6->sin6_addr, 16);
        *port = sin6->sin6_port;
        *scope = sin6->sin6_scope_id;
        return true;
    }
    return false;
}

bool pvs_addr_equal(const struct pvs_addr *a, const struct pvs_addr *b)
{
    uint8_t ipa[16], ipb[16];
    uint16_t pa, pb;
    uint32_t sa, sb;
    if (!a || !b)
        return false;
    bool va = addr_canon(a, ipa, &pa, &sa);
    bool vb = addr_canon(b, ipb, &pb, &sb);
    if (!va || !vb)
        return !va && !vb; /* two empty addresses are equal */
    return pa == pb && sa == sb && memcmp(ipa, ipb, 16) == 0;
}
