"""What a charging step answers: a decision as an authorization, a session row as a grant
or a settlement (a replayed one read back from its CDR)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from voxbill.services.charging.decision import Evaluation
from voxbill.services.charging.results import (
    Authorization,
    SessionGrant,
    SessionSettlement,
    refusal,
)
from voxbill.services.charging.settle import available, levels_of
from voxbill.services.ledger.answers import norm
from voxbill.services.ledger.journal import Journal
from voxbill.storage.charging import cdrs as cdr_repository


def authorization(ev: Evaluation, account_id: int) -> Authorization:
    if not ev.allowed:
        assert ev.reason is not None
        return refusal(
            ev.reason,
            account_id,
            balance=None if ev.available is None else norm(ev.available),
            currency=ev.chain[0].currency if ev.chain else None,
        )
    row = ev.tariffs[0].row
    return Authorization(
        allowed=True,
        reason=None,
        account_id=account_id,
        max_duration=ev.max_duration,
        rate=norm(row.rate),
        currency=ev.levels[0].account.currency,
        balance=None if ev.available is None else norm(ev.available),
        prefix=row.prefix,
        destination=row.destination,
    )


def grant_of(journal: Journal, row: Any, *, replayed: bool) -> SessionGrant:
    first = levels_of(row)[0]
    return SessionGrant(
        session_id=row.session_id,
        account_id=row.account_id,
        granted_seconds=max(row.granted_seconds - row.used_seconds, 0),
        max_duration=row.max_duration,
        rate=norm(Decimal(first["rate"])),
        currency=first["currency"],
        balance=available(journal, row.account_id),
        expires_at=row.expires_at,
        replayed=replayed,
        final=row.granted_seconds >= row.max_duration,
    )


def settlement(
    journal: Journal, row: Any, duration: int, cdr_id: int, rating: Any, overrun: bool
) -> SessionSettlement:
    return SessionSettlement(
        session_id=row.session_id,
        account_id=row.account_id,
        duration=duration,
        billed_seconds=rating.billed_seconds,
        cost=norm(rating.cost),
        currency=rating.currency,
        balance=available(journal, row.account_id),
        cdr_id=cdr_id,
        overrun=overrun,
    )


def settled(journal: Journal, row: Any) -> SessionSettlement:
    """The settlement of a session settled already, as its CDR recorded it."""
    cdr = cdr_repository.by_session(journal.conn, row.session_id)
    assert cdr is not None  # a settled session always has its CDR
    return SessionSettlement(
        session_id=row.session_id,
        account_id=row.account_id,
        duration=cdr.duration,
        billed_seconds=cdr.billed_seconds,
        cost=norm(cdr.cost),
        currency=cdr.currency,
        balance=available(journal, row.account_id),
        cdr_id=cdr.id,
        overrun=bool(cdr.overrun),
        replayed=True,
    )
