"""The five sections of the report, one per monev view: chart(s), then the table."""

from __future__ import annotations

import math
from collections.abc import Mapping

from opdbus.sinks.report import fmt, names, svg
from opdbus.sinks.report.data import Capaian, Layanan, Monev
from opdbus.sinks.report.markup import (
    ABU,
    BELUM_ADA,
    BIRU,
    HIJAU,
    JINGGA,
    MERAH,
    PREDIKAT,
    h,
    legend,
    table,
    title,
)
from opdbus.sinks.report.ringkasan import (
    LAYANAN_HEADERS,
    LAYANAN_NUMERIC,
    layanan_cells,
    status_kesegaran,
)

# --- Licensing service level -------------------------------------------------------------


def _layanan_chart(jenis: str, rows: list[Layanan]) -> str:
    standard = rows[0].maks_hari
    longest = max(float(r.p90_hari or r.median_hari or 0) for r in rows)
    top = max(longest, float(standard or 0)) * 1.05
    ticks = [(t, fmt.angka(t, 0 if t == int(t) else 1)) for t in svg.nice_ticks(top)]
    bars = [
        svg.Bar(
            names.kecamatan(r.kode_kecamatan),
            float(r.median_hari) if r.median_hari is not None else None,
            HIJAU if standard is None or (r.median_hari or 0) <= standard else JINGGA,
            f"{fmt.angka(r.median_hari)} (p90 {fmt.angka(r.p90_hari)})",
            whisker=float(r.p90_hari) if r.p90_hari is not None else None,
        )
        for r in rows
    ]
    days = svg.hbars(
        bars,
        title=f"Median hari {jenis} per kecamatan",
        ticks=ticks,
        reference=(standard, f"standar {standard} hari") if standard else None,
        width=640,
        label_width=160,
        text_width=140,
    )
    share = [
        svg.Bar(
            "",
            float(r.persen_tepat_waktu) if r.persen_tepat_waktu is not None else None,
            BIRU,
            f"{fmt.persen(r.persen_tepat_waktu)} ({r.jumlah_tepat_waktu}/{r.jumlah})"
            if r.persen_tepat_waktu is not None
            else f"tanpa standar (n={r.jumlah})",
        )
        for r in rows
    ]
    on_time = svg.hbars(
        share,
        title=f"Persen tepat waktu {jenis} per kecamatan",
        ticks=[(t, f"{t:.0f}%") for t in (0, 25, 50, 75, 100)],
        width=440,
        label_width=14,
        text_width=130,
    )
    return f'<div class="pair">{days}{on_time}</div>'


def layanan(monev: Monev) -> str:
    out = [
        "<section>",
        title("Tingkat layanan perizinan per kecamatan", "Licensing service level by kecamatan"),
        '<p class="sub">Hari dari pengajuan sampai keputusan (terbit atau ditolak), seluruh '
        'periode; garis merah: standar layanan. <span class="en">Days from submission to '
        "decision over the whole period; red line: the service standard. Right: share decided "
        "within the standard.</span></p>",
    ]
    if not monev.layanan:
        return "".join([*out, BELUM_ADA, "</section>"])
    out.append(
        legend(
            [
                (HIJAU, "median ≤ standar", False),
                (JINGGA, "median > standar", False),
                ("#212121", "garis: p90", False),
                (MERAH, "standar layanan", True),
                (BIRU, "% tepat waktu", False),
            ]
        )
    )
    by_type: dict[str, list[Layanan]] = {}
    for row in monev.layanan:
        by_type.setdefault(row.jenis_izin, []).append(row)
    for jenis, rows in by_type.items():
        standard = rows[0].maks_hari
        note = f"standar {standard} hari" if standard else "belum ada standar layanan"
        out.append(f'<h3>{h(jenis)} <span class="en">({h(note)})</span></h3>')
        out.append(_layanan_chart(jenis, rows))
    out.append(
        table(
            LAYANAN_HEADERS,
            (layanan_cells(r) for r in monev.layanan),
            numeric=LAYANAN_NUMERIC,
        )
    )
    out.append("</section>")
    return "".join(out)


# --- Budget absorption -------------------------------------------------------------------


