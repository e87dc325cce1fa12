
/*
 * TRACES access gate: the session check of the access phase.
 *
 * Cookie -> SHA-256 of the session id -> shared-memory cache -> database.
 * A cached answer is used for traces_session_cache_valid at most, so a
 * logout (which removes it from the cache at once), a suspension or a role
 * change reaches every worker within that bound.
 */


#include <jansson.h>

#include "ngx_http_traces_module.h"
#include "ngx_http_traces_pg.h"
#include "ngx_http_traces_json.h"
#include "ngx_http_traces_cookie.h"
#include "ngx_http_traces_crypto.h"


#define NGX_HTTP_TRACES_HASH_LEN  64


typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  lru;
    u_char                      *jwks;
    size_t                       jwks_len;
    time_t                       jwks_fetched;
} ngx_http_traces_cache_sh_t;


struct ngx_http_traces_cache_s {
    ngx_http_traces_cache_sh_t  *sh;
    ngx_slab_pool_t             *shpool;
};


/* lives at &node->color, as in ngx_http_limit_req_module */

typedef struct {
    u_char                       color;
    u_char                       pad;
    u_short                      uid_len;
    u_short                      email_len;
    u_short                      roles_len;
    ngx_queue_t                  queue;
    time_t                       fetched;
    time_t                       expires;
    int64_t                      user_id;
    u_char                       data[1];   /* hash, uid, email, roles */
} ngx_http_traces_cache_node_t;


