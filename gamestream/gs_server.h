/* The GameStream host's HTTP side (docs/gamestream.md): what a Moonlight
 * client asks of a host before it streams. It ties together the host's key
 * and certificate (gs_crypto.h), pairing (gs_pairing.h), the paired-client
 * store (gs_clients.h), the HTTP(S) server (gs_http.h), the PIN channel
 * (gs_pin_channel.h) and the mDNS announcement (gs_mdns.h), and answers:
 *
 *   /serverinfo   plain HTTP, or HTTPS from a paired client (PairStatus 1);
 *                 an unpaired certificate over HTTPS gets 401, so the client
 *                 asks again over plain HTTP, as it does with GFE
 *   /pair, /unpair  gs_pairing.h
 *   /applist      HTTPS, paired: the apps (a "Desktop" first)
 *   /appasset     HTTPS, paired: a PNG per app
 *   /launch, /resume, /cancel  HTTPS, paired: the session's parameters go
 *                 to on_launch / on_cancel; the reply points the client at
 *                 RTSP on the address it reached
 *
 * Requests from outside the allowed networks get 403 and are counted.
 * Threads: the callbacks run on HTTP connection threads. */
#ifndef PVS_GS_SERVER_H
#define PVS_GS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/platform/platform.h"

#define PVS_GS_APPS_MAX 16
#define PVS_GS_APP_NAME_MAX 63
/* GameStream's ports from its HTTP port (47989 by default): HTTPS 5 below
 * (47984), RTSP 21 above (48010). Moonlight takes the HTTPS port from
 * serverinfo and RTSP's from the launch reply, so a host on other ports
 * keeps these offsets. */
#define PVS_GS_HTTPS_OFFSET 5
#define PVS_GS_RTSP_OFFSET 21

/* Which networks may reach the host. */
enum pvs_gs_allow {
    PVS_GS_ALLOW_LAN, /* loopback, private (RFC 1918), link-local, IPv6 ULA */
    PVS_GS_ALLOW_ANY, /* anything that reaches the ports */
};

/* What a client asked for in /launch or /resume (the query's fields, fact
 * from moonlight-embedded libgamestream/client.c, gs_start_app). */
struct pvs_gs_launch {
    int app_id;               /* 1.. as /applist numbers them */
    bool resume;
    int width, height, fps;   /* "mode=WxHxF"; fps 0: the host's choice */
    uint8_t rikey[16];        /* the session's AES key (remote input, and media
                                 when the client asks for encryption) */
    uint32_t rikeyid;         /* its key id (the decimal, as unsigned) */
    int surround_info;        /* surroundAudioInfo */
    bool local_audio;         /* localAudioPlayMode: keep playing on the host */
    uint32_t gamepads;        /* remoteControllersBitmap */
    bool hdr;                 /* hdrMode=1 */
    char client[64];          /* the paired client's name */
    struct pvs_addr peer;     /* its address */
};

struct pvs_gs_server_opts {
    const char *config_dir;   /* NULL: pvs_identity_dir() */
    const char *name;         /* shown in Moonlight; NULL or "": the host name */
    const char *bind;         /* NULL or "": every address */
    int http_port, https_port; /* 0: 47989 and 47984 */
    enum pvs_gs_allow allow;
    const char *apps;         /* more apps after "Desktop", comma-separated; NULL: none */
    uint32_t codec_modes;     /* ServerCodecModeSupport bits (Moonlight's SCM_*) */
    int max_width, max_height, max_fps; /* the display mode offered; 0: 1920x1080x60 */
    bool mdns;                /* announce over mDNS */
    bool pin_channel;         /* listen for `pvstream-server pin` */
    int pin_timeout_ms;       /* 0: PVS_GS_PIN_TIMEOUT_MS */
    /* A paired client asked to start (or resume) app_id. Returns 0 to
     * accept, or a negative code with the reason the client shows in why
     * (why_len bytes; left empty: "the host cannot start a stream now"). */
    int (*on_launch)(void *opaque, const struct pvs_gs_launch *l, char *why, size_t why_len);
    void (*on_cancel)(void *opaque);
    void *opaque;
};

struct pvs_gs_server_stats {
    uint64_t requests, not_allowed, not_paired, not_found;
};

struct pvs_gs_server;

/* Loads or makes the host's certificate (PVS_GS_HOST_FILE in the
 * configuration directory, owner-only), and starts serving. Returns 0 or
 * a negative code (logged): a port in use, a certificate file that is not
 * private. */
int pvs_gs_server_open(struct pvs_gs_server **out, const struct pvs_gs_server_opts *o);
void pvs_gs_server_close(struct pvs_gs_server **s);

/* Whether a streaming session is running (serverinfo's state and
 * currentgame): the caller says when it starts and ends. */
void pvs_gs_server_set_streaming(struct pvs_gs_server *s, int app_id);

uint16_t pvs_gs_server_port(const struct pvs_gs_server *s, bool tls);
void pvs_gs_server_get_stats(const struct pvs_gs_server *s, struct pvs_gs_server_stats *out);

/* True when the address is one PVS_GS_ALLOW_LAN lets in. */
bool pvs_gs_addr_is_lan(const struct pvs_addr *a);

/* Parses the apps option ("Steam, Notepad"): names of 1..63 printable
 * characters, at most PVS_GS_APPS_MAX - 1 of them (Desktop is first).
 * Returns how many, or PVS_EINVAL with the reason in why. */
int pvs_gs_apps_parse(const char *apps, char names[][PVS_GS_APP_NAME_MAX + 1], int max,
                      char *why, size_t why_len);

#endif
