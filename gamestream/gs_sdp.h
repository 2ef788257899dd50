/* The two SDP bodies of a GameStream RTSP handshake (docs/gamestream.md,
 * "RTSP and control"): the host's DESCRIBE answer, from which Moonlight
 * learns the codecs and features the host offers, and the client's
 * ANNOUNCE, which says what stream it wants (size, rate, bitrate, packet
 * size, codec, colour, audio, encryption).
 *
 * What Moonlight reads in DESCRIBE (fact from moonlight-common-c
 * src/RtspConnection.c, performRtspHandshake): the text "AV1/90000" (AV1
 * offered), "sprop-parameter-sets=AAAAAU" (HEVC offered: GFE's base64 VPS
 * prefix; H.264 is always assumed), "x-nv-video[0].refPicInvalidation"
 * (reference frame invalidation), the numbers after
 * "x-ss-general.featureFlags", "x-ss-general.encryptionSupported" and
 * "x-ss-general.encryptionRequested", and for surround sound
 * "a=fmtp:97 surround-params=" lines. Nothing else.
 *
 * What it sends in ANNOUNCE: one "a=NAME:VALUE " line per setting (fact
 * from src/SdpGenerator.c); pvs_gs_sdp_parse_announce reads the ones a host
 * acts on and ignores the rest.
 *
 * Pure functions: no I/O, no allocation. */
#ifndef PVS_GS_SDP_H
#define PVS_GS_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Codec bits of pvs_gs_sdp_host.codecs, and the codec an ANNOUNCE asks
 * for (x-nv-vqos[0].bitStreamFormat: 0, 1, 2). */
#define PVS_GS_CODEC_H264 0x1u
#define PVS_GS_CODEC_HEVC 0x2u
#define PVS_GS_CODEC_AV1 0x4u

/* Encryption bits of x-ss-general.encryption{Supported,Requested,Enabled}
 * (fact from src/Limelight-internal.h, SS_ENC_*). */
#define PVS_GS_ENC_CONTROL_V2 0x01u  /* the control stream's 12-byte IVs */
#define PVS_GS_ENC_VIDEO 0x02u
#define PVS_GS_ENC_AUDIO 0x04u

/* x-ss-general.featureFlags (src/Limelight.h, LI_FF_*): a host that sets
 * these gets the client's touch and pen events instead of the mouse it
 * would otherwise emulate from them. */
#define PVS_GS_FF_PEN_TOUCH 0x01u
#define PVS_GS_FF_CONTROLLER_TOUCH 0x02u

/* x-ml-general.featureFlags (src/Limelight-internal.h, ML_FF_*). */
#define PVS_GS_MLFF_FEC_STATUS 0x01u  /* the client sends per-frame FEC status */
#define PVS_GS_MLFF_SESSION_ID 0x02u  /* it uses X-SS-Ping-Payload and X-SS-Connect-Data */

/* One Opus multistream layout for surround sound, as the "surround-params"
 * digits carry it: channels, streams, coupled streams, then one mapping
 * digit per channel (every number 0..9). */
#define PVS_GS_SURROUND_MAX 4
struct pvs_gs_opus_layout {
    uint8_t channels;            /* 3..8 (stereo needs no line) */
    uint8_t streams;
    uint8_t coupled;
    uint8_t mapping[8];
};

/* What the host offers: filled by the caller from the encoder probe and
 * the configuration. */
struct pvs_gs_sdp_host {
    uint32_t codecs;             /* PVS_GS_CODEC_*; clients assume H.264 whatever this says */
    bool hdr;                    /* 10-bit encoding (Main10) */
    bool yuv444;                 /* 4:4:4 encoding */
    bool rfi;                    /* the encoder can invalidate reference frames */
    uint32_t feature_flags;      /* PVS_GS_FF_*: 0 unless touch and pen can be injected */
    uint32_t encryption_supported; /* PVS_GS_ENC_*: CONTROL_V2; VIDEO, AUDIO where implemented */
    uint32_t encryption_requested; /* PVS_GS_ENC_*: what the client must turn on */
    uint16_t video_port;         /* for the "m=video" line only (SETUP gives the real port) */
    uint16_t audio_port;
    /* Surround layouts, normal quality first: for each channel count the
     * client takes the first line as normal quality and a second, if any,
     * as high quality. */
    uint8_t surround_count;
    struct pvs_gs_opus_layout surround[PVS_GS_SURROUND_MAX];
};

