/* PIN pairing: how a client and a server learn each other's long-term
 * identity key (net/identity.h) without trusting the network. The server
 * opens a pairing window and shows a 6-digit PIN; the user types it on the
 * client; the two run CPace (net/pake.h) with it, and only if both used the
 * same PIN do they share a key, which then carries the identity keys to each
 * other, sealed. A recording of the exchange does not let anyone test PIN
 * guesses offline; each run online is one guess, and the window closes after
 * PVS_PAIR_MAX_RUNS runs without success or after its time.
 *
 * The exchange runs on its own UDP port (the control port + 2, 47102 by
 * default), so it works while the server streams. Messages
 * (docs/protocol.md, "Pairing"), each one datagram:
 *
 *   header   "PVSP" (4), version 1 (1), type (1), sid (16)     22 bytes
 *   HELLO    c->s  type 1: Ya (32), name length (1), name (1..63)
 *   REPLY    s->c  type 2: Yb (32), responder tag (16), server key sealed (48)
 *   CONFIRM  c->s  type 3: initiator tag (16), client key sealed (48)
 *   DONE     s->c  type 4: nothing
 *   FAIL     s->c  type 5: reason (1): 1 wrong PIN, 2 window closed, 3 busy
 *
 * sid is 16 random bytes the client picks per run. The CPace associated
 * data is the client's name; the transcript T = sid || Ya || Yb ||
 * name length || name. Tags are pvs_cpace_confirm_tag over T. A key is sealed
 * with ChaCha20-Poly1305 (IETF) under a subkey of the ISK used once (id 1,
 * context "pvspair1" for the server's key, id 2 for the client's), nonce
 * zero, additional data T. The client retransmits HELLO and CONFIRM every
 * 500 ms; the server answers a repeat with the same reply. */
#ifndef PVS_PAIRING_H
#define PVS_PAIRING_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "net/identity.h"
#include "net/pake.h"

#define PVS_PAIR_PORT_OFFSET 2         /* from the control port */

/* The files in the configuration directory (pvs_identity_dir): each
 * program's key, and the peers it paired with. A server's paired clients
 * are named as the client named itself; a client's paired servers as
 * "HOST:PORT" (the control port), as it was given the address. */
#define PVS_SERVER_KEY_FILE "server.key"
#define PVS_SERVER_CLIENTS_FILE "clients"
#define PVS_CLIENT_KEY_FILE "client.key"
#define PVS_CLIENT_SERVERS_FILE "servers"
#define PVS_PAIR_WINDOW_SECONDS 120
#define PVS_PAIR_MAX_RUNS 5
#define PVS_PAIR_PIN_DIGITS 6
#define PVS_PAIR_MAX_MESSAGE 160

enum pvs_pair_type {
    PVS_PAIR_HELLO = 1,
    PVS_PAIR_REPLY = 2,
    PVS_PAIR_CONFIRM = 3,
    PVS_PAIR_DONE = 4,
    PVS_PAIR_FAIL = 5,
};

enum pvs_pair_fail {
    PVS_PAIR_FAIL_PIN = 1,
    PVS_PAIR_FAIL_CLOSED = 2,
    PVS_PAIR_FAIL_BUSY = 3,
};

/* One message, parsed. Only the fields of `type` are meaningful. */
struct pvs_pair_msg {
    uint8_t type;
    uint8_t sid[PVS_CPACE_SID_BYTES];
    uint8_t point[PVS_CPACE_POINT_BYTES];            /* HELLO, REPLY */
    uint8_t tag[PVS_CPACE_TAG_BYTES];                /* REPLY, CONFIRM */
    uint8_t sealed[PVS_IDENTITY_KEY_BYTES + 16];     /* REPLY, CONFIRM */
    uint8_t name_len;                                /* HELLO */
    char name[PVS_PEER_NAME_MAX + 1];                /* HELLO, NUL-terminated */
    uint8_t reason;                                  /* FAIL */
};

/* Writes m; returns its length, or PVS_EINVAL for a name that is not 1..63
 * printable non-space characters or an unknown type. */
int pvs_pair_encode(const struct pvs_pair_msg *m, uint8_t *buf, size_t cap);
/* Parses one datagram. Returns 0, or PVS_EBADDATA for anything malformed
 * (wrong magic or version, unknown type, short, a bad name). Longer
 * datagrams are refused too: pairing has no later fields yet. */
int pvs_pair_parse(const uint8_t *buf, size_t len, struct pvs_pair_msg *m);

/* A fresh PIN of PVS_PAIR_PIN_DIGITS decimal digits (uniformly random). */
void pvs_pair_new_pin(char pin[PVS_PAIR_PIN_DIGITS + 1]);

struct pvs_pair_result {
    char name[PVS_PEER_NAME_MAX + 1];                /* the peer's name (server side) */
    uint8_t key[PVS_IDENTITY_KEY_BYTES];             /* the peer's identity key */
    int runs;                                        /* runs seen (server side) */
};

/* The server's side: listens on bind_host (NULL: every IPv4 address) at
 * `port` for at most window_s seconds, or until *stop. Returns 0 with the
 * client's name and key once one client paired; PVS_ETIMEDOUT when the
 * window closed first; PVS_EBADDATA when PVS_PAIR_MAX_RUNS runs failed
 * (each a wrong PIN or abandoned); -EINTR when stopped; another code
 * when the port cannot be bound. */
int pvs_pair_serve(const char *bind_host, uint16_t port, const char *pin,
                   const struct pvs_identity *me, int window_s,
                   const volatile sig_atomic_t *stop, struct pvs_pair_result *out);

/* The client's side: pairs with the window at host:port as `name`. Returns
 * 0 with the server's key; PVS_EBADDATA for a wrong PIN; PVS_ETIMEDOUT when
 * nothing answered within timeout_ms; PVS_ENOENT when the window is closed;
 * PVS_EAGAIN when another client is pairing; another code for a bad
 * address. */
int pvs_pair_client(const char *host, uint16_t port, const char *pin, const char *name,
                    const struct pvs_identity *me, int timeout_ms, struct pvs_pair_result *out);

/* For tests and benchmarks that run server and client on one machine as
 * one user: pairs them by writing the files a PIN pairing would write.
 * server_dir gets server.key and a `clients` entry called client_name;
 * client_dir gets client.key and a `servers` entry called server_entry
 * ("127.0.0.1:PORT"). Either key is made when missing. Returns 0 or a
 * negative code. */
int pvs_pair_local(const char *server_dir, const char *client_dir, const char *client_name,
                   const char *server_entry);

#endif
