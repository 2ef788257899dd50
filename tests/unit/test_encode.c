/* The encoder and decoder with real libavcodec: probing falls back to
 * software with reasons, libx264 has zero frame delay, IDR on demand and an
 * infinite GOP, bitrate changes in place, decoded pictures match, the
 * frame stamp survives x264 at 2 Mbit/s, a packet an encoder held back
 * carries its own frame's times, and SVT-AV1's own log follows ours. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "client/decoder.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stamp.h"
#include "encode/convert.h"
#include "encode/encoder.h"
#include "encode/feed.h"
#include "tests/unit/test.h"

/* ---- a pipeline of testsrc -> convert -> encode (-> decode) ------------- */

struct pipe {
    struct pvs_capture *cap;
    struct pvs_encoder *enc;
    struct pvs_decoder *dec;
};

static int pipe_open(struct pipe *p, const char *encoder, enum pvs_codec codec, int w, int h,
                     int64_t bitrate, enum pvs_content content)
{
    memset(p, 0, sizeof(*p));
    /* Paced at the encoder's rate, so each frame carries one frame's worth of change. */
    struct pvs_capture_opts co = { .width = w, .height = h, .fps = 60, .content = content };
    struct pvs_encoder_opts eo = { .codec = codec, .width = w, .height = h, .fps = 60, .bitrate = bitrate };
    struct pvs_decoder_opts d = { .codec = codec, .hw = "software" };
    int err = pvs_capture_open(&p->cap, "testsrc", &co);
    if (!err)
        err = pvs_encoder_open(&p->enc, encoder, &eo);
    if (!err)
        err = pvs_decoder_open(&p->dec, &d);
    return err;
}

static void pipe_close(struct pipe *p)
{
    pvs_decoder_close(&p->dec);
    pvs_encoder_close(&p->enc);
    pvs_capture_close(&p->cap);
}

/* Captures, converts and encodes one frame. */
static int pipe_encode_at(struct pipe *p, bool idr, struct pvs_packet *pkt, uint64_t *number,
                          int64_t *capture_ns)
{
    struct pvs_frame f;
    int err = pvs_capture_next(p->cap, &f, 1000);
    if (err)
        return err;
    struct pvs_image *in = pvs_encoder_input(p->enc);
    err = in ? pvs_convert(&f.img, in) : PVS_ENOMEM;
    if (!err)
        err = pvs_encoder_encode(p->enc, f.number, f.capture_ns, idr, pkt);
    *number = f.number;
    *capture_ns = f.capture_ns;
    pvs_capture_release(p->cap, &f);
    return err;
}

static int pipe_encode(struct pipe *p, bool idr, struct pvs_packet *pkt, uint64_t *number)
{
    int64_t t;
    return pipe_encode_at(p, idr, pkt, number, &t);
}

static double psnr_y(const struct pvs_image *a, const struct pvs_image *b)
{
    double sse = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++) {
            int d = a->data[0][y * a->stride[0] + x] - b->data[0][y * b->stride[0] + x];
            sse += d * d;
        }
    double mse = sse / ((double)a->width * a->height);
    return mse > 0 ? 10 * log10(255.0 * 255.0 / mse) : 100;
}

/* ---- log capture for the probing test ----------------------------------- */

static char log_text[16384];

static void log_sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                     const char *msg)
{
    (void)opaque; (void)level; (void)file; (void)line;
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof(log_text) - n, "%s\n", msg);
}

