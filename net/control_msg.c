/* Control messages: encoding, parsing and sealing (net/control_msg.h).
 * Offsets below are those of docs/protocol.md, counted from the start of
 * the body (the byte after the type). */
#include "net/control_msg.h"

#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"

#define HELLO_BODY 56
#define WELCOME_BODY 40
#define REFUSE_BODY 2
#define STREAM_BODY 28
#define KEYFRAME_BODY 5
#define STATS_BODY 40
#define PING_BODY 12
#define PONG_BODY 20
#define BYE_BODY 1

/* ---- big-endian fields -------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- validity, shared by the encoder and the parser ---------------------- */

static bool datagram_ok(uint16_t v)
{
    return v >= PVS_CTL_DATAGRAM_MIN && v <= PVS_CTL_DATAGRAM_MAX;
}

static bool hello_ok(const struct pvs_ctl_hello *h)
{
    return h->version_min >= 1 && h->version_min <= h->version_max &&
           h->max_width && h->max_height && h->max_fps &&
           datagram_ok(h->max_datagram) && h->media_port;
}

static bool stream_ok(const struct pvs_ctl_stream *s)
{
    return s->codec >= PVS_CTL_CODEC_H264 && s->codec <= PVS_CTL_CODEC_AV1 &&
           s->width && s->height && s->fps && s->bitrate &&
           datagram_ok(s->datagram_size) && s->media_port && s->generation;
}

static bool keyframe_ok(const struct pvs_ctl_keyframe_request *k)
{
    return k->reason >= PVS_CTL_KEYFRAME_LOST && k->reason <= PVS_CTL_KEYFRAME_START;
}

static bool bye_ok(const struct pvs_ctl_bye *b)
{
    return b->reason >= PVS_CTL_BYE_QUIT && b->reason <= PVS_CTL_BYE_ERROR;
}

bool pvs_ctl_type_is_clear(int type)
{
    return type == PVS_CTL_HELLO || type == PVS_CTL_WELCOME || type == PVS_CTL_REFUSE;
}

/* ---- encoder -------------------------------------------------------------- */

static size_t body_size(const struct pvs_ctl_msg *m)
{
    switch (m->type) {
    case PVS_CTL_HELLO:            return HELLO_BODY;
    case PVS_CTL_WELCOME:          return WELCOME_BODY;
    case PVS_CTL_REFUSE:           return REFUSE_BODY + m->u.refuse.text_len;
    case PVS_CTL_STREAM:           return STREAM_BODY;
    case PVS_CTL_KEYFRAME_REQUEST: return KEYFRAME_BODY;
    case PVS_CTL_STATS:            return STATS_BODY;
    case PVS_CTL_PING:             return PING_BODY;
    case PVS_CTL_PONG:             return PONG_BODY;
    case PVS_CTL_BYE:              return BYE_BODY;
    default:                       return 0;
    }
}

static bool msg_ok(const struct pvs_ctl_msg *m)
{
    switch (m->type) {
    case PVS_CTL_HELLO:
        return hello_ok(&m->u.hello);
    case PVS_CTL_WELCOME:
        return m->u.welcome.version >= 1;
    case PVS_CTL_REFUSE:
        return m->u.refuse.reason != 0 &&
               m->u.refuse.text_len <= PVS_CTL_REFUSE_TEXT_MAX;
    case PVS_CTL_STREAM:
        return stream_ok(&m->u.stream);
    case PVS_CTL_KEYFRAME_REQUEST:
        return keyframe_ok(&m->u.keyframe_request);
    case PVS_CTL_BYE:
        return bye_ok(&m->u.bye);
    case PVS_CTL_STATS:
    case PVS_CTL_PING:
    case PVS_CTL_PONG:
        return true;
    default:
        return false;
    }
}

