/* Running other programs for pvstream-host (see run.h).
 *
 * Deadlock-free by construction: the child's standard input is fed while
 * its output (and, when captured, its standard error) is read, so a child
 * that writes a lot before it reads everything (or the other way round)
 * never waits on a full pipe we are not draining. POSIX does it with
 * poll() on non-blocking pipes, Windows with one thread per extra pipe. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* pipe2, mkstemps */
#endif

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "common/error.h"
#include "host/run.h"
#include "host/text.h"

/* A bounded in-memory copy of one of the child's output streams. */
struct sink {
    char *buf;
    size_t len, cap;
    bool over;   /* more than PVS_HOST_RUN_MAX_OUTPUT: the rest was dropped */
    bool nomem;
};

static void sink_add(struct sink *s, const char *p, size_t n)
{
    if (s->over || s->nomem)
        return;
    if (n > PVS_HOST_RUN_MAX_OUTPUT - s->len) {
        s->over = true;
        return;
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->nomem = true;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

/* Hands the collected text out (never NULL on success). */
static int sink_take(struct sink *s, char **out)
{
    if (!s->buf) {
        s->buf = malloc(1);
        if (!s->buf)
            return PVS_ENOMEM;
        s->buf[0] = '\0';
    }
    *out = s->buf;
    s->buf = NULL;
    return 0;
}

/* The Windows quoting rules (those of CommandLineToArgvW and the C
 * runtime): an argument without space, tab, newline or '"' goes as it is;
 * otherwise it is wrapped in quotes, a '"' inside becomes \", and the
 * backslashes right before a '"' (or before the closing quote) are
 * doubled. Backslashes anywhere else are literal. */
static void quote_win_arg(struct pvs_text *t, const char *a)
{
    if (*a && !strpbrk(a, " \t\n\v\"")) {
        pvs_text_puts(t, a);
        return;
    }
    pvs_text_puts(t, "\"");
    for (const char *p = a;; p++) {
        size_t slashes = 0;
        while (*p == '\\') {
            slashes++;
            p++;
        }
        if (!*p) {
            for (size_t i = 0; i < slashes * 2; i++)
                pvs_text_puts(t, "\\");
            break;
        }
        if (*p == '"') {
            for (size_t i = 0; i < slashes * 2 + 1; i++)
                pvs_text_puts(t, "\\");
        } else {
            for (size_t i = 0; i < slashes; i++)
                pvs_text_puts(t, "\\");
        }
        pvs_text_append(t, p, 1);
    }
    pvs_text_puts(t, "\"");
}

int pvs_host_win_cmdline(char *const argv[], char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "");
    for (int i = 0; argv[i]; i++) {
        if (i)
            pvs_text_puts(&t, " ");
        quote_win_arg(&t, argv[i]);
    }
    return pvs_text_take(&t, out);
}

const char *pvs_host_powershell_program(void)
{
    const char *p = getenv("PVS_POWERSHELL");
    return p && *p ? p : "powershell.exe";
}

static int finish(struct sink *o, struct sink *e, bool capture_err, char **out, char **err,
                  const char *prog, char *why, size_t why_len)
{
    if (o->nomem || e->nomem) {
        pvs_text_error(why, why_len, "out of memory reading %s's output", prog);
        return PVS_ENOMEM;
    }
    if (o->over || e->over) {
        pvs_text_error(why, why_len, "%s wrote more than %u MiB; it was stopped", prog,
                       PVS_HOST_RUN_MAX_OUTPUT >> 20);
        return PVS_ERANGE;
    }
    if (sink_take(o, out) < 0 || (capture_err && sink_take(e, err) < 0)) {
        free(*out);
        *out = NULL;
        pvs_text_error(why, why_len, "out of memory");
        return PVS_ENOMEM;
    }
    return 0;
}

#ifndef _WIN32

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Makes `fd` the child's descriptor `target`, without close-on-exec. */
static int child_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

static int run_posix(char *const argv[], const char *input, struct sink *o, struct sink *e,
                     bool capture_err, int *status, char *why, size_t why_len)
{
    int in_p[2] = { -1, -1 }, out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
    int exec_p[2] = { -1, -1 };
    int rc = 0;
    if (pipe2(in_p, O_CLOEXEC) < 0 || pipe2(out_p, O_CLOEXEC) < 0 ||
        pipe2(exec_p, O_CLOEXEC) < 0 || (capture_err && pipe2(err_p, O_CLOEXEC) < 0)) {
        pvs_text_error(why, why_len, "cannot create a pipe: %s", strerror(errno));
        rc = PVS_EIO;
        goto out_close;
    }
    /* Our end of stdin never blocks, so a child that stops reading cannot
     * hold us up while its output waits. */
    fcntl(in_p[1], F_SETFL, fcntl(in_p[1], F_GETFL) | O_NONBLOCK);

    pid_t pid = fork();
    if (pid < 0) {
        pvs_text_error(why, why_len, "cannot start %s: %s", argv[0], strerror(errno));
        rc = PVS_EIO;
        goto out_close;
    }
    if (pid == 0) {
        if (child_fd(in_p[0], 0) == 0 && child_fd(out_p[1], 1) == 0 &&
            (!capture_err || child_fd(err_p[1], 2) == 0)) {
            signal(SIGPIPE, SIG_DFL);
            execvp(argv[0], argv);
        }
        int code = errno;
        ssize_t w = write(exec_p[1], &code, sizeof(code));
        (void)w;
        _exit(127);
    }
    close_fd(&in_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&exec_p[1]);

    /* exec_p closes on a successful exec; an errno arrives when it failed. */
    int code = 0;
    ssize_t got;
    do
        got = read(exec_p[0], &code, sizeof(code));
    while (got < 0 && errno == EINTR);
    close_fd(&exec_p[0]);
    if (got == (ssize_t)sizeof(code)) {
        if (code == ENOENT) {
            pvs_text_error(why, why_len, "%s: no such program (not installed, or not in PATH)",
                           argv[0]);
            rc = PVS_ENOENT;
        } else {
            pvs_text_error(why, why_len, "cannot run %s: %s", argv[0], strerror(code));
            rc = PVS_EIO;
        }
    }

    size_t in_len = input && rc == 0 ? strlen(input) : 0, in_off = 0;
    if (in_len == 0)
        close_fd(&in_p[1]);
    while (rc == 0 && (in_p[1] >= 0 || out_p[0] >= 0 || err_p[0] >= 0)) {
        struct pollfd fds[3];
        int n = 0, i_in = -1, i_out = -1, i_err = -1;
        if (in_p[1] >= 0) {
            i_in = n;
            fds[n++] = (struct pollfd){ .fd = in_p[1], .events = POLLOUT };
        }
        if (out_p[0] >= 0) {
            i_out = n;
            fds[n++] = (struct pollfd){ .fd = out_p[0], .events = POLLIN };
        }
        if (err_p[0] >= 0) {
            i_err = n;
            fds[n++] = (struct pollfd){ .fd = err_p[0], .events = POLLIN };
        }
        if (poll(fds, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            pvs_text_error(why, why_len, "poll: %s", strerror(errno));
            rc = PVS_EIO;
            break;
        }
        if (i_in >= 0 && fds[i_in].revents) {
            ssize_t w = write(in_p[1], input + in_off, in_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            /* EPIPE: the child closed its input; what it read is its business. */
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len)
                close_fd(&in_p[1]);
        }
        struct {
            int idx;
            int *fd;
            struct sink *s;
        } rd[2] = { { i_out, &out_p[0], o }, { i_err, &err_p[0], e } };
        for (int k = 0; k < 2; k++) {
            if (rd[k].idx < 0 || !fds[rd[k].idx].revents)
                continue;
            char buf[65536];
            ssize_t r = read(*rd[k].fd, buf, sizeof(buf));
            if (r > 0)
                sink_add(rd[k].s, buf, (size_t)r);
            else if (r == 0 || (errno != EINTR && errno != EAGAIN))
                close_fd(rd[k].fd);
        }
        if (o->over || e->over || o->nomem || e->nomem) {
            kill(pid, SIGKILL);
            break;
        }
    }
    close_fd(&in_p[1]);
    close_fd(&out_p[0]);
    close_fd(&err_p[0]);

    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) {
            if (rc == 0) {
                pvs_text_error(why, why_len, "waitpid: %s", strerror(errno));
                rc = PVS_EIO;
            }
            break;
        }
    }
    if (WIFEXITED(ws))
        *status = WEXITSTATUS(ws);
    else if (WIFSIGNALED(ws))
        *status = 128 + WTERMSIG(ws);
    return rc;

out_close:
    close_fd(&in_p[0]);
    close_fd(&in_p[1]);
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&exec_p[0]);
    close_fd(&exec_p[1]);
    return rc;
}

