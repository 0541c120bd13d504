"""Reading CDRs: a subtree's calls by period and number, newest first, with every leg."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.services.ledger.answers import norm, norm_or_none
from voxbill.storage.charging import cdrs as rows
from voxbill.storage.database import Database


@dataclass(frozen=True)
class CdrLeg:
    """What one level of the chain paid for the call, and its margin over the level below;
    ``side`` "buy": what the vendor (carrier) billed us, rated by its deck."""

    level: int
    account_id: int
    plan: str
    prefix: str
    destination: str
    rate: Decimal
    billed_seconds: int
    cost: Decimal
    currency: str
    margin: Decimal | None
    side: str = "sell"


@dataclass(frozen=True)
class Cdr:
    id: int
    session_id: str
    account_id: int
    caller: str
    callee: str
    started_at: datetime
    duration: int
    billed_seconds: int
    rate: Decimal
    cost: Decimal
    currency: str
    prefix: str
    destination: str
    overrun: bool
    settled_by: str
    created_at: datetime
    legs: tuple[CdrLeg, ...]
    vendor_id: int | None = None
    vendor_cost: Decimal | None = None
    vendor_currency: str | None = None
    #: what the operator was paid minus the vendor cost (see docs/charging.md)
    margin: Decimal | None = None


def _leg(row: Any) -> CdrLeg:
    return CdrLeg(
        level=row.level,
        account_id=row.account_id,
        plan=row.plan,
        prefix=row.prefix,
        destination=row.destination,
        rate=norm(row.rate),
        billed_seconds=row.billed_seconds,
        cost=norm(row.cost),
        currency=row.currency,
        margin=norm_or_none(row.margin),
        side=row.side,
    )


def page(
    db: Database,
    *,
    path: str,
    started_from: datetime | None = None,
    started_to: datetime | None = None,
    number: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Cdr]:
    with db.transaction(readonly=True) as conn:
        found = rows.page(
            conn,
            path=path,
            started_from=started_from,
            started_to=started_to,
            number=number,
            before_id=before_id,
            limit=limit,
        )
        legs = rows.legs_of(conn, [r.id for r in found])
    return [
        Cdr(
            id=r.id,
            session_id=r.session_id,
            account_id=r.account_id,
            caller=r.caller,
            callee=r.callee,
            started_at=r.started_at,
            duration=r.duration,
            billed_seconds=r.billed_seconds,
            rate=norm(r.rate),
            cost=norm(r.cost),
            currency=r.currency,
            prefix=r.prefix,
            destination=r.destination,
            overrun=bool(r.overrun),
            settled_by=r.settled_by,
            created_at=r.created_at,
            legs=tuple(_leg(leg) for leg in legs[r.id]),
            vendor_id=r.vendor_id,
            vendor_cost=norm_or_none(r.vendor_cost),
            vendor_currency=r.vendor_currency,
            margin=norm_or_none(r.margin),
        )
        for r in found
    ]
