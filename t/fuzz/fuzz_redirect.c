/*
 * return_to (module/ngx_http_traces_redirect.c): a query-string value is
 * percent-decoded (ngx_http_traces_unescape_arg), then kept only when it
 * is a path of this site (ngx_http_traces_local_path).  Checks, on what is
 * kept: it starts with one "/" and no second "/" or "\" (also once more
 * decoded), holds only printable ASCII without "\", so that a browser
 * resolving it as a Location stays on this origin; otherwise it is "/".
 */

#include "fuzz_common.h"
#include "ngx_http_traces_redirect.h"


static int
hexval(u_char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t       i;
    int          c;
    ngx_str_t    in, decoded, out;
    ngx_pool_t  *pool;

    pool = fuzz_pool();
    in.data = fuzz_copy(pool, data, size);
    in.len = size;

    if (ngx_http_traces_unescape_arg(pool, &in, &decoded) == NGX_OK) {
        FUZZ_ASSERT(decoded.len <= in.len);
        in = decoded;
        in.data = fuzz_copy(pool, decoded.data, decoded.len);
    }

    ngx_http_traces_local_path(&in, &out);

    FUZZ_ASSERT(out.len >= 1 && out.data[0] == '/');

    if (out.len == 1) {
        goto done;
    }

    FUZZ_ASSERT(out.data == in.data && out.len == in.len);
    FUZZ_ASSERT(out.len <= NGX_HTTP_TRACES_LOCAL_PATH_MAX);

    for (i = 0; i < out.len; i++) {
        FUZZ_ASSERT(out.data[i] > 0x20 && out.data[i] < 0x7f && out.data[i] != '\\');
    }

    c = out.data[1];

    if (c == '%' && out.len >= 4 && hexval(out.data[2]) >= 0 && hexval(out.data[3]) >= 0) {
        c = hexval(out.data[2]) * 16 + hexval(out.data[3]);
    }

    FUZZ_ASSERT(c != '/' && c != '\\' && c > 0x20 && c < 0x7f);

done:
    ngx_destroy_pool(pool);
    return 0;
}
