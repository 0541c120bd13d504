"""Double-entry postings, balance floors and threshold crossings: pure ledger rules.

A :class:`Posting` is a set of legs that sum to zero in each currency; it cannot be
built otherwise, so no service can append an unbalanced transaction (PostgreSQL checks
it again with a deferred trigger). A :class:`Funds` snapshot answers "may this much
leave, or be held?" and which alert/block thresholds a movement crosses.

Below the rules: the records the ledger's storage hands back (:class:`BookRecord`,
:class:`OwnerAccount`, :class:`BookState`) and what the ledger answers (balances,
transactions, history lines, charges, discrepancies; holds are in
:mod:`voxbill.domain.holds`). Money in ``to_json`` is always a decimal string, so a
stored idempotent response replays byte for byte.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypedDict

from voxbill.domain.errors import InvalidMoney, UnbalancedTransaction, ZeroAmountError
from voxbill.domain.money import (
    STORAGE_PLACES,
    ZERO,
    RoundingMethod,
    canonical,
    currency_places,
    round_amount,
)

PREPAID: Final = "prepaid"
POSTPAID: Final = "postpaid"


class TransactionKind(StrEnum):
    TOPUP = "topup"
    TRANSFER = "transfer"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"
    CHARGE = "charge"  # posted from holds (calls): ``ledger verify`` matches them to holds
    SMS = "sms"  # immediate per-message charges at every level, no hold
    #: a carrier's bill for one call, taken from its prepaid (outbound) balance at settle
    VENDOR_CHARGE = "vendor_charge"
    #: a late stop's correction of a sweeper-settled call's charge (the difference, never
    #: an edit of the charge it corrects; its reference is the session id)
    CORRECTION = "correction"
    #: a calling card's face value put on it when it is activated (``domain/cards.py``)
    CARD_FUNDING = "card_funding"
    #: an online top-up's refund or dispute taking back (part of) what it credited; its
    #: reference is the payment's (``payment:<id>``), as the top-up's (docs/payments.md)
    PAYMENT_REVERSAL = "payment_reversal"


class SystemBook(StrEnum):
    """The operator's own books, one per currency, that money enters or leaves through."""

    CASH = "cash"  # payments in (top-ups)
    ADJUSTMENTS = "adjustments"
    REVENUE = "revenue"  # call, SMS and DID charges
    REFUNDS = "refunds"
    FX = "fx"  # currency exchange position
    PURCHASES = "purchases"  # what carriers billed us for calls (vendor charges)
    CARDS = "cards"  # calling cards issued: the face value of the operator's activated cards


class ThresholdEvent(StrEnum):
    ALERT_CROSSED_DOWN = "alert_crossed_down"
    ALERT_REARMED = "alert_rearmed"
    BLOCK_REACHED = "block_reached"
    RESTORED = "restored"


