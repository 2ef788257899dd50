/* Moonlight's PIN pairing, the host's side (gamestream/gs_pairing.h).
 *
 * What each step carries, from the client's side of the exchange (facts
 * from moonlight-embedded libgamestream/client.c, gs_pair):
 *   key       = first 16 bytes of SHA-256(salt || the 4 PIN characters)
 *               (SHA-1 for hosts older than generation 7);
 *   step 2    clientchallenge = AES-ECB(key, 16 random bytes);
 *   reply     challengeresponse = AES-ECB(key, H || server challenge (16)),
 *             the client taking the server challenge at offset len(H);
 *             H = SHA-256(client challenge || host cert signature ||
 *             server secret (16)), which the client may check once it
 *             learns the server secret;
 *   step 3    serverchallengeresp = AES-ECB(key, SHA-256(server challenge
 *             || client cert signature || client secret (16)));
 *   reply     pairingsecret = server secret || RSA-SHA256 signature of it
 *             by the host key (the client checks it against plaincert);
 *   step 4    clientpairingsecret = client secret || RSA-SHA256 signature
 *             of it by the client key.
 * "signature" is the certificate's signatureValue. All binary values travel
 * as hex; clientcert and plaincert are the hex of a PEM file.
 *
 * Step 4 is where a wrong PIN shows: the hash the client encrypted in step
 * 3 holds the server challenge it could only read with the right key. The
 * signature then shows that the client holds the key of the certificate it
 * sent, which is what it will present over TLS from now on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "gamestream/gs_clients.h"
#include "gamestream/gs_pairing.h"

#define SALT_BYTES 16
#define CHALLENGE_BYTES 16
#define SECRET_BYTES 16
#define HASH_BYTES PVS_GS_SHA256_BYTES
#define UNIQUEID_MAX 64
#define CLIENT_CERT_MAX (16 * 1024)  /* a PEM file; RSA-4096's is about 2 KB */
#define XML_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"

enum step {
    IDLE,
    WAIT_PIN,            /* step 1 came: a thread waits for the PIN */
    WANT_CHALLENGE,      /* step 1 answered */
    WANT_RESPONSE,       /* step 2 answered */
    WANT_SECRET,         /* step 3 answered */
    WANT_PAIRCHALLENGE,  /* step 4 answered: the client has proven itself */
};

struct attempt {
    enum step step;
    int64_t deadline_ns;  /* WAIT_PIN: for the PIN; later: for the next step */
    char uniqueid[UNIQUEID_MAX + 1];
    char devicename[PVS_PEER_NAME_MAX + 1];
    char name[PVS_PEER_NAME_MAX + 1];  /* for the log */
    struct pvs_gs_cert *client_cert;
    uint8_t client_fp[PVS_GS_SHA256_BYTES];
    uint8_t salt[SALT_BYTES];
    char pin[PVS_GS_PIN_DIGITS];
    bool pin_set;
    uint8_t key[PVS_GS_AES_KEY_BYTES];
    uint8_t server_secret[SECRET_BYTES];
    uint8_t server_challenge[CHALLENGE_BYTES];
    uint8_t client_hash[HASH_BYTES];
};

struct pvs_gs_pairing {
    const struct pvs_gs_host *host;
    char *clients_path;
    int pin_timeout_ms;
    void (*on_waiting)(void *user, const char *name);
    void *user;
    pvs_mutex lock;
    pvs_cond cond;   /* a PIN came, or the attempt ended */
    uint64_t gen;    /* changes whenever an attempt begins or ends */
    bool stopped;
    struct attempt a;
};

/* What one request asks for. */
enum request {
    REQ_BAD,
    REQ_GETSERVERCERT,
    REQ_CLIENTCHALLENGE,
    REQ_SERVERCHALLENGERESP,
    REQ_CLIENTPAIRINGSECRET,
    REQ_PAIRCHALLENGE,
};

/* ---- replies ------------------------------------------------------------------ */

struct reply {
    int status;           /* the root's status_code */
    const char *message;  /* status_message, or NULL */
    int paired;           /* <paired>: 0, 1, or -1 for none */
    const char *elem;     /* an element of hex, or NULL */
    const uint8_t *bin;
    size_t bin_len;
};

