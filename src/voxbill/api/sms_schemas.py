"""Bodies of the SMS endpoints: a message to charge, its receipt, the records page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from voxbill.api.account_schemas import AccountId
from voxbill.api.schemas import DecimalStr, PlainText, shown
from voxbill.services.messaging.service import LevelCharge, MessageReceipt, MessageRequest

MessageId = Annotated[PlainText, Field(min_length=1, max_length=200)]


class SmsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: MessageId = Field(
        description="the client's unique id: a retry with the same body replays the "
        "first answer and is not charged again; another body is a 409"
    )
    sender: PlainText = Field(
        min_length=1,
        max_length=64,
        description="sending number (identifies the account, as an `ani` identifier) or "
        "an alphanumeric sender id when `account_id` is given",
    )
    recipient: PlainText = Field(min_length=1, max_length=64, description="destination number")
    text: str = Field(max_length=20_000, description="counted in GSM-7 or UCS-2 segments")
    mcc_mnc: PlainText | None = Field(
        default=None,
        max_length=8,
        description="the recipient's network (310260, 310-260): its price beats the prefix's",
    )
    account_id: AccountId | None = Field(
        default=None, description="the sending account (in the key's subtree), for CPaaS keys"
    )

    def request(self) -> MessageRequest:
        return MessageRequest(
            message_id=self.message_id,
            sender=self.sender,
            recipient=self.recipient,
            text=self.text,
            mcc_mnc=self.mcc_mnc,
            account_id=self.account_id,
        )


class LevelChargeRead(BaseModel):
    account_id: int
    plan: str
    key: str = Field(description="the matched prefix, or the network as 310-260")
    destination: str
    price: DecimalStr = Field(description="per segment")
    cost: DecimalStr
    currency: str
    balance_after: DecimalStr

    @classmethod
    def of(cls, c: LevelCharge) -> LevelChargeRead:
        return cls(
            account_id=c.account_id,
            plan=c.plan,
            key=c.key,
            destination=c.destination,
            price=c.price,
            cost=shown(c.cost, c.currency),
            currency=c.currency,
            balance_after=shown(c.balance_after, c.currency),
        )


class SmsRead(BaseModel):
    id: int
    message_id: str
    account_id: int
    sender: str
    recipient: str
    mcc_mnc: str | None
    segments: int
    encoding: str = Field(description="gsm7 or ucs2")
    cost: DecimalStr = Field(description="what the first charged level paid")
    currency: str
    balance: DecimalStr = Field(description="that level's balance after the charge")
    charges: list[LevelChargeRead] = Field(description="every level charged, sender first")
    created_at: datetime

    @classmethod
    def of(cls, r: MessageReceipt) -> SmsRead:
        return cls(
            id=r.id,
            message_id=r.message_id,
            account_id=r.account_id,
            sender=r.sender,
            recipient=r.recipient,
            mcc_mnc=r.mcc_mnc,
            segments=r.segments,
            encoding=r.encoding,
            cost=shown(r.cost, r.currency),
            currency=r.currency,
            balance=shown(r.balance, r.currency),
            charges=[LevelChargeRead.of(c) for c in r.charges],
            created_at=r.created_at,
        )


class SmsPage(BaseModel):
    items: list[SmsRead]
    next_before_id: int | None = Field(description="pass as before_id for the next page")
