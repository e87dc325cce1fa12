
/*
 * TRACES access gate: JWS compact tokens (ID tokens, logout tokens,
 * private_key_jwt client assertions).
 */


#ifndef _NGX_HTTP_TRACES_JWT_H_INCLUDED_
#define _NGX_HTTP_TRACES_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <jansson.h>
#include <openssl/evp.h>


#define NGX_HTTP_TRACES_JWT_MAX_LEN  16384

#define NGX_HTTP_TRACES_JWT_RS256    0x0001
#define NGX_HTTP_TRACES_JWT_PS256    0x0002
#define NGX_HTTP_TRACES_JWT_PS512    0x0004
#define NGX_HTTP_TRACES_JWT_ES256    0x0008


typedef struct {
    ngx_str_t     signing_input;  /* "header.payload" as received */
    ngx_str_t     signature;      /* decoded */
    ngx_str_t     alg;            /* in header, always present */
    ngx_str_t     kid;            /* in header, empty when absent */
    json_t       *header;         /* objects released by a pool cleanup */
    json_t       *claims;
} ngx_http_traces_jwt_t;


typedef struct {
    ngx_str_t     issuer;
    ngx_str_t     audience;       /* the client id */
    ngx_str_t     nonce;          /* empty: not checked */
    ngx_str_t     acr;            /* allowed values, space separated;
                                     empty: not checked */
    time_t        skew;
    time_t        max_age;        /* oldest iat accepted, seconds before now */
} ngx_http_traces_jwt_expect_t;


/* 0 for an unknown or refused name ("none", "HS256", ...) */
ngx_uint_t ngx_http_traces_jwt_alg_bit(ngx_str_t *name);

/*
 * NGX_OK, NGX_DECLINED (malformed), NGX_ERROR (no memory);
 * jwt->signing_input points into token, which must outlive jwt.
 */
ngx_int_t ngx_http_traces_jwt_parse(ngx_pool_t *pool, ngx_str_t *token,
    ngx_http_traces_jwt_t *jwt);

/*
 * NGX_OK: signed by the JWKS key named by kid, with an allowed alg;
 * NGX_DECLINED: refused, err says why;
 * NGX_AGAIN: no key with this kid in the JWKS (refetch it, then retry once);
 * NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_traces_jwt_verify(ngx_pool_t *pool,
    ngx_http_traces_jwt_t *jwt, ngx_str_t *jwks_json, ngx_uint_t allowed_algs,
    ngx_str_t *err);

/* NGX_OK or NGX_DECLINED, err names the failing claim */
ngx_int_t ngx_http_traces_jwt_check_claims(ngx_http_traces_jwt_t *jwt,
    ngx_http_traces_jwt_expect_t *expect, time_t now, ngx_str_t *err);

/* header {"alg":"RS256","typ":"JWT","kid":kid}; kid may be empty */
ngx_int_t ngx_http_traces_jwt_sign_rs256(ngx_pool_t *pool, EVP_PKEY *key,
    ngx_str_t *kid, json_t *claims, ngx_str_t *out);

/*
 * An RSA private key of at least 2048 bits, PEM, not encrypted; path must
 * be null-terminated.  NULL on failure, logged.  EVP_PKEY_free() it.
 */
EVP_PKEY *ngx_http_traces_pem_private_key(ngx_log_t *log, ngx_str_t *path);


#endif /* _NGX_HTTP_TRACES_JWT_H_INCLUDED_ */
