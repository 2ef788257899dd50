/* Logging to stderr or to a sink set by the program. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

static enum pvs_log_level log_level = PVS_LOG_INFO;
static int log_level_from_env; /* 0: not read yet */
static int64_t log_start_ns;
static pvs_log_sink log_sink;
static void *log_sink_opaque;

static const char level_char[] = { 'E', 'W', 'I', 'D' };

int pvs_log_parse_level(const char *s, enum pvs_log_level *out)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    if (!s)
        return PVS_EINVAL;
    if (!strcmp(s, "quiet")) {
        *out = PVS_LOG_QUIET;
        return 0;
    }
    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum pvs_log_level)i;
            return 0;
        }
    }
    return PVS_EINVAL;
}

static void read_env_once(void)
{
    /* Races here are benign: every thread computes the same values. */
    if (log_level_from_env)
        return;
    log_level_from_env = 1;
    log_start_ns = pvs_time_ns();
    enum pvs_log_level lvl;
    if (pvs_log_parse_level(getenv("PVS_LOG"), &lvl) == 0)
        log_level = lvl;
}

void pvs_log_set_level(enum pvs_log_level level)
{
    read_env_once();
    log_level = level;
}

enum pvs_log_level pvs_log_get_level(void)
{
    read_env_once();
    return log_level;
}

void pvs_log_set_sink(pvs_log_sink sink, void *opaque)
{
    log_sink = sink;
    log_sink_opaque = opaque;
}

void pvs_log(enum pvs_log_level level, const char *file, int line,
             const char *fmt, ...)
{
    read_env_once();
    if (level > log_level || level < PVS_LOG_ERROR)
        return;

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    if (log_sink) {
        log_sink(log_sink_opaque, level, file, line, msg);
        return;
    }
    char out[1200];
    pvs_log_format(out, sizeof(out), level, file, line, msg);
    fputs(out, stderr); /* one call: lines from threads do not interleave */
}

void pvs_log_format(char *out, size_t len, enum pvs_log_level level, const char *file,
                    int line, const char *msg)
{
    read_env_once();
    if (level < PVS_LOG_ERROR || level > PVS_LOG_DEBUG)
        level = PVS_LOG_ERROR;
    while (file[0] == '.' && file[1] == '.' && (file[2] == '/' || file[2] == '\\'))
        file += 3; /* meson builds from a folder beside the sources */
    double t = (double)(pvs_time_ns() - log_start_ns) / 1e9;
    snprintf(out, len, "[%8.3f] %c %s:%d: %s\n", t, level_char[level], file, line, msg);
}
