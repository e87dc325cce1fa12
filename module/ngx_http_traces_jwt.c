
/*
 * TRACES access gate: JWS compact tokens (ID tokens, logout tokens,
 * private_key_jwt client assertions).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "ngx_http_traces_crypto.h"
#include "ngx_http_traces_jwt.h"


#define NGX_HTTP_TRACES_JWT_RSA_MIN_BITS  2048
#define NGX_HTTP_TRACES_JWT_RSA_MAX_BITS  8192
#define NGX_HTTP_TRACES_JWT_P256_LEN      32

/* far enough for any NumericDate, near enough for the cast to time_t */
#define NGX_HTTP_TRACES_JWT_MAX_TIME      253402300799.0


typedef struct {
    ngx_str_t     name;
    ngx_uint_t    bit;
    ngx_str_t     kty;
    const char   *md;
    ngx_uint_t    pss;
} ngx_http_traces_jwt_alg_t;


static ngx_http_traces_jwt_alg_t *ngx_http_traces_jwt_alg(ngx_str_t *name);
static ngx_int_t ngx_http_traces_jwt_json(ngx_pool_t *pool, ngx_str_t *b64,
    json_t **json);
static void ngx_http_traces_jwt_cleanup(void *data);
static ngx_uint_t ngx_http_traces_jwt_string_eq(json_t *v, ngx_str_t *s);
static ngx_int_t ngx_http_traces_jwt_find_key(ngx_http_traces_jwt_t *jwt,
    ngx_http_traces_jwt_alg_t *alg, json_t *jwks, json_t **jwk,
    ngx_str_t *err);
static ngx_int_t ngx_http_traces_jwt_member(ngx_pool_t *pool, json_t *jwk,
    const char *name, ngx_str_t *out);
static ngx_int_t ngx_http_traces_jwt_import_rsa(ngx_pool_t *pool,
    json_t *jwk, EVP_PKEY **pkey, ngx_str_t *err);
static ngx_int_t ngx_http_traces_jwt_import_ec(ngx_pool_t *pool, json_t *jwk,
    EVP_PKEY **pkey, ngx_str_t *err);
static EVP_PKEY *ngx_http_traces_jwt_fromdata(const char *type,
    OSSL_PARAM *params);
static ngx_int_t ngx_http_traces_jwt_check_signature(ngx_pool_t *pool,
    ngx_http_traces_jwt_t *jwt, ngx_http_traces_jwt_alg_t *alg,
    EVP_PKEY *pkey, ngx_str_t *err);
static ngx_int_t ngx_http_traces_jwt_ecdsa_der(ngx_pool_t *pool,
    ngx_str_t *raw, ngx_str_t *der);
static ngx_int_t ngx_http_traces_jwt_check_aud(json_t *claims,
    ngx_str_t *client_id, ngx_str_t *err);
static ngx_int_t ngx_http_traces_jwt_time(json_t *claims, const char *name,
    time_t *t);
static ngx_uint_t ngx_http_traces_jwt_in_list(json_t *v, ngx_str_t *list);
static ngx_int_t ngx_http_traces_jwt_encode_json(ngx_pool_t *pool,
    json_t *json, ngx_str_t *out);


static ngx_http_traces_jwt_alg_t  ngx_http_traces_jwt_algs[] = {

    { ngx_string("RS256"), NGX_HTTP_TRACES_JWT_RS256, ngx_string("RSA"),
      "SHA256", 0 },

    { ngx_string("PS256"), NGX_HTTP_TRACES_JWT_PS256, ngx_string("RSA"),
      "SHA256", 1 },

    { ngx_string("PS512"), NGX_HTTP_TRACES_JWT_PS512, ngx_string("RSA"),
      "SHA512", 1 },

    { ngx_string("ES256"), NGX_HTTP_TRACES_JWT_ES256, ngx_string("EC"),
      "SHA256", 0 },

    { ngx_null_string, 0, ngx_null_string, NULL, 0 }
};


ngx_uint_t
ngx_http_traces_jwt_alg_bit(ngx_str_t *name)
{
    ngx_http_traces_jwt_alg_t  *alg;

    alg = ngx_http_traces_jwt_alg(name);

    return (alg != NULL) ? alg->bit : 0;
}


