/* The session key exchange.
 *
 * Version 2 (authenticated): both sides derive the same keys, with tx and rx
 * swapped, and exactly as docs/protocol.md "Keys" says (recomputed here
 * from libsodium primitives); an unknown client is refused by the lookup;
 * a client with the wrong server key, a server with the wrong identity, and
 * any changed byte of HELLO or WELCOME fail; low-order keys are refused;
 * every secret is wiped and a spent handshake cannot go on.
 *
 * The local pair (crypto_kx, in-process only): matching keys, the
 * documented derivation, low-order keys refused, wiping, roles. And the
 * SRTP keys work with pvs_srtp in both directions, each only in its own. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "net/control_msg.h"
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

static bool hs_secrets_wiped(const struct pvs_handshake *hs)
{
    return is_zero(hs->secret_key_, sizeof(hs->secret_key_)) &&
           is_zero(hs->static_secret_, sizeof(hs->static_secret_)) &&
           is_zero(hs->dh_es_, sizeof(hs->dh_es_)) && is_zero(hs->dh_ss_, sizeof(hs->dh_ss_)) &&
           is_zero(hs->hello_hash_, sizeof(hs->hello_hash_));
}

/* ---- version 2 ------------------------------------------------------------ */

static struct pvs_static_keys client_id, server_id, other_id;

/* The lookup: pairs client_id only, as "laptop". */
struct lookup {
    int calls;
    uint8_t asked[32];
};

static bool is_paired(void *ctx, const uint8_t key[32], char *name, size_t len)
{
    struct lookup *l = ctx;
    l->calls++;
    memcpy(l->asked, key, 32);
    if (memcmp(key, client_id.public_key, 32) != 0)
        return false;
    snprintf(name, len, "laptop");
    return true;
}

/* One exchange's messages and results. */
struct v2 {
    struct pvs_handshake c, s;
    uint8_t hello[PVS_CTL_MAX_MESSAGE], welcome[PVS_CTL_MAX_MESSAGE];
    size_t hello_len, welcome_len;
    /* copies of the ephemeral secrets, for the reference derivation */
    uint8_t ec[32], es[32];
    struct pvs_session_keys ck, sk;
    char name[64];
    struct lookup look;
};

/* The client (`mine`, expecting `server_key`) makes HELLO. */
static void make_hello(struct v2 *x, const struct pvs_static_keys *mine,
                       const uint8_t server_key[32])
{
    CHECK_INT(pvs_handshake_client_begin(&x->c, mine, server_key), ==, 0);
    memcpy(x->ec, x->c.secret_key_, 32);
    struct pvs_ctl_msg m = {.type = PVS_CTL_HELLO};
    m.u.hello = (struct pvs_ctl_hello){.version_min = 2, .version_max = 2,
                                       .codecs = PVS_CTL_CODEC_BIT_H264, .max_width = 1920,
                                       .max_height = 1080, .max_fps = 60,
                                       .max_datagram = 1400, .media_port = 47102};
    memcpy(m.u.hello.public_key, x->c.public_key, 32);
    memcpy(m.u.hello.static_key, x->c.static_public, 32);
    int n = pvs_ctl_encode(&m, x->hello, sizeof(x->hello));
    CHECK_INT(n, ==, 1 + PVS_HANDSHAKE_HELLO_BODY);
    x->hello_len = (size_t)n;
    CHECK_INT(pvs_handshake_client_hello(&x->c, x->hello, x->hello_len), ==, 0);
}

/* The server (`mine`) checks HELLO and makes WELCOME. Returns the check's
 * result. */
static int make_welcome(struct v2 *x, const struct pvs_static_keys *mine)
{
    int rc = pvs_handshake_server_check(&x->s, x->hello, x->hello_len, mine, is_paired,
                                        &x->look, x->name, sizeof(x->name));
    if (rc < 0)
        return rc;
    memcpy(x->es, x->s.secret_key_, 32);
    struct pvs_ctl_msg m = {.type = PVS_CTL_WELCOME};
    m.u.welcome.version = 2;
    memcpy(m.u.welcome.public_key, x->s.public_key, 32);
    int n = pvs_ctl_encode(&m, x->welcome, sizeof(x->welcome));
    CHECK_INT(n, ==, 1 + PVS_HANDSHAKE_WELCOME_BODY);
    x->welcome_len = (size_t)n;
    CHECK_INT(pvs_handshake_server_finish(&x->s, x->welcome, x->welcome_len, &x->sk), ==, 0);
    return 0;
}

