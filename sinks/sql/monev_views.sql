-- The monev (monitoring and evaluation) views: DOMAIN.md's indicator formulas over the unified
-- tables. One definition for every place that builds them: `opdbus.sinks.migrate` (after the
-- versioned files; V002 says why it is thin) and `opdbus replay` (after the swap) both call
-- opdbus.sinks.views.recreate(), which fills the unified-schema placeholder with a quoted
-- identifier (same syntax as the migrations) and then grants the analyst role.
--
-- Rules shared by every view:
--   * live rows only (NOT dihapus), except kesegaran_data: a delete is news from a source too;
--   * months are calendar months in WIB (Asia/Pontianak, UTC+7), Pontianak's own time;
--   * percentages and days are rounded to 2 decimals, as they are published; a grade (predikat)
--     is read from the rounded figure, so a reader never sees 90.00 graded A;
--   * lingkup = 'bulan' rows are one month; lingkup = 'periode' rows cover every month in the
--     data (bulan NULL). Filter on lingkup before summing, or a month counts twice.
--
-- Dropped and created (not replaced) so a later version may change columns; the caller runs
-- this inside one transaction, so readers never see the views missing.

DROP VIEW IF EXISTS
    monev.layanan_perizinan,
    monev.serapan_anggaran,
    monev.capaian_kinerja,
    monev.cakupan_penduduk,
    monev.kesegaran_data;

-- Licensing service level (DOMAIN.md): days from submission to decision per licence type,
-- OPD, kecamatan of the site and month of the decision; share decided within the standard
-- monev.standar_layanan.maks_hari (config sink.standar_layanan, calendar days).
CREATE VIEW monev.layanan_perizinan AS
WITH diputus AS (
    SELECT p.jenis_izin,
           p.kode_kecamatan,
           p.status,
           date_trunc('month', p.tanggal_keputusan AT TIME ZONE 'Asia/Pontianak')::date AS bulan,
           extract(epoch FROM p.tanggal_keputusan - p.tanggal_pengajuan) / 86400 AS hari,
           s.maks_hari
    FROM ${unified}.perizinan AS p
    LEFT JOIN monev.standar_layanan AS s USING (jenis_izin)
    WHERE NOT p.dihapus
      AND p.status IN ('TERBIT', 'DITOLAK')
      AND p.tanggal_keputusan IS NOT NULL
)
SELECT 'dpmptsp'::text AS kode_opd,
       CASE WHEN grouping(bulan) = 0 THEN 'bulan' ELSE 'periode' END AS lingkup,
       jenis_izin,
       kode_kecamatan,
       bulan,
       count(*)::int AS jumlah,
       count(*) FILTER (WHERE status = 'TERBIT')::int AS jumlah_terbit,
       count(*) FILTER (WHERE status = 'DITOLAK')::int AS jumlah_ditolak,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY hari::float8)::numeric, 2) AS median_hari,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY hari::float8)::numeric, 2) AS p90_hari,
       max(maks_hari) AS maks_hari,
       CASE WHEN max(maks_hari) IS NOT NULL
            THEN count(*) FILTER (WHERE hari <= maks_hari)::int END AS jumlah_tepat_waktu,
       CASE WHEN max(maks_hari) IS NOT NULL
            THEN round(100.0 * count(*) FILTER (WHERE hari <= maks_hari) / count(*), 2)
       END AS persen_tepat_waktu
FROM diputus
GROUP BY GROUPING SETS ((jenis_izin, kode_kecamatan, bulan), (jenis_izin, kode_kecamatan));

COMMENT ON VIEW monev.layanan_perizinan IS
    'Licensing service level per jenis_izin x kode_kecamatan x bulan (decided applications: '
    'TERBIT or DITOLAK). lingkup periode rows: all months together (bulan NULL).';
COMMENT ON COLUMN monev.layanan_perizinan.kode_opd IS 'Always dpmptsp, the licensing OPD.';
COMMENT ON COLUMN monev.layanan_perizinan.lingkup IS
    'bulan: one month of decisions; periode: every month in the data (bulan NULL).';
COMMENT ON COLUMN monev.layanan_perizinan.kode_kecamatan IS 'Kecamatan of the site.';
COMMENT ON COLUMN monev.layanan_perizinan.bulan IS
    'First day of the month of tanggal_keputusan, in WIB; NULL when lingkup = periode.';
