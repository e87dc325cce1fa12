
/*
 * TRACES access gate: signing in with EU Login, whatever the protocol.
 *
 * /auth/login keeps what the sign-in needs (state, nonce, PKCE verifier,
 * return_to) in a short-lived login cookie, encrypted and bound to its own
 * name, one per sign-in under way; the callback opens it, lets the
 * protocol (ngx_http_traces_oidc.c, ngx_http_traces_cas.c) check what
 * EU Login sent, and opens the session.
 */


#include <openssl/crypto.h>

#include "ngx_http_traces_auth.h"
#include "ngx_http_traces_pg.h"
#include "ngx_http_traces_json.h"
#include "ngx_http_traces_crypto.h"
#include "ngx_http_traces_redirect.h"
#include "ngx_http_traces_cookie.h"


#define NGX_HTTP_TRACES_LOGIN_PREFIX     "traces_login_"
#define NGX_HTTP_TRACES_STATE_KEY_LEN    16


static ngx_int_t ngx_http_traces_login_cookie_seal(ngx_http_request_t *r,
    ngx_http_traces_login_t *login);
static ngx_int_t ngx_http_traces_login_cookie_name(ngx_http_request_t *r,
    ngx_str_t *state, ngx_str_t *name);
static ngx_int_t ngx_http_traces_login_cookie_open(ngx_http_request_t *r,
    ngx_str_t *state, ngx_http_traces_login_t *login);
static ngx_int_t ngx_http_traces_login_cookies_expire(ngx_http_request_t *r);
static void ngx_http_traces_session_created(ngx_http_traces_pg_query_t *q);
static void ngx_http_traces_logout_done(ngx_http_traces_pg_query_t *q);
static void ngx_http_traces_sessions_ended(ngx_http_traces_pg_query_t *q);
static ngx_int_t ngx_http_traces_logout_answer(ngx_http_request_t *r);
static ngx_int_t ngx_http_traces_subrequest_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_traces_subrequest_resume(ngx_http_request_t *r);
static ngx_uint_t ngx_http_traces_protocol_cas(ngx_http_request_t *r);


static ngx_str_t  ngx_http_traces_post_method = ngx_string("POST");


/* GET /auth/login?return_to=/local/path&login_hint=uid */

ngx_int_t
ngx_http_traces_login_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 hint;
    ngx_uint_t                cas;
    ngx_http_traces_login_t  *login;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cas = ngx_http_traces_protocol_cas(r);

    login = ngx_http_traces_login_start(r, cas ? NGX_HTTP_TRACES_FLOW_CAS
                                               : NGX_HTTP_TRACES_FLOW_OIDC);
    if (login == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_traces_arg(r, "return_to", &login->return_to) != NGX_OK) {
        ngx_str_set(&login->return_to, "/");
    }

    ngx_http_traces_local_path(&login->return_to, &login->return_to);

    if (ngx_http_traces_arg(r, "login_hint", &hint) != NGX_OK
        || hint.len > 128)
    {
        hint.len = 0;
    }

    /* CAS has no nonce and no PKCE: the ticket is bound to the service */

    ngx_str_set(&login->nonce, "");
    ngx_str_set(&login->verifier, "");

    if (ngx_http_traces_random_text(r->pool, 24, &login->state) != NGX_OK
        || (!cas && (ngx_http_traces_random_text(r->pool, 24, &login->nonce)
                     != NGX_OK
                     || ngx_http_traces_random_text(r->pool, 32,
                                                    &login->verifier)
                        != NGX_OK)))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* too many sign-ins under way: start afresh rather than pile up */

    if (ngx_http_traces_login_cookies_expire(r) != NGX_OK
        || ngx_http_traces_login_cookie_seal(r, login) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return cas ? ngx_http_traces_cas_login(r, login, &hint)
               : ngx_http_traces_oidc_login(r, login, &hint);
}