static void test_auto_falls_back_to_software(void)
{
    log_text[0] = '\0';
    pvs_log_set_sink(log_sink, NULL);
    struct pvs_encoder *e = NULL;
    struct pvs_encoder_opts o = { .codec = PVS_CODEC_H264, .width = 640, .height = 360, .fps = 60 };
    int err = pvs_encoder_open(&e, "auto", &o);
    pvs_log_set_sink(NULL, NULL);
    CHECK_INT(err, ==, 0);
    if (err)
        return;
    const struct pvs_encoder_info *chosen = pvs_encoder_get_info(e);
    CHECK_INT(chosen->codec, ==, PVS_CODEC_H264);
    /* Every H.264 encoder tried before the chosen one was skipped, and the
     * log says why, by name. */
    for (const struct pvs_encoder_info *i = pvs_encoder_infos; i != chosen; i++) {
        if (i->codec != PVS_CODEC_H264)
            continue;
        char want[64];
        snprintf(want, sizeof(want), "%s skipped: ", i->name);
        const char *at = strstr(log_text, want);
        CHECK(at != NULL);
        if (at)
            CHECK(at[strlen(want)] != '\n'); /* a reason follows */
    }
    if (!chosen->hardware) {
        CHECK(!strcmp(chosen->name, "libx264"));
        CHECK(strstr(log_text, "h264_nvenc skipped: ") != NULL);
    }
    pvs_encoder_close(&e);
    CHECK(e == NULL);
}

static void test_probe_reasons(void)
{
    struct pvs_encoder_opts o = { .codec = PVS_CODEC_H264, .width = 640, .height = 360, .fps = 60 };
    char why[256];
    CHECK_INT(pvs_encoder_probe("libx264", &o, why, sizeof(why)), ==, 0);
    if (pvs_encoder_probe("h264_nvenc", &o, why, sizeof(why)) != 0)
        CHECK(why[0] != '\0');
    CHECK_INT(pvs_encoder_probe("nonesuch", &o, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "unknown encoder") != NULL);
    CHECK_INT(pvs_encoder_probe("libx265", &o, why, sizeof(why)), ==, PVS_EINVAL); /* codec mismatch */
    o.width = 641;
    CHECK_INT(pvs_encoder_probe("libx264", &o, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "641x360") != NULL);
}

/* Where pictures come from decides the path: system memory for every
 * encoder that takes no D3D11 textures, whatever device it is offered
 * (the device is never touched: a dangling pointer proves it); the feed
 * converts on the CPU for a capture without a device and refuses frames
 * of another size or a GPU frame it has no device for. */
