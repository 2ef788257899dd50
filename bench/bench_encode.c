/* pvstream-bench encode: testsrc -> convert -> encode -> decode in one
 * process, every stage timed per frame, the stamp read back from every
 * decoded frame.
 *
 * Stages, per frame:
 *   capture  from the frame's capture time to the source handing it over
 *   convert  BGRA -> NV12/I420 into the encoder's own buffer or texture
 *            (encode/feed.h: on the CPU; or, for Desktop Duplication's GPU
 *            frames, the GPU work queued, which the encoder then waits
 *            for, so its time shows in the next stage)
 *   encode   the frame in, its packet out
 *   decode   the packet in, the picture out
 *   total    capture time (as read from the decoded stamp) -> decoded */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "capture/capture.h"
#include "client/decoder.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/stamp.h"
#include "encode/feed.h"
#include "encode/encoder.h"

struct settings {
    char source[PVS_OPT_STRING_MAX];
    char encoder[PVS_OPT_STRING_MAX];
    int codec;
    int size[2];
    int fps;
    int64_t bitrate;
    int frames;
    int content;
    int threads;
    char decoder[PVS_OPT_STRING_MAX];
    char json[PVS_OPT_STRING_MAX];
    char svg[PVS_OPT_STRING_MAX];
};

/* "auto": the named encoder's codec, or H.264 with --encoder auto. */
#define CODEC_AUTO PVS_CODEC_COUNT
static const char *const codec_choices[] = {
    [PVS_CODEC_H264] = "h264", [PVS_CODEC_HEVC] = "hevc", [PVS_CODEC_AV1] = "av1",
    [CODEC_AUTO] = "auto", [CODEC_AUTO + 1] = NULL,
};

