-- 003: users (EU Login identities) and operators with their identifiers and
-- organic activities.
SET client_encoding = 'UTF8';
SET ROLE traces_owner;

CREATE TABLE traces.users (
  id          bigserial PRIMARY KEY,
  sub         text NOT NULL UNIQUE CHECK (sub <> '' AND length(sub) <= 255),  -- OIDC subject
  uid         text CHECK (length(uid) <= 255),                                -- EU Login user name
  email       text CHECK (length(email) <= 320),
  given_name  text CHECK (length(given_name) <= 200),
  family_name text CHECK (length(family_name) <= 200),
  domain      text NOT NULL DEFAULT 'external' CHECK (domain <> ''),
  phone       text CHECK (length(phone) <= 50),
  fax         text CHECK (length(fax) <= 50),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX users_uid ON traces.users (uid);
CREATE INDEX users_email ON traces.users (lower(email));

CREATE TABLE traces.operators (
  id           bigserial PRIMARY KEY,
  name         text NOT NULL CHECK (btrim(name) <> '' AND length(name) <= 300),
  country_code text NOT NULL REFERENCES traces.countries,
  region       text,                       -- administrative region
  postcode     text CHECK (length(postcode) <= 20),
  city         text,
  address      text,
  latitude     numeric(9,6) CHECK (latitude BETWEEN -90 AND 90),
  longitude    numeric(9,6) CHECK (longitude BETWEEN -180 AND 180),
  phone        text CHECK (length(phone) <= 50),
  fax          text CHECK (length(fax) <= 50),
  email        text CHECK (length(email) <= 320),
  web_url      text CHECK (length(web_url) <= 2000),
  status       text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'valid', 'deleted')),
  created_by   bigint REFERENCES traces.users,
  created_at   timestamptz NOT NULL DEFAULT now(),
  validated_by bigint REFERENCES traces.users,
  validated_at timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
-- operator search: by country and/or name (prefix, case-insensitive)
CREATE INDEX operators_country_name ON traces.operators (country_code, lower(name) text_pattern_ops);
CREATE INDEX operators_name ON traces.operators (lower(name) text_pattern_ops);
CREATE INDEX operators_new ON traces.operators (country_code, created_at) WHERE status = 'new';
CREATE INDEX operators_created_by ON traces.operators (created_by);

-- An operator that becomes valid gets its validation date.
CREATE FUNCTION traces.operators_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
  END IF;
  IF NEW.status = 'valid' AND NEW.validated_at IS NULL THEN
    NEW.validated_at := now();
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER operators_touch BEFORE INSERT OR UPDATE ON traces.operators
  FOR EACH ROW EXECUTE FUNCTION traces.operators_touch();

CREATE TABLE traces.operator_identifiers (
  id          bigserial PRIMARY KEY,
  operator_id bigint NOT NULL REFERENCES traces.operators ON DELETE CASCADE,
  type        text NOT NULL CHECK (type IN ('central_business_register', 'cin', 'duns', 'eori',
                                            'imo_management', 'imo_owner')),
  value       text NOT NULL CHECK (btrim(value) <> '' AND length(value) <= 100),
  UNIQUE (operator_id, type),
  -- EORI: ISO country code + up to 15 alphanumerics; French EORI is FR +
  -- SIREN (9 digits) or FR + SIRET (14 digits).
  CONSTRAINT operator_identifiers_eori_format CHECK (
    type <> 'eori'
    OR (value ~ '^[A-Z]{2}[A-Z0-9]{1,15}$'
        AND (left(value, 2) <> 'FR' OR value ~ '^FR([0-9]{9}|[0-9]{14})$')))
);
CREATE INDEX operator_identifiers_value ON traces.operator_identifiers (type, value);

CREATE TABLE traces.operator_activities (
  id               bigserial PRIMARY KEY,
  operator_id      bigint NOT NULL REFERENCES traces.operators ON DELETE CASCADE,
  activity         text NOT NULL CHECK (activity IN ('organic_importer', 'organic_operator')),
  control_body_id  bigint NOT NULL REFERENCES traces.control_bodies,
  identifier       text CHECK (length(identifier) <= 100),
  valid_from       date,
  valid_until      date,
  publication_date date,
  application_date date,
  remarks          text CHECK (length(remarks) <= 4000),
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (operator_id, activity, control_body_id),
  CONSTRAINT operator_activities_validity CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from)
);
CREATE INDEX operator_activities_activity ON traces.operator_activities (activity, operator_id);
CREATE INDEX operator_activities_control_body ON traces.operator_activities (control_body_id);

-- An operator with an organic_importer activity must have an EORI
-- identifier. Checked at commit (deferred constraint triggers), so that the
-- operator, its identifiers and its activity can be inserted in any order in
-- one transaction. SQLSTATE 23514 (check_violation), constraint
-- operator_importer_requires_eori. A function that wants the error inside
-- its own exception handler runs SET CONSTRAINTS operator_importer_requires_eori IMMEDIATE.
CREATE FUNCTION traces.check_importer_eori() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_operator bigint;
BEGIN
  IF TG_TABLE_NAME = 'operator_activities' THEN
    v_operator := NEW.operator_id;
  ELSE
    v_operator := OLD.operator_id;
  END IF;
  IF EXISTS (SELECT 1 FROM traces.operator_activities a
              WHERE a.operator_id = v_operator AND a.activity = 'organic_importer')
     AND NOT EXISTS (SELECT 1 FROM traces.operator_identifiers i
                      WHERE i.operator_id = v_operator AND i.type = 'eori') THEN
    RAISE EXCEPTION 'operator % is an organic importer without an EORI identifier', v_operator
      USING ERRCODE = 'check_violation',
            CONSTRAINT = 'operator_importer_requires_eori',
            TABLE = TG_TABLE_NAME, SCHEMA = 'traces',
            HINT = 'importers must give their EORI number';
  END IF;
  RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER operator_importer_requires_eori
  AFTER INSERT OR UPDATE OF activity, operator_id ON traces.operator_activities
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.activity = 'organic_importer')
  EXECUTE FUNCTION traces.check_importer_eori();
CREATE CONSTRAINT TRIGGER operator_importer_requires_eori
  AFTER UPDATE OF type, operator_id OR DELETE ON traces.operator_identifiers
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.type = 'eori')
  EXECUTE FUNCTION traces.check_importer_eori();

GRANT SELECT, INSERT, UPDATE ON traces.users, traces.operators,
                                traces.operator_identifiers, traces.operator_activities TO traces_app;
GRANT USAGE ON SEQUENCE traces.users_id_seq, traces.operators_id_seq,
                        traces.operator_identifiers_id_seq, traces.operator_activities_id_seq TO traces_app;
