/* The session key exchange (docs/protocol.md, "Keys"): ephemeral X25519
 * through libsodium's crypto_kx, then one crypto_kdf derivation per key and
 * direction. Every intermediate secret lives on the stack and is wiped with
 * sodium_memzero before returning, on every path. */
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "net/handshake.h"

#define CONTROL_KEY_ID 1
#define CONTROL_CONTEXT "pvsctrl1"
#define SRTP_KEY_ID 2
#define SRTP_CONTEXT "pvssrtp1"

_Static_assert(PVS_HANDSHAKE_PUBLIC_BYTES == crypto_kx_PUBLICKEYBYTES, "kx public key");
_Static_assert(sizeof(((struct pvs_handshake *)0)->secret_key_) ==
               crypto_kx_SECRETKEYBYTES, "kx secret key");
_Static_assert(crypto_kx_SESSIONKEYBYTES == crypto_kdf_KEYBYTES,
               "a kx session key is a kdf master key");
_Static_assert(sizeof(CONTROL_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES &&
               sizeof(SRTP_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES,
               "kdf contexts are 8 bytes");
/* crypto_kdf derives 16..64 bytes: the 28-byte SRTP key and salt fit. */
_Static_assert(PVS_CONTROL_KEY_BYTES >= crypto_kdf_BYTES_MIN &&
               PVS_CONTROL_KEY_BYTES <= crypto_kdf_BYTES_MAX &&
               PVS_SRTP_KEY_BYTES >= crypto_kdf_BYTES_MIN &&
               PVS_SRTP_KEY_BYTES <= crypto_kdf_BYTES_MAX,
               "subkey sizes crypto_kdf can derive");

int pvs_handshake_begin(struct pvs_handshake *hs, bool is_client)
{
    if (!hs)
        return PVS_EINVAL;
    /* 0: initialized now; 1: already was (both fine); -1: failed. Safe to
     * call from any thread, any number of times. */
    if (sodium_init() < 0) {
        PVS_LOG_E("cannot initialize libsodium: it found no usable source of "
                  "random numbers (getrandom or /dev/urandom)");
        return PVS_EEXTERNAL;
    }
    hs->is_client = is_client;
    crypto_kx_keypair(hs->public_key, hs->secret_key_);
    return 0;
}

/* One direction's keys from that direction's crypto_kx session key. */
static void derive(const uint8_t session_key[crypto_kx_SESSIONKEYBYTES],
                   uint8_t control[PVS_CONTROL_KEY_BYTES],
                   uint8_t srtp[PVS_SRTP_KEY_BYTES])
{
    /* crypto_kdf_derive_from_key fails only for an out-of-range size,
     * which the static asserts above rule out. */
    crypto_kdf_derive_from_key(control, PVS_CONTROL_KEY_BYTES, CONTROL_KEY_ID,
                               CONTROL_CONTEXT, session_key);
    crypto_kdf_derive_from_key(srtp, PVS_SRTP_KEY_BYTES, SRTP_KEY_ID, SRTP_CONTEXT,
                               session_key);
}

int pvs_handshake_finish(struct pvs_handshake *hs,
                         const uint8_t peer_public[PVS_HANDSHAKE_PUBLIC_BYTES],
                         struct pvs_session_keys *out)
{
    if (!out)
        return PVS_EINVAL;
    sodium_memzero(out, sizeof(*out));
    if (!hs || !peer_public)
        return PVS_EINVAL;
    /* An all-zero secret is one finish or wipe already cleared (a random
     * one is zero with probability 2^-256). Going on would clamp it into a
     * fixed, public scalar. */
    if (sodium_is_zero(hs->secret_key_, sizeof(hs->secret_key_)))
        return PVS_EINVAL;

    /* ====================================================================
     * AUTHENTICATION GOES HERE (the security issue; version 1 has none).
     *
     * Today the only secret is the ephemeral X25519 key: a passive listener
     * learns nothing, but an active man in the middle can run one exchange
     * with each side. The fix pairs long-term static identity keys once
     * (shown as a code or QR on the server, stored on both sides) and mixes
     * them into this exchange, Noise-KK style: besides DH(e, e) also
     * DH(e_client, s_server), DH(s_client, e_server) and DH(s_client,
     * s_server), all hashed with both static and both ephemeral public keys
     * into the two session keys, in place of crypto_kx below. Here: look up
     * the peer's static key among the paired ones (unknown: PVS_EBADDATA),
     * and check a key-confirmation MAC appended to WELCOME (and to the
     * client's first message), so a peer without the paired static secret
     * is refused here rather than by its first control message failing to
     * decrypt. HELLO and WELCOME keep their layout apart from appended
     * fields (docs/protocol.md, "Keys"). The derivation of the
     * per-direction control and SRTP keys below stays as it is.
     * ==================================================================== */

    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    int rc;
    /* crypto_kx hands each side its own tx and rx: the client's tx is c2s,
     * the server's tx is s2c. */
    if (hs->is_client)
        rc = crypto_kx_client_session_keys(rx, tx, hs->public_key, hs->secret_key_,
                                           peer_public);
    else
        rc = crypto_kx_server_session_keys(rx, tx, hs->public_key, hs->secret_key_,
                                           peer_public);
    /* The ephemeral secret has done its job either way: a failed exchange
     * is not retried with the same key pair. */
    sodium_memzero(hs->secret_key_, sizeof(hs->secret_key_));
    if (rc != 0) {
        /* A low-order point (all zeros, one, the order-8 points...): the
         * shared point is the identity, which crypto_kx refuses. Logged at
         * debug: the peer's key comes from the network. */
        PVS_LOG_D("handshake: the peer's public key is unusable (low order)");
        sodium_memzero(rx, sizeof(rx));
        sodium_memzero(tx, sizeof(tx));
        return PVS_EBADDATA;
    }

    derive(tx, out->control_tx, out->srtp_tx);
    derive(rx, out->control_rx, out->srtp_rx);
    sodium_memzero(rx, sizeof(rx));
    sodium_memzero(tx, sizeof(tx));
    return 0;
}

void pvs_handshake_wipe(struct pvs_handshake *hs)
{
    if (hs)
        sodium_memzero(hs->secret_key_, sizeof(hs->secret_key_));
}

void pvs_session_keys_wipe(struct pvs_session_keys *k)
{
    if (k)
        sodium_memzero(k, sizeof(*k));
}
