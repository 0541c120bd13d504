"""What an operator's or a reseller's dashboard shows of its subtree: traffic and spend
per minute, margin, balances near their block level, failed notification deliveries.

Pure values and rules; the services read them through the unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import AccountKind
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


# -- the per-minute roll-up -----------------------------------------------------------------
#
# The dashboard's day figures are read from ``dashboard_minutes``: per account, kind,
# minute (of the CDR's start, UTC) and currency, how many CDRs and how much, summed over
# the account's subtree. Only the accounts whose subtree is large enough to need it are
# rolled up: operators and resellers (``ROLLED_KINDS``); a customer's figures (its
# support's dashboard) are read from its own CDRs. A background pass
# (``DashboardRollup``) adds the CDRs settled since its mark; the reads add the CDRs
# above the mark (the live tail) in the same statement, so a figure is exact whether or
# not the pass has run.


#: the kinds of account the roll-up keeps minutes for
ROLLED_KINDS = frozenset({AccountKind.OPERATOR, AccountKind.RESELLER})


class RollupKind(StrEnum):
    #: every CDR of the subtree: calls and what their callers' levels paid (``cost``)
    TRAFFIC = "traffic"
    #: an operator root's margin: the CDR's margin, in its top-most payer's currency
    PAYER_MARGIN = "payer_margin"
    #: a seller's margin on its sell leg (what the level below paid it minus its cost)
    SELL_MARGIN = "sell_margin"


@dataclass(frozen=True, slots=True)
class RollupKey:
    account_id: int
    kind: RollupKind
    minute: datetime
    currency: str


@dataclass(frozen=True, slots=True)
class RolledCdr:
    """What the roll-up reads of a CDR: where it is (``rolled``: the accounts of its path
    the roll-up keeps minutes for, root first), when it started, what it cost, its margin
    and its top-most payer's currency, and its rolled sellers' sell-leg margins
    (``(account, currency, margin)``, those with a margin)."""

    id: int
    path: str
    rolled: tuple[int, ...]
    started_at: datetime
    currency: str
    cost: Decimal
    margin: Decimal | None
    payer_currency: str | None
    sell_margins: tuple[tuple[int, str, Decimal], ...]


Rollup = dict[RollupKey, tuple[int, Decimal]]


def minute_of(instant: datetime) -> datetime:
    """The UTC minute holding ``instant``."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def path_ids(path: str) -> list[int]:
    """The accounts of a path, root first (``"/1/5/77/"`` -> ``[1, 5, 77]``)."""
    return [int(part) for part in path.split("/") if part]


def contributions(cdr: RolledCdr, into: Rollup | None = None, *, sign: int = 1) -> Rollup:
    """What ``cdr`` adds to the roll-up (``sign=-1``: takes away, a correction's old
    values): its traffic to every rolled account of its path, its margin to the operator
    root in its top-most payer's currency (as ``margins`` reads it: ``/1/5/…`` -> account
    5's), and each rolled seller's sell-leg margin to it."""
    found: Rollup = {} if into is None else into
    minute = minute_of(cdr.started_at)

    def add(key: RollupKey, amount: Decimal) -> None:
        calls, total = found.get(key, (0, Decimal(0)))
        found[key] = (calls + sign, total + sign * amount)

    for account in cdr.rolled:
        add(RollupKey(account, RollupKind.TRAFFIC, minute, cdr.currency), cdr.cost)
    ids = path_ids(cdr.path)
    root_rolled = bool(cdr.rolled) and cdr.rolled[0] == ids[0]
    if root_rolled and cdr.margin is not None and cdr.payer_currency and len(ids) > 1:
        key = RollupKey(ids[0], RollupKind.PAYER_MARGIN, minute, cdr.payer_currency)
        add(key, cdr.margin)
    for seller, currency, margin in cdr.sell_margins:
        if seller in cdr.rolled:
            add(RollupKey(seller, RollupKind.SELL_MARGIN, minute, currency), margin)
    return found


def without_noughts(rollup: Rollup) -> Rollup:
    """The entries that change something (a correction's -1 and +1 on one key cancel)."""
    return {k: v for k, v in rollup.items() if v != (0, Decimal(0))}
