/* pvstream-host's runner (host/run.c): output capture, exit statuses,
 * input on stdin, outputs and inputs larger than a pipe holds (both at
 * once, which deadlocks a naive runner), the output bound, a missing
 * program, the Windows command-line quoting, and pvs_host_powershell
 * through the PowerShell stand-in (tests/fake_powershell.c).
 *
 * The children are sh on POSIX. Windows has no sh, so there this program
 * runs itself with --child (child_main below), which does what those sh
 * commands do; that also checks the quoting of run.c against the parser
 * of a real Windows program (UTF-16 included). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#include <shellapi.h>
#endif

#include "common/error.h"
#include "host/run.h"
#include "test.h"

#ifdef _WIN32
static char self[4096]; /* this program, in UTF-8 */

/* The child side, with the arguments as the child sees them (UTF-16 from
 * the command line, the way PowerShell reads them, back to UTF-8):
 *   print TEXT   TEXT on stdout          exit N     exit status N
 *   cat          stdin to stdout         xs N       N times 'x'
 *   outerr       "out\n", "err\n" on stderr, exit 1
 *   args A...    each argument as LENGTH:TEXT; */
static int child_main(void)
{
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
    _setmode(_fileno(stderr), _O_BINARY);
    int argc = 0;
    wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &argc);
    if (!w || argc < 3)
        return 70;
    char *a[16] = { 0 };
    for (int i = 0; i < argc && i < 16; i++) {
        int n = WideCharToMultiByte(CP_UTF8, 0, w[i], -1, NULL, 0, NULL, NULL);
        a[i] = n > 0 ? malloc((size_t)n) : NULL;
        if (!a[i])
            return 70;
        WideCharToMultiByte(CP_UTF8, 0, w[i], -1, a[i], n, NULL, NULL);
    }
    const char *mode = a[2], *arg = argc > 3 ? a[3] : "";
    if (!strcmp(mode, "print")) {
        fputs(arg, stdout);
    } else if (!strcmp(mode, "exit")) {
        return atoi(arg);
    } else if (!strcmp(mode, "cat")) {
        char buf[65536];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
            fwrite(buf, 1, n, stdout);
    } else if (!strcmp(mode, "xs")) {
        static char xs[65536];
        memset(xs, 'x', sizeof(xs));
        for (long left = atol(arg); left > 0; left -= (long)sizeof(xs))
            fwrite(xs, 1, left < (long)sizeof(xs) ? (size_t)left : sizeof(xs), stdout);
    } else if (!strcmp(mode, "zero")) {
        /* A write of 0 bytes between two others: on Windows the reader
         * sees a successful read of 0 bytes, which is not the end (Wine
         * 8 does not pass such a write on, so there this always passes). */
        HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
        DWORD done = 0;
        WriteFile(h, "a", 1, &done, NULL);
        WriteFile(h, "", 0, &done, NULL);
        WriteFile(h, "b", 1, &done, NULL);
    } else if (!strcmp(mode, "outerr")) {
        fputs("out\n", stdout);
        fputs("err\n", stderr);
        return 1;
    } else if (!strcmp(mode, "args")) {
        for (int i = 3; i < argc && i < 16; i++)
            printf("%u:%s;", (unsigned)strlen(a[i]), a[i]);
    } else {
        return 64;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
#endif

/* Runs `sh -c SH` on POSIX, this program's child MODE ARG on Windows. */
static int run_child(const char *sh, const char *mode, const char *arg, const char *input,
                     char **out, int *status)
{
#ifdef _WIN32
    char *argv[] = { self, "--child", (char *)mode, (char *)arg, NULL };
    (void)sh;
#else
    char *argv[] = { "sh", "-c", (char *)sh, NULL };
    (void)mode, (void)arg;
#endif
    char why[256];
    return pvs_host_run(argv, input, out, status, why, sizeof(why));
}

static void test_capture_and_status(void)
{
    char *out = NULL;
    int status = -1;
    CHECK_INT(run_child("printf 'one\\ntwo'", "print", "one\ntwo", NULL, &out, &status), ==, 0);
    CHECK(out && !strcmp(out, "one\ntwo"));
    CHECK_INT(status, ==, 0);
    free(out);

#ifdef _WIN32
    CHECK_INT(run_child(NULL, "zero", NULL, NULL, &out, &status), ==, 0);
    CHECK(out && !strcmp(out, "ab"));
    if (out && strcmp(out, "ab"))
        fprintf(stderr, "  zero-length write: got [%s]\n", out);
    free(out);
#endif

    CHECK_INT(run_child("exit 3", "exit", "3", NULL, &out, &status), ==, 0);
    CHECK(out && !strcmp(out, ""));
    CHECK_INT(status, ==, 3);
    free(out);

#ifndef _WIN32
    /* A signal is POSIX: a Windows process ends with an exit code only. */
    CHECK_INT(run_child("kill -TERM $$", NULL, NULL, NULL, &out, &status), ==, 0);
    CHECK_INT(status, ==, 128 + 15);
    free(out);
#endif

    /* Standard error collected apart from standard output. */
#ifdef _WIN32
    char *argv[] = { self, "--child", "outerr", NULL };
#else
    char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 1", NULL };
#endif
    char *err = NULL, why[256];
    CHECK_INT(pvs_host_run_capture(argv, NULL, &out, &err, &status, why, sizeof(why)), ==, 0);
    CHECK(out && !strcmp(out, "out\n"));
    CHECK(err && !strcmp(err, "err\n"));
    CHECK_INT(status, ==, 1);
    free(out);
    free(err);
}

static void test_input(void)
{
    char *out = NULL;
    int status = -1;
    CHECK_INT(run_child("cat", "cat", NULL, "hello\nworld\n", &out, &status), ==, 0);
    CHECK(out && !strcmp(out, "hello\nworld\n"));
    free(out);

    /* 4 MiB in and the same out: a runner that writes all input before
     * reading would wait forever on the full output pipe. */
    size_t n = 4u << 20;
    char *big = malloc(n + 1);
    CHECK(big != NULL);
    if (!big)
        return;
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    CHECK_INT(run_child("cat", "cat", NULL, big, &out, &status), ==, 0);
    CHECK(out && strlen(out) == n && !memcmp(out, big, n));
    CHECK_INT(status, ==, 0);
    free(out);

    /* A child that reads nothing: no SIGPIPE for us, its status kept. */
    CHECK_INT(run_child("exit 5", "exit", "5", big, &out, &status), ==, 0);
    CHECK_INT(status, ==, 5);
    free(out);
    free(big);
}

static void test_large_output(void)
{
    char *out = NULL;
    int status = -1;
    CHECK_INT(run_child("head -c 3000000 /dev/zero | tr '\\000' x", "xs", "3000000", NULL, &out,
                        &status), ==, 0);
    CHECK(out && strlen(out) == 3000000 && out[0] == 'x' && out[2999999] == 'x');
    free(out);

    out = (char *)1;
    CHECK_INT(run_child("head -c 17000000 /dev/zero | tr '\\000' x", "xs", "17000000", NULL,
                        &out, &status), ==, PVS_ERANGE);
    CHECK(out == NULL);
}

static void test_missing_program(void)
{
    char *argv[] = { "pvstream-no-such-program-xyz", "arg", NULL };
    char *out = (char *)1, why[256] = "";
    int status = 0;
    CHECK_INT(pvs_host_run(argv, NULL, &out, &status, why, sizeof(why)), ==, PVS_ENOENT);
    CHECK(out == NULL);
    CHECK(strstr(why, "pvstream-no-such-program-xyz") != NULL);
    char *none[] = { NULL };
    CHECK_INT(pvs_host_run(none, NULL, &out, &status, why, sizeof(why)), ==, PVS_EINVAL);
}

static void test_win_quoting(void)
{
    static const struct {
        const char *arg, *want;
    } cases[] = {
        { "plain", "plain" },
        { "", "\"\"" },
        { "two words", "\"two words\"" },
        { "tab\there", "\"tab\there\"" },
        { "say \"hi\"", "\"say \\\"hi\\\"\"" },
        { "C:\\no space\\", "\"C:\\no space\\\\\"" },  /* trailing \ before the closing quote */
        { "C:\\dir\\file.ps1", "C:\\dir\\file.ps1" },  /* backslashes alone stay */
        { "a\\\"b", "\"a\\\\\\\"b\"" },                 /* \" -> \\\" */
        { "\\\\?\\PCI#VEN_10DE&DEV_2704", "\\\\?\\PCI#VEN_10DE&DEV_2704" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[] = { (char *)cases[i].arg, NULL };
        char *line = NULL;
        CHECK_INT(pvs_host_win_cmdline(argv, &line), ==, 0);
        CHECK(line && !strcmp(line, cases[i].want));
        if (line && strcmp(line, cases[i].want))
            fprintf(stderr, "  quoting [%s]: got [%s], want [%s]\n", cases[i].arg, line,
                    cases[i].want);
        free(line);
    }
    char *argv[] = { "powershell.exe", "-File", "C:\\Temp\\a b.ps1", NULL };
    char *line = NULL;
    CHECK_INT(pvs_host_win_cmdline(argv, &line), ==, 0);
    CHECK(line && !strcmp(line, "powershell.exe -File \"C:\\Temp\\a b.ps1\""));
    free(line);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void test_powershell_fake(void)
{
    const char *data = getenv("PVS_TEST_DATA"), *ps = getenv("PVS_FAKE_POWERSHELL");
    CHECK(data != NULL && ps != NULL);
    if (!data || !ps)
        return;
    char fake[1024], log[256], fixture[1024];
    snprintf(fake, sizeof(fake), "%s", ps);
    snprintf(log, sizeof(log), "/tmp/pvs-test-run-%d.ps1", (int)getpid());
    snprintf(fixture, sizeof(fixture), "%s/host/hyperv/apply-output.txt", data);
    setenv("PVS_POWERSHELL", fake, 1);
    setenv("FAKE_PS_LOG", log, 1);
    setenv("FAKE_PS_OUTPUT", fixture, 1);
    setenv("FAKE_PS_STATUS", "7", 1);
    CHECK(!strcmp(pvs_host_powershell_program(), fake));

    char *out = NULL, why[256];
    int status = -1;
    CHECK_INT(pvs_host_powershell("Write-Host 'hi'\n", &out, &status, why, sizeof(why)), ==, 0);
    CHECK_INT(status, ==, 7);
    CHECK(out && strstr(out, "now have a GPU partition"));
    free(out);
    /* The file PowerShell got starts with a byte order mark. */
    char *got = slurp(log);
    CHECK(got && !strcmp(got, "\xef\xbb\xbfWrite-Host 'hi'\n"));
    /* A script that has one gets no second. */
    CHECK_INT(pvs_host_powershell("\xef\xbb\xbf# x\n", &out, &status, why, sizeof(why)), ==, 0);
    free(out);
    got = slurp(log);
    CHECK(got && !strcmp(got, "\xef\xbb\xbf# x\n"));
    remove(log);
#ifdef _WIN32
    /* A temporary folder outside the ANSI code page (a user name with
     * accents): the script's path goes UTF-16 -> UTF-8 -> UTF-16 on its
     * way to PowerShell and must still name the file. */
    wchar_t base[MAX_PATH + 1], tmp_dir[MAX_PATH + 64], old_tmp[MAX_PATH + 1];
    DWORD had = GetEnvironmentVariableW(L"TMP", old_tmp, MAX_PATH + 1);
    CHECK(GetTempPathW(MAX_PATH + 1, base) > 0); /* ends with a backslash */
    _snwprintf(tmp_dir, MAX_PATH + 64, L"%lspvs-test-run-\u00e9\u65e5-%lu", base,
               (unsigned long)GetCurrentProcessId());
    tmp_dir[MAX_PATH + 63] = L'\0';
    CHECK(CreateDirectoryW(tmp_dir, NULL));
    CHECK(SetEnvironmentVariableW(L"TMP", tmp_dir));
    CHECK_INT(pvs_host_powershell("# \xc3\xa9\n", &out, &status, why, sizeof(why)), ==, 0);
    CHECK_INT(status, ==, 7);
    free(out);
    got = slurp(log);
    CHECK(got && !strcmp(got, "\xef\xbb\xbf# \xc3\xa9\n"));
    remove(log);
    SetEnvironmentVariableW(L"TMP", had && had <= MAX_PATH ? old_tmp : NULL);
    CHECK(RemoveDirectoryW(tmp_dir)); /* empty: the script file was removed */
#endif

    setenv("PVS_POWERSHELL", "/nonexistent/powershell", 1);
    CHECK_INT(pvs_host_powershell("# x\n", &out, &status, why, sizeof(why)), ==, PVS_ENOENT);
    unsetenv("PVS_POWERSHELL");
    CHECK(!strcmp(pvs_host_powershell_program(), "powershell.exe"));
    unsetenv("FAKE_PS_LOG");
    unsetenv("FAKE_PS_OUTPUT");
    unsetenv("FAKE_PS_STATUS");
}

#ifdef _WIN32
/* Arguments that need quoting reach a Windows program as they were. */
static void test_win_args(void)
{
    char *argv[] = { self, "--child", "args", "two words", "", "say \"hi\"",
                     "C:\\no space\\", "a\\\"b", "tab\there", "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5",
                     "\\\\?\\PCI#VEN_10DE&DEV_2704", NULL };
    char *out = NULL, want[512] = "", why[256];
    int status = -1;
    for (int i = 3; argv[i]; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%u:%s;",
                 (unsigned)strlen(argv[i]), argv[i]);
    CHECK_INT(pvs_host_run(argv, NULL, &out, &status, why, sizeof(why)), ==, 0);
    CHECK_INT(status, ==, 0);
    CHECK(out && !strcmp(out, want));
    if (out && strcmp(out, want))
        fprintf(stderr, "  got  [%s]\n  want [%s]\n", out, want);
    free(out);
}
#endif

int main(int argc, char **argv)
{
#ifdef _WIN32
    if (argc > 1 && !strcmp(argv[1], "--child"))
        return child_main();
    wchar_t wself[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, wself, MAX_PATH);
    if (n == 0 || n >= MAX_PATH ||
        !WideCharToMultiByte(CP_UTF8, 0, wself, -1, self, sizeof(self), NULL, NULL)) {
        fprintf(stderr, "cannot find this program's path\n");
        return 1;
    }
#else
    (void)argc, (void)argv;
#endif
    RUN(test_capture_and_status);
    RUN(test_input);
    RUN(test_large_output);
    RUN(test_missing_program);
    RUN(test_win_quoting);
#ifdef _WIN32
    RUN(test_win_args);
#endif
    RUN(test_powershell_fake);
    TEST_EXIT();
}
