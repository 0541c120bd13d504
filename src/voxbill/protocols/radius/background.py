"""Running the RADIUS listeners beside the HTTP server, on their own event loop thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.radius.clients import RadiusClients
from voxbill.protocols.radius.server import RadiusServer
from voxbill.protocols.session_scope import scope_of


def radius_server(container: Any, host: str, port: int) -> RadiusServer:
    """A server for ``voxbill serve --radius PORT`` over a container's services; refuses
    to run without clients, or with a client bound to no operator (InvalidInput: one
    line for the operator, from ``serve``)."""
    settings = container.settings
    clients = RadiusClients.parse(
        settings.radius_clients, unsigned=settings.radius_unsigned_clients
    )
    if not clients:
        raise InvalidInput(
            "RADIUS needs clients: set VOXBILL_RADIUS_CLIENTS, e.g. '127.0.0.1/32=secret'"
        )
    clients = clients.bound(container.accounts.operator_ids())
    return RadiusServer(
        container.charging, clients, host=host, port=port, scope=scope_of(container)
    )


class RadiusThread:
    """Starts ``server`` on a daemon thread; :meth:`start` returns once it listens."""

    def __init__(self, server: RadiusServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="voxbill-radius", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # reported to start()
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.close())
        self._loop.close()

    def start(self, timeout: float = 10.0) -> RadiusThread:
        self._thread.start()
        self._ready.wait(timeout)
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
