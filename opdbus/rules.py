"""Domain rules shared by the simulator, the connectors and the processors.

NIK validation (DOMAIN.md), Pontianak's region codes and the configured OPD list. Every rule
that fails is a RuleViolation naming the field and the rule, so a bad row can be reported with
its reason. Reference data is read from config/reference/, never written into code.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from opdbus.config import REPO_ROOT

REFERENCE_DIR = REPO_ROOT / "config" / "reference"
WILAYAH_FILE = REFERENCE_DIR / "wilayah_pontianak.csv"
OPD_FILE = REFERENCE_DIR / "opd.yaml"

# The 38 provinces of Indonesia by Kemendagri code (Permendagri 58/2021 as amended for the four
# Papua provinces of 2022). A national constant that changes only by law, hence data in code; a
# NIK issued before 2022 in the new Papua provinces still carries 91 or 92.
PROVINCES: Mapping[str, str] = {
    "11": "Aceh",
    "12": "Sumatera Utara",
    "13": "Sumatera Barat",
    "14": "Riau",
    "15": "Jambi",
    "16": "Sumatera Selatan",
    "17": "Bengkulu",
    "18": "Lampung",
    "19": "Kepulauan Bangka Belitung",
    "21": "Kepulauan Riau",
    "31": "DKI Jakarta",
    "32": "Jawa Barat",
    "33": "Jawa Tengah",
    "34": "DI Yogyakarta",
    "35": "Jawa Timur",
    "36": "Banten",
    "51": "Bali",
    "52": "Nusa Tenggara Barat",
    "53": "Nusa Tenggara Timur",
    "61": "Kalimantan Barat",
    "62": "Kalimantan Tengah",
    "63": "Kalimantan Selatan",
    "64": "Kalimantan Timur",
    "65": "Kalimantan Utara",
    "71": "Sulawesi Utara",
    "72": "Sulawesi Tengah",
    "73": "Sulawesi Selatan",
    "74": "Sulawesi Tenggara",
    "75": "Gorontalo",
    "76": "Sulawesi Barat",
    "81": "Maluku",
    "82": "Maluku Utara",
    "91": "Papua",
    "92": "Papua Barat",
    "93": "Papua Selatan",
    "94": "Papua Tengah",
    "95": "Papua Pegunungan",
    "96": "Papua Barat Daya",
}

FEMALE_DAY_OFFSET = 40  # women's NIK day = day of birth + 40
SEXES = ("L", "P")
_SIXTEEN_DIGITS = re.compile(r"[0-9]{16}")  # not \d: that accepts Arabic-Indic digits too
_ANY_DIGITS = re.compile(r"[0-9]*")


class RuleViolation(ValueError):
    """A value that breaks a domain rule: the field, the rule, and the offending value."""

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        super().__init__(f"field '{field}': {rule} (got {shown})")
        self.field = field
        self.rule = rule
        self.value = value


# --- NIK ------------------------------------------------------------------------------------


def _format_violation(nik: object) -> RuleViolation | None:
    if not isinstance(nik, str):
        return RuleViolation("nik", "must be text of 16 digits", nik)
    if not _ANY_DIGITS.fullmatch(nik):
        return RuleViolation("nik", "must contain only the ASCII digits 0-9", nik)
    if not _SIXTEEN_DIGITS.fullmatch(nik):
        return RuleViolation("nik", f"must have 16 digits, has {len(nik)}", nik)
    return None


def _century_year(yy: int, month: int, day: int, today: dt.date) -> int:
    # Two-digit year: the century that does not put the birth date in the future.
    year = 2000 + yy
    return year if (year, month, day) <= (today.year, today.month, today.day) else year - 100


def nik_violations(
    nik: object, jenis_kelamin: str | None = None, *, today: dt.date | None = None
) -> list[RuleViolation]:
    """Every rule the NIK breaks (empty: valid). With jenis_kelamin, also the sex agreement.

    A NIK that is not 16 ASCII digits gets that one violation: the other rules read digits.
    """
    bad_format = _format_violation(nik)
    if bad_format:
        return [bad_format]
    assert isinstance(nik, str)
    found: list[RuleViolation] = []
    if nik[:2] not in PROVINCES:
        found.append(
            RuleViolation("nik", f"province code {nik[:2]} is not an Indonesian province", nik)
        )
    day_code, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    day_ok = 1 <= day_code <= 31 or 41 <= day_code <= 71
    if not day_ok:
        found.append(RuleViolation("nik", f"day code {day_code:02d} is not 01-31 or 41-71", nik))
    if not 1 <= month <= 12:
        found.append(RuleViolation("nik", f"month {month:02d} is not 01-12", nik))
    if day_ok and 1 <= month <= 12:
        day = day_code - FEMALE_DAY_OFFSET if day_code > 31 else day_code
        year = _century_year(yy, month, day, today or dt.date.today())
        try:
            dt.date(year, month, day)
        except ValueError:
            found.append(
                RuleViolation("nik", f"birth date {day:02d}-{month:02d}-{year} does not exist", nik)
            )
    if day_ok and jenis_kelamin is not None:
        if jenis_kelamin not in SEXES:
            found.append(RuleViolation("jenis_kelamin", "must be L or P", jenis_kelamin))
        else:
            implied = "P" if day_code > 31 else "L"
            if implied != jenis_kelamin:
                found.append(
                    RuleViolation(
                        "jenis_kelamin",
                        f"disagrees with the NIK's day code {day_code:02d}, which means {implied}",
                        jenis_kelamin,
                    )
                )
    return found


def validate_nik(
    nik: object, jenis_kelamin: str | None = None, *, today: dt.date | None = None
) -> str:
    """The NIK itself if every rule holds; else raises the first RuleViolation."""
    found = nik_violations(nik, jenis_kelamin, today=today)
    if found:
        raise found[0]
    assert isinstance(nik, str)
    return nik


def is_valid_nik(
    nik: object, jenis_kelamin: str | None = None, *, today: dt.date | None = None
) -> bool:
    return not nik_violations(nik, jenis_kelamin, today=today)


def nik_sex(nik: str) -> str:
    """L or P, from the day code (women: day + 40). Raises RuleViolation for an invalid NIK."""
    validate_nik(nik)
    return "P" if int(nik[6:8]) > 31 else "L"


def nik_birth_date(nik: str, *, today: dt.date | None = None) -> dt.date:
    """Birth date from DDMMYY; the century is the one that does not put it after `today`."""
    validate_nik(nik, today=today)
    day_code, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    day = day_code - FEMALE_DAY_OFFSET if day_code > 31 else day_code
    return dt.date(_century_year(yy, month, day, today or dt.date.today()), month, day)


# --- Region codes (Kemendagri, dotted) -------------------------------------------------------


@dataclass(frozen=True)
class Wilayah:
    kode: str
    tingkat: str  # kota, kecamatan or kelurahan
    nama: str
    kode_induk: str


@cache
def wilayah(path: Path = WILAYAH_FILE) -> tuple[Wilayah, ...]:
    """Pontianak's kota, kecamatan and kelurahan rows, in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Wilayah(row["kode"], row["tingkat"], row["nama"], row["kode_induk"])
            for row in csv.DictReader(handle)
        )