struct out {
    char *p;
    size_t cap, len;
    bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || n >= o->cap - o->len) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_escaped(struct out *o, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': puts_(o, "&amp;"); break;
        case '<': puts_(o, "&lt;"); break;
        case '>': puts_(o, "&gt;"); break;
        case '"': puts_(o, "&quot;"); break;
        case '\'': puts_(o, "&apos;"); break;
        default: put(o, s, 1);
        }
    }
}

static int write_reply(const struct reply *r, char *xml, size_t cap)
{
    struct out o = { xml, cap, 0, cap == 0 };
    char num[16];
    snprintf(num, sizeof(num), "%d", r->status);
    puts_(&o, XML_HEAD "<root status_code=\"");
    puts_(&o, num);
    puts_(&o, "\"");
    if (r->message) {
        puts_(&o, " status_message=\"");
        put_escaped(&o, r->message);
        puts_(&o, "\"");
    }
    puts_(&o, ">");
    if (r->paired >= 0)
        puts_(&o, r->paired ? "<paired>1</paired>" : "<paired>0</paired>");
    if (r->elem && !o.overflow) {
        puts_(&o, "<");
        puts_(&o, r->elem);
        puts_(&o, ">");
        int n = o.overflow ? -1 : pvs_gs_hex_encode(r->bin, r->bin_len, o.p + o.len,
                                                      o.cap - o.len);
        if (n < 0)
            o.overflow = true;
        else
            o.len += (size_t)n;
        puts_(&o, "</");
        puts_(&o, r->elem);
        puts_(&o, ">");
    }
    puts_(&o, "</root>\n");
    return o.overflow ? PVS_ERANGE : (int)o.len;
}

static int not_paired(char *xml, size_t cap)
{
    struct reply r = { 200, NULL, 0, NULL, NULL, 0 };
    return write_reply(&r, xml, cap);
}

static int refused(int status, const char *message, char *xml, size_t cap)
{
    struct reply r = { status, message, 0, NULL, NULL, 0 };
    return write_reply(&r, xml, cap);
}

static int paired_with(const char *elem, const uint8_t *bin, size_t len, char *xml,
                       size_t cap)
{
    struct reply r = { 200, NULL, 1, elem, bin, len };
    return write_reply(&r, xml, cap);
}

/* ---- the attempt ----------------------------------------------------------------- */

/* Ends the attempt, wiping its secrets. Under the lock. */
static void reset(struct pvs_gs_pairing *p)
{
    pvs_gs_cert_close(&p->a.client_cert);
    pvs_gs_wipe(&p->a, sizeof(p->a));
    p->a.step = IDLE;
    p->gen++;
    pvs_cond_broadcast(&p->cond);
}

/* Ends the attempt with a warning saying why; answers "not paired". */
static int fail(struct pvs_gs_pairing *p, const char *why, char *xml, size_t cap)
{
    PVS_LOG_W("pairing with Moonlight client %s failed: %s; it must start again",
              p->a.name[0] ? p->a.name : "(unknown)", why);
    reset(p);
    return not_paired(xml, cap);
}

/* Drops an attempt whose client went quiet. Under the lock. */
static void expire(struct pvs_gs_pairing *p)
{
    if (p->a.step > WAIT_PIN && pvs_time_ns() >= p->a.deadline_ns) {
        PVS_LOG_W("pairing with Moonlight client %s dropped: no next step for %d s",
                  p->a.name, PVS_GS_PAIRING_IDLE_S);
        reset(p);
    }
}

static void next_step(struct pvs_gs_pairing *p, enum step s)
{
    p->a.step = s;
    p->a.deadline_ns = pvs_time_ns() + (int64_t)PVS_GS_PAIRING_IDLE_S * 1000000000;
}

/* The hex value of a parameter as exactly `len` bytes, or false. */
static bool hex_exact(const char *hex, uint8_t *out, size_t len)
{
    return hex && strlen(hex) == 2 * len && pvs_gs_hex_decode(hex, 2 * len, out, len) == (int)len;
}

