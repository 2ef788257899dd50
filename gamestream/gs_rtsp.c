/* GameStream's RTSP: request framing and parsing, the handshake's state
 * machine, replies, and the encrypted framing (gamestream/gs_rtsp.h). */
#include <stdio.h>
#include <string.h>

#include <mbedtls/platform_util.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "gamestream/gs_gcm.h"
#include "gamestream/gs_rtsp.h"
#include "gamestream/gs_text.h"

#define ENC_BIT 0x80000000u

/* ---- framing ------------------------------------------------------------------ */

static bool name_is(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* Where the head (request line and headers, with the empty line) ends, or
 * 0 when it has not ended within `len`. */
static size_t head_end(const uint8_t *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

/* The Content-Length in a head of n bytes: 0 when there is none, -1 when
 * it is not a number within the limit. The parser checks the rest. */
static long content_length(const uint8_t *head, size_t n)
{
    size_t at = 0;
    while (at < n) {
        const uint8_t *line = head + at;
        const uint8_t *nl = memchr(line, '\n', n - at);
        size_t ln = nl ? (size_t)(nl - line) : n - at;
        at += ln + 1;
        const uint8_t *colon = memchr(line, ':', ln);
        if (!colon || !name_is((const char *)line, (size_t)(colon - line), "Content-Length"))
            continue;
        const uint8_t *v = colon + 1, *end = line + ln;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        long val = 0;
        bool digits = false;
        for (; v < end && *v >= '0' && *v <= '9'; v++) {
            val = val * 10 + (*v - '0');
            digits = true;
            if (val > PVS_GS_RTSP_MAX_BODY)
                return -1;
        }
        while (v < end && (*v == ' ' || *v == '\t' || *v == '\r'))
            v++;
        return digits && v == end ? val : -1;
    }
    return 0;
}

int pvs_gs_rtsp_frame(const uint8_t *buf, size_t len, bool encrypted)
{
    if (!buf)
        return PVS_EINVAL;
    if (encrypted) {
        if (len < 4)
            return 0;
        uint32_t tl = pvs_get_be32(buf);
        uint32_t n = tl & ~ENC_BIT;
        if (!(tl & ENC_BIT) || n == 0 || n > PVS_GS_RTSP_MAX_HEAD + PVS_GS_RTSP_MAX_BODY)
            return PVS_EBADDATA;
        size_t total = PVS_GS_RTSP_ENC_HEADER + (size_t)n;
        return len >= total ? (int)total : 0;
    }
    size_t scan = len < PVS_GS_RTSP_MAX_HEAD ? len : PVS_GS_RTSP_MAX_HEAD;
    size_t he = head_end(buf, scan);
    if (!he)
        return len >= PVS_GS_RTSP_MAX_HEAD ? PVS_EBADDATA : 0;
    long body = content_length(buf, he);
    if (body < 0)
        return PVS_EBADDATA;
    size_t total = he + (size_t)body;
    return len >= total ? (int)total : 0;
}

/* ---- parsing -------------------------------------------------------------------- */

static bool is_token_char(char c)
{
    return c > ' ' && c < 0x7f && c != ':';
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* "METHOD target RTSP/1.0" in place. */
static bool parse_request_line(char *line, struct pvs_gs_rtsp_request *r)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1 || sp1 == line || sp1 - line > 32)
        return false;
    *sp1 = '\0';
    for (const char *c = line; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || *c == '_'))
            return false;
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2 || sp2 == target)
        return false;
    *sp2 = '\0';
    for (const char *c = target; *c; c++)
        if (*c <= ' ' || *c >= 0x7f)
            return false;
    if (strcmp(sp2 + 1, "RTSP/1.0") != 0)
        return false;
    r->method = line;
    r->target = target;
    return true;
}

/* A CSeq value: a decimal number up to 9 digits. */
static int32_t parse_cseq(const char *v)
{
    int32_t n = 0;
    int digits = 0;
    for (; *v >= '0' && *v <= '9'; v++) {
        if (++digits > 9)
            return -1;
        n = n * 10 + (*v - '0');
    }
    return digits && !*v ? n : -1;
}

