/* GameStream's control stream as current Moonlight speaks it (docs/
 * gamestream.md, "RTSP and control"): the encrypted framing of every ENet
 * packet on UDP 47999, the messages inside, and builders for what the host
 * sends. No I/O: gamestream/gs_control_server.h puts it on ENet.
 *
 * Framing (fact from moonlight-common-c src/ControlStream.c, for hosts of
 * appversion 7.1.431 and later, where the whole stream is encrypted):
 *   u16 LE 0x0001 (encrypted)
 *   u16 LE length: the bytes after this field (4 + 16 + 4 + payload)
 *   u32 LE sequence number (each side counts its own from 0)
 *   16-byte AES-128-GCM tag
 *   ciphertext of: u16 LE type, u16 LE payload length, payload
 * Key: the launch's rikey. IV (src/ControlStream.c, encryptControlMessage):
 * when the ANNOUNCE's x-ss-general.encryptionEnabled has
 * PVS_GS_ENC_CONTROL_V2, 12 bytes: pvs_gs_gcm_iv12(seq, 'C' from the
 * client or 'H' from the host, 'C'); otherwise GFE's old IV, 16 bytes of
 * which byte 0 is the sequence number's low byte and the rest zero (which
 * repeats every 256 messages: a host should advertise CONTROL_V2, and a
 * client reports itself able when the host's appversion ends in a
 * negative number, as Sunshine's "7.1.431.-1").
 *
 * Message types are the client's Gen 7 "encrypted" table; client to host:
 * 0x0302 IDR request (also sent once at start as "start A"), 0x0307 start
 * B, 0x0301 invalidate reference frames, 0x0200 periodic ping (every 100
 * ms), 0x0201 loss statistics (clients without the periodic ping),
 * 0x0204 frame statistics, 0x0206 input (gamestream/gs_input.h), 0x5502
 * per-frame FEC status (Sunshine's extension, big-endian fields); host to
 * client: 0x0109 termination, 0x010b rumble, 0x010e HDR mode, 0x5500
 * trigger rumble, 0x5501 motion-sensor rate, 0x5502 controller LED, 0x5503
 * adaptive triggers.
 *
 * No allocation; a crypto state is used by one thread at a time. */
#ifndef PVS_GS_CONTROL_H
#define PVS_GS_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gamestream/gs_input.h"

/* ENet channels the client uses (src/Limelight-internal.h). The host must
 * allow PVS_GS_CTL_CHANNELS or the client falls back to channel 0. */
#define PVS_GS_CTL_CHANNELS 0x30
#define PVS_GS_CTL_CHANNEL_GENERIC 0x00
#define PVS_GS_CTL_CHANNEL_URGENT 0x01   /* IDR and invalidation requests */
#define PVS_GS_CTL_CHANNEL_KEYBOARD 0x02
#define PVS_GS_CTL_CHANNEL_MOUSE 0x03
#define PVS_GS_CTL_CHANNEL_PEN 0x04
#define PVS_GS_CTL_CHANNEL_TOUCH 0x05
#define PVS_GS_CTL_CHANNEL_UTF8 0x06
#define PVS_GS_CTL_CHANNEL_GAMEPAD 0x10  /* + controller number */
#define PVS_GS_CTL_CHANNEL_SENSOR 0x20   /* + controller number */

enum pvs_gs_ctl_type {
    PVS_GS_CTL_ENCRYPTED = 0x0001,       /* the outer header's type */
    PVS_GS_CTL_TERMINATION = 0x0109,
    PVS_GS_CTL_RUMBLE = 0x010b,
    PVS_GS_CTL_HDR_MODE = 0x010e,
    PVS_GS_CTL_PERIODIC_PING = 0x0200,
    PVS_GS_CTL_LOSS_STATS = 0x0201,
    PVS_GS_CTL_FRAME_STATS = 0x0204,
    PVS_GS_CTL_INPUT = 0x0206,
    PVS_GS_CTL_INVALIDATE_REFS = 0x0301,
    PVS_GS_CTL_IDR_REQUEST = 0x0302,
    PVS_GS_CTL_START_B = 0x0307,
    PVS_GS_CTL_RUMBLE_TRIGGERS = 0x5500,
    PVS_GS_CTL_MOTION_EVENT = 0x5501,
    PVS_GS_CTL_FEC_STATUS = 0x5502,      /* client to host */
    PVS_GS_CTL_RGB_LED = 0x5502,         /* host to client: the same number */
    PVS_GS_CTL_ADAPTIVE_TRIGGERS = 0x5503,
};

#define PVS_GS_CTL_HEADER 8          /* type, length, sequence number */
#define PVS_GS_CTL_TAG 16
#define PVS_GS_CTL_INNER 4           /* the encrypted type and payload length */
#define PVS_GS_CTL_OVERHEAD (PVS_GS_CTL_HEADER + PVS_GS_CTL_TAG + PVS_GS_CTL_INNER)
/* The largest payload accepted or sent (the client's largest is a few
 * dozen bytes; its UTF-8 text is split one character a message). */
#define PVS_GS_CTL_MAX_PAYLOAD 1024
#define PVS_GS_CTL_MAX_PACKET (PVS_GS_CTL_OVERHEAD + PVS_GS_CTL_MAX_PAYLOAD)

/* Sequence numbers behind the newest accepted that may still arrive once:
 * unreliable and unsequenced packets (motion, FEC status) and reliable
 * ones on other channels overtake each other. */
#define PVS_GS_CTL_REPLAY_WINDOW 1024

