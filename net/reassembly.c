/* Media packets back into frames (net/reassembly.h, docs/protocol.md
 * "Receiver rules").
 *
 * The frames in flight live in a ring of RING slots, frame number f in slot
 * f % RING; `next` is the oldest frame not yet settled (handed on, skipped or
 * dropped), and every occupied slot holds a frame in [next, next + RING).
 * A slot keeps its buffers from frame to frame and grows them only for a
 * larger frame, so after warm-up a packet costs one copy of its shard and no
 * allocation.
 *
 * Inside a frame, data shards are copied straight to their place in the
 * frame buffer. Parity shards are kept (in a per-slot pool) only while their
 * block still misses data, which needs at most k - 1 of them, so the pool
 * never outgrows the frame. A block is decoded in place the moment any k of
 * its shards are in; later shards of it are counted and ignored.
 *
 * Settling, always in frame order:
 *   - a complete frame is handed on by pop, or skipped (counted) while the
 *     decoder waits for a keyframe after a loss;
 *   - an incomplete frame is dropped at its deadline, first packet +
 *     clamp(2 x frame interval + 4 x jitter, frame interval, 500 ms), or
 *     REORDER_GRACE_US after a later frame's first packet arrived, whichever
 *     comes first: frames are sent one after the other, so by then every
 *     packet of it has been sent, and what is missing was lost (or is
 *     reordered further than a LAN reorders);
 *   - a frame number never seen at all, with later frames in flight (a gap:
 *     every packet of that frame was lost) is dropped REORDER_GRACE_US after
 *     the first packet of the earliest later frame (or at that frame's own
 *     deadline if sooner). Its lost data shards are unknown and not counted
 *     in `lost` (seq_gaps has them);
 *   - a packet RING or more frames ahead of `next` settles the head at once
 *     (its frame is hopeless); a jump of more than JUMP frames, forward or
 *     back (a server restart), settles everything in flight and starts over
 *     at the new number without counting the numbers jumped over.
 * A drop sets want_keyframe and skipping; a keyframe handed on clears both.
 *
 * Counting: frames_complete and frames_recovered count frames handed on;
 * frames_dropped counts incomplete frames and gaps; frames_skipped complete
 * frames not handed on. A packet for a block already recovered counts in
 * `packets` (it arrived and was valid), a shard already in as a duplicate. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/log.h"
#include "net/fec.h"
#include "net/media.h"
#include "net/reassembly.h"

#define RING 16
#define JUMP 1024              /* frames: beyond this, a restart, not a loss */
#define MAX_DEADLINE_US 500000
/* How long after a later frame's first packet an earlier frame's missing
 * packets are given: generous for a LAN, where reordering is rare and
 * sub-millisecond, and short against a frame interval. */
#define REORDER_GRACE_US 3000
#define SEQ_WINDOW 1024        /* sequence numbers remembered behind the newest */
#define SEQ_JUMP 8192          /* a forward jump beyond this is not counted */
#define JITTER_MAX_STEP_US 1000000

struct block {
    uint8_t seen[(PVS_FEC_MAX_SHARDS + 7) / 8]; /* shards in, by index */
    uint32_t stash;        /* first kept parity entry + 1; 0: none */
    uint8_t m;             /* from its first packet; later ones must agree */
    uint8_t have;          /* distinct shards in before it was done */
    uint8_t data_in;       /* of those, data shards */
    uint8_t got;           /* distinct shards in, done or not */
    uint8_t top;           /* highest shard index in + 1 */
    bool m_known;
    bool done;             /* every data shard valid */
};

struct stash {
    uint32_t next;         /* next entry of the same block + 1; 0: none */
    uint8_t row;           /* shard index, k..k+m-1 */
};

enum slot_state { SLOT_EMPTY, SLOT_ACTIVE, SLOT_COMPLETE };

