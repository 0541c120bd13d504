"""Charts as server-rendered SVG: a small hand-written builder.

Why hand-written rather than a charting library: the portal works without JavaScript
and fetches nothing from outside, so a JS library (Chart.js, …) is out; a Python one
(matplotlib, pygal, …) would be a large new dependency for two kinds of picture (a
stepped line over time and its axes), would render slower than the 150 ms page budget
allows on a busy dashboard, and would still need its output reworked for accessibility.
What is drawn here is a few dozen lines of exact arithmetic: money and counts stay
``Decimal``/``int`` (coordinates are exact integers in tenths of a pixel, written with one
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


def _px(tenths: int) -> str:
    """A coordinate given in tenths of a pixel, written with one decimal place."""
    sign = "-" if tenths < 0 else ""
    whole, tenth = divmod(abs(tenths), 10)
    return f"{sign}{whole}.{tenth}"


def _seconds(at: datetime, origin: datetime) -> int:
    delta = at - origin
    return delta.days * 86400 + delta.seconds


def _text(x: int, y: int, text: str, anchor: str = "start") -> str:
    """A label at (x, y), in tenths of a pixel."""
    return f'<text x="{_px(x)}" y="{_px(y)}" text-anchor="{anchor}">{escape(text)}</text>'


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
    evenly: bool = False,
) -> Chart:
    """A stepped line of ``points`` (oldest first) over [start, end]. Without
    ``bucket`` each value holds until the next point (a balance); with one, each point
    is a count over its ``bucket`` (e.g. a minute) and the line is 0 between points.
    ``evenly``: the points are spaced evenly in their order (entries of a ledger, which
    may come in bursts), the axis naming the first and last instants.
    The y axis always shows 0. ``value_text`` formats a value for the axis and the
    table (``str.format`` with the ``Decimal``)."""
    # coordinates in tenths of a pixel: exact integer arithmetic, one division each
    plot_w, plot_h = (WIDTH - _LEFT - _RIGHT) * 10, (HEIGHT - _TOP - _BOTTOM) * 10
    left, top = _LEFT * 10, _TOP * 10
    values = [p.value for p in points]
    low, high = min([Decimal(0), *values]), max([Decimal(0), *values])
    if low == high:
        high = low + 1
    span = max(_seconds(end, start), 1)
    ys: dict[Decimal, str] = {}

    def x_at(moment: int) -> str:
        moment = min(max(moment, 0), span)
        return _px(left + moment * plot_w // span)

    def x_of(at: datetime) -> str:
        return x_at(_seconds(at, start))

    def y_tenths(value: Decimal) -> int:
        return top + plot_h - int((value - low) * plot_h / (high - low))

    def y_of(value: Decimal) -> str:
        found = ys.get(value)
        if found is None:
            found = ys[value] = _px(y_tenths(value))
        return found

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-label={quoteattr(title)} '
        f'aria-labelledby="{chart_id}-title" aria-describedby="{chart_id}-desc" '
        f'id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    bottom, zero = top + plot_h, y_of(Decimal(0))
    right = (WIDTH - _RIGHT) * 10
    parts.append(
        f'<g class="chart-axes"><line x1="{_px(left)}" y1="{_px(top)}" x2="{_px(left)}" '
        f'y2="{_px(bottom)}"/><line x1="{_px(left)}" y1="{zero}" x2="{_px(right)}" '
        f'y2="{zero}"/></g>'
    )
    labels = [
        _text(left - 60, y_tenths(high) + 40, value_text.format(high), "end"),
        _text(left - 60, bottom, value_text.format(low), "end"),
        _text(left, HEIGHT * 10 - 80, f"{start:%Y-%m-%d %H:%M}"),
        _text(right, HEIGHT * 10 - 80, f"{end:%Y-%m-%d %H:%M}", "end"),
    ]
    if low < 0 < high:
        labels.append(_text(left - 60, y_tenths(Decimal(0)) + 40, value_text.format(0), "end"))
    parts.append(f'<g class="chart-labels">{"".join(labels)}</g>')
    coords: list[str] = []
    if points and bucket is not None:
        coords.append(f"{x_of(start)},{zero}")
        width = _seconds(start + bucket, start)
        for point in points:
            moment = _seconds(point.at, start)
            x0, x1, y = x_at(moment), x_at(moment + width), y_of(point.value)
            coords.append(f"{x0},{zero} {x0},{y} {x1},{y} {x1},{zero}")
        coords.append(f"{x_of(end)},{zero}")
    elif points:
        previous: Decimal | None = None
        steps = max(len(points), 1)
        for n, point in enumerate(points):
            x = _px(left + n * plot_w // steps) if evenly else x_of(point.at)
            if previous is not None:
                coords.append(f"{x},{y_of(previous)}")
            coords.append(f"{x},{y_of(point.value)}")
            previous = point.value
        last = _px(left + plot_w) if evenly else x_of(end)
        coords.append(f"{last},{y_of(points[-1].value)}")
    if coords:
        parts.append(f'<polyline class="chart-line" fill="none" points="{" ".join(coords)}"/>')
    parts.append("</svg>")
    plain = value_text == "{}"
    rows = tuple((p.label, str(p.value) if plain else value_text.format(p.value)) for p in points)
    return Chart(chart_id, title, desc, columns, rows, Markup("".join(parts)))
