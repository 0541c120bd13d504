"""Bodies of the money endpoints: top-ups, transfers, adjustments, refunds, balance, ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.account_schemas import AccountId
from voxbill.api.schemas import AmountStr, DecimalStr, PlainText, shown, shown_or_none
from voxbill.services.ledger.service import BalanceView, HistoryEntry, LedgerTransaction

Note = Annotated[PlainText, StringConstraints(max_length=500)]
Reason = Annotated[PlainText, StringConstraints(min_length=1, max_length=500)]


class TopUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountStr = Field(description="positive; operator money coming in")
    note: Note | None = None


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_account_id: AccountId = Field(description="a direct child of the source account")
    amount: AmountStr
    note: Note | None = None


class AdjustmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountStr = Field(description="signed: negative decrements the balance")
    reason: Reason


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountStr = Field(description="positive; credited back to the account")
    reason: Reason


class TransactionRead(BaseModel):
    id: int
    kind: str
    account_id: int
    amount: DecimalStr
    currency: str
    balance_after: DecimalStr
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, t: LedgerTransaction) -> TransactionRead:
        return cls(
            id=t.id,
            kind=t.kind,
            account_id=t.account_id,
            amount=shown(t.amount, t.currency),
            currency=t.currency,
            balance_after=shown(t.balance_after, t.currency),
            reason=t.reason,
            created_at=t.created_at,
        )


class BalanceRead(BaseModel):
    account_id: int
    balance_account_id: int = Field(description="the account whose balance this is (shared)")
    currency: str
    balance: DecimalStr
    reserved: DecimalStr
    available: DecimalStr
    credit_limit: DecimalStr
    block_balance: DecimalStr
    alert_balance: DecimalStr | None

    @classmethod
    def of(cls, b: BalanceView) -> BalanceRead:
        return cls(
            account_id=b.account_id,
            balance_account_id=b.balance_account_id,
            currency=b.currency,
            balance=shown(b.balance, b.currency),
            reserved=shown(b.reserved, b.currency),
            available=shown(b.available, b.currency),
            credit_limit=shown(b.credit_limit, b.currency),
            block_balance=shown(b.block_balance, b.currency),
            alert_balance=shown_or_none(b.alert_balance, b.currency),
        )


class LedgerEntryRead(BaseModel):
    id: int
    transaction_id: int
    kind: str
    amount: DecimalStr
    balance_after: DecimalStr | None
    reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, e: HistoryEntry, currency: str) -> LedgerEntryRead:
        return cls(
            id=e.id,
            transaction_id=e.transaction_id,
            kind=e.kind,
            amount=shown(e.amount, currency),
            balance_after=shown_or_none(e.balance_after, currency),
            reason=e.reason,
            created_at=e.created_at,
        )


class LedgerPage(BaseModel):
    items: list[LedgerEntryRead]
    next_before_id: int | None = Field(description="pass as before_id for the next page")
