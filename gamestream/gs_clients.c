/* The paired Moonlight clients (gamestream/gs_clients.h): names and lookups
 * over the peers file code of net/identity.c. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "gamestream/gs_clients.h"
#include "gamestream/gs_crypto.h"

#define DEVICENAME_CHARS 40
#define FP_NAME_BYTES 4
#define SUFFIX_MAX 1000

_Static_assert(PVS_IDENTITY_KEY_BYTES == PVS_GS_SHA256_BYTES,
               "a certificate's SHA-256 fills a peer's key column");

void pvs_gs_client_name(const char *devicename, const uint8_t fingerprint[32],
                        char out[PVS_PEER_NAME_MAX + 1])
{
    size_t n = 0;
    for (const char *s = devicename ? devicename : ""; *s && n < DEVICENAME_CHARS; s++) {
        char c = *s;
        bool ok = c >= 0x21 && c <= 0x7e && !(n == 0 && c == '#');
        out[n++] = ok ? c : '_';
    }
    if (n == 0) {
        strcpy(out, "moonlight");
        n = strlen(out);
    }
    out[n++] = '-';
    pvs_gs_hex_encode(fingerprint, FP_NAME_BYTES, out + n, PVS_PEER_NAME_MAX + 1 - n);
}

static bool name_taken(const struct pvs_peer *list, int count, const char *name,
                       const uint8_t fingerprint[32])
{
    for (int i = 0; i < count; i++)
        if (strcmp(list[i].name, name) == 0 &&
            !pvs_gs_equal(list[i].public_key, fingerprint, PVS_GS_SHA256_BYTES))
            return true;
    return false;
}

int pvs_gs_clients_add(const char *path, const char *devicename,
                       const uint8_t fingerprint[32], int64_t paired_at,
                       char name_out[PVS_PEER_NAME_MAX + 1])
{
    if (!path || !fingerprint)
        return PVS_EINVAL;
    struct pvs_peer *list;
    int count;
    int rc = pvs_peers_load(path, &list, &count);
    if (rc)
        return rc;
    struct pvs_peer p;
    memset(&p, 0, sizeof(p));
    char base[PVS_PEER_NAME_MAX + 1];
    pvs_gs_client_name(devicename, fingerprint, base);
    memcpy(p.name, base, sizeof(p.name));
    /* base is at most 49 characters: "-999" always fits. */
    size_t n = strlen(base);
    for (int k = 2; name_taken(list, count, p.name, fingerprint); k++) {
        if (k == SUFFIX_MAX) {
            pvs_peers_free(&list);
            return PVS_ERANGE;
        }
        char suffix[16];
        int w = snprintf(suffix, sizeof(suffix), "-%d", k);
        memcpy(p.name + n, suffix, (size_t)w + 1);
    }
    pvs_peers_free(&list);
    memcpy(p.public_key, fingerprint, PVS_GS_SHA256_BYTES);
    p.paired_at = paired_at;
    rc = pvs_peers_add(path, &p);
    if (rc == 0 && name_out)
        memcpy(name_out, p.name, sizeof(p.name));
    return rc;
}

int pvs_gs_clients_find_cert(const char *path, const uint8_t *der, size_t len,
                             struct pvs_peer *out)
{
    if (!path)
        return PVS_EINVAL;
    if (!der || len == 0)
        return PVS_ENOENT;
    uint8_t fp[PVS_GS_SHA256_BYTES];
    struct pvs_gs_span s = { der, len };
    int rc = pvs_gs_sha256(&s, 1, fp);
    if (rc)
        return rc;
    struct pvs_peer *list;
    int count;
    rc = pvs_peers_load(path, &list, &count);
    if (rc)
        return rc;
    const struct pvs_peer *p = pvs_peers_find_key(list, count, fp);
    if (p && out)
        *out = *p;
    rc = p ? 0 : PVS_ENOENT;
    pvs_peers_free(&list);
    return rc;
}

int pvs_gs_clients_remove(const char *path, const char *name)
{
    return pvs_peers_remove(path, name);
}
