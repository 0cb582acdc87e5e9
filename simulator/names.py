"""Names as SIAK records them (upper case, as on the KTP), for Pontianak's mix of naming styles.

Small embedded lists per style (Malay, Javanese, Chinese-Indonesian as written in West
Kalimantan, Dayak/Christian, Bugis/Madurese); shares come from the settings. Also the spelling
slips that registry staff make and later correct.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping

from opdbus.simulator.draw import Weighted

# style -> (male given names, female given names, second names)
STYLES: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "melayu": (
        (
            "MUHAMMAD",
            "AHMAD",
            "SYARIF",
            "ABDUL",
            "RIZKY",
            "FAJAR",
            "HENDRA",
            "IRFAN",
            "YUSUF",
            "HAMDAN",
            "RAHMAT",
            "ZULKIFLI",
            "ISMAIL",
            "FIRDAUS",
            "HARIS",
            "ARIF",
            "RIDWAN",
            "SYAHRUL",
            "ALDI",
            "DIMAS",
            "IQBAL",
            "RAFI",
            "HAFIZ",
            "UMAR",
        ),
        (
            "SITI",
            "NUR",
            "SYARIFAH",
            "UTIN",
            "RAHMA",
            "AISYAH",
            "FITRI",
            "NURUL",
            "HALIMAH",
            "ZAHRA",
            "DIANA",
            "MAWAR",
            "SALSABILA",
            "NABILA",
            "AZIZAH",
            "RAUDHAH",
            "YULIA",
            "INDAH",
            "PUTRI",
            "MAISARAH",
        ),
        (
            "RAHMAN",
            "HIDAYAT",
            "FIRMANSYAH",
            "SAPUTRA",
            "RAMADHAN",
            "HAKIM",
            "AZHARI",
            "MAULANA",
            "FAUZI",
            "NURHALIZA",
            "RAHMAWATI",
            "FITRIANI",
            "AMELIA",
            "ALKADRIE",
            "ALAYDRUS",
            "SAFITRI",
            "HASANAH",
            "KHAIRUNNISA",
        ),
    ),
    "jawa": (
        (
            "AGUS",
            "BUDI",
            "EKO",
            "JOKO",
            "BAMBANG",
            "WAHYU",
            "ADI",
            "TEGUH",
            "HERU",
            "DWI",
            "SLAMET",
            "BAYU",
            "YOGA",
            "ANDRI",
        ),
        (
            "SRI",
            "DWI",
            "TRI",
            "ENDANG",
            "WAHYUNI",
            "SUMARNI",
            "RATNA",
            "DEWI",
            "YULI",
            "ANI",
            "TITIK",
            "NINGSIH",
        ),
        (
            "SANTOSO",
            "PRASETYO",
            "WIBOWO",
            "SETIAWAN",
            "KURNIAWAN",
            "SUSILO",
            "NUGROHO",
            "LESTARI",
            "RAHAYU",
            "WULANDARI",
            "ASTUTI",
            "HANDAYANI",
            "PURWANTI",
            "UTAMI",
        ),
    ),
    "tionghoa": (
        (
            "HENDRA",
            "WILLIAM",
            "KEVIN",
            "STEVEN",
            "FELIX",
            "JOHAN",
            "ANTON",
            "SUSANTO",
            "ALBERT",
            "VINCENT",
        ),
        (
            "LINDA",
            "MELINDA",
            "VERONICA",
            "JESSICA",
            "CHRISTINE",
            "YENNY",
            "LILY",
            "SUSANTI",
            "MICHELLE",
            "VIVIAN",
        ),
        ("GUNAWAN", "WIJAYA", "HALIM", "TANOTO", "SANTOSO", "HARTONO", "SETIADI", "LIMANTARA"),
    ),
    # Chinese names as West Kalimantan's Hakka and Teochew families register them.
    "tionghoa_kalbar": (
        ("BONG", "LIM", "TAN", "LIE", "NG", "TJHAI", "CHANG", "THAM", "HUANG", "LAY"),
        ("BONG", "LIM", "TAN", "LIE", "NG", "TJHIN", "LAY", "THAM", "HUANG", "TJHAI"),
        (
            "KIM FUI",
            "SIU LIN",
            "NYUK MOI",
            "MEI LAN",
            "KHIONG HIN",
            "FUNG LIONG",
            "SUI KHIM",
            "JUN FAT",
            "LAN CHOI",
            "A FUI",
            "SIN MOI",
            "KHIN NYUK",
        ),
    ),
    "dayak": (
        (
            "YOHANES",
            "ANTONIUS",
            "FRANSISKUS",
            "PETRUS",
            "PAULUS",
            "STEFANUS",
            "MARKUS",
            "YOSEF",
            "ALOYSIUS",
            "DONATUS",
            "IGNASIUS",
            "SIMON",
        ),
        (
            "MARIA",
            "MAGDALENA",
            "THERESIA",
            "AGNES",
            "ELISABETH",
            "YULIANA",
            "KATARINA",
            "VERONIKA",
            "ROSALIA",
            "MONIKA",
        ),
        (
            "ALEXANDER",
            "NOVITA",
            "ANGELINA",
            "KRISTIANTO",
            "SUPRIADI",
            "MASRI",
            "YANTO",
            "AMBROSIUS",
            "NATALIA",
            "LEONARDUS",
        ),
    ),
    "bugis_madura": (
        (
            "ANDI",
            "MOH.",
            "SAMSUL",
            "SUPARDI",
            "HASAN",
            "HUSEN",
            "MAKMUR",
            "SYAMSUDDIN",
            "SAIFUL",
            "MUHLIS",
        ),
        (
            "ANDI",
            "HASNAH",
            "NURHAYATI",
            "SAHRIAH",
            "MASNAH",
            "SITTI",
            "HAJRAH",
            "SALMAH",
            "MUNIRAH",
            "SAUDAH",
        ),
        (
            "ABDULLAH",
            "BAHRI",
            "SULAIMAN",
            "HAMZAH",
            "SYAMSIAH",
            "HADIJAH",
            "NURDIN",
            "ARSYAD",
            "RUSLI",
        ),
    ),
}

# Slips a registry clerk makes and a later correction undoes (wrong -> right).
SPELLING_FIXES: Mapping[str, str] = {
    "MUHAMAD": "MUHAMMAD",
    "MUHAMAT": "MUHAMMAD",
    "MUHAMMMAD": "MUHAMMAD",
    "ACHMAD": "AHMAD",
    "ABDUL.": "ABDUL",
    "NURHAJATI": "NURHAYATI",
    "SITTIE": "SITI",
    "JOHANES": "YOHANES",
    "FITRIYANI": "FITRIANI",
    "SAPUTERA": "SAPUTRA",
    "WIDJAJA": "WIJAYA",
    "HIDAJAT": "HIDAYAT",
}
_SLIPS: dict[str, list[str]] = {}
for _wrong, _right in SPELLING_FIXES.items():
    if _wrong != _right:
        _SLIPS.setdefault(_right, []).append(_wrong)

# Academic titles SIAK allows after the name; a common reason for a name change request.
TITLES = (", S.PD.", ", S.E.", ", S.H.", ", S.T.", ", S.KOM.", ", A.MD.", ", S.KEP.", ", M.M.")
_TITLE = re.compile(r", [A-Z.]+$")


class NameMaker:
    """Names for one population, in one random stream."""

    def __init__(self, rng: random.Random, style_shares: Mapping[str, float], single_share: float):
        self.rng = rng
        self.styles = Weighted({s: w for s, w in style_shares.items() if s in STYLES})
        self.single_share = single_share

    def style(self) -> str:
        """A family's naming style (members of one KK share it)."""
        return self.styles.pick(self.rng)

    def make(self, jenis_kelamin: str, style: str | None = None) -> str:
        male, female, second = STYLES[style or self.style()]
        random = self.rng.random
        given = male if jenis_kelamin == "L" else female
        given_name = given[int(random() * len(given))]
        if random() < self.single_share:
            return given_name
        return f"{given_name} {second[int(random() * len(second))]}"


def with_slip(name: str, rng: random.Random) -> str:
    """The name as a hurried clerk types it: a known misspelling or a doubled space."""
    words = name.split(" ")
    slippable = [i for i, word in enumerate(words) if word in _SLIPS]
    if slippable:
        i = rng.choice(slippable)
        words[i] = rng.choice(_SLIPS[words[i]])
        return " ".join(words)
    return name.replace(" ", "  ", 1) if " " in name else name


def corrected(name: str, rng: random.Random) -> str:
    """The name after a correction request: slips undone, else an academic title added or
    dropped (the citizen brings a new diploma, or the title was entered by mistake)."""
    fixed = " ".join(SPELLING_FIXES.get(word, word) for word in name.split())
    if fixed != name:
        return fixed
    if _TITLE.search(name):
        return _TITLE.sub("", name)
    return name + rng.choice(TITLES)
