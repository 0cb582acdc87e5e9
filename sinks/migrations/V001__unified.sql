-- V001: the unified view (one table per integrated topic), the sink's offsets, the M&E
-- service standards.
--
-- ${unified} is the unified schema: `unified` for the live view; `opdbus replay` applies this
-- file again with ${unified} = unified_replay_<ts> to rebuild the view beside the live one.
-- A migration that names ${unified} is replayed like that, so everything else in it must be
-- idempotent (IF NOT EXISTS). ${analyst} is the read-only analyst role (config
-- sink.analyst_role), which sinks/migrate.py creates before applying any file.

CREATE SCHEMA IF NOT EXISTS sink;
REVOKE ALL ON SCHEMA sink FROM PUBLIC;

-- Kafka's committed offsets are not the truth: these are, written in the batch's transaction.
CREATE TABLE IF NOT EXISTS sink.offsets (
    consumer_group text NOT NULL,
    topic text NOT NULL,
    partition int NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);

CREATE SCHEMA IF NOT EXISTS monev;

-- Service standard per licence type in days; filled from config sink.standar_layanan.
CREATE TABLE IF NOT EXISTS monev.standar_layanan (
    jenis_izin text PRIMARY KEY,
    maks_hari int NOT NULL CHECK (maks_hari > 0)
);

CREATE SCHEMA ${unified};

-- Every table ends with the same lineage columns. Deletes are soft (dihapus) and keep the
-- delete's position, so an older event arriving later cannot resurrect the row. The sink
-- changes a row only if (source_ts, source_position) is >= the stored one; positions are
-- built to compare as text byte by byte, hence COLLATE "C". Only keys and the columns the
-- guard needs are NOT NULL: Avro already enforces the rest, and a constraint the sink could
-- break would stop it for good (it never skips an event).

CREATE TABLE ${unified}.perizinan (
    id_permohonan bigint PRIMARY KEY,
    nomor_permohonan text,
    jenis_izin text,
    kode_kelurahan text,
    kode_kecamatan text,
    status text,
    tanggal_pengajuan timestamptz,
    tanggal_keputusan timestamptz,
    updated_at timestamptz,
    kanal text,
    nik_pseudonim text,
    kunci_pseudonim text,
    pemohon_kelompok_umur text,
    pemohon_jenis_kelamin text,
    pemohon_kode_kecamatan text,
    pemohon_kode_kelurahan text,
    pemohon_status text,
    pencocokan text,
    menunggu_ms bigint,
    event_id text NOT NULL,
    source_opd text,
    source_system text,
    source_database text,
    source_table text,
    source_position text COLLATE "C" NOT NULL,
    source_tx_id text,
    source_ts timestamptz NOT NULL,
    processed_at timestamptz,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    dihapus boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE ${unified}.perizinan IS
    'Licence applications (DPMPTSP) from integrated.perizinan, applicant as pseudonym only.';

CREATE TABLE ${unified}.keuangan (
    jenis text NOT NULL,
    id bigint NOT NULL,
    tahun int,
    kode_opd text,
    kode_program text,
    kode_kegiatan text,
    nama_kegiatan text,
    nilai numeric(18, 2),
    rencana_kas numeric(18, 2)[],
    tanggal date,
    nomor_sp2d text,
    uraian text,
    updated_at timestamptz,
    event_id text NOT NULL,
    source_opd text,
    source_system text,
    source_database text,
    source_table text,
    source_position text COLLATE "C" NOT NULL,
    source_tx_id text,
    source_ts timestamptz NOT NULL,
    processed_at timestamptz,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    dihapus boolean NOT NULL DEFAULT false,
    PRIMARY KEY (jenis, id)
);
COMMENT ON TABLE ${unified}.keuangan IS
    'Budget ceilings (jenis ANGGARAN) and SP2D payments (jenis REALISASI) from BKAD.';

CREATE TABLE ${unified}.perencanaan (
    id text PRIMARY KEY,
    tahun int,
    kode_opd text,
    kode_program text,
    kode_indikator text,
    nama_indikator text,
    satuan text,
    target double precision,
    arah text,
    event_id text NOT NULL,
    source_opd text,
    source_system text,
    source_database text,
    source_table text,
    source_position text COLLATE "C" NOT NULL,
    source_tx_id text,
    source_ts timestamptz NOT NULL,
    processed_at timestamptz,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    dihapus boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE ${unified}.perencanaan IS
    'Yearly indicator targets (Bappeda file drops).';

CREATE TABLE ${unified}.kinerja (
    id text PRIMARY KEY,
    kode_opd text,
    kode_indikator text,
    tahun int,
    jenis_periode text,
    periode int,
    realisasi double precision,
    satuan text,
    dilaporkan_pada timestamptz,
    event_id text NOT NULL,
    source_opd text,
    source_system text,
    source_database text,
    source_table text,
    source_position text COLLATE "C" NOT NULL,
    source_tx_id text,
    source_ts timestamptz NOT NULL,
    processed_at timestamptz,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    dihapus boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE ${unified}.kinerja IS
    'Indicator realisations reported through e-SAKIP (integrated.kinerja).';

CREATE TABLE ${unified}.penduduk (
    nik_pseudonim text PRIMARY KEY,
    kunci_pseudonim text,
    kelompok_umur text,
    jenis_kelamin text,
    kode_kecamatan text,
    kode_kelurahan text,
    status text,
    updated_at timestamptz,
    event_id text NOT NULL,
    source_opd text,
    source_system text,
    source_database text,
    source_table text,
    source_position text COLLATE "C" NOT NULL,
    source_tx_id text,
    source_ts timestamptz NOT NULL,
    processed_at timestamptz,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    dihapus boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE ${unified}.penduduk IS
    'The population dimension under pseudonyms: coarse attributes only, never a NIK.';

-- The analyst reads pseudonymised rows; monev grants come with the views (V002).
GRANT USAGE ON SCHEMA ${unified} TO ${analyst};
GRANT SELECT ON ALL TABLES IN SCHEMA ${unified} TO ${analyst};
ALTER DEFAULT PRIVILEGES IN SCHEMA ${unified} GRANT SELECT ON TABLES TO ${analyst};
