/* The audio jitter buffer (audio/jitter.h has the rules). Frame numbers
 * are 64-bit and local: frame `play` is the next to be played, and a
 * packet's frame number is play + (its timestamp - play_ts) / F. Transit
 * times use the sender's timestamps extended to 64 bits, independent of
 * where playback is anchored, so re-anchoring keeps the history. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "audio/jitter.h"
#include "audio/opus.h"
#include "audio/packet.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"

#define MS 1000000LL
#define MAX_TRANSITS (PVS_JITTER_WINDOW_MS * PVS_AUDIO_RATE / 1000 / PVS_AUDIO_MIN_FRAME)
#define JITTER_BIN_NS 250000LL  /* the jitter histogram's resolution */
#define JITTER_BINS 512         /* up to 128 ms */
#define JITTER_QUANTILE 0.98
#define TARGET_MARGIN_NS (1 * MS)

struct slot {
    bool full;
    bool recovered;   /* a copy carried by a later packet */
    bool silent;
    int64_t frame;
    uint64_t capture_us;
    uint16_t len;
    uint8_t data[PVS_OPUS_MAX_PACKET];
};

struct pvs_jitter {
    pvs_mutex lock;
    struct pvs_opus_dec *dec;
    int F;
    int64_t frame_ns, min_ns, max_ns, start_ns;
    int64_t cfg_min_ns, cfg_max_ns; /* as opened; min/max_ns follow set_min_delay */

    bool started;
    bool pulled;    /* playback has taken a frame since the last anchor */
    int64_t play;        /* next frame to play */
    uint32_t play_ts;    /* its timestamp */
    int64_t highest;     /* the newest frame held (< play: nothing waiting) */
    bool in_gap;         /* missing frames are silence, not loss */
    int resync_run;      /* out-of-range packets in a row */
    int64_t last_shrink_ns;
    int64_t last_grow_ns;   /* a frame inserted only to reach a raised floor */

    /* The sender's timeline: the newest timestamp seen, extended. */
    uint32_t last_ts;
    int64_t last_ext;

    int64_t transit[MAX_TRANSITS];
    int64_t transit_at[MAX_TRANSITS]; /* its packet's arrival */
    int transit_n, transit_pos, transit_cap;
    int64_t newest_at;   /* the newest arrival: the window ends there */
    int64_t settle_at;   /* the history restarts at the first packet after
                            this (0: done), see PVS_JITTER_SETTLE_MS */
    int64_t transit_min;
    int64_t jitter_ns, target_ns;
    int64_t net_target_ns;  /* the target within the configured bounds */
    bool dirty;

    int64_t pulls[PVS_JITTER_PULL_WINDOW];
    int pull_n, pull_pos;

    uint32_t hist[JITTER_BINS];
    int16_t fade[PVS_AUDIO_MAX_FRAME * PVS_AUDIO_CHANNELS]; /* a dropped frame, decoded */
    struct pvs_jitter_stats st;
    struct slot slots[PVS_JITTER_SLOTS];
};

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Sender time of an extended sample index, in ns. */
static int64_t sample_ns(int64_t ext)
{
    return ext / PVS_AUDIO_RATE * 1000000000LL + ext % PVS_AUDIO_RATE * 1000000000LL / PVS_AUDIO_RATE;
}

static int64_t ext_of(const struct pvs_jitter *j, uint32_t ts)
{
    return j->last_ext + (int32_t)(ts - j->last_ts);
}

