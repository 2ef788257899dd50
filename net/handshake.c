/* The session key exchange (net/handshake.h, docs/protocol.md "Keys").
 *
 * Version 2, with s_c/S_c, s_s/S_s the static (identity) key pairs,
 * e_c/E_c, e_s/E_s the ephemeral ones, DH = X25519 (crypto_scalarmult, an
 * all-zero result refused), H = BLAKE2b (crypto_generichash), H_k = keyed:
 *   es = DH(e_c, S_s)  ss = DH(s_c, S_s)  ee = DH(e_c, E_s)  se = DH(s_c, E_s)
 *   k_hello   = H-256("pvstream v2 hello" || es || ss)
 *   HELLO tag = H_k_hello-128(HELLO body bytes 0..87)
 *   h         = H-256(H-256(HELLO body, every byte) || WELCOME body 0..39)
 *   master    = H-256("pvstream v2 session" || ee || es || se || ss || h)
 *   confirm, c2s, s2c = crypto_kdf(master, ids 1, 2, 3, context "pvsauth2")
 *   WELCOME tag = H_confirm-128(h)
 * and from c2s and s2c the control and SRTP keys as in version 1 (ids 1
 * and 2, contexts "pvsctrl1", "pvssrtp1"). The server does each DH with
 * its own secret and the client's public key, which gives the same
 * results. Every secret is wiped with sodium_memzero on every path. */
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "net/handshake.h"

#define CONTROL_KEY_ID 1
#define CONTROL_CONTEXT "pvsctrl1"
#define SRTP_KEY_ID 2
#define SRTP_CONTEXT "pvssrtp1"
#define AUTH_CONTEXT "pvsauth2"
#define CONFIRM_ID 1
#define C2S_ID 2
#define S2C_ID 3
#define LABEL_HELLO "pvstream v2 hello"
#define LABEL_SESSION "pvstream v2 session"
/* A published constant: the seed of the unpaired identity. */
#define UNPAIRED_SEED "pvstream unpaired identity: no secret"

enum step {
    STEP_NONE = 0,
    STEP_CLIENT_BEGUN,
    STEP_CLIENT_HELLO,
    STEP_SERVER_CHECKED,
};

_Static_assert(PVS_HANDSHAKE_PUBLIC_BYTES == crypto_kx_PUBLICKEYBYTES, "kx public key");
_Static_assert(PVS_HANDSHAKE_PUBLIC_BYTES == crypto_scalarmult_BYTES &&
               PVS_HANDSHAKE_SECRET_BYTES == crypto_scalarmult_SCALARBYTES, "X25519 sizes");
_Static_assert(sizeof(((struct pvs_handshake *)0)->secret_key_) ==
               crypto_kx_SECRETKEYBYTES, "kx secret key");
_Static_assert(crypto_kx_SESSIONKEYBYTES == crypto_kdf_KEYBYTES,
               "a kx session key is a kdf master key");