COMMENT ON COLUMN monev.layanan_perizinan.jumlah IS 'Decided applications.';
COMMENT ON COLUMN monev.layanan_perizinan.median_hari IS
    'percentile_cont(0.5) of (tanggal_keputusan - tanggal_pengajuan) in days, fractional.';
COMMENT ON COLUMN monev.layanan_perizinan.p90_hari IS
    'percentile_cont(0.9) of the same days (linear interpolation).';
COMMENT ON COLUMN monev.layanan_perizinan.maks_hari IS
    'Service standard in days (monev.standar_layanan); NULL when none is configured.';
COMMENT ON COLUMN monev.layanan_perizinan.jumlah_tepat_waktu IS
    'Decided in at most maks_hari days (the boundary counts as on time).';
COMMENT ON COLUMN monev.layanan_perizinan.persen_tepat_waktu IS
    'jumlah_tepat_waktu / jumlah x 100; NULL without a standard.';

-- Budget absorption (DOMAIN.md): cumulative realisation / pagu x 100 per OPD per month,
-- against the cumulative disbursement plan (rencana_kas, 12 amounts from January).
CREATE VIEW monev.serapan_anggaran AS
WITH anggaran AS (
    SELECT kode_opd, tahun, nilai, rencana_kas
    FROM ${unified}.keuangan
    WHERE jenis = 'ANGGARAN' AND NOT dihapus
),
realisasi AS (
    SELECT kode_opd, tahun, extract(month FROM tanggal)::int AS bulan, nilai
    FROM ${unified}.keuangan
    WHERE jenis = 'REALISASI' AND NOT dihapus AND tanggal IS NOT NULL
),
-- An OPD-year with payments but no budget still shows (pagu 0, percentages NULL).
opd_tahun AS (
    SELECT kode_opd, tahun FROM anggaran
    UNION
    SELECT kode_opd, tahun FROM realisasi
),
pagu AS (
    SELECT kode_opd, tahun, sum(nilai) AS pagu FROM anggaran GROUP BY kode_opd, tahun
),
rencana AS (
    SELECT a.kode_opd, a.tahun, r.bulan::int AS bulan, sum(r.nilai) AS nilai
    FROM anggaran AS a
    CROSS JOIN LATERAL unnest(a.rencana_kas) WITH ORDINALITY AS r (nilai, bulan)
    WHERE r.bulan <= 12
    GROUP BY a.kode_opd, a.tahun, r.bulan
),
bayar AS (
    SELECT kode_opd, tahun, bulan, sum(nilai) AS nilai
    FROM realisasi
    GROUP BY kode_opd, tahun, bulan
),
kumulatif AS (
    SELECT ot.kode_opd,
           ot.tahun,
           b.bulan,
           coalesce(p.pagu, 0) AS pagu,
           coalesce(ba.nilai, 0) AS realisasi_bulan,
           sum(coalesce(ba.nilai, 0)) OVER w AS realisasi_kumulatif,
           sum(coalesce(re.nilai, 0)) OVER w AS rencana_kumulatif
    FROM opd_tahun AS ot
    CROSS JOIN generate_series(1, 12) AS b (bulan)
    LEFT JOIN pagu AS p ON p.kode_opd = ot.kode_opd AND p.tahun = ot.tahun
    LEFT JOIN rencana AS re
        ON re.kode_opd = ot.kode_opd AND re.tahun = ot.tahun AND re.bulan = b.bulan
    LEFT JOIN bayar AS ba
        ON ba.kode_opd = ot.kode_opd AND ba.tahun = ot.tahun AND ba.bulan = b.bulan
    WINDOW w AS (PARTITION BY ot.kode_opd, ot.tahun ORDER BY b.bulan)
),
persen AS (
    SELECT *,
           round(realisasi_kumulatif / nullif(pagu, 0) * 100, 2) AS persen_serapan,
           round(rencana_kumulatif / nullif(pagu, 0) * 100, 2) AS persen_rencana
    FROM kumulatif
)
SELECT kode_opd,
       tahun,
       bulan,
       pagu,
       realisasi_bulan,
       realisasi_kumulatif,
       persen_serapan,
       rencana_kumulatif,
       persen_rencana,
       persen_serapan - persen_rencana AS deviasi
FROM persen;

COMMENT ON VIEW monev.serapan_anggaran IS
    'Budget absorption per kode_opd x tahun x bulan (1-12) against the cumulative plan.';
