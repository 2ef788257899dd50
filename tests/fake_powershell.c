/* A stand-in for powershell.exe, for the tests only: they point
 * $PVS_POWERSHELL at it (meson passes its path as $PVS_FAKE_POWERSHELL).
 * A program rather than a script so that the Windows build runs the same
 * tests: there pvstream-host starts it with CreateProcess, exactly as it
 * starts the real PowerShell. It takes the real argument shape,
 *   -NoProfile -NonInteractive -ExecutionPolicy Bypass -File FILE.ps1
 * and refuses any other (exit 64), then:
 *   FAKE_PS_LIST    when set and FILE is the list probe (a line starting
 *                   "# pvstream-probe list"): prints this file, exits 0,
 *                   logs nothing (apply lists the GPUs before it runs its
 *                   script)
 *   FAKE_PS_LOG     the script is copied here, byte for byte
 *   FAKE_PS_OUTPUT  printed on standard output
 *   FAKE_PS_STDERR  printed on standard error
 *   FAKE_PS_STATUS  the exit status (default 0)
 *   FAKE_PS_STEPS   a folder of answers by script: a script with a line
 *                   "# pvstream-step NAME" or "# pvstream-probe NAME" takes
 *                   NAME.out, NAME.err and NAME.status from there when they
 *                   exist, in place of the three above (vm create runs
 *                   several scripts, each with its own answer)
 *   FAKE_PS_JOURNAL every script is appended here, after a line
 *                   "==== pvstream script", so a test sees all of them in
 *                   order (FAKE_PS_LOG keeps only the last)
 * Files go through byte for byte: standard output and error are binary on
 * Windows too, so a fixture's line ends (LF or CRLF) reach the reader as
 * they are, as they would from PowerShell. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#endif

#ifdef _WIN32
/* Arguments and names are UTF-8 here; Windows wants UTF-16 for anything
 * outside the ANSI code page (a temporary folder under a user name with
 * accents), so files are opened by their wide name. */
static FILE *open_file(const char *path, const char *mode)
{
    wchar_t wpath[4096], wmode[8];
    if (!MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wpath, 4096) ||
        !MultiByteToWideChar(CP_UTF8, 0, mode, -1, wmode, 8))
        return NULL;
    return _wfopen(wpath, wmode);
}

static const char *env(const char *name)
{
    static char values[8][4096];
    static int next;
    wchar_t wname[64], *w;
    if (!MultiByteToWideChar(CP_UTF8, 0, name, -1, wname, 64) || !(w = _wgetenv(wname)))
        return NULL;
    char *v = values[next++ % 8];
    if (!WideCharToMultiByte(CP_UTF8, 0, w, -1, v, 4096, NULL, NULL))
        return NULL;
    return v;
}
#else
static FILE *open_file(const char *path, const char *mode)
{
    return fopen(path, mode);
}

static const char *env(const char *name)
{
    return getenv(name);
}
#endif

/* The variable's value, or NULL when it is unset or empty (the script's
 * ${VAR:-}). */
static const char *setting(const char *name)
{
    const char *v = env(name);
    return v && *v ? v : NULL;
}

/* Copies the file at `path` to `to`. Returns 0, or -1 with a message. */
static int copy_to(const char *path, FILE *to)
{
    FILE *f = open_file(path, "rb");
    if (!f) {
        fprintf(stderr, "fake-powershell: cannot read %s\n", path);
        return -1;
    }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (fwrite(buf, 1, n, to) != n)
            rc = -1;
    if (ferror(f))
        rc = -1;
    fclose(f);
    return fflush(to) == 0 ? rc : -1;
}

/* Does a line of the file start with `prefix`? (grep -q '^prefix') */
static bool has_line_starting(const char *path, const char *prefix)
{
    FILE *f = open_file(path, "rb");
    if (!f)
        return false;
    size_t len = strlen(prefix), matched = 0;
    bool at_start = true, found = false;
    int c;
    while (!found && (c = getc(f)) != EOF) {
        if (c == '\n') {
            at_start = true;
            matched = 0;
            continue;
        }
        if (at_start && (char)c == prefix[matched]) {
            found = ++matched == len;
        } else {
            at_start = false;
        }
    }
    fclose(f);
    return found;
}

/* NAME of the script's first "# pvstream-step NAME" or "# pvstream-probe
 * NAME" line, into name (empty when there is none). */