/* A child that exits before reading all its input must not kill us with
 * SIGPIPE: write() then fails with EPIPE instead. */
static int run_child(char *const argv[], const char *input, struct sink *o, struct sink *e,
                     bool capture_err, int *status, char *why, size_t why_len)
{
    struct sigaction ign = { .sa_handler = SIG_IGN }, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    int rc = run_posix(argv, input, o, e, capture_err, status, why, why_len);
    sigaction(SIGPIPE, &old, NULL);
    return rc;
}

/* A private temporary file whose name ends in `suffix` (".ps1"), created
 * (mode 0600). */
static int temp_file(const char *suffix, char *path, size_t len, FILE **f)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    if ((size_t)snprintf(path, len, "%s/pvstream-XXXXXX%s", dir, suffix) >= len)
        return PVS_ERANGE;
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        return PVS_EIO;
    *f = fdopen(fd, "wb");
    if (!*f) {
        close(fd);
        unlink(path);
        return PVS_EIO;
    }
    return 0;
}

static void remove_file(const char *path)
{
    unlink(path);
}

#else /* _WIN32 */

static bool is_file(const wchar_t *path)
{
    DWORD a = GetFileAttributesW(path);
    return a != INVALID_FILE_ATTRIBUTES && !(a & FILE_ATTRIBUTE_DIRECTORY);
}

