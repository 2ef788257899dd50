/* A clip: the test desktop encoded once into memory, so that the transport
 * can be measured and tested on real encoded frames (their real sizes, the
 * keyframe's burst) at any rate, without the encoder's time in the loop.
 * Frame 0 is a keyframe; the rest are whatever the encoder made of the
 * content (P frames with an infinite GOP).
 *
 * A measuring aid, so it lives with the bench (pvstream-bench net) and the
 * loopback test links it from here (bench/meson.build's pvs_clip): in encode/
 * it would make the encoder layer reach into capture/. */
#ifndef PVS_CLIP_H
#define PVS_CLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "encode/encoder.h"

struct pvs_clip_frame {
    uint8_t *data;
    size_t size;
    bool keyframe;
};

struct pvs_clip {
    struct pvs_clip_frame *frames;
    int count;
    uint64_t bytes;               /* all frames together */
    char encoder[64];             /* the encoder that made it */
};

/* Encodes `frames` frames of test desktop `content` with `encoder` ("auto" or
 * a name) at eo's size, rate and bitrate. Prints progress on stderr when
 * `progress` and stderr is a terminal. Returns 0 or a negative code (the log
 * says what failed); on failure the clip is empty. */
int pvs_clip_record(struct pvs_clip *clip, const char *encoder, const struct pvs_encoder_opts *eo,
                    enum pvs_content content, int frames, bool progress);

/* Frees the frames; the clip is empty after. Accepts an empty clip. */
void pvs_clip_free(struct pvs_clip *clip);

#endif
