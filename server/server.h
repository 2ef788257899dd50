/* pvstream-server: streams one capture source to one client at a time.
 *
 * Threads: the caller's thread runs the control channel (ENet service,
 * session events, input injection); each session gets a video thread
 * (capture -> convert -> encode -> packetize -> SRTP -> send, with no
 * hand-off and no queue). When the client goes, the video thread ends and
 * the server waits for the next. A session with sound also gets an audio
 * thread (server/audio.h), started before the stream is first described.
 * A Moonlight client's session (server/gamestream.h) runs the same threads,
 * their output going to its transport instead; one session at a time,
 * whichever protocol. */
#ifndef PVS_SERVER_H
#define PVS_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "net/handshake.h"

#define PVS_SERVER_DEFAULT_PORT 47100

struct pvs_server_settings {
    char capture[PVS_OPT_STRING_MAX];   /* auto, x11, dxgi, gdi, testsrc */
    char display[PVS_OPT_STRING_MAX];   /* X display; "" = $DISPLAY */
    int output;                         /* dxgi: 1.. as doctor lists; 0 = the default */
    int size[2];                        /* the mode asked for (0x0: the client's);
                                           testsrc: its size (0x0: the client's, else 1920x1080) */
    int vdisplay;                       /* enum pvs_vdisplay_policy */
    int content;                        /* testsrc only: enum pvs_content */
    char encoder[PVS_OPT_STRING_MAX];   /* auto or a libavcodec name */
    int codec;                          /* enum pvs_codec, or PVS_CODEC_COUNT: auto */
    int64_t bitrate;                    /* 0: 0.15 bit per pixel; with ABR, the ceiling */
    int abr;                            /* adaptive bitrate: 1 on (net/rate_ctl.h), 0 off */
    int64_t min_bitrate;                /* ABR's floor; 0: a fiftieth of the ceiling */
    bool filler;                        /* pad the encoder's output to its bitrate */
    char trace[PVS_OPT_STRING_MAX];     /* "": none; else each ABR decision as CSV */
    int fps;                            /* 0: the refresh of the client's mode where it
                                           was set, else 60 */
    char bind[PVS_OPT_STRING_MAX];      /* "" = every address */
    int port;                           /* control; media is port + 1 */
    int datagram;
    int fec_percent;
    int fec_min;
    int64_t pace;                       /* bits per second; 0: off */
    int dscp;                           /* -1: leave */
    bool input;                         /* inject the client's input */
    bool audio;                         /* send the system's sound (--no-audio: none) */
    char audio_source[PVS_OPT_STRING_MAX]; /* auto, pulse, wasapi, tone */
    char audio_device[PVS_OPT_STRING_MAX]; /* "" = the source's default */
    int64_t audio_bitrate;              /* Opus bits per second */
    int audio_frame;                    /* index into pvs_server_audio_frame_choices */
    int audio_redundancy;               /* earlier frames per packet, 0..2 */
    int stats_interval;                 /* seconds between statistics lines; 0: none */
    int exit_after;                     /* seconds; 0: run until stopped (tests) */
    int gamestream;                     /* Moonlight clients: 1 on, 0 off */
    char gamestream_name[PVS_OPT_STRING_MAX]; /* shown in Moonlight; "": the host name */
    int gamestream_allow;               /* enum pvs_gs_allow: 0 lan, 1 any */
    char gamestream_apps[PVS_OPT_STRING_MAX]; /* more apps after Desktop, comma-separated */
    int gamestream_port;                /* its HTTP port; HTTPS 5 below, RTSP 21 above */
    /* Not options (set by code, from the configuration directory): the
     * server's identity key, and the lookup of paired clients. */
    const struct pvs_static_keys *identity;
    pvs_handshake_is_paired_fn is_paired;
    void *is_paired_ctx;
};

extern const struct pvs_option pvs_server_options[];
void pvs_server_defaults(struct pvs_server_settings *s);

/* Runs until *stop becomes nonzero (a signal handler sets it) or, with
 * exit_after, that many seconds. Returns 0, or a negative code when it
 * could not start (the log says why). */
int pvs_server_run(const struct pvs_server_settings *s, const volatile sig_atomic_t *stop);

/* The paths of the server's key and of its paired clients. Returns 0 or a
 * negative code (the directory cannot be made). */
int pvs_server_key_paths(char *key, size_t key_len, char *clients, size_t clients_len);

/* `pvstream-server pair`: opens a pairing window (port + 2) with a fresh
 * PIN, and adds the client that pairs to the paired clients. `clients`
 * lists them; `unpair NAME` removes one. Each returns the exit code. */
int pvs_server_pair(const struct pvs_server_settings *s, const volatile sig_atomic_t *stop);
int pvs_server_list_clients(void);
/* One line of `clients`: name, key or certificate id, when paired. */
void pvs_server_print_client(const char *name, const char *id, int64_t paired_at);
int pvs_server_unpair(const char *name);

/* Loads (or makes) the server's identity key and the path of its paired
 * clients, for pvs_server_is_paired (ctx: that path). */
int pvs_server_load_identity(struct pvs_static_keys *out, char *clients, size_t clients_len);
bool pvs_server_is_paired(void *ctx, const uint8_t key[PVS_HANDSHAKE_PUBLIC_BYTES], char *name,
                          size_t name_len);

/* `pvstream-server doctor`: checks capture, encoders, ports and input, and
 * prints what works and what to fix. Returns 0 when streaming can work. */
int pvs_server_doctor(const struct pvs_server_settings *s);

#endif
