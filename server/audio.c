/* The server's audio thread: source -> Opus -> packet -> SRTP -> UDP (see
 * audio.h). */
#include "server/audio.h"

#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/opus.h"
#include "common/platform/platform.h"
#include "audio/packet.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"

#define REOPEN_NS 1000000000LL
#define READ_TIMEOUT_MS 100

const char *const pvs_server_audio_frame_choices[] = { "2.5", "5", "10", "20", NULL };

int pvs_server_audio_frame_samples(int choice)
{
    static const int samples[] = { 120, 240, 480, 960 };
    return choice >= 0 && choice < 4 ? samples[choice] : PVS_AUDIO_DEFAULT_FRAME;
}

uint32_t pvs_server_audio_next_ts(uint32_t prev_ts, uint64_t prev_pos, uint64_t pos,
                                  int frame_samples)
{
    uint64_t n = (uint64_t)frame_samples;
    uint64_t expected = prev_pos + n;
    uint64_t frames = 1;
    if (pos > expected)
        frames += (pos - expected + n / 2) / n;
    return prev_ts + (uint32_t)(frames * n);
}

struct pvs_server_audio {
    struct pvs_server_audio_config cfg;
    char source_name[32];
    char device[256];
    uint32_t ssrc;
    struct pvs_audio_source *src;
    struct pvs_opus_enc *enc;
    struct pvs_srtp *srtp;
    struct pvs_audio_packer packer;
    struct pvs_thread *thread;
    atomic_bool stop;

    /* the audio thread's */
    uint32_t ts;
    uint64_t last_pos;
    bool have_last;
    bool resync;                     /* the source was opened again: mark the next packet */
    int64_t last_frame_ns;
    uint64_t dropped_closed;         /* by sources closed so far */
    uint8_t opus[PVS_OPUS_MAX_PACKET * 5];  /* 7.1: five streams */
    uint8_t pkt[PVS_AUDIO_MAX_PACKET + 16];
    int16_t *wide;                   /* surround: the frame spread over its channels */

    pvs_mutex mu;
    struct pvs_server_audio_stats stats;
};

/* The source's sentence without its own trailing "audio off" (the caller
 * says that first). */
static void tidy_why(char *why)
{
    static const char tail[] = ": audio off";
    char *p;
    while ((p = strstr(why, tail)) != NULL)
        memmove(p, p + sizeof(tail) - 1, strlen(p + sizeof(tail) - 1) + 1);
}

static int open_source(struct pvs_server_audio *a, char *why, size_t why_len)
{
    struct pvs_audio_opts o = { .frame_samples = a->cfg.frame_samples,
                                .device = a->device[0] ? a->device : NULL };
    int err = pvs_audio_open(&a->src, a->source_name, &o, why, why_len);
    if (why && why_len)
        tidy_why(why);
    return err;
}

/* Keeps the count of audio lost by closed sources (audio thread). */
static void count_source(struct pvs_server_audio *a)
{
    if (a->src)
        a->dropped_closed += a->src->stats.dropped;
}

/* Moonlight's: one Opus packet per frame to the output, surround spread
 * from the stereo source (front left and right; the rest silent). */
static void output_frame(struct pvs_server_audio *a, const struct pvs_audio_frame *f,
                         uint64_t *sent, uint64_t *bytes, uint64_t *failed, int *n)
{
    const int16_t *pcm = f->pcm;
    if (a->wide) {
        int ch = a->cfg.channels;
        memset(a->wide, 0, sizeof(*a->wide) * (size_t)(ch * a->cfg.frame_samples));
        for (int i = 0; i < a->cfg.frame_samples; i++) {
            a->wide[i * ch] = f->pcm[2 * i];
            a->wide[i * ch + 1] = f->pcm[2 * i + 1];
        }
        pcm = a->wide;
    }
    *n = pvs_opus_encode(a->enc, pcm, a->opus, sizeof(a->opus), NULL);
    if (*n <= 0)
        return;
    int err = a->cfg.output(a->cfg.output_arg, a->opus, (size_t)*n);
    if (err == 0) {
        *sent = 1;
        *bytes = (uint64_t)*n;
    } else if (err != PVS_EAGAIN) {
        *failed = 1;
    }
}

