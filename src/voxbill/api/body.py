"""A request body read under limits: at most so many bytes, never a long pause.

:class:`LimitedBody` wraps an ASGI ``receive``: it counts the bytes as they arrive,
whatever the framing (``Content-Length`` or chunked: the server hands both over as
``http.request`` messages), and raises :class:`BodyTooLarge` (413) as soon as the count
passes the limit, before the rest is read, and :class:`BodyTimeout` (408) when no part
arrives for ``timeout`` seconds (a client that stopped sending mid-body). Both are
Starlette ``HTTPException``: FastAPI lets them through as they are (any other error
while reading a body would become its own 400), its handler answers problem+json, and
:mod:`voxbill.api.guard` answers them when they come out of a fast lane.

Once the body has ended, ``receive`` is the server's own again (waiting for a
disconnect must not time out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is limited to {limit} bytes on this route")


class BodyTimeout(HTTPException):
    def __init__(self, timeout: float) -> None:
        super().__init__(408, f"the request body stopped arriving for {timeout:g} s")


def announced(headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """(whether the request has a body, its ``Content-Length`` if given)."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return chunked or bool(length), length


class LimitedBody:
    """``receive`` under a byte limit and a pause timeout; ``ended``: the whole body (or
    a disconnect) has been received.

    The timeout is one timer per request, not one per read (a cancel scope around each
    ``receive`` cost more than the rest of the guard): each read moves the deadline, and
    the timer, when it fires, either re-arms itself for the moved deadline or cancels
    the read still waiting past it, which then raises :class:`BodyTimeout`."""

    __slots__ = (
        "_deadline",
        "_limit",
        "_receive",
        "_timed_out",
        "_timeout",
        "_timer",
        "_waiter",
        "ended",
        "received",
    )

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout = timeout
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Task[Any] | None = None
        self._timed_out = False
        self.received = 0
        self.ended = False

    async def __call__(self) -> Message:
        if self.ended:
            return await self._receive()
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + self._timeout
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._expire)
        self._waiter = asyncio.current_task()
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if not self._timed_out or self._waiter is None:
                raise
            self._waiter.uncancel()
            raise BodyTimeout(self._timeout) from None
        finally:
            self._waiter = None
        if message["type"] != "http.request":
            self.ended = True
            self.close()
            return message
        self.received += len(message.get("body", b""))
        if self.received > self._limit:
            self.close()  # not ended: the rest is never read
            raise BodyTooLarge(self._limit)
        if not message.get("more_body", False):
            self.ended = True
            self.close()
        return message

    def close(self) -> None:
        """No more timing out (the body ended, or the request is over)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        """The timer: a read waiting past the deadline is cancelled; else re-armed."""
        self._timer = None
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._expire)
        elif self._waiter is not None:
            self._timed_out = True
            self._waiter.cancel()
