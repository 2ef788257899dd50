/* The GameStream HTTP(S) server (gamestream/gs_http.h), over real sockets
 * on loopback with real TLS (Mbed TLS on both ends, certificates made
 * here): the head scanner and parser on their own (line ends, limits,
 * percent-decoding, what is malformed); a plain GET whose handler sees the
 * decoded path and query, the peer and local addresses; a binary body
 * comes back byte for byte; GET over TLS without a client certificate
 * (the handler sees none) and with one (the handler sees its DER);
 * malformed requests answered 400, a POST 405, an over-long request line
 * 414, too many headers 431, all counted; a client that sends nothing is
 * dropped after the timeout; max_connections busy handlers make the next
 * connection get 503, and all finish once released; close() while a
 * handler blocks wakes it through the wake callback and returns. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "gamestream/gs_http.h"
#include "tests/unit/test.h"

/* ---- certificates -------------------------------------------------------------- */

static mbedtls_entropy_context g_entropy;
static mbedtls_ctr_drbg_context g_drbg;

struct cert {
    char cert_pem[4096];
    char key_pem[4096];
    uint8_t der[2048];
    size_t der_len;
};

/* A self-signed P-256 certificate, as a GameStream client makes its own
 * (Moonlight's are RSA; the server does not care which). */
static bool make_cert(struct cert *out, const char *cn)
{
    mbedtls_pk_context key;
    mbedtls_x509write_cert w;
    mbedtls_pk_init(&key);
    mbedtls_x509write_crt_init(&w);
    bool ok = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0 &&
              mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                  mbedtls_ctr_drbg_random, &g_drbg) == 0;
    char name[64];
    snprintf(name, sizeof(name), "CN=%s", cn);
    if (ok) {
        mbedtls_x509write_crt_set_subject_key(&w, &key);
        mbedtls_x509write_crt_set_issuer_key(&w, &key);
        mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
        ok = mbedtls_x509write_crt_set_subject_name(&w, name) == 0 &&
             mbedtls_x509write_crt_set_issuer_name(&w, name) == 0 &&
             mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20491231235959") == 0;
    }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    unsigned char serial[1] = { 1 };
    ok = ok && mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial)) == 0;
#else
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    ok = ok && mbedtls_mpi_lset(&serial, 1) == 0 &&
         mbedtls_x509write_crt_set_serial(&w, &serial) == 0;
    mbedtls_mpi_free(&serial);
#endif
    ok = ok && mbedtls_x509write_crt_pem(&w, (unsigned char *)out->cert_pem,
                                         sizeof(out->cert_pem), mbedtls_ctr_drbg_random,
                                         &g_drbg) == 0;
    ok = ok && mbedtls_pk_write_key_pem(&key, (unsigned char *)out->key_pem,
                                        sizeof(out->key_pem)) == 0;
    if (ok) {
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        ok = mbedtls_x509_crt_parse(&crt, (const unsigned char *)out->cert_pem,
                                    strlen(out->cert_pem) + 1) == 0 &&
             crt.raw.len <= sizeof(out->der);
        if (ok) {
            memcpy(out->der, crt.raw.p, crt.raw.len);
            out->der_len = crt.raw.len;
        }
        mbedtls_x509_crt_free(&crt);
    }
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&key);
    return ok;
}

/* ---- the handler ----------------------------------------------------------------- */

static pvs_mutex g_lock;
static pvs_cond g_cond;
static bool g_release;           /* lets blocked handlers go */
static int g_blocked;            /* handlers waiting in /block */
static bool g_saw_stopping;      /* a blocked handler saw pvs_gs_http_stopping */
static atomic_int g_wakes;

static const uint8_t g_image[] = { 0x89, 'P', 'N', 'G', 0, 0, 0, 13, 0xff, 0, 1, 2 };

/* Answers with what it was given: "path|tls|cert=N|a=...|b=...|peer|local";
 * /image with binary bytes; /block waits until released or stopping. */
