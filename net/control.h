/* The control channel's sessions over ENet (docs/protocol.md, "Session
 * state machine"): the server, which serves one client at a time, and the
 * client, which reconnects by itself. Both are event-driven: the owner
 * calls *_service in a loop and acts on the events it returns. Messages
 * are built and sealed by net/control_msg.h; keys come from
 * net/handshake.h.
 *
 * Threading: a server or client handle is used by one thread at a time
 * (the one that services it; the send functions too). A server and a
 * client may live in different threads of one process.
 *
 * What each side does on its own while serviced: answers the peer's PING
 * with PONG; sends its own PING every second and keeps the round trip and
 * the peer's clock offset; drops (and counts) malformed, replayed or
 * forged messages without answering them. The server also refuses a
 * second client (busy), drops a connection that sends no HELLO within 3 s,
 * and lets ENet drop a peer that stops answering (2 to 4 s).
 *
 * Authentication (protocol version 2, net/handshake.h): the server holds
 * its identity key pair and asks is_paired about each client whose HELLO
 * proves it holds its own identity; an unknown client gets REFUSE 6, a
 * forged HELLO REFUSE 7, and nothing else. Handshake attempts are limited
 * per source address (a token bucket: rate_attempts per rate_window_ms);
 * one over the limit is dropped without an answer. The client holds its
 * identity and the server's public key, and drops a server whose WELCOME
 * does not prove it holds the matching secret. */
#ifndef PVS_CONTROL_H
#define PVS_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/platform/platform.h"
#include "net/control_msg.h"
#include "net/handshake.h"

#define PVS_CONTROL_DEFAULT_PORT 47100

/* Why a session ended. */
enum pvs_control_why {
    PVS_CONTROL_WHY_BYE = 1,       /* the peer sent BYE (its reason in bye_reason) */
    PVS_CONTROL_WHY_TIMEOUT,       /* the peer stopped answering (ENet timeout) */
    PVS_CONTROL_WHY_DISCONNECT,    /* the peer disconnected without BYE */
    PVS_CONTROL_WHY_LOCAL,         /* this side ended it */
    PVS_CONTROL_WHY_PROTOCOL,      /* the peer broke the protocol (client: a bad WELCOME) */
};

const char *pvs_control_why_name(enum pvs_control_why why);

enum pvs_control_event_type {
    PVS_CONTROL_EV_NONE = 0,
    /* server */
    PVS_CONTROL_EV_CLIENT_READY,       /* ev.ready */
    PVS_CONTROL_EV_KEYFRAME_REQUEST,   /* ev.keyframe_request */
    PVS_CONTROL_EV_STATS,              /* ev.stats */
    PVS_CONTROL_EV_CLIENT_GONE,        /* ev.gone; only after CLIENT_READY */
    PVS_CONTROL_EV_INPUT,              /* ev.input */
    PVS_CONTROL_EV_FEEDBACK,           /* ev.feedback */
    /* client */
    PVS_CONTROL_EV_CONNECTED,          /* ev.connected */
    PVS_CONTROL_EV_STREAM,             /* ev.stream */
    PVS_CONTROL_EV_REFUSED,            /* ev.refused */
    PVS_CONTROL_EV_RUMBLE,             /* ev.rumble */
    PVS_CONTROL_EV_RATE,               /* ev.rate */
    PVS_CONTROL_EV_DISCONNECTED,       /* ev.gone; after CONNECTED, or with
                                          PVS_CONTROL_WHY_PROTOCOL when the
                                          server failed to prove its identity */
};

