"""Request and response bodies. Money is a decimal string, never a float."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from voxbill.domain.errors import InvalidMoney
from voxbill.domain.money import (
    DECIMAL_PATTERN,
    MONEY_CONTEXT,
    canonical,
    currency_places,
    parse_decimal,
)


def _exact(value: object) -> Decimal:
    """Money from JSON is a string in the published form; a JSON number (10 or 10.5) is
    refused, as the contract says money is a decimal string. A Decimal is what voxbill
    itself hands a response model."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        return value
    if not isinstance(value, str):
        raise ValueError('money must be a decimal string such as "10.50", not a JSON number')
    try:
        return parse_decimal(value)
    except InvalidMoney as exc:
        raise ValueError(exc.message) from None


#: A Decimal that travels as a JSON string; a JSON number is refused.
DecimalStr = Annotated[
    Decimal,
    BeforeValidator(_exact),
    PlainSerializer(canonical, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["10.50"]}),
]

#: Largest amount an API request may carry (storage holds NUMERIC(28, 8)).
MAX_AMOUNT = Decimal(10) ** 15


def storable(value: Decimal) -> Decimal:
    """Money that fits storage (|x| < 10^15, at most 8 places), else ValueError."""
    if abs(value) >= MAX_AMOUNT:
        raise ValueError(f"amount must be smaller than {MAX_AMOUNT} in absolute value")
    if value != value.quantize(Decimal("1E-8"), context=MONEY_CONTEXT):
        raise ValueError("amount has more than 8 decimal places")
    return value


#: Money from a request: a decimal string that fits storage (|x| < 10^15, ≤ 8 places).
AmountStr = Annotated[DecimalStr, AfterValidator(storable)]


def shown(amount: Decimal, currency: str) -> Decimal:
    """The same amount with the same digits on every database: at least the currency's
    minor unit (25 USD → 25.00), never fewer places than it has (0.125 stays 0.125)."""
    exponent = amount.normalize(MONEY_CONTEXT).as_tuple().exponent
    places = max(currency_places(currency), -exponent if isinstance(exponent, int) else 0)
    return amount.quantize(Decimal(1).scaleb(-places), context=MONEY_CONTEXT)


def shown_or_none(amount: Decimal | None, currency: str) -> Decimal | None:
    return None if amount is None else shown(amount, currency)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _plain(value: str) -> str:
    if _CONTROL.search(value) is not None:  # a code point below 32, or 127 (DEL)
        raise ValueError("control characters are not allowed")
    return value


#: Text without control characters (PostgreSQL refuses NUL; logs and CSVs dislike the rest).
PlainText = Annotated[str, AfterValidator(_plain)]


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PlainText | None = Field(
        default=None, min_length=1, max_length=100, description="default: the key's effective plan"
    )
    to: PlainText = Field(min_length=1, max_length=64, description="callee number")
    duration: int = Field(ge=0, le=86400 * 6)
    at: datetime | None = None
    available: AmountStr | None = Field(default=None, description="optional: max duration")


class QuoteRead(BaseModel):
    plan: str
    number: str
    currency: str
    prefix: str
    destination: str
    rate: DecimalStr
    billed_seconds: int
    cost: DecimalStr
    exact_cost: str
    at: datetime
    duration: int
    max_duration: int | None = None


class Health(BaseModel):
    status: str
    database: str
    version: str
