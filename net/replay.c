#include "net/replay.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/handshake.h"

#ifndef _WIN32
#include <unistd.h>
#endif

#define DRAIN_MS 300

/* One per frame sent. The sender writes clip_index before the frame's
 * first packet leaves and first_ns after its last; the receiver writes
 * complete_ns. Latency is worked out after both have finished, so a frame
 * that completes before pvs_sender_send returns is measured like any other. */
struct sent {
    _Atomic int clip_index;          /* -1 until sent */
    int64_t first_ns;                /* sender */
    int64_t complete_ns;             /* receiver; 0: never came out intact */
};

struct replay {
    const struct pvs_replay_config *cfg;
    struct pvs_replay_result *res;
    pvs_socket tx_sock, rx_sock;
    struct pvs_addr rx_addr;
    struct pvs_session_keys server_keys, client_keys;
    uint32_t ssrc;
    struct sent *sent;               /* total_frames of them */
    atomic_bool stop;
    atomic_bool want_keyframe;
    int64_t rx_cpu_ns;
    int rx_err;
};

static void show_progress(uint64_t done, uint64_t total)
{
#ifndef _WIN32
    if (!isatty(STDERR_FILENO))
        return;
    fprintf(stderr, "\rreplaying: %llu/%llu frames", (unsigned long long)done,
            (unsigned long long)total);
    if (done == total)
        fputc('\n', stderr);
#endif
}

static int receive_thread(void *arg)
{
    struct replay *rp = arg;
    struct pvs_replay_result *res = rp->res;
    struct pvs_receiver *rx = NULL;
    int err = pvs_receiver_open(&rx, rp->rx_sock, rp->client_keys.srtp_rx, rp->ssrc,
                                &rp->cfg->receiver);
    if (err) {
        rp->rx_err = err;
        return err;
    }
    int64_t cpu0 = pvs_thread_cpu_time_ns();
    int64_t stop_at = 0;
    for (;;) {
        struct pvs_rframe f;
        int n = pvs_receiver_next(rx, 20, &f);
        if (n < 0) {
            rp->rx_err = n;
            break;
        }
        if (pvs_receiver_want_keyframe(rx)) {
            res->keyframe_requests++;
            atomic_store(&rp->want_keyframe, true);
        }
        if (n == 1) {
            /* Frame numbers are the low 32 bits of the index into `sent`. */
            struct sent *s = f.frame < rp->cfg->total_frames ? &rp->sent[f.frame] : NULL;
            int ci = s ? atomic_load(&s->clip_index) : -1;
            const struct pvs_packet *orig = ci >= 0 ? &rp->cfg->frames[ci] : NULL;
            if (orig && f.size == orig->size && !memcmp(f.data, orig->data, f.size)) {
                res->frames_intact++;
                res->frames_recovered += f.recovered;
                s->complete_ns = f.complete_us * 1000;
            } else {
                res->frames_mismatched++;
            }
        }
        if (atomic_load(&rp->stop)) {
            int64_t now = pvs_time_ns();
            if (!stop_at)
                stop_at = now + (int64_t)DRAIN_MS * 1000000;
            else if (now >= stop_at)
                break;
        }
    }
    rp->rx_cpu_ns = pvs_thread_cpu_time_ns() - cpu0;
    pvs_receiver_get_stats(rx, &res->rx);
    pvs_receiver_close(&rx);
    return rp->rx_err;
}

static int send_all(struct replay *rp)
{
    const struct pvs_replay_config *cfg = rp->cfg;
    struct pvs_replay_result *res = rp->res;
    struct pvs_sender *tx = NULL;
    struct pvs_sender_config sc = cfg->sender;
    sc.packetizer.ssrc = rp->ssrc;
    int err = pvs_sender_open(&tx, rp->tx_sock, &rp->rx_addr, rp->server_keys.srtp_tx, &sc);
    if (err)
        return err;
    res->gso = pvs_udp_gso_active(rp->tx_sock);

    const int64_t interval = 1000000000LL / cfg->fps;
    const int64_t start = pvs_time_ns() + 20000000; /* let the receiver start */
    int64_t cpu0 = pvs_thread_cpu_time_ns();
    int clip_pos = 0;
    for (uint64_t i = 0; i < cfg->total_frames && !err; i++) {
        int64_t due = start + (int64_t)i * interval;
        if (pvs_time_ns() > due + interval / 2)
            res->late_sends++;
        pvs_sleep_until_ns(due);
        if (cfg->honour_keyframe_requests && atomic_exchange(&rp->want_keyframe, false))
            clip_pos = 0;
        int ci = clip_pos;
        clip_pos = (clip_pos + 1) % cfg->frame_count;

        struct pvs_packet p = cfg->frames[ci];
        p.frame = i;
        p.capture_ns = pvs_time_ns();
        struct sent *s = &rp->sent[i];
        atomic_store(&s->clip_index, ci);
        err = pvs_sender_send(tx, &p, 0, &s->first_ns);
        res->frames_sent++;
        if (cfg->progress && (i % (uint64_t)cfg->fps == 0 || i + 1 == cfg->total_frames))
            show_progress(i + 1, cfg->total_frames);
    }
    int64_t cpu = pvs_thread_cpu_time_ns() - cpu0;
    res->seconds = (double)(pvs_time_ns() - start) / 1e9;
    res->sender_cpu_pct = res->seconds > 0 ? 100.0 * (double)cpu / 1e9 / res->seconds : 0;
    pvs_sender_get_stats(tx, &res->tx);
    pvs_sender_close(&tx);
    return err;
}

