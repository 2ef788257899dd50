/* Tests for common/config: one table with every option type, read from INI
 * text and files, overridden from a command line, printed as --help; every
 * error message the header fixes is checked word for word. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/error.h"
#include "tests/unit/test.h"

struct settings {
    int fps;
    int64_t bitrate;
    bool fullscreen;
    bool vsync;
    char output[PVS_OPT_STRING_MAX];
    int codec;
    int size[2];
    int quality;   /* file only: no flag */
    int64_t delay; /* no range given: the full int64 */
};

static const char *const codecs[] = { "h264", "hevc", "av1", NULL };

static const struct pvs_option table[] = {
    { "capture", "fps", "fps", PVS_OPT_INT, offsetof(struct settings, fps),
      1, 240, NULL, "FPS", "frames per second" },
    { "encode", "bitrate", "bitrate", PVS_OPT_INT64, offsetof(struct settings, bitrate),
      100000, 1000000000, NULL, "BITS", "target bitrate in bit/s" },
    { "client", "fullscreen", "fullscreen", PVS_OPT_BOOL,
      offsetof(struct settings, fullscreen), 0, 0, NULL, NULL, "start in full screen" },
    { "client", "vsync", "vsync", PVS_OPT_BOOL, offsetof(struct settings, vsync),
      0, 0, NULL, NULL, "wait for vertical blank" },
    { "client", "output", "output", PVS_OPT_STRING, offsetof(struct settings, output),
      0, 0, NULL, "FILE", "write the stream here" },
    { "encode", "codec", "codec", PVS_OPT_CHOICE, offsetof(struct settings, codec),
      0, 0, codecs, "CODEC", "video codec" },
    { "capture", "size", "size", PVS_OPT_SIZE, offsetof(struct settings, size),
      16, 8192, NULL, "WxH", "capture size" },
    { "encode", "quality", NULL, PVS_OPT_INT, offsetof(struct settings, quality),
      0, 51, NULL, NULL, "constant quality" },
    { "encode", "delay", "delay", PVS_OPT_INT64, offsetof(struct settings, delay),
      0, 0, NULL, "NS", "added delay" },
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static void defaults(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    s->fps = 60;
    s->bitrate = 20000000;
    s->vsync = true;
    s->codec = 1;
    s->size[0] = 1920;
    s->size[1] = 1080;
    s->quality = 23;
}

static char err[512];

static int load(struct settings *s, const char *text)
{
    defaults(s);
    err[0] = '\0';
    return pvs_config_load_string(table, s, text, "pvstream.ini", err, sizeof(err));
}

/* Loads "[section]\nkey = value\n" and expects the error `want` on line 2. */
static void expect_bad(const char *section, const char *key, const char *value,
                       const char *why)
{
    struct settings s;
    char text[600], want[600];
    snprintf(text, sizeof(text), "[%s]\n%s = %s\n", section, key, value);
    snprintf(want, sizeof(want), "pvstream.ini:2: [%s] %s = '%s': %s", section, key,
             value, why);
    CHECK_INT(load(&s, text), ==, PVS_ECONFIG);
    if (strcmp(err, want) != 0) {
        fprintf(stderr, "  got:  %s\n  want: %s\n", err, want);
        CHECK(!"error message");
    }
}

static void test_valid_ini(void)
{
    struct settings s;
    const char *text =
        "; pvstream settings\n"
        "# another comment style\n"
        "\n"
        "[capture]\n"
        "fps = 144\n"
        "size = 2560X1440   ; inline comment\n"
        "\n"
        "[encode]\n"
        "bitrate = 35M\n"
        "codec = AV1\n"
        "quality: 30\n"
        "delay = -5G\n"
        "[client]\n"
        "  fullscreen = yes\n"       /* indented: still a key */
        "  vsync = Off\n"
        "output = /tmp/out file.h264\r\n";
    CHECK_INT(load(&s, text), ==, 0);
    CHECK(err[0] == '\0');
    CHECK_INT(s.fps, ==, 144);
    CHECK_INT(s.size[0], ==, 2560);
    CHECK_INT(s.size[1], ==, 1440);
    CHECK_INT(s.bitrate, ==, 35000000);
    CHECK_INT(s.codec, ==, 2);
    CHECK_INT(s.quality, ==, 30);
    CHECK_INT(s.delay, ==, -5000000000LL);
    CHECK(s.fullscreen);
    CHECK(!s.vsync);
    CHECK(!strcmp(s.output, "/tmp/out file.h264"));

    /* empty text and comments only: nothing changes */
    CHECK_INT(load(&s, ""), ==, 0);
    CHECK_INT(s.fps, ==, 60);
    CHECK_INT(load(&s, "\n\n; nothing\n   \n# at all"), ==, 0);
    CHECK_INT(s.bitrate, ==, 20000000);

    /* a UTF-8 byte order mark, no newline at the end, and an empty section */
    CHECK_INT(load(&s, "\xEF\xBB\xBF[client]\n[capture]\nfps=30"), ==, 0);
    CHECK_INT(s.fps, ==, 30);

    /* the later of two values wins */
    CHECK_INT(load(&s, "[capture]\nfps=30\nfps=50\n"), ==, 0);
    CHECK_INT(s.fps, ==, 50);
}

static void test_int_values(void)
{
    struct settings s;
    CHECK_INT(load(&s, "[capture]\nfps=1\n"), ==, 0);
    CHECK_INT(s.fps, ==, 1);
    CHECK_INT(load(&s, "[capture]\nfps=240\n"), ==, 0);
    CHECK_INT(s.fps, ==, 240);
    CHECK_INT(load(&s, "[capture]\nfps=+7\n"), ==, 0);
    CHECK_INT(s.fps, ==, 7);

    CHECK_INT(load(&s, "[encode]\nbitrate=500k\n"), ==, 0);
    CHECK_INT(s.bitrate, ==, 500000);
    CHECK_INT(load(&s, "[encode]\nbitrate=1G\n"), ==, 0);
    CHECK_INT(s.bitrate, ==, 1000000000);
    CHECK_INT(load(&s, "[encode]\nbitrate=123456\n"), ==, 0);
    CHECK_INT(s.bitrate, ==, 123456);
    CHECK_INT(load(&s, "[encode]\ndelay=9223372036854775807\n"), ==, 0);
    CHECK_INT(s.delay, ==, INT64_MAX);
    CHECK_INT(load(&s, "[encode]\ndelay=9223372036G\n"), ==, 0);
    CHECK_INT(s.delay, ==, 9223372036000000000LL);
}

static void test_bad_values(void)
{
    expect_bad("capture", "fps", "fast", "not an integer");
    expect_bad("capture", "fps", "60fps", "not an integer");
    expect_bad("capture", "fps", "6 0", "not an integer");
    expect_bad("capture", "fps", "0x3c", "not an integer");
    expect_bad("capture", "fps", "60k", "not an integer"); /* suffixes are INT64's */
    expect_bad("capture", "fps", "0", "must be 1..240");
    expect_bad("capture", "fps", "241", "must be 1..240");
    expect_bad("capture", "fps", "-99999999999999999999", "must be 1..240");
    expect_bad("capture", "fps", "4294967356", "must be 1..240"); /* int wrap */

    expect_bad("encode", "bitrate", "fast", "not an integer");
    expect_bad("encode", "bitrate", "20MB", "not an integer");
    expect_bad("encode", "bitrate", "M", "not an integer");
    expect_bad("encode", "bitrate", "20m", "not an integer");
    expect_bad("encode", "bitrate", "2G", "must be 100000..1000000000");
    expect_bad("encode", "bitrate", "99k", "must be 100000..1000000000");
    expect_bad("encode", "delay", "9223372036854775808",
               "must be -9223372036854775808..9223372036854775807");
    expect_bad("encode", "delay", "9223372037G",
               "must be -9223372036854775808..9223372036854775807");
    expect_bad("encode", "delay", "-9223372037G",
               "must be -9223372036854775808..9223372036854775807");

    expect_bad("client", "fullscreen", "maybe",
               "not a boolean (true/false, yes/no, on/off, 1/0)");
    expect_bad("client", "fullscreen", "2",
               "not a boolean (true/false, yes/no, on/off, 1/0)");

    expect_bad("encode", "codec", "vp9", "must be one of h264, hevc, av1");

    expect_bad("capture", "size", "1920", "not a size like 1920x1080");
    expect_bad("capture", "size", "1920x", "not a size like 1920x1080");
    expect_bad("capture", "size", "x1080", "not a size like 1920x1080");
    expect_bad("capture", "size", "1920*1080", "not a size like 1920x1080");
    expect_bad("capture", "size", "1920x1080x3", "not a size like 1920x1080");
    expect_bad("capture", "size", "8x1080", "width and height must be 16..8192");
    expect_bad("capture", "size", "1920x9000", "width and height must be 16..8192");

    char longv[PVS_OPT_STRING_MAX + 1];
    memset(longv, 'a', PVS_OPT_STRING_MAX);
    longv[PVS_OPT_STRING_MAX] = '\0';
    /* On the command line a long string reaches the length check (INI lines
     * stop earlier, at inih's line limit). */
    struct settings s;
    defaults(&s);
    char arg[PVS_OPT_STRING_MAX + 16];
    snprintf(arg, sizeof(arg), "--output=%s", longv);
    char *argv[] = { "prog", arg };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, argv, 1, NULL, err, sizeof(err)),
              ==, PVS_ECONFIG);
    CHECK(strstr(err, "longer than 255 characters") != NULL);
    CHECK(s.output[0] == '\0'); /* not truncated, not set */
    longv[PVS_OPT_STRING_MAX - 1] = '\0'; /* 255: just fits */
    snprintf(arg, sizeof(arg), "--output=%s", longv);
    CHECK_INT(pvs_config_parse_args(table, &s, 2, argv, 1, NULL, err, sizeof(err)), ==, 0);
    CHECK_INT(strlen(s.output), ==, PVS_OPT_STRING_MAX - 1);
}

