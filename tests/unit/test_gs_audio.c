/* Moonlight's audio packets (gamestream/gs_audio.h) against a reference
 * receiver written here from what the client does (moonlight-common-c
 * src/AudioStream.c, src/RtpAudioQueue.c): 12-byte RTP headers, blocks of
 * the four sequence numbers 4n..4n+3, two parity packets whose FEC header
 * names the block, repair by Gauss-Jordan elimination over GF(2^8) on the
 * client's fixed parity rows, the RTP header rebuilt from the FEC header,
 * then AES-128-CBC decryption with the IV from rikeyid + sequence number.
 *
 * Checked: every pattern of up to two losses per block gives back each
 * datagram byte-exact; encryption (PKCS#7, the IV's 32-bit wrap);
 * sequence number wrap and block alignment; blocks with unequal payloads
 * get no parity; size limits; and the channel layouts: the SDP digits,
 * read the way the client reads them, give the encoder's mapping, and
 * libopus carries each channel to the same channel through them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/aes.h>
#include <opus_multistream.h>

#include "common/error.h"
#include "gamestream/gs_audio.h"
#include "common/wire.h"
#include "tests/unit/gf_ref.h"
#include "tests/unit/test.h"

/* The client's audio generator below the identity (src/RtpAudioQueue.c,
 * RtpaInitializeQueue). */
static const uint8_t client_rows[2][4] = { { 0x77, 0x40, 0x38, 0x0e },
                                           { 0xc7, 0xa7, 0x0d, 0x6c } };

static uint64_t rng_state = 0x13198A2E03707344ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static const uint8_t key[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };

/* ---- a sent block, as datagrams ------------------------------------------ */

struct sent_block {
    uint8_t data[4][1400];
    size_t data_len[4];
    uint8_t fec[2][1400];
    size_t fec_len[2];
    int fec_count;
};

/* Sends 4 Opus packets of `len` bytes; the originals go to opus[4][..]. */
static void send_block(struct pvs_gs_audio *a, size_t len, struct sent_block *sb,
                       uint8_t opus[4][1400])
{
    memset(sb, 0, sizeof(*sb));
    for (int i = 0; i < 4; i++) {
        for (size_t b = 0; b < len; b++)
            opus[i][b] = (uint8_t)rnd();
        struct pvs_gs_audio_out out;
        CHECK(pvs_gs_audio_packetize(a, opus[i], len, &out) == 0);
        CHECK_INT(out.count, ==, i == 3 ? 3 : 1);
        memcpy(sb->data[i], out.data[0], out.len[0]);
        sb->data_len[i] = out.len[0];
        for (int j = 1; j < out.count; j++) {
            memcpy(sb->fec[j - 1], out.data[j], out.len[j]);
            sb->fec_len[j - 1] = out.len[j];
        }
        sb->fec_count = out.count - 1;
    }
}

/* ---- the reference receiver ------------------------------------------------ */

/* Rebuilds the block from the datagrams not in `lost` (bit i: data i,
 * bits 4 and 5: the parity packets) into out[4] (whole datagrams). Returns
 * 0, or -1 when fewer than 4 arrived. */
