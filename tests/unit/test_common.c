/* Tests for the small common modules: error text, logging (through a sink),
 * pixel format names and packed layouts, codec names. */
#include <stdint.h>
#include <string.h>

#include "common/codec.h"
#include "common/error.h"
#include "common/image.h"
#include "common/log.h"
#include "tests/unit/test.h"

static void test_strerror(void)
{
    static const int own[] = { PVS_EREINIT, PVS_ENOTSUP, PVS_EBADDATA, PVS_ENOSTAMP,
                               PVS_ECONFIG, PVS_EEXTERNAL };
    static const int errnos[] = { PVS_ENOMEM, PVS_EINVAL, PVS_EAGAIN, PVS_ETIMEDOUT,
                                  PVS_ENOENT, PVS_EIO, PVS_ENODEV, PVS_ERANGE };
    const size_t nown = sizeof(own) / sizeof(own[0]);

    CHECK(pvs_strerror(PVS_OK) != NULL && pvs_strerror(PVS_OK)[0] != '\0');
    for (size_t i = 0; i < nown; i++) {
        const char *s = pvs_strerror(own[i]);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, "unknown error") != 0);
        CHECK(strcmp(s, pvs_strerror(PVS_OK)) != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(s, pvs_strerror(own[j])) != 0);
        CHECK_INT(own[i], <, -10000); /* far from any errno */
    }
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
        const char *s = pvs_strerror(errnos[i]);
        CHECK(s != NULL && s[0] != '\0');
        /* the C library's text for that errno */
        CHECK(!strcmp(s, strerror(-errnos[i])));
        for (size_t j = 0; j < nown; j++)
            CHECK(strcmp(s, pvs_strerror(own[j])) != 0);
    }
    /* any negated errno, not only the named ones */
    CHECK(!strcmp(pvs_strerror(-EPIPE), strerror(EPIPE)));
    /* and never NULL, whatever the input */
    CHECK(pvs_strerror(-20000) != NULL && pvs_strerror(-20000)[0] != '\0');
    CHECK(pvs_strerror(12345) != NULL);
    CHECK(pvs_strerror(INT32_MIN) != NULL);
}

struct captured {
    int n;
    enum pvs_log_level level[8];
    char msg[8][128];
    char file[128];
    int line;
};

static void sink(void *opaque, enum pvs_log_level level, const char *file, int line,
                 const char *msg)
{
    struct captured *c = opaque;
    if (c->n < 8) {
        c->level[c->n] = level;
        snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", msg);
        c->n++;
    }
    snprintf(c->file, sizeof(c->file), "%s", file);
    c->line = line;
}

