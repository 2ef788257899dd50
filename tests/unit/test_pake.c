/* CPace PIN pairing (net/pake.h): the same PIN gives both sides the same
 * ISK, exactly the one the documented construction gives (recomputed here
 * from libsodium primitives); a wrong PIN, another session id or other
 * associated data gives different ISKs and confirmation tags that fail;
 * invalid and identity points are refused; every run uses fresh scalars;
 * tags verify only for the right role, transcript and key; subkeys are
 * crypto_kdf of the ISK's second half; secrets are wiped. */
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "net/pake.h"
#include "tests/unit/test.h"

static const uint8_t SID1[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t SID2[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17 };
static const uint8_t AD[] = "client-name/server-name";

static bool is_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= b[i];
    return acc == 0;
}

/* One run between an initiator and a responder, each with its own inputs.
 * Returns true when both finished; isks in ia and ir. */
struct run {
    const char *pin_i, *pin_r;
    const uint8_t *sid_i, *sid_r;
    const uint8_t *ad_i, *ad_r;
    size_t ad_len_i, ad_len_r;
    struct pvs_cpace i, r;
    uint8_t ia[64], ir[64];
};

static bool run(struct run *x)
{
    int rc1 = pvs_cpace_start(&x->i, true, x->pin_i, x->sid_i, x->ad_i, x->ad_len_i);
    int rc2 = pvs_cpace_start(&x->r, false, x->pin_r, x->sid_r, x->ad_r, x->ad_len_r);
    CHECK_INT(rc1, ==, 0);
    CHECK_INT(rc2, ==, 0);
    if (rc1 || rc2)
        return false;
    CHECK(crypto_core_ristretto255_is_valid_point(x->i.public_point));
    CHECK(crypto_core_ristretto255_is_valid_point(x->r.public_point));
    CHECK(memcmp(x->i.public_point, x->r.public_point, 32) != 0);
    rc1 = pvs_cpace_finish(&x->i, x->r.public_point, x->ia);
    rc2 = pvs_cpace_finish(&x->r, x->i.public_point, x->ir);
    CHECK_INT(rc1, ==, 0);
    CHECK_INT(rc2, ==, 0);
    return rc1 == 0 && rc2 == 0;
}

static struct run same(const char *pin, const uint8_t *sid)
{
    struct run x;
    memset(&x, 0, sizeof(x));
    x.pin_i = x.pin_r = pin;
    x.sid_i = x.sid_r = sid;
    x.ad_i = x.ad_r = AD;
    x.ad_len_i = x.ad_len_r = sizeof(AD) - 1;
    return x;
}

static void lp(crypto_generichash_state *st, const void *p, size_t n)
{
    uint8_t len[4] = { (uint8_t)n, (uint8_t)(n >> 8), 0, 0 };
    crypto_generichash_update(st, len, 4);
    crypto_generichash_update(st, p, n);
}

static void test_same_pin(void)
{
    for (int k = 0; k < 20; k++) {
        struct run x = same("123456", SID1);
        if (!run(&x))
            return;
        CHECK(memcmp(x.ia, x.ir, 64) == 0);
        CHECK(!is_zero(x.ia, 64));
    }
    /* Empty associated data works too, as long as both agree. */
    struct run x = same("0000", SID2);
    x.ad_i = x.ad_r = NULL;
    x.ad_len_i = x.ad_len_r = 0;
    if (run(&x))
        CHECK(memcmp(x.ia, x.ir, 64) == 0);
}

