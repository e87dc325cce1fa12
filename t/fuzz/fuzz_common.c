/*
 * The few pieces of nginx core the module's parsers need besides strings
 * and pools: a log (silent) and its globals.
 */

#include "fuzz_common.h"

#include <unistd.h>


ngx_log_t          fuzz_log;
volatile ngx_cycle_t  *ngx_cycle;


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   buf[NGX_MAX_ERROR_STR];
    va_list  args;

    /* formatted all the same, so that a bad format argument shows */
    va_start(args, fmt);
    (void) ngx_vslprintf(buf, buf + sizeof(buf), fmt, args);
    va_end(args);
}


void
fuzz_init(void)
{
    static int  done;

    if (done) {
        return;
    }

    done = 1;
    ngx_pagesize = getpagesize();
    for (ngx_pagesize_shift = 0; (1 << ngx_pagesize_shift) < (int) ngx_pagesize;
         ngx_pagesize_shift++)
    {
        /* void */
    }
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;
    fuzz_log.log_level = NGX_LOG_DEBUG;
}


ngx_pool_t *
fuzz_pool(void)
{
    ngx_pool_t  *pool;

    fuzz_init();

    pool = ngx_create_pool(1024, &fuzz_log);
    if (pool == NULL) {
        abort();
    }

    return pool;
}


static void
fuzz_free(void *data)
{
    free(data);
}


u_char *
fuzz_copy(ngx_pool_t *pool, const uint8_t *data, size_t size)
{
    u_char              *p;
    ngx_pool_cleanup_t  *cln;

    /* an allocation of its own and of the exact size: ASan sees a read
     * past the end, which it would not inside a pool's block */
    p = malloc(size ? size : 1);
    cln = ngx_pool_cleanup_add(pool, 0);
    if (p == NULL || cln == NULL) {
        abort();
    }

    cln->handler = fuzz_free;
    cln->data = p;
    memcpy(p, data, size);

    return p;
}
