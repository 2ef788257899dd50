/* FFmpeg's D3D11VA hardware context around the capture's own D3D11 device
 * (Windows only): what lets an encoder take the captured picture as
 * AV_PIX_FMT_D3D11 frames, on the device it was captured on. The D3D11
 * types are declared as incomplete structs so that callers need no Windows
 * headers. */
#ifndef PVS_HW_D3D11_H
#define PVS_HW_D3D11_H

#include <stddef.h>

#include <libavutil/buffer.h>
#include <libavutil/frame.h>

struct ID3D11Device;
struct ID3D11Texture2D;

/* An AV_HWDEVICE_TYPE_D3D11VA device that uses `dev` (a reference is
 * taken). Returns 0, or PVS_ENODEV with the reason in `why` (a device
 * without video support: FFmpeg needs ID3D11VideoDevice). */
int pvs_hw_d3d11_device(AVBufferRef **out, struct ID3D11Device *dev, char *why, size_t why_len);

/* A fixed pool of `pool` NV12 frames of w x h on `device`, one texture
 * array made with the render-target binding, so the colour conversion can
 * draw into its slices (encode/d3d11_convert.h). Returns 0, or PVS_ENODEV
 * with the reason in `why`. */
int pvs_hw_d3d11_frames(AVBufferRef **out, AVBufferRef *device, int w, int h, int pool,
                        char *why, size_t why_len);

/* The texture and array slice of an AV_PIX_FMT_D3D11 frame. */
static inline void pvs_hw_d3d11_surface(const AVFrame *f, struct ID3D11Texture2D **tex, int *slice)
{
    *tex = (struct ID3D11Texture2D *)(void *)f->data[0];
    *slice = (int)(intptr_t)f->data[1];
}

#endif
