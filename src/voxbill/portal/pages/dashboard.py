"""The dashboard of those who look after a subtree (the operator's and a reseller's
admin and support): calls up now, calls and spend per minute of a UTC day, margin,
balances near their block level and failed notification deliveries, all of the
visitor's subtree; and the balance chart of an account page.

Every figure comes from a service under the visitor's principal (the same scope rules
as the API); each aggregate is bounded (one UTC day of CDRs on an indexed column, the
subtree's accounts, the failed deliveries).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import HTMLResponse

from voxbill.api.deps import container_of
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal
from voxbill.domain.accounts import Account
from voxbill.domain.dashboard import OVERSEERS, TrafficPoint, day_window
from voxbill.domain.errors import Forbidden, InvalidInput
from voxbill.portal.charts import Chart, Point, line_chart
from voxbill.portal.pages.common import page_router
from voxbill.portal.web import Visitor, render

router = page_router()

#: the balance chart's window: the account's last entries
BALANCE_ENTRIES = 200
_MINUTE = timedelta(minutes=1)
#: id of a traffic list -> (that list, its charts), the newest 64
_DRAWN: dict[int, tuple[list[TrafficPoint], list[Chart]]] = {}
_DRAWING = threading.Lock()


def _day_of(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput("day: a date (YYYY-MM-DD) is required") from None
    return day.replace(tzinfo=UTC)


def _hhmm(at: datetime) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def _traffic_charts(points: list[TrafficPoint], start: datetime, end: datetime) -> list[Chart]:
    calls: dict[datetime, int] = defaultdict(int)
    spend: dict[str, list[TrafficPoint]] = defaultdict(list)
    for point in points:
        calls[point.minute] += point.calls
        spend[point.currency].append(point)
    day = f"{start:%Y-%m-%d}"
    charts = [
        line_chart(
            "chart-calls",
            f"Calls per minute, {day} (UTC)",
            f"Calls started in each minute of {day} (UTC) in this subtree: "
            f"{sum(calls.values())} in all, at most {max(calls.values(), default=0)} "
            "in one minute. Minutes not listed had none.",
            [Point(m, Decimal(n), _hhmm(m)) for m, n in sorted(calls.items())],
            start=start,
            end=end,
            columns=("Minute (UTC)", "Calls"),
            bucket=_MINUTE,
        )
    ]
    for currency, rows in sorted(spend.items()):
        total = sum((r.spend for r in rows), Decimal(0))
        charts.append(
            line_chart(
                f"chart-spend-{currency.lower()}",
                f"Spend per minute in {currency}, {day} (UTC)",
                f"What the callers of this subtree paid for the calls started in each "
                f"minute of {day} (UTC), in {currency}: {total} in all. Minutes not "
                "listed had none.",
                [Point(r.minute, r.spend, _hhmm(r.minute)) for r in rows],
                start=start,
                end=end,
                columns=("Minute (UTC)", f"Spend ({currency})"),
                bucket=_MINUTE,
            )
        )
    return charts


def _charts_of(points: list[TrafficPoint], start: datetime, end: datetime) -> list[Chart]:
    """The charts of a day's traffic, drawn once per list the service answered: while it
    serves the same (cached) list, the same charts are reused (drawing ~1,400 minutes
    twice costs more than the rest of the page)."""
    found = _DRAWN.get(id(points))
    if found is not None and found[0] is points:  # the very list, not a reused id
        return found[1]
    charts = _traffic_charts(points, start, end)
    with _DRAWING:
        if len(_DRAWN) >= 64:
            _DRAWN.pop(next(iter(_DRAWN)))
        _DRAWN[id(points)] = (points, charts)
    return charts


def overview(
    container: Container, principal: Principal, day: datetime, *, charts: bool = True
) -> dict[str, Any]:
    """The dashboard's figures of ``principal``'s subtree for the UTC day of ``day``;
    ``charts``: with the traffic charts and the low balances' list (the dashboard page),
    else the figures alone (the home page)."""
    if principal.role not in OVERSEERS:
        raise Forbidden("the dashboard is for admin, support and reseller users")
    start, end = day_window(day)
    traffic = container.charging.traffic(principal, start, end)
    spend: dict[str, Decimal] = defaultdict(Decimal)
    for point in traffic:
        spend[point.currency] += point.spend
    low_count, low = container.ledger.low_balances(principal)
    return {
        "day": start,
        "calls_up": container.charging.calls_up(principal),
        "calls_today": sum(p.calls for p in traffic),
        "spend": dict(sorted(spend.items())),
        "margins": container.charging.margins(principal, start, end),
        "low_count": low_count,
        "low": low,
        "failed": container.subscriptions.failed_deliveries(principal),
        "charts": _charts_of(traffic, start, end) if charts else [],
        "full": charts,
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    visitor: Visitor,
    day: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The dashboard for one UTC day (default today; calls up now are always now)."""
    context = {"dash": overview(container_of(request), visitor.principal, _day_of(day))}
    return render(request, "dashboard.html", context, visitor=visitor)


def balance_chart(container: Container, account: Account) -> Chart:
    """The account's balance after each of its last ``BALANCE_ENTRIES`` ledger entries
    (its running balance; a shared balance is its owner's), oldest first. The caller
    has checked the account is visible."""
    entries = container.ledger.history(account.id, limit=BALANCE_ENTRIES)
    points = [
        Point(e.created_at, e.balance_after, f"{e.created_at:%Y-%m-%d %H:%M:%S} ({e.kind})")
        for e in reversed(entries)
        if e.balance_after is not None
    ]
    now = datetime.now(UTC)
    start = points[0].at if points else now - timedelta(days=1)
    end = points[-1].at if points else now
    last = f"{points[-1].value} {account.currency}" if points else "no entries yet"
    return line_chart(
        "chart-balance",
        f"Balance of {account.name} ({account.currency})",
        f"The balance after each of the last {len(points)} ledger entries "
        f"(at most {BALANCE_ENTRIES}), oldest first, evenly spaced; now {last}.",
        points,
        start=start,
        end=end,
        columns=("Entry (UTC)", f"Balance after ({account.currency})"),
        evenly=True,
    )
