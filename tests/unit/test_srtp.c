/* SRTP (AEAD_AES_128_GCM through libsrtp2): round trips of several sizes
 * into exact-size heap blocks, every single-byte change of a packet refused
 * without disturbing the receiver, replays and packets older than the window
 * refused, reordering inside the window accepted, another session's key and
 * another SSRC refused, runts refused, misuse refused, the sequence number
 * wrapping, and contexts opened from several threads at once (the first
 * srtp_init). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "net/srtp.h"
#include "tests/unit/test.h"

#define TAG 16
#define HDR 12
#define SSRC 0x5eed1234u

static const uint8_t key_a[PVS_SRTP_KEY_BYTES] = {
    0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98, 0xa9, 0xba, 0xcb, 0xdc, 0xed,
    0xfe, 0x0f, 0x01, 0x12, 0x23, 0x34, 0x45, 0x56, 0x67, 0x78, 0x89, 0x9a, 0xab, 0xbc,
};

static void key_b(uint8_t out[PVS_SRTP_KEY_BYTES])
{
    memcpy(out, key_a, PVS_SRTP_KEY_BYTES);
    out[5] ^= 0x40;
}

/* An RTP packet of `len` bytes (len >= 12): header with seq and ssrc, and
 * a payload that depends on seq, so no two packets are alike. */
