"""A small operator tree with keys for every role, and an HTTP client over the real app.

operator (admin, support_root)
├── reseller A (key_a, support_a)
│   └── customer A1 (key_customer_a) ── user A1u (key_user_a)
└── reseller B (key_b)
    └── customer B1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.rating.imports import PlanOptions
from voxbill.storage.schema import metadata

DECK = "prefix,rate,destination\n44,0.10,UK\n33,0.20,France\n"


@dataclass
class Tree:
    client: TestClient
    container: Container
    root: int
    admin: str
    support_root: str
    reseller_a: int
    key_a: str
    support_a: str
    key_a_id: int
    customer_a: int
    key_customer_a: str
    user_a: int
    key_user_a: str
    reseller_b: int
    key_b: str
    customer_b: int
    #: customer A1's SIP user "a1-pbx"
    identifier_a: int = 0
    #: a calling-card batch under customer A1 with its one card's serial and PIN (made
    #: only by the tests that need one: ``test_accounts_tenancy``)
    card_batch_a: int = 0
    card_a: tuple[str, str] = ("", "")
    #: a subscription of customer A1 and a delivery to it (``test_accounts_tenancy``)
    subscription_a: int = 0
    notification_a: int = 0

    @staticmethod
    def auth(key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


def snapshot(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what "nothing changed" is compared against."""
    with container.db.transaction(readonly=True) as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }


def build_tree(container: Container) -> Tree:
    root, _ = container.accounts.ensure_operator("Acme Telecom", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    deck = read_deck(DECK.splitlines(keepends=True))
    for plan in ("a-retail", "b-retail"):
        container.rate_import.import_deck(
            deck, operator_id=root.id, plan=plan, source="test", options=PlanOptions(currency="USD")
        )

    def create(parent: int, kind: str, name: str, **extra: Any) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return container.accounts.create(system, fields).id

    def key(account: int, role: Role) -> tuple[str, int]:
        issued = container.auth.issue(system, account, role)
        return issued.secret, issued.record.id

    reseller_a = create(root.id, "reseller", "Reseller A")
    customer_a = create(reseller_a, "customer", "Customer A1", rate_plan="a-retail")
    user_a = create(customer_a, "user", "User A1u", shared_balance=True)
    reseller_b = create(root.id, "reseller", "Reseller B")
    customer_b = create(reseller_b, "customer", "Customer B1", rate_plan="b-retail")
    key_a, key_a_id = key(reseller_a, Role.RESELLER)
    app = create_app(container)
    pbx = container.identifiers.add(system, customer_a, IdentifierType.SIP_USER, "a1-pbx", None)
    return Tree(
        client=TestClient(app, raise_server_exceptions=False),
        container=container,
        root=root.id,
        admin=key(root.id, Role.ADMIN)[0],
        support_root=key(root.id, Role.SUPPORT)[0],
        reseller_a=reseller_a,
        key_a=key_a,
        support_a=key(reseller_a, Role.SUPPORT)[0],
        key_a_id=key_a_id,
        customer_a=customer_a,
        key_customer_a=key(customer_a, Role.CUSTOMER)[0],
        user_a=user_a,
        key_user_a=key(user_a, Role.USER)[0],
        reseller_b=reseller_b,
        key_b=key(reseller_b, Role.RESELLER)[0],
        customer_b=customer_b,
        identifier_a=pbx.id,
    )