/* The stream an ANNOUNCE asks for. Fields a client left out keep the
 * defaults pvs_gs_sdp_parse_announce sets first (said below). */
struct pvs_gs_stream_config {
    uint16_t width;              /* x-nv-video[0].clientViewportWd: 1..16384, required */
    uint16_t height;             /* ...clientViewportHt: 1..16384, required */
    uint16_t fps;                /* ...maxFPS: 1..1000, required */
    uint32_t refresh_x100;       /* ...clientRefreshRateX100: the client's display; 0 not said */
    /* ...packetSize: video payload bytes per datagram after the RTP and
     * video headers (the client already took 32 bytes off for the
     * encryption header when video is encrypted): 64..65000, required. */
    uint16_t packet_size;
    uint32_t bitrate_kbps;       /* ...initialBitrateKbps: the encoder's (80 % of the user's) */
    uint32_t peak_bitrate_kbps;  /* ...initialPeakBitrateKbps; 0 not said */
    uint32_t configured_kbps;    /* x-ml-video.configuredBitrateKbps: the user's; 0 not said */
    uint32_t codec;              /* PVS_GS_CODEC_* from bitStreamFormat; default H.264 */
    bool hdr;                    /* x-nv-video[0].dynamicRangeMode 1: 10-bit */
    bool yuv444;                 /* x-ss-video[0].chromaSamplingType 1 */
    uint8_t color_space;         /* encoderCscMode >> 1: 0 Rec. 601 (default), 1 709, 2 2020 */
    bool full_range;             /* encoderCscMode & 1 */
    uint8_t slices;              /* videoEncoderSlicesPerFrame; default 1 */
    uint8_t max_ref_frames;      /* maxNumReferenceFrames: 0 the codec's most, 1 one (default 0) */
    int16_t fec_percent;         /* x-nv-vqos[0].fec.repairPercent (older clients); -1 not said */
    uint8_t fec_min_packets;     /* x-nv-vqos[0].fec.minRequiredFecPackets; 0 not said */
    uint32_t encryption;         /* x-ss-general.encryptionEnabled: PVS_GS_ENC_* */
    uint32_t ml_features;        /* x-ml-general.featureFlags: PVS_GS_MLFF_* */
    uint32_t nv_features;        /* x-nv-general.featureFlags (0x20: GFE-style audio encryption) */
    uint8_t audio_channels;      /* x-nv-audio.surround.numChannels: 1..8, default 2 */
    uint16_t audio_channel_mask; /* ...channelMask; default 0x3 */
    bool audio_high_quality;     /* ...AudioQuality 1 */
    uint8_t audio_packet_ms;     /* x-nv-aqos.packetDuration: 1..100, default 5 */
    uint8_t video_qos;           /* x-nv-vqos[0].qosTrafficType (5: mark the traffic, 0: do not) */
    uint8_t audio_qos;           /* x-nv-aqos.qosTrafficType (4 or 0) */
};

/* The largest DESCRIBE body pvs_gs_sdp_describe writes. */
#define PVS_GS_SDP_DESCRIBE_MAX 2048

/* Writes the DESCRIBE body for `host` into out (NUL-terminated). Returns
 * its length, or PVS_EINVAL (a surround layout out of range) or PVS_ERANGE
 * (cap too small; PVS_GS_SDP_DESCRIBE_MAX always suffices). */
int pvs_gs_sdp_describe(const struct pvs_gs_sdp_host *host, char *out, size_t cap);

/* Reads an ANNOUNCE body of len bytes (need not be NUL-terminated). Lines
 * end in CRLF or LF; each "a=" line is NAME:VALUE, the value trimmed of
 * spaces. Unknown names are ignored; a known one with a value that is not a
 * number in range makes the whole body malformed, as does a missing
 * required field, a NUL byte, or a line over 512 bytes. Returns 0 with
 * *out filled, or PVS_EBADDATA (out then holds only defaults and what was
 * read before the fault). */
int pvs_gs_sdp_parse_announce(const char *body, size_t len, struct pvs_gs_stream_config *out);

/* "H.264", "HEVC", "AV1" for one PVS_GS_CODEC_* bit, "?" otherwise. */
const char *pvs_gs_codec_name(uint32_t codec);

#endif
