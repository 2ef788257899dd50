/* Tests for the batched UDP path (platform.h, "batched UDP") over loopback:
 * exact bytes, lengths and senders through pvs_udp_send_batch and
 * pvs_udp_recv_batch, with UDP GSO as the kernel offers it and with it
 * forced off (PVS_UDP_NO_GSO=1), gaps between datagrams, cut datagrams,
 * timeouts, DSCP marking, and a 300-datagram burst into an 8 MiB receive
 * buffer. Loopback does not lose datagrams unless a socket buffer overflows,
 * so "zero loss" is a fair assertion there. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include "common/error.h"
#include "common/platform/platform.h"
#include "tests/unit/test.h"

#define MS INT64_C(1000000)
#define MAX_DGRAMS 300
#define SLOT 1500

static uint8_t tx[MAX_DGRAMS * SLOT];
static uint8_t rx[MAX_DGRAMS * SLOT + 64];
static size_t lens[MAX_DGRAMS];
static struct pvs_addr froms[MAX_DGRAMS];

static void set_no_gso(bool on)
{
#ifdef _WIN32
    _putenv_s("PVS_UDP_NO_GSO", on ? "1" : "");
#else
    if (on)
        setenv("PVS_UDP_NO_GSO", "1", 1);
    else
        unsetenv("PVS_UDP_NO_GSO");
#endif
}

/* Byte j of datagram i: distinct across datagrams and positions, so a
 * datagram delivered twice, out of order, shifted or cut shows. */
static uint8_t pattern(int i, size_t j)
{
    return (uint8_t)(i * 131 + (int)(j * 7) + (int)(j >> 8) + 1);
}

static void fill(size_t stride, size_t len, int count, int first)
{
    for (int i = 0; i < count; i++) {
        uint8_t *p = tx + (size_t)i * stride;
        for (size_t j = 0; j < len; j++)
            p[j] = pattern(first + i, j);
        /* The gap is not part of any datagram and must not be sent. */
        memset(p + len, 0xEE, stride - len);
    }
}

static bool open_pair(const char *host, pvs_socket *a, struct pvs_addr *a_addr,
                      pvs_socket *b, struct pvs_addr *b_addr)
{
    struct pvs_addr local;
    *a = *b = PVS_INVALID_SOCKET;
    if (pvs_addr_resolve(&local, host, 0) != 0 || pvs_udp_open(a, &local) != 0)
        return false;
    if (pvs_udp_open(b, &local) != 0) {
        pvs_socket_close(a);
        return false;
    }
    CHECK_INT(pvs_udp_local_addr(*a, a_addr), ==, 0);
    CHECK_INT(pvs_udp_local_addr(*b, b_addr), ==, 0);
    return true;
}

/* Sends the whole batch, waiting out a full send buffer. Returns the number
 * sent. */
static int send_all(pvs_socket s, const uint8_t *buf, size_t stride, size_t len, int count,
                    const struct pvs_addr *to)
{
    int sent = 0;
    int64_t deadline = pvs_time_ns() + 5000 * MS;
    while (sent < count && pvs_time_ns() < deadline) {
        int r = pvs_udp_send_batch(s, buf + (size_t)sent * stride, stride, len, count - sent, to);
        if (r == PVS_EAGAIN) {
            pvs_sleep_ns(1 * MS);
            continue;
        }
        CHECK_INT(r, >, 0);
        if (r <= 0)
            break;
        CHECK_INT(r, <=, count - sent);
        sent += r;
    }
    return sent;
}

/* Receives until `want` datagrams have come or none comes for wait_ms. */
static int recv_all(pvs_socket s, size_t stride, int want, int wait_ms)
{
    int got = 0;
    while (got < want) {
        int r = pvs_udp_recv_batch(s, rx + (size_t)got * stride, stride, want - got,
                                   lens + got, froms + got, wait_ms);
        if (r == PVS_ETIMEDOUT)
            break;
        CHECK_INT(r, >=, 1);
        if (r < 1)
            break;
        CHECK_INT(r, <=, want - got);
        got += r;
    }
    return got;
}

/* Checks datagrams 0..count-1 of the receive buffer against what was sent. */
static void check_received(size_t stride, size_t len, int count, int first,
                           const struct pvs_addr *sender)
{
    int bad_len = 0, bad_bytes = 0, bad_from = 0;
    for (int i = 0; i < count; i++) {
        if (lens[i] != len)
            bad_len++;
        const uint8_t *p = rx + (size_t)i * stride;
        for (size_t j = 0; j < len && j < stride; j++) {
            if (p[j] != pattern(first + i, j)) {
                bad_bytes++;
                break;
            }
        }
        if (!pvs_addr_equal(&froms[i], sender))
            bad_from++;
    }
    CHECK_INT(bad_len, ==, 0);
    CHECK_INT(bad_bytes, ==, 0);
    CHECK_INT(bad_from, ==, 0);
}

