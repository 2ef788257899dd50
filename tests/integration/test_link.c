/* The link emulator's relay (`pvstream-bench link`) on real sockets over
 * loopback: a stand-in server (two sockets, its control and media ports)
 * and a stand-in client talk through the relay. The client's first packets
 * on both ports reach the server and the answers come back; then the server
 * sends 30 Mbit/s of media into a 20 Mbit/s link with a 100 ms queue, and
 * the client must receive 20 Mbit/s (within 3 %: the relay's timing on a
 * busy machine adds to the core's exactness) with the queue's 100 ms of
 * delay, and the JSON must show the drops and the time series.
 * Argument: the path of pvstream-bench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "common/process.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

#define PKT 1200
#define OFFERED_BPS 30e6
#define SEND_SECONDS 3

static pvs_socket open_at(int port)
{
    struct pvs_addr a;
    pvs_socket s = PVS_INVALID_SOCKET;
    if (pvs_addr_resolve(&a, "127.0.0.1", (uint16_t)port) == 0 && pvs_udp_open(&s, &a) == 0)
        (void)pvs_udp_set_buffers(s, 4 << 20, 4 << 20, NULL, NULL);
    return s;
}

/* Two consecutive free ports, opened (the server's), or -1. */
static int open_pair(pvs_socket s[2], int base)
{
    for (int port = base; port < base + 2000; port += 2) {
        s[0] = open_at(port);
        s[1] = s[0] == PVS_INVALID_SOCKET ? PVS_INVALID_SOCKET : open_at(port + 1);
        if (s[1] != PVS_INVALID_SOCKET)
            return port;
        pvs_socket_close(&s[0]);
    }
    return -1;
}

/* Sends `msg` to `to` from `from` every 50 ms until `at` receives it;
 * returns the address it came from (the relay's side), or len 0. */
static struct pvs_addr reach(pvs_socket from, const struct pvs_addr *to, pvs_socket at,
                             const char *msg)
{
    struct pvs_addr src = { .len = 0 };
    char buf[64];
    for (int i = 0; i < 100; i++) {
        pvs_udp_send(from, msg, strlen(msg), to);
        int n = pvs_udp_recv(at, buf, sizeof(buf), &src, 50);
        if (n == (int)strlen(msg) && memcmp(buf, msg, (size_t)n) == 0)
            return src;
        src.len = 0;
    }
    return src;
}

struct received {
    int64_t first_us, t_window_start, t_window_end;
    double window_bytes;
    double last_delay_ms;
    uint64_t packets;
};

/* Takes what is queued on the client's socket. Each datagram carries its
 * send time. */
static void drain(pvs_socket c, struct received *r)
{
    uint8_t buf[PKT];
    for (;;) {
        int n = pvs_udp_recv(c, buf, sizeof(buf), NULL, 0);
        if (n < 8)
            return;
        int64_t now = pvs_time_us(), sent;
        memcpy(&sent, buf, 8);
        if (!r->packets++)
            r->first_us = now;
        r->last_delay_ms = (double)(now - sent) / 1000;
        /* The steady state: from 0.5 s after the first packet to 2.5 s. */
        if (now >= r->first_us + 500000 && now < r->first_us + 2500000) {
            if (!r->t_window_start)
                r->t_window_start = now;
            r->t_window_end = now;
            r->window_bytes += n;
        }
    }
}

/* The server sends at OFFERED_BPS to `to` for SEND_SECONDS, 1 ms at a time,
 * while the client takes what arrives. */
