/* Control messages: encoding, parsing and sealing (net/control_msg.h).
 * Offsets below are those of docs/protocol.md, counted from the start of
 * the body (the byte after the type). */
#include "net/control_msg.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"

/* ---- layouts: where each field of a body lies ---------------------------- */

/* One fixed field. Every integer is as wide on the wire as its struct
 * member, so the member's size says how to write it; `raw` ones (keys) are
 * bytes copied as they are. The encoder and both parsers walk the same
 * tables, so a field cannot be written in one place and read in another. */
struct field {
    uint8_t at;      /* offset in the body */
    uint8_t size;    /* bytes */
    bool raw;
    uint16_t member; /* offsetof the member in the message's struct */
};

#define FIELD(T, name, at) {at, sizeof(((T *)0)->name), false, offsetof(T, name)}
#define RAW(T, name, at) {at, sizeof(((T *)0)->name), true, offsetof(T, name)}

static const struct field hello_fields[] = {
    FIELD(struct pvs_ctl_hello, version_min, 4),
    FIELD(struct pvs_ctl_hello, version_max, 6),
    FIELD(struct pvs_ctl_hello, codecs, 8),
    FIELD(struct pvs_ctl_hello, max_width, 12),
    FIELD(struct pvs_ctl_hello, max_height, 14),
    FIELD(struct pvs_ctl_hello, max_fps, 16),
    FIELD(struct pvs_ctl_hello, max_datagram, 18),
    FIELD(struct pvs_ctl_hello, media_port, 20),
    RAW(struct pvs_ctl_hello, public_key, 24),
};

static const struct field welcome_fields[] = {
    FIELD(struct pvs_ctl_welcome, version, 4),
    RAW(struct pvs_ctl_welcome, public_key, 8),
};

/* Appended from version 2 on (HELLO: when version_max >= 2; WELCOME: when
 * version >= 2). */
static const struct field hello2_fields[] = {
    RAW(struct pvs_ctl_hello, static_key, PVS_HANDSHAKE_HELLO_STATIC_AT),
    RAW(struct pvs_ctl_hello, tag, PVS_HANDSHAKE_HELLO_TAG_AT),
};

/* The display fields after them (HELLO_DISPLAY_BODY), read when the body
 * is that long, written when the client says a mode. */
static const struct field hello2_display_fields[] = {
    RAW(struct pvs_ctl_hello, static_key, PVS_HANDSHAKE_HELLO_STATIC_AT),
    RAW(struct pvs_ctl_hello, tag, PVS_HANDSHAKE_HELLO_TAG_AT),
    FIELD(struct pvs_ctl_hello, display_width, 104),
    FIELD(struct pvs_ctl_hello, display_height, 106),
    FIELD(struct pvs_ctl_hello, display_hz, 108),
    FIELD(struct pvs_ctl_hello, display_flags, 110),
};

static const struct field welcome2_fields[] = {
    RAW(struct pvs_ctl_welcome, tag, PVS_HANDSHAKE_WELCOME_TAG_AT),
};

/* The text follows at REFUSE_BODY, text_len bytes. */
static const struct field refuse_fields[] = {
    FIELD(struct pvs_ctl_refuse, reason, 0),
    FIELD(struct pvs_ctl_refuse, text_len, 1),
};

static const struct field stream_fields[] = {
    FIELD(struct pvs_ctl_stream, codec, 0),
    FIELD(struct pvs_ctl_stream, width, 2),
    FIELD(struct pvs_ctl_stream, height, 4),
    FIELD(struct pvs_ctl_stream, fps, 6),
    FIELD(struct pvs_ctl_stream, bitrate, 8),
    FIELD(struct pvs_ctl_stream, datagram_size, 12),
    FIELD(struct pvs_ctl_stream, fec_percent, 14),
    FIELD(struct pvs_ctl_stream, fec_min_parity, 15),
    FIELD(struct pvs_ctl_stream, media_port, 16),
    FIELD(struct pvs_ctl_stream, ssrc, 20),
    FIELD(struct pvs_ctl_stream, generation, 24),
};