def serapan(monev: Monev) -> str:
    year, month = monev.tahun_anggaran, monev.bulan_realisasi
    out = [
        "<section>",
        title(
            f"Serapan anggaran per OPD{f' tahun {year}' if year else ''}",
            "Budget absorption by OPD against the disbursement plan",
        ),
        '<p class="sub">Realisasi kumulatif &divide; pagu &times; 100 per bulan (garis biru) '
        "dibanding rencana kas kumulatif (garis putus-putus). "
        '<span class="en">Cumulative payments as a share of the budget ceiling, month by '
        "month, against the cumulative plan.</span></p>",
    ]
    rows = monev.serapan_tahun
    budgeted = sorted({s.kode_opd for s in rows if s.pagu > 0})
    if not budgeted:
        return "".join([*out, BELUM_ADA, "</section>"])
    out.append(legend([(BIRU, "realisasi (actual)", False), (ABU, "rencana (plan)", True)]))
    cards = []
    for opd in budgeted:
        months = sorted((s for s in rows if s.kode_opd == opd), key=lambda s: s.bulan)
        last = months[(month or 12) - 1]  # as in the table below
        top = max(100.0, *(float(s.persen_serapan or 0) for s in months))
        chart = svg.lines(
            [
                svg.Line("rencana", [float(s.persen_rencana or 0) for s in months], ABU, True),
                svg.Line(
                    "realisasi",
                    [
                        float(s.persen_serapan or 0) if month and s.bulan <= month else None
                        for s in months
                    ],
                    BIRU,
                ),
            ],
            [name[0] for name in fmt.BULAN_PENDEK],
            title=f"Serapan {opd} {year}",
            y_ticks=[(t, f"{t:.0f}%") for t in svg.nice_ticks(top, 4)],
        )
        cards.append(
            f'<div class="card"><h3 title="{h(names.opd(opd))}">{h(opd)}</h3>'
            f"<p>pagu {h(fmt.rupiah_singkat(last.pagu))} · "
            f"{h(fmt.persen(last.persen_serapan))} (rencana {h(fmt.persen(last.persen_rencana))})"
            f"</p>{chart}</div>"
        )
    out.append(f'<div class="grid">{"".join(cards)}</div>')
    shown = fmt.BULAN[month - 1] if month else fmt.DASH
    table_rows = []
    for opd in sorted({s.kode_opd for s in rows}):
        last = next(s for s in rows if s.kode_opd == opd and s.bulan == (month or 12))
        deviasi = fmt.angka(last.deviasi) if last.deviasi is not None else fmt.DASH
        cls = ' class="neg"' if last.deviasi is not None and last.deviasi < 0 else ""
        table_rows.append(
            [
                f"{opd} {fmt.NDASH} {names.opd(opd)}",
                fmt.rupiah(last.pagu) if last.pagu > 0 else "belum ada pagu",
                fmt.rupiah(last.realisasi_kumulatif),
                fmt.persen(last.persen_serapan),
                fmt.persen(last.persen_rencana),
                ("html", f"<span{cls}>{h(deviasi)}</span>"),
            ]
        )
    out.append(
        table(
            ["OPD", "Pagu", f"Realisasi s.d. {shown}", "Serapan", "Rencana", "Deviasi (poin)"],
            table_rows,
            numeric=(1, 2, 3, 4, 5),
        )
    )
    out.append("</section>")
    return "".join(out)


# --- Indicator achievement ---------------------------------------------------------------


def _capaian_label(c: Capaian) -> str:
    return f"{c.kode_opd} · {c.kode_indikator}"


def capaian(monev: Monev) -> str:
    year = monev.tahun_kinerja
    out = [
        "<section>",
        title(
            f"Capaian kinerja{f' tahun {year}' if year else ''}",
            "Indicator achievement, coloured by SAKIP grade",
        ),
        '<p class="sub">Realisasi terakhir &divide; target &times; 100; indikator yang makin '
        "kecil makin baik (arah turun): (1 + (1 &minus; realisasi &divide; target)) &times; "
        '100. <span class="en">Latest realisation against the yearly target; lower-is-better '
        "indicators use the SAKIP inversion. Dashed line: 100%.</span></p>",
    ]
    rows = monev.capaian_tahun
    graded = [c for c in rows if c.capaian_persen is not None]
    if not rows:
        return "".join([*out, BELUM_ADA, "</section>"])
    out.append(legend((color, f"{band} {span}", False) for band, (color, span) in PREDIKAT.items()))
    if graded:
        top = max(120.0, *(float(c.capaian_persen or 0) for c in graded))
        out.append(
            svg.hbars(
                [
                    svg.Bar(
                        _capaian_label(c),
                        float(c.capaian_persen or 0),
                        PREDIKAT.get(c.predikat or "", (ABU, ""))[0],
                        f"{fmt.persen(c.capaian_persen)} · {c.predikat}",
                    )
                    for c in graded
                ],
                title=f"Capaian kinerja {year}",
                ticks=[(t, f"{t:.0f}%") for t in svg.nice_ticks(top, 6)],
                reference=(100, "100%"),
                width=900,
                label_width=190,
                text_width=130,
            )
        )
    arrow = {"NAIK": "↑ naik", "TURUN": "↓ turun"}
    out.append(
        table(
            ["OPD", "Indikator", "Arah", "Target", "Realisasi (periode)", "Capaian", "Predikat"],
            (
                [
                    c.kode_opd,
                    f"{c.kode_indikator} {c.nama_indikator or '(tanpa target)'}",
                    arrow.get(c.arah or "", fmt.DASH),
                    f"{fmt.angka(c.target)} {c.satuan or ''}".strip()
                    if c.target is not None
                    else fmt.DASH,
                    f"{fmt.angka(c.realisasi)} ({c.jenis_periode} {c.periode})"
                    if c.realisasi is not None
                    else "belum dilaporkan",
                    fmt.persen(c.capaian_persen),
                    c.predikat or fmt.DASH,
                ]
                for c in rows
            ),
            numeric=(3, 4, 5),
        )
    )
    out.append("</section>")
    return "".join(out)


