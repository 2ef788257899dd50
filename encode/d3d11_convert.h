/* BGRA -> NV12 on the GPU, in the capture's D3D11 device (Windows only).
 *
 * Two draw passes of a full-screen triangle: luma into an R8_UNORM target at
 * full size, chroma into an R8G8_UNORM target at half size, each chroma
 * sample from the 2x2 block it covers. The arithmetic is libyuv's (the same
 * integer coefficients, rounding and truncation, exact in float), so the
 * planes are what encode/convert.c makes on the CPU, bit for bit, and what
 * the encoder signals (BT.601 limited range unless told otherwise).
 *
 * Where the driver renders into NV12 (real Windows drivers; checked at open
 * with CheckFormatSupport) the passes write the two planes of an NV12
 * texture array through R8 / R8G8 views of it: that array is what an
 * encoder takes as AV_PIX_FMT_D3D11 (texture + slice). Elsewhere (Wine)
 * they write separate R8 and R8G8 textures, which only read-back uses.
 *
 * Threading: one handle is used by one thread at a time, the thread that
 * owns the device's immediate context (the video thread). The D3D11 types
 * are declared here as incomplete structs so that the header needs no
 * Windows headers; they are the COM interfaces of <d3d11.h>. */
#ifndef PVS_D3D11_CONVERT_H
#define PVS_D3D11_CONVERT_H

#include <stdbool.h>

#include "common/image.h"

struct ID3D11Device;
struct ID3D11DeviceContext;
struct ID3D11Texture2D;
struct pvs_pointer;

enum pvs_yuv_matrix {
    PVS_YUV_BT601 = 0, /* limited range: what libyuv and the encoder use */
    PVS_YUV_BT709,     /* limited range (libyuv's H709 coefficients) */
};

enum pvs_d3d11_convert_path {
    PVS_D3D11_PATH_NV12 = 0, /* R8 / R8G8 render-target views of an NV12 texture array */
    PVS_D3D11_PATH_PLANES,   /* separate R8 and R8G8 textures (no NV12 render targets) */
};

struct pvs_d3d11_convert_settings {
    int width, height;          /* of the BGRA input; odd sizes are padded to
                                   even in the output, as libyuv does it */
    enum pvs_yuv_matrix matrix; /* default PVS_YUV_BT601 */
    int surfaces;               /* output slices, used in turn (1..16, default 1):
                                   more let an encoder still read one while
                                   the next is drawn */
    bool planes_only;           /* never the NV12 path (tests, comparisons) */
    bool crop;                  /* inputs may be larger: their top-left
                                   width x height is converted (a desktop of
                                   odd size into an even-sized encoder) */
};

/* Where the last conversion went. Pointers are borrowed: valid until the
 * next pvs_d3d11_convert() or close; AddRef them to keep them. */
struct pvs_d3d11_output {
    enum pvs_d3d11_convert_path path;
    struct ID3D11Texture2D *nv12;   /* NV12 path: the texture array, else NULL */
    struct ID3D11Texture2D *luma;   /* planes path: R8 array, else NULL */
    struct ID3D11Texture2D *chroma; /* planes path: R8G8 array, else NULL */
    int slice;                      /* the array slice written */
    int width, height;              /* texture size: the input's, rounded up to even */
};

struct pvs_d3d11_convert;

void pvs_d3d11_convert_default_settings(struct pvs_d3d11_convert_settings *s);

/* Compiles the shaders and makes the targets on `dev` (whose immediate
 * context is used for drawing). Logs which path was taken. Returns 0,
 * PVS_EINVAL for bad settings, PVS_ENOTSUP when the device cannot do it
 * (feature level below 10_0), or PVS_EEXTERNAL when a D3D11 call failed
 * (logged with its HRESULT). */
int pvs_d3d11_convert_open(struct pvs_d3d11_convert **out, struct ID3D11Device *dev,
                           const struct pvs_d3d11_convert_settings *s);

/* Converts `bgra` (B8G8R8A8_UNORM, R8G8B8A8_UNORM or their TYPELESS forms,
 * of the size given at open) into the next output slice; `out` (may be NULL)
 * says where. A texture made with D3D11_BIND_SHADER_RESOURCE is read in
 * place and a view of it kept (so a reference) until another texture comes
 * or the handle closes; one without is copied first (Desktop Duplication's
 * textures may have no shader binding). Only queues GPU work. Returns 0,
 * PVS_EREINIT when the size differs from open's (is smaller, with crop), PVS_ENOTSUP for another
 * format, PVS_EEXTERNAL when a D3D11 call failed. Every call may also return
 * PVS_EREINIT when the device was removed or reset: make a new device and
 * open again. */
int pvs_d3d11_convert(struct pvs_d3d11_convert *c, struct ID3D11Texture2D *bgra,
                      struct pvs_d3d11_output *out);

/* Converts `bgra` (as for pvs_d3d11_convert()) into slice `slice` of
 * `target`: an NV12 texture (array) on the same device, made with
 * D3D11_BIND_RENDER_TARGET and at least the open size rounded up to even;
 * an encoder's own input frame (AV_PIX_FMT_D3D11). This is the zero-copy
 * path: the picture goes from the desktop to the encoder without leaving
 * video memory. The R8/R8G8 views of each (texture, slice) are made once
 * and kept, with a reference on the texture, until close. Returns as
 * pvs_d3d11_convert(), and PVS_ENOTSUP when `target` cannot be drawn into
 * (another format, no render-target binding, too small, or the driver
 * refuses R8/R8G8 views of NV12: then use the read-back path). */
int pvs_d3d11_convert_into(struct pvs_d3d11_convert *c, struct ID3D11Texture2D *bgra,
                           struct ID3D11Texture2D *target, int slice);

/* The pointer the next conversions draw over the picture, with its top-left
 * corner at (x, y) in frame pixels (may be partly off the frame); NULL (or
 * an empty shape) for none. The result is what pvs_pointer_composite()
 * draws on the CPU, bit for bit. The shape is uploaded again only when its
 * serial changes, so calling this every frame costs nothing when the
 * pointer did not change. Returns 0, or as pvs_d3d11_convert(). */
int pvs_d3d11_convert_set_pointer(struct pvs_d3d11_convert *c, const struct pvs_pointer *p,
                                  int x, int y);

/* Copies the last conversion's planes into `dst` (PVS_PIX_NV12 or I420 of
 * the open size) through staging textures, waiting for the GPU. For tests
 * and the CPU fallback; never on the GPU encode path. Returns 0,
 * PVS_EINVAL (nothing converted yet, wrong format or size), or
 * PVS_EEXTERNAL. */
int pvs_d3d11_convert_read(struct pvs_d3d11_convert *c, struct pvs_image *dst);

enum pvs_d3d11_convert_path pvs_d3d11_convert_path(const struct pvs_d3d11_convert *c);
/* "nv12" or "planes" */
const char *pvs_d3d11_convert_path_name(enum pvs_d3d11_convert_path p);

/* Accepts NULL and clears the pointer. */
void pvs_d3d11_convert_close(struct pvs_d3d11_convert **c);

#endif
