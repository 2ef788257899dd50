/* A log file that rotates by size, for programs that run with nobody
 * watching their stderr (the Windows service and its worker). The current
 * file is DIR/NAME.log; when a line would take it past `max_bytes` it
 * becomes NAME.1.log, NAME.1.log becomes NAME.2.log and so on, and the
 * oldest beyond `keep` files in all is deleted. A line is never split
 * across two files. Paths are passed to fopen as they are.
 *
 * Thread-safe: lines from several threads do not interleave. */
#ifndef PVS_LOGFILE_H
#define PVS_LOGFILE_H

#include <stddef.h>

#include "common/log.h"

struct pvs_logfile;

/* Opens (appends to) DIR/NAME.log; DIR must exist. keep >= 1 (1: the current
 * file only, truncated when full), max_bytes >= 1. Returns 0, PVS_EINVAL, or
 * a negated errno from fopen. */
int pvs_logfile_open(struct pvs_logfile **out, const char *dir, const char *name,
                     long max_bytes, int keep);
/* Closes it and clears *f. Accepts NULL. */
void pvs_logfile_close(struct pvs_logfile **f);

/* Appends `len` bytes (one or more whole lines), rotating first when they
 * would not fit. Returns 0 or a negative PVS_E* code (the line is lost). */
int pvs_logfile_write(struct pvs_logfile *f, const char *text, size_t len);

/* A pvs_log_sink (opaque: the struct pvs_logfile) writing each message as
 * pvs_log would to stderr, after the local date and time. */
void pvs_logfile_sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                      const char *msg);

#endif
