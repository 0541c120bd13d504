"""Charging over loopback HTTP against a real ``voxbill serve``: authorize throughput and
latency, complete calls (start + stop) per second on many balances and on ONE balance,
with the CPU each side spent.

    .venv/bin/python bench/bench_charging.py                    # SQLite, then PostgreSQL
    .venv/bin/python bench/bench_charging.py --dialect both --seconds 5 --workers 2
    .venv/bin/python bench/bench_charging.py --dialect postgresql --workload calls \\
        --connections 64 --client-procs 2 --json
    .venv/bin/python bench/bench_charging.py --dialect sqlite --workload authorize \
        --rate 2000 --connections 64                      # latency at a given offered load
    .venv/bin/python bench/bench_charging.py --selftest     # the load generator's ceiling
    VOXBILL_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres  # default

The load generator (``bench/http_load.py``: asyncio/uvloop, raw keep-alive connections,
one request at a time per connection; back to back, or with ``--rate`` on a fixed
schedule whose latencies count from when each operation was due) runs in its own forked
process(es), so its CPU is measured apart. Around each workload the script reads utime +
stime from /proc of the server (``voxbill serve``'s process and its children: the
uvicorn workers), of every process named ``postgres`` (all of them, whoever they serve),
and of the load processes, plus the machine's idle share from /proc/stat; it prints CPU
milliseconds per operation and per HTTP request. PostgreSQL runs on a throwaway database
created and dropped by the script; ``voxbill ledger verify`` runs after each dialect.
The setup (200 funded customers) goes through httpx and is not measured.

``--selftest`` points the load generator at a trivial uvicorn app (uvloop + httptools,
a raw ASGI app answering ``{}``) started by the script: the client's own ceiling.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from http_load import (  # noqa: E402
    OP,
    LoadResult,
    Session,
    Step,
    Target,
    Workload,
    connections_by_pid,
    cpu_of,
    machine_times,
    pids_named,
    process_tree,
    run_load,
)
from throwaway_db import throwaway_postgres  # noqa: E402

from support.voxbill_process import runner, sqlite_env, start_server, stop_server  # noqa: E402

PG_URL = os.environ.get(
    "VOXBILL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
DECK = "prefix,rate,connect_fee,initial_increment,increment,destination\n44,0.10,0.01,30,6,UK\n"
CUSTOMERS = 200
CALLEE = "+442079460000"
WORKLOADS = ("authorize", "calls", "calls-one")


def say(line: str) -> None:
    """Human output: stdout, or stderr when stdout carries the JSON."""
    print(line, file=sys.stderr if JSON_MODE else sys.stdout, flush=True)


JSON_MODE = False


@contextmanager
def database(dialect: str, directory: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    with throwaway_postgres(PG_URL) as url:
        yield url


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


# --- workloads: make(session) -> step, run in the load process ------------------------


def authorize_workload(target: Target, anis: list[str]) -> Workload:
    """``POST /calls/authorize`` for the ANIs in turn; 200 with ``allowed`` true."""
    requests = [
        target.encode(
            "POST",
            "/api/v1/calls/authorize",
            json.dumps({"caller": ani, "callee": CALLEE}, separators=(",", ":")).encode(),
        )
        for ani in anis
    ]

    def make(session: Session) -> Step:
        turn = itertools.cycle(requests[session.index % len(requests) :] + requests)

        async def step() -> bool:
            body = await session.send("authorize", next(turn), 200)
            if body is None:
                return False
            if b'"allowed":true' not in body:
                session.recorder.error("200 not allowed", body)
                return False
            return True

        return step

    return make


def calls_workload(target: Target, anis: list[str], prefix: str) -> Workload:
    """Start (201) then stop (200) a call with a unique session id; ``anis`` in turn."""
    start_path = "/api/v1/calls"

    def make(session: Session) -> Step:
        counter = itertools.count()
        ani_turn = itertools.cycle(anis[session.index % len(anis) :] + anis)
        tag = f"{prefix}-{session.run}-{session.index}-"

        async def step() -> bool:
            sid = f"{tag}{next(counter)}"
            body = (
                f'{{"session_id":"{sid}","caller":"{next(ani_turn)}",'
                f'"callee":"{CALLEE}","interim":true}}'
            ).encode()
            if await session.send("start", target.encode("POST", start_path, body), 201) is None:
                return False
            stop = target.encode("POST", f"/api/v1/calls/{sid}/stop", b'{"duration":40}')
            return await session.send("stop", stop, 200) is not None

        return step

    return make


def phase_workload(target: Target, anis: list[str], prefix: str, phase: str) -> Workload:
    """One endpoint alone, over the same sessions in every phase: ``start`` (201, interim)
    of ``{prefix}-{proc}-{n}``, then ``update`` (200, 30 s so far), then ``stop`` (200,
    40 s). Run each phase with the same ``count``: load process ``proc`` numbers its
    operations 0, 1, 2 … in every phase, so each update and stop finds its session."""
    numbers: dict[int, Iterator[int]] = {}  # per load process, shared by its connections

    def make(session: Session) -> Step:
        turn = numbers.setdefault(session.proc, itertools.count())

        async def step() -> bool:
            n = next(turn)
            sid = f"{prefix}-{session.proc}-{n}"
            if phase == "start":
                body = (
                    f'{{"session_id":"{sid}","caller":"{anis[n % len(anis)]}",'
                    f'"callee":"{CALLEE}","interim":true}}'
                ).encode()
                request = target.encode("POST", "/api/v1/calls", body)
                return await session.send("start", request, 201) is not None
            duration = b'{"duration":30}' if phase == "update" else b'{"duration":40}'
            request = target.encode("POST", f"/api/v1/calls/{sid}/{phase}", duration)
            return await session.send(phase, request, 200) is not None

        return step

    return make


# --- CPU accounting -------------------------------------------------------------------


@dataclass
class Cpu:
    """CPU seconds spent over one workload, and the machine's idle share."""

    server: float
    server_by_pid: dict[int, float]
    conns_by_pid: dict[int, int]  # keep-alive connections each server process holds
    postgres: float
    client: float  # the load processes' own process_time over the run
    client_proc: float  # the same from /proc (10 ms ticks)
    idle_share: float
    iowait_share: float


