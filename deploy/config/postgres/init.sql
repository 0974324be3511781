-- Database roles and schemas, one per service (design s2: each service owns its schema and never
-- reads another's). Run by the native runner (deploy/local) against database `credstream`, and by
-- the postgres image from /docker-entrypoint-initdb.d (POSTGRES_DB=credstream). Idempotent.
-- Passwords here are development defaults; production sets its own (docs/configuration.md).
DO $$
DECLARE
    svc text;
BEGIN
    FOREACH svc IN ARRAY ARRAY['assessment', 'issuance', 'qa', 'revocation'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = svc) THEN
            EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', svc, svc);
        END IF;
        EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, svc);
        -- A service's role owns its schema and may create further schemas of its own name
        -- only; it has no grant on any other service's schema.
        EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), svc);
        EXECUTE format('ALTER ROLE %I SET search_path = %I', svc, svc);
    END LOOP;
END
$$;
