/* Moonlight pairing, the host's side (gamestream/gs_pairing.h), driven by a
 * simulated client written here from the protocol (what moonlight-embedded's
 * libgamestream/client.c sends and checks), with its own RSA key and
 * certificate. The client does its AES, SHA-256, certificate reading and
 * signature checks with Mbed TLS directly, not through gs_crypto, and checks
 * what a real client checks: the host's signature against plaincert, and
 * (as Moonlight-Qt does) the host's challenge-response hash.
 *
 * Checked: a full pairing answers paired=1 at every step and stores the
 * client under its certificate's SHA-256; the PIN can come from another
 * thread while step 1 waits, and never coming gives a clear refusal; a
 * wrong PIN, a tampered signature or hash, a signature by another key, a
 * TLS certificate other than the one paired, steps out of order, replayed
 * steps and malformed values each answer "not paired", store nothing and
 * end the attempt; a second client is told another is pairing while the
 * first completes; unpair over plain HTTP removes nobody, over HTTPS
 * removes the client presenting the certificate; stop wakes a waiter. The
 * paired-client store's names, lookups and file rules (gs_clients.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/aes.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"
#include "common/platform/platform.h"
#include "gamestream/gs_clients.h"
#include "gamestream/gs_crypto.h"
#include "gamestream/gs_pairing.h"
#include "tests/unit/test.h"

#ifndef MBEDTLS_PRIVATE
#define MBEDTLS_PRIVATE(member) member
#endif

#define XML_MAX PVS_GS_PAIRING_XML_MAX

static char g_dir[512];
static char g_store[600];
static struct pvs_gs_host *g_host;

/* ---- the simulated client ------------------------------------------------------- */

enum tamper {
    T_NONE,
    T_RESP_BIT,      /* flip a bit of the encrypted hash in step 3 */
    T_SIG_BIT,       /* flip a bit of the signature in step 4 */
    T_OTHER_KEY,     /* sign step 4 with a key that is not the certificate's */
};

struct sim {
    struct pvs_gs_host *keys;   /* its key pair and certificate */
    struct pvs_gs_host *other;  /* a key of someone else (T_OTHER_KEY) */
    const char *uniqueid, *devicename;
    char *cert_hex;
    mbedtls_x509_crt own;       /* its certificate, read by Mbed TLS */
    mbedtls_x509_crt server;    /* plaincert */
    bool have_server;
    enum tamper tamper;
    uint8_t key[16], challenge[16], secret[16];
    uint8_t server_challenge[16], response_hash[32], server_secret[16];
    bool server_sig_ok, response_hash_ok;  /* the client's checks */
    char xml[XML_MAX];
    /* The requests of the last run, to replay them. */
    char sent[4][2][1200];
};

static void sha256(const void *a, size_t an, const void *b, size_t bn, const void *c,
                   size_t cn, uint8_t out[32])
{
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0);
    mbedtls_md_starts(&md);
    mbedtls_md_update(&md, a, an);
    mbedtls_md_update(&md, b, bn);
    mbedtls_md_update(&md, c, cn);
    mbedtls_md_finish(&md, out);
    mbedtls_md_free(&md);
}

static void aes(const uint8_t key[16], bool enc, uint8_t *buf, size_t len)
{
    mbedtls_aes_context a;
    mbedtls_aes_init(&a);
    if (enc)
        mbedtls_aes_setkey_enc(&a, key, 128);
    else
        mbedtls_aes_setkey_dec(&a, key, 128);
    for (size_t i = 0; i + 16 <= len; i += 16)
        mbedtls_aes_crypt_ecb(&a, enc ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT, buf + i,
                              buf + i);
    mbedtls_aes_free(&a);
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static size_t from_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    if (n > cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return 0;
        out[i] = (uint8_t)v;
    }
    return n;
}

/* The text of <name>...</name> in xml, or false. */
static bool xml_get(const char *xml, const char *name, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof(open), "<%s>", name);
    snprintf(close, sizeof(close), "</%s>", name);
    const char *a = strstr(xml, open), *b = a ? strstr(a, close) : NULL;
    if (!a || !b || (size_t)(b - a - strlen(open)) >= cap)
        return false;
    a += strlen(open);
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return true;
}

static int xml_status(const char *xml)
{
    const char *s = strstr(xml, "<root status_code=\"");
    return s ? atoi(s + 19) : -1;
}

static bool paired(const char *xml)
{
    char v[8];
    return xml_status(xml) == 200 && xml_get(xml, "paired", v, sizeof(v)) && strcmp(v, "1") == 0;
}

/* Sends one request: uniqueid, uuid, devicename, updateState as Moonlight
 * does, then the NULL-terminated name/value pairs. */
