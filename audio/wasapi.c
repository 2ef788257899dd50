/* wasapi: what the default render endpoint plays, through WASAPI loopback
 * (Windows).
 *
 * IAudioClient on the default render device, shared mode, with
 * AUDCLNT_STREAMFLAGS_LOOPBACK | AUDCLNT_STREAMFLAGS_EVENTCALLBACK and
 * AUTOCONVERTPCM | SRC_DEFAULT_QUALITY, asking for 48 kHz stereo 16-bit:
 * the audio engine converts from its mix format (usually 32-bit float at
 * the device's rate) itself, so nothing here resamples. Where it refuses
 * the conversion (before Windows 10), the mix format is taken as it is and
 * float or 16-bit stereo at 48 kHz is converted here; anything else is
 * PVS_ENOTSUP with a sentence.
 *
 * Event-driven: read() waits on the event the engine signals each period
 * (a timeout keeps the thread stoppable) and drains every packet into a
 * ring like pulse.c's. Loopback of an idle endpoint delivers nothing at
 * all, not silence: read() then makes silence itself once a frame's time
 * has passed without data, so the stream keeps its pace.
 *
 * Capture time: a packet's QPC position (IAudioCaptureClient::GetBuffer's
 * u64QPCPosition, in 100 ns units) is when its first sample was captured.
 *
 * COM from C through lpVtbl; the interface IDs are written out here so no
 * import library of GUIDs is needed. One handle, one thread, and COM is
 * initialised on that thread (multithreaded apartment). */
#define COBJMACROS
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <initguid.h>
#include <audioclient.h>
#include <mmdeviceapi.h>
#include <mmreg.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#ifndef AUDCLNT_STREAMFLAGS_AUTOCONVERTPCM
#define AUDCLNT_STREAMFLAGS_AUTOCONVERTPCM 0x80000000
#endif
#ifndef AUDCLNT_STREAMFLAGS_SRC_DEFAULT_QUALITY
#define AUDCLNT_STREAMFLAGS_SRC_DEFAULT_QUALITY 0x08000000
#endif

static const CLSID clsid_mm_device_enumerator = {
    0xbcde0395, 0xe52f, 0x467c, {0x8e, 0x3d, 0xc4, 0x57, 0x92, 0x91, 0x69, 0x2e}};
static const IID iid_imm_device_enumerator = {
    0xa95664d2, 0x9614, 0x4f35, {0xa7, 0x46, 0xde, 0x8d, 0xb6, 0x36, 0x17, 0xe6}};
static const IID iid_iaudio_client = {
    0x1cb9ad4c, 0xdbfa, 0x4c32, {0xb1, 0x78, 0xc2, 0xf5, 0x68, 0xa7, 0x03, 0xb2}};
static const IID iid_iaudio_capture_client = {
    0xc8adbd64, 0xe71e, 0x48a0, {0xa4, 0xde, 0x18, 0x5c, 0x39, 0x5c, 0xd3, 0x17}};
static const GUID subtype_ieee_float = {
    0x00000003, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}};
static const GUID subtype_pcm = {
    0x00000001, 0x0000, 0x0010, {0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}};

#define FRAME_BYTES (PVS_AUDIO_CHANNELS * 2)
#define BUFFER_HNS 200000 /* 20 ms of engine buffer, in 100 ns units */

extern const struct pvs_audio_source_ops pvs_audio_wasapi;

enum sample_kind { KIND_S16, KIND_F32 };

struct wasapi {
    struct pvs_audio_source base;
    struct pvs_audio_opts o;
    bool com_init;
    IMMDeviceEnumerator *enumerator;
    IMMDevice *device;
    IAudioClient *client;
    IAudioCaptureClient *capture;
    HANDLE event;
    enum sample_kind kind;
    int channels;        /* of the packets (2 when converted by the engine) */

    int16_t *ring;
    size_t cap, head, fill;
    uint64_t position;   /* sample index of ring[head] */
    int64_t head_ns;     /* capture time of ring[head], pvs_time_ns() clock */
    bool head_known;
    size_t backlog;
    int64_t last_data_ns;
    int16_t out[PVS_AUDIO_MAX_FRAME * PVS_AUDIO_CHANNELS];
};