static bool uniqueid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > UNIQUEID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

/* Which step a request asks for: exactly one of them, or REQ_BAD. */
static enum request classify(const struct pvs_gs_query *q)
{
    const char *phrase = pvs_gs_query_get(q, "phrase");
    enum request r = REQ_BAD;
    int asked = 0;
    if (phrase) {
        asked++;
        if (strcmp(phrase, "getservercert") == 0)
            r = REQ_GETSERVERCERT;
        else if (strcmp(phrase, "pairchallenge") == 0)
            r = REQ_PAIRCHALLENGE;
        else
            return REQ_BAD;
    }
    static const struct { const char *name; enum request r; } steps[] = {
        { "clientchallenge", REQ_CLIENTCHALLENGE },
        { "serverchallengeresp", REQ_SERVERCHALLENGERESP },
        { "clientpairingsecret", REQ_CLIENTPAIRINGSECRET },
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (pvs_gs_query_get(q, steps[i].name)) {
            asked++;
            r = steps[i].r;
        }
    }
    return asked == 1 ? r : REQ_BAD;
}

/* ---- step 1: getservercert --------------------------------------------------------- */

/* The parts of step 1 checked before taking the lock. */
struct hello {
    uint8_t salt[SALT_BYTES];
    struct pvs_gs_cert *cert;
    uint8_t fp[PVS_GS_SHA256_BYTES];
};

static const char *read_hello(const struct pvs_gs_query *q, struct hello *h)
{
    const char *cert_hex = pvs_gs_query_get(q, "clientcert");
    if (!hex_exact(pvs_gs_query_get(q, "salt"), h->salt, SALT_BYTES))
        return "the salt is not 32 hex digits";
    size_t n = cert_hex ? strlen(cert_hex) : 0;
    if (n == 0 || n > 2 * CLIENT_CERT_MAX)
        return "no client certificate, or one too long";
    uint8_t *pem = malloc(n / 2 + 1);
    if (!pem)
        return "out of memory";
    int len = pvs_gs_hex_decode(cert_hex, n, pem, n / 2 + 1);
    const char *why = NULL;
    if (len <= 0)
        why = "the client certificate is not hex";
    else if (pvs_gs_cert_parse(&h->cert, pem, (size_t)len) != 0)
        why = "the client certificate is not an X.509 certificate";
    else if (pvs_gs_cert_fingerprint(h->cert, h->fp) != 0)
        why = "cannot hash the client certificate";
    free(pem);
    return why;
}

/* Step 1 after the lock is taken: starts the attempt, waits for the PIN. */
static int wait_for_pin(struct pvs_gs_pairing *p, const struct pvs_gs_query *q,
                        struct hello *h, char *xml, size_t cap)
{
    const char *uniqueid = pvs_gs_query_get(q, "uniqueid");
    const char *devicename = pvs_gs_query_get(q, "devicename");
    struct attempt *a = &p->a;
    a->step = WAIT_PIN;
    a->deadline_ns = pvs_time_ns() + (int64_t)p->pin_timeout_ms * 1000000;
    snprintf(a->uniqueid, sizeof(a->uniqueid), "%s", uniqueid);
    pvs_gs_client_name(devicename, h->fp, a->name);
    snprintf(a->devicename, sizeof(a->devicename), "%s", devicename ? devicename : "");
    a->client_cert = h->cert;
    h->cert = NULL;
    memcpy(a->client_fp, h->fp, sizeof(a->client_fp));
    memcpy(a->salt, h->salt, sizeof(a->salt));
    uint64_t gen = ++p->gen;
    char name[sizeof(a->name)];
    memcpy(name, a->name, sizeof(name));

    pvs_mutex_unlock(&p->lock);
    PVS_LOG_I("Moonlight client %s wants to pair: enter the 4-digit PIN it shows "
              "with \"pvstream-server pin NNNN\" within %d s", name, p->pin_timeout_ms / 1000);
    if (p->on_waiting)
        p->on_waiting(p->user, name);
    pvs_mutex_lock(&p->lock);

