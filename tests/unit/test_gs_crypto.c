/* The GameStream crypto wrapper (gamestream/gs_crypto.h): SHA-256 and
 * AES-128-ECB against published vectors (FIPS 180-2, FIPS 197 appendix C,
 * SP 800-38A F.1), hex both ways with every malformed form refused,
 * certificates parsed as PEM and DER and garbage refused, signatures made
 * by the host key verified by Mbed TLS directly and refused when tampered
 * with, and the host file: made private (0600 on POSIX), loaded back as
 * the same certificate, and refused when open to others, malformed, or
 * holding a key and a certificate that do not belong together. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "common/error.h"
#include "common/log.h"
#include "common/platform/keyfile.h"
#include "gamestream/gs_crypto.h"
#include "tests/unit/test.h"

static char g_dir[512];
static struct pvs_gs_host *g_host;

static int unhex(const char *hex, uint8_t *out, size_t cap)
{
    return pvs_gs_hex_decode(hex, strlen(hex), out, cap);
}

static bool equals_hex(const uint8_t *b, size_t n, const char *hex)
{
    char buf[512];
    if (pvs_gs_hex_encode(b, n, buf, sizeof(buf)) < 0)
        return false;
    bool same = strcmp(buf, hex) == 0;
    if (!same)
        fprintf(stderr, "  got %s\n  want %s\n", buf, hex);
    return same;
}

static void test_sha256(void)
{
    uint8_t h[PVS_GS_SHA256_BYTES];
    struct pvs_gs_span abc = { "abc", 3 };
    CHECK_INT(pvs_gs_sha256(&abc, 1, h), ==, 0);
    CHECK(equals_hex(h, sizeof(h),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK_INT(pvs_gs_sha256(NULL, 0, h), ==, 0);
    CHECK(equals_hex(h, sizeof(h),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    /* FIPS 180-2's two-block message, given in three pieces. */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    struct pvs_gs_span parts[] = { { m, 5 }, { m + 5, 0 }, { m + 5, strlen(m) - 5 } };
    CHECK_INT(pvs_gs_sha256(parts, 3, h), ==, 0);
    CHECK(equals_hex(h, sizeof(h),
                     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    CHECK_INT(pvs_gs_sha256(NULL, 1, h), ==, PVS_EINVAL);
}

static void test_aes(void)
{
    uint8_t key[16], in[64], out[64], back[64];
    /* FIPS 197 appendix C.1. */
    unhex("000102030405060708090a0b0c0d0e0f", key, sizeof(key));
    unhex("00112233445566778899aabbccddeeff", in, sizeof(in));
    CHECK_INT(pvs_gs_aes128_ecb(key, true, in, out, 16), ==, 0);
    CHECK(equals_hex(out, 16, "69c4e0d86a7b0430d8cdb78070b4c55a"));
    CHECK_INT(pvs_gs_aes128_ecb(key, false, out, back, 16), ==, 0);
    CHECK(memcmp(back, in, 16) == 0);
    /* SP 800-38A F.1.1/F.1.2, ECB-AES128, four blocks, in place. */
    unhex("2b7e151628aed2a6abf7158809cf4f3c", key, sizeof(key));
    unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710", in, sizeof(in));
    memcpy(out, in, sizeof(out));
    CHECK_INT(pvs_gs_aes128_ecb(key, true, out, out, 64), ==, 0);
    CHECK(equals_hex(out, 64,
                     "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
                     "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4"));
    CHECK_INT(pvs_gs_aes128_ecb(key, false, out, out, 64), ==, 0);
    CHECK(memcmp(out, in, 64) == 0);
    CHECK_INT(pvs_gs_aes128_ecb(key, true, in, out, 15), ==, PVS_EINVAL);
    CHECK_INT(pvs_gs_aes128_ecb(key, true, in, out, 17), ==, PVS_EINVAL);
    CHECK_INT(pvs_gs_aes128_ecb(key, true, in, out, 0), ==, 0);
}

static void test_hex(void)
{
    uint8_t b[4] = { 0x00, 0x7f, 0xa5, 0xff }, d[8];
    char s[16];
    CHECK_INT(pvs_gs_hex_encode(b, 4, s, sizeof(s)), ==, 8);
    CHECK(strcmp(s, "007fa5ff") == 0);
    CHECK_INT(pvs_gs_hex_encode(b, 4, s, 8), ==, PVS_ERANGE);  /* no room for the NUL */
    CHECK_INT(pvs_gs_hex_encode(b, 0, s, 1), ==, 0);
    CHECK(s[0] == '\0');
    CHECK_INT(pvs_gs_hex_decode("007FA5fF", 8, d, sizeof(d)), ==, 4);
    CHECK(memcmp(d, b, 4) == 0);
    CHECK_INT(pvs_gs_hex_decode("007", 3, d, sizeof(d)), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_hex_decode("0g", 2, d, sizeof(d)), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_hex_decode(" 0", 2, d, sizeof(d)), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_hex_decode("0\0", 2, d, sizeof(d)), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_hex_decode("000102", 6, d, 2), ==, PVS_ERANGE);
    CHECK_INT(pvs_gs_hex_decode("", 0, d, sizeof(d)), ==, 0);
}

static void test_random(void)
{
    uint8_t a[64], b[64], zero[64] = { 0 };
    CHECK_INT(pvs_gs_random(a, sizeof(a)), ==, 0);
    CHECK_INT(pvs_gs_random(b, sizeof(b)), ==, 0);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK(memcmp(a, zero, sizeof(a)) != 0);
    uint8_t big[2000];  /* more than one DRBG request */
    memset(big, 0, sizeof(big));
    CHECK_INT(pvs_gs_random(big, sizeof(big)), ==, 0);
    CHECK(memcmp(big + 1900, zero, 64) != 0);
}

static void test_host_and_certs(void)
{
    const struct pvs_gs_cert *c = pvs_gs_host_cert(g_host);
    size_t pem_len, der_len, sig_len;
    const char *pem = pvs_gs_host_cert_pem(g_host, &pem_len);
    CHECK(strncmp(pem, "-----BEGIN CERTIFICATE-----", 27) == 0);
    CHECK_INT(strlen(pem), ==, pem_len);
    const uint8_t *der = pvs_gs_cert_der(c, &der_len);
    const uint8_t *sig = pvs_gs_cert_signature(c, &sig_len);
    CHECK_INT(sig_len, ==, 256);  /* RSA-2048 */
    CHECK(sig > der && sig + sig_len == der + der_len);  /* the last field */

    /* Mbed TLS itself reads what we wrote: the name, the algorithm, the key. */
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    CHECK_INT(mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, pem_len + 1), ==, 0);
    char dn[256];
    CHECK(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject) > 0);
    CHECK(strcmp(dn, "CN=pvs test_host") == 0);
    CHECK_INT(mbedtls_pk_get_bitlen(&crt.pk), ==, 2048);
    CHECK(crt.valid_to.year - crt.valid_from.year == 20);
    uint32_t flags = 0;
    /* Self-signed: it verifies against itself (SHA-256 with RSA). */
    CHECK_INT(mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL), ==, 0);

    /* Signing: what the host signs, Mbed TLS verifies with the cert's key. */
    uint8_t s[PVS_GS_SIG_MAX], h[32];
    const char msg[] = "sixteen byte msg";
    int n = pvs_gs_host_sign(g_host, msg, 16, s, sizeof(s));
    CHECK_INT(n, ==, 256);
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    mbedtls_md(md, (const unsigned char *)msg, 16, h);
    CHECK_INT(mbedtls_pk_verify(&crt.pk, MBEDTLS_MD_SHA256, h, 32, s, (size_t)n), ==, 0);
    mbedtls_x509_crt_free(&crt);
    CHECK_INT(pvs_gs_host_sign(g_host, msg, 16, s, 255), ==, PVS_ERANGE);

    CHECK_INT(pvs_gs_cert_verify(c, msg, 16, s, (size_t)n), ==, 0);
    CHECK_INT(pvs_gs_cert_verify(c, "sixteen byte msh", 16, s, (size_t)n), ==, PVS_EBADDATA);
    s[100] ^= 1;
    CHECK_INT(pvs_gs_cert_verify(c, msg, 16, s, (size_t)n), ==, PVS_EBADDATA);
    s[100] ^= 1;
    CHECK_INT(pvs_gs_cert_verify(c, msg, 16, s, (size_t)n - 1), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_cert_verify(c, msg, 16, s, 0), ==, PVS_EBADDATA);

    /* Parsing: PEM and DER give the same certificate; garbage is refused. */
    struct pvs_gs_cert *p = NULL, *q = NULL;
    uint8_t fp1[32], fp2[32], fp3[32];
    CHECK_INT(pvs_gs_cert_parse(&p, pem, pem_len), ==, 0);
    CHECK_INT(pvs_gs_cert_parse(&q, der, der_len), ==, 0);
    if (p && q) {
        pvs_gs_cert_fingerprint(p, fp1);
        pvs_gs_cert_fingerprint(q, fp2);
        struct pvs_gs_span d = { der, der_len };
        pvs_gs_sha256(&d, 1, fp3);
        CHECK(memcmp(fp1, fp2, 32) == 0 && memcmp(fp1, fp3, 32) == 0);
    }
    pvs_gs_cert_close(&p);
    pvs_gs_cert_close(&q);
    CHECK(p == NULL);
    pvs_gs_cert_close(NULL);
    CHECK_INT(pvs_gs_cert_parse(&p, "hello", 5), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_cert_parse(&p, pem, pem_len / 2), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_cert_parse(&p, der, der_len - 1), ==, PVS_EBADDATA);
    CHECK_INT(pvs_gs_cert_parse(&p, der, 0), ==, PVS_EBADDATA);
    CHECK(p == NULL);
}

