"""Issue 12, item 1 through the SIP door: a redirect sends no interim updates, so an
INVITE of an extension on a shared balance is granted at most the operator default
(3600 s) and its 302 says so in ``X-Voxbill-Max-Duration``; two extensions on one
balance are both admitted.

``support.sip_world``'s operator (customer C: retail 0.10/min, funds 10), plus users U1
and U2 below C sharing its balance (ANIs +441000000051 and +441000000052).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from support.sip_world import CALLER, UK, SipWorld, build_sip_world
from voxbill.bootstrap import Container
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.message import parse_request
from voxbill.services.access.identifiers import IdentifierType

AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PROXY_IP = "127.0.0.1"


def _invite(door: RedirectDoor, world: SipWorld, call_id: str, caller: str) -> dict[str, str]:
    invite = (
        f"INVITE sip:{UK}@voxbill SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {PROXY_IP}:5099;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:{caller}@switch>;tag=1\r\nTo: <sip:{UK}@voxbill>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    answer = door.invite(parse_request(invite), PROXY_IP, world.root)
    assert answer.status == 302, answer
    return dict(answer.headers)


def test_extensions_on_a_shared_balance_get_at_most_the_cap(container: Container) -> None:
    world = build_sip_world(container)
    ids = container.identifiers
    users = []
    for n in (1, 2):
        user = world.create(world.customer, "user", f"U{n}", shared_balance=True)
        ids.add(world.system, user, IdentifierType.ANI, f"+44100000005{n}", None)
        users.append(user)
    door = RedirectDoor(container.charging, container.routing, clock=lambda: AT)

    first = _invite(door, world, "u-1", "+441000000051")
    assert (first["X-Voxbill-Account"], first["X-Voxbill-Max-Duration"]) == (str(users[0]), "3600")
    # 10.00 - 6.00 held for the first: 4.00 pays 2400 s of the second
    second = _invite(door, world, "u-2", "+441000000052")
    assert (second["X-Voxbill-Account"], second["X-Voxbill-Max-Duration"]) == (
        str(users[1]),
        "2400",
    )
    view = container.ledger.balance(world.customer)
    assert (view.reserved, view.available) == (Decimal("10"), Decimal("0"))
    container.charging.stop("u-1", 60)
    container.charging.stop("u-2", 60)
    assert container.ledger.balance(world.customer).balance == Decimal("9.8")
    # C's own call draws on its own balance alone: all that 9.80 pays (98 min)
    assert _invite(door, world, "c-1", CALLER)["X-Voxbill-Max-Duration"] == "5880"
    container.charging.stop("c-1", 60)
    assert container.ledger.verify() == []