static void handler(void *opaque, const struct pvs_gs_http_request *req,
                    struct pvs_gs_http_response *resp)
{
    if (strcmp(req->path, "/image") == 0) {
        pvs_gs_http_reply(resp, 200, "image/png", g_image, sizeof(g_image));
        return;
    }
    if (strcmp(req->path, "/block") == 0) {
        pvs_mutex_lock(&g_lock);
        g_blocked++;
        pvs_cond_broadcast(&g_cond);
        while (!g_release && !pvs_gs_http_stopping(req->server))
            pvs_cond_wait_until(&g_cond, &g_lock, -1);
        if (pvs_gs_http_stopping(req->server))
            g_saw_stopping = true;
        g_blocked--;
        pvs_mutex_unlock(&g_lock);
        pvs_gs_http_reply(resp, 200, "text/plain", "released", 8);
        return;
    }
    char peer[64], local[64], body[1024];
    pvs_addr_format(&req->peer, peer, sizeof(peer));
    pvs_addr_format(&req->local, local, sizeof(local));
    const char *a = NULL, *b = NULL;
    for (int i = 0; i < req->query->count; i++) {
        if (!a && strcmp(req->query->params[i].name, "a") == 0)
            a = req->query->params[i].value;
        if (!b && strcmp(req->query->params[i].name, "b") == 0)
            b = req->query->params[i].value;
    }
    int n = snprintf(body, sizeof(body), "%s|%d|cert=%zu|a=%s|b=%s|n=%d|%s|%s", req->path,
                     req->tls, req->peer_cert ? req->peer_cert_len : 0, a ? a : "(none)",
                     b ? b : "(none)", req->query->count, peer, local);
    pvs_gs_http_reply(resp, strcmp(req->path, "/missing") == 0 ? 404 : 200, "application/xml",
                      body, (size_t)n);
    /* the DER itself, for the TLS test to compare */
    if (req->peer_cert && req->peer_cert_len <= 2048 && opaque) {
        memcpy(opaque, req->peer_cert, req->peer_cert_len);
    }
}

static void wake(void *opaque)
{
    atomic_fetch_add(&g_wakes, 1);
    pvs_mutex_lock(&g_lock);
    pvs_cond_broadcast(&g_cond);
    pvs_mutex_unlock(&g_lock);
}

/* ---- clients ---------------------------------------------------------------------- */

struct reply {
    int status;
    char head[1024];
    uint8_t body[4096];
    size_t body_len;
    bool closed; /* the server closed after answering */
};

/* Splits a raw answer into status, head and body. */
static void split_reply(const char *raw, size_t len, struct reply *r)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (memcmp(raw + i, "\r\n\r\n", 4) == 0) {
            end = raw + i;
            break;
        }
    }
    if (!end || sscanf(raw, "HTTP/1.1 %d", &r->status) != 1)
        return;
    size_t hl = (size_t)(end - raw);
    snprintf(r->head, sizeof(r->head), "%.*s", (int)hl, raw);
    r->body_len = len - hl - 4;
    if (r->body_len > sizeof(r->body))
        r->body_len = sizeof(r->body);
    memcpy(r->body, end + 4, r->body_len);
}

static pvs_socket connect_to(const char *host, uint16_t port)
{
    struct pvs_addr a;
    pvs_socket s = PVS_INVALID_SOCKET;
    if (pvs_addr_resolve(&a, host, port) != 0 || pvs_tcp_connect(&s, &a, 2000) != 0)
        return PVS_INVALID_SOCKET;
    return s;
}

