/* pvstream-client: parses the options and wires the session (network and
 * decoding, client/session.h) to a window (client/present.h,
 * client/sdl_input.h) or, with --headless, to the log. */
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <SDL.h>

#include "client/options.h"
#include "client/pair.h"
#include "net/control_msg.h"
#include "net/handshake.h"
#include "client/present.h"
#include "client/sdl_input.h"
#include "client/session.h"
#include "client/stats.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

static volatile sig_atomic_t stop_signal;

static void on_stop(void)
{
    stop_signal = 1;
}

struct app {
    struct pvs_client_opts opt;
    struct pvs_session *session;
    struct pvs_present *present;
    struct pvs_sdl_input input;
    bool overlay;
    char overlay_text[8][128];
    const char *overlay_lines[8];
    int overlay_n;
    int64_t start_us;
    int64_t deadline_us;       /* --seconds: when to stop; 0: not started */
    bool stop;
    int exit_code;
};

static int send_input(void *ctx, const struct pvs_input_event *ev)
{
    struct app *a = ctx;
    return pvs_session_send_input(a->session, ev);
}

static void fmt_ms(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.1f", v);
}

static void build_overlay(struct app *a, const struct pvs_client_second *sec,
                          const struct pvs_session_status *st)
{
    char h[16], n[16], d[16], p[16], g[16];
    fmt_ms(h, sizeof(h), sec->host_ms);
    fmt_ms(n, sizeof(n), sec->network_ms);
    fmt_ms(d, sizeof(d), sec->decode_ms);
    fmt_ms(p, sizeof(p), sec->present_ms);
    fmt_ms(g, sizeof(g), sec->g2g_ms);
    int i = 0;
    snprintf(a->overlay_text[i++], 128, "%s %dx%d  %s", st->codec[0] ? st->codec : "-", st->width,
             st->height, st->decoder);
    snprintf(a->overlay_text[i++], 128, "fps %.1f decoded, %.1f shown  %.2f Mbit/s", sec->fps,
             sec->presented_fps, sec->mbps);
    snprintf(a->overlay_text[i++], 128, "host %s  network %s  decode %s  present %s ms", h, n, d,
             p);
    snprintf(a->overlay_text[i++], 128, "glass to glass %s ms (p50, to shown)", g);
    snprintf(a->overlay_text[i++], 128, "lost %llu (%.1f %%)  fec %llu  replaced %llu",
             (unsigned long long)sec->lost, sec->loss_pct, (unsigned long long)sec->recovered,
             (unsigned long long)sec->replaced);
    pvs_client_stats_format_audio(sec, a->overlay_text[i++], 128);
    pvs_client_stats_format_abr(sec, a->overlay_text[i++], 128);
    if (a->input.grabbed)
        snprintf(a->overlay_text[i++], 128, "input grabbed (ctrl+alt+g releases)");
    a->overlay_n = i;
    for (int k = 0; k < i; k++)
        a->overlay_lines[k] = a->overlay_text[k];
}

/* What to show instead of a picture; NULL when all is well. */
static const char *status_text(const struct app *a, const struct pvs_session_status *st,
                               char *buf, size_t len)
{
    if (st->message[0])
        return st->message;
    switch (st->state) {
    case PVS_SESSION_CONNECTING:
        snprintf(buf, len, "connecting to %.200s:%u...", a->opt.host, (unsigned)a->opt.port);
        return buf;
    case PVS_SESSION_WAITING:
        return "connected; waiting for the stream...";
    case PVS_SESSION_RECONNECTING:
        return "reconnecting...";
    default:
        return NULL;
    }
}

/* --seconds and failures: decides whether to stop, and the exit code. */
static void check_end(struct app *a, const struct pvs_session_status *st, int64_t now)
{
    if (st->state == PVS_SESSION_FAILED) {
        a->stop = true;
        a->exit_code = 1;
        return;
    }
    if (a->opt.seconds <= 0)
        return;
    /* Never connected: give up after the connect timeout, whatever the
     * reason (no answer, busy), with the reason already logged. */
    if (!st->ever_connected &&
        (st->unreachable || now - a->start_us >= (int64_t)a->opt.connect_timeout * 1000000)) {
        if (!st->unreachable)
            PVS_LOG_E("no session with %s:%u within %d s%s%s", a->opt.host, (unsigned)a->opt.port,
                      a->opt.connect_timeout, st->message[0] ? ": " : "", st->message);
        a->stop = true;
        a->exit_code = 1;
        return;
    }
    if (st->ever_connected && a->deadline_us == 0)
        a->deadline_us = now + (int64_t)a->opt.seconds * 1000000;
    if (a->deadline_us && now >= a->deadline_us) {
        a->stop = true;
        struct pvs_client_stats *s = pvs_session_stats_lock(a->session);
        a->exit_code = s->frames_decoded > 0 ? 0 : 1;
        pvs_session_stats_unlock(a->session);
        if (a->exit_code)
            PVS_LOG_E("no frame was decoded in %d s", a->opt.seconds);
    }
}

