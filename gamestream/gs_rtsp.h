/* The host side of GameStream's RTSP handshake as current Moonlight speaks
 * it (docs/gamestream.md, "RTSP and control"): a message parser and a
 * session state machine that turn one request's bytes into the reply's
 * bytes and an event. No I/O: gamestream/gs_rtsp_server.h puts it on TCP
 * port 48010, and tests and the fuzzer drive it directly.
 *
 * How Moonlight talks (facts from moonlight-common-c src/RtspConnection.c,
 * for a host whose serverinfo appversion is 7.1.431 or later): one TCP
 * connection per request; it sends the request and reads the reply until
 * the host closes the connection. The requests, in order:
 *   OPTIONS  <url>                 (url: the launch's sessionUrl0)
 *   DESCRIBE <url>                 Accept: application/sdp
 *   SETUP    streamid=audio/0/0    (no Session yet)
 *   SETUP    streamid=video/0/0    Session: <id>
 *   SETUP    streamid=control/13/0 Session: <id>
 *   ANNOUNCE streamid=control/13/0 Session, Content-type: application/sdp,
 *                                  Content-length, the SDP body
 *   PLAY     /                     Session
 * each with CSeq (counting from 1) and X-GS-ClientVersion: 14. The client
 * reads the Session header of the audio SETUP (up to the first ';'),
 * "server_port=" in each SETUP's Transport header (falling back to 48000,
 * 47998 and 47999), X-SS-Ping-Payload (exactly 16 characters) of the audio
 * and video SETUPs, and X-SS-Connect-Data of the control SETUP (the ENet
 * connect data it then sends to the control port); of the DESCRIBE reply
 * only its body (gamestream/gs_sdp.h). It does not check CSeq, but its
 * parser needs at least one header in every reply.
 *
 * Encrypted RTSP: when the launch's sessionUrl0 starts with "rtspenc://"
 * (the HTTP side's choice, for a client whose launch query says corever=1
 * or more), every request and reply is framed as a big-endian u32 (bit 31
 * set, the plaintext length below it), a big-endian u32 sequence number, a
 * 16-byte AES-GCM tag, and the ciphertext; key: the launch's rikey; IV:
 * pvs_gs_gcm_iv12(seq, 'C' or 'H', 'R'). The client numbers its requests
 * from 1. This host accepts both; plain "rtsp://" is the default (see
 * docs/gamestream.md).
 *
 * Threading: a session is used by one thread at a time. */
#ifndef PVS_GS_RTSP_H
#define PVS_GS_RTSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gamestream/gs_sdp.h"

#define PVS_GS_RTSP_PORT 48010
#define PVS_GS_AUDIO_PORT 48000
#define PVS_GS_VIDEO_PORT 47998
#define PVS_GS_CONTROL_PORT 47999

/* Limits on a request: its request line and headers, its body, their
 * count. A request over them is malformed (400, or dropped when no reply
 * can be framed). */
#define PVS_GS_RTSP_MAX_HEAD 4096
#define PVS_GS_RTSP_MAX_BODY 16384
#define PVS_GS_RTSP_MAX_HEADERS 32
#define PVS_GS_RTSP_ENC_HEADER 24    /* the encrypted framing's bytes before the ciphertext */
/* The most bytes one request may take on the wire, framing included. */
#define PVS_GS_RTSP_MAX_MESSAGE \
    (PVS_GS_RTSP_ENC_HEADER + PVS_GS_RTSP_MAX_HEAD + PVS_GS_RTSP_MAX_BODY)
/* A reply buffer of this size always suffices. */
#define PVS_GS_RTSP_MAX_REPLY (PVS_GS_RTSP_ENC_HEADER + 1024 + PVS_GS_SDP_DESCRIBE_MAX)

#define PVS_GS_PING_PAYLOAD 16       /* X-SS-Ping-Payload's length */
#define PVS_GS_KEY_BYTES 16          /* rikey */

/* ---- parsing ---------------------------------------------------------------- */

struct pvs_gs_rtsp_header {
    const char *name;            /* as sent; compare without case */
    const char *value;           /* trimmed */
};

/* A parsed request. The strings point into `text`, a NUL-split copy. */
struct pvs_gs_rtsp_request {
    char text[PVS_GS_RTSP_MAX_HEAD + 1];
    const char *method;          /* "OPTIONS", ... (letters, '_') */
    const char *target;
    int32_t cseq;                /* -1 when absent */
    size_t header_count;
    struct pvs_gs_rtsp_header headers[PVS_GS_RTSP_MAX_HEADERS];
    const uint8_t *body;         /* into the caller's buffer; NULL when none */
    size_t body_len;
};

/* How many bytes at the start of buf make one whole request: > 0; 0 when
 * more must be read; PVS_EBADDATA when they cannot start a request within
 * the limits (the connection should be dropped). `encrypted` picks the
 * framing. A plain request ends after its headers' empty line plus
 * Content-Length bytes. */
int pvs_gs_rtsp_frame(const uint8_t *buf, size_t len, bool encrypted);

/* Parses one plain request of exactly len bytes: "METHOD target
 * RTSP/1.0", header lines "Name: value", CRLF line ends, an empty line,
 * then a body of Content-Length bytes (no more, no less). Returns 0 or
 * PVS_EBADDATA (out->cseq is still set when the CSeq header was read, so
 * an error reply can carry it). */
int pvs_gs_rtsp_parse(const uint8_t *buf, size_t len, struct pvs_gs_rtsp_request *out);