static void run_v2(struct v2 *x)
{
    memset(x, 0, sizeof(*x));
    make_hello(x, &client_id, server_id.public_key);
    CHECK_INT(make_welcome(x, &server_id), ==, 0);
    CHECK_INT(pvs_handshake_client_finish(&x->c, x->welcome, x->welcome_len, &x->ck), ==, 0);
}

static void test_v2_keys_match(void)
{
    struct v2 x;
    run_v2(&x);
    CHECK(SAME(x.ck.control_tx, x.sk.control_rx));
    CHECK(SAME(x.ck.control_rx, x.sk.control_tx));
    CHECK(SAME(x.ck.srtp_tx, x.sk.srtp_rx));
    CHECK(SAME(x.ck.srtp_rx, x.sk.srtp_tx));
    CHECK(!SAME(x.ck.control_tx, x.ck.control_rx));
    CHECK(!SAME(x.ck.srtp_tx, x.ck.srtp_rx));
    CHECK(!is_zero(x.ck.control_tx, sizeof(x.ck.control_tx)));
    /* the lookup was asked about the client's key, and named it */
    CHECK_INT(x.look.calls, ==, 1);
    CHECK(SAME(x.look.asked, client_id.public_key));
    CHECK(strcmp(x.name, "laptop") == 0);
    CHECK(SAME(x.s.static_public, client_id.public_key));
    /* every session is fresh */
    struct v2 y;
    run_v2(&y);
    CHECK(!SAME(x.ck.control_tx, y.ck.control_tx));
    CHECK(!SAME(x.ck.srtp_rx, y.ck.srtp_rx));
}

static void h256(uint8_t out[32], const void *a, size_t an, const void *b, size_t bn,
                 const void *c, size_t cn)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, a, an);
    crypto_generichash_update(&st, b, bn);
    if (c)
        crypto_generichash_update(&st, c, cn);
    crypto_generichash_final(&st, out, 32);
}

/* docs/protocol.md, "Keys", recomputed from the client's secrets. */
static void test_v2_derivation_is_the_documented_one(void)
{
    struct v2 x;
    run_v2(&x);
    const uint8_t *hb = x.hello + 1, *wb = x.welcome + 1;
    uint8_t ee[32], es[32], se[32], ss[32];
    CHECK_INT(crypto_scalarmult(ee, x.ec, wb + 8), ==, 0);
    CHECK_INT(crypto_scalarmult(es, x.ec, server_id.public_key), ==, 0);
    CHECK_INT(crypto_scalarmult(se, client_id.secret_key, wb + 8), ==, 0);
    CHECK_INT(crypto_scalarmult(ss, client_id.secret_key, server_id.public_key), ==, 0);
    /* the server's view: the same four from its secrets */
    uint8_t v[32];
    CHECK_INT(crypto_scalarmult(v, x.es, hb + 24), ==, 0);
    CHECK(SAME(v, ee));
    CHECK_INT(crypto_scalarmult(v, server_id.secret_key, hb + 56), ==, 0);
    CHECK(SAME(v, ss));

    /* HELLO: the keys in place, the tag */
    CHECK(memcmp(hb + 24, x.c.public_key, 32) == 0);
    CHECK(memcmp(hb + 56, client_id.public_key, 32) == 0);
    uint8_t k_hello[32], tag[16];
    static const char lh[] = "pvstream v2 hello", ls[] = "pvstream v2 session";
    h256(k_hello, lh, sizeof(lh) - 1, es, 32, ss, 32);
    crypto_generichash(tag, 16, hb, 88, k_hello, 32);
    CHECK(memcmp(tag, hb + 88, 16) == 0);

    /* WELCOME: transcript, master, tag */
    uint8_t hh[32], h[32], master[32];
    crypto_generichash(hh, 32, hb, PVS_HANDSHAKE_HELLO_BODY, NULL, 0);
    h256(h, hh, 32, wb, 40, NULL, 0);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)ls, sizeof(ls) - 1);
    crypto_generichash_update(&st, ee, 32);
    crypto_generichash_update(&st, es, 32);
    crypto_generichash_update(&st, se, 32);
    crypto_generichash_update(&st, ss, 32);
    crypto_generichash_update(&st, h, 32);
    crypto_generichash_final(&st, master, 32);
    uint8_t confirm[32], c2s[32], s2c[32];
    crypto_kdf_derive_from_key(confirm, 32, 1, "pvsauth2", master);
    crypto_kdf_derive_from_key(c2s, 32, 2, "pvsauth2", master);
    crypto_kdf_derive_from_key(s2c, 32, 3, "pvsauth2", master);
    crypto_generichash(tag, 16, h, 32, confirm, 32);
    CHECK(memcmp(tag, wb + 40, 16) == 0);

    uint8_t ctrl[32], srtp[28];
    crypto_kdf_derive_from_key(ctrl, sizeof(ctrl), 1, "pvsctrl1", c2s);
    crypto_kdf_derive_from_key(srtp, sizeof(srtp), 2, "pvssrtp1", c2s);
    CHECK(SAME(ctrl, x.ck.control_tx));
    CHECK(SAME(srtp, x.ck.srtp_tx));
    crypto_kdf_derive_from_key(ctrl, sizeof(ctrl), 1, "pvsctrl1", s2c);
    crypto_kdf_derive_from_key(srtp, sizeof(srtp), 2, "pvssrtp1", s2c);
    CHECK(SAME(ctrl, x.sk.control_tx));
    CHECK(SAME(srtp, x.ck.srtp_rx));
}