static bool send_all(pvs_socket s, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        int n = pvs_tcp_send(s, p, len, 5000);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Sends `req` as is over plain TCP and reads the answer to the end. */
static struct reply plain_request(const char *host, uint16_t port, const char *req, size_t len)
{
    struct reply r = { 0 };
    static char raw[65536];
    size_t got = 0;
    pvs_socket s = connect_to(host, port);
    if (s == PVS_INVALID_SOCKET)
        return r;
    send_all(s, req, len);
    for (;;) {
        int n = pvs_tcp_recv(s, raw + got, sizeof(raw) - got, 5000);
        if (n <= 0) {
            r.closed = n == 0;
            break;
        }
        got += (size_t)n;
    }
    pvs_socket_close(&s);
    split_reply(raw, got, &r);
    return r;
}

static struct reply plain_get(uint16_t port, const char *target)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    return plain_request("127.0.0.1", port, req, (size_t)n);
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    int n = pvs_tcp_send(*(pvs_socket *)ctx, buf, len, 5000);
    return n > 0 ? n : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    int n = pvs_tcp_recv(*(pvs_socket *)ctx, buf, len, 5000);
    return n >= 0 ? n : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* A GET over TLS, showing `client` as certificate when not NULL. Returns
 * the reply (status 0 when the handshake failed). */
static struct reply tls_get(uint16_t port, const char *target, const struct cert *client)
{
    struct reply r = { 0 };
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
    pvs_socket s = connect_to("127.0.0.1", port);
    bool ok = s != PVS_INVALID_SOCKET &&
              mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
                                          MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT) == 0;
    if (ok) {
        /* GameStream clients do not check the host's certificate by a CA
         * either: they pin it at pairing. */
        mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
        mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &g_drbg);
    }
    if (ok && client) {
        ok = mbedtls_x509_crt_parse(&crt, (const unsigned char *)client->cert_pem,
                                    strlen(client->cert_pem) + 1) == 0 &&
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
             mbedtls_pk_parse_key(&key, (const unsigned char *)client->key_pem,
                                  strlen(client->key_pem) + 1, NULL, 0,
                                  mbedtls_ctr_drbg_random, &g_drbg) == 0 &&
#else
             mbedtls_pk_parse_key(&key, (const unsigned char *)client->key_pem,
                                  strlen(client->key_pem) + 1, NULL, 0) == 0 &&
#endif
             mbedtls_ssl_conf_own_cert(&conf, &crt, &key) == 0;
    }
    ok = ok && mbedtls_ssl_setup(&ssl, &conf) == 0;
    if (ok) {
        mbedtls_ssl_set_bio(&ssl, &s, bio_send, bio_recv, NULL);
        ok = mbedtls_ssl_handshake(&ssl) == 0;
    }
    char req[512];
    int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    ok = ok && mbedtls_ssl_write(&ssl, (const unsigned char *)req, (size_t)len) == len;
    static char raw[8192];
    size_t got = 0;
    while (ok && got < sizeof(raw)) {
        int n = mbedtls_ssl_read(&ssl, (unsigned char *)raw + got, sizeof(raw) - got);
        if (n <= 0) {
            r.closed = n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY;
            break;
        }
        got += (size_t)n;
    }
    if (ok)
        split_reply(raw, got, &r);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&crt);
    mbedtls_pk_free(&key);
    pvs_socket_close(&s);
    return r;
}

static bool body_is(const struct reply *r, const char *want)
{
    bool yes = r->body_len == strlen(want) && memcmp(r->body, want, r->body_len) == 0;
    if (!yes)
        fprintf(stderr, "  body \"%.*s\", wanted \"%s\"\n", (int)r->body_len,
                (const char *)r->body, want);
    return yes;
}

static bool body_has(const struct reply *r, const char *want)
{
    char text[4097];
    snprintf(text, sizeof(text), "%.*s", (int)r->body_len, (const char *)r->body);
    bool yes = strstr(text, want) != NULL;
    if (!yes)
        fprintf(stderr, "  body \"%s\" lacks \"%s\"\n", text, want);
    return yes;
}

/* ---- the parser alone ---------------------------------------------------------------- */