/* One frame: encode, pack, protect, send. */
static void send_frame(struct pvs_server_audio *a, const struct pvs_audio_frame *f)
{
    /* Without a previous frame (the first, or the first after the source
     * was opened again) a->ts is already this frame's. */
    if (!a->have_last)
        a->have_last = true;
    else
        a->ts = pvs_server_audio_next_ts(a->ts, a->last_pos, f->position, a->cfg.frame_samples);
    a->last_pos = f->position;
    a->last_frame_ns = pvs_time_ns();

    struct pvs_opus_frame_info info;
    uint64_t sent = 0, bytes = 0, failed = 0;
    int n = 0;
    if (a->cfg.output)
        output_frame(a, f, &sent, &bytes, &failed, &n);
    else
        n = pvs_opus_encode(a->enc, f->pcm, a->opus, sizeof(a->opus), &info);
    if (n > 0 && !a->cfg.output) {
        uint64_t capture_us = f->capture_ns > 0 ? (uint64_t)(f->capture_ns / 1000) : 0;
        int len = pvs_audio_pack(&a->packer, a->opus, (size_t)n, a->ts, capture_us,
                                 info.silent ? PVS_AUDIO_FLAG_SILENT : 0,
                                 info.resumed || a->resync, a->pkt,
                                 (size_t)a->cfg.datagram - 16);
        a->resync = false;
        size_t plen = len > 0 ? (size_t)len : 0;
        if (len > 0 && pvs_srtp_protect(a->srtp, a->pkt, &plen, sizeof(a->pkt)) == 0 &&
            pvs_udp_send(a->cfg.sock, a->pkt, plen, &a->cfg.to) > 0) {
            sent = 1;
            bytes = plen;
        } else {
            failed = 1;
        }
    } else if (n < 0) {
        PVS_LOG_D("audio: a frame did not encode: %s", pvs_strerror(n));
    }
    pvs_mutex_lock(&a->mu);
    a->stats.frames++;
    a->stats.packets += sent;
    a->stats.bytes += bytes;
    a->stats.send_failed += failed;
    a->stats.gated += n == 0;
    a->stats.dropped = a->dropped_closed + a->src->stats.dropped;
    pvs_mutex_unlock(&a->mu);
}

static int audio_thread(void *arg)
{
    struct pvs_server_audio *a = arg;
    int64_t retry_at = 0;
    bool said_gone = false;
    pvs_thread_boost("Pro Audio"); /* MMCSS on Windows; best effort */
    while (!atomic_load(&a->stop)) {
        if (!a->src) {
            int64_t now = pvs_time_ns();
            if (now < retry_at) {
                pvs_sleep_ns(READ_TIMEOUT_MS * 1000000LL);
                continue;
            }
            char why[256] = "";
            if (open_source(a, why, sizeof(why)) != 0) {
                retry_at = now + REOPEN_NS;
                continue;
            }
            PVS_LOG_I("server: audio is back");
            said_gone = false;
            a->resync = true;
            /* The source counts from 0 again: go on from where the
             * clock says the stream is. */
            if (a->have_last) {
                int64_t gap = pvs_time_ns() - a->last_frame_ns;
                int64_t frames = gap / (1000000000LL * a->cfg.frame_samples / PVS_AUDIO_RATE);
                a->ts += (uint32_t)((frames > 0 ? frames : 1) * a->cfg.frame_samples);
                a->have_last = false;
            }
        }
        struct pvs_audio_frame f;
        int err = pvs_audio_read(a->src, &f, READ_TIMEOUT_MS);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err) {
            if (!said_gone)
                PVS_LOG_W("server: the audio source stopped (%s): trying again every second",
                          pvs_strerror(err));
            said_gone = true;
            count_source(a);
            pvs_audio_close(&a->src);
            retry_at = pvs_time_ns() + REOPEN_NS;
            continue;
        }
        send_frame(a, &f);
    }
    return 0;
}

