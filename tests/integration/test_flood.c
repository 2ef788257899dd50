/* Junk on the wire does not disturb a session: while a headless client
 * streams from pvstream-server (the test desktop, no X server needed),
 * 10,000 junk datagrams a second for 5 s go to the control port and to the
 * media port (random bytes, random lengths, and some that start like ENet
 * or SRTP packets). The session must go on (every frame after the flood's
 * start still decoded, none lost) and the server's memory must stay flat.
 * Then a client whose key was never paired is refused ("not paired") and
 * not one media datagram reaches it.
 * Arguments: the paths of pvstream-server and pvstream-client. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "common/process.h"
#include "net/control.h"
#include "net/pairing.h"
#include "tests/programs.h"
#include "tests/unit/test.h"

#define FLOOD_RATE 10000
#define FLOOD_SECONDS 5

static char dir[] = "/tmp/pvs-flood-XXXXXX";

static long rss_kib(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

struct flood {
    int port;
    uint64_t sent;
};

static uint64_t rng = 0x243F6A8885A308D3ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static int flood_thread(void *arg)
{
    struct flood *fl = arg;
    struct pvs_addr local, control, media;
    pvs_socket s = PVS_INVALID_SOCKET;
    if (pvs_addr_resolve(&local, "127.0.0.1", 0) || pvs_udp_open(&s, &local) ||
        pvs_addr_resolve(&control, "127.0.0.1", (uint16_t)fl->port) ||
        pvs_addr_resolve(&media, "127.0.0.1", (uint16_t)(fl->port + 1)))
        return PVS_EIO;
    uint8_t buf[1500];
    int64_t start = pvs_time_ns();
    for (uint64_t i = 0; i < (uint64_t)FLOOD_RATE * FLOOD_SECONDS; i++) {
        pvs_sleep_until_ns(start + (int64_t)(i * 1000000000ull / FLOOD_RATE));
        size_t len = 1 + rnd() % sizeof(buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)rnd();
        switch (i % 4) {
        case 0: /* an ENet header asking for a connection, with junk after */
            buf[0] = 0x0f;
            buf[1] = 0xff;
            if (len > 4)
                buf[4] = 0x82;
            break;
        case 1: /* an RTP version-2 header: SRTP must reject it */
            buf[0] = 0x80;
            buf[1] = 96;
            break;
        default:
            break;
        }
        pvs_udp_send(s, buf, len, i % 2 ? &media : &control);
        fl->sent++;
    }
    pvs_socket_close(&s);
    return 0;
}

/* A client with a key the server never paired: refused (REFUSE "not
 * paired"), and not one media datagram reaches its media port. */
