
/*
 * TRACES access gate: a per-worker pool of non-blocking PostgreSQL
 * connections driven by nginx's event loop.
 */


#ifndef _NGX_HTTP_TRACES_PG_H_INCLUDED_
#define _NGX_HTTP_TRACES_PG_H_INCLUDED_


#include "ngx_http_traces_module.h"


/*
 * Every statement calls one function of the "api" schema with the same
 * shape: api.<name>(user bigint, args jsonb) -> (status integer, body text).
 * The order of this enum is the order of ngx_http_traces_pg_functions[].
 */

typedef enum {
    NGX_HTTP_TRACES_SQL_HEALTH = 0,
    NGX_HTTP_TRACES_SQL_SESSION_CREATE,
    NGX_HTTP_TRACES_SQL_SESSION_LOOKUP,
    NGX_HTTP_TRACES_SQL_SESSION_DELETE,
    NGX_HTTP_TRACES_SQL_BACKCHANNEL_LOGOUT,
    NGX_HTTP_TRACES_SQL_ME,
    NGX_HTTP_TRACES_SQL_ME_UPDATE,
    NGX_HTTP_TRACES_SQL_COUNTRIES,
    NGX_HTTP_TRACES_SQL_CONTROL_BODIES,
    NGX_HTTP_TRACES_SQL_POINTS_OF_ENTRY,
    NGX_HTTP_TRACES_SQL_ACTIVITY_TYPES,
    NGX_HTTP_TRACES_SQL_IDENTIFIER_TYPES,
    NGX_HTTP_TRACES_SQL_OPERATORS_SEARCH,
    NGX_HTTP_TRACES_SQL_OPERATOR_GET,
    NGX_HTTP_TRACES_SQL_OPERATOR_CREATE,
    NGX_HTTP_TRACES_SQL_OPERATOR_REQUEST,
    NGX_HTTP_TRACES_SQL_CONTROL_BODY_REQUESTS,
    NGX_HTTP_TRACES_SQL_REQUESTS_LIST,
    NGX_HTTP_TRACES_SQL_USER_GET,
    NGX_HTTP_TRACES_SQL_ROLE_DECIDE,
    NGX_HTTP_TRACES_SQL_RESPONSIBLE_FOR_LOAD,
    NGX_HTTP_TRACES_SQL_CERTIFICATES_LIST,
    NGX_HTTP_TRACES_SQL_CERTIFICATE_GET,
    NGX_HTTP_TRACES_SQL_AUDIT_LIST,
    NGX_HTTP_TRACES_SQL_LAST
} ngx_http_traces_sql_e;


typedef void (*ngx_http_traces_pg_done_pt)(ngx_http_traces_pg_query_t *q);

typedef struct ngx_http_traces_pg_conn_s  ngx_http_traces_pg_conn_t;


struct ngx_http_traces_pg_query_s {
    ngx_http_traces_sql_e        sql;
    ngx_str_t                    user;       /* $1, decimal user id */
    ngx_str_t                    args;       /* $2, JSON object */

    ngx_pool_t                  *pool;       /* where the answer is copied */
    ngx_log_t                   *log;
    ngx_http_traces_pg_done_pt   done;       /* NULL once the caller left */
    void                        *data;       /* the request */

    /* the answer: an HTTP status and a JSON body */
    ngx_uint_t                   status;
    ngx_str_t                    body;

    ngx_http_traces_pg_conn_t   *conn;
    ngx_queue_t                  queue;
    ngx_event_t                  wait;
};


ngx_int_t ngx_http_traces_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_traces_main_conf_t *tmcf);
void ngx_http_traces_pg_exit_process(void);

ngx_http_traces_pg_query_t *ngx_http_traces_pg_query_create(
    ngx_http_request_t *r, ngx_http_traces_sql_e sql, int64_t user,
    ngx_str_t *args, ngx_http_traces_pg_done_pt done);
ngx_int_t ngx_http_traces_pg_run(ngx_http_traces_pg_query_t *q);


#endif /* _NGX_HTTP_TRACES_PG_H_INCLUDED_ */
