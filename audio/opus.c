/* The Opus wrappers: low-delay CBR encoding with a silence gate, and
 * decoding with concealment (audio/opus.h). */
#include <stdlib.h>
#include <string.h>

/* Named with its folder: this directory's opus.h must not stand in for it. */
#include <opus.h> /* libopus (pkg-config points into include/opus) */
#include <opus_multistream.h>

#include "audio/opus.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"

struct pvs_opus_enc {
    OpusEncoder *enc;
    OpusMSEncoder *ms;     /* instead of enc for surround */
    int channels;
    struct pvs_opus_config cfg;
    int silent_frames;     /* silent frames in a row */
    int gate_frames;       /* silent frames that close the gate */
    bool gated;            /* the last frame was not sent */
    struct pvs_opus_enc_stats stats;
};

struct pvs_opus_dec {
    OpusDecoder *dec;
    int frame_samples;
};

bool pvs_opus_is_silence(const int16_t *pcm, int n)
{
    for (int i = 0; i < 2 * n; i++)
        if (pcm[i] > PVS_OPUS_SILENCE_LEVEL || pcm[i] < -PVS_OPUS_SILENCE_LEVEL)
            return false;
    return true;
}

/* One encoder request to whichever encoder this is. */
#define enc_ctl(e, ...) \
    ((e)->ms ? opus_multistream_encoder_ctl((e)->ms, __VA_ARGS__) \
             : opus_encoder_ctl((e)->enc, __VA_ARGS__))

int pvs_opus_enc_open(struct pvs_opus_enc **out, const struct pvs_opus_config *cfg)
{
    *out = NULL;
    struct pvs_opus_config c = {0};
    if (cfg)
        c = *cfg;
    else
        c.complexity = -1;
    if (!c.bitrate)
        c.bitrate = PVS_OPUS_DEFAULT_BITRATE;
    if (!c.frame_samples)
        c.frame_samples = PVS_AUDIO_DEFAULT_FRAME;
    if (c.bitrate < PVS_OPUS_MIN_BITRATE || c.bitrate > PVS_OPUS_MAX_BITRATE ||
        !pvs_audio_frame_ok(c.frame_samples) || c.loss_percent < 0 || c.loss_percent > 100 ||
        c.complexity < -1 || c.complexity > 10 || c.silence < PVS_OPUS_SILENCE_GATE ||
        c.silence > PVS_OPUS_SILENCE_DTX || c.channels < 0 || c.channels > 8 ||
        (c.channels > 2 && (c.streams < 1 || c.coupled < 0 || c.coupled > c.streams))) {
        PVS_LOG_E("opus: bad settings (%d bit/s, %d-sample frames, loss %d %%, complexity %d): "
                  "take 6000..510000 bit/s and frames of 120, 240, 480 or 960",
                  c.bitrate, c.frame_samples, c.loss_percent, c.complexity);
        return PVS_EINVAL;
    }
    struct pvs_opus_enc *e = calloc(1, sizeof(*e));
    if (!e)
        return PVS_ENOMEM;
    e->cfg = c;
    int ms = c.frame_samples * 1000 / PVS_AUDIO_RATE;
    e->gate_frames = (PVS_OPUS_GATE_MS + (ms ? ms : 1) - 1) / (ms ? ms : 1);
    if (e->gate_frames < 2)
        e->gate_frames = 2;
    int err;
    e->channels = c.channels > 2 ? c.channels : PVS_AUDIO_CHANNELS;
    if (c.channels > 2)
        e->ms = opus_multistream_encoder_create(PVS_AUDIO_RATE, c.channels, c.streams, c.coupled,
                                                c.mapping, OPUS_APPLICATION_RESTRICTED_LOWDELAY,
                                                &err);
    else
        e->enc = opus_encoder_create(PVS_AUDIO_RATE, PVS_AUDIO_CHANNELS,
                                     OPUS_APPLICATION_RESTRICTED_LOWDELAY, &err);
    if (!e->enc && !e->ms) {
        PVS_LOG_E("opus: encoder (%d channels): %s", e->channels, opus_strerror(err));
        free(e);
        return PVS_EEXTERNAL;
    }
    if (enc_ctl(e, OPUS_SET_BITRATE(c.bitrate)) != OPUS_OK ||
        enc_ctl(e, OPUS_SET_VBR(0)) != OPUS_OK ||
        enc_ctl(e, OPUS_SET_INBAND_FEC(c.inband_fec ? 1 : 0)) != OPUS_OK ||
        enc_ctl(e, OPUS_SET_PACKET_LOSS_PERC(c.loss_percent)) != OPUS_OK ||
        enc_ctl(e, OPUS_SET_DTX(c.silence == PVS_OPUS_SILENCE_DTX)) != OPUS_OK ||
        (c.complexity >= 0 && enc_ctl(e, OPUS_SET_COMPLEXITY(c.complexity)) != OPUS_OK)) {
        PVS_LOG_E("opus: the encoder refused its settings");
        pvs_opus_enc_close(&e);
        return PVS_EEXTERNAL;
    }
    *out = e;
    return 0;
}

