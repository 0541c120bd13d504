"""Time profiles: when a rate applies (peak, off-peak, weekends, holidays).

A profile is written as clauses joined by ``|``; a clause is ``holidays``, or optional
days and an optional ``HH:MM-HH:MM`` window::

    mon-fri 08:00-18:00          peak
    mon-fri 18:00-08:00|sat-sun  off-peak (a window may wrap past midnight)
    sat+sun|holidays             weekends and the plan's holidays

Profiles are read in the plan's timezone, so a window means wall-clock time there,
across DST changes. When several rows of one prefix cover an instant, the most specific
clause wins: holidays (3) over a day-and-hour window (2) over days or hours alone (1)
over a row without a profile (0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final

from voxbill.domain.errors import InvalidTimeProfile

_DAYS: Final = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
ALL_DAYS: Final = frozenset(range(7))
NOT_COVERED: Final = -1
HOLIDAY_SPECIFICITY: Final = 3


@dataclass(frozen=True, slots=True)
class Clause:
    days: frozenset[int]
    start: int  # minutes after local midnight
    end: int  # minutes after local midnight, 1440 at most; end <= start wraps
    holidays: bool = False

    @property
    def has_window(self) -> bool:
        return not (self.start == 0 and self.end == 1440)

    @property
    def specificity(self) -> int:
        if self.holidays:
            return HOLIDAY_SPECIFICITY
        return int(self.days != ALL_DAYS) + int(self.has_window)

    def covers(self, local: datetime, holidays: frozenset[date]) -> bool:
        if self.holidays:
            return local.date() in holidays
        minute = local.hour * 60 + local.minute
        weekday = local.weekday()
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # A wrapping window covers, on each of its days, the evening and the early morning,
        # so "mon-fri 08:00-18:00" and "mon-fri 18:00-08:00|sat-sun" partition the week.
        return weekday in self.days and (minute >= self.start or minute < self.end)


@dataclass(frozen=True, slots=True)
class TimeProfile:
    spec: str
    clauses: tuple[Clause, ...]

    def specificity_at(self, local: datetime, holidays: frozenset[date]) -> int:
        """The specificity of the best clause covering ``local``, or ``NOT_COVERED``."""
        best = NOT_COVERED
        for clause in self.clauses:
            if clause.specificity > best and clause.covers(local, holidays):
                best = clause.specificity
        return best

    def edges(self) -> frozenset[int]:
        """Minutes of the local day at which this profile may start or stop covering."""
        found = {0}
        for clause in self.clauses:
            found.add(clause.start)
            found.add(clause.end % 1440)
        return frozenset(found)


def _parse_minutes(text: str, spec: str) -> int:
    hours, _, minutes = text.partition(":")
    # ASCII digits only: int() would also read "0_8", " 8" and "٠٨"
    if not (text.isascii() and hours.isdigit() and minutes.isdigit() and len(hours) <= 2):
        raise InvalidTimeProfile(f"time profile {spec!r}: {text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= int(minutes) < 60 or not 0 <= value <= 1440:
        raise InvalidTimeProfile(f"time profile {spec!r}: {text!r} is not a time of day")
    return value


def _parse_days(text: str, spec: str) -> frozenset[int]:
    if text in ("daily", "all", "*"):
        return ALL_DAYS
    days: set[int] = set()
    for part in text.replace("+", ",").split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first not in _DAYS or last not in _DAYS:
                raise InvalidTimeProfile(f"time profile {spec!r}: unknown day in {part!r}")
            day = _DAYS[first]
            while True:
                days.add(day)
                if day == _DAYS[last]:
                    break
                day = (day + 1) % 7
        elif part in _DAYS:
            days.add(_DAYS[part])
        else:
            raise InvalidTimeProfile(f"time profile {spec!r}: unknown day {part!r}")
    return frozenset(days)


def _parse_clause(text: str, spec: str) -> Clause:
    words = text.split()
    if words == ["holidays"]:
        return Clause(ALL_DAYS, 0, 1440, holidays=True)
    days: frozenset[int] = ALL_DAYS
    start, end = 0, 1440
    if not words or len(words) > 2:
        raise InvalidTimeProfile(f"time profile {spec!r}: cannot read clause {text!r}")
    for word in words:
        if ":" in word:
            if "-" not in word:
                raise InvalidTimeProfile(f"time profile {spec!r}: window {word!r} needs a '-'")
            left, right = word.split("-", 1)
            start, end = _parse_minutes(left, spec), _parse_minutes(right, spec)
            if start == 1440:
                raise InvalidTimeProfile(f"time profile {spec!r}: a window cannot start at 24:00")
            if start == end:
                raise InvalidTimeProfile(f"time profile {spec!r}: window {word!r} is empty")
        else:
            days = _parse_days(word, spec)
    return Clause(days, start, end)


def parse_time_profile(spec: str) -> TimeProfile:
    text = spec.strip().lower()
    if not text:
        raise InvalidTimeProfile("time profile is empty")
    clauses = tuple(_parse_clause(part.strip(), spec) for part in text.split("|"))
    return TimeProfile(spec.strip(), clauses)


def next_local_edge(local: datetime, edges: frozenset[int]) -> datetime:
    """The first local wall-clock time after ``local`` that is one of ``edges`` (naive)."""
    minute = local.hour * 60 + local.minute
    day = datetime.combine(local.date(), time(0))
    later = [e for e in edges if e > minute]
    if later:
        return day + timedelta(minutes=min(later))
    return day + timedelta(days=1)