static int send_req(struct pvs_gs_pairing *p, struct sim *c, bool tls, ...)
{
    struct pvs_gs_query q;
    memset(&q, 0, sizeof(q));
    q.params[q.count++] = (struct pvs_gs_param){ "uniqueid", c->uniqueid };
    q.params[q.count++] = (struct pvs_gs_param){ "uuid", "4a2b1b2c-0000-4000-8000-000000000000" };
    q.params[q.count++] = (struct pvs_gs_param){ "devicename", c->devicename };
    q.params[q.count++] = (struct pvs_gs_param){ "updateState", "1" };
    va_list ap;
    va_start(ap, tls);
    const char *name;
    while ((name = va_arg(ap, const char *)) && q.count < PVS_GS_QUERY_MAX) {
        q.params[q.count].name = name;
        q.params[q.count++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    size_t der_len = c->own.raw.len;
    c->xml[0] = '\0';
    return pvs_gs_pairing_handle(p, &q, tls ? c->own.raw.p : NULL, tls ? der_len : 0, tls,
                                 c->xml, sizeof(c->xml));
}

static bool sim_init(struct sim *c, struct pvs_gs_host *keys, const char *uniqueid)
{
    memset(c, 0, sizeof(*c));
    c->keys = keys;
    c->uniqueid = uniqueid;
    c->devicename = "roth";
    size_t pem_len;
    const char *pem = pvs_gs_host_cert_pem(keys, &pem_len);
    c->cert_hex = malloc(2 * pem_len + 1);
    to_hex((const uint8_t *)pem, pem_len, c->cert_hex);
    mbedtls_x509_crt_init(&c->own);
    mbedtls_x509_crt_init(&c->server);
    return mbedtls_x509_crt_parse(&c->own, (const unsigned char *)pem, pem_len + 1) == 0;
}

static void sim_free(struct sim *c)
{
    free(c->cert_hex);
    mbedtls_x509_crt_free(&c->own);
    mbedtls_x509_crt_free(&c->server);
}

/* Step 1: the key from salt and PIN; the host certificate back. */
static bool step1(struct pvs_gs_pairing *p, struct sim *c, const char *pin)
{
    uint8_t salt[16], h[32];
    char salt_hex[33];
    pvs_gs_random(salt, sizeof(salt));
    to_hex(salt, sizeof(salt), salt_hex);
    sha256(salt, 16, pin, 4, NULL, 0, h);
    memcpy(c->key, h, 16);
    send_req(p, c, false, "phrase", "getservercert", "salt", salt_hex, "clientcert",
             c->cert_hex, NULL);
    if (!paired(c->xml))
        return false;
    static char plain_hex[XML_MAX];
    static uint8_t plain[XML_MAX / 2 + 1];
    if (!xml_get(c->xml, "plaincert", plain_hex, sizeof(plain_hex)))
        return false;
    size_t n = from_hex(plain_hex, plain, sizeof(plain) - 1);
    plain[n] = '\0';
    mbedtls_x509_crt_free(&c->server);
    mbedtls_x509_crt_init(&c->server);
    c->have_server = mbedtls_x509_crt_parse(&c->server, plain, n + 1) == 0;
    return c->have_server;
}

static bool step2(struct pvs_gs_pairing *p, struct sim *c)
{
    uint8_t enc[16];
    char hex[33], resp_hex[200];
    uint8_t resp[64];
    pvs_gs_random(c->challenge, 16);
    memcpy(enc, c->challenge, 16);
    aes(c->key, true, enc, 16);
    to_hex(enc, 16, hex);
    snprintf(c->sent[0][0], sizeof(c->sent[0][0]), "clientchallenge");
    snprintf(c->sent[0][1], sizeof(c->sent[0][1]), "%s", hex);
    send_req(p, c, false, "clientchallenge", hex, NULL);
    if (!paired(c->xml) || !xml_get(c->xml, "challengeresponse", resp_hex, sizeof(resp_hex)))
        return false;
    CHECK_INT(strlen(resp_hex), ==, 96);  /* 32-byte hash and 16-byte challenge */
    if (from_hex(resp_hex, resp, sizeof(resp)) != 48)
        return false;
    aes(c->key, false, resp, 48);
    memcpy(c->response_hash, resp, 32);
    memcpy(c->server_challenge, resp + 32, 16);
    return true;
}

static bool step3(struct pvs_gs_pairing *p, struct sim *c)
{
    uint8_t h[32];
    char hex[65], secret_hex[1200];
    pvs_gs_random(c->secret, 16);
    sha256(c->server_challenge, 16, c->own.MBEDTLS_PRIVATE(sig).p,
           c->own.MBEDTLS_PRIVATE(sig).len, c->secret, 16, h);
    aes(c->key, true, h, 32);
    if (c->tamper == T_RESP_BIT)
        h[5] ^= 0x10;
    to_hex(h, 32, hex);
    snprintf(c->sent[1][0], sizeof(c->sent[1][0]), "serverchallengeresp");
    snprintf(c->sent[1][1], sizeof(c->sent[1][1]), "%s", hex);
    send_req(p, c, false, "serverchallengeresp", hex, NULL);
    uint8_t ps[600];
    size_t n;
    if (!paired(c->xml) || !xml_get(c->xml, "pairingsecret", secret_hex, sizeof(secret_hex)) ||
        (n = from_hex(secret_hex, ps, sizeof(ps))) <= 16)
        return false;
    CHECK_INT(n, ==, 16 + 256);
    memcpy(c->server_secret, ps, 16);
    /* The client's checks: the secret is signed by plaincert's key, and the
     * host's hash of step 2 covers the client's challenge (right PIN). */
    uint8_t sh[32], expect[32];
    sha256(ps, 16, NULL, 0, NULL, 0, sh);
    c->server_sig_ok = mbedtls_pk_verify(&c->server.pk, MBEDTLS_MD_SHA256, sh, 32, ps + 16,
                                         n - 16) == 0;
    sha256(c->challenge, 16, c->server.MBEDTLS_PRIVATE(sig).p,
           c->server.MBEDTLS_PRIVATE(sig).len, c->server_secret, 16, expect);
    c->response_hash_ok = memcmp(expect, c->response_hash, 32) == 0;
    return true;
}

static bool step4(struct pvs_gs_pairing *p, struct sim *c)
{
    uint8_t msg[16 + PVS_GS_SIG_MAX];
    static char hex[2 * sizeof(msg) + 1];
    memcpy(msg, c->secret, 16);
    int n = pvs_gs_host_sign(c->tamper == T_OTHER_KEY ? c->other : c->keys, c->secret, 16,
                             msg + 16, PVS_GS_SIG_MAX);
    if (n <= 0)
        return false;
    if (c->tamper == T_SIG_BIT)
        msg[16 + 77] ^= 0x01;
    to_hex(msg, 16 + (size_t)n, hex);
    snprintf(c->sent[2][0], sizeof(c->sent[2][0]), "clientpairingsecret");
    snprintf(c->sent[2][1], sizeof(c->sent[2][1]), "%s", hex);
    send_req(p, c, false, "clientpairingsecret", hex, NULL);
    return paired(c->xml);
}

static bool step5(struct pvs_gs_pairing *p, struct sim *c, bool tls)
{
    send_req(p, c, tls, "phrase", "pairchallenge", NULL);
    return paired(c->xml);
}

/* ---- the host ---------------------------------------------------------------------- */

struct host_side {
    struct pvs_gs_pairing *p;
    const char *pin;   /* entered when a client waits; NULL: none */
    int waits;
    char name[64];
};

static void on_waiting(void *user, const char *name)
{
    struct host_side *h = user;
    h->waits++;
    snprintf(h->name, sizeof(h->name), "%s", name);
    if (h->pin)
        CHECK_INT(pvs_gs_pairing_set_pin(h->p, h->pin), ==, 0);
}

static void host_open(struct host_side *h, const char *pin, int timeout_ms)
{
    memset(h, 0, sizeof(*h));
    h->pin = pin;
    struct pvs_gs_pairing_opts o = {
        .host = g_host, .clients_path = g_store, .pin_timeout_ms = timeout_ms,
        .on_waiting = on_waiting, .user = h,
    };
    CHECK_INT(pvs_gs_pairing_open(&h->p, &o), ==, 0);
}

static int stored(void)
{
    struct pvs_peer *list;
    int count;
    if (pvs_peers_load(g_store, &list, &count) != 0)
        return -1;
    pvs_peers_free(&list);
    return count;
}

static bool is_stored(const struct sim *c)
{
    return pvs_gs_clients_find_cert(g_store, c->own.raw.p, c->own.raw.len, NULL) == 0;
}

static struct pvs_gs_host *g_client_keys, *g_client2_keys;

/* ---- tests -------------------------------------------------------------------------- */

static void test_full_pairing(void)
{
    remove(g_store);
    struct host_side h;
    struct sim c;
    host_open(&h, "1234", 0);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    CHECK(step1(h.p, &c, "1234"));
    CHECK_INT(h.waits, ==, 1);
    CHECK(strncmp(h.name, "roth-", 5) == 0);
    CHECK(step2(h.p, &c));
    CHECK(step3(h.p, &c));
    CHECK(c.server_sig_ok);
    CHECK(c.response_hash_ok);
    CHECK(step4(h.p, &c));
    CHECK(!is_stored(&c));  /* not until it proves itself over TLS */
    CHECK(step5(h.p, &c, true));
    CHECK_INT(stored(), ==, 1);
    struct pvs_peer got;
    CHECK_INT(pvs_gs_clients_find_cert(g_store, c.own.raw.p, c.own.raw.len, &got), ==, 0);
    uint8_t fp[32];
    sha256(c.own.raw.p, c.own.raw.len, NULL, 0, NULL, 0, fp);
    CHECK(memcmp(got.public_key, fp, 32) == 0);
    CHECK(strcmp(got.name, h.name) == 0);
    int64_t now = pvs_wall_time_us() / 1000000;
    CHECK(got.paired_at <= now && got.paired_at >= now - 60);
    /* A paired client asking again is told it is paired. */
    CHECK(step5(h.p, &c, true));
    /* The server's certificate is the host's. */
    size_t pem_len;
    const char *pem = pvs_gs_host_cert_pem(g_host, &pem_len);
    CHECK(c.server.raw.len > 0 && strstr(pem, "BEGIN CERTIFICATE"));
    pvs_gs_pairing_close(&h.p);
    CHECK(h.p == NULL);
    sim_free(&c);
}

/* Runs steps 1-4 with the client's PIN and the host's; returns how far it
 * got (number of steps answered paired=1). */
static int run_steps(struct host_side *h, struct sim *c, const char *client_pin)
{
    if (!step1(h->p, c, client_pin))
        return 0;
    if (!step2(h->p, c))
        return 1;
    if (!step3(h->p, c))
        return 2;
    return step4(h->p, c) ? 4 : 3;
}

static void test_wrong_pin(void)
{
    remove(g_store);
    struct host_side h;
    struct sim c;
    host_open(&h, "4321", 0);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    CHECK_INT(run_steps(&h, &c, "1234"), ==, 3);  /* the host learns it at step 4 */
    CHECK(c.server_sig_ok);           /* the host is still who it says */
    CHECK(!c.response_hash_ok);       /* and the client can tell the PIN was wrong */
    CHECK(!step5(h.p, &c, true));     /* the attempt is over */
    CHECK_INT(stored(), ==, 0);
    /* It may start again at once (the slot is free), now with the right PIN. */
    h.pin = "1234";
    CHECK_INT(run_steps(&h, &c, "1234"), ==, 4);
    CHECK(step5(h.p, &c, true));
    CHECK_INT(stored(), ==, 1);
    pvs_gs_pairing_close(&h.p);
    sim_free(&c);
}

static void test_tampered(void)
{
    static const enum tamper kinds[] = { T_RESP_BIT, T_SIG_BIT, T_OTHER_KEY };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        remove(g_store);
        struct host_side h;
        struct sim c;
        host_open(&h, "5555", 0);
        CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
        c.tamper = kinds[i];
        c.other = g_client2_keys;
        CHECK_INT(run_steps(&h, &c, "5555"), ==, 3);
        CHECK(!step5(h.p, &c, true));
        CHECK_INT(stored(), ==, 0);
        pvs_gs_pairing_close(&h.p);
        sim_free(&c);
    }
    /* Every step right, but the TLS certificate is another's. */
    remove(g_store);
    struct host_side h;
    struct sim c, other;
    host_open(&h, "5555", 0);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    CHECK(sim_init(&other, g_client2_keys, "0123456789ABCDEF"));
    CHECK_INT(run_steps(&h, &c, "5555"), ==, 4);
    CHECK(!step5(h.p, &other, true));
    CHECK(!step5(h.p, &c, true));  /* that ended it */
    CHECK_INT(stored(), ==, 0);
    /* ... or step 5 over plain HTTP. */
    CHECK_INT(run_steps(&h, &c, "5555"), ==, 4);
    CHECK(!step5(h.p, &c, false));
    CHECK(!step5(h.p, &c, true));
    CHECK_INT(stored(), ==, 0);
    pvs_gs_pairing_close(&h.p);
    sim_free(&c);
    sim_free(&other);
}

static void test_out_of_order(void)
{
    remove(g_store);
    struct host_side h;
    struct sim c;
    host_open(&h, "1111", 0);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    /* No attempt at all. */
    CHECK(!step2(h.p, &c));
    CHECK(!step5(h.p, &c, true));
    /* Step 3 straight after step 1, then step 2 finds the attempt gone. */
    CHECK(step1(h.p, &c, "1111"));
    CHECK(!step3(h.p, &c));
    CHECK(!step2(h.p, &c));
    /* Step 4 after step 2. */
    CHECK(step1(h.p, &c, "1111"));
    CHECK(step2(h.p, &c));
    CHECK(!step4(h.p, &c));
    CHECK(!step3(h.p, &c));
    /* Step 5 after step 3. */
    CHECK(step1(h.p, &c, "1111"));
    CHECK(step2(h.p, &c));
    CHECK(step3(h.p, &c));
    CHECK(!step5(h.p, &c, true));
    CHECK(!step4(h.p, &c));
    CHECK_INT(stored(), ==, 0);
    pvs_gs_pairing_close(&h.p);
    sim_free(&c);
}

static bool resend(struct pvs_gs_pairing *p, struct sim *c, int i)
{
    send_req(p, c, false, c->sent[i][0], c->sent[i][1], NULL);
    return paired(c->xml);
}

static void test_replay(void)
{
    remove(g_store);
    struct host_side h;
    struct sim c;
    host_open(&h, "2222", 0);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    /* A step sent twice ends the attempt. */
    CHECK(step1(h.p, &c, "2222"));
    CHECK(step2(h.p, &c));
    CHECK(!resend(h.p, &c, 0));
    CHECK(!step3(h.p, &c));
    /* A whole recorded exchange, replayed after it succeeded: steps 2 to 4
     * without step 1 are refused, and step 1 needs a PIN again. */
    CHECK_INT(run_steps(&h, &c, "2222"), ==, 4);
    CHECK(step5(h.p, &c, true));
    CHECK(!resend(h.p, &c, 0));
    CHECK(!resend(h.p, &c, 1));
    CHECK(!resend(h.p, &c, 2));
    h.pin = NULL;
    CHECK(!step1(h.p, &c, "2222"));
    CHECK_INT(xml_status(c.xml), ==, 408);
    CHECK(!resend(h.p, &c, 0));
    /* Replayed into a new attempt (new salt, new server secrets): step 2's
     * old value decrypts to another challenge, step 4 fails. */
    h.pin = "2222";
    CHECK(step1(h.p, &c, "2222"));
    char old3[2][1200];
    memcpy(old3, c.sent[1], sizeof(old3));
    CHECK(resend(h.p, &c, 0));  /* undetectable here: any 16 bytes are a challenge */
    send_req(h.p, &c, false, old3[0], old3[1], NULL);
    CHECK(paired(c.xml));
    CHECK(!resend(h.p, &c, 2));
    CHECK_INT(stored(), ==, 1);  /* only the real pairing */
    pvs_gs_pairing_close(&h.p);
    sim_free(&c);
}

/* One request of name/value pairs from `uniqueid`; true when paired=1. */
static bool raw(struct pvs_gs_pairing *p, const char *uniqueid, int n, const char **nv)
{
    struct pvs_gs_query q;
    memset(&q, 0, sizeof(q));
    if (uniqueid)
        q.params[q.count++] = (struct pvs_gs_param){ "uniqueid", uniqueid };
    for (int i = 0; i < n; i++)
        q.params[q.count++] = (struct pvs_gs_param){ nv[2 * i], nv[2 * i + 1] };
    char xml[XML_MAX];
    int rc = pvs_gs_pairing_handle(p, &q, NULL, 0, false, xml, sizeof(xml));
    CHECK(rc > 0 && (size_t)rc == strlen(xml));
    CHECK(strncmp(xml, "<?xml", 5) == 0);
    return paired(xml);
}

static void test_garbage(void)
{
    remove(g_store);
    struct host_side h;
    struct sim c;
    host_open(&h, "3333", 0);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    const char *id = c.uniqueid;
    const char *salt = "00112233445566778899aabbccddeeff";
    char *bad_cert = strdup(c.cert_hex);
    bad_cert[200] = 'x';
    char *odd_cert = strdup(c.cert_hex);
    odd_cert[strlen(odd_cert) - 1] = '\0';
    char *half_cert = strdup(c.cert_hex);
    half_cert[strlen(half_cert) / 2] = '\0';
    char *long_cert = malloc(40000);
    memset(long_cert, 'a', 39998);
    long_cert[39998] = '\0';
    char long_id[80];
    memset(long_id, 'u', 79);
    long_id[79] = '\0';
    const char *step1s[][6] = {
        { "phrase", "getservercert", "salt", "0011", "clientcert", c.cert_hex },
        { "phrase", "getservercert", "salt", "zz112233445566778899aabbccddeeff", "clientcert", c.cert_hex },
        { "phrase", "getservercert", "salt", "00112233445566778899aabbccddeeff00", "clientcert", c.cert_hex },
        { "phrase", "getservercert", "salt", salt, "clientcert", bad_cert },
        { "phrase", "getservercert", "salt", salt, "clientcert", odd_cert },
        { "phrase", "getservercert", "salt", salt, "clientcert", half_cert },
        { "phrase", "getservercert", "salt", salt, "clientcert", long_cert },
        { "phrase", "getservercert", "salt", salt, "clientcert", "" },
        { "phrase", "getservercert", "salt", salt, "phrase", "getservercert" },
        { "phrase", "getservercerts", "salt", salt, "clientcert", c.cert_hex },
        { "phrase", "getservercert", "salt", salt, "clientchallenge", "00" },
    };
    for (size_t i = 0; i < sizeof(step1s) / sizeof(step1s[0]); i++)
        CHECK(!raw(h.p, id, 3, step1s[i]));
    CHECK_INT(h.waits, ==, 0);  /* none of them got as far as waiting */
    const char *good1[] = { "phrase", "getservercert", "salt", salt, "clientcert", c.cert_hex };
    CHECK(!raw(h.p, NULL, 3, good1));     /* no uniqueid */
    CHECK(!raw(h.p, "", 3, good1));
    CHECK(!raw(h.p, long_id, 3, good1));
    CHECK(!raw(h.p, "a b", 3, good1));
    CHECK(!raw(h.p, id, 0, NULL));        /* nothing asked */

    /* Malformed later steps each end a started attempt. */
    const char *later[][2] = {
        { "clientchallenge", "0011" },
        { "clientchallenge", "00112233445566778899aabbccddeeffgg" },
        { "clientchallenge", "" },
        { "serverchallengeresp", "00" },
        { "clientpairingsecret", "00112233445566778899aabbccddeeff" },
        { "phrase", "unknown" },
        { "phrase", "pairchallenge" },
    };
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        CHECK(step1(h.p, &c, "3333"));
        CHECK(!raw(h.p, id, 1, later[i]));
        CHECK(!step2(h.p, &c));
    }
    /* Two steps in one request, or one step twice. */
    const char *two[] = { "clientchallenge", "00112233445566778899aabbccddeeff",
                          "serverchallengeresp", "00112233445566778899aabbccddeeff" };
    CHECK(step1(h.p, &c, "3333"));
    CHECK(!raw(h.p, id, 2, two));
    CHECK(!step2(h.p, &c));
    const char *dup[] = { "clientchallenge", "00112233445566778899aabbccddeeff",
                          "clientchallenge", "00112233445566778899aabbccddeeff" };
    CHECK(step1(h.p, &c, "3333"));
    CHECK(!raw(h.p, id, 2, dup));
    CHECK(!step2(h.p, &c));
    /* A clientpairingsecret too long to be one. */
    CHECK(step1(h.p, &c, "3333"));
    CHECK(step2(h.p, &c));
    CHECK(step3(h.p, &c));
    char *huge = malloc(2 * 600 + 1);
    memset(huge, 'a', 1200);
    huge[1200] = '\0';
    const char *big[] = { "clientpairingsecret", huge };
    CHECK(!raw(h.p, id, 1, big));
    CHECK(!step4(h.p, &c));
    /* Garbage from another uniqueid leaves a pairing alone. */
    CHECK(step1(h.p, &c, "3333"));
    const char *junk[] = { "clientchallenge", "zz" };
    CHECK(!raw(h.p, "somebody-else", 1, junk));
    CHECK(!raw(h.p, "somebody-else", 3, step1s[0]));
    CHECK(step2(h.p, &c));

    /* Broken query structures and small buffers. */
    struct pvs_gs_query q;
    memset(&q, 0, sizeof(q));
    char xml[XML_MAX];
    q.count = -1;
    CHECK(pvs_gs_pairing_handle(h.p, &q, NULL, 0, false, xml, sizeof(xml)) > 0);
    q.count = PVS_GS_QUERY_MAX + 1;
    CHECK(pvs_gs_pairing_handle(h.p, &q, NULL, 0, false, xml, sizeof(xml)) > 0);
    q.count = 1;  /* a NULL name */
    CHECK(pvs_gs_pairing_handle(h.p, &q, NULL, 0, false, xml, sizeof(xml)) > 0);
    q.params[0] = (struct pvs_gs_param){ "uniqueid", NULL };
    CHECK(pvs_gs_pairing_handle(h.p, &q, NULL, 0, false, xml, sizeof(xml)) > 0);
    CHECK(!paired(xml));
    CHECK_INT(pvs_gs_pairing_handle(h.p, &q, NULL, 0, false, xml, 10), ==, PVS_ERANGE);
    CHECK_INT(pvs_gs_pairing_handle(h.p, NULL, NULL, 0, false, xml, sizeof(xml)), ==, PVS_EINVAL);
    CHECK_INT(stored(), ==, 0);
    free(bad_cert);
    free(odd_cert);
    free(half_cert);
    free(long_cert);
    free(huge);
    pvs_gs_pairing_close(&h.p);
    sim_free(&c);
}

