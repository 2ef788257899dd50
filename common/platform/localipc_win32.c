/* The private local channel on Windows (localipc.h): one instance of a
 * named pipe, served one client at a time, with overlapped I/O so every
 * wait has a timeout.
 *
 * Who may open it is the pipe's DACL, written as SDDL: protected (nothing
 * inherited), full access for the user this program runs as (SYSTEM for
 * the service) and for Administrators, nobody else. The pipe is made as the
 * name's first instance, so a pipe another program made first under the
 * same name fails our start instead of being served as ours; remote
 * clients are rejected. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <sddl.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/localipc.h"
#include "common/platform/platform.h"

#ifndef PIPE_REJECT_REMOTE_CLIENTS
#define PIPE_REJECT_REMOTE_CLIENTS 0x00000008
#endif
#define PIPE_BUFFER 4096
#define BUSY_WAIT_MS 2000

struct pvs_ipc_server {
    HANDLE pipe;
    OVERLAPPED ov;     /* the pending ConnectNamedPipe */
    bool pending;
    char name[160];    /* for messages */
};

struct pvs_ipc_conn {
    HANDLE h;
    HANDLE event;
    struct pvs_ipc_server *server; /* the server's end: disconnect, not close */
};

#define ERR_TEXT(e) pvs_win32_error_text((e), (char[256]){0}, 256)

static int to_code(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND: return PVS_ENOENT;
    case ERROR_ACCESS_DENIED:  return -EACCES;
    case ERROR_PIPE_BUSY:
    case ERROR_SEM_TIMEOUT:    return PVS_ETIMEDOUT;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:    return PVS_ENOMEM;
    }
    return PVS_EIO;
}

static bool pipe_name(wchar_t *out, size_t cap, const char *name)
{
    int n = _snwprintf(out, cap, L"\\\\.\\pipe\\pvstream-%hs", name);
    return n > 0 && (size_t)n < cap;
}

/* "D:P(A;;GA;;;<this user's SID>)(A;;GA;;;BA)" as a security descriptor
 * (free with LocalFree). */
static PSECURITY_DESCRIPTOR owner_and_admins(void)
{
    HANDLE token = NULL;
    BYTE info[256];
    DWORD len = 0;
    wchar_t *sid = NULL, sddl[256];
    PSECURITY_DESCRIPTOR sd = NULL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return NULL;
    if (GetTokenInformation(token, TokenUser, info, sizeof(info), &len) &&
        ConvertSidToStringSidW(((TOKEN_USER *)(void *)info)->User.Sid, &sid)) {
        _snwprintf(sddl, 256, L"D:P(A;;GA;;;%ls)(A;;GA;;;BA)", sid);
        sddl[255] = L'\0';
        if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd,
                                                                  NULL))
            sd = NULL;
        LocalFree(sid);
    }
    CloseHandle(token);
    return sd;
}

/* A connection on handle h, with the event its overlapped I/O waits on;
 * `server` for the server's end. NULL when out of memory. */
static struct pvs_ipc_conn *new_conn(HANDLE h, struct pvs_ipc_server *server)
{
    struct pvs_ipc_conn *c = calloc(1, sizeof(*c));
    if (c && !(c->event = CreateEventW(NULL, TRUE, FALSE, NULL))) {
        free(c);
        return NULL;
    }
    if (c) {
        c->h = h;
        c->server = server;
    }
    return c;
}

