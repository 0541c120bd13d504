"""Byte-level retransmissions with a pyrad client over a real UDP socket: an identical
datagram gets the identical reply and charges once (SQLite)."""

from __future__ import annotations

import socket
from decimal import Decimal as D

import pytest
from pyrad.packet import AccessRequest, AccountingRequest, AcctPacket, AuthPacket, StatusServer

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
    build_world(container)
    with (
        running_radius(container) as port,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.settimeout(10)
        probe = AuthPacket(StatusServer, secret=SECRET.encode(), dict=dictionary())
        probe.add_message_authenticator()
        raw = _exchange(sock, probe.RequestPacket(), port)
        assert probe.VerifyReply(probe.CreateReply(packet=raw), raw, enforce_ma=True)


def test_a_forged_unsigned_access_request_reveals_nothing(container: Container) -> None:
    """Finding 9 over a raw socket: an Access-Request with neither Message-Authenticator
    nor User-Password, built with a guessed secret, was answered with the caller's
    balance in the clear. Now it is dropped: the signed request sent after it is the
    only one answered, and a Status-Server sent last finds nothing else queued."""
    build_world(container)
    call = {"Calling-Station-Id": "+441000000001", "Called-Station-Id": UK}
    with (
        running_radius(container) as port,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.settimeout(10)
        forged = AuthPacket(AccessRequest, id=1, secret=b"guessed", dict=dictionary())
        signed = AuthPacket(AccessRequest, id=2, secret=SECRET.encode(), dict=dictionary())
        for packet in (forged, signed):
            for name, value in call.items():
                packet.AddAttribute(name, value)
        signed.add_message_authenticator()
        probe = AuthPacket(StatusServer, id=3, secret=SECRET.encode(), dict=dictionary())
        probe.add_message_authenticator()
        sock.sendto(forged.RequestPacket(), ("127.0.0.1", port))
        sock.sendto(signed.RequestPacket(), ("127.0.0.1", port))
        answered = {}
        while 2 not in answered:
            raw, _ = sock.recvfrom(4096)
            answered[raw[1]] = raw
        sock.sendto(probe.RequestPacket(), ("127.0.0.1", port))
        while 3 not in answered:
            raw, _ = sock.recvfrom(4096)
            answered[raw[1]] = raw
        assert sorted(answered) == [2, 3]
        reply = signed.CreateReply(packet=answered[2])
        assert signed.VerifyReply(reply, answered[2], enforce_ma=True)
        assert reply["h323-credit-amount"] == ["h323-credit-amount=10"]
