"""Running the SIP server beside the API: a daemon thread with its own event loop."""

from __future__ import annotations

import asyncio
import threading

from voxbill.bootstrap import Container
from voxbill.protocols.sip.door import RedirectDoor
from voxbill.protocols.sip.server import SipServer


def sip_server(container: Container, host: str, port: int) -> SipServer:
    """The redirect server over the container's charging and routing services."""
    return SipServer(RedirectDoor(container.charging, container.routing), host=host, port=port)


class SipThread:
    """``start()`` returns once the listeners are bound (or raises why they are not)."""

    def __init__(self, server: SipServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="voxbill-sip", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as error:  # e.g. the port is taken
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.stop())
        self._loop.close()

    def start(self) -> SipThread:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
