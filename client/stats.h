/* The client's statistics: per-frame latency by stage, frame counts, the
 * once-a-second figures for the overlay and the headless log line, the
 * summary at exit and the --stats-json file.
 *
 * Stages of one frame, all placed on the client's monotonic clock (the
 * server's capture time is moved there with the clock offset measured by
 * the control channel's PING/PONG: server time t is our time t - offset):
 *   capture         painted -> captured (stamped frames only, server's clock)
 *   host            capture to the encoded packet, the media header's host time
 *   network         frame complete here - (capture + host)
 *   wait            frame complete -> the decoder starts on it (behind the
 *                   frame before it, when both completed in one batch)
 *   decode          the decoder's time for the frame
 *   present         decoded -> SDL_RenderPresent returned (a window only)
 *   glass to glass  painted (or captured) -> presented in a window,
 *                   -> decoded headless
 * Each ends where the next starts, so a frame's stages add up to its glass
 * to glass (docs/latency.md). network and glass to glass need a clock
 * offset: frames that arrive before the first PONG do not count in them,
 * and a stage with no sample is reported as unavailable (null in JSON),
 * never as a number.
 *
 * Not thread-safe: the owner holds a lock around every call. */
#ifndef PVS_CLIENT_STATS_H
#define PVS_CLIENT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/stats.h"

enum pvs_cstage {
    PVS_CSTAGE_CAPTURE,      /* painted -> captured: only frames with a stamp */
    PVS_CSTAGE_HOST,
    PVS_CSTAGE_NETWORK,
    PVS_CSTAGE_WAIT,         /* complete -> decode starts */
    PVS_CSTAGE_DECODE,
    PVS_CSTAGE_PRESENT,      /* decoded -> presented: a window's frames only */
    PVS_CSTAGE_G2G,
    PVS_CSTAGE_COUNT,
};

/* One decoded frame's times. */
struct pvs_client_frame {
    uint64_t capture_us;     /* server's clock, from the media header */
    uint32_t host_us;        /* from the media header */
    int64_t complete_us;     /* our clock: the frame was complete */
    int64_t decoded_us;      /* our clock: the decoder gave the picture */
    int64_t decode_us;       /* time in the decoder, which ended at decoded_us */
    bool have_stamp;         /* the picture carried a frame stamp (docs/stamp.md) */
    uint64_t stamp_us;       /* its time: when it was painted, server's clock */
    bool have_offset;        /* offset_us is measured */
    int64_t offset_us;       /* server's clock - ours */
    size_t bytes;            /* encoded size */
};

/* One frame's figures (us), as a trace line has them: a window keeps it
 * with the picture until the picture is shown, or replaced unseen. */
struct pvs_client_row {
    uint64_t index;          /* decode order, from 1 (the trace's "frame") */
    bool timed;              /* a clock offset: network and origin_us are known */
    bool stamped;            /* capture_us is known (the picture carried a stamp) */
    int64_t capture_us, host_us, network_us, wait_us, decode_us;
    int64_t origin_us;       /* painted (stamped) or captured, on our clock */
    int64_t decoded_us;      /* our clock */
};

/* The server's rate control, from its RATE messages (docs/abr.md). */
struct pvs_client_abr {
    double estimate_bps;     /* the available rate it estimates, on the wire */
    double bitrate_bps;      /* its encoder's bitrate */
    double pace_bps;
    double queue_delay_ms;   /* NAN: not measured yet */
    int fec_percent;
    uint32_t changes;        /* bitrate changes this session */
};

/* One second of it, for the --stats-json time series. */
struct pvs_client_abr_point {
    double t_s;              /* end of the second, from the start of the stats */
    double received_bps;     /* encoded bits of the frames decoded in it */
    struct pvs_client_abr abr;
};

#define PVS_CLIENT_ABR_SERIES_MAX 86400 /* a day of seconds */

