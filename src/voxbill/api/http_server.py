"""uvicorn as ``voxbill serve`` runs it: the connection limits uvicorn lacks.

uvicorn (0.55, httptools) closes an idle keep-alive connection after
``timeout_keep_alive``, but nothing else: a connection that sends nothing, or half a
request line, or headers one byte a minute, or one endless header, is kept for ever
and its bytes buffered without bound (httptools has no size limit on a head; h11's
``h11_max_incomplete_event_size`` only applies to h11). :class:`GuardedHttpTools`, its
httptools protocol with three additions, closes those:

* a request's head (request line and headers) must be complete within
  ``http_header_timeout_seconds`` of the connection's opening, or of the request's
  first byte on a kept-alive connection (a deadline, not an idle timer: a slow drip
  does not extend it);
* a head may not exceed ``http_max_header_bytes`` (431, then closed);
* connections at once, in all and per source address (``http_max_connections``,
  ``http_max_per_source``), are capped by a :class:`~voxbill.serving.connections.Gate`:
  one over a cap is closed before anything is read from it. The source is the TCP peer:
  behind a load balancer that is the balancer, so raise the per-source cap there.

A body that stops arriving is the application's to time out (``api/body.py``). The
counts are per process: with ``--workers N`` each worker counts its own connections.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from voxbill.serving.connections import ConnectionLimits, Gate
from voxbill.settings import Settings

_HEAD_TOO_LARGE_TEXT = b"the request head is over the size limit\n"
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\n"
    b"connection: close\r\n\r\n%s" % (len(_HEAD_TOO_LARGE_TEXT), _HEAD_TOO_LARGE_TEXT)
)


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head deadline, a head size cap and a gate."""

    def __init__(
        self,
        *args: Any,
        gate: Gate,
        head_timeout: float,
        max_head_bytes: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._gate = gate
        self._head_timeout = head_timeout
        self._max_head_bytes = max_head_bytes
        self._source: str | None = None  # set once admitted through the gate
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        source = self.client[0] if self.client else "unknown"
        if not self._gate.admit(source):
            transport.close()
            return
        self._source = source
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        if self._source is not None:
            self._gate.release(self._source)
            self._source = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is None or self.transport.is_closing():
            return
        self._head_bytes += len(data)  # a chunk may hold a previous body's tail: a bound
        if self._head_bytes > self._max_head_bytes:
            self._stop_head()
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(_HEAD_TOO_LARGE)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._start_head()

    def on_headers_complete(self) -> None:
        self._stop_head()
        super().on_headers_complete()

    def _start_head(self) -> None:
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _stop_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """``uvicorn.run`` options for ``voxbill serve`` (a partial of a module-level class:
    it pickles into ``--workers`` processes, each with its own gate)."""
    limits = ConnectionLimits(
        max_connections=settings.http_max_connections,
        max_per_source=settings.http_max_per_source,
        idle_timeout=settings.http_keep_alive_seconds,
        read_timeout=settings.http_header_timeout_seconds,
    )
    protocol = functools.partial(
        GuardedHttpTools,
        gate=Gate(limits),
        head_timeout=settings.http_header_timeout_seconds,
        max_head_bytes=settings.http_max_header_bytes,
    )
    return {
        "http": protocol,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
    }
