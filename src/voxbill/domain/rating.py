"""Pricing a call exactly, and its exact inverse: the longest call an amount pays for.

Billed seconds for a duration d: 0 when d <= grace, else max(d, min_duration) rounded up
to the increments (the first block is the initial increment, each further block the
subsequent increment). Cost = connect fee + (first block x initial rate + other billed
seconds x rate) / 60, rounded once by the plan's rule. A call within its grace seconds
costs nothing, connect fee included. When the rows of a prefix differ by time profile,
each block is priced at the rate in force at the instant the block starts.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import MONEY_CONTEXT, ZERO, round_amount
from voxbill.domain.rates import Rate, RateGroup, RatePlan
from voxbill.domain.time_profile import next_local_edge

SIXTY: Final = Decimal(60)
_add: Final = MONEY_CONTEXT.add
_divide: Final = MONEY_CONTEXT.divide
#: The longest call voxbill grants unless a setting says otherwise (4 hours).
SYSTEM_MAX_DURATION: Final = 4 * 3600
#: Calls outside these instants are refused (the far ends overflow date arithmetic).
EARLIEST_CALL: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_CALL: Final = datetime(9000, 1, 1, tzinfo=UTC)


def call_start(at: datetime) -> datetime:
    """``at`` as an aware instant a call may start at (naive means UTC); InvalidInput
    outside the years 1900 to 9000, where date arithmetic would overflow."""
    start = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if not EARLIEST_CALL <= start <= LATEST_CALL:
        raise InvalidInput("a call's start must be between the years 1900 and 9000")
    return start


@dataclass(frozen=True, slots=True)
class Rating:
    """What a call costs: the rounded cost, and everything needed to explain it."""

    plan: str
    currency: str
    prefix: str
    destination: str
    rate: Decimal  # price per minute at the call's start
    billed_seconds: int
    exact_cost: Decimal  # before the one rounding
    cost: Decimal


def billed_seconds(rate: Rate, duration: int) -> int:
    if duration < 0:
        raise InvalidInput("duration cannot be negative")
    if duration <= rate.grace:
        return 0
    seconds = max(duration, rate.min_duration)
    first = rate.initial_increment
    if seconds <= first:
        return first
    step = rate.increment
    return first + -(-(seconds - first) // step) * step


def _as_utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


class Tariff:
    """A prefix's rows in force at one call's start, ready to price any duration.

    Pricing segments (spans of the call during which one row prices every block) are
    found lazily and kept, so repeated pricing (the inverse search) reuses them. The
    group of rows and its profile edges are only worked out when the prefix has several
    rows: a prefix with one row (most of a deck) is priced by plain arithmetic.
    """

    __slots__ = ("_edges", "_group", "_plan", "_rows", "_single", "_starts", "row", "start")

    def __init__(self, plan: RatePlan, number: str, start: datetime) -> None:
        self._plan = plan
        self.start = start = _as_utc(start)
        self.row = row = plan.lookup(number, start)
        self._single = plan.single(row)
        self._group: RateGroup | None = None
        self._edges: frozenset[int] = frozenset()
        self._starts: list[int] = []
        self._rows: list[Rate] = []

    @property
    def plan(self) -> RatePlan:
        return self._plan

    @property
    def group(self) -> RateGroup:
        """The rows of the prefix in force at the call's start."""
        if self._group is None:
            self._group = self._plan.group(self.row, self.start)
        return self._group

    def _segment(self, offset: int) -> tuple[Rate, int]:
        """The row pricing a block that starts ``offset`` s into the call, and where it ends."""
        starts, rows = self._starts, self._rows
        if not starts:
            edges: set[int] = set()
            for row in self.group.rows:
                if row.time_profile is not None:
                    edges |= row.time_profile.edges()
            self._edges = frozenset(edges)
            starts.append(0)
            rows.append(self.row)
        while starts[-1] <= offset:
            boundary = self._next_boundary(starts[-1])
            starts.append(boundary)
            rows.append(self._plan.price_row(self.group, self.start + timedelta(seconds=boundary)))
        index = bisect_right(starts, offset) - 1
        return rows[index], starts[index + 1]

    def _next_boundary(self, offset: int) -> int:
        """Seconds from the start to the next instant at which the pricing row may change."""
        plan = self._plan
        at = self.start + timedelta(seconds=offset)
        local = plan.local(at)
        wall = next_local_edge(local, self._edges)
        candidate = wall.replace(tzinfo=plan.zone).astimezone(UTC)
        if plan.local(candidate).utcoffset() != local.utcoffset():
            candidate = min(candidate, self._offset_change(at, candidate))
        seconds = -(-(candidate - self.start) // timedelta(seconds=1))
        return max(seconds, offset + 1)

    def _offset_change(self, low: datetime, high: datetime) -> datetime:
        """The first whole second after ``low`` at which the plan's UTC offset differs.

        Searched in whole seconds from ``low`` (a block start), so the boundary falls on the
        exact second of the DST change and not up to a second after it.
        """
        zone = self._plan.zone
        second = timedelta(seconds=1)
        before = low.astimezone(zone).utcoffset()
        lo, hi = 0, max(1, -(-(high - low) // second))
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if (low + mid * second).astimezone(zone).utcoffset() == before:
                lo = mid
            else:
                hi = mid
        return low + hi * second

    def exact_cost(self, duration: int) -> Decimal:
        """The cost before rounding (a Decimal with up to 50 significant digits)."""
        return self._price(duration)[1]

    def _price(self, duration: int) -> tuple[int, Decimal]:
        """Billed seconds and the cost before rounding."""
        row = self.row
        billed = billed_seconds(row, duration)
        if billed == 0:
            return 0, ZERO
        first = row.initial_increment
        if self._single or not self.group.varies:
            minutes = first * row.first_rate + (billed - first) * row.rate
            return billed, _add(row.connect_fee, _divide(minutes, SIXTY))
        total = first * row.first_rate
        step = row.increment
        offset = first
        while offset < billed:
            seg_row, seg_end = self._segment(offset)
            blocks = -(-(min(seg_end, billed) - offset) // step)
            total += blocks * step * seg_row.rate
            offset += blocks * step
        return billed, _add(row.connect_fee, _divide(total, SIXTY))

    def rate(self, duration: int) -> Rating:
        billed, exact = self._price(duration)
        plan = self._plan
        cost = round_amount(exact, plan.decimals, plan.rounding)
        row = self.row
        return Rating(
            plan.name,
            plan.currency,
            row.prefix,
            row.destination,
            row.rate,
            billed,
            exact,
            cost,
        )

    def cost(self, duration: int) -> Decimal:
        plan = self._plan
        return round_amount(self.exact_cost(duration), plan.decimals, plan.rounding)

    def max_duration(self, available: Decimal, cap: int = SYSTEM_MAX_DURATION) -> int:
        """The longest duration (an increment boundary, or the cap) whose cost <= available.

        ``cost(result) <= available < cost(next boundary)``, unless the cap bounds it.
        """
        if cap <= 0:
            return 0
        row = self.row
        free = min(row.grace, cap)
        if available < 0:
            return 0
        first_boundary = billed_seconds(row, row.grace + 1)
        if self.cost(first_boundary) > available:
            return free
        step = row.increment
        # blocks needed to reach the cap: boundaries are first_boundary + k * step
        last = max(0, -(-(cap - first_boundary) // step))
        if self.cost(first_boundary + last * step) <= available:
            return cap
        low, high = 0, last  # cost(low) <= available < cost(high)
        guess = self._guess(available, first_boundary, step)
        if low < guess < high:
            # the start row's linear cost brackets the answer in one or two more pricings;
            # the bisection below keeps the invariant whatever the guess was worth
            if self.cost(first_boundary + guess * step) <= available:
                low = guess
                if self.cost(first_boundary + (guess + 1) * step) > available:
                    high = guess + 1
            else:
                high = guess
                if self.cost(first_boundary + (guess - 1) * step) <= available:
                    low = guess - 1
        while high - low > 1:
            mid = (low + high) // 2
            if self.cost(first_boundary + mid * step) <= available:
                low = mid
            else:
                high = mid
        return min(first_boundary + low * step, cap)

    def _guess(self, available: Decimal, first_boundary: int, step: int) -> int:
        """Blocks after the first boundary that ``available`` pays for at the start row's
        prices, before rounding: only a starting point for the exact search (-1 if none).
        """
        row = self.row
        if not row.rate:
            return -1
        first = row.initial_increment
        budget = (available - row.connect_fee) * SIXTY - first * row.first_rate
        return int((first + budget / row.rate - first_boundary) // step)


def rate_call(plan: RatePlan, number: str, start: datetime, duration: int) -> Rating:
    """Price one call of ``duration`` seconds to E.164 ``number`` starting at ``start``."""
    return Tariff(plan, number, start).rate(duration)


def max_duration(
    plan: RatePlan, number: str, start: datetime, available: Decimal, cap: int = SYSTEM_MAX_DURATION
) -> int:
    return Tariff(plan, number, start).max_duration(available, cap)


__all__ = ["SYSTEM_MAX_DURATION", "Rating", "Tariff", "billed_seconds", "max_duration", "rate_call"]