/* The construction in pake.h, step by step, from the initiator's scalar. */
static void test_documented(void)
{
    struct pvs_cpace i, r;
    const char *pin = "482913";
    CHECK_INT(pvs_cpace_start(&i, true, pin, SID1, AD, sizeof(AD) - 1), ==, 0);
    CHECK_INT(pvs_cpace_start(&r, false, pin, SID1, AD, sizeof(AD) - 1), ==, 0);
    uint8_t y[32];
    memcpy(y, i.scalar_, 32);

    uint8_t h[64], g[32], ya[32], k[32], isk[64], got[64];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 64);
    crypto_generichash_update(&st, (const uint8_t *)"PVS-CPace-v1", 12);
    lp(&st, pin, strlen(pin));
    lp(&st, SID1, 16);
    lp(&st, AD, sizeof(AD) - 1);
    crypto_generichash_final(&st, h, 64);
    crypto_core_ristretto255_from_hash(g, h);
    CHECK_INT(crypto_scalarmult_ristretto255(ya, y, g), ==, 0);
    CHECK(memcmp(ya, i.public_point, 32) == 0);

    CHECK_INT(crypto_scalarmult_ristretto255(k, y, r.public_point), ==, 0);
    crypto_generichash_init(&st, NULL, 0, 64);
    crypto_generichash_update(&st, (const uint8_t *)"PVS-CPace-ISK", 13);
    crypto_generichash_update(&st, SID1, 16);
    crypto_generichash_update(&st, k, 32);
    crypto_generichash_update(&st, i.public_point, 32);
    crypto_generichash_update(&st, r.public_point, 32);
    crypto_generichash_final(&st, isk, 64);

    CHECK_INT(pvs_cpace_finish(&i, r.public_point, got), ==, 0);
    CHECK(memcmp(got, isk, 64) == 0);
    /* finish wiped the scalar and spent the run. */
    CHECK(is_zero(i.scalar_, 32));
    CHECK_INT(pvs_cpace_finish(&i, r.public_point, got), ==, PVS_EINVAL);
    CHECK(is_zero(got, 64));
    CHECK_INT(pvs_cpace_finish(&r, ya, got), ==, 0);
    CHECK(memcmp(got, isk, 64) == 0);

    /* Tags: BLAKE2b-128 keyed with ISK[0..32) over label || transcript. */
    const uint8_t tr[] = "transcript";
    uint8_t want[16], tag[16], msg[19 + sizeof(tr) - 1];
    memcpy(msg, "PVS-CPace-confirm-R", 19);
    memcpy(msg + 19, tr, sizeof(tr) - 1);
    crypto_generichash(want, 16, msg, sizeof(msg), isk, 32);
    pvs_cpace_confirm_tag(isk, false, tr, sizeof(tr) - 1, tag);
    CHECK(memcmp(tag, want, 16) == 0);

    /* Subkeys: crypto_kdf of ISK[32..64). */
    uint8_t sub[32], sub_want[32], sub2[32];
    pvs_cpace_subkey(isk, 7, "pvsident", sub);
    crypto_kdf_derive_from_key(sub_want, 32, 7, "pvsident", isk + 32);
    CHECK(memcmp(sub, sub_want, 32) == 0);
    pvs_cpace_subkey(isk, 8, "pvsident", sub2);
    CHECK(memcmp(sub, sub2, 32) != 0);
    pvs_cpace_subkey(isk, 7, "pvsidenT", sub2);
    CHECK(memcmp(sub, sub2, 32) != 0);
}

static void test_mismatch(void)
{
    static const uint8_t tr[] = "sid|Ya|Yb";
    uint8_t tag[16];

    /* Wrong PIN: different ISKs, and the tags say so. */
    struct run x = same("123456", SID1);
    x.pin_r = "123457";
    if (run(&x)) {
        CHECK(memcmp(x.ia, x.ir, 64) != 0);
        pvs_cpace_confirm_tag(x.ia, true, tr, sizeof(tr), tag);
        CHECK_INT(pvs_cpace_check_tag(x.ir, true, tr, sizeof(tr), tag), ==, PVS_EBADDATA);
        pvs_cpace_confirm_tag(x.ir, false, tr, sizeof(tr), tag);
        CHECK_INT(pvs_cpace_check_tag(x.ia, false, tr, sizeof(tr), tag), ==, PVS_EBADDATA);
    }
    /* A PIN that is a prefix of the other. */
    x = same("1234", SID1);
    x.pin_r = "12345";
    if (run(&x))
        CHECK(memcmp(x.ia, x.ir, 64) != 0);
    /* Another session id. */
    x = same("123456", SID1);
    x.sid_r = SID2;
    if (run(&x))
        CHECK(memcmp(x.ia, x.ir, 64) != 0);
    /* Other associated data (also: some against none). */
    x = same("123456", SID1);
    x.ad_r = (const uint8_t *)"server-name/client-name";
    if (run(&x))
        CHECK(memcmp(x.ia, x.ir, 64) != 0);
    x = same("123456", SID1);
    x.ad_r = NULL;
    x.ad_len_r = 0;
    if (run(&x))
        CHECK(memcmp(x.ia, x.ir, 64) != 0);
    /* Two sessions with the same sid and PIN still get different ISKs. */
    struct run a = same("123456", SID1), b = same("123456", SID1);
    if (run(&a) && run(&b))
        CHECK(memcmp(a.ia, b.ia, 64) != 0);
}

