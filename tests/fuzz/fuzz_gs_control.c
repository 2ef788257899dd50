/* Fuzz target for GameStream's control stream (gamestream/gs_control.h,
 * gs_input.h): whatever arrives, opening returns a documented code and
 * nothing opens that was not sealed with the key, nor twice; every message
 * parser returns a documented code; and whatever input maps to a pvstream
 * event is one input/input.h accepts (what the injectors take).
 *
 * Input: byte 0 picks the mode, the rest is the message.
 *   bit 0  the 12-byte IVs (control v2) rather than GFE's 16-byte ones
 *   bit 1  clear: the rest is a packet as received: opened by a fresh
 *          host, and also read as a plaintext (u16 LE type, then payload)
 *          by the message parser, and whole by the input parser.
 *          set: the rest is a plaintext (u16 LE type, payload) that a
 *          client seals first, so the parsers see it after a genuine
 *          open; the packet opened again must be refused as a replay, and
 *          with one byte changed as forged.
 * The corpus (tests/fuzz/corpus/gs_control/): "msg_*" are each client
 * message and each input kind as moonlight-common-c's InputStream.c and
 * ControlStream.c lay them out (mode 0x03: sealed by the target);
 * "input_*" are bare input messages (mode 0x00). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gamestream/gs_control.h"
#include "gamestream/gs_input.h"
#include "input/input.h"
#include "tests/fuzz/fuzz.h"

static const uint8_t KEY[16] = {0x5a, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0xa5};

static void parse_and_map(uint16_t type, const uint8_t *p, size_t n)
{
    struct pvs_gs_ctl_msg m;
    int rc = pvs_gs_ctl_parse(type, p, n, &m);
    if (rc != 0 && rc != PVS_EBADDATA && rc != PVS_ENOTSUP)
        abort();
    if (rc != 0)
        return;
    if (type == PVS_GS_CTL_INVALIDATE_REFS && m.u.invalidate.first > m.u.invalidate.last)
        abort();
    if (type != PVS_GS_CTL_INPUT)
        return;
    static struct pvs_gs_input_map map;
    struct pvs_input_event ev;
    int k = pvs_gs_input_map(&map, &m.u.input, &ev, 1);
    if (k < 0 || k > 1)
        abort();
    if (k == 1) {
        uint8_t wire[PVS_INPUT_MAX_MESSAGE];
        if (pvs_input_encode(&ev, wire, sizeof(wire)) <= 0)
            abort();
    }
}

static void received(bool v2, const uint8_t *p, size_t n)
{
    struct pvs_gs_ctl_crypto host = {0};
    pvs_gs_ctl_crypto_init(&host, KEY, v2, true);
    uint8_t payload[PVS_GS_CTL_MAX_PAYLOAD];
    uint16_t type;
    int rc = pvs_gs_ctl_open(&host, p, n, &type, payload, sizeof(payload));
    if (rc >= 0)
        parse_and_map(type, payload, (size_t)rc);
    else if (rc != PVS_EBADDATA)
        abort();
    if (n >= 2)
        parse_and_map((uint16_t)(p[0] | p[1] << 8), p + 2, n - 2);
    struct pvs_gs_input in;
    rc = pvs_gs_input_parse(p, n, &in);
    if (rc != 0 && rc != PVS_EBADDATA && rc != PVS_ENOTSUP)
        abort();
}

static void sealed(bool v2, const uint8_t *p, size_t n)
{
    if (n < 2)
        return;
    uint16_t type = (uint16_t)(p[0] | p[1] << 8);
    p += 2;
    n -= 2;
    struct pvs_gs_ctl_crypto cli = {0}, host = {0};
    pvs_gs_ctl_crypto_init(&cli, KEY, v2, false);
    pvs_gs_ctl_crypto_init(&host, KEY, v2, true);
    uint8_t pkt[PVS_GS_CTL_MAX_PACKET], payload[PVS_GS_CTL_MAX_PAYLOAD];
    int len = pvs_gs_ctl_seal(&cli, type, p, n, pkt, sizeof(pkt));
    if (len < 0) {
        if (n <= PVS_GS_CTL_MAX_PAYLOAD)
            abort();
        return;
    }
    uint16_t got;
    int pn = pvs_gs_ctl_open(&host, pkt, (size_t)len, &got, payload, sizeof(payload));
    if (pn < 0 || (size_t)pn != n || got != type || memcmp(payload, p, n) != 0)
        abort();
    parse_and_map(type, payload, (size_t)pn);
    if (pvs_gs_ctl_open(&host, pkt, (size_t)len, &got, payload, sizeof(payload)) != PVS_EBADDATA ||
        host.stats.replayed != 1)
        abort();
    /* Forged: one byte changed after the outer header, a fresh receiver. */
    struct pvs_gs_ctl_crypto fresh = {0};
    pvs_gs_ctl_crypto_init(&fresh, KEY, v2, true);
    size_t at = 8 + ((size_t)type * 31u + n) % ((size_t)len - 8);
    pkt[at] ^= (uint8_t)((n ? p[n - 1] : 0) | 1);
    if (pvs_gs_ctl_open(&fresh, pkt, (size_t)len, &got, payload, sizeof(payload)) != PVS_EBADDATA)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool v2 = data[0] & 1;
    if (data[0] & 2)
        sealed(v2, data + 1, size - 1);
    else
        received(v2, data + 1, size - 1);
    return 0;
}
