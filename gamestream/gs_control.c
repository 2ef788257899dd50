/* GameStream's control stream: encrypted framing, replay window, message
 * parsing and the host's payloads (gamestream/gs_control.h). */
#include <string.h>

#include <mbedtls/platform_util.h>

#include "common/error.h"
#include "common/wire.h"
#include "gamestream/gs_control.h"
#include "gamestream/gs_gcm.h"

/* ---- crypto ------------------------------------------------------------------ */

void pvs_gs_ctl_crypto_init(struct pvs_gs_ctl_crypto *c, const uint8_t key[16], bool v2,
                            bool host)
{
    struct pvs_gs_ctl_crypto_stats keep = c->stats;
    memset(c, 0, sizeof(*c));
    c->stats = keep;
    memcpy(c->key, key, sizeof(c->key));
    c->v2 = v2;
    c->host = host;
}

void pvs_gs_ctl_crypto_wipe(struct pvs_gs_ctl_crypto *c)
{
    struct pvs_gs_ctl_crypto_stats keep = c->stats;
    mbedtls_platform_zeroize(c, sizeof(*c));
    c->stats = keep;
}

/* The IV for a message from `sender` ('C' or 'H'); returns its length. */
static size_t make_iv(const struct pvs_gs_ctl_crypto *c, uint32_t seq, char sender, uint8_t iv[16])
{
    if (c->v2) {
        pvs_gs_gcm_iv12(iv, seq, sender, 'C');
        return 12;
    }
    /* GFE's: the sequence number truncated to a byte, 16-byte IV. */
    memset(iv, 0, 16);
    iv[0] = (uint8_t)seq;
    return 16;
}

int pvs_gs_ctl_seal(struct pvs_gs_ctl_crypto *c, uint16_t type, const uint8_t *payload,
                    size_t len, uint8_t *out, size_t cap)
{
    if (!c || !out || (len && !payload) || len > PVS_GS_CTL_MAX_PAYLOAD)
        return PVS_EINVAL;
    size_t total = PVS_GS_CTL_OVERHEAD + len;
    if (cap < total)
        return PVS_ERANGE;
    uint32_t seq = c->tx_seq;
    pvs_put_le16(out, PVS_GS_CTL_ENCRYPTED);
    pvs_put_le16(out + 2, (uint16_t)(total - 4));
    pvs_put_le32(out + 4, seq);
    uint8_t *inner = out + PVS_GS_CTL_HEADER + PVS_GS_CTL_TAG;
    pvs_put_le16(inner, type);
    pvs_put_le16(inner + 2, (uint16_t)len);
    if (len)
        memmove(inner + PVS_GS_CTL_INNER, payload, len);
    uint8_t iv[16];
    size_t iv_len = make_iv(c, seq, c->host ? 'H' : 'C', iv);
    int err = pvs_gs_gcm_seal(c->key, iv, iv_len, inner, PVS_GS_CTL_INNER + len, inner,
                              out + PVS_GS_CTL_HEADER);
    if (err)
        return err;
    c->tx_seq++;
    return (int)total;
}

/* Whether seq is new; does not record it. */
static bool fresh(const struct pvs_gs_ctl_crypto *c, uint32_t seq)
{
    if (!c->rx_any || seq > c->rx_top)
        return true;
    uint32_t back = c->rx_top - seq;
    if (back >= PVS_GS_CTL_REPLAY_WINDOW)
        return false;
    return !(c->rx_window[back / 64] >> (back % 64) & 1);
}

static void record(struct pvs_gs_ctl_crypto *c, uint32_t seq)
{
    if (!c->rx_any || seq > c->rx_top) {
        uint32_t shift = c->rx_any ? seq - c->rx_top : PVS_GS_CTL_REPLAY_WINDOW;
        /* Slide the window by `shift` bits (towards older). */
        if (shift >= PVS_GS_CTL_REPLAY_WINDOW) {
            memset(c->rx_window, 0, sizeof(c->rx_window));
        } else {
            uint32_t words = shift / 64, bits = shift % 64;
            const int n = PVS_GS_CTL_REPLAY_WINDOW / 64;
            for (int i = n - 1; i >= 0; i--) {
                uint64_t v = i - (int)words >= 0 ? c->rx_window[i - (int)words] << bits : 0;
                if (bits && i - (int)words - 1 >= 0)
                    v |= c->rx_window[i - (int)words - 1] >> (64 - bits);
                c->rx_window[i] = v;
            }
        }
        c->rx_top = seq;
        c->rx_any = true;
    }
    uint32_t back = c->rx_top - seq;
    c->rx_window[back / 64] |= 1ull << (back % 64);
}

