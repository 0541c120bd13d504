"""An operator with customers and vendors, for routing and SIP tests.

operator Acme (USD)
├── reseller R (plan "wholesale", funds 100)
│   ├── customer C (plan "retail", funds 10; ANI +441000000001)
│   └── customer Broke (plan "retail", funds 0; ANI +441000000002)
├── vendor Carrier-A (buy deck "buy-a": 44 at 0.03)      → 127.0.0.1:5070 udp, prefix 9#
└── vendor Carrier-B (buy deck "buy-b": 44 at 0.02, 4479 at 0.08) → 127.0.0.1:5080 tcp

retail 44 UK 0.10/min, 33 France 0.20/min; wholesale 44 0.06/min, 33 0.12/min.
France has a sell rate but no vendor (no route); Germany (49) has no rate at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.domain.routing import SipTarget, Transport
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.rating.imports import PlanOptions

DECKS = {
    "retail": "prefix,rate,destination\n44,0.10,UK\n33,0.20,France\n",
    "wholesale": "prefix,rate,destination\n44,0.06,UK\n33,0.12,France\n",
    "buy-a": "prefix,rate,destination\n44,0.03,UK\n",
    "buy-b": "prefix,rate,destination\n44,0.02,UK\n4479,0.08,UK mobile\n",
}
CALLER = "+441000000001"
BROKE = "+441000000002"
UK = "442079460000"
UK_MOBILE = "447911123456"
FRANCE = "33142000000"
GERMANY = "4930123456"


@dataclass
class SipWorld:
    container: Container
    system: Principal
    root: int
    reseller: int
    customer: int
    broke: int
    carrier_a: int
    carrier_b: int

    def create(self, parent: int, kind: str, name: str, **extra: Any) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return self.container.accounts.create(self.system, fields).id

    def patch(self, account: int, **changes: Any) -> None:
        self.container.accounts.patch(self.system, account, changes)

    def fund(self, account: int, amount: str) -> None:
        self.container.ledger.top_up(account, Decimal(amount), actor="test")


def build_sip_world(container: Container) -> SipWorld:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    for plan, text in DECKS.items():
        container.rate_import.import_deck(
            read_deck(text.splitlines(keepends=True)),
            operator_id=root.id,
            plan=plan,
            source="test",
            options=PlanOptions(currency="USD"),
        )
    world = SipWorld(container, system, root.id, 0, 0, 0, 0, 0)
    world.reseller = world.create(root.id, "reseller", "R", rate_plan="wholesale")
    world.customer = world.create(world.reseller, "customer", "C", rate_plan="retail")
    world.broke = world.create(world.reseller, "customer", "Broke", rate_plan="retail")
    world.carrier_a = world.create(root.id, "vendor", "Carrier-A", rate_plan="buy-a")
    world.carrier_b = world.create(root.id, "vendor", "Carrier-B", rate_plan="buy-b")
    ids = container.identifiers
    ids.add(system, world.customer, IdentifierType.ANI, CALLER, None)
    ids.add(system, world.broke, IdentifierType.ANI, BROKE, None)
    routing = container.routing
    routing.set_target(system, world.carrier_a, SipTarget("127.0.0.1", 5070, Transport.UDP, "9#"))
    routing.set_target(system, world.carrier_b, SipTarget("127.0.0.1", 5080, Transport.TCP))
    world.fund(world.reseller, "100")
    world.fund(world.customer, "10")
    return world