static void test_bad_value_keeps_field(void)
{
    /* A rejected value leaves the field as it was (SIZE sets two ints). */
    struct settings s;
    CHECK_INT(load(&s, "[capture]\nsize=640x99999\n"), ==, PVS_ECONFIG);
    CHECK_INT(s.size[0], ==, 1920);
    CHECK_INT(s.size[1], ==, 1080);
    /* and the first error stops the load: the line after it is not applied */
    CHECK_INT(load(&s, "[capture]\nfps=30\nfps=x\nfps=50\n"), ==, PVS_ECONFIG);
    CHECK_INT(s.fps, ==, 30);
    CHECK(!strcmp(err, "pvstream.ini:3: [capture] fps = 'x': not an integer"));
}

static void test_unknown(void)
{
    struct settings s;
    CHECK_INT(load(&s, "; settings\n[encode]\nbitrat = 20M\n"), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "pvstream.ini:3: unknown key 'bitrat' in section [encode]"));

    /* a key that exists, but in another section */
    CHECK_INT(load(&s, "[encode]\nfps = 60\n"), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "pvstream.ini:2: unknown key 'fps' in section [encode]"));

    CHECK_INT(load(&s, "[encode]\nbitrate=1M\n\n[encoder]\nbitrate = 20M\n"), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "pvstream.ini:4: unknown section [encoder]"));
    CHECK_INT(s.bitrate, ==, 1000000); /* lines before the error were applied */

    /* even an empty unknown section is an error: it is a typo */
    CHECK_INT(load(&s, "[capture]\n[nope]\n"), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "pvstream.ini:2: unknown section [nope]"));

    /* a key before any section */
    CHECK_INT(load(&s, "fps = 60\n"), ==, PVS_ECONFIG);
    CHECK(strncmp(err, "pvstream.ini:1: key 'fps' is not in a section", 45) == 0);

    /* section and key names are not case-sensitive */
    CHECK_INT(load(&s, "[Capture]\nFPS = 25\n"), ==, 0);
    CHECK_INT(s.fps, ==, 25);
}

