-- 009: the access side of the API (DESIGN.md §4, guide sections 2 and 3):
-- the caller's profile, reference lists, operator search / creation,
-- requests for roles on operators and control-body entries, their decision
-- by the competent authority or an operator administrator, the
-- "responsible for the load" role assigned by the Commission, the audit log.
--
-- Every api.<name>(p_user bigint, p_args jsonb) RETURNS TABLE(status, body)
-- below returns exactly one row, starts with PERFORM api._begin(p_user),
-- is SECURITY INVOKER (it runs as traces_app) and never answers 500 for an
-- expected situation: constraint violations and the role transition
-- trigger's SQLSTATE TR409 are caught and mapped to 409 / 422. Invariants
-- stay enforced by the constraints of 003/004 (unique partial indexes,
-- roles_guard); the checks made here first are for clear answers.
--
-- Problem documents: {"type":"urn:traces:problem:<slug>","title":<HTTP
-- reason>,"status":n,"detail":<sentence>} plus "errors":[{field,message}]
-- on 422.
--
-- Deciding authority (who may decide a role request):
--   * operator role        the competent authority (competent_authorities.kind
--                          = 'competent_authority', valid authority role) of
--                          the operator's country; or an administrator of
--                          the operator (valid role with is_admin) once the
--                          operator itself is 'valid'.
--   * control_body role    the competent authority of
--                          coalesce(control_bodies.supervising_country,
--                                   control_bodies.country_code).
--                          supervising_country is set for third-country
--                          entries supervised from a member state, e.g. the
--                          Control Union Certifications entries AE-BIO-149,
--                          AF-BIO-149 and AL-BIO-149 are decided by INAO
--                          (FR): see the UPDATE at the end of this file
--                          (idempotent; sql/demo.sql may set it as well).
--   * point_of_entry and authority roles: the Commission (it alone assigns
--                          the "responsible for the load" role, so it alone
--                          suspends / deletes it).
--   Nobody else; a role that does not exist answers the same 403 as one the
--   caller may not decide.
--
-- Privileges: the functions need nothing beyond what 001-008 granted to
-- traces_app (SELECT on the reference tables, SELECT/INSERT/UPDATE on users,
-- operators, operator_identifiers, operator_activities, roles, SELECT/INSERT
-- on audit_log, the sequences). The new column supervising_country is
-- covered by the table-level SELECT on traces.control_bodies.
SET client_encoding = 'UTF8';
SET ROLE traces_owner;

----------------------------------------------------------------------------
-- Schema: the deciding authority of a control-body entry
----------------------------------------------------------------------------
ALTER TABLE traces.control_bodies
  ADD COLUMN supervising_country text REFERENCES traces.countries;
COMMENT ON COLUMN traces.control_bodies.supervising_country IS
  'country whose competent authority decides role requests on this entry; NULL = the entry''s own country_code (e.g. FR for the third-country Control Union entries AE-BIO-149, AF-BIO-149, AL-BIO-149)';
CREATE INDEX control_bodies_supervising ON traces.control_bodies (supervising_country)
  WHERE supervising_country IS NOT NULL;
-- requests_list pages by (requested_at, id) within one status, whatever the
-- status (roles_requested of 004 serves status = requested only)
CREATE INDEX roles_status_requested_at ON traces.roles (status, requested_at, id);

----------------------------------------------------------------------------
-- Helpers (internal: not called by the module)
----------------------------------------------------------------------------

