# PostgreSQL 15 for compose.yaml: the official image plus wal2json, which the CDC connectors
# decode WAL with. wal_level=logical is set by the compose service's command.
FROM postgres:15.14-bookworm

# The image already carries the PGDG apt source that publishes postgresql-15-wal2json.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-15-wal2json \
 && rm -rf /var/lib/apt/lists/*

# Runs once, on an empty data directory.
COPY postgres-init.sql /docker-entrypoint-initdb.d/10-opdbus-databases.sql