/* The program's full path. A bare name is looked up in PATH only:
 * CreateProcess's own search tries the current directory first, where a
 * planted powershell.exe would run with our privileges. */
static int find_program(const char *name, wchar_t **path)
{
    *path = NULL;
    wchar_t *wname = pvs_text_wide(name);
    if (!wname)
        return PVS_EINVAL;
    if (wcspbrk(wname, L"\\/:")) {
        *path = wname;
        return is_file(wname) ? 0 : PVS_ENOENT;
    }
    bool add_exe = !wcschr(wname, L'.');
    DWORD n = GetEnvironmentVariableW(L"PATH", NULL, 0);
    wchar_t *env = n ? malloc((size_t)n * sizeof(wchar_t)) : NULL;
    if (!env || GetEnvironmentVariableW(L"PATH", env, n) >= n) {
        free(env);
        free(wname);
        return PVS_ENOENT;
    }
    int rc = PVS_ENOENT;
    size_t name_len = wcslen(wname);
    for (wchar_t *dir = env; *dir && rc == PVS_ENOENT;) {
        wchar_t *end = wcschr(dir, L';');
        size_t dlen = end ? (size_t)(end - dir) : wcslen(dir);
        wchar_t *d = dir;
        if (dlen >= 2 && d[0] == L'"' && d[dlen - 1] == L'"') {
            d++;
            dlen -= 2;
        }
        if (dlen) {
            size_t cap = dlen + 1 + name_len + 5;
            wchar_t *cand = malloc(cap * sizeof(wchar_t));
            if (!cand) {
                rc = PVS_ENOMEM;
                break;
            }
            memcpy(cand, d, dlen * sizeof(wchar_t));
            size_t k = dlen;
            if (cand[k - 1] != L'\\' && cand[k - 1] != L'/')
                cand[k++] = L'\\';
            memcpy(cand + k, wname, (name_len + 1) * sizeof(wchar_t));
            if (add_exe)
                wcscat(cand, L".exe");
            if (is_file(cand)) {
                *path = cand;
                rc = 0;
            } else {
                free(cand);
            }
        }
        dir = end ? end + 1 : dir + dlen;
    }
    free(env);
    free(wname);
    return rc;
}

