#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "common/log.h"
#include "common/platform/platform.h"

extern char **environ;

pid_t pvs_process_start(char *const argv[], const char *log)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (log) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid = -1;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) {
        PVS_LOG_E("cannot start %s: %s", argv[0], strerror(err));
        return -1;
    }
    return pid;
}

int pvs_process_wait(pid_t pid, int timeout_ms)
{
    int64_t end = pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, timeout_ms < 0 ? 0 : WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0 || (timeout_ms >= 0 && pvs_time_ns() >= end))
            return -1;
        pvs_sleep_ns(10000000);
    }
}

int pvs_process_stop(pid_t *pid)
{
    if (!pid || *pid <= 0)
        return -1;
    kill(*pid, SIGTERM);
    int status = pvs_process_wait(*pid, 5000);
    if (status < 0) {
        kill(*pid, SIGKILL);
        status = pvs_process_wait(*pid, -1);
    }
    *pid = -1;
    return status;
}
