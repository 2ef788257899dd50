/* The client's sound: jitter buffer -> SDL audio device (see audio.h). */
#include "client/audio.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>

#include "audio/jitter.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define MAX_PERIOD 256
#define BYTES_PER_SAMPLE (2 * PVS_AUDIO_CHANNELS) /* per sample frame: S16 stereo */

struct pvs_client_audio {
    struct pvs_jitter *jb;
    SDL_AudioDeviceID dev;
    int frame;                        /* samples per channel per frame */
    atomic_bool have_offset;
    atomic_llong offset_us;

    /* SDL's audio thread only */
    int16_t pcm[PVS_AUDIO_MAX_FRAME * PVS_AUDIO_CHANNELS];
    int pos;                          /* samples of pcm already played */

    /* under mu: gathered since the last collect */
    pvs_mutex mu;
    struct pvs_stats latency;
    uint64_t frames;

    /* main thread: the jitter counters already reported */
    uint64_t reported_underruns, reported_concealed;
    int collects;
    double sync_extra_ms;             /* A/V sync: delay on top of the target */
};

/* The most A/V sync adds: beyond this, sound waits no longer (video that
 * far behind has other trouble). */
#define MAX_SYNC_EXTRA_MS 200.0

int pvs_client_audio_period(int frame_samples)
{
    return frame_samples < MAX_PERIOD ? frame_samples : MAX_PERIOD;
}

static int64_t samples_us(int64_t n)
{
    return n * 1000000 / PVS_AUDIO_RATE;
}

/* A frame has just been pulled: its first sample is heard after `ahead_us`
 * of sound, counted from `callback_us`. */
static void note_frame(struct pvs_client_audio *a, const struct pvs_jitter_frame *info,
                       int64_t callback_us, int64_t ahead_us)
{
    if (info->kind != PVS_JITTER_PACKET && info->kind != PVS_JITTER_RECOVERED)
        return;
    int64_t lat = 0;
    bool timed = atomic_load(&a->have_offset) &&
                 pvs_client_audio_latency(info->capture_us, atomic_load(&a->offset_us), callback_us,
                                          ahead_us, &lat);
    pvs_mutex_lock(&a->mu);
    a->frames++;
    if (timed)
        pvs_stats_add(&a->latency, lat * 1000);
    pvs_mutex_unlock(&a->mu);
}

static void SDLCALL callback(void *ud, Uint8 *stream, int len)
{
    struct pvs_client_audio *a = ud;
    int64_t now_ns = pvs_time_ns();
    int total = len / BYTES_PER_SAMPLE;
    /* The device plays what it holds, one buffer of this length, before
     * what is written now. */
    int64_t queued_us = samples_us(total);
    int16_t *out = (int16_t *)(void *)stream;
    int done = 0;
    while (done < total) {
        if (a->pos >= a->frame) {
            struct pvs_jitter_frame info;
            pvs_jitter_pull(a->jb, now_ns + samples_us(done) * 1000, a->pcm, &info);
            a->pos = 0;
            note_frame(a, &info, now_ns / 1000, queued_us + samples_us(done));
        }
        int n = a->frame - a->pos < total - done ? a->frame - a->pos : total - done;
        memcpy(out + (size_t)done * PVS_AUDIO_CHANNELS, a->pcm + (size_t)a->pos * PVS_AUDIO_CHANNELS,
               (size_t)n * BYTES_PER_SAMPLE);
        a->pos += n;
        done += n;
    }
    if (len > total * BYTES_PER_SAMPLE)
        memset(stream + total * BYTES_PER_SAMPLE, 0, (size_t)(len - total * BYTES_PER_SAMPLE));
}

int pvs_client_audio_open(struct pvs_client_audio **out, int frame_samples, char *why,
                          size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!pvs_audio_frame_ok(frame_samples)) {
        if (why && why_len)
            snprintf(why, why_len, "frames of %d samples are not Opus frames", frame_samples);
        return PVS_EINVAL;
    }
    struct pvs_client_audio *a = calloc(1, sizeof(*a));
    if (!a)
        return PVS_ENOMEM;
    a->frame = frame_samples;
    a->pos = frame_samples; /* nothing pulled yet */
    pvs_stats_reset(&a->latency);
    int err = pvs_mutex_init(&a->mu);
    if (err) {
        free(a);
        return err;
    }
    struct pvs_jitter_config jc = { .frame_samples = frame_samples };
    err = pvs_jitter_open(&a->jb, &jc);
    if (err) {
        if (why && why_len)
            snprintf(why, why_len, "no jitter buffer (%s)", pvs_strerror(err));
        goto fail;
    }

    /* Our own signal handling stays (SIGINT stops cleanly with the summary). */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) {
        if (why && why_len)
            snprintf(why, why_len, "%s", SDL_GetError());
        err = PVS_ENODEV;
        goto fail;
    }
    SDL_AudioSpec want = { .freq = PVS_AUDIO_RATE, .format = AUDIO_S16SYS,
                           .channels = PVS_AUDIO_CHANNELS,
                           .samples = (Uint16)pvs_client_audio_period(frame_samples),
                           .callback = callback, .userdata = a };
    SDL_AudioSpec have;
    /* No changes allowed: SDL converts to whatever the device takes. */
    a->dev = SDL_OpenAudioDevice(NULL, 0, &want, &have, 0);
    if (!a->dev) {
        if (why && why_len)
            snprintf(why, why_len, "%s", SDL_GetError());
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
        err = PVS_ENODEV;
        goto fail;
    }
    PVS_LOG_I("audio: playing through SDL's %s driver, %d Hz, %d-sample period (%.1f ms frames)",
              SDL_GetCurrentAudioDriver() ? SDL_GetCurrentAudioDriver() : "?", have.freq,
              (int)have.samples, frame_samples * 1000.0 / PVS_AUDIO_RATE);
    SDL_PauseAudioDevice(a->dev, 0);
    *out = a;
    return 0;

