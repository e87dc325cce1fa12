
/*
 * TRACES access gate: a strict reader of Cookie header values.
 */


#ifndef _NGX_HTTP_TRACES_COOKIE_H_INCLUDED_
#define _NGX_HTTP_TRACES_COOKIE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Both read one Cookie header value ("a=1; b=2"); HTTP/2 may send several
 * Cookie headers, the caller walks them.  A piece counts as a cookie when
 * its name is an RFC 7230 token and its value, quotes removed, is made of
 * RFC 6265 cookie-octets; other pieces are skipped.  Results point into
 * header_value.
 */

/* the first cookie named exactly name; NGX_DECLINED when there is none */
ngx_int_t ngx_http_traces_cookie_find(ngx_str_t *header_value,
    ngx_str_t *name, ngx_str_t *value);

/* how many names start with prefix; the first max of them go to names */
ngx_uint_t ngx_http_traces_cookie_count_prefix(ngx_str_t *header_value,
    ngx_str_t *prefix, ngx_str_t *names, ngx_uint_t max);


#endif /* _NGX_HTTP_TRACES_COOKIE_H_INCLUDED_ */
