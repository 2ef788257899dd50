/* A bounded INF reader (see inf.h).
 *
 * The text is decoded to UTF-8, cut into entries (quotes, comments and
 * continuations resolved) whose strings all live in one arena, referred
 * to by offset; then the [Strings] table is built and %strkey% tokens are
 * replaced in every other section. Lookups walk the entries: an INF has a
 * few thousand at most, and only a few lookups are made per install
 * section. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/inf.h"
#include "host/text.h"

struct inf_entry {
    int section;       /* index into sections */
    int line;          /* where it starts, for messages */
    size_t key;        /* arena offset, or NO_KEY */
    int first, count;  /* its values: fields[first .. first + count - 1] */
    int next;          /* the section's next entry, or -1 */
};

struct inf_section {
    size_t name;       /* arena offset */
    int first, last;   /* its entries, a list through inf_entry.next; -1 when none */
};

struct inf_string {
    size_t key, value; /* arena offsets */
    int rank;          /* 0 for [Strings], 1 for [Strings.*]; then file order */
};

struct pvs_inf {
    struct pvs_text arena;     /* every string, NUL-separated */
    struct inf_section *sections;
    int nsections, capsections;
    struct inf_entry *entries;
    int nentries, capentries;
    size_t *fields;            /* arena offsets */
    int nfields, capfields;
    struct inf_string *strings;
    int nstrings;
};

#define NO_KEY ((size_t)-1)

static const char *at(const struct pvs_inf *inf, size_t off)
{
    return inf->arena.buf + off;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int pvs_inf_casecmp_n(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int d = lower((unsigned char)a[i]) - lower((unsigned char)b[i]);
        if (d || !a[i])
            return d;
    }
    return 0;
}


static int casecmp(const char *a, const char *b)
{
    return pvs_inf_casecmp_n(a, b, (size_t)-1);
}

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*p, (size_t)ncap * elem);
    if (!n)
        return PVS_ENOMEM;
    *p = n;
    *cap = ncap;
    return 0;
}

/* Appends s (n bytes) and a NUL to the arena; returns its offset. */
static size_t arena_add(struct pvs_inf *inf, const char *s, size_t n)
{
    size_t off = inf->arena.len;
    pvs_text_append(&inf->arena, s, n);
    pvs_text_append(&inf->arena, "", 1);
    return off;
}

/* ---- decoding --------------------------------------------------------- */

static void put_utf8(struct pvs_text *t, uint32_t c)
{
    char b[4];
    size_t n;
    if (c < 0x80) {
        b[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (char)(0xc0 | c >> 6);
        b[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (char)(0xe0 | c >> 12);
        b[1] = (char)(0x80 | (c >> 6 & 0x3f));
        b[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | c >> 18);
        b[1] = (char)(0x80 | (c >> 12 & 0x3f));
        b[2] = (char)(0x80 | (c >> 6 & 0x3f));
        b[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    pvs_text_append(t, b, n);
}

/* The text as UTF-8 in *out (NUL-terminated, the caller frees it). */
static int decode(const uint8_t *d, size_t size, char **out, size_t *len, char *why,
                  size_t why_len)
{
    struct pvs_text t = PVS_TEXT_INIT;
    bool utf16 = false;
    size_t i = 0;
    if (size >= 2 && d[0] == 0xff && d[1] == 0xfe) {
        utf16 = true;
        i = 2;
    } else if (size >= 3 && d[0] == 0xef && d[1] == 0xbb && d[2] == 0xbf) {
        i = 3;
    } else if (size >= 2 && d[0] != 0 && d[1] == 0) {
        utf16 = true; /* UTF-16LE without a byte order mark: "[\0V\0..." */
    }
    if (utf16) {
        for (; i + 1 < size; i += 2) {
            uint32_t c = d[i] | (uint32_t)d[i + 1] << 8;
            if (c >= 0xd800 && c <= 0xdbff && i + 3 < size) {
                uint32_t c2 = d[i + 2] | (uint32_t)d[i + 3] << 8;
                if (c2 >= 0xdc00 && c2 <= 0xdfff) {
                    c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
                    i += 2;
                }
            }
            if (c >= 0xd800 && c <= 0xdfff)
                c = 0xfffd; /* an unpaired surrogate */
            if (c == 0) {
                pvs_text_error(why, why_len, "a NUL character at byte %" PRIu64 ": not a text file",
                               (uint64_t)i);
                pvs_text_free(&t);
                return PVS_EBADDATA;
            }
            put_utf8(&t, c);
        }
    } else {
        const uint8_t *nul = memchr(d + i, 0, size - i);
        if (nul) {
            pvs_text_error(why, why_len, "a NUL byte at byte %" PRIu64 ": not a text file",
                           (uint64_t)(nul - d));
            return PVS_EBADDATA;
        }
        pvs_text_append(&t, (const char *)d + i, size - i);
    }
    *len = t.len;
    int rc = pvs_text_take(&t, out);
    if (rc < 0)
        pvs_text_error(why, why_len, "out of memory");
    return rc;
}

/* ---- tokenizing ------------------------------------------------------- */

struct tok {
    char *buf;            /* the entry's strings, NUL-separated; PVS_INF_MAX_LINE bytes */
    size_t len;
    size_t starts[PVS_INF_MAX_FIELDS + 1];
    int n;                /* fields so far (the key is starts[0] when has_key) */
    bool has_key;
    size_t keep;          /* length of the current field up to its last kept character */
    bool field_started;   /* something other than leading blanks seen */
    bool any;             /* the entry holds anything at all */
};

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

static int tok_char(struct tok *k, char c, bool quoted)
{
    if (!quoted && !k->field_started && blank(c))
        return 0;
    if (k->len + 2 >= PVS_INF_MAX_LINE)
        return PVS_EBADDATA;
    k->buf[k->len++] = c;
    k->field_started = true;
    k->any = true;
    if (quoted || !blank(c))
        k->keep = k->len;
    return 0;
}

static int tok_end_field(struct tok *k)
{
    if (k->n >= PVS_INF_MAX_FIELDS)
        return PVS_EBADDATA;
    k->len = k->keep;
    k->buf[k->len++] = '\0';
    k->n++;
    k->starts[k->n] = k->len;
    k->keep = k->len;
    k->field_started = false;
    return 0;
}

static int add_entry(struct pvs_inf *inf, int section, int line, struct tok *k)
{
    if (inf->nentries >= PVS_INF_MAX_LINES)
        return PVS_ERANGE;
    int nvals = k->n - (k->has_key ? 1 : 0);
    if (grow((void **)&inf->entries, &inf->capentries, inf->nentries + 1, sizeof(*inf->entries)) ||
        grow((void **)&inf->fields, &inf->capfields, inf->nfields + nvals, sizeof(size_t)))
        return PVS_ENOMEM;
    int idx = inf->nentries++;
    struct inf_entry *e = &inf->entries[idx];
    struct inf_section *sec = &inf->sections[section];
    if (sec->last >= 0)
        inf->entries[sec->last].next = idx;
    else
        sec->first = idx;
    sec->last = idx;
    e->next = -1;
    e->section = section;
    e->line = line;
    e->key = NO_KEY;
    int f = 0;
    if (k->has_key) {
        e->key = arena_add(inf, k->buf, strlen(k->buf));
        f = 1;
    }
    e->first = inf->nfields;
    e->count = nvals;
    for (; f < k->n; f++) {
        const char *s = k->buf + k->starts[f];
        inf->fields[inf->nfields++] = arena_add(inf, s, strlen(s));
    }
    return inf->arena.err;
}

static int add_section(struct pvs_inf *inf, const char *name, size_t n)
{
    for (int i = 0; i < inf->nsections; i++) {
        const char *s = at(inf, inf->sections[i].name);
        if (strlen(s) == n && !pvs_inf_casecmp_n(s, name, n))
            return i;
    }
    if (inf->nsections >= PVS_INF_MAX_SECTIONS)
        return PVS_ERANGE;
    if (grow((void **)&inf->sections, &inf->capsections, inf->nsections + 1,
             sizeof(*inf->sections)))
        return PVS_ENOMEM;
    inf->sections[inf->nsections].name = arena_add(inf, name, n);
    inf->sections[inf->nsections].first = inf->sections[inf->nsections].last = -1;
    if (inf->arena.err)
        return inf->arena.err;
    return inf->nsections++;
}

/* Is the rest of this physical line (from p) blank up to its end or a
 * comment? Used for a backslash continuation. */
static bool rest_blank(const char *p, const char *end)
{
    while (p < end && *p != '\n' && *p != '\r') {
        if (*p == ';')
            return true;
        if (!blank(*p))
            return false;
        p++;
    }
    return true;
}

static const char *next_line(const char *p, const char *end)
{
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    if (p < end && *p == '\r')
        p++;
    if (p < end && *p == '\n')
        p++;
    return p;
}

static int tokenize(struct pvs_inf *inf, const char *text, size_t len, char *why, size_t why_len)
{
    struct tok *k = malloc(sizeof(*k));
    char *buf = malloc(PVS_INF_MAX_LINE);
    if (!k || !buf) {
        free(k);
        free(buf);
        pvs_text_error(why, why_len, "out of memory");
        return PVS_ENOMEM;
    }
    const char *p = text, *end = text + len;
    int line = 1, section = -1, rc = 0;
    while (p < end && rc == 0) {
        int start_line = line;
        while (p < end && blank(*p))
            p++;
        if (p < end && *p == '[') {
            const char *name = ++p;
            while (p < end && *p != ']' && *p != '\n' && *p != '\r')
                p++;
            if (p >= end || *p != ']') {
                pvs_text_error(why, why_len, "line %d: a section name without its closing ]",
                               line);
                rc = PVS_EBADDATA;
                break;
            }
            const char *ne = p;
            while (name < ne && blank(*name))
                name++;
            while (ne > name && blank(ne[-1]))
                ne--;
            if ((size_t)(ne - name) >= PVS_INF_NAME_MAX) {
                pvs_text_error(why, why_len, "line %d: a section name over %d bytes", line,
                               PVS_INF_NAME_MAX - 1);
                rc = PVS_EBADDATA;
                break;
            }
            rc = add_section(inf, name, (size_t)(ne - name));
            if (rc >= 0) {
                section = rc;
                rc = 0;
            } else if (rc == PVS_ERANGE) {
                pvs_text_error(why, why_len, "line %d: more than %d sections", line,
                               PVS_INF_MAX_SECTIONS);
                rc = PVS_EBADDATA;
            }
            p = next_line(p, end);
            line++;
            continue;
        }
        k->buf = buf;
        k->len = 0;
        k->starts[0] = 0;
        k->n = 0;
        k->has_key = false;
        k->keep = 0;
        k->field_started = false;
        k->any = false;
        bool done = false;
        while (!done && rc == 0) {
            if (p >= end) {
                break;
            }
            char c = *p;
            if (c == '\n' || c == '\r') {
                p = next_line(p, end);
                line++;
                break;
            }
            if (c == ';') {
                p = next_line(p, end);
                line++;
                break;
            }
            if (c == '\\' && rest_blank(p + 1, end)) {
                p = next_line(p, end); /* continued on the next line */
                line++;
                while (p < end && blank(*p))
                    p++; /* its indentation is not part of the value */
                continue;
            }
            if (c == '"') {
                p++;
                k->field_started = true;
                k->any = true;
                k->keep = k->len;
                for (;;) {
                    if (p >= end || *p == '\n' || *p == '\r')
                        break; /* an unterminated quote ends with its line */
                    if (*p == '"') {
                        if (p + 1 < end && p[1] == '"') {
                            rc = tok_char(k, '"', true);
                            p += 2;
                            if (rc < 0)
                                break;
                            continue;
                        }
                        p++;
                        break;
                    }
                    rc = tok_char(k, *p++, true);
                    if (rc < 0)
                        break;
                }
                continue;
            }
            if (c == '=' && !k->has_key && k->n == 0) {
                k->any = true;
                rc = tok_end_field(k);
                k->has_key = true;
                p++;
                continue;
            }
            if (c == ',') {
                k->any = true;
                rc = tok_end_field(k);
                p++;
                continue;
            }
            rc = tok_char(k, c, false);
            p++;
        }
        if (rc == 0 && k->any) {
            rc = tok_end_field(k);
            if (rc == 0 && section >= 0)
                rc = add_entry(inf, section, start_line, k);
        }
        if (rc == PVS_EBADDATA)
            pvs_text_error(why, why_len, "line %d: an entry longer than %d bytes or with more "
                           "than %d values", start_line, PVS_INF_MAX_LINE, PVS_INF_MAX_FIELDS);
        else if (rc == PVS_ERANGE) {
            pvs_text_error(why, why_len, "more than %d entries", PVS_INF_MAX_LINES);
            rc = PVS_EBADDATA;
        } else if (rc < 0)
            pvs_text_error(why, why_len, "out of memory");
    }
    if (rc == PVS_ENOMEM)
        pvs_text_error(why, why_len, "out of memory");
    free(buf);
    free(k);
    return rc;
}

/* ---- strings ---------------------------------------------------------- */

static int string_cmp(const struct pvs_inf *inf, const struct inf_string *x,
                      const struct inf_string *y)
{
    int d = casecmp(at(inf, x->key), at(inf, y->key));
    if (d)
        return d;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* By key, then rank. A shell sort, since the comparison needs the arena
 * and qsort's comparator takes no context. */
static void sort_strings(struct pvs_inf *inf)
{
    int n = inf->nstrings;
    for (int gap = n / 2; gap > 0; gap /= 2) {
        for (int i = gap; i < n; i++) {
            struct inf_string tmp = inf->strings[i];
            int j = i;
            while (j >= gap && string_cmp(inf, &inf->strings[j - gap], &tmp) > 0) {
                inf->strings[j] = inf->strings[j - gap];
                j -= gap;
            }
            inf->strings[j] = tmp;
        }
    }
}

static bool is_strings_section(const char *name, int *rank)
{
    if (!casecmp(name, "Strings")) {
        *rank = 0;
        return true;
    }
    if (!pvs_inf_casecmp_n(name, "Strings.", 8)) {
        *rank = 1;
        return true;
    }
    return false;
}

static int build_strings(struct pvs_inf *inf)
{
    int n = 0;
    for (int i = 0; i < inf->nentries; i++) {
        int rank;
        if (inf->entries[i].key != NO_KEY && inf->entries[i].count > 0 &&
            is_strings_section(at(inf, inf->sections[inf->entries[i].section].name), &rank))
            n++;
    }
    if (!n)
        return 0;
    inf->strings = malloc((size_t)n * sizeof(*inf->strings));
    if (!inf->strings)
        return PVS_ENOMEM;
    for (int i = 0; i < inf->nentries; i++) {
        const struct inf_entry *e = &inf->entries[i];
        int rank;
        if (e->key != NO_KEY && e->count > 0 &&
            is_strings_section(at(inf, inf->sections[e->section].name), &rank)) {
            /* The rank keeps [Strings] first, then file order. */
            inf->strings[inf->nstrings].key = e->key;
            inf->strings[inf->nstrings].value = inf->fields[e->first];
            inf->strings[inf->nstrings].rank = rank * PVS_INF_MAX_LINES + inf->nstrings;
            inf->nstrings++;
        }
    }
    sort_strings(inf);
    return 0;
}

static const char *lookup_string(const struct pvs_inf *inf, const char *key, size_t n)
{
    int lo = 0, hi = inf->nstrings;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const char *k = at(inf, inf->strings[mid].key);
        int d = pvs_inf_casecmp_n(k, key, n);
        if (d == 0 && k[n])
            d = 1; /* k is longer: it sorts after key */
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < inf->nstrings) {
        const char *k = at(inf, inf->strings[lo].key);
        if (!pvs_inf_casecmp_n(k, key, n) && !k[n])
            return at(inf, inf->strings[lo].value);
    }
    return NULL;
}

/* Replaces %strkey% in the string at *off; the result goes to the end of
 * the arena when anything changed. */
static int substitute(struct pvs_inf *inf, size_t *off, struct pvs_text *tmp)
{
    if (!strchr(at(inf, *off), '%'))
        return 0;
    tmp->len = 0;
    size_t pos = *off;
    for (;;) {
        /* Offsets, not pointers: nothing is added to the arena in here,
         * but stay safe against that anyway. */
        const char *s = at(inf, pos);
        const char *pct = strchr(s, '%');
        if (!pct) {
            pvs_text_puts(tmp, s);
            break;
        }
        pvs_text_append(tmp, s, (size_t)(pct - s));
        const char *close = strchr(pct + 1, '%');
        if (!close) {
            pvs_text_puts(tmp, pct);
            break;
        }
        if (close == pct + 1) {
            pvs_text_append(tmp, "%", 1);
        } else {
            const char *v = lookup_string(inf, pct + 1, (size_t)(close - pct - 1));
            if (v)
                pvs_text_puts(tmp, v);
            else
                pvs_text_append(tmp, pct, (size_t)(close - pct + 1));
        }
        pos += (size_t)(close + 1 - s);
        if (tmp->len > PVS_INF_MAX_LINE)
            return PVS_EBADDATA;
    }
    if (tmp->err)
        return tmp->err;
    if (tmp->len > PVS_INF_MAX_LINE)
        return PVS_EBADDATA;
    *off = arena_add(inf, tmp->buf ? tmp->buf : "", tmp->len);
    return inf->arena.err;
}

static int substitute_all(struct pvs_inf *inf, char *why, size_t why_len)
{
    struct pvs_text tmp = PVS_TEXT_INIT;
    int rc = 0;
    for (int i = 0; i < inf->nentries && rc == 0; i++) {
        struct inf_entry *e = &inf->entries[i];
        int rank;
        if (is_strings_section(at(inf, inf->sections[e->section].name), &rank))
            continue;
        if (e->key != NO_KEY)
            rc = substitute(inf, &e->key, &tmp);
        for (int f = 0; f < e->count && rc == 0; f++)
            rc = substitute(inf, &inf->fields[e->first + f], &tmp);
        if (rc == PVS_EBADDATA)
            pvs_text_error(why, why_len, "line %d: longer than %d bytes once %%strkey%% "
                           "tokens are replaced", e->line, PVS_INF_MAX_LINE);
        else if (rc < 0)
            pvs_text_error(why, why_len, "out of memory");
    }
    pvs_text_free(&tmp);
    return rc;
}

/* ---- public ----------------------------------------------------------- */

int pvs_inf_parse(const void *data, size_t size, struct pvs_inf **out, char *why,
                  size_t why_len)
{
    *out = NULL;
    pvs_text_error(why, why_len, "no error");
    if (size > PVS_INF_MAX_SIZE) {
        pvs_text_error(why, why_len, "%" PRIu64 " bytes: larger than %u, not a driver INF", (uint64_t)size,
                       PVS_INF_MAX_SIZE);
        return PVS_EBADDATA;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = decode(data, size, &text, &len, why, why_len);
    if (rc < 0)
        return rc;
    struct pvs_inf *inf = calloc(1, sizeof(*inf));
    if (!inf) {
        free(text);
        pvs_text_error(why, why_len, "out of memory");
        return PVS_ENOMEM;
    }
    rc = tokenize(inf, text, len, why, why_len);
    free(text);
    if (rc == 0) {
        rc = build_strings(inf);
        if (rc < 0)
            pvs_text_error(why, why_len, "out of memory");
    }
    if (rc == 0)
        rc = substitute_all(inf, why, why_len);
    if (rc == 0 && inf->arena.err) {
        rc = inf->arena.err;
        pvs_text_error(why, why_len, "out of memory");
    }
    if (rc < 0) {
        pvs_inf_free(&inf);
        return rc;
    }
    *out = inf;
    return 0;
}

void pvs_inf_free(struct pvs_inf **inf)
{
    if (!inf || !*inf)
        return;
    struct pvs_inf *p = *inf;
    pvs_text_free(&p->arena);
    free(p->sections);
    free(p->entries);
    free(p->fields);
    free(p->strings);
    free(p);
    *inf = NULL;
}

int pvs_inf_section_count(const struct pvs_inf *inf)
{
    return inf->nsections;
}

static int find_section(const struct pvs_inf *inf, const char *name)
{
    for (int i = 0; i < inf->nsections; i++)
        if (!casecmp(at(inf, inf->sections[i].name), name))
            return i;
    return -1;
}

int pvs_inf_has_section(const struct pvs_inf *inf, const char *section)
{
    return find_section(inf, section) >= 0;
}

/* Walks a section's entries: for (e = first(inf, s); e; e = next(inf, e)). */
static const struct inf_entry *first(const struct pvs_inf *inf, int section)
{
    int i = section >= 0 ? inf->sections[section].first : -1;
    return i >= 0 ? &inf->entries[i] : NULL;
}

static const struct inf_entry *next(const struct pvs_inf *inf, const struct inf_entry *e)
{
    return e->next >= 0 ? &inf->entries[e->next] : NULL;
}

static const struct inf_entry *find_entry(const struct pvs_inf *inf, int section, const char *key)
{
    for (const struct inf_entry *e = first(inf, section); e; e = next(inf, e))
        if (e->key != NO_KEY && !casecmp(at(inf, e->key), key))
            return e;
    return NULL;
}

static const char *field(const struct pvs_inf *inf, const struct inf_entry *e, int i)
{
    return i < e->count ? at(inf, inf->fields[e->first + i]) : "";
}

const char *pvs_inf_get(const struct pvs_inf *inf, const char *section, const char *key)
{
    int s = find_section(inf, section);
    const struct inf_entry *e = s < 0 ? NULL : find_entry(inf, s, key);
    return e ? field(inf, e, 0) : NULL;
}

const char *pvs_inf_class(const struct pvs_inf *inf)
{
    return pvs_inf_get(inf, "Version", "Class");
}

/* A decimal number 0..max, the whole string. */
static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

int pvs_inf_driver_ver(const struct pvs_inf *inf, struct pvs_inf_driver_ver *out, char *why,
                       size_t why_len)
{
    memset(out, 0, sizeof(*out));
    int s = find_section(inf, "Version");
    const struct inf_entry *e = s < 0 ? NULL : find_entry(inf, s, "DriverVer");
    if (!e || e->count < 1) {
        pvs_text_error(why, why_len, "no DriverVer in [Version]");
        return PVS_ENOENT;
    }
    const char *date = field(inf, e, 0);
    char part[3][8];
    int n = 0;
    size_t len = 0;
    for (const char *p = date;; p++) {
        if (*p == '/' || *p == '-' || !*p) {
            if (n >= 3 || len == 0)
                goto bad_date;
            part[n++][len] = '\0';
            len = 0;
            if (!*p)
                break;
        } else {
            if (n >= 3 || len >= 7)
                goto bad_date;
            part[n][len++] = *p;
        }
    }
    unsigned long m, d, y;
    if (n != 3 || !parse_num(part[0], 12, &m) || !parse_num(part[1], 31, &d) ||
        !parse_num(part[2], 9999, &y) || m < 1 || d < 1 || y < 1000)
        goto bad_date;
    out->month = (unsigned)m;
    out->day = (unsigned)d;
    out->year = (unsigned)y;
    snprintf(out->date, sizeof(out->date), "%04lu-%02lu-%02lu", y, m, d);

    const char *ver = field(inf, e, 1);
    if (*ver) {
        int dots = 0;
        size_t digits = 0;
        unsigned long v = 0;
        for (const char *p = ver;; p++) {
            if (*p == '.' || !*p) {
                if (!digits || v > 65535)
                    goto bad_version;
                if (!*p)
                    break;
                if (++dots > 3)
                    goto bad_version;
                digits = 0;
                v = 0;
            } else if (*p >= '0' && *p <= '9' && digits < 6) {
                v = v * 10 + (unsigned long)(*p - '0');
                digits++;
            } else {
                goto bad_version;
            }
        }
        snprintf(out->version, sizeof(out->version), "%s", ver);
    }
    return 0;
bad_date:
    pvs_text_error(why, why_len, "line %d: DriverVer date '%.40s' is not mm/dd/yyyy", e->line,
                   date);
    memset(out, 0, sizeof(*out));
    return PVS_EBADDATA;
bad_version:
    pvs_text_error(why, why_len, "line %d: DriverVer version '%.40s' is not w.x.y.z", e->line,
                   ver);
    memset(out, 0, sizeof(*out));
    return PVS_EBADDATA;
}

/* ---- installed files -------------------------------------------------- */

struct file_list {
    struct pvs_inf_file *files;
    int n, cap;
    /* Sections already followed, as section * 4 + enum seen_kind. */
    int *done;
    int ndone, capdone;
};

bool pvs_inf_name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= PVS_INF_NAME_MAX)
        return false;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':' || c == '*' ||
            c == '?' || c == '"' || c == '<' || c == '>' || c == '|')
            return false;
    }
    return true;
}

/* Normalizes a subdirectory ("NV", "\a\b\", "a/b") to "a\b"; false when a
 * part is not a usable name. */
static bool subdir_ok(const char *s, char *out, size_t len)
{
    size_t o = 0;
    const char *p = s;
    while (*p) {
        while (*p == '\\' || *p == '/')
            p++;
        if (!*p)
            break;
        const char *q = p;
        while (*q && *q != '\\' && *q != '/')
            q++;
        size_t n = (size_t)(q - p);
        if (!pvs_inf_name_ok(p, n) || o + n + 2 > len)
            return false;
        if (o)
            out[o++] = '\\';
        memcpy(out + o, p, n);
        o += n;
        p = q;
    }
    out[o] = '\0';
    return true;
}

enum seen_kind { SEEN_MODELS, SEEN_INSTALL, SEEN_LIST };

/* Has this section been followed as this kind already? Marks it. */
static bool seen(struct file_list *fl, int section, enum seen_kind kind)
{
    int key = section * 4 + (int)kind;
    for (int i = 0; i < fl->ndone; i++)
        if (fl->done[i] == key)
            return true;
    if (grow((void **)&fl->done, &fl->capdone, fl->ndone + 1, sizeof(int)) == 0)
        fl->done[fl->ndone++] = key;
    return false;
}

/* The destination for a file-list section: its own [DestinationDirs]
 * entry, else DefaultDestDir. Returns false (and warns) when there is none
 * or it is unusable. */
static bool destination(const struct pvs_inf *inf, const char *list, unsigned *dirid,
                        char *subdir, size_t len)
{
    int dd = find_section(inf, "DestinationDirs");
    const struct inf_entry *e = NULL;
    if (dd >= 0 && list)
        e = find_entry(inf, dd, list);
    if (!e && dd >= 0)
        e = find_entry(inf, dd, "DefaultDestDir");
    if (!e || e->count < 1) {
        PVS_LOG_W("INF: no destination for %s%s in [DestinationDirs]: its files are skipped",
                  list ? "file list " : "single files", list ? list : "");
        return false;
    }
    unsigned long v;
    if (!parse_num(field(inf, e, 0), 0xffffffffUL, &v)) {
        PVS_LOG_W("INF line %d: destination '%s' is not a DIRID number: skipped", e->line,
                  field(inf, e, 0));
        return false;
    }
    if (!subdir_ok(field(inf, e, 1), subdir, len)) {
        PVS_LOG_W("INF line %d: destination subdirectory '%s' is not a plain path: skipped",
                  e->line, field(inf, e, 1));
        return false;
    }
    *dirid = (unsigned)v;
    return true;
}

static int add_file(struct file_list *fl, unsigned dirid, const char *subdir, const char *name,
                    const char *source, int line)
{
    if (dirid == PVS_INF_DIRID_DRIVER_STORE)
        return 0;
    if (!pvs_inf_name_ok(name, strlen(name)) || !pvs_inf_name_ok(source, strlen(source))) {
        PVS_LOG_W("INF line %d: file name '%.80s' is not a plain file name: skipped", line, name);
        return 0;
    }
    for (int i = 0; i < fl->n; i++)
        if (fl->files[i].dirid == dirid && !casecmp(fl->files[i].subdir, subdir) &&
            !casecmp(fl->files[i].name, name))
            return 0;
    if (fl->n >= PVS_INF_MAX_FILES)
        return PVS_ERANGE;
    if (grow((void **)&fl->files, &fl->cap, fl->n + 1, sizeof(*fl->files)))
        return PVS_ENOMEM;
    struct pvs_inf_file *f = &fl->files[fl->n++];
    f->dirid = dirid;
    snprintf(f->subdir, sizeof(f->subdir), "%s", subdir);
    snprintf(f->name, sizeof(f->name), "%s", name);
    snprintf(f->source, sizeof(f->source), "%s", source);
    return 0;
}

static int copy_list(const struct pvs_inf *inf, struct file_list *fl, const char *list)
{
    int s = find_section(inf, list);
    if (s < 0) {
        PVS_LOG_W("INF: CopyFiles names section [%s], which does not exist: skipped", list);
        return 0;
    }
    if (seen(fl, s, SEEN_LIST))
        return 0;
    unsigned dirid;
    char subdir[PVS_INF_NAME_MAX];
    if (!destination(inf, list, &dirid, subdir, sizeof(subdir)))
        return 0;
    for (const struct inf_entry *e = first(inf, s); e; e = next(inf, e)) {
        if (e->key != NO_KEY) {
            PVS_LOG_W("INF line %d: '%s = ...' in file list [%s] is not a file entry: skipped",
                      e->line, at(inf, e->key), list);
            continue;
        }
        const char *name = field(inf, e, 0), *source = field(inf, e, 1);
        int rc = add_file(fl, dirid, subdir, name, *source ? source : name, e->line);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Every CopyFiles directive of one install section. */
static int copy_files(const struct pvs_inf *inf, struct file_list *fl, int section)
{
    for (const struct inf_entry *e = first(inf, section); e; e = next(inf, e)) {
        if (e->key == NO_KEY || casecmp(at(inf, e->key), "CopyFiles"))
            continue;
        for (int f = 0; f < e->count; f++) {
            const char *v = field(inf, e, f);
            int rc = 0;
            if (v[0] == '@') {
                unsigned dirid;
                char subdir[PVS_INF_NAME_MAX];
                if (destination(inf, NULL, &dirid, subdir, sizeof(subdir)))
                    rc = add_file(fl, dirid, subdir, v + 1, v + 1, e->line);
            } else if (*v) {
                rc = copy_list(inf, fl, v);
            }
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* The install section X as Windows picks it on amd64: X.NTamd64, X.NT, X. */
static int install_section(const struct pvs_inf *inf, const char *name)
{
    static const char *const ext[] = { ".NTamd64", ".NT", "" };
    char buf[PVS_INF_NAME_MAX + 16];
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", name, ext[i]);
        int s = find_section(inf, buf);
        if (s >= 0)
            return s;
    }
    return -1;
}

static int follow_models(const struct pvs_inf *inf, struct file_list *fl, int models)
{
    for (const struct inf_entry *e = first(inf, models); e; e = next(inf, e)) {
        if (e->count < 1 || !*field(inf, e, 0))
            continue;
        int s = install_section(inf, field(inf, e, 0));
        if (s < 0) {
            PVS_LOG_W("INF line %d: install section [%s] does not exist: skipped", e->line,
                      field(inf, e, 0));
            continue;
        }
        if (seen(fl, s, SEEN_INSTALL))
            continue;
        int rc = copy_files(inf, fl, s);
        char co[PVS_INF_NAME_MAX + 16];
        snprintf(co, sizeof(co), "%s.CoInstallers", at(inf, inf->sections[s].name));
        int cs = find_section(inf, co);
        if (rc == 0 && cs >= 0 && !seen(fl, cs, SEEN_INSTALL))
            rc = copy_files(inf, fl, cs);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool amd64_decoration(const char *d)
{
    return !casecmp(d, "NT") || !pvs_inf_casecmp_n(d, "NTamd64", 7);
}

static int file_cmp(const void *a, const void *b)
{
    const struct pvs_inf_file *x = a, *y = b;
    if (x->dirid != y->dirid)
        return x->dirid < y->dirid ? -1 : 1;
    int d = casecmp(x->subdir, y->subdir);
    return d ? d : casecmp(x->name, y->name);
}

int pvs_inf_installed_files(const struct pvs_inf *inf, struct pvs_inf_file **files, int *count,
                            char *why, size_t why_len)
{
    *files = NULL;
    *count = 0;
    struct file_list fl;
    memset(&fl, 0, sizeof(fl));
    int rc = 0;
    int mfg = find_section(inf, "Manufacturer");
    for (const struct inf_entry *e = first(inf, mfg); e && rc == 0; e = next(inf, e)) {
        if (e->count < 1)
            continue;
        const char *models = field(inf, e, 0);
        char buf[2 * PVS_INF_NAME_MAX];
        int s = find_section(inf, models);
        if (s >= 0 && !seen(&fl, s, SEEN_MODELS))
            rc = follow_models(inf, &fl, s);
        for (int d = 1; d < e->count && rc == 0; d++) {
            const char *dec = field(inf, e, d);
            if (!amd64_decoration(dec))
                continue;
            snprintf(buf, sizeof(buf), "%s.%s", models, dec);
            s = find_section(inf, buf);
            if (s >= 0 && !seen(&fl, s, SEEN_MODELS))
                rc = follow_models(inf, &fl, s);
        }
    }
    free(fl.done);
    if (rc < 0) {
        free(fl.files);
        if (rc == PVS_ERANGE)
            pvs_text_error(why, why_len, "more than %d files to install", PVS_INF_MAX_FILES);
        else
            pvs_text_error(why, why_len, "out of memory");
        return rc;
    }
    if (fl.n > 1)
        qsort(fl.files, (size_t)fl.n, sizeof(*fl.files), file_cmp);
    *files = fl.files;
    *count = fl.n;
    return 0;
}