static void test_head_length(void)
{
    bool line = false;
    CHECK_INT(pvs_gs_http_head_length("GET / HTTP/1.1\r\n\r\n", 18, NULL), ==, 18);
    CHECK_INT(pvs_gs_http_head_length("GET / HTTP/1.1\n\nextra", 21, NULL), ==, 16);
    CHECK_INT(pvs_gs_http_head_length("GET / HTTP/1.1\r\nHost: a\r\n", 25, NULL), ==, 0);
    CHECK_INT(pvs_gs_http_head_length("", 0, NULL), ==, 0);
    CHECK_INT(pvs_gs_http_head_length("\x16\x03\x01", 3, NULL), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_http_head_length("GET /\xc3\xa9", 7, NULL), ==, PVS_EBADDATA);

    static char big[PVS_GS_HTTP_HEAD_MAX + 2];
    memset(big, 'a', sizeof(big));
    CHECK_INT(pvs_gs_http_head_length(big, PVS_GS_HTTP_LINE_MAX, &line), ==, 0);
    CHECK_INT(pvs_gs_http_head_length(big, PVS_GS_HTTP_LINE_MAX + 1, &line), ==, PVS_ERANGE);
    CHECK(line);
    /* a header line over its limit, and too many header lines */
    memcpy(big, "GET / HTTP/1.1\r\n", 16);
    CHECK_INT(pvs_gs_http_head_length(big, 16 + PVS_GS_HTTP_HEADER_MAX + 1, &line), ==,
              PVS_ERANGE);
    CHECK(!line);
    size_t n = 16;
    for (int i = 0; i <= PVS_GS_HTTP_HEADERS_MAX; i++) {
        memcpy(big + n, "X: y\r\n", 6);
        n += 6;
    }
    CHECK_INT(pvs_gs_http_head_length(big, n - 6, NULL), ==, 0); /* exactly the limit */
    CHECK_INT(pvs_gs_http_head_length(big, n, NULL), ==, PVS_ERANGE);
}

static int parse(const char *text, struct pvs_gs_http_parsed *p)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s", text);
    return pvs_gs_http_parse(buf, strlen(buf), p);
}

static void test_parse(void)
{
    struct pvs_gs_http_parsed p;
    CHECK_INT(parse("GET /serverinfo?uniqueid=0123456789ABCDEF&uuid=x%2Dy HTTP/1.1\r\n"
                    "Host: 127.0.0.1:47989\r\nAccept: */*\r\n\r\n", &p), ==, 0);
    CHECK(strcmp(p.path, "/serverinfo") == 0);
    CHECK_INT(p.query.count, ==, 2);
    CHECK_INT(p.headers, ==, 2);
    CHECK(p.query.count == 2 && strcmp(p.query.params[0].name, "uniqueid") == 0 &&
          strcmp(p.query.params[0].value, "0123456789ABCDEF") == 0 &&
          strcmp(p.query.params[1].value, "x-y") == 0);

    CHECK_INT(parse("GET /a%20b?x=1+2%2B3&&flag&e=&=&z=%41 HTTP/1.0\n\n", &p), ==,
              PVS_EBADDATA); /* "=": an empty name */
    CHECK_INT(parse("GET /a%20b?x=1+2%2B3&&flag&e=&z=%41 HTTP/1.0\n\n", &p), ==, 0);
    CHECK(strcmp(p.path, "/a b") == 0);
    CHECK_INT(p.query.count, ==, 4);
    if (p.query.count == 4) {
        CHECK(strcmp(p.query.params[0].value, "1 2+3") == 0);
        CHECK(strcmp(p.query.params[1].name, "flag") == 0 && !*p.query.params[1].value);
        CHECK(strcmp(p.query.params[2].name, "e") == 0 && !*p.query.params[2].value);
        CHECK(strcmp(p.query.params[3].value, "A") == 0);
    }
    CHECK_INT(parse("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &p), ==, 0);
    CHECK_INT(parse("POST /pair HTTP/1.1\r\n\r\n", &p), ==, PVS_ENOTSUP);

    static const char *bad[] = {
        "GET /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
        "GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /x HTTP/2.0\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET  /x HTTP/1.1\r\n\r\n",
        "GET /x\r\n\r\n",
        "GET /x HTTP/1.1 \r\n\r\n",
        "G(T /x HTTP/1.1\r\n\r\n",
        "GET /%zz HTTP/1.1\r\n\r\n",
        "GET /%4 HTTP/1.1\r\n\r\n",
        "GET /?a=%00 HTTP/1.1\r\n\r\n",
        "GET /#frag HTTP/1.1\r\n\r\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
        "GET /x HTTP/1.1\r\n folded\r\n\r\n",
        "GET /x HTTP/1.1\r\nName : v\r\n\r\n",
        "GET /x HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET /x HTTP/1.1\r\nA: b\rc\r\n\r\n",
        "GET /x HTTP/1.1\r\nA: b\r\n",
        "\r\n",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i], &p);
        if (rc != PVS_EBADDATA)
            fprintf(stderr, "  accepted bad request %zu: \"%s\" (%d)\n", i, bad[i], rc);
        CHECK_INT(rc, ==, PVS_EBADDATA);
    }
    /* 32 parameters pass, 33 do not */
    char q[512] = "GET /?";
    for (int i = 0; i < PVS_GS_QUERY_MAX; i++)
        snprintf(q + strlen(q), sizeof(q) - strlen(q), "p%d=%d&", i, i);
    char one_more[600];
    snprintf(one_more, sizeof(one_more), "%sz=1 HTTP/1.1\r\n\r\n", q);
    strcat(q, " HTTP/1.1\r\n\r\n");
    CHECK_INT(parse(q, &p), ==, 0);
    CHECK_INT(p.query.count, ==, PVS_GS_QUERY_MAX);
    CHECK_INT(parse(one_more, &p), ==, PVS_EBADDATA);
    /* a NUL inside the head */
    char nul[] = "GET /a\0b HTTP/1.1\r\n\r\n";
    CHECK_INT(pvs_gs_http_parse(nul, sizeof(nul) - 1, &p), ==, PVS_EBADDATA);
}

