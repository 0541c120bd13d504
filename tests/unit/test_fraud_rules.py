"""The fraud guard's pure rules (voxbill.domain.fraud)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from voxbill.domain.errors import InvalidInput
from voxbill.domain.fraud import (
    VelocityPolicy,
    check_prefix,
    day_period,
    hour_period,
    matching_prefix,
    velocity_alert,
)


def test_periods_are_calendar_hours_and_days_of_the_zone() -> None:
    at = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    assert hour_period(at, "UTC") == "H2026-03-02T04:00:00+00:00"
    assert hour_period(at, "Asia/Kolkata") == "H2026-03-02T10:00:00+05:30"
    assert day_period(at, "America/New_York") == "D2026-03-01"
    assert day_period(at, "Asia/Tokyo", "R") == "R2026-03-02"
    # the two 01:00 hours of a fall-back night are two periods
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert hour_period(first, "America/New_York") != hour_period(second, "America/New_York")


def test_prefixes() -> None:
    assert check_prefix(" +4470 ") == "4470"
    for bad in ("", "+", "44a", "1234567890123456", "٤٤"):
        with pytest.raises(InvalidInput):
            check_prefix(bad)
    listed = frozenset({"44", "4470", "882"})
    assert matching_prefix("447012345678", listed) == "4470"
    assert matching_prefix("442079460000", listed) == "44"
    assert matching_prefix("33142000000", listed) is None
    assert matching_prefix("33142000000", frozenset()) is None


def test_velocity() -> None:
    policy = VelocityPolicy(D(10), min_calls=20, min_spend=D(50), window_minutes=60)
    assert velocity_alert(19, D(0), 0, D(0), policy) == []  # under the floors
    assert velocity_alert(20, D(0), 0, D(0), policy) == ["calls"]  # no history: any burst
    assert velocity_alert(20, D(0), 120, D(0), policy) == []  # 2/min: 20 is not > 10 x 2
    assert velocity_alert(21, D(0), 120, D(0), policy) == ["calls"]
    assert velocity_alert(1, D(60), 60, D(300), policy) == ["spend"]  # 5/min: 60 > 50
    off = VelocityPolicy(D(0), min_calls=1, min_spend=D(1), window_minutes=60)
    assert not off.enabled
