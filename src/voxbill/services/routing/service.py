"""Least-cost routing: the vendors that may carry a call, cheapest first, and the
vendors' SIP targets.

A vendor's outbound balance is the ledger balance of its account: top-ups are what we
prepaid it, charges what it billed us, so "what we prepaid them minus what they billed
us" is its spendable funds. Vendors (status, target, funds) are read once per
``Settings.routing_recheck_seconds`` and per operator, and a caller's chain (whose plan
sets the sell rate the margin guard compares with) once per that time and per account:
a change is seen within that. Routes only order and filter carriers; the call's own
charging reads its chain, plans and funds by its own rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from voxbill.domain import access
from voxbill.domain import routing as rules
from voxbill.domain.access import Principal
from voxbill.domain.accounts import Account, AccountKind
from voxbill.domain.errors import Forbidden, InvalidInput, NotFound, PinRefused
from voxbill.domain.routing import Route, SipTarget, Vendor
from voxbill.services.access.identifiers import IdentifierService
from voxbill.services.caching import TtlCache
from voxbill.services.charging import callers
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.service import RatingService
from voxbill.services.unit_of_work import Transaction, UnitOfWork
from voxbill.settings import Settings


class FxRate(Protocol):
    """1 ``base`` in ``quote`` now, by the exchange rates of operator ``operator_id``."""

    def __call__(self, base: str, quote: str, *, operator_id: int) -> Decimal: ...


#: The roles whose keys read the operator's vendors (support: view-only).
VENDOR_READERS = frozenset({access.Role.ADMIN, access.Role.SUPPORT})


def check_vendor_read(principal: Principal) -> None:
    """Vendors (carriers) are the operator's: read by its staff (an admin key, a support
    key of the operator's account), not by a reseller's, customer's or their support's."""
    if principal.role not in VENDOR_READERS or not principal.operator_staff:
        raise Forbidden(
            f"a {principal.role} key of account {principal.account_id} does not read "
            "the operator's vendors"
        )


@dataclass(frozen=True, slots=True)
class VendorListing:
    """A vendor account, its SIP target (None: none set, or the caller may not read SIP
    targets: they are the operator's admins') and, in a list, its ledger balance (what we
    paid it minus what it billed us; negative: we owe it)."""

    account: Account
    target: SipTarget | None
    balance: Decimal | None = None


@dataclass(frozen=True)
class RouteQuery:
    """Routes for one call, and the operator's sell rate they were checked against."""

    account_id: int
    routes: list[Route]
    sell_rate: Decimal | None
    currency: str | None


