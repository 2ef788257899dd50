/* GameStream's control stream on ENet (gamestream/gs_control_server.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enet/enet.h>
#include <mbedtls/platform_util.h>

#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_control_server.h"

#define NS_PER_MS 1000000
#define MAX_PEERS 4              /* the client, and room to refuse others */
#define MAX_DRAIN 64             /* events handled past the deadline, at most */

struct pvs_gs_control {
    ENetHost *host;
    ENetPeer *peer;              /* the client, once connected */
    uint16_t port;
    int peer_timeout_ms;
    pvs_mutex lock;              /* everything below, against arm/disarm/stats */
    bool armed;
    uint8_t key[16];
    bool v2;
    uint32_t connect_data;
    char client_ip[64];          /* "" : any */
    bool reset;                  /* disarm or re-arm asked: drop the peer in service */
    struct pvs_gs_ctl_crypto crypto;
    struct pvs_gs_input_map input;
    struct pvs_gs_control_stats stats;
};

static void ipv4_text(const struct pvs_addr *a, char *buf, size_t cap)
{
    /* pvs_addr_format: "a.b.c.d:port" (an IPv6 client cannot reach ENet). */
    pvs_addr_format(a, buf, cap);
    char *colon = strrchr(buf, ':');
    if (colon)
        *colon = '\0';
}

int pvs_gs_control_open(struct pvs_gs_control **out, const struct pvs_gs_control_config *cfg)
{
    if (!out || !cfg)
        return PVS_EINVAL;
    *out = NULL;
    if (enet_initialize() != 0) {
        PVS_LOG_E("GameStream control: ENet failed to initialize");
        return PVS_EEXTERNAL;
    }
    struct pvs_gs_control *c = calloc(1, sizeof(*c));
    if (!c) {
        enet_deinitialize();
        return PVS_ENOMEM;
    }
    c->peer_timeout_ms = cfg->peer_timeout_ms > 0 ? cfg->peer_timeout_ms : 10000;
    ENetAddress bind = {.host = ENET_HOST_ANY, .port = cfg->port};
    const char *where = cfg->bind_host && *cfg->bind_host ? cfg->bind_host : "*";
    int err = 0;
    if (cfg->bind_host && *cfg->bind_host && enet_address_set_host(&bind, cfg->bind_host) != 0) {
        PVS_LOG_E("GameStream control: cannot use the bind address '%s': give an IPv4 "
                  "address of this machine, or none for all", cfg->bind_host);
        err = PVS_ENOENT;
        goto fail;
    }
    c->host = enet_host_create(&bind, MAX_PEERS, PVS_GS_CTL_CHANNELS, 0, 0);
    if (!c->host) {
        PVS_LOG_E("GameStream control: cannot listen on UDP %s:%u: the port is in use (by "
                  "Sunshine?) or not allowed", where, (unsigned)cfg->port);
        err = PVS_EIO;
        goto fail;
    }
    /* Nothing legitimate is large. */
    c->host->maximumPacketSize = PVS_GS_CTL_MAX_PACKET;
    ENetAddress bound;
    c->port = enet_socket_get_address(c->host->socket, &bound) == 0 ? bound.port : cfg->port;
    err = pvs_mutex_init(&c->lock);
    if (err)
        goto fail;
    *out = c;
    return 0;

fail:
    if (c->host)
        enet_host_destroy(c->host);
    free(c);
    enet_deinitialize();
    return err;
}

uint16_t pvs_gs_control_port(const struct pvs_gs_control *c)
{
    return c ? c->port : 0;
}

void pvs_gs_control_arm(struct pvs_gs_control *c, const uint8_t key[16], bool v2,
                        uint32_t connect_data, const struct pvs_addr *client)
{
    if (!c || !key)
        return;
    pvs_mutex_lock(&c->lock);
    memcpy(c->key, key, sizeof(c->key));
    c->v2 = v2;
    c->connect_data = connect_data;
    c->client_ip[0] = '\0';
    if (client)
        ipv4_text(client, c->client_ip, sizeof(c->client_ip));
    c->armed = true;
    c->reset = true;
    pvs_mutex_unlock(&c->lock);
}

void pvs_gs_control_disarm(struct pvs_gs_control *c)
{
    if (!c)
        return;
    pvs_mutex_lock(&c->lock);
    mbedtls_platform_zeroize(c->key, sizeof(c->key));
    c->armed = false;
    c->reset = true;
    pvs_mutex_unlock(&c->lock);
}

