-- Runs once through psql when the data directory is empty (docker-entrypoint-initdb.d).
-- Separate databases, as in config/opdbus.yaml stack.postgres.databases: the simulated OPD
-- systems, the registry's storage and the unified view. \gexec skips the ones that exist
-- (POSTGRES_DB has already created opdbus), so the list can stay complete.
SELECT format('CREATE DATABASE %I', db)
FROM unnest(ARRAY['siak', 'perizinan', 'keuangan', 'apicurio', 'opdbus']) AS db
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = db)
\gexec
