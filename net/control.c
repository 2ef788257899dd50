/* The control channel's sessions over ENet (net/control.h).
 *
 * Every ENet packet is one message (docs/protocol.md). Both sides pass
 * PVS_ENET_BYE_DATA with every ENet disconnect they start, so a disconnect
 * event with any other data (ENet reports 0 when a peer times out) tells a
 * silent peer from one that left.
 *
 * Server and client share one file (a little over 1,000 lines) because
 * they share an endpoint (the host, the sealed half of a session: sending,
 * PING/PONG, the clock estimate; the service loop), which stays static
 * here rather than in a private header. */
#include "net/control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <enet/enet.h>
#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define NS_PER_MS 1000000ll
#define PVS_ENET_BYE_DATA 0x50565331u /* "PVS1" */
#define CLOCK_WINDOW 10               /* PONGs the clock offset is chosen from */
#define MAX_WAITING_DATA (64 * 1024)  /* per peer, for messages not yet read */
#define CLOSE_LINGER_MS 250           /* the most close waits for BYE to land */
#define MAX_DRAIN 256                 /* ENet events past the deadline, per call */
#define RATE_SLOTS 64                 /* source addresses the rate limit tracks */
#define REFUSE_LOG_NS (60 * 1000 * NS_PER_MS) /* not paired / forged: logged once
                                                 a minute per address */

const char *pvs_control_why_name(enum pvs_control_why why)
{
    switch (why) {
    case PVS_CONTROL_WHY_BYE:        return "bye";
    case PVS_CONTROL_WHY_TIMEOUT:    return "timeout";
    case PVS_CONTROL_WHY_DISCONNECT: return "disconnect";
    case PVS_CONTROL_WHY_LOCAL:      return "local";
    case PVS_CONTROL_WHY_PROTOCOL:   return "protocol";
    default:                         return "unknown";
    }
}

/* ---- pieces both sides use ------------------------------------------------ */

/* The last CLOCK_WINDOW round trips and offsets. */
struct clock_est {
    int64_t rtt[CLOCK_WINDOW];
    int64_t offset[CLOCK_WINDOW];
    int count, next;
    int64_t last_rtt;
    uint32_t samples;
};

static void clock_add(struct clock_est *c, int64_t rtt, int64_t offset)
{
    c->rtt[c->next] = rtt;
    c->offset[c->next] = offset;
    c->next = (c->next + 1) % CLOCK_WINDOW;
    if (c->count < CLOCK_WINDOW)
        c->count++;
    c->last_rtt = rtt;
    c->samples++;
}

static int clock_get(const struct clock_est *c, struct pvs_control_clock *out)
{
    if (c->count == 0)
        return PVS_EAGAIN;
    int best = 0;
    for (int i = 1; i < c->count; i++)
        if (c->rtt[i] < c->rtt[best])
            best = i;
    out->rtt_us = c->last_rtt;
    out->min_rtt_us = c->rtt[best];
    out->offset_us = c->offset[best];
    out->samples = c->samples;
    return 0;
}

/* The sealed half of a session: keys, counters, clock and PING timer. */
struct session {
    struct pvs_ctl_crypto crypto;
    struct clock_est clock;
    uint32_t ping_id;
    int64_t next_ping_ns;
};

static void session_start(struct session *s, const struct pvs_session_keys *keys,
                          int64_t now)
{
    pvs_ctl_crypto_init(&s->crypto, keys); /* libsodium is up: the handshake ran */
    memset(&s->clock, 0, sizeof(s->clock));
    s->ping_id = 0;
    s->next_ping_ns = now; /* a first sample at once */
}

static void session_end(struct session *s)
{
    pvs_ctl_crypto_wipe(&s->crypto);
    memset(&s->clock, 0, sizeof(s->clock));
}

/* What a server and a client both are: an ENet host, the peer of the one
 * connection that is or may become a session, that session, and the
 * counters. */
struct endpoint {
    ENetHost *host;
    ENetPeer *peer;
    struct session s;
    struct pvs_control_stats stats;
};

/* ep may be NULL: out is zeroed. */
static void endpoint_stats(const struct endpoint *ep, struct pvs_control_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!ep)
        return;
    *out = ep->stats;
    out->malformed += ep->s.crypto.stats.malformed;
    out->replayed += ep->s.crypto.stats.replayed;
    out->bad_tag += ep->s.crypto.stats.bad_tag;
}

static int send_bytes(ENetHost *host, ENetPeer *peer, uint8_t channel,
                      const uint8_t *buf, size_t len)
{
    /* Channel 2 is unreliable sequenced; the others reliable. */
    enet_uint32 flags = channel == PVS_CTL_CHANNEL_MOTION ? 0 : ENET_PACKET_FLAG_RELIABLE;
    ENetPacket *p = enet_packet_create(buf, len, flags);
    if (!p)
        return PVS_ENOMEM;
    if (enet_peer_send(peer, channel, p) < 0) {
        enet_packet_destroy(p);
        return PVS_EIO;
    }
    /* Control messages are few and every one matters for latency (a PING's
     * clock, a keyframe request, a key press): out now, not at the next
     * service. Motion waits for the service, which flushes it with any
     * motion after it in one datagram. */
    if (channel != PVS_CTL_CHANNEL_MOTION)
        enet_host_flush(host);
    return 0;
}

static int send_clear(ENetHost *host, ENetPeer *peer, const struct pvs_ctl_msg *m)
{
    uint8_t buf[PVS_CTL_MAX_MESSAGE];
    int n = pvs_ctl_encode(m, buf, sizeof(buf));
    if (n < 0)
        return n;
    return send_bytes(host, peer, PVS_CTL_CHANNEL_CONTROL, buf, (size_t)n);
}

/* Seals an inner message (type byte and body) for the session's peer. */
static int send_sealed_bytes(struct endpoint *ep, uint8_t channel, const uint8_t *plain,
                             size_t len)
{
    uint8_t sealed[PVS_CTL_MAX_MESSAGE + PVS_CTL_SEAL_OVERHEAD];
    int n = pvs_ctl_seal(&ep->s.crypto, channel, plain, len, sealed, sizeof(sealed));
    if (n < 0)
        return n;
    return send_bytes(ep->host, ep->peer, channel, sealed, (size_t)n);
}

/* Seals m for the session's peer, on `channel`. */
static int send_sealed_on(struct endpoint *ep, uint8_t channel, const struct pvs_ctl_msg *m)
{
    uint8_t plain[PVS_CTL_MAX_MESSAGE];
    int n = pvs_ctl_encode(m, plain, sizeof(plain));
    if (n < 0)
        return n;
    n = send_sealed_bytes(ep, channel, plain, (size_t)n);
    sodium_memzero(plain, sizeof(plain));
    return n;
}

static int send_sealed(struct endpoint *ep, const struct pvs_ctl_msg *m)
{
    return send_sealed_on(ep, PVS_CTL_CHANNEL_CONTROL, m);
}

/* FEEDBACK and RATE: on the unreliable channel (a lost one is replaced by
 * the next, and a retransmitted one would be stale), flushed at once. */
static int send_unreliable(struct endpoint *ep, const struct pvs_ctl_msg *m)
{
    int rc = send_sealed_on(ep, PVS_CTL_CHANNEL_MOTION, m);
    if (rc == 0)
        enet_host_flush(ep->host);
    return rc;
}

