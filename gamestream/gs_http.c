/* The HTTP(S) server under GameStream's API (gs_http.h): the request
 * parser, the listeners and their accept thread, one thread per
 * connection, and TLS through Mbed TLS.
 *
 * Why not civetweb (../shared/third-party has 1.16 for Windows): its Mbed
 * TLS backend never asks the client for a certificate nor exposes one, and
 * GameStream authenticates clients by exactly that certificate
 * (docs/design.md, "GameStream"). A GET-only server with one request per
 * connection is small enough to own.
 *
 * Every connection gets its own TLS state, keys included: the Windows build
 * of Mbed TLS has no threading support, so nothing Mbed TLS touches during
 * a handshake (the RNG, the RSA key's blinding values) may be shared
 * between threads. Parsing a key per connection costs far less than the
 * RSA signature the handshake makes with it. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_crypto.h"
#include "gamestream/gs_http.h"

#define SLICE_MS 100           /* longest wait before checking the stop flag */
#define LINGER_MS 1000         /* reading what a client still sends after the answer */
#define LINGER_BYTES (1 << 20)
#define REFUSE_WARN_NS (10 * INT64_C(1000000000))
#define DEFAULT_MAX_CONNECTIONS 16
#define DEFAULT_TIMEOUT_MS 10000

enum { PLAIN = 0, TLS = 1 };