static void unpaired_client(int port, const char *server_cfg)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", server_cfg, PVS_SERVER_KEY_FILE);
    struct pvs_identity server;
    CHECK_INT(pvs_identity_load_or_create(path, &server), ==, 0);
    struct pvs_addr any;
    pvs_socket media = PVS_INVALID_SOCKET;
    CHECK_INT(pvs_addr_resolve(&any, "127.0.0.1", 0), ==, 0);
    CHECK_INT(pvs_udp_open(&media, &any), ==, 0);
    struct pvs_addr bound;
    pvs_udp_local_addr(media, &bound);
    struct pvs_control_client_config cc;
    pvs_control_client_default_config(&cc);
    cc.host = "127.0.0.1";
    cc.port = (uint16_t)port;
    cc.hello.media_port = pvs_addr_port(&bound);
    cc.no_reconnect = true;
    CHECK_INT(pvs_static_keys_generate(&cc.identity), ==, 0);
    memcpy(cc.server_key, server.public_key, sizeof(cc.server_key));
    pvs_identity_wipe(&server);
    struct pvs_control_client *cli = NULL;
    CHECK_INT(pvs_control_client_open(&cli, &cc), ==, 0);
    bool refused = false, connected = false;
    int reason = 0;
    int64_t until = pvs_time_ns() + 5000000000LL;
    while (cli && !refused && pvs_time_ns() < until) {
        struct pvs_control_event ev;
        if (pvs_control_client_service(cli, 20, &ev) == 1) {
            refused |= ev.type == PVS_CONTROL_EV_REFUSED;
            connected |= ev.type == PVS_CONTROL_EV_CONNECTED;
            if (ev.type == PVS_CONTROL_EV_REFUSED)
                reason = ev.u.refused.refuse.reason;
        }
    }
    /* Whatever the server might send, it would have by now: count. */
    int datagrams = 0;
    uint8_t buf[2048];
    until = pvs_time_ns() + 2000000000LL;
    while (pvs_time_ns() < until)
        datagrams += pvs_udp_recv(media, buf, sizeof(buf), NULL, 100) > 0;
    fprintf(stderr, "unpaired client: %s (reason %d), %d media datagrams received\n",
            refused ? "refused" : "NOT refused", reason, datagrams);
    CHECK(refused);
    CHECK(!connected);
    CHECK_INT(reason, ==, PVS_CTL_REFUSE_NOT_PAIRED);
    CHECK_INT(datagrams, ==, 0);
    pvs_control_client_close(&cli);
    pvs_socket_close(&media);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_flood SERVER CLIENT\n");
        return 2;
    }
    if (!mkdtemp(dir) || pvs_net_init() != 0)
        return 1;
    char port[16], target[32], slog[256], clog[256], json[256];
    int portn = 36000 + (int)(getpid() % 4000) * 2;
    snprintf(port, sizeof(port), "%d", portn);
    snprintf(target, sizeof(target), "127.0.0.1:%d", portn);
    snprintf(slog, sizeof(slog), "%s/server.log", dir);
    snprintf(clog, sizeof(clog), "%s/client.log", dir);
    snprintf(json, sizeof(json), "%s/client.json", dir);

    char *sargv[] = { argv[1], "--capture", "testsrc", "--size", "640x360", "--fps", "30",
                      "--port", port, "--encoder", "libx264", "--stats-interval", "0",
                     "--gamestream", "off", /* its start takes CPU: tests/integration/test_gamestream.sh covers it */ NULL };
    char scfg[128], ccfg[128];
    snprintf(scfg, sizeof(scfg), "%s/server-config", dir);
    snprintf(ccfg, sizeof(ccfg), "%s/client-config", dir);
    if (mkdir(scfg, 0700) != 0 || mkdir(ccfg, 0700) != 0 ||
        pvs_pair_local(scfg, ccfg, "tester", target) != 0) {
        fprintf(stderr, "cannot pair the server and the client in %s\n", dir);
        return 1;
    }
    setenv("PVS_CONFIG_DIR", scfg, 1);
    pid_t srv = pvs_process_start(sargv, slog);
    pvs_sleep_ns(500000000);
    char *cargv[] = { argv[2], target, "--headless", "--seconds", "9", "--stats-json", json, NULL };
    setenv("PVS_CONFIG_DIR", ccfg, 1);
    pid_t cli = pvs_process_start(cargv, clog);
    pvs_sleep_ns(2000000000); /* streaming, warmed up */

    long before = rss_kib(srv);
    struct flood fl = { .port = portn };
    struct pvs_thread *t = NULL;
    CHECK_INT(pvs_thread_create(&t, flood_thread, &fl, "pvs-flood"), ==, 0);
    long peak = before;
    for (int i = 0; i < FLOOD_SECONDS * 10; i++) {
        pvs_sleep_ns(100000000);
        long r = rss_kib(srv);
        if (r > peak)
            peak = r;
    }
    int flood_rc = -1;
    pvs_thread_join(&t, &flood_rc);
    long after = rss_kib(srv);
    int crc = pvs_process_wait(cli, 30000);
    char *text = pvs_test_slurp(json);
    double decoded = pvs_test_json_num(text, NULL, "frames_decoded"), lost = pvs_test_json_num(text, NULL, "frames_lost");
    fprintf(stderr, "flood: %llu junk datagrams in %d s; server RSS %ld KiB before, peak %ld, "
            "after %ld; client decoded %.0f frames, lost %.0f, exit %d\n",
            (unsigned long long)fl.sent, FLOOD_SECONDS, before, peak, after, decoded, lost, crc);
    CHECK_INT(flood_rc, ==, 0);
    CHECK_INT(fl.sent, ==, (uint64_t)FLOOD_RATE * FLOOD_SECONDS);
    CHECK_INT(crc, ==, 0);
    /* 9 s at 30 fps: the flood's 5 s in the middle must not cost frames. */
    CHECK(decoded >= 200);
    CHECK(lost == 0);
    /* Flat: the junk is dropped, not kept. 8 MiB of slack covers the
     * allocator's and the encoder's own movements. */
    CHECK(before > 0 && peak - before < 8192);
    CHECK(pvs_process_wait(srv, 0) < 0); /* still running */
    unpaired_client(portn, scfg);
    pvs_process_stop(&srv);
    free(text);
    pvs_test_scratch_done(dir, test_checks_failed != 0);
    pvs_net_deinit();
    TEST_EXIT();
}
