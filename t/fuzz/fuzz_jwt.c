/*
 * ID tokens and logout tokens (module/ngx_http_traces_jwt.c): JWS compact
 * parsing, signature verification against a JWKS, and the claim checks.
 * An input is a token, or a token, a newline and a JWKS (so that JWKS
 * parsing and key import are fuzzed too); otherwise the JWKS below (an
 * RSA and a P-256 key, whose signed tokens are the seeds) is used.
 * Checks: results are NGX_OK/NGX_DECLINED/NGX_AGAIN, a refusal says why,
 * alg "none" and HMAC are never verified, verified tokens come only from
 * the allowed algorithms.
 */

#include "fuzz_common.h"
#include "ngx_http_traces_jwt.h"


static const char  fuzz_jwks[] = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"-cUeSe5sZxsMTl8BixuOeiOUcQTc9Yi-DsIIbUMK1BL-Oja_ZbLCR6--Zmo_hi3dimuOnDwGmxf4WQoHR_605XBk-E4Ee0TM0TDQ3C3fgoTBI1EwNl4pl7xFlMmZ91PazCY2t_aRNQ61WtseeJ0VBskmcK3CzFA4jWgULdQJivxxxR-blTIZ0Q59jLGv4TDFzAC8C7c-AadzJ8y0stsQEzDAA9VjuZziJNmmnT0yFdKF9pNAYKpmTnH7ScCwV31zL5r9t5WenyihoLWh2WHV3uNI7sDQ48bCPsoSfKe_oOdjdMJvy_EzngGlCxhdjysJPEfg-evWzJXrNA0jxGHhYw\",\"e\":\"AQAB\",\"kid\":\"rsa-1\",\"use\":\"sig\",\"alg\":\"RS256\"},{\"kty\":\"EC\",\"x\":\"PzRlz0EJoLpF4YuuU4ddtuzT4wQHAkV_sOuNQpqmiHQ\",\"y\":\"ExAqxIkJ2JRFHGrKpGOgDe79903EEm5RDZsBs71d-I4\",\"crv\":\"P-256\",\"kid\":\"ec-1\",\"use\":\"sig\",\"alg\":\"ES256\"}]}";

/* the seeds' iat + 27 s: they stay valid whatever the date */
#define FUZZ_NOW  1795767200


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                        *nl, *copy;
    ngx_int_t                      rc;
    ngx_str_t                      token, jwks, err, alg;
    ngx_uint_t                     algs;
    ngx_pool_t                    *pool;
    ngx_http_traces_jwt_t          jwt;
    ngx_http_traces_jwt_expect_t   expect;

    if (size > NGX_HTTP_TRACES_JWT_MAX_LEN + 65536) {
        return 0;
    }

    pool = fuzz_pool();
    copy = fuzz_copy(pool, data, size);

    nl = memchr(copy, '\n', size);

    token.data = copy;
    token.len = nl ? (size_t) (nl - copy) : size;

    if (nl) {
        jwks.data = fuzz_copy(pool, nl + 1, size - token.len - 1);
        jwks.len = size - token.len - 1;

    } else {
        jwks.data = (u_char *) fuzz_jwks;
        jwks.len = sizeof(fuzz_jwks) - 1;
    }

    ngx_memzero(&jwt, sizeof(jwt));
    rc = ngx_http_traces_jwt_parse(pool, &token, &jwt);
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_DECLINED);

    if (rc != NGX_OK) {
        goto done;
    }

    FUZZ_ASSERT(jwt.header != NULL && jwt.claims != NULL);
    FUZZ_ASSERT(jwt.alg.len > 0);
    FUZZ_ASSERT(jwt.signing_input.data >= token.data
                && jwt.signing_input.data + jwt.signing_input.len
                   <= token.data + token.len);

    /* the algorithm choice from the input too, as a configuration does */
    algs = (size ? data[size - 1] : 0x0f) & 0x0f;
    algs = algs ? algs : 0x0f;

    ngx_str_null(&err);
    rc = ngx_http_traces_jwt_verify(pool, &jwt, &jwks, algs, &err);
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_DECLINED || rc == NGX_AGAIN);

    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "verify: %d %.*s\n", (int) rc, (int) err.len, err.data);
    }

    if (rc == NGX_DECLINED) {
        FUZZ_ASSERT(err.len > 0);
    }

    if (rc == NGX_OK) {
        alg = jwt.alg;
        FUZZ_ASSERT(ngx_http_traces_jwt_alg_bit(&alg) & algs);
    }

    ngx_str_set(&expect.issuer, "https://ecas.example/cas/oauth2");
    ngx_str_set(&expect.audience, "traces");
    ngx_str_set(&expect.nonce, "n-0S6_WzA2Mj");
    ngx_str_set(&expect.acr, "https://ecas.ec.europa.eu/loa/high https://ecas.ec.europa.eu/loa/medium");
    expect.skew = 60;
    expect.max_age = 86400;

    ngx_str_null(&err);
    rc = ngx_http_traces_jwt_check_claims(&jwt, &expect, FUZZ_NOW, &err);
    FUZZ_ASSERT(rc == NGX_OK || rc == NGX_DECLINED);

    if (getenv("FUZZ_VERBOSE")) {
        fprintf(stderr, "claims: %d %.*s\n", (int) rc, (int) err.len, err.data);
    }

    if (rc == NGX_DECLINED) {
        FUZZ_ASSERT(err.len > 0);
    }

    ngx_str_null(&expect.nonce);
    ngx_str_null(&expect.acr);
    (void) ngx_http_traces_jwt_check_claims(&jwt, &expect, FUZZ_NOW, &err);

done:
    ngx_destroy_pool(pool);
    return 0;
}
