"""One database transaction's work on the ledger: find books, lock, check floors, append.

A :class:`Journal` is created by the service inside a unit of work's transaction and
reaches storage only through its repositories (``journal.tx.ledger``). It resolves
accounts to the books that carry their balance, locks those rows (sorted, once), and
turns a balanced :class:`~voxbill.domain.ledger.Posting` into legs, maintained balances
and threshold events — all in the caller's transaction, so they commit or vanish together.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from voxbill.domain.errors import CurrencyMismatch, InsufficientFunds
from voxbill.domain.holds import HoldSettled
from voxbill.domain.ledger import (
    BookState,
    Funds,
    LegRow,
    Owner,
    Posting,
    SystemBook,
    account_book_key,
    crossings,
    money_text,
    system_book_key,
)
from voxbill.domain.money import ZERO, canonical, storable
from voxbill.services.unit_of_work import Transaction


@dataclass(frozen=True)
class Applied:
    """A posting appended: its transaction and the balances it left."""

    transaction_id: int
    balances_after: dict[int, Decimal]  # by book id, maintained books only


class Journal:
    """One transaction's work on the ledger (see the module's docstring); ``now`` is the
    instant every row it writes carries, ``known_books`` the book ids by key committed
    before (shared by the service's journals: a book's id never changes)."""

    def __init__(
        self, tx: Transaction, now: datetime, known_books: dict[str, int] | None = None
    ) -> None:
        self.tx = tx
        self.now = now
        #: book ids by key, committed earlier (a book's id never changes): saves a query
        self._known = known_books if known_books is not None else {}
        #: books looked up or created here; known to others only once this commits
        self.found_books: dict[str, int] = {}
        self._owners: dict[int, Owner] = {}
        self._book_owner: dict[int, Owner] = {}
        self._locked: dict[int, BookState] = {}
        #: locked books changed in memory, not yet written (see :meth:`flush`)
        self._dirty: set[int] = set()

    def know_owners(self, owners: Iterable[Owner]) -> None:
        """Owners the caller read in this transaction (saves a query per account)."""
        for owner in owners:
            self._owners.setdefault(owner.account_id, owner)

    def locked_book(self, account_id: int) -> BookState | None:
        """The state of ``account_id``'s balance book when this journal holds its lock
        (all changes written), else None; never creates the book."""
        key = account_book_key(self.owner(account_id).balance_account_id)
        book_id = self._known.get(key) or self.found_books.get(key)
        if book_id is None or self._dirty:
            return None
        return self._locked.get(book_id)

    def has_locked(self, account_id: int) -> bool:
        """Whether this journal holds the lock of ``account_id``'s balance book."""
        key = account_book_key(self.owner(account_id).balance_account_id)
        book_id = self._known.get(key) or self.found_books.get(key)
        return book_id is not None and book_id in self._locked

    def owner(self, account_id: int) -> Owner:
        if account_id not in self._owners:
            self._owners[account_id] = self.tx.ledger.balance_owner(account_id)
        return self._owners[account_id]

    def account_book(self, account_id: int) -> int:
        """The id of the book carrying ``account_id``'s balance (created on first use)."""
        owner = self.owner(account_id)
        book_id = self._book(
            account_book_key(owner.balance_account_id),
            account_id=owner.balance_account_id,
            purpose="balance",
            currency=owner.currency,
            maintained=True,
        )
        self._book_owner[book_id] = owner
        return book_id

    def system_book(self, purpose: SystemBook, currency: str) -> int:
        return self._book(
            system_book_key(purpose.value, currency),
            account_id=None,
            purpose=purpose.value,
            currency=currency,
            maintained=False,
        )

    def _book(
        self, key: str, *, account_id: int | None, purpose: str, currency: str, maintained: bool
    ) -> int:
        book_id = self._known.get(key) or self.found_books.get(key)
        if book_id is None:
            book_id = self.tx.ledger.ensure_book(
                key,
                account_id=account_id,
                purpose=purpose,
                currency=currency,
                maintained=maintained,
                now=self.now,
            )
            self.found_books[key] = book_id
        return book_id

    def lock(self, book_ids: Iterable[int]) -> None:
        """Lock every book this transaction will touch, in one sorted pass.

        Only account balances are locked: system books are never read-modified-written.
        """
        wanted = {b for b in book_ids if b in self._book_owner and b not in self._locked}
        if self._locked and wanted and min(wanted) < max(self._locked):
            raise RuntimeError("books must be locked in one pass, in ascending order")
        self._locked.update(self.tx.ledger.lock_books(wanted))

    def funds(self, book_id: int) -> Funds:
        book, owner = self._locked[book_id], self._book_owner[book_id]
        return Funds(
            balance=book.balance,
            reserved=book.reserved,
            billing=owner.billing,
            credit_limit=owner.credit_limit,
            block_balance=owner.block_balance,
            alert_balance=owner.alert_balance,
        )

    def balance_of(self, book_id: int) -> Decimal:
        return self._locked[book_id].balance

    def require(self, book_id: int, debit: Decimal) -> None:
        """Refuse unless ``debit`` may leave (or be held on) the locked book."""
        funds = self.funds(book_id)
        if not funds.allows(debit):
            owner = self._book_owner[book_id]
            raise InsufficientFunds(
                f"account {owner.balance_account_id} has {canonical(funds.headroom())} "
                f"{owner.currency} available above its floor; {canonical(debit)} needed"
            )

    def _storable(self, amount: Decimal, what: str) -> None:
        """Refuse, before writing, a value the database could not hold (SQLite: 64 bits)."""
        storable(amount, self.tx.ledger.largest_amount, what=what)

    def reserve(self, book_id: int, delta: Decimal, *, flush: bool = True) -> None:
        """Change the reserved amount; ``flush=False`` leaves the write to :meth:`flush`
        (or the next :meth:`post`), so that a book changed twice is written once."""
        book = self._locked[book_id]
        self._storable(book.reserved + delta, "the reserved amount")
        book.reserved += delta
        self._dirty.add(book_id)
        if flush:
            self.flush()

    def flush(self) -> None:
        """Write every changed book, in one statement."""
        if self._dirty:
            self.tx.ledger.store_books(self.unwritten())

    def unwritten(self) -> list[BookState]:
        """The changed books not written yet, handed to a caller that writes them with its
        own rows in one statement (e.g. holds and the reservations they make): from now on
        they count as written."""
        books = [self._locked[b] for b in sorted(self._dirty)]
        self._dirty.clear()
        return books

    def post(
        self,
        posting: Posting,
        *,
        kind: str,
        actor: str,
        reason: str | None = None,
        reference: str | None = None,
        floors: Iterable[int] = (),
        settles: Sequence[HoldSettled] = (),
    ) -> Applied:
        """Append ``posting``; books in ``floors`` may not end below their floor.
        ``settles``: changes of the (locked) holds this transaction settles, written with
        it, each hold's ``transaction_id`` set to it (see ``append_transaction``)."""
        touched = {cast(int, book) for book in posting.books()}
        self.lock(touched)
        for leg in posting.legs:
            self._storable(abs(leg.amount), "amount")
        for book_id in touched & self._locked.keys():
            self._storable(self._locked[book_id].balance + posting.net(book_id), "the balance")
        for book_id in floors:
            net = posting.net(book_id)
            if net < ZERO:
                self.require(book_id, -net)
        before = {b: self.funds(b) for b in sorted(touched) if b in self._locked}
        rows: list[LegRow] = []
        for leg in posting.legs:
            book = self._locked.get(cast(int, leg.book))
            if book is not None and book.currency != leg.currency:
                raise CurrencyMismatch(f"a {leg.currency} leg cannot go on a {book.currency} book")
            if book is not None:
                book.balance += leg.amount
            rows.append(
                {
                    "book_id": cast(int, leg.book),
                    "amount": leg.amount,
                    "currency": leg.currency,
                    "balance_after": None if book is None else book.balance,
                }
            )
        self._dirty.update(before)
        # the transaction, its legs and every changed book written together (flushed)
        transaction_id = self.tx.ledger.append_transaction(
            kind=kind,
            actor=actor,
            reason=reason,
            reference=reference,
            now=self.now,
            legs=rows,
            books=self.unwritten(),
            settles=settles,
        )
        for book_id, funds in before.items():
            self._emit_crossings(book_id, funds, transaction_id)
        return Applied(transaction_id, {b: self._locked[b].balance for b in before})

    def _emit_crossings(self, book_id: int, before: Funds, transaction_id: int) -> None:
        after = self.funds(book_id)
        owner = self._book_owner[book_id]
        for event in crossings(before, after):
            payload = {
                "event": event.value,
                "account_id": owner.balance_account_id,
                "currency": owner.currency,
                "balance": money_text(after.balance),
                "balance_before": money_text(before.balance),
                "alert_balance": None
                if after.alert_balance is None
                else money_text(after.alert_balance),
                "block_balance": money_text(after.block_balance),
                "transaction_id": transaction_id,
                "at": self.now.isoformat(),
            }
            self.tx.ledger.add_outbox_event(
                f"balance.{event.value}",
                owner.balance_account_id,
                json.dumps(payload, sort_keys=True),
                self.now,
            )
