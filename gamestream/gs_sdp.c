/* GameStream's SDP bodies: the DESCRIBE answer and the ANNOUNCE parser
 * (gamestream/gs_sdp.h). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "gamestream/gs_sdp.h"
#include "gamestream/gs_text.h"

const char *pvs_gs_codec_name(uint32_t codec)
{
    switch (codec) {
    case PVS_GS_CODEC_H264: return "H.264";
    case PVS_GS_CODEC_HEVC: return "HEVC";
    case PVS_GS_CODEC_AV1: return "AV1";
    }
    return "?";
}

/* ---- DESCRIBE --------------------------------------------------------------- */

static bool layout_ok(const struct pvs_gs_opus_layout *l)
{
    if (l->channels < 3 || l->channels > 8 || l->streams > 9 || l->coupled > 9)
        return false;
    for (int i = 0; i < l->channels; i++)
        if (l->mapping[i] > 9)
            return false;
    return true;
}

int pvs_gs_sdp_describe(const struct pvs_gs_sdp_host *host, char *out, size_t cap)
{
    if (!host || !out || cap == 0 || host->surround_count > PVS_GS_SURROUND_MAX)
        return PVS_EINVAL;
    for (int i = 0; i < host->surround_count; i++)
        if (!layout_ok(&host->surround[i]))
            return PVS_EINVAL;
    struct pvs_gs_text w;
    pvs_gs_text_init(&w, out, cap);

    /* Session-level attributes first: the client finds each by the first
     * occurrence of its name anywhere in the body. */
    pvs_gs_textf(&w, "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=pvstream\r\nt=0 0\r\n");
    pvs_gs_textf(&w, "a=x-ss-general.featureFlags:%u\r\n", (unsigned)host->feature_flags);
    pvs_gs_textf(&w, "a=x-ss-general.encryptionSupported:%u\r\n",
                 (unsigned)host->encryption_supported);
    pvs_gs_textf(&w, "a=x-ss-general.encryptionRequested:%u\r\n",
                 (unsigned)host->encryption_requested);
    if (host->rfi)
        pvs_gs_textf(&w, "a=x-nv-video[0].refPicInvalidation:1\r\n");

    pvs_gs_textf(&w, "m=video %u RTP/AVP 96 98 99\r\n", (unsigned)host->video_port);
    pvs_gs_textf(&w, "a=rtpmap:96 H264/90000\r\n");
    if (host->codecs & PVS_GS_CODEC_HEVC) {
        /* Moonlight tells HEVC by this exact text: the start of a VPS NAL
         * unit (00 00 00 01 40) in base64, as GFE sends it. */
        pvs_gs_textf(&w, "a=rtpmap:98 H265/90000\r\n");
        pvs_gs_textf(&w, "a=fmtp:98 sprop-parameter-sets=AAAAAUAMAf//\r\n");
    }
    if (host->codecs & PVS_GS_CODEC_AV1)
        pvs_gs_textf(&w, "a=rtpmap:99 AV1/90000\r\n");

    pvs_gs_textf(&w, "m=audio %u RTP/AVP 97\r\na=rtpmap:97 opus/48000/2\r\n",
                 (unsigned)host->audio_port);
    for (int i = 0; i < host->surround_count; i++) {
        const struct pvs_gs_opus_layout *l = &host->surround[i];
        pvs_gs_textf(&w, "a=fmtp:97 surround-params=%u%u%u", (unsigned)l->channels,
            (unsigned)l->streams, (unsigned)l->coupled);
        for (int c = 0; c < l->channels; c++)
            pvs_gs_textf(&w, "%u", (unsigned)l->mapping[c]);
        pvs_gs_textf(&w, "\r\n");
    }
    return w.full ? PVS_ERANGE : (int)w.n;
}

/* ---- ANNOUNCE ---------------------------------------------------------------- */

enum kind { U8, U16, U32, I16, BOOL, CODEC, CSC };

struct field {
    const char *name;
    enum kind kind;
    size_t offset;
    uint32_t min, max;
    bool required;
};

#define F(name, kind, member, min, max, req) \
    {name, kind, offsetof(struct pvs_gs_stream_config, member), min, max, req}