/* Appended to STREAM: audio. Every encoder writes it; a parser reads it
 * when the body is long enough (a 28-byte STREAM means no audio). */
#define STREAM_AUDIO_BODY 40
static const struct field stream_audio_fields[] = {
    FIELD(struct pvs_ctl_stream, audio_ssrc, 28),
    FIELD(struct pvs_ctl_stream, audio_frame, 32),
    FIELD(struct pvs_ctl_stream, audio_channels, 34),
    FIELD(struct pvs_ctl_stream, audio_redundancy, 35),
    FIELD(struct pvs_ctl_stream, audio_bitrate, 36),
};

static const struct field keyframe_fields[] = {
    FIELD(struct pvs_ctl_keyframe_request, last_frame, 0),
    FIELD(struct pvs_ctl_keyframe_request, reason, 4),
};

static const struct field stats_fields[] = {
    FIELD(struct pvs_ctl_stats, packets_received, 0),
    FIELD(struct pvs_ctl_stats, packets_recovered, 8),
    FIELD(struct pvs_ctl_stats, packets_lost, 16),
    FIELD(struct pvs_ctl_stats, frames_complete, 24),
    FIELD(struct pvs_ctl_stats, frames_dropped, 28),
    FIELD(struct pvs_ctl_stats, jitter_us, 32),
    FIELD(struct pvs_ctl_stats, decode_us, 36),
};

static const struct field ping_fields[] = {
    FIELD(struct pvs_ctl_ping, id, 0),
    FIELD(struct pvs_ctl_ping, clock_us, 4),
};

static const struct field pong_fields[] = {
    FIELD(struct pvs_ctl_pong, id, 0),
    FIELD(struct pvs_ctl_pong, ping_clock_us, 4),
    FIELD(struct pvs_ctl_pong, clock_us, 12),
};

static const struct field bye_fields[] = {
    FIELD(struct pvs_ctl_bye, reason, 0),
};

/* Byte 1 is reserved. */
static const struct field rumble_fields[] = {
    FIELD(struct pvs_ctl_rumble, pad, 0),
    FIELD(struct pvs_ctl_rumble, low_freq, 2),
    FIELD(struct pvs_ctl_rumble, high_freq, 4),
    FIELD(struct pvs_ctl_rumble, duration_ms, 6),
};

/* The records follow (put_records, get_records). */
static const struct field feedback_fields[] = {
    FIELD(struct pvs_ctl_feedback, base_us, 0),
    FIELD(struct pvs_ctl_feedback, packets_received, 8),
    FIELD(struct pvs_ctl_feedback, packets_lost, 12),
    FIELD(struct pvs_ctl_feedback, count, 16),
    FIELD(struct pvs_ctl_feedback, flags, 17),
};

/* After the records, with PVS_CTL_FEEDBACK_PROGRESS. */
static const struct field progress_fields[] = {
    FIELD(struct pvs_ctl_feedback_progress, frame, 0),
    FIELD(struct pvs_ctl_feedback_progress, first_us, 4),
    FIELD(struct pvs_ctl_feedback_progress, latest_us, 8),
    FIELD(struct pvs_ctl_feedback_progress, bytes, 12),
};

static const struct field record_fields[] = {
    FIELD(struct pvs_ctl_feedback_record, frame, 0),
    FIELD(struct pvs_ctl_feedback_record, first_us, 4),
    FIELD(struct pvs_ctl_feedback_record, last_us, 8),
    FIELD(struct pvs_ctl_feedback_record, bytes, 12),
    FIELD(struct pvs_ctl_feedback_record, lost, 16),
    FIELD(struct pvs_ctl_feedback_record, repaired, 18),
};

