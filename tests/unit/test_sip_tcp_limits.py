"""SIP over TCP under idle and greedy peers (issue 10, finding 8), over real sockets.

1,100 idle connections took the process's descriptors (and the HTTP API beside it).
Now a connection over ``max_per_source`` or ``max_connections`` is closed unread, a
connection silent for ``idle_timeout`` between messages is closed, and a message begun
must be whole within ``read_timeout`` of its first byte (a trickle of bytes does not
keep it open). Timeouts are tiny here and every wait is a generous deadline: the tests
only prove that a connection is closed, never how fast.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest

from voxbill.protocols.peers import Peers
from voxbill.protocols.sip.door import Answer, RedirectDoor
from voxbill.protocols.sip.message import SipRequest
from voxbill.protocols.sip.running import SipThread
from voxbill.protocols.sip.server import SipServer
from voxbill.serving.connections import ConnectionLimits

DEADLINE = 20.0


class NoDoor(RedirectDoor):
    def __init__(self) -> None:
        pass

    def invite(self, request: SipRequest, source_ip: str, operator_id: int | None = None) -> Answer:
        return Answer(404, "Not Found")


def options(call_id: str) -> bytes:
    return (
        "OPTIONS sip:voxbill@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 127.0.0.1:5099;branch=z9hG4bK-t\r\n"
        "From: <sip:switch@127.0.0.1>;tag=s\r\nTo: <sip:voxbill@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@contextmanager
def serving(limits: ConnectionLimits) -> Iterator[SipThread]:
    peers = Peers.parse("127.0.0.0/8")  # the tests use several loopback sources
    thread = SipThread(SipServer(NoDoor(), port=0, peers=peers, limits=limits)).start()
    try:
        yield thread
    finally:
        thread.stop()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(
        ("127.0.0.1", port), timeout=DEADLINE, source_address=(source, 0)
    )
    return sock


def answered(sock: socket.socket, call_id: str) -> bool:
    """Does an OPTIONS on this connection get its 200?"""
    try:
        sock.sendall(options(call_id))
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65535)
            if not chunk:
                return False
            received += chunk
    except OSError:
        return False
    return received.startswith(b"SIP/2.0 200") and call_id.encode() in received


def closed_by_server(sock: socket.socket, keep_sending: Callable[[], None] | None = None) -> bool:
    """True once the server has closed ``sock`` (end of stream or reset), polled until
    a generous deadline; ``keep_sending`` runs between polls (a trickling client)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            if keep_sending is not None:
                keep_sending()
            if sock.recv(65535) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset, or broken pipe while sending
            return True
    return False


def wait_for(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def capped() -> Iterator[SipThread]:
    with serving(ConnectionLimits(max_connections=3, max_per_source=2, idle_timeout=600)) as on:
        yield on


def test_a_source_over_its_cap_is_closed_unread_and_the_others_keep_working(
    capped: SipThread,
) -> None:
    port = capped.server.port
    with ExitStack() as stack:
        first, second = (stack.enter_context(connect(port)) for _ in range(2))
        assert answered(first, "cap-1")  # both admitted (the server has counted them)
        assert answered(second, "cap-2")
        extra = stack.enter_context(connect(port))
        assert closed_by_server(extra)
        assert answered(first, "cap-3")  # the admitted ones still work
        # another source still gets its own share of the listener's total
        other = stack.enter_context(connect(port, "127.0.0.2"))
        assert answered(other, "cap-4")
        # the listener is full (3): a fourth connection is closed, whatever its source
        fourth = stack.enter_context(connect(port, "127.0.0.3"))
        assert closed_by_server(fourth)
    # every connection closed: the counts go back to zero
    assert wait_for(lambda: capped.server.gate.open == 0)
    with connect(port) as again:
        assert answered(again, "cap-5")


def test_an_idle_connection_is_closed() -> None:
    with serving(ConnectionLimits(idle_timeout=0.2, read_timeout=0.2)) as thread:
        with connect(thread.server.port) as silent:
            assert closed_by_server(silent)  # never a byte
        with connect(thread.server.port) as talker:
            assert answered(talker, "idle-1")
            assert closed_by_server(talker)  # silent after a message
        assert wait_for(lambda: thread.server.gate.open == 0)


def test_a_message_trickled_byte_by_byte_is_closed_at_its_read_deadline() -> None:
    # idle 600 s: only the message's own deadline (0.3 s from its first byte) can close it
    with serving(ConnectionLimits(idle_timeout=600, read_timeout=0.3)) as thread:
        with connect(thread.server.port) as slow:
            message = iter(options("slow-1")[:-1])  # never complete

            def trickle() -> None:
                byte = next(message, None)
                if byte is not None:
                    slow.sendall(bytes([byte]))

            assert closed_by_server(slow, trickle)
        with connect(thread.server.port) as fast:
            assert answered(fast, "slow-2")  # a whole message in time is answered


def test_messages_back_to_back_each_get_a_fresh_read_deadline() -> None:
    """A switch that keeps a connection busy (each chunk ends one message and starts
    the next) is never closed by the read deadline."""
    limits = ConnectionLimits(idle_timeout=600, read_timeout=2.0)
    with serving(limits) as thread, connect(thread.server.port) as busy:
        pending = b""
        for number in range(30):
            data = pending + options(f"busy-{number}")
            cut = len(data) - 20  # the next message's start goes with this chunk
            busy.sendall(data[:cut])
            pending = data[cut:]
            time.sleep(0.1)  # pacing: 30 x 0.1 s outlasts the 2 s deadline; a gap is 20x less
        busy.sendall(pending)
        received = b""
        busy.settimeout(DEADLINE)
        while received.count(b"SIP/2.0 200") < 30:
            chunk = busy.recv(65535)
            assert chunk, f"closed after {received.count(b'SIP/2.0 200')} answers"
            received += chunk
