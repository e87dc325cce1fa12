
/*
 * TRACES access gate: the JSON locations under /api/.
 *
 * Each route validates its path, query string and body, then makes one
 * call of one database function (docs/internals.md) and sends its answer.
 */


#include "ngx_http_traces_module.h"
#include "ngx_http_traces_pg.h"
#include "ngx_http_traces_json.h"
#include "ngx_http_traces_validate.h"


#define NGX_HTTP_TRACES_WRITE  (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_PATCH     \
                                |NGX_HTTP_DELETE)


typedef void (*ngx_http_traces_check_pt)(json_t *args, json_t *errors);

typedef struct {
    ngx_uint_t                   method;
    char                        *path;
    ngx_http_traces_sql_e        sql;
    ngx_http_traces_field_t     *query;
    ngx_http_traces_field_t     *body;
    ngx_http_traces_check_pt     check;
    ngx_uint_t                   public;
} ngx_http_traces_route_t;


typedef struct {
    ngx_http_traces_route_t     *route;
    json_t                      *args;
} ngx_http_traces_api_ctx_t;


static ngx_http_traces_route_t *ngx_http_traces_api_route(
    ngx_http_request_t *r, json_t *args, ngx_uint_t *allow);
static ngx_int_t ngx_http_traces_api_match(ngx_str_t *path, char *pattern,
    json_t *args);
static ngx_int_t ngx_http_traces_api_allow(ngx_http_request_t *r,
    ngx_uint_t allow);
static void ngx_http_traces_api_body(ngx_http_request_t *r);
static ngx_uint_t ngx_http_traces_api_read_json(ngx_http_request_t *r,
    json_t **body, const char **detail);
static ngx_int_t ngx_http_traces_api_call(ngx_http_request_t *r,
    ngx_http_traces_api_ctx_t *actx);
static void ngx_http_traces_api_done(ngx_http_traces_pg_query_t *q);
static void ngx_http_traces_api_cleanup(void *data);
static void ngx_http_traces_check_operator(json_t *args, json_t *errors);


static char  *ngx_http_traces_activities[] = {
    "organic_importer", "organic_operator", NULL
};

static char  *ngx_http_traces_identifier_types[] = {
    "central_business_register", "cin", "duns", "eori", "imo_management",
    "imo_owner", NULL
};

static char  *ngx_http_traces_role_statuses[] = {
    "requested", "valid", "suspended", "deleted", NULL
};

static char  *ngx_http_traces_decisions[] = {
    "valid", "suspended", "deleted", NULL
};

static char  *ngx_http_traces_role_kinds[] = {
    "operator", "control_body", "authority", "point_of_entry", "commission",
    NULL
};

static char  *ngx_http_traces_certificate_statuses[] = {
    "draft", "new", "in_progress", "issued", "verified", "rejected",
    "received", "cancelled", "replaced", NULL
};

static char  *ngx_http_traces_categories[] = {
    "A", "B", "C", "D", "E", "F", NULL
};


#define T(type)  NGX_HTTP_TRACES_T_ ## type

