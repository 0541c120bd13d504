"""Bodies of the exchange rate endpoints. A rate is a decimal string, never a float."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from voxbill.api.schemas import DecimalStr, PlainText
from voxbill.domain.money import STORAGE_PLACES
from voxbill.services.ledger.fx import FxRate, FxRateSet

#: Checked by the service, so that a bad code is ``invalid_currency`` wherever it comes from.
CurrencyCode = Annotated[PlainText, StringConstraints(max_length=32)]

_PLACES = Decimal(1).scaleb(-STORAGE_PLACES)


class FxRateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: CurrencyCode = Field(description="ISO 4217 code, e.g. USD", examples=["USD"])
    quote: CurrencyCode = Field(description="ISO 4217 code, e.g. EUR", examples=["EUR"])
    rate: DecimalStr = Field(
        description="1 base = rate quote; positive, at most 8 decimal places",
        examples=["0.92345000"],
    )
    effective_from: datetime | None = Field(
        default=None,
        description="when the rate takes over (default: now; without a zone: UTC)",
    )


class FxRateRead(BaseModel):
    id: int
    base: str
    quote: str
    rate: DecimalStr = Field(description="always with 8 decimal places: 1.08350000")
    effective_from: datetime
    created_at: datetime
    updated_at: datetime = Field(description="when the rate was last replaced (else created)")

    @classmethod
    def of(cls, r: FxRate) -> FxRateRead:
        return cls(
            id=r.id,
            base=r.base,
            quote=r.quote,
            rate=r.rate.quantize(_PLACES),
            effective_from=r.effective_from,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class FxRateSetRead(FxRateRead):
    outcome: Literal["created", "replaced", "unchanged"] = Field(
        description="created (201), or replaced / unchanged: the same base, quote and "
        "effective_from again (200)"
    )

    @classmethod
    def of_set(cls, result: FxRateSet) -> FxRateSetRead:
        return cls(**FxRateRead.of(result.fx_rate).model_dump(), outcome=result.outcome)


class FxRatePage(BaseModel):
    items: list[FxRateRead]
    next_after_id: int | None = Field(description="pass as after_id for the next page")
