/* GameStream's cryptography over Mbed TLS (gamestream/gs_crypto.h). The
 * few calls whose arguments changed between Mbed TLS 2.28 and 3.x sit
 * behind MBEDTLS_VERSION_NUMBER checks in small helpers at the top. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/version.h>
#include <mbedtls/aes.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"
#include "gamestream/gs_crypto.h"

/* 3.x hides some struct fields behind this macro; 2.28 has no such thing. */
#ifndef MBEDTLS_PRIVATE
#define MBEDTLS_PRIVATE(member) member
#endif

#define HOST_FILE_MAX (32 * 1024)
#define CERT_INPUT_MAX (64 * 1024)
#define PEM_MAX 8192
#define CN_MAX 64
#define VALID_YEARS 20
#define DRBG_PERSONAL "pvstream-gamestream"

struct pvs_gs_cert {
    mbedtls_x509_crt crt;
};

struct pvs_gs_host {
    mbedtls_pk_context key;
    struct pvs_gs_cert *cert;
    char *cert_pem;  /* NUL-terminated */
    size_t cert_pem_len;
};

/* ---- random bytes ---------------------------------------------------------- */

/* A DRBG per operation instead of one shared: Mbed TLS's DRBG is not
 * thread-safe without MBEDTLS_THREADING_C, and pairing and key making are
 * rare enough that seeding each time costs nothing that matters. */
struct drbg {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context ctr;
};

static int drbg_open(struct drbg *d)
{
    mbedtls_entropy_init(&d->entropy);
    mbedtls_ctr_drbg_init(&d->ctr);
    int rc = mbedtls_ctr_drbg_seed(&d->ctr, mbedtls_entropy_func, &d->entropy,
                                   (const unsigned char *)DRBG_PERSONAL,
                                   sizeof(DRBG_PERSONAL) - 1);
    if (rc) {
        PVS_LOG_E("cannot seed Mbed TLS's random generator (error -0x%04x): the "
                  "system gave no entropy", (unsigned)-rc);
        mbedtls_ctr_drbg_free(&d->ctr);
        mbedtls_entropy_free(&d->entropy);
        return PVS_EEXTERNAL;
    }
    return 0;
}

static void drbg_close(struct drbg *d)
{
    mbedtls_ctr_drbg_free(&d->ctr);
    mbedtls_entropy_free(&d->entropy);
}

int pvs_gs_rng(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    struct drbg d;
    if (drbg_open(&d))
        return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
    int rc = 0;
    /* The DRBG gives at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes a call. */
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = len - off;
        if (n > MBEDTLS_CTR_DRBG_MAX_REQUEST)
            n = MBEDTLS_CTR_DRBG_MAX_REQUEST;
        rc = mbedtls_ctr_drbg_random(&d.ctr, buf + off, n);
        off += n;
    }
    drbg_close(&d);
    return rc;
}

int pvs_gs_random(void *buf, size_t len)
{
    if (!buf && len)
        return PVS_EINVAL;
    int rc = pvs_gs_rng(NULL, buf, len);
    if (rc) {
        PVS_LOG_E("cannot make random bytes (Mbed TLS error -0x%04x)", (unsigned)-rc);
        return PVS_EEXTERNAL;
    }
    return 0;
}

/* ---- hashes, ciphers --------------------------------------------------------- */

int pvs_gs_sha256(const struct pvs_gs_span *parts, size_t count,
                  uint8_t out[PVS_GS_SHA256_BYTES])
{
    if ((!parts && count) || !out)
        return PVS_EINVAL;
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0);
    if (rc == 0)
        rc = mbedtls_md_starts(&md);
    for (size_t i = 0; i < count && rc == 0; i++)
        if (parts[i].n)
            rc = mbedtls_md_update(&md, parts[i].p, parts[i].n);
    if (rc == 0)
        rc = mbedtls_md_finish(&md, out);
    mbedtls_md_free(&md);
    return rc ? PVS_EEXTERNAL : 0;
}

