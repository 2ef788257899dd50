/* Configuration: one table of options describes a program's settings; the
 * same table reads an INI file (through inih), applies command-line
 * overrides, and prints --help, so the three never disagree.
 *
 * An option lives in an INI section under its key and on the command line as
 * --flag VALUE or --flag=VALUE (--flag alone for booleans, and --no-flag to
 * turn one off). Every error names the file and line (or the flag), the key
 * and the bad value, and says what was expected. */
#ifndef PVS_CONFIG_H
#define PVS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pvs_opt_type {
    PVS_OPT_INT,    /* int, within [min, max] */
    PVS_OPT_INT64,  /* int64_t, within [min, max]; accepts k/M/G suffixes (x1000) */
    PVS_OPT_BOOL,   /* bool: true/false, yes/no, on/off, 1/0 */
    PVS_OPT_STRING, /* char[PVS_OPT_STRING_MAX] */
    PVS_OPT_CHOICE, /* int: index into `choices` (NULL-terminated) */
    PVS_OPT_SIZE,   /* int[2]: "WxH", each within [min, max] */
};

#define PVS_OPT_STRING_MAX 256

struct pvs_option {
    const char *section;  /* INI section, e.g. "encode" */
    const char *key;      /* INI key, e.g. "bitrate" */
    const char *flag;     /* command-line name without "--"; NULL: file only */
    enum pvs_opt_type type;
    size_t offset;        /* offsetof() the field in the settings struct */
    int64_t min, max;     /* range for INT, INT64 and SIZE */
    const char *const *choices; /* for CHOICE */
    const char *metavar;  /* shown in --help, e.g. "BITS" */
    const char *help;
};

/* A table ends with an entry whose key is NULL. */

/* Parses one value into the field of `opt`. On error returns PVS_ECONFIG and
 * writes the reason ("not an integer", "must be 1..240", ...) to `why`. */
int pvs_config_set(const struct pvs_option *opt, void *settings,
                   const char *value, char *why, size_t why_len);

/* Finds an option by section and key, or by command-line flag. NULL if none. */
const struct pvs_option *pvs_config_find(const struct pvs_option *table,
                                         const char *section, const char *key);
const struct pvs_option *pvs_config_find_flag(const struct pvs_option *table,
                                              const char *flag);

/* Reads an INI file. Unknown sections or keys, bad values and syntax errors
 * are errors (the first one stops the load): returns PVS_ECONFIG with a
 * message like "pvstream.ini:12: [encode] bitrate = 'fast': not an integer"
 * in `err`; PVS_ENOENT when the file cannot be opened. */
int pvs_config_load_file(const struct pvs_option *table, void *settings,
                         const char *path, char *err, size_t err_len);
/* The same from a string held in memory (`name` is used in messages). */
int pvs_config_load_string(const struct pvs_option *table, void *settings,
                           const char *text, const char *name,
                           char *err, size_t err_len);

/* Applies command-line options from argv[first..argc-1]. Arguments that do not
 * start with "--" are positional: they are moved, in order, to the front of
 * argv[first..] and their count is stored in *npositional. "--" ends option
 * parsing. "--help" and "-h" return PVS_EAGAIN so the caller prints help.
 * Errors: PVS_ECONFIG with "--bitrate 'fast': not an integer" or
 * "unknown option --bitrat" in `err`. */
int pvs_config_parse_args(const struct pvs_option *table, void *settings,
                          int argc, char **argv, int first, int *npositional,
                          char *err, size_t err_len);

/* Writes one line per option with a flag: "  --flag METAVAR  help (default: X)",
 * where X is the current value in `settings`. */
void pvs_config_print_help(const struct pvs_option *table, const void *settings,
                           FILE *out);

/* Writes the current value of an option as text (for help and logs). */
void pvs_config_format(const struct pvs_option *opt, const void *settings,
                       char *buf, size_t len);

#endif