/* Drops the current client (on the service thread). */
static void drop_peer(struct pvs_gs_control *c)
{
    if (c->peer) {
        enet_peer_disconnect_now(c->peer, 0);
        c->peer = NULL;
    }
    pvs_gs_ctl_crypto_wipe(&c->crypto);
    memset(&c->input, 0, sizeof(c->input));
}

/* Called with the lock held. */
static bool acceptable(struct pvs_gs_control *c, const ENetEvent *e)
{
    if (!c->armed || e->data != c->connect_data)
        return false;
    if (!c->client_ip[0])
        return true;
    char ip[64];
    return enet_address_get_host_ip(&e->peer->address, ip, sizeof(ip)) == 0 &&
           strcmp(ip, c->client_ip) == 0;
}

static bool on_connect(struct pvs_gs_control *c, const ENetEvent *e,
                       struct pvs_gs_control_event *ev)
{
    pvs_mutex_lock(&c->lock);
    bool ok = acceptable(c, e);
    if (!ok) {
        c->stats.refused++;
        pvs_mutex_unlock(&c->lock);
        enet_peer_disconnect_now(e->peer, 0);
        return false;
    }
    if (c->peer && c->peer != e->peer) /* the same client, started again */
        enet_peer_disconnect_now(c->peer, 0);
    c->peer = e->peer;
    /* A reset asked before this connection (the arm that let it in) is
     * done: the peer it was for is gone above. Left set, it would drop
     * this new client on the next service. */
    c->reset = false;
    pvs_gs_ctl_crypto_init(&c->crypto, c->key, c->v2, true);
    memset(&c->input, 0, sizeof(c->input));
    c->stats.connects++;
    pvs_mutex_unlock(&c->lock);
    enet_peer_timeout(e->peer, 0, (enet_uint32)c->peer_timeout_ms, (enet_uint32)c->peer_timeout_ms);
    ev->type = PVS_GS_CONTROL_EV_CONNECTED;
    return true;
}

static bool on_receive(struct pvs_gs_control *c, const ENetEvent *e,
                       struct pvs_gs_control_event *ev)
{
    if (e->peer != c->peer)
        return false;
    uint8_t payload[PVS_GS_CTL_MAX_PAYLOAD];
    uint16_t type;
    pvs_mutex_lock(&c->lock);
    int n = pvs_gs_ctl_open(&c->crypto, e->packet->data, e->packet->dataLength, &type,
                            payload, sizeof(payload));
    int err = n < 0 ? n : pvs_gs_ctl_parse(type, payload, (size_t)n, &ev->msg);
    if (n >= 0 && err == PVS_ENOTSUP)
        c->stats.unknown++;
    else if (n >= 0 && err)
        c->stats.bad_messages++;
    if (err) {
        pvs_mutex_unlock(&c->lock);
        return false;
    }
    c->stats.messages++;
    if (type == PVS_GS_CTL_INPUT) {
        ev->input_count = pvs_gs_input_map(&c->input, &ev->msg.u.input, &ev->input, 1);
        if (ev->input_count <= 0) {
            ev->input_count = 0;
            c->stats.input_unmapped++;
        }
    }
    pvs_mutex_unlock(&c->lock);
    ev->type = PVS_GS_CONTROL_EV_MESSAGE;
    return true;
}

static bool handle(struct pvs_gs_control *c, const ENetEvent *e, struct pvs_gs_control_event *ev)
{
    switch (e->type) {
    case ENET_EVENT_TYPE_CONNECT:
        return on_connect(c, e, ev);
    case ENET_EVENT_TYPE_RECEIVE:
        return on_receive(c, e, ev);
    case ENET_EVENT_TYPE_DISCONNECT:
        if (e->peer != c->peer)
            return false;
        c->peer = NULL;
        pvs_mutex_lock(&c->lock);
        pvs_gs_ctl_crypto_wipe(&c->crypto);
        pvs_mutex_unlock(&c->lock);
        ev->type = PVS_GS_CONTROL_EV_DISCONNECTED;
        return true;
    default:
        return false;
    }
}