    while (p->gen == gen && !a->pin_set && !p->stopped &&
           pvs_cond_wait_until(&p->cond, &p->lock, a->deadline_ns) == 0) {
    }
    if (p->gen != gen)  /* a newer attempt, or an unpair, took its place */
        return not_paired(xml, cap);
    if (p->stopped) {
        reset(p);
        return refused(503, "the host is shutting down", xml, cap);
    }
    if (!a->pin_set) {
        PVS_LOG_W("pairing with Moonlight client %s failed: no PIN was entered on the "
                  "host within %d s", a->name, p->pin_timeout_ms / 1000);
        reset(p);
        return refused(408, "no PIN was entered on the host in time; pair again and "
                       "enter the PIN with pvstream-server pin", xml, cap);
    }
    uint8_t hash[HASH_BYTES];
    struct pvs_gs_span parts[] = { { a->salt, SALT_BYTES }, { a->pin, PVS_GS_PIN_DIGITS } };
    int rc = pvs_gs_sha256(parts, 2, hash);
    memcpy(a->key, hash, sizeof(a->key));
    pvs_gs_wipe(hash, sizeof(hash));
    pvs_gs_wipe(a->pin, sizeof(a->pin));
    if (rc)
        return fail(p, "cannot hash the PIN", xml, cap);
    next_step(p, WANT_CHALLENGE);
    size_t pem_len;
    const char *pem = pvs_gs_host_cert_pem(p->host, &pem_len);
    return paired_with("plaincert", (const uint8_t *)pem, pem_len, xml, cap);
}

static int getservercert(struct pvs_gs_pairing *p, const struct pvs_gs_query *q,
                         char *xml, size_t cap)
{
    struct hello h;
    memset(&h, 0, sizeof(h));
    const char *why = read_hello(q, &h);
    const char *uniqueid = pvs_gs_query_get(q, "uniqueid");
    int rc;
    pvs_mutex_lock(&p->lock);
    expire(p);
    if (p->stopped) {
        rc = refused(503, "the host is shutting down", xml, cap);
    } else if (why) {
        /* Only that client's own attempt ends: a stranger's garbage must
         * not end someone else's pairing. */
        if (p->a.step != IDLE && strcmp(p->a.uniqueid, uniqueid) == 0)
            reset(p);
        PVS_LOG_W("refused a Moonlight pairing request: %s", why);
        rc = not_paired(xml, cap);
    } else if (p->a.step != IDLE && !(strcmp(p->a.uniqueid, uniqueid) == 0 &&
                                      pvs_gs_equal(p->a.client_fp, h.fp, sizeof(h.fp)))) {
        PVS_LOG_W("refused a Moonlight pairing request: client %s is pairing now",
                  p->a.name);
        rc = refused(503, "another Moonlight client is pairing with this host; try "
                     "again in a minute", xml, cap);
    } else {
        if (p->a.step != IDLE)  /* the same client starting over */
            reset(p);
        rc = wait_for_pin(p, q, &h, xml, cap);
    }
    pvs_mutex_unlock(&p->lock);
    pvs_gs_cert_close(&h.cert);
    return rc;
}

/* ---- steps 2 to 5 ------------------------------------------------------------------- */

static int clientchallenge(struct pvs_gs_pairing *p, const char *hex, char *xml, size_t cap)
{
    struct attempt *a = &p->a;
    uint8_t challenge[CHALLENGE_BYTES];
    if (!hex_exact(hex, challenge, sizeof(challenge)))
        return fail(p, "the client challenge is not 32 hex digits", xml, cap);
    size_t sig_len;
    const uint8_t *sig = pvs_gs_cert_signature(pvs_gs_host_cert(p->host), &sig_len);
    uint8_t plain[HASH_BYTES + CHALLENGE_BYTES];
    int rc = pvs_gs_aes128_ecb(a->key, false, challenge, challenge, sizeof(challenge));
    if (rc == 0)
        rc = pvs_gs_random(a->server_secret, sizeof(a->server_secret));
    if (rc == 0)
        rc = pvs_gs_random(a->server_challenge, sizeof(a->server_challenge));
    struct pvs_gs_span parts[] = {
        { challenge, sizeof(challenge) }, { sig, sig_len },
        { a->server_secret, sizeof(a->server_secret) },
    };
    if (rc == 0)
        rc = pvs_gs_sha256(parts, 3, plain);
    memcpy(plain + HASH_BYTES, a->server_challenge, CHALLENGE_BYTES);
    if (rc == 0)
        rc = pvs_gs_aes128_ecb(a->key, true, plain, plain, sizeof(plain));
    if (rc)
        return fail(p, "a cryptographic operation failed", xml, cap);
    next_step(p, WANT_RESPONSE);
    return paired_with("challengeresponse", plain, sizeof(plain), xml, cap);
}

