/* pvstream-bench encoders: every encoder of interest, whether it opened and
 * encoded a probe frame here, and if not, why; and how pictures would reach
 * it. On Windows the probe runs on the Desktop Duplication device, as the
 * server's encoder would, so "zero-copy" there means the server's will be. */
#include <string.h>

#include "bench/bench.h"
#include "capture/capture.h"
#include "common/error.h"
#include "common/log.h"
#include "encode/encoder.h"

struct settings {
    int size[2];
    int fps;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
static const struct pvs_option options[] = {
    OPT("size", PVS_OPT_SIZE, size, 64, 7680, "WxH", "frame size to probe with (even)"),
    OPT("fps", PVS_OPT_INT, fps, 1, 240, "N", "frame rate to probe with"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE", "also write the results as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

int pvs_bench_encoders(int argc, char **argv)
{
    struct settings s = { .size = { 1280, 720 }, .fps = 60 };
    int rc = pvs_bench_parse("encoders", "Probes every encoder of interest by encoding one frame.",
                             options, &s, argc, argv);
    if (rc < 0)
        rc = pvs_bench_check_size("encoders", s.size, 7680);
    if (rc >= 0)
        return rc;

    struct pvs_json j = { 0 };
    if (s.json[0] && pvs_json_open(&j, s.json) < 0)
        return 1;
    if (j.f) {
        pvs_json_begin(&j, NULL);
        pvs_json_begin(&j, "encoders");
    }
    /* Probing logs FFmpeg's complaints at debug level; the reason column
     * says what matters. */
    enum pvs_log_level saved = pvs_log_get_level();
    if (saved < PVS_LOG_DEBUG)
        pvs_log_set_level(PVS_LOG_WARN);
    struct pvs_capture *cap = pvs_capture_open_gpu(0);
    struct ID3D11Device *dev = cap ? pvs_capture_d3d11_device(cap) : NULL;
    printf("%-12s %-6s %-9s %s\n", "encoder", "codec", "family", "status");
    int working = 0;
    for (const struct pvs_encoder_info *i = pvs_encoder_infos; i->name; i++) {
        struct pvs_encoder_opts o = { .codec = i->codec, .width = s.size[0], .height = s.size[1],
                                      .fps = s.fps, .d3d11_device = dev };
        char why[256] = "";
        int err = pvs_encoder_probe(i->name, &o, why, sizeof(why));
        working += err == 0;
        bool zero_copy = !err && strstr(why, "zero-copy") && !strstr(why, "not zero-copy");
        /* The input path matters where a capture device was there to
         * choose; elsewhere every encoder reads system memory. */
        printf("%-12s %-6s %-9s %s%s%s\n", i->name, pvs_codec_name(i->codec), i->family,
               err == 0 ? "works" : "unavailable: ", err == 0 ? "" : why,
               err == 0 && dev ? (zero_copy ? ", zero-copy" : ", through system memory") : "");
        if (j.f) {
            pvs_json_begin(&j, i->name);
            pvs_json_str(&j, "codec", pvs_codec_name(i->codec));
            pvs_json_str(&j, "family", i->family);
            pvs_json_int(&j, "works", err == 0);
            pvs_json_int(&j, "zero_copy", zero_copy);
            pvs_json_str(&j, err == 0 ? "input" : "reason", why);
            pvs_json_end(&j);
        }
    }
    pvs_capture_close(&cap);
    pvs_log_set_level(saved);
    printf("%d of the encoders above work here at %dx%d (%s)\n", working, s.size[0], s.size[1],
           dev ? "probed on the Desktop Duplication device" : "probed from system memory: no GPU "
           "capture here");
    if (j.f) {
        pvs_json_end(&j);
        pvs_json_int(&j, "working", working);
        pvs_json_end(&j);
        if (pvs_json_close(&j) < 0)
            return 1;
    }
    return working ? 0 : 1;
}
