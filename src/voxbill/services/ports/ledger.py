"""The ledger's storage as its services see it: books, transactions, idempotency keys and
the outbox (:class:`LedgerRepository`), holds, exchange rates and the audit's sums.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain.dashboard import LowBalance
from voxbill.domain.fx import FxQuote, FxRate
from voxbill.domain.holds import HoldRecord, HoldSettled, HoldUpdate, NewHold
from voxbill.domain.ledger import (
    BookRecord,
    BookState,
    HistoryEntry,
    LedgerTransaction,
    LegRow,
    OutboxEvent,
    Owner,
    OwnerAccount,
    StoredResponse,
)


class LedgerRepository(Protocol):
    #: the largest magnitude an amount column holds (SQLite: 64 bits of 10^-8)
    largest_amount: Decimal

    def balance_owner(
        self, account_id: int, known: Mapping[int, OwnerAccount] | None = None
    ) -> Owner: ...
    def owner_rows(self, account_ids: Iterable[int]) -> dict[int, OwnerAccount]: ...
    def find_book(self, key: str) -> BookRecord | None: ...
    def ensure_book(
        self,
        key: str,
        *,
        account_id: int | None,
        purpose: str,
        currency: str,
        maintained: bool,
        now: datetime,
    ) -> int: ...
    def lock_books(self, book_ids: Iterable[int]) -> dict[int, BookState]: ...
    def append_transaction(
        self,
        *,
        kind: str,
        actor: str,
        reason: str | None,
        reference: str | None,
        now: datetime,
        legs: Sequence[LegRow],
        books: Sequence[BookState],
        settles: Sequence[HoldSettled] = (),
    ) -> int: ...
    def store_books(self, books: Iterable[BookState]) -> None: ...
    def add_outbox_event(
        self, topic: str, account_id: int, payload: str, now: datetime
    ) -> None: ...
    def outbox(self, account_id: int | None = None) -> list[OutboxEvent]: ...
    def find_idempotency(self, scope: str, key: str) -> StoredResponse | None: ...
    def save_idempotency(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        operation: str,
        result: LedgerTransaction,
        now: datetime,
    ) -> None: ...
    def history(self, book_id: int, *, limit: int, before_id: int | None) -> list[HistoryEntry]: ...
    def low_balances(self, path: str, limit: int) -> tuple[int, list[LowBalance]]:
        """How many accounts of the subtree are low, and the ``limit`` nearest blocking."""
        ...


class HoldRepository(Protocol):
    def holds_by_reference(self, reference: str, *, lock: bool) -> list[HoldRecord]: ...
    def insert_holds(self, rows: Sequence[NewHold], *, books: Sequence[BookState] = ()) -> None: ...
    def update_holds(
        self, changes: Sequence[HoldUpdate], *, books: Sequence[BookState] = ()
    ) -> None: ...
    def claim_expired_holds(self, now: datetime, limit: int) -> list[HoldRecord]: ...
    def claim_open_holds(self, references: Sequence[str]) -> list[HoldRecord]: ...
    def open_holds_under(self, path: str) -> int: ...


class FxRepository(Protocol):
    def upsert_fx_rate(
        self,
        operator_id: int,
        base: str,
        quote: str,
        rate: Decimal,
        effective_from: datetime,
        now: datetime,
    ) -> bool: ...
    def find_fx_rate(
        self, operator_id: int, base: str, quote: str, effective_from: datetime
    ) -> FxRate | None: ...
    def lock_pair(self, operator_id: int, base: str, quote: str, *, shared: bool) -> None: ...
    def next_effective_from(
        self, operator_id: int, base: str, quote: str, after: datetime
    ) -> datetime | None: ...
    def fx_rate_at(
        self,
        base: str,
        quote: str,
        at: datetime,
        operator_id: int | None = None,
        *,
        lock: bool = False,
    ) -> FxQuote | None: ...
    def sole_operator(self) -> int | None: ...
    def operator_ids(self) -> list[int]: ...
    def operator_of_account(self, account_id: int) -> int | None: ...
    def list_fx_rates(
        self,
        operator_id: int,
        *,
        base: str | None = None,
        quote: str | None = None,
        at: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[FxRate]: ...
    def first_conversion(
        self, operator_id: int, currencies: tuple[str, str], since: datetime, until: datetime | None
    ) -> datetime | None: ...


class LedgerAuditRepository(Protocol):
    def books(self) -> list[BookRecord]: ...
    def entry_sums_by_book(self) -> dict[int, Decimal]: ...
    def open_hold_sums_by_book(self) -> dict[int, Decimal]: ...
    def currency_totals(self) -> dict[str, Decimal]: ...
    def unbalanced_transactions(self) -> list[tuple[int, str, Decimal]]: ...
    def entries_in_wrong_currency(self) -> list[tuple[int, str, str]]: ...
    def counts(self) -> dict[str, int]: ...
    def posted_hold_sums(self) -> dict[tuple[int | None, int], Decimal]: ...
    def charge_debits(self) -> dict[tuple[int | None, int], Decimal]: ...
    def vendor_charge_debits(self) -> dict[str, Decimal]: ...
    def buy_leg_costs(self, session_ids: list[str]) -> dict[str, Decimal]: ...
