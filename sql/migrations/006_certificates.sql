-- 006: Certificates of Inspection (COI, Regulation (EU) 2021/2306, Annex,
-- part I boxes 1-18 and part II), product lines (box 13), status history,
-- and row-level security for the module's role.
SET client_encoding = 'UTF8';
SET ROLE traces_owner;

CREATE TABLE traces.certificates (
  id                        bigserial PRIMARY KEY,
  status                    text NOT NULL DEFAULT 'draft'
                            CHECK (status IN ('draft', 'new', 'in_progress', 'issued', 'verified',
                                              'rejected', 'received', 'cancelled', 'replaced')),
  -- box 1: issuing control body / control authority (the entry of its country)
  issuer_id                 bigint NOT NULL REFERENCES traces.control_bodies,
  -- box 2: procedure (Regulation (EU) 2018/848, Article 45(1)(b))
  procedure                 text NOT NULL DEFAULT 'compliance'
                            CHECK (procedure IN ('compliance',                    -- (b)(i), Art. 46 recognised control bodies
                                                 'equivalence_trade_agreement',   -- (b)(ii), Art. 47
                                                 'equivalence_third_country',     -- (b)(iii), Art. 48
                                                 'equivalence_control_body')),    -- (b)(iii), Art. 57
  -- box 3: reference number
  reference                 text COLLATE "C" NOT NULL UNIQUE CHECK (reference ~ '^[A-Z0-9][A-Z0-9./-]{2,63}$'),
  -- box 4: producer / processor
  producer_name             text,
  producer_address          text,
  producer_country          text REFERENCES traces.countries,
  -- box 5: exporter
  exporter_name             text NOT NULL,
  exporter_address          text,
  exporter_country          text NOT NULL REFERENCES traces.countries,
  -- box 6: trader not handling the goods
  trader_name               text,
  trader_address            text,
  trader_country            text REFERENCES traces.countries,
  -- box 7: control body of the exporter
  exporter_control_body_id  bigint REFERENCES traces.control_bodies,
  -- boxes 8, 9
  origin_country            text NOT NULL REFERENCES traces.countries,
  export_country            text NOT NULL REFERENCES traces.countries,
  -- box 10: border control post / point of release
  point_of_entry_id         bigint NOT NULL REFERENCES traces.points_of_entry,
  -- box 11
  destination_country       text NOT NULL REFERENCES traces.countries,
  -- box 12: importer (with its EORI as declared on the certificate)
  importer_id               bigint NOT NULL REFERENCES traces.operators,
  importer_eori             text CHECK (importer_eori ~ '^[A-Z]{2}[A-Z0-9]{1,15}$'),
  -- first consignee; part II: operator responsible for the consignment
  first_consignee_id        bigint REFERENCES traces.operators,
  responsible_operator_id   bigint REFERENCES traces.operators,
  -- boxes 14-17
  containers                text[] NOT NULL DEFAULT '{}',
  seals                     text[] NOT NULL DEFAULT '{}',
  gross_weight_kg           numeric(12,3) CHECK (gross_weight_kg > 0),
  transport_mode            text CHECK (transport_mode IN ('sea', 'air', 'road', 'rail', 'inland_waterway')),
  transport_identification  text,
  -- box 18: declaration of the issuing body
  declaration_date          date,
  declaration_place         text,
  declaration_signatory     text,
  -- part II
  expected_arrival          date,
  documentary_check         text CHECK (documentary_check IN ('satisfactory', 'not_satisfactory')),
  identity_check            text CHECK (identity_check IN ('satisfactory', 'not_satisfactory')),
  physical_check            text CHECK (physical_check IN ('satisfactory', 'not_satisfactory')),
  sampled                   boolean,
  decision                  text CHECK (decision IN ('release_organic', 'release_in_conversion',
                                                     'release_non_organic', 'not_released')),
  decision_date             date,
  decision_authority_id     bigint REFERENCES traces.competent_authorities,
  decision_remarks          text,
  received_at               timestamptz,          -- reception by the first consignee
  received_by               bigint REFERENCES traces.users,
  reception_remarks         text,
  replaced_by_id            bigint REFERENCES traces.certificates,
  created_at                timestamptz NOT NULL DEFAULT now(),
  issued_at                 timestamptz,
  updated_at                timestamptz NOT NULL DEFAULT now(),
  -- the date a certificate is listed and paged under: issue date, or
  -- creation date while not issued. Lists are ordered (listed_at DESC, id DESC).
  listed_at                 timestamptz GENERATED ALWAYS AS (coalesce(issued_at, created_at)) STORED,
  CONSTRAINT certificates_gross_weight_size CHECK (gross_weight_kg < 1e9)
);
COMMENT ON COLUMN traces.certificates.listed_at IS 'coalesce(issued_at, created_at): keyset paging key with id, newest first';

