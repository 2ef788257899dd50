/* Video decoding for the client through libavcodec: a hardware decoder is
 * tried first where one is compiled in (VAAPI, VDPAU, CUDA on Linux;
 * D3D11VA, DXVA2 on Windows; VideoToolbox on macOS), software with slice
 * threads and AV_CODEC_FLAG_LOW_DELAY otherwise. A decoded frame keeps the
 * frame number and capture time of the packet it came from.
 *
 * Threading: one handle is used by one thread at a time. */
#ifndef PVS_DECODER_H
#define PVS_DECODER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/codec.h"
#include "common/image.h"

struct pvs_decoder_opts {
    enum pvs_codec codec;
    const char *hw;   /* "auto" (or NULL), "software", or a device type:
                         "vaapi", "vdpau", "cuda", "d3d11va", "dxva2",
                         "videotoolbox" */
    int threads;      /* software slice threads; 0 = one per core */
};

struct pvs_decoded {
    struct pvs_image img;  /* NV12 or I420 in system memory; valid until the
                              next decode call */
    uint64_t frame;        /* from the packet */
    int64_t capture_ns;    /* from the packet */
    bool keyframe;
};

struct pvs_decoder;

/* Returns 0, PVS_ENOTSUP when this libavcodec has no decoder for the codec,
 * PVS_ENODEV when a named hardware device cannot be opened, or another code. */
int pvs_decoder_open(struct pvs_decoder **out, const struct pvs_decoder_opts *o);
/* e.g. "h264 (software, 2 slice threads)" or "hevc (vaapi)". */
const char *pvs_decoder_describe(const struct pvs_decoder *d);
/* Decodes one packet. Returns 0 with the frame in `out`, PVS_EAGAIN when the
 * packet gave no frame, PVS_EBADDATA for a corrupt packet (the decoder stays
 * usable), or another negative code. */
int pvs_decoder_decode(struct pvs_decoder *d, const struct pvs_packet *pkt,
                       struct pvs_decoded *out);
/* Accepts NULL and clears the pointer. */
void pvs_decoder_close(struct pvs_decoder **d);

#endif
