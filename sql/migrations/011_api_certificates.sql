-- 011: the certificate API (DESIGN.md §3 "Who sees which certificate", §4):
--   api.certificates_list(user, {status?, from?, to?, origin?, point_of_entry?,
--                                cn?, q?, after?, limit?})
--   api.certificate_get(user, {id})
-- plus the draft rule for row-level security, api.can_see_certificate
-- brought in line with it, the search indexes (pg_trgm) and the search
-- function traces.search_certificates with its role traces_search.
--
-- Visibility (the rule, decided from the caller's VALID roles only; union
-- over all of them; a caller without any valid role gets 403 no-access):
--   operator        its operator is the importer (box 12), the first
--                   consignee or the operator responsible for the
--                   consignment (part II)
--   control_body    the certificate is issued by its entry (box 1)
--   authority       destination country (box 11) = the authority's country
--   point_of_entry  ("responsible for the load") box 10 is its point of entry
--   commission      all certificates
-- Drafts: a certificate in status 'draft' is the issuing control body's
-- work in progress, not yet a certificate for anybody else: it is visible
-- ONLY through the control_body scope (box 1 = one of the caller's valid
-- control body entries). Importer, consignee, responsible operator,
-- authority, point of entry and the Commission do not see drafts (the
-- Commission sees "all" issued or submitted certificates). Every other
-- status (new, in_progress, issued, verified, rejected, received,
-- cancelled, replaced) follows the table above.
--
-- The rule is enforced twice:
--   * by row-level security alone (traces_app): the permissive policy
--     certificates_visible of 006 (scopes) AND the restrictive policy
--     certificates_drafts below (006 let every scope see drafts);
--   * explicitly in the functions, per scope, so that the planner walks one
--     keyset index per scope value (006: certificates_importer,
--     certificates_first_consignee, certificates_responsible,
--     certificates_issuer, certificates_point_of_entry,
--     certificates_destination, certificates_listed for the Commission).
--
-- Paging: ordering key (listed_at DESC, id DESC) where listed_at =
-- coalesce(issued_at, created_at) (a stored column of 006) and id the
-- primary key: a total order. Cursor "c1.<listed_at in microseconds since
-- 1970-01-01 UTC>.<id>" (opaque to clients; characters [a-z0-9.]), meaning
-- "strictly after this row". A page never uses OFFSET: every scope branch
-- starts at the cursor in its index and reads at most limit+1 rows, the
-- branches are merged, deduplicated and cut to limit+1 (the extra row says
-- whether there is a next page). A certificate inserted while a client
-- walks the pages gets listed_at = its creation (or issue) time: with
-- now() it lands before the cursor and is never returned twice; the rows
-- present when the walk started are each returned exactly once, whatever
-- is inserted meanwhile, because the key of a row does not change (issued_at
-- is set once, when a certificate is issued; no write path exists yet).
-- The one event that will move a row is its issue (listed_at goes from
-- created_at to issued_at, i.e. forward): a walk in progress then sees it
-- once or not at all, never twice.
SET client_encoding = 'UTF8';

-- Trigram indexes for the q search (postgresql-contrib ships pg_trgm).
-- Needs a superuser: before SET ROLE.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- traces_search: NOLOGIN, owns traces.search_certificates only (see
-- "Search" below). Cluster-wide, so created only when missing.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'traces_search') THEN
    BEGIN
      CREATE ROLE traces_search NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;
ALTER ROLE traces_search NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;

SET ROLE traces_owner;

----------------------------------------------------------------------------
-- Indexes. The keyset indexes per scope are in 006. Here:
--   q   substring search (ILIKE '%q%'): trigram GIN on box 3 (reference),
--       box 5 (exporter name) and box 13 (trade names); importer names are
--       matched in traces.operators (small) and then by certificates_importer.
--   cn  CN code prefix on box 13 lines.
----------------------------------------------------------------------------
DO $$
DECLARE
  v_schema text;
BEGIN
  SELECT n.nspname INTO v_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_trgm';
  EXECUTE format('CREATE INDEX IF NOT EXISTS certificates_reference_trgm ON traces.certificates '
                 'USING gin (reference %I.gin_trgm_ops)', v_schema);
  EXECUTE format('CREATE INDEX IF NOT EXISTS certificates_exporter_name_trgm ON traces.certificates '
                 'USING gin (exporter_name %I.gin_trgm_ops)', v_schema);
  EXECUTE format('CREATE INDEX IF NOT EXISTS certificate_lines_trade_name_trgm ON traces.certificate_lines '
                 'USING gin (trade_name %I.gin_trgm_ops)', v_schema);
END
$$;
CREATE INDEX IF NOT EXISTS certificate_lines_cn_code ON traces.certificate_lines (cn_code text_pattern_ops);

----------------------------------------------------------------------------
-- Row-level security: drafts. Restrictive, so it is ANDed with the
-- permissive certificates_visible of 006. Lines and status history follow
-- (their policies look their certificate up through this table).
----------------------------------------------------------------------------
DROP POLICY IF EXISTS certificates_drafts ON traces.certificates;
CREATE POLICY certificates_drafts ON traces.certificates
  AS RESTRICTIVE FOR SELECT TO traces_app
  USING (status <> 'draft'
         OR issuer_id = ANY ((SELECT api._scope_control_bodies())::bigint[]));