struct pvs_gs_ctl_crypto_stats {
    uint64_t opened;
    uint64_t malformed;          /* too short, lengths disagree, not encrypted */
    uint64_t bad_tag;            /* tampered, another key */
    uint64_t replayed;           /* a sequence number seen, or too old */
};

/* One direction pair of a session. Plain data: pvs_gs_ctl_crypto_init,
 * then seal and open; wipe when it ends. */
struct pvs_gs_ctl_crypto {
    uint8_t key[16];
    bool v2;                     /* 12-byte IVs (PVS_GS_ENC_CONTROL_V2) */
    bool host;                   /* this side is the host: seals 'H', opens 'C' */
    uint32_t tx_seq;             /* the next to send */
    bool rx_any;
    uint32_t rx_top;             /* the newest accepted */
    uint64_t rx_window[PVS_GS_CTL_REPLAY_WINDOW / 64]; /* bit i: rx_top - i seen */
    struct pvs_gs_ctl_crypto_stats stats;
};

void pvs_gs_ctl_crypto_init(struct pvs_gs_ctl_crypto *c, const uint8_t key[16], bool v2,
                            bool host);
/* Wipes the key and the counters (stats kept). */
void pvs_gs_ctl_crypto_wipe(struct pvs_gs_ctl_crypto *c);

/* Seals one message (type, payload of len bytes, len <=
 * PVS_GS_CTL_MAX_PAYLOAD) into out. Returns the packet's length
 * (PVS_GS_CTL_OVERHEAD + len), or PVS_EINVAL / PVS_ERANGE (cap too small)
 * / PVS_EEXTERNAL. */
int pvs_gs_ctl_seal(struct pvs_gs_ctl_crypto *c, uint16_t type, const uint8_t *payload,
                    size_t len, uint8_t *out, size_t cap);

/* Opens one received packet: *type and the payload (into `payload`, cap
 * bytes). Returns the payload's length (>= 0), or PVS_EBADDATA when it is
 * malformed, forged or replayed (counted), PVS_EINVAL. */
int pvs_gs_ctl_open(struct pvs_gs_ctl_crypto *c, const uint8_t *pkt, size_t len,
                    uint16_t *type, uint8_t *payload, size_t cap);

/* ---- client to host --------------------------------------------------------- */

/* Sunshine's per-frame FEC status (big-endian on the wire). */
struct pvs_gs_fec_status {
    uint32_t frame;
    uint16_t highest_seq;        /* highest RTP sequence number received */
    uint16_t next_contiguous_seq;
    uint16_t missing_before_highest;
    uint16_t data_packets, parity_packets;
    uint16_t data_received, parity_received;
    uint8_t fec_percent;
    uint8_t block_index, block_count;
};

struct pvs_gs_ctl_msg {
    uint16_t type;               /* enum pvs_gs_ctl_type */
    union {
        struct { uint64_t first, last; } invalidate;  /* frames to stop referring to */
        struct { uint64_t last_good_frame; } loss;
        struct pvs_gs_fec_status fec;
        struct pvs_gs_input input;
    } u;
};

/* Reads a message the client sent (type and payload as pvs_gs_ctl_open
 * gave them). Returns 0; PVS_ENOTSUP for a type a client does not send
 * (out->type set); PVS_EBADDATA when too short or out of range (an
 * invalidation whose first frame is after its last, input that does not
 * parse). Longer payloads than a type needs are accepted. IDR requests,
 * start B, pings and frame statistics carry nothing a host reads. */
int pvs_gs_ctl_parse(uint16_t type, const uint8_t *payload, size_t len, struct pvs_gs_ctl_msg *out);

/* ---- host to client ----------------------------------------------------------- */

/* Termination codes (HRESULTs the client knows, src/ControlStream.c). */
#define PVS_GS_TERMINATE_GRACEFUL 0x80030023u   /* the app quit: not an error */
#define PVS_GS_TERMINATE_PROTECTED 0x800e9302u  /* protected content on screen */
#define PVS_GS_TERMINATE_CONVERT 0x800e9403u    /* the encoder failed */

/* The payloads, to pass to pvs_gs_ctl_seal with their type. Each returns
 * its length. */
#define PVS_GS_CTL_TERMINATION_BYTES 4
size_t pvs_gs_ctl_termination(uint32_t code, uint8_t out[PVS_GS_CTL_TERMINATION_BYTES]);
/* Motor speeds 0..65535 until the next rumble for this pad. */
#define PVS_GS_CTL_RUMBLE_BYTES 10
size_t pvs_gs_ctl_rumble(uint16_t pad, uint16_t low_freq, uint16_t high_freq,
                         uint8_t out[PVS_GS_CTL_RUMBLE_BYTES]);
#define PVS_GS_CTL_RUMBLE_TRIGGERS_BYTES 6
size_t pvs_gs_ctl_rumble_triggers(uint16_t pad, uint16_t left, uint16_t right,
                                  uint8_t out[PVS_GS_CTL_RUMBLE_TRIGGERS_BYTES]);
/* HDR on or off, and Sunshine's static metadata: display primaries x,y
 * for red, green, blue, white point x,y, max and min display luminance,
 * max content light level, max frame-average light level, max full-frame
 * luminance (11 numbers; NULL: zeros). */
#define PVS_GS_CTL_HDR_BYTES 23
size_t pvs_gs_ctl_hdr_mode(bool enabled, const uint16_t metadata[11],
                           uint8_t out[PVS_GS_CTL_HDR_BYTES]);

#endif