-- problem document of this API: type urn:traces:problem:<slug>, title = the
-- HTTP reason phrase (api._problem of 008)
CREATE FUNCTION api._err(p_status integer, p_slug text, p_detail text, p_errors jsonb DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT api._problem(p_status, p_detail, p_errors, 'urn:traces:problem:' || p_slug, NULL)
$$;

-- 422 with one field error
CREATE FUNCTION api._err422(p_field text, p_message text, p_detail text DEFAULT 'The request has invalid fields.')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT api._err(422, 'invalid-input', p_detail, jsonb_build_array(api._field_error(p_field, p_message)))
$$;

-- timestamps in JSON: UTC, ISO 8601, second precision
CREATE FUNCTION api._ts(p_at timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- a JSON boolean, else NULL
CREATE FUNCTION api._arg_bool(p_args jsonb, p_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(p_args -> p_key) = 'boolean' THEN (p_args ->> p_key)::boolean END
$$;

-- a YYYY-MM-DD string as a date, NULL when absent or not a date
CREATE FUNCTION api._try_date(p_text text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF p_text IS NULL OR p_text !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN
    RETURN NULL;
  END IF;
  RETURN p_text::date;      -- ISO input: strict (2024-02-30 is refused)
EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
  RETURN NULL;
END
$$;

-- paging: limit 1..100, default 50
CREATE FUNCTION api._limit(p_args jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT greatest(1, least(100, coalesce(api._arg_int(p_args, 'limit'), 50)))::integer
$$;

-- keyset cursors, opaque to clients, chars [A-Za-z0-9.] only:
--   (timestamp, id) lists: "<p>1.<epoch microseconds>.<id>" (p = r requests, a audit)
--   name-ordered lists:    "<p>1.<id of the last row>" (p = o operators, b control bodies)
CREATE FUNCTION api._cursor_make(p_prefix text, p_at timestamptz, p_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT p_prefix || '1.' || (extract(epoch FROM p_at) * 1000000)::bigint::text || '.' || p_id::text
$$;

CREATE FUNCTION api._cursor_at(p_prefix text, p_cursor text) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT timestamptz 'epoch' + m[1]::bigint * interval '1 microsecond'
    FROM regexp_match(p_cursor, '^' || p_prefix || '1\.(-?[0-9]{1,17})\.([0-9]{1,18})$') m
$$;

CREATE FUNCTION api._cursor_id(p_prefix text, p_cursor text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(m[2], m[3])::bigint
    FROM regexp_match(p_cursor, '^' || p_prefix || '1\.(?:(-?[0-9]{1,17})\.([0-9]{1,18})|([0-9]{1,18}))$') m
$$;

-- the caller exists (the gate gives a user id; 0 = no session)
CREATE FUNCTION api._caller_ok(p_user bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT p_user IS NOT NULL AND p_user > 0 AND EXISTS (SELECT 1 FROM traces.users u WHERE u.id = p_user)
$$;

CREATE FUNCTION api._err401() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT api._err(401, 'unauthenticated', 'Sign in with EU Login first.')
$$;

-- countries whose competent authority the user holds a valid role of
CREATE FUNCTION api._authority_countries(p_user bigint) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT a.country_code), '{}')
    FROM traces.roles r
    JOIN traces.competent_authorities a ON a.id = r.authority_id
   WHERE r.user_id = p_user AND r.status = 'valid' AND r.kind = 'authority'
     AND a.kind = 'competent_authority'
$$;

-- operators the user administers (valid role with admin)
CREATE FUNCTION api._admin_operators(p_user bigint) RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(r.operator_id), '{}')
    FROM traces.roles r
   WHERE r.user_id = p_user AND r.status = 'valid' AND r.kind = 'operator' AND r.is_admin
$$;

CREATE FUNCTION api._is_commission(p_user bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM traces.roles r
                  WHERE r.user_id = p_user AND r.status = 'valid' AND r.kind = 'commission')
$$;

-- the country whose competent authority decides the role (see the header)
CREATE FUNCTION api._role_deciding_country(p_role traces.roles) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE p_role.kind
           WHEN 'operator' THEN (SELECT o.country_code FROM traces.operators o WHERE o.id = p_role.operator_id)
           WHEN 'control_body' THEN (SELECT coalesce(c.supervising_country, c.country_code)
                                       FROM traces.control_bodies c WHERE c.id = p_role.control_body_id)
           WHEN 'authority' THEN (SELECT a.country_code FROM traces.competent_authorities a WHERE a.id = p_role.authority_id)
           WHEN 'point_of_entry' THEN (SELECT p.country_code FROM traces.points_of_entry p WHERE p.id = p_role.point_of_entry_id)
         END
$$;

-- the organisation's own country (audit_log.country_code)
CREATE FUNCTION api._role_country(p_role traces.roles) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE p_role.kind
           WHEN 'operator' THEN (SELECT o.country_code FROM traces.operators o WHERE o.id = p_role.operator_id)
           WHEN 'control_body' THEN (SELECT c.country_code FROM traces.control_bodies c WHERE c.id = p_role.control_body_id)
           WHEN 'authority' THEN (SELECT a.country_code FROM traces.competent_authorities a WHERE a.id = p_role.authority_id)
           WHEN 'point_of_entry' THEN (SELECT p.country_code FROM traces.points_of_entry p WHERE p.id = p_role.point_of_entry_id)
         END
$$;

-- In which capacity p_caller may decide p_role: 'authority',
-- 'administrator', 'commission', or NULL (may not). The role's own status is
-- not looked at (a deleted role is "decidable" by its authority, who then
-- gets 409 rather than 403).
CREATE FUNCTION api._decider(p_caller bigint, p_role traces.roles) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN p_role.kind IN ('operator', 'control_body')
                AND api._role_deciding_country(p_role) = ANY (api._authority_countries(p_caller))
             THEN 'authority'
           WHEN p_role.kind = 'operator'
                AND EXISTS (SELECT 1 FROM traces.operators o WHERE o.id = p_role.operator_id AND o.status = 'valid')
                AND EXISTS (SELECT 1 FROM traces.roles a
                             WHERE a.user_id = p_caller AND a.kind = 'operator' AND a.operator_id = p_role.operator_id
                               AND a.status = 'valid' AND a.is_admin)
             THEN 'administrator'
           WHEN p_role.kind IN ('point_of_entry', 'authority') AND api._is_commission(p_caller)
             THEN 'commission'
         END
$$;

-- May a caller with these capacities (authority countries, administered
-- operators, Commission) decide a role with these properties? The same rule
-- as api._decider, on values already at hand (lists), and false for a
-- deleted role. Inlined by the planner (a plain expression).
CREATE FUNCTION api._decide_cap(p_kind text, p_status text, p_deciding_country text, p_operator_status text,
                                p_operator_id bigint, p_countries text[], p_admin_ops bigint[], p_commission boolean)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(p_status <> 'deleted'
                  AND ((p_kind IN ('operator', 'control_body') AND p_deciding_country = ANY (p_countries))
                       OR (p_kind = 'operator' AND p_operator_status = 'valid' AND p_operator_id = ANY (p_admin_ops))
                       OR (p_commission AND p_kind IN ('point_of_entry', 'authority'))), false)
$$;

-- Every role with its ROLE document and what the lists filter on. A set
-- returning SQL function of one SELECT: the planner inlines it, so
-- "FROM api._role_set() rs WHERE rs.id = ANY (...)" reads only those roles.
-- ROLE: {"id","kind","status","admin","first_request","activity",
--   "organisation":{"id","name","country" + "status" (operator) | "code"
--   (control body, point of entry, authority)},"message","contact_email",
--   "contact_phone","requested_at","decided_at","decided_by" (uid)}
-- activity: the operator's activity code (organic_importer before
-- organic_operator when it has both), null for other kinds.
CREATE FUNCTION api._role_set()
RETURNS TABLE (id bigint, user_id bigint, kind text, status text, operator_id bigint, control_body_id bigint,
               requested_at timestamptz, deciding_country text, operator_status text, role jsonb)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT r.id, r.user_id, r.kind, r.status, r.operator_id, r.control_body_id, r.requested_at,
         CASE r.kind
           WHEN 'operator' THEN o.country_code
           WHEN 'control_body' THEN coalesce(c.supervising_country, c.country_code)
           WHEN 'authority' THEN a.country_code
           WHEN 'point_of_entry' THEN p.country_code
         END,
         o.status,
         jsonb_build_object(
           'id', r.id,
           'kind', r.kind,
           'status', r.status,
           'admin', r.is_admin,
           'first_request', r.first_request,
           'activity', act.activity,
           'organisation', CASE r.kind
                             WHEN 'operator' THEN jsonb_build_object('id', o.id, 'name', o.name,
                                                                     'country', o.country_code, 'status', o.status)
                             WHEN 'control_body' THEN jsonb_build_object('id', c.id, 'name', c.name,
                                                                         'country', c.country_code, 'code', c.code)
                             WHEN 'authority' THEN jsonb_build_object('id', a.id, 'name', a.name, 'country', a.country_code,
                                                                      'code', a.code, 'short_name', a.short_name)
                             WHEN 'point_of_entry' THEN jsonb_build_object('id', p.id, 'name', p.name,
                                                                           'country', p.country_code, 'code', p.code)
                             WHEN 'commission' THEN jsonb_build_object('id', m.id, 'name', m.name, 'country', NULL)
                           END,
           'message', r.message,
           'contact_email', r.contact_email,
           'contact_phone', r.contact_phone,
           'requested_at', api._ts(r.requested_at),
           'decided_at', api._ts(r.decided_at),
           'decided_by', coalesce(du.uid, du.sub))
    FROM traces.roles r
    LEFT JOIN traces.operators o ON o.id = r.operator_id
    LEFT JOIN traces.control_bodies c ON c.id = r.control_body_id
    LEFT JOIN traces.competent_authorities a ON a.id = r.authority_id
    LEFT JOIN traces.points_of_entry p ON p.id = r.point_of_entry_id
    LEFT JOIN traces.commission m ON m.id = r.commission_id
    LEFT JOIN traces.users du ON du.id = r.decided_by
    LEFT JOIN LATERAL (SELECT oa.activity FROM traces.operator_activities oa
                        WHERE oa.operator_id = r.operator_id
                        ORDER BY oa.activity, oa.id LIMIT 1) act ON true
$$;

-- ROLE of one role (as the transaction sees it now)
CREATE FUNCTION api._role_json(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT rs.role FROM api._role_set() rs WHERE rs.id = p_id
$$;

-- the user's general status (guide 3.d (2)): valid if any valid role, else
-- requested, else suspended, else deleted, else none
CREATE FUNCTION api._general_status(p_user bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN bool_or(r.status = 'valid') THEN 'valid'
           WHEN bool_or(r.status = 'requested') THEN 'requested'
           WHEN bool_or(r.status = 'suspended') THEN 'suspended'
           WHEN bool_or(r.status = 'deleted') THEN 'deleted'
           ELSE 'none'
         END
    FROM traces.roles r WHERE r.user_id = p_user
$$;

-- USER: {"id","uid","domain","given_name","family_name","email","phone",
--   "fax","application_access": "granted" iff a valid role, else "none"}
CREATE FUNCTION api._user_json(p_user bigint) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object(
    'id', u.id,
    'uid', coalesce(u.uid, u.sub),
    'domain', u.domain,
    'given_name', u.given_name,
    'family_name', u.family_name,
    'email', u.email,
    'phone', u.phone,
    'fax', u.fax,
    'application_access', CASE WHEN EXISTS (SELECT 1 FROM traces.roles r
                                             WHERE r.user_id = u.id AND r.status = 'valid')
                               THEN 'granted' ELSE 'none' END)
    FROM traces.users u WHERE u.id = p_user
$$;

-- {"deleted":n,"requested":n,"suspended":n,"valid":n} of a list of ROLEs
CREATE FUNCTION api._counts(p_roles jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object(
    'deleted',   count(*) FILTER (WHERE x ->> 'status' = 'deleted'),
    'requested', count(*) FILTER (WHERE x ->> 'status' = 'requested'),
    'suspended', count(*) FILTER (WHERE x ->> 'status' = 'suspended'),
    'valid',     count(*) FILTER (WHERE x ->> 'status' = 'valid'))
    FROM jsonb_array_elements(coalesce(p_roles, '[]'::jsonb)) x
$$;

-- body of api.me / api.me_update
CREATE FUNCTION api._me_body(p_user bigint) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH roles AS (
    SELECT coalesce(jsonb_agg(rs.role ORDER BY rs.requested_at, rs.id), '[]'::jsonb) AS list
      FROM api._role_set() rs WHERE rs.user_id = p_user)
  SELECT jsonb_build_object('user', api._user_json(p_user), 'roles', roles.list, 'counts', api._counts(roles.list))
    FROM roles
$$;

-- operator details (operator_get, operator_create)
-- activity status: "new" while the operator is new, "expired" after
-- valid_until, else "valid".
CREATE FUNCTION api._operator_json(p_id bigint) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object(
    'id', o.id,
    'name', o.name,
    'country', o.country_code,
    'region', o.region,
    'postcode', o.postcode,
    'city', o.city,
    'address', o.address,
    'latitude', o.latitude,
    'longitude', o.longitude,
    'phone', o.phone,
    'fax', o.fax,
    'email', o.email,
    'web_url', o.web_url,
    'status', o.status,
    'created_at', api._ts(o.created_at),
    'validated_at', api._ts(o.validated_at),
    'identifiers', coalesce((SELECT jsonb_agg(jsonb_build_object('type', i.type, 'value', i.value)
                                              ORDER BY array_position(ARRAY['central_business_register', 'cin', 'duns',
                                                                            'eori', 'imo_management', 'imo_owner'], i.type))
                               FROM traces.operator_identifiers i WHERE i.operator_id = o.id), '[]'::jsonb),
    'activities', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                     'activity', a.activity,
                                     'control_body', jsonb_build_object('id', c.id, 'code', c.code, 'name', c.name),
                                     'identifier', a.identifier,
                                     'valid_from', a.valid_from,
                                     'valid_until', a.valid_until,
                                     'publication_date', a.publication_date,
                                     'application_date', a.application_date,
                                     'remarks', a.remarks,
                                     'status', CASE WHEN o.status = 'new' THEN 'new'
                                                    WHEN a.valid_until < current_date THEN 'expired'
                                                    ELSE 'valid' END)
                                   ORDER BY a.activity, a.id)
                              FROM traces.operator_activities a
                              JOIN traces.control_bodies c ON c.id = a.control_body_id
                             WHERE a.operator_id = o.id), '[]'::jsonb))
    FROM traces.operators o WHERE o.id = p_id
$$;

-- one audit row about a role (organisation columns and country from the role)
CREATE FUNCTION api._audit_role(p_actor bigint, p_action text, p_role traces.roles,
                                p_before text, p_after text, p_detail jsonb DEFAULT '{}'::jsonb)
RETURNS void
LANGUAGE sql VOLATILE AS $$
  INSERT INTO traces.audit_log (actor_user_id, action, role_id, operator_id, control_body_id, authority_id,
                                point_of_entry_id, country_code, target_user_id, before_status, after_status, detail)
  VALUES (p_actor, p_action, p_role.id, p_role.operator_id, p_role.control_body_id, p_role.authority_id,
          p_role.point_of_entry_id, api._role_country(p_role), p_role.user_id, p_before, p_after,
          jsonb_build_object('kind', p_role.kind) || coalesce(p_detail, '{}'::jsonb))
$$;

-- the field a constraint violation is about (operator_create and friends)
CREATE FUNCTION api._constraint_field(p_constraint text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN p_constraint IN ('operator_importer_requires_eori', 'operator_identifiers_eori_format',
                                 'operator_identifiers_operator_id_type_key') THEN 'identifiers'
           WHEN p_constraint LIKE 'operator_identifiers%' THEN 'identifiers'
           WHEN p_constraint = 'operator_activities_validity' THEN 'activity.valid_until'
           WHEN p_constraint = 'operator_activities_control_body_id_fkey' THEN 'activity.control_body_id'
           WHEN p_constraint = 'operator_activities_identifier_check' THEN 'activity.identifier'
           WHEN p_constraint = 'operator_activities_remarks_check' THEN 'activity.remarks'
           WHEN p_constraint LIKE 'operator_activities%' THEN 'activity'
           WHEN p_constraint = 'operators_country_code_fkey' THEN 'country'
           WHEN p_constraint ~ '^operators_[a-z_]+_check$'
             THEN substring(p_constraint FROM '^operators_([a-z_]+)_check$')
           WHEN p_constraint = 'roles_message_check' THEN 'message'
           WHEN p_constraint = 'roles_contact_email_check' THEN 'email'
           WHEN p_constraint = 'roles_contact_phone_check' THEN 'phone'
           WHEN p_constraint = 'users_phone_check' THEN 'phone'
           WHEN p_constraint = 'users_fax_check' THEN 'fax'
           ELSE coalesce(p_constraint, '')
         END
$$;

----------------------------------------------------------------------------
-- api.me(user, {}) -> 200 {"user":USER,"roles":[ROLE...],"counts":{...}}
----------------------------------------------------------------------------
CREATE FUNCTION api.me(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  RETURN QUERY SELECT 200, api._me_body(p_user)::text;
END
$$;

----------------------------------------------------------------------------
-- api.me_update(user, {phone?, fax?}) -> 200 (body of api.me)
-- A field absent is unchanged; JSON null clears it.
----------------------------------------------------------------------------
CREATE FUNCTION api.me_update(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_errors jsonb := '[]'::jsonb;
  v_phone  text := nullif(btrim(api._arg_text(p_args, 'phone')), '');
  v_fax    text := nullif(btrim(api._arg_text(p_args, 'fax')), '');
  v_con    text;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  IF api._arg_given(p_args, 'phone') AND jsonb_typeof(p_args -> 'phone') <> 'string' THEN
    v_errors := v_errors || api._field_error('phone', 'must be a string');
  ELSIF length(v_phone) > 50 THEN
    v_errors := v_errors || api._field_error('phone', 'is too long');
  END IF;
  IF api._arg_given(p_args, 'fax') AND jsonb_typeof(p_args -> 'fax') <> 'string' THEN
    v_errors := v_errors || api._field_error('fax', 'must be a string');
  ELSIF length(v_fax) > 50 THEN
    v_errors := v_errors || api._field_error('fax', 'is too long');
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._err(422, 'invalid-input', 'The request has invalid fields.', v_errors);
    RETURN;
  END IF;

  IF p_args ? 'phone' OR p_args ? 'fax' THEN
    BEGIN
      UPDATE traces.users u
         SET phone = CASE WHEN p_args ? 'phone' THEN v_phone ELSE u.phone END,
             fax = CASE WHEN p_args ? 'fax' THEN v_fax ELSE u.fax END,
             updated_at = now()
       WHERE u.id = p_user
         AND (u.phone, u.fax) IS DISTINCT FROM (CASE WHEN p_args ? 'phone' THEN v_phone ELSE u.phone END,
                                                CASE WHEN p_args ? 'fax' THEN v_fax ELSE u.fax END);
    EXCEPTION WHEN check_violation THEN
      GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
      RETURN QUERY SELECT 422, api._err422(api._constraint_field(v_con), 'is not acceptable');
      RETURN;
    END;
  END IF;
  RETURN QUERY SELECT 200, api._me_body(p_user)::text;
END
$$;

----------------------------------------------------------------------------
-- Reference lists
----------------------------------------------------------------------------

-- api.countries -> 200 {"items":[{"code","name_en","name_fr","eu_member"}]} by code
CREATE FUNCTION api.countries(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  PERFORM api._begin(p_user);
  RETURN QUERY
    SELECT 200, jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
                  'code', c.code, 'name_en', c.name_en, 'name_fr', c.name_fr, 'eu_member', c.eu_member)
                  ORDER BY c.code), '[]'::jsonb))::text
      FROM traces.countries c;
END
$$;

-- api.points_of_entry {country?} -> 200 {"items":[{"id","code","name",
-- "country","kind"}]} (active ones, by country then name)
CREATE FUNCTION api.points_of_entry(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_country text := api._arg_text(p_args, 'country');
BEGIN
  PERFORM api._begin(p_user);
  RETURN QUERY
    SELECT 200, jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object(
                  'id', p.id, 'code', p.code, 'name', p.name, 'country', p.country_code, 'kind', p.kind)
                  ORDER BY p.country_code, p.name, p.id), '[]'::jsonb))::text
      FROM traces.points_of_entry p
     WHERE p.active AND (v_country IS NULL OR p.country_code = v_country);
END
$$;

-- api.activity_types -> 200 {"items":[{"code","name_en","name_fr",
-- "description_en","description_fr"}]} (guide 2.1, Nota Bene)
CREATE FUNCTION api.activity_types(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  PERFORM api._begin(p_user);
  RETURN QUERY SELECT 200, jsonb_build_object('items', jsonb_build_array(
    jsonb_build_object(
      'code', 'organic_importer',
      'name_en', 'Organic Importer',
      'name_fr', 'Importateur biologique',
      'description_en', 'An operator, certified as such by an approved control body, who presents a consignment of organic products from a third country (outside the European Union) for release for free circulation (customs clearance) in the European Union, either in person or through a representative.',
      'description_fr', 'Un opérateur, certifié en tant que tel par un organisme certificateur agréé, qui présente un lot de produits biologiques en provenance de pays tiers (hors Union européenne) en vue de sa mise en libre pratique (dédouanement) dans l''Union européenne, soit en personne, soit par l''intermédiaire d''un représentant.'),
    jsonb_build_object(
      'code', 'organic_operator',
      'name_en', 'Organic Operator',
      'name_fr', 'Opérateur biologique',
      'description_en', 'The first consignee: an operator, certified by an approved control body, who receives the imported goods. It does not make the customs declaration; it may be the importer itself or its customer.',
      'description_fr', 'Le premier destinataire : un opérateur, certifié par un organisme de contrôle agréé, qui reçoit la marchandise importée. Cet opérateur n''effectue pas de déclaration en douane. Il peut être soit l''importateur, soit son client.')))::text;
END
$$;

-- api.identifier_types -> 200 {"items":[{"code","name_en","name_fr"}]}
CREATE FUNCTION api.identifier_types(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
  PERFORM api._begin(p_user);
  RETURN QUERY SELECT 200, jsonb_build_object('items', jsonb_build_array(
    jsonb_build_object('code', 'central_business_register', 'name_en', 'Central Business Register',
                       'name_fr', 'Registre central des entreprises (SIRET)'),
    jsonb_build_object('code', 'cin', 'name_en', 'CIN', 'name_fr', 'CIN (numéro d''identification de l''entreprise)'),
    jsonb_build_object('code', 'duns', 'name_en', 'DUNS', 'name_fr', 'DUNS'),
    jsonb_build_object('code', 'eori', 'name_en', 'EORI', 'name_fr', 'EORI'),
    jsonb_build_object('code', 'imo_management', 'name_en', 'IMO, mngmt', 'name_fr', 'IMO (gestion)'),
    jsonb_build_object('code', 'imo_owner', 'name_en', 'IMO, owner', 'name_fr', 'IMO (propriétaire)')))::text;
END
$$;

----------------------------------------------------------------------------
-- api.control_bodies {country?, name?, category?, after?, limit?}
--   -> 200 {"items":[{"id","code","name","address","country","categories",
--            "kind"}],"next"}
-- Active entries; name: case-insensitive substring; category: the entry
-- covers it. Keyset paging by (name, code); the cursor is the id of the
-- last entry of the page.
----------------------------------------------------------------------------
CREATE FUNCTION api.control_bodies(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_country  text := api._arg_text(p_args, 'country');
  v_name     text := lower(nullif(btrim(api._arg_text(p_args, 'name')), ''));
  v_category text := api._arg_text(p_args, 'category');
  v_after    text := api._arg_text(p_args, 'after');
  v_limit    integer := api._limit(p_args);
  v_a_name   text;
  v_a_code   text;
  v_items    jsonb;
  v_n        integer;
  v_last     bigint;
BEGIN
  PERFORM api._begin(p_user);
  IF v_after IS NOT NULL THEN
    SELECT c.name, c.code INTO v_a_name, v_a_code
      FROM traces.control_bodies c WHERE c.id = api._cursor_id('b', v_after);
    IF v_a_code IS NULL THEN
      RETURN QUERY SELECT 422, api._err422('after', 'is not a valid cursor');
      RETURN;
    END IF;
  END IF;

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', x.id, 'code', x.code, 'name', x.name, 'address', x.address, 'country', x.country_code,
           'categories', to_jsonb(x.categories), 'kind', x.kind) ORDER BY x.name, x.code)
           FILTER (WHERE x.rn <= v_limit), '[]'::jsonb),
         count(*),
         max(x.id) FILTER (WHERE x.rn = v_limit)
    INTO v_items, v_n, v_last
    FROM (SELECT c.*, row_number() OVER (ORDER BY c.name, c.code) AS rn
            FROM traces.control_bodies c
           WHERE c.active
             AND (v_country IS NULL OR c.country_code = v_country)
             AND (v_name IS NULL OR strpos(lower(c.name), v_name) > 0)
             AND (v_category IS NULL OR v_category = ANY (c.categories))
             AND (v_a_code IS NULL OR (c.name, c.code) > (v_a_name, v_a_code))
           ORDER BY c.name, c.code
           LIMIT v_limit + 1) x;

  RETURN QUERY SELECT 200, jsonb_build_object(
    'items', v_items,
    'next', CASE WHEN v_n > v_limit THEN 'b1.' || v_last END)::text;
END
$$;

----------------------------------------------------------------------------
-- api.operators_search {country?, activity?, name?, after?, limit?}
--   -> 200 {"items":[{"id","name","country","city","status",
--            "activities":[codes]}],"next"}
-- Operators not deleted (new ones too: a second user must find them).
-- name: case-insensitive substring. Keyset paging by (lower(name), id);
-- the cursor is the id of the last operator of the page.
----------------------------------------------------------------------------
CREATE FUNCTION api.operators_search(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_country  text := api._arg_text(p_args, 'country');
  v_activity text := api._arg_text(p_args, 'activity');
  v_name     text := lower(nullif(btrim(api._arg_text(p_args, 'name')), ''));
  v_after    text := api._arg_text(p_args, 'after');
  v_limit    integer := api._limit(p_args);
  v_a_name   text;
  v_a_id     bigint;
  v_items    jsonb;
  v_n        integer;
  v_last     bigint;
BEGIN
  PERFORM api._begin(p_user);
  IF v_after IS NOT NULL THEN
    SELECT lower(o.name), o.id INTO v_a_name, v_a_id
      FROM traces.operators o WHERE o.id = api._cursor_id('o', v_after);
    IF v_a_id IS NULL THEN
      RETURN QUERY SELECT 422, api._err422('after', 'is not a valid cursor');
      RETURN;
    END IF;
  END IF;

  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', x.id, 'name', x.name, 'country', x.country_code, 'city', x.city, 'status', x.status,
           'activities', coalesce((SELECT jsonb_agg(DISTINCT a.activity) FROM traces.operator_activities a
                                    WHERE a.operator_id = x.id), '[]'::jsonb))
           ORDER BY x.lname, x.id) FILTER (WHERE x.rn <= v_limit), '[]'::jsonb),
         count(*),
         max(x.id) FILTER (WHERE x.rn = v_limit)
    INTO v_items, v_n, v_last
    FROM (SELECT o.*, lower(o.name) AS lname, row_number() OVER (ORDER BY lower(o.name), o.id) AS rn
            FROM traces.operators o
           WHERE o.status <> 'deleted'
             AND (v_country IS NULL OR o.country_code = v_country)
             AND (v_name IS NULL OR strpos(lower(o.name), v_name) > 0)
             AND (v_activity IS NULL OR EXISTS (SELECT 1 FROM traces.operator_activities a
                                                 WHERE a.operator_id = o.id AND a.activity = v_activity))
             AND (v_a_id IS NULL OR (lower(o.name), o.id) > (v_a_name, v_a_id))
           ORDER BY lower(o.name), o.id
           LIMIT v_limit + 1) x;

  RETURN QUERY SELECT 200, jsonb_build_object(
    'items', v_items,
    'next', CASE WHEN v_n > v_limit THEN 'o1.' || v_last END)::text;
