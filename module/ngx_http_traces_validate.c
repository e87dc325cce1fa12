
/*
 * TRACES access gate: input validation against declarative field specs.
 *
 * Every faulty field is reported, with its path ("identifiers[1].value"),
 * so that one 422 names them all.  Unknown fields are refused: a client
 * that misspells a field learns it at once instead of losing the value.
 */


#include "ngx_http_traces_validate.h"
#include "ngx_http_traces_redirect.h"


static void ngx_http_traces_validate_value(json_t *value,
    ngx_http_traces_field_t *field, const char *path, json_t *errors);
static const char *ngx_http_traces_check_string(const char *s, size_t len,
    ngx_http_traces_field_t *field);
static ngx_int_t ngx_http_traces_all_chars(const char *s, size_t len,
    const char *allowed);
static void ngx_http_traces_utf8_trim(char *s);
static json_t *ngx_http_traces_arg_value(ngx_str_t *text,
    ngx_http_traces_field_t *field);


void
ngx_http_traces_field_error(json_t *errors, const char *path,
    const char *name, const char *message)
{
    char     field[256];
    json_t  *item;

    if (path[0] == '\0') {
        ngx_cpystrn((u_char *) field, (u_char *) name, sizeof(field));

    } else if (name[0] == '[') {
        ngx_snprintf((u_char *) field, sizeof(field) - 1, "%s%s%Z",
                     path, name);

    } else {
        ngx_snprintf((u_char *) field, sizeof(field) - 1, "%s.%s%Z",
                     path, name);
    }

    field[sizeof(field) - 1] = '\0';

    /*
     * name may be a client's key cut above: never cut a UTF-8 sequence,
     * or json_pack() fails and the error would be lost, letting an
     * unknown field through
     */
    ngx_http_traces_utf8_trim(field);

    item = json_pack("{s:s, s:s}", "field", field, "message", message);

    if (item == NULL) {
        item = json_pack("{s:s, s:s}", "field", "?", "message", message);
    }

    json_array_append_new(errors, item);
}


static void
ngx_http_traces_utf8_trim(char *s)
{
    size_t   len, i, need;
    u_char   c;

    len = ngx_strlen(s);
    i = len;

    while (i > 0 && len - i < 4 && ((u_char) s[i - 1] & 0xc0) == 0x80) {
        i--;
    }

    if (i == 0) {
        return;
    }

    c = (u_char) s[i - 1];

    if (c < 0x80) {
        return;
    }

    need = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : 2;

    if (i - 1 + need > len) {
        s[i - 1] = '\0';
    }
}


void
ngx_http_traces_validate_object(json_t *object,
    ngx_http_traces_field_t *fields, const char *path, json_t *errors)
{
    const char               *key;
    json_t                   *value;
    ngx_http_traces_field_t  *f;

    json_object_foreach(object, key, value) {

        for (f = fields; f->name; f++) {
            if (ngx_strcmp(f->name, key) == 0) {
                break;
            }
        }

        if (f->name == NULL) {
            ngx_http_traces_field_error(errors, path, key, "unknown field");
            continue;
        }

        if (json_is_null(value) && !f->required) {
            continue;
        }

        ngx_http_traces_validate_value(value, f, path, errors);
    }

    for (f = fields; f->name; f++) {
        value = json_object_get(object, f->name);

        if (f->required && (value == NULL || json_is_null(value))) {
            ngx_http_traces_field_error(errors, path, f->name, "required");
        }
    }
}