static void test_log(void)
{
    struct captured c;
    memset(&c, 0, sizeof(c));
    enum pvs_log_level saved = pvs_log_get_level();
    pvs_log_set_sink(sink, &c);

    pvs_log_set_level(PVS_LOG_WARN);
    CHECK_INT(pvs_log_get_level(), ==, PVS_LOG_WARN);
    PVS_LOG_E("error %d", 1);
    int line = __LINE__ + 1;
    PVS_LOG_W("warn %s", "two");
    PVS_LOG_I("info is above warn: dropped");
    PVS_LOG_D("debug: dropped");
    CHECK_INT(c.n, ==, 2);
    CHECK_INT(c.level[0], ==, PVS_LOG_ERROR);
    CHECK(!strcmp(c.msg[0], "error 1"));
    CHECK_INT(c.level[1], ==, PVS_LOG_WARN);
    CHECK(!strcmp(c.msg[1], "warn two"));
    CHECK(strstr(c.file, "test_common.c") != NULL);
    CHECK_INT(c.line, ==, line);

    c.n = 0;
    pvs_log_set_level(PVS_LOG_DEBUG);
    PVS_LOG_I("info");
    PVS_LOG_D("debug");
    CHECK_INT(c.n, ==, 2);
    CHECK_INT(c.level[1], ==, PVS_LOG_DEBUG);

    c.n = 0;
    pvs_log_set_level(PVS_LOG_QUIET);
    PVS_LOG_E("quiet drops even errors");
    CHECK_INT(c.n, ==, 0);

    /* a long message is cut, not overrun */
    c.n = 0;
    pvs_log_set_level(PVS_LOG_INFO);
    char big[4000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    PVS_LOG_I("%s", big);
    CHECK_INT(c.n, ==, 1);
    CHECK(c.msg[0][0] == 'x');

    pvs_log_set_sink(NULL, NULL);
    pvs_log_set_level(saved);
}

static void test_log_parse_level(void)
{
    static const struct {
        const char *name;
        enum pvs_log_level level;
    } ok[] = {
        { "quiet", PVS_LOG_QUIET }, { "error", PVS_LOG_ERROR }, { "warn", PVS_LOG_WARN },
        { "info", PVS_LOG_INFO },   { "debug", PVS_LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        enum pvs_log_level l = (enum pvs_log_level)99;
        CHECK_INT(pvs_log_parse_level(ok[i].name, &l), ==, 0);
        CHECK_INT(l, ==, ok[i].level);
    }
    enum pvs_log_level l = PVS_LOG_INFO;
    CHECK_INT(pvs_log_parse_level("verbose", &l), ==, PVS_EINVAL);
    CHECK_INT(pvs_log_parse_level("", &l), ==, PVS_EINVAL);
    CHECK_INT(pvs_log_parse_level(NULL, &l), ==, PVS_EINVAL);
    CHECK_INT(l, ==, PVS_LOG_INFO); /* untouched on error */
}

static const enum pvs_pix_fmt all_fmts[] = { PVS_PIX_BGRA, PVS_PIX_NV12, PVS_PIX_I420,
                                             PVS_PIX_GRAY };

static void test_pix_fmt_names(void)
{
    for (size_t i = 0; i < sizeof(all_fmts) / sizeof(all_fmts[0]); i++) {
        const char *name = pvs_pix_fmt_name(all_fmts[i]);
        CHECK(name != NULL);
        if (name)
            CHECK_INT(pvs_pix_fmt_from_name(name), ==, all_fmts[i]);
    }
    CHECK(!strcmp(pvs_pix_fmt_name(PVS_PIX_BGRA), "bgra"));
    CHECK(!strcmp(pvs_pix_fmt_name(PVS_PIX_NV12), "nv12"));
    CHECK(!strcmp(pvs_pix_fmt_name(PVS_PIX_I420), "i420"));
    CHECK(!strcmp(pvs_pix_fmt_name(PVS_PIX_GRAY), "gray"));
    CHECK_INT(pvs_pix_fmt_from_name("yuv420p"), ==, PVS_PIX_I420);
    CHECK(pvs_pix_fmt_name(PVS_PIX_NONE) == NULL);
    CHECK(pvs_pix_fmt_name((enum pvs_pix_fmt)42) == NULL);
    CHECK_INT(pvs_pix_fmt_from_name("rgb24"), ==, PVS_PIX_NONE);
    CHECK_INT(pvs_pix_fmt_from_name(""), ==, PVS_PIX_NONE);
    CHECK_INT(pvs_pix_fmt_from_name(NULL), ==, PVS_PIX_NONE);
}

static void test_packed_size(void)
{
    /* even sizes */
    CHECK_INT(pvs_image_packed_size(PVS_PIX_BGRA, 1920, 1080), ==, 1920 * 1080 * 4);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_GRAY, 1920, 1080), ==, 1920 * 1080);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_NV12, 1920, 1080), ==, 1920 * 1080 * 3 / 2);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_I420, 1920, 1080), ==, 1920 * 1080 * 3 / 2);
    /* odd sizes round chroma up */
    CHECK_INT(pvs_image_packed_size(PVS_PIX_BGRA, 3, 5), ==, 3 * 5 * 4);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_GRAY, 3, 5), ==, 15);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_NV12, 3, 5), ==, 15 + 2 * 3 * 2);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_I420, 3, 5), ==, 15 + 2 * 3 * 2);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_I420, 1, 1), ==, 3);
    /* bad input */
    CHECK_INT(pvs_image_packed_size(PVS_PIX_NONE, 16, 16), ==, 0);
    CHECK_INT(pvs_image_packed_size((enum pvs_pix_fmt)42, 16, 16), ==, 0);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_BGRA, 0, 16), ==, 0);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_BGRA, 16, -1), ==, 0);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_BGRA, INT32_MIN, INT32_MAX), ==, 0);
    CHECK_INT(pvs_image_packed_size(PVS_PIX_BGRA, INT32_MAX, INT32_MAX), ==, 0);
}

