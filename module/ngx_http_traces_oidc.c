
/*
 * TRACES access gate: signing in with EU Login over OpenID Connect.
 *
 * Authorization code flow with PKCE (S256), state and nonce kept in a
 * short-lived encrypted login cookie, one per sign-in under way.  The code
 * exchange and the JWKS fetch are nginx subrequests to internal locations
 * that proxy to EU Login, so no worker ever blocks on it.
 */


#include <jansson.h>
#include <openssl/crypto.h>

#include "ngx_http_traces_module.h"
#include "ngx_http_traces_pg.h"
#include "ngx_http_traces_json.h"
#include "ngx_http_traces_crypto.h"
#include "ngx_http_traces_jwt.h"
#include "ngx_http_traces_redirect.h"
#include "ngx_http_traces_cookie.h"


#define NGX_HTTP_TRACES_LOGIN_PREFIX     "traces_login_"
#define NGX_HTTP_TRACES_LOGIN_TTL        600
#define NGX_HTTP_TRACES_STATE_KEY_LEN    16
#define NGX_HTTP_TRACES_LOGOUT_EVENT                                          \
    "http://schemas.openid.net/event/backchannel-logout"


typedef enum {
    NGX_HTTP_TRACES_OIDC_CALLBACK = 0,
    NGX_HTTP_TRACES_OIDC_BACKCHANNEL
} ngx_http_traces_oidc_flow_e;


typedef struct {
    ngx_http_traces_oidc_flow_e  flow;

    ngx_str_t                    token;        /* ID token or logout token */
    ngx_http_traces_jwt_t        jwt;
    unsigned                     parsed:1;
    unsigned                     jwks_fetched:1;

    /* from the login cookie */
    ngx_str_t                    nonce;
    ngx_str_t                    return_to;
    ngx_str_t                    login_cookie;

    ngx_str_t                    session_id;
    ngx_str_t                    session_hash;
} ngx_http_traces_oidc_ctx_t;


static ngx_int_t ngx_http_traces_oidc_start(ngx_http_request_t *r,
    ngx_http_traces_oidc_flow_e flow, ngx_http_traces_oidc_ctx_t **octx);
static ngx_int_t ngx_http_traces_login_cookie_open(ngx_http_request_t *r,
    ngx_str_t *state, ngx_http_traces_oidc_ctx_t *octx);
