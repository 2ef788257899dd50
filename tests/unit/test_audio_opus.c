/* Opus with real libopus: a tone's round trip (frequency within 1 Hz, SNR
 * above a floor), the silence gate against CBR and DTX, concealment and
 * refusal of bad packets, the tone source, and the loss figures of
 * docs/audio.md (printed; the test asserts only what the choice rests on:
 * carrying the previous frame recovers lost frames, Opus's in-band FEC
 * does not under RESTRICTED_LOWDELAY). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audio/analyze.h"
#include "audio/opus.h"
#include "audio/packet.h"
#include "audio/source.h"
#include "common/error.h"
#include "common/platform/platform.h"
#include "tests/unit/test.h"

#define F 240
#define RATE PVS_AUDIO_RATE
/* Measured here (libopus 1.3.1): 43.4 dB for a 1 kHz tone at half scale,
 * 96 kbit/s, 5 ms frames. The floor leaves room for another build. */
#define SNR_FLOOR_DB 35.0

static void tone(int16_t *pcm, size_t first, int n, double hz, double level)
{
    for (int i = 0; i < n; i++) {
        double v = level * 32767 * sin(2 * M_PI * hz * (double)(first + (size_t)i) / RATE);
        pcm[2 * i] = pcm[2 * i + 1] = (int16_t)lrint(v);
    }
}

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void encode_noisy_tone(struct pvs_opus_enc *e, int frames,
                              uint8_t (*packets)[PVS_OPUS_MAX_PACKET], int *lens, double hz,
                              double noise);

/* Encodes `frames` frames of the tone; packets[i] / lens[i]. */
static void encode_tone(struct pvs_opus_enc *e, int frames, uint8_t (*packets)[PVS_OPUS_MAX_PACKET],
                        int *lens, double hz)
{
    encode_noisy_tone(e, frames, packets, lens, hz, 0);
}

/* The same with white noise of up to +/-noise (full scale 1) added. */
static void encode_noisy_tone(struct pvs_opus_enc *e, int frames,
                              uint8_t (*packets)[PVS_OPUS_MAX_PACKET], int *lens, double hz,
                              double noise)
{
    int16_t pcm[F * 2];
    for (int i = 0; i < frames; i++) {
        tone(pcm, (size_t)i * F, F, hz, 0.5);
        for (int k = 0; noise > 0 && k < F * 2; k++)
            pcm[k] = (int16_t)(pcm[k] + (int)((double)(rng() % 65536) / 65536 * 2 * noise * 32767 -
                                               noise * 32767));
        lens[i] = pvs_opus_encode(e, pcm, packets[i], PVS_OPUS_MAX_PACKET, NULL);
    }
}

#define FRAMES 2000 /* 10 s */
static uint8_t packets[FRAMES][PVS_OPUS_MAX_PACKET];
static int lens[FRAMES];
static int16_t out[FRAMES * F * 2];
static int16_t ref[FRAMES * F * 2];

static void test_round_trip(void)
{
    struct pvs_opus_enc *e;
    struct pvs_opus_dec *d;
    CHECK_INT(pvs_opus_enc_open(&e, NULL), ==, 0);
    CHECK_INT(pvs_opus_dec_open(&d, F), ==, 0);
    int frames = 200; /* 1 s */
    encode_tone(e, frames, packets, lens, 1000);
    for (int i = 0; i < frames; i++) {
        CHECK_INT(lens[i], ==, 96000 / 8 * F / RATE); /* CBR: 60 bytes */
        CHECK_INT(pvs_opus_decode(d, packets[i], (size_t)lens[i], out + (size_t)i * F * 2), ==, 0);
    }
    size_t skip = 10 * F; /* the start, while the codec settles */
    size_t n = (size_t)frames * F - skip;
    for (int ch = 0; ch < 2; ch++) {
        double hz = pvs_audio_tone_freq(out + skip * 2, n, 2, ch, RATE);
        double snr = pvs_audio_tone_snr(out + skip * 2, n, 2, ch, RATE, hz);
        CHECK_NEAR(hz, 1000, 1);
        CHECK(snr > SNR_FLOOR_DB);
        if (ch == 0)
            printf("round trip: %.3f Hz, SNR %.1f dB (floor %.0f)\n", hz, snr, SNR_FLOOR_DB);
    }
    /* Another frequency, to show the estimate is not stuck on 1 kHz. */
    encode_tone(e, frames, packets, lens, 440);
    for (int i = 0; i < frames; i++)
        pvs_opus_decode(d, packets[i], (size_t)lens[i], out + (size_t)i * F * 2);
    CHECK_NEAR(pvs_audio_tone_freq(out + skip * 2, n, 2, 0, RATE), 440, 1);
    pvs_opus_enc_close(&e);
    pvs_opus_dec_close(&d);
    pvs_opus_enc_close(&e);
    pvs_opus_dec_close(NULL);
}

