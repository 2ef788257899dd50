/* The HTTP(S) server under GameStream's API (docs/gamestream.md, "HTTP"):
 * one listener on plain TCP (47989) and one on TLS (47984), GET only, one
 * request per connection ("Connection: close"), each connection on its own
 * thread so that a handler may block (the pairing step waits for the PIN).
 *
 * TLS is Mbed TLS. The server asks every client for a certificate and takes
 * whatever it gets, self-signed or none: GameStream clients make their own,
 * and the application decides, from the DER handed to the handler, whether
 * it is one it paired with.
 *
 * Threads: the handler runs on the connection's thread, any number at once
 * (up to max_connections); `wake` runs on the thread calling
 * pvs_gs_http_close. Everything else may be called from any thread. */
#ifndef PVS_GS_HTTP_H
#define PVS_GS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/platform/platform.h"
#include "gamestream/gs_query.h"

#define PVS_GS_HTTP_PORT 47989  /* GameStream's plain HTTP port */
#define PVS_GS_HTTPS_PORT 47984 /* and its HTTPS port */

/* Limits on what a client may send. Moonlight's longest request is the
 * first pairing step with its certificate in hex, about 3 KB; it builds
 * that URL in a 16 KiB buffer (fact from moonlight-embedded
 * libgamestream/client.c, gs_pair). */
#define PVS_GS_HTTP_LINE_MAX 16384   /* request line, with its line end */
#define PVS_GS_HTTP_HEADER_MAX 8192  /* one header line */
#define PVS_GS_HTTP_HEADERS_MAX 64   /* header lines */
#define PVS_GS_HTTP_HEAD_MAX 32768   /* request line and headers in all */

struct pvs_gs_http;

/* One request, as the handler sees it. Everything is valid until the
 * handler returns. */
struct pvs_gs_http_request {
    const char *path;              /* decoded, begins with '/': "/serverinfo" */
    const struct pvs_gs_query *query; /* never NULL; count 0 without a query */
    const uint8_t *peer_cert;      /* DER of the certificate the client showed
                                      over TLS; NULL when none (or plain HTTP) */
    size_t peer_cert_len;
    bool tls;                      /* came on the HTTPS listener */
    struct pvs_addr peer;          /* the client (IPv4 clients as IPv4) */
    struct pvs_addr local;         /* the address the client reached */
    struct pvs_gs_http *server;    /* for pvs_gs_http_stopping */
};

/* What the handler answers. It starts as status 200, content type
 * "application/xml", no body. */
struct pvs_gs_http_response {
    int status;               /* 200, 400, 401, 404, 500, 503 ... */
    const char *content_type; /* a string that outlives the request */
    void *body;               /* malloc'ed; the server frees it */
    size_t body_len;
};

typedef void (*pvs_gs_http_handler)(void *opaque, const struct pvs_gs_http_request *req,
                                    struct pvs_gs_http_response *resp);

struct pvs_gs_http_opts {
    const char *bind_host; /* NULL or "": every address, IPv4 and IPv6 */
    int http_port;         /* PVS_GS_HTTP_PORT by default; 0: any free port */
    int https_port;        /* PVS_GS_HTTPS_PORT by default; 0: any free port;
                              -1: no HTTPS listener */
    const char *cert_pem;  /* the server's certificate, PEM, NUL-terminated
                              (needed unless https_port is -1) */
    const char *key_pem;   /* its private key, PEM, NUL-terminated */
    int max_connections;   /* connections served at once (16); more are
                              refused (503 on plain HTTP, closed on TLS) */
    int timeout_ms;        /* for the TLS handshake and the request, and
                              again for sending the answer (10,000) */
    pvs_gs_http_handler handler;
    void *opaque;          /* handed to handler and wake */
    /* Called once by pvs_gs_http_close, after pvs_gs_http_stopping() became
     * true and the listeners stopped, before it waits for the connection
     * threads: a handler blocked on the application's own condition (the
     * PIN) is woken here. So that no wake-up is missed, the handler checks
     * pvs_gs_http_stopping() under the lock it waits with, and wake takes
     * that lock to signal. May be NULL. */
    void (*wake)(void *opaque);
};

