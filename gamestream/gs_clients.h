/* The paired Moonlight clients: who may use the GameStream HTTPS API.
 *
 * A client is known by its certificate, which it pinned on us while pairing
 * and presents in every TLS handshake since; the store keeps the SHA-256 of
 * the certificate's DER encoding, a name, and when it paired. The file is
 * the peers file's format and rules (net/identity.h: one "NAME HEX TIME"
 * line a client, private to the user, rewritten atomically), with the
 * fingerprint in the key column, through the same code; it is a file of
 * its own, so a Moonlight client never becomes a native peer: it reaches
 * the GameStream host mode only, and a native pairing's key never opens
 * the GameStream API. */
#ifndef PVS_GS_CLIENTS_H
#define PVS_GS_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "net/identity.h"

/* Suggested name inside the configuration directory (pvs_keyfile_dir). */
#define PVS_GS_CLIENTS_FILE "moonlight-clients"

/* Each client is a struct pvs_peer (net/identity.h) whose public_key field
 * holds the certificate's SHA-256 (both 32 bytes). Lists come from
 * pvs_peers_load and go back with pvs_peers_free; these wrap the rest. */

/* The name a client sending devicename (may be NULL) gets: its printable
 * ASCII characters other than space (others become '_', at most 40, a
 * leading '#' too; "moonlight" when none are left), '-' and the first 8 hex
 * digits of the fingerprint, since every Moonlight client sends the same
 * devicename ("roth"). NUL-terminated. */
void pvs_gs_client_name(const char *devicename, const uint8_t fingerprint[32],
                        char out[PVS_PEER_NAME_MAX + 1]);

/* Adds (or, for a fingerprint already listed, renews) a client named after
 * pvs_gs_client_name, with "-2", "-3"... added while another client has
 * that name. Writes the name used to name_out when it is not NULL. Returns
 * 0, or what pvs_peers_load and pvs_peers_add return. */
int pvs_gs_clients_add(const char *path, const char *devicename,
                       const uint8_t fingerprint[32], int64_t paired_at,
                       char name_out[PVS_PEER_NAME_MAX + 1]);

/* Looks up the client whose certificate is `der` (the TLS peer's, as DER).
 * Returns 0 and fills *out (when not NULL), PVS_ENOENT when it is not
 * paired (also for no or empty der), or what pvs_peers_load returns (a
 * caller must then refuse the request). */
int pvs_gs_clients_find_cert(const char *path, const uint8_t *der, size_t len,
                             struct pvs_peer *out);

/* Removes the client called `name`. Returns 0, PVS_ENOENT, or what
 * pvs_peers_remove returns. */
int pvs_gs_clients_remove(const char *path, const char *name);

#endif
