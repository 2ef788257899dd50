/* pvstream-client's option table and command-line checks. */
#include "client/options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "net/control.h"
#include "pvs_config.h"

#define OPT(k, t, field, lo, hi, mv, h) \
    { "client", k, k, t, offsetof(struct pvs_client_opts, field), lo, hi, NULL, mv, h }

const struct pvs_option pvs_client_options[] = {
    OPT("headless", PVS_OPT_BOOL, headless, 0, 0, NULL,
        "no window: decode only, one statistics line per second on stderr"),
    OPT("fullscreen", PVS_OPT_BOOL, fullscreen, 0, 0, NULL, "start in full screen (F11 toggles)"),
    OPT("vsync", PVS_OPT_BOOL, vsync, 0, 0, NULL,
        "pace presentation to the display's refresh (adds up to a refresh of latency)"),
    OPT("overlay", PVS_OPT_BOOL, overlay, 0, 0, NULL,
        "start with the statistics overlay shown (Ctrl+Alt+S toggles it)"),
    OPT("audio", PVS_OPT_BOOL, audio, 0, 0, NULL,
        "play the server's sound (SDL audio; SDL_AUDIODRIVER picks the driver)"),
    OPT("decoder", PVS_OPT_STRING, decoder, 0, 0, "auto|software|NAME",
        "video decoder: hardware first (auto), software only, or a device type "
        "(vaapi, vdpau, cuda)"),
    OPT("seconds", PVS_OPT_INT, seconds, 0, 86400, "N",
        "stream N seconds after connecting, then say BYE and exit (1 if nothing was decoded); "
        "0 = until stopped"),
    OPT("stats-json", PVS_OPT_STRING, stats_json, 0, 0, "FILE",
        "at exit, write frame counts and latency percentiles (capture, host, network, wait, "
        "decode, present in a window, glass to glass, audio, A/V offset) as JSON"),
    OPT("record", PVS_OPT_STRING, record, 0, 0, "FILE",
        "write the received video stream as is (H.264/HEVC Annex B, AV1 OBUs)"),
    OPT("trace", PVS_OPT_STRING, trace, 0, 0, "FILE",
        "write each decoded frame's stage times as CSV, present too in a window "
        "(pvstream-bench e2e adds them up and draws them)"),
    OPT("media-port", PVS_OPT_INT, media_port, 0, 65535, "N",
        "local UDP port for media; 0 = any free port"),
    OPT("media-announce", PVS_OPT_INT, media_announce, 0, 65535, "N",
        "the media port told to the server, when a relay in between takes the media there "
        "(pvstream-bench link on one machine); 0 = the port bound"),
    OPT("losssim", PVS_OPT_STRING, losssim, 0, 0, "SPEC",
        "simulate network trouble on received media (tests only), e.g. loss=5,burst=3,seed=1"),
    OPT("connect-timeout", PVS_OPT_INT, connect_timeout, 1, 600, "S",
        "report the server unreachable after S seconds without an answer"),
    OPT("size", PVS_OPT_SIZE, size, 128, 7680, "WxH",
        "the size to ask the server to stream (a Windows server sets its display, or adds a "
        "virtual one, at it); default: this display's size (--headless: none)"),
    OPT("fps", PVS_OPT_INT, fps, 0, 240, "N",
        "the refresh to ask for; 0 = this display's (--headless: none)"),
    OPT("version", PVS_OPT_BOOL, version, 0, 0, NULL, "print the version and exit"),
    {0},
};

void pvs_client_opts_default(struct pvs_client_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port = PVS_CONTROL_DEFAULT_PORT;
    strcpy(o->decoder, "auto");
    o->connect_timeout = 5;
    o->audio = true;
}

