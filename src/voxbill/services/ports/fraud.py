"""What the fraud guard needs from storage: spend counters per account and period, calls
per account and minute, and the operators' high-risk destination prefixes.

Protocols only: ``voxbill.storage`` implements them (``storage/fraud/``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain.fraud import SpendKey


@dataclass(frozen=True, slots=True)
class VelocityMinute:
    calls: int
    spend: Decimal
    alerted: bool


@dataclass(frozen=True, slots=True)
class HighRiskPrefix:
    id: int
    operator_id: int
    prefix: str
    note: str | None
    created_at: datetime


class FraudRepository(Protocol):
    def lock_spend(self, keys: Iterable[SpendKey]) -> dict[tuple[int, str], Decimal]:
        """Each counter's amount, its row created at 0 if missing and locked (ascending)."""
        ...

    def spend(self, keys: Iterable[SpendKey]) -> dict[tuple[int, str], Decimal]:
        """Each counter's amount read without a lock (authorize); missing: none yet."""
        ...

    def add_spend(self, amounts: dict[tuple[int, str], Decimal]) -> None:
        """Add to counters that exist (locked by :meth:`lock_spend` in a start)."""
        ...

    def count_minute(self, account_id: int, minute: datetime, spend: Decimal) -> VelocityMinute:
        """One more call (and its spend) in the minute; the minute's totals after it, its
        row locked until the transaction ends."""
        ...

    def minutes_total(self, account_id: int, since: datetime, until: datetime) -> VelocityMinute:
        """Calls and spend of the minutes in [since, until)."""
        ...

    def mark_alerted(self, account_id: int, minute: datetime) -> bool:
        """Flag the minute alerted; False when it was already."""
        ...

    def forget_minutes(self, before: datetime) -> int:
        """Drop velocity minutes older than ``before``; how many."""
        ...

    def high_risk_prefixes(self, operator_id: int) -> list[HighRiskPrefix]: ...

    def high_risk_page(
        self, operator_id: int, *, after_id: int | None, limit: int
    ) -> list[HighRiskPrefix]:
        """One page of the operator's high-risk prefixes, by id."""
        ...

    def add_high_risk_prefixes(
        self, operator_id: int, prefixes: Sequence[tuple[str, str | None]]
    ) -> list[HighRiskPrefix]:
        """Add those not listed yet; the ones added."""
        ...

    def remove_high_risk_prefix(self, operator_id: int, prefix: str) -> bool: ...
