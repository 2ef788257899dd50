/* Tests for the platform layer (platform.h): clock, sleeps, threads, mutex and
 * condition variable, and UDP sockets over loopback. Timing checks assert
 * lower bounds only (a sleep or timeout never ends early), with upper bounds
 * generous enough for a loaded CI machine: this is not a stopwatch. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "tests/unit/test.h"

#define MS INT64_C(1000000)

/* Deterministic, so a failure can be replayed. */
static uint32_t rng_state = 0x12345678u;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* ---- time ---------------------------------------------------------------- */

static void test_time_monotonic(void)
{
    int64_t prev = pvs_time_ns();
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t now = pvs_time_ns();
        if (now < prev)
            backwards++;
        prev = now;
    }
    CHECK_INT(backwards, ==, 0);

    int64_t t0 = pvs_time_ns();
    pvs_sleep_ns(2 * MS);
    CHECK_INT(pvs_time_ns() - t0, >=, 2 * MS);
    CHECK_INT(pvs_time_us() - t0 / 1000, >=, 2000);

    /* Later than 2020-01-01, earlier than 2200: a sanity check of units. */
    CHECK_INT(pvs_wall_time_us(), >, INT64_C(1577836800) * 1000000);
    CHECK_INT(pvs_wall_time_us(), <, INT64_C(7258118400) * 1000000);
}

static void test_sleep_until(void)
{
    int early = 0;
    int64_t start = pvs_time_ns();
    for (int i = 0; i < 200; i++) {
        /* Up to 2 ms ahead, with some deadlines already past. */
        int64_t deadline = pvs_time_ns() + (int64_t)(rng() % 2200000) - 200000;
        pvs_sleep_until_ns(deadline);
        if (pvs_time_ns() < deadline)
            early++;
    }
    CHECK_INT(early, ==, 0);
    /* 200 sleeps of at most 2 ms: even a busy machine is well under 10 s. */
    CHECK_INT(pvs_time_ns() - start, <, 10000 * MS);

    /* A deadline far in the past returns at once. */
    int64_t t0 = pvs_time_ns();
    pvs_sleep_until_ns(t0 - 1000 * MS);
    pvs_sleep_until_ns(0);
    CHECK_INT(pvs_time_ns() - t0, <, 1000 * MS);
}

static void test_sleep_ns(void)
{
    int early = 0;
    for (int i = 0; i < 50; i++) {
        int64_t ns = (int64_t)(rng() % 1500000);
        int64_t t0 = pvs_time_ns();
        pvs_sleep_ns(ns);
        if (pvs_time_ns() - t0 < ns)
            early++;
    }
    CHECK_INT(early, ==, 0);

    int64_t t0 = pvs_time_ns();
    pvs_sleep_ns(0);
    pvs_sleep_ns(-5 * MS);
    CHECK_INT(pvs_time_ns() - t0, <, 1000 * MS);

    t0 = pvs_time_ns();
    pvs_sleep_ns(20 * MS);
    CHECK_INT(pvs_time_ns() - t0, >=, 20 * MS);
}

static void test_cpu_time(void)
{
    int64_t c0 = pvs_cpu_time_ns();
    CHECK_INT(c0, >=, 0);
    /* Spin until the process clock moves; it must, and only forwards. */
    volatile uint32_t sink = 0;
    int64_t t0 = pvs_time_ns(), c1 = c0;
    while (c1 == c0 && pvs_time_ns() - t0 < 5000 * MS) {
        for (int i = 0; i < 100000; i++)
            sink += (uint32_t)i;
        c1 = pvs_cpu_time_ns();
    }
    CHECK_INT(c1, >, c0);
    (void)sink;
}

static void test_library_available(void)
{
#ifdef _WIN32
    CHECK(pvs_library_available("kernel32.dll"));
    CHECK(!pvs_library_available("pvs-no-such-library.dll"));
#else
    CHECK(pvs_library_available("libc.so.6") || pvs_library_available("libc.so"));
    CHECK(!pvs_library_available("libpvs-no-such-library.so.1"));
#endif
    CHECK(!pvs_library_available(""));
    CHECK(!pvs_library_available(NULL));
}

/* ---- threads ------------------------------------------------------------- */

static atomic_int thread_runs;