static void test_busy(void)
{
    remove(g_store);
    struct host_side h;
    struct sim a, b;
    host_open(&h, "6666", 0);
    CHECK(sim_init(&a, g_client_keys, "client-a"));
    CHECK(sim_init(&b, g_client2_keys, "client-b"));
    CHECK(step1(h.p, &a, "6666"));
    CHECK(!step1(h.p, &b, "6666"));
    CHECK_INT(xml_status(b.xml), ==, 503);
    CHECK(strstr(b.xml, "status_message=\"another Moonlight client is pairing") != NULL);
    /* Same uniqueid (every moonlight-embedded has the same), other key. */
    b.uniqueid = "client-a";
    CHECK(!step1(h.p, &b, "6666"));
    CHECK_INT(xml_status(b.xml), ==, 503);
    CHECK(step2(h.p, &a));
    CHECK(step3(h.p, &a));
    CHECK(step4(h.p, &a));
    CHECK(step5(h.p, &a, true));
    /* Then the second may pair. */
    b.uniqueid = "client-b";
    CHECK_INT(run_steps(&h, &b, "6666"), ==, 4);
    CHECK(step5(h.p, &b, true));
    CHECK_INT(stored(), ==, 2);
    /* The same client starting over (a retry) replaces its own attempt. */
    CHECK(step1(h.p, &a, "6666"));
    CHECK(step1(h.p, &a, "6666"));
    CHECK(step2(h.p, &a));
    pvs_gs_pairing_close(&h.p);
    sim_free(&a);
    sim_free(&b);
}