static int rx_block(const struct sent_block *sb, int lost, int packet_ms,
                    uint8_t out[4][1400], size_t *out_len)
{
    const uint8_t *shard[6] = { 0 };
    size_t block_size = 0;
    uint16_t base = 0;
    uint32_t base_ts = 0, ssrc = 0;
    uint8_t pt = 0;
    int have = 0;
    for (int i = 0; i < 4; i++) {
        if (lost & (1 << i))
            continue;
        const uint8_t *p = sb->data[i];
        CHECK_INT(p[0], ==, 0x80);
        CHECK_INT(p[1], ==, 97);
        uint16_t seq = pvs_get_be16(p + 2);
        /* the client's block of a data packet: seq rounded down to 4 */
        base = (uint16_t)(seq / 4 * 4);
        CHECK_INT(seq - base, ==, i);
        base_ts = pvs_get_be32(p + 4) - (uint32_t)(i * packet_ms);
        ssrc = pvs_get_be32(p + 8);
        pt = p[1];
        if (block_size)
            CHECK_INT(sb->data_len[i] - 12, ==, block_size);
        block_size = sb->data_len[i] - 12;
        shard[i] = p + 12;
        have++;
    }
    for (int j = 0; j < 2 && j < sb->fec_count; j++) {
        if (lost & (1 << (4 + j)))
            continue;
        const uint8_t *p = sb->fec[j];
        CHECK_INT(p[0], ==, 0x80);
        CHECK_INT(p[1], ==, 127);
        const uint8_t *f = p + 12;
        CHECK_INT(f[0], ==, j);
        CHECK_INT(f[1], ==, 97);
        uint16_t fbase = pvs_get_be16(f + 2);
        CHECK_INT(fbase % 4, ==, 0);
        if (have)
            CHECK(fbase == base && pvs_get_be32(f + 4) == base_ts && pvs_get_be32(f + 8) == ssrc);
        base = fbase;
        base_ts = pvs_get_be32(f + 4);
        ssrc = pvs_get_be32(f + 8);
        pt = f[1];
        if (block_size)
            CHECK_INT(sb->fec_len[j] - 24, ==, block_size);
        block_size = sb->fec_len[j] - 24;
        shard[4 + j] = f + 12;
        have++;
    }
    if (have < 4)
        return -1;
    /* 4 rows that arrived; solve for the data */
    int rows[4], n = 0;
    for (int i = 0; i < 6 && n < 4; i++)
        if (shard[i])
            rows[n++] = i;
    uint8_t inv[4][4];
    for (int x = 0; x < 4; x++)
        for (int c = 0; c < 4; c++)
            inv[x][c] = rows[x] < 4 ? (uint8_t)(rows[x] == c) : client_rows[rows[x] - 4][c];
    int rc = gf_ref_invert(&inv[0][0], 4);
    CHECK(rc == 0);
    if (rc)
        return -1;
    for (int i = 0; i < 4; i++) {
        uint8_t *o = out[i];
        if (shard[i]) {
            memcpy(o, sb->data[i], sb->data_len[i]);
        } else {
            /* the client's rebuilt header (completeFecBlock) */
            o[0] = 0x80;
            o[1] = pt;
            o[2] = (uint8_t)((base + i) >> 8);
            o[3] = (uint8_t)(base + i);
            uint32_t ts = base_ts + (uint32_t)(i * packet_ms);
            o[4] = (uint8_t)(ts >> 24);
            o[5] = (uint8_t)(ts >> 16);
            o[6] = (uint8_t)(ts >> 8);
            o[7] = (uint8_t)ts;
            o[8] = (uint8_t)(ssrc >> 24);
            o[9] = (uint8_t)(ssrc >> 16);
            o[10] = (uint8_t)(ssrc >> 8);
            o[11] = (uint8_t)ssrc;
            memset(o + 12, 0, block_size);
            for (int x = 0; x < 4; x++)
                for (size_t b = 0; b < block_size; b++)
                    o[12 + b] ^= gf_ref_mul[inv[i][x]][shard[rows[x]][b]];
        }
        out_len[i] = 12 + block_size;
    }
    return 0;
}

/* The client's decryption of a datagram's payload; returns the Opus length
 * or -1. */
static int rx_decrypt(const uint8_t *d, size_t len, uint32_t rikeyid, uint8_t *opus)
{
    size_t n = len - 12;
    if (n == 0 || n % 16)
        return -1;
    uint8_t iv[16] = { 0 };
    uint32_t x = rikeyid + pvs_get_be16(d + 2);
    iv[0] = (uint8_t)(x >> 24);
    iv[1] = (uint8_t)(x >> 16);
    iv[2] = (uint8_t)(x >> 8);
    iv[3] = (uint8_t)x;
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    mbedtls_aes_setkey_dec(&aes, key, 128);
    int rc = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, n, iv, d + 12, opus);
    mbedtls_aes_free(&aes);
    if (rc)
        return -1;
    uint8_t pad = opus[n - 1];
    if (pad < 1 || pad > 16)
        return -1;
    for (size_t i = n - pad; i < n; i++)
        if (opus[i] != pad)
            return -1;
    return (int)(n - pad);
}

static struct pvs_gs_audio *open_audio(int ms, bool encrypt, uint32_t rikeyid, uint16_t seq)
{
    struct pvs_gs_audio_config c = { .packet_ms = ms, .encrypt = encrypt, .rikeyid = rikeyid,
                                     .ssrc = 0xCAFEF00D, .first_seq = seq,
                                     .first_timestamp = 1000 };
    memcpy(c.key, key, sizeof(key));
    struct pvs_gs_audio *a = NULL;
    CHECK(pvs_gs_audio_open(&a, &c) == 0);
    return a;
}

/* Every pattern of 0, 1 or 2 losses of each block of a stream. Returns the
 * number of patterns repaired. */