struct pvs_client_stats {
    struct pvs_stats total[PVS_CSTAGE_COUNT];
    struct pvs_stats window[PVS_CSTAGE_COUNT];  /* since the last roll */
    uint64_t frames_decoded;
    uint64_t frames_stamped;       /* measured from their stamp, not their capture */
    FILE *trace;                   /* NULL, or per-frame CSV */
    uint64_t frames_lost;          /* dropped or skipped by the reassembly */
    uint64_t keyframe_requests;    /* sent */
    uint64_t decode_errors;
    uint64_t replaced;             /* decoded, then replaced by a newer one before shown */
    uint64_t presented;            /* shown in the window (pvs_client_stats_presented) */
    bool windowed;                 /* glass to glass ends at presentation, not decode */
    bool vsync;                    /* the window's renderer waits for the refresh */
    uint64_t bytes;
    /* the window */
    int64_t win_start_us;
    uint64_t win_frames, win_bytes, win_lost_base, win_replaced_base, win_presented_base;
    uint64_t win_packets_base, win_recovered_base;
    uint64_t packets, packets_recovered;   /* datagrams in, shards rebuilt by FEC */
    /* Audio (client/audio.c feeds it through pvs_client_stats_audio). */
    bool audio_on;                 /* a device is playing the server's sound now */
    uint64_t audio_frames;         /* frames played from a packet (their own or a copy) */
    uint64_t audio_underruns;      /* the jitter buffer found nothing to play */
    uint64_t audio_concealed;      /* frames Opus made up (lost, or late) */
    struct pvs_stats audio_total, audio_window;  /* capture -> heard, ns */
    /* A/V offset, one per second that had both sound and pictures: the
     * window's median audio latency less its median glass to glass. In ns,
     * by sign (early: audio ahead of the picture, stored as -offset), and
     * the absolute value. */
    struct pvs_stats av_late, av_early, av_abs;
    uint64_t av_seconds;           /* +1 per offset taken (the session's
                                      sync watches it) */
    double av_audio_ms, av_video_ms; /* the last one's two medians */
    /* Adaptive bitrate: the latest RATE, and one point per roll once one came. */
    int64_t start_us;
    bool abr_on;
    struct pvs_client_abr abr;
    struct pvs_client_abr_point *abr_series;
    size_t abr_points, abr_cap;
};

/* The figures of one window (about a second). A latency is the window's
 * median in milliseconds, NAN when unavailable. */
struct pvs_client_second {
    double seconds;          /* the window's length */
    double fps;              /* decoded per second */
    double presented_fps;    /* shown per second (0 when headless) */
    double mbps;             /* encoded megabits per second */
    double host_ms, network_ms, wait_ms, decode_ms, present_ms, g2g_ms;
    bool windowed;           /* g2g ends at presentation (else at decode) */
    uint64_t lost;           /* frames lost in the window */
    uint64_t replaced;
    uint64_t recovered;      /* shards rebuilt by FEC in the window */
    double loss_pct;         /* lost / (decoded + lost) in the window */
    bool audio_on;           /* sound is playing */
    double audio_ms;         /* the window's median audio latency; NAN when none */
    double av_offset_ms;     /* audio_ms - g2g_ms (> 0: sound after its picture);
                                NAN when either is missing */
    bool abr_on;             /* the server runs adaptive bitrate */
    struct pvs_client_abr abr;  /* its latest state */
};

/* Allocates (the histograms take about 130 KiB) and resets with the window
 * starting at now_us. Returns NULL when out of memory. */
struct pvs_client_stats *pvs_client_stats_new(int64_t now_us);
void pvs_client_stats_free(struct pvs_client_stats **s);

/* Window mode: from now on glass to glass ends when a picture is
 * presented (pvs_client_stats_presented), not when it is decoded, and the
 * present stage is measured. vsync: the renderer waits for the display's
 * refresh (what SDL reports of the renderer it made). May be called again
 * to correct vsync. */
void pvs_client_stats_set_window(struct pvs_client_stats *s, bool vsync);

/* Counts one decoded frame and fills *row with its figures. Headless, the
 * frame is complete here: glass to glass ends now and its trace line is
 * written. In window mode the frame waits for its picture: the caller
 * keeps *row and passes it to pvs_client_stats_presented, or to
 * pvs_client_stats_unshown when the picture is never shown. row may be
 * NULL headless. */
void pvs_client_stats_frame(struct pvs_client_stats *s, const struct pvs_client_frame *f,
                            struct pvs_client_row *row);

/* Window mode: the picture of `row` was presented at presented_us (our
 * clock, right after SDL_RenderPresent returned): counts it shown, adds
 * the present stage and glass to glass, writes its trace line. */
void pvs_client_stats_presented(struct pvs_client_stats *s, const struct pvs_client_row *row,
                                int64_t presented_us);

/* Window mode: the picture of `row` will never be shown (replaced by a
 * newer one first, or the texture failed): its trace line, without
 * present and glass to glass. */
void pvs_client_stats_unshown(struct pvs_client_stats *s, const struct pvs_client_row *row);

/* From now on, each frame's times go to `trace` as a CSV line (header
 * "frame,capture_ms,host_ms,network_ms,wait_ms,decode_ms,present_ms,
 * glass_to_glass_ms,t_ms"; an unavailable figure is empty; t_ms: decoded,
 * from the start of the stats). Headless a line is written at decode; in a
 * window when the picture is shown or replaced, so lines may come one or
 * two out of decode order there ("frame" is the decode order). The stats
 * own the file and close it. */
void pvs_client_stats_set_trace(struct pvs_client_stats *s, FILE *trace);

/* Audio latency: when a frame captured at capture_us (the server's clock;
 * offset_us = server's clock - ours) will be heard, if its first sample
 * goes to the device in a callback that runs at callback_us (our clock)
 * with ahead_us of sound queued before it (the device's buffer, and the
 * part of this callback's buffer before the frame). Returns true with
 * *latency_us set; false when it cannot be known (capture_us 0 or not a
 * clock's). */
