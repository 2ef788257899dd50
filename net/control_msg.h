/* The control channel's messages (docs/protocol.md, "Control messages"):
 * C structs for each one, an encoder that writes the exact bytes, a parser
 * that checks every length and range, and the sealing of messages after
 * the handshake (ChaCha20-Poly1305 IETF, per-channel counters, replay
 * refusal).
 *
 * No I/O and no allocation: the caller passes the buffers. A message, clear
 * or sealed, is at most PVS_CTL_MAX_MESSAGE bytes in this version; a longer
 * one received is still parsed (later versions append fields) as long as
 * the caller's buffer holds it.
 *
 * The byte layout of a message: one type byte, then the body. The encoder
 * and parser deal in that form for the clear messages (HELLO, WELCOME,
 * REFUSE) and for the inner messages of a sealed one (STREAM ... BYE), which
 * pvs_ctl_seal wraps and pvs_ctl_open unwraps. */
#ifndef PVS_CONTROL_MSG_H
#define PVS_CONTROL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/handshake.h"

#define PVS_CTL_VERSION 2            /* the protocol version this code speaks */
#define PVS_CTL_MAGIC "PVS1"
#define PVS_CTL_CHANNELS 3           /* ENet channels: control, input, motion */
#define PVS_CTL_CHANNEL_CONTROL 0    /* reliable */
#define PVS_CTL_CHANNEL_INPUT 1      /* reliable */
#define PVS_CTL_CHANNEL_MOTION 2     /* unreliable, sequenced */
#define PVS_CTL_INPUT_MAX 32         /* an input event's inner message, at most */

#define PVS_CTL_MAX_MESSAGE 512      /* the largest message this version sends */
#define PVS_CTL_MAX_RECEIVE 4096     /* the largest one accepted (room to grow) */
#define PVS_CTL_SEAL_HEADER 9        /* 0x80 and the 8-byte counter */
#define PVS_CTL_SEAL_TAG 16
#define PVS_CTL_SEAL_OVERHEAD (PVS_CTL_SEAL_HEADER + PVS_CTL_SEAL_TAG)

#define PVS_CTL_DATAGRAM_MIN 576     /* the datagram sizes HELLO and STREAM allow */
#define PVS_CTL_DATAGRAM_MAX 9000
#define PVS_CTL_REFUSE_TEXT_MAX 200

/* Message types: the first byte of a clear message or of a sealed one's
 * plaintext. */
enum pvs_ctl_type {
    PVS_CTL_HELLO = 0x01,
    PVS_CTL_WELCOME = 0x02,
    PVS_CTL_REFUSE = 0x03,
    PVS_CTL_STREAM = 0x10,
    PVS_CTL_KEYFRAME_REQUEST = 0x11,
    PVS_CTL_STATS = 0x12,
    PVS_CTL_PING = 0x13,
    PVS_CTL_PONG = 0x14,
    PVS_CTL_BYE = 0x15,
    PVS_CTL_FEEDBACK = 0x16,     /* client -> server, channel 2 (unreliable) */
    PVS_CTL_INPUT_FIRST = 0x20,  /* 0x20..0x2f: input events (input/input.h) */
    PVS_CTL_INPUT_LAST = 0x2f,
    /* 0x30..0x3f: feedback to the client's devices. A receiver from
     * before one of them counts it as unknown and drops it. */
    PVS_CTL_RUMBLE = 0x30,
    PVS_CTL_RATE = 0x31,         /* server -> client, channel 2 (unreliable) */
    PVS_CTL_RESERVED_LAST = 0x3f, /* 0x32..0x3f: reserved for later versions */
    PVS_CTL_SEALED = 0x80,       /* the first byte of every sealed message */
};

/* HELLO's codec bits (what the client decodes, what the server encodes). */
#define PVS_CTL_CODEC_BIT_H264 (1u << 0)
#define PVS_CTL_CODEC_BIT_HEVC (1u << 1)
#define PVS_CTL_CODEC_BIT_AV1 (1u << 2)

/* STREAM's codec values. */
enum pvs_ctl_codec {
    PVS_CTL_CODEC_H264 = 1,
    PVS_CTL_CODEC_HEVC = 2,
    PVS_CTL_CODEC_AV1 = 3,
};

enum pvs_ctl_refuse_reason {
    PVS_CTL_REFUSE_BUSY = 1,
    PVS_CTL_REFUSE_VERSION = 2,
    PVS_CTL_REFUSE_CODEC = 3,
    PVS_CTL_REFUSE_MALFORMED = 4,
    PVS_CTL_REFUSE_SHUTDOWN = 5,
    PVS_CTL_REFUSE_NOT_PAIRED = 6,  /* authenticated, but not a paired client */
    PVS_CTL_REFUSE_AUTH = 7,        /* HELLO's tag did not verify */
};

