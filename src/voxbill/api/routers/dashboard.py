"""The dashboard's figures of the key's subtree for one UTC day (the portal's
``/portal/dashboard`` reads the same services): calls up now, calls and spend per
minute, margin, balances near their block level, failed notification deliveries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from voxbill.api.auth import CurrentPrincipal
from voxbill.api.deps import ContainerDep
from voxbill.api.problems import responses
from voxbill.api.schemas import DecimalStr
from voxbill.domain.dashboard import day_window

router = APIRouter(tags=["dashboard"])


class MinuteRead(BaseModel):
    minute: datetime
    currency: str
    calls: int
    spend: DecimalStr


class MarginRead(BaseModel):
    currency: str
    amount: DecimalStr
    calls: int


class LowBalanceRead(BaseModel):
    account_id: int
    name: str
    currency: str
    funds: DecimalStr
    alert_balance: DecimalStr | None
    block_balance: DecimalStr
    blocked: bool


class DashboardRead(BaseModel):
    day: date
    calls_up: int
    calls: int
    spend: dict[str, DecimalStr]
    minutes: list[MinuteRead]
    margins: list[MarginRead]
    low_balances: int
    lowest: list[LowBalanceRead]
    failed_deliveries: dict[str, int]


@router.get("/dashboard", response_model=DashboardRead, responses=responses(401, 403, 422))
def dashboard(
    principal: CurrentPrincipal,
    container: ContainerDep,
    day: Annotated[date | None, Query(description="the UTC day (default today)")] = None,
) -> DashboardRead:
    """Admin, support and reseller keys (403 otherwise); the day aggregates may be up to
    ``VOXBILL_DASHBOARD_CACHE_SECONDS`` old."""
    when = datetime.now(UTC) if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
    start, end = day_window(when)
    traffic = container.charging.traffic(principal, start, end)
    spend: dict[str, Decimal] = {}
    for point in traffic:
        spend[point.currency] = spend.get(point.currency, Decimal(0)) + point.spend
    count, lowest = container.ledger.low_balances(principal)
    return DashboardRead(
        day=start.date(),
        calls_up=container.charging.calls_up(principal),
        calls=sum(p.calls for p in traffic),
        spend=spend,
        minutes=[
            MinuteRead(minute=p.minute, currency=p.currency, calls=p.calls, spend=p.spend)
            for p in traffic
        ],
        margins=[
            MarginRead(currency=m.currency, amount=m.amount, calls=m.calls)
            for m in container.charging.margins(principal, start, end)
        ],
        low_balances=count,
        lowest=[
            LowBalanceRead(
                account_id=x.account_id,
                name=x.name,
                currency=x.currency,
                funds=x.funds,
                alert_balance=x.alert_balance,
                block_balance=x.block_balance,
                blocked=x.blocked,
            )
            for x in lowest
        ],
        failed_deliveries=container.subscriptions.failed_deliveries(principal),
    )