int pvs_gs_aes128_ecb(const uint8_t key[PVS_GS_AES_KEY_BYTES], bool encrypt,
                      const uint8_t *in, uint8_t *out, size_t len)
{
    if (!key || (len && (!in || !out)) || len % PVS_GS_AES_BLOCK)
        return PVS_EINVAL;
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    int rc = encrypt ? mbedtls_aes_setkey_enc(&aes, key, 128)
                     : mbedtls_aes_setkey_dec(&aes, key, 128);
    int mode = encrypt ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT;
    for (size_t off = 0; off < len && rc == 0; off += PVS_GS_AES_BLOCK)
        rc = mbedtls_aes_crypt_ecb(&aes, mode, in + off, out + off);
    mbedtls_aes_free(&aes);
    return rc ? PVS_EEXTERNAL : 0;
}

bool pvs_gs_equal(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}

void pvs_gs_wipe(void *p, size_t n)
{
    if (p)
        mbedtls_platform_zeroize(p, n);
}

/* ---- hex ---------------------------------------------------------------------- */

int pvs_gs_hex_encode(const void *in, size_t len, char *out, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    if (!out || (!in && len) || len > (SIZE_MAX - 1) / 2 || cap < 2 * len + 1)
        return PVS_ERANGE;
    const uint8_t *b = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * len] = '\0';
    return (int)(2 * len);
}

int pvs_gs_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pvs_gs_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap)
{
    if ((!hex && hex_len) || (!out && cap) || hex_len % 2)
        return PVS_EBADDATA;
    if (hex_len / 2 > cap || hex_len / 2 > INT32_MAX)
        return PVS_ERANGE;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = pvs_gs_hex_digit(hex[i]), lo = pvs_gs_hex_digit(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return PVS_EBADDATA;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(hex_len / 2);
}

/* ---- certificates -------------------------------------------------------------- */

static const char pem_cert_begin[] = "-----BEGIN CERTIFICATE-----";

int pvs_gs_cert_parse(struct pvs_gs_cert **out, const void *data, size_t len)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!data || len == 0 || len > CERT_INPUT_MAX)
        return PVS_EBADDATA;
    struct pvs_gs_cert *c = calloc(1, sizeof(*c));
    /* Mbed TLS reads PEM only from a NUL-terminated buffer. */
    char *text = malloc(len + 1);
    if (!c || !text) {
        free(c);
        free(text);
        return PVS_ENOMEM;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    mbedtls_x509_crt_init(&c->crt);
    int rc;
    if (strlen(text) == len && strstr(text, pem_cert_begin))
        rc = mbedtls_x509_crt_parse(&c->crt, (const unsigned char *)text, len + 1);
    else
        rc = mbedtls_x509_crt_parse_der(&c->crt, data, len);
    free(text);
    /* A positive result: some PEM blocks failed but at least one parsed. */
    if (rc < 0 || c->crt.raw.len == 0) {
        mbedtls_x509_crt_free(&c->crt);
        free(c);
        return PVS_EBADDATA;
    }
    *out = c;
    return 0;
}

void pvs_gs_cert_close(struct pvs_gs_cert **c)
{
    if (!c || !*c)
        return;
    mbedtls_x509_crt_free(&(*c)->crt);
    free(*c);
    *c = NULL;
}

const uint8_t *pvs_gs_cert_signature(const struct pvs_gs_cert *c, size_t *len)
{
    *len = c->crt.MBEDTLS_PRIVATE(sig).len;
    return c->crt.MBEDTLS_PRIVATE(sig).p;
}

const uint8_t *pvs_gs_cert_der(const struct pvs_gs_cert *c, size_t *len)
{
    *len = c->crt.raw.len;
    return c->crt.raw.p;
}

int pvs_gs_cert_fingerprint(const struct pvs_gs_cert *c, uint8_t out[PVS_GS_SHA256_BYTES])
{
    struct pvs_gs_span der = { c->crt.raw.p, c->crt.raw.len };
    return pvs_gs_sha256(&der, 1, out);
}

int pvs_gs_cert_verify(const struct pvs_gs_cert *c, const void *msg, size_t len,
                       const uint8_t *sig, size_t sig_len)
{
    uint8_t hash[PVS_GS_SHA256_BYTES];
    struct pvs_gs_span m = { msg, len };
    if (!c || !sig || sig_len == 0 || sig_len > PVS_GS_SIG_MAX || pvs_gs_sha256(&m, 1, hash))
        return PVS_EBADDATA;
    /* The const cast: Mbed TLS 2.28 takes a non-const context; verifying
     * does not change it. */
    mbedtls_pk_context *pk = (mbedtls_pk_context *)&c->crt.pk;
    int rc = mbedtls_pk_verify(pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, sig_len);
    return rc == 0 ? 0 : PVS_EBADDATA;
}

