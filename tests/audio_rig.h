/* The audio test rig, for pvstream-bench audio and the audio integration
 * test: a private PulseAudio server, a known signal played into it, a tap
 * that reads what the client's SDL "disk" driver writes (with the time each
 * part was written), and the analysis of that output.
 *
 * The signal: a tone in bursts with sharp onsets (200 ms on, 300 ms off by
 * default), each burst starting at phase 0. The player remembers when each
 * burst's first sample reached the sink; the analysis finds the bursts in
 * the output and measures them: frequency, SNR, silent gaps inside, and
 * (with the tap's timeline) onset to output.
 *
 * POSIX only (fork, FIFOs): not built on Windows. */
#ifndef PVS_TEST_AUDIO_RIG_H
#define PVS_TEST_AUDIO_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/stats.h"

#define PVS_RIG_RATE 48000
#define PVS_RIG_MAX_ONSETS 8192 /* bursts remembered: 68 min at 500 ms */

/* ---- a private PulseAudio server ---------------------------------------- */

struct pvs_rig_pulse {
    pid_t pid;         /* 0 when not running */
    char dir[200];     /* its runtime directory (a temporary directory's "pulse") */
    char server[240];  /* "unix:DIR/native", what PULSE_SERVER is set to */
};

/* Starts `pulseaudio -n` with only a null sink ("pvs", 48 kHz stereo, the
 * default sink) and the native protocol on a socket under `dir` (an
 * existing directory the caller owns; its log goes to dir/pulse/log), its
 * HOME and runtime paths under `dir` too, so nothing of the machine's own
 * sound setup is touched; works as root. Sets PULSE_SERVER and PULSE_COOKIE
 * in this process's environment, so libpulse here and in children started
 * afterwards finds it, and waits (10 s at most) until it answers. Returns 0,
 * PVS_ENOENT when pulseaudio is not installed, or PVS_EIO when it did not
 * start (see the log). */
int pvs_rig_pulse_start(struct pvs_rig_pulse *p, const char *dir);

/* Stops it and waits for it. Accepts one that never started. Leaves
 * PULSE_SERVER as it is (pointing at a socket nobody listens on). */
void pvs_rig_pulse_stop(struct pvs_rig_pulse *p);

/* ---- the signal and its player ------------------------------------------ */

struct pvs_rig_signal {
    double hz;    /* the tone; 0 = 1000 */
    double level; /* its peak, 0..1 of full scale; 0 = 0.5 */
    int on_ms;    /* burst length, a multiple of 5; 0 = 200 */
    int off_ms;   /* silence between, a multiple of 5; 0 = 300 */
};

/* Fills in the defaults. */
void pvs_rig_signal_resolve(struct pvs_rig_signal *s);

/* Sample i (0 = a burst's first) of the signal, one channel. */
int16_t pvs_rig_signal_sample(const struct pvs_rig_signal *s, uint64_t i);

struct pvs_rig_player;

/* Plays the signal without end into the default sink of the PulseAudio
 * server PULSE_SERVER names, in 5 ms writes, on its own thread, through a
 * playback stream with a 10 ms buffer. Returns 0, or PVS_EIO when it
 * could not connect (after logging why). */
int pvs_rig_player_start(struct pvs_rig_player **out, const struct pvs_rig_signal *sig);

/* The time (pvs_time_ns()) each burst's first sample reached the sink so
 * far, oldest first: the time its write returned plus the stream's latency
 * then, less what was written after it. Copies up to `max`; returns how
 * many bursts there were. */
size_t pvs_rig_player_onsets(struct pvs_rig_player *p, int64_t *out, size_t max);

/* Stops, waits for the thread, frees. Accepts NULL and clears the pointer.
 * Returns 0, or the libpulse error code the player stopped on. */
int pvs_rig_player_stop(struct pvs_rig_player **p);

/* ---- the tap: a FIFO that SDL's disk driver writes into ----------------- */

/* Where sample positions were written, and when: anchors (sample count
 * after a read, the time of that read), in order. */
struct pvs_rig_timeline {
    const uint64_t *sample;
    const int64_t *ns;
    size_t n;
};

/* The time sample `i` was written, interpolated between the anchors around
 * it (extrapolated at the ends at 48 kHz); 0 when there are no anchors. */
int64_t pvs_rig_time_at(const struct pvs_rig_timeline *tl, uint64_t i);

struct pvs_rig_tap;

/* Makes a FIFO at `path` (removing whatever is there) and reads it on a
 * thread, keeping up to max_seconds of 48 kHz stereo S16 and when each read
 * returned. Reading does not wait for a writer: a writer that comes (SDL
 * opens the file when the client opens audio), goes and comes back is
 * appended. Returns 0 or a negative PVS_E* code. */
int pvs_rig_tap_open(struct pvs_rig_tap **out, const char *path, double max_seconds);

/* Stops reading (what is in the FIFO then is left). */
void pvs_rig_tap_stop(struct pvs_rig_tap *t);

/* What was read, after stop: interleaved L R samples; returns the number of
 * samples per channel. The pointers stay valid until close. */
size_t pvs_rig_tap_pcm(const struct pvs_rig_tap *t, const int16_t **pcm);
void pvs_rig_tap_timeline(const struct pvs_rig_tap *t, struct pvs_rig_timeline *tl);

/* Stops if needed, removes the FIFO, frees. Accepts NULL; clears the
 * pointer. */
void pvs_rig_tap_close(struct pvs_rig_tap **t);

/* ---- the analysis ------------------------------------------------------- */

struct pvs_rig_analysis {
    int bursts;             /* whole bursts measured: found in the output,
                               less the first (it may be cut), those that
                               do not end, and with a timeline those
                               written before from_ns */
    int short_bursts;       /* of those, shorter than on_ms - 10 ms (broken
                               by a silence, or a frame dropped) */
    int long_bursts;        /* longer than on_ms + 10 ms (two run together) */
    double freq_hz;         /* the median of the bursts' frequencies */
    double freq_error_hz;   /* |freq_hz - hz| */
    double freq_worst_error_hz; /* the largest |frequency - hz| of a burst
                               (a gap or a concealed frame shifts it) */
    double snr_db;          /* the median of the bursts' SNR */
    double snr_min_db;      /* the lowest */
    double longest_gap_ms;  /* the longest run of digital silence (both
                               channels within +-1) inside a burst */
    int onsets_matched;     /* bursts matched to a played onset */
    struct pvs_stats onset; /* their onset to output time (output written
                               less played into the sink), ns; a negative
                               time counts as 0 */
    double onset_mean_ms;   /* its mean, signed */
};

/* Finds the bursts of `sig` in `samples` samples of interleaved stereo
 * `pcm` (a burst starts at the first sample above a quarter of the level
 * after at least 50 ms, or half the silence, below it, on the left
 * channel) and measures each away from its edges (20 ms cut at each end):
 * frequency and SNR of the left channel, gaps of both. With `tl` (may be
 * NULL), bursts written before from_ns are left out, and each burst is
 * matched to the latest of the `n_onsets` played onsets before it (give or
 * take a quarter of the silence, 50 ms at most) for the onset time. Returns 0, or PVS_ENOMEM. */
int pvs_rig_analyze(const int16_t *pcm, size_t samples, const struct pvs_rig_signal *sig,
                    const struct pvs_rig_timeline *tl, int64_t from_ns, const int64_t *onsets,
                    size_t n_onsets, struct pvs_rig_analysis *out);

#endif
