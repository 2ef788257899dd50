#include "net/sender.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"

/* How long a burst may wait for room in a full socket buffer before its
 * datagrams are dropped: longer would only delay the next frame. */
#define FULL_BUFFER_WAIT_NS 8000000
#define FULL_BUFFER_POLL_NS 50000

struct pvs_sender {
    pvs_socket sock;
    struct pvs_addr to;
    struct pvs_packetizer *packetizer;
    struct pvs_srtp *srtp;
    int64_t pace_bps;
    int burst;
    struct pvs_sender_stats stats;
};

int pvs_sender_open(struct pvs_sender **out, pvs_socket sock, const struct pvs_addr *to,
                    const uint8_t key[PVS_SRTP_KEY_BYTES], const struct pvs_sender_config *cfg)
{
    if (!out || !to || !to->len || !key || !cfg || sock == PVS_INVALID_SOCKET)
        return PVS_EINVAL;
    *out = NULL;
    int burst = cfg->burst ? cfg->burst : PVS_SENDER_DEFAULT_BURST;
    if (burst < 1 || burst > 64 || cfg->pace_bps < 0 || cfg->dscp > 63) {
        PVS_LOG_E("sender: burst must be 1..64 datagrams, pace at least 0, DSCP at most 63");
        return PVS_EINVAL;
    }
    struct pvs_sender *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->sock = sock;
    s->to = *to;
    s->pace_bps = cfg->pace_bps;
    s->burst = burst;

    int err = pvs_packetizer_open(&s->packetizer, &cfg->packetizer);
    if (!err)
        err = pvs_srtp_open_send(&s->srtp, key, cfg->packetizer.ssrc);
    if (!err && cfg->sndbuf >= 0) {
        int want = cfg->sndbuf ? cfg->sndbuf : PVS_SENDER_DEFAULT_SNDBUF, got = 0;
        if (pvs_udp_set_buffers(sock, want, 0, &got, NULL) == 0 && got < want)
            PVS_LOG_I("sender: socket send buffer %d KiB, asked for %d KiB", got / 1024,
                      want / 1024);
    }
    if (!err && cfg->dscp >= 0) {
        int e = pvs_udp_set_dscp(sock, cfg->dscp);
        if (e < 0)
            PVS_LOG_W("sender: cannot mark packets with DSCP %d: %s", cfg->dscp, pvs_strerror(e));
    }
    if (err) {
        pvs_sender_close(&s);
        return err;
    }
    *out = s;
    return 0;
}

void pvs_sender_close(struct pvs_sender **s)
{
    if (!s || !*s)
        return;
    pvs_packetizer_close(&(*s)->packetizer);
    pvs_srtp_close(&(*s)->srtp);
    free(*s);
    *s = NULL;
}

/* Sends datagrams [i, i + n) of the batch, waiting a little for room when the
 * socket buffer is full. Returns how many were dropped, or a negative code. */
static int send_burst(struct pvs_sender *s, const struct pvs_packet_batch *b, int i, int n)
{
    int64_t give_up = 0;
    while (n > 0) {
        int sent = pvs_udp_send_batch(s->sock, b->data + (size_t)i * b->stride, b->stride,
                                      b->stride, n, &s->to);
        if (sent > 0) {
            s->stats.packets += (uint64_t)sent;
            s->stats.bytes += (uint64_t)sent * b->stride;
            i += sent;
            n -= sent;
            give_up = 0;
            continue;
        }
        if (sent != PVS_EAGAIN)
            return sent;
        int64_t now = pvs_time_ns();
        if (!give_up)
            give_up = now + FULL_BUFFER_WAIT_NS;
        if (now >= give_up) {
            s->stats.dropped += (uint64_t)n;
            return n;
        }
        pvs_sleep_ns(FULL_BUFFER_POLL_NS);
    }
    return 0;
}

int pvs_sender_send(struct pvs_sender *s, const struct pvs_packet *frame, uint32_t host_us,
                    int64_t *first_sent_ns)
{
    if (!s || !frame)
        return PVS_EINVAL;
    struct pvs_packet_batch b;
    int err = pvs_packetizer_frame(s->packetizer, frame, host_us, &b);
    if (err)
        return err;

    int64_t start = 0;
    for (int i = 0; i < b.count; i += s->burst) {
        int n = b.count - i < s->burst ? b.count - i : s->burst;
        for (int j = i; j < i + n; j++) {
            size_t len = b.len;
            err = pvs_srtp_protect(s->srtp, b.data + (size_t)j * b.stride, &len, b.stride);
            if (err)
                return err;
        }
        if (i == 0) {
            start = pvs_time_ns();
        } else if (s->pace_bps > 0) {
            /* Bits before this burst at the pace rate, in ns. */
            double due = (double)i * (double)b.stride * 8e9 / (double)s->pace_bps;
            pvs_sleep_until_ns(start + (int64_t)due);
        }
        err = send_burst(s, &b, i, n);
        if (err < 0)
            return err;
    }
    s->stats.frames++;
    s->stats.parity_packets += (uint64_t)(b.count - b.data_packets);
    s->stats.last_frame_ns = pvs_time_ns() - start;
    s->stats.last_frame_bytes = (uint64_t)b.count * b.stride;
    if (first_sent_ns)
        *first_sent_ns = start;
    return 0;
}

int pvs_sender_set_pace(struct pvs_sender *s, int64_t pace_bps)
{
    if (!s || pace_bps < 0)
        return PVS_EINVAL;
    s->pace_bps = pace_bps;
    return 0;
}

int pvs_sender_set_fec(struct pvs_sender *s, int fec_percent, int min_parity)
{
    return s ? pvs_packetizer_set_fec(s->packetizer, fec_percent, min_parity) : PVS_EINVAL;
}

void pvs_sender_get_stats(const struct pvs_sender *s, struct pvs_sender_stats *out)
{
    if (s && out)
        *out = s->stats;
}
