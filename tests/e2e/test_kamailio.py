"""Kamailio with voxbill as its redirect server, end to end over real sockets.

    sipp UAC ──INVITE──▶ kamailio ──INVITE──▶ voxbill serve --sip (302 + Contact routes)
             ◀──200──── kamailio ──INVITE──▶ sipp UAS (the cheapest vendor's target)

Kamailio runs ``docs/integrations/kamailio/kamailio.cfg`` unchanged (ports given with
``-A`` defines), in the foreground, with its own pid file and runtime directory. voxbill is
the real ``voxbill serve`` over a SQLite file seeded with ``support.sip_world``: Carrier-B
(the q=1.0 route for UK numbers) points at one sipp UAS port, Carrier-A (the q=0.9 route,
and the only one for UK mobiles) at another. A connected call is settled through
voxbill's REST stop, as kamailio.md documents: Debian's ``http_client`` module is not
installed here, so the switch side of that call is the test's. A call that does not
connect is settled by the configuration itself (its RELEASE route: a BYE to voxbill).

Issue 10: finding 12 (a single route answered 503, and a failed call kept its grant
held) and finding 1 (a bare LF in From became a route Kamailio forked to).

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from support.sip_client import SipClient, header, status
from support.sip_world import CALLER, UK, UK_MOBILE, build_sip_world
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
NEEDED_MODULES = (
    *("tm", "tmx", "sl", "rr", "pv", "maxfwd", "siputils", "textops", "xlog", "acc"),
    *("htable", "uac"),
)
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
    uas_port: int  # Carrier-B's target
    uas_a_port: int  # Carrier-A's target
    api: httpx.Client
    database_url: str
    work: Path
    customer: int
    reseller: int

    @property
    def kamailio(self) -> tuple[str, int]:
        return ("127.0.0.1", self.kamailio_port)

    def reserved(self) -> tuple[Decimal, Decimal]:
        """What the customer's and its reseller's balances hold for calls in progress."""
        found = []
        for account in (self.customer, self.reseller):
            answer = self.api.get(f"/accounts/{account}/balance")
            assert answer.status_code == 200, answer.text
            found.append(Decimal(answer.json()["reserved"]))
        return found[0], found[1]

    def status(self, call_id: str) -> str | None:
        """The session's status (open, settled), None when there is none."""
        query = select(charging_sessions.c.status).where(charging_sessions.c.session_id == call_id)
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return conn.execute(query).scalar_one_or_none()
        finally:
            engine.dispose()

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
    uas_port, uas_a_port = free_udp_port(), free_udp_port()

    # the world: customer C (ANI +441000000001, 600 s cap); the vendors → sipp UAS ports
    container = build(Settings(database_url=database_url), migrate=True)
    try:
        world = build_sip_world(container)
        world.patch(world.customer, max_call_duration=600)
        container.routing.set_target(
            world.system, world.carrier_b, SipTarget("127.0.0.1", uas_port, Transport.UDP)
        )
        container.routing.set_target(
            world.system,
            world.carrier_a,
            SipTarget("127.0.0.1", uas_a_port, Transport.UDP, "9#"),
        )
        admin_key = container.auth.issue_system(world.root, Role.ADMIN).secret
        customer, reseller = world.customer, world.reseller
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

        yield Rig(kamailio_port, uas_port, uas_a_port, api, database_url, work, customer, reseller)
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
    rig: Rig,
    scenario: str,
    caller: str,
    name: str,
    extra: tuple[str, ...] = (),
    service: str = UK,
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
        service,
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