static void test_input_paths(void)
{
    struct pvs_encoder_opts o = { .codec = PVS_CODEC_H264, .width = 640, .height = 360, .fps = 60 };
    char why[256];
    CHECK_INT(pvs_encoder_probe("libx264", &o, why, sizeof(why)), ==, 0);
    CHECK(!strcmp(why, "system memory"));
    o.d3d11_device = (struct ID3D11Device *)(uintptr_t)0x10; /* never dereferenced */
    CHECK_INT(pvs_encoder_probe("libx264", &o, why, sizeof(why)), ==, 0);
    CHECK(!strcmp(why, "system memory (libx264 takes no D3D11 textures)"));
    o.d3d11_device = NULL;

    struct pvs_encoder *e = NULL;
    CHECK_INT(pvs_encoder_open(&e, "libx264", &o), ==, 0);
    CHECK(!pvs_encoder_zero_copy(e));
    struct ID3D11Texture2D *tex = NULL;
    int slice = -1;
    CHECK_INT(pvs_encoder_gpu_input(e, &tex, &slice), ==, PVS_ENOTSUP);
    CHECK(tex == NULL && slice == -1);

    struct pvs_capture_opts co = { .width = 640, .height = 360, .fps = 60,
                                   .content = PVS_CONTENT_DESKTOP, .gpu_frames = true };
    struct pvs_capture *cap = NULL;
    CHECK_INT(pvs_capture_open(&cap, "testsrc", &co), ==, 0);
    CHECK(pvs_capture_d3d11_device(cap) == NULL); /* gpu_frames is the backend's to honour */
    struct pvs_feed *fd = NULL;
    CHECK_INT(pvs_feed_open(&fd, cap, e, 640, 360), ==, 0);
    CHECK_INT(pvs_feed_path(fd), ==, PVS_FEED_CPU);
    struct pvs_frame f;
    CHECK_INT(pvs_capture_next(cap, &f, 1000), ==, 0);
    CHECK_INT(pvs_feed_frame(fd, &f), ==, 0);
    /* what the feed wrote is libyuv's conversion of the frame */
    struct pvs_image *in = pvs_encoder_input(e);
    uint8_t *ref = malloc(pvs_image_packed_size(in->fmt, 640, 360));
    struct pvs_image want;
    pvs_image_wrap_packed(&want, in->fmt, 640, 360, ref);
    CHECK_INT(pvs_convert(&f.img, &want), ==, 0);
    int diff = 0;
    for (int y = 0; y < 360; y++)
        diff += memcmp(in->data[0] + (size_t)y * in->stride[0], ref + (size_t)y * 640, 640) != 0;
    CHECK_INT(diff, ==, 0);
    free(ref);
    struct pvs_packet pkt;
    CHECK_INT(pvs_encoder_encode(e, 0, f.capture_ns, true, &pkt), ==, 0);
    CHECK(pkt.keyframe && pkt.size > 0);

    struct pvs_frame other = f;
    other.img.width = 320;
    CHECK_INT(pvs_feed_frame(fd, &other), ==, PVS_EREINIT);
    other = f;
    other.texture = (struct ID3D11Texture2D *)(uintptr_t)0x10; /* never dereferenced */
    CHECK_INT(pvs_feed_frame(fd, &other), ==, PVS_EINVAL);
    pvs_capture_release(cap, &f);
    CHECK_INT(pvs_feed_open(NULL, cap, e, 640, 360), ==, PVS_EINVAL);
    pvs_feed_close(&fd);
    CHECK(fd == NULL);
    pvs_feed_close(NULL);
    pvs_capture_close(&cap);
    pvs_encoder_close(&e);
}

/* --filler: every packet is one frame at the current bitrate, a change of
 * bitrate changes it at the next frame, and the decoder skips the filler
 * (the picture is as good as without it). */
static void test_filler(void)
{
    struct pvs_capture_opts co = { .width = 640, .height = 360, .fps = 60,
                                   .content = PVS_CONTENT_STATIC };
    struct pvs_encoder_opts eo = { .codec = PVS_CODEC_H264, .width = 640, .height = 360,
                                   .fps = 60, .bitrate = 12000000, .filler = true };
    struct pvs_decoder_opts dopt = { .codec = PVS_CODEC_H264, .hw = "software" };
    struct pipe p = { 0 };
    CHECK_INT(pvs_capture_open(&p.cap, "testsrc", &co), ==, 0);
    CHECK_INT(pvs_encoder_open(&p.enc, "libx264", &eo), ==, 0);
    CHECK_INT(pvs_decoder_open(&p.dec, &dopt), ==, 0);
    if (!p.cap || !p.enc || !p.dec)
        goto out;
    for (int i = 0; i < 20; i++) {
        if (i == 10)
            CHECK_INT(pvs_encoder_set_bitrate(p.enc, 6000000), ==, 0);
        struct pvs_packet pkt;
        uint64_t n;
        CHECK_INT(pipe_encode(&p, i == 0, &pkt, &n), ==, 0);
        size_t want = (size_t)((i < 10 ? 12000000 : 6000000) / 8 / 60);
        /* the first keyframe may take 8 frames' bits, and x264 spends what
         * it left over the next few frames (encode/encoder.c); the frame
         * at the change may still spend what the old buffer held, within
         * the old frame's size. Once, under Wine on a loaded machine, a
         * frame after the change came out 19,565 bytes for 12,500 (which
         * one was not recorded: it is printed now). */
        if (i >= 8 && pkt.size != want)
            fprintf(stderr, "  filler: frame %d is %zu bytes, %zu wanted\n", i, pkt.size, want);
        if (i == 10)
            CHECK(pkt.size >= want && pkt.size <= 2 * want);
        else if (i >= 8)
            CHECK_INT(pkt.size, ==, want);
        else
            CHECK(pkt.size >= want);
        struct pvs_decoded d;
        CHECK_INT(pvs_decoder_decode(p.dec, &pkt, &d), ==, 0);
        if (i == 19) {
            struct pvs_image *in = pvs_encoder_input(p.enc);
            CHECK(in && psnr_y(in, &d.img) > 35.0);
        }
    }
out:
    pipe_close(&p);
}