static int thread_body(void *arg)
{
    atomic_fetch_add(&thread_runs, 1);
    return (int)(intptr_t)arg * 3 + 1;
}

static void test_threads(void)
{
    struct pvs_thread *t[8];
    atomic_store(&thread_runs, 0);
    for (int i = 0; i < 8; i++) {
        /* Longer than 15 characters on purpose: must be cut, not refused. */
        int err = pvs_thread_create(&t[i], thread_body, (void *)(intptr_t)i,
                                    "pvs-test-thread-with-a-long-name");
        CHECK_INT(err, ==, 0);
        if (err)
            t[i] = NULL;
    }
    for (int i = 0; i < 8; i++) {
        if (!t[i])
            continue;
        int ret = -1;
        pvs_thread_join(&t[i], &ret);
        CHECK_INT(ret, ==, i * 3 + 1);
        CHECK(t[i] == NULL);
    }
    CHECK_INT(atomic_load(&thread_runs), ==, 8);

    /* Joining NULL, or with no place for the result, is allowed. */
    struct pvs_thread *none = NULL;
    pvs_thread_join(&none, NULL);
    pvs_thread_join(NULL, NULL);
    struct pvs_thread *one = NULL;
    CHECK_INT(pvs_thread_create(&one, thread_body, NULL, NULL), ==, 0);
    pvs_thread_join(&one, NULL);
    CHECK(one == NULL);
    CHECK_INT(pvs_thread_create(NULL, thread_body, NULL, "x"), ==, PVS_EINVAL);
}

/* A bounded queue between one producer and one consumer: every item must
 * arrive once and in order. The queue is small so both sides block often. */
#define QUEUE_SLOTS 8
#define ITEMS 10000

struct queue {
    pvs_mutex lock;
    pvs_cond not_empty;
    pvs_cond not_full;
    int items[QUEUE_SLOTS];
    int head, count;
};

static int producer(void *arg)
{
    struct queue *q = arg;
    for (int i = 0; i < ITEMS; i++) {
        pvs_mutex_lock(&q->lock);
        while (q->count == QUEUE_SLOTS)
            pvs_cond_wait_until(&q->not_full, &q->lock, -1);
        q->items[(q->head + q->count) % QUEUE_SLOTS] = i;
        q->count++;
        pvs_cond_signal(&q->not_empty);
        pvs_mutex_unlock(&q->lock);
    }
    return 0;
}

static void test_mutex_cond_handoff(void)
{
    struct queue q;
    memset(&q, 0, sizeof(q));
    CHECK_INT(pvs_mutex_init(&q.lock), ==, 0);
    CHECK_INT(pvs_cond_init(&q.not_empty), ==, 0);
    CHECK_INT(pvs_cond_init(&q.not_full), ==, 0);

    struct pvs_thread *t = NULL;
    CHECK_INT(pvs_thread_create(&t, producer, &q, "producer"), ==, 0);
    if (!t)
        return;

    int out_of_order = 0, received = 0;
    int64_t sum = 0;
    for (int i = 0; i < ITEMS; i++) {
        pvs_mutex_lock(&q.lock);
        /* A deadline rather than forever, so a lost wake-up fails the test
         * instead of hanging it; the loop tolerates spurious wake-ups. */
        int64_t deadline = pvs_time_ns() + 10000 * MS;
        int err = 0;
        while (q.count == 0 && err == 0)
            err = pvs_cond_wait_until(&q.not_empty, &q.lock, deadline);
        if (q.count == 0) {
            pvs_mutex_unlock(&q.lock);
            break;
        }
        int v = q.items[q.head];
        q.head = (q.head + 1) % QUEUE_SLOTS;
        q.count--;
        pvs_cond_signal(&q.not_full);
        pvs_mutex_unlock(&q.lock);

        if (v != i)
            out_of_order++;
        sum += v;
        received++;
    }
    int ret = -1;
    pvs_thread_join(&t, &ret);
    CHECK_INT(ret, ==, 0);
    CHECK_INT(received, ==, ITEMS);
    CHECK_INT(out_of_order, ==, 0);
    CHECK_INT(sum, ==, (int64_t)ITEMS * (ITEMS - 1) / 2);

    pvs_cond_destroy(&q.not_full);
    pvs_cond_destroy(&q.not_empty);
    pvs_mutex_destroy(&q.lock);
}