/* ---- parsing ---------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 token characters */
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Percent-decodes s in place ('+' to a space when plus_is_space). */
static int url_decode(char *s, bool plus_is_space)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = pvs_gs_hex_digit(r[1]), lo = hi < 0 ? -1 : pvs_gs_hex_digit(r[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return PVS_EBADDATA; /* a bad escape, or an encoded NUL */
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = plus_is_space && *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
    return 0;
}

int pvs_gs_query_parse(char *s, struct pvs_gs_query *q)
{
    if (!s || !q)
        return PVS_EINVAL;
    memset(q, 0, sizeof(*q));
    for (char *p = s; p;) {
        char *amp = strchr(p, '&');
        if (amp)
            *amp = '\0';
        if (*p) {
            if (q->count == PVS_GS_QUERY_MAX)
                return PVS_EBADDATA;
            char *eq = strchr(p, '=');
            char *value = p + strlen(p);
            if (eq) {
                *eq = '\0';
                value = eq + 1;
            }
            if (!*p || url_decode(p, true) || url_decode(value, true))
                return PVS_EBADDATA;
            q->params[q->count].name = p;
            q->params[q->count].value = value;
            q->count++;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* The head scanner keeps its place, so a head arriving a byte at a time
 * costs a pass over it, not a pass per byte. */
struct head_scan {
    size_t pos, line_start;
    int lines;
    bool line_too_long;
};

static int scan_head(struct head_scan *sc, const char *buf, size_t len)
{
    while (sc->pos < len) {
        unsigned char ch = (unsigned char)buf[sc->pos++];
        bool line_end = ch == '\n';
        /* Not HTTP (a TLS hello on the plain port, binary noise): say so now
         * rather than wait for a line end that may never come. */
        if (sc->lines == 0 && (ch > 0x7e || (ch < 0x20 && ch != '\r' && ch != '\n')))
            return PVS_EBADDATA;
        size_t cur = sc->pos - sc->line_start; /* the line so far, its end included */
        if (cur > (sc->lines == 0 ? PVS_GS_HTTP_LINE_MAX : PVS_GS_HTTP_HEADER_MAX)) {
            sc->line_too_long = sc->lines == 0;
            return PVS_ERANGE;
        }
        if (sc->pos > PVS_GS_HTTP_HEAD_MAX)
            return PVS_ERANGE;
        if (!line_end)
            continue;
        if (cur == 1 || (cur == 2 && buf[sc->pos - 2] == '\r'))
            return (int)sc->pos; /* the empty line */
        if (++sc->lines > PVS_GS_HTTP_HEADERS_MAX + 1)
            return PVS_ERANGE;
        sc->line_start = sc->pos;
    }
    return 0;
}

int pvs_gs_http_head_length(const char *buf, size_t len, bool *line_too_long)
{
    struct head_scan sc = { 0 };
    int rc = buf ? scan_head(&sc, buf, len) : PVS_EINVAL;
    if (line_too_long)
        *line_too_long = sc.line_too_long;
    return rc;
}

/* Cuts the next line off *p (at LF, dropping a CR before it) and
 * NUL-terminates it in place of its end. NULL when no whole line is left
 * (nothing is written past the buffer). */
static char *next_line(char **p, char *end)
{
    char *line = *p;
    char *nl = line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;
    if (!nl)
        return NULL;
    *p = nl + 1;
    if (nl > line && nl[-1] == '\r')
        nl--;
    *nl = '\0';
    return line;
}

static int parse_request_line(char *line, struct pvs_gs_http_parsed *out)
{
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line)
        return PVS_EBADDATA;
    *sp1 = *sp2 = '\0';
    char *target = sp1 + 1, *version = sp2 + 1;
    for (const char *m = line; *m; m++)
        if (!is_tchar((unsigned char)*m))
            return PVS_EBADDATA;
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
        return PVS_EBADDATA;
    if (target[0] != '/')
        return PVS_EBADDATA;
    for (const unsigned char *t = (const unsigned char *)target; *t; t++)
        if (*t < 0x21 || *t > 0x7e || *t == '#')
            return PVS_EBADDATA;
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    if (url_decode(target, false) || (query && pvs_gs_query_parse(query, &out->query)))
        return PVS_EBADDATA;
    out->path = target;
    return strcmp(line, "GET") == 0 ? 0 : PVS_ENOTSUP;
}

/* One "name: value" line. A GET must not carry a body: it would be left
 * unread, and a proxy in between could read it as a second request. */
static int parse_header(char *line)
{
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return PVS_EBADDATA;
    *colon = '\0';
    for (char *n = line; *n; n++) {
        if (!is_tchar((unsigned char)*n))
            return PVS_EBADDATA; /* also refuses obs-fold and "name :" */
        if (*n >= 'A' && *n <= 'Z')
            *n = (char)(*n + 32); /* names are case-insensitive */
    }
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
    for (const unsigned char *c = (const unsigned char *)v; *c; c++)
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
            return PVS_EBADDATA;
    if (strcmp(line, "transfer-encoding") == 0)
        return PVS_EBADDATA;
    if (strcmp(line, "content-length") == 0) {
        if (!*v)
            return PVS_EBADDATA;
        for (const char *c = v; *c; c++)
            if (*c != '0')
                return PVS_EBADDATA;
    }
    return 0;
}

int pvs_gs_http_parse(char *head, size_t len, struct pvs_gs_http_parsed *out)
{
    if (!head || !out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (memchr(head, '\0', len))
        return PVS_EBADDATA;
    char *p = head, *end = head + len;
    char *line = next_line(&p, end);
    if (!line || strchr(line, '\r'))
        return PVS_EBADDATA;
    int method_rc = parse_request_line(line, out);
    if (method_rc == PVS_EBADDATA)
        return PVS_EBADDATA;
    while ((line = next_line(&p, end)) != NULL && *line) {
        if (strchr(line, '\r') || ++out->headers > PVS_GS_HTTP_HEADERS_MAX ||
            parse_header(line) != 0)
            return PVS_EBADDATA;
    }
    if (!line)
        return PVS_EBADDATA; /* no empty line: the head never ended */
    return method_rc;
}

/* ---- the server's state ----------------------------------------------------- */

struct slot {
    struct pvs_thread *thread; /* NULL: free */
    atomic_bool done;          /* its thread has finished and may be joined */
};

struct pvs_gs_http {
    struct pvs_gs_http_opts o;
    char *cert_pem, *key_pem;
    pvs_socket listener[2];
    uint16_t port[2];
    atomic_bool stop;
    struct pvs_thread *acceptor;
    struct slot *slots;
    int64_t last_refuse_warning;
    _Atomic uint64_t accepted, requests, bad_requests, refused, tls_failed, dropped;
};

struct tls {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
};

struct conn {
    struct pvs_gs_http *h;
    struct slot *slot;
    pvs_socket s;
    bool tls_port;
    struct tls *tls;    /* NULL on plain HTTP */
    struct pvs_addr peer, local;
    int64_t deadline;   /* for the phase under way */
    char head[PVS_GS_HTTP_HEAD_MAX + 1];
};

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

bool pvs_gs_http_stopping(const struct pvs_gs_http *h)
{
    return h && atomic_load(&h->stop);
}

static const char *mbed_text(int err, char *buf, size_t len)
{
    mbedtls_strerror(err, buf, len);
    return buf;
}
#define MBED_TEXT(err) mbed_text((err), (char[128]){0}, 128)

/* ---- socket I/O in slices ------------------------------------------------------ */

static int slice_ms(const struct conn *c)
{
    if (pvs_gs_http_stopping(c->h))
        return -ECANCELED;
    int64_t left = c->deadline - pvs_time_ns();
    if (left <= 0)
        return PVS_ETIMEDOUT;
    return left > SLICE_MS * INT64_C(1000000) ? SLICE_MS : (int)((left + 999999) / 1000000);
}

/* One receive (bytes > 0, or 0 at the peer's end) or one send (bytes
 * > 0), waiting in slices until the phase's deadline; or a negative code
 * (-ECANCELED once the server stops). */
static int conn_io(struct conn *c, void *buf, size_t len, bool sending)
{
    for (;;) {
        int ms = slice_ms(c);
        if (ms < 0)
            return ms;
        int n = sending ? pvs_tcp_send(c->s, buf, len, ms) : pvs_tcp_recv(c->s, buf, len, ms);
        if (n != PVS_ETIMEDOUT)
            return n;
    }
}

static int conn_recv(struct conn *c, void *buf, size_t cap)
{
    return conn_io(c, buf, cap, false);
}

static int conn_send(struct conn *c, const void *buf, size_t len)
{
    return conn_io(c, (void *)buf, len, true);
}

static int bio_recv(void *opaque, unsigned char *buf, size_t len)
{
    int n = conn_recv(opaque, buf, len);
    if (n >= 0)
        return n;
    return n == PVS_ETIMEDOUT ? MBEDTLS_ERR_SSL_TIMEOUT : MBEDTLS_ERR_NET_RECV_FAILED;
}

static int bio_send(void *opaque, const unsigned char *buf, size_t len)
{
    int n = conn_send(opaque, buf, len);
    return n > 0 ? n : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* What the request phase reads: TLS application data or plain bytes. */
static int conn_read(struct conn *c, void *buf, size_t cap)
{
    if (!c->tls)
        return conn_recv(c, buf, cap);
    for (;;) {
        int n = mbedtls_ssl_read(&c->tls->ssl, buf, cap);
        if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
            continue;
        if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
            return 0;
        return n >= 0 ? n : PVS_EIO;
    }
}

static int conn_write_all(struct conn *c, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        int n = c->tls ? mbedtls_ssl_write(&c->tls->ssl, p, len) : conn_send(c, p, len);
        if (c->tls && (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE))
            continue;
        if (n <= 0)
            return n < 0 && !c->tls ? n : PVS_EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- TLS ---------------------------------------------------------------------- */

static void tls_free(struct tls *t)
{
    if (!t)
        return;
    mbedtls_ssl_free(&t->ssl);
    mbedtls_ssl_config_free(&t->conf);
    mbedtls_pk_free(&t->key);
    mbedtls_x509_crt_free(&t->cert);
    mbedtls_ctr_drbg_free(&t->drbg);
    mbedtls_entropy_free(&t->entropy);
    free(t);
}

/* The server's configuration: our certificate and key, the client asked
 * for a certificate but never refused for it (authmode optional, no CA: a
 * GameStream client's certificate is self-signed and judged by the
 * application), TLS 1.2 at most (what Moonlight speaks, the same on both
 * Mbed TLS versions; 3.6's TLS 1.3 would also need PSA set up per thread). */
static int tls_new(struct tls **out, const struct pvs_gs_http *h)
{
    struct tls *t = calloc(1, sizeof(*t));
    if (!t)
        return PVS_ENOMEM;
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_pk_init(&t->key);
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_ssl_init(&t->ssl);
    static const char pers[] = "pvstream gamestream https";
    const char *what = "seed its random generator";
    int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                   (const unsigned char *)pers, sizeof(pers) - 1);
    if (!rc) {
        what = "parse the server certificate";
        rc = mbedtls_x509_crt_parse(&t->cert, (const unsigned char *)h->cert_pem,
                                    strlen(h->cert_pem) + 1);
    }
    if (!rc) {
        what = "parse the server key";
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        rc = mbedtls_pk_parse_key(&t->key, (const unsigned char *)h->key_pem,
                                  strlen(h->key_pem) + 1, NULL, 0,
                                  mbedtls_ctr_drbg_random, &t->drbg);
#else
        rc = mbedtls_pk_parse_key(&t->key, (const unsigned char *)h->key_pem,
                                  strlen(h->key_pem) + 1, NULL, 0);
#endif
    }
    if (!rc) {
        what = "set up TLS";
        rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    }
    if (!rc) {
        mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
        mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
        mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                     MBEDTLS_SSL_MINOR_VERSION_3);
#endif
        what = "use the server certificate and key (do they belong together?)";
        rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
    }
    if (!rc) {
        what = "set up a TLS session";
        rc = mbedtls_ssl_setup(&t->ssl, &t->conf);
    }
    if (rc) {
        PVS_LOG_E("GameStream HTTPS: cannot %s: %s", what, MBED_TEXT(rc));
        tls_free(t);
        return PVS_ECONFIG;
    }
    *out = t;
    return 0;
}

/* Checks once, at open, that the certificate and key can serve, and that
 * they are a pair, so a bad file is reported at start and not per client. */
static int tls_check(const struct pvs_gs_http *h)
{
    struct tls *t = NULL;
    int rc = tls_new(&t, h);
    if (rc)
        return rc;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    int pair = mbedtls_pk_check_pair(&t->cert.pk, &t->key, mbedtls_ctr_drbg_random, &t->drbg);
#else
    int pair = mbedtls_pk_check_pair(&t->cert.pk, &t->key);
#endif
    tls_free(t);
    if (pair) {
        PVS_LOG_E("GameStream HTTPS: the server key does not belong to its certificate: %s",
                  MBED_TEXT(pair));
        return PVS_ECONFIG;
    }
    return 0;
}

static int tls_handshake(struct conn *c)
{
    int rc = tls_new(&c->tls, c->h);
    if (rc)
        return rc;
    mbedtls_ssl_set_bio(&c->tls->ssl, c, bio_send, bio_recv, NULL);
    do
        rc = mbedtls_ssl_handshake(&c->tls->ssl);
    while (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (rc) {
        char who[64];
        pvs_addr_format(&c->peer, who, sizeof(who));
        PVS_LOG_D("GameStream HTTPS: TLS handshake with %s failed: %s", who, MBED_TEXT(rc));
        return PVS_EIO;
    }
    return 0;
}

/* ---- one connection ------------------------------------------------------------ */

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

/* A content type is written into the header as given: keep it printable. */
static bool content_type_ok(const char *t)
{
    if (!t || !*t || strlen(t) > 100)
        return false;
    for (; *t; t++)
        if (*t < 0x20 || *t > 0x7e)
            return false;
    return true;
}

static int send_response(struct conn *c, int status, const char *type, const void *body,
                         size_t len)
{
    if (status < 100 || status > 599)
        status = 500;
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, status_text(status),
                     content_type_ok(type) ? type : "application/octet-stream", len);
    c->deadline = pvs_time_ns() + (int64_t)c->h->o.timeout_ms * 1000000;
    int rc = conn_write_all(c, head, (size_t)n);
    return rc || !len ? rc : conn_write_all(c, body, len);
}

static void send_error(struct conn *c, int status)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
    count(&c->h->bad_requests);
    send_response(c, status, "text/plain", body, (size_t)n);
}

/* Reads until the head is complete: 0 with its length in *len; -1 when
 * the client went away, or timed out, first (counted as dropped unless it
 * sent nothing and closed); or an HTTP status (400, 414, 431) to answer
 * with. The buffer holds one byte over the limit, so a head that does not
 * fit is seen as too long, never cut. */
static int read_head(struct conn *c, size_t *len)
{
    struct head_scan sc = { 0 };
    size_t got = 0;
    for (;;) {
        int n = scan_head(&sc, c->head, got);
        if (n > 0) {
            *len = (size_t)n;
            return 0;
        }
        if (n < 0)
            return n == PVS_EBADDATA ? 400 : sc.line_too_long ? 414 : 431;
        int r = conn_read(c, c->head + got, sizeof(c->head) - got);
        if (r <= 0) {
            if (got > 0 || r != 0)
                count(&c->h->dropped);
            return -1;
        }
        got += (size_t)r;
    }
}

static void serve(struct conn *c)
{
    size_t len = 0;
    int st = read_head(c, &len);
    if (st) {
        if (st > 0)
            send_error(c, st);
        return;
    }
    struct pvs_gs_http_parsed parsed;
    int rc = pvs_gs_http_parse(c->head, len, &parsed);
    if (rc) {
        char who[64];
        pvs_addr_format(&c->peer, who, sizeof(who));
        PVS_LOG_D("GameStream HTTP: refused a malformed request from %s", who);
        send_error(c, rc == PVS_ENOTSUP ? 405 : 400);
        return;
    }
    struct pvs_gs_http_request req = {
        .path = parsed.path, .query = &parsed.query, .tls = c->tls != NULL,
        .peer = c->peer, .local = c->local, .server = c->h,
    };
    if (c->tls) {
        const mbedtls_x509_crt *pc = mbedtls_ssl_get_peer_cert(&c->tls->ssl);
        if (pc && pc->raw.p && pc->raw.len) {
            req.peer_cert = pc->raw.p;
            req.peer_cert_len = pc->raw.len;
        }
    }
    if (pvs_gs_http_stopping(c->h))
        return;
    struct pvs_gs_http_response resp = { .status = 200, .content_type = "application/xml" };
    count(&c->h->requests);
    c->h->o.handler(c->h->o.opaque, &req, &resp);
    send_response(c, resp.status, resp.content_type, resp.body, resp.body_len);
    free(resp.body);
}

/* Ends the connection so the client reads the whole answer: close_notify,
 * FIN, then read and drop what it still sends until it closes (closing with
 * unread data makes the system send a reset, which can destroy the answer
 * before the client has read it). */
static void finish(struct conn *c)
{
    if (c->tls)
        mbedtls_ssl_close_notify(&c->tls->ssl);
    if (pvs_tcp_shutdown(c->s) == 0 && !pvs_gs_http_stopping(c->h)) {
        c->deadline = pvs_time_ns() + LINGER_MS * INT64_C(1000000);
        size_t drained = 0;
        int n;
        while (drained < LINGER_BYTES && (n = conn_recv(c, c->head, sizeof(c->head))) > 0)
            drained += (size_t)n;
    }
    tls_free(c->tls);
    c->tls = NULL;
    pvs_socket_close(&c->s);
}

static int connection_main(void *arg)
{
    struct conn *c = arg;
    c->deadline = pvs_time_ns() + (int64_t)c->h->o.timeout_ms * 1000000;
    if (!c->tls_port || tls_handshake(c) == 0)
        serve(c);
    else
        count(&c->h->tls_failed);
    finish(c);
    struct slot *slot = c->slot;
    free(c);
    atomic_store(&slot->done, true);
    return 0;
}

/* ---- accepting ------------------------------------------------------------------ */

/* Joins finished connection threads; returns a free slot or NULL. */
static struct slot *reap(struct pvs_gs_http *h)
{
    struct slot *free_slot = NULL;
    for (int i = 0; i < h->o.max_connections; i++) {
        struct slot *s = &h->slots[i];
        if (s->thread && atomic_load(&s->done))
            pvs_thread_join(&s->thread, NULL);
        if (!s->thread && !free_slot)
            free_slot = s;
    }
    return free_slot;
}

static void refuse(struct pvs_gs_http *h, pvs_socket s, int kind)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    count(&h->refused);
    if (kind == PLAIN)
        pvs_tcp_send(s, busy, sizeof(busy) - 1, 0);
    pvs_socket_close(&s);
    int64_t now = pvs_time_ns();
    if (!h->last_refuse_warning || now - h->last_refuse_warning > REFUSE_WARN_NS) {
        h->last_refuse_warning = now;
        PVS_LOG_W("GameStream HTTP: %d connections are open already: refusing more",
                  h->o.max_connections);
    }
}

/* The address the client reached. A dual-stack listener's system gives an
 * IPv4 one as ::ffff:a.b.c.d; the handler gets it as IPv4, as the peer. */
static void local_address(pvs_socket s, struct pvs_addr *out)
{
    static const char mapped[] = "[::ffff:";
    char text[64];
    if (pvs_udp_local_addr(s, out) != 0)
        return;
    pvs_addr_format(out, text, sizeof(text));
    char *end = strchr(text, ']');
    if (strncmp(text, mapped, sizeof(mapped) - 1) != 0 || !end || !strchr(text, '.'))
        return;
    *end = '\0';
    struct pvs_addr v4;
    if (pvs_addr_resolve(&v4, text + sizeof(mapped) - 1, pvs_addr_port(out)) == 0)
        *out = v4;
}

static void accept_one(struct pvs_gs_http *h, int kind)
{
    for (;;) {
        pvs_socket s;
        struct pvs_addr peer, local;
        int rc = pvs_tcp_accept(h->listener[kind], &s, &peer);
        if (rc == PVS_EAGAIN)
            return;
        if (rc) {
            PVS_LOG_W("GameStream HTTP: accept failed: %s", pvs_strerror(rc));
            pvs_sleep_ns(SLICE_MS * INT64_C(1000000)); /* out of descriptors: do not spin */
            return;
        }
        count(&h->accepted);
        local_address(s, &local);
        struct slot *slot = reap(h);
        struct conn *c = slot ? malloc(sizeof(*c)) : NULL;
        if (!c) {
            refuse(h, s, kind);
            continue;
        }
        *c = (struct conn){ .h = h, .slot = slot, .s = s, .tls_port = kind == TLS,
                            .peer = peer, .local = local };
        atomic_store(&slot->done, false);
        if (pvs_thread_create(&slot->thread, connection_main, c, "gs-http-conn") != 0) {
            free(c);
            refuse(h, s, kind);
        }
    }
}

static int acceptor_main(void *arg)
{
    struct pvs_gs_http *h = arg;
    pvs_socket socks[2];
    int kinds[2], n = 0;
    for (int k = PLAIN; k <= TLS; k++) {
        if (h->listener[k] != PVS_INVALID_SOCKET) {
            socks[n] = h->listener[k];
            kinds[n++] = k;
        }
    }
    while (!atomic_load(&h->stop)) {
        bool ready[2] = { false, false };
        if (pvs_udp_poll(socks, n, SLICE_MS * 1000, ready) < 0)
            pvs_sleep_ns(SLICE_MS * INT64_C(1000000));
        for (int i = 0; i < n; i++)
            if (ready[i])
                accept_one(h, kinds[i]);
        reap(h);
    }
    return 0;
}

/* ---- open and close ---------------------------------------------------------------- */

void pvs_gs_http_default_opts(struct pvs_gs_http_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->http_port = PVS_GS_HTTP_PORT;
    o->https_port = PVS_GS_HTTPS_PORT;
    o->max_connections = DEFAULT_MAX_CONNECTIONS;
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

static int open_listener(struct pvs_gs_http *h, int kind, int port)
{
    struct pvs_addr a;
    int rc = pvs_addr_resolve(&a, h->o.bind_host, (uint16_t)port);
    if (rc) {
        PVS_LOG_E("GameStream HTTP: cannot listen on '%s': %s", h->o.bind_host,
                  pvs_strerror(rc));
        return rc;
    }
    rc = pvs_tcp_listen(&h->listener[kind], &a, 64);
    if (!rc)
        rc = pvs_udp_local_addr(h->listener[kind], &a);
    if (!rc)
        h->port[kind] = pvs_addr_port(&a);
    return rc;
}

int pvs_gs_http_open(struct pvs_gs_http **out, const struct pvs_gs_http_opts *o)
{
    if (!out || !o || !o->handler || o->http_port < 0 || o->http_port > 65535 ||
        o->https_port < -1 || o->https_port > 65535)
        return PVS_EINVAL;
    *out = NULL;
    bool https = o->https_port >= 0;
    if (https && (!o->cert_pem || !o->key_pem)) {
        PVS_LOG_E("GameStream HTTPS needs the server certificate and key");
        return PVS_ECONFIG;
    }
    struct pvs_gs_http *h = calloc(1, sizeof(*h));
    if (!h)
        return PVS_ENOMEM;
    h->o = *o;
    if (h->o.max_connections <= 0)
        h->o.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (h->o.timeout_ms <= 0)
        h->o.timeout_ms = DEFAULT_TIMEOUT_MS;
    h->listener[PLAIN] = h->listener[TLS] = PVS_INVALID_SOCKET;
    int rc = PVS_ENOMEM;
    h->slots = calloc((size_t)h->o.max_connections, sizeof(*h->slots));
    if (!h->slots)
        goto fail;
    if (https) {
        h->cert_pem = copy_string(o->cert_pem);
        h->key_pem = copy_string(o->key_pem);
        if (!h->cert_pem || !h->key_pem)
            goto fail;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000 && defined(MBEDTLS_PSA_CRYPTO_C)
        /* Idempotent; done here, on one thread, rather than by a handshake
         * that might need it (psa_crypto_init is not thread-safe). */
        if (psa_crypto_init() != PSA_SUCCESS) {
            PVS_LOG_E("GameStream HTTPS: cannot initialize Mbed TLS's crypto");
            rc = PVS_EEXTERNAL;
            goto fail;
        }
#endif
        if ((rc = tls_check(h)) != 0)
            goto fail;
    }
    if ((rc = open_listener(h, PLAIN, o->http_port)) != 0)
        goto fail;
    if (https && (rc = open_listener(h, TLS, o->https_port)) != 0)
        goto fail;
    if ((rc = pvs_thread_create(&h->acceptor, acceptor_main, h, "gs-http")) != 0)
        goto fail;
    if (https)
        PVS_LOG_I("GameStream: HTTP on port %u, HTTPS on port %u", h->port[PLAIN],
                  h->port[TLS]);
    else
        PVS_LOG_I("GameStream: HTTP on port %u (no HTTPS)", h->port[PLAIN]);
    *out = h;
    return 0;
fail:
    pvs_gs_http_close(&h);
    return rc;
}

void pvs_gs_http_close(struct pvs_gs_http **hp)
{
    if (!hp || !*hp)
        return;
    struct pvs_gs_http *h = *hp;
    atomic_store(&h->stop, true);
    pvs_thread_join(&h->acceptor, NULL);
    for (int k = PLAIN; k <= TLS; k++)
        pvs_socket_close(&h->listener[k]);
    if (h->o.wake)
        h->o.wake(h->o.opaque);
    for (int i = 0; h->slots && i < h->o.max_connections; i++)
        pvs_thread_join(&h->slots[i].thread, NULL);
    free(h->slots);
    free(h->cert_pem);
    if (h->key_pem) {
        mbedtls_platform_zeroize(h->key_pem, strlen(h->key_pem));
        free(h->key_pem);
    }
    free(h);
    *hp = NULL;
}

uint16_t pvs_gs_http_port(const struct pvs_gs_http *h, bool tls)
{
    return h ? h->port[tls ? TLS : PLAIN] : 0;
}

void pvs_gs_http_get_stats(const struct pvs_gs_http *h, struct pvs_gs_http_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!h)
        return;
    struct pvs_gs_http *m = (struct pvs_gs_http *)h;
    out->accepted = atomic_load(&m->accepted);
    out->requests = atomic_load(&m->requests);
    out->bad_requests = atomic_load(&m->bad_requests);
    out->refused = atomic_load(&m->refused);
    out->tls_failed = atomic_load(&m->tls_failed);
    out->dropped = atomic_load(&m->dropped);
}

int pvs_gs_http_reply(struct pvs_gs_http_response *resp, int status, const char *content_type,
                      const void *body, size_t len)
{
    if (!resp || (!body && len))
        return PVS_EINVAL;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
    resp->status = status;
    resp->content_type = content_type;
    if (!len)
        return 0;
    resp->body = malloc(len);
    if (!resp->body) {
        resp->status = 500;
        return PVS_ENOMEM;
    }
    memcpy(resp->body, body, len);
    resp->body_len = len;
    return 0;
}
