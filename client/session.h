/* One client's connection to pvstream-server: the control client (which
 * reconnects by itself), the UDP media socket, and the receive/decode
 * thread that turns datagrams into pictures.
 *
 * Threads: everything here is called from the main thread, except that the
 * session runs its own receive/decode thread while a stream is configured
 * (pvs_receiver_next -> record -> decoder -> statistics -> mailbox). The
 * mailbox holds one picture: a newer one replaces one not yet taken (and
 * is counted as replaced); nothing queues. The receive thread raises a
 * flag when a frame was lost or the decoder failed; pvs_session_service
 * sends KEYFRAME_REQUEST for it, at most one per 100 ms.
 *
 * Sound: when STREAM describes audio, the session opens client/audio.h's
 * player (jitter buffer and SDL device) and hands it the audio packets
 * from the receive thread; without an audio device it says so once and
 * streams video alone. */
#ifndef PVS_CLIENT_SESSION_H
#define PVS_CLIENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/stats.h"
#include "common/image.h"
#include "input/input.h"

struct pvs_static_keys;

struct pvs_session_config {
    const char *host;          /* server name or IPv4 address */
    uint16_t port;
    uint16_t media_port;       /* local UDP port; 0: any free one */
    uint16_t media_announce;   /* the port told to the server; 0: the one bound */
    const char *decoder;       /* "auto", "software" or a device type */
    const char *losssim;       /* NULL or "": off */
    const char *record;        /* NULL or "": off; else the received stream goes there */
    const char *trace;         /* NULL or "": off; else each frame's times as CSV */
    bool want_pictures;        /* copy decoded pictures to the mailbox (a window shows them) */
    bool no_audio;             /* play no sound (--no-audio): no device, no audio hook */
    int connect_timeout_ms;    /* "no answer" after this long without a session */
    /* The mode HELLO asks for (net/control_msg.h, display fields): zeros
     * say nothing. */
    uint16_t display_width, display_height, display_hz;
    uint8_t display_flags;     /* PVS_CTL_DISPLAY_* */
    /* From pairing (client/pair.h): this client's identity key and the
     * server's public key. Both required. */
    const struct pvs_static_keys *identity;
    const uint8_t *server_key; /* 32 bytes */
};

enum pvs_session_state {
    PVS_SESSION_CONNECTING,    /* no session yet */
    PVS_SESSION_WAITING,       /* keyed, no stream described yet */
    PVS_SESSION_STREAMING,     /* keyed and receiving */
    PVS_SESSION_RECONNECTING,  /* the session ended; trying again */
    PVS_SESSION_FAILED,        /* the server refused for good: nothing more will happen */
};

/* What the window and the log show. */
struct pvs_session_status {
    enum pvs_session_state state;
    char message[512];         /* for people; "" while all is well */
    bool unreachable;          /* no answer within connect_timeout_ms */
    bool ever_connected;
    uint32_t sessions;         /* sessions keyed so far (a change: the server forgot our input state) */
    uint32_t generation;       /* of the stream described; 0: none yet */
    int width, height;         /* of the stream */
    const char *codec;         /* "h264", "hevc", "av1"; "" without a stream */
    char decoder[96];          /* the decoder's description */
};

/* A decoded picture in the session's memory, handed to the main thread. */
struct pvs_picture {
    struct pvs_image img;      /* NV12 or I420, tightly packed planes */
    uint64_t frame;
    int64_t decoded_us;
    uint32_t generation;
    struct pvs_client_row row; /* its figures, for pvs_session_picture_presented */
    uint8_t *mem_;
    size_t cap_;
};

struct pvs_session;

/* Opens the media socket and starts connecting. Returns 0; PVS_ENOENT when
 * the host does not resolve; PVS_EIO when the media port cannot be bound;
 * PVS_ECONFIG for bad loss simulator settings; PVS_EIO when the record
 * file cannot be created; or another negative code. Each failure is logged
 * with what to do. */
int pvs_session_open(struct pvs_session **out, const struct pvs_session_config *cfg);

/* Stops the receive thread and frees everything (without BYE: call
 * pvs_session_bye first). Accepts NULL; clears *s. */
void pvs_session_close(struct pvs_session **s);

/* Runs the control client for up to timeout_ms and acts on what happened:
 * (re)configures the stream, stops receiving when the session ends, sends
 * keyframe requests and the once-a-second STATS, refreshes the clock
 * offset. Returns 0, or a negative code when ENet failed. */
int pvs_session_service(struct pvs_session *s, int timeout_ms);

void pvs_session_get_status(const struct pvs_session *s, struct pvs_session_status *out);

/* When a picture newer than the last one taken is in the mailbox, swaps it
 * into *pic (the session's memory, valid until the next call) and returns
 * true. *pic is NULL until the first picture. */
bool pvs_session_take_picture(struct pvs_session *s, const struct pvs_picture **pic);

/* The picture last taken was presented at presented_us (pvs_present_draw's
 * time): the statistics count it shown, with its present stage and glass
 * to glass (client/stats.h). Call once per picture taken. */
void pvs_session_picture_presented(struct pvs_session *s, const struct pvs_picture *pic,
                                   int64_t presented_us);
/* The picture last taken will not be shown (its texture failed). */
void pvs_session_picture_unshown(struct pvs_session *s, const struct pvs_picture *pic);

/* The server's newest rumble for a pad not yet taken (one per call; the
 * newest per pad replaces an older one). When the session ends, a stop
 * (speeds 0) for every pad that was rumbling. Returns false when none. */
bool pvs_session_take_rumble(struct pvs_session *s, struct pvs_pad_rumble *out);

/* Sends an input event when keyed. Returns 0, PVS_ENOENT when not keyed,
 * PVS_EINVAL for an event the server would drop, or PVS_EIO. */
int pvs_session_send_input(struct pvs_session *s, const struct pvs_input_event *ev);

/* The statistics, under the session's lock: call pvs_session_stats_unlock
 * soon after. */
struct pvs_client_stats *pvs_session_stats_lock(struct pvs_session *s);
void pvs_session_stats_unlock(struct pvs_session *s);

/* Says BYE (quit) and lets it be delivered (up to 250 ms); stops the
 * receive thread. */
void pvs_session_bye(struct pvs_session *s);

#endif
