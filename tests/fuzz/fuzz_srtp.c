/* Fuzz target for the SRTP receive path: whatever arrives, pvs_srtp_unprotect
 * of a receiving context returns 0 or PVS_EBADDATA, counts a drop under
 * exactly one reason, never touches memory outside the datagram, and
 * accepts nothing that was not protected with its key; a genuine packet with
 * any byte changed is refused.
 *
 * Input: byte 0 picks the mode.
 *   even  the rest is one datagram, given to a fresh receiving context (key
 *         KEY, SSRC 0x5eed1234). If it is accepted it must have shrunk by
 *         16 bytes, and the same datagram again must be refused as a
 *         replay.
 *   odd   a genuine packet, then one byte changed:
 *         1..2  sequence number, big-endian
 *         3     RTP byte 1 (marker and payload type)
 *         4..5  position of the change, little-endian, modulo the length
 *         6     the byte XORed in there (0: no change)
 *         7..   payload (at most 2,048 bytes used)
 *         The RTP packet (version 2, timestamp 90,000, that SSRC, the
 *         payload) is protected by a fresh sending context into a block of
 *         exactly its size plus the tag, changed, and given to a fresh
 *         receiving context: accepted with the exact bytes back when
 *         nothing changed, refused otherwise.
 * The corpus (tests/fuzz/corpus/srtp/): "raw_*" are 0x00 followed by what
 * odd mode builds, unchanged, from the parameters in the file name (so they
 * are genuine and accepted; the replay driver's mutations turn them into
 * near misses); "flip_*" are odd-mode inputs. Each file was made by
 * build_genuine below with KEY. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/srtp.h"
#include "tests/fuzz/fuzz.h"

#define TAG 16
#define HDR 12
#define SSRC 0x5eed1234u
#define MAX_PAYLOAD 2048

static const uint8_t KEY[PVS_SRTP_KEY_BYTES] = {
    0x70, 0x76, 0x73, 0x74, 0x72, 0x65, 0x61, 0x6d, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d,
    0x6b, 0x65, 0x79, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
};

/* The RTP packet of odd mode, in a malloc block of exactly HDR + n + TAG
 * bytes, protected. Returns the block (its protected length in *len) and
 * the plain packet in *plain (HDR + n bytes, malloc), or NULL when out of
 * memory. Aborts if protecting fails: a genuine packet always protects. */
static uint8_t *build_genuine(uint16_t seq, uint8_t b1, const uint8_t *payload,
                              size_t n, size_t *len, uint8_t **plain)
{
    size_t rtp = HDR + n;
    uint8_t *p = malloc(rtp + TAG), *copy = malloc(rtp);
    if (!p || !copy) {
        free(p);
        free(copy);
        return NULL;
    }
    static const uint8_t ts[4] = {0x00, 0x01, 0x5f, 0x90}; /* 90,000 */
    p[0] = 0x80;
    p[1] = b1;
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
    memcpy(p + 4, ts, 4);
    p[8] = (uint8_t)(SSRC >> 24);
    p[9] = (uint8_t)(SSRC >> 16);
    p[10] = (uint8_t)(SSRC >> 8);
    p[11] = (uint8_t)SSRC;
    if (n)
        memcpy(p + HDR, payload, n);
    memcpy(copy, p, rtp);

    struct pvs_srtp *tx = NULL;
    *len = rtp;
    if (pvs_srtp_open_send(&tx, KEY, SSRC) != 0 ||
        pvs_srtp_protect(tx, p, len, rtp + TAG) != 0 || *len != rtp + TAG)
        abort();
    pvs_srtp_close(&tx);
    *plain = copy;
    return p;
}

static uint64_t drops(const struct pvs_srtp_stats *st)
{
    return st->auth_failed + st->replayed + st->malformed;
}

static void raw_mode(const uint8_t *data, size_t size)
{
    struct pvs_srtp *rx = NULL;
    if (pvs_srtp_open_recv(&rx, KEY, SSRC) != 0)
        abort();
    /* exact-size blocks: the replay driver's copy is one, and so is this */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    if (size)
        memcpy(buf, data, size);
    size_t len = size;
    int rc = pvs_srtp_unprotect(rx, buf, &len);
    struct pvs_srtp_stats st;
    pvs_srtp_get_stats(rx, &st);
    if (rc == 0) {
        if (len + TAG != size || st.ok != 1 || drops(&st) != 0)
            abort();
        /* the very same datagram again is a replay */
        if (size)
            memcpy(buf, data, size);
        len = size;
        if (pvs_srtp_unprotect(rx, buf, &len) != PVS_EBADDATA)
            abort();
        pvs_srtp_get_stats(rx, &st);
        if (st.replayed != 1 || st.ok != 1)
            abort();
    } else if (rc != PVS_EBADDATA || st.ok != 0 || drops(&st) != 1 || len != size) {
        abort();
    }
    free(buf);
    pvs_srtp_close(&rx);
}

static void flip_mode(const uint8_t *data, size_t size)
{
    if (size < 7)
        return;
    uint16_t seq = (uint16_t)(data[1] << 8 | data[2]);
    uint8_t b1 = data[3];
    size_t pos = (size_t)(data[4] | data[5] << 8);
    uint8_t x = data[6];
    size_t n = size - 7 > MAX_PAYLOAD ? MAX_PAYLOAD : size - 7;

    size_t len;
    uint8_t *plain;
    uint8_t *p = build_genuine(seq, b1, data + 7, n, &len, &plain);
    if (!p)
        return;
    pos %= len;
    p[pos] ^= x;

    struct pvs_srtp *rx = NULL;
    if (pvs_srtp_open_recv(&rx, KEY, SSRC) != 0)
        abort();
    size_t got = len;
    int rc = pvs_srtp_unprotect(rx, p, &got);
    if (x == 0) {
        if (rc != 0 || got != HDR + n || memcmp(p, plain, got) != 0)
            abort();
    } else {
        struct pvs_srtp_stats st;
        pvs_srtp_get_stats(rx, &st);
        if (rc != PVS_EBADDATA || st.ok != 0 || drops(&st) != 1)
            abort();
    }
    pvs_srtp_close(&rx);
    free(p);
    free(plain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        flip_mode(data, size);
    else
        raw_mode(data + 1, size - 1);
    return 0;
}