static void test_cond_timeout(void)
{
    pvs_mutex m;
    pvs_cond c;
    CHECK_INT(pvs_mutex_init(&m), ==, 0);
    CHECK_INT(pvs_cond_init(&c), ==, 0);

    int early = 0, not_timed_out = 0;
    pvs_mutex_lock(&m);
    for (int i = 0; i < 20; i++) {
        int64_t deadline = pvs_time_ns() + (int64_t)(rng() % 5000000) + 1;
        int err;
        /* Nobody signals, so only spurious wake-ups may return 0. */
        int spins = 0;
        while ((err = pvs_cond_wait_until(&c, &m, deadline)) == 0 && spins < 1000)
            spins++;
        if (err != PVS_ETIMEDOUT)
            not_timed_out++;
        if (pvs_time_ns() < deadline)
            early++;
    }

    /* A deadline already past times out at once. */
    int64_t t0 = pvs_time_ns();
    CHECK_INT(pvs_cond_wait_until(&c, &m, t0 - 1000 * MS), ==, PVS_ETIMEDOUT);
    CHECK_INT(pvs_cond_wait_until(&c, &m, 0), ==, PVS_ETIMEDOUT);
    CHECK_INT(pvs_time_ns() - t0, <, 1000 * MS);
    pvs_mutex_unlock(&m);

    CHECK_INT(not_timed_out, ==, 0);
    CHECK_INT(early, ==, 0);
    pvs_cond_destroy(&c);
    pvs_mutex_destroy(&m);
}

/* ---- sockets ------------------------------------------------------------- */

/* Fills a datagram with its sequence number and a pattern derived from it,
 * so a corrupted, cut or mixed-up datagram is caught. */
static void fill_datagram(uint8_t *buf, size_t len, uint32_t seq)
{
    memcpy(buf, &seq, 4);
    for (size_t i = 4; i < len; i++)
        buf[i] = (uint8_t)(seq * 31u + i * 7u);
}

static bool datagram_ok(const uint8_t *buf, size_t len, uint32_t *seq)
{
    if (len < 4)
        return false;
    memcpy(seq, buf, 4);
    for (size_t i = 4; i < len; i++)
        if (buf[i] != (uint8_t)(*seq * 31u + i * 7u))
            return false;
    return true;
}

static size_t datagram_size(uint32_t seq)
{
    /* 4 to 1472 bytes (the most a 1500-byte Ethernet frame carries) plus a
     * few large ones, since loopback takes them whole. */
    if (seq % 97 == 0)
        return 8000 + seq % 1000;
    return 4 + (seq * 389u) % 1469;
}

static int open_on(pvs_socket *s, const char *host, struct pvs_addr *bound)
{
    struct pvs_addr a;
    int err = pvs_addr_resolve(&a, host, 0);
    if (err)
        return err;
    err = pvs_udp_open(s, &a);
    if (err)
        return err;
    err = pvs_udp_local_addr(*s, bound);
    if (err)
        pvs_socket_close(s);
    return err;
}

#define DATAGRAMS 1000

/* Sends DATAGRAMS from a to b and checks each arrives once, intact, from a.
 * Sends in windows no larger than the receive buffer granted, so the test
 * holds where the buffer could not be raised to the 4 MiB asked for. */