static void test_bad_options(void)
{
    struct pvs_encoder *e = NULL;
    pvs_log_set_level(PVS_LOG_QUIET);
    struct pvs_encoder_opts o = { .codec = PVS_CODEC_H264, .width = 640, .height = 360, .fps = 0 };
    CHECK_INT(pvs_encoder_open(&e, "libx264", &o), ==, PVS_EINVAL);
    o.fps = 60;
    o.bitrate = -5;
    CHECK_INT(pvs_encoder_open(&e, "libx264", &o), ==, PVS_EINVAL);
    o.bitrate = 0;
    CHECK_INT(pvs_encoder_open(&e, "h264_bogus", &o), ==, PVS_EINVAL);
    CHECK(e == NULL);
    pvs_log_set_level(PVS_LOG_INFO);
}

static void test_x264_zero_delay_and_idr(void)
{
    struct pipe p;
    CHECK_INT(pipe_open(&p, "libx264", PVS_CODEC_H264, 640, 360, 0, PVS_CONTENT_DESKTOP), ==, 0);
    if (!p.enc)
        goto out;
    uint64_t keyframes = 0;
    for (int i = 0; i < 300; i++) {
        struct pvs_packet pkt;
        uint64_t n;
        bool idr = i == 0 || i == 150;
        int err = pipe_encode(&p, idr, &pkt, &n);
        CHECK_INT(err, ==, 0); /* never PVS_EAGAIN: no frame of delay */
        if (err)
            break;
        CHECK_INT(pkt.frame, ==, n); /* this frame's packet, not an older one */
        CHECK(pkt.size > 0);
        CHECK_INT(pkt.keyframe, ==, idr); /* keyframes exactly on demand: infinite GOP */
        keyframes += pkt.keyframe;
        /* an IDR starts with an SPS: 00 00 00 01 67 (or 3-byte start code) */
        if (idr && pkt.size > 5)
            CHECK((pkt.data[4] & 0x1f) == 7 || (pkt.data[3] & 0x1f) == 7);
    }
    struct pvs_encoder_stats st;
    pvs_encoder_get_stats(p.enc, &st);
    CHECK_INT(st.delayed, ==, 0);
    CHECK_INT(st.keyframes, ==, 2);
    CHECK_INT(keyframes, ==, 2);
out:
    pipe_close(&p);
}

static void test_bitrate_change_in_place(void)
{
    struct pipe p;
    CHECK_INT(pipe_open(&p, "libx264", PVS_CODEC_H264, 1280, 720, 20000000, PVS_CONTENT_GAME), ==, 0);
    if (!p.enc)
        goto out;
    double high = 0, low = 0;
    for (int i = 0; i < 120; i++) {
        if (i == 60)
            CHECK_INT(pvs_encoder_set_bitrate(p.enc, 2000000), ==, 0);
        struct pvs_packet pkt;
        uint64_t n;
        CHECK_INT(pipe_encode(&p, i == 0, &pkt, &n), ==, 0);
        if (i >= 30 && i < 60)
            high += (double)pkt.size;
        if (i >= 90)
            low += (double)pkt.size;
    }
    /* 20 -> 2 Mbit/s: the last 30 frames keep to the new budget (4,167
     * bytes a frame, VBV of one frame) and are far smaller than the 30
     * before (the game content takes 13-16 KB a frame of the 41 KB it may
     * have at 20 Mbit/s: a ratio of 4 was too close to call) */
    fprintf(stderr, "  30 frames at 20 Mbit/s: %.0f bytes, at 2 Mbit/s: %.0f\n", high, low);
    CHECK(low <= 30 * 4167 * 1.3);
    CHECK(low * 2.5 < high);
    CHECK_INT(pvs_encoder_set_bitrate(p.enc, 0), ==, PVS_EINVAL);
out:
    pipe_close(&p);
}

