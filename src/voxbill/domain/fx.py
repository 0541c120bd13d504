"""Exchange rates: what a well-formed rate is, and who may read or set an operator's.

A rate belongs to an operator and applies to every book of its tree: it is an
operator-wide price, not a per-subtree setting. Only the operator (an admin key) sets
it. Support keys are view-only and read it. Resellers and customers read it too: a
transfer they make to a child keeping its balance in another currency is converted at
it, and the credited amount tells the rate anyway. A user key moves no money between
currencies and does not read rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import Conflict, Forbidden, InvalidInput, InvalidMoney
from voxbill.domain.money import STORAGE_PLACES, normalize_currency

#: The roles whose keys may read their operator's rates.
READERS: Final = frozenset({Role.ADMIN, Role.SUPPORT, Role.RESELLER, Role.CUSTOMER})

#: A rate has at most this many digits before the point (and ``STORAGE_PLACES`` after).
RATE_INTEGER_DIGITS: Final = 10

EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class FxRate:
    """1 ``base`` = ``rate`` ``quote``, for the operator's books, from ``effective_from``."""

    id: int
    operator_id: int
    base: str
    quote: str
    rate: Decimal
    effective_from: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class FxRateSet:
    fx_rate: FxRate
    outcome: Literal["created", "replaced", "unchanged"]


@dataclass(frozen=True, slots=True)
class FxQuote:
    """The rate in force for a conversion: stored as 1 ``base`` = ``rate`` of the other
    currency (a conversion the other way divides by it)."""

    base: str
    rate: Decimal
    effective_from: datetime

    def of(self, base: str) -> Decimal:
        """1 ``base`` in the pair's other currency."""
        return self.rate if self.base == base else Decimal(1) / self.rate


class FxRateInUse(Conflict):
    """Setting the rate would change the rate in force at an instant whose conversions
    are already stored (transfers, CDR margins): history is not re-priced (HTTP 409)."""

    code = "fx_rate_in_use"


def check_read(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden(f"a {principal.role} key does not read exchange rates")


def check_set(principal: Principal) -> None:
    access.require_write(principal)  # support keys, blocked or suspended operators: 403
    if principal.role is not Role.ADMIN:
        raise Forbidden("exchange rates are set by the operator (an admin key)")


def currency(code: str, what: str) -> str:
    try:
        return normalize_currency(code)
    except InvalidMoney:
        raise InvalidInput(
            f"{what}: {code!r} is not a three-letter ISO 4217 currency code",
            code="invalid_currency",
        ) from None


def pair(base: str, quote: str) -> tuple[str, str]:
    """Two well-formed, different currency codes, upper case."""
    base, quote = currency(base, "base"), currency(quote, "quote")
    if base == quote:
        raise InvalidInput(
            f"an exchange rate needs two different currencies, not {base} twice",
            code="same_currency",
        )
    return base, quote


def rate(value: Decimal) -> Decimal:
    """A positive rate the rates' column stores exactly (no rounding, ever)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput("rate: give a decimal number such as 1.0835", code="invalid_fx_rate")
    if value <= 0:
        raise InvalidInput(f"rate: must be positive, not {value}", code="invalid_fx_rate")
    if value >= Decimal(10) ** RATE_INTEGER_DIGITS:
        raise InvalidInput(
            f"rate: at most {RATE_INTEGER_DIGITS} digits before the decimal point",
            code="invalid_fx_rate",
        )
    if value != value.quantize(Decimal(1).scaleb(-STORAGE_PLACES)):
        raise InvalidInput(
            f"rate: at most {STORAGE_PLACES} decimal places, not {value}", code="invalid_fx_rate"
        )
    return value


def instant(value: datetime, what: str) -> datetime:
    """An aware instant (naive means UTC, as everywhere in the API) in storable years."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware <= LATEST:
        raise InvalidInput(f"{what}: must be between the years 1900 and 9000")
    return aware.astimezone(UTC)
