
/*
 * TRACES access gate: signing in, whatever the protocol (OpenID Connect or
 * CAS), and the session it opens.
 */


#ifndef _NGX_HTTP_TRACES_AUTH_H_INCLUDED_
#define _NGX_HTTP_TRACES_AUTH_H_INCLUDED_


#include <jansson.h>

#include "ngx_http_traces_module.h"
#include "ngx_http_traces_jwt.h"


#define NGX_HTTP_TRACES_LOGIN_TTL  600


typedef enum {
    NGX_HTTP_TRACES_FLOW_OIDC = 0,
    NGX_HTTP_TRACES_FLOW_BACKCHANNEL,
    NGX_HTTP_TRACES_FLOW_CAS
} ngx_http_traces_flow_e;


/* one sign-in, or one logout notice, under way */

typedef struct {
    ngx_http_traces_flow_e       flow;

    /* kept in the login cookie between /auth/login and the callback */
    ngx_str_t                    state;
    ngx_str_t                    nonce;
    ngx_str_t                    verifier;
    ngx_str_t                    return_to;
    ngx_str_t                    login_cookie;

    /* what EU Login sent: ID token, logout token or CAS ticket */
    ngx_str_t                    token;
    ngx_http_traces_jwt_t        jwt;
    unsigned                     parsed:1;
    unsigned                     jwks_fetched:1;

    ngx_str_t                    session_id;
} ngx_http_traces_login_t;


/*
 * each protocol: where to send the browser, and what to do on its return;
 * a callback answers NGX_DONE once it has asked EU Login by a subrequest,
 * or the status of the answer it sent (or is to be sent) at once
 */

ngx_int_t ngx_http_traces_oidc_login(ngx_http_request_t *r,
    ngx_http_traces_login_t *login, ngx_str_t *hint);
ngx_int_t ngx_http_traces_oidc_callback(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
ngx_int_t ngx_http_traces_oidc_logout_url(ngx_http_request_t *r,
    ngx_str_t *url);

ngx_int_t ngx_http_traces_cas_login(ngx_http_request_t *r,
    ngx_http_traces_login_t *login, ngx_str_t *hint);
ngx_int_t ngx_http_traces_cas_callback(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
ngx_int_t ngx_http_traces_cas_single_logout(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_cas_logout_url(ngx_http_request_t *r,
    ngx_str_t *url);

/* what they share */

ngx_http_traces_login_t *ngx_http_traces_login_start(ngx_http_request_t *r,
    ngx_http_traces_flow_e flow);
void ngx_http_traces_session_open(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx, json_t *identity);
void ngx_http_traces_sessions_end(ngx_http_request_t *r, json_t *args);
void ngx_http_traces_login_fail(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason);
ngx_int_t ngx_http_traces_fail_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *reason);
ngx_int_t ngx_http_traces_subrequest(ngx_http_request_t *r, ngx_str_t *uri,
    ngx_str_t *args, ngx_uint_t post, ngx_http_traces_step_pt next);
ngx_int_t ngx_http_traces_read_body(ngx_http_request_t *r, ngx_str_t *body);
ngx_int_t ngx_http_traces_set_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value, time_t max_age);
ngx_int_t ngx_http_traces_redirect(ngx_http_request_t *r,
    ngx_str_t *location);
ngx_int_t ngx_http_traces_random_text(ngx_pool_t *pool, size_t bytes,
    ngx_str_t *out);
ngx_int_t ngx_http_traces_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value);
size_t ngx_http_traces_param_len(char *name, ngx_str_t *value);
u_char *ngx_http_traces_append_param(u_char *p, char *name,
    ngx_str_t *value);


#endif /* _NGX_HTTP_TRACES_AUTH_H_INCLUDED_ */
