/* pvstream-bench encode: testsrc -> convert -> encode -> decode in one
 * process, every stage timed per frame, the stamp read back from every
 * decoded frame; or, with --encoder all and lists of sizes, rates and
 * contents, every encoder that opens here over every combination, compared
 * in one table.
 *
 * Stages, each of the decoded frame itself:
 *   capture  from the frame's capture time to the source handing it over
 *   convert  BGRA -> NV12/I420 into the encoder's own buffer or texture
 *            (encode/feed.h: on the CPU; or, for Desktop Duplication's GPU
 *            frames, the GPU work queued, which the encoder then waits
 *            for, so its time shows in the next stage)
 *   encode   the frame submitted -> its own packet out. An encoder that
 *            holds frames back (SVT-AV1) returns a frame's packet only
 *            when later frames are submitted: that wait is part of this
 *            stage (libsvtav1 at 1280x720, game: timing each call alone
 *            gave encode p50 3.5 ms of a 69 ms total; now 51 of 57 ms)
 *   decode   its packet in -> its picture out
 *   total    capture time (as read from the decoded stamp) -> decoded
 * So the four stages add up to the total for every frame (the stamp keeps
 * microseconds: the gap is under 1 us); the report says how closely.
 *
 * A run measures --frames, or --seconds of the mode's frame rate. Bounded
 * by time (not by --frames given alone): it stops at 1.5 times --seconds,
 * and after 1 s when fewer than half of the frames come out, and says
 * "too slow: 23 of 60 fps" when it delivered under 95 % of the rate. */
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

#define LIST_MAX 8        /* values in one of --size, --fps, --content */
#define KEEPS_UP 0.95     /* of the mode's frame rate: below, "too slow" */
#define GIVE_UP 0.5       /* ...below this after GIVE_UP_NS: stopped early */
#define GIVE_UP_NS 1000000000LL

