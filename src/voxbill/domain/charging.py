"""Charging decisions, pure: which levels of a chain pay, how long a call may last, how
many calls an account may have open, and how a session moves from open to settled.

A chain is the caller's account and its ancestors up to the operator root, caller
first. The **levels** are who pays for a call: the caller's balance, priced by its own
plan or, when it has none, by the nearest ancestor's (that ancestor is then not charged
a second time); above that, every ancestor below the root that has a plan of its own
(a reseller pays the operator by the reseller's plan, and so on). The root sells and
pays nobody. Each level's charge is paid to its **seller**, the parent of the account
whose plan priced it (a reseller is paid its customer's retail charge and pays its own
wholesale one); what reaches the root is the operator's revenue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Final

from voxbill.domain.accounts import Account, AccountKind, AccountStatus, CutoffMode
from voxbill.domain.ledger import Funds, Owner
from voxbill.domain.money import ZERO

#: The smallest hold the ledger stores: a level whose grant costs nothing still holds
#: this much, so that every level has a hold to post its (possibly late) charge against.
HOLD_UNIT: Final = Decimal("0.00000001")


class Reason(StrEnum):
    """Stable refusal codes; every door maps them to its own status (SIP, RADIUS, …)."""

    UNKNOWN_CALLER = "unknown_caller"
    INVALID_PIN = "invalid_pin"  # a known card number with a wrong or missing PIN
    CARD_LOCKED = "card_locked"  # too many wrong PINs: the card is locked for a while
    TOO_MANY_PIN_FAILURES = "too_many_pin_failures"  # this asker, over every card
    CARD_INACTIVE = "card_inactive"  # a batch card not activated (checked after its PIN)
    CARD_EXPIRED = "card_expired"  # a batch card past its expiry (checked after its PIN)
    BLOCKED = "blocked"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NO_RATE = "no_rate"
    CONCURRENCY_LIMIT = "concurrency_limit"
    INVALID_NUMBER = "invalid_number"


class SessionStatus(StrEnum):
    OPEN = "open"
    SETTLED = "settled"


class SettleAt(StrEnum):
    """What the sweeper charges a session that never stopped and never reported usage (one
    that reported usage is charged its last report, whatever this says)."""

    NOTHING = "nothing"  # the default: an unconfirmed call costs nothing
    GRANT = "grant"  # its whole grant
    USAGE = "usage"  # the setting's value before issue 12: the same as ``nothing``
    AUTO = "auto"  # the setting's value before issue 12: the same as ``grant``


class SweepReason(StrEnum):
    """Why the sweeper charged what it did (a CDR's ``settled_reason``)."""

    LAST_USAGE = "no_stop_last_usage"
    NO_USAGE_NOTHING = "no_stop_no_usage_nothing"
    NO_USAGE_GRANT = "no_stop_no_usage_grant"


@dataclass(frozen=True, slots=True)
class CallKey:
    """What makes a start the same call as a stored session: a retry with equal keys
    replays the first grant; another call reusing the session id is refused."""

    account_id: int
    callee: str
    interim: bool
    vendor_id: int | None


@dataclass(frozen=True, slots=True)
class Level:
    """One payer of a call: ``account`` is charged by ``plan`` (on its balance)."""

    index: int
    account: Account
    plan: str
    #: the lowest per-call cost cap of the accounts this level pays for (None: no cap)
    max_cost: Decimal | None = None
    #: who is paid this level's charge (see :func:`seller`); None: the operator's revenue
    seller_id: int | None = None


def levels(chain: Sequence[Account]) -> list[Level]:
    """Who pays for a call made by ``chain[0]`` (see the module docstring); [] = no plan.

    The caller's level is capped by the per-call maximum cost of every account it pays
    for (a shared-balance user and the customer whose plan and balance it uses).
    """
    payers = [a for a in chain if a.parent_id is not None]  # the root pays nobody
    if not payers:
        return []
    provider = next((i for i, a in enumerate(payers) if a.plans.rate_plan), None)
    if provider is None:
        return []
    first_plan = payers[provider].plans.rate_plan
    assert first_plan is not None
    caller = payers[0]
    first_seller = seller(chain, payers[provider], caller.currency)
    found = [Level(0, caller, first_plan, _lowest_cap(payers[: provider + 1]), first_seller)]
    for account in payers[provider + 1 :]:
        if account.plans.rate_plan:
            plan = account.plans.rate_plan
            paid_to = seller(chain, account, account.currency)
            found.append(Level(len(found), account, plan, _lowest_cap([account]), paid_to))
    return found


def seller(chain: Sequence[Account], priced: Account, currency: str) -> int | None:
    """Who sold to the account whose plan priced a charge: its parent (whose balance owner
    the ledger credits), or None for the operator's revenue book — when the parent is the
    root, or keeps its balance in another currency (no exchange inside a charge)."""
    parent = next((a for a in chain if a.id == priced.parent_id), None)
    if parent is None or parent.parent_id is None or parent.currency != currency:
        return None
    return parent.id


def _lowest_cap(accounts: Sequence[Account]) -> Decimal | None:
    caps = [a.limits.max_call_cost for a in accounts if a.limits.max_call_cost is not None]
    return min(caps) if caps else None


def blocked(chain: Sequence[Account], funds: Callable[[Account], Funds | None]) -> str | None:
    """Why some account of the chain may not call now (status or cutoff), else None."""
    for account in chain:
        if account.status is not AccountStatus.ACTIVE:
            return f"account {account.id} is {account.status}"
        cutoff = account.balance.cutoff_mode
        if cutoff in (CutoffMode.INBOUND, CutoffMode.MUTUAL):
            state = funds(account)
            if state is not None and state.spendable <= ZERO:
                return f"account {account.id} is cut off ({cutoff})"
    return None


def call_cap(chain: Sequence[Account], system_max: int) -> int:
    """The longest call any account of the chain allows (seconds)."""
    return effective_call_cap(chain, system_max, None).seconds


class CapSource(StrEnum):
    """Where the longest grant of a call without interim updates comes from."""

    ACCOUNT = "account"  # a max_call_duration of the account or of an ancestor
    SHARED_BALANCE_DEFAULT = "shared_balance_default"  # the operator default for shared
    SYSTEM = "system"  # the longest call ever granted (setting max_call_duration)


@dataclass(frozen=True, slots=True)
class CallCap:
    """The longest single grant: ``seconds``, from ``source`` (``account_id`` names the
    account whose ``max_call_duration`` it is, for the ``account`` source, or the operator
    whose own ``shared_balance_call_cap`` it is, for ``shared_balance_default``)."""

    seconds: int
    source: CapSource
    account_id: int | None = None


def draws_on_shared_balance(chain: Sequence[Account]) -> bool:
    """Whether a call of ``chain[0]`` draws on a balance shared by several accounts of its
    chain: some account keeps no balance of its own (``shared_balance``) and spends the
    balance of an ancestor that pays for the call (at any level: the caller's, or a
    reseller's that its customer shares)."""
    if not any(a.balance.shared_balance for a in chain):
        return False
    owners = balance_owners(chain)
    paying = {owners[level.account.id].id for level in levels(chain)}
    if not paying and chain:
        paying = {owners[chain[0].id].id}
    return any(owners[a.id].id in paying and owners[a.id].id != a.id for a in chain)


def effective_call_cap(
    chain: Sequence[Account], system_max: int, shared_default: int | None
) -> CallCap:
    """The longest grant a call of ``chain[0]`` without interim updates may get.

    The lowest ``max_call_duration`` of the chain (the caller's or any ancestor's, the
    root's included), at most ``system_max``. A call that draws on a shared balance
    (:func:`draws_on_shared_balance`) while no account below the root sets a per-call
    duration is also held to ``shared_default`` (the operator default, None or 0: none),
    so that one call never holds a balance many extensions call on; the operator root's
    own ``shared_balance_call_cap`` (the last account of ``chain``), when set, replaces
    ``shared_default`` (the cap's ``account_id`` then names the operator). A session with
    interim updates holds one chunk at a time and is given no default (``shared_default``
    None).
    """
    found = CallCap(system_max, CapSource.SYSTEM)
    for account in chain:
        seconds = account.limits.max_call_duration
        if seconds is not None and seconds < found.seconds:
            found = CallCap(seconds, CapSource.ACCOUNT, account.id)
    if shared_default is None:  # a session with interim updates: one chunk at a time
        return found
    root = chain[-1] if chain and chain[-1].parent_id is None else None
    own_default = None if root is None else root.limits.shared_balance_call_cap
    if own_default is not None:
        shared_default = own_default
    if not shared_default or shared_default >= found.seconds:
        return found
    own_caps = any(a.limits.max_call_duration is not None for a in chain if a.parent_id is not None)
    if own_caps or not draws_on_shared_balance(chain):
        return found
    by = None if own_default is None or root is None else root.id
    return CallCap(shared_default, CapSource.SHARED_BALANCE_DEFAULT, by)


def budget(level: Level, headroom: Decimal) -> Decimal:
    """What one call may cost a level: its headroom, capped by its per-call maximum."""
    return headroom if level.max_cost is None else min(headroom, level.max_cost)


def longest_within(cost: Callable[[int], Decimal], amount: Decimal, high: int) -> int:
    """The longest duration in [0, high] whose (monotone) ``cost`` is ≤ ``amount``."""
    if cost(high) <= amount:
        return high
    low = 0
    if cost(0) > amount:
        return 0
    while high - low > 1:  # cost(low) <= amount < cost(high)
        mid = (low + high) // 2
        if cost(mid) <= amount:
            low = mid
        else:
            high = mid
    return low


def fit_shared_books(
    duration: int,
    books: Sequence[int],
    costs: Sequence[Callable[[int], Decimal]],
    headrooms: dict[int, Decimal],
) -> int:
    """Shorten ``duration`` until levels that draw on one balance fit it together.

    Each level's own maximum already fits its balance alone; two levels on one balance
    (a customer sharing its reseller's balance, both with plans) must fit their sum.
    """
    grouped: dict[int, list[Callable[[int], Decimal]]] = defaultdict(list)
    for book, cost in zip(books, costs, strict=True):
        grouped[book].append(cost)
    for book, group in grouped.items():
        if len(group) > 1:

            def total(d: int, group: list[Callable[[int], Decimal]] = group) -> Decimal:
                return sum((c(d) for c in group), ZERO)

            duration = longest_within(total, headrooms[book], duration)
    return duration


def hold_amount(cost: Decimal) -> Decimal:
    return max(cost, HOLD_UNIT)


def concurrency_limit(account: Account, funds: Funds | None) -> int | None:
    """How many calls ``account`` may have open now (None: no limit).

    A calling card allows one call at a time; under its alert balance an account is
    held to its (lower) low-balance limit.
    """
    found: list[int] = []
    limits = account.limits
    if limits.max_concurrent_calls is not None:
        found.append(limits.max_concurrent_calls)
    if account.kind is AccountKind.CARD:
        found.append(1)
    low, alert = limits.low_balance_concurrent_calls, account.balance.alert_balance
    if low is not None and alert is not None and funds is not None and funds.spendable < alert:
        found.append(low)
    return min(found) if found else None


def counted(account: Account) -> bool:
    """Whether the open calls of ``account`` are counted (it has some concurrency limit)."""
    limits = account.limits
    return (
        account.kind is AccountKind.CARD
        or limits.max_concurrent_calls is not None
        or limits.low_balance_concurrent_calls is not None
    )


def settle_duration(
    mode: SettleAt, *, reported: bool, used: int, granted: int
) -> tuple[int, SweepReason]:
    """What the sweeper charges a session that never stopped, and why: its last reported
    usage when it sent any (never past its grant), else nothing or its whole grant by
    the operator's ``mode``."""
    if reported:
        return min(used, granted), SweepReason.LAST_USAGE
    if mode in (SettleAt.GRANT, SettleAt.AUTO):
        return granted, SweepReason.NO_USAGE_GRANT
    return 0, SweepReason.NO_USAGE_NOTHING


def corrections(charged: Sequence[Decimal], actual: Sequence[Decimal]) -> list[Decimal]:
    """Per level, what a late stop moves: the actual cost minus what the sweeper charged
    (positive: the caller owes more; negative: it is refunded)."""
    return [now - before for before, now in zip(charged, actual, strict=True)]


def sweep_retry_delay(attempts: int) -> int:
    """Seconds before the sweeper tries a session that failed to settle ``attempts`` times
    again: doubling from a minute, at most an hour, so one bad session never blocks the
    others nor floods the log."""
    return int(min(60 * 2 ** min(max(attempts - 1, 0), 6), 3600))


def margins(costs: Sequence[tuple[Decimal, str]]) -> list[Decimal | None]:
    """Per level: what its customer (the level below) paid minus its own cost, when both
    are in one currency; the caller's level has no customer below it."""
    result: list[Decimal | None] = [None]
    for (below, below_cur), (own, own_cur) in pairwise(costs):
        result.append(below - own if below_cur == own_cur else None)
    return result[: len(costs)]


def operator_margin(
    paid: Decimal, vendor_cost: Decimal, fx_rate: Decimal | None, places: int = 8
) -> Decimal | None:
    """What the operator keeps of a call: what its top payer paid minus the vendor's cost.

    ``fx_rate`` converts the vendor's currency into the payer's (1 when they match;
    None when no rate is known: no margin). A converted cost is rounded once, half up,
    to the ledger's ``places``.
    """
    if fx_rate is None:
        return None
    buy = vendor_cost * fx_rate
    return paid - buy.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def balance_owners(chain: Sequence[Account]) -> dict[int, Account]:
    """Each account's balance owner: itself, or the nearest ancestor it shares with."""
    owners: dict[int, Account] = {}
    for index, account in enumerate(chain):
        owner = account
        for above in chain[index + 1 :]:
            if not owner.balance.shared_balance or owner.parent_id is None:
                break
            owner = above
        owners[account.id] = owner
    return owners


def owners_of(chain: Sequence[Account]) -> list[Owner]:
    """The balance owner of every account of a chain read in this transaction, so that the
    journal need not walk up the accounts again, one query per level."""
    return [
        Owner(
            account_id=account_id,
            balance_account_id=owner.id,
            currency=owner.currency,
            billing=owner.balance.billing.value,
            credit_limit=owner.balance.credit_limit,
            block_balance=owner.balance.block_balance,
            alert_balance=owner.balance.alert_balance,
        )
        for account_id, owner in balance_owners(chain).items()
    ]
