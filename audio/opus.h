/* Opus encoder and decoder for the stream: 48 kHz stereo,
 * OPUS_APPLICATION_RESTRICTED_LOWDELAY (CELT only: 2.5 ms of look-ahead, the
 * least Opus has), constant bit rate.
 *
 * Silence. A CBR encoder spends its full rate on digital silence (12,000
 * bytes/s at 96 kbit/s, and 200 packets/s of headers). The encoder here
 * gates instead: once PVS_OPUS_GATE_MS of frames have been digital silence
 * (every sample within +/-PVS_OPUS_SILENCE_LEVEL), it stops producing
 * packets until sound returns; the frames up to the gate are sent, marked
 * silent, so the receiver knows the quiet that follows is on purpose.
 * docs/audio.md compares this with plain CBR and with Opus's DTX.
 *
 * Opus's in-band FEC (LBRR) belongs to its SILK layer, which
 * RESTRICTED_LOWDELAY never uses: the setting is accepted and does nothing
 * there (docs/audio.md has the measurement). Loss is repaired by carrying
 * earlier frames again in later packets (audio/packet.h).
 *
 * Threading: one thread per handle. No allocation after open. */
#ifndef PVS_AUDIO_OPUS_H
#define PVS_AUDIO_OPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_OPUS_DEFAULT_BITRATE 96000
#define PVS_OPUS_MIN_BITRATE 6000
#define PVS_OPUS_MAX_BITRATE 510000
/* The largest Opus packet of one frame (RFC 6716, 3.4). */
#define PVS_OPUS_MAX_PACKET 1275
/* A frame is digital silence when no sample is further from zero than this
 * (-90 dBFS: dither of one bit still counts as silence). */
#define PVS_OPUS_SILENCE_LEVEL 1
/* Silence for this long closes the gate. Longer than the encoder's 2.5 ms
 * look-ahead and the decoder's overlap, so the last sound is sent whole
 * and the decoder has settled on silence before packets stop. */
#define PVS_OPUS_GATE_MS 20

enum pvs_opus_silence {
    PVS_OPUS_SILENCE_GATE = 0, /* send nothing after PVS_OPUS_GATE_MS of silence */
    PVS_OPUS_SILENCE_CBR,      /* encode silence like anything else */
    PVS_OPUS_SILENCE_DTX,      /* Opus's DTX: its 1- and 2-byte packets are not sent */
};

struct pvs_opus_config {
    int bitrate;           /* bits per second, 6000..510000; 0 = 96000 */
    int frame_samples;     /* per channel: 120, 240, 480, 960 (2.5 to 20 ms);
                              0 = 240 */
    bool inband_fec;       /* OPUS_SET_INBAND_FEC (see above) */
    int loss_percent;      /* OPUS_SET_PACKET_LOSS_PERC, 0..100 */
    int complexity;        /* 0..10; -1 = Opus's default (10) */
    enum pvs_opus_silence silence;
    /* Surround (Moonlight's 5.1 and 7.1): 3..8 channels as an Opus
     * multistream, with the arguments of opus_multistream_encoder_create;
     * pcm then holds `channels` interleaved samples per position. 0 (or 2):
     * stereo as one plain stream. */
    int channels;
    int streams, coupled;
    uint8_t mapping[8];
};

/* What became of one frame given to pvs_opus_encode(). */
struct pvs_opus_frame_info {
    bool silent;           /* the frame was digital silence */
    bool resumed;          /* the first packet after the gate was closed
                              (RTP's marker bit: a talkspurt begins) */
};

struct pvs_opus_enc_stats {
    uint64_t frames;       /* given to encode() */
    uint64_t packets;      /* of which became packets */
    uint64_t bytes;        /* Opus bytes in those packets */
    uint64_t gated;        /* frames not sent: gate closed or DTX */
};

struct pvs_opus_enc;
struct pvs_opus_dec;

/* Returns 0, PVS_EINVAL for a bad configuration, PVS_ENOMEM, or
 * PVS_EEXTERNAL (libopus refused; logged). `cfg` may be NULL (defaults). */
int pvs_opus_enc_open(struct pvs_opus_enc **out, const struct pvs_opus_config *cfg);
void pvs_opus_enc_close(struct pvs_opus_enc **e);

/* Encodes one frame of frame_samples * channels interleaved samples into out[cap]
 * (cap >= PVS_OPUS_MAX_PACKET is always enough). Returns the packet's
 * length (>= 1), 0 when nothing is to be sent for this frame (silence),
 * or a negative code. `info` may be NULL. */
int pvs_opus_encode(struct pvs_opus_enc *e, const int16_t *pcm, uint8_t *out, size_t cap,
                    struct pvs_opus_frame_info *info);

/* Changes the bit rate between frames. Returns 0 or PVS_EINVAL. */
int pvs_opus_enc_set_bitrate(struct pvs_opus_enc *e, int bitrate);
void pvs_opus_enc_get_stats(const struct pvs_opus_enc *e, struct pvs_opus_enc_stats *out);

/* A decoder for frames of frame_samples (0 = 240). */
int pvs_opus_dec_open(struct pvs_opus_dec **out, int frame_samples);
void pvs_opus_dec_close(struct pvs_opus_dec **d);

/* Decodes one packet into pcm (frame_samples * 2 values). pkt NULL (or len
 * 0) conceals a lost frame (Opus's packet loss concealment). Returns 0, or
 * PVS_EBADDATA for a packet libopus refuses or whose duration is not one
 * frame (pcm then holds concealment, so playback goes on). */
int pvs_opus_decode(struct pvs_opus_dec *d, const uint8_t *pkt, size_t len, int16_t *pcm);
/* Recovers the frame before `next` from next's in-band FEC data (Opus's
 * decode_fec); where next has none this is concealment. Returns as above. */
int pvs_opus_decode_fec(struct pvs_opus_dec *d, const uint8_t *next, size_t len, int16_t *pcm);

/* True when every sample of n * 2 is within +/-PVS_OPUS_SILENCE_LEVEL. */
bool pvs_opus_is_silence(const int16_t *pcm, int n);

#endif
