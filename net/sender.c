#include "net/sender.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"

/* How long a burst may wait for room in a full socket buffer before its
 * datagrams are dropped: longer would only delay the next frame. */
#define FULL_BUFFER_WAIT_NS 8000000
#define FULL_BUFFER_POLL_NS 50000
/* How often a frame waiting for its next burst asks the rate control
 * again: a cap lifted, or a flush, acts within this. */
#define LIVE_POLL_NS 2000000

/* A frame's protected datagrams, ready to pace. */
struct job {
    uint8_t *data;
    size_t cap;
    struct pvs_packet_batch b;
    uint32_t frame, encoded, epoch;
    int64_t pace_bps;
};

struct pvs_sender {
    pvs_socket sock;
    struct pvs_addr to;
    struct pvs_packetizer *packetizer;
    struct pvs_srtp *srtp;
    int64_t pace_bps;
    int burst;
    pvs_sender_sent_fn on_sent;
    pvs_sender_live_fn live;
    void *on_sent_arg;
    uint32_t epoch;               /* of the frames posted now */
    pvs_mutex mu;                 /* stats; with the thread, also what follows */
    struct pvs_sender_stats stats;
    /* The pacing thread: jobs posted and done, job[n % 2] is the n-th. */
    struct pvs_thread *thread;
    pvs_cond cv;
    struct job job[2];
    uint64_t posted, done;
    bool stop;
    int error;                    /* the thread's first failure */
};

static int pace_thread(void *arg);

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
    s->on_sent = cfg->on_sent;
    s->live = cfg->live;
    s->on_sent_arg = cfg->on_sent_arg;
    if (pvs_mutex_init(&s->mu)) {
        free(s);
        return PVS_ENOMEM;
    }
    if (pvs_cond_init(&s->cv)) {
        pvs_mutex_destroy(&s->mu);
        free(s);
        return PVS_ENOMEM;
    }

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
    if (!err && cfg->own_thread)
        err = pvs_thread_create(&s->thread, pace_thread, s, "pvs-pacer");
    if (err) {
        pvs_sender_close(&s);
        return err;
    }
    *out = s;
    return 0;
}

/* Sends what was posted, then stops the thread. */
void pvs_sender_close(struct pvs_sender **ps)
{
    if (!ps || !*ps)
        return;
    struct pvs_sender *s = *ps;
    if (s->thread) {
        pvs_mutex_lock(&s->mu);
        s->stop = true;
        pvs_cond_broadcast(&s->cv);
        pvs_mutex_unlock(&s->mu);
        pvs_thread_join(&s->thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        free(s->job[i].data);
    pvs_packetizer_close(&s->packetizer);
    pvs_srtp_close(&s->srtp);
    pvs_cond_destroy(&s->cv);
    pvs_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
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
            pvs_mutex_lock(&s->mu);
            s->stats.packets += (uint64_t)sent;
            s->stats.bytes += (uint64_t)sent * b->stride;
            pvs_mutex_unlock(&s->mu);
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
            pvs_mutex_lock(&s->mu);
            s->stats.dropped += (uint64_t)n;
            pvs_mutex_unlock(&s->mu);
            return n;
        }
        pvs_sleep_ns(FULL_BUFFER_POLL_NS);
    }
    return 0;
}

/* What the rate control wants now of a frame of `epoch` paced at
 * `pace_bps`: false when it is to be dropped, else the pace under the cap. */
static bool live_pace(struct pvs_sender *s, int64_t pace_bps, uint32_t epoch, int64_t *pace)
{
    struct pvs_sender_live live = { 0, epoch };
    if (s->live)
        s->live(s->on_sent_arg, &live);
    *pace = live.pace_cap_bps > 0 && (pace_bps <= 0 || live.pace_cap_bps < pace_bps)
                ? live.pace_cap_bps
                : pace_bps;
    return live.epoch == epoch;
}

/* When each burst of a frame is due: from `anchor` (burst `anchor_i`
 * left then) at `pace`. */
struct pace_clock {
    int64_t anchor, pace;
    int anchor_i;
};

/* Waits until burst i is due, asking the rate control every LIVE_POLL_NS:
 * a new cap counts from the burst before, at the new pace. Returns false
 * when the frame's epoch is gone (drop the rest). */
static bool wait_burst(struct pvs_sender *s, const struct pvs_packet_batch *b,
                       struct pace_clock *pc, int i, int64_t pace_bps, uint32_t epoch)
{
    int64_t now_pace;
    if (!live_pace(s, pace_bps, epoch, &now_pace))
        return false;
    for (;;) {
        if (now_pace != pc->pace) {
            if (pc->pace > 0)
                pc->anchor += (int64_t)((double)(i - s->burst - pc->anchor_i) *
                                        (double)b->stride * 8e9 / (double)pc->pace);
            pc->anchor_i = i - s->burst;
            pc->pace = now_pace;
        }
        if (pc->pace <= 0)
            return true;
        int64_t due = pc->anchor + (int64_t)((double)(i - pc->anchor_i) * (double)b->stride *
                                             8e9 / (double)pc->pace);
        int64_t now = pvs_time_ns();
        if (now >= due)
            return true;
        pvs_sleep_until_ns(due - now > LIVE_POLL_NS ? now + LIVE_POLL_NS : due);
        if (!live_pace(s, pace_bps, epoch, &now_pace))
            return false;
    }
}

/* Paces a protected frame out: burst j not before start + the bits before
 * it at `pace_bps` (wait_burst: under the rate control's cap; a new epoch
 * drops the rest). Returns 0 or a negative code; *first_ns gets when the
 * first datagram left. */