END
$$;

----------------------------------------------------------------------------
-- api.operator_get {id} -> 200 operator details | 404 (missing or deleted)
----------------------------------------------------------------------------
CREATE FUNCTION api.operator_get(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_id bigint := api._arg_int(p_args, 'id');
BEGIN
  PERFORM api._begin(p_user);
  IF NOT EXISTS (SELECT 1 FROM traces.operators o WHERE o.id = v_id AND o.status <> 'deleted') THEN
    RETURN QUERY SELECT 404, api._err(404, 'not-found', 'There is no such operator.');
    RETURN;
  END IF;
  RETURN QUERY SELECT 200, api._operator_json(v_id)::text;
END
$$;

----------------------------------------------------------------------------
-- api.operator_create {name, country, region?, postcode?, city, address,
--   latitude?, longitude?, phone?, fax?, email?, web_url?,
--   identifiers?:[{type,value}], activity:{activity, control_body_id,
--   identifier?, valid_from?, valid_until?, publication_date?,
--   application_date?, remarks?}, request?:{message?, email?, phone?}}
--   -> 201 {"operator":OPERATOR,"request":ROLE}
-- One transaction: the operator (status new, created_by = caller), its
-- identifiers, its activity, the caller's request (first_request: the
-- creator is the first requester), audit rows. 422 naming every faulty
-- field; the importer-needs-EORI constraint trigger is the last word
-- (mapped to field "identifiers").
----------------------------------------------------------------------------
CREATE FUNCTION api.operator_create(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_name     text := nullif(btrim(api._arg_text(p_args, 'name')), '');
  v_country  text := api._arg_text(p_args, 'country');
  v_act      jsonb := CASE WHEN jsonb_typeof(p_args -> 'activity') = 'object' THEN p_args -> 'activity' END;
  v_ids      jsonb := CASE WHEN jsonb_typeof(p_args -> 'identifiers') = 'array' THEN p_args -> 'identifiers'
                           ELSE '[]'::jsonb END;
  v_req      jsonb := CASE WHEN jsonb_typeof(p_args -> 'request') = 'object' THEN p_args -> 'request'
                           ELSE '{}'::jsonb END;
  v_activity text;
  v_cb       bigint;
  v_dates    date[] := ARRAY[NULL, NULL, NULL, NULL]::date[];
  v_dkeys    text[] := ARRAY['valid_from', 'valid_until', 'publication_date', 'application_date'];
  v_lat      numeric;
  v_lon      numeric;
  v_errors   jsonb := '[]'::jsonb;
  v_item     jsonb;
  v_i        integer;
  v_types    text[] := '{}';
  v_type     text;
  v_value    text;
  v_eori     boolean := false;
  v_op       bigint;
  v_role     traces.roles;
  v_con      text;
  v_msg      text;
  v_state    text;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;

  -- details
  IF v_name IS NULL THEN
    v_errors := v_errors || api._field_error('name', 'required');
  ELSIF length(v_name) > 300 THEN
    v_errors := v_errors || api._field_error('name', 'is too long');
  END IF;
  IF v_country IS NULL THEN
    v_errors := v_errors || api._field_error('country', 'required');
  ELSIF NOT EXISTS (SELECT 1 FROM traces.countries c WHERE c.code = v_country) THEN
    v_errors := v_errors || api._field_error('country', 'is not a known country');
  END IF;
  IF nullif(btrim(api._arg_text(p_args, 'city')), '') IS NULL THEN
    v_errors := v_errors || api._field_error('city', 'required');
  END IF;
  IF nullif(btrim(api._arg_text(p_args, 'address')), '') IS NULL THEN
    v_errors := v_errors || api._field_error('address', 'required');
  END IF;
  IF api._arg_given(p_args, 'latitude') THEN
    IF jsonb_typeof(p_args -> 'latitude') = 'number' AND (p_args ->> 'latitude')::numeric BETWEEN -90 AND 90 THEN
      v_lat := round((p_args ->> 'latitude')::numeric, 6);
    ELSE
      v_errors := v_errors || api._field_error('latitude', 'is out of range');
    END IF;
  END IF;
  IF api._arg_given(p_args, 'longitude') THEN
    IF jsonb_typeof(p_args -> 'longitude') = 'number' AND (p_args ->> 'longitude')::numeric BETWEEN -180 AND 180 THEN
      v_lon := round((p_args ->> 'longitude')::numeric, 6);
    ELSE
      v_errors := v_errors || api._field_error('longitude', 'is out of range');
    END IF;
  END IF;

  -- identifiers
  FOR v_i IN 0 .. jsonb_array_length(v_ids) - 1 LOOP
    v_item := v_ids -> v_i;
    v_type := api._arg_text(v_item, 'type');
    v_value := api._arg_text(v_item, 'value');
    IF v_type IS NULL OR v_type NOT IN ('central_business_register', 'cin', 'duns', 'eori',
                                        'imo_management', 'imo_owner') THEN
      v_errors := v_errors || api._field_error(format('identifiers[%s].type', v_i), 'is not one of the allowed values');
      CONTINUE;
    END IF;
    IF v_type = ANY (v_types) THEN
      v_errors := v_errors || api._field_error(format('identifiers[%s].type', v_i), 'is given twice');
    END IF;
    v_types := v_types || v_type;
    IF v_value IS NULL OR btrim(v_value) = '' OR length(v_value) > 100 THEN
      v_errors := v_errors || api._field_error(format('identifiers[%s].value', v_i), 'required, 1 to 100 characters');
    ELSIF v_type = 'eori' THEN
      v_eori := true;
      IF NOT (v_value ~ '^[A-Z]{2}[A-Z0-9]{1,15}$'
              AND (left(v_value, 2) <> 'FR' OR v_value ~ '^FR([0-9]{9}|[0-9]{14})$')) THEN
        v_errors := v_errors || api._field_error(format('identifiers[%s].value', v_i),
          'is not a valid EORI number (country code and up to 15 letters or digits; France: FR and the 9-digit SIREN or 14-digit SIRET)');
      END IF;
    END IF;
  END LOOP;

  -- activity
  IF v_act IS NULL THEN
    v_errors := v_errors || api._field_error('activity', 'required');
  ELSE
    v_activity := api._arg_text(v_act, 'activity');
    IF v_activity IS NULL OR v_activity NOT IN ('organic_importer', 'organic_operator') THEN
      v_errors := v_errors || api._field_error('activity.activity', 'is not one of the allowed values');
    END IF;
    v_cb := api._arg_int(v_act, 'control_body_id');
    IF v_cb IS NULL THEN
      v_errors := v_errors || api._field_error('activity.control_body_id', 'required');
    ELSIF NOT EXISTS (SELECT 1 FROM traces.control_bodies c WHERE c.id = v_cb AND c.active) THEN
      v_errors := v_errors || api._field_error('activity.control_body_id', 'is not a known control body');
    END IF;
    FOR v_i IN 1 .. 4 LOOP
      IF api._arg_given(v_act, v_dkeys[v_i]) THEN
        v_dates[v_i] := api._try_date(api._arg_text(v_act, v_dkeys[v_i]));
        IF v_dates[v_i] IS NULL THEN
          v_errors := v_errors || api._field_error('activity.' || v_dkeys[v_i], 'must be a date (YYYY-MM-DD)');
        END IF;
      END IF;
    END LOOP;
    IF v_dates[2] < v_dates[1] THEN
      v_errors := v_errors || api._field_error('activity.valid_until', 'is before valid_from');
    END IF;
    IF v_activity = 'organic_importer' AND NOT v_eori
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_errors) e WHERE e ->> 'field' LIKE 'identifiers[%') THEN
      v_errors := v_errors || api._field_error('identifiers', 'an organic importer must give its EORI number');
    END IF;
  END IF;

  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._err(422, 'invalid-input', 'The operator has invalid fields.', v_errors);
    RETURN;
  END IF;

  BEGIN
    INSERT INTO traces.operators (name, country_code, region, postcode, city, address, latitude, longitude,
                                  phone, fax, email, web_url, status, created_by)
    VALUES (v_name, v_country,
            nullif(btrim(api._arg_text(p_args, 'region')), ''),
            nullif(btrim(api._arg_text(p_args, 'postcode')), ''),
            btrim(api._arg_text(p_args, 'city')),
            btrim(api._arg_text(p_args, 'address')),
            v_lat, v_lon,
            nullif(btrim(api._arg_text(p_args, 'phone')), ''),
            nullif(btrim(api._arg_text(p_args, 'fax')), ''),
            nullif(btrim(api._arg_text(p_args, 'email')), ''),
            nullif(btrim(api._arg_text(p_args, 'web_url')), ''),
            'new', p_user)
    RETURNING id INTO v_op;

    INSERT INTO traces.operator_identifiers (operator_id, type, value)
    SELECT v_op, x ->> 'type', btrim(x ->> 'value')
      FROM jsonb_array_elements(v_ids) x;

    INSERT INTO traces.operator_activities (operator_id, activity, control_body_id, identifier, valid_from,
                                            valid_until, publication_date, application_date, remarks)
    VALUES (v_op, v_activity, v_cb,
            nullif(btrim(api._arg_text(v_act, 'identifier')), ''),
            v_dates[1], v_dates[2], v_dates[3], v_dates[4],
            nullif(btrim(api._arg_text(v_act, 'remarks')), ''));

    INSERT INTO traces.roles (user_id, kind, operator_id, status, first_request, message, contact_email,
                              contact_phone, created_by)
    VALUES (p_user, 'operator', v_op, 'requested', true,
            nullif(btrim(api._arg_text(v_req, 'message')), ''),
            nullif(btrim(api._arg_text(v_req, 'email')), ''),
            nullif(btrim(api._arg_text(v_req, 'phone')), ''),
            p_user)
    RETURNING * INTO v_role;

    INSERT INTO traces.audit_log (actor_user_id, action, operator_id, country_code, target_user_id,
                                  before_status, after_status, detail)
    VALUES (p_user, 'operator.create', v_op, v_country, p_user, NULL, 'new',
            jsonb_build_object('name', v_name, 'activity', v_activity, 'control_body_id', v_cb));
    PERFORM api._audit_role(p_user, 'role.request', v_role, NULL, 'requested',
                            jsonb_build_object('first_request', true, 'operator_created', true));

    -- the deferred importer/EORI check, now, inside this block
    SET CONSTRAINTS traces.operator_importer_requires_eori IMMEDIATE;
    SET CONSTRAINTS traces.operator_importer_requires_eori DEFERRED;
  EXCEPTION
    WHEN check_violation OR foreign_key_violation OR unique_violation OR not_null_violation
         OR string_data_right_truncation OR numeric_value_out_of_range OR invalid_datetime_format
         OR datetime_field_overflow THEN
      GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME, v_msg = MESSAGE_TEXT, v_state = RETURNED_SQLSTATE;
      RETURN QUERY SELECT 422, api._err422(
        CASE WHEN v_con LIKE 'roles\_%' THEN 'request.' || api._constraint_field(v_con)
             ELSE api._constraint_field(nullif(v_con, '')) END,
        CASE WHEN v_con = 'operator_importer_requires_eori' THEN 'an organic importer must give its EORI number'
             WHEN v_con = 'operator_identifiers_eori_format' THEN 'an EORI number is not valid'
             WHEN v_state = '23505' THEN 'is given twice'
             WHEN v_state = '23503' THEN 'does not exist'
             ELSE 'is not acceptable' END,
        'The operator has invalid fields.');
      RETURN;
  END;

  RETURN QUERY SELECT 201, jsonb_build_object('operator', api._operator_json(v_op),
                                              'request', api._role_json(v_role.id))::text;