struct win_job {
    HANDLE h;
    const char *data;   /* writer: what to write */
    size_t len;
    struct sink *sink;  /* reader: where it goes */
};

static DWORD WINAPI writer_thread(LPVOID arg)
{
    struct win_job *j = arg;
    size_t off = 0;
    while (off < j->len) {
        DWORD chunk = j->len - off > (1u << 20) ? (1u << 20) : (DWORD)(j->len - off), w = 0;
        if (!WriteFile(j->h, j->data + off, chunk, &w, NULL))
            break; /* the child closed its input */
        off += w;
    }
    CloseHandle(j->h);
    j->h = NULL;
    return 0;
}

/* Reads until the child closes the pipe; past the bound it keeps reading
 * (and dropping) so the child never blocks on a full pipe. The end is a
 * failed read (ERROR_BROKEN_PIPE), not a read of 0 bytes: on a pipe that
 * is the child's write of 0 bytes, and stopping there would drop the rest
 * of its output (and hang on a child that then fills the pipe). */
static DWORD WINAPI reader_thread(LPVOID arg)
{
    struct win_job *j = arg;
    char buf[65536];
    DWORD r = 0;
    while (ReadFile(j->h, buf, sizeof(buf), &r, NULL))
        if (r > 0)
            sink_add(j->sink, buf, r);
    return 0;
}

static void close_h(HANDLE *h)
{
    if (*h && *h != INVALID_HANDLE_VALUE)
        CloseHandle(*h);
    *h = NULL;
}

/* A pipe whose `child_end` (0: read end, 1: write end) is inheritable. */
static bool make_pipe(HANDLE h[2], int child_end)
{
    SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    if (!CreatePipe(&h[0], &h[1], &sa, 0))
        return false;
    return SetHandleInformation(h[1 - child_end], HANDLE_FLAG_INHERIT, 0) != 0;
}

