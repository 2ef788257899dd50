/* Control sessions over ENet on 127.0.0.1, server and clients serviced in
 * turn from this one thread: handshake and keys, messages both ways,
 * PING/PONG, refusals (busy, version, malformed, no HELLO), a silent peer,
 * reconnection after a server restart, and BYE. Authentication: a paired
 * client gets in under its paired name; an unpaired one gets REFUSE 6 and
 * a forged HELLO REFUSE 7, both at once and nothing else; a client facing
 * a server that cannot prove its identity drops it; the 6th handshake
 * attempt from one address within 10 s gets no answer.
 *
 * Waits are bounded generously (seconds) so a loaded machine passes; what
 * is checked is what happened, not how fast. */
#include <string.h>

#include <enet/enet.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "net/control.h"
#include "tests/unit/test.h"

#define MAX_EVENTS 64

/* The server's identity, the paired client's, and a stranger's. */
static struct pvs_static_keys srv_id, cli_id, stranger_id;

static bool is_paired(void *ctx, const uint8_t key[32], char *name, size_t len)
{
    (void)ctx;
    if (memcmp(key, cli_id.public_key, 32) != 0)
        return false;
    snprintf(name, len, "laptop");
    return true;
}

/* One endpoint and the events it produced that nobody has taken yet. */
struct side {
    struct pvs_control_server *srv;
    struct pvs_control_client *cli;
    struct pvs_control_event ev[MAX_EVENTS];
    int n;
};

static void service_side(struct side *s)
{
    struct pvs_control_event ev;
    for (;;) {
        int rc = s->srv ? pvs_control_server_service(s->srv, 1, &ev)
                        : pvs_control_client_service(s->cli, 1, &ev);
        if (rc != 1) {
            if (rc != 0)
                CHECK_INT(rc, ==, 0);
            return;
        }
        if (s->n == MAX_EVENTS) {
            memmove(s->ev, s->ev + 1, sizeof(s->ev[0]) * (MAX_EVENTS - 1));
            s->n--;
        }
        s->ev[s->n++] = ev;
    }
}

static bool take(struct side *s, enum pvs_control_event_type type,
                 struct pvs_control_event *out)
{
    for (int i = 0; i < s->n; i++) {
        if (s->ev[i].type != type)
            continue;
        if (out)
            *out = s->ev[i];
        memmove(s->ev + i, s->ev + i + 1, sizeof(s->ev[0]) * (size_t)(s->n - i - 1));
        s->n--;
        return true;
    }
    return false;
}

/* Services every side in `all` (NULL-terminated) until `who` has an event
 * of `type` or timeout_ms passes. */
static bool wait_for(struct side **all, struct side *who,
                     enum pvs_control_event_type type, int timeout_ms,
                     struct pvs_control_event *out)
{
    int64_t until = pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        if (take(who, type, out))
            return true;
        if (pvs_time_ns() >= until)
            return false;
        for (int i = 0; all[i]; i++)
            service_side(all[i]);
    }
}

static void pump(struct side **all, int ms)
{
    int64_t until = pvs_time_ns() + (int64_t)ms * 1000000;
    while (pvs_time_ns() < until)
        for (int i = 0; all[i]; i++)
            service_side(all[i]);
}

static int open_server(struct side *s, uint16_t port)
{
    struct pvs_control_server_config cfg;
    pvs_control_server_default_config(&cfg);
    cfg.bind_host = "127.0.0.1";
    cfg.port = port;
    cfg.identity = srv_id;
    cfg.is_paired = is_paired;
    memset(s, 0, sizeof(*s));
    return pvs_control_server_open(&s->srv, &cfg);
}

/* A client with identity `id` that expects the server's key `server`. */
static int open_client_as(struct side *s, uint16_t port, uint16_t vmin, uint16_t vmax,
                          const struct pvs_static_keys *id, const uint8_t server[32])
{
    struct pvs_control_client_config cfg;
    pvs_control_client_default_config(&cfg);
    cfg.identity = *id;
    memcpy(cfg.server_key, server, 32);
    cfg.host = "127.0.0.1";
    cfg.port = port;
    cfg.hello.version_min = vmin;
    cfg.hello.version_max = vmax;
    cfg.hello.codecs = PVS_CTL_CODEC_BIT_HEVC;
    cfg.hello.media_port = 40001;
    memset(s, 0, sizeof(*s));
    return pvs_control_client_open(&s->cli, &cfg);
}

static int open_client(struct side *s, uint16_t port, uint16_t vmin, uint16_t vmax)
{
    return open_client_as(s, port, vmin, vmax, &cli_id, srv_id.public_key);
}

static void close_side(struct side *s)
{
    pvs_control_server_close(&s->srv);
    pvs_control_client_close(&s->cli);
    CHECK(s->srv == NULL && s->cli == NULL);
}

static bool keys_match(const struct pvs_session_keys *server,
                       const struct pvs_session_keys *client)
{
    return memcmp(server->control_rx, client->control_tx, PVS_CONTROL_KEY_BYTES) == 0 &&
           memcmp(server->control_tx, client->control_rx, PVS_CONTROL_KEY_BYTES) == 0 &&
           memcmp(server->srtp_rx, client->srtp_tx, PVS_SRTP_KEY_BYTES) == 0 &&
           memcmp(server->srtp_tx, client->srtp_rx, PVS_SRTP_KEY_BYTES) == 0 &&
           memcmp(server->control_tx, server->control_rx, PVS_CONTROL_KEY_BYTES) != 0;
}

