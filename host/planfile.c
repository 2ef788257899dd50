/* The saved plan file (see planfile.h): writing it, reading it back, and
 * making one for a GPU that `list` reports (`plan --gpu ID`).
 *
 * The syntax is inih's: [section] headers, "key = value" (or "key: value"),
 * whole-line comments starting with ';' or '#', and an inline comment from a
 * ';' that follows whitespace. The reader is our own, not inih: Debian's
 * inih reads lines of at most 199 characters and cuts longer ones into
 * pieces it parses as lines of their own, but a Windows instance path
 * (PVS_HOST_ID_MAX) can be longer; and a plan is applied to real hardware,
 * so every line must be accounted for, with its number, before anything is
 * read into the plan. The reader keeps inih's meaning for every file this
 * writer produces, so the file stays an ordinary INI file.
 *
 * Reading is two passes: the text is cut into (line, section, key, value)
 * entries, then [plan] is read first (the backend decides which keys a VM
 * has), then the VMs, then what holds between VMs (names and UUIDs unique,
 * shares within the totals). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/error.h"
#include "host/planfile.h"
#include "host/ps.h"
#include "host/report.h"
#include "host/sysfs.h"
#include "host/text.h"

#define PLANFILE_MAX (1u << 20)
#define MAX_LOW_MMIO_MIB 3072u
#define MAX_HIGH_MMIO_MIB 1048576u

enum { B_HYPERV = 1, B_MDEV = 2, B_SRIOV = 4, B_ALL = 7 };

static const char *const backend_names[] = { "hyperv", "mdev", "sriov" };

/* A key, and the backends whose plans have it (and must). */
struct key {
    const char *name;
    unsigned backends;
};

enum { P_BACKEND, P_GPU, P_VMS, P_LOW, P_HIGH, P_TYPE, P_TOTAL, P_COUNT = P_TOTAL + 4 };
static const struct key plan_keys[P_COUNT] = {
    { "backend", B_ALL },       { "gpu", B_ALL },           { "vms", B_ALL },
    { "low_mmio_mib", B_HYPERV }, { "high_mmio_mib", B_HYPERV }, { "mdev_type", B_MDEV },
    { "vram", B_HYPERV },       { "encode", B_HYPERV },     { "decode", B_HYPERV },
    { "compute", B_HYPERV },
};

enum { V_NAME, V_WEIGHT, V_UUID, V_RES, V_COUNT = V_RES + 4 };
static const struct key vm_keys[V_COUNT] = {
    { "name", B_ALL },     { "weight", B_HYPERV }, { "uuid", B_MDEV },
    { "vram", B_HYPERV },  { "encode", B_HYPERV }, { "decode", B_HYPERV },
    { "compute", B_HYPERV },
};

/* ---- checks shared by the reader and the writer ------------------------- */

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Why `s` would not read back the same from a plan file, or NULL. */
static const char *text_problem(const char *s, bool allow_hash)
{
    if (!*s)
        return "it is empty";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return "it holds a control character (a newline, a tab...)";
    if (blank(s[0]) || blank(s[strlen(s) - 1]))
        return "it starts or ends with a space";
    if (strchr(s, ';'))
        return "it holds a ';', which starts a comment in the file";
    if (!allow_hash && strchr(s, '#'))
        return "it holds a '#', which starts a comment in the file";
    return NULL;
}

/* An mdev type id goes into a sysfs path: letters, digits and "._+-", not
 * starting with '.'. */
static bool type_id_ok(const char *s)
{
    if (!*s || *s == '.' || strlen(s) >= PVS_HOST_TYPE_ID_MAX)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._+-", *p)))
            return false;
    return true;
}

