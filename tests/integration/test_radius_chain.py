"""Issue 12, item 4 through RADIUS (a pyrad Access-Request over a real UDP socket) and
REST (the real app, in process), on both dialects: the Access-Accept and the authorize
and start answers carry every paying level of the chain with its balance before this
call's hold, as the SIP door's 302 does (``support.chain_world``)."""

from __future__ import annotations

import socket
from decimal import Decimal

from fastapi.testclient import TestClient
from pyrad.packet import AccessRequest, AuthPacket

from support.chain_world import CALLER, MAX_DURATION, UK, ChainWorld, build_chain_world
from support.radius_peer import SECRET, running_radius
from voxbill.api.app import create_app
from voxbill.bootstrap import Container
from voxbill.domain.access import Role
from voxbill.protocols.radius import dictionary


def rest_levels(world: ChainWorld) -> list[dict[str, object]]:
    return [
        {
            "level": n,
            "account_id": a,
            "kind": k,
            "balance": b,
            "currency": c,
            "balance_account_id": o,
        }
        for n, a, k, b, c, o in world.levels()
    ]


def test_access_accept_names_every_paying_level(container: Container) -> None:
    world = build_chain_world(container, vendor=False)
    with (
        running_radius(container) as port,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.settimeout(10)
        request = AuthPacket(AccessRequest, id=1, secret=SECRET.encode(), dict=dictionary())
        request.AddAttribute("Calling-Station-Id", CALLER)
        request.AddAttribute("Called-Station-Id", UK)
        request.add_message_authenticator()
        sock.sendto(request.RequestPacket(), ("127.0.0.1", port))
        raw, _ = sock.recvfrom(4096)
    reply = request.CreateReply(packet=raw)
    assert request.VerifyReply(reply, raw, enforce_ma=True)
    assert reply.code == 2  # Access-Accept
    assert reply["Session-Timeout"] == [MAX_DURATION]
    assert reply["h323-credit-amount"] == ["h323-credit-amount=0.4733"]
    assert reply["Cisco-AVPair"] == [
        f"voxbill-account={world.user}",
        *(
            f"voxbill-level-{n}=account={a};kind={k};balance={b};currency={c};balance-account={o}"
            for n, a, k, b, c, o in world.levels()
        ),
    ]
    assert world.reserved(world.user) == 0  # authorize holds nothing


def test_rest_authorize_and_start_carry_levels_before_the_hold(container: Container) -> None:
    world = build_chain_world(container, vendor=False)
    admin = container.auth.issue(world.system, world.root, Role.ADMIN).secret
    auth = {"Authorization": f"Bearer {admin}"}
    body = {"caller": CALLER, "callee": UK}
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        answer = client.post("/api/v1/calls/authorize", json=body, headers=auth)
        assert answer.status_code == 200
        assert answer.json()["balance"] == "0.4733"
        assert answer.json()["max_duration"] == MAX_DURATION
        assert answer.json()["levels"] == rest_levels(world)

        start = body | {"session_id": "chain-1"}
        started = client.post("/api/v1/calls", json=start, headers=auth)
        assert started.status_code == 201
        assert started.json()["balance"] == "0.4733"  # before this call's hold
        assert started.json()["levels"] == rest_levels(world)
        assert world.reserved(world.user) == Decimal("0.4733")

        # a retry replays the first answer: the balances as they were before the hold
        again = client.post("/api/v1/calls", json=start, headers=auth)
        assert again.status_code == 200
        assert again.json()["replayed"] is True
        assert again.json()["balance"] == "0.4733"
        assert again.json()["levels"] == rest_levels(world)

        # a refusal before the levels were priced names none
        unknown = {"caller": "+449999999999", "callee": UK}
        refused = client.post("/api/v1/calls/authorize", json=unknown, headers=auth)
        assert (refused.json()["reason"], refused.json()["levels"]) == ("unknown_caller", [])
