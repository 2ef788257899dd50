/* Reading a driver's INF file: enough of the format to learn the driver's
 * version and class and which files it installs outside the driver store,
 * for `pvstream-host drivers sync` (drivers.h).
 *
 * The syntax handled: [sections] (names case-insensitive; a section that
 * appears twice is one section), key = value entries and key-less entries,
 * values split at commas, "quoted" values (in which "" stands for one
 * quote and ; , = are plain characters), ; comments, a backslash at the
 * end of a line continuing it on the next, and %strkey% tokens replaced
 * from [Strings] (or [Strings.<language>] when [Strings] lacks the key;
 * %% is one %, an unknown %token% stays as it is, like the %11% dirids).
 * The file may be UTF-8 (with or without a byte order mark) or UTF-16LE
 * (with a byte order mark, as most shipped driver INFs are, or without).
 *
 * The parser is bounded (PVS_INF_MAX_* below) and never crashes on any
 * input: what does not fit is refused with PVS_EBADDATA and a reason. */
#ifndef PVS_HOST_INF_H
#define PVS_HOST_INF_H

#include <stdbool.h>
#include <stddef.h>

#define PVS_INF_MAX_SIZE (64u << 20)   /* bytes of input */
#define PVS_INF_MAX_LINE 65536         /* bytes of one logical line, continuations included */
#define PVS_INF_MAX_LINES 1000000
#define PVS_INF_MAX_SECTIONS 16384
#define PVS_INF_MAX_FIELDS 1024        /* comma-separated values in one entry */
#define PVS_INF_MAX_FILES 65536        /* files pvs_inf_installed_files returns */
#define PVS_INF_NAME_MAX 256           /* a file name, a subdirectory */

/* Directory ids (DIRIDs) that matter here. */
#define PVS_INF_DIRID_WINDOWS 10       /* %SystemRoot% */
#define PVS_INF_DIRID_SYSTEM32 11
#define PVS_INF_DIRID_DRIVERS 12       /* System32\drivers */
#define PVS_INF_DIRID_DRIVER_STORE 13  /* the package's own folder in the driver store */
#define PVS_INF_DIRID_SYSWOW64 16425

struct pvs_inf;

/* Parses an INF held in memory. On success returns 0 and *out (free with
 * pvs_inf_free). Errors: PVS_EBADDATA with the reason (and line) in why:
 * too large, a line too long, bad UTF-16, an unterminated section name;
 * PVS_ENOMEM. Entries before the first section are ignored. */
int pvs_inf_parse(const void *data, size_t size, struct pvs_inf **out, char *why,
                  size_t why_len);

/* ASCII case-insensitive comparison of at most n bytes, the way Windows
 * compares INF section names and file names (strcmp's sign). */
int pvs_inf_casecmp_n(const char *a, const char *b, size_t n);

/* A name that may be one part of a path: n bytes (1..PVS_INF_NAME_MAX - 1),
 * not "." or "..", no '/', '\', ':' (drive, stream), wildcard, quote or
 * control character. */
bool pvs_inf_name_ok(const char *s, size_t n);

/* Frees what pvs_inf_parse returned; NULL is fine. Clears *inf. */
void pvs_inf_free(struct pvs_inf **inf);

/* How many sections the file has (merged by name). */
int pvs_inf_section_count(const struct pvs_inf *inf);

/* True when a section of this name (any case) exists. */
int pvs_inf_has_section(const struct pvs_inf *inf, const char *section);

/* The first value (field 0) of the first entry `key` (any case) in
 * `section`, after %strkey% substitution; NULL when there is none. The
 * string belongs to inf. */
const char *pvs_inf_get(const struct pvs_inf *inf, const char *section, const char *key);

/* [Version] DriverVer = mm/dd/yyyy[,w.x.y.z]. */
struct pvs_inf_driver_ver {
    unsigned year, month, day;
    char date[11];      /* "2024-03-01" */
    char version[32];   /* "31.0.15.5222"; "" when the entry has none */
};

/* Returns 0, PVS_ENOENT (no DriverVer), PVS_EBADDATA (a date that is not
 * mm/dd/yyyy, a version that is not up to four dot-separated numbers of at
 * most 65535; reason in why). */
int pvs_inf_driver_ver(const struct pvs_inf *inf, struct pvs_inf_driver_ver *out, char *why,
                       size_t why_len);

/* [Version] Class (for a GPU "Display"), or NULL. */
const char *pvs_inf_class(const struct pvs_inf *inf);

/* One file the INF copies. */
struct pvs_inf_file {
    unsigned dirid;                  /* where: a DIRID (never 13) */
    char subdir[PVS_INF_NAME_MAX];   /* under it, '\' separated as written; "" for none */
    char name[PVS_INF_NAME_MAX];     /* the installed (destination) name */
    char source[PVS_INF_NAME_MAX];   /* the name in the package; usually the same */
};

/* The files the INF installs outside the driver store: following
 * [Manufacturer] to its models sections (the undecorated one and those
 * decorated NTamd64*), each model's install section (X.NTamd64, else X.NT,
 * else X) and its .CoInstallers section, every CopyFiles= there (file-list
 * sections, and @file single files), each section's destination from
 * [DestinationDirs] (its own entry, else DefaultDestDir). Files whose
 * destination is DIRID 13 stay in the driver store folder and are left
 * out; so are duplicates (same dirid, subdir and name, any case).
 * Entries that cannot be used (no destination, a name with a path in it,
 * a dirid that is not a number) are skipped with a warning in the log.
 *
 * Returns 0 with *files (the caller frees it; NULL when *count is 0)
 * sorted by dirid, subdir and name; PVS_ENOMEM; PVS_ERANGE beyond
 * PVS_INF_MAX_FILES. */
int pvs_inf_installed_files(const struct pvs_inf *inf, struct pvs_inf_file **files, int *count,
                            char *why, size_t why_len);

#endif