/* "8-4-4-4-12" hex digits; stores it lower-case in out (37 bytes). */
static bool uuid_parse(const char *s, char *out)
{
    if (strlen(s) != PVS_PLANFILE_UUID_LEN)
        return false;
    for (int i = 0; i < PVS_PLANFILE_UUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (c >= 'A' && c <= 'F') {
            c = (char)(c - 'A' + 'a');
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
        out[i] = c;
    }
    out[PVS_PLANFILE_UUID_LEN] = '\0';
    return true;
}

static unsigned backend_bit(const char *name)
{
    for (unsigned i = 0; i < 3; i++)
        if (!strcmp(name, backend_names[i]))
            return 1u << i;
    return 0;
}

/* A decimal 0..2^64-1, digits only: plan.h's reader without its "max". */
static bool parse_u64(const char *s, uint64_t *out)
{
    return strcmp(s, "max") && pvs_plan_parse_u64(s, out) == 0;
}

/* ---- reading ------------------------------------------------------------ */

struct entry {
    int line;
    int sec;       /* -1: [plan]; 0..: [vm.sec+1] */
    char *key;
    char *value;
};

struct reader {
    const char *name;
    char *err;
    size_t err_len;
    struct entry *e;
    int n, cap;
    int plan_line;                    /* line of [plan]; 0: none */
    int vms_line;                     /* line of its vms key */
    int vm_line[PVS_PLAN_MAX_VMS];    /* line of [vm.i+1]; 0: none */
};

static void fail(struct reader *r, int line, const char *fmt, ...) PVS_TEXT_PRINTF(3, 4);

static void fail(struct reader *r, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pvs_text_error(r->err, r->err_len, "%s:%d: %s", r->name, line, msg);
}

static char *trim(char *s)
{
    while (blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A section header's name: "plan" -> -1, "vm.N" -> N-1; -2 unknown, -3 out
 * of range. */
static int section_index(const char *s)
{
    if (!strcmp(s, "plan"))
        return -1;
    if (strncmp(s, "vm.", 3) || s[3] < '1' || s[3] > '9' || strlen(s) > 6)
        return -2;
    int n = 0;
    for (const char *p = s + 3; *p; p++) {
        if (*p < '0' || *p > '9')
            return -2;
        n = n * 10 + (*p - '0');
    }
    return n > PVS_PLAN_MAX_VMS ? -3 : n - 1;
}

/* Cuts buf (NUL-terminated, modified in place) into entries. */
static int tokenize(struct reader *r, char *buf, size_t len)
{
    int sec = -2;
    char *p = buf, *end = buf + len;
    for (int line = 1; p < end; line++) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        if (memchr(p, '\0', (size_t)(eol - p))) {
            fail(r, line, "NUL byte: this is not a plan file");
            return PVS_ECONFIG;
        }
        *eol = '\0';
        char *s = p;
        p = eol + 1;
        if (line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
            s += 3; /* a byte order mark from a Windows editor */
        s = trim(s);
        if (!*s || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            char *rest = close ? trim(close + 1) : NULL;
            if (!close || (*rest && *rest != ';' && *rest != '#')) {
                fail(r, line, "a section header is '[name]' alone on its line");
                return PVS_ECONFIG;
            }
            *close = '\0';
            sec = section_index(s + 1);
            if (sec == -3) {
                fail(r, line, "[%s]: a plan has at most %d VMs", s + 1, PVS_PLAN_MAX_VMS);
                return PVS_ECONFIG;
            }
            if (sec == -2) {
                fail(r, line, "unknown section [%s]: a plan file has [plan] and [vm.1]..[vm.N]",
                     s + 1);
                return PVS_ECONFIG;
            }
            int *seen = sec < 0 ? &r->plan_line : &r->vm_line[sec];
            if (*seen) {
                fail(r, line, "[%s] again (first on line %d)", s + 1, *seen);
                return PVS_ECONFIG;
            }
            *seen = line;
            continue;
        }
        char *sep = s + strcspn(s, "=:");
        if (!*sep) {
            fail(r, line, "expected 'key = value', '[section]' or a comment");
            return PVS_ECONFIG;
        }
        *sep = '\0';
        char *key = trim(s);
        char *value = sep + 1;
        /* inih's inline comment: a ';' after whitespace. */
        for (char *q = value; *q; q++) {
            if (*q == ';' && (q == value || blank(q[-1]))) {
                *q = '\0';
                break;
            }
        }
        value = trim(value);
        if (!*key || strpbrk(key, " \t;")) {
            fail(r, line, "expected 'key = value'");
            return PVS_ECONFIG;
        }
        if (sec == -2) {
            fail(r, line, "'%s' comes before any section: put it under [plan] or [vm.N]", key);
            return PVS_ECONFIG;
        }
        if (r->n == r->cap) {
            int ncap = r->cap ? r->cap * 2 : 64;
            struct entry *ne = realloc(r->e, (size_t)ncap * sizeof(*ne));
            if (!ne) {
                pvs_text_error(r->err, r->err_len, "%s: out of memory", r->name);
                return PVS_ENOMEM;
            }
            r->e = ne;
            r->cap = ncap;
        }
        r->e[r->n++] = (struct entry){ line, sec, key, value };
    }
    return 0;
}

static int find_key(const struct key *keys, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].name, name))
            return i;
    return -1;
}

/* The names of a key table, for "unknown key" messages. */
static void key_list(const struct key *keys, int n, unsigned backend, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!(keys[i].backends & backend))
            continue;
        int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", keys[i].name);
        if (w < 0 || (size_t)w >= len - o)
            break;
        o += (size_t)w;
    }
}

/* Records entry e as key k of a table; fails on unknown, repeated or
 * foreign keys. */
static int take_key(struct reader *r, const struct entry *e, const struct key *keys, int n,
                    unsigned backend, const char *bname, const char *where, int *lines)
{
    int k = find_key(keys, n, e->key);
    char known[256];
    key_list(keys, n, backend ? backend : B_ALL, known, sizeof(known));
    if (k < 0) {
        fail(r, e->line, "unknown key '%s' in %s (known: %s)", e->key, where, known);
        return -1;
    }
    if (lines[k]) {
        fail(r, e->line, "'%s' again in %s (first on line %d)", e->key, where, lines[k]);
        return -1;
    }
    if (backend && !(keys[k].backends & backend)) {
        fail(r, e->line, "'%s' is not used by %s plans (their keys in %s: %s)", e->key, bname,
             where, known);
        return -1;
    }
    lines[k] = e->line;
    return k;
}

