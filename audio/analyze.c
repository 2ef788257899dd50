/* Tone measurements (audio/analyze.h). */
#include <math.h>

#include "audio/analyze.h"

double pvs_audio_tone_freq(const int16_t *pcm, size_t n, int channels, int ch, int rate)
{
    double first = -1, last = -1;
    long crossings = 0;
    for (size_t i = 1; i < n; i++) {
        int a = pcm[(i - 1) * (size_t)channels + (size_t)ch];
        int b = pcm[i * (size_t)channels + (size_t)ch];
        if (a < 0 && b >= 0) {
            double at = (double)(i - 1) + (double)-a / (double)(b - a);
            if (first < 0)
                first = at;
            last = at;
            crossings++;
        }
    }
    if (crossings < 2 || last <= first)
        return 0;
    return (double)(crossings - 1) * rate / (last - first);
}

double pvs_audio_tone_snr(const int16_t *pcm, size_t n, int channels, int ch, int rate,
                          double hz)
{
    /* Least squares on sin, cos and 1: the normal equations, 3 x 3. */
    double w = 2 * M_PI * hz / rate;
    double m[3][4] = {{0}};
    for (size_t i = 0; i < n; i++) {
        double x = pcm[i * (size_t)channels + (size_t)ch];
        double v[3] = {sin(w * (double)i), cos(w * (double)i), 1};
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++)
                m[r][c] += v[r] * v[c];
            m[r][3] += v[r] * x;
        }
    }
    for (int c = 0; c < 3; c++) { /* Gauss-Jordan; the matrix is well posed */
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(m[r][c]) > fabs(m[p][c]))
                p = r;
        for (int k = 0; k < 4; k++) {
            double t = m[c][k];
            m[c][k] = m[p][k];
            m[p][k] = t;
        }
        if (fabs(m[c][c]) < 1e-12)
            return 0;
        for (int r = 0; r < 3; r++) {
            if (r == c)
                continue;
            double f = m[r][c] / m[c][c];
            for (int k = c; k < 4; k++)
                m[r][k] -= f * m[c][k];
        }
    }
    double a = m[0][3] / m[0][0], b = m[1][3] / m[1][1], off = m[2][3] / m[2][2];
    double sig = 0, noise = 0;
    for (size_t i = 0; i < n; i++) {
        double x = pcm[i * (size_t)channels + (size_t)ch];
        double fit = a * sin(w * (double)i) + b * cos(w * (double)i);
        sig += fit * fit;
        double e = x - fit - off;
        noise += e * e;
    }
    if (noise <= 0)
        return 200;
    if (sig <= 0)
        return -200;
    return 10 * log10(sig / noise);
}

size_t pvs_audio_onset(const int16_t *pcm, size_t n, int channels, int ch, int level)
{
    for (size_t i = 0; i < n; i++) {
        int v = pcm[i * (size_t)channels + (size_t)ch];
        if (v > level || v < -level)
            return i;
    }
    return n;
}
