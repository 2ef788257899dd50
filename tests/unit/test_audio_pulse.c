/* The PulseAudio source against a real, private PulseAudio server: a
 * tone played into a null sink comes back from the sink's monitor at the
 * right frequency, with capture times that make sense; and without a
 * server, opening fails at once with a sentence that says why.
 *
 * The server is the audio rig's (tests/audio_rig.h): pulseaudio -n with only
 * a null sink, in a temporary directory, so nothing of the machine's own
 * sound setup is touched. Needs the pulseaudio package: without it the
 * test fails, as CI installs it. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pulse/simple.h>

#include "audio/analyze.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "tests/audio_rig.h"
#include "tests/unit/test.h"

#define RATE PVS_AUDIO_RATE
#define TONE_HZ 1000.0

static char dir[] = "/tmp/pvs-pulse-XXXXXX";
static struct pvs_rig_pulse pulse;

static void print_log(void)
{
    char path[300], line[400];
    snprintf(path, sizeof(path), "%s/log", pulse.dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        fprintf(stderr, "  pulseaudio: %s", line);
    if (f)
        fclose(f);
}

/* ---- playing a tone into the null sink ---------------------------------- */

struct player {
    volatile bool stop;
    int err;
};

static int play(void *arg)
{
    struct player *pl = arg;
    pa_sample_spec ss = {.format = PA_SAMPLE_S16LE, .rate = RATE, .channels = 2};
    /* A 100 ms playback buffer: enough that a loaded machine (another
     * test's PulseAudio beside this one) does not starve the stream, which
     * would put gaps in the tone; the capture waits for the onset anyway. */
    pa_buffer_attr attr = {.maxlength = (uint32_t)-1, .tlength = 4 * 4800, .prebuf = (uint32_t)-1,
                           .minreq = (uint32_t)-1, .fragsize = (uint32_t)-1};
    int err = 0;
    pa_simple *s = pa_simple_new(NULL, "pvstream test", PA_STREAM_PLAYBACK, "pvs", "tone", &ss,
                                 NULL, &attr, &err);
    if (!s) {
        pl->err = err ? err : -1;
        return 0;
    }
    int16_t buf[480 * 2];
    uint64_t pos = 0;
    /* Five seconds at most; the capture side says when to stop. */
    for (int k = 0; k < 500 && !pl->stop; k++) {
        for (int i = 0; i < 480; i++, pos++) {
            int16_t v = (int16_t)lrint(0.5 * 32767 * sin(2 * M_PI * TONE_HZ * (double)pos / RATE));
            buf[2 * i] = buf[2 * i + 1] = v;
        }
        if (pa_simple_write(s, buf, sizeof(buf), &err) < 0) {
            pl->err = err;
            break;
        }
    }
    pa_simple_drain(s, NULL);
    pa_simple_free(s);
    return 0;
}

#define CAPTURE_FRAMES 200 /* 1 s of 5 ms frames */
static int16_t got[CAPTURE_FRAMES * 240 * 2];

