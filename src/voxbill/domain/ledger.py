"""Double-entry postings, balance floors and threshold crossings: pure ledger rules.

A :class:`Posting` is a set of legs that sum to zero in each currency; it cannot be
built otherwise, so no service can append an unbalanced transaction (PostgreSQL checks
it again with a deferred trigger). A :class:`Funds` snapshot answers "may this much
leave, or be held?" and which alert/block thresholds a movement crosses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from voxbill.domain.errors import InvalidMoney, UnbalancedTransaction, ZeroAmountError
from voxbill.domain.money import (
    STORAGE_PLACES,
    ZERO,
    RoundingMethod,
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


class SystemBook(StrEnum):
    """The operator's own books, one per currency, that money enters or leaves through."""

    CASH = "cash"  # payments in (top-ups)
    ADJUSTMENTS = "adjustments"
    REVENUE = "revenue"  # call, SMS and DID charges
    REFUNDS = "refunds"
    FX = "fx"  # currency exchange position
    PURCHASES = "purchases"  # what carriers billed us for calls (vendor charges)


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


@dataclass
class BookState:
    id: int
    currency: str
    maintained: bool
    balance: Decimal
    reserved: Decimal
