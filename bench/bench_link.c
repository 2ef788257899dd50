/* pvstream-bench link: a UDP relay that puts an emulated network link
 * (net/linkemu.h) between a pvstream client and server, with a bottleneck
 * rate, a drop-tail queue, delay, jitter and loss per direction, each able
 * to change on a schedule.
 *
 *   client --> L   (control) --[up link]--> HOST:P   (server's ENet port)
 *   client --> L+1 (media)   --[up link]--> HOST:P+1 (server's media port)
 *   client <-- L / L+1       <-[down link]- replies and media from the server
 *
 * Why a relay and not a layer inside the bench: the point is to measure the
 * real programs as users run them (their sockets, pacing, ENet's own
 * retransmissions and timers, the OS's buffers), unchanged, and the same
 * relay serves a session run by hand, a Windows guest, or another machine.
 * A layer inside the bench would only ever test the bench's own copy of the
 * path. The cost is one more hop on loopback (tens of microseconds) and one
 * process whose timing must be good: it sleeps in poll until the next packet
 * is due (ppoll, to the microsecond on Linux), sends everything due, and
 * never sends early. Sending may be late by the wake-up latency (typically
 * 50-100 µs here); the rate stays exact because departure times come from
 * the emulator's clock, not from when the relay woke up.
 *
 * Addresses: the relay remembers the last client address seen on L and on
 * L+1 and sends the server's traffic back there. The server sends media to
 * the address it saw the control traffic come from, at the media port the
 * client announced; so that this reaches the relay, give the relay
 * --media-port with the client's --media-port (the relay then listens for
 * media on it and passes it on to the client's address). On one machine the
 * client's own socket holds that port, so there the client binds another
 * (--media-port Y) and announces M (--media-announce M), and the relay
 * passes the media on to Y (--client-media-port Y); docs/network.md. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "net/linkemu.h"

#define MAX_DGRAM 2048
#define MAX_HELD 32768 /* packets per direction: 64 MiB at most */
#define BATCH 32

enum { CL_CTL, CL_MEDIA, SV_CTL, SV_MEDIA, NSOCK };

struct dir_opts {
    char rate[PVS_OPT_STRING_MAX], queue[PVS_OPT_STRING_MAX], delay[PVS_OPT_STRING_MAX];
    char jitter[PVS_OPT_STRING_MAX], loss[PVS_OPT_STRING_MAX], burst[PVS_OPT_STRING_MAX];
};

struct settings {
    int listen;
    char server[PVS_OPT_STRING_MAX];
    int media_port;
    int client_media_port;
    struct dir_opts down, up;
    int64_t seed;
    int seconds;
    int sample_ms;
    char json[PVS_OPT_STRING_MAX];
};

#define OPT(k, t, field, lo, hi, mv, h) \
    { "link", k, k, t, offsetof(struct settings, field), lo, hi, NULL, mv, h }
#define DIR_OPTS(p, d, dir)                                                                  \
    OPT(p "rate", PVS_OPT_STRING, d.rate, 0, 0, "SCHED",                                     \
        dir " bottleneck, bits/s: 20M, or steps 50M@0,10M@10s,50M@20s, or wifi:30M:8M "      \
        "(drops for 1-3 s at random times); empty: unlimited"),                               \
    OPT(p "queue", PVS_OPT_STRING, d.queue, 0, 0, "100ms|64K",                                \
        dir " drop-tail queue: a time at the current rate, or bytes"),                        \
    OPT(p "delay", PVS_OPT_STRING, d.delay, 0, 0, "SCHED", dir " base delay: 5ms, or steps"), \
    OPT(p "jitter", PVS_OPT_STRING, d.jitter, 0, 0, "SCHED",                                 \
        dir " extra delay, uniform 0..J, never reordering: 20ms, or steps"),                  \
    OPT(p "loss", PVS_OPT_STRING, d.loss, 0, 0, "SCHED", dir " packet loss, percent: 0.5, or steps"), \
    OPT(p "burst", PVS_OPT_STRING, d.burst, 0, 0, "N",                                       \
        dir " mean length of a run of losses (Gilbert-Elliott); 1: independent")
