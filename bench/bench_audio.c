/* pvstream-bench audio: system sound end to end on one machine. Starts a
 * private PulseAudio server (a null sink as the default sink, its socket
 * in a temporary directory), plays a known signal into it (a 1 kHz tone in
 * bursts, 200 ms on and 300 ms off, sharp onsets), runs the real
 * pvstream-server on it (--audio-source pulse, video from the test source)
 * and a headless pvstream-client whose SDL "disk" driver writes what it
 * plays into a FIFO this program reads, noting when each part arrived.
 * Then reports:
 *  - latency: the client's own figure, capture (server clock, mapped) to
 *    the time the frame is heard (the SDL callback plus the audio queued
 *    ahead of it), p50 and p99 over the run;
 *  - onset: each burst's first sample, from the time it reached the null
 *    sink (the player's write plus pulse's latency) to the time the client
 *    wrote it out; the whole path, the monitor and capture included;
 *  - frequency, SNR (on the middle of each burst, 20 ms from its edges),
 *    the longest run of digital silence inside a burst, and the client's
 *    underruns and concealed frames.
 *
 * Options: --seconds, --loss (the client's loss simulator, random), --json.
 * The programs are found next to this one (or PVS_SERVER, PVS_CLIENT);
 * their logs and the output (48 kHz stereo S16LE) go to out/audio-*. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "common/process.h"
#include "net/pairing.h"

#ifdef PVS_HAVE_RIG
#include "tests/audio_rig.h"
#endif

struct settings {
    int seconds;
    int loss;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "bench", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
static const struct pvs_option options[] = {
    OPT("seconds", PVS_OPT_INT, seconds, 2, 3600, "S",
        "how long to measure, after 5 s for the session to settle"),
    OPT("loss", PVS_OPT_INT, loss, 0, 50, "PCT", "random packet loss on the client's side, percent"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE", "also write the figures as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

#ifdef PVS_HAVE_RIG

#define WARM_NS 3000000000LL   /* the player alone on the sink before the server */
/* The session's first seconds, left out of the onset figures. Audio used
 * to be some 50 ms late for the first 5 s: the client's jitter buffer took
 * the packets that waited in its socket while it set up for network
 * jitter, and kept them for 400 packets (4-5 s with the silence gate);
 * it now forgets its first 500 ms and keeps 2 s by time (docs/audio.md).
 * The first second still is (the backlog plays, then is dropped). The
 * client runs this much longer than --seconds. */
#define SETTLE_S 5

/* The number after "key": in the client's "audio" object; -1 when absent
 * or null (audio off, or no latency figure). */
static double audio_number(const char *text, const char *key)
{
    const char *p = text ? strstr(text, "\"audio\":") : NULL;
    if (!p)
        return -1;
    p += strlen("\"audio\":");
    if (*p != '{')
        return -1;
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":", key);
    p = strstr(p, k);
    if (!p)
        return -1;
    p += strlen(k);
    return *p == 'n' ? -1 : strtod(p, NULL);
}

/* The number after "key": in the client's "audio": {"av_offset_ms": {...}};
 * -1e9 when absent or null. */
static double av_number(const char *text, const char *key)
{
    const char *p = text ? strstr(text, "\"av_offset_ms\":{") : NULL;
    char k[64];
    snprintf(k, sizeof(k), "\"%s\":", key);
    p = p ? strstr(p, k) : NULL;
    if (!p || p[strlen(k)] == 'n')
        return -1e9;
    return strtod(p + strlen(k), NULL);
}

/* The median of the client's per-second audio figures ("| audio 23 ms")
 * from the `skip`th on; -1 when there are none. */
static double steady_ms(const char *log, int skip)
{
    double v[4096];
    int n = 0, seen = 0;
    for (const char *p = log; p && (p = strstr(p, "| audio ")) && n < 4096; p++) {
        double ms;
        char unit[4];
        if (sscanf(p + strlen("| audio "), "%lf %3s", &ms, unit) == 2 && !strcmp(unit, "ms") &&
            seen++ >= skip)
            v[n++] = ms;
    }
    for (int i = 1; i < n; i++) /* insertion sort: a few hundred at most */
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : -1;
}