static int serverchallengeresp(struct pvs_gs_pairing *p, const char *hex, char *xml,
                               size_t cap)
{
    struct attempt *a = &p->a;
    if (!hex_exact(hex, a->client_hash, sizeof(a->client_hash)))
        return fail(p, "the challenge response is not 64 hex digits", xml, cap);
    if (pvs_gs_aes128_ecb(a->key, false, a->client_hash, a->client_hash, HASH_BYTES) != 0)
        return fail(p, "a cryptographic operation failed", xml, cap);
    uint8_t secret[SECRET_BYTES + PVS_GS_SIG_MAX];
    memcpy(secret, a->server_secret, SECRET_BYTES);
    int sig_len = pvs_gs_host_sign(p->host, a->server_secret, SECRET_BYTES,
                                   secret + SECRET_BYTES, PVS_GS_SIG_MAX);
    if (sig_len <= 0)
        return fail(p, "cannot sign with the host key", xml, cap);
    next_step(p, WANT_SECRET);
    return paired_with("pairingsecret", secret, SECRET_BYTES + (size_t)sig_len, xml, cap);
}

static int clientpairingsecret(struct pvs_gs_pairing *p, const char *hex, char *xml,
                               size_t cap)
{
    struct attempt *a = &p->a;
    uint8_t secret[SECRET_BYTES + PVS_GS_SIG_MAX];
    size_t n = hex ? strlen(hex) : 0;
    int len = n <= 2 * sizeof(secret) ? pvs_gs_hex_decode(hex, n, secret, sizeof(secret)) : -1;
    if (len <= SECRET_BYTES)
        return fail(p, "the client pairing secret is not hex of 17 to 528 bytes", xml, cap);
    size_t sig_len;
    const uint8_t *sig = pvs_gs_cert_signature(a->client_cert, &sig_len);
    struct pvs_gs_span parts[] = {
        { a->server_challenge, CHALLENGE_BYTES }, { sig, sig_len }, { secret, SECRET_BYTES },
    };
    uint8_t expected[HASH_BYTES];
    if (pvs_gs_sha256(parts, 3, expected) != 0)
        return fail(p, "cannot hash", xml, cap);
    if (!pvs_gs_equal(expected, a->client_hash, HASH_BYTES))
        return fail(p, "the PIN entered on the host is not the one the client used", xml, cap);
    if (pvs_gs_cert_verify(a->client_cert, secret, SECRET_BYTES, secret + SECRET_BYTES,
                           (size_t)len - SECRET_BYTES) != 0)
        return fail(p, "the client's signature does not match its certificate", xml, cap);
    next_step(p, WANT_PAIRCHALLENGE);
    return paired_with(NULL, NULL, 0, xml, cap);
}

/* Step 5 from the attempt's client: the TLS certificate must be the one it
 * sent in step 1. Then it is stored. */
static int pairchallenge(struct pvs_gs_pairing *p, const uint8_t *der, size_t der_len,
                         char *xml, size_t cap)
{
    struct attempt *a = &p->a;
    uint8_t fp[PVS_GS_SHA256_BYTES];
    struct pvs_gs_span s = { der, der_len };
    if (!der || der_len == 0 || pvs_gs_sha256(&s, 1, fp) != 0 ||
        !pvs_gs_equal(fp, a->client_fp, sizeof(fp)))
        return fail(p, "its TLS certificate is not the one it paired with", xml, cap);
    char name[PVS_PEER_NAME_MAX + 1];
    int64_t now = pvs_wall_time_us() / 1000000;
    int rc = pvs_gs_clients_add(p->clients_path, a->devicename, fp, now, name);
    if (rc)
        return fail(p, "cannot write the paired-client store (see above)", xml, cap);
    PVS_LOG_I("paired with Moonlight client %s", name);
    reset(p);
    return paired_with(NULL, NULL, 0, xml, cap);
}

