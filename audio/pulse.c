/* pulse: what the default sink plays, from its monitor source, through
 * libpulse (PulseAudio, or PipeWire's Pulse server).
 *
 * The asynchronous API on a plain pa_mainloop that read() itself drives: no
 * thread of libpulse's, no lock, and read() can wait with a timeout (the
 * simple API's read cannot), so the audio thread can always be stopped.
 * Audio is copied out of libpulse as it arrives, into a ring of at most
 * max_backlog_ms; read() hands it on a frame at a time.
 *
 * Latency. The stream asks for fragments of one frame (pa_buffer_attr
 * fragsize) with PA_STREAM_ADJUST_LATENCY, so the server configures the
 * source for that latency and sends each frame as soon as it is captured.
 * The capture time of a frame's first sample is
 *     now - (stream latency) - (audio in our ring before it)
 * where the stream latency (pa_stream_get_latency: the source's own latency
 * plus what is buffered on the way) is interpolated by libpulse between
 * timing updates.
 *
 * No autospawn (PA_CONTEXT_NOAUTOSPAWN): a server without a sound server
 * says so and streams without audio, rather than starting a daemon. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pulse/pulseaudio.h>

#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define CONNECT_TIMEOUT_MS 2000
#define FRAME_BYTES (PVS_AUDIO_CHANNELS * 2) /* one sample on each channel */

extern const struct pvs_audio_source_ops pvs_audio_pulse;

struct pulse {
    struct pvs_audio_source base;
    struct pvs_audio_opts o;
    pa_mainloop *ml;
    pa_context *ctx;
    pa_stream *st;

    int16_t *ring;          /* cap samples per channel, interleaved */
    size_t cap, head, fill; /* in samples per channel */
    uint64_t position;      /* sample index of ring[head] */
    size_t backlog;         /* max_backlog_ms in samples */
    int16_t out[PVS_AUDIO_MAX_FRAME * PVS_AUDIO_CHANNELS];
};

/* Appends n samples per channel (NULL: silence, for a hole in the stream),
 * dropping the oldest when the ring is full. */
static void ring_push(struct pulse *p, const int16_t *pcm, size_t n)
{
    if (n > p->cap) { /* keep only the newest cap samples */
        size_t skip = n - p->cap;
        if (pcm)
            pcm += skip * PVS_AUDIO_CHANNELS;
        n = p->cap;
        p->base.stats.dropped += skip + p->fill;
        p->position += skip + p->fill;
        p->head = p->fill = 0;
    }
    if (p->fill + n > p->cap) {
        size_t drop = p->fill + n - p->cap;
        p->head = (p->head + drop) % p->cap;
        p->fill -= drop;
        p->position += drop;
        p->base.stats.dropped += drop;
    }
    size_t tail = (p->head + p->fill) % p->cap;
    while (n) {
        size_t run = p->cap - tail < n ? p->cap - tail : n;
        int16_t *dst = p->ring + tail * PVS_AUDIO_CHANNELS;
        if (pcm) {
            memcpy(dst, pcm, run * FRAME_BYTES);
            pcm += run * PVS_AUDIO_CHANNELS;
        } else {
            memset(dst, 0, run * FRAME_BYTES);
        }
        p->fill += run;
        n -= run;
        tail = (tail + run) % p->cap;
    }
}

static void on_read(pa_stream *s, size_t nbytes, void *opaque)
{
    struct pulse *p = opaque;
    (void)nbytes;
    for (;;) {
        const void *data;
        size_t len;
        if (pa_stream_peek(s, &data, &len) < 0 || len == 0)
            return;
        /* A hole (data NULL) is audio the server does not have: silence. */
        ring_push(p, data, len / FRAME_BYTES);
        pa_stream_drop(s);
    }
}

/* Runs the main loop once, waiting at most until deadline_ns (negative:
 * forever). Returns 0 or PVS_EIO. */
static int iterate(struct pulse *p, int64_t deadline_ns)
{
    int timeout_us = -1;
    if (deadline_ns >= 0) {
        int64_t left = deadline_ns - pvs_time_ns();
        timeout_us = left <= 0 ? 0 : left / 1000 > 1000000000 ? 1000000000 : (int)(left / 1000);
    }
    if (pa_mainloop_prepare(p->ml, timeout_us) < 0 || pa_mainloop_poll(p->ml) < 0 ||
        pa_mainloop_dispatch(p->ml) < 0)
        return PVS_EIO;
    return 0;
}

