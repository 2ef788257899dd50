/* Codecs and encoded packets: what travels from the encoder, through the
 * network, to the decoder. Kept in common/ so that net/ and client/ need not
 * include the encoder. */
#ifndef PVS_CODEC_H
#define PVS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pvs_codec {
    PVS_CODEC_H264 = 0,
    PVS_CODEC_HEVC,
    PVS_CODEC_AV1,
    PVS_CODEC_COUNT,
};

/* "h264", "hevc", "av1"; pvs_codec_from_name also takes "h265". Returns
 * PVS_EINVAL for an unknown name. */
const char *pvs_codec_name(enum pvs_codec c);
int pvs_codec_from_name(const char *name, enum pvs_codec *out);

/* One encoded frame (an access unit in Annex B / OBU form). */
struct pvs_packet {
    const uint8_t *data;
    size_t size;
    bool keyframe;        /* decodable on its own (IDR / key frame) */
    uint64_t frame;       /* frame number from the capture source */
    int64_t capture_ns;   /* when the frame was captured (pvs_time_ns) */
    int64_t submitted_ns; /* when the encoder was given the frame (pvs_time_ns;
                             0 where no encoder made it): an encoder that
                             holds frames back returns this packet later, and
                             the encode stage is from here to then */
};

#endif