/* A session's first PINGs go out this often: the first samples are taken
 * while both sides are still setting up (decoder, audio device), so their
 * round trips are long and lopsided, and the clock offset every latency
 * figure uses follows the smallest round trip of the last ten. */
#define FAST_PINGS 10
#define FAST_PING_MS 50

/* Sends a PING when one is due. Returns when the next one is (0: never). */
static int64_t ping_timer(struct endpoint *ep, int interval_ms, int64_t now)
{
    if (interval_ms <= 0)
        return 0;
    if (ep->s.ping_id < FAST_PINGS && interval_ms > FAST_PING_MS)
        interval_ms = FAST_PING_MS;
    if (now >= ep->s.next_ping_ns) {
        struct pvs_ctl_msg m = {.type = PVS_CTL_PING};
        m.u.ping.id = ++ep->s.ping_id;
        m.u.ping.clock_us = (uint64_t)pvs_time_us();
        if (send_sealed(ep, &m) == 0)
            ep->stats.pings_sent++;
        ep->s.next_ping_ns = now + interval_ms * NS_PER_MS;
    }
    return ep->s.next_ping_ns;
}

/* Answers a PING; takes a PONG's clock sample: t0 our PING's clock
 * (echoed), t1 the peer's clock, now_us t2. Returns false for any other
 * message, left to the caller. */
static bool ping_pong(struct endpoint *ep, const struct pvs_ctl_msg *m, int64_t now_us)
{
    if (m->type == PVS_CTL_PING) {
        struct pvs_ctl_msg r = {.type = PVS_CTL_PONG};
        r.u.pong.id = m->u.ping.id;
        r.u.pong.ping_clock_us = m->u.ping.clock_us;
        r.u.pong.clock_us = (uint64_t)now_us;
        send_sealed(ep, &r);
        return true;
    }
    if (m->type != PVS_CTL_PONG)
        return false;
    const struct pvs_ctl_pong *pong = &m->u.pong;
    int64_t t0 = (int64_t)pong->ping_clock_us, t1 = (int64_t)pong->clock_us;
    int64_t rtt = now_us - t0;
    /* Authenticated, so from the peer; still, only our own recent PINGs
     * make a sample. */
    if (pong->ping_clock_us > (uint64_t)INT64_MAX || pong->clock_us > (uint64_t)INT64_MAX ||
        rtt < 0 || rtt > 60 * 1000000ll) {
        ep->stats.malformed++;
        return true;
    }
    ep->stats.pongs_received++;
    clock_add(&ep->s.clock, rtt, t1 - (t0 + rtt / 2));
    return true;
}

/* Parses a clear message (the handshake's). Returns 0 with *m filled;
 * PVS_EBADDATA when it does not parse, PVS_ENOTSUP when it came sealed
 * (each counted). */
static int open_clear(struct endpoint *ep, const ENetEvent *e, struct pvs_ctl_msg *m)
{
    const uint8_t *data = e->packet->data;
    size_t len = e->packet->dataLength;
    if (len >= 1 && data[0] == PVS_CTL_SEALED) {
        ep->stats.unexpected++;
        return PVS_ENOTSUP;
    }
    if (pvs_ctl_parse_clear(data, len, m) < 0) {
        ep->stats.malformed++;
        return PVS_EBADDATA;
    }
    return 0;
}

/* Opens and parses a sealed message. Returns true with *m filled when it is
 * one to act on; false when it was dropped (and counted). An input event
 * (on an input channel, within PVS_CTL_INPUT_MAX) comes back unparsed in
 * *input with m->type its inner type. */
static bool open_sealed(struct endpoint *ep, const ENetEvent *e, struct pvs_ctl_msg *m,
                        uint8_t input[PVS_CTL_INPUT_MAX], uint8_t *input_len)
{
    const uint8_t *data = e->packet->data;
    size_t len = e->packet->dataLength;
    if (len < 1 || data[0] != PVS_CTL_SEALED) {
        ep->stats.clear_after_keys++;
        return false;
    }
    uint8_t plain[PVS_CTL_MAX_RECEIVE];
    int n = pvs_ctl_open(&ep->s.crypto, e->channelID, data, len, plain, sizeof(plain));
    if (n < 0)
        return false; /* counted in the crypto stats */
    if (input && plain[0] >= PVS_CTL_INPUT_FIRST && plain[0] <= PVS_CTL_INPUT_LAST &&
        e->channelID != PVS_CTL_CHANNEL_CONTROL && n <= PVS_CTL_INPUT_MAX) {
        memcpy(input, plain, (size_t)n);
        *input_len = (uint8_t)n;
        m->type = (enum pvs_ctl_type)plain[0];
        return true;
    }
    int rc = pvs_ctl_parse_inner(plain, (size_t)n, m);
    sodium_memzero(plain, (size_t)n);
    if (rc == PVS_ENOTSUP) {
        ep->stats.unknown_type++;
        return false;
    }
    if (rc < 0) {
        ep->stats.malformed++;
        return false;
    }
    return true;
}

/* buf: 64 bytes hold any of them. */
static void addr_text(const ENetAddress *a, char *buf, size_t len, bool with_port)
{
    char ip[40]; /* IPv4 text is at most 15 */
    if (enet_address_get_host_ip(a, ip, sizeof(ip)) != 0)
        snprintf(ip, sizeof(ip), "?");
    if (with_port)
        snprintf(buf, len, "%s:%u", ip, (unsigned)a->port);
    else
        snprintf(buf, len, "%s", ip);
}

/* Why ENet reports a peer gone: both sides disconnect with
 * PVS_ENET_BYE_DATA; anything else (0) is ENet's timeout. */
static enum pvs_control_why why_gone(const ENetEvent *e)
{
    return e->data == PVS_ENET_BYE_DATA ? PVS_CONTROL_WHY_DISCONNECT : PVS_CONTROL_WHY_TIMEOUT;
}

static int64_t deadline_after(int timeout_ms)
{
    return pvs_time_ns() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * NS_PER_MS;
}

/* How long to wait in enet_host_service: until the deadline or the next
 * timer, whichever is first, rounded up to whole milliseconds. */
static enet_uint32 wait_ms(int64_t now, int64_t deadline, int64_t next_timer)
{
    int64_t until = deadline;
    if (next_timer > 0 && next_timer < until)
        until = next_timer;
    if (until <= now)
        return 0;
    return (enet_uint32)((until - now + NS_PER_MS - 1) / NS_PER_MS);
}

static ENetHost *make_host(const ENetAddress *bind, size_t peers)
{
    ENetHost *h = enet_host_create(bind, peers, PVS_CTL_CHANNELS, 0, 0);
    if (h) {
        /* Nothing legitimate is large: do not let a peer make ENet hold
         * megabytes for it. */
        h->maximumPacketSize = PVS_CTL_MAX_RECEIVE;
        h->maximumWaitingData = MAX_WAITING_DATA;
    }
    return h;
}

/* Disconnects every peer still there at once (nobody is left to wait for
 * their answers), then frees the host and the session. */
static void endpoint_close(struct endpoint *ep)
{
    for (size_t i = 0; i < ep->host->peerCount; i++) {
        ENetPeer *p = &ep->host->peers[i];
        if (p->state != ENET_PEER_STATE_DISCONNECTED)
            enet_peer_disconnect_now(p, PVS_ENET_BYE_DATA);
    }
    enet_host_flush(ep->host);
    enet_host_destroy(ep->host);
    session_end(&ep->s);
}

