
/*
 * TRACES access gate: random bytes, hashes, sealed cookie values, PKCE.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ngx_http_traces_crypto.h"


#define NGX_HTTP_TRACES_NONCE_LEN     12
#define NGX_HTTP_TRACES_TAG_LEN       16
#define NGX_HTTP_TRACES_KEY_FILE_MAX  4096
#define NGX_HTTP_TRACES_KEY_INFO      "ngx_http_traces cookie key v1"


static ngx_uint_t ngx_http_traces_base64url_value(u_char c);
static ngx_int_t ngx_http_traces_read_key_file(ngx_log_t *log, ngx_str_t *path,
    u_char *buf, size_t size, size_t *n);
static ngx_int_t ngx_http_traces_hkdf(u_char *ikm, size_t len, u_char *key);


ngx_int_t
ngx_http_traces_random(u_char *buf, size_t len)
{
    if (len > NGX_MAX_INT32_VALUE || RAND_bytes(buf, (int) len) != 1) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_traces_sha256_hex(u_char *out, u_char *data, size_t len)
{
    u_char         md[SHA256_DIGEST_LENGTH];
    static EVP_MD  *sha256;

    /*
     * fetched once: OpenSSL 3 looks the algorithm up in its providers at
     * every SHA256() call, and this runs on every gated request
     */

    if (sha256 == NULL) {
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    }

    if (sha256 == NULL || !EVP_Digest(data, len, md, NULL, sha256, NULL)) {
        SHA256(data, len, md);
    }

    ngx_hex_dump(out, md, SHA256_DIGEST_LENGTH);
}


ngx_int_t
ngx_http_traces_decode_base64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out)
{
    static const ngx_uint_t  unused[] = { 0, 0, 0x0f, 0x03 };

    /* ngx_decode_base64url() stops at "=" and ignores what follows */

    if (ngx_strlchr(in->data, in->data + in->len, '=') != NULL) {
        return NGX_DECLINED;
    }

    out->data = ngx_pnalloc(pool, ngx_base64_decoded_length(in->len) + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(out, in) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (in->len
        && (ngx_http_traces_base64url_value(in->data[in->len - 1])
            & unused[in->len % 4]))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_traces_base64url_value(u_char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    return (c == '-') ? 62 : 63;
}


ngx_int_t
ngx_http_traces_encode_base64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out)
{
    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(in->len) + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_encode_base64url(out, in);

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_seal(ngx_pool_t *pool, u_char *key, ngx_str_t *ad,
    ngx_str_t *plain, ngx_str_t *out)
{
    int               n;
    u_char           *p;
    ngx_int_t         rc;
    ngx_str_t         raw;
    EVP_CIPHER_CTX   *ctx;

    if (plain->len > NGX_MAX_INT32_VALUE / 2) {
        return NGX_ERROR;
    }

    raw.len = NGX_HTTP_TRACES_NONCE_LEN + plain->len + NGX_HTTP_TRACES_TAG_LEN;
    raw.data = ngx_pnalloc(pool, raw.len);
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_traces_random(raw.data, NGX_HTTP_TRACES_NONCE_LEN)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    p = raw.data + NGX_HTTP_TRACES_NONCE_LEN;

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw.data) != 1
        || (ad != NULL && ad->len
            && EVP_EncryptUpdate(ctx, NULL, &n, ad->data, (int) ad->len) != 1)
        || EVP_EncryptUpdate(ctx, p, &n, plain->data, (int) plain->len) != 1
        || EVP_EncryptFinal_ex(ctx, p + n, &n) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                               NGX_HTTP_TRACES_TAG_LEN, p + plain->len)
           != 1)
    {
        rc = NGX_ERROR;

    } else {
        rc = ngx_http_traces_encode_base64url(pool, &raw, out);
    }

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


