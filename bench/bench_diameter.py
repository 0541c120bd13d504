"""Diameter Gy: complete CCR-I + CCR-T sessions per second through voxbill's server.

    .venv/bin/python bench/bench_diameter.py                    # SQLite, 2000 sessions
    .venv/bin/python bench/bench_diameter.py --sessions 5000 --clients 16
    .venv/bin/python bench/bench_diameter.py --postgres-url postgresql+psycopg://postgres@127.0.0.1/postgres

The server runs in-process (its own thread and event loop, as in ``voxbill serve``) over
a fresh database seeded like the tests (operator → reseller → customer, ANI, funds);
``--clients`` asyncio connections each do CER, then sessions back to back: CCR-I (a
300 s grant held at every level), CCR-T with 60 s used (rated, charged, CDR written).
Messages are coded with python-diameter. A first run over a fake charging service
shows what the door itself costs. Prints sessions/s, CCR p50/p99 and CPU seconds
(the machine may be shared). One PostgreSQL database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diameter.message import Avp, Message, MessageHeader  # noqa: E402
from diameter.message import constants as c  # noqa: E402
from throwaway_db import throwaway_postgres  # noqa: E402

from support.charging_world import UK, build_world  # noqa: E402
from support.diameter_fakes import FakeCharging  # noqa: E402
from voxbill.bootstrap import build  # noqa: E402
from voxbill.protocols.diameter import (  # noqa: E402
    DiameterOptions,
    DiameterThread,
    GyHandler,
    handler_for,
)
from voxbill.settings import Settings  # noqa: E402


def frame(code: int, avps: list[Avp], hop: int, app: int = 0) -> bytes:
    header = MessageHeader(command_flags=0x80, command_code=code, application_id=app)
    header.hop_by_hop_identifier = header.end_to_end_identifier = hop
    return Message(header, avps).as_bytes()


def origin() -> list[Avp]:
    return [
        Avp.new(c.AVP_ORIGIN_HOST, value=b"bench.client"),
        Avp.new(c.AVP_ORIGIN_REALM, value=b"client"),
    ]


def ccr(session: str, kind: int, number: int, hop: int, used: int | None = None) -> bytes:
    avps = [Avp.new(c.AVP_SESSION_ID, value=session), *origin()]
    avps += [
        Avp.new(c.AVP_DESTINATION_REALM, value=b"localdomain"),
        Avp.new(c.AVP_AUTH_APPLICATION_ID, value=4),
        Avp.new(c.AVP_SERVICE_CONTEXT_ID, value="32260@3gpp.org"),
        Avp.new(c.AVP_CC_REQUEST_TYPE, value=kind),
        Avp.new(c.AVP_CC_REQUEST_NUMBER, value=number),
    ]
    if kind == 1:
        ident = [
            Avp.new(c.AVP_SUBSCRIPTION_ID_TYPE, value=0),
            Avp.new(c.AVP_SUBSCRIPTION_ID_DATA, value="441000000001"),
        ]
        avps += [
            Avp.new(c.AVP_SUBSCRIPTION_ID, value=ident),
            Avp.new(c.AVP_CALLED_STATION_ID, value=UK),
        ]
    if used is not None:
        avps.append(Avp.new(c.AVP_USED_SERVICE_UNIT, value=[Avp.new(c.AVP_CC_TIME, value=used)]))
    return frame(272, avps, hop, app=4)


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> int:
    writer.write(data)
    await writer.drain()
    head = await reader.readexactly(20)
    body = await reader.readexactly(int.from_bytes(head[1:4], "big") - 20)
    answer = Message.from_bytes(head + body)
    return int(answer.result_code)


async def client(port: int, sessions: int, tag: str, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    cer = frame(257, [*origin(), Avp.new(c.AVP_AUTH_APPLICATION_ID, value=4)], 1)
    assert await exchange(reader, writer, cer) == 2001
    for n in range(sessions):
        session = f"bench;{tag};{n}"
        for data in (ccr(session, 1, 0, 2 * n + 2), ccr(session, 3, 1, 2 * n + 3, used=60)):
            start = time.perf_counter()
            result = await exchange(reader, writer, data)
            latencies.append(time.perf_counter() - start)
            assert result == 2001, result
    writer.close()


async def drive(port: int, sessions: int, clients: int) -> list[float]:
    latencies: list[float] = []
    each = sessions // clients
    await asyncio.gather(*(client(port, each, f"{k}", latencies) for k in range(clients)))
    return latencies


def run(url: str | None, label: str, sessions: int, clients: int) -> None:
    """``url`` None: the door alone, over a fake charging service (protocol ceiling)."""
    options = DiameterOptions(port=0)
    container = world = None
    if url is None:
        handler = GyHandler(FakeCharging(limit=10**6))
        options = options.bound([1])  # loopback peers, bound to a (fake) operator
    else:
        container = build(Settings(database_url=url), migrate=True)
        world = build_world(container, customer_funds="1000000", reseller_funds="10000000")
        handler = handler_for(container, options)
        options = options.bound(container.accounts.operator_ids())
    door = DiameterThread(options, handler).start()
    try:
        cpu0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        latencies = asyncio.run(drive(door.port, sessions, clients))
        wall = time.perf_counter() - wall0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        door.stop()
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    done = clients * (sessions // clients)
    latencies.sort()
    p50, p99 = (latencies[int(len(latencies) * q)] * 1000 for q in (0.5, 0.99))
    print(
        f"{label}: {done} sessions (CCR-I + CCR-T) over {clients} connections in {wall:.1f} s"
        f" = {done / wall:.0f} sessions/s; CCR p50 {p50:.1f} ms, p99 {p99:.1f} ms;"
        f" CPU {cpu:.1f} s"
        + ("" if world is None else f"; customer balance {world.balance(world.customer)}")
    )
    if container is not None:
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    run(None, "door only (fake charging)", args.sessions, args.clients)
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "SQLite", args.sessions, args.clients)
    if args.postgres_url:
        with throwaway_postgres(args.postgres_url) as url:
            run(url, "PostgreSQL", args.sessions, args.clients)


if __name__ == "__main__":
    main()