static void test_capture_tone(void)
{
    /* The tone first: an idle null sink renders in blocks of up to 2 s
     * until a client asks for a low latency, and the player's stream does,
     * so the capture does not start inside such a block. (A real sink has
     * no such blocks.) */
    struct player pl = {0};
    struct pvs_thread *t;
    CHECK_INT(pvs_thread_create(&t, play, &pl, "tone"), ==, 0);

    struct pvs_audio_source *src;
    char why[256] = "";
    /* "auto" finds it: the default sink's monitor. */
    int rc = pvs_audio_open(&src, "auto", NULL, why, sizeof(why));
    CHECK_INT(rc, ==, 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", why);
        print_log();
        pl.stop = true;
        pvs_thread_join(&t, NULL);
        return;
    }
    CHECK_INT(src->frame_samples, ==, 240);

    int64_t first_ns = 0;
    uint64_t first_pos = 0;
    uint64_t prev_pos = 0;
    int64_t last_ns = 0;
    int frames = 0, bad_times = 0, waited = 0;
    while (frames < CAPTURE_FRAMES && waited < 2000) {
        struct pvs_audio_frame f;
        rc = pvs_audio_read(src, &f, 3000);
        if (rc) {
            CHECK_INT(rc, ==, 0);
            break;
        }
        int64_t now = pvs_time_ns();
        /* Capture times lie within a second of now. Not tighter: a monitor's data is heard after it
         * is read (its latency is negative), and a null sink that sat idle
         * renders far ahead for a while after it wakes. */
        if (f.capture_ns > now + 1000000000LL || now - f.capture_ns > 1000000000LL)
            bad_times++;
        if (frames > 0 && f.position != prev_pos + 240)
            bad_times++; /* dropped audio */
        if (!frames) {
            first_ns = f.capture_ns;
            first_pos = f.position;
        }
        last_ns = f.capture_ns;
        prev_pos = f.position;
        /* Keep from the first frame with sound on. */
        bool sound = pvs_audio_onset(f.pcm, 240, 2, 0, 1000) < 240;
        if (!frames && !sound) {
            waited++;
            continue;
        }
        memcpy(got + (size_t)frames * 240 * 2, f.pcm, sizeof(int16_t) * 240 * 2);
        frames++;
    }
    pl.stop = true;
    pvs_thread_join(&t, NULL);
    CHECK_INT(pl.err, ==, 0);
    CHECK_INT(frames, ==, CAPTURE_FRAMES);
    CHECK_INT(bad_times, ==, 0);
    /* Over the run capture times advance at least as fast as the audio
     * (more while a null sink that woke up works off its lead). */
    CHECK((double)(last_ns - first_ns) >= (double)(prev_pos - first_pos) * 1e9 / RATE * 0.9);
    printf("pulse: tone after %d silent frames, latency reported %.2f ms, %" PRIu64 " dropped\n",
           waited, src->stats.latency_ns / 1e6, src->stats.dropped);
    if (frames == CAPTURE_FRAMES) {
        /* Skip the onset; the rest is a steady tone. */
        size_t skip = 4 * 240, n = (size_t)(frames - 4) * 240 - 240 * 20;
        for (int ch = 0; ch < 2; ch++) {
            double hz = pvs_audio_tone_freq(got + skip * 2, n, 2, ch, RATE);
            double snr = pvs_audio_tone_snr(got + skip * 2, n, 2, ch, RATE, hz);
            if (!ch)
                printf("pulse: %.3f Hz, SNR %.1f dB\n", hz, snr);
            CHECK_NEAR(hz, TONE_HZ, 1);
            CHECK(snr > 40);
        }
    }
    pvs_audio_close(&src);
    CHECK(src == NULL);
}

static void test_bad_device(void)
{
    struct pvs_audio_source *src;
    char why[256] = "";
    struct pvs_audio_opts o = {.device = "no-such-source"};
    CHECK_INT(pvs_audio_open(&src, "pulse", &o, why, sizeof(why)), ==, PVS_ENODEV);
    CHECK(strstr(why, "no-such-source") != NULL);
    printf("bad device: %s\n", why);
}

static void test_no_server(void)
{
    char none[300];
    snprintf(none, sizeof(none), "unix:%s/nothing-here", dir);
    setenv("PULSE_SERVER", none, 1);
    struct pvs_audio_source *src = (void *)1;
    char why[256] = "";
    int64_t t0 = pvs_time_ns();
    CHECK_INT(pvs_audio_open(&src, "pulse", NULL, why, sizeof(why)), ==, PVS_ENODEV);
    int64_t took = pvs_time_ns() - t0;
    CHECK(src == NULL);
    CHECK(strstr(why, "PulseAudio is not running") != NULL);
    CHECK(strstr(why, "audio off") != NULL);
    CHECK(took < 1500 * 1000000LL); /* at once, not after the 2 s timeout */
    printf("no server: \"%s\" after %.1f ms\n", why, took / 1e6);
    /* "auto" says the same, and opens nothing (never the tone). */
    CHECK_INT(pvs_audio_open(&src, "auto", NULL, why, sizeof(why)), ==, PVS_ENODEV);
    CHECK(strstr(why, "PulseAudio is not running") != NULL);
    CHECK(src == NULL);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* First without any server. */
    RUN(test_no_server);
    int rc = pvs_rig_pulse_start(&pulse, dir);
    if (rc == PVS_ENOENT)
        fprintf(stderr, "pulseaudio is not installed (apt-get install pulseaudio): "
                        "the capture test cannot run\n");
    CHECK_INT(rc, ==, 0);
    if (rc == 0) {
        RUN(test_capture_tone);
        RUN(test_bad_device);
    } else {
        print_log();
    }
    pvs_rig_pulse_stop(&pulse);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_EXIT();
}
