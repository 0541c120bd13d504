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

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
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
    a disconnect) has been received."""

    __slots__ = ("_limit", "_receive", "_timeout", "ended", "received")

    def __init__(self, receive: Receive, limit: int, timeout: float) -> None:
        self._receive = receive
        self._limit = limit
        self._timeout = timeout
        self.received = 0
        self.ended = False

    async def __call__(self) -> Message:
        if self.ended:
            return await self._receive()
        try:
            with anyio.fail_after(self._timeout):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeout(self._timeout) from None
        if message["type"] != "http.request":
            self.ended = True
            return message
        self.received += len(message.get("body", b""))
        if self.received > self._limit:
            raise BodyTooLarge(self._limit)
        if not message.get("more_body", False):
            self.ended = True
        return message
