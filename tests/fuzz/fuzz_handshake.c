/* Fuzz target for the authenticated exchange (net/handshake.h): whatever
 * HELLO or WELCOME bytes arrive, the server's check and the client's finish
 * return a documented code, read nothing outside the message, and accept
 * exactly the genuine bytes: a session is keyed only when nothing that the
 * tags cover was changed, and then both sides hold matching keys.
 *
 * Identities are fixed (derived from constants), so a HELLO captured once
 * still checks; ephemeral keys are fresh per run.
 *
 * Input: byte 0 picks the mode (bits 0-1), the rest is the data.
 *   0  a mask XORed onto a genuine HELLO (as long as the longer of the two:
 *      bytes past the HELLO are appended); the server checks it and, if it
 *      passes, answers; the client must take the answer only when the
 *      HELLO's body came through unchanged.
 *   1  a mask XORed onto the genuine WELCOME answering a genuine HELLO; the
 *      client must take it only when body bytes 0..55 are unchanged.
 *   2  the data is a HELLO as received: checked by the server (0, not
 *      paired or bad data), and finished when it passes.
 *   3  the data is a WELCOME as received by a client that sent a genuine
 *      HELLO: it cannot pass.
 * The corpus (tests/fuzz/corpus/handshake/): "genuine_*" are modes 0 and 1
 * with an empty mask (the genuine exchange) and mode 2 with a HELLO made
 * by the client with the fixed identities; "flip_*" and "append_*" change
 * or add a byte; "raw_*" are short, long and zero messages. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "net/control_msg.h"
#include "net/handshake.h"
#include "tests/fuzz/fuzz.h"

static struct pvs_static_keys server_id, client_id;

static void fixed_identity(struct pvs_static_keys *k, const char *seed)
{
    crypto_generichash(k->secret_key, sizeof(k->secret_key), (const uint8_t *)seed,
                       strlen(seed), NULL, 0);
    crypto_scalarmult_base(k->public_key, k->secret_key);
}

static void setup(void)
{
    static bool done;
    if (done)
        return;
    if (sodium_init() < 0)
        abort();
    fixed_identity(&server_id, "pvstream fuzz server");
    fixed_identity(&client_id, "pvstream fuzz client");
    done = true;
}

static bool is_paired(void *ctx, const uint8_t key[32], char *name, size_t len)
{
    (void)ctx;
    if (len)
        name[0] = '\0';
    return memcmp(key, client_id.public_key, 32) == 0;
}

static bool keys_match(const struct pvs_session_keys *c, const struct pvs_session_keys *s)
{
    return memcmp(c->control_tx, s->control_rx, PVS_CONTROL_KEY_BYTES) == 0 &&
           memcmp(c->control_rx, s->control_tx, PVS_CONTROL_KEY_BYTES) == 0 &&
           memcmp(c->srtp_tx, s->srtp_rx, PVS_SRTP_KEY_BYTES) == 0 &&
           memcmp(c->srtp_rx, s->srtp_tx, PVS_SRTP_KEY_BYTES) == 0;
}

/* A genuine HELLO from client_id into buf; returns its length. */
static size_t genuine_hello(struct pvs_handshake *c, uint8_t *buf, size_t cap)
{
    if (pvs_handshake_client_begin(c, &client_id, server_id.public_key) != 0)
        abort();
    struct pvs_ctl_msg m = {.type = PVS_CTL_HELLO};
    m.u.hello = (struct pvs_ctl_hello){.version_min = 2, .version_max = 2,
                                       .codecs = PVS_CTL_CODEC_BIT_H264, .max_width = 1920,
                                       .max_height = 1080, .max_fps = 60,
                                       .max_datagram = 1400, .media_port = 47102};
    memcpy(m.u.hello.public_key, c->public_key, 32);
    memcpy(m.u.hello.static_key, c->static_public, 32);
    int n = pvs_ctl_encode(&m, buf, cap);
    if (n <= 0 || pvs_handshake_client_hello(c, buf, (size_t)n) != 0)
        abort();
    return (size_t)n;
}

