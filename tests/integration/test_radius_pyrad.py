"""Byte-level retransmissions with a pyrad client over a real UDP socket: an identical
datagram gets the identical reply and charges once (SQLite)."""

from __future__ import annotations

import socket
from decimal import Decimal as D

import pytest
from pyrad.packet import AccountingRequest, AcctPacket, AuthPacket, StatusServer

from support.charging_world import UK, build_world
from support.radius_peer import SECRET, running_radius
from voxbill.bootstrap import Container
from voxbill.protocols.radius import dictionary

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _exchange(sock: socket.socket, data: bytes, port: int) -> bytes:
    sock.sendto(data, ("127.0.0.1", port))
    reply, _ = sock.recvfrom(4096)
    return reply


def test_identical_retransmissions_get_identical_replies_and_charge_once(
    container: Container,
) -> None:
    world = build_world(container)
    with (
        running_radius(container) as port,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.settimeout(10)
        call = {"Acct-Session-Id": "r1", "Calling-Station-Id": "+441000000001"}
        call["Called-Station-Id"] = UK
        for status, seconds in (("Start", 0), ("Stop", 40)):
            packet = AcctPacket(AccountingRequest, secret=SECRET.encode(), dict=dictionary())
            for name, value in call.items():
                packet.AddAttribute(name, value)
            packet.AddAttribute("Acct-Status-Type", status)
            packet.AddAttribute("Acct-Session-Time", seconds)
            data = packet.RequestPacket()
            first = _exchange(sock, data, port + 1)
            again = _exchange(sock, data, port + 1)
            assert first == again
            assert packet.VerifyReply(packet.CreateReply(packet=first), first)
    assert world.balance(world.customer) == D("9.92")
    assert len(world.container.ledger.holds("r1")) == 2  # customer and reseller, settled


def test_status_server_is_answered_when_signed(container: Container) -> None:
    with (
        running_radius(container) as port,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.settimeout(10)
        probe = AuthPacket(StatusServer, secret=SECRET.encode(), dict=dictionary())
        probe.add_message_authenticator()
        raw = _exchange(sock, probe.RequestPacket(), port)
        assert probe.VerifyReply(probe.CreateReply(packet=raw), raw, enforce_ma=True)