COMMENT ON COLUMN monev.serapan_anggaran.pagu IS 'Sum of ANGGARAN nilai of the OPD and year.';
COMMENT ON COLUMN monev.serapan_anggaran.realisasi_bulan IS
    'Sum of REALISASI nilai paid (tanggal) in this month.';
COMMENT ON COLUMN monev.serapan_anggaran.realisasi_kumulatif IS
    'Sum of REALISASI nilai with tanggal up to the end of this month.';
COMMENT ON COLUMN monev.serapan_anggaran.persen_serapan IS
    'realisasi_kumulatif / pagu x 100; NULL when pagu is 0.';
COMMENT ON COLUMN monev.serapan_anggaran.rencana_kumulatif IS
    'Sum over the OPD''s ANGGARAN rows of rencana_kas[1..bulan].';
COMMENT ON COLUMN monev.serapan_anggaran.persen_rencana IS 'rencana_kumulatif / pagu x 100.';
COMMENT ON COLUMN monev.serapan_anggaran.deviasi IS
    'persen_serapan - persen_rencana in percentage points (negative: behind plan).';

-- Indicator achievement (DOMAIN.md): realisation / target x 100, or for a lower-is-better
-- indicator (arah TURUN) (1 + (1 - realisation / target)) x 100; graded by SAKIP bands.
CREATE VIEW monev.capaian_kinerja AS
WITH target AS (
    SELECT tahun, kode_opd, kode_indikator, nama_indikator, satuan, target, arah
    FROM ${unified}.perencanaan
    WHERE NOT dihapus
),
-- The latest realisation: the period that ends last in the year; for the same end the longer
-- period (TAHUN before SEMESTER 2 before TRIWULAN 4 before BULAN 12); then the latest report.
terakhir AS (
    SELECT DISTINCT ON (kode_opd, kode_indikator, tahun)
           kode_opd, kode_indikator, tahun, jenis_periode, periode, realisasi, dilaporkan_pada
    FROM ${unified}.kinerja
    WHERE NOT dihapus
    ORDER BY kode_opd, kode_indikator, tahun,
             periode * CASE jenis_periode WHEN 'BULAN' THEN 1 WHEN 'TRIWULAN' THEN 3
                                          WHEN 'SEMESTER' THEN 6 ELSE 12 END DESC,
             CASE jenis_periode WHEN 'TAHUN' THEN 4 WHEN 'SEMESTER' THEN 3
                                WHEN 'TRIWULAN' THEN 2 ELSE 1 END DESC,
             dilaporkan_pada DESC,
             id DESC
),
capaian AS (
    SELECT kode_opd,
           kode_indikator,
           tahun,
           t.nama_indikator,
           t.satuan,
           t.arah,
           t.target,
           r.jenis_periode,
           r.periode,
           r.realisasi,
           r.dilaporkan_pada,
           round((CASE WHEN t.target = 0 THEN NULL
                       WHEN t.arah = 'TURUN' THEN (1 + (1 - r.realisasi / t.target)) * 100
                       ELSE r.realisasi / t.target * 100
                  END)::numeric, 2) AS capaian_persen
    FROM target AS t
    FULL JOIN terakhir AS r USING (kode_opd, kode_indikator, tahun)
)
SELECT *,
       CASE WHEN capaian_persen IS NULL THEN NULL
            WHEN capaian_persen >= 90 THEN 'AA'
            WHEN capaian_persen >= 80 THEN 'A'
            WHEN capaian_persen >= 70 THEN 'BB'
            WHEN capaian_persen >= 60 THEN 'B'
            WHEN capaian_persen >= 50 THEN 'CC'
            WHEN capaian_persen >= 30 THEN 'C'
            ELSE 'D'
       END AS predikat
FROM capaian;

COMMENT ON VIEW monev.capaian_kinerja IS
    'Indicator achievement per kode_opd x kode_indikator x tahun: the Bappeda target against '
    'the latest e-SAKIP realisation (either side may be missing: the other columns are NULL).';
COMMENT ON COLUMN monev.capaian_kinerja.arah IS 'NAIK: higher is better; TURUN: lower is better.';
COMMENT ON COLUMN monev.capaian_kinerja.jenis_periode IS
    'Kind of period of the latest realisation (BULAN, TRIWULAN, SEMESTER, TAHUN).';
