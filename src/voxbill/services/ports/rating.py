"""Rate plans, their rates and the records of their imports, as the rating services see
storage.

Protocols only: ``voxbill.storage`` implements them and ``bootstrap`` wires them
(through the unit of work, :mod:`voxbill.services.unit_of_work`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date
from typing import Protocol

from voxbill.domain.money import RoundingMethod
from voxbill.domain.rate_changes import PriceChange, RateKey, RecordedChange
from voxbill.domain.rates import ImportRecord, PlanRecord, Rate, RatePlan, StoredRate


class RateRepository(Protocol):
    def find_plan(self, operator_id: int | None, name: str) -> PlanRecord | None: ...
    def list_plans(
        self,
        operator_id: int | None,
        *,
        names: Collection[str] | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[tuple[PlanRecord, int]]:
        """The operator's plans by name with their row counts: those in ``names`` when
        given, after the name ``after``, at most ``limit``."""
        ...

    def plan_records(
        self, operator_id: int | None, *, names: Collection[str] | None = None
    ) -> list[PlanRecord]:
        """The operator's plans by name (those in ``names`` when given), uncounted."""
        ...

    def count_rates(self, plan_id: int) -> int: ...
    def plan_version(self, operator_id: int | None, name: str) -> int | None: ...
    def create_plan(
        self,
        *,
        operator_id: int | None,
        name: str,
        currency: str,
        decimals: int,
        rounding: RoundingMethod,
        timezone: str,
        holidays: Iterable[date],
        owner_account_id: int | None = None,
    ) -> PlanRecord: ...
    def plans_owned_under(self, operator_id: int | None, path: str) -> set[str]: ...
    def delete_plan(self, plan_id: int) -> None: ...
    def adopt_unowned_plans(self, operator_id: int) -> int: ...
    def lock_plan(self, plan_id: int, *, exclusive: bool = False) -> None: ...
    def claim_plan(self, operator_id: int | None, name: str) -> PlanRecord | None: ...
    def bump_version(self, plan_id: int) -> None: ...
    def load_rates(self, plan_id: int) -> list[Rate]: ...
    def load_plan(self, operator_id: int | None, name: str) -> tuple[RatePlan, int] | None: ...
    def delete_rates(self, plan_id: int, keys: Iterable[RateKey] | None = None) -> None: ...
    def insert_rates(self, plan_id: int, new_rates: Sequence[Rate]) -> None: ...
    def record_import(
        self,
        *,
        plan_id: int,
        source: str,
        mode: str,
        rows_read: int,
        rows_imported: int,
        rows_rejected: int,
    ) -> int: ...
    def record_changes(
        self, import_id: int, plan_id: int, changes: Sequence[PriceChange]
    ) -> None: ...
    def list_changes(
        self,
        plan_id: int,
        import_id: int | None = None,
        *,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> list[RecordedChange]: ...
    def list_imports(
        self, plan_id: int, *, before_id: int | None, limit: int
    ) -> list[ImportRecord]: ...
    def rates_page(self, plan_id: int, *, after_id: int | None, limit: int) -> list[StoredRate]: ...
