/* `pvstream-server pair`, `clients` and `unpair NAME`: the server's side of
 * PIN pairing (net/pairing.h) and the list of paired clients, kept in the
 * configuration directory (docs/security.md, "Where keys live"). Where the
 * pvstream service is installed (Windows), they work on the service's
 * store, which the running service reads: pairing works while it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"
#include "common/platform/platform.h"
#include "net/identity.h"
#include "net/pairing.h"
#include "server/server.h"
#include "server/service.h"

/* For pair, clients and unpair (not the server itself, which stays in the
 * store of whoever runs it): the service's store where the service is
 * installed and PVS_CONFIG_DIR does not say otherwise; said once. Returns
 * 0 or PVS_ECONFIG (not elevated: logged). */
static int choose_store(void)
{
    static int chosen = 1;
    if (chosen <= 0)
        return chosen;
    const char *env = getenv("PVS_CONFIG_DIR");
    chosen = 0;
    if ((!env || !*env) && pvs_service_installed()) {
        chosen = pvs_keyfile_use_service_store();
        if (!chosen)
            printf("The pvstream service is installed: working on its keys and paired clients "
                   "(%%ProgramData%%\\pvstream).\n");
    }
    return chosen;
}

int pvs_server_key_paths(char *key, size_t key_len, char *clients, size_t clients_len)
{
    char dir[512];
    int err = pvs_identity_dir(dir, sizeof(dir));
    if (err)
        return err;
    if (snprintf(key, key_len, "%s" PVS_PATH_SEP "%s", dir, PVS_SERVER_KEY_FILE) >= (int)key_len ||
        snprintf(clients, clients_len, "%s" PVS_PATH_SEP "%s", dir, PVS_SERVER_CLIENTS_FILE) >= (int)clients_len)
        return PVS_ERANGE;
    return 0;
}

int pvs_server_pair(const struct pvs_server_settings *s, const volatile sig_atomic_t *stop)
{
    char key_path[600], clients_path[600];
    struct pvs_identity me;
    int err = choose_store();
    if (!err)
        err = pvs_server_key_paths(key_path, sizeof(key_path), clients_path, sizeof(clients_path));
    if (!err)
        err = pvs_identity_load_or_create(key_path, &me);
    if (!err)
        err = pvs_net_init();
    if (err) {
        fprintf(stderr, "pvstream-server pair: %s\n", pvs_strerror(err));
        return 1;
    }
    char pin[PVS_PAIR_PIN_DIGITS + 1], fp[PVS_FINGERPRINT_CHARS];
    pvs_pair_new_pin(pin);
    pvs_fingerprint(me.public_key, fp);
    int port = s->port + PVS_PAIR_PORT_OFFSET;
    char suffix[16] = "";
    if (s->port != PVS_SERVER_DEFAULT_PORT)
        snprintf(suffix, sizeof(suffix), ":%d", s->port);
    printf("Pairing is open for %d seconds on UDP port %d, for one client.\n"
           "On the client, run:   pvstream-client pair THIS-HOST%s\n"
           "and enter the PIN:    %s\n"
           "This server's key:    %s\n",
           PVS_PAIR_WINDOW_SECONDS, port, suffix, pin, fp);
    fflush(stdout);
    struct pvs_pair_result r;
    err = pvs_pair_serve(s->bind[0] ? s->bind : NULL, (uint16_t)port, pin, &me,
                         PVS_PAIR_WINDOW_SECONDS, stop, &r);
    pvs_identity_wipe(&me);
    int rc = 1;
    if (err == 0) {
        struct pvs_peer p = { .paired_at = (int64_t)time(NULL) };
        snprintf(p.name, sizeof(p.name), "%s", r.name);
        memcpy(p.public_key, r.key, sizeof(p.public_key));
        err = pvs_peers_add(clients_path, &p);
        pvs_fingerprint(r.key, fp);
        if (!err) {
            printf("Paired with '%s' (key %s). It may connect now.\n", r.name, fp);
            rc = 0;
        } else {
            fprintf(stderr, "pvstream-server pair: paired with '%s' but cannot save it in %s: %s\n",
                    r.name, clients_path, pvs_strerror(err));
        }
    } else if (err == PVS_ETIMEDOUT) {
        fprintf(stderr, "pvstream-server pair: the pairing window closed: no client paired within "
                "%d seconds (run it again for a new PIN)\n", PVS_PAIR_WINDOW_SECONDS);
    } else if (err == PVS_EBADDATA) {
        fprintf(stderr, "pvstream-server pair: %d attempts with a wrong PIN: the window is closed "
                "(run it again for a new PIN)\n", r.runs);
    } else if (err == -EINTR) {
        fprintf(stderr, "pvstream-server pair: stopped\n");
    } else {
        fprintf(stderr, "pvstream-server pair: %s (is UDP port %d free?)\n", pvs_strerror(err), port);
    }
    pvs_net_deinit();
    return rc;
}

