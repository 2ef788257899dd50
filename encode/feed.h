/* feed: a captured frame into an encoder's input, by the shortest way the
 * two allow.
 *
 * - A frame in system memory (X11, GDI, testsrc, Desktop Duplication
 *   without GPU frames): libyuv into the encoder's own buffer
 *   (encode/convert.h).
 * - A GPU frame (Desktop Duplication's texture, capture/capture.h) and an
 *   encoder that takes D3D11 textures: the shader draws the picture and the
 *   pointer into the encoder's own texture (pvs_encoder_gpu_input). Nothing
 *   leaves video memory: the zero-copy path.
 * - A GPU frame and an encoder that takes system memory (software, Media
 *   Foundation, a hardware encoder that refused the device): the shader
 *   converts on the GPU and the NV12 result is read back (1.5 bytes a pixel
 *   instead of the 4 of BGRA), into the encoder's buffer.
 *
 * The path is chosen at the first frame and said in one log line; figures
 * per stage (convert, submit) come from the caller's clock around
 * pvs_feed_frame() and pvs_encoder_encode().
 *
 * Threading: one handle per video thread, the thread that owns the
 * capture's device context. */
#ifndef PVS_FEED_H
#define PVS_FEED_H

#include "capture/capture.h"
#include "encode/encoder.h"

struct pvs_feed;

enum pvs_feed_path {
    PVS_FEED_CPU = 0,   /* libyuv on the CPU */
    PVS_FEED_ZERO_COPY, /* GPU conversion into the encoder's texture */
    PVS_FEED_READBACK,  /* GPU conversion, read back into system memory */
};

/* Makes a feed for frames of width x height (even) from `cap` into `enc`.
 * Returns 0, PVS_ENOTSUP when the capture hands out GPU frames that cannot
 * be converted here (a device below feature level 10_0: open the capture
 * again without gpu_frames), PVS_EINVAL, PVS_ENOMEM or PVS_EEXTERNAL. */
int pvs_feed_open(struct pvs_feed **out, struct pvs_capture *cap, struct pvs_encoder *enc,
                  int width, int height);

/* Puts frame `f` into the encoder's input for its next
 * pvs_encoder_encode(). Returns 0, PVS_EREINIT (the GPU device was lost or
 * the size changed: re-open capture, encoder and feed), or another code. */
int pvs_feed_frame(struct pvs_feed *fd, const struct pvs_frame *f);

enum pvs_feed_path pvs_feed_path(const struct pvs_feed *fd);
/* "CPU conversion", "GPU conversion into the encoder's texture (zero-copy)",
 * "GPU conversion, read back" */
const char *pvs_feed_path_name(enum pvs_feed_path p);

/* Accepts NULL and clears the pointer. */
void pvs_feed_close(struct pvs_feed **fd);

#endif
