"""Bodies of the calling-card endpoints (``docs/cards.md``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.account_schemas import AccountId, Name, PlanName
from voxbill.api.money_schemas import BalanceRead, LedgerEntryRead
from voxbill.api.schemas import AmountStr, DecimalStr, shown
from voxbill.domain import cards as rules
from voxbill.domain.cards import BatchCounts, CardBatch, Funding
from voxbill.services.cards.service import Activation, BatchRequest, GeneratedBatch, HolderView

Serial = Annotated[str, StringConstraints(pattern=r"^[0-9 -]{4,40}$")]
Digits = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class CardBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: AccountId = Field(description="the customer or reseller the cards belong to")
    count: int = Field(
        ge=1,
        le=rules.MAX_REST_BATCH_SIZE,
        description="cards in the batch (up to 10,000 with `voxbill cards generate`)",
    )
    face_value: AmountStr = Field(description="each card's value, put on it at activation")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$")] | None = Field(
        default=None, description="default: the owner's currency"
    )
    rate_plan: PlanName | None = Field(default=None, description="the cards' rate plan")
    expires_at: datetime | None = Field(
        default=None, description="no card of the batch is usable from this instant on"
    )
    valid_days: int | None = Field(
        default=None, ge=1, le=3660, description="a card is usable this long after activation"
    )
    pin_length: int = Field(
        default=rules.DEFAULT_PIN_LENGTH, ge=rules.MIN_PIN_LENGTH, le=rules.MAX_PIN_LENGTH
    )
    funding: Funding | None = Field(
        default=None,
        description="who pays the face value at activation: operator (its cards book; admin "
        "keys, their default) or owner (the owner's balance; every other key's default)",
    )
    name: Name | None = None

    def request(self) -> BatchRequest:
        """What the cards service generates from (the API's and the portal's form)."""
        return BatchRequest(**{field: getattr(self, field) for field in type(self).model_fields})


class CardBatchRead(BaseModel):
    id: int
    owner_id: int
    name: str
    size: int
    face_value: DecimalStr
    currency: str
    rate_plan: str | None
    expires_at: datetime | None
    valid_days: int | None
    pin_length: int
    funding: Funding
    first_serial: str
    last_serial: str
    created_at: datetime
    created_by: str
    inactive: int | None = Field(default=None, description="cards not activated (or deactivated)")
    active: int | None = Field(default=None, description="active cards not expired")
    used: int | None = Field(default=None, description="active cards below their face value")
    expired: int | None = None
    remaining_value: DecimalStr | None = Field(
        default=None, description="the balances of the active, unexpired cards"
    )

    @classmethod
    def of(cls, batch: CardBatch, counts: BatchCounts | None = None) -> CardBatchRead:
        read = cls(
            id=batch.id,
            owner_id=batch.owner_id,
            name=batch.name,
            size=batch.size,
            face_value=shown(batch.face_value, batch.currency),
            currency=batch.currency,
            rate_plan=batch.rate_plan,
            expires_at=batch.expires_at,
            valid_days=batch.valid_days,
            pin_length=batch.pin_length,
            funding=batch.funding,
            first_serial=batch.first_serial,
            last_serial=batch.last_serial,
            created_at=batch.created_at,
            created_by=batch.created_by,
        )
        if counts is not None:
            read.inactive, read.active = counts.inactive, counts.active
            read.used, read.expired = counts.used, counts.expired
            read.remaining_value = shown(counts.remaining_value, batch.currency)
        return read


class CardBatchCreated(CardBatchRead):
    csv: str | None = Field(
        description="the printer's CSV (serial,pin,face_value,currency,expiry,valid_days): "
        "the only time the PINs are shown; they are stored as hashes. null in the replay "
        "of an Idempotency-Key (header Idempotent-Replayed: true): the PINs are gone; if "
        "the first answer was lost, delete the unused batch and generate another"
    )

    @classmethod
    def of_generated(cls, generated: GeneratedBatch) -> CardBatchCreated:
        base = CardBatchRead.of(generated.batch).model_dump()
        return cls(**base, csv=generated.csv)


class CardBatchPage(BaseModel):
    items: list[CardBatchRead]
    next_after_id: int | None


class CardRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_serial: Serial | None = Field(default=None, description="default: the batch's first")
    to_serial: Serial | None = Field(default=None, description="default: the batch's last")


class ActivationRead(BaseModel):
    batch_id: int
    activated: int = Field(description="cards made active now")
    funded: int = Field(description="of them, cards funded now (a card is funded once, ever)")
    amount: DecimalStr
    currency: str
    transaction_id: int | None

    @classmethod
    def of(cls, a: Activation) -> ActivationRead:
        return cls(
            batch_id=a.batch_id,
            activated=a.activated,
            funded=a.funded,
            amount=shown(a.amount, a.currency),
            currency=a.currency,
            transaction_id=a.transaction_id,
        )


class DeactivationRead(BaseModel):
    batch_id: int
    deactivated: int


class CardHolderAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: Digits
    pin: Digits


class CardHolderRead(BaseModel):
    serial: str
    state: str | None = Field(description="active | inactive; null: a card without a batch")
    expires_at: datetime | None
    expired: bool
    currency: str
    balance: DecimalStr
    available: DecimalStr
    history: list[LedgerEntryRead]

    @classmethod
    def of(cls, view: HolderView) -> CardHolderRead:
        b = BalanceRead.of(view.balance)
        return cls(
            serial=view.serial,
            state=view.state,
            expires_at=view.expires_at,
            expired=view.expired,
            currency=b.currency,
            balance=b.balance,
            available=b.available,
            history=[LedgerEntryRead.of(e, b.currency) for e in view.history],
        )