/* ---- Mbed TLS 2.28 / 3.x differences ------------------------------------------ */

static int pk_sign(mbedtls_pk_context *key, const uint8_t hash[PVS_GS_SHA256_BYTES],
                   uint8_t *sig, size_t cap, size_t *sig_len, struct drbg *d)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, PVS_GS_SHA256_BYTES, sig, cap,
                           sig_len, mbedtls_ctr_drbg_random, &d->ctr);
#else
    (void)cap;  /* the caller checked cap >= the key's length */
    return mbedtls_pk_sign(key, MBEDTLS_MD_SHA256, hash, PVS_GS_SHA256_BYTES, sig, sig_len,
                           mbedtls_ctr_drbg_random, &d->ctr);
#endif
}

static int pk_parse_key(mbedtls_pk_context *key, const char *text, size_t len_with_nul,
                        struct drbg *d)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_parse_key(key, (const unsigned char *)text, len_with_nul, NULL, 0,
                                mbedtls_ctr_drbg_random, &d->ctr);
#else
    (void)d;
    return mbedtls_pk_parse_key(key, (const unsigned char *)text, len_with_nul, NULL, 0);
#endif
}

static int pk_check_pair(const mbedtls_pk_context *pub, const mbedtls_pk_context *prv,
                         struct drbg *d)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_pk_check_pair(pub, prv, mbedtls_ctr_drbg_random, &d->ctr);
#else
    (void)d;
    return mbedtls_pk_check_pair(pub, prv);
#endif
}

static int crt_set_serial(mbedtls_x509write_cert *w, const uint8_t *serial, size_t len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03040000
    return mbedtls_x509write_crt_set_serial_raw(w, (unsigned char *)serial, len);
#else
    mbedtls_mpi n;
    mbedtls_mpi_init(&n);
    int rc = mbedtls_mpi_read_binary(&n, serial, len);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_serial(w, &n);
    mbedtls_mpi_free(&n);
    return rc;
#endif
}

/* ---- the host's key and certificate ------------------------------------------- */

/* "CN=<cn>" with only characters that need no escaping in Mbed TLS's
 * name syntax. */
static void subject_name(const char *cn, char out[CN_MAX + 4])
{
    size_t n = 0;
    memcpy(out, "CN=", 3);
    for (const char *s = cn ? cn : ""; *s && n < CN_MAX; s++, n++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == ' ' || c == '.' || c == '-' || c == '_';
        out[3 + n] = ok ? c : '_';
    }
    if (n == 0) {
        strcpy(out + 3, "pvstream");
        return;
    }
    out[3 + n] = '\0';
}

/* Validity as Mbed TLS wants it, "YYYYMMDDhhmmss" (UTC; the buffers are
 * larger only to quiet the compiler about impossible years). */
static void validity(char not_before[16], char not_after[16])
{
    time_t now = time(NULL) - 24 * 3600;  /* a day's grace for clocks behind */
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        memset(&tm, 0, sizeof(tm));
    /* The modulos only bound what the compiler sees; gmtime's fields are in
     * range. The end date avoids February 29 and the 31st. */
    unsigned year = (unsigned)(tm.tm_year + 1900) % 8000, mon = (unsigned)(tm.tm_mon + 1) % 100,
             day = (unsigned)tm.tm_mday % 100, hour = (unsigned)tm.tm_hour % 100,
             min = (unsigned)tm.tm_min % 100, sec = (unsigned)tm.tm_sec % 100;
    snprintf(not_before, 16, "%04u%02u%02u%02u%02u%02u", year, mon, day, hour, min, sec);
    snprintf(not_after, 16, "%04u%02u%02u%02u%02u%02u", year + VALID_YEARS, mon,
             day > 28 ? 28 : day, hour, min, sec);
}