int pvs_gs_control_service(struct pvs_gs_control *c, int timeout_ms,
                           struct pvs_gs_control_event *ev)
{
    if (!c || !ev)
        return PVS_EINVAL;
    memset(ev, 0, sizeof(*ev));
    pvs_mutex_lock(&c->lock);
    bool reset = c->reset;
    c->reset = false;
    pvs_mutex_unlock(&c->lock);
    if (reset && c->peer) {
        drop_peer(c);
        ev->type = PVS_GS_CONTROL_EV_DISCONNECTED;
        return 1;
    }
    int64_t deadline = pvs_time_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * NS_PER_MS;
    for (int drained = 0;;) {
        int64_t left = deadline - pvs_time_ns();
        enet_uint32 wait = left > 0 ? (enet_uint32)((left + NS_PER_MS - 1) / NS_PER_MS) : 0;
        ENetEvent e;
        int r = enet_host_service(c->host, &e, wait);
        if (r < 0) {
            PVS_LOG_E("GameStream control: ENet failed to service its socket");
            return PVS_EIO;
        }
        if (r > 0) {
            bool got = handle(c, &e, ev);
            if (e.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(e.packet);
            if (got)
                return 1;
            memset(ev, 0, sizeof(*ev));
        }
        if ((r == 0 || ++drained >= MAX_DRAIN) && pvs_time_ns() >= deadline)
            return 0;
    }
}

bool pvs_gs_control_connected(const struct pvs_gs_control *c)
{
    return c && c->peer;
}

int pvs_gs_control_send(struct pvs_gs_control *c, uint16_t type, const uint8_t *payload,
                        size_t len)
{
    if (!c)
        return PVS_EINVAL;
    if (!c->peer)
        return PVS_EAGAIN;
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET];
    pvs_mutex_lock(&c->lock);
    int n = pvs_gs_ctl_seal(&c->crypto, type, payload, len, pkt, sizeof(pkt));
    pvs_mutex_unlock(&c->lock);
    ENetPacket *p = n > 0 ? enet_packet_create(pkt, (size_t)n, ENET_PACKET_FLAG_RELIABLE) : NULL;
    if (!p || enet_peer_send(c->peer, PVS_GS_CTL_CHANNEL_GENERIC, p) < 0) {
        if (p)
            enet_packet_destroy(p);
        c->stats.send_failed++;
        return n < 0 ? n : PVS_EIO;
    }
    enet_host_flush(c->host);
    c->stats.sent++;
    return 0;
}

int pvs_gs_control_send_rumble(struct pvs_gs_control *c, uint16_t pad, uint16_t low_freq,
                               uint16_t high_freq)
{
    uint8_t p[PVS_GS_CTL_RUMBLE_BYTES];
    size_t n = pvs_gs_ctl_rumble(pad, low_freq, high_freq, p);
    return pvs_gs_control_send(c, PVS_GS_CTL_RUMBLE, p, n);
}

int pvs_gs_control_send_termination(struct pvs_gs_control *c, uint32_t code)
{
    uint8_t p[PVS_GS_CTL_TERMINATION_BYTES];
    size_t n = pvs_gs_ctl_termination(code, p);
    return pvs_gs_control_send(c, PVS_GS_CTL_TERMINATION, p, n);
}

int pvs_gs_control_send_hdr(struct pvs_gs_control *c, bool enabled)
{
    uint8_t p[PVS_GS_CTL_HDR_BYTES];
    size_t n = pvs_gs_ctl_hdr_mode(enabled, NULL, p);
    return pvs_gs_control_send(c, PVS_GS_CTL_HDR_MODE, p, n);
}

void pvs_gs_control_get_stats(struct pvs_gs_control *c, struct pvs_gs_control_stats *out)
{
    if (!c || !out)
        return;
    pvs_mutex_lock(&c->lock);
    *out = c->stats;
    out->crypto = c->crypto.stats;
    pvs_mutex_unlock(&c->lock);
}

void pvs_gs_control_close(struct pvs_gs_control **cp)
{
    if (!cp || !*cp)
        return;
    struct pvs_gs_control *c = *cp;
    drop_peer(c);
    enet_host_flush(c->host);
    enet_host_destroy(c->host);
    mbedtls_platform_zeroize(c->key, sizeof(c->key));
    pvs_mutex_destroy(&c->lock);
    free(c);
    enet_deinitialize();
    *cp = NULL;
}