END
$$;

----------------------------------------------------------------------------
-- api.operator_request {id, message?, email?, phone?}
--   -> 201 {"request":ROLE} | 404 (no such operator, or deleted) | 409
-- The first non-deleted request on an operator gets first_request = true
-- (unless the operator still has an administrator, valid or suspended):
-- the unique partial index roles_first_request decides between concurrent
-- first requests (the loser retries with false). A second active request
-- of the same user for the same operator -> 409.
----------------------------------------------------------------------------
CREATE FUNCTION api.operator_request(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_id    bigint := api._arg_int(p_args, 'id');
  v_msg   text := nullif(btrim(api._arg_text(p_args, 'message')), '');
  v_email text := nullif(btrim(api._arg_text(p_args, 'email')), '');
  v_phone text := nullif(btrim(api._arg_text(p_args, 'phone')), '');
  v_first boolean;
  v_role  traces.roles;
  v_con   text;
  v_dup   boolean := false;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM traces.operators o WHERE o.id = v_id AND o.status <> 'deleted') THEN
    RETURN QUERY SELECT 404, api._err(404, 'not-found', 'There is no such operator.');
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM traces.roles r
              WHERE r.user_id = p_user AND r.operator_id = v_id
                AND r.status IN ('requested', 'valid', 'suspended')) THEN
    RETURN QUERY SELECT 409, api._err(409, 'already-requested', 'You already have an active request for this organisation.');
    RETURN;
  END IF;

  -- first requester = administrator candidate: nobody else holds a
  -- non-deleted first request, and the operator has no administrator
  -- (valid or suspended) left
  v_first := NOT EXISTS (SELECT 1 FROM traces.roles r
                          WHERE r.operator_id = v_id AND r.kind = 'operator'
                            AND (r.first_request AND r.status <> 'deleted'
                                 OR r.is_admin AND r.status IN ('valid', 'suspended')));
  BEGIN
    INSERT INTO traces.roles (user_id, kind, operator_id, status, first_request, message, contact_email,
                              contact_phone, created_by)
    VALUES (p_user, 'operator', v_id, 'requested', v_first, v_msg, v_email, v_phone, p_user)
    RETURNING * INTO v_role;
  EXCEPTION WHEN unique_violation THEN
    GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
    IF v_con = 'roles_first_request' THEN
      -- another first request committed meanwhile: this one is not first
      BEGIN
        INSERT INTO traces.roles (user_id, kind, operator_id, status, first_request, message, contact_email,
                                  contact_phone, created_by)
        VALUES (p_user, 'operator', v_id, 'requested', false, v_msg, v_email, v_phone, p_user)
        RETURNING * INTO v_role;
      EXCEPTION WHEN unique_violation THEN
        v_dup := true;
      END;
    ELSE
      v_dup := true;
    END IF;
  WHEN check_violation THEN
    GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
    RETURN QUERY SELECT 422, api._err422(api._constraint_field(v_con), 'is not acceptable');
    RETURN;
  END;
  IF v_dup THEN
    RETURN QUERY SELECT 409, api._err(409, 'already-requested', 'You already have an active request for this organisation.');
    RETURN;
  END IF;

  PERFORM api._audit_role(p_user, 'role.request', v_role, NULL, 'requested',
                          jsonb_build_object('first_request', v_role.first_request));
  RETURN QUERY SELECT 201, jsonb_build_object('request', api._role_json(v_role.id))::text;
