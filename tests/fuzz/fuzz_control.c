/* Fuzz target for the control messages (net/control_msg.h): whatever
 * arrives, the clear parser, the inner parser and pvs_ctl_open return a
 * documented code and touch nothing outside the message; whatever a parser
 * accepts encodes again and parses back to the same struct; nothing opens
 * that was not sealed with the key, and nothing opens twice.
 *
 * Input: byte 0 picks the mode, the rest is the message.
 *   bits 0-1  the ENet channel (3 is not one: open must refuse it)
 *   bit 2     clear: the rest is a message as received: parsed as a clear
 *             message, as an inner message, and opened as a sealed one
 *             (fresh receiving state, key KEY) and the plaintext parsed.
 *             set: the rest is a plaintext, sealed with KEY on the channel
 *             first (counter 1), so the inner parser sees it after a
 *             genuine open; the same message opened again must be refused
 *             as a replay, and with one byte changed (position chosen by
 *             the plaintext) as forged.
 * The corpus (tests/fuzz/corpus/control/): "clear_*" are HELLO (with and
 * without the display fields), WELCOME and REFUSE as a client or server
 * sends them (mode 0x00); "seal_*" are
 * each inner message (RUMBLE, FEEDBACK and RATE among them) in mode 0x04, or
 * 0x06 for FEEDBACK and RATE, which go on channel 2 (the target seals them);
 * "sealed_*" are mode 0x00 (0x02) followed by the same messages already
 * sealed with KEY on channel 0 (2), counter 1, so the mutations of the replay driver reach the
 * tag check and, unchanged, the inner parser. All were written by
 * pvs_ctl_encode and pvs_ctl_seal with KEY. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/control_msg.h"
#include "tests/fuzz/fuzz.h"

static void make_key(struct pvs_session_keys *sender, struct pvs_session_keys *receiver)
{
    /* KEY: byte i is 0x40 + i, sealing from the sender to the receiver. */
    memset(sender, 0, sizeof(*sender));
    memset(receiver, 0, sizeof(*receiver));
    for (int i = 0; i < PVS_CONTROL_KEY_BYTES; i++) {
        sender->control_tx[i] = (uint8_t)(0x40 + i);
        receiver->control_rx[i] = (uint8_t)(0x40 + i);
    }
}

/* Accepted means consistent: it encodes, and the bytes parse back the
 * same. */
static void round_trip(const struct pvs_ctl_msg *m, bool clear)
{
    uint8_t buf[PVS_CTL_MAX_MESSAGE];
    int n = pvs_ctl_encode(m, buf, sizeof(buf));
    if (n <= 0)
        abort();
    struct pvs_ctl_msg again;
    int rc = clear ? pvs_ctl_parse_clear(buf, (size_t)n, &again)
                   : pvs_ctl_parse_inner(buf, (size_t)n, &again);
    if (rc != 0 || memcmp(&again, m, sizeof(again)) != 0)
        abort();
}

/* What the client acts on without further checks: a RUMBLE names one of
 * the pads GAMEPAD can name, and came with its whole body. */
static void check_rumble(const struct pvs_ctl_msg *m, const uint8_t *p, size_t n)
{
    if (m->type != PVS_CTL_RUMBLE)
        return;
    if (m->u.rumble.pad >= PVS_CTL_RUMBLE_PADS || n < 9 || p[1] != m->u.rumble.pad)
        abort();
}

/* What the server acts on: a HELLO's display mode was in the body it
 * came with, and names a size only with both of its numbers. */
static void check_hello(const struct pvs_ctl_msg *m, size_t n)
{
    if (m->type != PVS_CTL_HELLO)
        return;
    const struct pvs_ctl_hello *h = &m->u.hello;
    bool said = h->display_width || h->display_height || h->display_hz || h->display_flags;
    if ((h->display_width == 0) != (h->display_height == 0) ||
        (said && (n < 1 + PVS_CTL_HELLO_DISPLAY_BODY || h->version_max < 2)))
        abort();
}

/* What the server's rate control takes as is: FEEDBACK's records were all
 * in the body, at most the most, each ending no earlier than it began. */
