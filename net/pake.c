/* CPace over ristretto255 (net/pake.h has the construction). Intermediate
 * secrets (the generator's hash, the shared point K) live on the stack and
 * are wiped before returning, on every path. */
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "net/pake.h"

#define DSI "PVS-CPace-v1"
#define ISK_DSI "PVS-CPace-ISK"
#define LABEL_I "PVS-CPace-confirm-I"
#define LABEL_R "PVS-CPace-confirm-R"

_Static_assert(PVS_CPACE_POINT_BYTES == crypto_core_ristretto255_BYTES, "point size");
_Static_assert(sizeof(((struct pvs_cpace *)0)->scalar_) ==
               crypto_core_ristretto255_SCALARBYTES, "scalar size");
_Static_assert(PVS_CPACE_ISK_BYTES == crypto_core_ristretto255_HASHBYTES &&
               PVS_CPACE_ISK_BYTES <= crypto_generichash_BYTES_MAX, "64-byte hashes");
_Static_assert(PVS_CPACE_TAG_BYTES >= crypto_generichash_BYTES_MIN &&
               PVS_CPACE_ISK_BYTES / 2 >= crypto_generichash_KEYBYTES_MIN,
               "tag size and key size BLAKE2b takes");
_Static_assert(PVS_CPACE_ISK_BYTES / 2 == crypto_kdf_KEYBYTES &&
               crypto_kdf_CONTEXTBYTES == 8 &&
               PVS_CPACE_SUBKEY_BYTES >= crypto_kdf_BYTES_MIN &&
               PVS_CPACE_SUBKEY_BYTES <= crypto_kdf_BYTES_MAX, "kdf sizes");
_Static_assert(sizeof(LABEL_I) == sizeof(LABEL_R), "labels of one length");

/* LP(x): 32-bit little-endian length, then x. */
static void hash_lp(crypto_generichash_state *st, const uint8_t *p, size_t n)
{
    uint8_t len[4] = { (uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16),
                       (uint8_t)(n >> 24) };
    crypto_generichash_update(st, len, sizeof(len));
    if (n)
        crypto_generichash_update(st, p, n);
}

int pvs_cpace_start(struct pvs_cpace *c, bool initiator, const char *pin,
                    const uint8_t sid[PVS_CPACE_SID_BYTES], const uint8_t *ad,
                    size_t ad_len)
{
    if (!c)
        return PVS_EINVAL;
    sodium_memzero(c, sizeof(*c));
    size_t pin_len = pin ? strnlen(pin, PVS_CPACE_PIN_MAX + 1) : 0;
    if (!sid || pin_len == 0 || pin_len > PVS_CPACE_PIN_MAX ||
        ad_len > PVS_CPACE_AD_MAX || (ad_len && !ad))
        return PVS_EINVAL;
    if (sodium_init() < 0) {
        PVS_LOG_E("cannot initialize libsodium: it found no usable source of "
                  "random numbers (getrandom or /dev/urandom)");
        return PVS_EEXTERNAL;
    }

    uint8_t h[crypto_core_ristretto255_HASHBYTES];
    uint8_t g[crypto_core_ristretto255_BYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)DSI, sizeof(DSI) - 1);
    hash_lp(&st, (const uint8_t *)pin, pin_len);
    hash_lp(&st, sid, PVS_CPACE_SID_BYTES);
    hash_lp(&st, ad, ad_len);
    crypto_generichash_final(&st, h, sizeof(h));
    crypto_core_ristretto255_from_hash(g, h);

    int rc = 0;
    /* y is uniform in [1, L), so y·G is the identity only when G is, which
     * takes a hash landing on it: refused all the same. */
    crypto_core_ristretto255_scalar_random(c->scalar_);
    if (crypto_scalarmult_ristretto255(c->public_point, c->scalar_, g) != 0) {
        PVS_LOG_E("CPace: the generator gave the identity point; try another "
                  "session id");
        rc = PVS_EEXTERNAL;
    }
    sodium_memzero(h, sizeof(h));
    sodium_memzero(g, sizeof(g));
    sodium_memzero(&st, sizeof(st));
    if (rc) {
        sodium_memzero(c, sizeof(*c));
        return rc;
    }
    c->initiator = initiator;
    memcpy(c->sid_, sid, PVS_CPACE_SID_BYTES);
    c->ready_ = true;
    return 0;
}

