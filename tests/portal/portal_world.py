"""A small operator tree with a portal user for every role, and clients over the real app.

operator (admin@, support@)
├── reseller A (reseller-a@, support-a@)
│   └── customer A1 (customer-a@) ── user A1u (user-a@), card A1c (number + PIN)
└── reseller B (reseller-b@)
    └── customer B1
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.portal.app import create_app
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.imports import PlanOptions
from voxbill.storage.schema import metadata

DECK = "prefix,rate,destination\n44,0.10,UK\n33,0.20,France\n"
PASSWORD = "correct horse battery"
CARD = ("700100200300", "4321")
AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')


@dataclass
class World:
    container: Container
    app: Any
    root: int
    reseller_a: int
    customer_a: int
    user_a: int
    card_a: int
    reseller_b: int
    customer_b: int
    emails: dict[str, str] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, raise_server_exceptions=False, follow_redirects=False)

    def signed_in(self, who: str) -> TestClient:
        client = self.client()
        response = sign_in(client, self.emails[who], PASSWORD)
        assert response.status_code == 303, response.text
        return client

    def balance(self, account: int) -> Decimal:
        return self.container.ledger.balance(account).balance


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def form_key_of(html: str) -> str:
    found = _FORM_KEY.search(html)
    assert found is not None, html
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str) -> Any:
    page = client.get("/portal/login")
    assert page.status_code == 200
    return client.post(
        "/portal/login",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password},
    )


def post_form(client: TestClient, path: str, data: dict[str, str], page: str) -> Any:
    """Post a form with the CSRF token of ``page`` (a page of the same session)."""
    html = client.get(page).text
    return client.post(path, data={"csrf_token": csrf_of(html), **data})


def snapshot(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the sessions' (last seen moves on every request)."""
    with container.db.transaction(readonly=True) as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
            if table.name != "portal_sessions"
        }


def build_world(container: Container) -> World:
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

    reseller_a = create(root.id, "reseller", "Reseller A")
    customer_a = create(reseller_a, "customer", "Customer A1", rate_plan="a-retail")
    user_a = create(customer_a, "user", "User A1u", shared_balance=True)
    card_a = create(customer_a, "card", "Card A1c")
    reseller_b = create(root.id, "reseller", "Reseller B")
    customer_b = create(reseller_b, "customer", "Customer B1", rate_plan="b-retail")
    container.identifiers.add(system, customer_a, IdentifierType.SIP_USER, "a1-pbx", None)
    container.identifiers.add(system, card_a, IdentifierType.CARD, CARD[0], CARD[1])
    world = World(
        container,
        create_app(container),
        root.id,
        reseller_a,
        customer_a,
        user_a,
        card_a,
        reseller_b,
        customer_b,
    )
    users = {
        "admin": (root.id, Role.ADMIN),
        "support": (root.id, Role.SUPPORT),
        "reseller_a": (reseller_a, Role.RESELLER),
        "support_a": (reseller_a, Role.SUPPORT),
        "customer_a": (customer_a, Role.CUSTOMER),
        "user_a": (user_a, Role.USER),
        "reseller_b": (reseller_b, Role.RESELLER),
    }
    for who, (account, role) in users.items():
        email = f"{who.replace('_', '-')}@example.com"
        container.auth.create_portal_user(system, account, email, PASSWORD, role)
        world.emails[who] = email
    return world


def fund_and_call(world: World) -> None:
    """Money down the tree and one settled call of customer A1 (a CDR to export)."""
    ledger = world.container.ledger
    ledger.top_up(world.customer_a, Decimal("10"), actor="test")
    charging = world.container.charging
    charging.start("portal-call-1", CallerId(sip_user="a1-pbx"), "+442079460000", AT)
    charging.stop("portal-call-1", 60)