struct pvs_control_event {
    enum pvs_control_event_type type;
    union {
        /* The client's HELLO was accepted and WELCOME sent: the session is
         * keyed. keys are the server's (tx: server to client). The
         * receiver copies what it needs and wipes the event's keys
         * (pvs_session_keys_wipe). */
        struct {
            struct pvs_ctl_hello hello;     /* the client's capabilities */
            uint16_t version;               /* the version chosen */
            uint32_t codecs;                /* hello.codecs & the server's */
            struct pvs_addr control_addr;   /* the client's control address */
            struct pvs_addr media_addr;     /* its address with hello.media_port */
            char client_name[64];           /* its paired name (is_paired's);
                                               "" with accept_any_client */
            uint8_t client_key[PVS_HANDSHAKE_PUBLIC_BYTES]; /* its static key */
            struct pvs_session_keys keys;
        } ready;
        /* WELCOME arrived, keys derived (tx: client to server). Wipe the
         * keys as above. */
        struct {
            uint16_t version;
            struct pvs_session_keys keys;
        } connected;
        struct pvs_ctl_keyframe_request keyframe_request;
        struct pvs_ctl_stats stats;
        /* An input event as it came (inner type 0x20..0x2f first, then its
         * body), for input/input.h's pvs_input_parse. Authenticated, but
         * not parsed here: the control channel does not know input. */
        struct {
            uint8_t channel;
            uint8_t len;
            uint8_t msg[PVS_CTL_INPUT_MAX];
        } input;
        struct pvs_ctl_stream stream;
        struct pvs_ctl_rumble rumble;
        struct pvs_ctl_feedback feedback;
        struct pvs_ctl_rate rate;
        /* REFUSE arrived. Busy and shutting down may pass: the client
         * tries again (unless no_reconnect); any other reason (not paired
         * and authentication failed among them) stops it. */
        struct {
            struct pvs_ctl_refuse refuse;
            bool will_retry;
        } refused;
        struct {
            enum pvs_control_why why;
            uint8_t bye_reason;             /* with PVS_CONTROL_WHY_BYE */
        } gone;
    } u;
};

/* Messages dropped and other counts, since open. */
struct pvs_control_stats {
    uint64_t malformed;        /* unparsable, wrong direction, bad envelope */
    uint64_t replayed;         /* sealed counter not above the last accepted */
    uint64_t bad_tag;          /* sealed message that failed authentication */
    uint64_t clear_after_keys; /* a clear message once the session was keyed */
    uint64_t unexpected;       /* well formed, but not now (sealed before keys,
                                  a second HELLO, from a refused peer) */
    uint64_t unknown_type;     /* reserved types 0x31..0x3f; input events too
                                  long, or on the control channel */
    uint64_t sessions;         /* sessions keyed */
    uint64_t refused;          /* server: connections refused (any reason) */
    uint64_t hello_timeouts;   /* server: connections dropped for no HELLO */
    uint64_t pings_sent;
    uint64_t pongs_received;
    uint64_t auth_failed;      /* server: HELLO tags that failed (REFUSE 7);
                                  client: WELCOME tags that failed */
    uint64_t not_paired;       /* server: authenticated but unknown clients */
    uint64_t rate_limited;     /* server: connections dropped over the limit */
};

/* Round trip and clock offset from PING/PONG (docs/protocol.md, "Clock
 * offset"). */
struct pvs_control_clock {
    int64_t rtt_us;            /* the latest round trip */
    int64_t min_rtt_us;        /* the smallest of the last ten */
    int64_t offset_us;         /* peer's clock - ours, from the min_rtt sample:
                                  peer time t is our time t - offset_us */
    uint32_t samples;          /* PONGs counted in this session */
};

/* ---- server ------------------------------------------------------------- */

struct pvs_control_server_config {
    const char *bind_host;     /* NULL or "": every IPv4 address */
    uint16_t port;             /* 0 picks a free one (pvs_control_server_port) */
    uint16_t version_min;      /* the versions it speaks */
    uint16_t version_max;
    uint32_t codecs;           /* PVS_CTL_CODEC_BIT_*: what it can encode */
    int hello_timeout_ms;      /* a connection with no HELLO by then goes */
    int peer_timeout_min_ms;   /* ENet's peer timeout (enet_peer_timeout) */
    int peer_timeout_max_ms;
    int ping_interval_ms;      /* 0: send no PING (still answers them) */
    int max_pending;           /* connections at once besides the client (to refuse) */
    /* Authentication. identity: the server's key pair (required; copied,
     * and wiped at close). is_paired(is_paired_ctx, ...) says whether a
     * client's key is paired; required unless accept_any_client, which
     * takes every client that proves it holds its own key (for tests, and
     * the programs until pairing is wired: it authenticates no client). */
    struct pvs_static_keys identity;
    pvs_handshake_is_paired_fn is_paired;
    void *is_paired_ctx;
    bool accept_any_client;
    int rate_attempts;         /* handshake attempts per source address ... */
    int rate_window_ms;        /* ... per this window (a token bucket) */
};