static void set_why(char *why, size_t why_len, const char *what, HRESULT hr)
{
    if (why && why_len)
        snprintf(why, why_len, "WASAPI loopback: %s (0x%08lx): audio off", what,
                 (unsigned long)hr);
}

/* The engine's QPC position, in 100 ns units, to the pvs_time_ns() clock:
 * both are the performance counter from its zero. */
static int64_t qpc_hns_to_ns(UINT64 hns)
{
    return (int64_t)hns * 100;
}

static int16_t f32_to_s16(float v)
{
    if (v >= 1.0f)
        return 32767;
    if (v <= -1.0f)
        return -32768;
    return (int16_t)(v * 32767.0f);
}

/* Appends n samples per channel in the packet's format (NULL: silence). */
static void ring_push(struct wasapi *w, const BYTE *data, size_t n)
{
    if (w->fill + n > w->cap) {
        size_t drop = w->fill + n - w->cap;
        if (drop > w->fill)
            drop = w->fill;
        w->head = (w->head + drop) % w->cap;
        w->fill -= drop;
        w->position += drop;
        w->head_ns += (int64_t)drop * 1000000000 / PVS_AUDIO_RATE;
        w->base.stats.dropped += drop;
        if (n > w->cap)
            n = w->cap; /* the rest of this packet is lost too */
    }
    size_t tail = (w->head + w->fill) % w->cap;
    for (size_t i = 0; i < n; i++) {
        int16_t *dst = w->ring + tail * PVS_AUDIO_CHANNELS;
        if (!data) {
            dst[0] = dst[1] = 0;
        } else if (w->kind == KIND_S16) {
            const int16_t *src = (const int16_t *)(const void *)data + i * (size_t)w->channels;
            dst[0] = src[0];
            dst[1] = src[1];
        } else {
            const float *src = (const float *)(const void *)data + i * (size_t)w->channels;
            dst[0] = f32_to_s16(src[0]);
            dst[1] = f32_to_s16(src[1]);
        }
        tail = tail + 1 == w->cap ? 0 : tail + 1;
    }
    w->fill += n;
}

/* Takes every packet the engine holds. Returns 0 or PVS_EIO. */
static int drain(struct wasapi *w)
{
    for (;;) {
        UINT32 next = 0;
        HRESULT hr = IAudioCaptureClient_GetNextPacketSize(w->capture, &next);
        if (FAILED(hr)) {
            PVS_LOG_E("WASAPI loopback: the device went away (0x%08lx)", (unsigned long)hr);
            return PVS_EIO;
        }
        if (!next)
            return 0;
        BYTE *data;
        UINT32 frames;
        DWORD flags;
        UINT64 qpc = 0;
        hr = IAudioCaptureClient_GetBuffer(w->capture, &data, &frames, &flags, NULL, &qpc);
        if (FAILED(hr))
            return PVS_EIO;
        if (hr == AUDCLNT_S_BUFFER_EMPTY)
            return 0;
        if (!w->head_known || w->fill == 0) {
            w->head_ns = qpc ? qpc_hns_to_ns(qpc) : pvs_time_ns();
            w->head_known = true;
        }
        ring_push(w, (flags & AUDCLNT_BUFFERFLAGS_SILENT) ? NULL : data, frames);
        IAudioCaptureClient_ReleaseBuffer(w->capture, frames);
        w->last_data_ns = pvs_time_ns();
    }
}

static void wasapi_close(struct pvs_audio_source **s)
{
    struct wasapi *w = (struct wasapi *)*s;
    if (w->client)
        IAudioClient_Stop(w->client);
    if (w->capture)
        IAudioCaptureClient_Release(w->capture);
    if (w->client)
        IAudioClient_Release(w->client);
    if (w->device)
        IMMDevice_Release(w->device);
    if (w->enumerator)
        IMMDeviceEnumerator_Release(w->enumerator);
    if (w->event)
        CloseHandle(w->event);
    if (w->com_init)
        CoUninitialize();
    free(w->ring);
    free(w);
    *s = NULL;
}