static bool parse_header(char *line, struct pvs_gs_rtsp_request *r)
{
    char *colon = strchr(line, ':');
    if (!colon || colon == line || r->header_count >= PVS_GS_RTSP_MAX_HEADERS)
        return false;
    for (const char *c = line; c < colon; c++)
        if (!is_token_char(*c))
            return false;
    *colon = '\0';
    char *value = trim(colon + 1);
    for (const char *c = value; *c; c++)
        if ((unsigned char)*c < ' ' && *c != '\t')
            return false;
    r->headers[r->header_count++] = (struct pvs_gs_rtsp_header){line, value};
    if (name_is(line, strlen(line), "CSeq")) {
        r->cseq = parse_cseq(value);
        if (r->cseq < 0)
            return false;
    }
    return true;
}

int pvs_gs_rtsp_parse(const uint8_t *buf, size_t len, struct pvs_gs_rtsp_request *r)
{
    if (!buf || !r)
        return PVS_EINVAL;
    r->method = r->target = NULL;
    r->cseq = -1;
    r->header_count = 0;
    r->body = NULL;
    r->body_len = 0;
    r->text[0] = '\0';
    size_t he = head_end(buf, len < PVS_GS_RTSP_MAX_HEAD ? len : PVS_GS_RTSP_MAX_HEAD);
    if (!he || memchr(buf, '\0', he))
        return PVS_EBADDATA;
    memcpy(r->text, buf, he);
    r->text[he] = '\0';

    /* Split into lines; every line must end in CRLF. */
    char *line = r->text;
    bool first = true, ok = true;
    while (ok && *line) {
        char *cr = strstr(line, "\r\n");
        if (!cr) {
            ok = false;
            break;
        }
        *cr = '\0';
        if (!*line) /* the empty line: end of the head */
            break;
        if (strchr(line, '\n') || strchr(line, '\r'))
            ok = false;
        else if (first)
            ok = parse_request_line(line, r);
        else
            ok = parse_header(line, r);
        first = false;
        line = cr + 2;
    }
    if (!ok || !r->method)
        return PVS_EBADDATA;

    long body = content_length(buf, he);
    const char *cl = pvs_gs_rtsp_header(r, "Content-Length");
    if (body < 0 || (cl && parse_cseq(cl) < 0) || he + (size_t)body != len)
        return PVS_EBADDATA;
    if (body > 0) {
        r->body = buf + he;
        r->body_len = (size_t)body;
    }
    return 0;
}

const char *pvs_gs_rtsp_header(const struct pvs_gs_rtsp_request *r, const char *name)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->header_count; i++)
        if (name_is(r->headers[i].name, strlen(r->headers[i].name), name))
            return r->headers[i].value;
    return NULL;
}

/* ---- launch --------------------------------------------------------------------- */

static void hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void pvs_gs_rtsp_launch_init(struct pvs_gs_rtsp_launch *l, const uint8_t key[PVS_GS_KEY_BYTES],
                        uint32_t key_id, bool encrypted_rtsp,
                        const uint8_t random[PVS_GS_RTSP_LAUNCH_RANDOM])
{
    memset(l, 0, sizeof(*l));
    memcpy(l->key, key, PVS_GS_KEY_BYTES);
    l->key_id = key_id;
    l->encrypted_rtsp = encrypted_rtsp;
    hex(random, 8, l->audio_ping);
    hex(random + 8, 8, l->video_ping);
    l->connect_data = pvs_get_be32(random + 16);
    l->session_id = pvs_get_be32(random + 20);
}

/* ---- replies ---------------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 415: return "Unsupported Media Type";
    case 454: return "Session Not Found";
    case 455: return "Method Not Valid in This State";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Error";
}

/* Starts a reply: status line and CSeq (always there: Moonlight's parser
 * refuses a reply without any header). */
static void begin(struct pvs_gs_text *w, int status, int32_t cseq)
{
    pvs_gs_textf(w, "RTSP/1.0 %d %s\r\nCSeq: %d\r\n", status, reason(status),
                 cseq >= 0 ? (int)cseq : 0);
}

