"""Issue 10, finding 3 (the identification rule) through the SIP door: a trunk known by
its source address may assert callers of its own subtree only; another tenant's ANI in
From or P-Asserted-Identity bills the trunk, never that tenant.

``support.sip_world``'s operator, plus trunk T (customer, IP 192.0.2.0/24, funds 10)
with user Tu below it (ANI +441000000099). Customer C (ANI +441000000001) is another
tenant's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from support.sip_world import CALLER, UK, SipWorld, build_sip_world
from voxbill.bootstrap import Container
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.message import parse_request
from voxbill.services.access.identifiers import IdentifierType

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TRUNK_IP, PROXY_IP = "192.0.2.10", "127.0.0.1"
OWN_USER = "+441000000099"


@pytest.fixture
def world(container: Container) -> SipWorld:
    world = build_sip_world(container)
    trunk = world.create(world.root, "customer", "T", rate_plan="retail")
    user = world.create(trunk, "user", "Tu", rate_plan="retail")
    ids = container.identifiers
    ids.add(world.system, trunk, IdentifierType.IP, "192.0.2.0/24", None)
    ids.add(world.system, user, IdentifierType.ANI, OWN_USER, None)
    world.fund(trunk, "10")
    world.fund(user, "10")
    world.trunk, world.trunk_user = trunk, user  # type: ignore[attr-defined]
    return world


def _invite(
    world: SipWorld, door: RedirectDoor, call_id: str, source: str, caller: str, pai: str = ""
) -> int:
    """The account the door's 302 names; the call is then stopped (its hold released)."""
    asserted = f"P-Asserted-Identity: <sip:{pai}@switch>\r\n" if pai else ""
    invite = (
        f"INVITE sip:{UK}@voxbill SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:5099;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:{caller}@switch>;tag=1\r\nTo: <sip:{UK}@voxbill>\r\n{asserted}"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    answer = door.invite(parse_request(invite), source, world.root)  # the peer's operator
    assert answer.status == 302, answer
    settled = world.container.charging.stop(call_id, 30)  # who paid: the CDR's account
    named = int(dict(answer.headers)["X-Voxbill-Account"])
    assert settled.account_id == named
    return named


def test_a_trunk_asserting_another_tenants_ani_is_billed_itself(world: SipWorld) -> None:
    door = RedirectDoor(world.container.charging, world.container.routing, clock=lambda: AT)
    trunk, own = world.trunk, world.trunk_user  # type: ignore[attr-defined]
    # before the fix, both were customer C's calls, paid from C's balance
    assert _invite(world, door, "t-1", TRUNK_IP, CALLER) == trunk
    assert _invite(world, door, "t-2", TRUNK_IP, "anonymous", pai=CALLER) == trunk
    # its own user: the asserted caller, below the trunk
    assert _invite(world, door, "t-3", TRUNK_IP, OWN_USER) == own
    # from an address that identifies no trunk (a trusted proxy): the asserted caller
    assert _invite(world, door, "p-1", PROXY_IP, CALLER) == world.customer
