"""The SIP redirect server driven by the real ``sipp`` over UDP and TCP.

voxbill's server runs in this process on a free port over a real database seeded with
``support.sip_world`` (customer C with a 600 s per-call cap, so each call holds 1.00).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sipp_runner import require_sipp, run_sipp
from sqlalchemy import func, select

from support.sip_world import BROKE, CALLER, FRANCE, GERMANY, UK, SipWorld, build_sip_world
from voxbill.bootstrap import Container, build
from voxbill.protocols.sip.running import SipThread, sip_server
from voxbill.services.access.identifiers import IdentifierType
from voxbill.settings import Settings
from voxbill.storage.schema import charging_sessions

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sipp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_sipp()
    return tmp_path_factory.mktemp("sipp")


@pytest.fixture(scope="module")
def served(sipp_dir: Path) -> Iterator[tuple[SipWorld, int]]:
    container = build(Settings(database_url=f"sqlite:///{sipp_dir / 'sip.db'}"), migrate=True)
    world = build_sip_world(container)
    world.patch(world.customer, max_call_duration=600)
    thread = SipThread(sip_server(container, "127.0.0.1", 0)).start()
    try:
        yield world, thread.server.port
    finally:
        thread.stop()
        container.close()


def sessions(container: Container, call_id: str | None = None) -> int:
    query = select(func.count()).select_from(charging_sessions)
    if call_id is not None:
        query = query.where(charging_sessions.c.session_id == call_id)
    with container.db.transaction(readonly=True) as conn:
        return int(conn.execute(query).scalar_one())


def logged(text: str, name: str) -> list[str]:
    return re.findall(rf"{name}=(\S+)", text)


def test_a_funded_caller_gets_302_with_routes_and_headers(
    served: tuple[SipWorld, int], sipp_dir: Path
) -> None:
    world, port = served
    run = run_sipp("redirect", port, sipp_dir, caller=CALLER.lstrip("+"), service=UK)
    assert run.returncode == 0, run.output
    assert logged(run.logs, "account") == [str(world.customer)]
    assert logged(run.logs, "rate") == ["0.1"]
    assert logged(run.logs, "max_duration") == ["600"]
    assert logged(run.logs, "balance") == ["10"]  # before the 600 s hold of 1.00 (issue 12)
    contacts = re.findall(r"^Contact: (.*)$", run.messages, re.MULTILINE)
    assert f"<sip:{UK}@127.0.0.1:5080;transport=tcp>;q=1.0" in contacts  # Carrier-B, 0.02
    assert f"<sip:9#{UK}@127.0.0.1:5070;transport=udp>;q=0.9" in contacts  # Carrier-A, 0.03
    call_id = re.findall(r"call=(\S+)", run.logs)[0]
    assert sessions(world.container, call_id) == 1


def test_over_tcp_too(served: tuple[SipWorld, int], sipp_dir: Path) -> None:
    _, port = served
    run = run_sipp("redirect", port, sipp_dir, caller=CALLER.lstrip("+"), transport="t1")
    assert run.returncode == 0, run.output


@pytest.mark.parametrize(
    ("scenario", "caller", "service", "reason"),
    [
        ("forbidden", "449999999999", UK, "unknown_caller"),
        ("payment_required", BROKE.lstrip("+"), UK, "insufficient_funds"),
        ("not_found", CALLER.lstrip("+"), GERMANY, "no_rate"),
        ("not_found", CALLER.lstrip("+"), FRANCE, "no_route"),
    ],
)
def test_refusals_carry_the_contract_status_and_reason(
    served: tuple[SipWorld, int],
    sipp_dir: Path,
    scenario: str,
    caller: str,
    service: str,
    reason: str,
) -> None:
    world, port = served
    before = sessions(world.container)
    run = run_sipp(scenario, port, sipp_dir, caller=caller, service=service)
    assert run.returncode == 0, run.output
    assert logged(run.logs, "reason") == [reason]
    assert sessions(world.container) == before  # a refused call opens nothing


def test_the_concurrency_limit_is_486(served: tuple[SipWorld, int], sipp_dir: Path) -> None:
    world, port = served
    solo = world.create(world.reseller, "customer", "Solo", rate_plan="retail")
    world.patch(solo, max_concurrent_calls=1, max_call_duration=60)
    world.container.identifiers.add(world.system, solo, IdentifierType.ANI, "+441000000003", None)
    world.fund(solo, "5")
    first = run_sipp("redirect", port, sipp_dir, caller="441000000003")
    assert first.returncode == 0, first.output
    second = run_sipp("busy", port, sipp_dir, caller="441000000003")
    assert second.returncode == 0, second.output
    assert logged(second.logs, "reason") == ["concurrency_limit"]


def test_a_retransmitted_invite_opens_one_session(
    served: tuple[SipWorld, int], sipp_dir: Path
) -> None:
    world, port = served
    run = run_sipp("retransmission", port, sipp_dir, caller=CALLER.lstrip("+"), extra=("-nr",))
    assert run.returncode == 0, run.output
    call_id = re.findall(r"call=(\S+)", run.logs)[0]
    assert run.messages.count("INVITE sip:") == 2
    assert run.messages.count("SIP/2.0 302 Moved Temporarily") == 2  # the same answer twice
    assert sessions(world.container, call_id) == 1


def test_garbage_datagrams_do_not_stop_the_server(
    served: tuple[SipWorld, int], sipp_dir: Path
) -> None:
    _, port = served
    junk = [
        b"",
        b"\x00" * 1000,
        b"INVITE\r\n\r\n",
        b"INVITE sip:1@x SIP/2.0\r\nVia: SIP/2.0/UDP x;branch=1\r\nCall-ID: j\r\nCSeq: x\r\n\r\n",
        bytes(range(256)) * 4,
        b"SIP/2.0 200 OK\r\n\r\n",
        b"OPTIONS sip:x SIP/2.0\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in junk:
            sock.sendto(data[:65000] or b"\r\n", ("127.0.0.1", port))
    run = run_sipp("options", port, sipp_dir)
    assert run.returncode == 0, run.output


def test_a_302_on_every_dialect(container: Container, tmp_path: Path) -> None:
    """The door over PostgreSQL too (the ``container`` fixture runs once per dialect)."""
    require_sipp()
    world = build_sip_world(container)
    world.patch(world.customer, max_call_duration=600)
    thread = SipThread(sip_server(container, "127.0.0.1", 0)).start()
    try:
        run = run_sipp("redirect", thread.server.port, tmp_path, caller=CALLER.lstrip("+"))
    finally:
        thread.stop()
    assert run.returncode == 0, run.output
    call_id = re.findall(r"call=(\S+)", run.logs)[0]
    assert sessions(container, call_id) == 1