static ngx_int_t ngx_http_traces_gate_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_traces_gate_decide(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static ngx_int_t ngx_http_traces_gate_refuse(ngx_http_request_t *r,
    ngx_uint_t status);
static void ngx_http_traces_gate_done(ngx_http_traces_pg_query_t *q);
static ngx_int_t ngx_http_traces_gate_parse(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx, ngx_str_t *body);
static ngx_int_t ngx_http_traces_strip_identity(ngx_http_request_t *r);
static ngx_rbtree_node_t *ngx_http_traces_cache_find(
    ngx_http_traces_cache_t *cache, ngx_str_t *hash, uint32_t key);
static ngx_int_t ngx_http_traces_cache_get(ngx_http_traces_main_conf_t *tmcf,
    ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_cache_put(ngx_http_traces_main_conf_t *tmcf,
    ngx_http_traces_ctx_t *ctx);
static void ngx_http_traces_cache_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void *ngx_http_traces_cache_alloc_locked(
    ngx_http_traces_cache_t *cache, size_t size, ngx_uint_t evict);
static void ngx_http_traces_cache_drop_locked(ngx_http_traces_cache_t *cache,
    ngx_rbtree_node_t *node);
static ngx_int_t ngx_http_traces_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_traces_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);


static ngx_http_variable_t  ngx_http_traces_gate_vars[] = {

    { ngx_string("traces_user_id"), NULL, ngx_http_traces_variable,
      offsetof(ngx_http_traces_user_t, user_id_text),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("traces_uid"), NULL, ngx_http_traces_variable,
      offsetof(ngx_http_traces_user_t, uid), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("traces_email"), NULL, ngx_http_traces_variable,
      offsetof(ngx_http_traces_user_t, email), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("traces_roles"), NULL, ngx_http_traces_variable,
      offsetof(ngx_http_traces_user_t, roles), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_traces_gate_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_traces_gate_handler;

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_gate_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_traces_gate_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_gate_handler(ngx_http_request_t *r)
{
    ngx_str_t                     args;
    ngx_http_traces_ctx_t        *ctx;
    ngx_http_traces_loc_conf_t   *tlcf;
    ngx_http_traces_pg_query_t   *q;
    ngx_http_traces_main_conf_t  *tmcf;

    tlcf = ngx_http_get_module_loc_conf(r, ngx_http_traces_module);

    if (!tlcf->gate || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_traces_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->gate_pending) {
        return NGX_AGAIN;
    }

    if (ctx->gate_checked) {
        return ngx_http_traces_gate_decide(r, ctx);
    }

    if (ngx_http_traces_strip_identity(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ngx_http_traces_session_hash(r, &ctx->session_hash)) {

    case NGX_DECLINED:
        ctx->gate_checked = 1;
        return ngx_http_traces_gate_decide(r, ctx);

    case NGX_ERROR:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_cache_get(tmcf, r, ctx) == NGX_OK) {
        ctx->gate_checked = 1;
        ctx->authenticated = 1;
        return ngx_http_traces_gate_decide(r, ctx);
    }

    args.data = ngx_pnalloc(r->pool, sizeof("{\"hash\":\"\",\"idle\":}") - 1
                                     + NGX_HTTP_TRACES_HASH_LEN
                                     + NGX_TIME_T_LEN);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    args.len = ngx_sprintf(args.data, "{\"hash\":\"%*s\",\"idle\":%T}",
                           (size_t) NGX_HTTP_TRACES_HASH_LEN,
                           ctx->session_hash.data,
                           tmcf->session_idle)
               - args.data;

    q = ngx_http_traces_pg_query_create(r, NGX_HTTP_TRACES_SQL_SESSION_LOOKUP,
                                        0, &args, ngx_http_traces_gate_done);
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        return ngx_http_traces_gate_refuse(r, q->status);
    }

    ctx->gate_pending = 1;

    return NGX_AGAIN;
}


static void
ngx_http_traces_gate_done(ngx_http_traces_pg_query_t *q)
{
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_traces_ctx_t        *ctx;
    ngx_http_traces_main_conf_t  *tmcf;

    r = q->data;
    c = r->connection;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    ctx->gate_pending = 0;

    switch (q->status) {

    case NGX_HTTP_OK:
        if (ngx_http_traces_gate_parse(r, ctx, &q->body) == NGX_OK) {
            ctx->authenticated = 1;
            ngx_http_traces_cache_put(tmcf, ctx);
        }

        ctx->gate_checked = 1;
        break;

    case NGX_HTTP_UNAUTHORIZED:
        ngx_http_traces_cache_delete(tmcf, &ctx->session_hash);
        ctx->gate_checked = 1;
        break;

    default:
        /*
         * a 503/504 problem: gate_refuse() finalizes the request itself and
         * returns NGX_DONE; finalizing it once more dropped the request's
         * count twice and crashed the worker (PostgreSQL restarted under
         * load, t/71-faults-db.t)
         */
        rc = ngx_http_traces_gate_refuse(r, q->status);

        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }

        ngx_http_run_posted_requests(c);
        return;
    }

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_traces_gate_parse(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx,
    ngx_str_t *body)
{
    json_t                  *doc;
    ngx_int_t                rc;
    ngx_str_t               *fields[3];
    const char              *names[3];
    ngx_http_traces_user_t  *u;

    u = &ctx->user;

    doc = json_loadb((char *) body->data, body->len, 0, NULL);
    if (doc == NULL) {
        return NGX_ERROR;
    }

    u->user_id = json_integer_value(json_object_get(doc, "user_id"));
    u->expires = json_integer_value(json_object_get(doc, "expires"));

    names[0] = "uid";
    names[1] = "email";
    names[2] = "roles";
    fields[0] = &u->uid;
    fields[1] = &u->email;
    fields[2] = &u->roles;

    rc = ngx_http_traces_json_strings(r->pool, doc, names, fields, 3, 0);

    json_decref(doc);

    if (rc != NGX_OK || u->user_id <= 0 || u->uid.len > 0xffff || u->email.len > 0xffff
        || u->roles.len > 0xffff)
    {
        return NGX_ERROR;
    }

    u->user_id_text.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (u->user_id_text.data == NULL) {
        return NGX_ERROR;
    }

    u->user_id_text.len = ngx_sprintf(u->user_id_text.data, "%L", u->user_id)
                          - u->user_id_text.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_traces_gate_decide(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    if (ctx->authenticated && ctx->user.expires > ngx_time()) {
        return NGX_OK;
    }

    ctx->authenticated = 0;

    return ngx_http_traces_gate_refuse(r, NGX_HTTP_UNAUTHORIZED);
}


/*
 * Pages are sent to sign in and back; JSON clients get a problem document.
 * The answer is sent here, so the phase handler says NGX_DONE.
 */

static ngx_int_t
ngx_http_traces_gate_refuse(ngx_http_request_t *r, ngx_uint_t status)
{
    u_char           *p;
    size_t            len;
    ngx_int_t         rc;
    ngx_table_elt_t  *location;

    if (ngx_http_traces_wants_json(r) || status != NGX_HTTP_UNAUTHORIZED) {
        ngx_http_discard_request_body(r);

        rc = (status == NGX_HTTP_UNAUTHORIZED)
             ? ngx_http_traces_send_problem(r, status,
                                            "Sign in with EU Login first.")
             : ngx_http_traces_send_unavailable(r, status);

        ngx_http_finalize_request(r, rc);
        return NGX_DONE;
    }

    len = ngx_escape_uri(NULL, r->unparsed_uri.data, r->unparsed_uri.len,
                         NGX_ESCAPE_URI_COMPONENT);

    p = ngx_pnalloc(r->pool, sizeof("/auth/login?return_to=") - 1
                             + r->unparsed_uri.len + 2 * len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location->hash = 1;
#if (nginx_version >= 1023000)
    location->next = NULL;
#endif
    ngx_str_set(&location->key, "Location");
    location->value.data = p;

    p = ngx_cpymem(p, "/auth/login?return_to=",
                   sizeof("/auth/login?return_to=") - 1);
    p = (u_char *) ngx_escape_uri(p, r->unparsed_uri.data,
                                  r->unparsed_uri.len,
                                  NGX_ESCAPE_URI_COMPONENT);

    location->value.len = p - location->value.data;

    ngx_http_clear_location(r);
    r->headers_out.location = location;

    return NGX_HTTP_MOVED_TEMPORARILY;
}


ngx_int_t
ngx_http_traces_wants_json(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (r->uri.len >= sizeof("/api/") - 1
        && ngx_strncmp(r->uri.data, "/api/", sizeof("/api/") - 1) == 0)
    {
        return 1;
    }

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return 0;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("X-Requested-With") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Requested-With",
                               h[i].key.len) == 0)
        {
            return 1;
        }

        if (h[i].key.len == sizeof("Accept") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Accept",
                               h[i].key.len) == 0
            && ngx_strlcasestrn(h[i].value.data,
                                h[i].value.data + h[i].value.len,
                                (u_char *) "application/json",
                                sizeof("application/json") - 2))
        {
            return 1;
        }

        if (h[i].key.len == sizeof("Sec-Fetch-Mode") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Sec-Fetch-Mode",
                               h[i].key.len) == 0
            && h[i].value.len == sizeof("cors") - 1
            && ngx_strncasecmp(h[i].value.data, (u_char *) "cors", 4) == 0)
        {
            return 1;
        }
    }
}


