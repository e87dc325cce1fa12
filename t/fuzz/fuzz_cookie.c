/*
 * The Cookie header reader (module/ngx_http_traces_cookie.c): any header
 * value, any name looked for.  Checks: results point inside the header,
 * names are tokens, values are cookie-octets, count_prefix never writes
 * past max.
 */

#include "fuzz_common.h"
#include "ngx_http_traces_cookie.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *h;
    size_t       i;
    ngx_str_t    header, name, value, prefix, names[4];
    ngx_uint_t   n, max;
    ngx_pool_t  *pool;

    pool = fuzz_pool();
    h = fuzz_copy(pool, data, size);
    header.data = h;
    header.len = size;

    ngx_str_set(&name, "traces_session");

    if (ngx_http_traces_cookie_find(&header, &name, &value) == NGX_OK) {
        FUZZ_ASSERT(value.data >= h && value.data + value.len <= h + size);

        for (i = 0; i < value.len; i++) {
            FUZZ_ASSERT(value.data[i] > 0x20 && value.data[i] < 0x7f
                        && value.data[i] != ';' && value.data[i] != '"');
        }
    }

    /* a name from the input too: its first bytes up to '|' */
    for (i = 0; i < size && i < 64 && h[i] != '|'; i++) { /* void */ }

    if (i < size) {
        name.data = h;
        name.len = i;
        header.data = h + i + 1;
        header.len = size - i - 1;
        (void) ngx_http_traces_cookie_find(&header, &name, &value);
        header.data = h;
        header.len = size;
    }

    ngx_str_set(&prefix, "traces_login_");
    max = size % 5;
    n = ngx_http_traces_cookie_count_prefix(&header, &prefix, names, max);

    for (i = 0; i < n && i < max; i++) {
        FUZZ_ASSERT(names[i].data >= h && names[i].data + names[i].len <= h + size);
        FUZZ_ASSERT(names[i].len >= prefix.len);
    }

    ngx_destroy_pool(pool);

    return 0;
}