struct pin_thread {
    struct pvs_gs_pairing *p;
    const char *pin;
    int rc;
    char name[64];
};

static int enter_pin_later(void *arg)
{
    struct pin_thread *t = arg;
    /* The way `pvstream-server pin` will: it sees a client waiting, then
     * hands over the PIN. */
    for (int i = 0; i < 10000 && !pvs_gs_pairing_waiting(t->p, t->name, sizeof(t->name)); i++)
        pvs_sleep_ns(1000000);
    t->rc = pvs_gs_pairing_set_pin(t->p, t->pin);
    return 0;
}

static void test_pin_from_another_thread(void)
{
    remove(g_store);
    struct host_side h;
    struct sim c;
    host_open(&h, NULL, 30000);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    CHECK(!pvs_gs_pairing_waiting(h.p, NULL, 0));
    CHECK_INT(pvs_gs_pairing_set_pin(h.p, "1234"), ==, PVS_ENOENT);
    CHECK_INT(pvs_gs_pairing_set_pin(h.p, "12a4"), ==, PVS_EINVAL);
    CHECK_INT(pvs_gs_pairing_set_pin(h.p, "123"), ==, PVS_EINVAL);
    CHECK_INT(pvs_gs_pairing_set_pin(h.p, "12345"), ==, PVS_EINVAL);
    struct pin_thread t = { h.p, "9876", -1, "" };
    struct pvs_thread *th;
    CHECK_INT(pvs_thread_create(&th, enter_pin_later, &t, "pin"), ==, 0);
    CHECK(step1(h.p, &c, "9876"));  /* blocks until the thread hands the PIN */
    pvs_thread_join(&th, NULL);
    CHECK_INT(t.rc, ==, 0);
    CHECK(strcmp(t.name, h.name) == 0);
    CHECK(!pvs_gs_pairing_waiting(h.p, NULL, 0));
    CHECK_INT(pvs_gs_pairing_set_pin(h.p, "9876"), ==, PVS_ENOENT);  /* no longer waiting */
    CHECK(step2(h.p, &c) && step3(h.p, &c) && step4(h.p, &c) && step5(h.p, &c, true));
    pvs_gs_pairing_close(&h.p);

    /* Nobody enters it: a refusal that says why, and the slot is free. */
    host_open(&h, NULL, 30);
    CHECK(!step1(h.p, &c, "9876"));
    CHECK_INT(xml_status(c.xml), ==, 408);
    CHECK(strstr(c.xml, "no PIN was entered on the host") != NULL);
    CHECK(!pvs_gs_pairing_waiting(h.p, NULL, 0));
    CHECK(!step2(h.p, &c));
    h.pin = "9876";
    CHECK(step1(h.p, &c, "9876"));
    pvs_gs_pairing_close(&h.p);
    sim_free(&c);
}

