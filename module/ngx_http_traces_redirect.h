
/*
 * TRACES access gate: where a login may send the browser back to, and the
 * escaped arguments it and EU Login's posts come in.
 */


#ifndef _NGX_HTTP_TRACES_REDIRECT_H_INCLUDED_
#define _NGX_HTTP_TRACES_REDIRECT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_TRACES_LOCAL_PATH_MAX  1024


/*
 * out = in when in is a safe path on this origin, "/" otherwise; in is
 * the value already percent-decoded once, out points into it.
 */
void ngx_http_traces_local_path(ngx_str_t *in, ngx_str_t *out);

/*
 * Percent-decodes a query-string value, "+" as a space; out may hold any
 * byte.  NGX_OK, NGX_DECLINED (malformed escape), NGX_ERROR (no memory).
 */
ngx_int_t ngx_http_traces_unescape_arg(ngx_pool_t *pool, ngx_str_t *in,
    ngx_str_t *out);

/*
 * The value of the first field "name" of an application/x-www-form-
 * urlencoded body, decoded: NGX_OK, NGX_DECLINED (absent or malformed),
 * NGX_ERROR.
 */
ngx_int_t ngx_http_traces_form_arg(ngx_pool_t *pool, ngx_str_t *form,
    char *name, ngx_str_t *value);


#endif /* _NGX_HTTP_TRACES_REDIRECT_H_INCLUDED_ */