static void path_of(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", g_dir, name);
}

static bool write_file(const char *path, const char *text, size_t len)
{
    remove(path);
    return pvs_keyfile_write(path, "test file", text, len, false) == 0;
}

static char *read_all(const char *path, size_t *len)
{
    char *text = NULL;
    if (pvs_keyfile_read(path, "test file", false, 1 << 20, &text, len) != 0)
        return NULL;
    return text;
}

static void test_host_file(void)
{
    char path[600];
    path_of(path, sizeof(path), PVS_GS_HOST_FILE);
    struct pvs_gs_host *a = NULL, *b = NULL;
    CHECK_INT(pvs_gs_host_load_or_create(&a, path, "made here"), ==, 0);
#ifndef _WIN32
    struct stat st;
    CHECK_INT(stat(path, &st), ==, 0);
    CHECK_INT(st.st_mode & 0777, ==, 0600);
#endif
    CHECK_INT(pvs_gs_host_load_or_create(&b, path, "other name"), ==, 0);
    if (!a || !b)
        return;
    size_t la, lb;
    const char *pa = pvs_gs_host_cert_pem(a, &la), *pb = pvs_gs_host_cert_pem(b, &lb);
    CHECK(la == lb && memcmp(pa, pb, la) == 0);  /* loaded, not made again */
    /* The loaded key is the certificate's: its signatures verify. */
    uint8_t s[PVS_GS_SIG_MAX];
    int n = pvs_gs_host_sign(b, "x", 1, s, sizeof(s));
    CHECK_INT(pvs_gs_cert_verify(pvs_gs_host_cert(a), "x", 1, s, (size_t)n), ==, 0);
    CHECK_INT(pvs_gs_host_save(b, path, true), ==, -EEXIST);
    char key[4096];
    int kn = pvs_gs_host_key_pem(b, key, sizeof(key));
    CHECK(kn > 0 && (size_t)kn == strlen(key));
    CHECK(strncmp(key, "-----BEGIN RSA PRIVATE KEY-----", 31) == 0);
    CHECK_INT(pvs_gs_host_key_pem(b, key, 100), ==, PVS_ERANGE);
    pvs_gs_wipe(key, sizeof(key));
    pvs_gs_host_close(&b);
    CHECK(b == NULL);

    size_t len;
    char *text = read_all(path, &len);
    CHECK(text != NULL);
    if (!text) {
        pvs_gs_host_close(&a);
        return;
    }
    char *cert = strstr(text, "-----BEGIN CERTIFICATE-----");
    CHECK(cert != NULL && strstr(text, "-----BEGIN RSA PRIVATE KEY-----") < cert);

    /* Malformed files are refused, each with a message. */
    CHECK(write_file(path, "garbage\n", 8));
    CHECK_INT(pvs_gs_host_load_or_create(&b, path, "x"), ==, PVS_ECONFIG);
    CHECK(write_file(path, text, (size_t)(cert - text)));  /* the key alone */
    CHECK_INT(pvs_gs_host_load_or_create(&b, path, "x"), ==, PVS_ECONFIG);
    /* g_host's key with a's certificate: not a pair. */
    char other[600];
    path_of(other, sizeof(other), "other.pem");
    CHECK_INT(pvs_gs_host_save(g_host, other, false), ==, 0);
    size_t olen;
    char *otext = read_all(other, &olen);
    char *ocert = otext ? strstr(otext, "-----BEGIN CERTIFICATE-----") : NULL;
    if (ocert) {
        size_t klen = (size_t)(ocert - otext), clen = strlen(cert);
        char *mixed = malloc(klen + clen);
        memcpy(mixed, otext, klen);
        memcpy(mixed + klen, cert, clen);
        CHECK(write_file(path, mixed, klen + clen));
        CHECK_INT(pvs_gs_host_load_or_create(&b, path, "x"), ==, PVS_ECONFIG);
        free(mixed);
    }
    pvs_keyfile_free(otext, olen);
    CHECK(b == NULL);

#ifndef _WIN32
    /* A good file others may read is refused too. */
    CHECK(write_file(path, text, len));
    CHECK_INT(pvs_gs_host_load_or_create(&b, path, "x"), ==, 0);
    pvs_gs_host_close(&b);
    CHECK_INT(chmod(path, 0640), ==, 0);
    CHECK_INT(pvs_gs_host_load_or_create(&b, path, "x"), ==, PVS_ECONFIG);
    CHECK(b == NULL);
#endif
    pvs_keyfile_free(text, len);
    pvs_gs_host_close(&a);
}

static void rm_rf(const char *dir)
{
    char p[600];
    path_of(p, sizeof(p), PVS_GS_HOST_FILE);
    remove(p);
    path_of(p, sizeof(p), "other.pem");
    remove(p);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_dir, sizeof(g_dir), "%s/pvs-gs-crypto-XXXXXX", tmp);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    pvs_log_set_level(PVS_LOG_QUIET);
    RUN(test_sha256);
    RUN(test_aes);
    RUN(test_hex);
    RUN(test_random);
    CHECK_INT(pvs_gs_host_generate(&g_host, "pvs test_host"), ==, 0);
    if (g_host) {
        RUN(test_host_and_certs);
        RUN(test_host_file);
    }
    pvs_gs_host_close(&g_host);
    rm_rf(g_dir);
    TEST_EXIT();
}
