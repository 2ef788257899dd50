/* Configuration from one option table: INI files (through inih), command-line
 * overrides and --help.
 *
 * inih as Debian ships it (r55) keeps parsing after an error, treats an
 * indented line as the continuation of the previous value, and cuts long
 * lines into pieces that it then parses as lines of their own. None of that
 * suits a config file a user edits by hand, so inih reads lines through our
 * own reader, which
 *  - counts physical lines, so every message has the right line number;
 *  - strips leading whitespace, so indented keys are keys, not continuations;
 *  - rejects over-long lines and NUL bytes instead of letting inih split them;
 *  - checks [section] headers (inih never tells the handler about an empty
 *    section) and syntax, with inih's own rules, so the first error of any
 *    kind ends the load before a later line is applied.
 * inih still does the tokenizing (comments, inline comments, "=" or ":",
 * trimming), so files mean what they mean to every other inih user. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "common/config.h"
#include "common/error.h"
#include "common/log.h"

/* A config file is a few KiB; this only stops a mistaken path (a video, a
 * device) from being read into memory. */
#define CONFIG_FILE_MAX (1 << 20)

/* Column where --help starts the help text, at most. */
#define HELP_COLUMN_MAX 30

static void put(char *buf, size_t len, const char *fmt, ...) PVS_PRINTF(3, 4);

