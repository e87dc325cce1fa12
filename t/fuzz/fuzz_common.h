/*
 * What every fuzz target shares: nginx's pools and strings (the real
 * ngx_string.c, ngx_palloc.c, ngx_alloc.c of nginx 1.22.1, from Debian's
 * nginx source package: t/fuzz/nginx-sources),
 * a log that writes nothing, and one pool per input.
 */

#ifndef _TRACES_FUZZ_COMMON_H_INCLUDED_
#define _TRACES_FUZZ_COMMON_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern ngx_log_t  fuzz_log;

void fuzz_init(void);
ngx_pool_t *fuzz_pool(void);

/* a copy of the input in the pool: an input is never read past its end */
u_char *fuzz_copy(ngx_pool_t *pool, const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: assertion failed: %s\n",                  \
                    __FILE__, __LINE__, #cond);                               \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif
