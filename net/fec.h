/* Forward error correction for media blocks: systematic Cauchy Reed-Solomon
 * over GF(2^8), with ISA-L's SIMD kernels doing the arithmetic.
 *
 * A block is k data shards followed by m parity shards, all `shard_size`
 * bytes, k + m <= 255. Any k of the k + m shards give back the k data
 * shards. The generator is ISA-L's gf_gen_cauchy1_matrix: the identity on
 * top (the data travels unchanged) and below it the Cauchy rows
 * C[i][j] = 1 / (i + j) for parity row i = k..k+m-1 and data column
 * j = 0..k-1 ("+" is XOR in GF(2^8)). Every square submatrix of a Cauchy
 * matrix is invertible, which is what makes any k shards enough.
 *
 * Decoding solves only for what was lost. Say the data shards in the set E
 * (e of them) are missing and the set K of k - e data shards arrived. Pick
 * e parity shards that arrived, rows p_1..p_e. Each one is
 *
 *     P_r = sum_{j in K} C[r][j] D_j  +  sum_{j in E} C[r][j] D_j
 *
 * The first sum is known: move it to the left (adding is subtracting here)
 * to get the syndromes
 *
 *     S_r = P_r + sum_{j in K} C[r][j] D_j  =  sum_{j in E} C[r][j] D_j
 *
 * The first step is itself an encode: ec_encode_data with the e x (k - e)
 * submatrix of the parity rows restricted to the known columns, whose
 * lookup tables are copied out of the encode tables already built for this
 * shape, then P_r is XORed in. That leaves an e x e system S = M D_E with
 * M[a][b] = C[p_a][E_b], a square submatrix of the Cauchy rows and so
 * invertible. M is itself a Cauchy matrix, so its inverse has a closed form
 * that takes O(e^2) steps (net/fec.c); gf_invert_matrix's Gauss-Jordan
 * takes 2 e^3 multiplications, 0.6 ms at e = 55, more than the rest of
 * the decode. One more ec_encode_data then computes D_E = M^-1 S straight
 * into the missing shards' buffers. Per byte that is e(k - e) + e^2 = e k
 * multiply-adds, the same as encoding e parity rows; inverting the k x k
 * matrix of the received rows, the textbook way, costs k^3 per block (it
 * takes milliseconds at k = 100) and gains nothing.
 *
 * Threading: a struct pvs_fec is used by one thread at a time; give each
 * thread its own. It caches the encode tables of the last few block shapes
 * and holds the decoder's scratch, so after the first block of a shape
 * neither encoding nor decoding allocates. */
#ifndef PVS_FEC_H
#define PVS_FEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_FEC_MAX_SHARDS 255          /* k + m: the size of GF(2^8) less one */
#define PVS_FEC_MAX_SHARD_SIZE 65536    /* a shard travels in one UDP datagram */
#define PVS_FEC_DEFAULT_PERCENT 20      /* parity as a share of the data shards */
#define PVS_FEC_DEFAULT_MIN_PARITY 2    /* so a single loss never needs luck */

struct pvs_fec;

/* Creates a context. Returns 0 or PVS_ENOMEM. */
int pvs_fec_open(struct pvs_fec **out);

/* Frees the context; accepts NULL and *fec == NULL, and clears *fec. */
void pvs_fec_close(struct pvs_fec **fec);

/* Computes the m parity shards of the k data shards data[0..k-1] into
 * parity[0..m-1] (buffers of shard_size bytes, not overlapping the data).
 * m == 0 does nothing. The first block of a (k, m) shape not in the cache
 * builds its tables (32 * k * m bytes); the rest reuse them.
 * Returns 0, PVS_EINVAL for a bad shape (k < 1, m < 0, k + m > 255,
 * shard_size 0 or over PVS_FEC_MAX_SHARD_SIZE) or a NULL pointer, or
 * PVS_ENOMEM. */
int pvs_fec_encode(struct pvs_fec *fec, int k, int m, size_t shard_size,
                   const uint8_t *const *data, uint8_t *const *parity);

/* Recovers the missing data shards of a block in place. shards[0..k+m-1]
 * are the data shards then the parity shards as pvs_fec_encode made them;
 * present[i] says whether shard i arrived. The buffer of every data shard,
 * missing or not, must be shard_size writable bytes (a missing one is
 * written); a missing parity shard's pointer may be NULL. Missing parity
 * shards are not rebuilt, and `present` is not changed.
 * Returns 0 when every data shard is now valid (at once when none was
 * missing); PVS_EBADDATA when fewer than k of the k + m shards arrived
 * (more than m are missing), in which case nothing is written, so no
 * buffer holds a guess;
 * PVS_EINVAL for a bad shape or a NULL pointer where a buffer is needed;
 * PVS_ENOMEM. */
int pvs_fec_decode(struct pvs_fec *fec, int k, int m, size_t shard_size,
                   uint8_t *const *shards, const bool *present);

/* The number of parity shards for k data shards: percent of k rounded up,
 * at least min_parity, and no more than 255 - k so the block fits.
 * pvs_fec_parity_count(k, PVS_FEC_DEFAULT_PERCENT, PVS_FEC_DEFAULT_MIN_PARITY)
 * is the default. Returns m >= 0, or PVS_EINVAL when k is not 1..255 or
 * percent or min_parity is negative. */
int pvs_fec_parity_count(int k, int percent, int min_parity);

#endif