END
$$;

----------------------------------------------------------------------------
-- api.control_body_requests {control_body_ids:[ids], message?, email?, phone?}
--   -> 201 {"requests":[ROLE...]} (in the order of the ids)
-- All or none: an unknown (or inactive) entry -> 422 naming
-- "control_body_ids[i]"; an id given twice -> 422; an active request of
-- the caller on any of them -> 409, nothing written.
----------------------------------------------------------------------------
CREATE FUNCTION api.control_body_requests(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_ids    jsonb := CASE WHEN jsonb_typeof(p_args -> 'control_body_ids') = 'array' THEN p_args -> 'control_body_ids' END;
  v_msg    text := nullif(btrim(api._arg_text(p_args, 'message')), '');
  v_email  text := nullif(btrim(api._arg_text(p_args, 'email')), '');
  v_phone  text := nullif(btrim(api._arg_text(p_args, 'phone')), '');
  v_errors jsonb := '[]'::jsonb;
  v_list   bigint[] := '{}';
  v_i      integer;
  v_cb     bigint;
  v_codes  text;
  v_role   traces.roles;
  v_out    jsonb := '[]'::jsonb;
  v_con    text;
  v_dup    boolean := false;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  IF v_ids IS NULL OR jsonb_array_length(v_ids) = 0 THEN
    RETURN QUERY SELECT 422, api._err422('control_body_ids', 'required');
    RETURN;
  END IF;
  IF jsonb_array_length(v_ids) > 100 THEN
    RETURN QUERY SELECT 422, api._err422('control_body_ids', 'has too many items');
    RETURN;
  END IF;
  FOR v_i IN 0 .. jsonb_array_length(v_ids) - 1 LOOP
    v_cb := CASE WHEN jsonb_typeof(v_ids -> v_i) = 'number' AND (v_ids ->> v_i) ~ '^[0-9]{1,18}$'
                 THEN (v_ids ->> v_i)::bigint END;
    IF v_cb IS NULL OR NOT EXISTS (SELECT 1 FROM traces.control_bodies c WHERE c.id = v_cb AND c.active) THEN
      v_errors := v_errors || api._field_error(format('control_body_ids[%s]', v_i), 'is not a known control body entry');
    ELSIF v_cb = ANY (v_list) THEN
      v_errors := v_errors || api._field_error(format('control_body_ids[%s]', v_i), 'is given twice');
    END IF;
    v_list := v_list || v_cb;
  END LOOP;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._err(422, 'invalid-input', 'The request has invalid fields.', v_errors);
    RETURN;
  END IF;

  SELECT string_agg(c.code, ', ' ORDER BY c.code) INTO v_codes
    FROM traces.roles r JOIN traces.control_bodies c ON c.id = r.control_body_id
   WHERE r.user_id = p_user AND r.control_body_id = ANY (v_list)
     AND r.status IN ('requested', 'valid', 'suspended');
  IF v_codes IS NOT NULL THEN
    RETURN QUERY SELECT 409, api._err(409, 'already-requested',
      format('You already have an active request for this organisation: %s.', v_codes));
    RETURN;
  END IF;

  BEGIN
    FOR v_i IN 1 .. cardinality(v_list) LOOP
      INSERT INTO traces.roles (user_id, kind, control_body_id, status, message, contact_email, contact_phone, created_by)
      VALUES (p_user, 'control_body', v_list[v_i], 'requested', v_msg, v_email, v_phone, p_user)
      RETURNING * INTO v_role;
      PERFORM api._audit_role(p_user, 'role.request', v_role, NULL, 'requested',
                              jsonb_build_object('batch', cardinality(v_list)));
      v_out := v_out || jsonb_build_array(api._role_json(v_role.id));
    END LOOP;
  EXCEPTION
    WHEN unique_violation THEN
      v_dup := true;    -- a concurrent request: the block's writes are undone
    WHEN check_violation THEN
      GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
      RETURN QUERY SELECT 422, api._err422(api._constraint_field(v_con), 'is not acceptable');
      RETURN;
  END;
  IF v_dup THEN
    RETURN QUERY SELECT 409, api._err(409, 'already-requested', 'You already have an active request for this organisation.');
    RETURN;
  END IF;
  RETURN QUERY SELECT 201, jsonb_build_object('requests', v_out)::text;
END
$$;

----------------------------------------------------------------------------
-- api.requests_list {status? (default requested), kind?, operator?,
--   control_body?, user?, after?, limit?}
--   -> 200 {"items":[ROLE + "user":{"id","uid","given_name","family_name",
--            "email","status"} + "can_decide"],"next"}
-- The roles the caller may decide: competent authority -> operator and
-- control-body roles of its country (control bodies: their supervising
-- country); operator administrator -> roles on its operators; Commission
-- -> point_of_entry and authority roles. Oldest request first, keyset
-- paging by (requested_at, id). A caller who may decide nothing gets an
-- empty list.
----------------------------------------------------------------------------
CREATE FUNCTION api.requests_list(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_status     text := coalesce(api._arg_text(p_args, 'status'), 'requested');
  v_kind       text := api._arg_text(p_args, 'kind');
  v_operator   bigint := api._arg_int(p_args, 'operator');
  v_cbody      bigint := api._arg_int(p_args, 'control_body');
  v_target     bigint := api._arg_int(p_args, 'user');
  v_after      text := api._arg_text(p_args, 'after');
  v_after_at   timestamptz;
  v_after_id   bigint;
  v_limit      integer := api._limit(p_args);
  v_countries  text[];
  v_admin_ops  bigint[];
  v_commission boolean;
  v_ids        bigint[];
  v_items      jsonb;
  v_n          integer;
  v_last_at    timestamptz;
  v_last_id    bigint;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  IF v_status NOT IN ('requested', 'valid', 'suspended', 'deleted') THEN
    RETURN QUERY SELECT 422, api._err422('status', 'is not one of the allowed values');
    RETURN;
  END IF;
  IF v_after IS NOT NULL THEN
    v_after_at := api._cursor_at('r', v_after);
    v_after_id := api._cursor_id('r', v_after);
    IF v_after_at IS NULL THEN
      RETURN QUERY SELECT 422, api._err422('after', 'is not a valid cursor');
      RETURN;
    END IF;
  END IF;

  v_countries := api._authority_countries(p_user);
  v_admin_ops := api._admin_operators(p_user);
  v_commission := api._is_commission(p_user);

  IF cardinality(v_countries) = 0 AND cardinality(v_admin_ops) = 0 AND NOT v_commission THEN
    RETURN QUERY SELECT 200, '{"items":[],"next":null}'::text;
    RETURN;
  END IF;

  -- 1. the page: one ordered, limited branch per capacity (each can use
  -- its own index), merged
  v_ids := ARRAY(
    SELECT x.id FROM (
      (SELECT r.id, r.requested_at
         FROM traces.roles r JOIN traces.operators o ON o.id = r.operator_id
        WHERE cardinality(v_countries) > 0 AND r.kind = 'operator' AND o.country_code = ANY (v_countries)
          AND r.status = v_status AND (v_kind IS NULL OR r.kind = v_kind)
          AND (v_operator IS NULL OR r.operator_id = v_operator) AND (v_cbody IS NULL OR r.control_body_id = v_cbody)
          AND (v_target IS NULL OR r.user_id = v_target)
          AND (v_after_at IS NULL OR (r.requested_at, r.id) > (v_after_at, v_after_id))
        ORDER BY r.requested_at, r.id LIMIT v_limit + 1)
      UNION
      (SELECT r.id, r.requested_at
         FROM traces.roles r
        WHERE cardinality(v_admin_ops) > 0 AND r.kind = 'operator' AND r.operator_id = ANY (v_admin_ops)
          AND r.status = v_status AND (v_kind IS NULL OR r.kind = v_kind)
          AND (v_operator IS NULL OR r.operator_id = v_operator) AND (v_cbody IS NULL OR r.control_body_id = v_cbody)
          AND (v_target IS NULL OR r.user_id = v_target)
          AND (v_after_at IS NULL OR (r.requested_at, r.id) > (v_after_at, v_after_id))
        ORDER BY r.requested_at, r.id LIMIT v_limit + 1)
      UNION
      (SELECT r.id, r.requested_at
         FROM traces.roles r JOIN traces.control_bodies c ON c.id = r.control_body_id
        WHERE cardinality(v_countries) > 0 AND r.kind = 'control_body'
          AND coalesce(c.supervising_country, c.country_code) = ANY (v_countries)
          AND r.status = v_status AND (v_kind IS NULL OR r.kind = v_kind)
          AND (v_operator IS NULL OR r.operator_id = v_operator) AND (v_cbody IS NULL OR r.control_body_id = v_cbody)
          AND (v_target IS NULL OR r.user_id = v_target)
          AND (v_after_at IS NULL OR (r.requested_at, r.id) > (v_after_at, v_after_id))
        ORDER BY r.requested_at, r.id LIMIT v_limit + 1)
      UNION
      (SELECT r.id, r.requested_at
         FROM traces.roles r
        WHERE v_commission AND r.kind IN ('point_of_entry', 'authority')
          AND r.status = v_status AND (v_kind IS NULL OR r.kind = v_kind)
          AND (v_operator IS NULL OR r.operator_id = v_operator) AND (v_cbody IS NULL OR r.control_body_id = v_cbody)
          AND (v_target IS NULL OR r.user_id = v_target)
          AND (v_after_at IS NULL OR (r.requested_at, r.id) > (v_after_at, v_after_id))
        ORDER BY r.requested_at, r.id LIMIT v_limit + 1)
    ) x
    ORDER BY x.requested_at, x.id
    LIMIT v_limit + 1);
  v_n := cardinality(v_ids);

  -- 2. the documents of the page
  SELECT coalesce(jsonb_agg(
           rs.role || jsonb_build_object(
             'user', jsonb_build_object('id', u.id, 'uid', coalesce(u.uid, u.sub), 'given_name', u.given_name,
                                        'family_name', u.family_name, 'email', u.email,
                                        'status', api._general_status(u.id)),
             'can_decide', api._decide_cap(rs.kind, rs.status, rs.deciding_country, rs.operator_status,
                                           rs.operator_id, v_countries, v_admin_ops, v_commission))
           ORDER BY rs.requested_at, rs.id), '[]'::jsonb),
         max(rs.requested_at) FILTER (WHERE rs.id = v_ids[v_limit]),
         max(rs.id) FILTER (WHERE rs.id = v_ids[v_limit])
    INTO v_items, v_last_at, v_last_id
    FROM api._role_set() rs
    JOIN traces.users u ON u.id = rs.user_id
   WHERE rs.id = ANY (v_ids[1:v_limit]);

  RETURN QUERY SELECT 200, jsonb_build_object(
    'items', v_items,
    'next', CASE WHEN v_n > v_limit THEN api._cursor_make('r', v_last_at, v_last_id) END)::text;
END
$$;

----------------------------------------------------------------------------
-- api.user_get {id} -> 200 {"user":USER,"roles":[ROLE + "can_decide"],
--   "counts":{...}} | 404
-- Who sees whom: the user themself (all roles); a competent authority of a
-- country where one of the user's roles lies (deciding country, all
-- roles); the Commission for a user with a point_of_entry or authority
-- role (all roles); an administrator of an operator on which the user has
-- a role (only the roles on the operators it administers). Anyone else
-- gets 404, as for a user that does not exist. counts are over the roles
-- listed.
----------------------------------------------------------------------------
CREATE FUNCTION api.user_get(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_id         bigint := api._arg_int(p_args, 'id');
  v_all        boolean := false;
  v_countries  text[];
  v_admin_ops  bigint[];
  v_commission boolean;
  v_roles      jsonb;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  IF v_id IS NULL OR NOT EXISTS (SELECT 1 FROM traces.users u WHERE u.id = v_id) THEN
    RETURN QUERY SELECT 404, api._err(404, 'not-found', 'There is no such user.');
    RETURN;
  END IF;

  v_countries := api._authority_countries(p_user);
  v_admin_ops := api._admin_operators(p_user);
  v_commission := api._is_commission(p_user);
  IF v_id = p_user THEN
    v_all := true;
  ELSIF EXISTS (SELECT 1 FROM api._role_set() rs
                 WHERE rs.user_id = v_id AND rs.deciding_country = ANY (v_countries)) THEN
    v_all := true;
  ELSIF v_commission
        AND EXISTS (SELECT 1 FROM traces.roles r WHERE r.user_id = v_id AND r.kind IN ('point_of_entry', 'authority')) THEN
    v_all := true;
  ELSIF NOT EXISTS (SELECT 1 FROM traces.roles r WHERE r.user_id = v_id AND r.operator_id = ANY (v_admin_ops)) THEN
    RETURN QUERY SELECT 404, api._err(404, 'not-found', 'There is no such user.');
    RETURN;
  END IF;

  SELECT coalesce(jsonb_agg(rs.role || jsonb_build_object(
                              'can_decide', api._decide_cap(rs.kind, rs.status, rs.deciding_country, rs.operator_status,
                                                            rs.operator_id, v_countries, v_admin_ops, v_commission))
                            ORDER BY rs.requested_at, rs.id), '[]'::jsonb)
    INTO v_roles
    FROM api._role_set() rs
   WHERE rs.user_id = v_id AND (v_all OR rs.operator_id = ANY (v_admin_ops));

  RETURN QUERY SELECT 200, jsonb_build_object('user', api._user_json(v_id), 'roles', v_roles,
                                              'counts', api._counts(v_roles))::text;
END
$$;

----------------------------------------------------------------------------
-- api.role_decide {id, status: valid|suspended|deleted, admin?: bool}
--   -> 200 {"role":ROLE} | 403 | 409 | 422
-- Who: see api._decider (403 otherwise, also for a role that does not
-- exist). An administrator decides nothing on an operator that is not
-- valid (403): validating the first request of a new operator is the
-- authority's.
-- Transitions: requested -> valid | deleted; valid -> suspended | deleted;
-- suspended -> valid | deleted; valid -> valid with "admin" only changes
-- admin. Anything else -> 409 (roles_guard raises TR409 as last word).
-- Validating a role of a `new` operator validates the operator (status
-- valid, validated_by/at). Validating a first_request role makes its user
-- administrator (unless admin:false is given). "admin" grants / removes
-- admin on operator roles only (422 otherwise, and admin:true only on a
-- role that ends valid). Deleting a role removes its admin flag. An
-- administrator may not remove, suspend or delete the last valid
-- administrator of an operator (409); the authority may. Decisions on one
-- operator are serialised by a lock on the operator row.
----------------------------------------------------------------------------
CREATE FUNCTION api.role_decide(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_id        bigint := api._arg_int(p_args, 'id');
  v_to        text := api._arg_text(p_args, 'status');
  v_admin     boolean := api._arg_bool(p_args, 'admin');
  v_role      traces.roles;
  v_new       traces.roles;
  v_op        traces.operators;
  v_as        text;
  v_new_admin boolean;
  v_validate  boolean := false;
  v_state     text;
  v_con       text;
  v_forbidden constant text := 'Only the competent authority or an administrator of this operator may decide this request.';
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;

  SELECT * INTO v_role FROM traces.roles r WHERE r.id = v_id;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 403, api._err(403, 'forbidden', v_forbidden);
    RETURN;
  END IF;
  -- serialise the decisions on one operator (last administrator, operator
  -- validation), then re-read the role under its own lock
  IF v_role.kind = 'operator' THEN
    SELECT * INTO v_op FROM traces.operators o WHERE o.id = v_role.operator_id FOR NO KEY UPDATE;
  END IF;
  SELECT * INTO v_role FROM traces.roles r WHERE r.id = v_id FOR NO KEY UPDATE;

  v_as := api._decider(p_user, v_role);
  IF v_as IS NULL THEN
    IF v_role.kind = 'operator' AND v_op.status = 'new'
       AND v_role.operator_id = ANY (api._admin_operators(p_user)) THEN
      RETURN QUERY SELECT 403, api._err(403, 'forbidden',
        'Only the competent authority may decide requests on an operator it has not validated yet.');
    ELSE
      RETURN QUERY SELECT 403, api._err(403, 'forbidden', v_forbidden);
    END IF;
    RETURN;
  END IF;

  IF v_to IS NULL OR v_to NOT IN ('valid', 'suspended', 'deleted') THEN
    RETURN QUERY SELECT 422, api._err422('status', 'is not one of the allowed values');
    RETURN;
  END IF;
  IF api._arg_given(p_args, 'admin') AND v_admin IS NULL THEN
    RETURN QUERY SELECT 422, api._err422('admin', 'must be true or false');
    RETURN;
  END IF;
  IF v_admin AND v_role.kind <> 'operator' THEN
    RETURN QUERY SELECT 422, api._err422('admin', 'only operator roles have administrators');
    RETURN;
  END IF;
  IF v_admin AND v_to <> 'valid' THEN
    RETURN QUERY SELECT 422, api._err422('admin', 'admin can only be granted on a valid role');
    RETURN;
  END IF;

  -- transition
  IF v_role.status = 'deleted' THEN
    RETURN QUERY SELECT 409, api._err(409, 'transition-not-allowed', 'This role is deleted: it cannot change any more.');
    RETURN;
  END IF;
  IF v_to = v_role.status THEN
    IF NOT (v_to = 'valid' AND v_admin IS NOT NULL AND v_role.kind = 'operator') THEN
      RETURN QUERY SELECT 409, api._err(409, 'transition-not-allowed', format('This role is already %s.', v_to));
      RETURN;
    END IF;
  ELSIF NOT ((v_role.status = 'requested' AND v_to IN ('valid', 'deleted'))
          OR (v_role.status = 'valid' AND v_to IN ('suspended', 'deleted'))
          OR (v_role.status = 'suspended' AND v_to IN ('valid', 'deleted'))) THEN
    RETURN QUERY SELECT 409, api._err(409, 'transition-not-allowed',
      format('A %s role cannot become %s (allowed: requested to valid or deleted, valid to suspended or deleted, suspended to valid or deleted).',
             v_role.status, v_to));
    RETURN;
  END IF;

  v_new_admin := CASE
                   WHEN v_role.kind <> 'operator' OR v_to = 'deleted' THEN false
                   WHEN v_to = 'valid' AND v_role.status = 'requested' THEN coalesce(v_admin, v_role.first_request)
                   ELSE coalesce(v_admin, v_role.is_admin)
                 END;

  IF v_role.kind = 'operator' THEN
    IF v_to = 'valid' AND v_op.status = 'deleted' THEN
      RETURN QUERY SELECT 409, api._err(409, 'operator-deleted', 'This operator is deleted: no role on it can become valid.');
      RETURN;
    END IF;
    -- an administrator keeps at least one valid administrator
    IF v_as = 'administrator' AND v_role.status = 'valid' AND v_role.is_admin
       AND NOT (v_to = 'valid' AND v_new_admin)
       AND NOT EXISTS (SELECT 1 FROM traces.roles a
                        WHERE a.operator_id = v_role.operator_id AND a.kind = 'operator' AND a.id <> v_role.id
                          AND a.status = 'valid' AND a.is_admin) THEN
      RETURN QUERY SELECT 409, api._err(409, 'last-administrator',
        'This is the last valid administrator of the operator: make another user administrator first, or ask the competent authority.');
      RETURN;
    END IF;
    v_validate := v_to = 'valid' AND v_op.status = 'new';   -- only the authority gets here (api._decider)
  END IF;

  IF v_to = v_role.status AND v_new_admin = v_role.is_admin THEN
    -- nothing changes (admin already as asked)
    RETURN QUERY SELECT 200, jsonb_build_object('role', api._role_json(v_role.id))::text;
    RETURN;
  END IF;

  BEGIN
    IF v_validate THEN
      UPDATE traces.operators o
         SET status = 'valid', validated_by = p_user, validated_at = now()
       WHERE o.id = v_role.operator_id;
      INSERT INTO traces.audit_log (actor_user_id, action, operator_id, country_code, target_user_id,
                                    before_status, after_status, detail)
      VALUES (p_user, 'operator.validate', v_role.operator_id, v_op.country_code, v_role.user_id, 'new', 'valid',
              jsonb_build_object('role_id', v_role.id, 'first_request', v_role.first_request));
    END IF;

    UPDATE traces.roles r
       SET status = v_to, is_admin = v_new_admin, decided_by = p_user, decided_at = now()
     WHERE r.id = v_role.id
    RETURNING * INTO v_new;

    PERFORM api._audit_role(p_user,
                            CASE WHEN v_to = v_role.status THEN 'role.admin' ELSE 'role.decision' END,
                            v_new, v_role.status, v_to,
                            jsonb_build_object('as', v_as, 'admin_before', v_role.is_admin, 'admin_after', v_new_admin,
                                               'first_request', v_role.first_request, 'operator_validated', v_validate));
  EXCEPTION
    WHEN SQLSTATE 'TR409' THEN
      RETURN QUERY SELECT 409, api._err(409, 'transition-not-allowed', 'This role cannot change this way.');
      RETURN;
    WHEN check_violation OR unique_violation OR foreign_key_violation THEN
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_con = CONSTRAINT_NAME;
      RETURN QUERY SELECT 409, api._err(409, 'conflict',
        format('The decision conflicts with the current state (%s).', coalesce(nullif(v_con, ''), v_state)));
      RETURN;
  END;

  RETURN QUERY SELECT 200, jsonb_build_object('role', api._role_json(v_new.id))::text;
END
$$;

----------------------------------------------------------------------------
-- api.responsible_for_load {user: id or EU Login uid, point_of_entry: id}
--   -> 201 {"role":ROLE} | 403 (not the Commission) | 409 | 422
-- The Commission alone assigns it; the role is valid at once (decided_by
-- the Commission user).
----------------------------------------------------------------------------
CREATE FUNCTION api.responsible_for_load(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_target bigint;
  v_n      integer;
  v_poe    bigint := api._arg_int(p_args, 'point_of_entry');
  v_errors jsonb := '[]'::jsonb;
  v_role   traces.roles;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  IF NOT api._is_commission(p_user) THEN
    RETURN QUERY SELECT 403, api._err(403, 'forbidden', 'Only the Commission may assign the role responsible for the load.');
    RETURN;
  END IF;

  IF jsonb_typeof(p_args -> 'user') = 'number' THEN
    SELECT u.id INTO v_target FROM traces.users u WHERE u.id = api._arg_int(p_args, 'user');
    IF v_target IS NULL THEN
      v_errors := v_errors || api._field_error('user', 'is not a known user');
    END IF;
  ELSIF jsonb_typeof(p_args -> 'user') = 'string' THEN
    SELECT min(u.id), count(*) INTO v_target, v_n FROM traces.users u WHERE coalesce(u.uid, u.sub) = p_args ->> 'user';
    IF v_n = 0 THEN
      v_errors := v_errors || api._field_error('user', 'is not a known user');
    ELSIF v_n > 1 THEN
      v_target := NULL;
      v_errors := v_errors || api._field_error('user', 'names several users: give the user id');
    END IF;
  ELSE
    v_errors := v_errors || api._field_error('user', 'required: a user id or an EU Login user name');
  END IF;
  IF v_poe IS NULL THEN
    v_errors := v_errors || api._field_error('point_of_entry', 'required');
  ELSIF NOT EXISTS (SELECT 1 FROM traces.points_of_entry p WHERE p.id = v_poe AND p.active) THEN
    v_errors := v_errors || api._field_error('point_of_entry', 'is not a known point of entry');
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._err(422, 'invalid-input', 'The request has invalid fields.', v_errors);
    RETURN;
  END IF;

  BEGIN
    INSERT INTO traces.roles (user_id, kind, point_of_entry_id, status, decided_by, decided_at, created_by)
    VALUES (v_target, 'point_of_entry', v_poe, 'valid', p_user, now(), p_user)
    RETURNING * INTO v_role;
    PERFORM api._audit_role(p_user, 'role.assign', v_role, NULL, 'valid', jsonb_build_object('as', 'commission'));
  EXCEPTION WHEN unique_violation THEN
    RETURN QUERY SELECT 409, api._err(409, 'already-assigned',
      'This user already has an active role (valid, suspended or requested) at this point of entry.');
    RETURN;
  END;
  RETURN QUERY SELECT 201, jsonb_build_object('role', api._role_json(v_role.id))::text;
END
$$;

----------------------------------------------------------------------------
-- api.audit_list {after?, limit?}
--   -> 200 {"items":[{"id","at","actor":{"id","uid"},"action","role_id",
--      "operator_id","control_body_id","point_of_entry_id","country",
--      "target_user":{"id","uid"}|null,"before_status","after_status",
--      "detail"}],"next"} | 403
-- Commission: every row; competent authority: rows about organisations of
-- its country, and about the control-body entries it supervises. Newest
-- first, keyset paging by (at, id).
----------------------------------------------------------------------------
CREATE FUNCTION api.audit_list(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
  v_after     text := api._arg_text(p_args, 'after');
  v_after_at  timestamptz;
  v_after_id  bigint;
  v_limit     integer := api._limit(p_args);
  v_all       boolean;
  v_countries text[];
  v_cbs       bigint[];
  v_items     jsonb;
  v_n         integer;
  v_last_at   timestamptz;
  v_last_id   bigint;
BEGIN
  PERFORM api._begin(p_user);
  IF NOT api._caller_ok(p_user) THEN
    RETURN QUERY SELECT 401, api._err401();
    RETURN;
  END IF;
  v_all := api._is_commission(p_user);
  v_countries := api._authority_countries(p_user);
  IF NOT v_all AND cardinality(v_countries) = 0 THEN
    RETURN QUERY SELECT 403, api._err(403, 'forbidden', 'Only a competent authority or the Commission may read the audit log.');
    RETURN;
  END IF;
  IF v_after IS NOT NULL THEN
    v_after_at := api._cursor_at('a', v_after);
    v_after_id := api._cursor_id('a', v_after);
    IF v_after_at IS NULL THEN
      RETURN QUERY SELECT 422, api._err422('after', 'is not a valid cursor');
      RETURN;
    END IF;
  END IF;
  SELECT coalesce(array_agg(c.id), '{}') INTO v_cbs
    FROM traces.control_bodies c WHERE c.supervising_country = ANY (v_countries);

  WITH page AS (
    SELECT a.*, row_number() OVER (ORDER BY a.at DESC, a.id DESC) AS rn
      FROM traces.audit_log a
     WHERE (v_all OR a.country_code = ANY (v_countries) OR a.control_body_id = ANY (v_cbs))
       AND (v_after_at IS NULL OR (a.at, a.id) < (v_after_at, v_after_id))
     ORDER BY a.at DESC, a.id DESC
     LIMIT v_limit + 1)
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', p.id,
           'at', api._ts(p.at),
           'actor', (SELECT jsonb_build_object('id', u.id, 'uid', coalesce(u.uid, u.sub))
                       FROM traces.users u WHERE u.id = p.actor_user_id),
           'action', p.action,
           'role_id', p.role_id,
           'operator_id', p.operator_id,
           'control_body_id', p.control_body_id,
           'point_of_entry_id', p.point_of_entry_id,
           'country', p.country_code,
           'target_user', (SELECT jsonb_build_object('id', u.id, 'uid', coalesce(u.uid, u.sub))
                             FROM traces.users u WHERE u.id = p.target_user_id),
           'before_status', p.before_status,
           'after_status', p.after_status,
           'detail', p.detail) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'::jsonb),
         count(*),
         max(p.at) FILTER (WHERE p.rn = v_limit),
         max(p.id) FILTER (WHERE p.rn = v_limit)
    INTO v_items, v_n, v_last_at, v_last_id
    FROM page p;

  RETURN QUERY SELECT 200, jsonb_build_object(
    'items', v_items,
    'next', CASE WHEN v_n > v_limit THEN api._cursor_make('a', v_last_at, v_last_id) END)::text;
END
$$;

----------------------------------------------------------------------------
-- Privileges: the module's role executes the api functions of this file
-- (default privileges of 001 do it already; said again explicitly). No new
-- table privilege is needed.
----------------------------------------------------------------------------
REVOKE EXECUTE ON FUNCTION
  api._err(integer, text, text, jsonb), api._err422(text, text, text), api._ts(timestamptz),
  api._arg_bool(jsonb, text), api._try_date(text), api._limit(jsonb),
  api._cursor_make(text, timestamptz, bigint), api._cursor_at(text, text), api._cursor_id(text, text),
  api._caller_ok(bigint), api._err401(), api._authority_countries(bigint), api._admin_operators(bigint),
  api._is_commission(bigint), api._role_deciding_country(traces.roles), api._role_country(traces.roles),
  api._decider(bigint, traces.roles), api._decide_cap(text, text, text, text, bigint, text[], bigint[], boolean),
  api._role_set(), api._role_json(bigint), api._general_status(bigint),
  api._user_json(bigint), api._counts(jsonb), api._me_body(bigint), api._operator_json(bigint),
  api._audit_role(bigint, text, traces.roles, text, text, jsonb), api._constraint_field(text),
  api.me(bigint, jsonb), api.me_update(bigint, jsonb), api.countries(bigint, jsonb),
  api.points_of_entry(bigint, jsonb), api.activity_types(bigint, jsonb), api.identifier_types(bigint, jsonb),
  api.control_bodies(bigint, jsonb), api.operators_search(bigint, jsonb), api.operator_get(bigint, jsonb),
  api.operator_create(bigint, jsonb), api.operator_request(bigint, jsonb), api.control_body_requests(bigint, jsonb),
  api.requests_list(bigint, jsonb), api.user_get(bigint, jsonb), api.role_decide(bigint, jsonb),
  api.responsible_for_load(bigint, jsonb), api.audit_list(bigint, jsonb)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
  api._err(integer, text, text, jsonb), api._err422(text, text, text), api._ts(timestamptz),
  api._arg_bool(jsonb, text), api._try_date(text), api._limit(jsonb),
  api._cursor_make(text, timestamptz, bigint), api._cursor_at(text, text), api._cursor_id(text, text),
  api._caller_ok(bigint), api._err401(), api._authority_countries(bigint), api._admin_operators(bigint),
  api._is_commission(bigint), api._role_deciding_country(traces.roles), api._role_country(traces.roles),
  api._decider(bigint, traces.roles), api._decide_cap(text, text, text, text, bigint, text[], bigint[], boolean),
  api._role_set(), api._role_json(bigint), api._general_status(bigint),
  api._user_json(bigint), api._counts(jsonb), api._me_body(bigint), api._operator_json(bigint),
  api._audit_role(bigint, text, traces.roles, text, text, jsonb), api._constraint_field(text),
  api.me(bigint, jsonb), api.me_update(bigint, jsonb), api.countries(bigint, jsonb),
  api.points_of_entry(bigint, jsonb), api.activity_types(bigint, jsonb), api.identifier_types(bigint, jsonb),
  api.control_bodies(bigint, jsonb), api.operators_search(bigint, jsonb), api.operator_get(bigint, jsonb),
  api.operator_create(bigint, jsonb), api.operator_request(bigint, jsonb), api.control_body_requests(bigint, jsonb),
  api.requests_list(bigint, jsonb), api.user_get(bigint, jsonb), api.role_decide(bigint, jsonb),
  api.responsible_for_load(bigint, jsonb), api.audit_list(bigint, jsonb)
TO traces_app;

----------------------------------------------------------------------------
-- Data: deciding authority of the third-country Control Union entries.
-- Rule: requests on a control-body entry are decided by the competent
-- authority of coalesce(supervising_country, country_code). Control Union
-- Certifications AE-BIO-149, AF-BIO-149 and AL-BIO-149 (the guide's
-- example, section 2.2) are decided by INAO (FR). Idempotent: touches only
-- rows that differ; the entries come from 007 (reference data), and
-- sql/demo.sql may repeat this UPDATE.
----------------------------------------------------------------------------
UPDATE traces.control_bodies
   SET supervising_country = 'FR'
 WHERE code IN ('AE-BIO-149', 'AF-BIO-149', 'AL-BIO-149')
   AND supervising_country IS DISTINCT FROM 'FR';