int pvs_ctl_encode(const struct pvs_ctl_msg *m, uint8_t *buf, size_t cap)
{
    if (!m || !buf || !msg_ok(m))
        return PVS_EINVAL;
    size_t body = body_size(m);
    if (cap < 1 + body)
        return PVS_EINVAL;
    memset(buf, 0, 1 + body); /* reserved fields */
    buf[0] = (uint8_t)m->type;
    uint8_t *p = buf + 1;

    switch (m->type) {
    case PVS_CTL_HELLO: {
        const struct pvs_ctl_hello *h = &m->u.hello;
        memcpy(p, PVS_CTL_MAGIC, 4);
        put16(p + 4, h->version_min);
        put16(p + 6, h->version_max);
        put32(p + 8, h->codecs);
        put16(p + 12, h->max_width);
        put16(p + 14, h->max_height);
        put16(p + 16, h->max_fps);
        put16(p + 18, h->max_datagram);
        put16(p + 20, h->media_port);
        memcpy(p + 24, h->public_key, PVS_HANDSHAKE_PUBLIC_BYTES);
        break;
    }
    case PVS_CTL_WELCOME:
        memcpy(p, PVS_CTL_MAGIC, 4);
        put16(p + 4, m->u.welcome.version);
        memcpy(p + 8, m->u.welcome.public_key, PVS_HANDSHAKE_PUBLIC_BYTES);
        break;
    case PVS_CTL_REFUSE:
        p[0] = m->u.refuse.reason;
        p[1] = m->u.refuse.text_len;
        memcpy(p + 2, m->u.refuse.text, m->u.refuse.text_len);
        break;
    case PVS_CTL_STREAM: {
        const struct pvs_ctl_stream *s = &m->u.stream;
        p[0] = s->codec;
        put16(p + 2, s->width);
        put16(p + 4, s->height);
        put16(p + 6, s->fps);
        put32(p + 8, s->bitrate);
        put16(p + 12, s->datagram_size);
        p[14] = s->fec_percent;
        p[15] = s->fec_min_parity;
        put16(p + 16, s->media_port);
        put32(p + 20, s->ssrc);
        put32(p + 24, s->generation);
        break;
    }
    case PVS_CTL_KEYFRAME_REQUEST:
        put32(p, m->u.keyframe_request.last_frame);
        p[4] = m->u.keyframe_request.reason;
        break;
    case PVS_CTL_STATS: {
        const struct pvs_ctl_stats *s = &m->u.stats;
        put64(p, s->packets_received);
        put64(p + 8, s->packets_recovered);
        put64(p + 16, s->packets_lost);
        put32(p + 24, s->frames_complete);
        put32(p + 28, s->frames_dropped);
        put32(p + 32, s->jitter_us);
        put32(p + 36, s->decode_us);
        break;
    }
    case PVS_CTL_PING:
        put32(p, m->u.ping.id);
        put64(p + 4, m->u.ping.clock_us);
        break;
    case PVS_CTL_PONG:
        put32(p, m->u.pong.id);
        put64(p + 4, m->u.pong.ping_clock_us);
        put64(p + 12, m->u.pong.clock_us);
        break;
    case PVS_CTL_BYE:
        p[0] = m->u.bye.reason;
        break;
    default:
        return PVS_EINVAL; /* msg_ok let nothing else through */
    }
    return (int)(1 + body);
}

/* ---- parsers -------------------------------------------------------------- */

