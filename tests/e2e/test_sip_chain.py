"""Issue 12, item 4 over real UDP sockets and a real database (both dialects): the 302
names every paying level of the chain with its balance before this call's hold (seed
000), the four legacy headers keep their meaning with that balance, and a peer marked
``;authorize-only`` in ``VOXBILL_SIP_PEERS`` is answered with a 302 to its own
Request-URI, no vendor needed, while the session and its holds start as for any peer.

Linux answers on all of 127.0.0.0/8: 127.0.0.2 routes through voxbill, 127.0.0.3 routes
for itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest

from support.chain_world import CALLER, MAX_DURATION, UK, ChainWorld, build_chain_world
from support.sip_client import SipClient, header, status
from voxbill.bootstrap import Container
from voxbill.protocols.peers import AUTHORIZE_ONLY, Peers
from voxbill.protocols.sip.running import SipThread, sip_server

pytestmark = pytest.mark.slow

ROUTING, SELF_ROUTING = "127.0.0.2", "127.0.0.3"


def headers(data: bytes, name: str) -> list[str]:
    """Every value of header ``name`` (case-insensitive), in order."""
    head = data.partition(b"\r\n\r\n")[0].decode("utf-8", "replace")
    found = []
    for line in head.split("\r\n")[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == name.lower():
            found.append(value.strip())
    return found


def level_headers(world: ChainWorld) -> list[str]:
    return [
        f"{n};account={a};kind={k};balance={b};currency={c};balance-account={o}"
        for n, a, k, b, c, o in world.levels()
    ]


@contextmanager
def sip_door(world: ChainWorld) -> Iterator[tuple[str, int]]:
    container = world.container
    text = f"{ROUTING}={world.root},{SELF_ROUTING}={world.root};{AUTHORIZE_ONLY}"
    peers = Peers.parse(text, options=frozenset({AUTHORIZE_ONLY}))
    thread = SipThread(
        sip_server(container, "127.0.0.1", 0, peers=peers.bound([world.root]))
    ).start()
    try:
        yield ("127.0.0.1", thread.server.port)
    finally:
        thread.stop()


def invite(
    source: str, target: tuple[str, int], caller: str = CALLER.lstrip("+"), extra: str = ""
) -> tuple[str, bytes]:
    with SipClient(source) as client:
        call_id, data = client.request("INVITE", target, caller=caller, callee=UK, extra=extra)
        client.send(data, target)
        return call_id, client.answers(call_id)[-1]


def test_the_302_names_every_paying_level_with_its_balance_before_the_hold(
    container: Container,
) -> None:
    world = build_chain_world(container, vendor=True)
    with sip_door(world) as target:
        call_id, answer = invite(ROUTING, target)
    assert status(answer) == 302
    assert headers(answer, "Contact") == [f"<sip:{UK}@127.0.0.1:5070;transport=udp>;q=1.0"]
    # the legacy four: the caller's account, its balance BEFORE this call's hold (it
    # was 0 on main: the grant holds the whole 0.4733), the rate, the max duration
    assert header(answer, "X-Voxbill-Account") == str(world.user)
    assert header(answer, "X-Voxbill-Balance") == "0.4733"
    assert header(answer, "X-Voxbill-Rate") == "0.1"
    assert header(answer, "X-Voxbill-Max-Duration") == str(MAX_DURATION)
    assert headers(answer, "X-Voxbill-Level") == level_headers(world)
    # the holds were placed: the user's whole balance, both shares of SP's
    assert world.reserved(world.user) == Decimal("0.4733")
    assert world.reserved(world.provider) == Decimal("0.3787") + Decimal("0.284")
    assert container.charging.session_account(call_id) == world.user


def test_an_authorize_only_peer_gets_its_own_uri_back_with_no_vendor_configured(
    container: Container,
) -> None:
    world = build_chain_world(container, vendor=False)
    with sip_door(world) as target:
        # a peer that routes through voxbill: no vendor, no route (as before)
        call_id, refused = invite(ROUTING, target)
        assert status(refused) == 404
        assert header(refused, "X-Voxbill-Reason") == "no_route"
        assert world.reserved(world.user) == 0
        assert container.charging.session_account(call_id) is None

        # refusals are the same for it: status and reason, nothing held
        _, stranger = invite(SELF_ROUTING, target, caller="449999999999")
        assert (status(stranger), header(stranger, "X-Voxbill-Reason")) == (403, "unknown_caller")
        assert header(stranger, "Contact") is None

        # the switch that routes for itself: charged and sent back to its own URI
        call_id, answer = invite(SELF_ROUTING, target)
    assert status(answer) == 302
    assert headers(answer, "Contact") == [f"<sip:{UK}@{target[0]}:{target[1]}>"]
    assert header(answer, "X-Voxbill-Account") == str(world.user)
    assert header(answer, "X-Voxbill-Balance") == "0.4733"
    assert header(answer, "X-Voxbill-Max-Duration") == str(MAX_DURATION)
    assert headers(answer, "X-Voxbill-Level") == level_headers(world)
    # the session started and holds its grant, as for any peer
    assert container.charging.session_account(call_id) == world.user
    assert world.reserved(world.user) == Decimal("0.4733")
    settled = container.charging.stop(call_id, 60)
    assert (settled.cost, settled.balance) == (Decimal("0.1"), Decimal("0.3733"))
    assert world.reserved(world.user) == 0


def test_an_authorize_only_peer_may_name_its_own_route_set(container: Container) -> None:
    """``X-Voxbill-Route`` headers (one URI each, or a comma-separated list) become the
    302's Contacts in the switch's order; a malformed one is 400 with nothing charged."""
    world = build_chain_world(container, vendor=False)
    own = (
        "X-Voxbill-Route: <sip:+44207@carrier-a.example;transport=tcp>\r\n"
        "X-Voxbill-Route: sip:+44207@10.9.0.1:5070, tel:+44207\r\n"
    )
    with sip_door(world) as target:
        bad_id, bad = invite(SELF_ROUTING, target, extra="X-Voxbill-Route: http://x/\r\n")
        assert status(bad) == 400
        assert container.charging.session_account(bad_id) is None
        assert world.reserved(world.user) == 0

        call_id, answer = invite(SELF_ROUTING, target, extra=own)
    assert status(answer) == 302
    assert headers(answer, "Contact") == [
        "<sip:+44207@carrier-a.example;transport=tcp>;q=1.0",
        "<sip:+44207@10.9.0.1:5070>;q=0.9",
        "<tel:+44207>;q=0.8",
    ]
    assert header(answer, "X-Voxbill-Max-Duration") == str(MAX_DURATION)
    assert headers(answer, "X-Voxbill-Level") == level_headers(world)
    assert container.charging.session_account(call_id) == world.user
    assert world.reserved(world.user) == Decimal("0.4733")
