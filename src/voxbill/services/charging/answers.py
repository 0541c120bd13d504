"""What a charging step answers: a decision as an authorization, a session as a grant or
a settlement (a replayed one read back from its CDR)."""

from __future__ import annotations

from voxbill.domain.charging_decision import Evaluation
from voxbill.domain.ledger import norm
from voxbill.domain.rating import Rating
from voxbill.domain.sessions import ChargingSession
from voxbill.services.charging.results import (
    Authorization,
    SessionGrant,
    SessionSettlement,
    refusal,
)
from voxbill.services.charging.settle import available
from voxbill.services.ledger.journal import Journal


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


def grant_of(journal: Journal, session: ChargingSession, *, replayed: bool) -> SessionGrant:
    first = session.levels[0]
    return SessionGrant(
        session_id=session.session_id,
        account_id=session.account_id,
        granted_seconds=max(session.granted_seconds - session.used_seconds, 0),
        max_duration=session.max_duration,
        rate=norm(first.rate),
        currency=first.currency,
        balance=available(journal, session.account_id),
        expires_at=session.expires_at,
        replayed=replayed,
        final=session.granted_seconds >= session.max_duration,
    )


def settlement(
    journal: Journal,
    session: ChargingSession,
    duration: int,
    cdr_id: int,
    rating: Rating,
    overrun: bool,
) -> SessionSettlement:
    return SessionSettlement(
        session_id=session.session_id,
        account_id=session.account_id,
        duration=duration,
        billed_seconds=rating.billed_seconds,
        cost=norm(rating.cost),
        currency=rating.currency,
        balance=available(journal, session.account_id),
        cdr_id=cdr_id,
        overrun=overrun,
    )


def settled(journal: Journal, session: ChargingSession) -> SessionSettlement:
    """The settlement of a session settled already, as its CDR recorded it."""
    cdr = journal.tx.cdrs.by_session(session.session_id)
    assert cdr is not None  # a settled session always has its CDR
    return SessionSettlement(
        session_id=session.session_id,
        account_id=session.account_id,
        duration=cdr.duration,
        billed_seconds=cdr.billed_seconds,
        cost=norm(cdr.cost),
        currency=cdr.currency,
        balance=available(journal, session.account_id),
        cdr_id=cdr.id,
        overrun=cdr.overrun,
        replayed=True,
        corrected=cdr.corrected_at is not None,
    )
