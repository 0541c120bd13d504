"""Rate plans as callers see them: each operator its own, and in it, the admin all of
them, others what they pay and what they sell.

Plans belong to an operator (the root of the caller's tree) and are named within it:
another operator's plans do not exist for a caller, whatever its role — the same name
there is another plan, and reading, quoting or uploading it answers exactly as for a
name nobody uses. Inside the operator, a reseller, customer, user or card (and a support
key bound to one) reads:

- its **effective plan**, the one that prices its own calls: its own ``rate_plan`` or,
  when it has none, the nearest ancestor's below the root — the rule charging applies
  (:func:`voxbill.domain.charging.levels`, the caller's level);
- the plans its own subtree is rated by (the prices it charges those below it).

- the plans an account of its subtree owns (a reseller's own plans, assigned or not:
  :mod:`voxbill.services.rating.reseller_plans`).

Nothing else: an ancestor's plan that does not price the caller (a user with a plan of
its own does not see its customer's), a sibling's, another reseller's. The operator's
admin (and operator-wide support) reads every plan of the operator. A user or card key
quotes only its effective plan (the default when it names none). The admin imports decks
into any plan; a reseller key into the plans its account owns (a new name becomes its
own plan; a name the operator already has, and it does not own, is ``plan_name_taken``).

The command line acts as an operator (``operator_id``), with the same scoping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from voxbill.domain import access
from voxbill.domain import charging as charging_rules
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import Account
from voxbill.domain.errors import CurrencyMismatch, Forbidden, InvalidInput, NoRate, UnknownRatePlan
from voxbill.domain.rate_changes import RecordedChange
from voxbill.domain.rate_deck import read_deck
from voxbill.domain.rates import ImportRecord, PlanOptions, PlanRecord, RatePlan, StoredRate
from voxbill.services.rating.imports import ImportReport, RateImportService, plan_name_taken
from voxbill.services.unit_of_work import Transaction, UnitOfWork


@dataclass(frozen=True)
class PlanPage:
    """A plan, how many rate rows it has, and one page of them (by id)."""

    plan: PlanRecord
    rows: int
    rates: list[StoredRate]


@dataclass(frozen=True)
class PlanListing:
    """A plan the caller reads, its row count, and whether it prices the caller's calls."""

    plan: PlanRecord
    rows: int
    effective: bool


@dataclass(frozen=True)
class MarginRow:
    """One destination of a plan the caller sells: its price, what the caller pays for a
    call there (its buy plan's row covering the prefix at the instant asked), and the
    difference (None: the buy plan has no rate there)."""

    sell: StoredRate
    buy_prefix: str | None
    buy_rate: Decimal | None
    buy_connect_fee: Decimal | None

    @property
    def margin(self) -> Decimal | None:
        return None if self.buy_rate is None else self.sell.rate - self.buy_rate

    @property
    def connect_fee_margin(self) -> Decimal | None:
        fee = self.buy_connect_fee
        return None if fee is None else self.sell.connect_fee - fee

    @property
    def below_cost(self) -> bool:
        """Sold below what the seller pays (per minute or per connection): a loss."""
        margins = (self.margin, self.connect_fee_margin)
        return any(m is not None and m < 0 for m in margins)


@dataclass(frozen=True)
class MarginPage:
    """A page (by the sell plan's row ids) of a sold plan against the caller's buy plan."""

    sell: PlanRecord
    buy: PlanRecord
    at: datetime
    rows: list[MarginRow]


#: loads an operator's plan for rating (the rating service's cache)
PlanLoader = Callable[[int, str], RatePlan]


def _sees_all(principal: Principal) -> bool:
    operator_wide = principal.path.count("/") == 2
    return principal.role is Role.ADMIN or (principal.role is Role.SUPPORT and operator_wide)


def _unknown(name: str) -> UnknownRatePlan:
    return UnknownRatePlan(f"there is no rate plan named {name!r}")


