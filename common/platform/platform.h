/* The platform layer: time, threads and sockets. The only place besides the
 * backend files where operating-system APIs are called; posix.c implements it
 * for Linux (and other POSIX systems), win32.c for Windows. Everything here is
 * safe to call from any thread unless a comment says otherwise. */
#ifndef PVS_PLATFORM_H
#define PVS_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The separator of a file path's parts, for paths shown to people
 * (Windows takes '/' too, but mixed separators read badly in messages). */
#ifdef _WIN32
#define PVS_PATH_SEP "\\"
#else
#define PVS_PATH_SEP "/"
#endif

/* ---- time ---------------------------------------------------------------- */

/* Monotonic clock in nanoseconds from an arbitrary origin (CLOCK_MONOTONIC,
 * QueryPerformanceCounter). Never goes backwards; not comparable across
 * machines. */
int64_t pvs_time_ns(void);
static inline int64_t pvs_time_us(void) { return pvs_time_ns() / 1000; }

/* Sleeps at least `ns` nanoseconds. */
void pvs_sleep_ns(int64_t ns);
/* Sleeps until pvs_time_ns() >= deadline_ns; never returns early. Returns at
 * once when the deadline has passed. */
void pvs_sleep_until_ns(int64_t deadline_ns);

/* CPU time used by this process so far, all threads, in nanoseconds. */
int64_t pvs_cpu_time_ns(void);
/* CPU time used by the calling thread so far, in nanoseconds. */
int64_t pvs_thread_cpu_time_ns(void);

/* Wall-clock time in microseconds since 1970 (for logs and file names only). */
int64_t pvs_wall_time_us(void);

/* ---- threads ------------------------------------------------------------- */

struct pvs_thread;
typedef int (*pvs_thread_fn)(void *arg);

/* Starts fn(arg) on a new thread named `name` (shown by debuggers; may be
 * cut to 15 characters). Returns 0 or a negative PVS_E* code. */
int pvs_thread_create(struct pvs_thread **out, pvs_thread_fn fn, void *arg,
                      const char *name);
/* Waits for the thread, stores its return value in *ret (if not NULL), frees
 * it and clears *t. Accepts NULL. */
void pvs_thread_join(struct pvs_thread **t, int *ret);

#ifdef _WIN32
typedef struct { void *opaque; } pvs_mutex; /* an SRWLOCK */
typedef struct { void *opaque; } pvs_cond;  /* a CONDITION_VARIABLE */
#else
#include <pthread.h>
typedef struct { pthread_mutex_t m; } pvs_mutex;
typedef struct { pthread_cond_t c; } pvs_cond; /* waits on CLOCK_MONOTONIC */
#endif

int pvs_mutex_init(pvs_mutex *m);
void pvs_mutex_destroy(pvs_mutex *m);
void pvs_mutex_lock(pvs_mutex *m);
void pvs_mutex_unlock(pvs_mutex *m);

int pvs_cond_init(pvs_cond *c);
void pvs_cond_destroy(pvs_cond *c);
void pvs_cond_signal(pvs_cond *c);
void pvs_cond_broadcast(pvs_cond *c);
/* Waits until signalled or until pvs_time_ns() >= deadline_ns (a negative
 * deadline waits forever). Returns 0, or PVS_ETIMEDOUT. Spurious wake-ups
 * happen: callers re-check their condition. */
int pvs_cond_wait_until(pvs_cond *c, pvs_mutex *m, int64_t deadline_ns);

/* Raises the calling thread's scheduling for latency-critical work: on
 * Windows the Multimedia Class Scheduler's task `task` ("Games" for the
 * video thread, "Pro Audio" for audio; MMCSS raises the priority while the
 * thread runs and keeps it from being starved); elsewhere nothing is changed.
 * Returns 0, or PVS_ENOTSUP where the system has no such service (the
 * caller goes on at normal priority). Undone when the thread ends. */
int pvs_thread_boost(const char *task);

/* ---- the process ----------------------------------------------------------- */

/* Calls fn() when the user or the system asks the process to stop: SIGINT
 * and SIGTERM on POSIX; Ctrl+C, Ctrl+Break, closing the console window,
 * log-off and shut-down on Windows. fn runs in a signal handler (POSIX) or
 * on a thread the system starts (Windows), so it may only set a flag. On
 * Windows a close, log-off or shut-down ends the process once the handler
 * returns, so the handler waits up to 4 s (the system allows 5) for the
 * program to finish its clean stop; the process ends when main returns. */
void pvs_on_stop_request(void (*fn)(void));

/* This machine's host name ("client" style names for pairing and the
 * server's HELLO), UTF-8, cut to fit `len`. Returns 0, or a negative PVS_E*
 * code with buf set to "". */
int pvs_host_name(char *buf, size_t len);

/* ---- desktops ------------------------------------------------------------ */

/* Moves the calling thread to the desktop that receives input now, so that
 * what it captures or injects reaches what the user sees: Windows switches
 * the console between desktops for the lock and sign-in screens and UAC's
 * secure desktop ("Winlogon"), and back to the user's ("Default").
 * OpenInputDesktop and SetThreadDesktop; only a process running as SYSTEM
 * in the console's session (the service's worker) may open "Winlogon".
 * Call it on the thread that uses the desktop, when capture or input was
 * refused (Desktop Duplication's ACCESS_LOST, SendInput failing), not per
 * frame. The thread must own no windows or hooks (Windows refuses to move
 * such a thread). Writes the input desktop's name into `name` (when not
 * NULL; "" when unknown). Returns 1 when the thread moved, 0 when it was
 * on that desktop already, PVS_ENOTSUP where desktops do not apply (POSIX:
 * nothing to do), or a negative code when the input desktop cannot be
 * opened or entered (-EACCES: not allowed, typically the secure desktop
 * for a program not running as SYSTEM). Logs nothing: callers say what it
 * means for them. */
int pvs_desktop_follow_input(char *name, size_t name_len);

/* ---- libraries ----------------------------------------------------------- */

/* True when the shared library `name` ("libnvidia-encode.so.1",
 * "nvEncodeAPI64.dll") can be loaded here; used to explain why a hardware
 * encoder is unavailable. The library is unloaded again. */
bool pvs_library_available(const char *name);

#ifdef _WIN32
/* Windows' text for a system error code or an HRESULT (FormatMessage),
 * without its trailing newline and full stop, written into `buf`; "error N"
 * when Windows has none. Returns buf. */
const char *pvs_win32_error_text(unsigned long err, char *buf, size_t len);
#endif

/* ---- sockets ------------------------------------------------------------- */

/* Call once before any socket function (WSAStartup on Windows; nothing on
 * POSIX). Returns 0 or a negative PVS_E* code. */
int pvs_net_init(void);
void pvs_net_deinit(void);

#ifdef _WIN32
typedef uintptr_t pvs_socket; /* a SOCKET */
#define PVS_INVALID_SOCKET ((pvs_socket)~(uintptr_t)0)
#else
typedef int pvs_socket;
#define PVS_INVALID_SOCKET (-1)
#endif

/* An IPv4 or IPv6 address and port, held without exposing system headers. */
struct pvs_addr {
    union {
        uint8_t bytes[28]; /* big enough for a sockaddr_in6 */
        uint64_t align_;
    } u;
    uint32_t len; /* 0: no address */
};

/* Resolves `host` (a name, an IPv4 address, or an IPv6 address with or
 * without brackets; NULL or "" means the wildcard address) with `port`.
 * Returns 0, PVS_EINVAL for a malformed address, or PVS_ENOENT when the name
 * does not resolve. */
int pvs_addr_resolve(struct pvs_addr *out, const char *host, uint16_t port);
/* "127.0.0.1:47101" or "[::1]:47101". */
void pvs_addr_format(const struct pvs_addr *a, char *buf, size_t len);
uint16_t pvs_addr_port(const struct pvs_addr *a);
bool pvs_addr_equal(const struct pvs_addr *a, const struct pvs_addr *b);

/* Opens a UDP socket bound to `local` (port 0 picks a free port), non-
 * blocking. Returns 0 or a negative PVS_E* code (PVS_EIO with the system's
 * reason logged). */
int pvs_udp_open(pvs_socket *out, const struct pvs_addr *local);
/* The address the socket is bound to (to learn the port picked for 0). */
int pvs_udp_local_addr(pvs_socket s, struct pvs_addr *out);
/* Asks for socket buffers of this many bytes (0 leaves one as it is) and
 * stores what the system granted in *got_snd / *got_rcv when not NULL. */
int pvs_udp_set_buffers(pvs_socket s, int sndbuf, int rcvbuf,
                        int *got_snd, int *got_rcv);
/* Sends one datagram. Returns the bytes sent, PVS_EAGAIN when the socket
 * buffer is full, or another negative code. */
int pvs_udp_send(pvs_socket s, const void *buf, size_t len,
                 const struct pvs_addr *to);
/* Receives one datagram, waiting up to timeout_ms (0: do not wait; negative:
 * wait forever). Returns its length (a longer datagram is cut to `cap` and
 * still counted as received), PVS_ETIMEDOUT, or another negative code. */
int pvs_udp_recv(pvs_socket s, void *buf, size_t cap, struct pvs_addr *from,
                 int timeout_ms);
/* Waits until one of `n` sockets (1..16) is readable or timeout_us passes
 * (0: do not wait; negative: forever); ready[i] says which are. Returns how
 * many are readable (0 when the time ran out), or a negative code. POSIX
 * waits to the microsecond (ppoll); Windows to the millisecond, rounded up
 * (WSAPoll), so a wait there may end up to a timer tick late. */
int pvs_udp_poll(const pvs_socket *socks, int n, int64_t timeout_us, bool *ready);

/* ---- batched UDP (the media path) ------------------------------------------
 * Datagrams of a batch sit back to back in one buffer, one per `stride`
 * bytes, which is how the packetizer lays out a frame. */