static void test_syntax(void)
{
    struct settings s;
    CHECK_INT(load(&s, "[capture]\nfps = 60\n\n\njust words\n"), ==, PVS_ECONFIG);
    CHECK(strncmp(err, "pvstream.ini:5: syntax error", 28) == 0);

    CHECK_INT(load(&s, "[capture\nfps = 30\n"), ==, PVS_ECONFIG);
    CHECK(strncmp(err, "pvstream.ini:1: syntax error", 28) == 0);
    CHECK_INT(s.fps, ==, 60);

    /* an inline comment hides the '=' */
    CHECK_INT(load(&s, "[capture]\nfps ;= 30\n"), ==, PVS_ECONFIG);
    CHECK(strncmp(err, "pvstream.ini:2: syntax error", 28) == 0);

    /* an indented line is not a continuation of the value above */
    CHECK_INT(load(&s, "[capture]\nfps = 30\n    50\n"), ==, PVS_ECONFIG);
    CHECK(strncmp(err, "pvstream.ini:3: syntax error", 28) == 0);

    /* line numbers count physical lines, CRLF included */
    CHECK_INT(load(&s, "[capture]\r\n\r\n; x\r\nfps = z\r\n"), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "pvstream.ini:4: [capture] fps = 'z': not an integer"));

    /* a line too long for inih is an error, not two lines */
    char text[1024];
    int n = snprintf(text, sizeof(text), "[client]\noutput = ");
    memset(text + n, 'a', 400);
    strcpy(text + n + 400, "\n[capture]\nfps = 30\n");
    CHECK_INT(load(&s, text), ==, PVS_ECONFIG);
    CHECK(strncmp(err, "pvstream.ini:2: line longer than", 32) == 0);
    CHECK_INT(s.fps, ==, 60);
    CHECK(s.output[0] == '\0');

    /* ...but a long comment is fine */
    n = snprintf(text, sizeof(text), "; ");
    memset(text + n, 'c', 400);
    strcpy(text + n + 400, "\n[capture]\nfps = 30\n");
    CHECK_INT(load(&s, text), ==, 0);
    CHECK_INT(s.fps, ==, 30);
}

