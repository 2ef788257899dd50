/* The PIN channel (gs_pin_channel.h): the server's listening thread, the
 * command's side, and the two one-line messages. Who may connect is the
 * platform's part (common/platform/localipc_*.c); what they may say is
 * checked here, strictly: a PIN is exactly four digits. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/localipc.h"
#include "common/platform/platform.h"
#include "gamestream/gs_pin_channel.h"
#include "net/identity.h"

#define SLICE_MS 100          /* longest wait before the thread checks its stop flag */
#define REQUEST_MS 2000       /* for the command to send its line */
#define HANGUP_MS 1000        /* for the command to read the answer and hang up */
#define ANSWER_WAIT_MS 10000  /* for the server to answer */
#define REQUEST_LEN 9         /* "PIN dddd\n" */

struct pvs_gs_pin_channel {
    struct pvs_ipc_server *srv;
    struct pvs_thread *thread;
    atomic_bool stop;
    pvs_gs_pin_fn fn;
    void *opaque;
    _Atomic uint64_t pins, dropped, refused;
};

bool pvs_gs_pin_valid(const char *pin)
{
    if (!pin)
        return false;
    for (int i = 0; i < PVS_GS_PIN_DIGITS; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return false;
    return pin[PVS_GS_PIN_DIGITS] == '\0';
}

int pvs_gs_pin_parse_request(const char *buf, size_t len, char pin[PVS_GS_PIN_DIGITS + 1])
{
    if (!buf || !pin || len != REQUEST_LEN || memcmp(buf, "PIN ", 4) != 0 ||
        buf[len - 1] != '\n')
        return PVS_EBADDATA;
    memcpy(pin, buf + 4, PVS_GS_PIN_DIGITS);
    pin[PVS_GS_PIN_DIGITS] = '\0';
    return pvs_gs_pin_valid(pin) ? 0 : PVS_EBADDATA;
}

int pvs_gs_pin_parse_answer(const char *buf, size_t len, bool *taken, char *text,
                            size_t text_len)
{
    if (!buf || !taken || !text || text_len == 0 || len < 4 ||
        len > 3 + PVS_GS_PIN_ANSWER_MAX + 1 || buf[len - 1] != '\n' || buf[2] != ' ')
        return PVS_EBADDATA;
    if (memcmp(buf, "OK", 2) == 0)
        *taken = true;
    else if (memcmp(buf, "NO", 2) == 0)
        *taken = false;
    else
        return PVS_EBADDATA;
    size_t n = len - 4;
    for (size_t i = 0; i < n; i++)
        if (buf[3 + i] < 0x20 || buf[3 + i] > 0x7e)
            return PVS_EBADDATA;
    if (n >= text_len)
        n = text_len - 1;
    memcpy(text, buf + 3, n);
    text[n] = '\0';
    return 0;
}

/* Whether the bytes so far can still become "PIN dddd\n": garbage is
 * dropped at once, not after the command's time is up. */
static bool could_be_request(const char *buf, size_t got)
{
    static const char pattern[] = "PIN ####\n";
    if (got > REQUEST_LEN)
        return false;
    for (size_t i = 0; i < got; i++) {
        bool digit = buf[i] >= '0' && buf[i] <= '9';
        if (pattern[i] == '#' ? !digit : buf[i] != pattern[i])
            return false;
    }
    return true;
}

/* Reads until a line end, the buffer is full, the other side closes, the
 * time is up, or (when `plausible` is given) what came cannot be what is
 * wanted; in slices, so a stopping thread is not held. Returns the bytes
 * read. */
static size_t read_line(struct pvs_ipc_conn *conn, char *buf, size_t cap, int timeout_ms,
                        const atomic_bool *stop, bool (*plausible)(const char *, size_t))
{
    size_t got = 0;
    int64_t deadline = pvs_time_ns() + (int64_t)timeout_ms * 1000000;
    while (got < cap && !memchr(buf, '\n', got) && (!plausible || plausible(buf, got))) {
        if ((stop && atomic_load(stop)) || pvs_time_ns() >= deadline)
            break;
        int n = pvs_ipc_read(conn, buf + got, cap - got, SLICE_MS);
        if (n == PVS_ETIMEDOUT)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* The answer goes to a terminal: printable ASCII only, one line. */
static size_t clean_answer(char *s)
{
    size_t n = 0;
    for (; s[n] && n < PVS_GS_PIN_ANSWER_MAX; n++)
        if (s[n] < 0x20 || s[n] > 0x7e)
            s[n] = '?';
    s[n] = '\0';
    return n;
}

static void serve_one(struct pvs_gs_pin_channel *c, struct pvs_ipc_conn *conn)
{
    char buf[32], pin[PVS_GS_PIN_DIGITS + 1];
    size_t got = read_line(conn, buf, sizeof(buf), REQUEST_MS, &c->stop, could_be_request);
    if (pvs_gs_pin_parse_request(buf, got, pin) != 0) {
        atomic_fetch_add(&c->dropped, 1);
        PVS_LOG_W("PIN channel: dropped a connection that did not send \"PIN\" and 4 digits");
        return;
    }
    atomic_fetch_add(&c->pins, 1);
    char answer[PVS_GS_PIN_ANSWER_MAX + 1] = "";
    bool taken = c->fn(c->opaque, pin, answer, sizeof(answer));
    if (!clean_answer(answer))
        snprintf(answer, sizeof(answer), "%s", taken ? "accepted" : "refused");
    char line[PVS_GS_PIN_ANSWER_MAX + 8];
    int n = snprintf(line, sizeof(line), "%s %s\n", taken ? "OK" : "NO", answer);
    if (pvs_ipc_write(conn, line, (size_t)n) != 0)
        return;
    /* Let the command read the answer and hang up first: a named pipe
     * disconnected at once loses what the client has not read yet. */
    read_line(conn, buf, sizeof(buf), HANGUP_MS, &c->stop, NULL);
}

static int channel_main(void *arg)
{
    struct pvs_gs_pin_channel *c = arg;
    bool warned = false;
    while (!atomic_load(&c->stop)) {
        struct pvs_ipc_conn *conn = NULL;
        int rc = pvs_ipc_accept(c->srv, &conn, SLICE_MS);
        if (rc == 0) {
            serve_one(c, conn);
            pvs_ipc_conn_close(&conn);
        } else if (rc == -EACCES) {
            atomic_fetch_add(&c->refused, 1);
        } else if (rc != PVS_ETIMEDOUT) {
            if (!warned)
                PVS_LOG_W("PIN channel: waiting for a command failed: %s", pvs_strerror(rc));
            warned = true;
            pvs_sleep_ns(SLICE_MS * INT64_C(1000000));
        }
    }
    return 0;
}

static int resolve_dir(const char *dir, char *buf, size_t len)
{
    if (dir) {
        snprintf(buf, len, "%s", dir);
        return 0;
    }
    return pvs_identity_dir(buf, len);
}

int pvs_gs_pin_channel_open(struct pvs_gs_pin_channel **out, const char *dir,
                            pvs_gs_pin_fn fn, void *opaque)
{
    if (!out || !fn)
        return PVS_EINVAL;
    *out = NULL;
    char path[1024];
    int rc = resolve_dir(dir, path, sizeof(path));
    if (rc)
        return rc;
    struct pvs_gs_pin_channel *c = calloc(1, sizeof(*c));
    if (!c)
        return PVS_ENOMEM;
    c->fn = fn;
    c->opaque = opaque;
    if ((rc = pvs_ipc_listen(&c->srv, path, PVS_GS_PIN_CHANNEL_NAME)) != 0 ||
        (rc = pvs_thread_create(&c->thread, channel_main, c, "gs-pin")) != 0) {
        pvs_gs_pin_channel_close(&c);
        return rc;
    }
    *out = c;
    return 0;
}

void pvs_gs_pin_channel_close(struct pvs_gs_pin_channel **cp)
{
    if (!cp || !*cp)
        return;
    struct pvs_gs_pin_channel *c = *cp;
    atomic_store(&c->stop, true);
    pvs_thread_join(&c->thread, NULL);
    pvs_ipc_close(&c->srv);
    free(c);
    *cp = NULL;
}

void pvs_gs_pin_channel_get_stats(const struct pvs_gs_pin_channel *c,
                                  struct pvs_gs_pin_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    out->pins = atomic_load(&c->pins);
    out->dropped = atomic_load(&c->dropped);
    out->refused = atomic_load(&c->refused);
}

int pvs_gs_pin_send(const char *dir, const char *pin, char *answer, size_t answer_len)
{
    char scratch[8];
    if (!answer || answer_len == 0) {
        answer = scratch;
        answer_len = sizeof(scratch);
    }
    answer[0] = '\0';
    if (!pvs_gs_pin_valid(pin)) {
        snprintf(answer, answer_len, "a PIN is the 4 digits Moonlight shows");
        return PVS_EINVAL;
    }
    char path[1024];
    int rc = resolve_dir(dir, path, sizeof(path));
    if (rc) {
        snprintf(answer, answer_len, "cannot find the configuration directory");
        return rc;
    }
    struct pvs_ipc_conn *conn = NULL;
    rc = pvs_ipc_connect(&conn, path, PVS_GS_PIN_CHANNEL_NAME);
    if (rc == PVS_ENOENT)
        snprintf(answer, answer_len, "no pvstream-server with GameStream on is running "
                                     "as this user");
    else if (rc == -EACCES)
        snprintf(answer, answer_len, "the running server belongs to another user: run "
                                     "this as that user or as an administrator");
    else if (rc)
        snprintf(answer, answer_len, "cannot reach the server: %s", pvs_strerror(rc));
    if (rc)
        return rc;
    char req[REQUEST_LEN + 1];
    snprintf(req, sizeof(req), "PIN %s\n", pin);
    char buf[PVS_GS_PIN_ANSWER_MAX + 8];
    bool taken = false;
    rc = pvs_ipc_write(conn, req, REQUEST_LEN);
    size_t got = rc ? 0 : read_line(conn, buf, sizeof(buf), ANSWER_WAIT_MS, NULL, NULL);
    pvs_ipc_conn_close(&conn);
    if (rc || pvs_gs_pin_parse_answer(buf, got, &taken, answer, answer_len) != 0) {
        snprintf(answer, answer_len, "the server did not answer");
        return rc ? rc : PVS_ETIMEDOUT;
    }
    return taken ? 0 : PVS_EAGAIN;
}
