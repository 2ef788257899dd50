/* The session key exchange: both sides derive the same keys with tx and rx
 * swapped, and exactly the derivation docs/protocol.md gives (recomputed
 * here from crypto_kx and crypto_kdf); every session is fresh; low-order
 * peer keys are refused; secrets are wiped and a spent handshake cannot be
 * finished again; and the SRTP keys work with pvs_srtp in both directions,
 * each only in its own. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "net/handshake.h"
#include "net/srtp.h"
#include "tests/unit/test.h"

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

#define SAME(a, b) (sizeof(a) == sizeof(b) && memcmp((a), (b), sizeof(a)) == 0)

/* One session: a client and a server, their key pairs and their keys. The
 * secrets are copied out before finish wipes them, for the reference. */
struct session {
    struct pvs_handshake c, s;
    uint8_t c_secret[32], s_secret[32];
    struct pvs_session_keys ck, sk;
};

static void run_session(struct session *x)
{
    CHECK_INT(pvs_handshake_begin(&x->c, true), ==, 0);
    CHECK_INT(pvs_handshake_begin(&x->s, false), ==, 0);
    CHECK(x->c.is_client && !x->s.is_client);
    memcpy(x->c_secret, x->c.secret_key_, 32);
    memcpy(x->s_secret, x->s.secret_key_, 32);
    CHECK_INT(pvs_handshake_finish(&x->c, x->s.public_key, &x->ck), ==, 0);
    CHECK_INT(pvs_handshake_finish(&x->s, x->c.public_key, &x->sk), ==, 0);
}

static void test_keys_match(void)
{
    struct session x;
    run_session(&x);
    CHECK(SAME(x.ck.control_tx, x.sk.control_rx));
    CHECK(SAME(x.ck.control_rx, x.sk.control_tx));
    CHECK(SAME(x.ck.srtp_tx, x.sk.srtp_rx));
    CHECK(SAME(x.ck.srtp_rx, x.sk.srtp_tx));
    /* each direction its own keys, each key its own bytes */
    CHECK(!SAME(x.ck.control_tx, x.ck.control_rx));
    CHECK(!SAME(x.ck.srtp_tx, x.ck.srtp_rx));
    CHECK(memcmp(x.ck.control_tx, x.ck.srtp_tx, PVS_SRTP_KEY_BYTES) != 0);
    CHECK(!is_zero(x.ck.control_tx, sizeof(x.ck.control_tx)));
    CHECK(!is_zero(x.ck.srtp_rx, sizeof(x.ck.srtp_rx)));
    CHECK(!SAME(x.c.public_key, x.s.public_key));
}

/* docs/protocol.md, "Keys", recomputed: c2s is the client's crypto_kx tx;
 * from each direction's key, subkey 1 "pvsctrl1" (32 bytes) and subkey 2
 * "pvssrtp1" (28 bytes). */
static void test_derivation_is_the_documented_one(void)
{
    struct session x;
    run_session(&x);
    uint8_t c_pk[32], rx[32], tx[32];
    CHECK_INT(crypto_scalarmult_base(c_pk, x.c_secret), ==, 0);
    CHECK(SAME(c_pk, x.c.public_key));
    CHECK_INT(crypto_kx_client_session_keys(rx, tx, x.c.public_key, x.c_secret,
                                            x.s.public_key), ==, 0);
    uint8_t ctrl[32], srtp[28];
    crypto_kdf_derive_from_key(ctrl, sizeof(ctrl), 1, "pvsctrl1", tx);
    crypto_kdf_derive_from_key(srtp, sizeof(srtp), 2, "pvssrtp1", tx);
    CHECK(SAME(ctrl, x.ck.control_tx));
    CHECK(SAME(srtp, x.ck.srtp_tx));
    crypto_kdf_derive_from_key(ctrl, sizeof(ctrl), 1, "pvsctrl1", rx);
    crypto_kdf_derive_from_key(srtp, sizeof(srtp), 2, "pvssrtp1", rx);
    CHECK(SAME(ctrl, x.ck.control_rx));
    CHECK(SAME(srtp, x.ck.srtp_rx));
    /* the server's view from its own secret */
    CHECK_INT(crypto_kx_server_session_keys(rx, tx, x.s.public_key, x.s_secret,
                                            x.c.public_key), ==, 0);
    crypto_kdf_derive_from_key(srtp, sizeof(srtp), 2, "pvssrtp1", tx);
    CHECK(SAME(srtp, x.sk.srtp_tx));
}

static void test_fresh_each_session(void)
{
    struct session a, b;
    run_session(&a);
    run_session(&b);
    CHECK(!SAME(a.c.public_key, b.c.public_key));
    CHECK(!SAME(a.s.public_key, b.s.public_key));
    CHECK(!SAME(a.ck.control_tx, b.ck.control_tx));
    CHECK(!SAME(a.ck.srtp_tx, b.ck.srtp_tx));
    CHECK(!SAME(a.ck.srtp_rx, b.ck.srtp_rx));
}

/* Points of small order on Curve25519 (and their non-canonical twins):
 * X25519 with any clamped scalar gives the all-zero point, which crypto_kx
 * refuses. */
static const uint8_t low_order[][32] = {
    {0},                                                   /* 0 */
    {1},                                                   /* 1 */
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
     0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
     0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00}, /* order 8 */
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
     0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
     0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57}, /* order 8 */
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p - 1 */
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p = 0 */
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, /* p + 1 = 1 */
};

