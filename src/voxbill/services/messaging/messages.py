"""What the messaging service is asked and answers: a message, and its charged receipt.

A receipt's JSON (money as decimal strings) is what the message record keeps, so a
replayed answer is the first answer, digit for digit, on every database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voxbill.services.ledger.answers import money_text


@dataclass(frozen=True)
class MessageRequest:
    """One SMS to charge. ``account_id`` names the sending account explicitly (CPaaS keys);
    without it the ``sender`` number must be an ``ani`` identifier in the key's subtree."""

    message_id: str
    sender: str
    recipient: str
    text: str
    mcc_mnc: str | None = None
    account_id: int | None = None

    def fingerprint(self) -> str:
        """Same message id with another body is a conflict, not a retry."""
        text = json.dumps(asdict(self), sort_keys=True, ensure_ascii=True)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class LevelCharge:
    """What one level of the chain paid, by its own SMS plan."""

    account_id: int
    plan: str
    key: str  # the matched prefix, or the network as 310-260
    destination: str
    price: Decimal  # per segment
    cost: Decimal
    currency: str
    balance_after: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "plan": self.plan,
            "key": self.key,
            "destination": self.destination,
            "price": money_text(self.price),
            "cost": money_text(self.cost),
            "currency": self.currency,
            "balance_after": money_text(self.balance_after),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LevelCharge:
        return cls(
            account_id=int(data["account_id"]),
            plan=str(data["plan"]),
            key=str(data["key"]),
            destination=str(data["destination"]),
            price=Decimal(data["price"]),
            cost=Decimal(data["cost"]),
            currency=str(data["currency"]),
            balance_after=Decimal(data["balance_after"]),
        )


@dataclass(frozen=True)
class MessageReceipt:
    """A charged message. ``cost``, ``currency`` and ``balance`` are the first charged
    level's (the sender's own plan, or the nearest ancestor's that has one)."""

    id: int
    message_id: str
    account_id: int
    sender: str
    recipient: str
    mcc_mnc: str | None
    segments: int
    encoding: str
    cost: Decimal
    currency: str
    balance: Decimal
    charges: tuple[LevelCharge, ...]
    transaction_id: int | None
    created_at: datetime
    replayed: bool = False

    @classmethod
    def of_row(cls, row: Any, *, replayed: bool = False) -> MessageReceipt:
        return cls(
            id=int(row.id),
            message_id=row.message_id,
            account_id=int(row.account_id),
            sender=row.sender,
            recipient=row.recipient,
            mcc_mnc=row.mcc_mnc,
            segments=int(row.segments),
            encoding=row.encoding,
            cost=Decimal(money_text(row.cost)),
            currency=row.currency,
            balance=Decimal(money_text(row.balance_after)),
            charges=tuple(LevelCharge.from_json(c) for c in json.loads(row.charges)),
            transaction_id=row.transaction_id,
            created_at=row.created_at,
            replayed=replayed,
        )
