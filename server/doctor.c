/* `pvstream-server doctor`: what works here for streaming, and what to fix.
 * Each check opens the real thing (a capture source and one frame from it,
 * each encoder with a probe frame, the two ports, the input injector) and
 * reports the reason it gives when it fails. */
#include <stdio.h>
#include <string.h>

#include "audio/source.h"
#include "capture/adapters.h"
#include "capture/capture.h"
#include "capture/vdisplay.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "encode/encoder.h"
#include "input/injector.h"
#include "server/audio.h"
#include "server/server.h"

static void line(const char *what, bool ok, const char *detail)
{
    printf("  %-22s %-4s %s\n", what, ok ? "ok" : "--", detail);
    fflush(stdout); /* in order with the log lines on stderr */
}

/* Opens each capture backend and takes one frame. Returns how many work;
 * *w and *h get the size of the first that does. */
static int check_capture(const struct pvs_server_settings *s, int *w, int *h)
{
    printf("capture\n");
    fflush(stdout);
    int works = 0;
    for (int i = 0; pvs_capture_backends[i]; i++) {
        const struct pvs_capture_ops *ops = pvs_capture_backends[i];
        bool x11 = !strcmp(ops->name, "x11");
        bool whole = strcmp(ops->name, "testsrc") != 0; /* a desktop; --size is testsrc's */
        struct pvs_capture_opts co = { .width = whole ? 0 : s->size[0], .height = whole ? 0 : s->size[1],
                                       .fps = 30,
                                       .content = (enum pvs_content)s->content,
                                       .display = s->display[0] ? s->display : NULL };
        struct pvs_capture *cap = NULL;
        char detail[160];
        int err = pvs_capture_open(&cap, ops->name, &co);
        struct pvs_frame f;
        if (!err)
            err = pvs_capture_next(cap, &f, 2000);
        if (!err) {
            snprintf(detail, sizeof(detail), "%s, %dx%d", ops->description, f.img.width, f.img.height);
            if (!works) {
                *w = f.img.width;
                *h = f.img.height;
            }
            works++;
            pvs_capture_release(cap, &f);
        } else if (x11 && err == PVS_ENODEV) {
            snprintf(detail, sizeof(detail), "%s: start an X server or pass --display :N",
                     pvs_strerror(err));
        } else {
            snprintf(detail, sizeof(detail), "%s", pvs_strerror(err));
        }
        pvs_capture_close(&cap);
        line(ops->name, !err, detail);
    }
    return works;
}

static int check_encoders(const struct pvs_server_settings *s, int w, int h)
{
    /* On the device the server would capture on, where there is one. */
    enum pvs_log_level level = pvs_log_get_level();
    pvs_log_set_level(PVS_LOG_WARN);
    struct pvs_capture *cap = pvs_capture_open_gpu(s->output);
    pvs_log_set_level(level);
    printf("encoders (probed at %dx%d, %s)\n", w, h,
           cap ? "on the capture's GPU device" : "from system memory: no GPU capture here");
    fflush(stdout);
    int works = 0;
    for (const struct pvs_encoder_info *i = pvs_encoder_infos; i->name; i++) {
        if (s->codec != PVS_CODEC_COUNT && (int)i->codec != s->codec)
            continue;
        struct pvs_encoder_opts o = { .codec = i->codec, .width = w, .height = h, .fps = 60,
                                      .d3d11_device = cap ? pvs_capture_d3d11_device(cap) : NULL };
        char why[200] = "", detail[240];
        int err = pvs_encoder_probe(i->name, &o, why, sizeof(why));
        snprintf(detail, sizeof(detail), "%s%s%s", err ? "" : i->hardware ? "hardware, " : "software, ",
                 why, !err && cap && strstr(why, "zero-copy") == NULL ? " (not zero-copy)" : "");
        line(i->name, !err, detail);
        works += !err;
    }
    pvs_capture_close(&cap);
    return works;
}

static bool check_port(const struct pvs_server_settings *s, int port, const char *what)
{
    struct pvs_addr a;
    pvs_socket sock = PVS_INVALID_SOCKET;
    char name[32], detail[160];
    snprintf(name, sizeof(name), "UDP %d (%s)", port, what);
    int err = pvs_addr_resolve(&a, s->bind[0] ? s->bind : "0.0.0.0", (uint16_t)port);
    if (!err) {
        /* Quiet: the line below says what happened. */
        enum pvs_log_level level = pvs_log_get_level();
        pvs_log_set_level(PVS_LOG_QUIET);
        err = pvs_udp_open(&sock, &a);
        pvs_log_set_level(level);
    }
    pvs_socket_close(&sock);
    if (!err)
        snprintf(detail, sizeof(detail), "free");
    else
        snprintf(detail, sizeof(detail), "%s: another program (a running pvstream-server?) has "
                 "it; stop it or use --port", pvs_strerror(err));
    line(name, !err, detail);
    return !err;
}

static void check_input(const struct pvs_server_settings *s)
{
    printf("input\n");
    fflush(stdout);
    if (!s->input) {
        line("injection", false, "off (--no-input)");
        return;
    }
    struct pvs_injector *inj = NULL;
    int err = pvs_injector_open(&inj, s->display[0] ? s->display : NULL);
    line("keyboard and mouse", !err, err ? "cannot inject (the log line above says why)" : "works");
    if (!err)
        line("gamepads", pvs_injector_has_gamepads(inj),
             pvs_injector_has_gamepads(inj) ? "works" : "off (the log line above says why)");
    pvs_injector_close(&inj);
}

/* Sound is optional: a source that cannot open is reported, but the
 * server is still ready to stream the picture. */
