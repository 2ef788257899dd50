/* Audio sources: where the server's sound comes from.
 *
 * The same shape as capture (capture/capture.h): a backend is a const table
 * of callbacks and keeps all its state in its handle; the registry lists the
 * backends compiled in, in order of preference. "auto" opens the first
 * system backend that works (PulseAudio on Linux, WASAPI loopback on
 * Windows) and otherwise leaves audio off, with the reason in `why`. The
 * synthetic "tone" source is never picked by "auto": a server without sound
 * sends no audio rather than a test tone.
 *
 * Every source delivers 48 kHz stereo signed 16-bit samples, interleaved
 * (left, right), in frames of a fixed number of samples per channel.
 *
 * Threading: one handle is used by one thread at a time (the server's audio
 * thread). */
#ifndef PVS_AUDIO_SOURCE_H
#define PVS_AUDIO_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_AUDIO_RATE 48000
#define PVS_AUDIO_CHANNELS 2
/* Frame sizes a source takes: 2.5 to 20 ms, which are Opus's. */
#define PVS_AUDIO_MIN_FRAME 120
#define PVS_AUDIO_MAX_FRAME 960
#define PVS_AUDIO_DEFAULT_FRAME 240 /* 5 ms */

/* Whether `samples` (per channel) is one of those frame sizes: 120, 240,
 * 480 or 960. */
static inline bool pvs_audio_frame_ok(int samples)
{
    return samples == 120 || samples == 240 || samples == 480 || samples == 960;
}

struct pvs_audio_opts {
    int frame_samples;   /* samples per channel per read(): 120, 240, 480 or
                            960; 0 = 240 (5 ms) */
    const char *device;  /* pulse: source name, NULL = "@DEFAULT_MONITOR@"
                            (what the default sink plays); wasapi: ignored
                            (the default render endpoint) */
    double tone_hz;      /* tone: frequency, 0 = 1000 Hz (up to 20 kHz) */
    double tone_level;   /* tone: peak amplitude, 0..1 of full scale; 0 = 0.5 */
    int max_backlog_ms;  /* a reader this far behind loses the oldest audio
                            (counted in stats.dropped) to keep latency low;
                            0 = 100 ms */
};

struct pvs_audio_frame {
    const int16_t *pcm;  /* samples * 2 values, L R L R...; valid until the
                            next read() or close() */
    int samples;         /* per channel: the frame size opened with */
    uint64_t position;   /* index of the first sample since open, counting
                            dropped audio (so gaps show) */
    int64_t capture_ns;  /* pvs_time_ns() when the first sample was
                            captured: the time it was read less the audio
                            still buffered and the device's own latency */
};

struct pvs_audio_stats {
    uint64_t frames;     /* returned by read() */
    uint64_t dropped;    /* samples per channel thrown away because the
                            reader fell behind by more than max_backlog_ms */
    int64_t latency_ns;  /* the last latency the device reported (0 when it
                            reports none): capture time to read() */
};

struct pvs_audio_source;

struct pvs_audio_source_ops {
    const char *name;
    const char *description;
    /* Opens the source. Returns 0; PVS_ENODEV / PVS_ENOTSUP when it cannot
     * work here (no sound server, no device), with a sentence for people in
     * why[why_len] ("PulseAudio is not running (Connection refused): audio
     * off"); or another code. `why` may be NULL. */
    int (*open)(struct pvs_audio_source **out, const struct pvs_audio_opts *o,
                char *why, size_t why_len);
    /* Waits up to timeout_ms (negative: forever) for the next frame.
     * Returns 0 with `f` filled, PVS_ETIMEDOUT, or another negative code
     * (the sound server went away: close and open again). */
    int (*read)(struct pvs_audio_source *s, struct pvs_audio_frame *f, int timeout_ms);
    void (*close)(struct pvs_audio_source **s);
};

/* Every backend's handle starts with this. */
struct pvs_audio_source {
    const struct pvs_audio_source_ops *ops;
    int frame_samples;
    struct pvs_audio_stats stats;
};

/* Backends compiled in, in order of preference, ending with NULL. The
 * system ones come first; "tone" last. */
extern const struct pvs_audio_source_ops *const pvs_audio_backends[];
const struct pvs_audio_source_ops *pvs_audio_find(const char *name);

/* Opens backend `name` ("pulse", "wasapi", "tone"), or for "auto" (or NULL)
 * the first system backend that works. Returns 0, PVS_EINVAL for an unknown
 * name or bad options, PVS_ENODEV when no source could open (why says why
 * each failed, for people: the server prints it and streams without audio),
 * or another code. */
int pvs_audio_open(struct pvs_audio_source **out, const char *name,
                   const struct pvs_audio_opts *o, char *why, size_t why_len);
static inline int pvs_audio_read(struct pvs_audio_source *s, struct pvs_audio_frame *f,
                                 int timeout_ms)
{
    return s->ops->read(s, f, timeout_ms);
}
/* Accepts NULL and clears the pointer. */
void pvs_audio_close(struct pvs_audio_source **s);

/* For backends: checks the options and fills in the defaults. Returns 0 or
 * PVS_EINVAL (with the reason logged). */
int pvs_audio_opts_resolve(const struct pvs_audio_opts *in, struct pvs_audio_opts *out);

#endif
