/* A private local channel between a running program and a command the same
 * user runs beside it (`pvstream-server pin 1234` to the running server):
 * byte streams that nobody but that user, or an administrator, can open.
 *   POSIX:   a Unix-domain socket `name` in `dir`, which must be owned by
 *            the user and writable by nobody else; the socket is made 0600
 *            and every peer's uid is checked (SO_PEERCRED): the same
 *            effective uid, or root.
 *   Windows: the named pipe \\.\pipe\pvstream-<name> (`dir` is not used),
 *            created as its first instance (so another program cannot
 *            squat the name first and be taken for us), for local clients
 *            only, with a protected DACL granting the user running the
 *            program and Administrators.
 * localipc_posix.c and localipc_win32.c implement it. One thread uses a
 * server and its connections at a time. */
#ifndef PVS_LOCALIPC_H
#define PVS_LOCALIPC_H

#include <stddef.h>

struct pvs_ipc_server;
struct pvs_ipc_conn;

/* Starts listening. Returns 0; -EADDRINUSE when a live server already
 * listens there (a stale socket left by a crash is replaced); PVS_ECONFIG
 * when `dir` is not private (logged, with the fix); PVS_ERANGE when the
 * socket path is too long for the system (logged); another negative code
 * (logged). */
int pvs_ipc_listen(struct pvs_ipc_server **out, const char *dir, const char *name);

/* Waits up to timeout_ms for a client. Returns 0 with *out; PVS_ETIMEDOUT;
 * -EACCES when a client who may not use the channel connected (it was
 * closed unserved; logged once per call as a warning); or another negative
 * code. */
int pvs_ipc_accept(struct pvs_ipc_server *s, struct pvs_ipc_conn **out, int timeout_ms);

/* Stops listening, removes the socket, frees s and clears *s. Accepts NULL. */
void pvs_ipc_close(struct pvs_ipc_server **s);

/* Connects to the server at dir/name. Returns 0; PVS_ENOENT when nobody
 * listens there; -EACCES when the system refuses (another user's
 * channel); or another negative code. Not logged. */
int pvs_ipc_connect(struct pvs_ipc_conn **out, const char *dir, const char *name);

/* Reads what has come, waiting up to timeout_ms for the first byte. Returns
 * the bytes read (> 0), 0 when the other side closed, PVS_ETIMEDOUT, or
 * another negative code. */
int pvs_ipc_read(struct pvs_ipc_conn *c, void *buf, size_t cap, int timeout_ms);

/* Writes all of buf. Returns 0 or a negative code. */
int pvs_ipc_write(struct pvs_ipc_conn *c, const void *buf, size_t len);

/* Closes the connection, frees it and clears *c. Accepts NULL. */
void pvs_ipc_conn_close(struct pvs_ipc_conn **c);

#endif