/* Bytes 18..19 are reserved. */
static const struct field rate_fields[] = {
    FIELD(struct pvs_ctl_rate, estimate_bps, 0),
    FIELD(struct pvs_ctl_rate, bitrate_bps, 4),
    FIELD(struct pvs_ctl_rate, pace_bps, 8),
    FIELD(struct pvs_ctl_rate, queue_delay_us, 12),
    FIELD(struct pvs_ctl_rate, fec_percent, 16),
    FIELD(struct pvs_ctl_rate, flags, 17),
    FIELD(struct pvs_ctl_rate, changes, 20),
};

#define REFUSE_BODY 2

struct layout {
    size_t body;  /* bytes of the fixed body (REFUSE's text comes after) */
    bool magic;   /* the body starts with PVS_CTL_MAGIC */
    const struct field *fields;
    size_t count;
};

#define LAYOUT(body, magic, f) {body, magic, f, sizeof(f) / sizeof(f[0])}

/* NULL for a type this version does not define. */
static const struct layout *layout_of(int type)
{
    static const struct layout hello = LAYOUT(56, true, hello_fields),
        welcome = LAYOUT(40, true, welcome_fields),
        refuse = LAYOUT(REFUSE_BODY, false, refuse_fields),
        stream = LAYOUT(28, false, stream_fields),
        keyframe = LAYOUT(5, false, keyframe_fields),
        stats = LAYOUT(40, false, stats_fields),
        ping = LAYOUT(12, false, ping_fields),
        pong = LAYOUT(20, false, pong_fields),
        bye = LAYOUT(1, false, bye_fields),
        rumble = LAYOUT(8, false, rumble_fields),
        feedback = LAYOUT(PVS_CTL_FEEDBACK_HEADER, false, feedback_fields),
        rate = LAYOUT(24, false, rate_fields);
    switch (type) {
    case PVS_CTL_HELLO:            return &hello;
    case PVS_CTL_WELCOME:          return &welcome;
    case PVS_CTL_REFUSE:           return &refuse;
    case PVS_CTL_STREAM:           return &stream;
    case PVS_CTL_KEYFRAME_REQUEST: return &keyframe;
    case PVS_CTL_STATS:            return &stats;
    case PVS_CTL_PING:             return &ping;
    case PVS_CTL_PONG:             return &pong;
    case PVS_CTL_BYE:              return &bye;
    case PVS_CTL_RUMBLE:           return &rumble;
    case PVS_CTL_FEEDBACK:         return &feedback;
    case PVS_CTL_RATE:             return &rate;
    default:                       return NULL;
    }
}

/* The fields a message of this type and these versions appends to its
 * layout_of body (NULL: none). `avail`: the body bytes a parser holds
 * (SIZE_MAX when encoding), for extensions that are there only when the
 * sender wrote them. */
static const struct layout *extension_of(const struct pvs_ctl_msg *m, int type, size_t avail)
{
    static const struct layout
        hello2 = LAYOUT(PVS_HANDSHAKE_HELLO_BODY, false, hello2_fields),
        hello2_display = LAYOUT(PVS_CTL_HELLO_DISPLAY_BODY, false, hello2_display_fields),
        welcome2 = LAYOUT(PVS_HANDSHAKE_WELCOME_BODY, false, welcome2_fields),
        stream_audio = LAYOUT(STREAM_AUDIO_BODY, false, stream_audio_fields);
    if (type == PVS_CTL_HELLO && m->u.hello.version_max >= 2) {
        const struct pvs_ctl_hello *h = &m->u.hello;
        bool display = avail == SIZE_MAX ? h->display_width || h->display_hz || h->display_flags
                                         : avail >= PVS_CTL_HELLO_DISPLAY_BODY;
        return display ? &hello2_display : &hello2;
    }
    if (type == PVS_CTL_WELCOME && m->u.welcome.version >= 2)
        return &welcome2;
    if (type == PVS_CTL_STREAM && avail >= STREAM_AUDIO_BODY)
        return &stream_audio;
    return NULL;
}

