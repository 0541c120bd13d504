"""Quoting calls against stored rate plans, with plans cached in memory.

A plan is named within its operator: every read says whose plan it means (the operator
root of the account being rated, or of the API key), and another operator's plan of the
same name is a different plan, never this one. The cache is keyed the same way.

The cache is only a cache: a plan is reloaded when its stored version changes (checked
at most once per ``recheck_seconds``), so several nodes agree within that interval.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voxbill.domain.errors import InvalidInput, UnknownRatePlan
from voxbill.domain.numbers import normalize_number
from voxbill.domain.rates import RatePlan
from voxbill.domain.rating import Rating, Tariff, call_start
from voxbill.services.unit_of_work import UnitOfWork
from voxbill.serving import warm
from voxbill.settings import Settings

#: An operator root's id: whose plan a name means (None: the plans of an installation
#: without any operator yet, as the command line rates them).
Owner = int | None


__all__ = ["Owner", "Quote", "RatingService", "call_start"]


@dataclass
class _Cached:
    """A loaded plan, its stored version, and when that version was last checked."""

    plan: RatePlan
    version: int
    checked: float


@dataclass(frozen=True)
class Quote:
    rating: Rating
    number: str
    at: datetime
    duration: int
    max_duration: int | None = None


class RatingService:
    def __init__(self, uow: UnitOfWork, settings: Settings, recheck_seconds: float = 1.0) -> None:
        self._uow = uow
        self._settings = settings
        self._recheck = recheck_seconds
        self._plans: dict[tuple[Owner, str], _Cached] = {}
        self._lock = threading.Lock()

    def forget(self, operator_id: Owner, name: str) -> None:
        with self._lock:
            self._plans.pop((operator_id, name), None)

    def plan(self, operator_id: Owner, name: str, *, stale_ok: float = 0.0) -> RatePlan:
        """The operator's plan, from memory when its version was checked in the last
        second (plus ``stale_ok`` seconds: callers inside a transaction, which must not
        open a second one, having checked it just before theirs)."""
        key = (operator_id, name)
        cached = self._plans.get(key)
        now = time.monotonic()
        if cached is not None and now - cached.checked < self._recheck + stale_ok:
            return cached.plan
        warm.require_warm("a rate plan's version to check")  # a load may take seconds
        with self._uow.transaction(readonly=True) as tx:
            version = tx.rates.plan_version(operator_id, name)
            if version is None:
                self.forget(operator_id, name)
                raise UnknownRatePlan(f"there is no rate plan named {name!r}")
            if cached is not None and cached.version == version:
                cached.checked = now
                return cached.plan
            loaded = tx.rates.load_plan(operator_id, name)
        if loaded is None:  # pragma: no cover - deleted between the two reads
            raise UnknownRatePlan(f"there is no rate plan named {name!r}")
        plan, version = loaded
        with self._lock:
            self._plans[key] = _Cached(plan, version, now)
        return plan

    def normalize(self, number: str) -> str:
        return normalize_number(
            number,
            default_region=self._settings.default_region,
            international_prefix=self._settings.international_prefix,
        )

    def tariff(
        self, operator_id: Owner, plan: str, number: str, at: datetime | None = None
    ) -> Tariff:
        return self.tariff_of_e164(operator_id, plan, self.normalize(number), at)

    def tariff_of_e164(
        self,
        operator_id: Owner,
        plan: str,
        digits: str,
        at: datetime | None = None,
        *,
        stale_ok: float = 0.0,
    ) -> Tariff:
        """:meth:`tariff` for a number already normalized (E.164 digits)."""
        start = call_start(at or datetime.now(UTC))
        return Tariff(self.plan(operator_id, plan, stale_ok=stale_ok), digits, start)

    def quote(
        self,
        operator_id: Owner,
        plan: str,
        number: str,
        duration: int,
        at: datetime | None = None,
        available: Decimal | None = None,
    ) -> Quote:
        if duration < 0:
            raise InvalidInput("duration cannot be negative")
        if duration > self._settings.max_call_duration * 6:
            raise InvalidInput("duration is longer than any call voxbill rates")
        tariff = self.tariff(operator_id, plan, number, at)
        longest = None
        if available is not None:
            longest = tariff.max_duration(available, self._settings.max_call_duration)
        return Quote(tariff.rate(duration), self.normalize(number), tariff.start, duration, longest)