int pvs_server_audio_start(struct pvs_server_audio **out, const struct pvs_server_audio_config *cfg,
                           const uint8_t key[PVS_SRTP_KEY_BYTES], char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    if (!out || !cfg || (!key && !cfg->output))
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg->output && (cfg->redundancy < 0 || cfg->redundancy > PVS_AUDIO_MAX_REDUNDANCY ||
                         cfg->datagram < 64 + 16)) {
        if (why && why_len)
            snprintf(why, why_len, "bad audio settings (redundancy %d, datagram %d)",
                     cfg->redundancy, cfg->datagram);
        return PVS_EINVAL;
    }
    struct pvs_server_audio *a = calloc(1, sizeof(*a));
    if (!a)
        return PVS_ENOMEM;
    a->cfg = *cfg;
    snprintf(a->source_name, sizeof(a->source_name), "%s",
             cfg->source && cfg->source[0] ? cfg->source : "auto");
    snprintf(a->device, sizeof(a->device), "%s", cfg->device ? cfg->device : "");
    a->cfg.source = a->source_name;
    a->cfg.device = a->device;
    if (a->cfg.datagram > PVS_AUDIO_MAX_PACKET + 16)
        a->cfg.datagram = PVS_AUDIO_MAX_PACKET + 16;
    do
        randombytes_buf(&a->ssrc, sizeof(a->ssrc));
    while (a->ssrc == 0 || a->ssrc == cfg->avoid_ssrc);
    uint16_t seq;
    randombytes_buf(&seq, sizeof(seq));
    randombytes_buf(&a->ts, sizeof(a->ts));

    int err = pvs_mutex_init(&a->mu);
    if (err) {
        free(a);
        return err;
    }
    err = open_source(a, why, why_len);
    if (err)
        goto fail;
    struct pvs_opus_config oc = { .bitrate = cfg->bitrate, .frame_samples = cfg->frame_samples,
                                  .complexity = -1, .silence = PVS_OPUS_SILENCE_GATE };
    if (cfg->output) {
        oc.silence = PVS_OPUS_SILENCE_CBR;
        if (cfg->channels > 2) {
            oc.channels = cfg->channels;
            oc.streams = cfg->streams;
            oc.coupled = cfg->coupled;
            memcpy(oc.mapping, cfg->mapping, sizeof(oc.mapping));
            a->wide = calloc((size_t)(cfg->channels * cfg->frame_samples), sizeof(*a->wide));
            if (!a->wide) {
                err = PVS_ENOMEM;
                goto fail;
            }
        }
    }
    err = pvs_opus_enc_open(&a->enc, &oc);
    if (!err && !cfg->output)
        err = pvs_audio_packer_init(&a->packer, a->ssrc, seq, cfg->frame_samples, cfg->redundancy);
    if (!err && !cfg->output)
        err = pvs_srtp_open_send(&a->srtp, key, a->ssrc);
    if (!err)
        err = pvs_thread_create(&a->thread, audio_thread, a, "pvs-audio");
    if (err) {
        if (why && why_len)
            snprintf(why, why_len, "cannot set up the audio stream (%s)", pvs_strerror(err));
        goto fail;
    }
    *out = a;
    return 0;

fail:
    pvs_srtp_close(&a->srtp);
    pvs_opus_enc_close(&a->enc);
    pvs_audio_close(&a->src);
    pvs_mutex_destroy(&a->mu);
    free(a->wide);
    free(a);
    return err;
}

void pvs_server_audio_stop(struct pvs_server_audio **pa)
{
    if (!pa || !*pa)
        return;
    struct pvs_server_audio *a = *pa;
    atomic_store(&a->stop, true);
    pvs_thread_join(&a->thread, NULL);
    pvs_audio_close(&a->src);
    pvs_opus_enc_close(&a->enc);
    pvs_srtp_close(&a->srtp);
    pvs_mutex_destroy(&a->mu);
    sodium_memzero(&a->packer, sizeof(a->packer));
    free(a->wide);
    free(a);
    *pa = NULL;
}

uint32_t pvs_server_audio_ssrc(const struct pvs_server_audio *a)
{
    return a ? a->ssrc : 0;
}

void pvs_server_audio_get_stats(struct pvs_server_audio *a, struct pvs_server_audio_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!a)
        return;
    pvs_mutex_lock(&a->mu);
    *out = a->stats;
    pvs_mutex_unlock(&a->mu);
}
