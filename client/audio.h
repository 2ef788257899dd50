/* The client's sound: the server's audio packets (audio/packet.h) into a
 * jitter buffer (audio/jitter.h), out through an SDL audio device.
 *
 * The device runs at 48 kHz, signed 16-bit, stereo, with a period of one
 * audio frame or 256 samples, whichever is less, so little waits in it.
 * Each SDL callback pulls frames from the jitter buffer; when a frame's
 * first sample goes out, its latency is taken: from its capture on the
 * server (moved to our clock with the session's clock offset, as for
 * video's glass to glass) to when it will be heard, the callback's time
 * plus the sound queued ahead of it (the device's buffer, one callback's
 * length, and what comes before the frame in this one).
 *
 * Works without a window: SDL_AUDIODRIVER=disk SDL_DISKAUDIOFILE=FILE
 * writes what would be heard to FILE (raw S16 stereo 48 kHz).
 *
 * Threading: open, close, set_offset, sync and collect from the main thread;
 * pvs_client_audio_packet from the receive thread; SDL's audio thread runs
 * the callback. The jitter buffer has its own lock; the latency samples
 * have another. */
#ifndef PVS_CLIENT_AUDIO_H
#define PVS_CLIENT_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/stats.h"

struct pvs_client_audio;

/* The device period for frames of frame_samples: min(frame, 256). */
int pvs_client_audio_period(int frame_samples);

/* Opens the jitter buffer for frames of frame_samples (120, 240, 480 or
 * 960) and an SDL audio device, and starts playing (silence until the first
 * packets). Returns 0; PVS_ENODEV when SDL has no audio here, with SDL's
 * reason in why[why_len]; PVS_EINVAL; PVS_ENOMEM. */
int pvs_client_audio_open(struct pvs_client_audio **out, int frame_samples, char *why,
                          size_t why_len);

/* Stops the device and frees everything. Accepts NULL; clears *a. Call
 * after the receive thread stopped handing packets in. */
void pvs_client_audio_close(struct pvs_client_audio **a);

/* The receiver's audio hook (net/receiver.h pvs_receiver_audio_fn): ctx is
 * the pvs_client_audio. */
void pvs_client_audio_packet(void *ctx, const uint8_t *pkt, size_t len, int64_t arrival_ns);

/* The session's clock offset (server's clock - ours), once measured. */
void pvs_client_audio_set_offset(struct pvs_client_audio *a, int64_t offset_us);

/* A/V sync, once a second (docs/audio.md, "Sync"): given that second's
 * median audio latency and glass to glass (ms; NAN: none) and the video
 * frame interval, moves the extra delay on top of the jitter buffer's own
 * target by pvs_client_av_sync (client/stats.h) and sets the buffer's
 * floor to that target + the extra. Returns the extra delay now, ms. */
double pvs_client_audio_sync(struct pvs_client_audio *a, double audio_ms, double video_ms,
                             double video_frame_ms);

/* Moves the figures gathered since the last call into s (latency samples,
 * frames played, underruns, concealed frames). The caller holds the lock
 * of s. */
void pvs_client_audio_collect(struct pvs_client_audio *a, struct pvs_client_stats *s);

#endif
