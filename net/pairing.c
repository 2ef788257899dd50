#include "net/pairing.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define HEADER 22
#define SEALED (PVS_IDENTITY_KEY_BYTES + crypto_aead_chacha20poly1305_ietf_ABYTES)
#define RESEND_MS 500
/* A run whose CONFIRM has not come this long after its REPLY is abandoned:
 * another client may start one. */
#define RUN_STALE_NS 10000000000LL

static const uint8_t magic[4] = { 'P', 'V', 'S', 'P' };

static bool name_ok(const char *name, size_t len)
{
    if (len < 1 || len > PVS_PEER_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (name[i] <= ' ' || name[i] > '~')
            return false;
    return name[0] != '#';
}

static size_t body_len(uint8_t type)
{
    switch (type) {
    case PVS_PAIR_REPLY: return PVS_CPACE_POINT_BYTES + PVS_CPACE_TAG_BYTES + SEALED;
    case PVS_PAIR_CONFIRM: return PVS_CPACE_TAG_BYTES + SEALED;
    case PVS_PAIR_DONE: return 0;
    case PVS_PAIR_FAIL: return 1;
    default: return 0;
    }
}

int pvs_pair_encode(const struct pvs_pair_msg *m, uint8_t *buf, size_t cap)
{
    if (!m || !buf || cap < PVS_PAIR_MAX_MESSAGE || m->type < PVS_PAIR_HELLO || m->type > PVS_PAIR_FAIL)
        return PVS_EINVAL;
    memcpy(buf, magic, 4);
    buf[4] = 1;
    buf[5] = m->type;
    memcpy(buf + 6, m->sid, PVS_CPACE_SID_BYTES);
    uint8_t *p = buf + HEADER;
    switch (m->type) {
    case PVS_PAIR_HELLO: {
        size_t n = strnlen(m->name, sizeof(m->name));
        if (!name_ok(m->name, n))
            return PVS_EINVAL;
        memcpy(p, m->point, PVS_CPACE_POINT_BYTES);
        p[32] = (uint8_t)n;
        memcpy(p + 33, m->name, n);
        return (int)(HEADER + 33 + n);
    }
    case PVS_PAIR_REPLY:
        memcpy(p, m->point, PVS_CPACE_POINT_BYTES);
        memcpy(p + 32, m->tag, PVS_CPACE_TAG_BYTES);
        memcpy(p + 48, m->sealed, SEALED);
        break;
    case PVS_PAIR_CONFIRM:
        memcpy(p, m->tag, PVS_CPACE_TAG_BYTES);
        memcpy(p + 16, m->sealed, SEALED);
        break;
    case PVS_PAIR_FAIL:
        p[0] = m->reason;
        break;
    default:
        break;
    }
    return (int)(HEADER + body_len(m->type));
}

int pvs_pair_parse(const uint8_t *buf, size_t len, struct pvs_pair_msg *m)
{
    if (!buf || !m || len < HEADER || memcmp(buf, magic, 4) || buf[4] != 1 ||
        buf[5] < PVS_PAIR_HELLO || buf[5] > PVS_PAIR_FAIL)
        return PVS_EBADDATA;
    memset(m, 0, sizeof(*m));
    m->type = buf[5];
    memcpy(m->sid, buf + 6, PVS_CPACE_SID_BYTES);
    const uint8_t *p = buf + HEADER;
    size_t n = len - HEADER;
    if (m->type == PVS_PAIR_HELLO) {
        if (n < 34 || n != 33u + p[32] || !name_ok((const char *)p + 33, p[32]))
            return PVS_EBADDATA;
        memcpy(m->point, p, PVS_CPACE_POINT_BYTES);
        m->name_len = p[32];
        memcpy(m->name, p + 33, p[32]);
        return 0;
    }
    if (n != body_len(m->type))
        return PVS_EBADDATA;
    switch (m->type) {
    case PVS_PAIR_REPLY:
        memcpy(m->point, p, PVS_CPACE_POINT_BYTES);
        memcpy(m->tag, p + 32, PVS_CPACE_TAG_BYTES);
        memcpy(m->sealed, p + 48, SEALED);
        break;
    case PVS_PAIR_CONFIRM:
        memcpy(m->tag, p, PVS_CPACE_TAG_BYTES);
        memcpy(m->sealed, p + 16, SEALED);
        break;
    case PVS_PAIR_FAIL:
        m->reason = p[0];
        break;
    default:
        break;
    }
    return 0;
}

void pvs_pair_new_pin(char pin[PVS_PAIR_PIN_DIGITS + 1])
{
    uint32_t v = randombytes_uniform(1000000);
    snprintf(pin, PVS_PAIR_PIN_DIGITS + 1, "%06u", (unsigned)v);
}

/* T = sid || Ya || Yb || name length || name. Returns its length. */
static size_t transcript(uint8_t *t, const uint8_t sid[16], const uint8_t ya[32],
                         const uint8_t yb[32], const char *name, uint8_t name_len)
{
    memcpy(t, sid, 16);
    memcpy(t + 16, ya, 32);
    memcpy(t + 48, yb, 32);
    t[80] = name_len;
    memcpy(t + 81, name, name_len);
    return 81u + name_len;
}

static void seal_key(const uint8_t isk[64], uint64_t id, const uint8_t *t, size_t tlen,
                     const uint8_t key[32], uint8_t out[SEALED])
{
    uint8_t k[32], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };
    pvs_cpace_subkey(isk, id, "pvspair1", k);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, key, 32, t, tlen, NULL, nonce, k);
    sodium_memzero(k, sizeof(k));
}

