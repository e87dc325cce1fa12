
/*
 * TRACES access gate: random bytes, hashes, sealed cookie values, PKCE.
 */


#ifndef _NGX_HTTP_TRACES_CRYPTO_H_INCLUDED_
#define _NGX_HTTP_TRACES_CRYPTO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_TRACES_KEY_LEN         32
#define NGX_HTTP_TRACES_SHA256_HEX_LEN  64


ngx_int_t ngx_http_traces_random(u_char *buf, size_t len);
void ngx_http_traces_sha256_hex(u_char *out, u_char *data, size_t len);

/*
 * Strict base64url: no padding, no bytes outside the alphabet, unused
 * trailing bits zero, so that decoding is one-to-one.
 * NGX_OK, NGX_DECLINED (bad input), NGX_ERROR (no memory).
 */
ngx_int_t ngx_http_traces_decode_base64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);
ngx_int_t ngx_http_traces_encode_base64url(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);

/*
 * AES-256-GCM: out = base64url(nonce[12] || ciphertext || tag[16]).
 * ad (may be NULL or empty) is authenticated, not stored: pass the cookie
 * name so that a value sealed for one cookie does not open as another.
 * ngx_http_traces_open() returns NGX_DECLINED for anything that does not
 * authenticate under key and ad.
 */
ngx_int_t ngx_http_traces_seal(ngx_pool_t *pool, u_char *key, ngx_str_t *ad,
    ngx_str_t *plain, ngx_str_t *out);
ngx_int_t ngx_http_traces_open(ngx_pool_t *pool, u_char *key, ngx_str_t *ad,
    ngx_str_t *in, ngx_str_t *plain);

/* RFC 7636 S256: base64url(SHA-256(verifier)), 43 characters */
ngx_int_t ngx_http_traces_pkce_challenge(ngx_pool_t *pool, ngx_str_t *verifier,
    ngx_str_t *challenge);

/*
 * key = HKDF-SHA256(ikm = whole file, salt = none,
 *                   info = "ngx_http_traces cookie key v1");
 * the file must hold at least 32 bytes, at most 4096; path must be
 * null-terminated, as ngx_conf_full_name() leaves it.
 */
ngx_int_t ngx_http_traces_key_from_file(ngx_log_t *log, ngx_str_t *path,
    u_char *key);


#endif /* _NGX_HTTP_TRACES_CRYPTO_H_INCLUDED_ */
