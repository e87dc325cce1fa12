
/*
 * TRACES access gate: JSON answers and RFC 9457 problem documents.
 */


#ifndef _NGX_HTTP_TRACES_JSON_H_INCLUDED_
#define _NGX_HTTP_TRACES_JSON_H_INCLUDED_


#include <jansson.h>

#include "ngx_http_traces_module.h"


ngx_int_t ngx_http_traces_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_http_traces_send_problem(ngx_http_request_t *r,
    ngx_uint_t status, const char *detail);
ngx_int_t ngx_http_traces_send_unavailable(ngx_http_request_t *r,
    ngx_uint_t status);
ngx_int_t ngx_http_traces_send_cross_site(ngx_http_request_t *r);
ngx_int_t ngx_http_traces_send_invalid(ngx_http_request_t *r,
    json_t *errors);
ngx_int_t ngx_http_traces_json_dump(ngx_pool_t *pool, json_t *json,
    ngx_str_t *out);
ngx_int_t ngx_http_traces_json_strings(ngx_pool_t *pool, json_t *doc,
    const char **names, ngx_str_t **fields, ngx_uint_t n, ngx_uint_t required);
ngx_int_t ngx_http_traces_set_header(ngx_http_request_t *r, char *name,
    ngx_str_t *value);


#endif /* _NGX_HTTP_TRACES_JSON_H_INCLUDED_ */