static void exchange(pvs_socket a, const struct pvs_addr *a_addr, pvs_socket b,
                     const struct pvs_addr *b_addr, int rcvbuf)
{
    static uint8_t seen[DATAGRAMS];
    static uint8_t tx[10000], rx[10000];
    memset(seen, 0, sizeof(seen));

    /* Each datagram costs its size plus about 1 KiB of kernel bookkeeping;
     * 12 KiB covers the largest we send. */
    int window = rcvbuf / (12 * 1024);
    if (window < 4)
        window = 4;

    int sent = 0, send_errors = 0, bad = 0, dup = 0, wrong_from = 0, got = 0;
    while (sent < DATAGRAMS && send_errors == 0 && bad == 0) {
        int burst = 0;
        for (; burst < window && sent < DATAGRAMS; burst++, sent++) {
            size_t len = datagram_size((uint32_t)sent);
            fill_datagram(tx, len, (uint32_t)sent);
            int n;
            /* A full send buffer is not loss: wait and retry. */
            int64_t give_up = pvs_time_ns() + 5000 * MS;
            while ((n = pvs_udp_send(a, tx, len, b_addr)) == PVS_EAGAIN &&
                   pvs_time_ns() < give_up)
                pvs_sleep_ns(MS / 10);
            if (n != (int)len) {
                fprintf(stderr, "send %d of %zu bytes returned %d (%s)\n", sent, len,
                        n, pvs_strerror(n));
                send_errors++;
                break;
            }
        }
        for (int i = 0; i < burst; i++) {
            struct pvs_addr from;
            int n = pvs_udp_recv(b, rx, sizeof(rx), &from, 5000);
            if (n < 0) {
                fprintf(stderr, "receive after %d datagrams: %s\n", got, pvs_strerror(n));
                bad++;
                break;
            }
            uint32_t seq;
            if (!datagram_ok(rx, (size_t)n, &seq) || seq >= DATAGRAMS ||
                (size_t)n != datagram_size(seq)) {
                bad++;
                continue;
            }
            if (seen[seq]++)
                dup++;
            if (!pvs_addr_equal(&from, a_addr))
                wrong_from++;
            got++;
        }
    }
    CHECK_INT(send_errors, ==, 0);
    CHECK_INT(bad, ==, 0);
    CHECK_INT(dup, ==, 0);
    CHECK_INT(wrong_from, ==, 0);
    CHECK_INT(got, ==, DATAGRAMS);
}

static void test_udp_ipv4(void)
{
    pvs_socket a = PVS_INVALID_SOCKET, b = PVS_INVALID_SOCKET;
    struct pvs_addr a_addr, b_addr;
    CHECK_INT(open_on(&a, "127.0.0.1", &a_addr), ==, 0);
    CHECK_INT(open_on(&b, "127.0.0.1", &b_addr), ==, 0);
    if (a == PVS_INVALID_SOCKET || b == PVS_INVALID_SOCKET)
        goto out;
    CHECK_INT(pvs_addr_port(&a_addr), !=, 0);
    CHECK_INT(pvs_addr_port(&b_addr), !=, 0);
    CHECK(!pvs_addr_equal(&a_addr, &b_addr));

    char want[64], got[64];
    snprintf(want, sizeof(want), "127.0.0.1:%u", (unsigned)pvs_addr_port(&b_addr));
    pvs_addr_format(&b_addr, got, sizeof(got));
    CHECK(strcmp(got, want) == 0);

    int snd = 0, rcv = 0;
    const int four_mib = 4 * 1024 * 1024;
    CHECK_INT(pvs_udp_set_buffers(a, four_mib, four_mib, &snd, &rcv), ==, 0);
    CHECK_INT(pvs_udp_set_buffers(b, four_mib, four_mib, NULL, &rcv), ==, 0);
    /* Whatever was granted (Linux reports double), it is some buffer. */
    CHECK_INT(snd, >, 0);
    CHECK_INT(rcv, >, 0);
    /* 0 leaves a size as it is and still reports it. */
    int rcv2 = 0;
    CHECK_INT(pvs_udp_set_buffers(b, 0, 0, NULL, &rcv2), ==, 0);
    CHECK_INT(rcv2, ==, rcv);

    exchange(a, &a_addr, b, &b_addr, rcv);

    /* Nothing more is queued: timeouts. Never early, not absurdly late. */
    uint8_t buf[64];
    int64_t t0 = pvs_time_ns();
    CHECK_INT(pvs_udp_recv(b, buf, sizeof(buf), NULL, 0), ==, PVS_ETIMEDOUT);
    CHECK_INT(pvs_udp_recv(b, buf, sizeof(buf), NULL, 50), ==, PVS_ETIMEDOUT);
    int64_t waited = pvs_time_ns() - t0;
    CHECK_INT(waited, >=, 50 * MS);
    CHECK_INT(waited, <, 5000 * MS);

    /* An empty datagram is a datagram (0), not a timeout. */
    struct pvs_addr from;
    CHECK_INT(pvs_udp_send(a, buf, 0, &b_addr), ==, 0);
    CHECK_INT(pvs_udp_recv(b, buf, sizeof(buf), &from, 1000), ==, 0);
    CHECK(pvs_addr_equal(&from, &a_addr));

    /* A datagram longer than the buffer is cut, and the next one is whole. */
    uint8_t big[100];
    fill_datagram(big, sizeof(big), 7);
    CHECK_INT(pvs_udp_send(a, big, sizeof(big), &b_addr), ==, (int)sizeof(big));
    CHECK_INT(pvs_udp_send(a, big, 20, &b_addr), ==, 20);
    memset(buf, 0, sizeof(buf));
    CHECK_INT(pvs_udp_recv(b, buf, 10, NULL, 1000), ==, 10);
    CHECK(memcmp(buf, big, 10) == 0);
    CHECK_INT(pvs_udp_recv(b, buf, sizeof(buf), NULL, 1000), ==, 20);
    CHECK(memcmp(buf, big, 20) == 0);

    /* Bad arguments are refused, not crashed on. */
    struct pvs_addr empty;
    memset(&empty, 0, sizeof(empty));
    CHECK_INT(pvs_udp_send(a, buf, 1, &empty), <, 0);
    CHECK_INT(pvs_udp_send(a, buf, 1, NULL), <, 0);
    pvs_socket bad = PVS_INVALID_SOCKET;
    CHECK_INT(pvs_udp_open(&bad, &empty), <, 0);
    CHECK(bad == PVS_INVALID_SOCKET);

out:
    pvs_socket_close(&a);
    pvs_socket_close(&b);
    CHECK(a == PVS_INVALID_SOCKET);
    pvs_socket_close(&a); /* closing twice is allowed */
}

