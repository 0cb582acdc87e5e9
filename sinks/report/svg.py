"""Small inline SVG charts (the report must open with the network closed: no JS, no CDN).

Each function returns one <svg> element as text; sizes are in CSS pixels and the SVG scales
down with its container (viewBox). Text is escaped here, so callers pass plain strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

AXIS = "#9e9e9e"
GRID = "#e6e6e6"
INK = "#212121"
MUTED = "#616161"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no bar, the text only (e.g. "tanpa standar")
    color: str
    text: str  # written after the bar's end
    whisker: float | None = None  # a second value drawn as a line from the bar's end (p90)


@dataclass(frozen=True)
class Line:
    name: str
    values: Sequence[float | None]  # one per x label; None leaves a gap
    color: str
    dashed: bool = False


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 x 10^k) up to at least top."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _text(x: float, y: float, body: str, size: int = 12, **attrs: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{extra}>{escape(body)}</text>'


def _svg(width: float, height: float, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def hbars(
    bars: Sequence[Bar],
    *,
    title: str,
    ticks: Sequence[tuple[float, str]],
    position: Callable[[float], float] | None = None,
    reference: tuple[float, str] | None = None,
    width: int = 560,
    label_width: int = 170,
    text_width: int = 150,
    row: int = 28,
) -> str:
    """Horizontal bars, one per row, labels on the left, value text at the bar's end.

    position maps a value to 0..1 along the axis (default: linear up to the last tick);
    reference draws a dashed vertical line (value, label), e.g. a service standard."""
    top = ticks[-1][0] if ticks else 1.0
    where = position or (lambda v: max(0.0, min(1.0, v / top)) if top else 0.0)
    plot = width - label_width - text_width
    head, foot = 22, 22
    height = head + row * len(bars) + foot
    x0 = label_width
    body: list[str] = []
    for value, label in ticks:  # grid and axis labels
        x = x0 + plot * where(value)
        body.append(
            f'<line x1="{x:.1f}" y1="{head - 4}" x2="{x:.1f}" y2="{height - foot}" '
            f'stroke="{GRID}"/>'
        )
        body.append(_text(x, height - 6, label, 11, fill=MUTED, text_anchor="middle"))
    for i, bar in enumerate(bars):
        y = head + i * row
        body.append(_text(x0 - 8, y + row / 2 + 4, bar.label, 12, fill=INK, text_anchor="end"))
        end = x0
        if bar.value is not None:
            end = x0 + plot * where(bar.value)
            body.append(
                f'<rect x="{x0}" y="{y + 5}" width="{max(end - x0, 1.5):.1f}" '
                f'height="{row - 10}" rx="2" fill="{bar.color}"/>'
            )
        if bar.whisker is not None:
            tip = x0 + plot * where(bar.whisker)
            mid = y + row / 2
            body.append(
                f'<line x1="{end:.1f}" y1="{mid:.1f}" x2="{tip:.1f}" y2="{mid:.1f}" '
                f'stroke="{INK}" stroke-width="1.5"/>'
                f'<line x1="{tip:.1f}" y1="{mid - 6:.1f}" x2="{tip:.1f}" y2="{mid + 6:.1f}" '
                f'stroke="{INK}" stroke-width="1.5"/>'
            )
            end = max(end, tip)
        body.append(_text(end + 6, y + row / 2 + 4, bar.text, 12, fill=INK))
    body.append(f'<line x1="{x0}" y1="{head - 4}" x2="{x0}" y2="{height - foot}" stroke="{AXIS}"/>')
    if reference is not None:
        value, label = reference
        x = x0 + plot * where(value)
        body.append(
            f'<line x1="{x:.1f}" y1="{head - 6}" x2="{x:.1f}" y2="{height - foot + 2}" '
            'stroke="#c62828" stroke-width="2" stroke-dasharray="6 4"/>'
        )
        body.append(_text(x, head - 9, label, 11, fill="#c62828", text_anchor="middle"))
    return _svg(width, height, title, body)


def lines(
    series: Sequence[Line],
    x_labels: Sequence[str],
    *,
    title: str,
    y_ticks: Sequence[tuple[float, str]],
    width: int = 300,
    height: int = 190,
) -> str:
    """A small line chart (one x label per point), e.g. absorption against plan by month."""
    left, right, top_pad, bottom = 40, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    y_top = y_ticks[-1][0] if y_ticks else 1.0
    step = plot_w / max(len(x_labels) - 1, 1)

    def xy(i: int, value: float) -> tuple[float, float]:
        clipped = max(0.0, min(value, y_top))
        return left + i * step, top_pad + plot_h * (1 - clipped / y_top)

    body: list[str] = []
    for value, label in y_ticks:
        _, y = xy(0, value)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 4, y + 4, label, 10, fill=MUTED, text_anchor="end"))
    for i, label in enumerate(x_labels):
        x, _ = xy(i, 0)
        body.append(_text(x, height - 8, label, 10, fill=MUTED, text_anchor="middle"))
    for line in series:
        points = [(i, v) for i, v in enumerate(line.values) if v is not None]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in points))
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{line.color}" '
            f'stroke-width="2.2"{dash}/>'
        )
        if not line.dashed:
            body += [
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.8" fill="{line.color}"/>'
                for x, y in (xy(i, v) for i, v in points)
            ]
    return _svg(width, height, title, body)


def vbars(
    bars: Sequence[Bar],
    *,
    title: str,
    y_ticks: Sequence[tuple[float, str]],
    width: int = 560,
    height: int = 200,
) -> str:
    """Vertical bars with the label under each and the value text above it."""
    left, right, top_pad, bottom = 44, 10, 20, 26
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    y_top = y_ticks[-1][0] if y_ticks else 1.0
    slot = plot_w / max(len(bars), 1)
    body: list[str] = []
    for value, label in y_ticks:
        y = top_pad + plot_h * (1 - value / y_top)
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        body.append(_text(left - 4, y + 4, label, 10, fill=MUTED, text_anchor="end"))
    for i, bar in enumerate(bars):
        cx = left + slot * (i + 0.5)
        value = max(0.0, min(bar.value or 0.0, y_top))
        h = plot_h * value / y_top
        bar_w = min(48.0, slot * 0.6)
        body.append(
            f'<rect x="{cx - bar_w / 2:.1f}" y="{top_pad + plot_h - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}" rx="2" fill="{bar.color}"/>'
        )
        body.append(
            _text(cx, top_pad + plot_h - h - 5, bar.text, 11, fill=INK, text_anchor="middle")
        )
        body.append(_text(cx, height - 8, bar.label, 11, fill=MUTED, text_anchor="middle"))
    return _svg(width, height, title, body)