static int run_child(char *const argv[], const char *input, struct sink *o, struct sink *e,
                     bool capture_err, int *status, char *why, size_t why_len)
{
    wchar_t *app = NULL, *wcmd = NULL;
    char *cmd = NULL;
    HANDLE in_p[2] = { NULL, NULL }, out_p[2] = { NULL, NULL }, err_p[2] = { NULL, NULL };
    HANDLE err_child = NULL, threads[2] = { NULL, NULL };
    struct win_job wj = { 0 }, ej = { 0 };
    PROCESS_INFORMATION pi = { 0 };
    int rc = find_program(argv[0], &app);
    if (rc == PVS_ENOENT) {
        pvs_text_error(why, why_len, "%s: no such program (not installed, or not in PATH)",
                       argv[0]);
        goto out;
    }
    if (rc < 0) {
        pvs_text_error(why, why_len, "%s: %s", argv[0], pvs_strerror(rc));
        goto out;
    }
    if (pvs_host_win_cmdline(argv, &cmd) < 0 || !(wcmd = pvs_text_wide(cmd))) {
        pvs_text_error(why, why_len, "cannot build the command line for %s", argv[0]);
        rc = PVS_EINVAL;
        goto out;
    }
    if (!make_pipe(in_p, 0) || !make_pipe(out_p, 1) || (capture_err && !make_pipe(err_p, 1))) {
        pvs_text_error(why, why_len, "cannot create a pipe (error %lu)", GetLastError());
        rc = PVS_EIO;
        goto out;
    }
    if (capture_err) {
        err_child = err_p[1];
        err_p[1] = NULL;
    } else if (!DuplicateHandle(GetCurrentProcess(), GetStdHandle(STD_ERROR_HANDLE),
                                GetCurrentProcess(), &err_child, 0, TRUE,
                                DUPLICATE_SAME_ACCESS)) {
        err_child = NULL; /* no standard error of our own to pass on */
    }
    STARTUPINFOW si;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in_p[0];
    si.hStdOutput = out_p[1];
    si.hStdError = err_child;
    /* CREATE_NO_WINDOW: the child gets a console of its own, so whatever it
     * does to its console (code pages) does not change the user's. */
    if (!CreateProcessW(app, wcmd, NULL, NULL, TRUE, CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT,
                        NULL, NULL, &si, &pi)) {
        DWORD le = GetLastError();
        if (le == ERROR_FILE_NOT_FOUND || le == ERROR_PATH_NOT_FOUND) {
            pvs_text_error(why, why_len, "%s: no such program", argv[0]);
            rc = PVS_ENOENT;
        } else {
            pvs_text_error(why, why_len, "cannot run %s (error %lu)", argv[0], le);
            rc = PVS_EIO;
        }
        goto out;
    }
    close_h(&in_p[0]);
    close_h(&out_p[1]);
    close_h(&err_child);

    wj.h = in_p[1];
    in_p[1] = NULL;
    wj.data = input ? input : "";
    wj.len = input ? strlen(input) : 0;
    if (wj.len == 0 || !(threads[0] = CreateThread(NULL, 0, writer_thread, &wj, 0, NULL)))
        close_h(&wj.h);
    if (capture_err) {
        ej.h = err_p[0];
        ej.sink = e;
        threads[1] = CreateThread(NULL, 0, reader_thread, &ej, 0, NULL);
        if (!threads[1])
            close_h(&err_p[0]);
    }
    struct win_job oj = { .h = out_p[0], .sink = o };
    reader_thread(&oj);
    if (o->over || o->nomem)
        TerminateProcess(pi.hProcess, 1);
    WaitForSingleObject(pi.hProcess, INFINITE);
    for (int i = 0; i < 2; i++)
        if (threads[i]) {
            WaitForSingleObject(threads[i], INFINITE);
            CloseHandle(threads[i]);
        }
    close_h(&wj.h);
    DWORD code = 0;
    GetExitCodeProcess(pi.hProcess, &code);
    *status = (int)code;
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
out:
    close_h(&in_p[0]);
    close_h(&in_p[1]);
    close_h(&out_p[0]);
    close_h(&out_p[1]);
    close_h(&err_p[0]);
    close_h(&err_p[1]);
    close_h(&err_child);
    free(app);
    free(wcmd);
    free(cmd);
    return rc;
}

/* The temporary folder is the user's own (%TEMP%, under the profile), so
 * the file is private as on POSIX. */
static int temp_file(const char *suffix, char *path, size_t len, FILE **f)
{
    static unsigned counter;
    wchar_t dir[MAX_PATH + 1], wsuffix[16];
    DWORD n = GetTempPathW(MAX_PATH + 1, dir);
    if (n == 0 || n > MAX_PATH)
        return PVS_EIO;
    if (!MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, suffix, -1, wsuffix, 16))
        return PVS_EINVAL;
    for (int tries = 0; tries < 100; tries++) {
        wchar_t name[MAX_PATH + 64];
        _snwprintf(name, sizeof(name) / sizeof(name[0]), L"%lspvstream-%lu-%lu-%u%ls", dir,
                   (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount(),
                   counter++, wsuffix);
        name[sizeof(name) / sizeof(name[0]) - 1] = L'\0';
        HANDLE h = CreateFileW(name, GENERIC_WRITE, 0, NULL, CREATE_NEW,
                               FILE_ATTRIBUTE_TEMPORARY, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            if (GetLastError() == ERROR_FILE_EXISTS)
                continue;
            return PVS_EIO;
        }
        CloseHandle(h);
        char *u = pvs_text_utf8(name);
        if (!u || strlen(u) >= len) {
            DeleteFileW(name);
            free(u);
            return PVS_ERANGE;
        }
        strcpy(path, u);
        free(u);
        *f = _wfopen(name, L"wb");
        if (!*f) {
            DeleteFileW(name);
            return PVS_EIO;
        }
        return 0;
    }
    return PVS_EIO;
}