/* Opens a client and waits for both sides to be keyed. */
static bool connect_client(struct side **all, struct side *srv, struct side *cli,
                           struct pvs_control_event *ready, struct pvs_control_event *conn)
{
    bool a = wait_for(all, srv, PVS_CONTROL_EV_CLIENT_READY, 5000, ready);
    bool b = wait_for(all, cli, PVS_CONTROL_EV_CONNECTED, 5000, conn);
    CHECK(a);
    CHECK(b);
    return a && b;
}

/* A server on a free port and a version-2 client, keyed. Returns false
 * when that fails; both sides are to be closed either way. */
static bool open_keyed_pair(struct side *srv, struct side *cli,
                            struct pvs_control_event *ready, struct pvs_control_event *conn)
{
    memset(cli, 0, sizeof(*cli));
    CHECK_INT(open_server(srv, 0), ==, 0);
    if (!srv->srv)
        return false;
    CHECK_INT(open_client(cli, pvs_control_server_port(srv->srv), 2, 2), ==, 0);
    struct side *all[] = {srv, cli, NULL};
    return connect_client(all, srv, cli, ready, conn);
}

static void test_session(void)
{
    struct side srv, a, b, c;
    CHECK_INT(open_server(&srv, 0), ==, 0);
    if (!srv.srv)
        return;
    uint16_t port = pvs_control_server_port(srv.srv);
    CHECK(port != 0);
    struct pvs_control_event ev, ev2;

    /* A client that speaks only versions 3..4: refused, version. */
    CHECK_INT(open_client(&c, port, 3, 4), ==, 0);
    struct side *all_c[] = {&srv, &c, NULL};
    CHECK(wait_for(all_c, &c, PVS_CONTROL_EV_REFUSED, 5000, &ev));
    CHECK_INT(ev.u.refused.refuse.reason, ==, PVS_CTL_REFUSE_VERSION);
    CHECK(!ev.u.refused.will_retry);
    CHECK(strstr(ev.u.refused.refuse.text, "version") != NULL);
    CHECK(!pvs_control_server_has_client(srv.srv));
    close_side(&c);

    /* The client the session is about. */
    CHECK_INT(open_client(&a, port, 2, 4), ==, 0);
    struct side *all[] = {&srv, &a, NULL};
    if (!connect_client(all, &srv, &a, &ev, &ev2))
        goto out;
    CHECK(keys_match(&ev.u.ready.keys, &ev2.u.connected.keys));
    CHECK_INT(ev.u.ready.version, ==, 2);
    CHECK_INT(ev2.u.connected.version, ==, 2);
    CHECK(strcmp(ev.u.ready.client_name, "laptop") == 0);
    CHECK(memcmp(ev.u.ready.client_key, cli_id.public_key, 32) == 0);
    CHECK_INT(ev.u.ready.codecs, ==, PVS_CTL_CODEC_BIT_HEVC);
    CHECK_INT(ev.u.ready.hello.media_port, ==, 40001);
    CHECK_INT(ev.u.ready.hello.max_datagram, ==, 1400);
    CHECK_INT(pvs_addr_port(&ev.u.ready.media_addr), ==, 40001);
    char text[64];
    pvs_addr_format(&ev.u.ready.media_addr, text, sizeof(text));
    CHECK(strcmp(text, "127.0.0.1:40001") == 0);
    CHECK(pvs_control_server_has_client(srv.srv));
    CHECK(pvs_control_client_connected(a.cli));

    /* STREAM, server to client. */
    struct pvs_ctl_stream st = {
        .codec = PVS_CTL_CODEC_HEVC, .width = 2560, .height = 1440, .fps = 120,
        .bitrate = 50000000, .datagram_size = 1400, .fec_percent = 25,
        .fec_min_parity = 3, .media_port = 47101, .ssrc = 0x12345678, .generation = 1,
    };
    CHECK_INT(pvs_control_server_send_stream(srv.srv, &st), ==, 0);
    CHECK(wait_for(all, &a, PVS_CONTROL_EV_STREAM, 3000, &ev));
    CHECK(memcmp(&ev.u.stream, &st, sizeof(st)) == 0);
    st.codec = 9;
    CHECK_INT(pvs_control_server_send_stream(srv.srv, &st), ==, PVS_EINVAL);

    /* RUMBLE, server to client; one for a pad the protocol lacks is not
     * sent. */
    struct pvs_ctl_rumble rb = {.pad = 2, .low_freq = 40000, .high_freq = 257,
                                .duration_ms = 0};
    CHECK_INT(pvs_control_server_send_rumble(srv.srv, &rb), ==, 0);
    CHECK(wait_for(all, &a, PVS_CONTROL_EV_RUMBLE, 3000, &ev));
    CHECK(memcmp(&ev.u.rumble, &rb, sizeof(rb)) == 0);
    rb.pad = PVS_CTL_RUMBLE_PADS;
    CHECK_INT(pvs_control_server_send_rumble(srv.srv, &rb), ==, PVS_EINVAL);

    /* KEYFRAME_REQUEST and STATS, client to server. */
    CHECK_INT(pvs_control_client_send_keyframe_request(a.cli, 4242, PVS_CTL_KEYFRAME_LOST), ==, 0);
    CHECK(wait_for(all, &srv, PVS_CONTROL_EV_KEYFRAME_REQUEST, 3000, &ev));
    CHECK_INT(ev.u.keyframe_request.last_frame, ==, 4242);
    CHECK_INT(ev.u.keyframe_request.reason, ==, PVS_CTL_KEYFRAME_LOST);
    struct pvs_ctl_stats stats = {1000, 20, 3, 60, 1, 1500, 2500};
    CHECK_INT(pvs_control_client_send_stats(a.cli, &stats), ==, 0);
    CHECK(wait_for(all, &srv, PVS_CONTROL_EV_STATS, 3000, &ev));
    CHECK(memcmp(&ev.u.stats, &stats, sizeof(stats)) == 0);

    /* Input events pass through as they came, on their channel; bad ones
     * are refused before anything is sent. */
    const uint8_t key[] = {0x20, 0x00, 0x04, 0x01};            /* KEY A down */
    const uint8_t rel[] = {0x22, 0xff, 0xfe, 0x00, 0x03};      /* POINTER_REL -2, 3 */
    CHECK_INT(pvs_control_client_send_input(a.cli, PVS_CTL_CHANNEL_INPUT, key, sizeof(key)), ==, 0);
    CHECK_INT(pvs_control_client_send_input(a.cli, PVS_CTL_CHANNEL_MOTION, rel, sizeof(rel)), ==, 0);
    CHECK(wait_for(all, &srv, PVS_CONTROL_EV_INPUT, 3000, &ev));
    CHECK_INT(ev.u.input.channel, ==, PVS_CTL_CHANNEL_INPUT);
    CHECK_INT(ev.u.input.len, ==, sizeof(key));
    CHECK(memcmp(ev.u.input.msg, key, sizeof(key)) == 0);
    CHECK(wait_for(all, &srv, PVS_CONTROL_EV_INPUT, 3000, &ev));
    CHECK_INT(ev.u.input.channel, ==, PVS_CTL_CHANNEL_MOTION);
    CHECK(ev.u.input.len == sizeof(rel) && memcmp(ev.u.input.msg, rel, sizeof(rel)) == 0);
    const uint8_t reserved[] = {0x30, 0x00};
    uint8_t too_long[PVS_CTL_INPUT_MAX + 1] = {0x20};
    CHECK_INT(pvs_control_client_send_input(a.cli, PVS_CTL_CHANNEL_CONTROL, key, sizeof(key)), ==, PVS_EINVAL);
    CHECK_INT(pvs_control_client_send_input(a.cli, PVS_CTL_CHANNEL_INPUT, reserved, 2), ==, PVS_EINVAL);
    CHECK_INT(pvs_control_client_send_input(a.cli, PVS_CTL_CHANNEL_INPUT, too_long, sizeof(too_long)), ==, PVS_EINVAL);

    /* PING/PONG: each side has a round trip (the first PING goes at once). */
    struct pvs_control_clock cc = {0}, sc = {0};
    int64_t until = pvs_time_ns() + 3000000000ll;
    while ((pvs_control_client_get_clock(a.cli, &cc) != 0 ||
            pvs_control_server_get_clock(srv.srv, &sc) != 0) && pvs_time_ns() < until)
        pump(all, 10);
    CHECK_INT(pvs_control_client_get_clock(a.cli, &cc), ==, 0);
    CHECK_INT(pvs_control_server_get_clock(srv.srv, &sc), ==, 0);
    CHECK(cc.rtt_us >= 0 && cc.rtt_us < 1000000);
    CHECK(sc.rtt_us >= 0 && sc.rtt_us < 1000000);
    CHECK(cc.min_rtt_us <= cc.rtt_us);
    /* One clock on both sides: the offset is within the round trip. */
    CHECK(cc.offset_us <= cc.min_rtt_us && cc.offset_us >= -cc.min_rtt_us);
    fprintf(stderr, "loopback RTT: client %lld us, server %lld us (offset %lld us)\n",
            (long long)cc.rtt_us, (long long)sc.rtt_us, (long long)cc.offset_us);

    /* A second client: refused busy, the first undisturbed. */
    CHECK_INT(open_client(&b, port, 2, 2), ==, 0);
    struct side *all_b[] = {&srv, &a, &b, NULL};
    CHECK(wait_for(all_b, &b, PVS_CONTROL_EV_REFUSED, 5000, &ev));
    CHECK_INT(ev.u.refused.refuse.reason, ==, PVS_CTL_REFUSE_BUSY);
    CHECK(ev.u.refused.will_retry); /* busy may pass */
    CHECK(strstr(ev.u.refused.refuse.text, "another client (127.0.0.1)") != NULL);
    pump(all_b, 50);
    CHECK(!take(&srv, PVS_CONTROL_EV_CLIENT_GONE, NULL));
    CHECK(!take(&a, PVS_CONTROL_EV_DISCONNECTED, NULL));
    CHECK(!pvs_control_client_connected(b.cli));
    CHECK_INT(pvs_control_client_send_keyframe_request(a.cli, 7, PVS_CTL_KEYFRAME_START), ==, 0);
    CHECK(wait_for(all_b, &srv, PVS_CONTROL_EV_KEYFRAME_REQUEST, 3000, &ev));
    CHECK_INT(ev.u.keyframe_request.last_frame, ==, 7);
    CHECK_INT(pvs_control_client_send_keyframe_request(b.cli, 7, 1), ==, PVS_ENOENT);
    close_side(&b);

    /* BYE: the server hears of it at once. */
    CHECK_INT(pvs_control_client_bye(a.cli, PVS_CTL_BYE_QUIT), ==, 0);
    CHECK(wait_for(all, &srv, PVS_CONTROL_EV_CLIENT_GONE, 2000, &ev));
    CHECK_INT(ev.u.gone.why, ==, PVS_CONTROL_WHY_BYE);
    CHECK_INT(ev.u.gone.bye_reason, ==, PVS_CTL_BYE_QUIT);
    CHECK(!pvs_control_server_has_client(srv.srv));
    CHECK_INT(pvs_control_server_send_stream(srv.srv, &st), ==, PVS_ENOENT);
    rb.pad = 0;
    CHECK_INT(pvs_control_server_send_rumble(srv.srv, &rb), ==, PVS_ENOENT);
    pump(all, 50);
    CHECK(!take(&a, PVS_CONTROL_EV_CONNECTED, NULL)); /* it stays gone */

    /* Busy with another protocol's client (a Moonlight session): a client
     * is refused with the reason given, until that ends. */
    pvs_control_server_set_busy(srv.srv, "a Moonlight client is streaming from this server");
    CHECK_INT(open_client(&b, port, 2, 2), ==, 0);
    struct side *all_m[] = {&srv, &b, NULL};
    CHECK(wait_for(all_m, &b, PVS_CONTROL_EV_REFUSED, 5000, &ev));
    CHECK_INT(ev.u.refused.refuse.reason, ==, PVS_CTL_REFUSE_BUSY);
    CHECK(strstr(ev.u.refused.refuse.text, "Moonlight") != NULL);
    CHECK(!take(&srv, PVS_CONTROL_EV_CLIENT_READY, NULL));
    close_side(&b);
    pvs_control_server_set_busy(srv.srv, NULL);

    struct pvs_control_stats ss;
    pvs_control_server_get_stats(srv.srv, &ss);
    CHECK_INT(ss.sessions, ==, 1);
    CHECK_INT(ss.refused, >=, 2); /* b may have tried again meanwhile */
    CHECK_INT(ss.malformed + ss.replayed + ss.bad_tag + ss.clear_after_keys, ==, 0);
    CHECK(ss.pings_sent >= 1 && ss.pongs_received >= 1);
out:
    close_side(&a);
    close_side(&srv);
}

