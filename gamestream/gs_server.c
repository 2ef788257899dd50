/* The GameStream host's HTTP side (gamestream/gs_server.h). */
#include "gamestream/gs_server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "pvs_config.h"
#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_clients.h"
#include "gamestream/gs_crypto.h"
#include "gamestream/gs_http.h"
#include "gamestream/gs_mdns.h"
#include "gamestream/gs_pairing.h"
#include "gamestream/gs_pin_channel.h"
#include "net/identity.h"

#define PATH_MAX_ 600
#define XML_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
#define KEY_PEM_MAX 4096

struct pvs_gs_server {
    struct pvs_gs_server_opts o;
    char dir[PATH_MAX_], clients_path[PATH_MAX_ + 32];
    char name[PVS_GS_APP_NAME_MAX + 1];
    char uniqueid[33];               /* from the certificate's fingerprint */
    char apps[PVS_GS_APPS_MAX][PVS_GS_APP_NAME_MAX + 1];
    int napps;
    struct pvs_gs_host *host;
    struct pvs_gs_pairing *pairing;
    struct pvs_gs_http *http;
    struct pvs_gs_pin_channel *pin;
    struct pvs_gs_mdns *mdns;
    pvs_mutex mu;                    /* what follows */
    int streaming_app;               /* 0: none */
    struct pvs_gs_server_stats st;
};

/* ---- small parts ------------------------------------------------------------ */

bool pvs_gs_addr_is_lan(const struct pvs_addr *a)
{
    if (!a || a->len < sizeof(struct sockaddr_in))
        return false;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, a->u.bytes, a->len < sizeof(ss) ? a->len : sizeof(ss));
    const uint8_t *b;
    if (ss.ss_family == AF_INET) {
        b = (const uint8_t *)&((const struct sockaddr_in *)&ss)->sin_addr;
    } else if (ss.ss_family == AF_INET6) {
        b = (const uint8_t *)&((const struct sockaddr_in6 *)&ss)->sin6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        static const uint8_t loop6[16] = { [15] = 1 };
        if (!memcmp(b, loop6, 16))
            return true;
        if ((b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80))
            return true; /* ULA fc00::/7, link-local fe80::/10 */
        if (memcmp(b, mapped, 12))
            return false;
        b += 12;
    } else {
        return false;
    }
    return b[0] == 127 || b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
           (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254);
}

int pvs_gs_apps_parse(const char *apps, char names[][PVS_GS_APP_NAME_MAX + 1], int max,
                      char *why, size_t why_len)
{
    int n = 0;
    const char *p = apps ? apps : "";
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (n >= max) {
            snprintf(why, why_len, "more than %d apps", max);
            return PVS_EINVAL;
        }
        if (len > PVS_GS_APP_NAME_MAX) {
            snprintf(why, why_len, "an app name is longer than %d characters", PVS_GS_APP_NAME_MAX);
            return PVS_EINVAL;
        }
        for (size_t i = 0; i < len; i++) {
            if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
                snprintf(why, why_len, "an app name holds a control character");
                return PVS_EINVAL;
            }
        }
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        n++;
        p += len;
    }
    return n;
}

/* A growing XML text; on allocation failure it stays NULL and the reply
 * becomes a 500. */
struct text {
    char *s;
    size_t len, cap;
};

