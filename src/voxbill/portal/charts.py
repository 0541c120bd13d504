"""Charts as server-rendered SVG: a small hand-written builder.

Why hand-written rather than a charting library: the portal works without JavaScript
and fetches nothing from outside, so a JS library (Chart.js, …) is out; a Python one
(matplotlib, pygal, …) would be a large new dependency for two kinds of picture (a
stepped line over time and its axes), would render slower than the 150 ms page budget
allows on a busy dashboard, and would still need its output reworked for accessibility.
What is drawn here is a few dozen lines of exact arithmetic: money and counts stay
``Decimal``/``int`` (coordinates are computed in ``Decimal`` and written with one
decimal place), every text is XML-escaped, and each chart carries its ``<title>`` and
``<desc>`` (named by ``aria-labelledby``/``aria-describedby`` and an ``aria-label``)
and the very numbers it plots as rows for a data table (``_chart.html`` shows them in a
``<details>`` table), so a screen reader or a keyboard user gets the same facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

WIDTH = 720
HEIGHT = 240
#: room for the axes' labels: left, right, top, bottom
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 12, 28
_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Point:
    """One value at one instant; ``label`` names it in the data table."""

    at: datetime
    value: Decimal
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """An accessible SVG chart and the rows of its data table (what it plots)."""

    id: str
    title: str
    desc: str
    columns: tuple[str, str]
    rows: tuple[tuple[str, str], ...]
    svg: Markup


def _px(value: Decimal) -> str:
    return str(value.quantize(_TENTH))


def _scale(value: Decimal, low: Decimal, high: Decimal, size: int) -> Decimal:
    return (value - low) * size / (high - low)


def _seconds(at: datetime, origin: datetime) -> Decimal:
    delta = at - origin
    return Decimal(delta.days * 86400 + delta.seconds)


def _text(x: Decimal | int, y: Decimal | int, text: str, anchor: str = "start") -> str:
    return (
        f'<text x="{_px(Decimal(x))}" y="{_px(Decimal(y))}" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
    )


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    *,
    start: datetime,
    end: datetime,
    columns: tuple[str, str],
    value_text: str = "{}",
    bucket: timedelta | None = None,
) -> Chart:
    """A stepped line of ``points`` (oldest first) over [start, end]. Without
    ``bucket`` each value holds until the next point (a balance); with one, each point
    is a count over its ``bucket`` (e.g. a minute) and the line is 0 between points.
    The y axis always shows 0. ``value_text`` formats a value for the axis and the
    table (``str.format`` with the ``Decimal``)."""
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    values = [p.value for p in points]
    low, high = min([Decimal(0), *values]), max([Decimal(0), *values])
    if low == high:
        high = low + 1
    span = max(_seconds(end, start), Decimal(1))

    def x_of(at: datetime) -> Decimal:
        moment = min(max(_seconds(at, start), Decimal(0)), span)
        return _LEFT + _scale(moment, Decimal(0), span, plot_w)

    def y_of(value: Decimal) -> Decimal:
        return _TOP + plot_h - _scale(value, low, high, plot_h)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label={quoteattr(title)} '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        f'id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    bottom, zero = Decimal(_TOP + plot_h), y_of(Decimal(0))
    parts.append(
        f'<g class="chart-axes"><line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" '
        f'y2="{_px(bottom)}"/><line x1="{_LEFT}" y1="{_px(zero)}" x2="{WIDTH - _RIGHT}" '
        f'y2="{_px(zero)}"/></g>'
    )
    labels = [
        _text(_LEFT - 6, y_of(high) + 4, value_text.format(high), "end"),
        _text(_LEFT - 6, bottom, value_text.format(low), "end"),
        _text(_LEFT, HEIGHT - 8, f"{start:%Y-%m-%d %H:%M}"),
        _text(WIDTH - _RIGHT, HEIGHT - 8, f"{end:%Y-%m-%d %H:%M}", "end"),
    ]
    if low < 0 < high:
        labels.append(_text(_LEFT - 6, zero + 4, value_text.format(Decimal(0)), "end"))
    parts.append(f'<g class="chart-labels">{"".join(labels)}</g>')
    if points and bucket is not None:
        coords = [f"{_px(x_of(start))},{_px(zero)}"]
        for point in points:
            left, right, y = (
                _px(x_of(point.at)),
                _px(x_of(point.at + bucket)),
                _px(y_of(point.value)),
            )
            coords += [f"{left},{_px(zero)}", f"{left},{y}", f"{right},{y}", f"{right},{_px(zero)}"]
        coords.append(f"{_px(x_of(end))},{_px(zero)}")
        parts.append(f'<polyline class="chart-line" fill="none" points="{" ".join(coords)}"/>')
    elif points:
        coords = []
        previous: Decimal | None = None
        for point in points:
            x = _px(x_of(point.at))
            if previous is not None:
                coords.append(f"{x},{_px(y_of(previous))}")
            coords.append(f"{x},{_px(y_of(point.value))}")
            previous = point.value
        coords.append(f"{_px(x_of(end))},{_px(y_of(points[-1].value))}")
        parts.append(f'<polyline class="chart-line" fill="none" points="{" ".join(coords)}"/>')
    parts.append("</svg>")
    rows = tuple((p.label, value_text.format(p.value)) for p in points)
    return Chart(chart_id, title, desc, columns, rows, Markup("".join(parts)))
