"""Kamailio + cnxcc vs voxbill's SIP redirect server under the same sipp load.

    .venv/bin/python bench/bench_kamailio_cnxcc.py [--rates 100,1000,3000,6000] [--seconds 5]
        [--children 4] [--cnxcc-children 1] [--systems kamailio-cnxcc,voxbill-invite,...]

Each system answers ``tests/e2e/sipp/bench_invite.xml`` (INVITE → 302 → ACK, sipp's
``-trace_rtt`` times INVITE → 302) at every rate of the ladder, ``rate × seconds``
calls per rung rounded up to a multiple of 1,000 (sipp dumps ``-trace_rtt`` by the
1,000, as ``bench_sip.py`` sets it). A system that answers fewer than 90 % of the
offered calls per second at one rung is not pushed to the higher rungs: it is saturated,
and sipp's retransmissions would only measure the queue.

* ``kamailio-cnxcc``: ``docs/integrations/kamailio/kamailio-cnxcc-bench.cfg``: caller's
  credit from an htable, ``cnxcc_set_max_credit`` + dialog, stateful 302 with two
  Contacts; everything in Kamailio's shared memory, nothing durable. One SIP worker
  (``--cnxcc-children``): Debian's 5.6.3 cnxcc corrupts shared memory and the worker
  dies (signal 6/8/11) at 1,000 INVITEs/s of one caller with 2 or 4 workers.
* ``kamailio-dialog``: the same without cnxcc (``-A WITHOUT_CNXCC``): htable, dialog,
  stateful 302, ``--children`` workers.
* ``kamailio-options``: the same config answering OPTIONS → 200 statelessly, Kamailio's
  transport as a reference.
* ``voxbill-invite``: voxbill's real door (routes + ``ChargingService.start``: a durable
  session with holds at every level, SQLite), as ``bench/bench_sip.py --mode invite``.
* ``voxbill-options``: voxbill's transport alone (OPTIONS → 200).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sip import bench_voxbill, run_sipp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "docs" / "integrations" / "kamailio" / "kamailio-cnxcc-bench.cfg"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SYSTEMS = (
    "kamailio-cnxcc",
    "kamailio-dialog",
    "kamailio-options",
    "voxbill-invite",
    "voxbill-options",
)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_options(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        local = sock.getsockname()[1]
        probe = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bKprobe{time.time_ns()}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{time.time_ns()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(probe.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(65535).startswith(b"SIP/2.0 200")
        except OSError:
            return False


@contextmanager
def kamailio(
    work: Path, children: int, defines: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """Kamailio on a free UDP port in the foreground; stopped (its process group) after."""
    port = free_udp_port()
    runtime = work / f"kamailio-{port}"
    runtime.mkdir()
    log = runtime / "kamailio.log"
    command = [
        KAMAILIO,
        "-f",
        str(CONFIG),
        "-DD",
        "-E",
        "-P",
        str(runtime / "kamailio.pid"),
        "-Y",
        str(runtime),
        "-w",
        str(runtime),
        "-m",
        "256",
        "-A",
        f"LISTEN=udp:127.0.0.1:{port}",
        "-A",
        f"CHILDREN={children}",
        *(arg for define in defines for arg in ("-A", define)),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 20
        while not answers_options(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"kamailio did not start: {log.read_text()[-2000:]}")
        process.port = port  # type: ignore[attr-defined]
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def bench_kamailio(
    scenario: str, rate: int, calls: int, work: Path, children: int, *defines: str
) -> dict[str, float]:
    with kamailio(work, children, defines) as process:
        figures = run_sipp(process.port, scenario, rate, calls, work)  # type: ignore[attr-defined]
        figures["crashed"] = float(process.poll() is not None or _worker_died(work))
        return figures


def _worker_died(work: Path) -> bool:
    return any(
        "exited by a signal" in log.read_text(errors="replace")
        for log in work.glob("kamailio-*/kamailio.log")
    )


def bench(
    system: str, rate: int, calls: int, work: Path, args: argparse.Namespace
) -> dict[str, float]:
    rung = work / f"{system}-{rate}"
    rung.mkdir()
    if system == "kamailio-cnxcc":
        return bench_kamailio("bench_invite", rate, calls, rung, args.cnxcc_children)
    if system == "kamailio-dialog":
        return bench_kamailio("bench_invite", rate, calls, rung, args.children, "WITHOUT_CNXCC")
    if system == "kamailio-options":
        return bench_kamailio("bench_options", rate, calls, rung, args.children)
    mode = system.removeprefix("voxbill-")
    return bench_voxbill(mode, f"sqlite:///{rung / 'bench.db'}", rate, calls, rung)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,1000,3000,6000")
    parser.add_argument("--seconds", type=int, default=5, help="calls per rung ≈ rate × this")
    parser.add_argument("--children", type=int, default=4, help="kamailio UDP workers")
    parser.add_argument(
        "--cnxcc-children", type=int, default=1, help="kamailio UDP workers with cnxcc"
    )
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    systems = [s for s in args.systems.split(",") if s]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems: {', '.join(sorted(unknown))}")
    rows: list[tuple[str, int, dict[str, float] | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for system in systems:
            saturated = False
            for rate in rates:
                if saturated:
                    rows.append((system, rate, None))
                    continue
                print(f"{system} at {rate}/s ...", flush=True)
                calls = -(-rate * args.seconds // 1000) * 1000
                figures = bench(system, rate, calls, work, args)
                rows.append((system, rate, figures))
                saturated = figures["per_second"] < 0.9 * rate or bool(figures.get("crashed"))
    print(f"\nsipp INVITE→302→ACK (OPTIONS for the transport rows), {args.seconds} s per rung")
    header = f"{'system':18} {'offered/s':>9} {'answered':>9} {'failed':>7} {'per s':>7}"
    print(f"{header} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for system, rate, figures in rows:
        if figures is None:
            print(f"{system:18} {rate:9d}   (not run: saturated at a lower rate)")
            continue
        print(
            f"{system:18} {rate:9d} {figures['calls']:9.0f} {figures['failed']:7.0f} "
            f"{figures['per_second']:7.0f} {figures['p50_ms']:7.2f} {figures['p99_ms']:7.2f} "
            f"{figures['max_ms']:7.0f}"
            + ("  KAMAILIO WORKER CRASHED" if figures.get("crashed") else "")
        )


if __name__ == "__main__":
    main()
