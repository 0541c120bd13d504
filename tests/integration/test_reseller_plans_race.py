"""Deleting a plan while it is being assigned (SQLite and PostgreSQL): exactly one of the
two wins, and no account is ever left priced by a plan that no longer exists.

On PostgreSQL the assignment claims the plan row (FOR KEY SHARE) before it writes and
the delete locks it (FOR UPDATE) before it looks for accounts rated by it, so whichever
comes second sees the first's outcome; SQLite's writers are serial."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import InvalidInput, PlanInUse, VoxbillError
from voxbill.domain.plan_markup import Markup
from voxbill.domain.rate_deck import read_deck
from voxbill.services.rating.imports import PlanOptions
from voxbill.services.rating.reseller_plans import CopyRequest

ROUNDS = 12


def test_a_plan_deleted_while_assigned_is_either_kept_assigned_or_gone_unassigned(
    container: Container,
) -> None:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    deck = read_deck("prefix,rate\n44,0.05\n".splitlines(keepends=True))
    container.rate_import.import_deck(
        deck, operator_id=root.id, plan="r-buy", source="t", options=PlanOptions("USD")
    )
    reseller = container.accounts.create(
        system, {"kind": "reseller", "name": "R", "parent_id": root.id, "rate_plan": "r-buy"}
    )
    key = Principal(reseller.id, reseller.path, Role.RESELLER)
    customers = [
        container.accounts.create(
            key, {"kind": "customer", "name": f"C{i}", "parent_id": reseller.id}
        ).id
        for i in range(ROUNDS)
    ]
    outcomes: list[tuple[str, str]] = []
    for i, customer in enumerate(customers):
        name = f"r-copy-{i}"
        request = CopyRequest(name, "r-buy", Markup())
        container.reseller_plans.copy(key, request)
        start = threading.Barrier(2)

        def assign(
            customer: int = customer, name: str = name, start: threading.Barrier = start
        ) -> str:
            start.wait()
            try:
                container.accounts.patch(key, customer, {"rate_plan": name})
            except InvalidInput as exc:
                return "refused" if "no rate plan named" in exc.message else exc.message
            return "assigned"

        def delete(name: str = name, start: threading.Barrier = start) -> str:
            start.wait()
            try:
                container.reseller_plans.delete(key, name)
            except PlanInUse:
                return "in use"
            except VoxbillError as exc:  # pragma: no cover - shown on failure
                return exc.code
            return "deleted"

        with ThreadPoolExecutor(2) as pool:
            assigned, deleted = pool.submit(assign), pool.submit(delete)
            outcome = (assigned.result(), deleted.result())
        outcomes.append(outcome)
        assert outcome in {("assigned", "in use"), ("refused", "deleted")}, outcome
        account = container.accounts.visible(system, customer)
        plans = {p.name for p, _ in container.rate_plans.plans_of(root.id)}
        if account.plans.rate_plan is not None:
            assert account.plans.rate_plan in plans
    assert container.ledger.verify() == []


def test_two_resellers_taking_one_name_at_once_get_one_plan_and_one_409(
    container: Container,
) -> None:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    deck = read_deck("prefix,rate\n44,0.05\n".splitlines(keepends=True))
    container.rate_import.import_deck(
        deck, operator_id=root.id, plan="r-buy", source="t", options=PlanOptions("USD")
    )
    keys = []
    for name in ("R1", "R2"):
        reseller = container.accounts.create(
            system, {"kind": "reseller", "name": name, "parent_id": root.id, "rate_plan": "r-buy"}
        )
        keys.append(Principal(reseller.id, reseller.path, Role.RESELLER))
    for i in range(ROUNDS):
        start = threading.Barrier(2)
        request = CopyRequest(f"retail-{i}", "r-buy", Markup())

        def copy(
            key: Principal, start: threading.Barrier = start, request: CopyRequest = request
        ) -> str:
            start.wait()
            try:
                container.reseller_plans.copy(key, request)
            except VoxbillError as exc:
                return exc.code
            return "made"

        with ThreadPoolExecutor(2) as pool:
            outcome = sorted(pool.map(copy, keys))
        assert outcome == ["made", "plan_name_taken"], outcome
    owners = {p.owner_account_id for p, _ in container.rate_plans.plans_of(root.id)}
    assert owners <= {None, keys[0].account_id, keys[1].account_id}