static void remove_file(const char *path)
{
    wchar_t *w = pvs_text_wide(path);
    if (w)
        DeleteFileW(w);
    free(w);
}

#endif /* _WIN32 */

static int run_any(char *const argv[], const char *input, char **out, char **err,
                   int *status, char *why, size_t why_len)
{
    *out = NULL;
    if (err)
        *err = NULL;
    *status = -1;
    if (!argv || !argv[0] || !*argv[0]) {
        pvs_text_error(why, why_len, "no program to run");
        return PVS_EINVAL;
    }
    struct sink o = { 0 }, e = { 0 };
    int rc = run_child(argv, input, &o, &e, err != NULL, status, why, why_len);
    if (rc == 0)
        rc = finish(&o, &e, err != NULL, out, err, argv[0], why, why_len);
    free(o.buf);
    free(e.buf);
    return rc;
}

int pvs_host_run(char *const argv[], const char *input, char **out, int *status,
                 char *why, size_t why_len)
{
    return run_any(argv, input, out, NULL, status, why, why_len);
}

int pvs_host_run_capture(char *const argv[], const char *input, char **out, char **err,
                         int *status, char *why, size_t why_len)
{
    return run_any(argv, input, out, err, status, why, why_len);
}

int pvs_host_powershell_capture(const char *script, char **out, char **err, int *status,
                                char *why, size_t why_len)
{
    static const char bom[] = "\xef\xbb\xbf";
    *out = NULL;
    if (err)
        *err = NULL;
    *status = -1;
    char path[1024];
    FILE *f = NULL;
    int rc = temp_file(".ps1", path, sizeof(path), &f);
    if (rc < 0) {
        pvs_text_error(why, why_len, "cannot create a temporary script file: %s",
                       pvs_strerror(rc));
        return rc;
    }
    /* Windows PowerShell 5.1 reads a script without a byte order mark in
     * the ANSI code page (ps.h). */
    bool ok = true;
    if (strncmp(script, bom, 3) != 0)
        ok = fwrite(bom, 1, 3, f) == 3;
    size_t n = strlen(script);
    ok = ok && fwrite(script, 1, n, f) == n;
    if (fclose(f) != 0 || !ok) {
        remove_file(path);
        pvs_text_error(why, why_len, "cannot write the temporary script %s", path);
        return PVS_EIO;
    }
    char *argv[] = { (char *)pvs_host_powershell_program(), "-NoProfile", "-NonInteractive",
                     "-ExecutionPolicy", "Bypass", "-File", path, NULL };
    rc = run_any(argv, NULL, out, err, status, why, why_len);
    remove_file(path);
    return rc;
}

int pvs_host_powershell(const char *script, char **out, int *status, char *why,
                        size_t why_len)
{
    return pvs_host_powershell_capture(script, out, NULL, status, why, why_len);
}

int pvs_host_temp_file(const char *suffix, const char *content, size_t len, char *path,
                       size_t path_len)
{
    FILE *f = NULL;
    int rc = temp_file(suffix, path, path_len, &f);
    if (rc < 0)
        return rc;
    bool ok = fwrite(content, 1, len, f) == len;
    if (fclose(f) != 0 || !ok) {
        remove_file(path);
        return PVS_EIO;
    }
    return 0;
}

void pvs_host_remove_file(const char *path)
{
    if (path && *path)
        remove_file(path);
}