/* A header's value by name (any case), or NULL. */
const char *pvs_gs_rtsp_header(const struct pvs_gs_rtsp_request *r, const char *name);

/* ---- the session ------------------------------------------------------------ */

/* What the host offers and where its streams listen. */
struct pvs_gs_rtsp_config {
    struct pvs_gs_sdp_host sdp;
    uint16_t audio_port;         /* PVS_GS_AUDIO_PORT */
    uint16_t video_port;         /* PVS_GS_VIDEO_PORT */
    uint16_t control_port;       /* PVS_GS_CONTROL_PORT */
};

/* What one /launch (or /resume) set up; the HTTP side fills it. The
 * values the host makes up are random per launch: the client echoes the
 * ping payloads in the UDP pings it sends to the video and audio ports
 * (16 bytes, then a big-endian u32 count), and the connect data as its
 * ENet connect data, so each stream can tell its client from a stranger. */
struct pvs_gs_rtsp_launch {
    uint8_t key[PVS_GS_KEY_BYTES]; /* rikey: AES-128 key of the control stream, RTSP, video */
    uint32_t key_id;             /* rikeyid */
    bool encrypted_rtsp;         /* sessionUrl0 was given as rtspenc:// */
    uint32_t session_id;         /* the RTSP Session header */
    uint32_t connect_data;       /* X-SS-Connect-Data */
    char audio_ping[PVS_GS_PING_PAYLOAD + 1]; /* X-SS-Ping-Payload of the audio SETUP */
    char video_ping[PVS_GS_PING_PAYLOAD + 1]; /* ... of the video SETUP */
};

/* Random bytes pvs_gs_rtsp_launch_init takes. */
#define PVS_GS_RTSP_LAUNCH_RANDOM 24

/* Fills *l from the launch's rikey and rikeyid and PVS_GS_RTSP_LAUNCH_RANDOM
 * fresh random bytes: ping payloads as hex of bytes 0..7 and 8..15,
 * connect data and session id from bytes 16..19 and 20..23. */
void pvs_gs_rtsp_launch_init(struct pvs_gs_rtsp_launch *l, const uint8_t key[PVS_GS_KEY_BYTES],
                        uint32_t key_id, bool encrypted_rtsp,
                        const uint8_t random[PVS_GS_RTSP_LAUNCH_RANDOM]);

enum pvs_gs_stream_kind {
    PVS_GS_STREAM_AUDIO = 1,
    PVS_GS_STREAM_VIDEO = 2,
    PVS_GS_STREAM_CONTROL = 4,
};

enum pvs_gs_rtsp_event_type {
    PVS_GS_RTSP_EV_NONE = 0,
    PVS_GS_RTSP_EV_SETUP,        /* ev.stream set up (for the log) */
    PVS_GS_RTSP_EV_ANNOUNCE,     /* ev.config: what the client asked for */
    PVS_GS_RTSP_EV_PLAY,         /* ev.config: start the streams */
};

struct pvs_gs_rtsp_event {
    enum pvs_gs_rtsp_event_type type;
    enum pvs_gs_stream_kind stream;      /* SETUP */
    struct pvs_gs_stream_config config;  /* ANNOUNCE, PLAY */
};

struct pvs_gs_rtsp_stats {
    uint64_t requests;           /* handled (framed and, if encrypted, opened) */
    uint64_t replies_ok;         /* 200 */
    uint64_t replies_error;      /* 4xx, 5xx */
    uint64_t malformed;          /* answered 400 */
    uint64_t dropped;            /* not answered: undecryptable, replayed, plain when encrypted */
};

/* One launch's RTSP session. Plain data: pvs_gs_rtsp_init, then arm with a
 * launch; a new launch arms again (the handshake starts over). */
struct pvs_gs_rtsp {
    struct pvs_gs_rtsp_config cfg;
    struct pvs_gs_rtsp_launch launch;
    bool armed;
    unsigned setup;              /* PVS_GS_STREAM_* set up */
    bool announced, playing;
    struct pvs_gs_stream_config config;
    uint32_t rx_seq;             /* encrypted: the last request's sequence number */
    uint32_t tx_seq;             /* encrypted: the last reply's */
    struct pvs_gs_rtsp_stats stats;
};

void pvs_gs_rtsp_init(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_config *cfg);

/* Starts a handshake for this launch (what was set up before is gone).
 * Until then every request but OPTIONS is answered 503. */
void pvs_gs_rtsp_arm(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_launch *l);

/* Ends the launch (cancel, quit): keys wiped, back to 503. */
void pvs_gs_rtsp_disarm(struct pvs_gs_rtsp *s);

/* Handles one request of len bytes (one pvs_gs_rtsp_frame), writing the
 * reply into `reply` (PVS_GS_RTSP_MAX_REPLY bytes suffice) and what
 * happened into *ev. Returns the reply's length (> 0); 0 when the request
 * gets no reply (dropped and counted: close the connection); PVS_EINVAL for
 * bad arguments. Replies: 200; 400 malformed; 404 an unknown stream;
 * 454 a wrong or missing Session; 455 out of order (ANNOUNCE before SETUP,
 * PLAY before ANNOUNCE); 415 an ANNOUNCE asking for a codec or format the
 * host does not offer; 501 another method; 503 no launch. */
int pvs_gs_rtsp_handle(struct pvs_gs_rtsp *s, const uint8_t *msg, size_t len,
                       uint8_t *reply, size_t cap, struct pvs_gs_rtsp_event *ev);

#endif
