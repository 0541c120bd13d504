"""Exchange rates inside a ledger transaction: set one (never re-pricing a conversion
already stored), list an operator's.

Conversions store what they converted (a transfer's legs in both currencies, a CDR's
margin), so changing a rate would not alter them: it would make the rates stop
explaining them. A rate is therefore refused when it would change the rate in force at
an instant the operator's books were converted at; a rate for the future (or for a
period nothing was converted in) may be replaced until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection

from voxbill.domain import fx
from voxbill.domain.errors import NotFound
from voxbill.services.ledger.journal import Journal
from voxbill.storage.ledger import fx as fx_rows


@dataclass(frozen=True, slots=True)
class FxRate:
    """1 ``base`` = ``rate`` ``quote``, for the operator's books, from ``effective_from``."""

    id: int
    operator_id: int
    base: str
    quote: str
    rate: Decimal
    effective_from: datetime
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Any) -> FxRate:
        return cls(
            id=row.id,
            operator_id=row.operator_id,
            base=row.base,
            quote=row.quote,
            rate=row.rate,
            effective_from=row.effective_from,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@dataclass(frozen=True, slots=True)
class FxRateSet:
    fx_rate: FxRate
    outcome: Literal["created", "replaced", "unchanged"]


def require_operator(journal: Journal, operator_id: int) -> None:
    if operator_id not in {row.id for row in fx_rows.operators(journal.conn)}:
        raise NotFound(f"account {operator_id} is not an operator")


def set_rate(
    journal: Journal,
    operator_id: int,
    base: str,
    quote: str,
    rate: Decimal,
    effective_from: datetime | None,
) -> FxRateSet:
    base, quote = fx.pair(base, quote)
    value = fx.rate(rate)
    start = journal.now if effective_from is None else fx.instant(effective_from, "effective_from")
    conn = journal.conn
    fx_rows.lock_pair(conn, operator_id, base, quote, shared=False)
    existing = fx_rows.find_fx_rate(conn, operator_id, base, quote, start)
    if existing is not None and existing.rate == value:
        return FxRateSet(FxRate.of(existing), "unchanged")
    until = fx_rows.next_effective_from(conn, operator_id, base, quote, start)
    used = fx_rows.first_conversion(conn, operator_id, (base, quote), start, until)
    if used is not None:
        raise fx.FxRateInUse(
            f"{base}/{quote} from {start.isoformat()} would re-price conversions already "
            f"stored (the first at {used.isoformat()}): set the new rate from now on "
            "(leave effective_from out) or from a later instant"
        )
    created = fx_rows.upsert_fx_rate(conn, operator_id, base, quote, value, start, journal.now)
    row = fx_rows.find_fx_rate(conn, operator_id, base, quote, start)
    return FxRateSet(FxRate.of(row), "created" if created else "replaced")


def list_rates(
    conn: Connection,
    operator_id: int,
    *,
    base: str | None,
    quote: str | None,
    at: datetime | None,
    after_id: int | None,
    limit: int,
) -> list[FxRate]:
    rows = fx_rows.list_fx_rates(
        conn,
        operator_id,
        base=None if base is None else fx.currency(base, "base"),
        quote=None if quote is None else fx.currency(quote, "quote"),
        at=None if at is None else fx.instant(at, "at"),
        after_id=after_id,
        limit=limit,
    )
    return [FxRate.of(r) for r in rows]