static ngx_int_t ngx_http_traces_login_cookies_expire(ngx_http_request_t *r);
static ngx_int_t ngx_http_traces_token_request(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx, ngx_str_t *code, ngx_str_t *verifier);
static void ngx_http_traces_token_answer(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_verify(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_jwks_answer(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static ngx_int_t ngx_http_traces_check_logout_token(ngx_http_request_t *r,
    ngx_http_traces_oidc_ctx_t *octx, ngx_str_t *err);
static void ngx_http_traces_session_create(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_session_created(ngx_http_traces_pg_query_t *q);
static void ngx_http_traces_backchannel_body(ngx_http_request_t *r);
static void ngx_http_traces_backchannel_logout(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_backchannel_done(ngx_http_traces_pg_query_t *q);
static void ngx_http_traces_logout_done(ngx_http_traces_pg_query_t *q);
static ngx_int_t ngx_http_traces_logout_answer(ngx_http_request_t *r);
static ngx_int_t ngx_http_traces_subrequest(ngx_http_request_t *r,
    ngx_str_t *uri, ngx_uint_t post, ngx_http_traces_step_pt next);
static ngx_int_t ngx_http_traces_subrequest_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_traces_subrequest_resume(ngx_http_request_t *r);
static void ngx_http_traces_oidc_fail(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason);
static ngx_int_t ngx_http_traces_fail_page(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason);
static ngx_int_t ngx_http_traces_set_cookie(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value, time_t max_age);
static ngx_int_t ngx_http_traces_redirect(ngx_http_request_t *r,
    ngx_str_t *location);
static ngx_int_t ngx_http_traces_random_text(ngx_pool_t *pool, size_t bytes,
    ngx_str_t *out);
static ngx_int_t ngx_http_traces_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
static u_char *ngx_http_traces_append_param(u_char *p, char *name,
    ngx_str_t *value);
static size_t ngx_http_traces_param_len(char *name, ngx_str_t *value);
static ngx_int_t ngx_http_traces_variable_token(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_http_traces_post_method = ngx_string("POST");


static ngx_http_variable_t  ngx_http_traces_oidc_vars[] = {

    { ngx_string("traces_oidc_token_body"), NULL,
      ngx_http_traces_variable_token,
      offsetof(ngx_http_traces_ctx_t, token_body),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("traces_oidc_token_authorization"), NULL,
      ngx_http_traces_variable_token,
      offsetof(ngx_http_traces_ctx_t, token_authorization),
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_traces_oidc_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_traces_oidc_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* GET /auth/login?return_to=/local/path&login_hint=uid */

ngx_int_t
ngx_http_traces_login_handler(ngx_http_request_t *r)
{
    u_char                       *p;
    json_t                       *state_doc;
    ngx_int_t                     rc;
    ngx_str_t                     return_to, hint, state, nonce, verifier,
                                  challenge, plain, sealed, name, location,
                                  client_id, redirect_uri, scope, method;
    ngx_http_traces_main_conf_t  *tmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_arg(r, "return_to", &return_to) != NGX_OK) {
        ngx_str_set(&return_to, "/");
    }

    ngx_http_traces_local_path(&return_to, &return_to);

    if (ngx_http_traces_arg(r, "login_hint", &hint) != NGX_OK
        || hint.len > 128)
    {
        hint.len = 0;
    }

    if (ngx_http_traces_random_text(r->pool, 24, &state) != NGX_OK
        || ngx_http_traces_random_text(r->pool, 24, &nonce) != NGX_OK
        || ngx_http_traces_random_text(r->pool, 32, &verifier) != NGX_OK
        || ngx_http_traces_pkce_challenge(r->pool, &verifier, &challenge)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    state_doc = json_pack("{s:s%, s:s%, s:s%, s:s%, s:I}",
                          "s", state.data, state.len,
                          "n", nonce.data, nonce.len,
                          "v", verifier.data, verifier.len,
                          "r", return_to.data, return_to.len,
                          "t", (json_int_t) ngx_time());

    if (state_doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_traces_json_dump(r->pool, state_doc, &plain);
    json_decref(state_doc);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* too many sign-ins under way: start afresh rather than pile up */

    if (ngx_http_traces_login_cookies_expire(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    name.len = sizeof(NGX_HTTP_TRACES_LOGIN_PREFIX) - 1
               + NGX_HTTP_TRACES_STATE_KEY_LEN;
    name.data = ngx_pnalloc(r->pool, name.len);
    if (name.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(name.data, NGX_HTTP_TRACES_LOGIN_PREFIX,
                   sizeof(NGX_HTTP_TRACES_LOGIN_PREFIX) - 1);
    ngx_memcpy(p, state.data, NGX_HTTP_TRACES_STATE_KEY_LEN);

    /* sealed for this cookie name only */

    if (ngx_http_traces_seal(r->pool, tmcf->key, &name, &plain, &sealed)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_traces_set_cookie(r, &name, &sealed,
                                   NGX_HTTP_TRACES_LOGIN_TTL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    client_id = tmcf->client_id;
    redirect_uri = tmcf->redirect_uri;
    scope = tmcf->scope;
    ngx_str_set(&method, "S256");

    location.len = tmcf->authorization_endpoint.len
                   + ngx_http_traces_param_len("response_type", &method)
                   + ngx_http_traces_param_len("client_id", &client_id)
                   + ngx_http_traces_param_len("redirect_uri", &redirect_uri)
                   + ngx_http_traces_param_len("scope", &scope)
                   + ngx_http_traces_param_len("state", &state)
                   + ngx_http_traces_param_len("nonce", &nonce)
                   + ngx_http_traces_param_len("code_challenge", &challenge)
                   + ngx_http_traces_param_len("code_challenge_method",
                                               &method)
                   + ngx_http_traces_param_len("login_hint", &hint)
                   + ngx_http_traces_param_len("acr_values",
                                               &tmcf->acr_values);

    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(location.data, tmcf->authorization_endpoint.data,
                   tmcf->authorization_endpoint.len);

    ngx_str_set(&method, "code");
    p = ngx_http_traces_append_param(p, "response_type", &method);
    p = ngx_http_traces_append_param(p, "client_id", &client_id);
    p = ngx_http_traces_append_param(p, "redirect_uri", &redirect_uri);
    p = ngx_http_traces_append_param(p, "scope", &scope);
    p = ngx_http_traces_append_param(p, "state", &state);
    p = ngx_http_traces_append_param(p, "nonce", &nonce);
    p = ngx_http_traces_append_param(p, "code_challenge", &challenge);
    ngx_str_set(&method, "S256");
    p = ngx_http_traces_append_param(p, "code_challenge_method", &method);
    p = ngx_http_traces_append_param(p, "login_hint", &hint);
    p = ngx_http_traces_append_param(p, "acr_values", &tmcf->acr_values);

    /* the first parameter joins with "?" */
    location.data[tmcf->authorization_endpoint.len] =
        ngx_strlchr(location.data,
                    location.data + tmcf->authorization_endpoint.len, '?')
        ? '&' : '?';

    location.len = p - location.data;

    return ngx_http_traces_redirect(r, &location);
}


/* GET /auth/callback?code=...&state=... */

ngx_int_t
ngx_http_traces_callback_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    code, state, verifier;
    ngx_http_traces_ctx_t       *ctx;
    ngx_http_traces_oidc_ctx_t  *octx;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_traces_oidc_start(r, NGX_HTTP_TRACES_OIDC_CALLBACK, &octx);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);

    if (ngx_http_traces_arg(r, "state", &state) != NGX_OK
        || ngx_http_traces_login_cookie_open(r, &state, octx) != NGX_OK)
    {
        return ngx_http_traces_fail_page(r, NGX_HTTP_BAD_REQUEST,
                                "This sign-in is not known or has expired.");
    }

    verifier = octx->token;
    ngx_str_null(&octx->token);

    /* the login cookie is spent whatever happens next */

    if (ngx_http_traces_set_cookie(r, &octx->login_cookie, NULL, 0) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_traces_arg(r, "code", &code) != NGX_OK || code.len > 2048) {
        return ngx_http_traces_fail_page(r, NGX_HTTP_UNAUTHORIZED,
                                "EU Login did not sign you in.");
    }

    rc = ngx_http_traces_token_request(r, ctx, &code, &verifier);
    if (rc != NGX_OK) {
        return rc;
    }

    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_traces_oidc_start(ngx_http_request_t *r,
    ngx_http_traces_oidc_flow_e flow, ngx_http_traces_oidc_ctx_t **octx)
{
    ngx_http_traces_ctx_t  *ctx;

    ctx = ngx_http_traces_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *octx = ngx_pcalloc(r->pool, sizeof(ngx_http_traces_oidc_ctx_t));
    if (*octx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (*octx)->flow = flow;
    ctx->data = *octx;

    return NGX_OK;
}


/*
 * The login cookie of this sign-in is named after the start of its state;
 * it must decrypt, carry the very same state and be recent.  The PKCE
 * verifier is handed back in octx->token.
 */

static ngx_int_t
ngx_http_traces_login_cookie_open(ngx_http_request_t *r, ngx_str_t *state,
    ngx_http_traces_oidc_ctx_t *octx)
{
    u_char                       *p;
    json_t                       *doc;
    ngx_int_t                     rc;
    ngx_str_t                     value, plain, *fields[4];
    ngx_uint_t                    i;
    const char                   *names[4], *s;
    ngx_http_traces_main_conf_t  *tmcf;
#if (nginx_version >= 1023000)
    ngx_table_elt_t              *h;
#else
    ngx_table_elt_t             **h;
#endif

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (state->len != 32) {
        return NGX_DECLINED;
    }

    octx->login_cookie.len = sizeof(NGX_HTTP_TRACES_LOGIN_PREFIX) - 1
                             + NGX_HTTP_TRACES_STATE_KEY_LEN;
    octx->login_cookie.data = ngx_pnalloc(r->pool, octx->login_cookie.len);
    if (octx->login_cookie.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(octx->login_cookie.data, NGX_HTTP_TRACES_LOGIN_PREFIX,
                   sizeof(NGX_HTTP_TRACES_LOGIN_PREFIX) - 1);
    ngx_memcpy(p, state->data, NGX_HTTP_TRACES_STATE_KEY_LEN);

    rc = NGX_DECLINED;

#if (nginx_version >= 1023000)
    for (h = r->headers_in.cookie; h && rc != NGX_OK; h = h->next) {
        rc = ngx_http_traces_cookie_find(&h->value, &octx->login_cookie,
                                         &value);
    }
#else
    h = r->headers_in.cookies.elts;

    for (i = 0; i < r->headers_in.cookies.nelts && rc != NGX_OK; i++) {
        rc = ngx_http_traces_cookie_find(&h[i]->value, &octx->login_cookie,
                                         &value);
    }
#endif

    if (rc != NGX_OK
        || ngx_http_traces_open(r->pool, tmcf->key, &octx->login_cookie,
                                &value, &plain)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    doc = json_loadb((char *) plain.data, plain.len, 0, NULL);
    if (doc == NULL) {
        return NGX_DECLINED;
    }

    s = json_string_value(json_object_get(doc, "s"));

    if (s == NULL || ngx_strlen(s) != state->len
        || CRYPTO_memcmp(s, state->data, state->len) != 0
        || json_integer_value(json_object_get(doc, "t"))
           + NGX_HTTP_TRACES_LOGIN_TTL < ngx_time())
    {
        json_decref(doc);
        return NGX_DECLINED;
    }

    names[0] = "n";
    names[1] = "r";
    names[2] = "v";
    fields[0] = &octx->nonce;
    fields[1] = &octx->return_to;
    fields[2] = &octx->token;

    for (i = 0; i < 3; i++) {
        s = json_string_value(json_object_get(doc, names[i]));

        if (s == NULL) {
            json_decref(doc);
            return NGX_DECLINED;
        }

        fields[i]->len = ngx_strlen(s);
        fields[i]->data = ngx_pnalloc(r->pool, fields[i]->len);

        if (fields[i]->data == NULL) {
            json_decref(doc);
            return NGX_ERROR;
        }

        ngx_memcpy(fields[i]->data, s, fields[i]->len);
    }

    json_decref(doc);

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_login_cookies_expire(ngx_http_request_t *r)
{
    ngx_str_t                     prefix, names[16];
    ngx_uint_t                    i, n, max;
    ngx_http_traces_main_conf_t  *tmcf;
#if (nginx_version >= 1023000)
    ngx_table_elt_t              *h;
#else
    ngx_uint_t                    k;
    ngx_table_elt_t             **h;
#endif

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    ngx_str_set(&prefix, NGX_HTTP_TRACES_LOGIN_PREFIX);

    max = ngx_min(tmcf->login_cookies_max, 16);
    n = 0;

#if (nginx_version >= 1023000)
    for (h = r->headers_in.cookie; h; h = h->next) {
        n += ngx_http_traces_cookie_count_prefix(&h->value, &prefix,
                                                 names + ngx_min(n, 16),
                                                 16 - ngx_min(n, 16));
    }
#else
    h = r->headers_in.cookies.elts;

    for (k = 0; k < r->headers_in.cookies.nelts; k++) {
        n += ngx_http_traces_cookie_count_prefix(&h[k]->value, &prefix,
                                                 names + ngx_min(n, 16),
                                                 16 - ngx_min(n, 16));
    }
#endif

    if (n < max) {
        return NGX_OK;
    }

    for (i = 0; i < ngx_min(n, 16); i++) {
        if (ngx_http_traces_set_cookie(r, &names[i], NULL, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_token_request(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx, ngx_str_t *code, ngx_str_t *verifier)
{
    u_char                       *p;
    json_t                       *claims;
    ngx_int_t                     rc;
    ngx_str_t                     grant, jti, assertion, type, credentials,
                                  encoded;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    ngx_str_set(&grant, "authorization_code");
    ngx_str_null(&assertion);
    ngx_str_null(&ctx->token_authorization);

    switch (tmcf->client_auth) {

    case NGX_HTTP_TRACES_AUTH_JWT:
        if (ngx_http_traces_random_text(r->pool, 16, &jti) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        claims = json_pack("{s:s%, s:s%, s:s%, s:s%, s:I, s:I}",
                           "iss", tmcf->client_id.data, tmcf->client_id.len,
                           "sub", tmcf->client_id.data, tmcf->client_id.len,
                           "aud", tmcf->token_endpoint.data,
                           tmcf->token_endpoint.len,
                           "jti", jti.data, jti.len,
                           "iat", (json_int_t) ngx_time(),
                           "exp", (json_int_t) ngx_time() + 60);
        if (claims == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_traces_jwt_sign_rs256(r->pool, tmcf->client_key,
                                            &tmcf->client_key_id, claims,
                                            &assertion);
        json_decref(claims);

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    case NGX_HTTP_TRACES_AUTH_BASIC:
        credentials.len = tmcf->client_id.len + 1 + tmcf->client_secret.len;
        credentials.data = ngx_pnalloc(r->pool, credentials.len);
        encoded.data = ngx_pnalloc(r->pool, sizeof("Basic ") - 1
                                   + ngx_base64_encoded_length(credentials.len));

        if (credentials.data == NULL || encoded.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(credentials.data, tmcf->client_id.data,
                       tmcf->client_id.len);
        *p++ = ':';
        ngx_memcpy(p, tmcf->client_secret.data, tmcf->client_secret.len);

        p = ngx_cpymem(encoded.data, "Basic ", sizeof("Basic ") - 1);
        ctx->token_authorization.data = encoded.data;
        encoded.data = p;
        ngx_encode_base64(&encoded, &credentials);
        ctx->token_authorization.len = sizeof("Basic ") - 1 + encoded.len;
        break;

    default: /* NGX_HTTP_TRACES_AUTH_POST */
        break;
    }

    ngx_str_set(&type, "urn:ietf:params:oauth:client-assertion-type:"
                       "jwt-bearer");

    ctx->token_body.len =
        ngx_http_traces_param_len("grant_type", &grant)
        + ngx_http_traces_param_len("code", code)
        + ngx_http_traces_param_len("redirect_uri", &tmcf->redirect_uri)
        + ngx_http_traces_param_len("code_verifier", verifier)
        + ngx_http_traces_param_len("client_id", &tmcf->client_id)
        + ngx_http_traces_param_len("client_secret", &tmcf->client_secret)
        + ngx_http_traces_param_len("client_assertion_type", &type)
        + ngx_http_traces_param_len("client_assertion", &assertion);

    ctx->token_body.data = ngx_pnalloc(r->pool, ctx->token_body.len);
    if (ctx->token_body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_traces_append_param(ctx->token_body.data, "grant_type",
                                     &grant);
    p = ngx_http_traces_append_param(p, "code", code);
    p = ngx_http_traces_append_param(p, "redirect_uri", &tmcf->redirect_uri);
    p = ngx_http_traces_append_param(p, "code_verifier", verifier);

    if (tmcf->client_auth != NGX_HTTP_TRACES_AUTH_BASIC) {
        p = ngx_http_traces_append_param(p, "client_id", &tmcf->client_id);
    }

    if (tmcf->client_auth == NGX_HTTP_TRACES_AUTH_POST) {
        p = ngx_http_traces_append_param(p, "client_secret",
                                         &tmcf->client_secret);
    }

    if (tmcf->client_auth == NGX_HTTP_TRACES_AUTH_JWT) {
        p = ngx_http_traces_append_param(p, "client_assertion_type", &type);
        p = ngx_http_traces_append_param(p, "client_assertion", &assertion);
    }

    /* a form body starts without "&" */
    ctx->token_body.data++;
    ctx->token_body.len = p - ctx->token_body.data;

    return ngx_http_traces_subrequest(r, &tmcf->token_location, 1,
                                      ngx_http_traces_token_answer);
}


static void
ngx_http_traces_token_answer(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    json_t                      *doc;
    const char                  *token;
    ngx_http_traces_oidc_ctx_t  *octx;

    octx = ctx->data;

    if (ctx->sr_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "traces: EU Login token endpoint answered %ui",
                      ctx->sr_status);
        ngx_http_traces_oidc_fail(r, NGX_HTTP_BAD_GATEWAY,
                                  "EU Login did not confirm the sign-in.");
        return;
    }

    doc = json_loadb((char *) ctx->sr_body.data, ctx->sr_body.len, 0, NULL);
    token = json_string_value(json_object_get(doc, "id_token"));

    if (token == NULL) {
        json_decref(doc);
        ngx_http_traces_oidc_fail(r, NGX_HTTP_BAD_GATEWAY,
                                  "EU Login sent no identity.");
        return;
    }

    octx->token.len = ngx_strlen(token);
    octx->token.data = ngx_pnalloc(r->pool, octx->token.len);

    if (octx->token.data == NULL) {
        json_decref(doc);
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_memcpy(octx->token.data, token, octx->token.len);
    json_decref(doc);

    ngx_http_traces_verify(r, ctx);
}


/*
 * Signature first, with the keys kept in shared memory; a key id never
 * seen before makes one fetch of the JWKS, at most every
 * traces_oidc_jwks_refresh, so that a rotated key is picked up.
 */

static void
ngx_http_traces_verify(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    time_t                          fetched;
    ngx_int_t                       rc;
    ngx_str_t                       jwks, err;
    ngx_http_traces_oidc_ctx_t     *octx;
    ngx_http_traces_main_conf_t    *tmcf;
    ngx_http_traces_jwt_expect_t    expect;

    octx = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (!octx->parsed) {
        if (ngx_http_traces_jwt_parse(r->pool, &octx->token, &octx->jwt)
            != NGX_OK)
        {
            ngx_http_traces_oidc_fail(r, NGX_HTTP_UNAUTHORIZED,
                                      "The identity token is malformed.");
            return;
        }

        octx->parsed = 1;
    }

    ngx_str_null(&err);

    rc = ngx_http_traces_jwks_get(tmcf, r->pool, &jwks, &fetched);

    if (rc == NGX_OK) {
        rc = ngx_http_traces_jwt_verify(r->pool, &octx->jwt, &jwks,
                                        tmcf->algorithms, &err);

    } else {
        rc = NGX_AGAIN;
    }

    if (rc == NGX_AGAIN && !octx->jwks_fetched
        && ngx_time() - fetched >= tmcf->jwks_refresh)
    {
        if (ngx_http_traces_subrequest(r, &tmcf->jwks_location, 0,
                                       ngx_http_traces_jwks_answer)
            != NGX_OK)
        {
            ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                      NULL);
        }

        return;
    }

    if (rc != NGX_OK) {
        if (err.len == 0) {
            ngx_str_set(&err, "no EU Login key for it");
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "traces: token refused: %V", &err);
        ngx_http_traces_oidc_fail(r, NGX_HTTP_UNAUTHORIZED,
                                  "The identity token is not valid.");
        return;
    }

    if (octx->flow == NGX_HTTP_TRACES_OIDC_BACKCHANNEL) {
        if (ngx_http_traces_check_logout_token(r, octx, &err) != NGX_OK) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "traces: logout token refused: %V", &err);
            ngx_http_traces_oidc_fail(r, NGX_HTTP_BAD_REQUEST, NULL);
            return;
        }

        ngx_http_traces_backchannel_logout(r, ctx);
        return;
    }

    ngx_memzero(&expect, sizeof(ngx_http_traces_jwt_expect_t));
    expect.issuer = tmcf->issuer;
    expect.audience = tmcf->client_id;
    expect.nonce = octx->nonce;
    expect.acr = tmcf->acr_values;
    expect.skew = tmcf->clock_skew;
    expect.max_age = NGX_HTTP_TRACES_LOGIN_TTL;

    if (ngx_http_traces_jwt_check_claims(&octx->jwt, &expect, ngx_time(),
                                         &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "traces: identity token refused: %V", &err);
        ngx_http_traces_oidc_fail(r, NGX_HTTP_UNAUTHORIZED,
                                  "The identity token is not valid.");
        return;
    }

    ngx_http_traces_session_create(r, ctx);
}


static void
ngx_http_traces_jwks_answer(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    ngx_str_t                     none = ngx_null_string;
    ngx_http_traces_oidc_ctx_t   *octx;
    ngx_http_traces_main_conf_t  *tmcf;

    octx = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    octx->jwks_fetched = 1;

    if (ctx->sr_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "traces: EU Login JWKS answered %ui", ctx->sr_status);
    }

    ngx_http_traces_jwks_set(tmcf, ctx->sr_status == NGX_HTTP_OK
                                   ? &ctx->sr_body : &none);

    ngx_http_traces_verify(r, ctx);
}


static void
ngx_http_traces_session_create(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx)
{
    u_char                        hash[64];
    json_t                       *args, *claims;
    ngx_int_t                     rc;
    ngx_str_t                     text;
    const char                   *uid;
    ngx_http_traces_pg_query_t   *q;
    ngx_http_traces_oidc_ctx_t   *octx;
    ngx_http_traces_main_conf_t  *tmcf;

    octx = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    claims = octx->jwt.claims;

    /* a new session id at every sign-in; only its hash is stored */

    if (ngx_http_traces_random_text(r->pool, 32, &octx->session_id) != NGX_OK)
    {
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_traces_sha256_hex(hash, octx->session_id.data,
                               octx->session_id.len);

    uid = json_string_value(json_object_get(claims, "uid"));
    if (uid == NULL) {
        uid = json_string_value(json_object_get(claims, "sub"));
    }

    args = json_pack("{s:s%, s:O, s:s, s:O?, s:O?, s:O?, s:O?, s:I, s:I}",
                     "hash", hash, (size_t) 64,
                     "sub", json_object_get(claims, "sub"),
                     "uid", uid ? uid : "",
                     "email", json_object_get(claims, "email"),
                     "given_name", json_object_get(claims, "given_name"),
                     "family_name", json_object_get(claims, "family_name"),
                     "sid", json_object_get(claims, "sid"),
                     "idle", (json_int_t) tmcf->session_idle,
                     "lifetime", (json_int_t) tmcf->session_lifetime);

    if (args == NULL || !json_is_string(json_object_get(claims, "sub"))) {
        json_decref(args);
        ngx_http_traces_oidc_fail(r, NGX_HTTP_UNAUTHORIZED,
                                  "The identity token names nobody.");
        return;
    }

    rc = ngx_http_traces_json_dump(r->pool, args, &text);
    json_decref(args);

    if (rc != NGX_OK) {
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    q = ngx_http_traces_pg_query_create(r->pool, r->connection->log,
                                        NGX_HTTP_TRACES_SQL_SESSION_CREATE,
                                        0, &text);
    if (q == NULL) {
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    q->done = ngx_http_traces_session_created;
    q->data = r;

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        ngx_http_traces_oidc_fail(r, q->status,
                                  "The service is not available; "
                                  "try again in a moment.");
    }
}


static void
ngx_http_traces_session_created(ngx_http_traces_pg_query_t *q)
{
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_traces_ctx_t        *ctx;
    ngx_http_traces_oidc_ctx_t   *octx;
    ngx_http_traces_main_conf_t  *tmcf;

    r = q->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    octx = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (q->status != NGX_HTTP_CREATED) {
        ngx_http_traces_oidc_fail(r, q->status >= 500 ? q->status
                                                      : NGX_HTTP_FORBIDDEN,
                                  "The session could not be opened.");
        ngx_http_run_posted_requests(c);
        return;
    }

    if (ngx_http_traces_set_cookie(r, &tmcf->cookie_name, &octx->session_id,
                                   -1)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_traces_redirect(r,
                                                          &octx->return_to));
    ngx_http_run_posted_requests(c);
}


/* POST /auth/logout: ends this session, answers with EU Login's logout */

ngx_int_t
ngx_http_traces_logout_handler(ngx_http_request_t *r)
{
    u_char                        hash[64];
    ngx_int_t                     rc;
    ngx_str_t                     cookie, args;
    ngx_http_traces_ctx_t        *ctx;
    ngx_http_traces_pg_query_t   *q;
    ngx_http_traces_main_conf_t  *tmcf;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_traces_same_origin(r) != NGX_OK) {
        return ngx_http_traces_send_problem(r, NGX_HTTP_FORBIDDEN,
                                  "Cross-site requests are refused: send "
                                  "an Origin header naming this site.");
    }

    ctx = ngx_http_traces_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_session_cookie(r, &cookie) != NGX_OK) {
        return ngx_http_traces_logout_answer(r);
    }

    ngx_http_traces_sha256_hex(hash, cookie.data, cookie.len);

    ctx->session_hash.data = ngx_pnalloc(r->pool, 64);
    if (ctx->session_hash.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(ctx->session_hash.data, hash, 64);
    ctx->session_hash.len = 64;

    /* every worker stops honouring it at once */
    ngx_http_traces_cache_delete(tmcf, &ctx->session_hash);

    args.data = ngx_pnalloc(r->pool, sizeof("{\"hash\":\"\"}") - 1 + 64);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args.len = ngx_sprintf(args.data, "{\"hash\":\"%*s\"}", (size_t) 64, hash)
               - args.data;

    q = ngx_http_traces_pg_query_create(r->pool, r->connection->log,
                                        NGX_HTTP_TRACES_SQL_SESSION_DELETE,
                                        0, &args);
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q->done = ngx_http_traces_logout_done;
    q->data = r;

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        return ngx_http_traces_send_unavailable(r, q->status);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_traces_logout_done(ngx_http_traces_pg_query_t *q)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = q->data;
    c = r->connection;

    if (q->status != NGX_HTTP_OK) {
        ngx_http_finalize_request(r, ngx_http_traces_send_problem(r,
                                   q->status >= 500 ? q->status
                                   : NGX_HTTP_INTERNAL_SERVER_ERROR,
                                   "The session could not be ended; "
                                   "try again in a moment."));
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_traces_logout_answer(r));
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_traces_logout_answer(ngx_http_request_t *r)
{
    u_char                       *p;
    json_t                       *doc;
    ngx_int_t                     rc;
    ngx_str_t                     url, body;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_set_cookie(r, &tmcf->cookie_name, NULL, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    url.len = tmcf->end_session_endpoint.len
              + ngx_http_traces_param_len("client_id", &tmcf->client_id)
              + ngx_http_traces_param_len("post_logout_redirect_uri",
                                          &tmcf->post_logout_uri);
    url.data = ngx_pnalloc(r->pool, url.len);
    if (url.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(url.data, tmcf->end_session_endpoint.data,
                   tmcf->end_session_endpoint.len);
    p = ngx_http_traces_append_param(p, "client_id", &tmcf->client_id);
    p = ngx_http_traces_append_param(p, "post_logout_redirect_uri",
                                     &tmcf->post_logout_uri);
    url.data[tmcf->end_session_endpoint.len] = '?';
    url.len = p - url.data;

    doc = json_pack("{s:s%}", "logout_url", url.data, url.len);
    if (doc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_traces_json_dump(r->pool, doc, &body);
    json_decref(doc);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_traces_send_json(r, NGX_HTTP_OK, &body);
}


/*
 * POST /auth/backchannel-logout: OpenID Connect Back-Channel Logout 1.0.
 * EU Login posts a signed logout token; the sessions it names end.
 */

ngx_int_t
ngx_http_traces_backchannel_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_traces_oidc_ctx_t  *octx;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_traces_oidc_start(r, NGX_HTTP_TRACES_OIDC_BACKCHANNEL,
                                    &octx);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_read_client_request_body(r,
                                          ngx_http_traces_backchannel_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_traces_backchannel_body(ngx_http_request_t *r)
{
    u_char                      *p, *last, *start;
    size_t                       len;
    ngx_str_t                    raw;
    ngx_chain_t                 *cl;
    ngx_http_traces_ctx_t       *ctx;
    ngx_http_traces_oidc_ctx_t  *octx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    octx = ctx->data;

    len = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        if (!ngx_buf_in_memory(cl->buf)) {
            ngx_http_finalize_request(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE);
            return;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    start = ngx_pnalloc(r->pool, len + 1);
    if (start == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = start;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    last = p;

    /* logout_token=<JWT> among the form parameters */

    for (p = start; p < last; p = ngx_strlchr(p, last, '&') + 1) {
        if ((size_t) (last - p) > sizeof("logout_token=") - 1
            && ngx_strncmp(p, "logout_token=", sizeof("logout_token=") - 1)
               == 0)
        {
            raw.data = p + sizeof("logout_token=") - 1;
            raw.len = last - raw.data;

            if (ngx_strlchr(raw.data, last, '&')) {
                raw.len = ngx_strlchr(raw.data, last, '&') - raw.data;
            }

            if (ngx_http_traces_unescape_arg(r->pool, &raw, &octx->token)
                == NGX_OK)
            {
                r->main->count++;
                ngx_http_traces_verify(r, ctx);
                ngx_http_finalize_request(r, NGX_DONE);
                return;
            }

            break;
        }

        if (ngx_strlchr(p, last, '&') == NULL) {
            break;
        }
    }

    ngx_http_finalize_request(r, ngx_http_traces_send_problem(r,
                                   NGX_HTTP_BAD_REQUEST,
                                   "A logout_token parameter is required."));
}


static ngx_int_t
ngx_http_traces_check_logout_token(ngx_http_request_t *r,
    ngx_http_traces_oidc_ctx_t *octx, ngx_str_t *err)
{
    json_t                        *claims, *events;
    ngx_http_traces_main_conf_t   *tmcf;
    ngx_http_traces_jwt_expect_t   expect;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    claims = octx->jwt.claims;

    ngx_memzero(&expect, sizeof(ngx_http_traces_jwt_expect_t));
    expect.issuer = tmcf->issuer;
    expect.audience = tmcf->client_id;
    expect.skew = tmcf->clock_skew;
    expect.max_age = NGX_HTTP_TRACES_LOGIN_TTL;

    if (ngx_http_traces_jwt_check_claims(&octx->jwt, &expect, ngx_time(), err)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    events = json_object_get(claims, "events");

    if (!json_is_object(json_object_get(events, NGX_HTTP_TRACES_LOGOUT_EVENT))
        || json_object_get(claims, "nonce")
        || !json_is_string(json_object_get(claims, "jti"))
        || !(json_is_string(json_object_get(claims, "sub"))
             || json_is_string(json_object_get(claims, "sid"))))
    {
        ngx_str_set(err, "not a logout token (events, jti, sub or sid)");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_traces_backchannel_logout(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx)
{
    json_t                      *args, *claims;
    ngx_int_t                    rc;
    ngx_str_t                    text;
    ngx_http_traces_pg_query_t  *q;
    ngx_http_traces_oidc_ctx_t  *octx;

    octx = ctx->data;
    claims = octx->jwt.claims;

    args = json_pack("{s:O?, s:O?, s:O, s:O?}",
                     "sub", json_object_get(claims, "sub"),
                     "sid", json_object_get(claims, "sid"),
                     "jti", json_object_get(claims, "jti"),
                     "exp", json_object_get(claims, "exp"));
    if (args == NULL) {
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    rc = ngx_http_traces_json_dump(r->pool, args, &text);
    json_decref(args);

    if (rc != NGX_OK) {
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    q = ngx_http_traces_pg_query_create(r->pool, r->connection->log,
                                        NGX_HTTP_TRACES_SQL_BACKCHANNEL_LOGOUT,
                                        0, &text);
    if (q == NULL) {
        ngx_http_traces_oidc_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    q->done = ngx_http_traces_backchannel_done;
    q->data = r;

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        ngx_http_traces_oidc_fail(r, q->status, NULL);
    }
}


static void
ngx_http_traces_backchannel_done(ngx_http_traces_pg_query_t *q)
{
    size_t                        i;
    json_t                       *doc, *hash;
    ngx_str_t                     value;
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_traces_main_conf_t  *tmcf;

    r = q->data;
    c = r->connection;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (q->status != NGX_HTTP_OK) {
        /* a replayed token (409) is a bad request for the sender */
        ngx_http_traces_oidc_fail(r, q->status == NGX_HTTP_CONFLICT
                                     ? NGX_HTTP_BAD_REQUEST : q->status,
                                  NULL);
        ngx_http_run_posted_requests(c);
        return;
    }

    /* the sessions ended in the database leave the cache at once */

    doc = json_loadb((char *) q->body.data, q->body.len, 0, NULL);

    json_array_foreach(json_object_get(doc, "hashes"), i, hash) {
        value.data = (u_char *) json_string_value(hash);
        value.len = value.data ? json_string_length(hash) : 0;
        ngx_http_traces_cache_delete(tmcf, &value);
    }

    json_decref(doc);

    /* Back-Channel Logout 1.0: 200 and nothing more */
    ngx_str_null(&value);

    ngx_http_finalize_request(r, ngx_http_traces_send_json(r, NGX_HTTP_OK,
                                                           &value));
    ngx_http_run_posted_requests(c);
}


/* subrequests to the internal locations that proxy to EU Login */

static ngx_int_t
ngx_http_traces_subrequest(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_uint_t post, ngx_http_traces_step_pt next)
{
    ngx_http_request_t          *sr;
    ngx_http_traces_ctx_t       *ctx;
    ngx_http_post_subrequest_t  *ps;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_traces_subrequest_done;
    ps->data = ctx;

    ctx->next = next;
    ctx->sr_done = 0;
    ctx->sr_status = 0;
    ngx_str_null(&ctx->sr_body);

    if (ngx_http_subrequest(r, uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* the request's own body and headers are not EU Login's business */

    sr->method = post ? NGX_HTTP_POST : NGX_HTTP_GET;
    sr->method_name = post ? ngx_http_traces_post_method
                           : ngx_http_core_get_method;
    sr->request_body = NULL;
    sr->header_only = 0;

    r->write_event_handler = ngx_http_traces_subrequest_resume;

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_subrequest_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_traces_ctx_t  *ctx = data;

    ctx->sr_done = 1;
    ctx->sr_status = sr->headers_out.status;

    if (rc != NGX_OK && rc != NGX_DONE) {
        ctx->sr_status = (rc >= NGX_HTTP_SPECIAL_RESPONSE)
                         ? (ngx_uint_t) rc : NGX_HTTP_BAD_GATEWAY;
    }

    if (ctx->sr_status == NGX_HTTP_OK && sr->out && sr->out->buf) {
        ctx->sr_body.len = sr->out->buf->last - sr->out->buf->pos;
        ctx->sr_body.data = ngx_pnalloc(sr->main->pool, ctx->sr_body.len);

        if (ctx->sr_body.data == NULL) {
            ctx->sr_status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            ctx->sr_body.len = 0;
            return rc;
        }

        ngx_memcpy(ctx->sr_body.data, sr->out->buf->pos, ctx->sr_body.len);

    } else if (ctx->sr_status == NGX_HTTP_OK) {
        ctx->sr_status = NGX_HTTP_BAD_GATEWAY;
    }

    return rc;
}


static void
ngx_http_traces_subrequest_resume(ngx_http_request_t *r)
{
    ngx_http_traces_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);

    if (!ctx->sr_done) {
        return;
    }

    ctx->sr_done = 0;
    r->write_event_handler = ngx_http_request_empty_handler;

    ctx->next(r, ctx);
}


/* ends a flow that holds an extra reference on the request */

static void
ngx_http_traces_oidc_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason)
{
    ngx_http_traces_ctx_t       *ctx;
    ngx_http_traces_oidc_ctx_t  *octx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    octx = ctx->data;

    if (octx->flow == NGX_HTTP_TRACES_OIDC_BACKCHANNEL) {

        /* Back-Channel Logout 1.0: any refused token is a 400 */
        if (status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
            status = NGX_HTTP_BAD_REQUEST;
        }

        ngx_http_finalize_request(r, ngx_http_traces_send_problem(r, status,
                                        reason ? reason
                                        : "The logout token is not valid."));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_traces_fail_page(r, status,
                                     reason ? reason
                                     : "Something went wrong on our side."));
}


static ngx_int_t
ngx_http_traces_fail_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     value;
    ngx_chain_t   out;

    b = ngx_create_temp_buf(r->pool, 1024);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* reason is always one of this file's own sentences */

    b->last = ngx_snprintf(b->last, 1024,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Sign-in failed - TRACES</title></head><body>"
        "<h1>Sign-in failed</h1><p>%s</p>"
        "<p lang=\"fr\">La connexion a &eacute;chou&eacute;.</p>"
        "<p><a href=\"/\">Back to TRACES / Retour &agrave; TRACES</a></p>"
        "</body></html>\n", reason);
    b->last_buf = 1;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    ngx_str_set(&value, "no-store");
    if (ngx_http_traces_set_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_traces_set_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                     header;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    len = name->len + 1 + (value ? value->len : 0)
          + sizeof("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
                   "; Path=/; HttpOnly; SameSite=Lax; Secure") - 1
          + NGX_TIME_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    header.data = p;

    p = ngx_cpymem(p, name->data, name->len);
    *p++ = '=';

    if (value) {
        p = ngx_cpymem(p, value->data, value->len);
    }

    /* -1: a browser session cookie; the server enforces its lifetime */

    if (max_age > 0) {
        p = ngx_sprintf(p, "; Max-Age=%T", max_age);

    } else if (max_age == 0) {
        p = ngx_cpymem(p, "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
                       sizeof("; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT")
                       - 1);
    }

    p = ngx_cpymem(p, "; Path=/; HttpOnly; SameSite=Lax",
                   sizeof("; Path=/; HttpOnly; SameSite=Lax") - 1);

    if (tmcf->cookie_secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    header.len = p - header.data;

    return ngx_http_traces_set_header(r, "Set-Cookie", &header);
}


static ngx_int_t
ngx_http_traces_redirect(ngx_http_request_t *r, ngx_str_t *location)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Location");
    h->value = *location;

    ngx_http_clear_location(r);
    r->headers_out.location = h;

    return NGX_HTTP_MOVED_TEMPORARILY;
}


static ngx_int_t
ngx_http_traces_random_text(ngx_pool_t *pool, size_t bytes, ngx_str_t *out)
{
    u_char     raw[64];
    ngx_str_t  src;

    if (bytes > sizeof(raw) || ngx_http_traces_random(raw, bytes) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(bytes));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    src.data = raw;
    src.len = bytes;

    ngx_encode_base64url(out, &src);

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_arg(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    ngx_str_t  raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_traces_unescape_arg(r->pool, &raw, value);
}


/* "&name=value" with the value escaped; nothing for an empty value */

static size_t
ngx_http_traces_param_len(char *name, ngx_str_t *value)
{
    if (value->len == 0) {
        return 0;
    }

    return 2 + ngx_strlen(name) + value->len
           + 2 * ngx_escape_uri(NULL, value->data, value->len,
                                NGX_ESCAPE_URI_COMPONENT);
}


static u_char *
ngx_http_traces_append_param(u_char *p, char *name, ngx_str_t *value)
{
    if (value->len == 0) {
        return p;
    }

    *p++ = '&';
    p = ngx_cpymem(p, name, ngx_strlen(name));
    *p++ = '=';

    return (u_char *) ngx_escape_uri(p, value->data, value->len,
                                     NGX_ESCAPE_URI_COMPONENT);
}


static ngx_int_t
ngx_http_traces_variable_token(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              *s;
    ngx_http_traces_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_traces_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) ctx + data);

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
