
/*
 * TRACES access gate: a strict reader of Cookie header values.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_traces_cookie.h"


static ngx_int_t ngx_http_traces_cookie_next(u_char **pos, u_char *end,
    ngx_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_traces_cookie_piece(u_char *p, u_char *last,
    ngx_str_t *name, ngx_str_t *value);
static ngx_uint_t ngx_http_traces_cookie_tchar(u_char c);
static ngx_uint_t ngx_http_traces_cookie_octet(u_char c);


ngx_int_t
ngx_http_traces_cookie_find(ngx_str_t *header_value, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char     *pos, *end;
    ngx_int_t   rc;
    ngx_str_t   n, v;

    pos = header_value->data;
    end = pos + header_value->len;

    while ((rc = ngx_http_traces_cookie_next(&pos, end, &n, &v)) != NGX_DONE)
    {
        if (rc == NGX_OK
            && n.len == name->len
            && ngx_strncmp(n.data, name->data, n.len) == 0)
        {
            *value = v;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ngx_uint_t
ngx_http_traces_cookie_count_prefix(ngx_str_t *header_value,
    ngx_str_t *prefix, ngx_str_t *names, ngx_uint_t max)
{
    u_char      *pos, *end;
    ngx_int_t    rc;
    ngx_str_t    n, v;
    ngx_uint_t   count;

    pos = header_value->data;
    end = pos + header_value->len;
    count = 0;

    while ((rc = ngx_http_traces_cookie_next(&pos, end, &n, &v)) != NGX_DONE)
    {
        if (rc == NGX_OK
            && n.len >= prefix->len
            && ngx_strncmp(n.data, prefix->data, prefix->len) == 0)
        {
            if (count < max) {
                names[count] = n;
            }

            count++;
        }
    }

    return count;
}


/* NGX_OK: a cookie; NGX_DECLINED: a malformed piece; NGX_DONE: the end */

static ngx_int_t
ngx_http_traces_cookie_next(u_char **pos, u_char *end, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *p, *semi;

    p = *pos;

    if (p >= end) {
        return NGX_DONE;
    }

    semi = ngx_strlchr(p, end, ';');

    if (semi == NULL) {
        *pos = end;
        return ngx_http_traces_cookie_piece(p, end, name, value);
    }

    *pos = semi + 1;

    return ngx_http_traces_cookie_piece(p, semi, name, value);
}


static ngx_int_t
ngx_http_traces_cookie_piece(u_char *p, u_char *last, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *eq, *q;

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    eq = ngx_strlchr(p, last, '=');
    if (eq == NULL) {
        return NGX_DECLINED;
    }

    name->data = p;

    for (q = eq; q > p && (q[-1] == ' ' || q[-1] == '\t'); q--) {
        /* void */
    }

    name->len = q - p;

    if (name->len == 0) {
        return NGX_DECLINED;
    }

    for ( /* void */ ; p < q; p++) {
        if (!ngx_http_traces_cookie_tchar(*p)) {
            return NGX_DECLINED;
        }
    }

    for (p = eq + 1; p < last && (*p == ' ' || *p == '\t'); p++) {
        /* void */
    }

    if (p < last && *p == '"') {
        if (last - p < 2 || last[-1] != '"') {
            return NGX_DECLINED;
        }

        p++;
        last--;
    }

    value->data = p;
    value->len = last - p;

    for ( /* void */ ; p < last; p++) {
        if (!ngx_http_traces_cookie_octet(*p)) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_traces_cookie_tchar(u_char c)
{
    return c > 0x20 && c < 0x7f
           && ngx_strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}


static ngx_uint_t
ngx_http_traces_cookie_octet(u_char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != ',' && c != ';'
           && c != '\\';
}
