/* GameStream's RTSP on TCP (port 48010): a thin listener around the pure
 * session of gamestream/gs_rtsp.h. Moonlight opens one connection per
 * request and reads the reply until the host closes it, so each
 * connection here is: accept, read one request (within a time limit),
 * answer, close.
 *
 * While a launch is armed only its client's address is served; other
 * hosts are closed on without a word and counted. Before any launch the
 * session answers OPTIONS and refuses the rest (503).
 *
 * Threading: one thread services the server (pvs_gs_rtsp_server_service);
 * arm, disarm and stats may be called from any thread at any time. */
#ifndef PVS_GS_RTSP_SERVER_H
#define PVS_GS_RTSP_SERVER_H

#include <stdint.h>

#include "common/platform/platform.h"
#include "gamestream/gs_rtsp.h"

struct pvs_gs_rtsp_server;

struct pvs_gs_rtsp_server_config {
    const char *bind_host;       /* NULL or "": every address (dual stack) */
    uint16_t port;               /* PVS_GS_RTSP_PORT; 0 picks a free one (tests) */
    int request_timeout_ms;      /* how long a connection may take to send its request; 0: 3000 */
    struct pvs_gs_rtsp_config rtsp;
};

struct pvs_gs_rtsp_server_stats {
    struct pvs_gs_rtsp_stats rtsp;
    uint64_t connections;        /* accepted */
    uint64_t foreign;            /* from another host than the launch's client: closed */
    uint64_t timeouts;           /* no whole request within the time limit */
    uint64_t unframed;           /* bytes that cannot be a request (over the limits) */
};

/* Opens the listener (pvs_net_init must have been called). Returns 0 or a
 * negative PVS_E* code, logged (-EADDRINUSE: another program, perhaps
 * Sunshine, holds the port). */
int pvs_gs_rtsp_server_open(struct pvs_gs_rtsp_server **out,
                            const struct pvs_gs_rtsp_server_config *cfg);

/* The port it listens on. */
uint16_t pvs_gs_rtsp_server_port(const struct pvs_gs_rtsp_server *srv);

/* Arms the session for a launch by `client` (NULL: any address), as
 * pvs_gs_rtsp_arm. */
void pvs_gs_rtsp_server_arm(struct pvs_gs_rtsp_server *srv, const struct pvs_gs_rtsp_launch *l,
                            const struct pvs_addr *client);

/* Ends the launch, as pvs_gs_rtsp_disarm. */
void pvs_gs_rtsp_server_disarm(struct pvs_gs_rtsp_server *srv);

/* Waits up to timeout_ms for a connection and serves it whole. Returns 1
 * with *ev filled when the request made an event (SETUP, ANNOUNCE, PLAY),
 * 0 when nothing happened that the caller must act on, or a negative code
 * when the listener itself failed. */
int pvs_gs_rtsp_server_service(struct pvs_gs_rtsp_server *srv, int timeout_ms,
                               struct pvs_gs_rtsp_event *ev);

void pvs_gs_rtsp_server_get_stats(struct pvs_gs_rtsp_server *srv,
                                  struct pvs_gs_rtsp_server_stats *out);

/* Closes the listener. Accepts NULL; clears *srv. */
void pvs_gs_rtsp_server_close(struct pvs_gs_rtsp_server **srv);

#endif
