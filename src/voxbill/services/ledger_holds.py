"""Holds: funds reserved for a call or session, then posted, voided or expired — once.

A reference (a session id) owns one hold per level of the account chain. Placing takes
the balance locks and checks every level's floor before reserving anything, so
concurrent calls can never together hold more than is available. Settling takes the
hold rows' locks first (then the balances'), and a hold moves out of ``open`` exactly
once: a repeated settlement of the same kind replays, a different one is a conflict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from voxbill.domain.errors import (
    HoldConflict,
    IdempotencyConflict,
    InvalidInput,
    NotFound,
)
from voxbill.domain.ledger import Leg, Posting, SystemBook, TransactionKind, positive
from voxbill.domain.money import ZERO
from voxbill.services.ledger_journal import Journal
from voxbill.services.ledger_views import Hold, HoldRequest, HoldSettlement, norm, norm_or_none
from voxbill.storage import hold_repository as hold_rows
from voxbill.storage import ledger_repository as repo

OPEN, POSTED, VOIDED, EXPIRED = "open", "posted", "voided", "expired"


def validate_requests(
    reference: str, requests: Sequence[HoldRequest], expires_at: datetime
) -> list[HoldRequest]:
    if not reference or len(reference) > 200:
        raise InvalidInput("a hold needs a reference of 1 to 200 characters")
    if not requests:
        raise InvalidInput("a hold needs at least one level")
    if expires_at.tzinfo is None:
        raise InvalidInput("a hold's expiry needs a timezone")
    return [HoldRequest(r.account_id, positive(r.amount, what="hold amount")) for r in requests]


def _view(row: Any, *, replayed: bool = False) -> Hold:
    return Hold(
        id=row.id,
        reference=row.reference,
        level=row.level,
        account_id=row.account_id,
        balance_account_id=row.balance_account_id,
        currency=row.currency,
        amount=norm(row.amount),
        status=row.status,
        posted_amount=norm_or_none(row.posted_amount),
        expires_at=row.expires_at,
        created_at=row.created_at,
        transaction_id=row.transaction_id,
        replayed=replayed,
    )


def current(journal: Journal, reference: str, *, replayed: bool = False) -> list[Hold]:
    rows = hold_rows.holds_by_reference(journal.conn, reference, lock=False)
    return [_view(r, replayed=replayed) for r in rows]


def _replay_place(rows: list[Any], requests: Sequence[HoldRequest]) -> list[Any]:
    if [r.account_id for r in rows] != [q.account_id for q in requests]:
        raise IdempotencyConflict(
            f"hold reference {rows[0].reference!r} is already used for other accounts"
        )
    return rows


def _place(
    journal: Journal, reference: str, requests: Sequence[HoldRequest], expires_at: datetime
) -> list[Any] | None:
    """Place the holds; a reference's existing holds (a replay) instead, if any."""
    if not all(journal.has_locked(r.account_id) for r in requests):
        existing = hold_rows.holds_by_reference(journal.conn, reference, lock=False)
        if existing:
            return _replay_place(existing, requests)
    books = [journal.account_book(r.account_id) for r in requests]
    journal.lock(books)
    existing = hold_rows.holds_by_reference(journal.conn, reference, lock=False)
    if existing:  # placed before, or a twin committed while we waited for the balance lock
        return _replay_place(existing, requests)
    needed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for book, request in zip(books, requests, strict=True):
        needed[book] += request.amount
    for book, amount in needed.items():
        journal.require(book, amount)
    for book, amount in needed.items():
        journal.reserve(book, amount, flush=False)
    journal.flush()
    hold_rows.insert_holds(
        journal.conn,
        [
            {
                "reference": reference,
                "level": level,
                "account_id": request.account_id,
                "book_id": book,
                "currency": journal.owner(request.account_id).currency,
                "amount": request.amount,
                "status": OPEN,
                "expires_at": expires_at,
                "created_at": journal.now,
                "updated_at": journal.now,
            }
            for level, (book, request) in enumerate(zip(books, requests, strict=True))
        ],
    )
    return None


def place(
    journal: Journal, reference: str, requests: Sequence[HoldRequest], expires_at: datetime
) -> list[Hold]:
    existing = _place(journal, reference, requests, expires_at)
    if existing is not None:
        return [_view(r, replayed=True) for r in existing]
    return current(journal, reference)


def place_quietly(
    journal: Journal, reference: str, requests: Sequence[HoldRequest], expires_at: datetime
) -> None:
    """:func:`place` without reading the holds back (a caller that needs no views)."""
    _place(journal, reference, requests, expires_at)


def locked_holds(journal: Journal, reference: str) -> list[Any]:
    """A reference's holds, their rows locked (the first locks of a settlement)."""
    rows = hold_rows.holds_by_reference(journal.conn, reference, lock=True)
    if not rows:
        raise NotFound(f"no hold with reference {reference!r}", code="unknown_hold")
    return rows


def _lock_books(journal: Journal, rows: Sequence[Any], also: Sequence[int] = ()) -> list[int]:
    """The holds' balance books, locked in one pass with ``also`` (e.g. sellers' books)."""
    books = [journal.account_book(r.account_id) for r in rows]
    if any(book != r.book_id for book, r in zip(books, rows, strict=True)):
        raise HoldConflict("an account changed balance owner while its hold was open")
    journal.lock([*books, *also])
    return books


