"""A lean HTTP/1.1 keep-alive load generator for the benchmarks, run in its own process(es).

asyncio (uvloop when importable) over raw ``asyncio.open_connection`` streams: N
concurrent connections, each sending one request at a time (no pipelining), requests
pre-encoded as bytes, responses parsed minimally (status line, headers up to the blank
line, a ``Content-Length`` body; ``connection: close`` reconnects; chunked bodies fail
loudly). A few tens of microseconds of client CPU per request, so that a benchmark on a
small machine measures the server rather than its client.

A *workload* is a callable ``make(session) -> step``: called once per connection, it
returns ``step``, a coroutine function run back to back on that connection; each
``await step()`` is one operation (one request, or e.g. a call's start + stop), timed
as a whole, and ``True`` when it succeeded. Inside, ``await session.send(label, data,
expect)`` sends one pre-encoded request, times it under ``label`` and counts an error
(by status) when the status is not ``expect``.

``run_load`` forks ``procs`` load processes (the workload is inherited, not pickled),
splits the connections among them, opens every connection, then starts them all at
once; each process measures its own CPU (``time.process_time``) over the run. Linux
(fork) only, like the benchmarks that use it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import os
import time
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

try:  # pragma: no cover - depends on what is installed
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]

Step = Callable[[], Awaitable[bool]]
OP = "op"  # the label under which each whole step is timed


@dataclass(frozen=True)
class Target:
    """Where the requests go, and the headers every request carries."""

    host: str
    port: int
    token: str | None = None

    def encode(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """One complete HTTP/1.1 request as bytes (JSON body when given)."""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if self.token:
            head += f"Authorization: Bearer {self.token}\r\n"
        if body is None:
            return (head + "\r\n").encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body


class ProtocolFailure(RuntimeError):
    """The server answered something this client does not handle (e.g. chunked)."""


class Session:
    """One keep-alive connection, with the recorder of its process."""

    def __init__(self, target: Target, run: str, proc: int, index: int, recorder: Recorder) -> None:
        self.target = target
        self.run = run  # random, unique to one run_load call (e.g. for unique ids)
        self.proc = proc  # load process number
        self.index = index  # connection number within the whole run
        self.recorder = recorder
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(
            self.target.host, self.target.port
        )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def request(self, data: bytes) -> tuple[int, bytes]:
        """Send one request and read its response: (status, body)."""
        if self._writer is None:
            await self.connect()
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        length = 0
        at = lower.find(b"\r\ncontent-length:")
        if at >= 0:
            end = lower.index(b"\r\n", at + 17)
            length = int(lower[at + 17 : end])
        elif b"\r\ntransfer-encoding:" in lower:
            raise ProtocolFailure(f"chunked/encoded response not supported: {head!r}")
        body = await reader.readexactly(length) if length else b""
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    async def send(self, label: str, data: bytes, expect: int = 200) -> bytes | None:
        """``request``, timed under ``label``; the body, or None (error counted)."""
        began = time.perf_counter()
        try:
            status, body = await self.request(data)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.close()
            self.recorder.error("connection", repr(exc).encode())
            return None
        self.recorder.latency(label, time.perf_counter() - began)
        if status != expect:
            self.recorder.error(str(status), body)
            return None
        return body


Workload = Callable[[Session], Step]


class Recorder:
    """Latencies (seconds) by label and errors by kind, for one load process."""

    def __init__(self) -> None:
        self.latencies: dict[str, array[float]] = {}
        self.errors: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def latency(self, label: str, seconds: float) -> None:
        lat = self.latencies.get(label)
        if lat is None:
            lat = self.latencies[label] = array("d")
        lat.append(seconds)

    def error(self, kind: str, body: bytes) -> None:
        self.errors[kind] += 1
        if kind not in self.samples:
            self.samples[kind] = body[:500].decode("utf-8", "replace")


@dataclass
class Stats:
    """Latency summary of one label, in milliseconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: array[float] | list[float]) -> Stats:
        ordered = sorted(seconds)
        n = len(ordered)
        if not n:
            return cls(0, 0.0, 0.0, 0.0, 0.0)

        def q(f: float) -> float:
            return ordered[min(n - 1, int(f * n))] * 1000

        return cls(n, q(0.5), q(0.9), q(0.99), ordered[-1] * 1000)