/* Round trips through one pair of sockets: contiguous datagrams, datagrams
 * with gaps, a shorter last datagram, single datagrams. */
static void round_trips(const char *host, bool no_gso)
{
    set_no_gso(no_gso);
    pvs_socket a, b;
    struct pvs_addr a_addr, b_addr;
    bool ok = open_pair(host, &a, &a_addr, &b, &b_addr);
    set_no_gso(false);
    if (!ok) {
        fprintf(stderr, "  %s not available here: skipped\n", host);
        return;
    }
    CHECK_INT(pvs_udp_set_buffers(a, 8 << 20, 8 << 20, NULL, NULL), ==, 0);
    CHECK_INT(pvs_udp_set_buffers(b, 8 << 20, 8 << 20, NULL, NULL), ==, 0);
    bool gso_before = pvs_udp_gso_active(a);
    if (no_gso)
        CHECK(!gso_before);

    /* 100 x 1200 bytes, stride == len: 54 + 46 datagrams with GSO (65,507
     * bytes per call at most). */
    fill(1200, 1200, 100, 0);
    CHECK_INT(send_all(a, tx, 1200, 1200, 100, &b_addr), ==, 100);
    CHECK_INT(recv_all(b, SLOT, 100, 2000), ==, 100);
    check_received(SLOT, 1200, 100, 0, &a_addr);

    /* Gaps: slots of 1500 bytes holding 1000-byte datagrams. */
    fill(SLOT, 1000, 70, 1000);
    CHECK_INT(send_all(a, tx, SLOT, 1000, 70, &b_addr), ==, 70);
    CHECK_INT(recv_all(b, SLOT, 70, 2000), ==, 70);
    check_received(SLOT, 1000, 70, 1000, &a_addr);

    /* A frame whose last datagram is shorter: all but the last in one batch,
     * the last on its own (a batch holds datagrams of one length). */
    fill(SLOT, 1400, 10, 2000);
    CHECK_INT(send_all(a, tx, SLOT, 1400, 9, &b_addr), ==, 9);
    CHECK_INT(send_all(a, tx + 9 * SLOT, SLOT, 333, 1, &b_addr), ==, 1);
    CHECK_INT(recv_all(b, SLOT, 10, 2000), ==, 10);
    check_received(SLOT, 1400, 9, 2000, &a_addr);
    CHECK_INT(lens[9], ==, 333);
    CHECK(memcmp(rx + 9 * SLOT, tx + 9 * SLOT, 333) == 0);

    /* Tiny datagrams, many of them: 64 segments per GSO call. */
    fill(16, 16, 200, 3000);
    CHECK_INT(send_all(a, tx, 16, 16, 200, &b_addr), ==, 200);
    CHECK_INT(recv_all(b, 16, 200, 2000), ==, 200);
    check_received(16, 16, 200, 3000, &a_addr);

    /* Nothing is left over, and nothing arrives twice. */
    CHECK_INT(pvs_udp_recv_batch(b, rx, SLOT, 4, lens, NULL, 20), ==, PVS_ETIMEDOUT);

    /* Loopback takes GSO, so a socket that started with it keeps it. */
    CHECK(pvs_udp_gso_active(a) == gso_before);
    fprintf(stderr, "  %s, %s: GSO %s\n", host, no_gso ? "PVS_UDP_NO_GSO=1" : "default",
            gso_before ? "active" : "not active");

    pvs_socket_close(&a);
    pvs_socket_close(&b);
    CHECK(a == PVS_INVALID_SOCKET);
}

static void test_round_trip_ipv4(void)
{
    round_trips("127.0.0.1", false);
    round_trips("127.0.0.1", true);
}

static void test_round_trip_ipv6(void)
{
    round_trips("::1", false);
    round_trips("::1", true);
}