struct waiter {
    struct pvs_gs_pairing *p;
    struct sim *c;
    bool ok;
};

static int wait_step1(void *arg)
{
    struct waiter *w = arg;
    w->ok = step1(w->p, w->c, "1234");
    return 0;
}

static void test_stop(void)
{
    struct host_side h;
    struct sim c;
    host_open(&h, NULL, 60000);
    CHECK(sim_init(&c, g_client_keys, "0123456789ABCDEF"));
    struct waiter w = { h.p, &c, true };
    struct pvs_thread *th;
    CHECK_INT(pvs_thread_create(&th, wait_step1, &w, "waiter"), ==, 0);
    for (int i = 0; i < 10000 && !pvs_gs_pairing_waiting(h.p, NULL, 0); i++)
        pvs_sleep_ns(1000000);
    CHECK(pvs_gs_pairing_waiting(h.p, NULL, 0));
    pvs_gs_pairing_stop(h.p);
    pvs_thread_join(&th, NULL);  /* woken long before its 60 s */
    CHECK(!w.ok);
    CHECK(!step1(h.p, &c, "1234"));
    CHECK_INT(xml_status(c.xml), ==, 503);
    pvs_gs_pairing_close(&h.p);
    pvs_gs_pairing_close(NULL);
    sim_free(&c);
}

