/* The server's audio for one session: a thread ("pvs-audio") that reads
 * the system's sound (audio/source.h), encodes it with Opus (audio/opus.h),
 * packs it with earlier frames carried again (audio/packet.h), protects it
 * with SRTP under its own SSRC and sends it to the client's media address
 * through the server's media socket, beside the video.
 *
 * The source is opened by pvs_server_audio_start, on the caller's thread,
 * so the caller knows before it first sends STREAM whether the session has
 * audio. When the sound server goes away mid-session the thread tries to
 * open the source again once a second; the client hears silence meanwhile.
 *
 * Threading: start, stop and get_stats from one thread (the server's
 * control thread); the audio thread owns everything else. */
#ifndef PVS_SERVER_AUDIO_H
#define PVS_SERVER_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "common/platform/platform.h"
#include "net/srtp.h"

/* --audio-frame-ms: the choices, and the samples per channel of each. */
extern const char *const pvs_server_audio_frame_choices[]; /* "2.5", "5", "10", "20", NULL */
int pvs_server_audio_frame_samples(int choice);            /* 120..960; 240 for a bad index */
#define PVS_SERVER_AUDIO_DEFAULT_FRAME_CHOICE 1            /* 5 ms */

struct pvs_server_audio_config {
    const char *source;      /* "auto" (or NULL), "pulse", "wasapi", "tone" */
    const char *device;      /* the source's device; NULL or "": its default */
    int frame_samples;       /* 120, 240, 480 or 960 */
    int bitrate;             /* Opus bits per second */
    int redundancy;          /* earlier frames per packet, 0..2 */
    pvs_socket sock;         /* the media socket (borrowed; the video sends on it too) */
    struct pvs_addr to;      /* the client's media address */
    int datagram;            /* the largest datagram the client takes */
    uint32_t avoid_ssrc;     /* the SSRC not to pick (the video's); 0: none */
    /* A Moonlight session (server/gamestream.h): each Opus packet goes to
     * output instead of being packed, protected and sent here (sock, to,
     * datagram, redundancy and the key are not used), and the encoder runs
     * hard CBR without the silence gate, since Moonlight's audio FEC needs
     * every packet of a block the same size. output returns 0 when sent,
     * PVS_EAGAIN when the client cannot take it yet. */
    int (*output)(void *arg, const uint8_t *opus, size_t len);
    void *output_arg;
    /* With output, surround: 6 or 8 channels as an Opus multistream
     * (audio/opus.h), the source's stereo in front and the rest silent;
     * 0 or 2: stereo. */
    int channels, streams, coupled;
    uint8_t mapping[8];
};

struct pvs_server_audio_stats {
    uint64_t frames;         /* read from the source */
    uint64_t packets;        /* sent */
    uint64_t bytes;          /* sent, SRTP tag included */
    uint64_t gated;          /* frames not sent: silence */
    uint64_t send_failed;    /* packets the socket did not take */
    uint64_t dropped;        /* source samples lost because the thread fell behind */
};

struct pvs_server_audio;

/* Opens the source, the encoder and the SRTP context (the session's key
 * for server -> client media), picks a random nonzero SSRC and starts the
 * audio thread. Returns 0; PVS_ENODEV / PVS_ENOTSUP / PVS_EINVAL when
 * there is no source here, with why[why_len] saying why for people
 * ("PulseAudio is not running (Connection refused)", without an "audio off"
 * of its own); or another code (also with a reason). The key is copied and
 * wiped after use. */
int pvs_server_audio_start(struct pvs_server_audio **out, const struct pvs_server_audio_config *cfg,
                           const uint8_t key[PVS_SRTP_KEY_BYTES], char *why, size_t why_len);
/* (With cfg->output the key may be NULL.) */

/* Stops the thread and closes everything. Accepts NULL; clears *a. */
void pvs_server_audio_stop(struct pvs_server_audio **a);

uint32_t pvs_server_audio_ssrc(const struct pvs_server_audio *a);
void pvs_server_audio_get_stats(struct pvs_server_audio *a, struct pvs_server_audio_stats *out);

/* The frame timestamp of a frame that starts at source position `pos`,
 * given the previous frame's position and timestamp (`first`: there was
 * none). Positions count samples per channel and jump when the source lost
 * audio, by any number of samples; timestamps advance by whole frames, so
 * a gap becomes the nearest whole number of frames (at least one). */
uint32_t pvs_server_audio_next_ts(uint32_t prev_ts, uint64_t prev_pos, uint64_t pos,
                                  int frame_samples);

#endif
