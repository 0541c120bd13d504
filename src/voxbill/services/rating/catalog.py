"""Rate plans as callers see them: each operator its own, and in it, the admin all of
them, others what they use.

Plans belong to an operator (the root of the caller's tree) and are named within it:
another operator's plans do not exist for a caller, whatever its role — the same name
there is another plan, and reading, quoting or uploading it answers exactly as for a
name nobody uses. Inside the operator, a reseller, customer or user may read the plans
its own subtree is rated by (the prices it pays and charges); the operator's admin (and
operator-wide support) reads every plan of the operator. Only the admin imports decks.

The command line acts as an operator (``operator_id``), with the same scoping.
"""

from __future__ import annotations

from dataclasses import dataclass

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import UnknownRatePlan
from voxbill.domain.rate_changes import RecordedChange
from voxbill.domain.rate_deck import read_deck
from voxbill.domain.rates import PlanOptions, PlanRecord, StoredRate
from voxbill.services.rating.imports import ImportReport, RateImportService
from voxbill.services.unit_of_work import Transaction, UnitOfWork


@dataclass(frozen=True)
class PlanPage:
    """A plan, how many rate rows it has, and one page of them (by id)."""

    plan: PlanRecord
    rows: int
    rates: list[StoredRate]


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
        return None if _sees_all(principal) else tx.accounts.plans_used_in(principal.path)

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

    def check_quote(self, principal: Principal, name: str) -> None:
        """Quoting a plan is reading it: refused (as unknown) outside what the caller sees
        (the quote itself reads the plan of the caller's operator only)."""
        with self._uow.transaction(readonly=True) as tx:
            visible = self._visible(tx, principal)
        if visible is not None and name not in visible:
            raise _unknown(name)

    def check_import(self, principal: Principal, name: str) -> None:
        """Only the operator imports; others get "unknown" for plans they cannot see."""
        access.require_write(principal)
        if principal.role is not Role.ADMIN:
            self.check_quote(principal, name)
            access.check_rate_plan_admin(principal)

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
    ) -> ImportReport:
        """Import into the caller's operator's plan of that name (created when new)."""
        self.check_import(principal, name)
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

    # last: in the class body, ``list`` names this method from here on
    def list(self, principal: Principal) -> list[tuple[PlanRecord, int]]:
        """The operator's plans the caller reads, by name, with their row counts."""
        with self._uow.transaction(readonly=True) as tx:
            visible = self._visible(tx, principal)
            plans = tx.rates.list_plans(principal.operator_id)
        return [(p, n) for p, n in plans if visible is None or p.name in visible]