/* A genuine client the lookup does not know: refused, nothing made. */
static void test_v2_unknown_client(void)
{
    struct v2 x;
    memset(&x, 0, sizeof(x));
    make_hello(&x, &other_id, server_id.public_key);
    strcpy(x.name, "junk");
    CHECK_INT(pvs_handshake_server_check(&x.s, x.hello, x.hello_len, &server_id, is_paired,
                                         &x.look, x.name, sizeof(x.name)), ==, PVS_ENOENT);
    CHECK_INT(x.look.calls, ==, 1);
    CHECK(SAME(x.look.asked, other_id.public_key));
    CHECK(x.name[0] == '\0');
    CHECK(hs_secrets_wiped(&x.s));
    CHECK_INT(pvs_handshake_server_finish(&x.s, x.welcome, sizeof(x.welcome), &x.sk), ==,
              PVS_EINVAL);
    CHECK(is_zero(&x.sk, sizeof(x.sk)));
    /* Without a lookup (accept any client) the same HELLO passes. */
    CHECK_INT(pvs_handshake_server_check(&x.s, x.hello, x.hello_len, &server_id, NULL, NULL,
                                         NULL, 0), ==, 0);
    pvs_handshake_wipe(&x.s);
}

/* The client expects another server's key: the real server cannot check
 * its HELLO, and an impostor holding that other key cannot make a WELCOME
 * the client takes. */
static void test_v2_wrong_server_key(void)
{
    struct v2 x;
    memset(&x, 0, sizeof(x));
    make_hello(&x, &client_id, other_id.public_key);
    CHECK_INT(make_welcome(&x, &server_id), ==, PVS_EBADDATA);
    CHECK_INT(x.look.calls, ==, 0); /* a forger learns nothing of who is paired */
    CHECK(hs_secrets_wiped(&x.s));

    /* The impostor: the client expects server_id, other_id answers. It
     * cannot check the HELLO (the tag is for server_id); suppose it skips
     * that and makes its WELCOME from what it has. */
    memset(&x, 0, sizeof(x));
    make_hello(&x, &client_id, server_id.public_key);
    struct v2 imp;
    memset(&imp, 0, sizeof(imp));
    make_hello(&imp, &client_id, other_id.public_key); /* a HELLO other_id accepts */
    memcpy(imp.hello + 1 + 24, x.hello + 1 + 24, 32);  /* ...but with x's ephemeral key */
    CHECK_INT(make_welcome(&imp, &other_id), ==, PVS_EBADDATA);
    /* and with its own consistent exchange, its WELCOME fits another HELLO */
    memset(&imp, 0, sizeof(imp));
    make_hello(&imp, &client_id, other_id.public_key);
    CHECK_INT(make_welcome(&imp, &other_id), ==, 0);
    memset(&x.ck, 0x55, sizeof(x.ck));
    CHECK_INT(pvs_handshake_client_finish(&x.c, imp.welcome, imp.welcome_len, &x.ck), ==,
              PVS_EBADDATA);
    CHECK(is_zero(&x.ck, sizeof(x.ck)));
    CHECK(hs_secrets_wiped(&x.c));

    /* A server with the right public key but another secret: its identity
     * does not hold (pvs_static_keys_valid), so it cannot even start. */
    struct pvs_static_keys fake = server_id;
    memcpy(fake.secret_key, other_id.secret_key, 32);
    CHECK(!pvs_static_keys_valid(&fake));
    memset(&x, 0, sizeof(x));
    make_hello(&x, &client_id, server_id.public_key);
    CHECK_INT(make_welcome(&x, &fake), ==, PVS_EINVAL);
}

