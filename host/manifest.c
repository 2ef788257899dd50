/* The drivers manifest, its SHA-256 and the diff (see manifest.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "common/log.h"
#include "host/inf.h"
#include "host/manifest.h"
#include "host/text.h"

#define FORMAT_VERSION 1


static int casecmp(const char *a, const char *b)
{
    return pvs_inf_casecmp_n(a, b, (size_t)-1);
}

void pvs_manifest_init(struct pvs_manifest *m)
{
    memset(m, 0, sizeof(*m));
}

void pvs_manifest_free(struct pvs_manifest *m)
{
    for (int i = 0; i < m->count; i++)
        free(m->files[i].path);
    free(m->files);
    pvs_manifest_init(m);
}

bool pvs_manifest_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n < PVS_MANIFEST_VALUE_MAX && pvs_inf_name_ok(s, n);
}

bool pvs_manifest_path_ok(const char *path)
{
    size_t n = strlen(path);
    if (n >= PVS_MANIFEST_PATH_MAX || pvs_inf_casecmp_n(path, "Windows/", 8))
        return false;
    char part[PVS_MANIFEST_VALUE_MAX];
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= sizeof(part))
            return false;
        memcpy(part, p, len);
        part[len] = '\0';
        if (!pvs_manifest_name_ok(part))
            return false;
        if (!slash)
            return true;
        p = slash + 1;
    }
}

static bool hex_ok(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int pvs_manifest_add(struct pvs_manifest *m, const char *path, uint64_t size,
                     const char *sha256)
{
    if (!pvs_manifest_path_ok(path) || !hex_ok(sha256))
        return PVS_EINVAL;
    if (m->count >= PVS_MANIFEST_MAX_FILES)
        return PVS_ERANGE;
    if (m->count == m->cap) {
        int cap = m->cap ? m->cap * 2 : 64;
        struct pvs_manifest_file *f = realloc(m->files, (size_t)cap * sizeof(*f));
        if (!f)
            return PVS_ENOMEM;
        m->files = f;
        m->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return PVS_ENOMEM;
    struct pvs_manifest_file *f = &m->files[m->count++];
    f->path = copy;
    f->size = size;
    memcpy(f->sha256, sha256, PVS_SHA256_HEX);
    return 0;
}

const struct pvs_manifest_file *pvs_manifest_find(const struct pvs_manifest *m,
                                                  const char *path)
{
    if (!m)
        return NULL;
    for (int i = 0; i < m->count; i++)
        if (!casecmp(m->files[i].path, path))
            return &m->files[i];
    return NULL;
}

/* "file = HASH SIZE PATH" after the "= ". */
static int parse_file_line(struct pvs_manifest *m, const char *v, int line)
{
    char hash[PVS_SHA256_HEX];
    const char *sp = strchr(v, ' ');
    if (!sp || sp - v != 64) {
        PVS_LOG_W("drivers manifest line %d: no SHA-256 hash: line skipped", line);
        return 0;
    }
    memcpy(hash, v, 64);
    hash[64] = '\0';
    const char *p = sp + 1;
    uint64_t size = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 19) {
            digits = 0; /* over 19 digits: not a size */
            break;
        }
        size = size * 10 + (uint64_t)(*p - '0');
    }
    if (!digits || *p != ' ') {
        PVS_LOG_W("drivers manifest line %d: no size: line skipped", line);
        return 0;
    }
    int rc = pvs_manifest_add(m, p + 1, size, hash);
    if (rc == PVS_EINVAL)
        PVS_LOG_W("drivers manifest line %d: a bad hash or path: line skipped", line);
    if (rc == PVS_EINVAL || rc == PVS_ERANGE)
        return 0;
    return rc;
}

static void set_value(char *dst, const char *v, int line, const char *key)
{
    size_t n = strlen(v);
    if (n >= PVS_MANIFEST_VALUE_MAX) {
        PVS_LOG_W("drivers manifest line %d: %s too long: ignored", line, key);
        return;
    }
    memcpy(dst, v, n + 1);
}

