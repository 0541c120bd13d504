"""Rate plans belong to an operator (issue 10, finding 2), on SQLite and PostgreSQL.

Two operators each hold plans of the same names at different prices; every path that
rates reads the caller's operator's plan, whatever was read before (the rating cache
is keyed by operator and name): calls at every level, the vendor's buy leg, least-cost
routing, SMS and quotes. A plan is never shared: importing into one operator's plan
leaves the other's as it was.

Acme (A): sip_world (retail UK 0.10, wholesale 0.06, buy-a 0.03, buy-b 0.02).
Globex (B): the same plan names, UK at five times the price (buy-b at 0.40).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from support.sip_world import CALLER, UK, SipWorld, build_sip_world
from voxbill.bootstrap import Container
from voxbill.domain.access import Principal, Role
from voxbill.domain.errors import InvalidInput, UnknownRatePlan
from voxbill.domain.rate_deck import read_deck
from voxbill.domain.routing import SipTarget, Transport
from voxbill.services.access.identifiers import IdentifierType
from voxbill.services.charging.service import CallerId
from voxbill.services.messaging.service import MessageRequest
from voxbill.services.rating.imports import PlanOptions

AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
GLOBEX_CALLER = "+441000000009"
GLOBEX_DECKS = {
    "retail": "prefix,rate,destination\n44,0.50,UK\n",
    "wholesale": "prefix,rate,destination\n44,0.30,UK\n",
    "buy-a": "prefix,rate,destination\n44,0.15,UK\n",
    "buy-b": "prefix,rate,destination\n44,0.40,UK\n",
    "sms": "prefix,rate,destination\n44,0.09,UK\n",
}


@dataclass
class Globex:
    root: int
    admin: Principal
    reseller: int
    customer: int
    carrier_a: int
    carrier_b: int


def _import(container: Container, operator_id: int | None, plan: str, deck: str) -> None:
    container.rate_import.import_deck(
        read_deck(deck.splitlines(keepends=True)),
        operator_id=operator_id,
        plan=plan,
        source="test",
        options=PlanOptions(currency="USD"),
    )


def _globex(container: Container) -> Globex:
    root, _ = container.accounts.ensure_operator("Globex", "USD")
    admin = Principal(root.id, root.path, Role.ADMIN)
    for plan, deck in GLOBEX_DECKS.items():
        _import(container, root.id, plan, deck)

    def create(parent: int, kind: str, name: str, **extra: object) -> int:
        fields = {"kind": kind, "name": name, "parent_id": parent, **extra}
        return container.accounts.create(admin, fields).id

    reseller = create(root.id, "reseller", "GR", rate_plan="wholesale")
    customer = create(reseller, "customer", "GC", rate_plan="retail", sms_plan="sms")
    carrier_a = create(root.id, "vendor", "G-Carrier-A", rate_plan="buy-a")
    carrier_b = create(root.id, "vendor", "G-Carrier-B", rate_plan="buy-b")
    container.identifiers.add(admin, customer, IdentifierType.ANI, GLOBEX_CALLER, None)
    for vendor, port in ((carrier_a, 5090), (carrier_b, 5091)):
        target = SipTarget("127.0.0.1", port, Transport.UDP)
        container.routing.set_target(admin, vendor, target)
    for account in (reseller, customer):
        container.ledger.top_up(account, D("100"), actor="test")
    return Globex(root.id, admin, reseller, customer, carrier_a, carrier_b)


@pytest.fixture
def worlds(container: Container) -> tuple[SipWorld, Globex]:
    return build_sip_world(container), _globex(container)


def _call(container: Container, session: str, caller: str, vendor: int) -> list[tuple[str, D]]:
    """A 60 s call to the UK: each leg's plan and cost (sell legs, then the buy leg)."""
    charging = container.charging
    charging.start(session, CallerId(ani=caller), "+" + UK, AT, vendor_id=vendor)
    charging.stop(session, 60)
    cdr = next(c for c in charging.cdrs("/") if c.session_id == session)
    return [(leg.plan, leg.cost) for leg in cdr.legs]


def test_each_operators_calls_are_priced_by_its_own_plans(
    container: Container, worlds: tuple[SipWorld, Globex]
) -> None:
    acme, globex = worlds
    # A first (its plans cached), then B (same names), then A again: never the other's
    acme_legs = [("retail", D("0.1")), ("wholesale", D("0.06")), ("buy-a", D("0.03"))]
    assert _call(container, "a-1", CALLER, acme.carrier_a) == acme_legs
    assert _call(container, "b-1", GLOBEX_CALLER, globex.carrier_a) == [
        ("retail", D("0.5")),
        ("wholesale", D("0.3")),
        ("buy-a", D("0.15")),
    ]
    assert _call(container, "a-2", CALLER, acme.carrier_a) == acme_legs
    authorized = container.charging.authorize(CallerId(ani=GLOBEX_CALLER), "+" + UK, AT)
    assert (authorized.allowed, authorized.rate) == (True, D("0.50"))
    assert container.ledger.verify() == []