void pvs_opus_enc_close(struct pvs_opus_enc **e)
{
    if (!e || !*e)
        return;
    if ((*e)->enc)
        opus_encoder_destroy((*e)->enc);
    if ((*e)->ms)
        opus_multistream_encoder_destroy((*e)->ms);
    free(*e);
    *e = NULL;
}

int pvs_opus_enc_set_bitrate(struct pvs_opus_enc *e, int bitrate)
{
    if (bitrate < PVS_OPUS_MIN_BITRATE || bitrate > PVS_OPUS_MAX_BITRATE)
        return PVS_EINVAL;
    if (enc_ctl(e, OPUS_SET_BITRATE(bitrate)) != OPUS_OK)
        return PVS_EINVAL;
    e->cfg.bitrate = bitrate;
    return 0;
}

int pvs_opus_encode(struct pvs_opus_enc *e, const int16_t *pcm, uint8_t *out, size_t cap,
                    struct pvs_opus_frame_info *info)
{
    struct pvs_opus_frame_info none;
    if (!info)
        info = &none;
    e->stats.frames++;
    /* pvs_opus_is_silence counts stereo pairs: the same samples in other
     * groupings. */
    info->silent = pvs_opus_is_silence(pcm, e->cfg.frame_samples * e->channels / 2);
    info->resumed = false;
    e->silent_frames = info->silent ? e->silent_frames + 1 : 0;

    if (e->cfg.silence == PVS_OPUS_SILENCE_GATE && e->silent_frames > e->gate_frames) {
        /* The encoder is not fed while gated: its memory already holds
         * gate_frames of silence, which is what it would hold anyway. */
        e->gated = true;
        e->stats.gated++;
        return 0;
    }
    /* A multistream packet holds a frame of every stream. */
    size_t most = (size_t)PVS_OPUS_MAX_PACKET * (e->ms ? (size_t)e->cfg.streams : 1);
    opus_int32 room = (opus_int32)(cap > most ? most : cap);
    int n = e->ms ? opus_multistream_encode(e->ms, pcm, e->cfg.frame_samples, out, room)
                  : opus_encode(e->enc, pcm, e->cfg.frame_samples, out, room);
    if (n < 0) {
        PVS_LOG_E("opus: encode: %s", opus_strerror(n));
        return n == OPUS_BUFFER_TOO_SMALL ? PVS_EINVAL : PVS_EEXTERNAL;
    }
    /* DTX: one or two bytes say "nothing here"; they need not be sent. */
    if (e->cfg.silence == PVS_OPUS_SILENCE_DTX && n <= 2) {
        e->gated = true;
        e->stats.gated++;
        return 0;
    }
    info->resumed = e->gated;
    e->gated = false;
    e->stats.packets++;
    e->stats.bytes += (uint64_t)n;
    return n;
}

void pvs_opus_enc_get_stats(const struct pvs_opus_enc *e, struct pvs_opus_enc_stats *out)
{
    *out = e->stats;
}

int pvs_opus_dec_open(struct pvs_opus_dec **out, int frame_samples)
{
    *out = NULL;
    if (!frame_samples)
        frame_samples = PVS_AUDIO_DEFAULT_FRAME;
    if (!pvs_audio_frame_ok(frame_samples))
        return PVS_EINVAL;
    struct pvs_opus_dec *d = calloc(1, sizeof(*d));
    if (!d)
        return PVS_ENOMEM;
    int err;
    d->dec = opus_decoder_create(PVS_AUDIO_RATE, PVS_AUDIO_CHANNELS, &err);
    if (!d->dec) {
        PVS_LOG_E("opus: decoder: %s", opus_strerror(err));
        free(d);
        return PVS_EEXTERNAL;
    }
    d->frame_samples = frame_samples;
    *out = d;
    return 0;
}

void pvs_opus_dec_close(struct pvs_opus_dec **d)
{
    if (!d || !*d)
        return;
    opus_decoder_destroy((*d)->dec);
    free(*d);
    *d = NULL;
}

static int decode(struct pvs_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm, int fec)
{
    int n = d->frame_samples;
    if (pkt && len) {
        /* A packet of another duration would write more or fewer samples
         * than a frame: refuse it before libopus sees it. */
        if (len > PVS_OPUS_MAX_PACKET ||
            opus_packet_get_nb_samples(pkt, (opus_int32)len, PVS_AUDIO_RATE) != n) {
            pkt = NULL;
            len = 0;
        } else {
            int got = opus_decode(d->dec, pkt, (opus_int32)len, pcm, n, fec);
            if (got == n)
                return 0;
        }
        if (opus_decode(d->dec, NULL, 0, pcm, n, 0) != n)
            memset(pcm, 0, (size_t)n * PVS_AUDIO_CHANNELS * sizeof(*pcm));
        return PVS_EBADDATA;
    }
    if (opus_decode(d->dec, NULL, 0, pcm, n, 0) != n)
        memset(pcm, 0, (size_t)n * PVS_AUDIO_CHANNELS * sizeof(*pcm));
    return 0;
}

int pvs_opus_decode(struct pvs_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm)
{
    return decode(d, pkt, len, pcm, 0);
}

int pvs_opus_decode_fec(struct pvs_opus_dec *d, const uint8_t *next, size_t len, int16_t *pcm)
{
    return decode(d, next, len, pcm, 1);
}
