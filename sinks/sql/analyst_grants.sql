-- What the analyst role may read: the unified tables (pseudonyms, never a NIK) and the monev
-- views. Rendered by opdbus.sinks.views.recreate() with the unified schema's name and the role
-- from config sink.analyst_role; run again after every (re)build, since a dropped view or a
-- rebuilt schema loses its grants. Nothing in schema sink (offsets, migrations): the REVOKEs
-- keep it that way even if someone granted by hand.

GRANT USAGE ON SCHEMA ${unified}, monev TO ${analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA ${unified} TO ${analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA monev TO ${analyst};
REVOKE ALL ON ALL TABLES IN SCHEMA sink FROM ${analyst};
REVOKE ALL ON SCHEMA sink FROM ${analyst};