int pvs_ctl_parse_clear(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out)
{
    if (!buf || !out || len < 1)
        return PVS_EBADDATA;
    memset(out, 0, sizeof(*out));
    const uint8_t *p = buf + 1;
    size_t n = len - 1;

    switch (buf[0]) {
    case PVS_CTL_HELLO: {
        struct pvs_ctl_hello *h = &out->u.hello;
        if (n < HELLO_BODY || memcmp(p, PVS_CTL_MAGIC, 4) != 0)
            return PVS_EBADDATA;
        h->version_min = get16(p + 4);
        h->version_max = get16(p + 6);
        h->codecs = get32(p + 8);
        h->max_width = get16(p + 12);
        h->max_height = get16(p + 14);
        h->max_fps = get16(p + 16);
        h->max_datagram = get16(p + 18);
        h->media_port = get16(p + 20);
        memcpy(h->public_key, p + 24, PVS_HANDSHAKE_PUBLIC_BYTES);
        if (!hello_ok(h))
            return PVS_EBADDATA;
        break;
    }
    case PVS_CTL_WELCOME:
        if (n < WELCOME_BODY || memcmp(p, PVS_CTL_MAGIC, 4) != 0)
            return PVS_EBADDATA;
        out->u.welcome.version = get16(p + 4);
        memcpy(out->u.welcome.public_key, p + 8, PVS_HANDSHAKE_PUBLIC_BYTES);
        if (out->u.welcome.version < 1)
            return PVS_EBADDATA;
        break;
    case PVS_CTL_REFUSE: {
        struct pvs_ctl_refuse *r = &out->u.refuse;
        if (n < REFUSE_BODY)
            return PVS_EBADDATA;
        r->reason = p[0];
        r->text_len = p[1];
        if (r->reason == 0 || r->text_len > PVS_CTL_REFUSE_TEXT_MAX ||
            n < REFUSE_BODY + (size_t)r->text_len)
            return PVS_EBADDATA;
        for (size_t i = 0; i < r->text_len; i++) {
            uint8_t c = p[2 + i];
            r->text[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
        }
        r->text[r->text_len] = '\0';
        break;
    }
    default:
        return PVS_EBADDATA;
    }
    out->type = (enum pvs_ctl_type)buf[0];
    return 0;
}

int pvs_ctl_parse_inner(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out)
{
    if (!buf || !out || len < 1)
        return PVS_EBADDATA;
    memset(out, 0, sizeof(*out));
    const uint8_t *p = buf + 1;
    size_t n = len - 1;

    switch (buf[0]) {
    case PVS_CTL_STREAM: {
        struct pvs_ctl_stream *s = &out->u.stream;
        if (n < STREAM_BODY)
            return PVS_EBADDATA;
        s->codec = p[0];
        s->width = get16(p + 2);
        s->height = get16(p + 4);
        s->fps = get16(p + 6);
        s->bitrate = get32(p + 8);
        s->datagram_size = get16(p + 12);
        s->fec_percent = p[14];
        s->fec_min_parity = p[15];
        s->media_port = get16(p + 16);
        s->ssrc = get32(p + 20);
        s->generation = get32(p + 24);
        if (!stream_ok(s))
            return PVS_EBADDATA;
        break;
    }
    case PVS_CTL_KEYFRAME_REQUEST:
        if (n < KEYFRAME_BODY)
            return PVS_EBADDATA;
        out->u.keyframe_request.last_frame = get32(p);
        out->u.keyframe_request.reason = p[4];
        if (!keyframe_ok(&out->u.keyframe_request))
            return PVS_EBADDATA;
        break;
    case PVS_CTL_STATS: {
        struct pvs_ctl_stats *s = &out->u.stats;
        if (n < STATS_BODY)
            return PVS_EBADDATA;
        s->packets_received = get64(p);
        s->packets_recovered = get64(p + 8);
        s->packets_lost = get64(p + 16);
        s->frames_complete = get32(p + 24);
        s->frames_dropped = get32(p + 28);
        s->jitter_us = get32(p + 32);
        s->decode_us = get32(p + 36);
        break;
    }
    case PVS_CTL_PING:
        if (n < PING_BODY)
            return PVS_EBADDATA;
        out->u.ping.id = get32(p);
        out->u.ping.clock_us = get64(p + 4);
        break;
    case PVS_CTL_PONG:
        if (n < PONG_BODY)
            return PVS_EBADDATA;
        out->u.pong.id = get32(p);
        out->u.pong.ping_clock_us = get64(p + 4);
        out->u.pong.clock_us = get64(p + 12);
        break;
    case PVS_CTL_BYE:
        if (n < BYE_BODY)
            return PVS_EBADDATA;
        out->u.bye.reason = p[0];
        if (!bye_ok(&out->u.bye))
            return PVS_EBADDATA;
        break;
    default:
        if (buf[0] >= PVS_CTL_INPUT_FIRST && buf[0] <= PVS_CTL_INPUT_LAST) {
            out->type = (enum pvs_ctl_type)buf[0];
            return PVS_ENOTSUP;
        }
        return PVS_EBADDATA;
    }
    out->type = (enum pvs_ctl_type)buf[0];
    return 0;
}

/* ---- sealing -------------------------------------------------------------- */

int pvs_ctl_crypto_init(struct pvs_ctl_crypto *c, const struct pvs_session_keys *keys)
{
    if (!c || !keys)
        return PVS_EINVAL;
    /* Picks the fastest ChaCha20 code; safe to call again and again. */
    if (sodium_init() < 0) {
        PVS_LOG_E("libsodium failed to initialize");
        return PVS_EEXTERNAL;
    }
    struct pvs_ctl_crypto_stats stats = c->stats;
    memset(c, 0, sizeof(*c));
    c->stats = stats;
    memcpy(c->tx_key, keys->control_tx, sizeof(c->tx_key));
    memcpy(c->rx_key, keys->control_rx, sizeof(c->rx_key));
    return 0;
}

void pvs_ctl_crypto_wipe(struct pvs_ctl_crypto *c)
{
    if (!c)
        return;
    struct pvs_ctl_crypto_stats stats = c->stats;
    sodium_memzero(c, sizeof(*c));
    c->stats = stats;
}

/* Nonce: four zero bytes, then the counter big-endian. Additional data:
 * the 9 header bytes, then the channel. */
static void make_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
                       uint64_t counter)
{
    memset(nonce, 0, 4);
    put64(nonce + 4, counter);
}

