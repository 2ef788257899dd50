/* The GameStream host mode inside pvstream-server (server/gamestream.h). */
#include "server/gamestream.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "encode/encoder.h"
#include "gamestream/gs_audio.h"
#include "gamestream/gs_clients.h"
#include "gamestream/gs_crypto.h"
#include "gamestream/gs_pin_channel.h"
#include "gamestream/gs_server.h"
#include "net/identity.h"

/* Moonlight's ServerCodecModeSupport bits (fact from moonlight-common-c
 * src/Limelight.h, SCM_*). */
#define SCM_H264 0x00000001u
#define SCM_HEVC 0x00000100u
#define SCM_AV1_MAIN8 0x00010000u

struct pvs_server_gs {
    struct pvs_server_settings cfg;  /* a copy: the thread reads it */
    struct pvs_thread *thread;
    struct pvs_gs_server *_Atomic srv; /* set by the start thread */
    /* Made by the start thread before the HTTP side opens; read by the
     * main loop (NULL until then, or when it could not open). */
    struct pvs_gs_session *_Atomic session;
    pvs_mutex mu;                    /* native */
    char native[64];                 /* the pvstream client streaming; "" none */
};

/* The codecs an encoder here opens for: what serverinfo offers. With
 * --encoder or --codec set, that codec only. */
static uint32_t probe_codecs(const struct pvs_server_settings *cfg)
{
    static const uint32_t bit[PVS_CODEC_COUNT] = {
        [PVS_CODEC_H264] = SCM_H264, [PVS_CODEC_HEVC] = SCM_HEVC, [PVS_CODEC_AV1] = SCM_AV1_MAIN8,
    };
    uint32_t modes = 0;
    for (int c = 0; c < PVS_CODEC_COUNT; c++) {
        if (cfg->codec != PVS_CODEC_COUNT && cfg->codec != c)
            continue;
        for (const struct pvs_encoder_info *i = pvs_encoder_infos; i->name && !(modes & bit[c]); i++) {
            if ((int)i->codec != c || (strcmp(cfg->encoder, "auto") && strcmp(cfg->encoder, i->name)))
                continue;
            struct pvs_encoder_opts o = { .codec = i->codec, .width = 640, .height = 360, .fps = 30 };
            char why[256];
            if (pvs_encoder_probe(i->name, &o, why, sizeof(why)) == 0)
                modes |= bit[c];
        }
    }
    return modes;
}

static int on_launch(void *opaque, const struct pvs_gs_launch *l, char *why, size_t why_len)
{
    struct pvs_server_gs *g = opaque;
    struct pvs_gs_session *sess = atomic_load(&g->session);
    pvs_mutex_lock(&g->mu);
    if (g->native[0])
        snprintf(why, why_len, "a pvstream client (%s) is streaming from this host", g->native);
    pvs_mutex_unlock(&g->mu);
    if (!sess && !why[0])
        snprintf(why, why_len, "this host cannot stream to Moonlight (its log says why)");
    if (why[0]) {
        PVS_LOG_I("gamestream: %s may not stream: %s", l->client, why);
        return PVS_EAGAIN;
    }
    struct pvs_gs_session_launch sl = { .key_id = l->rikeyid, .client = l->peer,
                                        .app_id = l->app_id };
    memcpy(sl.key, l->rikey, sizeof(sl.key));
    snprintf(sl.name, sizeof(sl.name), "%s", l->client);
    int gen = pvs_gs_session_arm(sess, &sl);
    pvs_gs_wipe(sl.key, sizeof(sl.key));
    return gen < 0 ? gen : 0;
}

static void on_cancel(void *opaque)
{
    struct pvs_server_gs *g = opaque;
    pvs_gs_session_end(atomic_load(&g->session), "the client quit the app", true);
}

/* The DESCRIBE offer: the codecs serverinfo offers, the encryption
 * gamestream/ implements, and 5.1 and 7.1 (normal then high quality). */
