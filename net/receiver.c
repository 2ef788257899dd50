#include "net/receiver.h"

#include <stdlib.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "net/media.h"

#define BATCH 64

struct pvs_receiver {
    pvs_socket sock;
    struct pvs_srtp *srtp;
    uint32_t ssrc;
    struct pvs_srtp *audio_srtp;  /* NULL without audio */
    uint32_t audio_ssrc;
    pvs_receiver_audio_fn audio_fn;
    void *audio_ctx;
    struct pvs_reassembly *reassembly;
    struct pvs_losssim *sim;
    size_t stride;
    uint8_t *buf;             /* BATCH datagrams of `stride` bytes */
    size_t lens[BATCH];
    int64_t arrived[BATCH];   /* each datagram's arrival (the kernel's stamp) */
    int64_t last_arrival;     /* arrivals handed on never go back */
    struct pvs_receiver_stats stats;
};

int pvs_receiver_open(struct pvs_receiver **out, pvs_socket sock,
                      const uint8_t key[PVS_SRTP_KEY_BYTES], uint32_t ssrc,
                      const struct pvs_receiver_config *cfg)
{
    if (!out || !key || !cfg || sock == PVS_INVALID_SOCKET)
        return PVS_EINVAL;
    *out = NULL;
    int dgram = cfg->datagram_size ? cfg->datagram_size : PVS_MEDIA_DEFAULT_DATAGRAM;
    if (dgram < PVS_MEDIA_MIN_DATAGRAM || dgram > PVS_MEDIA_MAX_DATAGRAM) {
        PVS_LOG_E("receiver: datagram size %d is not %d..%d", dgram, PVS_MEDIA_MIN_DATAGRAM,
                  PVS_MEDIA_MAX_DATAGRAM);
        return PVS_EINVAL;
    }
    struct pvs_receiver *r = calloc(1, sizeof(*r));
    if (!r)
        return PVS_ENOMEM;
    r->sock = sock;
    r->ssrc = ssrc;
    /* One spare byte per slot: a datagram that fills it is longer than
     * expected, cut, and fails SRTP rather than passing short. */
    r->stride = (size_t)dgram + 1;
    r->buf = malloc(r->stride * BATCH);
    int err = r->buf ? 0 : PVS_ENOMEM;
    if (!err)
        err = pvs_srtp_open_recv(&r->srtp, key, ssrc);
    if (!err) {
        struct pvs_reassembly_config rc = cfg->reassembly;
        rc.ssrc = ssrc;
        err = pvs_reassembly_open(&r->reassembly, &rc);
    }
    if (!err && cfg->losssim && cfg->losssim[0]) {
        struct pvs_losssim_config lc;
        err = pvs_losssim_parse(cfg->losssim, &lc);
        if (!err)
            err = pvs_losssim_open(&r->sim, &lc);
    }
    /* Arrival times from the kernel where it stamps them: a client busy
     * elsewhere (decoding, another program) takes its packets late, and
     * the rate control would read that wait as a queue on the network. */
    if (!err)
        pvs_udp_enable_arrival_stamps(sock);
    if (!err && cfg->rcvbuf >= 0) {
        int want = cfg->rcvbuf ? cfg->rcvbuf : PVS_RECEIVER_DEFAULT_RCVBUF, got = 0;
        if (pvs_udp_set_buffers(sock, 0, want, NULL, &got) == 0 && got < want)
            PVS_LOG_W("receiver: socket receive buffer %d KiB, asked for %d KiB: a keyframe "
                      "burst may overflow it (raise net.core.rmem_max)", got / 1024, want / 1024);
    }
    if (err) {
        pvs_receiver_close(&r);
        return err;
    }
    *out = r;
    return 0;
}

void pvs_receiver_close(struct pvs_receiver **r)
{
    if (!r || !*r)
        return;
    pvs_srtp_close(&(*r)->srtp);
    pvs_srtp_close(&(*r)->audio_srtp);
    pvs_reassembly_close(&(*r)->reassembly);
    pvs_losssim_close(&(*r)->sim);
    free((*r)->buf);
    free(*r);
    *r = NULL;
}

int pvs_receiver_set_audio(struct pvs_receiver *r, const uint8_t key[PVS_SRTP_KEY_BYTES],
                           uint32_t ssrc, pvs_receiver_audio_fn fn, void *ctx)
{
    if (!r || !key || !fn || !ssrc || ssrc == r->ssrc || r->audio_srtp)
        return PVS_EINVAL;
    int err = pvs_srtp_open_recv(&r->audio_srtp, key, ssrc);
    if (err)
        return err;
    r->audio_ssrc = ssrc;
    r->audio_fn = fn;
    r->audio_ctx = ctx;
    return 0;
}

