"""Exact money: one way to make a Decimal, one rounding function, splits that add up.

Floats are refused on sight ("never use floating point in an accounting system").
Amounts keep full precision until a rounding rule is applied, once, at the end.
Text becomes a Decimal only in the one published form (:data:`DECIMAL_PATTERN`):
``Decimal()`` itself also takes exponents, underscores, padding, NaN and any Unicode
digit, so "1e3", "1_000" or "١٢" would otherwise slip through as 1000, 1000 and 12.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from enum import StrEnum
from typing import Final

from voxbill.domain.errors import InvalidMoney

#: Context for all money arithmetic: wide enough that no intermediate result rounds.
MONEY_CONTEXT: Final = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_UP,
    traps=[
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
    ],
)

#: Decimal places any stored amount may carry (storage refuses more).
STORAGE_PLACES: Final = 8

ZERO: Final = Decimal(0)

#: The largest magnitude each database stores exactly: SQLite keeps a 64-bit integer of
#: 10^-8 units (±92,233,720,368.54775807), PostgreSQL NUMERIC(28, 8) (below 10^20).
SQLITE_MAX_AMOUNT: Final = Decimal(2**63 - 1).scaleb(-STORAGE_PLACES)
NUMERIC_MAX_AMOUNT: Final = Decimal(10) ** 20 - Decimal(1).scaleb(-STORAGE_PLACES)

# ISO 4217 minor units that differ from 2.
_MINOR_UNITS: Final[dict[str, int]] = {
    "BHD": 3,
    "BIF": 0,
    "CLF": 4,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "RWF": 0,
    "TND": 3,
    "UGX": 0,
    "UYI": 0,
    "UYW": 4,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}


class RoundingMethod(StrEnum):
    """How a plan rounds a cost; the values are the names used in decks and the API."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    UP = "up"  # away from zero: a carrier never loses a fraction
    DOWN = "down"  # towards zero
    CEILING = "ceiling"
    FLOOR = "floor"

    @property
    def decimal_mode(self) -> str:
        return _DECIMAL_MODES[self]


_DECIMAL_MODES: Final = {
    RoundingMethod.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMethod.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMethod.UP: decimal.ROUND_UP,
    RoundingMethod.DOWN: decimal.ROUND_DOWN,
    RoundingMethod.CEILING: decimal.ROUND_CEILING,
    RoundingMethod.FLOOR: decimal.ROUND_FLOOR,
}


#: The one accepted form of a decimal string (API bodies, CLI arguments, FX rates, deck
#: cells): ASCII digits, an optional sign, an optional point with digits on both sides.
#: No exponent, underscore, whitespace, NaN/Infinity, ".5" or "5.", nor non-ASCII digit.
DECIMAL_PATTERN: Final = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_DECIMAL_TEXT: Final = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")  # fullmatch: no "$\n" slip
#: How much of a refused text an error message repeats.
_SHOWN_CHARS: Final = 40


def shown_text(text: str) -> str:
    """``text`` quoted for an error message, cut short: a refusal never echoes a megabyte."""
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return f"{text[:_SHOWN_CHARS]!r}… ({len(text)} characters)"


def parse_decimal(text: str, *, what: str = "amount") -> Decimal:
    """A Decimal from text in exactly the published form (:data:`DECIMAL_PATTERN`)."""
    if _DECIMAL_TEXT.fullmatch(text) is None:
        raise InvalidMoney(
            f'{what} {shown_text(text)} is not a decimal number such as "10.50" '
            "(ASCII digits, an optional sign and decimal point)"
        )
    return Decimal(text)


def to_decimal(value: object, *, what: str = "amount") -> Decimal:
    """The one way to make a Decimal from outside input: str, int or Decimal, never float.

    A string must have the published form (:func:`parse_decimal`)."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise InvalidMoney(f"{what} must be a decimal number, not a boolean")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        result = parse_decimal(value, what=what)
    elif isinstance(value, float):
        raise InvalidMoney(f"{what} must be given as a decimal string, not a float ({value!r})")
    else:
        raise InvalidMoney(f"{what} must be a decimal number, not {type(value).__name__}")
    if not result.is_finite():
        raise InvalidMoney(f"{what} {value!r} is not a finite number")
    return result


#: 10^-places for the places money is ever rounded to (made once: this is on the hot path)
_QUANTUM: Final = tuple(Decimal(1).scaleb(-places) for places in range(STORAGE_PLACES + 1))


def round_amount(amount: Decimal, places: int, method: RoundingMethod) -> Decimal:
    """Round once, by a rule: the only rounding function money goes through."""
    quantum = _QUANTUM[places] if 0 <= places <= STORAGE_PLACES else Decimal(1).scaleb(-places)
    return amount.quantize(quantum, _DECIMAL_MODES[method], MONEY_CONTEXT)


def currency_places(currency: str) -> int:
    """Minor-unit decimal places of an ISO 4217 currency (2 unless listed otherwise)."""
    return _MINOR_UNITS.get(currency, 2)


def normalize_currency(code: str) -> str:
    text = code.strip().upper()
    if len(text) != 3 or not text.isalpha() or not text.isascii():
        raise InvalidMoney(f"currency {code!r} is not a three-letter ISO 4217 code")
    return text


def storable(amount: Decimal, limit: Decimal, *, what: str = "amount") -> Decimal:
    """``amount`` if storage can hold it; a clear refusal (not a driver overflow) if not."""
    if abs(amount) > limit:
        raise InvalidMoney(
            f"{what} {canonical(amount)} is out of the storable range (±{canonical(limit)})",
            code="amount_out_of_range",
        )
    return amount


def canonical(amount: Decimal) -> str:
    """A plain decimal string without exponent, for APIs, CSV and storage."""
    return format(amount.copy_abs() if amount.is_zero() else amount, "f")  # no "-0.00"


def ratio_split(amount: Decimal, ratios: list[int], places: int) -> list[Decimal]:
    """Split ``amount`` by integer ``ratios`` so the parts add back up exactly.

    Largest-remainder method on the ``places`` grid; ties go to the earlier part.
    """
    if not ratios or any(r < 0 for r in ratios) or sum(ratios) == 0:
        raise InvalidMoney("ratios must be non-negative with a positive sum")
    unit = Decimal(1).scaleb(-places)
    units = int((amount / unit).to_integral_value(rounding=decimal.ROUND_DOWN))
    if Decimal(units) * unit != amount:
        raise InvalidMoney(f"{amount} has more than {places} decimal places")
    total = sum(ratios)
    sign = -1 if units < 0 else 1
    units = abs(units)
    shares = [units * r // total for r in ratios]
    remainders = sorted(range(len(ratios)), key=lambda i: (-(units * ratios[i] % total), i))
    for i in remainders[: units - sum(shares)]:
        shares[i] += 1
    return [Decimal(sign * s) * unit for s in shares]