static int open_key(const uint8_t isk[64], uint64_t id, const uint8_t *t, size_t tlen,
                    const uint8_t in[SEALED], uint8_t key[32])
{
    uint8_t k[32], nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = { 0 };
    pvs_cpace_subkey(isk, id, "pvspair1", k);
    int rc = crypto_aead_chacha20poly1305_ietf_decrypt(key, NULL, NULL, in, SEALED, t, tlen,
                                                       nonce, k);
    sodium_memzero(k, sizeof(k));
    return rc == 0 ? 0 : PVS_EBADDATA;
}

static void send_msg(pvs_socket s, const struct pvs_pair_msg *m, const struct pvs_addr *to)
{
    uint8_t buf[PVS_PAIR_MAX_MESSAGE];
    int n = pvs_pair_encode(m, buf, sizeof(buf));
    if (n > 0)
        pvs_udp_send(s, buf, (size_t)n, to);
}

static void send_fail(pvs_socket s, const uint8_t sid[16], uint8_t reason, const struct pvs_addr *to)
{
    struct pvs_pair_msg f = { .type = PVS_PAIR_FAIL, .reason = reason };
    memcpy(f.sid, sid, 16);
    send_msg(s, &f, to);
}

/* ---- server ------------------------------------------------------------- */

struct run {
    bool active;
    struct pvs_addr peer;
    uint8_t sid[16];
    uint8_t isk[64];
    uint8_t t[81 + PVS_PEER_NAME_MAX];
    size_t tlen;
    char name[PVS_PEER_NAME_MAX + 1];
    struct pvs_pair_msg reply;           /* sent again for a repeated HELLO */
    int64_t started_ns;
};

static void run_end(struct run *r)
{
    sodium_memzero(r, sizeof(*r));
}

/* A HELLO: a new run (one PIN guess), or a repeat of the current one. */
static void serve_hello(pvs_socket s, const struct pvs_pair_msg *m, const struct pvs_addr *from,
                        const char *pin, const struct pvs_identity *me, struct run *r, int *runs)
{
    int64_t now = pvs_time_ns();
    if (r->active && !memcmp(r->sid, m->sid, 16) && pvs_addr_equal(&r->peer, from)) {
        send_msg(s, &r->reply, from);
        return;
    }
    if (r->active && now - r->started_ns < RUN_STALE_NS) {
        send_fail(s, m->sid, PVS_PAIR_FAIL_BUSY, from);
        return;
    }
    if (r->active)
        PVS_LOG_I("pairing: the run with '%s' was abandoned", r->name);
    run_end(r);
    if (*runs >= PVS_PAIR_MAX_RUNS) {
        send_fail(s, m->sid, PVS_PAIR_FAIL_CLOSED, from);
        return;
    }
    ++*runs;
    struct pvs_cpace c;
    if (pvs_cpace_start(&c, false, pin, m->sid, (const uint8_t *)m->name, m->name_len) != 0)
        return;
    uint8_t yb[32];
    memcpy(yb, c.public_point, 32);
    if (pvs_cpace_finish(&c, m->point, r->isk) != 0) {
        PVS_LOG_I("pairing: a HELLO with an invalid point: refused (run %d of %d)", *runs,
                  PVS_PAIR_MAX_RUNS);
        send_fail(s, m->sid, PVS_PAIR_FAIL_PIN, from);
        run_end(r);
        return;
    }
    r->active = true;
    r->peer = *from;
    r->started_ns = now;
    memcpy(r->sid, m->sid, 16);
    memcpy(r->name, m->name, m->name_len);
    r->tlen = transcript(r->t, m->sid, m->point, yb, m->name, m->name_len);
    r->reply = (struct pvs_pair_msg){ .type = PVS_PAIR_REPLY };
    memcpy(r->reply.sid, m->sid, 16);
    memcpy(r->reply.point, yb, 32);
    pvs_cpace_confirm_tag(r->isk, false, r->t, r->tlen, r->reply.tag);
    seal_key(r->isk, 1, r->t, r->tlen, me->public_key, r->reply.sealed);
    send_msg(s, &r->reply, from);
}

