-- 008: the api schema's common helpers, health, and the gate's session
-- functions. Every api function has the shape of docs/internals.md:
--   api.<name>(p_user bigint, p_args jsonb) RETURNS TABLE(status integer, body text)
-- returns exactly one row and starts with PERFORM api._begin(p_user).
SET client_encoding = 'UTF8';
SET ROLE traces_owner;

-- Per-transaction identity for row-level security (is_local = true: the
-- setting ends with the transaction, a pooled connection never keeps it).
CREATE FUNCTION api._begin(p_user bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM set_config('traces.user_id', coalesce(p_user, 0)::text, true);
END
$$;

-- RFC 9457 problem document. With type about:blank the title is the HTTP
-- status phrase; p_errors (422) is an array of {"field","message"}.
CREATE FUNCTION api._problem(p_status integer, p_detail text, p_errors jsonb DEFAULT NULL,
                             p_type text DEFAULT 'about:blank', p_title text DEFAULT NULL)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (jsonb_build_object(
            'type', coalesce(p_type, 'about:blank'),
            'title', coalesce(p_title, CASE p_status
                                         WHEN 400 THEN 'Bad Request'
                                         WHEN 401 THEN 'Unauthorized'
                                         WHEN 403 THEN 'Forbidden'
                                         WHEN 404 THEN 'Not Found'
                                         WHEN 405 THEN 'Method Not Allowed'
                                         WHEN 409 THEN 'Conflict'
                                         WHEN 410 THEN 'Gone'
                                         WHEN 413 THEN 'Content Too Large'
                                         WHEN 415 THEN 'Unsupported Media Type'
                                         WHEN 422 THEN 'Unprocessable Content'
                                         WHEN 429 THEN 'Too Many Requests'
                                         WHEN 500 THEN 'Internal Server Error'
                                         WHEN 503 THEN 'Service Unavailable'
                                         ELSE 'Error' END),
            'status', p_status,
            'detail', p_detail)
          || CASE WHEN p_errors IS NULL THEN '{}'::jsonb
                  ELSE jsonb_build_object('errors', p_errors) END)::text
$$;

-- {"field","message"} element of a 422 errors array
CREATE FUNCTION api._field_error(p_field text, p_message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_build_object('field', p_field, 'message', p_message)
$$;

-- Argument readers. _arg_given: key present and not JSON null.
-- _arg_int: an integral JSON number or a string of digits, else NULL.
CREATE FUNCTION api._arg_given(p_args jsonb, p_key text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_typeof(p_args -> p_key) NOT IN ('null'), false)
$$;

CREATE FUNCTION api._arg_int(p_args jsonb, p_key text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
           WHEN jsonb_typeof(p_args -> p_key) IN ('number', 'string')
                AND (p_args ->> p_key) ~ '^-?[0-9]{1,18}$'
           THEN (p_args ->> p_key)::bigint
         END
$$;

-- _arg_text: a JSON string, else NULL (numbers, objects... are not text).
CREATE FUNCTION api._arg_text(p_args jsonb, p_key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(p_args -> p_key) = 'string' THEN p_args ->> p_key END
$$;

----------------------------------------------------------------------------
-- api.health(0, {}) -> 200 {"status":"ok","database":"ok","schema":N}
-- N = highest applied migration. It reads traces.schema_migrations, so it
-- waits while a migration holds a lock on that table.
----------------------------------------------------------------------------
CREATE FUNCTION api.health(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_version integer;
BEGIN
  PERFORM api._begin(p_user);
  SELECT max(m.version) INTO v_version FROM traces.schema_migrations m;
  RETURN QUERY SELECT 200, jsonb_build_object('status', 'ok', 'database', 'ok', 'schema', v_version)::text;
END
$$;

----------------------------------------------------------------------------
-- api.session_create(0, {"hash","sub","uid","email","given_name",
--   "family_name","sid","idle","lifetime"})
--   -> 201 {"user_id":N,"expires":epoch}
-- Creates or updates the user (by sub) from the ID token claims and stores
-- the session under the hash of its id. idle / lifetime in seconds.
--   422 bad arguments; 409 a session with this hash already exists.
----------------------------------------------------------------------------
CREATE FUNCTION api.session_create(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_hash        text := api._arg_text(p_args, 'hash');
  v_sub         text := api._arg_text(p_args, 'sub');
  v_uid         text := nullif(api._arg_text(p_args, 'uid'), '');
  v_email       text := nullif(api._arg_text(p_args, 'email'), '');
  v_given       text := nullif(api._arg_text(p_args, 'given_name'), '');
  v_family      text := nullif(api._arg_text(p_args, 'family_name'), '');
  v_sid         text := nullif(api._arg_text(p_args, 'sid'), '');
  v_idle        bigint := coalesce(api._arg_int(p_args, 'idle'), 1800);
  v_lifetime    bigint := coalesce(api._arg_int(p_args, 'lifetime'), 28800);
  v_errors      jsonb := '[]'::jsonb;
  v_user        bigint;
  v_expires     timestamptz;
BEGIN
  PERFORM api._begin(p_user);

  IF v_hash IS NULL OR v_hash !~ '^[0-9a-f]{64}$' THEN
    v_errors := v_errors || api._field_error('hash', 'must be the hex SHA-256 of the session id (64 lowercase hex digits)');
  END IF;
  IF v_sub IS NULL OR v_sub = '' OR length(v_sub) > 255 THEN
    v_errors := v_errors || api._field_error('sub', 'required, 1 to 255 characters');
  END IF;
  IF api._arg_given(p_args, 'idle') AND (api._arg_int(p_args, 'idle') IS NULL OR v_idle NOT BETWEEN 1 AND 31536000) THEN
    v_errors := v_errors || api._field_error('idle', 'seconds, an integer from 1 to 31536000');
  END IF;
  IF api._arg_given(p_args, 'lifetime') AND (api._arg_int(p_args, 'lifetime') IS NULL OR v_lifetime NOT BETWEEN 1 AND 31536000) THEN
    v_errors := v_errors || api._field_error('lifetime', 'seconds, an integer from 1 to 31536000');
  END IF;
  IF length(v_uid) > 255 THEN v_errors := v_errors || api._field_error('uid', 'at most 255 characters'); END IF;
  IF length(v_email) > 320 THEN v_errors := v_errors || api._field_error('email', 'at most 320 characters'); END IF;
  IF length(v_given) > 200 THEN v_errors := v_errors || api._field_error('given_name', 'at most 200 characters'); END IF;
  IF length(v_family) > 200 THEN v_errors := v_errors || api._field_error('family_name', 'at most 200 characters'); END IF;
  IF length(v_sid) > 512 THEN v_errors := v_errors || api._field_error('sid', 'at most 512 characters'); END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._problem(422, 'invalid session arguments', v_errors);
    RETURN;
  END IF;

  -- the user: created at first login, refreshed from the claims (no write
  -- when nothing changed)
  INSERT INTO traces.users AS u (sub, uid, email, given_name, family_name)
  VALUES (v_sub, coalesce(v_uid, v_sub), v_email, v_given, v_family)
  ON CONFLICT (sub) DO UPDATE
     SET uid = coalesce(EXCLUDED.uid, u.uid),
         email = coalesce(EXCLUDED.email, u.email),
         given_name = coalesce(EXCLUDED.given_name, u.given_name),
         family_name = coalesce(EXCLUDED.family_name, u.family_name),
         updated_at = now()
   WHERE (u.uid, u.email, u.given_name, u.family_name)
         IS DISTINCT FROM (coalesce(EXCLUDED.uid, u.uid), coalesce(EXCLUDED.email, u.email),
                           coalesce(EXCLUDED.given_name, u.given_name), coalesce(EXCLUDED.family_name, u.family_name))
  RETURNING u.id INTO v_user;
  IF v_user IS NULL THEN
    SELECT u.id INTO v_user FROM traces.users u WHERE u.sub = v_sub;
  END IF;

  -- this user's ended sessions go away
  DELETE FROM traces.sessions s
   WHERE s.user_id = v_user
     AND (s.expires_at <= now() OR s.last_seen + s.idle_seconds * interval '1 second' <= now());

  v_expires := now() + v_lifetime * interval '1 second';
  INSERT INTO traces.sessions (hash, user_id, sid, created_at, last_seen, expires_at, idle_seconds)
  VALUES (v_hash, v_user, v_sid, now(), now(), v_expires, v_idle)
  ON CONFLICT (hash) DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 409, api._problem(409, 'a session with this id already exists');
    RETURN;
  END IF;

  RETURN QUERY SELECT 201, jsonb_build_object(
    'user_id', v_user,
    'expires', floor(extract(epoch FROM least(v_expires, now() + v_idle * interval '1 second')))::bigint)::text;
END
$$;

----------------------------------------------------------------------------
-- api.session_lookup(0, {"hash","idle"})
--   -> 200 {"user_id","uid","email","roles","expires"} | 401
-- A session is alive while now < expires_at (absolute) and now < last_seen +
-- idle; a lookup refreshes last_seen. roles: the VALID roles only, comma
-- separated kind:org_id[:admin], ordered by kind then organisation id.
-- expires: epoch second at which the session ends if not used again.
----------------------------------------------------------------------------
CREATE FUNCTION api.session_lookup(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_hash    text := api._arg_text(p_args, 'hash');
  v_idle    bigint := api._arg_int(p_args, 'idle');
  v_user    bigint;
  v_expires timestamptz;
  v_uid     text;
  v_email   text;
  v_roles   text;
BEGIN
  PERFORM api._begin(p_user);
  IF v_idle IS NOT NULL AND v_idle NOT BETWEEN 1 AND 31536000 THEN
    v_idle := NULL;
  END IF;
  IF v_hash IS NULL OR v_hash !~ '^[0-9a-f]{64}$' THEN
    RETURN QUERY SELECT 401, api._problem(401, 'no valid session');
    RETURN;
  END IF;

  UPDATE traces.sessions s
     SET last_seen = now(),
         idle_seconds = coalesce(v_idle, s.idle_seconds)
   WHERE s.hash = v_hash
     AND s.expires_at > now()
     AND s.last_seen + coalesce(v_idle, s.idle_seconds) * interval '1 second' > now()
  RETURNING s.user_id, least(s.expires_at, now() + s.idle_seconds * interval '1 second')
       INTO v_user, v_expires;

  IF v_user IS NULL THEN
    DELETE FROM traces.sessions s WHERE s.hash = v_hash;   -- ended: forget it
    RETURN QUERY SELECT 401, api._problem(401, 'no valid session');
    RETURN;
  END IF;

  SELECT coalesce(u.uid, u.sub), u.email INTO v_uid, v_email FROM traces.users u WHERE u.id = v_user;

  SELECT coalesce(string_agg(x.role, ',' ORDER BY x.kind_order, x.org_id), '') INTO v_roles
    FROM (SELECT r.kind || ':' || coalesce(r.operator_id, r.control_body_id, r.authority_id,
                                           r.point_of_entry_id, r.commission_id)
                 || CASE WHEN r.is_admin AND r.kind = 'operator' THEN ':admin' ELSE '' END AS role,
                 array_position(ARRAY['operator', 'control_body', 'authority', 'point_of_entry', 'commission'],
                                r.kind) AS kind_order,
                 coalesce(r.operator_id, r.control_body_id, r.authority_id,
                          r.point_of_entry_id, r.commission_id) AS org_id
            FROM traces.roles r
           WHERE r.user_id = v_user AND r.status = 'valid') x;

  RETURN QUERY SELECT 200, jsonb_build_object(
    'user_id', v_user,
    'uid', v_uid,
    'email', v_email,
    'roles', v_roles,
    'expires', floor(extract(epoch FROM v_expires))::bigint)::text;
END
$$;

----------------------------------------------------------------------------
-- api.session_delete(0, {"hash"}) -> 200 {"sessions":N} (N = 0 or 1; an
-- unknown session is not an error: logging out twice is fine). 422 when
-- hash is not a hex SHA-256.
----------------------------------------------------------------------------
CREATE FUNCTION api.session_delete(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_hash text := api._arg_text(p_args, 'hash');
  v_n    bigint;
BEGIN
  PERFORM api._begin(p_user);
  IF v_hash IS NULL OR v_hash !~ '^[0-9a-f]{64}$' THEN
    RETURN QUERY SELECT 422, api._problem(422, 'invalid session arguments',
      jsonb_build_array(api._field_error('hash', 'must be the hex SHA-256 of the session id (64 lowercase hex digits)')));
    RETURN;
  END IF;
  DELETE FROM traces.sessions s WHERE s.hash = v_hash;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  RETURN QUERY SELECT 200, jsonb_build_object('sessions', v_n)::text;
END
$$;

----------------------------------------------------------------------------
-- api.backchannel_logout(0, {"sub","sid","jti","exp"})
--   -> 200 {"sessions":N,"hashes":[...]} | 409 (jti already seen) | 422
-- Called after the module verified the logout token. Ends the sessions of
-- the EU Login session sid (and of the user sub when both are given), or
-- all sessions of sub when there is no sid. The jti is kept until exp
-- (epoch seconds; one day from now when absent) against replay.
----------------------------------------------------------------------------
CREATE FUNCTION api.backchannel_logout(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_sub    text := nullif(api._arg_text(p_args, 'sub'), '');
  v_sid    text := nullif(api._arg_text(p_args, 'sid'), '');
  v_jti    text := nullif(api._arg_text(p_args, 'jti'), '');
  v_exp    numeric;
  v_errors jsonb := '[]'::jsonb;
  v_n      bigint;
  v_hashes jsonb;
BEGIN
  PERFORM api._begin(p_user);
  IF v_jti IS NULL OR length(v_jti) > 512 THEN
    v_errors := v_errors || api._field_error('jti', 'required, 1 to 512 characters');
  END IF;
  IF v_sub IS NULL AND v_sid IS NULL THEN
    v_errors := v_errors || api._field_error('sub', 'sub or sid is required');
  END IF;
  IF api._arg_given(p_args, 'exp') THEN
    IF jsonb_typeof(p_args -> 'exp') = 'number' AND (p_args ->> 'exp')::numeric BETWEEN 0 AND 1e11 THEN
      v_exp := (p_args ->> 'exp')::numeric;
    ELSIF jsonb_typeof(p_args -> 'exp') = 'string' AND (p_args ->> 'exp') ~ '^[0-9]{1,11}$' THEN
      v_exp := (p_args ->> 'exp')::numeric;
    ELSE
      v_errors := v_errors || api._field_error('exp', 'epoch seconds');
    END IF;
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._problem(422, 'invalid logout token claims', v_errors);
    RETURN;
  END IF;

  INSERT INTO traces.logout_jtis (jti, exp)
  VALUES (v_jti, coalesce(to_timestamp(v_exp::double precision), now() + interval '1 day'))
  ON CONFLICT (jti) DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 409, api._problem(409, 'this logout token was already used',
                                          NULL, 'urn:traces:problem:logout-token-replayed', 'Logout token replayed');
    RETURN;
  END IF;

  -- the hashes go back to the module, which drops them from its cache
  WITH gone AS (
    DELETE FROM traces.sessions s
     USING traces.users u
     WHERE u.id = s.user_id
       AND (v_sub IS NULL OR u.sub = v_sub)
       AND (v_sid IS NULL OR s.sid = v_sid)
    RETURNING s.hash)
  SELECT count(*), coalesce(jsonb_agg(hash), '[]'::jsonb) INTO v_n, v_hashes FROM gone;
  RETURN QUERY SELECT 200, jsonb_build_object('sessions', v_n, 'hashes', v_hashes)::text;
END
$$;

-- Belt and braces: whatever default privileges say, the module's role can
-- execute every api function (they are SECURITY INVOKER: privileges on the
-- tables still apply) and PUBLIC none.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO traces_app;
