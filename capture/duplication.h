/* duplication: the decisions of Windows Desktop Duplication capture, in
 * plain C. capture/dxgi.c makes the COM calls (AcquireNextFrame, ReleaseFrame,
 * GetFramePointerShape, DuplicateOutput) behind struct pvs_dup_ops; this
 * module decides when a frame goes out, what it shows and how a lost
 * duplication comes back. The unit tests drive it with a scripted fake on
 * Linux and under Wine.
 *
 * What it does:
 * - A frame goes out when the desktop presents one, at most `fps` a second
 *   (a faster desktop is merged: the newest picture goes out when the rate
 *   allows). When nothing changes, the last picture goes out again
 *   (changed = false) every repeat_ms, and at once after
 *   pvs_dup_request_frame() (a client joined or lost a frame). acquire()
 *   never waits longer than one frame interval, so a request is served
 *   within one interval.
 * - The pointer is drawn into the frames when composite_pointer is set (the
 *   default: the protocol has no cursor channel): a pointer move or shape
 *   change alone makes a frame, drawn over the last desktop image. Without
 *   it, pointer-only updates make no frame. The latest shape, hotspot and
 *   position are kept either way (pvs_dup_get_pointer()).
 * - ACCESS_LOST (a mode change, the secure desktop, a full-screen exclusive
 *   game), INVALID_CALL and unknown errors: the duplication is re-created
 *   after 0, 10, 20, 50, 100, 250, 500, then every 1000 ms. Meanwhile the
 *   last good picture keeps going out on the repeat schedule: never a black
 *   frame. The first new desktop image after that is marked keyframe. A
 *   different output size after re-creation, or DEVICE_REMOVED at any point
 *   (the encoder shares the device), makes pvs_dup_next() return
 *   PVS_EREINIT from then on: close everything and open again.
 * - Frames are BGRA in system memory owned here: two output buffers, each
 *   the last desktop image with the pointer drawn on it. Sides are rounded
 *   down to even, as encoders need (as the X11 backend does).
 * - With gpu_pictures the backend keeps the desktop image itself (a texture
 *   on the GPU): copy_desktop() gets no destination, frames carry no
 *   pixels, and the pointer to draw comes with each frame (f->pointer) for
 *   the GPU to draw while it converts. The decisions are the same.
 *
 * Threading: pvs_dup_request_frame() may be called from any thread. All the
 * rest, and every callback in pvs_dup_ops and the clock, from one thread at
 * a time (the video thread, inside pvs_dup_next()). */
#ifndef PVS_DUPLICATION_H
#define PVS_DUPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "capture/pointer.h"
#include "common/image.h"

/* What a backend call came to (the DXGI results it maps to). */
enum pvs_dup_status {
    PVS_DUP_OK = 0,
    PVS_DUP_TIMEOUT,        /* acquire: nothing new in time (DXGI_ERROR_WAIT_TIMEOUT) */
    PVS_DUP_ACCESS_LOST,    /* DXGI_ERROR_ACCESS_LOST */
    PVS_DUP_INVALID_CALL,   /* DXGI_ERROR_INVALID_CALL */
    PVS_DUP_UNAVAILABLE,    /* recreate: not possible now, try later (E_ACCESSDENIED on
                               the secure desktop, DXGI_ERROR_NOT_CURRENTLY_AVAILABLE,
                               DXGI_ERROR_SESSION_DISCONNECTED) */
    PVS_DUP_MORE_DATA,      /* get_pointer_shape: the buffer is too small (DXGI_ERROR_MORE_DATA) */
    PVS_DUP_DEVICE_REMOVED, /* DXGI_ERROR_DEVICE_REMOVED, _RESET, _HUNG */
    PVS_DUP_ERROR,          /* anything else */
};

/* DXGI_OUTDUPL_FRAME_INFO, as far as the decisions need it. */
struct pvs_dup_frame_info {
    bool desktop_updated;          /* LastPresentTime != 0 */
    bool pointer_position_updated; /* LastMouseUpdateTime != 0: the next three are new */
    bool pointer_visible;          /* PointerPosition.Visible */
    int pointer_x, pointer_y;      /* PointerPosition.Position: the shape's top-left
                                      corner in output pixels (may be negative) */
    bool pointer_shape_updated;    /* PointerShapeBufferSize != 0 */
    uint32_t pointer_shape_size;   /* PointerShapeBufferSize: a hint for the buffer */
};

/* What the backend provides. Every callback is called from the thread inside
 * pvs_dup_next(), with the `opaque` given to pvs_dup_open(). Between two
 * pvs_dup_next() calls no frame is held: each acquired frame is released in
 * the same call. */