/* Port 47100, version 2 only, every codec, 3 s HELLO, 2..4 s ENet
 * timeouts, PING every second, 4 pending, 5 attempts per address per 10 s;
 * no identity and no is_paired (the caller must set them). */
void pvs_control_server_default_config(struct pvs_control_server_config *cfg);

struct pvs_control_server;

/* Binds and listens. Returns 0; PVS_EINVAL for a bad config (versions
 * other than 2, an identity whose keys do not match, neither is_paired nor
 * accept_any_client); PVS_ENOENT
 * when bind_host does not resolve; PVS_EIO when the port cannot be bound
 * (in use: the log says so); PVS_ENOMEM; PVS_EEXTERNAL when ENet cannot
 * initialize. */
int pvs_control_server_open(struct pvs_control_server **out,
                            const struct pvs_control_server_config *cfg);

/* Sends BYE "shutting down" to the client and waits (at most 250 ms) for
 * it to be acknowledged, disconnects everyone, frees. Accepts NULL and *srv == NULL; clears *srv. */
void pvs_control_server_close(struct pvs_control_server **srv);

/* The port it is bound to. */
uint16_t pvs_control_server_port(const struct pvs_control_server *srv);

/* Runs the server for up to timeout_ms (0: only what is ready now; what
 * is ready is handled even when that takes a little longer).
 * Returns 1 with *ev filled as soon as there is an event, 0 when the time
 * ran out with none, or a negative code when ENet fails. */
int pvs_control_server_service(struct pvs_control_server *srv, int timeout_ms,
                               struct pvs_control_event *ev);

/* True while a client is keyed (from CLIENT_READY until CLIENT_GONE). */
bool pvs_control_server_has_client(const struct pvs_control_server *srv);
/* While why is set (not NULL or ""), a client that connects is refused as
 * busy with why, as a second client is (the server streams to another
 * protocol's client). Same thread as service. */
void pvs_control_server_set_busy(struct pvs_control_server *srv, const char *why);

/* Sends STREAM to the keyed client and flushes. Returns 0, PVS_ENOENT
 * when no client is keyed, PVS_EINVAL for a description the client would
 * drop, PVS_ENOMEM or PVS_EIO. */
int pvs_control_server_send_stream(struct pvs_control_server *srv,
                                   const struct pvs_ctl_stream *stream);

/* Sends RUMBLE (a game moved a virtual pad's motors) to the keyed client
 * on the control channel, reliable: a lost "stop" would leave the pad
 * shaking. Same returns as send_stream. */
int pvs_control_server_send_rumble(struct pvs_control_server *srv,
                                   const struct pvs_ctl_rumble *rumble);

/* Sends RATE (the rate control's state, for the client's figures) on the
 * unreliable channel, flushed at once. Same returns as send_stream. */
int pvs_control_server_send_rate(struct pvs_control_server *srv, const struct pvs_ctl_rate *rate);

/* Ends the session: BYE with reason (enum pvs_ctl_bye_reason), then an
 * ENet disconnect once it is delivered. No CLIENT_GONE follows; the server
 * is ready for the next client. Returns 0 or PVS_ENOENT. */
int pvs_control_server_disconnect(struct pvs_control_server *srv, uint8_t reason);

/* The clock of the client's session. Returns 0, or PVS_EAGAIN while there
 * is no client or no PONG yet. */
int pvs_control_server_get_clock(const struct pvs_control_server *srv,
                                 struct pvs_control_clock *out);

void pvs_control_server_get_stats(const struct pvs_control_server *srv,
                                  struct pvs_control_stats *out);

/* ---- client ------------------------------------------------------------- */

