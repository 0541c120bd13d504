"""A small operator for charging tests: plans, a reseller, a customer, callers, funds.

operator (USD) ── reseller R (plan "wholesale", funds 100)
                  └── customer C (plan "retail", funds 10; ANI +441000000001)
                      ├── user U (shares C's balance; SIP user "alice")
                      └── card K (own balance 5; card 12345678 / PIN 4321)

retail:    44 UK 0.10/min, connect 0.01, 30/6;   33 France 0.20/min 1/1
wholesale: 44 UK 0.06/min 1/1;                    33 France 0.12/min 60/60
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.accounts import AccountStatus
from voxbill.domain.rate_deck import read_deck
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.imports import PlanOptions

RETAIL = "prefix,rate,connect_fee,initial_increment,increment,destination\n"
RETAIL += "44,0.10,0.01,30,6,UK\n33,0.20,0,1,1,France\n"
WHOLESALE = "prefix,rate,initial_increment,increment,destination\n"
WHOLESALE += "44,0.06,1,1,UK\n33,0.12,60,60,France\n"
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
UK = "+442079460000"
FRANCE = "+33142000000"


@dataclass
class World:
    container: Container
    system: Principal
    root: int
    reseller: int
    customer: int
    user: int
    card: int

    customer_caller = CallerId(ani="+441000000001")
    user_caller = CallerId(sip_user="alice")
    card_caller = CallerId(card="12345678", pin="4321")

    def create(self, parent: int, kind: str, name: str, **extra: Any) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return self.container.accounts.create(self.system, fields).id

    def patch(self, account: int, **changes: Any) -> None:
        """Change settings as the operator; money given as strings, status by name."""
        if "status" in changes:
            status = AccountStatus(changes.pop("status"))
            self.container.accounts.set_status(self.system, account, status)
        money = {"max_call_cost", "alert_balance", "block_balance", "credit_limit"}
        typed = {k: Decimal(v) if k in money and v is not None else v for k, v in changes.items()}
        if typed:
            self.container.accounts.patch(self.system, account, typed)

    def fund(self, account: int, amount: str) -> None:
        self.container.ledger.top_up(account, Decimal(amount), actor="test")

    def balance(self, account: int) -> Decimal:
        return self.container.ledger.balance(account).balance

    def available(self, account: int) -> Decimal:
        return self.container.ledger.balance(account).available


def build_world(
    container: Container, *, customer_funds: str = "10", reseller_funds: str = "100"
) -> World:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    for plan, text in (("retail", RETAIL), ("wholesale", WHOLESALE)):
        container.rate_import.import_deck(
            read_deck(text.splitlines(keepends=True)),
            operator_id=root.id,
            plan=plan,
            source="test",
            options=PlanOptions(currency="USD"),
        )
    world = World(container, system, root.id, 0, 0, 0, 0)
    world.reseller = world.create(root.id, "reseller", "R", rate_plan="wholesale")
    world.customer = world.create(world.reseller, "customer", "C", rate_plan="retail")
    world.user = world.create(world.customer, "user", "U", shared_balance=True)
    world.card = world.create(world.customer, "card", "K", rate_plan="retail")
    ids = container.identifiers
    ids.add(system, world.customer, IdentifierType.ANI, "+441000000001", None)
    ids.add(system, world.user, IdentifierType.SIP_USER, "alice", None)
    ids.add(system, world.card, IdentifierType.CARD, "12345678", "4321")
    world.fund(world.reseller, reseller_funds)
    world.fund(world.customer, customer_funds)
    world.fund(world.card, "5")
    return world
