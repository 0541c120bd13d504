"""The account tree: kinds, who may be whose child, statuses, billing and balance rules.

Pure: no framework, no database. An account's ``path`` is the materialized list of its
ancestors and itself (``/1/4/9/``), so "is X in Y's subtree" is a string prefix test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Final

from voxbill.domain.errors import InvalidInput
from voxbill.domain.money import ZERO


class AccountKind(StrEnum):
    OPERATOR = "operator"
    RESELLER = "reseller"
    CUSTOMER = "customer"
    USER = "user"
    CARD = "card"
    VENDOR = "vendor"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class Billing(StrEnum):
    PREPAID = "prepaid"
    POSTPAID = "postpaid"


class CutoffMode(StrEnum):
    """When a partner that both sends and receives traffic is cut off (PRODUCT.md)."""

    NONE = "none"
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    MUTUAL = "mutual"


#: Which kinds may be the parent of each kind (the operator is always a root).
ALLOWED_PARENTS: Final[dict[AccountKind, frozenset[AccountKind]]] = {
    AccountKind.OPERATOR: frozenset(),
    AccountKind.RESELLER: frozenset({AccountKind.OPERATOR, AccountKind.RESELLER}),
    AccountKind.CUSTOMER: frozenset({AccountKind.OPERATOR, AccountKind.RESELLER}),
    AccountKind.USER: frozenset({AccountKind.CUSTOMER}),
    AccountKind.CARD: frozenset({AccountKind.CUSTOMER, AccountKind.RESELLER}),
    AccountKind.VENDOR: frozenset({AccountKind.OPERATOR}),
}

#: Kinds that trade both ways with us and so may have a cutoff mode other than none.
PARTNER_KINDS: Final = frozenset({AccountKind.RESELLER, AccountKind.CUSTOMER, AccountKind.VENDOR})


#: Modes that cut the traffic a partner sends us: meaningless on a vendor-only account.
_CUSTOMER_SIDE_MODES: Final = frozenset({CutoffMode.INBOUND, CutoffMode.MUTUAL})


def check_parent(kind: AccountKind, parent_kind: AccountKind | None) -> None:
    allowed = ALLOWED_PARENTS[kind]
    if parent_kind is None:
        if allowed:
            raise InvalidInput(f"a {kind} account needs a parent")
        return
    if parent_kind not in allowed:
        names = ", ".join(sorted(allowed)) or "none (it is a root)"
        raise InvalidInput(
            f"a {kind} account cannot be a child of a {parent_kind} (allowed parents: {names})"
        )


def child_path(parent_path: str, account_id: int) -> str:
    return f"{parent_path}{account_id}/"


def root_path(account_id: int) -> str:
    return f"/{account_id}/"


def in_subtree(path: str, root: str) -> bool:
    """True when the account at ``path`` is ``root`` itself or one of its descendants."""
    return path.startswith(root)


def operator_of(path: str) -> int:
    """The id of the operator root an account path belongs to."""
    return int(path.strip("/").split("/", 1)[0])


@dataclass(frozen=True, slots=True)
class BalanceSettings:
    """What decides whether an account may spend: validated together, since they interact."""

    billing: Billing = Billing.PREPAID
    credit_limit: Decimal = ZERO
    alert_balance: Decimal | None = None
    block_balance: Decimal = ZERO
    shared_balance: bool = False
    cutoff_mode: CutoffMode = CutoffMode.NONE

    def check(self, kind: AccountKind, *, has_parent: bool) -> None:
        if self.credit_limit < 0:
            raise InvalidInput("credit_limit cannot be negative")
        if self.billing is Billing.PREPAID and self.credit_limit != 0:
            raise InvalidInput("a prepaid account has no credit limit; make it postpaid")
        if self.alert_balance is not None and self.alert_balance < self.block_balance:
            raise InvalidInput("alert_balance must not be below block_balance")
        if self.shared_balance and not has_parent:
            raise InvalidInput("a root account cannot share its parent's balance")
        if self.shared_balance and kind is AccountKind.VENDOR:
            raise InvalidInput("a vendor account keeps its own balance")
        if self.cutoff_mode is not CutoffMode.NONE and kind not in PARTNER_KINDS:
            raise InvalidInput(f"a {kind} account is not a partner and has no cutoff mode")
        if kind is AccountKind.VENDOR and self.cutoff_mode in _CUSTOMER_SIDE_MODES:
            raise InvalidInput(
                f"a vendor account sends us no traffic: cutoff mode {self.cutoff_mode} belongs "
                "on the customer side of a partner (link the vendor with partner_id)",
                code="invalid_cutoff_mode",
            )


@dataclass(frozen=True, slots=True)
class Limits:
    max_concurrent_calls: int | None = None
    low_balance_concurrent_calls: int | None = None
    max_call_cost: Decimal | None = None
    max_call_duration: int | None = None
    message_rate_limit: int | None = None
    #: an operator root's own default cap (seconds) for calls on a shared balance without
    #: interim updates; None: the setting ``shared_balance_call_cap_seconds``; 0: none
    shared_balance_call_cap: int | None = None
    #: fraud guard (docs/charging.md): spend per calendar hour / day of the account's
    #: timezone; high-risk destinations allowed, with their own cap per day
    hourly_spend_cap: Decimal | None = None
    daily_spend_cap: Decimal | None = None
    high_risk_allowed: bool = False
    high_risk_daily_cap: Decimal | None = None
    #: online top-ups (``docs/payments.md``), set by the parent: per payment, per day and
    #: per month in the account's timezone; None: no limit
    topup_min: Decimal | None = None
    topup_max: Decimal | None = None
    topup_daily_max: Decimal | None = None
    topup_monthly_max: Decimal | None = None

    def check(self) -> None:
        for name in (
            "max_concurrent_calls",
            "low_balance_concurrent_calls",
            "max_call_duration",
            "message_rate_limit",
            "shared_balance_call_cap",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InvalidInput(f"{name} cannot be negative")
        money = ("max_call_cost", "hourly_spend_cap", "daily_spend_cap", "high_risk_daily_cap")
        for name in money:
            amount = getattr(self, name)
            if amount is not None and amount < 0:
                raise InvalidInput(f"{name} cannot be negative")
        low, high = self.low_balance_concurrent_calls, self.max_concurrent_calls
        if low is not None and high is not None and low > high:
            raise InvalidInput("low_balance_concurrent_calls exceeds max_concurrent_calls")
        topups = ("topup_min", "topup_max", "topup_daily_max", "topup_monthly_max")
        for name in topups:
            if getattr(self, name) is not None and getattr(self, name) < 0:
                raise InvalidInput(f"{name} cannot be negative")
        low_topup, high_topup = self.topup_min, self.topup_max
        if low_topup is not None and high_topup is not None and low_topup > high_topup:
            raise InvalidInput("topup_min exceeds topup_max")


@dataclass(frozen=True, slots=True)
class Plans:
    rate_plan: str | None = None
    sms_plan: str | None = None

    def names(self) -> list[str]:
        return [p for p in (self.rate_plan, self.sms_plan) if p]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    parent_id: int | None
    path: str
    depth: int
    kind: AccountKind
    name: str
    status: AccountStatus
    currency: str
    balance: BalanceSettings
    limits: Limits
    plans: Plans
    timezone: str
    #: names the tax profile its invoices apply (CONTRACT.md: invoices and reports)
    tax_profile: str | None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: on a vendor account only: the customer or reseller account that is the same
    #: company's inbound side (a two-way partner, ``domain.partners``)
    partner_id: int | None = None

    @property
    def operator_id(self) -> int:
        return operator_of(self.path)

    def contains(self, other: Account) -> bool:
        return in_subtree(other.path, self.path)

    @property
    def ancestor_ids(self) -> list[int]:
        """Ids from the root down to the parent (not including this account)."""
        return [int(part) for part in self.path.strip("/").split("/")[:-1]]


def check_move(account: Account, new_parent: Account) -> None:
    """A move keeps the tree a tree and each kind under an allowed parent."""
    if account.parent_id is None:
        raise InvalidInput("a root account cannot be moved")
    if account.contains(new_parent):
        raise InvalidInput("an account cannot move under itself or its own descendants")
    if new_parent.operator_id != account.operator_id:
        raise InvalidInput("an account cannot move to another operator")
    check_parent(account.kind, new_parent.kind)
    if account.balance.shared_balance and new_parent.currency != account.currency:
        raise InvalidInput("a shared-balance account must stay under a parent in its currency")


def check_name(name: str) -> str:
    text = name.strip()
    if not text or len(text) > 200:
        raise InvalidInput("an account name of 1 to 200 characters is required")
    return text