enum pvs_ctl_keyframe_reason {
    PVS_CTL_KEYFRAME_LOST = 1,
    PVS_CTL_KEYFRAME_DECODER = 2,
    PVS_CTL_KEYFRAME_START = 3,
};

enum pvs_ctl_bye_reason {
    PVS_CTL_BYE_QUIT = 1,
    PVS_CTL_BYE_SHUTDOWN = 2,
    PVS_CTL_BYE_ERROR = 3,
};

/* HELLO's display flags (what the display fields say). */
#define PVS_CTL_DISPLAY_WINDOW (1u << 0) /* the size is a window's, not a whole display's */
#define PVS_CTL_DISPLAY_USER (1u << 1)   /* the user set it (--size, --fps), not read */
#define PVS_CTL_HELLO_DISPLAY_BODY 112   /* a HELLO with the display fields */

/* HELLO (client -> server, clear). The parser requires the magic,
 * 1 <= version_min <= version_max, nonzero sizes, frame rate and media
 * port, and max_datagram in 576..9000. Unknown codec bits are kept (a later
 * client may decode more). A client that speaks version 2 or later
 * (version_max >= 2) sends the 104-byte body with static_key and tag (the
 * parser then requires them); a version-1 HELLO is 56 bytes and has
 * neither (they read as zeros). The tag is net/handshake.c's to write and
 * check, on the encoded bytes.
 *
 * Display (optional, version_max >= 2 only): the mode the client would
 * like to see, its display's or window's size and refresh. The encoder
 * writes the 112-byte body when any display field is nonzero, the
 * 104-byte one otherwise (what servers from before these fields read); the
 * parser reads them from a body of 112 bytes or more and requires width and
 * height to be both zero or both nonzero. Unknown flag bits are kept. */
struct pvs_ctl_hello {
    uint16_t version_min;
    uint16_t version_max;
    uint32_t codecs;             /* PVS_CTL_CODEC_BIT_* */
    uint16_t max_width;
    uint16_t max_height;
    uint16_t max_fps;
    uint16_t max_datagram;       /* UDP payload bytes */
    uint16_t media_port;         /* the client's media UDP port */
    uint8_t public_key[PVS_HANDSHAKE_PUBLIC_BYTES]; /* ephemeral */
    uint8_t static_key[PVS_HANDSHAKE_PUBLIC_BYTES]; /* version_max >= 2 */
    uint8_t tag[PVS_HANDSHAKE_TAG_BYTES];           /* version_max >= 2 */
    uint16_t display_width;      /* 0 with display_height 0: not said */
    uint16_t display_height;
    uint16_t display_hz;         /* refresh, Hz; 0: not said */
    uint8_t display_flags;       /* PVS_CTL_DISPLAY_* */
};

/* WELCOME (server -> client, clear). version >= 1; from version 2 on the
 * body is 56 bytes, ending with the tag (net/handshake.c writes it). */
struct pvs_ctl_welcome {
    uint16_t version;
    uint8_t public_key[PVS_HANDSHAKE_PUBLIC_BYTES]; /* ephemeral */
    uint8_t tag[PVS_HANDSHAKE_TAG_BYTES];           /* version >= 2 */
};

/* REFUSE (server -> client, clear). Any nonzero reason is accepted (a
 * later server may have more; the text still explains). The parser checks
 * the text length against 0..200 and the body, and stores the text NUL-
 * terminated with control characters replaced by '?', so it can be logged
 * as is. */
struct pvs_ctl_refuse {
    uint8_t reason;              /* enum pvs_ctl_refuse_reason */
    uint8_t text_len;
    char text[PVS_CTL_REFUSE_TEXT_MAX + 1];
};

/* STREAM (server -> client, sealed). codec 1..3; nonzero width, height,
 * fps, bitrate, media port and generation; datagram_size 576..9000.
 * Audio (bytes 28..39, written by every encoder; a 28-byte STREAM from an
 * older server parses with audio_ssrc 0): audio_ssrc 0 means no audio;
 * otherwise audio_frame is 120, 240, 480 or 960 samples, audio_channels 2
 * and audio_bitrate nonzero. */
struct pvs_ctl_stream {
    uint8_t codec;               /* enum pvs_ctl_codec */
    uint16_t width;
    uint16_t height;
    uint16_t fps;
    uint32_t bitrate;            /* bits per second */
    uint16_t datagram_size;
    uint8_t fec_percent;
    uint8_t fec_min_parity;
    uint16_t media_port;         /* the server's media UDP port */
    uint32_t ssrc;
    uint32_t generation;
    uint32_t audio_ssrc;         /* 0: no audio in this session */
    uint16_t audio_frame;        /* samples per channel per Opus frame, at 48 kHz */
    uint8_t audio_channels;
    uint8_t audio_redundancy;    /* earlier frames each packet carries again, 0..2 */
    uint32_t audio_bitrate;      /* Opus bits per second */
};