static int wasapi_open(struct pvs_audio_source **out, const struct pvs_audio_opts *o,
                       char *why, size_t why_len)
{
    struct wasapi *w = calloc(1, sizeof(*w));
    if (!w)
        return PVS_ENOMEM;
    struct pvs_audio_source *base = &w->base;
    w->base.ops = &pvs_audio_wasapi;
    int err = pvs_audio_opts_resolve(o, &w->o);
    if (err < 0)
        goto fail;
    w->base.frame_samples = w->o.frame_samples;
    w->backlog = (size_t)w->o.max_backlog_ms * PVS_AUDIO_RATE / 1000;
    w->cap = w->backlog + 8 * (size_t)w->o.frame_samples;
    err = PVS_ENOMEM;
    w->ring = malloc(w->cap * FRAME_BYTES);
    if (!w->ring)
        goto fail;

    err = PVS_ENODEV;
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    if (FAILED(hr) && hr != RPC_E_CHANGED_MODE) {
        set_why(why, why_len, "COM did not initialise", hr);
        goto fail;
    }
    w->com_init = SUCCEEDED(hr);
    hr = CoCreateInstance(&clsid_mm_device_enumerator, NULL, CLSCTX_ALL,
                          &iid_imm_device_enumerator, (void **)&w->enumerator);
    if (FAILED(hr)) {
        set_why(why, why_len, "no audio device enumerator (is the Windows Audio service running?)", hr);
        goto fail;
    }
    hr = IMMDeviceEnumerator_GetDefaultAudioEndpoint(w->enumerator, eRender, eConsole, &w->device);
    if (FAILED(hr)) {
        set_why(why, why_len, "no default playback device (connect speakers or a virtual audio device)", hr);
        goto fail;
    }
    hr = IMMDevice_Activate(w->device, &iid_iaudio_client, CLSCTX_ALL, NULL, (void **)&w->client);
    if (FAILED(hr)) {
        set_why(why, why_len, "the playback device cannot be opened", hr);
        goto fail;
    }

    /* 48 kHz stereo 16-bit, converted by the engine. */
    WAVEFORMATEX want = {
        .wFormatTag = WAVE_FORMAT_PCM,
        .nChannels = PVS_AUDIO_CHANNELS,
        .nSamplesPerSec = PVS_AUDIO_RATE,
        .wBitsPerSample = 16,
        .nBlockAlign = FRAME_BYTES,
        .nAvgBytesPerSec = PVS_AUDIO_RATE * FRAME_BYTES,
    };
    DWORD flags = AUDCLNT_STREAMFLAGS_LOOPBACK | AUDCLNT_STREAMFLAGS_EVENTCALLBACK;
    hr = IAudioClient_Initialize(w->client, AUDCLNT_SHAREMODE_SHARED,
                                 flags | AUDCLNT_STREAMFLAGS_AUTOCONVERTPCM |
                                 AUDCLNT_STREAMFLAGS_SRC_DEFAULT_QUALITY,
                                 BUFFER_HNS, 0, &want, NULL);
    w->kind = KIND_S16;
    w->channels = PVS_AUDIO_CHANNELS;
    if (FAILED(hr)) {
        /* Older Windows: the mix format as it is, if it is one we convert. */
        WAVEFORMATEX *mix = NULL;
        hr = IAudioClient_GetMixFormat(w->client, &mix);
        if (FAILED(hr) || !mix) {
            set_why(why, why_len, "the playback device has no mix format", hr);
            goto fail;
        }
        bool is_float = mix->wFormatTag == WAVE_FORMAT_IEEE_FLOAT;
        bool is_pcm = mix->wFormatTag == WAVE_FORMAT_PCM;
        if (mix->wFormatTag == WAVE_FORMAT_EXTENSIBLE && mix->cbSize >= 22) {
            const WAVEFORMATEXTENSIBLE *ext = (const WAVEFORMATEXTENSIBLE *)(const void *)mix;
            is_float = IsEqualGUID(&ext->SubFormat, &subtype_ieee_float);
            is_pcm = IsEqualGUID(&ext->SubFormat, &subtype_pcm);
        }
        bool ok = mix->nSamplesPerSec == PVS_AUDIO_RATE && mix->nChannels >= 2 &&
                  ((is_float && mix->wBitsPerSample == 32) || (is_pcm && mix->wBitsPerSample == 16));
        if (!ok) {
            if (why && why_len)
                snprintf(why, why_len,
                         "WASAPI loopback: the device mixes at %lu Hz, %u channels, %u bits, "
                         "and this Windows cannot convert it: set the device to 48000 Hz in "
                         "Sound settings: audio off",
                         (unsigned long)mix->nSamplesPerSec, mix->nChannels, mix->wBitsPerSample);
            CoTaskMemFree(mix);
            err = PVS_ENOTSUP;
            goto fail;
        }
        w->kind = is_float ? KIND_F32 : KIND_S16;
        w->channels = mix->nChannels;
        hr = IAudioClient_Initialize(w->client, AUDCLNT_SHAREMODE_SHARED, flags, BUFFER_HNS, 0,
                                     mix, NULL);
        CoTaskMemFree(mix);
        if (FAILED(hr)) {
            set_why(why, why_len, "loopback capture could not start", hr);
            goto fail;
        }
    }
    w->event = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!w->event) {
        set_why(why, why_len, "no event", HRESULT_FROM_WIN32(GetLastError()));
        goto fail;
    }
    hr = IAudioClient_SetEventHandle(w->client, w->event);
    if (SUCCEEDED(hr))
        hr = IAudioClient_GetService(w->client, &iid_iaudio_capture_client, (void **)&w->capture);
    if (SUCCEEDED(hr))
        hr = IAudioClient_Start(w->client);
    if (FAILED(hr)) {
        set_why(why, why_len, "loopback capture could not start", hr);
        goto fail;
    }
    w->last_data_ns = pvs_time_ns();
    PVS_LOG_I("audio: WASAPI loopback of the default playback device (%s)",
              w->kind == KIND_F32 ? "float, converted here" : "16-bit");
    *out = &w->base;
    return 0;