/* What a round trip gave. A stamp read back is exact (this frame's), stale
 * (an earlier frame's: the encoder skipped the blocks that changed), or
 * garbage (a stamp never sent), which must never happen. */
struct trip {
    int decoded, delayed, exact, stale, garbage, missing_late;
    double mean_psnr;
};

#define TRIP_MAX 256
#define WARMUP 15 /* a quarter second: a starved first IDR is refined by then */

static struct trip roundtrip(const char *encoder, enum pvs_codec codec, int w, int h,
                             int64_t bitrate, enum pvs_content content, int frames)
{
    struct trip r = { 0 };
    struct pipe p;
    int err = pipe_open(&p, encoder, codec, w, h, bitrate, content);
    if (err == PVS_ENOTSUP) {
        fprintf(stderr, "  %s not in this libavcodec build: not tested\n", encoder);
        pipe_close(&p);
        r.decoded = -1;
        return r;
    }
    CHECK_INT(err, ==, 0);
    uint64_t sent_frame[TRIP_MAX];
    int64_t sent_us[TRIP_MAX];
    double psnr_sum = 0;
    int psnr_n = 0;
    for (int i = 0; !err && i < frames && i < TRIP_MAX; i++) {
        struct pvs_packet pkt;
        uint64_t n;
        int64_t captured;
        err = pipe_encode_at(&p, i == 0, &pkt, &n, &captured);
        sent_frame[i] = n;
        sent_us[i] = captured / 1000;
        if (err == PVS_EAGAIN) {
            r.delayed++;
            err = 0;
            continue;
        }
        CHECK_INT(err, ==, 0);
        if (err)
            break;
        struct pvs_decoded d;
        err = pvs_decoder_decode(p.dec, &pkt, &d);
        CHECK_INT(err, ==, 0);
        if (err)
            break;
        r.decoded++;
        CHECK_INT(d.frame, ==, pkt.frame);
        CHECK_INT(d.img.width, ==, w);
        CHECK_INT(d.img.height, ==, h);
        struct pvs_stamp s;
        if (pvs_stamp_read(&d.img, &s) == 0) {
            bool found = false;
            for (int j = i; j >= 0 && !found; j--) {
                if ((uint32_t)sent_frame[j] == s.frame && (uint64_t)sent_us[j] == s.time_us) {
                    found = true;
                    if (sent_frame[j] == d.frame)
                        r.exact++;
                    else
                        r.stale++;
                }
            }
            r.garbage += !found;
        } else if (i >= WARMUP) {
            r.missing_late++;
            if (getenv("PVS_TEST_VERBOSE"))
                fprintf(stderr, "  frame %d (%llu, %zu bytes): no stamp\n", i,
                        (unsigned long long)d.frame, pkt.size);
        }
        if (pkt.frame == n) { /* the encoder input still holds this frame */
            psnr_sum += psnr_y(pvs_encoder_input(p.enc), &d.img);
            psnr_n++;
        }
    }
    r.mean_psnr = psnr_n ? psnr_sum / psnr_n : 0;
    fprintf(stderr, "  %s %dx%d %.1f Mbit/s %s: %d decoded, stamps %d exact %d stale %d garbage, "
            "%d delayed, mean PSNR-Y %.1f dB\n", encoder, w, h, (double)bitrate / 1e6,
            pvs_content_names[content], r.decoded, r.exact, r.stale, r.garbage, r.delayed,
            r.mean_psnr);
    CHECK_INT(r.garbage, ==, 0); /* never a stamp that was not sent */
    CHECK_INT(r.decoded, ==, frames - r.delayed);
    pipe_close(&p);
    return r;
}