/* The server's side: check hello, answer into welcome. Returns the check's
 * result; *wlen is the WELCOME's length when it passed. */
static int answer(const uint8_t *hello, size_t len, uint8_t *welcome, size_t cap,
                  size_t *wlen, struct pvs_session_keys *sk)
{
    struct pvs_handshake s;
    char name[16];
    int rc = pvs_handshake_server_check(&s, hello, len, &server_id, is_paired, NULL, name,
                                        sizeof(name));
    if (rc != 0 && rc != PVS_EBADDATA && rc != PVS_ENOENT)
        abort();
    if (rc != 0)
        return rc;
    struct pvs_ctl_msg m = {.type = PVS_CTL_WELCOME};
    m.u.welcome.version = 2;
    memcpy(m.u.welcome.public_key, s.public_key, 32);
    int n = pvs_ctl_encode(&m, welcome, cap);
    if (n <= 0 || pvs_handshake_server_finish(&s, welcome, (size_t)n, sk) != 0)
        abort();
    *wlen = (size_t)n;
    return 0;
}

/* out = base XOR mask, as long as the longer; returns that length. */
static size_t apply_mask(const uint8_t *base, size_t blen, const uint8_t *mask, size_t mlen,
                         uint8_t *out)
{
    size_t n = blen > mlen ? blen : mlen;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)((i < blen ? base[i] : 0) ^ (i < mlen ? mask[i] : 0));
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > PVS_CTL_MAX_RECEIVE)
        return 0;
    setup();
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    uint8_t hello[PVS_CTL_MAX_RECEIVE], welcome[PVS_CTL_MAX_RECEIVE];
    uint8_t genuine[PVS_CTL_MAX_MESSAGE];
    struct pvs_handshake c;
    struct pvs_session_keys ck, sk;
    size_t wlen = 0;

    switch (data[0] & 3) {
    case 0: {
        size_t glen = genuine_hello(&c, genuine, sizeof(genuine));
        size_t hlen = apply_mask(genuine, glen, p, n, hello);
        bool body_same = hlen == glen && memcmp(hello + 1, genuine + 1, glen - 1) == 0;
        bool tagged_same = memcmp(hello + 1, genuine + 1, PVS_HANDSHAKE_HELLO_BODY) == 0;
        int rc = answer(hello, hlen, welcome, sizeof(welcome), &wlen, &sk);
        if ((rc == 0) != tagged_same)
            abort();
        if (rc != 0) {
            pvs_handshake_wipe(&c);
            break;
        }
        int fc = pvs_handshake_client_finish(&c, welcome, wlen, &ck);
        if ((fc == 0) != body_same || (fc == 0 && !keys_match(&ck, &sk)))
            abort();
        break;
    }
    case 1: {
        size_t glen = genuine_hello(&c, genuine, sizeof(genuine));
        uint8_t gw[PVS_CTL_MAX_MESSAGE];
        size_t gwlen = 0;
        if (answer(genuine, glen, gw, sizeof(gw), &gwlen, &sk) != 0)
            abort();
        wlen = apply_mask(gw, gwlen, p, n, welcome);
        bool same = memcmp(welcome + 1, gw + 1, PVS_HANDSHAKE_WELCOME_BODY) == 0;
        int fc = pvs_handshake_client_finish(&c, welcome, wlen, &ck);
        if ((fc == 0) != same || (fc != 0 && fc != PVS_EBADDATA) ||
            (fc == 0 && !keys_match(&ck, &sk)))
            abort();
        break;
    }
    case 2:
        answer(p, n, welcome, sizeof(welcome), &wlen, &sk);
        break;
    case 3:
        genuine_hello(&c, genuine, sizeof(genuine));
        if (pvs_handshake_client_finish(&c, p, n, &ck) != PVS_EBADDATA)
            abort();
        break;
    }
    pvs_session_keys_wipe(&ck);
    pvs_session_keys_wipe(&sk);
    return 0;
}
