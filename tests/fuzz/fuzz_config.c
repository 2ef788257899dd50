/* Fuzz target for common/config: the input is read as an INI file, then cut
 * at newlines and NULs into a command line, both against a table with every
 * option type. Whatever they do to the settings, formatting every option
 * afterwards must be safe too. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ARGS 256

struct fuzz_settings {
    int fps;
    int64_t bitrate;
    bool fullscreen;
    char output[PVS_OPT_STRING_MAX];
    int codec;
    int size[2];
    int quality;
    int64_t delay;
    bool hidden;
};

static const char *const codecs[] = { "h264", "hevc", "av1", NULL };

static const struct pvs_option table[] = {
    { "capture", "fps", "fps", PVS_OPT_INT, offsetof(struct fuzz_settings, fps),
      1, 240, NULL, "FPS", "frames per second" },
    { "capture", "size", "size", PVS_OPT_SIZE, offsetof(struct fuzz_settings, size),
      16, 16384, NULL, "WxH", "capture size" },
    { "encode", "bitrate", "bitrate", PVS_OPT_INT64, offsetof(struct fuzz_settings, bitrate),
      1000, 2000000000, NULL, "BITS", "bitrate" },
    { "encode", "codec", "codec", PVS_OPT_CHOICE, offsetof(struct fuzz_settings, codec),
      0, 0, codecs, "CODEC", "codec" },
    { "encode", "quality", NULL, PVS_OPT_INT, offsetof(struct fuzz_settings, quality),
      0, 51, NULL, NULL, "quality" },
    { "encode", "delay", "delay", PVS_OPT_INT64, offsetof(struct fuzz_settings, delay),
      0, 0, NULL, NULL, "delay with no range" },
    { "client", "fullscreen", "fullscreen", PVS_OPT_BOOL,
      offsetof(struct fuzz_settings, fullscreen), 0, 0, NULL, NULL, "full screen" },
    { "client", "output", "output", PVS_OPT_STRING, offsetof(struct fuzz_settings, output),
      0, 0, NULL, "FILE", "output" },
    { "client", "hidden", NULL, PVS_OPT_BOOL, offsetof(struct fuzz_settings, hidden),
      0, 0, NULL, NULL, "file only" },
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

static void format_all(const struct fuzz_settings *s)
{
    char buf[PVS_OPT_STRING_MAX + 16];
    for (const struct pvs_option *o = table; o->key; o++) {
        pvs_config_format(o, s, buf, sizeof(buf));
        if (strnlen(buf, sizeof(buf)) >= sizeof(buf))
            abort(); /* format must terminate its output */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    struct fuzz_settings s;
    char err[256];
    memset(&s, 0, sizeof(s));
    err[0] = '\0';
    pvs_config_load_string(table, &s, text, "fuzz.ini", err, sizeof(err));
    if (strnlen(err, sizeof(err)) >= sizeof(err))
        abort();
    format_all(&s);

    /* The same bytes as a command line: one argument per line. */
    char *argv[MAX_ARGS];
    int argc = 0;
    char *p = text, *end = text + size;
    while (p < end && argc < MAX_ARGS) {
        argv[argc++] = p;
        while (p < end && *p != '\n' && *p != '\0')
            p++;
        *p++ = '\0'; /* p == end lands on the terminator: still in bounds */
    }
    int npos = -1;
    memset(&s, 0, sizeof(s));
    int first = argc > 0 && argv[0][0] == 'p' ? 1 : 0; /* sometimes a program name */
    pvs_config_parse_args(table, &s, argc, argv, first, &npos, err, sizeof(err));
    if (npos < 0 || npos > argc)
        abort();
    format_all(&s);

    free(text);
    return 0;
}
