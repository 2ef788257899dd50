/* Capture: where frames come from.
 *
 * A backend is a const table of callbacks (struct pvs_capture_ops) and keeps
 * all its state in its handle, so several can run at once. The registry lists
 * the backends compiled in, in order of preference; "auto" opens the first
 * that works and logs why each one before it was skipped.
 *
 * Threading: one handle is used by one thread at a time (the video thread).
 * Frames come out as BGRA in system memory, valid until release(), or, from
 * a backend opened with gpu_frames that can, as a D3D11 texture on the
 * backend's device (pvs_capture_d3d11_device()) with the pointer to draw
 * over it: the zero-copy path (encode/feed.h). */
#ifndef PVS_CAPTURE_H
#define PVS_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/image.h"

struct ID3D11Device;    /* <d3d11.h>: declared here so no Windows header is needed */
struct ID3D11Texture2D;
struct pvs_pointer;

enum pvs_content {
    PVS_CONTENT_STATIC = 0, /* nothing moves but the stamp */
    PVS_CONTENT_DESKTOP,    /* scrolling text, gradients, a moving cursor */
    PVS_CONTENT_GAME,       /* full-screen motion every frame */
};

/* testsrc takes even sizes from 128x96 to this. */
#define PVS_TESTSRC_MAX_WIDTH  7680
#define PVS_TESTSRC_MAX_HEIGHT 4320

struct pvs_capture_opts {
    int width, height;          /* testsrc: frame size, 0 = 1920x1080; x11: 0 =
                                   the whole screen, less = its top-left corner */
    int fps;                    /* frames per second; 0 = 60 (x11: the display's
                                   refresh rate when RandR says, else 60) */
    enum pvs_content content;   /* testsrc only */
    const char *display;        /* x11: display name; NULL = $DISPLAY */
    int output;                 /* dxgi: the Nth attached output, counted from 1
                                   over all adapters; 0 = the default (the primary
                                   output of an adapter that can encode) */
    bool gpu_frames;            /* dxgi: hand out frames as D3D11 textures (the
                                   caller converts on the GPU); others ignore it */
    int repeat_ms;              /* x11 (frames on change): with nothing changed,
                                   the last picture again this often, 0..3600000;
                                   0 = 1000 (as dxgi), 1 = every frame interval
                                   (paced, as testsrc). Others ignore it */
};

struct pvs_frame {
    struct pvs_image img;  /* BGRA */
    uint64_t number;       /* 0, 1, 2...; skips numbers when deadlines were missed */
    int64_t due_ns;        /* when this frame was due (paced sources) */
    int64_t capture_ns;    /* when it was captured; the stamp carries this */
    bool changed;          /* false when identical to the previous frame but for the stamp */
    bool keyframe;         /* the source was re-created: encode this frame as a keyframe
                              (backends that never re-create leave it false) */
    /* GPU frames (gpu_frames): img has the size and format but no pixels
     * (data[0] NULL); the picture is `texture`, BGRA on the backend's
     * device, without the pointer, which is drawn over it at (pointer_x,
     * pointer_y) when `pointer` is set. The texture is the backend's own
     * and shows the newest desktop after the next next(): convert before
     * asking for another frame. */
    struct ID3D11Texture2D *texture;
    const struct pvs_pointer *pointer;
    int pointer_x, pointer_y;
};

struct pvs_capture_stats {
    uint64_t frames; /* frames returned by next() */
    uint64_t late;   /* deadlines missed: frames never produced because the
                        caller came back too late */
};

struct pvs_capture;

struct pvs_capture_ops {
    const char *name;
    const char *description;
    /* Opens the source. Returns 0, PVS_ENODEV / PVS_ENOTSUP when the backend
     * cannot work here (auto then tries the next), or another code. */
    int  (*open)(struct pvs_capture **out, const struct pvs_capture_opts *o);
    /* Waits up to timeout_ms (< 0: no limit) for the next frame: testsrc and
     * gdi make one every interval; x11 and dxgi when the screen changed, at
     * most fps a second, else once a second (x11: repeat_ms) and on
     * request_frame(). Returns 0 with `f` filled, PVS_ETIMEDOUT,
     * PVS_EREINIT when the source changed size (close and open again), or
     * another negative code. */
    int  (*next)(struct pvs_capture *c, struct pvs_frame *f, int timeout_ms);
    /* Gives the frame back; its pixels are not touched after this. */
    void (*release)(struct pvs_capture *c, struct pvs_frame *f);
    void (*close)(struct pvs_capture **c);
    /* Optional (NULL: none): the D3D11 device GPU frames live on. */
    struct ID3D11Device *(*d3d11_device)(struct pvs_capture *c);
    /* Optional (NULL: the backend makes a frame every interval anyway):
     * backends that make frames on change (x11, dxgi) hand out a frame at
     * the next instant their rate allows even when nothing changed (a
     * client joined or lost a frame). Any thread; seen within one frame
     * interval by a next() already waiting. */
    void (*request_frame)(struct pvs_capture *c);
};

/* Every backend's handle starts with this. */
struct pvs_capture {
    const struct pvs_capture_ops *ops;
    struct pvs_capture_stats stats;
};

/* Backends compiled in, in order of preference, ending with NULL. */
extern const struct pvs_capture_ops *const pvs_capture_backends[];
const struct pvs_capture_ops *pvs_capture_find(const char *name);

/* Opens backend `name`, or the first one that works for "auto" (or NULL). */
int pvs_capture_open(struct pvs_capture **out, const char *name,
                     const struct pvs_capture_opts *o);
static inline int pvs_capture_next(struct pvs_capture *c, struct pvs_frame *f,
                                   int timeout_ms)
{
    return c->ops->next(c, f, timeout_ms);
}
static inline void pvs_capture_release(struct pvs_capture *c, struct pvs_frame *f)
{
    c->ops->release(c, f);
}
/* The next frame comes at once (at the next instant the rate allows) even
 * if nothing changed; a no-op for paced backends. Any thread. */
static inline void pvs_capture_request_frame(struct pvs_capture *c)
{
    if (c && c->ops->request_frame)
        c->ops->request_frame(c);
}
/* The device of the backend's GPU frames, or NULL (no GPU frames). */
static inline struct ID3D11Device *pvs_capture_d3d11_device(struct pvs_capture *c)
{
    return c->ops->d3d11_device ? c->ops->d3d11_device(c) : NULL;
}
/* Opens the capture that hands out GPU frames here, as the server would
 * (Desktop Duplication of output `output`, 0 = the default), for its
 * device: encoders are probed on it, so what a probe reports is what the
 * server will use. NULL where there is none (Linux, Wine, a remote session);
 * the backend logs why. Close it with pvs_capture_close(). */
struct pvs_capture *pvs_capture_open_gpu(int output);

/* Accepts NULL and clears the pointer. */
void pvs_capture_close(struct pvs_capture **c);

/* "static", "desktop", "game" */
extern const char *const pvs_content_names[];

#endif