static void set_why(char *why, size_t why_len, const char *fmt, ...) PVS_PRINTF(3, 4);
static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
    if (!why || !why_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static void pulse_close(struct pvs_audio_source **s)
{
    struct pulse *p = (struct pulse *)*s;
    if (p->st) {
        pa_stream_set_read_callback(p->st, NULL, NULL);
        pa_stream_disconnect(p->st);
        pa_stream_unref(p->st);
    }
    if (p->ctx) {
        pa_context_disconnect(p->ctx);
        pa_context_unref(p->ctx);
    }
    if (p->ml)
        pa_mainloop_free(p->ml);
    free(p->ring);
    free(p);
    *s = NULL;
}

static int pulse_open(struct pvs_audio_source **out, const struct pvs_audio_opts *o,
                      char *why, size_t why_len)
{
    struct pulse *p = calloc(1, sizeof(*p));
    if (!p)
        return PVS_ENOMEM;
    p->base.ops = &pvs_audio_pulse;
    struct pvs_audio_source *base = &p->base;
    int err = pvs_audio_opts_resolve(o, &p->o);
    if (err < 0)
        goto fail;
    p->base.frame_samples = p->o.frame_samples;
    p->backlog = (size_t)p->o.max_backlog_ms * PVS_AUDIO_RATE / 1000;
    p->cap = p->backlog + 4 * (size_t)p->o.frame_samples;
    p->ring = malloc(p->cap * FRAME_BYTES);
    err = PVS_ENOMEM;
    if (!p->ring)
        goto fail;

    p->ml = pa_mainloop_new();
    if (!p->ml)
        goto fail;
    p->ctx = pa_context_new(pa_mainloop_get_api(p->ml), "pvstream");
    if (!p->ctx)
        goto fail;

    /* Connect, waiting at most CONNECT_TIMEOUT_MS. */
    int64_t deadline = pvs_time_ns() + (int64_t)CONNECT_TIMEOUT_MS * 1000000;
    err = PVS_ENODEV;
    if (pa_context_connect(p->ctx, NULL, PA_CONTEXT_NOAUTOSPAWN, NULL) < 0) {
        set_why(why, why_len, "PulseAudio is not running (%s): audio off",
                pa_strerror(pa_context_errno(p->ctx)));
        goto fail;
    }
    for (;;) {
        pa_context_state_t st = pa_context_get_state(p->ctx);
        if (st == PA_CONTEXT_READY)
            break;
        if (!PA_CONTEXT_IS_GOOD(st)) {
            set_why(why, why_len, "PulseAudio is not running (%s): audio off",
                    pa_strerror(pa_context_errno(p->ctx)));
            goto fail;
        }
        if (pvs_time_ns() >= deadline) {
            set_why(why, why_len, "PulseAudio did not answer in %d ms: audio off",
                    CONNECT_TIMEOUT_MS);
            goto fail;
        }
        if (iterate(p, deadline) < 0)
            goto fail;
    }

    const char *device = p->o.device ? p->o.device : "@DEFAULT_MONITOR@";
    static const pa_sample_spec spec = {
        .format = PA_SAMPLE_S16LE, .rate = PVS_AUDIO_RATE, .channels = PVS_AUDIO_CHANNELS,
    };
    pa_channel_map map;
    pa_channel_map_init_stereo(&map);
    p->st = pa_stream_new(p->ctx, "pvstream capture", &spec, &map);
    err = PVS_ENOMEM;
    if (!p->st)
        goto fail;
    pa_stream_set_read_callback(p->st, on_read, p);
    uint32_t frame_bytes = (uint32_t)p->o.frame_samples * FRAME_BYTES;
    pa_buffer_attr attr = {
        .maxlength = (uint32_t)-1,
        .tlength = (uint32_t)-1,
        .prebuf = (uint32_t)-1,
        .minreq = (uint32_t)-1,
        .fragsize = frame_bytes,
    };
    err = PVS_ENODEV;
    if (pa_stream_connect_record(p->st, device, &attr,
                                 PA_STREAM_ADJUST_LATENCY | PA_STREAM_INTERPOLATE_TIMING |
                                 PA_STREAM_AUTO_TIMING_UPDATE) < 0) {
        set_why(why, why_len, "PulseAudio cannot record from %s (%s): audio off", device,
                pa_strerror(pa_context_errno(p->ctx)));
        goto fail;
    }
    for (;;) {
        pa_stream_state_t st = pa_stream_get_state(p->st);
        if (st == PA_STREAM_READY)
            break;
        if (!PA_STREAM_IS_GOOD(st)) {
            set_why(why, why_len, "PulseAudio cannot record from %s (%s): audio off", device,
                    pa_strerror(pa_context_errno(p->ctx)));
            goto fail;
        }
        if (pvs_time_ns() >= deadline) {
            set_why(why, why_len, "PulseAudio did not start recording from %s in %d ms: audio off",
                    device, CONNECT_TIMEOUT_MS);
            goto fail;
        }
        if (iterate(p, deadline) < 0)
            goto fail;
    }
    const pa_buffer_attr *got = pa_stream_get_buffer_attr(p->st);
    PVS_LOG_I("audio: PulseAudio %s, recording %s, fragments of %u bytes (asked %u)",
              pa_context_get_server(p->ctx) ? pa_context_get_server(p->ctx) : "?",
              pa_stream_get_device_name(p->st) ? pa_stream_get_device_name(p->st) : device,
              got ? got->fragsize : 0, frame_bytes);
    *out = &p->base;
    return 0;

fail:
    if (err == PVS_ENODEV && why && why_len && why[0])
        PVS_LOG_D("audio: %s", why);
    pulse_close(&base);
    return err;
}

static int pulse_read(struct pvs_audio_source *s, struct pvs_audio_frame *f, int timeout_ms)
{
    struct pulse *p = (struct pulse *)s;
    size_t n = (size_t)p->o.frame_samples;
    int64_t deadline = timeout_ms < 0 ? -1 : pvs_time_ns() + (int64_t)timeout_ms * 1000000;

    /* Take what has already arrived first, so the ring never holds audio
     * the reader could have had. */
    if (pa_mainloop_iterate(p->ml, 0, NULL) < 0)
        return PVS_EIO;
    while (p->fill < n) {
        if (!PA_STREAM_IS_GOOD(pa_stream_get_state(p->st)) ||
            !PA_CONTEXT_IS_GOOD(pa_context_get_state(p->ctx))) {
            PVS_LOG_E("audio: PulseAudio stopped the recording (%s)",
                      pa_strerror(pa_context_errno(p->ctx)));
            return PVS_EIO;
        }
        if (deadline >= 0 && pvs_time_ns() >= deadline)
            return PVS_ETIMEDOUT;
        if (iterate(p, deadline) < 0)
            return PVS_EIO;
    }

    /* A reader that fell behind loses the oldest audio, whole frames. */
    if (p->fill > p->backlog + n) {
        size_t drop = (p->fill - p->backlog) / n * n;
        p->head = (p->head + drop) % p->cap;
        p->fill -= drop;
        p->position += drop;
        p->base.stats.dropped += drop;
    }

    int64_t now = pvs_time_ns();
    pa_usec_t lat = 0;
    int neg = 0;
    int64_t lat_ns = 0;
    if (pa_stream_get_latency(p->st, &lat, &neg) == 0)
        lat_ns = neg ? -(int64_t)lat * 1000 : (int64_t)lat * 1000;
    p->base.stats.latency_ns = lat_ns;
    int64_t buffered_ns = (int64_t)p->fill * 1000000000 / PVS_AUDIO_RATE;

    for (size_t done = 0; done < n;) {
        size_t run = p->cap - p->head < n - done ? p->cap - p->head : n - done;
        memcpy(p->out + done * PVS_AUDIO_CHANNELS, p->ring + p->head * PVS_AUDIO_CHANNELS,
               run * FRAME_BYTES);
        p->head = (p->head + run) % p->cap;
        done += run;
    }
    f->pcm = p->out;
    f->samples = (int)n;
    f->position = p->position;
    f->capture_ns = now - lat_ns - buffered_ns;
    p->fill -= n;
    p->position += n;
    p->base.stats.frames++;
    return 0;
}

const struct pvs_audio_source_ops pvs_audio_pulse = {
    .name = "pulse",
    .description = "PulseAudio: the default sink's monitor",
    .open = pulse_open,
    .read = pulse_read,
    .close = pulse_close,
};
