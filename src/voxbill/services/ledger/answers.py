"""What the ledger answers: balances, transactions, history lines, holds, discrepancies.

Money in ``to_json`` is always a decimal string, so a stored idempotent response replays
byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.domain.money import canonical


def norm(amount: Decimal) -> Decimal:
    """Drop storage padding, so results read the same on SQLite and PostgreSQL."""
    return amount.normalize() + 0


def norm_or_none(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else norm(amount)


def money_text(amount: Decimal) -> str:
    """The same decimal string on every dialect (PostgreSQL returns 8 places)."""
    return canonical(amount.normalize())


def _money_or_none(amount: Decimal | None) -> str | None:
    return None if amount is None else money_text(amount)


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
            "balance": money_text(self.balance),
            "reserved": money_text(self.reserved),
            "available": money_text(self.available),
            "credit_limit": money_text(self.credit_limit),
            "block_balance": money_text(self.block_balance),
            "alert_balance": _money_or_none(self.alert_balance),
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
    #: transfers: the account credited, by how much (its currency), its balance after
    counterparty_account_id: int | None = None
    counterparty_amount: Decimal | None = None
    counterparty_balance_after: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        """Stable JSON (the stored idempotent response); ``replayed`` is not part of it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "account_id": self.account_id,
            "amount": money_text(self.amount),
            "currency": self.currency,
            "balance_after": money_text(self.balance_after),
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "counterparty_account_id": self.counterparty_account_id,
            "counterparty_amount": _money_or_none(self.counterparty_amount),
            "counterparty_balance_after": _money_or_none(self.counterparty_balance_after),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> LedgerTransaction:
        counter = data.get("counterparty_balance_after")
        counter_amount = data.get("counterparty_amount")
        return cls(
            id=int(data["id"]),
            kind=str(data["kind"]),
            account_id=int(data["account_id"]),
            amount=Decimal(data["amount"]),
            currency=str(data["currency"]),
            balance_after=Decimal(data["balance_after"]),
            reason=data.get("reason"),
            created_at=datetime.fromisoformat(data["created_at"]),
            replayed=replayed,
            counterparty_account_id=data.get("counterparty_account_id"),
            counterparty_amount=None if counter_amount is None else Decimal(counter_amount),
            counterparty_balance_after=None if counter is None else Decimal(counter),
        )


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
    """Reserve ``amount`` (in that account's currency) on ``account_id``'s balance.

    A call places one per level of its chain, in one :meth:`LedgerService.place_holds`.
    """

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

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "level": self.level,
            "account_id": self.account_id,
            "balance_account_id": self.balance_account_id,
            "currency": self.currency,
            "amount": money_text(self.amount),
            "status": self.status,
            "posted_amount": _money_or_none(self.posted_amount),
            "expires_at": self.expires_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "transaction_id": self.transaction_id,
        }


@dataclass(frozen=True)
class HoldSettlement:
    """The charge posted for a reference's holds; ``overrun`` when usage exceeded a hold."""

    transaction_id: int | None
    holds: tuple[Hold, ...]
    balances_after: dict[int, Decimal]  # by balance_account_id
    overrun: bool = False
    replayed: bool = False


@dataclass(frozen=True)
class ChargeRequest:
    """Take ``amount`` (≥ 0, in that account's currency) from ``account_id``'s balance.

    An immediate charge (a message) sends one per level of the chain, in one
    :meth:`LedgerService.charge`; a zero amount charges nothing at that level. The
    amount is paid to ``seller_id``'s balance (None: the operator's revenue book).
    """

    account_id: int
    amount: Decimal
    seller_id: int | None = None


@dataclass(frozen=True)
class Charge:
    """An immediate charge's ledger transaction (None when every amount was zero) and,
    per request, the balance carrying that level afterwards."""

    transaction_id: int | None
    balances_after: tuple[Decimal, ...]


@dataclass(frozen=True)
class Discrepancy:
    """One thing ``ledger verify`` found wrong; ``str()`` is one line."""

    kind: str
    subject: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}: expected {self.expected}, found {self.actual}"
