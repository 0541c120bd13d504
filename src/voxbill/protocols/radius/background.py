"""Running the RADIUS listeners beside the HTTP server, on their own event loop thread."""

from __future__ import annotations

import asyncio
import threading

from voxbill.domain.errors import InvalidInput
from voxbill.protocols.radius.clients import RadiusClients
from voxbill.protocols.radius.port import Charging
from voxbill.protocols.radius.server import RadiusServer
from voxbill.settings import Settings


def radius_server(charging: Charging, settings: Settings, host: str, port: int) -> RadiusServer:
    """A server for ``voxbill serve --radius PORT``; refuses to run without clients."""
    clients = RadiusClients.parse(settings.radius_clients)
    if not clients:
        raise InvalidInput(
            "RADIUS needs clients: set VOXBILL_RADIUS_CLIENTS, e.g. '127.0.0.1/32=secret'"
        )
    return RadiusServer(charging, clients, host=host, port=port)


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