static void test_file(void)
{
    struct settings s;
    defaults(&s);
    char path[] = "/tmp/pvs_test_config_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    FILE *f = fdopen(fd, "w");
    fputs("[encode]\nbitrate = 8M\ncodec = h264\n[capture]\nfps = nope\n", f);
    fclose(f);
    CHECK_INT(pvs_config_load_file(table, &s, path, err, sizeof(err)), ==, PVS_ECONFIG);
    char want[600];
    snprintf(want, sizeof(want), "%s:5: [capture] fps = 'nope': not an integer", path);
    CHECK(!strcmp(err, want));
    CHECK_INT(s.bitrate, ==, 8000000);
    CHECK_INT(s.codec, ==, 0);

    f = fopen(path, "wb");
    fwrite("[capture]\nfps=3\0\n", 1, 17, f); /* a NUL byte */
    fclose(f);
    CHECK_INT(pvs_config_load_file(table, &s, path, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(strstr(err, ":2: NUL byte") != NULL);

    f = fopen(path, "w");
    fputs("[capture]\nfps=90\n", f);
    fclose(f);
    CHECK_INT(pvs_config_load_file(table, &s, path, err, sizeof(err)), ==, 0);
    CHECK_INT(s.fps, ==, 90);
    remove(path);

    CHECK_INT(pvs_config_load_file(table, &s, path, err, sizeof(err)), ==, PVS_ENOENT);
    CHECK(strstr(err, path) != NULL);
}

static void test_cli(void)
{
    struct settings s;
    defaults(&s);
    char *argv[] = { "prog", "in.mkv", "--fps", "30", "--bitrate=5M", "--fullscreen",
                     "out.mkv", "--no-vsync", "--codec", "av1", "--size", "1280x720",
                     "--output=", "--", "--fps", "x" };
    int argc = (int)(sizeof(argv) / sizeof(argv[0]));
    int npos = -1;
    CHECK_INT(pvs_config_parse_args(table, &s, argc, argv, 1, &npos, err, sizeof(err)), ==, 0);
    CHECK_INT(s.fps, ==, 30);
    CHECK_INT(s.bitrate, ==, 5000000);
    CHECK(s.fullscreen);
    CHECK(!s.vsync);
    CHECK_INT(s.codec, ==, 2);
    CHECK_INT(s.size[0], ==, 1280);
    CHECK_INT(s.size[1], ==, 720);
    CHECK(s.output[0] == '\0');
    /* positionals, in order, at the front; after "--" options are positional */
    CHECK_INT(npos, ==, 4);
    CHECK(!strcmp(argv[0], "prog"));
    CHECK(!strcmp(argv[1], "in.mkv"));
    CHECK(!strcmp(argv[2], "out.mkv"));
    CHECK(!strcmp(argv[3], "--fps"));
    CHECK(!strcmp(argv[4], "x"));

    /* bool forms */
    char *b1[] = { "--fullscreen=false", "--vsync=on" };
    defaults(&s);
    s.fullscreen = true;
    s.vsync = false;
    CHECK_INT(pvs_config_parse_args(table, &s, 2, b1, 0, &npos, err, sizeof(err)), ==, 0);
    CHECK(!s.fullscreen);
    CHECK(s.vsync);
    CHECK_INT(npos, ==, 0);
    /* a bare boolean does not swallow the next argument */
    char *b2[] = { "--fullscreen", "false" };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, b2, 0, &npos, err, sizeof(err)), ==, 0);
    CHECK(s.fullscreen);
    CHECK_INT(npos, ==, 1);
    char *b3[] = { "--no-vsync=1" };
    CHECK_INT(pvs_config_parse_args(table, &s, 1, b3, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--no-vsync takes no value"));
    char *b4[] = { "--no-fps" }; /* --no- only for booleans */
    CHECK_INT(pvs_config_parse_args(table, &s, 1, b4, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "unknown option --no-fps"));

    /* negative numbers are values, not options */
    char *neg[] = { "--delay", "-3k" };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, neg, 0, &npos, err, sizeof(err)), ==, 0);
    CHECK_INT(s.delay, ==, -3000);

    /* no arguments at all */
    CHECK_INT(pvs_config_parse_args(table, &s, 1, argv, 1, &npos, err, sizeof(err)), ==, 0);
    CHECK_INT(npos, ==, 0);
}

