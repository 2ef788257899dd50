/* The client's audio jitter buffer: audio packets (audio/packet.h) in, one
 * decoded frame out per playback tick.
 *
 * Packets are placed by their 48 kHz timestamp in a ring of slots; the
 * sequence number is only reported. A frame is played from its own packet;
 * if that was lost, from the copy a later packet carried ("recovered");
 * else Opus conceals it ("concealed"). A pull that finds nothing at all
 * waiting is an underrun: the frame is concealed and the play position
 * holds, so the packet, if it is only late, still plays next time, and the
 * delay has grown by one frame.
 *
 * Delay. Each packet's transit (arrival less its timestamp, on the local
 * clock) is kept for the last PVS_JITTER_WINDOW_MS of arrivals; the jitter
 * is the 98th percentile of transit above the smallest. What arrives in
 * the first PVS_JITTER_SETTLE_MS after playback starts is not kept: the
 * first packets of a stream come in a burst (they waited in the socket
 * while the client set up its decoder and audio device), an old backlog,
 * not network jitter. The target delay is
 *     jitter + one frame (so the next packet, with the copy of a lost
 *     frame, is in time) + 1 ms,
 * clamped to [min_delay_ms, max_delay_ms] (pvs_jitter_set_min_delay_us
 * may raise that floor later, for A/V sync). The delay itself is measured at
 * each pull (now less the frame's timestamp less the smallest transit; the
 * least of the last PVS_JITTER_PULL_WINDOW pulls, as playback takes frames
 * in bursts). Above target by more than a frame, one frame is dropped, at
 * most one every PVS_JITTER_SHRINK_MS (all at once during a silence, where
 * nothing is heard); a frame dropped while sound plays is still decoded,
 * so the decoder's state stays whole, and cross-faded into the next one.
 * Below target, a concealed frame is inserted. The
 * first packet starts playback start_delay_ms after it arrives; until
 * playback has taken its first frame, each newer packet moves that start
 * to itself (the burst of packets that waited in the socket starts from
 * its newest, not a burst's age late). The first packet after a silence
 * (RTP's marker) re-anchors playback on the target at no cost.
 *
 * Untrusted input: a packet that does not parse, has another frame size,
 * or whose timestamp is not a whole number of frames from the stream's is
 * dropped and counted (`malformed`); one too far ahead or behind to place
 * is counted (`out_of_range`) and, after PVS_JITTER_RESYNC of them in a row
 * (the sender restarted), playback restarts on the new timeline.
 *
 * Threading: insert() and pull() may be called from different threads
 * (the receive thread and the audio device's); an internal lock orders
 * them. No allocation after open. */
#ifndef PVS_AUDIO_JITTER_H
#define PVS_AUDIO_JITTER_H

#include <stddef.h>
#include <stdint.h>

#define PVS_JITTER_SLOTS 128       /* frames held: 320 ms at 2.5 ms, 2.56 s at 20 ms */
#define PVS_JITTER_WINDOW_MS 2000
#define PVS_JITTER_PULL_WINDOW 16
#define PVS_JITTER_SHRINK_MS 250
#define PVS_JITTER_RESYNC 4
#define PVS_JITTER_SETTLE_MS 500

struct pvs_jitter_config {
    int frame_samples;    /* per channel: 120, 240, 480, 960; 0 = 240 */
    int min_delay_ms;     /* 0 = 5 */
    int max_delay_ms;     /* 0 = 60 */
    int start_delay_ms;   /* 0 = 10 */
};

enum pvs_jitter_kind {
    PVS_JITTER_SILENCE = 0, /* nothing to play (before the stream, or the
                               sender's silence gate is closed): zeros */
    PVS_JITTER_PACKET,      /* decoded from its own packet */
    PVS_JITTER_RECOVERED,   /* decoded from a copy in a later packet */
    PVS_JITTER_CONCEALED,   /* lost or late: Opus's concealment */
    PVS_JITTER_INSERTED,    /* concealment inserted to grow the delay */
};

struct pvs_jitter_frame {
    enum pvs_jitter_kind kind;
    uint64_t capture_us;  /* the sender's capture time of the frame's first
                             sample (its clock); 0 when no packet gave one */
    uint32_t timestamp;   /* the frame's 48 kHz timestamp */
};

struct pvs_jitter_stats {
    uint64_t packets;       /* accepted */
    uint64_t played;        /* frames played from their own packet */
    uint64_t recovered;     /* frames played from a copy in a later packet */
    uint64_t concealed;     /* frames concealed (lost, or late at an underrun) */
    uint64_t underruns;     /* pulls that found nothing waiting, outside silence */
    uint64_t inserted;      /* concealed frames inserted to grow the delay */
    uint64_t dropped;       /* frames dropped to shrink the delay */
    uint64_t silent;        /* pulls answered with silence */
    uint64_t late;          /* packets whose frame had been played */
    uint64_t duplicates;
    uint64_t malformed;     /* refused by the parser or the checks above */
    uint64_t out_of_range;  /* too far ahead or behind to place */
    uint64_t resyncs;
    uint64_t decode_errors; /* packets Opus refused (concealed instead) */
    double jitter_ms;       /* 98th percentile of transit above the least */
    double target_ms;
    double net_target_ms;   /* the target within the configured bounds: what
                               the network alone asks for */
    double min_delay_ms;    /* the target's floor now (see set_min_delay_us) */
    double delay_ms;        /* the measured delay (see above) */
};

struct pvs_jitter;

/* Returns 0, PVS_EINVAL (bad configuration), PVS_ENOMEM or PVS_EEXTERNAL. */
int pvs_jitter_open(struct pvs_jitter **out, const struct pvs_jitter_config *cfg);
void pvs_jitter_close(struct pvs_jitter **j);

/* Takes one decrypted packet that arrived at arrival_ns (pvs_time_ns()).
 * The bytes are copied. Returns 0 when it was stored, 1 when it was not
 * needed (late, duplicate, or out of range), or PVS_EBADDATA (malformed;
 * counted). */
int pvs_jitter_insert(struct pvs_jitter *j, const uint8_t *pkt, size_t len, int64_t arrival_ns);

/* Produces the next frame (frame_samples * 2 interleaved samples) into pcm,
 * as of now_ns. Always fills pcm; `info` may be NULL. Returns 0. */
int pvs_jitter_pull(struct pvs_jitter *j, int64_t now_ns, int16_t *pcm,
                    struct pvs_jitter_frame *info);

void pvs_jitter_get_stats(struct pvs_jitter *j, struct pvs_jitter_stats *out);

/* Sets the target delay's floor to min_us (A/V sync: audio heard before
 * its picture is shown waits longer). Below the configured min_delay_ms it
 * is that; above the configured max_delay_ms the ceiling rises with it, up
 * to what the slots hold (PVS_JITTER_SLOTS / 2 - 1 frames), where it
 * stops. The delay follows gently: a frame inserted while playback is in a
 * silence, else at most one every PVS_JITTER_SHRINK_MS (concealment, about
 * inaudible at 5 ms); lowering the floor drops frames as the target says
 * (jitter.h above). Thread-safe. Returns 0, or PVS_EINVAL when min_us < 0. */
int pvs_jitter_set_min_delay_us(struct pvs_jitter *j, int64_t min_us);

#endif
