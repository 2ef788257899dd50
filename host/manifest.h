/* The drivers manifest: what `pvstream-host drivers sync` copied into a
 * guest, kept in the guest at PVS_MANIFEST_PATH, and the diff between what
 * the host's driver wants in the guest and what the guest holds.
 *
 * Format (text, one item a line, '#' starts a comment line):
 *
 *   # pvstream-host drivers manifest: written by drivers sync, do not edit
 *   format = 1
 *   driver_version = 31.0.15.5222
 *   driver_date = 2024-03-01
 *   inf = nv_dispi.inf
 *   package = nv_dispi.inf_amd64_0123456789abcdef
 *   file = <sha256 hex> <size> <path>
 *
 * `driver_version = X` and the manifest's path are also read by the
 * Hyper-V check (host versus guest driver version): keep both. Paths are
 * relative to the guest volume's root, '/'-separated, and start with
 * "Windows/"; the rest of the line after the size is the path, so it may
 * hold spaces.
 *
 * SHA-256 comes from libsodium (crypto_hash_sha256), which is why this
 * file is not compiled with mingw (no Debian package of libsodium for it). */
#ifndef PVS_HOST_MANIFEST_H
#define PVS_HOST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_MANIFEST_PATH "Windows/System32/HostDriverStore/pvstream-drivers.manifest"
/* Where package folders go, relative to the guest volume's root. */
#define PVS_MANIFEST_REPOSITORY "Windows/System32/HostDriverStore/FileRepository"

#define PVS_MANIFEST_MAX_SIZE (64u << 20)  /* bytes of manifest text */
#define PVS_MANIFEST_MAX_FILES 200000
#define PVS_MANIFEST_PATH_MAX 1024         /* bytes of a relative path */
#define PVS_MANIFEST_VALUE_MAX 256         /* version, date, inf, package */
#define PVS_SHA256_HEX 65                  /* 64 hex digits and a NUL */

struct pvs_manifest_file {
    char *path;                     /* owned */
    uint64_t size;
    char sha256[PVS_SHA256_HEX];    /* lower-case hex */
};

struct pvs_manifest {
    char driver_version[PVS_MANIFEST_VALUE_MAX]; /* "31.0.15.5222" */
    char driver_date[PVS_MANIFEST_VALUE_MAX];    /* "2024-03-01" */
    char inf[PVS_MANIFEST_VALUE_MAX];            /* "nv_dispi.inf" */
    char package[PVS_MANIFEST_VALUE_MAX];        /* the FileRepository folder's name */
    struct pvs_manifest_file *files;             /* owned */
    int count, cap;
};

/* An empty manifest (memset 0 does the same). */
void pvs_manifest_init(struct pvs_manifest *m);
/* Frees the files; m is empty afterwards. */
void pvs_manifest_free(struct pvs_manifest *m);

/* Adds a file (the path is copied). Returns 0, PVS_EINVAL (a path
 * pvs_manifest_path_ok refuses, a hash that is not 64 hex digits),
 * PVS_ERANGE (more than PVS_MANIFEST_MAX_FILES), PVS_ENOMEM. */
int pvs_manifest_add(struct pvs_manifest *m, const char *path, uint64_t size,
                     const char *sha256);

/* The entry for this path (ASCII case-insensitive, as Windows compares),
 * or NULL. */
const struct pvs_manifest_file *pvs_manifest_find(const struct pvs_manifest *m,
                                                  const char *path);

/* A path the manifest may hold, and sync may write or delete: relative,
 * '/'-separated, under "Windows/", no empty, "." or ".." part, no
 * backslash, colon or control character, at most PVS_MANIFEST_PATH_MAX - 1
 * bytes. */
bool pvs_manifest_path_ok(const char *path);

/* A name that may be one path part (a package folder's name). */
bool pvs_manifest_name_ok(const char *name);