/* GET /auth/callback: EU Login sends the browser back */

ngx_int_t
ngx_http_traces_callback_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 state;
    ngx_uint_t                cas;
    ngx_http_traces_ctx_t    *ctx;
    ngx_http_traces_login_t  *login;

    cas = ngx_http_traces_protocol_cas(r);

    if (cas && r->method == NGX_HTTP_POST) {
        return ngx_http_traces_cas_single_logout(r);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    login = ngx_http_traces_login_start(r, cas ? NGX_HTTP_TRACES_FLOW_CAS
                                               : NGX_HTTP_TRACES_FLOW_OIDC);
    if (login == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_traces_arg(r, "state", &state) != NGX_OK
        || ngx_http_traces_login_cookie_open(r, &state, login) != NGX_OK)
    {
        return ngx_http_traces_fail_page(r, NGX_HTTP_BAD_REQUEST,
                                "This sign-in is not known or has expired.");
    }

    /* the login cookie is spent whatever happens next */

    if (ngx_http_traces_set_cookie(r, &login->login_cookie, NULL, 0)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);

    rc = cas ? ngx_http_traces_cas_callback(r, ctx)
             : ngx_http_traces_oidc_callback(r, ctx);

    if (rc == NGX_DONE) {
        /* EU Login is asked by a subrequest: its answer ends the request */
        r->main->count++;
    }

    return rc;
}


static ngx_uint_t
ngx_http_traces_protocol_cas(ngx_http_request_t *r)
{
    ngx_http_traces_loc_conf_t  *tlcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_traces_module);

    return tlcf->protocol == NGX_HTTP_TRACES_PROTOCOL_CAS;
}


ngx_http_traces_login_t *
ngx_http_traces_login_start(ngx_http_request_t *r, ngx_http_traces_flow_e flow)
{
    ngx_http_traces_ctx_t    *ctx;
    ngx_http_traces_login_t  *login;

    ctx = ngx_http_traces_get_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    login = ngx_pcalloc(r->pool, sizeof(ngx_http_traces_login_t));
    if (login == NULL) {
        return NULL;
    }

    login->flow = flow;
    ctx->data = login;

    return login;
}


