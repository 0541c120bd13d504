"""One way to run a protocol listener (SIP, RADIUS, Diameter) beside the HTTP server.

Each listener gets a daemon thread with its own event loop. :meth:`ListenerThread.start`
returns once the listener is bound, or raises :class:`~voxbill.domain.errors.PortUnavailable`
naming the door and the address (``voxbill serve`` prints that one line and exits
non-zero): a door that cannot listen never leaves ``serve`` running without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Self

from voxbill.domain.errors import PortUnavailable

#: how long ``start()`` waits for a listener to bind before giving up on it
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


class ListenerThread:
    """Runs ``start()`` then, until :meth:`stop`, the loop; ``close()`` once stopped.

    ``door`` and ``address`` (``"host:port"``) name the listener in the error raised
    when it cannot bind.
    """

    def __init__(
        self,
        door: str,
        address: str,
        start: Callable[[], Awaitable[None]],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self.door = door
        self.address = address
        self._start = start
        self._close = close
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"voxbill-{door.lower()}", daemon=True
        )

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # reported by start(), in the caller's thread
            self._failure = exc
            self._ready.set()
            self._loop.close()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._close())
        self._loop.close()

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS):
            self.stop()
            raise PortUnavailable(
                f"{self.door} did not start listening on {self.address} "
                f"within {START_TIMEOUT_SECONDS:.0f} s"
            )
        failure = self._failure
        if isinstance(failure, OSError):
            why = os.strerror(failure.errno).lower() if failure.errno else str(failure)
            raise PortUnavailable(
                f"{self.door} cannot listen on {self.address}: {why}"
            ) from failure
        if failure is not None:
            raise failure
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it failed
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
