"""What a charging step answers: a decision as an authorization, a session as a grant or
a settlement (a replayed one read back from its CDR)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from voxbill.domain import charging as rules
from voxbill.domain.charging_decision import Evaluation
from voxbill.domain.ledger import norm
from voxbill.domain.rating import Rating
from voxbill.domain.sessions import ChargingSession
from voxbill.services.charging.results import (
    Authorization,
    PayingLevel,
    SessionGrant,
    SessionSettlement,
    refusal,
)
from voxbill.services.charging.settle import available
from voxbill.services.ledger.journal import Journal


def paying_levels(ev: Evaluation) -> tuple[PayingLevel, ...]:
    """Every paying level of an evaluation with its balance as the evaluation read it
    (before this call's hold): no further read."""
    if not ev.levels or len(ev.books) != len(ev.levels):
        return ()
    owners = rules.balance_owners(ev.chain)
    found: list[PayingLevel] = []
    for level, book in zip(ev.levels, ev.books, strict=True):
        funds = ev.funds.get(book)
        if funds is None:  # a refusal before this balance was read
            return ()
        account = level.account
        found.append(
            PayingLevel(
                level=level.index,
                account_id=account.id,
                kind=account.kind.value,
                balance=norm(funds.available),
                currency=account.currency,
                balance_account_id=owners[account.id].id,
            )
        )
    return tuple(found)


def authorization(ev: Evaluation, account_id: int) -> Authorization:
    if not ev.allowed:
        assert ev.reason is not None
        return refusal(
            ev.reason,
            account_id,
            balance=None if ev.available is None else norm(ev.available),
            currency=ev.chain[0].currency if ev.chain else None,
            levels=paying_levels(ev),
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
        levels=paying_levels(ev),
    )


def started_grant(journal: Journal, session: ChargingSession) -> SessionGrant:
    """A start sent again: the first grant, its balances as before this call's hold (what
    each balance may spend now plus this session's open holds on it)."""
    own: dict[int, Decimal] = {}
    for hold in journal.tx.holds.holds_by_reference(session.session_id, lock=False):
        if hold.status == "open":
            own[hold.book_id] = own.get(hold.book_id, Decimal(0)) + hold.amount
    levels: list[PayingLevel] = []
    for index, lv in enumerate(session.levels):
        owner = journal.owner(lv.account_id)
        book = journal.account_book(lv.account_id)
        account = journal.tx.accounts.get(lv.account_id)
        assert account is not None  # sessions reference accounts, never deleted
        levels.append(
            PayingLevel(
                level=index,
                account_id=lv.account_id,
                kind=account.kind.value,
                balance=norm(available(journal, lv.account_id) + own.get(book, Decimal(0))),
                currency=lv.currency,
                balance_account_id=owner.balance_account_id,
            )
        )
    grant = grant_of(journal, session, replayed=True)
    before = levels[0].balance if levels else grant.balance
    return replace(grant, balance=before, levels=tuple(levels))


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