class RoutingService:
    def __init__(
        self,
        uow: UnitOfWork,
        settings: Settings,
        *,
        rating: RatingService,
        identifiers: IdentifierService,
        fx_rate: FxRate | None = None,
    ) -> None:
        self._uow = uow
        self._settings = settings
        self._rating = rating
        self._identifiers = identifiers
        self._fx_rate = fx_rate
        recheck = settings.routing_recheck_seconds
        self._vendor_lists: TtlCache[int, list[Vendor]] = TtlCache(recheck)
        self._chains: TtlCache[int, list[Account]] = TtlCache(recheck)

    # -- SIP targets (admin) -----------------------------------------------------------

    def _vendor(self, tx: Transaction, principal: Principal, account_id: int) -> None:
        account = access.require_visible(principal, tx.accounts.get(account_id))
        if principal.role is not access.Role.ADMIN:
            raise Forbidden("vendor SIP targets are managed by the operator")
        if account.kind is not AccountKind.VENDOR:
            raise InvalidInput(f"account {account_id} is not a vendor")

    def set_target(self, principal: Principal, account_id: int, target: SipTarget) -> SipTarget:
        access.require_write(principal)
        with self._uow.transaction() as tx:
            self._vendor(tx, principal, account_id)
            tx.routes.save_target(account_id, target, datetime.now(UTC))
        self.forget()
        return target

    def set_target_as_operator(self, account_id: int, target: SipTarget) -> SipTarget:
        """The command line's way: acting as the operator the vendor belongs to."""
        with self._uow.transaction(readonly=True) as tx:
            account = tx.accounts.get(account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        root = account.operator_id
        return self.set_target(Principal(root, f"/{root}/", access.Role.ADMIN), account_id, target)

    def target(self, principal: Principal, account_id: int) -> SipTarget:
        with self._uow.transaction(readonly=True) as tx:
            self._vendor(tx, principal, account_id)
            found = tx.routes.target(account_id)
        if found is None:
            raise NotFound(f"vendor {account_id} has no SIP target", code="no_sip_target")
        return found

    def delete_target(self, principal: Principal, account_id: int) -> None:
        access.require_write(principal)
        with self._uow.transaction() as tx:
            self._vendor(tx, principal, account_id)
            if not tx.routes.delete_target(account_id):
                raise NotFound(f"vendor {account_id} has no SIP target", code="no_sip_target")
        self.forget()

    def vendor_page(
        self, principal: Principal, *, after_id: int | None, limit: int
    ) -> list[VendorListing]:
        """The vendor accounts the caller sees (vendors are the operator root's children:
        none below it), by id; SIP targets for admin keys only, as ``target`` rules."""
        check_vendor_read(principal)
        operator_id = principal.operator_id
        with self._uow.transaction(readonly=True) as tx:
            found = tx.routes.vendor_page(operator_id, after_id=after_id, limit=limit)
        admin = principal.role is access.Role.ADMIN
        return [
            VendorListing(account, target if admin else None, balance)
            for account, target, balance in found
            if principal.sees(account)
        ]

    def vendor(self, principal: Principal, account_id: int) -> VendorListing:
        """A vendor the caller sees (404 otherwise, also for an account that is not a
        vendor), read by the operator's staff (403 for other roles); its SIP target for
        admin keys only."""
        with self._uow.transaction(readonly=True) as tx:
            account = access.require_visible(principal, tx.accounts.get(account_id))
            check_vendor_read(principal)
            if account.kind is not AccountKind.VENDOR:
                raise NotFound(f"account {account_id} is not a vendor")
            admin = principal.role is access.Role.ADMIN
            return VendorListing(account, tx.routes.target(account_id) if admin else None)

    def forget(self) -> None:
        self._vendor_lists.clear()
        self._chains.clear()

    # -- routes ------------------------------------------------------------------------

    def _vendors(self, operator_id: int) -> list[Vendor]:
        vendors = self._vendor_lists.peek(operator_id)
        if vendors is None:
            with self._uow.transaction(readonly=True) as tx:
                vendors = tx.routes.vendors(operator_id)
            self._vendor_lists.put(operator_id, vendors)
        return vendors

    def _sell(self, account_id: int, number: str, at: datetime) -> tuple[int, Decimal | None, str]:
        """(operator id, the operator's sell rate, its currency).

        What the operator earns is what its direct payer pays: the highest account below
        the root whose plan prices the call (the caller's own plan when nobody above it
        has one).
        """
        chain = self._chains.peek(account_id)
        if chain is None:
            chain = self._chain(account_id)
            if chain:  # an unknown account is not remembered: it may be created next
                self._chains.put(account_id, chain)
        if not chain:
            raise NotFound(f"no account {account_id}")
        top = rules.direct_payer(chain)
        if top is None:
            return chain[-1].id, None, chain[0].currency
        assert top.plans.rate_plan is not None
        try:
            row = self._rating.plan(top.operator_id, top.plans.rate_plan).lookup(number, at)
        except NotFound:
            return chain[-1].id, None, top.currency
        return chain[-1].id, row.rate, top.currency

    def _chain(self, account_id: int) -> list[Account]:
        with self._uow.transaction(readonly=True) as tx:
            return tx.routes.chain(account_id)

    def _in_currency(
        self, rate: Decimal, source: str, target: str, operator_id: int
    ) -> Decimal | None:
        if source == target:
            return rate
        if self._fx_rate is None:
            return None
        try:
            return rate * self._fx_rate(source, target, operator_id=operator_id)
        except NotFound:
            return None

    def normalize(self, number: str) -> str:
        """E.164 digits, as routes and charging read a dialled number."""
        return self._rating.normalize(number)

    def for_account(self, account_id: int, callee: str, at: datetime | None = None) -> RouteQuery:
        """The routes for a call by ``account_id`` to ``callee`` (E.164 or dialled)."""
        start = at or datetime.now(UTC)
        number = self._rating.normalize(callee)
        operator_id, sell, currency = self._sell(account_id, number, start)
        margin = self._settings.min_margin
        routes = []
        for vendor in self._vendors(operator_id):
            plan_name = vendor.account.plans.rate_plan
            if plan_name is None or not rules.usable(vendor):
                continue
            try:
                plan = self._rating.plan(vendor.account.operator_id, plan_name)
                row = plan.lookup(number, start)
            except NotFound:
                continue
            cost_rate = self._in_currency(row.rate, plan.currency, currency, operator_id)
            if cost_rate is None or not rules.within_margin(cost_rate, sell, margin):
                continue
            routes.append(
                Route(
                    vendor.account.id,
                    vendor.account.name,
                    vendor.target,
                    row.rate,
                    plan.currency,
                    row.prefix,
                    cost_rate,
                )
            )
        return RouteQuery(account_id, rules.least_cost(routes), sell, currency)

    def for_caller(
        self, caller: CallerId, callee: str, at: datetime | None = None
    ) -> RouteQuery | None:
        """Routes for the caller; None for an unknown caller or number (charging's
        refusal then says why)."""
        try:
            account_id = callers.identify(self._identifiers, caller)
        except PinRefused:
            return None
        if account_id is None:
            return None
        try:
            return self.for_account(account_id, callee, at)
        except (InvalidInput, NotFound):
            return None