static void usage(FILE *out, const struct pvs_client_opts *o)
{
    fprintf(out,
            "usage: pvstream-client HOST[:PORT] [options]   (pvstream %s)\n"
            "Shows the desktop that pvstream-server on HOST streams (control port %d by "
            "default)\nand sends it keyboard, mouse and gamepad input.\n\noptions:\n",
            PVS_VERSION, PVS_CONTROL_DEFAULT_PORT);
    pvs_config_print_help(pvs_client_options, o, out);
    fprintf(out,
            "  --help           this text\n\n"
            "hotkeys (in the window):\n"
            "  F11, Ctrl+Alt+Enter  toggle full screen\n"
            "  Ctrl+Alt+G           toggle input grab (keyboard grab, relative mouse)\n"
            "  Ctrl+Alt+S           toggle the statistics overlay\n"
            "  Ctrl+Alt+Q           quit (as does closing the window)\n"
            "Hotkeys are not sent to the server; every other key is.\n");
}

int pvs_client_split_host(const char *arg, char *host, size_t host_cap, uint16_t *port,
                          char *err, size_t err_len)
{
    const char *h = arg, *colon = NULL;
    size_t hlen;
    if (!arg || !*arg) {
        snprintf(err, err_len, "no server given: pvstream-client HOST[:PORT]");
        return PVS_ECONFIG;
    }
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || (close[1] && close[1] != ':')) {
            snprintf(err, err_len, "bad server '%s': expected [ADDRESS]:PORT", arg);
            return PVS_ECONFIG;
        }
        h = arg + 1;
        hlen = (size_t)(close - h);
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strchr(arg, ':');
        if (colon && strchr(colon + 1, ':')) {
            snprintf(err, err_len, "bad server '%s': an IPv6 address goes in brackets, "
                     "[ADDRESS]:PORT", arg);
            return PVS_ECONFIG;
        }
        hlen = colon ? (size_t)(colon - arg) : strlen(arg);
    }
    if (hlen == 0 || hlen >= host_cap) {
        snprintf(err, err_len, "bad server '%s': %s", arg, hlen ? "host name too long" : "no host name");
        return PVS_ECONFIG;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c >= 0x7f) {
            snprintf(err, err_len, "bad server '%s': the host name has a space or a control character",
                     arg);
            return PVS_ECONFIG;
        }
    }
    *port = PVS_CONTROL_DEFAULT_PORT;
    if (colon) {
        char *end;
        const char *p = colon + 1;
        long v = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
        if (v < 1 || v > 65535 || *end) {
            snprintf(err, err_len, "bad port '%s' in '%s': expected 1..65535", p, arg);
            return PVS_ECONFIG;
        }
        *port = (uint16_t)v;
    }
    return 0;
}

int pvs_client_opts_parse(struct pvs_client_opts *o, int argc, char **argv, FILE *out,
                          char *err, size_t err_len)
{
    int npos = 0;
    int ret = pvs_config_parse_args(pvs_client_options, o, argc, argv, 1, &npos, err, err_len);
    if (ret == PVS_EAGAIN) {
        usage(out, o);
        return 1;
    }
    if (ret < 0)
        return PVS_ECONFIG;
    if (o->version) {
        fprintf(out, "pvstream-client %s (protocol version %d)\n", PVS_VERSION, PVS_CTL_VERSION);
        return 1;
    }
    if (npos == 0) {
        snprintf(err, err_len, "no server given: pvstream-client HOST[:PORT]");
        return PVS_ECONFIG;
    }
    if (npos > 1) {
        snprintf(err, err_len, "unexpected argument '%s': give one server", argv[2]);
        return PVS_ECONFIG;
    }
    if (pvs_client_split_host(argv[1], o->host, sizeof(o->host), &o->port, err, err_len) < 0)
        return PVS_ECONFIG;
    if (o->record[0] && o->stats_json[0] && !strcmp(o->record, o->stats_json)) {
        snprintf(err, err_len, "--record and --stats-json name the same file '%s'", o->record);
        return PVS_ECONFIG;
    }
    if (o->headless && o->fullscreen) {
        snprintf(err, err_len, "--fullscreen needs a window: drop --headless");
        return PVS_ECONFIG;
    }
    return 0;
}