/* What makes a server or a client of the service loop below; self is the
 * pvs_control_server or pvs_control_client. */
struct side_ops {
    const char *name; /* for messages */
    /* Runs what is due (HELLO deadline, PING, reconnect). Returns the time
     * of the next timer (0: none). */
    int64_t (*timers)(void *self, int64_t now);
    /* Takes one ENet event (a packet is destroyed after). Returns true with
     * *ev filled when it is one for the caller. */
    bool (*handle)(void *self, const ENetEvent *e, struct pvs_control_event *ev);
};

/* pvs_control_server_service and pvs_control_client_service. */
static int service(struct endpoint *ep, const struct side_ops *ops, void *self,
                   int timeout_ms, struct pvs_control_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    int64_t deadline = deadline_after(timeout_ms);
    int drained = 0;
    for (;;) {
        int64_t now = pvs_time_ns();
        int64_t next = ops->timers(self, now);
        ENetEvent e;
        int r = enet_host_service(ep->host, &e, wait_ms(now, deadline, next));
        if (r < 0) {
            PVS_LOG_E("control %s: ENet failed to service its socket", ops->name);
            return PVS_EIO;
        }
        if (r > 0) {
            bool got = ops->handle(self, &e, ev);
            if (e.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(e.packet);
            if (got)
                return 1;
        }
        /* What is ready is handled even past the deadline (so timeout 0
         * drains it), but only so much: a flood must not hold the caller. */
        if ((r == 0 || ++drained >= MAX_DRAIN) && pvs_time_ns() >= deadline)
            return 0;
    }
}

/* ---- server --------------------------------------------------------------- */

struct pvs_control_server {
    struct pvs_control_server_config cfg;
    /* ep.peer: the connection being served, waiting for its HELLO or
     * keyed. Others are refused and left to disconnect. */
    struct endpoint ep;
    uint16_t port;
    bool keyed;
    int64_t client_since_ns;
    char client_name[64];
    char host_name[64];     /* this machine's, for REFUSE's advice */
    char busy[PVS_CTL_REFUSE_TEXT_MAX + 1]; /* "": take clients; else refuse them with it */
    /* Handshake attempts per source address, least recently seen evicted
     * when full. tokens: attempts left, refilled at rate_attempts per
     * rate_window_ms. */
    struct rate_slot {
        enet_uint32 host;
        bool used;
        double tokens;
        int64_t seen_ns;
        int64_t logged_ns;  /* last refusal logged at info level; 0: none */
    } rate[RATE_SLOTS];
};

/* The slot of a source address, made (evicting the least recently seen)
 * when it has none. */
static struct rate_slot *rate_slot(struct pvs_control_server *srv, enet_uint32 host,
                                   int64_t now)
{
    struct rate_slot *oldest = &srv->rate[0];
    for (int i = 0; i < RATE_SLOTS; i++) {
        struct rate_slot *r = &srv->rate[i];
        if (r->used && r->host == host)
            return r;
        if (!r->used || (oldest->used && r->seen_ns < oldest->seen_ns))
            oldest = r;
    }
    *oldest = (struct rate_slot){.host = host, .used = true,
                                 .tokens = srv->cfg.rate_attempts, .seen_ns = now};
    return oldest;
}

/* Takes one attempt from the address's bucket. False when it has none
 * left. */
static bool rate_take(struct pvs_control_server *srv, enet_uint32 host, int64_t now)
{
    struct rate_slot *r = rate_slot(srv, host, now);
    double cap = srv->cfg.rate_attempts;
    r->tokens += (double)(now - r->seen_ns) * cap /
                 ((double)srv->cfg.rate_window_ms * NS_PER_MS);
    if (r->tokens > cap)
        r->tokens = cap;
    r->seen_ns = now;
    if (r->tokens < 1.0)
        return false;
    r->tokens -= 1.0;
    return true;
}

/* Whether a refusal of this address should be logged at info level now
 * (at most once per REFUSE_LOG_NS): a stranger trying again and again
 * must not fill the log. */
static bool rate_log(struct pvs_control_server *srv, enet_uint32 host, int64_t now)
{
    struct rate_slot *r = rate_slot(srv, host, now);
    if (r->logged_ns && now - r->logged_ns < REFUSE_LOG_NS)
        return false;
    r->logged_ns = now;
    return true;
}

void pvs_control_server_default_config(struct pvs_control_server_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = PVS_CONTROL_DEFAULT_PORT;
    cfg->version_min = PVS_CTL_VERSION;
    cfg->version_max = PVS_CTL_VERSION;
    cfg->codecs = PVS_CTL_CODEC_BIT_H264 | PVS_CTL_CODEC_BIT_HEVC | PVS_CTL_CODEC_BIT_AV1;
    cfg->hello_timeout_ms = 3000;
    cfg->peer_timeout_min_ms = 2000;
    cfg->peer_timeout_max_ms = 4000;
    cfg->ping_interval_ms = 1000;
    cfg->max_pending = 4;
    cfg->rate_attempts = 5;
    cfg->rate_window_ms = 10000;
}

int pvs_control_server_open(struct pvs_control_server **out,
                            const struct pvs_control_server_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg || cfg->version_min < 2 || cfg->version_min > cfg->version_max ||
        cfg->version_max > PVS_CTL_VERSION ||
        cfg->codecs == 0 || cfg->hello_timeout_ms <= 0 ||
        cfg->peer_timeout_min_ms <= 0 || cfg->peer_timeout_max_ms < cfg->peer_timeout_min_ms ||
        cfg->ping_interval_ms < 0 || cfg->max_pending < 0 || cfg->max_pending > 64 ||
        cfg->rate_attempts < 1 || cfg->rate_window_ms < 1) {
        PVS_LOG_E("control server: invalid configuration");
        return PVS_EINVAL;
    }
    if (!pvs_static_keys_valid(&cfg->identity) || (!cfg->is_paired && !cfg->accept_any_client)) {
        PVS_LOG_E("control server: no identity key pair, or no way to tell paired "
                  "clients (is_paired), in its configuration");
        return PVS_EINVAL;
    }
    if (enet_initialize() != 0) {
        PVS_LOG_E("control server: ENet failed to initialize");
        return PVS_EEXTERNAL;
    }
    struct pvs_control_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        enet_deinitialize();
        return PVS_ENOMEM;
    }
    srv->cfg = *cfg;
    srv->cfg.bind_host = NULL; /* not kept: the caller's string */
    if (pvs_host_name(srv->host_name, sizeof(srv->host_name)) != 0 || !srv->host_name[0])
        snprintf(srv->host_name, sizeof(srv->host_name), "this server");
    if (cfg->accept_any_client)
        PVS_LOG_W("control server: accepting any client key (accept_any_client): "
                  "clients are not authenticated");

    ENetAddress bind = {.host = ENET_HOST_ANY, .port = cfg->port};
    const char *where = cfg->bind_host && *cfg->bind_host ? cfg->bind_host : "*";
    if (cfg->bind_host && *cfg->bind_host && enet_address_set_host(&bind, cfg->bind_host) != 0) {
        PVS_LOG_E("control server: cannot resolve the bind address '%s': give an "
                  "IPv4 address of this machine, or none for all", cfg->bind_host);
        pvs_static_keys_wipe(&srv->cfg.identity);
        free(srv);
        enet_deinitialize();
        return PVS_ENOENT;
    }
    srv->ep.host = make_host(&bind, 1 + (size_t)cfg->max_pending);
    if (!srv->ep.host) {
        PVS_LOG_E("control server: cannot listen on UDP %s:%u: the port is in use "
                  "or not allowed; stop the other server or pick another port",
                  where, (unsigned)cfg->port);
        pvs_static_keys_wipe(&srv->cfg.identity);
        free(srv);
        enet_deinitialize();
        return PVS_EIO;
    }
    ENetAddress bound;
    srv->port = enet_socket_get_address(srv->ep.host->socket, &bound) == 0 ? bound.port
                                                                         : cfg->port;
    PVS_LOG_I("control server listening on UDP %s:%u", where, (unsigned)srv->port);
    *out = srv;
    return 0;
}

