/* SRTP for media packets through libsrtp2, AEAD_AES_128_GCM (RFC 7714):
 * the RTP header authenticated, the rest encrypted, a 16-byte tag appended,
 * replay protection on. One context per direction (docs/protocol.md). */
#ifndef PVS_SRTP_H
#define PVS_SRTP_H

#include <stddef.h>
#include <stdint.h>

#define PVS_SRTP_KEY_BYTES 28 /* master key 16 + salt 12 */

/* A receiver accepts a packet up to this many sequence numbers behind the
 * highest it has seen, once. libsrtp's default is 128; a 4K keyframe is
 * ~1,500 packets sent back to back, so 128 is ~0.2 ms at 10 Gb/s or ~1.5 ms
 * at 1 Gb/s of reordering, and a late packet rejected here is a loss FEC
 * has to repair. 1,024 costs 128 bytes of bitmap per context. A receiver-
 * side choice: nothing on the wire depends on it. */
#define PVS_SRTP_REPLAY_WINDOW 1024

struct pvs_srtp_stats {
    uint64_t ok;              /* protected (sending), accepted (receiving) */
    uint64_t auth_failed;     /* tampered, wrong key, another session */
    uint64_t replayed;        /* seen before, or older than the replay window */
    uint64_t malformed;       /* too short to be SRTP, or an unknown SSRC */
};

struct pvs_srtp;

/* A sending context protects packets of `ssrc`; a receiving one accepts
 * only packets of `ssrc`. Returns 0, PVS_EINVAL, PVS_ENOMEM, or
 * PVS_EEXTERNAL (libsrtp's error logged). Thread safety: one thread per
 * context; opening and closing are safe from any thread. */
int pvs_srtp_open_send(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES], uint32_t ssrc);
int pvs_srtp_open_recv(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES], uint32_t ssrc);
void pvs_srtp_close(struct pvs_srtp **s);

/* Encrypts the RTP packet of *len bytes at pkt in place and appends the tag;
 * cap must be at least *len + 16. Returns 0 (and *len grows by 16), or a
 * negative code: PVS_EINVAL for a receiving context, a packet shorter than
 * an RTP header, too small a cap, or a sequence number already used. */
int pvs_srtp_protect(struct pvs_srtp *s, uint8_t *pkt, size_t *len, size_t cap);

/* Authenticates and decrypts in place; *len shrinks by 16. Returns 0, or
 * PVS_EBADDATA for a packet to drop (counted by reason in the stats; the
 * receiver's state is unchanged). PVS_EINVAL for a sending context. */
int pvs_srtp_unprotect(struct pvs_srtp *s, uint8_t *pkt, size_t *len);

void pvs_srtp_get_stats(const struct pvs_srtp *s, struct pvs_srtp_stats *out);

#endif