int pvs_jitter_open(struct pvs_jitter **out, const struct pvs_jitter_config *cfg)
{
    *out = NULL;
    struct pvs_jitter_config c = {0};
    if (cfg)
        c = *cfg;
    if (!c.frame_samples)
        c.frame_samples = PVS_AUDIO_DEFAULT_FRAME;
    if (!c.min_delay_ms)
        c.min_delay_ms = 5;
    if (!c.max_delay_ms)
        c.max_delay_ms = 60;
    if (!c.start_delay_ms)
        c.start_delay_ms = 10;
    int n = c.frame_samples;
    if (!pvs_audio_frame_ok(n) || c.min_delay_ms < 0 ||
        c.max_delay_ms < c.min_delay_ms || c.max_delay_ms > 1000 || c.start_delay_ms < 0 ||
        (int64_t)c.max_delay_ms * PVS_AUDIO_RATE / 1000 / n >= PVS_JITTER_SLOTS / 2) {
        PVS_LOG_E("jitter buffer: bad settings (%d-sample frames, delay %d..%d ms, start %d ms)",
                  n, c.min_delay_ms, c.max_delay_ms, c.start_delay_ms);
        return PVS_EINVAL;
    }
    struct pvs_jitter *j = calloc(1, sizeof(*j));
    if (!j)
        return PVS_ENOMEM;
    int err = pvs_opus_dec_open(&j->dec, n);
    if (err < 0) {
        free(j);
        return err;
    }
    if (pvs_mutex_init(&j->lock) < 0) {
        pvs_opus_dec_close(&j->dec);
        free(j);
        return PVS_ENOMEM;
    }
    j->F = n;
    j->frame_ns = sample_ns(n);
    j->min_ns = c.min_delay_ms * MS;
    j->max_ns = c.max_delay_ms * MS;
    j->cfg_min_ns = j->min_ns;
    j->cfg_max_ns = j->max_ns;
    j->start_ns = clamp64(c.start_delay_ms * MS, j->min_ns, j->max_ns);
    j->target_ns = j->net_target_ns = j->start_ns;
    j->transit_cap = (int)((int64_t)PVS_JITTER_WINDOW_MS * MS / j->frame_ns);
    if (j->transit_cap > MAX_TRANSITS)
        j->transit_cap = MAX_TRANSITS;
    *out = j;
    return 0;
}

void pvs_jitter_close(struct pvs_jitter **j)
{
    if (!j || !*j)
        return;
    pvs_opus_dec_close(&(*j)->dec);
    pvs_mutex_destroy(&(*j)->lock);
    free(*j);
    *j = NULL;
}

static struct slot *slot_of(struct pvs_jitter *j, int64_t frame)
{
    return &j->slots[(uint64_t)frame % PVS_JITTER_SLOTS];
}

/* Playback moves on by one frame; whatever that frame's slot held goes. */
static void advance(struct pvs_jitter *j)
{
    struct slot *s = slot_of(j, j->play);
    if (s->frame == j->play)
        s->full = false;
    j->play++;
    j->play_ts += (uint32_t)j->F;
}

static void shift_pulls(struct pvs_jitter *j, int64_t by)
{
    for (int i = 0; i < j->pull_n; i++)
        j->pulls[i] += by;
}

/* Starts (or restarts) playback on the timeline of a packet with
 * timestamp ts that arrived at arrival_ns. */
static void anchor(struct pvs_jitter *j, uint32_t ts, int64_t arrival_ns)
{
    for (int i = 0; i < PVS_JITTER_SLOTS; i++)
        j->slots[i].full = false;
    int64_t k = (j->start_ns + j->frame_ns - 1) / j->frame_ns;
    j->started = true;
    j->play = 0;
    j->play_ts = ts - (uint32_t)(k * j->F);
    j->highest = -1;
    j->in_gap = true;
    j->resync_run = 0;
    j->last_shrink_ns = arrival_ns;
    j->last_grow_ns = arrival_ns;
    j->last_ts = ts;
    j->last_ext = (int64_t)ts;
    j->pulled = false;
    j->transit_n = j->transit_pos = 0;
    j->settle_at = arrival_ns + PVS_JITTER_SETTLE_MS * MS;
    if (!j->settle_at)
        j->settle_at = 1;
    j->pull_n = j->pull_pos = 0;
    j->target_ns = j->net_target_ns = j->start_ns;
    j->dirty = true;
}

static void add_transit(struct pvs_jitter *j, int64_t t, int64_t at)
{
    if (j->settle_at && at >= j->settle_at) {
        /* What came before was the start's backlog: forget it. */
        j->transit_n = j->transit_pos = 0;
        j->settle_at = 0;
    }
    if (at > j->newest_at || !j->transit_n)
        j->newest_at = at;
    j->transit_at[j->transit_pos] = at;
    j->transit[j->transit_pos] = t;
    j->transit_pos = (j->transit_pos + 1) % j->transit_cap;
    if (j->transit_n < j->transit_cap)
        j->transit_n++;
    j->dirty = true;
}