static void sdp_offer(uint32_t modes, struct pvs_gs_sdp_host *h)
{
    *h = (struct pvs_gs_sdp_host){
        .codecs = PVS_GS_CODEC_H264 | (modes & SCM_HEVC ? PVS_GS_CODEC_HEVC : 0) |
                  (modes & SCM_AV1_MAIN8 ? PVS_GS_CODEC_AV1 : 0),
        .encryption_supported = PVS_GS_ENC_CONTROL_V2 | PVS_GS_ENC_VIDEO | PVS_GS_ENC_AUDIO,
    };
    static const int channels[] = { 6, 6, 8, 8 };
    for (int i = 0; i < 4 && h->surround_count < PVS_GS_SURROUND_MAX; i++) {
        bool hq = i & 1;
        struct pvs_gs_opus_config c;
        if (pvs_gs_audio_opus_config(channels[i], hq, &c) != 0)
            continue;
        struct pvs_gs_opus_layout *o = &h->surround[h->surround_count++];
        o->channels = (uint8_t)c.channels;
        o->streams = (uint8_t)c.streams;
        o->coupled = (uint8_t)c.coupled;
        pvs_gs_audio_sdp_mapping(&c, hq, o->mapping);
    }
}

/* The streaming side, on GameStream's ports from the HTTP port. */
static int open_session(struct pvs_server_gs *g, uint32_t modes)
{
    const struct pvs_server_settings *cfg = &g->cfg;
    int port = cfg->gamestream_port;
    struct pvs_gs_session_config sc = {
        .bind_host = cfg->bind[0] ? cfg->bind : NULL,
        .rtsp_port = (uint16_t)(port + PVS_GS_RTSP_OFFSET),
        .video_port = (uint16_t)(port + PVS_GS_VIDEO_OFFSET),
        .audio_port = (uint16_t)(port + PVS_GS_AUDIO_OFFSET),
        .control_port = (uint16_t)(port + PVS_GS_CONTROL_OFFSET),
    };
    sdp_offer(modes, &sc.sdp);
    struct pvs_gs_session *sess = NULL;
    int err = pvs_gs_session_open(&sess, &sc);
    if (err)
        return err;
    atomic_store(&g->session, sess);
    return 0;
}

static int start_thread(void *arg)
{
    struct pvs_server_gs *g = arg;
    const struct pvs_server_settings *cfg = &g->cfg;
    uint32_t modes = probe_codecs(cfg);
    if (!modes) {
        PVS_LOG_W("gamestream: no encoder opens here: Moonlight clients are not served");
        return 0;
    }
    int port = cfg->gamestream_port;
    int err = open_session(g, modes);
    if (err < 0)
        PVS_LOG_W("gamestream: Moonlight clients may pair but not stream (%s)", pvs_strerror(err));
    struct pvs_gs_server_opts o = {
        .name = cfg->gamestream_name, .bind = cfg->bind,
        .http_port = port, .https_port = port - PVS_GS_HTTPS_OFFSET,
        .allow = (enum pvs_gs_allow)cfg->gamestream_allow, .apps = cfg->gamestream_apps,
        .codec_modes = modes, .mdns = true, .pin_channel = true,
        .max_width = cfg->size[0], .max_height = cfg->size[1], .max_fps = cfg->fps,
        .on_launch = on_launch, .on_cancel = on_cancel, .opaque = g,
    };
    struct pvs_gs_server *srv = NULL;
    err = pvs_gs_server_open(&srv, &o);
    atomic_store(&g->srv, srv);
    if (err < 0) {
        PVS_LOG_W("gamestream: Moonlight clients are not served (%s); pvstream clients are",
                  pvs_strerror(err));
        return 0;
    }
    fprintf(stderr, "pvstream-server: Moonlight clients may pair on port %u (HTTPS %u); "
            "type the PIN they show with `pvstream-server pin NNNN`\n",
            (unsigned)pvs_gs_server_port(srv, false), (unsigned)pvs_gs_server_port(srv, true));
    return 0;
}