int pvs_ipc_listen(struct pvs_ipc_server **out, const char *dir, const char *name)
{
    (void)dir;
    if (!out || !name)
        return PVS_EINVAL;
    *out = NULL;
    wchar_t wname[160];
    if (!pipe_name(wname, 160, name))
        return PVS_ERANGE;
    struct pvs_ipc_server *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    snprintf(s->name, sizeof(s->name), "\\\\.\\pipe\\pvstream-%s", name);
    PSECURITY_DESCRIPTOR sd = owner_and_admins();
    if (!sd) {
        PVS_LOG_E("cannot describe who may use %s: %s", s->name, ERR_TEXT(GetLastError()));
        free(s);
        return PVS_EIO;
    }
    SECURITY_ATTRIBUTES sa = { sizeof(sa), sd, FALSE };
    s->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    s->pipe = CreateNamedPipeW(wname,
                               PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
                                   FILE_FLAG_FIRST_PIPE_INSTANCE,
                               PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT |
                                   PIPE_REJECT_REMOTE_CLIENTS,
                               1, PIPE_BUFFER, PIPE_BUFFER, 0, &sa);
    DWORD err = GetLastError();
    LocalFree(sd);
    if (!s->ov.hEvent || s->pipe == INVALID_HANDLE_VALUE) {
        int rc = err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY ? -EADDRINUSE
                                                                       : to_code(err);
        if (rc == -EADDRINUSE)
            PVS_LOG_E("%s exists already: is a server running?", s->name);
        else
            PVS_LOG_E("cannot create %s: %s", s->name, ERR_TEXT(err));
        if (s->ov.hEvent)
            CloseHandle(s->ov.hEvent);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int pvs_ipc_accept(struct pvs_ipc_server *s, struct pvs_ipc_conn **out, int timeout_ms)
{
    if (!s || !out)
        return PVS_EINVAL;
    *out = NULL;
    if (!s->pending) {
        ResetEvent(s->ov.hEvent);
        if (ConnectNamedPipe(s->pipe, &s->ov)) {
            SetEvent(s->ov.hEvent);
        } else {
            DWORD err = GetLastError();
            if (err == ERROR_PIPE_CONNECTED)
                SetEvent(s->ov.hEvent);
            else if (err != ERROR_IO_PENDING)
                return to_code(err);
        }
        s->pending = true;
    }
    DWORD w = WaitForSingleObject(s->ov.hEvent, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
    if (w == WAIT_TIMEOUT)
        return PVS_ETIMEDOUT; /* still pending: the next call waits on */
    s->pending = false;
    if (!(*out = new_conn(s->pipe, s))) {
        DisconnectNamedPipe(s->pipe);
        return PVS_ENOMEM;
    }
    return 0;
}

void pvs_ipc_close(struct pvs_ipc_server **sp)
{
    if (!sp || !*sp)
        return;
    struct pvs_ipc_server *s = *sp;
    if (s->pending) {
        CancelIoEx(s->pipe, &s->ov);
        DWORD n;
        GetOverlappedResult(s->pipe, &s->ov, &n, TRUE);
    }
    CloseHandle(s->pipe);
    CloseHandle(s->ov.hEvent);
    free(s);
    *sp = NULL;
}

int pvs_ipc_connect(struct pvs_ipc_conn **out, const char *dir, const char *name)
{
    (void)dir;
    if (!out || !name)
        return PVS_EINVAL;
    *out = NULL;
    wchar_t wname[160];
    if (!pipe_name(wname, 160, name))
        return PVS_ERANGE;
    HANDLE h = INVALID_HANDLE_VALUE;
    for (int tries = 0; tries < 2; tries++) {
        /* SECURITY_IDENTIFICATION: whoever serves the pipe may learn who we
         * are, not act as us. */
        h = CreateFileW(wname, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                        FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                        NULL);
        if (h != INVALID_HANDLE_VALUE || GetLastError() != ERROR_PIPE_BUSY)
            break;
        WaitNamedPipeW(wname, BUSY_WAIT_MS); /* another client is being served */
    }
    if (h == INVALID_HANDLE_VALUE)
        return to_code(GetLastError());
    if (!(*out = new_conn(h, NULL))) {
        CloseHandle(h);
        return PVS_ENOMEM;
    }
    return 0;
}

/* Runs one overlapped read or write to completion or timeout. Returns the
 * bytes moved, 0 when the other end closed, or a negative code. */
static int transfer(struct pvs_ipc_conn *c, void *buf, DWORD len, bool write, int timeout_ms)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof(ov));
    ov.hEvent = c->event;
    ResetEvent(c->event);
    DWORD n = 0;
    BOOL ok = write ? WriteFile(c->h, buf, len, NULL, &ov) : ReadFile(c->h, buf, len, NULL, &ov);
    DWORD err = ok ? 0 : GetLastError();
    if (!ok && err != ERROR_IO_PENDING)
        return err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED ? 0 : to_code(err);
    if (!ok && WaitForSingleObject(c->event, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms) ==
                   WAIT_TIMEOUT) {
        CancelIoEx(c->h, &ov);
        GetOverlappedResult(c->h, &ov, &n, TRUE);
        return PVS_ETIMEDOUT;
    }
    if (!GetOverlappedResult(c->h, &ov, &n, TRUE)) {
        err = GetLastError();
        return err == ERROR_BROKEN_PIPE || err == ERROR_PIPE_NOT_CONNECTED ? 0 : to_code(err);
    }
    return (int)n;
}

int pvs_ipc_read(struct pvs_ipc_conn *c, void *buf, size_t cap, int timeout_ms)
{
    if (!c || !buf || cap == 0)
        return PVS_EINVAL;
    return transfer(c, buf, cap > 65536 ? 65536 : (DWORD)cap, false, timeout_ms);
}

int pvs_ipc_write(struct pvs_ipc_conn *c, const void *buf, size_t len)
{
    if (!c || (!buf && len))
        return PVS_EINVAL;
    const char *p = buf;
    while (len > 0) {
        int n = transfer(c, (void *)p, len > 65536 ? 65536 : (DWORD)len, true, 2000);
        if (n <= 0)
            return n == 0 ? PVS_EIO : n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

void pvs_ipc_conn_close(struct pvs_ipc_conn **cp)
{
    if (!cp || !*cp)
        return;
    struct pvs_ipc_conn *c = *cp;
    if (c->server)
        DisconnectNamedPipe(c->h); /* the instance serves the next client */
    else
        CloseHandle(c->h);
    CloseHandle(c->event);
    free(c);
    *cp = NULL;
}
