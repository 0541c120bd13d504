"""A tariff frozen at a call's start and thawed later prices every duration exactly as
the plan did then: same rows, rounding, time zone (DST), holidays and effective dates."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from voxbill.domain.money import RoundingMethod
from voxbill.domain.rates import Rate, RatePlan
from voxbill.domain.rating import Tariff
from voxbill.domain.tariff_snapshot import freeze, thaw
from voxbill.domain.time_profile import parse_time_profile

NUMBER = "33612345678"
#: a Friday evening in Paris just before the spring DST change, a holiday on the Monday
START = datetime(2026, 3, 27, 16, 55, 17, tzinfo=UTC)
PLAN = RatePlan(
    "profiled",
    "EUR",
    [
        Rate(
            "33",
            D("0.10"),
            "France peak",
            D("0.015"),
            D("0.2"),
            30,
            6,
            10,
            2,
            time_profile=parse_time_profile("mon-fri 08:00-18:00"),
        ),
        Rate("33", D("0.02"), "France off-peak", D("0.015"), None, 30, 6, 10, 2),
        Rate("33", D("0.05"), "France old", effective_to=datetime(2026, 1, 1, tzinfo=UTC)),
        Rate("336", D("0.30"), "France mobile", effective_from=datetime(2026, 4, 1, tzinfo=UTC)),
        Rate("44", D("0.07"), "UK"),
    ],
    decimals=3,
    rounding=RoundingMethod.UP,
    timezone="Europe/Paris",
    holidays=frozenset({date(2026, 3, 30)}),
)


@given(st.integers(min_value=0, max_value=4 * 24 * 3600))
def test_a_thawed_tariff_prices_like_the_plan_at_the_start(duration: int) -> None:
    original = Tariff(PLAN, NUMBER, START)
    snapshot = json.loads(json.dumps(freeze(original)))  # stored as JSON on the session
    assert thaw(snapshot, NUMBER, START).rate(duration) == original.rate(duration)


def test_the_snapshot_holds_only_the_matched_prefix_rows_in_force_at_the_start() -> None:
    snapshot = freeze(Tariff(PLAN, NUMBER, START))
    assert [row["destination"] for row in snapshot["rows"]] == ["France peak", "France off-peak"]
    assert (snapshot["rounding"], snapshot["timezone"], snapshot["holidays"]) == (
        "up",
        "Europe/Paris",
        ["2026-03-30"],
    )
