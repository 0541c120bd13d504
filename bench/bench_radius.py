"""RADIUS Access-Requests per second through ``voxbill serve --radius``.

    .venv/bin/python bench/bench_radius.py                      # SQLite, 10 s, 128 outstanding
    .venv/bin/python bench/bench_radius.py --postgres --seconds 10 --window 128
    .venv/bin/python bench/bench_radius.py --stub      # the door alone, charging stubbed

The demo data (``voxbill demo``) is loaded into a fresh database; ``voxbill serve`` runs
as its own process with RADIUS on a free port pair; this process is the NAS: an asyncio
pyrad-encoded client keeping ``--window`` Access-Requests outstanding over several UDP
sockets (each request a fresh Identifier and Request Authenticator, so the server's reply
cache never answers for it, and its Message-Authenticator computed again: voxbill drops
Access-Requests without a valid one). Each request is a full authorize: identify the ANI, read
the chain and balances, rate, compute the max duration; the reply is an Access-Accept.
Prints requests/s and the latency percentiles seen by the client. ``--stub`` serves
the same door over a charging stub that answers at once: the protocol layer's ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pyrad.packet import AccessRequest, AuthPacket

from voxbill.bootstrap import build
from voxbill.cli import demo_data as demo
from voxbill.protocols.radius import dictionary
from voxbill.settings import Settings

SECRET = b"bench-secret"
VOXBILL = Path(sys.executable).with_name("voxbill")
PER_SOCKET = 64  # outstanding requests per socket (Identifiers are one octet)


def free_pair() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return int(port)


def free_tcp() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(postgres: bool) -> Iterator[str]:
    if postgres:
        from bench_ledger import postgres_url

        with postgres_url() as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"


def template() -> bytes:
    packet = AuthPacket(AccessRequest, secret=SECRET, dict=dictionary())
    packet.AddAttribute("Calling-Station-Id", demo.CUSTOMER_ANI)
    packet.AddAttribute("Called-Station-Id", "+447911123456")
    packet.add_message_authenticator()  # the first attribute: its value at bytes 22..38
    data: bytes = packet.RequestPacket()
    assert data[20] == 80
    return data


def sign(raw: bytearray) -> None:
    """The Message-Authenticator of ``raw`` (RFC 3579 §3.2) for its new authenticator."""
    raw[22:38] = bytes(16)
    raw[22:38] = hmac.new(SECRET, bytes(raw), hashlib.md5).digest()


class Nas(asyncio.DatagramProtocol):
    """One socket keeping up to PER_SOCKET requests outstanding until ``deadline``."""

    def __init__(self, raw: bytes, deadline: float, latencies: list[float]) -> None:
        self.raw = bytearray(raw)
        self.deadline = deadline
        self.latencies = latencies
        self.sent: dict[int, float] = {}
        self.next_id = 0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        for _ in range(PER_SOCKET):
            self.send()

    def send(self) -> None:
        ident = self.next_id = (self.next_id + 1) % 256
        self.raw[1] = ident
        self.raw[4:20] = os.urandom(16)
        sign(self.raw)
        self.sent[ident] = time.perf_counter()
        self.transport.sendto(bytes(self.raw))  # type: ignore[attr-defined]

    def datagram_received(self, data: bytes, addr: object) -> None:
        started = self.sent.pop(data[1], None)
        if started is None or data[0] != 2:
            return
        now = time.perf_counter()
        self.latencies.append(now - started)
        if now < self.deadline:
            self.send()
        elif not self.sent and not self.done.done():
            self.done.set_result(None)


async def load(port: int, window: int, seconds: float) -> tuple[int, float, list[float]]:
    loop = asyncio.get_running_loop()
    raw, latencies = template(), []
    started = time.perf_counter()
    deadline = started + seconds
    clients = []
    for _ in range(max(1, window // PER_SOCKET)):
        _, nas = await loop.create_datagram_endpoint(
            lambda: Nas(raw, deadline, latencies), remote_addr=("127.0.0.1", port)
        )
        clients.append(nas)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), seconds + 10)
    return len(latencies), time.perf_counter() - started, latencies


def serve_stub(port: int) -> None:
    """A RADIUS server whose charging answers at once (the ``--stub`` server process)."""
    from decimal import Decimal

    from voxbill.protocols.radius import RadiusClients, RadiusServer
    from voxbill.services.charging.service import Authorization

    answer = Authorization(True, None, 1, 3600, Decimal("0.1"), "USD", Decimal("25"), "44", "UK")

    class Stub:
        def authorize(self, *args: object, **kwargs: object) -> Authorization:
            return answer

    async def run() -> None:
        clients = RadiusClients.parse("127.0.0.1/32=bench-secret").bound([1])
        await RadiusServer(Stub(), clients, port=port).start()  # type: ignore[arg-type]
        await asyncio.Event().wait()

    asyncio.run(run())


def server_command(url: str, radius: int, stub: bool) -> tuple[list[str], dict[str, str]]:
    if stub:
        return [sys.executable, __file__, "--serve-stub", str(radius)], dict(os.environ)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOXBILL_")}
    env |= {"VOXBILL_DATABASE_URL": url, "VOXBILL_RADIUS_CLIENTS": "127.0.0.1/32=bench-secret"}
    return [str(VOXBILL), "serve", "--port", str(free_tcp()), "--radius", str(radius)], env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=128, help="outstanding requests")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--stub", action="store_true", help="charging stubbed out")
    parser.add_argument("--serve-stub", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stub:
        serve_stub(args.serve_stub)
        return
    global PER_SOCKET
    PER_SOCKET = min(PER_SOCKET, args.window)
    with database(args.postgres) as url:
        container = build(Settings(database_url=url), migrate=True)
        demo.seed(container)
        container.close()
        radius = free_pair()
        command, env = server_command(url, radius, args.stub)
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(0.5)
            asyncio.run(load(radius, 16, 1.0))  # warm up (and wait for the listener)
            count, elapsed, latencies = asyncio.run(load(radius, args.window, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)
    dialect = "charging stubbed" if args.stub else "PostgreSQL" if args.postgres else "SQLite"
    ms = sorted(latency * 1000 for latency in latencies)
    if not ms:
        print("no replies")
        return
    p = statistics.quantiles(ms, n=100)
    print(
        f"RADIUS Access-Request -> Access-Accept, {dialect}, window {args.window}, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"  {count} accepted in {elapsed:.1f} s: {count / elapsed:,.0f} requests/s; "
        f"latency p50 {p[49]:.1f} ms, p99 {p[98]:.1f} ms"
    )
    print(
        f"  reproduce: .venv/bin/python bench/bench_radius.py --seconds {args.seconds:g} "
        f"--window {args.window}"
        + (" --postgres" if args.postgres else "")
        + (" --stub" if args.stub else "")
    )


if __name__ == "__main__":
    main()