static void test_bad_points(void)
{
    uint8_t bad[5][32];
    memset(bad[0], 0, 32);     /* the identity */
    memset(bad[1], 0xff, 32);  /* not a field element */
    /* p = 2^255 - 19 itself: a non-canonical encoding of 0. */
    memset(bad[2], 0xff, 32);
    bad[2][0] = 0xed;
    bad[2][31] = 0x7f;
    memset(bad[3], 0, 32);     /* s = 1 is "negative" (odd): not canonical */
    bad[3][0] = 1;
    /* A valid point with the top bit set: not canonical. */
    struct pvs_cpace c;
    CHECK_INT(pvs_cpace_start(&c, true, "1", SID1, NULL, 0), ==, 0);
    memcpy(bad[4], c.public_point, 32);
    bad[4][31] |= 0x80;
    pvs_cpace_wipe(&c);

    for (int k = 0; k < 5; k++) {
        CHECK_INT(pvs_cpace_start(&c, k % 2 == 0, "999999", SID1, AD, sizeof(AD) - 1), ==, 0);
        uint8_t isk[64];
        memset(isk, 0xaa, sizeof(isk));
        CHECK_INT(pvs_cpace_finish(&c, bad[k], isk), ==, PVS_EBADDATA);
        CHECK(is_zero(isk, 64));
        CHECK(is_zero(c.scalar_, 32));
        /* Spent even after a failure. */
        CHECK_INT(pvs_cpace_finish(&c, c.public_point, isk), ==, PVS_EINVAL);
    }
    /* Random bytes are almost never a valid encoding; none may crash, and
     * any that pass make a nonzero ISK. */
    for (int k = 0; k < 200; k++) {
        uint8_t p[32], isk[64];
        randombytes_buf(p, sizeof(p));
        CHECK_INT(pvs_cpace_start(&c, true, "1", SID1, NULL, 0), ==, 0);
        int rc = pvs_cpace_finish(&c, p, isk);
        CHECK(rc == PVS_EBADDATA || (rc == 0 && !is_zero(isk, 64)));
    }
}

