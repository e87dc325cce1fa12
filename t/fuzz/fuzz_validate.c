/*
 * The JSON locations' input (module/ngx_http_traces_api.c and
 * _validate.c), with the module's real route table and field specs: the
 * module file is included whole, and what it calls outside validation
 * (sending answers, PostgreSQL) is stubbed below, never reached.
 *
 * The first byte picks a route.  The rest is, by the second byte: a
 * request body (JSON, parsed as the module parses it, then validated
 * against the route's body spec and its cross-field check), a query
 * string (validated against the route's query spec), or a path (matched
 * against every route).  Checks: every error names a field and says why;
 * a body key that the spec does not know always yields an error (unknown
 * fields are refused); a body with no error holds only known keys of the
 * right JSON types.
 */

#include "../../module/ngx_http_traces_api.c"

#include "fuzz_common.h"


/* --- what api.c calls besides validation: never reached here ----------- */

#define FUZZ_UNREACHED(ret, name, args)                                       \
    ret name args { abort(); }

ngx_module_t  ngx_http_traces_module;

FUZZ_UNREACHED(ngx_http_traces_ctx_t *, ngx_http_traces_get_ctx,
               (ngx_http_request_t *r))
FUZZ_UNREACHED(ngx_int_t, ngx_http_discard_request_body, (ngx_http_request_t *r))
FUZZ_UNREACHED(ngx_int_t, ngx_http_read_client_request_body,
               (ngx_http_request_t *r, ngx_http_client_body_handler_pt h))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_send_problem,
               (ngx_http_request_t *r, ngx_uint_t s, const char *d))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_send_cross_site,
               (ngx_http_request_t *r))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_send_invalid,
               (ngx_http_request_t *r, json_t *e))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_send_json,
               (ngx_http_request_t *r, ngx_uint_t s, ngx_str_t *b))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_send_unavailable,
               (ngx_http_request_t *r, ngx_uint_t s))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_set_header,
               (ngx_http_request_t *r, char *n, ngx_str_t *v))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_json_dump,
               (ngx_pool_t *p, json_t *j, ngx_str_t *o))
FUZZ_UNREACHED(ngx_http_traces_pg_query_t *, ngx_http_traces_pg_query_create,
               (ngx_http_request_t *r, ngx_http_traces_sql_e s, int64_t u,
                ngx_str_t *a, ngx_http_traces_pg_done_pt d))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_pg_run, (ngx_http_traces_pg_query_t *q))
FUZZ_UNREACHED(void, ngx_http_finalize_request, (ngx_http_request_t *r, ngx_int_t rc))
FUZZ_UNREACHED(void, ngx_http_run_posted_requests, (ngx_connection_t *c))
FUZZ_UNREACHED(void, ngx_http_test_reading, (ngx_http_request_t *r))
FUZZ_UNREACHED(void, ngx_http_block_reading, (ngx_http_request_t *r))


/* --- the checks -------------------------------------------------------- */

static void
check_errors(json_t *errors)
{
    size_t   i;
    json_t  *e, *field, *message;

    FUZZ_ASSERT(json_is_array(errors));

    json_array_foreach(errors, i, e) {
        field = json_object_get(e, "field");
        message = json_object_get(e, "message");
        FUZZ_ASSERT(json_is_string(field) && json_is_string(message));
        FUZZ_ASSERT(json_string_length(message) > 0);
    }
}


/* a valid object holds known keys only, each of its declared JSON type */

