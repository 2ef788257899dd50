/* AES-128-GCM as GameStream uses it: the encrypted control stream
 * (gs_control.h), encrypted RTSP (gs_rtsp.h) and Sunshine-style video
 * encryption all seal with the launch's 16-byte key (the `rikey` of
 * /launch), a 12- or 16-byte IV built from a sequence number, no additional
 * data, and a 16-byte tag that travels *before* the ciphertext. Over Mbed
 * TLS's GCM, whose calls are the same in 2.28 and 3.6.
 *
 * No state: each call sets the key up (about a microsecond), so any number
 * of threads may seal and open at once. */
#ifndef PVS_GS_GCM_H
#define PVS_GS_GCM_H

#include <stddef.h>
#include <stdint.h>

#define PVS_GS_GCM_KEY_BYTES 16
#define PVS_GS_GCM_TAG_BYTES 16

/* Encrypts len bytes of `in` into `out` (the same length; they may be the
 * same buffer) and writes the tag. iv_len is 12 or 16 (GameStream's old
 * control stream uses 16). Returns 0, PVS_EINVAL or PVS_EEXTERNAL. */
int pvs_gs_gcm_seal(const uint8_t key[PVS_GS_GCM_KEY_BYTES], const uint8_t *iv, size_t iv_len,
                    const uint8_t *in, size_t len, uint8_t *out,
                    uint8_t tag[PVS_GS_GCM_TAG_BYTES]);

/* Decrypts and checks the tag. Returns 0, PVS_EBADDATA when the tag does
 * not verify (out is then zeroed), PVS_EINVAL or PVS_EEXTERNAL. */
int pvs_gs_gcm_open(const uint8_t key[PVS_GS_GCM_KEY_BYTES], const uint8_t *iv, size_t iv_len,
                    const uint8_t *in, size_t len, uint8_t *out,
                    const uint8_t tag[PVS_GS_GCM_TAG_BYTES]);

/* The 12-byte IV of Sunshine's newer streams ("control v2", encrypted
 * RTSP): the sequence number little-endian in bytes 0..3, zeros, then two
 * letters in bytes 10 and 11: who sent it ('C' client, 'H' host) and which
 * stream ('C' control, 'R' RTSP). Fact from moonlight-common-c
 * src/ControlStream.c and src/RtspConnection.c. */
void pvs_gs_gcm_iv12(uint8_t iv[12], uint32_t seq, char sender, char stream);

#endif