struct slot {
    enum slot_state state;
    uint32_t frame;
    uint32_t len;          /* L */
    uint32_t shards;       /* N */
    uint16_t shard_size;   /* S */
    uint16_t blocks;       /* B */
    uint16_t blocks_done;
    bool keyframe;
    bool recovered;
    uint32_t host_us;
    uint64_t capture_us;
    int64_t first_us, complete_us, deadline_us;
    int64_t last_us;       /* the latest packet in */
    uint32_t packets;      /* distinct packets in */
    uint32_t repaired;     /* data shards rebuilt */

    uint8_t *data;         /* N * S bytes */
    size_t data_cap;
    struct block *block;
    size_t block_cap;      /* entries */
    struct stash *stash;
    size_t stash_cap;      /* entries */
    uint32_t stash_used;
    uint8_t *pool;         /* stash entry j's shard at j * S */
    size_t pool_cap;       /* bytes */
};

struct pvs_reassembly {
    int64_t interval_us;
    size_t max_frame;
    uint32_t ssrc;
    struct pvs_fec *fec;
    struct slot ring[RING];
    int inflight;          /* slots not empty */
    bool started;          /* `next` is set */
    uint32_t next;
    bool skipping;         /* drop complete frames until a keyframe */
    bool want_key;
    bool keyframe_seen;    /* one was handed on since the start */
    int64_t jump_logged_us;  /* the last "frame number jumped" line */

    bool have_transit;
    int64_t last_transit;
    int64_t jitter16;      /* RFC 3550 jitter, times 16 */

    bool seq_started;
    uint16_t max_seq;
    uint64_t seq_seen[SEQ_WINDOW / 64];

    struct pvs_reassembly_stats st;

    struct pvs_frame_arrival arrivals[PVS_REASSEMBLY_ARRIVALS];
    int arrivals_head, arrivals_count;  /* ring: oldest at head */
};

