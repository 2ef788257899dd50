/* Identity key file and peers file (net/identity.h): the two text formats
 * and what they may hold. Where the files live, which files are trusted and
 * how they are rewritten is the platform's part (common/platform/keyfile.h).
 * Buffers that held the secret key (file text, formatted text) are wiped
 * before they are freed. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"
#include "net/identity.h"

#define KEY_FILE_MAX 4096
#define PEERS_FILE_MAX (256 * 1024)
#define PEERS_MAX 1000  /* the messages say 1000 */
#define FINGERPRINT_DOMAIN "PVS-fingerprint-v1"
#define FINGERPRINT_BYTES 20
#define KEY_HEX_CHARS (2 * PVS_IDENTITY_KEY_BYTES)

_Static_assert(PVS_IDENTITY_KEY_BYTES == crypto_kx_PUBLICKEYBYTES &&
               PVS_IDENTITY_KEY_BYTES == crypto_kx_SECRETKEYBYTES &&
               PVS_IDENTITY_KEY_BYTES == crypto_scalarmult_BYTES,
               "identity keys are X25519 keys");
_Static_assert(PVS_FINGERPRINT_CHARS == FINGERPRINT_BYTES * 2 + FINGERPRINT_BYTES / 2,
               "40 hex digits, 9 colons and a NUL");

static int init_sodium(void)
{
    if (sodium_init() < 0) {
        PVS_LOG_E("cannot initialize libsodium: it found no usable source of "
                  "random numbers (getrandom or /dev/urandom)");
        return PVS_EEXTERNAL;
    }
    return 0;
}

/* ---- files --------------------------------------------------------------- */

int pvs_identity_dir(char *buf, size_t len)
{
    if (!buf || len == 0)
        return PVS_EINVAL;
    return pvs_keyfile_dir(buf, len);
}

/* ---- parsing helpers ------------------------------------------------------ */

struct lines {
    const char *p, *end;
    int no;  /* number of the line last returned, from 1 */
};

/* The next line without its "\n" or "\r\n". False at the end. */
static bool next_line(struct lines *l, const char **s, size_t *n)
{
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *e = nl ? nl : l->end;
    *s = l->p;
    *n = (size_t)(e - l->p);
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    l->p = nl ? nl + 1 : l->end;
    l->no++;
    return true;
}

/* Splits a line at spaces and tabs into at most `max` fields. Returns the
 * number of fields, 0 for a blank or '#' line, or max + 1 when there are
 * more. */
static int split(const char *s, size_t n, const char **f, size_t *flen, int max)
{
    int k = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            return k;
        if (k == 0 && s[i] == '#')
            return 0;
        if (k == max)
            return max + 1;
        f[k] = s + i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        flen[k] = (size_t)(s + i - f[k]);
        k++;
    }
}

static bool parse_key(const char *s, size_t n, uint8_t out[PVS_IDENTITY_KEY_BYTES])
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (n != KEY_HEX_CHARS)
        return false;
    return sodium_hex2bin(out, PVS_IDENTITY_KEY_BYTES, s, n, NULL, &bin_len, &end) == 0 &&
           bin_len == PVS_IDENTITY_KEY_BYTES && end == s + n;
}

static bool name_ok(const char *s, size_t n)
{
    if (n < 1 || n > PVS_PEER_NAME_MAX || s[0] == '#')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return false;
    return true;
}