static int write_cert(mbedtls_pk_context *key, const char *cn, char *pem, size_t cap,
                      struct drbg *d)
{
    char name[CN_MAX + 4], not_before[16], not_after[16];
    uint8_t serial[16];
    subject_name(cn, name);
    validity(not_before, not_after);
    int rc = mbedtls_ctr_drbg_random(&d->ctr, serial, sizeof(serial));
    serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);  /* positive, 16 bytes long */
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, key);
    mbedtls_x509write_crt_set_issuer_key(&w, key);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_subject_name(&w, name);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_issuer_name(&w, name);
    if (rc == 0)
        rc = crt_set_serial(&w, serial, sizeof(serial));
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_validity(&w, not_before, not_after);
    if (rc == 0)
        rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1);
    if (rc == 0)
        rc = mbedtls_x509write_crt_pem(&w, (unsigned char *)pem, cap,
                                       mbedtls_ctr_drbg_random, &d->ctr);
    mbedtls_x509write_crt_free(&w);
    return rc;
}

static struct pvs_gs_host *host_new(void)
{
    struct pvs_gs_host *h = calloc(1, sizeof(*h));
    if (h)
        mbedtls_pk_init(&h->key);
    return h;
}

/* Parses the certificate PEM into h and keeps its text. */
static int host_set_cert(struct pvs_gs_host *h, const char *pem, size_t len)
{
    int rc = pvs_gs_cert_parse(&h->cert, pem, len);
    if (rc)
        return rc;
    h->cert_pem = malloc(len + 1);
    if (!h->cert_pem)
        return PVS_ENOMEM;
    memcpy(h->cert_pem, pem, len);
    h->cert_pem[len] = '\0';
    h->cert_pem_len = len;
    return 0;
}

int pvs_gs_host_generate(struct pvs_gs_host **out, const char *cn)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    struct drbg d;
    int rc = drbg_open(&d);
    if (rc)
        return rc;
    struct pvs_gs_host *h = host_new();
    char *pem = malloc(PEM_MAX);
    if (!h || !pem) {
        rc = PVS_ENOMEM;
        goto done;
    }
    int mrc = mbedtls_pk_setup(&h->key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA));
    if (mrc == 0)
        mrc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(h->key), mbedtls_ctr_drbg_random, &d.ctr,
                                  PVS_GS_RSA_BITS, 65537);
    if (mrc == 0)
        mrc = write_cert(&h->key, cn, pem, PEM_MAX, &d);
    if (mrc) {
        PVS_LOG_E("cannot make the GameStream host key and certificate (Mbed TLS "
                  "error -0x%04x)", (unsigned)-mrc);
        rc = PVS_EEXTERNAL;
        goto done;
    }
    rc = host_set_cert(h, pem, strlen(pem));
done:
    free(pem);
    drbg_close(&d);
    if (rc)
        pvs_gs_host_close(&h);
    *out = h;
    return rc;
}

int pvs_gs_host_save(const struct pvs_gs_host *h, const char *path, bool exclusive)
{
    static const char header[] =
        "# pvstream GameStream host key and certificate (Moonlight clients pin the\n"
        "# certificate when they pair). Keep it secret: whoever has the key can pose\n"
        "# as this host to them.\n";
    if (!h || !path || !*path)
        return PVS_EINVAL;
    size_t cap = sizeof(header) + PEM_MAX + h->cert_pem_len;
    char *text = malloc(cap);
    if (!text)
        return PVS_ENOMEM;
    size_t n = sizeof(header) - 1;
    memcpy(text, header, n);
    int rc = pvs_gs_host_key_pem(h, text + n, cap - n - h->cert_pem_len);
    if (rc < 0) {
        PVS_LOG_E("cannot write the GameStream host key as PEM");
        pvs_gs_wipe(text, cap);
        free(text);
        return PVS_EEXTERNAL;
    }
    n += (size_t)rc;
    memcpy(text + n, h->cert_pem, h->cert_pem_len);
    n += h->cert_pem_len;
    rc = pvs_keyfile_write(path, "GameStream host key file", text, n, exclusive);
    pvs_gs_wipe(text, cap);
    free(text);
    return rc;
}

