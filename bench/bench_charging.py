"""Charging over loopback HTTP against a real ``voxbill serve``: authorize throughput and
latency, complete calls (start + stop) per second on many balances and on ONE balance.

    .venv/bin/python bench/bench_charging.py                    # SQLite, then PostgreSQL
    .venv/bin/python bench/bench_charging.py --dialect postgresql --seconds 5 --threads 16
    VOXBILL_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  # default

The load generator (httpx, one keep-alive client per thread) runs on the same machine
as the server and takes CPU from it. PostgreSQL runs on a throwaway database created
and dropped by the script; ``voxbill ledger verify`` runs after each dialect.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.voxbill_process import runner, sqlite_env, start_server, stop_server  # noqa: E402

PG_URL = os.environ.get(
    "VOXBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DECK = "prefix,rate,connect_fee,initial_increment,increment,destination\n44,0.10,0.01,30,6,UK\n"
CUSTOMERS = 200
CALLEE = "+442079460000"


@contextmanager
def database(dialect: str, directory: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"vbbench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_URL.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load(
    threads: int,
    seconds: float,
    make: Callable[[httpx.Client], Callable[[], None]],
    base: str,
    key: str,
) -> tuple[int, list[float]]:
    """Run ``make(client)()`` in ``threads`` loops for ``seconds``: (count, latencies)."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    stop_at = time.monotonic() + seconds
    errors: list[str] = []

    def worker(i: int) -> None:
        with httpx.Client(
            base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client:
            step = make(client)
            while time.monotonic() < stop_at:
                began = time.perf_counter()
                try:
                    step()
                except AssertionError as exc:
                    errors.append(str(exc))
                    return
                latencies[i].append(time.perf_counter() - began)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise SystemExit(f"bench failed: {errors[0]}")
    flat = [x for lat in latencies for x in lat]
    return len(flat), flat


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def setup(base: str, key: str) -> list[str]:
    """CUSTOMERS funded customers, each with an ANI; returns the ANIs."""
    anis = []
    with httpx.Client(
        base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as c:
        for n in range(CUSTOMERS):
            account = c.post(
                "/accounts", json={"name": f"C{n}", "kind": "customer", "rate_plan": "retail"}
            ).json()["id"]
            ani = f"+4410000{n:05d}"
            c.post(f"/accounts/{account}/identifiers", json={"type": "ani", "value": ani})
            c.post(f"/accounts/{account}/topups", json={"amount": "100000.00"})
            anis.append(ani)
    return anis


def run_dialect(dialect: str, seconds: float, threads: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with database(dialect, directory) as url:
            env = sqlite_env(directory)
            env["VOXBILL_DATABASE_URL"] = url
            run = runner(env, directory)
            key = json.loads(
                run("init", "--operator", "Bench", "--currency", "USD", "--json", check=True).stdout
            )["api_key"]
            (directory / "deck.csv").write_text(DECK)
            run(
                "rates",
                "import",
                str(directory / "deck.csv"),
                "--plan",
                "retail",
                "--currency",
                "USD",
                check=True,
            )
            base, process = start_server(env, directory, "--workers", str(workers))
            try:
                anis = setup(base, key)
                counter = itertools.count()

                def authorize(client: httpx.Client) -> Callable[[], None]:
                    def step() -> None:
                        ani = anis[next(counter) % len(anis)]
                        r = client.post("/calls/authorize", json={"caller": ani, "callee": CALLEE})
                        assert r.status_code == 200, r.text
                        assert r.json()["allowed"], r.text

                    return step

                def calls(spread: bool) -> Callable[[httpx.Client], Callable[[], None]]:
                    def make(client: httpx.Client) -> Callable[[], None]:
                        def step() -> None:
                            n = next(counter)
                            ani = anis[n % len(anis)] if spread else anis[0]
                            sid = f"b{n}"
                            body = {
                                "session_id": sid,
                                "caller": ani,
                                "callee": CALLEE,
                                "interim": True,
                            }
                            r = client.post("/calls", json=body)
                            assert r.status_code == 201, r.text
                            r = client.post(f"/calls/{sid}/stop", json={"duration": 40})
                            assert r.status_code == 200, r.text

                        return step

                    return make

                for name, make in (
                    ("authorize", authorize),
                    ("calls, 200 balances", calls(True)),
                    ("calls, ONE balance", calls(False)),
                ):
                    count, lat = load(threads, seconds, make, base, key)
                    rate = count / seconds
                    print(
                        f"{dialect:10} {name:22} {rate:8.0f}/s  p50 {pct(lat, 0.5):6.2f} ms  "
                        f"p99 {pct(lat, 0.99):6.2f} ms  "
                        f"({count} in {seconds:.0f} s, {threads} threads, {workers} workers)",
                        flush=True,
                    )
            finally:
                stop_server(process)
            verify = run("ledger", "verify")
            print(f"{dialect:10} ledger verify: exit {verify.returncode}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="voxbill serve --workers")
    args = parser.parse_args()
    dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
    for dialect in dialects:
        run_dialect(dialect, args.seconds, args.threads, args.workers)


if __name__ == "__main__":
    main()
