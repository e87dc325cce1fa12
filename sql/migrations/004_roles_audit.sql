-- 004: roles (a user's link to one organisation) and the audit log.
SET client_encoding = 'UTF8';
SET ROLE traces_owner;

CREATE TABLE traces.roles (
  id                bigserial PRIMARY KEY,
  user_id           bigint NOT NULL REFERENCES traces.users,
  kind              text NOT NULL CHECK (kind IN ('operator', 'control_body', 'authority',
                                                  'point_of_entry', 'commission')),
  operator_id       bigint REFERENCES traces.operators,
  control_body_id   bigint REFERENCES traces.control_bodies,
  authority_id      bigint REFERENCES traces.competent_authorities,
  point_of_entry_id bigint REFERENCES traces.points_of_entry,   -- "responsible for the load"
  commission_id     bigint REFERENCES traces.commission,
  status            text NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'valid', 'suspended', 'deleted')),
  is_admin          boolean NOT NULL DEFAULT false,   -- operator administrator
  first_request     boolean NOT NULL DEFAULT false,   -- first requester of the operator = admin candidate
  message           text CHECK (length(message) <= 2000),
  contact_email     text CHECK (length(contact_email) <= 320),
  contact_phone     text CHECK (length(contact_phone) <= 50),
  requested_at      timestamptz NOT NULL DEFAULT now(),
  decided_by        bigint REFERENCES traces.users,
  decided_at        timestamptz,
  created_by        bigint REFERENCES traces.users,   -- the requester, or the Commission for the load role
  updated_at        timestamptz NOT NULL DEFAULT now(),
  -- exactly the organisation column of its kind is set
  CONSTRAINT roles_one_organisation CHECK (
    num_nonnulls(operator_id, control_body_id, authority_id, point_of_entry_id, commission_id) = 1
    AND CASE kind
          WHEN 'operator'       THEN operator_id IS NOT NULL
          WHEN 'control_body'   THEN control_body_id IS NOT NULL
          WHEN 'authority'      THEN authority_id IS NOT NULL
          WHEN 'point_of_entry' THEN point_of_entry_id IS NOT NULL
          WHEN 'commission'     THEN commission_id IS NOT NULL
        END),
  CONSTRAINT roles_admin_is_operator CHECK (kind = 'operator' OR NOT (is_admin OR first_request))
);

-- One active (requested | valid | suspended) role per user and organisation.
CREATE UNIQUE INDEX roles_active_operator ON traces.roles (user_id, operator_id)
  WHERE operator_id IS NOT NULL AND status IN ('requested', 'valid', 'suspended');
CREATE UNIQUE INDEX roles_active_control_body ON traces.roles (user_id, control_body_id)
  WHERE control_body_id IS NOT NULL AND status IN ('requested', 'valid', 'suspended');
CREATE UNIQUE INDEX roles_active_authority ON traces.roles (user_id, authority_id)
  WHERE authority_id IS NOT NULL AND status IN ('requested', 'valid', 'suspended');
CREATE UNIQUE INDEX roles_active_point_of_entry ON traces.roles (user_id, point_of_entry_id)
  WHERE point_of_entry_id IS NOT NULL AND status IN ('requested', 'valid', 'suspended');
CREATE UNIQUE INDEX roles_active_commission ON traces.roles (user_id, commission_id)
  WHERE commission_id IS NOT NULL AND status IN ('requested', 'valid', 'suspended');
-- At most one first requester per operator among non-deleted roles: two
-- concurrent first requests cannot both succeed.
CREATE UNIQUE INDEX roles_first_request ON traces.roles (operator_id)
  WHERE first_request AND status <> 'deleted';

CREATE INDEX roles_user ON traces.roles (user_id, status);
CREATE INDEX roles_operator ON traces.roles (operator_id, status) WHERE operator_id IS NOT NULL;
CREATE INDEX roles_control_body ON traces.roles (control_body_id, status) WHERE control_body_id IS NOT NULL;
CREATE INDEX roles_authority ON traces.roles (authority_id, status) WHERE authority_id IS NOT NULL;
CREATE INDEX roles_point_of_entry ON traces.roles (point_of_entry_id, status) WHERE point_of_entry_id IS NOT NULL;
CREATE INDEX roles_requested ON traces.roles (requested_at, id) WHERE status = 'requested';