static void make_rtp(uint8_t *p, size_t len, uint16_t seq, uint32_t ssrc)
{
    p[0] = 0x80;
    p[1] = 96;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    uint32_t ts = (uint32_t)seq * 1500u;
    for (int i = 0; i < 4; i++) {
        p[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        p[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    for (size_t i = HDR; i < len; i++)
        p[i] = (uint8_t)(i * 31u + seq);
}

/* A protected packet in its own heap block of exactly len + 16 bytes, so
 * ASan sees any write past the tag. */
struct pkt {
    uint8_t *data;
    size_t len;
};

static struct pkt protect_new(struct pvs_srtp *tx, size_t rtp_len, uint16_t seq,
                              uint32_t ssrc)
{
    struct pkt p = {malloc(rtp_len + TAG), rtp_len};
    if (!p.data)
        abort();
    make_rtp(p.data, rtp_len, seq, ssrc);
    int rc = pvs_srtp_protect(tx, p.data, &p.len, rtp_len + TAG);
    CHECK_INT(rc, ==, 0);
    CHECK_INT(p.len, ==, rtp_len + TAG);
    return p;
}

/* Unprotects a copy (in an exact-size block), so the original can be
 * delivered again. Returns the code; *out_len gets the length. */
static int unprotect_copy(struct pvs_srtp *rx, const struct pkt *p, uint8_t *plain,
                          size_t *out_len)
{
    uint8_t *buf = malloc(p->len ? p->len : 1);
    if (!buf)
        abort();
    memcpy(buf, p->data, p->len);
    size_t len = p->len;
    int rc = pvs_srtp_unprotect(rx, buf, &len);
    if (plain && rc == 0)
        memcpy(plain, buf, len);
    if (out_len)
        *out_len = len;
    free(buf);
    return rc;
}

static struct pvs_srtp_stats stats(const struct pvs_srtp *s)
{
    struct pvs_srtp_stats st;
    pvs_srtp_get_stats(s, &st);
    return st;
}

static void open_pair(struct pvs_srtp **tx, struct pvs_srtp **rx)
{
    CHECK_INT(pvs_srtp_open_send(tx, key_a, SSRC), ==, 0);
    CHECK_INT(pvs_srtp_open_recv(rx, key_a, SSRC), ==, 0);
    if (!*tx || !*rx)
        abort();
}

/* ---- first: several threads open at once, so srtp_init runs under race -- */

static atomic_int go;

static int thread_body(void *arg)
{
    uint32_t ssrc = SSRC + (uint32_t)(intptr_t)arg;
    while (!atomic_load(&go))
        ;
    struct pvs_srtp *tx = NULL, *rx = NULL;
    if (pvs_srtp_open_send(&tx, key_a, ssrc) != 0 ||
        pvs_srtp_open_recv(&rx, key_a, ssrc) != 0)
        return 1;
    int bad = 0;
    uint8_t buf[200 + TAG], want[200];
    for (int i = 0; i < 100; i++) {
        size_t len = sizeof(want);
        make_rtp(want, len, (uint16_t)i, ssrc);
        memcpy(buf, want, len);
        if (pvs_srtp_protect(tx, buf, &len, sizeof(buf)) != 0 ||
            pvs_srtp_unprotect(rx, buf, &len) != 0 || len != sizeof(want) ||
            memcmp(buf, want, len) != 0)
            bad++;
    }
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
    return bad ? 1 : 0;
}

static void test_threads_first_open(void)
{
    enum { N = 4 };
    struct pvs_thread *t[N];
    for (int i = 0; i < N; i++)
        CHECK_INT(pvs_thread_create(&t[i], thread_body, (void *)(intptr_t)i, "srtp"), ==, 0);
    atomic_store(&go, 1);
    for (int i = 0; i < N; i++) {
        int ret = -1;
        pvs_thread_join(&t[i], &ret);
        CHECK_INT(ret, ==, 0);
    }
}

/* ---- the rest ------------------------------------------------------------ */

static void test_round_trip(void)
{
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    static const size_t sizes[] = {HDR, HDR + 1, 44, 100, 1024, 1384, 1385, 9000};
    uint16_t seq = 7;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++, seq++) {
        size_t n = sizes[i];
        uint8_t *want = malloc(n), *got = malloc(n + TAG);
        if (!want || !got)
            abort();
        make_rtp(want, n, seq, SSRC);
        struct pkt p = protect_new(tx, n, seq, SSRC);
        /* the header travels in the clear, the payload does not */
        CHECK(memcmp(p.data, want, HDR) == 0);
        if (n >= HDR + 8)
            CHECK(memcmp(p.data + HDR, want + HDR, 8) != 0);
        size_t len = 0;
        CHECK_INT(unprotect_copy(rx, &p, got, &len), ==, 0);
        CHECK_INT(len, ==, n);
        CHECK(memcmp(got, want, n) == 0);
        free(p.data);
        free(want);
        free(got);
    }
    CHECK_INT(stats(tx).ok, ==, 8);
    CHECK_INT(stats(rx).ok, ==, 8);
    struct pvs_srtp_stats st = stats(rx);
    CHECK_INT(st.auth_failed + st.replayed + st.malformed, ==, 0);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
    CHECK(tx == NULL && rx == NULL);
}

/* Nothing is written past cap by protect, or past the datagram by
 * unprotect: libsrtp and NSS are not built with ASan, so the exact-size
 * blocks above would not catch their writes; sentinel bytes do. */
static void test_no_write_past_the_end(void)
{
    enum { GUARD = 64, SENTINEL = 0xA5 };
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    static const size_t sizes[] = {HDR, 45, 1384};
    int overwritten = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t buf[1384 + TAG + GUARD];
        make_rtp(buf, n, (uint16_t)(20 + i), SSRC);
        memset(buf + n, SENTINEL, sizeof(buf) - n);
        size_t len = n;
        CHECK_INT(pvs_srtp_protect(tx, buf, &len, n + TAG), ==, 0);
        for (size_t k = n + TAG; k < sizeof(buf); k++)
            overwritten += buf[k] != SENTINEL;
        CHECK_INT(pvs_srtp_unprotect(rx, buf, &len), ==, 0);
        CHECK_INT(len, ==, n);
        for (size_t k = n + TAG; k < sizeof(buf); k++)
            overwritten += buf[k] != SENTINEL;
    }
    CHECK_INT(overwritten, ==, 0);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

/* Every byte of a small packet, two different bits each: always refused,
 * counted by reason, and the receiver's state untouched (a changed
 * sequence number far ahead must not move the window). */
static void test_single_byte_changes(void)
{
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    for (uint16_t seq = 1000; seq < 1004; seq++) {
        struct pkt p = protect_new(tx, 32, seq, SSRC);
        CHECK_INT(unprotect_copy(rx, &p, NULL, NULL), ==, 0);
        free(p.data);
    }
    struct pkt p = protect_new(tx, HDR + 20, 1004, SSRC);
    struct pkt next = protect_new(tx, HDR + 20, 1005, SSRC);
    CHECK_INT(p.len, ==, 48);
    static const uint8_t masks[] = {0x01, 0x80};
    int wrong_reason = 0, accepted = 0;
    for (size_t pos = 0; pos < p.len; pos++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            struct pvs_srtp_stats before = stats(rx);
            p.data[pos] ^= masks[m];
            int rc = unprotect_copy(rx, &p, NULL, NULL);
            p.data[pos] ^= masks[m];
            struct pvs_srtp_stats after = stats(rx);
            if (rc != PVS_EBADDATA || after.ok != before.ok) {
                accepted++;
                continue;
            }
            /* bytes 8..11 are the SSRC: another SSRC is unknown here */
            bool ssrc_byte = pos >= 8 && pos < 12;
            uint64_t want_auth = ssrc_byte ? 0 : 1, want_malformed = ssrc_byte ? 1 : 0;
            if (after.auth_failed - before.auth_failed != want_auth ||
                after.malformed - before.malformed != want_malformed ||
                after.replayed != before.replayed) {
                wrong_reason++;
                fprintf(stderr, "byte %zu mask 0x%02x: counted as auth %llu malformed "
                        "%llu replayed %llu\n", pos, masks[m],
                        (unsigned long long)(after.auth_failed - before.auth_failed),
                        (unsigned long long)(after.malformed - before.malformed),
                        (unsigned long long)(after.replayed - before.replayed));
            }
        }
    }
    CHECK_INT(accepted, ==, 0);
    CHECK_INT(wrong_reason, ==, 0);
    /* untouched: the genuine packet and the one after it still pass */
    uint8_t want[HDR + 20], got[HDR + 20 + TAG];
    make_rtp(want, sizeof(want), 1004, SSRC);
    size_t len = 0;
    CHECK_INT(unprotect_copy(rx, &p, got, &len), ==, 0);
    CHECK_INT(len, ==, sizeof(want));
    CHECK(memcmp(got, want, sizeof(want)) == 0);
    CHECK_INT(unprotect_copy(rx, &next, NULL, NULL), ==, 0);
    CHECK_INT(stats(rx).ok, ==, 6);
    free(p.data);
    free(next.data);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

static void test_replay(void)
{
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    struct pkt a = protect_new(tx, 200, 50, SSRC);
    struct pkt b = protect_new(tx, 200, 51, SSRC);
    CHECK_INT(unprotect_copy(rx, &a, NULL, NULL), ==, 0);
    CHECK_INT(unprotect_copy(rx, &a, NULL, NULL), ==, PVS_EBADDATA);
    CHECK_INT(unprotect_copy(rx, &b, NULL, NULL), ==, 0);
    CHECK_INT(unprotect_copy(rx, &b, NULL, NULL), ==, PVS_EBADDATA);
    CHECK_INT(unprotect_copy(rx, &a, NULL, NULL), ==, PVS_EBADDATA);
    struct pvs_srtp_stats st = stats(rx);
    CHECK_INT(st.ok, ==, 2);
    CHECK_INT(st.replayed, ==, 3);
    CHECK_INT(st.auth_failed + st.malformed, ==, 0);
    free(a.data);
    free(b.data);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

/* The newest packet first, then the oldest ones: exactly
 * PVS_SRTP_REPLAY_WINDOW - 1 behind is accepted, one more is too old. */
static void test_window_edge(void)
{
    enum { W = PVS_SRTP_REPLAY_WINDOW, FIRST = 100 };
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    struct pkt *p = calloc(W + 1, sizeof(*p));
    if (!p)
        abort();
    for (int i = 0; i <= W; i++)
        p[i] = protect_new(tx, 40, (uint16_t)(FIRST + i), SSRC);
    CHECK_INT(unprotect_copy(rx, &p[W], NULL, NULL), ==, 0);
    CHECK_INT(unprotect_copy(rx, &p[0], NULL, NULL), ==, PVS_EBADDATA); /* W behind */
    CHECK_INT(stats(rx).replayed, ==, 1);
    CHECK_INT(unprotect_copy(rx, &p[1], NULL, NULL), ==, 0);            /* W - 1 */
    CHECK_INT(unprotect_copy(rx, &p[1], NULL, NULL), ==, PVS_EBADDATA);
    CHECK_INT(stats(rx).replayed, ==, 2);
    CHECK_INT(stats(rx).ok, ==, 2);
    for (int i = 0; i <= W; i++)
        free(p[i].data);
    free(p);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

/* A burst of 600 packets delivered out of order, as a network with several
 * paths might: blocks of 8 reversed, and every 50th packet held back 400
 * packets. All accepted once; delivered again, all refused as replays. */
static void test_reorder_within_window(void)
{
    enum { N = 600 };
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    struct pkt *p = calloc(N, sizeof(*p));
    int order[N];
    int n = 0;
    if (!p)
        abort();
    for (int i = 0; i < N; i++)
        p[i] = protect_new(tx, 1384, (uint16_t)(65000 + i), SSRC); /* wraps, too */
    for (int blk = 0; blk < N; blk += 8) {
        for (int i = blk + 7; i >= blk; i--) {
            if (i % 50 != 0)
                order[n++] = i;
            if (i >= 400 && (i - 400) % 50 == 0)
                order[n++] = i - 400; /* held back until 400 later arrived */
        }
    }
    for (int i = N - 400; i < N; i += 50)
        order[n++] = i; /* held back past the end of the burst */
    CHECK_INT(n, ==, N);
    int bad = 0;
    for (int k = 0; k < n; k++) {
        uint8_t got[1384];
        uint8_t want[1384];
        size_t len = 0;
        make_rtp(want, sizeof(want), (uint16_t)(65000 + order[k]), SSRC);
        if (unprotect_copy(rx, &p[order[k]], got, &len) != 0 || len != sizeof(want) ||
            memcmp(got, want, len) != 0)
            bad++;
    }
    CHECK_INT(bad, ==, 0);
    CHECK_INT(stats(rx).ok, ==, N);
    for (int i = 0; i < N; i++)
        CHECK_INT(unprotect_copy(rx, &p[i], NULL, NULL), ==, PVS_EBADDATA);
    CHECK_INT(stats(rx).replayed, ==, N);
    for (int i = 0; i < N; i++)
        free(p[i].data);
    free(p);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

static void test_other_session_and_ssrc(void)
{
    uint8_t kb[PVS_SRTP_KEY_BYTES];
    key_b(kb);
    struct pvs_srtp *tx_other = NULL, *tx_ssrc = NULL, *tx, *rx;
    open_pair(&tx, &rx);
    CHECK_INT(pvs_srtp_open_send(&tx_other, kb, SSRC), ==, 0);
    CHECK_INT(pvs_srtp_open_send(&tx_ssrc, key_a, SSRC + 1), ==, 0);
    if (!tx_other || !tx_ssrc)
        abort();

    struct pkt other = protect_new(tx_other, 300, 10, SSRC);
    CHECK_INT(unprotect_copy(rx, &other, NULL, NULL), ==, PVS_EBADDATA);
    CHECK_INT(stats(rx).auth_failed, ==, 1);

    struct pkt wrong = protect_new(tx_ssrc, 300, 10, SSRC + 1);
    CHECK_INT(unprotect_copy(rx, &wrong, NULL, NULL), ==, PVS_EBADDATA);
    CHECK_INT(stats(rx).malformed, ==, 1);

    /* the same key, salt or sequence: a packet of this session still works */
    struct pkt good = protect_new(tx, 300, 10, SSRC);
    CHECK_INT(unprotect_copy(rx, &good, NULL, NULL), ==, 0);
    CHECK_INT(stats(rx).ok, ==, 1);

    free(other.data);
    free(wrong.data);
    free(good.data);
    pvs_srtp_close(&tx_other);
    pvs_srtp_close(&tx_ssrc);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

/* Runts, and headers whose CSRC count or extension claims more bytes than
 * there are: refused as malformed (or failing authentication), no crash;
 * each length in its own exact-size block. */
static void test_short_and_garbled(void)
{
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    int bad = 0;
    for (size_t n = 0; n < HDR + TAG; n++) {
        struct pkt p = {malloc(n ? n : 1), n};
        if (!p.data)
            abort();
        for (size_t i = 0; i < n; i++)
            p.data[i] = (uint8_t)(0x80 + i);
        if (n > 11) {
            make_rtp(p.data, HDR, 1, SSRC);
        }
        if (unprotect_copy(rx, &p, NULL, NULL) != PVS_EBADDATA)
            bad++;
        free(p.data);
    }
    CHECK_INT(bad, ==, 0);
    CHECK_INT(stats(rx).malformed, ==, HDR + TAG);

    /* CC = 15 (60 bytes of CSRC) in a 40-byte packet; X set with an
     * extension length of 0xffff words */
    uint8_t buf[40];
    make_rtp(buf, sizeof(buf), 2, SSRC);
    buf[0] = 0x8f;
    size_t len = sizeof(buf);
    CHECK_INT(pvs_srtp_unprotect(rx, buf, &len), ==, PVS_EBADDATA);
    make_rtp(buf, sizeof(buf), 3, SSRC);
    buf[0] = 0x90;
    buf[14] = 0xff;
    buf[15] = 0xff;
    len = sizeof(buf);
    CHECK_INT(pvs_srtp_unprotect(rx, buf, &len), ==, PVS_EBADDATA);
    struct pvs_srtp_stats st = stats(rx);
    CHECK_INT(st.ok, ==, 0);
    CHECK_INT(st.malformed + st.auth_failed, ==, HDR + TAG + 2);

    /* a sender refuses such a header too, rather than reading past it */
    make_rtp(buf, 20, 4, SSRC);
    buf[0] = 0x8f;
    len = 20;
    CHECK_INT(pvs_srtp_protect(tx, buf, &len, sizeof(buf)), ==, PVS_EINVAL);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

static void test_misuse(void)
{
    struct pvs_srtp *tx, *rx;
    open_pair(&tx, &rx);
    uint8_t buf[100 + TAG], copy[100 + TAG];
    make_rtp(buf, 100, 1, SSRC);
    memcpy(copy, buf, sizeof(buf));

    /* cap one byte short: refused, nothing written */
    size_t len = 100;
    CHECK_INT(pvs_srtp_protect(tx, buf, &len, 100 + TAG - 1), ==, PVS_EINVAL);
    CHECK_INT(len, ==, 100);
    CHECK(memcmp(buf, copy, sizeof(buf)) == 0);
    /* shorter than an RTP header */
    len = HDR - 1;
    CHECK_INT(pvs_srtp_protect(tx, buf, &len, sizeof(buf)), ==, PVS_EINVAL);
    /* the wrong direction */
    len = 100;
    CHECK_INT(pvs_srtp_protect(rx, buf, &len, sizeof(buf)), ==, PVS_EINVAL);
    CHECK_INT(pvs_srtp_unprotect(tx, buf, &len), ==, PVS_EINVAL);
    CHECK_INT(pvs_srtp_protect(NULL, buf, &len, sizeof(buf)), ==, PVS_EINVAL);
    CHECK_INT(pvs_srtp_unprotect(NULL, buf, &len), ==, PVS_EINVAL);
    /* exactly enough cap works; the same sequence number again does not
     * (a repeated GCM nonce) */
    len = 100;
    CHECK_INT(pvs_srtp_protect(tx, buf, &len, 100 + TAG), ==, 0);
    CHECK_INT(len, ==, 100 + TAG);
    memcpy(buf, copy, 100);
    len = 100;
    CHECK_INT(pvs_srtp_protect(tx, buf, &len, sizeof(buf)), ==, PVS_EINVAL);

    struct pvs_srtp *none = (struct pvs_srtp *)1;
    CHECK_INT(pvs_srtp_open_send(&none, NULL, SSRC), ==, PVS_EINVAL);
    CHECK(none == NULL);
    CHECK_INT(pvs_srtp_open_recv(NULL, key_a, SSRC), ==, PVS_EINVAL);
    pvs_srtp_close(NULL);
    pvs_srtp_close(&none);
    struct pvs_srtp_stats st;
    pvs_srtp_get_stats(NULL, &st);
    CHECK_INT(st.ok, ==, 0);
    pvs_srtp_close(&tx);
    pvs_srtp_close(&rx);
}

int main(void)
{
    RUN(test_threads_first_open);
    RUN(test_round_trip);
    RUN(test_no_write_past_the_end);
    RUN(test_single_byte_changes);
    RUN(test_replay);
    RUN(test_window_edge);
    RUN(test_reorder_within_window);
    RUN(test_other_session_and_ssrc);
    RUN(test_short_and_garbled);
    RUN(test_misuse);
    TEST_EXIT();
}