static ngx_http_traces_field_t  ngx_http_traces_paging[] = {
    { "after", T(CURSOR), 0, 200, NULL, NULL },
    { "limit", T(INTEGER), 0, 100, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_country_args[] = {
    { "country", T(COUNTRY), 0, 2, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_control_body_args[] = {
    { "country", T(COUNTRY), 0, 2, NULL, NULL },
    { "name", T(STRING), 0, 100, NULL, NULL },
    { "category", T(ENUM), 0, 1, ngx_http_traces_categories, NULL },
    { "after", T(CURSOR), 0, 200, NULL, NULL },
    { "limit", T(INTEGER), 0, 100, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_operator_args[] = {
    { "country", T(COUNTRY), 0, 2, NULL, NULL },
    { "activity", T(ENUM), 0, 0, ngx_http_traces_activities, NULL },
    { "name", T(STRING), 0, 100, NULL, NULL },
    { "after", T(CURSOR), 0, 200, NULL, NULL },
    { "limit", T(INTEGER), 0, 100, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_request_list_args[] = {
    { "status", T(ENUM), 0, 0, ngx_http_traces_role_statuses, NULL },
    { "kind", T(ENUM), 0, 0, ngx_http_traces_role_kinds, NULL },
    { "operator", T(ID), 0, 0, NULL, NULL },
    { "control_body", T(ID), 0, 0, NULL, NULL },
    { "user", T(ID), 0, 0, NULL, NULL },
    { "after", T(CURSOR), 0, 200, NULL, NULL },
    { "limit", T(INTEGER), 0, 100, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_certificate_args[] = {
    { "status", T(ENUM), 0, 0, ngx_http_traces_certificate_statuses, NULL },
    { "from", T(DATE), 0, 10, NULL, NULL },
    { "to", T(DATE), 0, 10, NULL, NULL },
    { "origin", T(COUNTRY), 0, 2, NULL, NULL },
    { "point_of_entry", T(ID), 0, 0, NULL, NULL },
    { "cn", T(STRING), 0, 10, NULL, NULL },
    { "q", T(STRING), 0, 100, NULL, NULL },
    { "after", T(CURSOR), 0, 200, NULL, NULL },
    { "limit", T(INTEGER), 0, 100, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_contact_fields[] = {
    { "message", T(TEXT), 0, 2000, NULL, NULL },
    { "email", T(EMAIL), 0, 254, NULL, NULL },
    { "phone", T(PHONE), 0, 32, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_me_fields[] = {
    { "phone", T(PHONE), 0, 32, NULL, NULL },
    { "fax", T(PHONE), 0, 32, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_identifier_fields[] = {
    { "type", T(ENUM), 1, 0, ngx_http_traces_identifier_types, NULL },
    { "value", T(STRING), 1, 40, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_identifier_item[] = {
    { "identifier", T(OBJECT), 1, 0, NULL,
      ngx_http_traces_identifier_fields },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_activity_fields[] = {
    { "activity", T(ENUM), 1, 0, ngx_http_traces_activities, NULL },
    { "control_body_id", T(ID), 1, 0, NULL, NULL },
    { "identifier", T(STRING), 0, 60, NULL, NULL },
    { "valid_from", T(DATE), 0, 10, NULL, NULL },
    { "valid_until", T(DATE), 0, 10, NULL, NULL },
    { "publication_date", T(DATE), 0, 10, NULL, NULL },
    { "application_date", T(DATE), 0, 10, NULL, NULL },
    { "remarks", T(TEXT), 0, 2000, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_operator_fields[] = {
    { "name", T(STRING), 1, 200, NULL, NULL },
    { "country", T(COUNTRY), 1, 2, NULL, NULL },
    { "region", T(STRING), 0, 100, NULL, NULL },
    { "postcode", T(STRING), 0, 20, NULL, NULL },
    { "city", T(STRING), 1, 100, NULL, NULL },
    { "address", T(STRING), 1, 300, NULL, NULL },
    { "latitude", T(LATITUDE), 0, 0, NULL, NULL },
    { "longitude", T(LONGITUDE), 0, 0, NULL, NULL },
    { "phone", T(PHONE), 0, 32, NULL, NULL },
    { "fax", T(PHONE), 0, 32, NULL, NULL },
    { "email", T(EMAIL), 0, 254, NULL, NULL },
    { "web_url", T(URL), 0, 300, NULL, NULL },
    { "identifiers", T(ARRAY), 0, 6, NULL, ngx_http_traces_identifier_item },
    { "activity", T(OBJECT), 1, 0, NULL, ngx_http_traces_activity_fields },
    { "request", T(OBJECT), 0, 0, NULL, ngx_http_traces_contact_fields },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_id_item[] = {
    { "id", T(ID), 1, 0, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_control_body_request_fields[] =
{
    { "control_body_ids", T(ARRAY), 1, 50, NULL, ngx_http_traces_id_item },
    { "message", T(TEXT), 0, 2000, NULL, NULL },
    { "email", T(EMAIL), 0, 254, NULL, NULL },
    { "phone", T(PHONE), 0, 32, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_decision_fields[] = {
    { "status", T(ENUM), 1, 0, ngx_http_traces_decisions, NULL },
    { "admin", T(BOOLEAN), 0, 0, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_load_fields[] = {
    { "user", T(USER), 1, 64, NULL, NULL },
    { "point_of_entry", T(ID), 1, 0, NULL, NULL },
    ngx_http_traces_field_end
};

static ngx_http_traces_field_t  ngx_http_traces_no_fields[] = {
    ngx_http_traces_field_end
};

#undef T


#define S(name)  NGX_HTTP_TRACES_SQL_ ## name

static ngx_http_traces_route_t  ngx_http_traces_routes[] = {

    { NGX_HTTP_GET, "health", S(HEALTH),
      ngx_http_traces_no_fields, NULL, NULL, 1 },

    { NGX_HTTP_GET, "me", S(ME),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_PATCH, "me", S(ME_UPDATE),
      ngx_http_traces_no_fields, ngx_http_traces_me_fields, NULL, 0 },

    { NGX_HTTP_GET, "countries", S(COUNTRIES),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_GET, "control-bodies", S(CONTROL_BODIES),
      ngx_http_traces_control_body_args, NULL, NULL, 0 },

    { NGX_HTTP_POST, "control-bodies/requests", S(CONTROL_BODY_REQUESTS),
      ngx_http_traces_no_fields, ngx_http_traces_control_body_request_fields,
      NULL, 0 },

    { NGX_HTTP_GET, "points-of-entry", S(POINTS_OF_ENTRY),
      ngx_http_traces_country_args, NULL, NULL, 0 },

    { NGX_HTTP_GET, "activity-types", S(ACTIVITY_TYPES),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_GET, "identifier-types", S(IDENTIFIER_TYPES),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_GET, "operators", S(OPERATORS_SEARCH),
      ngx_http_traces_operator_args, NULL, NULL, 0 },

    { NGX_HTTP_POST, "operators", S(OPERATOR_CREATE),
      ngx_http_traces_no_fields, ngx_http_traces_operator_fields,
      ngx_http_traces_check_operator, 0 },

    { NGX_HTTP_GET, "operators/{id}", S(OPERATOR_GET),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_POST, "operators/{id}/requests", S(OPERATOR_REQUEST),
      ngx_http_traces_no_fields, ngx_http_traces_contact_fields, NULL, 0 },

    { NGX_HTTP_GET, "requests", S(REQUESTS_LIST),
      ngx_http_traces_request_list_args, NULL, NULL, 0 },

    { NGX_HTTP_GET, "users/{id}", S(USER_GET),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_POST, "roles/{id}/decision", S(ROLE_DECIDE),
      ngx_http_traces_no_fields, ngx_http_traces_decision_fields, NULL, 0 },

    { NGX_HTTP_POST, "responsible-for-load", S(RESPONSIBLE_FOR_LOAD),
      ngx_http_traces_no_fields, ngx_http_traces_load_fields, NULL, 0 },

    { NGX_HTTP_GET, "certificates", S(CERTIFICATES_LIST),
      ngx_http_traces_certificate_args, NULL, NULL, 0 },

    { NGX_HTTP_GET, "certificates/{id}", S(CERTIFICATE_GET),
      ngx_http_traces_no_fields, NULL, NULL, 0 },

    { NGX_HTTP_GET, "audit", S(AUDIT_LIST),
      ngx_http_traces_paging, NULL, NULL, 0 },

    { 0, NULL, 0, NULL, NULL, NULL, 0 }
};

#undef S


ngx_int_t
ngx_http_traces_api_handler(ngx_http_request_t *r)
{
    json_t                     *errors;
    ngx_int_t                   rc;
    ngx_uint_t                  allow;
    ngx_pool_cleanup_t         *cln;
    ngx_http_traces_ctx_t      *ctx;
    ngx_http_traces_route_t    *route;
    ngx_http_traces_api_ctx_t  *actx;

    ctx = ngx_http_traces_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    actx = ngx_pcalloc(r->pool, sizeof(ngx_http_traces_api_ctx_t));
    if (actx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    actx->args = json_object();
    cln->handler = ngx_http_traces_api_cleanup;
    cln->data = actx;

    if (actx->args == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = actx;

    route = ngx_http_traces_api_route(r, actx->args, &allow);

    if (route == NULL) {
        if (allow) {
            return ngx_http_traces_api_allow(r, allow);
        }

        ngx_http_discard_request_body(r);
        return ngx_http_traces_send_problem(r, NGX_HTTP_NOT_FOUND,
                                            "There is no such resource.");
    }

    actx->route = route;

    if (!route->public && !ctx->authenticated) {
        ngx_http_discard_request_body(r);
        return ngx_http_traces_send_problem(r, NGX_HTTP_UNAUTHORIZED,
                                            "Sign in with EU Login first.");
    }

    if ((r->method & NGX_HTTP_TRACES_WRITE)
        && ngx_http_traces_same_origin(r) != NGX_OK)
    {
        ngx_http_discard_request_body(r);
        return ngx_http_traces_send_cross_site(r);
    }

    errors = json_array();
    if (errors == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_traces_validate_args(r, route->query, actx->args, errors);

    if (json_array_size(errors)) {
        ngx_http_discard_request_body(r);
        return ngx_http_traces_send_invalid(r, errors);
    }

    json_decref(errors);

    if (route->body) {
        rc = ngx_http_read_client_request_body(r, ngx_http_traces_api_body);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_traces_api_call(r, actx);

    if (rc == NGX_DONE) {
        r->main->count++;
    }

    return rc;
}


static ngx_http_traces_route_t *
ngx_http_traces_api_route(ngx_http_request_t *r, json_t *args,
    ngx_uint_t *allow)
{
    ngx_str_t                 path;
    ngx_http_traces_route_t  *route;

    *allow = 0;

    /* everything after the last "/api/" prefix of the location */

    path = r->uri;

    if (path.len < sizeof("/api/") - 1
        || ngx_strncmp(path.data, "/api/", sizeof("/api/") - 1) != 0)
    {
        return NULL;
    }

    path.data += sizeof("/api/") - 1;
    path.len -= sizeof("/api/") - 1;

    for (route = ngx_http_traces_routes; route->path; route++) {

        if (ngx_http_traces_api_match(&path, route->path, args) != NGX_OK) {
            continue;
        }

        if (route->method & r->method) {
            return route;
        }

        *allow |= route->method;
    }

    /* no write exists on the resource: say so the same way for everyone */

    return NULL;
}


static ngx_int_t
ngx_http_traces_api_match(ngx_str_t *path, char *pattern, json_t *args)
{
    u_char   *p, *last, *seg;
    size_t    len;
    int64_t   id;

    p = path->data;
    last = p + path->len;

    while (*pattern) {

        if (ngx_strncmp(pattern, "{id}", 4) == 0) {
            seg = p;

            while (p < last && *p >= '0' && *p <= '9') {
                p++;
            }

            len = p - seg;

            if (len == 0 || len > 15 || *seg == '0') {
                return NGX_DECLINED;
            }

            id = ngx_atoof(seg, len);
            json_object_set_new(args, "id", json_integer(id));
            pattern += 4;
            continue;
        }

        if (p == last || *p != (u_char) *pattern) {
            return NGX_DECLINED;
        }

        p++;
        pattern++;
    }

    return (p == last) ? NGX_OK : NGX_DECLINED;
}


static ngx_int_t
ngx_http_traces_api_allow(ngx_http_request_t *r, ngx_uint_t allow)
{
    u_char     *p;
    ngx_str_t   value;

    ngx_http_discard_request_body(r);

    p = ngx_pnalloc(r->pool, sizeof("GET, HEAD, POST, PATCH") - 1);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.data = p;

    if (allow & NGX_HTTP_GET) {
        p = ngx_cpymem(p, "GET, HEAD, ", sizeof("GET, HEAD, ") - 1);
    }

    if (allow & NGX_HTTP_POST) {
        p = ngx_cpymem(p, "POST, ", sizeof("POST, ") - 1);
    }

    if (allow & NGX_HTTP_PATCH) {
        p = ngx_cpymem(p, "PATCH, ", sizeof("PATCH, ") - 1);
    }

    value.len = p - value.data - 2;

    if (ngx_http_traces_set_header(r, "Allow", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_traces_send_problem(r, NGX_HTTP_NOT_ALLOWED,
                                   "This method is not allowed here.");
}


static void
ngx_http_traces_api_body(ngx_http_request_t *r)
{
    json_t                     *body, *errors, *value;
    ngx_int_t                   rc;
    ngx_uint_t                  status;
    const char                 *key, *detail;
    ngx_http_traces_ctx_t      *ctx;
    ngx_http_traces_api_ctx_t  *actx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);
    actx = ctx->data;

    status = ngx_http_traces_api_read_json(r, &body, &detail);

    if (status != NGX_HTTP_OK) {
        ngx_http_finalize_request(r,
                          ngx_http_traces_send_problem(r, status, detail));
        return;
    }

    errors = json_array();
    if (errors == NULL) {
        json_decref(body);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_traces_validate_object(body, actx->route->body, "", errors);

    json_object_foreach(body, key, value) {
        json_object_set(actx->args, key, value);
    }

    json_decref(body);

    /* cross-field rules too, so that one answer names every fault */

    if (actx->route->check) {
        actx->route->check(actx->args, errors);
    }

    if (json_array_size(errors)) {
        ngx_http_finalize_request(r, ngx_http_traces_send_invalid(r, errors));
        return;
    }

    json_decref(errors);

    rc = ngx_http_traces_api_call(r, actx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/* the body as a JSON object, or the status of a problem and its detail */

static ngx_uint_t
ngx_http_traces_api_read_json(ngx_http_request_t *r, json_t **body,
    const char **detail)
{
    u_char        *p;
    size_t         len;
    ngx_str_t     *type;
    ngx_chain_t   *cl;
    json_error_t   error;

    type = r->headers_in.content_type ? &r->headers_in.content_type->value
                                      : NULL;

    if (type == NULL || type->len < sizeof("application/json") - 1
        || ngx_strncasecmp(type->data, (u_char *) "application/json",
                           sizeof("application/json") - 1) != 0)
    {
        *detail = "Send the body as application/json.";
        return NGX_HTTP_UNSUPPORTED_MEDIA_TYPE;
    }

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        *detail = "The body is empty.";
        return NGX_HTTP_BAD_REQUEST;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (!ngx_buf_in_memory(cl->buf)) {
            /* client_body_buffer_size is smaller than client_max_body_size */
            *detail = "The body is too large.";
            return NGX_HTTP_REQUEST_ENTITY_TOO_LARGE;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        *detail = NULL;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        ngx_memcpy(p + len, cl->buf->pos, cl->buf->last - cl->buf->pos);
        len += cl->buf->last - cl->buf->pos;
    }

    *body = json_loadb((char *) p, len, JSON_REJECT_DUPLICATES, &error);

    if (*body == NULL) {
        *detail = "The body is not valid JSON (UTF-8, no duplicate keys, "
                  "no NUL character).";
        return NGX_HTTP_BAD_REQUEST;
    }

    if (!json_is_object(*body)) {
        json_decref(*body);
        *detail = "The body must be a JSON object.";
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_HTTP_OK;
}


static ngx_int_t
ngx_http_traces_api_call(ngx_http_request_t *r,
    ngx_http_traces_api_ctx_t *actx)
{
    ngx_str_t                    args;
    ngx_http_traces_ctx_t       *ctx;
    ngx_http_traces_pg_query_t  *q;

    ctx = ngx_http_get_module_ctx(r, ngx_http_traces_module);

    if (ngx_http_traces_json_dump(r->pool, actx->args, &args) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    q = ngx_http_traces_pg_query_create(r, actx->route->sql,
                                        actx->route->public
                                        ? 0 : ctx->user.user_id,
                                        &args, ngx_http_traces_api_done);
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_traces_pg_run(q) != NGX_OK) {
        return ngx_http_traces_send_unavailable(r, q->status);
    }

    /* a client that goes away now frees the request and the query */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


static void
ngx_http_traces_api_done(ngx_http_traces_pg_query_t *q)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = q->data;
    c = r->connection;

    r->read_event_handler = ngx_http_block_reading;

    if (q->body.len) {
        rc = ngx_http_traces_send_json(r, q->status, &q->body);

    } else if (q->status == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        rc = ngx_http_traces_send_problem(r, q->status,
                                          "Something went wrong on our side.");

    } else {
        rc = ngx_http_traces_send_unavailable(r, q->status);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_traces_api_cleanup(void *data)
{
    ngx_http_traces_api_ctx_t  *actx = data;

    json_decref(actx->args);
}


/* a request whose Origin is not this very site changes nothing */

ngx_int_t
ngx_http_traces_same_origin(ngx_http_request_t *r)
{
    size_t            scheme;
    ngx_str_t        *host, *origin, *site;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    origin = NULL;
    site = NULL;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == sizeof("Origin") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "Origin",
                               sizeof("Origin") - 1) == 0)
        {
            if (origin) {
                return NGX_DECLINED;
            }

            origin = &h[i].value;

        } else if (h[i].key.len == sizeof("Sec-Fetch-Site") - 1
                   && ngx_strncasecmp(h[i].key.data,
                                      (u_char *) "Sec-Fetch-Site",
                                      sizeof("Sec-Fetch-Site") - 1) == 0)
        {
            site = &h[i].value;
        }
    }

    if (site && !(site->len == sizeof("same-origin") - 1
                  && ngx_strncmp(site->data, "same-origin", site->len) == 0))
    {
        return NGX_DECLINED;
    }

    if (origin == NULL || r->headers_in.host == NULL) {
        return NGX_DECLINED;
    }

    host = &r->headers_in.host->value;

    if (origin->len > sizeof("https://") - 1
        && ngx_strncmp(origin->data, "https://", sizeof("https://") - 1) == 0)
    {
        scheme = sizeof("https://") - 1;

    } else if (origin->len > sizeof("http://") - 1
               && ngx_strncmp(origin->data, "http://", sizeof("http://") - 1)
                  == 0)
    {
        scheme = sizeof("http://") - 1;

    } else {
        return NGX_DECLINED;
    }

    if (origin->len - scheme != host->len
        || ngx_strncasecmp(origin->data + scheme, host->data, host->len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* what the guide asks of a new operator beyond the shape of each field */

static void
ngx_http_traces_check_operator(json_t *args, json_t *errors)
{
    char         index[64];
    size_t       i;
    json_t      *ids, *item, *activity, *from, *until;
    ngx_uint_t   t, eori, seen;
    const char  *type, *value;

    ids = json_object_get(args, "identifiers");
    activity = json_object_get(args, "activity");

    eori = 0;
    seen = 0;

    /* the fields may be of any shape here: their own errors are reported */

    json_array_foreach(ids, i, item) {
        type = json_string_value(json_object_get(item, "type"));
        value = json_string_value(json_object_get(item, "value"));

        ngx_snprintf((u_char *) index, sizeof(index) - 1,
                     "identifiers[%uz]%Z", i);
        index[sizeof(index) - 1] = '\0';

        if (type == NULL || value == NULL) {
            continue;
        }

        /* each type at most once: a bit per type */

        for (t = 0; ngx_http_traces_identifier_types[t]; t++) {
            if (ngx_strcmp(ngx_http_traces_identifier_types[t], type) == 0) {
                break;
            }
        }

        if (seen & ((ngx_uint_t) 1 << t)) {
            ngx_http_traces_field_error(errors, index, "type",
                                        "is given twice");
        }

        seen |= (ngx_uint_t) 1 << t;

        if (ngx_strcmp(type, "eori") != 0) {
            continue;
        }

        if (!ngx_http_traces_valid_eori(value)) {
            ngx_http_traces_field_error(errors, index, "value",
                              "is not a valid EORI number (country code and "
                              "up to 15 letters or digits; France: FR and "
                              "the 9-digit SIREN or 14-digit SIRET)");
        }

        eori = 1;
    }

    type = json_string_value(json_object_get(activity, "activity"));

    if (!eori && type && ngx_strcmp(type, "organic_importer") == 0) {
        ngx_http_traces_field_error(errors, "", "identifiers",
                                    "an organic importer must give its EORI "
                                    "number");
    }

    from = json_object_get(activity, "valid_from");
    until = json_object_get(activity, "valid_until");

    if (json_is_string(from) && json_is_string(until)
        && ngx_strcmp(json_string_value(from), json_string_value(until)) > 0)
    {
        ngx_http_traces_field_error(errors, "activity", "valid_until",
                                    "is before valid_from");
    }
}
