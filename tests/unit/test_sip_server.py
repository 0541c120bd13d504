"""The SIP server's methods and transactions over a fake door, and its survival of junk."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import SipRequest
from voxbill.protocols.sip.running import SipThread
from voxbill.protocols.sip.server import SipServer

SOURCE = ("127.0.0.1", 5099)


def request(
    method: str = "INVITE", call_id: str = "c1", branch: str = "z9hG4bK1", **extra: str
) -> bytes:
    headers = "".join(f"{name}: {value}\r\n" for name, value in extra.items())
    return (
        f"{method} sip:442079460000@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5099;branch={branch}\r\n"
        "From: <sip:441000000001@127.0.0.1>;tag=f\r\n"
        "To: <sip:442079460000@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\n{headers}Content-Length: 0\r\n\r\n"
    ).encode()


class FakeDoor(RedirectDoor):
    """Answers every INVITE with one route; counts the calls (a retransmission must not)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.gate = gate

    def invite(self, request: SipRequest, source_ip: str, operator_id: int | None = None) -> Answer:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append((request.call_id, source_ip))
        return Answer(302, "Moved Temporarily", (("Contact", "<sip:1@10.0.0.1>;q=1.0"),))


def status(data: bytes | None) -> int | None:
    return None if data is None else int(data.split(b" ", 2)[1])


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def test_methods_of_a_redirect_server() -> None:
    async def scenario() -> None:
        door = FakeDoor()
        server = SipServer(door)
        first = await server.handle(request(), SOURCE)
        assert status(first) == 302
        assert await server.handle(request(), SOURCE) == first  # retransmission: same bytes
        assert door.calls == [("c1", "127.0.0.1")]  # and no second decision
        assert status(await server.handle(request("ACK"), SOURCE)) is None
        assert status(await server.handle(request("OPTIONS"), SOURCE)) == 200
        assert status(await server.handle(request("CANCEL"), SOURCE)) == 200
        assert status(await server.handle(request("CANCEL", "other"), SOURCE)) == 481
        assert status(await server.handle(request("BYE"), SOURCE)) == 481
        refused = await server.handle(request("REGISTER"), SOURCE)
        assert status(refused) == 405
        assert refused is not None
        assert b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n" in refused
        hops = await server.handle(request(call_id="c2", **{"Max-Forwards": "0"}), SOURCE)
        assert status(hops) == 483
        assert status(await server.handle(b"INVITE nonsense\r\n\r\n", SOURCE)) is None
        bad = request(call_id="c3").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
        assert status(await server.handle(bad, SOURCE)) == 400
        await server.stop()

    run(scenario())


def test_a_retransmission_while_deciding_is_absorbed() -> None:
    async def scenario() -> None:
        gate = threading.Event()
        door = FakeDoor(gate)
        server = SipServer(door)
        first = asyncio.ensure_future(server.handle(request(), SOURCE))
        await asyncio.sleep(0.05)
        assert await server.handle(request(), SOURCE) is None
        gate.set()
        assert status(await first) == 302
        assert len(door.calls) == 1
        await server.stop()

    run(scenario())


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[SipThread, FakeDoor]]:
    door = FakeDoor()
    thread = SipThread(SipServer(door, port=0)).start()
    yield thread, door
    thread.stop()


def _udp(port: int, data: bytes, wait: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(wait)
        sock.sendto(data, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.one_of(st.binary(max_size=1500), st.builds(lambda b: request() + b, st.binary())))
def test_junk_datagrams_never_stop_the_server(
    live: tuple[SipThread, FakeDoor], junk: bytes
) -> None:
    thread, _ = live
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(junk or b"\x00", ("127.0.0.1", thread.server.port))


def test_the_server_still_answers_options_after_the_junk(
    live: tuple[SipThread, FakeDoor],
) -> None:
    thread, _ = live
    assert status(_udp(thread.server.port, request("OPTIONS", "after-junk"))) == 200


def test_tcp_answers_each_framed_message(live: tuple[SipThread, FakeDoor]) -> None:
    thread, _ = live
    with socket.create_connection(("127.0.0.1", thread.server.port), timeout=5) as sock:
        sock.sendall(request("OPTIONS", "t1") + request("INVITE", "t2")[:40])
        sock.sendall(request("INVITE", "t2")[40:])
        received = b""
        while received.count(b"SIP/2.0 ") < 2:
            received += sock.recv(65535)
    assert b"SIP/2.0 200 OK" in received
    assert b"SIP/2.0 302 Moved Temporarily" in received