static bool stream_audio_ok(const struct pvs_ctl_stream *s)
{
    if (!s->audio_ssrc)
        return true;
    bool frame = s->audio_frame == 120 || s->audio_frame == 240 || s->audio_frame == 480 ||
                 s->audio_frame == 960;
    return frame && s->audio_channels == 2 && s->audio_redundancy <= 2 && s->audio_bitrate &&
           s->audio_ssrc != s->ssrc;
}

/* A size is both or neither of its numbers. */
static bool hello_display_ok(const struct pvs_ctl_hello *h)
{
    return (h->display_width == 0) == (h->display_height == 0);
}

/* The checks of an extension's fields, once they are read. */
static bool extension_ok(const struct pvs_ctl_msg *m, int type)
{
    if (type == PVS_CTL_STREAM)
        return stream_audio_ok(&m->u.stream);
    if (type == PVS_CTL_HELLO)
        return hello_display_ok(&m->u.hello);
    return true;
}

/* body: the bytes after the type; msg: the message's member of the union. */
static void put_fields(const struct layout *l, const void *msg, uint8_t *body)
{
    if (l->magic)
        memcpy(body, PVS_CTL_MAGIC, 4);
    for (size_t i = 0; i < l->count; i++) {
        const struct field *f = &l->fields[i];
        const uint8_t *src = (const uint8_t *)msg + f->member;
        uint8_t *dst = body + f->at;
        switch (f->raw ? 0 : f->size) {
        case 1: dst[0] = *src; break;
        case 2: pvs_put_be16(dst, *(const uint16_t *)(const void *)src); break;
        case 4: pvs_put_be32(dst, *(const uint32_t *)(const void *)src); break;
        case 8: pvs_put_be64(dst, *(const uint64_t *)(const void *)src); break;
        default: memcpy(dst, src, f->size); break;
        }
    }
}

/* The caller has checked that the body holds l->body bytes. */
static void get_fields(const struct layout *l, const uint8_t *body, void *msg)
{
    for (size_t i = 0; i < l->count; i++) {
        const struct field *f = &l->fields[i];
        const uint8_t *src = body + f->at;
        uint8_t *dst = (uint8_t *)msg + f->member;
        switch (f->raw ? 0 : f->size) {
        case 1: dst[0] = *src; break;
        case 2: *(uint16_t *)(void *)dst = pvs_get_be16(src); break;
        case 4: *(uint32_t *)(void *)dst = pvs_get_be32(src); break;
        case 8: *(uint64_t *)(void *)dst = pvs_get_be64(src); break;
        default: memcpy(dst, src, f->size); break;
        }
    }
}

/* ---- validity, shared by the encoder and the parsers ---------------------- */

static bool datagram_ok(uint16_t v)
{
    return v >= PVS_CTL_DATAGRAM_MIN && v <= PVS_CTL_DATAGRAM_MAX;
}

/* Whether m's fields, read as a message of this type, are in range. */
static bool msg_ok(const struct pvs_ctl_msg *m, int type)
{
    switch (type) {
    case PVS_CTL_HELLO: {
        const struct pvs_ctl_hello *h = &m->u.hello;
        return h->version_min >= 1 && h->version_min <= h->version_max &&
               h->max_width && h->max_height && h->max_fps &&
               datagram_ok(h->max_datagram) && h->media_port;
    }
    case PVS_CTL_WELCOME:
        return m->u.welcome.version >= 1;
    case PVS_CTL_REFUSE:
        return m->u.refuse.reason != 0 &&
               m->u.refuse.text_len <= PVS_CTL_REFUSE_TEXT_MAX;
    case PVS_CTL_STREAM: {
        const struct pvs_ctl_stream *s = &m->u.stream;
        return s->codec >= PVS_CTL_CODEC_H264 && s->codec <= PVS_CTL_CODEC_AV1 &&
               s->width && s->height && s->fps && s->bitrate &&
               datagram_ok(s->datagram_size) && s->media_port && s->generation;
    }
    case PVS_CTL_KEYFRAME_REQUEST:
        return m->u.keyframe_request.reason >= PVS_CTL_KEYFRAME_LOST &&
               m->u.keyframe_request.reason <= PVS_CTL_KEYFRAME_START;
    case PVS_CTL_BYE:
        return m->u.bye.reason >= PVS_CTL_BYE_QUIT && m->u.bye.reason <= PVS_CTL_BYE_ERROR;
    case PVS_CTL_RUMBLE:
        return m->u.rumble.pad < PVS_CTL_RUMBLE_PADS;
    case PVS_CTL_FEEDBACK:
        return m->u.feedback.count <= PVS_CTL_FEEDBACK_MAX;
    case PVS_CTL_RATE:
        return m->u.rate.fec_percent <= 100;
    case PVS_CTL_STATS:
    case PVS_CTL_PING:
    case PVS_CTL_PONG:
        return true;
    default:
        return false;
    }
}