static void test_silent_peer(void)
{
    struct side srv, a, d;
    struct pvs_control_event ev, ev2;
    if (!open_keyed_pair(&srv, &a, &ev, &ev2))
        goto out;
    uint16_t port = pvs_control_server_port(srv.srv);

    /* From now on nobody services a: its ENet stops acknowledging. */
    struct side *only_srv[] = {&srv, NULL};
    int64_t t0 = pvs_time_ns();
    CHECK(wait_for(only_srv, &srv, PVS_CONTROL_EV_CLIENT_GONE, 9000, &ev));
    double took = (double)(pvs_time_ns() - t0) / 1e9;
    CHECK_INT(ev.u.gone.why, ==, PVS_CONTROL_WHY_TIMEOUT);
    CHECK(took < 8.0);
    fprintf(stderr, "silent client dropped after %.2f s\n", took);

    /* The server takes the next client. */
    CHECK_INT(open_client(&d, port, 2, 2), ==, 0);
    struct side *all_d[] = {&srv, &d, NULL};
    if (connect_client(all_d, &srv, &d, &ev, &ev2))
        CHECK(keys_match(&ev.u.ready.keys, &ev2.u.connected.keys));
    close_side(&d);
out:
    close_side(&a);
    close_side(&srv);
}

static int close_server_thread(void *arg)
{
    struct side *s = arg;
    pvs_control_server_close(&s->srv);
    return 0;
}

