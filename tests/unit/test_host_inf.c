/* pvstream-host's INF reader (host/inf.h) on the fixtures in
 * $PVS_TEST_DATA/host/inf: a display driver shaped like vendors' (UTF-8,
 * and the same as UTF-16LE), a broken one and a hostile one; and the
 * syntax corners on small strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "host/inf.h"
#include "test.h"

static char *load(const char *name, size_t *len)
{
    const char *dir = getenv("PVS_TEST_DATA");
    if (!dir)
        TEST_SKIP("PVS_TEST_DATA is not set: run through meson test");
    char path[1024];
    snprintf(path, sizeof(path), "%s/host/inf/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static struct pvs_inf *parse_str(const char *s)
{
    struct pvs_inf *inf = NULL;
    char why[256];
    int rc = pvs_inf_parse(s, strlen(s), &inf, why, sizeof(why));
    if (rc < 0)
        fprintf(stderr, "parse: %s\n", why);
    return inf;
}

static void check_display(struct pvs_inf *inf)
{
    CHECK(pvs_inf_class(inf) && !strcmp(pvs_inf_class(inf), "Display"));
    const char *prov = pvs_inf_get(inf, "version", "PROVIDER");
    CHECK(prov && !strcmp(prov, "PVS Test \"Graphics\" Inc."));
    struct pvs_inf_driver_ver v;
    char why[256];
    CHECK_INT(pvs_inf_driver_ver(inf, &v, why, sizeof(why)), ==, 0);
    CHECK(!strcmp(v.date, "2024-03-01"));
    CHECK(!strcmp(v.version, "31.0.15.5222"));
    CHECK_INT(v.year, ==, 2024);
    CHECK_INT(v.month, ==, 3);

    /* A string from [Strings.0409] when [Strings] lacks it; the key was
     * substituted too. */
    const char *sec = pvs_inf_get(inf, "PVS.NTamd64.10.0...16299", "PVS Virtual GPU 3");
    CHECK(sec && !strcmp(sec, "Section001"));
    const char *disk = pvs_inf_get(inf, "Strings", "DiskName");
    CHECK(disk && !strcmp(disk, "PVS driver disk; not a comment"));

    struct pvs_inf_file *files = NULL;
    int n = 0;
    CHECK_INT(pvs_inf_installed_files(inf, &files, &n, why, sizeof(why)), ==, 0);
    static const struct { unsigned dirid; const char *subdir, *name, *source; } want[] = {
        { 11, "", "pvsapi64.dll", "pvsapi64.dll" },
        { 11, "", "pvscoinst.dll", "pvscoinst.dll" },   /* .CoInstallers, DefaultDestDir */
        { 11, "", "pvscuda64.dll", "pvscuda64.dl_" },
        { 11, "", "pvsoverlay.dll", "pvsoverlay.dll" }, /* @file */
        { 11, "NV", "pvsprofile.dat", "pvsprofile.dat" },
        { 12, "", "pvshelper.sys", "pvshelper.sys" },
        { 16425, "", "pvsapi.dll", "pvsapi32.dll" },
    };
    CHECK_INT(n, ==, (int)(sizeof(want) / sizeof(want[0])));
    for (int i = 0; i < n && i < (int)(sizeof(want) / sizeof(want[0])); i++) {
        CHECK_INT(files[i].dirid, ==, want[i].dirid);
        CHECK(!strcmp(files[i].subdir, want[i].subdir));
        CHECK(!strcmp(files[i].name, want[i].name));
        CHECK(!strcmp(files[i].source, want[i].source));
        if (strcmp(files[i].name, want[i].name))
            fprintf(stderr, "file %d: %s, want %s\n", i, files[i].name, want[i].name);
    }
    /* Not the x86 model's file, nor the store's. */
    for (int i = 0; i < n; i++) {
        CHECK(strcmp(files[i].name, "pvsx86.dll"));
        CHECK(strcmp(files[i].name, "pvsumd64.dll"));
    }
    free(files);
}

