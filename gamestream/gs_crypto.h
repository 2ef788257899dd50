/* The cryptography GameStream pairing and its TLS need, over Mbed TLS (2.28
 * on Debian, 3.6 in the Windows build): the host's RSA key and self-signed
 * certificate and their file, X.509 certificates from clients, AES-128-ECB,
 * SHA-256, RSA-SHA256 signatures, hex and random bytes.
 *
 * GameStream's choices, not ours: AES in ECB mode without padding, keys
 * derived by one hash of a 4-digit PIN, RSA PKCS#1 v1.5 signatures. They are
 * here only because Moonlight clients speak them (docs/gamestream.md).
 *
 * Host file (PVS_GS_HOST_FILE in the configuration directory): the RSA
 * private key in PEM ("RSA PRIVATE KEY") followed by the certificate in PEM,
 * the form civetweb's `ssl_certificate` option reads. It follows the rules
 * of the identity key file (common/platform/keyfile.h): a regular file
 * owned by the user, private to them, rewritten atomically.
 *
 * Thread safety: functions on different objects may run at once. A host
 * object's signing is not safe against other signing with the same object
 * (Mbed TLS keeps RSA blinding state in the key): one pairing at a time
 * (gs_pairing.h) is its only signer; a TLS server loads its own copy from
 * the file. */
#ifndef PVS_GS_CRYPTO_H
#define PVS_GS_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Suggested name inside the configuration directory (pvs_keyfile_dir). */
#define PVS_GS_HOST_FILE "gamestream.pem"

#define PVS_GS_SHA256_BYTES 32
#define PVS_GS_AES_KEY_BYTES 16
#define PVS_GS_AES_BLOCK 16
#define PVS_GS_RSA_BITS 2048
/* The largest signature accepted or made: RSA-4096. */
#define PVS_GS_SIG_MAX 512

struct pvs_gs_cert;  /* a parsed X.509 certificate */
struct pvs_gs_host;  /* the host's RSA key and self-signed certificate */

/* One piece of a message to hash. */
struct pvs_gs_span {
    const void *p;
    size_t n;
};

/* ---- random bytes, hashes, ciphers ---------------------------------------- */

/* Fills buf with len bytes from a CTR-DRBG seeded from the system's entropy.
 * Returns 0 or PVS_EEXTERNAL (logged). */
int pvs_gs_random(void *buf, size_t len);

/* The same in the shape Mbed TLS's f_rng arguments take; ctx is unused.
 * Returns 0 or an Mbed TLS error. */
int pvs_gs_rng(void *ctx, unsigned char *buf, size_t len);

/* SHA-256 of the concatenation of `count` spans. Returns 0 or
 * PVS_EEXTERNAL. */
int pvs_gs_sha256(const struct pvs_gs_span *parts, size_t count,
                  uint8_t out[PVS_GS_SHA256_BYTES]);

/* AES-128 in ECB mode, no padding: len must be a multiple of 16 (PVS_EINVAL
 * otherwise). in and out may be the same buffer. Returns 0, PVS_EINVAL or
 * PVS_EEXTERNAL. */
int pvs_gs_aes128_ecb(const uint8_t key[PVS_GS_AES_KEY_BYTES], bool encrypt,
                      const uint8_t *in, uint8_t *out, size_t len);

/* True when the n bytes at a and b are equal; the time taken does not
 * depend on where they differ. */
bool pvs_gs_equal(const void *a, const void *b, size_t n);

/* Zeroes n bytes in a way the compiler keeps. */
void pvs_gs_wipe(void *p, size_t n);

/* ---- hex ------------------------------------------------------------------- */

/* Writes 2 * len lowercase hex digits and a NUL to out. Returns the number
 * of digits, or PVS_ERANGE (nothing useful written) when cap < 2 * len + 1. */
int pvs_gs_hex_encode(const void *in, size_t len, char *out, size_t cap);

/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int pvs_gs_hex_digit(char c);

/* Decodes the first hex_len characters of hex (upper or lower case) into
 * out. Returns the number of bytes, PVS_EBADDATA for an odd length or a
 * character that is not a hex digit, or PVS_ERANGE when more than cap bytes
 * would come out. */
