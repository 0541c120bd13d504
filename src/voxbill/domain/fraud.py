"""The fraud guard's rules (docs/charging.md, "Fraud guard"): spend caps per hour and per
day, destinations the operator marks high risk, velocity alerts. Pure: no database.

**Spend caps.** An account's ``hourly_spend_cap`` / ``daily_spend_cap`` bound what the
calls it pays for may cost in one calendar hour / day *of its timezone*; its
``high_risk_daily_cap`` bounds, per day, what calls to high-risk destinations may cost.
A capped account counts the charge of the **nearest paying level at or below it** in the
chain (its own level when it pays, else that of the account below it that pays: a
customer's cap bounds its whole subtree's calls; a reseller's with a plan, its
wholesale charges), when that level is in the account's currency (else the cap does not
apply to the call). A call counts in the periods of its start. What a period has spent
is kept in a counter per (account, period): every grant adds its cost when held, a
settlement adds what the charge differs from it (so the counter is what was charged +
what open calls hold).

**High risk.** A number matching (longest prefix) one of the operator's high-risk
prefixes is refused unless every account of the caller's chain below the root has
``high_risk_allowed`` (each parent opts its child in).

**Velocity.** Calls and granted cost per account per minute; a minute far above the
account's norm (the average per minute over the window before it) is an alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final
from zoneinfo import ZoneInfo

from voxbill.domain.accounts import Account
from voxbill.domain.charging import Level
from voxbill.domain.errors import InvalidInput

#: The outbox topic of a velocity alert.
VELOCITY_TOPIC: Final = "fraud.velocity"
#: Longest high-risk prefix (E.164 digits).
MAX_PREFIX: Final = 15


@dataclass(frozen=True, slots=True)
class SpendKey:
    """One counter a level's cost counts in: ``account_id``'s spend in ``period``, capped
    at ``cap`` (as it was at the call's start)."""

    account_id: int
    period: str
    cap: Decimal


@dataclass(frozen=True, slots=True)
class SpendCap:
    """A cap that bounds a call: ``key``'s counter takes the cost of level ``level``."""

    level: int
    key: SpendKey
    kind: str  # hourly | daily | high_risk_daily


def has_caps(account: Account, high_risk: bool) -> bool:
    limits = account.limits
    return (
        limits.hourly_spend_cap is not None
        or limits.daily_spend_cap is not None
        or (high_risk and limits.high_risk_daily_cap is not None)
    )


def hour_period(at: datetime, timezone: str) -> str:
    """The calendar hour of ``at`` in ``timezone`` (its UTC offset included: the two
    01:00 hours of a fall-back night are two periods)."""
    local = at.astimezone(ZoneInfo(timezone)).replace(minute=0, second=0, microsecond=0)
    return "H" + local.isoformat()


def day_period(at: datetime, timezone: str, prefix: str = "D") -> str:
    """The calendar day of ``at`` in ``timezone``."""
    return prefix + at.astimezone(ZoneInfo(timezone)).date().isoformat()


def paying_level(chain: Sequence[Account], levels: Sequence[Level], index: int) -> Level:
    """The nearest paying level at or below ``chain[index]``."""
    position = {a.id: i for i, a in enumerate(chain)}
    found = levels[0]
    for level in levels:
        if position[level.account.id] <= index:
            found = level
    return found


def spend_caps(
    chain: Sequence[Account], levels: Sequence[Level], at: datetime, *, high_risk: bool
) -> list[SpendCap]:
    """Every cap that bounds a call of ``chain[0]`` started ``at`` ([] for a chain without
    caps: the common case costs no query)."""
    if not levels or not any(has_caps(a, high_risk) for a in chain):
        return []
    found: list[SpendCap] = []
    for index, account in enumerate(chain):
        if not has_caps(account, high_risk):
            continue
        level = paying_level(chain, levels, index)
        if level.account.currency != account.currency:
            continue  # no exchange inside a cap
        limits, zone = account.limits, account.timezone
        caps = [
            ("hourly", limits.hourly_spend_cap, hour_period(at, zone)),
            ("daily", limits.daily_spend_cap, day_period(at, zone)),
        ]
        if high_risk:
            caps.append(("high_risk_daily", limits.high_risk_daily_cap, day_period(at, zone, "R")))
        for kind, cap, period in caps:
            if cap is not None:
                found.append(SpendCap(level.index, SpendKey(account.id, period, cap), kind))
    return found


def remainders(
    caps: Iterable[SpendCap], spent: dict[tuple[int, str], Decimal]
) -> dict[int, Decimal]:
    """Per level, the least any of its caps has left (cap - spent in its period)."""
    left: dict[int, Decimal] = {}
    for cap in caps:
        key = cap.key
        rest = key.cap - spent.get((key.account_id, key.period), Decimal(0))
        left[cap.level] = min(rest, left.get(cap.level, rest))
    return left


# -- high-risk destinations -------------------------------------------------------------


def check_prefix(prefix: str) -> str:
    """A high-risk prefix: 1 to 15 digits (a leading ``+`` is dropped)."""
    digits = prefix.strip().removeprefix("+")
    if not digits.isdigit() or not 1 <= len(digits) <= MAX_PREFIX or not digits.isascii():
        raise InvalidInput("a high-risk prefix is 1 to 15 digits (E.164, country code first)")
    return digits


def matching_prefix(number: str, prefixes: frozenset[str]) -> str | None:
    """The longest of ``prefixes`` that ``number`` (E.164 digits) starts with."""
    if not prefixes:
        return None
    for length in range(min(len(number), MAX_PREFIX), 0, -1):
        if number[:length] in prefixes:
            return number[:length]
    return None


def high_risk_allowed(chain: Sequence[Account]) -> Account | None:
    """The first account of the chain below the root not opted in to high-risk
    destinations, or None when all are."""
    for account in chain:
        if account.parent_id is not None and not account.limits.high_risk_allowed:
            return account
    return None


# -- velocity ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VelocityPolicy:
    """``factor``: a minute alerts when it is more than ``factor`` times the norm (0: off);
    a minute below both floors never alerts (a quiet account's second call)."""

    factor: Decimal
    min_calls: int
    min_spend: Decimal
    window_minutes: int

    @property
    def enabled(self) -> bool:
        return self.factor > 0


def minute_of(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def window(minute: datetime, policy: VelocityPolicy) -> tuple[datetime, datetime]:
    """The minutes the norm averages: [minute - window, minute)."""
    return minute - timedelta(minutes=policy.window_minutes), minute


def may_alert(calls: int, spend: Decimal, policy: VelocityPolicy) -> bool:
    """Whether a minute is over a floor (only then is its norm read)."""
    return policy.enabled and (calls >= policy.min_calls or spend >= policy.min_spend)


def velocity_alert(
    calls: int,
    spend: Decimal,
    before_calls: int,
    before_spend: Decimal,
    policy: VelocityPolicy,
) -> list[str]:
    """What is far above the norm in this minute ("calls", "spend"), given the totals of
    the window before it; [] = no alert."""
    minutes = Decimal(policy.window_minutes)
    found: list[str] = []
    if calls >= policy.min_calls and calls > policy.factor * Decimal(before_calls) / minutes:
        found.append("calls")
    if spend >= policy.min_spend and spend > policy.factor * before_spend / minutes:
        found.append("spend")
    return found
