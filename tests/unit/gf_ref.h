/* GF(2^8) with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), written
 * out bit by bit so that a test's reference decoder shares nothing with the
 * ISA-L code under test: full multiplication and inverse tables, and
 * Gauss-Jordan inversion of a square matrix. Call gf_ref_init() first. */
#ifndef PVS_TEST_GF_REF_H
#define PVS_TEST_GF_REF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t gf_ref_mul[256][256];
static uint8_t gf_ref_inv[256];

static inline void gf_ref_init(void)
{
    for (int a = 0; a < 256; a++) {
        for (int b = 0; b < 256; b++) {
            uint8_t x = (uint8_t)a, y = (uint8_t)b, p = 0;
            while (y) {
                if (y & 1)
                    p ^= x;
                y >>= 1;
                x = (uint8_t)((x << 1) ^ (x & 0x80 ? 0x1d : 0));
            }
            gf_ref_mul[a][b] = p;
            if (p == 1)
                gf_ref_inv[a] = (uint8_t)b;
        }
    }
}

/* Inverts the n x n matrix a (row-major) in place. Returns 0, or -1 when
 * it is singular (a is then left half-reduced). */
static inline int gf_ref_invert(uint8_t *a, int n)
{
    uint8_t *inv = calloc((size_t)n * (size_t)n, 1);
    if (!inv)
        return -1;
    for (int i = 0; i < n; i++)
        inv[i * n + i] = 1;
    for (int c = 0; c < n; c++) {
        int piv = c;
        while (piv < n && !a[piv * n + c])
            piv++;
        if (piv == n) {
            free(inv);
            return -1;
        }
        for (int x = 0; x < n; x++) {
            uint8_t t = a[c * n + x];
            a[c * n + x] = a[piv * n + x];
            a[piv * n + x] = t;
            t = inv[c * n + x];
            inv[c * n + x] = inv[piv * n + x];
            inv[piv * n + x] = t;
        }
        uint8_t s = gf_ref_inv[a[c * n + c]];
        for (int x = 0; x < n; x++) {
            a[c * n + x] = gf_ref_mul[s][a[c * n + x]];
            inv[c * n + x] = gf_ref_mul[s][inv[c * n + x]];
        }
        for (int row = 0; row < n; row++) {
            uint8_t f = a[row * n + c];
            if (row == c || !f)
                continue;
            for (int x = 0; x < n; x++) {
                a[row * n + x] ^= gf_ref_mul[f][a[c * n + x]];
                inv[row * n + x] ^= gf_ref_mul[f][inv[c * n + x]];
            }
        }
    }
    memcpy(a, inv, (size_t)n * (size_t)n);
    free(inv);
    return 0;
}

#endif
