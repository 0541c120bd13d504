"""Bodies of the rate plan endpoints."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from voxbill.api.schemas import AmountStr, DecimalStr, PlainText, shown, shown_or_none
from voxbill.domain.money import RoundingMethod
from voxbill.domain.rate_changes import RecordedChange
from voxbill.domain.rates import PlanRecord, StoredRate
from voxbill.services.rating.catalog import MarginPage, MarginRow
from voxbill.services.rating.imports import ImportReport
from voxbill.services.rating.reseller_plans import CopyReport

#: a new plan's name: printable, no slash (it travels in URL paths)
NEW_PLAN_NAME = r"^[^\x00-\x1f\x7f/]{1,100}$"


class RatePlanRead(BaseModel):
    name: str
    operator_id: int | None = Field(description="the operator root account that owns the plan")
    owner_account_id: int | None = Field(
        description="the reseller that made and prices the plan (null: the operator's own)"
    )
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
            owner_account_id=plan.owner_account_id,
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
    next_after: str | None = Field(
        default=None, description="with limit: the after of the next page; null: none"
    )


class RatePlanCreate(BaseModel):
    """A new plan: a copy of ``from_plan`` with a markup (see docs/api-accounts.md,
    "Reseller plans")."""

    model_config = ConfigDict(extra="forbid")

    name: PlainText = Field(
        min_length=1,
        max_length=100,
        pattern=NEW_PLAN_NAME,
        description="unique across the operator: prefix it (e.g. 'r17-retail')",
    )
    from_plan: PlainText = Field(
        min_length=1,
        max_length=100,
        description="a reseller key: its buy plan (effective plan) or a plan it owns",
    )
    markup_percent: AmountStr = Field(
        default=Decimal(0), description="applied to rate, initial_rate and connect_fee"
    )
    markup_fixed: AmountStr = Field(
        default=Decimal(0), description="added to rate and initial_rate (per minute)"
    )
    decimals: int | None = Field(
        default=None, ge=0, le=8, description="the copy's precision (default: the source's)"
    )
    rounding: RoundingMethod | None = Field(
        default=None, description="the copy's rounding method (default: the source's)"
    )
    owner_account_id: int | None = Field(
        default=None,
        ge=1,
        le=2**62,
        description="the admin only: the reseller the copy belongs to (a reseller's copy is "
        "always its own)",
    )


class RatePlanCreated(RatePlanRead):
    from_plan: str
    import_id: int = Field(description="the copy's import record (its changes: all new)")

    @classmethod
    def of_copy(cls, report: CopyReport) -> RatePlanCreated:
        head = RatePlanRead.of(report.plan, report.rows)
        return cls(**head.model_dump(), from_plan=report.from_plan, import_id=report.import_id)


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
    #: a dry run: nothing was written (``import_id`` is null)
    dry_run: bool = False

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
            dry_run=r.dry_run,
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
    below_cost: bool = Field(
        description="true: the sell rate or connect fee is below the buy price (a loss)"
    )

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
            below_cost=row.below_cost,
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
