"""Several SIP processes on one port (SO_REUSEPORT), driven by the real ``sipp``.

Two processes of ``voxbill serve --sip-processes 2`` bind the same UDP/TCP port over one
database; sipp sends calls from one socket per call (``-t un``), so the kernel spreads
them over both processes. Every INVITE gets its 302 and exactly one session.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from sipp_runner import require_sipp, run_sipp
from sqlalchemy import func, select

from support.sip_client import SipClient, status
from support.sip_world import CALLER, UK, build_sip_world
from support.voxbill_process import sqlite_env, start_server, stop_server
from voxbill.bootstrap import build
from voxbill.protocols.sip.processes import SipProcesses
from voxbill.settings import Settings
from voxbill.storage.schema import charging_sessions

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_processes_answer_one_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_sipp()
    url = f"sqlite:///{tmp_path / 'sip.db'}"
    container = build(Settings(database_url=url), migrate=True)
    world = build_sip_world(container)
    world.patch(world.customer, max_call_duration=60)
    monkeypatch.setenv("VOXBILL_DATABASE_URL", url)  # the processes' settings
    monkeypatch.setenv("VOXBILL_SWEEPER_INTERVAL_SECONDS", "0")
    processes = SipProcesses("127.0.0.1", _free_port(), 2).start()
    try:
        run = run_sipp(
            "redirect",
            processes.port,
            tmp_path,
            caller=CALLER.lstrip("+"),
            service=UK,
            transport="un",  # one socket (source port) per call
            calls=30,
            extra=("-max_socket", "100"),
            timeout=60,
        )
        assert run.returncode == 0, run.output
        assert sum(r.startswith("SIP/2.0 302") for r in run.responses()) == 30
        with container.db.transaction(readonly=True) as conn:
            count = conn.execute(select(func.count()).select_from(charging_sessions))
            assert count.scalar_one() == 30
    finally:
        processes.stop()
        container.close()


def test_port_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="fixed port"):
        SipProcesses("127.0.0.1", 0, 2)


def test_serve_with_sip_processes(tmp_path: Path) -> None:
    """``voxbill serve --sip PORT --sip-processes 2``: the API and two SIP processes."""
    require_sipp()
    env = sqlite_env(tmp_path)
    env["VOXBILL_SWEEPER_INTERVAL_SECONDS"] = "0"
    container = build(Settings(database_url=env["VOXBILL_DATABASE_URL"]), migrate=True)
    world = build_sip_world(container)
    world.patch(world.customer, max_call_duration=60)
    port = _free_port()
    _, server = start_server(env, tmp_path, "--sip", str(port), "--sip-processes", "2")
    try:
        run = run_sipp(
            "redirect",
            port,
            tmp_path,
            caller=CALLER.lstrip("+"),
            service=UK,
            transport="un",
            calls=10,
            extra=("-max_socket", "100"),
            timeout=60,
        )
        assert run.returncode == 0, run.output
        assert sum(r.startswith("SIP/2.0 302") for r in run.responses()) == 10
    finally:
        stop_server(server)
        container.close()
    assert server.returncode is not None
    assert _port_freed(port), "a SIP process outlived voxbill serve"


def _port_freed(port: int, seconds: float = 5.0) -> bool:
    """True once nothing holds the UDP port (the SIP processes have exited)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                time.sleep(0.1)
                continue
            return True
    return False


def test_every_sip_process_answers_only_the_peers(tmp_path: Path) -> None:
    """``VOXBILL_SIP_PEERS`` bound once by ``voxbill serve`` and applied by each of its
    SIP processes: many sockets (the kernel spreads them over both processes) from a
    listed address are all answered, from another address none is."""
    env = sqlite_env(tmp_path)
    env["VOXBILL_SWEEPER_INTERVAL_SECONDS"] = "0"
    env["VOXBILL_SIP_PEERS"] = "127.0.0.2/32"  # one operator: bound to it
    container = build(Settings(database_url=env["VOXBILL_DATABASE_URL"]), migrate=True)
    build_sip_world(container)
    container.close()
    port = _free_port()
    _, server = start_server(env, tmp_path, "--sip", str(port), "--sip-processes", "2")
    target = ("127.0.0.1", port)
    try:
        strangers = [SipClient("127.0.0.1") for _ in range(16)]
        peers = [SipClient("127.0.0.2") for _ in range(16)]
        for client in strangers + peers:  # the strangers' datagrams go first
            _, probe = client.request("OPTIONS", target, call_id=f"probe-{client.port}")
            client.send(probe, target)
        for client in peers:
            assert status(client.answers(f"probe-{client.port}")[-1]) == 200
        # each process read its strangers' datagrams before its peers' ones, and
        # answers in that order: had a stranger been answered, it would be here by now
        assert [client.pending() for client in strangers] == [[]] * len(strangers)
    finally:
        for client in strangers + peers:
            client.close()
        stop_server(server)