static void check_feedback(const struct pvs_ctl_msg *m, size_t n)
{
    if (m->type != PVS_CTL_FEEDBACK)
        return;
    const struct pvs_ctl_feedback *f = &m->u.feedback;
    if (f->count > PVS_CTL_FEEDBACK_MAX ||
        n < 1 + PVS_CTL_FEEDBACK_HEADER + (size_t)f->count * PVS_CTL_FEEDBACK_RECORD)
        abort();
    for (int i = 0; i < f->count; i++)
        if (f->rec[i].last_us < f->rec[i].first_us)
            abort();
}

static void parse_inner(const uint8_t *p, size_t n)
{
    struct pvs_ctl_msg m;
    int rc = pvs_ctl_parse_inner(p, n, &m);
    if (rc == 0) {
        check_rumble(&m, p, n);
        check_feedback(&m, n);
        round_trip(&m, false);
    }
    else if (rc == PVS_ENOTSUP) {
        if (n < 1 || p[0] < PVS_CTL_INPUT_FIRST || p[0] > PVS_CTL_RESERVED_LAST)
            abort();
    } else if (rc != PVS_EBADDATA) {
        abort();
    }
}

static void received(uint8_t channel, const uint8_t *p, size_t n)
{
    struct pvs_ctl_msg m;
    int rc = pvs_ctl_parse_clear(p, n, &m);
    if (rc == 0) {
        if (!pvs_ctl_type_is_clear(m.type))
            abort();
        check_hello(&m, n);
        round_trip(&m, true);
    } else if (rc != PVS_EBADDATA) {
        abort();
    }
    parse_inner(p, n);

    struct pvs_session_keys tx, rx;
    make_key(&tx, &rx);
    struct pvs_ctl_crypto c = {0};
    if (pvs_ctl_crypto_init(&c, &rx) != 0)
        abort();
    uint8_t plain[PVS_CTL_MAX_RECEIVE];
    int pn = pvs_ctl_open(&c, channel, p, n, plain, sizeof(plain));
    if (pn > 0) {
        if (channel >= PVS_CTL_CHANNELS || (size_t)pn != n - PVS_CTL_SEAL_OVERHEAD)
            abort();
        parse_inner(plain, (size_t)pn);
        if (pvs_ctl_open(&c, channel, p, n, plain, sizeof(plain)) != PVS_EBADDATA ||
            c.stats.replayed != 1)
            abort();
    } else if (pn != PVS_EBADDATA) {
        abort();
    }
}

static void sealed(uint8_t channel, const uint8_t *p, size_t n)
{
    struct pvs_session_keys tx, rx;
    make_key(&tx, &rx);
    struct pvs_ctl_crypto s = {0}, r = {0};
    if (pvs_ctl_crypto_init(&s, &tx) != 0 || pvs_ctl_crypto_init(&r, &rx) != 0)
        abort();
    uint8_t box[PVS_CTL_MAX_MESSAGE + PVS_CTL_SEAL_OVERHEAD];
    int bn = pvs_ctl_seal(&s, channel, p, n, box, sizeof(box));
    if (bn < 0) {
        if (channel < PVS_CTL_CHANNELS && n >= 1 && n <= PVS_CTL_MAX_MESSAGE)
            abort();
        return;
    }
    uint8_t plain[PVS_CTL_MAX_MESSAGE];
    int pn = pvs_ctl_open(&r, channel, box, (size_t)bn, plain, sizeof(plain));
    if (pn < 0 || (size_t)pn != n || memcmp(plain, p, n) != 0)
        abort();
    parse_inner(plain, (size_t)pn);
    if (pvs_ctl_open(&r, channel, box, (size_t)bn, plain, sizeof(plain)) != PVS_EBADDATA)
        abort();

    /* Forged: one byte changed, and a fresh receiver (no replay to hide
     * behind) still refuses it. */
    struct pvs_ctl_crypto r2 = {0};
    pvs_ctl_crypto_init(&r2, &rx);
    size_t at = ((size_t)p[0] * 31u + n) % (size_t)bn;
    box[at] ^= (uint8_t)(p[n - 1] | 1);
    if (pvs_ctl_open(&r2, channel, box, (size_t)bn, plain, sizeof(plain)) != PVS_EBADDATA)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t channel = data[0] & 3;
    if (data[0] & 4)
        sealed(channel, data + 1, size - 1);
    else
        received(channel, data + 1, size - 1);
    return 0;
}