static void test_settings(void)
{
    struct pvs_opus_enc *e = (void *)1;
    struct pvs_opus_config c = {.bitrate = 1000};
    CHECK_INT(pvs_opus_enc_open(&e, &c), ==, PVS_EINVAL);
    CHECK(e == NULL);
    c = (struct pvs_opus_config){.frame_samples = 100};
    CHECK_INT(pvs_opus_enc_open(&e, &c), ==, PVS_EINVAL);
    c = (struct pvs_opus_config){.frame_samples = 480, .bitrate = 64000, .complexity = -1};
    CHECK_INT(pvs_opus_enc_open(&e, &c), ==, 0);
    int16_t pcm[480 * 2];
    uint8_t pkt[PVS_OPUS_MAX_PACKET];
    tone(pcm, 0, 480, 1000, 0.5);
    CHECK_INT(pvs_opus_encode(e, pcm, pkt, sizeof(pkt), NULL), ==, 64000 / 8 / 100);
    CHECK_INT(pvs_opus_enc_set_bitrate(e, 128000), ==, 0);
    CHECK_INT(pvs_opus_encode(e, pcm, pkt, sizeof(pkt), NULL), ==, 128000 / 8 / 100);
    CHECK_INT(pvs_opus_enc_set_bitrate(e, 5), ==, PVS_EINVAL);
    pvs_opus_enc_close(&e);
    struct pvs_opus_dec *d;
    CHECK_INT(pvs_opus_dec_open(&d, 100), ==, PVS_EINVAL);
}

/* Bytes per second and packets per second spent on 2 s of digital silence
 * after 100 ms of tone, for each way of handling silence. */
static void silence_cost(enum pvs_opus_silence mode, double *bytes_s, double *pkts_s)
{
    struct pvs_opus_config c = {.silence = mode, .complexity = -1};
    struct pvs_opus_enc *e;
    CHECK_INT(pvs_opus_enc_open(&e, &c), ==, 0);
    int16_t pcm[F * 2];
    uint8_t pkt[PVS_OPUS_MAX_PACKET];
    for (int i = 0; i < 20; i++) {
        tone(pcm, (size_t)i * F, F, 1000, 0.5);
        pvs_opus_encode(e, pcm, pkt, sizeof(pkt), NULL);
    }
    memset(pcm, 0, sizeof(pcm));
    long bytes = 0, pkts = 0;
    for (int i = 0; i < 400; i++) {
        int n = pvs_opus_encode(e, pcm, pkt, sizeof(pkt), NULL);
        CHECK(n >= 0);
        if (n > 0) {
            bytes += n;
            pkts++;
        }
    }
    *bytes_s = bytes / 2.0;
    *pkts_s = pkts / 2.0;
    pvs_opus_enc_close(&e);
}

static void test_silence(void)
{
    double cbr_b, cbr_p, dtx_b, dtx_p, gate_b, gate_p;
    silence_cost(PVS_OPUS_SILENCE_CBR, &cbr_b, &cbr_p);
    silence_cost(PVS_OPUS_SILENCE_DTX, &dtx_b, &dtx_p);
    silence_cost(PVS_OPUS_SILENCE_GATE, &gate_b, &gate_p);
    /* Per packet on the wire besides Opus: RTP 12 + audio header 14 + SRTP
     * tag 16 + UDP/IPv4 28 bytes. */
    printf("silence, bytes/s of Opus (packets/s; with headers, kbit/s): CBR %.0f (%.0f; %.1f), "
           "DTX %.0f (%.0f; %.1f), gate %.0f (%.0f; %.1f)\n",
           cbr_b, cbr_p, (cbr_b + cbr_p * 70) * 8 / 1000, dtx_b, dtx_p,
           (dtx_b + dtx_p * 70) * 8 / 1000, gate_b, gate_p, (gate_b + gate_p * 70) * 8 / 1000);
    CHECK_NEAR(cbr_b, 12000, 1);
    CHECK(dtx_b < cbr_b / 4);
    /* The gate sends the first 20 ms of silence (4 frames), then nothing. */
    CHECK_INT(gate_p * 2, ==, PVS_OPUS_GATE_MS * RATE / 1000 / F);

    /* The flags: silent frames marked, and the first packet after the gate
     * marked as resuming. */
    struct pvs_opus_enc *e;
    CHECK_INT(pvs_opus_enc_open(&e, NULL), ==, 0);
    int16_t pcm[F * 2];
    uint8_t pkt[PVS_OPUS_MAX_PACKET];
    struct pvs_opus_frame_info info;
    tone(pcm, 0, F, 1000, 0.5);
    CHECK(pvs_opus_encode(e, pcm, pkt, sizeof(pkt), &info) > 0);
    CHECK(!info.silent && !info.resumed);
    memset(pcm, 0, sizeof(pcm));
    pcm[7] = 1; /* one bit of dither is still silence */
    int sent = 0;
    for (int i = 0; i < 10; i++) {
        int n = pvs_opus_encode(e, pcm, pkt, sizeof(pkt), &info);
        CHECK(info.silent);
        sent += n > 0;
    }
    CHECK_INT(sent, ==, 4);
    tone(pcm, 0, F, 1000, 0.5);
    CHECK(pvs_opus_encode(e, pcm, pkt, sizeof(pkt), &info) > 0);
    CHECK(!info.silent && info.resumed);
    CHECK(pvs_opus_encode(e, pcm, pkt, sizeof(pkt), &info) > 0);
    CHECK(!info.resumed);
    struct pvs_opus_enc_stats st;
    pvs_opus_enc_get_stats(e, &st);
    CHECK_INT(st.frames, ==, 13);
    CHECK_INT(st.gated, ==, 6);
    CHECK_INT(st.packets, ==, 7);
    pvs_opus_enc_close(&e);
}