def extend_locked(
    journal: Journal, rows: Sequence[Any], totals: Sequence[Decimal], expires_at: datetime
) -> None:
    """Grow the holds ``rows`` (locked by :func:`locked_holds`) to ``totals``."""
    if len(totals) != len(rows):
        raise InvalidInput(f"{len(rows)} hold levels, {len(totals)} amounts given")
    if any(r.status != OPEN for r in rows):
        raise HoldConflict(f"the holds of {rows[0].reference!r} are no longer open")
    books = _lock_books(journal, rows)
    growth: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for book, row, total in zip(books, rows, totals, strict=True):
        growth[book] += max(total - row.amount, ZERO)
    for book, amount in growth.items():
        if amount > ZERO:
            journal.require(book, amount)
    for book, amount in growth.items():
        if amount > ZERO:
            journal.reserve(book, amount, flush=False)
    journal.flush()
    hold_rows.update_holds(
        journal.conn,
        [
            {
                "hold_id": row.id,
                "amount": max(total, row.amount),
                "expires_at": expires_at,
                "updated_at": journal.now,
            }
            for row, total in zip(rows, totals, strict=True)
        ],
    )


def extend(
    journal: Journal, reference: str, totals: Sequence[Decimal], expires_at: datetime
) -> list[Hold]:
    extend_locked(journal, locked_holds(journal, reference), totals, expires_at)
    return current(journal, reference)


def _balances(journal: Journal, rows: Sequence[Any]) -> dict[int, Decimal]:
    result = {}
    for row in rows:
        book = repo.find_book(journal.conn, repo.account_book_key(row.balance_account_id))
        assert book is not None
        result[row.balance_account_id] = norm(book.balance)
    return result


def _replayed_post(rows: Sequence[Any], charges: Sequence[Decimal]) -> bool:
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
            holds=tuple(_view(r, replayed=True) for r in rows),
            balances_after=_balances(journal, rows),
            overrun=any(r.posted_amount > r.amount for r in rows),
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
    rows: Sequence[Any],
    charges: Sequence[Decimal],
    actor: str,
    sellers: Sequence[int | None],
) -> None:
    """:func:`post` of holds ``rows`` (locked by :func:`locked_holds`), overruns allowed,
    without reading them back."""
    _check_charges(rows, charges)
    if not _replayed_post(rows, charges):
        _charge(journal, rows, charges, actor, True, sellers)


def _check_charges(rows: Sequence[Any], charges: Sequence[Decimal]) -> None:
    if len(charges) != len(rows):
        raise InvalidInput(f"{len(rows)} hold levels, {len(charges)} charges given")
    if any(c < ZERO for c in charges):
        raise InvalidInput("a charge cannot be negative")


def _charge(
    journal: Journal,
    rows: Sequence[Any],
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
    books = _lock_books(journal, rows, credited)  # system books are never locked
    for book, row in zip(books, rows, strict=True):
        journal.reserve(book, -row.amount, flush=False)  # written once, with the charge
    legs = []
    for book, row, charge, credit in zip(books, rows, charges, credited, strict=True):
        if charge > ZERO:
            legs += [Leg(book, -charge, row.currency), Leg(credit, charge, row.currency)]
    transaction_id = None
    reference = rows[0].reference
    if legs:
        applied = journal.post(
            Posting.of(legs), kind=TransactionKind.CHARGE.value, actor=actor, reference=reference
        )
        transaction_id = applied.transaction_id
    journal.flush()
    hold_rows.update_holds(
        journal.conn,
        [
            {
                "hold_id": row.id,
                "status": POSTED,
                "posted_amount": charge,
                "transaction_id": transaction_id,
                "updated_at": journal.now,
            }
            for row, charge in zip(rows, charges, strict=True)
        ],
    )
    return transaction_id, books, overrun


def void(journal: Journal, reference: str) -> list[Hold]:
    rows = locked_holds(journal, reference)
    if any(r.status == POSTED for r in rows):
        raise HoldConflict(f"the holds of {reference!r} were already posted")
    if all(r.status in (VOIDED, EXPIRED) for r in rows):
        return [_view(r, replayed=True) for r in rows]
    _release(journal, rows, VOIDED)
    return current(journal, reference)


def expire(
    journal: Journal,
    now: datetime,
    limit: int,
    claim: Callable[[Connection, datetime, int], list[Any]] = hold_rows.claim_expired_holds,
) -> int:
    """Release holds past expiry; returns how many. ``SKIP LOCKED`` lets several sweepers
    share the work, each hold going to exactly one of them. ``claim`` picks the expired
    holds (charging's backstop only those no session owns)."""
    rows = claim(journal.conn, now, limit)
    if not rows:
        return 0
    # a reference's levels expire together, even where the limit cut between them
    claimed = {r.id for r in rows}
    rows += [
        r
        for r in hold_rows.claim_open_holds(journal.conn, [r.reference for r in rows])
        if r.id not in claimed
    ]
    _release(journal, rows, EXPIRED)
    return len(rows)


def _release(journal: Journal, rows: Sequence[Any], status: str) -> None:
    open_rows = [r for r in rows if r.status == OPEN]
    books = _lock_books(journal, open_rows)
    for book, row in zip(books, open_rows, strict=True):
        journal.reserve(book, -row.amount, flush=False)
    journal.flush()
    changes = [{"hold_id": r.id, "status": status, "updated_at": journal.now} for r in open_rows]
    hold_rows.update_holds(journal.conn, changes)
