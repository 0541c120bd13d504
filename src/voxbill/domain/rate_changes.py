"""What a deck import changed in a plan's prices: the rows of price-change notices.

A change is per (prefix, time profile), between the rows that take effect last before
and after the import: the prices customers will pay. Changes are tuples because an
import of a million new prefixes makes a million of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

from voxbill.domain.rates import Rate

#: A rate row's identity in a plan: (prefix, time profile spec, effective from).
RateKey = tuple[str, str | None, datetime | None]

_PriceKey = tuple[str, str | None]
_EPOCH = datetime.min.replace(tzinfo=UTC)


class PriceChange(NamedTuple):
    """A new, increased, decreased or removed price (fields in their stored order)."""

    prefix: str
    time_profile: str | None
    destination: str
    change: str  # new, increased, decreased or removed
    old_rate: Decimal | None
    new_rate: Decimal | None
    effective_from: datetime | None


@dataclass(frozen=True, slots=True)
class RecordedChange:
    """A price change as an import recorded it."""

    id: int
    import_id: int
    plan_id: int
    prefix: str
    time_profile: str | None
    destination: str
    change: str
    old_rate: Decimal | None
    new_rate: Decimal | None
    effective_from: datetime | None


def rate_keys(rows: Iterable[Rate]) -> list[RateKey]:
    return [
        (r.prefix, r.time_profile.spec if r.time_profile else None, r.effective_from) for r in rows
    ]


def _latest(rows: Iterable[Rate]) -> dict[_PriceKey, Rate]:
    """Per (prefix, profile), the row that takes effect last: the price customers will pay."""
    latest: dict[_PriceKey, Rate] = {}
    for rate in rows:
        key = rate.prefix, rate.time_profile.spec if rate.time_profile else None
        current = latest.get(key)
        if current is None or (rate.effective_from or _EPOCH) >= (current.effective_from or _EPOCH):
            latest[key] = rate
    return latest


def diff_rates(old: Iterable[Rate], new: Iterable[Rate], *, replace: bool) -> list[PriceChange]:
    """New, increased, decreased and (on replace) removed prices, by prefix and profile."""
    before, after = _latest(old), _latest(new)
    changes: list[PriceChange] = []
    for (prefix, profile), rate in after.items():
        previous = before.get((prefix, profile))
        if previous is None:
            kind = "new"
        elif rate.rate > previous.rate:
            kind = "increased"
        elif rate.rate < previous.rate:
            kind = "decreased"
        else:
            continue
        changes.append(
            PriceChange(
                prefix,
                profile,
                rate.destination,
                kind,
                previous.rate if previous else None,
                rate.rate,
                rate.effective_from,
            )
        )
    if replace:
        for key, rate in before.items():
            if key not in after:
                changes.append(
                    PriceChange(key[0], key[1], rate.destination, "removed", rate.rate, None, None)
                )
    changes.sort(key=lambda c: (c.prefix, c.time_profile or ""))
    return changes


def change_counts(changes: Iterable[PriceChange]) -> dict[str, int]:
    """How many changes of each kind."""
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.change] = counts.get(change.change, 0) + 1
    return counts
