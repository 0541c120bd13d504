"""Who is paid a charge: each level's seller, the parent of the account whose plan priced
it — a reseller is paid its customer's retail charge and pays its own wholesale one; the
operator's revenue book gets only what its direct children pay. Worked examples.

operator ── reseller R (wholesale 0.04/min, funds 10)
            └── customer C (retail 0.08/min, funds 10)
                └── user U (shares C's balance, no plan)
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy import select

from support.sms_world import build_sms_world, message
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.rate_deck import read_deck
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.imports import PlanOptions
from voxbill.storage.ledger.books import system_book_key
from voxbill.storage.schema.ledger import ledger_books, ledger_entries

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
UK = "+442079460000"


def revenue(container: Container, currency: str = "USD") -> D:
    """What the operator's revenue book received (the sum of its entries)."""
    with container.db.transaction(readonly=True) as conn:
        amounts = conn.execute(
            select(ledger_entries.c.amount)
            .join(ledger_books, ledger_books.c.id == ledger_entries.c.book_id)
            .where(ledger_books.c.key == system_book_key("revenue", currency))
        ).scalars()
        return sum(amounts, D(0))


def _plan(container: Container, root: int, name: str, rate: str) -> None:
    deck = f"prefix,rate,destination\n44,{rate},UK\n"
    container.rate_import.import_deck(
        read_deck(deck.splitlines(keepends=True)),
        operator_id=root,
        plan=name,
        source="test",
        options=PlanOptions(currency="USD"),
    )


def test_a_resellers_customer_pays_the_reseller_and_the_reseller_the_operator(
    container: Container,
) -> None:
    root, _ = container.accounts.ensure_operator("Acme", "USD")
    system = Principal(root.id, root.path, Role.ADMIN)
    _plan(container, root.id, "wholesale", "0.04")
    _plan(container, root.id, "retail", "0.08")

    def create(parent: int, kind: str, name: str, **extra: object) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return container.accounts.create(system, fields).id

    reseller = create(root.id, "reseller", "R", rate_plan="wholesale")
    customer = create(reseller, "customer", "C", rate_plan="retail")
    user = create(customer, "user", "U", shared_balance=True)
    container.identifiers.add(system, user, IdentifierType.SIP_USER, "alice", None)
    for account in (reseller, customer):
        container.ledger.top_up(account, D("10"), actor="test")
    ledger = container.ledger

    charging = container.charging
    charging.start("w-1", CallerId(account_id=customer), UK, AT)
    assert charging.stop("w-1", 60).cost == D("0.08")
    # C: -0.08 (retail 60 s x 0.08 / 60); R: +0.08 from C, -0.04 wholesale = +0.04
    assert ledger.balance(customer).balance == D("9.92")
    assert ledger.balance(reseller).balance == D("10.04")
    assert revenue(container) == D("0.04")

    # a user sharing C's balance: C pays by its plan, R is still its seller
    charging.start("w-2", CallerId(sip_user="alice"), UK, AT)
    charging.stop("w-2", 30)  # retail 0.04, wholesale 0.02
    assert ledger.balance(customer).balance == D("9.88")
    assert ledger.balance(reseller).balance == D("10.06")
    assert revenue(container) == D("0.06")
    assert ledger.verify() == []


def test_an_sms_charge_pays_each_levels_seller(container: Container) -> None:
    world = build_sms_world(container)
    ledger = container.ledger
    sent = container.messaging.send(world.admin, message("m-1", "x" * 161))
    # 2 segments to 447: retail 2 x 0.05 = 0.10 paid by C to R; wholesale 2 x 0.03 = 0.06
    # paid by R to the operator: R ends 100 + 0.10 - 0.06 = 100.04
    assert [(c.account_id, c.cost) for c in sent.charges] == [
        (world.customer, D("0.1")),
        (world.reseller, D("0.06")),
    ]
    assert ledger.balance(world.customer).balance == D("9.9")
    assert ledger.balance(world.reseller).balance == D("100.04")
    assert revenue(container) == D("0.06")
    assert ledger.verify() == []
