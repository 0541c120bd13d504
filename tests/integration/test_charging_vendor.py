"""The vendor (buy) leg of a call, on SQLite and PostgreSQL: rated by the vendor's deck
with the same engine, stored on the CDR with the operator's margin, and taken from a
prepaid (outbound) vendor's balance in the settle transaction.

See ``support.sip_world``: customer C (retail UK 0.10/min) under reseller R (wholesale UK
0.06/min); Carrier-A buys UK at 0.03/min, Carrier-B at 0.02/min; all 1/1 increments.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from support.sip_world import CALLER, FRANCE, UK, SipWorld, build_sip_world
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.domain.accounts import CutoffMode
from voxbill.domain.errors import InvalidInput
from voxbill.domain.rate_deck import read_deck
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.message import parse_request
from voxbill.services.charging.service import CallerId
from voxbill.services.rating.imports import PlanOptions
from voxbill.storage.schema import cdrs, ledger_transactions

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CUSTOMER = CallerId(ani=CALLER)


@pytest.fixture
def world(container: Container) -> SipWorld:
    return build_sip_world(container)


def _cdr(world: SipWorld, session_id: str) -> Any:
    found = world.container.charging.cdrs(world.system.path, limit=100)
    return next(c for c in found if c.session_id == session_id)


def test_the_buy_leg_is_rated_by_the_vendor_deck_and_the_margin_is_sell_minus_buy(
    world: SipWorld,
) -> None:
    charging, rating = world.container.charging, world.container.rating
    charging.start("v1", CUSTOMER, UK, AT, vendor_id=world.carrier_a)
    charging.stop("v1", 95)
    cdr = _cdr(world, "v1")
    buy = rating.tariff(world.root, "buy-a", UK, AT).rate(95)
    paid = rating.tariff(world.root, "wholesale", UK, AT).rate(95)  # what R pays the operator
    assert buy.cost == D("0.0475")  # 95 x 0.03 / 60
    assert (cdr.vendor_id, cdr.vendor_cost, cdr.vendor_currency) == (
        world.carrier_a,
        buy.cost,
        "USD",
    )
    assert cdr.margin == paid.cost - buy.cost == D("0.0475")
    sides = [(leg.side, leg.account_id, leg.plan, leg.cost) for leg in cdr.legs]
    assert sides == [
        (
            "sell",
            world.customer,
            "retail",
            rating.tariff(world.root, "retail", UK, AT).rate(95).cost,
        ),
        ("sell", world.reseller, "wholesale", paid.cost),
        ("buy", world.carrier_a, "buy-a", buy.cost),
    ]
    # every vendor is debited, a postpaid one (cutoff none) too: what we owe it is known
    assert world.container.ledger.balance(world.carrier_a).balance == -buy.cost
    assert world.container.ledger.verify() == []


def test_a_prepaid_vendor_is_debited_in_the_settle_transaction_once(world: SipWorld) -> None:
    charging, ledger = world.container.charging, world.container.ledger
    world.patch(world.carrier_b, cutoff_mode=CutoffMode.OUTBOUND)
    world.fund(world.carrier_b, "1")
    charging.start("v2", CUSTOMER, UK, AT, vendor_id=world.carrier_b)
    charging.stop("v2", 61)
    charging.stop("v2", 61)  # a retry replays: no second debit
    cost = world.container.rating.tariff(world.root, "buy-b", UK, AT).rate(61).cost
    assert cost == D("0.0203")  # 61 x 0.02 / 60, rounded once to 4 places
    assert ledger.balance(world.carrier_b).balance == D("1") - cost
    with world.container.db.transaction(readonly=True) as conn:
        kinds = conn.execute(
            select(ledger_transactions.c.kind).where(ledger_transactions.c.reference == "v2")
        ).scalars()
        assert sorted(kinds) == ["charge", "vendor_charge"]
    assert ledger.verify() == []


def test_the_sweeper_settles_the_buy_leg_too(world: SipWorld) -> None:
    charging = world.container.charging
    world.patch(world.carrier_a, cutoff_mode=CutoffMode.OUTBOUND)
    world.fund(world.carrier_a, "50")
    world.container.settings.sweeper_settle_at = "grant"  # never reported: its grant
    grant = charging.start("v3", CUSTOMER, UK, AT, vendor_id=world.carrier_a)
    assert charging.sweep(grant.expires_at) == 1
    cdr = _cdr(world, "v3")
    buy = world.container.rating.tariff(world.root, "buy-a", UK, AT).rate(cdr.duration).cost
    assert (cdr.settled_by, cdr.vendor_cost) == ("sweeper", buy)
    assert world.container.ledger.balance(world.carrier_a).balance == D("50") - buy
    assert world.container.ledger.verify() == []


def test_a_vendor_in_another_currency_gets_a_margin_at_the_ledgers_rate_or_none(
    world: SipWorld,
) -> None:
    container = world.container
    deck = "prefix,rate,destination\n44,0.025,UK\n"
    container.rate_import.import_deck(
        read_deck(deck.splitlines(keepends=True)),
        operator_id=world.root,
        plan="buy-eur",
        source="test",
        options=PlanOptions(currency="EUR"),
    )
    euro = world.create(world.root, "vendor", "Carrier-E", rate_plan="buy-eur", currency="EUR")
    container.charging.start("v4", CUSTOMER, UK, AT, vendor_id=euro)
    container.charging.stop("v4", 60)
    assert (_cdr(world, "v4").vendor_cost, _cdr(world, "v4").margin) == (D("0.025"), None)
    container.ledger.set_fx_rate(
        world.root, "USD", "EUR", D("0.8"), datetime(2026, 1, 1, tzinfo=UTC)
    )
    container.charging.start("v5", CUSTOMER, UK, AT, vendor_id=euro)
    container.charging.stop("v5", 60)
    cdr = _cdr(world, "v5")
    # 0.025 EUR at 1 / 0.8 = 0.03125 USD; R paid 0.06
    assert (cdr.vendor_currency, cdr.margin) == ("EUR", D("0.06") - D("0.03125"))


def test_a_vendor_the_call_cannot_use_is_refused_before_anything_is_held(
    world: SipWorld,
) -> None:
    charging = world.container.charging
    for vendor, callee in ((world.customer, UK), (world.carrier_a, FRANCE), (99_999, UK)):
        with pytest.raises(InvalidInput) as refused:
            charging.start("bad", CUSTOMER, callee, AT, vendor_id=vendor)
        assert refused.value.code == "invalid_vendor"
    assert world.container.ledger.holds("bad") == []


def test_the_sip_door_records_the_cheapest_routes_vendor(world: SipWorld) -> None:
    door = RedirectDoor(world.container.charging, world.container.routing, clock=lambda: AT)
    invite = (
        f"INVITE sip:{UK}@voxbill SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-1\r\n"
        f"From: <sip:{CALLER}@switch>;tag=1\r\nTo: <sip:{UK}@voxbill>\r\n"
        "Call-ID: sip-vendor-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    answer = door.invite(parse_request(invite), "127.0.0.1")
    assert answer.status == 302
    world.container.charging.stop("sip-vendor-1", 30)
    cdr = _cdr(world, "sip-vendor-1")
    assert (cdr.vendor_id, cdr.vendor_cost) == (world.carrier_b, D("0.01"))  # 30 x 0.02/60


@pytest.fixture
def api(world: SipWorld) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    auth = world.container.auth
    admin = auth.issue(world.system, world.root, Role.ADMIN).secret
    reseller = auth.issue(world.system, world.reseller, Role.RESELLER).secret
    with TestClient(create_app(world.container), raise_server_exceptions=False) as client:
        yield (
            client,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {reseller}"},
        )


def test_the_api_takes_a_vendor_from_admin_keys_and_lists_the_buy_leg(
    world: SipWorld, api: tuple[TestClient, dict[str, str], dict[str, str]]
) -> None:
    client, admin, reseller = api
    body = {"session_id": "h1", "caller": CALLER, "callee": UK}
    denied = client.post(
        "/api/v1/calls", json=body | {"vendor_id": world.carrier_a}, headers=reseller
    )
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
    unknown = client.post("/api/v1/calls", json=body | {"vendor_id": 99_999}, headers=admin)
    assert unknown.status_code == 404
    started = client.post(
        "/api/v1/calls", json=body | {"vendor_id": world.carrier_a}, headers=admin
    )
    assert started.status_code == 201
    client.post("/api/v1/calls/h1/stop", json={"duration": 120}, headers=admin)
    item = client.get("/api/v1/cdrs", headers=admin).json()["items"][0]
    assert (item["vendor_id"], item["vendor_cost"], item["vendor_currency"]) == (
        world.carrier_a,
        "0.06",
        "USD",
    )
    assert item["margin"] == "0.06"  # R paid 0.12, Carrier-A billed 0.06
    assert [leg["side"] for leg in item["legs"]] == ["sell", "sell", "buy"]
    lines = client.get("/api/v1/cdrs.csv", headers=admin).text.splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    vendor = slice(header.index("vendor_id"), header.index("margin") + 1)
    assert header[vendor] == ["vendor_id", "vendor_cost", "vendor_currency", "margin"]
    assert row[vendor] == [str(world.carrier_a), "0.06", "USD", "0.06"]
    assert row[header.index("legs")].count(":") == 2 * 5  # the two sell legs only
    with world.container.db.transaction(readonly=True) as conn:
        assert conn.execute(select(cdrs.c.vendor_id)).scalar_one() == world.carrier_a
