/* The audio source registry: system backends in order of preference, the
 * tone last, and "auto". */
#include <stdio.h>
#include <string.h>

#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"

extern const struct pvs_audio_source_ops pvs_audio_tone;
#if PVS_HAVE_PULSE
extern const struct pvs_audio_source_ops pvs_audio_pulse;
#endif
#if PVS_HAVE_WASAPI
extern const struct pvs_audio_source_ops pvs_audio_wasapi;
#endif

const struct pvs_audio_source_ops *const pvs_audio_backends[] = {
#if PVS_HAVE_PULSE
    &pvs_audio_pulse,
#endif
#if PVS_HAVE_WASAPI
    &pvs_audio_wasapi,
#endif
    &pvs_audio_tone,
    NULL,
};

const struct pvs_audio_source_ops *pvs_audio_find(const char *name)
{
    for (int i = 0; pvs_audio_backends[i]; i++)
        if (!strcmp(pvs_audio_backends[i]->name, name))
            return pvs_audio_backends[i];
    return NULL;
}

int pvs_audio_opts_resolve(const struct pvs_audio_opts *in, struct pvs_audio_opts *out)
{
    static const struct pvs_audio_opts none;
    *out = in ? *in : none;
    if (!out->frame_samples)
        out->frame_samples = PVS_AUDIO_DEFAULT_FRAME;
    if (!pvs_audio_frame_ok(out->frame_samples)) {
        PVS_LOG_E("audio: frame of %d samples: take 120, 240, 480 or 960 (2.5 to 20 ms)",
                  out->frame_samples);
        return PVS_EINVAL;
    }
    if (out->tone_hz == 0)
        out->tone_hz = 1000;
    if (out->tone_level == 0)
        out->tone_level = 0.5;
    if (!(out->tone_hz > 0 && out->tone_hz <= 20000) ||
        !(out->tone_level > 0 && out->tone_level <= 1)) {
        PVS_LOG_E("audio: tone of %g Hz at level %g: take 0..20000 Hz and 0..1",
                  out->tone_hz, out->tone_level);
        return PVS_EINVAL;
    }
    if (!out->max_backlog_ms)
        out->max_backlog_ms = 100;
    if (out->max_backlog_ms < 10 || out->max_backlog_ms > 2000) {
        PVS_LOG_E("audio: backlog of %d ms: take 10..2000", out->max_backlog_ms);
        return PVS_EINVAL;
    }
    return 0;
}

int pvs_audio_open(struct pvs_audio_source **out, const char *name,
                   const struct pvs_audio_opts *o, char *why, size_t why_len)
{
    *out = NULL;
    if (why && why_len)
        why[0] = 0;
    if (name && strcmp(name, "auto")) {
        const struct pvs_audio_source_ops *ops = pvs_audio_find(name);
        if (!ops) {
            PVS_LOG_E("unknown audio source '%s'", name);
            if (why && why_len)
                snprintf(why, why_len, "unknown audio source '%s': audio off", name);
            return PVS_EINVAL;
        }
        int err = ops->open(out, o, why, why_len);
        if (err < 0 && why && why_len && !why[0])
            snprintf(why, why_len, "audio source %s: %s: audio off", name, pvs_strerror(err));
        return err;
    }
    int err = PVS_ENODEV;
    size_t used = 0;
    for (int i = 0; pvs_audio_backends[i]; i++) {
        const struct pvs_audio_source_ops *ops = pvs_audio_backends[i];
        if (!strcmp(ops->name, "tone"))
            continue;
        char one[256] = "";
        err = ops->open(out, o, one, sizeof(one));
        if (err == 0) {
            PVS_LOG_I("audio: %s (%s)", ops->name, ops->description);
            return 0;
        }
        if (!one[0])
            snprintf(one, sizeof(one), "%s: %s", ops->name, pvs_strerror(err));
        PVS_LOG_I("audio %s skipped: %s", ops->name, one);
        if (why && used + 1 < why_len) {
            int n = snprintf(why + used, why_len - used, "%s%s", used ? "; " : "", one);
            used = n < 0 ? used : used + (size_t)n >= why_len ? why_len - 1 : used + (size_t)n;
        }
        if (err != PVS_ENODEV && err != PVS_ENOTSUP)
            return err; /* a real failure, not "not here": say so */
    }
    if (why && why_len && !why[0])
        snprintf(why, why_len, "no audio source is built into this program: audio off");
    return err;
}

void pvs_audio_close(struct pvs_audio_source **s)
{
    if (s && *s)
        (*s)->ops->close(s);
}
