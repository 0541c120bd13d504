"""A three-level paying chain (seed 000: service provider, group, user), for the doors'
``X-Voxbill-Level`` headers, ``voxbill-level-N`` VSAs and REST ``levels``.

operator Acme (USD)
└── reseller SP (plan "wholesale" 44 at 0.06/min 1/1; own balance 100)
    └── customer G (plan "group" 44 at 0.08/min 1/1; shares SP's balance)
        └── user U (plan "retail" 44 at 0.10/min 1/1; own balance 0.4733; ANI +441000000001)
[vendor Carrier (buy deck 44 at 0.03) → 127.0.0.1:5070 udp, when ``vendor=True``]

A call to the UK from U: 0.4733 at 0.10/min pays 284 s (284 × 0.10 / 60 = 0.473333…,
rounded once to 0.4733); the grant holds 0.4733 of U's balance, 0.3787 (group) and 0.284
(wholesale) of SP's. Every door reports each level's balance before that hold:
U 0.4733, G 100 (SP's balance), SP 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.domain.routing import SipTarget, Transport
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.rating.imports import PlanOptions

DECKS = {
    "retail": "prefix,rate,initial_increment,increment,destination\n44,0.10,1,1,UK\n",
    "group": "prefix,rate,initial_increment,increment,destination\n44,0.08,1,1,UK\n",
    "wholesale": "prefix,rate,initial_increment,increment,destination\n44,0.06,1,1,UK\n",
    "buy": "prefix,rate,destination\n44,0.03,UK\n",
}
CALLER = "+441000000001"
UK = "442079460000"
#: 0.4733 at 0.10/min, 1/1 increments
MAX_DURATION = 284


@dataclass
class ChainWorld:
    container: Container
    system: Principal
    root: int
    provider: int
    group: int
    user: int
    vendor: int | None

    def levels(self) -> list[tuple[int, int, str, str, str, int]]:
        """(level, account, kind, balance before the hold, currency, balance account)."""
        return [
            (0, self.user, "user", "0.4733", "USD", self.user),
            (1, self.group, "customer", "100", "USD", self.provider),
            (2, self.provider, "reseller", "100", "USD", self.provider),
        ]

    def reserved(self, account: int) -> Decimal:
        return self.container.ledger.balance(account).reserved


def build_chain_world(container: Container, *, vendor: bool) -> ChainWorld:
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
    accounts = container.accounts

    def create(parent: int, kind: str, name: str, **extra: object) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return accounts.create(system, fields).id

    provider = create(root.id, "reseller", "SP", rate_plan="wholesale")
    group = create(provider, "customer", "G", rate_plan="group", shared_balance=True)
    user = create(group, "user", "U", rate_plan="retail")
    container.identifiers.add(system, user, IdentifierType.ANI, CALLER, None)
    carrier = None
    if vendor:
        carrier = create(root.id, "vendor", "Carrier", rate_plan="buy")
        target = SipTarget("127.0.0.1", 5070, Transport.UDP)
        container.routing.set_target(system, carrier, target)
    container.ledger.top_up(provider, Decimal("100"), actor="test")
    container.ledger.top_up(user, Decimal("0.4733"), actor="test")
    return ChainWorld(container, system, root.id, provider, group, user, carrier)
