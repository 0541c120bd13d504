"""An in-memory unit of work for the accounts context's service tests (cosmicpython's
fake repository): the account tree in a dict, the few other repositories
``AccountService`` reaches (open holds, unowned plans) as plain attributes.

A transaction works on a copy of the tree and keeps it only when its block ends
without raising, as the database does; nothing else of a transaction is modelled.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from voxbill.domain.accounts import Account, AccountKind
from voxbill.domain.money import RoundingMethod
from voxbill.domain.rates import PlanRecord


class InMemoryAccountRepository:
    """:class:`~voxbill.services.ports.accounts.AccountRepository` over a dict."""

    def __init__(self, rows: dict[int, Account], plans: dict[tuple[int, str], str]) -> None:
        self.rows = rows
        self.plans = plans

    def get(
        self, account_id: int, *, for_update: bool = False, for_share: bool = False
    ) -> Account | None:
        return self.rows.get(account_id)

    def insert_account(self, account: Account, parent_path: str | None) -> Account:
        new_id = max(self.rows, default=0) + 1
        path = f"{parent_path or '/'}{new_id}/"
        now = datetime.now(UTC)
        stored = dataclasses.replace(
            account,
            id=new_id,
            path=path,
            depth=path.count("/") - 2,
            created_at=now,
            updated_at=now,
        )
        self.rows[new_id] = stored
        return stored

    def save(self, account: Account) -> Account:
        current = self.rows[account.id]
        stored = dataclasses.replace(
            account, path=current.path, depth=current.depth, updated_at=datetime.now(UTC)
        )
        self.rows[account.id] = stored
        return stored

    def move_subtree(self, old_path: str, new_path: str) -> None:
        for account_id, account in list(self.rows.items()):
            if account.path.startswith(old_path):
                path = new_path + account.path[len(old_path) :]
                self.rows[account_id] = dataclasses.replace(
                    account, path=path, depth=path.count("/") - 2
                )

    def children(self, parent_id: int, *, after_id: int | None, limit: int) -> list[Account]:
        found = [a for a in self.rows.values() if a.parent_id == parent_id]
        return self._page(found, after_id, limit)

    def subtree(self, path: str, *, after_id: int | None, limit: int) -> list[Account]:
        found = [a for a in self.rows.values() if a.path.startswith(path)]
        return self._page(found, after_id, limit)

    @staticmethod
    def _page(found: list[Account], after_id: int | None, limit: int) -> list[Account]:
        after = [a for a in found if after_id is None or a.id > after_id]
        return sorted(after, key=lambda a: a.id)[:limit]

    def find_operator(self, name: str) -> Account | None:
        roots = [a for a in self.rows.values() if a.kind is AccountKind.OPERATOR]
        return next((a for a in sorted(roots, key=lambda a: a.id) if a.name == name), None)

    def operator_ids(self) -> list[int]:
        return sorted(a.id for a in self.rows.values() if a.kind is AccountKind.OPERATOR)

    def plans_used_in(self, path: str) -> set[str]:
        return {
            name
            for account in self.rows.values()
            if account.path.startswith(path)
            for name in account.plans.names()
        }

    def plan_currency(self, operator_id: int, name: str) -> str | None:
        return self.plans.get((operator_id, name))


class InMemoryHolds:
    """Open holds per account path (what a move or a change of payer must wait for)."""

    def __init__(self) -> None:
        self.open_under: dict[str, int] = {}

    def open_holds_under(self, path: str) -> int:
        return sum(n for held, n in self.open_under.items() if held.startswith(path))


class InMemoryRates:
    """The operator's plans (by name: their currency) and the plans imported before any
    operator existed, adopted by the first one."""

    def __init__(self, plans: dict[tuple[int, str], str]) -> None:
        self.plans = plans
        self.adopted_by: list[int] = []

    def claim_plan(self, operator_id: int | None, name: str) -> PlanRecord | None:
        currency = self.plans.get((operator_id, name)) if operator_id is not None else None
        if currency is None:
            return None
        holidays: frozenset[date] = frozenset()
        return PlanRecord(0, name, currency, 4, RoundingMethod.HALF_UP, "UTC", holidays, 1)

    def plans_owned_under(self, operator_id: int | None, path: str) -> set[str]:
        return set()

    def adopt_unowned_plans(self, operator_id: int) -> int:
        self.adopted_by.append(operator_id)
        return 0


class InMemoryOutbox:
    """The ledger's outbox as far as the accounts service writes it (an account blocked)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, str]] = []

    def add_outbox_event(self, topic: str, account_id: int, payload: str, now: Any) -> None:
        self.events.append((topic, account_id, payload))


class InMemoryTransaction:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self.accounts = InMemoryAccountRepository(dict(uow.rows), uow.plans)
        self.holds = uow.holds
        self.rates = uow.rates
        self.ledger = uow.outbox
        self.dialect = "memory"

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the accounts service reached tx.{name}")


class InMemoryUnitOfWork:
    """:class:`~voxbill.services.unit_of_work.UnitOfWork` over the dicts above."""

    dialect = "memory"

    def __init__(self) -> None:
        self.rows: dict[int, Account] = {}
        #: (operator id, plan name) -> the plan's currency
        self.plans: dict[tuple[int, str], str] = {}
        self.holds = InMemoryHolds()
        self.rates = InMemoryRates(self.plans)
        self.outbox = InMemoryOutbox()
        self.commits = 0

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[InMemoryTransaction]:
        tx = InMemoryTransaction(self)
        yield tx
        if not readonly:
            self.rows = tx.accounts.rows
            self.commits += 1