ngx_int_t
ngx_http_traces_open(ngx_pool_t *pool, u_char *key, ngx_str_t *ad,
    ngx_str_t *in, ngx_str_t *plain)
{
    int               n;
    u_char           *tag;
    ngx_int_t         rc;
    ngx_str_t         raw;
    EVP_CIPHER_CTX   *ctx;

    if (in->len > NGX_MAX_INT32_VALUE / 2) {
        return NGX_DECLINED;
    }

    rc = ngx_http_traces_decode_base64url(pool, in, &raw);
    if (rc != NGX_OK) {
        return rc;
    }

    if (raw.len < NGX_HTTP_TRACES_NONCE_LEN + NGX_HTTP_TRACES_TAG_LEN) {
        return NGX_DECLINED;
    }

    plain->len = raw.len - NGX_HTTP_TRACES_NONCE_LEN - NGX_HTTP_TRACES_TAG_LEN;
    plain->data = ngx_pnalloc(pool, plain->len + 1);
    if (plain->data == NULL) {
        return NGX_ERROR;
    }

    tag = raw.data + raw.len - NGX_HTTP_TRACES_TAG_LEN;

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw.data) != 1
        || (ad != NULL && ad->len
            && EVP_DecryptUpdate(ctx, NULL, &n, ad->data, (int) ad->len) != 1)
        || EVP_DecryptUpdate(ctx, plain->data, &n,
                             raw.data + NGX_HTTP_TRACES_NONCE_LEN,
                             (int) plain->len) != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                               NGX_HTTP_TRACES_TAG_LEN, tag) != 1
        || EVP_DecryptFinal_ex(ctx, plain->data + n, &n) != 1)
    {
        plain->len = 0;
        rc = NGX_DECLINED;

    } else {
        rc = NGX_OK;
    }

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


ngx_int_t
ngx_http_traces_pkce_challenge(ngx_pool_t *pool, ngx_str_t *verifier,
    ngx_str_t *challenge)
{
    u_char     md[SHA256_DIGEST_LENGTH];
    ngx_str_t  digest;

    SHA256(verifier->data, verifier->len, md);

    digest.len = SHA256_DIGEST_LENGTH;
    digest.data = md;

    return ngx_http_traces_encode_base64url(pool, &digest, challenge);
}


ngx_int_t
ngx_http_traces_key_from_file(ngx_log_t *log, ngx_str_t *path, u_char *key)
{
    u_char     buf[NGX_HTTP_TRACES_KEY_FILE_MAX + 1];
    size_t     n;
    ngx_int_t  rc;

    rc = ngx_http_traces_read_key_file(log, path, buf, sizeof(buf), &n);

    if (rc == NGX_OK) {
        if (n < NGX_HTTP_TRACES_KEY_LEN || n > NGX_HTTP_TRACES_KEY_FILE_MAX) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "key file \"%V\" must hold %d to %d bytes",
                          path, NGX_HTTP_TRACES_KEY_LEN,
                          NGX_HTTP_TRACES_KEY_FILE_MAX);
            rc = NGX_ERROR;

        } else if (ngx_http_traces_hkdf(buf, n, key) != NGX_OK) {
            ngx_log_error(NGX_LOG_EMERG, log, 0,
                          "HKDF failed for key file \"%V\"", path);
            rc = NGX_ERROR;
        }
    }

    OPENSSL_cleanse(buf, sizeof(buf));

    return rc;
}


static ngx_int_t
ngx_http_traces_read_key_file(ngx_log_t *log, ngx_str_t *path, u_char *buf,
    size_t size, size_t *n)
{
    ssize_t   r;
    ngx_fd_t  fd;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", path);
        return NGX_ERROR;
    }

    *n = 0;
    r = 0;

    while (*n < size) {
        r = ngx_read_fd(fd, buf + *n, size - *n);

        if (r == -1) {
            ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                          ngx_read_fd_n " \"%V\" failed", path);
            break;
        }

        if (r == 0) {
            break;
        }

        *n += r;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return (r == -1) ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_http_traces_hkdf(u_char *ikm, size_t len, u_char *key)
{
    int            ok;
    EVP_KDF       *kdf;
    OSSL_PARAM     params[4];
    EVP_KDF_CTX   *kctx;

    kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (kdf == NULL) {
        return NGX_ERROR;
    }

    kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);

    if (kctx == NULL) {
        return NGX_ERROR;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  ikm, len);
    params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                   (void *) NGX_HTTP_TRACES_KEY_INFO,
                                   sizeof(NGX_HTTP_TRACES_KEY_INFO) - 1);
    params[3] = OSSL_PARAM_construct_end();

    ok = EVP_KDF_derive(kctx, key, NGX_HTTP_TRACES_KEY_LEN, params);

    EVP_KDF_CTX_free(kctx);

    return (ok == 1) ? NGX_OK : NGX_ERROR;
}
