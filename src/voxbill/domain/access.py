"""Who may do what to which account: roles, the principal behind a request, and the rules.

Object level: a principal sees only its own account's subtree; anything else does not
exist for it (``NotFound``, never "forbidden", so existence does not leak). Property
level: no principal may change what decides its own spending (credit, status, balance
settings, plans, place in the tree), nor put money into its own account.

Account status: a key whose account, or an account above it, is blocked or suspended
may only read (``403 account_not_active`` on every write over its subtree), except to
update and stop the calls it already started (what a switch must report, or the
sweeper would charge their whole grant) and to revoke keys; a key under a closed
account is dead (its check answers 401, see :mod:`voxbill.services.access.keys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from voxbill.domain.accounts import Account, AccountKind, AccountStatus, in_subtree, operator_of
from voxbill.domain.errors import AccountNotActive, Forbidden, NotFound


class Role(StrEnum):
    ADMIN = "admin"  # the operator
    RESELLER = "reseller"
    CUSTOMER = "customer"
    USER = "user"
    SUPPORT = "support"  # read-only, over the subtree of its account


#: The account kinds a key of each role may be bound to.
ROLE_KINDS: Final[dict[Role, frozenset[AccountKind]]] = {
    Role.ADMIN: frozenset({AccountKind.OPERATOR}),
    Role.RESELLER: frozenset({AccountKind.RESELLER}),
    Role.CUSTOMER: frozenset({AccountKind.CUSTOMER, AccountKind.VENDOR}),
    Role.USER: frozenset({AccountKind.USER, AccountKind.CARD}),
    Role.SUPPORT: frozenset({AccountKind.OPERATOR, AccountKind.RESELLER, AccountKind.CUSTOMER}),
}

#: The kinds of account each role may create (in its subtree).
CREATABLE_KINDS: Final[dict[Role, frozenset[AccountKind]]] = {
    Role.ADMIN: frozenset(AccountKind) - {AccountKind.OPERATOR},
    Role.RESELLER: frozenset(
        {AccountKind.RESELLER, AccountKind.CUSTOMER, AccountKind.USER, AccountKind.CARD}
    ),
    Role.CUSTOMER: frozenset({AccountKind.USER, AccountKind.CARD}),
    Role.USER: frozenset(),
    Role.SUPPORT: frozenset(),
}

#: The roles each role may issue keys for (always bound to an account in its subtree).
ISSUABLE_ROLES: Final[dict[Role, frozenset[Role]]] = {
    Role.ADMIN: frozenset(Role),
    Role.RESELLER: frozenset({Role.RESELLER, Role.CUSTOMER, Role.USER, Role.SUPPORT}),
    Role.CUSTOMER: frozenset({Role.CUSTOMER, Role.USER, Role.SUPPORT}),
    Role.USER: frozenset({Role.USER}),
    Role.SUPPORT: frozenset(),
}

#: Fields an account may change on itself; everything else is for its ancestors.
SELF_EDITABLE: Final = frozenset({"name", "timezone"})
#: What an operator's admin may change on its own root account: its operator-wide defaults.
OPERATOR_EDITABLE: Final = SELF_EDITABLE | {"shared_balance_call_cap"}


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: an API key (or a system actor) bound to one account;
    ``status`` is its chain's (the account's and its ancestors'), worst first."""

    account_id: int
    path: str
    role: Role
    key_id: int | None = None
    status: AccountStatus = AccountStatus.ACTIVE

    @property
    def operator_id(self) -> int:
        return operator_of(self.path)

    @property
    def operator_staff(self) -> bool:
        """An admin key, or a support key of the operator's own account: who reads what
        is the operator's alone (its vendors, exchange rates' history…)."""
        return self.role is Role.ADMIN or (
            self.role is Role.SUPPORT and self.account_id == self.operator_id
        )

    @property
    def actor(self) -> str:
        """How the ledger and audit trails name who did it."""
        who = f"key:{self.key_id}" if self.key_id is not None else "system"
        return f"{who}@account:{self.account_id}"

    def sees(self, account: Account) -> bool:
        return in_subtree(account.path, self.path)

    def is_self(self, account: Account) -> bool:
        return account.id == self.account_id

    def owns(self, account: Account) -> bool:
        """A strict ancestor: may manage the account's settings and money."""
        return self.sees(account) and not self.is_self(account)


def require_visible(
    principal: Principal, account: Account | None, what: str = "account"
) -> Account:
    if account is None or not principal.sees(account):
        raise NotFound(f"{what} not found")
    return account


def _require_not_support(principal: Principal) -> None:
    if principal.role is Role.SUPPORT:
        raise Forbidden("a support key is read-only")


def require_write(principal: Principal) -> None:
    """A write over the key's subtree: not a support key, and every account of the key's
    chain active (a blocked or suspended one leaves its keys read-only)."""
    _require_not_support(principal)
    if principal.status is not AccountStatus.ACTIVE:
        raise AccountNotActive(
            f"the key's account or an account above it is {principal.status}: "
            "its keys may only read"
        )


def check_revoke(principal: Principal) -> None:
    """Revoking only takes power away: allowed to any key but a support key, even under
    a blocked or suspended account (a leaked key must be revocable)."""
    _require_not_support(principal)