bool pvs_ctl_type_is_clear(int type)
{
    return type == PVS_CTL_HELLO || type == PVS_CTL_WELCOME || type == PVS_CTL_REFUSE;
}

/* ---- FEEDBACK's records ---------------------------------------------------- */

static const struct layout record_layout = LAYOUT(PVS_CTL_FEEDBACK_RECORD, false, record_fields);
static const struct layout progress_layout =
    LAYOUT(PVS_CTL_FEEDBACK_PROGRESS_BYTES, false, progress_fields);

static bool record_ok(const struct pvs_ctl_feedback_record *r)
{
    return r->last_us >= r->first_us;
}

/* Records, and the progress when flagged. */
static bool records_ok(const struct pvs_ctl_feedback *f)
{
    for (int i = 0; i < f->count; i++)
        if (!record_ok(&f->rec[i]))
            return false;
    return !(f->flags & PVS_CTL_FEEDBACK_PROGRESS) ||
           f->progress.latest_us >= f->progress.first_us;
}

/* The bytes after the header: records, then the progress when flagged. */
static size_t records_bytes(const struct pvs_ctl_feedback *f)
{
    return (size_t)f->count * PVS_CTL_FEEDBACK_RECORD +
           (f->flags & PVS_CTL_FEEDBACK_PROGRESS ? PVS_CTL_FEEDBACK_PROGRESS_BYTES : 0);
}

static void put_records(const struct pvs_ctl_feedback *f, uint8_t *body)
{
    uint8_t *p = body + PVS_CTL_FEEDBACK_HEADER;
    for (int i = 0; i < f->count; i++)
        put_fields(&record_layout, &f->rec[i], p + (size_t)i * PVS_CTL_FEEDBACK_RECORD);
    if (f->flags & PVS_CTL_FEEDBACK_PROGRESS)
        put_fields(&progress_layout, &f->progress,
                   p + (size_t)f->count * PVS_CTL_FEEDBACK_RECORD);
}

/* body holds n bytes; the header is read. */
static int get_records(struct pvs_ctl_feedback *f, const uint8_t *body, size_t n)
{
    f->flags &= PVS_CTL_FEEDBACK_PROGRESS; /* later ones add bytes after ours: ignored */
    if (n < PVS_CTL_FEEDBACK_HEADER + records_bytes(f))
        return PVS_EBADDATA;
    const uint8_t *p = body + PVS_CTL_FEEDBACK_HEADER;
    for (int i = 0; i < f->count; i++)
        get_fields(&record_layout, p + (size_t)i * PVS_CTL_FEEDBACK_RECORD, &f->rec[i]);
    if (f->flags & PVS_CTL_FEEDBACK_PROGRESS)
        get_fields(&progress_layout, p + (size_t)f->count * PVS_CTL_FEEDBACK_RECORD,
                   &f->progress);
    return records_ok(f) ? 0 : PVS_EBADDATA;
}

/* ---- encoder -------------------------------------------------------------- */

