"""The doors' allow-lists: networks bound to operators (protocols/peers.py)."""

from __future__ import annotations

import pytest

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.peers import AUTHORIZE_ONLY, Peers
from voxbill.serving.connections import ConnectionLimits, Gate


def test_empty_setting_is_loopback_only() -> None:
    peers = Peers.parse("")
    assert peers.match("127.0.0.1") is not None
    assert peers.match("::1") is not None
    assert peers.match("::ffff:127.0.0.1") is not None
    assert peers.match("10.0.0.1") is None
    assert peers.match("not an address") is None


def test_longest_network_wins_and_carries_its_operator() -> None:
    peers = Peers.parse("10.0.0.0/8=1, 10.1.0.0/16=2, 192.0.2.7")
    assert peers.match("10.1.2.3").operator_id == 2  # type: ignore[union-attr]
    assert peers.match("10.2.0.1").operator_id == 1  # type: ignore[union-attr]
    assert peers.match("192.0.2.7").operator_id is None  # type: ignore[union-attr]
    assert peers.match("192.0.2.8") is None


def test_binding_to_the_sole_operator_and_refusing_ambiguity() -> None:
    bound = Peers.parse("127.0.0.1/32").bound([5])
    assert bound.match("127.0.0.1").operator_id == 5  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="names no operator"):
        Peers.parse("127.0.0.1/32").bound([5, 6])
    with pytest.raises(InvalidInput, match="not an operator"):
        Peers.parse("127.0.0.1/32=9").bound([5, 6])
    assert Peers.parse("127.0.0.1/32=6").bound([5, 6]).match("127.0.0.1").operator_id == 6  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text", ["10.0.0.0/33", "host.example", "10.0.0.1=x", "10.0.0.1=1,10.0.0.1=2"]
)
def test_bad_settings_are_one_clear_error(text: str) -> None:
    with pytest.raises(InvalidInput):
        Peers.parse(text, setting="VOXBILL_SIP_PEERS")


def test_gate_caps_connections_in_total_and_per_source() -> None:
    gate = Gate(ConnectionLimits(max_connections=3, max_per_source=2))
    assert gate.admit("a")
    assert gate.admit("a")
    assert not gate.admit("a")
    assert gate.admit("b")
    assert not gate.admit("c")
    gate.release("a")
    assert gate.admit("c")
    assert gate.open == 3


def test_a_sip_peer_may_route_for_itself_and_unknown_options_are_refused() -> None:
    sip = frozenset({AUTHORIZE_ONLY})
    peers = Peers.parse(
        "10.0.0.0/8=1;authorize-only, 10.1.0.0/16=1, 192.0.2.7;Authorize-Only", options=sip
    )
    assert peers.match("10.2.0.1").authorize_only  # type: ignore[union-attr]
    assert not peers.match("10.1.0.1").authorize_only  # type: ignore[union-attr]
    found = peers.match("192.0.2.7")
    assert found is not None
    assert found.authorize_only
    assert found.operator_id is None
    assert peers.bound([1]).match("10.2.0.1").authorize_only  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="unknown option 'routing'"):
        Peers.parse("10.0.0.0/8=1;routing", options=sip)
    with pytest.raises(InvalidInput, match="unknown option 'authorize-only'"):
        Peers.parse("10.0.0.0/8=1;authorize-only")  # a door without options (Diameter)
