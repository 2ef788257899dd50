/* Fuzz target for the media receive path: pvs_media_parse and the
 * reassembly (push, pop, poll) on arbitrary packets with an advancing
 * clock, and on real packetizer output that is then lost, duplicated,
 * reordered and corrupted. Nothing may read or write out of bounds, and:
 *   - a header that parses writes back to the same bytes;
 *   - every push is counted exactly once (packets, duplicates, malformed,
 *     late); a frame handed on is at most max_frame bytes and readable;
 *   - poll never names a time already past, and a second after the last
 *     packet nothing is left in flight;
 *   - packetizer mode: when packets were only lost, duplicated or
 *     reordered (never corrupted), every frame handed on is exactly the
 *     frame sent.
 *
 * Input: byte 0 chooses the setup:
 *   bits 0-1  fps 30, 60, 144, 1000
 *   bit 2     max_frame 4096 (else the default, 16 MiB)
 *   bit 3     accept only SSRC 0x12345678 (else any)
 *   bit 4     packetizer mode (else raw mode)
 * Raw mode, then records to the end: 1 byte clock step (x 256 µs), 2 bytes
 * packet length (big-endian; cut short by the end of the input), the packet.
 * Packetizer mode, then:
 *   1      bits 0-1 datagram 576, 600, 1400, 9000; bits 2-7 max_block_data
 *   2      FEC percent (mod 101)    3  minimum parity (mod 17)
 *   4      frames (1 + value % 4)
 *   per frame, 3 bytes: size - 1 (big-endian, mod 20000), flags (bit 0
 *          keyframe, bits 1-3 frame number step - 1)
 *   the rest: one byte per packet in send order (cycled; all delivered when
 *   empty): value % 8 is 0-3 deliver, 4 drop, 5 deliver twice, 6 deliver
 *   after the next one, 7 flip bit (value >> 3) % 8 of byte
 *   (next script byte) % length, then deliver.
 * The frames' contents come from a PRNG seeded by the input.
 *
 * The corpus (tests/fuzz/corpus/media) is written by this file built with
 * -DFUZZ_MEDIA_MAKE_CORPUS (see the end). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/media.h"
#include "net/packetizer.h"
#include "net/reassembly.h"
#include "tests/fuzz/fuzz.h"

#define SSRC 0x12345678u
#define MAX_FRAMES 4
#define MAX_SIZE 20000

struct run {
    struct pvs_reassembly *ra;
    size_t max_frame;
    uint64_t pushes;
    int64_t now;
    /* packetizer mode: the frames sent, to compare */
    bool exact;
    int frames;
    uint32_t number[MAX_FRAMES];
    uint8_t *data[MAX_FRAMES];
    size_t size[MAX_FRAMES];
};

static void check_parse(const uint8_t *pkt, size_t len)
{
    struct pvs_rtp_header r;
    struct pvs_media_header h;
    if (pvs_media_parse(pkt, len, &r, &h) != 0)
        return;
    uint8_t out[PVS_RTP_HEADER_BYTES + PVS_MEDIA_HEADER_BYTES];
    pvs_rtp_write(out, &r);
    pvs_media_write(out + PVS_RTP_HEADER_BYTES, &h);
    out[PVS_RTP_HEADER_BYTES + 19] = pkt[PVS_RTP_HEADER_BYTES + 19]; /* reserved */
    if (memcmp(out, pkt, sizeof(out)) != 0)
        abort();
}

static void drain(struct run *run)
{
    struct pvs_rframe f;
    while (pvs_reassembly_pop(run->ra, run->now, &f) == 1) {
        if (f.size < 1 || f.size > run->max_frame || !f.data)
            abort();
        unsigned sum = 0;
        for (size_t i = 0; i < f.size; i++)
            sum += f.data[i];
        (void)sum;
        if (!run->exact)
            continue;
        int k = 0;
        while (k < run->frames && run->number[k] != f.frame)
            k++;
        if (k == run->frames || f.size != run->size[k] ||
            memcmp(f.data, run->data[k], f.size) != 0)
            abort();
    }
    int64_t due = pvs_reassembly_poll(run->ra, run->now);
    if (due < run->now)
        abort();
    (void)pvs_reassembly_want_keyframe(run->ra);
}

static void push(struct run *run, const uint8_t *pkt, size_t len)
{
    check_parse(pkt, len);
    int rc = pvs_reassembly_push(run->ra, pkt, len, run->now);
    if (rc != 0 && rc != PVS_EBADDATA)
        abort();
    run->pushes++;
    struct pvs_reassembly_stats st;
    pvs_reassembly_get_stats(run->ra, &st);
    if (st.packets + st.duplicates + st.malformed + st.late != run->pushes)
        abort();
    drain(run);
}

