/* Video encoding through libavcodec, at the lowest latency each encoder
 * allows.
 *
 * Every encoder of interest is data: a libavcodec name, its family (NVENC,
 * AMF, QSV, VAAPI, software) and that family's low-latency option table
 * (encode/lavc.c). "auto" probes the hardware families in order by encoding
 * one frame and falls back to software, logging why each one was skipped.
 *
 * Zero frame delay: pvs_encoder_encode() returns the packet of the frame it
 * was given before it returns; an encoder that holds a frame back is counted
 * (stats.delayed) and its packet comes out with a later call, carrying its
 * own frame's number, capture time and the time it was submitted.
 *
 * Threading: one handle is used by one thread at a time. */
#ifndef PVS_ENCODER_H
#define PVS_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/image.h"

struct ID3D11Device;    /* <d3d11.h>, declared so that no Windows header is needed */
struct ID3D11Texture2D;

struct pvs_encoder_opts {
    enum pvs_codec codec;
    int width, height;  /* even, at least 64x64 */
    int fps;            /* frames per second, 1..240 */
    int64_t bitrate;    /* bits per second; 0 = a default for the size and rate */
    int threads;        /* slice threads; 0 = one per core */
    bool frame_threads; /* thread by frame instead (benches, to compare: each
                           thread holds a frame back) */
    bool filler;        /* pad each packet with a filler-data NAL unit up to
                           one frame at the current bitrate (H.264 and HEVC;
                           benches that must fill a link) */
    struct ID3D11Device *d3d11_device; /* Windows: the capture's device, or NULL.
                           NVENC and AMF then take D3D11 textures on it, QSV
                           through a device derived from it: the zero-copy
                           path (pvs_encoder_gpu_input). Others, and any that
                           cannot, take system memory (logged). */
};

struct pvs_encoder_info {
    const char *name;   /* libavcodec encoder name, e.g. "h264_nvenc" */
    enum pvs_codec codec;
    const char *family; /* "nvenc", "amf", "qsv", "mf", "vaapi", "software" */
    bool hardware;
};

/* Every encoder of interest, in the order "auto" tries them: hardware
 * families first, software last. Ends with a NULL name. */
extern const struct pvs_encoder_info pvs_encoder_infos[];
const struct pvs_encoder_info *pvs_encoder_info_find(const char *name);

struct pvs_encoder_stats {
    uint64_t frames;   /* frames submitted */
    uint64_t packets;  /* packets returned */
    uint64_t keyframes;
    uint64_t delayed;  /* frames whose packet did not come out at once */
    uint64_t bytes;
};

struct pvs_encoder;

/* Opens encoder `name` (a libavcodec name from pvs_encoder_infos, or "auto"
 * for the first of o->codec that encodes a probe frame here). Returns 0,
 * PVS_ENOTSUP (not in this libavcodec build), PVS_ENODEV (no device or
 * driver for it), PVS_EINVAL (bad options), or PVS_EEXTERNAL. The reason is
 * logged. */
int pvs_encoder_open(struct pvs_encoder **out, const char *name,
                     const struct pvs_encoder_opts *o);

/* Tries to open `name` and encode one frame; on failure writes the reason in
 * `why` ("no NVIDIA driver (libnvidia-encode not found)"), on success the
 * input path (pvs_encoder_input_path). Returns 0 or the error
 * pvs_encoder_open would give. */
int pvs_encoder_probe(const char *name, const struct pvs_encoder_opts *o,
                      char *why, size_t why_len);

const char *pvs_encoder_name(const struct pvs_encoder *e);
const struct pvs_encoder_info *pvs_encoder_get_info(const struct pvs_encoder *e);

/* The picture to fill before the next pvs_encoder_encode(): NV12 or I420 at
 * the encoder's size, in the encoder's own buffer so that conversion writes
 * straight into it. Valid until the next encode call. */
struct pvs_image *pvs_encoder_input(struct pvs_encoder *e);

/* Encodes the picture in pvs_encoder_input(). `force_idr` makes it a keyframe.
 * Returns 0 with the packet in `out` (valid until the next call), PVS_EAGAIN
 * when the encoder gave no packet yet (counted in stats.delayed), or a
 * negative code. */
int pvs_encoder_encode(struct pvs_encoder *e, uint64_t frame, int64_t capture_ns,
                       bool force_idr, struct pvs_packet *out);

/* The zero-copy path: a texture of the encoder's own pool (an NV12 array
 * on the capture's device, made with the render-target binding) and the
 * slice to draw the next picture into; the next pvs_encoder_encode() sends
 * it instead of pvs_encoder_input()'s picture. Returns 0, PVS_ENOTSUP when
 * this encoder takes system memory (pvs_encoder_zero_copy() false), or
 * PVS_EEXTERNAL (no free texture: logged). */
int pvs_encoder_gpu_input(struct pvs_encoder *e, struct ID3D11Texture2D **tex, int *slice);
bool pvs_encoder_zero_copy(const struct pvs_encoder *e);
/* How pictures reach it, in words: "system memory", "D3D11 textures on
 * the capture's device (zero-copy)", or "system memory (not zero-copy:
 * REASON)". pvs_encoder_probe() writes the same into `why` on success. */
const char *pvs_encoder_input_path(const struct pvs_encoder *e);

/* Changes the bitrate for the next frames without re-opening. Returns 0, or
 * PVS_ENOTSUP when this encoder cannot (the caller re-opens it). */
int pvs_encoder_set_bitrate(struct pvs_encoder *e, int64_t bitrate);

void pvs_encoder_get_stats(const struct pvs_encoder *e, struct pvs_encoder_stats *out);

/* Accepts NULL and clears the pointer. */
void pvs_encoder_close(struct pvs_encoder **e);

#endif