static void test_reconnect(void)
{
    struct side srv, a;
    struct pvs_control_event ev, first;
    if (!open_keyed_pair(&srv, &a, &ev, &first))
        goto out;
    uint16_t port = pvs_control_server_port(srv.srv);
    struct side *all[] = {&srv, &a, NULL};

    /* The server goes: the client hears BYE "shutting down". The close
     * runs on its own thread, as it would in its own process, while the
     * client is serviced here: close waits for the BYE to be acknowledged,
     * and an unserviced client never would. */
    struct pvs_thread *closer = NULL;
    CHECK_INT(pvs_thread_create(&closer, close_server_thread, &srv, "close"), ==, 0);
    struct side *only_a[] = {&a, NULL};
    CHECK(wait_for(only_a, &a, PVS_CONTROL_EV_DISCONNECTED, 3000, &ev));
    pvs_thread_join(&closer, NULL);
    CHECK(srv.srv == NULL);
    CHECK_INT(ev.u.gone.why, ==, PVS_CONTROL_WHY_BYE);
    CHECK_INT(ev.u.gone.bye_reason, ==, PVS_CTL_BYE_SHUTDOWN);
    CHECK(!pvs_control_client_connected(a.cli));

    /* A new server on the same port: the client comes back by itself,
     * with new keys. */
    CHECK_INT(open_server(&srv, port), ==, 0);
    if (!srv.srv)
        goto out;
    struct pvs_control_event again;
    if (connect_client(all, &srv, &a, &ev, &again)) {
        CHECK(keys_match(&ev.u.ready.keys, &again.u.connected.keys));
        CHECK(memcmp(first.u.connected.keys.control_tx, again.u.connected.keys.control_tx,
                     PVS_CONTROL_KEY_BYTES) != 0);
    }
out:
    close_side(&a);
    close_side(&srv);
}

