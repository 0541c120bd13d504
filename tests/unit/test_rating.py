"""Worked examples of pricing a call, with exact Decimal results."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from voxbill.domain.errors import InvalidInput, NoRate
from voxbill.domain.money import MONEY_CONTEXT, RoundingMethod
from voxbill.domain.rates import Rate, RatePlan
from voxbill.domain.rating import (
    SYSTEM_MAX_DURATION,
    Tariff,
    billed_seconds,
    max_duration,
    rate_call,
)
from voxbill.domain.time_profile import parse_time_profile

D = Decimal
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def plan_of(*rates: Rate, **options: object) -> RatePlan:
    return RatePlan("test", "EUR", list(rates), **options)  # type: ignore[arg-type]


def cost(rate: Rate, duration: int, **options: object) -> Decimal:
    return rate_call(plan_of(rate, **options), rate.prefix + "123456", MONDAY_NOON, duration).cost


# --- increments -------------------------------------------------------------------------


def test_product_worked_example_30_6_with_connect_fee() -> None:
    rate = Rate("33", D("0.05"), connect_fee=D("0.01"), initial_increment=30, increment=6)
    rating = rate_call(plan_of(rate), "33612345678", MONDAY_NOON, 40)
    assert rating.billed_seconds == 42
    assert rating.exact_cost == D("0.045")
    assert rating.cost == D("0.0450")
    assert str(rating.cost) == "0.0450"


def test_one_second_increments_round_once_not_per_increment() -> None:
    rating = rate_call(plan_of(Rate("44", D("0.1"))), "442079460958", MONDAY_NOON, 70)
    assert rating.billed_seconds == 70
    assert rating.exact_cost == MONEY_CONTEXT.divide(D(7), D(60))
    assert str(rating.exact_cost).startswith("0.116666666666")
    assert rating.cost == D("0.1167")
    assert rating.cost != D("0.1169")


@pytest.mark.parametrize(
    ("duration", "billed", "expected"),
    [(1, 6, "0.006"), (6, 6, "0.006"), (7, 12, "0.012"), (40, 42, "0.042"), (61, 66, "0.066")],
)
def test_6_6_increments(duration: int, billed: int, expected: str) -> None:
    rate = Rate("49", D("0.06"), initial_increment=6, increment=6)
    assert billed_seconds(rate, duration) == billed
    assert cost(rate, duration) == D(expected)


@pytest.mark.parametrize(
    ("duration", "billed", "expected"),
    [(1, 30, "0.035"), (30, 30, "0.035"), (31, 36, "0.04"), (40, 42, "0.045"), (95, 96, "0.09")],
)
def test_30_6_increments(duration: int, billed: int, expected: str) -> None:
    rate = Rate("33", D("0.05"), connect_fee=D("0.01"), initial_increment=30, increment=6)
    assert billed_seconds(rate, duration) == billed
    assert cost(rate, duration) == D(expected)


@pytest.mark.parametrize(
    ("duration", "billed", "expected"),
    [(1, 60, "0.025"), (60, 60, "0.025"), (61, 120, "0.05"), (179, 180, "0.075")],
)
def test_60_60_increments(duration: int, billed: int, expected: str) -> None:
    rate = Rate("33", D("0.025"), initial_increment=60, increment=60)
    assert billed_seconds(rate, duration) == billed
    assert cost(rate, duration) == D(expected)


def test_60_1_increments() -> None:
    rate = Rate("49", D("0.022"), initial_increment=60, increment=1)
    assert billed_seconds(rate, 61) == 61
    assert cost(rate, 61) == D("0.0224")  # 61 x 0.022 / 60 = 0.022366…


def test_zero_duration_costs_nothing() -> None:
    rate = Rate("33", D("0.05"), connect_fee=D("0.01"), initial_increment=30, increment=6)
    assert billed_seconds(rate, 0) == 0
    assert cost(rate, 0) == 0


def test_negative_duration_is_refused() -> None:
    with pytest.raises(InvalidInput):
        billed_seconds(Rate("33", D("0.05")), -1)


# --- minimum, grace, connect fee, initial rate --------------------------------------------


@pytest.mark.parametrize(
    ("duration", "billed", "expected"),
    [(1, 30, "0.075"), (10, 30, "0.075"), (30, 30, "0.075"), (31, 31, "0.0768")],
)
def test_minimum_duration(duration: int, billed: int, expected: str) -> None:
    rate = Rate("4915", D("0.11"), connect_fee=D("0.02"), min_duration=30)
    assert billed_seconds(rate, duration) == billed
    assert cost(rate, duration) == D(expected)


def test_minimum_duration_rounds_up_to_increments() -> None:
    rate = Rate("44", D("0.06"), initial_increment=30, increment=6, min_duration=40)
    assert billed_seconds(rate, 1) == 42
    assert cost(rate, 1) == D("0.042")


@pytest.mark.parametrize(
    ("duration", "billed", "expected"),
    [(0, 0, "0"), (3, 0, "0"), (4, 30, "0.035"), (40, 42, "0.045")],
)
def test_grace_seconds_are_free_connect_fee_included(
    duration: int, billed: int, expected: str
) -> None:
    rate = Rate("447", D("0.05"), connect_fee=D("0.01"), initial_increment=30, increment=6, grace=3)
    assert billed_seconds(rate, duration) == billed
    assert cost(rate, duration) == D(expected)


def test_connect_fee_alone_for_a_free_rate() -> None:
    rate = Rate("800", D("0"), connect_fee=D("0.15"))
    assert cost(rate, 1) == D("0.15")
    assert cost(rate, 3600) == D("0.15")


def test_first_block_has_its_own_price() -> None:
    rate = Rate("44", D("0.02"), initial_rate=D("0.10"), initial_increment=60, increment=1)
    # (60 x 0.10 + 30 x 0.02) / 60 = 0.11
    assert cost(rate, 90) == D("0.11")
    assert cost(rate, 10) == D("0.10")
    assert rate_call(plan_of(rate), "44123", MONDAY_NOON, 90).rate == D("0.02")


def test_initial_rate_of_zero_is_a_free_first_block() -> None:
    rate = Rate("44", D("0.06"), initial_rate=D("0"), initial_increment=30, increment=6)
    assert cost(rate, 30) == 0
    assert cost(rate, 31) == D("0.006")


# --- the plan's rounding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimals", "method", "expected"),
    [
        (4, RoundingMethod.HALF_UP, "0.1167"),
        (2, RoundingMethod.HALF_UP, "0.12"),
        (2, RoundingMethod.DOWN, "0.11"),
        (2, RoundingMethod.FLOOR, "0.11"),
        (3, RoundingMethod.UP, "0.117"),
        (3, RoundingMethod.CEILING, "0.117"),
        (6, RoundingMethod.HALF_EVEN, "0.116667"),
        (0, RoundingMethod.UP, "1"),
        (8, RoundingMethod.DOWN, "0.11666666"),
    ],
)
def test_rounding_per_plan(decimals: int, method: RoundingMethod, expected: str) -> None:
    rating = rate_call(
        plan_of(Rate("44", D("0.1")), decimals=decimals, rounding=method),
        "44123",
        MONDAY_NOON,
        70,
    )
    assert rating.cost == D(expected)
    assert str(rating.cost) == expected


def test_half_even_versus_half_up_on_a_tie() -> None:
    rate = Rate("44", D("0.0003"), initial_increment=60, increment=60)  # 3 minutes: 0.0009
    even = plan_of(rate, decimals=3, rounding=RoundingMethod.HALF_EVEN)
    up = plan_of(rate, decimals=3, rounding=RoundingMethod.HALF_UP)
    rate_half = Rate("44", D("0.0025"), initial_increment=60, increment=60)  # 0.0025 per min
    assert rate_call(even, "441", MONDAY_NOON, 180).cost == D("0.001")
    assert rate_call(up, "441", MONDAY_NOON, 180).cost == D("0.001")
    assert rate_call(plan_of(rate_half, decimals=3), "441", MONDAY_NOON, 60).cost == D("0.003")
    half_even = plan_of(rate_half, decimals=3, rounding=RoundingMethod.HALF_EVEN)
    assert rate_call(half_even, "441", MONDAY_NOON, 60).cost == D("0.002")


def test_plan_refuses_more_than_eight_decimals() -> None:
    with pytest.raises(InvalidInput):
        plan_of(Rate("44", D("0.1")), decimals=9)


# --- lookup ---------------------------------------------------------------------------


def demo_plan() -> RatePlan:
    return plan_of(
        Rate("1", D("0.01"), destination="US/Canada"),
        Rate("1212", D("0.009"), destination="New York"),
        Rate("44", D("0.02"), destination="UK"),
        Rate("447", D("0.08"), destination="UK Mobile"),
    )


@pytest.mark.parametrize(
    ("number", "prefix", "destination"),
    [
        ("12125550100", "1212", "New York"),
        ("12135550100", "1", "US/Canada"),
        ("447911123456", "447", "UK Mobile"),
        ("442079460958", "44", "UK"),
        ("447", "447", "UK Mobile"),
    ],
)
def test_longest_prefix_wins(number: str, prefix: str, destination: str) -> None:
    rating = rate_call(demo_plan(), number, MONDAY_NOON, 60)
    assert (rating.prefix, rating.destination) == (prefix, destination)


def test_no_rate_is_refused_with_a_reason() -> None:
    with pytest.raises(NoRate) as caught:
        rate_call(demo_plan(), "33612345678", MONDAY_NOON, 60)
    assert caught.value.code == "no_rate"
    assert "33612345678" in caught.value.message
    assert "test" in caught.value.message
    with pytest.raises(NoRate):
        max_duration(demo_plan(), "4", MONDAY_NOON, D("10"))


def test_rate_rows_refuse_bad_values() -> None:
    with pytest.raises(InvalidInput):
        Rate("4a", D("0.1"))
    with pytest.raises(InvalidInput):
        Rate("44", D("-0.1"))
    with pytest.raises(InvalidInput):
        Rate("44", 0.1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Rate("44", D("0.1"), increment=0)
    with pytest.raises(InvalidInput):
        Rate("44", D("0.1"), initial_rate=D("-1"))
    with pytest.raises(InvalidInput):
        Rate("44", D("0.1"), grace=-1)
    with pytest.raises(InvalidInput):
        Rate("44", D("0.1"), effective_from=MONDAY_NOON, effective_to=MONDAY_NOON)


# --- effective dates --------------------------------------------------------------------

CHANGE = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def dated_plan() -> RatePlan:
    return plan_of(
        Rate("33", D("0.10"), destination="old", effective_to=CHANGE),
        Rate("33", D("0.20"), destination="new", effective_from=CHANGE),
        Rate("3", D("0.50"), destination="fallback", effective_from=CHANGE),
    )


def test_effective_dated_change_at_the_exact_instant() -> None:
    plan = dated_plan()
    before = rate_call(plan, "33612", CHANGE - timedelta(microseconds=1), 60)
    at = rate_call(plan, "33612", CHANGE, 60)
    assert (before.destination, before.cost) == ("old", D("0.1"))
    assert (at.destination, at.cost) == ("new", D("0.2"))


def test_a_newer_row_supersedes_an_open_ended_one() -> None:
    plan = plan_of(
        Rate("33", D("0.10"), destination="old"),
        Rate("33", D("0.20"), destination="new", effective_from=CHANGE),
    )
    assert rate_call(plan, "336", CHANGE - timedelta(seconds=1), 60).destination == "old"
    assert rate_call(plan, "336", CHANGE, 60).destination == "new"


def test_row_fixed_at_call_start_across_a_price_change() -> None:
    plan = dated_plan()
    start = CHANGE - timedelta(seconds=30)
    rating = rate_call(plan, "33612", start, 120)
    assert rating.destination == "old"
    assert rating.cost == D("0.2")  # 120 s at 0.10, not 30 s at 0.10 and 90 s at 0.20


def test_nothing_in_force_is_no_rate() -> None:
    plan = plan_of(Rate("33", D("0.1"), effective_from=CHANGE))
    with pytest.raises(NoRate):
        rate_call(plan, "336", CHANGE - timedelta(seconds=1), 60)


def test_naive_start_is_read_as_utc() -> None:
    plan = dated_plan()
    assert rate_call(plan, "336", CHANGE.replace(tzinfo=None), 60).destination == "new"


# --- time profiles ----------------------------------------------------------------------

PEAK = parse_time_profile("mon-fri 08:00-18:00")
OFFPEAK = parse_time_profile("mon-fri 18:00-08:00|sat-sun|holidays")


def peak_plan(timezone: str = "UTC", holidays: frozenset[date] = frozenset()) -> RatePlan:
    return plan_of(
        Rate(
            "44", D("0.60"), destination="peak", initial_increment=6, increment=6, time_profile=PEAK
        ),
        Rate(
            "44",
            D("0.06"),
            destination="off",
            initial_increment=6,
            increment=6,
            time_profile=OFFPEAK,
        ),
        timezone=timezone,
        holidays=holidays,
    )


def test_peak_and_off_peak_rows() -> None:
    plan = peak_plan()
    assert rate_call(plan, "441", MONDAY_NOON, 60).cost == D("0.6")
    assert rate_call(plan, "441", MONDAY_NOON.replace(hour=20), 60).cost == D("0.06")
    saturday = datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert rate_call(plan, "441", saturday, 60).destination == "off"


def test_holidays_beat_the_peak_window() -> None:
    plan = peak_plan(holidays=frozenset({date(2026, 3, 2)}))
    rating = rate_call(plan, "441", MONDAY_NOON, 60)
    assert (rating.destination, rating.cost) == ("off", D("0.06"))


def test_call_crossing_peak_to_off_peak_is_priced_block_by_block() -> None:
    start = datetime(2026, 3, 2, 17, 59, 33, tzinfo=UTC)  # the boundary is 27 s in
    rating = rate_call(peak_plan(), "441", start, 60)
    # blocks start at 0, 6, 12, 18, 24 (peak; the one at 24 spans 18:00) and 30…54 (off)
    assert rating.billed_seconds == 60
    assert rating.exact_cost == D("0.33")  # (30 x 0.60 + 30 x 0.06) / 60
    assert rating.destination == "peak"
    assert rating.rate == D("0.60")


def test_call_crossing_off_peak_to_peak() -> None:
    start = datetime(2026, 3, 2, 7, 59, tzinfo=UTC)
    assert rate_call(peak_plan(), "441", start, 120).cost == D("0.66")  # 60 s each


def test_long_call_over_a_whole_peak_day() -> None:
    start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    rating = rate_call(peak_plan(), "441", start, 12 * 3600)
    # 1 h off-peak, 10 h peak, 1 h off-peak
    assert rating.cost == D(60) * D("0.06") * 2 + D(600) * D("0.60")


def test_first_block_is_priced_by_the_row_chosen_at_start() -> None:
    plan = plan_of(
        Rate("44", D("0.60"), initial_rate=D("1.20"), initial_increment=60, time_profile=PEAK),
        Rate("44", D("0.06"), initial_rate=D("0.12"), initial_increment=60, time_profile=OFFPEAK),
    )
    start = datetime(2026, 3, 2, 17, 59, 30, tzinfo=UTC)
    # first 60 s at the peak initial rate (1.20), then 30 s off-peak at 0.06 per minute
    assert rate_call(plan, "441", start, 90).cost == D("1.23")


def test_most_specific_covering_row_wins() -> None:
    plan = plan_of(
        Rate("44", D("0.50"), destination="base"),
        Rate("44", D("0.40"), destination="weekdays", time_profile=parse_time_profile("mon-fri")),
        Rate(
            "44",
            D("0.30"),
            destination="mornings",
            time_profile=parse_time_profile("mon-fri 06:00-12:00"),
        ),
        Rate("44", D("0.20"), destination="holiday", time_profile=parse_time_profile("holidays")),
        holidays=frozenset({date(2026, 3, 3)}),
    )

    def dest(at: datetime) -> str:
        return rate_call(plan, "441", at, 60).destination

    assert dest(datetime(2026, 3, 2, 9, tzinfo=UTC)) == "mornings"
    assert dest(datetime(2026, 3, 2, 13, tzinfo=UTC)) == "weekdays"
    assert dest(datetime(2026, 3, 7, 9, tzinfo=UTC)) == "base"
    assert dest(datetime(2026, 3, 3, 9, tzinfo=UTC)) == "holiday"


def test_a_longer_prefix_that_does_not_cover_the_start_falls_back() -> None:
    plan = plan_of(
        Rate("44", D("0.02"), destination="UK"),
        Rate("447", D("0.60"), destination="UK Mobile peak", time_profile=PEAK),
    )
    assert rate_call(plan, "4479", MONDAY_NOON, 60).destination == "UK Mobile peak"
    evening = MONDAY_NOON.replace(hour=19)
    assert rate_call(plan, "4479", evening, 60).destination == "UK"


def test_profile_hours_are_wall_clock_in_the_plan_timezone() -> None:
    plan = peak_plan("Europe/Paris")  # CET, UTC+1 in early March
    assert rate_call(plan, "441", datetime(2026, 3, 2, 7, 30, tzinfo=UTC), 60).destination == "peak"
    assert rate_call(plan, "441", datetime(2026, 3, 2, 6, 59, tzinfo=UTC), 60).destination == "off"


# --- DST --------------------------------------------------------------------------------

NIGHT = parse_time_profile("00:00-07:00")
DAY = parse_time_profile("07:00-24:00")


def night_day_plan(timezone: str) -> RatePlan:
    return plan_of(
        Rate("44", D("0.06"), destination="night", time_profile=NIGHT),
        Rate("44", D("0.60"), destination="day", time_profile=DAY),
        timezone=timezone,
    )


@pytest.mark.parametrize(
    ("timezone", "day", "day_starts_utc"),
    [
        ("Europe/London", datetime(2026, 3, 28, tzinfo=UTC), 7),  # GMT, Saturday
        ("Europe/London", datetime(2026, 3, 29, tzinfo=UTC), 6),  # BST from 01:00 UTC
        ("Europe/London", datetime(2026, 10, 25, tzinfo=UTC), 7),  # GMT from 01:00 UTC
        ("Europe/Paris", datetime(2026, 3, 29, tzinfo=UTC), 5),  # CEST from 01:00 UTC
        ("Europe/Paris", datetime(2026, 10, 25, tzinfo=UTC), 6),  # CET from 01:00 UTC
    ],
)
def test_night_ends_at_local_seven_on_dst_days(
    timezone: str, day: datetime, day_starts_utc: int
) -> None:
    plan = night_day_plan(timezone)
    start = day.replace(hour=day_starts_utc) - timedelta(seconds=60)
    rating = rate_call(plan, "441", start, 120)
    assert rating.destination == "night"
    assert rating.cost == D("0.66")  # 60 s at 0.06 + 60 s at 0.60


def test_whole_spring_night_in_london_is_six_hours() -> None:
    plan = night_day_plan("Europe/London")
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # local midnight (GMT)
    rating = rate_call(plan, "441", start, 8 * 3600)
    # night from 00:00 GMT to 07:00 BST = 6 real hours; then 2 hours of day
    assert rating.cost == D(360) * D("0.06") + D(120) * D("0.60")


def test_whole_autumn_night_in_paris_is_eight_hours() -> None:
    plan = night_day_plan("Europe/Paris")
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # local midnight (CEST)
    rating = rate_call(plan, "441", start, 9 * 3600)
    assert rating.cost == D(480) * D("0.06") + D(60) * D("0.60")


def test_spring_gap_window_starts_exactly_at_the_clock_change() -> None:
    # London skips 01:00-02:00 on 2026-03-29: at 01:00 UTC the clock reads 02:00 BST,
    # inside 01:15-02:45, so the dear rate starts at that exact second.
    plan = plan_of(
        Rate("44", D("0.06"), destination="base"),
        Rate("44", D("0.60"), destination="window", time_profile=parse_time_profile("01:15-02:45")),
        timezone="Europe/London",
    )
    start = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)
    rating = rate_call(plan, "441", start, 60)
    assert rating.destination == "base"
    assert rating.exact_cost == D("0.33")  # 30 s at 0.06 + 30 s at 0.60
    ends = datetime(2026, 3, 29, 1, 44, 30, tzinfo=UTC)  # 02:44:30 BST
    assert rate_call(plan, "441", ends, 60).exact_cost == D("0.33")


def test_autumn_fold_window_covers_both_passes() -> None:
    # London repeats 01:00-02:00 on 2026-10-25 (first BST, then GMT from 01:00 UTC).
    plan = plan_of(
        Rate("44", D("0.06"), destination="base"),
        Rate("44", D("0.60"), destination="window", time_profile=parse_time_profile("00:30-01:30")),
        timezone="Europe/London",
    )
    # 00:59:30 UTC is 01:59:30 BST (outside); 01:00 UTC is 01:00 GMT (inside again)
    rating = rate_call(plan, "441", datetime(2026, 10, 25, 0, 59, 30, tzinfo=UTC), 60)
    assert (rating.destination, rating.exact_cost) == ("base", D("0.33"))
    # from 00:00 UTC (01:00 BST): 30 min in, 30 min out, 30 min in again, then out
    whole = rate_call(plan, "441", datetime(2026, 10, 25, 0, 0, tzinfo=UTC), 2 * 3600)
    assert whole.cost == D(60) * D("0.60") + D(60) * D("0.06")


def test_autumn_fold_with_a_window_edge_inside_the_repeated_hour() -> None:
    plan = plan_of(
        Rate("33", D("0.06"), destination="base"),
        Rate("33", D("0.60"), destination="window", time_profile=parse_time_profile("02:30-03:00")),
        timezone="Europe/Paris",
    )
    # Paris repeats 02:00-03:00 on 2026-10-25: 02:30-03:00 happens twice,
    # 00:30-01:00 UTC (CEST) and 01:30-02:00 UTC (CET).
    start = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)
    rating = rate_call(plan, "336", start, 2 * 3600)
    assert rating.cost == D(60) * D("0.60") + D(60) * D("0.06")


# --- max duration -------------------------------------------------------------------------


def tariff_of(rate: Rate, **options: object) -> Tariff:
    return Tariff(plan_of(rate, **options), rate.prefix + "1", MONDAY_NOON)


@pytest.mark.parametrize(
    ("available", "longest"),
    [
        ("0.045", 42),
        ("0.0449", 36),
        ("0.04", 36),
        ("0.0399", 30),
        ("0.035", 30),
        ("0.0349", 0),
        ("0", 0),
        ("-1", 0),
        ("10", (10 - D("0.01")) * 60 / D("0.05") // 6 * 6),
    ],
)
def test_max_duration_worked_examples(available: str, longest: int) -> None:
    rate = Rate("33", D("0.05"), connect_fee=D("0.01"), initial_increment=30, increment=6)
    tariff = tariff_of(rate)
    assert tariff.max_duration(D(available)) == longest


def test_max_duration_within_grace() -> None:
    rate = Rate("33", D("0.05"), connect_fee=D("0.01"), initial_increment=30, increment=6, grace=5)
    tariff = tariff_of(rate)
    assert tariff.max_duration(D("0.01")) == 5  # a call within grace is free
    assert tariff.max_duration(D("0.035")) == 30


def test_max_duration_with_minimum() -> None:
    rate = Rate("4915", D("0.11"), connect_fee=D("0.02"), min_duration=30)
    tariff = tariff_of(rate)
    assert tariff.max_duration(D("0.0749")) == 0
    assert tariff.max_duration(D("0.075")) == 30
    assert tariff.max_duration(D("0.0768")) == 31


def test_max_duration_is_capped() -> None:
    tariff = tariff_of(Rate("44", D("0.01")))
    assert tariff.max_duration(D("1000000")) == SYSTEM_MAX_DURATION
    assert tariff.max_duration(D("1000000"), cap=95) == 95
    assert tariff.max_duration(D("0.01"), cap=95) == 60
    assert tariff.max_duration(D("1000000"), cap=0) == 0


def test_max_duration_free_rate_is_the_cap() -> None:
    assert tariff_of(Rate("800", D("0"))).max_duration(D("0"), cap=600) == 600


def test_max_duration_across_peak_and_off_peak() -> None:
    start = datetime(2026, 3, 2, 17, 59, tzinfo=UTC)
    tariff = Tariff(peak_plan(), "441", start)
    # 60 s of peak costs 0.60; each further 6 s off-peak costs 0.006
    assert tariff.max_duration(D("0.60")) == 60
    assert tariff.max_duration(D("0.66")) == 120
    assert tariff.max_duration(D("0.665")) == 120
    assert tariff.max_duration(D("0.666")) == 126
    assert tariff.cost(126) == D("0.666")