int pvs_cpace_finish(struct pvs_cpace *c,
                     const uint8_t peer_point[PVS_CPACE_POINT_BYTES],
                     uint8_t isk[PVS_CPACE_ISK_BYTES])
{
    if (isk)
        sodium_memzero(isk, PVS_CPACE_ISK_BYTES);
    if (!c || !peer_point || !isk || !c->ready_) {
        if (c)
            sodium_memzero(c->scalar_, sizeof(c->scalar_));
        return PVS_EINVAL;
    }
    uint8_t k[crypto_core_ristretto255_BYTES];
    int rc = 0;
    /* libsodium 1.0.18 ignores the top bit when decoding; RFC 9496 says an
     * encoding with it set is >= p and must be refused, so we do. */
    if ((peer_point[31] & 0x80) || !crypto_core_ristretto255_is_valid_point(peer_point) ||
        crypto_scalarmult_ristretto255(k, c->scalar_, peer_point) != 0) {
        rc = PVS_EBADDATA;
    } else {
        const uint8_t *ya = c->initiator ? c->public_point : peer_point;
        const uint8_t *yb = c->initiator ? peer_point : c->public_point;
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, PVS_CPACE_ISK_BYTES);
        crypto_generichash_update(&st, (const uint8_t *)ISK_DSI, sizeof(ISK_DSI) - 1);
        crypto_generichash_update(&st, c->sid_, PVS_CPACE_SID_BYTES);
        crypto_generichash_update(&st, k, sizeof(k));
        crypto_generichash_update(&st, ya, PVS_CPACE_POINT_BYTES);
        crypto_generichash_update(&st, yb, PVS_CPACE_POINT_BYTES);
        crypto_generichash_final(&st, isk, PVS_CPACE_ISK_BYTES);
        sodium_memzero(&st, sizeof(st));
    }
    sodium_memzero(k, sizeof(k));
    sodium_memzero(c->scalar_, sizeof(c->scalar_));
    c->ready_ = false;
    return rc;
}

void pvs_cpace_wipe(struct pvs_cpace *c)
{
    if (c)
        sodium_memzero(c, sizeof(*c));
}

void pvs_cpace_confirm_tag(const uint8_t isk[PVS_CPACE_ISK_BYTES], bool from_initiator,
                           const uint8_t *transcript, size_t len,
                           uint8_t tag[PVS_CPACE_TAG_BYTES])
{
    const char *label = from_initiator ? LABEL_I : LABEL_R;
    crypto_generichash_state st;
    crypto_generichash_init(&st, isk, PVS_CPACE_ISK_BYTES / 2, PVS_CPACE_TAG_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof(LABEL_I) - 1);
    if (len)
        crypto_generichash_update(&st, transcript, len);
    crypto_generichash_final(&st, tag, PVS_CPACE_TAG_BYTES);
    sodium_memzero(&st, sizeof(st));
}

int pvs_cpace_check_tag(const uint8_t isk[PVS_CPACE_ISK_BYTES], bool from_initiator,
                        const uint8_t *transcript, size_t len,
                        const uint8_t tag[PVS_CPACE_TAG_BYTES])
{
    uint8_t want[PVS_CPACE_TAG_BYTES];
    pvs_cpace_confirm_tag(isk, from_initiator, transcript, len, want);
    int rc = sodium_memcmp(want, tag, sizeof(want)) == 0 ? 0 : PVS_EBADDATA;
    sodium_memzero(want, sizeof(want));
    return rc;
}

void pvs_cpace_subkey(const uint8_t isk[PVS_CPACE_ISK_BYTES], uint64_t id,
                      const char ctx[8], uint8_t out[PVS_CPACE_SUBKEY_BYTES])
{
    /* Fails only for an out-of-range size, ruled out above. */
    crypto_kdf_derive_from_key(out, PVS_CPACE_SUBKEY_BYTES, id, ctx,
                               isk + PVS_CPACE_ISK_BYTES / 2);
}