/* A raw ENet peer that says whatever it likes. */
struct raw {
    ENetHost *host;
    ENetPeer *peer;
};

static bool raw_connect(struct raw *r, uint16_t port)
{
    ENetAddress addr = {.port = port};
    enet_address_set_host(&addr, "127.0.0.1");
    r->host = enet_host_create(NULL, 1, PVS_CTL_CHANNELS, 0, 0);
    r->peer = r->host ? enet_host_connect(r->host, &addr, PVS_CTL_CHANNELS, 0) : NULL;
    return r->peer != NULL;
}

/* Services r and the server until r sees an event of `type`. */
static bool raw_wait(struct raw *r, struct side *srv, ENetEventType type, int timeout_ms,
                     ENetEvent *out)
{
    int64_t until = pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    while (pvs_time_ns() < until) {
        service_side(srv);
        ENetEvent e;
        while (enet_host_service(r->host, &e, 1) > 0) {
            if (e.type == type) {
                *out = e;
                return true;
            }
            if (e.type == ENET_EVENT_TYPE_RECEIVE)
                enet_packet_destroy(e.packet);
        }
    }
    return false;
}

static void raw_close(struct raw *r)
{
    if (r->host)
        enet_host_destroy(r->host);
    r->host = NULL;
}

static void raw_send(struct raw *r, uint8_t channel, const uint8_t *b, size_t n)
{
    enet_peer_send(r->peer, channel, enet_packet_create(b, n, ENET_PACKET_FLAG_RELIABLE));
    enet_host_flush(r->host);
}

static void raw_keyed_session(struct raw *r, struct side *srv)
{
    struct pvs_handshake hs;
    CHECK_INT(pvs_handshake_client_begin(&hs, &cli_id, srv_id.public_key), ==, 0);
    struct pvs_ctl_msg m = {.type = PVS_CTL_HELLO};
    m.u.hello = (struct pvs_ctl_hello){.version_min = 2, .version_max = 2,
                                       .codecs = PVS_CTL_CODEC_BIT_H264, .max_width = 1280,
                                       .max_height = 720, .max_fps = 60,
                                       .max_datagram = 1200, .media_port = 5000};
    memcpy(m.u.hello.public_key, hs.public_key, sizeof(hs.public_key));
    memcpy(m.u.hello.static_key, hs.static_public, sizeof(hs.static_public));
    uint8_t hello[PVS_CTL_MAX_MESSAGE];
    int hn = pvs_ctl_encode(&m, hello, sizeof(hello));
    CHECK_INT(pvs_handshake_client_hello(&hs, hello, (size_t)hn), ==, 0);
    raw_send(r, 0, hello, (size_t)hn);

    ENetEvent e;
    struct pvs_control_event ready;
    CHECK(raw_wait(r, srv, ENET_EVENT_TYPE_RECEIVE, 3000, &e));
    if (e.type != ENET_EVENT_TYPE_RECEIVE)
        return;
    struct pvs_ctl_msg w;
    struct pvs_session_keys keys;
    CHECK_INT(pvs_ctl_parse_clear(e.packet->data, e.packet->dataLength, &w), ==, 0);
    CHECK_INT(w.type, ==, PVS_CTL_WELCOME);
    CHECK_INT(pvs_handshake_client_finish(&hs, e.packet->data, e.packet->dataLength, &keys), ==, 0);
    enet_packet_destroy(e.packet);
    struct side *only_srv[] = {srv, NULL};
    CHECK(wait_for(only_srv, srv, PVS_CONTROL_EV_CLIENT_READY, 1000, &ready));
    CHECK(keys_match(&ready.u.ready.keys, &keys));
    CHECK_INT(ready.u.ready.codecs, ==, PVS_CTL_CODEC_BIT_H264);

    struct pvs_ctl_crypto c = {0};
    pvs_ctl_crypto_init(&c, &keys);
    uint8_t plain[PVS_CTL_MAX_MESSAGE], box[PVS_CTL_MAX_MESSAGE + PVS_CTL_SEAL_OVERHEAD];
    struct pvs_ctl_msg kf = {.type = PVS_CTL_KEYFRAME_REQUEST};
    kf.u.keyframe_request = (struct pvs_ctl_keyframe_request){99, PVS_CTL_KEYFRAME_DECODER};
    int pn = pvs_ctl_encode(&kf, plain, sizeof(plain));
    int bn = pvs_ctl_seal(&c, 0, plain, (size_t)pn, box, sizeof(box));

    raw_send(r, 0, hello, (size_t)hn);               /* clear after keys */
    raw_send(r, 0, box, (size_t)bn);                 /* genuine */
    raw_send(r, 0, box, (size_t)bn);                 /* replayed */
    bn = pvs_ctl_seal(&c, 0, plain, (size_t)pn, box, sizeof(box));
    box[bn - 1] ^= 0x10;
    raw_send(r, 0, box, (size_t)bn);                 /* forged */
    uint8_t input[3] = {0x21, 1, 2};
    bn = pvs_ctl_seal(&c, 1, input, sizeof(input), box, sizeof(box));
    raw_send(r, 1, box, (size_t)bn);                 /* an input event: passed on */
    uint8_t reserved[3] = {0x32, 1, 2};
    bn = pvs_ctl_seal(&c, 1, reserved, sizeof(reserved), box, sizeof(box));
    raw_send(r, 1, box, (size_t)bn);                 /* a reserved type: counted */
    uint8_t stream[PVS_CTL_MAX_MESSAGE];
    struct pvs_ctl_msg st = {.type = PVS_CTL_BYE};
    st.u.bye.reason = 9;                              /* out of range */
    stream[0] = PVS_CTL_BYE;
    stream[1] = 9;
    bn = pvs_ctl_seal(&c, 0, stream, 2, box, sizeof(box));
    raw_send(r, 0, box, (size_t)bn);                 /* malformed inside */
    CHECK_INT(pvs_ctl_encode(&st, plain, sizeof(plain)), ==, PVS_EINVAL);
    kf.u.keyframe_request.last_frame = 100;
    pn = pvs_ctl_encode(&kf, plain, sizeof(plain));
    bn = pvs_ctl_seal(&c, 0, plain, (size_t)pn, box, sizeof(box));
    raw_send(r, 0, box, (size_t)bn);                 /* genuine again */

    struct pvs_control_event ev;
    CHECK(wait_for(only_srv, srv, PVS_CONTROL_EV_KEYFRAME_REQUEST, 2000, &ev));
    CHECK_INT(ev.u.keyframe_request.last_frame, ==, 99);
    CHECK(wait_for(only_srv, srv, PVS_CONTROL_EV_KEYFRAME_REQUEST, 2000, &ev));
    CHECK_INT(ev.u.keyframe_request.last_frame, ==, 100);
    CHECK(take(srv, PVS_CONTROL_EV_INPUT, &ev));
    CHECK(ev.u.input.len == 3 && memcmp(ev.u.input.msg, input, 3) == 0);
    struct pvs_control_stats ss;
    pvs_control_server_get_stats(srv->srv, &ss);
    CHECK_INT(ss.clear_after_keys, ==, 1);
    CHECK_INT(ss.replayed, ==, 1);
    CHECK_INT(ss.bad_tag, ==, 1);
    CHECK_INT(ss.unknown_type, ==, 1);
    CHECK_INT(ss.malformed, ==, 2); /* the bad HELLO earlier, and this BYE */
    CHECK(pvs_control_server_has_client(srv->srv));
    pvs_session_keys_wipe(&keys);
}