static int read_amount(struct reader *r, const struct entry *e, struct pvs_plan_amount *a)
{
    uint64_t v[3];
    char copy[128];
    if (strlen(e->value) >= sizeof(copy))
        goto bad;
    strcpy(copy, e->value);
    char *p = copy;
    for (int i = 0; i < 3; i++) {
        char *comma = strchr(p, ',');
        if ((i < 2) != (comma != NULL))
            goto bad;
        if (comma)
            *comma = '\0';
        if (!parse_u64(trim(p), &v[i]))
            goto bad;
        p = comma ? comma + 1 : p;
    }
    if (v[0] > v[1] || v[1] > v[2]) {
        fail(r, e->line, "%s = %s: Hyper-V needs Min <= Optimal <= Max", e->key, e->value);
        return -1;
    }
    a->min = v[0];
    a->optimal = v[1];
    a->max = v[2];
    return 0;
bad:
    fail(r, e->line, "%s = '%s': expected MIN,OPTIMAL,MAX (three whole numbers up to "
         "18446744073709551615)", e->key, e->value);
    return -1;
}

static int read_plan(struct reader *r, struct pvs_planfile *pf, unsigned *backend)
{
    int lines[P_COUNT] = { 0 };
    const char *val[P_COUNT] = { NULL };
    if (!r->plan_line) {
        fail(r, 1, "no [plan] section: is this a plan file (pvstream-host plan --save)?");
        return -1;
    }
    /* The backend first: it decides which keys belong. */
    for (int i = 0; i < r->n; i++) {
        if (r->e[i].sec == -1 && !strcmp(r->e[i].key, "backend") && !*backend) {
            *backend = backend_bit(r->e[i].value);
            if (!*backend) {
                fail(r, r->e[i].line, "backend '%s': expected hyperv, mdev or sriov",
                     r->e[i].value);
                return -1;
            }
            strcpy(pf->backend, r->e[i].value);
        }
    }
    if (!*backend) {
        fail(r, r->plan_line, "[plan] has no 'backend' (hyperv, mdev or sriov)");
        return -1;
    }
    for (int i = 0; i < r->n; i++) {
        const struct entry *e = &r->e[i];
        if (e->sec != -1)
            continue;
        int k = take_key(r, e, plan_keys, P_COUNT, *backend, pf->backend, "[plan]", lines);
        if (k < 0)
            return -1;
        val[k] = e->value;
    }
    for (int k = 0; k < P_COUNT; k++) {
        if ((plan_keys[k].backends & *backend) && !lines[k]) {
            fail(r, r->plan_line, "[plan] has no '%s'", plan_keys[k].name);
            return -1;
        }
    }
    const char *why = text_problem(val[P_GPU], true);
    if (why || strlen(val[P_GPU]) >= sizeof(pf->gpu)) {
        fail(r, lines[P_GPU], "gpu: %s", why ? why : "too long");
        return -1;
    }
    if (*backend != B_HYPERV && !pvs_sysfs_is_pci_bdf(val[P_GPU])) {
        fail(r, lines[P_GPU], "gpu = '%s': a %s plan names the GPU by its PCI address "
             "(0000:01:00.0, lower-case, as pvstream-host list shows it)", val[P_GPU],
             pf->backend);
        return -1;
    }
    strcpy(pf->gpu, val[P_GPU]);
    uint64_t v;
    if (!parse_u64(val[P_VMS], &v) || v < 1 || v > PVS_PLAN_MAX_VMS) {
        fail(r, lines[P_VMS], "vms = '%s': expected 1 to %d", val[P_VMS], PVS_PLAN_MAX_VMS);
        return -1;
    }
    pf->plan.vms = (int)v;
    r->vms_line = lines[P_VMS];
    if (*backend == B_MDEV) {
        if (!type_id_ok(val[P_TYPE])) {
            fail(r, lines[P_TYPE], "mdev_type = '%s': not a type name (letters, digits, "
                 "'._+-', as in mdev_supported_types)", val[P_TYPE]);
            return -1;
        }
        strcpy(pf->mdev_type, val[P_TYPE]);
    }
    if (*backend != B_HYPERV)
        return 0;
    if (!parse_u64(val[P_LOW], &pf->low_mmio_mib) || pf->low_mmio_mib < 1 ||
        pf->low_mmio_mib > MAX_LOW_MMIO_MIB) {
        fail(r, lines[P_LOW], "low_mmio_mib = '%s': expected 1 to %u (MiB)", val[P_LOW],
             MAX_LOW_MMIO_MIB);
        return -1;
    }
    if (!parse_u64(val[P_HIGH], &pf->high_mmio_mib) || pf->high_mmio_mib < 1 ||
        pf->high_mmio_mib > MAX_HIGH_MMIO_MIB) {
        fail(r, lines[P_HIGH], "high_mmio_mib = '%s': expected 1 to %u (MiB)", val[P_HIGH],
             MAX_HIGH_MMIO_MIB);
        return -1;
    }
    for (int res = 0; res < PVS_GPU_RESOURCE_COUNT; res++) {
        if (!parse_u64(val[P_TOTAL + res], &pf->plan.total[res])) {
            fail(r, lines[P_TOTAL + res], "%s = '%s': expected a whole number up to "
                 "18446744073709551615", plan_keys[P_TOTAL + res].name, val[P_TOTAL + res]);
            return -1;
        }
    }
    return 0;
}