/* The least transit, the jitter and the target, from the window. */
static void update_target(struct pvs_jitter *j)
{
    if (!j->dirty || !j->transit_n)
        return;
    j->dirty = false;
    /* The window: packets that arrived in the last PVS_JITTER_WINDOW_MS
     * (by time, not by count: the sender's silence gate sends nothing for
     * much of the time). The newest is always in it. */
    int64_t since = j->newest_at - PVS_JITTER_WINDOW_MS * MS;
    int64_t lo = INT64_MAX;
    uint32_t n = 0;
    for (int i = 0; i < j->transit_n; i++)
        if (j->transit_at[i] >= since && j->transit[i] < lo)
            lo = j->transit[i];
    memset(j->hist, 0, sizeof(j->hist));
    for (int i = 0; i < j->transit_n; i++) {
        if (j->transit_at[i] < since)
            continue;
        int64_t b = (j->transit[i] - lo) / JITTER_BIN_NS;
        j->hist[b >= JITTER_BINS ? JITTER_BINS - 1 : b]++;
        n++;
    }
    uint32_t want = (uint32_t)(JITTER_QUANTILE * n + 0.5), seen = 0;
    int b = 0;
    for (; b < JITTER_BINS - 1; b++) {
        seen += j->hist[b];
        if (seen >= want)
            break;
    }
    j->transit_min = lo;
    j->jitter_ns = (int64_t)b * JITTER_BIN_NS + JITTER_BIN_NS / 2;
    int64_t want_ns = j->jitter_ns + j->frame_ns + TARGET_MARGIN_NS;
    j->target_ns = clamp64(want_ns, j->min_ns, j->max_ns);
    j->net_target_ns = clamp64(want_ns, j->cfg_min_ns, j->cfg_max_ns);
}

static void store(struct slot *s, int64_t frame, const struct pvs_audio_chunk *c,
                  uint64_t capture_us, bool recovered, bool silent)
{
    s->full = true;
    s->recovered = recovered;
    s->silent = silent;
    s->frame = frame;
    s->capture_us = capture_us;
    s->len = c->len;
    memcpy(s->data, c->data, c->len);
}

int pvs_jitter_insert(struct pvs_jitter *j, const uint8_t *pkt, size_t len, int64_t arrival_ns)
{
    struct pvs_audio_packet p;
    int err = pvs_audio_packet_parse(pkt, len, &p);
    pvs_mutex_lock(&j->lock);
    if (err < 0 || p.frame_samples != j->F) {
        j->st.malformed++;
        pvs_mutex_unlock(&j->lock);
        return PVS_EBADDATA;
    }
    if (!j->started)
        anchor(j, p.timestamp, arrival_ns);
    int32_t d = (int32_t)(p.timestamp - j->play_ts);
    if (d % j->F) {
        j->st.malformed++;
        pvs_mutex_unlock(&j->lock);
        return PVS_EBADDATA;
    }
    int64_t fn = j->play + d / j->F;
    if (fn < j->play - PVS_JITTER_SLOTS || fn >= j->play + PVS_JITTER_SLOTS) {
        j->st.out_of_range++;
        if (++j->resync_run < PVS_JITTER_RESYNC) {
            pvs_mutex_unlock(&j->lock);
            return 1;
        }
        /* Several in a row: the sender's timeline moved (a restart). */
        j->st.resyncs++;
        anchor(j, p.timestamp, arrival_ns);
        fn = j->play + (int32_t)(p.timestamp - j->play_ts) / j->F;
    }
    j->resync_run = 0;
    /* Until playback takes its first frame, each newer packet (on this
     * timeline) moves the start to it: packets that waited in the socket
     * while the client set up arrive as one burst, and the oldest of them
     * would otherwise start playback a burst's age late. Nothing has been
     * heard yet. */
    if (!j->pulled && fn > j->highest && j->highest >= 0) {
        anchor(j, p.timestamp, arrival_ns);
        fn = j->play + (int32_t)(p.timestamp - j->play_ts) / j->F;
    }

    /* Transit, on the sender's extended timeline. */
    int64_t ext = ext_of(j, p.timestamp);
    if (ext > j->last_ext) {
        j->last_ext = ext;
        j->last_ts = p.timestamp;
    }
    add_transit(j, arrival_ns - sample_ns(ext), arrival_ns);

    if (fn < j->play) {
        j->st.late++;
        pvs_mutex_unlock(&j->lock);
        return 1;
    }

    /* The first packet after a silence, with nothing else waiting: put it
     * on the target delay; nobody hears the silence get longer or shorter. */
    if (p.marker && j->in_gap && j->highest < j->play) {
        update_target(j);
        int64_t late_ns = arrival_ns - sample_ns(ext) - j->transit_min;
        int64_t k = (j->target_ns - late_ns + j->frame_ns - 1) / j->frame_ns;
        if (k < 1)
            k = 1;
        j->play_ts = p.timestamp - (uint32_t)(k * j->F);
        for (int i = 0; i < PVS_JITTER_SLOTS; i++)
            j->slots[i].full = false;
        fn = j->play + k;
        j->pull_n = j->pull_pos = 0;
    }

    uint64_t frame_us = (uint64_t)j->F * 1000000u / PVS_AUDIO_RATE;
    for (int i = 0; i < p.redundant; i++) {
        int64_t back = p.redundant - i;
        int64_t fr = fn - back;
        if (fr < j->play)
            continue;
        struct slot *s = slot_of(j, fr);
        if (s->full && s->frame == fr)
            continue;
        store(s, fr, &p.earlier[i], p.capture_us - (uint64_t)back * frame_us, true, false);
        if (fr > j->highest)
            j->highest = fr;
    }
    struct slot *s = slot_of(j, fn);
    if (s->full && s->frame == fn && !s->recovered) {
        j->st.duplicates++;
        pvs_mutex_unlock(&j->lock);
        return 1;
    }
    store(s, fn, &p.primary, p.capture_us, false, p.flags & PVS_AUDIO_FLAG_SILENT);
    if (fn > j->highest)
        j->highest = fn;
    j->st.packets++;
    pvs_mutex_unlock(&j->lock);
    return 0;
}