int pvs_pair_serve(const char *bind_host, uint16_t port, const char *pin,
                   const struct pvs_identity *me, int window_s,
                   const volatile sig_atomic_t *stop, struct pvs_pair_result *out)
{
    if (!pin || !me || !out || window_s < 1)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (sodium_init() < 0)
        return PVS_EEXTERNAL;
    struct pvs_addr local;
    pvs_socket s = PVS_INVALID_SOCKET;
    int err = pvs_addr_resolve(&local, bind_host && *bind_host ? bind_host : "0.0.0.0", port);
    if (!err)
        err = pvs_udp_open(&s, &local);
    if (err)
        return err;

    struct run r = { 0 };
    int runs = 0;
    int64_t end = pvs_time_ns() + (int64_t)window_s * 1000000000LL;
    err = PVS_ETIMEDOUT;
    while (pvs_time_ns() < end) {
        if (stop && *stop) {
            err = -EINTR;
            break;
        }
        uint8_t buf[PVS_PAIR_MAX_MESSAGE + 1];
        struct pvs_addr from;
        int n = pvs_udp_recv(s, buf, sizeof(buf), &from, 200);
        if (n == PVS_ETIMEDOUT)
            continue;
        if (n < 0) {
            err = n;
            break;
        }
        struct pvs_pair_msg m;
        if (pvs_pair_parse(buf, (size_t)n, &m) != 0)
            continue; /* junk: no answer */
        if (m.type == PVS_PAIR_HELLO) {
            serve_hello(s, &m, &from, pin, me, &r, &runs);
            continue;
        }
        if (m.type != PVS_PAIR_CONFIRM || !r.active || memcmp(m.sid, r.sid, 16) ||
            !pvs_addr_equal(&from, &r.peer))
            continue;
        uint8_t key[32];
        if (pvs_cpace_check_tag(r.isk, true, r.t, r.tlen, m.tag) != 0 ||
            open_key(r.isk, 2, r.t, r.tlen, m.sealed, key) != 0) {
            PVS_LOG_W("pairing: '%s' used a wrong PIN (run %d of %d)", r.name, runs,
                      PVS_PAIR_MAX_RUNS);
            send_fail(s, m.sid, PVS_PAIR_FAIL_PIN, &from);
            run_end(&r);
            if (runs >= PVS_PAIR_MAX_RUNS) {
                err = PVS_EBADDATA;
                break;
            }
            continue;
        }
        struct pvs_pair_msg done = { .type = PVS_PAIR_DONE };
        memcpy(done.sid, m.sid, 16);
        /* DONE may be lost: answer repeats of CONFIRM for a moment. */
        for (int i = 0; i < 3; i++) {
            send_msg(s, &done, &from);
            pvs_sleep_ns(20000000);
        }
        snprintf(out->name, sizeof(out->name), "%s", r.name);
        memcpy(out->key, key, 32);
        err = 0;
        break;
    }
    out->runs = runs;
    run_end(&r);
    pvs_socket_close(&s);
    return err;
}

/* ---- client ------------------------------------------------------------- */

/* Sends `m` every RESEND_MS until a message of the run comes back or the
 * deadline passes. Returns 0 with *in, or PVS_ETIMEDOUT. */
static int exchange(pvs_socket s, const struct pvs_pair_msg *m, const struct pvs_addr *to,
                    int64_t deadline, struct pvs_pair_msg *in)
{
    int64_t next = 0;
    while (pvs_time_ns() < deadline) {
        if (pvs_time_ns() >= next) {
            send_msg(s, m, to);
            next = pvs_time_ns() + RESEND_MS * 1000000LL;
        }
        uint8_t buf[PVS_PAIR_MAX_MESSAGE + 1];
        struct pvs_addr from;
        int n = pvs_udp_recv(s, buf, sizeof(buf), &from, 50);
        if (n < 0 || !pvs_addr_equal(&from, to))
            continue;
        if (pvs_pair_parse(buf, (size_t)n, in) == 0 && !memcmp(in->sid, m->sid, 16) &&
            in->type != PVS_PAIR_HELLO && in->type != PVS_PAIR_CONFIRM)
            return 0;
    }
    return PVS_ETIMEDOUT;
}

static int fail_code(const struct pvs_pair_msg *m)
{
    switch (m->reason) {
    case PVS_PAIR_FAIL_PIN: return PVS_EBADDATA;
    case PVS_PAIR_FAIL_BUSY: return PVS_EAGAIN;
    default: return PVS_ENOENT;
    }
}