/* Names and meanings: fact from moonlight-common-c src/SdpGenerator.c. */
static const struct field fields[] = {
    F("x-nv-video[0].clientViewportWd", U16, width, 1, 16384, true),
    F("x-nv-video[0].clientViewportHt", U16, height, 1, 16384, true),
    F("x-nv-video[0].maxFPS", U16, fps, 1, 1000, true),
    F("x-nv-video[0].clientRefreshRateX100", U32, refresh_x100, 0, 100000, false),
    F("x-nv-video[0].packetSize", U16, packet_size, 64, 65000, true),
    F("x-nv-video[0].initialBitrateKbps", U32, bitrate_kbps, 1, 10000000, true),
    F("x-nv-video[0].initialPeakBitrateKbps", U32, peak_bitrate_kbps, 0, 10000000, false),
    F("x-ml-video.configuredBitrateKbps", U32, configured_kbps, 0, 10000000, false),
    F("x-nv-vqos[0].bitStreamFormat", CODEC, codec, 0, 2, false),
    F("x-nv-video[0].dynamicRangeMode", BOOL, hdr, 0, 1, false),
    F("x-ss-video[0].chromaSamplingType", BOOL, yuv444, 0, 1, false),
    F("x-nv-video[0].encoderCscMode", CSC, color_space, 0, 5, false),
    F("x-nv-video[0].videoEncoderSlicesPerFrame", U8, slices, 1, 255, false),
    F("x-nv-video[0].maxNumReferenceFrames", U8, max_ref_frames, 0, 16, false),
    F("x-nv-vqos[0].fec.repairPercent", I16, fec_percent, 0, 255, false),
    F("x-nv-vqos[0].fec.minRequiredFecPackets", U8, fec_min_packets, 0, 255, false),
    F("x-ss-general.encryptionEnabled", U32, encryption, 0, UINT32_MAX, false),
    F("x-ml-general.featureFlags", U32, ml_features, 0, UINT32_MAX, false),
    F("x-nv-general.featureFlags", U32, nv_features, 0, UINT32_MAX, false),
    F("x-nv-audio.surround.numChannels", U8, audio_channels, 1, 8, false),
    F("x-nv-audio.surround.channelMask", U16, audio_channel_mask, 0, 65535, false),
    F("x-nv-audio.surround.AudioQuality", BOOL, audio_high_quality, 0, 1, false),
    F("x-nv-aqos.packetDuration", U8, audio_packet_ms, 1, 100, false),
    F("x-nv-vqos[0].qosTrafficType", U8, video_qos, 0, 255, false),
    F("x-nv-aqos.qosTrafficType", U8, audio_qos, 0, 255, false),
};
#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))
#define LINE_MAX_BYTES 512

static void defaults(struct pvs_gs_stream_config *c)
{
    memset(c, 0, sizeof(*c));
    c->codec = PVS_GS_CODEC_H264;
    c->slices = 1;
    c->fec_percent = -1;
    c->audio_channels = 2;
    c->audio_channel_mask = 0x3;
    c->audio_packet_ms = 5;
}

/* A decimal number of at most 10 digits (the client writes its values with
 * %d and %u), nothing else. */
static bool parse_number(const char *s, size_t n, uint32_t *out)
{
    if (n == 0 || n > 10)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

static void store(struct pvs_gs_stream_config *c, const struct field *f, uint32_t v)
{
    char *base = (char *)c + f->offset;
    switch (f->kind) {
    case U8: *(uint8_t *)base = (uint8_t)v; break;
    case U16: *(uint16_t *)base = (uint16_t)v; break;
    case U32: *(uint32_t *)base = v; break;
    case I16: *(int16_t *)base = (int16_t)v; break;
    case BOOL: *(bool *)base = v != 0; break;
    case CODEC:
        c->codec = v == 0 ? PVS_GS_CODEC_H264 : v == 1 ? PVS_GS_CODEC_HEVC : PVS_GS_CODEC_AV1;
        break;
    case CSC: /* (colour space << 1) | range; spaces 0..2 */
        c->color_space = (uint8_t)(v >> 1);
        c->full_range = (v & 1) != 0;
        break;
    }
}

/* One "a=name:value" line (without its end). Returns false when it names a
 * field with a bad value; *seen gets the field's bit. */
static bool parse_line(const char *s, size_t n, struct pvs_gs_stream_config *c, uint32_t *seen)
{
    if (n < 2 || s[0] != 'a' || s[1] != '=')
        return true; /* v=, o=, s=, t=, m= lines: nothing a host reads */
    s += 2;
    n -= 2;
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return true;
    size_t name_len = (size_t)(colon - s);
    const char *v = colon + 1;
    size_t vn = n - name_len - 1;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    for (size_t i = 0; i < FIELD_COUNT; i++) {
        const struct field *f = &fields[i];
        if (strlen(f->name) != name_len || memcmp(f->name, s, name_len) != 0)
            continue;
        uint32_t val;
        if (!parse_number(v, vn, &val) || val < f->min || val > f->max)
            return false;
        store(c, f, val);
        *seen |= 1u << i;
        return true;
    }
    return true;
}

int pvs_gs_sdp_parse_announce(const char *body, size_t len, struct pvs_gs_stream_config *out)
{
    if (!out)
        return PVS_EINVAL;
    defaults(out);
    if (!body)
        return PVS_EBADDATA;
    if (memchr(body, '\0', len))
        return PVS_EBADDATA;
    uint32_t seen = 0;
    size_t at = 0;
    while (at < len) {
        const char *line = body + at;
        const char *nl = memchr(line, '\n', len - at);
        size_t n = nl ? (size_t)(nl - line) : len - at;
        at += n + (nl ? 1 : 0);
        if (n && line[n - 1] == '\r')
            n--;
        if (n > LINE_MAX_BYTES || !parse_line(line, n, out, &seen))
            return PVS_EBADDATA;
    }
    for (size_t i = 0; i < FIELD_COUNT; i++)
        if (fields[i].required && !(seen & (1u << i)))
            return PVS_EBADDATA;
    if (out->color_space > 2)
        return PVS_EBADDATA;
    return 0;
}
