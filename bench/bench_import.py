"""Importing a 1M-row rate deck into SQLite and PostgreSQL, through the CLI's own code path.

    .venv/bin/python bench/bench_import.py            # 1M rows, SQLite and PostgreSQL
    .venv/bin/python bench/bench_import.py --quick    # 100k rows
    .venv/bin/python bench/bench_import.py --cli --merge-all   # also the slower extras

Writes the deck to a temporary directory, then for each database (a fresh SQLite file;
a fresh PostgreSQL database created on ``--postgres-url`` and dropped afterwards, skipped
with a message when the server is unreachable) times what ``voxbill rates import`` does:
reading the file (``read_deck_file``), then the import transaction (``import_deck``):
first import, re-import with ``--replace``, and a merge re-import of 10k changed rows.
With ``--merge-all``, also a merge re-import of every row; with ``--cli``, the first
import is also run as a real ``voxbill rates import`` subprocess (end-to-end wall time).
CPU seconds are printed next to wall times: the machine may be shared.
Target (issue 2): 1M rows in <= 30 s on SQLite.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import create_engine, text  # noqa: E402
from synthetic import DECK_HEADER, DeckLine, deck_lines  # noqa: E402

from voxbill.bootstrap import build  # noqa: E402
from voxbill.cli.rates import read_deck_file  # noqa: E402
from voxbill.services.rating.imports import PlanOptions  # noqa: E402
from voxbill.settings import Settings  # noqa: E402

IMPORT_TARGET_S = 30.0
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MERGE_ROWS = 10_000


def _changes(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind}" for kind, n in sorted(counts.items())) or "no price changes"


def write_deck(path: Path, lines: list[DeckLine]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(DECK_HEADER + "\n")
        for line in lines:
            handle.write(line.csv() + "\n")


def changed(lines: list[DeckLine], count: int) -> list[DeckLine]:
    """``count`` rows of the deck, spread over it, with a new price."""
    step = max(1, len(lines) // count)
    out = []
    for line in lines[::step][:count]:
        fields = {name: getattr(line, name) for name in DeckLine.__slots__}
        fields["rate"] = f"{line.rate}1" if "." in line.rate else f"{line.rate}.1"
        out.append(DeckLine(**fields))
    return out


def bench_database(
    url: str, label: str, deck: Path, merge: Path, rows: int, *, cli: bool, merge_all: bool
) -> None:
    print(f"\n== {label}: {rows:,} rows", flush=True)
    env = dict(os.environ, VOXBILL_DATABASE_URL=url)
    if cli:
        command = [
            str(Path(sys.executable).with_name("voxbill")),
            *("rates", "import", str(deck), "--plan", "cli", "--currency", "USD", "--json"),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        begin = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - begin
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        verdict = "met" if wall <= IMPORT_TARGET_S else "MISSED"
        print(
            f"  {'voxbill rates import (subprocess)':<30} wall {wall:6.2f} s  "
            f"(CPU {cpu:6.2f} s)  target <= {IMPORT_TARGET_S:.0f} s: {verdict}",
            flush=True,
        )
    container = build(Settings(database_url=url), migrate=True)
    service = container.rate_import
    options = PlanOptions(currency="USD")
    try:

        def load(path: Path, *, replace: bool, what: str) -> None:
            zone = service.plan_timezone(None, "bench", options)
            begin, cpu_begin = time.perf_counter(), time.process_time()
            parsed = read_deck_file(path, zone, show_progress=False)
            parse, cpu_parse = time.perf_counter() - begin, time.process_time() - cpu_begin
            report = service.import_deck(
                parsed,
                operator_id=None,  # a fresh database: no operator yet
                plan="bench",
                source=str(path),
                options=options,
                replace=replace,
            )
            total, cpu = time.perf_counter() - begin, time.process_time() - cpu_begin
            assert report.rows_imported == parsed.rows_read, report
            print(
                f"  {what:<30} parse {parse:6.2f} s  DB write {total - parse:6.2f} s  "
                f"total {total:6.2f} s  (CPU here {cpu_parse:5.2f} + {cpu - cpu_parse:5.2f} s)"
                f"  {_changes(report.changes)}",
                flush=True,
            )

        load(deck, replace=False, what="first import")
        load(deck, replace=True, what="re-import --replace")
        load(merge, replace=False, what=f"merge {MERGE_ROWS // 1000}k changed rows")
        if merge_all:
            load(deck, replace=False, what="merge re-import of every row")
    finally:
        container.close()


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str | None]:
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"vbbench_{uuid.uuid4().hex[:10]}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means: no PostgreSQL here
        print(f"\n== PostgreSQL: skipped ({admin_url} unreachable: {type(exc).__name__})")
        yield None
        return
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k rows instead of 1M")
    parser.add_argument("--rows", type=int, help="deck size (default 1,000,000)")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--cli", action="store_true", help="also import with the CLI")
    parser.add_argument("--merge-all", action="store_true", help="also merge every row again")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="voxbill-bench-") as tmp:
        deck, merge = Path(tmp, "deck.csv"), Path(tmp, "merge.csv")
        lines = list(deck_lines(rows))[:rows]
        write_deck(deck, lines)
        write_deck(merge, changed(lines, MERGE_ROWS))
        del lines
        size = deck.stat().st_size / 2**20
        print(f"deck: {rows:,} rows, {size:.0f} MiB CSV, written to {tmp}")
        sqlite_url = f"sqlite:///{Path(tmp, 'bench.db')}"
        extras = {"cli": args.cli, "merge_all": args.merge_all}
        bench_database(sqlite_url, "SQLite", deck, merge, rows, **extras)
        if not args.no_postgres:
            with fresh_postgres(args.postgres_url) as pg_url:
                if pg_url is not None:
                    bench_database(pg_url, "PostgreSQL", deck, merge, rows, **extras)


if __name__ == "__main__":
    main()
