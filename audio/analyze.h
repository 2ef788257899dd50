/* Measuring a tone in recorded audio: its frequency, how clean it is, and
 * where it starts. For tests and pvstream-bench, not for the stream.
 *
 * Samples are int16, interleaved with `channels` channels; `ch` picks one. */
#ifndef PVS_AUDIO_ANALYZE_H
#define PVS_AUDIO_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

/* The frequency of a tone in n samples at `rate` Hz, from its rising zero
 * crossings, each placed between samples by linear interpolation: cycles
 * between the first and the last crossing over the time between them.
 * Accurate to far better than 1 Hz over a tenth of a second of a clean
 * tone. Returns 0 when there are fewer than two crossings. */
double pvs_audio_tone_freq(const int16_t *pcm, size_t n, int channels, int ch, int rate);

/* Signal-to-noise ratio in dB of a tone of frequency hz: the best fit of
 * a sine of that frequency (any amplitude and phase, plus an offset) is the
 * signal, the rest is noise. 200 when the rest is zero. */
double pvs_audio_tone_snr(const int16_t *pcm, size_t n, int channels, int ch, int rate,
                          double hz);

/* Index of the first sample whose magnitude exceeds `level`, or n when
 * none does. */
size_t pvs_audio_onset(const int16_t *pcm, size_t n, int channels, int ch, int level);

#endif
