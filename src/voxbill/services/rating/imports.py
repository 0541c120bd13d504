"""Importing a rate deck into a plan: all or nothing, with a record of what changed.

The plan is the importing operator's (``operator_id``): a name another operator uses is
another plan, never touched here; a new name creates the operator's own plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voxbill.domain.accounts import AccountKind
from voxbill.domain.errors import InvalidInput, PlanNameTaken, RateDeckError
from voxbill.domain.money import RoundingMethod, normalize_currency
from voxbill.domain.rate_changes import change_counts, diff_rates, rate_keys
from voxbill.domain.rate_deck import Deck, read_deck
from voxbill.domain.rates import PlanOptions, PlanRecord, Rate
from voxbill.services.rating import price_notices
from voxbill.services.unit_of_work import Transaction, UnitOfWork


@dataclass
class ImportReport:
    plan: str
    currency: str
    mode: str
    rows_read: int
    rows_imported: int
    rows_rejected: int
    problems: list[tuple[int, str]]
    changes: dict[str, int] = field(default_factory=dict)
    import_id: int | None = None
    ignored_columns: list[str] = field(default_factory=list)


class RateImportService:
    def __init__(
        self, uow: UnitOfWork, on_change: Callable[[int | None, str], None] | None = None
    ) -> None:
        self._uow = uow
        self._on_change = on_change

    def read(
        self,
        lines: Iterable[str],
        *,
        timezone: str = "UTC",
        progress: Callable[[int], None] | None = None,
    ) -> Deck:
        return read_deck(lines, timezone=timezone, progress=progress)

    def plan_timezone(self, operator_id: int | None, plan: str, options: PlanOptions) -> str:
        """The zone naive deck dates are read in: the plan's, or the one given for a new plan."""
        with self._uow.transaction(readonly=True) as tx:
            record = tx.rates.find_plan(operator_id, plan)
        if record is not None:
            return record.timezone
        return options.timezone or "UTC"

    def import_deck(
        self,
        deck: Deck,
        *,
        operator_id: int | None,
        plan: str,
        source: str,
        options: PlanOptions,
        replace: bool = False,
        skip_bad_rows: bool = False,
        owner_account_id: int | None = None,
    ) -> ImportReport:
        """``owner_account_id``: the reseller a new plan belongs to (None: the operator);
        an existing plan must already be that reseller's."""
        name = plan.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a plan name of 1 to 100 characters is required")
        if deck.problems and not skip_bad_rows:
            line, message = deck.problems[0]
            more = len(deck.problems) - 1
            suffix = f" ({more} more bad rows)" if more else ""
            raise RateDeckError(
                f"line {line}: {message}{suffix}; nothing was imported "
                "(fix the row, or pass --skip-bad-rows)",
                deck.problems,
            )
        new_rates = [row.rate for row in deck.rows]
        mode = "replace" if replace else "merge"
        with self._uow.transaction() as tx:
            record = self._plan(tx, operator_id, name, options, owner_account_id)
            rates = tx.rates
            rates.lock_plan(record.id)
            old_rates = rates.load_rates(record.id)
            if replace:
                changes = diff_rates(old_rates, new_rates, replace=True)
                rates.delete_rates(record.id)
            else:
                replaced: list[Rate] = []
                if old_rates:  # a first import has nothing to replace
                    keys = set(rate_keys(new_rates))
                    replaced = [
                        r
                        for r, key in zip(old_rates, rate_keys(old_rates), strict=True)
                        if key in keys
                    ]
                changes = diff_rates(old_rates, new_rates, replace=False)
                rates.delete_rates(record.id, rate_keys(replaced))
            rates.insert_rates(record.id, new_rates)
            rates.bump_version(record.id)
            import_id = rates.record_import(
                plan_id=record.id,
                source=source,
                mode=mode,
                rows_read=deck.rows_read,
                rows_imported=len(new_rates),
                rows_rejected=len(deck.problems),
            )
            rates.record_changes(import_id, record.id, changes)
            if old_rates:  # a plan's first prices change nobody's
                price_notices.tell(tx, record, import_id, changes, datetime.now(UTC))
        if self._on_change is not None:
            self._on_change(operator_id, name)
        return ImportReport(
            name,
            record.currency,
            mode,
            deck.rows_read,
            len(new_rates),
            len(deck.problems),
            deck.problems,
            change_counts(changes),
            import_id,
            deck.ignored_columns,
        )

    def _plan(
        self,
        tx: Transaction,
        operator_id: int | None,
        name: str,
        options: PlanOptions,
        owner_account_id: int | None,
    ) -> PlanRecord:
        record = tx.rates.find_plan(operator_id, name)
        if owner_account_id is not None:
            if record is not None and record.owner_account_id != owner_account_id:
                raise plan_name_taken(name)
            check_owner(tx, operator_id, owner_account_id)
        currency = normalize_currency(options.currency) if options.currency else None
        if record is None and operator_id is None and tx.accounts.operator_ids():
            # a plan without an owner is only for an installation without operators
            raise InvalidInput("give the operator whose plan this is (--operator ID)")
        if record is None:
            currency, timezone, decimals = options.new_plan(name, currency)
            return tx.rates.create_plan(
                operator_id=operator_id,
                name=name,
                currency=currency,
                decimals=decimals,
                rounding=options.rounding or RoundingMethod.HALF_UP,
                timezone=timezone,
                holidays=options.holidays or (),
                owner_account_id=owner_account_id,
            )
        options.check_kept(record, currency)
        return record


def plan_name_taken(name: str) -> PlanNameTaken:
    """The same answer whoever has the name: rate plan names are operator-wide."""
    return PlanNameTaken(
        f"the operator already has a rate plan named {name!r}: plan names are unique "
        "across the operator; choose another (prefix yours, e.g. 'acme-wholesale-retail')"
    )


def check_owner(tx: Transaction, operator_id: int | None, owner_account_id: int) -> None:
    """A plan's owner is a reseller account of the plan's operator."""
    owner = tx.accounts.get(owner_account_id)
    if (
        owner is None
        or operator_id is None
        or owner.operator_id != operator_id
        or owner.kind is not AccountKind.RESELLER
    ):
        raise InvalidInput(
            f"owner: account {owner_account_id} is not a reseller of the plan's operator"
        )


__all__ = ["ImportReport", "PlanOptions", "RateImportService", "check_owner", "plan_name_taken"]
