"""Closing holds: posting (charging), voiding and expiring them, inside an open journal.

This module is the holds' entry point for the service and for other contexts (charging
imports it as ``ledger_holds``): placing, extending and reading them
(:mod:`voxbill.services.ledger.holds_open`) are re-exported here. Settling takes the
hold rows' locks first (then the balances'), and a hold moves out of ``open`` exactly
once: a repeated settlement of the same kind replays, a different one is a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from voxbill.domain.errors import HoldConflict, InvalidInput
from voxbill.domain.holds import (
    EXPIRED,
    OPEN,
    POSTED,
    VOIDED,
    Hold,
    HoldRecord,
    HoldSettled,
    HoldSettlement,
    HoldUpdate,
)
from voxbill.domain.ledger import (
    Leg,
    Posting,
    SystemBook,
    TransactionKind,
    account_book_key,
    norm,
)
from voxbill.domain.money import ZERO
from voxbill.services.ledger.holds_open import (
    current,
    extend,
    extend_locked,
    lock_books,
    locked_holds,
    place,
    place_quietly,
    validate_requests,
    view,
)
from voxbill.services.ledger.journal import Journal
from voxbill.services.unit_of_work import Transaction

__all__ = [
    "EXPIRED",
    "OPEN",
    "POSTED",
    "VOIDED",
    "current",
    "expire",
    "extend",
    "extend_locked",
    "locked_holds",
    "place",
    "place_quietly",
    "post",
    "post_locked",
    "validate_requests",
    "void",
]


def _balances(journal: Journal, rows: Sequence[HoldRecord]) -> dict[int, Decimal]:
    result = {}
    for row in rows:
        book = journal.tx.ledger.find_book(account_book_key(row.balance_account_id))
        assert book is not None
        result[row.balance_account_id] = norm(book.balance)
    return result


def _replayed_post(rows: Sequence[HoldRecord], charges: Sequence[Decimal]) -> bool:
    """Whether the holds were posted already (for these charges: else a conflict)."""
    if all(r.status == POSTED for r in rows):
        if [r.posted_amount for r in rows] != list(charges):
            raise HoldConflict(f"the holds of {rows[0].reference!r} were posted for other amounts")
        return True
    return False


def post(
    journal: Journal,
    reference: str,
    charges: Sequence[Decimal],
    actor: str,
    allow_overrun: bool,
    sellers: Sequence[int | None] | None = None,
) -> HoldSettlement:
    """Charge each level's hold; level i's charge is paid to ``sellers[i]``'s balance
    (None, or no ``sellers``: the operator's revenue book)."""
    rows = locked_holds(journal, reference)
    _check_charges(rows, charges)
    if _replayed_post(rows, charges):
        return HoldSettlement(
            transaction_id=rows[0].transaction_id,
            holds=tuple(view(r, replayed=True) for r in rows),
            balances_after=_balances(journal, rows),
            overrun=any((r.posted_amount or ZERO) > r.amount for r in rows),
            replayed=True,
        )
    transaction_id, books, overrun = _charge(journal, rows, charges, actor, allow_overrun, sellers)
    return HoldSettlement(
        transaction_id=transaction_id,
        holds=tuple(current(journal, reference)),
        balances_after={
            r.balance_account_id: norm(journal.balance_of(b))
            for r, b in zip(rows, books, strict=True)
        },
        overrun=overrun,
    )


def post_locked(
    journal: Journal,
    rows: Sequence[HoldRecord],
    charges: Sequence[Decimal],
    actor: str,
    sellers: Sequence[int | None],
) -> None:
    """:func:`post` of holds ``rows`` (locked by :func:`locked_holds`), overruns allowed,
    without reading them back."""
    _check_charges(rows, charges)
    if not _replayed_post(rows, charges):
        _charge(journal, rows, charges, actor, True, sellers)


def _check_charges(rows: Sequence[HoldRecord], charges: Sequence[Decimal]) -> None:
    if len(charges) != len(rows):
        raise InvalidInput(f"{len(rows)} hold levels, {len(charges)} charges given")
    if any(c < ZERO for c in charges):
        raise InvalidInput("a charge cannot be negative")


def _charge(
    journal: Journal,
    rows: Sequence[HoldRecord],
    charges: Sequence[Decimal],
    actor: str,
    allow_overrun: bool,
    sellers: Sequence[int | None] | None,
) -> tuple[int | None, list[int], bool]:
    """Post open holds: (transaction id, their books, overrun)."""
    if any(r.status != OPEN for r in rows):
        raise HoldConflict(f"the holds of {rows[0].reference!r} are {rows[0].status}, not open")
    overrun = any(c > r.amount for c, r in zip(charges, rows, strict=True))
    if overrun and not allow_overrun:
        raise InvalidInput("a charge exceeds its hold")
    paid_to = list(sellers) if sellers is not None else [None] * len(rows)
    if len(paid_to) != len(rows):
        raise InvalidInput(f"{len(rows)} hold levels, {len(paid_to)} sellers given")
    credited = [
        journal.system_book(SystemBook.REVENUE, r.currency)
        if seller is None
        else journal.account_book(seller)
        for r, seller in zip(rows, paid_to, strict=True)
    ]
    books = lock_books(journal, rows, credited)  # system books are never locked
    for book, row in zip(books, rows, strict=True):
        journal.reserve(book, -row.amount, flush=False)  # written once, with the charge
    legs = []
    for book, row, charge, credit in zip(books, rows, charges, credited, strict=True):
        if charge > ZERO:
            legs += [Leg(book, -charge, row.currency), Leg(credit, charge, row.currency)]
    changes: list[HoldSettled] = [
        {"hold_id": row.id, "status": POSTED, "posted_amount": charge, "updated_at": journal.now}
        for row, charge in zip(rows, charges, strict=True)
    ]
    if not legs:  # nothing charged: the holds released, no transaction
        released: list[HoldUpdate] = [
            {
                "hold_id": change["hold_id"],
                "status": change["status"],
                "posted_amount": change["posted_amount"],
                "updated_at": change["updated_at"],
                "transaction_id": None,
            }
            for change in changes
        ]
        journal.tx.holds.update_holds(released, books=journal.unwritten())
        return None, books, overrun
    applied = journal.post(
        Posting.of(legs),
        kind=TransactionKind.CHARGE.value,
        actor=actor,
        reference=rows[0].reference,
        settles=changes,  # the holds posted with the charge (and the releases)
    )
    return applied.transaction_id, books, overrun


def void(journal: Journal, reference: str) -> list[Hold]:
    rows = locked_holds(journal, reference)
    if any(r.status == POSTED for r in rows):
        raise HoldConflict(f"the holds of {reference!r} were already posted")
    if all(r.status in (VOIDED, EXPIRED) for r in rows):
        return [view(r, replayed=True) for r in rows]
    _release(journal, rows, VOIDED)
    return current(journal, reference)


def expire(
    journal: Journal,
    now: datetime,
    limit: int,
    claim: Callable[[Transaction, datetime, int], Sequence[HoldRecord]] | None = None,
) -> int:
    """Release holds past expiry; returns how many. ``SKIP LOCKED`` lets several sweepers
    share the work, each hold going to exactly one of them. ``claim`` picks the expired
    holds (charging's backstop only those no session owns), in the journal's
    transaction. Without it, every expired hold is a candidate."""
    if claim is None:
        rows = journal.tx.holds.claim_expired_holds(now, limit)
    else:
        rows = list(claim(journal.tx, now, limit))
    if not rows:
        return 0
    # a reference's levels expire together, even where the limit cut between them
    claimed = {r.id for r in rows}
    rows += [
        r
        for r in journal.tx.holds.claim_open_holds([r.reference for r in rows])
        if r.id not in claimed
    ]
    _release(journal, rows, EXPIRED)
    return len(rows)


def _release(journal: Journal, rows: Sequence[HoldRecord], status: str) -> None:
    open_rows = [r for r in rows if r.status == OPEN]
    books = lock_books(journal, open_rows)
    for book, row in zip(books, open_rows, strict=True):
        journal.reserve(book, -row.amount, flush=False)
    changes: list[HoldUpdate] = [
        {"hold_id": r.id, "status": status, "updated_at": journal.now} for r in open_rows
    ]
    journal.tx.holds.update_holds(changes, books=journal.unwritten())