static void conceal(struct pvs_jitter *j, int16_t *pcm)
{
    pvs_opus_decode(j->dec, NULL, 0, pcm);
}

/* pcm becomes `from` fading out while pcm fades in, over one frame. */
static void cross_fade(int16_t *pcm, const int16_t *from, int frame)
{
    for (int i = 0; i < frame; i++) {
        int32_t w = (i + 1) * 32768 / (frame + 1);
        for (int c = 0; c < PVS_AUDIO_CHANNELS; c++) {
            size_t k = (size_t)i * PVS_AUDIO_CHANNELS + (size_t)c;
            pcm[k] = (int16_t)((from[k] * (32768 - w) + pcm[k] * w) / 32768);
        }
    }
}

int pvs_jitter_pull(struct pvs_jitter *j, int64_t now_ns, int16_t *pcm,
                    struct pvs_jitter_frame *info)
{
    struct pvs_jitter_frame none;
    if (!info)
        info = &none;
    memset(info, 0, sizeof(*info));
    size_t bytes = (size_t)j->F * PVS_AUDIO_CHANNELS * sizeof(*pcm);
    pvs_mutex_lock(&j->lock);
    if (!j->started) {
        memset(pcm, 0, bytes);
        j->st.silent++;
        pvs_mutex_unlock(&j->lock);
        return 0;
    }
    j->pulled = true;
    update_target(j);
    info->timestamp = j->play_ts;

    /* The delay: how long after the fastest packet this frame is played.
     * The least over recent pulls, as the device takes frames in bursts. */
    int64_t delay = now_ns - sample_ns(ext_of(j, j->play_ts)) - j->transit_min;
    j->pulls[j->pull_pos] = delay;
    j->pull_pos = (j->pull_pos + 1) % PVS_JITTER_PULL_WINDOW;
    if (j->pull_n < PVS_JITTER_PULL_WINDOW)
        j->pull_n++;
    int64_t eff = delay;
    for (int i = 0; i < j->pull_n; i++)
        if (j->pulls[i] < eff)
            eff = j->pulls[i];
    j->st.delay_ms = (double)eff / MS;

    struct slot *s = slot_of(j, j->play);
    bool have = s->full && s->frame == j->play;
    bool fade = false;