def test_a_vendor_of_another_operator_is_refused_for_a_call(
    container: Container, worlds: tuple[SipWorld, Globex]
) -> None:
    _, globex = worlds
    with pytest.raises(InvalidInput, match="under this operator"):
        container.charging.start(
            "x-1", CallerId(ani=CALLER), "+" + UK, AT, vendor_id=globex.carrier_a
        )


def test_routes_are_priced_by_each_operators_vendor_decks(
    container: Container, worlds: tuple[SipWorld, Globex]
) -> None:
    acme, globex = worlds
    routing = container.routing
    mine = routing.for_account(acme.customer, "+" + UK)
    assert (mine.sell_rate, [(r.vendor, r.rate) for r in mine.routes]) == (
        D("0.06"),
        [("Carrier-B", D("0.02")), ("Carrier-A", D("0.03"))],
    )
    theirs = routing.for_account(globex.customer, "+" + UK)
    # B sells at 0.30: its Carrier-B (0.40) would lose money and is left out
    assert (theirs.sell_rate, [(r.vendor, r.rate) for r in theirs.routes]) == (
        D("0.30"),
        [("G-Carrier-A", D("0.15"))],
    )


def test_messages_are_priced_by_the_senders_operators_sms_plan(
    container: Container, worlds: tuple[SipWorld, Globex]
) -> None:
    acme, globex = worlds
    _import(container, acme.root, "sms", "prefix,rate,destination\n44,0.04,UK\n")
    container.accounts.patch(acme.system, acme.customer, {"sms_plan": "sms"})
    for admin, account, price in (
        (acme.system, acme.customer, "0.04"),
        (globex.admin, globex.customer, "0.09"),
    ):
        request = MessageRequest(
            message_id=f"m-{account}",
            sender="+15550000000",
            recipient="+447700900123",
            text="hello",
            account_id=account,
        )
        assert container.messaging.send(admin, request).cost == D(price)


def test_quotes_read_the_operators_plan_and_an_import_touches_only_it(
    container: Container, worlds: tuple[SipWorld, Globex]
) -> None:
    acme, globex = worlds
    rating = container.rating

    def acme_plans() -> list[tuple[str, int, int]]:
        return [(p.name, p.version, n) for p, n in container.rate_plans.plans_of(acme.root)]

    before = acme_plans()
    assert rating.quote(acme.root, "retail", "+" + UK, 60, AT).rating.cost == D("0.1")
    assert rating.quote(globex.root, "retail", "+" + UK, 60, AT).rating.cost == D("0.5")
    _import(container, globex.root, "retail", "prefix,rate,destination\n44,0.70,UK\n")
    assert rating.quote(globex.root, "retail", "+" + UK, 60, AT).rating.cost == D("0.7")
    assert rating.quote(acme.root, "retail", "+" + UK, 60, AT).rating.cost == D("0.1")
    assert acme_plans() == before
    with pytest.raises(UnknownRatePlan):
        rating.quote(acme.root, "sms", "+" + UK, 60, AT)  # only Globex has one


def test_plans_of_an_installation_without_operators_go_to_the_first_one(
    container: Container,
) -> None:
    _import(container, None, "retail", "prefix,rate,destination\n44,0.10,UK\n")
    assert container.rating.quote(None, "retail", "+" + UK, 60, AT).rating.cost == D("0.1")
    first, _ = container.accounts.ensure_operator("First", "USD")
    second, _ = container.accounts.ensure_operator("Second", "USD")
    assert [p.name for p, _ in container.rate_plans.plans_of(first.id)] == ["retail"]
    assert container.rate_plans.plans_of(second.id) == []
    assert container.rate_plans.plans_of(None) == []
    with pytest.raises(InvalidInput, match="no rate plan named 'retail'"):
        container.accounts.create(
            Principal(second.id, second.path, Role.ADMIN),
            {"kind": "customer", "name": "C", "parent_id": second.id, "rate_plan": "retail"},
        )
    # once operators exist, a plan must say whose it is
    with pytest.raises(InvalidInput, match="operator"):
        _import(container, None, "orphan", "prefix,rate\n44,0.1\n")
