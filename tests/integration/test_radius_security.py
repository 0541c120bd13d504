"""Who may talk to the RADIUS door, proven with the real ``radclient`` over UDP:
Access-Requests must carry a Message-Authenticator (issue 10, finding 9), and every
client is bound to an operator whose callers and sessions are the only ones it reaches
(finding 3, the RADIUS part).

The operator A is ``support.charging_world`` (customer C, ANI +441000000001, funds 10;
card 12345678 / PIN 4321); operator B ("Rival") is a second operator root. Client
127.0.0.1 is A's, client 127.0.0.2 (radclient's ``Packet-Src-IP-Address``) is B's.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from support.charging_world import UK, World, build_world
from support.radius_peer import SECRET, radclient, require_radclient, running_radius
from voxbill.bootstrap import Container
from voxbill.storage.schema import cdrs

ANI = "+441000000001"
CALL = {"Calling-Station-Id": ANI, "Called-Station-Id": UK}
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(container: Container) -> World:
    require_radclient()
    return build_world(container)


@sqlite_only
def test_an_access_request_without_message_authenticator_gets_no_answer(world: World) -> None:
    """Before: an Access-Request with neither Message-Authenticator nor User-Password was
    answered whatever secret signed it, with the caller's balance in h323-credit-amount."""
    with running_radius(world.container) as port:
        assert radclient(port, "auth", CALL, secret="guessed", signed=False, wait=1) is None
        assert radclient(port, "auth", CALL, signed=False, wait=1) is None  # the right secret too
        assert (
            radclient(port, "auth", CALL, secret="guessed", wait=1) is None
        )  # signed, wrong secret
        accept = radclient(port, "auth", CALL)  # the right secret, signed
        assert accept is not None
        assert accept.code == "Access-Accept"
        assert "Message-Authenticator" in accept.attributes
        assert accept.one("h323-credit-amount") == "h323-credit-amount=10"


@sqlite_only
def test_a_client_listed_as_unsigned_is_answered_without_message_authenticator(
    world: World,
) -> None:
    clients = f"127.0.0.1/32={SECRET},127.0.0.2/32={SECRET}"
    with running_radius(world.container, clients, unsigned="127.0.0.1/32") as port:
        legacy = radclient(port, "auth", CALL, signed=False)
        assert legacy is not None
        assert legacy.code == "Access-Accept"
        assert "Message-Authenticator" in legacy.attributes  # replies are signed anyway
        assert radclient(port, "auth", CALL, signed=False, source="127.0.0.2", wait=1) is None


def _two_operators(world: World) -> tuple[str, int]:
    rival, _ = world.container.accounts.ensure_operator("Rival", "USD")
    clients = f"127.0.0.1/32={SECRET}@{world.root},127.0.0.2/32={SECRET}@{rival.id}"
    return clients, rival.id


@pytest.fixture
def port(world: World) -> Iterator[int]:
    clients, _ = _two_operators(world)
    with running_radius(world.container, clients) as auth_port:
        yield auth_port


def test_a_client_of_another_operator_reaches_none_of_its_callers(world: World, port: int) -> None:
    mine = radclient(port, "auth", CALL)
    assert mine is not None
    assert mine.code == "Access-Accept"
    theirs = radclient(port, "auth", CALL, source="127.0.0.2")
    assert theirs is not None
    assert (theirs.code, theirs.one("h323-return-code")) == (
        "Access-Reject",
        "h323-return-code=1",
    )  # unknown caller: no balance, no hint that A has this ANI
    assert "h323-credit-amount" not in theirs.attributes
    card = {"User-Name": "12345678", "User-Password": "0000", "Called-Station-Id": UK}
    rejected = radclient(port, "auth", card, source="127.0.0.2")
    assert rejected is not None
    assert rejected.one("h323-return-code") == "h323-return-code=1"  # unknown, not wrong PIN
    start = CALL | {"Acct-Session-Id": "b-1", "Acct-Status-Type": "Start"}
    assert radclient(port, "acct", start, source="127.0.0.2") is not None  # acknowledged…
    assert world.container.ledger.holds("b-1") == []  # … and nothing held from A's caller


def test_a_client_of_another_operator_cannot_stop_its_sessions(world: World, port: int) -> None:
    call = CALL | {"Acct-Session-Id": "a-1"}
    assert radclient(port, "acct", call | {"Acct-Status-Type": "Start"}) is not None
    forged = call | {"Acct-Status-Type": "Stop", "Acct-Session-Time": 5000}
    answered = radclient(port, "acct", forged, source="127.0.0.2")
    assert answered is not None  # acknowledged (accounting cannot refuse) …
    assert world.available(world.customer) == D("0")  # … and the session still open
    interim = call | {"Acct-Status-Type": "Interim-Update", "Acct-Session-Time": 4000}
    assert radclient(port, "acct", interim, source="127.0.0.2") is not None
    assert world.container.charging.session_usage("a-1") == 0
    stop = call | {"Acct-Status-Type": "Stop", "Acct-Session-Time": 40}
    assert radclient(port, "acct", stop) is not None
    with world.container.db.transaction(readonly=True) as conn:
        rows = conn.execute(select(cdrs.c.session_id, cdrs.c.duration, cdrs.c.cost)).all()
    assert [tuple(row) for row in rows] == [("a-1", 40, D("0.08"))]
    assert world.balance(world.customer) == D("9.92")
