/* FFmpeg log routing; see avlog.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

#include "av/avlog.h"
#include "common/log.h"

static _Thread_local char last_error[256];
static _Thread_local char last_detail[256];
static volatile int installed;

static void callback(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_VERBOSE)
        return;
    char line[512];
    int print_prefix = 0; /* no "[h264_qsv @ 0x5612...]": the caller names the encoder */
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (!n)
        return;
    if (level <= AV_LOG_ERROR)
        snprintf(last_error, sizeof(last_error), "%s", line);
    else
        snprintf(last_detail, sizeof(last_detail), "%s", line);
    PVS_LOG_D("ffmpeg: %s", line);
}

void pvs_avlog_init(void)
{
    if (installed)
        return; /* a second install from a racing thread is harmless */
    av_log_set_callback(callback);
    installed = 1;
}

void pvs_avlog_clear(void)
{
    last_error[0] = '\0';
    last_detail[0] = '\0';
}

const char *pvs_avlog_last_error(void)
{
    /* Some failures (a missing VAAPI device) are only told at verbose level. */
    return last_error[0] ? last_error : last_detail;
}

const char *pvs_av_strerror(int averr, char *buf, size_t len)
{
    if (av_strerror(averr, buf, len) < 0)
        snprintf(buf, len, "error %d", averr);
    return buf;
}