-- Same rule, explicit (true for a caller that bypasses row-level security).
CREATE OR REPLACE FUNCTION api.can_see_certificate(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (
    SELECT 1 FROM traces.certificates c
     WHERE c.id = p_id
       AND (c.issuer_id = ANY ((SELECT api._scope_control_bodies())::bigint[])
            OR (c.status <> 'draft'
                AND ((SELECT api._scope_all())
                     OR c.importer_id = ANY ((SELECT api._scope_operators())::bigint[])
                     OR c.first_consignee_id = ANY ((SELECT api._scope_operators())::bigint[])
                     OR c.responsible_operator_id = ANY ((SELECT api._scope_operators())::bigint[])
                     OR c.point_of_entry_id = ANY ((SELECT api._scope_points_of_entry())::bigint[])
                     OR c.destination_country = ANY ((SELECT api._scope_countries())::text[])))))
$$;

----------------------------------------------------------------------------
-- Search. ILIKE (like LIKE, regular expressions and the pg_trgm operators)
-- is not leakproof, so under row-level security PostgreSQL never uses it as
-- an index condition on a table with a policy for the caller: as
-- traces_app, a q search would read all 1,000,000 certificates and 2,000,000
-- lines. traces.search_certificates does the trigram part as traces_search,
-- a NOLOGIN role that only this SECURITY DEFINER function runs as, which
-- may read certificates and lines unfiltered (policies USING (true), for
-- it alone), and which applies the visibility rule itself (same scope
-- helpers as the policies, i.e. the same traces.user_id), so it returns
-- only ids the caller may see: at most p_limit of them, not distinct, in
-- no particular order. api.certificates_list re-checks them (rule and RLS)
-- and applies the other filters.
----------------------------------------------------------------------------
GRANT USAGE ON SCHEMA traces, api TO traces_search;
GRANT SELECT ON traces.certificates, traces.certificate_lines, traces.operators,
                traces.roles, traces.competent_authorities TO traces_search;
GRANT EXECUTE ON FUNCTION api._user_id(), api._scope_all(), api._scope_operators(),
                          api._scope_control_bodies(), api._scope_points_of_entry(),
                          api._scope_countries() TO traces_search;
DROP POLICY IF EXISTS certificates_search ON traces.certificates;
CREATE POLICY certificates_search ON traces.certificates FOR SELECT TO traces_search USING (true);
DROP POLICY IF EXISTS certificate_lines_search ON traces.certificate_lines;
CREATE POLICY certificate_lines_search ON traces.certificate_lines FOR SELECT TO traces_search USING (true);

CREATE FUNCTION traces.search_certificates(p_pattern text, p_cn text, p_limit integer) RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off AS $$
DECLARE
  v_rule text := ' AND (c.issuer_id = ANY ($4) OR (c.status <> ''draft'' AND ($3'
              || ' OR c.importer_id = ANY ($5) OR c.first_consignee_id = ANY ($5)'
              || ' OR c.responsible_operator_id = ANY ($5) OR c.point_of_entry_id = ANY ($6)'
              || ' OR c.destination_country = ANY ($7))))';
  v_imp  bigint[];
  v_ids  bigint[];
BEGIN
  IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100001 THEN
    RETURN NULL;
  END IF;
  IF p_pattern IS NULL THEN
    -- box 13 CN code starting with p_cn (digits)
    IF p_cn IS NULL OR p_cn !~ '^[0-9]{1,8}$' THEN
      RETURN NULL;
    END IF;
    EXECUTE 'SELECT array_agg(m.id) FROM (SELECT c.id FROM traces.certificate_lines l'
         || ' JOIN traces.certificates c ON c.id = l.certificate_id'
         || ' WHERE l.cn_code ~>=~ $1 AND l.cn_code ~<~ $2' || v_rule || ' LIMIT $8) m'
       INTO v_ids
      USING p_cn, p_cn || '~', api._scope_all(), api._scope_control_bodies(), api._scope_operators(),
            api._scope_points_of_entry(), api._scope_countries(), p_limit;
    RETURN coalesce(v_ids, '{}');
  END IF;
  v_imp := ARRAY(SELECT o.id FROM traces.operators o WHERE o.name ILIKE p_pattern);
  -- dynamic for a plan made for this pattern; values are parameters
  EXECUTE 'SELECT array_agg(m.id) FROM ('
       || '(SELECT c.id FROM traces.certificates c WHERE c.reference ILIKE $1' || v_rule || ')'
       || ' UNION ALL (SELECT c.id FROM traces.certificates c WHERE c.exporter_name ILIKE $1' || v_rule || ')'
       || ' UNION ALL (SELECT c.id FROM traces.certificates c WHERE c.importer_id = ANY ($2)' || v_rule || ')'
       || ' UNION ALL (SELECT c.id FROM traces.certificate_lines l JOIN traces.certificates c ON c.id = l.certificate_id'
       || ' WHERE l.trade_name ILIKE $1' || v_rule || ')'
       || ' LIMIT $8) m'
     INTO v_ids
    USING p_pattern, v_imp, api._scope_all(), api._scope_control_bodies(), api._scope_operators(),
          api._scope_points_of_entry(), api._scope_countries(), p_limit;
  RETURN coalesce(v_ids, '{}');
END
$$;
COMMENT ON FUNCTION traces.search_certificates(text, text, integer) IS
  'ids of certificates visible to traces.user_id whose reference, exporter name, importer name or a trade name matches the ILIKE pattern p_pattern, or (p_pattern null) with a line whose CN code starts with p_cn; at most p_limit, not distinct; runs as traces_search to use the indexes';

----------------------------------------------------------------------------
-- Helpers (prefixed _cert_ so that they never meet another migration's)
----------------------------------------------------------------------------

-- RFC 3339 UTC, second precision: 2026-10-31T14:05:09Z
CREATE FUNCTION api._cert_time(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- Paging cursor of a row: c1.<listed_at, microseconds since epoch>.<id>
CREATE FUNCTION api._cert_cursor(p_listed_at timestamptz, p_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT 'c1.' || (extract(epoch FROM p_listed_at) * 1000000)::bigint || '.' || p_id
$$;

-- A user's name for status history and reception
CREATE FUNCTION api._cert_user_name(p_user bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(btrim(coalesce(u.given_name, '') || ' ' || coalesce(u.family_name, '')), ''), u.uid, u.sub)
    FROM traces.users u WHERE u.id = p_user
$$;

-- Problem documents, the same as 009's (urn:traces:problem:<slug>), built
-- here with 008's api._problem so that this file does not depend on 009.
-- No session (user 0 or unknown): 401; no valid role at all: 403 no-access.
CREATE FUNCTION api._cert_unauthenticated() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT api._problem(401, 'Sign in with EU Login first.', NULL, 'urn:traces:problem:unauthenticated', NULL)
$$;

CREATE FUNCTION api._cert_no_access() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT api._problem(403,
    'No access yet: your request is pending validation (Accès à l''application : pas d''accès).',
    NULL, 'urn:traces:problem:no-access', 'Forbidden')
$$;

----------------------------------------------------------------------------
-- api.certificates_list(user, {status?, from?, to?, origin?, point_of_entry?,
--                             cn?, q?, after?, limit?})
--   -> 200 {"items":[item...], "next": cursor | null}
--      401 no session (user 0 or unknown: urn:traces:problem:unauthenticated)
--      403 no valid role (urn:traces:problem:no-access)
--      422 bad filter (urn:traces:problem:invalid-input, errors: [{field, message}])
-- Filters (all ANDed):
--   status          one status
--   from, to        YYYY-MM-DD, inclusive, on the listing date listed_at
--                   (issue date, or creation date while not issued), UTC days
--   origin          box 8 country code
--   point_of_entry  box 10 id
--   cn              box 13: a line whose CN code starts with these digits
--                   (spaces and dots ignored)
--   q               case-insensitive substring of box 3 (reference), the
--                   importer's name, box 5 (exporter name) or a box 13 trade
--                   name
--   after           cursor of the previous page's "next"
--   limit           1..100, default 20
-- item: {"id","reference","status","issuer":{"id","code","name"},
--        "exporter":{"name","country"},"origin","point_of_entry":{"id","code",
--        "name"},"destination","importer":{"id","name","eori"},
--        "first_consignee":{"id","name"}|null,"products","lines","issued_at",
--        "created_at"}
--
-- How a page is found. The statements are assembled from fixed fragments
-- chosen by which scopes the caller has and which filters are given; every
-- value goes in as a parameter (EXECUTE ... USING: planned for the values,
-- never SQL built from input). Branches: one per scope value, each walking
-- that scope's keyset index from the cursor (the Commission: one branch
-- over certificates_listed, plus its control body entries' branch, if any,
-- for their drafts). Without q/cn, only phase 3 runs.
--   1. q or cn given: a probe reads at most 1000 rows per branch from the
--      cursor and keeps those that pass the filters; when every branch ran
--      out or read past the page's last row, that is the page (frequent
--      terms).
--   2. else, for a rarer term (fewer than limit/20 hits in the probe) with
--      a run of 3 letters/digits (so that trigrams apply), or a cn: up to
--      5000 visible matching ids through the trigram / CN indexes
--      (traces.search_certificates). When there are no more than that, the
--      page is those that pass every filter and the explicit rule, sorted:
--      cost bounded by 5000 rows whatever the depth.
--   3. else: every branch is an index range scan from the cursor with the
--      filters, LIMIT limit+1; merge, deduplicate, cut to limit+1.
----------------------------------------------------------------------------
CREATE FUNCTION api.certificates_list(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE
-- the plans' costs are those of whole-table scans cut by LIMIT: JIT would
-- compile for seconds what runs in milliseconds
SET jit = off AS $$
#variable_conflict use_column
DECLARE
  c_candidates constant integer := 5000;
  c_probe      constant integer := 1000;
  v_args       jsonb := CASE WHEN jsonb_typeof(p_args) = 'object' THEN p_args ELSE '{}'::jsonb END;
  v_errors     jsonb := '[]'::jsonb;
  v_text       text;
  v_status     text;
  v_from       date;
  v_to         date;
  v_from_ts    timestamptz;
  v_to_ts      timestamptz;
  v_origin     text;
  v_poe        bigint;
  v_cn         text;
  v_cn_lo      text;
  v_cn_hi      text;
  v_q          text;
  v_q_pat      text;
  v_q_imp      bigint[];
  v_limit      integer := 20;
  v_after      boolean := false;
  v_after_ts   timestamptz;
  v_after_id   bigint;
  v_m          text[];
  v_all        boolean;
  v_ops        bigint[];
  v_cbs        bigint[];
  v_poes       bigint[];
  v_countries  text[];
  v_cands      bigint[];
  v_exact      boolean := false;
  v_done       boolean := false;
  v_cond       text;
  v_test       text;
  v_scopes     text[] := '{}';   -- per branch: array parameter, column, draft rule, branch number
  v_list       text[];
  v_i          integer;
  v_hits       integer := 0;
  v_ids        bigint[];
  v_listed     timestamptz[];
  v_n          integer;
  v_next       text;
  v_items      json;
BEGIN
  PERFORM api._begin(p_user);

  IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM traces.users u WHERE u.id = p_user) THEN
    RETURN QUERY SELECT 401, api._cert_unauthenticated();
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM traces.roles r WHERE r.user_id = p_user AND r.status = 'valid') THEN
    RETURN QUERY SELECT 403, api._cert_no_access();
    RETURN;
  END IF;

  -- arguments
  IF api._arg_given(v_args, 'status') THEN
    v_status := api._arg_text(v_args, 'status');
    IF v_status IS NULL OR v_status NOT IN ('draft', 'new', 'in_progress', 'issued', 'verified',
                                            'rejected', 'received', 'cancelled', 'replaced') THEN
      v_errors := v_errors || api._field_error('status',
        'one of draft, new, in_progress, issued, verified, rejected, received, cancelled, replaced');
    END IF;
  END IF;
  IF api._arg_given(v_args, 'from') THEN
    v_text := api._arg_text(v_args, 'from');
    BEGIN
      IF coalesce(v_text, '') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN RAISE invalid_datetime_format; END IF;
      v_from := v_text::date;
    EXCEPTION WHEN OTHERS THEN
      v_errors := v_errors || api._field_error('from', 'a date YYYY-MM-DD');
    END;
  END IF;
  IF api._arg_given(v_args, 'to') THEN
    v_text := api._arg_text(v_args, 'to');
    BEGIN
      IF coalesce(v_text, '') !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' THEN RAISE invalid_datetime_format; END IF;
      v_to := v_text::date;
    EXCEPTION WHEN OTHERS THEN
      v_errors := v_errors || api._field_error('to', 'a date YYYY-MM-DD');
    END;
  END IF;
  IF v_from IS NOT NULL AND v_to IS NOT NULL AND v_to < v_from THEN
    v_errors := v_errors || api._field_error('to', 'must not be before from');
  END IF;
  IF api._arg_given(v_args, 'origin') THEN
    v_origin := upper(api._arg_text(v_args, 'origin'));
    IF v_origin IS NULL OR v_origin !~ '^[A-Z]{2}$' THEN
      v_errors := v_errors || api._field_error('origin', 'a two-letter country code');
    END IF;
  END IF;
  IF api._arg_given(v_args, 'point_of_entry') THEN
    v_poe := api._arg_int(v_args, 'point_of_entry');
    IF v_poe IS NULL OR v_poe < 1 THEN
      v_errors := v_errors || api._field_error('point_of_entry', 'a point of entry id');
    END IF;
  END IF;
  IF api._arg_given(v_args, 'cn') THEN
    v_cn := translate(coalesce(api._arg_text(v_args, 'cn'), api._arg_int(v_args, 'cn')::text), ' .', '');
    IF v_cn IS NULL OR v_cn !~ '^[0-9]{1,8}$' THEN
      v_errors := v_errors || api._field_error('cn', 'the first 1 to 8 digits of a CN code');
    ELSE
      -- "starts with v_cn" as a range of the pattern (bytewise) order:
      -- leakproof operators, usable as an index condition under
      -- row-level security (LIKE is not leakproof, so it is not)
      v_cn_lo := v_cn;
      v_cn_hi := v_cn || '~';
    END IF;
  END IF;
  IF api._arg_given(v_args, 'q') THEN
    v_q := btrim(api._arg_text(v_args, 'q'));
    IF v_q IS NULL OR length(v_q) > 100 THEN
      v_errors := v_errors || api._field_error('q', 'text, at most 100 characters');
    ELSIF v_q <> '' THEN
      v_q_pat := '%' || replace(replace(replace(v_q, '\', '\\'), '%', '\%'), '_', '\_') || '%';
    END IF;
  END IF;
  IF api._arg_given(v_args, 'after') THEN
    v_m := regexp_match(coalesce(api._arg_text(v_args, 'after'), ''), '^c1\.(-?[0-9]{1,17})\.([0-9]{1,18})$');
    IF v_m IS NULL THEN
      v_errors := v_errors || api._field_error('after', 'not a cursor of this list');
    ELSE
      v_after := true;
      v_after_ts := timestamptz 'epoch' + v_m[1]::bigint * interval '1 microsecond';
      v_after_id := v_m[2]::bigint;
    END IF;
  END IF;
  IF api._arg_given(v_args, 'limit') THEN
    v_limit := api._arg_int(v_args, 'limit');
    IF v_limit IS NULL OR v_limit NOT BETWEEN 1 AND 100 THEN
      v_errors := v_errors || api._field_error('limit', 'an integer from 1 to 100');
    END IF;
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    RETURN QUERY SELECT 422, api._problem(422, 'The request has invalid fields.', v_errors,
                                          'urn:traces:problem:invalid-input', NULL);
    RETURN;
  END IF;

  v_from_ts := v_from::timestamp AT TIME ZONE 'UTC';
  v_to_ts := (v_to + 1)::timestamp AT TIME ZONE 'UTC';

  -- the caller's scopes (valid roles only; same helpers as the policies)
  v_all := api._scope_all();
  v_ops := api._scope_operators();
  v_cbs := api._scope_control_bodies();
  v_poes := api._scope_points_of_entry();
  v_countries := api._scope_countries();

  IF v_q_pat IS NOT NULL THEN
    v_q_imp := ARRAY(SELECT o.id FROM traces.operators o WHERE o.name ILIKE v_q_pat);
  END IF;

  -- Parameters of the statements below:
  --  $1 after listed_at  $2 after id  $3 limit+1  $4 from  $5 to (exclusive)
  --  $6 status  $7 origin  $8 point_of_entry  $9 cn range start  $10 q pattern
  --  $11 importers matching q  $12 operators  $13 control bodies
  --  $14 points of entry  $15 countries  $16 commission  $17 candidates
  --  $18 cn range end  $19 rows a probe branch reads
  -- v_cond: conditions on the keyset index (cursor, dates). One upper
  -- bound only, the tighter of cursor and "to" (given both, a B-tree scan
  -- would start at the row comparison and filter down to the date).
  v_cond := CASE WHEN v_after AND (v_to IS NULL OR v_after_ts < v_to_ts)
                 THEN ' AND (c.listed_at, c.id) < ($1, $2)'
                 WHEN v_to IS NOT NULL THEN ' AND c.listed_at < $5'
                 ELSE '' END
    || CASE WHEN v_from IS NOT NULL THEN ' AND c.listed_at >= $4' ELSE '' END;
  -- v_test: the other filters, cheapest first. The line tests are scalar
  -- sub-selects (bool_or), not EXISTS: an EXISTS would be planned as a
  -- semi-join or a hashed sub-plan that reads every matching line of the
  -- database before the first row; a scalar sub-select is one primary-key
  -- probe per row read.
  v_test := concat_ws(' AND ',
    CASE WHEN v_status IS NOT NULL THEN 'c.status = $6' END,
    CASE WHEN v_origin IS NOT NULL THEN 'c.origin_country = $7' END,
    CASE WHEN v_poe IS NOT NULL THEN 'c.point_of_entry_id = $8' END,
    CASE WHEN v_q_pat IS NOT NULL THEN
      '(c.reference ILIKE $10 OR c.exporter_name ILIKE $10 OR c.importer_id = ANY ($11)'
      || ' OR (SELECT bool_or(l.trade_name ILIKE $10) FROM traces.certificate_lines l'
      || ' WHERE l.certificate_id = c.id))' END,
    CASE WHEN v_cn IS NOT NULL THEN
      '(SELECT bool_or(l.cn_code ~>=~ $9 AND l.cn_code ~<~ $18) FROM traces.certificate_lines l'
      || ' WHERE l.certificate_id = c.id)' END);

  -- The scope branches: the Commission reads certificates_listed; every
  -- other scope reads, per value (operator, entry, point, country), the
  -- keyset index of its column. Drafts only through the control body
  -- entries (so a status=draft filter leaves only those).
  IF v_all AND coalesce(v_status, '') <> 'draft' THEN
    v_scopes := v_scopes || ARRAY['', '', ' AND c.status <> ''draft''', '0'];
  ELSIF coalesce(v_status, '') <> 'draft' THEN
    IF cardinality(v_ops) > 0 THEN
      v_scopes := v_scopes || ARRAY['$12', 'importer_id', ' AND c.status <> ''draft''', '1']
                           || ARRAY['$12', 'first_consignee_id', ' AND c.status <> ''draft''', '2']
                           || ARRAY['$12', 'responsible_operator_id', ' AND c.status <> ''draft''', '3'];
    END IF;
    IF cardinality(v_poes) > 0 THEN
      v_scopes := v_scopes || ARRAY['$14', 'point_of_entry_id', ' AND c.status <> ''draft''', '4'];
    END IF;
    IF cardinality(v_countries) > 0 THEN
      v_scopes := v_scopes || ARRAY['$15', 'destination_country', ' AND c.status <> ''draft''', '5'];
    END IF;
  END IF;
  IF cardinality(v_cbs) > 0 THEN
    v_scopes := v_scopes || ARRAY['$13', 'issuer_id', '', '6'];
  END IF;

  IF cardinality(v_scopes) = 0 THEN
    v_done := true;   -- nothing to read (a draft filter without a control body role)
  END IF;

  -- Phase 1 (q or cn given): a bounded probe. Every branch reads at most
  -- c_probe rows from the cursor on, in key order, and marks the ones that
  -- pass the filters. The hits are the exact page when every branch either
  -- ran out of rows or read past the last row of the page; that is the case
  -- for a frequent term, and costs at most c_probe rows per branch.
  IF NOT v_done AND (v_q_pat IS NOT NULL OR v_cn IS NOT NULL) THEN
    v_list := '{}';
    FOR v_i IN 1 .. cardinality(v_scopes) / 4 LOOP
      IF v_scopes[4 * v_i - 3] = '' THEN
        v_list := v_list || format(
          '(SELECT 0::bigint AS g, c.id, c.listed_at, (%s) AS hit FROM traces.certificates c'
          || ' WHERE true%s%s ORDER BY c.listed_at DESC, c.id DESC LIMIT $19)',
          v_test, v_scopes[4 * v_i - 1], v_cond);
      ELSE
        v_list := v_list || format(
          '(SELECT x.g, x.id, x.listed_at, x.hit FROM unnest(%s) WITH ORDINALITY s(v, o) CROSS JOIN LATERAL ('
          || 'SELECT %s * 100000 + s.o AS g, c.id, c.listed_at, (%s) AS hit FROM traces.certificates c'
          || ' WHERE c.%I = s.v%s%s ORDER BY c.listed_at DESC, c.id DESC LIMIT $19) x)',
          v_scopes[4 * v_i - 3], v_scopes[4 * v_i], v_test, v_scopes[4 * v_i - 2],
          v_scopes[4 * v_i - 1], v_cond);
      END IF;
    END LOOP;
    EXECUTE 'WITH e AS MATERIALIZED (' || array_to_string(v_list, ' UNION ALL ') || '),'
         || ' h AS (SELECT DISTINCT e.id, e.listed_at FROM e WHERE e.hit'
         || '        ORDER BY e.listed_at DESC, e.id DESC LIMIT $3),'
         || ' k AS (SELECT h.listed_at, h.id FROM h ORDER BY h.listed_at, h.id LIMIT 1),'
         || ' g AS (SELECT DISTINCT ON (e.g) e.g, e.listed_at, e.id, count(*) OVER (PARTITION BY e.g) AS n'
         || '        FROM e ORDER BY e.g, e.listed_at, e.id)'
         || ' SELECT (SELECT array_agg(h.id ORDER BY h.listed_at DESC, h.id DESC) FROM h),'
         || '        (SELECT array_agg(h.listed_at ORDER BY h.listed_at DESC, h.id DESC) FROM h),'
         || '        NOT EXISTS (SELECT 1 FROM g WHERE g.n >= $19'
         || '          AND ((SELECT count(*) FROM h) < $3'
         || '               OR (g.listed_at, g.id) > (SELECT k.listed_at, k.id FROM k))),'
         || '        (SELECT count(*) FROM h)'
       INTO v_ids, v_listed, v_done, v_hits
      USING v_after_ts, v_after_id, v_limit + 1, v_from_ts, v_to_ts, v_status, v_origin, v_poe,
            v_cn_lo, v_q_pat, v_q_imp, v_ops, v_cbs, v_poes, v_countries, v_all, NULL::bigint[],
            v_cn_hi, c_probe;
  END IF;

  -- Phase 2 (a rarer term: the probe found fewer than a twentieth of a
  -- page): up to c_candidates matching visible ids through the trigram /
  -- CN indexes (traces.search_certificates); when there are no more than
  -- that, the page is those that pass every filter and the explicit rule,
  -- sorted: bounded cost whatever the depth.
  IF NOT v_done AND v_hits * 20 >= v_limit + 1 THEN
    v_exact := false;   -- frequent enough: phase 3 fills the page within ~20 probes
  ELSIF NOT v_done AND v_q_pat IS NOT NULL AND v_q ~ '[[:alnum:]]{3}' THEN
    v_cands := traces.search_certificates(v_q_pat, NULL, c_candidates + 1);
    v_exact := coalesce(cardinality(v_cands), 0) <= c_candidates;
  END IF;
  IF NOT v_done AND NOT v_exact AND v_cn IS NOT NULL AND v_hits * 20 < v_limit + 1 THEN
    v_cands := traces.search_certificates(NULL, v_cn, c_candidates + 1);
    v_exact := coalesce(cardinality(v_cands), 0) <= c_candidates;
  END IF;
  IF NOT v_done AND v_exact THEN
    -- the explicit rule (see the head of this file), over the candidates
    EXECUTE 'SELECT array_agg(p.id ORDER BY p.listed_at DESC, p.id DESC),'
         || ' array_agg(p.listed_at ORDER BY p.listed_at DESC, p.id DESC) FROM ('
         || 'SELECT c.id, c.listed_at FROM traces.certificates c WHERE c.id = ANY ($17)'
         || ' AND (c.issuer_id = ANY ($13) OR (c.status <> ''draft'' AND ($16'
         || ' OR c.importer_id = ANY ($12) OR c.first_consignee_id = ANY ($12)'
         || ' OR c.responsible_operator_id = ANY ($12) OR c.point_of_entry_id = ANY ($14)'
         || ' OR c.destination_country = ANY ($15))))'
         || v_cond || CASE WHEN v_test <> '' THEN ' AND ' || v_test ELSE '' END
         || ' ORDER BY c.listed_at DESC, c.id DESC LIMIT $3) p'
       INTO v_ids, v_listed
      USING v_after_ts, v_after_id, v_limit + 1, v_from_ts, v_to_ts, v_status, v_origin, v_poe,
            v_cn_lo, v_q_pat, v_q_imp, v_ops, v_cbs, v_poes, v_countries, v_all,
            coalesce(v_cands, '{}'), v_cn_hi, c_probe;
    v_done := true;
  END IF;

  -- Phase 3 (no q/cn, or a term too frequent for phase 2 but too sparse
  -- for phase 1): one keyset branch per scope value, each an index range
  -- scan from the cursor with the filters, LIMIT limit+1; then merge,
  -- deduplicate, cut.
  IF NOT v_done THEN
    v_list := '{}';
    FOR v_i IN 1 .. cardinality(v_scopes) / 4 LOOP
      IF v_scopes[4 * v_i - 3] = '' THEN
        v_list := v_list || format(
          '(SELECT c.id, c.listed_at FROM traces.certificates c WHERE true%s%s%s'
          || ' ORDER BY c.listed_at DESC, c.id DESC LIMIT $3)',
          v_scopes[4 * v_i - 1], v_cond, CASE WHEN v_test <> '' THEN ' AND ' || v_test ELSE '' END);
      ELSE
        v_list := v_list || format(
          '(SELECT x.id, x.listed_at FROM unnest(%s) s(v) CROSS JOIN LATERAL ('
          || 'SELECT c.id, c.listed_at FROM traces.certificates c WHERE c.%I = s.v%s%s%s'
          || ' ORDER BY c.listed_at DESC, c.id DESC LIMIT $3) x)',
          v_scopes[4 * v_i - 3], v_scopes[4 * v_i - 2], v_scopes[4 * v_i - 1], v_cond,
          CASE WHEN v_test <> '' THEN ' AND ' || v_test ELSE '' END);
      END IF;
    END LOOP;
    EXECUTE 'SELECT array_agg(p.id ORDER BY p.listed_at DESC, p.id DESC),'
         || ' array_agg(p.listed_at ORDER BY p.listed_at DESC, p.id DESC) FROM ('
         || 'SELECT DISTINCT b.id, b.listed_at FROM (' || array_to_string(v_list, ' UNION ALL ')
         || ') b ORDER BY b.listed_at DESC, b.id DESC LIMIT $3) p'
       INTO v_ids, v_listed
      USING v_after_ts, v_after_id, v_limit + 1, v_from_ts, v_to_ts, v_status, v_origin, v_poe,
            v_cn_lo, v_q_pat, v_q_imp, v_ops, v_cbs, v_poes, v_countries, v_all, NULL::bigint[],
            v_cn_hi, c_probe;
  END IF;

  v_n := coalesce(cardinality(v_ids), 0);
  IF v_n > v_limit THEN
    v_next := api._cert_cursor(v_listed[v_limit], v_ids[v_limit]);
    v_ids := v_ids[1:v_limit];
  END IF;

  SELECT coalesce(json_agg(json_build_object(
           'id', c.id,
           'reference', c.reference,
           'status', c.status,
           'issuer', json_build_object('id', cb.id, 'code', cb.code, 'name', cb.name),
           'exporter', json_build_object('name', c.exporter_name, 'country', c.exporter_country),
           'origin', c.origin_country,
           'point_of_entry', json_build_object('id', pe.id, 'code', pe.code, 'name', pe.name),
           'destination', c.destination_country,
           'importer', json_build_object('id', im.id, 'name', im.name,
                                         'eori', coalesce(c.importer_eori,
                                                          (SELECT i.value FROM traces.operator_identifiers i
                                                            WHERE i.operator_id = im.id AND i.type = 'eori'))),
           'first_consignee', CASE WHEN fc.id IS NOT NULL
                                   THEN json_build_object('id', fc.id, 'name', fc.name) END,
           'products', ln.products,
           'lines', ln.n,
           'issued_at', api._cert_time(c.issued_at),
           'created_at', api._cert_time(c.created_at))
         ORDER BY u.ord), '[]'::json)
    INTO v_items
    FROM unnest(v_ids) WITH ORDINALITY u(id, ord)
    JOIN traces.certificates c ON c.id = u.id
    JOIN traces.control_bodies cb ON cb.id = c.issuer_id
    JOIN traces.points_of_entry pe ON pe.id = c.point_of_entry_id
    JOIN traces.operators im ON im.id = c.importer_id
    LEFT JOIN traces.operators fc ON fc.id = c.first_consignee_id
    CROSS JOIN LATERAL (
      SELECT count(*)::integer AS n,
             string_agg(CASE WHEN l.rn <= 3 THEN l.trade_name || ' (' || l.cn_code || ')' END, ', ' ORDER BY l.rn)
               || CASE WHEN count(*) > 3 THEN ', +' || (count(*) - 3) ELSE '' END AS products
        FROM (SELECT l.trade_name, l.cn_code, row_number() OVER (ORDER BY l.line_no) AS rn
                FROM traces.certificate_lines l WHERE l.certificate_id = c.id) l) ln;

  RETURN QUERY SELECT 200, json_build_object('items', v_items, 'next', v_next)::text;
END
$$;

----------------------------------------------------------------------------
-- api.certificate_get(user, {id})
--   -> 200 the certificate: every box of part I, part II, status history,
--      "can_edit": false (no write exists yet)
--      401 no session (user 0 or unknown: urn:traces:problem:unauthenticated)
--      403 no valid role (urn:traces:problem:no-access)
--      404 not visible to the caller, or no such certificate: the same body
--          (urn:traces:problem:not-found)
-- Keys: "id", "reference" (box 3), "status", "can_edit",
--   "issuer" (box 1: id, code, name, country), "procedure" (box 2),
--   "producer" (box 4: name, address, country | null), "exporter" (box 5:
--   name, address, country), "trader" (box 6 | null),
--   "exporter_control_body" (box 7 | null), "origin" (box 8),
--   "export_country" (box 9), "point_of_entry" (box 10: id, code, name,
--   country), "destination" (box 11), "importer" (box 12: id, name, eori,
--   country, city), "lines" (box 13: line_no, production organic |
--   in_conversion, cn_code, trade_name, category, packages, package_type,
--   lot_number, net_weight_kg), "containers" (box 14), "seals" (box 15),
--   "gross_weight_kg" (box 16), "transport" (box 17: mode, identification),
--   "declaration" (box 18: date, place, signatory), "first_consignee"
--   ({id, name, country, city} | null),
--   "part_ii": {"responsible_operator", "expected_arrival", "checks":
--   {documentary, identity, physical, sampled}, "decision": {decision,
--   date, authority, remarks}, "reception": {received_at, received_by,
--   remarks}}, "replaced_by" ({id, reference} when visible, else null),
--   "status_history": [{"status","at","by","remarks"}] oldest first,
--   "created_at", "issued_at", "updated_at".
----------------------------------------------------------------------------
CREATE FUNCTION api.certificate_get(p_user bigint, p_args jsonb)
RETURNS TABLE (status integer, body text)
LANGUAGE plpgsql VOLATILE
SET jit = off AS $$
#variable_conflict use_column
DECLARE
  v_id        bigint := CASE WHEN jsonb_typeof(p_args) = 'object' THEN api._arg_int(p_args, 'id') END;
  v_all       boolean;
  v_ops       bigint[];
  v_cbs       bigint[];
  v_poes      bigint[];
  v_countries text[];
  v_body      json;
BEGIN
  PERFORM api._begin(p_user);

  IF p_user IS NULL OR NOT EXISTS (SELECT 1 FROM traces.users u WHERE u.id = p_user) THEN
    RETURN QUERY SELECT 401, api._cert_unauthenticated();
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM traces.roles r WHERE r.user_id = p_user AND r.status = 'valid') THEN
    RETURN QUERY SELECT 403, api._cert_no_access();
    RETURN;
  END IF;

  v_all := api._scope_all();
  v_ops := api._scope_operators();
  v_cbs := api._scope_control_bodies();
  v_poes := api._scope_points_of_entry();
  v_countries := api._scope_countries();

  SELECT json_build_object(
           'id', c.id,
           'reference', c.reference,
           'status', c.status,
           'can_edit', false,
           'issuer', json_build_object('id', cb.id, 'code', cb.code, 'name', cb.name, 'country', cb.country_code),
           'procedure', c.procedure,
           'producer', CASE WHEN c.producer_name IS NOT NULL THEN
                         json_build_object('name', c.producer_name, 'address', c.producer_address,
                                           'country', c.producer_country) END,
           'exporter', json_build_object('name', c.exporter_name, 'address', c.exporter_address,
                                         'country', c.exporter_country),
           'trader', CASE WHEN c.trader_name IS NOT NULL THEN
                       json_build_object('name', c.trader_name, 'address', c.trader_address,
                                         'country', c.trader_country) END,
           'exporter_control_body', CASE WHEN ecb.id IS NOT NULL THEN
                                      json_build_object('id', ecb.id, 'code', ecb.code, 'name', ecb.name) END,
           'origin', c.origin_country,
           'export_country', c.export_country,
           'point_of_entry', json_build_object('id', pe.id, 'code', pe.code, 'name', pe.name,
                                               'country', pe.country_code),
           'destination', c.destination_country,
           'importer', json_build_object('id', im.id, 'name', im.name,
                                         'eori', coalesce(c.importer_eori,
                                                          (SELECT i.value FROM traces.operator_identifiers i
                                                            WHERE i.operator_id = im.id AND i.type = 'eori')),
                                         'country', im.country_code, 'city', im.city),
           'lines', (SELECT coalesce(json_agg(json_build_object(
                                       'line_no', l.line_no,
                                       'production', l.production,
                                       'cn_code', l.cn_code,
                                       'trade_name', l.trade_name,
                                       'category', l.category,
                                       'packages', l.packages,
                                       'package_type', l.package_type,
                                       'lot_number', l.lot_number,
                                       'net_weight_kg', l.net_weight_kg) ORDER BY l.line_no), '[]'::json)
                       FROM traces.certificate_lines l WHERE l.certificate_id = c.id),
           'containers', to_json(c.containers),
           'seals', to_json(c.seals),
           'gross_weight_kg', c.gross_weight_kg,
           'transport', json_build_object('mode', c.transport_mode, 'identification', c.transport_identification),
           'declaration', json_build_object('date', c.declaration_date, 'place', c.declaration_place,
                                            'signatory', c.declaration_signatory),
           'first_consignee', CASE WHEN fc.id IS NOT NULL THEN
                                json_build_object('id', fc.id, 'name', fc.name, 'country', fc.country_code,
                                                  'city', fc.city) END,
           'part_ii', json_build_object(
             'responsible_operator', CASE WHEN ro.id IS NOT NULL THEN
                                       json_build_object('id', ro.id, 'name', ro.name, 'country', ro.country_code) END,
             'expected_arrival', c.expected_arrival,
             'checks', json_build_object('documentary', c.documentary_check, 'identity', c.identity_check,
                                         'physical', c.physical_check, 'sampled', c.sampled),
             'decision', json_build_object(
               'decision', c.decision,
               'date', c.decision_date,
               'authority', CASE WHEN ca.id IS NOT NULL THEN
                              json_build_object('id', ca.id, 'code', ca.code, 'name', ca.name) END,
               'remarks', c.decision_remarks),
             'reception', json_build_object('received_at', api._cert_time(c.received_at),
                                            'received_by', api._cert_user_name(c.received_by),
                                            'remarks', c.reception_remarks)),
           'replaced_by', CASE WHEN rb.id IS NOT NULL AND api.can_see_certificate(rb.id) THEN
                            json_build_object('id', rb.id, 'reference', rb.reference) END,
           'status_history', (SELECT coalesce(json_agg(json_build_object(
                                                'status', h.status,
                                                'at', api._cert_time(h.at),
                                                'by', api._cert_user_name(h.by_user_id),
                                                'remarks', h.remarks) ORDER BY h.at, h.id), '[]'::json)
                                FROM traces.certificate_status_history h WHERE h.certificate_id = c.id),
           'created_at', api._cert_time(c.created_at),
           'issued_at', api._cert_time(c.issued_at),
           'updated_at', api._cert_time(c.updated_at))
    INTO v_body
    FROM traces.certificates c
    JOIN traces.control_bodies cb ON cb.id = c.issuer_id
    JOIN traces.points_of_entry pe ON pe.id = c.point_of_entry_id
    JOIN traces.operators im ON im.id = c.importer_id
    LEFT JOIN traces.control_bodies ecb ON ecb.id = c.exporter_control_body_id
    LEFT JOIN traces.operators fc ON fc.id = c.first_consignee_id
    LEFT JOIN traces.operators ro ON ro.id = c.responsible_operator_id
    LEFT JOIN traces.competent_authorities ca ON ca.id = c.decision_authority_id
    LEFT JOIN traces.certificates rb ON rb.id = c.replaced_by_id
   WHERE c.id = v_id
     -- the explicit rule (see the head of this file)
     AND (c.issuer_id = ANY (v_cbs)
          OR (c.status <> 'draft'
              AND (v_all
                   OR c.importer_id = ANY (v_ops)
                   OR c.first_consignee_id = ANY (v_ops)
                   OR c.responsible_operator_id = ANY (v_ops)
                   OR c.point_of_entry_id = ANY (v_poes)
                   OR c.destination_country = ANY (v_countries))));

  IF v_body IS NULL THEN
    RETURN QUERY SELECT 404, api._problem(404, 'There is no such certificate.', NULL,
                                          'urn:traces:problem:not-found', NULL);
    RETURN;
  END IF;
  RETURN QUERY SELECT 200, v_body::text;
END
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA api FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.certificates_list(bigint, jsonb), api.certificate_get(bigint, jsonb),
                          api.can_see_certificate(bigint), api._cert_time(timestamptz),
                          api._cert_cursor(timestamptz, bigint), api._cert_user_name(bigint),
                          api._cert_no_access(), api._cert_unauthenticated()
   TO traces_app;

-- The search function runs as traces_search (a superuser hands it over);
-- only the module's role may call it.
RESET ROLE;
ALTER FUNCTION traces.search_certificates(text, text, integer) OWNER TO traces_search;
REVOKE ALL ON FUNCTION traces.search_certificates(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION traces.search_certificates(text, text, integer) TO traces_app;