static void test_cli_errors(void)
{
    struct settings s;
    defaults(&s);
    int npos;
    char *a1[] = { "--bitrate", "fast" };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, a1, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--bitrate 'fast': not an integer"));

    char *a2[] = { "x", "--bitrat", "5M" };
    CHECK_INT(pvs_config_parse_args(table, &s, 3, a2, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "unknown option --bitrat"));
    CHECK_INT(npos, ==, 1);

    char *a3[] = { "--bitrat=5M" };
    CHECK_INT(pvs_config_parse_args(table, &s, 1, a3, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "unknown option --bitrat"));

    char *a4[] = { "--bitrate" };
    CHECK_INT(pvs_config_parse_args(table, &s, 1, a4, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--bitrate needs a value"));
    char *a5[] = { "--bitrate", "--fps", "30" };
    CHECK_INT(pvs_config_parse_args(table, &s, 3, a5, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--bitrate needs a value"));

    char *a6[] = { "--codec", "vp9" };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, a6, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--codec 'vp9': must be one of h264, hevc, av1"));

    char *a7[] = { "--fps=500" };
    CHECK_INT(pvs_config_parse_args(table, &s, 1, a7, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--fps '500': must be 1..240"));

    char *a8[] = { "--fullscreen=perhaps" };
    CHECK_INT(pvs_config_parse_args(table, &s, 1, a8, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--fullscreen 'perhaps': not a boolean (true/false, yes/no, on/off, 1/0)"));

    char *a9[] = { "--size", "big" };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, a9, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "--size 'big': not a size like 1920x1080"));

    /* quality has no flag: file only */
    char *a10[] = { "--quality", "20" };
    CHECK_INT(pvs_config_parse_args(table, &s, 2, a10, 0, &npos, err, sizeof(err)), ==, PVS_ECONFIG);
    CHECK(!strcmp(err, "unknown option --quality"));

    char *h1[] = { "a", "--help", "--fps", "x" };
    CHECK_INT(pvs_config_parse_args(table, &s, 4, h1, 0, &npos, err, sizeof(err)), ==, PVS_EAGAIN);
    char *h2[] = { "-h" };
    CHECK_INT(pvs_config_parse_args(table, &s, 1, h2, 0, &npos, err, sizeof(err)), ==, PVS_EAGAIN);
    char *h3[] = { "--", "-h", "--help" }; /* after "--" they are file names */
    CHECK_INT(pvs_config_parse_args(table, &s, 3, h3, 0, &npos, err, sizeof(err)), ==, 0);
    CHECK_INT(npos, ==, 2);

    /* bad calls */
    CHECK_INT(pvs_config_parse_args(NULL, &s, 1, h2, 0, &npos, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK_INT(pvs_config_parse_args(table, &s, 1, NULL, 0, &npos, err, sizeof(err)), ==, PVS_EINVAL);
    CHECK_INT(pvs_config_parse_args(table, &s, 1, h2, -1, &npos, err, sizeof(err)), ==, PVS_EINVAL);
    /* err may be NULL */
    CHECK_INT(pvs_config_parse_args(table, &s, 2, a1, 0, NULL, NULL, 0), ==, PVS_ECONFIG);
}

static void test_cli_overrides_file(void)
{
    struct settings s;
    CHECK_INT(load(&s, "[capture]\nfps = 30\nsize = 800x600\n[encode]\nbitrate = 8M\n"), ==, 0);
    char *argv[] = { "prog", "--fps", "120" };
    int npos;
    CHECK_INT(pvs_config_parse_args(table, &s, 3, argv, 1, &npos, err, sizeof(err)), ==, 0);
    CHECK_INT(s.fps, ==, 120);
    CHECK_INT(s.bitrate, ==, 8000000);
    CHECK_INT(s.size[0], ==, 800);
    CHECK_INT(s.size[1], ==, 600);
}

static void test_set_find_format(void)
{
    struct settings s;
    defaults(&s);
    const struct pvs_option *o = pvs_config_find(table, "encode", "bitrate");
    CHECK(o == &table[1]);
    CHECK(pvs_config_find(table, "capture", "bitrate") == NULL);
    CHECK(pvs_config_find(table, "encode", NULL) == NULL);
    CHECK(pvs_config_find_flag(table, "codec") == &table[5]);
    CHECK(pvs_config_find_flag(table, "quality") == NULL);
    CHECK(pvs_config_find_flag(table, "") == NULL);

    char why[128], buf[64];
    CHECK_INT(pvs_config_set(o, &s, "fast", why, sizeof(why)), ==, PVS_ECONFIG);
    CHECK(!strcmp(why, "not an integer"));
    CHECK_INT(pvs_config_set(o, &s, NULL, why, sizeof(why)), ==, PVS_ECONFIG);
    CHECK_INT(pvs_config_set(NULL, &s, "1", why, sizeof(why)), ==, PVS_EINVAL);
    CHECK_INT(pvs_config_set(o, &s, "1500k", NULL, 0), ==, 0);
    CHECK_INT(s.bitrate, ==, 1500000);

    /* format writes what set reads back */
    for (const struct pvs_option *t = table; t->key; t++) {
        struct settings copy = s;
        pvs_config_format(t, &s, buf, sizeof(buf));
        CHECK_INT(pvs_config_set(t, &copy, buf, why, sizeof(why)), ==, 0);
        CHECK(!memcmp(&copy, &s, sizeof(s)));
    }
    pvs_config_format(o, &s, buf, sizeof(buf));
    CHECK(!strcmp(buf, "1500k"));
    pvs_config_format(&table[6], &s, buf, sizeof(buf));
    CHECK(!strcmp(buf, "1920x1080"));
    pvs_config_format(&table[5], &s, buf, sizeof(buf));
    CHECK(!strcmp(buf, "hevc"));
    pvs_config_format(&table[3], &s, buf, sizeof(buf));
    CHECK(!strcmp(buf, "true"));
    pvs_config_format(o, &s, buf, 3); /* truncates, stays terminated */
    CHECK(!strcmp(buf, "15"));
}

static void test_help(void)
{
    struct settings s;
    defaults(&s);
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f)
        return;
    pvs_config_print_help(table, &s, f);
    rewind(f);
    char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    fclose(f);

    CHECK(strstr(out, "  --fps FPS") != NULL);
    CHECK(strstr(out, "frames per second (default: 60)") != NULL);
    CHECK(strstr(out, "--bitrate BITS") != NULL);
    CHECK(strstr(out, "(default: 20M)") != NULL);
    CHECK(strstr(out, "--codec CODEC") != NULL);
    CHECK(strstr(out, "h264, hevc, av1") != NULL);
    CHECK(strstr(out, "default: hevc") != NULL);
    CHECK(strstr(out, "--size WxH") != NULL);
    CHECK(strstr(out, "(default: 1920x1080)") != NULL);
    CHECK(strstr(out, "--fullscreen ") != NULL);
    CHECK(strstr(out, "(default: false)") != NULL);
    CHECK(strstr(out, "--no-vsync") != NULL);
    CHECK(strstr(out, "quality") == NULL); /* no flag, not on the command line */

    /* one line per option with a flag, and the help texts start in one column */
    int lines = 0, col = -1, aligned = 1;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        const char *help = NULL;
        for (const struct pvs_option *t = table; t->key; t++) {
            if (t->flag && strstr(line, t->help))
                help = strstr(line, t->help);
        }
        if (!help) {
            aligned = 0;
            continue;
        }
        if (col < 0)
            col = (int)(help - line);
        else if (col != (int)(help - line))
            aligned = 0;
    }
    CHECK_INT(lines, ==, 8);
    CHECK(aligned);
}

static void test_bad_calls(void)
{
    struct settings s;
    defaults(&s);
    CHECK_INT(pvs_config_load_string(NULL, &s, "", "x", err, sizeof(err)), ==, PVS_EINVAL);
    CHECK_INT(pvs_config_load_string(table, NULL, "", "x", err, sizeof(err)), ==, PVS_EINVAL);
    CHECK_INT(pvs_config_load_string(table, &s, NULL, "x", err, sizeof(err)), ==, PVS_EINVAL);
    CHECK_INT(pvs_config_load_string(table, &s, "[capture]\nfps=0\n", NULL, NULL, 0), ==, PVS_ECONFIG);
    CHECK_INT(pvs_config_load_file(table, &s, NULL, err, sizeof(err)), ==, PVS_EINVAL);
    /* a tiny error buffer is still terminated */
    char small[8];
    CHECK_INT(pvs_config_load_string(table, &s, "[x]\n", "pvstream.ini", small, sizeof(small)),
              ==, PVS_ECONFIG);
    CHECK(!strcmp(small, "pvstrea"));
    pvs_config_print_help(table, &s, NULL); /* no output stream: nothing to do */
}

int main(void)
{
    RUN(test_valid_ini);
    RUN(test_int_values);
    RUN(test_bad_values);
    RUN(test_bad_value_keeps_field);
    RUN(test_unknown);
    RUN(test_syntax);
    RUN(test_file);
    RUN(test_cli);
    RUN(test_cli_errors);
    RUN(test_cli_overrides_file);
    RUN(test_set_find_format);
    RUN(test_help);
    RUN(test_bad_calls);
    TEST_EXIT();
}
