"""Rate rows and rate plans: the longest-prefix match among rows in force."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import itemgetter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voxbill.domain.errors import InvalidInput, NoRate
from voxbill.domain.money import RoundingMethod
from voxbill.domain.time_profile import NOT_COVERED, TimeProfile


@dataclass(frozen=True, slots=True)
class Rate:
    """One row of a rate deck. Prices are per minute; durations are whole seconds."""

    prefix: str
    rate: Decimal
    destination: str = ""
    connect_fee: Decimal = Decimal(0)
    initial_rate: Decimal | None = None  # None: the first block costs ``rate`` too
    initial_increment: int = 1
    increment: int = 1
    min_duration: int = 0
    grace: int = 0
    effective_from: datetime | None = None  # half-open [from, to), aware, UTC
    effective_to: datetime | None = None
    time_profile: TimeProfile | None = None

    def __post_init__(self) -> None:
        if not self.prefix.isdigit():
            raise InvalidInput(f"prefix {self.prefix!r} must be digits only")
        for name in ("rate", "connect_fee"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or value < 0:
                raise InvalidInput(f"{name} must be a non-negative Decimal")
        if self.initial_rate is not None and self.initial_rate < 0:
            raise InvalidInput("initial_rate must be non-negative")
        if self.initial_increment < 1 or self.increment < 1:
            raise InvalidInput("increments must be at least 1 second")
        if self.min_duration < 0 or self.grace < 0:
            raise InvalidInput("min_duration and grace cannot be negative")
        if self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            raise InvalidInput("effective_to must be after effective_from")

    @property
    def first_rate(self) -> Decimal:
        return self.rate if self.initial_rate is None else self.initial_rate

    @property
    def always(self) -> bool:
        """In force at every instant (no dates, no profile): the lookup fast path."""
        return (
            self.effective_from is None
            and self.effective_to is None
            and (self.time_profile is None)
        )

    def in_force(self, at: datetime) -> bool:
        return (self.effective_from is None or self.effective_from <= at) and (
            self.effective_to is None or at < self.effective_to
        )


@dataclass(frozen=True, slots=True)
class RateGroup:
    """The rows of one prefix in force at a call's start: they price its increments."""

    chosen: Rate
    rows: tuple[Rate, ...]

    @property
    def varies(self) -> bool:
        return len(self.rows) > 1


@dataclass(slots=True)
class RatePlan:
    """A named set of rates in one currency, rounded once per call by its rule."""

    name: str
    currency: str
    rates: Iterable[Rate] = ()
    decimals: int = 4
    rounding: RoundingMethod = RoundingMethod.HALF_UP
    timezone: str = "UTC"
    holidays: frozenset[date] = frozenset()
    # a prefix's only row when it is always in force (the fast path), else all its rows
    _index: dict[str, Rate | tuple[Rate, ...]] = field(init=False, repr=False)
    _lengths: tuple[int, ...] = field(init=False, repr=False)
    _heads: Callable[[str], tuple[str, ...]] = field(init=False, repr=False, compare=False)
    zone: ZoneInfo = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.decimals <= 8:
            raise InvalidInput("a plan rounds to between 0 and 8 decimals")
        self.zone = ZoneInfo(self.timezone)
        grouped: dict[str, list[Rate]] = {}
        for rate in self.rates:
            grouped.setdefault(rate.prefix, []).append(rate)
        epoch = datetime.min.replace(tzinfo=UTC)
        # newest effective_from first: a later price supersedes an earlier one
        self._index = {}
        for prefix, rows in grouped.items():
            ordered = tuple(sorted(rows, key=lambda r: r.effective_from or epoch, reverse=True))
            self._index[prefix] = ordered[0] if len(ordered) == 1 and ordered[0].always else ordered
        self._lengths = tuple(sorted({len(p) for p in self._index}, reverse=True))
        self._heads = _heads_of(self._lengths)
        self.rates = ()

    def __len__(self) -> int:
        return sum(len(self._rows_of(prefix)) for prefix in self._index)

    def _rows_of(self, prefix: str) -> tuple[Rate, ...]:
        rows = self._index[prefix]
        return (rows,) if isinstance(rows, Rate) else rows

    def single(self, rate: Rate) -> bool:
        """``rate`` is the only row of its prefix: nothing else can price part of a call."""
        rows = self._index.get(rate.prefix)
        return rows is None or isinstance(rows, Rate) or len(rows) == 1

    def rows(self) -> Iterable[Rate]:
        for prefix in self._index:
            yield from self._rows_of(prefix)

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def _best(self, rows: tuple[Rate, ...], at: datetime) -> Rate | None:
        best: Rate | None = None
        best_score = NOT_COVERED
        local: datetime | None = None
        for row in rows:
            if not row.in_force(at):
                continue
            if row.time_profile is None:
                score = 0
            else:
                if local is None:
                    local = self.local(at)
                score = row.time_profile.specificity_at(local, self.holidays)
            if score > best_score:
                best, best_score = row, score
        return best

    def lookup(self, number: str, at: datetime) -> Rate:
        """The row of the longest prefix in force at ``at`` that covers it; else NoRate."""
        # The heads of ``number``, longest first, are cut and looked up in C (itemgetter,
        # map); a head longer than the number is the whole number, which changes nothing.
        for rows in map(self._index.get, self._heads(number)):
            if rows is None:
                continue
            if isinstance(rows, Rate):
                return rows
            return self._lookup_rows(number, at)
        raise NoRate(f"no rate for {number} in plan {self.name}")

    def _lookup_rows(self, number: str, at: datetime) -> Rate:
        """The general case: rows that are dated or time-profiled may not cover ``at``."""
        index = self._index
        size = len(number)
        for length in self._lengths:
            if length > size:
                continue
            rows = index.get(number[:length])
            if rows is None:
                continue
            if isinstance(rows, Rate):
                return rows
            best = self._best(rows, at)
            if best is not None:
                return best
        raise NoRate(f"no rate for {number} in plan {self.name}")

    def group(self, rate: Rate, at: datetime) -> RateGroup:
        """``rate`` and the other rows of its prefix in force at ``at``."""
        rows = self._rows_of(rate.prefix) if rate.prefix in self._index else (rate,)
        if len(rows) == 1:
            return RateGroup(rate, rows)
        return RateGroup(rate, tuple(r for r in rows if r.in_force(at)))

    def price_row(self, group: RateGroup, at: datetime) -> Rate:
        """The row of ``group`` that prices an increment starting at ``at``."""
        return self._best(group.rows, at) or group.chosen


