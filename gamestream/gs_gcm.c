/* AES-128-GCM with the tag apart from the ciphertext (gamestream/gs_gcm.h). */
#include <stdbool.h>
#include <string.h>

#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>

#include "common/error.h"
#include "common/log.h"
#include "common/wire.h"
#include "gamestream/gs_gcm.h"

static int with_key(mbedtls_gcm_context *g, const uint8_t *key)
{
    mbedtls_gcm_init(g);
    if (mbedtls_gcm_setkey(g, MBEDTLS_CIPHER_ID_AES, key, 128) != 0) {
        mbedtls_gcm_free(g);
        PVS_LOG_E("Mbed TLS refused an AES-128-GCM key (built without AES or GCM?)");
        return PVS_EEXTERNAL;
    }
    return 0;
}

static bool args_ok(const uint8_t *key, const uint8_t *iv, size_t iv_len,
                    const uint8_t *in, size_t len, const uint8_t *out, const uint8_t *tag)
{
    return key && iv && (iv_len == 12 || iv_len == 16) && tag && (len == 0 || (in && out));
}

/* Seals (tag written) or opens (tag checked) len bytes. */
static int run(bool seal, const uint8_t *key, const uint8_t *iv, size_t iv_len,
               const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    if (!args_ok(key, iv, iv_len, in, len, out, tag))
        return PVS_EINVAL;
    mbedtls_gcm_context g;
    int err = with_key(&g, key);
    if (err)
        return err;
    int rc = seal ? mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, len, iv, iv_len, NULL, 0,
                                              in, out, PVS_GS_GCM_TAG_BYTES, tag)
                  : mbedtls_gcm_auth_decrypt(&g, len, iv, iv_len, NULL, 0, tag,
                                             PVS_GS_GCM_TAG_BYTES, in, out);
    mbedtls_gcm_free(&g);
    if (rc == MBEDTLS_ERR_GCM_AUTH_FAILED) {
        if (len)
            mbedtls_platform_zeroize(out, len);
        return PVS_EBADDATA;
    }
    return rc == 0 ? 0 : PVS_EEXTERNAL;
}

int pvs_gs_gcm_seal(const uint8_t key[PVS_GS_GCM_KEY_BYTES], const uint8_t *iv, size_t iv_len,
                    const uint8_t *in, size_t len, uint8_t *out,
                    uint8_t tag[PVS_GS_GCM_TAG_BYTES])
{
    return run(true, key, iv, iv_len, in, len, out, tag);
}

int pvs_gs_gcm_open(const uint8_t key[PVS_GS_GCM_KEY_BYTES], const uint8_t *iv, size_t iv_len,
                    const uint8_t *in, size_t len, uint8_t *out,
                    const uint8_t tag[PVS_GS_GCM_TAG_BYTES])
{
    /* Mbed TLS only reads the tag when opening. */
    return run(false, key, iv, iv_len, in, len, out, (uint8_t *)(uintptr_t)tag);
}

void pvs_gs_gcm_iv12(uint8_t iv[12], uint32_t seq, char sender, char stream)
{
    memset(iv, 0, 12);
    pvs_put_le32(iv, seq);
    iv[10] = (uint8_t)sender;
    iv[11] = (uint8_t)stream;
}
