/* pvstream-bench net: the media transport on its own. A short clip of the
 * test desktop is encoded once; then it is replayed at the frame rate, over
 * and over, through packetizer -> FEC -> SRTP -> UDP loopback -> (loss
 * simulator) -> SRTP -> reassembly, with the sender and the receiver each on
 * its own thread (net/replay.h). Every frame that comes out is compared with
 * what was sent.
 *
 * Latency runs from a frame's first datagram leaving the sender to the frame
 * complete at the receiver, both on this machine's monotonic clock. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/clip.h"
#include "common/error.h"
#include "net/fec.h"
#include "net/media.h"
#include "net/replay.h"

struct settings {
    int size[2];
    int fps;
    int64_t bitrate;
    int seconds;
    char loss[PVS_OPT_STRING_MAX];
    char losssim[PVS_OPT_STRING_MAX];
    char encoder[PVS_OPT_STRING_MAX];
    int content;
    int clip;
    int datagram;
    int fec_percent;
    int fec_min;
    int64_t pace;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, ch, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, ch, mv, h }
static const struct pvs_option options[] = {
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, NULL, "WxH", "frame size of the clip: even"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, NULL, "N", "frames per second, for the clip and the replay"),
    OPT("bitrate", PVS_OPT_INT64, bitrate, 0, 2000000000, NULL, "BITS",
        "bits per second of the clip (k/M/G suffixes); 0 = 0.15 bit per pixel"),
    OPT("seconds", PVS_OPT_INT, seconds, 1, 3600, NULL, "S", "how long to replay"),
    OPT("loss", PVS_OPT_STRING, loss, 0, 0, NULL, "PCT",
        "random packet loss to simulate, percent (0..100; fractions allowed)"),
    OPT("losssim", PVS_OPT_STRING, losssim, 0, 0, NULL, "SPEC",
        "full loss simulator settings instead, e.g. loss=5,burst=3,reorder=1,dup=1,delay=2000,jitter=500,seed=7"),
    OPT("encoder", PVS_OPT_STRING, encoder, 0, 0, NULL, "auto|NAME", "encoder for the clip"),
    OPT("content", PVS_OPT_CHOICE, content, 0, 0, pvs_content_names, "KIND",
        "test desktop content of the clip: static, desktop or game"),
    OPT("clip", PVS_OPT_INT, clip, 0, 10000, NULL, "N", "frames in the clip (replayed in a loop); 0 = one second's"),
    OPT("datagram", PVS_OPT_INT, datagram, PVS_MEDIA_MIN_DATAGRAM, PVS_MEDIA_MAX_DATAGRAM, NULL,
        "BYTES", "UDP payload per datagram"),
    OPT("fec-percent", PVS_OPT_INT, fec_percent, 0, 100, NULL, "PCT", "parity shards as a share of data shards"),
    OPT("fec-min", PVS_OPT_INT, fec_min, 0, 16, NULL, "N", "at least this many parity shards per block"),
    OPT("pace", PVS_OPT_INT64, pace, 0, 100000000000LL, NULL, "BITS",
        "pacing rate within a frame, bits per second (k/M/G suffixes); 0 = off, the default "
        "here: loopback has no switch to protect (the server paces at 1G)"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, NULL, "FILE", "also write the results as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static int write_json(const char *path, const struct pvs_replay_result *r)
{
    struct pvs_json j;
    if (pvs_json_open(&j, path) < 0)
        return PVS_EIO;
    struct pvs_stats_summary l;
    pvs_stats_summarize(&r->latency, &l);
    pvs_json_begin(&j, NULL);
    pvs_json_int(&j, "frames_sent", (int64_t)r->frames_sent);
    pvs_json_int(&j, "frames_complete", (int64_t)r->frames_intact);
    pvs_json_int(&j, "frames_recovered_fec", (int64_t)r->frames_recovered);
    pvs_json_int(&j, "frames_lost", (int64_t)r->frames_lost);
    pvs_json_int(&j, "packets_sent", (int64_t)r->packets_sent);
    pvs_json_int(&j, "packets_lost", (int64_t)r->packets_lost);
    pvs_json_begin(&j, "latency");
    pvs_json_num(&j, "p50_ms", l.p50_ms);
    pvs_json_num(&j, "p99_ms", l.p99_ms);
    pvs_json_num(&j, "max_ms", l.max_ms);
    pvs_json_end(&j);
    pvs_json_num(&j, "sender_cpu_pct", r->sender_cpu_pct);
    pvs_json_num(&j, "receiver_cpu_pct", r->receiver_cpu_pct);
    pvs_json_int(&j, "keyframe_requests", (int64_t)r->keyframe_requests);
    pvs_json_int(&j, "frames_mismatched", (int64_t)r->frames_mismatched);
    pvs_json_end(&j);
    return pvs_json_close(&j);
}

int pvs_bench_net(int argc, char **argv)
{
    struct settings s = { .size = { 1920, 1080 }, .fps = 60, .seconds = 10, .loss = "0",
                          .encoder = "auto", .content = PVS_CONTENT_GAME,
                          .datagram = PVS_MEDIA_DEFAULT_DATAGRAM,
                          .fec_percent = PVS_FEC_DEFAULT_PERCENT,
                          .fec_min = PVS_FEC_DEFAULT_MIN_PARITY };
    int rc = pvs_bench_parse("net", "Replays an encoded clip through packetize -> FEC -> SRTP -> "
                             "UDP loopback -> SRTP -> reassembly; prints transport latency, "
                             "loss and CPU.", options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("net", s.size, PVS_TESTSRC_MAX_HEIGHT);
    if (rc >= 0)
        return rc;
    char *end = NULL;
    double loss = strtod(s.loss, &end);
    if (end == s.loss || *end || !(loss >= 0 && loss <= 100)) {
        fprintf(stderr, "pvstream-bench net: --loss '%s': a percentage 0..100 (see --help)\n", s.loss);
        return 2;
    }
    if (loss > 0 && s.losssim[0]) {
        fprintf(stderr, "pvstream-bench net: --loss and --losssim: give one of them\n");
        return 2;
    }
    char sim[PVS_OPT_STRING_MAX];
    if (s.losssim[0])
        snprintf(sim, sizeof(sim), "%s", s.losssim);
    else if (loss > 0)
        snprintf(sim, sizeof(sim), "loss=%g,seed=1", loss);
    else
        sim[0] = '\0';

    int64_t bitrate = s.bitrate ? s.bitrate : (int64_t)((double)s.size[0] * s.size[1] * s.fps * 0.15);
    int clip_frames = s.clip ? s.clip : s.fps;
    struct pvs_encoder_opts eo = { .codec = PVS_CODEC_H264, .width = s.size[0], .height = s.size[1],
                                   .fps = s.fps, .bitrate = bitrate };
    if (strcmp(s.encoder, "auto")) {
        const struct pvs_encoder_info *info = pvs_encoder_info_find(s.encoder);
        if (!info) {
            fprintf(stderr, "pvstream-bench net: --encoder '%s': unknown encoder "
                    "(`pvstream-bench encoders` lists them)\n", s.encoder);
            return 2;
        }
        eo.codec = info->codec;
    }
    fprintf(stderr, "encoding a %d-frame clip of %s content at %dx%d, %d fps, %.1f Mbit/s\n",
            clip_frames, pvs_content_names[s.content], s.size[0], s.size[1], s.fps,
            (double)bitrate / 1e6);
    struct pvs_clip clip;
    if (pvs_clip_record(&clip, s.encoder, &eo, (enum pvs_content)s.content, clip_frames, true) < 0)
        return 1;

    struct pvs_packet *frames = calloc((size_t)clip.count, sizeof(*frames));
    rc = 1;
    if (!frames)
        goto out;
    for (int i = 0; i < clip.count; i++)
        frames[i] = (struct pvs_packet){ .data = clip.frames[i].data, .size = clip.frames[i].size,
                                         .keyframe = clip.frames[i].keyframe };

    struct pvs_replay_config run = {
        .frames = frames, .frame_count = clip.count, .fps = s.fps,
        .total_frames = (uint64_t)s.seconds * (uint64_t)s.fps,
        .sender = { .packetizer = { .datagram_size = s.datagram, .fec_percent = s.fec_percent,
                                    .fec_min_parity = s.fec_min },
                    .pace_bps = s.pace, .dscp = -1 },
        .receiver = { .reassembly = { .fps = s.fps }, .datagram_size = s.datagram,
                      .losssim = sim },
        .honour_keyframe_requests = true, .progress = true,
    };
    double clip_mbps = (double)clip.bytes * 8 * s.fps / clip.count / 1e6;
    char pace[32];
    if (s.pace)
        snprintf(pace, sizeof(pace), "%.0f Mbit/s", (double)s.pace / 1e6);
    else
        snprintf(pace, sizeof(pace), "off");
    fprintf(stderr, "replaying for %d s: clip of %d frames with %s, %.1f Mbit/s at %d fps, "
            "%d-byte datagrams, FEC %d %% (at least %d), pacing %s%s%s\n",
            s.seconds, clip.count, clip.encoder, clip_mbps, s.fps, s.datagram, s.fec_percent,
            s.fec_min, pace, sim[0] ? ", loss simulator " : "", sim);

    struct pvs_replay_result r;
    int err = pvs_replay_run(&run, &r);
    if (err) {
        fprintf(stderr, "pvstream-bench net: %s\n", pvs_strerror(err));
        goto out;
    }
    struct pvs_stats_summary l;
    pvs_stats_summarize(&r.latency, &l);
    printf("pvstream-bench net: %dx%d at %d fps, %.1f Mbit/s of video, %.1f s\n", s.size[0],
           s.size[1], s.fps, clip_mbps, r.seconds);
    printf("frames   sent %llu, complete %llu (%llu rebuilt by FEC), lost %llu, keyframe requests %llu\n",
           (unsigned long long)r.frames_sent, (unsigned long long)r.frames_intact,
           (unsigned long long)r.frames_recovered, (unsigned long long)r.frames_lost,
           (unsigned long long)r.keyframe_requests);
    printf("packets  sent %llu (%llu parity), lost %llu, UDP GSO %s\n",
           (unsigned long long)r.packets_sent, (unsigned long long)r.tx.parity_packets,
           (unsigned long long)r.packets_lost, r.gso ? "on" : "off");
    printf("latency  first packet sent -> frame complete: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           l.p50_ms, l.p99_ms, l.max_ms);
    printf("cpu      sender %.1f %%, receiver %.1f %% of one core\n", r.sender_cpu_pct,
           r.receiver_cpu_pct);
    if (r.frames_mismatched)
        printf("ERROR    %llu frames came out different from what was sent: this is a bug\n",
               (unsigned long long)r.frames_mismatched);
    if (r.late_sends)
        printf("note     the sender started %llu frames late (this machine was busy)\n",
               (unsigned long long)r.late_sends);
    rc = r.frames_mismatched ? 1 : 0;
    if (s.json[0] && write_json(s.json, &r) < 0)
        rc = 1;
out:
    free(frames);
    pvs_clip_free(&clip);
    return rc;
}
