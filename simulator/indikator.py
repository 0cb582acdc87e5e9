"""Performance indicators shared by Bappeda's targets and the e-SAKIP realisations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opdbus.rules import Opd
from opdbus.simulator.draw import between, rng_for

BASE_YEAR = 2025  # the year the configured targets are written for


@dataclass(frozen=True)
class Indikator:
    kode: str
    nama: str
    satuan: str
    arah: str  # NAIK: higher is better; TURUN: lower is better
    target: float  # for BASE_YEAR
    kumulatif: bool  # a count that grows through the year (realisations add up)


def indikator_of(settings: Mapping[str, Any], opd: Opd) -> list[Indikator]:
    spec = settings["indikator"]
    listed = spec.get(opd.slug) or spec["umum"]
    return [
        Indikator(
            kode=str(item["kode"]),
            nama=str(item["nama"]),
            satuan=str(item["satuan"]),
            arah=str(item["arah"]),
            target=float(item["target"]),
            kumulatif=bool(item.get("kumulatif", False)),
        )
        for item in listed
    ]


def kode_program(opd: Opd) -> str:
    """The OPD's first technical program (X.XX.02), which its key indicators belong to."""
    return f"{opd.kode_urusan}.02"


def target_value(
    seed: int, tahun: int, opd: Opd, indikator: Indikator, revision: int, bounds: Any
) -> float:
    """The year's target: a little more ambitious each year; revision n > 0 of the planning
    document moves it by a few percent."""
    years = tahun - BASE_YEAR
    step = 0.02 if indikator.arah == "NAIK" else -0.03
    value = indikator.target * (1 + step * years)
    if revision:
        value *= 1 + between(
            rng_for(seed, "target", tahun, opd.slug, indikator.kode, revision), bounds
        )
    if indikator.satuan == "persen":
        value = min(value, 100.0)
    return round(value, 2)


def realisasi_value(
    seed: int, tahun: int, opd: Opd, indikator: Indikator, quarter: int, bounds: Any
) -> float:
    """Realisation up to a quarter: counts grow with the quarters; rates and indices hover
    around their year-end achievement."""
    achievement = between(rng_for(seed, "capaian", tahun, opd.slug, indikator.kode), bounds)
    if indikator.arah == "TURUN":
        achievement = 2 - achievement  # above target is worse
    wobble = between(
        rng_for(seed, "capaian", tahun, opd.slug, indikator.kode, quarter), (0.97, 1.03)
    )
    target = target_value(seed, tahun, opd, indikator, 0, (0, 0))
    value = target * achievement * wobble
    if indikator.kumulatif:
        value *= quarter / 4
    if indikator.satuan == "persen":
        value = min(value, 100.0)
    return round(value, 2)