/*
 * A client may not speak for the gate: request headers named like the
 * identity the gate hands on (X-Traces-*) are dropped before any other
 * module sees them.  The list is rebuilt; elements other modules point to
 * stay where they are.
 */

static ngx_int_t
ngx_http_traces_strip_identity(ngx_http_request_t *r)
{
    ngx_uint_t        i, found;
    ngx_list_t        kept;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *copy;

    found = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len >= sizeof("X-Traces-") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Traces-",
                                   sizeof("X-Traces-") - 1) == 0)
            {
                found = 1;
            }
        }
    }

    if (!found) {
        return NGX_OK;
    }

    if (ngx_list_init(&kept, r->pool, 20, sizeof(ngx_table_elt_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len >= sizeof("X-Traces-") - 1
                && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Traces-",
                                   sizeof("X-Traces-") - 1) == 0)
            {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "traces: dropped client header \"%V\"",
                              &h[i].key);
                continue;
            }

            copy = ngx_list_push(&kept);
            if (copy == NULL) {
                return NGX_ERROR;
            }

            *copy = h[i];
        }
    }

    r->headers_in.headers = kept;

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_session_cookie(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_request_cookie(r, &tmcf->cookie_name, value)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    /* 32 random bytes in base64url; anything else is no session */

    return (value->len == 43) ? NGX_OK : NGX_DECLINED;
}


