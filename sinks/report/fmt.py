"""Numbers, money, dates and ages written the Indonesian way (1.234,56; Rp; WIB)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
DASH = "\u2014"  # an empty cell
NDASH = "\u2013"  # a range: Februari 2026 \u2013 April 2026
BULAN = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip
BULAN_PENDEK = tuple(name[:3] if name != "Agustus" else "Agu" for name in BULAN)

Number = int | float | Decimal


def angka(value: Number | None, digits: int = 2) -> str:
    """1234567.891 -> '1.234.567,89' (dot groups thousands, comma marks decimals)."""
    if value is None:
        return DASH
    text = (
        f"{float(value):,.{digits}f}" if not isinstance(value, Decimal) else f"{value:,.{digits}f}"
    )
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def persen(value: Number | None, digits: int = 2) -> str:
    return DASH if value is None else f"{angka(value, digits)}%"


def hari(value: Number | None) -> str:
    return DASH if value is None else f"{angka(value, 2)} hari"


def rupiah(value: Number | None) -> str:
    """Whole rupiah in full, e.g. Rp1.000.000.000 (cents only when there are any)."""
    if value is None:
        return DASH
    whole = Decimal(value) == Decimal(value).to_integral_value()
    return f"Rp{angka(value, 0 if whole else 2)}"


def rupiah_singkat(value: Number | None) -> str:
    """Short form for chart labels: Rp1,00 M (miliar), Rp375,00 jt (juta)."""
    if value is None:
        return DASH
    amount = float(value)
    for size, unit in ((1e12, "T"), (1e9, "M"), (1e6, "jt"), (1e3, "rb")):
        if abs(amount) >= size:
            return f"Rp{angka(amount / size, 2)} {unit}"
    return f"Rp{angka(amount, 0)}"


def bulan_tahun(day: dt.date | None) -> str:
    return DASH if day is None else f"{BULAN[day.month - 1]} {day.year}"


def waktu(moment: dt.datetime | None) -> str:
    """A moment in WIB, e.g. '28 November 2026 11:27 WIB'."""
    if moment is None:
        return DASH
    local = moment.astimezone(WIB)
    return f"{local.day} {BULAN[local.month - 1]} {local.year} {local:%H:%M} WIB"


def umur(seconds: Number | None) -> str:
    """An age in the two largest units, e.g. '2 hari 3 jam', '5 menit', '40 detik'."""
    if seconds is None:
        return DASH
    left = max(0, int(seconds))
    units = (("hari", 86400), ("jam", 3600), ("menit", 60), ("detik", 1))
    parts = []
    for name, size in units:
        count, left = divmod(left, size)
        if count or (parts and len(parts) < 2):
            parts.append((count, name))
        if len(parts) == 2:
            break
    shown = [f"{count} {name}" for count, name in parts if count]
    return " ".join(shown) or "0 detik"
