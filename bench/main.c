/* pvstream-bench: measures encode latency, conversion, capture pacing, and
 * (later) transport and end-to-end latency, for pvstream and for any other
 * pipeline that carries the frame stamp. */
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "pvs_config.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} commands[] = {
    { "encode", pvs_bench_encode, "test desktop -> convert -> encode -> decode, latency per stage" },
    { "convert", pvs_bench_convert, "BGRA -> NV12 / I420 conversion time per frame" },
    { "encoders", pvs_bench_encoders, "every encoder of interest: does it work here, and if not, why" },
    { "capture", pvs_bench_capture, "test desktop pacing and cost at a size and rate" },
    { "fec", pvs_bench_fec, "Reed-Solomon FEC encode and decode time per block" },
    { "net", pvs_bench_net, "media transport over loopback: latency, loss, recovery, CPU" },
    { "link", pvs_bench_link, "UDP relay emulating a link: rate, queue, delay, jitter, loss, on schedules" },
#ifndef _WIN32 /* they start Xvfb, PulseAudio and the programs */
    { "e2e", pvs_bench_e2e, "Xvfb + painter + server + headless client: painted -> decoded latency" },
    { "audio", pvs_bench_audio, "private PulseAudio + server + headless client: audio latency, SNR, loss" },
    { "abr", pvs_bench_abr, "server -> emulated link -> headless client: rate control on and off" },
#endif
    { "stampread", pvs_bench_stampread, "raw frames on stdin: how old each one is, by its stamp" },
#ifndef _WIN32
    { "paint", pvs_bench_paint, "an X11 client painting the test desktop with the stamp (--display)" },
#endif
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pvstream-bench COMMAND [options]   (pvstream %s)\n\ncommands:\n", PVS_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].what);
    fprintf(out, "\n`pvstream-bench COMMAND --help` lists a command's options.\n"
                 "Set PVS_LOG=debug for more detail, PVS_LOG=quiet for less.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("pvstream-bench %s\n", PVS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pvstream-bench: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
