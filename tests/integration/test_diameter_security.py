"""Who may talk to the Diameter door, over real TCP sockets (issue 10, findings 14, 3
and 8): peers by address (``VOXBILL_DIAMETER_PEERS``) and Origin-Host
(``VOXBILL_DIAMETER_PEER_HOSTS``), each bound to an operator that scopes every CCR;
connection caps, idle and read timeouts.

Operator A is ``support.charging_world`` (customer C, ANI 441000000001, funds 10);
operator B ("Rival") is a second operator root. Peers send from loopback addresses of
their own (127.0.0.1 is A's, 127.0.0.2 B's). Timeouts are tiny and every wait for the
server to act is a blocking read with a generous deadline (30 s), never a sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal as D

import pytest

from support.charging_world import UK, World, build_world
from support.diameter_client import RawPeer, ccr, cer, diameter_server, frame, gy_client
from voxbill.bootstrap import Container
from voxbill.domain.errors import InvalidInput
from voxbill.protocols.diameter import DiameterOptions, diameter_thread
from voxbill.protocols.diameter.options import PEERS_SETTING
from voxbill.protocols.peers import Peers
from voxbill.serving.connections import ConnectionLimits

ANI = "441000000001"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@contextmanager
def peer(port: int, source: str = "127.0.0.1") -> Iterator[RawPeer]:
    connection = RawPeer(port, source)
    try:
        yield connection
    finally:
        connection.close()


def until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@sqlite_only
def test_a_connection_from_an_address_that_is_not_a_peer_is_closed_unanswered(
    container: Container,
) -> None:
    """Before: any address that reached the port had its CER answered and its CCRs
    charged to whatever subscriber they named."""
    build_world(container)
    with diameter_server(container, peers="127.0.0.2/32") as port:
        with peer(port, "127.0.0.1") as stranger:
            stranger.send(cer())
            assert stranger.closed_by_server()  # no CEA: nothing says Diameter is here
        with peer(port, "127.0.0.2") as known:
            assert known.exchange(cer()).result_code == 2001


@sqlite_only
def test_a_cer_whose_origin_host_is_not_listed_gets_3010_and_the_connection_closes(
    container: Container,
) -> None:
    build_world(container)
    with diameter_server(container, peer_hosts="pcscf.client.test, pgw.example") as port:
        with peer(port) as intruder:
            cea = intruder.exchange(cer("intruder.example"))
            assert (cea.result_code, cea.header.is_error) == (3010, True)
            assert intruder.closed_by_server()
        with peer(port) as listed:  # DiameterIdentity compares without case
            assert listed.exchange(cer("PGW.Example")).result_code == 2001
        with gy_client(port) as gy:  # python-diameter's Node, Origin-Host pcscf.client.test
            assert gy.initial(gy.new_session_id(), ANI, UK).result_code == 2001


def _two_operators(world: World) -> str:
    rival, _ = world.container.accounts.ensure_operator("Rival", "USD")
    return f"127.0.0.1/32={world.root},127.0.0.2/32={rival.id}"


def test_the_peers_operator_scopes_every_ccr(container: Container) -> None:
    """B's peer names A's subscriber: unknown (5030). B's peer names A's session: unknown
    (5002), and the session goes on to its exact cost for A."""
    world = build_world(container)
    with (
        diameter_server(container, peers=_two_operators(world)) as port,
        peer(port, "127.0.0.1") as mine,
        peer(port, "127.0.0.2") as theirs,
    ):
        assert mine.exchange(cer()).result_code == 2001
        assert theirs.exchange(cer()).result_code == 2001
        stolen = theirs.exchange(ccr("b;1", 1, 0, ani=ANI, callee=UK))
        assert stolen.result_code == 5030
        assert mine.exchange(ccr("a;1", 1, 0, ani=ANI, callee=UK)).result_code == 2001
        # the same Session-Id and number as A's answer: not A's answer replayed to B
        assert theirs.exchange(ccr("a;1", 1, 0, ani=ANI, callee=UK)).result_code == 5030
        assert theirs.exchange(ccr("a;1", 2, 1, used=300)).result_code == 5002
        assert theirs.exchange(ccr("a;1", 3, 2, used=9000)).result_code == 5002
        assert world.container.charging.session_usage("a;1") == 0
        end = mine.exchange(ccr("a;1", 3, 1, used=125))
        assert end.result_code == 2001
        cost = world.container.rating.tariff(world.root, "retail", UK).cost(125)
        assert world.balance(world.customer) == D("10") - cost


@sqlite_only
def test_binding_refuses_a_peer_without_operator_among_several(container: Container) -> None:
    world = build_world(container)
    _two_operators(world)
    options = DiameterOptions(port=0, peers=Peers.parse("10.2.0.0/16", setting=PEERS_SETTING))
    with pytest.raises(InvalidInput, match="VOXBILL_DIAMETER_PEERS: 10.2.0.0/16 names no operator"):
        diameter_thread(container, options)
    with pytest.raises(InvalidInput, match="VOXBILL_DIAMETER_PEERS is not set"):
        diameter_thread(container, DiameterOptions(port=0))
    # the deprecated VOXBILL_DIAMETER_OPERATOR_ID binds the peers that name none
    deprecated = DiameterOptions(port=0, operator_id=world.root)
    door = diameter_thread(container, deprecated)
    assert {p.operator_id for p in door.server.options.peers} == {world.root}


@sqlite_only
def test_connections_over_the_per_source_cap_are_closed_before_any_read(
    container: Container,
) -> None:
    build_world(container)
    limits = ConnectionLimits(max_connections=100, max_per_source=2)
    with diameter_server(container, limits=limits) as port:
        with peer(port) as first, peer(port) as second:
            assert first.exchange(cer()).result_code == 2001
            assert second.exchange(cer()).result_code == 2001
            with peer(port) as third:
                third.send(cer())
                assert third.closed_by_server()
            with peer(port, "127.0.0.2") as elsewhere:  # another source has its own count
                assert elsewhere.exchange(cer()).result_code == 2001
        # both closed by the client: the server lets them go, a new one is admitted

        def admitted() -> bool:
            with peer(port) as again:
                again.send(cer())
                return again.receive() is not None

        assert until(admitted)


@sqlite_only
def test_connections_over_the_listener_cap_are_closed_before_any_read(
    container: Container,
) -> None:
    build_world(container)
    limits = ConnectionLimits(max_connections=2, max_per_source=10)
    with (
        diameter_server(container, limits=limits) as port,
        peer(port, "127.0.0.1") as first,
        peer(port, "127.0.0.2") as second,
    ):
        assert first.exchange(cer()).result_code == 2001
        assert second.exchange(cer()).result_code == 2001
        with peer(port, "127.0.0.3") as third:
            third.send(cer())
            assert third.closed_by_server()


@sqlite_only
def test_a_silent_connection_is_closed_after_the_idle_timeout(container: Container) -> None:
    """Before: an idle connection stayed open for ever (1,100 of them exhausted the
    process's descriptors). Peers send DWRs well within the timeout (default 120 s)."""
    build_world(container)
    # 2 s: long enough that the CER below is sent first even on a loaded machine
    limits = ConnectionLimits(idle_timeout=2, read_timeout=30)
    with diameter_server(container, limits=limits) as port:
        with peer(port) as silent:  # never says anything
            assert silent.closed_by_server()
        with peer(port) as quiet:  # a CER, then silence
            assert quiet.exchange(cer()).result_code == 2001
            assert quiet.closed_by_server()


@sqlite_only
def test_a_half_sent_frame_is_closed_after_the_read_timeout(container: Container) -> None:
    build_world(container)
    limits = ConnectionLimits(idle_timeout=60, read_timeout=0.3)
    data = cer()
    with diameter_server(container, limits=limits) as port:
        with peer(port) as slow:
            slow.send(data[:7])  # part of a header, then nothing
            assert slow.closed_by_server()
        with peer(port) as slower:
            slower.send(data[:-4])  # the header and most of the body
            assert slower.closed_by_server()


@sqlite_only
def test_a_frame_longer_than_the_limit_is_refused_unread(container: Container) -> None:
    build_world(container)
    huge = bytearray(frame(280, []))
    huge[1:4] = (0xFFFFFC).to_bytes(3, "big")  # announces 16 MiB, sends 20 bytes
    with diameter_server(container) as port, peer(port) as greedy:
        assert greedy.exchange(cer()).result_code == 2001
        answer = greedy.exchange(bytes(huge))
        assert answer.result_code == 5015
        assert greedy.closed_by_server()