static bool parse_time(const char *s, size_t n, int64_t *out)
{
    if (n < 1 || n > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---- identity key --------------------------------------------------------- */

static int parse_key_file(const char *path, const char *text, size_t len,
                          struct pvs_identity *out)
{
    struct lines l = { text, text + len, 0 };
    const char *s, *f[2];
    size_t n, fl[2];
    bool have_pub = false, have_sec = false;
    while (next_line(&l, &s, &n)) {
        int k = split(s, n, f, fl, 2);
        if (k == 0)
            continue;
        bool is_pub = k == 2 && fl[0] == 6 && memcmp(f[0], "public", 6) == 0;
        bool is_sec = k == 2 && fl[0] == 6 && memcmp(f[0], "secret", 6) == 0;
        if (!is_pub && !is_sec) {
            PVS_LOG_E("the identity key file %s is malformed at line %d: expected "
                      "\"public HEX\" or \"secret HEX\"; delete the file to make a "
                      "new key (and pair again)", path, l.no);
            return PVS_ECONFIG;
        }
        if ((is_pub && have_pub) || (is_sec && have_sec)) {
            PVS_LOG_E("the identity key file %s is malformed at line %d: a second "
                      "\"%s\" line", path, l.no, is_pub ? "public" : "secret");
            return PVS_ECONFIG;
        }
        if (!parse_key(f[1], fl[1], is_pub ? out->public_key : out->secret_key)) {
            PVS_LOG_E("the identity key file %s is malformed at line %d: the key "
                      "is not %d hex digits", path, l.no, KEY_HEX_CHARS);
            return PVS_ECONFIG;
        }
        have_pub |= is_pub;
        have_sec |= is_sec;
    }
    if (!have_pub || !have_sec) {
        PVS_LOG_E("the identity key file %s is malformed: it has no \"%s\" line; "
                  "delete the file to make a new key (and pair again)", path,
                  have_pub ? "secret" : "public");
        return PVS_ECONFIG;
    }
    uint8_t derived[PVS_IDENTITY_KEY_BYTES];
    int rc = 0;
    if (crypto_scalarmult_base(derived, out->secret_key) != 0 ||
        sodium_memcmp(derived, out->public_key, sizeof(derived)) != 0) {
        PVS_LOG_E("the identity key file %s is malformed: its public key is not "
                  "the one its secret key gives; delete the file to make a new key "
                  "(and pair again)", path);
        rc = PVS_ECONFIG;
    }
    sodium_memzero(derived, sizeof(derived));
    return rc;
}

static int create_key_file(const char *path, struct pvs_identity *out)
{
    char text[256];
    char pub[KEY_HEX_CHARS + 1], sec[KEY_HEX_CHARS + 1];
    crypto_kx_keypair(out->public_key, out->secret_key);
    sodium_bin2hex(pub, sizeof(pub), out->public_key, PVS_IDENTITY_KEY_BYTES);
    sodium_bin2hex(sec, sizeof(sec), out->secret_key, PVS_IDENTITY_KEY_BYTES);
    int n = snprintf(text, sizeof(text),
                     "# pvstream identity key. Keep it secret: whoever has it can "
                     "pose as this machine.\npublic %s\nsecret %s\n", pub, sec);
    int rc = pvs_keyfile_write(path, "identity key file", text, (size_t)n, true);
    sodium_memzero(sec, sizeof(sec));
    sodium_memzero(text, sizeof(text));
    if (rc == 0) {
        char fp[PVS_FINGERPRINT_CHARS];
        pvs_fingerprint(out->public_key, fp);
        PVS_LOG_I("made a new identity key in %s, fingerprint %s", path, fp);
    }
    return rc;
}

int pvs_identity_load_or_create(const char *path, struct pvs_identity *out)
{
    if (!out)
        return PVS_EINVAL;
    memset(out, 0, sizeof(*out));
    if (!path || !*path)
        return PVS_EINVAL;
    int rc = init_sodium();
    if (rc)
        return rc;
    /* Twice at most: when another process creates the file between our
     * finding it missing and our creating it, load theirs. */
    for (int attempt = 0; attempt < 2; attempt++) {
        char *text;
        size_t len;
        rc = pvs_keyfile_read(path, "identity key file", true, KEY_FILE_MAX, &text, &len);
        if (rc == 0) {
            rc = parse_key_file(path, text, len, out);
            pvs_keyfile_free(text, len);
            break;
        }
        if (rc != PVS_ENOENT)
            break;
        rc = create_key_file(path, out);
        if (rc != -EEXIST)
            break;
    }
    if (rc)
        pvs_identity_wipe(out);
    return rc;
}

void pvs_identity_wipe(struct pvs_identity *id)
{
    if (id)
        sodium_memzero(id, sizeof(*id));
}

void pvs_fingerprint(const uint8_t public_key[PVS_IDENTITY_KEY_BYTES],
                     char out[PVS_FINGERPRINT_CHARS])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t h[crypto_generichash_BYTES];
    crypto_generichash_state st;
    /* Only chooses faster BLAKE2b code; the portable code runs without it. */
    if (sodium_init() < 0)
        PVS_LOG_D("libsodium did not initialize; BLAKE2b runs its portable code");
    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)FINGERPRINT_DOMAIN,
                              sizeof(FINGERPRINT_DOMAIN) - 1);
    crypto_generichash_update(&st, public_key, PVS_IDENTITY_KEY_BYTES);
    crypto_generichash_final(&st, h, sizeof(h));
    char *o = out;
    for (int i = 0; i < FINGERPRINT_BYTES; i++) {
        if (i && i % 2 == 0)
            *o++ = ':';
        *o++ = hex[h[i] >> 4];
        *o++ = hex[h[i] & 15];
    }
    *o = '\0';
}

