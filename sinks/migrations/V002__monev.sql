-- V002: the monev (monitoring and evaluation) views.
--
-- Thin on purpose. The five views (monev.layanan_perizinan, serapan_anggaran, capaian_kinerja,
-- cakupan_penduduk, kesegaran_data), their column comments and formulas live in ONE file,
-- sinks/sql/monev_views.sql, built by opdbus.sinks.views.recreate(conn, schema):
--   * sinks/migrate.py calls it after the versioned files on every run, so the views always
--     match that file (like a repeatable migration; a changed view needs no new V file);
--   * `opdbus replay` calls it after swapping the rebuilt schema in, because a view is bound to
--     the tables it was built on, not to the schema's name.
-- This file must not name the unified-schema placeholder: migrate.py would then count it as
-- replayable and apply it to the schema being rebuilt. See docs/decisions/0010.
--
-- What is versioned here: the analyst's access to schema monev (the views are re-granted by
-- recreate(), since a dropped view loses its grants). Unified tables: V001. Schema sink: none.

GRANT USAGE ON SCHEMA monev TO ${analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA monev TO ${analyst};
REVOKE ALL ON ALL TABLES IN SCHEMA sink FROM ${analyst};
REVOKE ALL ON SCHEMA sink FROM ${analyst};
