"""The one runner of the protocol listeners: started, stopped, or refused in one line."""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest

from voxbill.domain.errors import PortUnavailable
from voxbill.protocols import listener_thread
from voxbill.protocols.listener_thread import ListenerThread


class Listener:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.server: asyncio.Server | None = None
        self.closed = False

    async def start(self) -> None:
        self.server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()
        self.closed = True


def test_starts_listening_and_stops() -> None:
    listener = Listener()
    thread = ListenerThread("Test", "127.0.0.1:0", listener.start, listener.close).start()
    with socket.create_connection(("127.0.0.1", listener.port), timeout=5):
        pass
    thread.stop()
    assert listener.closed


def test_a_port_taken_is_one_error_naming_the_door_and_the_address() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        listener = Listener(port)
        thread = ListenerThread("Test", f"127.0.0.1:{port}", listener.start, listener.close)
        with pytest.raises(PortUnavailable) as refused:
            thread.start()
    assert str(refused.value) == f"Test cannot listen on 127.0.0.1:{port}: address already in use"
    assert isinstance(refused.value.__cause__, OSError)
    assert refused.value.__cause__.errno == errno.EADDRINUSE


def test_a_listener_that_never_binds_is_not_left_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listener_thread, "START_TIMEOUT_SECONDS", 0.2)

    async def forever() -> None:
        await asyncio.sleep(3600)

    async def nothing() -> None:
        return None

    thread = ListenerThread("Test", "127.0.0.1:9", forever, nothing)
    with pytest.raises(PortUnavailable, match="did not start listening on 127.0.0.1:9"):
        thread.start()


def test_other_failures_pass_through_unchanged() -> None:
    async def broken() -> None:
        raise ValueError("bad options")

    async def nothing() -> None:
        return None

    with pytest.raises(ValueError, match="bad options"):
        ListenerThread("Test", "127.0.0.1:9", broken, nothing).start()