uint16_t pvs_control_server_port(const struct pvs_control_server *srv)
{
    return srv ? srv->port : 0;
}

void pvs_control_server_set_busy(struct pvs_control_server *srv, const char *why)
{
    if (srv)
        snprintf(srv->busy, sizeof(srv->busy), "%s", why ? why : "");
}

bool pvs_control_server_has_client(const struct pvs_control_server *srv)
{
    return srv && srv->ep.peer && srv->keyed;
}

/* Forgets the current connection (ENet may still be closing it). */
static void server_drop_client(struct pvs_control_server *srv)
{
    srv->ep.peer = NULL;
    if (srv->keyed)
        session_end(&srv->ep.s);
    srv->keyed = false;
}

static void server_refuse(struct pvs_control_server *srv, ENetPeer *peer,
                          uint8_t reason, const char *text)
{
    bool loud = true;
    if (reason == PVS_CTL_REFUSE_NOT_PAIRED || reason == PVS_CTL_REFUSE_AUTH)
        loud = rate_log(srv, peer->address.host, pvs_time_ns());
    struct pvs_ctl_msg m = {.type = PVS_CTL_REFUSE};
    m.u.refuse.reason = reason;
    size_t n = strlen(text);
    if (n > PVS_CTL_REFUSE_TEXT_MAX)
        n = PVS_CTL_REFUSE_TEXT_MAX;
    memcpy(m.u.refuse.text, text, n);
    m.u.refuse.text_len = (uint8_t)n;
    send_clear(srv->ep.host, peer, &m);
    /* After the REFUSE is acknowledged, so it is not lost with the peer. */
    enet_peer_disconnect_later(peer, PVS_ENET_BYE_DATA);
    srv->ep.stats.refused++;
    char who[64];
    addr_text(&peer->address, who, sizeof(who), true);
    if (loud)
        PVS_LOG_I("control: refused %s: %s", who, text);
    else
        PVS_LOG_D("control: refused %s: %s", who, text);
    if (peer == srv->ep.peer)
        server_drop_client(srv);
}

static void codec_list(uint32_t bits, char *buf, size_t len)
{
    static const char *const names[] = {"H.264", "HEVC", "AV1"};
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < 3; i++) {
        if (!(bits & (1u << i)))
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
    if (used == 0)
        snprintf(buf, len, "none");
}

/* Refuses a client whose HELLO did not authenticate, or who is not paired;
 * rc is pvs_handshake_server_check's. */
static void server_refuse_auth(struct pvs_control_server *srv, ENetPeer *peer, int rc)
{
    char text[PVS_CTL_REFUSE_TEXT_MAX + 1];
    if (rc == PVS_ENOENT) {
        srv->ep.stats.not_paired++;
        snprintf(text, sizeof(text),
                 "this client is not paired with %s: run pvstream-client pair %s",
                 srv->host_name, srv->host_name);
        server_refuse(srv, peer, PVS_CTL_REFUSE_NOT_PAIRED, text);
    } else if (rc == PVS_EBADDATA) {
        srv->ep.stats.auth_failed++;
        server_refuse(srv, peer, PVS_CTL_REFUSE_AUTH,
                      "authentication failed: this client's pairing does not match "
                      "this server's identity; pair again");
    } else {
        server_refuse(srv, peer, PVS_CTL_REFUSE_SHUTDOWN, "the server cannot make keys");
    }
}

/* hello/len: the HELLO as it came (the handshake checks its bytes); h: it
 * parsed. */
static bool server_hello(struct pvs_control_server *srv, ENetPeer *peer, const uint8_t *hello,
                         size_t len, const struct pvs_ctl_hello *h,
                         struct pvs_control_event *ev)
{
    char text[PVS_CTL_REFUSE_TEXT_MAX + 1];
    uint16_t lo = h->version_min > srv->cfg.version_min ? h->version_min : srv->cfg.version_min;
    uint16_t hi = h->version_max < srv->cfg.version_max ? h->version_max : srv->cfg.version_max;
    if (hi < lo) {
        if (h->version_max < 2)
            snprintf(text, sizeof(text),
                     "this server requires paired, authenticated sessions (protocol "
                     "version %u); the client speaks version %u..%u: update it",
                     (unsigned)srv->cfg.version_min, (unsigned)h->version_min,
                     (unsigned)h->version_max);
        else
            snprintf(text, sizeof(text),
                     "no common protocol version: the server speaks %u..%u, the client %u..%u",
                     (unsigned)srv->cfg.version_min, (unsigned)srv->cfg.version_max,
                     (unsigned)h->version_min, (unsigned)h->version_max);
        server_refuse(srv, peer, PVS_CTL_REFUSE_VERSION, text);
        return false;
    }

    /* Who it is, before anything else about this server is told. */
    struct pvs_handshake hs;
    char name[64];
    int rc = pvs_handshake_server_check(&hs, hello, len, &srv->cfg.identity,
                                        srv->cfg.accept_any_client ? NULL : srv->cfg.is_paired,
                                        srv->cfg.is_paired_ctx, name, sizeof(name));
    if (rc < 0) {
        server_refuse_auth(srv, peer, rc);
        return false;
    }

    uint32_t common = h->codecs & srv->cfg.codecs;
    if (common == 0) {
        pvs_handshake_wipe(&hs);
        char enc[32], dec[32];
        codec_list(srv->cfg.codecs, enc, sizeof(enc));
        codec_list(h->codecs, dec, sizeof(dec));
        snprintf(text, sizeof(text),
                 "no common codec: the server encodes %s, the client decodes %s", enc, dec);
        server_refuse(srv, peer, PVS_CTL_REFUSE_CODEC, text);
        return false;
    }

    struct pvs_session_keys keys;
    struct pvs_ctl_msg m = {.type = PVS_CTL_WELCOME};
    m.u.welcome.version = hi;
    memcpy(m.u.welcome.public_key, hs.public_key, PVS_HANDSHAKE_PUBLIC_BYTES);
    uint8_t buf[PVS_CTL_MAX_MESSAGE];
    int n = pvs_ctl_encode(&m, buf, sizeof(buf));
    rc = n < 0 ? n : pvs_handshake_server_finish(&hs, buf, (size_t)n, &keys);
    pvs_handshake_wipe(&hs);
    if (rc == 0)
        rc = send_bytes(srv->ep.host, peer, PVS_CTL_CHANNEL_CONTROL, buf, (size_t)n);
    if (rc < 0) {
        pvs_session_keys_wipe(&keys);
        PVS_LOG_W("control: cannot send WELCOME: %s", pvs_strerror(rc));
        enet_peer_disconnect(peer, PVS_ENET_BYE_DATA);
        server_drop_client(srv);
        return false;
    }

