/* The Hyper-V backend's PowerShell probes, shared by hyperv.c (list,
 * apply) and hyperv_check.c: the script text every probe starts with,
 * running a script, and the bounded readers of what a probe prints (one
 * `key=value` per line; see hyperv.h). The readers take text with an
 * explicit length and never read past it: NUL bytes, missing newlines and
 * overlong values are all just data. */
#ifndef PVS_HOST_HYPERV_PROBE_H
#define PVS_HOST_HYPERV_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVS_PROBE_VALUE_MAX 512 /* a longer value is cut (display) or refused (exact) */

/* Walks text[0..len) line by line: { text, text + len }. */
struct pvs_probe_lines {
    const char *p, *end;
};

/* The next line (s, n), without "\n" or "\r\n"; false at the end. */
bool pvs_probe_next_line(struct pvs_probe_lines *it, const char **s, size_t *n);

/* Whether the line (s, n) is exactly `word`. */
bool pvs_probe_line_is(const char *s, size_t n, const char *word);

/* Splits "key=value" at the first '='; false when there is none. */
bool pvs_probe_split(const char *s, size_t n, const char **key, size_t *klen, const char **val,
                     size_t *vlen);

/* The next "key=value" line, lines without '=' skipped; false at a line
 * "end" (which sets *ended) or at the end of the text (*ended untouched),
 * so `while (pvs_probe_next_pair(...))` reads a probe up to its "end". */
bool pvs_probe_next_pair(struct pvs_probe_lines *it, bool *ended, const char **key, size_t *klen,
                         const char **val, size_t *vlen);

/* A plain decimal 0..max (digits only: no sign, space or exponent). */
bool pvs_probe_parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Copies (s, n) into dst, NUL-terminated; false (dst = "") when it does not
 * fit or holds a control character or a NUL. */
bool pvs_probe_copy_exact(char *dst, size_t len, const char *s, size_t n);

/* Copies (s, n) for display: control characters become '?', and a value
 * too long is cut at a UTF-8 character boundary. len >= 1. */
void pvs_probe_copy_display(char *dst, size_t len, const char *s, size_t n);

/* Reads the first line and checks it is "pvstream-probe KIND 1" (a UTF-8
 * byte order mark may come first). */
bool pvs_probe_header(struct pvs_probe_lines *it, const char *kind);

/* The first non-empty line of a program's standard error, its leading
 * blanks dropped, for display (PowerShell's first line of an error
 * record is its message); "" when there is none. len >= 1. */
void pvs_probe_first_line(const char *text, char *dst, size_t len);

/* Whether s starts with prefix, ASCII letters compared without case. */
bool pvs_probe_ieq_prefix(const char *s, const char *prefix);
/* Whether a equals b, ASCII letters compared without case (as
 * PowerShell's -eq compares names and instance paths). */
bool pvs_probe_ieq(const char *a, const char *b);

/* The PowerShell every probe starts with: strict mode, stop on errors,
 * `Put LINE` (collects a line, control characters made '?'), `Send`
 * (writes what was collected as UTF-8 bytes to standard output, whatever
 * the console's code page) and `Get-PvsPnpId PATH` (a GPU instance path's
 * PnP device ID, as Win32_VideoController.PNPDeviceID gives it). */
extern const char pvs_probe_prelude[];

/* Whether PowerShell can be run here: always on Windows; elsewhere only
 * when $PVS_POWERSHELL names a stand-in (the tests). */
bool pvs_probe_powershell_usable(void);

/* Runs a script (pvs_host_powershell_capture); `what` names it in
 * messages ("the apply script"). On 0, *out is its standard output (the
 * caller frees). Errors, with "hyperv: WHAT ..." in why: PVS_ENOTSUP
 * (PowerShell not found), PVS_EIO (a non-zero exit status; the first line
 * of its error output, which is the error's message, goes in why), and
 * pvs_host_run's others. */
int pvs_probe_run(const char *script, const char *what, char **out, char *why,
                  size_t why_len);

#endif