COMMENT ON COLUMN monev.capaian_kinerja.periode IS 'Number of that period within the year.';
COMMENT ON COLUMN monev.capaian_kinerja.capaian_persen IS
    'NAIK: realisasi / target x 100; TURUN: (1 + (1 - realisasi / target)) x 100; NULL when '
    'target is 0 or either side is missing. Not capped: above 100 is over-achievement.';
COMMENT ON COLUMN monev.capaian_kinerja.predikat IS
    'SAKIP band, lower bound inclusive: AA >= 90 (above 100 too), A [80, 90), BB [70, 80), '
    'B [60, 70), CC [50, 60), C [30, 50), D below 30 (negative too).';

-- Population coverage: share of licence applications whose applicant was found in the
-- population state (pencocokan = COCOK), per month of submission and over the whole period.
CREATE VIEW monev.cakupan_penduduk AS
WITH permohonan AS (
    SELECT date_trunc('month', tanggal_pengajuan AT TIME ZONE 'Asia/Pontianak')::date AS bulan,
           pencocokan
    FROM ${unified}.perizinan
    WHERE NOT dihapus
)
SELECT CASE WHEN grouping(bulan) = 0 THEN 'bulan' ELSE 'periode' END AS lingkup,
       bulan,
       count(*)::int AS jumlah,
       count(*) FILTER (WHERE pencocokan = 'COCOK')::int AS jumlah_cocok,
       count(*) FILTER (WHERE pencocokan IS DISTINCT FROM 'COCOK')::int AS jumlah_tidak_cocok,
       round(100.0 * count(*) FILTER (WHERE pencocokan = 'COCOK') / count(*), 2) AS persen_cocok
FROM permohonan
GROUP BY GROUPING SETS ((bulan), ())
HAVING count(*) > 0;

COMMENT ON VIEW monev.cakupan_penduduk IS
    'Share of perizinan rows matched to a citizen, per month of tanggal_pengajuan (WIB) and '
    'overall (lingkup periode, bulan NULL).';
COMMENT ON COLUMN monev.cakupan_penduduk.persen_cocok IS 'jumlah_cocok / jumlah x 100.';

-- Data freshness (DOMAIN.md): now - the newest event from each source, over every unified
-- table. Deleted rows count here: the guard stamps a deleted row with the delete's source_ts.
CREATE VIEW monev.kesegaran_data AS
WITH baris AS (
    SELECT 'perizinan' AS tabel, source_opd, source_system, source_ts, ingested_at, dihapus
    FROM ${unified}.perizinan
    UNION ALL
    SELECT 'keuangan', source_opd, source_system, source_ts, ingested_at, dihapus
    FROM ${unified}.keuangan
    UNION ALL
    SELECT 'perencanaan', source_opd, source_system, source_ts, ingested_at, dihapus
    FROM ${unified}.perencanaan
    UNION ALL
    SELECT 'kinerja', source_opd, source_system, source_ts, ingested_at, dihapus
    FROM ${unified}.kinerja
    UNION ALL
    SELECT 'penduduk', source_opd, source_system, source_ts, ingested_at, dihapus
    FROM ${unified}.penduduk
)
SELECT source_opd,
       source_system,
       string_agg(DISTINCT tabel, ', ' ORDER BY tabel) AS tabel,
       count(*) FILTER (WHERE NOT dihapus) AS jumlah_baris,
       max(source_ts) AS sumber_terbaru,
       extract(epoch FROM now() - max(source_ts)) AS detik_sejak_terbaru,
       max(ingested_at) AS masuk_terbaru
FROM baris
GROUP BY source_opd, source_system;

COMMENT ON VIEW monev.kesegaran_data IS
    'Freshness per source (source_opd, source_system), deleted rows included.';
COMMENT ON COLUMN monev.kesegaran_data.tabel IS 'Unified tables holding rows from the source.';
COMMENT ON COLUMN monev.kesegaran_data.jumlah_baris IS 'Live (not deleted) rows from it.';
COMMENT ON COLUMN monev.kesegaran_data.sumber_terbaru IS
    'Newest source_ts: commit time of the newest event at the source.';
COMMENT ON COLUMN monev.kesegaran_data.detik_sejak_terbaru IS
    'now() - sumber_terbaru in seconds (now() is the start of the reading transaction).';
COMMENT ON COLUMN monev.kesegaran_data.masuk_terbaru IS
    'Newest ingested_at: when the sink last wrote a row from the source.';