    session_start(&srv->ep.s, &keys, pvs_time_ns());
    srv->keyed = true;
    srv->ep.stats.sessions++;

    ev->type = PVS_CONTROL_EV_CLIENT_READY;
    ev->u.ready.hello = *h;
    ev->u.ready.version = hi;
    ev->u.ready.codecs = common;
    char ip[64];
    addr_text(&peer->address, ip, sizeof(ip), false);
    pvs_addr_resolve(&ev->u.ready.control_addr, ip, peer->address.port);
    pvs_addr_resolve(&ev->u.ready.media_addr, ip, h->media_port);
    snprintf(ev->u.ready.client_name, sizeof(ev->u.ready.client_name), "%s", name);
    memcpy(ev->u.ready.client_key, h->static_key, PVS_HANDSHAKE_PUBLIC_BYTES);
    ev->u.ready.keys = keys;
    pvs_session_keys_wipe(&keys);
    PVS_LOG_I("control: client %s%s%s%s ready (version %u, media port %u)", srv->client_name,
              name[0] ? " (" : "", name, name[0] ? ")" : "", (unsigned)hi,
              (unsigned)h->media_port);
    return true;
}

static bool server_receive(struct pvs_control_server *srv, const ENetEvent *e,
                           struct pvs_control_event *ev)
{
    if (e->peer != srv->ep.peer) {
        srv->ep.stats.unexpected++; /* a refused peer, or one we let go */
        return false;
    }
    struct pvs_ctl_msg m;
    if (!srv->keyed) {
        int rc = open_clear(&srv->ep, e, &m);
        if (rc == PVS_EBADDATA)
            server_refuse(srv, e->peer, PVS_CTL_REFUSE_MALFORMED, "malformed HELLO");
        if (rc < 0)
            return false;
        if (m.type != PVS_CTL_HELLO) {
            srv->ep.stats.unexpected++;
            return false;
        }
        return server_hello(srv, e->peer, e->packet->data, e->packet->dataLength,
                            &m.u.hello, ev);
    }

    int64_t now_us = pvs_time_us();
    uint8_t input[PVS_CTL_INPUT_MAX], input_len = 0;
    if (!open_sealed(&srv->ep, e, &m, input, &input_len) || ping_pong(&srv->ep, &m, now_us))
        return false;
    if (input_len) {
        ev->type = PVS_CONTROL_EV_INPUT;
        ev->u.input.channel = e->channelID;
        ev->u.input.len = input_len;
        memcpy(ev->u.input.msg, input, input_len);
        return true;
    }
    switch (m.type) {
    case PVS_CTL_KEYFRAME_REQUEST:
        ev->type = PVS_CONTROL_EV_KEYFRAME_REQUEST;
        ev->u.keyframe_request = m.u.keyframe_request;
        return true;
    case PVS_CTL_STATS:
        ev->type = PVS_CONTROL_EV_STATS;
        ev->u.stats = m.u.stats;
        return true;
    case PVS_CTL_FEEDBACK:
        ev->type = PVS_CONTROL_EV_FEEDBACK;
        ev->u.feedback = m.u.feedback;
        return true;
    case PVS_CTL_BYE:
        PVS_LOG_I("control: client %s said goodbye (reason %u)", srv->client_name,
                  (unsigned)m.u.bye.reason);
        enet_peer_disconnect(e->peer, PVS_ENET_BYE_DATA);
        server_drop_client(srv);
        ev->type = PVS_CONTROL_EV_CLIENT_GONE;
        ev->u.gone.why = PVS_CONTROL_WHY_BYE;
        ev->u.gone.bye_reason = m.u.bye.reason;
        return true;
    default:
        srv->ep.stats.unexpected++; /* STREAM and RUMBLE are the server's to send */
        return false;
    }
}

static bool server_handle(void *self, const ENetEvent *e, struct pvs_control_event *ev)
{
    struct pvs_control_server *srv = self;
    switch (e->type) {
    case ENET_EVENT_TYPE_CONNECT:
        if (!rate_take(srv, e->peer->address.host, pvs_time_ns())) {
            /* No answer at all: forgotten at once, and what it sends next
             * is dropped by ENet (the peer slot is free again). */
            srv->ep.stats.rate_limited++;
            char who[64];
            addr_text(&e->peer->address, who, sizeof(who), true);
            PVS_LOG_D("control: %s is over the handshake rate limit: dropped", who);
            enet_peer_reset(e->peer);
            return false;
        }
        enet_peer_timeout(e->peer, 0, (enet_uint32)srv->cfg.peer_timeout_min_ms,
                          (enet_uint32)srv->cfg.peer_timeout_max_ms);
        if (srv->busy[0] && !srv->ep.peer) {
            server_refuse(srv, e->peer, PVS_CTL_REFUSE_BUSY, srv->busy);
            return false;
        }
        if (srv->ep.peer) {
            char text[PVS_CTL_REFUSE_TEXT_MAX + 1];
            char ip[64];
            addr_text(&srv->ep.peer->address, ip, sizeof(ip), false);
            snprintf(text, sizeof(text), "another client (%s) is %s", ip,
                     srv->keyed ? "streaming" : "connecting");
            server_refuse(srv, e->peer, PVS_CTL_REFUSE_BUSY, text);
            return false;
        }
        srv->ep.peer = e->peer;
        srv->keyed = false;
        srv->client_since_ns = pvs_time_ns();
        addr_text(&e->peer->address, srv->client_name, sizeof(srv->client_name), true);
        PVS_LOG_D("control: %s connected, waiting for HELLO", srv->client_name);
        return false;
    case ENET_EVENT_TYPE_RECEIVE:
        return server_receive(srv, e, ev);
    case ENET_EVENT_TYPE_DISCONNECT:
        if (e->peer != srv->ep.peer)
            return false;
        {
            bool was_keyed = srv->keyed;
            enum pvs_control_why why = why_gone(e);
            server_drop_client(srv);
            PVS_LOG_I("control: client %s gone (%s)", srv->client_name,
                      pvs_control_why_name(why));
            if (!was_keyed)
                return false;
            ev->type = PVS_CONTROL_EV_CLIENT_GONE;
            ev->u.gone.why = why;
            return true;
        }
    default:
        return false;
    }
}

/* HELLO deadline and PING. Returns the time of the next timer (0: none). */
static int64_t server_timers(void *self, int64_t now)
{
    struct pvs_control_server *srv = self;
    if (srv->ep.peer && !srv->keyed) {
        int64_t due = srv->client_since_ns + srv->cfg.hello_timeout_ms * NS_PER_MS;
        if (now < due)
            return due;
        PVS_LOG_I("control: %s sent no HELLO within %d ms: dropped", srv->client_name,
                  srv->cfg.hello_timeout_ms);
        enet_peer_disconnect(srv->ep.peer, PVS_ENET_BYE_DATA);
        srv->ep.stats.hello_timeouts++;
        server_drop_client(srv);
        return 0;
    }
    if (srv->ep.peer && srv->keyed)
        return ping_timer(&srv->ep, srv->cfg.ping_interval_ms, now);
    return 0;
}

int pvs_control_server_service(struct pvs_control_server *srv, int timeout_ms,
                               struct pvs_control_event *ev)
{
    static const struct side_ops ops = {"server", server_timers, server_handle};
    if (!srv || !ev)
        return PVS_EINVAL;
    return service(&srv->ep, &ops, srv, timeout_ms, ev);
}