static int pace_out(struct pvs_sender *s, const struct pvs_packet_batch *b, int64_t pace_bps,
                    uint32_t frame, uint32_t encoded, uint32_t epoch, int64_t *first_ns)
{
    int64_t start = 0;
    struct pace_clock pc = { 0, 0, 0 };
    int i = 0;
    for (; i < b->count; i += s->burst) {
        int n = b->count - i < s->burst ? b->count - i : s->burst;
        if (i == 0) {
            if (!live_pace(s, pace_bps, epoch, &pc.pace))
                break;
            start = pc.anchor = pvs_time_ns();
        } else if (!wait_burst(s, b, &pc, i, pace_bps, epoch)) {
            break;
        }
        int err = send_burst(s, b, i, n);
        if (err < 0)
            return err;
    }
    if (i < b->count) { /* flushed */
        pvs_mutex_lock(&s->mu);
        s->stats.flushed_frames++;
        s->stats.flushed_packets += (uint64_t)(b->count - i);
        pvs_mutex_unlock(&s->mu);
        if (i == 0)
            return 0;
    }
    int64_t last = pvs_time_ns();
    int sent = i < b->count ? i : b->count;
    uint64_t wire = (uint64_t)sent * b->stride;
    pvs_mutex_lock(&s->mu);
    s->stats.frames += sent == b->count;
    s->stats.parity_packets += (uint64_t)(sent > b->data_packets ? sent - b->data_packets : 0);
    s->stats.last_frame_ns = last - start;
    s->stats.last_frame_bytes = wire;
    pvs_mutex_unlock(&s->mu);
    if (s->on_sent)
        s->on_sent(s->on_sent_arg, frame, encoded, wire, start, last);
    if (first_ns)
        *first_ns = start;
    return 0;
}

static int pace_thread(void *arg)
{
    struct pvs_sender *s = arg;
    pvs_thread_boost("Games");
    pvs_mutex_lock(&s->mu);
    for (;;) {
        while (s->done == s->posted && !s->stop)
            pvs_cond_wait_until(&s->cv, &s->mu, -1);
        if (s->done == s->posted)
            break; /* stopped with nothing left */
        struct job *j = &s->job[s->done % 2];
        pvs_mutex_unlock(&s->mu);
        int err = pace_out(s, &j->b, j->pace_bps, j->frame, j->encoded, j->epoch, NULL);
        pvs_mutex_lock(&s->mu);
        if (err && !s->error)
            s->error = err;
        s->done++;
        pvs_cond_broadcast(&s->cv);
    }
    pvs_mutex_unlock(&s->mu);
    return 0;
}

/* Copies the protected frame into the next free buffer for the thread;
 * waits while both hold frames not yet sent. */
static int post(struct pvs_sender *s, const struct pvs_packet_batch *b, uint32_t frame,
                uint32_t encoded)
{
    size_t bytes = (size_t)b->count * b->stride;
    pvs_mutex_lock(&s->mu);
    while (s->posted - s->done >= 2 && !s->error)
        pvs_cond_wait_until(&s->cv, &s->mu, -1);
    int err = s->error;
    pvs_mutex_unlock(&s->mu);
    if (err)
        return err;
    /* The thread is not reading this one: it finished it or never had it. */
    struct job *j = &s->job[s->posted % 2];
    if (j->cap < bytes) {
        uint8_t *d = realloc(j->data, bytes);
        if (!d)
            return PVS_ENOMEM;
        j->data = d;
        j->cap = bytes;
    }
    memcpy(j->data, b->data, bytes);
    j->b = *b;
    j->b.data = j->data;
    j->frame = frame;
    j->encoded = encoded;
    j->pace_bps = s->pace_bps;
    j->epoch = s->epoch;
    pvs_mutex_lock(&s->mu);
    s->posted++;
    pvs_cond_broadcast(&s->cv);
    pvs_mutex_unlock(&s->mu);
    return 0;
}

int pvs_sender_send(struct pvs_sender *s, const struct pvs_packet *frame, uint32_t host_us,
                    int64_t *first_sent_ns)
{
    if (!s || !frame)
        return PVS_EINVAL;
    if (first_sent_ns)
        *first_sent_ns = 0;
    struct pvs_packet_batch b;
    int err = pvs_packetizer_frame(s->packetizer, frame, host_us, &b);
    if (err)
        return err;
    for (int j = 0; j < b.count; j++) {
        size_t len = b.len;
        err = pvs_srtp_protect(s->srtp, b.data + (size_t)j * b.stride, &len, b.stride);
        if (err)
            return err;
    }
    uint32_t encoded = frame->size > UINT32_MAX ? UINT32_MAX : (uint32_t)frame->size;
    if (s->thread)
        return post(s, &b, frame->frame, encoded);
    return pace_out(s, &b, s->pace_bps, frame->frame, encoded, s->epoch, first_sent_ns);
}

int pvs_sender_set_pace(struct pvs_sender *s, int64_t pace_bps)
{
    if (!s || pace_bps < 0)
        return PVS_EINVAL;
    s->pace_bps = pace_bps;
    return 0;
}

int pvs_sender_set_epoch(struct pvs_sender *s, uint32_t epoch)
{
    if (!s)
        return PVS_EINVAL;
    s->epoch = epoch;
    return 0;
}

int pvs_sender_set_fec(struct pvs_sender *s, int fec_percent, int min_parity)
{
    return s ? pvs_packetizer_set_fec(s->packetizer, fec_percent, min_parity) : PVS_EINVAL;
}

void pvs_sender_get_stats(struct pvs_sender *s, struct pvs_sender_stats *out)
{
    if (!s || !out)
        return;
    pvs_mutex_lock(&s->mu);
    *out = s->stats;
    pvs_mutex_unlock(&s->mu);
}