static void check_audio(const struct pvs_server_settings *s)
{
    printf("audio\n");
    fflush(stdout);
    if (!s->audio) {
        line("sound", false, "off (--no-audio)");
        return;
    }
    struct pvs_audio_opts o = { .frame_samples = pvs_server_audio_frame_samples(s->audio_frame),
                                .device = s->audio_device[0] ? s->audio_device : NULL };
    struct pvs_audio_source *src = NULL;
    char why[256] = "";
    int err = pvs_audio_open(&src, s->audio_source, &o, why, sizeof(why));
    char detail[320];
    if (!err)
        snprintf(detail, sizeof(detail), "%s", src->ops->description);
    else
        snprintf(detail, sizeof(detail), "%s; the picture streams without it",
                 *why ? why : pvs_strerror(err));
    line(s->audio_source, !err, detail);
    pvs_audio_close(&src);
}

/* Whether this is a GPU-PV guest without a display on its GPU, and
 * whether the virtual display driver answers. */
static void check_display(const struct pvs_server_settings *s, const struct pvs_gpu_adapter *list,
                          int n)
{
    const struct pvs_display_ops *ops = pvs_display_system_ops();
    char why[200] = "", detail[sizeof(((struct pvs_gpu_diagnosis *)0)->found) +
                                   sizeof(((struct pvs_gpu_diagnosis *)0)->todo) + 2];
    int err = ops && ops->vdd_open ? ops->vdd_open(NULL, why, sizeof(why)) : PVS_ENODEV;
    if (!err)
        ops->vdd_close(NULL);
    if (s->vdisplay == PVS_VDISPLAY_OFF)
        snprintf(detail, sizeof(detail), "off (--virtual-display off)");
    else if (!err)
        snprintf(detail, sizeof(detail), "SudoVDA answers (--virtual-display %s)",
                 pvs_vdisplay_policy_names[s->vdisplay]);
    else
        snprintf(detail, sizeof(detail), "%s", err == PVS_ENODEV ? "no SudoVDA driver" : why);
    line("virtual display", !err && s->vdisplay != PVS_VDISPLAY_OFF, detail);
    struct pvs_gpu_diagnosis d;
    pvs_gpu_diagnose(list, n, !err && s->vdisplay != PVS_VDISPLAY_OFF, &d);
    snprintf(detail, sizeof(detail), "%s%s%s", d.found, d.todo[0] ? ": " : "", d.todo);
    line("display on the GPU", d.state == PVS_GPU_DISPLAY_OK, detail);
    if (d.state != PVS_GPU_DISPLAY_OK)
        PVS_LOG_W("%s", detail);
}

/* The adapters and outputs, and which output the capture would take (the
 * listing exists on Windows only: elsewhere the section is left out). */
static void check_gpus(const struct pvs_server_settings *s)
{
    struct pvs_gpu_adapter list[PVS_GPU_MAX_ADAPTERS];
    char why[256] = "";
    int n = pvs_gpu_list(list, PVS_GPU_MAX_ADAPTERS, why, sizeof(why));
    if (n == PVS_ENOTSUP)
        return;
    printf("adapters\n");
    if (n < 0) {
        line("DXGI", false, why);
        return;
    }
    struct pvs_gpu_choice c;
    int rc = pvs_gpu_choose(list, n, s->output > 0 ? s->output - 1 : -1, &c);
    int number = 0; /* attached outputs, counted from 1: what --output takes */
    for (int i = 0; i < n; i++) {
        const struct pvs_gpu_adapter *a = &list[i];
        const char *family = pvs_gpu_encoder_family(a);
        char vb[32], detail[320];
        snprintf(detail, sizeof(detail), "%s, LUID %08x:%08x, %llu MiB, encoder %s%s%s",
                 pvs_gpu_vendor_name(a->vendor_id, vb, sizeof(vb)),
                 (unsigned)(a->luid >> 32), (unsigned)a->luid,
                 (unsigned long long)(a->dedicated_video_memory >> 20),
                 family ? family : "none", a->software ? ", software" : "",
                 i == c.encode_adapter ? ", encodes" : "");
        printf("  adapter %d: %s\n", i, a->name);
        line("", family != NULL, detail);
        for (int k = 0; k < a->output_count; k++) {
            const struct pvs_gpu_output *o = &a->outputs[k];
            char what[64];
            if (o->attached)
                snprintf(what, sizeof(what), "  output %d %s", ++number, o->name);
            else
                snprintf(what, sizeof(what), "  (%s)", o->name);
            snprintf(detail, sizeof(detail), "%dx%d at %d,%d%s%s%s", o->width, o->height,
                     o->x, o->y, o->rotation ? ", rotated" : "",
                     o->attached ? "" : ", not on the desktop",
                     i == c.adapter && k == c.output ? ", captured" : "");
            line(what, o->attached, detail);
        }
    }
    if (rc < 0 || c.note[0])
        line("capture and encode", rc == 0 && c.zero_copy, c.note);
    check_display(s, list, n);
}

int pvs_server_doctor(const struct pvs_server_settings *s)
{
    if (pvs_net_init() != 0)
        return 1;
    check_gpus(s);
    int w = s->size[0] ? s->size[0] : 1920, h = s->size[1] ? s->size[1] : 1080;
    int captures = check_capture(s, &w, &h);
    int encoders = check_encoders(s, w, h);
    printf("network\n");
    bool ports = check_port(s, s->port, "control");
    ports &= check_port(s, s->port + 1, "media");
    check_input(s);
    check_audio(s);
    pvs_net_deinit();

    bool ready = captures > 0 && encoders > 0 && ports;
    printf("\n%s\n", ready ? "ready to stream" : "not ready: fix the lines marked -- above");
    if (!encoders)
        printf("no encoder works: install libavcodec with libx264 (apt-get install libavcodec59) "
               "or a GPU driver\n");
    return ready ? 0 : 1;
}
