/* Recording a clip (clip.h): the test source's frames converted and encoded
 * one by one, each packet copied out. */
#include "bench/clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"
#include "encode/convert.h"

static void show_progress(int done, int total)
{
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\rencoding the clip: %d/%d frames", done, total);
    if (done == total)
        fputc('\n', stderr);
}

int pvs_clip_record(struct pvs_clip *clip, const char *encoder, const struct pvs_encoder_opts *eo,
                    enum pvs_content content, int frames, bool progress)
{
    if (!clip || !eo || frames < 1)
        return PVS_EINVAL;
    memset(clip, 0, sizeof(*clip));
    clip->frames = calloc((size_t)frames, sizeof(*clip->frames));
    if (!clip->frames)
        return PVS_ENOMEM;

    struct pvs_capture *cap = NULL;
    struct pvs_encoder *enc = NULL;
    struct pvs_capture_opts co = { .width = eo->width, .height = eo->height, .fps = eo->fps,
                                   .content = content };
    int err = pvs_capture_open(&cap, "testsrc", &co);
    if (!err)
        err = pvs_encoder_open(&enc, encoder ? encoder : "auto", eo);
    if (!err)
        snprintf(clip->encoder, sizeof(clip->encoder), "%s", pvs_encoder_name(enc));

    while (!err && clip->count < frames) {
        struct pvs_frame f;
        err = pvs_capture_next(cap, &f, 1000);
        if (err == PVS_ETIMEDOUT) {
            err = 0;
            continue;
        }
        if (err)
            break;
        struct pvs_image *in = pvs_encoder_input(enc);
        err = in ? pvs_convert(&f.img, in) : PVS_EINVAL;
        struct pvs_packet pkt;
        if (!err)
            err = pvs_encoder_encode(enc, f.number, f.capture_ns, clip->count == 0, &pkt);
        pvs_capture_release(cap, &f);
        if (err == PVS_EAGAIN) { /* a delaying encoder: its packet comes later */
            err = 0;
            continue;
        }
        if (err)
            break;
        struct pvs_clip_frame *cf = &clip->frames[clip->count];
        cf->data = malloc(pkt.size ? pkt.size : 1);
        if (!cf->data) {
            err = PVS_ENOMEM;
            break;
        }
        memcpy(cf->data, pkt.data, pkt.size);
        cf->size = pkt.size;
        cf->keyframe = pkt.keyframe;
        clip->bytes += pkt.size;
        clip->count++;
        if (progress)
            show_progress(clip->count, frames);
    }
    pvs_encoder_close(&enc);
    pvs_capture_close(&cap);
    if (err) {
        PVS_LOG_E("recording the clip failed: %s", pvs_strerror(err));
        pvs_clip_free(clip);
    }
    return err;
}

void pvs_clip_free(struct pvs_clip *clip)
{
    if (!clip)
        return;
    for (int i = 0; i < clip->count; i++)
        free(clip->frames[i].data);
    free(clip->frames);
    memset(clip, 0, sizeof(*clip));
}
