/* The PIN channel (gamestream/gs_pin_channel.h) over the real local
 * channel (a Unix socket in a private temporary directory; a named pipe on
 * Windows): what a PIN is; the two messages; a PIN sent reaches the
 * callback and its answer comes back, taken or not; a PIN that is not 4
 * digits is refused before anything is sent; garbage on the channel is
 * dropped unanswered and counted, and the channel goes on; a second server
 * cannot take the channel; after close the command says no server runs.
 * POSIX only: the socket is mode 0600 and ours; a directory others can
 * write to is refused, as is a file in the socket's place; a stale socket
 * is replaced; and, run as root, another user is refused by the
 * directory's and the socket's modes and, with both opened up, by the
 * peer credential check. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "common/error.h"
#include "common/log.h"
#include "common/platform/localipc.h"
#include "common/platform/platform.h"
#include "gamestream/gs_pin_channel.h"
#include "tests/unit/test.h"

static char g_dir[64];
static char g_last_pin[8];
static int g_calls;
static bool g_take = true;

static bool on_pin(void *opaque, const char *pin, char *answer, size_t len)
{
    (void)opaque;
    g_calls++;
    snprintf(g_last_pin, sizeof(g_last_pin), "%s", pin);
    snprintf(answer, len, "%s", g_take ? "accepted" : "no Moonlight client is waiting");
    return g_take;
}

static void quiet(void *opaque, enum pvs_log_level level, const char *file, int line,
                  const char *msg)
{
    (void)opaque, (void)level, (void)file, (void)line, (void)msg;
}

static void test_valid(void)
{
    CHECK(pvs_gs_pin_valid("1234"));
    CHECK(pvs_gs_pin_valid("0000"));
    CHECK(!pvs_gs_pin_valid("123"));
    CHECK(!pvs_gs_pin_valid("12345"));
    CHECK(!pvs_gs_pin_valid("12a4"));
    CHECK(!pvs_gs_pin_valid(" 123"));
    CHECK(!pvs_gs_pin_valid(""));
    CHECK(!pvs_gs_pin_valid(NULL));
}

static void test_messages(void)
{
    char pin[5];
    CHECK_INT(pvs_gs_pin_parse_request("PIN 0427\n", 9, pin), ==, 0);
    CHECK(strcmp(pin, "0427") == 0);
    CHECK_INT(pvs_gs_pin_parse_request("PIN 0427", 8, pin), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_pin_parse_request("PIN 04270\n", 10, pin), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_pin_parse_request("pin 0427\n", 9, pin), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_pin_parse_request("PIN 04-7\n", 9, pin), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_pin_parse_request("PIN 0427\r", 9, pin), ==, PVS_EBADDATA);

    bool taken = false;
    char text[64];
    CHECK_INT(pvs_gs_pin_parse_answer("OK accepted\n", 12, &taken, text, sizeof(text)), ==, 0);
    CHECK(taken && strcmp(text, "accepted") == 0);
    CHECK_INT(pvs_gs_pin_parse_answer("NO nobody waits\n", 16, &taken, text, 5), ==, 0);
    CHECK(!taken && strcmp(text, "nobo") == 0); /* cut to fit */
    CHECK_INT(pvs_gs_pin_parse_answer("OK x", 4, &taken, text, sizeof(text)), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_pin_parse_answer("MAYBE\n", 6, &taken, text, sizeof(text)), ==,
              PVS_EBADDATA);
    CHECK_INT(pvs_gs_pin_parse_answer("OK \x1b[2J\n", 8, &taken, text, sizeof(text)), ==,
              PVS_EBADDATA); /* no terminal escapes */
}

/* Sends raw bytes on the channel and returns what came back (0: nothing,
 * the server closed). With nothing to send, hangs up at once. */
static int raw_exchange(const void *data, size_t len)
{
    struct pvs_ipc_conn *c = NULL;
    if (pvs_ipc_connect(&c, g_dir, PVS_GS_PIN_CHANNEL_NAME) != 0)
        return -1000;
    if (!len) {
        pvs_ipc_conn_close(&c);
        return 0;
    }
    pvs_ipc_write(c, data, len);
    char buf[64];
    int n = pvs_ipc_read(c, buf, sizeof(buf), 5000);
    pvs_ipc_conn_close(&c);
    return n;
}