/* Checks that the planes of a wrapped image tile the buffer exactly. */
static void check_wrap(enum pvs_pix_fmt fmt, int w, int h)
{
    static uint8_t buf[64 * 64 * 4];
    struct pvs_image img;
    uint64_t size = pvs_image_packed_size(fmt, w, h);
    CHECK(size > 0 && size <= sizeof(buf));
    CHECK_INT(pvs_image_wrap_packed(&img, fmt, w, h, buf), ==, 0);
    CHECK_INT(img.fmt, ==, fmt);
    CHECK_INT(img.width, ==, w);
    CHECK_INT(img.height, ==, h);
    CHECK(img.data[0] == buf);
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    switch (fmt) {
    case PVS_PIX_BGRA:
        CHECK_INT(img.stride[0], ==, w * 4);
        CHECK_INT((uint64_t)img.stride[0] * h, ==, size);
        CHECK(img.data[1] == NULL && img.data[2] == NULL);
        break;
    case PVS_PIX_GRAY:
        CHECK_INT(img.stride[0], ==, w);
        CHECK_INT((uint64_t)w * h, ==, size);
        CHECK(img.data[1] == NULL);
        break;
    case PVS_PIX_NV12:
        CHECK_INT(img.stride[0], ==, w);
        CHECK(img.data[1] == buf + (size_t)w * h);
        CHECK_INT(img.stride[1], ==, cw * 2);
        CHECK_INT((uint64_t)(img.data[1] - buf) + (uint64_t)img.stride[1] * ch, ==, size);
        CHECK(img.data[2] == NULL);
        break;
    case PVS_PIX_I420:
        CHECK_INT(img.stride[0], ==, w);
        CHECK(img.data[1] == buf + (size_t)w * h);
        CHECK_INT(img.stride[1], ==, cw);
        CHECK(img.data[2] == img.data[1] + (size_t)cw * ch);
        CHECK_INT(img.stride[2], ==, cw);
        CHECK_INT((uint64_t)(img.data[2] - buf) + (uint64_t)img.stride[2] * ch, ==, size);
        break;
    default:
        CHECK(!"unexpected format");
    }
}

static void test_wrap_packed(void)
{
    for (size_t i = 0; i < sizeof(all_fmts) / sizeof(all_fmts[0]); i++) {
        check_wrap(all_fmts[i], 64, 48);
        check_wrap(all_fmts[i], 33, 17);
        check_wrap(all_fmts[i], 1, 1);
        check_wrap(all_fmts[i], 2, 63);
    }
    static uint8_t buf[64];
    struct pvs_image img;
    CHECK_INT(pvs_image_wrap_packed(NULL, PVS_PIX_GRAY, 4, 4, buf), ==, PVS_EINVAL);
    CHECK_INT(pvs_image_wrap_packed(&img, PVS_PIX_GRAY, 4, 4, NULL), ==, PVS_EINVAL);
    CHECK_INT(pvs_image_wrap_packed(&img, PVS_PIX_NONE, 4, 4, buf), ==, PVS_EINVAL);
    CHECK_INT(pvs_image_wrap_packed(&img, (enum pvs_pix_fmt)42, 4, 4, buf), ==, PVS_EINVAL);
    CHECK_INT(pvs_image_wrap_packed(&img, PVS_PIX_GRAY, 0, 4, buf), ==, PVS_EINVAL);
    CHECK_INT(pvs_image_wrap_packed(&img, PVS_PIX_GRAY, 4, -4, buf), ==, PVS_EINVAL);
}

static void test_codec_names(void)
{
    for (int i = 0; i < PVS_CODEC_COUNT; i++) {
        const char *name = pvs_codec_name((enum pvs_codec)i);
        enum pvs_codec c = PVS_CODEC_COUNT;
        CHECK(name != NULL);
        CHECK_INT(pvs_codec_from_name(name, &c), ==, 0);
        CHECK_INT(c, ==, i);
    }
    CHECK(!strcmp(pvs_codec_name(PVS_CODEC_H264), "h264"));
    CHECK(!strcmp(pvs_codec_name(PVS_CODEC_HEVC), "hevc"));
    CHECK(!strcmp(pvs_codec_name(PVS_CODEC_AV1), "av1"));
    CHECK(pvs_codec_name(PVS_CODEC_COUNT) != NULL);
    CHECK(pvs_codec_name((enum pvs_codec)-1) != NULL);

    enum pvs_codec c = PVS_CODEC_H264;
    CHECK_INT(pvs_codec_from_name("h265", &c), ==, 0);
    CHECK_INT(c, ==, PVS_CODEC_HEVC);
    c = PVS_CODEC_AV1;
    CHECK_INT(pvs_codec_from_name("vp9", &c), ==, PVS_EINVAL);
    CHECK_INT(pvs_codec_from_name("", &c), ==, PVS_EINVAL);
    CHECK_INT(pvs_codec_from_name(NULL, &c), ==, PVS_EINVAL);
    CHECK_INT(c, ==, PVS_CODEC_AV1); /* untouched on error */
}

int main(void)
{
    RUN(test_strerror);
    RUN(test_log);
    RUN(test_log_parse_level);
    RUN(test_pix_fmt_names);
    RUN(test_packed_size);
    RUN(test_wrap_packed);
    RUN(test_codec_names);
    TEST_EXIT();
}
