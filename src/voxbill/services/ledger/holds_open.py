"""Opening holds: placing, extending and reading them, inside an open journal.

A reference (a session id) owns one hold per level of the account chain. Placing takes
the balance locks and checks every level's floor before reserving anything, so
concurrent calls can never together hold more than is available. Closing them
(posting, voiding, expiring: :mod:`voxbill.services.ledger.holds_close`, the entry point
other contexts import) starts from :func:`locked_holds` and :func:`lock_books` here:
hold rows' locks first, then the balances'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from voxbill.domain.errors import HoldConflict, IdempotencyConflict, InvalidInput, NotFound
from voxbill.domain.holds import (
    OPEN,
    Hold,
    HoldRecord,
    HoldRequest,
    hold_view,
)
from voxbill.domain.ledger import positive
from voxbill.domain.money import ZERO
from voxbill.services.ledger.journal import Journal

#: the answer for a stored hold
view = hold_view


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


def current(journal: Journal, reference: str, *, replayed: bool = False) -> list[Hold]:
    rows = journal.tx.holds.holds_by_reference(reference, lock=False)
    return [view(r, replayed=replayed) for r in rows]


def _replay_place(rows: list[HoldRecord], requests: Sequence[HoldRequest]) -> list[HoldRecord]:
    if [r.account_id for r in rows] != [q.account_id for q in requests]:
        raise IdempotencyConflict(
            f"hold reference {rows[0].reference!r} is already used for other accounts"
        )
    return rows


def _place(
    journal: Journal, reference: str, requests: Sequence[HoldRequest], expires_at: datetime
) -> list[HoldRecord] | None:
    """Place the holds; a reference's existing holds (a replay) instead, if any."""
    if not all(journal.has_locked(r.account_id) for r in requests):
        existing = journal.tx.holds.holds_by_reference(reference, lock=False)
        if existing:
            return _replay_place(existing, requests)
    books = [journal.account_book(r.account_id) for r in requests]
    journal.lock(books)
    existing = journal.tx.holds.holds_by_reference(reference, lock=False)
    if existing:  # placed before, or a twin committed while we waited for the balance lock
        return _replay_place(existing, requests)
    needed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for book, request in zip(books, requests, strict=True):
        needed[book] += request.amount
    for book, amount in needed.items():
        journal.require(book, amount)
    for book, amount in needed.items():
        journal.reserve(book, amount, flush=False)
    journal.tx.holds.insert_holds(
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


def locked_holds(journal: Journal, reference: str) -> list[HoldRecord]:
    """A reference's holds, their rows locked (the first locks of a settlement)."""
    rows = journal.tx.holds.holds_by_reference(reference, lock=True)
    if not rows:
        raise NotFound(f"no hold with reference {reference!r}", code="unknown_hold")
    return rows


def lock_books(journal: Journal, rows: Sequence[HoldRecord], also: Sequence[int] = ()) -> list[int]:
    """The holds' balance books, locked in one pass with ``also`` (e.g. sellers' books)."""
    books = [journal.account_book(r.account_id) for r in rows]
    if any(book != r.book_id for book, r in zip(books, rows, strict=True)):
        raise HoldConflict("an account changed balance owner while its hold was open")
    journal.lock([*books, *also])
    return books


def extend_locked(
    journal: Journal, rows: Sequence[HoldRecord], totals: Sequence[Decimal], expires_at: datetime
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
    journal.tx.holds.update_holds(
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