class CpuMeter:
    def __init__(self, server_pid: int | None, port: int, postgres: bool) -> None:
        self.server_pid = server_pid
        self.port = port
        self.postgres = postgres

    def _read(self, client_pids: list[int]) -> dict[str, Any]:
        return {
            "server": cpu_of(process_tree(self.server_pid)) if self.server_pid else {},
            "postgres": cpu_of(pids_named("postgres")) if self.postgres else {},
            "client": cpu_of(client_pids),
            "machine": machine_times(),
        }

    def run(self, load: Callable[..., LoadResult]) -> tuple[LoadResult, Cpu]:
        marks: dict[str, dict[str, Any]] = {}
        client: list[int] = []
        conns: dict[int, int] = {}

        def on_go(pids: list[int]) -> None:
            client.extend(pids)
            if self.server_pid:
                conns.update(connections_by_pid(process_tree(self.server_pid), self.port))
            marks["before"] = self._read(client)

        def on_done() -> None:
            marks["after"] = self._read(client)

        result = load(on_go=on_go, on_done=on_done)
        before, after = marks["before"], marks["after"]

        def delta(kind: str) -> dict[int, float]:
            b, a = before[kind], after[kind]
            # a process that exited meanwhile reads 0 after: count nothing for it
            return {pid: max(0.0, a.get(pid, 0.0) - b.get(pid, 0.0)) for pid in a | b}

        total0, idle0, io0 = before["machine"]
        total1, idle1, io1 = after["machine"]
        span = (total1 - total0) or 1.0
        server = delta("server")
        return result, Cpu(
            server=sum(server.values()),
            server_by_pid={pid: round(s, 3) for pid, s in server.items()},
            conns_by_pid=conns,
            postgres=sum(delta("postgres").values()),
            client=result.client_cpu,
            client_proc=sum(delta("client").values()),
            idle_share=(idle1 - idle0) / span,
            iowait_share=(io1 - io0) / span,
        )