int pvs_server_gs_start(struct pvs_server_gs **out, const struct pvs_server_settings *cfg)
{
    *out = NULL;
    if (!cfg->gamestream)
        return 0;
    struct pvs_server_gs *g = calloc(1, sizeof(*g));
    if (!g)
        return PVS_ENOMEM;
    g->cfg = *cfg;
    int err = pvs_mutex_init(&g->mu);
    if (err) {
        free(g);
        return err;
    }
    err = pvs_thread_create(&g->thread, start_thread, g, "pvs-gamestream");
    if (err) {
        pvs_mutex_destroy(&g->mu);
        free(g);
        return err;
    }
    *out = g;
    return 0;
}

void pvs_server_gs_stop(struct pvs_server_gs **pg)
{
    if (!pg || !*pg)
        return;
    struct pvs_server_gs *g = *pg;
    pvs_thread_join(&g->thread, NULL);
    struct pvs_gs_server *srv = atomic_exchange(&g->srv, NULL);
    pvs_gs_server_close(&srv);
    struct pvs_gs_session *sess = atomic_exchange(&g->session, NULL);
    pvs_gs_session_close(&sess);
    pvs_mutex_destroy(&g->mu);
    free(g);
    *pg = NULL;
}

struct pvs_gs_session *pvs_server_gs_session(struct pvs_server_gs *g)
{
    return g ? atomic_load(&g->session) : NULL;
}

void pvs_server_gs_set_native(struct pvs_server_gs *g, const char *client)
{
    if (!g)
        return;
    pvs_mutex_lock(&g->mu);
    snprintf(g->native, sizeof(g->native), "%s", client ? client : "");
    pvs_mutex_unlock(&g->mu);
}

void pvs_server_gs_set_streaming(struct pvs_server_gs *g, int app_id)
{
    if (g)
        pvs_gs_server_set_streaming(atomic_load(&g->srv), app_id);
}

int pvs_server_gs_pin(const char *pin)
{
    if (!pvs_gs_pin_valid(pin)) {
        fprintf(stderr, "pvstream-server pin: '%s': the PIN is the 4 digits the Moonlight client "
                "shows\n", pin);
        return 2;
    }
    char answer[PVS_GS_PIN_ANSWER_MAX + 1] = "";
    int err = pvs_gs_pin_send(NULL, pin, answer, sizeof(answer));
    if (err == 0) {
        printf("%s\n", answer);
        return 0;
    }
    if (err == PVS_ENOENT)
        fprintf(stderr, "pvstream-server pin: no pvstream-server is running for this user "
                "(start it, then pair from Moonlight)\n");
    else
        fprintf(stderr, "pvstream-server pin: %s\n", answer[0] ? answer : pvs_strerror(err));
    return 1;
}

static int clients_path(char *path, size_t len)
{
    char dir[512];
    int err = pvs_identity_dir(dir, sizeof(dir));
    if (err)
        return err;
    return snprintf(path, len, "%s" PVS_PATH_SEP "%s", dir, PVS_GS_CLIENTS_FILE) < (int)len
               ? 0 : PVS_ERANGE;
}

int pvs_server_gs_list_clients(void)
{
    char path[600];
    struct pvs_peer *list = NULL;
    int n = 0;
    int err = clients_path(path, sizeof(path));
    if (!err)
        err = pvs_peers_load(path, &list, &n);
    if (err) {
        fprintf(stderr, "pvstream-server clients: the Moonlight clients: %s\n", pvs_strerror(err));
        return 1;
    }
    if (n)
        printf("\nMoonlight clients (GameStream):\n%-24s %-50s %s\n", "name",
               "certificate SHA-256 (first 16 bytes)", "paired");
    for (int i = 0; i < n; i++) {
        char fp[40];
        for (int j = 0; j < 16; j++)
            snprintf(fp + 2 * j, 3, "%02x", list[i].public_key[j]);
        pvs_server_print_client(list[i].name, fp, list[i].paired_at);
    }
    pvs_peers_free(&list);
    return 0;
}

int pvs_server_gs_unpair(const char *name)
{
    char path[600];
    int err = clients_path(path, sizeof(path));
    return err ? err : pvs_gs_clients_remove(path, name);
}
