/*
 * Sealed cookie values (module/ngx_http_traces_crypto.c): the login-state
 * cookie is opened from whatever a browser sends.  Checks: opening any
 * input never reads past it and fails unless it authenticates; sealing
 * then opening gives the input back, and not under another cookie name;
 * base64url decoding is strict, so that decoding then encoding gives the
 * input back (one value, one spelling).
 */

#include "fuzz_common.h"
#include "ngx_http_traces_crypto.h"


static u_char  key[NGX_HTTP_TRACES_KEY_LEN] = "0123456789abcdef0123456789abcdef";


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t    rc;
    ngx_str_t    in, ad, other, plain, sealed, decoded, encoded;
    ngx_pool_t  *pool;

    pool = fuzz_pool();
    in.data = fuzz_copy(pool, data, size);
    in.len = size;
    ngx_str_set(&ad, "traces_login_0123456789");
    ngx_str_set(&other, "traces_login_9876543210");

    /* open: what a browser sends */
    rc = ngx_http_traces_open(pool, key, &ad, &in, &plain);
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc == NGX_OK) {
        /* forging a GCM tag is not what a fuzzer does: only a sealed seed */
        FUZZ_ASSERT(plain.len + 28 <= ngx_base64_decoded_length(in.len));
    }

    rc = ngx_http_traces_open(pool, key, NULL, &in, &plain);
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_DECLINED);

    /* decode is strict: one spelling per value */
    rc = ngx_http_traces_decode_base64url(pool, &in, &decoded);
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc == NGX_OK) {
        decoded.data = fuzz_copy(pool, decoded.data, decoded.len);
        FUZZ_ASSERT(ngx_http_traces_encode_base64url(pool, &decoded, &encoded) == NGX_OK);
        FUZZ_ASSERT(encoded.len == in.len && ngx_memcmp(encoded.data, in.data, in.len) == 0);
    }

    /* seal the input, open it again: the same bytes, and only under ad */
    if (size < 8192) {
        FUZZ_ASSERT(ngx_http_traces_seal(pool, key, &ad, &in, &sealed) == NGX_OK);
        sealed.data = fuzz_copy(pool, sealed.data, sealed.len);
        FUZZ_ASSERT(ngx_http_traces_open(pool, key, &ad, &sealed, &plain) == NGX_OK);
        FUZZ_ASSERT(plain.len == in.len && ngx_memcmp(plain.data, in.data, in.len) == 0);
        FUZZ_ASSERT(ngx_http_traces_open(pool, key, &other, &sealed, &plain) == NGX_DECLINED);

        if (sealed.len > 20) {
            sealed.data[sealed.len / 2] ^= 1;
            rc = ngx_http_traces_open(pool, key, &ad, &sealed, &plain);
            FUZZ_ASSERT(rc == NGX_DECLINED);
        }
    }

    ngx_destroy_pool(pool);
    return 0;
}