-- keyset paging newest first, overall and per scope of the visibility rule
CREATE INDEX certificates_listed ON traces.certificates (listed_at DESC, id DESC);
CREATE INDEX certificates_importer ON traces.certificates (importer_id, listed_at DESC, id DESC);
CREATE INDEX certificates_first_consignee ON traces.certificates (first_consignee_id, listed_at DESC, id DESC);
CREATE INDEX certificates_responsible ON traces.certificates (responsible_operator_id, listed_at DESC, id DESC);
CREATE INDEX certificates_issuer ON traces.certificates (issuer_id, listed_at DESC, id DESC);
CREATE INDEX certificates_point_of_entry ON traces.certificates (point_of_entry_id, listed_at DESC, id DESC);
CREATE INDEX certificates_destination ON traces.certificates (destination_country, listed_at DESC, id DESC);
CREATE INDEX certificates_status ON traces.certificates (status, listed_at DESC, id DESC);
-- box 3 search: reference is COLLATE "C", so its unique index serves prefix LIKE too

CREATE TABLE traces.certificate_lines (
  certificate_id bigint NOT NULL REFERENCES traces.certificates ON DELETE CASCADE,
  line_no        smallint NOT NULL CHECK (line_no BETWEEN 1 AND 999),
  production     text NOT NULL CHECK (production IN ('organic', 'in_conversion')),
  cn_code        text NOT NULL CHECK (cn_code ~ '^[0-9]{4}([0-9]{2}){0,2}$'),
  trade_name     text NOT NULL CHECK (btrim(trade_name) <> ''),
  category       text NOT NULL CHECK (category IN ('A', 'B', 'C', 'D', 'E', 'F')),
  packages       integer CHECK (packages > 0),
  package_type   text,
  lot_number     text,
  net_weight_kg  numeric(12,3) NOT NULL CHECK (net_weight_kg > 0),
  PRIMARY KEY (certificate_id, line_no)
);

CREATE TABLE traces.certificate_status_history (
  id             bigserial PRIMARY KEY,
  certificate_id bigint NOT NULL REFERENCES traces.certificates ON DELETE CASCADE,
  status         text NOT NULL CHECK (status IN ('draft', 'new', 'in_progress', 'issued', 'verified',
                                                 'rejected', 'received', 'cancelled', 'replaced')),
  at             timestamptz NOT NULL DEFAULT now(),
  by_user_id     bigint REFERENCES traces.users,
  remarks        text
);
CREATE INDEX certificate_status_history_certificate ON traces.certificate_status_history (certificate_id, at, id);

----------------------------------------------------------------------------
-- Visibility. The user is current_setting('traces.user_id', true), set per
-- transaction by api._begin. Only VALID roles count:
--   operator        its operator is importer (12), first consignee or responsible operator
--   control_body    issuer entry (box 1)
--   authority       destination country (box 11) = the authority's country
--   point_of_entry  box 10
--   commission      all
-- The scope helpers return arrays; the policy wraps each call in a scalar
-- sub-select so that it runs once per query (an InitPlan), not once per row,
-- and each "column = ANY(array)" arm can use the index of its column.
----------------------------------------------------------------------------
CREATE FUNCTION api._user_id() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT nullif(current_setting('traces.user_id', true), '')::bigint
$$;

