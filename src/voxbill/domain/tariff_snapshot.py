"""A call's tariff frozen at its start: the rows of the matched prefix in force then.

A session is settled from this snapshot, by the same rating engine, so re-importing a
deck (merged in place, replaced, or a new plan version) never re-prices a call in
progress nor leaves it without a rate. The snapshot is plain JSON-ready data.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.money import RoundingMethod
from voxbill.domain.rates import Rate, RatePlan
from voxbill.domain.rating import Tariff
from voxbill.domain.time_profile import parse_time_profile


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _row(rate: Rate) -> dict[str, Any]:
    return {
        "prefix": rate.prefix,
        "rate": str(rate.rate),
        "destination": rate.destination,
        "connect_fee": str(rate.connect_fee),
        "initial_rate": None if rate.initial_rate is None else str(rate.initial_rate),
        "initial_increment": rate.initial_increment,
        "increment": rate.increment,
        "min_duration": rate.min_duration,
        "grace": rate.grace,
        "effective_from": _when(rate.effective_from),
        "effective_to": _when(rate.effective_to),
        "time_profile": None if rate.time_profile is None else rate.time_profile.spec,
    }


def freeze(tariff: Tariff) -> dict[str, Any]:
    """What prices this call: its plan's rounding and clock, and its prefix's rows."""
    plan = tariff.plan
    return {
        "plan": plan.name,
        "currency": plan.currency,
        "decimals": plan.decimals,
        "rounding": plan.rounding.value,
        "timezone": plan.timezone,
        "holidays": sorted(day.isoformat() for day in plan.holidays),
        "rows": [_row(rate) for rate in tariff.group.rows],
    }


def _rate(row: dict[str, Any]) -> Rate:
    initial = row["initial_rate"]
    profile = row["time_profile"]
    start, end = row["effective_from"], row["effective_to"]
    return Rate(
        prefix=row["prefix"],
        rate=Decimal(row["rate"]),
        destination=row["destination"],
        connect_fee=Decimal(row["connect_fee"]),
        initial_rate=None if initial is None else Decimal(initial),
        initial_increment=row["initial_increment"],
        increment=row["increment"],
        min_duration=row["min_duration"],
        grace=row["grace"],
        effective_from=None if start is None else datetime.fromisoformat(start),
        effective_to=None if end is None else datetime.fromisoformat(end),
        time_profile=None if profile is None else parse_time_profile(profile),
    )


def thaw(snapshot: dict[str, Any], number: str, start: datetime) -> Tariff:
    """The tariff :func:`freeze` saw, for the same number and start."""
    plan = RatePlan(
        snapshot["plan"],
        snapshot["currency"],
        [_rate(row) for row in snapshot["rows"]],
        decimals=snapshot["decimals"],
        rounding=RoundingMethod(snapshot["rounding"]),
        timezone=snapshot["timezone"],
        holidays=frozenset(date.fromisoformat(day) for day in snapshot["holidays"]),
    )
    return Tariff(plan, number, start)


__all__ = ["freeze", "thaw"]
