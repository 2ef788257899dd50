/* PIN pairing: CPace, the balanced PAKE of the CFRG draft
 * (draft-irtf-cfrg-cpace), simplified as written below, over ristretto255
 * with libsodium. Both sides know a short PIN; each learns the same 64-byte
 * intermediate session key (ISK) only if both used the same PIN, and a man
 * in the middle gets one guess per run. The ISK then encrypts the identity
 * keys the two exchange (net/identity.h) and the key confirmation tags show
 * each side that the other got it.
 *
 * The construction, byte by byte (this text goes into docs/protocol.md).
 * LP(x) is x's length as a 32-bit little-endian number followed by x.
 * BLAKE2b-512 is crypto_generichash with no key and 64 bytes out.
 *
 *   generator  G = crypto_core_ristretto255_from_hash(
 *                    BLAKE2b-512("PVS-CPace-v1" || LP(PIN) || LP(sid) || LP(AD)))
 *              "PVS-CPace-v1" is those 12 ASCII bytes, no length or NUL;
 *              PIN is the PIN's bytes as given (no NUL, 1..256 bytes);
 *              sid is the 16-byte session id both sides agreed on (fresh
 *              for every run, e.g. random bytes from the responder);
 *              AD is associated data both sides must agree on, e.g.
 *              "client-name/server-name", or empty (0..65535 bytes).
 *   each side  y = crypto_core_ristretto255_scalar_random();
 *              Y = crypto_scalarmult_ristretto255(y, G) (refused if the
 *              identity), sent to the peer as 32 bytes.
 *   on Y'      refused unless crypto_core_ristretto255_is_valid_point(Y')
 *              and the top bit of Y'[31] is clear (RFC 9496: the encoding
 *              must be < p; libsodium 1.0.18 does not check that bit);
 *              K = crypto_scalarmult_ristretto255(y, Y'), refused if the
 *              identity;
 *              ISK = BLAKE2b-512("PVS-CPace-ISK" || sid || K || Ya || Yb)
 *              where Ya is the initiator's point and Yb the responder's
 *              ("PVS-CPace-ISK" is 13 bytes; every other field is fixed size).
 *   confirm    tag = BLAKE2b, 16 bytes out, keyed with ISK[0..32), of
 *              label || transcript, label "PVS-CPace-confirm-I" for the tag
 *              the initiator sends and "PVS-CPace-confirm-R" for the
 *              responder's (19 bytes each, no NUL). The transcript is what
 *              the caller decides both sides saw (at least sid, Ya, Yb).
 *   subkeys    crypto_kdf_derive_from_key(out, 32, id, ctx, ISK[32..64)).
 *
 * A struct pvs_cpace is one run by one side; it is not shared between
 * threads. Every secret it holds is wiped by finish (on every path) and by
 * pvs_cpace_wipe. */
#ifndef PVS_PAKE_H
#define PVS_PAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_CPACE_SID_BYTES 16
#define PVS_CPACE_POINT_BYTES 32
#define PVS_CPACE_ISK_BYTES 64
#define PVS_CPACE_TAG_BYTES 16
#define PVS_CPACE_SUBKEY_BYTES 32
#define PVS_CPACE_PIN_MAX 256
#define PVS_CPACE_AD_MAX 65535

struct pvs_cpace {
    bool initiator;
    /* Y: send it to the peer. Valid after start. */
    uint8_t public_point[PVS_CPACE_POINT_BYTES];
    uint8_t sid_[PVS_CPACE_SID_BYTES];
    uint8_t scalar_[32];  /* y; wiped by finish and wipe */
    bool ready_;          /* start ran, finish has not */
};

/* Starts a run: derives G from the PIN, sid and ad, picks y and computes
 * c->public_point. `pin` is a NUL-terminated string of 1..PVS_CPACE_PIN_MAX
 * bytes; ad may be NULL when ad_len is 0. Returns 0, PVS_EINVAL for bad
 * arguments, or PVS_EEXTERNAL when libsodium cannot initialize or the
 * multiplication fails (the log says which). */
int pvs_cpace_start(struct pvs_cpace *c, bool initiator, const char *pin,
                    const uint8_t sid[PVS_CPACE_SID_BYTES], const uint8_t *ad,
                    size_t ad_len);

/* Finishes with the peer's point: writes the ISK. One-shot: the scalar is
 * wiped whatever happens. Returns 0, PVS_EBADDATA when peer_point is not a
 * canonical ristretto255 encoding or gives the identity (isk is zeroed
 * then), or PVS_EINVAL when c was not started or is spent. A wrong PIN is
 * not an error here: the ISKs differ, and the confirmation tags tell. */
int pvs_cpace_finish(struct pvs_cpace *c,
                     const uint8_t peer_point[PVS_CPACE_POINT_BYTES],
                     uint8_t isk[PVS_CPACE_ISK_BYTES]);

/* Zeroes the whole struct. Accepts NULL. */
void pvs_cpace_wipe(struct pvs_cpace *c);

/* The key confirmation tag sent by the initiator (from_initiator true) or
 * by the responder, over `transcript` (len bytes; NULL only when len is 0). */
void pvs_cpace_confirm_tag(const uint8_t isk[PVS_CPACE_ISK_BYTES], bool from_initiator,
                           const uint8_t *transcript, size_t len,
                           uint8_t tag[PVS_CPACE_TAG_BYTES]);

/* Checks a received tag in constant time (sodium_memcmp). from_initiator
 * says who sent it. Returns 0 when it matches, PVS_EBADDATA when not (wrong
 * PIN, or a tampered transcript). */
int pvs_cpace_check_tag(const uint8_t isk[PVS_CPACE_ISK_BYTES], bool from_initiator,
                        const uint8_t *transcript, size_t len,
                        const uint8_t tag[PVS_CPACE_TAG_BYTES]);

/* Derives a 32-byte subkey from the ISK (see "subkeys" above); ctx is 8
 * bytes, not NUL-terminated (a string literal of 8 characters fits). */
void pvs_cpace_subkey(const uint8_t isk[PVS_CPACE_ISK_BYTES], uint64_t id,
                      const char ctx[8], uint8_t out[PVS_CPACE_SUBKEY_BYTES]);

#endif