/* PSNR-Y of the first n decoded frames of a new encoder (the picture a
 * joining client sees first), desktop content. */
static void first_frames(int w, int h, int64_t bitrate, double *psnr, int n)
{
    struct pipe p;
    CHECK_INT(pipe_open(&p, "libx264", PVS_CODEC_H264, w, h, bitrate, PVS_CONTENT_DESKTOP), ==, 0);
    for (int i = 0; i < n; i++) {
        struct pvs_packet pkt;
        struct pvs_decoded d;
        uint64_t num;
        psnr[i] = 0;
        if (!p.enc || pipe_encode(&p, i == 0, &pkt, &num) != 0 ||
            pvs_decoder_decode(p.dec, &pkt, &d) != 0)
            break;
        psnr[i] = psnr_y(pvs_encoder_input(p.enc), &d.img);
    }
    fprintf(stderr, "  first %d frames, %dx%d at %.0f Mbit/s, PSNR-Y dB:", n, w, h,
            (double)bitrate / 1e6);
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %.1f", psnr[i]);
    fprintf(stderr, "\n");
    pipe_close(&p);
}

/* A joining client's first picture is clean (issue 16: 30 dB at 6 Mbit/s
 * 720p), and the frames after it are not starved by the big first
 * keyframe (encode/encoder.c, FIRST_KEY_FRAMES). With the keyframe held to
 * one frame's bits the first ten frames went 19.8 to 33.0 dB; now 39-40
 * dB, then 40-45, with dips to 30-33 where the test desktop scrolls a
 * page (as it does at any time in the stream: one frame's bits). At 1080p
 * 2 Mbit/s, 10.1 to 15.1 dB before, about 19 now. */
static void test_first_picture(void)
{
    double a[10], b[10];
    first_frames(1280, 720, 6000000, a, 10);
    first_frames(1920, 1080, 2000000, b, 10);
    CHECK(a[0] >= 30.0);
    for (int i = 1; i < 10; i++)
        CHECK(a[i] >= 27.0);
    CHECK(b[0] >= 15.0);
}

static void test_x264_roundtrip_quality(void)
{
    struct trip r = roundtrip("libx264", PVS_CODEC_H264, 1280, 720, 0, PVS_CONTENT_DESKTOP, 60);
    CHECK_INT(r.delayed, ==, 0);
    CHECK_INT(r.exact, ==, r.decoded); /* every decoded frame carries its own stamp */
    CHECK(r.mean_psnr >= 35.0);
}

static void test_stamp_survives_x264_2mbit_1080p(void)
{
    /* Desktop content at 2 Mbit/s: once the first, starved IDR has been
     * refined, frames carry their own stamp; now and then rate control
     * starves one more (about 1 in 80 here, after a terminal scroll). A
     * slower build (the sanitizers) makes the paced test desktop skip
     * frames, so each encoded frame carries more change and a few more are
     * starved (4 of 75 seen under ASan): the bound allows 6. Never a wrong
     * stamp, whatever the build (checked in roundtrip). */
    struct trip r = roundtrip("libx264", PVS_CODEC_H264, 1920, 1080, 2000000, PVS_CONTENT_DESKTOP, 90);
    CHECK_INT(r.missing_late, <=, 6);
    CHECK(r.exact >= 90 - WARMUP - 6);
    /* Full-screen motion at 2 Mbit/s: x264 often leaves the stamp's blocks
     * as they were, so an older stamp shows; never a wrong one. */
    roundtrip("libx264", PVS_CODEC_H264, 1920, 1080, 2000000, PVS_CONTENT_GAME, 60);
    /* ...and at 6 Mbit/s frames carry their own stamp. */
    r = roundtrip("libx264", PVS_CODEC_H264, 1920, 1080, 6000000, PVS_CONTENT_GAME, 60);
    CHECK_INT(r.missing_late, <=, 2);
    CHECK(r.exact >= 60 - WARMUP - 2);
}

