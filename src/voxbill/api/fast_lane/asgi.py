"""The lanes' ASGI middleware: take a plain request, or hand it over with its body."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from fastapi import FastAPI, Response

from voxbill.api import guard
from voxbill.api.fast_lane.lanes import AUTHORIZE, UPDATE, Lane, lane_for
from voxbill.bootstrap import Container
from voxbill.domain import access
from voxbill.serving import warm

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = b"application/json"
#: the lane's threads per process: enough to keep both CPUs busy between round trips,
#: few enough to contend little for the GIL, fewer than the database pool's connections
#: (SQLite 15, PostgreSQL 50) so that other requests always find one
THREADS = 6

_executor: ThreadPoolExecutor | None = None
_executor_made = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """The lanes' threads, one pool per process (made on first use: never before a fork).

    A dedicated pool rather than anyio's ``to_thread`` with a limiter: a thread that
    finishes a step takes the next queued one itself, where anyio hands every slot back
    through the event loop; measured, it costs about 0.1 ms less CPU per request."""
    global _executor
    if _executor is None:
        with _executor_made:
            if _executor is None:
                _executor = ThreadPoolExecutor(THREADS, thread_name_prefix="voxbill-fast-lane")
    return _executor


class FastLane:
    """Pure-ASGI middleware: see the package docstring."""

    def __init__(self, app: ASGIApp, container: Container) -> None:
        self.app = app
        self.container = container
        #: authorize decided on the event loop when warm (see :mod:`voxbill.serving.warm`):
        #: only a file SQLite database has reads that never wait on another machine
        self._inline = container.db.dialect == "sqlite"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _lane(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        body, ended = await _read_body(receive)
        answer: Response | None = None
        if ended:
            try:
                answer = await self._answer(scope, body, *found)
            except Exception:  # whatever it was, the route answers it (or fails) its way
                answer = None
        if answer is not None:
            await answer(scope, receive, send)
            return
        await self.app(scope, _replay(body, ended, receive), send)

    async def _answer(
        self, scope: Scope, body: bytes, lane: Lane, session_id: str
    ) -> Response | None:
        principal: access.Principal | None = scope.get(guard.PRINCIPAL)
        if principal is None or not _plain(scope, body):
            return None  # checked by the guard, in front of the lane: None is never seen
        container = self.container
        if lane is UPDATE:
            access.check_settle(principal)  # support, customer and user keys: the route's 403
        else:
            access.check_calls(principal)  # and a key of a blocked chain: the route's 403
        request = lane.body.model_validate(json.loads(body), from_attributes=True)
        if not lane.plain(request):
            return None
        work = partial(lane.answer, container, principal, request, session_id)
        if lane is AUTHORIZE and self._inline:
            try:  # warm: cached lookups and one local read, cheaper than any thread hop
                with warm.only_warm():
                    return work()
            except warm.Cold:
                pass  # something would wait: the same work in a thread
        # in the request's context, as anyio's threads run the route's work
        run = partial(contextvars.copy_context().run, work)
        return await asyncio.get_running_loop().run_in_executor(_threads(), run)


def _lane(scope: Scope) -> tuple[Lane, str] | None:
    if (
        scope["type"] != "http"
        or scope["method"] != "POST"
        or scope.get("query_string")
        or scope.get("root_path")
    ):
        return None
    return lane_for(scope["path"])


def _plain(scope: Scope, body: bytes) -> bool:
    """A JSON request without a NUL escape (the route's NUL check would refuse it)."""
    for name, value in scope["headers"]:  # the first, as Starlette reads it
        if name == b"content-type":
            return value == _JSON and b"\\u0000" not in body
    return False


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The whole body, and whether it ended (False: the client went away first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, ended: bool, receive: Receive) -> Receive:
    """``receive`` for the normal route: the body read so far as one message, then the
    connection's own messages (after a disconnect, the disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": not ended}]
    if not ended:
        pending.append({"type": "http.disconnect"})

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def install(app: FastAPI, container: Container) -> None:
    """Put the lanes in front of ``app``'s routes (inside its error middleware), unless
    the setting ``fast_lane`` is off."""
    if container.settings.fast_lane:
        app.add_middleware(FastLane, container=container)