def exact(amount: object, *, what: str = "amount") -> Decimal:
    """A finite Decimal storable with 8 places; floats and wider amounts are refused."""
    if not isinstance(amount, Decimal) or isinstance(amount, bool):
        raise InvalidMoney(f"{what} must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise InvalidMoney(f"{what} must be finite")
    if amount != round_amount(amount, STORAGE_PLACES, RoundingMethod.HALF_UP):
        raise InvalidMoney(f"{what} {amount} has more than {STORAGE_PLACES} decimal places")
    return amount


def positive(amount: object, *, what: str = "amount") -> Decimal:
    value = exact(amount, what=what)
    if value <= ZERO:
        raise InvalidMoney(f"{what} must be positive, not {value}")
    return value


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a posting: ``amount`` (signed, + is a credit to the book) on ``book``."""

    book: Hashable
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        exact(self.amount, what="leg amount")
        if self.amount == ZERO:
            raise ZeroAmountError(f"a leg on {self.book!r} has a zero amount")


@dataclass(frozen=True, slots=True)
class Posting:
    """Legs that sum to zero per currency: the only shape a ledger transaction takes."""

    legs: tuple[Leg, ...]

    def __post_init__(self) -> None:
        if len(self.legs) < 2:
            raise UnbalancedTransaction("a posting needs at least two legs")
        for currency, total in self.totals().items():
            if total != ZERO:
                raise UnbalancedTransaction(f"legs in {currency} sum to {total}, not zero")

    @classmethod
    def of(cls, legs: Iterable[Leg]) -> Posting:
        return cls(tuple(legs))

    @classmethod
    def move(cls, source: Hashable, target: Hashable, amount: Decimal, currency: str) -> Posting:
        """``amount`` leaves ``source`` and arrives on ``target``, same currency."""
        return cls((Leg(source, -amount, currency), Leg(target, amount, currency)))

    def totals(self) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for leg in self.legs:
            sums[leg.currency] += leg.amount
        return dict(sums)

    def net(self, book: Hashable) -> Decimal:
        return sum((leg.amount for leg in self.legs if leg.book == book), ZERO)

    def books(self) -> set[Hashable]:
        return {leg.book for leg in self.legs}


def convert(amount: Decimal, rate: Decimal, currency: str) -> Decimal:
    """``amount`` times an exchange ``rate``, rounded once (half up) to ``currency``'s unit."""
    return round_amount(amount * rate, currency_places(currency), RoundingMethod.HALF_UP)


@dataclass(frozen=True, slots=True)
class Funds:
    """A balance with its limits. Available = balance + credit limit - reserved (holds).

    A prepaid balance has no credit: its floor is the block balance. A postpaid one may
    go down to -credit limit (plus its block balance, usually 0).
    """

    balance: Decimal
    reserved: Decimal
    billing: str
    credit_limit: Decimal
    block_balance: Decimal
    alert_balance: Decimal | None = None

    @property
    def credit(self) -> Decimal:
        return self.credit_limit if self.billing == POSTPAID else ZERO

    @property
    def spendable(self) -> Decimal:
        """Funds before holds: what thresholds are compared with."""
        return self.balance + self.credit

    @property
    def available(self) -> Decimal:
        return self.spendable - self.reserved

    def headroom(self) -> Decimal:
        """How much more may be debited or held without passing the block balance."""
        return self.available - self.block_balance

    def allows(self, debit: Decimal) -> bool:
        """May ``debit`` (debits and new holds alike) be taken from the available funds?"""
        return debit <= self.headroom()

    def moved(self, delta: Decimal) -> Funds:
        return Funds(
            self.balance + delta,
            self.reserved,
            self.billing,
            self.credit_limit,
            self.block_balance,
            self.alert_balance,
        )

    def reserved_by(self, delta: Decimal) -> Funds:
        return Funds(
            self.balance,
            self.reserved + delta,
            self.billing,
            self.credit_limit,
            self.block_balance,
            self.alert_balance,
        )


def crossings(before: Funds, after: Funds) -> list[ThresholdEvent]:
    """Thresholds a balance movement crosses, compared on funds before holds.

    Derived from the locked before/after values, so each crossing is reported exactly
    once however movements interleave: a later crossing back re-arms (``alert_rearmed``,
    ``restored``).
    """
    was, now = before.spendable, after.spendable
    events: list[ThresholdEvent] = []
    alert = after.alert_balance
    if alert is not None:
        if was >= alert > now:
            events.append(ThresholdEvent.ALERT_CROSSED_DOWN)
        elif was < alert <= now:
            events.append(ThresholdEvent.ALERT_REARMED)
    block = after.block_balance
    if was > block >= now:
        events.append(ThresholdEvent.BLOCK_REACHED)
    elif was <= block < now:
        events.append(ThresholdEvent.RESTORED)
    return events


@dataclass(frozen=True)
class Owner:
    """The account whose balance an account uses, with the limits that guard it."""

    account_id: int
    balance_account_id: int
    currency: str
    billing: str
    credit_limit: Decimal
    block_balance: Decimal
    alert_balance: Decimal | None


@dataclass(frozen=True, slots=True)
class OwnerAccount:
    """An account's columns that decide whose balance it uses (``shared_balance`` walks up
    to ``parent_id``) and under which limits; ``path`` when read for several at once."""

    id: int
    parent_id: int | None
    shared_balance: bool
    currency: str
    billing: str
    credit_limit: Decimal
    block_balance: Decimal
    alert_balance: Decimal | None
    path: str | None = None


@dataclass
class BookState:
    """A locked book's balance and reservation, changed in memory by a journal."""

    id: int
    currency: str
    maintained: bool
    balance: Decimal
    reserved: Decimal


@dataclass(frozen=True, slots=True)
class BookRecord:
    """A ledger book as stored: an account's balance or one of the operator's system books."""

    id: int
    key: str
    account_id: int | None
    purpose: str
    currency: str
    maintained: bool
    balance: Decimal
    reserved: Decimal
    created_at: datetime


def account_book_key(account_id: int) -> str:
    """The key of the book carrying ``account_id``'s balance."""
    return f"account:{account_id}"


def system_book_key(purpose: str, currency: str) -> str:
    """The key of the operator's system book for ``purpose`` in ``currency``."""
    return f"{purpose}:{currency}"


class LegRow(TypedDict):
    """A posting's leg as stored: ``balance_after`` for maintained (locked) books only."""

    book_id: int
    amount: Decimal
    currency: str
    balance_after: Decimal | None


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """A balance event waiting to be delivered (``payload`` is JSON text)."""

    id: int
    topic: str
    account_id: int | None
    payload: str
    created_at: datetime
    delivered_at: datetime | None


# -- what the ledger answers ----------------------------------------------------------
def norm(amount: Decimal) -> Decimal:
    """Drop storage padding, so results read the same on SQLite and PostgreSQL."""
    return amount.normalize() + 0


def norm_or_none(amount: Decimal | None) -> Decimal | None:
    return None if amount is None else norm(amount)


def money_text(amount: Decimal) -> str:
    """The same decimal string on every dialect (PostgreSQL returns 8 places)."""
    return canonical(amount.normalize())


def money_or_none(amount: Decimal | None) -> str | None:
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
            "alert_balance": money_or_none(self.alert_balance),
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
            "counterparty_amount": money_or_none(self.counterparty_amount),
            "counterparty_balance_after": money_or_none(self.counterparty_balance_after),
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


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response first given under an idempotency key, and the request it answered."""

    fingerprint: str
    result: LedgerTransaction


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