/* A socket bound to the wildcard is reachable over IPv4 loopback (it is
 * dual-stack where IPv6 exists), and replies reach the sender. */
static void test_udp_wildcard(void)
{
    pvs_socket server = PVS_INVALID_SOCKET, client = PVS_INVALID_SOCKET;
    struct pvs_addr any, server_addr, client_addr, to, from;
    CHECK_INT(pvs_addr_resolve(&any, NULL, 0), ==, 0);
    CHECK_INT(pvs_addr_resolve(&any, "", 0), ==, 0);
    CHECK_INT(pvs_udp_open(&server, &any), ==, 0);
    CHECK_INT(pvs_udp_local_addr(server, &server_addr), ==, 0);
    CHECK_INT(open_on(&client, "127.0.0.1", &client_addr), ==, 0);
    if (server == PVS_INVALID_SOCKET || client == PVS_INVALID_SOCKET)
        goto out;

    CHECK_INT(pvs_addr_resolve(&to, "127.0.0.1", pvs_addr_port(&server_addr)), ==, 0);
    CHECK_INT(pvs_udp_send(client, "ping", 4, &to), ==, 4);
    char buf[16];
    CHECK_INT(pvs_udp_recv(server, buf, sizeof(buf), &from, 2000), ==, 4);
    /* Seen as ::ffff:127.0.0.1 on a dual-stack socket, still the same peer. */
    CHECK(pvs_addr_equal(&from, &client_addr));
    CHECK_INT(pvs_udp_send(server, "pong", 4, &from), ==, 4);
    CHECK_INT(pvs_udp_recv(client, buf, sizeof(buf), NULL, 2000), ==, 4);
    CHECK(memcmp(buf, "pong", 4) == 0);

out:
    pvs_socket_close(&server);
    pvs_socket_close(&client);
}

static void test_udp_ipv6(void)
{
    pvs_socket a = PVS_INVALID_SOCKET, b = PVS_INVALID_SOCKET;
    struct pvs_addr a_addr, b_addr, probe;
    if (pvs_addr_resolve(&probe, "::1", 0) != 0 || pvs_udp_open(&a, &probe) != 0) {
        fprintf(stderr, "  (IPv6 loopback not available here: IPv6 part skipped)\n");
        return;
    }
    CHECK_INT(pvs_udp_local_addr(a, &a_addr), ==, 0);
    CHECK_INT(open_on(&b, "[::1]", &b_addr), ==, 0);
    if (b == PVS_INVALID_SOCKET)
        goto out;

    char want[64], got[64];
    snprintf(want, sizeof(want), "[::1]:%u", (unsigned)pvs_addr_port(&b_addr));
    pvs_addr_format(&b_addr, got, sizeof(got));
    CHECK(strcmp(got, want) == 0);

    /* With and without brackets name the same address. */
    struct pvs_addr x, y;
    CHECK_INT(pvs_addr_resolve(&x, "::1", 4242), ==, 0);
    CHECK_INT(pvs_addr_resolve(&y, "[::1]", 4242), ==, 0);
    CHECK(pvs_addr_equal(&x, &y));

    int rcv = 0;
    CHECK_INT(pvs_udp_set_buffers(b, 4 << 20, 4 << 20, NULL, &rcv), ==, 0);
    exchange(a, &a_addr, b, &b_addr, rcv);

out:
    pvs_socket_close(&a);
    pvs_socket_close(&b);
}

