
/*
 * TRACES access gate for nginx: shared types.
 */


#ifndef _NGX_HTTP_TRACES_MODULE_H_INCLUDED_
#define _NGX_HTTP_TRACES_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>

#include "ngx_http_traces_crypto.h"


#define NGX_HTTP_TRACES_AUTH_BASIC     0
#define NGX_HTTP_TRACES_AUTH_POST      1
#define NGX_HTTP_TRACES_AUTH_JWT       2

#define NGX_HTTP_TRACES_PROTOCOL_OIDC  0
#define NGX_HTTP_TRACES_PROTOCOL_CAS   1


typedef struct ngx_http_traces_pg_query_s  ngx_http_traces_pg_query_t;
typedef struct ngx_http_traces_cache_s     ngx_http_traces_cache_t;


typedef struct {
    /* database */
    ngx_str_t                    db_conninfo;
    ngx_uint_t                   db_connections;
    ngx_uint_t                   db_queue;
    ngx_msec_t                   db_connect_timeout;
    ngx_msec_t                   db_query_timeout;
    ngx_msec_t                   db_retry;

    /* sessions */
    ngx_shm_zone_t              *shm_zone;
    time_t                       cache_valid;
    size_t                       cache_size;
    time_t                       session_idle;
    time_t                       session_lifetime;
    ngx_str_t                    cookie_name;
    ngx_flag_t                   cookie_secure;
    ngx_str_t                    key_file;
    u_char                       key[NGX_HTTP_TRACES_KEY_LEN];
    ngx_uint_t                   login_cookies_max;

    /* EU Login, OpenID Connect */
    ngx_str_t                    issuer;
    ngx_str_t                    client_id;
    ngx_str_t                    client_secret;
    ngx_uint_t                   client_auth;
    ngx_str_t                    client_key_file;
    ngx_str_t                    client_key_id;
    EVP_PKEY                    *client_key;
    ngx_str_t                    authorization_endpoint;
    ngx_str_t                    token_endpoint;
    ngx_str_t                    end_session_endpoint;
    ngx_str_t                    token_location;
    ngx_str_t                    jwks_location;
    ngx_str_t                    redirect_uri;
    ngx_str_t                    post_logout_uri;
    ngx_str_t                    scope;
    ngx_str_t                    acr_values;
    ngx_uint_t                   algorithms;
    time_t                       clock_skew;
    time_t                       jwks_refresh;

    /* EU Login, CAS */
    ngx_str_t                    cas_url;
    ngx_str_t                    cas_location;
    ngx_str_t                    cas_validation;
    ngx_str_t                    cas_service;

    /* assurance, whatever the protocol */
    ngx_uint_t                   assurance_level;
    ngx_array_t                 *strengths;
    ngx_str_t                    strengths_text;
} ngx_http_traces_main_conf_t;


typedef struct {
    ngx_flag_t                   gate;
    ngx_uint_t                   protocol;
} ngx_http_traces_loc_conf_t;


/* who the gate found behind the session cookie */

typedef struct {
    int64_t                      user_id;
    ngx_str_t                    user_id_text;
    ngx_str_t                    uid;
    ngx_str_t                    email;
    ngx_str_t                    roles;
    time_t                       expires;
} ngx_http_traces_user_t;


typedef struct ngx_http_traces_ctx_s  ngx_http_traces_ctx_t;

typedef void (*ngx_http_traces_step_pt)(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);


struct ngx_http_traces_ctx_s {
    ngx_http_traces_user_t       user;
    ngx_str_t                    session_hash;

    /* the query under way, and what to call when it ends */
    ngx_http_traces_pg_query_t  *query;
    ngx_http_traces_step_pt      next;

    /* gate state in the access phase */
    unsigned                     gate_checked:1;
    unsigned                     gate_pending:1;
    unsigned                     authenticated:1;

    /* per-handler state (api route, login flow) */
    void                        *data;

    /* the body of the token request, read by $traces_oidc_token_body */
    ngx_str_t                    token_body;
    ngx_str_t                    token_authorization;

    /* answer of the last subrequest */
    ngx_uint_t                   sr_status;
    ngx_str_t                    sr_body;
    unsigned                     sr_done:1;
};


extern ngx_module_t  ngx_http_traces_module;


ngx_http_traces_ctx_t *ngx_http_traces_get_ctx(ngx_http_request_t *r);
void ngx_http_traces_resume(ngx_http_request_t *r);

/* gate */
ngx_int_t ngx_http_traces_gate_init(ngx_conf_t *cf);
ngx_int_t ngx_http_traces_gate_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_traces_cache_add_zone(ngx_conf_t *cf,
    ngx_http_traces_main_conf_t *tmcf);
void ngx_http_traces_cache_delete(ngx_http_traces_main_conf_t *tmcf,
    ngx_str_t *hash);
ngx_int_t ngx_http_traces_session_cookie(ngx_http_request_t *r,
    ngx_str_t *value);
ngx_int_t ngx_http_traces_session_hash(ngx_http_request_t *r,
    ngx_str_t *hash);
ngx_int_t ngx_http_traces_request_cookie(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *value);
ngx_int_t ngx_http_traces_wants_json(ngx_http_request_t *r);

/* JWKS kept in the shared zone */
ngx_int_t ngx_http_traces_jwks_get(ngx_http_traces_main_conf_t *tmcf,
    ngx_pool_t *pool, ngx_str_t *jwks, time_t *fetched);
void ngx_http_traces_jwks_set(ngx_http_traces_main_conf_t *tmcf,
    ngx_str_t *jwks);

/* content handlers */
ngx_int_t ngx_http_traces_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_login_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_callback_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_logout_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_backchannel_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_oidc_add_variables(ngx_conf_t *cf);

/* cross-site request check for state-changing calls */
ngx_int_t ngx_http_traces_same_origin(ngx_http_request_t *r);


#endif /* _NGX_HTTP_TRACES_MODULE_H_INCLUDED_ */
