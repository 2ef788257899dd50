/* System sound end to end, the real programs: a private PulseAudio server
 * (tests/audio_rig.h) plays 1 kHz bursts (200 ms on, 300 ms off) into a
 * null sink; pvstream-server captures its monitor (--audio-source pulse,
 * video from the test source) and a headless pvstream-client plays what it
 * receives through SDL's "disk" driver into a file, which is measured:
 *  - round trip: capture -> Opus -> SRTP -> UDP -> jitter buffer -> SDL:
 *    the tone's frequency within 1 Hz, its SNR above a floor, no silence
 *    inside a burst, the client's audio figures present;
 *  - 5 % loss (the client's loss simulator, in runs of 2 so that some
 *    frames cannot be rebuilt from the next packet's copy): the output is
 *    still continuous (no run of digital silence inside a burst as long as
 *    half a frame: lost frames are rebuilt or concealed, never left out),
 *    and the client counts concealed frames;
 *  - a client without an audio device (SDL_AUDIODRIVER names no driver):
 *    video still streams, and it says "audio off";
 *  - a server without PulseAudio (PULSE_SERVER names a socket nobody
 *    listens on): video streams, and its log has the "audio off: ..."
 *    line.
 * Each client run is bounded (its --seconds, plus 30 s to give up); no
 * timing is asserted. Arguments: the paths of pvstream-server and
 * pvstream-client. Skips (77) when pulseaudio is not installed. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "common/process.h"
#include "net/pairing.h"
#include "tests/audio_rig.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

/* The lowest median SNR of the bursts' middles. Measured over the whole
 * path 36-41 dB, the lowest burst 34-41 with two busy loops beside it
 * under ASan (the SDL disk driver paces a little slower than real time, so
 * the jitter buffer drops a frame now and then; it is decoded and faded
 * out, audio/jitter.h; left undecoded, the lowest burst was 14-24 dB in 9
 * runs of 10, and the median fell to 21 once); docs/audio.md has 47.5 dB
 * for Opus alone. */
#define SNR_FLOOR_DB 25
/* Half a frame (5 ms frames): a lost frame left out, or played as zeros,
 * would show as a silence at least a frame long. */
#define GAP_LIMIT_MS 2.5
/* The server's video frame rate: A/V sync holds within one frame. */
#define FPS 30
#define FPS_S "30"

static const char *server_bin, *client_bin;
static char dir[] = "/tmp/pvs-audio-XXXXXX";
static char server_cfg[64], client_cfg[64], port[16], target[32];
static struct pvs_rig_signal sig;

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static pid_t start_server(const char *log)
{
    char lp[256];
    path(lp, sizeof(lp), log);
    char *argv[] = { (char *)server_bin, "--capture", "testsrc", "--size", "320x240", "--fps", FPS_S,
                     "--port", port, "--no-input", "--audio-source", "auto",
                     "--stats-interval", "0",
                     "--gamestream", "off", /* its start takes CPU: tests/integration/test_gamestream.sh covers it */ NULL };
    setenv("PVS_CONFIG_DIR", server_cfg, 1);
    pid_t pid = pvs_process_start(argv, lp);
    pvs_sleep_ns(500000000); /* its sockets */
    return pid;
}

/* Runs a headless client for `seconds` with SDL's audio driver `driver`
 * writing to `raw` (in the scratch directory); returns its exit status. */
static int run_client(const char *seconds, const char *driver, const char *raw, const char *json,
                      const char *losssim, const char *log)
{
    char jp[256], rp[256], lp[256];
    path(jp, sizeof(jp), json);
    path(rp, sizeof(rp), raw);
    path(lp, sizeof(lp), log);
    char *argv[] = { (char *)client_bin, target, "--headless", "--seconds", (char *)seconds,
                     "--stats-json", jp, losssim ? "--losssim" : NULL, (char *)losssim, NULL };
    setenv("PVS_CONFIG_DIR", client_cfg, 1);
    setenv("SDL_AUDIODRIVER", driver, 1);
    setenv("SDL_DISKAUDIOFILE", rp, 1);
    remove(rp);
    pid_t pid = pvs_process_start(argv, lp);
    unsetenv("SDL_AUDIODRIVER");
    unsetenv("SDL_DISKAUDIOFILE");
    if (pid < 0)
        return -1;
    int status = pvs_process_wait(pid, (atoi(seconds) + 30) * 1000);
    if (status < 0)
        pvs_process_stop(&pid);
    return status;
}

static char *slurp(const char *name)
{
    char p[256];
    path(p, sizeof(p), name);
    return pvs_test_slurp(p);
}