/* KEYFRAME_REQUEST (client -> server, sealed). reason 1..3. */
struct pvs_ctl_keyframe_request {
    uint32_t last_frame;         /* last complete frame number */
    uint8_t reason;              /* enum pvs_ctl_keyframe_reason */
};

/* STATS (client -> server, sealed): counts since the session began. */
struct pvs_ctl_stats {
    uint64_t packets_received;
    uint64_t packets_recovered;
    uint64_t packets_lost;
    uint32_t frames_complete;
    uint32_t frames_dropped;
    uint32_t jitter_us;
    uint32_t decode_us;
};

/* PING and PONG (either way, sealed); clocks in microseconds. */
struct pvs_ctl_ping {
    uint32_t id;
    uint64_t clock_us;           /* the sender's clock */
};

struct pvs_ctl_pong {
    uint32_t id;
    uint64_t ping_clock_us;      /* the PING's clock, echoed */
    uint64_t clock_us;           /* the responder's clock when the PING came */
};

/* BYE (either way, sealed). reason 1..3. */
struct pvs_ctl_bye {
    uint8_t reason;              /* enum pvs_ctl_bye_reason */
};

/* RUMBLE (server -> client, sealed, control channel): a game set the
 * motors of virtual pad `pad` (0..3, the GAMEPAD event's number). Speeds
 * 0 (off) to 65535; duration_ms 0 means until the next RUMBLE for this
 * pad. The low-frequency motor is the big one. */
#define PVS_CTL_RUMBLE_PADS 4
struct pvs_ctl_rumble {
    uint8_t pad;
    uint16_t low_freq;
    uint16_t high_freq;
    uint16_t duration_ms;
};

/* FEEDBACK (client -> server, sealed, channel 2: unreliable sequenced): the
 * frames settled since the last one, for the server's rate control
 * (net/rate_ctl.h). Times are microseconds after base_us, the client's
 * clock; last_us >= first_us. The counts run since the session began and
 * wrap. At most PVS_CTL_FEEDBACK_MAX records fit a message. */
#define PVS_CTL_FEEDBACK_MAX 24
#define PVS_CTL_FEEDBACK_HEADER 20   /* body bytes before the records */
#define PVS_CTL_FEEDBACK_RECORD 20   /* bytes per record */
struct pvs_ctl_feedback_record {
    uint32_t frame;
    uint32_t first_us;           /* its first packet in, after base_us */
    uint32_t last_us;            /* its last packet in, after base_us */
    uint32_t bytes;              /* datagram bytes of it received */
    uint16_t lost;               /* its packets lost */
    uint16_t repaired;           /* its data packets rebuilt by FEC */
};

/* The newest frame still arriving (flags & PVS_CTL_FEEDBACK_PROGRESS):
 * how far it got, so that a frame held up at a bottleneck that just shrank
 * is seen before it settles (it may take 100 ms and more). With it, at
 * most PVS_CTL_FEEDBACK_MAX - 1 records fit PVS_CTL_MAX_MESSAGE. */
#define PVS_CTL_FEEDBACK_PROGRESS 0x01
#define PVS_CTL_FEEDBACK_PROGRESS_BYTES 16
struct pvs_ctl_feedback_progress {
    uint32_t frame;
    uint32_t first_us;           /* its first packet in, after base_us */
    uint32_t latest_us;          /* its latest packet in, after base_us */
    uint32_t bytes;              /* datagram bytes of it received so far */
};

struct pvs_ctl_feedback {
    uint64_t base_us;
    uint32_t packets_received;   /* video datagrams received, since the start */
    uint32_t packets_lost;       /* RTP sequence numbers missing, since the start */
    uint8_t count;               /* records: 0..PVS_CTL_FEEDBACK_MAX */
    uint8_t flags;               /* PVS_CTL_FEEDBACK_PROGRESS */
    struct pvs_ctl_feedback_record rec[PVS_CTL_FEEDBACK_MAX];
    struct pvs_ctl_feedback_progress progress;
};

/* RATE (server -> client, sealed, channel 2): the rate control's state,
 * for the client's figures, about four times a second. */
#define PVS_CTL_RATE_ABR 0x01        /* flags: adaptive bitrate is on */
#define PVS_CTL_RATE_NO_QUEUE 0xffffffffu /* queue_delay_us: not measured */
struct pvs_ctl_rate {
    uint32_t estimate_bps;       /* available rate on the wire, estimated */
    uint32_t bitrate_bps;        /* the encoder's bitrate now */
    uint32_t pace_bps;           /* pacing rate */
    uint32_t queue_delay_us;     /* or PVS_CTL_RATE_NO_QUEUE */
    uint8_t fec_percent;         /* 0..100 */
    uint8_t flags;               /* PVS_CTL_RATE_* */
    uint32_t changes;            /* bitrate changes this session */
};