/* what the database knows a session by: the SHA-256 of its id, in hex */

ngx_int_t
ngx_http_traces_session_hash(ngx_http_request_t *r, ngx_str_t *hash)
{
    ngx_str_t  cookie;

    if (ngx_http_traces_session_cookie(r, &cookie) != NGX_OK) {
        return NGX_DECLINED;
    }

    hash->data = ngx_pnalloc(r->pool, NGX_HTTP_TRACES_HASH_LEN);
    if (hash->data == NULL) {
        return NGX_ERROR;
    }

    ngx_http_traces_sha256_hex(hash->data, cookie.data, cookie.len);
    hash->len = NGX_HTTP_TRACES_HASH_LEN;

    return NGX_OK;
}


/* the first cookie of that name, in whichever Cookie header it came */

ngx_int_t
ngx_http_traces_request_cookie(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
#if (nginx_version >= 1023000)
    ngx_table_elt_t   *h;

    for (h = r->headers_in.cookie; h; h = h->next) {
        if (ngx_http_traces_cookie_find(&h->value, name, value) == NGX_OK) {
            return NGX_OK;
        }
    }
#else
    ngx_uint_t         i;
    ngx_table_elt_t  **h;

    h = r->headers_in.cookies.elts;

    for (i = 0; i < r->headers_in.cookies.nelts; i++) {
        if (ngx_http_traces_cookie_find(&h[i]->value, name, value) == NGX_OK) {
            return NGX_OK;
        }
    }
#endif

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_traces_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_str_t              *s;
    ngx_http_traces_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_traces_module);

    if (ctx == NULL || !ctx->authenticated) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((u_char *) &ctx->user + data);

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* the shared cache */