/* ---- over sockets ----------------------------------------------------------------------- */

static struct cert g_server, g_client;

static int open_server(struct pvs_gs_http **h, int max_conn, int timeout_ms, void *opaque)
{
    struct pvs_gs_http_opts o;
    pvs_gs_http_default_opts(&o);
    o.http_port = 0;
    o.https_port = 0;
    o.cert_pem = g_server.cert_pem;
    o.key_pem = g_server.key_pem;
    o.handler = handler;
    o.opaque = opaque;
    o.wake = wake;
    if (max_conn)
        o.max_connections = max_conn;
    if (timeout_ms)
        o.timeout_ms = timeout_ms;
    return pvs_gs_http_open(h, &o);
}

static void test_plain_get(void)
{
    struct pvs_gs_http *h = NULL;
    CHECK_INT(open_server(&h, 0, 0, NULL), ==, 0);
    if (!h)
        return;
    uint16_t port = pvs_gs_http_port(h, false);
    CHECK(port != 0 && pvs_gs_http_port(h, true) != 0 && port != pvs_gs_http_port(h, true));

    struct reply r = plain_get(port, "/serverinfo?a=hello%20world&b=%C3%A9+x&uuid=1");
    CHECK_INT(r.status, ==, 200);
    CHECK(r.closed);
    CHECK(strstr(r.head, "Content-Type: application/xml") != NULL);
    CHECK(strstr(r.head, "Connection: close") != NULL);
    char want[256];
    snprintf(want, sizeof(want), "/serverinfo|0|cert=0|a=hello world|b=\xc3\xa9 x|n=3|");
    CHECK(body_has(&r, want));
    snprintf(want, sizeof(want), "|127.0.0.1:%u", port);
    CHECK(body_has(&r, want)); /* the local address, as IPv4 */
    CHECK(body_has(&r, "|127.0.0.1:")); /* the peer, as IPv4 */

    r = plain_get(port, "/missing");
    CHECK_INT(r.status, ==, 404);

    r = plain_get(port, "/image");
    CHECK_INT(r.status, ==, 200);
    CHECK(strstr(r.head, "Content-Type: image/png") != NULL);
    CHECK(strstr(r.head, "Content-Length: 12") != NULL);
    CHECK(r.body_len == sizeof(g_image) && memcmp(r.body, g_image, sizeof(g_image)) == 0);

    /* IPv6 where the system has it */
    struct pvs_addr six;
    pvs_socket s6 = PVS_INVALID_SOCKET;
    if (pvs_addr_resolve(&six, "::1", port) == 0 && pvs_tcp_connect(&s6, &six, 1000) == 0) {
        pvs_socket_close(&s6);
        static const char req[] = "GET /v6 HTTP/1.1\r\n\r\n";
        r = plain_request("::1", port, req, sizeof(req) - 1);
        CHECK_INT(r.status, ==, 200);
        CHECK(body_has(&r, "|[::1]:"));
    } else {
        fprintf(stderr, "  no IPv6 loopback here: the IPv6 request is not checked\n");
    }

    struct pvs_gs_http_stats st;
    pvs_gs_http_get_stats(h, &st);
    CHECK(st.requests >= 3);
    CHECK_INT(st.bad_requests, ==, 0);
    pvs_gs_http_close(&h);
    CHECK(h == NULL);
}