static void test_bad_packets(void)
{
    struct pvs_opus_dec *d;
    CHECK_INT(pvs_opus_dec_open(&d, F), ==, 0);
    int16_t pcm[F * 2];
    uint8_t junk[40];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    /* A 20 ms packet (TOC config 31: CELT FB 20 ms) for a 5 ms decoder. */
    junk[0] = 31 << 3;
    memset(pcm, 0x55, sizeof(pcm));
    CHECK_INT(pvs_opus_decode(d, junk, sizeof(junk), pcm), ==, PVS_EBADDATA);
    CHECK(pcm[0] != 0x5555); /* filled anyway */
    CHECK_INT(pvs_opus_decode(d, NULL, 0, pcm), ==, 0);
    uint8_t big[PVS_OPUS_MAX_PACKET + 1] = {29 << 3};
    CHECK_INT(pvs_opus_decode(d, big, sizeof(big), pcm), ==, PVS_EBADDATA);
    pvs_opus_dec_close(&d);
}

/* ---- loss: what each kind of protection recovers ------------------------ */

/* A lost frame counts as recovered when its decoded samples are within
 * 20 dB of the lossless decoding of the same frame. Concealment predicts a
 * steady tone so well that it would pass any bar, so recovery is counted
 * on the tone with noise added (-20 dB), which no prediction can guess;
 * the SNR is that of the plain tone. */
static double frame_snr(const int16_t *got, const int16_t *want)
{
    double s = 0, e = 0;
    for (int i = 0; i < F * 2; i++) {
        s += (double)want[i] * want[i];
        double d = (double)got[i] - want[i];
        e += d * d;
    }
    return e == 0 ? 200 : 10 * log10(s / e);
}

struct loss_result {
    int lost, recovered;
    double snr;
};

/* mode 0: concealment only; 1: Opus in-band FEC (decode_fec from the next
 * packet); 2: the previous frame carried in each packet (audio/packet.h). */
static struct loss_result run_loss_on(const bool *lost, int mode, int loss_perc, double noise)
{
    struct pvs_opus_config c = {.inband_fec = mode == 1, .loss_percent = loss_perc,
                                .complexity = -1, .silence = PVS_OPUS_SILENCE_CBR};
    struct pvs_opus_enc *e;
    struct pvs_opus_dec *d, *dref;
    CHECK_INT(pvs_opus_enc_open(&e, &c), ==, 0);
    CHECK_INT(pvs_opus_dec_open(&d, F), ==, 0);
    CHECK_INT(pvs_opus_dec_open(&dref, F), ==, 0);
    uint32_t saved = rng_state;
    encode_noisy_tone(e, FRAMES, packets, lens, 1000, noise);
    rng_state = saved;
    struct loss_result r = {0};
    for (int i = 0; i < FRAMES; i++) {
        int16_t *o = out + (size_t)i * F * 2;
        pvs_opus_decode(dref, packets[i], (size_t)lens[i], ref + (size_t)i * F * 2);
        if (!lost[i]) {
            pvs_opus_decode(d, packets[i], (size_t)lens[i], o);
            continue;
        }
        r.lost++;
        bool next = i + 1 < FRAMES && !lost[i + 1];
        if (mode == 1 && next)
            pvs_opus_decode_fec(d, packets[i + 1], (size_t)lens[i + 1], o);
        else if (mode == 2 && next)
            pvs_opus_decode(d, packets[i], (size_t)lens[i], o); /* the copy is the same bytes */
        else
            pvs_opus_decode(d, NULL, 0, o);
        if (frame_snr(o, ref + (size_t)i * F * 2) >= 20)
            r.recovered++;
    }
    size_t skip = 10 * F, n = (size_t)FRAMES * F - skip;
    r.snr = pvs_audio_tone_snr(out + skip * 2, n, 2, 0, RATE, 1000);
    pvs_opus_enc_close(&e);
    pvs_opus_dec_close(&d);
    pvs_opus_dec_close(&dref);
    return r;
}

