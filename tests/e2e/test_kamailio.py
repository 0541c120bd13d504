"""Kamailio with voxbill as its redirect server, end to end over real sockets.

    sipp UAC ──INVITE──▶ kamailio ──INVITE──▶ voxbill serve --sip (302 + Contact routes)
             ◀──200──── kamailio ──INVITE──▶ sipp UAS (the cheapest vendor's target)

Kamailio runs ``docs/integrations/kamailio/kamailio.cfg`` unchanged (ports given with
``-A`` defines), in the foreground, with its own pid file and runtime directory. voxbill is
the real ``voxbill serve`` over a SQLite file seeded with ``support.sip_world`` (Carrier-B,
the q=1.0 route, points at the sipp UAS). The call is settled through voxbill's REST stop,
as kamailio.md documents: Debian's ``http_client`` module is not installed here, so the
switch side of that call is the test's.

Skipped, with the reason, when kamailio, its modules or sipp are missing or kamailio
cannot start.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from support.sip_world import CALLER, UK, build_sip_world
from support.voxbill_process import free_port, wait_until_healthy
from voxbill.bootstrap import build
from voxbill.domain.access import Role
from voxbill.domain.routing import SipTarget, Transport
from voxbill.settings import Settings
from voxbill.storage.schema import charging_sessions

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "docs" / "integrations" / "kamailio" / "kamailio.cfg"
SCENARIOS = Path(__file__).parent / "kamailio"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
SIPP = shutil.which("sipp") or "/usr/bin/sipp"
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
NEEDED_MODULES = ("tm", "tmx", "sl", "rr", "pv", "maxfwd", "siputils", "textops", "xlog", "acc")
VOXBILL = Path(sys.executable).with_name("voxbill")


def skip_loudly(reason: str) -> None:
    pytest.skip(f"KAMAILIO END-TO-END TEST SKIPPED: {reason}")


def require_peers() -> None:
    if not Path(KAMAILIO).exists():
        skip_loudly("kamailio is not installed (scripts/install-peers installs it)")
    if not Path(SIPP).exists():
        skip_loudly("sipp is not installed (scripts/install-peers installs sip-tester)")
    missing = [m for m in (*NEEDED_MODULES, "uac_redirect") if not (MODULES / f"{m}.so").exists()]
    if missing:
        skip_loudly(f"kamailio modules missing from {MODULES}: {', '.join(missing)}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def options_answered(port: int) -> bool:
    """Does a SIP OPTIONS to 127.0.0.1:port get a 200 within a second?"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(1.0)
        local = sock.getsockname()[1]
        branch = f"z9hG4bK{uuid.uuid4().hex}"
        probe = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch={branch}\r\n"
            f"From: <sip:probe@127.0.0.1:{local}>;tag=p\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(probe.encode(), ("127.0.0.1", port))
        try:
            data, _ = sock.recvfrom(65535)
        except OSError:
            return False
    return data.startswith(b"SIP/2.0 200")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, with every child it forked."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # kamailio's children may outlive a main process that exited on its own
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for(check: object, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}: {tail(log)}")
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in 20 s: {tail(log)}")


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@dataclass
class Rig:
    kamailio_port: int
    uas_port: int
    api: httpx.Client
    database_url: str
    work: Path
    customer: int

    def sessions(self, call_id: str | None = None) -> int:
        query = select(func.count()).select_from(charging_sessions)
        if call_id is not None:
            query = query.where(charging_sessions.c.session_id == call_id)
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(query).scalar_one())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    require_peers()
    work = tmp_path_factory.mktemp("kamailio")
    database_url = f"sqlite:///{work / 'voxbill.db'}"
    uas_port = free_udp_port()

    # the world: customer C (ANI +441000000001, 600 s cap); the cheapest vendor → sipp UAS
    container = build(Settings(database_url=database_url), migrate=True)
    try:
        world = build_sip_world(container)
        world.patch(world.customer, max_call_duration=600)
        container.routing.set_target(
            world.system, world.carrier_b, SipTarget("127.0.0.1", uas_port, Transport.UDP)
        )
        admin_key = container.auth.issue_system(world.root, Role.ADMIN).secret
        customer = world.customer
    finally:
        container.close()

    processes: list[subprocess.Popen[bytes]] = []
    api = httpx.Client(headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    try:
        # voxbill serve: REST API + SIP redirect server
        http_port, sip_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOXBILL_")}
        env["VOXBILL_DATABASE_URL"] = database_url
        serve_log = work / "voxbill.log"
        with serve_log.open("wb") as out:
            voxbill = subprocess.Popen(
                [str(VOXBILL), "serve", "--host", "127.0.0.1", "--port", str(http_port)]
                + ["--sip", str(sip_port)],
                env=env,
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        processes.append(voxbill)
        base_url = f"http://127.0.0.1:{http_port}"
        wait_until_healthy(base_url, voxbill)
        api.base_url = httpx.URL(f"{base_url}/api/v1")

        # kamailio in the foreground, its own pid file and runtime dir, no database
        kamailio_port = free_udp_port()
        runtime = work / "run"
        runtime.mkdir()
        kamailio_log = work / "kamailio.log"
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
            str(work),
            "-L",
            str(MODULES),
            "-m",
            "64",
            "-M",
            "8",
            "-A",
            f"LISTEN=udp:127.0.0.1:{kamailio_port}",
            "-A",
            f'VOXBILL_URI="sip:127.0.0.1:{sip_port}"',
        ]
        with kamailio_log.open("wb") as out:
            kamailio = subprocess.Popen(
                command, cwd=work, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        processes.append(kamailio)
        try:
            wait_for(lambda: options_answered(kamailio_port), "kamailio", kamailio, kamailio_log)
        except RuntimeError as error:
            skip_loudly(f"kamailio cannot start: {error}")

        yield Rig(kamailio_port, uas_port, api, database_url, work, customer)
    finally:
        api.close()
        for process in reversed(processes):
            stop_group(process)


@dataclass
class SippRun:
    returncode: int
    logs: str
    messages: str
    output: str


def run_sipp(
    rig: Rig, scenario: str, caller: str, name: str, extra: tuple[str, ...] = ()
) -> SippRun:
    messages, logs = rig.work / f"{name}.msg", rig.work / f"{name}.log"
    command = [
        SIPP,
        f"127.0.0.1:{rig.kamailio_port}",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-i",
        "127.0.0.1",
        "-p",
        str(free_udp_port()),
        "-m",
        "1",
        "-s",
        UK,
        "-key",
        "caller",
        caller,
        "-trace_msg",
        "-message_file",
        str(messages),
        "-trace_logs",
        "-log_file",
        str(logs),
        "-timeout",
        "20s",
        "-recv_timeout",
        "15s",
        "-nostdin",
        *extra,
    ]
    done = subprocess.run(
        command, cwd=rig.work, capture_output=True, text=True, timeout=60, check=False
    )
    return SippRun(
        done.returncode,
        logs.read_text() if logs.exists() else "",
        messages.read_text() if messages.exists() else "",
        done.stdout[-3000:] + done.stderr[-3000:],
    )


@pytest.fixture
def vendor(rig: Rig) -> Iterator[Path]:
    """The vendor's switch: a sipp UAS (the built-in ``uas`` scenario, copying
    Record-Route) on the port of Carrier-B's SIP target; yields its message trace."""
    trace = rig.work / "uas.msg"
    log = rig.work / "uas.out"
    command = [
        SIPP,
        "-sf",
        str(SCENARIOS / "vendor_uas.xml"),
        "-i",
        "127.0.0.1",
        "-p",
        str(rig.uas_port),
        "-m",
        "1",
        "-trace_msg",
        "-message_file",
        str(trace),
        "-timeout",
        "40s",
        "-nostdin",
    ]
    with log.open("wb") as out:
        uas = subprocess.Popen(
            command, cwd=rig.work, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(lambda: udp_port_taken(rig.uas_port), "sipp uas", uas, log)
        yield trace
    finally:
        stop_group(uas)


def test_a_call_through_kamailio_follows_the_302_to_the_vendor(rig: Rig, vendor: Path) -> None:
    run = run_sipp(rig, "call", CALLER.lstrip("+"), "call")
    assert run.returncode == 0, run.output + run.messages
    call_id = re.findall(r"call=(\S+)", run.logs)[0]

    # the UAS (the cheapest vendor) received the INVITE at voxbill's Contact, once
    received = vendor.read_text() if vendor.exists() else ""
    invites = re.findall(r"^INVITE (\S+) SIP/2.0", received, re.MULTILINE)
    assert invites == [f"sip:{UK}@127.0.0.1:{rig.uas_port};transport=udp"], received
    assert f"Call-ID: {call_id}" in received
    assert re.search(r"^BYE ", received, re.MULTILINE)  # the dialog went through kamailio

    # voxbill opened exactly one charging session for the Call-ID (from kamailio's INVITE)
    assert rig.sessions(call_id) == 1

    # the switch reports the end of the call: REST stop with the duration
    stopped = rig.api.post(f"/calls/{call_id}/stop", json={"duration": 1})
    assert stopped.status_code == 200, stopped.text
    settlement = stopped.json()
    assert (settlement["session_id"], settlement["account_id"]) == (call_id, rig.customer)
    assert settlement["duration"] == 1
    assert settlement["cdr_id"] > 0
    assert settlement["replayed"] is False


def test_an_unknown_caller_gets_voxbills_403_through_kamailio(rig: Rig) -> None:
    before = rig.sessions()
    run = run_sipp(rig, "refused", "449999999999", "refused")
    assert run.returncode == 0, run.output + run.messages
    assert re.findall(r"reason=(\S+)", run.logs) == ["unknown_caller"]
    status_lines = re.findall(r"^SIP/2.0 (\d{3})", run.messages, re.MULTILINE)
    assert status_lines[-1] == "403"  # the final answer the UAC saw
    assert rig.sessions() == before  # a refused call opens nothing
