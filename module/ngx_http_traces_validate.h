
/*
 * TRACES access gate: input validation against declarative field specs.
 */


#ifndef _NGX_HTTP_TRACES_VALIDATE_H_INCLUDED_
#define _NGX_HTTP_TRACES_VALIDATE_H_INCLUDED_


#include <jansson.h>

#include "ngx_http_traces_module.h"


typedef enum {
    NGX_HTTP_TRACES_T_STRING = 0,   /* one line of text */
    NGX_HTTP_TRACES_T_TEXT,         /* several lines of text */
    NGX_HTTP_TRACES_T_ENUM,
    NGX_HTTP_TRACES_T_ID,           /* positive integer */
    NGX_HTTP_TRACES_T_INTEGER,      /* 1 .. max */
    NGX_HTTP_TRACES_T_BOOLEAN,
    NGX_HTTP_TRACES_T_COUNTRY,      /* ISO 3166-1 alpha-2 */
    NGX_HTTP_TRACES_T_DATE,         /* YYYY-MM-DD */
    NGX_HTTP_TRACES_T_EMAIL,
    NGX_HTTP_TRACES_T_PHONE,
    NGX_HTTP_TRACES_T_URL,
    NGX_HTTP_TRACES_T_LATITUDE,
    NGX_HTTP_TRACES_T_LONGITUDE,
    NGX_HTTP_TRACES_T_USER,         /* a user id, or an EU Login uid */
    NGX_HTTP_TRACES_T_CURSOR,       /* opaque paging cursor */
    NGX_HTTP_TRACES_T_OBJECT,
    NGX_HTTP_TRACES_T_ARRAY
} ngx_http_traces_type_e;


typedef struct ngx_http_traces_field_s  ngx_http_traces_field_t;

struct ngx_http_traces_field_s {
    char                        *name;
    ngx_http_traces_type_e       type;
    ngx_uint_t                   required;
    size_t                       max;        /* characters, items, value */
    char                       **values;     /* of an enum */
    ngx_http_traces_field_t     *members;    /* of an object or an item */
};

#define ngx_http_traces_field_end  { NULL, 0, 0, 0, NULL, NULL }


void ngx_http_traces_validate_object(json_t *object,
    ngx_http_traces_field_t *fields, const char *path, json_t *errors);
void ngx_http_traces_validate_args(ngx_http_request_t *r,
    ngx_http_traces_field_t *fields, json_t *args, json_t *errors);
void ngx_http_traces_field_error(json_t *errors, const char *path,
    const char *name, const char *message);
ngx_int_t ngx_http_traces_valid_eori(const char *value);


#endif /* _NGX_HTTP_TRACES_VALIDATE_H_INCLUDED_ */