/* The client's output file, measured. Returns false when there is none. */
static bool analyze(const char *raw, struct pvs_rig_analysis *a, double *seconds)
{
    char p[256];
    path(p, sizeof(p), raw);
    size_t bytes = 0;
    char *data = pvs_test_slurp_len(p, &bytes);
    if (!data)
        return false;
    size_t n = bytes / 4; /* S16 stereo */
    *seconds = (double)n / PVS_RIG_RATE;
    /* The bursts of the first second are left out: when the stream's start
     * is slow (a loaded CI machine under ASan: audio latency p99 167 ms
     * against 40), the jitter buffer drops whole frames to come back down,
     * and each drop is a step in the tone that the SNR counts (median 22.9
     * dB in that run, 31-40 in the others). Latency has its own checks. */
    const int16_t *pcm = (const int16_t *)(void *)data;
    if (n > 3 * PVS_RIG_RATE) {
        pcm += 2 * PVS_RIG_RATE;
        n -= PVS_RIG_RATE;
    }
    bool ok = pvs_rig_analyze(pcm, n, &sig, NULL, 0, NULL, 0, a) == 0;
    free(data);
    return ok;
}

/* "audio": null in the client's JSON. */
static bool audio_null(const char *json)
{
    const char *p = json ? strstr(json, "\"audio\":") : NULL;
    return p && !strncmp(p + strlen("\"audio\":"), "null", 4);
}

static void test_round_trip(void)
{
    int rc = run_client("6", "disk", "a.raw", "a.json", NULL, "client-a.log");
    CHECK_INT(rc, ==, 0);
    struct pvs_rig_analysis a;
    double secs = 0;
    bool ok = analyze("a.raw", &a, &secs);
    CHECK(ok);
    char *json = slurp("a.json");
    CHECK(json != NULL);
    double p50 = pvs_test_json_num(json, "audio", "p50");
    fprintf(stderr, "round trip: %.2f s out, %d bursts (%d short, %d long), %.3f Hz, SNR %.1f dB "
            "(lowest burst %.1f), longest silence in a burst %.2f ms; client: latency p50 %.1f ms "
            "p99 %.1f ms, %.0f underruns, %.0f concealed\n", secs, a.bursts, a.short_bursts,
            a.long_bursts, a.freq_hz, a.snr_db, a.snr_min_db, a.longest_gap_ms, p50,
            pvs_test_json_num(json, "audio", "p99"), pvs_test_json_num(json, "audio", "underruns"),
            pvs_test_json_num(json, "audio", "concealed"));
    if (ok) {
        CHECK(a.bursts >= 5); /* 12 in 6 s, less the client's start and the first second */
        CHECK(a.freq_error_hz < 1);
        CHECK(a.snr_db > SNR_FLOOR_DB);
        CHECK(a.longest_gap_ms < GAP_LIMIT_MS);
        CHECK_INT(a.long_bursts, ==, 0);
    }
    CHECK(json && !audio_null(json));
    CHECK(p50 > 0);
    /* A/V sync: the offset (audio latency - glass to glass, per second) */
    char *log = slurp("client-a.log");
    double av50 = pvs_test_json_num(json, "av_offset_ms", "p50");
    double av99 = pvs_test_json_num(json, "av_offset_ms", "p99");
    fprintf(stderr, "A/V offset p50 %+.1f ms, p99 |offset| %.1f ms (one video frame: %.1f ms); "
            "per second:", av50, av99, 1000.0 / FPS);
    for (const char *q = log; q && (q = strstr(q, "| A/V ")); q++)
        fprintf(stderr, " %.*s", (int)strcspn(q + 6, "\n") - 3, q + 6);
    fprintf(stderr, "\n");
    free(log);
    /* Sound is not the picture's: within two video frames of it (measured
     * +16..+24 ms in 5 runs, the first second +70: audio's 5 ms frame, jitter buffer and device period
     * against 2 ms of 320x240 video; docs/audio.md, "Sync"). One frame was
     * the bound until a CI run on a loaded machine measured +45 ms, with
     * the audio latency itself at 47 ms p50 against its usual 25. */
    CHECK(av50 > -2000.0 / FPS && av50 < 2000.0 / FPS);
    CHECK(pvs_test_json_num(json, "audio", "underruns") >= 0);
    CHECK(pvs_test_json_num(json, NULL, "frames_decoded") > 30);
    free(json);
}

static void test_loss(void)
{
    int rc = run_client("6", "disk", "b.raw", "b.json", "loss=5,burst=2,seed=3", "client-b.log");
    CHECK_INT(rc, ==, 0);
    struct pvs_rig_analysis a;
    double secs = 0;
    bool ok = analyze("b.raw", &a, &secs);
    CHECK(ok);
    char *json = slurp("b.json");
    double concealed = pvs_test_json_num(json, "audio", "concealed");
    fprintf(stderr, "5 %% loss: %.2f s out, %d bursts (%d short), %.3f Hz, SNR %.1f dB (lowest "
            "burst %.1f), longest silence in a burst %.2f ms; client: %.0f concealed, %.0f "
            "underruns, latency p50 %.1f ms\n", secs, a.bursts, a.short_bursts, a.freq_hz,
            a.snr_db, a.snr_min_db, a.longest_gap_ms, concealed,
            pvs_test_json_num(json, "audio", "underruns"), pvs_test_json_num(json, "audio", "p50"));
    if (ok) {
        CHECK(a.bursts >= 5);
        CHECK(a.longest_gap_ms < GAP_LIMIT_MS);
        CHECK(a.freq_error_hz < 1);
    }
    CHECK(concealed > 0);
    CHECK(pvs_test_json_num(json, NULL, "frames_decoded") > 30);
    free(json);
}

static void test_no_audio_device(void)
{
    int rc = run_client("3", "no-such-driver", "c.raw", "c.json", NULL, "client-c.log");
    CHECK_INT(rc, ==, 0);
    char *json = slurp("c.json"), *log = slurp("client-c.log");
    double frames = pvs_test_json_num(json, NULL, "frames_decoded");
    const char *off = log ? strstr(log, "audio off") : NULL;
    fprintf(stderr, "no audio device: %.0f frames decoded; the client said \"%.*s\"\n", frames,
            off ? (int)strcspn(off, "\n") : 0, off ? off : "");
    CHECK(frames > 30);
    CHECK(off != NULL);
    CHECK(audio_null(json));
    char p[256];
    path(p, sizeof(p), "c.raw");
    CHECK(access(p, F_OK) != 0); /* no disk driver, no output */
    free(json);
    free(log);
}

static void test_server_without_pulse(void)
{
    char none[300];
    snprintf(none, sizeof(none), "unix:%s/nobody-listens", dir);
    setenv("PULSE_SERVER", none, 1);
    pid_t srv = start_server("server-b.log");
    int rc = run_client("3", "disk", "d.raw", "d.json", NULL, "client-d.log");
    CHECK_INT(rc, ==, 0);
    pvs_process_stop(&srv);
    char *json = slurp("d.json"), *log = slurp("server-b.log");
    double frames = pvs_test_json_num(json, NULL, "frames_decoded");
    const char *off = log ? strstr(log, "audio off: ") : NULL;
    fprintf(stderr, "server without PulseAudio: %.0f frames decoded; the server said \"%.*s\"\n",
            frames, off ? (int)strcspn(off, "\n") : 0, off ? off : "");
    CHECK(frames > 30);
    CHECK(off != NULL);
    CHECK(log && strstr(log, "PulseAudio") != NULL);
    CHECK(audio_null(json));
    free(json);
    free(log);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_audio SERVER CLIENT\n");
        return 2;
    }
    server_bin = argv[1];
    client_bin = argv[2];
    if (!mkdtemp(dir) || pvs_net_init() != 0)
        return 1;
    struct pvs_rig_pulse pulse;
    int err = pvs_rig_pulse_start(&pulse, dir);
    if (err == PVS_ENOENT) {
        fprintf(stderr, "skipped: pulseaudio is not installed (apt-get install pulseaudio)\n");
        pvs_test_scratch_done(dir, false);
        return 77;
    }
    struct pvs_rig_player *player = NULL;
    if (err || pvs_rig_player_start(&player, &sig) != 0) {
        fprintf(stderr, "cannot set up: the private PulseAudio server or its player (%s/log)\n",
                pulse.dir);
        pvs_rig_pulse_stop(&pulse);
        return 1;
    }
    pvs_rig_signal_resolve(&sig);
    snprintf(port, sizeof(port), "%d", 43000 + (int)(getpid() % 5000) * 2);
    snprintf(target, sizeof(target), "127.0.0.1:%s", port);
    snprintf(server_cfg, sizeof(server_cfg), "%s/server-config", dir);
    snprintf(client_cfg, sizeof(client_cfg), "%s/client-config", dir);
    if (mkdir(server_cfg, 0700) != 0 || mkdir(client_cfg, 0700) != 0 ||
        pvs_pair_local(server_cfg, client_cfg, "tester", target) != 0) {
        fprintf(stderr, "cannot pair the server and the client in %s\n", dir);
        return 1;
    }
    /* An idle null sink renders far ahead for a while once a client asks
     * for low latency (docs/audio.md): the player alone on it first. */
    pvs_sleep_ns(3000000000LL);

    pid_t srv = start_server("server-a.log");
    RUN(test_round_trip);
    RUN(test_loss);
    RUN(test_no_audio_device);
    pvs_process_stop(&srv);
    RUN(test_server_without_pulse);

    pvs_rig_player_stop(&player);
    pvs_rig_pulse_stop(&pulse);
    pvs_test_scratch_done(dir, test_checks_failed != 0);
    pvs_net_deinit();
    TEST_EXIT();
}
