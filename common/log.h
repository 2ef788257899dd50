/* Logging: one line per message on stderr, with level, elapsed time and
 * file:line. Thread-safe (each line is written with one call). Nothing is
 * logged per packet or per pixel; hot paths use PVS_LOG_D at most, and
 * rate-limit even that. */
#ifndef PVS_LOG_H
#define PVS_LOG_H

#include <stdio.h> /* and, with mingw-w64, __MINGW_PRINTF_FORMAT */

enum pvs_log_level {
    PVS_LOG_QUIET = -1,
    PVS_LOG_ERROR = 0,
    PVS_LOG_WARN,
    PVS_LOG_INFO,
    PVS_LOG_DEBUG,
};

#if defined(__MINGW_PRINTF_FORMAT)
/* mingw-w64: the archetype of the printf the build links (gnu_printf with
 * __USE_MINGW_ANSI_STDIO, which the Windows build sets for %zu and %lld). */
#define PVS_PRINTF(f, a) __attribute__((format(__MINGW_PRINTF_FORMAT, f, a)))
#elif defined(__GNUC__)
#define PVS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PVS_PRINTF(f, a)
#endif

/* Messages above `level` are dropped. Default PVS_LOG_INFO, or the value of
 * the environment variable PVS_LOG (quiet, error, warn, info, debug) read on
 * first use. */
void pvs_log_set_level(enum pvs_log_level level);
enum pvs_log_level pvs_log_get_level(void);
/* Parses "quiet", "error", "warn", "info" or "debug". Returns 0 or PVS_EINVAL. */
int pvs_log_parse_level(const char *s, enum pvs_log_level *out);

/* Optional sink, called instead of writing to stderr (tests use it to check
 * what was said). `msg` has no trailing newline. Pass NULL to restore stderr. */
typedef void (*pvs_log_sink)(void *opaque, enum pvs_log_level level,
                             const char *file, int line, const char *msg);
void pvs_log_set_sink(pvs_log_sink sink, void *opaque);

void pvs_log(enum pvs_log_level level, const char *file, int line,
             const char *fmt, ...) PVS_PRINTF(4, 5);

/* The line pvs_log writes to stderr, "[elapsed] L file:line: msg\n", into
 * `out` (cut to fit), for sinks that write it elsewhere. */
void pvs_log_format(char *out, size_t len, enum pvs_log_level level, const char *file,
                    int line, const char *msg);

#define PVS_LOG_E(...) pvs_log(PVS_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define PVS_LOG_W(...) pvs_log(PVS_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define PVS_LOG_I(...) pvs_log(PVS_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define PVS_LOG_D(...) pvs_log(PVS_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
