"""A RADIUS Accounting Stop that arrives after the sweeper settled its session, over a
real UDP socket, on SQLite and PostgreSQL: the sweeper charged the last Interim-Update,
the Stop corrects the charge to the real Acct-Session-Time, once.

See ``support.charging_world``: customer C (retail UK 0.10/min, connect 0.01, 30/6;
funds 10) under reseller R (wholesale UK 0.06/min 1/1; funds 100).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from pyrad.packet import AccountingRequest, AcctPacket

from support.charging_world import UK, build_world
from support.radius_peer import SECRET, running_radius
from voxbill.bootstrap import Container
from voxbill.protocols.radius import dictionary


def _account(sock: socket.socket, port: int, status: str, seconds: int) -> None:
    packet = AcctPacket(AccountingRequest, secret=SECRET.encode(), dict=dictionary())
    for name, value in (
        ("Acct-Session-Id", "late-1"),
        ("Calling-Station-Id", "+441000000001"),
        ("Called-Station-Id", UK),
        ("Acct-Status-Type", status),
        ("Acct-Session-Time", seconds),
    ):
        packet.AddAttribute(name, value)
    sock.sendto(packet.RequestPacket(), ("127.0.0.1", port + 1))
    reply, _ = sock.recvfrom(4096)
    assert packet.VerifyReply(packet.CreateReply(packet=reply), reply)


def test_a_stop_after_the_sweeper_corrects_the_charge_once(container: Container) -> None:
    world = build_world(container)
    charging = container.charging
    with (
        running_radius(container) as port,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
    ):
        sock.settimeout(10)
        _account(sock, port, "Start", 0)
        _account(sock, port, "Interim-Update", 60)
        # the Stop is lost: the sweeper charges the last update, 60 s (0.01 + 0.10; 0.06)
        assert charging.sweep(datetime.now(UTC) + timedelta(days=1)) == 1
        (swept,) = charging.cdrs(world.system.path, limit=10)
        assert (swept.settled_by, swept.settled_reason) == ("sweeper", "no_stop_last_usage")
        assert (swept.duration, swept.cost) == (60, D("0.11"))
        assert world.balance(world.customer) == D("9.89")
        # the Stop arrives at last, twice (a NAS retransmits): 120 s (0.21; 0.12), once
        _account(sock, port, "Stop", 120)
        _account(sock, port, "Stop", 120)
    (cdr,) = charging.cdrs(world.system.path, limit=10)
    assert (cdr.duration, cdr.cost, cdr.swept_duration, cdr.swept_cost) == (
        120,
        D("0.21"),
        60,
        D("0.11"),
    )
    assert cdr.corrected_at is not None
    assert world.balance(world.customer) == D("9.79")
    assert world.balance(world.reseller) == D("100") + D("0.21") - D("0.12")
    assert container.ledger.verify() == []
