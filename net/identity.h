/* Long-term identity keys and the list of paired peers (the security issue).
 *
 * Each machine has one X25519 key pair (the same kind crypto_kx and
 * crypto_box use) kept in a key file in the configuration directory; a peer
 * proves it holds the secret half in the handshake. The peers file lists the
 * public keys this machine has paired with (by PIN, net/pake.h): only they
 * may connect. Both files decide who is trusted, so both must be regular
 * files owned by the user running pvstream with no group or other permission
 * bits; anything else is refused with a message that says how to fix it.
 *
 * Key file, text, one item per line ('#' lines and blank lines are ignored):
 *     public <64 lowercase or uppercase hex digits>
 *     secret <64 hex digits>
 * each exactly once, in either order; the public key must be the one the
 * secret key gives (X25519 base point multiplication).
 *
 * Peers file, text, one peer per line ('#' lines and blank lines ignored):
 *     NAME HEX-KEY UNIX-TIME
 * NAME: 1..63 printable ASCII characters other than space, not starting
 * with '#'; HEX-KEY: the peer's public key, 64 hex digits; UNIX-TIME: when
 * it was paired, decimal seconds since 1970 (0..INT64_MAX). Fields are
 * separated by spaces or tabs. No two lines share a name or a key.
 *
 * Both files are rewritten whole and atomically (a temporary file in the
 * same directory, created 0600 with O_EXCL, fsynced, then renamed over the
 * old one), so a crash leaves the old file or the new one, never half of
 * either. Two processes adding peers at the same instant may lose one
 * addition (no file lock); the key file is created with link(), so two
 * processes creating it at once end up with the same key.
 *
 * On Windows the same rules hold with owners and DACLs instead of mode bits
 * (common/platform/keyfile.h; docs/security.md). Not thread-safe against
 * concurrent calls on the same file; otherwise reentrant. */
#ifndef PVS_IDENTITY_H
#define PVS_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define PVS_IDENTITY_KEY_BYTES 32
/* Suggested file names inside pvs_identity_dir(). */
#define PVS_IDENTITY_FILE "identity.key"
#define PVS_PEERS_FILE "peers"

/* Fingerprint: BLAKE2b-256 (crypto_generichash, unkeyed) of the 18 bytes
 * "PVS-fingerprint-v1" followed by the 32-byte public key; its first 20
 * bytes as lowercase hex in 10 groups of 4 digits joined by ':'
 * ("1a2b:3c4d:...:9f00"): 49 characters and a NUL. */
#define PVS_FINGERPRINT_CHARS 50

#define PVS_PEER_NAME_MAX 63

struct pvs_identity {
    uint8_t public_key[PVS_IDENTITY_KEY_BYTES];
    uint8_t secret_key[PVS_IDENTITY_KEY_BYTES];  /* pvs_identity_wipe it */
};

struct pvs_peer {
    char name[PVS_PEER_NAME_MAX + 1];  /* NUL-terminated */
    uint8_t public_key[PVS_IDENTITY_KEY_BYTES];
    int64_t paired_at;  /* wall-clock seconds since 1970 */
};

/* The configuration directory: $PVS_CONFIG_DIR if set and not empty, else
 * $XDG_CONFIG_HOME/pvstream (when that is an absolute path), else
 * $HOME/.config/pvstream. Created with mode 0700 if missing (missing parents
 * too). Writes the path, NUL-terminated, to buf. Returns 0, PVS_ERANGE when
 * buf is too small, PVS_ECONFIG when no variable names a directory, or a
 * negated errno when it cannot be created; the log says why. */
int pvs_identity_dir(char *buf, size_t len);

/* Loads the key pair from `path`, or, when there is no such file, makes a
 * fresh one and writes it there (mode 0600). Returns 0; PVS_ECONFIG when
 * the file is not a regular file, belongs to another user, is open to the
 * group or others ("chmod 600 PATH" is logged), or is malformed (the line
 * is logged); PVS_EEXTERNAL when libsodium cannot initialize; or a negated
 * errno from the file system. `out` is zeroed on failure. */
int pvs_identity_load_or_create(const char *path, struct pvs_identity *out);

/* Zeroes the whole struct (sodium_memzero). Accepts NULL. */
void pvs_identity_wipe(struct pvs_identity *id);

/* Writes the fingerprint described above, NUL-terminated. */
void pvs_fingerprint(const uint8_t public_key[PVS_IDENTITY_KEY_BYTES],
                     char out[PVS_FINGERPRINT_CHARS]);

/* Reads the peers file. A missing file is an empty list (*out NULL,
 * *count 0). On success *out is an array of *count peers the caller frees
 * with pvs_peers_free. Returns 0; PVS_ECONFIG for a file refused as in
 * pvs_identity_load_or_create or a malformed line (logged with its number);
 * PVS_ENOMEM; or a negated errno. *out is NULL and *count 0 on failure. */
int pvs_peers_load(const char *path, struct pvs_peer **out, int *count);

/* Adds `p`, replacing any entry with the same name or the same key, and
 * rewrites the file atomically (0600). Returns 0; PVS_EINVAL for a name
 * that does not follow the rules above or a negative paired_at; or what
 * pvs_peers_load and the file system return. */
int pvs_peers_add(const char *path, const struct pvs_peer *p);

/* Removes the peer called `name` and rewrites the file atomically. Returns
 * 0, PVS_ENOENT when there is no such peer (nothing is written), or what
 * pvs_peers_load and the file system return. */
int pvs_peers_remove(const char *path, const char *name);

/* The entry of `list` with public key `key`, or NULL. Each key is compared
 * in constant time (sodium_memcmp). The pointer is into `list`. */
const struct pvs_peer *pvs_peers_find_key(const struct pvs_peer *list, int count,
                                          const uint8_t key[PVS_IDENTITY_KEY_BYTES]);

/* Frees a list from pvs_peers_load and clears the pointer. Accepts NULL
 * and a NULL list. */
void pvs_peers_free(struct pvs_peer **list);

#endif