static void test_tls(void)
{
    uint8_t seen[2048] = { 0 };
    struct pvs_gs_http *h = NULL;
    CHECK_INT(open_server(&h, 0, 0, seen), ==, 0);
    if (!h)
        return;
    uint16_t port = pvs_gs_http_port(h, true);

    struct reply r = tls_get(port, "/applist?a=1", NULL);
    CHECK_INT(r.status, ==, 200);
    CHECK(body_has(&r, "/applist|1|cert=0|a=1|"));

    r = tls_get(port, "/applist?a=2", &g_client);
    CHECK_INT(r.status, ==, 200);
    char want[64];
    snprintf(want, sizeof(want), "/applist|1|cert=%zu|a=2|", g_client.der_len);
    CHECK(body_has(&r, want));
    CHECK(memcmp(seen, g_client.der, g_client.der_len) == 0);
    CHECK(r.closed);

    /* plain HTTP on the TLS port is not TLS: the handshake fails */
    r = plain_get(port, "/serverinfo");
    CHECK_INT(r.status, ==, 0);
    struct pvs_gs_http_stats st;
    pvs_gs_http_get_stats(h, &st);
    CHECK_INT(st.tls_failed, ==, 1);
    CHECK_INT(st.requests, ==, 2);
    pvs_gs_http_close(&h);
}

static void test_bad_requests(void)
{
    struct pvs_gs_http *h = NULL;
    CHECK_INT(open_server(&h, 0, 0, NULL), ==, 0);
    if (!h)
        return;
    uint16_t port = pvs_gs_http_port(h, false);
#define REQ(s) { s, sizeof(s) - 1 }
    static const struct { const char *text; size_t len; } bad[] = {
        REQ("GET /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"),
        REQ("BREW /x HTTP/1.1\r\n\r\n"), /* 405 */
        REQ("GET /%zz HTTP/1.1\r\n\r\n"),
        REQ("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), /* a TLS hello, no line end */
        REQ("GET /x HTTP/1.1\r\n folded\r\n\r\n"),
    };
#undef REQ
    int statuses[] = { 400, 405, 400, 400, 400 };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct reply r = plain_request("127.0.0.1", port, bad[i].text, bad[i].len);
        CHECK_INT(r.status, ==, statuses[i]);
    }
    /* a request line over the limit: 414, even while the client still sends */
    size_t len = PVS_GS_HTTP_LINE_MAX + 4096;
    char *big = malloc(len);
    if (big) {
        memset(big, 'a', len);
        memcpy(big, "GET /", 5);
        struct reply r = plain_request("127.0.0.1", port, big, len);
        CHECK_INT(r.status, ==, 414);
        /* too many header lines: 431 */
        size_t n = (size_t)snprintf(big, len, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < PVS_GS_HTTP_HEADERS_MAX + 1; i++)
            n += (size_t)snprintf(big + n, len - n, "X-%d: y\r\n", i);
        n += (size_t)snprintf(big + n, len - n, "\r\n");
        r = plain_request("127.0.0.1", port, big, n);
        CHECK_INT(r.status, ==, 431);
        free(big);
    }
    struct pvs_gs_http_stats st;
    pvs_gs_http_get_stats(h, &st);
    CHECK_INT(st.bad_requests, ==, 7);
    CHECK_INT(st.requests, ==, 0);
    /* still serving */
    struct reply r = plain_get(port, "/after");
    CHECK_INT(r.status, ==, 200);
    pvs_gs_http_close(&h);
}

