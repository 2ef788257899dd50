/* `pvstream-client pair HOST[:PORT] [--pin PIN] [--name NAME]`: the
 * client's side of PIN pairing (net/pairing.h). On success the server's key
 * is kept in the configuration directory under "HOST:PORT", which is how
 * pvstream-client HOST finds it (docs/security.md). */
#include "client/pair.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client/options.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "net/control.h"
#include "net/identity.h"
#include "net/pairing.h"

int pvs_client_key_paths(char *key, size_t key_len, char *servers, size_t servers_len)
{
    char dir[512];
    int err = pvs_identity_dir(dir, sizeof(dir));
    if (err)
        return err;
    if (snprintf(key, key_len, "%s" PVS_PATH_SEP "%s", dir, PVS_CLIENT_KEY_FILE) >= (int)key_len ||
        snprintf(servers, servers_len, "%s" PVS_PATH_SEP "%s", dir, PVS_CLIENT_SERVERS_FILE) >= (int)servers_len)
        return PVS_ERANGE;
    return 0;
}

void pvs_client_server_name(const char *host, uint16_t port, char *out, size_t len)
{
    snprintf(out, len, "%.56s:%u", host, (unsigned)port);
}

/* This machine's name, as a peer name: printable, no spaces. */
static void default_name(char *out, size_t len)
{
    char host[256] = "";
    if (pvs_host_name(host, sizeof(host)) != 0 || !host[0])
        snprintf(host, sizeof(host), "client");
    size_t n = 0;
    for (size_t i = 0; host[i] && n + 1 < len && n < PVS_PEER_NAME_MAX; i++)
        out[n++] = host[i] > ' ' && host[i] <= '~' && host[i] != '#' ? host[i] : '-';
    out[n] = '\0';
}

static int usage(FILE *f, int rc)
{
    fprintf(f, "usage: pvstream-client pair HOST[:PORT] [--pin PIN] [--name NAME]\n\n"
               "Pairs this client with pvstream-server on HOST: run `pvstream-server pair` there\n"
               "first; it shows a 6-digit PIN, valid for 2 minutes and one client. Without\n"
               "--pin the PIN is asked for here. NAME (default: this machine's name) is how the\n"
               "server lists this client.\n");
    return rc;
}

int pvs_client_pair_main(int argc, char **argv)
{
    const char *target = NULL, *pin_arg = NULL;
    char name[PVS_PEER_NAME_MAX + 1];
    default_name(name, sizeof(name));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout, 0);
        if (!strcmp(argv[i], "--pin") && i + 1 < argc)
            pin_arg = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            snprintf(name, sizeof(name), "%s", argv[++i]);
        else if (argv[i][0] != '-' && !target)
            target = argv[i];
        else {
            fprintf(stderr, "pvstream-client pair: unexpected argument '%s'\n\n", argv[i]);
            return usage(stderr, 2);
        }
    }
    if (!target)
        return usage(stderr, 2);
    char host[256], err_text[256];
    uint16_t port = PVS_CONTROL_DEFAULT_PORT;
    if (pvs_client_split_host(target, host, sizeof(host), &port, err_text, sizeof(err_text)) < 0) {
        fprintf(stderr, "pvstream-client pair: %s\n", err_text);
        return 2;
    }
    char pin[64];
    if (pin_arg) {
        snprintf(pin, sizeof(pin), "%s", pin_arg);
    } else {
        fprintf(stderr, "PIN shown by `pvstream-server pair` on %s: ", host);
        if (!fgets(pin, sizeof(pin), stdin)) {
            fprintf(stderr, "\npvstream-client pair: no PIN given\n");
            return 2;
        }
        pin[strcspn(pin, "\r\n")] = '\0';
    }
    if (strlen(pin) != PVS_PAIR_PIN_DIGITS || strspn(pin, "0123456789") != PVS_PAIR_PIN_DIGITS) {
        fprintf(stderr, "pvstream-client pair: the PIN is %d digits\n", PVS_PAIR_PIN_DIGITS);
        return 2;
    }

    char key_path[600], servers_path[600];
    struct pvs_identity me;
    int err = pvs_client_key_paths(key_path, sizeof(key_path), servers_path, sizeof(servers_path));
    if (!err)
        err = pvs_identity_load_or_create(key_path, &me);
    if (!err)
        err = pvs_net_init();
    if (err) {
        fprintf(stderr, "pvstream-client pair: %s\n", pvs_strerror(err));
        return 1;
    }
    struct pvs_pair_result r;
    uint16_t pair_port = (uint16_t)(port + PVS_PAIR_PORT_OFFSET);
    err = pvs_pair_client(host, pair_port, pin, name, &me, 5000, &r);
    pvs_identity_wipe(&me);
    pvs_net_deinit();
    int rc = 1;
    char fp[PVS_FINGERPRINT_CHARS];
    switch (err) {
    case 0: {
        struct pvs_peer p = { .paired_at = (int64_t)time(NULL) };
        pvs_client_server_name(host, port, p.name, sizeof(p.name));
        memcpy(p.public_key, r.key, sizeof(p.public_key));
        err = pvs_peers_add(servers_path, &p);
        pvs_fingerprint(r.key, fp);
        if (err) {
            fprintf(stderr, "pvstream-client pair: paired, but cannot save it in %s: %s\n",
                    servers_path, pvs_strerror(err));
            break;
        }
        printf("Paired with %s (server key %s) as '%s'. Connect with: pvstream-client %s\n",
               p.name, fp, name, target);
        rc = 0;
        break;
    }
    case PVS_EBADDATA:
        fprintf(stderr, "pvstream-client pair: wrong PIN (the server allows 5 tries per window)\n");
        break;
    case PVS_ETIMEDOUT:
        fprintf(stderr, "pvstream-client pair: no pairing window answered at %s port %u: run "
                "`pvstream-server pair` there first\n", host, (unsigned)pair_port);
        break;
    case PVS_ENOENT:
        fprintf(stderr, "pvstream-client pair: the server's pairing window is closed: run "
                "`pvstream-server pair` again for a new PIN\n");
        break;
    case PVS_EAGAIN:
        fprintf(stderr, "pvstream-client pair: another client is pairing with %s right now; "
                "try again in a few seconds\n", host);
        break;
    default:
        fprintf(stderr, "pvstream-client pair: %s\n", pvs_strerror(err));
        break;
    }
    return rc;
}

int pvs_client_load_pairing(const char *host, uint16_t port, struct pvs_static_keys *identity,
                            uint8_t server_key[32])
{
    char key_path[600], servers_path[600], entry[64];
    int err = pvs_client_key_paths(key_path, sizeof(key_path), servers_path, sizeof(servers_path));
    struct pvs_peer *list = NULL;
    int n = 0;
    if (!err)
        err = pvs_peers_load(servers_path, &list, &n);
    if (err)
        return err;
    pvs_client_server_name(host, port, entry, sizeof(entry));
    const struct pvs_peer *found = NULL;
    for (int i = 0; i < n && !found; i++)
        if (!strcmp(list[i].name, entry))
            found = &list[i];
    if (found)
        memcpy(server_key, found->public_key, 32);
    pvs_peers_free(&list);
    if (!found)
        return PVS_ENOENT;
    struct pvs_identity id;
    err = pvs_identity_load_or_create(key_path, &id);
    if (err)
        return err;
    memcpy(identity->public_key, id.public_key, sizeof(identity->public_key));
    memcpy(identity->secret_key, id.secret_key, sizeof(identity->secret_key));
    pvs_identity_wipe(&id);
    return 0;
}