struct settings {
    char source[PVS_OPT_STRING_MAX];
    char encoder[PVS_OPT_STRING_MAX];
    int codec;
    char size[PVS_OPT_STRING_MAX];
    char fps[PVS_OPT_STRING_MAX];
    int64_t bitrate;
    int frames;
    int seconds;
    char content[PVS_OPT_STRING_MAX];
    int threads;
    bool frame_threads;
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
    OPT("encoder", PVS_OPT_STRING, encoder, 0, 0, NULL, "auto|all|NAME",
        "encoder: auto probes hardware first, then software; all runs every encoder that works "
        "here (the probe of `pvstream-bench encoders`) and compares them; NAME as listed there"),
    OPT("codec", PVS_OPT_CHOICE, codec, 0, 0, codec_choices, "CODEC",
        "auto: the named encoder's codec, or h264 with --encoder auto; with all, only this codec's"),
    OPT("size", PVS_OPT_STRING, size, 0, 0, NULL, "WxH[,WxH...]",
        "frame size: even, at most 7680x4320; a list runs each"),
    OPT("fps", PVS_OPT_STRING, fps, 0, 0, NULL, "N[,N...]",
        "frames per second the test desktop paces to (1..240); a list runs each"),
    OPT("bitrate", PVS_OPT_INT64, bitrate, 0, 2000000000, NULL, "BITS",
        "bits per second (k/M/G suffixes); 0 = 0.15 bit per pixel"),
    OPT("frames", PVS_OPT_INT, frames, 0, 1000000, NULL, "N",
        "frames to measure; 0 = --seconds of the frame rate, bounded in time"),
    OPT("seconds", PVS_OPT_INT, seconds, 0, 3600, NULL, "S",
        "length of each run when --frames is 0; 0 = 10, or 3 when comparing"),
    OPT("content", PVS_OPT_STRING, content, 0, 0, NULL, "KIND[,KIND...]",
        "test desktop content: static, desktop (mostly unchanged) or game (full-screen motion); "
        "a list runs each"),
    OPT("threads", PVS_OPT_INT, threads, 0, 64, NULL, "N", "encoder and decoder slice threads; 0 = one per core"),
    OPT("frame-threads", PVS_OPT_BOOL, frame_threads, 0, 0, NULL, NULL,
        "the encoder threads by frame instead of by slice (to compare: each thread holds a frame)"),
    OPT("decoder", PVS_OPT_STRING, decoder, 0, 0, NULL, "auto|software|TYPE",
        "decoder: auto tries hardware first"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, NULL, "FILE",
        "also write the results as JSON (a list of the runs' objects when comparing)"),
    OPT("svg", PVS_OPT_STRING, svg, 0, 0, NULL, "FILE",
        "also draw per-frame latency (one run) or the runs side by side (comparing) as SVG"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

enum { ST_CAPTURE, ST_CONVERT, ST_ENCODE, ST_DECODE, ST_TOTAL, ST_COUNT };
static const char *const stage_names[ST_COUNT] = { "capture", "convert", "encode", "decode", "total" };

/* One combination of the lists. */
struct mode {
    int size[2];
    int fps;
    int content;
};

/* One run: what ran, and what it measured. */
struct run {
    char encoder[32];
    char decoder[128];
    char source[64];   /* "game content", "the x11 desktop" */
    char feed[96];
    enum pvs_codec codec;
    struct mode m;
    int64_t bitrate;   /* the target */
    uint64_t frames, late, delayed, held, stamps_ok;
    int held_max;      /* most later frames submitted before a packet came out */
    double fps, psnr, bytes_per_frame;
    double gap_pct;    /* mean |total - sum of the stages| over the mean total */
    bool opened, keeps_up, gave_up;
    char status[64];   /* "ok", "too slow: 23 of 60 fps" */
    struct pvs_bench_stage st[ST_COUNT];
};

/* What the loop keeps of each frame in flight, by frame number, until its
 * picture is decoded: far more slots than any encoder holds frames. */
#define RING 256
struct inflight {
    uint64_t number;
    bool used, packet_out;
    uint64_t submission;   /* its index among the frames submitted */
    int64_t captured, handed, submitted, packet_ns;
};

/* A copy of one held frame's luma, for PSNR once its picture comes back
 * (the encoder's input buffer holds a later frame by then). */
struct saved_luma {
    bool used;
    uint64_t number;
    uint8_t *y;
    int width, height;
};

static double psnr_planes(const uint8_t *p0, int ps, const uint8_t *q0, int qs, int w, int h)
{
    uint64_t sse = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *p = p0 + (size_t)y * (size_t)ps, *q = q0 + (size_t)y * (size_t)qs;
        uint32_t row = 0;
        for (int x = 0; x < w; x++) {
            int d = p[x] - q[x];
            row += (uint32_t)(d * d);
        }
        sse += row;
    }
    if (!sse)
        return 100.0;
    double mse = (double)sse / ((double)w * h);
    return 10.0 * log10(255.0 * 255.0 / mse);
}

static void save_luma(struct saved_luma *s, const struct pvs_image *in, uint64_t number)
{
    if (s->used || !in || !s->y || in->width != s->width || in->height != s->height)
        return;
    for (int y = 0; y < in->height; y++)
        memcpy(s->y + (size_t)y * (size_t)in->width, in->data[0] + (size_t)y * (size_t)in->stride[0],
               (size_t)in->width);
    s->number = number;
    s->used = true;
}

/* ---- lists of values --------------------------------------------------- */

/* "A,B,C" into up to LIST_MAX elements of `size` bytes, each read by
 * `item` (an option whose field is at offset 0). Returns the count, or -1
 * after saying what is wrong. */
static int parse_list(const char *flag, const struct pvs_option *item, const char *text,
                      void *out, size_t size)
{
    int n = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char tok[64], why[160];
        if (n == LIST_MAX || len == 0 || len >= sizeof(tok)) {
            fprintf(stderr, "pvstream-bench encode: --%s '%s': %s (see --help)\n", flag, text,
                    n == LIST_MAX ? "too many values (at most 8)" : "an empty or overlong value");
            return -1;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (pvs_config_set(item, (char *)out + (size_t)n * size, tok, why, sizeof(why)) < 0) {
            fprintf(stderr, "pvstream-bench encode: --%s '%s': %s (see --help)\n", flag, tok, why);
            return -1;
        }
        n++;
        p += len + (end ? 1 : 0);
    }
    if (!n)
        fprintf(stderr, "pvstream-bench encode: --%s: no value (see --help)\n", flag);
    return n ? n : -1;
}

/* Every combination of --size, --fps and --content into `modes` (at most
 * LIST_MAX^3). Returns the count, or -1 after an error (exit code 2). */
static int parse_modes(const struct settings *s, struct mode *modes)
{
    static const struct pvs_option size_item = { "bench", "size", "size", PVS_OPT_SIZE, 0, 128, 7680,
                                                 NULL, NULL, NULL };
    static const struct pvs_option fps_item = { "bench", "fps", "fps", PVS_OPT_INT, 0, 1, 240,
                                                NULL, NULL, NULL };
    static const struct pvs_option content_item = { "bench", "content", "content", PVS_OPT_CHOICE, 0,
                                                    0, 0, pvs_content_names, NULL, NULL };
    int sizes[LIST_MAX][2], fps[LIST_MAX], contents[LIST_MAX];
    int ns = parse_list("size", &size_item, s->size, sizes, sizeof(sizes[0]));
    int nf = ns < 0 ? -1 : parse_list("fps", &fps_item, s->fps, fps, sizeof(fps[0]));
    int nc = nf < 0 ? -1 : parse_list("content", &content_item, s->content, contents, sizeof(contents[0]));
    if (nc < 0)
        return -1;
    int n = 0;
    for (int i = 0; i < ns; i++) {
        if (pvs_bench_check_size("encode", sizes[i], PVS_TESTSRC_MAX_HEIGHT) >= 0)
            return -1;
        for (int j = 0; j < nf; j++)
            for (int k = 0; k < nc; k++)
                modes[n++] = (struct mode){ { sizes[i][0], sizes[i][1] }, fps[j], contents[k] };
    }
    return n;
}

/* ---- one run ----------------------------------------------------------- */

static void source_text(char *out, size_t len, const struct mode *m, const struct pvs_capture *cap)
{
    if (!strcmp(cap->ops->name, "testsrc"))
        snprintf(out, len, "%s content", pvs_content_names[m->content]);
    else
        snprintf(out, len, "the %s desktop", cap->ops->name);
}

static void stages_free(struct run *r)
{
    for (int i = 0; i < ST_COUNT; i++) {
        free(r->st[i].per_frame_ms);
        r->st[i].per_frame_ms = NULL;
    }
}

static int stages_alloc(struct run *r, uint64_t frames)
{
    for (int i = 0; i < ST_COUNT; i++) {
        r->st[i].name = stage_names[i];
        pvs_stats_reset(&r->st[i].stats);
        r->st[i].per_frame_ms = calloc((size_t)frames, sizeof(float));
        if (!r->st[i].per_frame_ms)
            return PVS_ENOMEM;
    }
    return 0;
}

/* How closely the stages add up to the total: the mean of |total - sum|
 * over the mean total, in percent. */
static double stage_gap_pct(const struct run *r)
{
    double gap = 0, total = 0;
    for (uint64_t f = 0; f < r->frames; f++) {
        double sum = 0;
        for (int i = 0; i < ST_TOTAL; i++)
            sum += r->st[i].per_frame_ms[f];
        gap += fabs(r->st[ST_TOTAL].per_frame_ms[f] - sum);
        total += r->st[ST_TOTAL].per_frame_ms[f];
    }
    return total > 0 ? 100.0 * gap / total : 0;
}

/* The frame rate achieved and what it means for the mode: between the
 * first and last frames measured, or when stopped early (a frame or two
 * in a second), over the time until the stop. */
static void judge(struct run *r, int64_t first_ns, int64_t last_ns, int64_t stop_ns)
{
    if (r->gave_up && stop_ns > first_ns)
        r->fps = (double)r->frames * 1e9 / (double)(stop_ns - first_ns);
    else
        r->fps = r->frames > 1 && last_ns > first_ns
                     ? (double)(r->frames - 1) * 1e9 / (double)(last_ns - first_ns) : 0;
    r->keeps_up = !r->gave_up && r->fps >= KEEPS_UP * r->m.fps;
    if (r->keeps_up)
        snprintf(r->status, sizeof(r->status), "ok");
    else
        snprintf(r->status, sizeof(r->status), "too slow: %.*f of %d fps%s", r->fps < 9.95 ? 1 : 0,
                 r->fps, r->m.fps, r->gave_up ? " (stopped after 1 s)" : "");
}

struct loop {
    struct pvs_capture *cap;
    struct pvs_encoder *enc;
    struct pvs_feed *feed;
    struct pvs_decoder *dec;
    struct inflight ring[RING];
    struct saved_luma saved;
};

/* The measuring loop: `want` frames, or until `deadline_ns` (0: none).
 * Returns 0 or 1 (said on stderr). */
static int measure(struct loop *L, struct run *r, uint64_t want, int64_t deadline_ns)
{
    uint64_t submitted = 0, psnr_n = 0;
    double psnr_sum = 0;
    int64_t first_ns = 0, last_ns = 0, started = 0;
    bool zero_copy = pvs_feed_path(L->feed) == PVS_FEED_ZERO_COPY;
    int err;
    while (r->frames < want) {
        int64_t now = pvs_time_ns();
        if (deadline_ns && now > deadline_ns)
            break;
        if (deadline_ns && started && now - started > GIVE_UP_NS &&
            (double)r->frames < GIVE_UP * r->m.fps * (double)(now - started) / 1e9) {
            r->gave_up = true;
            break;
        }
        struct pvs_frame f;
        err = pvs_capture_next(L->cap, &f, 1000);
        if (err == PVS_ETIMEDOUT)
            continue;
        if (err == PVS_EREINIT) {
            fprintf(stderr, "the desktop changed size: measure again\n");
            return 1;
        }
        if (err < 0) {
            fprintf(stderr, "capture failed: %s\n", pvs_strerror(err));
            return 1;
        }
        struct inflight *in = &L->ring[f.number % RING];
        *in = (struct inflight){ .number = f.number, .used = true, .submission = submitted,
                                 .captured = f.capture_ns, .handed = pvs_time_ns() };
        if (pvs_feed_frame(L->feed, &f) < 0) {
            fprintf(stderr, "conversion failed\n");
            return 1;
        }
        in->submitted = pvs_time_ns();
        struct pvs_packet pkt;
        err = pvs_encoder_encode(L->enc, f.number, f.capture_ns, submitted == 0, &pkt);
        int64_t t_enc = pvs_time_ns();
        uint64_t number = f.number;
        pvs_capture_release(L->cap, &f); /* clears f */
        submitted++;
        if (err < 0 && err != PVS_EAGAIN)
            return 1;
        bool own = err == 0 && pkt.frame == number;
        if (!own)
            save_luma(&L->saved, zero_copy ? NULL : pvs_encoder_input(L->enc), number);
        if (err == PVS_EAGAIN)
            continue; /* held by the encoder: its packet comes with a later frame */
        struct inflight *e = &L->ring[pkt.frame % RING];
        if (!e->used || e->number != pkt.frame)
            continue; /* not one of ours (cannot happen with RING > the encoder's) */
        e->packet_out = true;
        e->packet_ns = t_enc;
        if (!own) {
            r->held++;
            if ((int)(submitted - 1 - e->submission) > r->held_max)
                r->held_max = (int)(submitted - 1 - e->submission);
        }

        struct pvs_decoded d;
        err = pvs_decoder_decode(L->dec, &pkt, &d);
        int64_t t_dec = pvs_time_ns();
        if (err == PVS_EAGAIN)
            continue;
        if (err < 0) {
            fprintf(stderr, "decode failed: %s\n", pvs_strerror(err));
            return 1;
        }
        struct inflight *k = &L->ring[d.frame % RING];
        if (!k->used || k->number != d.frame || !k->packet_out)
            continue;
        k->used = false;

        /* The stamp, read back from what was decoded, is the truth for the
         * total: it is what any other pipeline is measured by. */
        struct pvs_stamp stamp;
        int64_t origin = k->captured;
        if (pvs_stamp_read(&d.img, &stamp) == 0 && stamp.frame == (uint32_t)d.frame) {
            r->stamps_ok++;
            origin = (int64_t)stamp.time_us * 1000;
        }
        int64_t lat[ST_COUNT] = {
            k->handed - k->captured, k->submitted - k->handed, k->packet_ns - k->submitted,
            t_dec - k->packet_ns, t_dec - origin,
        };
        for (int i = 0; i < ST_COUNT; i++) {
            pvs_stats_add(&r->st[i].stats, lat[i]);
            r->st[i].per_frame_ms[r->frames] = (float)lat[i] / 1e6f;
        }
        /* PSNR against what the encoder was given: still in its input
         * buffer when the packet was the frame's own, else the saved copy
         * (on the zero-copy path the picture never was in system memory). */
        const struct pvs_image *src = d.frame == number && !zero_copy ? pvs_encoder_input(L->enc) : NULL;
        if (src) {
            psnr_sum += psnr_planes(src->data[0], src->stride[0], d.img.data[0], d.img.stride[0],
                                    src->width, src->height);
            psnr_n++;
        } else if (L->saved.used && L->saved.number == d.frame) {
            psnr_sum += psnr_planes(L->saved.y, L->saved.width, d.img.data[0], d.img.stride[0],
                                    L->saved.width, L->saved.height);
            psnr_n++;
        }
        if (L->saved.used && L->saved.number <= d.frame)
            L->saved.used = false;
        if (!r->frames)
            first_ns = started = k->captured;
        last_ns = k->captured;
        r->frames++;
        if (r->frames % 30 == 0 || r->frames == want)
            pvs_bench_progress("frames", r->frames, want);
    }
    if (r->frames < want)
        pvs_bench_progress("frames", r->frames, r->frames); /* ends the line */
    r->late = L->cap->stats.late;
    r->psnr = psnr_n ? psnr_sum / (double)psnr_n : NAN; /* NaN: JSON null, "n/a" */
    judge(r, first_ns, last_ns, pvs_time_ns());
    return 0;
}

/* Opens what one run needs, measures, closes. `r` is filled in (its
 * per-frame arrays too: stages_free them). Returns 0, 1 (the reason was
 * said), 2 (a bad --source or --decoder), or 3 when the encoder did not
 * open (logged; --encoder all goes on with the next). */
static int run_one(const struct settings *s, const char *encoder, enum pvs_codec codec,
                   const struct mode *mode, uint64_t want, int seconds, struct run *r)
{
    struct loop *L = calloc(1, sizeof(*L));
    int rc = 1, err;
    memset(r, 0, sizeof(*r));
    r->m = *mode;
    r->codec = codec;
    r->psnr = NAN;
    snprintf(r->encoder, sizeof(r->encoder), "%s", encoder);
    snprintf(r->status, sizeof(r->status), "did not run");
    if (!L || stages_alloc(r, want) < 0)
        goto out;

    bool testsrc = !strcmp(s->source, "testsrc");
    struct pvs_capture_opts co = { .width = testsrc ? mode->size[0] : 0,
                                   .height = testsrc ? mode->size[1] : 0, .fps = mode->fps,
                                   .content = (enum pvs_content)mode->content,
                                   .gpu_frames = true /* as the server asks */,
                                   .repeat_ms = 1 /* x11: every interval, changed or not */ };
    if (pvs_capture_open(&L->cap, testsrc || !strcmp(s->source, "desktop") ? (testsrc ? "testsrc" : "auto")
                                                                         : s->source, &co) < 0) {
        rc = pvs_capture_find(s->source) || !strcmp(s->source, "desktop") ? 1 : 2;
        if (rc == 2)
            fprintf(stderr, "pvstream-bench encode: --source '%s': testsrc, desktop, or a capture "
                    "backend of this build\n", s->source);
        goto out;
    }
    if (!testsrc) {
        if (!strcmp(L->cap->ops->name, "testsrc")) {
            fprintf(stderr, "pvstream-bench encode: --source %s: no desktop to capture here "
                    "(the log says why each backend was passed over)\n", s->source);
            goto out;
        }
        /* A desktop is captured whole: the encoder takes its size. */
        struct pvs_frame first;
        if ((err = pvs_capture_next(L->cap, &first, 2000)) < 0) {
            fprintf(stderr, "capture failed: %s\n", pvs_strerror(err));
            goto out;
        }
        r->m.size[0] = first.img.width;
        r->m.size[1] = first.img.height;
        pvs_capture_release(L->cap, &first);
    }
    source_text(r->source, sizeof(r->source), &r->m, L->cap);
    struct pvs_encoder_opts eo = { .codec = codec, .width = r->m.size[0], .height = r->m.size[1],
                                   .fps = r->m.fps, .bitrate = s->bitrate, .threads = s->threads,
                                   .frame_threads = s->frame_threads,
                                   .d3d11_device = pvs_capture_d3d11_device(L->cap) };
    if (pvs_encoder_open(&L->enc, encoder, &eo) < 0) {
        rc = 3;
        snprintf(r->status, sizeof(r->status), "did not open (the log says why)");
        goto out;
    }
    r->opened = true;
    if (pvs_feed_open(&L->feed, L->cap, L->enc, r->m.size[0], r->m.size[1]) < 0)
        goto out;
    snprintf(r->encoder, sizeof(r->encoder), "%s", pvs_encoder_name(L->enc));
    snprintf(r->feed, sizeof(r->feed), "%s", pvs_feed_path_name(pvs_feed_path(L->feed)));
    struct pvs_decoder_opts dopt = { .codec = codec, .hw = s->decoder, .threads = s->threads };
    err = pvs_decoder_open(&L->dec, &dopt);
    if (err < 0) {
        rc = err == PVS_EINVAL ? 2 : 1; /* an unknown --decoder: said in the log */
        goto out;
    }
    snprintf(r->decoder, sizeof(r->decoder), "%s", pvs_decoder_describe(L->dec));
    L->saved.width = r->m.size[0];
    L->saved.height = r->m.size[1];
    L->saved.y = malloc((size_t)r->m.size[0] * (size_t)r->m.size[1]);

    r->bitrate = s->bitrate ? s->bitrate
                            : (int64_t)((double)r->m.size[0] * r->m.size[1] * r->m.fps * 0.15);
    fprintf(stderr, "encoding %llu frames of %s at %dx%d, %d fps, %.1f Mbit/s with %s (%s); "
            "decoding with %s\n", (unsigned long long)want, r->source, r->m.size[0], r->m.size[1],
            r->m.fps, (double)r->bitrate / 1e6, r->encoder, r->feed, r->decoder);
    /* --frames alone is a count to reach; a run by time is bounded by it */
    int64_t deadline = seconds ? pvs_time_ns() + (int64_t)seconds * 1500000000LL + 2000000000LL : 0;
    rc = measure(L, r, want, deadline);
    struct pvs_encoder_stats es;
    pvs_encoder_get_stats(L->enc, &es);
    r->delayed = es.delayed;
    r->bytes_per_frame = es.packets ? (double)es.bytes / (double)es.packets : 0;
    r->gap_pct = stage_gap_pct(r);

out:
    if (L) {
        free(L->saved.y);
        pvs_decoder_close(&L->dec);
        pvs_feed_close(&L->feed);
        pvs_encoder_close(&L->enc);
        pvs_capture_close(&L->cap);
    }
    free(L);
    return rc;
}

/* ---- reports ----------------------------------------------------------- */

static double mbps_reached(const struct run *r)
{
    return r->bytes_per_frame * 8 * r->fps / 1e6;
}

static void json_run(struct pvs_json *j, const struct run *r, const char *source)
{
    char size[32];
    snprintf(size, sizeof(size), "%dx%d", r->m.size[0], r->m.size[1]);
    pvs_json_begin(j, NULL);
    pvs_json_str(j, "encoder", r->encoder);
    pvs_json_str(j, "decoder", r->decoder);
    pvs_json_str(j, "codec", codec_choices[r->codec]);
    pvs_json_str(j, "size", size);
    pvs_json_num(j, "fps", r->fps);
    pvs_json_int(j, "target_fps", r->m.fps);
    pvs_json_str(j, "source", source);
    pvs_json_str(j, "content", pvs_content_names[r->m.content]);
    pvs_json_int(j, "frames", (int64_t)r->frames);
    pvs_json_int(j, "late_frames", (int64_t)r->late);
    pvs_json_int(j, "delayed_packets", (int64_t)r->delayed);
    pvs_json_int(j, "held_frames", (int64_t)r->held);
    pvs_json_int(j, "held_max", r->held_max);
    pvs_json_int(j, "stamps_read", (int64_t)r->stamps_ok);
    pvs_json_num(j, "psnr_y", r->psnr);
    pvs_json_num(j, "bytes_per_frame", r->bytes_per_frame);
    pvs_json_int(j, "target_bitrate", r->bitrate);
    pvs_json_num(j, "mbps", mbps_reached(r));
    pvs_json_int(j, "keeps_up", r->keeps_up);
    pvs_json_str(j, "status", r->status);
    pvs_json_num(j, "stage_gap_pct", r->gap_pct);
    pvs_json_begin(j, "stages");
    for (int i = 0; i < ST_COUNT; i++)
        pvs_json_stats(j, r->st[i].name, &r->st[i].stats);
    pvs_json_end(j);
    pvs_json_end(j);
}

static void print_single(const struct run *r)
{
    char psnr[32] = "n/a";
    if (isfinite(r->psnr))
        snprintf(psnr, sizeof(psnr), "%.2f dB", r->psnr);
    printf("pvstream-bench encode: %s -> %s, %s %dx%d at %d fps, %.1f Mbit/s, %s; %s\n",
           r->encoder, r->decoder, codec_choices[r->codec], r->m.size[0], r->m.size[1], r->m.fps,
           (double)r->bitrate / 1e6, r->source, r->feed);
    pvs_bench_print_table(stdout, r->st, ST_COUNT);
    printf("frames %llu, achieved %.2f fps (%s), late %llu, delayed packets %llu, %.1f KB/frame, "
           "PSNR-Y %s, stamps read %llu/%llu\n",
           (unsigned long long)r->frames, r->fps, r->status, (unsigned long long)r->late,
           (unsigned long long)r->delayed, r->bytes_per_frame / 1000.0, psnr,
           (unsigned long long)r->stamps_ok, (unsigned long long)r->frames);
    printf("the stages add up to the total within %.2f %% per frame", r->gap_pct);
    if (r->held)
        printf("; %llu frames were held by the encoder (up to %d later frames): the wait is in "
               "encode", (unsigned long long)r->held, r->held_max);
    printf("\n");
}

static void print_compare(const struct run *runs, int n)
{
    printf("%-10s %-5s %-24s %17s %9s %15s %8s %5s  %s\n", "encoder", "codec", "mode",
           "encode p50/p99 ms", "total p50", "Mbit/s (target)", "PSNR-Y", "late", "status");
    for (int i = 0; i < n; i++) {
        const struct run *r = &runs[i];
        char mode[48], enc[32], rate[32], psnr[16] = "n/a";
        snprintf(mode, sizeof(mode), "%dx%d@%d %s", r->m.size[0], r->m.size[1], r->m.fps,
                 pvs_content_names[r->m.content]);
        if (!r->frames) {
            printf("%-10s %-5s %-24s %17s %9s %15s %8s %5s  %s\n", r->encoder,
                   codec_choices[r->codec], mode, "-", "-", "-", "-", "-", r->status);
            continue;
        }
        struct pvs_stats_summary e, t;
        pvs_stats_summarize(&r->st[ST_ENCODE].stats, &e);
        pvs_stats_summarize(&r->st[ST_TOTAL].stats, &t);
        snprintf(enc, sizeof(enc), "%.2f / %.2f", e.p50_ms, e.p99_ms);
        snprintf(rate, sizeof(rate), "%.1f (%.1f)", mbps_reached(r), (double)r->bitrate / 1e6);
        if (isfinite(r->psnr))
            snprintf(psnr, sizeof(psnr), "%.2f", r->psnr);
        printf("%-10s %-5s %-24s %17s %9.2f %15s %8s %5llu  %s\n", r->encoder,
               codec_choices[r->codec], mode, enc, t.p50_ms, rate, psnr,
               (unsigned long long)r->late, r->status);
    }
    double gap = 0;
    for (int i = 0; i < n; i++)
        gap = runs[i].gap_pct > gap ? runs[i].gap_pct : gap;
    printf("encode = the frame submitted -> its own packet out (with the wait for the later frames "
           "an encoder holds it behind); in every run the stages add up to the total within "
           "%.2f %% per frame\n", gap);
}

/* The runs side by side: encode and total, p50 to p99, one row each. */
static int svg_compare(const char *path, const struct run *runs, int n)
{
    struct pvs_bench_bar_row *rows = calloc((size_t)n, sizeof(*rows));
    char (*labels)[64] = calloc((size_t)n, sizeof(*labels));
    char (*notes)[96] = calloc((size_t)n, sizeof(*notes));
    int rc = PVS_ENOMEM, m = 0;
    if (rows && labels && notes) {
        for (int i = 0; i < n; i++) {
            const struct run *r = &runs[i];
            if (!r->frames)
                continue;
            snprintf(labels[m], sizeof(labels[m]), "%s %dx%d@%d %s", r->encoder, r->m.size[0],
                     r->m.size[1], r->m.fps, pvs_content_names[r->m.content]);
            if (r->keeps_up)
                snprintf(notes[m], sizeof(notes[m]), "%.1f Mbit/s, PSNR-Y %.1f dB", mbps_reached(r),
                         isfinite(r->psnr) ? r->psnr : 0.0);
            else
                snprintf(notes[m], sizeof(notes[m]), "%s", r->status);
            rows[m].label = labels[m];
            rows[m].note = notes[m];
            pvs_stats_summarize(&r->st[ST_ENCODE].stats, &rows[m].series[0]);
            pvs_stats_summarize(&r->st[ST_TOTAL].stats, &rows[m].series[1]);
            m++;
        }
        static const char *const series[2] = { "encode (submitted -> own packet)", "total" };
        rc = pvs_bench_svg_bars(path, "pvstream-bench encode: encoders compared (ms, p50 to p99)",
                                series, 2, rows, m);
    }
    free(rows);
    free(labels);
    free(notes);
    return rc;
}

/* ---- the command ------------------------------------------------------- */

/* The encoders to run: the one named (or auto), or with "all" every one
 * that encodes a probe frame here at the first mode, as `pvstream-bench
 * encoders` probes them. Returns the count (0: none works). */
static int pick_encoders(const struct settings *s, const struct mode *m,
                         const struct pvs_encoder_info **out)
{
    if (strcmp(s->encoder, "all")) {
        out[0] = NULL; /* s->encoder as given */
        return 1;
    }
    enum pvs_log_level saved = pvs_log_get_level();
    if (saved < PVS_LOG_DEBUG)
        pvs_log_set_level(PVS_LOG_WARN); /* FFmpeg's complaints about the absent ones */
    int n = 0;
    for (const struct pvs_encoder_info *i = pvs_encoder_infos; i->name; i++) {
        if (s->codec != CODEC_AUTO && (int)i->codec != s->codec)
            continue;
        struct pvs_encoder_opts o = { .codec = i->codec, .width = m->size[0], .height = m->size[1],
                                      .fps = m->fps };
        char why[256];
        if (pvs_encoder_probe(i->name, &o, why, sizeof(why)) == 0)
            out[n++] = i;
    }
    pvs_log_set_level(saved);
    return n;
}

/* Checks --encoder NAME against --codec; sets s->codec. Returns -1 to go on or 2. */
static int resolve_codec(struct settings *s)
{
    if (!strcmp(s->encoder, "all"))
        return -1;
    if (strcmp(s->encoder, "auto")) {
        const struct pvs_encoder_info *info = pvs_encoder_info_find(s->encoder);
        if (!info) {
            fprintf(stderr, "pvstream-bench encode: --encoder '%s': unknown encoder "
                    "(`pvstream-bench encoders` lists them)\n", s->encoder);
            return 2;
        }
        if (s->codec != CODEC_AUTO && s->codec != (int)info->codec) {
            fprintf(stderr, "pvstream-bench encode: --encoder %s encodes %s, not --codec %s\n",
                    s->encoder, pvs_codec_name(info->codec), codec_choices[s->codec]);
            return 2;
        }
        s->codec = (int)info->codec;
    } else if (s->codec == CODEC_AUTO) {
        s->codec = PVS_CODEC_H264;
    }
    return -1;
}

static int write_results(const struct settings *s, const struct run *runs, int n, bool compare)
{
    if (s->json[0]) {
        struct pvs_json j;
        if (pvs_json_open(&j, s->json) < 0)
            return PVS_EIO;
        if (compare)
            pvs_json_array(&j, NULL);
        for (int i = 0; i < n; i++)
            if (runs[i].opened || !compare)
                json_run(&j, &runs[i], s->source);
        if (compare)
            pvs_json_array_end(&j);
        if (pvs_json_close(&j) < 0)
            return PVS_EIO;
    }
    if (!s->svg[0])
        return 0;
    if (compare)
        return svg_compare(s->svg, runs, n);
    char title[256];
    const struct run *r = &runs[0];
    snprintf(title, sizeof(title), "%s %dx%d@%d %s: per-frame latency (ms)", r->encoder,
             r->m.size[0], r->m.size[1], r->m.fps, pvs_content_names[r->m.content]);
    return pvs_bench_svg(s->svg, title, r->st, ST_COUNT, r->frames);
}

int pvs_bench_encode(int argc, char **argv)
{
    struct settings s = { .source = "testsrc", .encoder = "auto", .codec = CODEC_AUTO,
                          .size = "1920x1080", .fps = "60", .content = "desktop",
                          .decoder = "auto" };
    int rc = pvs_bench_parse("encode", "Test desktop -> convert -> encode -> decode in one process; "
                             "prints per-stage latency, or compares encoders (--encoder all).",
                             options, &s, argc, argv);
    if (rc < 0)
        rc = resolve_codec(&s);
    if (rc >= 0)
        return rc;
    struct mode *modes = calloc(LIST_MAX * LIST_MAX * LIST_MAX, sizeof(*modes));
    const struct pvs_encoder_info *encs[64];
    struct run *runs = NULL;
    int nmodes = modes ? parse_modes(&s, modes) : -1;
    if (nmodes < 0) {
        free(modes);
        return modes ? 2 : 1;
    }
    if (strcmp(s.source, "testsrc") && strchr(s.size, ',')) {
        fprintf(stderr, "pvstream-bench encode: --size lists are for --source testsrc (a desktop "
                "is captured at its own size)\n");
        free(modes);
        return 2;
    }
    int nenc = pick_encoders(&s, &modes[0], encs);
    bool compare = !strcmp(s.encoder, "all") || nmodes > 1;
    int seconds = s.frames ? 0 : s.seconds ? s.seconds : compare ? 3 : 10;
    rc = 1;
    if (!nenc) {
        fprintf(stderr, "pvstream-bench encode: no encoder works here (`pvstream-bench encoders` "
                "says why)\n");
        goto out;
    }
    runs = calloc((size_t)nenc * (size_t)nmodes, sizeof(*runs));
    if (!runs)
        goto out;
    if (compare)
        fprintf(stderr, "comparing %d encoder%s over %d mode%s, %s each\n", nenc, nenc > 1 ? "s" : "",
                nmodes, nmodes > 1 ? "s" : "", seconds ? "a few seconds" : "--frames frames");
    int n = 0;
    rc = 0;
    for (int e = 0; e < nenc; e++) {
        for (int m = 0; m < nmodes; m++) {
            const char *name = encs[e] ? encs[e]->name : s.encoder;
            enum pvs_codec codec = encs[e] ? encs[e]->codec : (enum pvs_codec)s.codec;
            uint64_t want = s.frames ? (uint64_t)s.frames : (uint64_t)seconds * (uint64_t)modes[m].fps;
            int err = run_one(&s, name, codec, &modes[m], want, seconds, &runs[n++]);
            if (err == 3 && compare)
                continue; /* its row says so */
            if (err) {
                rc = err == 3 ? 1 : err;
                goto out_runs;
            }
            /* Only the test desktop carries the stamp (a desktop may, when
             * `pvstream-bench paint` draws on it: then the total is from it
             * too). Without it the total starts at the frame's capture time,
             * which the stamp carries too: a comparison goes on. */
            const struct run *r = &runs[n - 1];
            if (!strcmp(s.source, "testsrc") && r->stamps_ok != r->frames) {
                fprintf(stderr, "%s: %llu of %llu decoded frames had no readable stamp%s\n",
                        r->encoder, (unsigned long long)(r->frames - r->stamps_ok),
                        (unsigned long long)r->frames, compare ? " (their total is from the "
                        "capture time the encoder carried)" : "");
                rc = compare ? rc : 1;
            }
        }
    }
    if (compare)
        print_compare(runs, n);
    else
        print_single(&runs[0]);
    if (write_results(&s, runs, n, compare) < 0)
        rc = 1;

out_runs:
    for (int i = 0; i < n; i++)
        stages_free(&runs[i]);
out:
    free(runs);
    free(modes);
    return rc;
}
