"""What an operator's or a reseller's dashboard shows of its subtree: traffic and spend
per minute, margin, balances near their block level, failed notification deliveries.

Pure values and rules; the services read them through the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import Forbidden, InvalidInput

#: at most this many low balances are listed (all of them are counted)
LOW_BALANCES_LISTED = 20
#: the longest window a traffic or margin figure may cover (aggregates stay bounded)
LONGEST_WINDOW = timedelta(days=7)
#: who sees a subtree's figures: those who look after a subtree
OVERSEERS = frozenset({Role.ADMIN, Role.SUPPORT, Role.RESELLER})


@dataclass(frozen=True, slots=True)
class TrafficPoint:
    """The CDRs of a subtree that started within one minute (UTC), in one currency:
    how many, and what their callers' levels paid (``Cdr.cost``)."""

    minute: datetime
    currency: str
    calls: int
    spend: Decimal


@dataclass(frozen=True, slots=True)
class Margin:
    """What an account earned on a window's calls in one currency: what the level below
    paid it minus what it paid (the operator: minus the vendor cost). ``calls``: how
    many CDRs have a margin in it (a CDR across currencies without an exchange rate
    has none, see docs/charging.md)."""

    currency: str
    amount: Decimal
    calls: int


@dataclass(frozen=True, slots=True)
class LowBalance:
    """An account of the subtree whose funds are near or at its block level.

    The notifications' rule (``domain.ledger.crossings``): funds before holds (balance
    plus a postpaid account's credit limit) below its ``alert_balance`` is a low balance
    (``alert_crossed_down``); at or below its ``block_balance`` it is blocked
    (``block_reached``). An account without an alert balance is listed once blocked.
    Only accounts with a balance of their own are listed (a shared balance is its
    owner's), and neither the operator's (it pays no one) nor a vendor's (what is owed
    to a carrier), nor a closed account."""

    account_id: int
    name: str
    currency: str
    funds: Decimal
    alert_balance: Decimal | None
    block_balance: Decimal

    @property
    def headroom(self) -> Decimal:
        """How far above its block level it still is (≤ 0: blocked)."""
        return self.funds - self.block_balance

    @property
    def blocked(self) -> bool:
        return self.funds <= self.block_balance


def day_window(day: datetime) -> tuple[datetime, datetime]:
    """The UTC day holding ``day``: [midnight, next midnight)."""
    start = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def require_overseer(principal: Principal) -> None:
    """Subtree figures are for the operator's and resellers' admins and support."""
    if principal.role not in OVERSEERS:
        raise Forbidden("the dashboard is for admin, support and reseller keys")


def check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInput("a window's instants need a timezone")
    if not start < end <= start + LONGEST_WINDOW:
        raise InvalidInput("a window must end after it starts and span at most 7 days")


def is_root(principal: Principal) -> bool:
    """Whether the principal acts as an operator root (its path names only itself)."""
    return principal.path == f"/{principal.account_id}/"
