"""The real ``radclient`` (freeradius-utils) against voxbill's RADIUS door, in-process
on free ports, over a real database (SQLite, and PostgreSQL when configured).

The operator is ``support.charging_world``: customer C (ANI +441000000001, retail UK
0.10/min, connect 0.01, 30/6, funds 10) under reseller R; card K 12345678 / PIN 4321
(funds 5).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from support.charging_world import UK, World, build_world
from support.radius_peer import Reply, radclient, require_radclient, running_radius
from voxbill.bootstrap import Container
from voxbill.storage.schema import cdrs

ANI = "+441000000001"
#: protocol-only checks need no second dialect: SQLite alone keeps the suite quick
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(container: Container) -> World:
    require_radclient()
    return build_world(container)


@pytest.fixture
def port(world: World) -> Iterator[int]:
    with running_radius(world.container) as auth_port:
        yield auth_port


def _cdr_costs(world: World) -> list[tuple[str, int, D]]:
    with world.container.db.transaction(readonly=True) as conn:
        rows = conn.execute(select(cdrs).order_by(cdrs.c.id)).all()
    return [(row.session_id, row.duration, row.cost) for row in rows]


def test_access_accept_grants_the_exact_max_duration_and_balance(world: World, port: int) -> None:
    expected = world.container.charging.authorize(world.customer_caller, UK)
    reply = radclient(port, "auth", {"Calling-Station-Id": ANI, "Called-Station-Id": UK})
    assert reply is not None
    assert reply.code == "Access-Accept"
    assert int(reply.one("Session-Timeout")) == expected.max_duration == 5994
    assert reply.one("h323-credit-time") == "h323-credit-time=5994"
    assert reply.one("h323-credit-amount") == "h323-credit-amount=10"
    assert reply.one("h323-return-code") == "h323-return-code=0"
    assert reply.one("h323-currency") == "h323-currency=USD"
    assert "Message-Authenticator" in reply.attributes  # replies to access are signed
    assert world.available(world.customer) == D("10")  # authorization reserves nothing


@sqlite_only
@pytest.mark.parametrize(
    ("attributes", "message", "code"),
    [
        ({"Calling-Station-Id": "+449999999999"}, "unknown caller", 1),
        ({"Calling-Station-Id": ANI, "Called-Station-Id": "+81312345678"}, "no rate", 9),
        ({"User-Name": "12345678", "User-Password": "9999"}, "wrong card PIN", 2),
        ({"User-Name": "87654321", "User-Password": "4321"}, "unknown caller", 1),
    ],
    ids=["unknown-caller", "no-rate", "wrong-pin", "unknown-card"],
)
def test_access_reject_says_why(
    world: World, port: int, attributes: dict[str, str], message: str, code: int
) -> None:
    request = {"Called-Station-Id": UK} | attributes
    reply = radclient(port, "auth", request)
    assert reply is not None
    assert reply.code == "Access-Reject"
    assert reply.one("Reply-Message").startswith(message)
    assert reply.one("h323-return-code") == f"h323-return-code={code}"


@sqlite_only
def test_no_funds_and_blocked_are_rejected_with_their_return_codes(world: World, port: int) -> None:
    world.patch(world.customer, block_balance="10")
    reply = radclient(port, "auth", {"Calling-Station-Id": ANI, "Called-Station-Id": UK})
    assert reply is not None
    assert reply.code == "Access-Reject"
    assert (reply.one("Reply-Message"), reply.one("h323-return-code")) == (
        "insufficient funds",
        "h323-return-code=4",
    )
    assert reply.one("Cisco-AVPair") == "voxbill-reason=insufficient_funds"
    world.patch(world.customer, block_balance="0", status="blocked")
    reply = radclient(port, "auth", {"Calling-Station-Id": ANI, "Called-Station-Id": UK})
    assert reply is not None
    assert reply.one("h323-return-code") == "h323-return-code=7"


def test_card_and_pin_with_message_authenticator_then_accounting_charges_the_card(
    world: World, port: int
) -> None:
    reply = radclient(
        port,
        "auth",
        {
            "User-Name": "12345678",
            "User-Password": "4321",
            "Called-Station-Id": UK,
            "Message-Authenticator": "0x00",
        },
    )
    assert reply is not None
    assert reply.code == "Access-Accept"
    assert reply.one("h323-credit-amount") == "h323-credit-amount=5"
    token = reply.one("Class")  # the NAS echoes Class in the call's accounting
    call = {"Acct-Session-Id": "card-1", "User-Name": "12345678", "Called-Station-Id": UK}
    call["Class"] = token
    assert _acct(port, call | {"Acct-Status-Type": "Start"})
    assert _acct(port, call | {"Acct-Status-Type": "Stop", "Acct-Session-Time": 40})
    assert world.balance(world.card) == D("4.92")  # 30 + 2 x 6 s: 0.01 + 42 x 0.10 / 60
    assert _cdr_costs(world) == [("card-1", 40, D("0.08"))]


@sqlite_only
def test_wrong_secret_is_ignored(world: World, port: int) -> None:
    card = {"User-Name": "12345678", "User-Password": "4321", "Called-Station-Id": UK}
    assert radclient(port, "auth", card, secret="wrong", wait=1) is None
    signed = {"Calling-Station-Id": ANI, "Called-Station-Id": UK, "Message-Authenticator": "0x00"}
    assert radclient(port, "auth", signed, secret="wrong", wait=1) is None
    start = {"Acct-Status-Type": "Start", "Acct-Session-Id": "x", "Calling-Station-Id": ANI}
    assert (
        radclient(port, "acct", start | {"Called-Station-Id": UK}, secret="wrong", wait=1) is None
    )
    assert world.container.ledger.holds("x") == []


def _acct(port: int, attributes: dict[str, str | int]) -> bool:
    reply: Reply | None = radclient(port, "acct", attributes)
    return reply is not None and reply.code == "Accounting-Response"


def test_start_interim_stop_settles_the_session_and_writes_the_cdr(world: World, port: int) -> None:
    call = {"Acct-Session-Id": "call-7", "Calling-Station-Id": ANI, "Called-Station-Id": UK}
    assert _acct(port, call | {"Acct-Status-Type": "Start"})
    assert world.available(world.customer) == D("0")  # the whole Session-Timeout is held
    assert _acct(port, call | {"Acct-Status-Type": "Interim-Update", "Acct-Session-Time": 30})
    assert _acct(port, call | {"Acct-Status-Type": "Stop", "Acct-Session-Time": 40})
    assert _cdr_costs(world) == [("call-7", 40, D("0.08"))]
    assert world.balance(world.customer) == D("9.92")
    assert world.available(world.customer) == D("9.92")
    # paid C's 0.08, pays wholesale 40 x 0.06 / 60 = 0.04
    assert world.balance(world.reseller) == D("100.04")
    assert world.container.ledger.verify() == []


def test_a_retransmitted_stop_charges_once(world: World, port: int) -> None:
    call = {"Acct-Session-Id": "call-8", "Calling-Station-Id": ANI, "Called-Station-Id": UK}
    assert _acct(port, call | {"Acct-Status-Type": "Start"})
    stop = call | {"Acct-Status-Type": "Stop", "Acct-Session-Time": 40}
    assert _acct(port, stop)
    assert _acct(port, stop)  # a new radclient packet, same session: replayed
    assert _acct(port, call | {"Acct-Status-Type": "Start"})  # a late duplicate Start
    assert _cdr_costs(world) == [("call-8", 40, D("0.08"))]
    assert world.balance(world.customer) == D("9.92")


@sqlite_only
def test_a_stop_whose_start_was_lost_still_charges_the_call(world: World, port: int) -> None:
    call = {"Acct-Session-Id": "call-9", "Calling-Station-Id": ANI, "Called-Station-Id": UK}
    assert _acct(port, call | {"Acct-Status-Type": "Stop", "Acct-Session-Time": 40})
    assert _cdr_costs(world) == [("call-9", 40, D("0.08"))]


def test_a_refused_start_is_acknowledged_and_holds_nothing(world: World, port: int) -> None:
    world.patch(world.customer, block_balance="10")
    call = {"Acct-Session-Id": "call-10", "Calling-Station-Id": ANI, "Called-Station-Id": UK}
    assert _acct(port, call | {"Acct-Status-Type": "Start"})
    assert world.container.ledger.holds("call-10") == []
    assert _cdr_costs(world) == []