static void test_display_utf8(void)
{
    size_t len;
    char *text = load("pvsdisp.inf", &len);
    struct pvs_inf *inf = NULL;
    char why[256];
    CHECK_INT(pvs_inf_parse(text, len, &inf, why, sizeof(why)), ==, 0);
    if (inf)
        check_display(inf);
    pvs_inf_free(&inf);
    CHECK(inf == NULL);
    free(text);
}

/* The same file as UTF-16LE, with and without a byte order mark, and as
 * UTF-8 with one. */
static void test_display_utf16(void)
{
    size_t len;
    char *text = load("pvsdisp.inf", &len);
    unsigned char *w = malloc(2 * len + 2);
    w[0] = 0xff;
    w[1] = 0xfe;
    for (size_t i = 0; i < len; i++) {
        w[2 + 2 * i] = (unsigned char)text[i];
        w[3 + 2 * i] = 0;
    }
    for (int bom = 0; bom < 2; bom++) {
        struct pvs_inf *inf = NULL;
        char why[256];
        CHECK_INT(pvs_inf_parse(bom ? w : w + 2, bom ? 2 * len + 2 : 2 * len, &inf, why,
                                sizeof(why)), ==, 0);
        if (inf)
            check_display(inf);
        pvs_inf_free(&inf);
    }
    char *u = malloc(len + 3);
    memcpy(u, "\xef\xbb\xbf", 3);
    memcpy(u + 3, text, len);
    struct pvs_inf *inf = NULL;
    CHECK_INT(pvs_inf_parse(u, len + 3, &inf, NULL, 0), ==, 0);
    CHECK(inf && pvs_inf_class(inf) && !strcmp(pvs_inf_class(inf), "Display"));
    pvs_inf_free(&inf);
    free(u);
    free(w);
    free(text);
}