static void test_addr(void)
{
    struct pvs_addr a, b;
    char buf[64];

    CHECK_INT(pvs_addr_resolve(&a, "127.0.0.1", 47101), ==, 0);
    pvs_addr_format(&a, buf, sizeof(buf));
    CHECK(strcmp(buf, "127.0.0.1:47101") == 0);
    CHECK_INT(pvs_addr_port(&a), ==, 47101);

    CHECK_INT(pvs_addr_resolve(&b, "127.0.0.1", 47101), ==, 0);
    CHECK(pvs_addr_equal(&a, &b));
    CHECK_INT(pvs_addr_resolve(&b, "127.0.0.1", 47102), ==, 0);
    CHECK(!pvs_addr_equal(&a, &b));
    CHECK_INT(pvs_addr_resolve(&b, "127.0.0.2", 47101), ==, 0);
    CHECK(!pvs_addr_equal(&a, &b));

    /* Numeric IPv6 resolves even where the system has no IPv6 interface. */
    CHECK_INT(pvs_addr_resolve(&a, "[2001:db8::1]", 9), ==, 0);
    pvs_addr_format(&a, buf, sizeof(buf));
    CHECK(strcmp(buf, "[2001:db8::1]:9") == 0);

    /* Whatever "localhost" maps to here, it is loopback. */
    CHECK_INT(pvs_addr_resolve(&a, "localhost", 5000), ==, 0);
    pvs_addr_format(&a, buf, sizeof(buf));
    CHECK(strcmp(buf, "127.0.0.1:5000") == 0 || strcmp(buf, "[::1]:5000") == 0);

    /* Malformed input is refused without asking DNS. (A well-formed name
     * that does not exist is not tested: in a sandbox without a resolver
     * the lookup can take as long as the resolver's timeouts.) */
    static const char *const bad[] = {
        "999.1.1.1", "1.2.3.4.5", "[::1", "::1]", "[]", "[127.0.0.1]", "::g",
        "1:2:3:4:5:6:7:8:9", "not a host", "host@name", "1.2.3.4:80",
        "[::1]:80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int err = pvs_addr_resolve(&a, bad[i], 80);
        if (err >= 0)
            fprintf(stderr, "  '%s' resolved\n", bad[i]);
        CHECK_INT(err, <, 0);
        CHECK_INT(a.len, ==, 0);
    }
    CHECK_INT(pvs_addr_resolve(NULL, "127.0.0.1", 80), ==, PVS_EINVAL);

    /* Formatting an empty address, or into a tiny buffer, is safe. */
    memset(&a, 0, sizeof(a));
    pvs_addr_format(&a, buf, sizeof(buf));
    CHECK(buf[0] != '\0');
    CHECK_INT(pvs_addr_port(&a), ==, 0);
    CHECK_INT(pvs_addr_resolve(&a, "127.0.0.1", 47101), ==, 0);
    pvs_addr_format(&a, buf, 5);
    CHECK_INT(strlen(buf), ==, 4);
}

int main(void)
{
    if (pvs_net_init() != 0) {
        printf("cannot initialise networking\n");
        return 1;
    }
    RUN(test_time_monotonic);
    RUN(test_sleep_until);
    RUN(test_sleep_ns);
    RUN(test_cpu_time);
    RUN(test_library_available);
    RUN(test_threads);
    RUN(test_mutex_cond_handoff);
    RUN(test_cond_timeout);
    RUN(test_addr);
    RUN(test_udp_ipv4);
    RUN(test_udp_wildcard);
    RUN(test_udp_ipv6);
    pvs_net_deinit();
    TEST_EXIT();
}