static void
ngx_http_traces_validate_value(json_t *value, ngx_http_traces_field_t *field,
    const char *path, json_t *errors)
{
    char                     sub[256], index[32];
    size_t                   i;
    json_t                  *item;
    double                   d;
    json_int_t               n;
    const char              *message;
    ngx_http_traces_field_t  one;

    message = NULL;

    switch (field->type) {

    case NGX_HTTP_TRACES_T_OBJECT:
        if (!json_is_object(value)) {
            message = "must be an object";
            break;
        }

        ngx_snprintf((u_char *) sub, sizeof(sub) - 1,
                     path[0] ? "%s.%s%Z" : "%s%s%Z", path, field->name);
        sub[sizeof(sub) - 1] = '\0';

        ngx_http_traces_validate_object(value, field->members, sub, errors);
        return;

    case NGX_HTTP_TRACES_T_ARRAY:
        if (!json_is_array(value)) {
            message = "must be a list";
            break;
        }

        if (json_array_size(value) > field->max) {
            message = "has too many items";
            break;
        }

        if (field->required && json_array_size(value) == 0) {
            message = "required";
            break;
        }

        json_array_foreach(value, i, item) {
            ngx_snprintf((u_char *) sub, sizeof(sub) - 1,
                         path[0] ? "%s.%s%Z" : "%s%s%Z", path, field->name);
            sub[sizeof(sub) - 1] = '\0';
            ngx_snprintf((u_char *) index, sizeof(index) - 1, "[%uz]%Z", i);
            index[sizeof(index) - 1] = '\0';

            if (field->members->type == NGX_HTTP_TRACES_T_OBJECT) {
                if (!json_is_object(item)) {
                    ngx_http_traces_field_error(errors, sub, index,
                                                "must be an object");
                    continue;
                }

                ngx_snprintf((u_char *) sub + ngx_strlen(sub),
                             sizeof(sub) - 1 - ngx_strlen(sub), "%s%Z", index);
                sub[sizeof(sub) - 1] = '\0';

                ngx_http_traces_validate_object(item,
                                                field->members->members,
                                                sub, errors);
                continue;
            }

            one = *field->members;
            one.name = index;
            ngx_http_traces_validate_value(item, &one, sub, errors);
        }

        return;

    case NGX_HTTP_TRACES_T_BOOLEAN:
        if (!json_is_boolean(value)) {
            message = "must be true or false";
        }
        break;

    case NGX_HTTP_TRACES_T_ID:
    case NGX_HTTP_TRACES_T_INTEGER:
        if (!json_is_integer(value)) {
            message = "must be a whole number";
            break;
        }

        n = json_integer_value(value);

        if (n < 1 || (field->type == NGX_HTTP_TRACES_T_ID
                      && n > 9007199254740991LL)
            || (field->type == NGX_HTTP_TRACES_T_INTEGER
                && (size_t) n > field->max))
        {
            message = "is out of range";
        }
        break;

    case NGX_HTTP_TRACES_T_LATITUDE:
    case NGX_HTTP_TRACES_T_LONGITUDE:
        if (!json_is_number(value)) {
            message = "must be a number";
            break;
        }

        d = json_number_value(value);

        if (field->type == NGX_HTTP_TRACES_T_LATITUDE
            ? (d < -90 || d > 90) : (d < -180 || d > 180))
        {
            message = "is out of range";
        }
        break;

    case NGX_HTTP_TRACES_T_USER:
        if (json_is_integer(value)) {
            if (json_integer_value(value) < 1) {
                message = "is out of range";
            }
            break;
        }

        /* an EU Login uid */
        /* fall through */

    default:
        if (!json_is_string(value)) {
            message = "must be a string";
            break;
        }

        message = ngx_http_traces_check_string(json_string_value(value),
                                               json_string_length(value),
                                               field);
    }

    if (message) {
        ngx_http_traces_field_error(errors, path, field->name, message);
    }
}