static bool same_name(const char *a, const char *b, bool fold)
{
    if (!fold)
        return !strcmp(a, b);
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static int read_vms(struct reader *r, struct pvs_planfile *pf, unsigned backend,
                    int (*lines)[V_COUNT])
{
    int vms = pf->plan.vms;
    for (int i = 0; i < PVS_PLAN_MAX_VMS; i++) {
        if (r->vm_line[i] && i >= vms) {
            fail(r, r->vm_line[i], "[vm.%d], but [plan] says vms = %d", i + 1, vms);
            return -1;
        }
        if (!r->vm_line[i] && i < vms) {
            fail(r, r->vms_line, "vms = %d, but there is no [vm.%d] section", vms, i + 1);
            return -1;
        }
    }
    for (int i = 0; i < r->n; i++) {
        const struct entry *e = &r->e[i];
        if (e->sec < 0)
            continue;
        struct pvs_plan_vm *v = &pf->plan.vm[e->sec];
        char where[16];
        snprintf(where, sizeof(where), "[vm.%d]", e->sec + 1);
        int k = take_key(r, e, vm_keys, V_COUNT, backend, pf->backend, where, lines[e->sec]);
        if (k < 0)
            return -1;
        uint64_t w;
        const char *why;
        switch (k) {
        case V_NAME:
            why = text_problem(e->value, false);
            if (why || strlen(e->value) >= PVS_PLANFILE_NAME_MAX) {
                fail(r, e->line, "name = '%s': %s", e->value, why ? why : "too long");
                return -1;
            }
            strcpy(pf->vm[e->sec].name, e->value);
            break;
        case V_WEIGHT:
            if (!parse_u64(e->value, &w) || w < 1 || w > PVS_PLAN_MAX_WEIGHT) {
                fail(r, e->line, "weight = '%s': expected 1 to %u", e->value,
                     PVS_PLAN_MAX_WEIGHT);
                return -1;
            }
            v->weight = (uint32_t)w;
            break;
        case V_UUID:
            if (!uuid_parse(e->value, pf->vm[e->sec].uuid)) {
                fail(r, e->line, "uuid = '%s': expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx "
                     "(hex digits)", e->value);
                return -1;
            }
            break;
        default:
            if (read_amount(r, e, &v->res[k - V_RES]) < 0)
                return -1;
            break;
        }
    }
    for (int i = 0; i < vms; i++) {
        for (int k = 0; k < V_COUNT; k++) {
            if ((vm_keys[k].backends & backend) && !lines[i][k]) {
                fail(r, r->vm_line[i], "[vm.%d] has no '%s'", i + 1, vm_keys[k].name);
                return -1;
            }
        }
        if (backend != B_HYPERV)
            pf->plan.vm[i].weight = 1;
    }
    return 0;
}

static int check_vms(struct reader *r, struct pvs_planfile *pf, unsigned backend,
                     int (*lines)[V_COUNT])
{
    int vms = pf->plan.vms;
    for (int i = 0; i < vms; i++) {
        for (int j = 0; j < i; j++) {
            if (same_name(pf->vm[i].name, pf->vm[j].name, backend == B_HYPERV)) {
                fail(r, lines[i][V_NAME], "name = '%s': [vm.%d] has that name too%s",
                     pf->vm[i].name, j + 1,
                     backend == B_HYPERV ? " (Hyper-V names ignore case)" : "");
                return -1;
            }
            if (backend == B_MDEV && !strcmp(pf->vm[i].uuid, pf->vm[j].uuid)) {
                fail(r, lines[i][V_UUID], "uuid %s: [vm.%d] has that UUID too: each VM needs "
                     "its own mediated device", pf->vm[i].uuid, j + 1);
                return -1;
            }
        }
    }
    if (backend != B_HYPERV)
        return 0;
    for (int res = 0; res < PVS_GPU_RESOURCE_COUNT; res++) {
        uint64_t sum = 0, total = pf->plan.total[res];
        for (int i = 0; i < vms; i++) {
            uint64_t m = pf->plan.vm[i].res[res].max;
            if (m > total - sum) {
                fail(r, lines[i][V_RES + res], "%s: the VMs' Max add up to more than the "
                     "total %" PRIu64 " from [vm.1] to here: the plan would promise more than "
                     "the GPU has", vm_keys[V_RES + res].name, total);
                return -1;
            }
            sum += m;
        }
    }
    return 0;
}

int pvs_planfile_parse(const char *text, size_t len, const char *name,
                       struct pvs_planfile *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    pvs_text_error(err, err_len, "%s", "");
    struct reader r;
    memset(&r, 0, sizeof(r));
    r.name = name ? name : "plan";
    r.err = err;
    r.err_len = err_len;
    if (!text || len > PLANFILE_MAX) {
        pvs_text_error(err, err_len, "%s: larger than 1 MiB: not a plan file", r.name);
        return PVS_ECONFIG;
    }
    char *buf = malloc(len + 1);
    int (*lines)[V_COUNT] = calloc(PVS_PLAN_MAX_VMS, sizeof(*lines));
    if (!buf || !lines) {
        free(buf);
        free(lines);
        pvs_text_error(err, err_len, "%s: out of memory", r.name);
        return PVS_ENOMEM;
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    unsigned backend = 0;
    int rc = tokenize(&r, buf, len);
    if (rc == 0 && (read_plan(&r, out, &backend) < 0 || read_vms(&r, out, backend, lines) < 0 ||
                    check_vms(&r, out, backend, lines) < 0))
        rc = PVS_ECONFIG;
    free(r.e);
    free(lines);
    free(buf);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc == PVS_ENOMEM ? PVS_ENOMEM : rc < 0 ? PVS_ECONFIG : 0;
}

int pvs_planfile_load(const char *path, struct pvs_planfile *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) {
        pvs_text_error(err, err_len, "cannot open %s: %s", path, pvs_strerror(-errno));
        return PVS_ENOENT;
    }
    char *buf = malloc(PLANFILE_MAX + 1);
    if (!buf) {
        fclose(f);
        pvs_text_error(err, err_len, "%s: out of memory", path);
        return PVS_ENOMEM;
    }
    size_t n = fread(buf, 1, PLANFILE_MAX + 1, f);
    int rc;
    if (ferror(f)) {
        pvs_text_error(err, err_len, "cannot read %s", path);
        rc = PVS_EIO;
    } else {
        rc = pvs_planfile_parse(buf, n, path, out, err, err_len);
    }
    fclose(f);
    free(buf);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

int pvs_planfile_set_names(struct pvs_planfile *pf, const char *const *names, char *err,
                           size_t err_len)
{
    bool fold = !strcmp(pf->backend, "hyperv");
    for (int i = 0; i < pf->plan.vms && i < PVS_PLAN_MAX_VMS; i++) {
        char def[16];
        snprintf(def, sizeof(def), "vm%d", i + 1);
        const char *n = names && names[i] ? names[i] : def;
        const char *why = text_problem(n, false);
        if (!why && strlen(n) >= PVS_PLANFILE_NAME_MAX)
            why = "it is too long (at most 127 bytes)";
        for (int j = 0; !why && j < i; j++)
            if (same_name(n, pf->vm[j].name, fold))
                why = "another VM has that name";
        if (why) {
            pvs_text_error(err, err_len, "VM name %d '%s': %s", i + 1, n, why);
            return PVS_EINVAL;
        }
        strcpy(pf->vm[i].name, n);
    }
    return 0;
}

int pvs_planfile_format(const struct pvs_planfile *pf, const char *generator, char **out,
                        char *err, size_t err_len)
{
    *out = NULL;
    unsigned backend = backend_bit(pf->backend);
    int vms = pf->plan.vms;
    if (!backend || vms < 1 || vms > PVS_PLAN_MAX_VMS) {
        pvs_text_error(err, err_len, "not a plan: backend '%s', %d VMs", pf->backend, vms);
        return PVS_EINVAL;
    }
    const char *why = text_problem(pf->gpu, true);
    if (why) {
        pvs_text_error(err, err_len, "the GPU '%s': %s", pf->gpu, why);
        return PVS_EINVAL;
    }
    for (int i = 0; i < vms; i++) {
        why = text_problem(pf->vm[i].name, false);
        if (why) {
            pvs_text_error(err, err_len, "VM %d's name '%s': %s", i + 1, pf->vm[i].name, why);
            return PVS_EINVAL;
        }
    }
    struct pvs_text t = PVS_TEXT_INIT;
    pvs_text_puts(&t, "# A GPU partition plan, written by ");
    for (const char *g = generator ? generator : "pvstream-host"; *g; g++)
        pvs_text_append(&t, (unsigned char)*g < 0x20 ? "?" : g, 1);
    pvs_text_puts(&t, ".\n# Review it, then: pvstream-host apply FILE --dry-run, and without "
                      "--dry-run to make it so.\n[plan]\n");
    pvs_text_printf(&t, "backend = %s\ngpu = %s\nvms = %d\n", pf->backend, pf->gpu, vms);
    if (backend == B_MDEV)
        pvs_text_printf(&t, "mdev_type = %s\n", pf->mdev_type);
    if (backend == B_HYPERV) {
        pvs_text_printf(&t, "low_mmio_mib = %" PRIu64 "\nhigh_mmio_mib = %" PRIu64 "\n",
                        pf->low_mmio_mib, pf->high_mmio_mib);
        for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
            pvs_text_printf(&t, "%s = %" PRIu64 "\n", plan_keys[P_TOTAL + r].name,
                            pf->plan.total[r]);
    }
    for (int i = 0; i < vms; i++) {
        const struct pvs_plan_vm *v = &pf->plan.vm[i];
        pvs_text_printf(&t, "\n[vm.%d]\n", i + 1);
        if (backend == B_SRIOV)
            pvs_text_printf(&t, "; gets virtual function %d (virtfn%d)\n", i, i);
        pvs_text_printf(&t, "name = %s\n", pf->vm[i].name);
        if (backend == B_MDEV)
            pvs_text_printf(&t, "uuid = %s\n", pf->vm[i].uuid);
        if (backend != B_HYPERV)
            continue;
        pvs_text_printf(&t, "weight = %u\n", (unsigned)v->weight);
        for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++)
            pvs_text_printf(&t, "%s = %" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
                            vm_keys[V_RES + r].name, v->res[r].min, v->res[r].optimal,
                            v->res[r].max);
    }
    char *text = NULL;
    int rc = pvs_text_take(&t, &text);
    if (rc < 0) {
        pvs_text_error(err, err_len, "out of memory");
        return rc;
    }
    /* Whatever else is wrong (Min above Max, a bad UUID) the reader finds:
     * never write a file that apply would refuse. */
    struct pvs_planfile *check = malloc(sizeof(*check));
    if (!check) {
        free(text);
        pvs_text_error(err, err_len, "out of memory");
        return PVS_ENOMEM;
    }
    char why2[512];
    rc = pvs_planfile_parse(text, strlen(text), "plan", check, why2, sizeof(why2));
    free(check);
    if (rc < 0) {
        free(text);
        pvs_text_error(err, err_len, "the plan would not read back: %s", why2);
        return rc == PVS_ENOMEM ? rc : PVS_EINVAL;
    }
    *out = text;
    return 0;
}

/* ---- a plan for a listed GPU -------------------------------------------- */

/* A Windows instance path is compared without regard to ASCII case (Windows
 * does), a PCI address exactly; both whole, never as a prefix. */
static bool id_equal(const struct pvs_host_gpu *g, const char *id)
{
    return same_name(g->id, id, g->backend && !strcmp(g->backend, "hyperv"));
}

static int no_such_gpu(const struct pvs_host_gpu *gpus, int count,
                       const struct pvs_planfile_request *req, char *err, size_t err_len)
{
    struct pvs_text t = PVS_TEXT_INIT;
    int shown = 0;
    for (int i = 0; i < count; i++) {
        if (req->backend && *req->backend && strcmp(gpus[i].backend, req->backend))
            continue;
        pvs_text_printf(&t, "%s%s (%s)", shown++ ? ", " : "", gpus[i].id, gpus[i].backend);
    }
    char *ids = NULL;
    if (pvs_text_take(&t, &ids) < 0)
        return PVS_ENOMEM;
    if (shown)
        pvs_text_error(err, err_len, "no GPU has the id '%s'%s%s: give it whole, exactly as "
                       "`pvstream-host list` shows it; this host has %s", req->gpu,
                       req->backend && *req->backend ? " under backend " : "",
                       req->backend ? req->backend : "", ids);
    else
        pvs_text_error(err, err_len, "no GPU has the id '%s': no partitionable GPU%s%s was "
                       "found on this host (pvstream-host list says why)", req->gpu,
                       req->backend && *req->backend ? " of backend " : "",
                       req->backend ? req->backend : "");
    free(ids);
    return PVS_ENOENT;
}

static void new_uuid(char *out)
{
    unsigned char b[16];
    randombytes_buf(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4: random */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* the RFC 4122 variant */
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        o += snprintf(out + o, 3, "%02x", b[i]);
    }
    out[o] = '\0';
}

static int plan_mdev(const struct pvs_host_gpu *g, const struct pvs_planfile_request *req,
                     struct pvs_planfile *out, char *err, size_t err_len)
{
    const struct pvs_host_mdev_type *ty = NULL;
    struct pvs_text t = PVS_TEXT_INIT;
    for (int i = 0; i < g->type_count; i++) {
        pvs_text_printf(&t, "%s%s (%d available)", i ? ", " : "", g->types[i].id,
                        g->types[i].available_instances);
        if (req->mdev_type && !strcmp(req->mdev_type, g->types[i].id))
            ty = &g->types[i];
    }
    char *types = NULL;
    if (pvs_text_take(&t, &types) < 0)
        return PVS_ENOMEM;
    int rc = PVS_EINVAL;
    if (g->type_count == 0) {
        pvs_text_error(err, err_len, "GPU %s lists no readable mediated-device type "
                       "(mdev_supported_types is empty): check its vGPU driver", g->id);
        goto done;
    }
    if (req->mdev_type && *req->mdev_type && !ty) {
        pvs_text_error(err, err_len, "GPU %s has no mdev type '%s'; its types: %s", g->id,
                       req->mdev_type, types);
        goto done;
    }
    if (!ty && g->type_count > 1) {
        pvs_text_error(err, err_len, "GPU %s offers several mdev types: pick one with --type "
                       "(%s)", g->id, types);
        goto done;
    }
    if (!ty)
        ty = &g->types[0];
    if (!type_id_ok(ty->id)) {
        pvs_text_error(err, err_len, "GPU %s: mdev type '%s' has a name this tool cannot "
                       "put in a path", g->id, ty->id);
        goto done;
    }
    if (ty->available_instances == 0) {
        pvs_text_error(err, err_len, "GPU %s, type %s: no instances are available. Mediated "
                       "devices that exist already use them (ls /sys/bus/mdev/devices), or "
                       "the GPU runs another type (NVIDIA vGPU runs one type per GPU at a "
                       "time): remove those, or pick another --type", g->id, ty->id);
        goto done;
    }
    if (req->vms > ty->available_instances) {
        pvs_text_error(err, err_len, "GPU %s, type %s: %d instances available, fewer than "
                       "%d VMs: plan fewer VMs, or pick a smaller type (%s)", g->id, ty->id,
                       ty->available_instances, req->vms, types);
        goto done;
    }
    if (sodium_init() < 0) {
        pvs_text_error(err, err_len, "libsodium did not start: no random numbers for UUIDs");
        rc = PVS_EEXTERNAL;
        goto done;
    }
    strcpy(out->mdev_type, ty->id);
    for (int i = 0; i < req->vms; i++) {
        do
            new_uuid(out->vm[i].uuid);
        while (i > 0 && !strcmp(out->vm[i].uuid, out->vm[i - 1].uuid));
    }
    rc = 0;
done:
    free(types);
    return rc;
}

static int plan_hyperv(const struct pvs_host_gpu *gpus, int count, const struct pvs_host_gpu *g,
                       const struct pvs_planfile_request *req, struct pvs_planfile *out,
                       char *err, size_t err_len)
{
    struct pvs_plan_request pr;
    pvs_plan_request_hyperv(&pr, req->vms);
    for (int r = 0; r < PVS_GPU_RESOURCE_COUNT; r++) {
        if (req->total_set & (1u << r))
            pr.total[r] = req->total[r];
        else if (g->res[r].total)
            pr.total[r] = g->res[r].total;
    }
    pr.weights = req->weights;
    pr.min_percent = req->min_percent ? req->min_percent : 100;
    pr.encode_sessions = req->encode_sessions;
    if (g->vendor_id || g->device_id)
        for (int i = 0; i < count; i++)
            pr.identical_gpus += gpus[i].backend && !strcmp(gpus[i].backend, g->backend) &&
                                 gpus[i].vendor_id == g->vendor_id &&
                                 gpus[i].device_id == g->device_id;
    int rc = pvs_plan_compute(&pr, &out->plan, err, err_len);
    if (rc < 0)
        return rc;
    out->low_mmio_mib = req->low_mmio_mib ? req->low_mmio_mib : PVS_PS_DEFAULT_LOW_MMIO_MIB;
    out->high_mmio_mib = req->high_mmio_mib ? req->high_mmio_mib : PVS_PS_DEFAULT_HIGH_MMIO_MIB;
    return 0;
}

int pvs_planfile_for_gpu(const struct pvs_host_gpu *gpus, int count,
                         const struct pvs_planfile_request *req, struct pvs_planfile *out,
                         char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    const struct pvs_host_gpu *g = NULL;
    const char *also = NULL;
    for (int i = 0; i < count && req->gpu; i++) {
        if (!gpus[i].backend ||
            (req->backend && *req->backend && strcmp(gpus[i].backend, req->backend)))
            continue;
        if (!id_equal(&gpus[i], req->gpu))
            continue;
        if (g)
            also = gpus[i].backend;
        else
            g = &gpus[i];
    }
    if (!g)
        return no_such_gpu(gpus, count, req, err, err_len);
    if (also) {
        pvs_text_error(err, err_len, "GPU %s is listed under %s and %s: say which with "
                       "--backend %s or --backend %s", g->id, g->backend, also, g->backend, also);
        return PVS_EINVAL;
    }
    if (req->vms < 1 || req->vms > PVS_PLAN_MAX_VMS) {
        pvs_text_error(err, err_len, "%d VMs: give --vms 1 to %d", req->vms, PVS_PLAN_MAX_VMS);
        return PVS_EINVAL;
    }
    unsigned backend = backend_bit(g->backend);
    if (!backend || strlen(g->id) >= sizeof(out->gpu)) {
        pvs_text_error(err, err_len, "GPU %s: unknown backend", g->id);
        return PVS_EINVAL;
    }
    const char *why = text_problem(g->id, true);
    if (why || (backend != B_HYPERV && !pvs_sysfs_is_pci_bdf(g->id))) {
        pvs_text_error(err, err_len, "GPU id '%s' cannot be saved in a plan: %s", g->id,
                       why ? why : "not a PCI address");
        return PVS_EINVAL;
    }
    strcpy(out->backend, g->backend);
    strcpy(out->gpu, g->id);
    int rc;
    if (backend == B_HYPERV) {
        rc = plan_hyperv(gpus, count, g, req, out, err, err_len);
    } else {
        const char *fixed = backend == B_MDEV ? "a mediated device" : "a virtual function";
        if (req->weights || req->total_set || (req->min_percent && req->min_percent != 100)) {
            pvs_text_error(err, err_len, "--%s does not apply to %s: each VM gets %s, a "
                           "partition of fixed size%s", req->weights ? "weights"
                           : req->total_set ? "vram/--encode/--decode/--compute" : "min-percent",
                           g->backend, fixed, backend == B_MDEV ? " set by its type (pick "
                           "another --type for larger or smaller ones)" : "");
            return PVS_EINVAL;
        }
        out->plan.vms = req->vms;
        for (int i = 0; i < req->vms; i++)
            out->plan.vm[i].weight = 1;
        if (req->encode_sessions > 0 && req->vms > req->encode_sessions)
            out->plan.warnings |= PVS_PLAN_WARN_ENCODE_SESSIONS;
        if (backend == B_MDEV) {
            rc = plan_mdev(g, req, out, err, err_len);
        } else if (req->vms > g->total_vfs) {
            pvs_text_error(err, err_len, "GPU %s has %d virtual functions (sriov_totalvfs), "
                           "fewer than %d VMs: plan at most %d", g->id, g->total_vfs, req->vms,
                           g->total_vfs);
            rc = PVS_EINVAL;
        } else {
            rc = 0;
        }
    }
    if (rc == 0)
        rc = pvs_planfile_set_names(out, req->names, err, err_len);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- the summary `plan` prints ------------------------------------------ */

int pvs_planfile_format_summary(const struct pvs_planfile *pf, bool json, char **out)
{
    *out = NULL;
    const char *names[PVS_PLAN_MAX_VMS];
    int vms = pf->plan.vms;
    if (vms < 1 || vms > PVS_PLAN_MAX_VMS)
        return PVS_EINVAL;
    for (int i = 0; i < vms; i++)
        names[i] = pf->vm[i].name;
    unsigned backend = backend_bit(pf->backend);
    struct pvs_text t = PVS_TEXT_INIT;
    if (backend == B_HYPERV) {
        char *body = NULL;
        int rc = json ? pvs_plan_format_json(&pf->plan, pf->backend, names, &body)
                      : pvs_plan_format_table(&pf->plan, pf->backend, names, &body);
        if (rc < 0)
            return rc;
        if (json) {
            pvs_text_puts(&t, "{\"gpu\": ");
            pvs_text_json_string(&t, pf->gpu);
            pvs_text_printf(&t, ", %s", body + 1); /* body starts with '{' */
        } else {
            pvs_text_printf(&t, "GPU: %s\n%s", pf->gpu, body);
        }
        free(body);
        return pvs_text_take(&t, out);
    }
    if (json) {
        pvs_text_puts(&t, "{\"backend\": ");
        pvs_text_json_string(&t, pf->backend);
        pvs_text_puts(&t, ", \"gpu\": ");
        pvs_text_json_string(&t, pf->gpu);
        if (backend == B_MDEV) {
            pvs_text_puts(&t, ", \"mdev_type\": ");
            pvs_text_json_string(&t, pf->mdev_type);
        }
        pvs_text_puts(&t, ",\n \"vms\": [");
        for (int i = 0; i < vms; i++) {
            pvs_text_puts(&t, i ? ",\n  {\"name\": " : "\n  {\"name\": ");
            pvs_text_json_string(&t, names[i]);
            if (backend == B_MDEV) {
                pvs_text_puts(&t, ", \"uuid\": ");
                pvs_text_json_string(&t, pf->vm[i].uuid);
                pvs_text_puts(&t, "}");
            } else {
                pvs_text_printf(&t, ", \"vf\": %d}", i);
            }
        }
        /* The warnings as report.c writes them, from a report without
         * names (so nothing a user wrote can look like the key). */
        char *report = NULL;
        if (pvs_plan_format_json(&pf->plan, pf->backend, NULL, &report) < 0) {
            pvs_text_free(&t);
            return PVS_ENOMEM;
        }
        const char *w = strstr(report, "\"warnings\": [");
        pvs_text_printf(&t, "],\n %s", w ? w : "\"warnings\": []}\n");
        free(report);
        return pvs_text_take(&t, out);
    }
    pvs_text_printf(&t, "GPU partition plan: %d VM%s, backend %s\nGPU: %s\n", vms,
                    vms == 1 ? "" : "s", pf->backend, pf->gpu);
    if (backend == B_MDEV)
        pvs_text_printf(&t, "each VM gets a new mediated device of type %s\n", pf->mdev_type);
    else
        pvs_text_puts(&t, "each VM gets a virtual function of the GPU\n");
    for (int i = 0; i < vms; i++) {
        if (text_problem(names[i], false)) {
            pvs_text_free(&t);
            return PVS_EINVAL;
        }
        if (backend == B_MDEV)
            pvs_text_printf(&t, "  %-20s mdev %s\n", names[i], pf->vm[i].uuid);
        else
            pvs_text_printf(&t, "  %-20s VF %d (virtfn%d)\n", names[i], i, i);
    }
    for (unsigned bit = 1; bit <= PVS_PLAN_WARN_ALL; bit <<= 1)
        if (pf->plan.warnings & bit)
            pvs_text_printf(&t, "\nwarning: %s\n", pvs_plan_warning_text(bit));
    return pvs_text_take(&t, out);
}