/* Counters since open. */
struct pvs_gs_http_stats {
    uint64_t accepted;     /* connections taken */
    uint64_t requests;     /* requests handed to the handler */
    uint64_t bad_requests; /* malformed or too large: answered 4xx */
    uint64_t refused;      /* over max_connections */
    uint64_t tls_failed;   /* TLS handshakes that failed */
    uint64_t dropped;      /* closed before a full request came (timeout, EOF) */
};

void pvs_gs_http_default_opts(struct pvs_gs_http_opts *o);

/* Binds the listeners and starts serving. Returns 0, PVS_EINVAL (no
 * handler), PVS_ECONFIG (certificate or key unusable: logged), or the
 * socket's error (logged; -EADDRINUSE when a port is taken). */
int pvs_gs_http_open(struct pvs_gs_http **out, const struct pvs_gs_http_opts *o);

/* Stops listening, calls wake, waits for every connection thread (those
 * reading or writing give up within 100 ms), frees everything and clears
 * *h. Accepts NULL. */
void pvs_gs_http_close(struct pvs_gs_http **h);

/* The port a listener is bound to (what 0 picked); 0 for no such listener. */
uint16_t pvs_gs_http_port(const struct pvs_gs_http *h, bool tls);

/* True once pvs_gs_http_close has begun: a blocked handler should answer
 * (anything) and return. */
bool pvs_gs_http_stopping(const struct pvs_gs_http *h);

void pvs_gs_http_get_stats(const struct pvs_gs_http *h, struct pvs_gs_http_stats *out);

/* Sets the response: status, content type, and a copy of body (len bytes;
 * NULL/0 for none). Frees a body set before. Returns 0 or PVS_ENOMEM (the
 * response is then 500 with no body). */
int pvs_gs_http_reply(struct pvs_gs_http_response *resp, int status, const char *content_type,
                      const void *body, size_t len);

/* ---- the parser (exposed for the fuzz target and tests) --------------------- */

struct pvs_gs_http_parsed {
    char *path;            /* points into the head */
    struct pvs_gs_query query; /* points into the head */
    int headers;           /* header lines */
};

/* Length of the request head at the start of buf (request line and header
 * lines through the empty line ending it; CRLF or LF line ends) once it is
 * all there: > 0. 0 when more bytes are needed; PVS_ERANGE as soon as a
 * limit above is passed (the answer is 414 for the request line, else 431;
 * *line_too_long, when not NULL, says which); PVS_EBADDATA as soon as the
 * request line holds a byte no request line may (control bytes, non-ASCII:
 * a TLS hello sent to the plain port), answered 400. */
int pvs_gs_http_head_length(const char *buf, size_t len, bool *line_too_long);

/* Parses a complete head of len bytes (from pvs_gs_http_head_length),
 * decoding in place. Returns 0; PVS_ENOTSUP for a well-formed request that
 * is not a GET (answered 405); PVS_EBADDATA for anything malformed (400):
 * a request line that is not "METHOD SP /target SP HTTP/1.x", a bad
 * percent escape or an encoded NUL, more than PVS_GS_QUERY_MAX parameters,
 * a header line that is not "name: value", control bytes, a body
 * (Content-Length other than 0, Transfer-Encoding). */
int pvs_gs_http_parse(char *head, size_t len, struct pvs_gs_http_parsed *out);

/* Splits and decodes a query string ("a=1&b=%20x", no '?') in place into q:
 * '&' separates pairs (empty ones are skipped), the first '=' splits name
 * from value, "%XX" and '+' (a space) are decoded. Returns 0, or
 * PVS_EBADDATA (bad escape, encoded NUL, empty name, too many pairs). */
int pvs_gs_query_parse(char *s, struct pvs_gs_query *q);

#endif
