"""SIP redirect server under sipp load: answers/s and response-time percentiles.

    .venv/bin/python bench/bench_sip.py [--mode invite|authorize|options|all] [--rate 4000]
        [--calls 20000] [--postgres ADMIN_URL]

voxbill's SIP server runs in this process (its own thread and event loop, as in
``voxbill serve --sip``) over a seeded database; ``sipp`` (a separate process) sends
INVITEs at ``--rate`` per second (``tests/e2e/sipp/bench_invite.xml``: INVITE → 302 →
ACK) and records each INVITE→302 time with ``-trace_rtt``. Modes:

* ``invite``: the real door: routes + ``ChargingService.start`` (a durable session and
  holds per call);
* ``authorize``: routes + ``ChargingService.authorize`` only (read-only), to show
  what the database write costs;
* ``options``: OPTIONS → 200, the transport's own capacity (no database).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from throwaway_db import throwaway_postgres  # noqa: E402

from support.sip_world import CALLER, UK, build_sip_world  # noqa: E402
from voxbill.bootstrap import Container, build  # noqa: E402
from voxbill.protocols.sip.door import Answer, RedirectDoor  # noqa: E402
from voxbill.protocols.sip.message import SipRequest  # noqa: E402
from voxbill.protocols.sip.processes import SipProcesses  # noqa: E402
from voxbill.protocols.sip.running import SipThread  # noqa: E402
from voxbill.protocols.sip.server import SipServer  # noqa: E402
from voxbill.settings import Settings  # noqa: E402

SCENARIOS = ROOT / "tests" / "e2e" / "sipp"


class AuthorizeOnlyDoor(RedirectDoor):
    """Routes and a read-only decision: the 302 without a session (bench only)."""

    def invite(self, request: SipRequest, source_ip: str, operator_id: int | None = None) -> Answer:
        caller = self.caller_of(request, source_ip, operator_id)
        query = self._routing.for_caller(caller, request.callee)
        decision = self._charging.authorize(caller, request.callee)
        if query is None or not query.routes or not decision.allowed:
            return Answer(404, "Not Found")
        contacts = tuple(("Contact", f"<{r.contact(UK)}>") for r in query.routes)
        return Answer(302, "Moved Temporarily", contacts)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def run_sipp(
    port: int, scenario: str, rate: int, calls: int, work: Path, transport: str = "u1"
) -> dict[str, float]:
    rtt = work / f"{scenario}-rtt.csv"
    stats = work / f"{scenario}-stat.csv"
    command = [
        shutil.which("sipp") or "/usr/bin/sipp",
        f"127.0.0.1:{port}",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-i",
        "127.0.0.1",
        "-s",
        UK,
        "-key",
        "caller",
        CALLER.lstrip("+"),
        "-r",
        str(rate),
        "-m",
        str(calls),
        "-t",
        transport,
        "-max_socket",
        "4000",
        "-l",
        "2000",
        "-trace_rtt",
        "-rtt_freq",
        "1000",
        "-trace_stat",
        "-stf",
        str(stats),
        "-timeout",
        "120s",
        "-nostdin",
    ]
    started = time.monotonic()
    subprocess.run(command, cwd=work, capture_output=True, check=False, timeout=300)
    elapsed = time.monotonic() - started
    times: list[float] = []
    for path in work.glob(f"{scenario}_*_rtt.csv"):
        with path.open() as handle:
            for row in csv.reader(handle, delimiter=";"):
                if row and row[0][:1].isdigit():
                    times.append(float(row[1]))
        path.rename(rtt)
    print(f"  {scenario}: {len(times)} response times, {sum(t > 100 for t in times)} over 100 ms")
    successful, failed, duration = _final_counts(stats)
    return {
        "calls": successful,
        "failed": failed,
        "per_second": successful / duration if duration else float("nan"),
        "p50_ms": percentile(times, 0.50),
        "p99_ms": percentile(times, 0.99),
        "max_ms": max(times) if times else float("nan"),
        "wall_s": elapsed,
    }


def _final_counts(stats: Path) -> tuple[float, float, float]:
    """(successful, failed, elapsed seconds) from the last row of sipp's -trace_stat."""
    with stats.open() as handle:
        rows = [row for row in csv.reader(handle, delimiter=";") if row]
    header, last = rows[0], rows[-1]
    value = dict(zip(header, last, strict=False))
    hours, minutes, seconds = value["ElapsedTime(C)"].split(":")[:3]
    elapsed = int(hours) * 3600 + int(minutes) * 60 + float(seconds.replace(",", "."))
    return float(value["SuccessfulCall(C)"]), float(value["FailedCall(C)"]), elapsed


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new empty database beside ``admin_url``'s, dropped afterwards."""
    with throwaway_postgres(admin_url) as url:
        yield url


