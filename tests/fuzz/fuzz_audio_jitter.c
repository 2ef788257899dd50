/* Fuzz target for the audio jitter buffer and the audio packet parser: any
 * sequence of packets (any bytes) and playback ticks, at any times, must
 * never make it read or write outside its buffers, and every pull must
 * produce exactly one frame of one kind.
 *
 * Input: 1 byte of settings, then records:
 *   0      op: bit 0 clear = insert, set = pull; bits 1-7: time step, in
 *          units of 0.25 ms, before the record
 *   insert: 1..2 length n (big-endian, taken modulo 1600), then n bytes:
 *          the packet (fewer if the input ends)
 * Settings byte: bits 0-1 pick the frame size (120, 240, 480, 960); bit 2
 * a minimum delay of 20 ms instead of 5. The seeds (corpus/audio_jitter)
 * are real streams written by test_audio_jitter (PVS_WRITE_CORPUS=DIR). */
#include <stdlib.h>
#include <string.h>

#include "audio/jitter.h"
#include "audio/packet.h"
#include "common/error.h"
#include "common/log.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int frames[] = {120, 240, 480, 960};
    if (size < 1)
        return 0;
    pvs_log_set_level(PVS_LOG_QUIET);
    struct pvs_jitter_config c = {
        .frame_samples = frames[data[0] & 3],
        .min_delay_ms = data[0] & 4 ? 20 : 5,
    };
    struct pvs_jitter *j;
    if (pvs_jitter_open(&j, &c) != 0)
        abort();
    /* Exactly one frame, its own block, so ASan sees a write past it. */
    size_t pcm_len = (size_t)c.frame_samples * 2;
    int16_t *pcm = malloc(pcm_len * sizeof(*pcm));
    if (!pcm)
        abort();
    int64_t now = 1000000000LL;
    uint64_t pulls = 0;
    size_t pos = 1;
    while (pos < size) {
        uint8_t op = data[pos++];
        now += (int64_t)(op >> 1) * 250000;
        if (op & 1) {
            struct pvs_jitter_frame info;
            if (pvs_jitter_pull(j, now, pcm, &info) != 0)
                abort();
            if (info.kind < PVS_JITTER_SILENCE || info.kind > PVS_JITTER_INSERTED)
                abort();
            pulls++;
            continue;
        }
        if (size - pos < 2)
            break;
        size_t n = (size_t)(data[pos] << 8 | data[pos + 1]) % 1600;
        pos += 2;
        if (n > size - pos)
            n = size - pos;
        /* A copy of exactly n bytes: a read past the packet is caught. */
        uint8_t *pkt = malloc(n ? n : 1);
        if (!pkt)
            abort();
        memcpy(pkt, data + pos, n);
        pos += n;
        struct pvs_audio_packet p;
        int parsed = pvs_audio_packet_parse(pkt, n, &p);
        int rc = pvs_jitter_insert(j, pkt, n, now);
        if (rc != 0 && rc != 1 && rc != PVS_EBADDATA)
            abort();
        if (parsed != 0 && rc != PVS_EBADDATA)
            abort(); /* what does not parse is never taken */
        if (parsed == 0) {
            size_t sum = PVS_AUDIO_RTP_BYTES + PVS_AUDIO_HEADER_BYTES + 2u * p.redundant + p.primary.len;
            for (int i = 0; i < p.redundant; i++)
                sum += p.earlier[i].len;
            if (sum != n)
                abort();
        }
        free(pkt);
    }
    struct pvs_jitter_stats st;
    pvs_jitter_get_stats(j, &st);
    if (st.silent + st.played + st.recovered + st.concealed + st.inserted != pulls)
        abort();
    if (st.target_ms < 0 || st.target_ms > 60.0 + 1e-9)
        abort();
    free(pcm);
    pvs_jitter_close(&j);
    return 0;
}
