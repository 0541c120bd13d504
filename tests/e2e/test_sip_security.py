"""The SIP door's peers and tenancy (issue 10, finding 3), over real UDP and TCP sockets
and a real database (both dialects), and ``voxbill serve``'s refusal of a bad setting.

Before: the door answered anyone and looked the caller up across operators (one INVITE
from an unknown host held a victim's money, and the 302 told the sender the victim's
account, balance and the operator's carriers). Now only ``VOXBILL_SIP_PEERS`` sources
are answered, strangers get nothing at all, and a peer's requests are looked up within
its operator only: its INVITEs (callers) and its BYEs (sessions).

Linux answers on all of 127.0.0.0/8, so 127.0.0.2 and 127.0.0.3 are two more hosts.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from support.sip_client import SipClient, header, status
from support.sip_world import CALLER, SipWorld, build_sip_world
from support.voxbill_process import VOXBILL, free_port, sqlite_env
from voxbill.bootstrap import Container, build
from voxbill.protocols.peers import Peers
from voxbill.protocols.sip.running import SipThread, sip_server
from voxbill.settings import Settings

pytestmark = pytest.mark.slow

STRANGER, PEER_A, PEER_B = "127.0.0.1", "127.0.0.2", "127.0.0.3"


@dataclass
class Door:
    world: SipWorld
    other_operator: int
    target: tuple[str, int]

    def reserved(self) -> Decimal:
        return self.world.container.ledger.balance(self.world.customer).reserved


@pytest.fixture
def door(container: Container) -> Iterator[Door]:
    world = build_sip_world(container)
    world.patch(world.customer, max_call_duration=600)
    other, _ = container.accounts.ensure_operator("Other", "USD")
    operators = container.accounts.operator_ids()
    peers = Peers.parse(f"{PEER_A}={world.root},{PEER_B}={other.id}").bound(operators)
    thread = SipThread(sip_server(container, "127.0.0.1", 0, peers=peers)).start()
    try:
        yield Door(world, other.id, ("127.0.0.1", thread.server.port))
    finally:
        thread.stop()


def test_a_stranger_gets_nothing_over_udp_or_tcp(door: Door) -> None:
    with SipClient(STRANGER) as stranger, SipClient(PEER_A) as peer:
        call_id, invite = stranger.request("INVITE", door.target, caller=CALLER.lstrip("+"))
        stranger.send(invite, door.target)
        probe_id, probe = peer.request("OPTIONS", door.target)
        peer.send(probe, door.target)
        assert status(peer.answers(probe_id)[-1]) == 200
        # the stranger's datagram was read before the peer's and dropped unread
        assert stranger.pending() == []
    assert door.reserved() == 0  # nothing held for it
    assert door.world.container.charging.session_account(call_id) is None

    with socket.create_connection(door.target, timeout=20, source_address=(STRANGER, 0)) as tcp:
        try:
            tcp.sendall(invite)
            closed = tcp.recv(65535) == b""
        except OSError:  # reset: closed before reading
            closed = True
    assert closed


def test_a_peer_finds_only_its_own_operators_callers(door: Door) -> None:
    caller = CALLER.lstrip("+")
    with SipClient(PEER_B) as other, SipClient(PEER_A) as own:
        call_id, invite = other.request("INVITE", door.target, caller=caller)
        other.send(invite, door.target)
        refused = other.answers(call_id)[-1]
        assert status(refused) == 403
        assert header(refused, "X-Voxbill-Reason") == "unknown_caller"
        assert header(refused, "X-Voxbill-Account") is None  # nothing about the victim
        assert door.reserved() == 0

        call_id, invite = own.request("INVITE", door.target, caller=caller)
        own.send(invite, door.target)
        granted = own.answers(call_id)[-1]
        assert status(granted) == 302
        assert header(granted, "X-Voxbill-Account") == str(door.world.customer)
        assert door.reserved() == Decimal("1.00")  # 600 s at 0.10/min


def test_a_bye_with_a_duration_stops_a_session_of_the_peers_operator(door: Door) -> None:
    caller = CALLER.lstrip("+")
    with SipClient(PEER_A) as own, SipClient(PEER_B) as other:
        call_id, invite = own.request("INVITE", door.target, caller=caller)
        own.send(invite, door.target)
        assert status(own.answers(call_id)[-1]) == 302
        held = door.reserved()
        assert held > 0

        def bye(client: SipClient, extra: str, cseq: int) -> int:
            _, data = client.request("BYE", door.target, call_id=call_id, cseq=cseq, extra=extra)
            client.send(data, door.target)
            return status(client.answers(call_id)[-1])

        assert bye(own, "", 2) == 481  # a plain BYE: a redirect server is in no dialog
        assert bye(other, "X-Voxbill-Duration: 0\r\n", 3) == 481  # another operator's
        assert bye(own, "X-Voxbill-Duration: soon\r\n", 4) == 400
        assert door.reserved() == held  # none of these touched it

        assert bye(own, "X-Voxbill-Duration: 0\r\n", 5) == 200
        assert door.reserved() == 0  # the grant is given back
        assert bye(own, "X-Voxbill-Duration: 0\r\n", 6) == 200  # a retransmission: replayed
        cdrs = door.world.container.charging.cdrs(f"/{door.world.root}/")
        assert [(c.session_id, c.duration, c.cost) for c in cdrs] == [(call_id, 0, 0)]


# -- voxbill serve ---------------------------------------------------------------------


def serve_refused(tmp_path: Path, peers: str | None, *extra: str) -> list[str]:
    """``voxbill serve --sip`` that must refuse to start: its stderr lines."""
    env = sqlite_env(tmp_path)
    if peers is not None:
        env["VOXBILL_SIP_PEERS"] = peers
    done = subprocess.run(
        [str(VOXBILL), "serve", "--port", str(free_port()), "--sip", str(free_port()), *extra],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_serve_refuses_peers_it_cannot_bind_with_one_line(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    container = build(Settings(database_url=env["VOXBILL_DATABASE_URL"]), migrate=True)
    try:
        assert serve_refused(tmp_path, None) == [
            "error: VOXBILL_SIP_PEERS: there is no operator yet to answer SIP for (create "
            "one with `voxbill init`), so the SIP door cannot start [invalid_input]"
        ]
        container.accounts.ensure_operator("Acme", "USD")
        single = serve_refused(tmp_path, "10.0.0.0/8=999999")
        assert single == [
            "error: VOXBILL_SIP_PEERS: 10.0.0.0/8 names operator 999999, which is not an "
            "operator's root account [invalid_input]"
        ]
        assert serve_refused(tmp_path, "not-a-network")[0].startswith(
            "error: VOXBILL_SIP_PEERS 'not-a-network' is not an IP network"
        )
        container.accounts.ensure_operator("Other", "USD")
        # two operators: the default (loopback) names none, so it is ambiguous
        for extra in ((), ("--sip-processes", "2")):
            lines = serve_refused(tmp_path, None, *extra)
            assert len(lines) == 1, lines
            assert lines == [
                "error: VOXBILL_SIP_PEERS is not set (loopback only, no operator) and "
                "there are 2 operators; set it with each peer's operator, e.g. "
                "127.0.0.1/32=OPERATOR_ID [invalid_input]"
            ]
        # a peer naming no operator among several: named in the message
        lines = serve_refused(tmp_path, "10.0.0.0/8")
        assert lines == [
            "error: VOXBILL_SIP_PEERS: 10.0.0.0/8 names no operator and there are 2 "
            "operators; write it as 10.0.0.0/8=OPERATOR_ID [invalid_input]"
        ]
    finally:
        container.close()