int pvs_reassembly_open(struct pvs_reassembly **out, const struct pvs_reassembly_config *cfg)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!cfg || cfg->fps < 1 || cfg->fps > 1000 || cfg->max_frame > PVS_MEDIA_MAX_FRAME) {
        PVS_LOG_E("reassembly: bad configuration (fps %d: 1..1000; largest frame %zu: "
                  "at most %d bytes)", cfg ? cfg->fps : 0, cfg ? cfg->max_frame : 0,
                  PVS_MEDIA_MAX_FRAME);
        return PVS_EINVAL;
    }
    struct pvs_reassembly *r = calloc(1, sizeof(*r));
    if (!r)
        return PVS_ENOMEM;
    r->interval_us = 1000000 / cfg->fps;
    r->max_frame = cfg->max_frame ? cfg->max_frame : PVS_MEDIA_MAX_FRAME;
    r->ssrc = cfg->ssrc;
    /* Nothing to refer to before the first keyframe. The server starts with
     * one, so no request yet: only a P frame skipped for want of it (a client
     * that joined late, or a lost first keyframe) asks. */
    r->skipping = true;
    int rc = pvs_fec_open(&r->fec);
    if (rc < 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void pvs_reassembly_close(struct pvs_reassembly **pr)
{
    if (!pr || !*pr)
        return;
    struct pvs_reassembly *r = *pr;
    for (int i = 0; i < RING; i++) {
        struct slot *s = &r->ring[i];
        free(s->data);
        free(s->block);
        free(s->stash);
        free(s->pool);
    }
    pvs_fec_close(&r->fec);
    free(r);
    *pr = NULL;
}

/* Grows a buffer whose contents need not survive. */
static int grow(void **buf, size_t *cap, size_t need, size_t unit)
{
    if (need <= *cap)
        return 0;
    void *p = malloc(need * unit);
    if (!p)
        return PVS_ENOMEM;
    free(*buf);
    *buf = p;
    *cap = need;
    return 0;
}

/* Grows a buffer keeping its contents, at least doubling. */
static int grow_keep(void **buf, size_t *cap, size_t need, size_t unit)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap * 2 > need ? *cap * 2 : need;
    void *p = realloc(*buf, n * unit);
    if (!p)
        return PVS_ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static int64_t deadline_span(const struct pvs_reassembly *r)
{
    int64_t span = 2 * r->interval_us + 4 * (r->jitter16 >> 4);
    if (span < r->interval_us)
        span = r->interval_us;
    return span < MAX_DEADLINE_US ? span : MAX_DEADLINE_US;
}

/* RFC 3550, 6.4.1, on frames: transit = arrival of the frame's first packet
 * less its capture time (the clocks' offset cancels in the difference). A
 * step over a second is a clock change, not jitter. */
static void update_jitter(struct pvs_reassembly *r, int64_t now_us, uint64_t capture_us)
{
    int64_t transit = (int64_t)((uint64_t)now_us - capture_us);
    if (r->have_transit) {
        int64_t d = (int64_t)((uint64_t)transit - (uint64_t)r->last_transit);
        if (d >= -JITTER_MAX_STEP_US && d <= JITTER_MAX_STEP_US)
            r->jitter16 += (d < 0 ? -d : d) - ((r->jitter16 + 8) >> 4);
    }
    r->last_transit = transit;
    r->have_transit = true;
}

static bool seq_bit(const struct pvs_reassembly *r, uint16_t seq)
{
    unsigned i = seq % SEQ_WINDOW;
    return r->seq_seen[i / 64] >> (i % 64) & 1;
}

static void seq_set(struct pvs_reassembly *r, uint16_t seq, bool on)
{
    unsigned i = seq % SEQ_WINDOW;
    if (on)
        r->seq_seen[i / 64] |= (uint64_t)1 << (i % 64);
    else
        r->seq_seen[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* seq_gaps: numbers skipped going forward, taken back when one of them
 * arrives late (within SEQ_WINDOW). A start or a large jump marks the whole
 * window seen, so nothing before it is taken back. */
static void track_seq(struct pvs_reassembly *r, uint16_t seq)
{
    int16_t d = (int16_t)(uint16_t)(seq - r->max_seq);
    if (!r->seq_started || d > SEQ_JUMP) {
        r->seq_started = true;
        memset(r->seq_seen, 0xff, sizeof(r->seq_seen));
        r->max_seq = seq;
        return;
    }
    if (d > 0) {
        for (int u = 1; u < d && u < SEQ_WINDOW; u++)
            seq_set(r, (uint16_t)(r->max_seq + u), false);
        seq_set(r, seq, true);
        r->st.seq_gaps += (uint64_t)(d - 1);
        r->max_seq = seq;
    } else if (d < 0 && d > -SEQ_WINDOW && !seq_bit(r, seq)) {
        seq_set(r, seq, true);
        if (r->st.seq_gaps > 0)
            r->st.seq_gaps--;
    }
}

/* Lost packets: below the highest index seen per block (shards go out in
 * index order), or, for a frame dropped, every one its block never got. */
static uint32_t lost_packets(const struct slot *s, bool dropped)
{
    uint32_t lost = 0;
    for (uint16_t b = 0; b < s->blocks; b++) {
        const struct block *bl = &s->block[b];
        uint32_t sent = bl->top;
        if (dropped && bl->m_known)
            sent = (uint32_t)pvs_media_block_k(s->shards, s->blocks, b) + bl->m;
        lost += sent > bl->got ? sent - bl->got : 0;
    }
    return lost;
}

static void record_arrival(struct pvs_reassembly *r, const struct slot *s, bool dropped)
{
    int i = (r->arrivals_head + r->arrivals_count) % PVS_REASSEMBLY_ARRIVALS;
    if (r->arrivals_count == PVS_REASSEMBLY_ARRIVALS)
        r->arrivals_head = (r->arrivals_head + 1) % PVS_REASSEMBLY_ARRIVALS;
    else
        r->arrivals_count++;
    uint32_t lost = lost_packets(s, dropped);
    r->arrivals[i] = (struct pvs_frame_arrival){
        .frame = s->frame, .first_us = s->first_us, .last_us = s->last_us,
        .bytes = s->packets * ((uint32_t)s->shard_size + PVS_MEDIA_OVERHEAD),
        .lost = (uint16_t)(lost > UINT16_MAX ? UINT16_MAX : lost),
        .repaired = (uint16_t)(s->repaired > UINT16_MAX ? UINT16_MAX : s->repaired),
    };
}

bool pvs_reassembly_progress(const struct pvs_reassembly *r, struct pvs_frame_arrival *out)
{
    if (!r || !out || !r->started)
        return false;
    const struct slot *best = NULL;
    for (int i = 0; i < RING; i++) {
        const struct slot *s = &r->ring[i];
        if (s->state == SLOT_ACTIVE && (!best || (int32_t)(s->frame - best->frame) > 0))
            best = s;
    }
    if (!best)
        return false;
    *out = (struct pvs_frame_arrival){
        .frame = best->frame, .first_us = best->first_us, .last_us = best->last_us,
        .bytes = best->packets * ((uint32_t)best->shard_size + PVS_MEDIA_OVERHEAD),
    };
    return true;
}

int pvs_reassembly_take_arrivals(struct pvs_reassembly *r, struct pvs_frame_arrival *out, int max)
{
    if (!r || !out)
        return 0;
    int n = 0;
    for (; n < max && r->arrivals_count > 0; n++) {
        out[n] = r->arrivals[r->arrivals_head];
        r->arrivals_head = (r->arrivals_head + 1) % PVS_REASSEMBLY_ARRIVALS;
        r->arrivals_count--;
    }
    return n;
}

static void release(struct pvs_reassembly *r, struct slot *s)
{
    record_arrival(r, s, s->state == SLOT_ACTIVE);
    s->state = SLOT_EMPTY;
    r->inflight--;
}

/* A keyframe already arriving behind the frame lost: no need to ask for
 * one (a server that saw its link shrink drops the frames it had not
 * sent, and sends one at once: docs/abr.md). If it does not complete,
 * dropping it asks. */
static bool keyframe_behind(const struct pvs_reassembly *r)
{
    for (int i = 0; i < RING; i++) {
        const struct slot *s = &r->ring[i];
        if (s->state != SLOT_EMPTY && s->keyframe && (int32_t)(s->frame - r->next) > 0)
            return true;
    }
    return false;
}

static void lose_reference(struct pvs_reassembly *r)
{
    r->skipping = true;
    if (!keyframe_behind(r))
        r->want_key = true;
}

static void drop_frame(struct pvs_reassembly *r, struct slot *s)
{
    for (uint16_t b = 0; b < s->blocks; b++) {
        const struct block *bl = &s->block[b];
        if (!bl->done)
            r->st.lost += (uint64_t)(pvs_media_block_k(s->shards, s->blocks, b) - bl->data_in);
    }
    r->st.frames_dropped++;
    lose_reference(r);
    release(r, s);
}

/* The earliest deadline of the frames in flight: when a gap at the head is
 * given up. INT64_MAX when none is in flight. */
static int64_t gap_due(const struct pvs_reassembly *r)
{
    int64_t due = INT64_MAX;
    for (int i = 0; i < RING; i++) {
        const struct slot *o = &r->ring[i];
        if (o->state == SLOT_EMPTY)
            continue;
        /* Frames in flight are all later than the gap: its packets were
         * sent before their first ones arrived (see start_frame). */
        int64_t d = o->first_us + REORDER_GRACE_US;
        if (o->deadline_us < d)
            d = o->deadline_us;
        if (d < due)
            due = d;
    }
    return due;
}

/* Settles the head while it can be: skipped complete frames, incomplete
 * ones and gaps past their deadline. `force` settles an incomplete head or
 * gap at once. Stops at a frame pop can hand on, or at one still waiting.
 * Returns true when the head advanced. */
static bool settle_head(struct pvs_reassembly *r, int64_t now_us, bool force)
{
    struct slot *s = &r->ring[r->next % RING];
    if (s->state == SLOT_COMPLETE) {
        if (!r->skipping || s->keyframe)
            return false;
        r->st.frames_skipped++;
        if (!r->keyframe_seen)
            r->want_key = true;
        release(r, s);
    } else if (s->state == SLOT_ACTIVE) {
        if (!force && now_us < s->deadline_us)
            return false;
        drop_frame(r, s);
    } else {
        if (r->inflight == 0 || (!force && now_us < gap_due(r)))
            return false;
        r->st.frames_dropped++;
        lose_reference(r);
    }
    r->next++;
    return true;
}

static void settle(struct pvs_reassembly *r, int64_t now_us)
{
    /* Each turn empties the head; gaps need a frame in flight behind them,
     * so this ends within RING turns of the last one. */
    while (r->started && r->inflight > 0 && settle_head(r, now_us, false))
        ;
}

/* Everything in flight settled without waiting, then `next` moved to f. */
static void start_over(struct pvs_reassembly *r, int64_t now_us, uint32_t f)
{
    for (int i = 0; i < RING; i++) {
        struct slot *s = &r->ring[i];
        if (s->state == SLOT_ACTIVE)
            drop_frame(r, s);
        else if (s->state == SLOT_COMPLETE) {
            r->st.frames_skipped++;
            release(r, s);
        }
    }
    /* At most a line a second, whatever the packets say. */
    if (r->jump_logged_us == 0 || now_us - r->jump_logged_us >= 1000000) {
        PVS_LOG_I("reassembly: frame number jumped from %u to %u (server restarted?): "
                  "starting over at the next keyframe", r->next, f);
        r->jump_logged_us = now_us ? now_us : 1;
    }
    lose_reference(r);
    r->have_transit = false;
    r->next = f;
}

/* Makes room for frame f, RING or more ahead of `next`. Returns false when
 * a frame that pop would hand on is in the way (the caller has not popped). */
static bool make_room(struct pvs_reassembly *r, int64_t now_us, uint32_t f)
{
    uint32_t ahead = f - r->next;
    if (ahead > JUMP) {
        start_over(r, now_us, f);
        return true;
    }
    /* Frames RING behind the newest one are hopeless: settle without
     * waiting for their deadlines. */
    while ((uint32_t)(f - r->next) >= RING) {
        if (r->inflight == 0) {
            /* Only numbers never seen are left between: all lost. */
            r->st.frames_dropped += f - r->next - (RING - 1);
            lose_reference(r);
            r->next = f - (RING - 1);
            break;
        }
        if (!settle_head(r, now_us, true))
            return false;
    }
    return true;
}

static int start_frame(struct pvs_reassembly *r, struct slot *s, const struct pvs_media_header *h,
                       int64_t now_us)
{
    uint32_t n = (h->frame_len - 1) / h->shard_size + 1;
    if (grow((void **)&s->data, &s->data_cap, (size_t)n * h->shard_size, 1) < 0 ||
        grow((void **)&s->block, &s->block_cap, h->blocks, sizeof(struct block)) < 0) {
        PVS_LOG_E("reassembly: out of memory for a frame of %u bytes", h->frame_len);
        return PVS_ENOMEM;
    }
    memset(s->block, 0, (size_t)h->blocks * sizeof(struct block));
    s->frame = h->frame;
    s->len = h->frame_len;
    s->shards = n;
    s->shard_size = h->shard_size;
    s->blocks = h->blocks;
    s->blocks_done = 0;
    s->keyframe = h->flags & PVS_MEDIA_FLAG_KEYFRAME;
    s->recovered = false;
    s->host_us = h->host_us;
    s->capture_us = h->capture_us;
    s->first_us = now_us;
    s->last_us = now_us;
    s->packets = 0;
    s->repaired = 0;
    s->complete_us = 0;
    s->stash_used = 0;
    update_jitter(r, now_us, h->capture_us);
    s->deadline_us = now_us + deadline_span(r);
    s->state = SLOT_ACTIVE;
    r->inflight++;
    /* The sender sends frames one after the other: every packet of an
     * earlier frame left before this one's first. What of them is still
     * missing a reordering grace from now is lost, so a frame that cannot
     * complete is settled then, not a whole deadline later, and the
     * keyframe request goes out a frame interval sooner. */
    for (int i = 0; i < RING; i++) {
        struct slot *o = &r->ring[i];
        if (o->state == SLOT_ACTIVE && (int32_t)(o->frame - h->frame) < 0 &&
            o->deadline_us > now_us + REORDER_GRACE_US)
            o->deadline_us = now_us + REORDER_GRACE_US;
    }
    return 0;
}

/* Block b has k shards in: rebuild its missing data shards in place. */
static void finish_block(struct pvs_reassembly *r, struct slot *s, uint16_t b, int k,
                         int64_t now_us)
{
    struct block *bl = &s->block[b];
    if (bl->data_in < k) {
        uint8_t *ptr[PVS_FEC_MAX_SHARDS];
        bool present[PVS_FEC_MAX_SHARDS];
        size_t S = s->shard_size;
        uint8_t *base = s->data + (size_t)pvs_media_block_first(s->shards, s->blocks, b) * S;
        for (int j = 0; j < k; j++) {
            ptr[j] = base + (size_t)j * S;
            present[j] = bl->seen[j / 8] >> (j % 8) & 1;
        }
        for (int j = k; j < k + bl->m; j++) {
            ptr[j] = NULL;
            present[j] = false;
        }
        for (uint32_t e = bl->stash; e; e = s->stash[e - 1].next) {
            int row = s->stash[e - 1].row;
            ptr[row] = s->pool + (size_t)(e - 1) * S;
            present[row] = true;
        }
        int rc = pvs_fec_decode(r->fec, k, bl->m, S, ptr, present);
        if (rc < 0) {
            /* Only memory can fail here; the frame goes at its deadline. */
            PVS_LOG_E("reassembly: FEC decode failed: %s", pvs_strerror(rc));
            return;
        }
        r->st.recovered += (uint64_t)(k - bl->data_in);
        s->repaired += (uint32_t)(k - bl->data_in);
        s->recovered = true;
    }
    bl->done = true;
    if (++s->blocks_done == s->blocks) {
        s->state = SLOT_COMPLETE;
        s->complete_us = now_us;
    }
}

static int malformed(struct pvs_reassembly *r)
{
    r->st.malformed++;
    return PVS_EBADDATA;
}

int pvs_reassembly_push(struct pvs_reassembly *r, const uint8_t *pkt, size_t len,
                        int64_t now_us)
{
    if (!r)
        return PVS_EINVAL;
    struct pvs_rtp_header rtp;
    struct pvs_media_header h;
    if (pvs_media_parse(pkt, len, &rtp, &h) < 0 || (r->ssrc && rtp.ssrc != r->ssrc) ||
        h.frame_len > r->max_frame)
        return malformed(r);
    /* The layout: B blocks of N shards must fit k <= 255, and this packet's
     * k must be its block's. */
    uint32_t n = (h.frame_len - 1) / h.shard_size + 1;
    if ((n - 1) / h.blocks + 1 > PVS_FEC_MAX_SHARDS ||
        pvs_media_block_k(n, h.blocks, h.block) != h.k)
        return malformed(r);
    track_seq(r, rtp.seq);

    settle(r, now_us);
    if (!r->started) {
        r->started = true;
        r->next = h.frame;
    }
    int32_t d = (int32_t)(h.frame - r->next);
    if (d < 0 && d >= -JUMP) {
        r->st.late++;
        return PVS_EBADDATA;
    }
    if (d < 0)
        start_over(r, now_us, h.frame);
    else if (d >= RING && !make_room(r, now_us, h.frame)) {
        r->st.late++; /* cannot be kept until the frames before it are popped */
        return PVS_EBADDATA;
    }

    struct slot *s = &r->ring[h.frame % RING];
    if (s->state == SLOT_EMPTY) {
        int rc = start_frame(r, s, &h, now_us);
        if (rc < 0)
            return rc;
    } else if (s->frame != h.frame || s->len != h.frame_len || s->shard_size != h.shard_size ||
               s->blocks != h.blocks ||
               s->keyframe != !!(h.flags & PVS_MEDIA_FLAG_KEYFRAME)) {
        return malformed(r);
    }

    struct block *bl = &s->block[h.block];
    if (!bl->m_known) {
        bl->m = h.m;
        bl->m_known = true;
    } else if (bl->m != h.m) {
        return malformed(r);
    }
    uint8_t bit = (uint8_t)(1u << (h.shard % 8));
    if (bl->seen[h.shard / 8] & bit) {
        r->st.duplicates++;
        return 0;
    }
    bl->seen[h.shard / 8] |= bit;
    r->st.packets++;
    s->packets++;
    s->last_us = now_us;
    bl->got++;
    if (h.shard >= bl->top)
        bl->top = (uint8_t)(h.shard + 1);
    if (bl->done)
        return 0;

    size_t S = h.shard_size;
    const uint8_t *shard = pkt + PVS_RTP_HEADER_BYTES + PVS_MEDIA_HEADER_BYTES;
    if (h.shard < h.k) {
        uint32_t at = pvs_media_block_first(s->shards, s->blocks, h.block) + h.shard;
        memcpy(s->data + (size_t)at * S, shard, S);
        bl->data_in++;
    } else {
        /* Fewer than k shards are in, so this block holds at most k - 2
         * entries and the frame fewer than N: the pool stays within N * S. */
        uint32_t e = s->stash_used;
        if (grow_keep((void **)&s->stash, &s->stash_cap, (size_t)e + 1, sizeof(struct stash)) < 0 ||
            grow_keep((void **)&s->pool, &s->pool_cap, ((size_t)e + 1) * S, 1) < 0) {
            bl->seen[h.shard / 8] &= (uint8_t)~bit;
            r->st.packets--;
            s->packets--;
            bl->got--;
            PVS_LOG_E("reassembly: out of memory for parity shards");
            return PVS_ENOMEM;
        }
        s->stash[e] = (struct stash){ .next = bl->stash, .row = h.shard };
        bl->stash = e + 1;
        s->stash_used = e + 1;
        memcpy(s->pool + (size_t)e * S, shard, S);
    }
    if (++bl->have == h.k)
        finish_block(r, s, h.block, h.k, now_us);
    return 0;
}

int pvs_reassembly_pop(struct pvs_reassembly *r, int64_t now_us, struct pvs_rframe *out)
{
    if (!r || !out)
        return 0;
    settle(r, now_us);
    if (!r->started)
        return 0;
    struct slot *s = &r->ring[r->next % RING];
    if (s->state != SLOT_COMPLETE)
        return 0;
    /* settle() left it here, so the decoder can take it. */
    *out = (struct pvs_rframe){
        .data = s->data,
        .size = s->len,
        .frame = s->frame,
        .keyframe = s->keyframe,
        .recovered = s->recovered,
        .host_us = s->host_us,
        .capture_us = s->capture_us,
        .first_us = s->first_us,
        .complete_us = s->complete_us,
    };
    if (s->keyframe) {
        r->skipping = false;
        r->want_key = false;
        r->keyframe_seen = true;
    }
    r->st.frames_complete++;
    if (s->recovered)
        r->st.frames_recovered++;
    release(r, s); /* the buffer stays as it is until the next call */
    r->next++;
    return 1;
}

int64_t pvs_reassembly_poll(struct pvs_reassembly *r, int64_t now_us)
{
    if (!r)
        return INT64_MAX;
    settle(r, now_us);
    if (!r->started || r->inflight == 0)
        return INT64_MAX;
    const struct slot *s = &r->ring[r->next % RING];
    if (s->state == SLOT_COMPLETE)
        return now_us;
    if (s->state == SLOT_ACTIVE)
        return s->deadline_us;
    return gap_due(r);
}

bool pvs_reassembly_want_keyframe(struct pvs_reassembly *r)
{
    if (!r)
        return false;
    bool w = r->want_key;
    r->want_key = false;
    return w;
}

void pvs_reassembly_get_stats(const struct pvs_reassembly *r, struct pvs_reassembly_stats *out)
{
    if (!r || !out)
        return;
    *out = r->st;
    out->jitter_us = (uint32_t)(r->jitter16 >> 4);
}
