"""Display names from the reference data (config/reference/), falling back to the code."""

from __future__ import annotations

from functools import cache

from opdbus import rules


@cache
def _kecamatan() -> dict[str, str]:
    return {w.kode: w.nama for w in rules.wilayah() if w.tingkat == "kecamatan"}


@cache
def _opd() -> dict[str, str]:
    return {opd.slug: opd.nama for opd in rules.opds()}


def kecamatan(kode: str | None) -> str:
    """'61.71.01' -> 'Pontianak Selatan'; an unknown code as it is."""
    if kode is None:
        return "(tanpa kecamatan)"
    return _kecamatan().get(kode, kode)


def opd(slug: str | None) -> str:
    """'dinkes' -> 'Dinas Kesehatan'; an unknown slug as it is."""
    if slug is None:
        return "(tanpa OPD)"
    return _opd().get(slug, slug)