/* Seals m for the keyed client (the control channel, reliable). */
static int server_send(struct pvs_control_server *srv, const struct pvs_ctl_msg *m)
{
    if (!pvs_control_server_has_client(srv))
        return PVS_ENOENT;
    return send_sealed(&srv->ep, m);
}

int pvs_control_server_send_stream(struct pvs_control_server *srv,
                                   const struct pvs_ctl_stream *stream)
{
    if (!srv || !stream)
        return PVS_EINVAL;
    struct pvs_ctl_msg m = {.type = PVS_CTL_STREAM};
    m.u.stream = *stream;
    return server_send(srv, &m);
}

int pvs_control_server_send_rumble(struct pvs_control_server *srv,
                                   const struct pvs_ctl_rumble *rumble)
{
    if (!srv || !rumble)
        return PVS_EINVAL;
    struct pvs_ctl_msg m = {.type = PVS_CTL_RUMBLE};
    m.u.rumble = *rumble;
    return server_send(srv, &m);
}

int pvs_control_server_send_rate(struct pvs_control_server *srv, const struct pvs_ctl_rate *rate)
{
    if (!srv || !rate)
        return PVS_EINVAL;
    if (!srv->keyed)
        return PVS_ENOENT;
    struct pvs_ctl_msg m = {.type = PVS_CTL_RATE};
    m.u.rate = *rate;
    return send_unreliable(&srv->ep, &m);
}

int pvs_control_server_disconnect(struct pvs_control_server *srv, uint8_t reason)
{
    if (!srv)
        return PVS_EINVAL;
    if (!srv->ep.peer)
        return PVS_ENOENT;
    if (srv->keyed) {
        struct pvs_ctl_msg m = {.type = PVS_CTL_BYE};
        m.u.bye.reason = reason;
        send_sealed(&srv->ep, &m);
    }
    enet_peer_disconnect_later(srv->ep.peer, PVS_ENET_BYE_DATA);
    PVS_LOG_I("control: disconnecting client %s", srv->client_name);
    server_drop_client(srv);
    return 0;
}

int pvs_control_server_get_clock(const struct pvs_control_server *srv,
                                 struct pvs_control_clock *out)
{
    if (!srv || !out)
        return PVS_EINVAL;
    if (!pvs_control_server_has_client(srv))
        return PVS_EAGAIN;
    return clock_get(&srv->ep.s.clock, out);
}

void pvs_control_server_get_stats(const struct pvs_control_server *srv,
                                  struct pvs_control_stats *out)
{
    endpoint_stats(srv ? &srv->ep : NULL, out);
}