_Static_assert(sizeof(CONTROL_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES &&
               sizeof(SRTP_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES &&
               sizeof(AUTH_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES,
               "kdf contexts are 8 bytes");
/* crypto_kdf derives 16..64 bytes: the 28-byte SRTP key and salt fit. */
_Static_assert(PVS_CONTROL_KEY_BYTES >= crypto_kdf_BYTES_MIN &&
               PVS_CONTROL_KEY_BYTES <= crypto_kdf_BYTES_MAX &&
               PVS_SRTP_KEY_BYTES >= crypto_kdf_BYTES_MIN &&
               PVS_SRTP_KEY_BYTES <= crypto_kdf_BYTES_MAX,
               "subkey sizes crypto_kdf can derive");
_Static_assert(PVS_HANDSHAKE_TAG_BYTES >= crypto_generichash_BYTES_MIN, "BLAKE2b-128");
_Static_assert(PVS_HANDSHAKE_HELLO_TAG_AT + PVS_HANDSHAKE_TAG_BYTES == PVS_HANDSHAKE_HELLO_BODY &&
               PVS_HANDSHAKE_WELCOME_TAG_AT + PVS_HANDSHAKE_TAG_BYTES ==
                   PVS_HANDSHAKE_WELCOME_BODY, "tags end the bodies");

static int sodium_up(void)
{
    /* 0: initialized now; 1: already was (both fine); -1: failed. Safe to
     * call from any thread, any number of times. */
    if (sodium_init() < 0) {
        PVS_LOG_E("cannot initialize libsodium: it found no usable source of "
                  "random numbers (getrandom or /dev/urandom)");
        return PVS_EEXTERNAL;
    }
    return 0;
}

/* ---- identities --------------------------------------------------------- */

int pvs_static_keys_generate(struct pvs_static_keys *out)
{
    if (!out)
        return PVS_EINVAL;
    int rc = sodium_up();
    if (rc < 0)
        return rc;
    crypto_box_keypair(out->public_key, out->secret_key); /* X25519 */
    return 0;
}

bool pvs_static_keys_valid(const struct pvs_static_keys *k)
{
    if (!k || sodium_up() < 0 || sodium_is_zero(k->secret_key, sizeof(k->secret_key)))
        return false;
    uint8_t pk[PVS_HANDSHAKE_PUBLIC_BYTES];
    if (crypto_scalarmult_base(pk, k->secret_key) != 0)
        return false;
    return sodium_memcmp(pk, k->public_key, sizeof(pk)) == 0;
}

void pvs_static_keys_wipe(struct pvs_static_keys *k)
{
    if (k)
        sodium_memzero(k, sizeof(*k));
}

int pvs_static_keys_unpaired(struct pvs_static_keys *out)
{
    if (!out)
        return PVS_EINVAL;
    int rc = sodium_up();
    if (rc < 0)
        return rc;
    crypto_generichash(out->secret_key, sizeof(out->secret_key),
                       (const uint8_t *)UNPAIRED_SEED, sizeof(UNPAIRED_SEED) - 1, NULL, 0);
    crypto_scalarmult_base(out->public_key, out->secret_key);
    return 0;
}

/* ---- version 2 ------------------------------------------------------------ */

/* X25519; false (out zeroed) for an all-zero result: the peer's key was a
 * low-order point, and the result would be known to anyone. */
static bool dh(uint8_t out[32], const uint8_t secret[32], const uint8_t peer[32])
{
    if (crypto_scalarmult(out, secret, peer) != 0 || sodium_is_zero(out, 32)) {
        sodium_memzero(out, 32);
        return false;
    }
    return true;
}

/* HELLO's tag from es and ss, over body bytes 0..87. */
static void hello_tag(uint8_t tag[PVS_HANDSHAKE_TAG_BYTES], const uint8_t es[32],
                      const uint8_t ss[32], const uint8_t *body)
{
    uint8_t k[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(k));
    crypto_generichash_update(&st, (const uint8_t *)LABEL_HELLO, sizeof(LABEL_HELLO) - 1);
    crypto_generichash_update(&st, es, 32);
    crypto_generichash_update(&st, ss, 32);
    crypto_generichash_final(&st, k, sizeof(k));
    crypto_generichash(tag, PVS_HANDSHAKE_TAG_BYTES, body, PVS_HANDSHAKE_HELLO_TAG_AT,
                       k, sizeof(k));
    sodium_memzero(k, sizeof(k));
    sodium_memzero(&st, sizeof(st));
}

/* One direction's keys from that direction's 32-byte key. */
static void derive(const uint8_t session_key[32], uint8_t control[PVS_CONTROL_KEY_BYTES],
                   uint8_t srtp[PVS_SRTP_KEY_BYTES])
{
    /* crypto_kdf_derive_from_key fails only for an out-of-range size,
     * which the static asserts above rule out. */
    crypto_kdf_derive_from_key(control, PVS_CONTROL_KEY_BYTES, CONTROL_KEY_ID,
                               CONTROL_CONTEXT, session_key);
    crypto_kdf_derive_from_key(srtp, PVS_SRTP_KEY_BYTES, SRTP_KEY_ID, SRTP_CONTEXT,
                               session_key);
}

/* From the four DH results, HELLO's hash and WELCOME's body: the WELCOME
 * tag and this side's session keys. */
static void session(const struct pvs_handshake *hs, const uint8_t ee[32], const uint8_t se[32],
                    const uint8_t *welcome_body, uint8_t tag[PVS_HANDSHAKE_TAG_BYTES],
                    struct pvs_session_keys *out)
{
    uint8_t h[32], master[32], confirm[32], c2s[32], s2c[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, hs->hello_hash_, sizeof(hs->hello_hash_));
    crypto_generichash_update(&st, welcome_body, PVS_HANDSHAKE_WELCOME_TAG_AT);
    crypto_generichash_final(&st, h, sizeof(h));

    crypto_generichash_init(&st, NULL, 0, sizeof(master));
    crypto_generichash_update(&st, (const uint8_t *)LABEL_SESSION, sizeof(LABEL_SESSION) - 1);
    crypto_generichash_update(&st, ee, 32);
    crypto_generichash_update(&st, hs->dh_es_, 32);
    crypto_generichash_update(&st, se, 32);
    crypto_generichash_update(&st, hs->dh_ss_, 32);
    crypto_generichash_update(&st, h, sizeof(h));
    crypto_generichash_final(&st, master, sizeof(master));

    crypto_kdf_derive_from_key(confirm, sizeof(confirm), CONFIRM_ID, AUTH_CONTEXT, master);
    crypto_kdf_derive_from_key(c2s, sizeof(c2s), C2S_ID, AUTH_CONTEXT, master);
    crypto_kdf_derive_from_key(s2c, sizeof(s2c), S2C_ID, AUTH_CONTEXT, master);
    crypto_generichash(tag, PVS_HANDSHAKE_TAG_BYTES, h, sizeof(h), confirm, sizeof(confirm));
    derive(hs->is_client ? c2s : s2c, out->control_tx, out->srtp_tx);
    derive(hs->is_client ? s2c : c2s, out->control_rx, out->srtp_rx);

    sodium_memzero(&st, sizeof(st));
    sodium_memzero(master, sizeof(master));
    sodium_memzero(confirm, sizeof(confirm));
    sodium_memzero(c2s, sizeof(c2s));
    sodium_memzero(s2c, sizeof(s2c));
}

int pvs_handshake_client_begin(struct pvs_handshake *hs, const struct pvs_static_keys *mine,
                               const uint8_t server_static[PVS_HANDSHAKE_PUBLIC_BYTES])
{
    if (!hs)
        return PVS_EINVAL;
    memset(hs, 0, sizeof(*hs));
    if (!mine || !server_static || !pvs_static_keys_valid(mine))
        return PVS_EINVAL;
    int rc = sodium_up();
    if (rc < 0)
        return rc;
    hs->is_client = true;
    crypto_box_keypair(hs->public_key, hs->secret_key_);
    memcpy(hs->static_public, mine->public_key, sizeof(hs->static_public));
    memcpy(hs->static_secret_, mine->secret_key, sizeof(hs->static_secret_));
    memcpy(hs->peer_static_, server_static, sizeof(hs->peer_static_));
    hs->step_ = STEP_CLIENT_BEGUN;
    return 0;
}

int pvs_handshake_client_hello(struct pvs_handshake *hs, uint8_t *hello, size_t len)
{
    if (!hs || !hello || hs->step_ != STEP_CLIENT_BEGUN || len < 1 + PVS_HANDSHAKE_HELLO_BODY)
        return PVS_EINVAL;
    uint8_t *body = hello + 1;
    if (memcmp(body + PVS_HANDSHAKE_HELLO_EPHEMERAL_AT, hs->public_key, 32) != 0 ||
        memcmp(body + PVS_HANDSHAKE_HELLO_STATIC_AT, hs->static_public, 32) != 0)
        return PVS_EINVAL;
    if (!dh(hs->dh_es_, hs->secret_key_, hs->peer_static_) ||
        !dh(hs->dh_ss_, hs->static_secret_, hs->peer_static_)) {
        PVS_LOG_W("handshake: the server's public key from pairing is unusable (low order)");
        pvs_handshake_wipe(hs);
        return PVS_EBADDATA;
    }
    hello_tag(body + PVS_HANDSHAKE_HELLO_TAG_AT, hs->dh_es_, hs->dh_ss_, body);
    crypto_generichash(hs->hello_hash_, sizeof(hs->hello_hash_), body, len - 1, NULL, 0);
    hs->step_ = STEP_CLIENT_HELLO;
    return 0;
}

int pvs_handshake_client_finish(struct pvs_handshake *hs, const uint8_t *welcome,
                                size_t len, struct pvs_session_keys *out)
{
    if (!out)
        return PVS_EINVAL;
    sodium_memzero(out, sizeof(*out));
    if (!hs || hs->step_ != STEP_CLIENT_HELLO || !hs->is_client) {
        pvs_handshake_wipe(hs);
        return PVS_EINVAL;
    }
    int rc = PVS_EBADDATA;
    uint8_t ee[32] = {0}, se[32] = {0}, tag[PVS_HANDSHAKE_TAG_BYTES];
    if (!welcome || len < 1 + PVS_HANDSHAKE_WELCOME_BODY)
        goto out;
    const uint8_t *body = welcome + 1;
    const uint8_t *e_s = body + PVS_HANDSHAKE_WELCOME_EPHEMERAL_AT;
    if (!dh(ee, hs->secret_key_, e_s) || !dh(se, hs->static_secret_, e_s))
        goto out;
    session(hs, ee, se, body, tag, out);
    if (sodium_memcmp(tag, body + PVS_HANDSHAKE_WELCOME_TAG_AT, sizeof(tag)) != 0) {
        sodium_memzero(out, sizeof(*out));
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(ee, sizeof(ee));
    sodium_memzero(se, sizeof(se));
    sodium_memzero(tag, sizeof(tag));
    pvs_handshake_wipe(hs);
    return rc;
}

int pvs_handshake_server_check(struct pvs_handshake *hs, const uint8_t *hello, size_t len,
                               const struct pvs_static_keys *mine,
                               pvs_handshake_is_paired_fn is_paired, void *ctx,
                               char *name, size_t name_len)
{
    if (name && name_len)
        name[0] = '\0';
    if (!hs)
        return PVS_EINVAL;
    memset(hs, 0, sizeof(*hs));
    if (!mine || !pvs_static_keys_valid(mine))
        return PVS_EINVAL;
    if (!hello || len < 1 + PVS_HANDSHAKE_HELLO_BODY)
        return PVS_EBADDATA;
    int rc = sodium_up();
    if (rc < 0)
        return rc;
    const uint8_t *body = hello + 1;
    const uint8_t *e_c = body + PVS_HANDSHAKE_HELLO_EPHEMERAL_AT;
    const uint8_t *s_c = body + PVS_HANDSHAKE_HELLO_STATIC_AT;
    uint8_t tag[PVS_HANDSHAKE_TAG_BYTES];
    rc = PVS_EBADDATA;
    if (!dh(hs->dh_es_, mine->secret_key, e_c) || !dh(hs->dh_ss_, mine->secret_key, s_c))
        goto fail;
    hello_tag(tag, hs->dh_es_, hs->dh_ss_, body);
    bool ok = sodium_memcmp(tag, body + PVS_HANDSHAKE_HELLO_TAG_AT, sizeof(tag)) == 0;
    sodium_memzero(tag, sizeof(tag));
    if (!ok)
        goto fail;
    /* Only a client that proved it holds s_c is looked up (and so told it
     * is not paired): a forger learns nothing about who is. */
    char dummy[1];
    if (is_paired && !is_paired(ctx, s_c, name && name_len ? name : dummy,
                                name && name_len ? name_len : sizeof(dummy))) {
        if (name && name_len)
            name[0] = '\0';
        rc = PVS_ENOENT;
        goto fail;
    }
    if (name && name_len)
        name[name_len - 1] = '\0';
    memcpy(hs->static_public, s_c, sizeof(hs->static_public));
    memcpy(hs->peer_public_, e_c, sizeof(hs->peer_public_));
    crypto_generichash(hs->hello_hash_, sizeof(hs->hello_hash_), body, len - 1, NULL, 0);
    crypto_box_keypair(hs->public_key, hs->secret_key_);
    hs->is_client = false;
    hs->step_ = STEP_SERVER_CHECKED;
    return 0;

fail:
    pvs_handshake_wipe(hs);
    return rc;
}

int pvs_handshake_server_finish(struct pvs_handshake *hs, uint8_t *welcome, size_t len,
                                struct pvs_session_keys *out)
{
    if (!out)
        return PVS_EINVAL;
    sodium_memzero(out, sizeof(*out));
    if (!hs || hs->step_ != STEP_SERVER_CHECKED || !welcome ||
        len < 1 + PVS_HANDSHAKE_WELCOME_BODY ||
        memcmp(welcome + 1 + PVS_HANDSHAKE_WELCOME_EPHEMERAL_AT, hs->public_key, 32) != 0) {
        pvs_handshake_wipe(hs);
        return PVS_EINVAL;
    }
    uint8_t *body = welcome + 1;
    uint8_t ee[32], se[32];
    int rc = PVS_EBADDATA;
    /* E_c and S_c already gave nonzero results with s_s; with a fresh
     * e_s they could only give zero if they were low-order, so this is a
     * belt-and-braces check. */
    if (dh(ee, hs->secret_key_, hs->peer_public_) && dh(se, hs->secret_key_, hs->static_public)) {
        session(hs, ee, se, body, body + PVS_HANDSHAKE_WELCOME_TAG_AT, out);
        rc = 0;
    }
    sodium_memzero(ee, sizeof(ee));
    sodium_memzero(se, sizeof(se));
    pvs_handshake_wipe(hs);
    return rc;
}

/* ---- the local pair --------------------------------------------------------- */

int pvs_handshake_begin(struct pvs_handshake *hs, bool is_client)
{
    if (!hs)
        return PVS_EINVAL;
    int rc = sodium_up();
    if (rc < 0)
        return rc;
    memset(hs, 0, sizeof(*hs));
    hs->is_client = is_client;
    crypto_kx_keypair(hs->public_key, hs->secret_key_);
    return 0;
}

int pvs_handshake_finish(struct pvs_handshake *hs,
                         const uint8_t peer_public[PVS_HANDSHAKE_PUBLIC_BYTES],
                         struct pvs_session_keys *out)
{
    if (!out)
        return PVS_EINVAL;
    sodium_memzero(out, sizeof(*out));
    if (!hs || !peer_public || hs->step_ != STEP_NONE)
        return PVS_EINVAL;
    /* An all-zero secret is one finish or wipe already cleared (a random
     * one is zero with probability 2^-256). Going on would clamp it into a
     * fixed, public scalar. */
    if (sodium_is_zero(hs->secret_key_, sizeof(hs->secret_key_)))
        return PVS_EINVAL;

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
    /* The ephemeral secret has done its job either way. */
    sodium_memzero(hs->secret_key_, sizeof(hs->secret_key_));
    if (rc != 0) {
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
    if (!hs)
        return;
    sodium_memzero(hs->secret_key_, sizeof(hs->secret_key_));
    sodium_memzero(hs->static_secret_, sizeof(hs->static_secret_));
    sodium_memzero(hs->dh_es_, sizeof(hs->dh_es_));
    sodium_memzero(hs->dh_ss_, sizeof(hs->dh_ss_));
    sodium_memzero(hs->hello_hash_, sizeof(hs->hello_hash_));
    hs->step_ = STEP_NONE;
}

void pvs_session_keys_wipe(struct pvs_session_keys *k)
{
    if (k)
        sodium_memzero(k, sizeof(*k));
}