/* Parses manifest text into *m (which it initializes). Lines that are not
 * understood (an unknown key, a bad file line) are skipped with a warning
 * in the log: a manifest is only a record, and a damaged one must not
 * stop a sync. Returns 0; PVS_EBADDATA (too large, a NUL byte, no
 * "format = 1" line: not a manifest) with the reason in why; PVS_ENOMEM. */
int pvs_manifest_parse(const char *text, size_t len, struct pvs_manifest *m, char *why,
                       size_t why_len);

/* The manifest as text (files in their order). *out is the caller's to
 * free. Returns 0 or PVS_ENOMEM. */
int pvs_manifest_format(const struct pvs_manifest *m, char **out);

/* SHA-256, streamed. */
struct pvs_sha256;
int pvs_sha256_new(struct pvs_sha256 **out);          /* 0 or PVS_ENOMEM */
void pvs_sha256_update(struct pvs_sha256 *h, const void *data, size_t len);
/* Writes the digest as lower-case hex and frees h; clears *h. */
void pvs_sha256_finish(struct pvs_sha256 **h, char hex[PVS_SHA256_HEX]);
/* Frees without a digest; NULL is fine. */
void pvs_sha256_free(struct pvs_sha256 **h);

/* What the guest holds, asked for by the diff (drivers.c answers from the
 * mounted volume, tests from anything). */
struct pvs_guest_view {
    void *opaque;
    /* The size of the file at this guest path: 0, or PVS_ENOENT when there
     * is no such file, <0 on another error. */
    int (*file_size)(void *opaque, const char *path, uint64_t *size);
    /* Its SHA-256 as hex: 0 or <0. */
    int (*file_hash)(void *opaque, const char *path, char hex[PVS_SHA256_HEX]);
    /* The folder names in PVS_MANIFEST_REPOSITORY: *names (the caller
     * frees each and the array) of *count; 0 names when it does not exist. */
    int (*packages)(void *opaque, char ***names, int *count);
};

enum pvs_diff_action {
    PVS_DIFF_COPY,        /* copy from the host */
    PVS_DIFF_SKIP,        /* the guest has it already */
    PVS_DIFF_REMOVE_FILE, /* the manifest recorded it; the driver no longer has it */
    PVS_DIFF_REMOVE_DIR,  /* a stale package folder (under PVS_MANIFEST_REPOSITORY) */
};

struct pvs_diff_item {
    enum pvs_diff_action action;
    char *path;               /* guest path; owned */
    const char *reason;       /* static: "new", "changed", "unchanged", ... */
    int want;                 /* COPY/SKIP: index in the wanted manifest; else -1 */
};

struct pvs_diff {
    struct pvs_diff_item *items;  /* copies and skips in wanted order, then removals */
    int count, cap;
    int copies, skips, removals;
    uint64_t copy_bytes;
};

/* Compares the wanted manifest (computed from the host) with the one the
 * guest holds (`have`, NULL when there is none) and the guest itself:
 *
 * - a wanted file is skipped when the guest has it with the wanted size
 *   and either `have` records it with the wanted hash and size, or the
 *   guest file's own hash matches (a file copied by hand, or by a sync cut
 *   short before its manifest was written); else it is copied;
 * - a file `have` records that is not wanted is removed when the guest
 *   still has it, unless it lies in a package folder that goes;
 * - a package folder goes when it is not want->package and either `have`
 *   names it or its name starts with want->inf and "_" (any case): a
 *   folder of an older version of the same driver. Nothing else is ever
 *   removed: other drivers' folders stay.
 *
 * Returns 0 with *out filled (free with pvs_diff_free), or <0 with the
 * reason in why (a guest view error, PVS_ENOMEM). */
int pvs_manifest_diff(const struct pvs_manifest *want, const struct pvs_manifest *have,
                      const struct pvs_guest_view *guest, struct pvs_diff *out, char *why,
                      size_t why_len);

void pvs_diff_free(struct pvs_diff *d);

#endif
