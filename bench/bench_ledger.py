"""Ledger adjustments per second: one hot balance, and random balances, SQLite and PostgreSQL.

    .venv/bin/python bench/bench_ledger.py                       # SQLite, and PostgreSQL
    .venv/bin/python bench/bench_ledger.py --seconds 3 --threads 8
    VOXBILL_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  # default

Each adjustment is a full durable ledger transaction through ``LedgerService.adjust``:
lock the balance row, check the floor, append two legs, update the maintained balance,
check thresholds, commit. "hot" sends every adjustment to one balance (the worst case:
all writers queue on one row lock); "random" spreads them over 1,000 balances. PostgreSQL
runs on a throwaway database created and dropped by the script. ``ledger verify`` runs
after each dialect and must find nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text
from throwaway_db import throwaway_postgres  # noqa: E402

from voxbill.bootstrap import Container, build
from voxbill.settings import Settings
from voxbill.storage.schema.accounts import accounts

PG_URL = os.environ.get(
    "VOXBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BALANCES = 1000


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'bench.db'}"


@contextmanager
def postgres_url() -> Iterator[str]:
    with throwaway_postgres(PG_URL) as url:
        yield url


def open_accounts(container: Container, count: int) -> list[int]:
    now = datetime.now(UTC)
    rows = [
        {
            "path": "/",
            "depth": 0,
            "kind": "customer",
            "name": f"bench {i}",
            "billing": "prepaid",
            "currency": "EUR",
            "credit_limit": Decimal(0),
            "block_balance": Decimal(0),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with container.db.transaction() as conn:
        conn.execute(insert(accounts), rows)
        ids = [int(r[0]) for r in conn.execute(text("SELECT id FROM accounts ORDER BY id"))]
    for account in ids:
        container.ledger.top_up(account, Decimal("1000000"), actor="bench")
    return ids


def run(container: Container, targets: list[int], threads: int, seconds: float) -> float:
    """Adjustments per second with ``threads`` writers for ``seconds``."""
    stop = time.monotonic() + seconds
    counts = [0] * threads
    start_line = threading.Barrier(threads + 1)

    def writer(slot: int) -> None:
        rng = random.Random(slot)
        start_line.wait()
        while time.monotonic() < stop:
            amount = Decimal("0.01") if rng.random() < 0.5 else Decimal("-0.01")
            container.ledger.adjust(rng.choice(targets), amount, "bench", actor="bench")
            counts[slot] += 1

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    start_line.wait()
    began = time.monotonic()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - began)


def bench(dialect: str, url: str, threads: int, seconds: float) -> None:
    container = build(Settings(database_url=url), migrate=True)
    try:
        ids = open_accounts(container, BALANCES)
        for label, targets, writers in (
            ("hot, 1 writer", ids[:1], 1),
            (f"hot, {threads} writers", ids[:1], threads),
            (f"random, {threads} writers", ids, threads),
        ):
            rate = run(container, targets, writers, seconds)
            print(f"{dialect:<10} {label:<22} {rate:>9,.0f} adjustments/s", flush=True)
        problems = container.ledger.verify()
        print(f"{dialect:<10} ledger verify: {problems or 'ok'}", flush=True)
    finally:
        container.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.seconds:g} s per run")
    with sqlite_url() as url:
        bench("sqlite", url, args.threads, args.seconds)
    if not args.no_postgres:
        with postgres_url() as url:
            bench("postgresql", url, args.threads, args.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