#define OPT(k, t, field, lo, hi, ch, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, ch, mv, h }
static const struct pvs_option options[] = {
    OPT("source", PVS_OPT_STRING, source, 0, 0, NULL, "testsrc|desktop|BACKEND",
        "where frames come from: the test desktop (stamped), the desktop (the first capture "
        "backend that opens: x11, dxgi, gdi), or that backend; a desktop is captured whole"),
    OPT("encoder", PVS_OPT_STRING, encoder, 0, 0, NULL, "auto|NAME",
        "encoder: auto probes hardware first, then software; NAME as listed by `pvstream-bench encoders`"),
    OPT("codec", PVS_OPT_CHOICE, codec, 0, 0, codec_choices, "CODEC",
        "auto: the named encoder's codec, or h264 with --encoder auto"),
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, NULL, "WxH", "frame size: even, at most 7680x4320"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, NULL, "N", "frames per second the test desktop paces to"),
    OPT("bitrate", PVS_OPT_INT64, bitrate, 0, 2000000000, NULL, "BITS",
        "bits per second (k/M/G suffixes); 0 = 0.15 bit per pixel"),
    OPT("frames", PVS_OPT_INT, frames, 1, 1000000, NULL, "N", "frames to measure"),
    OPT("content", PVS_OPT_CHOICE, content, 0, 0, pvs_content_names, "KIND",
        "test desktop content: static, desktop (mostly unchanged) or game (full-screen motion)"),
    OPT("threads", PVS_OPT_INT, threads, 0, 64, NULL, "N", "encoder and decoder slice threads; 0 = one per core"),
    OPT("decoder", PVS_OPT_STRING, decoder, 0, 0, NULL, "auto|software|TYPE",
        "decoder: auto tries hardware first"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, NULL, "FILE", "also write the results as JSON"),
    OPT("svg", PVS_OPT_STRING, svg, 0, 0, NULL, "FILE", "also draw per-frame latency as SVG"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

enum { ST_CAPTURE, ST_CONVERT, ST_ENCODE, ST_DECODE, ST_TOTAL, ST_COUNT };
static const char *const stage_names[ST_COUNT] = { "capture", "convert", "encode", "decode", "total" };

static double psnr_luma(const struct pvs_image *a, const struct pvs_image *b)
{
    uint64_t sse = 0;
    for (int y = 0; y < a->height; y++) {
        const uint8_t *p = a->data[0] + (size_t)y * (size_t)a->stride[0];
        const uint8_t *q = b->data[0] + (size_t)y * (size_t)b->stride[0];
        uint32_t row = 0;
        for (int x = 0; x < a->width; x++) {
            int d = p[x] - q[x];
            row += (uint32_t)(d * d);
        }
        sse += row;
    }
    if (!sse)
        return 100.0;
    double mse = (double)sse / ((double)a->width * a->height);
    return 10.0 * log10(255.0 * 255.0 / mse);
}

static int write_json(const char *path, const struct settings *s, const char *encoder,
                       const char *decoder, double fps, uint64_t frames, uint64_t late,
                       double psnr, double bytes_per_frame, uint64_t stamps_ok,
                       uint64_t delayed, const struct pvs_bench_stage *st)
{
    struct pvs_json j;
    if (pvs_json_open(&j, path) < 0)
        return PVS_EIO;
    char size[32];
    snprintf(size, sizeof(size), "%dx%d", s->size[0], s->size[1]);
    pvs_json_begin(&j, NULL);
    pvs_json_str(&j, "encoder", encoder);
    pvs_json_str(&j, "decoder", decoder);
    pvs_json_str(&j, "codec", codec_choices[s->codec]);
    pvs_json_str(&j, "size", size);
    pvs_json_num(&j, "fps", fps);
    pvs_json_int(&j, "target_fps", s->fps);
    pvs_json_str(&j, "source", s->source);
    pvs_json_str(&j, "content", pvs_content_names[s->content]);
    pvs_json_int(&j, "frames", (int64_t)frames);
    pvs_json_int(&j, "late_frames", (int64_t)late);
    pvs_json_int(&j, "delayed_packets", (int64_t)delayed);
    pvs_json_int(&j, "stamps_read", (int64_t)stamps_ok);
    pvs_json_num(&j, "psnr_y", psnr);
    pvs_json_num(&j, "bytes_per_frame", bytes_per_frame);
    pvs_json_begin(&j, "stages");
    for (int i = 0; i < ST_COUNT; i++)
        pvs_json_stats(&j, st[i].name, &st[i].stats);
    pvs_json_end(&j);
    pvs_json_end(&j);
    return pvs_json_close(&j);
}

/* "desktop content" for the test desktop, "the x11 desktop" for the others. */
static const char *source_text(const struct settings *s, const struct pvs_capture *cap)
{
    static char buf[64];
    if (!strcmp(cap->ops->name, "testsrc"))
        snprintf(buf, sizeof(buf), "%s content", pvs_content_names[s->content]);
    else
        snprintf(buf, sizeof(buf), "the %s desktop", cap->ops->name);
    return buf;
}

int pvs_bench_encode(int argc, char **argv)
{
    struct settings s = { .source = "testsrc", .encoder = "auto", .codec = CODEC_AUTO,
                          .size = { 1920, 1080 }, .fps = 60,
                          .frames = 600, .content = PVS_CONTENT_DESKTOP, .decoder = "auto" };
    int rc = pvs_bench_parse("encode", "Test desktop -> convert -> encode -> decode in one process; "
                             "prints per-stage latency.", options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("encode", s.size, PVS_TESTSRC_MAX_HEIGHT);
    if (rc >= 0)
        return rc;
    if (strcmp(s.encoder, "auto")) {
        const struct pvs_encoder_info *info = pvs_encoder_info_find(s.encoder);
        if (!info) {
            fprintf(stderr, "pvstream-bench encode: --encoder '%s': unknown encoder "
                    "(`pvstream-bench encoders` lists them)\n", s.encoder);
            return 2;
        }
        if (s.codec != CODEC_AUTO && s.codec != (int)info->codec) {
            fprintf(stderr, "pvstream-bench encode: --encoder %s encodes %s, not --codec %s\n",
                    s.encoder, pvs_codec_name(info->codec), codec_choices[s.codec]);
            return 2;
        }
        s.codec = (int)info->codec;
    } else if (s.codec == CODEC_AUTO) {
        s.codec = PVS_CODEC_H264;
    }

    struct pvs_capture *cap = NULL;
    struct pvs_encoder *enc = NULL;
    struct pvs_feed *feed = NULL;
    struct pvs_decoder *dec = NULL;
    struct pvs_bench_stage *st = calloc(ST_COUNT, sizeof(*st));
    rc = 1;
    int err = 0;
    if (!st)
        goto out;

    bool testsrc = !strcmp(s.source, "testsrc");
    struct pvs_capture_opts co = { .width = testsrc ? s.size[0] : 0, .height = testsrc ? s.size[1] : 0,
                                   .fps = s.fps, .content = (enum pvs_content)s.content,
                                   .gpu_frames = true /* as the server asks */ };
    if (pvs_capture_open(&cap, testsrc || !strcmp(s.source, "desktop") ? (testsrc ? "testsrc" : "auto")
                                                                       : s.source, &co) < 0) {
        rc = pvs_capture_find(s.source) || !strcmp(s.source, "desktop") ? 1 : 2;
        if (rc == 2)
            fprintf(stderr, "pvstream-bench encode: --source '%s': testsrc, desktop, or a capture "
                    "backend of this build\n", s.source);
        goto out;
    }
    if (!testsrc) {
        if (!strcmp(cap->ops->name, "testsrc")) {
            fprintf(stderr, "pvstream-bench encode: --source %s: no desktop to capture here "
                    "(the log says why each backend was passed over)\n", s.source);
            goto out;
        }
        /* A desktop is captured whole: the encoder takes its size. */
        struct pvs_frame first;
        if ((err = pvs_capture_next(cap, &first, 2000)) < 0) {
            fprintf(stderr, "capture failed: %s\n", pvs_strerror(err));
            goto out;
        }
        s.size[0] = first.img.width;
        s.size[1] = first.img.height;
        pvs_capture_release(cap, &first);
    }
    struct pvs_encoder_opts eo = { .codec = (enum pvs_codec)s.codec, .width = s.size[0],
                                   .height = s.size[1], .fps = s.fps, .bitrate = s.bitrate,
                                   .threads = s.threads, .d3d11_device = pvs_capture_d3d11_device(cap) };
    if (pvs_encoder_open(&enc, s.encoder, &eo) < 0 ||
        pvs_feed_open(&feed, cap, enc, s.size[0], s.size[1]) < 0)
        goto out;
    struct pvs_decoder_opts dopt = { .codec = eo.codec, .hw = s.decoder, .threads = s.threads };
    err = pvs_decoder_open(&dec, &dopt);
    if (err < 0) {
        rc = err == PVS_EINVAL ? 2 : 1; /* an unknown --decoder: said in the log */
        goto out;
    }

    for (int i = 0; i < ST_COUNT; i++) {
        st[i].name = stage_names[i];
        pvs_stats_reset(&st[i].stats);
        st[i].per_frame_ms = calloc((size_t)s.frames, sizeof(float));
        if (!st[i].per_frame_ms)
            goto out;
    }

    int64_t bitrate = s.bitrate ? s.bitrate : (int64_t)((double)s.size[0] * s.size[1] * s.fps * 0.15);
    fprintf(stderr, "encoding %d frames of %s at %dx%d, %d fps, %.1f Mbit/s with %s (%s); "
            "decoding with %s\n", s.frames, source_text(&s, cap), s.size[0], s.size[1], s.fps,
            (double)bitrate / 1e6, pvs_encoder_name(enc), pvs_feed_path_name(pvs_feed_path(feed)),
            pvs_decoder_describe(dec));

    uint64_t frames = 0, stamps_ok = 0, psnr_n = 0;
    double psnr_sum = 0;
    int64_t first_ns = 0, last_ns = 0;
    while (frames < (uint64_t)s.frames) {
        struct pvs_frame f;
        err = pvs_capture_next(cap, &f, 1000);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err == PVS_EREINIT) {
            fprintf(stderr, "the desktop changed size: measure again\n");
            goto out;
        }
        if (err < 0) {
            fprintf(stderr, "capture failed: %s\n", pvs_strerror(err));
            goto out;
        }
        int64_t t_cap = pvs_time_ns();
        if (pvs_feed_frame(feed, &f) < 0) {
            fprintf(stderr, "conversion failed\n");
            goto out;
        }
        int64_t t_conv = pvs_time_ns();
        struct pvs_packet pkt;
        err = pvs_encoder_encode(enc, f.number, f.capture_ns, frames == 0, &pkt);
        int64_t t_enc = pvs_time_ns();
        uint64_t number = f.number;
        int64_t captured = f.capture_ns;
        pvs_capture_release(cap, &f); /* clears f */
        if (err == PVS_EAGAIN)
            continue; /* counted by the encoder as delayed; nothing to decode yet */
        if (err < 0)
            goto out;
        struct pvs_decoded d;
        err = pvs_decoder_decode(dec, &pkt, &d);
        int64_t t_dec = pvs_time_ns();
        if (err == PVS_EAGAIN)
            continue;
        if (err < 0) {
            fprintf(stderr, "decode failed: %s\n", pvs_strerror(err));
            goto out;
        }

        /* The stamp, read back from what was decoded, is the truth for the
         * total: it is what any other pipeline is measured by. */
        struct pvs_stamp stamp;
        int64_t origin = d.capture_ns;
        if (pvs_stamp_read(&d.img, &stamp) == 0 && stamp.frame == (uint32_t)d.frame) {
            stamps_ok++;
            origin = (int64_t)stamp.time_us * 1000;
        }
        /* An encoder that holds frames back (SVT-AV1) gives an earlier frame
         * than f: capture is f's stage, the others the decoded frame's. */
        int64_t lat[ST_COUNT] = {
            t_cap - captured, t_conv - t_cap, t_enc - t_conv, t_dec - t_enc, t_dec - origin,
        };
        for (int i = 0; i < ST_COUNT; i++) {
            pvs_stats_add(&st[i].stats, lat[i]);
            st[i].per_frame_ms[frames] = (float)lat[i] / 1e6f;
        }
        /* The encoder's system-memory input still holds it (not on the
         * zero-copy path, where the picture never was in system memory). */
        struct pvs_image *in = pvs_feed_path(feed) == PVS_FEED_ZERO_COPY ? NULL : pvs_encoder_input(enc);
        if (d.frame == number && in) {
            psnr_sum += psnr_luma(in, &d.img);
            psnr_n++;
        }
        if (!frames)
            first_ns = d.capture_ns;
        last_ns = d.capture_ns;
        frames++;
        if (frames % 30 == 0 || frames == (uint64_t)s.frames)
            pvs_bench_progress("frames", frames, (uint64_t)s.frames);
    }

    struct pvs_encoder_stats es;
    pvs_encoder_get_stats(enc, &es);
    double fps = frames > 1 && last_ns > first_ns ? (double)(frames - 1) * 1e9 / (double)(last_ns - first_ns) : 0;
    /* NaN (JSON null, "n/a") when every packet came out delayed */
    double psnr = psnr_n ? psnr_sum / (double)psnr_n : NAN;
    char psnr_text[32] = "n/a";
    if (psnr_n)
        snprintf(psnr_text, sizeof(psnr_text), "%.2f dB", psnr);
    double bpf = es.packets ? (double)es.bytes / (double)es.packets : 0;

    printf("pvstream-bench encode: %s -> %s, %s %dx%d at %d fps, %.1f Mbit/s, %s; %s\n",
           pvs_encoder_name(enc), pvs_decoder_describe(dec), codec_choices[eo.codec], s.size[0],
           s.size[1], s.fps, (double)bitrate / 1e6, source_text(&s, cap),
           pvs_feed_path_name(pvs_feed_path(feed)));
    pvs_bench_print_table(stdout, st, ST_COUNT);
    printf("frames %llu, achieved %.2f fps, late %llu, delayed packets %llu, %.1f KB/frame, "
           "PSNR-Y %s, stamps read %llu/%llu\n",
           (unsigned long long)frames, fps, (unsigned long long)cap->stats.late,
           (unsigned long long)es.delayed, bpf / 1000.0, psnr_text, (unsigned long long)stamps_ok,
           (unsigned long long)frames);

    if (s.json[0] && write_json(s.json, &s, pvs_encoder_name(enc), pvs_decoder_describe(dec), fps,
                                frames, cap->stats.late, psnr, bpf, stamps_ok, es.delayed, st) < 0)
        goto out;
    if (s.svg[0]) {
        char title[256];
        snprintf(title, sizeof(title), "%s %dx%d@%d %s: per-frame latency (ms)",
                 pvs_encoder_name(enc), s.size[0], s.size[1], s.fps, pvs_content_names[s.content]);
        if (pvs_bench_svg(s.svg, title, st, ST_COUNT, frames) < 0)
            goto out;
    }
    /* Only the test desktop carries the stamp (a desktop may, when
     * `pvstream-bench paint` draws on it: then the total is from it too). */
    rc = !testsrc || stamps_ok == frames ? 0 : 1;
    if (rc)
        fprintf(stderr, "%llu decoded frames had no readable stamp\n",
                (unsigned long long)(frames - stamps_ok));

out:
    pvs_decoder_close(&dec);
    pvs_feed_close(&feed);
    pvs_encoder_close(&enc);
    pvs_capture_close(&cap);
    if (st)
        for (int i = 0; i < ST_COUNT; i++)
            free(st[i].per_frame_ms);
    free(st);
    return rc;
}