int pvs_pair_client(const char *host, uint16_t port, const char *pin, const char *name,
                    const struct pvs_identity *me, int timeout_ms, struct pvs_pair_result *out)
{
    if (!host || !pin || !name || !me || !out || !name_ok(name, strlen(name)))
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (sodium_init() < 0)
        return PVS_EEXTERNAL;
    struct pvs_addr server, local;
    pvs_socket s = PVS_INVALID_SOCKET;
    int err = pvs_addr_resolve(&server, host, port);
    if (!err)
        err = pvs_addr_resolve(&local, strchr(host, ':') ? "::" : "0.0.0.0", 0);
    if (!err)
        err = pvs_udp_open(&s, &local);
    if (err)
        return err;

    struct pvs_pair_msg hello = { .type = PVS_PAIR_HELLO };
    randombytes_buf(hello.sid, sizeof(hello.sid));
    hello.name_len = (uint8_t)strlen(name);
    memcpy(hello.name, name, hello.name_len);
    struct pvs_cpace c;
    uint8_t isk[64], t[81 + PVS_PEER_NAME_MAX];
    err = pvs_cpace_start(&c, true, pin, hello.sid, (const uint8_t *)name, hello.name_len);
    if (err)
        goto out;
    memcpy(hello.point, c.public_point, 32);
    int64_t deadline = pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    struct pvs_pair_msg in;
    err = exchange(s, &hello, &server, deadline, &in);
    if (err)
        goto out;
    if (in.type == PVS_PAIR_FAIL) {
        err = fail_code(&in);
        goto out;
    }
    if (in.type != PVS_PAIR_REPLY) {
        err = PVS_EBADDATA;
        goto out;
    }
    err = pvs_cpace_finish(&c, in.point, isk);
    if (err)
        goto out;
    size_t tlen = transcript(t, hello.sid, hello.point, in.point, name, hello.name_len);
    /* A wrong PIN shows here: the server's tag does not match ours. The
     * CONFIRM still goes (its tag fails at the server too), so the server
     * ends the run at once instead of holding the window for it. */
    bool wrong = pvs_cpace_check_tag(isk, false, t, tlen, in.tag) != 0 ||
                 open_key(isk, 1, t, tlen, in.sealed, out->key) != 0;
    struct pvs_pair_msg confirm = { .type = PVS_PAIR_CONFIRM };
    memcpy(confirm.sid, hello.sid, 16);
    pvs_cpace_confirm_tag(isk, true, t, tlen, confirm.tag);
    seal_key(isk, 2, t, tlen, me->public_key, confirm.sealed);
    err = exchange(s, &confirm, &server, pvs_time_ns() + (int64_t)timeout_ms * 1000000, &in);
    if (wrong)
        err = PVS_EBADDATA;
    else if (!err && in.type == PVS_PAIR_FAIL)
        err = fail_code(&in);
    else if (!err && in.type != PVS_PAIR_DONE)
        err = PVS_EBADDATA;
out:
    if (err)
        sodium_memzero(out->key, sizeof(out->key));
    pvs_cpace_wipe(&c);
    sodium_memzero(isk, sizeof(isk));
    pvs_socket_close(&s);
    return err;
}

int pvs_pair_local(const char *server_dir, const char *client_dir, const char *client_name,
                   const char *server_entry)
{
    if (!server_dir || !client_dir || !client_name || !server_entry)
        return PVS_EINVAL;
    char path[1024];
    struct pvs_identity server, client;
    snprintf(path, sizeof(path), "%s" PVS_PATH_SEP "%s", server_dir, PVS_SERVER_KEY_FILE);
    int err = pvs_identity_load_or_create(path, &server);
    if (err)
        return err;
    snprintf(path, sizeof(path), "%s" PVS_PATH_SEP "%s", client_dir, PVS_CLIENT_KEY_FILE);
    err = pvs_identity_load_or_create(path, &client);
    struct pvs_peer p = { .paired_at = (int64_t)time(NULL) };
    if (!err) {
        snprintf(p.name, sizeof(p.name), "%s", client_name);
        memcpy(p.public_key, client.public_key, sizeof(p.public_key));
        snprintf(path, sizeof(path), "%s" PVS_PATH_SEP "%s", server_dir, PVS_SERVER_CLIENTS_FILE);
        err = pvs_peers_add(path, &p);
    }
    if (!err) {
        snprintf(p.name, sizeof(p.name), "%s", server_entry);
        memcpy(p.public_key, server.public_key, sizeof(p.public_key));
        snprintf(path, sizeof(path), "%s" PVS_PATH_SEP "%s", client_dir, PVS_CLIENT_SERVERS_FILE);
        err = pvs_peers_add(path, &p);
    }
    pvs_identity_wipe(&server);
    pvs_identity_wipe(&client);
    return err;
}
