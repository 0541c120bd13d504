"""Charging in process (no HTTP): CPU per authorize and per start + stop, one thread;
then calls/s from many threads on ONE balance, group commit on and off.

    .venv/bin/python bench/bench_charging_inproc.py                     # SQLite
    .venv/bin/python bench/bench_charging_inproc.py --postgres          # a throwaway PG database
    .venv/bin/python bench/bench_charging_inproc.py --threads 16 --seconds 5
    .venv/bin/python bench/bench_charging_inproc.py --counts [--postgres]   # deterministic

``--counts`` prints what load cannot blur: SQL statements executed and Python function
calls per authorize + start + stop (cProfile), after warm-up, and exits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from throwaway_db import throwaway_postgres  # noqa: E402

from support.charging_world import UK, build_world  # noqa: E402
from voxbill.bootstrap import Container, build  # noqa: E402
from voxbill.settings import Settings  # noqa: E402

PG_URL = os.environ.get(
    "VOXBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def database(postgres: bool) -> Iterator[str]:
    if not postgres:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    with throwaway_postgres(PG_URL) as url:
        yield url


def serial(container: Container, count: int) -> None:
    world = build_world(container, customer_funds="100000", reseller_funds="1000000")
    charging = container.charging
    for _ in range(50):  # warm caches and prepared statements
        charging.authorize(world.customer_caller, UK)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        charging.authorize(world.customer_caller, UK)
    print(
        f"  authorize:    {(time.perf_counter() - wall) / count * 1000:6.2f} ms wall, "
        f"{(time.process_time() - cpu) / count * 1000:6.2f} ms CPU"
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        session = uuid.uuid4().hex
        charging.start(session, world.customer_caller, UK, interim=True)
        charging.stop(session, 60)
    print(
        f"  start + stop: {(time.perf_counter() - wall) / count * 1000:6.2f} ms wall, "
        f"{(time.process_time() - cpu) / count * 1000:6.2f} ms CPU"
    )


def counts(container: Container, count: int) -> None:
    """Statements and function calls per authorize + start + stop (deterministic)."""
    import cProfile
    import pstats

    from sqlalchemy import event

    world = build_world(container, customer_funds="100000", reseller_funds="1000000")
    charging = container.charging

    def call() -> None:
        session = uuid.uuid4().hex
        charging.authorize(world.customer_caller, UK)
        charging.start(session, world.customer_caller, UK, interim=True)
        charging.stop(session, 60)

    for _ in range(50):  # warm caches and prepared statements
        call()
    executed = [0]

    def seen(*_: object) -> None:
        executed[0] += 1

    from voxbill.storage import prepared  # the hot path's own statements

    engine = container.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    first = prepared.executions.value
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        call()
    profile.disable()
    executed[0] += prepared.executions.value - first
    event.remove(engine, "before_cursor_execute", seen)
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    print(
        f"  authorize + start + stop: {executed[0] / count:6.2f} statements, "
        f"{calls / count:8.0f} function calls per iteration ({count} iterations)"
    )


def threaded(url: str, limit: int, threads: int, seconds: float) -> None:
    container = build(Settings(database_url=url, commit_group_limit=limit), migrate=True)
    try:
        world = build_world(container, customer_funds="1000000", reseller_funds="10000000")
        charging = container.charging
        stop_at = time.monotonic() + seconds
        counts = [0] * threads

        def run(index: int) -> None:
            while time.monotonic() < stop_at:
                session = uuid.uuid4().hex
                charging.start(session, world.customer_caller, UK, interim=True)
                charging.stop(session, 60)
                counts[index] += 1

        began, cpu = time.perf_counter(), time.process_time()
        workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed, calls = time.perf_counter() - began, sum(counts)
        group = charging._group
        print(
            f"  {threads} threads, ONE balance, commit group limit {limit:>2}: "
            f"{calls / elapsed:6.0f} calls/s, {(time.process_time() - cpu) / calls * 1000:5.2f}"
            f" ms CPU/call, {group.steps} steps in {group.batches} batches; "
            f"ledger verify: {'ok' if not container.ledger.verify() else 'FAILED'}"
        )
    finally:
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--counts", action="store_true", help="deterministic counts only")
    args = parser.parse_args()
    dialect = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{dialect}, in process, 2 CPUs, load average {os.getloadavg()[0]:.2f}")
    if args.counts:
        with database(args.postgres) as url:
            container = build(Settings(database_url=url), migrate=True)
            try:
                counts(container, args.count)
            finally:
                container.close()
        return
    with database(args.postgres) as url:
        container = build(Settings(database_url=url), migrate=True)
        try:
            serial(container, args.count)
        finally:
            container.close()
    for limit in (1, 64):
        with database(args.postgres) as url:
            threaded(url, limit, args.threads, args.seconds)


if __name__ == "__main__":
    main()
