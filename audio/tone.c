/* tone: a sine wave paced to the clock, for tests and for measuring.
 *
 * Frame i covers samples [i N, (i + 1) N) and is ready when its last sample
 * would have been captured: at start + (i + 1) N / 48000 s, as a device
 * delivers it. Its capture time is that of its first sample, start + i N /
 * 48000. A reader that comes back late gets the frames it missed one after
 * another (a device buffers too), up to max_backlog_ms; beyond that the
 * oldest are dropped and counted, so the latency stays bounded.
 *
 * Both channels carry the same tone; the phase follows from the sample
 * index, so it is continuous across frames and across dropped audio. */
#include <math.h>
#include <stdlib.h>

#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

extern const struct pvs_audio_source_ops pvs_audio_tone;

struct tone {
    struct pvs_audio_source base;
    struct pvs_audio_opts o;
    int64_t t0;
    uint64_t next;           /* index of the next frame */
    double step;             /* radians per sample */
    double amp;
    int16_t pcm[PVS_AUDIO_MAX_FRAME * PVS_AUDIO_CHANNELS];
};

static int64_t frame_start_ns(const struct tone *t, uint64_t frame)
{
    uint64_t sample = frame * (uint64_t)t->o.frame_samples;
    return t->t0 + (int64_t)(sample / PVS_AUDIO_RATE * 1000000000ull +
                             sample % PVS_AUDIO_RATE * 1000000000ull / PVS_AUDIO_RATE);
}

static int tone_open(struct pvs_audio_source **out, const struct pvs_audio_opts *o,
                     char *why, size_t why_len)
{
    struct tone *t = calloc(1, sizeof(*t));
    if (!t)
        return PVS_ENOMEM;
    int err = pvs_audio_opts_resolve(o, &t->o);
    if (err < 0) {
        free(t);
        return err;
    }
    t->base.ops = &pvs_audio_tone;
    t->base.frame_samples = t->o.frame_samples;
    t->step = 2 * M_PI * t->o.tone_hz / PVS_AUDIO_RATE;
    t->amp = t->o.tone_level * 32767;
    t->t0 = pvs_time_ns();
    *out = &t->base;
    return 0;
}

static int tone_read(struct pvs_audio_source *s, struct pvs_audio_frame *f, int timeout_ms)
{
    struct tone *t = (struct tone *)s;
    int n = t->o.frame_samples;
    int64_t now = pvs_time_ns();

    /* Too far behind: skip the oldest frames, as a device's buffer would
     * overflow, so what is returned is never more than the backlog old. */
    int64_t backlog_ns = (int64_t)t->o.max_backlog_ms * 1000000;
    if (now - frame_start_ns(t, t->next + 1) > backlog_ns) {
        uint64_t newest = (uint64_t)((now - t->t0) / 1000) * PVS_AUDIO_RATE / 1000000 / (uint64_t)n;
        uint64_t keep = (uint64_t)(backlog_ns / 1000) * PVS_AUDIO_RATE / 1000000 / (uint64_t)n;
        if (newest > t->next + keep) {
            uint64_t skip = newest - keep - t->next;
            t->base.stats.dropped += skip * (uint64_t)n;
            t->next += skip;
        }
    }

    int64_t ready = frame_start_ns(t, t->next + 1);
    if (ready > now) {
        if (timeout_ms >= 0 && ready - now > (int64_t)timeout_ms * 1000000) {
            pvs_sleep_ns((int64_t)timeout_ms * 1000000);
            return PVS_ETIMEDOUT;
        }
        pvs_sleep_until_ns(ready);
    }

    uint64_t first = t->next * (uint64_t)n;
    for (int i = 0; i < n; i++) {
        /* The phase follows from the sample index alone, so it does not
         * drift with rounding as a running sum would. */
        double ph = t->step * (double)(first + (uint64_t)i);
        int16_t v = (int16_t)lrint(t->amp * sin(fmod(ph, 2 * M_PI)));
        t->pcm[2 * i] = v;
        t->pcm[2 * i + 1] = v;
    }
    f->pcm = t->pcm;
    f->samples = n;
    f->position = first;
    f->capture_ns = frame_start_ns(t, t->next);
    t->next++;
    t->base.stats.frames++;
    return 0;
}

static void tone_close(struct pvs_audio_source **s)
{
    free(*s);
    *s = NULL;
}

const struct pvs_audio_source_ops pvs_audio_tone = {
    .name = "tone",
    .description = "a sine wave paced to the clock",
    .open = tone_open,
    .read = tone_read,
    .close = tone_close,
};