static void test_raw_peers(void)
{
    struct pvs_control_server_config cfg;
    pvs_control_server_default_config(&cfg);
    cfg.bind_host = "127.0.0.1";
    cfg.port = 0;
    cfg.hello_timeout_ms = 300; /* the rule, shortened to keep the test quick */
    cfg.identity = srv_id;
    cfg.is_paired = is_paired;
    struct side srv = {0};
    CHECK_INT(pvs_control_server_open(&srv.srv, &cfg), ==, 0);
    if (!srv.srv)
        return;
    uint16_t port = pvs_control_server_port(srv.srv);
    ENetEvent e;

    /* A HELLO with a bad magic: REFUSE malformed, then disconnected. */
    struct raw r = {0};
    CHECK(raw_connect(&r, port));
    if (r.peer && raw_wait(&r, &srv, ENET_EVENT_TYPE_CONNECT, 3000, &e)) {
        uint8_t hello[57] = {PVS_CTL_HELLO, 'P', 'V', 'S', '0'};
        enet_peer_send(r.peer, 0, enet_packet_create(hello, sizeof(hello),
                                                     ENET_PACKET_FLAG_RELIABLE));
        CHECK(raw_wait(&r, &srv, ENET_EVENT_TYPE_RECEIVE, 3000, &e));
        if (e.type == ENET_EVENT_TYPE_RECEIVE) {
            struct pvs_ctl_msg m;
            CHECK_INT(pvs_ctl_parse_clear(e.packet->data, e.packet->dataLength, &m), ==, 0);
            CHECK_INT(m.type, ==, PVS_CTL_REFUSE);
            CHECK_INT(m.u.refuse.reason, ==, PVS_CTL_REFUSE_MALFORMED);
            enet_packet_destroy(e.packet);
        }
        CHECK(raw_wait(&r, &srv, ENET_EVENT_TYPE_DISCONNECT, 3000, &e));
    }
    raw_close(&r);

    /* A sealed message before any keys, then nothing: dropped after the
     * HELLO deadline; no CLIENT_GONE since it never was a client. */
    CHECK(raw_connect(&r, port));
    if (r.peer && raw_wait(&r, &srv, ENET_EVENT_TYPE_CONNECT, 3000, &e)) {
        uint8_t sealed[40] = {PVS_CTL_SEALED, 0, 0, 0, 0, 0, 0, 0, 1};
        enet_peer_send(r.peer, 0, enet_packet_create(sealed, sizeof(sealed),
                                                     ENET_PACKET_FLAG_RELIABLE));
        CHECK(raw_wait(&r, &srv, ENET_EVENT_TYPE_DISCONNECT, 5000, &e));
    }
    raw_close(&r);
    CHECK(!take(&srv, PVS_CONTROL_EV_CLIENT_GONE, NULL));
    struct pvs_control_stats ss;
    pvs_control_server_get_stats(srv.srv, &ss);
    CHECK_INT(ss.hello_timeouts, ==, 1);
    CHECK_INT(ss.unexpected, ==, 1);
    CHECK_INT(ss.malformed, ==, 1);
    CHECK_INT(ss.refused, ==, 1);
    CHECK_INT(ss.sessions, ==, 0);

    /* A raw peer that does the handshake itself, then misbehaves once
     * keyed: each bad message is dropped and counted under its reason,
     * and the session goes on. */
    CHECK(raw_connect(&r, port));
    if (r.peer && raw_wait(&r, &srv, ENET_EVENT_TYPE_CONNECT, 3000, &e))
        raw_keyed_session(&r, &srv);
    raw_close(&r);
    close_side(&srv);
}

