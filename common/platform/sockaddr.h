/* Internal to common/platform: the system socket headers and the
 * struct pvs_addr <-> sockaddr helpers shared by addr.c, posix.c, tcp.c
 * and win32.c. Not for use outside common/platform. */
#ifndef PVS_PLATFORM_SOCKADDR_H
#define PVS_PLATFORM_SOCKADDR_H

#include <string.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h> /* before windows.h, which would pull in winsock 1 */
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "common/error.h"
#include "common/platform/platform.h"

static inline const struct sockaddr *addr_sa(const struct pvs_addr *a)
{
    return (const struct sockaddr *)(const void *)a->u.bytes;
}

static inline int addr_family(const struct pvs_addr *a)
{
    return a->len ? addr_sa(a)->sa_family : AF_UNSPEC;
}

/* The start of every call that opens a socket for an address: *out is
 * set to no socket first, then the address's family (AF_INET or AF_INET6)
 * is returned, or PVS_EINVAL when out or a is NULL or a is neither. */
static inline int addr_open_family(pvs_socket *out, const struct pvs_addr *a)
{
    if (!out)
        return PVS_EINVAL;
    *out = PVS_INVALID_SOCKET;
    int family = a ? addr_family(a) : AF_UNSPEC;
    return family == AF_INET || family == AF_INET6 ? family : PVS_EINVAL;
}

static inline int addr_set(struct pvs_addr *out, const void *sa, size_t len)
{
    memset(out, 0, sizeof(*out));
    int family = ((const struct sockaddr *)sa)->sa_family;
    if ((family != AF_INET && family != AF_INET6) || len > sizeof(out->u.bytes))
        return PVS_EINVAL;
    memcpy(out->u.bytes, sa, len);
    out->len = (uint32_t)len;
    return 0;
}

#endif
