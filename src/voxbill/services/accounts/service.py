"""Account use cases: create, read, change, move, block — each checked against the caller."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voxbill.domain import access, partners
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import (
    Account,
    AccountKind,
    AccountStatus,
    BalanceSettings,
    Limits,
    Plans,
    check_move,
    check_name,
    check_parent,
)
from voxbill.domain.errors import CallsInProgress, Conflict, InvalidInput, NotFound
from voxbill.domain.money import ZERO, normalize_currency
from voxbill.domain.notify import ACCOUNT_BLOCKED
from voxbill.services.caching import TtlCache
from voxbill.services.rating.reseller_plans import check_assignable, readable_plans
from voxbill.services.rating.reseller_plans import check_move as check_move_of_plans
from voxbill.services.unit_of_work import Transaction, UnitOfWork, WriteConflict

BALANCE_FIELDS = frozenset(f.name for f in dataclasses.fields(BalanceSettings))
LIMIT_FIELDS = frozenset(f.name for f in dataclasses.fields(Limits))
PLAN_FIELDS = frozenset(f.name for f in dataclasses.fields(Plans))
#: What PATCH may change; kind and currency are fixed at creation (the ledger depends on them).
PATCHABLE = (
    BALANCE_FIELDS
    | LIMIT_FIELDS
    | PLAN_FIELDS
    | {"name", "status", "parent_id", "timezone", "tax_profile", "partner_id"}
)


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown timezone {name!r}") from None


def _with(account: Account, changes: Mapping[str, Any]) -> Account:
    """The account with ``changes`` applied to its flat field names."""
    balance = {k: v for k, v in changes.items() if k in BALANCE_FIELDS}
    limits = {k: v for k, v in changes.items() if k in LIMIT_FIELDS}
    plans = {k: v for k, v in changes.items() if k in PLAN_FIELDS}
    tops = {"name", "status", "timezone", "tax_profile", "partner_id"}
    top = {k: v for k, v in changes.items() if k in tops}
    return dataclasses.replace(
        account,
        balance=dataclasses.replace(account.balance, **balance),
        limits=dataclasses.replace(account.limits, **limits),
        plans=dataclasses.replace(account.plans, **plans),
        **top,
    )


class Funds(Protocol):
    @property
    def balance(self) -> Decimal: ...

    @property
    def reserved(self) -> Decimal: ...


class AccountService:
    def __init__(
        self,
        uow: UnitOfWork,
        funds_of: Callable[[int], Funds] | None = None,
        *,
        cache_seconds: float = 0.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        """``funds_of`` (the ledger's balance view) guards balance-sharing changes;
        ``on_change`` lets other caches of accounts forget them when one is written here."""
        self._uow = uow
        self._funds_of = funds_of
        self._recent: TtlCache[int, Account | None] = TtlCache(cache_seconds)
        self._on_change = on_change

    @contextmanager
    def _write(self) -> Iterator[Transaction]:
        try:
            with self._uow.transaction() as tx:
                yield tx
        except WriteConflict as exc:  # two vendors linked to one partner at once
            if "partner_id" not in str(exc):
                raise
            raise Conflict(
                "the partner was linked to another vendor meanwhile; one vendor per partner",
                code="partner_taken",
            ) from exc
        self._recent.clear()
        if self._on_change is not None:
            self._on_change()

    # -- reading -----------------------------------------------------------------------

    def visible(self, principal: Principal, account_id: int) -> Account:
        """The account if the caller may see it; ``NotFound`` otherwise (no leak)."""
        with self._uow.transaction(readonly=True) as tx:
            return access.require_visible(principal, tx.accounts.get(account_id))

    def guard(
        self,
        principal: Principal,
        account_ids: Sequence[int],
        check: Callable[..., None],
    ) -> Callable[[Transaction], None]:
        """Tenancy re-checked inside a money movement's own transaction.

        The guard re-reads ``account_ids`` (FOR SHARE on PostgreSQL, so a concurrent move
        or status change waits for us; SQLite's write transactions are serial anyway),
        requires each visible and calls ``check(*accounts)``: what the router checked
        before cannot have changed by the time the money moves.
        """

        def guard(tx: Transaction) -> None:
            accounts = [
                access.require_visible(principal, tx.accounts.get(account_id, for_share=True))
                for account_id in account_ids
            ]
            check(*accounts)

        return guard

    def visible_recently(self, principal: Principal, account_id: int) -> Account:
        """``visible`` from a read at most ``hot_cache_seconds`` old: the calls hot path's
        tenancy check. A move made on another node reaches it within that bound; money is
        never decided from it (charging re-reads the chain in its own transaction)."""

        def load() -> Account | None:
            with self._uow.transaction(readonly=True) as tx:
                return tx.accounts.get(account_id)

        return access.require_visible(principal, self._recent.get(account_id, load))

    def children(
        self, principal: Principal, account_id: int, *, after_id: int | None, limit: int
    ) -> list[Account]:
        with self._uow.transaction(readonly=True) as tx:
            access.require_visible(principal, tx.accounts.get(account_id))
            return tx.accounts.children(account_id, after_id=after_id, limit=limit)

    def search(
        self, principal: Principal, *, name: str | None, after_id: int | None, limit: int
    ) -> list[Account]:
        """The accounts of the principal's subtree (itself included) in id order, those
        whose name contains ``name`` (any case) when given; page with ``after_id``."""
        with self._uow.transaction(readonly=True) as tx:
            return tx.accounts.subtree(principal.path, after_id=after_id, limit=limit, name=name)

    def ancestors(self, account: Account) -> list[Account]:
        """The accounts above ``account`` as stored now, parent first and the root last
        (what its calls' chain adds to it: e.g. for its effective per-call cap)."""
        with self._uow.transaction(readonly=True) as tx:
            found = [tx.accounts.get(i) for i in reversed(account.ancestor_ids)]
        return [a for a in found if a is not None]

    def partner_position(self, principal: Principal, account_id: int) -> partners.Position:
        """A partner's running position (``docs/charging.md``, partners): asked of its
        customer side (any key that sees it) or of its vendor (the operator's keys)."""
        with self._uow.transaction(readonly=True) as tx:
            account = access.require_visible(principal, tx.accounts.get(account_id))
            if account.kind is AccountKind.VENDOR and account.partner_id is not None:
                side = tx.accounts.get(account.partner_id)
                assert side is not None  # a link names an account, never deleted
                account = side
            vendor_only = account.kind is AccountKind.VENDOR
            linked = None if vendor_only else tx.accounts.partner_vendor(account.id)
        if vendor_only:  # a carrier without a link: its outbound side alone
            return partners.position(account, account.id, ZERO, self._balance(account.id))
        vendor_id, outbound = linked if linked is not None else (None, ZERO)
        inbound = self._balance(account.id)
        return partners.position(account, vendor_id, inbound, outbound)

    def link_partner_as_operator(self, vendor_id: int, partner_id: int | None) -> Account:
        """The command line's way to link (None: unlink) a vendor with its partner's
        customer side, acting as the operator the vendor belongs to."""
        with self._uow.transaction(readonly=True) as tx:
            vendor = tx.accounts.get(vendor_id)
        if vendor is None:
            raise NotFound(f"no account {vendor_id}")
        root = vendor.operator_id
        principal = Principal(root, f"/{root}/", Role.ADMIN)
        return self.patch(principal, vendor_id, {"partner_id": partner_id})

    def _balance(self, account_id: int) -> Decimal:
        return ZERO if self._funds_of is None else self._funds_of(account_id).balance

    # -- the operator root ---------------------------------------------------------------

    def ensure_operator(self, name: str, currency: str) -> tuple[Account, bool]:
        """The operator root named ``name``, created if missing; ``True`` when created.

        The first operator of an installation adopts the rate plans imported before it
        existed (which no operator owns); later operators start without plans."""
        name = check_name(name)
        with self._write() as tx:
            existing = tx.accounts.find_operator(name)
            if existing is not None:
                return existing, False
            first = not tx.accounts.operator_ids()
            root = Account(
                id=0,
                parent_id=None,
                path="",
                depth=0,
                kind=AccountKind.OPERATOR,
                name=name,
                status=AccountStatus.ACTIVE,
                currency=normalize_currency(currency),
                balance=BalanceSettings(),
                limits=Limits(),
                plans=Plans(),
                timezone="UTC",
                tax_profile=None,
            )
            created = tx.accounts.insert_account(root, None)
            if first:
                tx.rates.adopt_unowned_plans(created.id)
            return created, True

    def operator_ids(self) -> list[int]:
        """Every operator root's id (what a switch door binds its peers to)."""
        with self._uow.transaction(readonly=True) as tx:
            return tx.accounts.operator_ids()

    def operators(self) -> list[Account]:
        """Every operator root, oldest first (whom a command may act for)."""
        with self._uow.transaction(readonly=True) as tx:
            found = (tx.accounts.get(root) for root in tx.accounts.operator_ids())
            return [root for root in found if root is not None]

    # -- writing -----------------------------------------------------------------------

    def create(self, principal: Principal, fields: Mapping[str, Any]) -> Account:
        kind = AccountKind(fields["kind"])
        with self._write() as tx:
            parent_id = fields.get("parent_id") or principal.account_id
            parent = tx.accounts.get(parent_id, for_update=True)
            if parent is None or not principal.sees(parent):
                raise NotFound("parent account not found")
            access.check_create(principal, kind)
            if parent.status is AccountStatus.CLOSED:  # its subtree's keys are dead
                raise Conflict(f"account {parent.id} is closed: nothing is created under it")
            check_parent(kind, parent.kind)
            currency = normalize_currency(fields.get("currency") or parent.currency)
            draft = Account(
                id=0,
                parent_id=parent.id,
                path="",
                depth=0,
                kind=kind,
                name=check_name(fields["name"]),
                status=AccountStatus.ACTIVE,
                currency=currency,
                balance=BalanceSettings(),
                limits=Limits(),
                plans=Plans(),
                timezone=fields.get("timezone") or parent.timezone,
                tax_profile=None,
            )
            settable = PATCHABLE - {"parent_id", "status", "name"}
            draft = _with(draft, {k: v for k, v in fields.items() if k in settable})
            self._validate(tx, principal, draft, parent)
            return tx.accounts.insert_account(draft, parent.path)

    def patch(self, principal: Principal, account_id: int, changes: Mapping[str, Any]) -> Account:
        unknown = set(changes) - PATCHABLE
        if unknown:
            raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
        with self._write() as tx:
            account = access.require_visible(
                principal, tx.accounts.get(account_id, for_update=True)
            )
            current = {k: v for k, v in changes.items() if v != _field(account, k)}
            access.check_patch(principal, account, set(current))
            if not current:
                return account
            changed = _with(account, current)
            if "name" in current:
                changed = dataclasses.replace(changed, name=check_name(current["name"]))
            parent = account.parent_id and tx.accounts.get(account.parent_id)
            if "parent_id" in current:
                parent = self._new_parent(tx, principal, account, current["parent_id"])
                changed = dataclasses.replace(changed, parent_id=parent.id)
                check_move_of_plans(tx, account, parent)
            self._validate(tx, principal, changed, parent or None)
            if current.get("shared_balance") is True:
                self._check_own_book_empty(account)
            if "shared_balance" in current or (
                "parent_id" in current and account.balance.shared_balance
            ):
                _check_no_calls_in_progress(tx, account)
            saved = tx.accounts.save(changed)
            if current.get("status") == AccountStatus.BLOCKED:
                _tell_blocked(tx, principal, saved)
            if "parent_id" in current and parent:
                tx.accounts.move_subtree(account.path, f"{parent.path}{account.id}/")
                saved = tx.accounts.get(account.id) or saved
            return saved

    def set_status(self, principal: Principal, account_id: int, status: AccountStatus) -> Account:
        return self.patch(principal, account_id, {"status": status})

    # -- rules that need the database --------------------------------------------------

    def _check_own_book_empty(self, account: Account) -> None:
        """Sharing the parent's balance would strand money left on the account's own."""
        if self._funds_of is None:
            return
        funds = self._funds_of(account.id)
        if funds.balance != 0 or funds.reserved != 0:
            raise Conflict(
                "the account still has its own balance or open reservations; "
                "move them to the parent before sharing its balance"
            )

    def _new_parent(
        self, tx: Transaction, principal: Principal, account: Account, parent_id: Any
    ) -> Account:
        if parent_id is None:
            raise InvalidInput("parent_id cannot be removed; only an operator is a root")
        parent = tx.accounts.get(int(parent_id), for_update=True)
        if parent is None or not principal.sees(parent):
            raise NotFound("parent account not found")
        check_move(account, parent)
        return parent

    def _validate(
        self, tx: Transaction, principal: Principal, account: Account, parent: Account | None
    ) -> None:
        account.balance.check(account.kind, has_parent=parent is not None)
        if parent is not None and account.limits.shared_balance_call_cap is not None:
            raise InvalidInput(
                "shared_balance_call_cap is an operator default: set it on the operator account"
            )
        account.limits.check()
        _check_timezone(account.timezone)
        if account.balance.shared_balance and parent and parent.currency != account.currency:
            raise InvalidInput("a shared balance needs the parent's currency")
        if account.balance.block_balance < ZERO and account.balance.credit_limit == ZERO:
            raise InvalidInput("a negative block_balance needs a postpaid credit limit")
        operator_id = parent.operator_id if parent is not None else account.operator_id
        _check_partner(tx, principal, account, operator_id)
        # plans are named within the account's operator: another operator's plan of the
        # name is refused exactly as a name no plan has
        allowed = readable_plans(tx, principal)
        for name in account.plans.names():
            plan = tx.rates.claim_plan(operator_id, name)  # not deleted under us
            if plan is None or (allowed is not None and name not in allowed):
                raise InvalidInput(f"there is no rate plan named {name!r}")
            if plan.currency != account.currency:
                raise InvalidInput(
                    f"rate plan {name!r} is in {plan.currency}, not {account.currency}"
                )
            check_assignable(parent, plan)


def _check_partner(
    tx: Transaction, principal: Principal, account: Account, operator_id: int
) -> None:
    """A vendor's ``partner_id`` names a visible customer or reseller of its operator, in
    its currency, that no other vendor names; a linked vendor keeps cutoff mode none."""
    if account.partner_id is None:
        return
    partner = tx.accounts.get(int(account.partner_id), for_share=True)
    if partner is None or not principal.sees(partner):
        raise InvalidInput(
            f"no account {account.partner_id} to be a partner", code="invalid_partner"
        )
    partners.check_link(account, partner, operator_id)
    taken = tx.accounts.partner_vendor(partner.id)
    if taken is not None and taken[0] != account.id:
        raise Conflict(
            f"account {partner.id} is already the partner of vendor {taken[0]}; "
            "one vendor per partner",
            code="partner_taken",
        )


def _check_no_calls_in_progress(tx: Transaction, account: Account) -> None:
    """Who pays for the subtree's calls is about to change (its balance owner): calls in
    progress hold money on the current owner and must settle there first. The account
    row is locked, and starts read it FOR SHARE: no call starts meanwhile."""
    calls = tx.holds.open_holds_under(account.path)
    if calls:
        raise CallsInProgress(
            f"account {account.id} has calls in progress ({calls} open holds in its "
            "subtree); change who pays for its calls once they have ended"
        )


def _field(account: Account, name: str) -> Any:
    for part in (account.balance, account.limits, account.plans):
        if name in {f.name for f in dataclasses.fields(part)}:
            return getattr(part, name)
    return getattr(account, name)


def _tell_blocked(tx: Transaction, principal: Principal, account: Account) -> None:
    """An account blocked by hand: an outbox event in the same transaction, delivered as
    ``balance.blocked`` (docs/notifications.md) like the block level reached."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {"reason": "account_blocked", "status": "blocked"}
    payload |= {"by": principal.actor, "account_id": account.id, "at": now.isoformat()}
    tx.ledger.add_outbox_event(ACCOUNT_BLOCKED, account.id, json.dumps(payload), now)