int pvs_gs_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap);

/* ---- certificates ---------------------------------------------------------- */

/* Parses one certificate, PEM (text with "-----BEGIN CERTIFICATE-----"; only
 * the first certificate is kept) or DER. Returns 0, PVS_EBADDATA when it is
 * not a certificate Mbed TLS can read, PVS_EINVAL or PVS_ENOMEM. */
int pvs_gs_cert_parse(struct pvs_gs_cert **out, const void *data, size_t len);

/* Frees a certificate and clears the pointer. Accepts NULL. */
void pvs_gs_cert_close(struct pvs_gs_cert **c);

/* The certificate's signature value (the bytes of its signatureValue BIT
 * STRING), and its whole DER encoding. Pointers into c. */
const uint8_t *pvs_gs_cert_signature(const struct pvs_gs_cert *c, size_t *len);
const uint8_t *pvs_gs_cert_der(const struct pvs_gs_cert *c, size_t *len);

/* SHA-256 of the certificate's DER encoding. */
int pvs_gs_cert_fingerprint(const struct pvs_gs_cert *c, uint8_t out[PVS_GS_SHA256_BYTES]);

/* Checks that sig is an RSA-SHA256 (PKCS#1 v1.5) signature of msg made by
 * the private half of the certificate's public key (any key type Mbed TLS
 * verifies with SHA-256). Returns 0 or PVS_EBADDATA. */
int pvs_gs_cert_verify(const struct pvs_gs_cert *c, const void *msg, size_t len,
                       const uint8_t *sig, size_t sig_len);

/* ---- the host's key and certificate ---------------------------------------- */

/* Makes a new RSA-2048 key and a self-signed X.509 v3 certificate for it:
 * SHA-256 with RSA, subject and issuer "CN=<cn>" (characters other than
 * letters, digits, space, '.', '-' and '_' become '_'; empty: "pvstream"),
 * a random serial, valid from yesterday for 20 years. Takes about a second.
 * Returns 0, PVS_ENOMEM or PVS_EEXTERNAL (logged). */
int pvs_gs_host_generate(struct pvs_gs_host **out, const char *cn);

/* Loads the host file at `path` or, when there is none, generates a host
 * (common name cn) and writes it there. Returns 0; PVS_ECONFIG when the
 * file is refused (owner, permissions: the log says how to fix it) or
 * holds no key and matching certificate (the log says to delete it, and
 * that Moonlight clients must then pair again); or another negative code
 * (logged). */
int pvs_gs_host_load_or_create(struct pvs_gs_host **out, const char *path, const char *cn);

/* Writes the host file to `path` atomically (keyfile.h). `exclusive`: only
 * when there is no file yet (-EEXIST, not logged, otherwise). */
int pvs_gs_host_save(const struct pvs_gs_host *h, const char *path, bool exclusive);

/* Wipes and frees a host and clears the pointer. Accepts NULL. */
void pvs_gs_host_close(struct pvs_gs_host **h);

/* The host's certificate, parsed, and as PEM text (NUL-terminated; *len
 * without the NUL). Pointers into h. */
const struct pvs_gs_cert *pvs_gs_host_cert(const struct pvs_gs_host *h);
const char *pvs_gs_host_cert_pem(const struct pvs_gs_host *h, size_t *len);

/* Writes the host's private key as PEM ("RSA PRIVATE KEY"), NUL-terminated,
 * to out (4096 bytes are enough for RSA-2048), for a TLS server that loads
 * its own copy. The caller wipes it (pvs_gs_wipe). Returns the length
 * without the NUL, or PVS_ERANGE. */
int pvs_gs_host_key_pem(const struct pvs_gs_host *h, char *out, size_t cap);

/* Signs msg with the host key: RSA PKCS#1 v1.5 over its SHA-256. Writes the
 * signature (256 bytes for RSA-2048) to sig. Returns its length, PVS_ERANGE
 * when cap is too small, or PVS_EEXTERNAL. */
int pvs_gs_host_sign(const struct pvs_gs_host *h, const void *msg, size_t len,
                     uint8_t *sig, size_t cap);

#endif
