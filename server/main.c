/* pvstream-server: the command line, the configuration file, signals, and
 * the `doctor` subcommand. The work is in server.c. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "audio/packet.h"
#include "capture/adapters.h"
#include "capture/capture.h"
#include "capture/vdisplay.h"
#include "common/codec.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "encode/encoder.h"
#include "input/injector.h"
#include "net/fec.h"
#include "net/media.h"
#include "net/sender.h"
#include "pvs_config.h"
#include "server/audio.h"
#include "server/gamestream.h"
#include "server/server.h"
#include "server/service.h"

static const char *const capture_choices[] = { "auto", "x11", "dxgi", "gdi", "testsrc", NULL };
static const char *const audio_source_choices[] = { "auto", "pulse", "wasapi", "tone", NULL };
static const char *const abr_choices[] = { "off", "on", NULL };
static const char *const allow_choices[] = { "lan", "any", NULL };
/* The codec names of enum pvs_codec, then "auto". */
static const char *const codec_choices[] = {
    [PVS_CODEC_H264] = "h264", [PVS_CODEC_HEVC] = "hevc", [PVS_CODEC_AV1] = "av1",
    [PVS_CODEC_COUNT] = "auto", [PVS_CODEC_COUNT + 1] = NULL,
};

struct cli {
    struct pvs_server_settings s;
    char config[PVS_OPT_STRING_MAX];
};

#define OPT(sec, k, t, field, lo, hi, ch, mv, h) \
    { sec, k, k, t, offsetof(struct pvs_server_settings, field), lo, hi, ch, mv, h }