/* Sends `count` datagrams of `len` bytes each (packet i at buf + i * stride;
 * 1 <= len <= 65507, stride >= len) to `to`. Linux: UDP GSO (UDP_SEGMENT, up
 * to 64 datagrams and 65,507 bytes per call) when the kernel takes it, else
 * sendmmsg; elsewhere one send per datagram. The first refusal of GSO turns
 * it off for that socket; PVS_UDP_NO_GSO=1 in the environment when the socket
 * is opened does the same from the start (tests, comparisons). Returns how
 * many were sent from the start of the batch (fewer than count when the
 * socket buffer filled), PVS_EAGAIN when none could be, or another negative
 * code. */
int pvs_udp_send_batch(pvs_socket s, const void *buf, size_t stride, size_t len,
                       int count, const struct pvs_addr *to);

/* Receives up to `count` datagrams, datagram i into buf + i * stride (at most
 * stride bytes; longer ones are cut), its length into lens[i] and its sender
 * into from[i] (from may be NULL). Waits up to timeout_ms for the first (0:
 * do not wait; negative: forever), then takes what is already queued
 * (recvmmsg on Linux). Returns the number received (>= 1), PVS_ETIMEDOUT, or
 * another negative code. */
int pvs_udp_recv_batch(pvs_socket s, void *buf, size_t stride, int count,
                       size_t *lens, struct pvs_addr *from, int timeout_ms);

/* Asks the system to stamp every datagram s receives with the time it
 * arrived (Linux: SO_TIMESTAMPNS, taken when the kernel queues it), so that
 * a receiver slow to be scheduled (a busy client) still knows when its
 * packets came: the rate control reads queue delay from arrival times, and
 * a receive thread that waited 20 ms for a core looked like a 20 ms queue.
 * Returns 0, or PVS_ENOTSUP where there is no such stamp (Windows):
 * pvs_udp_recv_batch_at then gives the time the batch was taken. */
int pvs_udp_enable_arrival_stamps(pvs_socket s);

/* pvs_udp_recv_batch, and each datagram's arrival time in arrived_us[i]
 * (pvs_time_us's clock, never later than the return): the system's stamp
 * where enabled and present, else the time the batch was taken. */
int pvs_udp_recv_batch_at(pvs_socket s, void *buf, size_t stride, int count, size_t *lens,
                          struct pvs_addr *from, int64_t *arrived_us, int timeout_ms);

/* Marks outgoing packets with a DSCP value (0..63; 46 is Expedited
 * Forwarding) in IPv4's TOS or IPv6's traffic class. Returns 0, PVS_EINVAL,
 * or PVS_ENOTSUP where the system does not allow it. */
int pvs_udp_set_dscp(pvs_socket s, int dscp);

/* True when pvs_udp_send_batch uses UDP GSO on this socket (for reports). */
bool pvs_udp_gso_active(pvs_socket s);

/* Closes the socket and sets it to PVS_INVALID_SOCKET. Accepts an invalid one
 * (UDP or TCP). */
void pvs_socket_close(pvs_socket *s);

/* ---- TCP (tcp.c) ------------------------------------------------------------
 * Non-blocking sockets with waits bounded by timeout_ms (negative: forever),
 * so a thread can wait in slices and check its own stop flag in between.
 * pvs_udp_local_addr and pvs_udp_poll take TCP sockets too (readable
 * listener: a connection is waiting). */

/* A listening socket bound to `local` (port 0 picks one); the wildcard "::"
 * is dual-stack. Returns 0 or a negative code (logged; -EADDRINUSE when the
 * port is taken). */
int pvs_tcp_listen(pvs_socket *out, const struct pvs_addr *local, int backlog);
/* Takes one waiting connection without waiting: 0 with *out (non-blocking,
 * Nagle off) and its peer (may be NULL; an IPv4 peer of a dual-stack
 * listener is given as IPv4, not ::ffff:a.b.c.d), PVS_EAGAIN when none is
 * waiting, or another negative code. */
int pvs_tcp_accept(pvs_socket listener, pvs_socket *out, struct pvs_addr *peer);
/* Connects to `to` within timeout_ms. Returns 0 or a negative code
 * (-ECONNREFUSED, PVS_ETIMEDOUT, ...); not logged. */
int pvs_tcp_connect(pvs_socket *out, const struct pvs_addr *to, int timeout_ms);
/* Receives what is there, waiting up to timeout_ms for the first byte.
 * Returns the bytes received (> 0), 0 when the peer closed its side,
 * PVS_ETIMEDOUT, or another negative code (-ECONNRESET). Not logged. */
int pvs_tcp_recv(pvs_socket s, void *buf, size_t cap, int timeout_ms);
/* Sends what fits, waiting up to timeout_ms for room for the first byte.
 * Returns the bytes sent (> 0; fewer than len when the socket buffer
 * filled), PVS_ETIMEDOUT, or another negative code. Not logged; never
 * raises SIGPIPE. */
int pvs_tcp_send(pvs_socket s, const void *buf, size_t len, int timeout_ms);
/* Ends the sending side (FIN), so the peer reads the end of the answer
 * before the socket is closed. Returns 0 or a negative code. */
int pvs_tcp_shutdown(pvs_socket s);

#endif