static const struct pvs_option options[] = {
    OPT("listen", PVS_OPT_INT, listen, 1, 65534, "L",
        "clients connect here (control), media on L+1"),
    OPT("server", PVS_OPT_STRING, server, 0, 0, "HOST:P",
        "the server's control port (media on P+1)"),
    OPT("media-port", PVS_OPT_INT, media_port, 0, 65535, "M",
        "also take the server's media on this port (give the client --media-port M, or on one "
        "machine --media-announce M); 0: no"),
    OPT("client-media-port", PVS_OPT_INT, client_media_port, 0, 65535, "Y",
        "pass that media on to the client's port Y (its --media-port when it announces M); "
        "0: M"),
    DIR_OPTS("", down, "server->client"),
    DIR_OPTS("up-", up, "client->server"),
    OPT("seed", PVS_OPT_INT64, seed, 0, INT64_MAX, "N", "random seed for loss, jitter and wifi"),
    OPT("seconds", PVS_OPT_INT, seconds, 0, 86400, "S", "stop after this long; 0: at Ctrl+C"),
    OPT("sample-ms", PVS_OPT_INT, sample_ms, 10, 10000, "MS", "time series interval"),
    OPT("json", PVS_OPT_STRING, json, 0, 0, "FILE",
        "write statistics and the time series per direction as JSON"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

/* A packet waiting for its arrival time. */
struct held {
    int64_t due;
    uint16_t len;
    uint8_t out; /* the socket it leaves by */
    uint8_t data[MAX_DGRAM];
};

/* One direction: the emulated link, the packets in flight, its counts and
 * time series. */
struct dir {
    const char *name;
    struct pvs_link_config cfg;
    struct pvs_link *link;
    struct held *ring;
    size_t cap, head, count;
    uint64_t sent, send_errors, overflow, no_peer;
    struct pvs_link_sample *series;
    size_t nseries, series_cap;
};

struct relay {
    pvs_socket sock[NSOCK];
    struct pvs_addr server_ctl, server_media;
    struct pvs_addr client[2]; /* CL_CTL, CL_MEDIA: the last sender seen */
    uint16_t client_media_port; /* --media-port: where the client takes media */
    struct dir down, up;
};

static atomic_bool stop_requested;
static void on_stop(void)
{
    atomic_store(&stop_requested, true);
}

/* ---- the packets in flight ------------------------------------------------ */

static bool ring_push(struct dir *d, int64_t due, int out, const uint8_t *data, size_t len)
{
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        if (cap > MAX_HELD)
            return false;
        struct held *r = malloc(cap * sizeof(*r));
        if (!r)
            return false;
        for (size_t i = 0; i < d->count; i++)
            r[i] = d->ring[(d->head + i) % d->cap];
        free(d->ring);
        d->ring = r;
        d->cap = cap;
        d->head = 0;
    }
    struct held *h = &d->ring[(d->head + d->count) % d->cap];
    h->due = due;
    h->len = (uint16_t)len;
    h->out = (uint8_t)out;
    memcpy(h->data, data, len);
    d->count++;
    return true;
}

static int64_t ring_next_due(const struct dir *d)
{
    return d->count ? d->ring[d->head].due : INT64_MAX;
}

static void keep_sample(void *ctx, const struct pvs_link_sample *s)
{
    struct dir *d = ctx;
    if (d->nseries == d->series_cap) {
        size_t cap = d->series_cap ? d->series_cap * 2 : 1024;
        struct pvs_link_sample *p = realloc(d->series, cap * sizeof(*p));
        if (!p)
            return; /* the series ends early; the counts go on */
        d->series = p;
        d->series_cap = cap;
    }
    d->series[d->nseries++] = *s;
}

/* ---- addresses ------------------------------------------------------------ */

/* `a` with another port. */
static int with_port(const struct pvs_addr *a, uint16_t port, struct pvs_addr *out)
{
    char text[80];
    pvs_addr_format(a, text, sizeof(text));
    char *colon = strrchr(text, ':');
    if (!colon)
        return PVS_EINVAL;
    *colon = '\0';
    return pvs_addr_resolve(out, text, port);
}

/* "HOST:P" (an IPv6 address in brackets) into the server's two ports. */
static int resolve_server(struct relay *r, const char *spec)
{
    char host[PVS_OPT_STRING_MAX];
    snprintf(host, sizeof(host), "%s", spec);
    char *colon = strrchr(host, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || end == colon + 1 || *end || port < 1 || port > 65534 ||
        (strchr(host, ':') != colon && host[0] != '[')) {
        fprintf(stderr, "pvstream-bench link: --server '%s': write HOST:PORT "
                "(an IPv6 address in brackets: [::1]:47100)\n", spec);
        return PVS_ECONFIG;
    }
    *colon = '\0';
    int err = pvs_addr_resolve(&r->server_ctl, host, (uint16_t)port);
    if (!err)
        err = pvs_addr_resolve(&r->server_media, host, (uint16_t)(port + 1));
    if (err)
        fprintf(stderr, "pvstream-bench link: --server '%s': %s\n", spec, pvs_strerror(err));
    return err;
}

static int open_sockets(struct relay *r, int listen, int media_port)
{
    const int ports[NSOCK] = { listen, listen + 1, 0, media_port };
    static const char *const names[NSOCK] = { "listen (control)", "listen (media)",
                                              "to the server (control)",
                                              "to the server (media)" };
    for (int i = 0; i < NSOCK; i++) {
        struct pvs_addr a;
        int err = pvs_addr_resolve(&a, NULL, (uint16_t)ports[i]);
        if (!err)
            err = pvs_udp_open(&r->sock[i], &a);
        if (err) {
            fprintf(stderr, "pvstream-bench link: cannot open the %s socket on port %d: %s\n",
                    names[i], ports[i], pvs_strerror(err));
            return err;
        }
        /* Bursts at line rate arrive faster than a busy relay may read. */
        (void)pvs_udp_set_buffers(r->sock[i], 4 << 20, 4 << 20, NULL, NULL);
    }
    return 0;
}

/* ---- forwarding ----------------------------------------------------------- */

/* Where a packet leaving by socket `out` goes, or NULL when that peer has
 * not been seen yet. */
static const struct pvs_addr *destination(struct relay *r, int out, struct pvs_addr *tmp)
{
    switch (out) {
    case SV_CTL: return &r->server_ctl;
    case SV_MEDIA: return &r->server_media;
    case CL_CTL: return r->client[CL_CTL].len ? &r->client[CL_CTL] : NULL;
    default:
        if (r->client[CL_MEDIA].len)
            return &r->client[CL_MEDIA];
        /* No media from the client yet: its announced port at its address. */
        if (r->client_media_port && r->client[CL_CTL].len &&
            with_port(&r->client[CL_CTL], r->client_media_port, tmp) == 0)
            return tmp;
        return NULL;
    }
}

/* Sends every packet of `d` that is due at now. */
static void flush(struct relay *r, struct dir *d, int64_t now)
{
    while (d->count && d->ring[d->head].due <= now) {
        struct held *h = &d->ring[d->head];
        struct pvs_addr tmp;
        const struct pvs_addr *to = destination(r, h->out, &tmp);
        if (!to)
            d->no_peer++;
        else if (pvs_udp_send(r->sock[h->out], h->data, h->len, to) < 0)
            d->send_errors++;
        else
            d->sent++;
        d->head = (d->head + 1) % d->cap;
        d->count--;
    }
}

/* A datagram that came in on socket `in`: through which link, out of which
 * socket. */
static void route(struct relay *r, int in, const uint8_t *data, size_t len,
                  const struct pvs_addr *from, int64_t now)
{
    static const int out_of[NSOCK] = { SV_CTL, SV_MEDIA, CL_CTL, CL_MEDIA };
    struct dir *d = in == CL_CTL || in == CL_MEDIA ? &r->up : &r->down;
    if (in == CL_CTL || in == CL_MEDIA) {
        if (!pvs_addr_equal(&r->client[in], from)) {
            char name[80];
            pvs_addr_format(from, name, sizeof(name));
            fprintf(stderr, "link: client %s on the %s port\n", name,
                    in == CL_CTL ? "control" : "media");
            r->client[in] = *from;
        }
    }
    /* Anything that reaches the server-side sockets is the server's: their
     * ports are ephemeral or given only to it. */
    int64_t arrive;
    if (len > MAX_DGRAM) {
        d->overflow++;
        return;
    }
    if (pvs_link_offer(d->link, len, now, &arrive) != PVS_LINK_PASS)
        return;
    if (!ring_push(d, arrive, out_of[in], data, len))
        d->overflow++;
}

static void receive(struct relay *r, int in, uint8_t *buf, size_t *lens, struct pvs_addr *from)
{
    int n = pvs_udp_recv_batch(r->sock[in], buf, MAX_DGRAM + 1, BATCH, lens, from, 0);
    int64_t now = pvs_time_us();
    for (int i = 0; i < n; i++)
        route(r, in, buf + (size_t)i * (MAX_DGRAM + 1), lens[i], &from[i], now);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void run(struct relay *r, int64_t end_us)
{
    static uint8_t buf[BATCH * (MAX_DGRAM + 1)];
    size_t lens[BATCH];
    struct pvs_addr from[BATCH];
    while (!atomic_load(&stop_requested)) {
        int64_t now = pvs_time_us();
        if (now >= end_us)
            break;
        flush(r, &r->down, now);
        flush(r, &r->up, now);
        pvs_link_advance(r->down.link, now);
        pvs_link_advance(r->up.link, now);
        int64_t next = min64(min64(ring_next_due(&r->down), ring_next_due(&r->up)),
                             min64(pvs_link_next_sample(r->down.link),
                                   pvs_link_next_sample(r->up.link)));
        /* Wake at least every 100 ms to notice a stop request. */
        next = min64(min64(next, end_us), now + 100000);
        bool ready[NSOCK];
        if (pvs_udp_poll(r->sock, NSOCK, next > now ? next - now : 0, ready) <= 0)
            continue;
        for (int i = 0; i < NSOCK; i++)
            if (ready[i])
                receive(r, i, buf, lens, from);
    }
}

/* ---- setting up and reporting --------------------------------------------- */

static int parse_dir(const struct dir_opts *o, const char *prefix, uint64_t seed,
                     struct pvs_link_config *c)
{
    struct {
        const char *v, *name;
        enum pvs_link_kind kind;
        struct pvs_link_sched *s;
    } scheds[] = {
        { o->rate, "rate", PVS_LINK_RATE, &c->rate },
        { o->delay, "delay", PVS_LINK_TIME, &c->delay },
        { o->jitter, "jitter", PVS_LINK_TIME, &c->jitter },
        { o->loss, "loss", PVS_LINK_PERCENT, &c->loss },
    };
    char what[48];
    for (size_t i = 0; i < sizeof(scheds) / sizeof(scheds[0]); i++) {
        snprintf(what, sizeof(what), "--%s%s", prefix, scheds[i].name);
        if (scheds[i].v[0] && pvs_link_sched_parse(scheds[i].v, scheds[i].kind, seed, what,
                                                   scheds[i].s))
            return PVS_ECONFIG;
    }
    snprintf(what, sizeof(what), "--%squeue", prefix);
    if (o->queue[0] && pvs_link_queue_parse(o->queue, what, &c->queue_bytes, &c->queue_us))
        return PVS_ECONFIG;
    char *end = NULL;
    c->burst = o->burst[0] ? strtod(o->burst, &end) : 0;
    if (o->burst[0] && (end == o->burst || *end)) {
        fprintf(stderr, "pvstream-bench link: --%sburst '%s': a number of packets >= 1\n",
                prefix, o->burst);
        return PVS_ECONFIG;
    }
    return 0;
}

static int open_dir(struct dir *d, const char *name, int64_t sample_us, int64_t start)
{
    d->name = name;
    d->cfg.sample_us = sample_us;
    d->cfg.on_sample = keep_sample;
    d->cfg.sample_ctx = d;
    return pvs_link_open(&d->link, &d->cfg, start);
}

static void print_dir(const struct dir *d, double seconds)
{
    struct pvs_link_stats st;
    pvs_link_get_stats(d->link, &st);
    printf("%-5s in %llu packets (%.2f Mbit/s), out %llu (%.2f Mbit/s); dropped: queue %llu, "
           "random %llu, burst %llu; relay: sent %llu, no peer %llu, overflow %llu, "
           "send errors %llu\n", d->name, (unsigned long long)st.in_packets,
           (double)st.in_bytes * 8 / seconds / 1e6, (unsigned long long)st.out_packets,
           (double)st.out_bytes * 8 / seconds / 1e6, (unsigned long long)st.drop_queue,
           (unsigned long long)st.drop_random, (unsigned long long)st.drop_burst,
           (unsigned long long)d->sent, (unsigned long long)d->no_peer,
           (unsigned long long)d->overflow, (unsigned long long)d->send_errors);
}

static void json_dir(struct pvs_json *j, const struct dir *d)
{
    struct pvs_link_stats st;
    pvs_link_get_stats(d->link, &st);
    pvs_json_begin(j, d->name);
    pvs_json_int(j, "in_packets", (int64_t)st.in_packets);
    pvs_json_int(j, "in_bytes", (int64_t)st.in_bytes);
    pvs_json_int(j, "out_packets", (int64_t)st.out_packets);
    pvs_json_int(j, "out_bytes", (int64_t)st.out_bytes);
    pvs_json_int(j, "drop_queue", (int64_t)st.drop_queue);
    pvs_json_int(j, "drop_random", (int64_t)st.drop_random);
    pvs_json_int(j, "drop_burst", (int64_t)st.drop_burst);
    pvs_json_int(j, "sent", (int64_t)d->sent);
    pvs_json_int(j, "no_peer", (int64_t)d->no_peer);
    pvs_json_int(j, "overflow", (int64_t)d->overflow);
    pvs_json_int(j, "send_errors", (int64_t)d->send_errors);
    pvs_json_array(j, "series");
    for (size_t i = 0; i < d->nseries; i++) {
        const struct pvs_link_sample *s = &d->series[i];
        pvs_json_begin(j, NULL);
        pvs_json_num(j, "t_ms", (double)s->t_us / 1000);
        pvs_json_num(j, "capacity_bps", s->capacity_bps);
        pvs_json_num(j, "sent_bps", s->offered_bps);
        pvs_json_num(j, "delivered_bps", s->delivered_bps);
        pvs_json_num(j, "queue_ms", (double)s->queue_delay_us / 1000);
        pvs_json_num(j, "queue_bytes", s->queue_bytes);
        pvs_json_int(j, "drops", (int64_t)s->drops);
        pvs_json_end(j);
    }
    pvs_json_array_end(j);
    pvs_json_end(j);
}

static int write_json(const char *path, const struct relay *r, double seconds, double cpu_pct)
{
    struct pvs_json j;
    if (pvs_json_open(&j, path) < 0)
        return PVS_EIO;
    pvs_json_begin(&j, NULL);
    pvs_json_num(&j, "seconds", seconds);
    pvs_json_num(&j, "cpu_pct", cpu_pct);
    json_dir(&j, &r->down);
    json_dir(&j, &r->up);
    pvs_json_end(&j);
    return pvs_json_close(&j);
}

static void close_relay(struct relay *r)
{
    for (int i = 0; i < NSOCK; i++)
        pvs_socket_close(&r->sock[i]);
    struct dir *dirs[] = { &r->down, &r->up };
    for (int i = 0; i < 2; i++) {
        pvs_link_close(&dirs[i]->link);
        free(dirs[i]->ring);
        free(dirs[i]->series);
    }
}

static int setup(struct relay *r, const struct settings *s)
{
    uint64_t seed = (uint64_t)s->seed;
    if (parse_dir(&s->down, "", seed, &r->down.cfg) ||
        parse_dir(&s->up, "up-", seed ^ 0x5bd1e995u, &r->up.cfg))
        return PVS_ECONFIG;
    r->down.cfg.seed = seed;
    r->up.cfg.seed = seed ^ 0x5bd1e995u;
    if (resolve_server(r, s->server))
        return PVS_ECONFIG;
    r->client_media_port = (uint16_t)(s->client_media_port ? s->client_media_port : s->media_port);
    int64_t start = pvs_time_us();
    int64_t sample_us = (int64_t)s->sample_ms * 1000;
    int err = open_dir(&r->down, "down", sample_us, start);
    if (!err)
        err = open_dir(&r->up, "up", sample_us, start);
    if (err)
        return err; /* the emulator said why */
    return open_sockets(r, s->listen, s->media_port);
}

int pvs_bench_link(int argc, char **argv)
{
    static struct settings s = { .listen = 47200, .server = "127.0.0.1:47100", .seed = 1,
                                 .sample_ms = 100 };
    int rc = pvs_bench_parse("link", "A UDP relay with an emulated link between a client "
                             "(connecting to L) and a server at HOST:P: rate, queue, delay, "
                             "jitter and loss per direction, on schedules (docs/network.md).",
                             options, &s, argc, argv);
    if (rc >= 0)
        return rc;
    static struct relay r; /* large (schedules and series): not on the stack */
    for (int i = 0; i < NSOCK; i++)
        r.sock[i] = PVS_INVALID_SOCKET;
    if (pvs_net_init() < 0)
        return 1;
    rc = 2;
    if (setup(&r, &s))
        goto out;
    pvs_on_stop_request(on_stop);
    fprintf(stderr, "link: listening on UDP %d (control) and %d (media), relaying to %s; "
            "%s\n", s.listen, s.listen + 1, s.server,
            s.seconds ? "stopping when the time is up" : "Ctrl+C stops");
    int64_t t0 = pvs_time_us(), cpu0 = pvs_cpu_time_ns();
    run(&r, s.seconds ? t0 + (int64_t)s.seconds * 1000000 : INT64_MAX);
    double seconds = (double)(pvs_time_us() - t0) / 1e6;
    double cpu_pct = (double)(pvs_cpu_time_ns() - cpu0) / 1e9 / seconds * 100;
    printf("pvstream-bench link: %.1f s, cpu %.1f %% of one core\n", seconds, cpu_pct);
    print_dir(&r.down, seconds);
    print_dir(&r.up, seconds);
    rc = 0;
    if (s.json[0] && write_json(s.json, &r, seconds, cpu_pct) < 0)
        rc = 1;
out:
    close_relay(&r);
    pvs_net_deinit();
    return rc;
}