/* Step 5 from a client with no attempt: says whether it is paired. */
static int pairchallenge_known(struct pvs_gs_pairing *p, const uint8_t *der, size_t len,
                               char *xml, size_t cap)
{
    if (der && pvs_gs_clients_find_cert(p->clients_path, der, len, NULL) == 0)
        return paired_with(NULL, NULL, 0, xml, cap);
    return not_paired(xml, cap);
}

static int next_steps(struct pvs_gs_pairing *p, enum request r, const struct pvs_gs_query *q,
                      const uint8_t *der, size_t der_len, bool over_tls, char *xml, size_t cap)
{
    const char *uniqueid = pvs_gs_query_get(q, "uniqueid");
    expire(p);
    bool mine = p->a.step != IDLE && strcmp(p->a.uniqueid, uniqueid) == 0;
    if (!mine) {
        if (r == REQ_PAIRCHALLENGE && over_tls)
            return pairchallenge_known(p, der, der_len, xml, cap);
        /* Not the pairing client's: leave its attempt alone. */
        return not_paired(xml, cap);
    }
    static const enum step wanted[] = {
        [REQ_CLIENTCHALLENGE] = WANT_CHALLENGE,
        [REQ_SERVERCHALLENGERESP] = WANT_RESPONSE,
        [REQ_CLIENTPAIRINGSECRET] = WANT_SECRET,
        [REQ_PAIRCHALLENGE] = WANT_PAIRCHALLENGE,
    };
    if (p->a.step != wanted[r])
        return fail(p, "a step came out of order", xml, cap);
    switch (r) {
    case REQ_CLIENTCHALLENGE:
        return clientchallenge(p, pvs_gs_query_get(q, "clientchallenge"), xml, cap);
    case REQ_SERVERCHALLENGERESP:
        return serverchallengeresp(p, pvs_gs_query_get(q, "serverchallengeresp"), xml, cap);
    case REQ_CLIENTPAIRINGSECRET:
        return clientpairingsecret(p, pvs_gs_query_get(q, "clientpairingsecret"), xml, cap);
    default:
        if (!over_tls)
            return fail(p, "the last step came over plain HTTP, not HTTPS", xml, cap);
        return pairchallenge(p, der, der_len, xml, cap);
    }
}

/* ---- the API -------------------------------------------------------------------------- */

int pvs_gs_pairing_handle(struct pvs_gs_pairing *p, const struct pvs_gs_query *q,
                          const uint8_t *peer_cert_der, size_t peer_len, bool over_tls,
                          char *xml_out, size_t cap)
{
    if (!p || !q || !xml_out)
        return PVS_EINVAL;
    if (!uniqueid_ok(pvs_gs_query_get(q, "uniqueid"))) {
        PVS_LOG_D("refused a Moonlight pairing request without a valid uniqueid");
        return not_paired(xml_out, cap);
    }
    enum request r = classify(q);
    if (r == REQ_GETSERVERCERT)
        return getservercert(p, q, xml_out, cap);
    pvs_mutex_lock(&p->lock);
    int rc;
    if (r == REQ_BAD) {
        /* A malformed step from the pairing client ends its attempt. */
        if (p->a.step != IDLE && strcmp(p->a.uniqueid, pvs_gs_query_get(q, "uniqueid")) == 0)
            rc = fail(p, "a malformed request", xml_out, cap);
        else
            rc = not_paired(xml_out, cap);
    } else {
        rc = next_steps(p, r, q, peer_cert_der, peer_len, over_tls, xml_out, cap);
    }
    pvs_mutex_unlock(&p->lock);
    return rc;
}

