/*
 * What EU Login's CAS side sends (module/ngx_http_traces_cas.c, included
 * whole; what it calls outside parsing is stubbed below, never reached):
 *
 * - first byte even: a single-logout POST body, anyone's to send: the
 *   logoutRequest form field, decoded, then the ticket in its
 *   <samlp:SessionIndex>.  Checks: a ticket found lies inside the decoded
 *   request and is "ST-" and letters, digits, ".", "_" or "-", at most
 *   256 bytes.
 * - first byte odd: the ticket validation answer (JSON), with an
 *   assurance level of 30 and two accepted strengths required.  Checks: an
 *   identity is only made of a non-empty "user" of 255 bytes at most,
 *   from an answer that meets the assurance level and names an accepted
 *   strength, and carries the ticket as "sid"; a refusal is a 401 or 403
 *   with a reason, and a logged code word is only capitals and "_".
 */

#include "../../module/ngx_http_traces_cas.c"

#include "fuzz_common.h"


#define FUZZ_UNREACHED(ret, name, args)                                       \
    ret name args { abort(); }

ngx_module_t  ngx_http_traces_module;

FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_redirect,
               (ngx_http_request_t *r, ngx_str_t *l))
FUZZ_UNREACHED(size_t, ngx_http_traces_param_len, (char *n, ngx_str_t *v))
FUZZ_UNREACHED(u_char *, ngx_http_traces_append_param,
               (u_char *p, char *n, ngx_str_t *v))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_arg,
               (ngx_http_request_t *r, char *n, ngx_str_t *v))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_fail_page,
               (ngx_http_request_t *r, ngx_uint_t s, const char *reason))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_subrequest,
               (ngx_http_request_t *r, ngx_str_t *u, ngx_str_t *a,
                ngx_uint_t p, ngx_http_traces_step_pt n))
FUZZ_UNREACHED(ngx_http_traces_login_t *, ngx_http_traces_login_start,
               (ngx_http_request_t *r, ngx_http_traces_flow_e f))
FUZZ_UNREACHED(ngx_int_t, ngx_http_read_client_request_body,
               (ngx_http_request_t *r, ngx_http_client_body_handler_pt h))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_read_body,
               (ngx_http_request_t *r, ngx_str_t *b))
FUZZ_UNREACHED(ngx_int_t, ngx_http_traces_send_problem,
               (ngx_http_request_t *r, ngx_uint_t s, const char *d))
FUZZ_UNREACHED(void, ngx_http_finalize_request,
               (ngx_http_request_t *r, ngx_int_t rc))
FUZZ_UNREACHED(void, ngx_http_traces_sessions_end,
               (ngx_http_request_t *r, json_t *a))
FUZZ_UNREACHED(void, ngx_http_traces_login_fail,
               (ngx_http_request_t *r, ngx_uint_t s, const char *reason))
FUZZ_UNREACHED(void, ngx_http_traces_session_open,
               (ngx_http_request_t *r, ngx_http_traces_ctx_t *c, json_t *i))