static void
check_valid(json_t *object, ngx_http_traces_field_t *fields)
{
    size_t                    i;
    json_t                   *value, *item;
    const char               *key;
    ngx_http_traces_field_t  *f;

    json_object_foreach(object, key, value) {
        for (f = fields; f->name; f++) {
            if (strcmp(f->name, key) == 0) {
                break;
            }
        }

        FUZZ_ASSERT(f->name != NULL);

        if (json_is_null(value)) {
            FUZZ_ASSERT(!f->required);
            continue;
        }

        switch (f->type) {
        case NGX_HTTP_TRACES_T_OBJECT:
            FUZZ_ASSERT(json_is_object(value));
            check_valid(value, f->members);
            break;
        case NGX_HTTP_TRACES_T_ARRAY:
            FUZZ_ASSERT(json_is_array(value) && json_array_size(value) <= f->max);
            json_array_foreach(value, i, item) {
                if (f->members->type == NGX_HTTP_TRACES_T_OBJECT) {
                    FUZZ_ASSERT(json_is_object(item));
                    check_valid(item, f->members->members);
                } else if (f->members->type == NGX_HTTP_TRACES_T_ID) {
                    FUZZ_ASSERT(json_is_integer(item) && json_integer_value(item) > 0);
                }
            }
            break;
        case NGX_HTTP_TRACES_T_ID:
        case NGX_HTTP_TRACES_T_INTEGER:
            FUZZ_ASSERT(json_is_integer(value) && json_integer_value(value) > 0);
            break;
        case NGX_HTTP_TRACES_T_BOOLEAN:
            FUZZ_ASSERT(json_is_boolean(value));
            break;
        case NGX_HTTP_TRACES_T_LATITUDE:
        case NGX_HTTP_TRACES_T_LONGITUDE:
            FUZZ_ASSERT(json_is_number(value));
            break;
        case NGX_HTTP_TRACES_T_USER:
            FUZZ_ASSERT(json_is_integer(value) || json_is_string(value));
            break;
        default:
            FUZZ_ASSERT(json_is_string(value));
            FUZZ_ASSERT(memchr(json_string_value(value), '\0',
                               json_string_length(value)) == NULL);
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                    nroutes, i;
    json_t                   *body, *errors, *args;
    ngx_str_t                 path;
    ngx_pool_t               *pool;
    json_error_t              error;
    ngx_http_request_t        r;
    ngx_http_traces_route_t  *route;

    if (size < 2) {
        return 0;
    }

    for (nroutes = 0; ngx_http_traces_routes[nroutes].path; nroutes++) {
        /* void */
    }

    route = &ngx_http_traces_routes[data[0] % nroutes];
    pool = fuzz_pool();
    errors = json_array();
    args = json_object();

    switch (data[1] % 3) {

    case 0:
        /* a body, as ngx_http_traces_api_read_json() and _api_body() */
        if (route->body == NULL) {
            break;
        }

        body = json_loadb((const char *) fuzz_copy(pool, data + 2, size - 2),
                          size - 2, JSON_REJECT_DUPLICATES, &error);
        if (body == NULL || !json_is_object(body)) {
            json_decref(body);
            break;
        }

        ngx_http_traces_validate_object(body, route->body, "", errors);

        {
            const char  *key;
            json_t      *value;
            ngx_http_traces_field_t  *f;
            ngx_uint_t   unknown = 0;

            json_object_foreach(body, key, value) {
                for (f = route->body; f->name; f++) {
                    if (strcmp(f->name, key) == 0) {
                        break;
                    }
                }
                unknown += (f->name == NULL);
                json_object_set(args, key, value);
            }

            /* an unknown field is never let through */
            FUZZ_ASSERT(unknown == 0 || json_array_size(errors) > 0);
        }

        if (route->check) {
            route->check(args, errors);
        }

        check_errors(errors);

        if (json_array_size(errors) == 0) {
            check_valid(body, route->body);
        }

        json_decref(body);
        break;

    case 1:
        /* a query string */
        ngx_memzero(&r, sizeof(r));
        r.pool = pool;
        r.args.data = fuzz_copy(pool, data + 2, size - 2);
        r.args.len = size - 2;

        ngx_http_traces_validate_args(&r, route->query, args, errors);
        check_errors(errors);

        if (json_array_size(errors) == 0) {
            check_valid(args, route->query);
        }
        break;

    default:
        /* a path after /api/ */
        path.data = fuzz_copy(pool, data + 2, size - 2);
        path.len = size - 2;

        for (i = 0; i < nroutes; i++) {
            if (ngx_http_traces_api_match(&path, ngx_http_traces_routes[i].path,
                                          args) == NGX_OK)
            {
                if (json_object_get(args, "id")) {
                    FUZZ_ASSERT(json_integer_value(json_object_get(args, "id")) > 0);
                }
            }
        }
    }

    json_decref(errors);
    json_decref(args);
    ngx_destroy_pool(pool);

    return 0;
}