/* One datagram that made it past the loss simulator: by its SSRC (bytes
 * 8..11, authenticated by SRTP right after) to the audio or the video. */
static void deliver(struct pvs_receiver *r, uint8_t *pkt, size_t len, int64_t now_us)
{
    if (r->audio_srtp && len >= PVS_RTP_HEADER_BYTES && pvs_get_be32(pkt + 8) == r->audio_ssrc) {
        if (pvs_srtp_unprotect(r->audio_srtp, pkt, &len) == 0)
            r->audio_fn(r->audio_ctx, pkt, len, now_us * 1000);
        return;
    }
    if (pvs_srtp_unprotect(r->srtp, pkt, &len) == 0)
        pvs_reassembly_push(r->reassembly, pkt, len, now_us);
}

/* Moves what the loss simulator lets through, and is due, on to SRTP. */
static void drain_sim(struct pvs_receiver *r, int64_t now_us)
{
    uint8_t pkt[PVS_MEDIA_MAX_DATAGRAM + 1];
    int n;
    while ((n = pvs_losssim_pop(r->sim, now_us, pkt, sizeof(pkt))) > 0)
        deliver(r, pkt, (size_t)n, now_us);
}

int pvs_receiver_next(struct pvs_receiver *r, int timeout_ms, struct pvs_rframe *out)
{
    if (!r || !out)
        return PVS_EINVAL;
    int64_t end_us = pvs_time_us() + (timeout_ms > 0 ? (int64_t)timeout_ms * 1000 : 0);
    for (;;) {
        int64_t now = pvs_time_us();
        if (r->sim)
            drain_sim(r, now);
        if (pvs_reassembly_pop(r->reassembly, now, out) == 1)
            return 1;

        /* Wait for the socket, but not past the next deadline or a held
         * packet falling due. */
        int64_t wake = end_us;
        int64_t due = pvs_reassembly_poll(r->reassembly, now);
        if (due < wake)
            wake = due;
        if (r->sim) {
            due = pvs_losssim_next_due(r->sim);
            if (due < wake)
                wake = due;
        }
        int wait_ms = wake > now ? (int)((wake - now + 999) / 1000) : 0;
        int n = pvs_udp_recv_batch_at(r->sock, r->buf, r->stride, BATCH, r->lens, NULL,
                                      r->arrived, wait_ms);
        now = pvs_time_us();
        if (n == PVS_ETIMEDOUT || n == PVS_EAGAIN) {
            if (now >= end_us && !(r->sim && pvs_losssim_next_due(r->sim) <= now))
                return pvs_reassembly_pop(r->reassembly, now, out);
            continue;
        }
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++) {
            uint8_t *pkt = r->buf + (size_t)i * r->stride;
            r->stats.datagrams++;
            r->stats.bytes += r->lens[i];
            int64_t at = r->arrived[i] > r->last_arrival ? r->arrived[i] : r->last_arrival;
            r->last_arrival = at;
            if (r->sim)
                pvs_losssim_push(r->sim, pkt, r->lens[i], now); /* it counts drops */
            else
                deliver(r, pkt, r->lens[i], at);
        }
        /* A steady stream of packets that completes no frame must not hold
         * the caller past its timeout. */
        if (now >= end_us)
            return pvs_reassembly_pop(r->reassembly, now, out);
    }
}

bool pvs_receiver_want_keyframe(struct pvs_receiver *r)
{
    return r && pvs_reassembly_want_keyframe(r->reassembly);
}

bool pvs_receiver_progress(const struct pvs_receiver *r, struct pvs_frame_arrival *out)
{
    return r && pvs_reassembly_progress(r->reassembly, out);
}

int pvs_receiver_take_arrivals(struct pvs_receiver *r, struct pvs_frame_arrival *out, int max)
{
    return r ? pvs_reassembly_take_arrivals(r->reassembly, out, max) : 0;
}

void pvs_receiver_get_stats(const struct pvs_receiver *r, struct pvs_receiver_stats *out)
{
    if (!r || !out)
        return;
    *out = r->stats;
    pvs_srtp_get_stats(r->srtp, &out->srtp);
    if (r->audio_srtp)
        pvs_srtp_get_stats(r->audio_srtp, &out->audio_srtp);
    pvs_reassembly_get_stats(r->reassembly, &out->frames);
    if (r->sim)
        pvs_losssim_get_stats(r->sim, &out->sim);
}
