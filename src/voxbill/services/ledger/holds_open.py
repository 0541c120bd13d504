"""Holds placed, extended and read: the reserving half of ``ledger_holds``.

A reference (a session id) owns one hold per level of the account chain. Placing takes
the balance locks and checks every level's floor before reserving anything, so
concurrent calls can never together hold more than is available. Settling (posting,
voiding, expiring: ``ledger_holds``) starts from :func:`locked_holds` and
:func:`lock_books` here: hold rows' locks first, then the balances'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.errors import HoldConflict, IdempotencyConflict, InvalidInput, NotFound
from voxbill.domain.ledger import positive
from voxbill.domain.money import ZERO
from voxbill.services.ledger.answers import Hold, HoldRequest, norm, norm_or_none
from voxbill.services.ledger.journal import Journal
from voxbill.storage.ledger import holds as hold_rows

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


def view(row: Any, *, replayed: bool = False) -> Hold:
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
    return [view(r, replayed=replayed) for r in rows]


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
        books=journal.unwritten(),  # the reservations, written with the holds
    )
    return None


def place(
    journal: Journal, reference: str, requests: Sequence[HoldRequest], expires_at: datetime
) -> list[Hold]:
    existing = _place(journal, reference, requests, expires_at)
    if existing is not None:
        return [view(r, replayed=True) for r in existing]
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


def lock_books(journal: Journal, rows: Sequence[Any], also: Sequence[int] = ()) -> list[int]:
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
    books = lock_books(journal, rows)
    growth: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for book, row, total in zip(books, rows, totals, strict=True):
        growth[book] += max(total - row.amount, ZERO)
    for book, amount in growth.items():
        if amount > ZERO:
            journal.require(book, amount)
    for book, amount in growth.items():
        if amount > ZERO:
            journal.reserve(book, amount, flush=False)
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
        books=journal.unwritten(),
    )


def extend(
    journal: Journal, reference: str, totals: Sequence[Decimal], expires_at: datetime
) -> list[Hold]:
    extend_locked(journal, locked_holds(journal, reference), totals, expires_at)
    return current(journal, reference)