static int parse_host_file(const char *path, char *text, size_t len, struct pvs_gs_host *h)
{
    struct drbg d;
    int rc = drbg_open(&d);
    if (rc)
        return rc;
    const char *why = NULL;
    const char *begin = strstr(text, pem_cert_begin);
    if (pk_parse_key(&h->key, text, len + 1, &d) != 0)
        why = "no RSA private key in PEM";
    else if (!mbedtls_pk_can_do(&h->key, MBEDTLS_PK_RSA))
        why = "the key is not an RSA key";
    else if (!begin || host_set_cert(h, begin, len - (size_t)(begin - text)) != 0)
        why = "no certificate in PEM after the key";
    else if (pk_check_pair(&h->cert->crt.pk, &h->key, &d) != 0)
        why = "the certificate is not the key's";
    drbg_close(&d);
    if (why) {
        PVS_LOG_E("the GameStream host key file %s is malformed: %s; delete it to make "
                  "a new one (Moonlight clients will have to pair again)", path, why);
        return PVS_ECONFIG;
    }
    return 0;
}

int pvs_gs_host_load_or_create(struct pvs_gs_host **out, const char *path, const char *cn)
{
    if (!out)
        return PVS_EINVAL;
    *out = NULL;
    if (!path || !*path)
        return PVS_EINVAL;
    int rc = 0;
    /* Twice at most: when another process creates the file between our
     * finding it missing and our writing it, load theirs. */
    for (int attempt = 0; attempt < 2; attempt++) {
        char *text;
        size_t len;
        rc = pvs_keyfile_read(path, "GameStream host key file", true, HOST_FILE_MAX,
                              &text, &len);
        if (rc == 0) {
            struct pvs_gs_host *h = host_new();
            rc = h ? parse_host_file(path, text, len, h) : PVS_ENOMEM;
            pvs_keyfile_free(text, len);
            if (rc == 0)
                *out = h;
            else
                pvs_gs_host_close(&h);
            return rc;
        }
        if (rc != PVS_ENOENT)
            return rc;
        struct pvs_gs_host *h;
        rc = pvs_gs_host_generate(&h, cn);
        if (rc)
            return rc;
        rc = pvs_gs_host_save(h, path, true);
        if (rc == 0) {
            PVS_LOG_I("made a new GameStream host key and certificate in %s", path);
            *out = h;
            return 0;
        }
        pvs_gs_host_close(&h);
        if (rc != -EEXIST)
            return rc;
    }
    return rc;
}

void pvs_gs_host_close(struct pvs_gs_host **h)
{
    if (!h || !*h)
        return;
    mbedtls_pk_free(&(*h)->key);
    pvs_gs_cert_close(&(*h)->cert);
    free((*h)->cert_pem);
    free(*h);
    *h = NULL;
}

const struct pvs_gs_cert *pvs_gs_host_cert(const struct pvs_gs_host *h)
{
    return h->cert;
}

const char *pvs_gs_host_cert_pem(const struct pvs_gs_host *h, size_t *len)
{
    if (len)
        *len = h->cert_pem_len;
    return h->cert_pem;
}

int pvs_gs_host_key_pem(const struct pvs_gs_host *h, char *out, size_t cap)
{
    if (!h || !out || cap == 0)
        return PVS_EINVAL;
    if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&h->key, (unsigned char *)out, cap) != 0) {
        pvs_gs_wipe(out, cap);
        return PVS_ERANGE;
    }
    return (int)strlen(out);
}

int pvs_gs_host_sign(const struct pvs_gs_host *h, const void *msg, size_t len,
                     uint8_t *sig, size_t cap)
{
    if (!h || (!msg && len) || !sig)
        return PVS_EINVAL;
    mbedtls_pk_context *key = (mbedtls_pk_context *)&h->key;
    if (cap < mbedtls_pk_get_len(key))
        return PVS_ERANGE;
    uint8_t hash[PVS_GS_SHA256_BYTES];
    struct pvs_gs_span m = { msg, len };
    int rc = pvs_gs_sha256(&m, 1, hash);
    if (rc)
        return rc;
    struct drbg d;
    rc = drbg_open(&d);
    if (rc)
        return rc;
    size_t sig_len = 0;
    int mrc = pk_sign(key, hash, sig, cap, &sig_len, &d);
    drbg_close(&d);
    if (mrc) {
        PVS_LOG_E("cannot sign with the GameStream host key (Mbed TLS error -0x%04x)",
                  (unsigned)-mrc);
        return PVS_EEXTERNAL;
    }
    return (int)sig_len;
}
