"""The fraud guard's refusals at the switch doors, on both dialects: SIP (a 403 with
``X-Voxbill-Reason``; a capped grant in ``X-Voxbill-Max-Duration``), RADIUS (the real
``radclient``: an Access-Reject with ``Reply-Message`` and ``h323-return-code``) and
Diameter Gy (the CCA's Result-Code)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from support.charging_world import UK, World, build_world
from support.diameter_client import diameter_server, gy_client
from support.radius_peer import radclient, require_radclient, running_radius
from support.sip_world import UK as SIP_UK
from support.sip_world import UK_MOBILE, SipWorld, build_sip_world
from voxbill.bootstrap import Container
from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import parse_request

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PROXY_IP = "127.0.0.1"
ANI = "+441000000001"


def _invite(door: RedirectDoor, world: SipWorld, call_id: str, number: str) -> Answer:
    invite = (
        f"INVITE sip:{number}@voxbill SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {PROXY_IP}:5099;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:{ANI}@switch>;tag=1\r\nTo: <sip:{number}@voxbill>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    return door.invite(parse_request(invite), PROXY_IP, world.root)


def test_sip_caps_the_grant_and_says_why_it_refuses(container: Container) -> None:
    world = build_sip_world(container)
    door = RedirectDoor(container.charging, container.routing, clock=lambda: AT)
    world.patch(world.customer, hourly_spend_cap=D("0.50"))  # 5 min at 0.10/min
    capped = _invite(door, world, "s-1", SIP_UK)
    assert capped.status == 302, capped
    assert dict(capped.headers)["X-Voxbill-Max-Duration"] == "300"
    refused = _invite(door, world, "s-2", SIP_UK)  # the first call holds the whole cap
    assert (refused.status, dict(refused.headers)["X-Voxbill-Reason"]) == (403, "spend_cap")
    container.charging.stop("s-1", 0)
    container.high_risk.add_to(world.root, [("4479", None)])
    risky = _invite(door, world, "s-3", UK_MOBILE)
    assert (risky.status, dict(risky.headers)["X-Voxbill-Reason"]) == (
        403,
        "high_risk_destination",
    )
    assert _invite(door, world, "s-4", SIP_UK).status == 302


@pytest.fixture
def world(container: Container) -> World:
    require_radclient()
    return build_world(container)


@pytest.fixture
def port(world: World) -> Iterator[int]:
    with running_radius(world.container) as auth_port:
        yield auth_port


def test_radius_rejects_with_the_reason(world: World, port: int) -> None:
    world.container.high_risk.add_to(world.root, [("4420794", "test")])
    reply = radclient(port, "auth", {"Calling-Station-Id": ANI, "Called-Station-Id": UK})
    assert reply is not None
    assert reply.code == "Access-Reject"
    assert (reply.one("Reply-Message"), reply.one("h323-return-code")) == (
        "high-risk destination",
        "h323-return-code=9",
    )
    assert reply.one("Cisco-AVPair") == "voxbill-reason=high_risk_destination"
    world.container.high_risk.remove_from(world.root, "4420794")
    world.container.accounts.patch(world.system, world.customer, {"daily_spend_cap": D("0")})
    reply = radclient(port, "auth", {"Calling-Station-Id": ANI, "Called-Station-Id": UK})
    assert reply is not None
    assert reply.code == "Access-Reject"
    assert (reply.one("Reply-Message"), reply.one("h323-return-code")) == (
        "spend cap reached",
        "h323-return-code=6",
    )
    assert reply.one("Cisco-AVPair") == "voxbill-reason=spend_cap"


def test_diameter_answers_the_result_codes(container: Container) -> None:
    world = build_world(container)
    container.high_risk.add_to(world.root, [("4420794", None)])
    with diameter_server(container) as port, gy_client(port) as client:
        risky = client.initial(client.new_session_id(), ANI.lstrip("+"), UK)
        assert risky.result_code == 4010  # END_USER_SERVICE_DENIED
        container.high_risk.remove_from(world.root, "4420794")
        world.patch(world.customer, hourly_spend_cap=D("0"))
        capped = client.initial(client.new_session_id(), ANI.lstrip("+"), UK)
        assert capped.result_code == 4012  # CREDIT_LIMIT_REACHED