static void test_other_software_encoders(void)
{
    struct trip r = roundtrip("libx265", PVS_CODEC_HEVC, 640, 360, 0, PVS_CONTENT_DESKTOP, 30);
    if (r.decoded >= 0) {
        CHECK_INT(r.delayed, ==, 0);
        /* Every frame carries its own stamp on an idle machine; a loaded
         * one (a sanitizer build beside other work: 29 of 30 seen) makes
         * the paced desktop skip frames, and a frame with more change can
         * be starved of the stamp's bits. Never a wrong stamp (roundtrip
         * checks that). */
        CHECK_INT(r.exact, >=, r.decoded - 2);
        CHECK(r.mean_psnr >= 30.0); /* 2 Mbit/s at 360p, first IDR included */
    }
    /* SVT-AV1 holds a few frames back even in its low-delay mode; it works. */
    r = roundtrip("libsvtav1", PVS_CODEC_AV1, 640, 360, 0, PVS_CONTENT_DESKTOP, 30);
    if (r.decoded >= 0) {
        CHECK(r.decoded > 0);
        CHECK_INT(r.exact + r.stale, ==, r.decoded);
    }
}

/* A packet that comes out with a later call carries its own frame's
 * number, capture time and submission time (the moment the call for that
 * frame began), so that the encode stage (submitted -> own packet out)
 * includes the wait: SVT-AV1 holds frames even in its low-delay mode;
 * x264 gives each frame's packet back from its own call. */
static void held_frames_keep_their_times(const char *encoder, enum pvs_codec codec)
{
    struct pipe p;
    if (pipe_open(&p, encoder, codec, 320, 240, 0, PVS_CONTENT_GAME) != 0) {
        fprintf(stderr, "  %s does not open here: not checked\n", encoder);
        pipe_close(&p);
        return;
    }
    enum { N = 24 };
    struct { uint64_t number; int64_t captured, before, after; } call[N];
    int packets = 0, held = 0, matched = 0;
    for (int i = 0; i < N; i++) {
        struct pvs_frame f;
        if (pvs_capture_next(p.cap, &f, 1000) != 0)
            break;
        struct pvs_image *in = pvs_encoder_input(p.enc);
        CHECK(in && pvs_convert(&f.img, in) == 0);
        call[i].number = f.number;
        call[i].captured = f.capture_ns;
        struct pvs_packet pkt;
        call[i].before = pvs_time_ns();
        int err = pvs_encoder_encode(p.enc, f.number, f.capture_ns, i == 0, &pkt);
        call[i].after = pvs_time_ns();
        pvs_capture_release(p.cap, &f);
        CHECK(err == 0 || err == PVS_EAGAIN);
        if (err)
            continue;
        packets++;
        for (int k = 0; k <= i; k++) {
            if (call[k].number != pkt.frame)
                continue;
            matched++;
            held += k < i;
            CHECK_INT(pkt.capture_ns, ==, call[k].captured);
            CHECK(pkt.submitted_ns >= call[k].before && pkt.submitted_ns <= call[k].after);
        }
    }
    struct pvs_encoder_stats st;
    pvs_encoder_get_stats(p.enc, &st);
    printf("%s: %d packets of %d frames, %d from a later call (%llu delayed)\n", encoder, packets,
           N, held, (unsigned long long)st.delayed);
    CHECK(packets > 0);
    CHECK_INT(matched, ==, packets); /* every packet is one of the frames given */
    if (!strcmp(encoder, "libx264"))
        CHECK_INT(held, ==, 0);
    else
        CHECK(held > 0 && (uint64_t)held <= st.delayed);
    pipe_close(&p);
}