static void test_config(void)
{
    struct pvs_control_server *srv = NULL;
    struct pvs_control_client *cli = NULL;
    struct pvs_control_server_config sc;
    pvs_control_server_default_config(&sc);
    CHECK_INT(sc.port, ==, 47100);
    sc.version_min = 2;
    sc.version_max = 1;
    CHECK_INT(pvs_control_server_open(&srv, &sc), ==, PVS_EINVAL);
    CHECK(srv == NULL);
    struct pvs_control_client_config cc;
    pvs_control_client_default_config(&cc);
    cc.hello.max_datagram = 100;
    CHECK_INT(pvs_control_client_open(&cli, &cc), ==, PVS_EINVAL);
    CHECK(cli == NULL);
    pvs_control_server_close(NULL);
    pvs_control_server_close(&srv);
    pvs_control_client_close(NULL);
    pvs_control_client_close(&cli);
}

/* Connects a raw peer, sends `msg`, and returns the server's answer (a
 * clear message) in *out. False when none came within timeout_ms. */
static bool raw_ask(struct side *srv, uint16_t port, const uint8_t *msg, size_t len,
                    int timeout_ms, struct pvs_ctl_msg *out)
{
    struct raw r = {0};
    ENetEvent e;
    bool got = false;
    if (raw_connect(&r, port) && raw_wait(&r, srv, ENET_EVENT_TYPE_CONNECT, 3000, &e)) {
        raw_send(&r, 0, msg, len);
        if (raw_wait(&r, srv, ENET_EVENT_TYPE_RECEIVE, timeout_ms, &e)) {
            got = pvs_ctl_parse_clear(e.packet->data, e.packet->dataLength, out) == 0;
            enet_packet_destroy(e.packet);
            /* the server lets go once its REFUSE is acknowledged: its peer
             * slot is free for the next attempt */
            CHECK(raw_wait(&r, srv, ENET_EVENT_TYPE_DISCONNECT, 3000, &e));
        }
    }
    raw_close(&r);
    return got;
}

static void test_auth(void)
{
    struct side srv, c;
    CHECK_INT(open_server(&srv, 0), ==, 0);
    if (!srv.srv)
        return;
    uint16_t port = pvs_control_server_port(srv.srv);
    struct pvs_control_event ev;
    struct side *all[] = {&srv, &c, NULL};

    /* A genuine client the server has not paired: REFUSE 6 as the answer
     * to its HELLO, with the advice; it does not try again. */
    CHECK_INT(open_client_as(&c, port, 2, 2, &stranger_id, srv_id.public_key), ==, 0);
    CHECK(wait_for(all, &c, PVS_CONTROL_EV_REFUSED, 5000, &ev));
    CHECK_INT(ev.u.refused.refuse.reason, ==, PVS_CTL_REFUSE_NOT_PAIRED);
    CHECK(!ev.u.refused.will_retry);
    CHECK(strstr(ev.u.refused.refuse.text, "not paired") != NULL);
    CHECK(strstr(ev.u.refused.refuse.text, "pvstream-client pair") != NULL);
    pump(all, 100);
    CHECK(!take(&srv, PVS_CONTROL_EV_CLIENT_READY, NULL));
    CHECK(!take(&c, PVS_CONTROL_EV_CONNECTED, NULL));
    close_side(&c);

    /* A client that expects another server's key: its HELLO's tag cannot
     * hold here: REFUSE 7. */
    CHECK_INT(open_client_as(&c, port, 2, 2, &cli_id, stranger_id.public_key), ==, 0);
    CHECK(wait_for(all, &c, PVS_CONTROL_EV_REFUSED, 5000, &ev));
    CHECK_INT(ev.u.refused.refuse.reason, ==, PVS_CTL_REFUSE_AUTH);
    CHECK(!ev.u.refused.will_retry);
    pump(all, 100);
    CHECK(!take(&srv, PVS_CONTROL_EV_CLIENT_READY, NULL));
    close_side(&c);

    /* A version-1 HELLO (56 bytes, no keys): REFUSE version, saying why. */
    struct pvs_ctl_msg m = {.type = PVS_CTL_HELLO}, answer;
    m.u.hello = (struct pvs_ctl_hello){.version_min = 1, .version_max = 1,
                                       .codecs = PVS_CTL_CODEC_BIT_H264, .max_width = 1280,
                                       .max_height = 720, .max_fps = 60,
                                       .max_datagram = 1200, .media_port = 5000};
    uint8_t hello[PVS_CTL_MAX_MESSAGE];
    int hn = pvs_ctl_encode(&m, hello, sizeof(hello));
    CHECK_INT(hn, ==, 57);
    CHECK(raw_ask(&srv, port, hello, (size_t)hn, 3000, &answer));
    CHECK_INT(answer.type, ==, PVS_CTL_REFUSE);
    CHECK_INT(answer.u.refuse.reason, ==, PVS_CTL_REFUSE_VERSION);
    CHECK(strstr(answer.u.refuse.text, "paired, authenticated") != NULL);

    struct pvs_control_stats ss;
    pvs_control_server_get_stats(srv.srv, &ss);
    CHECK_INT(ss.not_paired, ==, 1);
    CHECK_INT(ss.auth_failed, ==, 1);
    CHECK_INT(ss.sessions, ==, 0);
    CHECK_INT(ss.refused, ==, 3);
    close_side(&srv);
}

