"""The M&E report as one self-contained HTML page: inline CSS and SVG, no script, no fetch.

Indonesian titles with English subtitles; every figure comes from the monev views (data.py),
the page only lays them out (sections.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from opdbus.sinks.report import fmt, sections
from opdbus.sinks.report.data import Monev
from opdbus.sinks.report.markup import h
from opdbus.sinks.report.ringkasan import ringkas

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f6f8;color:#212121;font:14px/1.45 "DejaVu Sans",system-ui,sans-serif}
main{max-width:1180px;margin:0 auto;padding:0 20px 40px}
header{background:#0d47a1;color:#fff;padding:22px 0 18px;margin-bottom:18px}
header .wrap{max-width:1180px;margin:0 auto;padding:0 20px}
h1{margin:0;font-size:26px}
header .en{color:#bbdefb;font-size:15px}
.meta{margin-top:10px;font-size:13px;color:#e3f2fd}
.meta b{color:#fff}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:16px 0;
  box-shadow:0 1px 3px rgba(0,0,0,.12)}
h2{margin:0;font-size:20px;color:#0d47a1}
h3{margin:14px 0 2px;font-size:15px}
.en{color:#757575;font-weight:normal}
p.sub{margin:2px 0 10px;color:#757575}
.kpis{display:flex;gap:12px;flex-wrap:wrap}
.kpi{flex:1 1 200px;background:#fff;border-radius:8px;padding:12px 16px;
  box-shadow:0 1px 3px rgba(0,0,0,.12)}
.kpi .v{font-size:26px;font-weight:bold;color:#0d47a1}
.kpi .l{font-size:13px}
.pair{display:flex;gap:8px;flex-wrap:wrap;align-items:flex-start}
.grid{display:flex;gap:14px;flex-wrap:wrap}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:8px 10px}
.card h3{margin:0}
.card p{margin:0 0 4px;font-size:12px;color:#616161}
.legend{font-size:12px;color:#424242;margin:6px 0}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;
  margin-right:4px}
.dash{display:inline-block;width:18px;border-top:2px dashed;vertical-align:3px;margin-right:4px}
table{border-collapse:collapse;margin-top:10px;font-size:13px;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left}
th{background:#fafafa;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.neg{color:#c62828}
.empty{color:#757575;font-style:italic}
footer{font-size:12px;color:#616161}
footer li{margin:2px 0}
"""


def _header(monev: Monev) -> str:
    period = monev.periode
    shown = (
        f"{fmt.bulan_tahun(period[0])} {fmt.NDASH} {fmt.bulan_tahun(period[1])}"
        if period
        else "belum ada data"
    )
    return (
        '<header><div class="wrap">'
        "<h1>Laporan Monitoring dan Evaluasi Kota Pontianak</h1>"
        '<div class="en">Monitoring and evaluation report, City of Pontianak</div>'
        f'<div class="meta">Dibuat <span class="en">(generated)</span>: '
        f"<b>{h(fmt.waktu(monev.dibuat))}</b> · Periode data "
        f'<span class="en">(data period)</span>: <b>{h(shown)}</b> · Sumber: skema '
        "<b>monev</b> basis data opdbus (data terpadu, pemohon dengan nama samaran)</div>"
        "</div></header>"
    )


def _kpis(monev: Monev) -> str:
    r = ringkas(monev)
    month = monev.bulan_realisasi
    serapan_label = (
        f"Serapan anggaran {monev.tahun_anggaran} s.d. {fmt.BULAN[month - 1]}"
        if month
        else "Serapan anggaran"
    )
    good = r.predikat["AA"] + r.predikat["A"]
    cards = [
        (
            fmt.angka(r.diputus, 0),
            "Izin diputus",
            f"{fmt.persen(r.persen_tepat_waktu)} tepat waktu (on time)",
        ),
        (
            fmt.persen(r.persen_serapan),
            serapan_label,
            f"rencana (plan) {fmt.persen(r.persen_rencana)}",
        ),
        (
            f"{good} / {r.indikator}",
            f"Indikator berpredikat AA atau A ({monev.tahun_kinerja or '—'})",
            "indicators graded AA or A",
        ),
        (
            fmt.persen(monev.cakupan.persen_cocok if monev.cakupan else None),
            "Cakupan penduduk",
            "applications matched to a citizen",
        ),
    ]
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="v">{h(v)}</div><div class="l">{h(label)}</div>'
            f'<div class="l en">{h(sub)}</div></div>'
            for v, label, sub in cards
        )
        + "</div>"
    )


FOOTER = """
<footer><section>
<h2>Catatan <span class="en">/ Notes</span></h2>
<ul>
<li>Bulan adalah bulan kalender WIB (Asia/Pontianak). <span class="en">Months are WIB
calendar months.</span></li>
<li>Tingkat layanan: hari kalender dari pengajuan sampai keputusan; median dan p90 dengan
interpolasi linear (percentile_cont). <span class="en">Service level: calendar days, median and
90th percentile with linear interpolation.</span></li>
<li>Predikat SAKIP dari capaian yang dibulatkan 2 desimal, batas bawah inklusif: AA ≥ 90
(termasuk &gt; 100), A 80&ndash;90, BB 70&ndash;80, B 60&ndash;70, CC 50&ndash;60,
C 30&ndash;50, D &lt; 30.</li>
<li>Hanya baris yang tidak dihapus di sumber; kesegaran data juga menghitung penghapusan.
<span class="en">Deleted rows are left out, except that a delete counts as news for
freshness.</span></li>
<li>Angka dihitung oleh PostgreSQL di skema <code>monev</code>; rumus lengkap ada di komentar
view (<code>\\d+ monev.*</code>). <span class="en">Figures are computed by the monev views;
the formulas are in their SQL comments.</span></li>
</ul>
</section></footer>
"""


def page(monev: Monev, expected: Mapping[str, int] | None = None) -> str:
    """The whole report. expected: seconds a source may stay silent, per source system
    (config observe.expected_interval_s), to colour freshness."""
    body = [
        _header(monev),
        "<main>",
        _kpis(monev),
        sections.layanan(monev),
        sections.serapan(monev),
        sections.capaian(monev),
        sections.cakupan(monev),
        sections.kesegaran(monev, expected or {}),
        FOOTER,
        "</main>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Laporan M&amp;E Kota Pontianak</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
