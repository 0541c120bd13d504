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

from voxbill.domain.messaging import LevelCharge, MessageRecord, money_text

__all__ = ["LevelCharge", "MessageReceipt", "MessageRequest"]


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
    def of_record(cls, record: MessageRecord, *, replayed: bool = False) -> MessageReceipt:
        """The receipt a stored record answers with (money in the digits it reads back
        with on every dialect)."""
        return cls(
            id=record.id,
            message_id=record.message_id,
            account_id=record.account_id,
            sender=record.sender,
            recipient=record.recipient,
            mcc_mnc=record.mcc_mnc,
            segments=record.segments,
            encoding=record.encoding,
            cost=Decimal(money_text(record.cost)),
            currency=record.currency,
            balance=Decimal(money_text(record.balance_after)),
            charges=record.charges,
            transaction_id=record.transaction_id,
            created_at=record.created_at,
            replayed=replayed,
        )
