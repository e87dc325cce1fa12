
/*
 * TRACES access gate for nginx: directives and module life cycle.
 */


#include "ngx_http_traces_module.h"
#include "ngx_http_traces_pg.h"
#include "ngx_http_traces_crypto.h"
#include "ngx_http_traces_jwt.h"


static ngx_int_t ngx_http_traces_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_traces_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_traces_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_traces_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_traces_conf_error(ngx_conf_t *cf, const char *reason);
static void *ngx_http_traces_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_traces_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_traces_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_traces_auth(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_traces_client_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_traces_client_key_free(void *data);
static char *ngx_http_traces_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_traces_assurance(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_traces_strengths(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_traces_assurance_acr(ngx_conf_t *cf,
    ngx_http_traces_main_conf_t *tmcf);
static ngx_int_t ngx_http_traces_init_process(ngx_cycle_t *cycle);
static void ngx_http_traces_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_traces_protocols[] = {
    { ngx_string("oidc"), NGX_HTTP_TRACES_PROTOCOL_OIDC },
    { ngx_string("cas"), NGX_HTTP_TRACES_PROTOCOL_CAS },
    { ngx_null_string, 0 }
};


/* EU Login's assurance levels, and the acr values that say them in OIDC */

static ngx_conf_enum_t  ngx_http_traces_assurance_levels[] = {
    { ngx_string("low"), 10 },
    { ngx_string("medium"), 20 },
    { ngx_string("high"), 30 },
    { ngx_string("top"), 40 },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_traces_client_auths[] = {
    { ngx_string("client_secret_basic"), NGX_HTTP_TRACES_AUTH_BASIC },
    { ngx_string("client_secret_post"), NGX_HTTP_TRACES_AUTH_POST },
    { ngx_string("private_key_jwt"), NGX_HTTP_TRACES_AUTH_JWT },
    { ngx_null_string, 0 }
};


#define M(field)  offsetof(ngx_http_traces_main_conf_t, field)

static ngx_command_t  ngx_http_traces_commands[] = {

    { ngx_string("traces_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(db_conninfo),
      NULL },

    { ngx_string("traces_db_connections"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(db_connections),
      NULL },

    { ngx_string("traces_db_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(db_queue),
      NULL },

    { ngx_string("traces_db_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(db_connect_timeout),
      NULL },

    { ngx_string("traces_db_query_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(db_query_timeout),
      NULL },

    { ngx_string("traces_db_retry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(db_retry),
      NULL },

    { ngx_string("traces_session_cache_valid"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cache_valid),
      NULL },

    { ngx_string("traces_session_cache_size"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cache_size),
      NULL },

    { ngx_string("traces_session_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(session_idle),
      NULL },

    { ngx_string("traces_session_lifetime"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(session_lifetime),
      NULL },

    { ngx_string("traces_cookie_name"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cookie_name),
      NULL },

    { ngx_string("traces_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cookie_secure),
      NULL },

    { ngx_string("traces_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(key_file),
      NULL },

    { ngx_string("traces_login_cookies_max"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(login_cookies_max),
      NULL },

    { ngx_string("traces_oidc_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(issuer),
      NULL },

    { ngx_string("traces_oidc_client_id"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(client_id),
      NULL },

    { ngx_string("traces_oidc_client_secret"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(client_secret),
      NULL },

    { ngx_string("traces_oidc_client_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(client_auth),
      &ngx_http_traces_client_auths },

    { ngx_string("traces_oidc_client_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_traces_client_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("traces_oidc_authorization_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(authorization_endpoint),
      NULL },

    { ngx_string("traces_oidc_token_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(token_endpoint),
      NULL },

    { ngx_string("traces_oidc_end_session_endpoint"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(end_session_endpoint),
      NULL },

    { ngx_string("traces_oidc_token_location"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(token_location),
      NULL },

    { ngx_string("traces_oidc_jwks_location"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(jwks_location),
      NULL },

    { ngx_string("traces_oidc_redirect_uri"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(redirect_uri),
      NULL },

    { ngx_string("traces_oidc_post_logout_uri"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(post_logout_uri),
      NULL },

    { ngx_string("traces_oidc_scope"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(scope),
      NULL },

    { ngx_string("traces_oidc_acr_values"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(acr_values),
      NULL },

    { ngx_string("traces_oidc_algorithms"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_traces_algorithms,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("traces_oidc_clock_skew"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(clock_skew),
      NULL },

    { ngx_string("traces_oidc_jwks_refresh"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(jwks_refresh),
      NULL },

    { ngx_string("traces_cas_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cas_url),
      NULL },

    { ngx_string("traces_cas_location"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cas_location),
      NULL },

    { ngx_string("traces_cas_validation"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      M(cas_validation),
      NULL },

    { ngx_string("traces_assurance_level"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_traces_assurance,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("traces_accept_strengths"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_traces_strengths,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("traces_auth_protocol"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_traces_loc_conf_t, protocol),
      &ngx_http_traces_protocols },

    { ngx_string("traces_gate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_traces_loc_conf_t, gate),
      NULL },

    { ngx_string("traces_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_traces_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("traces_auth"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_traces_auth,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};

#undef M


static ngx_http_module_t  ngx_http_traces_module_ctx = {
    ngx_http_traces_preconfiguration,      /* preconfiguration */
    ngx_http_traces_postconfiguration,     /* postconfiguration */

    ngx_http_traces_create_main_conf,      /* create main configuration */
    ngx_http_traces_init_main_conf,        /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_traces_create_loc_conf,       /* create location configuration */
    ngx_http_traces_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_traces_module = {
    NGX_MODULE_V1,
    &ngx_http_traces_module_ctx,           /* module context */
    ngx_http_traces_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_traces_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_traces_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_traces_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_traces_gate_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_traces_oidc_add_variables(cf);
}


static ngx_int_t
ngx_http_traces_postconfiguration(ngx_conf_t *cf)
{
    return ngx_http_traces_gate_init(cf);
}


static void *
ngx_http_traces_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_traces_main_conf_t));
    if (tmcf == NULL) {
        return NULL;
    }

    tmcf->db_connections = NGX_CONF_UNSET_UINT;
    tmcf->db_queue = NGX_CONF_UNSET_UINT;
    tmcf->db_connect_timeout = NGX_CONF_UNSET_MSEC;
    tmcf->db_query_timeout = NGX_CONF_UNSET_MSEC;
    tmcf->db_retry = NGX_CONF_UNSET_MSEC;
    tmcf->cache_valid = NGX_CONF_UNSET;
    tmcf->cache_size = NGX_CONF_UNSET_SIZE;
    tmcf->session_idle = NGX_CONF_UNSET;
    tmcf->session_lifetime = NGX_CONF_UNSET;
    tmcf->cookie_secure = NGX_CONF_UNSET;
    tmcf->login_cookies_max = NGX_CONF_UNSET_UINT;
    tmcf->client_auth = NGX_CONF_UNSET_UINT;
    tmcf->clock_skew = NGX_CONF_UNSET;
    tmcf->jwks_refresh = NGX_CONF_UNSET;

    return tmcf;
}


static char *
ngx_http_traces_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_traces_main_conf_t  *tmcf = conf;

    ngx_conf_init_uint_value(tmcf->db_connections, 4);
    ngx_conf_init_uint_value(tmcf->db_queue, 256);
    ngx_conf_init_msec_value(tmcf->db_connect_timeout, 3000);
    ngx_conf_init_msec_value(tmcf->db_query_timeout, 10000);
    ngx_conf_init_msec_value(tmcf->db_retry, 1000);
    ngx_conf_init_value(tmcf->cache_valid, 5);
    ngx_conf_init_size_value(tmcf->cache_size, 8 * 1024 * 1024);
    ngx_conf_init_value(tmcf->session_idle, 1800);
    ngx_conf_init_value(tmcf->session_lifetime, 43200);
    ngx_conf_init_value(tmcf->cookie_secure, 1);
    ngx_conf_init_uint_value(tmcf->login_cookies_max, 4);
    ngx_conf_init_uint_value(tmcf->client_auth, NGX_HTTP_TRACES_AUTH_BASIC);
    ngx_conf_init_value(tmcf->clock_skew, 60);
    ngx_conf_init_value(tmcf->jwks_refresh, 10);

    if (tmcf->cookie_name.len == 0) {
        ngx_str_set(&tmcf->cookie_name, "traces_session");
    }

    if (tmcf->scope.len == 0) {
        ngx_str_set(&tmcf->scope, "openid email profile");
    }

    if (tmcf->token_location.len == 0) {
        ngx_str_set(&tmcf->token_location, "/_traces/token");
    }

    if (tmcf->jwks_location.len == 0) {
        ngx_str_set(&tmcf->jwks_location, "/_traces/jwks");
    }

    if (tmcf->cas_location.len == 0) {
        ngx_str_set(&tmcf->cas_location, "/_traces/cas/");
    }

    if (tmcf->cas_validation.len == 0) {
        ngx_str_set(&tmcf->cas_validation, "serviceValidate");
    }

    if (ngx_strcmp(tmcf->cas_validation.data, "serviceValidate") != 0
        && ngx_strcmp(tmcf->cas_validation.data, "p3/serviceValidate") != 0
        && ngx_strcmp(tmcf->cas_validation.data, "strictValidate") != 0
        && ngx_strcmp(tmcf->cas_validation.data, "laxValidate") != 0)
    {
        return ngx_http_traces_conf_error(cf,
                   "traces_cas_validation must be serviceValidate, "
                   "p3/serviceValidate, strictValidate or laxValidate");
    }

    if (tmcf->assurance_level && tmcf->acr_values.len == 0
        && ngx_http_traces_assurance_acr(cf, tmcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (tmcf->algorithms == 0) {
        tmcf->algorithms = NGX_HTTP_TRACES_JWT_RS256
                           | NGX_HTTP_TRACES_JWT_PS256
                           | NGX_HTTP_TRACES_JWT_PS512
                           | NGX_HTTP_TRACES_JWT_ES256;
    }

    if (tmcf->db_connections == 0 || tmcf->db_connections > 1024) {
        return ngx_http_traces_conf_error(cf,
                   "traces_db_connections must be between 1 and 1024");
    }

    /* the slab allocator keeps a few pages for itself */

    if (tmcf->cache_size < 8 * ngx_pagesize) {
        return ngx_http_traces_conf_error(cf,
                   "traces_session_cache_size is too small: "
                   "8 memory pages at least");
    }

    if (tmcf->db_conninfo.len == 0) {
        return NGX_CONF_OK;
    }

    if (tmcf->key_file.len == 0) {
        return ngx_http_traces_conf_error(cf,
                   "traces_key_file is required with traces_db");
    }

    if (ngx_conf_full_name(cf->cycle, &tmcf->key_file, 1) != NGX_OK
        || ngx_http_traces_key_from_file(cf->log, &tmcf->key_file, tmcf->key)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (tmcf->client_auth == NGX_HTTP_TRACES_AUTH_JWT
        && tmcf->client_key == NULL)
    {
        return ngx_http_traces_conf_error(cf,
                   "private_key_jwt needs traces_oidc_client_key");
    }

    if (ngx_http_traces_cache_add_zone(cf, tmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* nginx names the file and the line where the http block ends */

static char *
ngx_http_traces_conf_error(ngx_conf_t *cf, const char *reason)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", reason);
    return NGX_CONF_ERROR;
}


static void *
ngx_http_traces_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_traces_loc_conf_t  *tlcf;

    tlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_traces_loc_conf_t));
    if (tlcf == NULL) {
        return NULL;
    }

    tlcf->gate = NGX_CONF_UNSET;
    tlcf->protocol = NGX_CONF_UNSET_UINT;

    return tlcf;
}


static char *
ngx_http_traces_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_traces_loc_conf_t  *prev = parent;
    ngx_http_traces_loc_conf_t  *conf = child;

    ngx_http_traces_main_conf_t  *tmcf;

    ngx_conf_merge_value(conf->gate, prev->gate, 0);
    ngx_conf_merge_uint_value(conf->protocol, prev->protocol,
                              NGX_HTTP_TRACES_PROTOCOL_OIDC);

    if (conf->gate) {
        tmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_traces_module);

        if (tmcf->db_conninfo.len == 0) {
            return "traces_gate needs traces_db";
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_traces_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_traces_api_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_traces_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "login") == 0) {
        clcf->handler = ngx_http_traces_login_handler;

    } else if (ngx_strcmp(value[1].data, "callback") == 0) {
        clcf->handler = ngx_http_traces_callback_handler;

    } else if (ngx_strcmp(value[1].data, "logout") == 0) {
        clcf->handler = ngx_http_traces_logout_handler;

    } else if (ngx_strcmp(value[1].data, "backchannel_logout") == 0) {
        clcf->handler = ngx_http_traces_backchannel_handler;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": use login, callback, "
                           "logout or backchannel_logout", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_traces_client_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_traces_main_conf_t  *tmcf = conf;

    ngx_str_t           *value;
    ngx_pool_cleanup_t  *cln;

    if (tmcf->client_key) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_conf_full_name(cf->cycle, &value[1], 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    tmcf->client_key_file = value[1];
    tmcf->client_key_id = value[2];

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    tmcf->client_key = ngx_http_traces_pem_private_key(cf->log, &value[1]);
    if (tmcf->client_key == NULL) {
        return NGX_CONF_ERROR;
    }

    /* freed with the cycle: a reload would leak one key otherwise */
    cln->handler = ngx_http_traces_client_key_free;
    cln->data = tmcf->client_key;

    return NGX_CONF_OK;
}


static void
ngx_http_traces_client_key_free(void *data)
{
    EVP_PKEY_free(data);
}


static char *
ngx_http_traces_algorithms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_traces_main_conf_t  *tmcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, bit;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        bit = ngx_http_traces_jwt_alg_bit(&value[i]);

        if (bit == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unsupported algorithm \"%V\": use RS256, "
                               "PS256, PS512 or ES256", &value[i]);
            return NGX_CONF_ERROR;
        }

        tmcf->algorithms |= bit;
    }

    return NGX_CONF_OK;
}


/* traces_assurance_level low | medium | high | top | 10 .. 40 */

static char *
ngx_http_traces_assurance(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_traces_main_conf_t  *tmcf = conf;

    ngx_int_t         n;
    ngx_str_t        *value;
    ngx_conf_enum_t  *e;

    value = cf->args->elts;

    for (e = ngx_http_traces_assurance_levels; e->name.len; e++) {
        if (ngx_strcasecmp(e->name.data, value[1].data) == 0) {
            tmcf->assurance_level = e->value;
            return NGX_CONF_OK;
        }
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > 40) {
        return "must be low, medium, high, top or a number up to 40";
    }

    tmcf->assurance_level = n;

    return NGX_CONF_OK;
}


/* traces_accept_strengths PASSWORD_MOBILE_APP PASSWORD_SMS ... */

static char *
ngx_http_traces_strengths(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_traces_main_conf_t  *tmcf = conf;

    u_char      *p;
    size_t       len;
    ngx_str_t   *value, *s;
    ngx_uint_t   i;

    if (tmcf->strengths) {
        return "is duplicate";
    }

    value = cf->args->elts;

    tmcf->strengths = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                       sizeof(ngx_str_t));
    if (tmcf->strengths == NULL) {
        return NGX_CONF_ERROR;
    }

    len = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        s = ngx_array_push(tmcf->strengths);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
        len += value[i].len + 1;
    }

    /* as EU Login's acceptStrengths parameter wants them */

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    tmcf->strengths_text.data = p;

    for (i = 1; i < cf->args->nelts; i++) {
        p = ngx_cpymem(p, value[i].data, value[i].len);
        *p++ = ',';
    }

    tmcf->strengths_text.len = len - 1;

    return NGX_CONF_OK;
}


/* an assurance level is asked of OpenID Connect as its acr values */

static char *
ngx_http_traces_assurance_acr(ngx_conf_t *cf,
    ngx_http_traces_main_conf_t *tmcf)
{
    u_char           *p;
    ngx_conf_enum_t  *e;

    p = ngx_pnalloc(cf->pool, 4 * sizeof("http://eulogin.europa.eu/assurance/"
                                         "medium "));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    tmcf->acr_values.data = p;

    for (e = ngx_http_traces_assurance_levels; e->name.len; e++) {
        if (e->value >= tmcf->assurance_level) {
            p = ngx_sprintf(p, "http://eulogin.europa.eu/assurance/%V ",
                            &e->name);
        }
    }

    tmcf->acr_values.len = p - tmcf->acr_values.data - 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_traces_init_process(ngx_cycle_t *cycle)
{
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_traces_module);

    if (tmcf == NULL || tmcf->db_conninfo.len == 0) {
        return NGX_OK;
    }

    return ngx_http_traces_pg_init_process(cycle, tmcf);
}


static void
ngx_http_traces_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_traces_pg_exit_process();
}


ngx_http_traces_ctx_t *
ngx_http_traces_get_ctx(ngx_http_request_t *r)
{
    ngx_http_traces_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_traces_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_traces_module);
    }

    return ctx;
}