CREATE FUNCTION api._scope_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (SELECT 1 FROM traces.roles r
                  WHERE r.user_id = api._user_id() AND r.status = 'valid' AND r.kind = 'commission')
$$;

CREATE FUNCTION api._scope_operators() RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(r.operator_id), '{}') FROM traces.roles r
   WHERE r.user_id = api._user_id() AND r.status = 'valid' AND r.kind = 'operator'
$$;

CREATE FUNCTION api._scope_control_bodies() RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(r.control_body_id), '{}') FROM traces.roles r
   WHERE r.user_id = api._user_id() AND r.status = 'valid' AND r.kind = 'control_body'
$$;

CREATE FUNCTION api._scope_points_of_entry() RETURNS bigint[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(r.point_of_entry_id), '{}') FROM traces.roles r
   WHERE r.user_id = api._user_id() AND r.status = 'valid' AND r.kind = 'point_of_entry'
$$;

CREATE FUNCTION api._scope_countries() RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT a.country_code), '{}')
    FROM traces.roles r JOIN traces.competent_authorities a ON a.id = r.authority_id
   WHERE r.user_id = api._user_id() AND r.status = 'valid' AND r.kind = 'authority'
$$;

-- True iff the current user (traces.user_id) may see certificate p_id. The
-- predicate is explicit, so the answer is the same for a caller that
-- bypasses row-level security.
CREATE FUNCTION api.can_see_certificate(p_id bigint) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT EXISTS (
    SELECT 1 FROM traces.certificates c
     WHERE c.id = p_id
       AND ((SELECT api._scope_all())
            OR c.importer_id = ANY ((SELECT api._scope_operators())::bigint[])
            OR c.first_consignee_id = ANY ((SELECT api._scope_operators())::bigint[])
            OR c.responsible_operator_id = ANY ((SELECT api._scope_operators())::bigint[])
            OR c.issuer_id = ANY ((SELECT api._scope_control_bodies())::bigint[])
            OR c.point_of_entry_id = ANY ((SELECT api._scope_points_of_entry())::bigint[])
            OR c.destination_country = ANY ((SELECT api._scope_countries())::text[])))
$$;

ALTER TABLE traces.certificates ENABLE ROW LEVEL SECURITY;
ALTER TABLE traces.certificates FORCE ROW LEVEL SECURITY;
ALTER TABLE traces.certificate_lines ENABLE ROW LEVEL SECURITY;
ALTER TABLE traces.certificate_lines FORCE ROW LEVEL SECURITY;
ALTER TABLE traces.certificate_status_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE traces.certificate_status_history FORCE ROW LEVEL SECURITY;

CREATE POLICY certificates_visible ON traces.certificates
  FOR SELECT TO traces_app
  USING ((SELECT api._scope_all())
         OR importer_id = ANY ((SELECT api._scope_operators())::bigint[])
         OR first_consignee_id = ANY ((SELECT api._scope_operators())::bigint[])
         OR responsible_operator_id = ANY ((SELECT api._scope_operators())::bigint[])
         OR issuer_id = ANY ((SELECT api._scope_control_bodies())::bigint[])
         OR point_of_entry_id = ANY ((SELECT api._scope_points_of_entry())::bigint[])
         OR destination_country = ANY ((SELECT api._scope_countries())::text[]));

-- Lines and history follow their certificate (the sub-select on
-- certificates is itself filtered by certificates_visible).
CREATE POLICY certificate_lines_visible ON traces.certificate_lines
  FOR SELECT TO traces_app
  USING (EXISTS (SELECT 1 FROM traces.certificates c WHERE c.id = certificate_id));
CREATE POLICY certificate_status_history_visible ON traces.certificate_status_history
  FOR SELECT TO traces_app
  USING (EXISTS (SELECT 1 FROM traces.certificates c WHERE c.id = certificate_id));

-- Read only: no INSERT/UPDATE/DELETE/TRUNCATE for the module's role.
GRANT SELECT ON traces.certificates, traces.certificate_lines, traces.certificate_status_history TO traces_app;