/* ---- peers ---------------------------------------------------------------- */

static int parse_peers(const char *path, const char *text, size_t len,
                       struct pvs_peer **out, int *count)
{
    struct lines l = { text, text + len, 0 };
    const char *s, *f[3];
    size_t n, fl[3];
    struct pvs_peer *list = NULL;
    int cnt = 0, cap = 0, rc = 0;
    while (next_line(&l, &s, &n)) {
        int k = split(s, n, f, fl, 3);
        if (k == 0)
            continue;
        if (k != 3) {
            PVS_LOG_E("the peers file %s is malformed at line %d: expected \"NAME "
                      "HEX-KEY UNIX-TIME\"", path, l.no);
            rc = PVS_ECONFIG;
            break;
        }
        struct pvs_peer p;
        memset(&p, 0, sizeof(p));
        const char *why = NULL;
        if (!name_ok(f[0], fl[0]))
            why = "the name is not 1 to 63 printable characters without spaces";
        else if (!parse_key(f[1], fl[1], p.public_key))
            why = "the key is not 64 hex digits";
        else if (!parse_time(f[2], fl[2], &p.paired_at))
            why = "the time is not a number of seconds";
        if (!why) {
            memcpy(p.name, f[0], fl[0]);
            for (int i = 0; i < cnt && !why; i++) {
                if (strcmp(list[i].name, p.name) == 0)
                    why = "a second peer with this name";
                else if (memcmp(list[i].public_key, p.public_key, sizeof(p.public_key)) == 0)
                    why = "a second peer with this key";
            }
        }
        if (!why && cnt == PEERS_MAX)
            why = "more than 1000 peers, the most pvstream keeps";
        if (why) {
            PVS_LOG_E("the peers file %s is malformed at line %d: %s", path, l.no, why);
            rc = PVS_ECONFIG;
            break;
        }
        if (cnt == cap) {
            int ncap = cap ? cap * 2 : 8;
            struct pvs_peer *nl = realloc(list, sizeof(*list) * (size_t)ncap);
            if (!nl) {
                rc = PVS_ENOMEM;
                break;
            }
            list = nl;
            cap = ncap;
        }
        list[cnt++] = p;
    }
    if (rc) {
        free(list);
        return rc;
    }
    *out = list;
    *count = cnt;
    return 0;
}

int pvs_peers_load(const char *path, struct pvs_peer **out, int *count)
{
    if (!out || !count)
        return PVS_EINVAL;
    *out = NULL;
    *count = 0;
    if (!path || !*path)
        return PVS_EINVAL;
    char *text;
    size_t len;
    int rc = pvs_keyfile_read(path, "peers file", false, PEERS_FILE_MAX, &text, &len);
    if (rc == PVS_ENOENT)
        return 0;
    if (rc)
        return rc;
    rc = parse_peers(path, text, len, out, count);
    pvs_keyfile_free(text, len);
    return rc;
}

