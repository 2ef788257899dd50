/* GameStream's RTSP listener: one request per TCP connection
 * (gamestream/gs_rtsp_server.h). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_rtsp_server.h"

struct pvs_gs_rtsp_server {
    pvs_socket listener;
    uint16_t port;
    int request_timeout_ms;
    pvs_mutex lock;              /* session, client, stats */
    struct pvs_gs_rtsp session;
    struct pvs_addr client;      /* len 0: any */
    struct pvs_gs_rtsp_server_stats stats;
    uint8_t in[PVS_GS_RTSP_MAX_MESSAGE];
    uint8_t out[PVS_GS_RTSP_MAX_REPLY];
};

int pvs_gs_rtsp_server_open(struct pvs_gs_rtsp_server **out,
                            const struct pvs_gs_rtsp_server_config *cfg)
{
    if (!out || !cfg)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_gs_rtsp_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return PVS_ENOMEM;
    srv->listener = PVS_INVALID_SOCKET;
    srv->request_timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 3000;
    pvs_gs_rtsp_init(&srv->session, &cfg->rtsp);

    struct pvs_addr local;
    int err = pvs_addr_resolve(&local, cfg->bind_host, cfg->port);
    if (err) {
        PVS_LOG_E("GameStream RTSP: cannot use the address '%s': %s",
                  cfg->bind_host ? cfg->bind_host : "", pvs_strerror(err));
        goto fail;
    }
    err = pvs_tcp_listen(&srv->listener, &local, 16);
    if (err)
        goto fail;
    struct pvs_addr bound;
    err = pvs_udp_local_addr(srv->listener, &bound);
    if (err)
        goto fail;
    srv->port = pvs_addr_port(&bound);
    err = pvs_mutex_init(&srv->lock);
    if (err)
        goto fail;
    *out = srv;
    return 0;

fail:
    pvs_socket_close(&srv->listener);
    free(srv);
    return err;
}

uint16_t pvs_gs_rtsp_server_port(const struct pvs_gs_rtsp_server *srv)
{
    return srv ? srv->port : 0;
}

void pvs_gs_rtsp_server_arm(struct pvs_gs_rtsp_server *srv, const struct pvs_gs_rtsp_launch *l,
                            const struct pvs_addr *client)
{
    if (!srv || !l)
        return;
    pvs_mutex_lock(&srv->lock);
    pvs_gs_rtsp_arm(&srv->session, l);
    if (client)
        srv->client = *client;
    else
        memset(&srv->client, 0, sizeof(srv->client));
    pvs_mutex_unlock(&srv->lock);
}

void pvs_gs_rtsp_server_disarm(struct pvs_gs_rtsp_server *srv)
{
    if (!srv)
        return;
    pvs_mutex_lock(&srv->lock);
    pvs_gs_rtsp_disarm(&srv->session);
    memset(&srv->client, 0, sizeof(srv->client));
    pvs_mutex_unlock(&srv->lock);
}

/* "host" of "host:port" or "[v6]:port", the way pvs_addr_format writes
 * them (an IPv4 peer of the dual-stack listener is given as IPv4). */
static void host_of(const struct pvs_addr *a, char *buf, size_t cap)
{
    pvs_addr_format(a, buf, cap);
    char *colon = strrchr(buf, ':');
    if (colon)
        *colon = '\0';
}

static bool same_host(const struct pvs_addr *a, const struct pvs_addr *b)
{
    char x[64], y[64];
    host_of(a, x, sizeof(x));
    host_of(b, y, sizeof(y));
    return strcmp(x, y) == 0;
}

/* Reads one whole request. Returns its length, or 0 (counted) when the
 * peer closed, timed out, or sent what cannot be a request. */