static double ms_at(const struct pvs_stats *s, double q)
{
    return s->count ? (double)pvs_stats_quantile(s, q) / 1e6 : -1;
}

static int run(const struct settings *s)
{
    char server[1024], client[1024];
    pvs_bench_find_program(server, sizeof(server), "PVS_SERVER", "server/pvstream-server");
    pvs_bench_find_program(client, sizeof(client), "PVS_CLIENT", "client/pvstream-client");
    if (access(server, X_OK) != 0 || access(client, X_OK) != 0) {
        fprintf(stderr, "pvstream-bench audio: cannot find %s or %s (build them, or set "
                "PVS_SERVER and PVS_CLIENT)\n", server, client);
        return 1;
    }
    char dir[] = "/tmp/pvs-bench-audio-XXXXXX";
    if (!mkdtemp(dir) || pvs_net_init() != 0) {
        fprintf(stderr, "pvstream-bench audio: cannot make a temporary directory\n");
        return 1;
    }
    mkdir("out", 0755);
    int rc = 1;
    struct pvs_rig_pulse pulse = { 0 };
    struct pvs_rig_player *player = NULL;
    struct pvs_rig_tap *tap = NULL;
    pid_t srv = -1, cli = -1;
    int64_t *onsets = NULL;
    char *text = NULL;
    struct pvs_rig_signal sig = { 0 };
    pvs_rig_signal_resolve(&sig);

    int err = pvs_rig_pulse_start(&pulse, dir);
    if (err == PVS_ENOENT) {
        fprintf(stderr, "pvstream-bench audio: pulseaudio is not installed (apt-get install "
                "pulseaudio)\n");
        goto out;
    }
    if (err) {
        fprintf(stderr, "pvstream-bench audio: the private PulseAudio server did not start "
                "(%s/log)\n", pulse.dir);
        goto out;
    }
    if (pvs_rig_player_start(&player, &sig) != 0)
        goto out;
    /* An idle null sink renders far ahead for seconds after a client asks
     * for low latency (docs/audio.md): the player alone on it first. */
    fprintf(stderr, "audio: PulseAudio at %s, playing %.0f Hz bursts (%d ms on, %d ms off); "
            "%.0f s to settle\n", pulse.server, sig.hz, sig.on_ms, sig.off_ms, WARM_NS / 1e9);
    pvs_sleep_ns(WARM_NS);

    int port = pvs_bench_free_port();
    if (port < 0) {
        fprintf(stderr, "pvstream-bench audio: no free UDP port pair\n");
        goto out;
    }
    char port_s[16], target[64], server_cfg[300], client_cfg[300], cfg[200], fifo[300];
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    snprintf(cfg, sizeof(cfg), "%s/config", dir);
    snprintf(server_cfg, sizeof(server_cfg), "%s/server", cfg);
    snprintf(client_cfg, sizeof(client_cfg), "%s/client", cfg);
    snprintf(fifo, sizeof(fifo), "%s/output.raw", dir);
    if (mkdir(cfg, 0700) != 0 || mkdir(server_cfg, 0700) != 0 || mkdir(client_cfg, 0700) != 0 ||
        pvs_pair_local(server_cfg, client_cfg, "bench-audio", target) != 0) {
        fprintf(stderr, "pvstream-bench audio: cannot write the pairing in %s\n", cfg);
        goto out;
    }
    setenv("PVS_CONFIG_DIR", server_cfg, 1);
    char *sargv[] = { server, "--capture", "testsrc", "--size", "640x360", "--fps", "30",
                      "--port", port_s, "--no-input", "--audio-source", "pulse",
                      "--stats-interval", "0", "--gamestream", "off", NULL };
    srv = pvs_process_start(sargv, "out/audio-server.log");
    if (srv < 0)
        goto out;
    pvs_sleep_ns(500000000); /* its sockets */

    if (pvs_rig_tap_open(&tap, fifo, s->seconds + 30.0) != 0)
        goto out;
    char seconds[16], losssim[64], stats[] = "out/audio-client.json";
    snprintf(seconds, sizeof(seconds), "%d", s->seconds + SETTLE_S);
    snprintf(losssim, sizeof(losssim), "loss=%d,seed=1", s->loss);
    char *cargv[] = { client, target, "--headless", "--seconds", seconds, "--stats-json", stats,
                      s->loss ? "--losssim" : NULL, losssim, NULL };
    remove(stats);
    setenv("PVS_CONFIG_DIR", client_cfg, 1);
    setenv("SDL_AUDIODRIVER", "disk", 1);
    setenv("SDL_DISKAUDIOFILE", fifo, 1);
    fprintf(stderr, "audio: pvstream-server (pulse, testsrc video) and a headless client on %s "
            "for %d + %d s%s\n", target, SETTLE_S, s->seconds, s->loss ? ", with loss" : "");
    int64_t client_start = pvs_time_ns();
    cli = pvs_process_start(cargv, "out/audio-client.log");
    unsetenv("SDL_AUDIODRIVER");
    unsetenv("SDL_DISKAUDIOFILE");
    if (cli < 0)
        goto out;
    int status = pvs_process_wait(cli, (s->seconds + 30) * 1000);
    if (status < 0) {
        fprintf(stderr, "pvstream-bench audio: the client did not finish; stopping it\n");
        goto out;
    }
    cli = -1;
    pvs_sleep_ns(50000000);
    pvs_rig_tap_stop(tap);
    if (status != 0) {
        fprintf(stderr, "pvstream-bench audio: the client exited with %d (out/audio-client.log, "
                "out/audio-server.log)\n", status);
        goto out;
    }
    onsets = malloc(PVS_RIG_MAX_ONSETS * sizeof(int64_t));
    if (!onsets)
        goto out;
    size_t n_on = pvs_rig_player_onsets(player, onsets, PVS_RIG_MAX_ONSETS);
    if (n_on > PVS_RIG_MAX_ONSETS)
        n_on = PVS_RIG_MAX_ONSETS;

    const int16_t *pcm;
    size_t samples = pvs_rig_tap_pcm(tap, &pcm);
    FILE *raw = fopen("out/audio-output.raw", "wb");
    if (raw) {
        if (fwrite(pcm, 4, samples, raw) != samples)
            fprintf(stderr, "pvstream-bench audio: cannot write out/audio-output.raw\n");
        fclose(raw);
    }
    struct pvs_rig_timeline tl;
    pvs_rig_tap_timeline(tap, &tl);
    struct pvs_rig_analysis a;
    if (pvs_rig_analyze(pcm, samples, &sig, &tl, client_start + SETTLE_S * 1000000000LL, onsets, n_on, &a) != 0)
        goto out;
    text = pvs_bench_read_all(stats);
    if (!text) {
        fprintf(stderr, "pvstream-bench audio: the client wrote no %s\n", stats);
        goto out;
    }
    double lat50 = audio_number(text, "p50"), lat99 = audio_number(text, "p99");
    double underruns = audio_number(text, "underruns"), concealed = audio_number(text, "concealed");
    double av50 = av_number(text, "p50"), av99 = av_number(text, "p99");
    char *clog = pvs_bench_read_all("out/audio-client.log");
    double steady = steady_ms(clog, SETTLE_S);
    free(clog);
    printf("pvstream-bench audio: %d s, loss %d %%, %.0f Hz bursts %d/%d ms, Opus through "
           "pvstream-server -> pvstream-client (SDL disk driver)\n", s->seconds, s->loss, sig.hz,
           sig.on_ms, sig.off_ms);
    printf("output: %.2f s; %d bursts measured (%d short, %d long), %d matched to their onset\n",
           (double)samples / PVS_RIG_RATE, a.bursts, a.short_bursts, a.long_bursts,
           a.onsets_matched);
    printf("latency (the client's, capture -> heard, whole run): p50 %.2f ms, p99 %.2f ms; "
           "median of its per-second medians after %d s: %.1f ms\n", lat50, lat99, SETTLE_S,
           steady);
    printf("onset -> output (into the sink -> written by the client, after %d s): p50 %.2f ms, "
           "p99 %.2f ms\n", SETTLE_S, ms_at(&a.onset, 0.5), ms_at(&a.onset, 0.99));
    printf("tone: %.3f Hz (error %.3f Hz, worst burst %.3f Hz), SNR %.1f dB (lowest burst "
           "%.1f dB), longest silence inside a burst %.2f ms\n", a.freq_hz, a.freq_error_hz,
           a.freq_worst_error_hz, a.snr_db, a.snr_min_db, a.longest_gap_ms);
    printf("underruns %.0f, concealed %.0f\n", underruns, concealed);
    if (av50 > -1e8)
        printf("A/V offset (the client's, audio latency - glass to glass, per second, whole run; "
               "video 30 fps = 33.3 ms a frame): p50 %+.1f ms, p99 of |offset| %.1f ms\n", av50,
               av99);
    else
        printf("A/V offset: none measured\n");
    if (a.bursts == 0 || lat50 < 0) {
        fprintf(stderr, "pvstream-bench audio: no audio came through (out/audio-client.log, "
                "out/audio-server.log)\n");
        goto out;
    }
    rc = 0;
    if (s->json[0]) {
        struct pvs_json j;
        if (pvs_json_open(&j, s->json) != 0) {
            rc = 1;
            goto out;
        }
        pvs_json_begin(&j, NULL);
        pvs_json_begin(&j, "latency_ms");
        pvs_json_num(&j, "p50", lat50);
        pvs_json_num(&j, "p99", lat99);
        pvs_json_end(&j);
        pvs_json_num(&j, "latency_steady_ms", steady);
        pvs_json_begin(&j, "av_offset_ms");
        pvs_json_num(&j, "p50", av50 > -1e8 ? av50 : NAN); /* null when none */
        pvs_json_num(&j, "p99", av50 > -1e8 ? av99 : NAN);
        pvs_json_end(&j);
        pvs_json_begin(&j, "onset_ms");
        pvs_json_num(&j, "p50", ms_at(&a.onset, 0.5));
        pvs_json_num(&j, "p99", ms_at(&a.onset, 0.99));
        pvs_json_end(&j);
        pvs_json_num(&j, "snr_db", a.snr_db);
        pvs_json_num(&j, "freq_error_hz", a.freq_error_hz);
        pvs_json_int(&j, "underruns", (int64_t)underruns);
        pvs_json_int(&j, "concealed", (int64_t)concealed);
        pvs_json_num(&j, "longest_gap_ms", a.longest_gap_ms);
        pvs_json_int(&j, "bursts", a.bursts);
        pvs_json_int(&j, "loss_percent", s->loss);
        pvs_json_int(&j, "seconds", s->seconds);
        pvs_json_end(&j);
        rc = pvs_json_close(&j) == 0 ? 0 : 1;
    }
out:
    pvs_process_stop(&cli);
    pvs_process_stop(&srv);
    pvs_rig_tap_close(&tap);
    pvs_rig_player_stop(&player);
    pvs_rig_pulse_stop(&pulse);
    free(onsets);
    free(text);
    pvs_net_deinit();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pvstream-bench audio: could not remove %s\n", dir);
    return rc;
}

#endif

int pvs_bench_audio(int argc, char **argv)
{
    struct settings s = { .seconds = 10 };
    int rc = pvs_bench_parse("audio", "a private PulseAudio server playing 1 kHz bursts + "
                             "pvstream-server + headless pvstream-client (SDL disk driver): "
                             "audio latency, onset to output, frequency, SNR, loss.",
                             options, &s, argc, argv);
    if (rc >= 0)
        return rc;
#ifdef PVS_HAVE_RIG
    return run(&s);
#else
    fprintf(stderr, "pvstream-bench audio: not in this build (needs libpulse-simple, POSIX)\n");
    return 1;
#endif
}