struct pvs_dup_ops {
    /* AcquireNextFrame(timeout_ms). OK: a frame is held and *info is filled.
     * Else TIMEOUT, ACCESS_LOST, INVALID_CALL, DEVICE_REMOVED or ERROR, with
     * no frame held. Never called while a frame is held. */
    enum pvs_dup_status (*acquire)(void *opaque, int timeout_ms, struct pvs_dup_frame_info *info);
    /* Copies the held frame's desktop image into `dst` (BGRA, the output's
     * full size, dst->stride[0] bytes a row). Called only while a frame is
     * held and only when it says desktop_updated. On failure `dst` must be
     * untouched (fail before the first byte is written): it is the last good
     * picture, shown while the duplication is re-created. With gpu_pictures
     * `dst` is NULL: copy into the backend's own desktop image, under the
     * same rule. */
    enum pvs_dup_status (*copy_desktop)(void *opaque, const struct pvs_image *dst);
    /* GetFramePointerShape into buf (`cap` bytes) while a frame is held. OK:
     * *info filled and *size = bytes written. MORE_DATA: *size = bytes
     * needed (it is asked again with a buffer that large). */
    enum pvs_dup_status (*get_pointer_shape)(void *opaque, void *buf, size_t cap, size_t *size,
                                             struct pvs_pointer_shape_info *info);
    /* ReleaseFrame. Called once after each acquire that returned OK, also
     * when a call in between failed. */
    enum pvs_dup_status (*release_frame)(void *opaque);
    /* Drops the duplication and makes a new one of the same output
     * (DuplicateOutput). OK: *width x *height is the output's size now.
     * UNAVAILABLE, ACCESS_LOST or ERROR: tried again after the backoff.
     * DEVICE_REMOVED: the device is gone. Never called while a frame is held. */
    enum pvs_dup_status (*recreate)(void *opaque, int *width, int *height);
    /* Optional (may be NULL): what the last failed call got, for the log,
     * e.g. "DXGI_ERROR_ACCESS_LOST (0x887a0026)"; for DEVICE_REMOVED, also
     * GetDeviceRemovedReason(). Writes a NUL-terminated string. */
    void (*last_error)(void *opaque, char *buf, size_t size);
};

struct pvs_dup_settings {
    int fps;                /* at most this many frames a second; 0 = 60 */
    int repeat_ms;          /* nothing changed: the last picture again this often;
                               0 = 1000 (what the server sends when idle) */
    bool composite_pointer; /* draw the pointer into the frames (default on) */
    bool gpu_pictures;      /* the backend keeps the pictures (see above) */
    /* The clock: NULL for pvs_time_ns() and pvs_sleep_until_ns(); tests give
     * a fake one. Sleeping happens only while the duplication is being
     * re-created (otherwise acquire() waits). */
    int64_t (*now_ns)(void *opaque);
    void (*sleep_until_ns)(void *opaque, int64_t t_ns);
    void *clock_opaque;
};

struct pvs_dup_stats {
    uint64_t frames;            /* frames handed out */
    uint64_t repeats;           /* of which repeats of the last picture (changed = false) */
    uint64_t pointer_frames;    /* of which made for a pointer move or shape change alone */
    uint64_t keyframes;         /* of which marked keyframe */
    uint64_t desktop_images;    /* desktop images copied */
    uint64_t shapes;            /* pointer shapes taken */
    uint64_t bad_shapes;        /* pointer shapes refused (the previous one is kept) */
    uint64_t losses;            /* ACCESS_LOST, INVALID_CALL and errors that made us re-create */
    uint64_t recreate_failures; /* re-creation attempts that failed */
    uint64_t recoveries;        /* losses recovered from: a desktop image came again */
    int64_t last_recovery_ns;   /* from the loss to the next desktop image, last time */
    int64_t worst_recovery_ns;  /* ...and the longest so far */
};

/* The pointer as last reported, drawn or not. */
struct pvs_dup_pointer {
    const struct pvs_pointer *shape; /* the latest shape (shape->serial 0: none yet);
                                        valid until the next pvs_dup_next() */
    int x, y;                        /* its top-left corner in output pixels */
    bool visible;
};

struct pvs_dup;

/* Fills `s` with the defaults: fps 60, repeat 1000 ms, pointer drawn, the
 * real clock. */
void pvs_dup_default_settings(struct pvs_dup_settings *s);

/* Starts on a duplication the backend has already made, of a width x height
 * output (1 to 16384 a side). Returns 0, PVS_EINVAL or PVS_ENOMEM. */
int pvs_dup_open(struct pvs_dup **out, const struct pvs_dup_ops *ops, void *opaque,
                 int width, int height, const struct pvs_dup_settings *s);

/* The capture interface's next(): waits up to timeout_ms (< 0: no limit) for
 * the next frame. Returns 0 with `f` filled (f->keyframe set on the first new
 * picture after a re-created duplication), PVS_ETIMEDOUT, PVS_EAGAIN when
 * both frames are still held, or PVS_EREINIT (from then on: close and open
 * again). */
int pvs_dup_next(struct pvs_dup *d, struct pvs_frame *f, int timeout_ms);
/* Gives a frame back; its pixels are not touched until then. */
void pvs_dup_release(struct pvs_dup *d, struct pvs_frame *f);

/* The next pvs_dup_next() hands out the picture at once (the last one when
 * nothing changed). Any thread. */
void pvs_dup_request_frame(struct pvs_dup *d);

void pvs_dup_get_stats(const struct pvs_dup *d, struct pvs_dup_stats *st);
void pvs_dup_get_pointer(const struct pvs_dup *d, struct pvs_dup_pointer *p);

/* Frees everything; calls no callback. Accepts NULL and clears the pointer. */
void pvs_dup_close(struct pvs_dup **d);

#endif