static void test_bad_arguments(void)
{
    pvs_socket a, b;
    struct pvs_addr a_addr, b_addr, empty;
    memset(&empty, 0, sizeof(empty));
    if (!open_pair("127.0.0.1", &a, &a_addr, &b, &b_addr)) {
        CHECK(false);
        return;
    }
    CHECK_INT(pvs_udp_send_batch(a, tx, 100, 100, 0, &b_addr), ==, 0);
    CHECK_INT(pvs_udp_send_batch(a, tx, 100, 100, -1, &b_addr), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_send_batch(a, tx, 100, 0, 1, &b_addr), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_send_batch(a, tx, 99, 100, 1, &b_addr), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_send_batch(a, tx, 70000, 65508, 1, &b_addr), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_send_batch(a, NULL, 100, 100, 1, &b_addr), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_send_batch(a, tx, 100, 100, 1, &empty), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_send_batch(a, tx, 100, 100, 1, NULL), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_recv_batch(b, rx, 0, 1, lens, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_recv_batch(b, rx, 100, 0, lens, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_recv_batch(b, rx, 100, 1, NULL, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_recv_batch(b, NULL, 100, 1, lens, NULL, 0), ==, PVS_EINVAL);
    pvs_socket_close(&a);
    pvs_socket_close(&b);
}

static void test_recv_timeout(void)
{
    pvs_socket a, b;
    struct pvs_addr a_addr, b_addr;
    if (!open_pair("127.0.0.1", &a, &a_addr, &b, &b_addr)) {
        CHECK(false);
        return;
    }
    CHECK_INT(pvs_udp_recv_batch(b, rx, SLOT, 8, lens, froms, 0), ==, PVS_ETIMEDOUT);
    int64_t t0 = pvs_time_ns();
    CHECK_INT(pvs_udp_recv_batch(b, rx, SLOT, 8, lens, froms, 50), ==, PVS_ETIMEDOUT);
    int64_t waited = pvs_time_ns() - t0;
    CHECK_INT(waited, >=, 50 * MS);
    CHECK_INT(waited, <, 5000 * MS);

    /* A datagram that is queued is taken at once, even with a timeout of 0,
     * and one call takes all that is queued up to count. */
    fill(100, 100, 5, 0);
    CHECK_INT(send_all(a, tx, 100, 100, 5, &b_addr), ==, 5);
    pvs_sleep_ns(20 * MS); /* loopback delivers within the send; this is margin */
    CHECK_INT(pvs_udp_recv_batch(b, rx, SLOT, 3, lens, froms, 0), ==, 3);
    CHECK_INT(pvs_udp_recv_batch(b, rx + 3 * SLOT, SLOT, 8, lens + 3, froms + 3, 0), ==, 2);
    check_received(SLOT, 100, 5, 0, &a_addr);
    pvs_socket_close(&a);
    pvs_socket_close(&b);
}

/* Arrival stamps: datagrams read 30 ms after they came carry the time they
 * came (Linux), or the time they were read where the system has no stamps
 * (Windows); either way never later than the read, and in order. */
static void test_arrival_stamps(void)
{
    pvs_socket a, b;
    struct pvs_addr a_addr, b_addr;
    if (!open_pair("127.0.0.1", &a, &a_addr, &b, &b_addr)) {
        CHECK(false);
        return;
    }
    int stamps = pvs_udp_enable_arrival_stamps(b);
    CHECK(stamps == 0 || stamps == PVS_ENOTSUP);
    /* Linux turns stamping on for the whole stack a moment after the
     * first socket asks (deferred work); until then it stamps at the
     * read. A session's socket asks once, at its start. */
    pvs_sleep_ns(50 * MS);
    fill(100, 100, 3, 0);
    int64_t sent = pvs_time_us();
    CHECK_INT(send_all(a, tx, 100, 100, 3, &b_addr), ==, 3);
    pvs_sleep_ns(30 * MS);
    int64_t at[3] = { 0 };
    int64_t before = pvs_time_us();
    CHECK_INT(pvs_udp_recv_batch_at(b, rx, SLOT, 3, lens, froms, at, 0), ==, 3);
    int64_t after = pvs_time_us();
    check_received(SLOT, 100, 3, 0, &a_addr);
    for (int i = 0; i < 3; i++) {
        CHECK(at[i] <= after);
        CHECK(i == 0 || at[i] >= at[i - 1]);
        if (stamps == 0) /* queued before the 30 ms sleep */
            CHECK(at[i] >= sent && at[i] < before - 20000);
        else
            CHECK(at[i] >= before);
    }
    fprintf(stderr, "  arrival stamps %s: read %lld us after the first arrived\n",
            stamps == 0 ? "from the kernel" : "not available (the time read)",
            (long long)(after - at[0]));
    pvs_socket_close(&a);
    pvs_socket_close(&b);
}

/* Datagrams longer than stride are cut to stride and the next slot is left
 * alone. */
static void test_cut(void)
{
    pvs_socket a, b;
    struct pvs_addr a_addr, b_addr;
    if (!open_pair("127.0.0.1", &a, &a_addr, &b, &b_addr)) {
        CHECK(false);
        return;
    }
    fill(2000, 2000, 3, 500);
    CHECK_INT(send_all(a, tx, 2000, 2000, 3, &b_addr), ==, 3);
    memset(rx, 0x5A, sizeof(rx));
    CHECK_INT(recv_all(b, 1000, 3, 2000), ==, 3);
    check_received(1000, 1000, 3, 500, &a_addr);
    CHECK_INT(rx[3 * 1000], ==, 0x5A);
    /* Nothing of the cut tails is left in the queue. */
    CHECK_INT(pvs_udp_recv_batch(b, rx, SLOT, 4, lens, NULL, 20), ==, PVS_ETIMEDOUT);
    pvs_socket_close(&a);
    pvs_socket_close(&b);
}

#ifndef _WIN32 /* Windows sets DSCP only through its QoS policies */
static int read_tos(pvs_socket s, int level, int opt)
{
    int v = -1;
    socklen_t len = sizeof(v);
    if (getsockopt(s, level, opt, (char *)&v, &len) != 0)
        return -1;
    return v;
}
#endif

static void test_dscp(void)
{
    struct pvs_addr local;
    pvs_socket s;
    CHECK_INT(pvs_addr_resolve(&local, "127.0.0.1", 0), ==, 0);
    CHECK_INT(pvs_udp_open(&s, &local), ==, 0);
    CHECK_INT(pvs_udp_set_dscp(s, -1), ==, PVS_EINVAL);
    CHECK_INT(pvs_udp_set_dscp(s, 64), ==, PVS_EINVAL);
#ifdef _WIN32
    CHECK_INT(pvs_udp_set_dscp(s, 46), ==, PVS_ENOTSUP);
#else
    CHECK_INT(pvs_udp_set_dscp(s, 46), ==, 0);
    CHECK_INT(read_tos(s, IPPROTO_IP, IP_TOS), ==, 46 << 2);
    CHECK_INT(pvs_udp_set_dscp(s, 0), ==, 0);
    CHECK_INT(read_tos(s, IPPROTO_IP, IP_TOS), ==, 0);
    CHECK_INT(pvs_udp_set_dscp(s, 63), ==, 0);
    CHECK_INT(read_tos(s, IPPROTO_IP, IP_TOS), ==, 63 << 2);
#endif
    pvs_socket_close(&s);

    if (pvs_addr_resolve(&local, "::1", 0) != 0 || pvs_udp_open(&s, &local) != 0) {
        fprintf(stderr, "  ::1 not available here: IPv6 DSCP skipped\n");
        return;
    }
#ifndef _WIN32
    CHECK_INT(pvs_udp_set_dscp(s, 34), ==, 0);
    CHECK_INT(read_tos(s, IPPROTO_IPV6, IPV6_TCLASS), ==, 34 << 2);
#endif
    pvs_socket_close(&s);
}

/* A burst the size of a big key frame, read only once it has all been sent:
 * with 8 MiB of receive buffer nothing is lost. */
static void test_burst(void)
{
    pvs_socket a, b;
    struct pvs_addr a_addr, b_addr;
    if (!open_pair("127.0.0.1", &a, &a_addr, &b, &b_addr)) {
        CHECK(false);
        return;
    }
    int rcv = 0;
    CHECK_INT(pvs_udp_set_buffers(a, 8 << 20, 0, NULL, NULL), ==, 0);
    CHECK_INT(pvs_udp_set_buffers(b, 0, 8 << 20, NULL, &rcv), ==, 0);
    if (rcv < 2 << 20) {
        /* Neither root nor net.core.rmem_max allows a big enough buffer. */
        fprintf(stderr, "  receive buffer is %d bytes: burst test skipped\n", rcv);
        pvs_socket_close(&a);
        pvs_socket_close(&b);
        return;
    }
    fill(1400, 1400, MAX_DGRAMS, 7);
    CHECK_INT(send_all(a, tx, 1400, 1400, MAX_DGRAMS, &b_addr), ==, MAX_DGRAMS);
    CHECK_INT(recv_all(b, 1400, MAX_DGRAMS, 1000), ==, MAX_DGRAMS);
    check_received(1400, 1400, MAX_DGRAMS, 7, &a_addr);
    pvs_socket_close(&a);
    pvs_socket_close(&b);
}

int main(void)
{
    if (pvs_net_init() != 0)
        TEST_SKIP("no sockets");
    RUN(test_round_trip_ipv4);
    RUN(test_round_trip_ipv6);
    RUN(test_bad_arguments);
    RUN(test_recv_timeout);
    RUN(test_cut);
    RUN(test_arrival_stamps);
    RUN(test_dscp);
    RUN(test_burst);
    pvs_net_deinit();
    TEST_EXIT();
}
