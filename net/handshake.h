/* The session key exchange (docs/protocol.md, "Keys").
 *
 * Version 2 (on the wire): authenticated, Noise-KK-like. Server and client
 * each hold a long-term X25519 identity (a static key pair) and know the
 * other's public key from pairing. Each side also makes a fresh ephemeral
 * key pair per session. The client's HELLO carries its ephemeral and static
 * public keys and a tag keyed from DH(e_c, s_s) and DH(s_c, s_s): only a
 * holder of s_c that knows the server's public key can make it, and the
 * server checks it before it answers anything but REFUSE. WELCOME carries
 * the server's ephemeral key and a tag keyed from all four DH results (ee,
 * es, se, ss) and the transcript: only the holder of s_s can make it. The
 * session keys come from the same four results and the transcript, so a
 * passive listener learns nothing and a man in the middle holds neither
 * static secret.
 *
 * Flow (message = the whole clear message: type byte, then body):
 *   client: pvs_handshake_client_begin -> put hs.public_key and
 *           hs.static_public in HELLO, encode it -> pvs_handshake_client_hello
 *           writes the tag into the encoded bytes -> send.
 *   server: pvs_handshake_server_check(HELLO bytes) -> the client's static
 *           key is checked against the tag, then looked up (is_paired) ->
 *           put hs.public_key in WELCOME, encode -> pvs_handshake_server_finish
 *           writes WELCOME's tag and gives the keys.
 *   client: pvs_handshake_client_finish(WELCOME bytes) checks the tag and
 *           gives the keys.
 * Every secret (ephemeral and static copies, DH results) lives in the
 * handshake or on the stack and is wiped when the handshake ends, however
 * it ends (finish, failure, pvs_handshake_wipe).
 *
 * The local pair (pvs_handshake_begin/finish) is the old unauthenticated
 * ephemeral exchange (libsodium crypto_kx). It is no longer spoken on the
 * wire; it makes matching keys for two ends in one process (net/replay.c,
 * tests). */
#ifndef PVS_HANDSHAKE_H
#define PVS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/srtp.h"

#define PVS_HANDSHAKE_PUBLIC_BYTES 32
#define PVS_HANDSHAKE_SECRET_BYTES 32
#define PVS_HANDSHAKE_TAG_BYTES 16
#define PVS_CONTROL_KEY_BYTES 32

/* Where the authenticated fields lie, in bytes from the start of the body
 * (docs/protocol.md); a message is one type byte, then the body. */
#define PVS_HANDSHAKE_HELLO_EPHEMERAL_AT 24
#define PVS_HANDSHAKE_HELLO_STATIC_AT 56
#define PVS_HANDSHAKE_HELLO_TAG_AT 88
#define PVS_HANDSHAKE_HELLO_BODY 104       /* a version-2 HELLO, at least */
#define PVS_HANDSHAKE_WELCOME_EPHEMERAL_AT 8
#define PVS_HANDSHAKE_WELCOME_TAG_AT 40
#define PVS_HANDSHAKE_WELCOME_BODY 56      /* a version-2 WELCOME, at least */

/* A long-term identity: an X25519 key pair (secret: 32 random bytes,
 * public: crypto_scalarmult_base of it). */
struct pvs_static_keys {
    uint8_t public_key[PVS_HANDSHAKE_PUBLIC_BYTES];
    uint8_t secret_key[PVS_HANDSHAKE_SECRET_BYTES];
};

/* Asks the owner whether a client's static public key is paired. Returns
 * true and writes its paired name (NUL-terminated, at most name_len bytes
 * with the NUL) when it is. Called from the thread that services the
 * control server. */
typedef bool (*pvs_handshake_is_paired_fn)(void *ctx,
                                           const uint8_t client_static[PVS_HANDSHAKE_PUBLIC_BYTES],
                                           char *name, size_t name_len);

/* One side of one exchange. Plain data; the fields ending in _ are the
 * module's (secrets among them). */
struct pvs_handshake {
    bool is_client;
    uint8_t public_key[PVS_HANDSHAKE_PUBLIC_BYTES];    /* this side's ephemeral */
    uint8_t static_public[PVS_HANDSHAKE_PUBLIC_BYTES]; /* client: its own; server:
                                                          the client's, once checked */
    uint8_t secret_key_[PVS_HANDSHAKE_SECRET_BYTES];   /* ephemeral secret */
    uint8_t static_secret_[PVS_HANDSHAKE_SECRET_BYTES];/* client: s_c (a copy) */
    uint8_t peer_public_[PVS_HANDSHAKE_PUBLIC_BYTES];  /* server: E_c */
    uint8_t peer_static_[PVS_HANDSHAKE_PUBLIC_BYTES];  /* client: S_s */
    uint8_t dh_es_[32], dh_ss_[32];                    /* DH results known early */
    uint8_t hello_hash_[32];                           /* BLAKE2b-256 of HELLO's body */
    int step_;                                         /* where the exchange is */
};

/* Keys of one session, from this side's point of view. */
struct pvs_session_keys {
    uint8_t control_tx[PVS_CONTROL_KEY_BYTES];
    uint8_t control_rx[PVS_CONTROL_KEY_BYTES];
    uint8_t srtp_tx[PVS_SRTP_KEY_BYTES];
    uint8_t srtp_rx[PVS_SRTP_KEY_BYTES];
};

