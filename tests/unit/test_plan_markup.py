"""A marked-up copy of rate rows: exact, rounded once per price, nothing else changed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import RoundingMethod
from voxbill.domain.plan_markup import Markup, marked_up
from voxbill.domain.rates import Rate
from voxbill.domain.time_profile import parse_time_profile

PEAK = parse_time_profile("mon-fri 08:00-18:00")
ROW = Rate(
    "44",
    D("0.0123"),
    "UK",
    connect_fee=D("0.015"),
    initial_rate=D("0.02"),
    initial_increment=30,
    increment=6,
    min_duration=10,
    grace=3,
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    effective_to=datetime(2027, 1, 1, tzinfo=UTC),
    time_profile=PEAK,
)


def _one(markup: Markup, decimals: int = 4, rounding: RoundingMethod = RoundingMethod.HALF_UP):
    (row,) = marked_up([ROW], markup, decimals=decimals, rounding=rounding)
    return row


def test_a_percentage_marks_up_every_price_and_keeps_the_rest() -> None:
    row = _one(Markup(D("20")))
    assert (row.rate, row.initial_rate, row.connect_fee) == (D("0.0148"), D("0.024"), D("0.018"))
    kept = ("prefix", "destination", "initial_increment", "increment", "min_duration", "grace")
    for name in (*kept, "effective_from", "effective_to", "time_profile"):
        assert getattr(row, name) == getattr(ROW, name), name


def test_a_fixed_markup_is_per_minute_only() -> None:
    row = _one(Markup(fixed=D("0.01")))
    assert (row.rate, row.initial_rate, row.connect_fee) == (D("0.0223"), D("0.03"), D("0.015"))


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        (RoundingMethod.HALF_UP, D("0.0148")),  # 0.01476
        (RoundingMethod.DOWN, D("0.0147")),
        (RoundingMethod.UP, D("0.0148")),
    ],
)
def test_the_plans_rounding_rounds_each_price_once(rounding: RoundingMethod, expected: D) -> None:
    assert _one(Markup(D("20")), rounding=rounding).rate == expected


def test_a_price_with_more_places_than_the_plan_keeps_them() -> None:
    fine = Rate("1", D("0.00345678"))
    (same,) = marked_up([fine], Markup(), decimals=2, rounding=RoundingMethod.HALF_UP)
    assert same.rate == D("0.00345678")
    (up,) = marked_up([fine], Markup(D("10")), decimals=2, rounding=RoundingMethod.HALF_UP)
    assert up.rate == D("0.00380246")  # 0.003802458 to the source's 8 places


def test_below_cost_is_allowed_below_zero_is_not() -> None:
    assert _one(Markup(D("-50"))).rate == D("0.0062")  # 0.00615 half up
    assert _one(Markup(D("-100"))).rate == D("0")
    with pytest.raises(InvalidInput, match="prefix 44: the markup makes its price negative"):
        _one(Markup(fixed=D("-0.02")))


@pytest.mark.parametrize(
    ("percent", "fixed"), [(D("-100.01"), D(0)), (D("10000.5"), D(0)), (D(0), D("1E-9"))]
)
def test_markups_out_of_bounds_are_refused(percent: D, fixed: D) -> None:
    with pytest.raises(InvalidInput):
        Markup(percent, fixed)


def test_progress_is_told_the_rows_done() -> None:
    seen: list[int] = []
    marked_up(
        [ROW] * 3, Markup(), decimals=4, rounding=RoundingMethod.HALF_UP, progress=seen.append
    )
    assert seen == [3]