/* Recovery counted on the noisy tone, SNR measured on the plain one. */
static struct loss_result run_loss(const bool *lost, int mode, int loss_perc)
{
    struct loss_result noisy = run_loss_on(lost, mode, loss_perc, 0.05);
    struct loss_result plain = run_loss_on(lost, mode, loss_perc, 0);
    plain.recovered = noisy.recovered;
    return plain;
}

static void test_loss(void)
{
    static bool lost[FRAMES];
    rng_state = 777;
    int nlost = 0;
    for (int i = 0; i < FRAMES; i++) {
        lost[i] = i >= 10 && rng() % 100 < 5;
        nlost += lost[i];
    }
    struct loss_result none = run_loss(lost, 0, 0);
    struct loss_result fec5 = run_loss(lost, 1, 5);
    struct loss_result fec10 = run_loss(lost, 1, 10);
    struct loss_result red = run_loss(lost, 2, 0);
    struct loss_result clean = run_loss((bool[FRAMES]){0}, 0, 0);
    /* Reed-Solomon, k data packets + 1 parity: a block is whole again when
     * at most one of its k + 1 packets is lost (the code is MDS). The
     * parity packets are lost at the same rate. */
    int rs_rec[2] = {0}, ks[2] = {4, 2};
    for (int v = 0; v < 2; v++) {
        int k = ks[v];
        uint32_t saved = rng_state;
        for (int b = 0; b < FRAMES / k; b++) {
            int miss = 0;
            for (int i = 0; i < k; i++)
                miss += lost[b * k + i];
            bool parity_lost = rng() % 100 < 5;
            if (miss == 1 && !parity_lost)
                rs_rec[v] += 1;
        }
        rng_state = saved;
    }
    printf("5 %% loss, %d of %d frames lost (5 ms, 96 kbit/s, 1 kHz tone):\n", nlost, FRAMES);
    printf("  no protection:        %4d recovered (%5.1f %%), SNR %.1f dB\n", none.recovered,
           100.0 * none.recovered / nlost, none.snr);
    printf("  in-band FEC, loss 5:  %4d recovered (%5.1f %%), SNR %.1f dB\n", fec5.recovered,
           100.0 * fec5.recovered / nlost, fec5.snr);
    printf("  in-band FEC, loss 10: %4d recovered (%5.1f %%), SNR %.1f dB\n", fec10.recovered,
           100.0 * fec10.recovered / nlost, fec10.snr);
    printf("  previous frame again: %4d recovered (%5.1f %%), SNR %.1f dB (+100 %% bytes, waits 1 frame)\n",
           red.recovered, 100.0 * red.recovered / nlost, red.snr);
    printf("  RS 4+1:               %4d recovered (%5.1f %%) (+25 %% packets, waits up to 4 frames)\n",
           rs_rec[0], 100.0 * rs_rec[0] / nlost);
    printf("  RS 2+1:               %4d recovered (%5.1f %%) (+50 %% packets, waits up to 2 frames)\n",
           rs_rec[1], 100.0 * rs_rec[1] / nlost);
    printf("  no loss: SNR %.1f dB\n", clean.snr);
    CHECK(nlost > 60 && nlost < 140);
    /* The choice: the carried frame recovers every loss whose next packet
     * came (about 95 %), bit-exact. */
    CHECK(red.recovered >= nlost * 85 / 100);
    CHECK(red.snr > none.snr + 3);
    /* CELT has no in-band FEC: no better than concealment. */
    CHECK(fec10.recovered <= none.recovered + nlost / 20);
}

static void test_timing(void)
{
    struct pvs_opus_enc *e;
    struct pvs_opus_dec *d;
    struct pvs_opus_config c = {.complexity = -1, .silence = PVS_OPUS_SILENCE_CBR};
    CHECK_INT(pvs_opus_enc_open(&e, &c), ==, 0);
    CHECK_INT(pvs_opus_dec_open(&d, F), ==, 0);
    int16_t pcm[F * 2], o[F * 2];
    uint8_t pkt[PVS_OPUS_MAX_PACKET];
    int n = 1000;
    int64_t enc_ns = 0, dec_ns = 0;
    for (int i = 0; i < n; i++) {
        tone(pcm, (size_t)i * F, F, 1000, 0.5);
        pcm[0] = (int16_t)(pcm[0] + (int16_t)(rng() % 64)); /* not quite periodic */
        int64_t t0 = pvs_thread_cpu_time_ns();
        int len = pvs_opus_encode(e, pcm, pkt, sizeof(pkt), NULL);
        int64_t t1 = pvs_thread_cpu_time_ns();
        pvs_opus_decode(d, pkt, (size_t)len, o);
        int64_t t2 = pvs_thread_cpu_time_ns();
        enc_ns += t1 - t0;
        dec_ns += t2 - t1;
    }
    printf("per 5 ms frame (CPU time, complexity 10): encode %.1f us, decode %.1f us\n",
           enc_ns / 1e3 / n, dec_ns / 1e3 / n);
    CHECK(enc_ns > 0);
    pvs_opus_enc_close(&e);
    pvs_opus_dec_close(&d);
}

/* ---- the tone source ----------------------------------------------------- */

static void test_tone_source(void)
{
    struct pvs_audio_source *s;
    char why[200];
    struct pvs_audio_opts o = {.tone_hz = 750, .tone_level = 0.25};
    CHECK_INT(pvs_audio_open(&s, "tone", &o, why, sizeof(why)), ==, 0);
    CHECK_INT(s->frame_samples, ==, 240);
    static int16_t got[40 * F * 2];
    int64_t prev = 0;
    uint64_t prev_pos = 0;
    for (int i = 0; i < 40; i++) {
        struct pvs_audio_frame f;
        CHECK_INT(pvs_audio_read(s, &f, 1000), ==, 0);
        CHECK_INT(f.samples, ==, F);
        CHECK(f.capture_ns + 5000000 <= pvs_time_ns()); /* never before it is complete */
        if (i) /* capture times follow the sample positions exactly */
            CHECK_NEAR(f.capture_ns - prev, (double)(f.position - prev_pos) * 1e9 / RATE, 1);
        prev = f.capture_ns;
        prev_pos = f.position;
        memcpy(got + (size_t)i * F * 2, f.pcm, sizeof(int16_t) * F * 2);
        CHECK_INT(f.position, >=, (uint64_t)i * F);
    }
    CHECK_NEAR(pvs_audio_tone_freq(got, 40 * F, 2, 1, RATE), 750, 0.1);
    CHECK(pvs_audio_tone_snr(got, 40 * F, 2, 0, RATE, 750) > 60);
    int peak = 0;
    for (int i = 0; i < 40 * F * 2; i++)
        peak = got[i] > peak ? got[i] : peak;
    CHECK_NEAR(peak, 0.25 * 32767, 2);
    /* A short timeout on a frame not yet due. */
    struct pvs_audio_frame f;
    int rc;
    while ((rc = pvs_audio_read(s, &f, 0)) == 0)
        ;
    CHECK_INT(rc, ==, PVS_ETIMEDOUT);
    pvs_audio_close(&s);
    CHECK(s == NULL);
    pvs_audio_close(&s);

    /* Falling behind: the backlog is bounded, the loss counted. */
    o.max_backlog_ms = 20;
    CHECK_INT(pvs_audio_open(&s, "tone", &o, why, sizeof(why)), ==, 0);
    pvs_sleep_ns(100 * 1000000LL);
    CHECK_INT(pvs_audio_read(s, &f, 100), ==, 0);
    CHECK(pvs_time_ns() - f.capture_ns <= 30 * 1000000LL);
    CHECK(s->stats.dropped >= 60 * RATE / 1000);
    CHECK_INT(f.position, ==, s->stats.dropped);
    pvs_audio_close(&s);

    o = (struct pvs_audio_opts){.frame_samples = 100};
    CHECK_INT(pvs_audio_open(&s, "tone", &o, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK_INT(pvs_audio_open(&s, "nosuch", NULL, why, sizeof(why)), ==, PVS_EINVAL);
    CHECK(strstr(why, "nosuch") != NULL);
    CHECK(pvs_audio_find("tone") != NULL);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_settings);
    RUN(test_silence);
    RUN(test_bad_packets);
    RUN(test_loss);
    RUN(test_timing);
    RUN(test_tone_source);
    TEST_EXIT();
}