/* One message: `type` says which member is valid. */
struct pvs_ctl_msg {
    enum pvs_ctl_type type;
    union {
        struct pvs_ctl_hello hello;
        struct pvs_ctl_welcome welcome;
        struct pvs_ctl_refuse refuse;
        struct pvs_ctl_stream stream;
        struct pvs_ctl_keyframe_request keyframe_request;
        struct pvs_ctl_stats stats;
        struct pvs_ctl_ping ping;
        struct pvs_ctl_pong pong;
        struct pvs_ctl_bye bye;
        struct pvs_ctl_rumble rumble;
        struct pvs_ctl_feedback feedback;
        struct pvs_ctl_rate rate;
    } u;
};

/* True for HELLO, WELCOME and REFUSE, the types sent in the clear. */
bool pvs_ctl_type_is_clear(int type);

/* Writes m (type byte then body) into buf. Returns the message's length in
 * bytes (> 0), or PVS_EINVAL when m would not pass the parser (a value out
 * of range, an input type, a text over 200 bytes) or does not fit in cap.
 * Nothing is sent that the peer would drop. */
int pvs_ctl_encode(const struct pvs_ctl_msg *m, uint8_t *buf, size_t cap);

/* Parses a clear message (HELLO, WELCOME or REFUSE) of len bytes.
 * Returns 0 with *out filled, or PVS_EBADDATA when it is any other type,
 * shorter than its type needs, or has a bad magic or value out of range.
 * Bytes past the known body are ignored. */
int pvs_ctl_parse_clear(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out);

/* Parses a sealed message's plaintext (STREAM ... FEEDBACK, RUMBLE, RATE), as
 * pvs_ctl_open gives it. Returns 0 with *out filled; PVS_ENOTSUP for an
 * input type (0x20..0x2f: net/control.c hands those on unparsed) or a
 * reserved one (0x32..0x3f); out->type is set to it; PVS_EBADDATA for anything else not understood, too short or out of
 * range. */
int pvs_ctl_parse_inner(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out);

/* ---- sealing ------------------------------------------------------------ */

/* Drops counted by pvs_ctl_open. */
struct pvs_ctl_crypto_stats {
    uint64_t malformed;   /* too short, not 0x80, or a bad channel */
    uint64_t replayed;    /* counter not above the highest accepted */
    uint64_t bad_tag;     /* tampered, wrong key, wrong channel */
};

/* The sealing state of one session, both directions. Plain data: zero it,
 * then pvs_ctl_crypto_init; pvs_ctl_crypto_wipe when the session ends. */
struct pvs_ctl_crypto {
    uint8_t tx_key[PVS_CONTROL_KEY_BYTES];
    uint8_t rx_key[PVS_CONTROL_KEY_BYTES];
    uint64_t tx_counter[PVS_CTL_CHANNELS];   /* last sent; the next is +1 */
    uint64_t rx_counter[PVS_CTL_CHANNELS];   /* highest accepted */
    struct pvs_ctl_crypto_stats stats;
};

/* Takes this side's control keys (control_tx seals, control_rx opens) and
 * starts every counter over (the stats are kept). Returns 0, PVS_EINVAL,
 * or PVS_EEXTERNAL when libsodium cannot initialize. */
int pvs_ctl_crypto_init(struct pvs_ctl_crypto *c, const struct pvs_session_keys *keys);
/* Wipes the keys and counters (stats are kept). */
void pvs_ctl_crypto_wipe(struct pvs_ctl_crypto *c);

/* Seals the plaintext `in` (an inner message: type byte and body, as
 * pvs_ctl_encode writes it) of in_len >= 1 bytes for ENet channel
 * `channel` into out (in_len + PVS_CTL_SEAL_OVERHEAD bytes; out and in must
 * not overlap). Uses the next counter of that channel. Returns the sealed
 * length, or PVS_EINVAL (bad channel, in_len 0, cap too small, counter
 * exhausted). */
int pvs_ctl_seal(struct pvs_ctl_crypto *c, uint8_t channel, const uint8_t *in,
                 size_t in_len, uint8_t *out, size_t cap);

/* Opens a sealed message of len bytes that came on `channel` into out
 * (len - PVS_CTL_SEAL_OVERHEAD bytes are written; out and in must not
 * overlap). Returns the plaintext length (>= 1), or PVS_EBADDATA when the
 * message is malformed, replayed or fails the tag (each counted in
 * c->stats; the channel's counter does not move), or PVS_EINVAL when cap
 * is too small. A sealed message over PVS_CTL_MAX_RECEIVE bytes is
 * malformed. */
int pvs_ctl_open(struct pvs_ctl_crypto *c, uint8_t channel, const uint8_t *in,
                 size_t len, uint8_t *out, size_t cap);

#endif
