
/*
 * TRACES access gate: where a login may send the browser back to, and the
 * escaped arguments it and EU Login's posts come in.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_traces_redirect.h"


static ngx_uint_t ngx_http_traces_is_local_path(ngx_str_t *in);


void
ngx_http_traces_local_path(ngx_str_t *in, ngx_str_t *out)
{
    if (ngx_http_traces_is_local_path(in)) {
        *out = *in;

    } else {
        ngx_str_set(out, "/");
    }
}


static ngx_uint_t
ngx_http_traces_is_local_path(ngx_str_t *in)
{
    u_char     *p, *end;
    ngx_int_t   c;

    if (in->len == 0
        || in->len > NGX_HTTP_TRACES_LOCAL_PATH_MAX
        || in->data[0] != '/')
    {
        return 0;
    }

    /*
     * printable ASCII only: browsers strip tabs and newlines from a
     * Location and read "\" as "/"
     */

    end = in->data + in->len;

    for (p = in->data; p < end; p++) {
        if (*p < 0x21 || *p > 0x7e || *p == '\\') {
            return 0;
        }
    }

    if (in->len == 1) {
        return 1;
    }

    /*
     * "//host" is another origin; look at the second byte once more
     * percent-decoded too, as a backend that decodes twice would
     */

    c = in->data[1];

    if (c == '%') {
        c = (in->len < 4) ? NGX_ERROR : ngx_hextoi(&in->data[2], 2);
    }

    return c > 0x20 && c < 0x7f && c != '/' && c != '\\';
}


ngx_int_t
ngx_http_traces_unescape_arg(ngx_pool_t *pool, ngx_str_t *in, ngx_str_t *out)
{
    u_char     *p, *end, *d;
    ngx_int_t   c;

    out->data = ngx_pnalloc(pool, in->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    d = out->data;
    p = in->data;
    end = p + in->len;

    while (p < end) {

        if (*p == '+') {
            *d++ = ' ';
            p++;
            continue;
        }

        if (*p != '%') {
            *d++ = *p++;
            continue;
        }

        c = (end - p < 3) ? NGX_ERROR : ngx_hextoi(p + 1, 2);
        if (c == NGX_ERROR) {
            return NGX_DECLINED;
        }

        *d++ = (u_char) c;
        p += 3;
    }

    out->len = d - out->data;

    return NGX_OK;
}


/* one parameter of an application/x-www-form-urlencoded body, decoded */

ngx_int_t
ngx_http_traces_form_arg(ngx_pool_t *pool, ngx_str_t *form, char *name,
    ngx_str_t *value)
{
    u_char     *p, *last, *amp;
    size_t      len;
    ngx_str_t   raw;

    len = ngx_strlen(name);
    last = form->data + form->len;

    for (p = form->data; p < last; p = amp + 1) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if ((size_t) (amp - p) > len && p[len] == '='
            && ngx_strncmp(p, name, len) == 0)
        {
            raw.data = p + len + 1;
            raw.len = amp - raw.data;

            return ngx_http_traces_unescape_arg(pool, &raw, value);
        }
    }

    return NGX_DECLINED;
}