static int unpair(struct pvs_gs_pairing *p, struct sim *c, bool tls)
{
    struct pvs_gs_query q;
    memset(&q, 0, sizeof(q));
    q.params[q.count++] = (struct pvs_gs_param){ "uniqueid", c->uniqueid };
    q.params[q.count++] = (struct pvs_gs_param){ "uuid", "x" };
    return pvs_gs_pairing_unpair(p, &q, tls ? c->own.raw.p : NULL, tls ? c->own.raw.len : 0,
                                 tls, c->xml, sizeof(c->xml));
}

static void test_unpair(void)
{
    remove(g_store);
    struct host_side h;
    struct sim a, b;
    host_open(&h, "7777", 0);
    CHECK(sim_init(&a, g_client_keys, "0123456789ABCDEF"));
    CHECK(sim_init(&b, g_client2_keys, "0123456789ABCDEF"));
    CHECK_INT(run_steps(&h, &a, "7777"), ==, 4);
    CHECK(step5(h.p, &a, true));
    CHECK_INT(run_steps(&h, &b, "7777"), ==, 4);
    CHECK(step5(h.p, &b, true));
    CHECK_INT(stored(), ==, 2);
    /* Plain HTTP: anyone could send it; nobody is removed. */
    CHECK(unpair(h.p, &a, false) > 0);
    CHECK_INT(xml_status(a.xml), ==, 200);
    CHECK_INT(stored(), ==, 2);
    /* Over TLS the certificate says who: only that client goes. */
    CHECK(unpair(h.p, &a, true) > 0);
    CHECK(!is_stored(&a) && is_stored(&b));
    CHECK(!step5(h.p, &a, true));
    /* Unpair ends an attempt in progress (what Moonlight does after a
     * failure). */
    CHECK(step1(h.p, &a, "7777"));
    CHECK(unpair(h.p, &a, false) > 0);
    CHECK(!step2(h.p, &a));
    pvs_gs_pairing_close(&h.p);
    sim_free(&a);
    sim_free(&b);
}