def check_create(principal: Principal, kind: AccountKind) -> None:
    require_write(principal)
    if kind not in CREATABLE_KINDS[principal.role]:
        raise Forbidden(f"a {principal.role} key cannot create {kind} accounts")


def check_patch(principal: Principal, account: Account, fields: set[str]) -> None:
    require_write(principal)
    if principal.is_self(account):
        own = account.parent_id is None and principal.role is Role.ADMIN
        refused = sorted(fields - (OPERATOR_EDITABLE if own else SELF_EDITABLE))
        if refused:
            raise Forbidden(f"an account cannot change its own {', '.join(refused)}")
        if "timezone" in fields and _spend_capped(account):
            # its caps' hours and days are those of its timezone (docs/charging.md)
            raise Forbidden("an account with spend caps cannot change its own timezone")
    elif principal.role is Role.USER:
        raise Forbidden("a user key can only edit its own account")


def _spend_capped(account: Account) -> bool:
    limits = account.limits
    caps = (limits.hourly_spend_cap, limits.daily_spend_cap, limits.high_risk_daily_cap)
    return any(cap is not None for cap in caps)


def check_issue_key(principal: Principal, account: Account, role: Role) -> None:
    require_write(principal)
    if role not in ISSUABLE_ROLES[principal.role]:
        raise Forbidden(f"a {principal.role} key cannot issue {role} keys")
    if principal.role is Role.USER and not principal.is_self(account):
        raise Forbidden("a user key can only issue keys for its own account")


def check_identifiers(principal: Principal, account: Account) -> None:
    require_write(principal)
    if principal.role is Role.USER:
        raise Forbidden("caller identifiers are set by the account's owner, not by a user key")


def check_top_up(principal: Principal, account: Account) -> None:
    """Top-ups bring operator money in: admin only, never into the operator root itself."""
    require_write(principal)
    if principal.role is not Role.ADMIN:
        raise Forbidden("only the operator tops up; a reseller funds a child with a transfer")
    if principal.is_self(account):
        raise Forbidden("an account cannot top itself up")


def check_owner_money(principal: Principal, account: Account, operation: str) -> None:
    """Adjustments and refunds are made by an ancestor, never by an account on itself."""
    require_write(principal)
    if principal.role is Role.USER:
        raise Forbidden(f"a user key cannot make {operation}s")
    if principal.is_self(account):
        raise Forbidden(f"an account cannot make {operation}s on itself")


def funding_account(principal: Principal) -> int | None:
    """Who pays for an adjustment or refund: the operator's books for an admin key, the
    acting account's own balance for anyone else (a reseller cannot create money)."""
    return None if principal.role is Role.ADMIN else principal.account_id


def check_transfer(principal: Principal, source: Account, target: Account) -> None:
    """Funding moves money from an account the caller holds down to a direct child."""
    require_write(principal)
    if principal.role is Role.USER:
        raise Forbidden("a user key cannot transfer funds")
    if not principal.is_self(source) and principal.role is not Role.ADMIN:
        raise Forbidden("only the account's own key moves money out of it")
    if target.parent_id != source.id:
        raise Forbidden("a transfer funds a direct child of the source account")


def check_rate_plan_admin(principal: Principal) -> None:
    require_write(principal)
    if principal.role is not Role.ADMIN:
        raise Forbidden("rate plans are managed by the operator")


def check_calls(principal: Principal) -> None:
    """Calls are driven by the switch side of the business: the operator or a reseller,
    for callers in its subtree (the caller's tenancy is checked where it is identified)."""
    require_write(principal)
    _require_call_role(principal)


def check_settle(principal: Principal) -> None:
    """Update and stop a call in progress: as :func:`check_calls`, but allowed under a
    blocked or suspended account too — the calls it started must be settled at their
    real duration (the sweeper would charge them their whole grant)."""
    _require_not_support(principal)
    _require_call_role(principal)


def _require_call_role(principal: Principal) -> None:
    if principal.role not in (Role.ADMIN, Role.RESELLER):
        raise Forbidden(f"a {principal.role} key cannot drive calls")


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    account_id: int
    role: Role
    prefix: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class PortalUser:
    """Who signs in to the portal: an email and an argon2id password hash, bound to one
    account with one role."""

    id: int
    account_id: int
    email: str
    password_hash: str
    role: Role
    disabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PasswordReset:
    """A password reset link the portal emailed: its user, until when it works, and when
    it was used (it works once)."""

    id: int
    user_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """An active key with the path of its account and the status of its chain (the
    account and its ancestors: ``closed`` if any is closed, else ``suspended`` or
    ``blocked`` if any is, else ``active``), read in one statement."""

    key: ApiKeyRecord
    path: str
    status: AccountStatus


@dataclass(frozen=True, slots=True)
class PortalSession:
    """A signed-in portal visitor (a portal user, or a calling card with its PIN): the
    account and role it acts as, its chain's status (as :class:`KeyOwner`'s), and the
    CSRF secret of its forms. ``user_id`` is None for a card."""

    id: int
    user_id: int | None
    account_id: int
    path: str
    role: Role
    label: str
    csrf_secret: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    status: AccountStatus = AccountStatus.ACTIVE

    @property
    def principal(self) -> Principal:
        return Principal(self.account_id, self.path, self.role, status=self.status)
