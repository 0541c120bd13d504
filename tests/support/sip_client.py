"""A minimal SIP client over a real UDP socket, for tests that must send what sipp will
not (a bare LF inside From, a Call-ID chosen twice) or check what comes back byte for
byte: ``SipClient(source).request(...)`` builds a request, ``send`` sends it and
``answers(call_id)`` collects the responses to it until a final one (or a deadline,
which only proves that nothing hung).
"""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass, field

DEADLINE_SECONDS = 30.0


@dataclass
class SipClient:
    """One UDP socket bound to ``source`` (an address of this host, any free port)."""

    source: str = "127.0.0.1"
    sock: socket.socket = field(init=False)
    port: int = field(init=False)
    #: every datagram received, in order
    received: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.source, 0))
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SipClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        target: tuple[str, int],
        *,
        callee: str = "442079460000",
        caller: str = "441000000001",
        call_id: str | None = None,
        cseq: int = 1,
        branch: str | None = None,
        from_value: str | None = None,
        extra: str = "",
    ) -> tuple[str, bytes]:
        """(Call-ID, bytes) of a request from this socket; ``from_value`` replaces the
        whole From value and ``extra`` is inserted as is (header lines with CRLF)."""
        call_id = call_id or f"client-{uuid.uuid4().hex}"
        branch = branch or f"z9hG4bK{uuid.uuid4().hex[:16]}"
        host, port = target
        sender = f"{self.source}:{self.port}"
        from_value = from_value or f"<sip:{caller}@{sender}>;tag=c{uuid.uuid4().hex[:8]}"
        text = (
            f"{method} sip:{callee}@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {sender};branch={branch};rport\r\n"
            f"From: {from_value}\r\n"
            f"To: <sip:{callee}@{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"Contact: <sip:{caller}@{sender}>\r\n"
            f"Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        return call_id, text.encode()

    def send(self, data: bytes, target: tuple[str, int]) -> None:
        self.sock.sendto(data, target)

    def receive(self, seconds: float = DEADLINE_SECONDS) -> bytes | None:
        """The next datagram, or None after ``seconds``."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65535)
        except TimeoutError:
            return None
        self.received.append(data)
        return data

    def pending(self) -> list[bytes]:
        """Whatever has arrived already, without waiting."""
        found: list[bytes] = []
        self.sock.setblocking(False)
        try:
            while True:
                found.append(self.sock.recv(65535))
        except BlockingIOError:
            pass
        finally:
            self.sock.setblocking(True)
        self.received.extend(found)
        return found

    def answers(
        self, call_id: str, seconds: float = DEADLINE_SECONDS, *, until: int = 200
    ) -> list[bytes]:
        """Responses for ``call_id`` up to the first whose status is ``until`` or more (a
        final one by default); fails at the deadline."""
        found: list[bytes] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            data = self.receive(max(0.01, deadline - time.monotonic()))
            if data is None:
                break
            if header(data, "Call-ID") != call_id:
                continue
            found.append(data)
            if data.startswith(b"SIP/2.0 ") and status(data) >= until:
                return found
        raise AssertionError(f"no final answer for {call_id} in {seconds} s: {found!r}")


def status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def header(data: bytes, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive) in a message."""
    head = data.partition(b"\r\n\r\n")[0].decode("utf-8", "replace")
    for line in head.split("\r\n")[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return None