bool pvs_client_audio_latency(uint64_t capture_us, int64_t offset_us, int64_t callback_us,
                              int64_t ahead_us, int64_t *latency_us);

/* Adds the audio figures gathered since the last call: latency samples
 * (ns; NULL: none), frames played, underruns and concealed frames. */
void pvs_client_stats_audio(struct pvs_client_stats *s, const struct pvs_stats *latency,
                            uint64_t frames, uint64_t underruns, uint64_t concealed);

/* A/V sync (docs/audio.md, "Sync"): the jitter buffer's delay added on top
 * of what the network asks for, so that sound is not heard before its
 * picture is shown. Given one second's medians (audio latency and glass
 * to glass, ms; NAN: that second had none, and nothing changes), the
 * video frame interval and the audio frame (the largest step, ms), the
 * extra delay now and the most it may be: returns the new extra delay.
 * Sound early by more than half a video frame: + min(step, early); sound
 * late while some extra delay is held: - min(step, late, extra). Never
 * below 0: video is never held back for sound. */
double pvs_client_av_sync(double audio_ms, double video_ms, double video_frame_ms,
                          double audio_frame_ms, double extra_ms, double max_extra_ms);

/* The signed A/V offset at quantile q over the run (ms; NAN without
 * any). */
double pvs_client_stats_av_quantile(const struct pvs_client_stats *s, double q);

/* The server's newest RATE. */
void pvs_client_stats_abr(struct pvs_client_stats *s, const struct pvs_client_abr *abr);

/* "abr 9.5 Mbit/s (est 11.2) q 3.1 ms fec 20 %" or "abr off", for the
 * line below and the overlay. Returns what snprintf returns. */
int pvs_client_stats_format_abr(const struct pvs_client_second *sec, char *buf, size_t len);

/* Ends the window at now_us: fills *out and starts the next window. */
void pvs_client_stats_roll(struct pvs_client_stats *s, int64_t now_us,
                           struct pvs_client_second *out);

/* "fps 59.9 | 12.3 Mbit/s | host 3.1 net 0.4 decode 2.2 g2g 6.0 ms (to decode) | lost 0
 * (0.0 %) | fec 0 | replaced 0 | audio 23 ms | A/V +6 ms | abr ..." ("audio off"
 * without sound, "abr off" without RATE) with "n/a" for an unavailable
 * figure. In window mode "decode 2.2 present 1.1 g2g 7.1 ms (to shown)".
 * Returns what snprintf returns. */
int pvs_client_stats_format_second(const struct pvs_client_second *sec, char *buf, size_t len);

/* "audio 23 ms", "audio n/a" (nothing heard in the window: silence, or no
 * clock offset yet) or "audio off", and with sound on, " | A/V +6 ms" (the
 * window's A/V offset; "A/V n/a" without one), for the line above and the
 * overlay. Returns what snprintf returns. */
int pvs_client_stats_format_audio(const struct pvs_client_second *sec, char *buf, size_t len);

/* The summary at exit: counts and p50/p95/p99/max per stage. */
void pvs_client_stats_print_summary(const struct pvs_client_stats *s, FILE *out);

/* Writes {"frames_decoded", "frames_lost", "keyframe_requests",
 * "frames_stamped", "frames_presented", "glass_to_glass": {"p50_ms",
 * "p95_ms", "p99_ms", "max_ms", "mean_ms", "frames"}, "stages": {"capture":
 * {...}, "host": {...}, "network": {...}, "wait": {...}, "decode": {...},
 * "present": {...}}, "glass_to_glass_ends" ("present" in window mode, else
 * "decode"), "present_vsync" (true/false in window mode, else null),
 * "audio": {"latency_ms": {"p50", "p99"}, "av_offset_ms":
 * {"p50", "p99"}, "underruns", "concealed"}, "abr": {"estimate_bps",
 * "bitrate_bps", "queue_delay_ms", "fec_percent", "changes", "series": [{"t_s",
 * "received_bps", "estimate_bps", "bitrate_bps", "queue_delay_ms",
 * "fec_percent"}, ...]}} and a newline ("abr" null when the server sent no
 * RATE: --abr off, or an older server); a stage with no
 * sample has null figures and "frames": 0 ("present" headless), and
 * "audio" is null when no audio frame was
 * played. av_offset_ms is over the per-second offsets: p50 signed, p99 of
 * the absolute value.
 * Glass to glass runs from the frame's stamp (when it was painted) where
 * frames carry one, else from its capture; "capture" (painted -> captured)
 * has figures only for stamped frames. Returns 0 or PVS_EIO. */
int pvs_client_stats_write_json(const struct pvs_client_stats *s, FILE *f);
/* The same into a file (replaced). Returns 0 or PVS_EIO (and logs why). */
int pvs_client_stats_save_json(const struct pvs_client_stats *s, const char *path);

#endif