const struct pvs_option pvs_server_options[] = {
    OPT("capture", "capture", PVS_OPT_STRING, capture, 0, 0, NULL, "auto|x11|dxgi|gdi|testsrc",
        "where frames come from: auto takes the desktop (X display; Windows: Desktop Duplication, "
        "else GDI) when one opens, else the built-in test desktop"),
    OPT("capture", "output", PVS_OPT_INT, output, 0, 64, NULL, "N",
        "dxgi: the output to capture, 1 for the first as `doctor` lists them; 0: the primary "
        "output of an adapter that can encode"),
    OPT("capture", "display", PVS_OPT_STRING, display, 0, 0, NULL, ":N",
        "X display to capture and to inject input into (empty: $DISPLAY)"),
    OPT("capture", "size", PVS_OPT_SIZE, size, 128, 7680, NULL, "WxH",
        "the mode to stream, over the client's (0x0: the client's display or window size); "
        "Windows: set on the captured output or the virtual display; testsrc: its size "
        "(1920x1080 when neither says)"),
    OPT("capture", "virtual-display", PVS_OPT_CHOICE, vdisplay, 0, 0, pvs_vdisplay_policy_names,
        "auto|keep|off",
        "Windows: auto adds a monitor at the client's mode through the SudoVDA driver while a "
        "client is connected, when no GPU that encodes shows the desktop (GPU-PV); keep leaves "
        "it for the next client; off never adds one (the client's mode is then set on the "
        "existing output)"),
    OPT("capture", "content", PVS_OPT_CHOICE, content, 0, 0, pvs_content_names, "KIND",
        "test desktop content (testsrc only)"),
    OPT("encode", "encoder", PVS_OPT_STRING, encoder, 0, 0, NULL, "auto|NAME",
        "encoder: auto probes hardware first, then software; NAME as `pvstream-bench encoders` lists"),
    OPT("encode", "codec", PVS_OPT_CHOICE, codec, 0, 0, codec_choices, "CODEC",
        "auto: the first of h264, hevc, av1 that the client decodes"),
    OPT("encode", "bitrate", PVS_OPT_INT64, bitrate, 0, 2000000000, NULL, "BITS",
        "bits per second (k/M/G suffixes); 0 = 0.15 bit per pixel; with --abr on, the most "
        "the rate control may ask for"),
    OPT("encode", "abr", PVS_OPT_CHOICE, abr, 0, 0, abr_choices, "on|off",
        "adaptive bitrate: follow what the network carries (docs/abr.md); off = a fixed "
        "--bitrate, pacing and FEC"),
    OPT("encode", "min-bitrate", PVS_OPT_INT64, min_bitrate, 0, 2000000000, NULL, "BITS",
        "with --abr on, the least the rate control may ask for; 0 = a fiftieth of --bitrate"),
    OPT("encode", "filler", PVS_OPT_BOOL, filler, 0, 0, NULL, NULL,
        "pad each frame with filler data up to the bitrate (H.264 and HEVC), so that the "
        "stream fills what the rate control asks for whatever the content: for benches "
        "(pvstream-bench abr), never needed to stream"),
    OPT("encode", "trace", PVS_OPT_STRING, trace, 0, 0, NULL, "FILE",
        "write each rate control decision to FILE as CSV"),
    OPT("encode", "fps", PVS_OPT_INT, fps, 0, 240, NULL, "N",
        "frames per second, and the refresh asked for; 0 = the client's refresh where its "
        "mode was set (Windows), else 60"),
    OPT("network", "bind", PVS_OPT_STRING, bind, 0, 0, NULL, "ADDRESS",
        "address to listen on (empty: every IPv4 address)"),
    OPT("network", "port", PVS_OPT_INT, port, 1, 65534, NULL, "N",
        "control port (UDP, ENet); media goes from the next one up"),
    OPT("network", "datagram", PVS_OPT_INT, datagram, PVS_MEDIA_MIN_DATAGRAM, PVS_MEDIA_MAX_DATAGRAM,
        NULL, "BYTES", "largest UDP payload sent (the client may ask for less)"),
    OPT("network", "fec-percent", PVS_OPT_INT, fec_percent, 0, 100, NULL, "PCT",
        "parity shards as a share of data shards"),
    OPT("network", "fec-min", PVS_OPT_INT, fec_min, 0, 16, NULL, "N", "at least this many parity shards per block"),
    OPT("network", "pace", PVS_OPT_INT64, pace, 0, 100000000000LL, NULL, "BITS",
        "pacing rate of a frame's packets, bits per second; 0 = off"),
    OPT("network", "dscp", PVS_OPT_INT, dscp, -1, 63, NULL, "N",
        "DSCP mark on media packets (46: expedited forwarding); -1 = none"),
    OPT("audio", "audio", PVS_OPT_BOOL, audio, 0, 0, NULL, NULL,
        "send the system's sound"),
    OPT("audio", "audio-source", PVS_OPT_STRING, audio_source, 0, 0, NULL, "auto|pulse|wasapi|tone",
        "auto: PulseAudio (Linux) or WASAPI loopback (Windows) when one works, else no audio; "
        "tone: a 1 kHz test tone"),
    OPT("audio", "audio-device", PVS_OPT_STRING, audio_device, 0, 0, NULL, "NAME",
        "the source's device (pulse: a source name; empty: the default sink's monitor)"),
    OPT("audio", "audio-bitrate", PVS_OPT_INT64, audio_bitrate, PVS_OPUS_MIN_BITRATE,
        PVS_OPUS_MAX_BITRATE, NULL, "BITS", "Opus bits per second (k suffix)"),
    OPT("audio", "audio-frame-ms", PVS_OPT_CHOICE, audio_frame, 0, 0,
        pvs_server_audio_frame_choices, "MS", "audio frame length (shorter: less latency, more packets)"),
    OPT("audio", "audio-redundancy", PVS_OPT_INT, audio_redundancy, 0, PVS_AUDIO_MAX_REDUNDANCY,
        NULL, "N", "earlier audio frames each packet carries again, to survive the loss of N in a row"),
    OPT("server", "input", PVS_OPT_BOOL, input, 0, 0, NULL, NULL,
        "inject the client's keyboard, mouse and gamepads (--no-input to refuse them)"),
    OPT("server", "stats-interval", PVS_OPT_INT, stats_interval, 0, 3600, NULL, "S",
        "seconds between statistics lines while streaming; 0 = none"),
    OPT("server", "exit-after", PVS_OPT_INT, exit_after, 0, 86400, NULL, "S",
        "stop after this many seconds; 0 = run until stopped"),
    OPT("gamestream", "gamestream", PVS_OPT_CHOICE, gamestream, 0, 0, abr_choices, "on|off",
        "serve Moonlight clients too (GameStream: pairing with a PIN typed here by "
        "`pvstream-server pin NNNN`)"),
    OPT("gamestream", "gamestream-name", PVS_OPT_STRING, gamestream_name, 0, 0, NULL, "NAME",
        "the name Moonlight shows; empty: this machine's host name"),
    OPT("gamestream", "gamestream-allow", PVS_OPT_CHOICE, gamestream_allow, 0, 0, allow_choices,
        "lan|any", "who may reach the GameStream ports: lan = loopback, private and link-local "
        "addresses (its 4-digit PIN pairing is weak: docs/security.md)"),
    OPT("gamestream", "gamestream-apps", PVS_OPT_STRING, gamestream_apps, 0, 0, NULL, "LIST",
        "more apps in Moonlight's list after Desktop, comma-separated"),
    OPT("gamestream", "gamestream-port", PVS_OPT_INT, gamestream_port, 1024, 65000, NULL, "N",
        "GameStream's HTTP port (HTTPS is 5 below, RTSP 21 above)"),
    { NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

void pvs_server_defaults(struct pvs_server_settings *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->capture, sizeof(s->capture), "auto");
    snprintf(s->encoder, sizeof(s->encoder), "auto");
    s->content = PVS_CONTENT_DESKTOP;
    s->codec = PVS_CODEC_COUNT;
    s->port = PVS_SERVER_DEFAULT_PORT;
    s->gamestream = 1;
    s->gamestream_port = 47989;
    s->datagram = PVS_MEDIA_DEFAULT_DATAGRAM;
    s->fec_percent = PVS_FEC_DEFAULT_PERCENT;
    s->fec_min = PVS_FEC_DEFAULT_MIN_PARITY;
    s->pace = PVS_SENDER_DEFAULT_PACE_BPS;
    s->abr = 1;
    s->dscp = -1;
    s->input = true;
    s->audio = true;
    snprintf(s->audio_source, sizeof(s->audio_source), "auto");
    s->audio_bitrate = PVS_OPUS_DEFAULT_BITRATE;
    s->audio_frame = PVS_SERVER_AUDIO_DEFAULT_FRAME_CHOICE;
    s->audio_redundancy = 1;
    s->stats_interval = 5;
}

static void usage(FILE *out, const struct pvs_server_settings *s)
{
    fprintf(out,
            "usage: pvstream-server [--config FILE] [options]\n"
            "       pvstream-server doctor [options]\n"
            "       pvstream-server pair [--port N]     (a PIN for one client, 2 minutes)\n"
            "       pvstream-server clients             (the paired clients)\n"
            "       pvstream-server unpair NAME\n"
            "       pvstream-server pin NNNN            (the PIN a Moonlight client shows)\n"
            "       pvstream-server service install [--config FILE] | uninstall | start | stop | status\n\n"
            "Streams the desktop (or a built-in test desktop) to one pvstream-client at a\n"
            "time. A second client is told the server is busy. Only paired clients may\n"
            "connect: `pair` shows a PIN to type on the client. Moonlight clients pair\n"
            "too (GameStream, --gamestream): give the PIN they show to `pin`. `doctor`\n"
            "checks capture, encoders, ports and input, and says what to fix.\n\n"
            "`service` (Windows only, from an elevated prompt) installs pvstream as a\n"
            "service that runs as LocalSystem, starts with Windows and is restarted on\n"
            "failure; it runs the server (with FILE's settings) in the session on the\n"
            "console, so the sign-in, lock and UAC screens are streamed too. It logs to\n"
            "%%ProgramData%%\\pvstream\\logs and keeps its key and paired clients in\n"
            "%%ProgramData%%\\pvstream. `service status` exits 0 when it runs, 3 when it\n"
            "does not, 4 when it is not installed.\n\n"
            "options (each also a key in the INI file given with --config; the file's\n"
            "section is the word before the key in pvstream-server.ini):\n"
            "  --config FILE        read settings from FILE first; options given here win\n");
    pvs_config_print_help(pvs_server_options, s, out);
    fprintf(out, "\nStop with Ctrl+C (or SIGTERM). PVS_LOG=debug shows more.\n");
}

static volatile sig_atomic_t stop_flag;

static void on_stop(void)
{
    stop_flag = 1;
}

/* --output N names an output that exists (said now, not when a client
 * comes and capture opens). */
static int check_output(int output)
{
    struct pvs_gpu_adapter list[PVS_GPU_MAX_ADAPTERS];
    char why[256] = "";
    int n = pvs_gpu_list(list, PVS_GPU_MAX_ADAPTERS, why, sizeof(why));
    if (n == PVS_ENOTSUP) {
        fprintf(stderr, "pvstream-server: --output is for Desktop Duplication (Windows); "
                        "on X11 use --display\n");
        return PVS_EINVAL;
    }
    if (n < 0)
        return 0; /* no listing now: capture says why when it opens */
    struct pvs_gpu_choice c;
    if (pvs_gpu_choose(list, n, output - 1, &c) == PVS_ENOENT) {
        fprintf(stderr, "pvstream-server: --output: %s (pvstream-server doctor lists them)\n",
                c.note);
        return PVS_EINVAL;
    }
    return 0;
}

/* The value of --config FILE / --config=FILE, taken out of argv. */
static const char *take_config(int *argc, char **argv)
{
    const char *path = NULL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < *argc) {
            path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return path;
}

int main(int argc, char **argv)
{
    struct pvs_server_settings s;
    pvs_server_defaults(&s);
    if (argc > 1 && !strcmp(argv[1], "service")) {
        if (argc < 3 || strcmp(argv[2], "worker"))
            return pvs_service_command(argc - 2, argv + 2);
        /* The service's worker (server/service.c): the server as usual,
         * logging to a file and stopped by the service's event. */
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
        if (pvs_service_worker_begin(&argc, argv, on_stop) < 0)
            return 1;
    }
    if (argc > 1 && !strcmp(argv[1], "clients")) {
        if (argc != 2) {
            fprintf(stderr, "usage: pvstream-server clients\n");
            return 2;
        }
        int rc = pvs_server_list_clients();
        return pvs_server_gs_list_clients() ? 1 : rc;
    }
    if (argc > 1 && !strcmp(argv[1], "unpair")) {
        if (argc != 3) {
            fprintf(stderr, "usage: pvstream-server unpair NAME   (`pvstream-server clients` lists them)\n");
            return 2;
        }
        /* A Moonlight client's name first: its store has its own names. */
        int err = pvs_server_gs_unpair(argv[2]);
        if (err == 0) {
            printf("Unpaired the Moonlight client '%s': it can no longer connect.\n", argv[2]);
            return 0;
        }
        return pvs_server_unpair(argv[2]);
    }
    if (argc > 1 && !strcmp(argv[1], "pin")) {
        if (argc != 3) {
            fprintf(stderr, "usage: pvstream-server pin NNNN   (the PIN a Moonlight client shows)\n");
            return 2;
        }
        return pvs_server_gs_pin(argv[2]);
    }
    /* Subcommands that take the options (the ports, the display...). */
    const char *sub = argc > 1 && (!strcmp(argv[1], "doctor") || !strcmp(argv[1], "pair"))
                          ? argv[1] : NULL;
    bool doctor = sub && !strcmp(sub, "doctor");
    if (sub) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("pvstream-server %s\n", PVS_VERSION);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--config") && argc == 2) {
        fprintf(stderr, "pvstream-server: --config needs a FILE (see --help)\n");
        return 2;
    }
    const char *config = take_config(&argc, argv);
    char err[512];
    if (config) {
        int rc = pvs_config_load_file(pvs_server_options, &s, config, err, sizeof(err));
        if (rc == PVS_ENOENT) {
            fprintf(stderr, "pvstream-server: cannot read the configuration file '%s'\n", config);
            return 2;
        }
        if (rc < 0) {
            fprintf(stderr, "pvstream-server: %s\n", err);
            return 2;
        }
    }
    int npos = 0;
    int rc = pvs_config_parse_args(pvs_server_options, &s, argc, argv, 1, &npos, err, sizeof(err));
    if (rc == PVS_EAGAIN) {
        usage(stdout, &s);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "pvstream-server: %s (see --help)\n", err);
        return 2;
    }
    if (npos > 0) {
        fprintf(stderr, "pvstream-server: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    bool known = false;
    for (int i = 0; capture_choices[i]; i++)
        known |= !strcmp(s.capture, capture_choices[i]);
    if (!known) {
        fprintf(stderr, "pvstream-server: --capture '%s': one of auto, x11, dxgi, gdi, testsrc\n", s.capture);
        return 2;
    }
    if (s.output > 0 && check_output(s.output) != 0)
        return 2;
    known = false;
    for (int i = 0; audio_source_choices[i]; i++)
        known |= !strcmp(s.audio_source, audio_source_choices[i]);
    if (!known) {
        fprintf(stderr, "pvstream-server: --audio-source '%s': one of auto, pulse, wasapi, tone\n",
                s.audio_source);
        return 2;
    }
    if ((s.size[0] == 0) != (s.size[1] == 0) || (s.size[0] | s.size[1]) & 1) {
        fprintf(stderr, "pvstream-server: --size %dx%d: width and height must be even\n",
                s.size[0], s.size[1]);
        return 2;
    }
    if (strcmp(s.encoder, "auto")) {
        const struct pvs_encoder_info *info = pvs_encoder_info_find(s.encoder);
        if (!info) {
            fprintf(stderr, "pvstream-server: --encoder '%s': unknown encoder "
                    "(`pvstream-bench encoders` lists them)\n", s.encoder);
            return 2;
        }
        if (s.codec != PVS_CODEC_COUNT && s.codec != (int)info->codec) {
            fprintf(stderr, "pvstream-server: --encoder %s encodes %s, not --codec %s\n", s.encoder,
                    pvs_codec_name(info->codec), codec_choices[s.codec]);
            return 2;
        }
        s.codec = (int)info->codec;
    }
    if (doctor)
        return pvs_server_doctor(&s);

    pvs_on_stop_request(on_stop);
    if (sub)
        return pvs_server_pair(&s, &stop_flag);
    struct pvs_static_keys identity;
    char clients[600];
    rc = pvs_server_load_identity(&identity, clients, sizeof(clients));
    if (rc < 0) {
        fprintf(stderr, "pvstream-server: cannot load the server's key: %s\n", pvs_strerror(rc));
        return 1;
    }
    s.identity = &identity;
    s.is_paired = pvs_server_is_paired;
    s.is_paired_ctx = clients;
    rc = pvs_server_run(&s, &stop_flag);
    pvs_static_keys_wipe(&identity);
    if (rc < 0) {
        fprintf(stderr, "pvstream-server: %s\n", pvs_strerror(rc));
        return 1;
    }
    fprintf(stderr, "pvstream-server: stopped\n");
    return 0;
}