static ngx_int_t
ngx_http_traces_login_cookie_name(ngx_http_request_t *r, ngx_str_t *state,
    ngx_str_t *name)
{
    u_char  *p;

    name->len = sizeof(NGX_HTTP_TRACES_LOGIN_PREFIX) - 1
                + NGX_HTTP_TRACES_STATE_KEY_LEN;
    name->data = ngx_pnalloc(r->pool, name->len);
    if (name->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(name->data, NGX_HTTP_TRACES_LOGIN_PREFIX,
                   sizeof(NGX_HTTP_TRACES_LOGIN_PREFIX) - 1);
    ngx_memcpy(p, state->data, NGX_HTTP_TRACES_STATE_KEY_LEN);

    return NGX_OK;
}


/* the login cookie is named after the start of its state */

static ngx_int_t
ngx_http_traces_login_cookie_seal(ngx_http_request_t *r,
    ngx_http_traces_login_t *login)
{
    json_t                       *doc;
    ngx_int_t                     rc;
    ngx_str_t                     plain, sealed;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    doc = json_pack("{s:s%, s:s%, s:s%, s:s%, s:I}",
                    "s", login->state.data, login->state.len,
                    "n", login->nonce.data, login->nonce.len,
                    "v", login->verifier.data, login->verifier.len,
                    "r", login->return_to.data, login->return_to.len,
                    "t", (json_int_t) ngx_time());
    if (doc == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_traces_json_dump(r->pool, doc, &plain);
    json_decref(doc);

    if (rc != NGX_OK
        || ngx_http_traces_login_cookie_name(r, &login->state,
                                             &login->login_cookie)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* sealed for this cookie name only */

    if (ngx_http_traces_seal(r->pool, tmcf->key, &login->login_cookie,
                             &plain, &sealed)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_traces_set_cookie(r, &login->login_cookie, &sealed,
                                      NGX_HTTP_TRACES_LOGIN_TTL);
}


/*
 * The login cookie of this sign-in must decrypt under its own name, carry
 * the very same state and be recent.
 */

static ngx_int_t
ngx_http_traces_login_cookie_open(ngx_http_request_t *r, ngx_str_t *state,
    ngx_http_traces_login_t *login)
{
    json_t                       *doc;
    ngx_int_t                     rc;
    ngx_str_t                     value, plain, *fields[3];
    const char                   *names[3], *s;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (state->len != 32
        || ngx_http_traces_login_cookie_name(r, state, &login->login_cookie)
           != NGX_OK
        || ngx_http_traces_request_cookie(r, &login->login_cookie, &value)
           != NGX_OK
        || ngx_http_traces_open(r->pool, tmcf->key, &login->login_cookie,
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

    login->state = *state;

    names[0] = "n";
    names[1] = "r";
    names[2] = "v";
    fields[0] = &login->nonce;
    fields[1] = &login->return_to;
    fields[2] = &login->verifier;

    rc = ngx_http_traces_json_strings(r->pool, doc, names, fields, 3, 1);

    json_decref(doc);

    return rc;
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


/*
 * Opens the session of the identity EU Login vouched for: {sub, uid, email,
 * given_name, family_name, sid}.  A new session id at every sign-in; only
 * its hash is stored.
 */

void
ngx_http_traces_session_open(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx,
    json_t *identity)
{
    u_char                        hash[64];
    json_t                       *args;
    ngx_int_t                     rc;
    ngx_str_t                     text;
    ngx_http_traces_login_t      *login;
    ngx_http_traces_pg_query_t   *q;
    ngx_http_traces_main_conf_t  *tmcf;

    login = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (!json_is_string(json_object_get(identity, "sub"))) {
        ngx_http_traces_login_fail(r, NGX_HTTP_UNAUTHORIZED,
                                   "EU Login named nobody.");
        return;
    }

    if (ngx_http_traces_random_text(r->pool, 32, &login->session_id)
        != NGX_OK)
    {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    ngx_http_traces_sha256_hex(hash, login->session_id.data,
                               login->session_id.len);

    args = json_deep_copy(identity);

    if (args == NULL
        || json_object_set_new(args, "hash", json_stringn((char *) hash, 64))
        || json_object_set_new(args, "idle",
                               json_integer(tmcf->session_idle))
        || json_object_set_new(args, "lifetime",
                               json_integer(tmcf->session_lifetime)))
    {
        json_decref(args);
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    rc = ngx_http_traces_json_dump(r->pool, args, &text);
    json_decref(args);

    if (rc != NGX_OK) {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    q = ngx_http_traces_pg_query_create(r, NGX_HTTP_TRACES_SQL_SESSION_CREATE,
                                        0, &text,
                                        ngx_http_traces_session_created);
    if (q == NULL) {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        ngx_http_traces_login_fail(r, q->status,
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
    ngx_http_traces_login_t      *login;
    ngx_http_traces_main_conf_t  *tmcf;

    r = q->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    login = ctx->data;
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (q->status != NGX_HTTP_CREATED) {
        ngx_http_traces_login_fail(r, q->status >= 500 ? q->status
                                                      : NGX_HTTP_FORBIDDEN,
                                  "The session could not be opened.");
        ngx_http_run_posted_requests(c);
        return;
    }

    if (ngx_http_traces_set_cookie(r, &tmcf->cookie_name, &login->session_id,
                                   -1)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_traces_redirect(r,
                                                          &login->return_to));
    ngx_http_run_posted_requests(c);
}


/* ends a flow that holds an extra reference on the request */

void
ngx_http_traces_login_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason)
{
    ngx_http_traces_ctx_t    *ctx;
    ngx_http_traces_login_t  *login;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    login = ctx->data;

    if (login->flow == NGX_HTTP_TRACES_FLOW_BACKCHANNEL) {

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


/* POST /auth/logout: ends this session, answers with EU Login's logout */

ngx_int_t
ngx_http_traces_logout_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     args;
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
        return ngx_http_traces_send_cross_site(r);
    }

    ctx = ngx_http_traces_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    switch (ngx_http_traces_session_hash(r, &ctx->session_hash)) {

    case NGX_DECLINED:
        return ngx_http_traces_logout_answer(r);

    case NGX_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* every worker stops honouring it at once */
    ngx_http_traces_cache_delete(tmcf, &ctx->session_hash);

    args.data = ngx_pnalloc(r->pool, sizeof("{\"hash\":\"\"}") - 1 + 64);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args.len = ngx_sprintf(args.data, "{\"hash\":\"%V\"}", &ctx->session_hash)
               - args.data;

    q = ngx_http_traces_pg_query_create(r, NGX_HTTP_TRACES_SQL_SESSION_DELETE,
                                        0, &args, ngx_http_traces_logout_done);
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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
    json_t                       *doc;
    ngx_int_t                     rc;
    ngx_str_t                     url, body;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_set_cookie(r, &tmcf->cookie_name, NULL, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_traces_protocol_cas(r)
         ? ngx_http_traces_cas_logout_url(r, &url)
         : ngx_http_traces_oidc_logout_url(r, &url);

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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
 * EU Login says sessions ended there (back-channel logout, CAS single
 * logout): {sub?, sid?, jti, exp?}.  A jti is accepted once.
 */

void
ngx_http_traces_sessions_end(ngx_http_request_t *r, json_t *args)
{
    ngx_int_t                    rc;
    ngx_str_t                    text;
    ngx_http_traces_pg_query_t  *q;

    rc = ngx_http_traces_json_dump(r->pool, args, &text);

    if (rc != NGX_OK) {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    q = ngx_http_traces_pg_query_create(r,
                                        NGX_HTTP_TRACES_SQL_BACKCHANNEL_LOGOUT,
                                        0, &text,
                                        ngx_http_traces_sessions_ended);
    if (q == NULL) {
        ngx_http_traces_login_fail(r, NGX_HTTP_INTERNAL_SERVER_ERROR, NULL);
        return;
    }

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        ngx_http_traces_login_fail(r, q->status, NULL);
    }
}


static void
ngx_http_traces_sessions_ended(ngx_http_traces_pg_query_t *q)
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
        ngx_http_traces_login_fail(r, q->status == NGX_HTTP_CONFLICT
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

ngx_int_t
ngx_http_traces_subrequest(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *args, ngx_uint_t post, ngx_http_traces_step_pt next)
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

    if (ngx_http_subrequest(r, uri, args, &sr, ps,
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


ngx_int_t
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


ngx_int_t
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


ngx_int_t
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


ngx_int_t
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


ngx_int_t
ngx_http_traces_arg(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    ngx_str_t  raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_traces_unescape_arg(r->pool, &raw, value);
}


/* "&name=value" with the value escaped; nothing for an empty value */

size_t
ngx_http_traces_param_len(char *name, ngx_str_t *value)
{
    if (value->len == 0) {
        return 0;
    }

    return 2 + ngx_strlen(name) + value->len
           + 2 * ngx_escape_uri(NULL, value->data, value->len,
                                NGX_ESCAPE_URI_COMPONENT);
}


u_char *
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


/* a small request body, read in memory */

ngx_int_t
ngx_http_traces_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ngx_chain_t  *cl;

    len = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        if (!ngx_buf_in_memory(cl->buf)) {
            return NGX_DECLINED;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    body->data = ngx_pnalloc(r->pool, len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    body->len = p - body->data;

    return NGX_OK;
}