static void test_channel(void)
{
    struct pvs_gs_pin_channel *ch = NULL;
    CHECK_INT(pvs_gs_pin_channel_open(&ch, g_dir, on_pin, NULL), ==, 0);
    if (!ch)
        return;
    char answer[256];
    g_take = true;
    CHECK_INT(pvs_gs_pin_send(g_dir, "4711", answer, sizeof(answer)), ==, 0);
    CHECK(strcmp(answer, "accepted") == 0);
    CHECK(strcmp(g_last_pin, "4711") == 0);
    CHECK_INT(g_calls, ==, 1);

    g_take = false;
    CHECK_INT(pvs_gs_pin_send(g_dir, "0000", answer, sizeof(answer)), ==, PVS_EAGAIN);
    CHECK(strcmp(answer, "no Moonlight client is waiting") == 0);
    CHECK_INT(g_calls, ==, 2);

    static const char *bad[] = { "123", "12345", "12a4", "", "１２３４" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_INT(pvs_gs_pin_send(g_dir, bad[i], answer, sizeof(answer)), ==, PVS_EINVAL);
    CHECK_INT(pvs_gs_pin_send(g_dir, NULL, NULL, 0), ==, PVS_EINVAL);
    CHECK_INT(g_calls, ==, 2);

    /* garbage: dropped, unanswered, counted; the channel goes on */
    static const struct { const char *s; size_t n; } garbage[] = {
        { "PIN 12x4\n", 9 }, { "HELLO\n", 6 }, { "PIN 1234 extra\n", 15 },
        { "PIN 12345", 9 }, { "\xff\xfe\x00\x01PIN 1234\n", 13 },
    };
    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        CHECK_INT(raw_exchange(garbage[i].s, garbage[i].n), ==, 0);
    CHECK_INT(raw_exchange("", 0), ==, 0); /* connects and says nothing */
    struct pvs_gs_pin_stats st;
    for (int i = 0; i < 100; i++) { /* the server sees that hang-up in its time */
        pvs_gs_pin_channel_get_stats(ch, &st);
        if (st.dropped == 6)
            break;
        pvs_sleep_ns(50 * INT64_C(1000000));
    }
    CHECK_INT(g_calls, ==, 2);
    CHECK_INT(st.pins, ==, 2);
    CHECK_INT(st.dropped, ==, 6);
    g_take = true;
    CHECK_INT(pvs_gs_pin_send(g_dir, "9876", answer, sizeof(answer)), ==, 0);
    CHECK(strcmp(g_last_pin, "9876") == 0);

    /* a second server cannot take the channel */
    struct pvs_gs_pin_channel *second = NULL;
    pvs_log_set_sink(quiet, NULL);
    CHECK_INT(pvs_gs_pin_channel_open(&second, g_dir, on_pin, NULL), ==, -EADDRINUSE);
    pvs_log_set_sink(NULL, NULL);
    CHECK(second == NULL);

#ifndef _WIN32
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_dir, PVS_GS_PIN_CHANNEL_NAME);
    struct stat sb;
    CHECK(lstat(path, &sb) == 0 && S_ISSOCK(sb.st_mode));
    CHECK_INT(sb.st_mode & 0777, ==, 0600);
    CHECK(sb.st_uid == geteuid());
#endif
    pvs_gs_pin_channel_close(&ch);
    CHECK(ch == NULL);
#ifndef _WIN32
    CHECK(lstat(path, &sb) < 0 && errno == ENOENT); /* removed */
#endif
    CHECK_INT(pvs_gs_pin_send(g_dir, "1234", answer, sizeof(answer)), ==, PVS_ENOENT);
    CHECK(strstr(answer, "no pvstream-server") != NULL);
}