static size_t read_request(struct pvs_gs_rtsp_server *srv, pvs_socket s, bool encrypted)
{
    size_t have = 0;
    int64_t deadline = pvs_time_ns() + (int64_t)srv->request_timeout_ms * 1000000;
    for (;;) {
        int framed = pvs_gs_rtsp_frame(srv->in, have, encrypted);
        if (framed > 0)
            return (size_t)framed;
        if (framed < 0 || have == sizeof(srv->in)) {
            srv->stats.unframed++;
            return 0;
        }
        int64_t left_ns = deadline - pvs_time_ns();
        int n = left_ns > 0 ? pvs_tcp_recv(s, srv->in + have, sizeof(srv->in) - have,
                                           (int)((left_ns + 999999) / 1000000))
                            : PVS_ETIMEDOUT;
        if (n == PVS_ETIMEDOUT)
            srv->stats.timeouts++;
        if (n <= 0)
            return 0;
        have += (size_t)n;
    }
}

static void send_reply(pvs_socket s, const uint8_t *p, size_t n, int timeout_ms)
{
    while (n > 0) {
        int sent = pvs_tcp_send(s, p, n, timeout_ms);
        if (sent <= 0)
            return;
        p += sent;
        n -= (size_t)sent;
    }
}

/* Serves one accepted connection; returns 1 with an event or 0. */
static int serve(struct pvs_gs_rtsp_server *srv, pvs_socket s, const struct pvs_addr *peer,
                 struct pvs_gs_rtsp_event *ev)
{
    pvs_mutex_lock(&srv->lock);
    srv->stats.connections++;
    bool foreign = srv->client.len && !same_host(&srv->client, peer);
    bool encrypted = srv->session.armed && srv->session.launch.encrypted_rtsp;
    if (foreign)
        srv->stats.foreign++;
    pvs_mutex_unlock(&srv->lock);
    if (foreign)
        return 0;

    /* The socket read happens outside the lock: arm and stats must not
     * wait on a slow client. The buffers belong to this thread alone. */
    size_t n = read_request(srv, s, encrypted);
    if (n == 0)
        return 0;
    pvs_mutex_lock(&srv->lock);
    int rn = pvs_gs_rtsp_handle(&srv->session, srv->in, n, srv->out, sizeof(srv->out), ev);
    pvs_mutex_unlock(&srv->lock);
    if (rn > 0) {
        send_reply(s, srv->out, (size_t)rn, srv->request_timeout_ms);
        pvs_tcp_shutdown(s);
    }
    return rn > 0 && ev->type != PVS_GS_RTSP_EV_NONE ? 1 : 0;
}

int pvs_gs_rtsp_server_service(struct pvs_gs_rtsp_server *srv, int timeout_ms,
                               struct pvs_gs_rtsp_event *ev)
{
    if (!srv || !ev)
        return PVS_EINVAL;
    memset(ev, 0, sizeof(*ev));
    bool ready = false;
    int got = pvs_udp_poll(&srv->listener, 1, timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000,
                           &ready);
    if (got < 0)
        return got;
    if (!ready)
        return 0;
    pvs_socket s;
    struct pvs_addr peer;
    int err = pvs_tcp_accept(srv->listener, &s, &peer);
    if (err == PVS_EAGAIN)
        return 0;
    if (err) {
        PVS_LOG_W("GameStream RTSP: accept failed: %s", pvs_strerror(err));
        return 0;
    }
    int r = serve(srv, s, &peer, ev);
    pvs_socket_close(&s);
    return r;
}

void pvs_gs_rtsp_server_get_stats(struct pvs_gs_rtsp_server *srv,
                                  struct pvs_gs_rtsp_server_stats *out)
{
    if (!srv || !out)
        return;
    pvs_mutex_lock(&srv->lock);
    *out = srv->stats;
    out->rtsp = srv->session.stats;
    pvs_mutex_unlock(&srv->lock);
}

void pvs_gs_rtsp_server_close(struct pvs_gs_rtsp_server **srv)
{
    if (!srv || !*srv)
        return;
    struct pvs_gs_rtsp_server *s = *srv;
    pvs_socket_close(&s->listener);
    pvs_gs_rtsp_disarm(&s->session);
    pvs_mutex_destroy(&s->lock);
    free(s);
    *srv = NULL;
}
