"""Money movements through the double-entry ledger: the only way a balance changes.

Every use case runs in one database transaction that locks the balance rows it touches
(sorted by id, with the engine's lock timeout), checks the floor, appends the legs,
updates the maintained balances, writes threshold events to the outbox and records the
idempotency key — so a retry, a concurrent duplicate or a crash never posts twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.money import canonical
from voxbill.settings import Settings
from voxbill.storage.database import Database


@dataclass(frozen=True)
class BalanceView:
    """An account's funds; ``balance_account_id`` owns the balance (shared balances)."""

    account_id: int
    balance_account_id: int
    currency: str
    balance: Decimal
    reserved: Decimal
    available: Decimal
    credit_limit: Decimal
    block_balance: Decimal
    alert_balance: Decimal | None

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "balance_account_id": self.balance_account_id,
            "currency": self.currency,
            "balance": canonical(self.balance),
            "reserved": canonical(self.reserved),
            "available": canonical(self.available),
            "credit_limit": canonical(self.credit_limit),
            "block_balance": canonical(self.block_balance),
            "alert_balance": None if self.alert_balance is None else canonical(self.alert_balance),
        }


@dataclass(frozen=True)
class LedgerTransaction:
    """The outcome of one money movement, as seen from ``account_id``'s balance."""

    id: int
    kind: str  # topup | transfer | adjustment | refund | charge
    account_id: int
    amount: Decimal  # signed, in the account's currency
    currency: str
    balance_after: Decimal
    reason: str | None
    created_at: datetime
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class HistoryEntry:
    """One leg on an account's balance, newest first in :meth:`LedgerService.history`."""

    id: int
    transaction_id: int
    kind: str
    amount: Decimal
    balance_after: Decimal | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class HoldRequest:
    """Reserve ``amount`` on ``account_id``'s balance: one per level of a call's chain."""

    account_id: int
    amount: Decimal


@dataclass(frozen=True)
class Hold:
    id: int
    reference: str
    level: int  # position in the chain given to place_holds (0 = the caller's account)
    account_id: int
    balance_account_id: int
    currency: str
    amount: Decimal
    status: str  # open | posted | voided | expired
    posted_amount: Decimal | None
    expires_at: datetime
    created_at: datetime
    transaction_id: int | None = None
    replayed: bool = False


@dataclass(frozen=True)
class HoldSettlement:
    """The charge posted for a reference's holds; ``overrun`` when usage exceeded a hold."""

    transaction_id: int | None
    holds: tuple[Hold, ...]
    balances_after: dict[int, Decimal]  # by balance_account_id
    overrun: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class Discrepancy:
    """One thing ``ledger verify`` found wrong; ``str()`` is one line."""

    kind: str
    subject: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: expected {self.expected}, found {self.actual}"


class LedgerService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    def top_up(
        self,
        account_id: int,
        amount: Decimal,
        *,
        actor: str,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        note: str | None = None,
    ) -> LedgerTransaction:
        raise NotImplementedError

    def transfer(
        self,
        source_id: int,
        target_id: int,
        amount: Decimal,
        *,
        actor: str,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        note: str | None = None,
    ) -> LedgerTransaction:
        raise NotImplementedError

    def adjust(
        self,
        account_id: int,
        amount: Decimal,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
        force: bool = False,
    ) -> LedgerTransaction:
        raise NotImplementedError

    def refund(
        self,
        account_id: int,
        amount: Decimal,
        reason: str,
        *,
        actor: str,
        idempotency_key: str | None = None,
        fingerprint: str | None = None,
    ) -> LedgerTransaction:
        raise NotImplementedError

    def balance(self, account_id: int) -> BalanceView:
        raise NotImplementedError

    def history(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[HistoryEntry]:
        raise NotImplementedError

    def place_holds(
        self,
        reference: str,
        requests: Sequence[HoldRequest],
        *,
        expires_at: datetime,
        actor: str = "system",
    ) -> list[Hold]:
        raise NotImplementedError

    def place_hold(
        self,
        account_id: int,
        amount: Decimal,
        *,
        reference: str,
        expires_at: datetime,
        actor: str = "system",
    ) -> Hold:
        raise NotImplementedError

    def extend_holds(
        self, reference: str, amounts: Sequence[Decimal], *, expires_at: datetime
    ) -> list[Hold]:
        raise NotImplementedError

    def post_holds(
        self,
        reference: str,
        amounts: Sequence[Decimal],
        *,
        actor: str = "system",
        allow_overrun: bool = False,
    ) -> HoldSettlement:
        raise NotImplementedError

    def void_holds(self, reference: str) -> list[Hold]:
        raise NotImplementedError

    def holds(self, reference: str) -> list[Hold]:
        raise NotImplementedError

    def expire_holds(self, now: datetime, *, limit: int = 500) -> int:
        raise NotImplementedError

    def set_fx_rate(self, base: str, quote: str, rate: Decimal, effective_from: datetime) -> None:
        raise NotImplementedError

    def fx_rate(self, base: str, quote: str, at: datetime | None = None) -> Decimal:
        raise NotImplementedError

    def verify(self) -> list[Discrepancy]:
        raise NotImplementedError