int pvs_manifest_parse(const char *text, size_t len, struct pvs_manifest *m, char *why,
                       size_t why_len)
{
    pvs_manifest_init(m);
    if (len > PVS_MANIFEST_MAX_SIZE) {
        pvs_text_error(why, why_len, "larger than %u bytes: not a drivers manifest",
                       PVS_MANIFEST_MAX_SIZE);
        return PVS_EBADDATA;
    }
    if (memchr(text, '\0', len)) {
        pvs_text_error(why, why_len, "holds a NUL byte: not a drivers manifest");
        return PVS_EBADDATA;
    }
    char *line = malloc(PVS_MANIFEST_PATH_MAX + 256);
    if (!line) {
        pvs_text_error(why, why_len, "out of memory");
        return PVS_ENOMEM;
    }
    const size_t line_max = PVS_MANIFEST_PATH_MAX + 256;
    bool format_seen = false;
    int rc = 0, lineno = 0;
    size_t pos = 0;
    while (pos < len && rc == 0) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        lineno++;
        const char *raw = text + pos;
        pos = end + 1;
        while (n > 0 && (raw[n - 1] == '\r' || raw[n - 1] == ' ' || raw[n - 1] == '\t'))
            n--;
        if (n == 0 || raw[0] == '#')
            continue;
        if (n >= line_max) {
            PVS_LOG_W("drivers manifest line %d: too long: skipped", lineno);
            continue;
        }
        memcpy(line, raw, n);
        line[n] = '\0';
        char *eq = strstr(line, " = ");
        if (!eq) {
            PVS_LOG_W("drivers manifest line %d: not 'key = value': skipped", lineno);
            continue;
        }
        *eq = '\0';
        const char *key = line, *v = eq + 3;
        if (!strcmp(key, "format")) {
            if (strcmp(v, "1")) {
                pvs_text_error(why, why_len, "line %d: format %.20s, this pvstream-host "
                               "reads format %d: update pvstream-host", lineno, v,
                               FORMAT_VERSION);
                rc = PVS_EBADDATA;
            }
            format_seen = true;
        } else if (!strcmp(key, "driver_version")) {
            set_value(m->driver_version, v, lineno, key);
        } else if (!strcmp(key, "driver_date")) {
            set_value(m->driver_date, v, lineno, key);
        } else if (!strcmp(key, "inf")) {
            if (pvs_manifest_name_ok(v))
                set_value(m->inf, v, lineno, key);
            else
                PVS_LOG_W("drivers manifest line %d: a bad INF name: ignored", lineno);
        } else if (!strcmp(key, "package")) {
            if (pvs_manifest_name_ok(v))
                set_value(m->package, v, lineno, key);
            else
                PVS_LOG_W("drivers manifest line %d: a bad package name: ignored", lineno);
        } else if (!strcmp(key, "file")) {
            rc = parse_file_line(m, v, lineno);
        } else {
            PVS_LOG_W("drivers manifest line %d: unknown key '%.40s': skipped", lineno, key);
        }
    }
    free(line);
    if (rc == 0 && !format_seen) {
        pvs_text_error(why, why_len, "no 'format = 1' line: not a drivers manifest");
        rc = PVS_EBADDATA;
    } else if (rc == PVS_ENOMEM) {
        pvs_text_error(why, why_len, "out of memory");
    }
    if (rc < 0)
        pvs_manifest_free(m);
    return rc;
}

int pvs_manifest_format(const struct pvs_manifest *m, char **out)
{
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_printf(&t,
                    "# pvstream-host drivers manifest: what `pvstream-host drivers sync` copied\n"
                    "# into this guest. Written by it; do not edit.\n"
                    "format = %d\n", FORMAT_VERSION);
    if (*m->driver_version)
        pvs_text_printf(&t, "driver_version = %s\n", m->driver_version);
    if (*m->driver_date)
        pvs_text_printf(&t, "driver_date = %s\n", m->driver_date);
    if (*m->inf)
        pvs_text_printf(&t, "inf = %s\n", m->inf);
    if (*m->package)
        pvs_text_printf(&t, "package = %s\n", m->package);
    for (int i = 0; i < m->count; i++)
        pvs_text_printf(&t, "file = %s %" PRIu64 " %s\n", m->files[i].sha256,
                        m->files[i].size, m->files[i].path);
    return pvs_text_take(&t, out);
}

/* ---- SHA-256 ---------------------------------------------------------- */

struct pvs_sha256 {
    crypto_hash_sha256_state st;
};

int pvs_sha256_new(struct pvs_sha256 **out)
{
    *out = malloc(sizeof(**out));
    if (!*out)
        return PVS_ENOMEM;
    crypto_hash_sha256_init(&(*out)->st);
    return 0;
}

void pvs_sha256_update(struct pvs_sha256 *h, const void *data, size_t len)
{
    crypto_hash_sha256_update(&h->st, data, len);
}

void pvs_sha256_finish(struct pvs_sha256 **h, char hex[PVS_SHA256_HEX])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&(*h)->st, d);
    sodium_bin2hex(hex, PVS_SHA256_HEX, d, sizeof(d));
    pvs_sha256_free(h);
}

void pvs_sha256_free(struct pvs_sha256 **h)
{
    if (!h || !*h)
        return;
    sodium_memzero(*h, sizeof(**h));
    free(*h);
    *h = NULL;
}

/* ---- diff ------------------------------------------------------------- */

void pvs_diff_free(struct pvs_diff *d)
{
    for (int i = 0; i < d->count; i++)
        free(d->items[i].path);
    free(d->items);
    memset(d, 0, sizeof(*d));
}