struct pvs_control_client_config {
    const char *host;          /* the server: name or IPv4 address */
    uint16_t port;             /* default 47100 */
    /* HELLO as sent: versions, codecs, largest size, frame rate and
     * datagram, media port. public_key is filled in per connection. */
    struct pvs_ctl_hello hello;
    bool no_reconnect;         /* after a loss or a busy refusal, stop */
    int reconnect_interval_ms; /* between attempts, after a loss */
    int welcome_timeout_ms;    /* HELLO sent, no answer by then: try again */
    int peer_timeout_min_ms;
    int peer_timeout_max_ms;
    int ping_interval_ms;      /* 0: send no PING (still answers them) */
    /* Authentication (required): this client's key pair (copied, wiped at
     * close) and the server's public key, both from pairing. */
    struct pvs_static_keys identity;
    uint8_t server_key[PVS_HANDSHAKE_PUBLIC_BYTES];
};

/* Host 127.0.0.1, port 47100, HELLO versions 2..2, every codec, 3840x2160
 * at 240 fps, 1400-byte datagrams, media port 47102; retry every second;
 * 5 s for WELCOME; 2..4 s ENet timeouts; PING every second; no keys (the
 * caller must set them). */
void pvs_control_client_default_config(struct pvs_control_client_config *cfg);

struct pvs_control_client;

/* Resolves the server and starts connecting (the first attempt begins at
 * once). Returns 0; PVS_EINVAL for a bad config (the HELLO it would send
 * is checked, versions below 2, keys missing or not matching); PVS_ENOENT when the host does not resolve; PVS_ENOMEM;
 * PVS_EEXTERNAL when ENet or libsodium cannot initialize. */
int pvs_control_client_open(struct pvs_control_client **out,
                            const struct pvs_control_client_config *cfg);

/* Disconnects at once (without BYE: call pvs_control_client_bye first for
 * a polite goodbye) and frees. Accepts NULL and *cli == NULL; clears *cli. */
void pvs_control_client_close(struct pvs_control_client **cli);

/* Runs the client for up to timeout_ms: connects, reconnects, answers.
 * Returns 1 with *ev filled, 0 when the time ran out with none, or a
 * negative code when ENet fails. */
int pvs_control_client_service(struct pvs_control_client *cli, int timeout_ms,
                               struct pvs_control_event *ev);

/* True while the session is keyed (from CONNECTED until DISCONNECTED). */
bool pvs_control_client_connected(const struct pvs_control_client *cli);

/* Sealed messages to the server, sent and flushed at once. Each returns
 * 0, PVS_ENOENT when not keyed, PVS_EINVAL for values the server would
 * drop, PVS_ENOMEM or PVS_EIO. */
int pvs_control_client_send_keyframe_request(struct pvs_control_client *cli,
                                             uint32_t last_frame, uint8_t reason);
int pvs_control_client_send_stats(struct pvs_control_client *cli,
                                  const struct pvs_ctl_stats *stats);
/* An input event (msg: inner type 0x20..0x2f and body, as made by
 * pvs_input_encode; at most PVS_CTL_INPUT_MAX bytes) on `channel`
 * (PVS_CTL_CHANNEL_INPUT or PVS_CTL_CHANNEL_MOTION, as pvs_input_channel
 * says). Motion is sent unreliable and not flushed: the next service
 * flushes it, so a burst of mouse motion goes out in one datagram. */
int pvs_control_client_send_input(struct pvs_control_client *cli, int channel,
                                  const uint8_t *msg, size_t len);

/* FEEDBACK (arrival records for the server's rate control) on the
 * unreliable channel, flushed at once: a lost one is replaced by the next. */
int pvs_control_client_send_feedback(struct pvs_control_client *cli,
                                     const struct pvs_ctl_feedback *fb);

/* Sends BYE (enum pvs_ctl_bye_reason) and disconnects once it is
 * delivered; the client stops (no reconnection) and reports no
 * DISCONNECTED for it. Returns 0 or PVS_ENOENT when not keyed (the client
 * stops all the same). */
int pvs_control_client_bye(struct pvs_control_client *cli, uint8_t reason);

/* The clock of the session: offset_us is the server's clock minus ours.
 * Returns 0, or PVS_EAGAIN while not keyed or no PONG yet. */
int pvs_control_client_get_clock(const struct pvs_control_client *cli,
                                 struct pvs_control_clock *out);

void pvs_control_client_get_stats(const struct pvs_control_client *cli,
                                  struct pvs_control_stats *out);

#endif