@dataclass
class LoadResult:
    """What a run did: ``count`` successful operations in ``elapsed`` seconds."""

    count: int
    elapsed: float
    connections: int
    procs: int
    client_cpu: float  # seconds of CPU (user + system) of the load processes over the run
    errors: dict[str, int]
    error_samples: dict[str, str]
    latency: dict[str, Stats] = field(default_factory=dict)  # OP, and each send label

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    @property
    def requests(self) -> int:
        """Requests answered (any status), all labels but OP."""
        return sum(s.count for label, s in self.latency.items() if label != OP)


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


async def _wait_readable(conn: multiprocessing.connection.Connection) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(conn.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(conn.fileno())
        os.set_blocking(conn.fileno(), True)  # add_reader made it non-blocking


async def _proc_main(
    conn: multiprocessing.connection.Connection,
    target: Target,
    workload: Workload,
    run: str,
    proc: int,
    first: int,
    connections: int,
    seconds: float | None,
    count: int | None,
    connect_gap: float,
    rate: float | None = None,
) -> dict[str, Any]:
    recorder = Recorder()
    sessions = [Session(target, run, proc, first + i, recorder) for i in range(connections)]
    for s in sessions:  # one at a time: a burst of connects tends to land on one worker
        await s.connect()
        await asyncio.sleep(connect_gap)
    steps = [workload(s) for s in sessions]
    conn.send("ready")
    await _wait_readable(conn)
    conn.recv()  # "go"
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    began = loop.time()
    deadline = began + seconds if seconds is not None else float("inf")
    remaining = count if count is not None else -1
    ok = 0
    ops = recorder.latencies.setdefault(OP, array("d"))
    clock = time.perf_counter

    async def drive(step: Step) -> None:
        nonlocal remaining, ok
        while remaining != 0 and loop.time() < deadline:
            if remaining > 0:
                remaining -= 1
            t0 = clock()
            if await step():
                ops.append(clock() - t0)
                ok += 1

    async def drive_at_rate(step: Step, phase: float, interval: float) -> None:
        # open loop: operation k of this connection is due at start + phase + k * interval,
        # and its latency counts from that instant (a late server delays the next
        # operations, and their waiting is measured: no coordinated omission)
        nonlocal remaining, ok
        due = clock() + phase
        while remaining != 0 and loop.time() < deadline:
            if remaining > 0:
                remaining -= 1
            wait = due - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            if await step():
                ops.append(clock() - due)
                ok += 1
            due += interval

    if rate is None:
        await asyncio.gather(*(drive(step) for step in steps))
    else:
        interval = connections / rate  # this process's share of the rate, per connection
        await asyncio.gather(
            *(
                drive_at_rate(step, interval * i / connections, interval)
                for i, step in enumerate(steps)
            )
        )
    elapsed = loop.time() - began
    cpu = time.process_time() - cpu0
    for s in sessions:
        s.close()
    return {
        "count": ok,
        "elapsed": elapsed,
        "cpu": cpu,
        "errors": dict(recorder.errors),
        "samples": recorder.samples,
        "latencies": {label: lat.tobytes() for label, lat in recorder.latencies.items()},
    }


def _proc_entry(
    conn: multiprocessing.connection.Connection,
    target: Target,
    workload: Workload,
    run: str,
    proc: int,
    first: int,
    connections: int,
    seconds: float | None,
    count: int | None,
    connect_gap: float,
    rate: float | None,
) -> None:
    coro = _proc_main(
        conn, target, workload, run, proc, first, connections, seconds, count, connect_gap, rate
    )
    try:
        result = uvloop.run(coro) if uvloop is not None else asyncio.run(coro)
    except BaseException as exc:  # reported to the parent, which fails loudly
        conn.send({"failure": f"{type(exc).__name__}: {exc}"})
        raise
    conn.send(result)
    conn.close()


def run_load(
    target: Target,
    workload: Workload,
    *,
    connections: int = 32,
    seconds: float | None = None,
    count: int | None = None,
    procs: int = 1,
    connect_gap: float = 0.002,
    rate: float | None = None,
    on_go: Callable[[list[int]], None] | None = None,
    on_done: Callable[[], None] | None = None,
) -> LoadResult:
    """Run ``workload`` on ``connections`` connections in ``procs`` forked processes for
    ``seconds`` or ``count`` operations (split over the processes). ``on_go(pids)`` runs
    once every connection is open, just before the start signal; ``on_done()`` as soon
    as every process has finished (before their results are merged). Connections open
    one at a time, ``connect_gap`` seconds apart, before the start.

    ``rate`` (operations per second, all processes together) makes the load open-loop:
    each connection runs its operations on a fixed schedule (its share of the rate) and
    each operation's latency counts from when it was due, so that a server that falls
    behind shows its queueing in the percentiles. Without it, each connection runs its
    operations back to back (closed loop: the server's capacity)."""
    if (seconds is None) == (count is None):
        raise ValueError("give seconds or count")
    procs = max(1, min(procs, connections))
    ctx = multiprocessing.get_context("fork")
    run = os.urandom(4).hex()
    children: list[tuple[multiprocessing.connection.Connection, Any]] = []
    first = 0
    counts = _split(count, procs) if count is not None else [None] * procs
    for proc, (n, c) in enumerate(zip(_split(connections, procs), counts, strict=True)):
        parent, child = ctx.Pipe()
        p = ctx.Process(
            target=_proc_entry,
            args=(
                child,
                target,
                workload,
                run,
                proc,
                first,
                n,
                seconds,
                c,
                connect_gap,
                None if rate is None else rate * n / connections,
            ),
            daemon=True,
        )
        p.start()
        child.close()
        children.append((parent, p))
        first += n
    try:
        for parent, _ in children:
            msg = parent.recv()
            if msg != "ready":
                raise SystemExit(f"load process failed before start: {msg}")
        if on_go is not None:
            on_go([p.pid for _, p in children])
        for parent, _ in children:
            parent.send("go")
        results = [parent.recv() for parent, _ in children]
        if on_done is not None:
            on_done()
    finally:
        for _, p in children:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    failures = [r["failure"] for r in results if "failure" in r]
    if failures:
        raise SystemExit(f"load process failed: {failures[0]}")
    merged: dict[str, array[float]] = {}
    errors: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for r in results:
        errors.update(r["errors"])
        for kind, body in r["samples"].items():
            samples.setdefault(kind, body)
        for label, raw in r["latencies"].items():
            merged.setdefault(label, array("d")).frombytes(raw)
    return LoadResult(
        count=sum(r["count"] for r in results),
        elapsed=max(r["elapsed"] for r in results),
        connections=connections,
        procs=procs,
        client_cpu=sum(r["cpu"] for r in results),
        errors=dict(errors),
        error_samples=samples,
        latency={label: Stats.of(lat) for label, lat in merged.items()},
    )


# --- CPU accounting from /proc (Linux) -------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode()
    except OSError:
        return None
    # the command is in parentheses and may hold spaces: fields resume after the last ")"
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), seconds; 0 when it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def pids_named(name: str) -> list[int]:
    """Processes whose command (``/proc/<pid>/comm``) is ``name``."""
    found = []
    for pid in _all_pids():
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == name:
                    found.append(pid)
        except OSError:
            continue
    return found


def connections_by_pid(pids: list[int], port: int) -> dict[int, int]:
    """Established TCP connections to local ``port`` held by each of ``pids``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.readlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    held: dict[int, int] = {}
    for pid in pids:
        n = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    n += 1
        except OSError:
            continue
        held[pid] = n
    return held


def cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: process_cpu(pid) for pid in pids}


def machine_times() -> tuple[float, float, float]:
    """(total, idle, iowait) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [float(v) for v in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
    return sum(values[:8]), values[3], values[4]
