"""The inline SVG charts: scales, escaping, reference lines."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from opdbus.sinks.report import svg

NS = {"s": "http://www.w3.org/2000/svg"}


def bar_widths(markup: str) -> list[float]:
    root = ET.fromstring(markup)
    return [float(rect.get("width", 0)) for rect in root.findall("s:rect", NS)]


def test_nice_ticks_are_round_and_reach_the_top():
    assert svg.nice_ticks(34.6 * 1.05) == [0, 10, 20, 30, 40]
    assert svg.nice_ticks(1.9) == [0, 0.5, 1.0, 1.5, 2.0]
    assert svg.nice_ticks(120, 6) == [0, 20, 40, 60, 80, 100, 120]
    assert svg.nice_ticks(0) == [0.0, 1.0]


def test_bar_lengths_are_proportional_to_their_values():
    ticks = [(0, "0"), (50, "50"), (100, "100")]
    markup = svg.hbars(
        [svg.Bar("a", 25, "#000", "25"), svg.Bar("b", 100, "#000", "100")],
        title="t",
        ticks=ticks,
    )
    short, full = bar_widths(markup)
    assert abs(full / short - 4) < 0.01


def test_bars_are_clipped_to_the_axis_both_ways():
    markup = svg.hbars(
        [svg.Bar("neg", -50, "#000", "-50"), svg.Bar("big", 500, "#000", "500")],
        title="t",
        ticks=[(0, "0"), (100, "100")],
        width=500,
        label_width=100,
        text_width=100,
    )
    negative, big = bar_widths(markup)
    assert negative == 1.5  # a sliver, so a D grade still shows
    assert big == 300  # the plot's full width, not beyond


def test_reference_line_sits_at_its_value():
    markup = svg.hbars(
        [svg.Bar("a", 10, "#000", "10")],
        title="t",
        ticks=[(0, "0"), (40, "40")],
        reference=(30, "standar 30 hari"),
        width=500,
        label_width=100,
        text_width=0,
    )
    x = float(re.search(r'<line x1="([\d.]+)"[^>]*stroke-dasharray', markup).group(1))
    assert x == 100 + 400 * 30 / 40
    assert "standar 30 hari" in markup


def test_labels_are_escaped():
    markup = svg.hbars(
        [svg.Bar("<script>alert(1)</script>", 1, "#000", "a & b")],
        title='"quoted"',
        ticks=[(0, "0"), (1, "1")],
    )
    assert "<script>" not in markup
    ET.fromstring(markup)  # still well-formed XML


def test_lines_leave_gaps_for_missing_values():
    markup = svg.lines(
        [svg.Line("realisasi", [10, 20, None, None], "#00f")],
        ["J", "F", "M", "A"],
        title="t",
        y_ticks=[(0, "0%"), (100, "100%")],
    )
    (points,) = re.findall(r'points="([^"]+)"', markup)
    assert len(points.split()) == 2
    assert len(re.findall("<circle", markup)) == 2
