
/*
 * TRACES access gate: a per-worker pool of PostgreSQL connections.
 *
 * libpq's asynchronous API on nginx's event loop: PQconnectStart and
 * PQconnectPoll to connect, PQsendQueryPrepared and PQflush to send,
 * PQconsumeInput, PQisBusy and PQgetResult to read.  The socket is watched
 * level-triggered, so that data libpq leaves unread in the socket after one
 * PQconsumeInput keeps the read event firing even under epoll; the write
 * event is armed only while libpq has output it could not flush.
 */


#include <libpq-fe.h>
#include <sys/stat.h>

#include "ngx_http_traces_pg.h"


#define NGX_HTTP_TRACES_PG_CLOSED       0
#define NGX_HTTP_TRACES_PG_CONNECTING   1
#define NGX_HTTP_TRACES_PG_PREPARING    2
#define NGX_HTTP_TRACES_PG_IDLE         3
#define NGX_HTTP_TRACES_PG_BUSY         4

#define NGX_HTTP_TRACES_PG_BACKOFF_MIN  100


struct ngx_http_traces_pg_conn_s {
    PGconn                      *pg;
    ngx_connection_t            *c;
    ino_t                        inode;
    ngx_uint_t                   state;
    ngx_http_traces_pg_query_t  *query;
    PGresult                    *result;
    ngx_queue_t                  idle;
};


typedef struct {
    ngx_http_traces_main_conf_t *conf;
    ngx_log_t                   *log;
    ngx_http_traces_pg_conn_t   *conns;
    ngx_queue_t                  idle;
    ngx_queue_t                  waiting;
    ngx_uint_t                   nwaiting;
    ngx_msec_t                   retry_at;
    ngx_msec_t                   backoff;
    char                        *conninfo;
    char                        *prepare;
} ngx_http_traces_pg_pool_t;


