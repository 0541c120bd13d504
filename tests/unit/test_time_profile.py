"""Time profiles: parsing, coverage, specificity and edges."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from voxbill.domain.errors import InvalidTimeProfile
from voxbill.domain.time_profile import (
    ALL_DAYS,
    NOT_COVERED,
    next_local_edge,
    parse_time_profile,
)

NO_HOLIDAYS: frozenset[date] = frozenset()
# 2026-03-02 is a Monday.
MON, FRI, SAT, SUN = 2, 6, 7, 8


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute)


def test_peak_window() -> None:
    peak = parse_time_profile("mon-fri 08:00-18:00")
    assert peak.specificity_at(at(MON, 8), NO_HOLIDAYS) == 2
    assert peak.specificity_at(at(MON, 17, 59), NO_HOLIDAYS) == 2
    assert peak.specificity_at(at(MON, 18), NO_HOLIDAYS) == NOT_COVERED  # half-open
    assert peak.specificity_at(at(MON, 7, 59), NO_HOLIDAYS) == NOT_COVERED
    assert peak.specificity_at(at(SAT, 12), NO_HOLIDAYS) == NOT_COVERED


def test_wrapping_window_covers_each_listed_days_evening_and_morning() -> None:
    night = parse_time_profile("mon-fri 18:00-08:00")
    assert night.specificity_at(at(FRI, 23), NO_HOLIDAYS) == 2
    assert night.specificity_at(at(MON, 7, 59), NO_HOLIDAYS) == 2  # Monday early morning
    assert night.specificity_at(at(MON, 8), NO_HOLIDAYS) == NOT_COVERED
    assert night.specificity_at(at(SAT, 7), NO_HOLIDAYS) == NOT_COVERED  # Saturday is not listed
    assert night.specificity_at(at(SAT, 23), NO_HOLIDAYS) == NOT_COVERED


def test_documented_peak_and_off_peak_partition_the_week() -> None:
    peak = parse_time_profile("mon-fri 08:00-18:00")
    offpeak = parse_time_profile("mon-fri 18:00-08:00|sat-sun|holidays")
    for day in range(MON, MON + 7):
        for minute in range(0, 1440, 15):
            local = at(day, minute // 60, minute % 60)
            covered = [p.specificity_at(local, NO_HOLIDAYS) != NOT_COVERED for p in (peak, offpeak)]
            assert covered.count(True) == 1, local


def test_days_alone_hours_alone_and_holidays() -> None:
    weekend = parse_time_profile("sat-sun")
    hours = parse_time_profile("20:00-24:00")
    holidays = parse_time_profile("holidays")
    christmas = frozenset({date(2026, 3, 4)})
    assert weekend.specificity_at(at(SUN, 3), NO_HOLIDAYS) == 1
    assert weekend.specificity_at(at(MON, 3), NO_HOLIDAYS) == NOT_COVERED
    assert hours.specificity_at(at(MON, 23, 59), NO_HOLIDAYS) == 1
    assert hours.specificity_at(at(MON, 19, 59), NO_HOLIDAYS) == NOT_COVERED
    assert holidays.specificity_at(at(4, 12), christmas) == 3
    assert holidays.specificity_at(at(5, 12), christmas) == NOT_COVERED


def test_best_clause_wins_within_a_profile() -> None:
    offpeak = parse_time_profile("Mon-Fri 18:00-08:00 | sat+sun | holidays")
    assert len(offpeak.clauses) == 3
    assert offpeak.specificity_at(at(SAT, 12), NO_HOLIDAYS) == 1
    assert offpeak.specificity_at(at(MON, 7), NO_HOLIDAYS) == 2
    assert offpeak.specificity_at(at(MON, 12), frozenset({date(2026, 3, 2)})) == 3


def test_day_lists_and_wrapping_day_ranges() -> None:
    assert parse_time_profile("mon,wed,fri").clauses[0].days == frozenset({0, 2, 4})
    assert parse_time_profile("fri-mon").clauses[0].days == frozenset({4, 5, 6, 0})
    assert parse_time_profile("daily 08:00-09:00").clauses[0].days == ALL_DAYS


def test_edges() -> None:
    profile = parse_time_profile("mon-fri 08:00-18:00|sat 20:00-24:00")
    assert profile.edges() == frozenset({0, 480, 1080, 1200})
    assert next_local_edge(datetime(2026, 3, 2, 7, 59, 30), profile.edges()) == datetime(
        2026, 3, 2, 8, 0
    )
    assert next_local_edge(datetime(2026, 3, 2, 8, 0), profile.edges()) == datetime(
        2026, 3, 2, 18, 0
    )
    assert next_local_edge(datetime(2026, 3, 2, 21, 0), profile.edges()) == datetime(
        2026, 3, 3, 0, 0
    )


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "   ",
        "mon-fri 08:00",
        "mon-fri 8-18",
        "mon-fri 08:00-25:00",
        "mon-fri 08:60-09:00",
        "08:00-08:00",
        "24:00-08:00",
        "funday",
        "mon-xyz",
        "mon-fri 08:00-18:00 extra",
        "mon-fri 08:00-18:00|",
        "08:00:00-09:00",
    ],
)
def test_bad_profiles_are_refused(spec: str) -> None:
    with pytest.raises(InvalidTimeProfile):
        parse_time_profile(spec)
