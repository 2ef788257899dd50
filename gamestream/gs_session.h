/* One Moonlight streaming session's transport (docs/gamestream.md, "Streaming
 * to Moonlight"): after the HTTP side accepted a /launch, this owns what the
 * client talks to next, and turns it into a few events for the caller,
 * who runs capture, the encoders and the injector.
 *
 *   RTSP on TCP (gs_rtsp_server.h)    DESCRIBE offers the host's codecs,
 *                                      encryption and surround layouts;
 *                                      ANNOUNCE arms the control stream;
 *                                      PLAY starts the stream
 *   control on ENet (gs_control_server.h)  keyframe requests, input; the
 *                                      host's rumble and termination
 *   video and audio on UDP            the client pings each port with the
 *                                      launch's X-SS-Ping-Payload every
 *                                      500 ms: that is how the host learns
 *                                      where to send (fact from
 *                                      moonlight-common-c src/VideoStream.c
 *                                      and src/AudioStream.c)
 *
 * One launch at a time: a new one ends the one before. A launch that does
 * not reach PLAY and a control connection within start_timeout_ms ends;
 * so does a session whose control stream disconnects, and one the caller
 * ends (/cancel).
 *
 * Threading: two threads of its own (RTSP; control and pings). arm, end,
 * next_event, rumble and stats from any thread; send_video from one thread
 * (the video thread) and send_audio from one (the audio thread). */
#ifndef PVS_GS_SESSION_H
#define PVS_GS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/platform/platform.h"
#include "gamestream/gs_rtsp.h"
#include "gamestream/gs_sdp.h"
#include "input/input.h"

/* GameStream's UDP and TCP ports from its HTTP port (47989): video 9
 * above (47998), control 10 (47999), audio 11 (48000); RTSP 21 (48010)
 * as gs_server.h says. The client learns each from the SETUP replies. */
#define PVS_GS_VIDEO_OFFSET 9
#define PVS_GS_CONTROL_OFFSET 10
#define PVS_GS_AUDIO_OFFSET 11

struct pvs_gs_session_config {
    const char *bind_host;       /* NULL or "": every IPv4 address */
    uint16_t rtsp_port;          /* 0 for any of these picks a free port (tests) */
    uint16_t video_port, audio_port, control_port;
    /* What DESCRIBE offers (its ports are filled in here). */
    struct pvs_gs_sdp_host sdp;
    int start_timeout_ms;        /* launch -> PLAY and control connected; 0: 20000 */
    int control_timeout_ms;      /* a silent control peer is gone after this; 0: 10000 */
};

/* What the caller learns. gen is the launch's number: events of a launch
 * already ended may still be queued, and the send functions take the gen
 * of the START they belong to. */
enum pvs_gs_session_event_type {
    PVS_GS_SESSION_EV_NONE = 0,
    PVS_GS_SESSION_EV_START,     /* config: start capture and encoders */
    PVS_GS_SESSION_EV_KEYFRAME,  /* the next frame must be a keyframe */
    PVS_GS_SESSION_EV_INPUT,     /* input: inject it */
    PVS_GS_SESSION_EV_END,       /* why: stop everything of this gen */
};

struct pvs_gs_session_event {
    enum pvs_gs_session_event_type type;
    uint32_t gen;
    int app_id;                          /* START */
    char name[64];                       /* START: the paired client's name */
    struct pvs_gs_stream_config config;  /* START: what the ANNOUNCE asked for */
    struct pvs_input_event input;        /* INPUT */
    char why[96];                        /* END, and KEYFRAME (for the log) */
};

/* The parts of a /launch the transport needs. */
struct pvs_gs_session_launch {
    uint8_t key[PVS_GS_KEY_BYTES];   /* rikey */
    uint32_t key_id;                 /* rikeyid */
    struct pvs_addr client;          /* the HTTPS peer: only it is served */
    int app_id;
    char name[64];                   /* the paired client's name, for the log */
};

struct pvs_gs_session_stats {
    uint32_t gen;                /* the current launch; 0 none yet */
    bool armed, playing, connected;
    uint64_t video_frames, video_packets, video_bytes;
    uint64_t video_unsent;       /* frames dropped: no client address yet, or too large */
    uint64_t video_send_failed;  /* datagrams the socket refused */
    uint64_t audio_packets, audio_bytes, audio_unsent, audio_send_failed;
    uint64_t keyframe_requests, input_events, pings;
    uint64_t events_dropped;     /* the caller did not take them in time */
    int64_t host_latency_max_ns; /* capture -> last datagram of a frame out */
};

struct pvs_gs_session;

/* Opens the RTSP listener, the control host and the two UDP sockets, and
 * starts the threads. Returns 0 or a negative code (logged: a port in use). */
int pvs_gs_session_open(struct pvs_gs_session **out, const struct pvs_gs_session_config *cfg);

/* The ports in use (after 0 picked one). */
void pvs_gs_session_ports(const struct pvs_gs_session *s, uint16_t *rtsp, uint16_t *video,
                          uint16_t *audio, uint16_t *control);

/* Starts a launch: a session already armed or streaming ends first (its END
 * is queued, why "replaced by a new launch"). Returns the new gen (> 0), or
 * a negative code. The key is copied; the caller wipes its own. */
int pvs_gs_session_arm(struct pvs_gs_session *s, const struct pvs_gs_session_launch *l);

/* Ends the current launch, if any: tells a connected client (graceful
 * termination when graceful, else an error the client shows), then queues
 * END with why. Returns at once; the control thread does the rest. */
void pvs_gs_session_end(struct pvs_gs_session *s, const char *why, bool graceful);

/* True while a launch is armed or streaming. */
bool pvs_gs_session_active(struct pvs_gs_session *s);

/* Takes the oldest queued event. Returns 1 with *ev, or 0 when none. */
int pvs_gs_session_next_event(struct pvs_gs_session *s, struct pvs_gs_session_event *ev);

/* Sends one encoded frame of launch gen: Moonlight's packets and parity,
 * encrypted when the client asked, paced over at most half a frame interval
 * when it is large. host_ns: capture to now. Returns 0; PVS_EAGAIN when gen
 * is not streaming or the client has not pinged yet (nothing sent, no frame
 * index used: ask for a keyframe once it has); PVS_ERANGE for a frame too
 * large for the client's packet size; another code on failure. */
int pvs_gs_session_send_video(struct pvs_gs_session *s, uint32_t gen, const struct pvs_packet *au,
                              int64_t host_ns);

/* Sends one Opus packet (one packet duration) of launch gen, with the audio
 * FEC after every fourth. Returns 0, PVS_EAGAIN (as above), or a code. */
int pvs_gs_session_send_audio(struct pvs_gs_session *s, uint32_t gen, const uint8_t *opus,
                              size_t len);

/* A game's rumble for one of the client's pads (0..3): sent by the control
 * thread, the newest per pad. */
void pvs_gs_session_rumble(struct pvs_gs_session *s, uint16_t pad, uint16_t low_freq,
                           uint16_t high_freq);

void pvs_gs_session_get_stats(struct pvs_gs_session *s, struct pvs_gs_session_stats *out);

/* Ends any launch (telling the client), stops the threads, closes. Accepts
 * NULL; clears *s. */
void pvs_gs_session_close(struct pvs_gs_session **s);

#endif