fail:
    pvs_jitter_close(&a->jb);
    pvs_mutex_destroy(&a->mu);
    free(a);
    return err;
}

void pvs_client_audio_close(struct pvs_client_audio **pa)
{
    if (!pa || !*pa)
        return;
    struct pvs_client_audio *a = *pa;
    struct pvs_jitter_stats js;
    pvs_jitter_get_stats(a->jb, &js);
    PVS_LOG_I("audio: %llu packets, %llu frames played, %llu recovered, %llu concealed, %llu "
              "underruns, %llu dropped and %llu inserted to follow the jitter, %llu late, %llu "
              "malformed", (unsigned long long)js.packets, (unsigned long long)js.played,
              (unsigned long long)js.recovered, (unsigned long long)js.concealed,
              (unsigned long long)js.underruns, (unsigned long long)js.dropped,
              (unsigned long long)js.inserted, (unsigned long long)js.late,
              (unsigned long long)js.malformed);
    if (a->dev) {
        SDL_CloseAudioDevice(a->dev); /* waits for a running callback */
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
    }
    pvs_jitter_close(&a->jb);
    pvs_mutex_destroy(&a->mu);
    free(a);
    *pa = NULL;
}

void pvs_client_audio_packet(void *ctx, const uint8_t *pkt, size_t len, int64_t arrival_ns)
{
    struct pvs_client_audio *a = ctx;
    /* A malformed packet is counted by the jitter buffer and dropped. */
    (void)pvs_jitter_insert(a->jb, pkt, len, arrival_ns);
}

void pvs_client_audio_set_offset(struct pvs_client_audio *a, int64_t offset_us)
{
    atomic_store(&a->offset_us, offset_us);
    atomic_store(&a->have_offset, true);
}

double pvs_client_audio_sync(struct pvs_client_audio *a, double audio_ms, double video_ms,
                             double video_frame_ms)
{
    double frame_ms = a->frame * 1000.0 / PVS_AUDIO_RATE;
    double extra = pvs_client_av_sync(audio_ms, video_ms, video_frame_ms, frame_ms,
                                      a->sync_extra_ms, MAX_SYNC_EXTRA_MS);
    struct pvs_jitter_stats js;
    pvs_jitter_get_stats(a->jb, &js);
    if (extra != a->sync_extra_ms)
        PVS_LOG_D("audio: A/V %+.1f ms (audio %.1f, video %.1f): extra delay %.1f -> %.1f ms",
                  audio_ms - video_ms, audio_ms, video_ms, a->sync_extra_ms, extra);
    a->sync_extra_ms = extra;
    /* The floor follows the network's own target, so the extra stays an
     * extra as the jitter changes; 0 extra: back to the configured floor. */
    (void)pvs_jitter_set_min_delay_us(a->jb, extra > 0
                                                 ? (int64_t)((js.net_target_ms + extra) * 1000)
                                                 : 0);
    return extra;
}

void pvs_client_audio_collect(struct pvs_client_audio *a, struct pvs_client_stats *s)
{
    struct pvs_jitter_stats js;
    pvs_jitter_get_stats(a->jb, &js);
    uint64_t under = js.underruns - a->reported_underruns;
    uint64_t conc = js.concealed - a->reported_concealed;
    a->reported_underruns = js.underruns;
    a->reported_concealed = js.concealed;
    if (++a->collects % 10 == 0)
        PVS_LOG_D("audio: jitter %.1f ms, target %.1f ms, delay %.1f ms; %llu packets, %llu "
                  "recovered, %llu concealed, %llu dropped, %llu inserted, %llu late",
                  js.jitter_ms, js.target_ms, js.delay_ms, (unsigned long long)js.packets,
                  (unsigned long long)js.recovered, (unsigned long long)js.concealed,
                  (unsigned long long)js.dropped, (unsigned long long)js.inserted,
                  (unsigned long long)js.late);
    pvs_mutex_lock(&a->mu);
    pvs_client_stats_audio(s, &a->latency, a->frames, under, conc);
    pvs_stats_reset(&a->latency);
    a->frames = 0;
    pvs_mutex_unlock(&a->mu);
}