def report(
    scope: str, name: str, result: LoadResult, cpu: Cpu, extra: str, per_op_requests: int
) -> dict[str, Any]:
    op = result.latency.get(OP)
    n = max(1, result.count)
    requests = max(1, result.requests)
    ms = 1000.0
    split = " ".join(
        f"{s:.2f}s/{cpu.conns_by_pid.get(pid, 0)}c"
        for pid, s in sorted(cpu.server_by_pid.items(), key=lambda kv: -kv[1])
    )
    line = (
        f"{scope:10} {name:22} {result.rate:8.0f}/s  "
        + (
            f"p50 {op.p50:6.2f}  p90 {op.p90:6.2f}  p99 {op.p99:6.2f}  max {op.max:7.1f} ms  "
            if op
            else ""
        )
        + f"({result.count} in {result.elapsed:.1f} s, {extra})"
    )
    cpu_line = (
        f"{'':10} {'':22} CPU ms/op: server {cpu.server * ms / n:5.2f}"
        f"  client {cpu.client * ms / n:5.3f}"
        + (f"  postgres {cpu.postgres * ms / n:5.2f}" if cpu.postgres else "")
        + f"  | ms/request: server {cpu.server * ms / requests:5.2f}"
        f"  client {cpu.client * ms / requests:5.3f}"
        f"  | server procs (CPU s/conns) {split}"
        f"  | idle {cpu.idle_share:4.0%} (iowait {cpu.iowait_share:3.0%})"
        f"  load avg {os.getloadavg()[0]:.2f}"
    )
    say(line)
    say(cpu_line)
    if per_op_requests > 1:
        parts = [
            f"{label} p50 {s.p50:.2f} p99 {s.p99:.2f} ms"
            for label, s in result.latency.items()
            if label != OP
        ]
        say(f"{'':10} {'':22} " + ", ".join(parts))
    if result.errors:
        say(f"{'':10} {'':22} ERRORS {result.errors}")
        for kind, body in result.error_samples.items():
            say(f"{'':10} {'':22}   {kind}: {body}")
    return {
        "scope": scope,
        "workload": name,
        "rate_per_s": round(result.rate, 1),
        "count": result.count,
        "requests": result.requests,
        "elapsed_s": round(result.elapsed, 3),
        "connections": result.connections,
        "client_procs": result.procs,
        "latency_ms": {label: asdict(s) for label, s in result.latency.items()},
        "errors": result.errors,
        "error_samples": result.error_samples,
        "cpu_s": {
            "server": round(cpu.server, 3),
            "server_by_pid": cpu.server_by_pid,
            "server_connections_by_pid": cpu.conns_by_pid,
            "postgres_all": round(cpu.postgres, 3),
            "client": round(cpu.client, 3),
            "client_proc": round(cpu.client_proc, 3),
        },
        "cpu_ms_per_op": {
            "server": round(cpu.server * ms / n, 4),
            "client": round(cpu.client * ms / n, 4),
            "postgres_all": round(cpu.postgres * ms / n, 4),
        },
        "cpu_ms_per_request": {
            "server": round(cpu.server * ms / requests, 4),
            "client": round(cpu.client * ms / requests, 4),
        },
        "idle_share": round(cpu.idle_share, 3),
        "iowait_share": round(cpu.iowait_share, 3),
        "loadavg": os.getloadavg(),
    }


def server_log_excerpt(directory: Path, lines: int = 16) -> str:
    """The end of the last traceback the server logged (its 5xx bodies say "logged")."""
    log = "".join(p.read_text(errors="replace") for p in sorted(directory.glob("serve-*.log")))
    body = log.splitlines()
    starts = [i for i, line in enumerate(body) if line.startswith("Traceback")]
    if not starts:
        return "server log, last lines:\n" + "\n".join(body[-lines:])
    end = starts[-1] + 1
    while end < len(body) and (body[end].startswith(" ") or not body[end].strip()):
        end += 1
    return "server log, end of the last traceback:\n" + "\n".join(
        body[max(starts[-1], end + 1 - lines) : end + 1]
    )


# --- the voxbill run -------------------------------------------------------------------