/* An impostor at the server's address: it answers HELLO with a WELCOME it
 * cannot authenticate. The client drops it (protocol) and tries again only
 * after its interval. */
static void test_impostor(void)
{
    /* Winsock must be started before ENet resolves a name; the control
     * code does this itself, the raw ENet host here must too. */
    CHECK_INT(enet_initialize(), ==, 0);
    ENetAddress addr = {.port = 0};
    enet_address_set_host(&addr, "127.0.0.1");
    ENetHost *imp = enet_host_create(&addr, 4, PVS_CTL_CHANNELS, 0, 0);
    CHECK(imp != NULL);
    if (!imp)
        return;
    ENetAddress bound;
    CHECK_INT(enet_socket_get_address(imp->socket, &bound), ==, 0);
    struct side c;
    CHECK_INT(open_client(&c, bound.port, 2, 2), ==, 0);
    int hellos = 0;
    bool dropped = false;
    struct pvs_control_event ev = {0};
    int64_t until = pvs_time_ns() + 5000000000ll;
    while (!dropped && pvs_time_ns() < until) {
        ENetEvent e;
        while (enet_host_service(imp, &e, 1) > 0) {
            if (e.type != ENET_EVENT_TYPE_RECEIVE)
                continue;
            if (e.packet->dataLength >= 1 && e.packet->data[0] == PVS_CTL_HELLO) {
                hellos++;
                struct pvs_ctl_msg w = {.type = PVS_CTL_WELCOME};
                w.u.welcome.version = 2;
                struct pvs_static_keys eph;
                pvs_static_keys_generate(&eph);
                memcpy(w.u.welcome.public_key, eph.public_key, 32);
                memset(w.u.welcome.tag, 0xa5, sizeof(w.u.welcome.tag));
                uint8_t b[PVS_CTL_MAX_MESSAGE];
                int n = pvs_ctl_encode(&w, b, sizeof(b));
                enet_peer_send(e.peer, 0, enet_packet_create(b, (size_t)n,
                                                             ENET_PACKET_FLAG_RELIABLE));
                enet_host_flush(imp);
            }
            enet_packet_destroy(e.packet);
        }
        service_side(&c);
        dropped = take(&c, PVS_CONTROL_EV_DISCONNECTED, &ev);
    }
    CHECK(dropped);
    CHECK_INT(ev.u.gone.why, ==, PVS_CONTROL_WHY_PROTOCOL);
    CHECK(!take(&c, PVS_CONTROL_EV_CONNECTED, NULL));
    CHECK(!pvs_control_client_connected(c.cli));
    /* no hammering: nothing more within half the retry interval */
    until = pvs_time_ns() + 400000000ll;
    while (pvs_time_ns() < until) {
        ENetEvent e;
        while (enet_host_service(imp, &e, 1) > 0) {
            if (e.type == ENET_EVENT_TYPE_RECEIVE) {
                hellos += e.packet->dataLength >= 1 && e.packet->data[0] == PVS_CTL_HELLO;
                enet_packet_destroy(e.packet);
            }
        }
        service_side(&c);
    }
    CHECK_INT(hellos, ==, 1);
    struct pvs_control_stats cs;
    pvs_control_client_get_stats(c.cli, &cs);
    CHECK_INT(cs.auth_failed, ==, 1);
    CHECK_INT(cs.sessions, ==, 0);
    close_side(&c);
    enet_host_destroy(imp);
    enet_deinitialize();
}

/* Five attempts from one address within 10 s are answered; the sixth is
 * dropped without a word. */
static void test_rate_limit(void)
{
    struct side srv;
    CHECK_INT(open_server(&srv, 0), ==, 0);
    if (!srv.srv)
        return;
    uint16_t port = pvs_control_server_port(srv.srv);
    uint8_t junk[57] = {PVS_CTL_HELLO, 'P', 'V', 'S', '0'}; /* bad magic: REFUSE malformed */
    struct pvs_ctl_msg answer;
    for (int i = 0; i < 5; i++) {
        bool got = raw_ask(&srv, port, junk, sizeof(junk), 3000, &answer);
        CHECK(got);
        if (got)
            CHECK_INT(answer.u.refuse.reason, ==, PVS_CTL_REFUSE_MALFORMED);
    }
    CHECK(!raw_ask(&srv, port, junk, sizeof(junk), 500, &answer));
    struct pvs_control_stats ss;
    pvs_control_server_get_stats(srv.srv, &ss);
    CHECK_INT(ss.rate_limited, ==, 1);
    CHECK_INT(ss.refused, ==, 5);
    close_side(&srv);
}

int main(void)
{
    if (pvs_static_keys_generate(&srv_id) != 0 || pvs_static_keys_generate(&cli_id) != 0 ||
        pvs_static_keys_generate(&stranger_id) != 0) {
        fprintf(stderr, "cannot make identities\n");
        return 1;
    }
    RUN(test_config);
    RUN(test_auth);
    RUN(test_impostor);
    RUN(test_rate_limit);
    RUN(test_session);
    RUN(test_raw_peers);
    RUN(test_reconnect);
    RUN(test_silent_peer);
    TEST_EXIT();
}