static void session_header(struct pvs_gs_text *w, const struct pvs_gs_rtsp *s)
{
    pvs_gs_textf(w, "Session: %08X;timeout = 90\r\n", (unsigned)s->launch.session_id);
}

static void end(struct pvs_gs_text *w, const char *body)
{
    if (body)
        pvs_gs_textf(w, "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    else
        pvs_gs_textf(w, "\r\n");
}

/* An error reply with nothing but its status. */
static void error_reply(struct pvs_gs_rtsp *s, struct pvs_gs_text *w, int status, int32_t cseq)
{
    begin(w, status, cseq);
    end(w, NULL);
    s->stats.replies_error++;
}

/* ---- the handshake ------------------------------------------------------------------ */

void pvs_gs_rtsp_init(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_config *cfg)
{
    memset(s, 0, sizeof(*s));
    if (cfg)
        s->cfg = *cfg;
}

void pvs_gs_rtsp_arm(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_launch *l)
{
    pvs_gs_rtsp_disarm(s);
    s->launch = *l;
    s->armed = true;
}

void pvs_gs_rtsp_disarm(struct pvs_gs_rtsp *s)
{
    mbedtls_platform_zeroize(&s->launch, sizeof(s->launch));
    s->armed = false;
    s->setup = 0;
    s->announced = s->playing = false;
    memset(&s->config, 0, sizeof(s->config));
    s->rx_seq = s->tx_seq = 0;
}

/* 0 when the request names this launch's session; else the status. A
 * request before any SETUP may leave it out. */
static int check_session(const struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_request *r,
                         bool required)
{
    const char *v = pvs_gs_rtsp_header(r, "Session");
    if (!v)
        return required ? 454 : 0;
    char want[16];
    snprintf(want, sizeof(want), "%08X", (unsigned)s->launch.session_id);
    size_t n = strcspn(v, ";");
    return n == strlen(want) && name_is(v, n, want) ? 0 : 454;
}

static enum pvs_gs_stream_kind stream_of(const char *target)
{
    if (strstr(target, "streamid=audio"))
        return PVS_GS_STREAM_AUDIO;
    if (strstr(target, "streamid=video"))
        return PVS_GS_STREAM_VIDEO;
    if (strstr(target, "streamid=control"))
        return PVS_GS_STREAM_CONTROL;
    return 0;
}

static int do_setup(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_request *r,
                    struct pvs_gs_text *w, struct pvs_gs_rtsp_event *ev)
{
    enum pvs_gs_stream_kind k = stream_of(r->target);
    if (!k)
        return 404;
    int st = check_session(s, r, s->setup != 0);
    if (st)
        return st;
    if (s->announced)
        return 455;
    uint16_t port = k == PVS_GS_STREAM_AUDIO ? s->cfg.audio_port
                  : k == PVS_GS_STREAM_VIDEO ? s->cfg.video_port : s->cfg.control_port;
    begin(w, 200, r->cseq);
    session_header(w, s);
    pvs_gs_textf(w, "Transport: server_port=%u\r\n", (unsigned)port);
    if (k == PVS_GS_STREAM_AUDIO)
        pvs_gs_textf(w, "X-SS-Ping-Payload: %s\r\n", s->launch.audio_ping);
    else if (k == PVS_GS_STREAM_VIDEO)
        pvs_gs_textf(w, "X-SS-Ping-Payload: %s\r\n", s->launch.video_ping);
    else
        pvs_gs_textf(w, "X-SS-Connect-Data: %u\r\n", (unsigned)s->launch.connect_data);
    end(w, NULL);
    s->setup |= k;
    ev->type = PVS_GS_RTSP_EV_SETUP;
    ev->stream = k;
    return 200;
}

/* Whether the host offers what the ANNOUNCE asks for; logs why not. */
static bool offered(const struct pvs_gs_rtsp *s, const struct pvs_gs_stream_config *c)
{
    const struct pvs_gs_sdp_host *h = &s->cfg.sdp;
    const char *why = NULL;
    if (c->codec != PVS_GS_CODEC_H264 && !(h->codecs & c->codec))
        why = "a codec";
    else if (c->hdr && !h->hdr)
        why = "10-bit video";
    else if (c->yuv444 && !h->yuv444)
        why = "4:4:4 video";
    else if ((c->encryption & ~h->encryption_supported) != 0)
        why = "an encryption";
    if (why)
        PVS_LOG_W("a Moonlight client asked for %s this host does not offer (%s, 10-bit %d, "
                  "4:4:4 %d, encryption 0x%x)", why, pvs_gs_codec_name(c->codec), c->hdr,
                  c->yuv444, (unsigned)c->encryption);
    return !why;
}

static int do_announce(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_request *r,
                       struct pvs_gs_text *w, struct pvs_gs_rtsp_event *ev)
{
    int st = check_session(s, r, true);
    if (st)
        return st;
    if (!(s->setup & PVS_GS_STREAM_VIDEO) || !(s->setup & PVS_GS_STREAM_CONTROL) || s->playing)
        return 455;
    struct pvs_gs_stream_config c;
    if (pvs_gs_sdp_parse_announce((const char *)r->body, r->body_len, &c) != 0) {
        s->stats.malformed++;
        return 400;
    }
    if (!offered(s, &c))
        return 415;
    s->config = c;
    s->announced = true;
    begin(w, 200, r->cseq);
    session_header(w, s);
    end(w, NULL);
    ev->type = PVS_GS_RTSP_EV_ANNOUNCE;
    ev->config = c;
    return 200;
}

static int do_play(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_request *r,
                   struct pvs_gs_text *w, struct pvs_gs_rtsp_event *ev)
{
    int st = check_session(s, r, true);
    if (st)
        return st;
    if (!s->announced)
        return 455;
    begin(w, 200, r->cseq);
    session_header(w, s);
    end(w, NULL);
    if (!s->playing) { /* a repeated PLAY is answered, not started again */
        s->playing = true;
        ev->type = PVS_GS_RTSP_EV_PLAY;
        ev->config = s->config;
    }
    return 200;
}

/* Answers a parsed request into w; returns its status. */
static int dispatch(struct pvs_gs_rtsp *s, const struct pvs_gs_rtsp_request *r,
                    struct pvs_gs_text *w, struct pvs_gs_rtsp_event *ev)
{
    const char *m = r->method;
    if (strcmp(m, "OPTIONS") == 0) {
        begin(w, 200, r->cseq);
        pvs_gs_textf(w, "Public: OPTIONS, DESCRIBE, SETUP, ANNOUNCE, PLAY\r\n");
        end(w, NULL);
        return 200;
    }
    bool known = strcmp(m, "DESCRIBE") == 0 || strcmp(m, "SETUP") == 0 ||
                 strcmp(m, "ANNOUNCE") == 0 || strcmp(m, "PLAY") == 0;
    if (!known)
        return 501;
    if (!s->armed)
        return 503;
    if (strcmp(m, "SETUP") == 0)
        return do_setup(s, r, w, ev);
    if (strcmp(m, "ANNOUNCE") == 0)
        return do_announce(s, r, w, ev);
    if (strcmp(m, "PLAY") == 0)
        return do_play(s, r, w, ev);

    char body[PVS_GS_SDP_DESCRIBE_MAX];
    struct pvs_gs_sdp_host h = s->cfg.sdp;
    h.video_port = s->cfg.video_port;
    h.audio_port = s->cfg.audio_port;
    if (pvs_gs_sdp_describe(&h, body, sizeof(body)) < 0) {
        PVS_LOG_E("the GameStream DESCRIBE answer cannot be written "
                  "(a surround layout out of range?)");
        return 503;
    }
    begin(w, 200, r->cseq);
    end(w, body);
    return 200;
}

/* Plain request -> plain reply in out. Returns its length or 0. */
static int handle_plain(struct pvs_gs_rtsp *s, const uint8_t *msg, size_t len,
                        char *out, size_t cap, struct pvs_gs_rtsp_event *ev)
{
    struct pvs_gs_rtsp_request r;
    struct pvs_gs_text w;
    pvs_gs_text_init(&w, out, cap);
    if (pvs_gs_rtsp_parse(msg, len, &r) != 0) {
        s->stats.malformed++;
        error_reply(s, &w, 400, r.cseq);
        return w.full ? 0 : (int)w.n;
    }
    int status = dispatch(s, &r, &w, ev);
    if (status != 200) {
        pvs_gs_text_init(&w, out, cap);
        ev->type = PVS_GS_RTSP_EV_NONE;
        error_reply(s, &w, status, r.cseq);
    } else {
        s->stats.replies_ok++;
    }
    return w.full ? 0 : (int)w.n;
}

/* Opens an encrypted request into plain (cap bytes). Returns the plaintext
 * length, or 0 when it must be dropped. */
static size_t open_request(struct pvs_gs_rtsp *s, const uint8_t *msg, size_t len,
                           uint8_t *plain, size_t cap)
{
    if (len <= PVS_GS_RTSP_ENC_HEADER || pvs_gs_rtsp_frame(msg, len, true) != (int)len ||
        len - PVS_GS_RTSP_ENC_HEADER > cap)
        return 0;
    uint32_t seq = pvs_get_be32(msg + 4);
    /* One request per connection, in order: each must be newer. */
    if (seq <= s->rx_seq)
        return 0;
    uint8_t iv[12];
    pvs_gs_gcm_iv12(iv, seq, 'C', 'R');
    size_t n = len - PVS_GS_RTSP_ENC_HEADER;
    if (pvs_gs_gcm_open(s->launch.key, iv, sizeof(iv), msg + PVS_GS_RTSP_ENC_HEADER, n, plain,
                        msg + 8) != 0)
        return 0;
    s->rx_seq = seq;
    return n;
}

/* Seals the plain reply at reply + ENC_HEADER in place. */
static int seal_reply(struct pvs_gs_rtsp *s, uint8_t *reply, size_t n)
{
    uint32_t seq = ++s->tx_seq;
    uint8_t iv[12];
    pvs_gs_gcm_iv12(iv, seq, 'H', 'R');
    uint8_t *body = reply + PVS_GS_RTSP_ENC_HEADER;
    if (pvs_gs_gcm_seal(s->launch.key, iv, sizeof(iv), body, n, body, reply + 8) != 0)
        return 0;
    pvs_put_be32(reply, ENC_BIT | (uint32_t)n);
    pvs_put_be32(reply + 4, seq);
    return (int)(PVS_GS_RTSP_ENC_HEADER + n);
}

int pvs_gs_rtsp_handle(struct pvs_gs_rtsp *s, const uint8_t *msg, size_t len,
                       uint8_t *reply, size_t cap, struct pvs_gs_rtsp_event *ev)
{
    if (!s || !msg || !reply || !ev || cap <= PVS_GS_RTSP_ENC_HEADER)
        return PVS_EINVAL;
    memset(ev, 0, sizeof(*ev));
    if (!(s->armed && s->launch.encrypted_rtsp)) {
        s->stats.requests++;
        int n = handle_plain(s, msg, len, (char *)reply, cap, ev);
        if (n == 0)
            s->stats.dropped++;
        return n;
    }

    uint8_t plain[PVS_GS_RTSP_MAX_HEAD + PVS_GS_RTSP_MAX_BODY];
    size_t pn = open_request(s, msg, len, plain, sizeof(plain));
    if (pn == 0) {
        /* Unreadable, replayed, or plain text on an encrypted session: a
         * reply would have to be sealed for someone who may not hold the
         * key, so there is none. */
        s->stats.dropped++;
        return 0;
    }
    s->stats.requests++;
    char *body = (char *)reply + PVS_GS_RTSP_ENC_HEADER;
    int n = handle_plain(s, plain, pn, body, cap - PVS_GS_RTSP_ENC_HEADER, ev);
    mbedtls_platform_zeroize(plain, pn);
    n = n > 0 ? seal_reply(s, reply, (size_t)n) : 0;
    if (n == 0) {
        s->stats.dropped++;
        ev->type = PVS_GS_RTSP_EV_NONE;
    }
    return n;
}