@contextmanager
def uas(rig: Rig, port: int, scenario: str, calls: int = 1) -> Iterator[Path]:
    """A vendor's switch: a sipp UAS running ``scenario`` on ``port``; yields its message
    trace (the built-in ``uas`` scenario does not copy Record-Route, see vendor_uas.xml)."""
    name = f"uas-{port}-{scenario}"
    trace = rig.work / f"{name}.msg"
    log = rig.work / f"{name}.out"
    command = [
        SIPP,
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        str(calls),
        "-trace_msg",
        "-message_file",
        str(trace),
        "-timeout",
        "60s",
        "-nostdin",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=rig.work, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_for(lambda: udp_port_taken(port), "sipp uas", process, log)
        yield trace
    finally:
        stop_group(process)


@pytest.fixture
def vendor(rig: Rig) -> Iterator[Path]:
    """Carrier-B's switch answering one call (180, 200, then the caller's BYE)."""
    with uas(rig, rig.uas_port, "vendor_uas") as trace:
        yield trace


def eventually(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Poll ``check`` until true; the deadline only proves that nothing hung."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


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


def test_a_call_with_a_single_route_goes_through(rig: Rig) -> None:
    """UK mobiles have one route (Carrier-A: Carrier-B's 0.08 is above the operator's
    sell rate). The shipped configuration used to answer such a call 503 "No Route"."""
    with uas(rig, rig.uas_a_port, "vendor_uas") as received_trace:
        run = run_sipp(rig, "call", CALLER.lstrip("+"), "single", service=UK_MOBILE)
        assert run.returncode == 0, run.output + run.messages
        call_id = re.findall(r"call=(\S+)", run.logs)[0]
        received = received_trace.read_text() if received_trace.exists() else ""
    invites = re.findall(r"^INVITE (\S+) SIP/2.0", received, re.MULTILINE)
    assert invites == [f"sip:9#{UK_MOBILE}@127.0.0.1:{rig.uas_a_port};transport=udp"], received
    stopped = rig.api.post(f"/calls/{call_id}/stop", json={"duration": 1})
    assert stopped.status_code == 200, stopped.text
    assert rig.reserved() == (0, 0)


def invite_through_kamailio(rig: Rig, client: SipClient, **request: str) -> tuple[str, bytes]:
    call_id, data = client.request("INVITE", rig.kamailio, caller=CALLER.lstrip("+"), **request)
    client.send(data, rig.kamailio)
    return call_id, data


def test_a_call_every_vendor_refuses_gives_its_grant_back(rig: Rig) -> None:
    with (
        uas(rig, rig.uas_port, "vendor_unavailable") as first,
        uas(rig, rig.uas_a_port, "vendor_unavailable") as second,
        SipClient() as caller,
    ):
        call_id, _ = invite_through_kamailio(rig, caller)
        final = caller.answers(call_id)[-1]
        assert status(final) >= 500  # 503 from both vendors (a proxy forwards it as 500)
        assert "INVITE sip:" in first.read_text()  # both routes were tried
        assert "INVITE sip:" in second.read_text()
    assert rig.sessions(call_id) == 1  # voxbill granted it...
    eventually(lambda: rig.status(call_id) == "settled", "the session is stopped")
    assert rig.reserved() == (0, 0)  # ...and the configuration gave the grant back


def test_a_cancelled_call_gives_its_grant_back_and_its_call_id_is_not_reused(
    rig: Rig,
) -> None:
    with (
        uas(rig, rig.uas_port, "vendor_ringing"),
        SipClient() as caller,
        SipClient() as twin,
    ):
        call_id, invite = invite_through_kamailio(rig, caller)
        ringing = caller.answers(call_id, until=180)[-1]
        assert status(ringing) == 180
        held = rig.reserved()
        assert held[0] > 0

        # a second INVITE with the Call-ID of the call in progress never reaches voxbill:
        # its release would otherwise settle this call's session at 0 s
        twin_id, _ = invite_through_kamailio(rig, twin, call_id=call_id)
        assert status(twin.answers(twin_id)[-1]) == 482
        assert rig.status(call_id) == "open"
        assert rig.reserved() == held

        cancel = invite.replace(b"INVITE sip", b"CANCEL sip", 1)
        caller.send(cancel.replace(b"CSeq: 1 INVITE", b"CSeq: 1 CANCEL"), rig.kamailio)
        final = caller.answers(call_id, until=400)
        assert [status(a) for a in final if header(a, "CSeq") == "1 INVITE"][-1] == 487
        to = header(final[-1], "To") or ""
        ack = invite.replace(b"INVITE sip", b"ACK sip", 1).replace(
            b"CSeq: 1 INVITE", b"CSeq: 1 ACK"
        )
        ack = re.sub(rb"\r\nTo: [^\r]*", b"\r\nTo: " + to.encode(), ack, count=1)
        caller.send(ack, rig.kamailio)
    eventually(lambda: rig.status(call_id) == "settled", "the session is stopped")
    assert rig.reserved() == (0, 0)


@pytest.mark.parametrize("kind", ["bare LF", "bare CR"])
def test_a_contact_injected_in_from_is_never_a_route(rig: Rig, kind: str) -> None:
    """The attack: From holds ``<bare break>Contact: <sip:premium@attacker>``. Kamailio
    reads it as an extra header and relays the INVITE; voxbill used to copy From into its
    302, where Kamailio found one more Contact and forked the call to the attacker while
    voxbill billed the dialled number. Now voxbill does not answer such an INVITE at all
    (Kamailio times out its branch), holds nothing, and the attacker is never called."""
    with SipClient() as attacker, SipClient() as caller:
        premium = f"<sip:premium@127.0.0.1:{attacker.port}>"
        tainted = f"<sip:{CALLER.lstrip('+')}@127.0.0.1:{caller.port}>;tag=evil"
        breaks = {"bare LF": "\n", "bare CR": "\r"}[kind]
        call_id, _ = invite_through_kamailio(
            rig, caller, from_value=f"{tainted}{breaks}Contact: {premium}"
        )
        answers = caller.answers(call_id, seconds=60)
        # voxbill sent nothing back: Kamailio's own 408 when voxbill's branch timed out
        # (Kamailio's 100 and 408 copy the caller's own From back to the caller, bare CR
        # included: its business, and no route)
        assert [status(a) for a in answers if status(a) >= 200] == [408]
        assert all((header(a, "Server") or "").startswith("kamailio") for a in answers)
        # the caller's final answer ends Kamailio's transaction: any fork came before it
        assert attacker.pending() == []
    assert rig.sessions(call_id) == 0  # voxbill held nothing
    assert rig.reserved() == (0, 0)
