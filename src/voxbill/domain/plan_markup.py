"""A reseller's copy of a plan: every row marked up, exactly.

``new = old * (1 + percent / 100) + fixed`` on the per-minute prices (``rate`` and
``initial_rate``); the connect fee takes the percentage only (a fixed markup is per
minute). Each marked-up price is rounded once, by the new plan's rounding method, to
the plan's ``decimals`` — or to the places the source price already had when it had
more (so a zero markup is an exact copy). A price below zero is refused. Everything
else of a row (prefix, destination, increments, dates, time profile) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import STORAGE_PLACES, RoundingMethod, round_amount
from voxbill.domain.rates import Rate

_HUNDRED = Decimal(100)
#: bounds of a markup: a copy may sell below its source (down to free), not absurdly above
MIN_PERCENT = Decimal(-100)
MAX_PERCENT = Decimal(10_000)


@dataclass(frozen=True)
class Markup:
    percent: Decimal = Decimal(0)
    fixed: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not MIN_PERCENT <= self.percent <= MAX_PERCENT:
            raise InvalidInput(f"markup_percent: between {MIN_PERCENT} and {MAX_PERCENT}")
        for name, value in (("markup_percent", self.percent), ("markup_fixed", self.fixed)):
            if value != round_amount(value, STORAGE_PLACES, RoundingMethod.HALF_UP):
                raise InvalidInput(f"{name}: at most {STORAGE_PLACES} decimal places")

    @property
    def factor(self) -> Decimal:
        return 1 + self.percent / _HUNDRED

    def describe(self) -> str:
        return f"+{self.percent}% +{self.fixed}/min".replace("+-", "-")


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _price(
    old: Decimal, factor: Decimal, fixed: Decimal, decimals: int, rounding: RoundingMethod
) -> Decimal:
    places = min(STORAGE_PLACES, max(decimals, _places(old)))
    return round_amount(old * factor + fixed, places, rounding)


def marked_up(
    rows: Sequence[Rate],
    markup: Markup,
    *,
    decimals: int,
    rounding: RoundingMethod,
    progress: Callable[[int], None] | None = None,
) -> list[Rate]:
    """Every row with the markup applied (see the module). ``progress(n)`` is told the
    rows done every 50,000 rows and at the end."""
    factor, fixed = markup.factor, markup.fixed
    # decks repeat a few prices many times: each distinct one is computed once
    per_minute: dict[Decimal, Decimal] = {}
    per_call: dict[Decimal, Decimal] = {}

    def minute(old: Decimal) -> Decimal:
        new = per_minute.get(old)
        if new is None:
            new = per_minute[old] = _price(old, factor, fixed, decimals, rounding)
        return new

    def call(old: Decimal) -> Decimal:
        new = per_call.get(old)
        if new is None:
            new = per_call[old] = _price(old, factor, Decimal(0), decimals, rounding)
        return new

    out: list[Rate] = []
    for number, row in enumerate(rows, 1):
        rate = minute(row.rate)
        first = row.initial_rate
        initial = None if first is None else minute(first)
        fee = call(row.connect_fee)
        if rate < 0 or fee < 0 or (initial is not None and initial < 0):
            raise InvalidInput(
                f"prefix {row.prefix}: the markup makes its price negative ({rate}); "
                "nothing was copied"
            )
        out.append(
            Rate(
                row.prefix,
                rate,
                row.destination,
                fee,
                initial,
                row.initial_increment,
                row.increment,
                row.min_duration,
                row.grace,
                row.effective_from,
                row.effective_to,
                row.time_profile,
            )
        )
        if progress is not None and number % 50_000 == 0:
            progress(number)
    if progress is not None:
        progress(len(rows))
    return out