int pvs_gs_ctl_open(struct pvs_gs_ctl_crypto *c, const uint8_t *pkt, size_t len,
                    uint16_t *type, uint8_t *payload, size_t cap)
{
    if (!c || !pkt || !type || (!payload && cap))
        return PVS_EINVAL;
    if (len < PVS_GS_CTL_OVERHEAD || len > PVS_GS_CTL_MAX_PACKET ||
        pvs_get_le16(pkt) != PVS_GS_CTL_ENCRYPTED || (size_t)pvs_get_le16(pkt + 2) + 4 != len) {
        c->stats.malformed++;
        return PVS_EBADDATA;
    }
    uint32_t seq = pvs_get_le32(pkt + 4);
    if (!fresh(c, seq)) {
        c->stats.replayed++;
        return PVS_EBADDATA;
    }
    size_t n = len - PVS_GS_CTL_HEADER - PVS_GS_CTL_TAG;
    uint8_t plain[PVS_GS_CTL_INNER + PVS_GS_CTL_MAX_PAYLOAD];
    uint8_t iv[16];
    size_t iv_len = make_iv(c, seq, c->host ? 'C' : 'H', iv);
    int err = pvs_gs_gcm_open(c->key, iv, iv_len, pkt + PVS_GS_CTL_HEADER + PVS_GS_CTL_TAG, n,
                              plain, pkt + PVS_GS_CTL_HEADER);
    if (err == PVS_EBADDATA) {
        c->stats.bad_tag++;
        return err;
    }
    if (err)
        return err;
    size_t plen = pvs_get_le16(plain + 2);
    if (plen != n - PVS_GS_CTL_INNER || plen > cap) {
        /* Authentic but inconsistent: the peer is broken, not an attacker;
         * still nothing to act on. */
        c->stats.malformed++;
        mbedtls_platform_zeroize(plain, n);
        return PVS_EBADDATA;
    }
    record(c, seq);
    *type = pvs_get_le16(plain);
    if (plen)
        memcpy(payload, plain + PVS_GS_CTL_INNER, plen);
    mbedtls_platform_zeroize(plain, n);
    c->stats.opened++;
    return (int)plen;
}

/* ---- client to host ----------------------------------------------------------- */

static int parse_fec_status(const uint8_t *p, size_t len, struct pvs_gs_fec_status *f)
{
    if (len < 21)
        return PVS_EBADDATA;
    f->frame = pvs_get_be32(p);
    f->highest_seq = pvs_get_be16(p + 4);
    f->next_contiguous_seq = pvs_get_be16(p + 6);
    f->missing_before_highest = pvs_get_be16(p + 8);
    f->data_packets = pvs_get_be16(p + 10);
    f->parity_packets = pvs_get_be16(p + 12);
    f->data_received = pvs_get_be16(p + 14);
    f->parity_received = pvs_get_be16(p + 16);
    f->fec_percent = p[18];
    f->block_index = p[19];
    f->block_count = p[20];
    return 0;
}

int pvs_gs_ctl_parse(uint16_t type, const uint8_t *payload, size_t len, struct pvs_gs_ctl_msg *out)
{
    if (!out || (!payload && len))
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    out->type = type;
    switch (type) {
    case PVS_GS_CTL_IDR_REQUEST:
    case PVS_GS_CTL_START_B:
    case PVS_GS_CTL_PERIODIC_PING:
    case PVS_GS_CTL_FRAME_STATS:
        return 0;
    case PVS_GS_CTL_INVALIDATE_REFS:
        /* first LE64, last LE64, 8 zero bytes (src/ControlStream.c). */
        if (len < 16)
            return PVS_EBADDATA;
        out->u.invalidate.first = pvs_get_le64(payload);
        out->u.invalidate.last = pvs_get_le64(payload + 8);
        return out->u.invalidate.first <= out->u.invalidate.last ? 0 : PVS_EBADDATA;
    case PVS_GS_CTL_LOSS_STATS:
        /* u32 0, u32 interval (ms), u32 1000, u64 last good frame, ... */
        if (len < 20)
            return PVS_EBADDATA;
        out->u.loss.last_good_frame = pvs_get_le64(payload + 12);
        return 0;
    case PVS_GS_CTL_FEC_STATUS:
        return parse_fec_status(payload, len, &out->u.fec);
    case PVS_GS_CTL_INPUT: {
        int err = pvs_gs_input_parse(payload, len, &out->u.input);
        return err == PVS_ENOTSUP ? PVS_EBADDATA : err;
    }
    }
    return PVS_ENOTSUP;
}

/* ---- host to client ------------------------------------------------------------- */

size_t pvs_gs_ctl_termination(uint32_t code, uint8_t out[PVS_GS_CTL_TERMINATION_BYTES])
{
    /* Big-endian: the client reads the extended form as an HRESULT. */
    pvs_put_be32(out, code);
    return PVS_GS_CTL_TERMINATION_BYTES;
}

size_t pvs_gs_ctl_rumble(uint16_t pad, uint16_t low_freq, uint16_t high_freq,
                         uint8_t out[PVS_GS_CTL_RUMBLE_BYTES])
{
    /* Four bytes the client skips, then controller, low, high (LE16). */
    memset(out, 0, 4);
    pvs_put_le16(out + 4, pad);
    pvs_put_le16(out + 6, low_freq);
    pvs_put_le16(out + 8, high_freq);
    return PVS_GS_CTL_RUMBLE_BYTES;
}

size_t pvs_gs_ctl_rumble_triggers(uint16_t pad, uint16_t left, uint16_t right,
                                  uint8_t out[PVS_GS_CTL_RUMBLE_TRIGGERS_BYTES])
{
    pvs_put_le16(out, pad);
    pvs_put_le16(out + 2, left);
    pvs_put_le16(out + 4, right);
    return PVS_GS_CTL_RUMBLE_TRIGGERS_BYTES;
}

size_t pvs_gs_ctl_hdr_mode(bool enabled, const uint16_t metadata[11],
                           uint8_t out[PVS_GS_CTL_HDR_BYTES])
{
    out[0] = enabled ? 1 : 0;
    for (int i = 0; i < 11; i++)
        pvs_put_le16(out + 1 + 2 * i, metadata ? metadata[i] : 0);
    return PVS_GS_CTL_HDR_BYTES;
}