# --- Population coverage -----------------------------------------------------------------


def cakupan(monev: Monev) -> str:
    out = [
        "<section>",
        title("Cakupan penduduk", "Population coverage"),
        '<p class="sub">Bagian permohonan izin yang pemohonnya ditemukan di data kependudukan '
        '(COCOK), per bulan pengajuan. <span class="en">Share of licence applications whose '
        "applicant was matched to a citizen, by month of submission.</span></p>",
    ]
    total = monev.cakupan
    if total is None:
        return "".join([*out, BELUM_ADA, "</section>"])
    out.append(
        f'<p><b style="font-size:22px;color:#00897b">{h(fmt.persen(total.persen_cocok))}</b> '
        f"dari {h(fmt.angka(total.jumlah, 0))} permohonan "
        f"({h(fmt.angka(total.jumlah_cocok, 0))} cocok) "
        '<span class="en">overall</span></p>'
    )
    out.append(
        svg.vbars(
            [
                svg.Bar(
                    f"{fmt.BULAN_PENDEK[c.bulan.month - 1]} {c.bulan.year}" if c.bulan else "",
                    float(c.persen_cocok or 0),
                    "#00897b",
                    fmt.persen(c.persen_cocok, 1),
                )
                for c in monev.cakupan_bulanan
            ],
            title="Cakupan penduduk per bulan",
            y_ticks=[(t, f"{t:.0f}%") for t in (0, 25, 50, 75, 100)],
            width=min(900, 140 + 90 * len(monev.cakupan_bulanan)),
        )
    )
    out.append(
        table(
            ["Bulan pengajuan", "Permohonan", "Cocok", "Tidak cocok", "Cakupan"],
            (
                [
                    fmt.bulan_tahun(c.bulan) if c.bulan else "Seluruh periode",
                    c.jumlah,
                    c.jumlah_cocok,
                    c.jumlah - c.jumlah_cocok,
                    fmt.persen(c.persen_cocok),
                ]
                for c in [*monev.cakupan_bulanan, total]
            ),
            numeric=(1, 2, 3, 4),
        )
    )
    out.append("</section>")
    return "".join(out)


# --- Data freshness ----------------------------------------------------------------------

AGE_TICKS = [
    (1.0, "1 dtk"),
    (60.0, "1 mnt"),
    (3600.0, "1 jam"),
    (86400.0, "1 hari"),
    (604800.0, "7 hari"),
    (2592000.0, "30 hari"),
    (31536000.0, "365 hari"),
]


STATUS_COLOUR = {"segar": HIJAU, "terlambat": MERAH, "tanpa_batas": ABU}


def kesegaran(monev: Monev, expected: Mapping[str, int]) -> str:
    out = [
        "<section>",
        title("Kesegaran data per sumber", "Data freshness by source"),
        '<p class="sub">Umur peristiwa terbaru dari tiap sumber (sekarang &minus; waktu commit di '
        'sumber), skala logaritmik. <span class="en">Age of the newest event from each '
        "source (now minus its commit time at the source), log scale.</span></p>",
    ]
    if not monev.kesegaran:
        return "".join([*out, BELUM_ADA, "</section>"])
    ages = [float(s.detik_sejak_terbaru or 1) for s in monev.kesegaran]
    ticks = [t for t in AGE_TICKS if t[0] < max(ages)]
    ticks.append(next((t for t in AGE_TICKS if t[0] >= max(ages)), AGE_TICKS[-1]))
    span = math.log10(ticks[-1][0]) or 1.0

    def position(seconds: float) -> float:
        return max(0.0, min(1.0, math.log10(max(seconds, 1.0)) / span))

    out.append(
        svg.hbars(
            [
                svg.Bar(
                    f"{s.source_opd} / {s.source_system}",
                    max(float(s.detik_sejak_terbaru or 1), 1.0),
                    STATUS_COLOUR[status_kesegaran(s, expected)[0]],
                    fmt.umur(s.detik_sejak_terbaru),
                )
                for s in monev.kesegaran
            ],
            title="Kesegaran data per sumber",
            ticks=ticks,
            position=position,
            width=900,
            label_width=190,
            text_width=130,
        )
    )
    out.append(
        legend([(HIJAU, "segar", False), (MERAH, "terlambat", False), (ABU, "tanpa batas", False)])
    )
    out.append(
        table(
            ["Sumber (OPD / sistem)", "Tabel", "Baris", "Peristiwa terbaru", "Umur",
             "Terakhir masuk", "Status"],
            (
                [
                    f"{s.source_opd} / {s.source_system}",
                    s.tabel,
                    fmt.angka(s.jumlah_baris, 0),
                    fmt.waktu(s.sumber_terbaru),
                    fmt.umur(s.detik_sejak_terbaru),
                    fmt.waktu(s.masuk_terbaru),
                    status_kesegaran(s, expected)[1],
                ]
                for s in monev.kesegaran
            ),
            numeric=(2,),
        )
    )  # fmt: skip
    out.append("</section>")
    return "".join(out)
