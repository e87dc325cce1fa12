
/*
 * TRACES access gate: signing in with EU Login over CAS 3.
 *
 * /auth/login sends the browser to {cas}/login?service=<callback?state=>;
 * the callback validates the ticket through a subrequest to the internal
 * location that proxies to {cas}/<traces_cas_validation>, with
 * format=JSON and userDetails=true, and checks EU Login's assurance level
 * and authentication strengths before the session opens.  EU Login's
 * single logout posts a SAML LogoutRequest to the same callback.
 */


#include "ngx_http_traces_auth.h"
#include "ngx_http_traces_json.h"
#include "ngx_http_traces_redirect.h"


#define NGX_HTTP_TRACES_TICKET_MAX    256
#define NGX_HTTP_TRACES_CAS_CODE_MAX  40


static ngx_int_t ngx_http_traces_cas_service(ngx_http_request_t *r,
    ngx_str_t *state, ngx_str_t *service);
static ngx_int_t ngx_http_traces_cas_ticket(ngx_str_t *ticket);
static void ngx_http_traces_cas_answer(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx);
static json_t *ngx_http_traces_cas_identity(ngx_http_traces_main_conf_t *tmcf,
    ngx_str_t *answer, ngx_str_t *ticket, ngx_uint_t *status,
    const char **reason, u_char *code);
static const char *ngx_http_traces_cas_assurance(
    ngx_http_traces_main_conf_t *tmcf, json_t *success);
static void ngx_http_traces_cas_logout_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_traces_cas_session_index(ngx_str_t *request,
    ngx_str_t *ticket);


