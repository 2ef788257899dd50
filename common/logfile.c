/* Size-rotated log files (logfile.h). Plain C stdio, so the rotation is
 * tested on Linux; the Windows service is its user. */
#include "common/logfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/platform/platform.h"

struct pvs_logfile {
    pvs_mutex lock;
    FILE *f;
    long size;      /* bytes in the current file */
    long max_bytes;
    int keep;
    char *base;     /* DIR/NAME, to which ".log" or ".N.log" is added */
};

/* DIR/NAME.log for n == 0, DIR/NAME.n.log after. */
static void file_name(const struct pvs_logfile *f, int n, char *buf, size_t len)
{
    if (n == 0)
        snprintf(buf, len, "%s.log", f->base);
    else
        snprintf(buf, len, "%s.%d.log", f->base, n);
}

static int open_current(struct pvs_logfile *f)
{
    char path[1024];
    file_name(f, 0, path, sizeof(path));
    f->f = fopen(path, "ab");
    if (!f->f)
        return errno ? -errno : PVS_EIO;
    fseek(f->f, 0, SEEK_END);
    f->size = ftell(f->f);
    if (f->size < 0)
        f->size = 0;
    return 0;
}

/* Shifts NAME.log -> NAME.1.log -> ... and drops the oldest. Windows'
 * rename() does not replace a file, so each target is made free first. When
 * a step fails (another program holds a file open) the current file goes
 * on growing and the next rotation tries again. */
static void rotate(struct pvs_logfile *f)
{
    char from[1024], to[1024];
    fclose(f->f);
    f->f = NULL;
    file_name(f, f->keep - 1, to, sizeof(to));
    remove(to);
    for (int n = f->keep - 1; n >= 1; n--) {
        file_name(f, n - 1, from, sizeof(from));
        file_name(f, n, to, sizeof(to));
        rename(from, to);
    }
    if (open_current(f) == 0 && f->size >= f->max_bytes)
        f->size = 0; /* could not move it away: try again after another max_bytes */
}

int pvs_logfile_open(struct pvs_logfile **out, const char *dir, const char *name,
                     long max_bytes, int keep)
{
    *out = NULL;
    if (!dir || !name || max_bytes < 1 || keep < 1)
        return PVS_EINVAL;
    struct pvs_logfile *f = calloc(1, sizeof(*f));
    size_t n = strlen(dir) + strlen(name) + 2;
    char *base = malloc(n);
    if (!f || !base || pvs_mutex_init(&f->lock) != 0) {
        free(f);
        free(base);
        return PVS_ENOMEM;
    }
    snprintf(base, n, "%s%s%s", dir, PVS_PATH_SEP, name);
    f->base = base;
    f->max_bytes = max_bytes;
    f->keep = keep;
    int rc = open_current(f);
    if (rc) {
        pvs_logfile_close(&f);
        return rc;
    }
    *out = f;
    return 0;
}

void pvs_logfile_close(struct pvs_logfile **f)
{
    if (!f || !*f)
        return;
    if ((*f)->f)
        fclose((*f)->f);
    pvs_mutex_destroy(&(*f)->lock);
    free((*f)->base);
    free(*f);
    *f = NULL;
}

int pvs_logfile_write(struct pvs_logfile *f, const char *text, size_t len)
{
    int rc = 0;
    pvs_mutex_lock(&f->lock);
    if (f->f && f->size > 0 && (long)len > f->max_bytes - f->size)
        rotate(f);
    if (!f->f && open_current(f) != 0) {
        rc = PVS_EIO;
    } else if (fwrite(text, 1, len, f->f) != len || fflush(f->f) != 0) {
        rc = PVS_EIO;
    }
    if (f->f)
        f->size += (long)len;
    pvs_mutex_unlock(&f->lock);
    return rc;
}

void pvs_logfile_sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                      const char *msg)
{
    /* UTC, so that lines from before and after a clock change still sort. */
    time_t secs = (time_t)(pvs_wall_time_us() / 1000000);
    struct tm tm;
#ifdef _WIN32
    gmtime_s(&tm, &secs);
#else
    gmtime_r(&secs, &tm);
#endif
    char out[1300];
    size_t n = strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%SZ ", &tm);
    pvs_log_format(out + n, sizeof(out) - n, level, file, line, msg);
    pvs_logfile_write(opaque, out, strlen(out));
}
