/* The session key exchange (docs/protocol.md, "Keys"): each side makes an
 * ephemeral X25519 key pair, sends its public key in HELLO or WELCOME, and
 * derives per-direction control and SRTP keys from the other's with
 * libsodium's crypto_kx and crypto_kdf.
 *
 * Version 1 is unauthenticated: it keeps passive listeners out, not an active
 * man in the middle. Authentication (paired long-term identity keys checked
 * in the exchange, the security issue) goes in pvs_handshake_finish: the
 * place is marked there. */
#ifndef PVS_HANDSHAKE_H
#define PVS_HANDSHAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "net/srtp.h"

#define PVS_HANDSHAKE_PUBLIC_BYTES 32
#define PVS_CONTROL_KEY_BYTES 32

struct pvs_handshake {
    bool is_client;
    uint8_t public_key[PVS_HANDSHAKE_PUBLIC_BYTES];
    uint8_t secret_key_[32];  /* wiped by finish and wipe */
};

/* Keys of one session, from this side's point of view. */
struct pvs_session_keys {
    uint8_t control_tx[PVS_CONTROL_KEY_BYTES];
    uint8_t control_rx[PVS_CONTROL_KEY_BYTES];
    uint8_t srtp_tx[PVS_SRTP_KEY_BYTES];
    uint8_t srtp_rx[PVS_SRTP_KEY_BYTES];
};

/* Makes a fresh key pair; hs->public_key goes in HELLO (client) or WELCOME
 * (server). Returns 0 or PVS_EEXTERNAL (libsodium failed to initialize). */
int pvs_handshake_begin(struct pvs_handshake *hs, bool is_client);

/* Derives the session keys from the peer's public key and wipes the secret
 * (also when it fails; out is zeroed then). Returns 0, PVS_EBADDATA when the
 * peer's key is unusable (a low-order point: crypto_kx refuses it), or
 * PVS_EINVAL when hs holds no secret (finish or wipe already ran). */
int pvs_handshake_finish(struct pvs_handshake *hs,
                         const uint8_t peer_public[PVS_HANDSHAKE_PUBLIC_BYTES],
                         struct pvs_session_keys *out);

/* Wipes the secret key (and anything else secret) without finishing. */
void pvs_handshake_wipe(struct pvs_handshake *hs);
void pvs_session_keys_wipe(struct pvs_session_keys *k);

#endif