static void test_held_frames_keep_their_times(void)
{
    held_frames_keep_their_times("libx264", PVS_CODEC_H264);
    held_frames_keep_their_times("libsvtav1", PVS_CODEC_AV1);
}

/* SVT-AV1 prints its configuration and warnings to stderr on its own, at
 * the level in $SVT_LOG: the encoder sets it from ours unless the user did
 * (main() clears it first, so this process's value is the encoder's). */
static void test_svt_log_follows_ours(void)
{
    struct pvs_encoder_opts o = { .codec = PVS_CODEC_H264, .width = 320, .height = 240, .fps = 60 };
    struct pvs_encoder *e = NULL;
    static const struct { enum pvs_log_level ours; const char *svt; } cases[] = {
        { PVS_LOG_INFO, "1" }, { PVS_LOG_DEBUG, "3" }, { PVS_LOG_QUIET, "0" }, { PVS_LOG_WARN, "1" },
    };
    enum pvs_log_level saved = pvs_log_get_level();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pvs_log_set_level(cases[i].ours);
        CHECK_INT(pvs_encoder_open(&e, "libx264", &o), ==, 0);
        pvs_encoder_close(&e);
        const char *v = getenv("SVT_LOG");
        CHECK(v && !strcmp(v, cases[i].svt));
    }
    pvs_log_set_level(saved);
}

static void test_decoder_survives_garbage(void)
{
    struct pipe p;
    CHECK_INT(pipe_open(&p, "libx264", PVS_CODEC_H264, 640, 360, 0, PVS_CONTENT_DESKTOP), ==, 0);
    if (!p.dec)
        goto out;
    pvs_log_set_level(PVS_LOG_QUIET);
    uint8_t junk[4096];
    uint32_t r = 7;
    for (int k = 0; k < 50; k++) {
        for (size_t i = 0; i < sizeof(junk); i++) {
            r = r * 1664525u + 1013904223u;
            junk[i] = (uint8_t)(r >> 24);
        }
        struct pvs_packet bad = { .data = junk, .size = 1 + (r % sizeof(junk)) };
        struct pvs_decoded d;
        int err = pvs_decoder_decode(p.dec, &bad, &d);
        CHECK(err == 0 || err == PVS_EAGAIN || err == PVS_EBADDATA);
    }
    struct pvs_packet empty = { 0 };
    struct pvs_decoded d;
    CHECK_INT(pvs_decoder_decode(p.dec, &empty, &d), ==, PVS_EINVAL);
    pvs_log_set_level(PVS_LOG_INFO);
    /* ...and then decodes a real stream from its keyframe */
    struct pvs_packet pkt;
    uint64_t n;
    CHECK_INT(pipe_encode(&p, true, &pkt, &n), ==, 0);
    CHECK_INT(pvs_decoder_decode(p.dec, &pkt, &d), ==, 0);
    CHECK_INT(d.frame, ==, n);
out:
    pipe_close(&p);
}

int main(void)
{
#ifdef _WIN32
    _putenv("SVT_LOG=");
#else
    unsetenv("SVT_LOG"); /* test_svt_log_follows_ours: the encoder's, not the caller's */
#endif
    RUN(test_auto_falls_back_to_software);
    RUN(test_probe_reasons);
    RUN(test_input_paths);
    RUN(test_filler);
    RUN(test_bad_options);
    RUN(test_x264_zero_delay_and_idr);
    RUN(test_bitrate_change_in_place);
    RUN(test_x264_roundtrip_quality);
    RUN(test_first_picture);
    RUN(test_stamp_survives_x264_2mbit_1080p);
    RUN(test_other_software_encoders);
    RUN(test_held_frames_keep_their_times);
    RUN(test_svt_log_follows_ours);
    RUN(test_decoder_survives_garbage);
    TEST_EXIT();
}