static void put(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Appends to a string that put() started; truncates silently. */
static void append(char *buf, size_t len, const char *s)
{
    if (!buf || !len)
        return;
    size_t used = strnlen(buf, len);
    if (used + 1 >= len)
        return;
    size_t n = strlen(s);
    if (n > len - 1 - used)
        n = len - 1 - used;
    memcpy(buf + used, s, n);
    buf[used + n] = '\0';
}

/* The C library's isspace/tolower depend on the locale; option names and
 * values are ASCII whatever the user's locale. */
static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int ieq_n(const char *a, size_t alen, const char *b)
{
    size_t i = 0;
    for (; i < alen; i++) {
        if (!b[i] || lower(a[i]) != lower(b[i]))
            return 0;
    }
    return b[i] == '\0';
}

static int ieq(const char *a, const char *b)
{
    return ieq_n(a, strlen(a), b);
}

/* ---- values ------------------------------------------------------------ */

enum { NUM_OK = 0, NUM_BAD = -1, NUM_RANGE = -2 };

/* Decimal integer, the whole string, optionally with a k/M/G multiplier. */
static int parse_i64(const char *s, int allow_suffix, int64_t *out)
{
    if (!*s || is_space(*s))
        return NUM_BAD; /* strtoll would skip the space; we do not */
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int range = errno == ERANGE;
    if (end == s)
        return NUM_BAD;
    int64_t mult = 1;
    if (allow_suffix) {
        switch (*end) {
        case 'k': case 'K': mult = 1000; end++; break;
        case 'M':           mult = 1000000; end++; break;
        case 'G':           mult = 1000000000; end++; break;
        default: break;
        }
    }
    if (*end != '\0')
        return NUM_BAD;
    if (range)
        return NUM_RANGE;
    if (v > INT64_MAX / mult || v < INT64_MIN / mult)
        return NUM_RANGE;
    *out = (int64_t)v * mult;
    return NUM_OK;
}

/* The range an option allows: its own, within what the field can hold.
 * min == max == 0 means "no range given": the field's full range. */
static void opt_range(const struct pvs_option *opt, int64_t *lo, int64_t *hi)
{
    int64_t tlo = INT64_MIN, thi = INT64_MAX;
    if (opt->type != PVS_OPT_INT64) {
        tlo = INT_MIN;
        thi = INT_MAX;
    }
    *lo = tlo;
    *hi = thi;
    if (opt->min == 0 && opt->max == 0)
        return;
    if (opt->min > tlo)
        *lo = opt->min;
    if (opt->max < thi)
        *hi = opt->max;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (int i = 0; i < 4; i++) {
        if (ieq(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (ieq(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static void list_choices(const struct pvs_option *opt, char *buf, size_t len)
{
    for (int i = 0; opt->choices[i]; i++) {
        if (i)
            append(buf, len, ", ");
        append(buf, len, opt->choices[i]);
    }
}

static int set_size(const struct pvs_option *opt, int *field, const char *value,
                    char *why, size_t why_len)
{
    const char *sep = strpbrk(value, "xX");
    char w_text[32];
    size_t wlen = sep ? (size_t)(sep - value) : 0;
    int64_t w = 0, h = 0, lo, hi;
    int rw = NUM_BAD, rh = NUM_BAD;
    if (sep && wlen < sizeof(w_text)) {
        memcpy(w_text, value, wlen);
        w_text[wlen] = '\0';
        rw = parse_i64(w_text, 0, &w);
        rh = parse_i64(sep + 1, 0, &h);
    }
    if (rw == NUM_BAD || rh == NUM_BAD) {
        put(why, why_len, "not a size like 1920x1080");
        return PVS_ECONFIG;
    }
    opt_range(opt, &lo, &hi);
    if (rw == NUM_RANGE || rh == NUM_RANGE || w < lo || w > hi || h < lo || h > hi) {
        put(why, why_len, "width and height must be %" PRId64 "..%" PRId64, lo, hi);
        return PVS_ECONFIG;
    }
    field[0] = (int)w;
    field[1] = (int)h;
    return 0;
}

int pvs_config_set(const struct pvs_option *opt, void *settings,
                   const char *value, char *why, size_t why_len)
{
    if (!opt || !settings) {
        put(why, why_len, "no option or no settings");
        return PVS_EINVAL;
    }
    if (!value) {
        put(why, why_len, "needs a value");
        return PVS_ECONFIG;
    }
    char *field = (char *)settings + opt->offset;
    int64_t v, lo, hi;
    int r;

    switch (opt->type) {
    case PVS_OPT_INT:
    case PVS_OPT_INT64:
        r = parse_i64(value, opt->type == PVS_OPT_INT64, &v);
        if (r == NUM_BAD) {
            put(why, why_len, "not an integer");
            return PVS_ECONFIG;
        }
        opt_range(opt, &lo, &hi);
        if (r == NUM_RANGE || v < lo || v > hi) {
            put(why, why_len, "must be %" PRId64 "..%" PRId64, lo, hi);
            return PVS_ECONFIG;
        }
        if (opt->type == PVS_OPT_INT)
            *(int *)field = (int)v;
        else
            *(int64_t *)field = v;
        return 0;

    case PVS_OPT_BOOL: {
        bool b;
        if (parse_bool(value, &b) < 0) {
            put(why, why_len, "not a boolean (true/false, yes/no, on/off, 1/0)");
            return PVS_ECONFIG;
        }
        *(bool *)field = b;
        return 0;
    }

    case PVS_OPT_STRING: {
        /* Truncating would quietly open the wrong file or device. */
        size_t n = strlen(value);
        if (n > PVS_OPT_STRING_MAX - 1) {
            put(why, why_len, "longer than %d characters", PVS_OPT_STRING_MAX - 1);
            return PVS_ECONFIG;
        }
        memcpy(field, value, n + 1);
        return 0;
    }

    case PVS_OPT_CHOICE:
        if (!opt->choices) {
            put(why, why_len, "option has no choices");
            return PVS_EINVAL;
        }
        for (int i = 0; opt->choices[i]; i++) {
            if (ieq(value, opt->choices[i])) {
                *(int *)field = i;
                return 0;
            }
        }
        put(why, why_len, "must be one of ");
        list_choices(opt, why, why_len);
        return PVS_ECONFIG;

    case PVS_OPT_SIZE:
        return set_size(opt, (int *)field, value, why, why_len);
    }
    put(why, why_len, "option has an unknown type");
    return PVS_EINVAL;
}

void pvs_config_format(const struct pvs_option *opt, const void *settings,
                       char *buf, size_t len)
{
    if (!buf || !len)
        return;
    buf[0] = '\0';
    if (!opt || !settings)
        return;
    const char *field = (const char *)settings + opt->offset;
    switch (opt->type) {
    case PVS_OPT_INT:
        put(buf, len, "%d", *(const int *)field);
        break;
    case PVS_OPT_INT64: {
        /* "20M" reads better than 20000000 and parses back to the same. */
        int64_t v = *(const int64_t *)field;
        if (v != 0 && v % 1000000000 == 0)
            put(buf, len, "%" PRId64 "G", v / 1000000000);
        else if (v != 0 && v % 1000000 == 0)
            put(buf, len, "%" PRId64 "M", v / 1000000);
        else if (v != 0 && v % 1000 == 0)
            put(buf, len, "%" PRId64 "k", v / 1000);
        else
            put(buf, len, "%" PRId64, v);
        break;
    }
    case PVS_OPT_BOOL:
        put(buf, len, "%s", *(const bool *)field ? "true" : "false");
        break;
    case PVS_OPT_STRING:
        put(buf, len, "%.*s", (int)strnlen(field, PVS_OPT_STRING_MAX - 1), field);
        break;
    case PVS_OPT_CHOICE: {
        int idx = *(const int *)field;
        const char *name = NULL;
        for (int i = 0; opt->choices && opt->choices[i]; i++) {
            if (i == idx) {
                name = opt->choices[i];
                break;
            }
        }
        if (name)
            put(buf, len, "%s", name);
        else
            put(buf, len, "%d", idx);
        break;
    }
    case PVS_OPT_SIZE:
        put(buf, len, "%dx%d", ((const int *)field)[0], ((const int *)field)[1]);
        break;
    }
}

/* ---- lookup ------------------------------------------------------------- */

const struct pvs_option *pvs_config_find(const struct pvs_option *table,
                                         const char *section, const char *key)
{
    if (!table || !section || !key)
        return NULL;
    for (const struct pvs_option *o = table; o->key; o++) {
        if (ieq(section, o->section ? o->section : "") && ieq(key, o->key))
            return o;
    }
    return NULL;
}

static const struct pvs_option *find_flag_n(const struct pvs_option *table,
                                            const char *flag, size_t n)
{
    for (const struct pvs_option *o = table; o->key; o++) {
        if (o->flag && strlen(o->flag) == n && !memcmp(o->flag, flag, n))
            return o;
    }
    return NULL;
}

const struct pvs_option *pvs_config_find_flag(const struct pvs_option *table,
                                              const char *flag)
{
    if (!table || !flag)
        return NULL;
    return find_flag_n(table, flag, strlen(flag));
}

static int section_known(const struct pvs_option *table, const char *name, size_t n)
{
    for (const struct pvs_option *o = table; o->key; o++) {
        if (ieq_n(name, n, o->section ? o->section : ""))
            return 1;
    }
    return 0;
}

/* ---- INI ---------------------------------------------------------------- */

struct ini_ctx {
    const struct pvs_option *table;
    void *settings;
    const char *name;      /* file name for messages */
    const char *p, *end;   /* text not yet handed to inih */
    int line;              /* physical line inih is working on */
    int failed;            /* an error is in err; stop */
    char *err;
    size_t err_len;
};

static void ini_fail(struct ini_ctx *c, const char *fmt, ...) PVS_PRINTF(2, 3);

static void ini_fail(struct ini_ctx *c, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    put(c->err, c->err_len, "%s:%d: %s", c->name, c->line, msg);
    c->failed = 1;
}

/* inih's find_chars_or_comment(): the first of `chars`, or an inline ';'
 * comment after whitespace, or the end. Same rule so we agree on syntax. */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
    int was_space = 0;
    while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
        was_space = is_space(*s);
        s++;
    }
    return s;
}

/* Checks one line (leading whitespace gone) the way inih will read it. */
static int check_line(struct ini_ctx *c, const char *s)
{
    if (!*s || *s == ';' || *s == '#')
        return 0;
    if (*s == '[') {
        const char *end = find_chars_or_comment(s + 1, "]");
        if (*end != ']') {
            ini_fail(c, "syntax error: '[' without ']'");
            return -1;
        }
        size_t n = (size_t)(end - (s + 1));
        if (!section_known(c->table, s + 1, n)) {
            ini_fail(c, "unknown section [%.*s]", (int)n, s + 1);
            return -1;
        }
        return 0;
    }
    const char *end = find_chars_or_comment(s, "=:");
    if (*end != '=' && *end != ':') {
        ini_fail(c, "syntax error: expected 'key = value', '[section]' or a comment");
        return -1;
    }
    return 0;
}

static char *ini_read_line(char *str, int num, void *stream)
{
    struct ini_ctx *c = stream;
    if (c->failed || c->p >= c->end || num < 2)
        return NULL;
    const char *s = c->p;
    const char *nl = memchr(s, '\n', (size_t)(c->end - s));
    const char *eol = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    c->line++;

    if (memchr(s, '\0', (size_t)(eol - s))) {
        ini_fail(c, "NUL byte: this is not a text file");
        return NULL;
    }
    if (c->line == 1 && eol - s >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        s += 3; /* UTF-8 byte order mark from Windows editors */
    while (s < eol && is_space(*s))
        s++;
    size_t n = (size_t)(eol - s);
    if (n && (*s == ';' || *s == '#'))
        n = 1; /* a comment may be as long as it likes */
    while (n && is_space(s[n - 1]))
        n--;
    if (n > (size_t)num - 1) {
        ini_fail(c, "line longer than %d characters", num - 1);
        return NULL;
    }
    memcpy(str, s, n);
    str[n] = '\0';
    if (check_line(c, str) < 0)
        return NULL;
    return str;
}

static int ini_on_value(void *user, const char *section, const char *name,
                        const char *value)
{
    struct ini_ctx *c = user;
    if (c->failed)
        return 0;
    if (!name)
        return 1; /* a section start, in builds that report them */
    if (!section)
        section = "";
    if (!section_known(c->table, section, strlen(section))) {
        if (!*section)
            ini_fail(c, "key '%s' is not in a section: put it under its [section]", name);
        else
            ini_fail(c, "unknown section [%s]", section);
        return 0;
    }
    const struct pvs_option *opt = pvs_config_find(c->table, section, name);
    if (!opt) {
        ini_fail(c, "unknown key '%s' in section [%s]", name, section);
        return 0;
    }
    const char *sec = opt->section ? opt->section : "";
    if (!value) {
        ini_fail(c, "[%s] %s has no value", sec, opt->key);
        return 0;
    }
    char why[256];
    if (pvs_config_set(opt, c->settings, value, why, sizeof(why)) < 0) {
        ini_fail(c, "[%s] %s = '%s': %s", sec, opt->key, value, why);
        return 0;
    }
    return 1;
}

static int load_text(const struct pvs_option *table, void *settings,
                     const char *text, size_t len, const char *name,
                     char *err, size_t err_len)
{
    struct ini_ctx c = {
        .table = table,
        .settings = settings,
        .name = name ? name : "config",
        .p = text,
        .end = text + len,
        .err = err,
        .err_len = err_len,
    };
    put(err, err_len, "%s", "");
    int ret = ini_parse_stream(ini_read_line, &c, ini_on_value, &c);
    if (c.failed)
        return PVS_ECONFIG;
    if (ret > 0) {
        /* Our checks should have caught it first; inih has the last word. */
        put(err, err_len, "%s:%d: syntax error", c.name, ret);
        return PVS_ECONFIG;
    }
    if (ret < 0) {
        put(err, err_len, "%s: out of memory", c.name);
        return PVS_ENOMEM;
    }
    return 0;
}

int pvs_config_load_string(const struct pvs_option *table, void *settings,
                           const char *text, const char *name,
                           char *err, size_t err_len)
{
    if (!table || !settings || !text) {
        put(err, err_len, "no option table, settings or text");
        return PVS_EINVAL;
    }
    return load_text(table, settings, text, strlen(text), name, err, err_len);
}

int pvs_config_load_file(const struct pvs_option *table, void *settings,
                         const char *path, char *err, size_t err_len)
{
    if (!table || !settings || !path) {
        put(err, err_len, "no option table, settings or path");
        return PVS_EINVAL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        put(err, err_len, "cannot open %s: %s", path, pvs_strerror(-errno));
        return PVS_ENOENT;
    }
    int ret;
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        put(err, err_len, "%s: out of memory", path);
        ret = PVS_ENOMEM;
        goto fail_close;
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        put(err, err_len, "cannot read %s: %s", path, pvs_strerror(PVS_EIO));
        ret = PVS_EIO;
        goto fail_free;
    }
    if (n > CONFIG_FILE_MAX) {
        put(err, err_len, "%s: larger than %d bytes: is it really a config file?",
            path, CONFIG_FILE_MAX);
        ret = PVS_ECONFIG;
        goto fail_free;
    }
    ret = load_text(table, settings, buf, n, path, err, err_len);
fail_free:
    free(buf);
fail_close:
    fclose(f);
    return ret;
}

/* ---- command line ------------------------------------------------------ */

/* Moves argv[from] down to argv[to], shifting the ones between up, so argv
 * stays a permutation of itself (the caller may own the strings). */
static void move_arg(char **argv, int to, int from)
{
    char *a = argv[from];
    for (int k = from; k > to; k--)
        argv[k] = argv[k - 1];
    argv[to] = a;
}

static int is_option(const char *s)
{
    return s[0] == '-' && s[1] == '-';
}

int pvs_config_parse_args(const struct pvs_option *table, void *settings,
                          int argc, char **argv, int first, int *npositional,
                          char *err, size_t err_len)
{
    int npos = 0, ret = 0, options_done = 0;
    if (npositional)
        *npositional = 0;
    put(err, err_len, "%s", "");
    if (!table || !settings || first < 0 || (argc > first && !argv)) {
        put(err, err_len, "no option table, settings or arguments");
        return PVS_EINVAL;
    }
    for (int i = first; i < argc; i++) {
        char *arg = argv[i];
        if (!arg)
            continue;
        if (options_done || !is_option(arg)) {
            if (!options_done && !strcmp(arg, "-h")) {
                ret = PVS_EAGAIN;
                break;
            }
            move_arg(argv, first + npos, i);
            npos++;
            continue;
        }
        if (arg[2] == '\0') {
            options_done = 1;
            continue;
        }
        if (!strcmp(arg, "--help")) {
            ret = PVS_EAGAIN;
            break;
        }

        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        int shown = nlen > 200 ? 200 : (int)nlen; /* for messages */
        const struct pvs_option *opt = find_flag_n(table, name, nlen);
        int negated = 0;
        if (!opt && nlen > 3 && !memcmp(name, "no-", 3)) {
            opt = find_flag_n(table, name + 3, nlen - 3);
            if (opt && opt->type == PVS_OPT_BOOL)
                negated = 1;
            else
                opt = NULL;
        }
        if (!opt) {
            put(err, err_len, "unknown option --%.*s", shown, name);
            ret = PVS_ECONFIG;
            break;
        }

        const char *value;
        if (negated) {
            if (eq) {
                put(err, err_len, "--%.*s takes no value", shown, name);
                ret = PVS_ECONFIG;
                break;
            }
            value = "false";
        } else if (eq) {
            value = eq + 1;
        } else if (opt->type == PVS_OPT_BOOL) {
            /* A bare boolean never takes the next argument: in
             * "--fullscreen clip.mkv" the file is positional. */
            value = "true";
        } else if (i + 1 < argc && argv[i + 1] && !is_option(argv[i + 1])) {
            /* "--x --y": the user forgot x's value; saying so beats taking
             * "--y" as the value. "--x=--y" still works. */
            value = argv[++i];
        } else {
            put(err, err_len, "--%.*s needs a value", shown, name);
            ret = PVS_ECONFIG;
            break;
        }

        char why[256];
        int r = pvs_config_set(opt, settings, value, why, sizeof(why));
        if (r < 0) {
            put(err, err_len, "--%.*s '%s': %s", shown, name, value, why);
            ret = r;
            break;
        }
    }
    if (npositional)
        *npositional = npos;
    return ret;
}

/* ---- help --------------------------------------------------------------- */

static const char *default_metavar(const struct pvs_option *opt)
{
    if (opt->metavar)
        return opt->metavar;
    switch (opt->type) {
    case PVS_OPT_INT:
    case PVS_OPT_INT64:  return "N";
    case PVS_OPT_STRING: return "TEXT";
    case PVS_OPT_CHOICE: return "NAME";
    case PVS_OPT_SIZE:   return "WxH";
    case PVS_OPT_BOOL:   return "";
    }
    return "VALUE";
}

static void help_left(const struct pvs_option *opt, char *buf, size_t len)
{
    if (opt->type == PVS_OPT_BOOL)
        put(buf, len, "--%s", opt->flag);
    else
        put(buf, len, "--%s %s", opt->flag, default_metavar(opt));
}

void pvs_config_print_help(const struct pvs_option *table, const void *settings,
                           FILE *out)
{
    if (!table || !out)
        return;
    char left[128];
    size_t width = 0;
    for (const struct pvs_option *o = table; o->key; o++) {
        if (!o->flag)
            continue;
        help_left(o, left, sizeof(left));
        size_t n = strlen(left);
        if (n > width && n <= HELP_COLUMN_MAX)
            width = n;
    }
    for (const struct pvs_option *o = table; o->key; o++) {
        if (!o->flag)
            continue;
        help_left(o, left, sizeof(left));
        if (strlen(left) > width)
            fprintf(out, "  %s\n  %-*s  ", left, (int)width, "");
        else
            fprintf(out, "  %-*s  ", (int)width, left);
        fputs(o->help ? o->help : "", out);

        char def[PVS_OPT_STRING_MAX + 16];
        pvs_config_format(o, settings, def, sizeof(def));
        const char *sp = o->help && *o->help ? " " : "";
        if (o->type == PVS_OPT_CHOICE && o->choices) {
            char list[512] = "";
            list_choices(o, list, sizeof(list));
            if (settings)
                fprintf(out, "%s(one of %s; default: %s)\n", sp, list, def);
            else
                fprintf(out, "%s(one of %s)\n", sp, list);
        } else if (!settings) {
            fputs("\n", out);
        } else if (o->type == PVS_OPT_BOOL && *def == 't') {
            fprintf(out, "%s(default: true; --no-%s turns it off)\n", sp, o->flag);
        } else if (o->type == PVS_OPT_STRING && !*def) {
            fprintf(out, "%s(no default)\n", sp);
        } else {
            fprintf(out, "%s(default: %s)\n", sp, def);
        }
    }
}
