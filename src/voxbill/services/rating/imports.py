"""Importing a rate deck into a plan: all or nothing, with a record of what changed.

The plan is the importing operator's (``operator_id``): a name another operator uses is
another plan, never touched here; a new name creates the operator's own plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voxbill.domain.errors import InvalidInput, RateDeckError
from voxbill.domain.money import RoundingMethod, normalize_currency
from voxbill.domain.rates import PlanRecord, Rate
from voxbill.services.rating.deck import Deck, read_deck
from voxbill.storage.accounts import repository as accounts_repo
from voxbill.storage.database import Database
from voxbill.storage.rating import rates as repo

_Key = tuple[str, str | None]


@dataclass(frozen=True)
class PlanOptions:
    """How a new plan rounds and where its time profiles live; refused if they differ later."""

    currency: str | None = None
    decimals: int | None = None
    rounding: RoundingMethod | None = None
    timezone: str | None = None
    holidays: frozenset[date] | None = None


@dataclass
class ImportReport:
    plan: str
    currency: str
    mode: str
    rows_read: int
    rows_imported: int
    rows_rejected: int
    problems: list[tuple[int, str]]
    changes: dict[str, int] = field(default_factory=dict)
    import_id: int | None = None
    ignored_columns: list[str] = field(default_factory=list)


def _profile_key(rate: Rate) -> _Key:
    return rate.prefix, rate.time_profile.spec if rate.time_profile else None


def _latest(rows: Iterable[Rate]) -> dict[_Key, Rate]:
    """Per (prefix, profile), the row that takes effect last: the price customers will pay."""
    epoch = datetime.min.replace(tzinfo=UTC)
    latest: dict[_Key, Rate] = {}
    for rate in rows:
        key = _profile_key(rate)
        current = latest.get(key)
        if current is None or (rate.effective_from or epoch) >= (current.effective_from or epoch):
            latest[key] = rate
    return latest


def diff_rates(old: Iterable[Rate], new: Iterable[Rate], *, replace: bool) -> list[dict[str, Any]]:
    """New, increased, decreased and (on replace) removed prices, for change notices."""
    before, after = _latest(old), _latest(new)
    changes: list[dict[str, Any]] = []
    for key, rate in after.items():
        previous = before.get(key)
        if previous is None:
            kind = "new"
        elif rate.rate > previous.rate:
            kind = "increased"
        elif rate.rate < previous.rate:
            kind = "decreased"
        else:
            continue
        changes.append(
            {
                "prefix": key[0],
                "time_profile": key[1],
                "destination": rate.destination,
                "change": kind,
                "old_rate": previous.rate if previous else None,
                "new_rate": rate.rate,
                "effective_from": rate.effective_from,
            }
        )
    if replace:
        for key, rate in before.items():
            if key not in after:
                changes.append(
                    {
                        "prefix": key[0],
                        "time_profile": key[1],
                        "destination": rate.destination,
                        "change": "removed",
                        "old_rate": rate.rate,
                        "new_rate": None,
                        "effective_from": None,
                    }
                )
    changes.sort(key=lambda c: (c["prefix"], c["time_profile"] or ""))
    return changes


class RateImportService:
    def __init__(
        self, db: Database, on_change: Callable[[int | None, str], None] | None = None
    ) -> None:
        self._db = db
        self._on_change = on_change

    def read(
        self,
        lines: Iterable[str],
        *,
        timezone: str = "UTC",
        progress: Callable[[int], None] | None = None,
    ) -> Deck:
        return read_deck(lines, timezone=timezone, progress=progress)

    def plan_timezone(self, operator_id: int | None, plan: str, options: PlanOptions) -> str:
        """The zone naive deck dates are read in: the plan's, or the one given for a new plan."""
        with self._db.transaction(readonly=True) as conn:
            record = repo.find_plan(conn, operator_id, plan)
        if record is not None:
            return record.timezone
        return options.timezone or "UTC"

    def import_deck(
        self,
        deck: Deck,
        *,
        operator_id: int | None,
        plan: str,
        source: str,
        options: PlanOptions,
        replace: bool = False,
        skip_bad_rows: bool = False,
    ) -> ImportReport:
        name = plan.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a plan name of 1 to 100 characters is required")
        if deck.problems and not skip_bad_rows:
            line, message = deck.problems[0]
            more = len(deck.problems) - 1
            suffix = f" ({more} more bad rows)" if more else ""
            raise RateDeckError(
                f"line {line}: {message}{suffix}; nothing was imported "
                "(fix the row, or pass --skip-bad-rows)",
                deck.problems,
            )
        new_rates = [row.rate for row in deck.rows]
        mode = "replace" if replace else "merge"
        with self._db.transaction() as conn:
            record = self._plan(conn, operator_id, name, options)
            repo.lock_plan(conn, record.id)
            old_rates = repo.load_rates(conn, record.id)
            if replace:
                changes = diff_rates(old_rates, new_rates, replace=True)
                repo.delete_rates(conn, record.id)
            else:
                replaced: list[Rate] = []
                if old_rates:  # a first import has nothing to replace
                    keys = set(_keys(new_rates))
                    replaced = [
                        r for r, key in zip(old_rates, _keys(old_rates), strict=True) if key in keys
                    ]
                changes = diff_rates(old_rates, new_rates, replace=False)
                repo.delete_rates(conn, record.id, _keys(replaced))
            repo.insert_rates(conn, record.id, new_rates)
            repo.bump_version(conn, record.id)
            import_id = repo.record_import(
                conn,
                plan_id=record.id,
                source=source,
                mode=mode,
                rows_read=deck.rows_read,
                rows_imported=len(new_rates),
                rows_rejected=len(deck.problems),
            )
            repo.record_changes(conn, import_id, record.id, changes)
        if self._on_change is not None:
            self._on_change(operator_id, name)
        counts: dict[str, int] = {}
        for change in changes:
            counts[change["change"]] = counts.get(change["change"], 0) + 1
        return ImportReport(
            name,
            record.currency,
            mode,
            deck.rows_read,
            len(new_rates),
            len(deck.problems),
            deck.problems,
            counts,
            import_id,
            deck.ignored_columns,
        )

    def _plan(
        self, conn: Any, operator_id: int | None, name: str, options: PlanOptions
    ) -> PlanRecord:
        record = repo.find_plan(conn, operator_id, name)
        currency = normalize_currency(options.currency) if options.currency else None
        if record is None and operator_id is None and accounts_repo.operator_ids(conn):
            # a plan without an owner is only for an installation without operators
            raise InvalidInput("give the operator whose plan this is (--operator ID)")
        if record is None:
            if currency is None:
                raise InvalidInput(f"plan {name!r} is new: give its currency (--currency)")
            timezone = options.timezone or "UTC"
            try:
                ZoneInfo(timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise InvalidInput(f"unknown timezone {timezone!r}") from None
            decimals = 4 if options.decimals is None else options.decimals
            if not 0 <= decimals <= 8:
                raise InvalidInput("a plan rounds to between 0 and 8 decimals")
            return repo.create_plan(
                conn,
                operator_id=operator_id,
                name=name,
                currency=currency,
                decimals=decimals,
                rounding=options.rounding or RoundingMethod.HALF_UP,
                timezone=timezone,
                holidays=options.holidays or (),
            )
        if currency is not None and currency != record.currency:
            raise InvalidInput(f"plan {name!r} is in {record.currency}, not {currency}")
        for option, given, kept in (
            ("timezone", options.timezone, record.timezone),
            ("decimals", options.decimals, record.decimals),
            ("rounding", options.rounding, record.rounding),
        ):
            if given is not None and given != kept:  # never silently ignored
                raise InvalidInput(f"plan {name!r} has {option} {kept}, not {given}")
        return record


def _keys(rows: Iterable[Rate]) -> list[tuple[str, str | None, datetime | None]]:
    return [
        (r.prefix, r.time_profile.spec if r.time_profile else None, r.effective_from) for r in rows
    ]


__all__ = ["ImportReport", "PlanOptions", "RateImportService", "diff_rates"]