static void
fuzz_logout(ngx_pool_t *pool, const uint8_t *data, size_t size)
{
    size_t     i;
    ngx_str_t  form, request, ticket;

    form.data = fuzz_copy(pool, data, size);
    form.len = size;

    if (ngx_http_traces_form_arg(pool, &form, "logoutRequest", &request)
        != NGX_OK)
    {
        return;
    }

    if (ngx_http_traces_cas_session_index(&request, &ticket) != NGX_OK) {
        return;
    }

    FUZZ_ASSERT(ticket.data >= request.data
                && ticket.data + ticket.len <= request.data + request.len);
    FUZZ_ASSERT(ticket.len > 3 && ticket.len <= NGX_HTTP_TRACES_TICKET_MAX);
    FUZZ_ASSERT(ngx_strncmp(ticket.data, "ST-", 3) == 0);

    for (i = 3; i < ticket.len; i++) {
        FUZZ_ASSERT(ticket.data[i] != '\0'
                    && strchr("abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                              ticket.data[i]) != NULL);
    }
}


/* what the answer says, read apart from the module's own reading */

static int
fuzz_meets_assurance(json_t *success)
{
    size_t       i;
    json_t      *level, *strength;
    const char  *s;

    level = json_object_get(success, "assuranceLevel");

    if (!(json_is_integer(level) && json_integer_value(level) >= 30)
        && !(json_is_string(level)
             && strtoll(json_string_value(level), NULL, 10) >= 30
             && strspn(json_string_value(level), "0123456789")
                == json_string_length(level)))
    {
        return 0;
    }

    json_array_foreach(json_object_get(success, "strengths"), i, strength) {
        s = json_string_value(strength);

        if (s && (strcmp(s, "PASSWORD_MOBILE_APP") == 0
                  || strcmp(s, "PASSWORD_SMS") == 0))
        {
            return 1;
        }
    }

    return 0;
}


static void
fuzz_answer(ngx_pool_t *pool, const uint8_t *data, size_t size)
{
    u_char                        code[NGX_HTTP_TRACES_CAS_CODE_MAX];
    json_t                       *identity, *doc, *success, *user;
    ngx_str_t                     answer, ticket, *accepted;
    ngx_uint_t                    status;
    const char                   *reason;
    ngx_array_t                   strengths;
    ngx_http_traces_main_conf_t   tmcf;

    ngx_memzero(&tmcf, sizeof(tmcf));
    tmcf.assurance_level = 30;

    /* as traces_accept_strengths PASSWORD_MOBILE_APP PASSWORD_SMS */
    accepted = ngx_pnalloc(pool, 2 * sizeof(ngx_str_t));
    if (accepted == NULL) {
        abort();
    }

    ngx_str_set(&accepted[0], "PASSWORD_MOBILE_APP");
    ngx_str_set(&accepted[1], "PASSWORD_SMS");
    strengths.elts = accepted;
    strengths.nelts = 2;
    tmcf.strengths = &strengths;

    answer.data = fuzz_copy(pool, data, size);
    answer.len = size;
    ngx_str_set(&ticket, "ST-fuzz");

    identity = ngx_http_traces_cas_identity(&tmcf, &answer, &ticket, &status,
                                            &reason, code);

    doc = json_loadb((const char *) answer.data, answer.len,
                     JSON_REJECT_DUPLICATES, NULL);
    success = json_object_get(json_object_get(doc, "serviceResponse"),
                              "authenticationSuccess");
    user = json_object_get(success, "user");

    if (identity) {
        FUZZ_ASSERT(json_is_string(user) && json_string_length(user) > 0
                    && json_string_length(user) <= 255);
        FUZZ_ASSERT(json_equal(json_object_get(identity, "uid"), user));
        FUZZ_ASSERT(json_equal(json_object_get(identity, "sub"), user));
        FUZZ_ASSERT(strcmp(json_string_value(json_object_get(identity, "sid")),
                           "ST-fuzz") == 0);
        FUZZ_ASSERT(fuzz_meets_assurance(success));
        FUZZ_ASSERT(code[0] == '\0');
        json_decref(identity);

    } else {
        FUZZ_ASSERT(status == NGX_HTTP_UNAUTHORIZED
                    || status == NGX_HTTP_FORBIDDEN);
        FUZZ_ASSERT(reason != NULL);
        FUZZ_ASSERT(strcmp((char *) code, "no answer") == 0
                    || strspn((char *) code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_")
                       == strlen((char *) code));
        FUZZ_ASSERT(status == NGX_HTTP_FORBIDDEN
                    || !json_is_string(user) || json_string_length(user) == 0
                    || json_string_length(user) > 255);
    }

    json_decref(doc);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_pool_t  *pool;

    if (size < 1) {
        return 0;
    }

    pool = fuzz_pool();

    if (data[0] % 2 == 0) {
        fuzz_logout(pool, data + 1, size - 1);

    } else {
        fuzz_answer(pool, data + 1, size - 1);
    }

    ngx_destroy_pool(pool);

    return 0;
}
