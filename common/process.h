/* Child processes, for the tools and tests that run the real programs
 * together (pvstream-bench e2e, the integration tests). POSIX only: Windows
 * builds do not compile it. */
#ifndef PVS_PROCESS_H
#define PVS_PROCESS_H

#include <sys/types.h>

/* Starts argv[0] (a path) with argv, stdout and stderr going to `log`
 * (created or truncated; NULL: this process's own). Returns the pid, or -1
 * after logging why. */
pid_t pvs_process_start(char *const argv[], const char *log);

/* Waits up to timeout_ms (negative: forever) for pid to exit. Returns its
 * exit status (128 + the signal when a signal ended it), or -1 when it is
 * still running. */
int pvs_process_wait(pid_t pid, int timeout_ms);

/* SIGTERM, up to 5 s to exit, then SIGKILL; waits for it and sets *pid to
 * -1. Accepts a pid <= 0. Returns the exit status as pvs_process_wait does. */
int pvs_process_stop(pid_t *pid);

#endif
