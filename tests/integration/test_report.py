"""`opdbus report` on the hand-computed fixture database, rendered in headless Chromium.

The screenshot is kept (pytest's temporary directory, last three runs) and its path written to
the terminal, so a person can look at it.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from opdbus.config import Config
from opdbus.sinks import report
from opdbus.stack.manager import Stack

from .cli import opdbus
from .test_monev_fixture import MonevDatabase, config_for, throwaway_database

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 2000
SAKIP_AA = (0x1B, 0x5E, 0x20)  # bars of AA indicators (sinks/report/markup.py PREDIKAT)
REALISASI_BIRU = (0x15, 0x65, 0xC0)  # on-time bars and absorption lines
HEADER_BLUE = (0x0D, 0x47, 0xA1)


@dataclass(frozen=True)
class Run:
    html_path: Path
    html: str
    stdout: str


@pytest.fixture(scope="module")
def db(stack: Stack, config: Config) -> Iterator[MonevDatabase]:
    with throwaway_database(config, "test_report") as filled:
        yield filled


@pytest.fixture(scope="module")
def run(db: MonevDatabase, tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("report") / "monev.html"
    done = opdbus(
        "report",
        "--out",
        str(out),
        "--open-browser-hint",
        env={"OPDBUS_SINK__DATABASE": db.name},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return Run(out, out.read_text(encoding="utf-8"), done.stdout)


def test_report_command_prints_the_summary_and_where_the_page_is(run: Run):
    assert f"laporan HTML (HTML report): {run.html_path}" in run.stdout
    assert run.html_path.as_uri() in run.stdout  # --open-browser-hint
    # Terminal tables carry the hand-computed figures (test_monev.py has the arithmetic).
    selatan = re.search(r"PBG\s+Pontianak Selatan\s+7\s+20,00\s+34,60\s+30\s+71,43%", run.stdout)
    assert selatan, run.stdout
    assert re.search(r"dinkes\s+Rp1\.000\.000\.000\s+Rp375\.000\.000\s+37,50%\s+30,00%\s+7,50",
                     run.stdout), run.stdout  # fmt: skip
    assert re.search(r"Seluruh periode\s+13\s+10\s+76,92%", run.stdout), run.stdout


def test_report_html_holds_the_hand_computed_numbers(run: Run):
    html = run.html
    for expected in (
        # service level, Selatan over the period and the city-wide on-time share (7 / 11)
        "20,00 (p90 34,60)",
        "71,43% (5/7)",
        "63,64% tepat waktu",
        "standar 30 hari",
        # absorption: dinkes up to April, disdukcapil behind plan, city 435 M / 1,240 M
        "Rp1.000.000.000",
        "37,50%",
        "-8,33",
        "35,08%",
        # achievement and SAKIP grade, lower-is-better included
        "110,00% · AA",
        "85,00% · A",
        "30,00% · C",
        # coverage and freshness
        "76,92%",
        "dpmptsp / perizinan",
        "30 hari",
        # header: data period from the first to the last month with activity
        "Desember 2025 \u2013 April 2026",
    ):
        assert expected in html, expected


def test_report_html_needs_no_network(run: Run):
    html = run.html
    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", html)
    # The only URL is the SVG namespace name, which is never fetched.
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}


def test_report_renders_in_headless_chromium(
    run: Run, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: apt-get install -y chromium (bin/setup does it)")
    work = tmp_path_factory.mktemp("chromium")
    screenshot = work / "report.png"
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={work / 'profile'}",
            f"--screenshot={screenshot}",
            f"--window-size={WIDTH},{HEIGHT}",
            run.html_path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with capsys.disabled():  # shown even when pytest captures output
        print(f"\nreport screenshot: {screenshot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert screenshot.exists(), done.stderr[-2000:]
    assert screenshot.stat().st_size > 50_000  # a blank page of this size is ~10 KB
    width, height, pixels = read_png(screenshot)
    assert (width, height) == (WIDTH, HEIGHT)
    colours = set(pixels)
    assert len(colours) > 200  # text anti-aliasing, charts, header: far from one colour
    # The page's own colours made it to the screen: header, blue bars and lines, AA bars.
    assert {HEADER_BLUE, REALISASI_BIRU, SAKIP_AA} <= colours


def test_report_of_empty_views_says_there_is_no_data_yet(
    stack: Stack, config: Config, tmp_path: Path
):
    with throwaway_database(config, "test_report_empty", filled=False) as empty:
        done = report.generate(config_for(empty.name), tmp_path / "kosong.html")
    html = done.path.read_text(encoding="utf-8")
    assert html.count("Belum ada data.") == 5  # one per section
    assert "Periode data" in html and "belum ada data" in html
    assert done.text.count("belum ada data (no data yet)") == 5


# --- a small PNG reader (8-bit RGB or RGBA, not interlaced: what Chromium writes) ----------


def read_png(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(width, height, every pixel's RGB)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        start = y * (stride + 1)
        line = unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        pixels += zip(line[0::channels], line[1::channels], line[2::channels], strict=True)
        previous = line
    return width, height, pixels


def unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> bytearray:
    """Undo one scanline's PNG filter (RFC 2083, 6.2)."""
    if kind == 1:  # Sub
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:  # Up
        line = bytearray((a + b) & 0xFF for a, b in zip(line, up, strict=True))
    elif kind == 3:  # Average
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + up[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b, c = up[i], (up[i - bpp] if i >= bpp else 0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[i] = (line[i] + predictor) & 0xFF
    return line
