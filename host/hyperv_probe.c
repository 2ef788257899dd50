/* The Hyper-V backend's PowerShell probes: reading what they print and
 * running them (see hyperv_probe.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/hyperv_probe.h"
#include "host/run.h"
#include "host/text.h"

/* The next line, without "\n" or "\r\n"; false at the end of the text. */
bool pvs_probe_next_line(struct pvs_probe_lines *it, const char **s, size_t *n)
{
    if (it->p >= it->end)
        return false;
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *stop = nl ? nl : it->end;
    *s = it->p;
    *n = (size_t)(stop - it->p);
    if (*n && (*s)[*n - 1] == '\r')
        (*n)--;
    it->p = nl ? nl + 1 : it->end;
    return true;
}

bool pvs_probe_line_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && !memcmp(s, word, n);
}

/* Splits "key=value"; false when there is no '='. */
bool pvs_probe_split(const char *s, size_t n, const char **key, size_t *klen, const char **val,
                     size_t *vlen)
{
    const char *eq = memchr(s, '=', n);
    if (!eq)
        return false;
    *key = s;
    *klen = (size_t)(eq - s);
    *val = eq + 1;
    *vlen = n - *klen - 1;
    return true;
}

/* The next "key=value" line; other lines are skipped. */
bool pvs_probe_next_pair(struct pvs_probe_lines *it, bool *ended, const char **key, size_t *klen,
                         const char **val, size_t *vlen)
{
    const char *s;
    size_t n;
    while (pvs_probe_next_line(it, &s, &n)) {
        if (pvs_probe_line_is(s, n, "end")) {
            *ended = true;
            return false;
        }
        if (pvs_probe_split(s, n, key, klen, val, vlen))
            return true;
    }
    return false;
}

/* A plain decimal 0..max: digits only, no sign, no spaces. */
bool pvs_probe_parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* Copies a value into dst (NUL-terminated); false (dst = "") when it does
 * not fit or holds a control character or a NUL. */
bool pvs_probe_copy_exact(char *dst, size_t len, const char *s, size_t n)
{
    dst[0] = '\0';
    if (n >= len)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

/* Copies a value for display: control characters become '?', and a value
 * too long is cut at a character boundary. */
void pvs_probe_copy_display(char *dst, size_t len, const char *s, size_t n)
{
    if (n >= len) {
        n = len - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* not inside a UTF-8 sequence */
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    dst[n] = '\0';
}

/* Checks the probe's first line ("pvstream-probe KIND 1", a UTF-8 byte
 * order mark allowed before it). */
bool pvs_probe_header(struct pvs_probe_lines *it, const char *kind)
{
    const char *s;
    size_t n;
    if (!pvs_probe_next_line(it, &s, &n))
        return false;
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
        s += 3;
        n -= 3;
    }
    char want[48];
    snprintf(want, sizeof(want), "pvstream-probe %s 1", kind);
    return pvs_probe_line_is(s, n, want);
}

bool pvs_probe_ieq_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char a = *s >= 'a' && *s <= 'z' ? (char)(*s - 32) : *s;
        char b = *prefix >= 'a' && *prefix <= 'z' ? (char)(*prefix - 32) : *prefix;
        if (a != b)
            return false;
    }
    return true;
}

bool pvs_probe_ieq(const char *a, const char *b)
{
    return strlen(a) == strlen(b) && pvs_probe_ieq_prefix(a, b);
}

/* What every probe starts with: strict mode, and output collected and
 * written as UTF-8 bytes at the end, whatever the console's code page
 * (the bytes go to the standard output stream directly). Control
 * characters in a value become '?', so each value stays on its line. */
const char pvs_probe_prelude[] =
    "Set-StrictMode -Version 3.0\n"
    "$ErrorActionPreference = 'Stop'\n"
    "$PvsOut = New-Object System.Text.StringBuilder\n"
    "function Put([string]$Line) {\n"
    "    [void]$PvsOut.Append(($Line -replace '[\\x00-\\x1f\\x7f]', '?')).Append(\"`n\")\n"
    "}\n"
    "function Send {\n"
    "    $bytes = (New-Object System.Text.UTF8Encoding $false).GetBytes($PvsOut.ToString())\n"
    "    $stdout = [Console]::OpenStandardOutput()\n"
    "    $stdout.Write($bytes, 0, $bytes.Length)\n"
    "    $stdout.Flush()\n"
    "}\n"
    "# The PnP device ID of a GPU instance path:\n"
    "# \\\\?\\PCI#VEN_..&DEV_..#4&..&0&0008#{guid}\\... -> PCI\\VEN_..&DEV_..\\4&..&0&0008\n"
    "function Get-PvsPnpId([string]$Path) {\n"
    "    if ($Path.StartsWith('\\\\?\\')) { $Path = $Path.Substring(4) }\n"
    "    $i = $Path.IndexOf('#{')\n"
    "    if ($i -ge 0) { $Path = $Path.Substring(0, $i) }\n"
    "    return $Path.Replace('#', '\\')\n"
    "}\n";

bool pvs_probe_powershell_usable(void)
{
#ifdef _WIN32
    return true;
#else
    const char *p = getenv("PVS_POWERSHELL");
    return p && *p;
#endif
}

void pvs_probe_first_line(const char *text, char *dst, size_t len)
{
    struct pvs_probe_lines it = { text, text + strlen(text) };
    const char *s;
    size_t n;
    dst[0] = '\0';
    while (pvs_probe_next_line(&it, &s, &n)) {
        while (n && (*s == ' ' || *s == '\t')) {
            s++;
            n--;
        }
        if (n) {
            pvs_probe_copy_display(dst, len, s, n);
            return;
        }
    }
}

/* Runs a script; on success *out is its standard output. A non-zero exit
 * status is PVS_EIO with the first line of its error output in why. */
int pvs_probe_run(const char *script, const char *what, char **out, char *why,
                  size_t why_len)
{
    char *err = NULL, msg[256];
    int status = 0;
    *out = NULL;
    int rc = pvs_host_powershell_capture(script, out, &err, &status, msg, sizeof(msg));
    if (rc < 0) {
        pvs_text_error(why, why_len, "hyperv: %s: %s", what, msg);
        return rc == PVS_ENOENT ? PVS_ENOTSUP : rc;
    }
    if (err && *err)
        PVS_LOG_D("hyperv: %s: PowerShell said on stderr:\n%s", what, err);
    if (status != 0) {
        pvs_probe_first_line(err ? err : "", msg, sizeof(msg));
        pvs_text_error(why, why_len, "hyperv: %s failed (PowerShell exit status %d)%s%s", what,
                       status, *msg ? ": " : "", msg);
        free(*out);
        *out = NULL;
        rc = PVS_EIO;
    }
    free(err);
    return rc;
}

/* Lists through the probe. Errors carry "hyperv: ..." in why. */
