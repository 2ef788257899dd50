/* Audio packets: writing (with earlier frames carried again) and checked
 * reading (audio/packet.h has the layout). */
#include <string.h>

#include "audio/packet.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/wire.h"
#include "net/media.h"

int pvs_audio_packer_init(struct pvs_audio_packer *p, uint32_t ssrc, uint16_t first_seq,
                          int frame_samples, int redundancy)
{
    memset(p, 0, sizeof(*p));
    if (!pvs_audio_frame_ok(frame_samples) || redundancy < 0 ||
        redundancy > PVS_AUDIO_MAX_REDUNDANCY)
        return PVS_EINVAL;
    p->ssrc = ssrc;
    p->seq = first_seq;
    p->frame_samples = frame_samples;
    p->redundancy = redundancy;
    return 0;
}

int pvs_audio_pack(struct pvs_audio_packer *p, const uint8_t *opus, size_t len,
                   uint32_t timestamp, uint64_t capture_us, uint8_t flags, bool marker,
                   uint8_t *out, size_t cap)
{
    size_t fixed = PVS_AUDIO_RTP_BYTES + PVS_AUDIO_HEADER_BYTES;
    if (!opus || len < 1 || len > PVS_OPUS_MAX_PACKET || cap < fixed + len)
        return PVS_EINVAL;

    /* Which kept frames run on to this one without a gap, newest last. */
    int first = p->kept, r = 0;
    for (int i = p->kept - 1; i >= 0; i--) {
        uint32_t want = timestamp - (uint32_t)(p->kept - i) * (uint32_t)p->frame_samples;
        if (p->kept_ts[i] != want)
            break;
        first = i;
    }
    r = p->kept - first;
    if (r > p->redundancy) {
        first += r - p->redundancy;
        r = p->redundancy;
    }
    /* Drop the oldest until they fit. */
    for (;;) {
        size_t need = fixed + len;
        for (int i = first; i < first + r; i++)
            need += 2u + p->kept_len[i];
        if (need <= cap)
            break;
        first++;
        r--;
    }

    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | PVS_RTP_PT_AUDIO);
    pvs_put_be16(out + 2, p->seq);
    pvs_put_be32(out + 4, timestamp);
    pvs_put_be32(out + 8, p->ssrc);
    uint8_t *h = out + PVS_AUDIO_RTP_BYTES;
    h[0] = PVS_AUDIO_VERSION;
    h[1] = flags & PVS_AUDIO_FLAG_SILENT;
    pvs_put_be16(h + 2, (uint16_t)p->frame_samples);
    pvs_put_be64(h + 4, capture_us);
    h[12] = (uint8_t)r;
    h[13] = 0;
    size_t pos = fixed;
    for (int i = first; i < first + r; i++) {
        pvs_put_be16(out + pos, p->kept_len[i]);
        pos += 2;
    }
    for (int i = first; i < first + r; i++) {
        memcpy(out + pos, p->kept_data[i], p->kept_len[i]);
        pos += p->kept_len[i];
    }
    memcpy(out + pos, opus, len);
    pos += len;
    p->seq++;

    /* Keep this frame; the oldest goes when the history is full. */
    if (p->redundancy > 0) {
        if (p->kept == p->redundancy) {
            memmove(p->kept_ts, p->kept_ts + 1, (size_t)(p->kept - 1) * sizeof(p->kept_ts[0]));
            memmove(p->kept_len, p->kept_len + 1, (size_t)(p->kept - 1) * sizeof(p->kept_len[0]));
            memmove(p->kept_data, p->kept_data + 1, (size_t)(p->kept - 1) * sizeof(p->kept_data[0]));
            p->kept--;
        }
        p->kept_ts[p->kept] = timestamp;
        p->kept_len[p->kept] = (uint16_t)len;
        memcpy(p->kept_data[p->kept], opus, len);
        p->kept++;
    }
    return (int)pos;
}

int pvs_audio_packet_parse(const uint8_t *pkt, size_t len, struct pvs_audio_packet *out)
{
    size_t fixed = PVS_AUDIO_RTP_BYTES + PVS_AUDIO_HEADER_BYTES;
    if (!pkt || !out || len <= fixed)
        return PVS_EBADDATA;
    /* V=2, no padding, no extension, no CSRCs; PT 97. */
    if (pkt[0] != 0x80 || (pkt[1] & 0x7f) != PVS_RTP_PT_AUDIO)
        return PVS_EBADDATA;
    const uint8_t *h = pkt + PVS_AUDIO_RTP_BYTES;
    if (h[0] != PVS_AUDIO_VERSION || h[12] > PVS_AUDIO_MAX_REDUNDANCY)
        return PVS_EBADDATA;
    unsigned frame = pvs_get_be16(h + 2);
    if (!pvs_audio_frame_ok((int)frame))
        return PVS_EBADDATA;
    int r = h[12];
    size_t pos = fixed + 2u * (size_t)r;
    if (len <= pos)
        return PVS_EBADDATA;
    memset(out, 0, sizeof(*out));
    out->marker = pkt[1] & 0x80;
    out->seq = pvs_get_be16(pkt + 2);
    out->timestamp = pvs_get_be32(pkt + 4);
    out->ssrc = pvs_get_be32(pkt + 8);
    out->flags = h[1];
    out->frame_samples = (uint16_t)frame;
    out->capture_us = pvs_get_be64(h + 4);
    out->redundant = (uint8_t)r;
    for (int i = 0; i < r; i++) {
        uint16_t l = pvs_get_be16(pkt + fixed + 2u * (size_t)i);
        if (l < 1 || l > PVS_OPUS_MAX_PACKET || len - pos <= l)
            return PVS_EBADDATA; /* and the primary frame needs a byte */
        out->earlier[i].data = pkt + pos;
        out->earlier[i].len = l;
        pos += l;
    }
    size_t rest = len - pos;
    if (rest < 1 || rest > PVS_OPUS_MAX_PACKET)
        return PVS_EBADDATA;
    out->primary.data = pkt + pos;
    out->primary.len = (uint16_t)rest;
    return 0;
}
