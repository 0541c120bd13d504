"""Bodies of the online top-up endpoints (``docs/payments.md``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from voxbill.api.schemas import AmountStr, DecimalStr, shown
from voxbill.domain.payments import AutoRecharge, Payment, PaymentStatus


class CheckoutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: AmountStr = Field(
        description="in the account's currency, within its top-up limits (decimal string)"
    )


class CheckoutRead(BaseModel):
    payment_id: str
    url: str = Field(description="the provider's hosted checkout page: send the payer there")
    status: PaymentStatus
    amount: DecimalStr
    currency: str

    @classmethod
    def of(cls, p: Payment) -> CheckoutRead:
        return cls(
            payment_id=p.id,
            url=p.url or "",
            status=p.status,
            amount=shown(p.amount, p.currency),
            currency=p.currency,
        )


class PaymentRead(BaseModel):
    payment_id: str
    account_id: int
    provider: str
    status: PaymentStatus
    amount: DecimalStr
    currency: str
    reversed_amount: DecimalStr = Field(description="taken back by refunds and disputes")
    credit_transaction_id: int | None = Field(description="the ledger top-up, once paid")
    failure: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Payment) -> PaymentRead:
        return cls(
            payment_id=p.id,
            account_id=p.account_id,
            provider=p.provider,
            status=p.status,
            amount=shown(p.amount, p.currency),
            currency=p.currency,
            reversed_amount=shown(p.reversed_amount, p.currency),
            credit_transaction_id=p.credit_transaction_id,
            failure=p.failure,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PaymentPage(BaseModel):
    items: list[PaymentRead]
    next_before: str | None = Field(description="pass as before for the next page")


class WebhookRead(BaseModel):
    received: bool = True
    action: str = Field(description="credited, failed, expired, reversed, duplicate or ignored")
    payment_id: str | None


class AutoRechargeSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    below: AmountStr = Field(description="charge the saved card when the balance is under this")
    amount: AmountStr = Field(description="how much to charge, within the top-up limits")


class AutoRechargeRead(BaseModel):
    account_id: int
    below: DecimalStr
    amount: DecimalStr
    armed: bool = Field(description="false: charged for this crossing; armed again above `below`")
    card_saved: bool = Field(description="a paid checkout saved the card it can charge")

    @classmethod
    def of(cls, a: AutoRecharge, currency: str) -> AutoRechargeRead:
        return cls(
            account_id=a.account_id,
            below=shown(a.below, currency),
            amount=shown(a.amount, currency),
            armed=a.armed,
            card_saved=a.method is not None,
        )