static void test_timeout(void)
{
    struct pvs_gs_http *h = NULL;
    CHECK_INT(open_server(&h, 0, 300, NULL), ==, 0);
    if (!h)
        return;
    pvs_socket s = connect_to("127.0.0.1", pvs_gs_http_port(h, false));
    CHECK(s != PVS_INVALID_SOCKET);
    char part[] = "GET /slow HTT";
    send_all(s, part, sizeof(part) - 1);
    char buf[64];
    /* the server gives up at 300 ms and closes: EOF, well before 5 s */
    CHECK_INT(pvs_tcp_recv(s, buf, sizeof(buf), 5000), ==, 0);
    pvs_socket_close(&s);
    struct pvs_gs_http_stats st;
    pvs_gs_http_get_stats(h, &st);
    CHECK_INT(st.dropped, ==, 1);
    CHECK_INT(st.requests, ==, 0);
    pvs_gs_http_close(&h);
}

struct blocked_client {
    uint16_t port;
    struct reply r;
};

static int blocked_client_main(void *arg)
{
    struct blocked_client *b = arg;
    b->r = plain_get(b->port, "/block");
    return 0;
}

static bool wait_blocked(int n)
{
    pvs_mutex_lock(&g_lock);
    int64_t deadline = pvs_time_ns() + 10 * INT64_C(1000000000);
    while (g_blocked < n && pvs_time_ns() < deadline)
        pvs_cond_wait_until(&g_cond, &g_lock, deadline);
    bool ok = g_blocked == n;
    pvs_mutex_unlock(&g_lock);
    return ok;
}

static void test_connection_limit(void)
{
    enum { LIMIT = 4 };
    struct pvs_gs_http *h = NULL;
    CHECK_INT(open_server(&h, LIMIT, 0, NULL), ==, 0);
    if (!h)
        return;
    uint16_t port = pvs_gs_http_port(h, false);
    g_release = false;
    struct blocked_client bc[LIMIT];
    struct pvs_thread *th[LIMIT] = { 0 };
    for (int i = 0; i < LIMIT; i++) {
        bc[i] = (struct blocked_client){ .port = port };
        pvs_thread_create(&th[i], blocked_client_main, &bc[i], "client");
    }
    CHECK(wait_blocked(LIMIT));
    /* every slot is busy: the next one is refused at once */
    struct reply r = plain_get(port, "/serverinfo");
    CHECK_INT(r.status, ==, 503);
    pvs_mutex_lock(&g_lock);
    g_release = true;
    pvs_cond_broadcast(&g_cond);
    pvs_mutex_unlock(&g_lock);
    for (int i = 0; i < LIMIT; i++) {
        pvs_thread_join(&th[i], NULL);
        CHECK_INT(bc[i].r.status, ==, 200);
        CHECK(body_is(&bc[i].r, "released"));
    }
    /* slots are free again: many more, one after another */
    int ok = 0;
    for (int i = 0; i < 40; i++)
        ok += plain_get(port, "/serverinfo").status == 200;
    CHECK_INT(ok, ==, 40);
    struct pvs_gs_http_stats st;
    pvs_gs_http_get_stats(h, &st);
    CHECK_INT(st.refused, ==, 1);
    CHECK_INT(st.requests, ==, LIMIT + 40);
    pvs_gs_http_close(&h);
}