void pvs_control_server_close(struct pvs_control_server **psrv)
{
    if (!psrv || !*psrv)
        return;
    struct pvs_control_server *srv = *psrv;
    if (srv->ep.peer && srv->keyed) {
        /* BYE, then a disconnect once it is acknowledged. An immediate
         * disconnect could overtake it: ENet drops what a peer has not yet
         * handed over when the disconnect comes. Wait a little for that,
         * never long: a silent client must not hold the shutdown. */
        struct pvs_ctl_msg m = {.type = PVS_CTL_BYE};
        m.u.bye.reason = PVS_CTL_BYE_SHUTDOWN;
        ENetPeer *p = srv->ep.peer;
        send_sealed(&srv->ep, &m);
        enet_peer_disconnect_later(p, PVS_ENET_BYE_DATA);
        int64_t until = pvs_time_ns() + CLOSE_LINGER_MS * NS_PER_MS;
        while (p->state != ENET_PEER_STATE_DISCONNECTED && pvs_time_ns() < until) {
            ENetEvent e;
            int r = enet_host_service(srv->ep.host, &e, 5);
            if (r < 0)
                break;
            if (r > 0 && e.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(e.packet);
        }
    }
    server_drop_client(srv);
    endpoint_close(&srv->ep);
    pvs_static_keys_wipe(&srv->cfg.identity);
    free(srv);
    enet_deinitialize();
    *psrv = NULL;
}

/* ---- client --------------------------------------------------------------- */

enum client_state {
    C_IDLE,        /* waiting to try again */
    C_CONNECTING,  /* ENet connect under way */
    C_HELLO_SENT,
    C_KEYED,
    C_LEAVING,     /* BYE sent, disconnecting */
    C_STOPPED,     /* refused, or told to stop */
};

struct pvs_control_client {
    struct pvs_control_client_config cfg;
    /* ep.peer: the current attempt (NULL between attempts). */
    struct endpoint ep;
    ENetAddress server;
    char server_name[300];

    enum client_state state;
    int64_t next_attempt_ns;
    int64_t hello_sent_ns;
    struct pvs_handshake hs;
};

void pvs_control_client_default_config(struct pvs_control_client_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = PVS_CONTROL_DEFAULT_PORT;
    cfg->hello.version_min = PVS_CTL_VERSION;
    cfg->hello.version_max = PVS_CTL_VERSION;
    cfg->hello.codecs = PVS_CTL_CODEC_BIT_H264 | PVS_CTL_CODEC_BIT_HEVC | PVS_CTL_CODEC_BIT_AV1;
    cfg->hello.max_width = 3840;
    cfg->hello.max_height = 2160;
    cfg->hello.max_fps = 240;
    cfg->hello.max_datagram = 1400;
    cfg->hello.media_port = 47102;
    cfg->reconnect_interval_ms = 1000;
    cfg->welcome_timeout_ms = 5000;
    cfg->peer_timeout_min_ms = 2000;
    cfg->peer_timeout_max_ms = 4000;
    cfg->ping_interval_ms = 1000;
}

int pvs_control_client_open(struct pvs_control_client **out,
                            const struct pvs_control_client_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_ctl_msg probe = {.type = PVS_CTL_HELLO};
    uint8_t buf[PVS_CTL_MAX_MESSAGE];
    if (cfg)
        probe.u.hello = cfg->hello;
    if (!cfg || !cfg->host || !*cfg->host || cfg->port == 0 ||
        pvs_ctl_encode(&probe, buf, sizeof(buf)) < 0 || cfg->reconnect_interval_ms <= 0 ||
        cfg->welcome_timeout_ms <= 0 || cfg->peer_timeout_min_ms <= 0 ||
        cfg->peer_timeout_max_ms < cfg->peer_timeout_min_ms || cfg->ping_interval_ms < 0 ||
        cfg->hello.version_min < 2) {
        PVS_LOG_E("control client: invalid configuration");
        return PVS_EINVAL;
    }
    if (!pvs_static_keys_valid(&cfg->identity) ||
        sodium_is_zero(cfg->server_key, sizeof(cfg->server_key))) {
        PVS_LOG_E("control client: no identity key pair or no server key in its "
                  "configuration: pair with the server first");
        return PVS_EINVAL;
    }
    if (enet_initialize() != 0) {
        PVS_LOG_E("control client: ENet failed to initialize");
        return PVS_EEXTERNAL;
    }
    struct pvs_control_client *cli = calloc(1, sizeof(*cli));
    if (!cli) {
        enet_deinitialize();
        return PVS_ENOMEM;
    }
    cli->cfg = *cfg;
    cli->cfg.host = NULL; /* not kept: the caller's string */
    snprintf(cli->server_name, sizeof(cli->server_name), "%s:%u", cfg->host,
             (unsigned)cfg->port);
    int rc;
    if (enet_address_set_host(&cli->server, cfg->host) != 0) {
        PVS_LOG_E("control client: cannot resolve the server '%s': check the name, "
                  "or give its IPv4 address", cfg->host);
        rc = PVS_ENOENT;
        goto fail;
    }
    cli->server.port = cfg->port;
    /* Two peers: a new attempt may start while the last one still closes. */
    cli->ep.host = make_host(NULL, 2);
    if (!cli->ep.host) {
        PVS_LOG_E("control client: cannot open a UDP socket");
        rc = PVS_EIO;
        goto fail;
    }
    cli->state = C_IDLE;
    cli->next_attempt_ns = pvs_time_ns();
    *out = cli;
    return 0;

fail:
    pvs_static_keys_wipe(&cli->cfg.identity);
    free(cli);
    enet_deinitialize();
    return rc;
}

bool pvs_control_client_connected(const struct pvs_control_client *cli)
{
    return cli && cli->state == C_KEYED;
}

/* The connection is over: forget it, and try again later unless told not
 * to. */
static void client_lost(struct pvs_control_client *cli, int64_t now)
{
    if (cli->state == C_KEYED)
        session_end(&cli->ep.s);
    pvs_handshake_wipe(&cli->hs);
    cli->ep.peer = NULL;
    if (cli->state == C_LEAVING || cli->state == C_STOPPED || cli->cfg.no_reconnect) {
        cli->state = C_STOPPED;
        return;
    }
    cli->state = C_IDLE;
    cli->next_attempt_ns = now + cli->cfg.reconnect_interval_ms * NS_PER_MS;
}

static void client_connect(struct pvs_control_client *cli, int64_t now)
{
    cli->ep.peer = enet_host_connect(cli->ep.host, &cli->server, PVS_CTL_CHANNELS, 0);
    if (!cli->ep.peer) {
        /* Both peers still closing: wait for one. */
        cli->next_attempt_ns = now + cli->cfg.reconnect_interval_ms * NS_PER_MS;
        return;
    }
    enet_peer_timeout(cli->ep.peer, 0, (enet_uint32)cli->cfg.peer_timeout_min_ms,
                      (enet_uint32)cli->cfg.peer_timeout_max_ms);
    cli->state = C_CONNECTING;
    PVS_LOG_D("control: connecting to %s", cli->server_name);
}

static void client_send_hello(struct pvs_control_client *cli, int64_t now)
{
    struct pvs_ctl_msg m = {.type = PVS_CTL_HELLO};
    m.u.hello = cli->cfg.hello;
    uint8_t buf[PVS_CTL_MAX_MESSAGE];
    int rc = pvs_handshake_client_begin(&cli->hs, &cli->cfg.identity, cli->cfg.server_key);
    if (rc == 0) {
        memcpy(m.u.hello.public_key, cli->hs.public_key, PVS_HANDSHAKE_PUBLIC_BYTES);
        memcpy(m.u.hello.static_key, cli->hs.static_public, PVS_HANDSHAKE_PUBLIC_BYTES);
        rc = pvs_ctl_encode(&m, buf, sizeof(buf));
    }
    if (rc > 0) {
        size_t n = (size_t)rc;
        rc = pvs_handshake_client_hello(&cli->hs, buf, n);
        if (rc == 0)
            rc = send_bytes(cli->ep.host, cli->ep.peer, PVS_CTL_CHANNEL_CONTROL, buf, n);
    }
    if (rc < 0) {
        PVS_LOG_W("control: cannot send HELLO to %s: %s", cli->server_name, pvs_strerror(rc));
        enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
        client_lost(cli, now);
        return;
    }
    cli->state = C_HELLO_SENT;
    cli->hello_sent_ns = now;
}

/* welcome/len: the WELCOME as it came (its tag is checked on the bytes);
 * w: it parsed. */
static bool client_welcome(struct pvs_control_client *cli, const uint8_t *welcome, size_t len,
                           const struct pvs_ctl_welcome *w, struct pvs_control_event *ev,
                           int64_t now)
{
    struct pvs_session_keys keys;
    if (w->version < cli->cfg.hello.version_min || w->version > cli->cfg.hello.version_max) {
        PVS_LOG_E("control: %s chose protocol version %u, outside the %u..%u offered",
                  cli->server_name, (unsigned)w->version,
                  (unsigned)cli->cfg.hello.version_min, (unsigned)cli->cfg.hello.version_max);
        goto broken;
    }
    if (pvs_handshake_client_finish(&cli->hs, welcome, len, &keys) < 0) {
        /* Not malformed: someone answered who does not hold the server's
         * identity (or changed the bytes). Try again at the usual pace:
         * the genuine server may come back. */
        PVS_LOG_E("control: the server at %s could not prove its identity: it is not "
                  "the server you paired with", cli->server_name);
        cli->ep.stats.auth_failed++;
        enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
        client_lost(cli, now);
        ev->type = PVS_CONTROL_EV_DISCONNECTED;
        ev->u.gone.why = PVS_CONTROL_WHY_PROTOCOL;
        return true;
    }
    session_start(&cli->ep.s, &keys, now);
    cli->state = C_KEYED;
    cli->ep.stats.sessions++;
    ev->type = PVS_CONTROL_EV_CONNECTED;
    ev->u.connected.version = w->version;
    ev->u.connected.keys = keys;
    pvs_session_keys_wipe(&keys);
    PVS_LOG_I("control: connected to %s (version %u)", cli->server_name, (unsigned)w->version);
    return true;

broken:
    cli->ep.stats.malformed++;
    enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
    client_lost(cli, now);
    return false;
}

static bool client_receive(struct pvs_control_client *cli, const ENetEvent *e,
                           struct pvs_control_event *ev, int64_t now)
{
    if (e->peer != cli->ep.peer || (cli->state != C_HELLO_SENT && cli->state != C_KEYED)) {
        cli->ep.stats.unexpected++;
        return false;
    }
    struct pvs_ctl_msg m;
    if (cli->state == C_HELLO_SENT) {
        if (open_clear(&cli->ep, e, &m) < 0)
            return false;
        if (m.type == PVS_CTL_WELCOME)
            return client_welcome(cli, e->packet->data, e->packet->dataLength,
                                  &m.u.welcome, ev, now);
        if (m.type == PVS_CTL_REFUSE) {
            PVS_LOG_W("control: %s refused the connection (reason %u): %s", cli->server_name,
                      (unsigned)m.u.refuse.reason, m.u.refuse.text);
            /* Busy: the client being served may be this one's own ghost
             * (a restart before the server timed the old one out). */
            bool passing = m.u.refuse.reason == PVS_CTL_REFUSE_BUSY ||
                           m.u.refuse.reason == PVS_CTL_REFUSE_SHUTDOWN;
            enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
            if (!passing)
                cli->state = C_STOPPED;
            client_lost(cli, now);
            ev->type = PVS_CONTROL_EV_REFUSED;
            ev->u.refused.refuse = m.u.refuse;
            ev->u.refused.will_retry = cli->state == C_IDLE;
            return true;
        }
        cli->ep.stats.unexpected++;
        return false;
    }

    if (!open_sealed(&cli->ep, e, &m, NULL, NULL) || ping_pong(&cli->ep, &m, now / 1000))
        return false;
    switch (m.type) {
    case PVS_CTL_STREAM:
        ev->type = PVS_CONTROL_EV_STREAM;
        ev->u.stream = m.u.stream;
        return true;
    case PVS_CTL_RUMBLE:
        ev->type = PVS_CONTROL_EV_RUMBLE;
        ev->u.rumble = m.u.rumble;
        return true;
    case PVS_CTL_RATE:
        ev->type = PVS_CONTROL_EV_RATE;
        ev->u.rate = m.u.rate;
        return true;
    case PVS_CTL_BYE:
        PVS_LOG_I("control: %s said goodbye (reason %u)", cli->server_name,
                  (unsigned)m.u.bye.reason);
        enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
        client_lost(cli, now);
        ev->type = PVS_CONTROL_EV_DISCONNECTED;
        ev->u.gone.why = PVS_CONTROL_WHY_BYE;
        ev->u.gone.bye_reason = m.u.bye.reason;
        return true;
    default:
        cli->ep.stats.unexpected++; /* the client's own kinds of message */
        return false;
    }
}

static bool client_handle(void *self, const ENetEvent *e, struct pvs_control_event *ev)
{
    struct pvs_control_client *cli = self;
    int64_t now = pvs_time_ns();
    switch (e->type) {
    case ENET_EVENT_TYPE_CONNECT:
        if (e->peer == cli->ep.peer && cli->state == C_CONNECTING)
            client_send_hello(cli, now);
        return false;
    case ENET_EVENT_TYPE_RECEIVE:
        return client_receive(cli, e, ev, now);
    case ENET_EVENT_TYPE_DISCONNECT: {
        if (e->peer != cli->ep.peer)
            return false;
        bool was_keyed = cli->state == C_KEYED;
        enum pvs_control_why why = why_gone(e);
        if (was_keyed)
            PVS_LOG_I("control: lost %s (%s)", cli->server_name, pvs_control_why_name(why));
        else if (cli->state != C_LEAVING)
            PVS_LOG_D("control: no session with %s (%s)", cli->server_name,
                      pvs_control_why_name(why));
        client_lost(cli, now);
        if (!was_keyed)
            return false;
        ev->type = PVS_CONTROL_EV_DISCONNECTED;
        ev->u.gone.why = why;
        return true;
    }
    default:
        return false;
    }
}

static int64_t client_timers(void *self, int64_t now)
{
    struct pvs_control_client *cli = self;
    switch (cli->state) {
    case C_IDLE:
        if (now < cli->next_attempt_ns)
            return cli->next_attempt_ns;
        client_connect(cli, now);
        return cli->state == C_IDLE ? cli->next_attempt_ns : 0;
    case C_HELLO_SENT: {
        int64_t due = cli->hello_sent_ns + cli->cfg.welcome_timeout_ms * NS_PER_MS;
        if (now < due)
            return due;
        PVS_LOG_W("control: %s did not answer HELLO within %d ms", cli->server_name,
                  cli->cfg.welcome_timeout_ms);
        enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
        client_lost(cli, now);
        return cli->state == C_IDLE ? cli->next_attempt_ns : 0;
    }
    case C_KEYED:
        return ping_timer(&cli->ep, cli->cfg.ping_interval_ms, now);
    default:
        return 0;
    }
}

int pvs_control_client_service(struct pvs_control_client *cli, int timeout_ms,
                               struct pvs_control_event *ev)
{
    static const struct side_ops ops = {"client", client_timers, client_handle};
    if (!cli || !ev)
        return PVS_EINVAL;
    return service(&cli->ep, &ops, cli, timeout_ms, ev);
}

static int client_send(struct pvs_control_client *cli, const struct pvs_ctl_msg *m)
{
    if (!cli)
        return PVS_EINVAL;
    if (cli->state != C_KEYED)
        return PVS_ENOENT;
    return send_sealed(&cli->ep, m);
}

int pvs_control_client_send_keyframe_request(struct pvs_control_client *cli,
                                             uint32_t last_frame, uint8_t reason)
{
    struct pvs_ctl_msg m = {.type = PVS_CTL_KEYFRAME_REQUEST};
    m.u.keyframe_request.last_frame = last_frame;
    m.u.keyframe_request.reason = reason;
    return client_send(cli, &m);
}

int pvs_control_client_send_input(struct pvs_control_client *cli, int channel,
                                  const uint8_t *msg, size_t len)
{
    if (!cli || !msg || len < 1 || len > PVS_CTL_INPUT_MAX || msg[0] < PVS_CTL_INPUT_FIRST ||
        msg[0] > PVS_CTL_INPUT_LAST ||
        (channel != PVS_CTL_CHANNEL_INPUT && channel != PVS_CTL_CHANNEL_MOTION))
        return PVS_EINVAL;
    if (cli->state != C_KEYED)
        return PVS_ENOENT;
    return send_sealed_bytes(&cli->ep, (uint8_t)channel, msg, len);
}

int pvs_control_client_send_stats(struct pvs_control_client *cli,
                                  const struct pvs_ctl_stats *stats)
{
    if (!stats)
        return PVS_EINVAL;
    struct pvs_ctl_msg m = {.type = PVS_CTL_STATS};
    m.u.stats = *stats;
    return client_send(cli, &m);
}

int pvs_control_client_send_feedback(struct pvs_control_client *cli,
                                     const struct pvs_ctl_feedback *fb)
{
    if (!cli || !fb)
        return PVS_EINVAL;
    if (cli->state != C_KEYED)
        return PVS_ENOENT;
    struct pvs_ctl_msg m = {.type = PVS_CTL_FEEDBACK};
    m.u.feedback = *fb;
    return send_unreliable(&cli->ep, &m);
}

int pvs_control_client_bye(struct pvs_control_client *cli, uint8_t reason)
{
    if (!cli)
        return PVS_EINVAL;
    struct pvs_ctl_msg m = {.type = PVS_CTL_BYE};
    m.u.bye.reason = reason;
    int rc = client_send(cli, &m);
    if (rc == PVS_EINVAL)
        return rc; /* a bad reason: nothing done */
    if (rc == 0) {
        /* Once the BYE is acknowledged; keep servicing to see it go. */
        enet_peer_disconnect_later(cli->ep.peer, PVS_ENET_BYE_DATA);
        session_end(&cli->ep.s);
        cli->state = C_LEAVING;
        return 0;
    }
    if (cli->state == C_KEYED)
        session_end(&cli->ep.s);
    if (cli->ep.peer)
        enet_peer_disconnect_now(cli->ep.peer, PVS_ENET_BYE_DATA);
    cli->state = C_STOPPED;
    client_lost(cli, pvs_time_ns());
    return rc;
}

int pvs_control_client_get_clock(const struct pvs_control_client *cli,
                                 struct pvs_control_clock *out)
{
    if (!cli || !out)
        return PVS_EINVAL;
    if (cli->state != C_KEYED)
        return PVS_EAGAIN;
    return clock_get(&cli->ep.s.clock, out);
}

void pvs_control_client_get_stats(const struct pvs_control_client *cli,
                                  struct pvs_control_stats *out)
{
    endpoint_stats(cli ? &cli->ep : NULL, out);
}

void pvs_control_client_close(struct pvs_control_client **pcli)
{
    if (!pcli || !*pcli)
        return;
    struct pvs_control_client *cli = *pcli;
    endpoint_close(&cli->ep);
    pvs_handshake_wipe(&cli->hs);
    pvs_static_keys_wipe(&cli->cfg.identity);
    free(cli);
    enet_deinitialize();
    *pcli = NULL;
}