static void raw_mode(struct run *run, const uint8_t *p, size_t n)
{
    size_t at = 0;
    while (at + 3 <= n) {
        run->now += (int64_t)p[at] * 256;
        size_t len = (size_t)p[at + 1] << 8 | p[at + 2];
        at += 3;
        if (len > n - at)
            len = n - at;
        /* An exact-size copy, so ASan sees any read past the packet. */
        uint8_t *pkt = malloc(len ? len : 1);
        if (!pkt)
            abort();
        memcpy(pkt, p + at, len);
        push(run, pkt, len);
        free(pkt);
        at += len;
    }
}

static uint64_t prng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void packetizer_mode(struct run *run, const uint8_t *p, size_t n, int fps)
{
    static const int datagrams[] = { 576, 600, 1400, 9000 };
    if (n < 4)
        return;
    struct pvs_packetizer_config c = {
        .datagram_size = datagrams[p[0] & 3],
        .max_block_data = p[0] >> 2,
        .fec_percent = p[1] % 101,
        .fec_min_parity = p[2] % 17,
        .ssrc = SSRC,
        .first_seq = (uint16_t)(65500 + p[3]),
    };
    int frames = 1 + p[3] % MAX_FRAMES;
    p += 4;
    n -= 4;
    if (n < (size_t)frames * 3)
        return;
    struct pvs_packetizer *pz = NULL;
    if (pvs_packetizer_open(&pz, &c) != 0)
        return; /* no block fits this percent and minimum */
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++)
        seed = (seed ^ p[i]) * 0x100000001B3ull;
    if (!seed)
        seed = 1;
    const uint8_t *script = p + frames * 3;
    size_t script_len = n - (size_t)frames * 3, sp = 0;
    uint32_t number = 7;
    run->exact = true;
    run->frames = frames;
    for (int f = 0; f < frames; f++) {
        size_t size = 1 + (((size_t)p[f * 3] << 8 | p[f * 3 + 1]) % MAX_SIZE);
        uint8_t flags = p[f * 3 + 2];
        number += 1 + ((flags >> 1) & 7);
        run->number[f] = number;
        run->size[f] = size;
        run->data[f] = malloc(size);
        if (!run->data[f])
            abort();
        for (size_t i = 0; i < size; i++)
            run->data[f][i] = (uint8_t)prng(&seed);
        struct pvs_packet in = {
            .data = run->data[f], .size = size, .keyframe = flags & 1, .frame = number,
            .capture_ns = (int64_t)number * 1000000000 / fps,
        };
        struct pvs_packet_batch b;
        if (pvs_packetizer_frame(pz, &in, 0, &b) != 0)
            abort();
        run->now += 1000000 / fps;
        const uint8_t *held = NULL;
        uint8_t *bad = malloc(b.len);
        if (!bad)
            abort();
        for (int i = 0; i < b.count; i++) {
            const uint8_t *pkt = b.data + (size_t)i * b.stride;
            uint8_t op = script_len ? script[sp++ % script_len] : 0;
            run->now += 20;
            switch (op % 8) {
            case 4:
                break;
            case 5:
                push(run, pkt, b.len);
                push(run, pkt, b.len);
                break;
            case 6:
                if (!held) {
                    held = pkt;
                    continue;
                }
                push(run, pkt, b.len);
                break;
            case 7: {
                uint8_t at = script_len ? script[sp++ % script_len] : 0;
                memcpy(bad, pkt, b.len);
                bad[at % b.len] ^= (uint8_t)(1u << ((op >> 3) % 8));
                run->exact = false;
                push(run, bad, b.len);
                break;
            }
            default:
                push(run, pkt, b.len);
                break;
            }
            if (held && held != pkt) {
                push(run, held, b.len);
                held = NULL;
            }
        }
        if (held)
            push(run, held, b.len);
        free(bad);
    }
    pvs_packetizer_close(&pz);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int fpss[] = { 30, 60, 144, 1000 };
    if (size < 1)
        return 0;
    uint8_t setup = data[0];
    struct run run = { .max_frame = setup & 4 ? 4096 : PVS_MEDIA_MAX_FRAME, .now = 1000000 };
    struct pvs_reassembly_config c = {
        .fps = fpss[setup & 3],
        .max_frame = setup & 4 ? 4096 : 0,
        .ssrc = setup & 8 ? SSRC : 0,
    };
    if (pvs_reassembly_open(&run.ra, &c) != 0)
        abort();
    if (setup & 16)
        packetizer_mode(&run, data + 1, size - 1, c.fps);
    else
        raw_mode(&run, data + 1, size - 1);
    /* A second later every deadline has passed. */
    run.now += 1000000;
    drain(&run);
    if (pvs_reassembly_poll(run.ra, run.now) != INT64_MAX)
        abort();
    pvs_reassembly_close(&run.ra);
    for (int f = 0; f < run.frames; f++)
        free(run.data[f]);
    return 0;
}