#ifndef _WIN32
static void test_posix_files(void)
{
    char path[96], answer[128];
    snprintf(path, sizeof(path), "%s/%s", g_dir, PVS_GS_PIN_CHANNEL_NAME);
    struct pvs_gs_pin_channel *ch = NULL;

    /* a stale socket, as a crash leaves it: replaced */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    close(fd);
    CHECK_INT(pvs_gs_pin_channel_open(&ch, g_dir, on_pin, NULL), ==, 0);
    CHECK_INT(pvs_gs_pin_send(g_dir, "1111", answer, sizeof(answer)), ==, 0);
    pvs_gs_pin_channel_close(&ch);

    pvs_log_set_sink(quiet, NULL);
    /* a file in the way: refused, and left alone */
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    CHECK_INT(pvs_gs_pin_channel_open(&ch, g_dir, on_pin, NULL), ==, PVS_ECONFIG);
    struct stat sb;
    CHECK(lstat(path, &sb) == 0 && S_ISREG(sb.st_mode));
    unlink(path);

    /* a directory others may write to */
    chmod(g_dir, 0777);
    CHECK_INT(pvs_gs_pin_channel_open(&ch, g_dir, on_pin, NULL), ==, PVS_ECONFIG);
    chmod(g_dir, 0700);

    /* a path longer than a Unix socket's */
    char deep[300];
    memset(deep, 'd', sizeof(deep));
    memcpy(deep, g_dir, strlen(g_dir));
    deep[strlen(g_dir)] = '/';
    deep[sizeof(deep) - 1] = '\0';
    CHECK_INT(pvs_gs_pin_channel_open(&ch, deep, on_pin, NULL), ==, PVS_ERANGE);
    pvs_log_set_sink(NULL, NULL);
    CHECK(ch == NULL);
}

/* In a child running as `uid`: connect, send a PIN, read the answer.
 * Exit code: 0 connect refused by the system, 1 connected and no answer,
 * 2 connected and answered, 3 other failure. Plain system calls only
 * (this runs after fork in a process with threads). */
static int other_user_tries(uid_t uid)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(uid) != 0 || setuid(uid) != 0)
            _exit(3);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", g_dir, PVS_GS_PIN_CHANNEL_NAME);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            _exit(errno == EACCES ? 0 : 3);
        if (send(fd, "PIN 6666\n", 9, MSG_NOSIGNAL) != 9) /* closed on us already */
            _exit(1);
        char buf[64];
        _exit(read(fd, buf, sizeof(buf)) > 0 ? 2 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void test_other_user(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "  not root: the other-user checks need setuid and are skipped\n");
        return;
    }
    struct pvs_gs_pin_channel *ch = NULL;
    CHECK_INT(pvs_gs_pin_channel_open(&ch, g_dir, on_pin, NULL), ==, 0);
    if (!ch)
        return;
    int calls = g_calls;
    /* the directory (0700) and the socket (0600) keep them out */
    CHECK_INT(other_user_tries(65534), ==, 0);
    /* opened up by hand: the kernel lets them connect, the uid check does
     * not let them speak */
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_dir, PVS_GS_PIN_CHANNEL_NAME);
    chmod(g_dir, 0711);
    chmod(path, 0666);
    pvs_log_set_sink(quiet, NULL);
    CHECK_INT(other_user_tries(65534), ==, 1);
    pvs_log_set_sink(NULL, NULL);
    chmod(g_dir, 0700);
    struct pvs_gs_pin_stats st;
    pvs_gs_pin_channel_get_stats(ch, &st);
    CHECK_INT(st.refused, ==, 1);
    CHECK_INT(g_calls, ==, calls);
    /* root is an administrator: it may */
    char answer[64];
    CHECK_INT(pvs_gs_pin_send(g_dir, "2222", answer, sizeof(answer)), ==, 0);
    pvs_gs_pin_channel_close(&ch);
}
#endif

int main(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/pvs-pin-XXXXXX");
#ifdef _WIN32
    if (!pvs_test_mkdtemp(g_dir))
        return 1;
#else
    if (!mkdtemp(g_dir))
        return 1;
    chmod(g_dir, 0700);
#endif
    RUN(test_valid);
    RUN(test_messages);
    RUN(test_channel);
#ifndef _WIN32
    RUN(test_posix_files);
    RUN(test_other_user);
#endif
    rmdir(g_dir);
    TEST_EXIT();
}
