/* The GameStream host mode inside pvstream-server (docs/gamestream.md):
 * Moonlight clients find the server, pair with a PIN typed on the host
 * (`pvstream-server pin NNNN`), list its apps and stream, beside pvstream's
 * own protocol (the main loop in server.c runs a Moonlight session's video
 * and audio threads, with their output to gamestream/gs_session.h). It starts on a thread of its own, since making the host's RSA
 * key the first time takes a moment and probing the encoders for the codecs
 * to offer opens each one: pvstream's own clients never wait for it. A port
 * in use, or any other failure, leaves pvstream's own protocol running and
 * says why. */
#ifndef PVS_SERVER_GAMESTREAM_H
#define PVS_SERVER_GAMESTREAM_H

#include "gamestream/gs_session.h"
#include "server/server.h"

struct pvs_server_gs;

/* Starts it when cfg->gamestream is on; *out stays NULL when off. Returns 0
 * or PVS_ENOMEM. */
int pvs_server_gs_start(struct pvs_server_gs **out, const struct pvs_server_settings *cfg);
/* Stops it (waits for the start to finish first). Accepts NULL. */
void pvs_server_gs_stop(struct pvs_server_gs **g);

/* Streaming to Moonlight: the session's transport (gamestream/
 * gs_session.h), whose events the server's main loop takes and whose send
 * functions its video and audio threads call. NULL until the start thread
 * opened it, and when it could not. */
struct pvs_gs_session *pvs_server_gs_session(struct pvs_server_gs *g);
/* The main loop says which pvstream client streams ("" or NULL: none), so a
 * Moonlight launch meanwhile is refused with that reason. */
void pvs_server_gs_set_native(struct pvs_server_gs *g, const char *client);
/* serverinfo's state: app_id streaming, 0 none. */
void pvs_server_gs_set_streaming(struct pvs_server_gs *g, int app_id);

/* `pvstream-server pin NNNN`: returns the exit code. */
int pvs_server_gs_pin(const char *pin);

/* For `clients` and `unpair`: the paired Moonlight clients, printed; and
 * removing one by name (0, PVS_ENOENT or another code). */
int pvs_server_gs_list_clients(void);
int pvs_server_gs_unpair(const char *name);

#endif