static void make_ad(uint8_t ad[PVS_CTL_SEAL_HEADER + 1], const uint8_t *header,
                    uint8_t channel)
{
    memcpy(ad, header, PVS_CTL_SEAL_HEADER);
    ad[PVS_CTL_SEAL_HEADER] = channel;
}

int pvs_ctl_seal(struct pvs_ctl_crypto *c, uint8_t channel, const uint8_t *in,
                 size_t in_len, uint8_t *out, size_t cap)
{
    if (!c || !in || !out || channel >= PVS_CTL_CHANNELS || in_len == 0 ||
        in_len > PVS_CTL_MAX_MESSAGE || cap < in_len + PVS_CTL_SEAL_OVERHEAD ||
        c->tx_counter[channel] == UINT64_MAX)
        return PVS_EINVAL;
    uint64_t counter = ++c->tx_counter[channel];
    out[0] = PVS_CTL_SEALED;
    put64(out + 1, counter);

    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    uint8_t ad[PVS_CTL_SEAL_HEADER + 1];
    make_nonce(nonce, counter);
    make_ad(ad, out, channel);
    unsigned long long clen = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out + PVS_CTL_SEAL_HEADER, &clen,
                                              in, in_len, ad, sizeof(ad),
                                              NULL, nonce, c->tx_key);
    return (int)(PVS_CTL_SEAL_HEADER + clen);
}

int pvs_ctl_open(struct pvs_ctl_crypto *c, uint8_t channel, const uint8_t *in,
                 size_t len, uint8_t *out, size_t cap)
{
    if (!c || !out)
        return PVS_EINVAL;
    /* At least one plaintext byte: the inner type. */
    if (!in || channel >= PVS_CTL_CHANNELS || len < PVS_CTL_SEAL_OVERHEAD + 1 ||
        len > PVS_CTL_MAX_RECEIVE || in[0] != PVS_CTL_SEALED) {
        c->stats.malformed++;
        return PVS_EBADDATA;
    }
    if (cap < len - PVS_CTL_SEAL_OVERHEAD)
        return PVS_EINVAL;
    uint64_t counter = get64(in + 1);
    if (counter <= c->rx_counter[channel]) {
        c->stats.replayed++;
        return PVS_EBADDATA;
    }

    uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
    uint8_t ad[PVS_CTL_SEAL_HEADER + 1];
    make_nonce(nonce, counter);
    make_ad(ad, in, channel);
    unsigned long long mlen = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL,
                                                  in + PVS_CTL_SEAL_HEADER,
                                                  len - PVS_CTL_SEAL_HEADER,
                                                  ad, sizeof(ad), nonce,
                                                  c->rx_key) != 0) {
        c->stats.bad_tag++;
        return PVS_EBADDATA;
    }
    c->rx_counter[channel] = counter;
    return (int)mlen;
}
