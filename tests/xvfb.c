/* A private Xvfb for tests (see xvfb.h). */
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "tests/xvfb.h"

#define FIRST_DISPLAY 90
#define LAST_DISPLAY  119

static int find_xvfb(char *path, size_t len)
{
    const char *env = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof(dirs), "%s", env && *env ? env : "/usr/bin:/bin");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, len, "%s/Xvfb", d);
        if (access(path, X_OK) == 0)
            return 0;
    }
    return PVS_ENOENT;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int pvs_test_xvfb_start(struct pvs_test_xvfb *x, int width, int height)
{
    memset(x, 0, sizeof(*x));
    char exe[512];
    if (find_xvfb(exe, sizeof(exe)) < 0)
        return PVS_ENOENT;
    char screen[32];
    snprintf(screen, sizeof(screen), "%dx%dx24", width, height);
    for (int n = FIRST_DISPLAY; n <= LAST_DISPLAY; n++) {
        char lock[64], sock[64], name[16];
        snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", n);
        snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
        snprintf(name, sizeof(name), ":%d", n);
        if (exists(lock) || exists(sock))
            continue; /* taken, or left behind by a crash: leave it alone */
        pid_t pid = fork();
        if (pid < 0)
            return PVS_EIO;
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) {
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
            }
            execl(exe, "Xvfb", name, "-screen", "0", screen, "-nolisten", "tcp",
                  "-noreset", (char *)NULL);
            _exit(127);
        }
        /* Up to 10 s for the socket; an Xvfb that lost a race for this
         * number exits, and the next number is tried. */
        int64_t deadline = pvs_time_ns() + 10000000000LL;
        bool up = false, died = false;
        while (pvs_time_ns() < deadline) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                died = true;
                break;
            }
            if (exists(sock)) {
                up = true;
                break;
            }
            pvs_sleep_ns(10000000);
        }
        if (up) {
            x->pid = pid;
            x->number = n;
            snprintf(x->name, sizeof(x->name), "%s", name);
            return 0;
        }
        if (!died) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    return PVS_EIO;
}

void pvs_test_xvfb_stop(struct pvs_test_xvfb *x)
{
    if (!x->pid)
        return;
    kill(x->pid, SIGTERM);
    waitpid(x->pid, NULL, 0);
    x->pid = 0;
}