ngx_int_t
ngx_http_traces_cas_login(ngx_http_request_t *r,
    ngx_http_traces_login_t *login, ngx_str_t *hint)
{
    u_char                       *p;
    ngx_str_t                     service, location;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    if (ngx_http_traces_cas_service(r, &login->state, &service) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    location.len = tmcf->cas_url.len + sizeof("/login") - 1
                   + ngx_http_traces_param_len("service", &service)
                   + ngx_http_traces_param_len("acceptStrengths",
                                               &tmcf->strengths_text)
                   + ngx_http_traces_param_len("login_hint", hint);

    location.data = ngx_pnalloc(r->pool, location.len);
    if (location.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(location.data, tmcf->cas_url.data, tmcf->cas_url.len);
    p = ngx_cpymem(p, "/login", sizeof("/login") - 1);
    location.len = p - location.data;

    p = ngx_http_traces_append_param(p, "service", &service);
    p = ngx_http_traces_append_param(p, "acceptStrengths",
                                     &tmcf->strengths_text);
    p = ngx_http_traces_append_param(p, "login_hint", hint);

    /* the first parameter joins with "?" */
    location.data[location.len] = '?';
    location.len = p - location.data;

    return ngx_http_traces_redirect(r, &location);
}


/* the callback, marked with the state of this sign-in */

static ngx_int_t
ngx_http_traces_cas_service(ngx_http_request_t *r, ngx_str_t *state,
    ngx_str_t *service)
{
    u_char                       *p;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    service->len = tmcf->redirect_uri.len + sizeof("?state=") - 1
                   + state->len;
    service->data = ngx_pnalloc(r->pool, service->len);
    if (service->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(service->data, tmcf->redirect_uri.data,
                   tmcf->redirect_uri.len);
    *p++ = ngx_strlchr(tmcf->redirect_uri.data,
                       tmcf->redirect_uri.data + tmcf->redirect_uri.len, '?')
           ? '&' : '?';
    p = ngx_cpymem(p, "state=", sizeof("state=") - 1);
    ngx_memcpy(p, state->data, state->len);

    return NGX_OK;
}


/* a CAS ticket: "ST-" and letters, digits, ".", "_" or "-" */

static ngx_int_t
ngx_http_traces_cas_ticket(ngx_str_t *ticket)
{
    size_t  i;

    if (ticket->len < 4 || ticket->len > NGX_HTTP_TRACES_TICKET_MAX
        || ngx_strncmp(ticket->data, "ST-", 3) != 0)
    {
        return NGX_DECLINED;
    }

    for (i = 3; i < ticket->len; i++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789._-", ticket->data[i]) == NULL
            || ticket->data[i] == '\0')
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_traces_cas_callback(ngx_http_request_t *r,
    ngx_http_traces_ctx_t *ctx)
{
    u_char                       *p;
    ngx_str_t                     service, uri, args, format;
    ngx_http_traces_login_t      *login;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    login = ctx->data;

    if (ngx_http_traces_arg(r, "ticket", &login->token) != NGX_OK
        || ngx_http_traces_cas_ticket(&login->token) != NGX_OK)
    {
        return ngx_http_traces_fail_page(r, NGX_HTTP_UNAUTHORIZED,
                                         "EU Login did not sign you in.");
    }

    if (ngx_http_traces_cas_service(r, &login->state, &service) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    uri.len = tmcf->cas_location.len + tmcf->cas_validation.len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(uri.data, tmcf->cas_location.data, tmcf->cas_location.len);
    ngx_memcpy(p, tmcf->cas_validation.data, tmcf->cas_validation.len);

    ngx_str_set(&format, "JSON");

    args.len = ngx_http_traces_param_len("service", &service)
               + ngx_http_traces_param_len("ticket", &login->token)
               + ngx_http_traces_param_len("format", &format)
               + sizeof("&userDetails=true") - 1;
    args.data = ngx_pnalloc(r->pool, args.len);
    if (args.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_traces_append_param(args.data, "service", &service);
    p = ngx_http_traces_append_param(p, "ticket", &login->token);
    p = ngx_http_traces_append_param(p, "format", &format);
    p = ngx_cpymem(p, "&userDetails=true", sizeof("&userDetails=true") - 1);

    /* arguments start without "&" */
    args.data++;
    args.len = p - args.data;

    if (ngx_http_traces_subrequest(r, &uri, &args, 0,
                                   ngx_http_traces_cas_answer)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_traces_cas_answer(ngx_http_request_t *r, ngx_http_traces_ctx_t *ctx)
{
    u_char                        code[NGX_HTTP_TRACES_CAS_CODE_MAX];
    json_t                       *identity;
    ngx_uint_t                    status;
    const char                   *reason;
    ngx_http_traces_login_t      *login;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);
    login = ctx->data;

    if (ctx->sr_status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "traces: EU Login ticket validation answered %ui",
                      ctx->sr_status);
        ngx_http_traces_login_fail(r, NGX_HTTP_BAD_GATEWAY,
                                   "EU Login did not confirm the sign-in.");
        return;
    }

    identity = ngx_http_traces_cas_identity(tmcf, &ctx->sr_body,
                                            &login->token, &status, &reason,
                                            code);

    if (identity == NULL) {
        if (code[0]) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "traces: CAS ticket refused: %s", code);
        }

        ngx_http_traces_login_fail(r, status, reason);
        return;
    }

    ngx_http_traces_session_open(r, ctx, identity);
    json_decref(identity);
}


/*
 * EU Login's answer to the validation of ticket:
 * {"serviceResponse": {"authenticationSuccess": {"user", "email",
 * "firstName", "lastName", "assuranceLevel", "strengths", ...}}}
 * or {"serviceResponse": {"authenticationFailure": {"code", ...}}}.
 * The identity session_create takes, or NULL with the status and reason of
 * the refusal, and in code, when EU Login did not sign the user in, its
 * code word ("no answer" if it gave none) and never the text around it.
 */

static json_t *
ngx_http_traces_cas_identity(ngx_http_traces_main_conf_t *tmcf,
    ngx_str_t *answer, ngx_str_t *ticket, ngx_uint_t *status,
    const char **reason, u_char *code)
{
    json_t      *doc, *response, *success, *identity, *user;
    const char  *failure;

    code[0] = '\0';

    doc = json_loadb((char *) answer->data, answer->len,
                     JSON_REJECT_DUPLICATES, NULL);
    response = json_object_get(doc, "serviceResponse");
    success = json_object_get(response, "authenticationSuccess");
    user = json_object_get(success, "user");

    if (!json_is_string(user) || json_string_length(user) == 0
        || json_string_length(user) > 255)
    {
        failure = json_string_value(json_object_get(
                      json_object_get(response, "authenticationFailure"),
                      "code"));

        if (failure == NULL
            || ngx_strlen(failure) >= NGX_HTTP_TRACES_CAS_CODE_MAX
            || strspn(failure, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_")
               != ngx_strlen(failure))
        {
            failure = "no answer";
        }

        ngx_cpystrn(code, (u_char *) failure, NGX_HTTP_TRACES_CAS_CODE_MAX);

        json_decref(doc);
        *status = NGX_HTTP_UNAUTHORIZED;
        *reason = "EU Login did not confirm the sign-in.";
        return NULL;
    }

    *reason = ngx_http_traces_cas_assurance(tmcf, success);

    if (*reason) {
        json_decref(doc);
        *status = NGX_HTTP_FORBIDDEN;
        return NULL;
    }

    identity = json_pack("{s:O, s:O, s:O?, s:O?, s:O?, s:s%}",
                         "sub", user,
                         "uid", user,
                         "email", json_object_get(success, "email"),
                         "given_name", json_object_get(success, "firstName"),
                         "family_name", json_object_get(success, "lastName"),
                         "sid", ticket->data, ticket->len);
    json_decref(doc);

    if (identity == NULL) {
        *status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        *reason = NULL;
    }

    return identity;
}


/* NULL when EU Login's answer meets traces_assurance_level and strengths */

static const char *
ngx_http_traces_cas_assurance(ngx_http_traces_main_conf_t *tmcf,
    json_t *success)
{
    size_t       i, k;
    json_t      *level, *strength;
    ngx_str_t   *accepted;
    ngx_int_t    n;
    const char  *s;

    if (tmcf->assurance_level) {
        level = json_object_get(success, "assuranceLevel");

        n = json_is_integer(level) ? (ngx_int_t) json_integer_value(level)
            : json_is_string(level)
              ? ngx_atoi((u_char *) json_string_value(level),
                         json_string_length(level))
              : NGX_ERROR;

        if (n < (ngx_int_t) tmcf->assurance_level) {
            return "This service needs a stronger EU Login sign-in "
                   "(assurance level).";
        }
    }

    if (tmcf->strengths == NULL) {
        return NULL;
    }

    accepted = tmcf->strengths->elts;

    json_array_foreach(json_object_get(success, "strengths"), i, strength) {
        s = json_string_value(strength);

        for (k = 0; s && k < tmcf->strengths->nelts; k++) {
            if (ngx_strlen(s) == accepted[k].len
                && ngx_strncmp(s, accepted[k].data, accepted[k].len) == 0)
            {
                return NULL;
            }
        }
    }

    return "This service needs EU Login's two-factor sign-in "
           "(mobile app, token or SMS).";
}


/* POST of a SAML LogoutRequest by EU Login: single logout */

ngx_int_t
ngx_http_traces_cas_single_logout(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_http_traces_login_start(r, NGX_HTTP_TRACES_FLOW_BACKCHANNEL)
        == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_read_client_request_body(r,
                                          ngx_http_traces_cas_logout_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_traces_cas_logout_body(ngx_http_request_t *r)
{
    json_t     *args;
    ngx_str_t   form, request, ticket;

    if (ngx_http_traces_read_body(r, &form) != NGX_OK
        || ngx_http_traces_form_arg(r->pool, &form, "logoutRequest", &request)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, ngx_http_traces_send_problem(r,
                                   NGX_HTTP_BAD_REQUEST,
                                   "A logoutRequest parameter is required."));
        return;
    }

    if (ngx_http_traces_cas_session_index(&request, &ticket) != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_traces_send_problem(r,
                                   NGX_HTTP_BAD_REQUEST,
                                   "The logout request names no session."));
        return;
    }

    /* a ticket is used once: as the jti of this logout */

    args = json_pack("{s:s%, s:s%}", "sid", ticket.data, ticket.len,
                     "jti", ticket.data, ticket.len);
    if (args == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->main->count++;
    ngx_http_traces_sessions_end(r, args);
    json_decref(args);
    ngx_http_finalize_request(r, NGX_DONE);
}


/* the ticket of the session a LogoutRequest ends: <samlp:SessionIndex> */

static ngx_int_t
ngx_http_traces_cas_session_index(ngx_str_t *request, ngx_str_t *ticket)
{
    u_char  *start, *end, *last;

    last = request->data + request->len;

    start = ngx_strlcasestrn(request->data, last,
                             (u_char *) "<samlp:SessionIndex>",
                             sizeof("<samlp:SessionIndex>") - 2);
    if (start == NULL) {
        return NGX_DECLINED;
    }

    start += sizeof("<samlp:SessionIndex>") - 1;

    end = ngx_strlcasestrn(start, last, (u_char *) "</samlp:SessionIndex>",
                           sizeof("</samlp:SessionIndex>") - 2);
    if (end == NULL) {
        return NGX_DECLINED;
    }

    ticket->data = start;
    ticket->len = end - start;

    return ngx_http_traces_cas_ticket(ticket);
}


ngx_int_t
ngx_http_traces_cas_logout_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char                       *p;
    ngx_http_traces_main_conf_t  *tmcf;

    tmcf = ngx_http_get_module_main_conf(r, ngx_http_traces_module);

    url->len = tmcf->cas_url.len + sizeof("/logout") - 1
               + ngx_http_traces_param_len("service", &tmcf->post_logout_uri);
    url->data = ngx_pnalloc(r->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, tmcf->cas_url.data, tmcf->cas_url.len);
    p = ngx_cpymem(p, "/logout", sizeof("/logout") - 1);
    url->len = p - url->data;
    p = ngx_http_traces_append_param(p, "service", &tmcf->post_logout_uri);

    if (p != url->data + url->len) {
        url->data[url->len] = '?';
    }

    url->len = p - url->data;

    return NGX_OK;
}