def _heads_of(lengths: tuple[int, ...]) -> Callable[[str], tuple[str, ...]]:
    """A function cutting a number into its heads of ``lengths``, in that order."""
    if len(lengths) > 1:
        cut: Callable[[str], tuple[str, ...]] = itemgetter(*(slice(0, n) for n in lengths))
        return cut
    return lambda number: tuple(number[:n] for n in lengths)


@dataclass(frozen=True, slots=True)
class PlanRecord:
    id: int
    name: str
    currency: str
    decimals: int
    rounding: RoundingMethod
    timezone: str
    holidays: frozenset[date]
    version: int
    #: the operator root that owns the plan (None: imported before any operator existed)
    operator_id: int | None = None
    #: the reseller account that made and prices the plan (None: the operator's own)
    owner_account_id: int | None = None


@dataclass(frozen=True, slots=True)
class StoredRate:
    """A plan's rate row as stored (its id pages through a plan; the time profile is its
    spec text), for reading a plan back, not for rating."""

    id: int
    prefix: str
    destination: str
    rate: Decimal
    connect_fee: Decimal
    initial_rate: Decimal | None
    initial_increment: int
    increment: int
    min_duration: int
    grace: int
    effective_from: datetime | None
    effective_to: datetime | None
    time_profile: str | None


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One import into a plan (a deck, or the copy that made it), as recorded."""

    id: int
    plan_id: int
    source: str
    mode: str  # merge, replace or copy
    rows_read: int
    rows_imported: int
    rows_rejected: int
    imported_at: datetime


@dataclass(frozen=True)
class PlanOptions:
    """How a new plan rounds and where its time profiles live; refused if they differ later."""

    currency: str | None = None
    decimals: int | None = None
    rounding: RoundingMethod | None = None
    timezone: str | None = None
    holidays: frozenset[date] | None = None

    def new_plan(self, name: str, currency: str | None) -> tuple[str, str, int]:
        """(currency, timezone, decimals) of a new plan made with these options."""
        if currency is None:
            raise InvalidInput(f"plan {name!r} is new: give its currency (--currency)")
        timezone = self.timezone or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown timezone {timezone!r}") from None
        decimals = 4 if self.decimals is None else self.decimals
        if not 0 <= decimals <= 8:
            raise InvalidInput("a plan rounds to between 0 and 8 decimals")
        return currency, timezone, decimals

    def check_kept(self, record: PlanRecord, currency: str | None) -> None:
        """An existing plan keeps its settings: options that differ are refused, never
        silently ignored."""
        name = record.name
        if currency is not None and currency != record.currency:
            raise InvalidInput(f"plan {name!r} is in {record.currency}, not {currency}")
        for option, given, kept in (
            ("timezone", self.timezone, record.timezone),
            ("decimals", self.decimals, record.decimals),
            ("rounding", self.rounding, record.rounding),
        ):
            if given is not None and given != kept:
                raise InvalidInput(f"plan {name!r} has {option} {kept}, not {given}")