    /* Too much delay: drop frames, freely during a silence, else slowly
     * (quickly when far over, as after an outage). */
    if (eff - j->frame_ns >= j->target_ns) {
        if (j->in_gap && !have) {
            while (eff - j->frame_ns >= j->target_ns && !have) {
                advance(j);
                j->st.dropped++;
                eff -= j->frame_ns;
                shift_pulls(j, -j->frame_ns);
                s = slot_of(j, j->play);
                have = s->full && s->frame == j->play;
            }
        } else if (now_ns - j->last_shrink_ns >= PVS_JITTER_SHRINK_MS * MS ||
                   eff - 4 * j->frame_ns >= j->target_ns) {
            /* The frame left out is decoded all the same (or concealed, if
             * lost): the decoder's next frame overlaps with it, and one it
             * never saw is a click. It fades into the frame played. */
            if (!have)
                conceal(j, j->fade);
            else if (pvs_opus_decode(j->dec, s->data, s->len, j->fade) < 0)
                j->st.decode_errors++;
            fade = true;
            advance(j);
            j->st.dropped++;
            j->last_shrink_ns = now_ns;
            shift_pulls(j, -j->frame_ns);
            s = slot_of(j, j->play);
            have = s->full && s->frame == j->play;
            info->timestamp = j->play_ts;
        }
    } else if (eff + j->frame_ns / 2 < j->target_ns && eff + j->frame_ns <= j->max_ns &&
               (eff + j->frame_ns / 2 < j->net_target_ns || (j->in_gap && !have) ||
                now_ns - j->last_grow_ns >= PVS_JITTER_SHRINK_MS * MS)) {
        /* Too little: hold this frame back one tick. At once when the
         * network needs it or nothing is heard; for a raised floor alone
         * (A/V sync), one frame every PVS_JITTER_SHRINK_MS. */
        shift_pulls(j, j->frame_ns);
        if (j->in_gap && !have) {
            memset(pcm, 0, bytes);
            info->kind = PVS_JITTER_SILENCE;
            j->st.silent++;
        } else {
            conceal(j, pcm);
            info->kind = PVS_JITTER_INSERTED;
            j->st.inserted++;
            if (eff + j->frame_ns / 2 >= j->net_target_ns)
                j->last_grow_ns = now_ns;
        }
        pvs_mutex_unlock(&j->lock);
        return 0;
    }

    if (have) {
        if (pvs_opus_decode(j->dec, s->data, s->len, pcm) < 0)
            j->st.decode_errors++;
        info->kind = s->recovered ? PVS_JITTER_RECOVERED : PVS_JITTER_PACKET;
        info->capture_us = s->capture_us;
        if (s->recovered)
            j->st.recovered++;
        else
            j->st.played++;
        j->in_gap = s->silent;
        advance(j);
    } else if (j->in_gap) {
        memset(pcm, 0, bytes);
        info->kind = PVS_JITTER_SILENCE;
        j->st.silent++;
        advance(j);
    } else {
        conceal(j, pcm);
        info->kind = PVS_JITTER_CONCEALED;
        j->st.concealed++;
        if (j->highest < j->play) {
            /* Nothing waiting: an underrun. Hold the position (the packet
             * may only be late), which grows the delay by a frame, up to
             * two frames over the target: a late packet is waited for that
             * long, and a burst of loss does not leave a long delay behind. */
            j->st.underruns++;
            int64_t hold = j->target_ns + 2 * j->frame_ns;
            if (eff + j->frame_ns <= (hold < j->max_ns ? hold : j->max_ns))
                shift_pulls(j, j->frame_ns);
            else
                advance(j);
        } else {
            advance(j);
        }
    }
    if (fade)
        cross_fade(pcm, j->fade, j->F);
    pvs_mutex_unlock(&j->lock);
    return 0;
}

void pvs_jitter_get_stats(struct pvs_jitter *j, struct pvs_jitter_stats *out)
{
    pvs_mutex_lock(&j->lock);
    update_target(j);
    *out = j->st;
    out->jitter_ms = (double)j->jitter_ns / MS;
    out->target_ms = (double)j->target_ns / MS;
    out->min_delay_ms = (double)j->min_ns / MS;
    out->net_target_ms = (double)j->net_target_ns / MS;
    pvs_mutex_unlock(&j->lock);
}

int pvs_jitter_set_min_delay_us(struct pvs_jitter *j, int64_t min_us)
{
    if (min_us < 0)
        return PVS_EINVAL;
    /* The most the slots hold, with room for what arrives ahead. */
    int64_t cap_ns = (PVS_JITTER_SLOTS / 2 - 1) * j->frame_ns;
    int64_t ns = min_us > cap_ns / 1000 ? cap_ns : min_us * 1000;
    pvs_mutex_lock(&j->lock);
    j->min_ns = ns > j->cfg_min_ns ? ns : j->cfg_min_ns;
    j->max_ns = j->min_ns > j->cfg_max_ns ? j->min_ns : j->cfg_max_ns;
    if (j->transit_n) {
        j->dirty = true;
        update_target(j);
    } else {
        j->target_ns = clamp64(j->start_ns, j->min_ns, j->max_ns);
    }
    pvs_mutex_unlock(&j->lock);
    return 0;
}
