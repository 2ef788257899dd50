/* The GameStream host mode inside pvstream-server (server/gamestream.h). */
#include "server/gamestream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "encode/encoder.h"
#include "gamestream/gs_clients.h"
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
    struct pvs_gs_server *srv;
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

static int on_launch(void *opaque, const struct pvs_gs_launch *l)
{
    (void)opaque;
    PVS_LOG_W("gamestream: %s asked to stream %dx%d at %d fps: streaming to Moonlight clients is "
              "not built yet (pairing and the app list are)", l->client, l->width, l->height, l->fps);
    return PVS_ENOTSUP;
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
    struct pvs_gs_server_opts o = {
        .name = cfg->gamestream_name, .bind = cfg->bind,
        .http_port = port, .https_port = port - PVS_GS_HTTPS_OFFSET,
        .allow = (enum pvs_gs_allow)cfg->gamestream_allow, .apps = cfg->gamestream_apps,
        .codec_modes = modes, .mdns = true, .pin_channel = true,
        .max_width = cfg->size[0], .max_height = cfg->size[1], .max_fps = cfg->fps,
        .on_launch = on_launch, .opaque = g,
    };
    int err = pvs_gs_server_open(&g->srv, &o);
    if (err < 0) {
        PVS_LOG_W("gamestream: Moonlight clients are not served (%s); pvstream clients are",
                  pvs_strerror(err));
        return 0;
    }
    fprintf(stderr, "pvstream-server: Moonlight clients may pair on port %u (HTTPS %u); "
            "type the PIN they show with `pvstream-server pin NNNN`\n",
            (unsigned)pvs_gs_server_port(g->srv, false), (unsigned)pvs_gs_server_port(g->srv, true));
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
    int err = pvs_thread_create(&g->thread, start_thread, g, "pvs-gamestream");
    if (err) {
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
    pvs_gs_server_close(&g->srv);
    free(g);
    *pg = NULL;
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
