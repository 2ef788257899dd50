/* The audio test rig (tests/audio_rig.h). */
#include "tests/audio_rig.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pulse/error.h>
#include <pulse/simple.h>

#include "audio/analyze.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "tests/programs.h"

/* ---- a private PulseAudio server ---------------------------------------- */

int pvs_rig_pulse_start(struct pvs_rig_pulse *p, const char *dir)
{
    memset(p, 0, sizeof(*p));
    if (!pvs_test_on_path("pulseaudio"))
        return PVS_ENOENT;
    char run[300], sock[300], native[400], log[300], cookie[300];
    snprintf(p->dir, sizeof(p->dir), "%.190s/pulse", dir);
    snprintf(run, sizeof(run), "%s/run", p->dir);
    snprintf(sock, sizeof(sock), "%s/native", p->dir);
    snprintf(log, sizeof(log), "%s/log", p->dir);
    snprintf(cookie, sizeof(cookie), "%s/cookie", p->dir);
    snprintf(native, sizeof(native), "module-native-protocol-unix socket=%s auth-anonymous=1", sock);
    snprintf(p->server, sizeof(p->server), "unix:%.230s", sock);
    if ((mkdir(p->dir, 0700) != 0 && errno != EEXIST) || (mkdir(run, 0700) != 0 && errno != EEXIST))
        return PVS_EIO;
    pid_t pid = fork();
    if (pid < 0)
        return PVS_EIO;
    if (pid == 0) {
        /* Its own home and runtime paths; stderr to the log. */
        if (!freopen(log, "w", stderr))
            _exit(126);
        setenv("HOME", p->dir, 1);
        setenv("XDG_RUNTIME_DIR", run, 1);
        setenv("PULSE_RUNTIME_PATH", run, 1);
        setenv("PULSE_STATE_PATH", p->dir, 1);
        unsetenv("PULSE_SERVER");
        execlp("pulseaudio", "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
               "--disallow-exit", "--use-pid-file=no", "--log-target=stderr",
               "--load", "module-null-sink sink_name=pvs rate=48000 channels=2",
               "--load", native, (char *)NULL);
        _exit(127);
    }
    p->pid = pid;
    setenv("PULSE_SERVER", p->server, 1);
    setenv("PULSE_COOKIE", cookie, 1);
    /* It answers a little after its socket appears. */
    pa_sample_spec ss = { .format = PA_SAMPLE_S16LE, .rate = PVS_RIG_RATE, .channels = 2 };
    for (int i = 0; i < 1000; i++) {
        if (access(sock, F_OK) == 0) {
            pa_simple *s = pa_simple_new(NULL, "pvstream rig", PA_STREAM_PLAYBACK, "pvs", "probe",
                                         &ss, NULL, NULL, NULL);
            if (s) {
                pa_simple_free(s);
                return 0;
            }
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            p->pid = 0;
            PVS_LOG_E("pulseaudio exited at start (%s)", log);
            return PVS_EIO;
        }
        pvs_sleep_ns(10 * 1000000LL);
    }
    PVS_LOG_E("pulseaudio did not answer within 10 s (%s)", log);
    pvs_rig_pulse_stop(p);
    return PVS_EIO;
}

void pvs_rig_pulse_stop(struct pvs_rig_pulse *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int st;
        waitpid(p->pid, &st, 0);
    }
    p->pid = 0;
}

/* ---- the signal and its player ------------------------------------------ */

void pvs_rig_signal_resolve(struct pvs_rig_signal *s)
{
    if (s->hz <= 0)
        s->hz = 1000;
    if (s->level <= 0 || s->level > 1)
        s->level = 0.5;
    if (s->on_ms <= 0)
        s->on_ms = 200;
    if (s->off_ms <= 0)
        s->off_ms = 300;
}

int16_t pvs_rig_signal_sample(const struct pvs_rig_signal *s, uint64_t i)
{
    uint64_t period = (uint64_t)(s->on_ms + s->off_ms) * (PVS_RIG_RATE / 1000);
    uint64_t k = i % period;
    if (k >= (uint64_t)s->on_ms * (PVS_RIG_RATE / 1000))
        return 0;
    return (int16_t)lrint(s->level * 32767 * sin(2 * M_PI * s->hz * (double)k / PVS_RIG_RATE));
}

#define CHUNK 240 /* 5 ms */

struct pvs_rig_player {
    struct pvs_rig_signal sig;
    pa_simple *pa;
    struct pvs_thread *thread;
    atomic_bool stop;
    int err;
    atomic_size_t n_onsets;
    int64_t onsets[PVS_RIG_MAX_ONSETS];
};

