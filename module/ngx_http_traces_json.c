
/*
 * TRACES access gate: JSON answers and RFC 9457 problem documents.
 */


#include "ngx_http_traces_json.h"


typedef struct {
    ngx_uint_t    status;
    const char   *title;
} ngx_http_traces_title_t;


static ngx_http_traces_title_t  ngx_http_traces_titles[] = {
    { 400, "Bad Request" },
    { 401, "Unauthorized" },
    { 403, "Forbidden" },
    { 404, "Not Found" },
    { 405, "Method Not Allowed" },
    { 409, "Conflict" },
    { 413, "Content Too Large" },
    { 415, "Unsupported Media Type" },
    { 422, "Unprocessable Content" },
    { 500, "Internal Server Error" },
    { 502, "Bad Gateway" },
    { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" },
    { 0, NULL }
};


static ngx_str_t  ngx_http_traces_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_traces_problem_type =
    ngx_string("application/problem+json");


static const char *
ngx_http_traces_title(ngx_uint_t status)
{
    ngx_http_traces_title_t  *t;

    for (t = ngx_http_traces_titles; t->status; t++) {
        if (t->status == status) {
            return t->title;
        }
    }

    return "Error";
}


ngx_int_t
ngx_http_traces_set_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_json_dump(ngx_pool_t *pool, json_t *json, ngx_str_t *out)
{
    char    *text;
    size_t   len;

    text = json_dumps(json, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(text);

    out->data = ngx_pnalloc(pool, len);
    if (out->data == NULL) {
        free(text);
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, text, len);
    out->len = len;
    free(text);

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_str_t     value;
    ngx_chain_t   out;

    if (status >= NGX_HTTP_BAD_REQUEST && body->len == 0) {
        return ngx_http_traces_send_problem(r, status, NULL);
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = body->len;
    r->headers_out.content_type = status >= NGX_HTTP_BAD_REQUEST
                                  ? ngx_http_traces_problem_type
                                  : ngx_http_traces_json_type;
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_str_set(&value, "no-store");
    if (ngx_http_traces_set_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "nosniff");
    if (ngx_http_traces_set_header(r, "X-Content-Type-Options", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_str_set(&value, "1");
        if (ngx_http_traces_set_header(r, "Retry-After", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (body->len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_traces_send_document(ngx_http_request_t *r, ngx_uint_t status,
    json_t *doc)
{
    ngx_str_t  body;

    if (doc == NULL || ngx_http_traces_json_dump(r->pool, doc, &body)
                       != NGX_OK)
    {
        json_decref(doc);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(doc);

    return ngx_http_traces_send_json(r, status, &body);
}


ngx_int_t
ngx_http_traces_send_problem(ngx_http_request_t *r, ngx_uint_t status,
    const char *detail)
{
    json_t  *doc;

    doc = json_pack("{s:s, s:s, s:i}", "type", "about:blank",
                    "title", ngx_http_traces_title(status),
                    "status", (json_int_t) status);

    if (doc && detail) {
        json_object_set_new(doc, "detail", json_string(detail));
    }

    return ngx_http_traces_send_document(r, status, doc);
}


/* 422 naming every faulty field; "errors" is stolen */

ngx_int_t
ngx_http_traces_send_invalid(ngx_http_request_t *r, json_t *errors)
{
    json_t  *doc;

    doc = json_pack("{s:s, s:s, s:i, s:s, s:o}",
                    "type", "urn:traces:problem:invalid-input",
                    "title", ngx_http_traces_title(422),
                    "status", (json_int_t) 422,
                    "detail", "Some fields are missing or not valid.",
                    "errors", errors);

    return ngx_http_traces_send_document(r, 422, doc);
}


/*
 * Copies the string members names[0..n-1] of a JSON object into fields[],
 * in the pool.  A member missing or not a string is NGX_DECLINED when
 * "required", an empty string otherwise.
 */

ngx_int_t
ngx_http_traces_json_strings(ngx_pool_t *pool, json_t *doc,
    const char **names, ngx_str_t **fields, ngx_uint_t n, ngx_uint_t required)
{
    ngx_uint_t   i;
    const char  *s;

    for (i = 0; i < n; i++) {
        s = json_string_value(json_object_get(doc, names[i]));

        if (s == NULL) {
            if (required) {
                return NGX_DECLINED;
            }

            s = "";
        }

        fields[i]->len = ngx_strlen(s);
        fields[i]->data = ngx_pnalloc(pool, fields[i]->len);

        if (fields[i]->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(fields[i]->data, s, fields[i]->len);
    }

    return NGX_OK;
}


/* a state-changing request that did not come from this very site */

ngx_int_t
ngx_http_traces_send_cross_site(ngx_http_request_t *r)
{
    return ngx_http_traces_send_problem(r, NGX_HTTP_FORBIDDEN,
                                        "Cross-site requests are refused: "
                                        "send an Origin header naming this "
                                        "site.");
}


/* the database could not answer: 503 or 504, saying which part failed */

ngx_int_t
ngx_http_traces_send_unavailable(ngx_http_request_t *r, ngx_uint_t status)
{
    json_t  *doc;

    if (status != NGX_HTTP_GATEWAY_TIME_OUT) {
        status = NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    doc = json_pack("{s:s, s:s, s:i, s:s, s:s}",
                    "type", "urn:traces:problem:database-unavailable",
                    "title", ngx_http_traces_title(status),
                    "status", (json_int_t) status,
                    "detail", "The database is not available; "
                              "try again in a moment.",
                    "database", "unavailable");

    return ngx_http_traces_send_document(r, status, doc);
}