/* ---- the store ------------------------------------------------------------------------ */

static void test_store(void)
{
    remove(g_store);
    uint8_t fp1[32], fp2[32], fp3[32];
    memset(fp1, 0xab, 32);
    memcpy(fp2, fp1, 32);
    fp2[31] = 0;  /* the same first 8 hex digits: the names would clash */
    memset(fp3, 0x01, 32);
    char n1[64], n2[64], n3[64], n4[64];
    CHECK_INT(pvs_gs_clients_add(g_store, "roth", fp1, 100, n1), ==, 0);
    CHECK(strcmp(n1, "roth-abababab") == 0);
    CHECK_INT(pvs_gs_clients_add(g_store, "roth", fp2, 200, n2), ==, 0);
    CHECK(strcmp(n2, "roth-abababab-2") == 0);
    CHECK_INT(pvs_gs_clients_add(g_store, "my phone #1 \xc3\xa9", fp3, 300, n3), ==, 0);
    CHECK(strcmp(n3, "my_phone_#1___-01010101") == 0);
    CHECK_INT(stored(), ==, 3);
    /* The same certificate again renews its entry. */
    CHECK_INT(pvs_gs_clients_add(g_store, "roth", fp1, 400, n4), ==, 0);
    CHECK(strcmp(n4, "roth-abababab") == 0);
    CHECK_INT(stored(), ==, 3);
    struct pvs_peer *list;
    int count;
    CHECK_INT(pvs_peers_load(g_store, &list, &count), ==, 0);
    for (int i = 0; i < count; i++)
        if (strcmp(list[i].name, "roth-abababab") == 0)
            CHECK_INT(list[i].paired_at, ==, 400);
    pvs_peers_free(&list);

    char name[64];
    char longname[200];
    memset(longname, 'n', 199);
    longname[199] = '\0';
    pvs_gs_client_name(longname, fp3, name);
    CHECK_INT(strlen(name), ==, 40 + 1 + 8);
    pvs_gs_client_name("#x", fp3, name);
    CHECK(strcmp(name, "_x-01010101") == 0);
    pvs_gs_client_name(NULL, fp3, name);
    CHECK(strcmp(name, "moonlight-01010101") == 0);
    pvs_gs_client_name("", fp3, name);
    CHECK(strcmp(name, "moonlight-01010101") == 0);

    /* Found by the certificate's DER (whose SHA-256 is the key). */
    size_t der_len;
    const uint8_t *der = pvs_gs_cert_der(pvs_gs_host_cert(g_host), &der_len);
    uint8_t fp[32];
    pvs_gs_cert_fingerprint(pvs_gs_host_cert(g_host), fp);
    CHECK_INT(pvs_gs_clients_find_cert(g_store, der, der_len, NULL), ==, PVS_ENOENT);
    CHECK_INT(pvs_gs_clients_add(g_store, "host", fp, 1, NULL), ==, 0);
    struct pvs_peer got;
    CHECK_INT(pvs_gs_clients_find_cert(g_store, der, der_len, &got), ==, 0);
    CHECK(strncmp(got.name, "host-", 5) == 0);
    CHECK_INT(pvs_gs_clients_find_cert(g_store, NULL, 0, NULL), ==, PVS_ENOENT);
    CHECK_INT(pvs_gs_clients_find_cert(g_store, der, der_len - 1, NULL), ==, PVS_ENOENT);
    CHECK_INT(pvs_gs_clients_remove(g_store, got.name), ==, 0);
    CHECK_INT(pvs_gs_clients_remove(g_store, got.name), ==, PVS_ENOENT);
    CHECK_INT(pvs_gs_clients_find_cert(g_store, der, der_len, NULL), ==, PVS_ENOENT);
    CHECK_INT(stored(), ==, 3);

#ifndef _WIN32
    /* The peers file's rules: private to the user, or refused (and then no
     * certificate is found: the HTTPS layer refuses everyone). */
    struct stat st;
    CHECK_INT(stat(g_store, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
    CHECK_INT(chmod(g_store, 0644), ==, 0);
    CHECK_INT(pvs_gs_clients_find_cert(g_store, der, der_len, NULL), ==, PVS_ECONFIG);
    CHECK_INT(pvs_gs_clients_add(g_store, "roth", fp, 1, NULL), ==, PVS_ECONFIG);
    CHECK_INT(chmod(g_store, 0600), ==, 0);
#endif
    /* A malformed file is refused too. */
    CHECK_INT(pvs_keyfile_write(g_store, "test", "roth-1 nothex 5\n", 16, false), ==, 0);
    CHECK_INT(pvs_gs_clients_find_cert(g_store, der, der_len, NULL), ==, PVS_ECONFIG);
    remove(g_store);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof(g_dir), "%s/pvs-gs-pairing-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_store, sizeof(g_store), "%s/%s", g_dir, PVS_GS_CLIENTS_FILE);
    pvs_log_set_level(getenv("PVS_TEST_VERBOSE") ? PVS_LOG_DEBUG : PVS_LOG_QUIET);
    /* Three RSA-2048 keys: the host's and two clients'. */
    CHECK_INT(pvs_gs_host_generate(&g_host, "pvs-test-host"), ==, 0);
    CHECK_INT(pvs_gs_host_generate(&g_client_keys, "NVIDIA GameStream Client"), ==, 0);
    CHECK_INT(pvs_gs_host_generate(&g_client2_keys, "NVIDIA GameStream Client"), ==, 0);
    if (g_host && g_client_keys && g_client2_keys) {
        RUN(test_full_pairing);
        RUN(test_wrong_pin);
        RUN(test_tampered);
        RUN(test_out_of_order);
        RUN(test_replay);
        RUN(test_garbage);
        RUN(test_busy);
        RUN(test_pin_from_another_thread);
        RUN(test_stop);
        RUN(test_unpair);
        RUN(test_store);
    }
    pvs_gs_host_close(&g_host);
    pvs_gs_host_close(&g_client_keys);
    pvs_gs_host_close(&g_client2_keys);
    remove(g_store);
    rmdir(g_dir);
    TEST_EXIT();
}