static void add(struct text *t, const char *s, size_t n)
{
    if (!t->s && t->cap)
        return; /* failed before */
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2 + 256;
        char *p = realloc(t->s, cap);
        if (!p) {
            free(t->s);
            t->s = NULL;
            t->cap = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void adds(struct text *t, const char *s)
{
    add(t, s, strlen(s));
}

static void addf(struct text *t, const char *fmt, ...) PVS_PRINTF(2, 3);
static void addf(struct text *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        add(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void add_escaped(struct text *t, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': adds(t, "&amp;"); break;
        case '<': adds(t, "&lt;"); break;
        case '>': adds(t, "&gt;"); break;
        case '"': adds(t, "&quot;"); break;
        case '\'': adds(t, "&apos;"); break;
        default: add(t, s, 1);
        }
    }
}

static void send_text(struct pvs_gs_http_response *resp, struct text *t)
{
    if (!t->s)
        pvs_gs_http_reply(resp, 500, "text/plain", NULL, 0);
    else
        pvs_gs_http_reply(resp, 200, "application/xml", t->s, t->len);
    free(t->s);
}

/* <root status_code="N" status_message="..."/>: what the client shows. */
static void send_status(struct pvs_gs_http_response *resp, int http, int code, const char *msg)
{
    struct text t = { 0 };
    addf(&t, XML_HEAD "<root status_code=\"%d\" status_message=\"", code);
    add_escaped(&t, msg);
    adds(&t, "\"/>\n");
    if (t.s)
        pvs_gs_http_reply(resp, http, "application/xml", t.s, t.len);
    else
        pvs_gs_http_reply(resp, 500, "text/plain", NULL, 0);
    free(t.s);
}

static void count(struct pvs_gs_server *s, uint64_t *field)
{
    pvs_mutex_lock(&s->mu);
    (*field)++;
    pvs_mutex_unlock(&s->mu);
}

/* ---- the answers ------------------------------------------------------------ */

static void serverinfo(struct pvs_gs_server *s, const struct pvs_gs_http_request *req, bool paired,
                       struct pvs_gs_http_response *resp)
{
    pvs_mutex_lock(&s->mu);
    int app = s->streaming_app;
    pvs_mutex_unlock(&s->mu);
    char local[64] = "";
    pvs_addr_format(&req->local, local, sizeof(local));
    char *colon = strrchr(local, ':'); /* the address without its port */
    if (colon)
        *colon = '\0';
    const char *ip = local[0] == '[' ? local + 1 : local;
    size_t iplen = strlen(ip);
    char ipbuf[64];
    snprintf(ipbuf, sizeof(ipbuf), "%.*s", (int)(iplen && ip[iplen - 1] == ']' ? iplen - 1 : iplen), ip);

    struct text t = { 0 };
    adds(&t, XML_HEAD "<root status_code=\"200\"><hostname>");
    add_escaped(&t, s->name);
    adds(&t, "</hostname><appversion>" PVS_GS_APPVERSION "</appversion>");
    /* GfeVersion and GsVersion: the client needs them present; the values
     * are ours. */
    adds(&t, "<GfeVersion>3.23.0.74</GfeVersion><GsVersion>pvstream-" PVS_VERSION "</GsVersion>");
    addf(&t, "<uniqueid>%s</uniqueid><HttpsPort>%u</HttpsPort><ExternalPort>%u</ExternalPort>",
         s->uniqueid, (unsigned)pvs_gs_http_port(s->http, true),
         (unsigned)pvs_gs_http_port(s->http, false));
    adds(&t, "<mac>00:00:00:00:00:00</mac><LocalIP>");
    add_escaped(&t, ipbuf);
    int w = s->o.max_width ? s->o.max_width : 1920, h = s->o.max_height ? s->o.max_height : 1080;
    int fps = s->o.max_fps ? s->o.max_fps : 60;
    addf(&t, "</LocalIP><ServerCodecModeSupport>%u</ServerCodecModeSupport>"
         "<MaxLumaPixelsHEVC>%d</MaxLumaPixelsHEVC>",
         (unsigned)s->o.codec_modes, (s->o.codec_modes & 0x300) ? w * h : 0);
    addf(&t, "<SupportedDisplayMode><DisplayMode><Width>%d</Width><Height>%d</Height>"
         "<RefreshRate>%d</RefreshRate></DisplayMode></SupportedDisplayMode>", w, h, fps);
    adds(&t, "<gputype>pvstream</gputype>");
    addf(&t, "<PairStatus>%d</PairStatus><currentgame>%d</currentgame>"
         "<state>%s</state></root>\n",
         paired ? 1 : 0, app, app ? "SUNSHINE_SERVER_BUSY" : "SUNSHINE_SERVER_FREE");
    send_text(resp, &t);
}

static void applist(struct pvs_gs_server *s, struct pvs_gs_http_response *resp)
{
    struct text t = { 0 };
    adds(&t, XML_HEAD "<root status_code=\"200\">");
    for (int i = 0; i < s->napps; i++) {
        adds(&t, "<App><IsHdrSupported>0</IsHdrSupported><AppTitle>");
        add_escaped(&t, s->apps[i]);
        addf(&t, "</AppTitle><ID>%d</ID></App>", i + 1);
    }
    adds(&t, "</root>\n");
    send_text(resp, &t);
}

/* The box art every app shows: a monitor on a slate card, 130x180, made
 * for pvstream. */
static const uint8_t app_png[] = {
#include "gamestream/gs_app_png.inc"
};

static void appasset(struct pvs_gs_server *s, const struct pvs_gs_query *q,
                     struct pvs_gs_http_response *resp)
{
    const char *id = pvs_gs_query_get(q, "appid");
    int app = id ? atoi(id) : 0;
    if (app < 1 || app > s->napps) {
        send_status(resp, 404, 404, "no such app");
        return;
    }
    pvs_gs_http_reply(resp, 200, "image/png", app_png, sizeof(app_png));
}

static int parse_launch(const struct pvs_gs_query *q, struct pvs_gs_launch *l, int napps)
{
    const char *appid = pvs_gs_query_get(q, "appid"), *mode = pvs_gs_query_get(q, "mode");
    const char *rikey = pvs_gs_query_get(q, "rikey"), *rikeyid = pvs_gs_query_get(q, "rikeyid");
    if (!appid || !mode || !rikey || !rikeyid)
        return PVS_EINVAL;
    char *end;
    long app = strtol(appid, &end, 10);
    if (*end || app < 1 || app > napps)
        return PVS_EINVAL;
    l->app_id = (int)app;
    char x1, x2;
    if (sscanf(mode, "%d%c%d%c%d", &l->width, &x1, &l->height, &x2, &l->fps) != 5 || x1 != 'x' ||
        x2 != 'x' || l->width < 64 || l->width > 16384 || l->height < 64 || l->height > 16384 ||
        l->fps < 0 || l->fps > 1000)
        return PVS_EINVAL;
    if (strlen(rikey) != 32 || pvs_gs_hex_decode(rikey, 32, l->rikey, sizeof(l->rikey)) != 16)
        return PVS_EINVAL;
    long long id = strtoll(rikeyid, &end, 10);
    if (*end || id < INT32_MIN || id > UINT32_MAX)
        return PVS_EINVAL;
    l->rikeyid = (uint32_t)id; /* a signed decimal on the wire */
    const char *v = pvs_gs_query_get(q, "surroundAudioInfo");
    l->surround_info = v ? atoi(v) : 0;
    v = pvs_gs_query_get(q, "localAudioPlayMode");
    l->local_audio = v && atoi(v) != 0;
    v = pvs_gs_query_get(q, "remoteControllersBitmap");
    l->gamepads = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    v = pvs_gs_query_get(q, "hdrMode");
    l->hdr = v && atoi(v) != 0;
    return 0;
}

static void launch(struct pvs_gs_server *s, const struct pvs_gs_http_request *req,
                   const char *client, bool resume, struct pvs_gs_http_response *resp)
{
    struct pvs_gs_launch l = { .resume = resume, .peer = req->peer };
    if (parse_launch(req->query, &l, s->napps) < 0) {
        pvs_gs_wipe(&l, sizeof(l));
        send_status(resp, 400, 400, "malformed launch request");
        return;
    }
    snprintf(l.client, sizeof(l.client), "%s", client);
    char why[128] = "";
    int err = s->o.on_launch ? s->o.on_launch(s->o.opaque, &l, why, sizeof(why)) : PVS_ENOTSUP;
    pvs_gs_wipe(l.rikey, sizeof(l.rikey));
    if (err < 0) {
        send_status(resp, 200, 503, why[0] ? why : "the host cannot start a stream now");
        return;
    }
    PVS_LOG_I("gamestream: %s %s \"%s\" at %dx%d, %d fps", client, resume ? "resumes" : "launches",
              s->apps[l.app_id - 1], l.width, l.height, l.fps);
    char local[80] = "";
    pvs_addr_format(&req->local, local, sizeof(local));
    char *colon = strrchr(local, ':');
    if (colon)
        *colon = '\0';
    struct text t = { 0 };
    addf(&t, XML_HEAD "<root status_code=\"200\"><%s>1</%s><sessionUrl0>rtsp://",
         resume ? "resume" : "gamesession", resume ? "resume" : "gamesession");
    add_escaped(&t, local);
    addf(&t, ":%d</sessionUrl0></root>\n", s->o.http_port + PVS_GS_RTSP_OFFSET);
    send_text(resp, &t);
}

static void handler(void *opaque, const struct pvs_gs_http_request *req,
                    struct pvs_gs_http_response *resp)
{
    struct pvs_gs_server *s = opaque;
    count(s, &s->st.requests);
    if (s->o.allow == PVS_GS_ALLOW_LAN && !pvs_gs_addr_is_lan(&req->peer)) {
        char who[80];
        pvs_addr_format(&req->peer, who, sizeof(who));
        PVS_LOG_D("gamestream: %s is outside the allowed networks", who);
        count(s, &s->st.not_allowed);
        send_status(resp, 403, 403, "this host serves its local network only");
        return;
    }
    const char *path = req->path;
    if (!strcmp(path, "/pair") || !strcmp(path, "/unpair")) {
        char *xml = malloc(PVS_GS_PAIRING_XML_MAX);
        int n = !xml ? PVS_ENOMEM
                : path[1] == 'p' ? pvs_gs_pairing_handle(s->pairing, req->query, req->peer_cert,
                                                         req->peer_cert_len, req->tls, xml,
                                                         PVS_GS_PAIRING_XML_MAX)
                                 : pvs_gs_pairing_unpair(s->pairing, req->query, req->peer_cert,
                                                         req->peer_cert_len, req->tls, xml,
                                                         PVS_GS_PAIRING_XML_MAX);
        if (n < 0)
            pvs_gs_http_reply(resp, 500, "text/plain", NULL, 0);
        else
            pvs_gs_http_reply(resp, 200, "application/xml", xml, (size_t)n);
        free(xml);
        return;
    }
    /* Everything else over HTTPS needs a paired certificate. */
    struct pvs_peer peer;
    bool paired = req->tls && req->peer_cert &&
                  pvs_gs_clients_find_cert(s->clients_path, req->peer_cert, req->peer_cert_len,
                                           &peer) == 0;
    if (!strcmp(path, "/serverinfo")) {
        if (req->tls && !paired) {
            count(s, &s->st.not_paired);
            send_status(resp, 401, 401, "the client is not paired");
            return;
        }
        serverinfo(s, req, paired, resp);
        return;
    }
    bool known = !strcmp(path, "/applist") || !strcmp(path, "/appasset") ||
                 !strcmp(path, "/launch") || !strcmp(path, "/resume") || !strcmp(path, "/cancel");
    if (!known) {
        count(s, &s->st.not_found);
        send_status(resp, 404, 404, "not found");
        return;
    }
    if (!paired) {
        count(s, &s->st.not_paired);
        send_status(resp, 401, 401, "the client is not paired");
        return;
    }
    if (!strcmp(path, "/applist")) {
        applist(s, resp);
    } else if (!strcmp(path, "/appasset")) {
        appasset(s, req->query, resp);
    } else if (!strcmp(path, "/cancel")) {
        if (s->o.on_cancel)
            s->o.on_cancel(s->o.opaque);
        PVS_LOG_I("gamestream: %s ended the session", peer.name);
        struct text t = { 0 };
        adds(&t, XML_HEAD "<root status_code=\"200\"><cancel>1</cancel></root>\n");
        send_text(resp, &t);
    } else {
        launch(s, req, peer.name, !strcmp(path, "/resume"), resp);
    }
}

static bool on_pin(void *opaque, const char *pin, char *answer, size_t answer_len)
{
    struct pvs_gs_server *s = opaque;
    char name[80] = "";
    bool waiting = pvs_gs_pairing_waiting(s->pairing, name, sizeof(name));
    int err = waiting ? pvs_gs_pairing_set_pin(s->pairing, pin) : PVS_ENOENT;
    if (err == 0) {
        snprintf(answer, answer_len, "PIN handed to the Moonlight client %s", name);
        return true;
    }
    snprintf(answer, answer_len, "%s", err == PVS_ENOENT ? "no Moonlight client is waiting for a PIN"
                                                         : "the PIN was not taken");
    return false;
}

static void wake(void *opaque)
{
    struct pvs_gs_server *s = opaque;
    pvs_gs_pairing_stop(s->pairing);
}

/* ---- open and close ------------------------------------------------------------ */

static int open_parts(struct pvs_gs_server *s)
{
    char path[PATH_MAX_ + 32];
    snprintf(path, sizeof(path), "%s" PVS_PATH_SEP "%s", s->dir, PVS_GS_HOST_FILE);
    int err = pvs_gs_host_load_or_create(&s->host, path, "pvstream");
    if (err < 0) {
        PVS_LOG_E("gamestream: cannot load or make the host certificate %s: %s", path,
                  pvs_strerror(err));
        return err;
    }
    uint8_t fp[PVS_GS_SHA256_BYTES];
    err = pvs_gs_cert_fingerprint(pvs_gs_host_cert(s->host), fp);
    if (err < 0)
        return err;
    pvs_gs_hex_encode(fp, 16, s->uniqueid, sizeof(s->uniqueid));

    struct pvs_gs_pairing_opts po = {
        .host = s->host, .clients_path = s->clients_path,
        .pin_timeout_ms = s->o.pin_timeout_ms ? s->o.pin_timeout_ms : PVS_GS_PIN_TIMEOUT_MS,
    };
    err = pvs_gs_pairing_open(&s->pairing, &po);
    if (err < 0)
        return err;

    char *key = malloc(KEY_PEM_MAX);
    if (!key)
        return PVS_ENOMEM;
    err = pvs_gs_host_key_pem(s->host, key, KEY_PEM_MAX);
    struct pvs_gs_http_opts ho;
    pvs_gs_http_default_opts(&ho);
    ho.bind_host = s->o.bind;
    ho.http_port = s->o.http_port;
    ho.https_port = s->o.https_port;
    ho.cert_pem = pvs_gs_host_cert_pem(s->host, NULL);
    ho.key_pem = key;
    ho.handler = handler;
    ho.wake = wake;
    ho.opaque = s;
    if (err >= 0)
        err = pvs_gs_http_open(&s->http, &ho);
    pvs_gs_wipe(key, KEY_PEM_MAX);
    free(key);
    if (err < 0) {
        PVS_LOG_E("gamestream: cannot serve HTTP on ports %d and %d: %s", ho.http_port,
                  ho.https_port, pvs_strerror(err));
        return err;
    }
    if (s->o.pin_channel) {
        err = pvs_gs_pin_channel_open(&s->pin, s->dir, on_pin, s);
        if (err < 0)
            PVS_LOG_W("gamestream: `pvstream-server pin` cannot reach this server: %s",
                      pvs_strerror(err));
    }
    if (s->o.mdns)
        pvs_gs_mdns_open(&s->mdns, s->name, pvs_gs_http_port(s->http, false));
    return 0;
}

int pvs_gs_server_open(struct pvs_gs_server **out, const struct pvs_gs_server_opts *o)
{
    if (!out || !o)
        return PVS_EINVAL;
    *out = NULL;
    struct pvs_gs_server *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->o = *o;
    if (s->o.http_port == 0)
        s->o.http_port = PVS_GS_HTTP_PORT;
    if (s->o.https_port == 0)
        s->o.https_port = PVS_GS_HTTPS_PORT;
    int err = 0;
    if (o->config_dir)
        snprintf(s->dir, sizeof(s->dir), "%s", o->config_dir);
    else
        err = pvs_identity_dir(s->dir, sizeof(s->dir));
    snprintf(s->clients_path, sizeof(s->clients_path), "%s" PVS_PATH_SEP "%s", s->dir, PVS_GS_CLIENTS_FILE);
    if (o->name && *o->name)
        snprintf(s->name, sizeof(s->name), "%s", o->name);
    else if (gethostname(s->name, sizeof(s->name) - 1) != 0 || !s->name[0])
        snprintf(s->name, sizeof(s->name), "pvstream");
    snprintf(s->apps[0], sizeof(s->apps[0]), "Desktop");
    char why[128];
    int n = pvs_gs_apps_parse(o->apps, s->apps + 1, PVS_GS_APPS_MAX - 1, why, sizeof(why));
    if (n < 0) {
        PVS_LOG_E("gamestream: apps: %s", why);
        err = PVS_EINVAL;
    }
    s->napps = 1 + (n > 0 ? n : 0);
    if (pvs_mutex_init(&s->mu)) {
        free(s);
        return PVS_ENOMEM;
    }
    if (!err)
        err = open_parts(s);
    /* The strings were the caller's: not kept past open. */
    s->o.apps = s->o.name = s->o.bind = NULL;
    if (err) {
        pvs_gs_server_close(&s);
        return err;
    }
    *out = s;
    return 0;
}

void pvs_gs_server_close(struct pvs_gs_server **ps)
{
    if (!ps || !*ps)
        return;
    struct pvs_gs_server *s = *ps;
    pvs_gs_mdns_close(&s->mdns);
    pvs_gs_pin_channel_close(&s->pin);
    if (s->pairing)
        pvs_gs_pairing_stop(s->pairing);
    pvs_gs_http_close(&s->http);
    pvs_gs_pairing_close(&s->pairing);
    pvs_gs_host_close(&s->host);
    pvs_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

void pvs_gs_server_set_streaming(struct pvs_gs_server *s, int app_id)
{
    if (!s)
        return;
    pvs_mutex_lock(&s->mu);
    s->streaming_app = app_id;
    pvs_mutex_unlock(&s->mu);
}

uint16_t pvs_gs_server_port(const struct pvs_gs_server *s, bool tls)
{
    return s ? pvs_gs_http_port(s->http, tls) : 0;
}

void pvs_gs_server_get_stats(const struct pvs_gs_server *s, struct pvs_gs_server_stats *out)
{
    if (!s || !out)
        return;
    pvs_mutex_lock((pvs_mutex *)&s->mu);
    *out = s->st;
    pvs_mutex_unlock((pvs_mutex *)&s->mu);
}