def seeded(url: str) -> Container:
    container = build(Settings(database_url=url), migrate=True)
    world = build_sip_world(container)
    world.patch(world.customer, max_call_duration=60)  # each call holds 0.10
    world.fund(world.customer, "1000000")
    world.fund(world.reseller, "1000000")
    return container


def bench_processes(
    url: str, processes: int, rate: int, calls: int, work: Path
) -> dict[str, float]:
    """The real door in ``processes`` processes on one port (``--sip-processes``); sipp
    sends each call from its own socket so that the kernel spreads them."""
    seeded(url).close()
    os.environ["VOXBILL_DATABASE_URL"] = url
    os.environ["VOXBILL_SWEEPER_INTERVAL_SECONDS"] = "0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    doors = SipProcesses("127.0.0.1", port, processes).start()
    try:
        return run_sipp(port, "bench_invite", rate, calls, work, transport="un")
    finally:
        doors.stop()


def bench_voxbill(mode: str, url: str, rate: int, calls: int, work: Path) -> dict[str, float]:
    container = seeded(url)
    door_type = AuthorizeOnlyDoor if mode == "authorize" else RedirectDoor
    server = SipServer(door_type(container.charging, container.routing), port=0)
    thread = SipThread(server).start()
    try:
        scenario = "bench_options" if mode == "options" else "bench_invite"
        return run_sipp(server.port, scenario, rate, calls, work)
    finally:
        thread.stop()
        container.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="all", choices=["invite", "authorize", "options", "all"])
    parser.add_argument("--rate", type=int, default=4000)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        default=None,
        help="run on a fresh PostgreSQL database created (and dropped) through ADMIN_URL",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="invite mode: the door in N processes on one port (sipp: one socket per call)",
    )
    args = parser.parse_args()
    modes = ["options", "authorize", "invite"] if args.mode == "all" else [args.mode]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results: dict[str, dict[str, float] | None] = {}
        if args.processes > 1:
            name = f"invite x{args.processes} proc"
            if args.postgres:
                with fresh_postgres(args.postgres) as url:
                    results[f"{name} (PG)"] = bench_processes(
                        url, args.processes, args.rate, args.calls, work
                    )
            else:
                url = f"sqlite:///{work / 'processes.db'}"
                results[f"{name} (SQLite)"] = bench_processes(
                    url, args.processes, args.rate, args.calls, work
                )
            modes = []
        for mode in modes:
            if args.postgres:
                with fresh_postgres(args.postgres) as url:
                    results[f"voxbill {mode} (PostgreSQL)"] = bench_voxbill(
                        mode, url, args.rate, args.calls, work
                    )
            else:
                url = f"sqlite:///{work / f'{mode}.db'}"
                results[f"voxbill {mode} (SQLite)"] = bench_voxbill(
                    mode, url, args.rate, args.calls, work
                )
    print(f"sipp -r {args.rate} -m {args.calls} (2 cores, loopback)")
    print(f"{'':28} {'answered':>9} {'failed':>7} {'per s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for name, figures in results.items():
        if figures is None:
            continue
        print(
            f"{name:28} {figures['calls']:9.0f} {figures['failed']:7.0f} "
            f"{figures['per_second']:8.0f} {figures['p50_ms']:7.2f} {figures['p99_ms']:7.2f}"
        )


if __name__ == "__main__":
    main()