static void test_low_order_refused(void)
{
    for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
        for (int client = 0; client < 2; client++) {
            struct pvs_handshake hs;
            struct pvs_session_keys k;
            memset(&k, 0x55, sizeof(k));
            CHECK_INT(pvs_handshake_begin(&hs, client), ==, 0);
            int rc = pvs_handshake_finish(&hs, low_order[i], &k);
            if (rc != PVS_EBADDATA)
                fprintf(stderr, "low-order point %zu (client %d): %d\n", i, client, rc);
            CHECK_INT(rc, ==, PVS_EBADDATA);
            CHECK(is_zero(&k, sizeof(k)));
            CHECK(is_zero(hs.secret_key_, sizeof(hs.secret_key_)));
        }
    }
}

static void test_wiping(void)
{
    struct session x;
    run_session(&x);
    CHECK(is_zero(x.c.secret_key_, sizeof(x.c.secret_key_)));
    CHECK(is_zero(x.s.secret_key_, sizeof(x.s.secret_key_)));
    /* a spent handshake cannot be finished again (its secret would be a
     * known constant) */
    struct pvs_session_keys k;
    CHECK_INT(pvs_handshake_finish(&x.c, x.s.public_key, &k), ==, PVS_EINVAL);
    CHECK(is_zero(&k, sizeof(k)));

    struct pvs_handshake hs;
    CHECK_INT(pvs_handshake_begin(&hs, true), ==, 0);
    CHECK(!is_zero(hs.secret_key_, sizeof(hs.secret_key_)));
    pvs_handshake_wipe(&hs);
    CHECK(is_zero(hs.secret_key_, sizeof(hs.secret_key_)));
    CHECK_INT(pvs_handshake_finish(&hs, x.s.public_key, &k), ==, PVS_EINVAL);

    pvs_session_keys_wipe(&x.ck);
    CHECK(is_zero(&x.ck, sizeof(x.ck)));
    pvs_session_keys_wipe(NULL);
    pvs_handshake_wipe(NULL);
    CHECK_INT(pvs_handshake_begin(NULL, true), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_finish(NULL, x.s.public_key, &k), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_finish(&hs, x.s.public_key, NULL), ==, PVS_EINVAL);
}

/* Two clients (a role mix-up) do not end up with a working pair of keys. */
static void test_roles_matter(void)
{
    struct pvs_handshake a, b;
    struct pvs_session_keys ka, kb;
    CHECK_INT(pvs_handshake_begin(&a, true), ==, 0);
    CHECK_INT(pvs_handshake_begin(&b, true), ==, 0);
    CHECK_INT(pvs_handshake_finish(&a, b.public_key, &ka), ==, 0);
    CHECK_INT(pvs_handshake_finish(&b, a.public_key, &kb), ==, 0);
    CHECK(!SAME(ka.srtp_tx, kb.srtp_rx));
    CHECK(!SAME(ka.control_tx, kb.control_rx));
}

/* A 1,384-byte packet sent with `tx_key` and received with `rx_key`.
 * Returns the receiver's result. */
static int srtp_pass(const uint8_t *tx_key, const uint8_t *rx_key, uint16_t seq)
{
    enum { LEN = 1384, SSRC = 0x0badcafe };
    struct pvs_srtp *tx = NULL, *rx = NULL;
    if (pvs_srtp_open_send(&tx, tx_key, SSRC) != 0 ||
        pvs_srtp_open_recv(&rx, rx_key, SSRC) != 0) {
        pvs_srtp_close(&tx);
        pvs_srtp_close(&rx);
        return PVS_EEXTERNAL;
    }
    uint8_t want[LEN], buf[LEN + 16];
    want[0] = 0x80;
    want[1] = 96;
    want[2] = (uint8_t)(seq >> 8);
    want[3] = (uint8_t)seq;
    memset(want + 4, 0, 4);
    want[8] = 0x0b;
    want[9] = 0xad;
    want[10] = 0xca;
    want[11] = 0xfe;
    for (int i = 12; i < LEN; i++)
        want[i] = (uint8_t)(i ^ seq);
    memcpy(buf, want, LEN);
    size_t len = LEN;
    int rc = pvs_srtp_protect(tx, buf, &len, sizeof(buf));
    if (rc == 0)
        rc = pvs_srtp_unprotect(rx, buf, &len);
    if (rc == 0 && (len != LEN || memcmp(buf, want, LEN) != 0))
        rc = PVS_EIO;
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
    return rc;
}

static void test_end_to_end_srtp(void)
{
    struct session x;
    run_session(&x);
    /* server to client (the media direction) and back */
    CHECK_INT(srtp_pass(x.sk.srtp_tx, x.ck.srtp_rx, 1), ==, 0);
    CHECK_INT(srtp_pass(x.ck.srtp_tx, x.sk.srtp_rx, 2), ==, 0);
    /* a key of the other direction, or of another session, fails */
    CHECK_INT(srtp_pass(x.sk.srtp_tx, x.sk.srtp_rx, 3), ==, PVS_EBADDATA);
    CHECK_INT(srtp_pass(x.ck.srtp_tx, x.ck.srtp_rx, 4), ==, PVS_EBADDATA);
    struct session y;
    run_session(&y);
    CHECK_INT(srtp_pass(x.sk.srtp_tx, y.ck.srtp_rx, 5), ==, PVS_EBADDATA);
}

int main(void)
{
    RUN(test_keys_match);
    RUN(test_derivation_is_the_documented_one);
    RUN(test_fresh_each_session);
    RUN(test_low_order_refused);
    RUN(test_wiping);
    RUN(test_roles_matter);
    RUN(test_end_to_end_srtp);
    TEST_EXIT();
}