int pvs_replay_run(const struct pvs_replay_config *cfg, struct pvs_replay_result *out)
{
    if (!cfg || !out || !cfg->frames || cfg->frame_count < 1 || cfg->fps < 1 ||
        cfg->fps > 1000 || !cfg->frames[0].keyframe)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    pvs_stats_reset(&out->latency);

    struct replay rp = { .cfg = cfg, .res = out, .tx_sock = PVS_INVALID_SOCKET,
                         .rx_sock = PVS_INVALID_SOCKET };
    struct pvs_thread *thread = NULL;
    struct pvs_handshake client = { 0 }, server = { 0 };
    if (cfg->total_frames > UINT32_MAX)
        return PVS_EINVAL;
    rp.sent = calloc(cfg->total_frames ? cfg->total_frames : 1, sizeof(*rp.sent));
    int err = rp.sent ? pvs_net_init() : PVS_ENOMEM;
    if (err)
        goto out;
    for (uint64_t i = 0; i < cfg->total_frames; i++)
        atomic_init(&rp.sent[i].clip_index, -1);
    if (err)
        goto out;

    /* Keys the way a session makes them. */
    err = pvs_handshake_begin(&client, true);
    if (!err)
        err = pvs_handshake_begin(&server, false);
    if (!err)
        err = pvs_handshake_finish(&client, server.public_key, &rp.client_keys);
    if (!err)
        err = pvs_handshake_finish(&server, client.public_key, &rp.server_keys);
    if (err)
        goto out;
    uint8_t r[4];
    memcpy(r, rp.server_keys.srtp_tx, 4); /* any value will do; this one is random */
    rp.ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    if (!rp.ssrc)
        rp.ssrc = 1;

    struct pvs_addr local;
    err = pvs_addr_resolve(&local, "127.0.0.1", 0);
    if (!err)
        err = pvs_udp_open(&rp.tx_sock, &local);
    if (!err)
        err = pvs_udp_open(&rp.rx_sock, &local);
    if (!err)
        err = pvs_udp_local_addr(rp.rx_sock, &rp.rx_addr);
    if (!err)
        err = pvs_thread_create(&thread, receive_thread, &rp, "pvs-replay-rx");
    if (err)
        goto out;

    err = send_all(&rp);
    atomic_store(&rp.stop, true);
    int rx_err = 0;
    pvs_thread_join(&thread, &rx_err);
    if (!err)
        err = rx_err;

    out->receiver_cpu_pct = out->seconds > 0 ? 100.0 * (double)rp.rx_cpu_ns / 1e9 / out->seconds : 0;
    out->packets_sent = out->tx.packets;
    /* Lost on the way: never read from the socket, or taken by the
     * simulator. */
    uint64_t arrived = out->rx.datagrams - out->rx.sim.dropped - out->rx.sim.overflow;
    out->packets_lost = out->packets_sent > arrived ? out->packets_sent - arrived : 0;
    out->frames_lost = out->frames_sent - out->frames_intact;
    for (uint64_t i = 0; i < out->frames_sent; i++)
        if (rp.sent[i].complete_ns)
            pvs_stats_add(&out->latency, rp.sent[i].complete_ns - rp.sent[i].first_ns);
out:
    pvs_handshake_wipe(&client);
    pvs_handshake_wipe(&server);
    pvs_session_keys_wipe(&rp.client_keys);
    pvs_session_keys_wipe(&rp.server_keys);
    pvs_socket_close(&rp.tx_sock);
    pvs_socket_close(&rp.rx_sock);
    free(rp.sent);
    return err;
}
