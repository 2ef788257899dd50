/* Moonlight's audio packets: Opus packets become the RTP datagrams a
 * Moonlight client plays from port 48000, with its Reed-Solomon FEC (two
 * parity packets after every four audio packets) and, when asked, AES-CBC
 * encryption of each Opus packet. Also here: the Opus multistream layouts
 * the host offers for 5.1 and 7.1, as data for whoever opens the encoder
 * and writes the SDP (docs/gamestream.md, "Video and audio packets").
 *
 * Facts from the client (moonlight-common-c src/AudioStream.c,
 * src/RtpAudioQueue.c, src/RtspConnection.c):
 * - RTP header of 12 bytes, no extension; payload type 97 for audio,
 *   127 for FEC; the timestamp counts milliseconds (it advances by the
 *   packet duration, 5 or 10 ms);
 * - an FEC block is the 4 audio packets with sequence numbers 4n..4n+3,
 *   so block boundaries follow the sequence number; all 4 payloads of a
 *   block must have the same length (hard-CBR Opus without DTX does), or
 *   the client gives up FEC for the rest of the session; this module then
 *   sends no parity for that block and counts it;
 * - a datagram is at most 1,400 bytes (the client's receive buffer).
 *
 * Threading: one thread per struct pvs_gs_audio. */
#ifndef PVS_GS_AUDIO_H
#define PVS_GS_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_GS_AUDIO_RTP_BYTES 12
#define PVS_GS_AUDIO_FEC_HEADER_BYTES 12
#define PVS_GS_AUDIO_PT 97
#define PVS_GS_AUDIO_FEC_PT 127
#define PVS_GS_AUDIO_DATA_SHARDS 4
#define PVS_GS_AUDIO_FEC_SHARDS 2
#define PVS_GS_AUDIO_MAX_DATAGRAM 1400
/* The largest payload (Opus packet, or its ciphertext) that leaves room
 * for the FEC header in a parity datagram. */
#define PVS_GS_AUDIO_MAX_PAYLOAD \
    (PVS_GS_AUDIO_MAX_DATAGRAM - PVS_GS_AUDIO_RTP_BYTES - PVS_GS_AUDIO_FEC_HEADER_BYTES)
#define PVS_GS_AUDIO_KEY_BYTES 16
#define PVS_GS_AUDIO_MAX_CHANNELS 8

struct pvs_gs_audio_config {
    int packet_ms;                 /* x-nv-aqos.packetDuration: 5 or 10 */
    /* The client asked for audio encryption: bit 0x20 of
     * x-nv-general.featureFlags, or SS_ENC_AUDIO (0x04) enabled. */
    bool encrypt;
    uint8_t key[PVS_GS_AUDIO_KEY_BYTES];  /* the launch's rikey */
    /* The launch's rikeyid. The client writes it as a signed decimal;
     * pass its 32 bits (a negative value cast to uint32_t). */
    uint32_t rikeyid;
    uint32_t ssrc;
    uint16_t first_seq;            /* rounded down to a multiple of 4 */
    uint32_t first_timestamp;
};

/* The datagrams of one call: the audio packet and, when it closed an FEC
 * block, the block's two parity packets. Valid until the next call. */
struct pvs_gs_audio_out {
    const uint8_t *data[1 + PVS_GS_AUDIO_FEC_SHARDS];
    size_t len[1 + PVS_GS_AUDIO_FEC_SHARDS];
    int count;
};

struct pvs_gs_audio_stats {
    uint64_t packets;
    uint64_t fec_packets;
    uint64_t fec_skipped;          /* blocks without parity: payload sizes differed */
};

struct pvs_gs_audio;

/* Returns 0, PVS_EINVAL (packet_ms not 5 or 10, NULL), PVS_ENOMEM or
 * PVS_EEXTERNAL (the cipher). */
int pvs_gs_audio_open(struct pvs_gs_audio **out, const struct pvs_gs_audio_config *cfg);

/* Frees it and wipes the key; accepts NULL and *a == NULL, clears *a. */
void pvs_gs_audio_close(struct pvs_gs_audio **a);

/* Packetizes one Opus packet (one packet_ms of audio). Returns 0;
 * PVS_EINVAL for an empty packet or NULL pointers; PVS_ERANGE when the
 * payload (after encryption's padding) is over PVS_GS_AUDIO_MAX_PAYLOAD
 * (nothing is sent, no sequence number used); PVS_EEXTERNAL when
 * encryption fails. */
int pvs_gs_audio_packetize(struct pvs_gs_audio *a, const uint8_t *opus, size_t len,
                           struct pvs_gs_audio_out *out);

void pvs_gs_audio_get_stats(const struct pvs_gs_audio *a, struct pvs_gs_audio_stats *out);

/* ---- channel layouts ------------------------------------------------------ */

/* An Opus multistream layout, the arguments of
 * opus_multistream_encoder_create(48000, channels, streams, coupled,
 * mapping, application, &error). The input's channel order is the
 * client's: FL FR C LFE RL RR SL SR (stereo: FL FR; 5.1: the first six),
 * the order PulseAudio and WASAPI use for these layouts. */
struct pvs_gs_opus_config {
    int channels;
    int streams;
    int coupled;
    uint8_t mapping[PVS_GS_AUDIO_MAX_CHANNELS];
    int bitrate;                   /* bits per second this host encodes at */
    uint32_t channel_mask;         /* the client's mask for this layout */
};

/* The channel count of the launch's surroundAudioInfo (mask << 16 |
 * channels): 2, 6 or 8, or PVS_EINVAL for another count or mask. */
int pvs_gs_audio_channels(uint32_t surround_audio_info);

/* The layout for 2, 6 or 8 channels. high_quality (the client sent
 * x-nv-audio.surround.AudioQuality=1, which it only does for 6 and 8
 * channels and only when DESCRIBE offered a second layout) codes every
 * channel as its own stream at a high rate; the client then always uses
 * 5 ms packets. Returns 0 or PVS_EINVAL. */
int pvs_gs_audio_opus_config(int channels, bool high_quality, struct pvs_gs_opus_config *out);

/* The mapping digits DESCRIBE's "a=fmtp:97 surround-params=" line must
 * carry for c (after the channel, stream and coupled-stream digits) so that
 * the client ends up decoding with c->mapping. For normal quality with 6
 * or 8 channels the client takes the wire's last digit as LFE's (GFE lists
 * LFE last) and moves it to position 3; this undoes that. Offer, in this
 * order, 6 channels normal then high quality, then 8 channels normal then
 * high quality: for each count the client takes the first line as normal
 * quality and the second as high quality. Stereo needs no line. */
void pvs_gs_audio_sdp_mapping(const struct pvs_gs_opus_config *c, bool high_quality,
                              uint8_t out[PVS_GS_AUDIO_MAX_CHANNELS]);

#endif
