-- SIAK (Disdukcapil): the population register. Idempotent: run it again at any time.
-- A legacy system: only nik is NOT NULL, so incomplete rows exist and the bus must cope.

CREATE TABLE IF NOT EXISTS penduduk (
    nik            varchar(16) PRIMARY KEY,
    no_kk          varchar(16),
    nama           text,
    tanggal_lahir  date,
    jenis_kelamin  char(1),
    kode_kelurahan varchar(13),
    status         text,
    updated_at     timestamptz
);

-- Family-card and domicile look-ups, as the registry's counter staff use them.
CREATE INDEX IF NOT EXISTS penduduk_no_kk_idx ON penduduk (no_kk);
CREATE INDEX IF NOT EXISTS penduduk_kode_kelurahan_idx ON penduduk (kode_kelurahan);

-- now() is the transaction's start: concurrent transactions may commit out of order.
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER penduduk_set_updated_at
    BEFORE INSERT OR UPDATE ON penduduk
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- CDC: updates and deletes carry the whole old row, so events have a complete `before`.
-- Checked first: ALTER TABLE takes an exclusive lock even when nothing changes.
DO $$
BEGIN
    IF (SELECT relreplident FROM pg_class WHERE oid = 'penduduk'::regclass) <> 'f' THEN
        ALTER TABLE penduduk REPLICA IDENTITY FULL;
    END IF;
END
$$;