def run_dialect(dialect: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
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
            base, process = start_server(env, directory, "--workers", str(args.workers))
            try:
                anis = setup(base, key)
                host, _, port = base.removeprefix("http://").rpartition(":")
                target = Target(host, int(port), key)
                meter = CpuMeter(process.pid, int(port), postgres=dialect == "postgresql")
                chosen = WORKLOADS if args.workload == "all" else (args.workload,)
                plans: dict[str, tuple[str, Workload, int]] = {
                    "authorize": ("authorize", authorize_workload(target, anis), 1),
                    "calls": ("calls, 200 balances", calls_workload(target, anis, "c"), 2),
                    "calls-one": ("calls, ONE balance", calls_workload(target, anis[:1], "o"), 2),
                }
                extra = (
                    f"{args.connections} conns, {args.client_procs} client procs, "
                    f"{args.workers} workers"
                    + (f", offered {args.rate:.0f} ops/s open loop" if args.rate else "")
                )
                for wl in chosen:
                    name, workload, per_op = plans[wl]
                    if args.warmup > 0:  # every worker's first requests (imports, caches)
                        run_load(
                            target,
                            workload,
                            connections=args.connections,
                            seconds=args.warmup,
                            procs=args.client_procs,
                        )
                    result, cpu = meter.run(
                        lambda workload=workload, **hooks: run_load(
                            target,
                            workload,
                            connections=args.connections,
                            seconds=args.seconds,
                            procs=args.client_procs,
                            rate=args.rate,
                            **hooks,
                        )
                    )
                    entry = report(dialect, name, result, cpu, extra, per_op)
                    entry["server_workers"] = args.workers
                    out.append(entry)
            finally:
                stop_server(process)
                if any(str(k).startswith("5") for e in out for k in e.get("errors", {})):
                    say(server_log_excerpt(directory))
            verify = run("ledger", "verify")
            say(f"{dialect:10} ledger verify: exit {verify.returncode}")
            if verify.returncode != 0:
                say(verify.stdout + verify.stderr)
            out.append({"scope": dialect, "ledger_verify_exit": verify.returncode})
    return out


# --- A/B: the same database, the server restarted with each variant in turn ----------

AB_ENDPOINTS = ("authorize", "start", "update", "stop")


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``NAME`` or ``NAME:VAR=VALUE,VAR=VALUE``: a label and the server's extra env."""
    name, _, assignments = text.partition(":")
    env = dict(a.split("=", 1) for a in assignments.split(",") if a)
    return name, env


def serve(env: dict[str, str], directory: Path, workers: int) -> tuple[str, Any]:
    """``start_server``, tried three times: on a loaded machine a start may miss its 60 s."""
    for attempt in range(3):
        try:
            return start_server(env, directory, "--workers", str(workers))
        except AssertionError as exc:
            say(f"server start failed ({exc}); again" if attempt < 2 else str(exc))
    raise SystemExit("voxbill serve did not start")


def run_ab(dialect: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """``--pairs`` rounds; in each, every variant in turn gets a fresh ``voxbill serve``
    (its env extended by the variant's) on the same database, a warm-up, then each
    endpoint alone: authorize for ``--seconds``; start, update and stop of ``--count``
    sessions (one phase each, measured apart)."""
    variants = [parse_variant(v) for v in args.ab]
    out: list[dict[str, Any]] = []
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
            run("rates", "import", str(directory / "deck.csv"), "--plan", "retail",
                "--currency", "USD", check=True)  # fmt: skip
            base, process = serve(env, directory, args.workers)
            try:
                anis = setup(base, key)
            finally:
                stop_server(process)
            load = {"connections": args.connections, "procs": args.client_procs}
            for pair in range(1, args.pairs + 1):
                for name, extra_env in variants:
                    base, process = serve({**env, **extra_env}, directory, args.workers)
                    try:
                        host, _, port = base.removeprefix("http://").rpartition(":")
                        target = Target(host, int(port), key)
                        tag = f"{name}-{pair}-{os.urandom(3).hex()}"
                        warm = f"w{tag}"
                        run_load(target, authorize_workload(target, anis), seconds=args.warmup,
                                 **load)  # fmt: skip
                        for phase in ("start", "update", "stop"):
                            run_load(target, phase_workload(target, anis, warm, phase),
                                     count=args.connections * 8, **load)  # fmt: skip
                        for endpoint in AB_ENDPOINTS:
                            if endpoint == "authorize":
                                workload = authorize_workload(target, anis)
                                size: dict[str, Any] = {"seconds": args.seconds}
                            else:
                                workload = phase_workload(target, anis, tag, endpoint)
                                size = {"count": args.count}
                            meter = CpuMeter(process.pid, int(port), dialect == "postgresql")
                            result, cpu = meter.run(
                                lambda workload=workload, size=size, target=target, **hooks: (
                                    run_load(target, workload, **size, **load, **hooks)
                                )
                            )
                            entry = report(dialect, f"{endpoint} [{name} #{pair}]", result,
                                           cpu, f"{args.connections} conns", 1)  # fmt: skip
                            entry.update(variant=name, pair=pair, endpoint=endpoint)
                            out.append(entry)
                    finally:
                        stop_server(process)
            verify = run("ledger", "verify")
            say(f"{dialect:10} ledger verify: exit {verify.returncode}")
            out.append({"scope": dialect, "ledger_verify_exit": verify.returncode})
    summarize_ab(dialect, [v for v, _ in variants], out)
    return out


def summarize_ab(dialect: str, names: list[str], out: list[dict[str, Any]]) -> None:
    """Per endpoint and variant: the median of the runs and their spread (min–max) of
    server CPU per request, then rate and latency; the first variant against each other."""

    def median(xs: list[float]) -> float:
        xs = sorted(xs)
        mid = len(xs) // 2
        return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2

    say(f"\n{dialect}: server CPU ms per request, median of the runs [min–max]; rate; p50/p99")
    for endpoint in AB_ENDPOINTS:
        rows = {n: [e for e in out if e.get("endpoint") == endpoint and e["variant"] == n]
                for n in names}  # fmt: skip
        cpu = {n: [e["cpu_ms_per_request"]["server"] for e in rows[n]] for n in names}
        for n in names:
            rates = [e["rate_per_s"] for e in rows[n]]
            p50 = [e["latency_ms"][OP]["p50"] for e in rows[n] if OP in e["latency_ms"]]
            p99 = [e["latency_ms"][OP]["p99"] for e in rows[n] if OP in e["latency_ms"]]
            pg = [e["cpu_ms_per_op"]["postgres_all"] for e in rows[n]]
            say(
                f"  {endpoint:9} {n:12} CPU {median(cpu[n]):.3f} [{min(cpu[n]):.3f}–"
                f"{max(cpu[n]):.3f}]  {median(rates):6.0f}/s [{min(rates):.0f}–{max(rates):.0f}]"
                f"  p50 {median(p50):.2f}  p99 {median(p99):.2f} ms"
                + (f"  postgres {median(pg):.3f}" if any(pg) else "")
                + f"  errors {sum(sum(e['errors'].values()) for e in rows[n])}"
            )
        first = names[0]
        for n in names[1:]:
            paired = [1 - a / b for a, b in zip(cpu[first], cpu[n], strict=False) if b]
            saving = 1 - median(cpu[first]) / median(cpu[n])
            say(
                f"  {endpoint:9} {first} saves vs {n}: {saving:+.1%}"
                f" of {n}'s CPU per request (medians); paired runs {median(paired):+.1%}"
                f" [{min(paired):+.1%} … {max(paired):+.1%}]"
            )


# --- selftest: the load generator against a trivial server ----------------------------


async def _trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


def _serve_trivial(port: int) -> None:
    import uvicorn

    uvicorn.run(
        _trivial_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def selftest(args: argparse.Namespace) -> list[dict[str, Any]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = multiprocessing.get_context("spawn").Process(target=_serve_trivial, args=(port,))
    server.start()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or not server.is_alive():
                    raise SystemExit("trivial server did not start") from None
                time.sleep(0.05)
        target = Target("127.0.0.1", port, "selftest")
        request = target.encode("POST", "/", b'{"x":1}')

        def make(session: Session) -> Step:
            async def step() -> bool:
                return await session.send("post", request, 200) is not None

            return step

        assert server.pid is not None
        result, cpu = CpuMeter(server.pid, port, postgres=False).run(
            lambda **hooks: run_load(
                target,
                make,
                connections=args.connections,
                seconds=args.seconds,
                procs=args.client_procs,
                **hooks,
            )
        )
        extra = f"{args.connections} conns, {args.client_procs} client procs"
        return [report("selftest", "trivial uvicorn app", result, cpu, extra, 1)]
    finally:
        server.terminate()
        server.join(10)


def main() -> None:
    global JSON_MODE
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dialect", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=5.0, help="per workload")
    parser.add_argument(
        "--connections",
        "--threads",
        dest="connections",
        type=int,
        default=32,
        help="concurrent keep-alive connections, one request at a time each (--threads: alias)",
    )
    parser.add_argument(
        "--client-procs", type=int, default=1, help="load processes sharing the connections"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unmeasured seconds before each workload"
    )
    parser.add_argument("--workers", type=int, default=2, help="voxbill serve --workers")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="offer this many operations/s on a fixed schedule (open loop; latency counts "
        "from when each operation was due) instead of running them back to back",
    )
    parser.add_argument(
        "--ab",
        action="append",
        metavar="NAME[:VAR=VALUE,...]",
        help="A/B mode (give it twice or more): per --pairs round, each variant in turn "
        "serves on the same database with these extra env settings; endpoints measured apart",
    )
    parser.add_argument("--pairs", type=int, default=5, help="A/B rounds")
    parser.add_argument(
        "--count", type=int, default=2000, help="A/B: sessions started, updated, stopped per run"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser.add_argument(
        "--selftest", action="store_true", help="measure the load generator on a trivial server"
    )
    args = parser.parse_args()
    JSON_MODE = args.json
    say(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs")
    results: list[dict[str, Any]] = []
    if args.selftest:
        results += selftest(args)
    else:
        dialects = ["sqlite", "postgresql"] if args.dialect == "both" else [args.dialect]
        for dialect in dialects:
            results += run_ab(dialect, args) if args.ab else run_dialect(dialect, args)
    say(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if JSON_MODE:
        doc = {"args": vars(args), "cpus": os.cpu_count(), "results": results}
        print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