static void test_fresh_and_args(void)
{
    struct pvs_cpace a, b;
    CHECK_INT(pvs_cpace_start(&a, true, "123456", SID1, AD, sizeof(AD) - 1), ==, 0);
    CHECK_INT(pvs_cpace_start(&b, true, "123456", SID1, AD, sizeof(AD) - 1), ==, 0);
    CHECK(memcmp(a.public_point, b.public_point, 32) != 0);
    CHECK(memcmp(a.scalar_, b.scalar_, 32) != 0);
    pvs_cpace_wipe(&a);
    CHECK(is_zero(&a, sizeof(a)));
    pvs_cpace_wipe(&b);
    pvs_cpace_wipe(NULL);

    char long_pin[PVS_CPACE_PIN_MAX + 2];
    memset(long_pin, '7', sizeof(long_pin));
    long_pin[PVS_CPACE_PIN_MAX + 1] = '\0';
    CHECK_INT(pvs_cpace_start(&a, true, long_pin, SID1, NULL, 0), ==, PVS_EINVAL);
    long_pin[PVS_CPACE_PIN_MAX] = '\0';
    CHECK_INT(pvs_cpace_start(&a, true, long_pin, SID1, NULL, 0), ==, 0);
    CHECK_INT(pvs_cpace_start(&a, true, "", SID1, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_cpace_start(&a, true, NULL, SID1, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_cpace_start(&a, true, "1", NULL, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_cpace_start(&a, true, "1", SID1, NULL, 3), ==, PVS_EINVAL);
    CHECK_INT(pvs_cpace_start(&a, true, "1", SID1, AD, PVS_CPACE_AD_MAX + 1), ==, PVS_EINVAL);
    CHECK_INT(pvs_cpace_start(NULL, true, "1", SID1, NULL, 0), ==, PVS_EINVAL);
    /* Never started (zeroed) or a failed start: finish refuses. */
    uint8_t isk[64];
    CHECK_INT(pvs_cpace_finish(&a, b.public_point, isk), ==, PVS_EINVAL);
    memset(&a, 0, sizeof(a));
    CHECK_INT(pvs_cpace_finish(&a, b.public_point, isk), ==, PVS_EINVAL);
    CHECK_INT(pvs_cpace_finish(NULL, b.public_point, isk), ==, PVS_EINVAL);
}

static void test_tags(void)
{
    struct run x = same("246810", SID1);
    if (!run(&x))
        return;
    uint8_t tr[3 * 32 + 16];
    memcpy(tr, SID1, 16);
    memcpy(tr + 16, x.i.public_point, 32);
    memcpy(tr + 48, x.r.public_point, 32);
    memset(tr + 80, 0x5a, 16);

    uint8_t ti[16], trr[16];
    pvs_cpace_confirm_tag(x.ia, true, tr, sizeof(tr), ti);
    pvs_cpace_confirm_tag(x.ir, false, tr, sizeof(tr), trr);
    CHECK(memcmp(ti, trr, 16) != 0);  /* the roles' labels differ */
    CHECK_INT(pvs_cpace_check_tag(x.ir, true, tr, sizeof(tr), ti), ==, 0);
    CHECK_INT(pvs_cpace_check_tag(x.ia, false, tr, sizeof(tr), trr), ==, 0);
    /* Wrong role: a reflected tag is refused. */
    CHECK_INT(pvs_cpace_check_tag(x.ir, false, tr, sizeof(tr), ti), ==, PVS_EBADDATA);
    CHECK_INT(pvs_cpace_check_tag(x.ia, true, tr, sizeof(tr), trr), ==, PVS_EBADDATA);
    /* Another transcript: one flipped bit, or one byte fewer. */
    for (size_t k = 0; k < sizeof(tr); k += 7) {
        tr[k] ^= 0x10;
        CHECK_INT(pvs_cpace_check_tag(x.ir, true, tr, sizeof(tr), ti), ==, PVS_EBADDATA);
        tr[k] ^= 0x10;
    }
    CHECK_INT(pvs_cpace_check_tag(x.ir, true, tr, sizeof(tr) - 1, ti), ==, PVS_EBADDATA);
    /* A flipped tag bit; a key differing only in its second half still
     * verifies (tags use the first half), one in its first does not. */
    ti[15] ^= 1;
    CHECK_INT(pvs_cpace_check_tag(x.ir, true, tr, sizeof(tr), ti), ==, PVS_EBADDATA);
    ti[15] ^= 1;
    uint8_t k2[64];
    memcpy(k2, x.ir, 64);
    k2[63] ^= 1;
    CHECK_INT(pvs_cpace_check_tag(k2, true, tr, sizeof(tr), ti), ==, 0);
    k2[0] ^= 1;
    CHECK_INT(pvs_cpace_check_tag(k2, true, tr, sizeof(tr), ti), ==, PVS_EBADDATA);
    /* An empty transcript is allowed. */
    pvs_cpace_confirm_tag(x.ia, true, NULL, 0, ti);
    CHECK_INT(pvs_cpace_check_tag(x.ir, true, NULL, 0, ti), ==, 0);
}

int main(void)
{
    if (sodium_init() < 0)
        TEST_SKIP("libsodium cannot initialize");
    RUN(test_same_pin);
    RUN(test_documented);
    RUN(test_mismatch);
    RUN(test_bad_points);
    RUN(test_fresh_and_args);
    RUN(test_tags);
    TEST_EXIT();
}