static void roll(struct app *a, int64_t now, const struct pvs_session_status *st)
{
    struct pvs_client_second sec;
    struct pvs_client_stats *s = pvs_session_stats_lock(a->session);
    pvs_client_stats_roll(s, now, &sec);
    pvs_session_stats_unlock(a->session);
    if (a->opt.headless) {
        if (st->state == PVS_SESSION_STREAMING) {
            char line[256];
            pvs_client_stats_format_second(&sec, line, sizeof(line));
            fprintf(stderr, "%s\n", line);
        }
    } else {
        build_overlay(a, &sec, st);
    }
}

static int run_headless(struct app *a)
{
    int64_t next_roll = pvs_time_us() + 1000000;
    while (!stop_signal && !a->stop) {
        /* 2 ms: the longest a keyframe request or a FEEDBACK that is due
         * waits (10 ms held them up to a frame interval at 60 fps). */
        if (pvs_session_service(a->session, 2) < 0)
            return 1;
        int64_t now = pvs_time_us();
        struct pvs_session_status st;
        pvs_session_get_status(a->session, &st);
        if (now >= next_roll) {
            roll(a, now, &st);
            next_roll += 1000000;
            if (next_roll < now)
                next_roll = now + 1000000;
        }
        check_end(a, &st, now);
    }
    return a->exit_code;
}

static void hotkey(struct app *a, enum pvs_hotkey h)
{
    switch (h) {
    case PVS_HOTKEY_FULLSCREEN:
        pvs_present_toggle_fullscreen(a->present);
        break;
    case PVS_HOTKEY_GRAB:
        pvs_sdl_input_set_grab(&a->input, a->present, !a->input.grabbed);
        PVS_LOG_I("input %s", a->input.grabbed ? "grabbed (Ctrl+Alt+G releases it)" : "released");
        break;
    case PVS_HOTKEY_OVERLAY:
        a->overlay = !a->overlay;
        break;
    case PVS_HOTKEY_QUIT:
        a->stop = true;
        break;
    default:
        break;
    }
}

static int run_window(struct app *a)
{
    int64_t next_roll = pvs_time_us() + 1000000, last_draw = 0;
    uint32_t shown_generation = 0, seen_sessions = 0;
    char last_status[512] = "";
    bool had_picture = false;
    while (!stop_signal && !a->stop) {
        /* 1 ms: the longest a decoded picture waits before it is shown. */
        if (pvs_session_service(a->session, 1) < 0)
            return 1;
        bool redraw = false;
        SDL_Event e;
        while (SDL_PollEvent(&e)) {
            if (e.type == SDL_QUIT) {
                a->stop = true;
                break;
            }
            if (e.type == SDL_WINDOWEVENT && (e.window.event == SDL_WINDOWEVENT_EXPOSED ||
                                              e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED))
                redraw = true;
            hotkey(a, pvs_sdl_input_handle(&a->input, &e, a->present));
            if (e.type == SDL_KEYDOWN)
                redraw |= a->overlay || !a->overlay_n;
        }
        int64_t now = pvs_time_us();
        struct pvs_session_status st;
        pvs_session_get_status(a->session, &st);
        if (st.sessions != seen_sessions) {
            seen_sessions = st.sessions;
            pvs_sdl_input_new_session(&a->input);
        }
        struct pvs_pad_rumble rumble;
        while (pvs_session_take_rumble(a->session, &rumble))
            pvs_sdl_input_rumble(&a->input, &rumble);
        if (st.generation != shown_generation && st.width > 0) {
            shown_generation = st.generation;
            pvs_present_follow_size(a->present, st.width, st.height);
        }
        const struct pvs_picture *pic, *shown = NULL;
        if (pvs_session_take_picture(a->session, &pic) && pic) {
            if (pvs_present_upload(a->present, &pic->img) == 0) {
                redraw = true;
                had_picture = true;
                shown = pic;
            } else {
                pvs_session_picture_unshown(a->session, pic);
            }
        }
        if (now >= next_roll) {
            roll(a, now, &st);
            next_roll = now + 1000000;
            redraw |= a->overlay;
        }
        char buf[256];
        const char *text = status_text(a, &st, buf, sizeof(buf));
        if (st.state == PVS_SESSION_STREAMING && had_picture && !st.message[0])
            text = NULL;
        if (strcmp(text ? text : "", last_status) != 0) {
            snprintf(last_status, sizeof(last_status), "%s", text ? text : "");
            redraw = true;
        }
        /* Without pictures, refresh now and then (the window may have been
         * uncovered without an expose event on some systems). */
        if (redraw || now - last_draw > 500000) {
            int64_t presented = pvs_present_draw(a->present, text, a->overlay_lines,
                                                 a->overlay ? a->overlay_n : 0);
            /* Glass to glass ends here: the picture is on its way to the
             * display (after the refresh with vsync). */
            if (shown)
                pvs_session_picture_presented(a->session, shown, presented);
            last_draw = now;
        }
        check_end(a, &st, now);
    }
    return a->exit_code;
}

/* The mode HELLO asks the server for: --size and --fps, else the display
 * the window opens on (its whole size, not the window's: F11 makes the
 * window full screen at any time, and a picture scaled down looks better
 * than one scaled up). Headless: only what the options say. */
