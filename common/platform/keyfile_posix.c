/* Key files on POSIX (keyfile.h): the configuration directory made 0700,
 * files read only when they are regular, ours and mode 0600 or tighter, and
 * rewritten through an fsynced 0600 temporary file and rename (or link, to
 * create without replacing).
 *
 * Files are checked on the descriptor that is then read (fstat after open
 * with O_NOFOLLOW), so what was checked is what is read. Buffers that held
 * file text are wiped before they are freed: it may be a secret key. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"

/* ---- directories ---------------------------------------------------------- */

/* mkdir -p with mode 0700 for every directory it makes. */
static int make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return PVS_ENOMEM;
    int rc = 0;
    for (char *s = p + 1;; s++) {
        bool last = *s == '\0';
        if (*s != '/' && !last)
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST) {
            rc = -errno;
            PVS_LOG_E("cannot create the configuration directory %s (making %s): %s; "
                      "create it yourself or set PVS_CONFIG_DIR to another directory",
                      path, p, strerror(errno));
            break;
        }
        *s = c;
        if (last)
            break;
    }
    free(p);
    if (rc)
        return rc;
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        PVS_LOG_E("the configuration directory %s is not a directory: move the file "
                  "away or set PVS_CONFIG_DIR to another directory", path);
        return PVS_ECONFIG;
    }
    return 0;
}

int pvs_keyfile_dir(char *buf, size_t len)
{
    if (!buf || len == 0)
        return PVS_EINVAL;
    buf[0] = '\0';
    const char *v;
    int n;
    if ((v = getenv("PVS_CONFIG_DIR")) && *v) {
        n = snprintf(buf, len, "%s", v);
    } else if ((v = getenv("XDG_CONFIG_HOME")) && v[0] == '/') {
        /* The XDG spec says a relative value is invalid and ignored. */
        n = snprintf(buf, len, "%s/pvstream", v);
    } else if ((v = getenv("HOME")) && *v) {
        n = snprintf(buf, len, "%s/.config/pvstream", v);
    } else {
        PVS_LOG_E("cannot find a configuration directory: HOME is not set; set "
                  "PVS_CONFIG_DIR to the directory pvstream should keep its keys in");
        return PVS_ECONFIG;
    }
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        PVS_LOG_E("the configuration directory's path is too long (%d bytes, room "
                  "for %zu)", n, len - 1);
        return PVS_ERANGE;
    }
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    return make_dirs(buf);
}

int pvs_keyfile_use_service_store(void)
{
    return PVS_ENOTSUP;
}

/* ---- reading a trusted file ----------------------------------------------- */

int pvs_keyfile_read(const char *path, const char *what, bool secret, size_t max,
                     char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    /* O_NONBLOCK: a FIFO put there must not hang us before fstat refuses it. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return PVS_ENOENT;
        if (e == ELOOP) {
            PVS_LOG_E("the %s %s is refused: it is a symbolic link; put the file "
                      "itself there (owned by you, chmod 600)", what, path);
            return PVS_ECONFIG;
        }
        PVS_LOG_E("cannot open the %s %s: %s", what, path, strerror(e));
        return -e;
    }
    int rc = 0;
    char *buf = NULL;
    size_t n = 0;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        PVS_LOG_E("cannot stat the %s %s: %s", what, path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        PVS_LOG_E("the %s %s is refused: it is not a regular file; move it away "
                  "and put a regular file there (chmod 600)", what, path);
        rc = PVS_ECONFIG;
        goto done;
    }
    if (st.st_uid != geteuid()) {
        PVS_LOG_E("the %s %s is refused: it belongs to another user (uid %ld, you "
                  "are uid %ld); run pvstream as its owner, or make it yours: "
                  "chown %ld %s", what, path, (long)st.st_uid, (long)geteuid(),
                  (long)geteuid(), path);
        rc = PVS_ECONFIG;
        goto done;
    }
    if (st.st_mode & 077) {
        PVS_LOG_E("the %s %s is refused: its mode %03o lets other users %s it; fix "
                  "it with: chmod 600 %s%s", what, path, (unsigned)(st.st_mode & 0777),
                  (st.st_mode & 022) ? "change" : "read", path,
                  secret ? " (if others could read it, the key may be known: delete "
                           "the file to make a new key, then pair again)" : "");
        rc = PVS_ECONFIG;
        goto done;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        PVS_LOG_E("the %s %s is refused: it is %lld bytes, more than the %zu a "
                  "valid one can have", what, path, (long long)st.st_size, max);
        rc = PVS_ECONFIG;
        goto done;
    }
    /* Read to the end, not just st_size bytes: the size may change under us.
     * One byte more than `max` tells a file that grew too large. */
    buf = malloc(max + 2);
    if (!buf) {
        rc = PVS_ENOMEM;
        goto done;
    }
    while (n <= max) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            PVS_LOG_E("cannot read the %s %s: %s", what, path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        PVS_LOG_E("the %s %s is refused: it is more than the %zu bytes a valid one "
                  "can have", what, path, max);
        rc = PVS_ECONFIG;
        goto done;
    }
    buf[n] = '\0';
done:
    close(fd);
    if (rc) {
        if (buf)
            sodium_memzero(buf, max + 2);
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

void pvs_keyfile_free(char *buf, size_t len)
{
    if (buf)
        sodium_memzero(buf, len);
    free(buf);
}

/* ---- writing atomically --------------------------------------------------- */

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Makes a rename in the directory of `path` durable. Failure is only
 * logged: the file is in place, just maybe not yet on disk. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        if (fsync(fd) < 0 && errno != EINVAL)
            PVS_LOG_W("cannot sync the directory %s: %s", dir, strerror(errno));
        close(fd);
    }
    free(dir);
}

/* `exclusive` creates with link(), which refuses to replace; otherwise
 * rename() replaces. */
int pvs_keyfile_write(const char *path, const char *what, const char *data, size_t len,
                      bool exclusive)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp)
        return PVS_ENOMEM;
    int fd = -1, rc = 0;
    for (int i = 0; i < 16 && fd < 0; i++) {
        snprintf(tmp, plen + 16, "%s.tmp-%08" PRIx32, path, randombytes_random());
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        rc = -errno;
        PVS_LOG_E("cannot write the %s %s: creating %s failed: %s", what, path, tmp,
                  strerror(errno));
        free(tmp);
        return rc;
    }
    const char *step = "writing";
    rc = write_all(fd, data, len);
    if (!rc && fsync(fd) < 0) {
        rc = -errno;
        step = "syncing";
    }
    if (close(fd) < 0 && !rc) {
        rc = -errno;
        step = "closing";
    }
    if (!rc && exclusive) {
        step = "linking";
        if (link(tmp, path) < 0) {
            rc = -errno;
            /* File systems without hard links: replace instead, which can
             * only lose to a process creating the file at the same instant. */
            if (rc == -EPERM || rc == -EOPNOTSUPP || rc == -ENOSYS) {
                step = "renaming";
                rc = rename(tmp, path) < 0 ? -errno : 0;
            }
        }
    } else if (!rc) {
        step = "renaming";
        if (rename(tmp, path) < 0)
            rc = -errno;
    }
    unlink(tmp);  /* after link: the extra name; after rename: nothing there */
    if (rc == -EEXIST && exclusive) {
        free(tmp);
        return rc;
    }
    if (rc)
        PVS_LOG_E("cannot write the %s %s: %s %s failed: %s", what, path, step, tmp,
                  strerror(-rc));
    else
        sync_dir(path);
    free(tmp);
    return rc;
}
