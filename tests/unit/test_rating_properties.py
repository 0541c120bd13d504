"""Properties of the rating engine: monotonic, exactly invertible, exact, float-free."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from voxbill.domain.errors import InvalidMoney
from voxbill.domain.money import RoundingMethod, to_decimal
from voxbill.domain.rates import Rate, RatePlan
from voxbill.domain.rating import Tariff, billed_seconds
from voxbill.domain.time_profile import parse_time_profile

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

prices = st.decimals(min_value=0, max_value=5, places=4, allow_nan=False, allow_infinity=False)
increments = st.sampled_from([1, 6, 10, 30, 60])


@st.composite
def rates(draw: st.DrawFn) -> Rate:
    return Rate(
        "44",
        draw(prices),
        connect_fee=draw(st.sampled_from([Decimal(0), Decimal("0.01"), Decimal("0.0375")])),
        initial_rate=draw(st.none() | prices),
        initial_increment=draw(increments),
        increment=draw(increments),
        min_duration=draw(st.sampled_from([0, 0, 10, 30, 61])),
        grace=draw(st.sampled_from([0, 0, 3, 5, 45])),
    )


@st.composite
def plans(draw: st.DrawFn) -> RatePlan:
    """One row, or peak and off-peak rows of the same prefix in a DST-observing zone."""
    base = draw(rates())
    rows = [base]
    if draw(st.booleans()):
        profile = draw(
            st.sampled_from(["mon-fri 08:00-18:00", "01:15-02:45", "sat-sun", "02:30-03:00"])
        )
        rows = [
            Rate(
                "44",
                draw(prices),
                connect_fee=base.connect_fee,
                initial_increment=base.initial_increment,
                increment=base.increment,
                time_profile=parse_time_profile(profile),
            ),
            base,
        ]
    return RatePlan(
        "p",
        "EUR",
        rows,
        decimals=draw(st.integers(min_value=0, max_value=6)),
        rounding=draw(st.sampled_from(list(RoundingMethod))),
        timezone=draw(
            st.sampled_from(["UTC", "Europe/London", "Europe/Paris", "America/New_York"])
        ),
    )


# Starts clustered around the 2026 DST changes of Europe and the US.
TRANSITIONS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
]
starts = st.builds(
    lambda base, offset: base + timedelta(seconds=offset),
    st.sampled_from(TRANSITIONS),
    st.integers(min_value=-3 * 3600, max_value=3 * 3600),
)
durations = st.integers(min_value=0, max_value=3 * 3600)


def reference_exact_cost(plan: RatePlan, tariff: Tariff, duration: int) -> Fraction:
    """The pricing rule written out block by block, in exact fractions."""
    row = tariff.row
    billed = billed_seconds(row, duration)
    if billed == 0:
        return Fraction(0)
    total = Fraction(row.initial_increment) * Fraction(row.first_rate)
    offset = row.initial_increment
    while offset < billed:
        block_row = plan.price_row(tariff.group, tariff.start + timedelta(seconds=offset))
        total += row.increment * Fraction(block_row.rate)
        offset += row.increment
    return Fraction(row.connect_fee) + total / 60


def round_fraction(value: Fraction, places: int, method: RoundingMethod) -> Decimal:
    scaled = value * 10**places  # costs are never negative
    low = math.floor(scaled)
    if method in (RoundingMethod.DOWN, RoundingMethod.FLOOR):
        units = low
    elif method in (RoundingMethod.UP, RoundingMethod.CEILING):
        units = math.ceil(scaled)
    elif scaled - low != Fraction(1, 2):
        units = math.floor(scaled + Fraction(1, 2))
    elif method is RoundingMethod.HALF_UP:
        units = low + 1
    else:
        units = low + (low % 2)
    return Decimal(units).scaleb(-places)


@PROPERTY
@given(plan=plans(), start=starts, duration=durations)
def test_cost_is_the_block_by_block_rule_rounded_once(
    plan: RatePlan, start: datetime, duration: int
) -> None:
    tariff = Tariff(plan, "4420", start)
    exact = reference_exact_cost(plan, tariff, duration)
    rating = tariff.rate(duration)
    assert rating.cost == round_fraction(exact, plan.decimals, plan.rounding)
    assert abs(Fraction(rating.exact_cost) - exact) < Fraction(1, 10**40)


@PROPERTY
@given(plan=plans(), start=starts, d1=durations, d2=durations)
def test_cost_is_monotonic_in_duration(plan: RatePlan, start: datetime, d1: int, d2: int) -> None:
    tariff = Tariff(plan, "4420", start)
    short, long = sorted((d1, d2))
    assert tariff.exact_cost(short) <= tariff.exact_cost(long)
    assert tariff.cost(short) <= tariff.cost(long)


def next_boundary(row: Rate, duration: int) -> int:
    """The first billed boundary strictly after ``duration`` (a boundary or the grace)."""
    first = billed_seconds(row, row.grace + 1)
    if duration < first:
        return first
    return duration + row.increment


@PROPERTY
@given(
    plan=plans(),
    start=starts,
    available=st.decimals(min_value=0, max_value=50, places=4, allow_nan=False),
    cap=st.integers(min_value=1, max_value=4 * 3600),
)
def test_max_duration_is_the_exact_inverse_of_cost(
    plan: RatePlan, start: datetime, available: Decimal, cap: int
) -> None:
    tariff = Tariff(plan, "4420", start)
    row = tariff.row
    longest = tariff.max_duration(available, cap)
    assert 0 <= longest <= cap
    assert tariff.cost(longest) <= available
    if longest == cap:
        return
    # on an increment boundary (or the free grace), and one more boundary is too dear
    assert longest == row.grace or billed_seconds(row, longest) == longest
    assert tariff.cost(next_boundary(row, longest)) > available


@PROPERTY
@given(rate=rates(), available=st.decimals(min_value=0, max_value=5, places=4))
def test_max_duration_of_the_cost_of_a_boundary_reaches_it(rate: Rate, available: Decimal) -> None:
    plan = RatePlan("p", "EUR", [rate])
    tariff = Tariff(plan, "4420", TRANSITIONS[0])
    longest = tariff.max_duration(available, 4 * 3600)
    assume(longest < 4 * 3600)
    boundary = next_boundary(rate, longest)
    assert tariff.max_duration(tariff.cost(boundary), 4 * 3600) >= boundary


# --- no float anywhere --------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_refused_as_money(value: float) -> None:
    with pytest.raises(InvalidMoney):
        to_decimal(value)


@PROPERTY
@given(plan=plans(), start=starts, duration=durations)
def test_every_amount_in_a_rating_is_a_decimal(
    plan: RatePlan, start: datetime, duration: int
) -> None:
    rating = Tariff(plan, "4420", start).rate(duration)
    for amount in (rating.cost, rating.exact_cost, rating.rate):
        assert type(amount) is Decimal
    assert rating.cost.as_tuple().exponent == -plan.decimals or rating.cost == 0