static int write_peers(const char *path, const struct pvs_peer *list, int count)
{
    static const char header[] =
        "# pvstream paired peers: NAME PUBLIC-KEY PAIRED-AT (seconds since 1970).\n"
        "# Whoever holds one of these keys may connect.\n";
    size_t cap = sizeof(header) + (size_t)count * (PVS_PEER_NAME_MAX + KEY_HEX_CHARS + 24);
    char *text = malloc(cap);
    if (!text)
        return PVS_ENOMEM;
    size_t n = sizeof(header) - 1;
    memcpy(text, header, n);
    for (int i = 0; i < count; i++) {
        char hex[KEY_HEX_CHARS + 1];
        sodium_bin2hex(hex, sizeof(hex), list[i].public_key, PVS_IDENTITY_KEY_BYTES);
        int w = snprintf(text + n, cap - n, "%s %s %" PRId64 "\n", list[i].name, hex,
                         list[i].paired_at);
        if (w < 0 || (size_t)w >= cap - n) {  /* cannot happen: sized above */
            free(text);
            return PVS_ERANGE;
        }
        n += (size_t)w;
    }
    int rc = pvs_keyfile_write(path, "peers file", text, n, false);
    free(text);
    return rc;
}

int pvs_peers_add(const char *path, const struct pvs_peer *p)
{
    if (!path || !*path || !p)
        return PVS_EINVAL;
    size_t nlen = strnlen(p->name, sizeof(p->name));
    if (nlen == sizeof(p->name) || !name_ok(p->name, nlen)) {
        PVS_LOG_E("cannot pair with a peer named \"%.*s\": a name is 1 to 63 "
                  "printable ASCII characters without spaces, not starting with '#'",
                  (int)nlen, p->name);
        return PVS_EINVAL;
    }
    if (p->paired_at < 0)
        return PVS_EINVAL;
    struct pvs_peer *list;
    int count;
    int rc = pvs_peers_load(path, &list, &count);
    if (rc)
        return rc;
    struct pvs_peer *next = malloc(sizeof(*next) * (size_t)(count + 1));
    if (!next) {
        pvs_peers_free(&list);
        return PVS_ENOMEM;
    }
    int m = 0;
    for (int i = 0; i < count; i++) {
        if (strcmp(list[i].name, p->name) == 0 ||
            sodium_memcmp(list[i].public_key, p->public_key, PVS_IDENTITY_KEY_BYTES) == 0)
            continue;
        next[m++] = list[i];
    }
    pvs_peers_free(&list);
    if (m == PEERS_MAX) {
        PVS_LOG_E("cannot pair with %s: the peers file %s already lists %d peers, "
                  "the most pvstream keeps; remove some first", p->name, path, m);
        free(next);
        return PVS_ERANGE;
    }
    memset(&next[m], 0, sizeof(next[m]));
    memcpy(next[m].name, p->name, nlen);
    memcpy(next[m].public_key, p->public_key, PVS_IDENTITY_KEY_BYTES);
    next[m].paired_at = p->paired_at;
    m++;
    rc = write_peers(path, next, m);
    free(next);
    return rc;
}

int pvs_peers_remove(const char *path, const char *name)
{
    if (!path || !*path || !name)
        return PVS_EINVAL;
    struct pvs_peer *list;
    int count;
    int rc = pvs_peers_load(path, &list, &count);
    if (rc)
        return rc;
    int m = 0;
    for (int i = 0; i < count; i++)
        if (strcmp(list[i].name, name) != 0)
            list[m++] = list[i];
    rc = m == count ? PVS_ENOENT : write_peers(path, list, m);
    pvs_peers_free(&list);
    return rc;
}

const struct pvs_peer *pvs_peers_find_key(const struct pvs_peer *list, int count,
                                          const uint8_t key[PVS_IDENTITY_KEY_BYTES])
{
    if (!list || !key)
        return NULL;
    for (int i = 0; i < count; i++)
        if (sodium_memcmp(list[i].public_key, key, PVS_IDENTITY_KEY_BYTES) == 0)
            return &list[i];
    return NULL;
}

void pvs_peers_free(struct pvs_peer **list)
{
    if (!list)
        return;
    free(*list);
    *list = NULL;
}