ngx_int_t
ngx_http_traces_cache_add_zone(ngx_conf_t *cf,
    ngx_http_traces_main_conf_t *tmcf)
{
    ngx_str_t  name;

    ngx_str_set(&name, "traces_sessions");

    tmcf->shm_zone = ngx_shared_memory_add(cf, &name, tmcf->cache_size,
                                           &ngx_http_traces_module);
    if (tmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    tmcf->shm_zone->init = ngx_http_traces_cache_init_zone;
    tmcf->shm_zone->data = ngx_pcalloc(cf->pool,
                                       sizeof(ngx_http_traces_cache_t));

    return tmcf->shm_zone->data ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_traces_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_traces_cache_t  *ocache = data;

    size_t                    len;
    ngx_http_traces_cache_t  *cache;

    cache = shm_zone->data;

    if (ocache) {
        cache->sh = ocache->sh;
        cache->shpool = ocache->shpool;
        return NGX_OK;
    }

    cache->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        cache->sh = cache->shpool->data;
        return NGX_OK;
    }

    cache->sh = ngx_slab_calloc(cache->shpool,
                                sizeof(ngx_http_traces_cache_sh_t));
    if (cache->sh == NULL) {
        return NGX_ERROR;
    }

    cache->shpool->data = cache->sh;

    ngx_rbtree_init(&cache->sh->rbtree, &cache->sh->sentinel,
                    ngx_http_traces_cache_insert_value);
    ngx_queue_init(&cache->sh->lru);

    len = sizeof(" in traces session cache \"\"") + shm_zone->shm.name.len;

    cache->shpool->log_ctx = ngx_slab_alloc(cache->shpool, len);
    if (cache->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(cache->shpool->log_ctx, " in traces session cache \"%V\"%Z",
                &shm_zone->shm.name);

    cache->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_traces_cache_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_traces_cache_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            cn = (ngx_http_traces_cache_node_t *) &node->color;
            cnt = (ngx_http_traces_cache_node_t *) &temp->color;

            p = (ngx_memcmp(cn->data, cnt->data, NGX_HTTP_TRACES_HASH_LEN) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_rbtree_node_t *
ngx_http_traces_cache_find(ngx_http_traces_cache_t *cache, ngx_str_t *hash,
    uint32_t key)
{
    ngx_int_t                      rc;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_traces_cache_node_t  *cn;

    node = cache->sh->rbtree.root;
    sentinel = cache->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (key != node->key) {
            node = (key < node->key) ? node->left : node->right;
            continue;
        }

        cn = (ngx_http_traces_cache_node_t *) &node->color;

        rc = ngx_memcmp(hash->data, cn->data, NGX_HTTP_TRACES_HASH_LEN);

        if (rc == 0) {
            return node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_int_t
ngx_http_traces_cache_get(ngx_http_traces_main_conf_t *tmcf,
    ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    u_char                        *p;
    time_t                         now;
    size_t                         len;
    uint32_t                       key;
    ngx_rbtree_node_t             *node;
    ngx_http_traces_user_t        *u;
    ngx_http_traces_cache_t       *cache;
    ngx_http_traces_cache_node_t  *cn;

    cache = tmcf->shm_zone->data;
    key = ngx_crc32_short(ctx->session_hash.data, ctx->session_hash.len);
    now = ngx_time();
    u = &ctx->user;

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_traces_cache_find(cache, &ctx->session_hash, key);

    if (node == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DECLINED;
    }

    cn = (ngx_http_traces_cache_node_t *) &node->color;

    if (now - cn->fetched >= tmcf->cache_valid || now >= cn->expires) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DECLINED;
    }

    len = cn->uid_len + cn->email_len + cn->roles_len;

    p = ngx_pnalloc(r->pool, len + NGX_INT64_LEN);
    if (p == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_memcpy(p, cn->data + NGX_HTTP_TRACES_HASH_LEN, len);

    u->user_id = cn->user_id;
    u->expires = cn->expires;

    ngx_queue_remove(&cn->queue);
    ngx_queue_insert_head(&cache->sh->lru, &cn->queue);

    u->uid.data = p;
    u->uid.len = cn->uid_len;
    u->email.data = p + cn->uid_len;
    u->email.len = cn->email_len;
    u->roles.data = u->email.data + cn->email_len;
    u->roles.len = cn->roles_len;

    ngx_shmtx_unlock(&cache->shpool->mutex);

    u->user_id_text.data = p + len;
    u->user_id_text.len = ngx_sprintf(p + len, "%L", u->user_id) - (p + len);

    return NGX_OK;
}


static void
ngx_http_traces_cache_put(ngx_http_traces_main_conf_t *tmcf,
    ngx_http_traces_ctx_t *ctx)
{
    u_char                        *p;
    size_t                         n;
    uint32_t                       key;
    ngx_rbtree_node_t             *node;
    ngx_http_traces_user_t        *u;
    ngx_http_traces_cache_t       *cache;
    ngx_http_traces_cache_node_t  *cn;

    cache = tmcf->shm_zone->data;
    key = ngx_crc32_short(ctx->session_hash.data, ctx->session_hash.len);
    u = &ctx->user;

    n = offsetof(ngx_rbtree_node_t, color)
        + offsetof(ngx_http_traces_cache_node_t, data)
        + NGX_HTTP_TRACES_HASH_LEN + u->uid.len + u->email.len + u->roles.len;

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_traces_cache_find(cache, &ctx->session_hash, key);

    if (node) {
        ngx_http_traces_cache_drop_locked(cache, node);
    }

    /* a few evictions at most: a request does not wait on a long one */

    node = ngx_http_traces_cache_alloc_locked(cache, n, 8);

    if (node == NULL) {
        ngx_shmtx_unlock(&cache->shpool->mutex);
        return;
    }

    node->key = key;
    cn = (ngx_http_traces_cache_node_t *) &node->color;

    cn->fetched = ngx_time();
    cn->expires = u->expires;
    cn->user_id = u->user_id;
    cn->uid_len = (u_short) u->uid.len;
    cn->email_len = (u_short) u->email.len;
    cn->roles_len = (u_short) u->roles.len;

    p = ngx_cpymem(cn->data, ctx->session_hash.data, NGX_HTTP_TRACES_HASH_LEN);
    p = ngx_cpymem(p, u->uid.data, u->uid.len);
    p = ngx_cpymem(p, u->email.data, u->email.len);
    ngx_memcpy(p, u->roles.data, u->roles.len);

    ngx_rbtree_insert(&cache->sh->rbtree, node);
    ngx_queue_insert_head(&cache->sh->lru, &cn->queue);

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


void
ngx_http_traces_cache_delete(ngx_http_traces_main_conf_t *tmcf,
    ngx_str_t *hash)
{
    uint32_t                  key;
    ngx_rbtree_node_t        *node;
    ngx_http_traces_cache_t  *cache;

    if (hash->len != NGX_HTTP_TRACES_HASH_LEN) {
        return;
    }

    cache = tmcf->shm_zone->data;
    key = ngx_crc32_short(hash->data, hash->len);

    ngx_shmtx_lock(&cache->shpool->mutex);

    node = ngx_http_traces_cache_find(cache, hash, key);

    if (node) {
        ngx_http_traces_cache_drop_locked(cache, node);
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);
}


/*
 * When the zone is full, the sessions least recently seen make room:
 * "evict" of them at most.
 */

static void *
ngx_http_traces_cache_alloc_locked(ngx_http_traces_cache_t *cache,
    size_t size, ngx_uint_t evict)
{
    void                          *p;
    ngx_queue_t                   *q;
    ngx_http_traces_cache_node_t  *cn;

    for ( ;; ) {
        p = ngx_slab_alloc_locked(cache->shpool, size);

        if (p || evict-- == 0 || ngx_queue_empty(&cache->sh->lru)) {
            return p;
        }

        q = ngx_queue_last(&cache->sh->lru);
        cn = ngx_queue_data(q, ngx_http_traces_cache_node_t, queue);

        ngx_http_traces_cache_drop_locked(cache, (ngx_rbtree_node_t *)
                          ((u_char *) cn - offsetof(ngx_rbtree_node_t, color)));
    }
}


static void
ngx_http_traces_cache_drop_locked(ngx_http_traces_cache_t *cache,
    ngx_rbtree_node_t *node)
{
    ngx_http_traces_cache_node_t  *cn;

    cn = (ngx_http_traces_cache_node_t *) &node->color;

    ngx_queue_remove(&cn->queue);
    ngx_rbtree_delete(&cache->sh->rbtree, node);
    ngx_slab_free_locked(cache->shpool, node);
}


/* the EU Login signing keys, shared by the workers */

ngx_int_t
ngx_http_traces_jwks_get(ngx_http_traces_main_conf_t *tmcf, ngx_pool_t *pool,
    ngx_str_t *jwks, time_t *fetched)
{
    ngx_http_traces_cache_t  *cache;

    cache = tmcf->shm_zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    *fetched = cache->sh->jwks_fetched;
    jwks->len = cache->sh->jwks_len;
    jwks->data = NULL;

    if (jwks->len) {
        jwks->data = ngx_pnalloc(pool, jwks->len);

        if (jwks->data) {
            ngx_memcpy(jwks->data, cache->sh->jwks, jwks->len);
        }
    }

    ngx_shmtx_unlock(&cache->shpool->mutex);

    return (jwks->len && jwks->data) ? NGX_OK : NGX_DECLINED;
}


void
ngx_http_traces_jwks_set(ngx_http_traces_main_conf_t *tmcf, ngx_str_t *jwks)
{
    u_char                   *copy;
    ngx_http_traces_cache_t  *cache;

    cache = tmcf->shm_zone->data;

    ngx_shmtx_lock(&cache->shpool->mutex);

    /* the keys are needed for every sign-in: all sessions may make room */

    copy = jwks->len ? ngx_http_traces_cache_alloc_locked(cache, jwks->len,
                                                          NGX_MAX_UINT32_VALUE)
                     : NULL;

    if (copy) {
        if (cache->sh->jwks) {
            ngx_slab_free_locked(cache->shpool, cache->sh->jwks);
        }

        ngx_memcpy(copy, jwks->data, jwks->len);
        cache->sh->jwks = copy;
        cache->sh->jwks_len = jwks->len;
    }

    /* a failed fetch counts too, so that refetches stay rate-limited */
    cache->sh->jwks_fetched = ngx_time();

    ngx_shmtx_unlock(&cache->shpool->mutex);
}
