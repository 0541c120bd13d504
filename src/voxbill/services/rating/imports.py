"""Importing a rate deck into a plan: all or nothing, with a record of what changed.

The plan is the importing operator's (``operator_id``): a name another operator uses is
another plan, never touched here; a new name creates the operator's own plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from voxbill.domain.accounts import AccountKind
from voxbill.domain.errors import Conflict, InvalidInput, PlanNameTaken, RateDeckError
from voxbill.domain.money import RoundingMethod, normalize_currency
from voxbill.domain.rate_changes import PriceChange, change_counts, diff_rates, rate_keys
from voxbill.domain.rate_deck import Deck, read_deck
from voxbill.domain.rates import PlanOptions, PlanRecord, Rate
from voxbill.services.rating import price_notices
from voxbill.services.unit_of_work import Transaction, UnitOfWork

#: the state of a plan that does not exist yet
NEW_PLAN = "new"


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
    #: a dry run: the changes an import would make, nothing written
    dry_run: bool = False
    #: the plan as the import found it (:func:`plan_state`): "new", or its id and version
    state: str = NEW_PLAN
    #: a dry run's price changes themselves (empty after a real import: see the record)
    preview: list[PriceChange] = field(default_factory=list)


def plan_state(record: PlanRecord | None) -> str:
    """What a preview was computed against: an import given it (``expect_state``) is
    refused, 409, if the plan has changed since (another import, deleted, re-made)."""
    return NEW_PLAN if record is None else f"{record.id}:{record.version}"


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
        dry_run: bool = False,
        expect_state: str | None = None,
    ) -> ImportReport:
        """``owner_account_id``: the reseller a new plan belongs to (None: the operator);
        an existing plan must already be that reseller's.

        ``dry_run``: the same checks and the same diff against the plan's current rates,
        in a read-only transaction: nothing is written, the report lists the changes.
        ``expect_state``: the plan's state a preview saw (:func:`plan_state`); if it
        has changed since, nothing is imported (409)."""
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
        if dry_run:
            return self._dry_run(deck, operator_id, name, options, owner_account_id, replace)
        with self._uow.transaction() as tx:
            found = tx.rates.find_plan(operator_id, name)
            record = self._plan(tx, operator_id, name, options, owner_account_id)
            rates = tx.rates
            rates.lock_plan(record.id)
            if found is not None:  # read again once locked: an import may have just ended
                found = tx.rates.find_plan(operator_id, name)
            state = plan_state(found)
            if expect_state is not None and expect_state != state:
                raise Conflict(
                    f"plan {name!r} changed after the preview (another import, or it was "
                    "deleted or made): nothing was imported; preview the deck again"
                )
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
            state=state,
        )

    def _dry_run(
        self,
        deck: Deck,
        operator_id: int | None,
        name: str,
        options: PlanOptions,
        owner_account_id: int | None,
        replace: bool,
    ) -> ImportReport:
        new_rates = [row.rate for row in deck.rows]
        with self._uow.transaction(readonly=True) as tx:
            record = self._check_plan(tx, operator_id, name, options, owner_account_id)
            old_rates = [] if record is None else tx.rates.load_rates(record.id)
        changes = diff_rates(old_rates, new_rates, replace=replace)
        if record is None:
            currency = options.new_plan(name, _currency(options))[0]
        else:
            currency = record.currency
        return ImportReport(
            name,
            currency,
            "replace" if replace else "merge",
            deck.rows_read,
            len(new_rates),
            len(deck.problems),
            deck.problems,
            change_counts(changes),
            None,
            deck.ignored_columns,
            dry_run=True,
            state=plan_state(record),
            preview=changes,
        )

    def _check_plan(
        self,
        tx: Transaction,
        operator_id: int | None,
        name: str,
        options: PlanOptions,
        owner_account_id: int | None,
    ) -> PlanRecord | None:
        """The plan an import goes into (None: a new one, with its options checked);
        refused as the import would be."""
        record = tx.rates.find_plan(operator_id, name)
        if owner_account_id is not None:
            if record is not None and record.owner_account_id != owner_account_id:
                raise plan_name_taken(name)
            check_owner(tx, operator_id, owner_account_id)
        currency = _currency(options)
        if record is None and operator_id is None and tx.accounts.operator_ids():
            # a plan without an owner is only for an installation without operators
            raise InvalidInput("give the operator whose plan this is (--operator ID)")
        if record is None:
            options.new_plan(name, currency)
            return None
        options.check_kept(record, currency)
        return record

    def _plan(
        self,
        tx: Transaction,
        operator_id: int | None,
        name: str,
        options: PlanOptions,
        owner_account_id: int | None,
    ) -> PlanRecord:
        record = self._check_plan(tx, operator_id, name, options, owner_account_id)
        if record is None:
            currency, timezone, decimals = options.new_plan(name, _currency(options))
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
        return record


def _currency(options: PlanOptions) -> str | None:
    return normalize_currency(options.currency) if options.currency else None


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


__all__ = [
    "NEW_PLAN",
    "ImportReport",
    "PlanOptions",
    "RateImportService",
    "check_owner",
    "plan_name_taken",
    "plan_state",
]
