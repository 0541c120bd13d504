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
from voxbill.domain.notify import Channel
from voxbill.domain.payments import Payment, PaymentStatus
from voxbill.domain.rate_deck import read_deck
from voxbill.portal.app import create_app
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.cards.service import BatchRequest
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


@dataclass(frozen=True)
class Side:
    """One subtree's object of every kind a portal route can name (``add_objects``):
    its customer account and what hangs off it."""

    account: int
    user: int  # a portal user of the account (none of the signed-in ones)
    key: int  # an API key of the account
    identifier: int
    batch: int  # a card batch owned by the account
    subscription: int
    notification: int  # a delivery to that subscription
    payment: str  # a pending online top-up
    plan: str  # the rate plan the account is priced by
    reseller: int  # the reseller above the account (templates are a reseller's)


@dataclass(frozen=True)
class Objects:
    """The objects of subtree A (customer A1) and of subtree B (customer B1), and the
    operator's own (a vendor), for tests that fill every route's parameters."""

    a: Side
    b: Side
    vendor: int


def add_objects(world: World) -> Objects:
    """Give customers A1 and B1 an object of every kind (``build_world`` stays as it is)."""
    container = world.container
    system = Principal(world.root, f"/{world.root}/", Role.ADMIN)

    def side(account: int, tag: str, plan: str, reseller: int) -> Side:
        email = f"guarantee-{tag}@example.com"
        user = container.auth.create_portal_user(system, account, email, PASSWORD, Role.CUSTOMER)
        key = container.auth.issue(system, account, Role.CUSTOMER, f"guarantee {tag}")
        identifier = container.identifiers.add(
            system, account, IdentifierType.SIP_USER, f"guarantee-{tag}", None
        )
        batch = container.cards.generate(system, BatchRequest(account, 1, Decimal("5")))
        made = container.subscriptions.create(
            system,
            account,
            channel=Channel.EMAIL,
            target=f"{tag}@example.com",
            events=["topup.received"],
            subtree=False,
        )
        with container.uow.transaction() as tx:
            tx.ledger.add_outbox_event(
                "topup.received", account, "{}", made.subscription.created_at
            )
        container.notify.fan_out()
        (delivery,) = container.subscriptions.notifications(
            system, account, limit=1, before_id=None
        )
        payment = Payment(
            id=f"pay_guarantee{tag}",
            account_id=account,
            provider="stripe",
            amount=Decimal("10"),
            currency="USD",
            status=PaymentStatus.PENDING,
            created_at=AT,
            updated_at=AT,
        )
        with container.uow.transaction() as tx:
            tx.payments.insert_payment(payment)
        return Side(
            account=account,
            user=user,
            key=key.record.id,
            identifier=identifier.id,
            batch=batch.batch.id,
            subscription=made.subscription.id,
            notification=delivery.id,
            payment=payment.id,
            plan=plan,
            reseller=reseller,
        )

    vendor = container.accounts.create(
        system, {"kind": "vendor", "name": "Vendor V", "parent_id": world.root}
    )
    return Objects(
        side(world.customer_a, "a", "a-retail", world.reseller_a),
        side(world.customer_b, "b", "b-retail", world.reseller_b),
        vendor.id,
    )
