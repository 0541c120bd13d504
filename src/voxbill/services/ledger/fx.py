"""Exchange rates inside a ledger transaction: set one (never re-pricing a conversion
already stored), list an operator's.

Conversions store what they converted (a transfer's legs in both currencies, a CDR's
margin), so changing a rate would not alter them: it would make the rates stop
explaining them. A rate is therefore refused when it would change the rate in force at
an instant the operator's books were converted at; a rate for the future (or for a
period nothing was converted in) may be replaced until then.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from voxbill.domain import fx
from voxbill.domain.errors import NotFound
from voxbill.domain.fx import FxRate, FxRateSet
from voxbill.services.ledger.journal import Journal
from voxbill.services.ports.ledger import FxRepository

__all__ = ["FxRate", "FxRateSet", "list_rates", "require_operator", "set_rate"]


def require_operator(journal: Journal, operator_id: int) -> None:
    if operator_id not in journal.tx.fx.operator_ids():
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
    rates = journal.tx.fx
    rates.lock_pair(operator_id, base, quote, shared=False)
    existing = rates.find_fx_rate(operator_id, base, quote, start)
    if existing is not None and existing.rate == value:
        return FxRateSet(existing, "unchanged")
    until = rates.next_effective_from(operator_id, base, quote, start)
    used = rates.first_conversion(operator_id, (base, quote), start, until)
    if used is not None:
        raise fx.FxRateInUse(
            f"{base}/{quote} from {start.isoformat()} would re-price conversions already "
            f"stored (the first at {used.isoformat()}): set the new rate from now on "
            "(leave effective_from out) or from a later instant"
        )
    created = rates.upsert_fx_rate(operator_id, base, quote, value, start, journal.now)
    stored = rates.find_fx_rate(operator_id, base, quote, start)
    assert stored is not None
    return FxRateSet(stored, "created" if created else "replaced")


def list_rates(
    rates: FxRepository,
    operator_id: int,
    *,
    base: str | None,
    quote: str | None,
    at: datetime | None,
    after_id: int | None,
    limit: int,
) -> list[FxRate]:
    return rates.list_fx_rates(
        operator_id,
        base=None if base is None else fx.currency(base, "base"),
        quote=None if quote is None else fx.currency(quote, "quote"),
        at=None if at is None else fx.instant(at, "at"),
        after_id=after_id,
        limit=limit,
    )