int pvs_gs_pairing_unpair(struct pvs_gs_pairing *p, const struct pvs_gs_query *q,
                          const uint8_t *peer_cert_der, size_t peer_len, bool over_tls,
                          char *xml_out, size_t cap)
{
    if (!p || !q || !xml_out)
        return PVS_EINVAL;
    const char *uniqueid = pvs_gs_query_get(q, "uniqueid");
    struct pvs_peer client;
    if (over_tls && pvs_gs_clients_find_cert(p->clients_path, peer_cert_der, peer_len,
                                             &client) == 0) {
        if (pvs_gs_clients_remove(p->clients_path, client.name) == 0)
            PVS_LOG_I("unpaired Moonlight client %s at its request", client.name);
    }
    pvs_mutex_lock(&p->lock);
    if (p->a.step != IDLE && uniqueid && strcmp(p->a.uniqueid, uniqueid) == 0) {
        PVS_LOG_I("the pairing attempt of Moonlight client %s ended at its request",
                  p->a.name);
        reset(p);
    }
    pvs_mutex_unlock(&p->lock);
    struct reply r = { 200, NULL, -1, NULL, NULL, 0 };
    return write_reply(&r, xml_out, cap);
}

int pvs_gs_pairing_set_pin(struct pvs_gs_pairing *p, const char *pin)
{
    if (!p || !pin || strlen(pin) != PVS_GS_PIN_DIGITS)
        return PVS_EINVAL;
    for (int i = 0; i < PVS_GS_PIN_DIGITS; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return PVS_EINVAL;
    int rc = PVS_ENOENT;
    pvs_mutex_lock(&p->lock);
    if (p->a.step == WAIT_PIN && !p->a.pin_set) {
        memcpy(p->a.pin, pin, PVS_GS_PIN_DIGITS);
        p->a.pin_set = true;
        pvs_cond_broadcast(&p->cond);
        rc = 0;
    }
    pvs_mutex_unlock(&p->lock);
    return rc;
}

bool pvs_gs_pairing_waiting(struct pvs_gs_pairing *p, char *name, size_t cap)
{
    if (!p)
        return false;
    pvs_mutex_lock(&p->lock);
    bool waiting = p->a.step == WAIT_PIN && !p->a.pin_set;
    if (waiting && name && cap)
        snprintf(name, cap, "%s", p->a.name);
    pvs_mutex_unlock(&p->lock);
    return waiting;
}

void pvs_gs_pairing_stop(struct pvs_gs_pairing *p)
{
    if (!p)
        return;
    pvs_mutex_lock(&p->lock);
    p->stopped = true;
    if (p->a.step != IDLE)
        reset(p);
    pvs_cond_broadcast(&p->cond);
    pvs_mutex_unlock(&p->lock);
}

int pvs_gs_pairing_open(struct pvs_gs_pairing **out, const struct pvs_gs_pairing_opts *o)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!o || !o->host || !o->clients_path || !*o->clients_path || o->pin_timeout_ms < 0)
        return PVS_EINVAL;
    struct pvs_gs_pairing *p = calloc(1, sizeof(*p));
    if (!p)
        return PVS_ENOMEM;
    p->clients_path = strdup(o->clients_path);
    if (!p->clients_path) {
        free(p);
        return PVS_ENOMEM;
    }
    p->host = o->host;
    p->pin_timeout_ms = o->pin_timeout_ms;
    p->on_waiting = o->on_waiting;
    p->user = o->user;
    int rc = pvs_mutex_init(&p->lock);
    if (rc == 0) {
        rc = pvs_cond_init(&p->cond);
        if (rc)
            pvs_mutex_destroy(&p->lock);
    }
    if (rc) {
        free(p->clients_path);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void pvs_gs_pairing_close(struct pvs_gs_pairing **pp)
{
    if (!pp || !*pp)
        return;
    struct pvs_gs_pairing *p = *pp;
    pvs_gs_cert_close(&p->a.client_cert);
    pvs_gs_wipe(&p->a, sizeof(p->a));
    pvs_cond_destroy(&p->cond);
    pvs_mutex_destroy(&p->lock);
    free(p->clients_path);
    free(p);
    *pp = NULL;
}