static int diff_add(struct pvs_diff *d, enum pvs_diff_action a, const char *path,
                    const char *reason, int want)
{
    if (d->count == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        struct pvs_diff_item *n = realloc(d->items, (size_t)cap * sizeof(*n));
        if (!n)
            return PVS_ENOMEM;
        d->items = n;
        d->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return PVS_ENOMEM;
    struct pvs_diff_item *it = &d->items[d->count++];
    it->action = a;
    it->path = copy;
    it->reason = reason;
    it->want = want;
    if (a == PVS_DIFF_COPY)
        d->copies++;
    else if (a == PVS_DIFF_SKIP)
        d->skips++;
    else
        d->removals++;
    return 0;
}

/* Is path inside folder (a guest path, no trailing slash)? */
static bool under(const char *path, const char *folder)
{
    size_t n = strlen(folder);
    return !pvs_inf_casecmp_n(path, folder, n) && path[n] == '/';
}

static bool stale_package(const struct pvs_manifest *want, const struct pvs_manifest *have,
                          const char *name)
{
    if (!pvs_manifest_name_ok(name) || !casecmp(name, want->package))
        return false;
    if (have && *have->package && !casecmp(name, have->package))
        return true;
    size_t n = strlen(want->inf);
    return n > 0 && !pvs_inf_casecmp_n(name, want->inf, n) && name[n] == '_';
}

static int diff_files(const struct pvs_manifest *want, const struct pvs_manifest *have,
                      const struct pvs_guest_view *g, struct pvs_diff *out, char *why,
                      size_t why_len)
{
    for (int i = 0; i < want->count; i++) {
        const struct pvs_manifest_file *w = &want->files[i];
        const struct pvs_manifest_file *h = pvs_manifest_find(have, w->path);
        uint64_t size = 0;
        int rc = g->file_size(g->opaque, w->path, &size);
        const char *reason;
        enum pvs_diff_action a = PVS_DIFF_COPY;
        if (rc == PVS_ENOENT) {
            reason = h ? "missing in the guest" : "new";
        } else if (rc < 0) {
            pvs_text_error(why, why_len, "%s in the guest: %s", w->path, pvs_strerror(rc));
            return rc;
        } else if (size != w->size) {
            reason = "changed";
        } else if (h && h->size == w->size && !strcmp(h->sha256, w->sha256)) {
            a = PVS_DIFF_SKIP;
            reason = "unchanged";
        } else {
            char hex[PVS_SHA256_HEX];
            rc = g->file_hash(g->opaque, w->path, hex);
            if (rc < 0) {
                pvs_text_error(why, why_len, "reading %s in the guest: %s", w->path,
                               pvs_strerror(rc));
                return rc;
            }
            if (!strcmp(hex, w->sha256)) {
                a = PVS_DIFF_SKIP;
                reason = "already there";
            } else {
                reason = "changed";
            }
        }
        rc = diff_add(out, a, w->path, reason, i);
        if (rc < 0)
            return rc;
        if (a == PVS_DIFF_COPY)
            out->copy_bytes += w->size;
    }
    return 0;
}

int pvs_manifest_diff(const struct pvs_manifest *want, const struct pvs_manifest *have,
                      const struct pvs_guest_view *g, struct pvs_diff *out, char *why,
                      size_t why_len)
{
    memset(out, 0, sizeof(*out));
    pvs_text_error(why, why_len, "no error");
    char **names = NULL;
    int nnames = 0;
    int rc = diff_files(want, have, g, out, why, why_len);
    if (rc == 0) {
        rc = g->packages(g->opaque, &names, &nnames);
        if (rc < 0)
            pvs_text_error(why, why_len, "listing %s in the guest: %s", PVS_MANIFEST_REPOSITORY,
                           pvs_strerror(rc));
    }
    /* Stale package folders first: the file removals below skip what they hold. */
    int first_dir = out->count;
    for (int i = 0; i < nnames && rc == 0; i++) {
        if (!stale_package(want, have, names[i]))
            continue;
        char path[PVS_MANIFEST_PATH_MAX];
        int n = snprintf(path, sizeof(path), "%s/%s", PVS_MANIFEST_REPOSITORY, names[i]);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        const char *reason = have && !casecmp(names[i], have->package)
                                 ? "the package the last sync copied"
                                 : "an older package of the same driver";
        rc = diff_add(out, PVS_DIFF_REMOVE_DIR, path, reason, -1);
    }
    int end_dir = out->count;
    for (int i = 0; have && i < have->count && rc == 0; i++) {
        const struct pvs_manifest_file *h = &have->files[i];
        if (pvs_manifest_find(want, h->path))
            continue;
        bool in_dir = false;
        for (int d = first_dir; d < end_dir && !in_dir; d++)
            in_dir = under(h->path, out->items[d].path);
        if (in_dir)
            continue;
        uint64_t size;
        int s = g->file_size(g->opaque, h->path, &size);
        if (s == PVS_ENOENT)
            continue;
        if (s < 0) {
            rc = s;
            pvs_text_error(why, why_len, "%s in the guest: %s", h->path, pvs_strerror(s));
            break;
        }
        rc = diff_add(out, PVS_DIFF_REMOVE_FILE, h->path, "no longer part of the driver", -1);
    }
    for (int i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (rc == PVS_ENOMEM)
        pvs_text_error(why, why_len, "out of memory");
    if (rc < 0)
        pvs_diff_free(out);
    return rc;
}
