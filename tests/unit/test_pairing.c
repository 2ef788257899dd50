/* PIN pairing over loopback: the right PIN gives each side the other's
 * identity key; a wrong PIN fails on the client and counts as a run on the
 * server; after 5 failed runs the window closes and even the right PIN finds
 * nobody; a window closes at its time; messages encode to their documented
 * bytes and malformed ones are refused. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/platform/platform.h"
#include "net/pairing.h"
#include "tests/unit/test.h"

static uint16_t port;

struct server_run {
    const char *pin;
    struct pvs_identity id;
    int window_s;
    int rc;
    struct pvs_pair_result res;
};

static int server_thread(void *arg)
{
    struct server_run *s = arg;
    s->rc = pvs_pair_serve("127.0.0.1", port, s->pin, &s->id, s->window_s, NULL, &s->res);
    return 0;
}

static void make_identity(struct pvs_identity *id)
{
    crypto_box_keypair(id->public_key, id->secret_key);
}

static void test_codec(void)
{
    struct pvs_pair_msg m = { .type = PVS_PAIR_HELLO, .name_len = 6 }, p;
    memset(m.sid, 0x11, 16);
    memset(m.point, 0x22, 32);
    memcpy(m.name, "laptop", 6);
    uint8_t buf[PVS_PAIR_MAX_MESSAGE];
    int n = pvs_pair_encode(&m, buf, sizeof(buf));
    CHECK_INT(n, ==, 22 + 33 + 6);
    CHECK(!memcmp(buf, "PVSP\x01\x01", 6));
    CHECK_INT(buf[22 + 32], ==, 6);
    CHECK_INT(pvs_pair_parse(buf, (size_t)n, &p), ==, 0);
    CHECK(p.type == PVS_PAIR_HELLO && !strcmp(p.name, "laptop") && !memcmp(p.point, m.point, 32));
    for (int i = 0; i < n; i++) /* every truncation refused */
        CHECK_INT(pvs_pair_parse(buf, (size_t)i, &p), ==, PVS_EBADDATA);
    buf[n] = 0;
    CHECK_INT(pvs_pair_parse(buf, (size_t)n + 1, &p), ==, PVS_EBADDATA);
    buf[22 + 33] = ' '; /* a space in the name */
    CHECK_INT(pvs_pair_parse(buf, (size_t)n, &p), ==, PVS_EBADDATA);
    memcpy(m.name, "bad name", 9);
    CHECK_INT(pvs_pair_encode(&m, buf, sizeof(buf)), ==, PVS_EINVAL);

    struct pvs_pair_msg r = { .type = PVS_PAIR_REPLY };
    memset(r.tag, 0x33, 16);
    memset(r.sealed, 0x44, 48);
    n = pvs_pair_encode(&r, buf, sizeof(buf));
    CHECK_INT(n, ==, 22 + 32 + 16 + 48);
    CHECK_INT(pvs_pair_parse(buf, (size_t)n, &p), ==, 0);
    CHECK(!memcmp(p.sealed, r.sealed, 48) && !memcmp(p.tag, r.tag, 16));
    buf[4] = 2; /* another version */
    CHECK_INT(pvs_pair_parse(buf, (size_t)n, &p), ==, PVS_EBADDATA);
    struct pvs_pair_msg f = { .type = PVS_PAIR_FAIL, .reason = PVS_PAIR_FAIL_CLOSED };
    n = pvs_pair_encode(&f, buf, sizeof(buf));
    CHECK_INT(n, ==, 23);
    CHECK(pvs_pair_parse(buf, (size_t)n, &p) == 0 && p.reason == PVS_PAIR_FAIL_CLOSED);

    char pin[PVS_PAIR_PIN_DIGITS + 1], pin2[PVS_PAIR_PIN_DIGITS + 1];
    pvs_pair_new_pin(pin);
    pvs_pair_new_pin(pin2);
    CHECK_INT(strlen(pin), ==, 6);
    CHECK(strspn(pin, "0123456789") == 6);
    CHECK(strcmp(pin, pin2) != 0 || strcmp(pin, "000000") != 0);
}