static int player_run(void *arg)
{
    struct pvs_rig_player *p = arg;
    int16_t buf[CHUNK * 2];
    uint64_t pos = 0;
    uint64_t period = (uint64_t)(p->sig.on_ms + p->sig.off_ms) * (PVS_RIG_RATE / 1000);
    while (!atomic_load(&p->stop)) {
        bool onset = pos % period == 0;
        for (int i = 0; i < CHUNK; i++)
            buf[2 * i] = buf[2 * i + 1] = pvs_rig_signal_sample(&p->sig, pos + (uint64_t)i);
        int err = 0;
        if (pa_simple_write(p->pa, buf, sizeof(buf), &err) < 0) {
            p->err = err ? err : -1;
            PVS_LOG_E("rig player: %s", pa_strerror(err));
            break;
        }
        if (onset) {
            int64_t now = pvs_time_ns();
            pa_usec_t lat = pa_simple_get_latency(p->pa, &err);
            if (lat == (pa_usec_t)-1)
                lat = 0;
            int64_t at = now + (int64_t)lat * 1000 - (int64_t)CHUNK * 1000000000 / PVS_RIG_RATE;
            size_t n = atomic_load(&p->n_onsets);
            if (n < PVS_RIG_MAX_ONSETS) {
                p->onsets[n] = at;
                atomic_store(&p->n_onsets, n + 1);
            }
        }
        pos += CHUNK;
    }
    return 0;
}

