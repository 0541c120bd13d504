"""Resellers' own rate plans: a marked-up copy of a plan, and deleting a plan.

A plan has an owner: ``None`` for the operator's own plans, or the reseller account that
made it (``POST /api/v1/rate-plans`` with a reseller key, ``voxbill rates copy --owner``,
a reseller's deck upload into a new name). Names stay unique across the operator (the
charging hot path looks a plan up by operator and name): a name the operator already
has is ``409 plan_name_taken``, whoever has it.

Who may copy (``from_plan``): the operator's admin, any plan of the operator; a reseller
key, its **buy plan** (its effective plan: the one that prices its own calls) or a plan
its account owns — a plan it only reads (a customer's) is ``403``, one it does not read
``404 unknown_rate_plan``. Who may delete: the admin, any plan; a reseller key, the plans
its account owns. A plan any account is rated by (``rate_plan`` or ``sms_plan``) is not
deleted (``409 plan_in_use``).

Where an owned plan may be assigned (:func:`check_assignable`): only to accounts below
its owner, and only by a key that reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import Account
from voxbill.domain.errors import Forbidden, InvalidInput, PlanInUse, UnknownRatePlan
from voxbill.domain.money import RoundingMethod
from voxbill.domain.plan_markup import Markup, marked_up
from voxbill.domain.rate_changes import change_counts, diff_rates
from voxbill.domain.rates import PlanRecord
from voxbill.services.rating.catalog import RatePlanCatalog, effective_plan
from voxbill.services.rating.imports import check_owner, plan_name_taken
from voxbill.services.unit_of_work import Transaction, UnitOfWork, WriteConflict


@dataclass(frozen=True)
class CopyRequest:
    name: str
    from_plan: str
    markup: Markup
    #: the copy's rounding precision and method (None: the source plan's)
    decimals: int | None = None
    rounding: RoundingMethod | None = None


@dataclass(frozen=True)
class CopyReport:
    plan: PlanRecord
    from_plan: str
    rows: int
    import_id: int
    changes: dict[str, int]


def _unknown(name: str) -> UnknownRatePlan:
    return UnknownRatePlan(f"there is no rate plan named {name!r}")


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name: a plan name of 1 to 100 characters is required")
    return name


class ResellerPlans:
    def __init__(
        self,
        uow: UnitOfWork,
        catalog: RatePlanCatalog,
        on_change: Callable[[int | None, str], None] | None = None,
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self._on_change = on_change

    # -- with a key ----------------------------------------------------------------------

    def copy(
        self,
        principal: Principal,
        request: CopyRequest,
        *,
        owner_account_id: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CopyReport:
        """A new plan: ``request.from_plan``'s rows marked up. A reseller key's copy is
        its account's; the admin's is the operator's, or ``owner_account_id``'s."""
        access.require_write(principal)
        if principal.role is Role.RESELLER:
            if owner_account_id not in (None, principal.account_id):
                raise Forbidden("a reseller's plans are its own: leave owner_account_id out")
            owner: int | None = principal.account_id
        elif principal.role is Role.ADMIN:
            owner = owner_account_id
        else:
            raise Forbidden("rate plans are made by the operator and by resellers")

        def allowed(tx: Transaction, source: PlanRecord) -> None:
            if principal.role is Role.ADMIN:
                return
            if not self._catalog.reads(tx, principal, source.name):
                raise _unknown(source.name)
            own = source.owner_account_id == principal.account_id
            if not own and source.name != effective_plan(tx, principal):
                raise Forbidden(
                    f"plan {source.name!r}: a reseller copies its buy plan or a plan it owns"
                )

        return self._copy(principal.operator_id, request, owner, allowed, progress)

    def delete(self, principal: Principal, name: str) -> PlanRecord:
        access.require_write(principal)
        if principal.role not in (Role.ADMIN, Role.RESELLER):
            raise Forbidden("rate plans are deleted by the operator and by their reseller")

        def allowed(tx: Transaction, plan: PlanRecord) -> None:
            if principal.role is Role.ADMIN:
                return
            if not self._catalog.reads(tx, principal, plan.name):
                raise _unknown(plan.name)
            if plan.owner_account_id != principal.account_id:
                raise Forbidden(f"plan {plan.name!r} is not this reseller's own")

        return self._delete(principal.operator_id, name, allowed)

    # -- as the operator (the command line) ----------------------------------------------

    def copy_of(
        self,
        operator_id: int | None,
        request: CopyRequest,
        *,
        owner_account_id: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CopyReport:
        return self._copy(operator_id, request, owner_account_id, None, progress)

    def delete_of(self, operator_id: int | None, name: str) -> PlanRecord:
        return self._delete(operator_id, name, None)

    # -- the work ------------------------------------------------------------------------

    def _copy(
        self,
        operator_id: int | None,
        request: CopyRequest,
        owner: int | None,
        allowed: Callable[[Transaction, PlanRecord], None] | None,
        progress: Callable[[int], None] | None,
    ) -> CopyReport:
        name = _checked_name(request.name)
        try:
            with self._uow.transaction() as tx:
                source = tx.rates.find_plan(operator_id, request.from_plan)
                if source is None:
                    raise _unknown(request.from_plan)
                if allowed is not None:
                    allowed(tx, source)
                if tx.rates.find_plan(operator_id, name) is not None:
                    raise plan_name_taken(name)
                if owner is not None:
                    check_owner(tx, operator_id, owner)
                decimals = source.decimals if request.decimals is None else request.decimals
                if not 0 <= decimals <= 8:
                    raise InvalidInput("decimals: a plan rounds to between 0 and 8 decimals")
                rounding = request.rounding or source.rounding
                rows = marked_up(
                    tx.rates.load_rates(source.id),
                    request.markup,
                    decimals=decimals,
                    rounding=rounding,
                    progress=progress,
                )
                record = tx.rates.create_plan(
                    operator_id=operator_id,
                    name=name,
                    currency=source.currency,
                    decimals=decimals,
                    rounding=rounding,
                    timezone=source.timezone,
                    holidays=source.holidays,
                    owner_account_id=owner,
                )
                tx.rates.insert_rates(record.id, rows)
                import_id = tx.rates.record_import(
                    plan_id=record.id,
                    source=f"copy of {source.name} {request.markup.describe()}",
                    mode="copy",
                    rows_read=len(rows),
                    rows_imported=len(rows),
                    rows_rejected=0,
                )
                changes = diff_rates([], rows, replace=False)
                tx.rates.record_changes(import_id, record.id, changes)
        except WriteConflict:  # the same name made at the same moment
            raise plan_name_taken(name) from None
        self._changed(operator_id, name)
        return CopyReport(record, source.name, len(rows), import_id, change_counts(changes))

    def _delete(
        self,
        operator_id: int | None,
        name: str,
        allowed: Callable[[Transaction, PlanRecord], None] | None,
    ) -> PlanRecord:
        with self._uow.transaction() as tx:
            plan = tx.rates.find_plan(operator_id, name)
            if plan is None:
                raise _unknown(name)
            if allowed is not None:
                allowed(tx, plan)
            # locked first: an assignment claims the plan (FOR KEY SHARE) before it writes,
            # so it either commits before this check sees it or finds no plan after
            tx.rates.lock_plan(plan.id, exclusive=True)
            root = "/" if operator_id is None else f"/{operator_id}/"
            if name in tx.accounts.plans_used_in(root):
                raise PlanInUse(
                    f"plan {name!r} rates accounts: assign them another plan before deleting it"
                )
            tx.rates.delete_plan(plan.id)
        self._changed(operator_id, name)
        return plan

    def _changed(self, operator_id: int | None, name: str) -> None:
        if self._on_change is not None:
            self._on_change(operator_id, name)


def readable_plans(tx: Transaction, principal: Principal) -> set[str] | None:
    """The plans a key may name (assign, or give a card batch): those its subtree is
    rated by or owns (None: any, for an admin key)."""
    if principal.role is Role.ADMIN:
        return None
    names = tx.accounts.plans_used_in(principal.path)
    return names | tx.rates.plans_owned_under(principal.operator_id, principal.path)


def check_assignable(parent: Account | None, plan: PlanRecord) -> None:
    """An owned plan prices only accounts below its owner (the owner itself pays by its
    own buy plan): refused, as invalid input, anywhere else."""
    owner = plan.owner_account_id
    if owner is None:
        return
    above = () if parent is None else parent.path.strip("/").split("/")
    if str(owner) not in above:
        raise InvalidInput(
            f"rate plan {plan.name!r} is a reseller's own: it prices only accounts below "
            "that reseller"
        )


def check_move(tx: Transaction, account: Account, parent: Account) -> None:
    """A subtree moved under ``parent`` keeps no account priced by an owned plan whose
    owner would no longer be above it (one query when nothing below uses such a plan)."""
    names = tx.accounts.plans_used_in(account.path)
    owned = names & tx.rates.plans_owned_under(account.operator_id, f"/{account.operator_id}/")
    above = set(parent.path.strip("/").split("/"))
    for name in sorted(owned):
        plan = tx.rates.find_plan(account.operator_id, name)
        owner = None if plan is None else plan.owner_account_id
        if owner is None or str(owner) in above:
            continue
        found = tx.accounts.get(owner)
        if found is None or not found.path.startswith(account.path):
            raise InvalidInput(
                f"accounts below {account.id} are priced by rate plan {name!r}, a reseller's "
                "own that would no longer be above them: assign them another plan first"
            )


__all__ = ["CopyReport", "CopyRequest", "ResellerPlans", "check_assignable", "check_move"]