static int check_blocks(struct pvs_gs_audio *a, int blocks, size_t len, int ms, bool encrypt,
                        uint32_t rikeyid, uint16_t first_seq, uint32_t first_ts)
{
    int repaired = 0;
    uint16_t seq = first_seq;
    for (int blk = 0; blk < blocks; blk++) {
        struct sent_block sb;
        uint8_t opus[4][1400];
        send_block(a, len, &sb, opus);
        CHECK_INT(sb.fec_count, ==, 2);
        for (int i = 0; i < 4; i++) {
            CHECK_INT(pvs_get_be16(sb.data[i] + 2), ==, (uint16_t)(seq + i));
            CHECK_INT(pvs_get_be32(sb.data[i] + 4), ==, first_ts + (uint32_t)((blk * 4 + i) * ms));
        }
        seq = (uint16_t)(seq + 4);
        for (int lost = 0; lost < 64; lost++) {
            if (__builtin_popcount((unsigned)lost) > 2)
                continue;
            uint8_t out[4][1400];
            size_t out_len[4];
            CHECK(rx_block(&sb, lost, ms, out, out_len) == 0);
            for (int i = 0; i < 4; i++) {
                CHECK(out_len[i] == sb.data_len[i] &&
                      memcmp(out[i], sb.data[i], out_len[i]) == 0);
                uint8_t plain[1400];
                if (encrypt) {
                    int n = rx_decrypt(out[i], out_len[i], rikeyid, plain);
                    CHECK(n == (int)len && memcmp(plain, opus[i], len) == 0);
                } else {
                    CHECK(memcmp(out[i] + 12, opus[i], len) == 0);
                }
            }
            repaired++;
        }
        /* three losses are too many */
        uint8_t out[4][1400];
        size_t out_len[4];
        CHECK(rx_block(&sb, 0x13, ms, out, out_len) == -1);
    }
    return repaired;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_plain_fec(void)
{
    struct pvs_gs_audio *a = open_audio(5, false, 0, 0);
    CHECK_INT(check_blocks(a, 5, 200, 5, false, 0, 0, 1000), ==, 5 * 22);
    struct pvs_gs_audio_stats s;
    pvs_gs_audio_get_stats(a, &s);
    CHECK_INT(s.packets, ==, 20);
    CHECK_INT(s.fec_packets, ==, 10);
    CHECK_INT(s.fec_skipped, ==, 0);
    pvs_gs_audio_close(&a);
    CHECK(a == NULL);
    pvs_gs_audio_close(&a);
}

/* The IV is big-endian (rikeyid + sequence number): a negative rikeyid
 * wraps it. A multiple of 16 gets a whole block of padding. */
static void test_encrypted(void)
{
    uint32_t rikeyid = (uint32_t)-3;
    struct pvs_gs_audio *a = open_audio(10, true, rikeyid, 0);
    CHECK_INT(check_blocks(a, 3, 181, 10, true, rikeyid, 0, 1000), ==, 3 * 22);
    CHECK_INT(check_blocks(a, 2, 176, 10, true, rikeyid, 12, 1120), ==, 2 * 22);
    struct pvs_gs_audio_out out;
    uint8_t opus[160] = { 1, 2, 3 };
    CHECK(pvs_gs_audio_packetize(a, opus, sizeof(opus), &out) == 0);
    CHECK_INT(out.len[0], ==, 12 + 176);
    pvs_gs_audio_close(&a);
}

static void test_sequence_wrap(void)
{
    struct pvs_gs_audio *a = open_audio(5, true, 77, 65532);
    CHECK_INT(check_blocks(a, 3, 300, 5, true, 77, 65532, 1000), ==, 3 * 22);
    pvs_gs_audio_close(&a);

    /* an unaligned start is rounded down to a block boundary */
    a = open_audio(5, false, 0, 6);
    struct pvs_gs_audio_out out;
    uint8_t opus[50] = { 0 };
    CHECK(pvs_gs_audio_packetize(a, opus, sizeof(opus), &out) == 0);
    CHECK_INT(pvs_get_be16(out.data[0] + 2), ==, 4);
    pvs_gs_audio_close(&a);
}

/* Payload sizes that differ inside a block: no parity for it (the client
 * would turn its FEC off), and the next block has parity again. */
static void test_ragged_block(void)
{
    struct pvs_gs_audio *a = open_audio(5, false, 0, 0);
    static const size_t sizes[8] = { 100, 100, 101, 100, 100, 100, 100, 100 };
    uint8_t opus[200] = { 0 };
    int fec = 0;
    for (int i = 0; i < 8; i++) {
        struct pvs_gs_audio_out out;
        CHECK(pvs_gs_audio_packetize(a, opus, sizes[i], &out) == 0);
        CHECK_INT(out.len[0], ==, 12 + sizes[i]);
        fec += out.count - 1;
        if (i == 3)
            CHECK_INT(out.count, ==, 1);
    }
    CHECK_INT(fec, ==, 2);
    struct pvs_gs_audio_stats s;
    pvs_gs_audio_get_stats(a, &s);
    CHECK_INT(s.fec_skipped, ==, 1);
    pvs_gs_audio_close(&a);
}

static void test_limits(void)
{
    uint8_t opus[1400] = { 0 };
    struct pvs_gs_audio_out out;
    struct pvs_gs_audio *a = open_audio(5, false, 0, 0);
    for (int i = 0; i < 4; i++)
        CHECK(pvs_gs_audio_packetize(a, opus, 1376, &out) == 0);
    CHECK_INT(out.count, ==, 3);
    CHECK_INT(out.len[1], ==, 1400);  /* the client's whole receive buffer */
    CHECK(pvs_gs_audio_packetize(a, opus, 1377, &out) == PVS_ERANGE);
    CHECK(pvs_gs_audio_packetize(a, opus, 0, &out) == PVS_EINVAL);
    CHECK(pvs_gs_audio_packetize(a, NULL, 10, &out) == PVS_EINVAL);
    CHECK(pvs_gs_audio_packetize(a, opus, 10, &out) == 0);
    CHECK_INT(pvs_get_be16(out.data[0] + 2), ==, 4);  /* refusals used no sequence number */
    pvs_gs_audio_close(&a);

    a = open_audio(5, true, 0, 0);
    CHECK(pvs_gs_audio_packetize(a, opus, 1375, &out) == 0);
    CHECK(pvs_gs_audio_packetize(a, opus, 1376, &out) == PVS_ERANGE);
    pvs_gs_audio_close(&a);

    struct pvs_gs_audio_config c = { .packet_ms = 7 };
    CHECK(pvs_gs_audio_open(&a, &c) == PVS_EINVAL);
    CHECK(a == NULL);
    CHECK(pvs_gs_audio_open(&a, NULL) == PVS_EINVAL);
}

/* The client's reading of a surround-params value (RtspConnection.c,
 * parseOpusConfigurations): one digit each for streams, coupled streams
 * and the mapping; for normal quality with 6 or 8 channels the last
 * mapping digit moves to position 3. */
static void client_parse(const char *digits, int channels, bool high_quality, int *streams,
                         int *coupled, uint8_t *mapping)
{
    *streams = digits[0] - '0';
    *coupled = digits[1] - '0';
    uint8_t wire[8] = { 0 };
    for (int i = 0; i < channels; i++)
        wire[i] = (uint8_t)(digits[2 + i] - '0');
    memcpy(mapping, wire, 8);
    if (!high_quality && (channels == 6 || channels == 8)) {
        mapping[3] = wire[channels - 1];
        memcpy(mapping + 4, wire + 3, (size_t)channels - 4);
    }
}

static void sdp_digits(const struct pvs_gs_opus_config *c, bool hq, char *out)
{
    uint8_t wire[8];
    pvs_gs_audio_sdp_mapping(c, hq, wire);
    out[0] = (char)('0' + c->streams);
    out[1] = (char)('0' + c->coupled);
    for (int i = 0; i < c->channels; i++)
        out[2 + i] = (char)('0' + wire[i]);
    out[2 + c->channels] = '\0';
}

static void test_layout_digits(void)
{
    static const int counts[] = { 2, 6, 8 };
    for (int n = 0; n < 3; n++) {
        for (int hq = 0; hq < 2; hq++) {
            struct pvs_gs_opus_config c;
            CHECK(pvs_gs_audio_opus_config(counts[n], hq, &c) == 0);
            CHECK_INT(c.channels, ==, counts[n]);
            /* every coded channel used once: streams + coupled of them */
            int coded = c.streams + c.coupled;
            int used[16] = { 0 };
            for (int i = 0; i < c.channels; i++) {
                CHECK(c.mapping[i] < coded);
                used[c.mapping[i]]++;
            }
            for (int i = 0; i < coded; i++)
                CHECK_INT(used[i], ==, 1);
            /* 5 ms at the layout's rate fits a datagram, even encrypted */
            CHECK((size_t)c.bitrate / 8 / 200 + 16 <= PVS_GS_AUDIO_MAX_PAYLOAD);
            char digits[16];
            sdp_digits(&c, hq, digits);
            int streams, coupled;
            uint8_t mapping[8];
            client_parse(digits, c.channels, hq, &streams, &coupled, mapping);
            CHECK(streams == c.streams && coupled == c.coupled);
            CHECK(memcmp(mapping, c.mapping, (size_t)c.channels) == 0);
            CHECK_INT(pvs_gs_audio_channels(c.channel_mask << 16 | (uint32_t)c.channels), ==,
                      c.channels);
        }
    }
    struct pvs_gs_opus_config c;
    CHECK(pvs_gs_audio_opus_config(4, false, &c) == PVS_EINVAL);
    CHECK(pvs_gs_audio_opus_config(2, true, &c) == 0 && c.streams == 1 && c.coupled == 1);
    CHECK(pvs_gs_audio_channels(0x3F << 16 | 2) == PVS_EINVAL);
    CHECK(pvs_gs_audio_channels(4) == PVS_EINVAL);
}

/* Power of one frequency in a signal (Goertzel). */
static double tone_power(const float *x, int stride, int n, double freq)
{
    double w = 2 * M_PI * freq / 48000, k = 2 * cos(w), s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double s = x[i * stride] + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    return s1 * s1 + s2 * s2 - k * s1 * s2;
}

/* Each input channel carries its own tone; after the encoder (host's
 * mapping) and the decoder (the client's parse of our SDP digits) every
 * output channel's strongest tone is its own. */
static void test_layout_through_opus(void)
{
    enum { FRAME = 240, FRAMES = 60 };
    for (int n = 6; n <= 8; n += 2) {
        for (int hq = 0; hq < 2; hq++) {
            struct pvs_gs_opus_config c;
            CHECK(pvs_gs_audio_opus_config(n, hq, &c) == 0);
            char digits[16];
            sdp_digits(&c, hq, digits);
            int streams, coupled;
            uint8_t dmap[8];
            client_parse(digits, n, hq, &streams, &coupled, dmap);
            int err = 0;
            OpusMSEncoder *enc = opus_multistream_encoder_create(
                48000, n, c.streams, c.coupled, c.mapping, OPUS_APPLICATION_RESTRICTED_LOWDELAY,
                &err);
            CHECK(enc && err == OPUS_OK);
            OpusMSDecoder *dec = opus_multistream_decoder_create(48000, n, streams, coupled,
                                                                 dmap, &err);
            CHECK(dec && err == OPUS_OK);
            if (!enc || !dec) {
                opus_multistream_encoder_destroy(enc);
                opus_multistream_decoder_destroy(dec);
                continue;
            }
            opus_multistream_encoder_ctl(enc, OPUS_SET_BITRATE(c.bitrate));
            opus_multistream_encoder_ctl(enc, OPUS_SET_VBR(0));
            float *in = malloc(sizeof(float) * FRAME * (size_t)n);
            float *outp = malloc(sizeof(float) * FRAME * FRAMES * (size_t)n);
            long t = 0;
            for (int f = 0; f < FRAMES; f++) {
                for (int i = 0; i < FRAME; i++, t++)
                    for (int ch = 0; ch < n; ch++)
                        in[i * n + ch] = 0.3f * (float)sin(2 * M_PI * (400 + 300 * ch) * t / 48000.0);
                uint8_t pkt[1400];
                int len = opus_multistream_encode_float(enc, in, FRAME, pkt, sizeof(pkt));
                CHECK(len > 0);
                int got = len > 0 ? opus_multistream_decode_float(dec, pkt, len,
                                                                  outp + (size_t)f * FRAME * n,
                                                                  FRAME, 0)
                                  : -1;
                CHECK_INT(got, ==, FRAME);
            }
            int half = FRAMES * FRAME / 2;
            for (int ch = 0; ch < n; ch++) {
                int best = -1;
                double best_p = 0;
                for (int tone = 0; tone < n; tone++) {
                    double p = tone_power(outp + (size_t)half * n + ch, n, half, 400 + 300 * tone);
                    if (p > best_p) {
                        best_p = p;
                        best = tone;
                    }
                }
                CHECK_INT(best, ==, ch);
            }
            free(in);
            free(outp);
            opus_multistream_encoder_destroy(enc);
            opus_multistream_decoder_destroy(dec);
        }
    }
}

int main(void)
{
    gf_ref_init();
    RUN(test_plain_fec);
    RUN(test_encrypted);
    RUN(test_sequence_wrap);
    RUN(test_ragged_block);
    RUN(test_limits);
    RUN(test_layout_digits);
    RUN(test_layout_through_opus);
    TEST_EXIT();
}
