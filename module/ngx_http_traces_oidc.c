
/*
 * TRACES access gate: signing in with EU Login over OpenID Connect.
 *
 * Authorization code flow with PKCE (S256), state and nonce kept in the
 * login cookie (ngx_http_traces_auth.c).  The code exchange and the JWKS
 * fetch are nginx subrequests to internal locations that proxy to
 * EU Login, so no worker ever blocks on it.
 */


#include "ngx_http_traces_auth.h"
#include "ngx_http_traces_pg.h"
#include "ngx_http_traces_json.h"
#include "ngx_http_traces_crypto.h"
#include "ngx_http_traces_redirect.h"


#define NGX_HTTP_TRACES_LOGOUT_EVENT                                          \
    "http://schemas.openid.net/event/backchannel-logout"


static ngx_int_t ngx_http_traces_token_request(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx, ngx_str_t *code);
static void ngx_http_traces_token_answer(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_verify(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_jwks_answer(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_identity(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static ngx_int_t ngx_http_traces_check_logout_token(ngx_http_request_t *r,
    ngx_http_traces_login_t *login, ngx_str_t *err);
static void ngx_http_traces_backchannel_body(ngx_http_request_t *r);
static void ngx_http_traces_backchannel_logout(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static ngx_int_t ngx_http_traces_variable_token(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


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


/* the authorization request: code flow, PKCE S256, state and nonce */

ngx_int_t
ngx_http_traces_oidc_login(ngx_http_request_t *r,
    ngx_http_traces_login_t *login, ngx_str_t *hint)
{
    u_char                       *p;
    ngx_str_t                     challenge, location, code, method;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_pkce_challenge(r->pool, &login->verifier, &challenge)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&code, "code");
    ngx_str_set(&method, "S256");

    location.len = tmcf->authorization_endpoint.len
                   + ngx_http_traces_param_len("response_type", &code)
                   + ngx_http_traces_param_len("client_id", &tmcf->client_id)
                   + ngx_http_traces_param_len("redirect_uri",
                                               &tmcf->redirect_uri)
                   + ngx_http_traces_param_len("scope", &tmcf->scope)
                   + ngx_http_traces_param_len("state", &login->state)
                   + ngx_http_traces_param_len("nonce", &login->nonce)
                   + ngx_http_traces_param_len("code_challenge", &challenge)
                   + ngx_http_traces_param_len("code_challenge_method",
                                               &method)
                   + ngx_http_traces_param_len("login_hint", hint)
                   + ngx_http_traces_param_len("acr_values",
                                               &tmcf->acr_values);

    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(location.data, tmcf->authorization_endpoint.data,
                   tmcf->authorization_endpoint.len);
    p = ngx_http_traces_append_param(p, "response_type", &code);
    p = ngx_http_traces_append_param(p, "client_id", &tmcf->client_id);
    p = ngx_http_traces_append_param(p, "redirect_uri", &tmcf->redirect_uri);
    p = ngx_http_traces_append_param(p, "scope", &tmcf->scope);
    p = ngx_http_traces_append_param(p, "state", &login->state);
    p = ngx_http_traces_append_param(p, "nonce", &login->nonce);
    p = ngx_http_traces_append_param(p, "code_challenge", &challenge);
    p = ngx_http_traces_append_param(p, "code_challenge_method", &method);
    p = ngx_http_traces_append_param(p, "login_hint", hint);
    p = ngx_http_traces_append_param(p, "acr_values", &tmcf->acr_values);

    /* the first parameter joins with "?" */
    location.data[tmcf->authorization_endpoint.len] =
        ngx_strlchr(location.data,
                    location.data + tmcf->authorization_endpoint.len, '?')
        ? '&' : '?';

    location.len = p - location.data;

    return ngx_http_traces_redirect(r, &location);
}


/* back from EU Login with a code: exchange it */

ngx_int_t
ngx_http_traces_oidc_callback(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx)
{
    ngx_str_t  code;

    if (ngx_http_traces_arg(r, "code", &code) != NGX_OK || code.len > 2048) {
        return ngx_http_traces_fail_page(r, NGX_HTTP_UNAUTHORIZED,
                                         "EU Login did not sign you in.");
    }

    return ngx_http_traces_token_request(r, ctx, &code);
}


ngx_int_t
ngx_http_traces_oidc_logout_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char                       *p;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    url->len = tmcf->end_session_endpoint.len
               + ngx_http_traces_param_len("client_id", &tmcf->client_id)
               + ngx_http_traces_param_len("post_logout_redirect_uri",
                                           &tmcf->post_logout_uri);
    url->data = ngx_pnalloc(r->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, tmcf->end_session_endpoint.data,
                   tmcf->end_session_endpoint.len);
    p = ngx_http_traces_append_param(p, "client_id", &tmcf->client_id);
    p = ngx_http_traces_append_param(p, "post_logout_redirect_uri",
                                     &tmcf->post_logout_uri);
    url->data[tmcf->end_session_endpoint.len] = '?';
    url->len = p - url->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_token_request(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx, ngx_str_t *code)
{
    u_char                       *p;
    json_t                       *claims;
    ngx_int_t                     rc;
    ngx_str_t                     grant, jti, assertion, type, credentials,
                                  encoded;
    ngx_http_traces_login_t      *login;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    login = ctx->data;

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
        + ngx_http_traces_param_len("code_verifier", &login->verifier)
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
    p = ngx_http_traces_append_param(p, "code_verifier", &login->verifier);

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

    if (ngx_http_traces_subrequest(r, &tmcf->token_location, NULL, 1,
                                   ngx_http_traces_token_answer)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_traces_token_answer(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    json_t                      *doc;
    const char                  *token;
    ngx_http_traces_login_t  *login;

    login = ctx->data;

    if (ctx->sr_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "traces: EU Login token endpoint answered %ui",
                      ctx->sr_status);
        ngx_http_traces_login_fail(r, NGX_HTTP_BAD_GATEWAY,
                                  "EU Login did not confirm the sign-in.");
        return;
    }

    doc = json_loadb((char *) ctx->sr_body.data, ctx->sr_body.len, 0, NULL);
    token = json_string_value(json_object_get(doc, "id_token"));

    if (token == NULL) {
        json_decref(doc);
        ngx_http_traces_login_fail(r, NGX_HTTP_BAD_GATEWAY,
                                  "EU Login sent no identity.");
        return;
    }

    login->token.len = ngx_strlen(token);
    login->token.data = ngx_pnalloc(r->pool, login->token.len);

    if (login->token.data == NULL) {
        json_decref(doc);
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_memcpy(login->token.data, token, login->token.len);
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
    ngx_http_traces_login_t     *login;
    ngx_http_traces_main_conf_t    *tmcf;
    ngx_http_traces_jwt_expect_t    expect;

    login = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (!login->parsed) {
        if (ngx_http_traces_jwt_parse(r->pool, &login->token, &login->jwt)
            != NGX_OK)
        {
            ngx_http_traces_login_fail(r, NGX_HTTP_UNAUTHORIZED,
                                      "The identity token is malformed.");
            return;
        }

        login->parsed = 1;
    }

    ngx_str_null(&err);

    rc = ngx_http_traces_jwks_get(tmcf, r->pool, &jwks, &fetched);

    if (rc == NGX_OK) {
        rc = ngx_http_traces_jwt_verify(r->pool, &login->jwt, &jwks,
                                        tmcf->algorithms, &err);

    } else {
        rc = NGX_AGAIN;
    }

    if (rc == NGX_AGAIN && !login->jwks_fetched
        && ngx_time() - fetched >= tmcf->jwks_refresh)
    {
        if (ngx_http_traces_subrequest(r, &tmcf->jwks_location, NULL, 0,
                                       ngx_http_traces_jwks_answer)
            != NGX_OK)
        {
            ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
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
        ngx_http_traces_login_fail(r, NGX_HTTP_UNAUTHORIZED,
                                  "The identity token is not valid.");
        return;
    }

    if (login->flow == NGX_HTTP_TRACES_FLOW_BACKCHANNEL) {
        if (ngx_http_traces_check_logout_token(r, login, &err) != NGX_OK) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "traces: logout token refused: %V", &err);
            ngx_http_traces_login_fail(r, NGX_HTTP_BAD_REQUEST, NULL);
            return;
        }

        ngx_http_traces_backchannel_logout(r, ctx);
        return;
    }

    ngx_memzero(&expect, sizeof(ngx_http_traces_jwt_expect_t));
    expect.issuer = tmcf->issuer;
    expect.audience = tmcf->client_id;
    expect.nonce = login->nonce;
    expect.acr = tmcf->acr_values;
    expect.skew = tmcf->clock_skew;
    expect.max_age = NGX_HTTP_TRACES_LOGIN_TTL;

    if (ngx_http_traces_jwt_check_claims(&login->jwt, &expect, ngx_time(),
                                         &err)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "traces: identity token refused: %V", &err);
        ngx_http_traces_login_fail(r, NGX_HTTP_UNAUTHORIZED,
                                  "The identity token is not valid.");
        return;
    }

    ngx_http_traces_identity(r, ctx);
}


/* the identity the ID token vouches for */

static void
ngx_http_traces_identity(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    json_t                   *claims, *identity, *uid;
    ngx_http_traces_login_t  *login;

    login = ctx->data;
    claims = login->jwt.claims;

    /* EU Login's uid, or the subject */
    uid = json_object_get(claims, "uid");
    if (!json_is_string(uid)) {
        uid = json_object_get(claims, "sub");
    }

    identity = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}",
                         "sub", json_object_get(claims, "sub"),
                         "uid", uid,
                         "email", json_object_get(claims, "email"),
                         "given_name", json_object_get(claims, "given_name"),
                         "family_name", json_object_get(claims, "family_name"),
                         "sid", json_object_get(claims, "sid"));
    if (identity == NULL) {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_traces_session_open(r, ctx, identity);
    json_decref(identity);
}


static void
ngx_http_traces_jwks_answer(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    ngx_str_t                     none = ngx_null_string;
    ngx_http_traces_login_t   *login;
    ngx_http_traces_main_conf_t  *tmcf;

    login = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    login->jwks_fetched = 1;

    if (ctx->sr_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "traces: EU Login JWKS answered %ui", ctx->sr_status);
    }

    ngx_http_traces_jwks_set(tmcf, ctx->sr_status == NGX_HTTP_OK
                                   ? &ctx->sr_body : &none);

    ngx_http_traces_verify(r, ctx);
}


/*
 * POST /auth/backchannel-logout: OpenID Connect Back-Channel Logout 1.0.
 * EU Login posts a signed logout token; the sessions it names end.
 */

ngx_int_t
ngx_http_traces_backchannel_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r->method != NGX_HTTP_POST) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    if (ngx_http_traces_login_start(r, NGX_HTTP_TRACES_FLOW_BACKCHANNEL)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
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
    ngx_str_t                 form;
    ngx_http_traces_ctx_t    *ctx;
    ngx_http_traces_login_t  *login;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    login = ctx->data;

    if (ngx_http_traces_read_body(r, &form) != NGX_OK
        || ngx_http_traces_form_arg(r->pool, &form, "logout_token",
                                    &login->token)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, ngx_http_traces_send_problem(r,
                                   NGX_HTTP_BAD_REQUEST,
                                   "A logout_token parameter is required."));
        return;
    }

    /* held until the verification, which may need the JWKS, is over */
    r->main->count++;
    ngx_http_traces_verify(r, ctx);
    ngx_http_finalize_request(r, NGX_DONE);
}


static ngx_int_t
ngx_http_traces_check_logout_token(ngx_http_request_t *r,
    ngx_http_traces_login_t *login, ngx_str_t *err)
{
    json_t                        *claims, *events;
    ngx_http_traces_main_conf_t   *tmcf;
    ngx_http_traces_jwt_expect_t   expect;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    claims = login->jwt.claims;

    ngx_memzero(&expect, sizeof(ngx_http_traces_jwt_expect_t));
    expect.issuer = tmcf->issuer;
    expect.audience = tmcf->client_id;
    expect.skew = tmcf->clock_skew;
    expect.max_age = NGX_HTTP_TRACES_LOGIN_TTL;

    if (ngx_http_traces_jwt_check_claims(&login->jwt, &expect, ngx_time(), err)
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
    json_t                   *args, *claims;
    ngx_http_traces_login_t  *login;

    login = ctx->data;
    claims = login->jwt.claims;

    args = json_pack("{s:O?, s:O?, s:O, s:O?}",
                     "sub", json_object_get(claims, "sub"),
                     "sid", json_object_get(claims, "sid"),
                     "jti", json_object_get(claims, "jti"),
                     "exp", json_object_get(claims, "exp"));
    if (args == NULL) {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_traces_sessions_end(r, args);
    json_decref(args);
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