static void test_broken(void)
{
    size_t len;
    char *text = load("broken.inf", &len);
    struct pvs_inf *inf = NULL;
    char why[256] = "";
    CHECK_INT(pvs_inf_parse(text, len, &inf, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(inf == NULL);
    CHECK(strstr(why, "line 7") != NULL);
    CHECK(strstr(why, "]") != NULL);
    free(text);
}

/* Every entry that would write outside its place is skipped; the one good
 * file stays. A bad DriverVer is an error, not a guess. */
static void test_hostile(void)
{
    size_t len;
    char *text = load("hostile.inf", &len);
    struct pvs_inf *inf = NULL;
    char why[256];
    CHECK_INT(pvs_inf_parse(text, len, &inf, why, sizeof(why)), ==, 0);
    free(text);
    if (!inf)
        return;
    struct pvs_inf_driver_ver v;
    CHECK_INT(pvs_inf_driver_ver(inf, &v, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(strstr(why, "13/45/2024") != NULL);
    struct pvs_inf_file *files = NULL;
    int n = -1;
    enum pvs_log_level old = pvs_log_get_level();
    pvs_log_set_level(PVS_LOG_QUIET);
    CHECK_INT(pvs_inf_installed_files(inf, &files, &n, why, sizeof(why)), ==, 0);
    pvs_log_set_level(old);
    CHECK_INT(n, ==, 1);
    if (n == 1) {
        CHECK_INT(files[0].dirid, ==, 11);
        CHECK(!strcmp(files[0].name, "ok.dll"));
        CHECK(!strcmp(files[0].subdir, ""));
    }
    free(files);
    pvs_inf_free(&inf);
}

static void test_syntax(void)
{
    struct pvs_inf *inf = parse_str(
        "ignored = before any section\n"
        "[ A ]\r\n"
        "k1 = \"a;b,c\"\"d\" , x , \"  spaced  \" ; comment\n"
        "k2 = one \\\n"
        "     two ; continued\n"
        "k3 = 50%%\n"
        "k4 = %missing% and %s1%\n"
        "K1 = second k1\n"
        "[a]\n"
        "k5 = merged\n"
        "[Strings]\n"
        "s1 = \"from strings\"\n");
    CHECK(inf != NULL);
    if (!inf)
        return;
    CHECK_INT(pvs_inf_section_count(inf), ==, 2);
    CHECK(!strcmp(pvs_inf_get(inf, "a", "k1"), "a;b,c\"d"));
    CHECK(!strcmp(pvs_inf_get(inf, "A", "k2"), "one two"));
    CHECK(!strcmp(pvs_inf_get(inf, "A", "k3"), "50%"));
    CHECK(!strcmp(pvs_inf_get(inf, "A", "k4"), "%missing% and from strings"));
    CHECK(!strcmp(pvs_inf_get(inf, "A", "k5"), "merged"));
    CHECK(pvs_inf_get(inf, "A", "nope") == NULL);
    CHECK(pvs_inf_get(inf, "B", "k1") == NULL);
    CHECK(pvs_inf_class(inf) == NULL);
    struct pvs_inf_driver_ver v;
    CHECK_INT(pvs_inf_driver_ver(inf, &v, NULL, 0), ==, PVS_ENOENT);
    struct pvs_inf_file *files = NULL;
    int n = -1;
    CHECK_INT(pvs_inf_installed_files(inf, &files, &n, NULL, 0), ==, 0);
    CHECK_INT(n, ==, 0);
    CHECK(files == NULL);
    pvs_inf_free(&inf);

    /* DriverVer without a version; a version with five parts is refused. */
    inf = parse_str("[Version]\nDriverVer=1/2/2023\n");
    CHECK_INT(pvs_inf_driver_ver(inf, &v, NULL, 0), ==, 0);
    CHECK(!strcmp(v.date, "2023-01-02") && !strcmp(v.version, ""));
    pvs_inf_free(&inf);
    inf = parse_str("[Version]\nDriverVer=01/02/2023,1.2.3.4.5\n");
    CHECK_INT(pvs_inf_driver_ver(inf, &v, NULL, 0), ==, PVS_EBADDATA);
    pvs_inf_free(&inf);
}

static void test_limits(void)
{
    char why[256];
    struct pvs_inf *inf = (struct pvs_inf *)1;
    /* A NUL byte in UTF-8 text, odd UTF-16, an empty file. */
    CHECK_INT(pvs_inf_parse("[a]\0x", 5, &inf, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(inf == NULL);
    CHECK_INT(pvs_inf_parse("\xff\xfe[\0a\0]\0\x00\xd8", 10, &inf, why, sizeof(why)), ==, 0);
    CHECK(inf && pvs_inf_has_section(inf, "a"));
    pvs_inf_free(&inf);
    CHECK_INT(pvs_inf_parse("", 0, &inf, why, sizeof(why)), ==, 0);
    CHECK(inf && pvs_inf_section_count(inf) == 0);
    pvs_inf_free(&inf);
    /* A line over the limit. */
    size_t big = PVS_INF_MAX_LINE + 100;
    char *s = malloc(big + 8);
    memcpy(s, "[a]\nk=", 6);
    memset(s + 6, 'x', big);
    CHECK_INT(pvs_inf_parse(s, big + 6, &inf, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(strstr(why, "line 2") != NULL);
    free(s);
    /* Substitution that would blow up is refused. */
    char *t = malloc(3 * 1024 * 64 + 4096);
    size_t o = (size_t)sprintf(t, "[Strings]\nx=\"");
    memset(t + o, 'y', 60000);
    o += 60000;
    o += (size_t)sprintf(t + o, "\"\n[a]\nk=%%x%%%%x%%\n");
    CHECK_INT(pvs_inf_parse(t, o, &inf, why, sizeof(why)), ==, PVS_EBADDATA);
    CHECK(strstr(why, "substitut") != NULL || strstr(why, "replaced") != NULL);
    free(t);
}

int main(void)
{
    RUN(test_display_utf8);
    RUN(test_display_utf16);
    RUN(test_broken);
    RUN(test_hostile);
    RUN(test_syntax);
    RUN(test_limits);
    TEST_EXIT();
}