void pvs_server_print_client(const char *name, const char *id, int64_t paired_at)
{
    char when[32] = "?";
    time_t t = (time_t)paired_at;
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
    printf("%-24s %-50s %s\n", name, id, when);
}

int pvs_server_list_clients(void)
{
    char key_path[600], clients_path[600];
    struct pvs_peer *list = NULL;
    int n = 0;
    int err = choose_store();
    if (!err)
        err = pvs_server_key_paths(key_path, sizeof(key_path), clients_path, sizeof(clients_path));
    if (!err)
        err = pvs_peers_load(clients_path, &list, &n);
    if (err) {
        fprintf(stderr, "pvstream-server clients: %s\n", pvs_strerror(err));
        return 1;
    }
    if (!n)
        printf("No paired clients (pair one with `pvstream-server pair`).\n");
    else
        printf("%-24s %-50s %s\n", "name", "key fingerprint", "paired");
    for (int i = 0; i < n; i++) {
        char fp[PVS_FINGERPRINT_CHARS];
        pvs_fingerprint(list[i].public_key, fp);
        pvs_server_print_client(list[i].name, fp, list[i].paired_at);
    }
    pvs_peers_free(&list);
    return 0;
}

int pvs_server_unpair(const char *name)
{
    char key_path[600], clients_path[600];
    int err = choose_store();
    if (!err)
        err = pvs_server_key_paths(key_path, sizeof(key_path), clients_path, sizeof(clients_path));
    if (!err)
        err = pvs_peers_remove(clients_path, name);
    if (err == PVS_ENOENT) {
        fprintf(stderr, "pvstream-server unpair: no paired client is called '%s' "
                "(`pvstream-server clients` lists them)\n", name);
        return 1;
    }
    if (err) {
        fprintf(stderr, "pvstream-server unpair: %s\n", pvs_strerror(err));
        return 1;
    }
    printf("Unpaired '%s': it can no longer connect.\n", name);
    return 0;
}

bool pvs_server_is_paired(void *ctx, const uint8_t key[PVS_HANDSHAKE_PUBLIC_BYTES], char *name,
                          size_t name_len)
{
    /* Read at every attempt (they are rate-limited): a client paired or
     * unpaired while the server runs counts at once. */
    struct pvs_peer *list = NULL;
    int n = 0;
    if (pvs_peers_load((const char *)ctx, &list, &n) != 0)
        return false;
    const struct pvs_peer *p = pvs_peers_find_key(list, n, key);
    if (p && name && name_len)
        snprintf(name, name_len, "%s", p->name);
    bool found = p != NULL;
    pvs_peers_free(&list);
    return found;
}

int pvs_server_load_identity(struct pvs_static_keys *out, char *clients, size_t clients_len)
{
    char key_path[600];
    struct pvs_identity id;
    int err = pvs_server_key_paths(key_path, sizeof(key_path), clients, clients_len);
    if (!err)
        err = pvs_identity_load_or_create(key_path, &id);
    if (err)
        return err;
    memcpy(out->public_key, id.public_key, sizeof(out->public_key));
    memcpy(out->secret_key, id.secret_key, sizeof(out->secret_key));
    pvs_identity_wipe(&id);
    struct pvs_peer *list = NULL;
    int n = 0;
    if (pvs_peers_load(clients, &list, &n) == 0 && n == 0)
        PVS_LOG_W("no client is paired with this server yet: run `pvstream-server pair` and "
                  "`pvstream-client pair HOST` on the client");
    pvs_peers_free(&list);
    return 0;
}
