"""Real parts for notification tests: an SMTP server (aiosmtpd), an HTTP receiver
(http.server in a thread), a clock the test moves, and a container rewired to them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from voxbill.bootstrap import Container, make_channels, make_worker
from voxbill.services.notify.subscriptions import SubscriptionService


class FakeClock:
    """``clock()`` answers ``now``; tests move it instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1: ``answer(n)`` gives the status of the n-th POST
    (from 1); every POST is recorded."""

    answer: Callable[[int], int] = lambda n: 200
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextmanager
def http_receiver(answer: Callable[[int], int] = lambda n: 200) -> Iterator[Receiver]:
    receiver = Receiver(answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with receiver._lock:
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.answer(len(receiver.requests))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    port: int = 0
    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mailbox.messages.append(message_from_bytes(envelope.content))
            mailbox.recipients.append(list(envelope.rcpt_tos))
            return "250 OK"

    mailbox.port = _free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


def rewire(container: Container, clock: FakeClock | None = None, **settings: Any) -> Container:
    """The container's channels and worker rebuilt over changed settings (the SMTP
    server's URL, the allowed webhook hosts …), the worker on ``clock``."""
    container.settings = container.settings.model_copy(update=settings)
    for old in (container.channels or {}).values():
        getattr(old, "close", lambda: None)()
    container.channels = make_channels(container.settings)
    container.notify = make_worker(container.uow, container.channels, container.settings)
    if clock is not None:
        container.notify.clock = clock
    container.subscriptions = SubscriptionService(container.uow, container.channels)
    return container
