"""Building blocks of the report page: colours, escaping, titles, tables, legends."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

PREDIKAT = {  # SAKIP bands, best first (monev.capaian_kinerja.predikat)
    "AA": ("#1b5e20", "≥ 90"),
    "A": ("#43a047", "80\u201390"),
    "BB": ("#9ccc65", "70\u201380"),
    "B": ("#d4e157", "60\u201370"),
    "CC": ("#fdd835", "50\u201360"),
    "C": ("#fb8c00", "30\u201350"),
    "D": ("#e53935", "< 30"),
}
BIRU, HIJAU, JINGGA, MERAH, ABU = "#1565c0", "#2e7d32", "#ef6c00", "#c62828", "#9e9e9e"
BELUM_ADA = '<p class="empty">Belum ada data. <span class="en">No data yet.</span></p>'


def h(text: object) -> str:
    return escape(str(text))


def title(indonesian: str, english: str, level: int = 2) -> str:
    return f'<h{level}>{h(indonesian)} <span class="en">/ {h(english)}</span></h{level}>'


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], numeric: Iterable[int] = ()
) -> str:
    """A table; columns whose index is in numeric align right. Cells are escaped, except a
    cell given as ('html', markup)."""
    right = set(numeric)

    def cell(tag: str, i: int, value: object) -> str:
        cls = ' class="n"' if i in right else ""
        body = value[1] if isinstance(value, tuple) and value[0] == "html" else h(value)
        return f"<{tag}{cls}>{body}</{tag}>"

    head = "".join(cell("th", i, name) for i, name in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def legend(items: Iterable[tuple[str, str, bool]]) -> str:
    """(colour, label, dashed line instead of a swatch)."""
    spans = []
    for color, label, dashed in items:
        mark = (
            f'<i class="dash" style="border-color:{color}"></i>'
            if dashed
            else f'<i class="sw" style="background:{color}"></i>'
        )
        spans.append(f"<span>{mark}{h(label)}</span>")
    return f'<div class="legend">{"".join(spans)}</div>'