static ngx_http_traces_jwt_alg_t *
ngx_http_traces_jwt_alg(ngx_str_t *name)
{
    ngx_http_traces_jwt_alg_t  *alg;

    for (alg = ngx_http_traces_jwt_algs; alg->bit; alg++) {
        if (alg->name.len == name->len
            && ngx_strncmp(alg->name.data, name->data, name->len) == 0)
        {
            return alg;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_traces_jwt_parse(ngx_pool_t *pool, ngx_str_t *token,
    ngx_http_traces_jwt_t *jwt)
{
    u_char     *dot1, *dot2, *end;
    json_t     *v;
    ngx_int_t   rc;
    ngx_str_t   part;

    ngx_memzero(jwt, sizeof(ngx_http_traces_jwt_t));

    if (token->len > NGX_HTTP_TRACES_JWT_MAX_LEN) {
        return NGX_DECLINED;
    }

    end = token->data + token->len;

    dot1 = ngx_strlchr(token->data, end, '.');
    if (dot1 == NULL) {
        return NGX_DECLINED;
    }

    dot2 = ngx_strlchr(dot1 + 1, end, '.');
    if (dot2 == NULL || ngx_strlchr(dot2 + 1, end, '.') != NULL) {
        return NGX_DECLINED;
    }

    part.data = token->data;
    part.len = dot1 - token->data;

    rc = ngx_http_traces_jwt_json(pool, &part, &jwt->header);
    if (rc != NGX_OK) {
        return rc;
    }

    part.data = dot1 + 1;
    part.len = dot2 - part.data;

    rc = ngx_http_traces_jwt_json(pool, &part, &jwt->claims);
    if (rc != NGX_OK) {
        return rc;
    }

    part.data = dot2 + 1;
    part.len = end - part.data;

    rc = ngx_http_traces_decode_base64url(pool, &part, &jwt->signature);
    if (rc != NGX_OK) {
        return rc;
    }

    jwt->signing_input.data = token->data;
    jwt->signing_input.len = dot2 - token->data;

    v = json_object_get(jwt->header, "alg");

    /* "alg":"" is no algorithm either (found by t/fuzz/fuzz_jwt.c) */
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return NGX_DECLINED;
    }

    jwt->alg.data = (u_char *) json_string_value(v);
    jwt->alg.len = json_string_length(v);

    v = json_object_get(jwt->header, "kid");

    if (v != NULL) {
        if (!json_is_string(v)) {
            return NGX_DECLINED;
        }

        jwt->kid.data = (u_char *) json_string_value(v);
        jwt->kid.len = json_string_length(v);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_jwt_json(ngx_pool_t *pool, ngx_str_t *b64, json_t **json)
{
    ngx_int_t            rc;
    ngx_str_t            raw;
    json_error_t         error;
    ngx_pool_cleanup_t  *cln;

    rc = ngx_http_traces_decode_base64url(pool, b64, &raw);
    if (rc != NGX_OK) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    *json = json_loadb((char *) raw.data, raw.len, JSON_REJECT_DUPLICATES,
                       &error);
    if (*json == NULL) {
        return NGX_DECLINED;
    }

    cln->handler = ngx_http_traces_jwt_cleanup;
    cln->data = *json;

    return json_is_object(*json) ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_traces_jwt_cleanup(void *data)
{
    json_decref(data);
}


static ngx_uint_t
ngx_http_traces_jwt_string_eq(json_t *v, ngx_str_t *s)
{
    return json_is_string(v)
           && json_string_length(v) == s->len
           && ngx_memcmp(json_string_value(v), s->data, s->len) == 0;
}


ngx_int_t
ngx_http_traces_jwt_verify(ngx_pool_t *pool, ngx_http_traces_jwt_t *jwt,
    ngx_str_t *jwks_json, ngx_uint_t allowed_algs, ngx_str_t *err)
{
    json_t                     *jwks, *jwk;
    EVP_PKEY                   *pkey;
    ngx_int_t                   rc;
    json_error_t                error;
    ngx_http_traces_jwt_alg_t  *alg;

    alg = ngx_http_traces_jwt_alg(&jwt->alg);

    if (alg == NULL || (alg->bit & allowed_algs) == 0) {
        ngx_str_set(err, "alg not allowed");
        return NGX_DECLINED;
    }

    /* no extension is understood, so none may be critical (RFC 7515) */

    if (json_object_get(jwt->header, "crit") != NULL) {
        ngx_str_set(err, "crit header not supported");
        return NGX_DECLINED;
    }

    jwks = json_loadb((char *) jwks_json->data, jwks_json->len,
                      JSON_REJECT_DUPLICATES, &error);
    if (jwks == NULL) {
        ngx_str_set(err, "invalid JWKS");
        return NGX_DECLINED;
    }

    rc = ngx_http_traces_jwt_find_key(jwt, alg, jwks, &jwk, err);

    if (rc == NGX_OK) {
        if (alg->bit == NGX_HTTP_TRACES_JWT_ES256) {
            rc = ngx_http_traces_jwt_import_ec(pool, jwk, &pkey, err);

        } else {
            rc = ngx_http_traces_jwt_import_rsa(pool, jwk, &pkey, err);
        }

        if (rc == NGX_OK) {
            rc = ngx_http_traces_jwt_check_signature(pool, jwt, alg, pkey,
                                                     err);
            EVP_PKEY_free(pkey);
        }
    }

    json_decref(jwks);

    /* leave nothing in the queue that nginx's SSL code would pick up */
    ERR_clear_error();

    return rc;
}


static ngx_int_t
ngx_http_traces_jwt_find_key(ngx_http_traces_jwt_t *jwt,
    ngx_http_traces_jwt_alg_t *alg, json_t *jwks, json_t **jwk,
    ngx_str_t *err)
{
    size_t       i;
    json_t      *keys, *key, *use;
    ngx_str_t    sig = ngx_string("sig");
    ngx_uint_t   named, fit;

    keys = json_object_get(jwks, "keys");
    if (!json_is_array(keys)) {
        ngx_str_set(err, "invalid JWKS");
        return NGX_DECLINED;
    }

    *jwk = NULL;
    named = 0;
    fit = 0;

    json_array_foreach(keys, i, key) {

        if (!json_is_object(key)) {
            continue;
        }

        if (jwt->kid.len
            && !ngx_http_traces_jwt_string_eq(json_object_get(key, "kid"),
                                              &jwt->kid))
        {
            continue;
        }

        named++;

        use = json_object_get(key, "use");

        if ((use != NULL && !ngx_http_traces_jwt_string_eq(use, &sig))
            || !ngx_http_traces_jwt_string_eq(json_object_get(key, "kty"),
                                              &alg->kty))
        {
            continue;
        }

        if (fit++ == 0) {
            *jwk = key;
        }
    }

    if (fit == 0) {
        if (named) {
            ngx_str_set(err, "wrong key type or use");
            return NGX_DECLINED;
        }

        ngx_str_set(err, "unknown kid");
        return NGX_AGAIN;
    }

    if (fit > 1) {
        ngx_str_set(err, "ambiguous key");
        return NGX_DECLINED;
    }

    if (json_object_get(*jwk, "alg") != NULL
        && !ngx_http_traces_jwt_string_eq(json_object_get(*jwk, "alg"),
                                          &alg->name))
    {
        ngx_str_set(err, "key alg mismatch");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_jwt_member(ngx_pool_t *pool, json_t *jwk, const char *name,
    ngx_str_t *out)
{
    json_t     *v;
    ngx_int_t   rc;
    ngx_str_t   b64;

    v = json_object_get(jwk, name);
    if (!json_is_string(v)) {
        return NGX_DECLINED;
    }

    b64.data = (u_char *) json_string_value(v);
    b64.len = json_string_length(v);

    rc = ngx_http_traces_decode_base64url(pool, &b64, out);

    if (rc == NGX_OK && out->len == 0) {
        return NGX_DECLINED;
    }

    return rc;
}


static ngx_int_t
ngx_http_traces_jwt_import_rsa(ngx_pool_t *pool, json_t *jwk,
    EVP_PKEY **pkey, ngx_str_t *err)
{
    int              bits;
    BIGNUM          *n, *e;
    ngx_int_t        rc;
    ngx_str_t        n_raw, e_raw;
    OSSL_PARAM      *params;
    OSSL_PARAM_BLD  *bld;

    rc = ngx_http_traces_jwt_member(pool, jwk, "n", &n_raw);

    if (rc == NGX_OK) {
        rc = ngx_http_traces_jwt_member(pool, jwk, "e", &e_raw);
    }

    if (rc == NGX_OK
        && (n_raw.len > NGX_HTTP_TRACES_JWT_RSA_MAX_BITS / 8
            || e_raw.len > 8))
    {
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_str_set(err, "invalid RSA key");
        return rc;
    }

    n = BN_bin2bn(n_raw.data, (int) n_raw.len, NULL);
    e = BN_bin2bn(e_raw.data, (int) e_raw.len, NULL);
    bld = OSSL_PARAM_BLD_new();
    params = NULL;

    if (n != NULL && e != NULL && bld != NULL
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
    {
        params = OSSL_PARAM_BLD_to_param(bld);
    }

    *pkey = ngx_http_traces_jwt_fromdata("RSA", params);

    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    if (*pkey == NULL) {
        ngx_str_set(err, "invalid RSA key");
        return NGX_DECLINED;
    }

    bits = EVP_PKEY_get_bits(*pkey);

    if (bits < NGX_HTTP_TRACES_JWT_RSA_MIN_BITS) {
        EVP_PKEY_free(*pkey);
        ngx_str_set(err, "RSA key too small");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_jwt_import_ec(ngx_pool_t *pool, json_t *jwk, EVP_PKEY **pkey,
    ngx_str_t *err)
{
    u_char       point[1 + 2 * NGX_HTTP_TRACES_JWT_P256_LEN], *p;
    ngx_int_t    rc;
    ngx_str_t    x, y;
    ngx_str_t    crv = ngx_string("P-256");
    OSSL_PARAM   params[3];

    if (!ngx_http_traces_jwt_string_eq(json_object_get(jwk, "crv"), &crv)) {
        ngx_str_set(err, "unsupported curve");
        return NGX_DECLINED;
    }

    rc = ngx_http_traces_jwt_member(pool, jwk, "x", &x);

    if (rc == NGX_OK) {
        rc = ngx_http_traces_jwt_member(pool, jwk, "y", &y);
    }

    if (rc == NGX_OK
        && (x.len != NGX_HTTP_TRACES_JWT_P256_LEN
            || y.len != NGX_HTTP_TRACES_JWT_P256_LEN))
    {
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_str_set(err, "invalid EC key");
        return rc;
    }

    /* uncompressed point, SEC 1 */

    p = point;
    *p++ = 0x04;
    p = ngx_cpymem(p, x.data, x.len);
    ngx_memcpy(p, y.data, y.len);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) SN_X9_62_prime256v1,
                                                 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();

    /* a point off the curve is refused here */

    *pkey = ngx_http_traces_jwt_fromdata("EC", params);

    if (*pkey == NULL) {
        ngx_str_set(err, "invalid EC key");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static EVP_PKEY *
ngx_http_traces_jwt_fromdata(const char *type, OSSL_PARAM *params)
{
    EVP_PKEY      *pkey;
    EVP_PKEY_CTX  *ctx;

    if (params == NULL) {
        return NULL;
    }

    ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL) {
        return NULL;
    }

    pkey = NULL;

    if (EVP_PKEY_fromdata_init(ctx) == 1) {
        (void) EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    }

    EVP_PKEY_CTX_free(ctx);

    return pkey;
}


static ngx_int_t
ngx_http_traces_jwt_check_signature(ngx_pool_t *pool,
    ngx_http_traces_jwt_t *jwt, ngx_http_traces_jwt_alg_t *alg,
    EVP_PKEY *pkey, ngx_str_t *err)
{
    ngx_int_t      rc;
    ngx_str_t      sig;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;

    if (alg->bit == NGX_HTTP_TRACES_JWT_ES256) {
        rc = ngx_http_traces_jwt_ecdsa_der(pool, &jwt->signature, &sig);

    } else if (jwt->signature.len == (size_t) EVP_PKEY_get_size(pkey)) {
        sig = jwt->signature;
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ngx_str_set(err, "bad signature");
        return rc;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return NGX_ERROR;
    }

    if (EVP_DigestVerifyInit_ex(mctx, &pctx, alg->md, NULL, NULL, pkey, NULL)
        == 1
        && (!alg->pss
            || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0
                && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                    RSA_PSS_SALTLEN_DIGEST)
                   > 0))
        && EVP_DigestVerify(mctx, sig.data, sig.len, jwt->signing_input.data,
                            jwt->signing_input.len)
           == 1)
    {
        rc = NGX_OK;

    } else {
        ngx_str_set(err, "bad signature");
        rc = NGX_DECLINED;
    }

    EVP_MD_CTX_free(mctx);

    return rc;
}


/* JWS carries r || s (RFC 7518, 3.4), OpenSSL wants DER */

static ngx_int_t
ngx_http_traces_jwt_ecdsa_der(ngx_pool_t *pool, ngx_str_t *raw,
    ngx_str_t *der)
{
    int         len;
    u_char     *p;
    BIGNUM     *r, *s;
    ECDSA_SIG  *es;

    if (raw->len != 2 * NGX_HTTP_TRACES_JWT_P256_LEN) {
        return NGX_DECLINED;
    }

    r = BN_bin2bn(raw->data, NGX_HTTP_TRACES_JWT_P256_LEN, NULL);
    s = BN_bin2bn(raw->data + NGX_HTTP_TRACES_JWT_P256_LEN,
                  NGX_HTTP_TRACES_JWT_P256_LEN, NULL);
    es = ECDSA_SIG_new();

    if (r == NULL || s == NULL || es == NULL
        || ECDSA_SIG_set0(es, r, s) != 1)
    {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return NGX_ERROR;
    }

    len = i2d_ECDSA_SIG(es, NULL);

    der->data = (len > 0) ? ngx_pnalloc(pool, len) : NULL;

    if (der->data == NULL) {
        ECDSA_SIG_free(es);
        return NGX_ERROR;
    }

    p = der->data;
    der->len = i2d_ECDSA_SIG(es, &p);

    ECDSA_SIG_free(es);

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_jwt_check_claims(ngx_http_traces_jwt_t *jwt,
    ngx_http_traces_jwt_expect_t *expect, time_t now, ngx_str_t *err)
{
    time_t   exp, iat;
    json_t  *claims;

    claims = jwt->claims;

    if (!ngx_http_traces_jwt_string_eq(json_object_get(claims, "iss"),
                                       &expect->issuer))
    {
        ngx_str_set(err, "iss mismatch");
        return NGX_DECLINED;
    }

    if (ngx_http_traces_jwt_check_aud(claims, &expect->audience, err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_traces_jwt_time(claims, "exp", &exp) != NGX_OK
        || exp <= now - expect->skew)
    {
        ngx_str_set(err, "exp missing or passed");
        return NGX_DECLINED;
    }

    if (ngx_http_traces_jwt_time(claims, "iat", &iat) != NGX_OK
        || iat > now + expect->skew
        || iat < now - expect->max_age)
    {
        ngx_str_set(err, "iat missing or out of range");
        return NGX_DECLINED;
    }

    if (expect->nonce.len
        && !ngx_http_traces_jwt_string_eq(json_object_get(claims, "nonce"),
                                          &expect->nonce))
    {
        ngx_str_set(err, "nonce mismatch");
        return NGX_DECLINED;
    }

    if (expect->acr.len
        && !ngx_http_traces_jwt_in_list(json_object_get(claims, "acr"),
                                        &expect->acr))
    {
        ngx_str_set(err, "acr not allowed");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_jwt_check_aud(json_t *claims, ngx_str_t *client_id,
    ngx_str_t *err)
{
    size_t       i;
    json_t      *aud, *azp, *v;
    ngx_uint_t   found, several;

    aud = json_object_get(claims, "aud");

    if (json_is_array(aud)) {
        found = 0;
        several = (json_array_size(aud) > 1);

        json_array_foreach(aud, i, v) {
            if (ngx_http_traces_jwt_string_eq(v, client_id)) {
                found = 1;
            }
        }

    } else {
        found = ngx_http_traces_jwt_string_eq(aud, client_id);
        several = 0;
    }

    if (!found) {
        ngx_str_set(err, "aud mismatch");
        return NGX_DECLINED;
    }

    azp = json_object_get(claims, "azp");

    if ((several || azp != NULL)
        && !ngx_http_traces_jwt_string_eq(azp, client_id))
    {
        ngx_str_set(err, "azp mismatch");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_jwt_time(json_t *claims, const char *name, time_t *t)
{
    double   d;
    json_t  *v;

    v = json_object_get(claims, name);
    if (!json_is_number(v)) {
        return NGX_DECLINED;
    }

    /* a NumericDate may have a fraction (RFC 7519, 2) */

    d = json_number_value(v);

    if (d < 0 || d > NGX_HTTP_TRACES_JWT_MAX_TIME) {
        return NGX_DECLINED;
    }

    *t = (time_t) d;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_traces_jwt_in_list(json_t *v, ngx_str_t *list)
{
    u_char     *p, *end, *sp;
    ngx_str_t   item;

    p = list->data;
    end = p + list->len;

    while (p < end) {
        sp = ngx_strlchr(p, end, ' ');
        if (sp == NULL) {
            sp = end;
        }

        item.data = p;
        item.len = sp - p;

        if (item.len && ngx_http_traces_jwt_string_eq(v, &item)) {
            return 1;
        }

        p = sp + 1;
    }

    return 0;
}


ngx_int_t
ngx_http_traces_jwt_sign_rs256(ngx_pool_t *pool, EVP_PKEY *key,
    ngx_str_t *kid, json_t *claims, ngx_str_t *out)
{
    u_char      *p;
    size_t       siglen;
    json_t      *header;
    ngx_int_t    rc;
    ngx_str_t    h, c, sig, b64;
    EVP_MD_CTX  *mctx;

    header = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    if (header == NULL) {
        return NGX_ERROR;
    }

    if (kid->len
        && json_object_set_new(header, "kid",
                               json_stringn((char *) kid->data, kid->len))
           != 0)
    {
        json_decref(header);
        return NGX_ERROR;
    }

    rc = ngx_http_traces_jwt_encode_json(pool, header, &h);

    json_decref(header);

    if (rc != NGX_OK
        || ngx_http_traces_jwt_encode_json(pool, claims, &c) != NGX_OK)
    {
        return NGX_ERROR;
    }

    siglen = EVP_PKEY_get_size(key);

    sig.data = ngx_pnalloc(pool, siglen);
    out->data = ngx_pnalloc(pool, h.len + c.len + 2
                                  + ngx_base64_encoded_length(siglen));

    if (sig.data == NULL || out->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(out->data, h.data, h.len);
    *p++ = '.';
    p = ngx_cpymem(p, c.data, c.len);

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return NGX_ERROR;
    }

    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL)
        != 1
        || EVP_DigestSign(mctx, sig.data, &siglen, out->data, p - out->data)
           != 1)
    {
        rc = NGX_ERROR;
    }

    EVP_MD_CTX_free(mctx);

    if (rc != NGX_OK) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    sig.len = siglen;

    *p++ = '.';

    b64.data = p;
    ngx_encode_base64url(&b64, &sig);

    out->len = p + b64.len - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_jwt_encode_json(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out)
{
    size_t     len;
    ngx_str_t  raw;

    len = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (len == 0) {
        return NGX_ERROR;
    }

    raw.data = ngx_pnalloc(pool, len);
    if (raw.data == NULL) {
        return NGX_ERROR;
    }

    raw.len = json_dumpb(json, (char *) raw.data, len, JSON_COMPACT);
    if (raw.len != len) {
        return NGX_ERROR;
    }

    return ngx_http_traces_encode_base64url(pool, &raw, out);
}


EVP_PKEY *
ngx_http_traces_pem_private_key(ngx_log_t *log, ngx_str_t *path)
{
    BIO       *bio;
    EVP_PKEY  *key;

    bio = BIO_new_file((char *) path->data, "r");
    if (bio == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "cannot open private key file \"%V\"", path);
        ERR_clear_error();
        return NULL;
    }

    /* an empty passphrase rather than a prompt on the terminal */

    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *) "");

    BIO_free(bio);

    if (key == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "cannot read an unencrypted PEM private key from \"%V\"",
                      path);
        ERR_clear_error();
        return NULL;
    }

    if (!EVP_PKEY_is_a(key, "RSA")
        || EVP_PKEY_get_bits(key) < NGX_HTTP_TRACES_JWT_RSA_MIN_BITS)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "private key \"%V\" is not an RSA key "
                      "of %d bits or more",
                      path, NGX_HTTP_TRACES_JWT_RSA_MIN_BITS);
        EVP_PKEY_free(key);
        return NULL;
    }

    return key;
}