-- Allowed status transitions: requested -> valid | deleted; valid ->
-- suspended | deleted; suspended -> valid | deleted. Anything else, a change
-- of the role's user or organisation, or any update of a deleted role raises
-- SQLSTATE TR409 (to be answered 409 Conflict).
CREATE FUNCTION traces.roles_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'deleted' THEN
    RAISE EXCEPTION 'role % is deleted', OLD.id
      USING ERRCODE = 'TR409', DETAIL = 'a deleted role cannot change';
  END IF;
  IF NEW.user_id <> OLD.user_id OR NEW.kind <> OLD.kind
     OR NEW.operator_id IS DISTINCT FROM OLD.operator_id
     OR NEW.control_body_id IS DISTINCT FROM OLD.control_body_id
     OR NEW.authority_id IS DISTINCT FROM OLD.authority_id
     OR NEW.point_of_entry_id IS DISTINCT FROM OLD.point_of_entry_id
     OR NEW.commission_id IS DISTINCT FROM OLD.commission_id THEN
    RAISE EXCEPTION 'role %: user and organisation cannot change', OLD.id
      USING ERRCODE = 'TR409';
  END IF;
  IF NEW.status <> OLD.status THEN
    IF NOT ((OLD.status = 'requested' AND NEW.status IN ('valid', 'deleted'))
         OR (OLD.status = 'valid'     AND NEW.status IN ('suspended', 'deleted'))
         OR (OLD.status = 'suspended' AND NEW.status IN ('valid', 'deleted'))) THEN
      RAISE EXCEPTION 'role %: transition from % to % is not allowed', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'TR409',
              DETAIL = format('from=%s to=%s', OLD.status, NEW.status),
              HINT = 'allowed: requested->valid|deleted, valid->suspended|deleted, suspended->valid|deleted';
    END IF;
    IF NEW.decided_at IS NOT DISTINCT FROM OLD.decided_at THEN
      NEW.decided_at := now();
    END IF;
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
CREATE TRIGGER roles_guard BEFORE UPDATE ON traces.roles
  FOR EACH ROW EXECUTE FUNCTION traces.roles_guard();

-- Who decided what, when. Append-only.
CREATE TABLE traces.audit_log (
  id                bigserial PRIMARY KEY,
  at                timestamptz NOT NULL DEFAULT now(),
  actor_user_id     bigint REFERENCES traces.users,
  action            text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]*$'),
  role_id           bigint REFERENCES traces.roles,
  operator_id       bigint REFERENCES traces.operators,
  control_body_id   bigint REFERENCES traces.control_bodies,
  authority_id      bigint REFERENCES traces.competent_authorities,
  point_of_entry_id bigint REFERENCES traces.points_of_entry,
  country_code      text REFERENCES traces.countries,   -- country of the organisation concerned
  target_user_id    bigint REFERENCES traces.users,
  before_status     text,
  after_status      text,
  detail            jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON traces.audit_log (at DESC, id DESC);
CREATE INDEX audit_log_country ON traces.audit_log (country_code, at DESC, id DESC);
CREATE INDEX audit_log_operator ON traces.audit_log (operator_id, at DESC) WHERE operator_id IS NOT NULL;
CREATE INDEX audit_log_target ON traces.audit_log (target_user_id, at DESC) WHERE target_user_id IS NOT NULL;
CREATE INDEX audit_log_role ON traces.audit_log (role_id) WHERE role_id IS NOT NULL;

CREATE FUNCTION traces.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'TR403';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON traces.audit_log
  FOR EACH ROW EXECUTE FUNCTION traces.audit_log_append_only();

GRANT SELECT, INSERT, UPDATE ON traces.roles TO traces_app;
GRANT USAGE ON SEQUENCE traces.roles_id_seq TO traces_app;
GRANT SELECT, INSERT ON traces.audit_log TO traces_app;
GRANT USAGE ON SEQUENCE traces.audit_log_id_seq TO traces_app;