fail:
    wasapi_close(&base);
    return err;
}

static int wasapi_read(struct pvs_audio_source *s, struct pvs_audio_frame *f, int timeout_ms)
{
    struct wasapi *w = (struct wasapi *)s;
    size_t n = (size_t)w->o.frame_samples;
    int64_t frame_ns = (int64_t)n * 1000000000 / PVS_AUDIO_RATE;
    int64_t deadline = timeout_ms < 0 ? -1 : pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    int err = drain(w);
    if (err < 0)
        return err;
    while (w->fill < n) {
        int64_t now = pvs_time_ns();
        /* An idle endpoint sends nothing: after a frame and a half without
         * data, what is missing is silence. */
        if (now - w->last_data_ns > frame_ns * 3 / 2) {
            if (!w->head_known || w->fill == 0) {
                w->head_ns = now - frame_ns;
                w->head_known = true;
            }
            ring_push(w, NULL, n - w->fill);
            w->last_data_ns = now - frame_ns / 2;
            break;
        }
        if (deadline >= 0 && now >= deadline)
            return PVS_ETIMEDOUT;
        int64_t wait_ns = frame_ns;
        if (deadline >= 0 && deadline - now < wait_ns)
            wait_ns = deadline - now;
        WaitForSingleObject(w->event, (DWORD)(wait_ns / 1000000 + 1));
        err = drain(w);
        if (err < 0)
            return err;
    }
    if (w->fill > w->backlog + n) {
        size_t drop = (w->fill - w->backlog) / n * n;
        w->head = (w->head + drop) % w->cap;
        w->fill -= drop;
        w->position += drop;
        w->head_ns += (int64_t)drop * 1000000000 / PVS_AUDIO_RATE;
        w->base.stats.dropped += drop;
    }
    for (size_t done = 0; done < n;) {
        size_t run = w->cap - w->head < n - done ? w->cap - w->head : n - done;
        memcpy(w->out + done * PVS_AUDIO_CHANNELS, w->ring + w->head * PVS_AUDIO_CHANNELS,
               run * FRAME_BYTES);
        w->head = (w->head + run) % w->cap;
        done += run;
    }
    f->pcm = w->out;
    f->samples = (int)n;
    f->position = w->position;
    f->capture_ns = w->head_ns;
    w->base.stats.latency_ns = pvs_time_ns() - w->head_ns;
    w->fill -= n;
    w->position += n;
    w->head_ns += frame_ns;
    w->base.stats.frames++;
    return 0;
}

const struct pvs_audio_source_ops pvs_audio_wasapi = {
    .name = "wasapi",
    .description = "WASAPI loopback of the default playback device",
    .open = wasapi_open,
    .read = wasapi_read,
    .close = wasapi_close,
};