class RatePlanCatalog:
    def __init__(self, uow: UnitOfWork, importer: RateImportService) -> None:
        self._uow = uow
        self._importer = importer

    def _visible(self, tx: Transaction, principal: Principal) -> set[str] | None:
        """Names of the operator's plans the caller reads (None: all of them)."""
        if _sees_all(principal):
            return None
        names = tx.accounts.plans_used_in(principal.path)
        names |= tx.rates.plans_owned_under(principal.operator_id, principal.path)
        effective = _effective_plan(tx, principal)
        if effective is not None:
            names.add(effective)
        return names

    def reads(self, tx: Transaction, principal: Principal, name: str) -> bool:
        """Whether the caller reads the operator's plan of that name (in ``tx``)."""
        visible = self._visible(tx, principal)
        return visible is None or name in visible

    def effective(self, principal: Principal) -> str | None:
        """The plan that prices calls made by the key's own account (None: none does)."""
        with self._uow.transaction(readonly=True) as tx:
            return _effective_plan(tx, principal)

    def _readable(self, tx: Transaction, principal: Principal, name: str) -> PlanRecord:
        visible = self._visible(tx, principal)
        record = tx.rates.find_plan(principal.operator_id, name)
        if record is None or (visible is not None and name not in visible):
            raise _unknown(name)
        return record

    def show(
        self, principal: Principal, name: str, *, after_id: int | None, limit: int
    ) -> PlanPage:
        with self._uow.transaction(readonly=True) as tx:
            record = self._readable(tx, principal, name)
            count = tx.rates.count_rates(record.id)
            rows = tx.rates.rates_page(record.id, after_id=after_id, limit=limit)
        return PlanPage(record, count, rows)

    def changes(
        self,
        principal: Principal,
        name: str,
        *,
        import_id: int | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> tuple[PlanRecord, list[RecordedChange]]:
        """The price changes recorded by the plan's imports (for price-change notices)."""
        with self._uow.transaction(readonly=True) as tx:
            record = self._readable(tx, principal, name)
            rows = tx.rates.list_changes(record.id, import_id, after_id=after_id, limit=limit)
        return record, rows

    def imports(
        self, principal: Principal, name: str, *, before_id: int | None, limit: int
    ) -> tuple[PlanRecord, list[ImportRecord]]:
        """The plan's imports (decks and copies), newest first, a page by id."""
        with self._uow.transaction(readonly=True) as tx:
            record = self._readable(tx, principal, name)
            rows = tx.rates.list_imports(record.id, before_id=before_id, limit=limit)
        return record, rows

    def check_quote(self, principal: Principal, name: str) -> None:
        """Quoting a plan is reading it: refused (as unknown) outside what the caller sees
        (the quote itself reads the plan of the caller's operator only)."""
        with self._uow.transaction(readonly=True) as tx:
            visible = self._visible(tx, principal)
        if visible is not None and name not in visible:
            raise _unknown(name)

    def quote_plan(self, principal: Principal, name: str | None) -> str:
        """The plan a quote prices: the one named, if the caller may quote it (a user or
        card key: only its effective plan), else the caller's effective plan."""
        with self._uow.transaction(readonly=True) as tx:
            effective = _effective_plan(tx, principal)
            if name is None:
                if effective is None:
                    raise InvalidInput("plan: no rate plan prices this key's calls; name one")
                return effective
            if principal.role is Role.USER:
                if name != effective:
                    raise _unknown(name)
                return name
            visible = self._visible(tx, principal)
        if visible is not None and name not in visible:
            raise _unknown(name)
        return name

    def margin(
        self,
        principal: Principal,
        name: str,
        *,
        load: PlanLoader,
        at: datetime,
        after_id: int | None,
        limit: int,
    ) -> MarginPage:
        """A plan the caller sells (one its subtree is rated by) against its buy plan (its
        account's own ``rate_plan``: what it pays for each call below it), per
        destination. Read-only; a plan it does not sell answers as an unknown one."""
        if principal.role is Role.USER:
            raise Forbidden("a user key sells nothing: margins are for resellers")
        with self._uow.transaction(readonly=True) as tx:
            sold = tx.accounts.plans_used_in(principal.path)
            sold |= tx.rates.plans_owned_under(principal.operator_id, principal.path)
            sell = tx.rates.find_plan(principal.operator_id, name)
            if sell is None or name not in sold:
                raise _unknown(name)
            account = tx.accounts.get(principal.account_id)
            buy_name = None if account is None else account.plans.rate_plan
            buy = None if buy_name is None else tx.rates.find_plan(principal.operator_id, buy_name)
            if buy is None or account is None or account.parent_id is None:
                raise InvalidInput("the key's account pays by no plan of its own: no buy price")
            if buy.currency != sell.currency:
                raise CurrencyMismatch(
                    f"plan {sell.name} is in {sell.currency}, the buy plan {buy.name} in "
                    f"{buy.currency}: no margin without an exchange"
                )
            rows = tx.rates.rates_page(sell.id, after_id=after_id, limit=limit)
        buy_plan = load(principal.operator_id, buy.name)
        return MarginPage(sell, buy, at, [_margin_row(buy_plan, row, at) for row in rows])

    def check_import(self, principal: Principal, name: str) -> int | None:
        """Who may import into the plan of that name; the owner a new plan gets.

        The admin: any plan (a new one is the operator's). A reseller key: a plan its
        account owns, or a new name (its own plan then); a plan it reads but does not
        own is ``403``, a name the operator has that it does not read ``409
        plan_name_taken`` (whose, not said). Any other key: ``404`` for a plan it does
        not read, ``403`` otherwise."""
        access.require_write(principal)
        if principal.role is Role.ADMIN:
            return None
        if principal.role is not Role.RESELLER:
            self.check_quote(principal, name)
            access.check_rate_plan_admin(principal)
        with self._uow.transaction(readonly=True) as tx:
            record = tx.rates.find_plan(principal.operator_id, name)
            visible = self._visible(tx, principal)
        if record is None or record.owner_account_id == principal.account_id:
            return principal.account_id
        if visible is not None and name not in visible:
            raise plan_name_taken(name)
        raise Forbidden(f"plan {name!r} is not this reseller's own: import into a plan you own")

    def import_csv(
        self,
        principal: Principal,
        name: str,
        text: str,
        *,
        source: str,
        options: PlanOptions,
        replace: bool,
        skip_bad_rows: bool,
        dry_run: bool = False,
        expect_state: str | None = None,
    ) -> ImportReport:
        """Import into the caller's operator's plan of that name (created when new);
        ``dry_run``: what would change, nothing written (the same checks first);
        ``expect_state``: refused (409) if the plan changed since a dry run saw it."""
        owner = self.check_import(principal, name)
        operator_id = principal.operator_id
        zone = self._importer.plan_timezone(operator_id, name, options)
        deck = read_deck(text.splitlines(keepends=True), timezone=zone)
        return self._importer.import_deck(
            deck,
            operator_id=operator_id,
            plan=name,
            source=source,
            options=options,
            replace=replace,
            skip_bad_rows=skip_bad_rows,
            owner_account_id=owner,
            dry_run=dry_run,
            expect_state=expect_state,
        )

    # -- as the operator (the command line) ----------------------------------------------

    def plans_of(self, operator_id: int | None) -> list[tuple[PlanRecord, int]]:
        """Every plan of the operator (None: of an installation without operators)."""
        with self._uow.transaction(readonly=True) as tx:
            return tx.rates.list_plans(operator_id)

    def changes_of(self, operator_id: int | None, name: str) -> list[RecordedChange]:
        with self._uow.transaction(readonly=True) as tx:
            record = tx.rates.find_plan(operator_id, name)
            if record is None:
                raise _unknown(name)
            return tx.rates.list_changes(record.id)

    def choices(self, principal: Principal) -> list[tuple[PlanRecord, bool]]:
        """The operator's plans the caller reads, by name, uncounted, each with whether
        it prices the caller's own calls (a form's choice of plan)."""
        with self._uow.transaction(readonly=True) as tx:
            visible = self._visible(tx, principal)
            effective = _effective_plan(tx, principal)
            plans = tx.rates.plan_records(principal.operator_id, names=visible)
        return [(p, p.name == effective) for p in plans]

    # last: in the class body, ``list`` names this method from here on
    def list(
        self, principal: Principal, *, after: str | None = None, limit: int | None = None
    ) -> list[PlanListing]:
        """The operator's plans the caller reads, by name, with their row counts (and
        which one prices the caller's own calls): every one, or a page of at most
        ``limit`` after the name ``after`` (only the page's rates are counted)."""
        with self._uow.transaction(readonly=True) as tx:
            visible = self._visible(tx, principal)
            effective = _effective_plan(tx, principal)
            plans = tx.rates.list_plans(
                principal.operator_id, names=visible, after=after, limit=limit
            )
        return [PlanListing(p, n, p.name == effective) for p, n in plans]


def _margin_row(buy: RatePlan, row: StoredRate, at: datetime) -> MarginRow:
    try:
        bought = buy.lookup(row.prefix, at)
    except NoRate:
        return MarginRow(row, None, None, None)
    return MarginRow(row, bought.prefix, bought.rate, bought.connect_fee)


def _chain(tx: Transaction, principal: Principal) -> list[Account]:
    """The key's account and its ancestors, caller first (as charging reads them)."""
    ids = [int(part) for part in principal.path.strip("/").split("/")]
    found = [tx.accounts.get(account_id) for account_id in reversed(ids)]
    return [a for a in found if a is not None]


def _effective_plan(tx: Transaction, principal: Principal) -> str | None:
    """The plan charging prices the key's own account's calls by: the first level's."""
    levels = charging_rules.levels(_chain(tx, principal))
    return levels[0].plan if levels else None


#: the plan that prices the key's own account's calls (its buy plan), in ``tx``
effective_plan = _effective_plan