@cache
def kelurahan_codes() -> frozenset[str]:
    """The 29 kelurahan codes, e.g. 61.71.01.1002."""
    return frozenset(w.kode for w in wilayah() if w.tingkat == "kelurahan")


@cache
def kecamatan_codes() -> tuple[str, ...]:
    """The 6 kecamatan codes in code order, e.g. 61.71.01."""
    return tuple(sorted(w.kode for w in wilayah() if w.tingkat == "kecamatan"))


@cache
def _kecamatan_by_kelurahan() -> Mapping[str, str]:
    return {w.kode: w.kode_induk for w in wilayah() if w.tingkat == "kelurahan"}


def kecamatan_of(kode_kelurahan: str) -> str:
    """The kecamatan code of a kelurahan; RuleViolation if it is not one of Pontianak's."""
    try:
        return _kecamatan_by_kelurahan()[kode_kelurahan]
    except (KeyError, TypeError):
        raise RuleViolation(
            "kode_kelurahan", "is not a kelurahan code of Kota Pontianak", kode_kelurahan
        ) from None


def validate_kelurahan(kode_kelurahan: object) -> str:
    """The code itself if it names one of Pontianak's kelurahan; else RuleViolation."""
    if not isinstance(kode_kelurahan, str):
        raise RuleViolation("kode_kelurahan", "must be text", kode_kelurahan)
    kecamatan_of(kode_kelurahan)
    return kode_kelurahan


# --- OPD ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opd:
    slug: str
    nama: str
    kode_urusan: str  # Permendagri 90/2019 urusan/bidang, prefix of the OPD's program codes


@cache
def opds(path: Path = OPD_FILE) -> tuple[Opd, ...]:
    """The configured OPD, in file order."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return tuple(
        Opd(str(item["slug"]), str(item["nama"]), str(item["kode_urusan"]))
        for item in data.get("opd", [])
    )


def opd_slugs() -> tuple[str, ...]:
    return tuple(opd.slug for opd in opds())


def validate_opd(kode_opd: object) -> str:
    if kode_opd not in opd_slugs():
        raise RuleViolation("kode_opd", "is not a configured OPD slug", kode_opd)
    assert isinstance(kode_opd, str)
    return kode_opd
