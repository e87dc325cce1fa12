-- 005: gate sessions and back-channel logout replay protection.
SET client_encoding = 'UTF8';
SET ROLE traces_owner;

-- Only the hash of the cookie value is stored: encode(sha256(id), 'hex').
CREATE TABLE traces.sessions (
  hash         text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
  user_id      bigint NOT NULL REFERENCES traces.users ON DELETE CASCADE,
  sid          text CHECK (length(sid) <= 512),           -- EU Login (OP) session id
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen    timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,                      -- absolute end
  idle_seconds integer NOT NULL DEFAULT 1800 CHECK (idle_seconds > 0)
);
CREATE INDEX sessions_user ON traces.sessions (user_id);
CREATE INDEX sessions_sid ON traces.sessions (sid) WHERE sid IS NOT NULL;
CREATE INDEX sessions_expires ON traces.sessions (expires_at);

-- jti of every back-channel logout token accepted, until its exp.
CREATE TABLE traces.logout_jtis (
  jti         text PRIMARY KEY CHECK (jti <> '' AND length(jti) <= 512),
  exp         timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX logout_jtis_exp ON traces.logout_jtis (exp);

GRANT SELECT, INSERT, UPDATE, DELETE ON traces.sessions TO traces_app;
GRANT SELECT, INSERT ON traces.logout_jtis TO traces_app;

-- Housekeeping for an operator's cron (as owner or superuser): expired
-- sessions and logout token ids no longer needed.
CREATE FUNCTION traces.purge_expired() RETURNS TABLE (sessions bigint, jtis bigint)
LANGUAGE sql AS $$
  WITH s AS (DELETE FROM traces.sessions
              WHERE expires_at < now() OR last_seen + idle_seconds * interval '1 second' < now()
             RETURNING 1),
       j AS (DELETE FROM traces.logout_jtis WHERE exp < now() - interval '1 day' RETURNING 1)
  SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM j)
$$;
