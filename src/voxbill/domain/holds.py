"""Holds: funds reserved on a balance for a call (one hold per level of its account
chain, under one reference), then posted, voided or expired — exactly once.

What a hold is as stored (:class:`HoldRecord`, the attribute names of the ``holds``
columns, which charging reads too), the changes written to holds (:class:`NewHold`,
:class:`HoldUpdate`), and what the ledger answers about them (:class:`Hold`,
:class:`HoldSettlement`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NotRequired, TypedDict

from voxbill.domain.ledger import money_or_none, money_text, norm, norm_or_none

OPEN: Final = "open"
POSTED: Final = "posted"
VOIDED: Final = "voided"
EXPIRED: Final = "expired"


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """One level's hold as stored; ``balance_account_id`` owns the book it is on."""

    id: int
    reference: str
    level: int
    account_id: int
    book_id: int
    currency: str
    amount: Decimal
    status: str  # open | posted | voided | expired
    posted_amount: Decimal | None
    transaction_id: int | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime
    balance_account_id: int


class NewHold(TypedDict):
    """A hold to insert (every column but its id and settlement)."""

    reference: str
    level: int
    account_id: int
    book_id: int
    currency: str
    amount: Decimal
    status: str
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class HoldUpdate(TypedDict):
    """A locked hold's changed columns; every update of one statement changes the same."""

    hold_id: int
    amount: NotRequired[Decimal]
    status: NotRequired[str]
    posted_amount: NotRequired[Decimal]
    transaction_id: NotRequired[int | None]
    expires_at: NotRequired[datetime]
    updated_at: NotRequired[datetime]


class HoldSettled(TypedDict):
    """A hold settled by the ledger transaction it is written with (its id is set)."""

    hold_id: int
    status: str
    posted_amount: Decimal
    updated_at: datetime


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
            "posted_amount": money_or_none(self.posted_amount),
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


def hold_view(record: HoldRecord, *, replayed: bool = False) -> Hold:
    """The answer for a stored hold (amounts without storage padding)."""
    return Hold(
        id=record.id,
        reference=record.reference,
        level=record.level,
        account_id=record.account_id,
        balance_account_id=record.balance_account_id,
        currency=record.currency,
        amount=norm(record.amount),
        status=record.status,
        posted_amount=norm_or_none(record.posted_amount),
        expires_at=record.expires_at,
        created_at=record.created_at,
        transaction_id=record.transaction_id,
        replayed=replayed,
    )