static void step_name(const char *path, char *name, size_t len)
{
    name[0] = '\0';
    FILE *f = open_file(path, "rb");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        static const char *const marks[] = { "# pvstream-step ", "# pvstream-probe " };
        for (int i = 0; i < 2; i++) {
            size_t m = strlen(marks[i]);
            if (strncmp(line, marks[i], m))
                continue;
            size_t n = strcspn(line + m, " \r\n");
            if (n < len) {
                memcpy(name, line + m, n);
                name[n] = '\0';
            }
            fclose(f);
            return;
        }
    }
    fclose(f);
}

/* FAKE_PS_STEPS/NAME.EXT when both are set and the file exists, else
 * `fallback`. */
static const char *step_file(const char *name, const char *ext, const char *fallback)
{
    static char paths[3][4096];
    static int next;
    const char *dir = setting("FAKE_PS_STEPS");
    if (!dir || !*name)
        return fallback;
    char *p = paths[next++ % 3];
    snprintf(p, sizeof(paths[0]), "%s/%s.%s", dir, name, ext);
    FILE *f = open_file(p, "rb");
    if (!f)
        return fallback;
    fclose(f);
    return p;
}

/* The first line of a file, as a number (the status files). */
static int read_status(const char *path)
{
    FILE *f = open_file(path, "rb");
    int v = 0;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static int fake_main(int argc, char **argv)
{
    static const char *const shape[] = { "-NoProfile", "-NonInteractive", "-ExecutionPolicy",
                                         "Bypass", "-File" };
    bool ok = argc == 7;
    for (int i = 0; ok && i < 5; i++)
        ok = !strcmp(argv[i + 1], shape[i]);
    if (!ok) {
        fprintf(stderr, "fake-powershell: unexpected arguments:");
        for (int i = 1; i < argc; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n");
        return 64;
    }
    const char *script = argv[6];
    size_t n = strlen(script);
    if (n < 4 || strcmp(script + n - 4, ".ps1")) {
        fprintf(stderr, "fake-powershell: -File %s: not a .ps1 file\n", script);
        return 64;
    }
    FILE *f = open_file(script, "rb");
    if (!f) {
        fprintf(stderr, "fake-powershell: no such script: %s\n", script);
        return 65;
    }
    fclose(f);

    const char *list = setting("FAKE_PS_LIST");
    if (list && has_line_starting(script, "# pvstream-probe list"))
        return copy_to(list, stdout) == 0 ? 0 : 1;
    const char *journal = setting("FAKE_PS_JOURNAL");
    if (journal) {
        FILE *to = open_file(journal, "ab");
        int rc = to && fputs("==== pvstream script\n", to) >= 0 ? copy_to(script, to) : -1;
        if (!to || fclose(to) != 0 || rc < 0) {
            fprintf(stderr, "fake-powershell: cannot append %s to %s\n", script, journal);
            return 66;
        }
    }
    const char *log = setting("FAKE_PS_LOG");
    if (log) {
        FILE *to = open_file(log, "wb");
        int rc = to ? copy_to(script, to) : -1;
        if (!to || fclose(to) != 0 || rc < 0) {
            fprintf(stderr, "fake-powershell: cannot copy %s to %s\n", script, log);
            return 66;
        }
    }
    /* As in the script, a file that cannot be printed is reported and the
     * run goes on to its status. */
    char name[128];
    step_name(script, name, sizeof(name));
    const char *output = step_file(name, "out", setting("FAKE_PS_OUTPUT"));
    if (output)
        copy_to(output, stdout);
    const char *err = step_file(name, "err", setting("FAKE_PS_STDERR"));
    if (err)
        copy_to(err, stderr);
    const char *status_file = step_file(name, "status", NULL);
    if (status_file)
        return read_status(status_file);
    const char *status = setting("FAKE_PS_STATUS");
    return status ? atoi(status) : 0;
}

#ifdef _WIN32
/* wmain (linked with -municode): the script's path arrives as UTF-16, and
 * the narrow argv of main would be in the ANSI code page. */
int wmain(int argc, wchar_t **wargv); /* mingw's crt calls it; no header declares it */
int wmain(int argc, wchar_t **wargv)
{
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    if (!argv)
        return 70;
    for (int i = 0; i < argc; i++) {
        int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
        if (n <= 0 || !(argv[i] = malloc((size_t)n)))
            return 70;
        WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL);
    }
    return fake_main(argc, argv);
}
#else
int main(int argc, char **argv)
{
    return fake_main(argc, argv);
}
#endif