/* Makes a fresh identity. Returns 0 or PVS_EEXTERNAL (libsodium failed). */
int pvs_static_keys_generate(struct pvs_static_keys *out);
/* True when k's public key is the one its secret key makes (and neither is
 * all zeros). */
bool pvs_static_keys_valid(const struct pvs_static_keys *k);
void pvs_static_keys_wipe(struct pvs_static_keys *k);

/* A fixed identity whose secret is public (derived from a published
 * constant). With it as the server's key the exchange authenticates
 * nothing about the server: it is as safe as version 1 (a passive listener
 * learns nothing, a man in the middle wins). Only for the programs until
 * pairing is wired, and for tests. Returns 0 or PVS_EEXTERNAL. */
int pvs_static_keys_unpaired(struct pvs_static_keys *out);

/* ---- version 2: the authenticated exchange ------------------------------- */

/* Client, first step: copies `mine` and the server's static public key
 * (from pairing), makes the ephemeral key pair. Put hs->public_key and
 * hs->static_public in HELLO. Returns 0, PVS_EINVAL (a NULL, or `mine` not
 * valid), PVS_EEXTERNAL (libsodium). */
int pvs_handshake_client_begin(struct pvs_handshake *hs, const struct pvs_static_keys *mine,
                               const uint8_t server_static[PVS_HANDSHAKE_PUBLIC_BYTES]);

/* Client, second step: `hello` is the encoded HELLO message (len >= 1 +
 * PVS_HANDSHAKE_HELLO_BODY) holding hs's two public keys; writes the tag
 * into it and remembers the transcript. Returns 0; PVS_EINVAL (wrong step,
 * too short, or not hs's keys in it); PVS_EBADDATA when the server's static
 * key is unusable (a low-order point: the handshake is wiped). */
int pvs_handshake_client_hello(struct pvs_handshake *hs, uint8_t *hello, size_t len);

/* Client, last step: checks WELCOME's tag and derives the session keys
 * (tx: client to server). The handshake is wiped either way; out is zeroed
 * on failure. Returns 0; PVS_EBADDATA when the message is too short, its
 * key unusable or the tag wrong (the server is not the one paired with, or
 * the bytes were changed); PVS_EINVAL for a wrong step or NULL. */
int pvs_handshake_client_finish(struct pvs_handshake *hs, const uint8_t *welcome,
                                size_t len, struct pvs_session_keys *out);

/* Server, first step: checks a received HELLO message (as it came, len >=
 * 1 + PVS_HANDSHAKE_HELLO_BODY) against `mine`: its tag first, then the
 * client's static key through is_paired (NULL: any client whose tag holds
 * is taken, for tests and until pairing is wired). On success hs holds the
 * client's static key (hs->static_public) and a fresh ephemeral key pair
 * for WELCOME (hs->public_key), and `name` the paired name (may be NULL).
 * Returns 0; PVS_EBADDATA when too short, a key is unusable or the tag is
 * wrong (REFUSE 7); PVS_ENOENT when the tag holds but is_paired says no
 * (REFUSE 6); PVS_EINVAL (NULL, `mine` not valid); PVS_EEXTERNAL. hs is
 * wiped on every failure. */
int pvs_handshake_server_check(struct pvs_handshake *hs, const uint8_t *hello, size_t len,
                               const struct pvs_static_keys *mine,
                               pvs_handshake_is_paired_fn is_paired, void *ctx,
                               char *name, size_t name_len);

/* Server, last step: `welcome` is the encoded WELCOME message (len >= 1 +
 * PVS_HANDSHAKE_WELCOME_BODY) holding hs->public_key; writes its tag and
 * derives the session keys (tx: server to client). The handshake is wiped
 * either way; out is zeroed on failure. Returns 0, PVS_EINVAL (wrong step,
 * too short, not hs's key), or PVS_EBADDATA (a DH result of zero). */
int pvs_handshake_server_finish(struct pvs_handshake *hs, uint8_t *welcome, size_t len,
                                struct pvs_session_keys *out);

/* ---- the local pair (unauthenticated, in-process only) ------------------ */

/* Makes a fresh ephemeral key pair; hs->public_key goes to the other end.
 * Returns 0 or PVS_EEXTERNAL (libsodium failed to initialize). */
int pvs_handshake_begin(struct pvs_handshake *hs, bool is_client);

/* Derives the session keys from the peer's public key and wipes the secret
 * (also when it fails; out is zeroed then). Returns 0, PVS_EBADDATA when the
 * peer's key is unusable (a low-order point: crypto_kx refuses it), or
 * PVS_EINVAL when hs holds no secret (finish or wipe already ran). */
int pvs_handshake_finish(struct pvs_handshake *hs,
                         const uint8_t peer_public[PVS_HANDSHAKE_PUBLIC_BYTES],
                         struct pvs_session_keys *out);

/* Wipes every secret of the handshake (both kinds) without finishing; the
 * public keys stay. */
void pvs_handshake_wipe(struct pvs_handshake *hs);
void pvs_session_keys_wipe(struct pvs_session_keys *k);

#endif