#ifdef FUZZ_MEDIA_MAKE_CORPUS
/* Writes the seeds: raw-mode inputs holding real packetizer output, and
 * packetizer-mode scripts. Build and run from the repository root, with a
 * build directory BUILD:
 *   cc -DFUZZ_MEDIA_MAKE_CORPUS -D_GNU_SOURCE -I. tests/fuzz/fuzz_media.c \
 *      BUILD/net/libpvs_net.a BUILD/common/libpvs_common.a -lisal -lm \
 *      -o /tmp/mkcorpus && /tmp/mkcorpus tests/fuzz/corpus/media */
static uint8_t seed_buf[16384];
static size_t seed_len;

static void seed_packet(uint8_t step, const uint8_t *pkt, size_t len)
{
    if (seed_len + 3 + len > sizeof(seed_buf))
        abort();
    seed_buf[seed_len++] = step;
    seed_buf[seed_len++] = (uint8_t)(len >> 8);
    seed_buf[seed_len++] = (uint8_t)len;
    memcpy(seed_buf + seed_len, pkt, len);
    seed_len += len;
}

static void seed_write(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* One raw-mode seed: `frames` frames of `size` bytes, skipping the packets
 * whose bit is set in `lose` (packet index over the whole run, < 64). */
static void seed_raw(const char *dir, const char *name, uint8_t setup, int max_block,
                     int frames, size_t size, uint64_t lose)
{
    struct pvs_packetizer_config c = {
        .datagram_size = 576, .fec_percent = 20, .fec_min_parity = 2,
        .max_block_data = max_block, .ssrc = SSRC, .first_seq = 65534,
    };
    struct pvs_packetizer *pz = NULL;
    if (pvs_packetizer_open(&pz, &c) != 0)
        abort();
    uint8_t frame[4096];
    for (size_t i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i * 7 + 3);
    seed_len = 0;
    seed_buf[seed_len++] = setup;
    int idx = 0;
    for (int f = 0; f < frames; f++) {
        struct pvs_packet in = {
            .data = frame, .size = size, .keyframe = f == 0, .frame = 100 + (uint64_t)f,
            .capture_ns = (int64_t)f * 16666667,
        };
        struct pvs_packet_batch b;
        if (pvs_packetizer_frame(pz, &in, 1234, &b) != 0)
            abort();
        for (int i = 0; i < b.count; i++, idx++)
            if (!(idx < 64 && (lose >> idx & 1)))
                seed_packet(i == 0 ? 65 : 0, b.data + (size_t)i * b.stride, b.len);
    }
    pvs_packetizer_close(&pz);
    seed_write(dir, name, seed_buf, seed_len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    /* a small frame: one data shard, two parity */
    seed_raw(dir, "raw_small_frame", 0x01, 0, 1, 300, 0);
    /* two blocks (at most 2 data shards each): 3 data shards */
    seed_raw(dir, "raw_two_blocks", 0x09, 2, 1, 1200, 0);
    /* two frames, the first losing one data shard (FEC rebuilds it) */
    seed_raw(dir, "raw_loss_recovered", 0x01, 0, 2, 1500, 1u << 1);
    /* two frames, the first losing all of its data: dropped, the second
     * skipped */
    seed_raw(dir, "raw_loss_dropped", 0x05, 0, 2, 1500, 0x7);
    /* packetizer mode: 576-byte datagrams, 2 data shards a block,
     * 20 %, min 2, three frames, a mix of drops, duplicates, reorders */
    const uint8_t pz_mix[] = { 0x11, 0x08, 20, 2, 2, 0x07, 0xd0, 1, 0x02, 0x00, 0,
                               0x00, 0x30, 0, 0, 4, 0, 5, 6, 0, 4, 0, 0, 6, 5 };
    seed_write(dir, "pz_mix", pz_mix, sizeof(pz_mix));
    /* packetizer mode: one big frame in 1400-byte datagrams, a corruption */
    const uint8_t pz_corrupt[] = { 0x12, 0x02, 20, 2, 0, 0x4e, 0x1f, 1, 0, 0, 0, 0x3f, 40 };
    seed_write(dir, "pz_corrupt", pz_corrupt, sizeof(pz_corrupt));
    /* packetizer mode: no FEC at all, a gap in frame numbers */
    const uint8_t pz_nofec[] = { 0x10, 0x00, 0, 0, 1, 0x01, 0x00, 1, 0x03, 0x00, 8, 0, 4 };
    seed_write(dir, "pz_nofec_gap", pz_nofec, sizeof(pz_nofec));
    return 0;
}
#endif
