"""Bodies of the rate plan endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from voxbill.api.schemas import DecimalStr, shown, shown_or_none
from voxbill.domain.rate_changes import RecordedChange
from voxbill.domain.rates import PlanRecord, StoredRate
from voxbill.services.rating.catalog import MarginPage, MarginRow
from voxbill.services.rating.imports import ImportReport


class RatePlanRead(BaseModel):
    name: str
    operator_id: int | None = Field(description="the operator root account that owns the plan")
    currency: str
    decimals: int
    rounding: str
    timezone: str
    holidays: list[str]
    version: int
    rows: int

    @classmethod
    def of(cls, plan: PlanRecord, rows: int) -> RatePlanRead:
        return cls(
            name=plan.name,
            operator_id=plan.operator_id,
            currency=plan.currency,
            decimals=plan.decimals,
            rounding=plan.rounding.value,
            timezone=plan.timezone,
            holidays=sorted(d.isoformat() for d in plan.holidays),
            version=plan.version,
            rows=rows,
        )


class RatePlanListed(RatePlanRead):
    effective: bool = Field(
        description="true: this plan prices the key's own calls (its own rate_plan, or the "
        "nearest ancestor's); false: a plan of the key's subtree (or, for the operator, any)"
    )


class RatePlanPage(BaseModel):
    items: list[RatePlanListed]


class RateRead(BaseModel):
    id: int
    prefix: str
    destination: str
    rate: DecimalStr
    connect_fee: DecimalStr
    initial_rate: DecimalStr | None
    initial_increment: int
    increment: int
    min_duration: int
    grace: int
    effective_from: datetime | None
    effective_to: datetime | None
    time_profile: str | None

    @classmethod
    def of(cls, row: StoredRate, currency: str) -> RateRead:
        return cls(
            id=row.id,
            prefix=row.prefix,
            destination=row.destination,
            rate=shown(row.rate, currency),
            connect_fee=shown(row.connect_fee, currency),
            initial_rate=shown_or_none(row.initial_rate, currency),
            initial_increment=row.initial_increment,
            increment=row.increment,
            min_duration=row.min_duration,
            grace=row.grace,
            effective_from=row.effective_from,
            effective_to=row.effective_to,
            time_profile=row.time_profile,
        )


class RatePlanDetail(RatePlanRead):
    rates: list[RateRead]
    next_after_id: int | None = Field(description="pass as after_id for the next page of rates")


class DeckImportRead(BaseModel):
    plan: str
    currency: str
    mode: str
    rows_read: int
    rows_imported: int
    rows_rejected: int
    changes: dict[str, int]
    import_id: int | None
    rejected: list[dict[str, Any]]
    ignored_columns: list[str] = []

    @classmethod
    def of(cls, r: ImportReport) -> DeckImportRead:
        return cls(
            plan=r.plan,
            currency=r.currency,
            mode=r.mode,
            rows_read=r.rows_read,
            rows_imported=r.rows_imported,
            rows_rejected=r.rows_rejected,
            changes=r.changes,
            import_id=r.import_id,
            rejected=[{"line": line, "message": msg} for line, msg in r.problems],
            ignored_columns=r.ignored_columns,
        )


class RateChangeRead(BaseModel):
    id: int
    import_id: int
    prefix: str
    destination: str
    time_profile: str | None
    change: str = Field(description="new, increased, decreased or removed")
    old_rate: DecimalStr | None
    new_rate: DecimalStr | None
    effective_from: datetime | None

    @classmethod
    def of(cls, row: RecordedChange, currency: str) -> RateChangeRead:
        return cls(
            id=row.id,
            import_id=row.import_id,
            prefix=row.prefix,
            destination=row.destination,
            time_profile=row.time_profile,
            change=row.change,
            old_rate=shown_or_none(row.old_rate, currency),
            new_rate=shown_or_none(row.new_rate, currency),
            effective_from=row.effective_from,
        )


class RateChangePage(BaseModel):
    plan: str
    items: list[RateChangeRead]
    next_after_id: int | None = Field(description="pass as after_id for the next page")


class MarginRead(BaseModel):
    id: int = Field(description="the sell plan's rate row (pages by it)")
    prefix: str
    destination: str
    time_profile: str | None
    effective_from: datetime | None
    effective_to: datetime | None
    sell_rate: DecimalStr = Field(description="per minute, in the plan's currency")
    sell_connect_fee: DecimalStr
    buy_prefix: str | None = Field(description="the buy plan's row covering the prefix")
    buy_rate: DecimalStr | None = Field(description="null: the buy plan has no rate there")
    buy_connect_fee: DecimalStr | None
    margin: DecimalStr | None = Field(description="sell_rate - buy_rate, per minute")
    connect_fee_margin: DecimalStr | None

    @classmethod
    def of(cls, row: MarginRow, currency: str) -> MarginRead:
        sell = row.sell
        return cls(
            id=sell.id,
            prefix=sell.prefix,
            destination=sell.destination,
            time_profile=sell.time_profile,
            effective_from=sell.effective_from,
            effective_to=sell.effective_to,
            sell_rate=shown(sell.rate, currency),
            sell_connect_fee=shown(sell.connect_fee, currency),
            buy_prefix=row.buy_prefix,
            buy_rate=shown_or_none(row.buy_rate, currency),
            buy_connect_fee=shown_or_none(row.buy_connect_fee, currency),
            margin=shown_or_none(row.margin, currency),
            connect_fee_margin=shown_or_none(row.connect_fee_margin, currency),
        )


class MarginPageRead(BaseModel):
    plan: str = Field(description="the plan sold")
    buy_plan: str = Field(description="the key's account's own plan: what it pays")
    currency: str
    at: datetime = Field(description="the instant the buy prices are looked up at")
    items: list[MarginRead]
    next_after_id: int | None = Field(description="pass as after_id for the next page")

    @classmethod
    def of(cls, page: MarginPage, limit: int) -> MarginPageRead:
        currency = page.sell.currency
        items = [MarginRead.of(r, currency) for r in page.rows]
        return cls(
            plan=page.sell.name,
            buy_plan=page.buy.name,
            currency=currency,
            at=page.at,
            items=items,
            next_after_id=items[-1].id if len(items) == limit else None,
        )
