"""Rate plans as callers of the API see them: the operator all, others what they use.

A reseller, customer or user may read the plans its own subtree is rated by (the prices
it pays and charges); the operator (and operator-wide support) reads every plan. Only
the operator imports decks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voxbill.domain import access
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import UnknownRatePlan
from voxbill.services.rate_deck import read_deck
from voxbill.services.rate_import import ImportReport, PlanOptions, RateImportService
from voxbill.storage import account_repository as accounts_repo
from voxbill.storage import rate_repository as repo
from voxbill.storage.database import Database
from voxbill.storage.rate_plan_pages import rates_page


@dataclass(frozen=True)
class PlanPage:
    plan: repo.PlanRecord
    rows: int
    rates: list[Any]


def _sees_all(principal: Principal) -> bool:
    operator_wide = principal.path.count("/") == 2
    return principal.role is Role.ADMIN or (principal.role is Role.SUPPORT and operator_wide)


class RatePlanCatalog:
    def __init__(self, db: Database, importer: RateImportService) -> None:
        self._db = db
        self._importer = importer

    def _visible(self, conn: Any, principal: Principal) -> set[str] | None:
        return None if _sees_all(principal) else accounts_repo.plans_used_in(conn, principal.path)

    def list(self, principal: Principal) -> list[tuple[repo.PlanRecord, int]]:
        with self._db.transaction(readonly=True) as conn:
            visible = self._visible(conn, principal)
            plans = repo.list_plans(conn)
        return [(p, n) for p, n in plans if visible is None or p.name in visible]

    def show(
        self, principal: Principal, name: str, *, after_id: int | None, limit: int
    ) -> PlanPage:
        with self._db.transaction(readonly=True) as conn:
            visible = self._visible(conn, principal)
            record = repo.find_plan(conn, name)
            if record is None or (visible is not None and name not in visible):
                raise UnknownRatePlan(f"there is no rate plan named {name!r}")
            count = {p.name: n for p, n in repo.list_plans(conn)}.get(name, 0)
            rows = rates_page(conn, record.id, after_id=after_id, limit=limit)
        return PlanPage(record, count, rows)

    def check_quote(self, principal: Principal, name: str) -> None:
        """Quoting a plan is reading it: refused (as unknown) outside what the caller sees."""
        with self._db.transaction(readonly=True) as conn:
            visible = self._visible(conn, principal)
        if visible is not None and name not in visible:
            raise UnknownRatePlan(f"there is no rate plan named {name!r}")

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
        self.check_import(principal, name)
        zone = self._importer.plan_timezone(name, options)
        deck = read_deck(text.splitlines(keepends=True), timezone=zone)
        return self._importer.import_deck(
            deck,
            plan=name,
            source=source,
            options=options,
            replace=replace,
            skip_bad_rows=skip_bad_rows,
        )