static void display_mode(const struct pvs_client_opts *o, struct pvs_session_config *sc)
{
    int w = o->size[0], h = o->size[1], hz = o->fps;
    if (w || hz)
        sc->display_flags |= PVS_CTL_DISPLAY_USER;
    SDL_DisplayMode dm;
    if (!o->headless && SDL_GetCurrentDisplayMode(0, &dm) == 0) {
        if (!w) {
            w = dm.w;
            h = dm.h;
        }
        if (!hz)
            hz = dm.refresh_rate;
    }
    if (w > 0 && h > 0 && w <= UINT16_MAX && h <= UINT16_MAX) {
        sc->display_width = (uint16_t)w;
        sc->display_height = (uint16_t)h;
    }
    if (hz > 0 && hz <= UINT16_MAX)
        sc->display_hz = (uint16_t)hz;
}

int main(int argc, char **argv)
{
    static struct app app; /* zeroed; large */
    struct app *a = &app;
    char err[512];
    if (argc > 1 && !strcmp(argv[1], "pair"))
        return pvs_client_pair_main(argc - 1, argv + 1);
    pvs_client_opts_default(&a->opt);
    int rc = pvs_client_opts_parse(&a->opt, argc, argv, stdout, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "pvstream-client: %s (see --help)\n", err);
        return 2;
    }

    pvs_on_stop_request(on_stop);

    if (!a->opt.headless) {
        /* Our own SIGINT handling: a clean stop with the summary. */
        SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
        if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_GAMECONTROLLER) != 0) {
            fprintf(stderr, "pvstream-client: cannot open a window: %s (no display? use "
                            "--headless)\n", SDL_GetError());
            return 1;
        }
    }

    struct pvs_static_keys identity;
    uint8_t server_key[32];
    rc = pvs_client_load_pairing(a->opt.host, a->opt.port, &identity, server_key);
    if (rc == PVS_ENOENT) {
        fprintf(stderr, "pvstream-client: not paired with %s:%u: run `pvstream-server pair` there, "
                "then `pvstream-client pair %s:%u` here\n", a->opt.host, (unsigned)a->opt.port,
                a->opt.host, (unsigned)a->opt.port);
        if (!a->opt.headless)
            SDL_Quit();
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "pvstream-client: cannot load the pairing: %s\n", pvs_strerror(rc));
        if (!a->opt.headless)
            SDL_Quit();
        return 1;
    }
    struct pvs_session_config sc = {
        .identity = &identity,
        .server_key = server_key,
        .host = a->opt.host,
        .port = a->opt.port,
        .media_port = (uint16_t)a->opt.media_port,
        .media_announce = (uint16_t)a->opt.media_announce,
        .decoder = a->opt.decoder,
        .losssim = a->opt.losssim,
        .record = a->opt.record,
        .trace = a->opt.trace,
        .want_pictures = !a->opt.headless,
        .no_audio = !a->opt.audio,
        .connect_timeout_ms = a->opt.connect_timeout * 1000,
    };
    display_mode(&a->opt, &sc);
    a->start_us = pvs_time_us();
    rc = pvs_session_open(&a->session, &sc);
    pvs_static_keys_wipe(&identity);
    if (rc < 0) {
        if (!a->opt.headless)
            SDL_Quit();
        return rc == PVS_ECONFIG ? 2 : 1;
    }

    if (a->opt.headless) {
        rc = run_headless(a);
    } else {
        char title[300];
        snprintf(title, sizeof(title), "pvstream - %.200s:%u", a->opt.host, (unsigned)a->opt.port);
        struct pvs_present_config pc = {
            .title = title, .fullscreen = a->opt.fullscreen, .vsync = a->opt.vsync,
            .width = 1280, .height = 720,
        };
        rc = pvs_present_open(&a->present, &pc);
        if (rc == 0) {
            bool vsync = pvs_present_vsync(a->present);
            PVS_LOG_I("window: %s renderer, vsync %s", pvs_present_renderer_name(a->present),
                      vsync ? "on" : a->opt.vsync ? "off (the renderer cannot wait for the "
                                                    "refresh)" : "off");
            struct pvs_client_stats *s = pvs_session_stats_lock(a->session);
            pvs_client_stats_set_window(s, vsync);
            pvs_session_stats_unlock(a->session);
            pvs_sdl_input_init(&a->input, send_input, a);
            a->overlay = a->opt.overlay;
            rc = run_window(a);
            pvs_sdl_input_close(&a->input);
        } else {
            rc = 1;
        }
    }
    if (stop_signal)
        PVS_LOG_I("stopping: asked to (Ctrl+C or a stop signal)");

    pvs_session_bye(a->session);
    struct pvs_client_stats *s = pvs_session_stats_lock(a->session);
    pvs_client_stats_print_summary(s, stderr);
    if (a->opt.stats_json[0] && pvs_client_stats_save_json(s, a->opt.stats_json) < 0 && rc == 0)
        rc = 1;
    pvs_session_stats_unlock(a->session);
    pvs_session_close(&a->session);
    pvs_present_close(&a->present);
    if (!a->opt.headless)
        SDL_Quit();
    return rc;
}