/* Any changed byte of HELLO fails the server's check; of WELCOME, the
 * client's. A byte appended to HELLO passes the check (later versions
 * append) but is in the transcript, so the client refuses the WELCOME. */
static void test_v2_tampering(void)
{
    for (size_t i = 0; i < PVS_HANDSHAKE_HELLO_BODY; i++) {
        struct v2 x;
        memset(&x, 0, sizeof(x));
        make_hello(&x, &client_id, server_id.public_key);
        x.hello[1 + i] ^= (uint8_t)(1u << (i % 8));
        int rc = make_welcome(&x, &server_id);
        if (rc != PVS_EBADDATA)
            fprintf(stderr, "HELLO byte %zu changed: %d\n", i, rc);
        CHECK_INT(rc, ==, PVS_EBADDATA);
        pvs_handshake_wipe(&x.c);
    }
    for (size_t i = 0; i < PVS_HANDSHAKE_WELCOME_BODY; i++) {
        struct v2 x;
        memset(&x, 0, sizeof(x));
        make_hello(&x, &client_id, server_id.public_key);
        CHECK_INT(make_welcome(&x, &server_id), ==, 0);
        x.welcome[1 + i] ^= (uint8_t)(0x80u >> (i % 8));
        int rc = pvs_handshake_client_finish(&x.c, x.welcome, x.welcome_len, &x.ck);
        if (rc != PVS_EBADDATA)
            fprintf(stderr, "WELCOME byte %zu changed: %d\n", i, rc);
        CHECK_INT(rc, ==, PVS_EBADDATA);
        CHECK(is_zero(&x.ck, sizeof(x.ck)));
    }
    /* truncated */
    struct v2 x;
    memset(&x, 0, sizeof(x));
    make_hello(&x, &client_id, server_id.public_key);
    CHECK_INT(pvs_handshake_server_check(&x.s, x.hello, x.hello_len - 1, &server_id, NULL,
                                         NULL, NULL, 0), ==, PVS_EBADDATA);
    CHECK_INT(make_welcome(&x, &server_id), ==, 0);
    CHECK_INT(pvs_handshake_client_finish(&x.c, x.welcome, x.welcome_len - 1, &x.ck), ==,
              PVS_EBADDATA);
    /* appended to HELLO */
    memset(&x, 0, sizeof(x));
    make_hello(&x, &client_id, server_id.public_key);
    x.hello[x.hello_len++] = 0x42;
    CHECK_INT(make_welcome(&x, &server_id), ==, 0);
    CHECK_INT(pvs_handshake_client_finish(&x.c, x.welcome, x.welcome_len, &x.ck), ==,
              PVS_EBADDATA);
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

static void test_v2_low_order_refused(void)
{
    size_t count = sizeof(low_order) / sizeof(low_order[0]);
    for (size_t i = 0; i < count; i++) {
        /* as the server's key (pairing gave garbage) */
        struct v2 x;
        memset(&x, 0, sizeof(x));
        CHECK_INT(pvs_handshake_client_begin(&x.c, &client_id, low_order[i]), ==, 0);
        uint8_t msg[1 + PVS_HANDSHAKE_HELLO_BODY] = {PVS_CTL_HELLO};
        memcpy(msg + 1 + 24, x.c.public_key, 32);
        memcpy(msg + 1 + 56, x.c.static_public, 32);
        CHECK_INT(pvs_handshake_client_hello(&x.c, msg, sizeof(msg)), ==, PVS_EBADDATA);
        CHECK(hs_secrets_wiped(&x.c));
        /* as the client's ephemeral or static key in HELLO */
        for (int at = 24; at <= 56; at += 32) {
            memset(&x, 0, sizeof(x));
            make_hello(&x, &client_id, server_id.public_key);
            memcpy(x.hello + 1 + at, low_order[i], 32);
            CHECK_INT(make_welcome(&x, &server_id), ==, PVS_EBADDATA);
        }
        /* as the server's ephemeral key in WELCOME */
        memset(&x, 0, sizeof(x));
        make_hello(&x, &client_id, server_id.public_key);
        CHECK_INT(make_welcome(&x, &server_id), ==, 0);
        memcpy(x.welcome + 1 + 8, low_order[i], 32);
        CHECK_INT(pvs_handshake_client_finish(&x.c, x.welcome, x.welcome_len, &x.ck), ==,
                  PVS_EBADDATA);
        CHECK(hs_secrets_wiped(&x.c));
    }
}

static void test_v2_wiping_and_steps(void)
{
    struct v2 x;
    run_v2(&x);
    CHECK(hs_secrets_wiped(&x.c));
    CHECK(hs_secrets_wiped(&x.s));
    /* spent: neither side goes on */
    struct pvs_session_keys k;
    CHECK_INT(pvs_handshake_client_finish(&x.c, x.welcome, x.welcome_len, &k), ==, PVS_EINVAL);
    CHECK(is_zero(&k, sizeof(k)));
    CHECK_INT(pvs_handshake_server_finish(&x.s, x.welcome, x.welcome_len, &k), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_client_hello(&x.c, x.hello, x.hello_len), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_finish(&x.c, x.s.public_key, &k), ==, PVS_EINVAL);

    /* begun, then wiped: the static secret copy goes too */
    struct pvs_handshake hs;
    CHECK_INT(pvs_handshake_client_begin(&hs, &client_id, server_id.public_key), ==, 0);
    CHECK(SAME(hs.static_secret_, client_id.secret_key));
    pvs_handshake_wipe(&hs);
    CHECK(hs_secrets_wiped(&hs));

    /* out of order, bad arguments */
    CHECK_INT(pvs_handshake_client_begin(&hs, &client_id, server_id.public_key), ==, 0);
    CHECK_INT(pvs_handshake_client_finish(&hs, x.welcome, x.welcome_len, &k), ==, PVS_EINVAL);
    CHECK(hs_secrets_wiped(&hs));
    CHECK_INT(pvs_handshake_client_begin(&hs, &client_id, server_id.public_key), ==, 0);
    uint8_t msg[1 + PVS_HANDSHAKE_HELLO_BODY] = {PVS_CTL_HELLO};
    CHECK_INT(pvs_handshake_client_hello(&hs, msg, sizeof(msg)), ==, PVS_EINVAL); /* not its keys */
    CHECK_INT(pvs_handshake_client_hello(&hs, msg, sizeof(msg) - 1), ==, PVS_EINVAL);
    pvs_handshake_wipe(&hs);
    struct pvs_static_keys none = {0};
    CHECK_INT(pvs_handshake_client_begin(&hs, &none, server_id.public_key), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_client_begin(NULL, &client_id, server_id.public_key), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_server_check(&hs, x.hello, x.hello_len, &none, NULL, NULL, NULL, 0),
              ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_server_check(&hs, NULL, 0, &server_id, NULL, NULL, NULL, 0), ==,
              PVS_EBADDATA);
    CHECK_INT(pvs_handshake_client_finish(NULL, x.welcome, x.welcome_len, &k), ==, PVS_EINVAL);
    CHECK_INT(pvs_handshake_client_finish(&hs, x.welcome, x.welcome_len, NULL), ==, PVS_EINVAL);

    struct pvs_static_keys id = client_id;
    pvs_static_keys_wipe(&id);
    CHECK(is_zero(&id, sizeof(id)));
    CHECK(!pvs_static_keys_valid(&id));
    CHECK(pvs_static_keys_valid(&client_id));
    /* the unpaired identity is the same everywhere, and a valid one */
    struct pvs_static_keys u1, u2;
    CHECK_INT(pvs_static_keys_unpaired(&u1), ==, 0);
    CHECK_INT(pvs_static_keys_unpaired(&u2), ==, 0);
    CHECK(SAME(u1.public_key, u2.public_key));
    CHECK(pvs_static_keys_valid(&u1));
}

/* ---- the local pair ------------------------------------------------------- */

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

static void test_local_pair(void)
{
    struct session x;
    run_session(&x);
    CHECK(SAME(x.ck.control_tx, x.sk.control_rx));
    CHECK(SAME(x.ck.srtp_rx, x.sk.srtp_tx));
    CHECK(!SAME(x.ck.control_tx, x.ck.control_rx));
    /* the documented derivation: crypto_kx, then crypto_kdf */
    uint8_t rx[32], tx[32], ctrl[32], srtp[28];
    CHECK_INT(crypto_kx_client_session_keys(rx, tx, x.c.public_key, x.c_secret,
                                            x.s.public_key), ==, 0);
    crypto_kdf_derive_from_key(ctrl, sizeof(ctrl), 1, "pvsctrl1", tx);
    crypto_kdf_derive_from_key(srtp, sizeof(srtp), 2, "pvssrtp1", rx);
    CHECK(SAME(ctrl, x.ck.control_tx));
    CHECK(SAME(srtp, x.ck.srtp_rx));
    /* wiped, and not finished twice */
    CHECK(is_zero(x.c.secret_key_, sizeof(x.c.secret_key_)));
    struct pvs_session_keys k;
    CHECK_INT(pvs_handshake_finish(&x.c, x.s.public_key, &k), ==, PVS_EINVAL);
    CHECK(is_zero(&k, sizeof(k)));
    /* low-order keys */
    for (size_t i = 0; i < sizeof(low_order) / sizeof(low_order[0]); i++) {
        struct pvs_handshake hs;
        CHECK_INT(pvs_handshake_begin(&hs, i % 2), ==, 0);
        CHECK_INT(pvs_handshake_finish(&hs, low_order[i], &k), ==, PVS_EBADDATA);
        CHECK(is_zero(&k, sizeof(k)));
    }
    /* two clients (a role mix-up) do not get a working pair */
    struct pvs_handshake a, b;
    struct pvs_session_keys ka, kb;
    CHECK_INT(pvs_handshake_begin(&a, true), ==, 0);
    CHECK_INT(pvs_handshake_begin(&b, true), ==, 0);
    CHECK_INT(pvs_handshake_finish(&a, b.public_key, &ka), ==, 0);
    CHECK_INT(pvs_handshake_finish(&b, a.public_key, &kb), ==, 0);
    CHECK(!SAME(ka.srtp_tx, kb.srtp_rx));
    pvs_session_keys_wipe(&x.ck);
    CHECK(is_zero(&x.ck, sizeof(x.ck)));
    pvs_session_keys_wipe(NULL);
    pvs_handshake_wipe(NULL);
    CHECK_INT(pvs_handshake_begin(NULL, true), ==, PVS_EINVAL);
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
    struct v2 x, y;
    run_v2(&x);
    /* server to client (the media direction) and back */
    CHECK_INT(srtp_pass(x.sk.srtp_tx, x.ck.srtp_rx, 1), ==, 0);
    CHECK_INT(srtp_pass(x.ck.srtp_tx, x.sk.srtp_rx, 2), ==, 0);
    /* a key of the other direction, or of another session, fails */
    CHECK_INT(srtp_pass(x.sk.srtp_tx, x.sk.srtp_rx, 3), ==, PVS_EBADDATA);
    CHECK_INT(srtp_pass(x.ck.srtp_tx, x.ck.srtp_rx, 4), ==, PVS_EBADDATA);
    run_v2(&y);
    CHECK_INT(srtp_pass(x.sk.srtp_tx, y.ck.srtp_rx, 5), ==, PVS_EBADDATA);
}

int main(void)
{
    if (pvs_static_keys_generate(&client_id) != 0 || pvs_static_keys_generate(&server_id) != 0 ||
        pvs_static_keys_generate(&other_id) != 0) {
        fprintf(stderr, "cannot make identities\n");
        return 1;
    }
    RUN(test_v2_keys_match);
    RUN(test_v2_derivation_is_the_documented_one);
    RUN(test_v2_unknown_client);
    RUN(test_v2_wrong_server_key);
    RUN(test_v2_tampering);
    RUN(test_v2_low_order_refused);
    RUN(test_v2_wiping_and_steps);
    RUN(test_local_pair);
    RUN(test_end_to_end_srtp);
    TEST_EXIT();
}
