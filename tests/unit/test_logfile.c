/* logfile: size rotation in a temporary directory (NAME.log, NAME.1.log...,
 * the oldest dropped, lines never split, nothing lost but the oldest),
 * appending across reopen, a line longer than the limit, keep = 1, the
 * sink's line format, and refused arguments. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "common/error.h"
#include "common/log.h"
#include "common/logfile.h"
#include "tests/unit/test.h"

static char g_dir[512];

/* The whole of DIR/NAME, or NULL when it does not exist. Free it. */
static char *slurp(const char *name)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    return test_read_back(f);
}

static bool exists(const char *name)
{
    char *s = slurp(name);
    free(s);
    return s != NULL;
}

static void clear(const char *base, int upto)
{
    char path[700];
    for (int n = 0; n <= upto; n++) {
        if (n == 0)
            snprintf(path, sizeof(path), "%s/%s.log", g_dir, base);
        else
            snprintf(path, sizeof(path), "%s/%s.%d.log", g_dir, base, n);
        remove(path);
    }
}

static void test_rotation(void)
{
    struct pvs_logfile *f;
    CHECK_INT(pvs_logfile_open(&f, g_dir, "rot", 100, 3), ==, 0);
    char line[64], all[2048] = "";
    size_t len = 0; /* each line's, between 34 and 50: two fit in 100 bytes, three do not */
    for (int i = 0; i < 20; i++) {
        len = (size_t)snprintf(line, sizeof(line), "line %02d of the rotation test.....\n", i);
        CHECK_INT(pvs_logfile_write(f, line, strlen(line)), ==, 0);
        strcat(all, line);
    }
    pvs_logfile_close(&f);
    CHECK(f == NULL);
    CHECK(exists("rot.log"));
    CHECK(exists("rot.1.log"));
    CHECK(exists("rot.2.log"));
    CHECK(!exists("rot.3.log")); /* three files in all */
    char *c = slurp("rot.log"), *c1 = slurp("rot.1.log"), *c2 = slurp("rot.2.log");
    if (c && c1 && c2) {
        /* Two whole lines a file (a third would pass 100 bytes), so the
         * three files hold the last six lines, oldest first in rot.2.log. */
        CHECK(len >= 34 && len <= 50);
        CHECK_INT(strlen(c), ==, 2 * len);
        CHECK_INT(strlen(c1), ==, 2 * len);
        CHECK_INT(strlen(c2), ==, 2 * len);
        char joined[512];
        snprintf(joined, sizeof(joined), "%s%s%s", c2, c1, c);
        CHECK(!strcmp(joined, all + strlen(all) - 6 * len));
        CHECK(strncmp(c, "line 18", 7) == 0);
    }
    free(c);
    free(c1);
    free(c2);
    clear("rot", 3);
}

static void test_reopen_appends(void)
{
    struct pvs_logfile *f;
    CHECK_INT(pvs_logfile_open(&f, g_dir, "app", 1000, 2), ==, 0);
    CHECK_INT(pvs_logfile_write(f, "first\n", 6), ==, 0);
    pvs_logfile_close(&f);
    CHECK_INT(pvs_logfile_open(&f, g_dir, "app", 1000, 2), ==, 0);
    CHECK_INT(pvs_logfile_write(f, "second\n", 7), ==, 0);
    pvs_logfile_close(&f);
    char *c = slurp("app.log");
    CHECK(c && !strcmp(c, "first\nsecond\n"));
    free(c);
    CHECK(!exists("app.1.log"));
    /* The size found at open counts: 990 more bytes do not fit. */
    char big[991];
    memset(big, 'x', 989);
    big[989] = '\n';
    big[990] = '\0';
    CHECK_INT(pvs_logfile_open(&f, g_dir, "app", 1000, 2), ==, 0);
    CHECK_INT(pvs_logfile_write(f, big, 990), ==, 0);
    pvs_logfile_close(&f);
    c = slurp("app.1.log");
    CHECK(c && !strcmp(c, "first\nsecond\n"));
    free(c);
    c = slurp("app.log");
    CHECK(c && strlen(c) == 990);
    free(c);
    clear("app", 2);
}

static void test_long_line_and_keep_one(void)
{
    struct pvs_logfile *f;
    char big[301];
    memset(big, 'y', 299);
    big[299] = '\n';
    big[300] = '\0';
    CHECK_INT(pvs_logfile_open(&f, g_dir, "one", 100, 1), ==, 0);
    CHECK_INT(pvs_logfile_write(f, "short\n", 6), ==, 0);
    CHECK_INT(pvs_logfile_write(f, big, 300), ==, 0); /* whole, in a file of its own */
    char *c = slurp("one.log");
    CHECK(c && strlen(c) == 300 && c[0] == 'y');
    free(c);
    CHECK_INT(pvs_logfile_write(f, "after\n", 6), ==, 0);
    pvs_logfile_close(&f);
    c = slurp("one.log");
    CHECK(c && !strcmp(c, "after\n"));
    free(c);
    CHECK(!exists("one.1.log")); /* keep 1: the current file only */
    clear("one", 1);
}

static void test_sink_format(void)
{
    struct pvs_logfile *f;
    CHECK_INT(pvs_logfile_open(&f, g_dir, "sink", 4096, 2), ==, 0);
    pvs_log_set_sink(pvs_logfile_sink, f);
    PVS_LOG_W("the answer is %d", 42);
    pvs_log_set_sink(NULL, NULL);
    pvs_logfile_close(&f);
    char *c = slurp("sink.log");
    CHECK(c != NULL);
    if (c) {
        /* "YYYY-MM-DD HH:MM:SSZ [  elapsed] W file:line: msg\n" */
        CHECK(strlen(c) > 22 && c[4] == '-' && c[7] == '-' && c[10] == ' ' && c[19] == 'Z');
        CHECK(strstr(c, "] W ") != NULL);
        CHECK(strstr(c, "test_logfile.c:") != NULL);
        CHECK(strstr(c, ": the answer is 42\n") != NULL);
        CHECK(c[strlen(c) - 1] == '\n');
    }
    free(c);
    clear("sink", 2);
}

static void test_refused(void)
{
    struct pvs_logfile *f = (struct pvs_logfile *)1;
    CHECK_INT(pvs_logfile_open(&f, g_dir, "bad", 100, 0), ==, PVS_EINVAL);
    CHECK(f == NULL);
    CHECK_INT(pvs_logfile_open(&f, g_dir, "bad", 0, 2), ==, PVS_EINVAL);
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/no/such/dir", g_dir);
    CHECK(pvs_logfile_open(&f, missing, "bad", 100, 2) < 0);
    CHECK(f == NULL);
    pvs_logfile_close(NULL);
    pvs_logfile_close(&f);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof(g_dir), "%s/pvs-logfile-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_rotation);
    RUN(test_reopen_appends);
    RUN(test_long_line_and_keep_one);
    RUN(test_sink_format);
    RUN(test_refused);
    rmdir(g_dir);
    TEST_EXIT();
}