static ngx_int_t ngx_http_traces_pg_connect(ngx_http_traces_pg_conn_t *conn);
static ngx_int_t ngx_http_traces_pg_watch(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_unwatch(ngx_http_traces_pg_conn_t *conn);
static ngx_int_t ngx_http_traces_pg_want_write(ngx_http_traces_pg_conn_t *conn,
    ngx_uint_t want);
static void ngx_http_traces_pg_connect_poll(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_connect_failed(ngx_http_traces_pg_conn_t *conn);
static ngx_int_t ngx_http_traces_pg_send(ngx_http_traces_pg_conn_t *conn,
    ngx_http_traces_pg_query_t *q);
static ngx_int_t ngx_http_traces_pg_flush(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_read_handler(ngx_event_t *rev);
static void ngx_http_traces_pg_write_handler(ngx_event_t *wev);
static void ngx_http_traces_pg_consume(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_complete(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_answer(ngx_http_traces_pg_query_t *q,
    PGresult *res);
static void ngx_http_traces_pg_release(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_broken(ngx_http_traces_pg_conn_t *conn,
    ngx_uint_t status);
static void ngx_http_traces_pg_close(ngx_http_traces_pg_conn_t *conn);
static void ngx_http_traces_pg_grow(void);
static ngx_uint_t ngx_http_traces_pg_alive(void);
static void ngx_http_traces_pg_fail_waiting(void);
static void ngx_http_traces_pg_finish(ngx_http_traces_pg_query_t *q,
    ngx_uint_t status);
static void ngx_http_traces_pg_wait_timeout(ngx_event_t *ev);
static void ngx_http_traces_pg_query_cleanup(void *data);


/* prepared once per connection, named after the function they call */

static char  *ngx_http_traces_pg_functions[] = {
    "health",
    "session_create",
    "session_lookup",
    "session_delete",
    "backchannel_logout",
    "me",
    "me_update",
    "countries",
    "control_bodies",
    "points_of_entry",
    "activity_types",
    "identifier_types",
    "operators_search",
    "operator_get",
    "operator_create",
    "operator_request",
    "control_body_requests",
    "requests_list",
    "user_get",
    "role_decide",
    "responsible_for_load",
    "certificates_list",
    "certificate_get",
    "audit_list"
};


static ngx_http_traces_pg_pool_t  ngx_http_traces_pg_pool;


ngx_int_t
ngx_http_traces_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_traces_main_conf_t *tmcf)
{
    size_t                      len;
    u_char                     *p;
    ngx_uint_t                  i;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    pool->conf = tmcf;
    pool->log = cycle->log;
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    pool->conns = ngx_pcalloc(cycle->pool, tmcf->db_connections
                                           * sizeof(ngx_http_traces_pg_conn_t));
    if (pool->conns == NULL) {
        return NGX_ERROR;
    }

    pool->conninfo = ngx_pnalloc(cycle->pool, tmcf->db_conninfo.len + 1);
    if (pool->conninfo == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(pool->conninfo, tmcf->db_conninfo.data, tmcf->db_conninfo.len)
        = '\0';

    len = 1;

    for (i = 0; i < NGX_HTTP_TRACES_SQL_LAST; i++) {
        len += sizeof("PREPARE  (bigint, jsonb) AS SELECT status, body"
                      " FROM api.($1, $2);") - 1
               + 2 * ngx_strlen(ngx_http_traces_pg_functions[i]);
    }

    pool->prepare = ngx_pnalloc(cycle->pool, len);
    if (pool->prepare == NULL) {
        return NGX_ERROR;
    }

    p = (u_char *) pool->prepare;

    for (i = 0; i < NGX_HTTP_TRACES_SQL_LAST; i++) {
        p = ngx_sprintf(p, "PREPARE %s (bigint, jsonb) AS SELECT status, body"
                        " FROM api.%s($1, $2);",
                        ngx_http_traces_pg_functions[i],
                        ngx_http_traces_pg_functions[i]);
    }

    *p = '\0';

    return NGX_OK;
}


void
ngx_http_traces_pg_exit_process(void)
{
    ngx_uint_t                  i;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    if (pool->conns == NULL) {
        return;
    }

    for (i = 0; i < pool->conf->db_connections; i++) {
        pool->conns[i].query = NULL;
        ngx_http_traces_pg_close(&pool->conns[i]);
    }
}


/* a query of the request r, whose answer done() takes; run it next */

ngx_http_traces_pg_query_t *
ngx_http_traces_pg_query_create(ngx_http_request_t *r,
    ngx_http_traces_sql_e sql, int64_t user, ngx_str_t *args,
    ngx_http_traces_pg_done_pt done)
{
    ngx_pool_t                  *pool;
    ngx_pool_cleanup_t          *cln;
    ngx_http_traces_pg_query_t  *q;

    pool = r->pool;

    q = ngx_pcalloc(pool, sizeof(ngx_http_traces_pg_query_t));
    if (q == NULL) {
        return NULL;
    }

    q->user.data = ngx_pnalloc(pool, NGX_INT64_LEN + 1);
    if (q->user.data == NULL) {
        return NULL;
    }

    q->user.len = ngx_sprintf(q->user.data, "%L", user) - q->user.data;
    q->user.data[q->user.len] = '\0';

    q->args.data = ngx_pnalloc(pool, args->len + 1);
    if (q->args.data == NULL) {
        return NULL;
    }

    q->args.len = args->len;
    *ngx_cpymem(q->args.data, args->data, args->len) = '\0';

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_traces_pg_query_cleanup;
    cln->data = q;

    q->sql = sql;
    q->pool = pool;
    q->log = r->connection->log;
    q->done = done;
    q->data = r;

    q->wait.handler = ngx_http_traces_pg_wait_timeout;
    q->wait.data = q;
    q->wait.log = q->log;

    return q;
}


/*
 * Starts the query on an idle connection, or queues it.  NGX_DECLINED
 * means it was refused at once (q->status says why, 503); otherwise
 * q->done is called later, never from within this call.
 */

ngx_int_t
ngx_http_traces_pg_run(ngx_http_traces_pg_query_t *q)
{
    ngx_queue_t                *link;
    ngx_http_traces_pg_conn_t  *conn;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    q->status = NGX_HTTP_SERVICE_UNAVAILABLE;

    while (!ngx_queue_empty(&pool->idle)) {
        link = ngx_queue_head(&pool->idle);
        ngx_queue_remove(link);
        conn = ngx_queue_data(link, ngx_http_traces_pg_conn_t, idle);

        if (ngx_http_traces_pg_send(conn, q) == NGX_OK) {
            return NGX_OK;
        }

        conn->query = NULL;
        q->conn = NULL;
        ngx_http_traces_pg_close(conn);
    }

    if (pool->nwaiting >= pool->conf->db_queue) {
        ngx_log_error(NGX_LOG_WARN, q->log, 0,
                      "traces: database wait queue is full");
        return NGX_DECLINED;
    }

    if (ngx_http_traces_pg_alive() == 0) {

        if ((ngx_msec_int_t) (pool->retry_at - ngx_current_msec) > 0) {
            /* the database was just found down: do not hammer it */
            return NGX_DECLINED;
        }

        conn = &pool->conns[0];

        if (ngx_http_traces_pg_connect(conn) != NGX_OK) {
            ngx_http_traces_pg_connect_failed(conn);
            return NGX_DECLINED;
        }
    }

    ngx_queue_insert_tail(&pool->waiting, &q->queue);
    pool->nwaiting++;
    ngx_add_timer(&q->wait, pool->conf->db_connect_timeout
                            + pool->conf->db_query_timeout);

    ngx_http_traces_pg_grow();

    return NGX_OK;
}


static ngx_uint_t
ngx_http_traces_pg_alive(void)
{
    ngx_uint_t                  i, n;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    n = 0;

    for (i = 0; i < pool->conf->db_connections; i++) {
        if (pool->conns[i].state != NGX_HTTP_TRACES_PG_CLOSED) {
            n++;
        }
    }

    return n;
}


/* opens one more connection when queries wait and the backoff allows */

static void
ngx_http_traces_pg_grow(void)
{
    ngx_uint_t                  i, connecting;
    ngx_http_traces_pg_conn_t  *conn;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    if (pool->nwaiting == 0
        || (ngx_msec_int_t) (pool->retry_at - ngx_current_msec) > 0)
    {
        return;
    }

    connecting = 0;
    conn = NULL;

    for (i = 0; i < pool->conf->db_connections; i++) {
        switch (pool->conns[i].state) {

        case NGX_HTTP_TRACES_PG_CLOSED:
            if (conn == NULL) {
                conn = &pool->conns[i];
            }
            break;

        case NGX_HTTP_TRACES_PG_CONNECTING:
        case NGX_HTTP_TRACES_PG_PREPARING:
            connecting++;
            break;
        }
    }

    if (conn == NULL || connecting >= pool->nwaiting) {
        return;
    }

    if (ngx_http_traces_pg_connect(conn) != NGX_OK) {
        ngx_http_traces_pg_connect_failed(conn);
    }
}


static ngx_int_t
ngx_http_traces_pg_connect(ngx_http_traces_pg_conn_t *conn)
{
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    conn->pg = PQconnectStart(pool->conninfo);

    if (conn->pg == NULL || PQstatus(conn->pg) == CONNECTION_BAD) {
        return NGX_ERROR;
    }

    if (PQsetnonblocking(conn->pg, 1) == -1) {
        return NGX_ERROR;
    }

    if (ngx_http_traces_pg_watch(conn) != NGX_OK) {
        return NGX_ERROR;
    }

    conn->state = NGX_HTTP_TRACES_PG_CONNECTING;

    ngx_add_timer(conn->c->read, pool->conf->db_connect_timeout);

    /* libpq starts as if PQconnectPoll had answered PGRES_POLLING_WRITING */

    return ngx_http_traces_pg_want_write(conn, 1);
}


static ngx_int_t
ngx_http_traces_pg_watch(ngx_http_traces_pg_conn_t *conn)
{
    int                         fd;
    struct stat                 st;
    ngx_connection_t           *c;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    fd = PQsocket(conn->pg);

    if (fd == -1 || fstat(fd, &st) == -1) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, pool->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = conn;
    c->read->handler = ngx_http_traces_pg_read_handler;
    c->write->handler = ngx_http_traces_pg_write_handler;
    c->read->log = pool->log;
    c->write->log = pool->log;

    conn->c = c;
    conn->inode = st.st_ino;

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
        conn->c = NULL;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the socket belongs to libpq: nginx forgets it, PQfinish closes it */

static void
ngx_http_traces_pg_unwatch(ngx_http_traces_pg_conn_t *conn)
{
    ngx_connection_t  *c;

    c = conn->c;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->read->active) {
        ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
    conn->c = NULL;
}


static ngx_int_t
ngx_http_traces_pg_want_write(ngx_http_traces_pg_conn_t *conn,
    ngx_uint_t want)
{
    ngx_event_t  *wev;

    wev = conn->c->write;

    if (want && !wev->active) {
        return ngx_add_event(wev, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }

    if (!want && wev->active) {
        return ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }

    return NGX_OK;
}


static void
ngx_http_traces_pg_connect_poll(ngx_http_traces_pg_conn_t *conn)
{
    struct stat                 st;
    ngx_msec_t                  timer;
    PostgresPollingStatusType   status;
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    status = PQconnectPoll(conn->pg);

    /*
     * libpq may have closed the socket and opened another one (next address
     * of the host), possibly with the same number: the kernel then forgot
     * the old registration, so watch the new socket afresh.
     */

    if (status != PGRES_POLLING_FAILED
        && (PQsocket(conn->pg) != conn->c->fd
            || fstat(PQsocket(conn->pg), &st) == -1
            || st.st_ino != conn->inode))
    {
        timer = conn->c->read->timer.key - ngx_current_msec;
        ngx_http_traces_pg_unwatch(conn);

        if (ngx_http_traces_pg_watch(conn) != NGX_OK) {
            ngx_http_traces_pg_connect_failed(conn);
            return;
        }

        ngx_add_timer(conn->c->read, (ngx_msec_int_t) timer > 0 ? timer : 1);
    }

    switch (status) {

    case PGRES_POLLING_READING:
        if (ngx_http_traces_pg_want_write(conn, 0) != NGX_OK) {
            ngx_http_traces_pg_connect_failed(conn);
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_traces_pg_want_write(conn, 1) != NGX_OK) {
            ngx_http_traces_pg_connect_failed(conn);
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_http_traces_pg_connect_failed(conn);
        return;
    }

    ngx_del_timer(conn->c->read);

    if (!PQsendQuery(conn->pg, pool->prepare)) {
        ngx_http_traces_pg_connect_failed(conn);
        return;
    }

    conn->state = NGX_HTTP_TRACES_PG_PREPARING;
    ngx_add_timer(conn->c->read, pool->conf->db_query_timeout);

    if (ngx_http_traces_pg_flush(conn) != NGX_OK) {
        ngx_http_traces_pg_connect_failed(conn);
    }
}


static void
ngx_http_traces_pg_connect_failed(ngx_http_traces_pg_conn_t *conn)
{
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    if (conn->pg) {
        /* libpq's message names the server, never the password */
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "traces: cannot connect to the database: %s",
                      PQerrorMessage(conn->pg));
    }

    ngx_http_traces_pg_close(conn);

    pool->backoff = pool->backoff ? ngx_min(pool->backoff * 2,
                                            pool->conf->db_retry)
                                  : ngx_min(NGX_HTTP_TRACES_PG_BACKOFF_MIN,
                                            pool->conf->db_retry);
    pool->retry_at = ngx_current_msec + pool->backoff;

    if (ngx_http_traces_pg_alive() == 0) {
        ngx_http_traces_pg_fail_waiting();
    }
}


static ngx_int_t
ngx_http_traces_pg_send(ngx_http_traces_pg_conn_t *conn,
    ngx_http_traces_pg_query_t *q)
{
    const char                 *values[2];
    ngx_http_traces_pg_pool_t  *pool;

    pool = &ngx_http_traces_pg_pool;

    values[0] = (const char *) q->user.data;
    values[1] = (const char *) q->args.data;

    if (!PQsendQueryPrepared(conn->pg, ngx_http_traces_pg_functions[q->sql],
                             2, values, NULL, NULL, 0))
    {
        ngx_log_error(NGX_LOG_ERR, q->log, 0,
                      "traces: cannot send to the database: %s",
                      PQerrorMessage(conn->pg));
        return NGX_ERROR;
    }

    conn->state = NGX_HTTP_TRACES_PG_BUSY;
    conn->query = q;
    q->conn = conn;

    ngx_add_timer(conn->c->read, pool->conf->db_query_timeout);

    return ngx_http_traces_pg_flush(conn);
}


static ngx_int_t
ngx_http_traces_pg_flush(ngx_http_traces_pg_conn_t *conn)
{
    switch (PQflush(conn->pg)) {

    case 0:
        return ngx_http_traces_pg_want_write(conn, 0);

    case 1:
        return ngx_http_traces_pg_want_write(conn, 1);

    default:
        return NGX_ERROR;
    }
}


static void
ngx_http_traces_pg_read_handler(ngx_event_t *rev)
{
    ngx_connection_t           *c;
    ngx_http_traces_pg_conn_t  *conn;

    c = rev->data;
    conn = c->data;

    if (rev->timedout) {
        rev->timedout = 0;

        ngx_log_error(NGX_LOG_ERR, rev->log, NGX_ETIMEDOUT,
                      "traces: database %s timed out",
                      conn->state == NGX_HTTP_TRACES_PG_BUSY ? "query"
                                                             : "connection");

        if (conn->state == NGX_HTTP_TRACES_PG_BUSY) {
            ngx_http_traces_pg_broken(conn, NGX_HTTP_GATEWAY_TIME_OUT);

        } else {
            ngx_http_traces_pg_connect_failed(conn);
        }

        return;
    }

    switch (conn->state) {

    case NGX_HTTP_TRACES_PG_CONNECTING:
        ngx_http_traces_pg_connect_poll(conn);
        return;

    case NGX_HTTP_TRACES_PG_PREPARING:
    case NGX_HTTP_TRACES_PG_BUSY:
        ngx_http_traces_pg_consume(conn);
        return;

    default: /* NGX_HTTP_TRACES_PG_IDLE */

        /* an idle connection speaks only to say it is going away */

        if (!PQconsumeInput(conn->pg) || PQstatus(conn->pg) != CONNECTION_OK
            || PQisBusy(conn->pg))
        {
            ngx_log_error(NGX_LOG_WARN, rev->log, 0,
                          "traces: idle database connection lost");
            ngx_http_traces_pg_close(conn);
            return;
        }
    }
}


static void
ngx_http_traces_pg_write_handler(ngx_event_t *wev)
{
    ngx_connection_t           *c;
    ngx_http_traces_pg_conn_t  *conn;

    c = wev->data;
    conn = c->data;

    if (conn->state == NGX_HTTP_TRACES_PG_CONNECTING) {
        ngx_http_traces_pg_connect_poll(conn);
        return;
    }

    if (ngx_http_traces_pg_flush(conn) != NGX_OK) {
        ngx_http_traces_pg_broken(conn, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


static void
ngx_http_traces_pg_consume(ngx_http_traces_pg_conn_t *conn)
{
    PGresult  *res;

    if (!PQconsumeInput(conn->pg)) {
        ngx_log_error(NGX_LOG_ERR, conn->c->log, 0,
                      "traces: database connection lost: %s",
                      PQerrorMessage(conn->pg));
        ngx_http_traces_pg_broken(conn, NGX_HTTP_SERVICE_UNAVAILABLE);
        return;
    }

    while (!PQisBusy(conn->pg)) {
        res = PQgetResult(conn->pg);

        if (res == NULL) {
            ngx_http_traces_pg_complete(conn);
            return;
        }

        /* the first result is kept, unless a later one is an error */

        if (conn->result == NULL
            || (PQresultStatus(res) == PGRES_FATAL_ERROR
                && PQresultStatus(conn->result) != PGRES_FATAL_ERROR))
        {
            PQclear(conn->result);
            conn->result = res;

        } else {
            PQclear(res);
        }
    }
}


static void
ngx_http_traces_pg_complete(ngx_http_traces_pg_conn_t *conn)
{
    PGresult                    *res;
    ngx_uint_t                   clean;
    ngx_http_traces_pg_query_t  *q;
    ngx_http_traces_pg_pool_t   *pool;

    pool = &ngx_http_traces_pg_pool;

    ngx_del_timer(conn->c->read);

    res = conn->result;
    conn->result = NULL;

    clean = PQtransactionStatus(conn->pg) == PQTRANS_IDLE;

    if (conn->state == NGX_HTTP_TRACES_PG_PREPARING) {
        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK || !clean) {
            ngx_log_error(NGX_LOG_ALERT, conn->c->log, 0,
                          "traces: cannot prepare statements, "
                          "are the migrations applied? %s",
                          res ? PQresultErrorMessage(res) : "");
            PQclear(res);
            ngx_http_traces_pg_connect_failed(conn);
            return;
        }

        PQclear(res);
        pool->backoff = 0;
        ngx_http_traces_pg_release(conn);
        return;
    }

    q = conn->query;
    conn->query = NULL;

    if (q) {
        q->conn = NULL;
        ngx_http_traces_pg_answer(q, res);
    }

    PQclear(res);

    /* only an idle, clean connection goes back to the pool */

    if (clean) {
        ngx_http_traces_pg_release(conn);

    } else {
        ngx_http_traces_pg_close(conn);
        ngx_http_traces_pg_grow();
    }

    if (q && q->done) {
        q->done(q);
    }
}


static void
ngx_http_traces_pg_answer(ngx_http_traces_pg_query_t *q, PGresult *res)
{
    char    *state, *value;
    size_t   len;

    q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;

    if (res == NULL) {
        return;
    }

    if (PQresultStatus(res) == PGRES_TUPLES_OK
        && PQntuples(res) == 1 && PQnfields(res) == 2
        && !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1))
    {
        value = PQgetvalue(res, 0, 0);
        q->status = ngx_atoi((u_char *) value, ngx_strlen(value));

        if (q->status < 200 || q->status > 599) {
            q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return;
        }

        len = PQgetlength(res, 0, 1);

        q->body.data = ngx_pnalloc(q->pool, len);
        if (q->body.data == NULL) {
            q->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return;
        }

        ngx_memcpy(q->body.data, PQgetvalue(res, 0, 1), len);
        q->body.len = len;
        return;
    }

    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    /* the SQLSTATE only: a message may quote values a user typed */

    ngx_log_error(NGX_LOG_ERR, q->log, 0,
                  "traces: api.%s failed with SQLSTATE %s",
                  ngx_http_traces_pg_functions[q->sql],
                  state ? state : "(none)");

    if (state == NULL) {
        return;
    }

    if (ngx_strcmp(state, "57014") == 0) {
        q->status = NGX_HTTP_GATEWAY_TIME_OUT;

    } else if (ngx_strncmp(state, "08", 2) == 0
               || ngx_strncmp(state, "53", 2) == 0
               || ngx_strncmp(state, "57P", 3) == 0
               || ngx_strcmp(state, "40001") == 0
               || ngx_strcmp(state, "40P01") == 0)
    {
        q->status = NGX_HTTP_SERVICE_UNAVAILABLE;
    }
}


static void
ngx_http_traces_pg_release(ngx_http_traces_pg_conn_t *conn)
{
    ngx_queue_t                 *link;
    ngx_http_traces_pg_query_t  *q;
    ngx_http_traces_pg_pool_t   *pool;

    pool = &ngx_http_traces_pg_pool;

    while (!ngx_queue_empty(&pool->waiting)) {
        link = ngx_queue_head(&pool->waiting);
        ngx_queue_remove(link);
        pool->nwaiting--;

        q = ngx_queue_data(link, ngx_http_traces_pg_query_t, queue);

        if (q->wait.timer_set) {
            ngx_del_timer(&q->wait);
        }

        if (ngx_http_traces_pg_send(conn, q) == NGX_OK) {
            return;
        }

        conn->query = NULL;
        q->conn = NULL;
        ngx_http_traces_pg_close(conn);
        ngx_http_traces_pg_finish(q, NGX_HTTP_SERVICE_UNAVAILABLE);
        ngx_http_traces_pg_grow();
        return;
    }

    conn->state = NGX_HTTP_TRACES_PG_IDLE;
    ngx_queue_insert_tail(&pool->idle, &conn->idle);
}


static void
ngx_http_traces_pg_broken(ngx_http_traces_pg_conn_t *conn, ngx_uint_t status)
{
    ngx_http_traces_pg_query_t  *q;

    q = conn->query;
    conn->query = NULL;

    ngx_http_traces_pg_close(conn);

    if (q) {
        q->conn = NULL;
        ngx_http_traces_pg_finish(q, status);
    }

    ngx_http_traces_pg_grow();
}


static void
ngx_http_traces_pg_close(ngx_http_traces_pg_conn_t *conn)
{
    if (conn->state == NGX_HTTP_TRACES_PG_IDLE) {
        ngx_queue_remove(&conn->idle);
    }

    if (conn->result) {
        PQclear(conn->result);
        conn->result = NULL;
    }

    ngx_http_traces_pg_unwatch(conn);

    if (conn->pg) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }

    conn->state = NGX_HTTP_TRACES_PG_CLOSED;
}


static void
ngx_http_traces_pg_fail_waiting(void)
{
    ngx_queue_t                 *link;
    ngx_http_traces_pg_query_t  *q;
    ngx_http_traces_pg_pool_t   *pool;

    pool = &ngx_http_traces_pg_pool;

    while (!ngx_queue_empty(&pool->waiting)) {
        link = ngx_queue_head(&pool->waiting);
        ngx_queue_remove(link);
        pool->nwaiting--;

        q = ngx_queue_data(link, ngx_http_traces_pg_query_t, queue);

        if (q->wait.timer_set) {
            ngx_del_timer(&q->wait);
        }

        ngx_http_traces_pg_finish(q, NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


static void
ngx_http_traces_pg_finish(ngx_http_traces_pg_query_t *q, ngx_uint_t status)
{
    q->status = status;
    q->body.len = 0;

    if (q->done) {
        q->done(q);
    }
}


static void
ngx_http_traces_pg_wait_timeout(ngx_event_t *ev)
{
    ngx_http_traces_pg_query_t  *q;

    q = ev->data;

    ngx_log_error(NGX_LOG_ERR, ev->log, NGX_ETIMEDOUT,
                  "traces: no database connection became free in time");

    ngx_queue_remove(&q->queue);
    ngx_http_traces_pg_pool.nwaiting--;

    ngx_http_traces_pg_finish(q, NGX_HTTP_SERVICE_UNAVAILABLE);
}


/*
 * The request is going away.  A waiting query is forgotten; a running one
 * keeps its connection until the answer is read, so the connection comes
 * back to the pool clean, and the answer is dropped.
 */

static void
ngx_http_traces_pg_query_cleanup(void *data)
{
    ngx_http_traces_pg_query_t  *q = data;

    q->done = NULL;

    if (q->wait.timer_set) {
        ngx_del_timer(&q->wait);
        ngx_queue_remove(&q->queue);
        ngx_http_traces_pg_pool.nwaiting--;
    }

    if (q->conn) {
        q->conn->query = NULL;
        q->conn = NULL;
    }
}
