-- 001: database roles, schemas, migration bookkeeping, default privileges.
-- Runs as a superuser (sql/migrate checks it). Roles are cluster-wide, so they
-- are created only when missing; their attributes are (re)asserted every time.
SET client_encoding = 'UTF8';

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'traces_owner') THEN
    BEGIN
      CREATE ROLE traces_owner NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;  -- created concurrently by a migration of another database
    END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'traces_app') THEN
    BEGIN
      CREATE ROLE traces_app LOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;

-- The owner never logs in; the module's role is an ordinary login role that
-- row-level security applies to.
ALTER ROLE traces_owner NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE traces_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;

DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO traces_app', current_database());
END
$$;

CREATE SCHEMA IF NOT EXISTS traces AUTHORIZATION traces_owner;
CREATE SCHEMA IF NOT EXISTS api AUTHORIZATION traces_owner;
ALTER SCHEMA traces OWNER TO traces_owner;
ALTER SCHEMA api OWNER TO traces_owner;
REVOKE ALL ON SCHEMA traces, api FROM PUBLIC;
GRANT USAGE ON SCHEMA traces, api TO traces_app;

SET ROLE traces_owner;

-- Functions created by the owner are not executable by PUBLIC; those of the
-- api schema are executable by the module's role.
ALTER DEFAULT PRIVILEGES FOR ROLE traces_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE traces_owner IN SCHEMA api GRANT EXECUTE ON FUNCTIONS TO traces_app;

CREATE TABLE IF NOT EXISTS traces.schema_migrations (
  version    integer PRIMARY KEY CHECK (version > 0),
  name       text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE traces.schema_migrations IS 'one row per applied sql/migrations/NNN_name.sql (written by sql/migrate)';

-- api.health reads it (a lock on the table makes health wait: it is a real read).
GRANT SELECT ON traces.schema_migrations TO traces_app;
