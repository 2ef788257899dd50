/* pvstream-host's runner (host/run.c): output capture, exit statuses,
 * input on stdin, outputs and inputs larger than a pipe holds (both at
 * once, which deadlocks a naive runner), the output bound, a missing
 * program, the Windows command-line quoting, and pvs_host_powershell
 * through tests/data/host/fake-powershell.sh. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "host/run.h"
#include "test.h"

static int run_sh(const char *cmd, const char *input, char **out, int *status)
{
    char *argv[] = { "sh", "-c", (char *)cmd, NULL };
    char why[256];
    return pvs_host_run(argv, input, out, status, why, sizeof(why));
}

static void test_capture_and_status(void)
{
    char *out = NULL;
    int status = -1;
    CHECK_INT(run_sh("printf 'one\\ntwo'", NULL, &out, &status), ==, 0);
    CHECK(out && !strcmp(out, "one\ntwo"));
    CHECK_INT(status, ==, 0);
    free(out);

    CHECK_INT(run_sh("exit 3", NULL, &out, &status), ==, 0);
    CHECK(out && !strcmp(out, ""));
    CHECK_INT(status, ==, 3);
    free(out);

    CHECK_INT(run_sh("kill -TERM $$", NULL, &out, &status), ==, 0);
    CHECK_INT(status, ==, 128 + 15);
    free(out);

    /* Standard error collected apart from standard output. */
    char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 1", NULL };
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
    CHECK_INT(run_sh("cat", "hello\nworld\n", &out, &status), ==, 0);
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
    CHECK_INT(run_sh("cat", big, &out, &status), ==, 0);
    CHECK(out && strlen(out) == n && !memcmp(out, big, n));
    CHECK_INT(status, ==, 0);
    free(out);

    /* A child that reads nothing: no SIGPIPE for us, its status kept. */
    CHECK_INT(run_sh("exit 5", big, &out, &status), ==, 0);
    CHECK_INT(status, ==, 5);
    free(out);
    free(big);
}

static void test_large_output(void)
{
    char *out = NULL;
    int status = -1;
    CHECK_INT(run_sh("head -c 3000000 /dev/zero | tr '\\000' x", NULL, &out, &status), ==, 0);
    CHECK(out && strlen(out) == 3000000 && out[0] == 'x' && out[2999999] == 'x');
    free(out);

    out = (char *)1;
    CHECK_INT(run_sh("head -c 17000000 /dev/zero | tr '\\000' x", NULL, &out, &status), ==,
              PVS_ERANGE);
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
    const char *data = getenv("PVS_TEST_DATA");
    CHECK(data != NULL);
    if (!data)
        return;
    char fake[1024], log[256], fixture[1024];
    snprintf(fake, sizeof(fake), "%s/host/fake-powershell.sh", data);
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

    setenv("PVS_POWERSHELL", "/nonexistent/powershell", 1);
    CHECK_INT(pvs_host_powershell("# x\n", &out, &status, why, sizeof(why)), ==, PVS_ENOENT);
    unsetenv("PVS_POWERSHELL");
    CHECK(!strcmp(pvs_host_powershell_program(), "powershell.exe"));
    unsetenv("FAKE_PS_LOG");
    unsetenv("FAKE_PS_OUTPUT");
    unsetenv("FAKE_PS_STATUS");
}

int main(void)
{
    RUN(test_capture_and_status);
    RUN(test_input);
    RUN(test_large_output);
    RUN(test_missing_program);
    RUN(test_win_quoting);
    RUN(test_powershell_fake);
    TEST_EXIT();
}