int pvs_rig_player_start(struct pvs_rig_player **out, const struct pvs_rig_signal *sig)
{
    *out = NULL;
    struct pvs_rig_player *p = calloc(1, sizeof(*p));
    if (!p)
        return PVS_ENOMEM;
    p->sig = *sig;
    pvs_rig_signal_resolve(&p->sig);
    if (p->sig.on_ms % 5 || p->sig.off_ms % 5) {
        free(p);
        return PVS_EINVAL;
    }
    pa_sample_spec ss = { .format = PA_SAMPLE_S16LE, .rate = PVS_RIG_RATE, .channels = 2 };
    /* 30 ms of buffer: enough not to run dry on a loaded machine (an empty
     * stream is a gap in the sink), and the onset times allow for it. */
    pa_buffer_attr attr = { .maxlength = (uint32_t)-1, .tlength = 6 * CHUNK * 4,
                            .prebuf = (uint32_t)-1, .minreq = (uint32_t)-1,
                            .fragsize = (uint32_t)-1 };
    int err = 0;
    p->pa = pa_simple_new(NULL, "pvstream rig", PA_STREAM_PLAYBACK, NULL, "bursts", &ss, NULL,
                          &attr, &err);
    if (!p->pa) {
        PVS_LOG_E("rig player: cannot connect to PulseAudio: %s", pa_strerror(err));
        free(p);
        return PVS_EIO;
    }
    int rc = pvs_thread_create(&p->thread, player_run, p, "rig-player");
    if (rc) {
        pa_simple_free(p->pa);
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

size_t pvs_rig_player_onsets(struct pvs_rig_player *p, int64_t *out, size_t max)
{
    size_t n = atomic_load(&p->n_onsets);
    memcpy(out, p->onsets, (n < max ? n : max) * sizeof(int64_t));
    return n;
}

int pvs_rig_player_stop(struct pvs_rig_player **pp)
{
    struct pvs_rig_player *p = *pp;
    if (!p)
        return 0;
    atomic_store(&p->stop, true);
    pvs_thread_join(&p->thread, NULL);
    pa_simple_free(p->pa);
    int err = p->err;
    free(p);
    *pp = NULL;
    return err;
}

/* ---- the tap ------------------------------------------------------------ */

int64_t pvs_rig_time_at(const struct pvs_rig_timeline *tl, uint64_t i)
{
    if (!tl || tl->n == 0)
        return 0;
    /* The first anchor at or after i. */
    size_t lo = 0, hi = tl->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tl->sample[mid] < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    const int64_t per_sample = 1000000000 / PVS_RIG_RATE;
    if (lo == tl->n) /* after the last: at the nominal rate */
        return tl->ns[tl->n - 1] + (int64_t)(i - tl->sample[tl->n - 1]) * per_sample;
    if (lo == 0 || tl->sample[lo] == i)
        return tl->ns[lo] - (int64_t)(tl->sample[lo] - i) * per_sample;
    uint64_t s0 = tl->sample[lo - 1], s1 = tl->sample[lo];
    int64_t t0 = tl->ns[lo - 1], t1 = tl->ns[lo];
    return t0 + (int64_t)((double)(t1 - t0) * (double)(i - s0) / (double)(s1 - s0));
}

struct pvs_rig_tap {
    char path[300];
    int fd;
    struct pvs_thread *thread;
    atomic_bool stop;
    uint8_t *buf;       /* cap bytes */
    size_t cap, used;
    uint64_t *a_sample; /* anchors */
    int64_t *a_ns;
    size_t a_cap, a_n;
};

static int tap_run(void *arg)
{
    struct pvs_rig_tap *t = arg;
    uint8_t scratch[4096];
    while (!atomic_load(&t->stop)) {
        uint8_t *to = t->used < t->cap ? t->buf + t->used : scratch;
        size_t room = t->used < t->cap ? t->cap - t->used : sizeof(scratch);
        ssize_t n = read(t->fd, to, room);
        if (n > 0) {
            int64_t now = pvs_time_ns();
            if (to != scratch) {
                t->used += (size_t)n;
                /* Only whole samples are anchored; the rest comes with the
                 * next read. */
                if (t->a_n < t->a_cap) {
                    t->a_sample[t->a_n] = t->used / 4;
                    t->a_ns[t->a_n++] = now;
                }
            }
            continue;
        }
        /* Nothing now (no writer yet, or gone, or nothing written). */
        pvs_sleep_ns(500000);
    }
    return 0;
}

int pvs_rig_tap_open(struct pvs_rig_tap **out, const char *path, double max_seconds)
{
    *out = NULL;
    struct pvs_rig_tap *t = calloc(1, sizeof(*t));
    if (!t)
        return PVS_ENOMEM;
    t->fd = -1;
    snprintf(t->path, sizeof(t->path), "%s", path);
    t->cap = (size_t)(max_seconds * PVS_RIG_RATE) * 4;
    t->a_cap = t->cap / 512 + 16;
    t->buf = malloc(t->cap ? t->cap : 1);
    t->a_sample = malloc(t->a_cap * sizeof(uint64_t));
    t->a_ns = malloc(t->a_cap * sizeof(int64_t));
    int rc = 0;
    if (!t->buf || !t->a_sample || !t->a_ns) {
        rc = PVS_ENOMEM;
        goto fail;
    }
    unlink(path);
    if (mkfifo(path, 0600) != 0) {
        PVS_LOG_E("rig tap: mkfifo %s: %s", path, strerror(errno));
        rc = PVS_EIO;
        goto fail;
    }
    /* Non-blocking: open does not wait for a writer, and reads do not
     * wait for data, so stop() is always heard. */
    t->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        PVS_LOG_E("rig tap: open %s: %s", path, strerror(errno));
        rc = PVS_EIO;
        goto fail;
    }
    rc = pvs_thread_create(&t->thread, tap_run, t, "rig-tap");
    if (rc)
        goto fail;
    *out = t;
    return 0;
fail:
    pvs_rig_tap_close(&t);
    return rc;
}

void pvs_rig_tap_stop(struct pvs_rig_tap *t)
{
    if (!t || !t->thread)
        return;
    atomic_store(&t->stop, true);
    pvs_thread_join(&t->thread, NULL);
}

size_t pvs_rig_tap_pcm(const struct pvs_rig_tap *t, const int16_t **pcm)
{
    *pcm = (const int16_t *)(const void *)t->buf;
    return t->used / 4;
}

void pvs_rig_tap_timeline(const struct pvs_rig_tap *t, struct pvs_rig_timeline *tl)
{
    tl->sample = t->a_sample;
    tl->ns = t->a_ns;
    tl->n = t->a_n;
}

void pvs_rig_tap_close(struct pvs_rig_tap **tp)
{
    struct pvs_rig_tap *t = *tp;
    if (!t)
        return;
    pvs_rig_tap_stop(t);
    if (t->fd >= 0) {
        close(t->fd);
        unlink(t->path);
    }
    free(t->buf);
    free(t->a_sample);
    free(t->a_ns);
    free(t);
    *tp = NULL;
}

/* ---- the analysis ------------------------------------------------------- */

struct burst {
    size_t start, end; /* samples, end exclusive */
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n <= 0)
        return 0;
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int pvs_rig_analyze(const int16_t *pcm, size_t samples, const struct pvs_rig_signal *sig_in,
                    const struct pvs_rig_timeline *tl, int64_t from_ns, const int64_t *onsets,
                    size_t n_onsets, struct pvs_rig_analysis *out)
{
    memset(out, 0, sizeof(*out));
    pvs_stats_reset(&out->onset);
    struct pvs_rig_signal sig = *sig_in;
    pvs_rig_signal_resolve(&sig);
    const size_t per_ms = PVS_RIG_RATE / 1000;
    int thr = (int)(sig.level * 32767 / 4);
    size_t quiet_min = (size_t)(sig.off_ms / 2 < 50 ? sig.off_ms / 2 : 50) * per_ms;
    size_t period = (size_t)(sig.on_ms + sig.off_ms) * per_ms;
    size_t cap = samples / (period ? period : 1) + 8;
    struct burst *b = malloc(cap * sizeof(*b));
    double *freq = malloc(cap * sizeof(double)), *snr = malloc(cap * sizeof(double));
    if (!b || !freq || !snr) {
        free(b);
        free(freq);
        free(snr);
        return PVS_ENOMEM;
    }
    /* The bursts: from the first loud sample after quiet_min of quiet to
     * the last loud one before quiet_min of quiet. */
    size_t nb = 0, start = 0, last_loud = 0;
    bool in_burst = false;
    for (size_t i = 0; i < samples; i++) {
        int v = pcm[2 * i];
        if (v > thr || v < -thr) {
            if (!in_burst) {
                in_burst = true;
                start = i;
            }
            last_loud = i;
        } else if (in_burst && i - last_loud >= quiet_min) {
            in_burst = false;
            if (nb < cap)
                b[nb++] = (struct burst){ start, last_loud + 1 };
        }
    }
    const size_t edge = 20 * per_ms;
    int nf = 0;
    double sum_ms = 0;
    out->snr_min_db = 1e9;
    /* The first burst may have been cut by the start of the output. */
    for (size_t k = 1; k < nb; k++) {
        size_t s = b[k].start, e = b[k].end;
        int64_t t_out = pvs_rig_time_at(tl, s);
        if (tl && tl->n && t_out < from_ns)
            continue;
        out->bursts++;
        size_t len_ms = (e - s) / per_ms;
        if (len_ms + 10 < (size_t)sig.on_ms)
            out->short_bursts++;
        if (len_ms > (size_t)sig.on_ms + 10)
            out->long_bursts++;
        /* Gaps: runs of digital silence inside. */
        size_t run = 0, longest = 0;
        for (size_t i = s; i < e; i++) {
            int l = pcm[2 * i], r = pcm[2 * i + 1];
            if (l >= -1 && l <= 1 && r >= -1 && r <= 1) {
                if (++run > longest)
                    longest = run;
            } else {
                run = 0;
            }
        }
        double gap_ms = (double)longest / (double)per_ms;
        if (gap_ms > out->longest_gap_ms)
            out->longest_gap_ms = gap_ms;
        if (e - s > 2 * edge + 10 * per_ms) {
            const int16_t *mid = pcm + 2 * (s + edge);
            size_t n = e - s - 2 * edge;
            double hz = pvs_audio_tone_freq(mid, n, 2, 0, PVS_RIG_RATE);
            double q = pvs_audio_tone_snr(mid, n, 2, 0, PVS_RIG_RATE, hz > 0 ? hz : sig.hz);
            freq[nf] = hz;
            snr[nf++] = q;
            if (fabs(hz - sig.hz) > out->freq_worst_error_hz)
                out->freq_worst_error_hz = fabs(hz - sig.hz);
            if (q < out->snr_min_db)
                out->snr_min_db = q;
        }
        /* Onset to output: the latest onset played before it (give or
         * take `slack`, for the error of both clocks' estimates). */
        if (tl && tl->n && n_onsets) {
            int64_t slack = (int64_t)(sig.off_ms / 4 < 50 ? sig.off_ms / 4 : 50) * 1000000;
            size_t lo = 0, hi = n_onsets;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (onsets[mid] <= t_out + slack)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (lo > 0) {
                int64_t d = t_out - onsets[lo - 1];
                if (d < (int64_t)(sig.on_ms + sig.off_ms) * 1000000 - slack) {
                    pvs_stats_add(&out->onset, d);
                    sum_ms += (double)d / 1e6;
                    out->onsets_matched++;
                }
            }
        }
    }
    if (out->onsets_matched)
        out->onset_mean_ms = sum_ms / out->onsets_matched;
    if (nf == 0)
        out->snr_min_db = 0;
    out->freq_hz = median(freq, nf);
    out->freq_error_hz = nf ? fabs(out->freq_hz - sig.hz) : 0;
    out->snr_db = median(snr, nf);
    free(b);
    free(freq);
    free(snr);
    return 0;
}
