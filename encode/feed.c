/* feed: a captured frame into an encoder's input (feed.h). */
#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"
#include "encode/convert.h"
#include "encode/feed.h"
#ifdef _WIN32
#include "encode/d3d11_convert.h"
#endif

struct pvs_feed {
    struct pvs_encoder *enc;
    enum pvs_feed_path path;
    int width, height;
#ifdef _WIN32
    struct pvs_d3d11_convert *gpu;
#endif
};

const char *pvs_feed_path_name(enum pvs_feed_path p)
{
    switch (p) {
    case PVS_FEED_ZERO_COPY: return "GPU conversion into the encoder's texture (zero-copy)";
    case PVS_FEED_READBACK:  return "GPU conversion, read back";
    case PVS_FEED_CPU:       break;
    }
    return "CPU conversion";
}

enum pvs_feed_path pvs_feed_path(const struct pvs_feed *fd)
{
    return fd->path;
}

#ifdef _WIN32
static int open_gpu(struct pvs_feed *fd, struct ID3D11Device *dev)
{
    struct pvs_d3d11_convert_settings s;
    pvs_d3d11_convert_default_settings(&s);
    s.width = fd->width;
    s.height = fd->height;
    s.crop = true; /* an odd-sized desktop into the even-sized encoder */
    /* The read-back path never hands its output to an encoder: separate
     * planes are all it needs, and they work on every driver. */
    s.planes_only = !pvs_encoder_zero_copy(fd->enc);
    int err = pvs_d3d11_convert_open(&fd->gpu, dev, &s);
    if (err)
        return err == PVS_EINVAL ? err : PVS_ENOTSUP;
    fd->path = pvs_encoder_zero_copy(fd->enc) ? PVS_FEED_ZERO_COPY : PVS_FEED_READBACK;
    return 0;
}

static int gpu_frame(struct pvs_feed *fd, const struct pvs_frame *f)
{
    int err = pvs_d3d11_convert_set_pointer(fd->gpu, f->pointer, f->pointer_x, f->pointer_y);
    if (err)
        return err;
    if (fd->path == PVS_FEED_ZERO_COPY) {
        struct ID3D11Texture2D *tex;
        int slice;
        err = pvs_encoder_gpu_input(fd->enc, &tex, &slice);
        if (!err)
            err = pvs_d3d11_convert_into(fd->gpu, f->texture, tex, slice);
        return err;
    }
    err = pvs_d3d11_convert(fd->gpu, f->texture, NULL);
    if (err)
        return err;
    struct pvs_image *in = pvs_encoder_input(fd->enc);
    return in ? pvs_d3d11_convert_read(fd->gpu, in) : PVS_ENOMEM;
}
#endif

int pvs_feed_open(struct pvs_feed **out, struct pvs_capture *cap, struct pvs_encoder *enc,
                  int width, int height)
{
    if (!out || !cap || !enc || width <= 0 || height <= 0)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_feed *fd = calloc(1, sizeof(*fd));
    if (!fd)
        return PVS_ENOMEM;
    fd->enc = enc;
    fd->width = width;
    fd->height = height;
    fd->path = PVS_FEED_CPU;
    struct ID3D11Device *dev = pvs_capture_d3d11_device(cap);
    if (dev) {
#ifdef _WIN32
        int err = open_gpu(fd, dev);
        if (err) {
            pvs_feed_close(&fd);
            return err;
        }
#else
        pvs_feed_close(&fd);
        return PVS_ENOTSUP;
#endif
    }
    PVS_LOG_I("feed: %dx%d into %s by %s; the encoder reads %s", width, height,
              pvs_encoder_name(enc), pvs_feed_path_name(fd->path), pvs_encoder_input_path(enc));
    *out = fd;
    return 0;
}

int pvs_feed_frame(struct pvs_feed *fd, const struct pvs_frame *f)
{
    if (!fd || !f)
        return PVS_EINVAL;
    if (f->img.width != fd->width || f->img.height != fd->height)
        return PVS_EREINIT;
    if (f->texture) {
#ifdef _WIN32
        if (fd->gpu)
            return gpu_frame(fd, f);
#endif
        return PVS_EINVAL; /* a GPU frame for a feed opened without the device */
    }
    struct pvs_image *in = pvs_encoder_input(fd->enc);
    return in ? pvs_convert(&f->img, in) : PVS_ENOMEM;
}

void pvs_feed_close(struct pvs_feed **pfd)
{
    if (!pfd || !*pfd)
        return;
#ifdef _WIN32
    pvs_d3d11_convert_close(&(*pfd)->gpu);
#endif
    free(*pfd);
    *pfd = NULL;
}