static void test_right_pin(void)
{
    struct server_run s = { .pin = "123456", .window_s = 10 };
    make_identity(&s.id);
    struct pvs_identity client;
    make_identity(&client);
    struct pvs_thread *t = NULL;
    CHECK_INT(pvs_thread_create(&t, server_thread, &s, "pvs-pair"), ==, 0);
    struct pvs_pair_result r;
    int rc = pvs_pair_client("127.0.0.1", port, "123456", "laptop", &client, 5000, &r);
    pvs_thread_join(&t, NULL);
    CHECK_INT(rc, ==, 0);
    CHECK_INT(s.rc, ==, 0);
    CHECK(!memcmp(r.key, s.id.public_key, 32));
    CHECK(!memcmp(s.res.key, client.public_key, 32));
    CHECK(!strcmp(s.res.name, "laptop"));
    CHECK_INT(s.res.runs, ==, 1);
}

static void test_wrong_pins_close_the_window(void)
{
    struct server_run s = { .pin = "654321", .window_s = 20 };
    make_identity(&s.id);
    struct pvs_identity client;
    make_identity(&client);
    struct pvs_thread *t = NULL;
    CHECK_INT(pvs_thread_create(&t, server_thread, &s, "pvs-pair"), ==, 0);
    struct pvs_pair_result r;
    for (int i = 0; i < PVS_PAIR_MAX_RUNS; i++) {
        int rc = pvs_pair_client("127.0.0.1", port, "000000", "guesser", &client, 3000, &r);
        CHECK_INT(rc, ==, PVS_EBADDATA);
        for (int k = 0; k < 32; k++)
            CHECK_INT(r.key[k], ==, 0); /* nothing learned */
    }
    pvs_thread_join(&t, NULL);
    CHECK_INT(s.rc, ==, PVS_EBADDATA);
    CHECK_INT(s.res.runs, ==, PVS_PAIR_MAX_RUNS);
    /* Closed: the right PIN now finds nobody. */
    CHECK_INT(pvs_pair_client("127.0.0.1", port, "654321", "late", &client, 1000, &r), ==,
              PVS_ETIMEDOUT);
}

static void test_window_times_out(void)
{
    struct server_run s = { .pin = "111111", .window_s = 1 };
    make_identity(&s.id);
    int64_t t0 = pvs_time_ns();
    server_thread(&s);
    CHECK_INT(s.rc, ==, PVS_ETIMEDOUT);
    CHECK(pvs_time_ns() - t0 < 5000000000LL);
}

static void test_pair_local(void)
{
    char base[] = "/tmp/pvs-pair-local-XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char sdir[128], cdir[128], path[256];
    snprintf(sdir, sizeof(sdir), "%s/s", base);
    snprintf(cdir, sizeof(cdir), "%s/c", base);
    CHECK(mkdir(sdir, 0700) == 0 && mkdir(cdir, 0700) == 0);
    CHECK_INT(pvs_pair_local(sdir, cdir, "tester", "127.0.0.1:47100"), ==, 0);
    struct pvs_identity s, c;
    snprintf(path, sizeof(path), "%s/%s", sdir, PVS_SERVER_KEY_FILE);
    CHECK_INT(pvs_identity_load_or_create(path, &s), ==, 0);
    snprintf(path, sizeof(path), "%s/%s", cdir, PVS_CLIENT_KEY_FILE);
    CHECK_INT(pvs_identity_load_or_create(path, &c), ==, 0);
    struct pvs_peer *list = NULL;
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s", sdir, PVS_SERVER_CLIENTS_FILE);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    const struct pvs_peer *p = pvs_peers_find_key(list, n, c.public_key);
    CHECK(p && !strcmp(p->name, "tester"));
    pvs_peers_free(&list);
    snprintf(path, sizeof(path), "%s/%s", cdir, PVS_CLIENT_SERVERS_FILE);
    CHECK_INT(pvs_peers_load(path, &list, &n), ==, 0);
    p = pvs_peers_find_key(list, n, s.public_key);
    CHECK(p && !strcmp(p->name, "127.0.0.1:47100"));
    pvs_peers_free(&list);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    if (sodium_init() < 0 || pvs_net_init() != 0)
        return 1;
    port = (uint16_t)(30000 + getpid() % 20000);
    RUN(test_codec);
    RUN(test_right_pin);
    RUN(test_wrong_pins_close_the_window);
    RUN(test_window_times_out);
    RUN(test_pair_local);
    pvs_net_deinit();
    TEST_EXIT();
}