static const char *
ngx_http_traces_check_string(const char *s, size_t len,
    ngx_http_traces_field_t *field)
{
    size_t       i, chars;
    char       **v;
    ngx_uint_t   y, m, d, mdays;
    const char  *at, *dot;

    if (memchr(s, '\0', len) != NULL) {
        return "must not contain NUL characters";
    }

    if (field->required && len == 0) {
        return "required";
    }

    chars = 0;

    for (i = 0; i < len; i++) {
        if (((u_char) s[i] & 0xc0) != 0x80) {
            chars++;
        }

        if ((u_char) s[i] < 0x20 || s[i] == 0x7f) {
            if (field->type != NGX_HTTP_TRACES_T_TEXT
                || (s[i] != '\n' && s[i] != '\r' && s[i] != '\t'))
            {
                return "must not contain control characters";
            }
        }
    }

    if (field->max && chars > field->max) {
        return "is too long";
    }

    switch (field->type) {

    case NGX_HTTP_TRACES_T_ENUM:
        for (v = field->values; *v; v++) {
            if (ngx_strcmp(*v, s) == 0) {
                return NULL;
            }
        }

        return "is not one of the allowed values";

    case NGX_HTTP_TRACES_T_COUNTRY:
        if (len != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z') {
            return "must be a two-letter country code";
        }
        return NULL;

    case NGX_HTTP_TRACES_T_DATE:
        if (len != 10 || s[4] != '-' || s[7] != '-'
            || !ngx_http_traces_all_chars(s, 4, "0123456789")
            || !ngx_http_traces_all_chars(s + 5, 2, "0123456789")
            || !ngx_http_traces_all_chars(s + 8, 2, "0123456789"))
        {
            return "must be a date (YYYY-MM-DD)";
        }

        y = ngx_atoi((u_char *) s, 4);
        m = ngx_atoi((u_char *) s + 5, 2);
        d = ngx_atoi((u_char *) s + 8, 2);

        mdays = (m == 2) ? ((y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
                            ? 29 : 28)
                         : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;

        if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays) {
            return "must be a date (YYYY-MM-DD)";
        }
        return NULL;

    case NGX_HTTP_TRACES_T_EMAIL:
        at = memchr(s, '@', len);

        if (at == NULL || at == s || memchr(at + 1, '@', s + len - at - 1)
            || (dot = memchr(at + 1, '.', s + len - at - 1)) == NULL
            || dot == at + 1 || s[len - 1] == '.'
            || !ngx_http_traces_all_chars(s, len,
                    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789.!#$%&'*+/=?^_`{|}~@-"))
        {
            return "must be an email address";
        }
        return NULL;

    case NGX_HTTP_TRACES_T_PHONE:
        if (len < 3 || !ngx_http_traces_all_chars(s, len, "+0123456789 ()./-"))
        {
            return "must be a phone number";
        }
        return NULL;

    case NGX_HTTP_TRACES_T_URL:
        if ((ngx_strncmp(s, "https://", 8) != 0
             && ngx_strncmp(s, "http://", 7) != 0)
            || memchr(s, ' ', len) || memchr(s, '\\', len))
        {
            return "must be an http or https address";
        }
        return NULL;

    case NGX_HTTP_TRACES_T_USER:
    case NGX_HTTP_TRACES_T_CURSOR:
        if (len == 0 || !ngx_http_traces_all_chars(s, len,
                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
                            "WXYZ0123456789._-:=|"))
        {
            return field->type == NGX_HTTP_TRACES_T_USER
                   ? "must be a user id or an EU Login user name"
                   : "is not a valid cursor";
        }
        return NULL;

    default:
        return NULL;
    }
}


static ngx_int_t
ngx_http_traces_all_chars(const char *s, size_t len, const char *allowed)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] == '\0' || strchr(allowed, s[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


/*
 * The query string becomes a JSON object of the same fields, typed as
 * the spec says, so the database sees the same shape as from a body.
 */

void
ngx_http_traces_validate_args(ngx_http_request_t *r,
    ngx_http_traces_field_t *fields, json_t *args, json_t *errors)
{
    u_char                   *p, *last, *eq, *amp;
    char                      known[41];
    json_t                   *value;
    ngx_str_t                 raw, name, text;
    ngx_http_traces_field_t  *f;

    p = r->args.data;
    last = p + r->args.len;

    for ( /* void */ ; p < last; p = amp + 1) {

        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        if (amp == p) {
            continue;
        }

        eq = ngx_strlchr(p, amp, '=');

        name.data = p;
        name.len = (eq ? eq : amp) - p;

        raw.data = eq ? eq + 1 : amp;
        raw.len = amp - raw.data;

        for (f = fields; f->name; f++) {
            if (name.len == ngx_strlen(f->name)
                && ngx_strncmp(name.data, f->name, name.len) == 0)
            {
                break;
            }
        }

        if (f->name == NULL) {
            /* named as sent when it is short, plain text */
            ngx_snprintf((u_char *) known, sizeof(known) - 1, "%*s%Z",
                         ngx_min(name.len, sizeof(known) - 2), name.data);
            known[sizeof(known) - 1] = '\0';

            ngx_http_traces_field_error(errors, "",
                         (name.len && name.len < sizeof(known) - 1
                          && ngx_http_traces_all_chars(known, name.len,
                                 "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."))
                         ? known : "query",
                         "unknown parameter");
            continue;
        }

        if (json_object_get(args, f->name)) {
            ngx_http_traces_field_error(errors, "", f->name, "given twice");
            continue;
        }

        if (raw.len == 0) {
            continue;
        }

        if (ngx_http_traces_unescape_arg(r->pool, &raw, &text) != NGX_OK) {
            ngx_http_traces_field_error(errors, "", f->name,
                                        "is not correctly encoded");
            continue;
        }

        value = ngx_http_traces_arg_value(&text, f);

        if (value == NULL) {
            ngx_http_traces_field_error(errors, "", f->name,
                                        "is not valid text");
            continue;
        }

        ngx_http_traces_validate_value(value, f, "", errors);
        json_object_set_new(args, f->name, value);
    }

    for (f = fields; f->name; f++) {
        if (f->required && json_object_get(args, f->name) == NULL) {
            ngx_http_traces_field_error(errors, "", f->name, "required");
        }
    }
}


static json_t *
ngx_http_traces_arg_value(ngx_str_t *text, ngx_http_traces_field_t *field)
{
    ngx_int_t  n;

    switch (field->type) {

    case NGX_HTTP_TRACES_T_ID:
    case NGX_HTTP_TRACES_T_INTEGER:
        if (text->len > 15) {
            break;
        }

        n = ngx_atoi(text->data, text->len);
        if (n == NGX_ERROR) {
            break;
        }

        return json_integer(n);

    case NGX_HTTP_TRACES_T_BOOLEAN:
        if (text->len == 4 && ngx_strncmp(text->data, "true", 4) == 0) {
            return json_true();
        }

        if (text->len == 5 && ngx_strncmp(text->data, "false", 5) == 0) {
            return json_false();
        }

        break;

    default:
        break;
    }

    /* a string, checked later; a number that is not one fails there too */

    return json_stringn((char *) text->data, text->len);
}


/* ISO country code and up to 15 characters; French EORI: SIREN or SIRET */

ngx_int_t
ngx_http_traces_valid_eori(const char *value)
{
    size_t  len;

    len = ngx_strlen(value);

    if (len < 3 || len > 17
        || !ngx_http_traces_all_chars(value, 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        || !ngx_http_traces_all_chars(value + 2, len - 2,
                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    {
        return 0;
    }

    if (ngx_strncmp(value, "FR", 2) == 0) {
        return (len == 11 || len == 16)
               && ngx_http_traces_all_chars(value + 2, len - 2, "0123456789");
    }

    return 1;
}
