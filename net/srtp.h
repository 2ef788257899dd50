/* SRTP for media packets through libsrtp2, AEAD_AES_128_GCM (RFC 7714):
 * the RTP header authenticated, the rest encrypted, a 16-byte tag appended,
 * replay protection on. One context per direction (docs/protocol.md). */
#ifndef PVS_SRTP_H
#define PVS_SRTP_H

#include <stddef.h>
#include <stdint.h>

#define PVS_SRTP_KEY_BYTES 28 /* master key 16 + salt 12 */

struct pvs_srtp_stats {
    uint64_t ok;
    uint64_t auth_failed;     /* tampered, wrong key, another session */
    uint64_t replayed;        /* seen before, or older than the replay window */
    uint64_t malformed;       /* too short to be SRTP, or an unknown SSRC */
};

struct pvs_srtp;

/* A sending context protects packets of `ssrc`; a receiving one accepts
 * only packets of `ssrc`. Returns 0, PVS_EINVAL, or PVS_EEXTERNAL (libsrtp's
 * error logged). Thread safety: one thread per context. */
int pvs_srtp_open_send(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES], uint32_t ssrc);
int pvs_srtp_open_recv(struct pvs_srtp **out, const uint8_t key[PVS_SRTP_KEY_BYTES], uint32_t ssrc);
void pvs_srtp_close(struct pvs_srtp **s);

/* Encrypts the RTP packet of *len bytes at pkt in place and appends the tag;
 * cap must be at least *len + 16. Returns 0 (and *len grows by 16), or a
 * negative code. */
int pvs_srtp_protect(struct pvs_srtp *s, uint8_t *pkt, size_t *len, size_t cap);

/* Authenticates and decrypts in place; *len shrinks by 16. Returns 0, or
 * PVS_EBADDATA for a packet to drop (counted by reason in the stats). */
int pvs_srtp_unprotect(struct pvs_srtp *s, uint8_t *pkt, size_t *len);

void pvs_srtp_get_stats(const struct pvs_srtp *s, struct pvs_srtp_stats *out);

#endif