int pvs_ctl_encode(const struct pvs_ctl_msg *m, uint8_t *buf, size_t cap)
{
    if (!m || !buf || !msg_ok(m, m->type) || !extension_ok(m, m->type) ||
        (m->type == PVS_CTL_FEEDBACK && !records_ok(&m->u.feedback)))
        return PVS_EINVAL;
    const struct layout *l = layout_of(m->type); /* msg_ok knows only these */
    const struct layout *ext = extension_of(m, m->type, SIZE_MAX);
    bool refuse = m->type == PVS_CTL_REFUSE, feedback = m->type == PVS_CTL_FEEDBACK;
    size_t body = l->body + (refuse ? m->u.refuse.text_len : 0) +
                  (feedback ? records_bytes(&m->u.feedback) : 0);
    if (ext && ext->body > body)
        body = ext->body;
    if (cap < 1 + body)
        return PVS_EINVAL;
    memset(buf, 0, 1 + body); /* reserved fields */
    buf[0] = (uint8_t)m->type;
    put_fields(l, &m->u, buf + 1);
    if (ext)
        put_fields(ext, &m->u, buf + 1);
    if (refuse)
        memcpy(buf + 1 + REFUSE_BODY, m->u.refuse.text, m->u.refuse.text_len);
    if (feedback)
        put_records(&m->u.feedback, buf + 1);
    return (int)(1 + body);
}

/* ---- parsers -------------------------------------------------------------- */

/* Reads a message of a type the caller has found in layout_of into *out
 * (zeroed) and checks it. */
static int parse_body(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out)
{
    const struct layout *l = layout_of(buf[0]);
    const uint8_t *p = buf + 1;
    size_t n = len - 1;
    if (n < l->body || (l->magic && memcmp(p, PVS_CTL_MAGIC, 4) != 0))
        return PVS_EBADDATA;
    get_fields(l, p, &out->u);
    if (!msg_ok(out, buf[0]))
        return PVS_EBADDATA;
    const struct layout *ext = extension_of(out, buf[0], n);
    if (ext) {
        if (n < ext->body)
            return PVS_EBADDATA;
        get_fields(ext, p, &out->u);
        if (!extension_ok(out, buf[0]))
            return PVS_EBADDATA;
    }
    if (buf[0] == PVS_CTL_REFUSE) {
        struct pvs_ctl_refuse *r = &out->u.refuse;
        if (n < REFUSE_BODY + (size_t)r->text_len)
            return PVS_EBADDATA;
        for (size_t i = 0; i < r->text_len; i++) {
            uint8_t c = p[REFUSE_BODY + i];
            r->text[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
        }
        r->text[r->text_len] = '\0';
    }
    if (buf[0] == PVS_CTL_FEEDBACK && get_records(&out->u.feedback, p, n) < 0)
        return PVS_EBADDATA;
    out->type = (enum pvs_ctl_type)buf[0];
    return 0;
}

int pvs_ctl_parse_clear(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out)
{
    if (!buf || !out || len < 1)
        return PVS_EBADDATA;
    memset(out, 0, sizeof(*out));
    if (!pvs_ctl_type_is_clear(buf[0]))
        return PVS_EBADDATA;
    return parse_body(buf, len, out);
}

int pvs_ctl_parse_inner(const uint8_t *buf, size_t len, struct pvs_ctl_msg *out)
{
    if (!buf || !out || len < 1)
        return PVS_EBADDATA;
    memset(out, 0, sizeof(*out));
    if (pvs_ctl_type_is_clear(buf[0]) || !layout_of(buf[0])) {
        if (buf[0] >= PVS_CTL_INPUT_FIRST && buf[0] <= PVS_CTL_RESERVED_LAST) {
            out->type = (enum pvs_ctl_type)buf[0];
            return PVS_ENOTSUP;
        }
        return PVS_EBADDATA;
    }
    return parse_body(buf, len, out);
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
    pvs_put_be64(nonce + 4, counter);
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
    pvs_put_be64(out + 1, counter);

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
    uint64_t counter = pvs_get_be64(in + 1);
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
