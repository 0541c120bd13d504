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
from typing import Any

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import UnknownRatePlan
from voxbill.domain.rates import PlanRecord
from voxbill.services.rating.deck import read_deck
from voxbill.services.rating.imports import ImportReport, PlanOptions, RateImportService
from voxbill.storage.accounts import repository as accounts_repo
from voxbill.storage.database import Database
from voxbill.storage.rating import rates as repo
from voxbill.storage.rating.plan_pages import rates_page


@dataclass(frozen=True)
class PlanPage:
    plan: PlanRecord
    rows: int
    rates: list[Any]


def _sees_all(principal: Principal) -> bool:
    operator_wide = principal.path.count("/") == 2
    return principal.role is Role.ADMIN or (principal.role is Role.SUPPORT and operator_wide)


def _unknown(name: str) -> UnknownRatePlan:
    return UnknownRatePlan(f"there is no rate plan named {name!r}")


class RatePlanCatalog:
    def __init__(self, db: Database, importer: RateImportService) -> None:
        self._db = db
        self._importer = importer

    def _visible(self, conn: Any, principal: Principal) -> set[str] | None:
        """Names of the operator's plans the caller reads (None: all of them)."""
        return None if _sees_all(principal) else accounts_repo.plans_used_in(conn, principal.path)

    def _readable(self, conn: Any, principal: Principal, name: str) -> PlanRecord:
        visible = self._visible(conn, principal)
        record = repo.find_plan(conn, principal.operator_id, name)
        if record is None or (visible is not None and name not in visible):
            raise _unknown(name)
        return record

    def show(
        self, principal: Principal, name: str, *, after_id: int | None, limit: int
    ) -> PlanPage:
        with self._db.transaction(readonly=True) as conn:
            record = self._readable(conn, principal, name)
            count = repo.count_rates(conn, record.id)
            rows = rates_page(conn, record.id, after_id=after_id, limit=limit)
        return PlanPage(record, count, rows)

    def changes(
        self,
        principal: Principal,
        name: str,
        *,
        import_id: int | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> tuple[PlanRecord, list[Any]]:
        """The price changes recorded by the plan's imports (for price-change notices)."""
        with self._db.transaction(readonly=True) as conn:
            record = self._readable(conn, principal, name)
            rows = repo.list_changes(conn, record.id, import_id, after_id=after_id, limit=limit)
        return record, rows

    def check_quote(self, principal: Principal, name: str) -> None:
        """Quoting a plan is reading it: refused (as unknown) outside what the caller sees
        (the quote itself reads the plan of the caller's operator only)."""
        with self._db.transaction(readonly=True) as conn:
            visible = self._visible(conn, principal)
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
        with self._db.transaction(readonly=True) as conn:
            return repo.list_plans(conn, operator_id)

    def changes_of(self, operator_id: int | None, name: str) -> list[Any]:
        with self._db.transaction(readonly=True) as conn:
            record = repo.find_plan(conn, operator_id, name)
            if record is None:
                raise _unknown(name)
            return repo.list_changes(conn, record.id)

    # last: in the class body, ``list`` names this method from here on
    def list(self, principal: Principal) -> list[tuple[PlanRecord, int]]:
        """The operator's plans the caller reads, by name, with their row counts."""
        with self._db.transaction(readonly=True) as conn:
            visible = self._visible(conn, principal)
            plans = repo.list_plans(conn, principal.operator_id)
        return [(p, n) for p, n in plans if visible is None or p.name in visible]