static void test_close_while_blocked(void)
{
    struct pvs_gs_http *h = NULL;
    CHECK_INT(open_server(&h, 0, 0, NULL), ==, 0);
    if (!h)
        return;
    g_release = false;
    g_saw_stopping = false;
    atomic_store(&g_wakes, 0);
    struct blocked_client bc = { .port = pvs_gs_http_port(h, false) };
    struct pvs_thread *th = NULL;
    pvs_thread_create(&th, blocked_client_main, &bc, "client");
    CHECK(wait_blocked(1));
    /* a second client stuck half-way through its request */
    pvs_socket idle = connect_to("127.0.0.1", bc.port);
    send_all(idle, "GET /", 5);
    pvs_gs_http_close(&h);
    CHECK(h == NULL);
    CHECK_INT(atomic_load(&g_wakes), ==, 1);
    CHECK(g_saw_stopping);
    CHECK_INT(g_blocked, ==, 0);
    pvs_thread_join(&th, NULL);
    char buf[16];
    CHECK(pvs_tcp_recv(idle, buf, sizeof(buf), 2000) <= 0); /* closed, not left hanging */
    pvs_socket_close(&idle);
}

static void test_open_errors(void)
{
    struct pvs_gs_http_opts o;
    struct pvs_gs_http *h = NULL;
    pvs_gs_http_default_opts(&o);
    CHECK_INT(o.http_port, ==, 47989);
    CHECK_INT(o.https_port, ==, 47984);
    CHECK_INT(pvs_gs_http_open(&h, &o), ==, PVS_EINVAL); /* no handler */
    o.handler = handler;
    o.http_port = 0;
    o.https_port = 0;
    CHECK_INT(pvs_gs_http_open(&h, &o), ==, PVS_ECONFIG); /* no certificate */
    o.cert_pem = g_server.cert_pem;
    o.key_pem = g_client.key_pem; /* not its key */
    CHECK_INT(pvs_gs_http_open(&h, &o), ==, PVS_ECONFIG);
    o.key_pem = "not a key";
    CHECK_INT(pvs_gs_http_open(&h, &o), ==, PVS_ECONFIG);
    CHECK(h == NULL);
    /* a port in use */
    o.key_pem = g_server.key_pem;
    struct pvs_gs_http *first = NULL;
    CHECK_INT(pvs_gs_http_open(&first, &o), ==, 0);
    o.http_port = pvs_gs_http_port(first, false);
    CHECK(pvs_gs_http_open(&h, &o) < 0);
    CHECK(h == NULL);
    /* HTTP alone */
    o.http_port = 0;
    o.https_port = -1;
    o.cert_pem = o.key_pem = NULL;
    CHECK_INT(pvs_gs_http_open(&h, &o), ==, 0);
    CHECK(pvs_gs_http_port(h, true) == 0 && pvs_gs_http_port(h, false) != 0);
    pvs_gs_http_close(&h);
    pvs_gs_http_close(&first);
    pvs_gs_http_close(NULL);
}

static void quiet_sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                       const char *msg)
{
    (void)opaque, (void)level, (void)file, (void)line, (void)msg;
}

int main(void)
{
    pvs_net_init();
    pvs_mutex_init(&g_lock);
    pvs_cond_init(&g_cond);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
    psa_crypto_init();
#endif
    mbedtls_entropy_init(&g_entropy);
    mbedtls_ctr_drbg_init(&g_drbg);
    if (mbedtls_ctr_drbg_seed(&g_drbg, mbedtls_entropy_func, &g_entropy, NULL, 0) != 0 ||
        !make_cert(&g_server, "pvstream test host") || !make_cert(&g_client, "moonlight")) {
        fprintf(stderr, "cannot make the test certificates\n");
        return 1;
    }
    RUN(test_head_length);
    RUN(test_parse);
    RUN(test_plain_get);
    RUN(test_tls);
    RUN(test_bad_requests);
    RUN(test_timeout);
    RUN(test_connection_limit);
    RUN(test_close_while_blocked);
    pvs_log_set_sink(quiet_sink, NULL); /* the errors below are wanted */
    RUN(test_open_errors);
    pvs_log_set_sink(NULL, NULL);
    mbedtls_ctr_drbg_free(&g_drbg);
    mbedtls_entropy_free(&g_entropy);
    pvs_cond_destroy(&g_cond);
    pvs_mutex_destroy(&g_lock);
    pvs_net_deinit();
    TEST_EXIT();
}
