/* The private local channel on POSIX (localipc.h): a Unix-domain stream
 * socket in the user's private configuration directory.
 *
 * Three locks, each enough alone on Linux: the directory is the user's and
 * nobody else may write in it (no one can put or replace a socket there);
 * the socket is mode 0600 (connecting needs write permission on it); and
 * each peer's credentials are read from the kernel (SO_PEERCRED) and a
 * peer that is neither this effective uid nor root is closed unserved. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/localipc.h"
#include "common/platform/platform.h"

struct pvs_ipc_server {
    int fd;
    ino_t ino; /* the socket we made, so close removes ours and no other */
    dev_t dev;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

struct pvs_ipc_conn {
    int fd;
};

static int socket_path(struct sockaddr_un *sa, const char *dir, const char *name)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, name);
    return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? PVS_ERANGE : 0;
}

/* Others must not be able to add, remove or replace entries in dir. */
static int check_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) < 0) {
        int err = errno;
        PVS_LOG_E("cannot use %s for the local channel: %s", dir, strerror(err));
        return -err;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
        PVS_LOG_E("the directory %s is refused for the local channel: it must be a "
                  "directory owned by you that nobody else can write to "
                  "(chmod 700 %s)", dir, dir);
        return PVS_ECONFIG;
    }
    return 0;
}

static int new_socket(void)
{
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* A socket file already there: a server that still answers keeps it; one
 * nobody answers on is what a crash left, and is removed. Never removes
 * anything but a socket. */
static int clear_stale(const struct sockaddr_un *sa)
{
    struct stat st;
    if (lstat(sa->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) {
        PVS_LOG_E("%s is in the way of the local channel and is not a socket: "
                  "move it away", sa->sun_path);
        return PVS_ECONFIG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
    int err = errno;
    close(fd);
    if (rc == 0)
        return -EADDRINUSE;
    if (err != ECONNREFUSED)
        return -err;
    return unlink(sa->sun_path) == 0 || errno == ENOENT ? 0 : -errno;
}

int pvs_ipc_listen(struct pvs_ipc_server **out, const char *dir, const char *name)
{
    if (!out || !dir || !name)
        return PVS_EINVAL;
    *out = NULL;
    struct sockaddr_un sa;
    if (socket_path(&sa, dir, name)) {
        PVS_LOG_E("the local channel's path %s/%s is longer than this system allows "
                  "(%zu bytes): set PVS_CONFIG_DIR to a shorter directory", dir, name,
                  sizeof(sa.sun_path) - 1);
        return PVS_ERANGE;
    }
    int rc = check_dir(dir);
    if (rc)
        return rc;
    if ((rc = clear_stale(&sa)) != 0) {
        if (rc == -EADDRINUSE)
            PVS_LOG_E("another program already listens on %s: is a server running?",
                      sa.sun_path);
        else if (rc != PVS_ECONFIG)
            PVS_LOG_E("cannot replace the old socket %s: %s", sa.sun_path, pvs_strerror(rc));
        return rc;
    }
    struct pvs_ipc_server *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    snprintf(s->path, sizeof(s->path), "%s", sa.sun_path);
    struct stat st;
    s->fd = new_socket();
    if (s->fd < 0 || bind(s->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(sa.sun_path, 0600) < 0 || lstat(sa.sun_path, &st) < 0 || listen(s->fd, 4) < 0) {
        rc = -errno;
        PVS_LOG_E("cannot listen on %s: %s", sa.sun_path, strerror(errno));
        if (s->fd >= 0)
            close(s->fd);
        free(s);
        return rc;
    }
    s->ino = st.st_ino;
    s->dev = st.st_dev;
    *out = s;
    return 0;
}

static bool peer_allowed(int fd)
{
#ifdef SO_PEERCRED
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
        return false;
    return cred.uid == geteuid() || cred.uid == 0;
#else
    uid_t uid;
    gid_t gid;
    if (getpeereid(fd, &uid, &gid) < 0)
        return false;
    return uid == geteuid() || uid == 0;
#endif
}

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n == 0 ? PVS_ETIMEDOUT : 0;
}

int pvs_ipc_accept(struct pvs_ipc_server *s, struct pvs_ipc_conn **out, int timeout_ms)
{
    if (!s || !out)
        return PVS_EINVAL;
    *out = NULL;
    int rc = wait_readable(s->fd, timeout_ms);
    if (rc)
        return rc;
    int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return errno == EAGAIN || errno == EINTR || errno == ECONNABORTED ? PVS_ETIMEDOUT
                                                                           : -errno;
    if (!peer_allowed(fd)) {
        close(fd);
        PVS_LOG_W("refused a connection to %s from another user", s->path);
        return -EACCES;
    }
    struct pvs_ipc_conn *c = malloc(sizeof(*c));
    if (!c) {
        close(fd);
        return PVS_ENOMEM;
    }
    c->fd = fd;
    *out = c;
    return 0;
}

void pvs_ipc_close(struct pvs_ipc_server **sp)
{
    if (!sp || !*sp)
        return;
    struct pvs_ipc_server *s = *sp;
    struct stat st;
    if (lstat(s->path, &st) == 0 && st.st_ino == s->ino && st.st_dev == s->dev)
        unlink(s->path);
    close(s->fd);
    free(s);
    *sp = NULL;
}

int pvs_ipc_connect(struct pvs_ipc_conn **out, const char *dir, const char *name)
{
    if (!out || !dir || !name)
        return PVS_EINVAL;
    *out = NULL;
    struct sockaddr_un sa;
    if (socket_path(&sa, dir, name))
        return PVS_ERANGE;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* A local connect completes or fails at once; no wait is needed. */
    if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        return err == ENOENT || err == ECONNREFUSED ? PVS_ENOENT : -err;
    }
    int fl = fcntl(fd, F_GETFL);
    struct pvs_ipc_conn *c = fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0
                                 ? malloc(sizeof(*c)) : NULL;
    if (!c) {
        close(fd);
        return PVS_ENOMEM;
    }
    c->fd = fd;
    *out = c;
    return 0;
}

int pvs_ipc_read(struct pvs_ipc_conn *c, void *buf, size_t cap, int timeout_ms)
{
    if (!c || !buf || cap == 0)
        return PVS_EINVAL;
    for (;;) {
        ssize_t n = read(c->fd, buf, cap > 65536 ? 65536 : cap);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        int rc = wait_readable(c->fd, timeout_ms);
        if (rc)
            return rc;
    }
}

int pvs_ipc_write(struct pvs_ipc_conn *c, const void *buf, size_t len)
{
    if (!c || (!buf && len))
        return PVS_EINVAL;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return -errno;
        struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
        if (poll(&pfd, 1, 2000) == 0)
            return PVS_ETIMEDOUT;
    }
    return 0;
}

void pvs_ipc_conn_close(struct pvs_ipc_conn **cp)
{
    if (!cp || !*cp)
        return;
    close((*cp)->fd);
    free(*cp);
    *cp = NULL;
}