static void stream(pvs_socket server, const struct pvs_addr *to, pvs_socket client,
                   struct received *r)
{
    uint8_t pkt[PKT];
    memset(pkt, 0x5a, sizeof(pkt));
    int64_t t0 = pvs_time_ns();
    double owed = 0;
    for (int64_t tick = 1; tick <= SEND_SECONDS * 1000; tick++) {
        pvs_sleep_until_ns(t0 + tick * 1000000);
        owed += OFFERED_BPS / 8 / 1000;
        for (; owed >= PKT; owed -= PKT) {
            int64_t now = pvs_time_us();
            memcpy(pkt, &now, 8);
            pvs_udp_send(server, pkt, sizeof(pkt), to);
        }
        drain(client, r);
    }
    for (int i = 0; i < 300; i++) { /* the queue drains: 100 ms and more */
        pvs_sleep_ns(1000000);
        drain(client, r);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_link PATH-TO-pvstream-bench\n");
        return 2;
    }
    CHECK_INT(pvs_net_init(), ==, 0);
    pvs_socket server[2], relay_probe[2];
    int base = 30000 + (int)(getpid() % 10000) * 2;
    int p = open_pair(server, base);
    int l = open_pair(relay_probe, p + 2);
    pvs_socket_close(&relay_probe[0]);
    pvs_socket_close(&relay_probe[1]);
    pvs_socket client = open_at(0);
    if (p < 0 || l < 0 || client == PVS_INVALID_SOCKET) {
        fprintf(stderr, "no free ports\n");
        return 1;
    }
    char dir[] = "/tmp/pvs-link-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char json[128], log[128], listen[16], srv[32];
    snprintf(json, sizeof(json), "%s/link.json", dir);
    snprintf(log, sizeof(log), "%s/link.log", dir);
    snprintf(listen, sizeof(listen), "%d", l);
    snprintf(srv, sizeof(srv), "127.0.0.1:%d", p);
    char *args[] = { argv[1], "link", "--listen", listen, "--server", srv, "--rate", "20M",
                     "--queue", "100ms", "--delay", "5ms", "--seconds", "6", "--json", json,
                     NULL };
    pid_t pid = pvs_process_start(args, log);
    CHECK(pid > 0);

    /* Both ports reach the server, and the server's answers come back. */
    struct pvs_addr to_ctl, to_media;
    pvs_addr_resolve(&to_ctl, "127.0.0.1", (uint16_t)l);
    pvs_addr_resolve(&to_media, "127.0.0.1", (uint16_t)(l + 1));
    struct pvs_addr up_ctl = reach(client, &to_ctl, server[0], "hello control");
    struct pvs_addr up_media = reach(client, &to_media, server[1], "hello media");
    CHECK(up_ctl.len != 0);
    CHECK(up_media.len != 0);
    struct pvs_addr back = reach(server[0], &up_ctl, client, "welcome");
    CHECK(back.len != 0);
    CHECK_INT(pvs_addr_port(&back), ==, l);

    struct received r = { 0 };
    if (up_media.len)
        stream(server[1], &up_media, client, &r);
    double bps = r.window_bytes * 8 / ((double)(r.t_window_end - r.t_window_start) / 1e6);
    fprintf(stderr, "through the relay: %.3f Mbit/s (%+.2f %%), last packet's delay %.1f ms\n",
            bps / 1e6, (bps / 20e6 - 1) * 100, r.last_delay_ms);
    CHECK_NEAR(bps, 20e6, 20e6 * 0.03);
    /* The queue was full: 100 ms of queue + 5 ms of delay, and the relay's
     * own lateness (a few ms at most on a loaded machine). */
    CHECK_NEAR(r.last_delay_ms, 105, 8);

    CHECK_INT(pvs_process_wait(pid, 15000), ==, 0);
    char *text = pvs_test_slurp(json);
    CHECK(text != NULL);
    if (text) {
        double drops = pvs_test_json_num(text, "down", "drop_queue");
        double series0 = pvs_test_json_num(text, "series", "capacity_bps");
        fprintf(stderr, "relay: %.0f packets dropped at the queue, cpu %.1f %%\n", drops,
                pvs_test_json_num(text, NULL, "cpu_pct"));
        CHECK(drops > 1000); /* a third of 3 s at 30 Mbit/s, less the queue */
        CHECK_NEAR(series0, 20e6, 1);
        CHECK(strstr(text, "\"t_ms\":5900") != NULL); /* a sample every 100 ms */
        free(text);
    }
    pvs_socket_close(&server[0]);
    pvs_socket_close(&server[1]);
    pvs_socket_close(&client);
    pvs_test_scratch_done(dir, test_checks_failed > 0);
    TEST_EXIT();
}
